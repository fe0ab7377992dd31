//! The swarm task: builds the libp2p stack, then owns it, turning swarm events into
//! [`NetworkEvent`]s and handle commands into swarm calls. Everything libp2p-specific lives here.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    sync::Arc,
    time::{Duration, Instant},
};

use futures::StreamExt;
use libp2p::{
    allow_block_list, connection_limits,
    gossipsub::{self, MessageAcceptance, MessageId, TopicHash},
    identify, kad,
    multiaddr::Protocol,
    noise, ping, request_response,
    swarm::{
        behaviour::toggle::Toggle,
        dial_opts::{DialOpts, PeerCondition},
        ListenError, NetworkBehaviour, SwarmEvent,
    },
    tcp, yamux, Multiaddr, PeerId, StreamProtocol, Swarm,
};
use parking_lot::RwLock;
use tokio::sync::{mpsc, oneshot};

use crate::{
    ban_end,
    codec::{frame_error, BytesCodec, FrameError, RequestFrame},
    gate::{Gate, GateConfig, Refused},
    limits::{GossipLimiter, RequestLimiter, RequestRefusal, REQUEST_FLOOD_PENALTY, REQUEST_FLOOD_REFUSALS},
    peers::RECOVERY_INTERVAL,
    queue::{Class, EventQueues},
    GossipId, NetworkConfig, NetworkError, NetworkEvent, NetworkHandle, Responder, Shared, Topic, Validation,
};

/// Established connections per peer. Two, not one: when two nodes dial each other at the same
/// moment (each the other's bootnode) each side would otherwise keep its own outbound connection
/// and refuse the other's inbound one, closing both.
const MAX_ESTABLISHED_PER_PEER: u32 = 2;
/// Connections being set up at once, each way.
const MAX_PENDING: u32 = 32;
/// Below this many connected peers the node keeps looking for more through Kademlia.
const DISCOVERY_TARGET: usize = 25;
/// A connection nobody uses is closed after this long. Long, because validators keep their
/// quorum peers connected even when gossip is quiet; bootnodes are redialled anyway.
const IDLE_CONNECTION_TIMEOUT: Duration = Duration::from_secs(3600);
/// Penalty for sending a request-response frame over our limit.
pub(crate) const OVERSIZED_FRAME_PENALTY: i32 = 40;
/// Gossipsub's weight of one message that breaks the gossipsub protocol (bad or missing signature,
/// malformed source or sequence number, over the size limit), squared in its score: 1 → -10,
/// 2 → -40, 4 → -160. Application rejections are counted by the peer book instead, with the same
/// weight and decay (see `peers.rs`).
const INVALID_MESSAGE_WEIGHT: f64 = -10.0;
/// Per-second decay of gossipsub's count of a peer's invalid messages (half-life about a minute).
const INVALID_MESSAGE_DECAY: f64 = 0.99;
/// Room for the signature, author, sequence number and topic around a gossip payload.
const GOSSIP_MESSAGE_OVERHEAD: usize = 1024;
/// Room for several messages and control data in one gossipsub frame.
const GOSSIP_FRAME_SLACK: usize = 64 * 1024;
/// The application's channel. Small on purpose: what waits behind it waits in the per-topic,
/// per-peer queues of `queue.rs`, where consensus messages overtake transactions; whatever is
/// already in the channel is delivered in arrival order.
const EVENT_CHANNEL: usize = 32;
/// Connection events waiting for the application beyond which the swarm task waits for it (they
/// are never dropped; an application that stops reading stalls the network rather than lose them).
const MAX_CONNECTION_BACKLOG: usize = 4096;
/// Gossip messages handed to the application and awaiting its verdict that are remembered, so that
/// a `Reject` penalises only the peer that actually sent that message. Past this (an application
/// that gives no verdicts) the oldest are forgotten and a late `Reject` of them costs nothing.
const MAX_AWAITING_VERDICT: usize = 100_000;
/// How long a message waits for its verdict before it is forgotten (gossipsub itself forgets it
/// after 6 s; this is only for the penalty of a late `Reject`).
const VERDICT_TIMEOUT: Duration = Duration::from_secs(120);
/// Listen addresses (and their ports) must be bound within this long at start.
const LISTEN_TIMEOUT: Duration = Duration::from_secs(10);
/// Addresses taken from one identify message.
const MAX_IDENTIFY_ADDRESSES: usize = 8;

/// What a [`NetworkHandle`] asks of the swarm task.
pub(crate) enum Command {
    Publish {
        topic: Topic,
        data: Vec<u8>,
    },
    Validation {
        id: GossipId,
        from: PeerId,
        validation: Validation,
    },
    Request {
        peer: PeerId,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, NetworkError>>,
    },
    Respond {
        channel: request_response::ResponseChannel<Vec<u8>>,
        data: Vec<u8>,
    },
    ReportPeer {
        peer: PeerId,
        penalty: i32,
        reason: String,
    },
    Dial {
        address: Multiaddr,
    },
}

#[derive(NetworkBehaviour)]
pub(crate) struct Behaviour {
    // First, so that a banned peer is refused before any other behaviour sets up state for it.
    blocked: allow_block_list::Behaviour<allow_block_list::BlockedPeers>,
    // Reserved peers, peer slots, per-IP limits and IP bans.
    gate: Gate,
    limits: connection_limits::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    kad: Toggle<kad::Behaviour<kad::store::MemoryStore>>,
    gossipsub: gossipsub::Behaviour,
    request_response: request_response::Behaviour<BytesCodec>,
}

/// Splits `/…/p2p/<id>` into the peer id and the address before it.
fn split_peer_address(address: &Multiaddr) -> Option<(PeerId, Multiaddr)> {
    let mut base = address.clone();
    match base.pop() {
        Some(Protocol::P2p(peer)) => Some((peer, base)),
        _ => None,
    }
}

