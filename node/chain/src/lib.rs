//! The Watt chain client: the chain spec and genesis, the transaction pool in front of the
//! runtime, block building and the one import path every consensus engine feeds (execute,
//! check roots, commit atomically), and the state queries RPC serves.

pub mod backend;
pub mod client;
/// Chain specs live in `watt-chain-spec` (light enough to fuzz); re-exported so that
/// `watt_chain::spec::...` paths keep working.
pub mod spec {
    pub use watt_chain_spec::*;
}
#[cfg(feature = "test-utils")]
pub mod test_utils;

pub use client::{BuiltBlock, Chain, ChainConfig, ChainError, ChainEvent, ChainStats, ImportedBlock, SubmitError};
pub use spec::{ChainSpec, GenesisSpec, SpecError};
