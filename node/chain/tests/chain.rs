//! The chain client end to end in-process: blocks through the wasm runtime, the same blocks
//! natively, every kind of bad transaction, import of foreign blocks, a trapping runtime, and
//! restart from disk.

use parity_scale_codec::{Decode, Encode};
use std::sync::Arc;
use watt_chain::test_utils::{
    commit_native, dev_spec, keyring, open_dev_chain, open_dev_chain_with, transfer, transfer_bytes,
};
use watt_chain::{Chain, ChainConfig, ChainError, ChainEvent, SubmitError};
use watt_executor::{MemoryBackend, StateSession};
use watt_primitives::abi::{ApplyBlockInput, ChainContext, ChainParams, Query, QueryResult};
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

/// What `who` has bonded as pledge (the dev spec bonds Alice's validator minimum at genesis).
fn bonded(chain: &Chain, who: &AccountId) -> Balance {
    match chain.query(&Query::Pledge(*who)).unwrap() {
        QueryResult::Pledge(p) => p.bonded,
        other => panic!("unexpected {other:?}"),
    }
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
    let pledge = bonded(&chain, &alice.account());
    assert!(pledge > 0, "the dev spec bonds Alice's validator pledge");
    assert_eq!(alice_before, 1_000_000 * UNIT - pledge);

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
    let (alice_before, _) = account(&chain, &keys[0].account());
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
    assert_eq!(account(&chain, &keys[0].account()), (alice_before - r.fee_paid, 1));
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
        author: block.header.author,
        transactions: block.transactions.clone(),
    };
    let session = StateSession::new(Arc::new(state.clone()));
    let (session, out) = watt_support::externalities::execute_with(session, || watt_runtime::api::apply_block(input));
    out.expect("a committed block is within the chain's size limits");
    let changes = session.into_changes().unwrap();
    state.apply(&changes);
    commit_native(store, &block.header, &changes)
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
    let genesis_header = chain.header(&g).unwrap().unwrap();
    assert_eq!(
        commit_native(&native_store, &genesis_header, &genesis_changes),
        genesis_header.state_root,
        "genesis roots agree"
    );

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
    let keys = keyring();
    // The producer signs its blocks as Ferdie; the follower (default config) has no author of
    // its own, and re-executes with the header's.
    let producer = open_dev_chain_with(
        d1.path(),
        ChainConfig {
            author: keys[5].account(),
            ..Default::default()
        },
    );
    let follower = open_dev_chain(d2.path());
    assert_eq!(producer.genesis_hash(), follower.genesis_hash());
    let g = producer.genesis_hash();
    producer
        .submit(&transfer_bytes(g, &keys[0], keys[3].account(), 3 * UNIT, 0))
        .unwrap();
    let b1 = producer.produce_block(5_000, true, false).unwrap().unwrap();
    assert_eq!(b1.header.author, keys[5].account(), "the configured author");
    let block = producer.block(&b1.hash).unwrap().unwrap();
    let events = producer.events(1).unwrap().expect("events stored with block #1");
    assert_eq!(b1.header.events_root, watt_primitives::events_root(&events));

    let mut lying = block.clone();
    lying.header.events_root[0] ^= 1;
    assert!(
        matches!(follower.import_block(lying, true, None), Err(ChainError::InvalidBlock(m)) if m.contains("events root"))
    );

    let mut lying = block.clone();
    lying.header.state_root[0] ^= 1;
    assert!(
        matches!(follower.import_block(lying, true, None), Err(ChainError::InvalidBlock(m)) if m.contains("state root"))
    );
    let mut forged = block.clone();
    forged.transactions[0].signature[0] ^= 1;
    assert!(
        matches!(follower.import_block(forged, true, None), Err(ChainError::InvalidBlock(m)) if m.contains("transaction root"))
    );
    assert_eq!(follower.best().0, 0, "refused blocks leave no trace");

    let imported = follower.import_block(block.clone(), true, None).unwrap();
    assert_eq!(imported.hash, b1.hash);
    assert_eq!(imported.header.author, keys[5].account());
    assert_eq!(follower.events(1).unwrap(), Some(events), "the same events, stored");
    assert_eq!(
        account(&follower, &keys[3].account()),
        account(&producer, &keys[3].account())
    );
    assert!(
        matches!(
            follower.import_block(block, true, None),
            Err(ChainError::InvalidBlock(_))
        ),
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

/// The chain parameters, read from the runtime.
fn params(chain: &Chain) -> ChainParams {
    match chain.query(&Query::Params).unwrap() {
        QueryResult::Params(p) => p,
        other => panic!("unexpected {other:?}"),
    }
}

/// The fee of `stx` by the documented rule (README, `runtime/src/fees.rs`): base + per byte of
/// the encoded transaction + per unit of the call's weight + tip. Written out here so the tests
/// do not take the runtime's word for it.
fn documented_fee(p: &ChainParams, stx: &SignedTransaction) -> Balance {
    let weight = watt_runtime::pallet_balances::TRANSFER_WEIGHT as Balance;
    p.base_fee + p.byte_fee * stx.encode().len() as Balance + p.weight_fee * weight + stx.tx.tip
}

/// A transfer (plain or keep-alive) of whatever amount leaves the sender exactly `left` after
/// the transfer and its fee, given the sender's `free` balance now.
fn transfer_leaving(
    chain: &Chain,
    from: &watt_client::Keypair,
    nonce: u64,
    to: AccountId,
    free: Balance,
    left: Balance,
    keep_alive: bool,
) -> (SignedTransaction, Balance, Balance) {
    let p = params(chain);
    let g = chain.genesis_hash();
    // The fee depends on the encoded length, which depends (a little) on the amount: settle it.
    let mut amount = free - left;
    for _ in 0..3 {
        let stx = watt_client::sign(from, nonce, 0, g, &watt_client::transfer_call(to, amount, keep_alive));
        let fee = documented_fee(&p, &stx);
        if amount == free - fee - left {
            return (stx, amount, fee);
        }
        amount = free - fee - left;
    }
    panic!("transfer amount did not settle");
}

fn total_issuance(chain: &Chain) -> Balance {
    let raw = chain
        .storage(watt_runtime::pallet_balances::TotalIssuance::key(), None)
        .unwrap()
        .expect("genesis writes the total issuance");
    Balance::decode(&mut &raw[..]).unwrap()
}

/// The sum of the balances of `accounts` and of the keyless accounts the runtime holds funds
/// in (fee pool, rewards pot, storage pool, team reserve, bonded pledges).
fn sum_of_balances(chain: &Chain, accounts: &[AccountId]) -> Balance {
    let modules = [
        fee_pool_account(),
        watt_primitives::rewards_pot_account(),
        watt_primitives::storage_pool_account(),
        watt_primitives::team_reserve_account(),
        watt_primitives::pledge_account(),
    ];
    accounts
        .iter()
        .chain(&modules)
        .map(|a| account(chain, a).0)
        .sum::<Balance>()
}

fn balances_events(receipt: &watt_primitives::Receipt) -> Vec<watt_runtime::pallet_balances::Event> {
    receipt
        .events
        .iter()
        .filter_map(|e| match watt_runtime::RuntimeEvent::decode(&mut &e[..]).unwrap() {
            watt_runtime::RuntimeEvent::Balances(b) => Some(b),
            _ => None,
        })
        .collect()
}

fn failed_with(receipt: &watt_primitives::Receipt) -> Option<String> {
    match &receipt.outcome {
        TxOutcome::Failed(e) => Some(e.to_string()),
        TxOutcome::Skipped(e) => panic!("a dev-engine block skips nothing, got a skipped receipt: {e}"),
        TxOutcome::Success => None,
    }
}

#[test]
fn a_transfer_may_not_create_an_account_below_the_existential_deposit() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let g = chain.genesis_hash();
    let ed = params(&chain).existential_deposit;
    let (fresh, _) = watt_client::Keypair::generate();
    let below = watt_client::sign(
        &keys[0],
        0,
        0,
        g,
        &watt_client::transfer_call(fresh.account(), ed - 1, false),
    );
    let at = watt_client::sign(
        &keys[0],
        1,
        0,
        g,
        &watt_client::transfer_call(fresh.account(), ed, false),
    );
    let (h_below, h_at) = (
        chain.submit(&below.encode()).unwrap(),
        chain.submit(&at.encode()).unwrap(),
    );
    chain.produce_block(1_000, true, false).unwrap();
    let r = chain.receipt(&h_below).unwrap().unwrap();
    assert_eq!(failed_with(&r).as_deref(), Some("balances::ExistentialDeposit"));
    // One unit more is allowed: the refusal above is about the ED, not the account being new.
    assert_eq!(failed_with(&chain.receipt(&h_at).unwrap().unwrap()), None);
    assert_eq!(account(&chain, &fresh.account()).0, ed);
}

