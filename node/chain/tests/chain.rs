//! The chain client end to end in-process: blocks through the wasm runtime, the same blocks
//! natively, every kind of bad transaction, import of foreign blocks, a trapping runtime, and
//! restart from disk.

use parity_scale_codec::{Compact, Encode};
use std::sync::Arc;
use watt_chain::test_utils::{dev_spec, keyring, open_dev_chain, open_dev_chain_with, transfer, transfer_bytes};
use watt_chain::{Chain, ChainConfig, ChainError, ChainEvent, SubmitError};
use watt_executor::{MemoryBackend, StateSession};
use watt_primitives::abi::{ApplyBlockInput, ChainContext, Query, QueryResult};
use watt_primitives::{fee_pool_account, AccountId, Balance, SignedTransaction, TxError, TxOutcome, UNIT};
use watt_store::Store;
use watt_txpool::PoolError;

fn account(chain: &Chain, who: &AccountId) -> (Balance, u64) {
    match chain.query(&Query::Account(*who)).unwrap() {
        QueryResult::Account(a) => (a.free, a.nonce),
        other => panic!("unexpected {other:?}"),
    }
}

fn fee_pool(chain: &Chain) -> Balance {
    account(chain, &fee_pool_account()).0
}

fn invalid(r: Result<watt_primitives::Hash, SubmitError>) -> TxError {
    match r {
        Err(SubmitError::Pool(PoolError::Invalid(e))) => e,
        other => panic!("expected an invalid transaction, got {other:?}"),
    }
}

#[test]
fn transfers_move_balances_and_fees_reach_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let (alice, bob) = (&keys[0], keys[1].account());
    let g = chain.genesis_hash();
    let (alice_before, _) = account(&chain, &alice.account());
    let (bob_before, _) = account(&chain, &bob);
    assert_eq!(alice_before, 1_000_000 * UNIT);

    let h1 = chain.submit(&transfer_bytes(g, alice, bob, 5 * UNIT, 0)).unwrap();
    let h2 = chain.submit(&transfer_bytes(g, alice, bob, 7 * UNIT, 1)).unwrap();
    assert_eq!(chain.pending().len(), 2);
    let block = chain.produce_block(1_000, true, false).unwrap().expect("a block");
    assert_eq!(block.tx_hashes, vec![h1, h2]);
    assert!(chain.pending().is_empty(), "included transactions leave the pool");

    let r1 = chain.receipt(&h1).unwrap().unwrap();
    let r2 = chain.receipt(&h2).unwrap().unwrap();
    assert_eq!(r1.outcome, TxOutcome::Success);
    assert_eq!((r1.block_number, r1.index, r2.index), (1, 0, 1));
    let fees = r1.fee_paid + r2.fee_paid;
    assert!(r1.fee_paid > 0);
    assert_eq!(account(&chain, &alice.account()), (alice_before - 12 * UNIT - fees, 2));
    assert_eq!(account(&chain, &bob).0, bob_before + 12 * UNIT);
    assert_eq!(fee_pool(&chain), fees, "every fee goes to the fee pool");
}

#[test]
fn a_failing_call_still_pays_its_fee_and_leaves_a_failed_receipt() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let g = chain.genesis_hash();
    let (bob_before, _) = account(&chain, &keys[1].account());
    // More than Alice has: the call fails, the fee is still taken.
    let h = chain
        .submit(&transfer_bytes(g, &keys[0], keys[1].account(), 10_000_000 * UNIT, 0))
        .unwrap();
    chain.produce_block(1_000, true, false).unwrap();
    let r = chain.receipt(&h).unwrap().unwrap();
    match &r.outcome {
        TxOutcome::Failed(e) => assert_eq!(e.to_string(), "balances::InsufficientBalance"),
        other => panic!("expected failure, got {other:?}"),
    }
    assert_eq!(account(&chain, &keys[0].account()), (1_000_000 * UNIT - r.fee_paid, 1));
    assert_eq!(account(&chain, &keys[1].account()).0, bob_before);
    assert_eq!(fee_pool(&chain), r.fee_paid);
}

