//! State pruning, as Substrate's `--state-pruning`: keep the authenticated state of the last N
//! blocks (or every block, `archive`) and delete tree nodes and versioned values that no kept
//! version can reach.
//!
//! Each block's commit records what it made stale in the `tree_stale` column, keyed by the
//! version from which the entry is no longer needed:
//! - `version ++ 0 ++ borsh(node key)`: a tree node replaced at `version` (the `jmt` crate's
//!   stale-node index: a node stale since `s` is read only by versions below `s`);
//! - `version ++ 1 ++ key hash`: a key written at `version`, which makes that key's previous
//!   value stale (read only by versions below `version`).
//!
//! Keeping versions `h..=head` (the horizon `h`), every entry with a version `<= h` can go: its
//! node or superseded value is unreachable from version `h` on. The deletions ride in the block's
//! own write batch, so pruning is as atomic as the block (ARCHITECTURE §6), and each block prunes
//! about as much as one block wrote: the work never depends on the size of the state.

use crate::tree::value_key;
use crate::{Store, StoreError, CF_TREE_NODES, CF_TREE_STALE, CF_TREE_VALUES};
use rocksdb::{IteratorMode, WriteBatch};
use watt_primitives::BlockNumber;

/// How much state history a node keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatePruning {
    /// Every version: state and proofs at any height (`--state-pruning archive`).
    Archive,
    /// The state of the last `n` blocks (`n >= 1`): older state reads and proofs are refused.
    KeepLast(u64),
}

impl StatePruning {
    /// Substrate's default: the state of the last 256 blocks.
    pub const DEFAULT_KEEP: u64 = 256;

    /// Parses `archive` or a number of blocks (at least 1).
    pub fn parse(s: &str) -> Result<Self, String> {
        match s.trim() {
            "archive" | "archive-all" => Ok(StatePruning::Archive),
            n => match n.parse::<u64>() {
                Ok(0) => Err("`--state-pruning 0` would keep no state; give at least 1, or `archive`".into()),
                Ok(n) => Ok(StatePruning::KeepLast(n)),
                Err(_) => Err(format!(
                    "`{s}` is not a pruning mode: give `archive` or the number of recent blocks whose state to keep"
                )),
            },
        }
    }

    /// The oldest version to keep once `head` is committed (0 for archive).
    pub fn horizon(self, head: BlockNumber) -> BlockNumber {
        match self {
            StatePruning::Archive => 0,
            StatePruning::KeepLast(n) => (head + 1).saturating_sub(n),
        }
    }

    /// How the mode is remembered in the database (`None` = archive).
    pub(crate) fn stored(self) -> Option<u64> {
        match self {
            StatePruning::Archive => None,
            StatePruning::KeepLast(n) => Some(n),
        }
    }
}

impl Default for StatePruning {
    fn default() -> Self {
        StatePruning::KeepLast(Self::DEFAULT_KEEP)
    }
}

impl std::fmt::Display for StatePruning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StatePruning::Archive => write!(f, "archive"),
            StatePruning::KeepLast(n) => write!(f, "the last {n} blocks"),
        }
    }
}

pub(crate) const KIND_NODE: u8 = 0;
pub(crate) const KIND_VALUE: u8 = 1;

/// Most versions one commit prunes: after the mode shrinks (say 10,000 blocks to 100) the horizon
/// catches up over several blocks instead of one huge batch.
const MAX_VERSIONS_PER_COMMIT: u64 = 64;

pub(crate) fn stale_key(version: BlockNumber, kind: u8, payload: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(9 + payload.len());
    k.extend_from_slice(&version.to_be_bytes());
    k.push(kind);
    k.extend_from_slice(payload);
    k
}

/// Adds to `batch` the deletions that move the horizon from `from` towards `target`; returns the
/// horizon reached (every stale entry with a version `<= reached` is deleted by `batch`).
pub(crate) fn prune_into(
    store: &Store,
    from: BlockNumber,
    target: BlockNumber,
    batch: &mut WriteBatch,
) -> Result<BlockNumber, StoreError> {
    if target <= from {
        return Ok(from);
    }
    let reached = target.min(from + MAX_VERSIONS_PER_COMMIT);
    let stale = store.cf(CF_TREE_STALE);
    let nodes = store.cf(CF_TREE_NODES);
    let values = store.cf(CF_TREE_VALUES);
    // Entries up to `from` are gone already (deleted with the batch that raised the horizon to
    // it), and their tombstones sit at the front of the column until compaction: start past them
    // rather than skip them on every commit, and stop after `reached`.
    let mut opts = rocksdb::ReadOptions::default();
    opts.set_iterate_lower_bound(from.to_be_bytes().to_vec());
    opts.set_iterate_upper_bound((reached + 1).to_be_bytes().to_vec());
    let iter = store.db().iterator_cf_opt(stale, opts, IteratorMode::Start);
    for item in iter {
        let (key, _) = item?;
        if key.len() < 9 {
            return Err(StoreError::Corrupt("stale index entry too short".into()));
        }
        let version = u64::from_be_bytes(key[..8].try_into().expect("8 bytes"));
        if version > reached {
            break;
        }
        let payload = &key[9..];
        match key[8] {
            KIND_NODE => batch.delete_cf(nodes, payload),
            KIND_VALUE => {
                let key_hash: [u8; 32] = payload
                    .try_into()
                    .map_err(|_| StoreError::Corrupt("stale value entry is not a key hash".into()))?;
                // The value this write superseded: the newest older version of the key.
                if version > 0 {
                    let mut opts = rocksdb::ReadOptions::default();
                    opts.set_prefix_same_as_start(true);
                    let mut it = store.db().raw_iterator_cf_opt(values, opts);
                    it.seek_for_prev(value_key(key_hash, version - 1));
                    if let Some(k) = it.key() {
                        if k[..32] == key_hash {
                            batch.delete_cf(values, k);
                        }
                    } else {
                        it.status()?;
                    }
                }
                // A deletion marker is itself unneeded once nothing older can be read: absence
                // already reads as "no value".
                let own = value_key(key_hash, version);
                if let Some(v) = store.db().get_cf(values, own)? {
                    if borsh::from_slice::<Option<Vec<u8>>>(&v)
                        .map_err(|e| StoreError::Corrupt(format!("tree value: {e}")))?
                        .is_none()
                    {
                        batch.delete_cf(values, own);
                    }
                }
            }
            other => {
                return Err(StoreError::Corrupt(format!(
                    "stale index entry of unknown kind {other}"
                )))
            }
        }
        batch.delete_cf(stale, &key);
    }
    Ok(reached)
}
