//! The authenticated state tree: a Jellyfish Merkle tree (the `jmt` crate) hashed with
//! blake2b-256, stored in two column families. Leaves are keyed by blake2b-256 of the storage
//! key; the tree version is the block number.

use crate::pruning::{stale_key, KIND_NODE, KIND_VALUE};
use crate::{Store, StoreError, CF_TREE_NODES, CF_TREE_STALE, CF_TREE_VALUES};
use jmt::storage::{LeafNode, Node, NodeKey, TreeReader, TreeUpdateBatch};
use jmt::{JellyfishMerkleTree, KeyHash, OwnedValue, Version};
use rocksdb::WriteBatch;
use watt_primitives::hashing::Blake2b256;
use watt_primitives::{blake2_256, BlockNumber, Hash, StateProof};

/// A computed but not yet written tree update.
pub struct PreparedTree {
    /// The new state root.
    pub root: Hash,
    /// The version (block number) it is for.
    pub version: BlockNumber,
    batch: TreeUpdateBatch,
}

impl PreparedTree {
    /// Adds the update to `batch`; with `index_stale`, also what it made stale (for pruning).
    pub(crate) fn write_into(self, store: &Store, batch: &mut WriteBatch, index_stale: bool) -> Result<(), StoreError> {
        let nodes = store.cf(CF_TREE_NODES);
        for (key, node) in self.batch.node_batch.nodes() {
            let k = borsh::to_vec(key).map_err(|e| StoreError::Tree(e.to_string()))?;
            let v = borsh::to_vec(node).map_err(|e| StoreError::Tree(e.to_string()))?;
            batch.put_cf(nodes, k, v);
        }
        let values = store.cf(CF_TREE_VALUES);
        let stale = store.cf(CF_TREE_STALE);
        for ((version, key_hash), value) in self.batch.node_batch.values() {
            let v = borsh::to_vec(value).map_err(|e| StoreError::Tree(e.to_string()))?;
            batch.put_cf(values, value_key(key_hash.0, *version), v);
            if index_stale {
                batch.put_cf(stale, stale_key(*version, KIND_VALUE, &key_hash.0), []);
            }
        }
        if index_stale {
            for index in &self.batch.stale_node_index_batch {
                let node_key = borsh::to_vec(&index.node_key).map_err(|e| StoreError::Tree(e.to_string()))?;
                batch.put_cf(stale, stale_key(index.stale_since_version, KIND_NODE, &node_key), []);
            }
        }
        Ok(())
    }
}

/// key hash ++ big-endian version: versions of one key sort together, oldest first.
pub(crate) fn value_key(key_hash: Hash, version: Version) -> [u8; 40] {
    let mut k = [0u8; 40];
    k[..32].copy_from_slice(&key_hash);
    k[32..].copy_from_slice(&version.to_be_bytes());
    k
}

// `jmt` reports errors as `anyhow`, so this impl does too; the public API maps them to StoreError.
impl TreeReader for Store {
    fn get_node_option(&self, node_key: &NodeKey) -> anyhow::Result<Option<Node>> {
        let k = borsh::to_vec(node_key)?;
        match self.db().get_cf(self.cf(CF_TREE_NODES), k)? {
            Some(bytes) => Ok(Some(borsh::from_slice(&bytes)?)),
            None => Ok(None),
        }
    }

    fn get_value_option(&self, max_version: Version, key_hash: KeyHash) -> anyhow::Result<Option<OwnedValue>> {
        Ok(value_at(self, key_hash.0, max_version)?)
    }

    fn get_rightmost_leaf(&self) -> anyhow::Result<Option<(NodeKey, LeafNode)>> {
        // Only used when restoring a tree from a snapshot, which Watt does not do (yet).
        Err(anyhow::Error::msg("tree restore is not supported"))
    }
}

pub(crate) fn value_at(store: &Store, key_hash: Hash, version: Version) -> Result<Option<Vec<u8>>, StoreError> {
    // The column's prefix extractor is the 32-byte key hash: with `prefix_same_as_start` the
    // seek consults the prefix bloom filters and skips files that never held this key.
    let mut opts = rocksdb::ReadOptions::default();
    opts.set_prefix_same_as_start(true);
    let mut iter = store.db().raw_iterator_cf_opt(store.cf(CF_TREE_VALUES), opts);
    iter.seek_for_prev(value_key(key_hash, version));
    if !iter.valid() {
        iter.status()?;
        return Ok(None);
    }
    match (iter.key(), iter.value()) {
        (Some(k), Some(v)) if k[..32] == key_hash => {
            borsh::from_slice::<Option<Vec<u8>>>(v).map_err(|e| StoreError::Corrupt(format!("tree value: {e}")))
        }
        _ => Ok(None),
    }
}

pub(crate) fn prepare(
    store: &Store,
    changes: &crate::StateChanges,
    version: BlockNumber,
) -> Result<PreparedTree, StoreError> {
    let tree = JellyfishMerkleTree::<_, Blake2b256>::new(store);
    let set = changes.iter().map(|(k, v)| (KeyHash(blake2_256(k)), v.clone()));
    let (root, batch) = tree
        .put_value_set(set, version)
        .map_err(|e| StoreError::Tree(format!("{e:#}")))?;
    Ok(PreparedTree {
        root: root.0,
        version,
        batch,
    })
}

pub(crate) fn prove(store: &Store, key: &[u8], version: BlockNumber) -> Result<StateProof, StoreError> {
    let tree = JellyfishMerkleTree::<_, Blake2b256>::new(store);
    let (value, proof) = tree
        .get_with_proof(KeyHash(blake2_256(key)), version)
        .map_err(|e| StoreError::NotFound(format!("state at block {version}: {e:#}")))?;
    let proof = borsh::to_vec(&proof).map_err(|e| StoreError::Tree(e.to_string()))?;
    Ok(StateProof {
        key: key.to_vec(),
        value,
        proof,
    })
}
