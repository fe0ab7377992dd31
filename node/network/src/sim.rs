//! A simulated network: many nodes in one process, each with a real [`NetworkHandle`] and
//! [`NetworkEvent`] receiver (so the application code under test is the production code),
//! joined by links with seeded latency, jitter and loss, partitions that start and heal, and
//! peer scores and bans kept in each node's peer book as the libp2p network keeps them. Byzantine
//! peers are nodes the test drives itself: they publish and answer whatever the attack needs.
//! In the style of commonware's simulated p2p.
//!
//! Time. Every delay is a tokio timer, so on a runtime with paused time
//! (`#[tokio::test(start_paused = true)]`) a run is in virtual time: the clock jumps to the next
//! delivery or timer whenever every task waits, computation takes no virtual time, and a
//! machine's load or speed changes nothing the nodes see of the network.
//!
//! Determinism. Latency, jitter and loss are drawn from one generator seeded by
//! [`SimConfig::seed`], in the order messages are sent; deliveries happen in (time, send order).
//! The same nodes sending the same messages in the same order get the same schedule, which
//! [`SimNetwork::trace_digest`] fingerprints. (Work an application moves to other threads, such
//! as `spawn_blocking`, can change the order in which it sends, and with it the schedule.)
//!
//! What it models: a full mesh of links (each directed link is FIFO, like a TCP connection);
//! gossip relayed by a node only once its application accepts it, each message seen once per
//! node (duplicates cost nothing, as in gossipsub); requests answered through [`Responder`],
//! failing with [`NetworkError::Unreachable`] across a partition, [`NetworkError::Banned`]
//! towards a banned peer, [`NetworkError::Timeout`] when lost or unanswered in
//! `request_timeout`, and [`NetworkError::NoResponse`] when the responder is dropped or the
//! answer is over `max_response_bytes`. A rejected gossip message and
//! [`NetworkHandle::report_peer`] lower the receiver's score of the sender by what the libp2p
//! network takes off; below `ban_threshold` the two are disconnected for the rest of the run.
//! What it does not model: the libp2p network's own per-peer rate limits, fair queues and
//! connection slots (tested against real sockets in this crate's `defences` tests), discovery,
//! scores recovering and rejections decaying over time, and bans expiring (a simulated run is
//! short; a peer penalised in it stays penalised). A partition drops messages between its sides
//! without closing connections, as a silent network failure does until keep-alives notice;
//! healing it connects the pairs that never were (nodes added meanwhile).

use crate::peers::PeerEntry;
use crate::service::Command;
use crate::{
    peer_id_from_seed, GossipId, NetworkConfig, NetworkError, NetworkEvent, NetworkHandle, PeerId, Responder,
    ResponderInner, Shared, Topic, Validation,
};
use blake2::{digest::consts::U32, Blake2b, Digest};
use parking_lot::{Mutex, RwLock};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

/// Events a node's application has not yet taken; beyond this, gossip and requests to it are
/// dropped (counted in [`SimStats::dropped_full`]), as the libp2p network's bounded queues do.
const EVENT_CAPACITY: usize = 65_536;
/// Gossip ids each node remembers, to deliver each message once.
const SEEN_PER_NODE: usize = 200_000;
/// Gossip messages each node keeps for relaying while its application decides.
const AWAITING_VERDICT: usize = 100_000;

/// One direction of a link between two nodes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Link {
    /// Base one-way delay.
    pub latency: Duration,
    /// Extra delay drawn uniformly from `[0, jitter]` per message.
    pub jitter: Duration,
    /// Probability in `[0, 1]` that a gossip message or request is lost.
    pub loss: f64,
}

impl Default for Link {
    /// A LAN: 5 ms, 5 ms of jitter, nothing lost.
    fn default() -> Self {
        Link {
            latency: Duration::from_millis(5),
            jitter: Duration::from_millis(5),
            loss: 0.0,
        }
    }
}

/// Settings of a [`SimNetwork`].
#[derive(Clone, Copy, Debug)]
pub struct SimConfig {
    /// Seeds latency, jitter and loss.
    pub seed: u64,
    /// Every link unless [`SimNetwork::set_link`] says otherwise.
    pub link: Link,
}

