//! The node-facing side of SCP (stellar-core `SCP`, plus the envelope checks its herder does
//! before SCP sees a message): signed envelopes in and out, the sender's quorum set resolved by
//! hash, many slots at once, messages for future slots buffered within a bound, old slots
//! purged, the EXTERNALIZE of a finished slot sent back to peers still working on it, the
//! latest envelopes handed to a peer that asks for the current state, and restoration from the
//! node's own last envelopes after a restart.
//!
//! Like the rest of the crate it does no I/O: the driver signs, verifies, hashes and looks up
//! quorum sets; timers and envelopes come out as [`ScpOutput`]s.

use crate::ballot::BallotStatement;
use crate::nomination::Value;
use crate::quorum::QuorumSet;
use crate::slot::{Slot, SlotDriver, SlotEffect, Statement, TimerKind};
use std::collections::BTreeMap;
use std::sync::Arc;

/// A 32-byte hash (of a quorum set).
pub type Hash = [u8; 32];

/// A signed statement about one slot (SCALE on the wire, fields in this order).
#[derive(Clone, Debug, PartialEq, Eq, parity_scale_codec::Encode, parity_scale_codec::Decode)]
pub struct Envelope<N> {
    /// The slot.
    pub slot: u64,
    /// The sender.
    pub node: N,
    /// Hash of the sender's quorum set (not consulted for EXTERNALIZE, whose slice is the
    /// sender alone).
    pub qset_hash: Hash,
    /// What it says.
    pub statement: Statement,
    /// The sender's signature over everything above (empty while being signed).
    pub signature: Vec<u8>,
}

/// What SCP needs from the node beyond the slot drivers: signatures and quorum sets by hash.
pub trait ScpDriver<N>: SlotDriver<N> {
    /// Signs `envelope` (its `signature` is empty) as the local node.
    fn sign(&self, envelope: &Envelope<N>) -> Vec<u8>;
    /// Whether `envelope.signature` is `envelope.node`'s signature over the rest.
    fn verify(&self, envelope: &Envelope<N>) -> bool;
    /// The hash a quorum set is known by.
    fn quorum_set_hash(&self, qset: &QuorumSet<N>) -> Hash;
    /// The quorum set with this hash, if the node has it (it fetches unknown ones from the
    /// sender and hands the envelope in again).
    fn quorum_set(&self, hash: &Hash) -> Option<QuorumSet<N>>;
}

/// Bounds on what SCP keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ScpConfig {
    /// Envelopes for slots further ahead of the current one are refused (stellar-core
    /// `LEDGER_VALIDITY_BRACKET`).
    pub max_slots_ahead: u64,
    /// At most this many future-slot envelopes are buffered (the newest nomination and ballot
    /// statement per slot and sender).
    pub max_buffered: usize,
    /// Finished slots kept behind the current one, to answer peers that are behind (stellar-core
    /// `MAX_SLOTS_TO_REMEMBER`).
    pub slots_to_keep: u64,
    /// A validator nominates and sends its statements; a watcher (not a validator) runs the
    /// same protocol silently, to learn what the network externalizes.
    pub validator: bool,
}

impl Default for ScpConfig {
    fn default() -> Self {
        ScpConfig {
            max_slots_ahead: 100,
            max_buffered: 10_000,
            slots_to_keep: 12,
            validator: true,
        }
    }
}

/// Why an envelope was refused. Nothing changes when one is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    /// The slot was purged.
    #[error("slot {slot} is no longer kept (oldest kept: {oldest})")]
    TooOld {
        /// Its slot.
        slot: u64,
        /// Oldest slot kept.
        oldest: u64,
    },
    /// The slot is too far ahead.
    #[error("slot {slot} is more than {max_ahead} slots ahead of the current slot {current}")]
    TooFarAhead {
        /// Its slot.
        slot: u64,
        /// The current slot.
        current: u64,
        /// The bound.
        max_ahead: u64,
    },
    /// The signature does not verify.
    #[error("bad signature")]
    BadSignature,
    /// It claims to come from this node (a replay: the node knows its own statements).
    #[error("envelope claims to come from the local node")]
    FromSelf,
    /// The sender's quorum set is not known yet.
    #[error("unknown quorum set {}", hex(.0))]
    UnknownQuorumSet(Hash),
    /// The sender's quorum set breaks the sanity rules.
    #[error("the sender's quorum set is not sane")]
    InsaneQuorumSet,
    /// The future-slot buffer is full.
    #[error("future-slot buffer full ({0} envelopes)")]
    BufferFull(usize),
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

