//! The chain client.

use crate::backend::{HeadState, HistoricState};
use crate::spec::{ChainSpec, SpecError};
use parity_scale_codec::{DecodeAll, Encode};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Instant;
use tokio::sync::{broadcast, Notify};
use watt_executor::{
    Changes, ExecError, Executor, ExecutorConfig, MemoryBackend, RuntimeCode, StateBackend, StateSession,
};
use watt_primitives::abi::{
    entry, storage_keys, ApplyBlockInput, ApplyBlockOutput, ApplyResult, ChainContext, Query, QueryResult,
    RuntimeVersion, ValidTransaction, ValidateInput,
};
use watt_primitives::{
    merkle_root, AccountId, Block, BlockNumber, Hash, Header, Receipt, SignedTransaction, Timestamp, TxError,
};
use watt_store::{PreparedTree, StateProof, Store, StoreConfig, StoreError};
use watt_txpool::{DropReason, PendingTx, PoolConfig, PoolError, TxPool};

/// Why a chain operation failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The runtime failed (trap, bad code, ...).
    #[error(transparent)]
    Exec(#[from] ExecError),
    /// The chain spec is unusable.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// The database holds another chain.
    #[error("the database holds a chain with genesis 0x{stored}, but the chain spec gives genesis 0x{spec}; use another --base-path or remove the old database")]
    GenesisMismatch {
        /// Hex of the stored genesis hash.
        stored: String,
        /// Hex of the spec's genesis hash.
        spec: String,
    },
    /// A block was refused; nothing was written.
    #[error("invalid block: {0}")]
    InvalidBlock(String),
    /// The block named is not known.
    #[error("unknown block: {0}")]
    UnknownBlock(String),
    /// The request itself is wrong.
    #[error("{0}")]
    BadRequest(String),
}

/// Why a submitted transaction was refused.
#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The pool refused it (including runtime invalidity).
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// The node failed while checking it.
    #[error(transparent)]
    Chain(#[from] ChainError),
}

/// Tunables of the client.
#[derive(Clone, Debug)]
pub struct ChainConfig {
    /// Pool bounds.
    pub pool: PoolConfig,
    /// Runtime resource limits.
    pub executor: ExecutorConfig,
    /// Database options: state pruning, cache size.
    pub store: StoreConfig,
    /// Most transactions in a block.
    pub max_block_txs: usize,
    /// Most encoded transaction bytes in a block.
    pub max_block_bytes: usize,
    /// Chain events buffered for each subscriber; one that falls further behind is told it
    /// lagged (RPC subscriptions then close with an error or re-read the chain).
    pub event_buffer: usize,
    /// Run this wasm instead of the runtime stored on chain (for debugging a runtime, as
    /// Substrate's `--wasm-runtime-overrides`). Genesis is still built with the spec's code.
    pub code_override: Option<Vec<u8>>,
}

impl Default for ChainConfig {
    fn default() -> Self {
        ChainConfig {
            pool: PoolConfig::default(),
            executor: ExecutorConfig::default(),
            store: StoreConfig::default(),
            max_block_txs: 20_000,
            max_block_bytes: 8 << 20,
            event_buffer: 4096,
            code_override: None,
        }
    }
}

/// What happened on chain, for subscribers (RPC subscriptions, watchers).
#[derive(Clone, Debug)]
pub enum ChainEvent {
    /// A block was committed.
    Block(Arc<ImportedBlock>),
    /// A pending transaction left the pool without being included.
    Dropped {
        /// Its hash.
        hash: Hash,
        /// Why.
        reason: String,
    },
}

/// A committed block.
#[derive(Clone, Debug)]
pub struct ImportedBlock {
    /// Its header.
    pub header: Header,
    /// Its hash.
    pub hash: Hash,
    /// Hashes of its transactions, in order.
    pub tx_hashes: Vec<Hash>,
    /// Whether it is final (the dev engine finalizes at once).
    pub finalized: bool,
}

/// A block built on the head, executed, not yet committed.
pub struct BuiltBlock {
    /// The block.
    pub block: Block,
    receipts: Vec<Receipt>,
    changes: Changes,
    tree: PreparedTree,
    invalid: Vec<(Hash, TxError)>,
}

/// Counters since the node started, for monitoring.
#[derive(Default, Debug)]
pub struct ChainStats {
    /// Blocks committed.
    pub blocks: std::sync::atomic::AtomicU64,
    /// Transactions in committed blocks.
    pub transactions: std::sync::atomic::AtomicU64,
    /// Microseconds spent building/importing and committing blocks.
    pub import_micros: std::sync::atomic::AtomicU64,
}

