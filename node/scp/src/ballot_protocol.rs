//! The ballot protocol of one slot (draft-mazieres-dinrg-scp §6; the step structure and names
//! follow stellar-core `BallotProtocol`), as a pure state machine with effects as data.
//!
//! Each received statement runs the steps in order — accept prepared, confirm prepared, accept
//! commit, confirm commit — and then, at the outermost level only, the v-blocking counter bump
//! and the heard-from-quorum check that arms the ballot timer. The local node processes its own
//! statements like anyone's; only the final statement of a cascade is emitted.

use crate::ballot::{Ballot, BallotStatement};
use crate::federated::table::{Judge, NodeBits, Table};
use crate::nomination::{Validity, Value};
use crate::quorum::QuorumSet;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The phase of the local node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Phase {
    /// Preparing ballots.
    Prepare,
    /// Accepted a commit.
    Confirm,
    /// Confirmed a commit: the value is final.
    Externalize,
}

/// What the ballot protocol needs from its environment.
pub trait BallotDriver {
    /// Validity of a value for this slot.
    fn validate(&self, slot: u64, value: &Value) -> Validity;
    /// How long the ballot timer for `counter` runs, in milliseconds (grows with the counter).
    fn ballot_timeout_ms(&self, counter: u32) -> u64 {
        1000 * (counter as u64).min(1800)
    }
}

/// What the ballot protocol asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BallotEffect {
    /// Send this statement to peers.
    Emit(BallotStatement),
    /// Arm the ballot timer; on expiry call [`BallotProtocol::timeout`].
    ArmTimer {
        /// Milliseconds from now.
        delay_ms: u64,
    },
    /// Cancel the ballot timer.
    CancelTimer,
    /// A ballot was confirmed prepared: nomination can stop.
    ConfirmedPrepared(Ballot),
    /// A commit was accepted.
    AcceptedCommit(Ballot),
    /// The slot's value is final.
    Externalized(Value),
}

/// Highest counter a ballot may reach; bumps beyond it are refused (stellar-core caps the
/// counter so a faulty peer cannot make the timeout arithmetic overflow).
pub const MAX_COUNTER: u32 = u32::MAX - 1;

/// The quorum set a statement is judged by. A node that externalized has confirmed the commit
/// for good, so its statement stands on its own: its slice is itself (stellar-core
/// `Slot::getQuorumSetFromStatement`). That also lets nodes that are behind finish from
/// EXTERNALIZE messages alone.
fn judged_by<N>(st: &BallotStatement, qset: Option<Arc<QuorumSet<N>>>) -> Judge<N> {
    match (st, qset) {
        (BallotStatement::Externalize { .. }, _) => Judge::Itself,
        (_, Some(q)) => Judge::Qset(q),
        (_, None) => Judge::Unknown,
    }
}

/// Ballot-protocol state of one slot.
#[derive(Clone, Debug)]
pub struct BallotProtocol<N> {
    slot: u64,
    local: N,
    qset: Arc<QuorumSet<N>>,
    phase: Phase,
    current: Option<Ballot>,
    prepared: Option<Ballot>,
    prepared_prime: Option<Ballot>,
    high: Option<Ballot>,
    commit: Option<Ballot>,
    value_override: Option<Value>,
    composite: Option<Value>,
    heard_from_quorum: bool,
    /// The ballot timer is armed (it may outlive the counter it was armed for, so it is
    /// tracked apart from `heard_from_quorum`).
    timer_armed: bool,
    /// Each node's latest statement, judged by its quorum set.
    latest: Table<N, BallotStatement>,
    last_emitted: Option<BallotStatement>,
    /// `last_emitted` changed and is not yet sent (sent when the outermost cascade settles).
    pending_send: bool,
    level: u32,
    effects: Vec<BallotEffect>,
}

fn statement_counter(st: &BallotStatement) -> u32 {
    match st {
        BallotStatement::Prepare { ballot, .. } | BallotStatement::Confirm { ballot, .. } => ballot.counter,
        BallotStatement::Externalize { .. } => u32::MAX,
    }
}

