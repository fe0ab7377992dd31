//! Ballot-protocol statements and what each one says (draft-mazieres-dinrg-scp §6; stellar-core
//! `BallotProtocol`): PREPARE, CONFIRM and EXTERNALIZE, their sanity rules, which statement of a
//! node replaces which, and the per-statement predicates federated voting is run over ("this
//! statement votes to prepare b", "accepts b prepared", "votes / accepts commit b over [lo, hi]").
//! The ballot state machine (phases, timers, bumping) is built on these.

use crate::nomination::Value;
use std::cmp::Ordering;

/// A ballot `<counter, value>`, ordered by counter, then value.
#[derive(
    Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, parity_scale_codec::Encode, parity_scale_codec::Decode,
)]
pub struct Ballot {
    /// The counter (0 means "no ballot" where optional ballots are spelled with counters).
    pub counter: u32,
    /// The value.
    pub value: Value,
}

impl Ballot {
    /// A ballot.
    pub fn new(counter: u32, value: Value) -> Self {
        Ballot { counter, value }
    }

    /// Same value.
    pub fn compatible(&self, other: &Ballot) -> bool {
        self.value == other.value
    }

    /// `self <= other` with the same value (`self ≲ other` in the draft). With equal values
    /// the order is the counters' (one byte comparison instead of two).
    pub fn less_and_compatible(&self, other: &Ballot) -> bool {
        self.counter <= other.counter && self.compatible(other)
    }

    /// `self <= other` with another value (`self ⋦ other`).
    pub fn less_and_incompatible(&self, other: &Ballot) -> bool {
        self <= other && !self.compatible(other)
    }
}

/// A ballot statement.
#[derive(Clone, Debug, PartialEq, Eq, parity_scale_codec::Encode, parity_scale_codec::Decode)]
pub enum BallotStatement {
    /// PREPARE: voting to prepare `ballot`, having accepted `prepared` and `prepared_prime`
    /// (the highest accepted-prepared ballot incompatible with `prepared`) as prepared; `n_c`
    /// and `n_h` bound the ballots it votes to commit (0 when none).
    Prepare {
        /// b
        ballot: Ballot,
        /// p
        prepared: Option<Ballot>,
        /// p'
        prepared_prime: Option<Ballot>,
        /// c.n
        n_c: u32,
        /// h.n
        n_h: u32,
    },
    /// CONFIRM: accepted commit of `<n, ballot.value>` for `n_commit <= n <= n_h`.
    Confirm {
        /// b
        ballot: Ballot,
        /// p.n
        n_prepared: u32,
        /// c.n
        n_commit: u32,
        /// h.n
        n_h: u32,
    },
    /// EXTERNALIZE: confirmed commit of `commit` (and of every compatible ballot up to `n_h`).
    Externalize {
        /// c
        commit: Ballot,
        /// h.n
        n_h: u32,
    },
}

impl BallotStatement {
    fn rank(&self) -> u8 {
        match self {
            BallotStatement::Prepare { .. } => 0,
            BallotStatement::Confirm { .. } => 1,
            BallotStatement::Externalize { .. } => 2,
        }
    }

    /// The sanity rules of a received (or, with `from_self`, our own) statement.
    pub fn is_sane(&self, from_self: bool) -> bool {
        match self {
            BallotStatement::Prepare {
                ballot,
                prepared,
                prepared_prime,
                n_c,
                n_h,
            } => {
                (from_self || ballot.counter > 0)
                    // p' must be below p and incompatible with it
                    && match (prepared_prime, prepared) {
                        (Some(pp), Some(p)) => pp.less_and_incompatible(p),
                        (Some(_), None) => false,
                        _ => true,
                    }
                    // h <= p
                    && (*n_h == 0 || prepared.as_ref().is_some_and(|p| *n_h <= p.counter))
                    // c != 0 -> c <= h <= b
                    && (*n_c == 0 || (*n_h != 0 && ballot.counter >= *n_h && *n_h >= *n_c))
            }
            BallotStatement::Confirm {
                ballot, n_commit, n_h, ..
            } => ballot.counter > 0 && *n_h <= ballot.counter && *n_commit <= *n_h,
            BallotStatement::Externalize { commit, n_h } => commit.counter > 0 && *n_h >= commit.counter,
        }
    }

