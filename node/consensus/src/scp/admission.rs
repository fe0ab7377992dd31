//! Which envelopes the node looks at: only those of nodes in its local transitive quorum
//! (issue 17, "envelopes scoped to the quorum").
//!
//! The transitive quorum is every validator named by the node's own quorum set, and, for each
//! of those whose quorum set is known, every validator named by that set, and so on (stellar-core
//! `QuorumTracker`, used by `Herder::recvSCPEnvelope` to drop envelopes of nodes outside it
//! before any other check). A node outside it can influence no quorum this node belongs to,
//! so its envelopes are worth nothing here: they are dropped before the signature check, before
//! anything they name is fetched and before they could be relayed. The check is a set lookup.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use watt_primitives::{AccountId, Hash};
use watt_scp::QuorumSet;

/// Most nodes the transitive quorum may hold; beyond it, members are not expanded further
/// (a bound on what a quorum member's enormous quorum set can cost).
pub(crate) const MAX_TRANSITIVE_NODES: usize = 1_000;

/// The local transitive quorum.
pub(crate) struct QuorumScope {
    local: QuorumSet<AccountId>,
    /// The quorum-set hash each member last named in an envelope this node accepted.
    named: BTreeMap<AccountId, Hash>,
    members: BTreeSet<AccountId>,
}

impl QuorumScope {
    pub(crate) fn new(local: QuorumSet<AccountId>) -> Self {
        let mut scope = QuorumScope {
            local,
            named: BTreeMap::new(),
            members: BTreeSet::new(),
        };
        scope.recompute(&HashMap::new());
        scope
    }

    pub(crate) fn contains(&self, node: &AccountId) -> bool {
        self.members.contains(node)
    }

    pub(crate) fn len(&self) -> usize {
        self.members.len()
    }

    pub(crate) fn members(&self) -> &BTreeSet<AccountId> {
        &self.members
    }

    /// A member was seen naming the quorum set `hash` (in an envelope whose signature
    /// verified). Returns whether the transitive quorum changed.
    pub(crate) fn note(&mut self, node: AccountId, hash: Hash, qsets: &HashMap<Hash, QuorumSet<AccountId>>) -> bool {
        if !self.members.contains(&node) || self.named.get(&node) == Some(&hash) {
            return false;
        }
        self.named.insert(node, hash);
        self.recompute(qsets)
    }

    /// A quorum set arrived: members naming it may widen the quorum.
    pub(crate) fn qset_known(&mut self, hash: &Hash, qsets: &HashMap<Hash, QuorumSet<AccountId>>) -> bool {
        if self.named.values().any(|h| h == hash) {
            self.recompute(qsets)
        } else {
            false
        }
    }

    fn recompute(&mut self, qsets: &HashMap<Hash, QuorumSet<AccountId>>) -> bool {
        let mut members: BTreeSet<AccountId> = BTreeSet::new();
        let mut todo: Vec<AccountId> = self.local.all_validators().into_iter().collect();
        while let Some(n) = todo.pop() {
            if members.len() >= MAX_TRANSITIVE_NODES {
                break;
            }
            if !members.insert(n) {
                continue;
            }
            if let Some(q) = self.named.get(&n).and_then(|h| qsets.get(h)) {
                todo.extend(q.all_validators().into_iter().filter(|m| !members.contains(m)));
            }
        }
        // Members that left keep no named set (they may come back with another).
        self.named.retain(|n, _| members.contains(n));
        let changed = members != self.members;
        self.members = members;
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(i: u8) -> AccountId {
        AccountId::from([i; 32])
    }

    fn hash_of(q: &QuorumSet<AccountId>) -> Hash {
        super::super::quorum_set_hash(q)
    }

    /// Members of the own set are in; a member's named set brings its validators in (and
    /// theirs, transitively); strangers are out, and a stranger naming a set changes nothing.
    #[test]
    fn the_transitive_quorum_follows_known_quorum_sets() {
        let local = QuorumSet::flat(2, vec![id(1), id(2), id(3)]);
        let mut scope = QuorumScope::new(local);
        assert!(scope.contains(&id(1)) && scope.contains(&id(3)));
        assert!(!scope.contains(&id(4)));
        let q2 = QuorumSet::flat(1, vec![id(2), id(4)]);
        let q4 = QuorumSet::flat(1, vec![id(4), id(5)]);
        let stranger = QuorumSet::flat(1, vec![id(9), id(8)]);
        let mut qsets = HashMap::new();
        for q in [&q2, &q4, &stranger] {
            qsets.insert(hash_of(q), q.clone());
        }
        assert!(
            !scope.note(id(9), hash_of(&stranger), &qsets),
            "a stranger cannot widen the quorum"
        );
        assert!(!scope.contains(&id(8)));
        assert!(scope.note(id(2), hash_of(&q2), &qsets));
        assert!(scope.contains(&id(4)) && !scope.contains(&id(5)));
        assert!(scope.note(id(4), hash_of(&q4), &qsets));
        assert!(scope.contains(&id(5)), "transitive");
        // Node 2 changes its set to one without 4: 4 and 5 leave.
        let q2b = QuorumSet::flat(1, vec![id(2), id(3)]);
        qsets.insert(hash_of(&q2b), q2b.clone());
        assert!(scope.note(id(2), hash_of(&q2b), &qsets));
        assert!(!scope.contains(&id(4)) && !scope.contains(&id(5)));
    }

    /// A set named before it is known widens the quorum once it arrives.
    #[test]
    fn a_quorum_set_arriving_later_widens_the_quorum() {
        let mut scope = QuorumScope::new(QuorumSet::flat(1, vec![id(1)]));
        let q1 = QuorumSet::flat(1, vec![id(1), id(7)]);
        let mut qsets = HashMap::new();
        assert!(!scope.note(id(1), hash_of(&q1), &qsets));
        assert!(!scope.contains(&id(7)));
        qsets.insert(hash_of(&q1), q1.clone());
        assert!(scope.qset_known(&hash_of(&q1), &qsets));
        assert!(scope.contains(&id(7)));
    }

    /// A member naming an enormous set cannot grow the quorum past the bound.
    #[test]
    fn the_transitive_quorum_is_bounded() {
        let mut scope = QuorumScope::new(QuorumSet::flat(1, vec![id(1)]));
        let many: Vec<AccountId> = (0..3_000u32)
            .map(|i| {
                let mut b = [0u8; 32];
                b[..4].copy_from_slice(&i.to_le_bytes());
                b[31] = 0xee;
                AccountId::from(b)
            })
            .collect();
        let big = QuorumSet::flat(1, many);
        let mut qsets = HashMap::new();
        qsets.insert(hash_of(&big), big.clone());
        scope.note(id(1), hash_of(&big), &qsets);
        assert_eq!(scope.len(), MAX_TRANSITIVE_NODES);
    }
}