/// What the simulated network did so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SimStats {
    /// Gossip messages, requests and responses delivered to an application.
    pub delivered: u64,
    /// Lost to a link's loss rate.
    pub lost: u64,
    /// Dropped because the sender and the receiver were on different sides of a partition.
    pub partitioned: u64,
    /// Dropped because the receiver's application was too far behind.
    pub dropped_full: u64,
    /// Gossip deliveries skipped because the receiver had seen the message.
    pub duplicates: u64,
}

/// A simulated network; cheap to clone. The router task runs on the current tokio runtime
/// until every clone and every node's handles are gone.
#[derive(Clone)]
pub struct SimNetwork {
    state: Arc<Mutex<Router>>,
    wake: mpsc::UnboundedSender<Msg>,
}

impl SimNetwork {
    /// Starts the router on the current tokio runtime.
    pub fn start(config: SimConfig) -> Self {
        let (wake, rx) = mpsc::unbounded_channel();
        let state = Arc::new(Mutex::new(Router {
            rng: SplitMix64(config.seed),
            default_link: config.link,
            links: HashMap::new(),
            nodes: BTreeMap::new(),
            groups: None,
            queue: BTreeMap::new(),
            seq: 0,
            link_clock: HashMap::new(),
            requests: BTreeMap::new(),
            next_request: 0,
            next_incarnation: 0,
            stats: SimStats::default(),
            trace: Blake2b::<U32>::new(),
            epoch: Instant::now(),
            myself: wake.downgrade(),
        }));
        tokio::spawn(route(state.clone(), rx));
        SimNetwork { state, wake }
    }

    /// Adds a node with the identity, limits and chain (`genesis_hash`) of `config` (its listen
    /// addresses, bootnodes and discovery settings mean nothing here), linked to every node
    /// present; both sides see [`NetworkEvent::PeerConnected`] after a link's latency. A node
    /// with the same identity as one present replaces it (a restart). The node leaves when
    /// every clone of its handle is dropped.
    pub fn add_node(&self, config: &NetworkConfig) -> (NetworkHandle, mpsc::Receiver<NetworkEvent>) {
        let peer = peer_id_from_seed(&config.secret_seed);
        let (commands, mut command_rx) = mpsc::unbounded_channel();
        let (events_tx, events_rx) = mpsc::channel(EVENT_CAPACITY);
        let shared = Arc::new(RwLock::new(Shared::default()));
        let handle = NetworkHandle {
            local_peer_id: peer,
            max_gossip_bytes: config.max_gossip_bytes,
            max_request_bytes: config.max_request_bytes,
            commands,
            shared: shared.clone(),
            events: events_tx.downgrade(),
        };
        let incarnation = {
            let mut router = self.state.lock();
            if router.nodes.contains_key(&peer) {
                router.remove(peer);
            }
            router.next_incarnation += 1;
            let incarnation = router.next_incarnation;
            router.nodes.insert(
                peer,
                Node {
                    incarnation,
                    events: events_tx,
                    shared,
                    topic_names: Topic::ALL.map(|t| config.topic_name(t)),
                    max_response_bytes: config.max_response_bytes,
                    request_timeout: config.request_timeout,
                    ban_threshold: config.ban_threshold,
                    seen: HashSet::new(),
                    seen_order: VecDeque::new(),
                    awaiting: HashMap::new(),
                    awaiting_order: VecDeque::new(),
                },
            );
            let others: Vec<PeerId> = router.nodes.keys().copied().filter(|p| *p != peer).collect();
            for other in others {
                if router.linked(peer, other) {
                    router.connect(peer, other);
                }
            }
            incarnation
        };
        let wake = self.wake.clone();
        let _ = wake.send(Msg::Wake);
        tokio::spawn(async move {
            while let Some(cmd) = command_rx.recv().await {
                if wake.send(Msg::Command { peer, incarnation, cmd }).is_err() {
                    return;
                }
            }
            let _ = wake.send(Msg::Left { peer, incarnation });
        });
        (handle, events_rx)
    }

