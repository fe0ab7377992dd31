//! Watt's transaction pool. Pure data structure: the runtime validates a transaction against
//! the head state (signature, genesis, nonce not stale, fee payable), then the pool keeps, per
//! sender, a gap-free chain of nonces starting at the sender's state nonce. Blocks take
//! transactions by fee (highest first, ties by arrival) while each sender's nonces stay in
//! order.
//!
//! Limits, so that no sender and no flood can take the pool over:
//! - bounded in count and bytes; when full, a transaction paying more than the cheapest
//!   evictable one takes its place. Only the last transaction of a sender's chain is evictable,
//!   so evicting never leaves a gap that would strand later nonces;
//! - at most [`PoolConfig::max_per_sender`] pending transactions per sender;
//! - the fees of a sender's pending chain, taken together, must be payable from the free balance
//!   the runtime reported at validation: a chain that could not pay for itself would be dropped
//!   one by one at block building, after having occupied the pool;
//! - a transaction pending longer than [`PoolConfig::lifetime`] expires (with every later nonce
//!   of its sender).
//!
//! The pool reads no clock: callers pass `now`, so it stays deterministic under test.
//! A pending transaction can be replaced by one with the same sender and nonce and a higher tip.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
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
    /// The pending transaction with this sender and nonce is in the block being built: it can
    /// no longer be replaced.
    #[error("the pending transaction with this nonce is being included in a block and can no longer be replaced")]
    InBlock,
    /// The pool is at its bound and nothing cheaper can be evicted for this transaction.
    #[error("transaction pool is full ({count} transactions, {bytes} bytes) and holds nothing cheaper than fee {fee} to evict; retry later or pay a higher tip")]
    Full {
        /// Transactions pending.
        count: usize,
        /// Bytes pending.
        bytes: usize,
        /// The refused transaction's fee.
        fee: Balance,
    },
    /// The sender already has the most pending transactions allowed.
    #[error("too many pending transactions for this sender ({pending}, limit {limit}); wait for some to be included")]
    SenderLimit {
        /// The sender's pending transactions.
        pending: usize,
        /// The limit.
        limit: usize,
    },
    /// With this transaction, the sender's pending fees would exceed its free balance.
    #[error("the sender's pending transactions need {pending_fees} in fees; with this one's fee {fee} that exceeds its free balance {free}")]
    ChainUnpayable {
        /// Fees of the sender's other pending transactions (without one this replaces).
        pending_fees: Balance,
        /// This transaction's fee.
        fee: Balance,
        /// The sender's free balance at validation.
        free: Balance,
    },
}

/// Why a pending transaction left the pool without being included (besides replacement and
/// invalidity, which the caller knows about already).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The pool was full and a transaction paying more took its place.
    Evicted,
    /// It was pending longer than the pool's lifetime.
    Expired,
    /// An earlier nonce of its sender expired, so it could never become ready.
    EarlierNonceExpired,
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DropReason::Evicted => "evicted by a higher-fee transaction",
            DropReason::Expired => "expired: pending longer than the pool's transaction lifetime",
            DropReason::EarlierNonceExpired => "an earlier nonce of its sender expired",
        })
    }
}

/// What a successful submission changed besides adding the transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submitted {
    /// The pending transaction it replaced (same sender and nonce, lower tip).
    pub replaced: Option<Hash>,
    /// Transactions evicted to make room, lowest fee first.
    pub evicted: Vec<Hash>,
}

/// Bounds of the pool.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Most transactions pending.
    pub max_count: usize,
    /// Most encoded bytes pending.
    pub max_bytes: usize,
    /// Most transactions pending per sender.
    pub max_per_sender: usize,
    /// How long a transaction may stay pending before it is dropped.
    pub lifetime: Duration,
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig {
            max_count: 100_000,
            max_bytes: 64 << 20,
            // 1% of the default pool, as OpenEthereum's per-sender default: one sender cannot
            // fill the pool, while a funding account still has room for a few blocks' worth of
            // transfers in flight (watt-load funds up to ~170 accounts from each dev account).
            max_per_sender: 1_000,
            // A transaction not included in 10 minutes is stuck (a bad nonce chain, a fee below
            // what blocks take); its sender should learn it rather than wait forever.
            lifetime: Duration::from_secs(600),
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
    /// When it entered the pool (the caller's clock).
    pub added: Instant,
    seq: u64,
}

