//! A deterministic simulator of many SCP nodes: seeded virtual time, per-link latency and loss,
//! partitions that start and heal, crash and restart, and Byzantine nodes (silent; equivocating:
//! different values to different peers; invalid: proposing values the others reject). Same
//! seed, same run. It checks agreement (no two intact nodes externalize different values for a
//! slot) and liveness, and measures messages and virtual latency per slot.

use crate::ballot::BallotStatement;
use crate::ballot_protocol::BallotDriver;
use crate::nomination::{NominationDriver, Validity, Value};
use crate::quorum::QuorumSet;
use crate::slot::{Slot, SlotEffect, Statement, TimerKind};
use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap};

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

/// FNV-1a: the simulator's stand-in for the node's blake2 priority hashes.
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
    h
}

/// The simulator's driver: values beginning with `INVALID` are invalid; candidates combine to
/// the largest.
struct SimDriver;

impl NominationDriver<String> for SimDriver {
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
    fn hash_node(&self, slot: u64, previous: &Value, priority: bool, round: u32, node: &String) -> u64 {
        fnv(&[
            &slot.to_be_bytes(),
            previous,
            &[priority as u8],
            &round.to_be_bytes(),
            node.as_bytes(),
        ])
    }
    fn hash_value(&self, slot: u64, previous: &Value, round: u32, value: &Value) -> u64 {
        fnv(&[b"value", &slot.to_be_bytes(), previous, &round.to_be_bytes(), value])
    }
}