#[test]
fn bad_transactions_are_refused_with_reasons_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let (alice, bob) = (&keys[0], keys[1].account());
    let g = chain.genesis_hash();
    // Use nonce 0 so "too low" can be tested.
    chain.submit(&transfer_bytes(g, alice, bob, UNIT, 0)).unwrap();
    chain.produce_block(1_000, true, false).unwrap();
    let root_before = chain.best_header().state_root;
    let alice_before = account(&chain, &alice.account());

    // Malformed SCALE.
    assert_eq!(invalid(chain.submit(&[1, 2, 3])), TxError::BadEncoding);
    let mut trailing = transfer_bytes(g, alice, bob, UNIT, 1);
    trailing.push(0);
    assert_eq!(invalid(chain.submit(&trailing)), TxError::BadEncoding);
    // Bad signature.
    let mut forged = transfer(g, alice, bob, UNIT, 1, 0);
    forged.signature[5] ^= 1;
    assert_eq!(invalid(chain.submit(&forged.encode())), TxError::BadSignature);
    // Signed by someone else.
    let mut stolen = transfer(g, &keys[2], bob, UNIT, 1, 0);
    stolen.tx.signer = alice.account();
    assert_eq!(invalid(chain.submit(&stolen.encode())), TxError::BadSignature);
    // Wrong genesis.
    assert!(matches!(
        invalid(chain.submit(&transfer_bytes([7; 32], alice, bob, UNIT, 1))),
        TxError::WrongGenesis { .. }
    ));
    // Nonce too low and too high.
    assert_eq!(
        invalid(chain.submit(&transfer_bytes(g, alice, bob, UNIT, 0))),
        TxError::StaleNonce { expected: 1, got: 0 }
    );
    assert_eq!(
        invalid(chain.submit(&transfer_bytes(g, alice, bob, UNIT, 5))),
        TxError::FutureNonce { expected: 1, got: 5 }
    );
    // Balance too small for the fee: a fresh key with nothing.
    let (pauper, _) = watt_client::Keypair::generate();
    assert!(matches!(
        invalid(chain.submit(&transfer_bytes(g, &pauper, bob, 1, 0))),
        TxError::CannotPayFee { free: 0, .. }
    ));
    // Oversized: a remark beyond the 64 KiB transaction limit.
    let big = watt_client::sign(
        alice,
        1,
        0,
        g,
        &watt_runtime::RuntimeCall::System(watt_runtime::pallet_system::Call::Remark { data: vec![0; 70_000] }),
    );
    assert!(matches!(
        invalid(chain.submit(&big.encode())),
        TxError::TooLarge { max: 65_536, .. }
    ));
    // A call the runtime does not know.
    let mut unknown = transfer(g, alice, bob, UNIT, 1, 0);
    unknown.tx.call = vec![9, 9, 9];
    unknown.signature = alice.sign(&unknown.tx.signing_payload());
    assert_eq!(invalid(chain.submit(&unknown.encode())), TxError::BadCall);

    assert!(chain.pending().is_empty());
    assert_eq!(
        chain
            .produce_block(2_000, true, false)
            .unwrap()
            .map(|b| b.header.number),
        None
    );
    assert_eq!(chain.best_header().state_root, root_before);
    assert_eq!(account(&chain, &alice.account()), alice_before);
}

