//! Faults inside the store's commit path (`fail` points `store::commit::before_write` and
//! `store::commit::after_write`, compiled in by watt-store's `failpoints` feature): a commit
//! that errors or "crashes" (panics) before or after its write batch. After reopening the
//! database the head is the last block whose batch was written, the receipts of committed
//! blocks are intact, nothing of a block whose batch was not written is visible, production
//! continues, and every block replays into a fresh chain to the same state roots.
//!
//! Fail points are process-global: each test holds a `FailScenario` (a global lock), so these
//! tests never overlap even under `cargo test`; nextest runs each in its own process anyway.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use watt_chain::test_utils::{keyring, open_dev_chain, transfer_bytes};
use watt_chain::{Chain, ChainError, ImportedBlock};
use watt_client::Keypair;
use watt_primitives::abi::{Query, QueryResult};
use watt_primitives::{Hash, Receipt, TxOutcome, UNIT};
use watt_store::StoreError;

const BEFORE_WRITE: &str = "store::commit::before_write";
const AFTER_WRITE: &str = "store::commit::after_write";

fn nonce(chain: &Chain, who: &Keypair) -> u64 {
    match chain.query(&Query::Account(who.account())).unwrap() {
        QueryResult::Account(a) => a.nonce,
        other => panic!("unexpected {other:?}"),
    }
}

/// Alice sends Bob `amount` with `nonce`; returns the transaction hash.
fn submit(chain: &Chain, nonce: u64, amount: u128) -> Hash {
    let keys = keyring();
    chain
        .submit(&transfer_bytes(
            chain.genesis_hash(),
            &keys[0],
            keys[1].account(),
            amount,
            nonce,
        ))
        .unwrap()
}

/// Block #1 with one transfer, committed without faults: (the block, its receipt).
fn first_block(chain: &Chain) -> (ImportedBlock, Receipt) {
    let h = submit(chain, 0, UNIT);
    let block = chain.produce_block(1_000, true, false).unwrap().expect("block #1");
    let receipt = chain.receipt(&h).unwrap().expect("receipt of block #1");
    assert_eq!(receipt.outcome, TxOutcome::Success);
    (block, receipt)
}

/// Produces a block with `point` configured as `action`; returns what production returned, or
/// `None` when it panicked (the simulated crash). The point is cleared afterwards.
fn produce_with_fault(chain: &Chain, point: &str, action: &str) -> Option<Result<Option<ImportedBlock>, ChainError>> {
    fail::cfg(point, action).unwrap();
    // Close times must grow (never clamped by the chain): one past the head's.
    let close_time = chain.best_header().close_time + 1;
    let r = catch_unwind(AssertUnwindSafe(|| chain.produce_block(close_time, true, false)));
    fail::remove(point);
    r.ok()
}

/// Every block of `chain` imported into a fresh dev chain: same hashes, same state roots.
fn assert_replays(chain: &Chain) {
    let dir = tempfile::tempdir().unwrap();
    let fresh = open_dev_chain(dir.path());
    let (head, _) = chain.best();
    for n in 1..=head {
        let hash = chain.hash_at(n).unwrap().expect("every block up to the head");
        let block = chain.block(&hash).unwrap().expect("its body");
        let root = block.header.state_root;
        let imported = fresh
            .import_block(block, true, None)
            .unwrap_or_else(|e| panic!("replaying #{n}: {e}"));
        assert_eq!((imported.hash, imported.header.state_root), (hash, root), "block #{n}");
    }
}

/// The reopened chain produces a block on its head, then replays from scratch.
fn assert_continues(chain: &Arc<Chain>, alice: &Keypair, expected_head: u64) {
    let n = nonce(chain, alice);
    let h = submit(chain, n, 3 * UNIT);
    let next = chain.produce_block(5_000, true, false).unwrap().expect("a block");
    assert_eq!(next.header.number, expected_head + 1);
    assert_eq!(next.tx_hashes, vec![h]);
    assert_eq!(nonce(chain, alice), n + 1);
    assert_replays(chain);
}

#[test]
fn an_error_before_the_write_commits_nothing_and_production_continues() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let alice = &keyring()[0];
    let chain = open_dev_chain(dir.path());
    let (b1, r1) = first_block(&chain);
    let h2 = submit(&chain, 1, 2 * UNIT);

    let err = produce_with_fault(&chain, BEFORE_WRITE, "return(disk full)")
        .expect("an error, not a panic")
        .unwrap_err();
    assert!(matches!(err, ChainError::Store(StoreError::Injected(_))), "{err}");
    assert_eq!(chain.best(), (1, b1.hash), "the head did not move");
    assert_eq!(chain.hash_at(2).unwrap(), None, "no block #2");
    assert_eq!(chain.receipt(&h2).unwrap(), None, "no receipt from the failed block");
    assert_eq!(nonce(&chain, alice), 1, "no state from the failed block");
    assert!(
        chain.pending().iter().any(|p| p.hash == h2),
        "the transaction waits for the next block"
    );

    // The same transaction goes into the next block.
    let b2 = chain.produce_block(3_000, true, false).unwrap().expect("block #2");
    assert_eq!((b2.header.number, b2.tx_hashes.clone()), (2, vec![h2]));
    drop(chain);

    let chain = open_dev_chain(dir.path());
    assert_eq!(chain.best(), (2, b2.hash));
    assert_eq!(chain.receipt(&r1.tx_hash).unwrap(), Some(r1));
    assert_eq!(chain.receipt(&h2).unwrap().expect("receipt of #2").block_number, 2);
    assert_continues(&chain, alice, 2);
    scenario.teardown();
}