fn gossipsub_behaviour(
    config: &NetworkConfig,
    topics: &HashMap<TopicHash, Topic>,
) -> Result<gossipsub::Behaviour, NetworkError> {
    let mut builder = gossipsub::ConfigBuilder::default();
    builder
        // No author signatures (StrictNoSign, as Ethereum's consensus layer): everything the
        // application accepts authenticates itself (an envelope by its validator's key, a
        // transaction by its sender's, a tx set by the hash a signed envelope names), message
        // ids are content hashes, and the peer a message came from is authenticated by noise,
        // which is whom scores and bans apply to. Signed, each message cost an ed25519 signature
        // and a verification per copy received, duplicates included (the codec verifies before
        // the duplicate check): 10 % of a validator's time under load. (Checking no signatures
        // while still signing does not work: gossipsub then drops `from` and `seqno` from what
        // it relays, and signing peers refuse those copies.)
        .validation_mode(gossipsub::ValidationMode::Anonymous)
        .validate_messages()
        // A message we published that comes back from another peer is an echo, not an attack:
        // js-libp2p relays a message to every mesh peer but the one it came from, so its author
        // gets it back. Signed messages named their author, and rust-libp2p dropped ours as
        // "self origin" *before* its duplicate check, counting it as an invalid message of the
        // echoing peer (issue 17: honest js-libp2p peers scored down to -98). Anonymous
        // messages name no author, so an echo within the duplicate cache's minute is a plain
        // duplicate (free) and a later one reaches the application like any other copy; the
        // check stays off in case a future format names authors again.
        .allow_self_origin(true)
        .message_id_fn(|m: &gossipsub::Message| MessageId::new(GossipId::compute(m.topic.as_str(), &m.data).as_bytes()))
        // The whole frame may exceed one message a little; one message over the payload limit
        // (plus its envelope) is reported as invalid and counts against its sender.
        .max_transmit_size(config.max_gossip_bytes.saturating_add(GOSSIP_FRAME_SLACK))
        // Small networks (a handful of validators) must exchange every message promptly: a
        // short heartbeat grafts new peers quickly and a low-side mesh of 4 makes every node of a
        // small network mesh with every other; flood publishing reaches every subscribed peer.
        .heartbeat_initial_delay(Duration::from_millis(100))
        .heartbeat_interval(Duration::from_millis(300))
        .mesh_n(6)
        .mesh_n_low(4)
        .mesh_n_high(12)
        .mesh_outbound_min(2)
        .flood_publish(true)
        // A received message waits in the cache for the application's verdict: keep it for 20
        // heartbeats (6 s) so that validating a large tx set does not outlive it.
        .history_length(20)
        .history_gossip(3)
        // An 8 MiB tx set takes a while to send on a slow link; keep it queued rather than drop it.
        .publish_queue_duration(Duration::from_secs(10))
        .forward_queue_duration(Duration::from_secs(10));
    for topic in topics.keys() {
        builder.max_transmit_size_for_topic(
            config.max_gossip_bytes.saturating_add(GOSSIP_MESSAGE_OVERHEAD),
            topic.clone(),
        );
    }
    let gossip_config = builder
        .build()
        .map_err(|e| NetworkError::Setup(format!("gossipsub configuration: {e}")))?;
    let mut gossipsub = gossipsub::Behaviour::new(gossipsub::MessageAuthenticity::Anonymous, gossip_config)
        .map_err(|e| NetworkError::Setup(format!("gossipsub: {e}")))?;

    // Peer scoring, used only to count violations of the gossipsub protocol: messages that fail
    // its own checks (author fields present, over the size limit) and protocol misbehaviour (grafting during a backoff, unkept IWANT promises).
    // Every positive and every circumstantial component is off (IP colocation would punish all
    // peers of a test on loopback; slowness is not misbehaviour), so the score is never positive
    // and is folded into the peer book's score.
    //
    // What gossipsub 0.50 counts as an invalid message delivery (peer_score.rs `reject_message`,
    // behaviour.rs `message_is_valid`/`handle_invalid_message`): every `ValidationError`
    // (the protocol violations above), `SelfOrigin` (our own message relayed back: made a plain
    // duplicate by `allow_self_origin` above), `ValidationFailed` (our application's `Reject`,
    // and every later duplicate of a rejected message from any peer). Not counted: blacklisted
    // peer or source (we blacklist nothing), `ValidationIgnored`, duplicates of valid or
    // ignored messages. The application's `Reject` is therefore reported to gossipsub as
    // `Ignore` (dropped, not relayed) and counted by the peer book against the sender alone, so
    // relaying a message we happen to reject, or echoing ours, never costs a peer anything here.
    let topic_params = gossipsub::TopicScoreParams {
        topic_weight: 1.0,
        time_in_mesh_weight: 0.0,
        first_message_deliveries_weight: 0.0,
        mesh_message_deliveries_weight: 0.0,
        mesh_failure_penalty_weight: 0.0,
        invalid_message_deliveries_weight: INVALID_MESSAGE_WEIGHT,
        invalid_message_deliveries_decay: INVALID_MESSAGE_DECAY,
        ..Default::default()
    };
    let params = gossipsub::PeerScoreParams {
        topics: topics.keys().map(|t| (t.clone(), topic_params.clone())).collect(),
        app_specific_weight: 0.0,
        ip_colocation_factor_weight: 0.0,
        behaviour_penalty_weight: -1.0,
        behaviour_penalty_decay: 0.9,
        slow_peer_weight: 0.0,
        ..Default::default()
    };
    gossipsub
        .with_peer_score(params, gossipsub::PeerScoreThresholds::default())
        .map_err(|e| NetworkError::Setup(format!("gossipsub scoring: {e}")))?;
    for topic in topics.keys() {
        gossipsub
            .subscribe(&gossipsub::IdentTopic::new(topic.as_str()))
            .map_err(|e| NetworkError::Setup(format!("gossipsub subscription: {e}")))?;
    }
    Ok(gossipsub)
}

fn protocol(name: String) -> Result<StreamProtocol, NetworkError> {
    StreamProtocol::try_from_owned(name).map_err(|e| NetworkError::Setup(format!("protocol name: {e}")))
}

