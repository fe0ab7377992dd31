//! Quorum sets: `{threshold, validators, inner sets}`, and the predicates SCP is built on
//! (draft-mazieres-dinrg-scp §3 and stellar-core's `LocalNode`).

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// Deepest nesting of inner sets (stellar-core `MAXIMUM_QUORUM_NESTING_LEVEL`).
pub const MAX_NESTING: usize = 4;
/// Most validators one quorum set may name, all levels together.
pub const MAX_VALIDATORS: usize = 1000;

/// A quorum set: a slice is any `threshold` of the entries (validators and inner sets, an inner
/// set counting when one of its own slices is satisfied).
/// SCALE-encoded as (threshold, validators, inner); decoding refuses nesting deeper than
/// [`MAX_NESTING`], so hostile bytes cannot recurse without bound.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, parity_scale_codec::Encode)]
pub struct QuorumSet<N> {
    /// Entries needed.
    pub threshold: u32,
    /// Validator entries.
    pub validators: Vec<N>,
    /// Inner-set entries.
    pub inner: Vec<QuorumSet<N>>,
}

impl<N: parity_scale_codec::Decode> QuorumSet<N> {
    fn decode_at<I: parity_scale_codec::Input>(input: &mut I, depth: usize) -> Result<Self, parity_scale_codec::Error> {
        use parity_scale_codec::{Compact, Decode};
        if depth > MAX_NESTING {
            return Err("quorum set nested too deeply".into());
        }
        let threshold = u32::decode(input)?;
        let validators = Vec::<N>::decode(input)?;
        let n = Compact::<u32>::decode(input)?.0 as usize;
        // Each inner set takes at least 6 bytes; never reserve more than the input can hold.
        let mut inner = Vec::with_capacity(n.min(input.remaining_len()?.unwrap_or(0) / 6));
        for _ in 0..n {
            inner.push(Self::decode_at(input, depth + 1)?);
        }
        Ok(QuorumSet {
            threshold,
            validators,
            inner,
        })
    }
}

impl<N: parity_scale_codec::Decode> parity_scale_codec::Decode for QuorumSet<N> {
    fn decode<I: parity_scale_codec::Input>(input: &mut I) -> Result<Self, parity_scale_codec::Error> {
        Self::decode_at(input, 0)
    }
}

/// Why a quorum set breaks the sanity rules.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum QuorumSetProblem {
    /// Threshold 0 or above the number of entries.
    #[error("threshold {threshold} is not between 1 and the {entries} entries")]
    BadThreshold {
        /// The threshold.
        threshold: u32,
        /// Entries at that level.
        entries: usize,
    },
    /// Nested deeper than allowed.
    #[error("inner sets nested deeper than {MAX_NESTING} levels")]
    TooDeep,
    /// Too many validators.
    #[error("{0} validators; at most {MAX_VALIDATORS}")]
    TooManyValidators(usize),
    /// A validator appears twice.
    #[error("validator {0} appears more than once")]
    Duplicate(String),
}

impl<N: Ord + Clone + std::fmt::Debug> QuorumSet<N> {
    /// A flat `threshold`-of-`validators` set.
    pub fn flat(threshold: u32, validators: Vec<N>) -> Self {
        QuorumSet {
            threshold,
            validators,
            inner: vec![],
        }
    }

    fn entries(&self) -> usize {
        self.validators.len() + self.inner.len()
    }

    /// Every validator named at any level.
    pub fn all_validators(&self) -> BTreeSet<N> {
        let mut out = BTreeSet::new();
        self.collect(&mut out);
        out
    }

    fn collect(&self, out: &mut BTreeSet<N>) {
        out.extend(self.validators.iter().cloned());
        for i in &self.inner {
            i.collect(out);
        }
    }

    /// The sanity rules: 1 <= threshold <= entries at every level, nesting <= 4, at most 1000
    /// validators, no validator twice. Returns every problem found.
    pub fn problems(&self) -> Vec<QuorumSetProblem> {
        let mut problems = Vec::new();
        let mut seen = BTreeSet::new();
        let mut count = 0;
        self.check(0, &mut seen, &mut count, &mut problems);
        if count > MAX_VALIDATORS {
            problems.push(QuorumSetProblem::TooManyValidators(count));
        }
        problems
    }

    fn check(&self, depth: usize, seen: &mut BTreeSet<N>, count: &mut usize, problems: &mut Vec<QuorumSetProblem>) {
        if depth > MAX_NESTING && !problems.contains(&QuorumSetProblem::TooDeep) {
            problems.push(QuorumSetProblem::TooDeep);
        }
        if self.threshold == 0 || self.threshold as usize > self.entries() {
            problems.push(QuorumSetProblem::BadThreshold {
                threshold: self.threshold,
                entries: self.entries(),
            });
        }
        for v in &self.validators {
            *count += 1;
            if !seen.insert(v.clone()) {
                problems.push(QuorumSetProblem::Duplicate(format!("{v:?}")));
            }
        }
        for i in &self.inner {
            i.check(depth + 1, seen, count, problems);
        }
    }

