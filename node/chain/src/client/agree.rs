//! The seam SCP needs (ARCHITECTURE "Consensus engine interface"): a candidate transaction set
//! from the pool with nothing committed, a verdict on a proposed set against the parent state
//! (cached by set hash), and "apply this agreed value", which every node executes identically.

use super::execute::InvalidTx;
use super::{hex, Chain, ChainError, ImportedBlock};
use parity_scale_codec::{DecodeAll, Encode};
use std::time::Instant;
use watt_executor::{ExecError, StateSession};
use watt_primitives::abi::{entry, TxSetError, ValidateTxSetInput};
use watt_primitives::{AccountId, ConsensusValue, Hash, SignedTransaction, TxError, TxSet};
use watt_txpool::DropReason;

/// Whether a transaction the set check refused can never become valid on a later state (so
/// the pool drops it): a bad signature or call, a used nonce, another chain, or a call the
/// runtime refuses before fees (a check-in already made today or by an unattested account:
/// its sender submits again when that changes). Fees not payable yet and nonces ahead may
/// still come right.
fn never_valid_again(error: &TxError) -> bool {
    use TxError::*;
    matches!(
        error,
        BadEncoding | TooLarge { .. } | WrongGenesis { .. } | BadSignature | StaleNonce { .. } | BadCall | Refused(_)
    )
}

/// Verdicts remembered (by parent and set hash) before the cache starts over.
const VERDICTS_KEPT: usize = 256;

/// Checks of the whole candidate that [`Chain::candidate_tx_set`] makes before it settles for
/// the longest prefix found valid: each costs a set check of up to a block's worth of
/// transactions, so a pool full of refusals cannot hold a nomination up for long.
const FULL_CHECKS: usize = 16;

/// Transactions checked per round once [`FULL_CHECKS`] are spent and no prefix is known valid
/// yet (every refusal was at the front): such a round costs a few dozen transaction checks, so
/// going on until a valid transaction turns up stays cheap.
const WINDOW: usize = 64;

impl Chain {
    /// The set this node would propose for the next block: the pool's ready transactions within
    /// [`Chain::proposal_limits`] (this node's caps within the chain's size limits), checked as
    /// a whole against the head state. Nothing is committed.
    ///
    /// A transaction the set check refuses (the pool judged it alone, or against an older
    /// balance) is left out with its sender's later ones, and the check runs again, at most
    /// [`FULL_CHECKS`] times on the whole set. Then the longest prefix found valid is
    /// proposed: the set check judges transactions in order, so when it refuses the one at
    /// `index`, everything before it is a valid set (see the comment in the loop). If no
    /// prefix is known valid yet, checks go on over windows of [`WINDOW`] transactions at the
    /// front until one is: **the proposal is empty only when no ready transaction is valid**.
    ///
    /// What a refusal teaches reaches the pool, so the next proposal does not meet it again:
    /// a transaction that can never become valid leaves it (with its sender's later ones),
    /// and when the check finds fees unpayable, the sender's free balance it reports is handed
    /// to [`TxPool::recheck`](watt_txpool::TxPool::recheck), which drops the sender's
    /// transactions that balance no longer pays.
    pub fn candidate_tx_set(&self) -> Result<TxSet, ChainError> {
        let (max_txs, max_bytes) = self.proposal_limits()?;
        let ready = self.pool.lock().ready(max_txs, max_bytes);
        let mut set = TxSet {
            transactions: ready.iter().map(|p| (*p.tx).clone()).collect(),
        };
        drop(ready);
        let parent = self.best().1;
        // `set.transactions[..valid]` is known to be a valid set on `parent`. Why a refusal at
        // `index` proves `[..index]` valid: the runtime's set check (`validate_tx_set` in
        // runtime/src/api.rs) first checks the count and byte bounds, which any prefix of a set
        // within them meets, then walks the transactions in order, judging each against the
        // parent state and what only the transactions before it accumulated (per-sender next
        // nonce and fees spent, check-ins, block weight used); it returns at the first failure,
        // and a failed signature batch only makes it verify each signature alone, which gives
        // a prefix the same per-transaction answers. So the transactions before `index` passed
        // exactly the checks a set of them alone would make. Removing the refused one and its
        // sender's later ones keeps that prefix, so `valid` only grows.
        let mut valid = 0;
        let mut checks = 0;
        loop {
            if set.transactions.is_empty() {
                return Ok(set);
            }
            let window = if checks < FULL_CHECKS {
                set.transactions.len()
            } else if valid > 0 {
                break;
            } else {
                WINDOW.min(set.transactions.len())
            };
            checks += 1;
            let verdict = if window == set.transactions.len() {
                self.validate_tx_set(&parent, &set)?
            } else {
                let front = TxSet {
                    transactions: set.transactions[..window].to_vec(),
                };
                match self.validate_tx_set(&parent, &front)? {
                    // The window is valid: propose it rather than spend more checks.
                    Ok(()) => return Ok(front),
                    refused => refused,
                }
            };
            match verdict {
                Ok(()) => return Ok(set),
                Err(TxSetError::Transaction { index, error }) => {
                    let index = index as usize;
                    let Some(bad) = set.transactions.get(index) else {
                        // An index past the set is malformed runtime output: keep what is known.
                        tracing::warn!(
                            "the set check refused transaction {index} of a set of {}",
                            set.transactions.len()
                        );
                        break;
                    };
                    valid = index;
                    let signer = bad.tx.signer;
                    self.learn_from_refusal(bad, &error);
                    let mut position = 0;
                    set.transactions.retain(|t| {
                        let keep = position < index || t.tx.signer != signer;
                        position += 1;
                        keep
                    });
                }
                // The pool takes no more than the chain's limits the check applies, so these mean
                // they changed under it (the head moved); trimming the end keeps a prefix of what
                // was valid.
                Err(TxSetError::TooManyTransactions { max, .. }) => {
                    set.transactions.truncate(max as usize);
                    valid = valid.min(set.transactions.len());
                }
                Err(TxSetError::TooLarge { max, .. }) => {
                    let mut bytes = 0u64;
                    let fit = set
                        .transactions
                        .iter()
                        .take_while(|t| {
                            bytes += t.encoded_size() as u64;
                            bytes <= u64::from(max)
                        })
                        .count();
                    set.transactions.truncate(fit);
                    valid = valid.min(fit);
                }
            }
        }
        set.transactions.truncate(valid);
        Ok(set)
    }