/// Values a statement names, all of which must not be invalid.
fn statement_values(st: &BallotStatement) -> Vec<&Value> {
    match st {
        BallotStatement::Prepare {
            ballot,
            prepared,
            prepared_prime,
            ..
        } => {
            let mut v = vec![&ballot.value];
            v.extend(prepared.iter().map(|b| &b.value));
            v.extend(prepared_prime.iter().map(|b| &b.value));
            v
        }
        BallotStatement::Confirm { ballot, .. } => vec![&ballot.value],
        BallotStatement::Externalize { commit, .. } => vec![&commit.value],
    }
}

impl<N: Ord + Clone + std::fmt::Debug> BallotProtocol<N> {
    /// The ballot protocol for `slot` at `local` with quorum set `qset`.
    pub fn new(slot: u64, local: N, qset: impl Into<Arc<QuorumSet<N>>>) -> Self {
        let qset = qset.into();
        BallotProtocol {
            slot,
            local,
            latest: Table::new(&qset),
            qset,
            phase: Phase::Prepare,
            current: None,
            prepared: None,
            prepared_prime: None,
            high: None,
            commit: None,
            value_override: None,
            composite: None,
            heard_from_quorum: false,
            timer_armed: false,
            last_emitted: None,
            pending_send: false,
            level: 0,
            effects: vec![],
        }
    }

    /// The phase.
    pub fn phase(&self) -> Phase {
        self.phase
    }
    /// b
    pub fn current(&self) -> Option<&Ballot> {
        self.current.as_ref()
    }
    /// p
    pub fn prepared(&self) -> Option<&Ballot> {
        self.prepared.as_ref()
    }
    /// p'
    pub fn prepared_prime(&self) -> Option<&Ballot> {
        self.prepared_prime.as_ref()
    }
    /// h
    pub fn high(&self) -> Option<&Ballot> {
        self.high.as_ref()
    }
    /// c
    pub fn commit(&self) -> Option<&Ballot> {
        self.commit.as_ref()
    }
    /// Whether a quorum is at (or past) our counter.
    pub fn heard_from_quorum(&self) -> bool {
        self.heard_from_quorum
    }
    /// The latest statement taken from `node`.
    pub fn latest_statement(&self, node: &N) -> Option<&BallotStatement> {
        self.latest.get(node)
    }
    /// The last statement emitted (to persist for restart, and to re-send to nodes behind).
    pub fn last_emitted(&self) -> Option<&BallotStatement> {
        self.last_emitted.as_ref()
    }

    /// Restores the state from the node's own last emitted statement after a restart
    /// (stellar-core `setStateFromEnvelope`), so that nothing it says from now on contradicts
    /// what it already said. Refused (returns false) once the slot has a ballot, and for
    /// statements that are not sane.
    pub fn restore(&mut self, own_last: BallotStatement) -> bool {
        if self.current.is_some() || !own_last.is_sane(true) {
            return false;
        }
        match &own_last {
            BallotStatement::Prepare {
                ballot,
                prepared,
                prepared_prime,
                n_c,
                n_h,
            } => {
                self.bump_to_ballot(ballot.clone());
                self.prepared = prepared.clone();
                self.prepared_prime = prepared_prime.clone();
                self.high = (*n_h != 0).then(|| Ballot::new(*n_h, ballot.value.clone()));
                self.commit = (*n_c != 0).then(|| Ballot::new(*n_c, ballot.value.clone()));
                self.phase = Phase::Prepare;
            }
            BallotStatement::Confirm {
                ballot,
                n_prepared,
                n_commit,
                n_h,
            } => {
                let v = &ballot.value;
                self.bump_to_ballot(ballot.clone());
                self.prepared = Some(Ballot::new(*n_prepared, v.clone()));
                self.high = Some(Ballot::new(*n_h, v.clone()));
                self.commit = Some(Ballot::new(*n_commit, v.clone()));
                self.phase = Phase::Confirm;
            }
            BallotStatement::Externalize { commit, n_h } => {
                let v = &commit.value;
                self.bump_to_ballot(Ballot::new(u32::MAX, v.clone()));
                self.prepared = Some(Ballot::new(u32::MAX, v.clone()));
                self.high = Some(Ballot::new(*n_h, v.clone()));
                self.commit = Some(commit.clone());
                self.phase = Phase::Externalize;
            }
        }
        let judged = judged_by(&own_last, Some(self.qset.clone()));
        self.latest.insert(&self.local, own_last.clone(), judged);
        self.last_emitted = Some(own_last);
        true
    }