    /// Whether the nodes for which `member` holds contain a slice of this set.
    pub fn is_satisfied_by(&self, member: &impl Fn(&N) -> bool) -> bool {
        let mut left = self.threshold as usize;
        if left == 0 {
            return true;
        }
        // Entries not yet looked at: once fewer than still needed, the answer is no.
        let mut unseen = self.entries();
        for v in &self.validators {
            if unseen < left {
                return false;
            }
            unseen -= 1;
            if member(v) {
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        for i in &self.inner {
            if unseen < left {
                return false;
            }
            unseen -= 1;
            if i.is_satisfied_by(member) {
                left -= 1;
                if left == 0 {
                    return true;
                }
            }
        }
        false
    }

    /// Whether the nodes for which `member` holds are v-blocking: they meet every slice
    /// (more than `entries - threshold` entries are blocked).
    pub fn is_blocked_by(&self, member: &impl Fn(&N) -> bool) -> bool {
        if self.threshold == 0 {
            return false;
        }
        let mut needed = (self.entries() + 1).saturating_sub(self.threshold as usize);
        if needed == 0 {
            // More needed than there are entries: no slice exists, nothing to block.
            return true;
        }
        let mut unseen = self.entries();
        for v in &self.validators {
            if unseen < needed {
                return false;
            }
            unseen -= 1;
            if member(v) {
                needed -= 1;
                if needed == 0 {
                    return true;
                }
            }
        }
        for i in &self.inner {
            if unseen < needed {
                return false;
            }
            unseen -= 1;
            if i.is_blocked_by(member) {
                needed -= 1;
                if needed == 0 {
                    return true;
                }
            }
        }
        false
    }

    /// The fewest nodes among those for which `alive` holds that, together with every node
    /// for which it does not, form a v-blocking set (empty: already v-blocking). `excluded` is
    /// left out of consideration (stellar-core `LocalNode::findClosestVBlocking`, which the
    /// ballot protocol uses to report how far a node is from being blocked).
    pub fn closest_v_blocking(&self, alive: &impl Fn(&N) -> bool, excluded: Option<&N>) -> Vec<N> {
        // Entries that must be blocked; an empty set is never blocked.
        let mut left = (self.entries() + 1).saturating_sub(self.threshold as usize);
        if self.threshold == 0 {
            return vec![];
        }
        let mut singles = Vec::new();
        for v in &self.validators {
            if excluded == Some(v) {
                continue;
            }
            if alive(v) {
                singles.push(v.clone());
            } else {
                left -= 1;
                if left == 0 {
                    return vec![];
                }
            }
        }
        let mut groups = Vec::new();
        for i in &self.inner {
            let g = i.closest_v_blocking(alive, excluded);
            if g.is_empty() {
                left -= 1;
                if left == 0 {
                    return vec![];
                }
            } else {
                groups.push(g);
            }
        }
        // Cheapest first: a validator costs one node, an inner set at least one.
        groups.sort_by_key(Vec::len);
        let mut out: Vec<N> = singles.into_iter().take(left).collect();
        left -= out.len();
        for g in groups.into_iter().take(left) {
            out.extend(g);
        }
        out
    }

    /// The same set over other node names.
    pub fn map<M: Ord + Clone + std::fmt::Debug>(&self, f: &impl Fn(&N) -> M) -> QuorumSet<M> {
        QuorumSet {
            threshold: self.threshold,
            validators: self.validators.iter().map(f).collect(),
            inner: self.inner.iter().map(|i| i.map(f)).collect(),
        }
    }

    /// This set with `node` removed, as a node reads its own set: `node` counts as always
    /// agreeing, so each level naming it needs one entry less (stellar-core `normalizeQSet`),
    /// then [`QuorumSet::simplified`].
    pub fn without(&self, node: &N) -> Self {
        let mut out = self.clone();
        out.remove(node);
        out.simplified()
    }

    fn remove(&mut self, node: &N) {
        let before = self.validators.len();
        self.validators.retain(|v| v != node);
        let removed = before - self.validators.len();
        self.threshold = self.threshold.saturating_sub(removed as u32);
        for i in &mut self.inner {
            i.remove(node);
        }
    }

    /// Canonical form: an inner set of one validator with threshold 1 becomes that validator;
    /// a set whose only entry is one inner set becomes that inner set; entries sorted.
    pub fn simplified(&self) -> Self {
        let mut out = QuorumSet {
            threshold: self.threshold,
            validators: self.validators.clone(),
            inner: vec![],
        };
        for i in &self.inner {
            let i = i.simplified();
            if i.threshold == 1 && i.validators.len() == 1 && i.inner.is_empty() {
                out.validators.push(i.validators[0].clone());
            } else {
                out.inner.push(i);
            }
        }
        if out.threshold == 1 && out.validators.is_empty() && out.inner.len() == 1 {
            return out.inner.pop().expect("one inner set");
        }
        out.validators.sort();
        out.inner.sort();
        out
    }
}

/// JSON form used by stellar-core's quorum tools: `{"t": 2, "v": ["A", {"t": 1, "v": [...]}]}`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct QuorumSetJson {
    /// Threshold.
    pub t: u32,
    /// Entries: validator names or inner sets.
    pub v: Vec<EntryJson>,
}

/// An entry of [`QuorumSetJson`].
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(untagged)]
pub enum EntryJson {
    /// A validator.
    Validator(String),
    /// An inner set.
    Inner(QuorumSetJson),
}