    /// Sets the link from `from` to `to` (one direction).
    pub fn set_link(&self, from: PeerId, to: PeerId, link: Link) {
        self.state.lock().links.insert((from, to), link);
    }

    /// Splits the network: nodes in different groups cannot reach each other; a node in no
    /// group reaches no one. Messages already in flight across the cut are dropped on arrival.
    pub fn partition(&self, groups: &[Vec<PeerId>]) {
        let mut map = HashMap::new();
        for (i, group) in groups.iter().enumerate() {
            for peer in group {
                map.insert(*peer, i);
            }
        }
        self.state.lock().groups = Some(map);
    }

    /// Ends a partition.
    pub fn heal(&self) {
        let mut router = self.state.lock();
        router.groups = None;
        // Nodes added during the partition were linked only to their own side.
        let ids: Vec<PeerId> = router.nodes.keys().copied().collect();
        for (i, a) in ids.iter().enumerate() {
            for b in &ids[i + 1..] {
                if router.linked(*a, *b) && !router.sees_connected(*a, *b) {
                    router.connect(*a, *b);
                }
            }
        }
        drop(router);
        let _ = self.wake.send(Msg::Wake);
    }

    /// Counters so far.
    pub fn stats(&self) -> SimStats {
        self.state.lock().stats
    }

    /// A fingerprint of every delivery so far (virtual time since start, sender, receiver,
    /// kind and payload): equal for equal schedules.
    pub fn trace_digest(&self) -> [u8; 32] {
        self.state.lock().trace.clone().finalize().into()
    }
}

/// The simulated half of a [`Responder`]: answers request `id` through the router.
pub(crate) struct SimResponder {
    id: u64,
    from: PeerId,
    router: mpsc::UnboundedSender<Msg>,
    sent: bool,
}

impl SimResponder {
    pub(crate) fn send(mut self, data: Vec<u8>) {
        self.sent = true;
        let _ = self.router.send(Msg::Respond {
            id: self.id,
            from: self.from,
            data: Some(data),
        });
    }
}

impl Drop for SimResponder {
    fn drop(&mut self) {
        if !self.sent {
            let _ = self.router.send(Msg::Respond {
                id: self.id,
                from: self.from,
                data: None,
            });
        }
    }
}

/// What reaches the router task.
enum Msg {
    Command {
        peer: PeerId,
        incarnation: u64,
        cmd: Command,
    },
    Respond {
        id: u64,
        from: PeerId,
        data: Option<Vec<u8>>,
    },
    Left {
        peer: PeerId,
        incarnation: u64,
    },
    Wake,
}

/// Something due at a node at a virtual time.
enum Delivery {
    Connected(PeerId),
    Disconnected(PeerId),
    Gossip {
        from: PeerId,
        topic: Topic,
        id: GossipId,
        data: Vec<u8>,
    },
    Request {
        from: PeerId,
        id: u64,
        data: Vec<u8>,
    },
    Response {
        id: u64,
        result: Result<Vec<u8>, NetworkError>,
    },
    RequestTimeout {
        id: u64,
    },
}

struct Due {
    to: PeerId,
    incarnation: u64,
    delivery: Delivery,
}

struct Node {
    incarnation: u64,
    events: mpsc::Sender<NetworkEvent>,
    shared: Arc<RwLock<Shared>>,
    topic_names: [String; 3],
    max_response_bytes: usize,
    request_timeout: Duration,
    ban_threshold: i32,
    seen: HashSet<GossipId>,
    seen_order: VecDeque<GossipId>,
    /// Gossip awaiting the application's verdict: id → (topic, payload, who sent it).
    awaiting: HashMap<GossipId, (Topic, Vec<u8>, PeerId)>,
    awaiting_order: VecDeque<GossipId>,
}

impl Node {
    /// Marks `id` seen; false if it was already.
    fn see(&mut self, id: GossipId) -> bool {
        if !self.seen.insert(id) {
            return false;
        }
        self.seen_order.push_back(id);
        if self.seen_order.len() > SEEN_PER_NODE {
            if let Some(old) = self.seen_order.pop_front() {
                self.seen.remove(&old);
            }
        }
        true
    }

