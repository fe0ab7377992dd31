//! The nomination protocol of one slot (draft-mazieres-dinrg-scp §5; stellar-core
//! `NominationProtocol`), as a pure state machine: inputs are the local nomination request,
//! peers' statements and timeouts; outputs ([`NominationEffect`]) are statements to send,
//! timers to arm, and new composite candidates for the ballot protocol.
//!
//! Rules implemented:
//! - Round leaders (§5.1): a node's weight in the local quorum set is the product of
//!   `threshold / entries` down its path; a node is a neighbour in round r when
//!   `H(N, r, node) <= weight`, and the neighbours with the highest `H(P, r, node)` lead. Leaders
//!   accumulate across rounds, and a round that adds no new leader is skipped (stellar-core v19).
//!   Unlike stellar-core, the local node is weighed as its peers weigh it (`own_weight`), so
//!   nodes sharing a quorum set agree on every round's leaders.
//! - Votes: a leader votes for its own value; a node echoes the best new value (highest
//!   `H(value)`) from each leader's latest statement while it has no candidate.
//! - Accept (§3.2 federated voting): a value voted or accepted by a quorum, or accepted by a
//!   v-blocking set, is accepted (if valid). Confirm: a value accepted by a quorum becomes a
//!   candidate; candidates are combined by the driver into the composite value.
//! - Only newer statements count: a node's statement replaces its previous one only if its vote
//!   and accept sets are supersets, one strictly.
//! - The round timer grows with the round; nomination stops once told to (when the ballot
//!   protocol confirms a ballot prepared).

use crate::federated::table::{Judge, NodeBits, Table};
use crate::quorum::QuorumSet;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// An opaque consensus value (the node agrees on a tx-set hash, close time, ...).
pub type Value = Vec<u8>;

/// What the driver says of a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// Never acceptable.
    Invalid,
    /// Cannot be fully checked (e.g. a tx set not yet downloaded): may be voted, not accepted.
    MaybeValid,
    /// Fully valid.
    Valid,
}

/// The environment nomination needs: validity, combination, and the hashes of §5.1.
pub trait NominationDriver<N> {
    /// Validity of a value for this slot.
    fn validate(&self, slot: u64, value: &Value) -> Validity;
    /// Deterministically combines the confirmed candidates into one value.
    fn combine(&self, slot: u64, candidates: &BTreeSet<Value>) -> Value;
    /// `H(N or P, slot, previous value, round, node)` as a u64.
    fn hash_node(&self, slot: u64, previous: &Value, priority: bool, round: u32, node: &N) -> u64;
    /// `H(K, slot, previous value, round, value)` as a u64.
    fn hash_value(&self, slot: u64, previous: &Value, round: u32, value: &Value) -> u64;
    /// How long round `round` lasts before the next one starts, in milliseconds.
    fn round_timeout_ms(&self, round: u32) -> u64 {
        // stellar-core: one more second per round, capped (30 min).
        1000 * (round as u64).min(1800)
    }
}

/// A NOMINATE statement.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Default, parity_scale_codec::Encode, parity_scale_codec::Decode,
)]
pub struct Nominate {
    /// Values voted for.
    pub votes: BTreeSet<Value>,
    /// Values accepted.
    pub accepted: BTreeSet<Value>,
}

impl Nominate {
    fn is_sane(&self) -> bool {
        !(self.votes.is_empty() && self.accepted.is_empty())
    }

    /// Whether `self` may replace `old`: supersets on both sets, one strictly.
    pub fn is_newer_than(&self, old: &Nominate) -> bool {
        self.votes.is_superset(&old.votes)
            && self.accepted.is_superset(&old.accepted)
            && (self.votes.len() > old.votes.len() || self.accepted.len() > old.accepted.len())
    }
}

/// What nomination asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NominationEffect {
    /// Send this statement to peers.
    Emit(Nominate),
    /// (Re)arm the nomination timer; on expiry call [`Nomination::timeout`].
    ArmTimer {
        /// Milliseconds from now.
        delay_ms: u64,
    },
    /// A new composite candidate, for the ballot protocol to bump to.
    Composite(Value),
}

/// Nomination state of one slot.
#[derive(Clone, Debug)]
pub struct Nomination<N> {
    slot: u64,
    local: N,
    qset: Arc<QuorumSet<N>>,
    round: u32,
    started: bool,
    stopped: bool,
    own_value: Option<Value>,
    previous: Value,
    votes: BTreeSet<Value>,
    accepted: BTreeSet<Value>,
    candidates: BTreeSet<Value>,
    leaders: BTreeSet<N>,
    /// Each node's latest statement with its quorum set.
    latest: Table<N, Nominate>,
    /// For each value some statement names: the nodes whose latest statement votes for it and
    /// those whose latest statement accepts it (kept as statements arrive, so that a federated
    /// check does not look through every statement).
    support: BTreeMap<Value, Support>,
    last_emitted: Option<Nominate>,
    composite: Option<Value>,
}