impl From<&QuorumSetJson> for QuorumSet<String> {
    fn from(j: &QuorumSetJson) -> Self {
        let mut q = QuorumSet {
            threshold: j.t,
            validators: vec![],
            inner: vec![],
        };
        for e in &j.v {
            match e {
                EntryJson::Validator(v) => q.validators.push(v.clone()),
                EntryJson::Inner(i) => q.inner.push(i.into()),
            }
        }
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    /// {t: 2, v: [A, B, {t: 1, v: [C, D]}]}
    fn example() -> QuorumSet<String> {
        QuorumSet {
            threshold: 2,
            validators: s(&["A", "B"]),
            inner: vec![QuorumSet::flat(1, s(&["C", "D"]))],
        }
    }

    fn within<'a>(set: &'a [&'a str]) -> impl Fn(&String) -> bool + 'a {
        move |n: &String| set.contains(&n.as_str())
    }

    #[test]
    fn slices_count_inner_sets_as_entries() {
        let q = example();
        assert!(q.is_satisfied_by(&within(&["A", "B"])));
        assert!(q.is_satisfied_by(&within(&["A", "D"])));
        assert!(!q.is_satisfied_by(&within(&["C", "D"])), "the inner set is one entry");
        assert!(!q.is_satisfied_by(&within(&["A"])));
    }

    #[test]
    fn v_blocking_meets_every_slice() {
        let q = example();
        // 3 entries, threshold 2: any 2 blocked entries block.
        assert!(q.is_blocked_by(&within(&["A", "B"])));
        assert!(q.is_blocked_by(&within(&["A", "C", "D"])));
        assert!(
            !q.is_blocked_by(&within(&["A", "C"])),
            "C alone does not block the inner set"
        );
        assert!(!q.is_blocked_by(&within(&[])));
    }

    /// stellar-core SCPUnitTests "vblocking and quorum".
    #[test]
    fn vblocking_and_quorum() {
        let q = QuorumSet::flat(3, s(&["v0", "v1", "v2", "v3"]));
        let mut nodes: Vec<&str> = vec!["v0"];
        assert!(!q.is_satisfied_by(&within(&nodes)) && !q.is_blocked_by(&within(&nodes)));
        nodes.push("v2");
        assert!(!q.is_satisfied_by(&within(&nodes)) && q.is_blocked_by(&within(&nodes)));
        nodes.push("v3");
        assert!(q.is_satisfied_by(&within(&nodes)) && q.is_blocked_by(&within(&nodes)));
        nodes.push("v1");
        assert!(q.is_satisfied_by(&within(&nodes)) && q.is_blocked_by(&within(&nodes)));
    }

    /// The smallest subset of `alive` that blocks, by exhaustive search.
    fn brute_closest(q: &QuorumSet<String>, alive: &[&str]) -> usize {
        (0u32..(1 << alive.len()))
            .filter(|mask| {
                let chosen: Vec<&str> = alive
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| mask & (1 << i) != 0)
                    .map(|(_, n)| *n)
                    .collect();
                q.is_blocked_by(&|n: &String| !alive.contains(&n.as_str()) || chosen.contains(&n.as_str()))
            })
            .map(|m| m.count_ones() as usize)
            .min()
            .unwrap_or(usize::MAX)
    }

    /// stellar-core SCPUnitTests "v blocking distance", each answer also checked exhaustively.
    #[test]
    fn v_blocking_distance() {
        let check = |q: &QuorumSet<String>, alive: &[&str], expected: usize| {
            let r = q.closest_v_blocking(&within(alive), None);
            assert_eq!(r.len(), expected, "alive {alive:?}: got {r:?}");
            assert_eq!(brute_closest(q, alive), expected, "brute force disagrees for {alive:?}");
            assert!(q.is_blocked_by(&|n: &String| !alive.contains(&n.as_str()) || r.contains(n)));
        };
        let mut q = QuorumSet::flat(2, s(&["v0", "v1", "v2"]));
        check(&q, &["v0"], 0); // v1 and v2 already block
        check(&q, &["v0", "v1"], 1);
        check(&q, &["v0", "v1", "v2"], 2);
        q.inner.push(QuorumSet::flat(1, s(&["v3", "v4"])));
        check(&q, &["v0", "v1", "v2", "v3"], 3);
        check(&q, &["v0", "v1", "v2", "v3", "v4"], 3);
        q.threshold = 1;
        check(&q, &["v0", "v1", "v2", "v3", "v4"], 5);
        q.inner.push(QuorumSet::flat(2, s(&["v5", "v6", "v7"])));
        check(&q, &["v0", "v1", "v2", "v3", "v4"], 5);
        check(&q, &["v0", "v1", "v2", "v3", "v4", "v5"], 5);
        check(&q, &["v0", "v1", "v2", "v3", "v4", "v5", "v6"], 6);
        check(&q, &["v0", "v1", "v2", "v3", "v4", "v5", "v6", "v7"], 7);
        // The excluded node is never offered.
        let r = QuorumSet::flat(2, s(&["v0", "v1", "v2"]))
            .closest_v_blocking(&within(&["v0", "v1", "v2"]), Some(&"v0".to_string()));
        assert_eq!(r.len(), 2);
        assert!(!r.contains(&"v0".to_string()));
    }

    #[test]
    fn sanity_rules() {
        assert!(example().problems().is_empty());
        let zero = QuorumSet::flat(0, s(&["A"]));
        assert!(matches!(zero.problems()[0], QuorumSetProblem::BadThreshold { .. }));
        let over = QuorumSet::flat(3, s(&["A", "B"]));
        assert!(matches!(
            over.problems()[0],
            QuorumSetProblem::BadThreshold {
                threshold: 3,
                entries: 2
            }
        ));
        let dup = QuorumSet {
            threshold: 1,
            validators: s(&["A"]),
            inner: vec![QuorumSet::flat(1, s(&["A"]))],
        };
        assert_eq!(dup.problems(), vec![QuorumSetProblem::Duplicate("\"A\"".into())]);
        let mut deep = QuorumSet::flat(1, s(&["X"]));
        for i in 0..5 {
            deep = QuorumSet {
                threshold: 1,
                validators: vec![format!("L{i}")],
                inner: vec![deep],
            };
        }
        assert!(deep.problems().contains(&QuorumSetProblem::TooDeep));
        let many = QuorumSet::flat(1, (0..1001).map(|i| i.to_string()).collect());
        assert!(many.problems().contains(&QuorumSetProblem::TooManyValidators(1001)));
    }

    #[test]
    fn normalization_removes_self_and_simplifies() {
        // A's view of {2: A, B, {1: C}}: A always agrees, so it needs 1 of B, C.
        let q = QuorumSet {
            threshold: 2,
            validators: s(&["A", "B"]),
            inner: vec![QuorumSet::flat(1, s(&["C"]))],
        };
        assert_eq!(q.without(&"A".to_string()), QuorumSet::flat(1, s(&["B", "C"])));
        let wrapped = QuorumSet {
            threshold: 1,
            validators: vec![],
            inner: vec![QuorumSet::flat(2, s(&["Z", "Y"]))],
        };
        assert_eq!(wrapped.simplified(), QuorumSet::flat(2, s(&["Y", "Z"])));
    }

    #[test]
    fn json_form_parses() {
        let j: QuorumSetJson = serde_json::from_str(r#"{"t": 2, "v": ["A", "B", {"t": 1, "v": ["C", "D"]}]}"#).unwrap();
        assert_eq!(QuorumSet::from(&j), example());
    }
}

#[cfg(test)]
mod codec_tests {
    use super::*;
    use parity_scale_codec::{Decode, Encode};

    fn nested(depth: usize) -> QuorumSet<u8> {
        let mut q = QuorumSet::flat(1, vec![0]);
        for i in 0..depth {
            q = QuorumSet {
                threshold: 1,
                validators: vec![i as u8 + 1],
                inner: vec![q],
            };
        }
        q
    }

    #[test]
    fn quorum_sets_round_trip_up_to_the_nesting_limit() {
        let q = nested(MAX_NESTING);
        assert_eq!(QuorumSet::<u8>::decode(&mut &q.encode()[..]).unwrap(), q);
    }

    #[test]
    fn decoding_refuses_nesting_past_the_limit() {
        let q = nested(MAX_NESTING + 1);
        assert!(QuorumSet::<u8>::decode(&mut &q.encode()[..]).is_err());
    }
}