struct Head {
    header: Header,
    hash: Hash,
    code: RuntimeCode,
}

/// The chain client. Cheap to share behind an `Arc`.
pub struct Chain {
    store: Arc<Store>,
    executor: Executor,
    name: String,
    context: ChainContext,
    head: RwLock<Head>,
    pool: Mutex<TxPool>,
    import_lock: Mutex<()>,
    /// Held shared while a transaction is validated and pooled, exclusively while a block is
    /// committed and the pool pruned: a transaction is never checked against one state and
    /// pooled against the next.
    commit_gate: RwLock<()>,
    events: broadcast::Sender<ChainEvent>,
    tx_arrived: Notify,
    config: ChainConfig,
    stats: ChainStats,
    /// Most transactions the next block may take: halved after a block ran past the runtime's
    /// deadline, back to the configured bound after a block succeeds. Bisects a batch down to
    /// the transaction that makes the runtime loop, without dropping the innocent ones.
    block_tx_cap: std::sync::atomic::AtomicUsize,
}

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs the genesis build in memory: the changes and the genesis header.
fn genesis(store: &Store, executor: &Executor, spec: &ChainSpec) -> Result<(Block, Changes, PreparedTree), ChainError> {
    let config = spec.genesis_config()?;
    let code = RuntimeCode::new(config.code.clone());
    let session = StateSession::new(Arc::new(MemoryBackend::default()));
    let (session, out) = executor.call_decoded::<()>(&code, entry::BUILD_GENESIS, &config, session);
    out?;
    let changes = session.into_changes().map_err(ExecError::from)?;
    let tree = store.prepare_state(&changes, 0)?;
    let header = Header {
        parent_hash: [0; 32],
        number: 0,
        state_root: tree.root,
        tx_root: merkle_root(&[]),
        close_time: 0,
        consensus_data: vec![],
    };
    Ok((
        Block {
            header,
            transactions: vec![],
        },
        changes,
        tree,
    ))
}

impl Chain {
    /// Opens the chain in `path`, writing genesis from `spec` on first use.
    pub fn open(path: &Path, spec: &ChainSpec, config: ChainConfig) -> Result<Arc<Self>, ChainError> {
        let store = Arc::new(Store::open_with(path, &config.store)?);
        let executor = Executor::new(config.executor.clone())?;
        let (genesis_block, changes, tree) = genesis(&store, &executor, spec)?;
        let genesis_hash = genesis_block.header.hash();
        match store.genesis_hash()? {
            Some(stored) if stored != genesis_hash => {
                return Err(ChainError::GenesisMismatch {
                    stored: hex(&stored),
                    spec: hex(&genesis_hash),
                })
            }
            Some(_) => {}
            None => {
                store.commit_block(&genesis_block, &[], &changes, tree, true)?;
                tracing::info!(hash = %format!("0x{}", hex(&genesis_hash)), "wrote genesis");
            }
        }
        let (_, best_hash) = store
            .best()?
            .ok_or_else(|| StoreError::Corrupt("no best block".into()))?;
        let header = store
            .header(&best_hash)?
            .ok_or_else(|| StoreError::Corrupt("best header missing".into()))?;
        let code = store
            .state_get(storage_keys::CODE)?
            .ok_or_else(|| StoreError::Corrupt("no runtime code in state".into()))?;
        let code = match &config.code_override {
            Some(over) => {
                tracing::warn!(
                    "executing an override runtime ({} bytes) instead of the on-chain code",
                    over.len()
                );
                over.clone()
            }
            None => code,
        };
        let head = Head {
            header,
            hash: best_hash,
            code: RuntimeCode::new(code),
        };
        let (events, _) = broadcast::channel(config.event_buffer.max(1));
        let chain = Chain {
            store,
            executor,
            name: spec.name.clone(),
            context: ChainContext { genesis_hash },
            head: RwLock::new(head),
            pool: Mutex::new(TxPool::new(config.pool.clone())),
            import_lock: Mutex::new(()),
            commit_gate: RwLock::new(()),
            events,
            tx_arrived: Notify::new(),
            config,
            stats: ChainStats::default(),
            block_tx_cap: std::sync::atomic::AtomicUsize::new(usize::MAX),
        };
        let (number, hash) = chain.best();
        tracing::info!(number, hash = %format!("0x{}", hex(&hash)), "chain head");
        Ok(Arc::new(chain))
    }

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

