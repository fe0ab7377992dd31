//! The seam between the chain and finality. A [`ConsensusEngine`] decides when a block's value
//! is final and feeds the chain's single import path through the narrow [`BlockAuthority`]
//! trait; everything above consensus (RPC, pool, store) is engine-agnostic. This crate has the
//! `dev` engine (one node, a block as soon as transactions wait or every seal interval, final
//! at once) and the `scp` engine (validators with quorum sets over libp2p; its driver: timers,
//! signing, gossip, tx-set fetching, catch-up sync), which reaches the chain through the
//! narrow [`AgreementChain`] trait.

pub mod dev;
pub mod scp;

pub use dev::{DevEngine, DevEngineConfig};
pub use scp::{ScpEngine, ScpEngineConfig, ScpStats};

use futures::future::BoxFuture;
use watt_chain::{Chain, ChainError, ImportedBlock, SubmitError};
use watt_primitives::abi::TxSetError;
use watt_primitives::{Block, BlockNumber, ConsensusValue, Hash, Header, Timestamp, TxSet};

/// Why an engine stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// The chain failed in a way the engine cannot work around.
    #[error("chain failure: {0}")]
    Chain(#[from] ChainError),
    /// A task of the engine died.
    #[error("consensus task failed: {0}")]
    Task(String),
    /// The node cannot follow what its quorum agreed: it computed a block differently, or
    /// cannot apply an agreed block. Going on would fork it silently from the network.
    #[error("stopping: {0}")]
    Diverged(String),
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
        Chain::import_block(self, block, finalized, None)
    }
}

/// What the SCP engine may do to the chain (ARCHITECTURE "Consensus engine interface"): take a
/// candidate set, judge a proposed set against the parent state, apply an agreed value, import
/// certified blocks from peers, serve blocks with their certificates, and keep its own votes.
pub trait AgreementChain: Send + Sync + 'static {
    /// The genesis hash (signatures are domain-separated by it).
    fn genesis_hash(&self) -> Hash;
    /// The head header and its hash.
    fn head(&self) -> (Header, Hash);
    /// Whether transactions wait in the pool.
    fn has_pending(&self) -> bool;
    /// Resolves when a transaction has arrived since the last call (or at once if one did).
    fn transaction_arrived(&self) -> BoxFuture<'_, ()>;
    /// The set this node proposes for the next block.
    fn candidate_tx_set(&self) -> Result<TxSet, ChainError>;
    /// The verdict on `set` as the next block on `parent` (the head), cached.
    fn validate_tx_set(&self, parent: &Hash, set: &TxSet) -> Result<Result<(), TxSetError>, ChainError>;
    /// Applies an agreed value with its finality certificate.
    fn apply_agreed(
        &self,
        value: &ConsensusValue,
        set: &TxSet,
        certificate: Vec<u8>,
    ) -> Result<ImportedBlock, ChainError>;
    /// Re-executes and commits a block whose certificate the engine has verified.
    fn import_certified(&self, block: Block, certificate: &[u8]) -> Result<ImportedBlock, ChainError>;
    /// Block `number` and its certificate.
    fn block_at(&self, number: BlockNumber) -> Result<Option<(Block, Option<Vec<u8>>)>, ChainError>;
    /// Pools a transaction received by gossip.
    fn submit_from_peer(&self, bytes: &[u8]) -> Result<Hash, SubmitError>;
    /// Pools transactions received from peers, in order, one result each; a chain may check
    /// their signatures as one batch first.
    fn submit_batch_from_peer(&self, batch: &[Vec<u8>]) -> Vec<Result<Hash, SubmitError>> {
        batch.iter().map(|bytes| self.submit_from_peer(bytes)).collect()
    }
    /// Where locally submitted transactions go to be gossiped.
    fn set_tx_relay(&self, relay: tokio::sync::mpsc::UnboundedSender<Vec<u8>>);
    /// The engine's persisted state.
    fn consensus_state(&self) -> Result<Option<Vec<u8>>, ChainError>;
    /// Persists the engine's state (synced).
    fn put_consensus_state(&self, bytes: &[u8]) -> Result<(), ChainError>;
    /// Senders whose pooled transactions wait for a nonce the pool lacks, with that nonce.
    fn nonce_gaps(&self) -> Vec<(watt_primitives::AccountId, u64)>;
    /// Encoded pooled transactions of `who` from `from_nonce` on, at most `max`.
    fn pooled_from(&self, who: &watt_primitives::AccountId, from_nonce: u64, max: usize) -> Vec<Vec<u8>>;
    /// Encoded ready transactions not announced for `older_than`, at most `max`; marked
    /// announced now.
    fn stale_pending(&self, older_than: std::time::Duration, max: usize) -> Vec<Vec<u8>>;
}