    /// Whether `self` replaces `old` from the same node: a later phase, or within a phase a
    /// larger (b, p, p', h) resp. (b, p.n, h); EXTERNALIZE is never replaced.
    pub fn is_newer_than(&self, old: &BallotStatement) -> bool {
        use BallotStatement::*;
        if self.rank() != old.rank() {
            return old.rank() < self.rank();
        }
        match (old, self) {
            (
                Prepare {
                    ballot: ob,
                    prepared: op,
                    prepared_prime: opp,
                    n_h: oh,
                    ..
                },
                Prepare {
                    ballot: nb,
                    prepared: np,
                    prepared_prime: npp,
                    n_h: nh,
                    ..
                },
            ) => (ob, op, opp, oh).cmp(&(nb, np, npp, nh)) == Ordering::Less,
            (
                Confirm {
                    ballot: ob,
                    n_prepared: op,
                    n_h: oh,
                    ..
                },
                Confirm {
                    ballot: nb,
                    n_prepared: np,
                    n_h: nh,
                    ..
                },
            ) => (ob, op, oh).cmp(&(nb, np, nh)) == Ordering::Less,
            _ => false,
        }
    }

    /// Every value the statement names (its ballot's, and its prepared ballots'), so a node can
    /// fetch what they refer to before it processes the statement.
    pub fn values(&self) -> Vec<&Value> {
        match self {
            BallotStatement::Prepare {
                ballot,
                prepared,
                prepared_prime,
                ..
            } => std::iter::once(&ballot.value)
                .chain(prepared.iter().map(|b| &b.value))
                .chain(prepared_prime.iter().map(|b| &b.value))
                .collect(),
            BallotStatement::Confirm { ballot, .. } => vec![&ballot.value],
            BallotStatement::Externalize { commit, .. } => vec![&commit.value],
        }
    }

    /// The ballot the statement works on (stellar-core `getWorkingBallot`).
    pub fn working_ballot(&self) -> Ballot {
        match self {
            BallotStatement::Prepare { ballot, .. } => ballot.clone(),
            BallotStatement::Confirm { ballot, n_commit, .. } => Ballot::new(*n_commit, ballot.value.clone()),
            BallotStatement::Externalize { commit, .. } => commit.clone(),
        }
    }

    /// Whether this statement votes to prepare `b` (or says more).
    pub fn votes_prepare(&self, b: &Ballot) -> bool {
        match self {
            BallotStatement::Prepare { ballot, .. } => b.less_and_compatible(ballot),
            BallotStatement::Confirm { ballot, .. } => b.compatible(ballot),
            BallotStatement::Externalize { commit, .. } => b.compatible(commit),
        }
    }

    /// Whether this statement accepts `b` as prepared (stellar-core `hasPreparedBallot`).
    pub fn accepts_prepared(&self, b: &Ballot) -> bool {
        match self {
            BallotStatement::Prepare {
                prepared,
                prepared_prime,
                ..
            } => {
                prepared.as_ref().is_some_and(|p| b.less_and_compatible(p))
                    || prepared_prime.as_ref().is_some_and(|p| b.less_and_compatible(p))
            }
            BallotStatement::Confirm { ballot, n_prepared, .. } => {
                b.less_and_compatible(&Ballot::new(*n_prepared, ballot.value.clone()))
            }
            BallotStatement::Externalize { commit, .. } => b.compatible(commit),
        }
    }