fn is_externalize<N>(env: &Envelope<N>) -> bool {
    matches!(env.statement, Statement::Ballot(BallotStatement::Externalize { .. }))
}

/// What happened to an accepted envelope.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accepted {
    /// Processed by its slot.
    Processed,
    /// Kept until the node reaches its slot.
    Buffered,
}

/// What SCP asks the node to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ScpOutput<N> {
    /// Send to every peer.
    Broadcast(Envelope<N>),
    /// Send to one peer (the EXTERNALIZE of a slot it is still working on).
    SendTo(N, Envelope<N>),
    /// Arm a timer; on expiry call [`Scp::timeout`].
    ArmTimer {
        /// Slot.
        slot: u64,
        /// Which timer.
        kind: TimerKind,
        /// Milliseconds from now.
        delay_ms: u64,
    },
    /// Cancel a timer.
    CancelTimer {
        /// Slot.
        slot: u64,
        /// Which timer.
        kind: TimerKind,
    },
    /// The slot's value is final.
    Externalized {
        /// Slot.
        slot: u64,
        /// Value.
        value: Value,
    },
}

/// The latest nomination and ballot envelope of one node for one slot.
#[derive(Clone, Debug)]
struct Latest<N> {
    nominate: Option<Envelope<N>>,
    ballot: Option<Envelope<N>>,
}

impl<N> Default for Latest<N> {
    fn default() -> Self {
        Latest {
            nominate: None,
            ballot: None,
        }
    }
}

impl<N> Latest<N> {
    /// Keeps `env` if it is newer than what is held; whether it was.
    fn keep_newer(&mut self, env: Envelope<N>) -> bool {
        let (held, newer) = match (&env.statement, &mut *self) {
            (Statement::Nominate(n), Latest { nominate, .. }) => {
                let newer = nominate.as_ref().is_none_or(|old| match &old.statement {
                    Statement::Nominate(o) => n.is_newer_than(o),
                    Statement::Ballot(_) => true,
                });
                (nominate, newer)
            }
            (Statement::Ballot(b), Latest { ballot, .. }) => {
                let newer = ballot.as_ref().is_none_or(|old| match &old.statement {
                    Statement::Ballot(o) => b.is_newer_than(o),
                    Statement::Nominate(_) => true,
                });
                (ballot, newer)
            }
        };
        if newer {
            *held = Some(env);
        }
        newer
    }

    fn iter(&self) -> impl Iterator<Item = &Envelope<N>> {
        self.nominate.iter().chain(self.ballot.iter())
    }
}

/// What signs a peer's envelope: all of it but the statement and where it came from.
#[derive(Clone, Debug)]
struct Seal {
    qset_hash: Hash,
    signature: Vec<u8>,
}

/// The seals of a peer's latest nomination and ballot envelope of one slot.
#[derive(Clone, Debug, Default)]
struct Seals {
    nominate: Option<Seal>,
    ballot: Option<Seal>,
}

struct SlotState<N> {
    slot: Slot<N>,
    /// Our own latest envelopes.
    own: Latest<N>,
    /// Each peer's latest envelopes, to hand to peers that ask, without their statements: those
    /// are the statements the slot holds for the peer (the slot takes a peer's statement here
    /// only, in [`Scp::process`], which then keeps its seal), so they are not kept twice.
    peers: BTreeMap<N, Seals>,
}

impl<N: Ord + Clone + std::fmt::Debug> SlotState<N> {
    /// `node`'s latest envelopes, nomination first.
    fn envelopes_of(&self, slot: u64, node: &N, seals: &Seals) -> impl Iterator<Item = Envelope<N>> {
        let envelope = |seal: &Seal, statement: Statement| Envelope {
            slot,
            node: node.clone(),
            qset_hash: seal.qset_hash,
            statement,
            signature: seal.signature.clone(),
        };
        let nominate = seals.nominate.as_ref().and_then(|seal| {
            let st = self.slot.nomination().latest_statement(node)?;
            Some(envelope(seal, Statement::Nominate(st.clone())))
        });
        let ballot = seals.ballot.as_ref().and_then(|seal| {
            let st = self.slot.ballot().latest_statement(node)?;
            Some(envelope(seal, Statement::Ballot(st.clone())))
        });
        nominate.into_iter().chain(ballot)
    }