    fn banned(&self, peer: &PeerId) -> bool {
        self.shared.read().peers.is_banned(peer)
    }

    fn with_entry<R>(&self, peer: PeerId, f: impl FnOnce(&mut PeerEntry) -> R) -> R {
        f(self.shared.write().peers.entry(peer))
    }
}

/// A pending request: who asked, how to answer, and the incarnation that asked.
struct PendingRequest {
    requester: PeerId,
    responder: PeerId,
    reply: oneshot::Sender<Result<Vec<u8>, NetworkError>>,
    max_response_bytes: usize,
}

struct Router {
    rng: SplitMix64,
    default_link: Link,
    links: HashMap<(PeerId, PeerId), Link>,
    nodes: BTreeMap<PeerId, Node>,
    groups: Option<HashMap<PeerId, usize>>,
    queue: BTreeMap<(Instant, u64), Due>,
    seq: u64,
    /// When the last message on each directed link arrives, to keep links FIFO.
    link_clock: HashMap<(PeerId, PeerId), Instant>,
    requests: BTreeMap<u64, PendingRequest>,
    next_request: u64,
    next_incarnation: u64,
    stats: SimStats,
    trace: Blake2b<U32>,
    epoch: Instant,
    /// The router's own channel, for the responders it makes (weak: the router must stop once
    /// every node and every [`SimNetwork`] is gone).
    myself: mpsc::WeakUnboundedSender<Msg>,
}

impl Router {
    /// Whether `a` and `b` exist, are on the same side of any partition and neither bans the other.
    fn linked(&self, a: PeerId, b: PeerId) -> bool {
        let (Some(na), Some(nb)) = (self.nodes.get(&a), self.nodes.get(&b)) else {
            return false;
        };
        !na.banned(&b) && !nb.banned(&a) && self.same_side(a, b)
    }

    /// Whether `a` has seen `b` connect (or will: a connection on its way counts once it lands).
    fn sees_connected(&self, a: PeerId, b: PeerId) -> bool {
        self.nodes
            .get(&a)
            .is_some_and(|n| n.shared.read().peers.peers.get(&b).is_some_and(|e| e.connections > 0))
            || self
                .queue
                .values()
                .any(|d| d.to == a && matches!(d.delivery, Delivery::Connected(p) if p == b))
    }

    fn same_side(&self, a: PeerId, b: PeerId) -> bool {
        match &self.groups {
            None => true,
            Some(groups) => matches!((groups.get(&a), groups.get(&b)), (Some(x), Some(y)) if x == y),
        }
    }

    fn incarnation(&self, peer: PeerId) -> Option<u64> {
        self.nodes.get(&peer).map(|n| n.incarnation)
    }

    /// Queues `delivery` to `to` over the link from `from`; `lossy` messages may be lost.
    /// Returns false if it was lost.
    fn send(&mut self, from: PeerId, to: PeerId, delivery: Delivery, lossy: bool) -> bool {
        let Some(incarnation) = self.incarnation(to) else {
            return false;
        };
        let link = self.links.get(&(from, to)).copied().unwrap_or(self.default_link);
        if lossy && link.loss > 0.0 && self.rng.unit() < link.loss {
            self.stats.lost += 1;
            return false;
        }
        let jitter = link.jitter.as_nanos() as u64;
        let extra = if jitter == 0 { 0 } else { self.rng.next() % (jitter + 1) };
        let mut at = Instant::now() + link.latency + Duration::from_nanos(extra);
        let clock = self.link_clock.entry((from, to)).or_insert(at);
        at = at.max(*clock);
        *clock = at;
        self.schedule(at, to, incarnation, delivery);
        true
    }

    fn schedule(&mut self, at: Instant, to: PeerId, incarnation: u64, delivery: Delivery) {
        self.seq += 1;
        self.queue.insert(
            (at, self.seq),
            Due {
                to,
                incarnation,
                delivery,
            },
        );
    }

    fn connect(&mut self, a: PeerId, b: PeerId) {
        for (x, y) in [(a, b), (b, a)] {
            self.send(x, y, Delivery::Connected(x), false);
        }
    }

