//! The commit: one atomic write per block, then the head, the pool and subscribers follow.

use super::{hex, BuiltBlock, Chain, ChainError, ChainEvent, ImportedBlock};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;
use watt_executor::RuntimeCode;
use watt_primitives::abi::storage_keys;
use watt_primitives::{AccountId, Hash};

impl Chain {
    /// Commits a built block in one atomic batch, moves the head, prunes the pool, tells
    /// subscribers.
    pub(crate) fn commit_locked(
        &self,
        built: BuiltBlock,
        finalized: bool,
        justification: Option<&[u8]>,
        started: Instant,
    ) -> Result<ImportedBlock, ChainError> {
        let BuiltBlock {
            block,
            receipts,
            events,
            changes,
            tree,
            invalid,
        } = built;
        let gate = self.commit_gate.write();
        let hash = block.header.hash();
        let advance_head = || {
            let mut head = self.head.write();
            head.header = block.header.clone();
            head.hash = hash;
            if let (Some(Some(code)), None) = (changes.get(storage_keys::CODE), &self.config.code_override) {
                head.code = RuntimeCode::new(code.clone());
            }
        };
        if let Err(e) = self
            .store
            .commit_block(&block, &receipts, &events, &changes, tree, finalized, justification)
        {
            // The batch may have landed although the commit reported an error (a sync that
            // failed after the write): follow what the database says, or the next block would
            // be built on a head the disk has already moved past.
            if matches!(self.store.best(), Ok(Some((_, best))) if best == hash) {
                advance_head();
            }
            return Err(e.into());
        }
        advance_head();
        // A skipped transaction used no nonce (the runtime left its sender's nonce as it was):
        // counting it would make the pool believe the chain moved past nonces it did not, and
        // keep the sender's later transactions "ready" at nonces the chain cannot reach.
        let skipped: std::collections::HashSet<Hash> = receipts
            .iter()
            .filter(|r| matches!(r.outcome, watt_primitives::TxOutcome::Skipped(_)))
            .map(|r| r.tx_hash)
            .collect();
        let mut next_nonces: HashMap<AccountId, u64> = HashMap::new();
        for t in block
            .transactions
            .iter()
            .filter(|t| skipped.is_empty() || !skipped.contains(&t.hash()))
        {
            let n = next_nonces.entry(t.tx.signer).or_default();
            *n = (*n).max(t.tx.nonce + 1);
        }
        // Verdicts on sets for the old head are of no further use.
        self.tx_set_verdicts.lock().clear();
        let mut dropped = Vec::new();
        {
            let mut pool = self.pool.lock();
            // A pending transaction whose nonce this block used without including it (it was
            // replaced or evicted while the block was being built) leaves the pool here; its
            // watchers must hear of it, or they would wait for an inclusion that cannot come.
            let included: std::collections::HashSet<Hash> = receipts.iter().map(|r| r.tx_hash).collect();
            for removed in pool.prune(&next_nonces.into_iter().collect::<Vec<_>>()) {
                if !included.contains(&removed) {
                    let reason = format!(
                        "its nonce was used by another transaction of the same sender in block #{}",
                        block.header.number
                    );
                    dropped.push((removed, reason));
                }
            }
            for (h, err) in &invalid {
                for removed in pool.remove_invalid(h) {
                    let reason = if removed == *h {
                        err.to_string()
                    } else {
                        "an earlier nonce of its sender was invalid".into()
                    };
                    dropped.push((removed, reason));
                }
            }
            // Expiry runs once a block, so a stuck transaction is dropped at most one block
            // interval after its lifetime.
            for (removed, reason) in pool.expire(Instant::now()) {
                dropped.push((removed, reason.to_string()));
            }
        }
        drop(gate);
        let imported = ImportedBlock {
            tx_hashes: receipts.iter().map(|r| r.tx_hash).collect(),
            header: block.header,
            hash,
            finalized,
        };
        tracing::info!(
            "imported #{} (0x{}…) with {} transactions in {} ms{}",
            imported.header.number,
            hex(&hash[..4]),
            imported.tx_hashes.len(),
            started.elapsed().as_millis(),
            if invalid.is_empty() {
                String::new()
            } else {
                format!(", {} invalid dropped", invalid.len())
            }
        );
        use std::sync::atomic::Ordering::Relaxed;
        self.stats.blocks.fetch_add(1, Relaxed);
        self.stats
            .transactions
            .fetch_add(imported.tx_hashes.len() as u64, Relaxed);
        self.stats
            .import_micros
            .fetch_add(started.elapsed().as_micros() as u64, Relaxed);
        let _ = self.events.send(ChainEvent::Block(Arc::new(imported.clone())));
        for (hash, reason) in dropped {
            let _ = self.events.send(ChainEvent::Dropped { hash, reason });
        }
        Ok(imported)
    }
}