/// The nodes whose latest statement votes for, and accepts, one value.
#[derive(Clone, Debug, Default)]
struct Support {
    voted: NodeBits,
    accepted: NodeBits,
}

/// `floor(x * n / d)` without overflow.
fn big_divide(x: u64, n: u64, d: u64) -> u64 {
    ((x as u128 * n as u128) / d as u128) as u64
}

/// A node's weight in `qset` as a fraction of `u64::MAX` (stellar-core `getNodeWeight`).
pub fn node_weight<N: Ord + Clone + std::fmt::Debug>(node: &N, qset: &QuorumSet<N>) -> u64 {
    let n = qset.threshold as u64;
    let d = (qset.validators.len() + qset.inner.len()) as u64;
    if d == 0 {
        return 0;
    }
    if qset.validators.contains(node) {
        return big_divide(u64::MAX, n, d);
    }
    for inner in &qset.inner {
        let w = node_weight(node, inner);
        if w > 0 {
            return big_divide(w, n, d);
        }
    }
    0
}

impl<N: Ord + Clone + std::fmt::Debug> Nomination<N> {
    /// Nomination for `slot` by `local` with quorum set `qset`.
    pub fn new(slot: u64, local: N, qset: impl Into<Arc<QuorumSet<N>>>) -> Self {
        let qset = qset.into();
        Nomination {
            slot,
            local,
            latest: Table::new(&qset),
            support: BTreeMap::new(),
            qset,
            round: 0,
            started: false,
            stopped: false,
            own_value: None,
            previous: Value::new(),
            votes: BTreeSet::new(),
            accepted: BTreeSet::new(),
            candidates: BTreeSet::new(),
            leaders: BTreeSet::new(),
            last_emitted: None,
            composite: None,
        }
    }

    /// The current round (0 before nomination starts).
    pub fn round(&self) -> u32 {
        self.round
    }
    /// Accumulated round leaders.
    pub fn leaders(&self) -> &BTreeSet<N> {
        &self.leaders
    }
    /// Values voted for.
    pub fn votes(&self) -> &BTreeSet<Value> {
        &self.votes
    }
    /// Values accepted.
    pub fn accepted(&self) -> &BTreeSet<Value> {
        &self.accepted
    }
    /// Confirmed candidates.
    pub fn candidates(&self) -> &BTreeSet<Value> {
        &self.candidates
    }
    /// The latest composite candidate.
    pub fn composite(&self) -> Option<&Value> {
        self.composite.as_ref()
    }
    /// A node's latest statement (the local one included).
    pub fn latest_statement(&self, node: &N) -> Option<&Nominate> {
        self.latest.get(node)
    }

    fn priority(&self, driver: &impl NominationDriver<N>, node: &N, qset: &QuorumSet<N>, own_weight: u64) -> u64 {
        let weight = if *node == self.local {
            own_weight
        } else {
            node_weight(node, qset)
        };
        if weight > 0 && driver.hash_node(self.slot, &self.previous, false, self.round, node) <= weight {
            driver.hash_node(self.slot, &self.previous, true, self.round, node)
        } else {
            0
        }
    }

    /// The local node's weight in leader selection: the weight a peer with the same quorum set
    /// gives it (the highest over the set's other validators `v` of its weight in the set read
    /// by `v`, that is without `v`).
    ///
    /// stellar-core gives the local node the full weight instead, while it reads every other
    /// node in its quorum set without itself (`normalizeQSet`): in a 3-of-4 network each node
    /// weighs the others 2/3 and itself 1, so whenever the round's top-priority node fails
    /// its neighbour check in the others' eyes, it leads for itself alone while the others
    /// follow another leader, no value gathers a quorum of votes, and the slot waits a second
    /// for round 2 (7–17 % of slots on the 4-validator testnet, BENCHMARKS.md "Many
    /// validators"). Weighed as its peers weigh it, nodes that share a quorum set pick the
    /// same leaders. Leader choice decides only how fast nomination converges, never what is
    /// safe (draft-mazieres-dinrg-scp §5.1), so the change costs no safety. A node missing
    /// from its own quorum set keeps the full weight (it would otherwise never lead).
    fn own_weight(&self) -> u64 {
        self.qset
            .all_validators()
            .iter()
            .filter(|v| **v != self.local)
            .map(|v| node_weight(&self.local, &self.qset.without(v)))
            .max()
            .filter(|w| *w > 0)
            .unwrap_or(u64::MAX)
    }

