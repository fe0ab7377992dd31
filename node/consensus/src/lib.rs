//! The seam between the chain and finality. A [`ConsensusEngine`] decides when a block's value
//! is final and feeds the chain's single import path through the narrow [`BlockAuthority`]
//! trait; everything above consensus (RPC, pool, store) is engine-agnostic. This crate has the
//! `dev` engine: one node, a block as soon as transactions wait (or every seal interval),
//! final at once. The SCP engine implements the same trait in a later issue.

pub mod dev;

pub use dev::{DevEngine, DevEngineConfig};

use futures::future::BoxFuture;
use watt_chain::{Chain, ChainError, ImportedBlock};
use watt_primitives::{Block, Header, Timestamp};

/// Why an engine stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// The chain failed in a way the engine cannot work around.
    #[error("chain failure: {0}")]
    Chain(#[from] ChainError),
    /// A task of the engine died.
    #[error("consensus task failed: {0}")]
    Task(String),
}

/// What an engine may do to the chain.
pub trait BlockAuthority: Send + Sync + 'static {
    /// The head.
    fn best_header(&self) -> Header;
    /// Whether transactions wait in the pool.
    fn has_pending(&self) -> bool;
    /// Resolves when a transaction has arrived since the last call (or at once if one did).
    fn transaction_arrived(&self) -> BoxFuture<'_, ()>;
    /// Builds a block from the pool on the head, with this agreed close time, and commits it.
    fn produce_block(
        &self,
        close_time: Timestamp,
        finalized: bool,
        allow_empty: bool,
    ) -> Result<Option<ImportedBlock>, ChainError>;
    /// Imports an agreed block made elsewhere.
    fn import_block(&self, block: Block, finalized: bool) -> Result<ImportedBlock, ChainError>;
}

impl BlockAuthority for Chain {
    fn best_header(&self) -> Header {
        Chain::best_header(self)
    }
    fn has_pending(&self) -> bool {
        Chain::has_pending(self)
    }
    fn transaction_arrived(&self) -> BoxFuture<'_, ()> {
        Box::pin(Chain::transaction_arrived(self).notified())
    }
    fn produce_block(
        &self,
        close_time: Timestamp,
        finalized: bool,
        allow_empty: bool,
    ) -> Result<Option<ImportedBlock>, ChainError> {
        Chain::produce_block(self, close_time, finalized, allow_empty)
    }
    fn import_block(&self, block: Block, finalized: bool) -> Result<ImportedBlock, ChainError> {
        Chain::import_block(self, block, finalized)
    }
}

/// A finality engine.
pub trait ConsensusEngine: Send + 'static {
    /// Short name, e.g. `dev` or `scp`.
    fn name(&self) -> &'static str;
    /// Runs until `shutdown` resolves.
    fn run(self: Box<Self>, shutdown: BoxFuture<'static, ()>) -> BoxFuture<'static, Result<(), ConsensusError>>;
}
