//! Watt's transaction pool. Pure data structure: the runtime validates a transaction against
//! the head state (signature, genesis, nonce not stale, fee payable), then the pool keeps it
//! per sender, by nonce. Blocks take transactions by fee (highest first, ties by arrival) while
//! each sender's nonces stay in order.
//!
//! Per sender, the transactions from the sender's state nonce on without a gap are **ready**:
//! blocks take them. A transaction relayed by a peer ([`TxPool::submit_relayed`]) may arrive
//! before an earlier nonce of its sender (gossip does not keep order and drops under load); it
//! is then held as **future** until the missing nonce arrives, which makes it and its
//! contiguous followers ready. [`TxPool::nonce_gaps`] names the missing nonces, so the node
//! can ask its peers for them ([`TxPool::pooled_from`] serves such a request). A transaction
//! submitted to this node directly ([`TxPool::submit`]) must follow its sender's pending ones:
//! its author is told at once that a nonce is missing. When the state's nonce for a sender
//! turns out to differ from the pool's view (a block used a nonce without executing it, or
//! used nonces the pool never held), [`TxPool::resync_nonce`] brings the sender back in step.
//!
//! Limits, so that no sender and no flood can take the pool over:
//! - bounded in count and bytes (ready and future together); when full, a ready newcomer takes
//!   the place of future transactions first, then of ready ones paying less than it. Only the
//!   last transaction of a sender is evictable, so evicting never leaves a gap that would strand
//!   later nonces. A future newcomer never evicts anything;
//! - at most [`PoolConfig::max_future`] future transactions: they cannot be included, so they
//!   pay nothing while they wait, and must not crowd ready ones out;
//! - at most [`PoolConfig::max_per_sender`] pending transactions per sender, none further than
//!   that ahead of its next ready nonce;
//! - **the fees of a sender's pending transactions, taken together, must be payable from its
//!   free balance**: the balance the runtime reported at the sender's latest admission, or at a
//!   later [`TxPool::recheck`] (after a block moved it). A sender with the balance for one fee
//!   cannot fill the pool with nonces each payable alone: the next is refused
//!   ([`PoolError::ChainUnpayable`]), and when the balance drops, the transactions it no longer
//!   pays leave the pool, latest nonces first. Only fees (tip included) are counted: the value a
//!   call moves is not known to the pool (the runtime reports fees only), and the set check
//!   before voting does not count it either;
//! - a transaction pending longer than [`PoolConfig::lifetime`] expires (with every later nonce
//!   of its sender).
//!
//! The pool reads no clock: callers pass `now`, so it stays deterministic under test.
//! A pending transaction can be replaced by one with the same sender and nonce and a higher tip.
//! Every ready transaction remembers when it was last announced to peers, so that
//! [`TxPool::stale`] can hand out for re-announcement those that have waited too long (a
//! transaction dropped from gossip somewhere still reaches every pool).

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet, BinaryHeap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use watt_primitives::abi::ValidTransaction;
use watt_primitives::{AccountId, Balance, Hash, SignedTransaction, TxError};

/// Why the pool refused a transaction.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PoolError {
    /// The runtime found it invalid, or (as [`TxError::FutureNonce`]) its nonce does not follow
    /// its sender's pending transactions and the pool does not hold it until it does.
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
        /// Fees of the sender's other pending transactions that count against it (without one
        /// this replaces; for a transaction that fills a nonce gap, those before it).
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
    /// Its sender's free balance no longer pays the fees of its pending transactions up to
    /// this one.
    Unpayable,
    /// The chain already used its nonce.
    NonceUsed,
    /// It had to wait for a missing nonce of its sender, and the pool had no more room for
    /// transactions that wait.
    NoRoomToWait,
}

impl std::fmt::Display for DropReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DropReason::Evicted => "evicted by a higher-fee transaction",
            DropReason::Expired => "expired: pending longer than the pool's transaction lifetime",
            DropReason::EarlierNonceExpired => "an earlier nonce of its sender expired",
            DropReason::Unpayable => {
                "its sender's free balance no longer pays the fees of its pending transactions up to this one"
            }
            DropReason::NonceUsed => "its nonce is already used on chain",
            DropReason::NoRoomToWait => {
                "a nonce of its sender before it is missing, and the pool has no more room for transactions that wait"
            }
        })
    }
}