    fn send_latest(&mut self) {
        if self.level == 0 && self.pending_send {
            self.pending_send = false;
            if let Some(st) = self.last_emitted.clone() {
                self.effects.push(BallotEffect::Emit(st));
            }
        }
    }

    fn take_effects(&mut self) -> Vec<BallotEffect> {
        std::mem::take(&mut self.effects)
    }

    /// Starts or moves to the next counter with `value` (the composite candidate from
    /// nomination). Without `force`, does nothing once a ballot exists.
    pub fn bump(&mut self, driver: &impl BallotDriver, value: Value, force: bool) -> Vec<BallotEffect> {
        self.composite = Some(value.clone());
        if !force && self.current.is_some() {
            return vec![];
        }
        let n = self.current.as_ref().map_or(1, |b| b.counter.saturating_add(1));
        self.bump_to(driver, value, n);
        self.send_latest();
        self.take_effects()
    }

    /// The ballot timer fired: abandon the ballot for the next counter.
    pub fn timeout(&mut self, driver: &impl BallotDriver) -> Vec<BallotEffect> {
        self.timer_armed = false;
        self.abandon(driver, 0);
        self.send_latest();
        self.take_effects()
    }

    fn abandon(&mut self, driver: &impl BallotDriver, n: u32) -> bool {
        let value = self
            .composite
            .clone()
            .or_else(|| self.current.as_ref().map(|b| b.value.clone()));
        let Some(value) = value else { return false };
        let n = if n == 0 {
            self.current.as_ref().map_or(1, |b| b.counter.saturating_add(1))
        } else {
            n
        };
        self.bump_to(driver, value, n)
    }

    fn bump_to(&mut self, driver: &impl BallotDriver, value: Value, n: u32) -> bool {
        if !matches!(self.phase, Phase::Prepare | Phase::Confirm) || n > MAX_COUNTER {
            return false;
        }
        let value = self.value_override.clone().unwrap_or(value);
        let updated = self.update_current(Ballot::new(n, value));
        if updated {
            self.emit_current(driver);
            self.check_heard_from_quorum(driver);
        }
        updated
    }

    fn update_current(&mut self, b: Ballot) -> bool {
        if !matches!(self.phase, Phase::Prepare | Phase::Confirm) {
            return false;
        }
        if self.commit.as_ref().is_some_and(|c| !c.compatible(&b)) {
            return false;
        }
        match &self.current {
            Some(cur) if *cur >= b => false,
            _ => {
                self.bump_to_ballot(b);
                true
            }
        }
    }

    fn bump_to_ballot(&mut self, b: Ballot) {
        let counter_changed = self.current.as_ref().is_none_or(|c| c.counter != b.counter);
        self.current = Some(b);
        if counter_changed {
            self.heard_from_quorum = false;
        }
    }

    fn update_current_if_needed(&mut self, h: &Ballot) -> bool {
        if self.current.as_ref().is_none_or(|c| c < h) {
            self.bump_to_ballot(h.clone());
            true
        } else {
            false
        }
    }

    /// Processes `from`'s statement; `qset` is `from`'s quorum set (`None` if unknown).
    pub fn receive(
        &mut self,
        driver: &impl BallotDriver,
        from: &N,
        st: BallotStatement,
        qset: Option<Arc<QuorumSet<N>>>,
    ) -> Vec<BallotEffect> {
        self.process(driver, from, st, qset);
        self.send_latest();
        self.take_effects()
    }

