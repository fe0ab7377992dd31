//! A deterministic simulator of many SCP nodes: seeded virtual time, per-link latency and loss,
//! partitions that start and heal, crash and restart, and Byzantine nodes (silent; equivocating:
//! different values to different peers; invalid: proposing values the others reject). Same
//! seed, same run. It checks agreement (no two intact nodes externalize different values for a
//! slot) and liveness, and measures messages and virtual latency per slot.

use crate::ballot::BallotStatement;
use crate::ballot_protocol::BallotDriver;
use crate::nomination::{NominationDriver, Validity, Value};
use crate::quorum::QuorumSet;
use crate::scp::{Envelope, Hash, Scp, ScpConfig, ScpDriver, ScpOutput};
use crate::slot::{Statement, TimerKind};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How a simulated node behaves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behavior {
    /// Follows the protocol.
    Honest,
    /// Sends nothing.
    Silent,
    /// Sends its statements with its value replaced by another one to half of its peers.
    Equivocate,
    /// Proposes values every honest node finds invalid (otherwise follows the protocol).
    Invalid,
}

/// One simulated node.
#[derive(Clone, Debug)]
pub struct NodeSpec {
    /// Name.
    pub id: String,
    /// Quorum set.
    pub qset: QuorumSet<String>,
    /// Behaviour.
    pub behavior: Behavior,
    /// Goes down at this virtual time (ms), if set.
    pub crash_at_ms: Option<u64>,
    /// Comes back at this virtual time (ms), if set, with the state it had persisted.
    pub restart_at_ms: Option<u64>,
    /// Not a validator: follows the network silently.
    pub watcher: bool,
}

impl NodeSpec {
    /// An honest validator that stays up.
    pub fn honest(id: impl Into<String>, qset: QuorumSet<String>) -> Self {
        NodeSpec {
            id: id.into(),
            qset,
            behavior: Behavior::Honest,
            crash_at_ms: None,
            restart_at_ms: None,
            watcher: false,
        }
    }
}

/// The topologies of the simulator tests and benchmarks.
pub mod topology {
    use super::NodeSpec;
    use crate::quorum::QuorumSet;

    fn names(prefix: &str, n: usize) -> Vec<String> {
        (0..n).map(|i| format!("{prefix}{i}")).collect()
    }

    /// `n` nodes `N0..`, each needing `t` of all of them.
    pub fn mesh(n: usize, t: u32) -> Vec<NodeSpec> {
        let ids = names("N", n);
        ids.iter()
            .map(|id| NodeSpec::honest(id, QuorumSet::flat(t, ids.clone())))
            .collect()
    }

    /// A ring: node `i` needs itself and its successor (stellar-core `Topologies::cycle4`,
    /// any size). The only quorum is the whole ring: safe, and live only when all are up.
    pub fn cycle(n: usize) -> Vec<NodeSpec> {
        let ids = names("N", n);
        (0..n)
            .map(|i| {
                NodeSpec::honest(
                    &ids[i],
                    QuorumSet::flat(2, vec![ids[i].clone(), ids[(i + 1) % n].clone()]),
                )
            })
            .collect()
    }

    /// `orgs` organizations of 3 validators `O<o>V<v>` (2 of 3 inside), needing `t` organizations.
    pub fn tiered_qset(orgs: usize, t: u32) -> QuorumSet<String> {
        let org_sets = (0..orgs)
            .map(|o| QuorumSet::flat(2, (0..3).map(|v| format!("O{o}V{v}")).collect()))
            .collect();
        QuorumSet {
            threshold: t,
            validators: vec![],
            inner: org_sets,
        }
    }

    /// Every validator of [`tiered_qset`] with that quorum set.
    pub fn tiered(orgs: usize, t: u32) -> Vec<NodeSpec> {
        let top = tiered_qset(orgs, t);
        top.all_validators()
            .into_iter()
            .map(|id| NodeSpec::honest(id, top.clone()))
            .collect()
    }

