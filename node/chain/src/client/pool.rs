//! The pool front end: transactions are validated by the runtime against the head state and
//! pooled; block producers and SCP nominations take from here.

use super::{Chain, ChainError, ChainEvent};
use crate::SubmitError;
use parity_scale_codec::{DecodeAll, Encode};
use std::time::{Duration, Instant};
use tokio::sync::Notify;
use watt_executor::{ExecError, StateSession};
use watt_primitives::abi::{entry, Query, QueryResult, ValidTransaction, ValidateBatchInput, ValidateInput};
use watt_primitives::{AccountId, Hash, SignedTransaction, TxError};
use watt_txpool::{DropReason, PendingTx, PoolError};

/// Most transactions validated in one runtime call and pooled under one hold of the commit gate.
const ADMISSION_CHUNK: usize = 128;

impl Chain {
    /// Most transactions [`Chain::pooled_from`] serves per request.
    pub const MAX_POOLED_FROM: usize = 256;

    /// Most encoded bytes [`Chain::pooled_from`] serves per request (past the first
    /// transaction): a few blocks' worth of transfers, whatever a peer asks.
    pub const MAX_POOLED_FROM_BYTES: usize = 1 << 20;

    /// Signalled whenever a transaction a block could take enters the pool (not for one held
    /// as future, waiting for a missing nonce of its sender).
    pub fn transaction_arrived(&self) -> &Notify {
        &self.tx_arrived
    }

    /// Whether transactions wait in the pool that a block could take now (future ones, held
    /// for a missing nonce of their sender, do not count).
    pub fn has_pending(&self) -> bool {
        self.pool.lock().has_ready()
    }

    /// Number and encoded bytes of pending transactions.
    pub fn pool_size(&self) -> (usize, usize) {
        let pool = self.pool.lock();
        (pool.len(), pool.bytes())
    }

    /// Pending transactions.
    pub fn pending(&self) -> Vec<PendingTx> {
        self.pool.lock().pending()
    }

    /// The nonce `who`'s next transaction should use: after its pending ones, else its state nonce.
    pub fn next_nonce(&self, who: &AccountId) -> Result<u64, ChainError> {
        if let Some(n) = self.pool.lock().next_nonce(who) {
            return Ok(n);
        }
        match self.query(&Query::Account(*who))? {
            QueryResult::Account(a) => Ok(a.nonce),
            _ => Err(ExecError::BadOutput(entry::QUERY.into()).into()),
        }
    }

    /// Validates an encoded transaction against the head state.
    pub fn validate(&self, bytes: &[u8]) -> Result<Result<ValidTransaction, TxError>, ChainError> {
        let input = ValidateInput {
            chain: self.context.clone(),
            tx: bytes.to_vec(),
        };
        let out = self.call_read_only(entry::VALIDATE_TRANSACTION, &input.encode(), None)?;
        Result::<ValidTransaction, TxError>::decode_all(&mut &out[..])
            .map_err(|_| ExecError::BadOutput(entry::VALIDATE_TRANSACTION.into()).into())
    }