/// What a successful submission changed besides adding the transaction.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Submitted {
    /// The pending transaction it replaced (same sender and nonce, lower tip).
    pub replaced: Option<Hash>,
    /// Transactions evicted to make room, in eviction order.
    pub evicted: Vec<Hash>,
    /// Future transactions of the same sender dropped because, once this one filled the gap
    /// before them, the sender's balance (as reported with this one) could not pay them all
    /// ([`DropReason::Unpayable`]).
    pub unpayable: Vec<Hash>,
}

/// Bounds of the pool.
#[derive(Clone, Debug)]
pub struct PoolConfig {
    /// Most transactions pending (ready and future).
    pub max_count: usize,
    /// Most encoded bytes pending (ready and future).
    pub max_bytes: usize,
    /// Most transactions pending per sender; also how far ahead of its next ready nonce a
    /// sender's future transaction may be.
    pub max_per_sender: usize,
    /// Most future transactions (relayed ahead of a missing nonce of their sender); 0 refuses
    /// every transaction that does not follow its sender's pending ones.
    pub max_future: usize,
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
            // A quarter of the pool: room for the gaps of a heavily loaded network (the issue
            // 17 run held 21,000-33,000 out-of-order transactions per pool) while ready ones
            // keep three quarters whatever future ones do.
            max_future: 25_000,
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
    /// When it was last announced to peers: on arrival (the node relays what it accepts),
    /// then whenever [`TxPool::stale`] handed it out again.
    pub announced: Instant,
    seq: u64,
}

/// One sender's pending transactions and fee budget.
#[derive(Debug)]
struct Sender {
    /// By nonce, all at or above `base`. The first `ready` of them, `base..base + ready`, are
    /// contiguous and ready; the rest are future (a nonce before them is missing).
    txs: BTreeMap<u64, PendingTx>,
    /// The sender's next nonce in the state the pool last heard of (validation or a block).
    base: u64,
    /// How many transactions from `base` on are ready.
    ready: usize,
    /// Sum of the fees of `txs`.
    fees: Balance,
    /// The free balance the runtime last reported for the sender (at an admission or a
    /// recheck): `fees` never exceeds it.
    free: Balance,
}

impl Sender {
    /// The nonce that would be ready next: the gap before the future transactions, if any.
    fn ready_end(&self) -> u64 {
        self.base + self.ready as u64
    }

    fn is_ready(&self, nonce: u64) -> bool {
        nonce >= self.base && nonce < self.ready_end()
    }

    fn future(&self) -> usize {
        self.txs.len() - self.ready
    }
}

/// Key of a sender's last pending transaction in the eviction order: future before ready
/// (a future transaction cannot be included and pays nothing while it waits), then lowest fee
/// first, among equal fees the newest first (so earlier arrivals keep their place).
type TailKey = (bool, Balance, Reverse<u64>, AccountId);

fn tail_key(who: AccountId, ready: bool, t: &PendingTx) -> TailKey {
    (ready, t.fee, Reverse(t.seq), who)
}

/// The pool.
#[derive(Default)]
pub struct TxPool {
    config: PoolConfig,
    senders: HashMap<AccountId, Sender>,
    by_hash: HashMap<Hash, (AccountId, u64)>,
    /// Arrival order (`seq`) to position, for expiry: oldest first.
    by_age: BTreeMap<u64, (AccountId, u64)>,
    /// Ready transactions by (last announced, seq): oldest announcement first.
    by_announce: BTreeMap<(Instant, u64), (AccountId, u64)>,
    /// Every sender's last pending transaction: the eviction candidates.
    tails: BTreeSet<TailKey>,
    bytes: usize,
    /// Future transactions pending.
    future: usize,
    seq: u64,
    /// Latest `now` seen: arrival times never go backwards, so arrival order is age order.
    clock: Option<Instant>,
    /// Transactions taken into the block being built: neither replaced nor evicted until it is
    /// committed, or a watcher would hear "dropped" of a transaction that is then included.
    in_block: HashSet<Hash>,
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

    /// Pending transactions, ready and future.
    pub fn len(&self) -> usize {
        self.by_hash.len()
    }

    /// Whether any pending transaction is ready (a block could take it now).
    pub fn has_ready(&self) -> bool {
        self.future < self.len()
    }

    /// Future transactions pending (waiting for a missing nonce of their sender).
    pub fn future_len(&self) -> usize {
        self.future
    }

    /// Whether nothing is pending.
    pub fn is_empty(&self) -> bool {
        self.by_hash.is_empty()
    }

