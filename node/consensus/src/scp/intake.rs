//! Transactions from peers are pooled off the consensus loop (issue 17 item 7: the loop never
//! blocks). Gossip brings every transaction to every validator; admitting one is a runtime
//! call and a signature check, so at a few thousand transactions a second, admitting them on
//! the loop would make SCP envelopes wait behind them. Here they queue (bounded) for a worker
//! that takes them in batches, checks a batch's signatures together
//! ([`AgreementChain::submit_batch_from_peer`]) on a blocking thread, and reports each gossip
//! message's verdict to the network afterwards (gossipsub relays a message only once its
//! verdict is in).
//!
//! A gossip message carries a batch of transactions ([`wire::decode_tx_batch`]); its verdict
//! is the batch's: rejected (the sender penalised) if it does not decode or holds a
//! transaction that is bad whatever the state (bad signature or encoding, another chain's),
//! relayed if at least one of its transactions was new to the pool, otherwise ignored.
//!
//! Bounds: at most [`QUEUE_TXS`] transactions and [`QUEUE_BYTES`] bytes wait. Past them a
//! message is ignored at once (not relayed, no penalty to the sender: a full queue says this
//! node is busy, not that the peer misbehaved), which is the backpressure gossip needs.
//!
//! Cost to an outsider: the network budgets gossip per peer in messages, and a batch holds up
//! to 256 transactions, so here each peer also has a budget in transactions
//! ([`PEER_TX_RATE`] a second, [`PEER_TX_BURST`] at once: what one message per transaction
//! allowed before batches). Transactions that cost a signature check and a runtime call but
//! earn no penalty (replays of included ones, say) are thus bounded per peer as before;
//! beyond its budget a peer's batches are ignored unread.

use crate::AgreementChain;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::mpsc;
use watt_chain::SubmitError;
use watt_network::{GossipId, NetworkHandle, PeerId, Validation};
use watt_primitives::{Hash, TxError};

use super::{wire, ScpStats};

/// Transactions waiting for the worker at most.
pub(crate) const QUEUE_TXS: usize = 50_000;
/// Encoded bytes waiting for the worker at most.
pub(crate) const QUEUE_BYTES: usize = 64 << 20;
/// Transactions admitted per batch at most (one blocking task, one batch signature check).
const BATCH_MAX: usize = 512;
/// Transactions a peer may gossip per second, sustained.
pub(crate) const PEER_TX_RATE: f64 = 4_000.0;
/// Transactions a peer may gossip at once.
pub(crate) const PEER_TX_BURST: f64 = 40_000.0;
/// Peers whose budgets are tracked at most; idle ones (back to a full burst) are forgotten first.
const PEERS_TRACKED: usize = 4_096;

/// Where a transaction came from: gossip wants a verdict back; a request answer does not.
enum Origin {
    Gossip { id: GossipId, from: PeerId },
    Request,
}

/// One gossip message's transactions, or one request's: one verdict for all of them.
struct Job {
    txs: Vec<Vec<u8>>,
    origin: Origin,
}

/// The loop's end of the intake queue.
pub(crate) struct TxIntake {
    jobs: mpsc::UnboundedSender<Job>,
    /// Transactions and bytes queued (the queue's bounds are on these, not on its jobs).
    queued: Arc<Queued>,
    network: NetworkHandle,
    stats: Arc<ScpStats>,
    budgets: PeerBudgets,
}

/// Per-peer token buckets in transactions (see the module doc).
#[derive(Default)]
struct PeerBudgets {
    /// Tokens left and when they were counted.
    peers: std::collections::HashMap<PeerId, (f64, tokio::time::Instant)>,
}

