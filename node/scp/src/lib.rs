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
pub mod sim;
pub mod slot;

pub use intersection::{check_intersection, IntersectionResult, SolverError};
pub use network::{Network, NetworkError};
pub use quorum::{QuorumSet, QuorumSetProblem};
