//! Transactions submitted over RPC at the same time are admitted together
//! ([`Chain::submit_batch`]): their signatures checked as one batch and the runtime called once,
//! instead of once per request. Nothing waits for a batch to fill: the first submission starts
//! a drain task at once, and what arrives while it works goes in its next batch, so batches
//! grow only with the load (group commit). Each request gets the verdict submitting it alone
//! would get, in arrival order.

use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::oneshot;
use watt_chain::{Chain, SubmitError};
use watt_primitives::Hash;

/// Most transactions admitted in one batch (one gossip message's worth).
const MAX_BATCH: usize = 256;
/// Most submissions waiting for a batch; past it a submission is refused at once as "busy"
/// (the server's connection and request limits keep it far lower in practice).
const MAX_WAITING: usize = 16_384;

type Verdict = Result<Hash, SubmitError>;

/// Submissions waiting, and whether a drain task is running.
#[derive(Default)]
struct Queue {
    waiting: Vec<(Vec<u8>, oneshot::Sender<Verdict>)>,
    draining: bool,
}

pub(crate) struct SubmitBatcher {
    chain: Arc<Chain>,
    queue: Mutex<Queue>,
}

/// Why a submission got no verdict.
#[derive(Debug)]
pub(crate) enum Failed {
    /// The node failed while admitting its batch (a panic in the chain).
    Node,
    /// [`MAX_WAITING`] submissions already wait.
    Busy,
}

impl SubmitBatcher {
    pub(crate) fn new(chain: Arc<Chain>) -> Arc<Self> {
        Arc::new(SubmitBatcher {
            chain,
            queue: Mutex::new(Queue::default()),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Queue> {
        // A panic never happens with the lock held (pushes and drains only).
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Submits `tx`; resolves once it is pooled or refused.
    pub(crate) async fn submit(self: &Arc<Self>, tx: Vec<u8>) -> Result<Verdict, Failed> {
        let (send, verdict) = oneshot::channel();
        let start = {
            let mut q = self.lock();
            if q.waiting.len() >= MAX_WAITING {
                return Err(Failed::Busy);
            }
            q.waiting.push((tx, send));
            !std::mem::replace(&mut q.draining, true)
        };
        if start {
            // A task of its own: a caller that goes away (its connection closed) must not take
            // the others' verdicts with it.
            let me = self.clone();
            tokio::spawn(async move { me.drain().await });
        }
        verdict.await.map_err(|_| Failed::Node)
    }

    async fn drain(self: Arc<Self>) {
        loop {
            let batch: Vec<(Vec<u8>, oneshot::Sender<Verdict>)> = {
                let mut q = self.lock();
                if q.waiting.is_empty() {
                    q.draining = false;
                    return;
                }
                let n = q.waiting.len().min(MAX_BATCH);
                q.waiting.drain(..n).collect()
            };
            let (txs, senders): (Vec<Vec<u8>>, Vec<oneshot::Sender<Verdict>>) = batch.into_iter().unzip();
            let chain = self.chain.clone();
            // On a panic the senders drop and every waiter of the batch reports a failure.
            if let Ok(verdicts) = tokio::task::spawn_blocking(move || chain.submit_batch(&txs)).await {
                for (send, verdict) in senders.into_iter().zip(verdicts) {
                    let _ = send.send(verdict);
                }
            }
        }
    }
}
