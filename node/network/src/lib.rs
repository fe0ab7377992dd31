//! The libp2p transport of a Watt node.
//!
//! Byte-level by design: this crate knows gossip topics, peers and opaque payloads. The consensus
//! crate encodes and decodes the SCALE messages, decides whether a gossip message is valid
//! ([`NetworkHandle::report_validation`]) and tells the network which peers misbehave
//! ([`NetworkHandle::report_peer`]). libp2p stays behind this crate; only [`PeerId`] and
//! [`Multiaddr`] are re-exported.
//!
//! The stack: TCP, noise (the peer's identity on the wire is its ed25519 key), yamux; identify and
//! ping; Kademlia for discovery from bootnodes; gossipsub without author signatures
//! (StrictNoSign: payloads authenticate themselves) with content-hash message ids and
//! application validation before relaying; one request-response protocol of
//! length-prefixed opaque bytes with size limits; connection limits; a block list for bans.
//! Protocol and topic names carry the first eight bytes of the genesis hash, so nodes of different
//! chains never exchange messages. `PROTOCOL.md` (beside this crate's `Cargo.toml`) is the
//! specification a client of another libp2p implementation follows to join: names, framing,
//! message ids, limits, and what costs a peer its score.
//!
//! What an outsider can make a node do is bounded (issue 17):
//! - peers are scored only for what is provably wrong: messages breaking gossipsub, messages the
//!   application rejects, oversized frames, request floods, and what the application reports.
//!   Echoes of our own messages (js-libp2p's usual relaying), duplicates and ignored messages cost
//!   nothing;
//! - each peer's gossip is rate-limited per topic and its requests per second and in flight; what
//!   is over budget is ignored, not penalised;
//! - events wait for the application in bounded queues where SCP envelopes go first and peers take
//!   turns, so a flood of transactions or sets neither drops nor delays consensus messages;
//! - validators listed in [`NetworkConfig::reserved_peers`] always get a connection; other peers
//!   share `max_peers` slots, `max_peers_per_ip` per address;
//! - a ban covers the peer id and the IP addresses it was connected from.
//!
//! [`start`] spawns the swarm task on the current tokio runtime and returns a cheap, cloneable
//! [`NetworkHandle`] and the receiver of [`NetworkEvent`]s. The task stops when every handle (and
//! every pending [`Responder`]) has been dropped.

pub mod codec;
mod gate;
mod limits;
mod peers;
mod queue;
mod service;
pub mod sim;

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use blake2::{digest::consts::U32, Blake2b, Digest};
pub use libp2p::{Multiaddr, PeerId};
use parking_lot::RwLock;
use tokio::sync::{mpsc, oneshot};

pub use peers::PeerInfo;

/// The domain tag of the libp2p identity derived from a node's secret seed.
const IDENTITY_TAG: &[u8] = b"watt/p2p/v1";