    fn disconnect(&mut self, a: PeerId, b: PeerId) {
        for (x, y) in [(a, b), (b, a)] {
            self.send(x, y, Delivery::Disconnected(x), false);
        }
    }

    /// `peer` leaves: its peers see it disconnect and its requests fail.
    fn remove(&mut self, peer: PeerId) {
        let others: Vec<PeerId> = self.nodes.keys().copied().filter(|p| *p != peer).collect();
        for other in others {
            if self.linked(peer, other) {
                self.send(peer, other, Delivery::Disconnected(peer), false);
            }
        }
        self.nodes.remove(&peer);
        let gone: Vec<u64> = self
            .requests
            .iter()
            .filter(|(_, r)| r.requester == peer || r.responder == peer)
            .map(|(id, _)| *id)
            .collect();
        for id in gone {
            if let Some(r) = self.requests.remove(&id) {
                let _ = r.reply.send(Err(NetworkError::ConnectionClosed));
            }
        }
    }

    fn record(&mut self, from: PeerId, to: PeerId, kind: u8, data: &[u8]) {
        let at = (Instant::now() - self.epoch).as_micros() as u64;
        self.trace.update(at.to_le_bytes());
        self.trace.update(from.to_bytes());
        self.trace.update(to.to_bytes());
        self.trace.update([kind]);
        self.trace.update((data.len() as u64).to_le_bytes());
        self.trace.update(data);
    }

    fn on_command(&mut self, peer: PeerId, incarnation: u64, cmd: Command) {
        if self.incarnation(peer) != Some(incarnation) {
            // A command of a node that was replaced: it no longer exists.
            if let Command::Request { reply, .. } = cmd {
                let _ = reply.send(Err(NetworkError::Shutdown));
            }
            return;
        }
        match cmd {
            Command::Publish { topic, data } => {
                let Some(node) = self.nodes.get_mut(&peer) else { return };
                let id = GossipId::compute(&node.topic_names[topic_index(topic)], &data);
                if node.see(id) {
                    self.gossip(peer, None, topic, id, data);
                }
            }
            Command::Validation { id, from, validation } => {
                let Some(node) = self.nodes.get_mut(&peer) else { return };
                let Some((topic, data, sender)) = node.awaiting.remove(&id) else {
                    return;
                };
                match validation {
                    Validation::Accept => self.gossip(peer, Some(sender), topic, id, data),
                    Validation::Reject if sender == from => {
                        let score = node.with_entry(from, |e| {
                            e.rejected_gossip += 1.0;
                            e.score()
                        });
                        self.check_ban(peer, from, score);
                    }
                    Validation::Reject | Validation::Ignore => {}
                }
            }
            Command::Request { peer: to, data, reply } => self.request(peer, to, data, reply),
            Command::Respond { .. } => {
                // Only the libp2p network makes responders of this kind.
            }
            Command::ReportPeer {
                peer: bad,
                penalty,
                reason,
            } => {
                if bad == peer {
                    return;
                }
                let Some(node) = self.nodes.get(&peer) else { return };
                let score = node.with_entry(bad, |e| {
                    e.app_score = e.app_score.saturating_sub(penalty);
                    e.score()
                });
                tracing::debug!(%peer, %bad, penalty, score, reason, "simulated peer penalised");
                self.check_ban(peer, bad, score);
            }
            Command::Dial { address } => {
                tracing::debug!(%peer, %address, "dial ignored: a simulated network is a full mesh");
            }
        }
    }

    /// Sends gossip `id` from `peer` to every linked node but `except`.
    fn gossip(&mut self, peer: PeerId, except: Option<PeerId>, topic: Topic, id: GossipId, data: Vec<u8>) {
        // In peer-id order (the nodes are a sorted map): the generator's draws depend on it.
        let targets: Vec<PeerId> = self
            .nodes
            .keys()
            .copied()
            .filter(|p| *p != peer && Some(*p) != except)
            .filter(|p| self.linked(peer, *p))
            .collect();
        for to in targets {
            let delivery = Delivery::Gossip {
                from: peer,
                topic,
                id,
                data: data.clone(),
            };
            self.send(peer, to, delivery, true);
        }
    }

