//! The Stellar Consensus Protocol for Watt, as pure code (no I/O, no clock, no randomness).
//!
//! So far: federated quorum sets ([`quorum`]) with the sanity rules, slices, quorums and
//! v-blocking sets of the SCP draft (draft-mazieres-dinrg-scp, section 3), federated voting
//! ([`federated`]: accept and ratify over latest statements), nomination ([`nomination`]),
//! ballot statements and their predicates ([`ballot`]), the ballot protocol
//! ([`ballot_protocol`]: PREPARE -> CONFIRM -> EXTERNALIZE with the v-blocking counter jump and
//! the ballot timer as effects), and a complete
//! quorum-intersection checker ([`intersection`]).

pub mod ballot;
pub mod ballot_protocol;
pub mod federated;
pub mod intersection;
pub mod network;
pub mod nomination;
pub mod quorum;
pub mod scenario;
pub mod scp;
pub mod sim;
pub mod slot;

pub use intersection::{check_intersection, IntersectionResult, SolverError};
pub use network::{Network, NetworkError};
pub use quorum::{QuorumSet, QuorumSetProblem};

/// Networks shared by the tests of several modules.
#[cfg(test)]
pub(crate) mod test_networks {
    use crate::quorum::QuorumSet;

    /// `orgs` organizations of 3 validators `O<o>V<v>` (2 of 3 inside), needing `t` organizations.
    pub fn tiered_qset(orgs: usize, t: u32) -> QuorumSet<String> {
        let org_sets = (0..orgs)
            .map(|o| QuorumSet::flat(2, (0..3).map(|v| format!("O{o}V{v}")).collect()))
            .collect();
        QuorumSet {
            threshold: t,
            validators: vec![],
            inner: org_sets,
        }
    }
}
