//! The chain client: its types and `open`. The work is split by responsibility:
//! [`genesis`], [`queries`] (reads), [`pool`] (the pool front end), [`execute`] (running a
//! transaction list on the head), [`produce`] (the dev engine's build-and-commit), [`agree`]
//! (SCP's seam: candidate sets, set verdicts, applying an agreed value), [`import`] (blocks
//! from peers), [`commit`] (the atomic write and what follows it).

mod agree;
mod commit;
mod execute;
mod genesis;
mod import;
mod pool;
mod produce;
mod queries;

use crate::spec::{ChainSpec, SpecError};
use parking_lot::{Mutex, RwLock};
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use tokio::sync::{broadcast, Notify};
use watt_executor::{Changes, ExecError, Executor, ExecutorConfig, RuntimeCode};
use watt_primitives::abi::{storage_keys, ChainContext, ChainParams, TxSetError};
use watt_primitives::economy::EventRecord;
use watt_primitives::{AccountId, Block, Hash, Header, Receipt, TxError};
use watt_store::{PreparedTree, Store, StoreConfig, StoreError};
use watt_txpool::{PoolConfig, PoolError, TxPool};

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
    /// A value or set builds on a block that is not the head (the node is behind or ahead).
    #[error("builds on {parent}, but the head is {head}")]
    NotOnHead {
        /// The parent named.
        parent: String,
        /// The head.
        head: String,
    },
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
    /// Most transactions in a block this node proposes or builds (`--max-block-txs`): a local
    /// cap below the chain's `maxBlockTransactions`, which applies when it is lower. Never
    /// decides whether a set or block is valid; the chain parameter alone does, the same on
    /// every node.
    pub max_block_txs: usize,
    /// Most encoded transaction bytes in a block this node proposes or builds: a local cap like
    /// [`ChainConfig::max_block_txs`], below the chain's `maxBlockBytes`.
    pub max_block_bytes: usize,
    /// Chain events buffered for each subscriber; one that falls further behind is told it
    /// lagged (RPC subscriptions then close with an error or re-read the chain).
    pub event_buffer: usize,
    /// Run this wasm instead of the runtime stored on chain (for debugging a runtime, as
    /// Substrate's `--wasm-runtime-overrides`). Genesis is still built with the spec's code.
    pub code_override: Option<Vec<u8>>,
    /// The author of the blocks this node builds from its own pool ([`Chain::produce_block`],
    /// the dev engine): named in the header, paid the validator share by the runtime. Agreed
    /// blocks are authored by their value's proposer, imported ones by their header's author.
    pub author: AccountId,
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
            author: AccountId([0; 32]),
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
    /// Its events, transaction phases numbered by position in the block.
    events: Vec<EventRecord>,
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
    /// The chain parameters and the head they were read at: the block size limits are read for
    /// every block built or proposed, without a runtime call each time the head is unchanged.
    chain_params: Mutex<Option<(Hash, ChainParams)>>,
    /// Verdicts on proposed transaction sets by (parent, set hash); cleared on every commit.
    tx_set_verdicts: Mutex<HashMap<(Hash, Hash), Result<(), TxSetError>>>,
    /// Gossip for transactions submitted here (set by a networked consensus engine).
    tx_relay: Mutex<Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>>,
}

fn hex(h: &[u8]) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

impl Chain {
    /// Opens the chain in `path`, writing genesis from `spec` on first use.
    pub fn open(path: &Path, spec: &ChainSpec, config: ChainConfig) -> Result<Arc<Self>, ChainError> {
        let store = Arc::new(Store::open_with(path, &config.store)?);
        let executor = Executor::new(config.executor.clone())?;
        let (genesis_block, changes, tree) = genesis::genesis(&store, &executor, spec)?;
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
                store.commit_block(&genesis_block, &[], &[], &changes, tree, true, None)?;
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
            chain_params: Mutex::new(None),
            tx_set_verdicts: Mutex::new(HashMap::new()),
            tx_relay: Mutex::new(None),
        };
        let (number, hash) = chain.best();
        tracing::info!(number, hash = %format!("0x{}", hex(&hash)), "chain head");
        Ok(Arc::new(chain))
    }
}
