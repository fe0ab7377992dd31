//! Watt's rocksdb store: headers, bodies, receipts, the flat state column (reads and prefix
//! scans of the head state), the authenticated state tree (a Jellyfish Merkle tree over
//! blake2b-256, giving the state root of every block and inclusion/exclusion proofs), and
//! metadata. Each block lands in one atomic, synced write batch (ARCHITECTURE §6), so a crash
//! at any point reopens at the last committed block.
//!
//! The tree keeps every version (no pruning yet), so state and proofs are available at any
//! height.

mod tree;

use parity_scale_codec::{Decode, Encode};
use rocksdb::{ColumnFamilyDescriptor, Direction, IteratorMode, Options, WriteBatch, WriteOptions, DB};
use std::collections::BTreeMap;
use std::path::Path;
use watt_primitives::{blake2_256, Block, BlockNumber, Hash, Header, Receipt, SignedTransaction};

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
}

const CF_META: &str = "meta";
const CF_HEADERS: &str = "headers";
const CF_BODIES: &str = "bodies";
const CF_NUMBERS: &str = "numbers";
const CF_RECEIPTS: &str = "receipts";
const CF_STATE: &str = "state";
pub(crate) const CF_TREE_NODES: &str = "tree_nodes";
pub(crate) const CF_TREE_VALUES: &str = "tree_values";
const COLUMNS: [&str; 8] = [
    CF_META,
    CF_HEADERS,
    CF_BODIES,
    CF_NUMBERS,
    CF_RECEIPTS,
    CF_STATE,
    CF_TREE_NODES,
    CF_TREE_VALUES,
];

const META_GENESIS: &[u8] = b"genesis";
const META_BEST: &[u8] = b"best";
const META_FINALIZED: &[u8] = b"finalized";

/// The writes of a block: key -> new value (`None` = deleted).
pub type StateChanges = BTreeMap<Vec<u8>, Option<Vec<u8>>>;

/// The node's database.
pub struct Store {
    db: DB,
}

fn decode<T: Decode>(bytes: &[u8], what: &str) -> Result<T, StoreError> {
    T::decode(&mut &bytes[..]).map_err(|e| StoreError::Corrupt(format!("{what}: {e}")))
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let mut opts = Options::default();
        opts.create_if_missing(true);
        opts.create_missing_column_families(true);
        opts.set_max_open_files(512);
        opts.increase_parallelism(2);
        let cfs = COLUMNS
            .iter()
            .map(|name| ColumnFamilyDescriptor::new(*name, Options::default()));
        let db = DB::open_cf_descriptors(&opts, path, cfs)?;
        Ok(Store { db })
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
        tree::value_at(self, blake2_256(key), number)
    }

    /// Computes the state root after applying `changes` on top of block `number - 1`'s state,
    /// without writing anything. Commit the result with [`Store::commit_block`].
    pub fn prepare_state(&self, changes: &StateChanges, number: BlockNumber) -> Result<PreparedTree, StoreError> {
        tree::prepare(self, changes, number)
    }

    /// Proofs of `keys` (present or absent) against the state root of block `number`.
    pub fn prove(&self, keys: &[Vec<u8>], number: BlockNumber) -> Result<Vec<StateProof>, StoreError> {
        keys.iter().map(|k| tree::prove(self, k, number)).collect()
    }

    /// Writes a block, its receipts, its state changes and tree nodes, and moves the head (and
    /// the finalized pointer when `finalized`), in one synced atomic batch.
    pub fn commit_block(
        &self,
        block: &Block,
        receipts: &[Receipt],
        changes: &StateChanges,
        tree: PreparedTree,
        finalized: bool,
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
        for r in receipts {
            batch.put_cf(self.cf(CF_RECEIPTS), r.tx_hash, r.encode());
        }
        let state = self.cf(CF_STATE);
        for (k, v) in changes {
            match v {
                Some(v) => batch.put_cf(state, k, v),
                None => batch.delete_cf(state, k),
            }
        }
        tree.write_into(self, &mut batch)?;
        let pointer = (header.number, hash).encode();
        batch.put_cf(self.cf(CF_META), META_BEST, &pointer);
        if finalized {
            batch.put_cf(self.cf(CF_META), META_FINALIZED, &pointer);
        }
        if header.number == 0 {
            batch.put_cf(self.cf(CF_META), META_GENESIS, hash.encode());
        }
        let mut opts = WriteOptions::default();
        opts.set_sync(true);
        self.db.write_opt(batch, &opts)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