    /// A core of `core` validators `N0..` needing `t` of the core, and `watchers` non-validators
    /// `W0..` trusting the core the same way.
    pub fn core_and_watchers(core: usize, t: u32, watchers: usize) -> Vec<NodeSpec> {
        let mut nodes = mesh(core, t);
        let core_qset = QuorumSet::flat(t, names("N", core));
        nodes.extend(names("W", watchers).into_iter().map(|id| NodeSpec {
            watcher: true,
            ..NodeSpec::honest(id, core_qset.clone())
        }));
        nodes
    }

    /// Not everyone trusts alike: A and B need each other and one of C, D; C and D need 3 of
    /// the 4 (the example network).
    pub fn asymmetric() -> Vec<NodeSpec> {
        let ab = QuorumSet {
            threshold: 2,
            validators: vec!["A".to_string(), "B".to_string()],
            inner: vec![QuorumSet::flat(1, vec!["C".to_string(), "D".to_string()])],
        };
        let all = QuorumSet::flat(3, ["A", "B", "C", "D"].iter().map(|s| s.to_string()).collect());
        vec![
            NodeSpec::honest("A", ab.clone()),
            NodeSpec::honest("B", ab),
            NodeSpec::honest("C", all.clone()),
            NodeSpec::honest("D", all),
        ]
    }
}

/// A partition: during [from, to) messages only flow within a group.
#[derive(Clone, Debug)]
pub struct Partition {
    /// Start, ms.
    pub from_ms: u64,
    /// End (heal), ms.
    pub to_ms: u64,
    /// Groups of node names.
    pub groups: Vec<BTreeSet<String>>,
}

/// A simulation.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// RNG seed.
    pub seed: u64,
    /// Slots to run.
    pub slots: u64,
    /// Nodes.
    pub nodes: Vec<NodeSpec>,
    /// One-way latency range, ms.
    pub latency_ms: (u64, u64),
    /// Probability a message is lost.
    pub loss: f64,
    /// Partitions.
    pub partitions: Vec<Partition>,
    /// Stop after this much virtual time.
    pub max_time_ms: u64,
}

/// What a run produced.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// No two intact nodes externalized different values for a slot.
    pub agreement: bool,
    /// Slots externalized by every honest node that is up at the end.
    pub slots_externalized: u64,
    /// Virtual latency per (node, slot) from the slot's start to its externalization, sorted.
    pub latencies_ms: Vec<u64>,
    /// Messages delivered per externalized slot.
    pub messages_per_slot: f64,
    /// Externalized values per node, by slot.
    pub externalized: BTreeMap<String, Vec<Value>>,
    /// Ballot or nomination timers that fired.
    pub timeouts: u64,
    /// Messages each node sent (one per recipient, counted before loss).
    pub sent: BTreeMap<String, u64>,
}

/// SplitMix64: small, seedable, stable across platforms and Rust versions.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            lo
        } else {
            lo + self.next() % (hi - lo + 1)
        }
    }
    fn chance(&mut self, p: f64) -> bool {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64 <= p && p > 0.0
    }
}