/// Configuration of [`start`].
#[derive(Clone)]
pub struct NetworkConfig {
    /// The node key. The libp2p identity is the ed25519 key whose secret is
    /// `blake2b-256("watt/p2p/v1" ++ secret_seed)`. Never logged (`Debug` redacts it).
    pub secret_seed: [u8; 32],
    /// Addresses to listen on, e.g. `/ip4/127.0.0.1/tcp/0` (port 0 picks a free port; see
    /// [`NetworkHandle::listen_addresses`] for the bound ones).
    pub listen: Vec<Multiaddr>,
    /// Peers to connect to at start and to redial whenever disconnected; each address must end
    /// with `/p2p/<peer id>`. An entry naming this node itself is skipped.
    pub bootnodes: Vec<Multiaddr>,
    /// The chain's genesis hash: its first eight bytes scope every protocol and topic name.
    pub genesis_hash: [u8; 32],
    /// Largest gossip payload sent or accepted (default 9 MiB: transaction sets reach 8 MiB).
    pub max_gossip_bytes: usize,
    /// Largest request sent or accepted (default 64 KiB).
    pub max_request_bytes: usize,
    /// Largest response sent or accepted (default 16 MiB: block ranges).
    pub max_response_bytes: usize,
    /// How long a request may wait for its response, and an inbound request for the application's
    /// answer (default 10 s).
    pub request_timeout: Duration,
    /// A peer whose score falls below this is disconnected and banned (default -100).
    pub ban_threshold: i32,
    /// How long a ban lasts (default 10 min).
    pub ban_duration: Duration,
    /// The identify agent version, e.g. `watt/0.1.0`.
    pub agent: String,
    /// How often bootnodes that are not connected are redialled (default 5 s), so that a restarted
    /// node and its peers find each other again.
    pub redial_interval: Duration,
    /// Kademlia discovery (default on). Off, the node connects only to its bootnodes and to peers
    /// that dial it, and answers no Kademlia queries: for a sentry-protected or private node.
    pub discovery: bool,
    /// Peers always admitted, e.g. the validators of this node's quorum set (default none). They
    /// connect even when every other slot is taken, do not count against `max_peers` or
    /// `max_peers_per_ip`, and their addresses are never IP-banned.
    pub reserved_peers: Vec<PeerId>,
    /// Connected peers at most, not counting reserved peers (default 50). Further peers are
    /// refused (and discovery stops dialling) until one leaves.
    pub max_peers: u32,
    /// Connected non-reserved peers from one IP address at most (default 4), so that fresh peer
    /// ids from one host cannot take every slot. Loopback addresses are exempt unless
    /// `limit_loopback_ips` is set.
    pub max_peers_per_ip: u32,
    /// Apply `max_peers_per_ip` to loopback addresses too (default off: every node of a local
    /// test network connects from 127.0.0.1).
    pub limit_loopback_ips: bool,
    /// Ban the IP addresses of banned peers even when they are loopback addresses (default off:
    /// banning 127.0.0.1 would cut a local test network's every node). Other addresses of a
    /// banned peer are always banned with it, for the same duration.
    pub ban_loopback_ips: bool,
}

impl Default for NetworkConfig {
    fn default() -> Self {
        Self {
            secret_seed: [0; 32],
            listen: Vec::new(),
            bootnodes: Vec::new(),
            genesis_hash: [0; 32],
            max_gossip_bytes: 9 * 1024 * 1024,
            max_request_bytes: 64 * 1024,
            max_response_bytes: 16 * 1024 * 1024,
            request_timeout: Duration::from_secs(10),
            ban_threshold: -100,
            ban_duration: Duration::from_secs(600),
            agent: concat!("watt/", env!("CARGO_PKG_VERSION")).to_string(),
            redial_interval: Duration::from_secs(5),
            discovery: true,
            reserved_peers: Vec::new(),
            max_peers: 50,
            max_peers_per_ip: 4,
            limit_loopback_ips: false,
            ban_loopback_ips: false,
        }
    }
}

impl fmt::Debug for NetworkConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The seed is the node's secret key: it never reaches a log.
        f.debug_struct("NetworkConfig")
            .field("secret_seed", &"<redacted>")
            .field("listen", &self.listen)
            .field("bootnodes", &self.bootnodes)
            .field("genesis_hash", &hex::encode(self.genesis_hash))
            .field("max_gossip_bytes", &self.max_gossip_bytes)
            .field("max_request_bytes", &self.max_request_bytes)
            .field("max_response_bytes", &self.max_response_bytes)
            .field("request_timeout", &self.request_timeout)
            .field("ban_threshold", &self.ban_threshold)
            .field("ban_duration", &self.ban_duration)
            .field("agent", &self.agent)
            .field("redial_interval", &self.redial_interval)
            .field("discovery", &self.discovery)
            .field("reserved_peers", &self.reserved_peers)
            .field("max_peers", &self.max_peers)
            .field("max_peers_per_ip", &self.max_peers_per_ip)
            .field("limit_loopback_ips", &self.limit_loopback_ips)
            .field("ban_loopback_ips", &self.ban_loopback_ips)
            .finish()
    }
}

impl NetworkConfig {
    /// The prefix of every protocol and topic name of this chain: `/watt/<genesis 8 bytes hex>`.
    pub fn protocol_prefix(&self) -> String {
        format!("/watt/{}", hex::encode(&self.genesis_hash[..8]))
    }

    /// The gossip topic name of `topic` on this chain, e.g. `/watt/0011223344556677/scp/2`.
    pub fn topic_name(&self, topic: Topic) -> String {
        format!("{}/{}/{}", self.protocol_prefix(), topic.short_name(), topic.version())
    }
}