impl AgreementChain for Chain {
    fn genesis_hash(&self) -> Hash {
        Chain::genesis_hash(self)
    }
    fn head(&self) -> (Header, Hash) {
        let header = Chain::best_header(self);
        let hash = header.hash();
        (header, hash)
    }
    fn has_pending(&self) -> bool {
        Chain::has_pending(self)
    }
    fn transaction_arrived(&self) -> BoxFuture<'_, ()> {
        Box::pin(Chain::transaction_arrived(self).notified())
    }
    fn candidate_tx_set(&self) -> Result<TxSet, ChainError> {
        Chain::candidate_tx_set(self)
    }
    fn validate_tx_set(&self, parent: &Hash, set: &TxSet) -> Result<Result<(), TxSetError>, ChainError> {
        Chain::validate_tx_set(self, parent, set)
    }
    fn apply_agreed(
        &self,
        value: &ConsensusValue,
        set: &TxSet,
        certificate: Vec<u8>,
    ) -> Result<ImportedBlock, ChainError> {
        Chain::apply_agreed(self, value, set, Some(certificate))
    }
    fn import_certified(&self, block: Block, certificate: &[u8]) -> Result<ImportedBlock, ChainError> {
        Chain::import_block(self, block, true, Some(certificate))
    }
    fn block_at(&self, number: BlockNumber) -> Result<Option<(Block, Option<Vec<u8>>)>, ChainError> {
        let Some(hash) = Chain::hash_at(self, number)? else {
            return Ok(None);
        };
        let Some(block) = Chain::block(self, &hash)? else {
            return Ok(None);
        };
        Ok(Some((block, Chain::justification(self, number)?)))
    }
    fn submit_from_peer(&self, bytes: &[u8]) -> Result<Hash, SubmitError> {
        Chain::submit_from_peer(self, bytes)
    }
    fn submit_batch_from_peer(&self, batch: &[Vec<u8>]) -> Vec<Result<Hash, SubmitError>> {
        Chain::submit_batch_from_peer(self, batch)
    }
    fn set_tx_relay(&self, relay: tokio::sync::mpsc::UnboundedSender<Vec<u8>>) {
        Chain::set_tx_relay(self, relay)
    }
    fn consensus_state(&self) -> Result<Option<Vec<u8>>, ChainError> {
        Chain::consensus_state(self)
    }
    fn put_consensus_state(&self, bytes: &[u8]) -> Result<(), ChainError> {
        Chain::put_consensus_state(self, bytes)
    }
    fn nonce_gaps(&self) -> Vec<(watt_primitives::AccountId, u64)> {
        Chain::nonce_gaps(self)
    }
    fn pooled_from(&self, who: &watt_primitives::AccountId, from_nonce: u64, max: usize) -> Vec<Vec<u8>> {
        Chain::pooled_from(self, who, from_nonce, max)
    }
    fn stale_pending(&self, older_than: std::time::Duration, max: usize) -> Vec<Vec<u8>> {
        Chain::stale_pending(self, older_than, max)
    }
}

/// A finality engine.
pub trait ConsensusEngine: Send + 'static {
    /// Short name, e.g. `dev` or `scp`.
    fn name(&self) -> &'static str;
    /// Runs until `shutdown` resolves.
    fn run(self: Box<Self>, shutdown: BoxFuture<'static, ()>) -> BoxFuture<'static, Result<(), ConsensusError>>;
}
