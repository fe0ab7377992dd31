//! Watt's rocksdb store: headers, bodies, receipts, each block's events, the flat state column
//! (reads and prefix scans of the head state), the authenticated state tree (a Jellyfish Merkle
//! tree over blake2b-256, giving the state root of every block and inclusion/exclusion proofs),
//! and metadata. Each block lands in one atomic, synced write batch (ARCHITECTURE §6), so a crash
//! at any point reopens at the last committed block.
//!
//! State history is pruned like Substrate's `--state-pruning` (see [`pruning`]): by default the
//! state of the last 256 blocks stays readable and provable; `archive` keeps every version.
//! Blocks, receipts, events and headers are never pruned.
//!
//! A database written before a column existed (say `events`) still opens: missing column
//! families are created empty, and reads of blocks committed before then find nothing.

mod pruning;
mod tree;

use parity_scale_codec::{Decode, Encode};
use rocksdb::{
    BlockBasedOptions, Cache, ColumnFamilyDescriptor, Direction, IteratorMode, Options, SliceTransform, WriteBatch,
    WriteOptions, DB,
};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use watt_primitives::economy::EventRecord;
use watt_primitives::{blake2_256, Block, BlockNumber, Hash, Header, Receipt, SignedTransaction};

pub use pruning::StatePruning;
pub use tree::PreparedTree;
pub use watt_primitives::StateProof;

/// Why the store failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// rocksdb failed (disk full, permissions, corruption detected by rocksdb).
    #[error("database error: {0}")]
    Db(#[from] rocksdb::Error),
    /// Stored bytes do not decode: the database is corrupted or from an incompatible version.
    #[error("corrupted database: {0}")]
    Corrupt(String),
    /// The state tree refused an operation.
    #[error("state tree: {0}")]
    Tree(String),
    /// The requested block or state version is not in this database.
    #[error("not found: {0}")]
    NotFound(String),
    /// The state of that block was pruned: this node keeps only recent state.
    #[error("state at block #{number} is pruned: this node keeps the state of {mode} (oldest available: #{oldest}); query a newer block or an archive node (`--state-pruning archive`)")]
    Pruned {
        /// The block asked for.
        number: BlockNumber,
        /// The oldest block whose state is still available.
        oldest: BlockNumber,
        /// The node's pruning mode.
        mode: StatePruning,
    },
    /// The database was created with another pruning mode that cannot be changed to this one.
    #[error("the database was created with state pruning `{stored}` and cannot be opened with `{requested}`: {why}; use the original mode or a new --base-path")]
    PruningMismatch {
        /// The mode the database was created with.
        stored: String,
        /// The mode asked for.
        requested: String,
        /// Why not.
        why: &'static str,
    },
    /// A fault injected by a test through a `fail` point (only with the `failpoints` feature).
    #[error("injected fault: {0}")]
    Injected(String),
}

const CF_META: &str = "meta";
const CF_HEADERS: &str = "headers";
const CF_BODIES: &str = "bodies";
const CF_NUMBERS: &str = "numbers";
const CF_RECEIPTS: &str = "receipts";
/// Each block's events (SCALE `Vec<EventRecord>`, the list its header's `events_root` commits)
/// by block number, big-endian.
const CF_EVENTS: &str = "events";
const CF_STATE: &str = "state";
/// Finality certificates by block number (ARCHITECTURE: beside the block, never in the header).
const CF_JUSTIFICATIONS: &str = "justifications";
pub(crate) const CF_TREE_NODES: &str = "tree_nodes";
pub(crate) const CF_TREE_VALUES: &str = "tree_values";
pub(crate) const CF_TREE_STALE: &str = "tree_stale";
const COLUMNS: [&str; 11] = [
    CF_META,
    CF_JUSTIFICATIONS,
    CF_HEADERS,
    CF_BODIES,
    CF_NUMBERS,
    CF_RECEIPTS,
    CF_EVENTS,
    CF_STATE,
    CF_TREE_NODES,
    CF_TREE_VALUES,
    CF_TREE_STALE,
];

const META_GENESIS: &[u8] = b"genesis";
const META_BEST: &[u8] = b"best";
const META_FINALIZED: &[u8] = b"finalized";
const META_PRUNING: &[u8] = b"pruning";
const META_HORIZON: &[u8] = b"state_horizon";
const META_CONSENSUS: &[u8] = b"consensus";

/// How the store is opened.
#[derive(Clone, Debug)]
pub struct StoreConfig {
    /// How much state history to keep.
    pub pruning: StatePruning,
    /// rocksdb's block cache (shared by all columns), in bytes.
    pub cache_bytes: usize,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            pruning: StatePruning::default(),
            cache_bytes: 256 << 20,
        }
    }
}