pub(crate) async fn start(
    config: NetworkConfig,
) -> Result<(NetworkHandle, mpsc::Receiver<NetworkEvent>), NetworkError> {
    let keypair = crate::keypair_from_seed(&config.secret_seed);
    let local_peer_id = keypair.public().to_peer_id();
    let prefix = config.protocol_prefix();

    let mut bootnodes = Vec::new();
    for address in &config.bootnodes {
        let (peer, base) = split_peer_address(address).ok_or_else(|| NetworkError::InvalidBootnode(address.clone()))?;
        if peer != local_peer_id {
            bootnodes.push((peer, base));
        }
    }

    let topics: HashMap<TopicHash, Topic> = Topic::ALL
        .iter()
        .map(|t| (gossipsub::IdentTopic::new(config.topic_name(*t)).hash(), *t))
        .collect();
    let topic_hashes: HashMap<Topic, TopicHash> = topics.iter().map(|(h, t)| (*t, h.clone())).collect();

    let kad_protocol = protocol(format!("{prefix}/kad/1"))?;
    let kad = if config.discovery {
        let mut kad_config = kad::Config::new(kad_protocol.clone());
        // Records are not used: refuse to store what peers put.
        kad_config.set_record_filtering(kad::StoreInserts::FilterBoth);
        let mut kad =
            kad::Behaviour::with_config(local_peer_id, kad::store::MemoryStore::new(local_peer_id), kad_config);
        // Without a confirmed external address libp2p would run Kademlia as a client only and
        // answer no queries, which breaks discovery on private networks and loopback.
        kad.set_mode(Some(kad::Mode::Server));
        for (peer, address) in &bootnodes {
            kad.add_address(peer, address.clone());
        }
        Some(kad)
    } else {
        None
    };

    let protocol_version = format!("{prefix}/1");
    let reserved: HashSet<PeerId> = config.reserved_peers.iter().copied().collect();
    // The gate counts peers and enforces the totals; these limits bound handshakes in progress
    // and connections per peer. Reserved peers bypass them: a flood of half-open connections
    // must not keep a validator from dialling us.
    let mut limits = connection_limits::Behaviour::new(
        connection_limits::ConnectionLimits::default()
            .with_max_established_per_peer(Some(MAX_ESTABLISHED_PER_PEER))
            .with_max_pending_incoming(Some(MAX_PENDING))
            .with_max_pending_outgoing(Some(MAX_PENDING)),
    );
    for peer in &reserved {
        limits.bypass_peer_id(peer);
    }
    let behaviour = Behaviour {
        blocked: Default::default(),
        gate: Gate::new(GateConfig {
            reserved,
            max_peers: config.max_peers as usize,
            max_peers_per_ip: config.max_peers_per_ip as usize,
            ban_loopback: config.ban_loopback_ips,
            limit_loopback: config.limit_loopback_ips,
        }),
        limits,
        identify: identify::Behaviour::new(
            identify::Config::new(protocol_version.clone(), keypair.public()).with_agent_version(config.agent.clone()),
        ),
        ping: ping::Behaviour::new(ping::Config::new()),
        kad: kad.into(),
        gossipsub: gossipsub_behaviour(&config, &topics)?,
        request_response: request_response::Behaviour::with_codec(
            BytesCodec {
                max_request_bytes: config.max_request_bytes,
                max_response_bytes: config.max_response_bytes,
            },
            [(
                protocol(format!("{prefix}/req/1"))?,
                request_response::ProtocolSupport::Full,
            )],
            request_response::Config::default().with_request_timeout(config.request_timeout),
        ),
    };

    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(keypair)
        .with_tokio()
        .with_tcp(
            tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )
        .map_err(|e| NetworkError::Setup(format!("transport: {e}")))?
        .with_dns()
        .map_err(NetworkError::Dns)?
        .with_behaviour(move |_| behaviour)
        .map_err(|e| NetworkError::Setup(format!("behaviour: {e}")))?
        .with_swarm_config(|c| c.with_idle_connection_timeout(IDLE_CONNECTION_TIMEOUT))
        .build();

    // Bind every listen address before returning, so that callers can read the bound ports.
    let mut listeners = HashMap::new();
    for address in &config.listen {
        let id = swarm.listen_on(address.clone()).map_err(|e| NetworkError::Listen {
            address: address.clone(),
            reason: e.to_string(),
        })?;
        listeners.insert(id, address.clone());
    }
    if listeners.is_empty() {
        return Err(NetworkError::NotListening);
    }
    let mut bound = Vec::new();
    let deadline = tokio::time::Instant::now() + LISTEN_TIMEOUT;
    let mut waiting: HashSet<_> = listeners.keys().copied().collect();
    while !waiting.is_empty() {
        let event = tokio::time::timeout_at(deadline, swarm.select_next_some())
            .await
            .map_err(|_| NetworkError::NotListening)?;
        match event {
            SwarmEvent::NewListenAddr { listener_id, address } => {
                tracing::info!(%address, "listening");
                waiting.remove(&listener_id);
                bound.push(address);
            }
            SwarmEvent::ListenerClosed {
                listener_id, reason, ..
            } => {
                let address = listeners.get(&listener_id).cloned().unwrap_or_else(Multiaddr::empty);
                let reason = match reason {
                    Err(e) => e.to_string(),
                    Ok(()) => "closed".to_string(),
                };
                return Err(NetworkError::Listen { address, reason });
            }
            SwarmEvent::ListenerError { listener_id, error } => {
                let address = listeners.get(&listener_id).cloned().unwrap_or_else(Multiaddr::empty);
                return Err(NetworkError::Listen {
                    address,
                    reason: error.to_string(),
                });
            }
            other => tracing::trace!(?other, "swarm event while binding"),
        }
    }

    let shared = Arc::new(RwLock::new(Shared {
        listen_addresses: bound,
        ..Default::default()
    }));
    let (command_tx, command_rx) = mpsc::unbounded_channel();
    let (event_tx, event_rx) = mpsc::channel(EVENT_CHANNEL);
    let handle = NetworkHandle {
        local_peer_id,
        max_gossip_bytes: config.max_gossip_bytes,
        max_request_bytes: config.max_request_bytes,
        commands: command_tx.clone(),
        shared: shared.clone(),
        events: event_tx.downgrade(),
    };
    tracing::info!(peer_id = %local_peer_id, bootnodes = bootnodes.len(), "network started");

    let mut task = Task {
        swarm,
        shared,
        events: event_tx,
        commands: command_rx,
        // Weak: the task must not keep its own command channel open, or it would never stop.
        responder_commands: command_tx.downgrade(),
        topics,
        topic_hashes,
        pending_requests: HashMap::new(),
        bootnodes,
        kad_protocol,
        protocol_version,
        bootstrap_query: None,
        last_recovery: Instant::now(),
        local_peer_id,
        max_gossip_bytes: config.max_gossip_bytes,
        max_response_bytes: config.max_response_bytes,
        ban_threshold: config.ban_threshold,
        ban_duration: config.ban_duration,
        request_timeout: config.request_timeout,
        discovery: config.discovery,
        queues: EventQueues::default(),
        application_gone: false,
        gossip_limiter: GossipLimiter::default(),
        request_limiter: RequestLimiter::default(),
        awaiting_verdict: AwaitingVerdict::default(),
        last_maintenance: Instant::now(),
    };
    task.redial_bootnodes();
    task.discover();
    let redial_interval = config.redial_interval.max(Duration::from_millis(100));
    drop(config); // holds the secret seed; the task does not need it
    tokio::spawn(task.run(redial_interval));
    Ok((handle, event_rx))
}