impl PeerBudgets {
    /// Takes `n` transactions from `peer`'s budget at `now`; false (nothing taken) if it has
    /// not that many left.
    fn take(&mut self, peer: PeerId, n: usize, now: tokio::time::Instant) -> bool {
        if self.peers.len() >= PEERS_TRACKED && !self.peers.contains_key(&peer) {
            self.peers.retain(|_, (tokens, at)| {
                *tokens + now.duration_since(*at).as_secs_f64() * PEER_TX_RATE < PEER_TX_BURST
            });
            if self.peers.len() >= PEERS_TRACKED {
                return false;
            }
        }
        let (tokens, at) = self.peers.entry(peer).or_insert((PEER_TX_BURST, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * PEER_TX_RATE).min(PEER_TX_BURST);
        *at = now;
        if *tokens < n as f64 {
            return false;
        }
        *tokens -= n as f64;
        true
    }
}

#[derive(Default)]
struct Queued {
    txs: AtomicUsize,
    bytes: AtomicUsize,
}

impl Queued {
    fn release(&self, txs: usize, bytes: usize) {
        self.txs.fetch_sub(txs, Relaxed);
        self.bytes.fetch_sub(bytes, Relaxed);
    }
}

impl TxIntake {
    /// Starts the worker on the current tokio runtime; it stops when the intake is dropped.
    pub(crate) fn spawn<C: AgreementChain>(chain: Arc<C>, network: NetworkHandle, stats: Arc<ScpStats>) -> Self {
        let (jobs, rx) = mpsc::unbounded_channel();
        let queued = Arc::new(Queued::default());
        tokio::spawn(work(chain, network.clone(), stats.clone(), rx, queued.clone()));
        TxIntake {
            jobs,
            queued,
            network,
            stats,
            budgets: PeerBudgets::default(),
        }
    }

    /// Queues a gossiped batch of transactions; its verdict is reported when they have been
    /// admitted, at once (rejected) when it does not decode, or at once (ignored) when the
    /// sender is over its budget or the queue is full.
    pub(crate) fn gossip(&mut self, id: GossipId, from: PeerId, data: &[u8]) {
        let txs = match wire::decode_tx_batch(data) {
            Ok(txs) => txs,
            Err(e) => {
                tracing::debug!("peer {from} sent a bad transaction batch: {e}");
                self.stats.refused.fetch_add(1, Relaxed);
                return self.network.report_validation(id, from, Validation::Reject);
            }
        };
        if !self.budgets.take(from, txs.len(), tokio::time::Instant::now())
            || !self.enqueue(txs, Origin::Gossip { id, from })
        {
            self.network.report_validation(id, from, Validation::Ignore);
        }
    }

    /// Queues transactions a peer answered or pushed; returns how many were queued (all or
    /// none).
    pub(crate) fn from_request(&self, txs: Vec<Vec<u8>>) -> u32 {
        let n = txs.len() as u32;
        if n > 0 && self.enqueue(txs, Origin::Request) {
            n
        } else {
            0
        }
    }