/// FNV-1a with a final avalanche (MurmurHash3's fmix64): the simulator's stand-in for the
/// node's blake2 priority hashes. Plain FNV-1a leaves the high bits nearly equal for inputs
/// that differ only in their last bytes (node numbers), and leader eligibility compares
/// whole hashes against weights, so without the avalanche every node would elect only itself.
fn fnv(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in *p {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^ (h >> 33)
}

/// Replaces every value in a statement (an equivocator's second story).
fn twist(st: &Statement, alt: &Value) -> Statement {
    match st {
        Statement::Nominate(n) => Statement::Nominate(crate::nomination::Nominate {
            votes: n.votes.iter().map(|_| alt.clone()).collect(),
            accepted: n.accepted.iter().map(|_| alt.clone()).collect(),
        }),
        Statement::Ballot(b) => Statement::Ballot(match b.clone() {
            BallotStatement::Prepare {
                mut ballot,
                mut prepared,
                n_c,
                n_h,
                ..
            } => {
                ballot.value = alt.clone();
                if let Some(p) = prepared.as_mut() {
                    p.value = alt.clone();
                }
                // p' must be incompatible with p; with a single value there is none.
                BallotStatement::Prepare {
                    ballot,
                    prepared,
                    prepared_prime: None,
                    n_c,
                    n_h,
                }
            }
            BallotStatement::Confirm {
                mut ballot,
                n_prepared,
                n_commit,
                n_h,
            } => {
                ballot.value = alt.clone();
                BallotStatement::Confirm {
                    ballot,
                    n_prepared,
                    n_commit,
                    n_h,
                }
            }
            BallotStatement::Externalize { mut commit, n_h } => {
                commit.value = alt.clone();
                BallotStatement::Externalize { commit, n_h }
            }
        }),
    }
}

/// How the simulator's driver reads a node name: as bytes for hashing and "signing".
pub(crate) trait SimName: Ord + Clone + std::fmt::Debug {
    fn name_bytes(&self) -> Vec<u8>;
    /// Whether `bytes` are the name's bytes (checked for every envelope delivered).
    fn is_named(&self, bytes: &[u8]) -> bool {
        bytes == self.name_bytes()
    }
}

impl SimName for String {
    fn name_bytes(&self) -> Vec<u8> {
        self.as_bytes().to_vec()
    }
}

/// The simulator runs on node numbers (index into the scenario's nodes): cheap to compare
/// and copy, which is most of what the protocol does with names.
pub(crate) type NodeNo = u32;

impl SimName for NodeNo {
    fn name_bytes(&self) -> Vec<u8> {
        self.to_be_bytes().to_vec()
    }
    fn is_named(&self, bytes: &[u8]) -> bool {
        bytes == self.to_be_bytes()
    }
}

/// The simulator's driver: values beginning with `INVALID` are invalid; candidates combine to
/// the largest; a node's "signature" is its name (simulated Byzantine nodes lie about values,
/// never about who they are, so nothing stronger is needed).
pub(crate) struct SimDriver<N> {
    qsets: BTreeMap<Hash, QuorumSet<N>>,
}

impl<N: SimName> SimDriver<N> {
    pub(crate) fn new<'a>(qsets: impl IntoIterator<Item = &'a QuorumSet<N>>) -> Self
    where
        N: 'a,
    {
        SimDriver {
            qsets: qsets.into_iter().map(|q| (qset_hash(q), q.clone())).collect(),
        }
    }
}

/// A stable 32-byte digest of a quorum set (four salted FNV-1a lanes over its debug form).
fn qset_hash<N: std::fmt::Debug>(qset: &QuorumSet<N>) -> Hash {
    let text = format!("{qset:?}");
    let mut out = [0u8; 32];
    for (lane, chunk) in out.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&fnv(&[&[lane as u8], text.as_bytes()]).to_be_bytes());
    }
    out
}

impl<N: SimName> NominationDriver<N> for SimDriver<N> {
    fn validate(&self, _: u64, value: &Value) -> Validity {
        if value.starts_with(b"INVALID") {
            Validity::Invalid
        } else {
            Validity::Valid
        }
    }
    fn combine(&self, _: u64, candidates: &BTreeSet<Value>) -> Value {
        candidates.iter().max().cloned().unwrap_or_default()
    }
    fn hash_node(&self, slot: u64, previous: &Value, priority: bool, round: u32, node: &N) -> u64 {
        fnv(&[
            &slot.to_be_bytes(),
            previous,
            &[priority as u8],
            &round.to_be_bytes(),
            &node.name_bytes(),
        ])
    }
    fn hash_value(&self, slot: u64, previous: &Value, round: u32, value: &Value) -> u64 {
        fnv(&[b"value", &slot.to_be_bytes(), previous, &round.to_be_bytes(), value])
    }
}

