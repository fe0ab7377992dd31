//! The single-node dev engine: seals a block whenever transactions wait (taking everything
//! ready, so load batches itself) and, with a seal interval, also every interval even when
//! empty. Each block is final the moment it is committed.

use crate::{BlockAuthority, ConsensusEngine, ConsensusError};
use futures::future::BoxFuture;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Settings of the dev engine.
#[derive(Clone, Debug, Default)]
pub struct DevEngineConfig {
    /// Also seal (possibly empty) blocks this often.
    pub seal_interval: Option<Duration>,
}

/// The dev engine.
pub struct DevEngine<A: BlockAuthority> {
    chain: Arc<A>,
    config: DevEngineConfig,
}

impl<A: BlockAuthority> DevEngine<A> {
    /// A dev engine producing on `chain`.
    pub fn new(chain: Arc<A>, config: DevEngineConfig) -> Self {
        DevEngine { chain, config }
    }
}

/// The node's wall clock as a close time. The dev engine is the one place a local clock may
/// set it: with a single node, its clock is the agreement.
fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

impl<A: BlockAuthority> DevEngine<A> {
    /// Seals blocks until the pool is empty (or one block if `allow_empty`).
    async fn seal(&self, mut allow_empty: bool) -> Result<(), ConsensusError> {
        loop {
            let chain = self.chain.clone();
            let produced = tokio::task::spawn_blocking(move || chain.produce_block(now_ms(), true, allow_empty))
                .await
                .map_err(|e| ConsensusError::Task(e.to_string()))?;
            allow_empty = false;
            match produced {
                Ok(Some(_)) if self.chain.has_pending() => continue,
                Ok(_) => return Ok(()),
                Err(e) => {
                    // A refused block (e.g. a trapping runtime) changes nothing; keep the node up
                    // and retry later rather than spin.
                    tracing::error!("block production failed: {e}");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    // What is still pending (say, the half of a batch the chain now retries
                    // after a runtime deadline) is tried again rather than left for the next
                    // arrival.
                    if self.chain.has_pending() {
                        continue;
                    }
                    return Ok(());
                }
            }
        }
    }
}

impl<A: BlockAuthority> ConsensusEngine for DevEngine<A> {
    fn name(&self) -> &'static str {
        "dev"
    }

    fn run(self: Box<Self>, shutdown: BoxFuture<'static, ()>) -> BoxFuture<'static, Result<(), ConsensusError>> {
        Box::pin(async move {
            let mut shutdown = shutdown;
            let mut ticker = self.config.seal_interval.map(|d| {
                let mut t = tokio::time::interval(d);
                t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                t
            });
            // Transactions restored or submitted before the engine started.
            if self.chain.has_pending() {
                self.seal(false).await?;
            }
            loop {
                let tick = async {
                    match ticker.as_mut() {
                        Some(t) => {
                            t.tick().await;
                        }
                        None => futures::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = &mut shutdown => return Ok(()),
                    _ = self.chain.transaction_arrived() => self.seal(false).await?,
                    _ = tick => self.seal(true).await?,
                }
            }
        })
    }
}

#[cfg(test)]
mod tests;