struct Task {
    swarm: Swarm<Behaviour>,
    shared: Arc<RwLock<Shared>>,
    events: mpsc::Sender<NetworkEvent>,
    commands: mpsc::UnboundedReceiver<Command>,
    responder_commands: mpsc::WeakUnboundedSender<Command>,
    topics: HashMap<TopicHash, Topic>,
    topic_hashes: HashMap<Topic, TopicHash>,
    pending_requests: HashMap<request_response::OutboundRequestId, oneshot::Sender<Result<Vec<u8>, NetworkError>>>,
    bootnodes: Vec<(PeerId, Multiaddr)>,
    kad_protocol: StreamProtocol,
    protocol_version: String,
    bootstrap_query: Option<kad::QueryId>,
    last_recovery: Instant,
    local_peer_id: PeerId,
    max_gossip_bytes: usize,
    max_response_bytes: usize,
    ban_threshold: i32,
    ban_duration: Duration,
    request_timeout: Duration,
    discovery: bool,
    /// Events waiting for room in the application's channel.
    queues: EventQueues,
    /// The application dropped its receiver: events are settled (ignored, closed) at once.
    application_gone: bool,
    gossip_limiter: GossipLimiter,
    request_limiter: RequestLimiter<request_response::InboundRequestId>,
    awaiting_verdict: AwaitingVerdict,
    last_maintenance: Instant,
}

/// Gossip messages handed to the application (or queued for it) whose verdict has not come yet.
#[derive(Default)]
struct AwaitingVerdict {
    since: HashMap<(GossipId, PeerId), Instant>,
    /// Insertion order, for expiry; an entry whose message was settled stays until it reaches
    /// the front (`since` is the truth).
    order: VecDeque<(GossipId, PeerId, Instant)>,
}

impl AwaitingVerdict {
    fn insert(&mut self, id: GossipId, from: PeerId, now: Instant) {
        self.since.insert((id, from), now);
        self.order.push_back((id, from, now));
        while self.order.len() > MAX_AWAITING_VERDICT {
            self.pop_oldest();
        }
    }

    /// Whether `(id, from)` was awaiting a verdict (it no longer is).
    fn take(&mut self, id: GossipId, from: PeerId) -> bool {
        self.since.remove(&(id, from)).is_some()
    }

    fn pop_oldest(&mut self) {
        if let Some((id, from, at)) = self.order.pop_front() {
            // Only if this is the entry's current insertion, not a settled and re-sent one.
            if self.since.get(&(id, from)) == Some(&at) {
                self.since.remove(&(id, from));
            }
        }
    }

    fn expire(&mut self, now: Instant) {
        while let Some((id, from, at)) = self.order.front().copied() {
            let settled = self.since.get(&(id, from)) != Some(&at);
            if !settled && now.saturating_duration_since(at) <= VERDICT_TIMEOUT {
                break;
            }
            self.pop_oldest();
        }
    }
}

