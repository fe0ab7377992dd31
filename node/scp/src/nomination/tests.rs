//! Scenarios after stellar-core's "nomination tests core5": five nodes v0..v4, each with
//! quorum set 4-of-{v0..v4}; we are v0.

use super::*;
use std::cell::RefCell;

fn v(i: usize) -> String {
    format!("v{i}")
}

fn qset() -> QuorumSet<String> {
    QuorumSet::flat(4, (0..5).map(v).collect())
}

fn val(s: &str) -> Value {
    s.as_bytes().to_vec()
}

/// Priorities are set per round by the test; every node is a neighbour.
#[derive(Default)]
struct Driver {
    /// (round, node) -> priority; a missing round uses round 0's entry.
    priority: RefCell<BTreeMap<(u32, String), u64>>,
    invalid: BTreeSet<Value>,
}

impl Driver {
    fn top(self, node: &str) -> Self {
        self.priority.borrow_mut().insert((0, node.to_string()), 1000);
        self
    }
    fn top_in_round(&self, round: u32, node: &str) {
        self.priority
            .borrow_mut()
            .insert((round, node.to_string()), 1000 + round as u64);
    }
}

impl NominationDriver<String> for Driver {
    fn validate(&self, _: u64, value: &Value) -> Validity {
        if self.invalid.contains(value) {
            Validity::Invalid
        } else {
            Validity::Valid
        }
    }
    fn combine(&self, _: u64, candidates: &BTreeSet<Value>) -> Value {
        candidates.iter().max().cloned().unwrap_or_default()
    }
    fn hash_node(&self, _: u64, _: &Value, priority: bool, round: u32, node: &String) -> u64 {
        if !priority {
            return 0; // everyone is a neighbour
        }
        let p = self.priority.borrow();
        let explicit = (1..=round).rev().find_map(|r| p.get(&(r, node.clone())).copied());
        explicit.or_else(|| p.get(&(0, node.clone())).copied()).unwrap_or(1)
    }
    fn hash_value(&self, _: u64, _: &Value, _: u32, value: &Value) -> u64 {
        value.iter().map(|b| *b as u64).sum()
    }
}

fn nominate_st(votes: &[&str], accepted: &[&str]) -> Nominate {
    Nominate {
        votes: votes.iter().map(|s| val(s)).collect(),
        accepted: accepted.iter().map(|s| val(s)).collect(),
    }
}

fn emitted(effects: &[NominationEffect]) -> Vec<Nominate> {
    effects
        .iter()
        .filter_map(|e| {
            if let NominationEffect::Emit(st) = e {
                Some(st.clone())
            } else {
                None
            }
        })
        .collect()
}

fn composite(effects: &[NominationEffect]) -> Option<Value> {
    effects.iter().find_map(|e| {
        if let NominationEffect::Composite(c) = e {
            Some(c.clone())
        } else {
            None
        }
    })
}

#[test]
fn weights_follow_thresholds_down_the_tree() {
    let q = QuorumSet {
        threshold: 2,
        validators: vec![v(0), v(1)],
        inner: vec![QuorumSet::flat(1, vec![v(2), v(3)])],
    };
    let two_thirds = node_weight(&v(0), &q);
    assert_eq!(two_thirds, (u64::MAX as u128 * 2 / 3) as u64);
    // Inner first (1 of 2), then the outer 2 of 3: MAX/2 * 2/3, rounded down at each step.
    let half = (u64::MAX as u128 / 2) as u64;
    assert_eq!(node_weight(&v(2), &q), (half as u128 * 2 / 3) as u64);
    assert_eq!(node_weight(&v(9), &q), 0);
}

#[test]
fn the_top_priority_node_leads_and_a_leader_votes_its_own_value() {
    let d = Driver::default().top("v0");
    let mut n = Nomination::new(1, v(0), qset());
    let fx = n.nominate(&d, val("x"), val("prev"));
    assert_eq!(n.leaders(), &BTreeSet::from([v(0)]));
    assert_eq!(emitted(&fx), vec![nominate_st(&["x"], &[])]);
    assert!(fx.contains(&NominationEffect::ArmTimer { delay_ms: 1000 }));
}

#[test]
fn a_follower_echoes_the_leader_not_its_own_value() {
    let d = Driver::default().top("v1");
    let mut n = Nomination::new(1, v(0), qset());
    let fx = n.nominate(&d, val("x"), val("prev"));
    assert_eq!(n.leaders(), &BTreeSet::from([v(1)]));
    assert!(emitted(&fx).is_empty(), "not a leader: nothing to vote yet");
    // A non-leader's vote is not echoed; the leader's is.
    assert!(emitted(&n.receive(&d, &v(2), nominate_st(&["z"], &[]), Some(qset().into()))).is_empty());
    let fx = n.receive(&d, &v(1), nominate_st(&["y"], &[]), Some(qset().into()));
    assert_eq!(emitted(&fx), vec![nominate_st(&["y"], &[])]);
}