    fn request(
        &mut self,
        from: PeerId,
        to: PeerId,
        data: Vec<u8>,
        reply: oneshot::Sender<Result<Vec<u8>, NetworkError>>,
    ) {
        let Some(node) = self.nodes.get(&from) else { return };
        if node.banned(&to) {
            let _ = reply.send(Err(NetworkError::Banned));
            return;
        }
        if !self.linked(from, to) {
            let _ = reply.send(Err(NetworkError::Unreachable));
            return;
        }
        let (timeout, max_response_bytes) = (node.request_timeout, node.max_response_bytes);
        self.next_request += 1;
        let id = self.next_request;
        self.requests.insert(
            id,
            PendingRequest {
                requester: from,
                responder: to,
                reply,
                max_response_bytes,
            },
        );
        let incarnation = node.incarnation;
        self.schedule(
            Instant::now() + timeout,
            from,
            incarnation,
            Delivery::RequestTimeout { id },
        );
        self.send(from, to, Delivery::Request { from, id, data }, true);
    }

    fn on_respond(&mut self, id: u64, from: PeerId, data: Option<Vec<u8>>) {
        let Some(pending) = self.requests.get(&id) else {
            return;
        };
        let requester = pending.requester;
        let result = match data {
            Some(d) if d.len() <= pending.max_response_bytes => Ok(d),
            _ => Err(NetworkError::NoResponse),
        };
        self.send(from, requester, Delivery::Response { id, result }, false);
    }

    fn check_ban(&mut self, observer: PeerId, peer: PeerId, score: i32) {
        let Some(node) = self.nodes.get(&observer) else { return };
        if score >= node.ban_threshold || node.banned(&peer) {
            return;
        }
        let was_linked = self.linked(observer, peer);
        node.with_entry(peer, |e| {
            // Bans do not expire in a simulated run; the instant is for the peer book's display.
            e.banned_until = Some(std::time::Instant::now() + Duration::from_secs(365 * 24 * 3600));
        });
        tracing::debug!(%observer, %peer, score, "simulated peer banned");
        if was_linked {
            self.disconnect(observer, peer);
        }
    }

