//! Execution of a transaction list on the head: the one place blocks are computed, whether
//! built from the pool, applied from an agreed SCP value or re-executed on import.

use super::{BuiltBlock, Chain, ChainError};
use crate::backend::HeadState;
use std::sync::Arc;
use watt_executor::{Deadline, ExecError, StateSession};
use watt_primitives::abi::{entry, ApplyBlockInput, ApplyBlockOutput, ApplyResult};
use watt_primitives::{
    merkle_root, receipts_root, Block, Hash, Header, Receipt, SignedTransaction, Timestamp, TxOutcome,
};

/// What becomes of a transaction the runtime finds invalid at its turn.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InvalidTx {
    /// Left out of the block (a producer building from its own pool).
    Drop,
    /// Kept in the block with a [`TxOutcome::Skipped`] receipt (an agreed or imported block:
    /// its transaction list is fixed, and every node skips the same ones).
    Skip,
}

impl Chain {
    /// Executes `transactions` on the head with `close_time`, which must be later than the
    /// head's (refused, never clamped: a close time is agreed, not adjusted).
    pub(crate) fn execute_on_head(
        &self,
        transactions: Vec<SignedTransaction>,
        close_time: Timestamp,
        invalid_tx: InvalidTx,
    ) -> Result<BuiltBlock, ChainError> {
        let (parent, parent_hash, code) = {
            let h = self.head.read();
            (h.header.clone(), h.hash, h.code.clone())
        };
        if close_time <= parent.close_time {
            return Err(ChainError::InvalidBlock(format!(
                "close time {close_time} is not later than the parent's ({})",
                parent.close_time
            )));
        }
        let number = parent.number + 1;
        let input = ApplyBlockInput {
            chain: self.context.clone(),
            number,
            parent_hash,
            close_time,
            transactions,
        };
        let session = StateSession::new(Arc::new(HeadState(self.store.clone())));
        // An agreed block (or one imported with its certificate) is finished however long it
        // takes; only a block this node builds from its own pool is abandoned at the deadline.
        let deadline = match invalid_tx {
            InvalidTx::Drop => Deadline::Default,
            InvalidTx::Skip => Deadline::None,
        };
        let (session, out) =
            self.executor
                .call_decoded_with::<ApplyBlockOutput>(&code, entry::APPLY_BLOCK, &input, session, deadline);
        let out = out?;
        if out.results.len() != input.transactions.len() {
            return Err(ExecError::BadOutput(entry::APPLY_BLOCK.into()).into());
        }
        let changes = session.into_changes().map_err(ExecError::from)?;
        let mut included = Vec::with_capacity(out.results.len());
        let mut receipts: Vec<Receipt> = Vec::with_capacity(out.results.len());
        let mut invalid = Vec::new();
        for (tx, result) in input.transactions.into_iter().zip(out.results) {
            let receipt = match result {
                ApplyResult::Included(r) => r,
                ApplyResult::Invalid(e) if invalid_tx == InvalidTx::Skip => {
                    let tx_hash = tx.hash();
                    invalid.push((tx_hash, e.clone()));
                    Receipt {
                        tx_hash,
                        block_number: number,
                        index: 0,
                        outcome: TxOutcome::Skipped(e),
                        fee_paid: 0,
                        events: vec![],
                    }
                }
                ApplyResult::Invalid(e) => {
                    invalid.push((tx.hash(), e));
                    continue;
                }
            };
            receipts.push(Receipt {
                index: included.len() as u32,
                ..receipt
            });
            included.push(tx);
        }
        let tree = self.store.prepare_state(&changes, number)?;
        let tx_hashes: Vec<Hash> = receipts.iter().map(|r| r.tx_hash).collect();
        let header = Header {
            parent_hash,
            number,
            state_root: tree.root,
            tx_root: merkle_root(&tx_hashes),
            receipts_root: receipts_root(&receipts),
            close_time,
        };
        Ok(BuiltBlock {
            block: Block {
                header,
                transactions: included,
            },
            receipts,
            changes,
            tree,
            invalid,
        })
    }
}
