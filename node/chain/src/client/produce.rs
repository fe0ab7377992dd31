//! The dev engine's path: build the next block from the local pool and commit it at once.

use super::execute::InvalidTx;
use super::{Chain, ChainError, ChainEvent, ImportedBlock};
use parking_lot::Mutex;
use std::time::Instant;
use watt_executor::ExecError;
use watt_primitives::Timestamp;
use watt_txpool::TxPool;

/// However block building returns, the pool's transactions are no longer "in the block being
/// built" afterwards.
pub(crate) struct Unmark<'a>(pub(crate) &'a Mutex<TxPool>);

impl Drop for Unmark<'_> {
    fn drop(&mut self) {
        self.0.lock().clear_in_block();
    }
}

impl Chain {
    /// Builds the next block from the pool on the head and commits it (the block producer's
    /// path), authored by [`ChainConfig::author`](super::ChainConfig::author). Returns `None`
    /// when `allow_empty` is false and nothing was ready. `close_time` must be later than the
    /// head's.
    ///
    /// The block takes at most [`Chain::proposal_limits`] from the pool: this node's caps within
    /// the chain's size limits, so the runtime never refuses it for its size.
    ///
    /// A failure that the batch may have caused (a trap, a runtime deadline, malformed output)
    /// halves the batch for the next attempt, and only a lone transaction that still fails is
    /// dropped; a failure of the node itself (instantiation, database) leaves the pool as it
    /// was. Either way nothing is written.
    pub fn produce_block(
        &self,
        close_time: Timestamp,
        finalized: bool,
        allow_empty: bool,
    ) -> Result<Option<ImportedBlock>, ChainError> {
        let _lock = self.import_lock.lock();
        let started = Instant::now();
        use std::sync::atomic::Ordering::Relaxed;
        let (max_txs, max_bytes) = self.proposal_limits()?;
        let cap = self.block_tx_cap.load(Relaxed).min(max_txs);
        let ready = {
            let mut pool = self.pool.lock();
            let ready = pool.ready(cap, max_bytes);
            pool.set_in_block(ready.iter().map(|p| p.hash));
            ready
        };
        let _unmark = Unmark(&self.pool);
        if ready.is_empty() && !allow_empty {
            return Ok(None);
        }
        let txs = ready.iter().map(|p| (*p.tx).clone()).collect();
        let built = match self.execute_on_head(txs, close_time, self.config.author, InvalidTx::Drop) {
            Ok(b) => {
                self.block_tx_cap.store(usize::MAX, Relaxed);
                b
            }
            Err(ChainError::Exec(e)) if batch_may_be_at_fault(&e) && ready.len() > 1 => {
                // Nothing says which transaction is to blame: try half as many next time.
                self.block_tx_cap.store(ready.len() / 2, Relaxed);
                tracing::warn!(
                    "block of {} transactions failed ({e}); retrying with {}",
                    ready.len(),
                    ready.len() / 2
                );
                return Err(e.into());
            }
            Err(ChainError::Exec(e)) if batch_may_be_at_fault(&e) => {
                // A lone transaction still fails: it is the cause. Drop it (and its sender's
                // later ones), or the producer would fail on it forever.
                let mut pool = self.pool.lock();
                let reason = format!("block execution failed: {e}");
                for p in &ready {
                    for h in pool.remove_invalid(&p.hash) {
                        let _ = self.events.send(ChainEvent::Dropped {
                            hash: h,
                            reason: reason.clone(),
                        });
                    }
                }
                return Err(e.into());
            }
            Err(e) => return Err(e),
        };
        self.commit_locked(built, finalized, None, started).map(Some)
    }
}

/// Whether the transactions of a batch may have caused this failure (as opposed to the node:
/// no instance, a database error, code that does not compile).
fn batch_may_be_at_fault(e: &ExecError) -> bool {
    matches!(
        e,
        ExecError::Trap { .. } | ExecError::Deadline { .. } | ExecError::BadOutput(_)
    )
}
