//! Execution of a transaction list on the head: the one place blocks are computed, whether
//! built from the pool, applied from an agreed SCP value or re-executed on import.

use super::{BuiltBlock, Chain, ChainError};
use crate::backend::HeadState;
use std::sync::Arc;
use watt_executor::{Deadline, ExecError, StateSession};
use watt_primitives::abi::{entry, ApplyBlockInput, ApplyBlockOutput, ApplyResult, TxSetError};
use watt_primitives::economy::{EventPhase, EventRecord};
use watt_primitives::{
    events_root, merkle_root, receipts_root, AccountId, Block, Hash, Header, Receipt, SignedTransaction, Timestamp,
    TxOutcome,
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
    /// head's (refused, never clamped: a close time is agreed, not adjusted), as a block by
    /// `author` (the runtime pays it the validator share; the header names it).
    ///
    /// A list over the chain's size limits is refused whole by the runtime, whatever the path:
    /// [`ChainError::InvalidBlock`], nothing written.
    pub(crate) fn execute_on_head(
        &self,
        transactions: Vec<SignedTransaction>,
        close_time: Timestamp,
        author: AccountId,
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
            author,
            transactions,
        };
        let session = StateSession::new(Arc::new(HeadState(self.store.clone())));
        // An agreed block (or one imported with its certificate) is finished however long it
        // takes; only a block this node builds from its own pool is abandoned at the deadline.
        let deadline = match invalid_tx {
            InvalidTx::Drop => Deadline::Default,
            InvalidTx::Skip => Deadline::None,
        };
        let (session, out) = self.executor.call_decoded_with::<Result<ApplyBlockOutput, TxSetError>>(
            &code,
            entry::APPLY_BLOCK,
            &input,
            session,
            deadline,
        );
        let out = out?.map_err(|e| ChainError::InvalidBlock(format!("block #{number}: {e}")))?;
        if out.results.len() != input.transactions.len() {
            return Err(ExecError::BadOutput(entry::APPLY_BLOCK.into()).into());
        }
        let changes = session.into_changes().map_err(ExecError::from)?;
        let mut included = Vec::with_capacity(out.results.len());
        let mut receipts: Vec<Receipt> = Vec::with_capacity(out.results.len());
        let mut invalid = Vec::new();
        // Each input transaction's position in the block, `None` when it was dropped: the
        // runtime numbers event phases by input position, the block by included position.
        let mut position: Vec<Option<u32>> = Vec::with_capacity(out.results.len());
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
                    position.push(None);
                    continue;
                }
            };
            position.push(Some(included.len() as u32));
            receipts.push(Receipt {
                index: included.len() as u32,
                ..receipt
            });
            included.push(tx);
        }
        let events = renumber_events(out.events, &position)?;
        let tree = self.store.prepare_state(&changes, number)?;
        let tx_hashes: Vec<Hash> = receipts.iter().map(|r| r.tx_hash).collect();
        let header = Header {
            parent_hash,
            number,
            state_root: tree.root,
            tx_root: merkle_root(&tx_hashes),
            receipts_root: receipts_root(&receipts),
            events_root: events_root(&events),
            close_time,
            author,
        };
        Ok(BuiltBlock {
            block: Block {
                header,
                transactions: included,
            },
            receipts,
            events,
            changes,
            tree,
            invalid,
        })
    }
}

/// The block's events with each transaction phase renumbered from the transaction's input
/// position to its position in the block (`position[input]`), and the events of dropped
/// transactions left out (a transaction the runtime finds invalid changes nothing, so it should
/// have emitted none; were it to, they would describe nothing in the block). A phase naming a
/// transaction the input does not have is malformed runtime output.
fn renumber_events(events: Vec<EventRecord>, position: &[Option<u32>]) -> Result<Vec<EventRecord>, ChainError> {
    let mut out = Vec::with_capacity(events.len());
    for mut record in events {
        if let EventPhase::Transaction(i) = record.phase {
            match position.get(i as usize) {
                Some(Some(at)) => record.phase = EventPhase::Transaction(*at),
                Some(None) => continue,
                None => return Err(ExecError::BadOutput(entry::APPLY_BLOCK.into()).into()),
            }
        }
        out.push(record);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(phase: EventPhase, tag: u8) -> EventRecord {
        EventRecord {
            phase,
            event: vec![tag],
            topics: vec![],
        }
    }

    #[test]
    fn transaction_phases_follow_the_included_positions_and_dropped_ones_lose_their_events() {
        use EventPhase::*;
        // Input 0 included at 0, input 1 dropped, input 2 included at 1.
        let position = [Some(0), None, Some(1)];
        let events = vec![
            record(Initialization, 1),
            record(Transaction(0), 2),
            record(Transaction(1), 3),
            record(Transaction(2), 4),
            record(Transaction(2), 5),
            record(Finalization, 6),
        ];
        let out = renumber_events(events, &position).unwrap();
        assert_eq!(
            out,
            vec![
                record(Initialization, 1),
                record(Transaction(0), 2),
                record(Transaction(1), 4),
                record(Transaction(1), 5),
                record(Finalization, 6),
            ]
        );
    }

    #[test]
    fn a_phase_beyond_the_input_is_malformed_output() {
        let events = vec![record(EventPhase::Transaction(2), 1)];
        assert!(matches!(
            renumber_events(events, &[Some(0), Some(1)]),
            Err(ChainError::Exec(ExecError::BadOutput(_)))
        ));
    }
}
