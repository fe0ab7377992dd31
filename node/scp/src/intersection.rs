//! Quorum intersection: do every two quorums share a node? (SCP's safety needs it, draft §3.)
//!
//! Complete and sound: "two disjoint quorums A and B exist" is encoded as a boolean formula and
//! handed to a CDCL SAT solver (varisat), the approach of python-fbas (Losa et al.). Variables
//! `a_n`, `b_n` say node n is in A, in B; for every quorum set `Q` and side X a variable
//! `sat_X(Q)` implies "at least threshold of Q's entries are in X" (a sequential-counter
//! cardinality encoding, Sinz 2005). Constraints: A and B non-empty, disjoint, and `a_n ->
//! sat_A(Q_n)`, `b_n -> sat_B(Q_n)`. Satisfiable means two disjoint quorums (read off the
//! model and shrunk to minimal ones); unsatisfiable proves intersection. Unlike enumerating
//! minimal quorums (Lachowski, arXiv 1902.06493), this stays fast on tiered networks whose
//! minimal quorums number in the billions.

use crate::network::Network;
use crate::quorum::QuorumSet;
use std::collections::{BTreeMap, BTreeSet};
use varisat::{ExtendFormula, Lit, Solver};

/// The answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IntersectionResult {
    /// Every two quorums intersect (vacuously so if the network has at most one quorum).
    Intersecting {
        /// Whether any quorum exists at all (without one the network cannot make progress).
        has_quorum: bool,
    },
    /// Two disjoint (minimal) quorums.
    Split(BTreeSet<String>, BTreeSet<String>),
}

struct Encoder<'a> {
    solver: Solver<'a>,
}

impl Encoder<'_> {
    fn var(&mut self) -> Lit {
        self.solver.new_lit()
    }

    /// `guard -> at least k of lits` via a sequential counter for "at most n-k of !lits".
    fn guarded_at_least(&mut self, guard: Lit, k: usize, lits: &[Lit]) {
        let n = lits.len();
        if k == 0 {
            return;
        }
        if k > n {
            self.solver.add_clause(&[!guard]);
            return;
        }
        let xs: Vec<Lit> = lits.iter().map(|l| !*l).collect();
        let bound = n - k; // at most `bound` of xs
        if bound == 0 {
            for l in lits {
                self.solver.add_clause(&[!guard, *l]);
            }
            return;
        }
        // r[i][j]: among xs[0..=i], at least j+1 are true.
        let r: Vec<Vec<Lit>> = (0..n - 1).map(|_| (0..bound).map(|_| self.var()).collect()).collect();
        let g = !guard;
        self.solver.add_clause(&[g, !xs[0], r[0][0]]);
        for r0j in &r[0][1..] {
            self.solver.add_clause(&[g, !*r0j]);
        }
        for i in 1..n - 1 {
            self.solver.add_clause(&[g, !xs[i], r[i][0]]);
            self.solver.add_clause(&[g, !r[i - 1][0], r[i][0]]);
            for j in 1..bound {
                self.solver.add_clause(&[g, !xs[i], !r[i - 1][j - 1], r[i][j]]);
                self.solver.add_clause(&[g, !r[i - 1][j], r[i][j]]);
            }
            self.solver.add_clause(&[g, !xs[i], !r[i - 1][bound - 1]]);
        }
        self.solver.add_clause(&[g, !xs[n - 1], !r[n - 2][bound - 1]]);
    }

    /// A literal implying that `q` is satisfied by the side whose membership is `member`.
    fn satisfied(&mut self, q: &QuorumSet<String>, member: &BTreeMap<String, Lit>, never: Lit) -> Lit {
        let mut entries: Vec<Lit> = q
            .validators
            .iter()
            .map(|v| member.get(v).copied().unwrap_or(never))
            .collect();
        for i in &q.inner {
            entries.push(self.satisfied(i, member, never));
        }
        let s = self.var();
        self.guarded_at_least(s, q.threshold as usize, &entries);
        s
    }
}

/// The SAT solver failed (it does not on well-formed input; reported rather than guessed).
#[derive(Debug, thiserror::Error)]
#[error("quorum intersection check failed in the SAT solver: {0}")]
pub struct SolverError(String);

/// Checks whether every two quorums of `net` intersect.
pub fn check_intersection(net: &Network) -> Result<IntersectionResult, SolverError> {
    let all: BTreeSet<String> = net.qsets.keys().cloned().collect();
    let has_quorum = !net.max_quorum_within(&all).is_empty();
    if !has_quorum {
        return Ok(IntersectionResult::Intersecting { has_quorum: false });
    }
    let mut enc = Encoder { solver: Solver::new() };
    let never = enc.var();
    enc.solver.add_clause(&[!never]);
    let a: BTreeMap<String, Lit> = all.iter().map(|n| (n.clone(), enc.var())).collect();
    let b: BTreeMap<String, Lit> = all.iter().map(|n| (n.clone(), enc.var())).collect();
    enc.solver.add_clause(&a.values().copied().collect::<Vec<_>>());
    enc.solver.add_clause(&b.values().copied().collect::<Vec<_>>());
    // Nodes with the same quorum set share its circuit (in a tiered network all of them do):
    // one encoding per distinct set and side instead of one per node.
    let mut circuits: BTreeMap<&QuorumSet<String>, (Lit, Lit)> = BTreeMap::new();
    for (n, q) in &net.qsets {
        enc.solver.add_clause(&[!a[n], !b[n]]);
        let (sa, sb) = match circuits.get(q) {
            Some(lits) => *lits,
            None => {
                let lits = (enc.satisfied(q, &a, never), enc.satisfied(q, &b, never));
                circuits.insert(q, lits);
                lits
            }
        };
        enc.solver.add_clause(&[!a[n], sa]);
        enc.solver.add_clause(&[!b[n], sb]);
    }
    match enc.solver.solve() {
        Ok(true) => {
            let model: BTreeSet<Lit> = enc.solver.model().unwrap_or_default().into_iter().collect();
            let side = |m: &BTreeMap<String, Lit>| -> BTreeSet<String> {
                m.iter()
                    .filter(|(_, l)| model.contains(l))
                    .map(|(n, _)| n.clone())
                    .collect()
            };
            let (qa, qb) = (net.minimize(&side(&a)), net.minimize(&side(&b)));
            debug_assert!(net.is_quorum(&qa) && net.is_quorum(&qb) && qa.is_disjoint(&qb));
            Ok(IntersectionResult::Split(qa, qb))
        }
        Ok(false) => Ok(IntersectionResult::Intersecting { has_quorum }),
        Err(e) => Err(SolverError(e.to_string())),
    }
}

#[cfg(test)]
mod tests;