    /// Delivers everything due by `now`.
    fn deliver_due(&mut self, now: Instant) {
        while let Some(entry) = self.queue.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let due = entry.remove();
            self.deliver(due);
        }
    }

    fn deliver(&mut self, due: Due) {
        let Due {
            to,
            incarnation,
            delivery,
        } = due;
        if self.incarnation(to) != Some(incarnation) {
            if let Delivery::Response { id, .. } | Delivery::RequestTimeout { id } = delivery {
                self.requests.remove(&id);
            }
            return;
        }
        match delivery {
            Delivery::Connected(peer) => {
                if !self.linked(to, peer) {
                    return;
                }
                self.record(peer, to, 0, &[]);
                let node = &self.nodes[&to];
                let was = {
                    let mut shared = node.shared.write();
                    let entry = shared.peers.entry(peer);
                    let was = entry.connections > 0;
                    entry.connections = 1;
                    entry.last_seen = Some(std::time::Instant::now());
                    for t in Topic::ALL {
                        shared.topic_peers.entry(t).or_default().insert(peer);
                    }
                    was
                };
                if !was {
                    self.emit(to, NetworkEvent::PeerConnected(peer), true);
                }
            }
            Delivery::Disconnected(peer) => {
                self.record(peer, to, 1, &[]);
                let node = &self.nodes[&to];
                let was = {
                    let mut shared = node.shared.write();
                    let entry = shared.peers.entry(peer);
                    let was = entry.connections > 0;
                    entry.connections = 0;
                    for t in Topic::ALL {
                        shared.topic_peers.entry(t).or_default().remove(&peer);
                    }
                    was
                };
                if was {
                    self.emit(to, NetworkEvent::PeerDisconnected(peer), true);
                }
            }
            Delivery::Gossip { from, topic, id, data } => {
                if !self.reachable(from, to) {
                    return;
                }
                let Some(node) = self.nodes.get_mut(&to) else { return };
                if !node.see(id) {
                    self.stats.duplicates += 1;
                    return;
                }
                self.record(from, to, 2, &data);
                let Some(node) = self.nodes.get_mut(&to) else { return };
                node.awaiting.insert(id, (topic, data.clone(), from));
                node.awaiting_order.push_back(id);
                if node.awaiting_order.len() > AWAITING_VERDICT {
                    if let Some(old) = node.awaiting_order.pop_front() {
                        node.awaiting.remove(&old);
                    }
                }
                self.emit(to, NetworkEvent::Gossip { topic, from, id, data }, false);
            }
            Delivery::Request { from, id, data } => {
                if !self.reachable(from, to) || !self.requests.contains_key(&id) {
                    return;
                }
                self.record(from, to, 3, &data);
                let Some(router) = self.myself.upgrade() else { return };
                let reply = Responder {
                    inner: ResponderInner::Simulated(SimResponder {
                        id,
                        from: to,
                        router,
                        sent: false,
                    }),
                };
                self.emit(to, NetworkEvent::Request { from, data, reply }, false);
            }
            Delivery::Response { id, result } => {
                let Some(pending) = self.requests.remove(&id) else {
                    return;
                };
                if !self.same_side(pending.responder, to) {
                    self.stats.partitioned += 1;
                    // Lost across the cut: the requester times out.
                    self.requests.insert(id, pending);
                    return;
                }
                match &result {
                    Ok(d) => self.record(pending.responder, to, 4, d),
                    Err(_) => self.record(pending.responder, to, 5, &[]),
                }
                self.stats.delivered += 1;
                let _ = pending.reply.send(result);
            }
            Delivery::RequestTimeout { id } => {
                if let Some(pending) = self.requests.remove(&id) {
                    let _ = pending.reply.send(Err(NetworkError::Timeout));
                }
            }
        }
    }

    /// Whether a message from `from` may still reach `to` (the link may have been cut since it
    /// was sent).
    fn reachable(&mut self, from: PeerId, to: PeerId) -> bool {
        if !self.same_side(from, to) {
            self.stats.partitioned += 1;
            return false;
        }
        self.linked(from, to)
    }

    /// Hands `event` to `to`'s application; `essential` events (connections) are never dropped
    /// for a full queue unless the application stopped taking them at all.
    fn emit(&mut self, to: PeerId, event: NetworkEvent, essential: bool) {
        let Some(node) = self.nodes.get(&to) else { return };
        match node.events.try_send(event) {
            Ok(()) => {
                if !essential {
                    self.stats.delivered += 1;
                }
            }
            Err(mpsc::error::TrySendError::Full(_)) => {
                self.stats.dropped_full += 1;
                if essential {
                    tracing::warn!(%to, "simulated node's event queue full; connection event lost");
                }
            }
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }
}

fn topic_index(topic: Topic) -> usize {
    Topic::ALL.iter().position(|t| *t == topic).unwrap_or(0)
}

/// The router task: applies commands as they come and delivers what is due.
async fn route(state: Arc<Mutex<Router>>, mut rx: mpsc::UnboundedReceiver<Msg>) {
    loop {
        let next = state.lock().queue.first_key_value().map(|((at, _), _)| *at);
        tokio::select! {
            biased;
            msg = rx.recv() => {
                let Some(msg) = msg else { return };
                let mut router = state.lock();
                match msg {
                    Msg::Command { peer, incarnation, cmd } => router.on_command(peer, incarnation, cmd),
                    Msg::Respond { id, from, data } => router.on_respond(id, from, data),
                    Msg::Left { peer, incarnation } => {
                        if router.incarnation(peer) == Some(incarnation) {
                            router.remove(peer);
                        }
                    }
                    Msg::Wake => {}
                }
            }
            _ = sleep_until_or_forever(next) => {
                let now = Instant::now();
                state.lock().deliver_due(now);
            }
        }
    }
}

async fn sleep_until_or_forever(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): a small, fast, seedable generator; the schedule needs
/// reproducibility, not secrecy.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}