#[test]
fn duplicates_and_replacements_in_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let g = chain.genesis_hash();
    let bob = keys[1].account();
    let first = transfer(g, &keys[0], bob, UNIT, 0, 1).encode();
    chain.submit(&first).unwrap();
    assert!(matches!(
        chain.submit(&first),
        Err(SubmitError::Pool(PoolError::AlreadyImported))
    ));
    let cheaper = transfer(g, &keys[0], bob, 2 * UNIT, 0, 1).encode();
    assert!(matches!(
        chain.submit(&cheaper),
        Err(SubmitError::Pool(PoolError::TipTooLow { pending_tip: 1 }))
    ));
    let mut events = chain.subscribe();
    let better = transfer(g, &keys[0], bob, 3 * UNIT, 0, 5).encode();
    let better_hash = chain.submit(&better).unwrap();
    match events.try_recv().unwrap() {
        ChainEvent::Dropped { reason, .. } => assert!(reason.contains("replaced")),
        other => panic!("expected a drop, got {other:?}"),
    }
    let b = chain.produce_block(1_000, true, false).unwrap().unwrap();
    assert_eq!(b.tx_hashes, vec![better_hash]);
}

/// Applies `block` natively on `state`, returning the state root computed in `store`.
fn apply_natively(
    state: &mut MemoryBackend,
    store: &Store,
    ctx: &ChainContext,
    block: &watt_primitives::Block,
) -> [u8; 32] {
    let input = ApplyBlockInput {
        chain: ctx.clone(),
        number: block.header.number,
        parent_hash: block.header.parent_hash,
        close_time: block.header.close_time,
        transactions: block.transactions.clone(),
    };
    let session = StateSession::new(Arc::new(state.clone()));
    let (session, _out) = watt_support::externalities::execute_with(session, || watt_runtime::api::apply_block(input));
    let changes = session.into_changes().unwrap();
    state.apply(&changes);
    let tree = store.prepare_state(&changes, block.header.number).unwrap();
    let root = tree.root;
    store
        .commit_block(
            &watt_primitives::Block {
                header: watt_primitives::Header {
                    state_root: root,
                    ..block.header.clone()
                },
                transactions: vec![],
            },
            &[],
            &changes,
            tree,
            true,
        )
        .unwrap();
    root
}

#[test]
fn native_and_wasm_execution_reach_the_same_state_roots() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let g = chain.genesis_hash();

    // Native genesis.
    let native_dir = tempfile::tempdir().unwrap();
    let native_store = Store::open(native_dir.path()).unwrap();
    let config = dev_spec().genesis_config().unwrap();
    let session = StateSession::new(Arc::new(MemoryBackend::default()));
    let (session, ()) = watt_support::externalities::execute_with(session, || watt_runtime::api::build_genesis(config));
    let genesis_changes = session.into_changes().unwrap();
    let mut native = MemoryBackend::default();
    native.apply(&genesis_changes);
    let tree = native_store.prepare_state(&genesis_changes, 0).unwrap();
    let genesis_header = chain.header(&g).unwrap().unwrap();
    assert_eq!(tree.root, genesis_header.state_root, "genesis roots agree");
    native_store
        .commit_block(
            &watt_primitives::Block {
                header: genesis_header,
                transactions: vec![],
            },
            &[],
            &genesis_changes,
            tree,
            true,
        )
        .unwrap();

    let ctx = ChainContext { genesis_hash: g };
    let mut nonces = vec![0u64; keys.len()];
    for round in 0..5u64 {
        for (i, from) in keys.iter().enumerate() {
            let to = keys[(i + 1 + round as usize) % keys.len()].account();
            // Every third one overdraws and fails; all pay fees.
            let amount = if (i as u64 + round) % 3 == 0 {
                10_000_000 * UNIT
            } else {
                (round as u128 + 1) * UNIT
            };
            chain.submit(&transfer_bytes(g, from, to, amount, nonces[i])).unwrap();
            nonces[i] += 1;
        }
        let imported = chain.produce_block(1_000 * (round + 1), true, false).unwrap().unwrap();
        let block = chain.block(&imported.hash).unwrap().unwrap();
        assert_eq!(block.transactions.len(), keys.len());
        let native_root = apply_natively(&mut native, &native_store, &ctx, &block);
        assert_eq!(
            native_root, block.header.state_root,
            "block {} diverged",
            block.header.number
        );
    }
}

