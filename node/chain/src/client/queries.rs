//! Reads: heads, blocks, receipts, state (head and historic), proofs, read-only runtime calls.

use super::{hex, Chain, ChainError, ChainEvent, ChainStats};
use crate::backend::{HeadState, HistoricState};
use parity_scale_codec::{DecodeAll, Encode};
use std::sync::Arc;
use tokio::sync::broadcast;
use watt_executor::{ExecError, RuntimeCode, StateBackend, StateSession};
use watt_primitives::abi::{entry, ChainParams, Query, QueryResult, RuntimeVersion};
use watt_primitives::economy::EventRecord;
use watt_primitives::{Block, BlockNumber, Hash, Header, Receipt};
use watt_store::{StateProof, StoreError};

impl Chain {
    /// The chain's name from its spec.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The genesis hash.
    pub fn genesis_hash(&self) -> Hash {
        self.context.genesis_hash
    }

    /// Head number and hash.
    pub fn best(&self) -> (BlockNumber, Hash) {
        let h = self.head.read();
        (h.header.number, h.hash)
    }

    /// The head header.
    pub fn best_header(&self) -> Header {
        self.head.read().header.clone()
    }

    /// Highest finalized block.
    pub fn finalized(&self) -> Result<(BlockNumber, Hash), ChainError> {
        Ok(self
            .store
            .finalized()?
            .ok_or_else(|| StoreError::Corrupt("no finalized block".into()))?)
    }

    /// A header by hash.
    pub fn header(&self, hash: &Hash) -> Result<Option<Header>, ChainError> {
        Ok(self.store.header(hash)?)
    }

    /// A block by hash.
    pub fn block(&self, hash: &Hash) -> Result<Option<Block>, ChainError> {
        Ok(self.store.block(hash)?)
    }

    /// The hash at a height.
    pub fn hash_at(&self, number: BlockNumber) -> Result<Option<Hash>, ChainError> {
        Ok(self.store.hash_at(number)?)
    }

    /// A receipt by transaction hash.
    pub fn receipt(&self, tx_hash: &Hash) -> Result<Option<Receipt>, ChainError> {
        Ok(self.store.receipt(tx_hash)?)
    }

    /// The events of block `number` in emission order, transaction phases numbered by position
    /// in the block (the list the header's `events_root` commits). `None` when there is no such
    /// block, or it was committed by a node that did not store events yet.
    pub fn events(&self, number: BlockNumber) -> Result<Option<Vec<EventRecord>>, ChainError> {
        Ok(self.store.events(number)?)
    }

    /// Subscribes to chain events.
    pub fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    /// Counters since start.
    pub fn stats(&self) -> &ChainStats {
        &self.stats
    }

    /// The block number of `at` (head when `None`), and whether it is the head.
    fn resolve(&self, at: Option<Hash>) -> Result<(BlockNumber, bool), ChainError> {
        let head = self.head.read();
        match at {
            None => Ok((head.header.number, true)),
            Some(h) if h == head.hash => Ok((head.header.number, true)),
            Some(h) => {
                let header = self
                    .store
                    .header(&h)?
                    .ok_or_else(|| ChainError::UnknownBlock(format!("0x{}", hex(&h))))?;
                Ok((header.number, false))
            }
        }
    }

    pub(crate) fn backend_at(&self, at: Option<Hash>) -> Result<(Arc<dyn StateBackend>, BlockNumber), ChainError> {
        let (number, is_head) = self.resolve(at)?;
        let backend: Arc<dyn StateBackend> = if is_head {
            Arc::new(HeadState(self.store.clone()))
        } else {
            self.store.check_not_pruned(number)?;
            Arc::new(HistoricState {
                store: self.store.clone(),
                number,
            })
        };
        Ok((backend, number))
    }

    pub(crate) fn code(&self) -> RuntimeCode {
        self.head.read().code.clone()
    }

    /// Raw storage value at `key` after block `at` (head when `None`).
    pub fn storage(&self, key: &[u8], at: Option<Hash>) -> Result<Option<Vec<u8>>, ChainError> {
        let (number, is_head) = self.resolve(at)?;
        Ok(if is_head {
            self.store.state_get(key)?
        } else {
            self.store.state_get_at(key, number)?
        })
    }

