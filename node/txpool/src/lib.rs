//! Watt's transaction pool. Pure data structure: the runtime validates a transaction against
//! the head state (signature, genesis, nonce not stale, fee payable), then the pool keeps, per
//! sender, a gap-free chain of nonces starting at the sender's state nonce. Blocks take
//! transactions by fee (highest first, ties by arrival) while each sender's nonces stay in
//! order. The pool is bounded in count and bytes; a pending transaction can be replaced by one
//! with the same sender and nonce and a higher tip.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;
use watt_primitives::abi::ValidTransaction;
use watt_primitives::{AccountId, Balance, Hash, SignedTransaction, TxError};

/// Why the pool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The runtime found it invalid.
    #[error("invalid transaction: {0}")]
    Invalid(TxError),
    /// Exactly this transaction is already pending.
    #[error("transaction already in the pool")]
    AlreadyImported,
    /// Same sender and nonce as a pending one, without a higher tip.
    #[error("a transaction with this nonce is pending with tip {pending_tip}; a replacement needs a higher tip")]
    TipTooLow {
        /// Tip of the pending transaction.
        pending_tip: Balance,
    },
    /// The pool is at its bound.
    #[error("transaction pool is full ({count} transactions, {bytes} bytes); retry later")]
    Full {
        /// Transactions pending.
        count: usize,
        /// Bytes pending.
        bytes: usize,
    },
}

/// Bounds of the pool.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Most transactions pending.
    pub max_count: usize,
    /// Most encoded bytes pending.
    pub max_bytes: usize,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_count: 100_000,
            max_bytes: 64 << 20,
        }
    }
}

/// A pending transaction.
#[derive(Clone, Debug)]
pub struct PendingTx {
    /// The transaction.
    pub tx: Arc<SignedTransaction>,
    /// Its hash.
    pub hash: Hash,
    /// Fee including tip: the ordering key.
    pub fee: Balance,
    /// Tip, for replacement.
    pub tip: Balance,
    /// Encoded length.
    pub len: usize,
    seq: u64,
}

/// The pool.
#[derive(Default)]
pub struct TxPool {
    config: PoolConfig,
    senders: HashMap<AccountId, BTreeMap<u64, PendingTx>>,
    by_hash: HashMap<Hash, (AccountId, u64)>,
    bytes: usize,
    seq: u64,
}

impl TxPool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Self {
        TxPool {
            config,
            ..Default::default()
        }
    }

    /// Pending transactions.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Encoded bytes pending.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `hash` is pending.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Adds a transaction the runtime found valid. Returns the hash of a transaction it
    /// replaced, if any.
    pub fn submit(&mut self, tx: SignedTransaction, v: ValidTransaction) -> Result<Option<Hash>, PoolError> {
        if self.by_hash.contains_key(&v.hash) {
            return Err(PoolError::AlreadyImported);
        }
        let chain = self.senders.get(&v.signer);
        if let Some(existing) = chain.and_then(|c| c.get(&v.nonce)) {
            if v.tip <= existing.tip {
                return Err(PoolError::TipTooLow {
                    pending_tip: existing.tip,
                });
            }
            let old = existing.hash;
            let old_len = existing.len;
            if self.bytes - old_len + v.len as usize > self.config.max_bytes {
                return Err(PoolError::Full {
                    count: self.len(),
                    bytes: self.bytes,
                });
            }
            self.by_hash.remove(&old);
            self.bytes -= old_len;
            self.insert(tx, v);
            return Ok(Some(old));
        }
        let expected = chain
            .and_then(|c| c.keys().next_back())
            .map_or(v.state_nonce, |last| last + 1);
        if v.nonce != expected {
            return Err(PoolError::Invalid(TxError::FutureNonce { expected, got: v.nonce }));
        }
        if self.len() + 1 > self.config.max_count || self.bytes + v.len as usize > self.config.max_bytes {
            return Err(PoolError::Full {
                count: self.len(),
                bytes: self.bytes,
            });
        }
        self.insert(tx, v);
        Ok(None)
    }

    fn insert(&mut self, tx: SignedTransaction, v: ValidTransaction) {
        self.seq += 1;
        let pending = PendingTx {
            tx: Arc::new(tx),
            hash: v.hash,
            fee: v.fee,
            tip: v.tip,
            len: v.len as usize,
            seq: self.seq,
        };
        self.bytes += pending.len;
        self.by_hash.insert(v.hash, (v.signer, v.nonce));
        self.senders.entry(v.signer).or_default().insert(v.nonce, pending);
    }

    /// Transactions for the next block, at most `max_count` and `max_bytes`: highest fee first
    /// across senders, each sender's nonces in order.
    pub fn ready(&self, max_count: usize, max_bytes: usize) -> Vec<PendingTx> {
        // Heap of each sender's next transaction: (fee, earliest arrival first).
        let mut heap: BinaryHeap<(Balance, Reverse<u64>, AccountId, u64)> = self
            .senders
            .iter()
            .filter_map(|(who, chain)| chain.iter().next().map(|(n, t)| (t.fee, Reverse(t.seq), *who, *n)))
            .collect();
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some((_, _, who, nonce)) = heap.pop() {
            if out.len() >= max_count {
                break;
            }
            let chain = &self.senders[&who];
            let t = &chain[&nonce];
            if bytes + t.len > max_bytes {
                // This sender's later nonces must wait too; others may still fit.
                continue;
            }
            bytes += t.len;
            out.push(t.clone());
            if let Some((n, next)) = chain.range(nonce + 1..).next() {
                heap.push((next.fee, Reverse(next.seq), who, *n));
            }
        }
        out
    }

    /// The nonce after `who`'s last pending transaction, if it has any.
    pub fn next_nonce(&self, who: &AccountId) -> Option<u64> {
        self.senders.get(who).and_then(|c| c.keys().next_back()).map(|n| n + 1)
    }

    /// Every pending transaction (RPC `author_pendingExtrinsics`), in sender/nonce order.
    pub fn pending(&self) -> Vec<PendingTx> {
        self.senders.values().flat_map(|c| c.values().cloned()).collect()
    }

    /// After a block: drops each sender's transactions below its new state nonce.
    /// Returns the hashes removed.
    pub fn prune(&mut self, new_nonces: &[(AccountId, u64)]) -> Vec<Hash> {
        let mut removed = Vec::new();
        for (who, next_nonce) in new_nonces {
            let Some(chain) = self.senders.get_mut(who) else {
                continue;
            };
            let keep = chain.split_off(next_nonce);
            for (_, t) in std::mem::replace(chain, keep) {
                self.bytes -= t.len;
                self.by_hash.remove(&t.hash);
                removed.push(t.hash);
            }
            if chain.is_empty() {
                self.senders.remove(who);
            }
        }
        removed
    }

    /// Drops a transaction found invalid while building a block, with every later nonce of its
    /// sender (they can no longer become ready). Returns the hashes removed.
    pub fn remove_invalid(&mut self, hash: &Hash) -> Vec<Hash> {
        let Some((who, nonce)) = self.by_hash.get(hash).copied() else {
            return vec![];
        };
        let chain = self.senders.get_mut(&who).expect("by_hash and senders agree");
        let dropped = chain.split_off(&nonce);
        let mut removed = Vec::new();
        for (_, t) in dropped {
            self.bytes -= t.len;
            self.by_hash.remove(&t.hash);
            removed.push(t.hash);
        }
        if chain.is_empty() {
            self.senders.remove(&who);
        }
        removed
    }
}

#[cfg(test)]
mod tests;
