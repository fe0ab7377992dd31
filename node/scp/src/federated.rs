//! Federated voting (draft-mazieres-dinrg-scp §3.2; stellar-core `Slot::federatedAccept` /
//! `federatedRatify`), over each node's latest statement.
//!
//! A node *accepts* a statement when either a v-blocking set (of its own quorum set) has
//! accepted it, or a quorum (including itself) has voted for or accepted it. It *confirms*
//! (ratifies) a statement when a quorum has accepted it. Callers give the statements as a map
//! from node to its latest statement, how to find a statement's quorum set, and the predicates.
//! The protocols themselves run the same checks over node numbers ([`table`]), which is faster.

use crate::quorum::QuorumSet;
use std::collections::{BTreeMap, BTreeSet};

pub(crate) mod table;

/// Whether `q`'s slices are satisfied by `nodes`, remembering answers per quorum set (by
/// address) within one pass: in most networks many nodes share one quorum set, and the
/// simulator and the node hand out one shared copy per quorum-set hash.
struct SliceMemo<'q, N> {
    answers: Vec<(&'q QuorumSet<N>, bool)>,
}

impl<'q, N: Ord + Clone + std::fmt::Debug> SliceMemo<'q, N> {
    fn new() -> Self {
        SliceMemo { answers: Vec::new() }
    }

    fn satisfied(&mut self, q: &'q QuorumSet<N>, nodes: &BTreeSet<&N>) -> bool {
        if let Some((_, r)) = self.answers.iter().find(|(m, _)| std::ptr::eq(*m, q)) {
            return *r;
        }
        let r = q.is_satisfied_by(&|m: &N| nodes.contains(m));
        self.answers.push((q, r));
        r
    }
}

/// The nodes among `statements` that satisfy `filter` and form a quorum together with each
/// other: start from all that satisfy `filter`, then drop those whose quorum set has no slice
/// left among the rest, until stable (stellar-core `LocalNode::isQuorum`'s fixpoint).
pub fn quorum_among<N: Ord + Clone + std::fmt::Debug, S>(
    statements: &BTreeMap<N, S>,
    qset_of: &impl Fn(&S) -> Option<&QuorumSet<N>>,
    filter: &impl Fn(&S) -> bool,
) -> BTreeSet<N> {
    fixpoint(None, statements, qset_of, filter)
        .into_iter()
        .cloned()
        .collect()
}

/// The fixpoint of [`quorum_among`]; with `local`, it stops early (returning the empty set)
/// as soon as what is left cannot satisfy `local`, the common case while a vote is young.
fn fixpoint<'s, N: Ord + Clone + std::fmt::Debug, S>(
    local: Option<&QuorumSet<N>>,
    statements: &'s BTreeMap<N, S>,
    qset_of: &impl Fn(&S) -> Option<&QuorumSet<N>>,
    filter: &impl Fn(&S) -> bool,
) -> BTreeSet<&'s N> {
    let mut nodes: BTreeSet<&N> = statements.iter().filter(|(_, s)| filter(s)).map(|(n, _)| n).collect();
    loop {
        if local.is_some_and(|l| !l.is_satisfied_by(&|m: &N| nodes.contains(m))) {
            return BTreeSet::new();
        }
        let mut memo = SliceMemo::new();
        let keep: BTreeSet<&N> = nodes
            .iter()
            .filter(|n| qset_of(&statements[**n]).is_some_and(|q| memo.satisfied(q, &nodes)))
            .copied()
            .collect();
        if keep.len() == nodes.len() {
            return keep;
        }
        nodes = keep;
    }
}

/// Whether the local node, with quorum set `local`, accepts: the nodes that accepted are
/// v-blocking, or those that voted or accepted contain a quorum that satisfies `local`.
pub fn federated_accept<N: Ord + Clone + std::fmt::Debug, S>(
    local: &QuorumSet<N>,
    statements: &BTreeMap<N, S>,
    qset_of: &impl Fn(&S) -> Option<&QuorumSet<N>>,
    voted: &impl Fn(&S) -> bool,
    accepted: &impl Fn(&S) -> bool,
) -> bool {
    if local.is_blocked_by(&|n: &N| statements.get(n).is_some_and(accepted)) {
        return true;
    }
    let either = |s: &S| voted(s) || accepted(s);
    // Cheap first: our own slices must be among the candidates at all.
    local.is_satisfied_by(&|n: &N| statements.get(n).is_some_and(either))
        && !fixpoint(Some(local), statements, qset_of, &either).is_empty()
}