#[test]
fn keep_alive_is_refused_exactly_when_the_transfer_would_reap_the_sender() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let ed = params(&chain).existential_deposit;
    assert!(ed >= 2, "the dev chain has a real existential deposit");
    let (bob, charlie, dave) = (&keys[1], &keys[2], &keys[3]);
    let free = account(&chain, &bob.account()).0;
    assert_eq!(free, account(&chain, &charlie.account()).0);
    assert_eq!(free, account(&chain, &dave.account()).0);
    let dests: Vec<AccountId> = (0..3).map(|_| watt_client::Keypair::generate().0.account()).collect();

    // Bob: keep-alive leaving him ED/2 after the fee. Affordable, but it would reap him.
    let (bob_tx, amount, bob_fee) = transfer_leaving(&chain, bob, 0, dests[0], free, ed / 2, true);
    // Charlie: the same amount by a plain transfer: allowed, and he is reaped.
    let charlie_tx = watt_client::sign(
        charlie,
        0,
        0,
        chain.genesis_hash(),
        &watt_client::transfer_call(dests[1], amount, false),
    );
    let charlie_fee = documented_fee(&params(&chain), &charlie_tx);
    assert_eq!(charlie_fee, bob_fee, "same length, same fee");
    // Dave: keep-alive leaving exactly the ED: allowed, he survives with the ED.
    let (dave_tx, _, dave_fee) = transfer_leaving(&chain, dave, 0, dests[2], free, ed, true);

    let hashes: Vec<_> = [&bob_tx, &charlie_tx, &dave_tx]
        .iter()
        .map(|t| chain.submit(&t.encode()).unwrap())
        .collect();
    let block = chain.produce_block(1_000, true, false).unwrap().unwrap();
    assert_eq!(block.tx_hashes, hashes, "all three included");
    let receipts: Vec<_> = hashes.iter().map(|h| chain.receipt(h).unwrap().unwrap()).collect();

    assert_eq!(failed_with(&receipts[0]).as_deref(), Some("balances::KeepAlive"));
    assert_eq!(receipts[0].fee_paid, bob_fee);
    assert_eq!(
        account(&chain, &bob.account()),
        (free - bob_fee, 1),
        "refused: only the fee left"
    );
    assert_eq!(account(&chain, &dests[0]).0, 0);

    assert_eq!(failed_with(&receipts[1]), None);
    assert_eq!(
        account(&chain, &charlie.account()),
        (0, 1),
        "reaped; the nonce survives"
    );
    assert_eq!(account(&chain, &dests[1]).0, amount);
    assert!(
        balances_events(&receipts[1]).contains(&watt_runtime::pallet_balances::Event::Reaped {
            account: charlie.account(),
            dust: ed / 2
        })
    );

    assert_eq!(failed_with(&receipts[2]), None);
    assert_eq!(account(&chain, &dave.account()), (ed, 1));

    assert_eq!(
        fee_pool(&chain),
        bob_fee + charlie_fee + dave_fee + ed / 2,
        "fees and Charlie's dust"
    );
}