fn identity_secret(seed: &[u8; 32]) -> [u8; 32] {
    let mut h = Blake2b::<U32>::new();
    h.update(IDENTITY_TAG);
    h.update(seed);
    h.finalize().into()
}

fn keypair_from_seed(seed: &[u8; 32]) -> libp2p::identity::Keypair {
    let mut secret = identity_secret(seed);
    // Any 32 bytes are a valid ed25519 secret key, so this cannot fail; the helper zeroes `secret`.
    libp2p::identity::Keypair::ed25519_from_bytes(&mut secret).expect("32 bytes are an ed25519 secret key")
}

/// The peer id a node with this secret seed has on the network.
pub fn peer_id_from_seed(seed: &[u8; 32]) -> PeerId {
    keypair_from_seed(seed).public().to_peer_id()
}

/// A gossip topic.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Topic {
    /// Signed transactions, as submitted to a node's pool.
    Transactions,
    /// SCP envelopes (nomination and ballot statements).
    ScpEnvelopes,
    /// Transaction sets named by SCP values.
    TxSets,
}

impl Topic {
    /// Every topic, in a fixed order.
    pub const ALL: [Topic; 3] = [Topic::Transactions, Topic::ScpEnvelopes, Topic::TxSets];

    /// The version in the topic's name: a new message format gets a new name, so nodes of the
    /// old one never misread it. Transactions went to 2 with batches; every topic went up one
    /// when messages stopped carrying author signatures (StrictNoSign), which a node of the
    /// signed format refuses as invalid.
    fn version(self) -> u32 {
        match self {
            Topic::Transactions => 3,
            Topic::ScpEnvelopes | Topic::TxSets => 2,
        }
    }

    fn short_name(self) -> &'static str {
        match self {
            Topic::Transactions => "tx",
            Topic::ScpEnvelopes => "scp",
            Topic::TxSets => "txset",
        }
    }
}

/// The application's verdict on a gossip message, given with [`NetworkHandle::report_validation`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validation {
    /// Valid: relay it to our mesh peers.
    Accept,
    /// Invalid: drop it and penalise the peer that sent it (the `from` of the report). Reserve it
    /// for what is provably wrong whatever our state (bad encoding or signature): each rejection
    /// counts, squared, towards a ban (see [`PeerInfo::score`]).
    Reject,
    /// Not useful (e.g. stale) but not the sender's fault: drop it without a penalty.
    Ignore,
}

/// Identifies a gossip message: the blake2b-256 hash of its topic name and payload, so the same
/// bytes on the same topic are one message whoever publishes or relays them.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GossipId([u8; 32]);

impl GossipId {
    /// An id from its hash bytes (e.g. for an application's fake network in tests); reporting a
    /// verdict on an id the network never delivered does nothing.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        GossipId(bytes)
    }

    /// The hash bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    pub(crate) fn compute(topic_name: &str, data: &[u8]) -> Self {
        let mut h = Blake2b::<U32>::new();
        h.update((topic_name.len() as u32).to_le_bytes());
        h.update(topic_name.as_bytes());
        h.update(data);
        GossipId(h.finalize().into())
    }
}

impl fmt::Debug for GossipId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GossipId({})", hex::encode(&self.0[..8]))
    }
}

impl fmt::Display for GossipId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Something the network tells the application.
#[derive(Debug)]
pub enum NetworkEvent {
    /// A gossip message arrived. It is not relayed until the application reports
    /// [`Validation::Accept`] for it; report exactly one verdict per message, soon (the message
    /// is kept for relaying for a few seconds only).
    Gossip {
        /// The topic it came on.
        topic: Topic,
        /// The peer that sent it to us (not necessarily its author).
        from: PeerId,
        /// Its id, for [`NetworkHandle::report_validation`].
        id: GossipId,
        /// The payload.
        data: Vec<u8>,
    },
    /// A peer sent a request; answer with [`Responder::send`] (dropping the responder answers
    /// nothing and the peer sees the stream closed).
    Request {
        /// The requesting peer.
        from: PeerId,
        /// The request bytes.
        data: Vec<u8>,
        /// Answers the request.
        reply: Responder,
    },
    /// The first connection to a peer opened.
    PeerConnected(PeerId),
    /// The last connection to a peer closed.
    PeerDisconnected(PeerId),
}

/// Answers one inbound request.
pub struct Responder {
    inner: ResponderInner,
}