#[test]
fn a_quorum_of_votes_accepts_and_a_quorum_of_accepts_confirms() {
    let d = Driver::default().top("v0");
    let mut n = Nomination::new(1, v(0), qset());
    n.nominate(&d, val("x"), val("prev"));
    // v1, v2 vote x: with v0 that is 3 of 5, no quorum yet.
    for i in 1..3 {
        assert!(emitted(&n.receive(&d, &v(i), nominate_st(&["x"], &[]), Some(qset().into()))).is_empty());
    }
    assert!(n.accepted().is_empty());
    let fx = n.receive(&d, &v(3), nominate_st(&["x"], &[]), Some(qset().into()));
    assert_eq!(
        emitted(&fx),
        vec![nominate_st(&["x"], &["x"])],
        "4 of 5 voted: accepted"
    );
    // Confirmation needs a quorum of acceptances (v0 counts itself).
    for i in 1..3 {
        let fx = n.receive(&d, &v(i), nominate_st(&["x"], &["x"]), Some(qset().into()));
        assert_eq!(composite(&fx), None);
    }
    let fx = n.receive(&d, &v(3), nominate_st(&["x"], &["x"]), Some(qset().into()));
    assert_eq!(composite(&fx), Some(val("x")));
    assert_eq!(n.candidates(), &BTreeSet::from([val("x")]));
    // With a candidate, nomination starts no new rounds.
    assert!(n.timeout(&d).is_empty());
}

#[test]
fn a_v_blocking_set_of_acceptances_is_enough_to_accept() {
    let d = Driver::default().top("v0");
    let mut n = Nomination::new(1, v(0), qset());
    n.nominate(&d, val("x"), val("prev"));
    // 4-of-5: any 2 nodes are v-blocking.
    assert!(emitted(&n.receive(&d, &v(1), nominate_st(&["y"], &["y"]), Some(qset().into()))).is_empty());
    let fx = n.receive(&d, &v(2), nominate_st(&["y"], &["y"]), Some(qset().into()));
    assert_eq!(emitted(&fx), vec![nominate_st(&["x", "y"], &["y"])]);
}

#[test]
fn invalid_values_are_neither_echoed_nor_accepted() {
    let d = Driver {
        invalid: BTreeSet::from([val("bad")]),
        ..Default::default()
    }
    .top("v1");
    let mut n = Nomination::new(1, v(0), qset());
    n.nominate(&d, val("x"), val("prev"));
    assert!(emitted(&n.receive(&d, &v(1), nominate_st(&["bad"], &[]), Some(qset().into()))).is_empty());
    for i in 1..5 {
        n.receive(&d, &v(i), nominate_st(&["bad"], &["bad"]), Some(qset().into()));
    }
    assert!(n.accepted().is_empty() && n.candidates().is_empty());
}

#[test]
fn a_dead_leader_times_out_to_a_new_leader_skipping_rounds_that_add_none() {
    let d = Driver::default().top("v1");
    let mut n = Nomination::new(1, v(0), qset());
    n.nominate(&d, val("x"), val("prev"));
    assert_eq!(n.round(), 1);
    // v2 already spoke; v1 (the leader) is silent.
    n.receive(&d, &v(2), nominate_st(&["z"], &[]), Some(qset().into()));
    assert!(n.votes().is_empty());
    // Round 2 would be v1 again (no new leader): skipped. Round 3 is v2's.
    d.top_in_round(3, "v2");
    let fx = n.timeout(&d);
    assert_eq!(n.round(), 3);
    assert_eq!(n.leaders(), &BTreeSet::from([v(1), v(2)]), "leaders accumulate");
    assert_eq!(
        emitted(&fx),
        vec![nominate_st(&["z"], &[])],
        "the new leader's value is taken up"
    );
    assert!(
        fx.contains(&NominationEffect::ArmTimer { delay_ms: 3000 }),
        "the timer grows with the round"
    );
}

#[test]
fn only_newer_statements_count() {
    let d = Driver::default().top("v0");
    let mut n = Nomination::new(1, v(0), qset());
    n.nominate(&d, val("x"), val("prev"));
    n.receive(&d, &v(1), nominate_st(&["x", "y"], &[]), Some(qset().into()));
    // Not a superset: ignored, so v1 still counts as voting x and y.
    n.receive(&d, &v(1), nominate_st(&["w"], &[]), Some(qset().into()));
    assert_eq!(n.latest_statement(&v(1)), Some(&nominate_st(&["x", "y"], &[])));
    n.receive(&d, &v(1), nominate_st(&["x", "y"], &["x"]), Some(qset().into()));
    assert_eq!(n.latest_statement(&v(1)), Some(&nominate_st(&["x", "y"], &["x"])));
    assert!(!nominate_st(&[], &[]).is_newer_than(&nominate_st(&[], &[])));
}