impl<N: SimName> BallotDriver for SimDriver<N> {
    fn validate(&self, slot: u64, value: &Value) -> Validity {
        NominationDriver::<N>::validate(self, slot, value)
    }
}

impl<N: SimName> ScpDriver<N> for SimDriver<N> {
    fn sign(&self, envelope: &Envelope<N>) -> Vec<u8> {
        envelope.node.name_bytes()
    }
    fn verify(&self, envelope: &Envelope<N>) -> bool {
        envelope.node.is_named(&envelope.signature)
    }
    fn quorum_set_hash(&self, qset: &QuorumSet<N>) -> Hash {
        qset_hash(qset)
    }
    fn quorum_set(&self, hash: &Hash) -> Option<QuorumSet<N>> {
        self.qsets.get(hash).cloned()
    }
}

/// What travels between simulated nodes.
#[derive(Clone, Debug)]
enum Message {
    Envelope(Envelope<NodeNo>),
    /// "Send me every latest envelope you have from this slot on" (stellar-core
    /// GET_SCP_STATE), sent by a node that sees it is behind or has just restarted.
    GetState {
        from_slot: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    /// Node `to` receives `from`'s message (index into the message store).
    Deliver {
        to: usize,
        from: usize,
        msg: usize,
    },
    /// A timer of `node` fires, valid only if `generation` is still current.
    Timer {
        node: usize,
        slot: u64,
        kind: TimerKind,
        generation: u64,
    },
    /// A node goes down / comes back.
    Crash {
        node: usize,
    },
    Restart {
        node: usize,
    },
    /// Re-send the latest statements of the open slot (as stellar-core's herder does), so a
    /// lost message cannot stall a slot forever; ask for peers' state when they are ahead.
    Rebroadcast {
        node: usize,
    },
}

/// How often a node re-sends its latest statements while its slot is open.
const REBROADCAST_MS: u64 = 2_000;

struct SimNode {
    spec: NodeSpec,
    up: bool,
    scp: Scp<NodeNo>,
    started_at: BTreeMap<u64, u64>,
    externalized: BTreeMap<u64, (Value, u64)>,
    /// The first slot not in `externalized` (asked after every event: kept, not searched).
    next: u64,
    timers: BTreeMap<(u64, TimerKind), u64>,
    /// Its own latest envelopes as written to disk at the crash.
    persisted: Vec<Envelope<NodeNo>>,
}

impl SimNode {
    fn value_for(&self, slot: u64) -> Value {
        let prefix = if self.spec.behavior == Behavior::Invalid {
            "INVALID-"
        } else {
            ""
        };
        format!("{prefix}{}:{slot}", self.spec.id).into_bytes()
    }

    /// The slot after the last one of its ledger (every slot below is final here).
    fn next_slot(&self) -> u64 {
        self.next
    }

    /// Records `slot` as final with `value` at `now` (a slot final already stays as it was).
    fn externalize(&mut self, slot: u64, value: Value, now: u64) {
        self.externalized.entry(slot).or_insert((value, now));
        while self.externalized.contains_key(&self.next) {
            self.next += 1;
        }
    }
}

/// Events by virtual time; at one time, in the order they were scheduled. Many events share
/// a millisecond (a broadcast reaches ~100 peers), so this is cheaper than a heap of all.
#[derive(Default)]
struct Queue {
    by_time: BTreeMap<u64, VecDeque<Event>>,
}

impl Queue {
    fn push(&mut self, at: u64, e: Event) {
        self.by_time.entry(at).or_default().push_back(e);
    }

