//! The simulator's JSON scenario format (documented in the README):
//!
//! ```json
//! {"seed": 7, "slots": 20,
//!  "nodes": [{"id": "A", "qset": {"t": 2, "v": ["A", "B", {"t": 1, "v": ["C", "D"]}]},
//!             "behavior": "honest", "crash_at_ms": 0, "restart_at_ms": 5000}],
//!  "network": {"latency_ms": [5, 20], "loss": 0.0,
//!              "partitions": [{"from_ms": 0, "to_ms": 2000, "groups": [["A", "B"], ["C", "D"]]}]}}
//! ```
//! `behavior` is `honest` (default), `silent`, `equivocate` or `invalid`; crash, restart and
//! partitions are optional; `"watcher": true` makes a node a non-validator that follows silently.

use crate::quorum::{QuorumSet, QuorumSetJson};
use crate::sim::{Behavior, NodeSpec, Partition, Scenario};
use serde::Deserialize;
use std::collections::BTreeSet;

/// Why a scenario was refused.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// Not JSON of the documented shape.
    #[error("scenario is not valid JSON of the documented shape: {0}")]
    Json(#[from] serde_json::Error),
    /// Valid JSON, impossible scenario.
    #[error("bad scenario: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ScenarioJson {
    seed: u64,
    slots: u64,
    nodes: Vec<NodeJson>,
    #[serde(default)]
    network: NetworkJson,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NodeJson {
    id: String,
    qset: QuorumSetJson,
    #[serde(default = "honest")]
    behavior: String,
    crash_at_ms: Option<u64>,
    restart_at_ms: Option<u64>,
    #[serde(default)]
    watcher: bool,
}

fn honest() -> String {
    "honest".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NetworkJson {
    #[serde(default = "default_latency")]
    latency_ms: (u64, u64),
    #[serde(default)]
    loss: f64,
    #[serde(default)]
    partitions: Vec<PartitionJson>,
}

impl Default for NetworkJson {
    fn default() -> Self {
        NetworkJson {
            latency_ms: default_latency(),
            loss: 0.0,
            partitions: vec![],
        }
    }
}

fn default_latency() -> (u64, u64) {
    (5, 20)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PartitionJson {
    from_ms: u64,
    to_ms: u64,
    groups: Vec<Vec<String>>,
}

/// Parses and checks a scenario.
pub fn parse(text: &str) -> Result<Scenario, ScenarioError> {
    let j: ScenarioJson = serde_json::from_str(text)?;
    let bad = |m: String| Err(ScenarioError::Invalid(m));
    if j.nodes.is_empty() {
        return bad("no nodes".into());
    }
    if j.slots == 0 || j.slots > 100_000 {
        return bad(format!("slots must be 1..=100000, got {}", j.slots));
    }
    let (lo, hi) = j.network.latency_ms;
    if lo > hi {
        return bad(format!(
            "latency_ms [{lo}, {hi}]: the first bound must not exceed the second"
        ));
    }
    if !(0.0..=1.0).contains(&j.network.loss) {
        return bad(format!("loss {} is not a probability", j.network.loss));
    }
    let ids: BTreeSet<&str> = j.nodes.iter().map(|n| n.id.as_str()).collect();
    if ids.len() != j.nodes.len() {
        return bad("node ids must be unique".into());
    }
    let mut nodes = Vec::new();
    for n in &j.nodes {
        let qset: QuorumSet<String> = (&n.qset).into();
        if let Some(p) = qset.problems().first() {
            return bad(format!("node {}: {p}", n.id));
        }
        if let Some(u) = qset.all_validators().iter().find(|v| !ids.contains(v.as_str())) {
            return bad(format!("node {} names unknown node {u}", n.id));
        }
        let behavior = match n.behavior.as_str() {
            "honest" => Behavior::Honest,
            "silent" => Behavior::Silent,
            "equivocate" => Behavior::Equivocate,
            "invalid" => Behavior::Invalid,
            other => {
                return bad(format!(
                    "node {}: behavior `{other}` is not honest|silent|equivocate|invalid",
                    n.id
                ))
            }
        };
        if let (Some(c), Some(r)) = (n.crash_at_ms, n.restart_at_ms) {
            if r <= c {
                return bad(format!("node {}: restart_at_ms must come after crash_at_ms", n.id));
            }
        }
        nodes.push(NodeSpec {
            id: n.id.clone(),
            qset,
            behavior,
            crash_at_ms: n.crash_at_ms,
            restart_at_ms: n.restart_at_ms,
            watcher: n.watcher,
        });
    }
    let mut partitions = Vec::new();
    for p in &j.network.partitions {
        if p.from_ms >= p.to_ms {
            return bad(format!("partition [{}, {}) is empty", p.from_ms, p.to_ms));
        }
        if let Some(u) = p.groups.iter().flatten().find(|n| !ids.contains(n.as_str())) {
            return bad(format!("partition names unknown node {u}"));
        }
        partitions.push(Partition {
            from_ms: p.from_ms,
            to_ms: p.to_ms,
            groups: p.groups.iter().map(|g| g.iter().cloned().collect()).collect(),
        });
    }
    let last_event = nodes
        .iter()
        .filter_map(|n| n.restart_at_ms.or(n.crash_at_ms))
        .chain(partitions.iter().map(|p| p.to_ms))
        .max()
        .unwrap_or(0);
    Ok(Scenario {
        seed: j.seed,
        slots: j.slots,
        nodes,
        latency_ms: (lo, hi),
        loss: j.network.loss,
        partitions,
        // Generous: a minute of virtual time per slot after the last scripted event.
        max_time_ms: last_event + j.slots * 60_000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{"seed": 7, "slots": 3, "nodes": [
        {"id": "A", "qset": {"t": 3, "v": ["A", "B", "C", "D"]}},
        {"id": "B", "qset": {"t": 3, "v": ["A", "B", "C", "D"]}, "behavior": "honest"},
        {"id": "C", "qset": {"t": 3, "v": ["A", "B", "C", "D"]}, "crash_at_ms": 0, "restart_at_ms": 5000},
        {"id": "D", "qset": {"t": 3, "v": ["A", "B", "C", "D"]}, "behavior": "silent"}],
        "network": {"latency_ms": [5, 20], "loss": 0.0,
                    "partitions": [{"from_ms": 0, "to_ms": 2000, "groups": [["A", "B"], ["C", "D"]]}]}}"#;

    #[test]
    fn the_documented_example_parses_and_runs() {
        let sc = parse(EXAMPLE).unwrap();
        assert_eq!(sc.nodes.len(), 4);
        assert_eq!(sc.nodes[3].behavior, Behavior::Silent);
        let out = crate::sim::run(&sc);
        assert!(out.agreement);
        assert_eq!(out.slots_externalized, 3, "{out:?}");
    }

    /// The example files in `node/scp/scenarios/` (one per topology kind, with faults) run to
    /// agreement on every slot.
    #[test]
    fn the_example_scenario_files_agree_on_every_slot() {
        let files = [
            (
                "asymmetric-catch-up",
                include_str!("../scenarios/asymmetric-catch-up.json"),
            ),
            (
                "tiered-with-equivocator",
                include_str!("../scenarios/tiered-with-equivocator.json"),
            ),
            ("core-and-watchers", include_str!("../scenarios/core-and-watchers.json")),
            ("cycle", include_str!("../scenarios/cycle.json")),
        ];
        for (name, text) in files {
            let sc = parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
            let out = crate::sim::run(&sc);
            assert!(out.agreement, "{name}");
            assert_eq!(out.slots_externalized, sc.slots, "{name}: {out:?}");
        }
    }

    #[test]
    fn bad_scenarios_say_what_is_wrong() {
        let cases = [
            (r#"{"seed": 1}"#, "missing field"),
            (r#"{"seed": 1, "slots": 1, "nodes": []}"#, "no nodes"),
            (
                r#"{"seed": 1, "slots": 1, "nodes": [{"id": "A", "qset": {"t": 2, "v": ["A"]}}]}"#,
                "threshold",
            ),
            (
                r#"{"seed": 1, "slots": 1, "nodes": [{"id": "A", "qset": {"t": 1, "v": ["Z"]}}]}"#,
                "unknown node Z",
            ),
            (
                r#"{"seed": 1, "slots": 1, "nodes": [{"id": "A", "qset": {"t": 1, "v": ["A"]}, "behavior": "evil"}]}"#,
                "behavior",
            ),
            (
                r#"{"seed": 1, "slots": 1, "nodes": [{"id": "A", "qset": {"t": 1, "v": ["A"]}}], "network": {"latency_ms": [9, 1]}}"#,
                "latency",
            ),
            (
                r#"{"seed": 1, "slots": 1, "nodes": [{"id": "A", "qset": {"t": 1, "v": ["A"]}}], "network": {"loss": 2.0}}"#,
                "probability",
            ),
        ];
        for (text, expected) in cases {
            let e = parse(text).unwrap_err().to_string();
            assert!(e.contains(expected), "{text}: {e}");
        }
    }
}