#[test]
fn blocks_import_on_a_second_node_and_tampered_ones_are_refused() {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let producer = open_dev_chain(d1.path());
    let follower = open_dev_chain(d2.path());
    assert_eq!(producer.genesis_hash(), follower.genesis_hash());
    let keys = keyring();
    let g = producer.genesis_hash();
    producer
        .submit(&transfer_bytes(g, &keys[0], keys[3].account(), 3 * UNIT, 0))
        .unwrap();
    let b1 = producer.produce_block(5_000, true, false).unwrap().unwrap();
    let block = producer.block(&b1.hash).unwrap().unwrap();

    let mut lying = block.clone();
    lying.header.state_root[0] ^= 1;
    assert!(matches!(follower.import_block(lying, true), Err(ChainError::InvalidBlock(m)) if m.contains("state root")));
    let mut forged = block.clone();
    forged.transactions[0].signature[0] ^= 1;
    assert!(matches!(follower.import_block(forged, true), Err(ChainError::InvalidBlock(m)) if m.contains("invalid")));
    assert_eq!(follower.best().0, 0, "refused blocks leave no trace");

    let imported = follower.import_block(block.clone(), true).unwrap();
    assert_eq!(imported.hash, b1.hash);
    assert_eq!(
        account(&follower, &keys[3].account()),
        account(&producer, &keys[3].account())
    );
    assert!(
        matches!(follower.import_block(block, true), Err(ChainError::InvalidBlock(_))),
        "no re-import"
    );
}

/// A runtime that links and exports the ABI but traps on every entry point.
const TRAPPING_RUNTIME: &str = r#"
(module
  (memory (export "memory") 2)
  (func (export "watt_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "watt_apply_block") (param i32 i32) (result i64) unreachable)
  (func (export "watt_query") (param i32 i32) (result i64) unreachable)
  (func (export "watt_validate_transaction") (param i32 i32) (result i64) unreachable)
  (func (export "watt_version") (param i32 i32) (result i64) unreachable))
"#;

#[test]
fn a_trapping_runtime_refuses_blocks_and_the_chain_stays_usable() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keyring();
    let (head, alice_raw) = {
        let chain = open_dev_chain(dir.path());
        chain
            .submit(&transfer_bytes(
                chain.genesis_hash(),
                &keys[0],
                keys[1].account(),
                UNIT,
                0,
            ))
            .unwrap();
        chain.produce_block(1_000, true, false).unwrap();
        let key = watt_runtime::pallet_balances::Free::key(&keys[0].account());
        (chain.best(), chain.storage(&key, None).unwrap())
    };
    let config = ChainConfig {
        code_override: Some(TRAPPING_RUNTIME.as_bytes().to_vec()),
        ..Default::default()
    };
    let chain = open_dev_chain_with(dir.path(), config);
    let err = chain.produce_block(2_000, true, true).unwrap_err();
    assert!(
        matches!(err, ChainError::Exec(watt_executor::ExecError::Trap { .. })),
        "{err}"
    );
    assert_eq!(chain.best(), head, "nothing committed");
    // Queries that need the runtime fail cleanly; raw reads still work.
    assert!(chain.query(&Query::FeePool).is_err());
    let key = watt_runtime::pallet_balances::Free::key(&keys[0].account());
    assert_eq!(chain.storage(&key, None).unwrap(), alice_raw);
    drop(chain);
    // With the real runtime again, production resumes on the same head.
    let chain = open_dev_chain(dir.path());
    assert_eq!(chain.best(), head);
    assert_eq!(
        chain.produce_block(3_000, true, true).unwrap().unwrap().header.number,
        head.0 + 1
    );
}

#[test]
fn state_is_served_at_old_blocks_and_proofs_verify() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let g = chain.genesis_hash();
    let bob_key = watt_runtime::pallet_balances::Free::key(&keys[1].account());
    let before = chain.storage(&bob_key, None).unwrap();
    chain
        .submit(&transfer_bytes(g, &keys[0], keys[1].account(), UNIT, 0))
        .unwrap();
    let b1 = chain.produce_block(1_000, true, false).unwrap().unwrap();
    let after = chain.storage(&bob_key, None).unwrap();
    assert_ne!(before, after);
    assert_eq!(
        chain.storage(&bob_key, Some(g)).unwrap(),
        before,
        "genesis state still readable"
    );
    let (at, proofs) = chain.read_proof(&[bob_key.clone(), b"nope".to_vec()], None).unwrap();
    assert_eq!(at, b1.hash);
    watt_client::proof::verify_proof(&b1.header.state_root, &proofs[0]).unwrap();
    watt_client::proof::verify_proof(&b1.header.state_root, &proofs[1]).unwrap();
    assert_eq!(proofs[0].value, after);
    assert_eq!(proofs[1].value, None);
    let decoded: Balance = parity_scale_codec::Decode::decode(&mut &after.unwrap()[..]).unwrap();
    assert_eq!(decoded, 1_000_001 * UNIT);
    // Read-only calls are limited to read-only entries.
    assert!(matches!(
        chain.call_read_only("watt_apply_block", &[], None),
        Err(ChainError::BadRequest(_))
    ));
}

