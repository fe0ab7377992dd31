//! Transactions from peers are pooled off the consensus loop (issue 17 item 7: the loop never
//! blocks). Gossip brings every transaction to every validator; admitting one is a runtime
//! call and a signature check, so at a few thousand transactions a second, admitting them on
//! the loop would make SCP envelopes wait behind them. Here they queue (bounded) for a worker
//! that takes them in batches, checks a batch's signatures together
//! ([`AgreementChain::submit_batch_from_peer`]) on a blocking thread, and reports each gossip
//! message's verdict to the network afterwards (gossipsub relays a message only once its
//! verdict is in).
//!
//! Bounds: at most [`QUEUE_JOBS`] transactions and [`QUEUE_BYTES`] bytes wait. Past them a
//! transaction is ignored at once (not relayed, no penalty to the sender: a full queue says
//! this node is busy, not that the peer misbehaved), which is the backpressure gossip needs.

use crate::AgreementChain;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::Arc;
use tokio::sync::mpsc;
use watt_chain::SubmitError;
use watt_network::{GossipId, NetworkHandle, PeerId, Validation};
use watt_primitives::{Hash, TxError};

use super::ScpStats;

/// Transactions waiting for the worker at most.
pub(crate) const QUEUE_JOBS: usize = 50_000;
/// Encoded bytes waiting for the worker at most.
pub(crate) const QUEUE_BYTES: usize = 64 << 20;
/// Transactions admitted per batch at most (one blocking task, one batch signature check).
const BATCH_MAX: usize = 512;

/// Where a transaction came from: gossip wants a verdict back; a request answer does not.
enum Origin {
    Gossip { id: GossipId, from: PeerId },
    Request,
}

struct Job {
    data: Vec<u8>,
    origin: Origin,
}

/// The loop's end of the intake queue.
pub(crate) struct TxIntake {
    jobs: mpsc::Sender<Job>,
    queued_bytes: Arc<AtomicUsize>,
    network: NetworkHandle,
}

impl TxIntake {
    /// Starts the worker on the current tokio runtime; it stops when the intake is dropped.
    pub(crate) fn spawn<C: AgreementChain>(chain: Arc<C>, network: NetworkHandle, stats: Arc<ScpStats>) -> Self {
        let (jobs, rx) = mpsc::channel(QUEUE_JOBS);
        let queued_bytes = Arc::new(AtomicUsize::new(0));
        tokio::spawn(work(chain, network.clone(), stats, rx, queued_bytes.clone()));
        TxIntake {
            jobs,
            queued_bytes,
            network,
        }
    }

    /// Queues a gossiped transaction; its verdict is reported when it has been admitted, or
    /// at once (ignored) when the queue is full.
    pub(crate) fn gossip(&self, id: GossipId, from: PeerId, data: Vec<u8>) {
        if !self.enqueue(data, Origin::Gossip { id, from }) {
            self.network.report_validation(id, from, Validation::Ignore);
        }
    }

    /// Queues transactions a peer answered or pushed; returns how many were queued.
    pub(crate) fn from_request(&self, txs: impl IntoIterator<Item = Vec<u8>>) -> u32 {
        txs.into_iter()
            .map(|data| self.enqueue(data, Origin::Request) as u32)
            .sum()
    }

    fn enqueue(&self, data: Vec<u8>, origin: Origin) -> bool {
        let len = data.len();
        let before = self.queued_bytes.fetch_add(len, Relaxed);
        if before + len > QUEUE_BYTES || self.jobs.try_send(Job { data, origin }).is_err() {
            self.queued_bytes.fetch_sub(len, Relaxed);
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

async fn work<C: AgreementChain>(
    chain: Arc<C>,
    network: NetworkHandle,
    stats: Arc<ScpStats>,
    mut rx: mpsc::Receiver<Job>,
    queued_bytes: Arc<AtomicUsize>,
) {
    while let Some(first) = rx.recv().await {
        let mut jobs = vec![first];
        while jobs.len() < BATCH_MAX {
            match rx.try_recv() {
                Ok(job) => jobs.push(job),
                Err(_) => break,
            }
        }
        let (data, origins): (Vec<Vec<u8>>, Vec<Origin>) = jobs.into_iter().map(|j| (j.data, j.origin)).unzip();
        queued_bytes.fetch_sub(data.iter().map(Vec::len).sum(), Relaxed);
        let admitting = chain.clone();
        let results = match tokio::task::spawn_blocking(move || admitting.submit_batch_from_peer(&data)).await {
            Ok(results) => results,
            Err(e) => {
                tracing::error!("admitting transactions from peers failed: {e}");
                Vec::new()
            }
        };
        // A missing result (the task failed) is nobody's fault: ignored.
        let mut results = results.iter().map(verdict);
        for origin in origins {
            let verdict = results.next().unwrap_or(Validation::Ignore);
            if verdict == Validation::Reject {
                stats.refused.fetch_add(1, Relaxed);
            }
            if let Origin::Gossip { id, from } = origin {
                network.report_validation(id, from, verdict);
            }
        }
    }
}