    /// Proofs of `keys` against the state root of block `at`; returns that block's hash.
    pub fn read_proof(&self, keys: &[Vec<u8>], at: Option<Hash>) -> Result<(Hash, Vec<StateProof>), ChainError> {
        let (number, _) = self.resolve(at)?;
        let hash = self
            .store
            .hash_at(number)?
            .ok_or_else(|| ChainError::UnknownBlock(format!("#{number}")))?;
        Ok((hash, self.store.prove(keys, number)?))
    }

    /// Calls a read-only runtime entry point on the state of `at`; its writes are discarded.
    pub fn call_read_only(&self, entry_name: &str, input: &[u8], at: Option<Hash>) -> Result<Vec<u8>, ChainError> {
        if !entry::READ_ONLY.contains(&entry_name) {
            return Err(ChainError::BadRequest(format!(
                "`{entry_name}` is not a read-only runtime entry; allowed: {}",
                entry::READ_ONLY.join(", ")
            )));
        }
        let (backend, _) = self.backend_at(at)?;
        let (_, out) = self
            .executor
            .call(&self.code(), entry_name, input, StateSession::new(backend));
        Ok(out?)
    }

    /// Answers a runtime query on the head state.
    pub fn query(&self, q: &Query) -> Result<QueryResult, ChainError> {
        self.query_at(q, None)
    }

    /// Answers a runtime query on the state of `at`.
    pub fn query_at(&self, q: &Query, at: Option<Hash>) -> Result<QueryResult, ChainError> {
        let out = self.call_read_only(entry::QUERY, &q.encode(), at)?;
        QueryResult::decode_all(&mut &out[..]).map_err(|_| ExecError::BadOutput(entry::QUERY.into()).into())
    }

    /// The chain parameters at the head (the runtime's [`Query::Params`]), read again only
    /// when the head has moved.
    pub fn chain_params(&self) -> Result<ChainParams, ChainError> {
        let head = self.best().1;
        if let Some((at, params)) = &*self.chain_params.lock() {
            if *at == head {
                return Ok(params.clone());
            }
        }
        let params = match self.query_at(&Query::Params, Some(head))? {
            QueryResult::Params(p) => p,
            _ => return Err(ExecError::BadOutput(entry::QUERY.into()).into()),
        };
        *self.chain_params.lock() = Some((head, params.clone()));
        Ok(params)
    }

    /// Most transactions and encoded bytes a block this node proposes or builds may take: its
    /// own caps ([`ChainConfig::max_block_txs`](super::ChainConfig::max_block_txs),
    /// [`ChainConfig::max_block_bytes`](super::ChainConfig::max_block_bytes)) within the
    /// chain's limits, which decide validity.
    pub fn proposal_limits(&self) -> Result<(usize, usize), ChainError> {
        let params = self.chain_params()?;
        let chain_txs = usize::try_from(params.max_block_transactions).unwrap_or(usize::MAX);
        let chain_bytes = usize::try_from(params.max_block_bytes).unwrap_or(usize::MAX);
        Ok((
            self.config.max_block_txs.min(chain_txs),
            self.config.max_block_bytes.min(chain_bytes),
        ))
    }

    /// The runtime version at the head.
    pub fn runtime_version(&self) -> Result<RuntimeVersion, ChainError> {
        let out = self.call_read_only(entry::VERSION, &[], None)?;
        RuntimeVersion::decode_all(&mut &out[..]).map_err(|_| ExecError::BadOutput(entry::VERSION.into()).into())
    }

    /// The finality certificate stored beside block `number` (none for dev-engine blocks).
    pub fn justification(&self, number: BlockNumber) -> Result<Option<Vec<u8>>, ChainError> {
        Ok(self.store.justification(number)?)
    }

    /// The consensus engine's persisted state (see [`watt_store::Store::put_consensus_state`]).
    pub fn consensus_state(&self) -> Result<Option<Vec<u8>>, ChainError> {
        Ok(self.store.consensus_state()?)
    }

    /// Persists the consensus engine's state, synced.
    pub fn put_consensus_state(&self, bytes: &[u8]) -> Result<(), ChainError> {
        Ok(self.store.put_consensus_state(bytes)?)
    }
}