/// Key of a sender's last pending transaction in the eviction order: lowest fee first, among
/// equal fees the newest first (so earlier arrivals keep their place).
type TailKey = (Balance, Reverse<u64>, AccountId);

/// The pool.
#[derive(Default)]
pub struct TxPool {
    config: PoolConfig,
    senders: HashMap<AccountId, BTreeMap<u64, PendingTx>>,
    by_hash: HashMap<Hash, (AccountId, u64)>,
    /// Arrival order (`seq`) to position, for expiry: oldest first.
    by_age: BTreeMap<u64, (AccountId, u64)>,
    /// Every sender's last pending transaction: the eviction candidates.
    tails: BTreeSet<TailKey>,
    bytes: usize,
    seq: u64,
    /// Latest `now` seen: arrival times never go backwards, so arrival order is age order.
    clock: Option<Instant>,
    /// Transactions taken into the block being built: neither replaced nor evicted until it is
    /// committed, or a watcher would hear "dropped" of a transaction that is then included.
    in_block: HashSet<Hash>,
}

fn tail_key(who: AccountId, t: &PendingTx) -> TailKey {
    (t.fee, Reverse(t.seq), who)
}

impl TxPool {
    /// An empty pool.
    pub fn new(config: PoolConfig) -> Self {
        TxPool {
            config,
            ..Default::default()
        }
    }