#[test]
fn restored_state_is_never_contradicted() {
    let d = Driver::default().top("v0");
    let mut n = Nomination::new(1, v(0), qset());
    n.restore(nominate_st(&["a", "x"], &["a"]));
    let fx = n.nominate(&d, val("y"), val("prev"));
    let sent = emitted(&fx);
    assert_eq!(
        sent,
        vec![nominate_st(&["a", "x", "y"], &["a"])],
        "a superset of what was said before the restart"
    );
}

#[test]
fn unknown_quorum_sets_do_not_count_and_stop_halts() {
    let d = Driver::default().top("v0");
    let mut n = Nomination::new(1, v(0), qset());
    n.nominate(&d, val("x"), val("prev"));
    for i in 1..4 {
        n.receive(
            &d,
            &v(i),
            nominate_st(&["x"], &[]),
            if i == 3 { None } else { Some(qset().into()) },
        );
    }
    assert!(n.accepted().is_empty(), "v3's quorum set is unknown, so no quorum");
    n.stop();
    assert!(n.timeout(&d).is_empty());
    assert!(n
        .receive(&d, &v(4), nominate_st(&["x"], &["x"]), Some(qset().into()))
        .is_empty());
}

/// Hashes like a real driver: pseudo-random per (slot, previous, kind, round, node), the same
/// on every node.
struct HashingDriver;

impl NominationDriver<String> for HashingDriver {
    fn validate(&self, _: u64, _: &Value) -> Validity {
        Validity::Valid
    }
    fn combine(&self, _: u64, candidates: &BTreeSet<Value>) -> Value {
        candidates.iter().max().cloned().unwrap_or_default()
    }
    fn hash_node(&self, slot: u64, previous: &Value, priority: bool, round: u32, node: &String) -> u64 {
        use std::hash::{Hash, Hasher};
        // SipHash with fixed keys: deterministic across runs and machines.
        let mut h = std::hash::DefaultHasher::new();
        (slot, previous, priority, round, node).hash(&mut h);
        h.finish()
    }
    fn hash_value(&self, _: u64, _: &Value, _: u32, value: &Value) -> u64 {
        value.iter().map(|b| *b as u64).sum()
    }
}

/// Nodes that share a quorum set agree on every round's leaders (see `own_weight`). Under
/// stellar-core's rule (own weight 1, the others 3/4 as read without oneself: 2/3), the
/// round-1 leaders of four 3-of-4 nodes differ in a good share of slots, because a node that
/// fails the neighbour check in its peers' eyes still leads for itself.
#[test]
fn nodes_sharing_a_quorum_set_pick_the_same_leaders_every_round() {
    let d = HashingDriver;
    let qset = QuorumSet::flat(3, (0..4).map(v).collect());
    let mut leaders_seen = BTreeSet::new();
    for slot in 1..=200u64 {
        let mut nodes: Vec<Nomination<String>> = (0..4).map(|i| Nomination::new(slot, v(i), qset.clone())).collect();
        for (i, n) in nodes.iter_mut().enumerate() {
            n.nominate(&d, val(&format!("value of v{i}")), val("prev"));
        }
        for round in 1..=3 {
            let first = nodes[0].leaders().clone();
            assert!(!first.is_empty(), "slot {slot} round {round}: no leader");
            for n in &nodes[1..] {
                assert_eq!(n.leaders(), &first, "slot {slot} round {round}: leaders differ");
            }
            leaders_seen.extend(first);
            for n in nodes.iter_mut() {
                n.timeout(&d);
            }
        }
    }
    assert_eq!(leaders_seen.len(), 4, "every node leads some slots: {leaders_seen:?}");
}

#[test]
fn a_node_is_weighed_as_its_peers_weigh_it() {
    // 3 of 4: a peer reads the set without itself (2 of the other 3), so it weighs us 2/3.
    let n = Nomination::new(1, v(0), QuorumSet::flat(3, (0..4).map(v).collect()));
    assert_eq!(n.own_weight(), (u64::MAX as u128 * 2 / 3) as u64);
    // Not in its own quorum set: full weight, as stellar-core gives it.
    let outsider = Nomination::new(1, v(9), QuorumSet::flat(3, (0..4).map(v).collect()));
    assert_eq!(outsider.own_weight(), u64::MAX);
}
