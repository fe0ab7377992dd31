//! Ballot statements with their values replaced by small numbers, for the ballot protocol's
//! passes over every node's latest statement: each step compares ballots of ~100 statements,
//! and comparing two numbers is much cheaper than comparing two byte strings.
//!
//! The numbers are handed out per slot in order of first sight, so they say nothing about the
//! order of values: ordering two ballots of the same counter and different values looks the
//! values up ([`Values::cmp`]).

use crate::ballot::{Ballot, BallotStatement};
use crate::nomination::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// A ballot whose value is a number from [`Values`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct CBallot {
    pub(super) counter: u32,
    pub(super) value: u32,
}

impl CBallot {
    /// [`Ballot::compatible`].
    pub(super) fn compatible(self, other: CBallot) -> bool {
        self.value == other.value
    }

    /// [`Ballot::less_and_compatible`].
    pub(super) fn less_and_compatible(self, other: CBallot) -> bool {
        self.counter <= other.counter && self.value == other.value
    }
}

/// A [`BallotStatement`] over [`CBallot`]s.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum CStatement {
    /// PREPARE.
    Prepare {
        ballot: CBallot,
        prepared: Option<CBallot>,
        prepared_prime: Option<CBallot>,
        n_c: u32,
        n_h: u32,
    },
    /// CONFIRM.
    Confirm {
        ballot: CBallot,
        n_prepared: u32,
        n_commit: u32,
        n_h: u32,
    },
    /// EXTERNALIZE.
    Externalize { commit: CBallot, n_h: u32 },
}

impl CStatement {
    /// The counter of the statement's ballot (EXTERNALIZE: every counter).
    pub(super) fn counter(&self) -> u32 {
        match self {
            CStatement::Prepare { ballot, .. } | CStatement::Confirm { ballot, .. } => ballot.counter,
            CStatement::Externalize { .. } => u32::MAX,
        }
    }

    /// [`BallotStatement::votes_prepare`].
    pub(super) fn votes_prepare(&self, b: CBallot) -> bool {
        match self {
            CStatement::Prepare { ballot, .. } => b.less_and_compatible(*ballot),
            CStatement::Confirm { ballot, .. } => b.compatible(*ballot),
            CStatement::Externalize { commit, .. } => b.compatible(*commit),
        }
    }

    /// [`BallotStatement::accepts_prepared`].
    pub(super) fn accepts_prepared(&self, b: CBallot) -> bool {
        match self {
            CStatement::Prepare {
                prepared,
                prepared_prime,
                ..
            } => {
                prepared.is_some_and(|p| b.less_and_compatible(p))
                    || prepared_prime.is_some_and(|p| b.less_and_compatible(p))
            }
            CStatement::Confirm { ballot, n_prepared, .. } => b.counter <= *n_prepared && b.compatible(*ballot),
            CStatement::Externalize { commit, .. } => b.compatible(*commit),
        }
    }

    /// [`BallotStatement::votes_commit`] of `<n, value>` for n in `[lo, hi]`.
    pub(super) fn votes_commit(&self, value: u32, lo: u32, hi: u32) -> bool {
        match self {
            CStatement::Prepare { ballot, n_c, n_h, .. } => {
                ballot.value == value && *n_c != 0 && *n_c <= lo && hi <= *n_h
            }
            CStatement::Confirm { ballot, n_commit, .. } => ballot.value == value && *n_commit <= lo,
            CStatement::Externalize { commit, .. } => commit.value == value && commit.counter <= lo,
        }
    }

    /// [`BallotStatement::accepts_commit`] of `<n, value>` for n in `[lo, hi]`.
    pub(super) fn accepts_commit(&self, value: u32, lo: u32, hi: u32) -> bool {
        match self {
            CStatement::Prepare { .. } => false,
            CStatement::Confirm {
                ballot, n_commit, n_h, ..
            } => ballot.value == value && *n_commit <= lo && hi <= *n_h,
            CStatement::Externalize { commit, .. } => commit.value == value && commit.counter <= lo,
        }
    }
}

/// The values of one slot's ballot statements, numbered in order of first sight.
#[derive(Clone, Debug, Default)]
pub(super) struct Values {
    numbers: BTreeMap<Value, u32>,
    values: Vec<Value>,
}

impl Values {
    /// How many values are numbered.
    pub(super) fn len(&self) -> usize {
        self.values.len()
    }

    /// The number of `v`, numbering it if new.
    pub(super) fn number(&mut self, v: &Value) -> u32 {
        if let Some(n) = self.numbers.get(v) {
            return *n;
        }
        let n = self.values.len() as u32;
        self.numbers.insert(v.clone(), n);
        self.values.push(v.clone());
        n
    }