    /// [`Chain::validate`] of each of `txs` in one runtime call (`None` when the chain's runtime
    /// predates the batch entry, spec version 5: the caller validates each alone).
    pub fn validate_batch(
        &self,
        txs: &[Vec<u8>],
    ) -> Result<Option<Vec<Result<ValidTransaction, TxError>>>, ChainError> {
        let input = ValidateBatchInput {
            chain: self.context.clone(),
            txs: txs.to_vec(),
        };
        let (backend, _) = self.backend_at(None)?;
        let (_, out) = self.executor.call(
            &self.code(),
            entry::VALIDATE_TRANSACTIONS,
            &input.encode(),
            StateSession::new(backend),
        );
        let out = match out {
            Ok(out) => out,
            Err(ExecError::Link(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let verdicts = Vec::<Result<ValidTransaction, TxError>>::decode_all(&mut &out[..])
            .ok()
            .filter(|v| v.len() == txs.len())
            .ok_or_else(|| ExecError::BadOutput(entry::VALIDATE_TRANSACTIONS.into()))?;
        Ok(Some(verdicts))
    }

    /// Validates and pools an encoded transaction submitted to this node (RPC); returns its
    /// hash. Its nonce must follow its sender's pending transactions (a gap is refused with
    /// [`TxError::FutureNonce`], so the author learns of it). A pooled transaction is also
    /// handed to the relay, if one is set, for gossip.
    pub fn submit(&self, bytes: &[u8]) -> Result<Hash, SubmitError> {
        let hash = self.admit(bytes, false)?;
        if let Some(relay) = self.tx_relay.lock().as_ref() {
            let _ = relay.send(bytes.to_vec());
        }
        Ok(hash)
    }

    /// Where transactions submitted to this node go to be gossiped (the network's sender).
    pub fn set_tx_relay(&self, relay: tokio::sync::mpsc::UnboundedSender<Vec<u8>>) {
        *self.tx_relay.lock() = Some(relay);
    }

    /// Validates and pools a transaction that arrived from a peer (gossip, or the answer to a
    /// [`Chain::pooled_from`] request): as [`Chain::submit`], but not handed back to the relay
    /// (the network relays what it was given once it is accepted), and a nonce ahead of its
    /// sender's next is held as future until the missing nonces arrive
    /// ([`TxPool::submit_relayed`](watt_txpool::TxPool::submit_relayed)): gossip neither keeps
    /// order nor delivers everything.
    pub fn submit_from_peer(&self, bytes: &[u8]) -> Result<Hash, SubmitError> {
        self.admit(bytes, true)
    }

    /// Validates and pools transactions submitted to this node together (concurrent RPC
    /// submissions, batched by the RPC server): each gets the verdict [`Chain::submit`] would
    /// give it, in order, and each pooled one is handed to the relay; checked as
    /// [`Chain::submit_batch_from_peer`] checks a batch.
    pub fn submit_batch(&self, batch: &[Vec<u8>]) -> Vec<Result<Hash, SubmitError>> {
        let results = self.admit_batch(batch, false);
        if let Some(relay) = self.tx_relay.lock().as_ref() {
            for (bytes, result) in batch.iter().zip(&results) {
                if result.is_ok() {
                    let _ = relay.send(bytes.clone());
                }
            }
        }
        results
    }

    /// Pools transactions that arrived from peers, as [`Chain::submit_from_peer`] does each,
    /// in order, with their signatures first verified natively as one batch
    /// ([`Executor::preverify_signatures`](watt_executor::Executor::preverify_signatures)):
    /// gossip brings every transaction to every validator, and per signature a batch costs
    /// about half of the single checks admission would do. A batch holding a bad signature
    /// (an attacker's, say) is worth nothing: each is then checked alone, as without it.
    /// The runtime judges the whole batch in one call ([`Chain::validate_batch`]): one
    /// instance per batch instead of one per transaction (its setup and teardown were about a
    /// tenth of a validator's time under load). The pool takes them in order, each against
    /// what the ones before it left, as separate submissions would.
    pub fn submit_batch_from_peer(&self, batch: &[Vec<u8>]) -> Vec<Result<Hash, SubmitError>> {
        self.admit_batch(batch, true)
    }

    fn admit_batch(&self, batch: &[Vec<u8>], from_peer: bool) -> Vec<Result<Hash, SubmitError>> {
        // The commit gate is held for a chunk at a time, so a block commit (and everything
        // behind it) never waits for more than one chunk's validation.
        batch
            .chunks(ADMISSION_CHUNK)
            .flat_map(|chunk| self.admit_chunk(chunk, from_peer))
            .collect()
    }

    fn admit_chunk(&self, batch: &[Vec<u8>], from_peer: bool) -> Vec<Result<Hash, SubmitError>> {
        if batch.len() > 1 {
            let items = batch
                .iter()
                .filter_map(|bytes| SignedTransaction::decode_all(&mut &bytes[..]).ok())
                .map(|stx| (*stx.tx.signer.as_bytes(), stx.signature, stx.tx.signing_payload()))
                .collect();
            self.executor.preverify_signatures(items);
        }
        // Validation and pooling under one hold of the gate: no block commits in between, so
        // every verdict is on the state the pool sees.
        let _gate = self.commit_gate.read();
        let verdicts = match self.validate_batch(batch) {
            Ok(Some(verdicts)) => verdicts,
            // An older runtime, or a failure of this node: each alone says what it says alone.
            Ok(None) => return batch.iter().map(|bytes| self.admit_locked(bytes, from_peer)).collect(),
            Err(e) => {
                tracing::debug!("batch validation failed ({e}); validating each transaction alone");
                return batch.iter().map(|bytes| self.admit_locked(bytes, from_peer)).collect();
            }
        };
        batch
            .iter()
            .zip(verdicts)
            .map(|(bytes, verdict)| self.pool_valid(bytes, verdict.map_err(PoolError::Invalid)?, from_peer))
            .collect()
    }

    fn admit(&self, bytes: &[u8], from_peer: bool) -> Result<Hash, SubmitError> {
        let _gate = self.commit_gate.read();
        self.admit_locked(bytes, from_peer)
    }

    /// [`Chain::admit`] with the commit gate held by the caller.
    fn admit_locked(&self, bytes: &[u8], from_peer: bool) -> Result<Hash, SubmitError> {
        let valid = self.validate(bytes)?.map_err(PoolError::Invalid)?;
        self.pool_valid(bytes, valid, from_peer)
    }

    /// Pools `bytes`, which the runtime found `valid` on the head state (the caller holds the
    /// commit gate since that verdict).
    fn pool_valid(&self, bytes: &[u8], valid: ValidTransaction, from_peer: bool) -> Result<Hash, SubmitError> {
        let stx =
            SignedTransaction::decode_all(&mut &bytes[..]).map_err(|_| PoolError::Invalid(TxError::BadEncoding))?;
        let hash = valid.hash;
        let (submitted, ready) = {
            let mut pool = self.pool.lock();
            let submitted = if from_peer {
                pool.submit_relayed(stx, valid, Instant::now())?
            } else {
                pool.submit(stx, valid, Instant::now())?
            };
            (submitted, pool.is_ready(&hash))
        };
        if let Some(old) = submitted.replaced {
            let _ = self.events.send(ChainEvent::Dropped {
                hash: old,
                reason: "replaced by a higher tip".into(),
            });
        }
        for (hashes, reason) in [
            (submitted.evicted, DropReason::Evicted),
            (submitted.unpayable, DropReason::Unpayable),
        ] {
            for dropped in hashes {
                let _ = self.events.send(ChainEvent::Dropped {
                    hash: dropped,
                    reason: reason.to_string(),
                });
            }
        }
        // A future transaction gives a block nothing more to take until its gap fills (and the
        // transaction filling it notifies).
        if ready {
            self.tx_arrived.notify_one();
        }
        Ok(hash)
    }

    /// Senders whose pooled transactions wait for a missing nonce, each with the first nonce
    /// missing, in account order. A networked consensus engine asks its peers for
    /// [`Chain::pooled_from`]`(sender, nonce, ..)` and pools the answers with
    /// [`Chain::submit_from_peer`], so a nonce gap left on this node by a transaction dropped
    /// from gossip heals by itself. At most one entry per sender, and no more entries than
    /// [`PoolConfig::max_future`](watt_txpool::PoolConfig::max_future).
    pub fn nonce_gaps(&self) -> Vec<(AccountId, u64)> {
        self.pool.lock().nonce_gaps()
    }

    /// The SCALE-encoded pooled transactions of `who` (ready and future) from nonce
    /// `from_nonce` on, in nonce order: the answer to a peer's request for a sender's missing
    /// nonces. Bounded whatever the peer asked: at most `max` transactions, at most
    /// [`Chain::MAX_POOLED_FROM`] of them, and no more than [`Chain::MAX_POOLED_FROM_BYTES`]
    /// in all (past the first, which is always served if there is one).
    pub fn pooled_from(&self, who: &AccountId, from_nonce: u64, max: usize) -> Vec<Vec<u8>> {
        let txs = self
            .pool
            .lock()
            .pooled_from(who, from_nonce, max.min(Self::MAX_POOLED_FROM));
        let mut out = Vec::with_capacity(txs.len());
        let mut bytes = 0;
        for tx in txs {
            let encoded = tx.encode();
            bytes += encoded.len();
            if !out.is_empty() && bytes > Self::MAX_POOLED_FROM_BYTES {
                break;
            }
            out.push(encoded);
        }
        out
    }

    /// SCALE-encoded ready transactions last announced at least `older_than` ago, those waiting
    /// longest first, at most `max`; each is marked announced now, so the next call hands out
    /// others (see [`TxPool::stale`](watt_txpool::TxPool::stale)). A networked consensus engine
    /// calls this periodically and re-sends what it gets to the validators, so a transaction
    /// dropped from gossip somewhere still reaches every pool, and no validator proposes an
    /// empty set while valid transactions wait in another's pool. Each sender's transactions
    /// come in nonce order.
    pub fn stale_pending(&self, older_than: Duration, max: usize) -> Vec<Vec<u8>> {
        let txs = self.pool.lock().stale(Instant::now(), older_than, max);
        txs.iter().map(|t| t.encode()).collect()
    }

    /// Re-reads on the head state the nonce and free balance of each of `senders` that has
    /// pooled transactions, and brings the pool in line: transactions whose nonce is used
    /// leave it, those behind a nonce the state has not reached wait as future
    /// ([`TxPool::resync_nonce`](watt_txpool::TxPool::resync_nonce)), and those the balance
    /// no longer pays leave it, fee by fee in nonce order
    /// ([`TxPool::recheck`](watt_txpool::TxPool::recheck)); subscribers hear of each.
    ///
    /// Called for the signers of every agreed block ([`Chain::apply_agreed`]): a balance
    /// drops through its owner's own transactions (fees, value moved out), so they are the
    /// senders whose pooled transactions may have become unpayable; and a transaction of theirs
    /// that was skipped used no nonce. One runtime query per sender that still has pooled
    /// transactions. Returns how many transactions left the pool.
    pub fn recheck_pool_senders(&self, senders: impl IntoIterator<Item = AccountId>) -> Result<usize, ChainError> {
        // Held shared, as admissions hold it: no block commits between a state read and the
        // pool update it leads to.
        let _gate = self.commit_gate.read();
        let mut dropped = Vec::new();
        let mut failed = None;
        for who in senders {
            if self.pool.lock().fee_budget(&who).is_none() {
                continue;
            }
            let account = match self.query(&Query::Account(who)) {
                Ok(QueryResult::Account(a)) => a,
                Ok(_) => {
                    failed = Some(ExecError::BadOutput(entry::QUERY.into()).into());
                    break;
                }
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            let mut pool = self.pool.lock();
            dropped.extend(pool.resync_nonce(&who, account.nonce));
            dropped.extend(
                pool.recheck(&who, account.free)
                    .into_iter()
                    .map(|h| (h, DropReason::Unpayable)),
            );
        }
        // What already left the pool is told even if a later read failed.
        for (hash, reason) in &dropped {
            let _ = self.events.send(ChainEvent::Dropped {
                hash: *hash,
                reason: reason.to_string(),
            });
        }
        match failed {
            Some(e) => Err(e),
            None => Ok(dropped.len()),
        }
    }

    /// Whether the transaction `hash` is pending in the pool.
    pub fn is_pending(&self, hash: &Hash) -> bool {
        self.pool.lock().contains(hash)
    }
}