    /// Returns whether the statement was taken into account.
    fn process(
        &mut self,
        driver: &impl BallotDriver,
        from: &N,
        st: BallotStatement,
        qset: Option<Arc<QuorumSet<N>>>,
    ) -> bool {
        let from_self = *from == self.local;
        if !st.is_sane(from_self) {
            return false;
        }
        if self.latest.get(from).is_some_and(|old| !st.is_newer_than(old)) {
            return false;
        }
        if statement_values(&st)
            .iter()
            .any(|v| driver.validate(self.slot, v) == Validity::Invalid)
        {
            return false;
        }
        if self.phase == Phase::Externalize {
            // Only statements compatible with what we externalized are still recorded.
            let ours = self.commit.as_ref().expect("externalized with a commit");
            if !st.working_ballot().compatible(ours) {
                return false;
            }
            let judged = judged_by(&st, qset);
            self.latest.insert(from, st, judged);
            return true;
        }
        let judged = judged_by(&st, qset);
        self.latest.insert(from, st.clone(), judged);
        self.advance(driver, &st);
        true
    }

    fn advance(&mut self, driver: &impl BallotDriver, hint: &BallotStatement) {
        self.level += 1;
        // A cascade deeper than this would mean a bug, not a network condition.
        assert!(self.level < 50, "ballot protocol recursion");
        self.attempt_accept_prepared(driver, hint);
        self.attempt_confirm_prepared(driver, hint);
        self.attempt_accept_commit(driver, hint);
        self.attempt_confirm_commit(driver, hint);
        if self.level == 1 {
            // A v-blocking set can only have got ahead of us through a statement that is ahead:
            // every earlier one was checked when it came, statements only get newer, and our
            // counter only grows (which shrinks the set ahead).
            let local = self.current.as_ref().map_or(0, |b| b.counter);
            if statement_counter(hint) > local {
                while self.attempt_bump(driver) {}
            }
            self.check_heard_from_quorum(driver);
        }
        self.level -= 1;
    }

    /// Federated accept (draft §3.2) of the statement `voted` and `accepted` describe.
    fn accept(&self, voted: impl Fn(&BallotStatement) -> bool, accepted: impl Fn(&BallotStatement) -> bool) -> bool {
        let mut either = NodeBits::new();
        let mut acc = NodeBits::new();
        for (n, st) in self.latest.statements() {
            if accepted(st) {
                acc.insert(n);
                either.insert(n);
            } else if voted(st) {
                either.insert(n);
            }
        }
        self.latest.accept(&either, &acc)
    }

    /// Federated ratify of the statement `ratified` describes.
    fn ratify(&self, ratified: impl Fn(&BallotStatement) -> bool) -> bool {
        self.latest.ratify(&self.latest.nodes(ratified))
    }