    /// The earliest event, the first scheduled of its time.
    fn pop(&mut self) -> Option<(u64, Event)> {
        let mut first = self.by_time.first_entry()?;
        let at = *first.key();
        let e = first.get_mut().pop_front();
        if first.get().is_empty() {
            first.remove();
        }
        e.map(|e| (at, e))
    }
}

/// The simulated network: the event queue and what was sent.
struct Net<'a> {
    sc: &'a Scenario,
    rng: Rng,
    queue: Queue,
    messages: Vec<Message>,
    now: u64,
    sent: Vec<u64>,
}

impl Net<'_> {
    fn push(&mut self, at: u64, e: Event) {
        self.queue.push(at, e);
    }

    fn connected(&self, a: &str, b: &str) -> bool {
        let t = self.now;
        self.sc
            .partitions
            .iter()
            .all(|p| t < p.from_ms || t >= p.to_ms || p.groups.iter().any(|g| g.contains(a) && g.contains(b)))
    }

    /// Sends `msg` from `from` to `to` through the lossy, partitioned network.
    fn send(&mut self, from: usize, to: usize, msg: usize) {
        let (a, b) = (&self.sc.nodes[from].id, &self.sc.nodes[to].id);
        if from == to {
            return;
        }
        self.sent[from] += 1;
        if !self.connected(a, b) || self.rng.chance(self.sc.loss) {
            return;
        }
        let at = self.now + self.rng.range(self.sc.latency_ms.0, self.sc.latency_ms.1);
        self.push(at, Event::Deliver { to, from, msg });
    }

    fn store(&mut self, m: Message) -> usize {
        self.messages.push(m);
        self.messages.len() - 1
    }
}

