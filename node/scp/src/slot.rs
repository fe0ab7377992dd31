//! One consensus slot: nomination feeding the ballot protocol (stellar-core `Slot`). The
//! composite candidate from nomination starts (or, on timeouts, steers) the ballot; a ballot
//! confirmed prepared stops nomination; EXTERNALIZE ends the slot.

use crate::ballot::BallotStatement;
use crate::ballot_protocol::{BallotDriver, BallotEffect, BallotProtocol, Phase};
use crate::nomination::{Nominate, Nomination, NominationDriver, NominationEffect, Value};
use crate::quorum::QuorumSet;
use std::sync::Arc;

/// A statement of either sub-protocol.
#[derive(Clone, Debug, PartialEq, Eq, parity_scale_codec::Encode, parity_scale_codec::Decode)]
pub enum Statement {
    /// NOMINATE.
    Nominate(Nominate),
    /// PREPARE, CONFIRM or EXTERNALIZE.
    Ballot(BallotStatement),
}

/// Which timer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum TimerKind {
    /// The nomination round timer.
    Nomination,
    /// The ballot timer.
    Ballot,
}

/// What a slot asks its driver to do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SlotEffect {
    /// Send to peers.
    Emit(Statement),
    /// Arm a timer; on expiry call [`Slot::timeout`] with its kind.
    ArmTimer(TimerKind, u64),
    /// Cancel a timer.
    CancelTimer(TimerKind),
    /// The slot's value is final.
    Externalized(Value),
}

/// The environment of a slot: both sub-protocols' drivers.
pub trait SlotDriver<N>: NominationDriver<N> + BallotDriver {}
impl<N, T: NominationDriver<N> + BallotDriver> SlotDriver<N> for T {}

/// The state of one slot at one node.
#[derive(Clone, Debug)]
pub struct Slot<N> {
    nomination: Nomination<N>,
    ballot: BallotProtocol<N>,
    externalized: Option<Value>,
}

impl<N: Ord + Clone + std::fmt::Debug> Slot<N> {
    /// A fresh slot.
    pub fn new(index: u64, local: N, qset: impl Into<Arc<QuorumSet<N>>>) -> Self {
        let qset = qset.into();
        Slot {
            nomination: Nomination::new(index, local.clone(), qset.clone()),
            ballot: BallotProtocol::new(index, local, qset),
            externalized: None,
        }
    }

    /// The externalized value, once final.
    pub fn externalized(&self) -> Option<&Value> {
        self.externalized.as_ref()
    }

    /// The ballot protocol (for inspection).
    pub fn ballot(&self) -> &BallotProtocol<N> {
        &self.ballot
    }

    /// The nomination protocol (for inspection).
    pub fn nomination(&self) -> &Nomination<N> {
        &self.nomination
    }

    /// Whether `st` is what the slot holds as `node`'s latest statement (it was sane, valid
    /// and newer when it came).
    pub fn holds(&self, node: &N, st: &Statement) -> bool {
        match st {
            Statement::Nominate(n) => self.nomination.latest_statement(node) == Some(n),
            Statement::Ballot(b) => self.ballot.latest_statement(node) == Some(b),
        }
    }

    /// Restores the node's own last statement after a restart (nomination or ballot), so that
    /// what it says next never contradicts it. Returns whether the statement was taken.
    pub fn restore(&mut self, own_last: Statement) -> bool {
        match own_last {
            Statement::Nominate(n) => {
                if n.votes.is_empty() && n.accepted.is_empty() {
                    return false;
                }
                self.nomination.restore(n);
                true
            }
            Statement::Ballot(b) => {
                if !self.ballot.restore(b) {
                    return false;
                }
                if self.ballot.phase() == Phase::Externalize {
                    self.externalized = self.ballot.commit().map(|c| c.value.clone());
                }
                if self.ballot.phase() != Phase::Prepare || self.ballot.high().is_some() {
                    // It had confirmed a ballot prepared: nomination had stopped.
                    self.nomination.stop();
                }
                true
            }
        }
    }