    /// Every node's latest envelopes (ours included), by node.
    fn envelopes(&self, slot: u64, local: &N) -> Vec<Envelope<N>> {
        use std::ops::Bound::{Excluded, Unbounded};
        let mut out = vec![];
        for (node, seals) in self.peers.range::<N, _>((Unbounded, Excluded(local))) {
            out.extend(self.envelopes_of(slot, node, seals));
        }
        out.extend(self.own.iter().cloned());
        for (node, seals) in self.peers.range::<N, _>((Excluded(local), Unbounded)) {
            out.extend(self.envelopes_of(slot, node, seals));
        }
        out
    }
}

/// SCP at one node: all the slots it works on.
pub struct Scp<N> {
    local: N,
    qset: Arc<QuorumSet<N>>,
    qset_hash: Hash,
    config: ScpConfig,
    slots: BTreeMap<u64, SlotState<N>>,
    /// The slot the node works on; later slots are buffered.
    current: u64,
    /// Slots below this were purged.
    oldest: u64,
    future: BTreeMap<u64, BTreeMap<N, Latest<N>>>,
    buffered: usize,
    /// Sane quorum sets by hash, shared by every statement that names them (checked once).
    known_qsets: BTreeMap<Hash, Arc<QuorumSet<N>>>,
}

/// Quorum sets remembered by hash before the cache starts over (each is the driver's to give
/// again).
const KNOWN_QSETS: usize = 1024;

impl<N: Ord + Clone + std::fmt::Debug> Scp<N> {
    /// SCP for `local` with quorum set `qset`, starting at slot `first_slot`.
    pub fn new(driver: &impl ScpDriver<N>, local: N, qset: QuorumSet<N>, config: ScpConfig, first_slot: u64) -> Self {
        Scp {
            qset_hash: driver.quorum_set_hash(&qset),
            local,
            qset: Arc::new(qset),
            config,
            slots: BTreeMap::new(),
            current: first_slot,
            oldest: first_slot,
            future: BTreeMap::new(),
            buffered: 0,
            known_qsets: BTreeMap::new(),
        }
    }

    /// The slot the node works on.
    pub fn current_slot(&self) -> u64 {
        self.current
    }

    /// The value of `slot`, if it is final here (and still kept).
    pub fn externalized(&self, slot: u64) -> Option<&Value> {
        self.slots.get(&slot).and_then(|s| s.slot.externalized())
    }

    /// The slot state (for inspection).
    pub fn slot(&self, slot: u64) -> Option<&Slot<N>> {
        self.slots.get(&slot).map(|s| &s.slot)
    }

    /// Future-slot envelopes held.
    pub fn buffered(&self) -> usize {
        self.buffered
    }

    /// The lowest slot ahead of the current one that peers have sent envelopes for: evidence
    /// that the node is behind and should ask peers for their state.
    pub fn lowest_slot_ahead(&self) -> Option<u64> {
        self.future.keys().next().copied()
    }

    /// Moves to `slot` (nothing happens for slots not ahead of the current one): purges slots
    /// too far behind and processes the envelopes buffered for slots up to it. A validator
    /// calls [`Scp::nominate`], which does this; a watcher calls it when it moves on.
    pub fn start_slot(&mut self, driver: &impl ScpDriver<N>, slot: u64) -> Vec<ScpOutput<N>> {
        if slot <= self.current {
            return vec![];
        }
        self.current = slot;
        self.purge_below(slot.saturating_sub(self.config.slots_to_keep));
        let mut out = vec![];
        let ready: Vec<u64> = self.future.range(..=slot).map(|(s, _)| *s).collect();
        for s in ready {
            let Some(by_node) = self.future.remove(&s) else {
                continue;
            };
            for latest in by_node.into_values() {
                for env in latest.nominate.into_iter().chain(latest.ballot) {
                    self.buffered -= 1;
                    // Checked when buffered; the driver could only have forgotten the
                    // sender's quorum set since, and then the envelope is dropped.
                    if let Ok(qset) = self.sender_qset(driver, &env) {
                        self.process(driver, env, qset, &mut out);
                    }
                }
            }
        }
        out
    }