    /// Ballots that may have been prepared, given the hint (stellar-core `getPrepareCandidates`),
    /// of those the caller can still use (`keep`, which must be upward closed along a value:
    /// filtering here spares enumerating and cloning the rest).
    fn prepare_candidates(&self, hint: &BallotStatement, keep: impl Fn(&Ballot) -> bool) -> BTreeSet<Ballot> {
        let mut hints: BTreeSet<Ballot> = BTreeSet::new();
        match hint {
            BallotStatement::Prepare {
                ballot,
                prepared,
                prepared_prime,
                ..
            } => {
                hints.insert(ballot.clone());
                hints.extend(prepared.iter().cloned());
                hints.extend(prepared_prime.iter().cloned());
            }
            BallotStatement::Confirm { ballot, n_prepared, .. } => {
                hints.insert(Ballot::new(*n_prepared, ballot.value.clone()));
                hints.insert(Ballot::new(u32::MAX, ballot.value.clone()));
            }
            BallotStatement::Externalize { commit, .. } => {
                hints.insert(Ballot::new(u32::MAX, commit.value.clone()));
            }
        }
        let mut out = BTreeSet::new();
        let mut add = |b: &Ballot| {
            if keep(b) && !out.contains(b) {
                out.insert(b.clone());
            }
        };
        // Every candidate is ≲ its hint ballot, and the callers' `keep` is upward closed along
        // a value (if it holds of b, it holds of every b' ≳ b): a hint it refuses yields nothing.
        for top in hints.iter().rev().filter(|t| keep(t)) {
            for (_, st) in self.latest.statements() {
                match st {
                    BallotStatement::Prepare {
                        ballot,
                        prepared,
                        prepared_prime,
                        ..
                    } => {
                        for b in std::iter::once(ballot)
                            .chain(prepared.iter())
                            .chain(prepared_prime.iter())
                        {
                            if b.less_and_compatible(top) {
                                add(b);
                            }
                        }
                    }
                    BallotStatement::Confirm { ballot, n_prepared, .. } => {
                        if top.compatible(ballot) {
                            add(top);
                            if *n_prepared < top.counter {
                                add(&Ballot::new(*n_prepared, top.value.clone()));
                            }
                        }
                    }
                    BallotStatement::Externalize { commit, .. } => {
                        if top.compatible(commit) {
                            add(top);
                        }
                    }
                }
            }
        }
        out
    }

    fn attempt_accept_prepared(&mut self, driver: &impl BallotDriver, hint: &BallotStatement) -> bool {
        if !matches!(self.phase, Phase::Prepare | Phase::Confirm) {
            return false;
        }
        let useful = |ballot: &Ballot| {
            // In CONFIRM only ballots that can raise p matter (p ~ c); below p' or under a
            // compatible p nothing is learned.
            (self.phase != Phase::Confirm || self.prepared.as_ref().is_some_and(|p| p.less_and_compatible(ballot)))
                && self.prepared_prime.as_ref().is_none_or(|pp| ballot > pp)
                && !self.prepared.as_ref().is_some_and(|p| ballot.less_and_compatible(p))
        };
        for ballot in self.prepare_candidates(hint, useful).into_iter().rev() {
            if self.accept(|st| st.votes_prepare(&ballot), |st| st.accepts_prepared(&ballot)) {
                return self.set_prepared_accept(driver, ballot);
            }
        }
        false
    }

    fn set_prepared_accept(&mut self, driver: &impl BallotDriver, ballot: Ballot) -> bool {
        let mut did = self.set_prepared(ballot);
        // An accepted prepare incompatible with h above it aborts our commit vote.
        if let (Some(_), Some(h)) = (&self.commit, &self.high) {
            let aborted = self.prepared.as_ref().is_some_and(|p| h.less_and_incompatible(p))
                || self.prepared_prime.as_ref().is_some_and(|p| h.less_and_incompatible(p));
            if aborted {
                self.commit = None;
                did = true;
            }
        }
        if did {
            self.emit_current(driver);
        }
        did
    }

    fn set_prepared(&mut self, ballot: Ballot) -> bool {
        match self.prepared.clone() {
            None => {
                self.prepared = Some(ballot);
                true
            }
            Some(p) if p < ballot => {
                if !p.compatible(&ballot) {
                    self.prepared_prime = Some(p);
                }
                self.prepared = Some(ballot);
                true
            }
            Some(p) if p > ballot => {
                let raise_prime = self.prepared_prime.as_ref().is_none_or(|pp| *pp < ballot) && !p.compatible(&ballot);
                if raise_prime {
                    self.prepared_prime = Some(ballot);
                }
                raise_prime
            }
            Some(_) => false,
        }
    }

