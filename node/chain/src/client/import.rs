//! Import of a block made elsewhere (sync): re-execute, compare every root, commit.

use super::execute::InvalidTx;
use super::{hex, Chain, ChainError, ImportedBlock};
use std::time::Instant;
use watt_primitives::Block;

impl Chain {
    /// Imports a block made elsewhere: re-executes it on the head as authored by its header's
    /// author, checks its roots (transactions, receipts, events, state), commits
    /// (with its finality certificate, if given, beside it). A transaction invalid at its turn
    /// is skipped with a receipt, as when the block was agreed. Refused blocks leave no trace.
    pub fn import_block(
        &self,
        block: Block,
        finalized: bool,
        justification: Option<&[u8]>,
    ) -> Result<ImportedBlock, ChainError> {
        let _lock = self.import_lock.lock();
        let started = Instant::now();
        let theirs = &block.header;
        let (head_number, head_hash) = self.best();
        if theirs.parent_hash != head_hash || theirs.number != head_number + 1 {
            return Err(ChainError::InvalidBlock(format!(
                "block #{} does not extend the head #{head_number}",
                theirs.number
            )));
        }
        let built = self.execute_on_head(
            block.transactions.clone(),
            theirs.close_time,
            theirs.author,
            InvalidTx::Skip,
        )?;
        let ours = &built.block.header;
        if ours.tx_root != theirs.tx_root {
            return Err(ChainError::InvalidBlock("transaction root mismatch".into()));
        }
        if ours.receipts_root != theirs.receipts_root {
            return Err(ChainError::InvalidBlock("receipts root mismatch".into()));
        }
        if ours.events_root != theirs.events_root {
            return Err(ChainError::InvalidBlock("events root mismatch".into()));
        }
        if ours.state_root != theirs.state_root {
            return Err(ChainError::InvalidBlock(format!(
                "state root mismatch: header says 0x{}, execution gives 0x{}",
                hex(&theirs.state_root),
                hex(&ours.state_root)
            )));
        }
        debug_assert_eq!(ours.hash(), theirs.hash());
        self.commit_locked(built, finalized, justification, started)
    }
}