enum ResponderInner {
    Libp2p {
        channel: libp2p::request_response::ResponseChannel<Vec<u8>>,
        commands: mpsc::UnboundedSender<service::Command>,
    },
    Simulated(sim::SimResponder),
}

impl fmt::Debug for Responder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Responder").finish_non_exhaustive()
    }
}

impl Responder {
    /// Sends `data` as the response. A response over `max_response_bytes` is not sent (the peer
    /// sees the stream closed) and is logged as an error.
    pub fn send(self, data: Vec<u8>) {
        match self.inner {
            ResponderInner::Libp2p { channel, commands } => {
                // The task is gone only when the network has shut down; the peer then sees the
                // connection close.
                let _ = commands.send(service::Command::Respond { channel, data });
            }
            ResponderInner::Simulated(r) => r.send(data),
        }
    }

    pub(crate) fn libp2p(
        channel: libp2p::request_response::ResponseChannel<Vec<u8>>,
        commands: mpsc::UnboundedSender<service::Command>,
    ) -> Self {
        Responder {
            inner: ResponderInner::Libp2p { channel, commands },
        }
    }
}

/// Why a network operation failed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A bootnode address does not end with `/p2p/<peer id>`; add the peer id of that node.
    #[error("bootnode address {0} does not end with /p2p/<peer id>")]
    InvalidBootnode(Multiaddr),
    /// The system's DNS resolver configuration could not be read (on Unix, `/etc/resolv.conf`).
    #[error("cannot read the DNS resolver configuration: {0}")]
    Dns(#[source] std::io::Error),
    /// The libp2p stack could not be built (e.g. invalid gossip parameters in the configuration).
    #[error("cannot build the network stack: {0}")]
    Setup(String),
    /// Listening on an address failed (address in use, not a TCP address, no such interface).
    #[error("cannot listen on {address}: {reason}")]
    Listen {
        /// The configured address.
        address: Multiaddr,
        /// What went wrong.
        reason: String,
    },
    /// No listen address was configured, or none was bound in time.
    #[error("the node is not listening on any address (configure at least one working listen address)")]
    NotListening,
    /// The request is larger than `max_request_bytes`; it was not sent.
    #[error("request of {size} bytes exceeds the limit of {max} bytes")]
    RequestTooLarge {
        /// Its size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// The peer's response was larger than `max_response_bytes`; it was refused and the peer
    /// penalised.
    #[error("the peer's response exceeds the limit of {max} bytes")]
    ResponseTooLarge {
        /// The limit.
        max: usize,
    },
    /// No response came within `request_timeout`.
    #[error("the request timed out")]
    Timeout,
    /// The peer could not be reached: not connected, no known address, or every dial failed.
    #[error("cannot reach the peer")]
    Unreachable,
    /// The connection closed before the response arrived.
    #[error("the connection closed before the response arrived")]
    ConnectionClosed,
    /// The peer closed the stream without answering: it refused the request (e.g. too large
    /// for it) or its application did not answer.
    #[error("the peer closed the stream without a response")]
    NoResponse,
    /// The peer does not speak this chain's request protocol (another chain or version).
    #[error("the peer does not support this chain's request protocol")]
    UnsupportedProtocol,
    /// An I/O error on the request stream.
    #[error("request stream error: {0}")]
    Io(#[source] std::io::Error),
    /// The peer is banned; requests to it are not sent.
    #[error("the peer is banned")]
    Banned,
    /// The network task has stopped.
    #[error("the network has shut down")]
    Shutdown,
}

/// State the swarm task publishes for the handles' synchronous getters.
#[derive(Debug, Default)]
pub(crate) struct Shared {
    pub(crate) peers: peers::PeerBook,
    pub(crate) listen_addresses: Vec<Multiaddr>,
    pub(crate) topic_peers: std::collections::HashMap<Topic, std::collections::HashSet<PeerId>>,
    /// Events waiting in the network's queues for room in the application's channel.
    pub(crate) queued_events: usize,
}

/// A handle on the running network: cheap to clone, usable from any task or thread.
#[derive(Clone)]
pub struct NetworkHandle {
    local_peer_id: PeerId,
    max_gossip_bytes: usize,
    max_request_bytes: usize,
    commands: mpsc::UnboundedSender<service::Command>,
    shared: Arc<RwLock<Shared>>,
    /// The application's event channel, to measure its backlog (weak: handles must not keep it
    /// open after the network stops).
    events: mpsc::WeakSender<NetworkEvent>,
}

impl fmt::Debug for NetworkHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NetworkHandle")
            .field("local_peer_id", &self.local_peer_id)
            .finish_non_exhaustive()
    }
}