    fn attempt_confirm_prepared(&mut self, driver: &impl BallotDriver, hint: &BallotStatement) -> bool {
        if self.phase != Phase::Prepare || self.prepared.is_none() {
            return false;
        }
        // The search for h stops at h, the one for c (only while there is no c) below b:
        // nothing else is looked at.
        let b = self.current.clone().unwrap_or(Ballot::new(0, Value::new()));
        let looking_for_c = self.commit.is_none();
        let looked_at =
            |ballot: &Ballot| self.high.as_ref().is_none_or(|h| ballot > h) || (looking_for_c && *ballot >= b);
        let candidates: Vec<Ballot> = self.prepare_candidates(hint, looked_at).into_iter().rev().collect();
        let mut found = None;
        for (i, ballot) in candidates.iter().enumerate() {
            if self.high.as_ref().is_some_and(|h| h >= ballot) {
                break;
            }
            if self.ratify(|st| st.accepts_prepared(ballot)) {
                found = Some(i);
                break;
            }
        }
        let Some(hi) = found else { return false };
        let new_h = candidates[hi].clone();
        let mut new_c = None;
        let c_possible = self.commit.is_none()
            && !self.prepared.as_ref().is_some_and(|p| new_h.less_and_incompatible(p))
            && !self
                .prepared_prime
                .as_ref()
                .is_some_and(|p| new_h.less_and_incompatible(p));
        if c_possible {
            for ballot in &candidates[hi..] {
                if *ballot < b {
                    break;
                }
                if !ballot.less_and_compatible(&new_h) {
                    continue;
                }
                if self.ratify(|st| st.accepts_prepared(ballot)) {
                    new_c = Some(ballot.clone());
                } else {
                    break;
                }
            }
        }
        self.set_prepared_confirmed(driver, new_c, new_h)
    }

    fn set_prepared_confirmed(&mut self, driver: &impl BallotDriver, new_c: Option<Ballot>, new_h: Ballot) -> bool {
        let mut did = false;
        self.value_override = Some(new_h.value.clone());
        if self.current.as_ref().is_none_or(|b| b.compatible(&new_h)) {
            if self.high.as_ref().is_none_or(|h| new_h > *h) {
                self.high = Some(new_h.clone());
                did = true;
            }
            if let Some(c) = new_c {
                self.commit = Some(c);
                did = true;
            }
            if did {
                self.effects.push(BallotEffect::ConfirmedPrepared(new_h.clone()));
            }
        }
        did = self.update_current_if_needed(&new_h) || did;
        if did {
            self.emit_current(driver);
        }
        did
    }

    /// The counters bounding commit intervals in statements compatible with `ballot`.
    fn commit_boundaries(&self, ballot: &Ballot) -> BTreeSet<u32> {
        let mut out = BTreeSet::new();
        for (_, st) in self.latest.statements() {
            match st {
                BallotStatement::Prepare {
                    ballot: b, n_c, n_h, ..
                } => {
                    if ballot.compatible(b) && *n_c != 0 {
                        out.insert(*n_c);
                        out.insert(*n_h);
                    }
                }
                BallotStatement::Confirm {
                    ballot: b,
                    n_commit,
                    n_h,
                    ..
                } => {
                    if ballot.compatible(b) {
                        out.insert(*n_commit);
                        out.insert(*n_h);
                    }
                }
                BallotStatement::Externalize { commit, n_h } => {
                    if ballot.compatible(commit) {
                        out.insert(commit.counter);
                        out.insert(*n_h);
                        out.insert(u32::MAX);
                    }
                }
            }
        }
        out
    }

    /// The highest, then widest, interval [lo, hi] of boundaries satisfying `pred`
    /// (stellar-core `findExtendedInterval`), with `hi >= min_hi`: the caller has no use for
    /// lower ones, so the search stops instead of testing them. `(0, 0)` when none.
    fn extended_interval(boundaries: &BTreeSet<u32>, min_hi: u32, pred: impl Fn(u32, u32) -> bool) -> (u32, u32) {
        let mut candidate = (0u32, 0u32);
        for &n in boundaries.iter().rev() {
            let cur = if candidate.0 == 0 {
                if n < min_hi {
                    break;
                }
                (n, n)
            } else if n > candidate.1 {
                continue;
            } else {
                (n, candidate.1)
            };
            if pred(cur.0, cur.1) {
                candidate = cur;
            } else if candidate.0 != 0 {
                break;
            }
        }
        candidate
    }

