//! SCP in simulation: tiered networks of 4, 21 and 99 validators closing slots over links of
//! 1-50 ms with no faulty node. Criterion measures wall time per run; before that, one run of
//! each prints the protocol figures of BENCHMARKS.md (messages and virtual latency per slot,
//! timers fired, envelopes processed per second of wall time), and the slots per second of CPU
//! time the process got (on Linux), which other work on a shared machine disturbs less than
//! wall time.
//!
//! `cargo bench -p watt-scp --bench simulate`

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Instant;
use watt_scp::sim::{run, topology, NodeSpec, Scenario};

fn scenario(nodes: Vec<NodeSpec>, slots: u64, seed: u64) -> Scenario {
    Scenario {
        seed,
        slots,
        nodes,
        latency_ms: (1, 50),
        loss: 0.0,
        partitions: vec![],
        max_time_ms: 3_600_000,
    }
}

/// 4 validators (3 of 4), 7 organizations needing 5, 33 organizations needing 23 (2/3 + 1).
fn networks() -> Vec<(&'static str, Vec<NodeSpec>)> {
    vec![
        ("4_validators", topology::mesh(4, 3)),
        ("21_validators", topology::tiered(7, 5)),
        ("99_validators", topology::tiered(33, 23)),
    ]
}

/// CPU time this process has used (user and system), in seconds: `/proc/self/stat` counts it
/// in clock ticks of 1/100 s (Linux's `USER_HZ`). `None` where there is no such file.
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Like criterion, `cargo bench --bench simulate -- 21` keeps only the networks named so.
fn report() {
    let filter = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .unwrap_or_default();
    for (name, nodes) in networks().into_iter().filter(|(n, _)| n.contains(&filter)) {
        let slots = 20;
        let (mut wall, mut delivered, mut timer_slots, mut within_3_rtt, mut lat) = (0.0, 0.0, 0, 0, vec![]);
        let seeds = 5;
        let cpu_start = cpu_seconds();
        for seed in 0..seeds {
            let sc = scenario(nodes.clone(), slots, seed);
            let start = Instant::now();
            let out = run(&sc);
            wall += start.elapsed().as_secs_f64();
            assert!(out.agreement && out.slots_externalized == slots, "{name}: {out:?}");
            delivered += out.messages_per_slot * slots as f64;
            timer_slots += out.timeouts;
            // Three round trips of the slowest link: 3 x 2 x 50 ms.
            within_3_rtt += out.latencies_ms.iter().filter(|l| **l <= 300).count();
            lat.extend(out.latencies_ms);
        }
        lat.sort_unstable();
        let runs_slots = (seeds * slots) as f64;
        let per_cpu_second = match (cpu_start, cpu_seconds()) {
            (Some(a), Some(b)) if b > a => format!("{:.1}", runs_slots / (b - a)),
            _ => "?".to_string(),
        };
        eprintln!(
            "{name}: {:.2} ms wall/slot ({:.1} slots/s; {per_cpu_second} slots per CPU-second), {:.0} messages/slot, \
             {:.0} envelopes/s, virtual latency p50 {} ms p99 {} ms, {:.1}% of (node, slot) within 3 round trips, \
             {} timers fired in {} slots",
            wall * 1e3 / runs_slots,
            runs_slots / wall,
            delivered / runs_slots,
            delivered / wall,
            lat[lat.len() / 2],
            lat[lat.len() * 99 / 100],
            100.0 * within_3_rtt as f64 / lat.len() as f64,
            timer_slots,
            runs_slots,
        );
    }
}

fn simulate(c: &mut Criterion) {
    report();
    let mut group = c.benchmark_group("scp_simulate_10_slots");
    group.sample_size(10);
    for (name, nodes) in networks() {
        let sc = scenario(nodes, 10, 1);
        group.bench_function(name, |b| b.iter(|| run(&sc)));
    }
    group.finish();
}

criterion_group!(benches, simulate);
criterion_main!(benches);