impl NetworkHandle {
    /// This node's peer id.
    pub fn local_peer_id(&self) -> PeerId {
        self.local_peer_id
    }

    /// Publishes `data` on `topic` to every peer subscribed to it. Never fails: with no peers yet
    /// the message is dropped (logged at debug); a payload over `max_gossip_bytes` is dropped and
    /// logged as an error (a bug in the caller).
    pub fn publish(&self, topic: Topic, data: Vec<u8>) {
        if data.len() > self.max_gossip_bytes {
            tracing::error!(
                ?topic,
                size = data.len(),
                max = self.max_gossip_bytes,
                "gossip payload too large; not published"
            );
            return;
        }
        let _ = self.commands.send(service::Command::Publish { topic, data });
    }

    /// Reports the application's verdict on a gossip message received as [`NetworkEvent::Gossip`]:
    /// `Accept` relays it, `Reject` drops it and penalises `from`, `Ignore` drops it.
    ///
    /// A verdict given after gossipsub forgot the message (6 s) cannot relay it any more; the
    /// penalty of a `Reject` applies whenever it comes.
    pub fn report_validation(&self, id: GossipId, from: PeerId, v: Validation) {
        let _ = self.commands.send(service::Command::Validation {
            id,
            from,
            validation: v,
        });
    }

    /// Sends `data` to `peer` and waits for its response (dialling the peer if it is known but
    /// not connected).
    pub async fn request(&self, peer: PeerId, data: Vec<u8>) -> Result<Vec<u8>, NetworkError> {
        if data.len() > self.max_request_bytes {
            return Err(NetworkError::RequestTooLarge {
                size: data.len(),
                max: self.max_request_bytes,
            });
        }
        let (reply, rx) = oneshot::channel();
        self.commands
            .send(service::Command::Request { peer, data, reply })
            .map_err(|_| NetworkError::Shutdown)?;
        rx.await.map_err(|_| NetworkError::Shutdown)?
    }

    /// Lowers `peer`'s score by `penalty` (a negative penalty raises it). Below the ban threshold
    /// the peer is disconnected and its reconnects are refused until the ban expires. Logged at
    /// warn with `reason`.
    pub fn report_peer(&self, peer: PeerId, penalty: i32, reason: &str) {
        let _ = self.commands.send(service::Command::ReportPeer {
            peer,
            penalty,
            reason: reason.to_string(),
        });
    }

    /// Dials `address` (which may end with `/p2p/<peer id>`), e.g. a peer added by an operator.
    pub fn dial(&self, address: Multiaddr) {
        let _ = self.commands.send(service::Command::Dial { address });
    }

    /// Every peer this node knows, connected or not, sorted by peer id.
    pub fn peers(&self) -> Vec<PeerInfo> {
        self.shared.read().peers.info()
    }

    /// How many peers are connected.
    pub fn connected_peers(&self) -> usize {
        self.shared.read().peers.connected_count()
    }

    /// How many connected peers are subscribed to `topic` (those a publication reaches directly).
    pub fn topic_peers(&self, topic: Topic) -> usize {
        self.shared.read().topic_peers.get(&topic).map_or(0, |s| s.len())
    }

    /// Events received and not yet taken by the application: those in its channel and those
    /// waiting in the network's per-topic queues behind it. A backlog that keeps growing means the
    /// application cannot keep up; the queues are bounded (see [`start`]).
    pub fn queued_events(&self) -> usize {
        let in_channel = self
            .events
            .upgrade()
            .map_or(0, |tx| tx.max_capacity().saturating_sub(tx.capacity()));
        self.shared.read().queued_events + in_channel
    }

    /// The addresses actually bound (after `/tcp/0` got its port), each without `/p2p/`.
    pub fn listen_addresses(&self) -> Vec<Multiaddr> {
        self.shared.read().listen_addresses.clone()
    }
}