/// Whether the local node confirms: the nodes whose statements satisfy `ratified` contain a
/// quorum that satisfies `local`.
pub fn federated_ratify<N: Ord + Clone + std::fmt::Debug, S>(
    local: &QuorumSet<N>,
    statements: &BTreeMap<N, S>,
    qset_of: &impl Fn(&S) -> Option<&QuorumSet<N>>,
    ratified: &impl Fn(&S) -> bool,
) -> bool {
    local.is_satisfied_by(&|n: &N| statements.get(n).is_some_and(ratified))
        && !fixpoint(Some(local), statements, qset_of, ratified).is_empty()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A statement as nomination or ballot code would summarise it for one value.
    #[derive(Clone, Copy, Debug, PartialEq)]
    enum Vote {
        Nothing,
        Voted,
        Accepted,
    }

    /// A node's vote and its quorum set (`None`: unknown).
    type St = (Vote, Option<QuorumSet<String>>);

    fn names(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    fn mesh4() -> QuorumSet<String> {
        QuorumSet::flat(3, names(&["A", "B", "C", "D"]))
    }

    /// Everyone with the 3-of-4 mesh quorum set.
    fn statements(pairs: &[(&str, Vote)]) -> BTreeMap<String, St> {
        pairs
            .iter()
            .map(|(n, v)| (n.to_string(), (*v, Some(mesh4()))))
            .collect()
    }

    fn qset_of(s: &St) -> Option<&QuorumSet<String>> {
        s.1.as_ref()
    }

    fn voted(s: &St) -> bool {
        s.0 == Vote::Voted
    }

    fn accepted(s: &St) -> bool {
        s.0 == Vote::Accepted
    }

    #[test]
    fn a_quorum_of_votes_makes_a_node_accept() {
        use Vote::*;
        let st = statements(&[("A", Voted), ("B", Voted), ("C", Voted), ("D", Nothing)]);
        assert!(federated_accept(&mesh4(), &st, &qset_of, &voted, &accepted));
        let st = statements(&[("A", Voted), ("B", Voted), ("C", Nothing), ("D", Nothing)]);
        assert!(
            !federated_accept(&mesh4(), &st, &qset_of, &voted, &accepted),
            "two of four is no quorum"
        );
    }

    #[test]
    fn a_v_blocking_set_of_acceptances_makes_a_node_accept_without_voting() {
        use Vote::*;
        // 3 of 4: any 2 nodes are v-blocking.
        let st = statements(&[("A", Nothing), ("B", Accepted), ("C", Accepted), ("D", Nothing)]);
        assert!(federated_accept(&mesh4(), &st, &qset_of, &voted, &accepted));
        let st = statements(&[("A", Nothing), ("B", Accepted), ("C", Nothing), ("D", Nothing)]);
        assert!(!federated_accept(&mesh4(), &st, &qset_of, &voted, &accepted));
    }

    #[test]
    fn ratification_needs_a_quorum_of_the_ratified_statement() {
        use Vote::*;
        let st = statements(&[("A", Accepted), ("B", Accepted), ("C", Accepted), ("D", Voted)]);
        assert!(federated_ratify(&mesh4(), &st, &qset_of, &accepted));
        let st = statements(&[("A", Accepted), ("B", Accepted), ("C", Voted), ("D", Voted)]);
        assert!(
            !federated_ratify(&mesh4(), &st, &qset_of, &accepted),
            "votes do not confirm"
        );
    }

    #[test]
    fn members_whose_own_quorum_set_is_unsatisfied_do_not_count() {
        use Vote::*;
        // C and D need 3 of {C, D, E}; E said nothing, so C and D drop out, and then A and B
        // (who need 3 of A..D) cannot make a quorum either.
        let mut st = statements(&[("A", Voted), ("B", Voted), ("C", Voted), ("D", Voted), ("E", Nothing)]);
        let known = st.clone();
        for n in ["C", "D"] {
            st.get_mut(n).unwrap().1 = Some(QuorumSet::flat(3, names(&["C", "D", "E"])));
        }
        assert!(quorum_among(&st, &qset_of, &voted).is_empty());
        assert!(!federated_accept(&mesh4(), &st, &qset_of, &voted, &accepted));
        assert!(
            federated_accept(&mesh4(), &known, &qset_of, &voted, &accepted),
            "with known slices they do"
        );
        assert_eq!(quorum_among(&known, &qset_of, &voted).len(), 4);
    }

    #[test]
    fn nodes_with_unknown_quorum_sets_never_count() {
        use Vote::*;
        let mut st = statements(&[("A", Voted), ("B", Voted), ("C", Voted), ("D", Nothing)]);
        assert!(federated_accept(&mesh4(), &st, &qset_of, &voted, &accepted));
        st.get_mut("C").unwrap().1 = None;
        assert!(!federated_accept(&mesh4(), &st, &qset_of, &voted, &accepted));
    }
}