#[test]
fn reaping_sends_dust_to_the_fee_pool_keeps_the_nonce_and_issuance() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let g = chain.genesis_hash();
    let ed = params(&chain).existential_deposit;
    let (alice, eve) = (&keys[0], &keys[4]);
    let (receiver, _) = watt_client::Keypair::generate();
    let (frugal, _) = watt_client::Keypair::generate();
    let mut everyone: Vec<AccountId> = keys.iter().map(|k| k.account()).collect();
    everyone.extend([receiver.account(), frugal.account()]);
    let issuance = total_issuance(&chain);
    assert_eq!(sum_of_balances(&chain, &everyone), issuance, "genesis");

    // Eve sends all but a third of the ED (after the fee) to a new account: she is reaped.
    let dust = ed / 3;
    let eve_free = account(&chain, &eve.account()).0;
    let (eve_tx, amount, eve_fee) = transfer_leaving(&chain, eve, 0, receiver.account(), eve_free, dust, false);
    let h = chain.submit(&eve_tx.encode()).unwrap();
    chain.produce_block(1_000, true, false).unwrap().unwrap();
    let r = chain.receipt(&h).unwrap().unwrap();
    assert_eq!(failed_with(&r), None);
    assert_eq!(r.fee_paid, eve_fee);
    assert!(
        balances_events(&r).contains(&watt_runtime::pallet_balances::Event::Reaped {
            account: eve.account(),
            dust
        })
    );
    let eve_key = watt_runtime::pallet_balances::Free::key(&eve.account());
    assert_eq!(
        chain.storage(&eve_key, None).unwrap(),
        None,
        "the balance record is gone"
    );
    assert_eq!(
        account(&chain, &eve.account()),
        (0, 1),
        "the nonce outlives the account"
    );
    assert_eq!(account(&chain, &receiver.account()).0, amount);
    assert_eq!(fee_pool(&chain), eve_fee + dust, "the dust joins the fee");
    assert_eq!(total_issuance(&chain), issuance);
    assert_eq!(sum_of_balances(&chain, &everyone), issuance, "nothing created or lost");

    // A fee can reap too: an account funded with its fee plus half the ED sends more than it
    // has; the fee leaves it below the ED, so it is reaped and the call fails.
    let probe = watt_client::sign(
        &frugal,
        0,
        0,
        g,
        &watt_client::transfer_call(alice.account(), UNIT, false),
    );
    let frugal_fee = documented_fee(&params(&chain), &probe);
    let funding = frugal_fee + ed / 2;
    assert!(funding >= ed, "the funding creates the account");
    let fund = watt_client::sign(
        alice,
        0,
        0,
        g,
        &watt_client::transfer_call(frugal.account(), funding, false),
    );
    // Eve is refunded too (above the ED), so her account exists again with her old nonce.
    let refund = watt_client::sign(alice, 1, 0, g, &watt_client::transfer_call(eve.account(), UNIT, false));
    chain.submit(&fund.encode()).unwrap();
    chain.submit(&refund.encode()).unwrap();
    chain.produce_block(2_000, true, false).unwrap().unwrap();
    assert_eq!(account(&chain, &frugal.account()).0, funding);
    assert_eq!(account(&chain, &eve.account()), (UNIT, 1));
    let pool_before = fee_pool(&chain);
    let h = chain.submit(&probe.encode()).unwrap();
    chain.produce_block(3_000, true, false).unwrap().unwrap();
    let r = chain.receipt(&h).unwrap().unwrap();
    assert_eq!(failed_with(&r).as_deref(), Some("balances::InsufficientBalance"));
    assert_eq!(r.fee_paid, frugal_fee);
    assert_eq!(account(&chain, &frugal.account()), (0, 1));
    assert_eq!(fee_pool(&chain), pool_before + frugal_fee + ed / 2, "fee and dust");
    assert_eq!(sum_of_balances(&chain, &everyone), issuance);
    assert_eq!(total_issuance(&chain), issuance);

    // Replaying Eve's first transaction is refused by its nonce, at the pool and at import,
    // although she can afford it again.
    assert_eq!(
        invalid(chain.submit(&eve_tx.encode())),
        TxError::StaleNonce { expected: 1, got: 0 }
    );
    let head = chain.best_header();
    let replay = watt_primitives::Block {
        header: watt_primitives::Header {
            parent_hash: head.hash(),
            number: head.number + 1,
            close_time: head.close_time + 1_000,
            ..head.clone()
        },
        transactions: vec![eve_tx],
    };
    // At import the replayed transaction would be skipped (an agreed block keeps its list and
    // skips what is invalid at its turn), so a header claiming it changed anything is refused.
    match chain.import_block(replay, true, None) {
        Err(ChainError::InvalidBlock(m)) => assert!(m.contains("root mismatch"), "{m}"),
        other => panic!("replay imported: {other:?}"),
    }
    assert_eq!(chain.best_header(), head);
    assert_eq!(account(&chain, &eve.account()), (UNIT, 1));
}