    /// Proposes `value` for `slot` on top of the previous slot's value, moving to `slot` (a
    /// watcher only moves).
    pub fn nominate(
        &mut self,
        driver: &impl ScpDriver<N>,
        slot: u64,
        value: Value,
        previous: Value,
    ) -> Vec<ScpOutput<N>> {
        let mut out = self.start_slot(driver, slot);
        if slot < self.oldest || !self.config.validator {
            return out;
        }
        let state = self.slot_state(slot);
        if state.slot.externalized().is_none() {
            let fx = state.slot.nominate(driver, value, previous);
            self.apply(driver, slot, fx, &mut out);
        }
        out
    }

    /// A timer fired.
    pub fn timeout(&mut self, driver: &impl ScpDriver<N>, slot: u64, kind: TimerKind) -> Vec<ScpOutput<N>> {
        let mut out = vec![];
        if let Some(state) = self.slots.get_mut(&slot) {
            let fx = state.slot.timeout(driver, kind);
            self.apply(driver, slot, fx, &mut out);
        }
        out
    }

    /// Takes a peer's envelope.
    pub fn receive(
        &mut self,
        driver: &impl ScpDriver<N>,
        env: Envelope<N>,
    ) -> Result<(Accepted, Vec<ScpOutput<N>>), EnvelopeError> {
        if env.slot < self.oldest {
            return Err(EnvelopeError::TooOld {
                slot: env.slot,
                oldest: self.oldest,
            });
        }
        if env.slot > self.current.saturating_add(self.config.max_slots_ahead) {
            return Err(EnvelopeError::TooFarAhead {
                slot: env.slot,
                current: self.current,
                max_ahead: self.config.max_slots_ahead,
            });
        }
        if env.node == self.local {
            return Err(EnvelopeError::FromSelf);
        }
        if !driver.verify(&env) {
            return Err(EnvelopeError::BadSignature);
        }
        let qset = self.sender_qset(driver, &env)?;
        if env.slot > self.current {
            let by_node = self.future.entry(env.slot).or_default();
            let fresh = !by_node.contains_key(&env.node);
            let latest = by_node.entry(env.node.clone()).or_default();
            let occupied = match env.statement {
                Statement::Nominate(_) => latest.nominate.is_some(),
                Statement::Ballot(_) => latest.ballot.is_some(),
            };
            if !occupied && self.buffered >= self.config.max_buffered {
                if fresh {
                    by_node.remove(&env.node);
                }
                return Err(EnvelopeError::BufferFull(self.buffered));
            }
            if latest.keep_newer(env) && !occupied {
                self.buffered += 1;
            }
            return Ok((Accepted::Buffered, vec![]));
        }
        let mut out = vec![];
        self.process(driver, env, qset, &mut out);
        Ok((Accepted::Processed, out))
    }

    /// Runs a checked envelope through its slot; `qset` is its sender's quorum set
    /// ([`Scp::sender_qset`]).
    fn process(
        &mut self,
        driver: &impl ScpDriver<N>,
        env: Envelope<N>,
        qset: Option<Arc<QuorumSet<N>>>,
        out: &mut Vec<ScpOutput<N>>,
    ) {
        let is_externalize = is_externalize(&env);
        let slot = env.slot;
        let state = self.slot_state(slot);
        if state.slot.externalized().is_some() && !is_externalize {
            // The sender is behind: send it our EXTERNALIZE, which finishes the slot for it.
            if let Some(ours) = state.own.ballot.clone() {
                out.push(ScpOutput::SendTo(env.node.clone(), ours));
            }
        }
        let Envelope {
            node,
            qset_hash,
            statement,
            signature,
            ..
        } = env;
        let nominate = matches!(statement, Statement::Nominate(_));
        let (fx, taken) = state.slot.receive_taken(driver, &node, statement, qset);
        // Only what the slot took (sane, valid, newer) is handed on to peers that ask.
        if taken {
            let seals = state.peers.entry(node).or_default();
            let seal = Some(Seal { qset_hash, signature });
            if nominate {
                seals.nominate = seal;
            } else {
                seals.ballot = seal;
            }
        }
        self.apply(driver, slot, fx, out);
    }