/// Runs a scenario.
pub fn run(sc: &Scenario) -> Outcome {
    // Nodes are numbered in scenario order; names only quorum sets mention come after them.
    let mut index: BTreeMap<String, NodeNo> = BTreeMap::new();
    let mentioned = sc.nodes.iter().flat_map(|n| n.qset.all_validators());
    for name in sc.nodes.iter().map(|n| n.id.clone()).chain(mentioned) {
        let next = index.len() as NodeNo;
        index.entry(name).or_insert(next);
    }
    let qsets: Vec<QuorumSet<NodeNo>> = sc.nodes.iter().map(|n| n.qset.map(&|m| index[m])).collect();
    let driver = SimDriver::new(&qsets);
    let mut nodes: Vec<SimNode> = sc
        .nodes
        .iter()
        .enumerate()
        .map(|(i, spec)| SimNode {
            scp: Scp::new(&driver, i as NodeNo, qsets[i].clone(), config_for(spec), 1),
            spec: spec.clone(),
            up: true,
            started_at: BTreeMap::new(),
            externalized: BTreeMap::new(),
            next: 1,
            timers: BTreeMap::new(),
            persisted: vec![],
        })
        .collect();
    let mut net = Net {
        sc,
        rng: Rng(sc.seed),
        queue: Queue::default(),
        messages: vec![],
        now: 0,
        sent: vec![0; sc.nodes.len()],
    };
    let mut delivered = 0u64;
    let mut timeouts = 0u64;
    let mut generation = 0u64;
    for (i, n) in sc.nodes.iter().enumerate() {
        if let Some(t) = n.crash_at_ms {
            net.push(t, Event::Crash { node: i });
        }
        if let Some(t) = n.restart_at_ms {
            net.push(t, Event::Restart { node: i });
        }
        net.push(REBROADCAST_MS, Event::Rebroadcast { node: i });
    }
    // Start slot 1 everywhere at time 0.
    let mut pending: Vec<(usize, Vec<ScpOutput<NodeNo>>)> = vec![];
    for (i, node) in nodes.iter_mut().enumerate() {
        let fx = start_slot(&driver, node, 1, Vec::new(), 0);
        pending.push((i, fx));
    }
    loop {
        // Apply the outputs produced so far.
        while let Some((i, fx)) = pending.pop() {
            for out in fx {
                let behavior = nodes[i].spec.behavior;
                let silenced = behavior == Behavior::Silent || !nodes[i].up;
                match out {
                    ScpOutput::Broadcast(env) if !silenced => {
                        let alt = (behavior == Behavior::Equivocate).then(|| {
                            let alt_value = format!("{}-twin:{}", nodes[i].spec.id, env.slot).into_bytes();
                            let twin = Envelope {
                                statement: twist(&env.statement, &alt_value),
                                ..env.clone()
                            };
                            net.store(Message::Envelope(twin))
                        });
                        let honest = net.store(Message::Envelope(env));
                        for j in 0..nodes.len() {
                            let msg = match alt {
                                Some(alt) if j % 2 == 1 => alt,
                                _ => honest,
                            };
                            net.send(i, j, msg);
                        }
                    }
                    ScpOutput::SendTo(peer, env) if !silenced => {
                        let msg = net.store(Message::Envelope(env));
                        net.send(i, peer as usize, msg);
                    }
                    ScpOutput::Broadcast(_) | ScpOutput::SendTo(..) => {}
                    ScpOutput::ArmTimer { slot, kind, delay_ms } => {
                        generation += 1;
                        nodes[i].timers.insert((slot, kind), generation);
                        let e = Event::Timer {
                            node: i,
                            slot,
                            kind,
                            generation,
                        };
                        net.push(net.now + delay_ms, e);
                    }
                    ScpOutput::CancelTimer { slot, kind } => {
                        nodes[i].timers.remove(&(slot, kind));
                    }
                    ScpOutput::Externalized { slot, value } => {
                        let n = &mut nodes[i];
                        n.externalize(slot, value, net.now);
                        // Move on, through any later slot that is already final too.
                        let next = n.next_slot();
                        if next <= sc.slots && next > n.scp.current_slot() {
                            let prev = n.externalized[&(next - 1)].0.clone();
                            let fx = start_slot(&driver, n, next, prev, net.now);
                            pending.push((i, fx));
                        }
                    }
                }
            }
        }
        let Some((t, event)) = net.queue.pop() else {
            break;
        };
        if t > sc.max_time_ms {
            break;
        }
        net.now = t;
        let now = t;
        let honest_done = nodes
            .iter()
            .filter(|n| n.spec.behavior == Behavior::Honest)
            .filter(|n| n.up || n.spec.restart_at_ms.is_some_and(|r| r >= now))
            .all(|n| n.up && n.next_slot() > sc.slots);
        if honest_done {
            break;
        }
        match event {
            Event::Deliver { to, from, msg } => {
                if !nodes[to].up {
                    continue;
                }
                delivered += 1;
                match net.messages[msg].clone() {
                    Message::Envelope(env) => {
                        if let Ok((_, fx)) = nodes[to].scp.receive(&driver, env) {
                            pending.push((to, fx));
                        }
                    }
                    Message::GetState { from_slot } => {
                        if nodes[to].spec.behavior == Behavior::Silent {
                            continue;
                        }
                        for env in nodes[to].scp.state_envelopes(from_slot) {
                            let m = net.store(Message::Envelope(env));
                            net.send(to, from, m);
                        }
                    }
                }
            }
            Event::Timer {
                node,
                slot,
                kind,
                generation: g,
            } => {
                let n = &mut nodes[node];
                if !n.up || n.timers.get(&(slot, kind)) != Some(&g) {
                    continue;
                }
                n.timers.remove(&(slot, kind));
                timeouts += 1;
                let fx = n.scp.timeout(&driver, slot, kind);
                pending.push((node, fx));
            }
            Event::Rebroadcast { node } => {
                net.push(now + REBROADCAST_MS, Event::Rebroadcast { node });
                let n = &nodes[node];
                let slot = n.scp.current_slot();
                if !n.up || n.scp.externalized(slot).is_some() {
                    continue;
                }
                let again = n.scp.own_envelopes(slot).into_iter().filter(|e| e.slot == slot);
                pending.push((node, again.map(ScpOutput::Broadcast).collect()));
                if n.scp.lowest_slot_ahead().is_some() {
                    ask_for_state(&mut net, node, slot, nodes.len());
                }
            }
            Event::Crash { node } => {
                let n = &mut nodes[node];
                n.up = false;
                n.timers.clear();
                n.persisted = n.scp.own_envelopes(0);
            }
            Event::Restart { node } => {
                // The node comes back with its ledger and its own last envelopes, so it never
                // contradicts itself; it asks its peers where they are.
                let n = &mut nodes[node];
                n.up = true;
                let next = n.next_slot();
                n.scp = Scp::new(&driver, node as NodeNo, qsets[node].clone(), config_for(&n.spec), next);
                n.scp.restore(std::mem::take(&mut n.persisted));
                if next <= sc.slots {
                    let prev = next
                        .checked_sub(1)
                        .and_then(|p| n.externalized.get(&p))
                        .map(|(v, _)| v.clone())
                        .unwrap_or_default();
                    let fx = start_slot(&driver, n, next, prev, now);
                    pending.push((node, fx));
                }
                ask_for_state(&mut net, node, next, nodes.len());
            }
        }
    }
    let mut out = summarize(sc, &nodes, delivered, timeouts);
    out.sent = sc.nodes.iter().map(|n| n.id.clone()).zip(net.sent).collect();
    out
}

