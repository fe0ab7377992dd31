use super::*;

fn mesh(n: usize, t: u32) -> Vec<NodeSpec> {
    let ids: Vec<String> = (0..n).map(|i| format!("N{i}")).collect();
    ids.iter()
        .map(|id| NodeSpec {
            id: id.clone(),
            qset: QuorumSet::flat(t, ids.clone()),
            behavior: Behavior::Honest,
            crash_at_ms: None,
            restart_at_ms: None,
        })
        .collect()
}

fn scenario(nodes: Vec<NodeSpec>, seed: u64) -> Scenario {
    Scenario {
        seed,
        slots: 5,
        nodes,
        latency_ms: (1, 50),
        loss: 0.0,
        partitions: vec![],
        max_time_ms: 600_000,
    }
}

#[test]
fn four_honest_nodes_agree_on_every_slot() {
    let out = run(&scenario(mesh(4, 3), 7));
    assert!(out.agreement);
    assert_eq!(out.slots_externalized, 5, "{out:?}");
}

/// `orgs` organizations of 3 validators (2 of 3 inside), each needing `t` organizations.
fn tiered(orgs: usize, t: u32) -> Vec<NodeSpec> {
    let top = crate::test_networks::tiered_qset(orgs, t);
    top.all_validators()
        .into_iter()
        .map(|id| NodeSpec {
            id,
            qset: top.clone(),
            behavior: Behavior::Honest,
            crash_at_ms: None,
            restart_at_ms: None,
        })
        .collect()
}

#[test]
fn same_seed_same_run_and_seeds_differ() {
    let a = run(&Scenario {
        loss: 0.1,
        ..scenario(mesh(5, 4), 11)
    });
    let b = run(&Scenario {
        loss: 0.1,
        ..scenario(mesh(5, 4), 11)
    });
    assert_eq!(a, b);
    let c = run(&Scenario {
        loss: 0.1,
        ..scenario(mesh(5, 4), 12)
    });
    assert_ne!(a.latencies_ms, c.latencies_ms);
}

#[test]
fn fast_links_externalize_quickly() {
    let out = run(&scenario(mesh(4, 3), 3));
    assert_eq!(out.slots_externalized, 5);
    // Timers and second nomination rounds are measured (BENCHMARKS.md), not asserted; the
    // median slot must still close within 3 round trips of 50 ms links.
    let median = out.latencies_ms[out.latencies_ms.len() / 2];
    assert!(median <= 300, "{:?}", out.latencies_ms);
}

#[test]
fn a_tiered_network_agrees() {
    let out = run(&scenario(tiered(4, 3), 5));
    assert!(out.agreement);
    assert_eq!(out.slots_externalized, 5, "{out:?}");
}

#[test]
fn faults_never_break_agreement_over_many_seeds() {
    for seed in 0..12u64 {
        for fault in [Behavior::Silent, Behavior::Equivocate, Behavior::Invalid] {
            let mut nodes = mesh(4, 3);
            nodes[3].behavior = fault;
            let out = run(&Scenario {
                loss: 0.02,
                ..scenario(nodes, seed)
            });
            assert!(out.agreement, "seed {seed} {fault:?}");
            assert_eq!(out.slots_externalized, 5, "seed {seed} {fault:?}: {out:?}");
            for (id, values) in &out.externalized {
                if id != "N3" {
                    assert!(
                        values.iter().all(|v| !v.starts_with(b"INVALID")),
                        "an invalid value was externalized"
                    );
                }
            }
        }
    }
}

#[test]
fn a_partition_stalls_then_heals_and_a_crashed_node_catches_up() {
    let mut sc = scenario(mesh(4, 3), 9);
    sc.partitions.push(Partition {
        from_ms: 0,
        to_ms: 5_000,
        groups: vec![
            BTreeSet::from(["N0".to_string(), "N1".to_string()]),
            BTreeSet::from(["N2".to_string(), "N3".to_string()]),
        ],
    });
    let out = run(&sc);
    assert!(out.agreement);
    assert_eq!(out.slots_externalized, 5, "progress after the partition heals: {out:?}");
    assert!(
        out.latencies_ms.last().copied().unwrap_or(0) >= 5_000 - 1,
        "nothing before the heal"
    );

    let mut nodes = mesh(4, 3);
    nodes[0].crash_at_ms = Some(30);
    nodes[0].restart_at_ms = Some(3_000);
    let out = run(&scenario(nodes, 4));
    assert!(out.agreement);
    assert_eq!(out.slots_externalized, 5, "{out:?}");
}