impl Task {
    async fn run(mut self, redial_interval: Duration) {
        let mut maintenance = tokio::time::interval(Duration::from_secs(1));
        maintenance.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut redial = tokio::time::interval_at(tokio::time::Instant::now() + redial_interval, redial_interval);
        redial.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let deliver = !self.queues.is_empty() && !self.application_gone;
            tokio::select! {
                // Hand queued events to the application as its channel makes room, highest
                // priority first.
                // (An owned permit, on a clone of the sender, so that the handlers may use `self`.)
                permit = self.events.clone().reserve_owned(), if deliver => match permit {
                    Ok(permit) => {
                        if let Some(event) = self.queues.pop() {
                            permit.send(event);
                        }
                        self.publish_backlog();
                    }
                    Err(_) => self.on_application_gone(),
                },
                event = self.swarm.select_next_some() => self.on_swarm_event(event).await,
                command = self.commands.recv() => match command {
                    Some(command) => self.on_command(command),
                    None => break,
                },
                _ = maintenance.tick() => self.maintain(),
                _ = redial.tick() => {
                    self.redial_bootnodes();
                    self.discover();
                }
            }
        }
        tracing::info!(peer_id = %self.local_peer_id, "network stopped");
    }

    fn dial_peer(&mut self, peer: PeerId, addresses: Vec<Multiaddr>) {
        if peer == self.local_peer_id || self.shared.read().peers.is_banned(&peer) {
            return;
        }
        let opts = DialOpts::peer_id(peer)
            .addresses(addresses)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        if let Err(e) = self.swarm.dial(opts) {
            tracing::debug!(%peer, error = %e, "dial not started");
        }
    }

    /// Publishes the queues' length for [`NetworkHandle::queued_events`].
    fn publish_backlog(&self) {
        self.shared.write().queued_events = self.queues.len();
    }

    /// The application dropped its receiver: nothing will be delivered any more; settle what
    /// waits (gossip ignored, requests closed) and whatever comes from now on.
    fn on_application_gone(&mut self) {
        if !self.application_gone {
            tracing::info!("the application stopped reading network events");
        }
        self.application_gone = true;
        while let Some(event) = self.queues.pop() {
            self.settle_dropped(event, false);
        }
        self.publish_backlog();
    }

    /// Settles an event that will not reach the application: gossip is reported ignored (not
    /// relayed, no penalty), a request's responder is dropped (the peer sees the stream close).
    /// `counted` says whether to count it against its sender in the peer book's statistics.
    fn settle_dropped(&mut self, event: NetworkEvent, counted: bool) {
        match event {
            NetworkEvent::Gossip { id, from, .. } => {
                self.awaiting_verdict.take(id, from);
                self.validate(&MessageId::new(id.as_bytes()), &from, MessageAcceptance::Ignore);
                if counted {
                    let mut shared = self.shared.write();
                    let entry = shared.peers.entry(from);
                    entry.ignored_gossip = entry.ignored_gossip.saturating_add(1);
                }
            }
            NetworkEvent::Request { from, reply, .. } => {
                drop(reply);
                if counted {
                    let mut shared = self.shared.write();
                    let entry = shared.peers.entry(from);
                    entry.refused_requests = entry.refused_requests.saturating_add(1);
                }
            }
            // Connection events are never dropped while the application reads.
            NetworkEvent::PeerConnected(_) | NetworkEvent::PeerDisconnected(_) => {}
        }
    }

    /// Queues a gossip message or request of `peer` for the application.
    fn enqueue(&mut self, class: Class, peer: PeerId, event: NetworkEvent) {
        if self.application_gone {
            self.settle_dropped(event, false);
            return;
        }
        if let NetworkEvent::Gossip { id, from, .. } = &event {
            self.awaiting_verdict.insert(*id, *from, Instant::now());
        }
        let dropped = self.queues.push(class, peer, event);
        if !dropped.is_empty() {
            tracing::debug!(
                ?class, %peer, dropped = dropped.len(),
                "queue for the application full; dropped the newest events of the peer with most queued"
            );
        }
        for event in dropped {
            self.settle_dropped(event, true);
        }
        self.publish_backlog();
    }

    fn redial_bootnodes(&mut self) {
        let missing: Vec<_> = self
            .bootnodes
            .iter()
            .filter(|(peer, _)| !self.swarm.is_connected(peer))
            .cloned()
            .collect();
        for (peer, address) in missing {
            self.dial_peer(peer, vec![address]);
        }
    }

    /// Starts a Kademlia bootstrap (a lookup of our own id and random refreshes) while the node
    /// has few peers and none is running.
    fn discover(&mut self) {
        if !self.discovery
            || self.swarm.connected_peers().count() >= DISCOVERY_TARGET
            || !self.swarm.behaviour().gate.has_free_slot()
        {
            return;
        }
        let Some(kad) = self.swarm.behaviour_mut().kad.as_mut() else {
            return;
        };
        if self.bootstrap_query.is_some_and(|id| kad.query(&id).is_some()) {
            return;
        }
        self.bootstrap_query = kad.bootstrap().ok();
    }

    fn maintain(&mut self) {
        let now = Instant::now();
        for peer in self.shared.write().peers.expire_bans(now) {
            self.swarm.behaviour_mut().blocked.unblock_peer(peer);
            tracing::info!(%peer, "ban expired");
        }
        for ip in self.swarm.behaviour_mut().gate.expire_ip_bans(now) {
            tracing::info!(%ip, "address ban expired");
        }
        if now.duration_since(self.last_recovery) >= RECOVERY_INTERVAL {
            self.last_recovery = now;
            self.shared.write().peers.recover();
        }
        let elapsed = now.saturating_duration_since(self.last_maintenance);
        self.last_maintenance = now;
        self.shared.write().peers.decay_rejections(elapsed);
        self.gossip_limiter.purge(now);
        // libp2p times inbound requests out after `request_timeout`; twice that is surely over.
        self.request_limiter.purge(now, self.request_timeout.saturating_mul(2));
        self.awaiting_verdict.expire(now);
        // Fold gossipsub's count of each connected peer's misbehaviour into its score.
        let connected: Vec<PeerId> = self.swarm.connected_peers().copied().collect();
        for peer in connected {
            let score = self
                .swarm
                .behaviour()
                .gossipsub
                .peer_score(&peer)
                .unwrap_or(0.0)
                .min(0.0);
            let score = score.round().max(f64::from(i32::MIN)) as i32;
            let changed = {
                let mut shared = self.shared.write();
                let entry = shared.peers.entry(peer);
                let changed = entry.gossip_score != score;
                entry.gossip_score = score;
                changed
            };
            if changed && score < 0 {
                tracing::debug!(%peer, gossip_score = score, "gossip misbehaviour");
                self.check_ban(peer, "gossip messages breaking the gossipsub protocol");
            }
        }
    }

    fn penalise(&mut self, peer: PeerId, penalty: i32, reason: &str) {
        if peer == self.local_peer_id {
            return;
        }
        let score = {
            let mut shared = self.shared.write();
            let entry = shared.peers.entry(peer);
            entry.app_score = entry.app_score.saturating_sub(penalty);
            entry.score()
        };
        tracing::warn!(%peer, penalty, score, reason, "peer penalised");
        self.check_ban(peer, reason);
    }

    fn check_ban(&mut self, peer: PeerId, reason: &str) {
        let until = ban_end(Instant::now(), self.ban_duration);
        let score = {
            let mut shared = self.shared.write();
            let entry = shared.peers.entry(peer);
            if entry.banned_until.is_some() || entry.score() >= self.ban_threshold {
                return;
            }
            entry.banned_until = Some(until);
            entry.score()
        };
        // The addresses it is connected from now share the ban (and end with it).
        let ips = self.swarm.behaviour_mut().gate.ban_ips_of(peer, until);
        tracing::warn!(
            %peer, ?ips, score, threshold = self.ban_threshold, duration_secs = self.ban_duration.as_secs(), reason,
            "peer banned: disconnecting and refusing its connections (and new ones from its addresses) until the ban expires"
        );
        let behaviour = self.swarm.behaviour_mut();
        // Closes its connections and refuses new ones, inbound and outbound.
        behaviour.blocked.block_peer(peer);
        if let Some(kad) = behaviour.kad.as_mut() {
            kad.remove_peer(&peer);
        }
    }

    async fn emit(&mut self, event: NetworkEvent) {
        // Connection events are never dropped: the application must not miss them. They go first
        // in the queues; only if very many pile up does the task wait for the application.
        if self.application_gone {
            return;
        }
        self.queues.push_connection(event);
        while self.queues.connection_backlog() > MAX_CONNECTION_BACKLOG {
            match self.events.clone().reserve_owned().await {
                Ok(permit) => {
                    if let Some(event) = self.queues.pop() {
                        permit.send(event);
                    }
                }
                Err(_) => {
                    self.on_application_gone();
                    break;
                }
            }
        }
        self.publish_backlog();
    }

    async fn on_swarm_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(event) => self.on_behaviour_event(event).await,
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
                let mut shared = self.shared.write();
                if !shared.listen_addresses.contains(&address) {
                    shared.listen_addresses.push(address);
                }
            }
            SwarmEvent::ExpiredListenAddr { address, .. } => {
                tracing::info!(%address, "no longer listening");
                self.shared.write().listen_addresses.retain(|a| a != &address);
            }
            SwarmEvent::ListenerError { error, .. } => tracing::warn!(%error, "listener error"),
            SwarmEvent::ListenerClosed { addresses, reason, .. } => {
                tracing::warn!(?addresses, ?reason, "listener closed");
                self.shared.write().listen_addresses.retain(|a| !addresses.contains(a));
            }
            SwarmEvent::ConnectionEstablished {
                peer_id,
                endpoint,
                num_established,
                ..
            } => {
                let first = num_established.get() == 1;
                {
                    let mut shared = self.shared.write();
                    let entry = shared.peers.entry(peer_id);
                    entry.connections = num_established.get();
                    entry.last_seen = Some(Instant::now());
                    if endpoint.is_dialer() {
                        let mut address = endpoint.get_remote_address().clone();
                        if let Some(Protocol::P2p(_)) = address.iter().last() {
                            address.pop();
                        }
                        entry.add_address(address);
                    }
                }
                if first {
                    tracing::debug!(peer = %peer_id, address = %endpoint.get_remote_address(), "peer connected");
                    self.emit(NetworkEvent::PeerConnected(peer_id)).await;
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                num_established,
                cause,
                ..
            } => {
                {
                    let mut shared = self.shared.write();
                    let entry = shared.peers.entry(peer_id);
                    entry.connections = num_established;
                    entry.last_seen = Some(Instant::now());
                    if num_established == 0 {
                        for peers in shared.topic_peers.values_mut() {
                            peers.remove(&peer_id);
                        }
                    }
                }
                if num_established == 0 {
                    tracing::debug!(peer = %peer_id, cause = ?cause.map(|c| c.to_string()), "peer disconnected");
                    self.emit(NetworkEvent::PeerDisconnected(peer_id)).await;
                }
            }
            SwarmEvent::IncomingConnectionError {
                peer_id,
                error,
                send_back_addr,
                ..
            } => {
                let banned = matches!(&error, ListenError::Denied { cause }
                    if cause.downcast_ref::<allow_block_list::Blocked>().is_some()
                        || cause.downcast_ref::<Refused>().is_some_and(|r| matches!(r, Refused::IpBanned { .. })));
                let refusal = match &error {
                    ListenError::Denied { cause } => {
                        if cause.downcast_ref::<allow_block_list::Blocked>().is_some() {
                            Some("the peer is banned".to_string())
                        } else {
                            cause.downcast_ref::<Refused>().map(|r| r.to_string())
                        }
                    }
                    _ => None,
                };
                match (peer_id, refusal) {
                    (Some(peer), Some(why)) => {
                        if banned {
                            tracing::debug!(%peer, address = %send_back_addr, "refused a connection from a banned peer");
                        } else {
                            tracing::debug!(%peer, address = %send_back_addr, reason = %why, "refused a connection");
                        }
                        let mut shared = self.shared.write();
                        let entry = shared.peers.entry(peer);
                        entry.refused_connections = entry.refused_connections.saturating_add(1);
                    }
                    _ => tracing::debug!(?peer_id, address = %send_back_addr, %error, "inbound connection failed"),
                }
            }
            SwarmEvent::OutgoingConnectionError { peer_id, error, .. } => {
                tracing::debug!(?peer_id, %error, "outbound connection failed");
            }
            _ => {}
        }
    }

    async fn on_behaviour_event(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Gossipsub(event) => self.on_gossip_event(event),
            BehaviourEvent::RequestResponse(event) => self.on_request_event(event),
            BehaviourEvent::Identify(event) => self.on_identify_event(event),
            BehaviourEvent::Kad(event) => self.on_kad_event(event),
            BehaviourEvent::Ping(ping::Event {
                peer,
                result: Err(ping::Failure::Unsupported),
                ..
            }) => {
                // A client of another implementation may leave ping out; it is alive (it just
                // told us so), and liveness is then TCP's and yamux's to detect.
                tracing::debug!(%peer, "peer does not support ping");
            }
            BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(error),
            }) => {
                // A peer that stops answering pings is gone (crashed host, dropped route): close
                // the connection so the peer can be redialled instead of waiting on TCP.
                tracing::debug!(%peer, %error, "ping failed; closing the connection");
                self.swarm.close_connection(connection);
            }
            BehaviourEvent::Ping(_) => {}
            BehaviourEvent::Blocked(never) | BehaviourEvent::Gate(never) | BehaviourEvent::Limits(never) => {
                match never {}
            }
        }
    }

    fn on_gossip_event(&mut self, event: gossipsub::Event) {
        match event {
            gossipsub::Event::Message {
                propagation_source,
                message_id,
                message,
            } => {
                let topic = self.topics.get(&message.topic).copied();
                let id: Option<[u8; 32]> = message_id.0.as_slice().try_into().ok();
                let (Some(topic), Some(id)) = (topic, id) else {
                    // Only our topics are subscribed and our id function makes 32-byte ids.
                    self.validate(&message_id, &propagation_source, MessageAcceptance::Ignore);
                    return;
                };
                if message.data.len() > self.max_gossip_bytes {
                    // Within gossipsub's frame limit but over our payload limit: as invalid as a
                    // bad signature, counted like an application rejection.
                    tracing::debug!(peer = %propagation_source, size = message.data.len(), "oversized gossip payload");
                    self.validate(&message_id, &propagation_source, MessageAcceptance::Ignore);
                    self.reject_gossip(propagation_source, "sent an oversized gossip message");
                    return;
                }
                if !self.gossip_limiter.admit(propagation_source, topic, Instant::now()) {
                    // Over its budget on this topic: not read, not relayed, not penalised (a burst
                    // is not proof of malice; the budget only bounds the peer's share of our work).
                    tracing::trace!(peer = %propagation_source, ?topic, "gossip over the peer's rate; ignored");
                    self.validate(&message_id, &propagation_source, MessageAcceptance::Ignore);
                    let mut shared = self.shared.write();
                    let entry = shared.peers.entry(propagation_source);
                    entry.ignored_gossip = entry.ignored_gossip.saturating_add(1);
                    return;
                }
                let event = NetworkEvent::Gossip {
                    topic,
                    from: propagation_source,
                    id: GossipId(id),
                    data: message.data,
                };
                self.enqueue(Class::of_topic(topic), propagation_source, event);
            }
            gossipsub::Event::Subscribed { peer_id, topic, .. } => {
                if let Some(topic) = self.topics.get(&topic) {
                    self.shared
                        .write()
                        .topic_peers
                        .entry(*topic)
                        .or_default()
                        .insert(peer_id);
                }
            }
            gossipsub::Event::Unsubscribed { peer_id, topic } => {
                if let Some(topic) = self.topics.get(&topic) {
                    self.shared
                        .write()
                        .topic_peers
                        .entry(*topic)
                        .or_default()
                        .remove(&peer_id);
                }
            }
            gossipsub::Event::GossipsubNotSupported { peer_id } => {
                tracing::debug!(peer = %peer_id, "peer does not support gossipsub");
            }
            gossipsub::Event::SlowPeer {
                peer_id,
                failed_messages,
            } => {
                tracing::debug!(peer = %peer_id, ?failed_messages, "slow gossip peer");
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
    }

    /// Counts a rejected gossip message of `peer` (see `peers.rs`) and bans it if that is enough.
    fn reject_gossip(&mut self, peer: PeerId, reason: &str) {
        if peer == self.local_peer_id {
            return;
        }
        let score = self.shared.write().peers.reject_gossip(peer);
        tracing::debug!(%peer, score, reason, "gossip rejected");
        self.check_ban(peer, reason);
    }

    fn validate(&mut self, id: &MessageId, from: &PeerId, acceptance: MessageAcceptance) {
        self.swarm
            .behaviour_mut()
            .gossipsub
            .report_message_validation_result(id, from, acceptance);
    }

    fn on_request_event(&mut self, event: request_response::Event<RequestFrame, Vec<u8>>) {
        use request_response::{Event, Message, OutboundFailure};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request: RequestFrame::Refused(e),
                        ..
                    },
                ..
            } => {
                // Dropping the channel closes the stream unanswered.
                self.penalise(
                    peer,
                    OVERSIZED_FRAME_PENALTY,
                    &format!("sent a request refused by its length: {e}"),
                );
            }
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request_id,
                        request: RequestFrame::Bytes(request),
                        channel,
                    },
                ..
            } => {
                if let Err(refusal) = self.request_limiter.admit(peer, request_id, Instant::now()) {
                    // Dropping the channel closes the stream unanswered.
                    drop(channel);
                    {
                        let mut shared = self.shared.write();
                        let entry = shared.peers.entry(peer);
                        entry.refused_requests = entry.refused_requests.saturating_add(1);
                    }
                    tracing::trace!(%peer, ?refusal, "request over the peer's budget; closed unanswered");
                    if refusal == (RequestRefusal::Rate { abusive: true }) {
                        self.penalise(
                            peer,
                            REQUEST_FLOOD_PENALTY,
                            &format!("sent {REQUEST_FLOOD_REFUSALS} more requests over its rate"),
                        );
                    }
                    return;
                }
                let Some(commands) = self.responder_commands.upgrade() else {
                    return;
                };
                let event = NetworkEvent::Request {
                    from: peer,
                    data: request,
                    reply: Responder::libp2p(channel, commands),
                };
                self.enqueue(Class::Requests, peer, event);
            }
            Event::Message {
                message: Message::Response { request_id, response },
                ..
            } => {
                if let Some(reply) = self.pending_requests.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                let error = match error {
                    OutboundFailure::DialFailure => NetworkError::Unreachable,
                    OutboundFailure::Timeout => NetworkError::Timeout,
                    OutboundFailure::ConnectionClosed => NetworkError::ConnectionClosed,
                    OutboundFailure::UnsupportedProtocols => NetworkError::UnsupportedProtocol,
                    OutboundFailure::Io(e) => match frame_error(&e) {
                        Some(FrameError::TooLarge { .. }) => {
                            self.penalise(peer, OVERSIZED_FRAME_PENALTY, "sent a response over the size limit");
                            NetworkError::ResponseTooLarge {
                                max: self.max_response_bytes,
                            }
                        }
                        Some(FrameError::MalformedLength) => {
                            self.penalise(peer, OVERSIZED_FRAME_PENALTY, "sent a malformed response frame");
                            NetworkError::Io(e)
                        }
                        None if e.kind() == std::io::ErrorKind::UnexpectedEof => NetworkError::NoResponse,
                        None => NetworkError::Io(e),
                    },
                    #[allow(unreachable_patterns)]
                    _ => NetworkError::ConnectionClosed,
                };
                tracing::debug!(%peer, %error, "request failed");
                if let Some(reply) = self.pending_requests.remove(&request_id) {
                    let _ = reply.send(Err(error));
                }
            }
            Event::InboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                // Includes the application (or the queue) dropping the responder.
                self.request_limiter.finished(request_id);
                tracing::debug!(%peer, %error, "inbound request failed");
            }
            Event::ResponseSent { request_id, .. } => self.request_limiter.finished(request_id),
        }
    }

    fn on_identify_event(&mut self, event: identify::Event) {
        let identify::Event::Received { peer_id, info, .. } = event else {
            return;
        };
        if info.protocol_version != self.protocol_version {
            // Another chain (or an incompatible version): nothing to exchange.
            tracing::debug!(peer = %peer_id, theirs = %info.protocol_version, ours = %self.protocol_version, "peer of another network; disconnecting");
            let _ = self.swarm.disconnect_peer_id(peer_id);
            return;
        }
        let addresses: Vec<Multiaddr> = info.listen_addrs.into_iter().take(MAX_IDENTIFY_ADDRESSES).collect();
        {
            let mut shared = self.shared.write();
            let entry = shared.peers.entry(peer_id);
            entry.agent = Some(info.agent_version.chars().take(128).collect());
            for address in &addresses {
                entry.add_address(address.clone());
            }
        }
        let serves_kad = info.protocols.contains(&self.kad_protocol);
        if let (true, Some(kad)) = (serves_kad, self.swarm.behaviour_mut().kad.as_mut()) {
            // Makes the peer routable: it can now be handed to others looking for peers.
            for address in addresses {
                kad.add_address(&peer_id, address);
            }
        }
    }

    fn on_kad_event(&mut self, event: kad::Event) {
        match event {
            kad::Event::RoutingUpdated { peer, addresses, .. }
                if self.discovery && !self.swarm.is_connected(&peer) && self.swarm.behaviour().gate.has_free_slot() =>
            {
                tracing::debug!(%peer, "discovered peer; dialling");
                self.dial_peer(peer, addresses.into_vec());
            }
            kad::Event::OutboundQueryProgressed {
                result: kad::QueryResult::Bootstrap(Err(e)),
                ..
            } => {
                tracing::debug!(error = ?e, "kademlia bootstrap step failed");
            }
            _ => {}
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Publish { topic, data } => {
                let Some(hash) = self.topic_hashes.get(&topic).cloned() else {
                    return;
                };
                match self.swarm.behaviour_mut().gossipsub.publish(hash, data) {
                    Ok(_) => {}
                    Err(gossipsub::PublishError::NoPeersSubscribedToTopic | gossipsub::PublishError::Duplicate) => {
                        tracing::debug!(?topic, "gossip not published (no subscribed peer yet, or already seen)");
                    }
                    Err(e) => tracing::warn!(?topic, error = %e, "gossip not published"),
                }
            }
            Command::Validation { id, from, validation } => {
                let delivered = self.awaiting_verdict.take(id, from);
                let acceptance = match validation {
                    Validation::Accept => MessageAcceptance::Accept,
                    // Reported to gossipsub as ignored: it must not count the rejection itself,
                    // since it would also count every peer that relays the message later (see
                    // `gossipsub_behaviour`). The sender alone pays, in the peer book.
                    Validation::Reject => MessageAcceptance::Ignore,
                    Validation::Ignore => MessageAcceptance::Ignore,
                };
                self.validate(&MessageId::new(id.as_bytes()), &from, acceptance);
                if validation == Validation::Reject && delivered {
                    self.reject_gossip(from, "sent a gossip message the application rejected");
                }
            }
            Command::Request { peer, data, reply } => {
                if self.shared.read().peers.is_banned(&peer) {
                    let _ = reply.send(Err(NetworkError::Banned));
                    return;
                }
                let id = self
                    .swarm
                    .behaviour_mut()
                    .request_response
                    .send_request(&peer, RequestFrame::Bytes(data));
                self.pending_requests.insert(id, reply);
            }
            Command::Respond { channel, data } => {
                if data.len() > self.max_response_bytes {
                    tracing::error!(
                        size = data.len(),
                        max = self.max_response_bytes,
                        "response too large; not sent"
                    );
                    return;
                }
                if self
                    .swarm
                    .behaviour_mut()
                    .request_response
                    .send_response(channel, data)
                    .is_err()
                {
                    tracing::debug!("response not sent: the request timed out or its connection closed");
                }
            }
            Command::ReportPeer { peer, penalty, reason } => self.penalise(peer, penalty, &reason),
            Command::Dial { address } => match split_peer_address(&address) {
                Some((peer, base)) => self.dial_peer(peer, vec![base]),
                None => {
                    if let Err(e) = self.swarm.dial(address.clone()) {
                        tracing::warn!(%address, error = %e, "dial failed");
                    }
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bootnode_addresses_must_name_the_peer() {
        let peer = PeerId::random();
        let with: Multiaddr = format!("/ip4/127.0.0.1/tcp/30333/p2p/{peer}").parse().unwrap();
        let (p, base) = split_peer_address(&with).unwrap();
        assert_eq!(p, peer);
        assert_eq!(base.to_string(), "/ip4/127.0.0.1/tcp/30333");
        assert!(split_peer_address(&"/ip4/127.0.0.1/tcp/30333".parse().unwrap()).is_none());
    }

    #[test]
    fn gossip_parameters_are_accepted_by_gossipsub() {
        let config = NetworkConfig::default();
        let topics: HashMap<TopicHash, Topic> = Topic::ALL
            .iter()
            .map(|t| (gossipsub::IdentTopic::new(config.topic_name(*t)).hash(), *t))
            .collect();
        assert!(gossipsub_behaviour(&config, &topics).is_ok());
    }
}