fn config_for(spec: &NodeSpec) -> ScpConfig {
    ScpConfig {
        validator: !spec.watcher,
        ..ScpConfig::default()
    }
}

fn ask_for_state(net: &mut Net, node: usize, from_slot: u64, peers: usize) {
    let m = net.store(Message::GetState { from_slot });
    for j in 0..peers {
        net.send(node, j, m);
    }
}

fn start_slot(
    driver: &SimDriver<NodeNo>,
    n: &mut SimNode,
    slot: u64,
    previous: Value,
    now: u64,
) -> Vec<ScpOutput<NodeNo>> {
    n.started_at.insert(slot, now);
    let value = n.value_for(slot);
    n.scp.nominate(driver, slot, value, previous)
}

fn summarize(sc: &Scenario, nodes: &[SimNode], delivered: u64, timeouts: u64) -> Outcome {
    let intact: Vec<&SimNode> = nodes.iter().filter(|n| n.spec.behavior == Behavior::Honest).collect();
    let mut agreement = true;
    for slot in 1..=sc.slots {
        let values: BTreeSet<&Value> = intact
            .iter()
            .filter_map(|n| n.externalized.get(&slot).map(|(v, _)| v))
            .collect();
        if values.len() > 1 {
            agreement = false;
        }
    }
    let up_honest: Vec<&&SimNode> = intact.iter().filter(|n| n.up).collect();
    let slots_externalized = (1..=sc.slots)
        .filter(|s| !up_honest.is_empty() && up_honest.iter().all(|n| n.externalized.contains_key(s)))
        .count() as u64;
    let mut latencies: Vec<u64> = intact
        .iter()
        .flat_map(|n| {
            n.externalized
                .iter()
                .filter_map(|(s, (_, t))| n.started_at.get(s).map(|start| t.saturating_sub(*start)))
        })
        .collect();
    latencies.sort_unstable();
    Outcome {
        agreement,
        slots_externalized,
        latencies_ms: latencies,
        messages_per_slot: if slots_externalized == 0 {
            delivered as f64
        } else {
            delivered as f64 / slots_externalized as f64
        },
        externalized: nodes
            .iter()
            .map(|n| {
                (
                    n.spec.id.clone(),
                    n.externalized.values().map(|(v, _)| v.clone()).collect(),
                )
            })
            .collect(),
        timeouts,
        sent: BTreeMap::new(),
    }
}

#[cfg(test)]
mod tests;
