//! `watt quorum check` (quorum intersection of a network description) and `watt scp simulate`.

use crate::Output;
use serde_json::json;
use std::path::Path;
use std::process::ExitCode;
use watt_scp::{check_intersection, IntersectionResult, Network};

const INTERSECTING: u8 = 0;
const SPLIT: u8 = 1;
const BAD_INPUT: u8 = 2;

pub fn check(path: &Path, output: Output) -> ExitCode {
    let net = match std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
        .and_then(|text| Network::from_json(&text).map_err(|e| e.to_string()))
    {
        Ok(n) => n,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let result = match check_intersection(&net) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let mut problems = net.problems.clone();
    if result == (IntersectionResult::Intersecting { has_quorum: false }) {
        problems.push("no quorum exists: these nodes can never agree on anything".into());
    }
    let (intersecting, disjoint): (bool, Vec<Vec<String>>) = match &result {
        IntersectionResult::Intersecting { .. } => (true, vec![]),
        IntersectionResult::Split(a, b) => (false, vec![a.iter().cloned().collect(), b.iter().cloned().collect()]),
    };
    match output {
        Output::Json => say!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "intersecting": intersecting,
                "disjoint_quorums": disjoint,
                "problems": problems,
            }))
            .expect("JSON values serialize")
        ),
        Output::Text => {
            say!("{} nodes", net.qsets.len());
            if intersecting {
                say!("every two quorums intersect");
            } else {
                say!("NOT SAFE: these two quorums share no node and could agree on different values:");
                say!("  {}", disjoint[0].join(", "));
                say!("  {}", disjoint[1].join(", "));
            }
            for p in &problems {
                say!("problem: {p}");
            }
        }
    }
    ExitCode::from(if intersecting { INTERSECTING } else { SPLIT })
}

/// `watt scp simulate SCENARIO.json`.
pub fn simulate(path: &Path) -> ExitCode {
    let scenario = match std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))
        .and_then(|text| watt_scp::scenario::parse(&text).map_err(|e| e.to_string()))
    {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    let out = watt_scp::sim::run(&scenario);
    let percentile = |p: usize| -> u64 {
        if out.latencies_ms.is_empty() {
            0
        } else {
            out.latencies_ms[((out.latencies_ms.len() - 1) * p) / 100]
        }
    };
    let externalized: serde_json::Map<String, serde_json::Value> = out
        .externalized
        .iter()
        .map(|(id, values)| {
            let hashes: Vec<String> = values
                .iter()
                .map(|v| format!("0x{}", hex::encode(watt_primitives::blake2_256(v))))
                .collect();
            (id.clone(), json!(hashes))
        })
        .collect();
    say!(
        "{}",
        json!({
            "agreement": out.agreement,
            "slots_externalized": out.slots_externalized,
            "latency_ms": {"p50": percentile(50), "p99": percentile(99)},
            "messages_per_slot": (out.messages_per_slot * 10.0).round() / 10.0,
            "timeouts": out.timeouts,
            "externalized": externalized,
        })
    );
    ExitCode::from(if out.agreement { INTERSECTING } else { SPLIT })
}