    /// Adds this round's top-priority nodes to the leaders; whether any was new.
    fn update_leaders(&mut self, driver: &impl NominationDriver<N>) -> bool {
        // Others are read in the local quorum set without the local node (stellar-core
        // normalizeQSet); the local node as its peers read it.
        let qset = self.qset.without(&self.local);
        let own_weight = self.own_weight();
        let mut top = 0u64;
        let mut best: BTreeSet<N> = BTreeSet::new();
        let mut consider = |node: &N, p: u64| {
            if p > top {
                top = p;
                best.clear();
            }
            if p == top && p > 0 {
                best.insert(node.clone());
            }
        };
        consider(&self.local, self.priority(driver, &self.local, &qset, own_weight));
        for node in qset.all_validators() {
            let p = self.priority(driver, &node, &qset, own_weight);
            consider(&node, p);
        }
        let before = self.leaders.len();
        self.leaders.extend(best);
        self.leaders.len() > before
    }

    /// The best value of `st` (accepted first, else votes) not yet voted, by value hash.
    fn new_value_from(&self, driver: &impl NominationDriver<N>, st: &Nominate) -> Option<Value> {
        let pick = |set: &BTreeSet<Value>| {
            set.iter()
                .filter(|v| !self.votes.contains(*v) && driver.validate(self.slot, v) != Validity::Invalid)
                .max_by_key(|v| driver.hash_value(self.slot, &self.previous, self.round, v))
                .cloned()
        };
        pick(&st.accepted).or_else(|| pick(&st.votes))
    }

    /// Starts (or, with `timed_out`, advances) nomination of `value` on top of `previous`.
    pub fn nominate(
        &mut self,
        driver: &impl NominationDriver<N>,
        value: Value,
        previous: Value,
    ) -> Vec<NominationEffect> {
        if self.stopped || !self.candidates.is_empty() {
            return vec![];
        }
        self.started = true;
        self.own_value = Some(value);
        self.previous = previous;
        self.next_round(driver)
    }

    /// The nomination timer fired: move to the next round.
    pub fn timeout(&mut self, driver: &impl NominationDriver<N>) -> Vec<NominationEffect> {
        if !self.started || self.stopped || !self.candidates.is_empty() {
            return vec![];
        }
        self.next_round(driver)
    }

    fn next_round(&mut self, driver: &impl NominationDriver<N>) -> Vec<NominationEffect> {
        // Skip rounds that add no new leader, but never more than there are nodes to lead:
        // once every node has led, each timeout is simply the next round.
        let max_skip = self.qset.all_validators().len() + 1;
        for _ in 0..max_skip {
            self.round += 1;
            if self.update_leaders(driver) {
                break;
            }
        }
        let mut updated = false;
        if self.leaders.contains(&self.local) {
            if let Some(v) = self.own_value.clone() {
                updated |= self.votes.insert(v);
            }
        }
        let leaders: Vec<N> = self.leaders.iter().cloned().collect();
        for leader in leaders {
            if let Some(st) = self.latest.get(&leader) {
                if let Some(v) = self.new_value_from(driver, st) {
                    updated |= self.votes.insert(v);
                }
            }
        }
        let mut effects = vec![NominationEffect::ArmTimer {
            delay_ms: driver.round_timeout_ms(self.round),
        }];
        if updated {
            self.emit(driver, &mut effects);
        }
        effects
    }

    /// Restores the local state from the node's own last emitted statement after a restart, so
    /// that everything it emits from now on is a superset of what it already said.
    pub fn restore(&mut self, own_last: Nominate) {
        self.votes.extend(own_last.votes.iter().cloned());
        self.accepted.extend(own_last.accepted.iter().cloned());
        let (local, qset) = (self.local.clone(), self.qset.clone());
        let n = self.latest.number_of(&local);
        self.hold(&local, n, own_last.clone(), Some(qset), false);
        self.last_emitted = Some(own_last);
        self.started = true;
    }

    /// Stops nomination (the ballot protocol confirmed a ballot prepared).
    pub fn stop(&mut self) {
        self.stopped = true;
    }

    fn emit(&mut self, driver: &impl NominationDriver<N>, effects: &mut Vec<NominationEffect>) {
        let st = Nominate {
            votes: self.votes.clone(),
            accepted: self.accepted.clone(),
        };
        if !st.is_sane() {
            return;
        }
        if self.last_emitted.as_ref().is_some_and(|last| !st.is_newer_than(last)) {
            return;
        }
        self.last_emitted = Some(st.clone());
        effects.push(NominationEffect::Emit(st.clone()));
        // Our own statement counts like anyone's.
        let (local, qset) = (self.local.clone(), self.qset.clone());
        effects.extend(self.receive(driver, &local, st, Some(qset)));
    }