    fn commit_hint(hint: &BallotStatement) -> Option<Ballot> {
        match hint {
            BallotStatement::Prepare { ballot, n_c, n_h, .. } => {
                (*n_c != 0).then(|| Ballot::new(*n_h, ballot.value.clone()))
            }
            BallotStatement::Confirm { ballot, n_h, .. } => Some(Ballot::new(*n_h, ballot.value.clone())),
            BallotStatement::Externalize { commit, n_h } => Some(Ballot::new(*n_h, commit.value.clone())),
        }
    }

    fn attempt_accept_commit(&mut self, driver: &impl BallotDriver, hint: &BallotStatement) -> bool {
        if !matches!(self.phase, Phase::Prepare | Phase::Confirm) {
            return false;
        }
        let Some(ballot) = Self::commit_hint(hint) else {
            return false;
        };
        if self.phase == Phase::Confirm && !self.high.as_ref().is_some_and(|h| h.compatible(&ballot)) {
            return false;
        }
        let boundaries = self.commit_boundaries(&ballot);
        if boundaries.is_empty() {
            return false;
        }
        // In CONFIRM only a higher h is news (checked again below, as stellar-core does).
        let min_hi = match (self.phase, &self.high) {
            (Phase::Confirm, Some(h)) => h.counter.saturating_add(1),
            _ => 0,
        };
        let (lo, hi) = Self::extended_interval(&boundaries, min_hi, |lo, hi| {
            self.accept(
                |st| st.votes_commit(&ballot, lo, hi),
                |st| st.accepts_commit(&ballot, lo, hi),
            )
        });
        if lo == 0 {
            return false;
        }
        if self.phase == Phase::Confirm && self.high.as_ref().is_some_and(|h| hi <= h.counter) {
            return false;
        }
        let c = Ballot::new(lo, ballot.value.clone());
        let h = Ballot::new(hi, ballot.value);
        self.set_accept_commit(driver, c, h)
    }

    fn set_accept_commit(&mut self, driver: &impl BallotDriver, c: Ballot, h: Ballot) -> bool {
        let mut did = false;
        self.value_override = Some(h.value.clone());
        if self.high.as_ref() != Some(&h) || self.commit.as_ref() != Some(&c) {
            self.commit = Some(c.clone());
            self.high = Some(h.clone());
            did = true;
        }
        if self.phase == Phase::Prepare {
            self.phase = Phase::Confirm;
            if self.current.as_ref().is_some_and(|b| !h.less_and_compatible(b)) {
                self.bump_to_ballot(h.clone());
            }
            self.prepared_prime = None;
            did = true;
        }
        if did {
            self.update_current_if_needed(&h);
            self.effects.push(BallotEffect::AcceptedCommit(c));
            self.emit_current(driver);
        }
        did
    }

    fn attempt_confirm_commit(&mut self, driver: &impl BallotDriver, hint: &BallotStatement) -> bool {
        if self.phase != Phase::Confirm || self.high.is_none() || self.commit.is_none() {
            return false;
        }
        let ballot = match hint {
            BallotStatement::Prepare { .. } => return false,
            other => Self::commit_hint(other).expect("confirm and externalize always hint"),
        };
        if !self.commit.as_ref().is_some_and(|c| c.compatible(&ballot)) {
            return false;
        }
        let boundaries = self.commit_boundaries(&ballot);
        let (lo, hi) = Self::extended_interval(&boundaries, 0, |lo, hi| {
            self.ratify(|st| st.accepts_commit(&ballot, lo, hi))
        });
        if lo == 0 {
            return false;
        }
        let c = Ballot::new(lo, ballot.value.clone());
        let h = Ballot::new(hi, ballot.value);
        self.commit = Some(c.clone());
        self.high = Some(h.clone());
        self.update_current_if_needed(&h);
        self.phase = Phase::Externalize;
        self.emit_current(driver);
        self.timer_armed = false;
        self.effects.push(BallotEffect::CancelTimer);
        self.effects.push(BallotEffect::Externalized(c.value));
        true
    }