    /// Encoded bytes pending, ready and future.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// Whether `hash` is pending.
    pub fn contains(&self, hash: &Hash) -> bool {
        self.by_hash.contains_key(hash)
    }

    /// Whether `hash` is pending and ready (no nonce of its sender missing before it).
    pub fn is_ready(&self, hash: &Hash) -> bool {
        self.by_hash
            .get(hash)
            .and_then(|(who, nonce)| self.senders.get(who).map(|s| s.is_ready(*nonce)))
            .unwrap_or(false)
    }

    /// `who`'s pending fees (ready and future, tips included) and the free balance they are
    /// held against (the latest the runtime reported), if it has pending transactions.
    pub fn fee_budget(&self, who: &AccountId) -> Option<(Balance, Balance)> {
        self.senders.get(who).map(|s| (s.fees, s.free))
    }

    fn tick(&mut self, now: Instant) -> Instant {
        let t = self.clock.map_or(now, |c| c.max(now));
        self.clock = Some(t);
        t
    }

    /// Adds a transaction submitted to this node (RPC) that the runtime found valid, at time
    /// `now`: its nonce must follow its sender's pending transactions (or be the sender's
    /// state nonce), else it is refused with [`TxError::FutureNonce`] so that its author
    /// learns of the gap at once. Reports a transaction it replaced and those it evicted.
    pub fn submit(&mut self, tx: SignedTransaction, v: ValidTransaction, now: Instant) -> Result<Submitted, PoolError> {
        self.admit(tx, v, now, false)
    }

    /// As [`TxPool::submit`], for a transaction relayed by a peer: gossip neither keeps order
    /// nor delivers everything, so a nonce ahead of the sender's next is held as future (within
    /// [`PoolConfig::max_per_sender`] of it and while fewer than [`PoolConfig::max_future`] are
    /// held) until the missing nonces arrive. Otherwise refused as [`TxError::FutureNonce`].
    pub fn submit_relayed(
        &mut self,
        tx: SignedTransaction,
        v: ValidTransaction,
        now: Instant,
    ) -> Result<Submitted, PoolError> {
        self.admit(tx, v, now, true)
    }

    fn admit(
        &mut self,
        tx: SignedTransaction,
        v: ValidTransaction,
        now: Instant,
        hold_future: bool,
    ) -> Result<Submitted, PoolError> {
        if self.by_hash.contains_key(&v.hash) {
            return Err(PoolError::AlreadyImported);
        }
        let sender = self.senders.get(&v.signer);
        let existing = sender.and_then(|s| s.txs.get(&v.nonce));
        let base = sender.map_or(v.state_nonce, |s| s.base);
        let expected = sender.map_or(v.state_nonce, Sender::ready_end);
        let replaced_len = existing.map(|e| e.len);
        // Whether the newcomer's place is future: a new nonce past the gap, or the
        // replacement of a future transaction.
        let mut future = false;
        if let Some(existing) = existing {
            if self.in_block.contains(&existing.hash) {
                return Err(PoolError::InBlock);
            }
            if v.tip <= existing.tip {
                return Err(PoolError::TipTooLow {
                    pending_tip: existing.tip,
                });
            }
            future = sender.is_some_and(|s| !s.is_ready(v.nonce));
        } else {
            if v.nonce < base {
                // The runtime found it not stale, so the pool lags the state; under the node's
                // commit gate this does not happen, and a nonce below the base is never kept.
                return Err(PoolError::Invalid(TxError::StaleNonce {
                    expected: base,
                    got: v.nonce,
                }));
            }
            if v.nonce > expected {
                let too_far = v.nonce - expected >= self.config.max_per_sender as u64;
                if !hold_future || too_far || self.future >= self.config.max_future {
                    return Err(PoolError::Invalid(TxError::FutureNonce { expected, got: v.nonce }));
                }
                future = true;
            }
            let pending = sender.map_or(0, |s| s.txs.len());
            if pending >= self.config.max_per_sender {
                return Err(PoolError::SenderLimit {
                    pending,
                    limit: self.config.max_per_sender,
                });
            }
        }
        // The fee budget. Every pending transaction of this sender has a nonce at or above the
        // state nonce the runtime just read, so none of their fees is paid yet: together with
        // this one they must fit in the balance that state holds. A new nonce that extends the
        // ready part (filling the gap before future transactions, if any) is judged against
        // the fees before it; future ones it then makes unaffordable are dropped after it.
        let fills_gap = existing.is_none() && !future;
        let counted = match (sender, existing) {
            (None, _) => 0,
            (Some(s), Some(e)) => s.fees.saturating_sub(e.fee),
            (Some(s), None) if fills_gap => {
                let after: Balance = s.txs.range(v.nonce..).map(|(_, t)| t.fee).sum();
                s.fees.saturating_sub(after)
            }
            (Some(s), None) => s.fees,
        };
        if counted.saturating_add(v.fee) > v.sender_free {
            return Err(PoolError::ChainUnpayable {
                pending_fees: counted,
                fee: v.fee,
                free: v.sender_free,
            });
        }
        let (count_after, bytes_after) = match replaced_len {
            Some(old) => (self.len(), self.bytes - old + v.len as usize),
            None => (self.len() + 1, self.bytes + v.len as usize),
        };
        let evict = if future {
            // A future transaction pays nothing while it waits: it takes free room only.
            if count_after > self.config.max_count || bytes_after > self.config.max_bytes {
                return Err(PoolError::Full {
                    count: self.len(),
                    bytes: self.bytes,
                    fee: v.fee,
                });
            }
            Vec::new()
        } else {
            self.eviction_plan(&v, count_after, bytes_after)?
        };
        let mut out = Submitted::default();
        for (who, nonce) in evict {
            out.evicted
                .extend(self.remove_from(who, nonce).into_iter().map(|t| t.hash));
        }
        let now = self.tick(now);
        let signer = v.signer;
        if replaced_len.is_some() {
            out.replaced = self.replace(tx, v, now);
        } else {
            self.insert(tx, v, now);
        }
        if fills_gap {
            out.unpayable = self.trim_to_budget(signer).into_iter().map(|t| t.hash).collect();
        }
        Ok(out)
    }

