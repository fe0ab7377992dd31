//! The table's checks against the functions over names, on random networks and statements.

use super::*;
use crate::federated::{federated_accept, federated_ratify, quorum_among};

/// SplitMix64, seeded per case so that a failure names its case.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Vote {
    Nothing,
    Voted,
    Accepted,
}

/// A statement: the vote and the quorum set it is judged by (as the reference sees it).
type St = (Vote, Option<Arc<QuorumSet<String>>>);

/// A random quorum set over `names`, sane or not (thresholds from 0 to one past the entries,
/// repeated names, names of nodes that never speak), nested up to `depth`.
fn random_qset(rng: &mut Rng, names: &[String], depth: usize) -> QuorumSet<String> {
    let validators: Vec<String> = (0..rng.below(5))
        .map(|_| names[rng.below(names.len())].clone())
        .collect();
    let inner: Vec<QuorumSet<String>> = if depth == 0 {
        vec![]
    } else {
        (0..rng.below(3)).map(|_| random_qset(rng, names, depth - 1)).collect()
    };
    let entries = validators.len() + inner.len();
    QuorumSet {
        threshold: rng.below(entries + 2) as u32,
        validators,
        inner,
    }
}

fn qset_of(s: &St) -> Option<&QuorumSet<String>> {
    s.1.as_deref()
}

#[test]
fn numbered_checks_agree_with_the_checks_over_names() {
    for case in 0..4000u64 {
        let mut rng = Rng(case);
        // A few names only quorum sets mention.
        let names: Vec<String> = (0..1 + rng.below(9)).map(|i| format!("n{i}")).collect();
        let speaking = 1 + rng.below(names.len());
        let mut local = random_qset(&mut rng, &names, 2);
        if case % 4 == 0 {
            // 300 nodes that never speak, numbered first: the others get numbers past the
            // bits kept inline.
            local
                .inner
                .push(QuorumSet::flat(1, (0..300).map(|i| format!("pad{i}")).collect()));
        }
        // Nodes share a few quorum sets (as they do in networks), some have none known, some
        // are judged by themselves alone.
        let mut shared: Vec<Arc<QuorumSet<String>>> = (0..1 + rng.below(3))
            .map(|_| Arc::new(random_qset(&mut rng, &names, 2)))
            .collect();
        if case % 3 == 0 {
            // Often peers trust as the local node does (a copy of its own quorum set).
            shared.push(Arc::new(local.clone()));
        }
        let mut table: Table<String, Vote> = Table::new(&local);
        let mut statements: BTreeMap<String, St> = BTreeMap::new();
        // Statements arrive in a random order, some nodes more than once (the last one counts).
        for _ in 0..speaking + rng.below(4) {
            let node = names[rng.below(speaking)].clone();
            let vote = [Vote::Nothing, Vote::Voted, Vote::Accepted][rng.below(3)];
            let (judge, qset) = match rng.below(6) {
                0 => (Judge::Unknown, None),
                1 => (Judge::Itself, Some(Arc::new(QuorumSet::flat(1, vec![node.clone()])))),
                _ => {
                    let q = shared[rng.below(shared.len())].clone();
                    (Judge::Qset(q.clone()), Some(q))
                }
            };
            table.insert(&node, vote, judge);
            statements.insert(node, (vote, qset));
        }
        let voted = |s: &St| s.0 == Vote::Voted;
        let accepted = |s: &St| s.0 == Vote::Accepted;
        let either = |s: &St| voted(s) || accepted(s);
        let what = format!("case {case}: local {local:?}, statements {statements:?}");

        let t_accepted = table.nodes(|v| *v == Vote::Accepted);
        let t_either = table.nodes(|v| *v != Vote::Nothing);
        for (name, (vote, _)) in &statements {
            assert_eq!(table.get(name), Some(vote), "{what}");
        }
        assert_eq!(
            table.accept(&t_either, &t_accepted),
            federated_accept(&local, &statements, &qset_of, &voted, &accepted),
            "accept, {what}"
        );
        assert_eq!(
            table.ratify(&t_accepted),
            federated_ratify(&local, &statements, &qset_of, &accepted),
            "ratify, {what}"
        );
        assert_eq!(
            table.quorum_among(&t_either),
            quorum_among(&statements, &qset_of, &either),
            "quorum, {what}"
        );
        assert_eq!(
            table.blocking(&t_accepted),
            local.is_blocked_by(&|n: &String| statements.get(n).is_some_and(accepted)),
            "blocking, {what}"
        );
    }
}

#[test]
fn node_sets_hold_what_was_put_in() {
    let mut a = NodeBits::new();
    for i in [0, 5, 63, 64, 200, 300, 1000] {
        a.insert(i);
    }
    a.remove(5);
    a.remove(2000);
    a.remove(300);
    a.remove(100_000);
    assert_eq!(a.iter().collect::<Vec<_>>(), vec![0, 63, 64, 200, 1000]);
    assert!(a.contains(64) && a.contains(1000) && !a.contains(5) && !a.contains(300) && !a.contains(100_000));
    let mut b = NodeBits::new();
    b.insert(1);
    assert_eq!(a.union(&b).iter().collect::<Vec<_>>(), vec![0, 1, 63, 64, 200, 1000]);
    assert_eq!(b.union(&a), a.union(&b));
    assert!(NodeBits::new().is_empty() && !b.is_empty());
    b.remove(1);
    assert!(b.is_empty());
}