    /// Whether this statement votes to commit `<n, b.value>` for every n in `[lo, hi]`.
    pub fn votes_commit(&self, b: &Ballot, lo: u32, hi: u32) -> bool {
        match self {
            BallotStatement::Prepare { ballot, n_c, n_h, .. } => {
                b.compatible(ballot) && *n_c != 0 && *n_c <= lo && hi <= *n_h
            }
            BallotStatement::Confirm { ballot, n_commit, .. } => b.compatible(ballot) && *n_commit <= lo,
            BallotStatement::Externalize { commit, .. } => b.compatible(commit) && commit.counter <= lo,
        }
    }

    /// Whether this statement accepts commit of `<n, b.value>` for every n in `[lo, hi]`
    /// (stellar-core `commitPredicate`).
    pub fn accepts_commit(&self, b: &Ballot, lo: u32, hi: u32) -> bool {
        match self {
            BallotStatement::Prepare { .. } => false,
            BallotStatement::Confirm {
                ballot, n_commit, n_h, ..
            } => b.compatible(ballot) && *n_commit <= lo && hi <= *n_h,
            BallotStatement::Externalize { commit, .. } => b.compatible(commit) && commit.counter <= lo,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use BallotStatement::*;

    fn b(n: u32, v: &str) -> Ballot {
        Ballot::new(n, v.as_bytes().to_vec())
    }

    fn prepare(ballot: Ballot, p: Option<Ballot>, pp: Option<Ballot>, n_c: u32, n_h: u32) -> BallotStatement {
        Prepare {
            ballot,
            prepared: p,
            prepared_prime: pp,
            n_c,
            n_h,
        }
    }

    #[test]
    fn ballots_order_by_counter_then_value() {
        assert!(b(1, "z") < b(2, "a"));
        assert!(b(2, "a") < b(2, "b"));
        assert!(b(1, "x").less_and_compatible(&b(3, "x")));
        assert!(!b(3, "x").less_and_compatible(&b(1, "x")));
        assert!(b(1, "x").less_and_incompatible(&b(1, "y")));
    }

    #[test]
    fn sanity_rules_of_stellar_core() {
        assert!(prepare(b(1, "x"), None, None, 0, 0).is_sane(false));
        assert!(
            !prepare(b(0, "x"), None, None, 0, 0).is_sane(false),
            "counter 0 only from self"
        );
        assert!(prepare(b(0, "x"), None, None, 0, 0).is_sane(true));
        assert!(prepare(b(3, "y"), Some(b(2, "y")), Some(b(1, "x")), 0, 0).is_sane(false));
        assert!(
            !prepare(b(3, "y"), Some(b(2, "y")), Some(b(1, "y")), 0, 0).is_sane(false),
            "p' compatible with p"
        );
        assert!(
            !prepare(b(3, "y"), Some(b(1, "x")), Some(b(2, "y")), 0, 0).is_sane(false),
            "p' above p"
        );
        assert!(
            !prepare(b(3, "y"), None, Some(b(2, "y")), 0, 0).is_sane(false),
            "p' without p"
        );
        assert!(prepare(b(3, "y"), Some(b(2, "y")), None, 1, 2).is_sane(false));
        assert!(
            !prepare(b(3, "y"), Some(b(2, "y")), None, 0, 3).is_sane(false),
            "h above p"
        );
        assert!(
            !prepare(b(3, "y"), Some(b(3, "y")), None, 2, 1).is_sane(false),
            "c above h"
        );
        assert!(
            !prepare(b(1, "y"), Some(b(3, "y")), None, 1, 2).is_sane(false),
            "h above b"
        );
        assert!(Confirm {
            ballot: b(3, "x"),
            n_prepared: 3,
            n_commit: 1,
            n_h: 2
        }
        .is_sane(false));
        assert!(!Confirm {
            ballot: b(3, "x"),
            n_prepared: 3,
            n_commit: 2,
            n_h: 1
        }
        .is_sane(false));
        assert!(!Confirm {
            ballot: b(3, "x"),
            n_prepared: 3,
            n_commit: 1,
            n_h: 4
        }
        .is_sane(false));
        assert!(Externalize {
            commit: b(2, "x"),
            n_h: 2
        }
        .is_sane(false));
        assert!(!Externalize {
            commit: b(2, "x"),
            n_h: 1
        }
        .is_sane(false));
        assert!(!Externalize {
            commit: b(0, "x"),
            n_h: 1
        }
        .is_sane(false));
    }

    #[test]
    fn newer_statements_follow_phase_then_fields() {
        let p1 = prepare(b(1, "x"), None, None, 0, 0);
        let p2 = prepare(b(1, "x"), Some(b(1, "x")), None, 0, 0);
        let p3 = prepare(b(1, "x"), Some(b(1, "x")), None, 0, 1);
        let p4 = prepare(b(2, "x"), None, None, 0, 0);
        assert!(p2.is_newer_than(&p1) && p3.is_newer_than(&p2) && p4.is_newer_than(&p3));
        assert!(!p1.is_newer_than(&p1) && !p1.is_newer_than(&p2));
        let c = Confirm {
            ballot: b(1, "x"),
            n_prepared: 1,
            n_commit: 1,
            n_h: 1,
        };
        let c2 = Confirm {
            ballot: b(1, "x"),
            n_prepared: 1,
            n_commit: 1,
            n_h: 2,
        };
        assert!(c.is_newer_than(&p4) && !p4.is_newer_than(&c));
        assert!(c2.is_newer_than(&c) && !c.is_newer_than(&c2));
        let e = Externalize {
            commit: b(1, "x"),
            n_h: 1,
        };
        let e2 = Externalize {
            commit: b(1, "x"),
            n_h: 5,
        };
        assert!(e.is_newer_than(&c2));
        assert!(!e2.is_newer_than(&e), "an EXTERNALIZE is final");
    }

    #[test]
    fn what_each_statement_says() {
        let prep = prepare(b(3, "x"), Some(b(2, "x")), Some(b(1, "y")), 2, 2);
        assert!(prep.votes_prepare(&b(3, "x")) && prep.votes_prepare(&b(1, "x")));
        assert!(!prep.votes_prepare(&b(4, "x")) && !prep.votes_prepare(&b(1, "y")));
        assert!(prep.accepts_prepared(&b(2, "x")) && prep.accepts_prepared(&b(1, "y")));
        assert!(!prep.accepts_prepared(&b(3, "x")) && !prep.accepts_prepared(&b(2, "y")));
        assert!(prep.votes_commit(&b(2, "x"), 2, 2) && !prep.votes_commit(&b(2, "x"), 1, 2));
        assert!(!prep.accepts_commit(&b(2, "x"), 2, 2), "PREPARE never accepts commit");

        let conf = Confirm {
            ballot: b(5, "x"),
            n_prepared: 4,
            n_commit: 2,
            n_h: 4,
        };
        assert_eq!(conf.working_ballot(), b(2, "x"));
        assert!(
            conf.votes_prepare(&b(9, "x")),
            "CONFIRM votes prepare of every compatible ballot"
        );
        assert!(conf.accepts_prepared(&b(4, "x")) && !conf.accepts_prepared(&b(5, "x")));
        assert!(conf.votes_commit(&b(1, "x"), 2, 100) && !conf.votes_commit(&b(1, "x"), 1, 3));
        assert!(conf.accepts_commit(&b(1, "x"), 2, 4) && !conf.accepts_commit(&b(1, "x"), 2, 5));

        let ext = Externalize {
            commit: b(3, "x"),
            n_h: 3,
        };
        assert!(ext.accepts_prepared(&b(100, "x")) && !ext.accepts_prepared(&b(1, "y")));
        assert!(ext.accepts_commit(&b(1, "x"), 3, u32::MAX) && !ext.accepts_commit(&b(1, "x"), 2, 3));
        assert_eq!(ext.working_ballot(), b(3, "x"));
    }
}
