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
    /// [`BallotStatement::is_newer_than`], with `values` to order ballots.
    pub(super) fn is_newer_than(&self, old: &CStatement, values: &Values) -> bool {
        let rank = |s: &CStatement| match s {
            CStatement::Prepare { .. } => 0,
            CStatement::Confirm { .. } => 1,
            CStatement::Externalize { .. } => 2,
        };
        if rank(self) != rank(old) {
            return rank(old) < rank(self);
        }
        // `None` before any ballot, as `Option`'s order has it.
        let cmp_option = |a: Option<CBallot>, b: Option<CBallot>| match (a, b) {
            (Some(a), Some(b)) => values.cmp(a, b),
            (a, b) => a.is_some().cmp(&b.is_some()),
        };
        match (old, self) {
            (
                CStatement::Prepare {
                    ballot: ob,
                    prepared: op,
                    prepared_prime: opp,
                    n_h: oh,
                    ..
                },
                CStatement::Prepare {
                    ballot: nb,
                    prepared: np,
                    prepared_prime: npp,
                    n_h: nh,
                    ..
                },
            ) => values
                .cmp(*ob, *nb)
                .then_with(|| cmp_option(*op, *np))
                .then_with(|| cmp_option(*opp, *npp))
                .then_with(|| oh.cmp(nh))
                .is_lt(),
            (
                CStatement::Confirm {
                    ballot: ob,
                    n_prepared: op,
                    n_h: oh,
                    ..
                },
                CStatement::Confirm {
                    ballot: nb,
                    n_prepared: np,
                    n_h: nh,
                    ..
                },
            ) => values
                .cmp(*ob, *nb)
                .then_with(|| op.cmp(np))
                .then_with(|| oh.cmp(nh))
                .is_lt(),
            _ => false,
        }
    }

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
    use std::collections::BTreeSet;

    /// SplitMix64.
    struct Rng(u64);
    impl Rng {
        fn below(&mut self, n: u32) -> u32 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            ((z ^ (z >> 31)) % n as u64) as u32
        }
    }

    fn random_statement(rng: &mut Rng) -> CStatement {
        let ballot = |rng: &mut Rng| CBallot {
            counter: rng.below(5),
            value: rng.below(3),
        };
        match rng.below(3) {
            0 => CStatement::Prepare {
                ballot: ballot(rng),
                prepared: (rng.below(2) == 0).then(|| ballot(rng)),
                prepared_prime: (rng.below(2) == 0).then(|| ballot(rng)),
                n_c: rng.below(4),
                n_h: rng.below(5),
            },
            1 => CStatement::Confirm {
                ballot: ballot(rng),
                n_prepared: rng.below(5),
                n_commit: rng.below(4),
                n_h: rng.below(5),
            },
            _ => CStatement::Externalize {
                commit: ballot(rng),
                n_h: rng.below(5),
            },
        }
    }

    /// The candidates below `top` by a pass over every statement (what [`Named`] replaces).
    fn candidates_by_pass(held: &[CStatement], top: CBallot) -> BTreeSet<(u32, u32)> {
        let mut out = BTreeSet::new();
        for st in held {
            match *st {
                CStatement::Prepare {
                    ballot,
                    prepared,
                    prepared_prime,
                    ..
                } => {
                    for b in std::iter::once(ballot).chain(prepared).chain(prepared_prime) {
                        if b.less_and_compatible(top) {
                            out.insert((b.counter, b.value));
                        }
                    }
                }
                CStatement::Confirm { ballot, n_prepared, .. } => {
                    if top.compatible(ballot) {
                        out.insert((top.counter, top.value));
                        if n_prepared < top.counter {
                            out.insert((n_prepared, top.value));
                        }
                    }
                }
                CStatement::Externalize { commit, .. } => {
                    if top.compatible(commit) {
                        out.insert((top.counter, top.value));
                    }
                }
            }
        }
        out
    }

    /// The commit boundaries of `value` by a pass over every statement.
    fn boundaries_by_pass(held: &[CStatement], value: u32) -> Vec<u32> {
        let mut out = BTreeSet::new();
        for st in held {
            match *st {
                CStatement::Prepare { ballot, n_c, n_h, .. } => {
                    if ballot.value == value && n_c != 0 {
                        out.extend([n_c, n_h]);
                    }
                }
                CStatement::Confirm {
                    ballot, n_commit, n_h, ..
                } => {
                    if ballot.value == value {
                        out.extend([n_commit, n_h]);
                    }
                }
                CStatement::Externalize { commit, n_h } => {
                    if commit.value == value {
                        out.extend([commit.counter, n_h, u32::MAX]);
                    }
                }
            }
        }
        out.into_iter().collect()
    }

    /// Statements arrive and replace each other at random; what [`Named`] counts always answers
    /// like a pass over the statements held.
    #[test]
    fn named_ballots_and_boundaries_follow_the_statements_held() {
        for case in 0..300 {
            let mut rng = Rng(case);
            let mut held: Vec<Option<CStatement>> = vec![None; 1 + rng.below(6) as usize];
            let mut named = Named::default();
            for _ in 0..30 {
                let node = rng.below(held.len() as u32) as usize;
                let st = random_statement(&mut rng);
                if let Some(old) = held[node].replace(st) {
                    named.count(&old, false);
                }
                named.count(&st, true);
                let now: Vec<CStatement> = held.iter().flatten().copied().collect();
                for value in 0..3 {
                    assert_eq!(named.boundaries(value), boundaries_by_pass(&now, value), "case {case}");
                    for counter in [0, 1, 2, 4, 7, u32::MAX] {
                        let top = CBallot { counter, value };
                        let got: BTreeSet<(u32, u32)> = named.candidates(top).map(|b| (b.counter, b.value)).collect();
                        assert_eq!(got, candidates_by_pass(&now, top), "case {case}, top {top:?}");
                    }
                }
            }
        }
    }

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
        for (a, ca) in sts.iter().zip(&compact) {
            for (b, cb) in sts.iter().zip(&compact) {
                assert_eq!(a.is_newer_than(b), ca.is_newer_than(cb, &values), "{a:?} {b:?}");
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

/// A multiset of small keys as a sorted vector: statements name few distinct ballots and
/// counters, and one short run of memory is cheaper to search than a tree.
#[derive(Clone, Debug)]
struct Counted<K> {
    /// Keys in increasing order, each with how many times it is in (at least once).
    entries: Vec<(K, u32)>,
}

impl<K> Default for Counted<K> {
    fn default() -> Self {
        Counted { entries: Vec::new() }
    }
}

impl<K: Ord + Copy> Counted<K> {
    /// Puts `key` in (`add`) or takes one of it out.
    fn count(&mut self, key: K, add: bool) {
        match self.entries.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(i) if add => self.entries[i].1 += 1,
            Ok(i) => {
                self.entries[i].1 -= 1;
                if self.entries[i].1 == 0 {
                    self.entries.remove(i);
                }
            }
            Err(i) if add => self.entries.insert(i, (key, 1)),
            Err(_) => {}
        }
    }

    fn contains(&self, key: K) -> bool {
        self.entries.binary_search_by(|(k, _)| k.cmp(&key)).is_ok()
    }

    /// The distinct keys from `lo` to `hi` (both included), increasing.
    fn range(&self, lo: K, hi: K) -> impl Iterator<Item = K> + '_ {
        let start = self.entries.partition_point(|(k, _)| *k < lo);
        self.entries[start..]
            .iter()
            .map(|(k, _)| *k)
            .take_while(move |k| *k <= hi)
    }
}