    /// Whether the nodes whose counter is above `n` are v-blocking.
    fn v_blocking_ahead_of(&self, n: u32) -> bool {
        self.latest.blocking(&self.latest.nodes(|st| statement_counter(st) > n))
    }

    /// The v-blocking counter jump (draft §6.6): if a v-blocking set is at higher counters,
    /// move to the lowest counter at which that stops being true.
    fn attempt_bump(&mut self, driver: &impl BallotDriver) -> bool {
        if !matches!(self.phase, Phase::Prepare | Phase::Confirm) {
            return false;
        }
        let local = self.current.as_ref().map_or(0, |b| b.counter);
        if !self.v_blocking_ahead_of(local) {
            return false;
        }
        let counters: BTreeSet<u32> = self
            .latest
            .statements()
            .map(|(_, st)| statement_counter(st))
            .filter(|c| *c > local)
            .collect();
        for n in counters {
            if !self.v_blocking_ahead_of(n) {
                return self.abandon(driver, n);
            }
        }
        false
    }

    /// Arms the ballot timer once a quorum is at our counter or beyond (draft §6.5).
    fn check_heard_from_quorum(&mut self, driver: &impl BallotDriver) {
        let Some(counter) = self.current.as_ref().map(|b| b.counter) else {
            return;
        };
        if self.heard_from_quorum {
            // Statements only get newer and counters only grow, so a quorum at our counter
            // stays one until our counter moves (which clears the flag).
            return;
        }
        let at_our_counter = self.ratify(|st| match st {
            BallotStatement::Prepare { ballot, .. } => counter <= ballot.counter,
            _ => true,
        });
        if at_our_counter {
            self.heard_from_quorum = true;
            if self.phase != Phase::Externalize {
                self.timer_armed = true;
                self.effects.push(BallotEffect::ArmTimer {
                    delay_ms: driver.ballot_timeout_ms(counter),
                });
            }
        } else {
            // Also a timer armed for an earlier counter: it must not abandon this one.
            if self.timer_armed {
                self.timer_armed = false;
                self.effects.push(BallotEffect::CancelTimer);
            }
            self.heard_from_quorum = false;
        }
    }

    fn current_statement(&self) -> Option<BallotStatement> {
        let b = self.current.clone()?;
        Some(match self.phase {
            Phase::Prepare => BallotStatement::Prepare {
                ballot: b,
                prepared: self.prepared.clone(),
                prepared_prime: self.prepared_prime.clone(),
                n_c: self.commit.as_ref().map_or(0, |c| c.counter),
                n_h: self.high.as_ref().map_or(0, |h| h.counter),
            },
            Phase::Confirm => BallotStatement::Confirm {
                ballot: b,
                n_prepared: self.prepared.as_ref().map_or(0, |p| p.counter),
                n_commit: self.commit.as_ref().map_or(0, |c| c.counter),
                n_h: self.high.as_ref().map_or(0, |h| h.counter),
            },
            Phase::Externalize => BallotStatement::Externalize {
                commit: self.commit.clone()?,
                n_h: self.high.as_ref().map_or(0, |h| h.counter),
            },
        })
    }

    /// Processes our own current statement (it counts like anyone's) and remembers it for
    /// sending once the cascade settles.
    fn emit_current(&mut self, driver: &impl BallotDriver) {
        let Some(st) = self.current_statement() else { return };
        if self.latest.get(&self.local).is_some_and(|old| *old == st) {
            return;
        }
        let (local, qset) = (self.local.clone(), self.qset.clone());
        if self.process(driver, &local, st.clone(), Some(qset))
            && self.last_emitted.as_ref().is_none_or(|last| st.is_newer_than(last))
        {
            self.last_emitted = Some(st);
            self.pending_send = true;
        }
    }
}

#[cfg(test)]
mod tests;