    /// What the pool learns from the set check refusing `bad` with `error`, so that the next
    /// proposal does not meet the same refusal:
    /// - a nonce out of step at the sender's first pooled transaction gives the sender's state
    ///   nonce: the pool resyncs to it ([`TxPool::resync_nonce`](watt_txpool::TxPool::resync_nonce)):
    ///   used nonces leave, transactions behind a missing nonce wait as future. (Within a
    ///   candidate a sender's transactions are contiguous from its first pooled one, so that is
    ///   where such a refusal happens, and `expected` is then the state nonce.);
    /// - fees found unpayable give the sender's free balance, against which its pooled
    ///   transactions are rechecked ([`TxPool::recheck`](watt_txpool::TxPool::recheck));
    /// - a transaction that can never become valid leaves the pool with its sender's later
    ///   ones.
    ///
    /// Subscribers hear of every transaction dropped.
    fn learn_from_refusal(&self, bad: &SignedTransaction, error: &TxError) {
        let who = bad.tx.signer;
        let mut pool = self.pool.lock();
        let first_pooled = pool.first_nonce(&who) == Some(bad.tx.nonce);
        let dropped: Vec<(Hash, String)> = match error {
            TxError::StaleNonce { expected, got } | TxError::FutureNonce { expected, got }
                if first_pooled && *got == bad.tx.nonce =>
            {
                pool.resync_nonce(&who, *expected)
                    .into_iter()
                    .map(|(h, reason)| (h, reason.to_string()))
                    .collect()
            }
            TxError::CannotPayFee { free, .. } => pool
                .recheck(&who, *free)
                .into_iter()
                .map(|h| (h, DropReason::Unpayable.to_string()))
                .collect(),
            e if never_valid_again(e) => {
                let reason = format!("refused by the transaction-set check: {e}");
                pool.remove_invalid(&bad.hash())
                    .into_iter()
                    .map(|h| (h, reason.clone()))
                    .collect()
            }
            _ => Vec::new(),
        };
        drop(pool);
        for (hash, reason) in dropped {
            let _ = self.events.send(super::ChainEvent::Dropped { hash, reason });
        }
    }

    /// Whether `set` is a valid next block on `parent` (which must be the head: validity is
    /// judged against the parent's state). The verdict is cached by (parent, set hash). It
    /// depends on the chain alone: the size limits are the chain parameters the runtime reads
    /// from the parent state, never this node's [`ChainConfig`](super::ChainConfig) caps, so
    /// every validator judges a proposed set alike.
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
    /// finality certificate) stored beside it. Every node computes the same block: every
    /// fee is charged before any call runs (`watt_runtime::api::apply_block`), and a
    /// transaction the fee pass finds invalid stays in the block with a skipped receipt. Refused (nothing written) if the value does not extend the head, names another
    /// set, or closes no later than the parent, or the set exceeds the chain's size limits (the
    /// runtime refuses such a block whole; the set check refused it before any honest vote).
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
        let imported = self.commit_locked(built, true, justification.as_deref(), started)?;
        // The block's signers paid fees and may have moved value out: what their balances no
        // longer pay leaves the pool now, not at a later set check. Still under the import
        // lock, so no other block moves the head meanwhile. The block is committed whatever
        // this finds; a failure here only leaves the pool to the next set check.
        let signers: std::collections::BTreeSet<AccountId> = set.transactions.iter().map(|t| t.tx.signer).collect();
        if let Err(e) = self.recheck_pool_senders(signers) {
            tracing::warn!(
                "rechecking the pool after block #{} failed: {e}",
                imported.header.number
            );
        }
        Ok(imported)
    }
}