    /// The sender's quorum set, checked.
    fn sender_qset(
        &mut self,
        driver: &impl ScpDriver<N>,
        env: &Envelope<N>,
    ) -> Result<Option<Arc<QuorumSet<N>>>, EnvelopeError> {
        if let Some(q) = self.known_qsets.get(&env.qset_hash) {
            return Ok(Some(q.clone()));
        }
        match driver.quorum_set(&env.qset_hash) {
            Some(q) if !q.problems().is_empty() => Err(EnvelopeError::InsaneQuorumSet),
            Some(q) => {
                if self.known_qsets.len() >= KNOWN_QSETS {
                    self.known_qsets.clear();
                }
                let q = Arc::new(q);
                self.known_qsets.insert(env.qset_hash, q.clone());
                Ok(Some(q))
            }
            // The slice of a node that externalized is itself; its quorum set is not needed.
            None if is_externalize(env) => Ok(None),
            None => Err(EnvelopeError::UnknownQuorumSet(env.qset_hash)),
        }
    }

    fn slot_state(&mut self, slot: u64) -> &mut SlotState<N> {
        let (local, qset) = (&self.local, &self.qset);
        self.slots.entry(slot).or_insert_with(|| SlotState {
            slot: Slot::new(slot, local.clone(), qset.clone()),
            own: Latest::default(),
            peers: BTreeMap::new(),
        })
    }

    /// Turns a slot's effects into outputs, signing what it emits.
    fn apply(&mut self, driver: &impl ScpDriver<N>, slot: u64, fx: Vec<SlotEffect>, out: &mut Vec<ScpOutput<N>>) {
        for e in fx {
            match e {
                SlotEffect::Emit(_) if !self.config.validator => {}
                SlotEffect::Emit(statement) => {
                    let mut env = Envelope {
                        slot,
                        node: self.local.clone(),
                        qset_hash: self.qset_hash,
                        statement,
                        signature: vec![],
                    };
                    env.signature = driver.sign(&env);
                    if let Some(state) = self.slots.get_mut(&slot) {
                        state.own.keep_newer(env.clone());
                    }
                    out.push(ScpOutput::Broadcast(env));
                }
                SlotEffect::ArmTimer(kind, delay_ms) => out.push(ScpOutput::ArmTimer { slot, kind, delay_ms }),
                SlotEffect::CancelTimer(kind) => out.push(ScpOutput::CancelTimer { slot, kind }),
                SlotEffect::Externalized(value) => out.push(ScpOutput::Externalized { slot, value }),
            }
        }
    }

    /// Forgets every slot below `slot` (and buffered envelopes for them).
    pub fn purge_below(&mut self, slot: u64) {
        if slot <= self.oldest {
            return;
        }
        self.oldest = slot;
        self.slots = self.slots.split_off(&slot);
        let dropped: Vec<u64> = self.future.range(..slot).map(|(s, _)| *s).collect();
        for s in dropped {
            if let Some(by_node) = self.future.remove(&s) {
                self.buffered -= by_node.values().map(|l| l.iter().count()).sum::<usize>();
            }
        }
    }

    /// Our own latest envelopes for slots from `from_slot` on: what the node persists (and
    /// restores with [`Scp::restore`]) and re-sends while a slot is open.
    pub fn own_envelopes(&self, from_slot: u64) -> Vec<Envelope<N>> {
        self.slots
            .range(from_slot..)
            .flat_map(|(_, s)| s.own.iter().cloned())
            .collect()
    }

    /// Every node's latest envelopes for slots from `from_slot` on (stellar-core
    /// `processCurrentState`): the answer to a peer that asks for the current state. They are
    /// signed by their senders, so relaying them is safe.
    pub fn state_envelopes(&self, from_slot: u64) -> Vec<Envelope<N>> {
        self.slots
            .range(from_slot..)
            .flat_map(|(slot, s)| s.envelopes(*slot, &self.local))
            .collect()
    }

    /// After a restart: takes back the node's own last envelopes, so that nothing it says from
    /// now on contradicts them. Envelopes from other nodes, with a foreign quorum-set hash, for
    /// slots already started or below the oldest kept are skipped; returns how many were taken.
    /// The current slot becomes the highest restored one.
    pub fn restore(&mut self, envelopes: impl IntoIterator<Item = Envelope<N>>) -> usize {
        let mut taken = 0;
        for env in envelopes {
            if env.node != self.local || env.qset_hash != self.qset_hash || env.slot < self.oldest {
                continue;
            }
            let slot = env.slot;
            let state = self.slot_state(slot);
            if state.slot.restore(env.statement.clone()) {
                state.own.keep_newer(env);
                self.current = self.current.max(slot);
                taken += 1;
            }
        }
        taken
    }
}

#[cfg(test)]
mod tests;