/// A producer's blocks #1 and #2 (transfers in each), and a follower holding block #1.
struct ImportSetup {
    _dirs: (tempfile::TempDir, tempfile::TempDir),
    follower: Arc<Chain>,
    b1: watt_primitives::Block,
    b2: watt_primitives::Block,
}

fn import_setup() -> ImportSetup {
    let (d1, d2) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let producer = open_dev_chain(d1.path());
    let follower = open_dev_chain(d2.path());
    let keys = keyring();
    let g = producer.genesis_hash();
    let mut blocks = Vec::new();
    for (n, close_time) in [(0u64, 5_000), (1, 6_000)] {
        for (i, k) in keys.iter().enumerate().take(3) {
            producer
                .submit(&transfer_bytes(g, k, keys[i + 3].account(), UNIT, n))
                .unwrap();
        }
        let b = producer.produce_block(close_time, true, false).unwrap().unwrap();
        blocks.push(producer.block(&b.hash).unwrap().unwrap());
    }
    let b2 = blocks.pop().unwrap();
    let b1 = blocks.pop().unwrap();
    follower.import_block(b1.clone(), true, None).unwrap();
    ImportSetup {
        _dirs: (d1, d2),
        follower,
        b1,
        b2,
    }
}

/// Everything a refused import must leave as it was.
#[derive(Debug, PartialEq)]
struct Snapshot {
    best: (u64, [u8; 32]),
    header: watt_primitives::Header,
    finalized: (u64, [u8; 32]),
    next: Option<[u8; 32]>,
    accounts: Vec<(Balance, u64)>,
    pool: Balance,
    receipts: Vec<bool>,
}

