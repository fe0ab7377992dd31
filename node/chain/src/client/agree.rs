//! The seam SCP needs (ARCHITECTURE "Consensus engine interface"): a candidate transaction set
//! from the pool with nothing committed, a verdict on a proposed set against the parent state
//! (cached by set hash), and "apply this agreed value", which every node executes identically.

use super::execute::InvalidTx;
use super::{hex, Chain, ChainError, ImportedBlock};
use parity_scale_codec::{DecodeAll, Encode};
use std::time::Instant;
use watt_executor::{ExecError, StateSession};
use watt_primitives::abi::{entry, TxSetError, ValidateTxSetInput};
use watt_primitives::{ConsensusValue, Hash, TxSet};

/// Whether a transaction the set check refused can never become valid on a later state (so
/// the pool drops it): a bad signature or call, a used nonce, another chain, or a call the
/// runtime refuses before fees (a check-in already made today or by an unattested account:
/// its sender submits again when that changes). Fees not payable yet and nonces ahead may
/// still come right.
fn never_valid_again(error: &watt_primitives::TxError) -> bool {
    use watt_primitives::TxError::*;
    matches!(
        error,
        BadEncoding | TooLarge { .. } | WrongGenesis { .. } | BadSignature | StaleNonce { .. } | BadCall | Refused(_)
    )
}

/// Verdicts remembered (by parent and set hash) before the cache starts over.
const VERDICTS_KEPT: usize = 256;

impl Chain {
    /// The set this node would propose for the next block: the pool's ready transactions within
    /// the block bounds, checked as a whole against the head state. A transaction the set check
    /// refuses (the pool judged it alone) is left out with its sender's later ones, so the
    /// proposal is always valid. Nothing is marked or committed.
    pub fn candidate_tx_set(&self) -> Result<TxSet, ChainError> {
        let ready = self
            .pool
            .lock()
            .ready(self.config.max_block_txs, self.config.max_block_bytes);
        let mut set = TxSet {
            transactions: ready.iter().map(|p| (*p.tx).clone()).collect(),
        };
        let parent = self.best().1;
        // Each round removes at least one transaction; a few rounds settle any realistic pool,
        // and what a round finds permanently invalid leaves the pool, so it cannot crowd the
        // next proposals out.
        for _ in 0..16 {
            match self.validate_tx_set(&parent, &set)? {
                Ok(()) => return Ok(set),
                Err(TxSetError::Transaction { index, error }) => {
                    let index = index as usize;
                    let Some(bad) = set.transactions.get(index) else { break };
                    let signer = bad.tx.signer;
                    if never_valid_again(&error) {
                        let hash = bad.hash();
                        let reason = format!("refused by the transaction-set check: {error}");
                        for h in self.pool.lock().remove_invalid(&hash) {
                            let _ = self.events.send(super::ChainEvent::Dropped {
                                hash: h,
                                reason: reason.clone(),
                            });
                        }
                    }
                    let mut position = 0;
                    set.transactions.retain(|t| {
                        let keep = position < index || t.tx.signer != signer;
                        position += 1;
                        keep
                    });
                }
                Err(_) => break,
            }
        }
        Ok(TxSet::default())
    }

    /// Whether `set` is a valid next block on `parent` (which must be the head: validity is
    /// judged against the parent's state). The verdict is cached by (parent, set hash).
    /// `Err` is a node failure; `Ok(Err)` says what is wrong with the set.
    pub fn validate_tx_set(&self, parent: &Hash, set: &TxSet) -> Result<Result<(), TxSetError>, ChainError> {
        let key = (*parent, set.hash());
        if let Some(v) = self.tx_set_verdicts.lock().get(&key) {
            return Ok(v.clone());
        }
        let head = self.best().1;
        if *parent != head {
            return Err(ChainError::NotOnHead {
                parent: format!("0x{}", hex(parent)),
                head: format!("0x{}", hex(&head)),
            });
        }
        let input = ValidateTxSetInput {
            chain: self.context.clone(),
            max_transactions: self.config.max_block_txs.min(u32::MAX as usize) as u32,
            max_bytes: self.config.max_block_bytes.min(u32::MAX as usize) as u32,
            transactions: set.transactions.clone(),
        };
        let (backend, _) = self.backend_at(None)?;
        let (_, out) = self.executor.call(
            &self.code(),
            entry::VALIDATE_TX_SET,
            &input.encode(),
            StateSession::new(backend),
        );
        let verdict = Result::<(), TxSetError>::decode_all(&mut &out?[..])
            .map_err(|_| ExecError::BadOutput(entry::VALIDATE_TX_SET.into()))?;
        let mut cache = self.tx_set_verdicts.lock();
        if cache.len() >= VERDICTS_KEPT {
            cache.clear();
        }
        cache.insert(key, verdict.clone());
        Ok(verdict)
    }

    /// Applies an agreed value: `set` (whose hash the value names) on the parent the value
    /// names, with its close time, as the next block authored by the value's proposer; final, with `justification` (the
    /// finality certificate) stored beside it. Every node computes the same block: a
    /// transaction that turns out invalid at its turn stays in the block with a skipped
    /// receipt. Refused (nothing written) if the value does not extend the head, names another
    /// set, or closes no later than the parent.
    pub fn apply_agreed(
        &self,
        value: &ConsensusValue,
        set: &TxSet,
        justification: Option<Vec<u8>>,
    ) -> Result<ImportedBlock, ChainError> {
        let _lock = self.import_lock.lock();
        let started = Instant::now();
        let head = self.best().1;
        if value.parent_hash != head {
            return Err(ChainError::NotOnHead {
                parent: format!("0x{}", hex(&value.parent_hash)),
                head: format!("0x{}", hex(&head)),
            });
        }
        let set_hash = set.hash();
        if set_hash != value.tx_set_hash {
            return Err(ChainError::InvalidBlock(format!(
                "the value names transaction set 0x{}, the set given hashes to 0x{}",
                hex(&value.tx_set_hash),
                hex(&set_hash)
            )));
        }
        let built = self.execute_on_head(
            set.transactions.clone(),
            value.close_time,
            value.proposer,
            InvalidTx::Skip,
        )?;
        debug_assert!(value.matches(&built.block.header));
        self.commit_locked(built, true, justification.as_deref(), started)
    }
}
