//! The Stellar Consensus Protocol for Watt, as pure code: no I/O, no clock, no randomness, no
//! async runtime. It follows draft-mazieres-dinrg-scp with stellar-core's refinements.
//!
//! - [`quorum`]: federated quorum sets with the sanity rules, slices, quorums, v-blocking sets
//!   (draft §3); [`network`] reads stellar-core's quorum JSON; [`intersection`] checks that
//!   every two quorums intersect (SAT search).
//! - [`federated`]: federated accept and ratify over each node's latest statement.
//! - [`nomination`] (draft §5) and [`ballot_protocol`] (§6, statements in [`ballot`]) as state
//!   machines whose effects (emit, timers, externalize) are data; [`slot`] joins them.
//! - [`scp`]: the node-facing seam: signed envelopes, quorum sets by hash, future-slot buffer,
//!   purge, state for peers behind, restore after a restart.
//! - [`certificate`]: finality certificates (the signed envelopes that accepted commit of a
//!   slot's value) and their verification against a trusted quorum set.
//! - [`sim`]: a deterministic many-node simulator on top of [`scp`], with [`scenario`] files.

pub mod ballot;
pub mod ballot_protocol;
pub mod certificate;
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
