use super::*;
use crate::quorum::QuorumSet;
use std::time::Instant;

fn names(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn set(v: &[&str]) -> BTreeSet<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn flat_network(groups: &[(&[&str], u32)]) -> Network {
    let mut qsets = BTreeMap::new();
    for (members, t) in groups {
        for m in *members {
            qsets.insert(m.to_string(), QuorumSet::flat(*t, names(members)));
        }
    }
    Network::new(qsets)
}

#[test]
fn a_3_of_4_mesh_intersects() {
    let net = flat_network(&[(&["A", "B", "C", "D"], 3)]);
    assert_eq!(
        check_intersection(&net).unwrap(),
        IntersectionResult::Intersecting { has_quorum: true }
    );
}

#[test]
fn a_2_of_4_mesh_splits_into_two_pairs() {
    let net = flat_network(&[(&["A", "B", "C", "D"], 2)]);
    match check_intersection(&net).unwrap() {
        IntersectionResult::Split(a, b) => {
            assert!(net.is_quorum(&a) && net.is_quorum(&b) && a.is_disjoint(&b));
            assert_eq!((a.len(), b.len()), (2, 2), "minimal quorums");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn two_islands_are_found() {
    let net = flat_network(&[(&["A", "B"], 2), (&["C", "D", "E"], 2)]);
    match check_intersection(&net).unwrap() {
        IntersectionResult::Split(a, b) => {
            let (small, big) = if a.contains("A") { (a, b) } else { (b, a) };
            assert_eq!(small, set(&["A", "B"]));
            assert_eq!(big.len(), 2);
            assert!(big.is_subset(&set(&["C", "D", "E"])));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn no_quorum_at_all_is_reported() {
    let mut qsets = BTreeMap::new();
    qsets.insert("A".to_string(), QuorumSet::flat(2, names(&["A", "Z"])));
    let net = Network::new(qsets);
    assert!(
        net.problems.iter().any(|p| p.contains("validator Z")),
        "{:?}",
        net.problems
    );
    assert_eq!(
        check_intersection(&net).unwrap(),
        IntersectionResult::Intersecting { has_quorum: false }
    );
}

/// `orgs` organizations of 3 validators (2 of 3 inside), each node needing `t` organizations.
pub fn tiered(orgs: usize, t: u32) -> Network {
    let top = crate::sim::topology::tiered_qset(orgs, t);
    let qsets = top.all_validators().into_iter().map(|n| (n, top.clone())).collect();
    Network::new(qsets)
}

#[test]
fn a_51_validator_tiered_network_is_answered_in_seconds() {
    let started = Instant::now();
    assert_eq!(
        check_intersection(&tiered(17, 12)).unwrap(),
        IntersectionResult::Intersecting { has_quorum: true }
    );
    let net = tiered(17, 8);
    match check_intersection(&net).unwrap() {
        IntersectionResult::Split(a, b) => assert!(net.is_quorum(&a) && net.is_quorum(&b) && a.is_disjoint(&b)),
        other => panic!("8 of 17 organizations must split: {other:?}"),
    }
    assert!(started.elapsed().as_secs() < 20, "took {:?}", started.elapsed());
}

/// Deterministic xorshift, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn random_qset(rng: &mut Rng, nodes: &[String], depth: usize) -> QuorumSet<String> {
    let mut validators: Vec<String> = nodes.iter().filter(|_| rng.below(2) == 0).cloned().collect();
    let mut inner = vec![];
    if depth < 1 && rng.below(3) == 0 {
        let rest: Vec<String> = nodes.iter().filter(|n| !validators.contains(n)).cloned().collect();
        if rest.len() >= 2 {
            inner.push(random_qset(rng, &rest, depth + 1));
        }
    }
    if validators.is_empty() && inner.is_empty() {
        validators.push(nodes[rng.below(nodes.len() as u64) as usize].clone());
    }
    let entries = (validators.len() + inner.len()) as u64;
    QuorumSet {
        threshold: 1 + rng.below(entries) as u32,
        validators,
        inner,
    }
}

/// Every quorum by brute force, and whether two are disjoint.
fn brute_force_split(net: &Network) -> bool {
    let nodes: Vec<&String> = net.qsets.keys().collect();
    let quorums: Vec<u32> = (1u32..(1 << nodes.len()))
        .filter(|mask| {
            let s: BTreeSet<String> = nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << i) != 0)
                .map(|(_, n)| (*n).clone())
                .collect();
            net.is_quorum(&s)
        })
        .collect();
    quorums.iter().any(|a| quorums.iter().any(|b| a & b == 0))
}

#[test]
fn agrees_with_brute_force_on_random_networks() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let (mut splits, mut intersecting) = (0, 0);
    for _ in 0..400 {
        let n = 2 + rng.below(6) as usize;
        let nodes: Vec<String> = (0..n).map(|i| format!("N{i}")).collect();
        let qsets = nodes
            .iter()
            .map(|x| (x.clone(), random_qset(&mut rng, &nodes, 0)))
            .collect();
        let net = Network::new(qsets);
        let expected = brute_force_split(&net);
        match check_intersection(&net).unwrap() {
            IntersectionResult::Split(a, b) => {
                assert!(expected, "SAT found a split brute force did not: {net:?}");
                assert!(net.is_quorum(&a) && net.is_quorum(&b) && a.is_disjoint(&b));
                splits += 1;
            }
            IntersectionResult::Intersecting { .. } => {
                assert!(!expected, "missed a split: {net:?}");
                intersecting += 1;
            }
        }
    }
    assert!(
        splits > 20 && intersecting > 20,
        "both outcomes exercised: {splits} / {intersecting}"
    );
}