    /// Makes `st` `from`'s latest statement. With `newer`, it is newer than the one it
    /// replaces, which names no value it does not ([`Nominate::is_newer_than`]): support only
    /// grows. Otherwise (a restored statement) the old one's support is taken back first.
    /// `n` is `from`'s number if it has one; returns it.
    fn hold(&mut self, from: &N, n: Option<u32>, st: Nominate, qset: Option<Arc<QuorumSet<N>>>, newer: bool) -> u32 {
        let judge = match qset {
            Some(q) => Judge::Qset(q),
            None => Judge::Unknown,
        };
        let n = n.unwrap_or_else(|| self.latest.number(from));
        if !newer {
            if let Some(old) = self.latest.get_at(n) {
                for v in &old.votes {
                    if let Some(s) = self.support.get_mut(v) {
                        s.voted.remove(n);
                    }
                }
                for v in &old.accepted {
                    if let Some(s) = self.support.get_mut(v) {
                        s.accepted.remove(n);
                    }
                }
            }
        }
        self.latest.insert_at(n, st, judge);
        // Support serves the federated checks, which end for good when nomination stops.
        if self.stopped {
            return n;
        }
        let Some(st) = self.latest.get_at(n) else {
            return n;
        };
        for v in &st.votes {
            match self.support.get_mut(v) {
                Some(s) => s.voted.insert(n),
                None => {
                    let mut s = Support::default();
                    s.voted.insert(n);
                    self.support.insert(v.clone(), s);
                }
            }
        }
        for v in &st.accepted {
            match self.support.get_mut(v) {
                Some(s) => s.accepted.insert(n),
                None => {
                    let mut s = Support::default();
                    s.accepted.insert(n);
                    self.support.insert(v.clone(), s);
                }
            }
        }
        n
    }

    /// Processes `from`'s statement; `qset` is `from`'s quorum set (resolved from the hash in its
    /// envelope), `None` when unknown: such a node never counts towards a quorum.
    pub fn receive(
        &mut self,
        driver: &impl NominationDriver<N>,
        from: &N,
        st: Nominate,
        qset: Option<Arc<QuorumSet<N>>>,
    ) -> Vec<NominationEffect> {
        self.receive_taken(driver, from, st, qset).0
    }

    /// [`Nomination::receive`], also saying whether the statement was taken (sane and newer):
    /// it is then `from`'s latest statement.
    pub(crate) fn receive_taken(
        &mut self,
        driver: &impl NominationDriver<N>,
        from: &N,
        st: Nominate,
        qset: Option<Arc<QuorumSet<N>>>,
    ) -> (Vec<NominationEffect>, bool) {
        let mut effects = vec![];
        let known = self.latest.number_of(from);
        if !st.is_sane()
            || known
                .and_then(|n| self.latest.get_at(n))
                .is_some_and(|old| !st.is_newer_than(old))
        {
            return (effects, false);
        }
        let n = self.hold(from, known, st, qset, true);
        if !self.started || self.stopped {
            return (effects, true);
        }
        // The statement as held (borrowed apart from the fields the checks below change).
        let st = self.latest.get_at(n).expect("held just now");
        let mut modified = false;
        let mut new_candidates = false;
        for v in &st.votes {
            if self.accepted.contains(v) {
                continue;
            }
            let accept = self
                .support
                .get(v)
                .is_some_and(|s| self.latest.accept(&s.voted.union(&s.accepted), &s.accepted));
            if accept && driver.validate(self.slot, v) == Validity::Valid {
                self.accepted.insert(v.clone());
                self.votes.insert(v.clone());
                modified = true;
            }
        }
        // Only values we accepted ourselves become candidates (stellar-core ratifies over its
        // accepted set); this statement can only add support for the values it accepts.
        for a in &st.accepted {
            if self.candidates.contains(a) || !self.accepted.contains(a) {
                continue;
            }
            if self.support.get(a).is_some_and(|s| self.latest.ratify(&s.accepted)) {
                self.candidates.insert(a.clone());
                new_candidates = true;
            }
        }
        // Echo a leader's value only while still looking for candidates.
        if self.candidates.is_empty() && self.leaders.contains(from) {
            if let Some(v) = self.new_value_from(driver, st) {
                modified |= self.votes.insert(v);
            }
        }
        if modified {
            self.emit(driver, &mut effects);
        }
        if new_candidates {
            let composite = driver.combine(self.slot, &self.candidates);
            if self.composite.as_ref() != Some(&composite) {
                self.composite = Some(composite.clone());
                effects.push(NominationEffect::Composite(composite));
            }
        }
        (effects, true)
    }
}

#[cfg(test)]
mod tests;