    /// Which tails to evict so that the pool holds `count` transactions and `bytes` bytes within
    /// its bounds: future ones whatever they pay, ready ones paying less than `v`; `Full` if
    /// that cannot be done. Never picks `v`'s own sender: its chain is what `v` extends or
    /// replaces within.
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
        let mut tails = self.tails.iter().filter(|k| k.3 != v.signer).peekable();
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
                    let nonce = *self.senders[&t.3]
                        .txs
                        .keys()
                        .next_back()
                        .expect("a tail's sender has transactions");
                    (*t, nonce)
                }
                (None, Some(_)) => {
                    let Reverse(x) = exposed.pop().expect("peeked");
                    x
                }
                (None, None) => return Err(full()),
            };
            let (ready, fee, _, who) = key;
            if ready && fee >= v.fee {
                return Err(full());
            }
            let sender = &self.senders[&who];
            // Cheapest first: a candidate in the block being built stops the search (refusing
            // the newcomer) rather than evicting what is about to be included.
            if self.in_block.contains(&sender.txs[&nonce].hash) {
                return Err(full());
            }
            count -= 1;
            bytes -= sender.txs[&nonce].len;
            plan.push((who, nonce));
            if let Some((n, prev)) = sender.txs.range(..nonce).next_back() {
                exposed.push(Reverse((tail_key(who, sender.is_ready(*n), prev), *n)));
            }
        }
        Ok(plan)
    }

    /// The pool's entry for `tx`, the newest in age order.
    fn new_pending(&mut self, tx: SignedTransaction, v: &ValidTransaction, now: Instant) -> PendingTx {
        self.seq += 1;
        PendingTx {
            tx: Arc::new(tx),
            hash: v.hash,
            fee: v.fee,
            tip: v.tip,
            len: v.len as usize,
            added: now,
            // The node relays what it accepts.
            announced: now,
            seq: self.seq,
        }
    }

    /// Inserts a new nonce (checked by `admit`): future unless it extends the ready part, in
    /// which case it and the future transactions it joins become ready.
    fn insert(&mut self, tx: SignedTransaction, v: ValidTransaction, now: Instant) {
        let pending = self.new_pending(tx, &v, now);
        self.untrack_tail(v.signer);
        let sender = self.senders.entry(v.signer).or_insert_with(|| Sender {
            txs: BTreeMap::new(),
            base: v.state_nonce,
            ready: 0,
            fees: 0,
            free: v.sender_free,
        });
        sender.free = v.sender_free;
        sender.fees = sender.fees.saturating_add(v.fee);
        self.bytes += pending.len;
        self.by_hash.insert(v.hash, (v.signer, v.nonce));
        self.by_age.insert(pending.seq, (v.signer, v.nonce));
        sender.txs.insert(v.nonce, pending);
        // Counted as future until `promote` finds it contiguous with the ready part.
        self.future += 1;
        self.promote(v.signer);
        self.track_tail(v.signer);
    }

    /// Replaces the pending transaction with `v`'s sender and nonce in place (its readiness
    /// does not change); returns the hash replaced.
    fn replace(&mut self, tx: SignedTransaction, v: ValidTransaction, now: Instant) -> Option<Hash> {
        self.untrack_tail(v.signer);
        let pending = self.new_pending(tx, &v, now);
        let (hash, len, seq) = (pending.hash, pending.len, pending.seq);
        let Some(sender) = self.senders.get_mut(&v.signer) else {
            return None;
        };
        let ready = sender.is_ready(v.nonce);
        let Some(slot) = sender.txs.get_mut(&v.nonce) else {
            self.track_tail(v.signer);
            return None;
        };
        let old = std::mem::replace(slot, pending);
        sender.free = v.sender_free;
        sender.fees = sender.fees.saturating_sub(old.fee).saturating_add(v.fee);
        self.bytes = self.bytes - old.len + len;
        self.by_hash.remove(&old.hash);
        self.by_hash.insert(hash, (v.signer, v.nonce));
        self.by_age.remove(&old.seq);
        self.by_age.insert(seq, (v.signer, v.nonce));
        if ready {
            self.by_announce.remove(&(old.announced, old.seq));
            self.by_announce.insert((now, seq), (v.signer, v.nonce));
        }
        self.track_tail(v.signer);
        Some(old.hash)
    }

    /// Makes ready `who`'s future transactions that are contiguous with its ready part.
    fn promote(&mut self, who: AccountId) {
        let Some(sender) = self.senders.get_mut(&who) else {
            return;
        };
        while let Some(t) = sender.txs.get(&sender.ready_end()) {
            self.by_announce.insert((t.announced, t.seq), (who, t.tx.tx.nonce));
            sender.ready += 1;
            self.future -= 1;
        }
    }

    fn untrack_tail(&mut self, who: AccountId) {
        if let Some(s) = self.senders.get(&who) {
            if let Some((n, t)) = s.txs.iter().next_back() {
                self.tails.remove(&tail_key(who, s.is_ready(*n), t));
            }
        }
    }

    fn track_tail(&mut self, who: AccountId) {
        let key = self
            .senders
            .get(&who)
            .and_then(|s| s.txs.iter().next_back().map(|(n, t)| tail_key(who, s.is_ready(*n), t)));
        match key {
            Some(k) => {
                self.tails.insert(k);
            }
            None => {
                self.senders.remove(&who);
            }
        }
    }

    /// Removes `who`'s transactions from `nonce` on (a suffix: no gap is left), in nonce order.
    fn remove_from(&mut self, who: AccountId, nonce: u64) -> Vec<PendingTx> {
        self.remove_part(who, None, |txs| txs.split_off(&nonce))
    }

    /// Removes `who`'s transactions below `nonce` (its new state nonce: they were included, or
    /// their nonce was used by another transaction) and makes ready the future ones that now
    /// start at it.
    fn remove_below(&mut self, who: AccountId, nonce: u64) -> Vec<PendingTx> {
        self.remove_part(who, Some(nonce), |txs| {
            let keep = txs.split_off(&nonce);
            std::mem::replace(txs, keep)
        })
    }

    /// Takes the part of `who`'s transactions that `split` cuts off (a prefix or a suffix),
    /// keeping the indexes, counters, readiness and the sender's tail entry in step; with
    /// `new_base`, the sender's state nonce moves up to it.
    fn remove_part(
        &mut self,
        who: AccountId,
        new_base: Option<u64>,
        split: impl FnOnce(&mut BTreeMap<u64, PendingTx>) -> BTreeMap<u64, PendingTx>,
    ) -> Vec<PendingTx> {
        self.untrack_tail(who);
        let Some(sender) = self.senders.get_mut(&who) else {
            return Vec::new();
        };
        let (base, ready_end) = (sender.base, sender.ready_end());
        let dropped: Vec<PendingTx> = split(&mut sender.txs).into_values().collect();
        for t in &dropped {
            let nonce = t.tx.tx.nonce;
            sender.fees = sender.fees.saturating_sub(t.fee);
            self.bytes -= t.len;
            self.by_hash.remove(&t.hash);
            self.by_age.remove(&t.seq);
            if nonce >= base && nonce < ready_end {
                self.by_announce.remove(&(t.announced, t.seq));
                sender.ready -= 1;
            } else {
                self.future -= 1;
            }
        }
        if let Some(n) = new_base {
            // What was ready and is left starts at `n` (a prefix was cut) or nothing is
            // ready any more (the state moved past the ready part).
            sender.base = sender.base.max(n);
        }
        self.promote(who);
        self.track_tail(who);
        dropped
    }

    /// Drops `who`'s transactions from the first whose fee, added to those of its earlier
    /// pending ones, exceeds the sender's free balance.
    fn trim_to_budget(&mut self, who: AccountId) -> Vec<PendingTx> {
        let Some(sender) = self.senders.get(&who) else {
            return Vec::new();
        };
        let mut sum: Balance = 0;
        let cut = sender.txs.iter().find_map(|(n, t)| {
            sum = sum.saturating_add(t.fee);
            (sum > sender.free).then_some(*n)
        });
        match cut {
            Some(n) => self.remove_from(who, n),
            None => Vec::new(),
        }
    }

    /// `who`'s free balance is now `free` (read from the state after a block, or reported by
    /// the set check): its pending transactions that it no longer pays, fee by fee in nonce
    /// order, leave the pool ([`DropReason::Unpayable`]), latest nonces first. Returns the
    /// hashes removed, in nonce order.
    pub fn recheck(&mut self, who: &AccountId, free: Balance) -> Vec<Hash> {
        let Some(sender) = self.senders.get_mut(who) else {
            return Vec::new();
        };
        sender.free = free;
        self.trim_to_budget(*who).into_iter().map(|t| t.hash).collect()
    }

    /// `who`'s next nonce in the head state is `state_nonce` (read after a block, or reported
    /// by the set check). Above the pool's view, the transactions below it leave the pool
    /// ([`DropReason::NonceUsed`]) and future ones that now start at it become ready, as after
    /// [`TxPool::prune`]. Below it (a block used a nonce without executing it, as when an
    /// agreed set's transaction was skipped), the sender's transactions can no longer be
    /// included as they are: they wait as future for the nonces missing before them, so blocks
    /// stop taking them and [`TxPool::nonce_gaps`] names the gap; those that would overflow
    /// [`PoolConfig::max_future`] are dropped, latest first ([`DropReason::NoRoomToWait`]).
    /// Returns what left the pool, in nonce order.
    pub fn resync_nonce(&mut self, who: &AccountId, state_nonce: u64) -> Vec<(Hash, DropReason)> {
        let Some(sender) = self.senders.get(who) else {
            return Vec::new();
        };
        if state_nonce >= sender.base {
            return self
                .remove_below(*who, state_nonce)
                .into_iter()
                .map(|t| (t.hash, DropReason::NonceUsed))
                .collect();
        }
        self.untrack_tail(*who);
        let Some(sender) = self.senders.get_mut(who) else {
            return Vec::new();
        };
        for (_, t) in sender.txs.range(sender.base..sender.ready_end()) {
            self.by_announce.remove(&(t.announced, t.seq));
        }
        self.future += sender.ready;
        sender.ready = 0;
        sender.base = state_nonce;
        let excess = self.future.saturating_sub(self.config.max_future);
        // Before, at most `max_future` were future; the excess is at most what was demoted,
        // all of it this sender's.
        let cut = sender.txs.keys().rev().nth(excess.saturating_sub(1)).copied();
        self.track_tail(*who);
        match cut {
            Some(nonce) if excess > 0 => self
                .remove_from(*who, nonce)
                .into_iter()
                .map(|t| (t.hash, DropReason::NoRoomToWait))
                .collect(),
            _ => Vec::new(),
        }
    }

    /// `who`'s first pending nonce, if it has pending transactions.
    pub fn first_nonce(&self, who: &AccountId) -> Option<u64> {
        self.senders.get(who).and_then(|s| s.txs.keys().next().copied())
    }

    /// Marks the transactions taken into the block being built (replacing any earlier mark).
    pub fn set_in_block(&mut self, hashes: impl IntoIterator<Item = Hash>) {
        self.in_block = hashes.into_iter().collect();
    }

    /// The block being built was committed or abandoned.
    pub fn clear_in_block(&mut self) {
        self.in_block.clear();
    }

    /// Ready transactions for the next block, at most `max_count` and `max_bytes`: highest fee
    /// first across senders, each sender's nonces in order.
    pub fn ready(&self, max_count: usize, max_bytes: usize) -> Vec<PendingTx> {
        // Heap of each sender's next transaction: (fee, earliest arrival first).
        let mut heap: BinaryHeap<(Balance, Reverse<u64>, AccountId, u64)> = self
            .senders
            .iter()
            .filter(|(_, s)| s.ready > 0)
            .filter_map(|(who, s)| s.txs.get(&s.base).map(|t| (t.fee, Reverse(t.seq), *who, s.base)))
            .collect();
        let mut out = Vec::new();
        let mut bytes = 0;
        while let Some((_, _, who, nonce)) = heap.pop() {
            if out.len() >= max_count {
                break;
            }
            let sender = &self.senders[&who];
            let t = &sender.txs[&nonce];
            if bytes + t.len > max_bytes {
                // This sender's later nonces must wait too; others may still fit.
                continue;
            }
            bytes += t.len;
            out.push(t.clone());
            if nonce + 1 < sender.ready_end() {
                if let Some(next) = sender.txs.get(&(nonce + 1)) {
                    heap.push((next.fee, Reverse(next.seq), who, nonce + 1));
                }
            }
        }
        out
    }

    /// The nonce after `who`'s last ready transaction, if it has any ready.
    pub fn next_nonce(&self, who: &AccountId) -> Option<u64> {
        self.senders.get(who).filter(|s| s.ready > 0).map(Sender::ready_end)
    }

    /// Every pending transaction, ready and future (RPC `author_pendingExtrinsics`), in
    /// sender/nonce order.
    pub fn pending(&self) -> Vec<PendingTx> {
        self.senders.values().flat_map(|s| s.txs.values().cloned()).collect()
    }

    /// Senders holding future transactions, each with its first missing nonce (the one to ask
    /// peers for), in account order. At most one entry per sender; as many as senders with
    /// future transactions, so at most [`PoolConfig::max_future`].
    pub fn nonce_gaps(&self) -> Vec<(AccountId, u64)> {
        let mut gaps: Vec<(AccountId, u64)> = self
            .senders
            .iter()
            .filter(|(_, s)| s.future() > 0)
            .map(|(who, s)| (*who, s.ready_end()))
            .collect();
        gaps.sort_unstable();
        gaps
    }

    /// `who`'s pending transactions (ready and future) from nonce `from` on, in nonce order, at
    /// most `max`: what a peer missing that nonce asks for.
    pub fn pooled_from(&self, who: &AccountId, from: u64, max: usize) -> Vec<Arc<SignedTransaction>> {
        self.senders
            .get(who)
            .map(|s| s.txs.range(from..).take(max).map(|(_, t)| t.tx.clone()).collect())
            .unwrap_or_default()
    }

    /// Ready transactions last announced at least `older_than` before `now`, the longest
    /// waiting first, at most `max`; each is marked announced at `now`, so the next call
    /// hands out others. Returned in sender/nonce order, so a peer receiving them in turn
    /// meets each sender's nonces in sequence.
    pub fn stale(&mut self, now: Instant, older_than: Duration, max: usize) -> Vec<Arc<SignedTransaction>> {
        let now = self.tick(now);
        let picked: Vec<((Instant, u64), (AccountId, u64))> = self
            .by_announce
            .iter()
            .take(max)
            .take_while(|((announced, _), _)| now.saturating_duration_since(*announced) >= older_than)
            .map(|(k, v)| (*k, *v))
            .collect();
        let mut out = Vec::with_capacity(picked.len());
        for (key, (who, nonce)) in picked {
            self.by_announce.remove(&key);
            if let Some(t) = self.senders.get_mut(&who).and_then(|s| s.txs.get_mut(&nonce)) {
                t.announced = now;
                self.by_announce.insert((now, t.seq), (who, nonce));
                out.push((who, nonce, t.tx.clone()));
            }
        }
        out.sort_unstable_by_key(|(who, nonce, _)| (*who, *nonce));
        out.into_iter().map(|(_, _, tx)| tx).collect()
    }

    /// After a block: drops each sender's transactions below its new state nonce, and makes
    /// ready its future transactions that start there. Returns the hashes removed.
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
            let t = &self.senders[&who].txs[&nonce];
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