#[test]
fn a_crash_before_the_write_restarts_at_the_previous_block() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let alice = &keyring()[0];
    let chain = open_dev_chain(dir.path());
    let (b1, r1) = first_block(&chain);
    let h2 = submit(&chain, 1, 2 * UNIT);
    assert!(
        produce_with_fault(&chain, BEFORE_WRITE, "panic(crash before write)").is_none(),
        "the commit crashed"
    );
    drop(chain);

    let chain = open_dev_chain(dir.path());
    assert_eq!(chain.best(), (1, b1.hash), "restarts at the last written block");
    assert_eq!(chain.block(&b1.hash).unwrap().unwrap().header, b1.header);
    assert_eq!(
        chain.receipt(&r1.tx_hash).unwrap(),
        Some(r1),
        "committed receipts intact"
    );
    assert_eq!(chain.hash_at(2).unwrap(), None, "nothing of the crashed block");
    assert_eq!(chain.receipt(&h2).unwrap(), None);
    assert_eq!(nonce(&chain, alice), 1);
    assert_continues(&chain, alice, 1);
    scenario.teardown();
}

#[test]
fn a_crash_after_the_write_restarts_at_that_block() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let alice = &keyring()[0];
    let chain = open_dev_chain(dir.path());
    let (_, r1) = first_block(&chain);
    let h2 = submit(&chain, 1, 2 * UNIT);
    assert!(
        produce_with_fault(&chain, AFTER_WRITE, "panic(crash after write)").is_none(),
        "the commit crashed"
    );
    drop(chain);

    let chain = open_dev_chain(dir.path());
    let (head, head_hash) = chain.best();
    assert_eq!(head, 2, "the written batch is the head");
    let block = chain.block(&head_hash).unwrap().expect("its body");
    assert_eq!(
        block.transactions.iter().map(|t| t.hash()).collect::<Vec<_>>(),
        vec![h2]
    );
    let r2 = chain.receipt(&h2).unwrap().expect("its receipt");
    assert_eq!((r2.block_number, r2.outcome), (2, TxOutcome::Success));
    assert_eq!(chain.receipt(&r1.tx_hash).unwrap(), Some(r1));
    assert_eq!(chain.finalized().unwrap(), (2, head_hash));
    assert_eq!(nonce(&chain, alice), 2);
    assert_continues(&chain, alice, 2);
    scenario.teardown();
}

/// Many blocks, a fault at every third commit, alternating point and kind; the chain is reopened
/// after each crash. At the end the chain holds exactly the blocks whose batch was written.
#[test]
fn repeated_faults_during_production_leave_a_chain_that_replays() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let alice = &keyring()[0];
    let mut chain = open_dev_chain(dir.path());
    let mut written = 0u64;
    for round in 0..12u64 {
        let n = nonce(&chain, alice);
        let h = submit(&chain, n, UNIT + round as u128);
        let fault = match round % 6 {
            2 => Some((BEFORE_WRITE, "panic(crash)", false)),
            5 => Some((AFTER_WRITE, "panic(crash)", true)),
            _ => None,
        };
        let landed = match fault {
            None => {
                let b = chain
                    .produce_block(chain.best_header().close_time + 1, true, false)
                    .unwrap()
                    .expect("a block");
                assert_eq!(b.header.number, written + 1);
                true
            }
            Some((point, action, lands)) => {
                assert!(produce_with_fault(&chain, point, action).is_none());
                drop(chain);
                chain = open_dev_chain(dir.path());
                lands
            }
        };
        written += landed as u64;
        assert_eq!(chain.best().0, written, "round {round}");
        assert_eq!(chain.receipt(&h).unwrap().is_some(), landed, "round {round}");
        assert_eq!(nonce(&chain, alice), n + landed as u64, "round {round}");
    }
    assert_continues(&chain, alice, written);
    scenario.teardown();
}

/// A commit that wrote its batch and then reported an error: the chain must not go on from the
/// head it had in memory (it would build a second #2 over state that already holds the first,
/// and the chain would no longer replay).
#[test]
fn an_error_after_the_write_keeps_memory_and_disk_agreed() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let alice = &keyring()[0];
    let chain = open_dev_chain(dir.path());
    first_block(&chain);
    let h2 = submit(&chain, 1, 2 * UNIT);
    let err = produce_with_fault(&chain, AFTER_WRITE, "return(fsync failed)")
        .expect("an error, not a panic")
        .unwrap_err();
    assert!(matches!(err, ChainError::Store(StoreError::Injected(_))), "{err}");
    // Production goes on (or refuses); whatever it does, block #2 and the receipts agree and
    // the chain replays, also after a reopen.
    let _ = chain.produce_block(3_000, true, true);
    let check = |chain: &Chain| {
        let r2 = chain.receipt(&h2).unwrap().expect("the written block's receipt");
        let hash = chain.hash_at(r2.block_number).unwrap().expect("its block");
        let block = chain.block(&hash).unwrap().unwrap();
        assert!(
            block.transactions.iter().any(|t| t.hash() == h2),
            "block #{} holds the transaction its receipt names",
            r2.block_number
        );
        assert_replays(chain);
    };
    check(&chain);
    drop(chain);
    let chain = open_dev_chain(dir.path());
    check(&chain);
    assert_continues(&chain, alice, chain.best().0);
    scenario.teardown();
}