fn snapshot(chain: &Chain, b2: &watt_primitives::Block) -> Snapshot {
    let keys = keyring();
    let best = chain.best();
    Snapshot {
        best,
        header: chain.best_header(),
        finalized: chain.finalized().unwrap(),
        next: chain.hash_at(best.0 + 1).unwrap(),
        accounts: keys.iter().map(|k| account(chain, &k.account())).collect(),
        pool: fee_pool(chain),
        receipts: b2
            .transactions
            .iter()
            .map(|t| chain.receipt(&t.hash()).unwrap().is_some())
            .collect(),
    }
}

#[test]
fn import_refuses_wrong_tx_root_parent_number_and_close_time_and_changes_nothing() {
    let s = import_setup();
    let chain = &s.follower;
    let before = snapshot(chain, &s.b2);
    assert_eq!(before.best.0, 1);
    assert_eq!(before.header.close_time, 5_000);

    type Tamper = fn(&mut watt_primitives::Block, &watt_primitives::Block);
    let cases: [(&str, Tamper, &str); 10] = [
        ("tx root changed", |b, _| b.header.tx_root[0] ^= 1, "transaction root"),
        (
            "transactions reordered",
            |b, _| b.transactions.swap(0, 1),
            "transaction root",
        ),
        (
            "a transaction left out",
            |b, _| {
                b.transactions.pop();
            },
            "transaction root",
        ),
        (
            "unknown parent",
            |b, _| b.header.parent_hash = [9; 32],
            "does not extend",
        ),
        // A real block, but not the head: #2 built on genesis instead of #1.
        (
            "parent is not the head",
            |b, b1| b.header.parent_hash = b1.header.parent_hash,
            "does not extend",
        ),
        ("number skips ahead", |b, _| b.header.number = 3, "does not extend"),
        (
            "number repeats the head's",
            |b, _| b.header.number = 1,
            "does not extend",
        ),
        (
            "close time equals the parent's",
            |b, b1| b.header.close_time = b1.header.close_time,
            "close time",
        ),
        (
            "close time before the parent's",
            |b, b1| b.header.close_time = b1.header.close_time - 1,
            "close time",
        ),
        ("close time zero", |b, _| b.header.close_time = 0, "close time"),
    ];
    for (what, tamper, reason) in cases {
        let mut bad = s.b2.clone();
        tamper(&mut bad, &s.b1);
        match chain.import_block(bad, true, None) {
            Err(ChainError::InvalidBlock(m)) => {
                assert!(m.contains(reason), "{what}: refused for `{m}`, expected `{reason}`")
            }
            other => panic!("{what}: expected a refusal, got {other:?}"),
        }
        assert_eq!(snapshot(chain, &s.b2), before, "{what}: a refused block left a trace");
    }
    // The untampered block still imports: the refusals above were about the tampering.
    let imported = chain.import_block(s.b2.clone(), true, None).unwrap();
    assert_eq!(imported.hash, s.b2.header.hash());
    assert_eq!(chain.best(), (2, s.b2.header.hash()));
}

#[test]
fn paying_the_fee_pool_everything_but_dust_loses_nothing() {
    // The pool is then both the receiver and the taker of the sender's dust.
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let ed = params(&chain).existential_deposit;
    let everyone: Vec<AccountId> = keys.iter().map(|k| k.account()).collect();
    let issuance = total_issuance(&chain);
    let dave = &keys[3];
    let free = account(&chain, &dave.account()).0;
    let (tx, _, _) = transfer_leaving(&chain, dave, 0, fee_pool_account(), free, ed / 2, false);
    let h = chain.submit(&tx.encode()).unwrap();
    chain.produce_block(1_000, true, false).unwrap().unwrap();
    assert_eq!(failed_with(&chain.receipt(&h).unwrap().unwrap()), None);
    assert_eq!(account(&chain, &dave.account()), (0, 1));
    assert_eq!(fee_pool(&chain), free, "amount, fee and dust: all of Dave's balance");
    assert_eq!(sum_of_balances(&chain, &everyone), issuance);
}