impl BallotDriver for SimDriver {
    fn validate(&self, slot: u64, value: &Value) -> Validity {
        NominationDriver::<String>::validate(self, slot, value)
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Event {
    /// Node `to` receives `from`'s statement for `slot` (index into the message store).
    Deliver {
        to: usize,
        from: usize,
        slot: u64,
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
    /// lost message cannot stall a slot forever.
    Rebroadcast {
        node: usize,
    },
}

/// How often a node re-sends its latest statements while its slot is open.
const REBROADCAST_MS: u64 = 2_000;

struct SimNode {
    spec: NodeSpec,
    up: bool,
    slots: BTreeMap<u64, Slot<String>>,
    current: u64,
    started_at: BTreeMap<u64, u64>,
    externalized: BTreeMap<u64, (Value, u64)>,
    timers: BTreeMap<(u64, TimerKind), u64>,
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

/// Future slots a node keeps messages for; older than the current minus this are dropped.
const SLOT_WINDOW: u64 = 5;

/// Runs a scenario.
pub fn run(sc: &Scenario) -> Outcome {
    let mut rng = Rng(sc.seed);
    let mut nodes: Vec<SimNode> = sc
        .nodes
        .iter()
        .map(|spec| SimNode {
            spec: spec.clone(),
            up: true,
            slots: BTreeMap::new(),
            current: 1,
            started_at: BTreeMap::new(),
            externalized: BTreeMap::new(),
            timers: BTreeMap::new(),
        })
        .collect();
    let mut queue: BinaryHeap<Reverse<(u64, u64, Event)>> = BinaryHeap::new();
    let mut seq = 0u64;
    let mut messages: Vec<Statement> = Vec::new();
    let mut delivered = 0u64;
    let mut timeouts = 0u64;
    let mut generation = 0u64;
    let push = |q: &mut BinaryHeap<Reverse<(u64, u64, Event)>>, seq: &mut u64, t: u64, e: Event| {
        *seq += 1;
        q.push(Reverse((t, *seq, e)));
    };
    for (i, n) in sc.nodes.iter().enumerate() {
        if let Some(t) = n.crash_at_ms {
            push(&mut queue, &mut seq, t, Event::Crash { node: i });
        }
        if let Some(t) = n.restart_at_ms {
            push(&mut queue, &mut seq, t, Event::Restart { node: i });
        }
    }
    let connected = |a: &str, b: &str, t: u64| {
        sc.partitions
            .iter()
            .all(|p| t < p.from_ms || t >= p.to_ms || p.groups.iter().any(|g| g.contains(a) && g.contains(b)))
    };

    for i in 0..sc.nodes.len() {
        push(&mut queue, &mut seq, REBROADCAST_MS, Event::Rebroadcast { node: i });
    }
    // Start slot 1 everywhere at time 0.
    let mut pending: Vec<(usize, Vec<SlotEffect>, u64)> = vec![];
    for (i, node) in nodes.iter_mut().enumerate() {
        let fx = start_slot(node, 1, Vec::new(), 0);
        pending.push((i, fx, 1));
    }
    let mut now = 0u64;
    loop {
        // Apply effects produced so far.
        while let Some((i, fx, slot)) = pending.pop() {
            for e in fx {
                match e {
                    SlotEffect::Emit(st) => {
                        let behavior = nodes[i].spec.behavior;
                        if behavior == Behavior::Silent || !nodes[i].up {
                            continue;
                        }
                        let honest_msg = messages.len();
                        messages.push(st.clone());
                        let alt_msg = if behavior == Behavior::Equivocate {
                            messages.push(twist(&st, &format!("{}-twin:{slot}", nodes[i].spec.id).into_bytes()));
                            Some(messages.len() - 1)
                        } else {
                            None
                        };
                        for j in 0..nodes.len() {
                            if j == i || !connected(&nodes[i].spec.id, &nodes[j].spec.id, now) || rng.chance(sc.loss) {
                                continue;
                            }
                            let msg = match alt_msg {
                                Some(alt) if j % 2 == 1 => alt,
                                _ => honest_msg,
                            };
                            let at = now + rng.range(sc.latency_ms.0, sc.latency_ms.1);
                            push(
                                &mut queue,
                                &mut seq,
                                at,
                                Event::Deliver {
                                    to: j,
                                    from: i,
                                    slot,
                                    msg,
                                },
                            );
                        }
                    }
                    SlotEffect::ArmTimer(kind, delay) => {
                        generation += 1;
                        nodes[i].timers.insert((slot, kind), generation);
                        push(
                            &mut queue,
                            &mut seq,
                            now + delay,
                            Event::Timer {
                                node: i,
                                slot,
                                kind,
                                generation,
                            },
                        );
                    }
                    SlotEffect::CancelTimer(kind) => {
                        nodes[i].timers.remove(&(slot, kind));
                    }
                    SlotEffect::Externalized(v) => {
                        let n = &mut nodes[i];
                        n.externalized.entry(slot).or_insert((v, now));
                        // Move on, through any later slot that is already final too.
                        while n.current < sc.slots {
                            let Some((prev, _)) = n.externalized.get(&n.current).cloned() else {
                                break;
                            };
                            let next = n.current + 1;
                            let fx = start_slot(n, next, prev, now);
                            pending.push((i, fx, next));
                        }
                    }
                }
            }
        }
        let Some(Reverse((t, _, event))) = queue.pop() else {
            break;
        };
        if t > sc.max_time_ms {
            break;
        }
        now = t;
        let honest_done = nodes
            .iter()
            .filter(|n| n.spec.behavior == Behavior::Honest)
            .filter(|n| n.up || n.spec.restart_at_ms.is_some_and(|r| r > now))
            .all(|n| n.up && n.externalized.contains_key(&sc.slots));
        if honest_done {
            break;
        }
        match event {
            Event::Deliver { to, from, slot, msg } => {
                let n = &mut nodes[to];
                if !n.up || slot + SLOT_WINDOW < n.current || slot > n.current + SLOT_WINDOW {
                    continue;
                }
                delivered += 1;
                // A peer still talking about a slot we finished is behind: re-send our EXTERNALIZE.
                let final_statement = n
                    .slots
                    .get(&slot)
                    .filter(|_| n.externalized.contains_key(&slot))
                    .and_then(|s| s.ballot().last_emitted().cloned());
                if let Some(ext) = final_statement {
                    if !matches!(messages[msg], Statement::Ballot(BallotStatement::Externalize { .. })) {
                        messages.push(Statement::Ballot(ext));
                        if connected(&sc.nodes[to].id, &sc.nodes[from].id, now) && !rng.chance(sc.loss) {
                            let at = now + rng.range(sc.latency_ms.0, sc.latency_ms.1);
                            let m = messages.len() - 1;
                            push(
                                &mut queue,
                                &mut seq,
                                at,
                                Event::Deliver {
                                    to: from,
                                    from: to,
                                    slot,
                                    msg: m,
                                },
                            );
                        }
                        continue;
                    }
                }
                let n = &mut nodes[to];
                let from_id = sc.nodes[from].id.clone();
                let qset = sc.nodes[from].qset.clone();
                let slot_state = n
                    .slots
                    .entry(slot)
                    .or_insert_with(|| Slot::new(slot, n.spec.id.clone(), n.spec.qset.clone()));
                let fx = slot_state.receive(&SimDriver, &from_id, messages[msg].clone(), Some(qset));
                pending.push((to, fx, slot));
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
                if let Some(s) = n.slots.get_mut(&slot) {
                    let fx = s.timeout(&SimDriver, kind);
                    pending.push((node, fx, slot));
                }
            }
            Event::Rebroadcast { node } => {
                push(&mut queue, &mut seq, now + REBROADCAST_MS, Event::Rebroadcast { node });
                let n = &nodes[node];
                if !n.up || n.externalized.contains_key(&n.current) {
                    continue;
                }
                if let Some(s) = n.slots.get(&n.current) {
                    let mut again = vec![];
                    if let Some(st) = s.nomination().latest_statement(&n.spec.id) {
                        again.push(SlotEffect::Emit(Statement::Nominate(st.clone())));
                    }
                    if let Some(st) = s.ballot().last_emitted() {
                        again.push(SlotEffect::Emit(Statement::Ballot(st.clone())));
                    }
                    pending.push((node, again, n.current));
                }
            }
            Event::Crash { node } => {
                nodes[node].up = false;
                nodes[node].timers.clear();
            }
            Event::Restart { node } => {
                // The node restarts with the state it persisted; peers re-send the EXTERNALIZE
                // of every slot it has not finished, and its timers restart.
                nodes[node].up = true;
                let behind_from = nodes[node].current;
                for (j, peer) in nodes.iter().enumerate() {
                    if j == node || !peer.up || peer.spec.behavior != Behavior::Honest {
                        continue;
                    }
                    let finals: Vec<(u64, BallotStatement)> = peer
                        .slots
                        .iter()
                        .filter(|(s, _)| **s >= behind_from && peer.externalized.contains_key(s))
                        .filter_map(|(s, slot)| slot.ballot().last_emitted().cloned().map(|st| (*s, st)))
                        .collect();
                    for (s, st) in finals {
                        if !connected(&sc.nodes[j].id, &sc.nodes[node].id, now) {
                            continue;
                        }
                        messages.push(Statement::Ballot(st));
                        let at = now + rng.range(sc.latency_ms.0, sc.latency_ms.1);
                        let m = messages.len() - 1;
                        push(
                            &mut queue,
                            &mut seq,
                            at,
                            Event::Deliver {
                                to: node,
                                from: j,
                                slot: s,
                                msg: m,
                            },
                        );
                    }
                }
                let n = &mut nodes[node];
                let slot = n.current;
                for kind in [TimerKind::Nomination, TimerKind::Ballot] {
                    generation += 1;
                    n.timers.insert((slot, kind), generation);
                    push(
                        &mut queue,
                        &mut seq,
                        now + 1000,
                        Event::Timer {
                            node,
                            slot,
                            kind,
                            generation,
                        },
                    );
                }
            }
        }
    }
    summarize(sc, &nodes, delivered, timeouts)
}

fn start_slot(n: &mut SimNode, slot: u64, previous: Value, now: u64) -> Vec<SlotEffect> {
    n.current = slot;
    n.started_at.insert(slot, now);
    let value = n.value_for(slot);
    let s = n
        .slots
        .entry(slot)
        .or_insert_with(|| Slot::new(slot, n.spec.id.clone(), n.spec.qset.clone()));
    let fx = if s.externalized().is_some() {
        vec![]
    } else {
        s.nominate(&SimDriver, value, previous)
    };
    // Forget slots far behind.
    let keep_from = slot.saturating_sub(SLOT_WINDOW);
    n.slots.retain(|k, _| *k >= keep_from);
    fx
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
    }
}

#[cfg(test)]
mod tests;