/// What the statements held name, counted, kept as statements arrive and are replaced: the
/// ballots a step may look at (stellar-core `getPrepareCandidates`) and the counters bounding
/// commit intervals (`getCommitBoundariesFromStatements`), without a pass over every statement.
#[derive(Clone, Debug, Default)]
pub(super) struct Named {
    /// (value, counter) of the ballots PREPAREs name (b, p, p').
    prepare_ballots: Counted<(u32, u32)>,
    /// Values of CONFIRMs and EXTERNALIZEs.
    confirmed_values: Counted<u32>,
    /// (value, p.n) of CONFIRMs.
    confirm_prepared: Counted<(u32, u32)>,
    /// (value, counter) bounding commit intervals.
    boundaries: Counted<(u32, u32)>,
}

impl Named {
    /// Counts what `st` names in (`add`) or out.
    pub(super) fn count(&mut self, st: &CStatement, add: bool) {
        match *st {
            CStatement::Prepare {
                ballot,
                prepared,
                prepared_prime,
                n_c,
                n_h,
            } => {
                for b in std::iter::once(ballot).chain(prepared).chain(prepared_prime) {
                    self.prepare_ballots.count((b.value, b.counter), add);
                }
                if n_c != 0 {
                    self.boundaries.count((ballot.value, n_c), add);
                    self.boundaries.count((ballot.value, n_h), add);
                }
            }
            CStatement::Confirm {
                ballot,
                n_prepared,
                n_commit,
                n_h,
            } => {
                self.confirmed_values.count(ballot.value, add);
                self.confirm_prepared.count((ballot.value, n_prepared), add);
                self.boundaries.count((ballot.value, n_commit), add);
                self.boundaries.count((ballot.value, n_h), add);
            }
            CStatement::Externalize { commit, n_h } => {
                self.confirmed_values.count(commit.value, add);
                self.boundaries.count((commit.value, commit.counter), add);
                self.boundaries.count((commit.value, n_h), add);
                self.boundaries.count((commit.value, u32::MAX), add);
            }
        }
    }

    /// The ballots below `top` with its value that statements say may have been prepared: those
    /// PREPAREs name, `top` itself if a CONFIRM or EXTERNALIZE has its value, and `<p.n, value>`
    /// of CONFIRMs below it. May repeat a ballot.
    pub(super) fn candidates(&self, top: CBallot) -> impl Iterator<Item = CBallot> + '_ {
        let v = top.value;
        let prepares = self
            .prepare_ballots
            .range((v, 0), (v, top.counter))
            .map(move |(_, counter)| CBallot { counter, value: v });
        let confirmed = self.confirmed_values.contains(v).then_some(top);
        // p.n < top.n.
        let confirm_prepared = self
            .confirm_prepared
            .range((v, 0), (v, top.counter))
            .filter(move |(_, n)| *n < top.counter)
            .map(move |(_, counter)| CBallot { counter, value: v });
        prepares.chain(confirmed).chain(confirm_prepared)
    }

    /// The counters bounding commit intervals in statements with `value`, increasing.
    pub(super) fn boundaries(&self, value: u32) -> Vec<u32> {
        self.boundaries
            .range((value, 0), (value, u32::MAX))
            .map(|(_, n)| n)
            .collect()
    }
}
