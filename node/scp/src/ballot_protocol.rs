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
use compact::{CBallot, CStatement, Named, Values};
use std::cmp::Ordering;
use std::sync::Arc;

mod compact;

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
    latest: Table<N, CStatement>,
    /// The same statements as received, by node number in `latest`.
    full: Vec<Option<BallotStatement>>,
    /// The numbers of the values of the statements in `latest` (and of our own ballots).
    values: Values,
    /// What the statements in `latest` name.
    named: Named,
    last_emitted: Option<BallotStatement>,
    /// `last_emitted` changed and is not yet sent (sent when the outermost cascade settles).
    pending_send: bool,
    level: u32,
    effects: Vec<BallotEffect>,
}

/// Values a statement names, all of which must not be invalid.
fn statement_values(st: &BallotStatement) -> impl Iterator<Item = &Value> {
    let (first, more) = match st {
        BallotStatement::Prepare {
            ballot,
            prepared,
            prepared_prime,
            ..
        } => (&ballot.value, [prepared.as_ref(), prepared_prime.as_ref()]),
        BallotStatement::Confirm { ballot, .. } => (&ballot.value, [None, None]),
        BallotStatement::Externalize { commit, .. } => (&commit.value, [None, None]),
    };
    std::iter::once(first).chain(more.into_iter().flatten().map(|b| &b.value))
}