/// The writes of a block: key -> new value (`None` = deleted).
pub type StateChanges = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The node's database.
pub struct Store {
    db: DB,
    pruning: StatePruning,
    /// The oldest version whose state is readable. Raised *before* the batch that deletes
    /// older versions is written, so a read that checks it after reading never returns state
    /// that pruning took away underneath it.
    horizon: AtomicU64,
}

/// Column options: bloom filters for point reads, index and filter blocks in the shared cache.
fn column_options(name: &str, cache: &Cache) -> Options {
    let mut table = BlockBasedOptions::default();
    table.set_block_cache(cache);
    table.set_bloom_filter(10.0, false);
    table.set_cache_index_and_filter_blocks(true);
    table.set_pin_l0_filter_and_index_blocks_in_cache(true);
    table.set_format_version(5);
    let mut opts = Options::default();
    opts.set_level_compaction_dynamic_level_bytes(true);
    if name == CF_TREE_VALUES {
        // Versions of one key share the 32-byte key-hash prefix; historic reads seek within it.
        opts.set_prefix_extractor(SliceTransform::create_fixed_prefix(32));
        opts.set_memtable_prefix_bloom_ratio(0.1);
        table.set_whole_key_filtering(false);
    }
    opts.set_block_based_table_factory(&table);
    opts
}