/// Starts the network: builds the libp2p stack, binds the listen addresses, spawns the swarm task
/// on the current tokio runtime and returns once listening. Bootnodes are dialled from the task.
///
/// Keep draining the receiver. Behind its channel, events wait in bounded queues, one per kind,
/// served in priority order: connection events, SCP envelopes, requests, transaction sets,
/// transactions; within a kind, peers take turns. So a flood of transactions or sets never delays
/// consensus messages, and one flooding peer delays an honest peer's message by one message.
/// When a queue is full the peer holding most of it loses its newest message (gossip is ignored:
/// not relayed, no penalty; a request is closed unanswered). Connection events are never dropped.
///
/// Before anything is queued, each peer's gossip is rate-limited per topic and its requests per
/// second and in flight (the limits are in `PROTOCOL.md`); what is over the budget is ignored
/// the same way.
///
/// The task stops once every [`NetworkHandle`] and every pending [`Responder`] has been dropped.
pub async fn start(config: NetworkConfig) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>), NetworkError> {
    service::start(config).await
}

/// The instant a ban that starts now ends.
pub(crate) fn ban_end(now: Instant, duration: Duration) -> Instant {
    now.checked_add(duration)
        .unwrap_or(now + Duration::from_secs(365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_the_blake2_derived_ed25519_key() {
        let seed = [7u8; 32];
        // Independently: hash the tag and seed, take the ed25519 key of that secret.
        let mut input = b"watt/p2p/v1".to_vec();
        input.extend_from_slice(&seed);
        let secret: [u8; 32] = Blake2b::<U32>::digest(&input).into();
        let mut s = secret;
        let expected = libp2p::identity::Keypair::ed25519_from_bytes(&mut s)
            .unwrap()
            .public()
            .to_peer_id();
        assert_eq!(peer_id_from_seed(&seed), expected);
        assert_ne!(peer_id_from_seed(&seed), peer_id_from_seed(&[8u8; 32]));
        // Not the key of the raw seed: the derivation is domain-separated.
        let mut raw = seed;
        let raw_id = libp2p::identity::Keypair::ed25519_from_bytes(&mut raw)
            .unwrap()
            .public()
            .to_peer_id();
        assert_ne!(peer_id_from_seed(&seed), raw_id);
    }

    #[test]
    fn names_are_scoped_by_genesis() {
        let mut genesis = [0u8; 32];
        genesis[..8].copy_from_slice(&[0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef]);
        let cfg = NetworkConfig {
            genesis_hash: genesis,
            ..Default::default()
        };
        assert_eq!(cfg.topic_name(Topic::Transactions), "/watt/0123456789abcdef/tx/3");
        assert_eq!(cfg.topic_name(Topic::ScpEnvelopes), "/watt/0123456789abcdef/scp/2");
        assert_eq!(cfg.topic_name(Topic::TxSets), "/watt/0123456789abcdef/txset/2");
    }

    #[test]
    fn debug_never_shows_the_seed() {
        let cfg = NetworkConfig {
            secret_seed: [0xab; 32],
            ..Default::default()
        };
        let text = format!("{cfg:?}");
        assert!(!text.contains("abab"), "{text}");
        assert!(!text.contains("171, 171"), "{text}");
        assert!(text.contains("redacted"));
    }

    #[test]
    fn gossip_id_depends_on_topic_and_data() {
        let a = GossipId::compute("/watt/00/tx/1", b"x");
        assert_eq!(a, GossipId::compute("/watt/00/tx/1", b"x"));
        assert_ne!(a, GossipId::compute("/watt/00/scp/1", b"x"));
        assert_ne!(a, GossipId::compute("/watt/00/tx/1", b"y"));
    }

    #[test]
    fn defaults_match_the_documented_values() {
        let c = NetworkConfig::default();
        assert_eq!(c.max_gossip_bytes, 9 << 20);
        assert_eq!(c.max_request_bytes, 64 << 10);
        assert_eq!(c.max_response_bytes, 16 << 20);
        assert_eq!(c.request_timeout, Duration::from_secs(10));
        assert_eq!(c.ban_threshold, -100);
        assert_eq!(c.ban_duration, Duration::from_secs(600));
        assert!(c.reserved_peers.is_empty());
        assert_eq!(c.max_peers, 50);
        assert_eq!(c.max_peers_per_ip, 4);
        assert!(!c.limit_loopback_ips);
        assert!(!c.ban_loopback_ips);
    }
}