    /// Proposes `value` on top of `previous`.
    pub fn nominate(&mut self, driver: &impl SlotDriver<N>, value: Value, previous: Value) -> Vec<SlotEffect> {
        let fx = self.nomination.nominate(driver, value, previous);
        self.after_nomination(driver, fx)
    }

    /// Processes a peer's (or our restored own) statement; `qset` is the sender's quorum set.
    pub fn receive(
        &mut self,
        driver: &impl SlotDriver<N>,
        from: &N,
        st: Statement,
        qset: Option<Arc<QuorumSet<N>>>,
    ) -> Vec<SlotEffect> {
        self.receive_taken(driver, from, st, qset).0
    }

    /// [`Slot::receive`], also saying whether the statement was taken: it is then what the
    /// slot holds as `from`'s latest statement ([`Slot::holds`]).
    pub(crate) fn receive_taken(
        &mut self,
        driver: &impl SlotDriver<N>,
        from: &N,
        st: Statement,
        qset: Option<Arc<QuorumSet<N>>>,
    ) -> (Vec<SlotEffect>, bool) {
        match st {
            Statement::Nominate(n) => {
                let (fx, taken) = self.nomination.receive_taken(driver, from, n, qset);
                (self.after_nomination(driver, fx), taken)
            }
            Statement::Ballot(b) => {
                let (fx, taken) = self.ballot.receive_taken(driver, from, b, qset);
                (self.after_ballot(fx), taken)
            }
        }
    }

    /// A timer fired.
    pub fn timeout(&mut self, driver: &impl SlotDriver<N>, kind: TimerKind) -> Vec<SlotEffect> {
        match kind {
            TimerKind::Nomination => {
                let fx = self.nomination.timeout(driver);
                self.after_nomination(driver, fx)
            }
            TimerKind::Ballot => {
                let fx = self.ballot.timeout(driver);
                self.after_ballot(fx)
            }
        }
    }

    fn after_nomination(&mut self, driver: &impl SlotDriver<N>, fx: Vec<NominationEffect>) -> Vec<SlotEffect> {
        let mut out = vec![];
        for e in fx {
            match e {
                NominationEffect::Emit(st) => out.push(SlotEffect::Emit(Statement::Nominate(st))),
                NominationEffect::ArmTimer { delay_ms } => {
                    out.push(SlotEffect::ArmTimer(TimerKind::Nomination, delay_ms))
                }
                NominationEffect::Composite(value) => {
                    // A new composite starts the ballot protocol, or is remembered for the next bump.
                    let bfx = self.ballot.bump(driver, value, false);
                    out.extend(self.after_ballot(bfx));
                }
            }
        }
        out
    }

    fn after_ballot(&mut self, fx: Vec<BallotEffect>) -> Vec<SlotEffect> {
        let mut out = vec![];
        for e in fx {
            match e {
                BallotEffect::Emit(st) => out.push(SlotEffect::Emit(Statement::Ballot(st))),
                BallotEffect::ArmTimer { delay_ms } => out.push(SlotEffect::ArmTimer(TimerKind::Ballot, delay_ms)),
                BallotEffect::CancelTimer => out.push(SlotEffect::CancelTimer(TimerKind::Ballot)),
                BallotEffect::ConfirmedPrepared(_) => {
                    // Nomination stops once a ballot is confirmed prepared (draft §6.3).
                    self.nomination.stop();
                    out.push(SlotEffect::CancelTimer(TimerKind::Nomination));
                }
                BallotEffect::AcceptedCommit(_) => {}
                BallotEffect::Externalized(v) => {
                    if self.externalized.is_none() && self.ballot.phase() == Phase::Externalize {
                        self.externalized = Some(v.clone());
                        self.nomination.stop();
                        out.push(SlotEffect::CancelTimer(TimerKind::Nomination));
                        out.push(SlotEffect::Externalized(v));
                    }
                }
            }
        }
        out
    }
}