    /// Subscribes to chain events.
    pub fn subscribe(&self) -> broadcast::Receiver<ChainEvent> {
        self.events.subscribe()
    }

    /// Signalled whenever a transaction enters the pool.
    pub fn transaction_arrived(&self) -> &Notify {
        &self.tx_arrived
    }

    /// Whether transactions wait in the pool.
    pub fn has_pending(&self) -> bool {
        !self.pool.lock().is_empty()
    }

    /// Counters since start.
    pub fn stats(&self) -> &ChainStats {
        &self.stats
    }

    /// Number and encoded bytes of pending transactions.
    pub fn pool_size(&self) -> (usize, usize) {
        let pool = self.pool.lock();
        (pool.len(), pool.bytes())
    }

    /// Pending transactions.
    pub fn pending(&self) -> Vec<PendingTx> {
        self.pool.lock().pending()
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

    fn backend_at(&self, at: Option<Hash>) -> Result<(Arc<dyn StateBackend>, BlockNumber), ChainError> {
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

    fn code(&self) -> RuntimeCode {
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

    /// The runtime version at the head.
    pub fn runtime_version(&self) -> Result<RuntimeVersion, ChainError> {
        let out = self.call_read_only(entry::VERSION, &[], None)?;
        RuntimeVersion::decode_all(&mut &out[..]).map_err(|_| ExecError::BadOutput(entry::VERSION.into()).into())
    }

    /// The nonce `who`'s next transaction should use: after its pending ones, else its state nonce.
    pub fn next_nonce(&self, who: &AccountId) -> Result<u64, ChainError> {
        if let Some(n) = self.pool.lock().next_nonce(who) {
            return Ok(n);
        }
        match self.query(&Query::Account(*who))? {
            QueryResult::Account(a) => Ok(a.nonce),
            _ => Err(ExecError::BadOutput(entry::QUERY.into()).into()),
        }
    }

    /// Validates an encoded transaction against the head state.
    pub fn validate(&self, bytes: &[u8]) -> Result<Result<ValidTransaction, TxError>, ChainError> {
        let input = ValidateInput {
            chain: self.context.clone(),
            tx: bytes.to_vec(),
        };
        let out = self.call_read_only(entry::VALIDATE_TRANSACTION, &input.encode(), None)?;
        Result::<ValidTransaction, TxError>::decode_all(&mut &out[..])
            .map_err(|_| ExecError::BadOutput(entry::VALIDATE_TRANSACTION.into()).into())
    }

    /// Validates and pools an encoded transaction; returns its hash.
    pub fn submit(&self, bytes: &[u8]) -> Result<Hash, SubmitError> {
        let _gate = self.commit_gate.read();
        let valid = self.validate(bytes)?.map_err(PoolError::Invalid)?;
        let stx =
            SignedTransaction::decode_all(&mut &bytes[..]).map_err(|_| PoolError::Invalid(TxError::BadEncoding))?;
        let hash = valid.hash;
        let submitted = self.pool.lock().submit(stx, valid, Instant::now())?;
        if let Some(old) = submitted.replaced {
            let _ = self.events.send(ChainEvent::Dropped {
                hash: old,
                reason: "replaced by a higher tip".into(),
            });
        }
        for evicted in submitted.evicted {
            let _ = self.events.send(ChainEvent::Dropped {
                hash: evicted,
                reason: DropReason::Evicted.to_string(),
            });
        }
        self.tx_arrived.notify_one();
        Ok(hash)
    }

    /// Whether the transaction `hash` is pending in the pool.
    pub fn is_pending(&self, hash: &Hash) -> bool {
        self.pool.lock().contains(hash)
    }

    /// Builds the next block from the pool on the head and commits it (the block producer's
    /// path). Returns `None` when `allow_empty` is false and nothing was ready.
    pub fn produce_block(
        &self,
        close_time: Timestamp,
        finalized: bool,
        allow_empty: bool,
    ) -> Result<Option<ImportedBlock>, ChainError> {
        let _lock = self.import_lock.lock();
        let started = Instant::now();
        use std::sync::atomic::Ordering::Relaxed;
        let cap = self.block_tx_cap.load(Relaxed).min(self.config.max_block_txs);
        let ready = {
            let mut pool = self.pool.lock();
            let ready = pool.ready(cap, self.config.max_block_bytes);
            pool.set_in_block(ready.iter().map(|p| p.hash));
            ready
        };
        // However this returns, the block is no longer being built afterwards.
        struct Unmark<'a>(&'a Mutex<TxPool>);
        impl Drop for Unmark<'_> {
            fn drop(&mut self) {
                self.0.lock().clear_in_block();
            }
        }
        let _unmark = Unmark(&self.pool);
        if ready.is_empty() && !allow_empty {
            return Ok(None);
        }
        let built = match self.build_locked(ready.iter().map(|p| (*p.tx).clone()).collect(), close_time) {
            Ok(b) => {
                self.block_tx_cap.store(usize::MAX, Relaxed);
                b
            }
            // Too slow, but nothing says which transaction is to blame: try half as many next
            // time, and drop only a lone transaction that still runs past the deadline.
            Err(e @ ChainError::Exec(ExecError::Deadline { .. })) if ready.len() > 1 => {
                self.block_tx_cap.store(ready.len() / 2, Relaxed);
                tracing::warn!(
                    "block of {} transactions ran past the runtime deadline; retrying with {}",
                    ready.len(),
                    ready.len() / 2
                );
                return Err(e);
            }
            Err(e @ ChainError::Exec(_)) => {
                // The runtime failed on this batch (a trap): nothing was written. Drop the batch
                // so the producer does not fail on it forever.
                let mut pool = self.pool.lock();
                let reason = format!("block execution failed: {e}");
                for p in &ready {
                    for h in pool.remove_invalid(&p.hash) {
                        let _ = self.events.send(ChainEvent::Dropped {
                            hash: h,
                            reason: reason.clone(),
                        });
                    }
                }
                return Err(e);
            }
            Err(e) => return Err(e),
        };
        self.commit_locked(built, finalized, started).map(Some)
    }

    /// Imports a block made elsewhere: re-executes it on the head, checks its roots, commits.
    /// Refused blocks leave no trace.
    pub fn import_block(&self, block: Block, finalized: bool) -> Result<ImportedBlock, ChainError> {
        let _lock = self.import_lock.lock();
        let started = Instant::now();
        let expected_hash = block.header.hash();
        let built = self.build_locked(block.transactions.clone(), block.header.close_time)?;
        if let Some((hash, err)) = built.invalid.first() {
            return Err(ChainError::InvalidBlock(format!(
                "transaction 0x{} is invalid: {err}",
                hex(hash)
            )));
        }
        let ours = &built.block.header;
        let theirs = &block.header;
        if ours.parent_hash != theirs.parent_hash || ours.number != theirs.number {
            return Err(ChainError::InvalidBlock(format!(
                "block #{} does not extend the head #{}",
                theirs.number,
                ours.number.saturating_sub(1)
            )));
        }
        if ours.close_time != theirs.close_time {
            return Err(ChainError::InvalidBlock(
                "close time must be later than the parent's".into(),
            ));
        }
        if ours.tx_root != theirs.tx_root {
            return Err(ChainError::InvalidBlock("transaction root mismatch".into()));
        }
        if ours.state_root != theirs.state_root {
            return Err(ChainError::InvalidBlock(format!(
                "state root mismatch: header says 0x{}, execution gives 0x{}",
                hex(&theirs.state_root),
                hex(&ours.state_root)
            )));
        }
        let mut built = built;
        built.block.header.consensus_data = theirs.consensus_data.clone();
        debug_assert_eq!(built.block.header.hash(), expected_hash);
        self.commit_locked(built, finalized, started)
    }

    /// Executes `transactions` on the head. Invalid ones are left out of the block.
    fn build_locked(
        &self,
        transactions: Vec<SignedTransaction>,
        close_time: Timestamp,
    ) -> Result<BuiltBlock, ChainError> {
        let (parent, parent_hash, code) = {
            let h = self.head.read();
            (h.header.clone(), h.hash, h.code.clone())
        };
        let number = parent.number + 1;
        let close_time = close_time.max(parent.close_time + 1);
        let input = ApplyBlockInput {
            chain: self.context.clone(),
            number,
            parent_hash,
            close_time,
            transactions,
        };
        let session = StateSession::new(Arc::new(HeadState(self.store.clone())));
        let (session, out) = self
            .executor
            .call_decoded::<ApplyBlockOutput>(&code, entry::APPLY_BLOCK, &input, session);
        let out = out?;
        if out.results.len() != input.transactions.len() {
            return Err(ExecError::BadOutput(entry::APPLY_BLOCK.into()).into());
        }
        let changes = session.into_changes().map_err(ExecError::from)?;
        let mut included = Vec::with_capacity(out.results.len());
        let mut receipts = Vec::with_capacity(out.results.len());
        let mut invalid = Vec::new();
        for (tx, result) in input.transactions.into_iter().zip(out.results) {
            match result {
                ApplyResult::Included(mut r) => {
                    r.index = included.len() as u32;
                    receipts.push(r);
                    included.push(tx);
                }
                ApplyResult::Invalid(e) => invalid.push((tx.hash(), e)),
            }
        }
        let tree = self.store.prepare_state(&changes, number)?;
        let tx_hashes: Vec<Hash> = receipts.iter().map(|r| r.tx_hash).collect();
        let header = Header {
            parent_hash,
            number,
            state_root: tree.root,
            tx_root: merkle_root(&tx_hashes),
            close_time,
            consensus_data: vec![],
        };
        Ok(BuiltBlock {
            block: Block {
                header,
                transactions: included,
            },
            receipts,
            changes,
            tree,
            invalid,
        })
    }

    fn commit_locked(&self, built: BuiltBlock, finalized: bool, started: Instant) -> Result<ImportedBlock, ChainError> {
        let BuiltBlock {
            block,
            receipts,
            changes,
            tree,
            invalid,
        } = built;
        let gate = self.commit_gate.write();
        let hash = block.header.hash();
        let advance_head = || {
            let mut head = self.head.write();
            head.header = block.header.clone();
            head.hash = hash;
            if let (Some(Some(code)), None) = (changes.get(storage_keys::CODE), &self.config.code_override) {
                head.code = RuntimeCode::new(code.clone());
            }
        };
        if let Err(e) = self.store.commit_block(&block, &receipts, &changes, tree, finalized) {
            // The batch may have landed although the commit reported an error (a sync that
            // failed after the write): follow what the database says, or the next block would
            // be built on a head the disk has already moved past.
            if matches!(self.store.best(), Ok(Some((_, best))) if best == hash) {
                advance_head();
            }
            return Err(e.into());
        }
        advance_head();
        let mut next_nonces: HashMap<AccountId, u64> = HashMap::new();
        for t in &block.transactions {
            let n = next_nonces.entry(t.tx.signer).or_default();
            *n = (*n).max(t.tx.nonce + 1);
        }
        let mut dropped = Vec::new();
        {
            let mut pool = self.pool.lock();
            // A pending transaction whose nonce this block used without including it (it was
            // replaced or evicted while the block was being built) leaves the pool here; its
            // watchers must hear of it, or they would wait for an inclusion that cannot come.
            let included: std::collections::HashSet<Hash> = receipts.iter().map(|r| r.tx_hash).collect();
            for removed in pool.prune(&next_nonces.into_iter().collect::<Vec<_>>()) {
                if !included.contains(&removed) {
                    let reason = format!(
                        "its nonce was used by another transaction of the same sender in block #{}",
                        block.header.number
                    );
                    dropped.push((removed, reason));
                }
            }
            for (h, err) in &invalid {
                for removed in pool.remove_invalid(h) {
                    let reason = if removed == *h {
                        err.to_string()
                    } else {
                        "an earlier nonce of its sender was invalid".into()
                    };
                    dropped.push((removed, reason));
                }
            }
            // Expiry runs once a block, so a stuck transaction is dropped at most one block
            // interval after its lifetime.
            for (removed, reason) in pool.expire(Instant::now()) {
                dropped.push((removed, reason.to_string()));
            }
        }
        drop(gate);
        let imported = ImportedBlock {
            tx_hashes: receipts.iter().map(|r| r.tx_hash).collect(),
            header: block.header,
            hash,
            finalized,
        };
        tracing::info!(
            "imported #{} (0x{}…) with {} transactions in {} ms{}",
            imported.header.number,
            hex(&hash[..4]),
            imported.tx_hashes.len(),
            started.elapsed().as_millis(),
            if invalid.is_empty() {
                String::new()
            } else {
                format!(", {} invalid dropped", invalid.len())
            }
        );
        use std::sync::atomic::Ordering::Relaxed;
        self.stats.blocks.fetch_add(1, Relaxed);
        self.stats
            .transactions
            .fetch_add(imported.tx_hashes.len() as u64, Relaxed);
        self.stats
            .import_micros
            .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
        let _ = self.events.send(ChainEvent::Block(Arc::new(imported.clone())));
        for (hash, reason) in dropped {
            let _ = self.events.send(ChainEvent::Dropped { hash, reason });
        }
        Ok(imported)
    }
}