    /// The pool's bounds.
    pub fn config(&self) -> &PoolConfig {
        &self.config
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

    fn tick(&mut self, now: Instant) -> Instant {
        let t = self.clock.map_or(now, |c| c.max(now));
        self.clock = Some(t);
        t
    }

    /// Adds a transaction the runtime found valid, at time `now`. Reports a transaction it
    /// replaced and those it evicted to make room.
    pub fn submit(&mut self, tx: SignedTransaction, v: ValidTransaction, now: Instant) -> Result<Submitted, PoolError> {
        if self.by_hash.contains_key(&v.hash) {
            return Err(PoolError::AlreadyImported);
        }
        let chain = self.senders.get(&v.signer);
        let existing = chain.and_then(|c| c.get(&v.nonce));
        let replaced_len = existing.map(|e| e.len);
        if let Some(existing) = existing {
            if self.in_block.contains(&existing.hash) {
                return Err(PoolError::InBlock);
            }
            if v.tip <= existing.tip {
                return Err(PoolError::TipTooLow {
                    pending_tip: existing.tip,
                });
            }
        } else {
            let expected = chain
                .and_then(|c| c.keys().next_back())
                .map_or(v.state_nonce, |last| last + 1);
            if v.nonce != expected {
                return Err(PoolError::Invalid(TxError::FutureNonce { expected, got: v.nonce }));
            }
            let pending = chain.map_or(0, BTreeMap::len);
            if pending >= self.config.max_per_sender {
                return Err(PoolError::SenderLimit {
                    pending,
                    limit: self.config.max_per_sender,
                });
            }
        }
        // Every pending transaction of this sender has a nonce at or above the state nonce the
        // runtime just read, so none of their fees is paid yet: together with this one they
        // must fit in the balance that state holds.
        let pending_fees = chain
            .into_iter()
            .flat_map(|c| c.iter())
            .filter(|(n, _)| **n != v.nonce)
            .fold(0 as Balance, |sum, (_, t)| sum.saturating_add(t.fee));
        if pending_fees.saturating_add(v.fee) > v.sender_free {
            return Err(PoolError::ChainUnpayable {
                pending_fees,
                fee: v.fee,
                free: v.sender_free,
            });
        }
        let (count_after, bytes_after) = match replaced_len {
            Some(old) => (self.len(), self.bytes - old + v.len as usize),
            None => (self.len() + 1, self.bytes + v.len as usize),
        };
        let evict = self.eviction_plan(&v, count_after, bytes_after)?;
        let mut out = Submitted::default();
        for (who, nonce) in evict {
            if let Some(t) = self.remove_from(who, nonce).pop() {
                out.evicted.push(t.hash);
            }
        }
        if replaced_len.is_some() {
            out.replaced = self.remove_one(v.signer, v.nonce).map(|t| t.hash);
        }
        let now = self.tick(now);
        self.insert(tx, v, now);
        Ok(out)
    }

    /// Which tails to evict so that the pool holds `count` transactions and `bytes` bytes within
    /// its bounds, each paying less than `v`; `Full` if that cannot be done. Never picks `v`'s
    /// own sender: its chain is what `v` extends or replaces within.
    fn eviction_plan(
        &self,
        v: &ValidTransaction,
        count: usize,
        bytes: usize,
    ) -> Result<Vec<(AccountId, u64)>, PoolError> {
        let (mut count, mut bytes) = (count, bytes);
        let fits = |count: usize, bytes: usize| count <= self.config.max_count && bytes <= self.config.max_bytes;
        let mut plan = Vec::new();
        if fits(count, bytes) {
            return Ok(plan);
        }
        let full = || PoolError::Full {
            count: self.len(),
            bytes: self.bytes,
            fee: v.fee,
        };
        // Candidates: every sender's tail (in order, from `tails`), and the transaction just
        // before a tail already planned (it becomes the new tail), kept in a small heap.
        let mut tails = self.tails.iter().filter(|(_, _, who)| *who != v.signer).peekable();
        let mut exposed: BinaryHeap<Reverse<(TailKey, u64)>> = BinaryHeap::new();
        while !fits(count, bytes) {
            let from_tails = tails.peek().copied();
            let from_exposed = exposed.peek().map(|Reverse((k, _))| k);
            let (key, nonce) = match (from_tails, from_exposed) {
                (Some(t), Some(e)) if e < t => {
                    let Reverse(x) = exposed.pop().expect("peeked");
                    x
                }
                (Some(t), _) => {
                    tails.next();
                    let nonce = *self.senders[&t.2]
                        .keys()
                        .next_back()
                        .expect("a tail's chain is not empty");
                    (*t, nonce)
                }
                (None, Some(_)) => {
                    let Reverse(x) = exposed.pop().expect("peeked");
                    x
                }
                (None, None) => return Err(full()),
            };
            let (fee, _, who) = key;
            if fee >= v.fee {
                return Err(full());
            }
            let chain = &self.senders[&who];
            // Cheapest first: a candidate in the block being built stops the search (refusing
            // the newcomer) rather than evicting what is about to be included.
            if self.in_block.contains(&chain[&nonce].hash) {
                return Err(full());
            }
            count -= 1;
            bytes -= chain[&nonce].len;
            plan.push((who, nonce));
            if let Some((n, prev)) = chain.range(..nonce).next_back() {
                exposed.push(Reverse((tail_key(who, prev), *n)));
            }
        }
        Ok(plan)
    }

    fn insert(&mut self, tx: SignedTransaction, v: ValidTransaction, now: Instant) {
        self.seq += 1;
        let pending = PendingTx {
            tx: Arc::new(tx),
            hash: v.hash,
            fee: v.fee,
            tip: v.tip,
            len: v.len as usize,
            added: now,
            seq: self.seq,
        };
        self.untrack_tail(v.signer);
        self.bytes += pending.len;
        self.by_hash.insert(v.hash, (v.signer, v.nonce));
        self.by_age.insert(pending.seq, (v.signer, v.nonce));
        self.senders.entry(v.signer).or_default().insert(v.nonce, pending);
        self.track_tail(v.signer);
    }

    fn untrack_tail(&mut self, who: AccountId) {
        if let Some(t) = self.senders.get(&who).and_then(|c| c.values().next_back()) {
            self.tails.remove(&tail_key(who, t));
        }
    }

    fn track_tail(&mut self, who: AccountId) {
        match self.senders.get(&who).and_then(|c| c.values().next_back()) {
            Some(t) => {
                self.tails.insert(tail_key(who, t));
            }
            None => {
                self.senders.remove(&who);
            }
        }
    }

    fn forget(&mut self, t: &PendingTx) {
        self.bytes -= t.len;
        self.by_hash.remove(&t.hash);
        self.by_age.remove(&t.seq);
    }

    /// Removes `who`'s transaction at `nonce` alone (for a replacement, which takes its place).
    fn remove_one(&mut self, who: AccountId, nonce: u64) -> Option<PendingTx> {
        self.untrack_tail(who);
        let t = self.senders.get_mut(&who).and_then(|c| c.remove(&nonce));
        if let Some(t) = &t {
            self.forget(t);
        }
        self.track_tail(who);
        t
    }

    /// Removes `who`'s transactions from `nonce` on (a suffix: no gap is left), in nonce order.
    fn remove_from(&mut self, who: AccountId, nonce: u64) -> Vec<PendingTx> {
        self.remove_part(who, |chain| chain.split_off(&nonce))
    }

    /// Removes `who`'s transactions below `nonce` (a prefix, now included in a block).
    fn remove_below(&mut self, who: AccountId, nonce: u64) -> Vec<PendingTx> {
        self.remove_part(who, |chain| {
            let keep = chain.split_off(&nonce);
            std::mem::replace(chain, keep)
        })
    }

    /// Takes the part of `who`'s chain that `split` cuts off, keeping the indexes and the
    /// sender's tail entry in step.
    fn remove_part(
        &mut self,
        who: AccountId,
        split: impl FnOnce(&mut BTreeMap<u64, PendingTx>) -> BTreeMap<u64, PendingTx>,
    ) -> Vec<PendingTx> {
        self.untrack_tail(who);
        let dropped = self.senders.get_mut(&who).map(split).unwrap_or_default();
        let dropped: Vec<PendingTx> = dropped.into_values().collect();
        for t in &dropped {
            self.forget(t);
        }
        self.track_tail(who);
        dropped
    }

    /// Marks the transactions taken into the block being built (replacing any earlier mark).
    pub fn set_in_block(&mut self, hashes: impl IntoIterator<Item = Hash>) {
        self.in_block = hashes.into_iter().collect();
    }

    /// The block being built was committed or abandoned.
    pub fn clear_in_block(&mut self) {
        self.in_block.clear();
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
        new_nonces
            .iter()
            .flat_map(|(who, next_nonce)| self.remove_below(*who, *next_nonce))
            .map(|t| t.hash)
            .collect()
    }

    /// Drops a transaction found invalid while building a block, with every later nonce of its
    /// sender (they can no longer become ready). Returns the hashes removed.
    pub fn remove_invalid(&mut self, hash: &Hash) -> Vec<Hash> {
        let Some((who, nonce)) = self.by_hash.get(hash).copied() else {
            return vec![];
        };
        self.remove_from(who, nonce).into_iter().map(|t| t.hash).collect()
    }

    /// Drops every transaction pending for longer than the lifetime at `now`, with the later
    /// nonces of its sender. Returns what was dropped and why, oldest first.
    pub fn expire(&mut self, now: Instant) -> Vec<(Hash, DropReason)> {
        let now = self.tick(now);
        let mut out = Vec::new();
        while let Some((_, &(who, nonce))) = self.by_age.first_key_value() {
            let t = &self.senders[&who][&nonce];
            if now.saturating_duration_since(t.added) < self.config.lifetime {
                break;
            }
            for t in self.remove_from(who, nonce) {
                let reason = if now.saturating_duration_since(t.added) >= self.config.lifetime {
                    DropReason::Expired
                } else {
                    DropReason::EarlierNonceExpired
                };
                out.push((t.hash, reason));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests;
