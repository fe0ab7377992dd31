//! A whole network's quorum configuration, as stellar-core's quorum tools describe it:
//! `{"nodes": [{"node": "A", "qset": {"t": 2, "v": ["A", "B"]}}]}`.

use crate::quorum::{QuorumSet, QuorumSetJson};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// Why a network description was refused.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// Not JSON of the expected shape.
    #[error("not a quorum network description ({{\"nodes\": [{{\"node\": ..., \"qset\": ...}}]}}): {0}")]
    Json(#[from] serde_json::Error),
    /// No nodes at all.
    #[error("the network has no nodes")]
    Empty,
}

#[derive(Deserialize)]
struct NetworkJson {
    nodes: Vec<NodeJson>,
}

#[derive(Deserialize)]
struct NodeJson {
    node: String,
    qset: QuorumSetJson,
}

/// Nodes and their quorum sets.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Network {
    /// Quorum set of each node.
    pub qsets: BTreeMap<String, QuorumSet<String>>,
    /// Problems found while reading (duplicates, sanity, unknown validators).
    pub problems: Vec<String>,
}

impl Network {
    /// Parses the JSON form and lists every problem in it.
    pub fn from_json(text: &str) -> Result<Self, NetworkError> {
        let parsed: NetworkJson = serde_json::from_str(text)?;
        if parsed.nodes.is_empty() {
            return Err(NetworkError::Empty);
        }
        let mut net = Network::default();
        for n in &parsed.nodes {
            if net.qsets.insert(n.node.clone(), (&n.qset).into()).is_some() {
                net.problems.push(format!(
                    "node {} is listed more than once (the last entry counts)",
                    n.node
                ));
            }
        }
        net.find_problems();
        Ok(net)
    }

    /// A network from quorum sets.
    pub fn new(qsets: BTreeMap<String, QuorumSet<String>>) -> Self {
        let mut net = Network {
            qsets,
            problems: vec![],
        };
        net.find_problems();
        net
    }

    fn find_problems(&mut self) {
        let mut unknown = BTreeSet::new();
        for (node, q) in &self.qsets {
            for p in q.problems() {
                self.problems.push(format!("node {node}: {p}"));
            }
            unknown.extend(q.all_validators().into_iter().filter(|v| !self.qsets.contains_key(v)));
        }
        for u in unknown {
            self.problems.push(format!("validator {u} is named in quorum sets but its own quorum set is unknown; it is treated as never agreeing"));
        }
    }

    /// Whether `set` (non-empty) is a quorum: every member's quorum set has a slice inside it.
    /// Members with an unknown quorum set never are.
    pub fn is_quorum(&self, set: &BTreeSet<String>) -> bool {
        !set.is_empty()
            && set.iter().all(|n| {
                self.qsets
                    .get(n)
                    .is_some_and(|q| q.is_satisfied_by(&|m: &String| set.contains(m)))
            })
    }

    /// The largest quorum inside `set` (empty if none): repeatedly drop members whose quorum set
    /// has no slice left inside. The union of quorums is a quorum, so this is unique.
    pub fn max_quorum_within(&self, set: &BTreeSet<String>) -> BTreeSet<String> {
        let mut current: BTreeSet<String> = set.iter().filter(|n| self.qsets.contains_key(*n)).cloned().collect();
        loop {
            let keep: BTreeSet<String> = current
                .iter()
                .filter(|n| self.qsets[*n].is_satisfied_by(&|m: &String| current.contains(m)))
                .cloned()
                .collect();
            if keep.len() == current.len() {
                return keep;
            }
            current = keep;
        }
    }

    /// A minimal quorum inside the quorum `q`: drop members one at a time while a quorum remains.
    pub fn minimize(&self, q: &BTreeSet<String>) -> BTreeSet<String> {
        let mut current = q.clone();
        for n in q {
            if !current.contains(n) {
                continue;
            }
            let mut smaller = current.clone();
            smaller.remove(n);
            let inner = self.max_quorum_within(&smaller);
            if !inner.is_empty() {
                current = inner;
            }
        }
        current
    }
}