fn decode<T: Decode>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    T::decode(&mut &bytes[..]).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl Store {
    /// Opens (creating if needed) the database at `path` with the default configuration.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        Self::open_with(path, &StoreConfig::default())
    }

    /// Opens (creating if needed) the database at `path`.
    pub fn open_with(path: &Path, config: &StoreConfig) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_open_files(512);
        opts.increase_parallelism(2);
        opts.set_max_background_jobs(2);
        opts.set_bytes_per_sync(1 << 20);
        // A write-ahead log file is kept until every column with data in it has flushed; the
        // rarely written columns (meta, headers) would pin gigabytes of logs behind them. Past
        // this size rocksdb flushes them instead (measured: 1 GiB of logs after 600 blocks).
        opts.set_max_total_wal_size(256 << 20);
        let cache = Cache::new_lru_cache(config.cache_bytes);
        let cfs = COLUMNS
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, column_options(name, &cache)));
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        let mut store = Store {
            db,
            pruning: config.pruning,
            horizon: AtomicU64::new(0),
        };
        store.check_pruning_mode()?;
        Ok(store)
    }

    /// Remembers the pruning mode of a new database; refuses changes that would lie about history.
    fn check_pruning_mode(&mut self) -> Result<(), StoreError> {
        let meta = self.cf(CF_META);
        let stored = match self.db.get_cf(meta, META_PRUNING)? {
            Some(b) => Some(decode::<Option<u64>>(&b, "pruning mode")?),
            None => None,
        };
        let horizon = match self.db.get_cf(meta, META_HORIZON)? {
            Some(b) => decode::<BlockNumber>(&b, "state horizon")?,
            None => 0,
        };
        let show = |m: Option<u64>| match m {
            None => "archive".to_string(),
            Some(n) => n.to_string(),
        };
        let requested = self.pruning.stored();
        match stored {
            None if self.genesis_hash()?.is_none() => {
                self.db.put_cf(meta, META_PRUNING, requested.encode())?;
            }
            // A database from before pruning existed: it holds every version but no stale index.
            // It may start pruning now; what older blocks made stale stays on disk (a bounded,
            // one-time cost) rather than refusing to open with the default mode.
            None => {
                if requested.is_some() {
                    tracing::warn!(
                        "database from before state pruning: pruning from now on; tree nodes made stale before this start are never deleted"
                    );
                }
                self.db.put_cf(meta, META_PRUNING, requested.encode())?;
            }
            Some(s) if s == requested => {}
            Some(None) => {
                return Err(StoreError::PruningMismatch {
                    stored: "archive".into(),
                    requested: show(requested),
                    why: "an archive database has no index of stale state to prune with",
                })
            }
            Some(Some(_)) if requested.is_none() => {
                return Err(StoreError::PruningMismatch {
                    stored: show(stored.flatten()),
                    requested: "archive".into(),
                    why: "its older state is already gone",
                })
            }
            // Keeping more or fewer recent blocks is fine: the horizon only ever moves up.
            Some(Some(_)) => {
                self.db.put_cf(meta, META_PRUNING, requested.encode())?;
            }
        }
        self.horizon.store(horizon, Ordering::SeqCst);
        Ok(())
    }

    /// How much state history this store keeps.
    pub fn pruning(&self) -> StatePruning {
        self.pruning
    }

    /// The oldest block whose state can still be read and proved.
    pub fn oldest_state(&self) -> BlockNumber {
        self.horizon.load(Ordering::SeqCst)
    }

    /// Refuses with [`StoreError::Pruned`] when the state of block `number` is no longer kept.
    pub fn check_not_pruned(&self, number: BlockNumber) -> Result<(), StoreError> {
        let oldest = self.oldest_state();
        if number < oldest {
            return Err(StoreError::Pruned {
                number,
                oldest,
                mode: self.pruning,
            });
        }
        Ok(())
    }

    /// Runs a read of the state at `number`, refusing it when that state is (or, while the read
    /// ran, became) pruned.
    fn read_at<T>(&self, number: BlockNumber, read: impl FnOnce() -> Result<T, StoreError>) -> Result<T, StoreError> {
        self.check_not_pruned(number)?;
        let result = read();
        self.check_not_pruned(number)?;
        result
    }

    pub(crate) fn cf(&self, name: &str) -> &rocksdb::ColumnFamily {
        self.db
            .cf_handle(name)
            .expect("every column family is opened in Store::open")
    }

    pub(crate) fn db(&self) -> &DB {
        &self.db
    }

    fn meta_pointer(&self, key: &[u8]) -> Result<Option<(BlockNumber, Hash)>, StoreError> {
        match self.db.get_cf(self.cf(CF_META), key)? {
            Some(b) => Ok(Some(decode(&b, "meta pointer")?)),
            None => Ok(None),
        }
    }

    /// The genesis hash, once genesis is committed.
    pub fn genesis_hash(&self) -> Result<Option<Hash>, StoreError> {
        match self.db.get_cf(self.cf(CF_META), META_GENESIS)? {
            Some(b) => Ok(Some(decode(&b, "genesis hash")?)),
            None => Ok(None),
        }
    }

    /// The head: highest committed block.
    pub fn best(&self) -> Result<Option<(BlockNumber, Hash)>, StoreError> {
        self.meta_pointer(META_BEST)
    }

    /// The highest finalized block.
    pub fn finalized(&self) -> Result<Option<(BlockNumber, Hash)>, StoreError> {
        self.meta_pointer(META_FINALIZED)
    }

    /// A header by hash.
    pub fn header(&self, hash: &Hash) -> Result<Option<Header>, StoreError> {
        match self.db.get_cf(self.cf(CF_HEADERS), hash)? {
            Some(b) => Ok(Some(decode(&b, "header")?)),
            None => Ok(None),
        }
    }

    /// A full block by hash.
    pub fn block(&self, hash: &Hash) -> Result<Option<Block>, StoreError> {
        let Some(header) = self.header(hash)? else {
            return Ok(None);
        };
        let body = self
            .db
            .get_cf(self.cf(CF_BODIES), hash)?
            .ok_or_else(|| StoreError::Corrupt("header without body".into()))?;
        let transactions: Vec<SignedTransaction> = decode(&body, "block body")?;
        Ok(Some(Block { header, transactions }))
    }

    /// The hash of the block at `number` on the (single, final) chain.
    pub fn hash_at(&self, number: BlockNumber) -> Result<Option<Hash>, StoreError> {
        match self.db.get_cf(self.cf(CF_NUMBERS), number.to_be_bytes())? {
            Some(b) => Ok(Some(decode(&b, "block hash")?)),
            None => Ok(None),
        }
    }

    /// A receipt by transaction hash.
    pub fn receipt(&self, tx_hash: &Hash) -> Result<Option<Receipt>, StoreError> {
        match self.db.get_cf(self.cf(CF_RECEIPTS), tx_hash)? {
            Some(b) => Ok(Some(decode(&b, "receipt")?)),
            None => Ok(None),
        }
    }

    /// The events of block `number` in emission order (the list its header's `events_root`
    /// commits); `None` when no such block is stored, or it was committed by a node from before
    /// events were stored.
    pub fn events(&self, number: BlockNumber) -> Result<Option<Vec<EventRecord>>, StoreError> {
        match self.db.get_cf(self.cf(CF_EVENTS), number.to_be_bytes())? {
            Some(b) => Ok(Some(decode(&b, "block events")?)),
            None => Ok(None),
        }
    }

    /// Value at `key` in the head state (flat column).
    pub fn state_get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(CF_STATE), key)?)
    }

    /// Smallest key strictly greater than `key` in the head state.
    pub fn state_next_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let mut iter = self
            .db
            .iterator_cf(self.cf(CF_STATE), IteratorMode::From(key, Direction::Forward));
        for item in &mut iter {
            let (k, _) = item?;
            if &*k != key {
                return Ok(Some(k.to_vec()));
            }
        }
        Ok(None)
    }

    /// Value at `key` in the state after block `number` (from the tree's versioned values).
    pub fn state_get_at(&self, key: &[u8], number: BlockNumber) -> Result<Option<Vec<u8>>, StoreError> {
        self.read_at(number, || tree::value_at(self, blake2_256(key), number))
    }

    /// Computes the state root after applying `changes` on top of block `number - 1`'s state,
    /// without writing anything. Commit the result with [`Store::commit_block`].
    pub fn prepare_state(&self, changes: &StateChanges, number: BlockNumber) -> Result<PreparedTree, StoreError> {
        tree::prepare(self, changes, number)
    }

    /// Proofs of `keys` (present or absent) against the state root of block `number`.
    pub fn prove(&self, keys: &[Vec<u8>], number: BlockNumber) -> Result<Vec<StateProof>, StoreError> {
        self.read_at(number, || keys.iter().map(|k| tree::prove(self, k, number)).collect())
    }

    /// The finality certificate stored with block `number`, if any (the dev engine stores none).
    pub fn justification(&self, number: BlockNumber) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(CF_JUSTIFICATIONS), number.to_be_bytes())?)
    }

    /// The consensus engine's own persisted state (SCP: the node's latest envelopes), if any.
    pub fn consensus_state(&self) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.db.get_cf(self.cf(CF_META), META_CONSENSUS)?)
    }

    /// Replaces the consensus engine's persisted state, synced before returning: SCP writes its
    /// envelopes here before sending them, so a restart never contradicts a vote already cast.
    pub fn put_consensus_state(&self, bytes: &[u8]) -> Result<(), StoreError> {
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_META), META_CONSENSUS, bytes);
        Ok(self.db.write_opt(batch, &opts)?)
    }

    /// Writes a block, its receipts, its events, its state changes and tree nodes, and moves
    /// the head (and the finalized pointer when `finalized`), in one synced atomic batch.
    #[allow(clippy::too_many_arguments)]
    pub fn commit_block(
        &self,
        block: &Block,
        receipts: &[Receipt],
        events: &[EventRecord],
        changes: &StateChanges,
        tree: PreparedTree,
        finalized: bool,
        justification: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        let header = &block.header;
        if tree.root != header.state_root || tree.version != header.number {
            return Err(StoreError::Tree("prepared state does not match the header".into()));
        }
        let hash = header.hash();
        let mut batch = WriteBatch::default();
        batch.put_cf(self.cf(CF_HEADERS), hash, header.encode());
        batch.put_cf(self.cf(CF_BODIES), hash, block.transactions.encode());
        batch.put_cf(self.cf(CF_NUMBERS), header.number.to_be_bytes(), hash.encode());
        if let Some(j) = justification {
            batch.put_cf(self.cf(CF_JUSTIFICATIONS), header.number.to_be_bytes(), j);
        }
        for r in receipts {
            batch.put_cf(self.cf(CF_RECEIPTS), r.tx_hash, r.encode());
        }
        batch.put_cf(self.cf(CF_EVENTS), header.number.to_be_bytes(), events.encode());
        let state = self.cf(CF_STATE);
        for (k, v) in changes {
            match v {
                Some(v) => batch.put_cf(state, k, v),
                None => batch.delete_cf(state, k),
            }
        }
        let pruned = !matches!(self.pruning, StatePruning::Archive);
        tree.write_into(self, &mut batch, pruned)?;
        let old_horizon = self.oldest_state();
        let horizon = pruning::prune_into(self, old_horizon, self.pruning.horizon(header.number), &mut batch)?;
        if horizon != old_horizon {
            batch.put_cf(self.cf(CF_META), META_HORIZON, horizon.encode());
            self.horizon.store(horizon, Ordering::SeqCst);
        }
        let pointer = (header.number, hash).encode();
        batch.put_cf(self.cf(CF_META), META_BEST, &pointer);
        if finalized {
            batch.put_cf(self.cf(CF_META), META_FINALIZED, &pointer);
        }
        if header.number == 0 {
            batch.put_cf(self.cf(CF_META), META_GENESIS, hash.encode());
        }
        fail::fail_point!("store::commit::before_write", |msg| {
            self.horizon.store(old_horizon, Ordering::SeqCst);
            Err(StoreError::Injected(msg.unwrap_or_else(|| "before write".into())))
        });
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        if let Err(e) = self.db.write_opt(batch, &opts) {
            // The batch did not land: its pruning neither. Reads of the versions it would have
            // pruned are fine again, and the next commit retries those deletions.
            self.horizon.store(old_horizon, Ordering::SeqCst);
            return Err(e.into());
        }
        fail::fail_point!("store::commit::after_write", |msg| Err(StoreError::Injected(
            msg.unwrap_or_else(|| "after write".into())
        )));
        Ok(())
    }
}

#[cfg(test)]
mod pruning_tests;
#[cfg(test)]
mod tests;