    fn enqueue(&self, txs: Vec<Vec<u8>>, origin: Origin) -> bool {
        let (count, len) = (txs.len(), txs.iter().map(Vec::len).sum::<usize>());
        let txs_before = self.queued.txs.fetch_add(count, Relaxed);
        let bytes_before = self.queued.bytes.fetch_add(len, Relaxed);
        if txs_before + count > QUEUE_TXS
            || bytes_before + len > QUEUE_BYTES
            || self.jobs.send(Job { txs, origin }).is_err()
        {
            self.queued.release(count, len);
            return false;
        }
        true
    }
}

/// The verdict on a transaction a peer relayed, from what admitting it said.
pub(crate) fn verdict(result: &Result<Hash, SubmitError>) -> Validation {
    match result {
        Ok(_) => Validation::Accept,
        // Provably bad whatever the state: the sender should not have relayed it.
        Err(SubmitError::Pool(watt_txpool::PoolError::Invalid(
            TxError::BadEncoding
            | TxError::BadSignature
            | TxError::WrongGenesis { .. }
            | TxError::TooLarge { .. }
            | TxError::BadCall,
        ))) => Validation::Reject,
        // Stale, already pooled, pool full...: not the sender's fault.
        Err(_) => Validation::Ignore,
    }
}

/// The verdict on a batch from what admitting each of its transactions said: see the module
/// doc.
fn batch_verdict(results: &[Result<Hash, SubmitError>]) -> Validation {
    let verdicts: Vec<Validation> = results.iter().map(verdict).collect();
    if verdicts.contains(&Validation::Reject) {
        Validation::Reject
    } else if verdicts.contains(&Validation::Accept) {
        Validation::Accept
    } else {
        Validation::Ignore
    }
}

async fn work<C: AgreementChain>(
    chain: Arc<C>,
    network: NetworkHandle,
    stats: Arc<ScpStats>,
    mut rx: mpsc::UnboundedReceiver<Job>,
    queued: Arc<Queued>,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        let mut count = jobs[0].txs.len();
        while count < BATCH_MAX {
            match rx.try_recv() {
                Ok(job) => {
                    count += job.txs.len();
                    jobs.push(job);
                }
                Err(_) => break,
            }
        }
        let sizes: Vec<usize> = jobs.iter().map(|j| j.txs.len()).collect();
        let mut origins = Vec::with_capacity(jobs.len());
        let mut all = Vec::with_capacity(count);
        for job in jobs {
            all.extend(job.txs);
            origins.push(job.origin);
        }
        queued.release(count, all.iter().map(Vec::len).sum());
        let admitting = chain.clone();
        let results = match tokio::task::spawn_blocking(move || admitting.submit_batch_from_peer(&all)).await {
            Ok(results) => results,
            Err(e) => {
                tracing::error!("admitting transactions from peers failed: {e}");
                Vec::new()
            }
        };
        let mut at = 0;
        for (origin, size) in origins.into_iter().zip(sizes) {
            // A missing result (the task failed) is nobody's fault: ignored.
            let verdict = results.get(at..at + size).map_or(Validation::Ignore, batch_verdict);
            at += size;
            if verdict == Validation::Reject {
                stats.refused.fetch_add(1, Relaxed);
            }
            if let Origin::Gossip { id, from } = origin {
                network.report_validation(id, from, verdict);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::time::Instant;

    #[test]
    fn a_peer_gossips_at_most_its_transaction_budget() {
        let mut budgets = PeerBudgets::default();
        let (a, b) = (PeerId::random(), PeerId::random());
        let t0 = Instant::now();
        // The burst, in batches of 256, then nothing more at once.
        let batches = (PEER_TX_BURST as usize) / 256;
        assert!((0..batches).all(|_| budgets.take(a, 256, t0)));
        assert!(!budgets.take(a, 256, t0), "over the burst");
        // Another peer's budget is its own.
        assert!(budgets.take(b, 256, t0));
        // A second refills PEER_TX_RATE transactions, not more.
        let t1 = t0 + Duration::from_secs(1);
        let per_second = (PEER_TX_RATE as usize) / 256;
        assert!((0..per_second).all(|_| budgets.take(a, 256, t1)));
        assert!(!budgets.take(a, 256, t1), "over the sustained rate");
    }

    #[test]
    fn tracked_peers_are_bounded_and_idle_ones_forgotten_first() {
        let mut budgets = PeerBudgets::default();
        let t0 = Instant::now();
        let busy: Vec<PeerId> = (0..PEERS_TRACKED).map(|_| PeerId::random()).collect();
        for p in &busy {
            assert!(budgets.take(*p, 1_000, t0));
        }
        // Every tracked peer is below its burst: a newcomer is refused, the map does not grow.
        assert!(!budgets.take(PeerId::random(), 1, t0));
        assert_eq!(budgets.peers.len(), PEERS_TRACKED);
        // Once they are idle long enough to be full again, they make room.
        let later = t0 + Duration::from_secs(60);
        assert!(budgets.take(PeerId::random(), 1, later));
        assert_eq!(budgets.peers.len(), 1);
    }
}