impl<N: Ord + Clone + std::fmt::Debug> BallotProtocol<N> {
    /// The ballot protocol for `slot` at `local` with quorum set `qset`.
    pub fn new(slot: u64, local: N, qset: impl Into<Arc<QuorumSet<N>>>) -> Self {
        let qset = qset.into();
        BallotProtocol {
            slot,
            local,
            latest: Table::new(&qset),
            full: Vec::new(),
            values: Values::default(),
            named: Named::default(),
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
        self.latest
            .number_of(node)
            .and_then(|n| self.full.get(n as usize))
            .and_then(Option::as_ref)
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
        let compact = self.values.statement(&own_last);
        let n = self.latest.number(&self.local);
        self.hold(n, own_last.clone(), compact, judged);
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
        self.receive_taken(driver, from, st, qset).0
    }

    /// [`BallotProtocol::receive`], also saying whether the statement was taken (sane, valid,
    /// newer): it is then `from`'s latest statement.
    pub(crate) fn receive_taken(
        &mut self,
        driver: &impl BallotDriver,
        from: &N,
        st: BallotStatement,
        qset: Option<Arc<QuorumSet<N>>>,
    ) -> (Vec<BallotEffect>, bool) {
        let taken = self.process(driver, from, st, qset);
        self.send_latest();
        (self.take_effects(), taken)
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
        if self.level == 0 && self.values.len() > 64 + 6 * self.latest.len() {
            // Values of statements since replaced: number again what is still held (never
            // inside a cascade, which holds numbered ballots).
            self.renumber();
        }
        let compact = self.values.statement(&st);
        let known = self.latest.number_of(from);
        // Compared over numbers: the statements held are at hand, their values may not be.
        let old = known.and_then(|n| self.latest.get_at(n));
        if old.is_some_and(|old| !compact.is_newer_than(old, &self.values)) {
            return false;
        }
        if statement_values(&st).any(|v| driver.validate(self.slot, v) == Validity::Invalid) {
            return false;
        }
        if self.phase == Phase::Externalize {
            // Only statements compatible with what we externalized are still recorded.
            let ours = self.commit.as_ref().expect("externalized with a commit");
            if !st.working_ballot().compatible(ours) {
                return false;
            }
        }
        let judged = judged_by(&st, qset);
        let n = known.unwrap_or_else(|| self.latest.number(from));
        self.hold(n, st, compact, judged);
        if self.phase != Phase::Externalize {
            self.advance(driver, compact);
        }
        true
    }

    /// Makes `st` (`compact` over numbers) the latest statement of node number `n`.
    fn hold(&mut self, n: u32, st: BallotStatement, compact: CStatement, judged: Judge<N>) {
        // Named ballots serve the steps, which end with the slot (renumbering counts afresh).
        if self.phase != Phase::Externalize {
            if let Some(old) = self.latest.get_at(n) {
                self.named.count(old, false);
            }
            self.named.count(&compact, true);
        }
        self.latest.insert_at(n, compact, judged);
        let n = n as usize;
        if n >= self.full.len() {
            self.full.resize(n + 1, None);
        }
        self.full[n] = Some(st);
    }

    /// Numbers the values of the statements held afresh, forgetting the others.
    fn renumber(&mut self) {
        let mut values = Values::default();
        let mut named = Named::default();
        let full = &self.full;
        for (n, compact) in self.latest.statements_mut() {
            if let Some(st) = full.get(n as usize).and_then(Option::as_ref) {
                *compact = values.statement(st);
                named.count(compact, true);
            }
        }
        self.values = values;
        self.named = named;
    }

    fn advance(&mut self, driver: &impl BallotDriver, hint: CStatement) {
        self.level += 1;
        // A cascade deeper than this would mean a bug, not a network condition.
        assert!(self.level < 50, "ballot protocol recursion");
        self.attempt_accept_prepared(driver, &hint);
        self.attempt_confirm_prepared(driver, &hint);
        self.attempt_accept_commit(driver, &hint);
        self.attempt_confirm_commit(driver, &hint);
        if self.level == 1 {
            // A v-blocking set can only have got ahead of us through a statement that is ahead:
            // every earlier one was checked when it came, statements only get newer, and our
            // counter only grows (which shrinks the set ahead).
            let local = self.current.as_ref().map_or(0, |b| b.counter);
            if hint.counter() > local {
                while self.attempt_bump(driver) {}
            }
            self.check_heard_from_quorum(driver);
        }
        self.level -= 1;
    }

    /// Federated accept (draft §3.2) of the statement `voted` and `accepted` describe.
    fn accept(&self, voted: impl Fn(&CStatement) -> bool, accepted: impl Fn(&CStatement) -> bool) -> bool {
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
    fn ratify(&self, ratified: impl Fn(&CStatement) -> bool) -> bool {
        self.latest.ratify(&self.latest.nodes(ratified))
    }

    /// `b` over value numbers (numbering its value if new).
    fn numbered(&mut self, b: Option<&Ballot>) -> Option<CBallot> {
        b.map(|b| self.values.ballot(b))
    }

    /// Ballots that may have been prepared, given the hint (stellar-core `getPrepareCandidates`),
    /// of those the caller can still use (`keep`, which must be upward closed along a value:
    /// filtering here spares enumerating the rest), in increasing order.
    fn prepare_candidates(&self, hint: &CStatement, keep: impl Fn(CBallot) -> bool) -> Vec<CBallot> {
        let mut hints: Vec<CBallot> = match *hint {
            CStatement::Prepare {
                ballot,
                prepared,
                prepared_prime,
                ..
            } => std::iter::once(ballot).chain(prepared).chain(prepared_prime).collect(),
            CStatement::Confirm { ballot, n_prepared, .. } => vec![
                CBallot {
                    counter: n_prepared,
                    value: ballot.value,
                },
                CBallot {
                    counter: u32::MAX,
                    value: ballot.value,
                },
            ],
            CStatement::Externalize { commit, .. } => vec![CBallot {
                counter: u32::MAX,
                value: commit.value,
            }],
        };
        hints.retain(|t| keep(*t));
        let mut out: Vec<CBallot> = Vec::new();
        // Every candidate is ≲ its hint ballot, and the callers' `keep` is upward closed along
        // a value (if it holds of b, it holds of every b' ≳ b): a hint it refuses yields nothing.
        for top in hints {
            for b in self.named.candidates(top) {
                if keep(b) {
                    out.push(b);
                }
            }
        }
        out.sort_unstable_by(|a, b| self.values.cmp(*a, *b));
        out.dedup();
        out
    }

    fn attempt_accept_prepared(&mut self, driver: &impl BallotDriver, hint: &CStatement) -> bool {
        if !matches!(self.phase, Phase::Prepare | Phase::Confirm) {
            return false;
        }
        let p = self.numbered(self.prepared.clone().as_ref());
        let pp = self.numbered(self.prepared_prime.clone().as_ref());
        let values = &self.values;
        let useful = |ballot: CBallot| {
            // In CONFIRM only ballots that can raise p matter (p ~ c); below p' or under a
            // compatible p nothing is learned.
            (self.phase != Phase::Confirm || p.is_some_and(|p| p.less_and_compatible(ballot)))
                && pp.is_none_or(|pp| values.cmp(ballot, pp) == Ordering::Greater)
                && !p.is_some_and(|p| ballot.less_and_compatible(p))
        };
        let found = self
            .prepare_candidates(hint, useful)
            .into_iter()
            .rev()
            .find(|ballot| self.accept(|st| st.votes_prepare(*ballot), |st| st.accepts_prepared(*ballot)));
        match found {
            Some(ballot) => {
                let ballot = self.values.to_ballot(ballot);
                self.set_prepared_accept(driver, ballot)
            }
            None => false,
        }
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

    fn attempt_confirm_prepared(&mut self, driver: &impl BallotDriver, hint: &CStatement) -> bool {
        if self.phase != Phase::Prepare || self.prepared.is_none() {
            return false;
        }
        // The search for h stops at h, the one for c (only while there is no c) below b:
        // nothing else is looked at.
        let b = self
            .numbered(self.current.clone().as_ref())
            .unwrap_or_else(|| self.values.ballot(&Ballot::new(0, Value::new())));
        let high = self.numbered(self.high.clone().as_ref());
        let p = self.numbered(self.prepared.clone().as_ref());
        let pp = self.numbered(self.prepared_prime.clone().as_ref());
        let values = &self.values;
        let looking_for_c = self.commit.is_none();
        let looked_at = |ballot: CBallot| {
            high.is_none_or(|h| values.cmp(ballot, h) == Ordering::Greater)
                || (looking_for_c && values.cmp(ballot, b) != Ordering::Less)
        };
        let candidates: Vec<CBallot> = self.prepare_candidates(hint, looked_at).into_iter().rev().collect();
        let mut found = None;
        for (i, ballot) in candidates.iter().enumerate() {
            if high.is_some_and(|h| values.cmp(h, *ballot) != Ordering::Less) {
                break;
            }
            if self.ratify(|st| st.accepts_prepared(*ballot)) {
                found = Some(i);
                break;
            }
        }
        let Some(hi) = found else { return false };
        let new_h = candidates[hi];
        // `a ⋦ b`: below or equal, another value.
        let less_and_incompatible = |a: CBallot, b: CBallot| values.cmp(a, b) != Ordering::Greater && !a.compatible(b);
        let mut new_c = None;
        let c_possible = self.commit.is_none()
            && !p.is_some_and(|p| less_and_incompatible(new_h, p))
            && !pp.is_some_and(|pp| less_and_incompatible(new_h, pp));
        if c_possible {
            for ballot in &candidates[hi..] {
                if values.cmp(*ballot, b) == Ordering::Less {
                    break;
                }
                if !ballot.less_and_compatible(new_h) {
                    continue;
                }
                if self.ratify(|st| st.accepts_prepared(*ballot)) {
                    new_c = Some(*ballot);
                } else {
                    break;
                }
            }
        }
        let new_c = new_c.map(|c| values.to_ballot(c));
        let new_h = values.to_ballot(new_h);
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

    /// The counters bounding commit intervals in statements compatible with `value`, in
    /// increasing order.
    fn commit_boundaries(&self, value: u32) -> Vec<u32> {
        self.named.boundaries(value)
    }

    /// The highest, then widest, interval [lo, hi] of boundaries (increasing, without repeats)
    /// satisfying `pred` (stellar-core `findExtendedInterval`), with `hi >= min_hi`: the caller
    /// has no use for lower ones, so the search stops instead of testing them. `(0, 0)` when
    /// none.
    fn extended_interval(boundaries: &[u32], min_hi: u32, pred: impl Fn(u32, u32) -> bool) -> (u32, u32) {
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

    /// The ballot whose commit the hint may bear on: `<h.n, value>` of a statement with a
    /// commit vote or acceptance.
    fn commit_hint(hint: &CStatement) -> Option<CBallot> {
        match *hint {
            CStatement::Prepare { ballot, n_c, n_h, .. } => (n_c != 0).then_some(CBallot {
                counter: n_h,
                value: ballot.value,
            }),
            CStatement::Confirm { ballot, n_h, .. } => Some(CBallot {
                counter: n_h,
                value: ballot.value,
            }),
            CStatement::Externalize { commit, n_h } => Some(CBallot {
                counter: n_h,
                value: commit.value,
            }),
        }
    }

    fn attempt_accept_commit(&mut self, driver: &impl BallotDriver, hint: &CStatement) -> bool {
        if !matches!(self.phase, Phase::Prepare | Phase::Confirm) {
            return false;
        }
        let Some(ballot) = Self::commit_hint(hint) else {
            return false;
        };
        let high = self.numbered(self.high.clone().as_ref());
        if self.phase == Phase::Confirm && !high.is_some_and(|h| h.compatible(ballot)) {
            return false;
        }
        let boundaries = self.commit_boundaries(ballot.value);
        if boundaries.is_empty() {
            return false;
        }
        // In CONFIRM only a higher h is news (checked again below, as stellar-core does).
        let min_hi = match (self.phase, high) {
            (Phase::Confirm, Some(h)) => h.counter.saturating_add(1),
            _ => 0,
        };
        let (lo, hi) = Self::extended_interval(&boundaries, min_hi, |lo, hi| {
            self.accept(
                |st| st.votes_commit(ballot.value, lo, hi),
                |st| st.accepts_commit(ballot.value, lo, hi),
            )
        });
        if lo == 0 {
            return false;
        }
        if self.phase == Phase::Confirm && high.is_some_and(|h| hi <= h.counter) {
            return false;
        }
        let value = self.values.value(ballot.value).clone();
        let c = Ballot::new(lo, value.clone());
        let h = Ballot::new(hi, value);
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

    fn attempt_confirm_commit(&mut self, driver: &impl BallotDriver, hint: &CStatement) -> bool {
        if self.phase != Phase::Confirm || self.high.is_none() || self.commit.is_none() {
            return false;
        }
        let ballot = match hint {
            CStatement::Prepare { .. } => return false,
            other => Self::commit_hint(other).expect("confirm and externalize always hint"),
        };
        let commit = self.numbered(self.commit.clone().as_ref());
        if !commit.is_some_and(|c| c.compatible(ballot)) {
            return false;
        }
        let boundaries = self.commit_boundaries(ballot.value);
        let (lo, hi) = Self::extended_interval(&boundaries, 0, |lo, hi| {
            self.ratify(|st| st.accepts_commit(ballot.value, lo, hi))
        });
        if lo == 0 {
            return false;
        }
        let value = self.values.value(ballot.value).clone();
        let c = Ballot::new(lo, value.clone());
        let h = Ballot::new(hi, value);
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
        self.latest.blocking(&self.latest.nodes(|st| st.counter() > n))
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
        let mut counters: Vec<u32> = self
            .latest
            .statements()
            .map(|(_, st)| st.counter())
            .filter(|c| *c > local)
            .collect();
        counters.sort_unstable();
        counters.dedup();
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
            CStatement::Prepare { ballot, .. } => counter <= ballot.counter,
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
        if self.latest_statement(&self.local).is_some_and(|old| *old == st) {
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