    /// The value numbered `n`.
    pub(super) fn value(&self, n: u32) -> &Value {
        &self.values[n as usize]
    }

    /// `b` over numbers.
    pub(super) fn ballot(&mut self, b: &Ballot) -> CBallot {
        CBallot {
            counter: b.counter,
            value: self.number(&b.value),
        }
    }

    /// The ballot `b` stands for.
    pub(super) fn to_ballot(&self, b: CBallot) -> Ballot {
        Ballot::new(b.counter, self.value(b.value).clone())
    }

    /// The order of [`Ballot`]: counter, then value.
    pub(super) fn cmp(&self, a: CBallot, b: CBallot) -> Ordering {
        a.counter.cmp(&b.counter).then_with(|| {
            if a.value == b.value {
                Ordering::Equal
            } else {
                self.value(a.value).cmp(self.value(b.value))
            }
        })
    }

    /// `st` over numbers.
    pub(super) fn statement(&mut self, st: &BallotStatement) -> CStatement {
        match st {
            BallotStatement::Prepare {
                ballot,
                prepared,
                prepared_prime,
                n_c,
                n_h,
            } => CStatement::Prepare {
                ballot: self.ballot(ballot),
                prepared: prepared.as_ref().map(|b| self.ballot(b)),
                prepared_prime: prepared_prime.as_ref().map(|b| self.ballot(b)),
                n_c: *n_c,
                n_h: *n_h,
            },
            BallotStatement::Confirm {
                ballot,
                n_prepared,
                n_commit,
                n_h,
            } => CStatement::Confirm {
                ballot: self.ballot(ballot),
                n_prepared: *n_prepared,
                n_commit: *n_commit,
                n_h: *n_h,
            },
            BallotStatement::Externalize { commit, n_h } => CStatement::Externalize {
                commit: self.ballot(commit),
                n_h: *n_h,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(n: u32, v: &str) -> Ballot {
        Ballot::new(n, v.as_bytes().to_vec())
    }

    /// Statements over a few values and counters, to compare every predicate both ways.
    fn statements() -> Vec<BallotStatement> {
        let mut out = vec![];
        for v in ["x", "y", "zz"] {
            for n in 1..4 {
                out.push(BallotStatement::Prepare {
                    ballot: b(n + 1, v),
                    prepared: Some(b(n, v)),
                    prepared_prime: Some(b(n - 1, if v == "x" { "y" } else { "x" })),
                    n_c: n - 1,
                    n_h: n,
                });
                out.push(BallotStatement::Prepare {
                    ballot: b(n, v),
                    prepared: None,
                    prepared_prime: None,
                    n_c: 0,
                    n_h: 0,
                });
                out.push(BallotStatement::Confirm {
                    ballot: b(n + 2, v),
                    n_prepared: n + 1,
                    n_commit: n - 1,
                    n_h: n + 1,
                });
                out.push(BallotStatement::Externalize {
                    commit: b(n, v),
                    n_h: n + 1,
                });
            }
        }
        out
    }

    #[test]
    fn predicates_over_numbers_agree_with_those_over_values() {
        let mut values = Values::default();
        let sts = statements();
        let compact: Vec<CStatement> = sts.iter().map(|s| values.statement(s)).collect();
        let ballots: Vec<Ballot> = ["x", "y", "zz", "w"]
            .iter()
            .flat_map(|v| (0..6).map(move |n| b(n, v)))
            .collect();
        for (st, c) in sts.iter().zip(&compact) {
            for ballot in &ballots {
                let cb = values.ballot(ballot);
                assert_eq!(st.votes_prepare(ballot), c.votes_prepare(cb), "{st:?} {ballot:?}");
                assert_eq!(st.accepts_prepared(ballot), c.accepts_prepared(cb), "{st:?} {ballot:?}");
                for lo in 0..6 {
                    for hi in lo..6 {
                        assert_eq!(st.votes_commit(ballot, lo, hi), c.votes_commit(cb.value, lo, hi));
                        assert_eq!(st.accepts_commit(ballot, lo, hi), c.accepts_commit(cb.value, lo, hi));
                    }
                }
            }
        }
        for x in &ballots {
            for y in &ballots {
                let (cx, cy) = (values.ballot(x), values.ballot(y));
                assert_eq!(values.cmp(cx, cy), x.cmp(y), "{x:?} {y:?}");
                assert_eq!(cx.less_and_compatible(cy), x.less_and_compatible(y));
                assert_eq!(values.to_ballot(cx), *x);
            }
        }
    }
}