#[test]
fn restart_resumes_at_the_last_committed_block() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keyring();
    let (best, bob) = {
        let chain = open_dev_chain(dir.path());
        let g = chain.genesis_hash();
        for n in 0..3 {
            chain
                .submit(&transfer_bytes(g, &keys[0], keys[1].account(), UNIT, n))
                .unwrap();
            chain.produce_block(1_000 + n, true, false).unwrap();
        }
        (chain.best(), account(&chain, &keys[1].account()))
    };
    let chain = open_dev_chain(dir.path());
    assert_eq!(chain.best(), best);
    assert_eq!(chain.finalized().unwrap(), best);
    assert_eq!(account(&chain, &keys[1].account()), bob);
    assert_eq!(account(&chain, &keys[0].account()).1, 3);
}

#[test]
fn a_database_of_another_chain_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    drop(open_dev_chain(dir.path()));
    let mut other = dev_spec();
    other.genesis.balances.truncate(1);
    match Chain::open(dir.path(), &other, ChainConfig::default()) {
        Err(e @ ChainError::GenesisMismatch { .. }) => assert!(e.to_string().contains("--base-path")),
        Err(e) => panic!("wrong error {e}"),
        Ok(_) => panic!("opened a database of another chain"),
    }
}

#[test]
fn keep_alive_and_existential_deposit_through_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let g = chain.genesis_hash();
    let (fresh, _) = watt_client::Keypair::generate();
    // Below the existential deposit (0.01 WATT): refused at dispatch, fee paid.
    let call = watt_runtime::RuntimeCall::Balances(watt_runtime::pallet_balances::Call::Transfer {
        dest: fresh.account(),
        value: Compact(UNIT / 1000),
    });
    let h = chain
        .submit(&watt_client::sign(&keys[0], 0, 0, g, &call).encode())
        .unwrap();
    chain.produce_block(1_000, true, false).unwrap();
    match chain.receipt(&h).unwrap().unwrap().outcome {
        TxOutcome::Failed(e) => assert_eq!(e.error, "ExistentialDeposit"),
        o => panic!("{o:?}"),
    }
    let everything = account(&chain, &keys[1].account()).0;
    let keep_alive = watt_client::sign(
        &keys[1],
        0,
        0,
        g,
        &watt_client::transfer_call(fresh.account(), everything, true),
    );
    let h = chain.submit(&keep_alive.encode()).unwrap();
    chain.produce_block(2_000, true, false).unwrap();
    assert!(
        matches!(chain.receipt(&h).unwrap().unwrap().outcome, TxOutcome::Failed(e) if e.error == "InsufficientBalance" || e.error == "KeepAlive")
    );
    let _unused: SignedTransaction = keep_alive;
}
