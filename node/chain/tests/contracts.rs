//! Contracts through the wasm runtime on a dev chain (the node's sandbox host functions and
//! the runtime's `watt_sandbox_env` re-entry), checked against the native runtime block by
//! block: both builds must reach the same state roots.

use parity_scale_codec::Encode;
use std::sync::Arc;
use watt_chain::test_utils::{dev_spec, keyring, open_dev_chain};
use watt_chain::Chain;
use watt_client::{sign, Keypair};
use watt_executor::contract_engine::{ContractEngine, ContractEngineConfig};
use watt_executor::{ContractSandbox, MemoryBackend, NativeSandbox, StateSession};
use watt_primitives::abi::{ApplyBlockInput, ChainContext, Query, QueryResult};
use watt_primitives::contracts::{CallRequest, ExecResult};
use watt_primitives::{AccountId, Receipt, TxOutcome};
use watt_runtime::pallet_contracts::Call;
use watt_runtime::RuntimeCall;

const PROBE: &str = include_str!("../../../runtime/tests/contracts/probe.wat");
const GAS: u64 = 20_000_000;

fn submit(chain: &Chain, key: &Keypair, nonce: u64, call: Call) {
    let tx = sign(key, nonce, 0, chain.genesis_hash(), &RuntimeCall::Contracts(call));
    chain.submit(&tx.encode()).unwrap();
}

fn receipts(chain: &Chain, number: u64) -> Vec<Receipt> {
    let hash = chain.hash_at(number).unwrap().unwrap();
    let block = chain.block(&hash).unwrap().unwrap();
    block
        .transactions
        .iter()
        .map(|t| {
            chain
                .receipt(&watt_primitives::blake2_256(&t.encode()))
                .unwrap()
                .unwrap()
        })
        .collect()
}

fn dry_call(chain: &Chain, origin: AccountId, dest: AccountId, input: Vec<u8>) -> ExecResult {
    match chain
        .query(&Query::ContractCall(CallRequest {
            origin,
            dest,
            value: 0,
            gas_limit: Some(GAS),
            storage_deposit_limit: None,
            input,
        }))
        .unwrap()
    {
        QueryResult::ContractExec(r) => r,
        other => panic!("unexpected {other:?}"),
    }
}

fn address(deployer: &AccountId, code: &[u8], salt: &[u8]) -> AccountId {
    let code_hash = watt_primitives::blake2_256(code);
    AccountId(watt_primitives::blake2_256(
        &watt_primitives::contracts::address_preimage(deployer, &code_hash, salt),
    ))
}

/// Submits one instantiation of `code` per salt (the signer's nonces from 0); their addresses.
fn instantiate_each(chain: &Chain, key: &Keypair, code: &[u8], salts: &[Vec<u8>]) -> Vec<AccountId> {
    for (nonce, salt) in salts.iter().enumerate() {
        submit(
            chain,
            key,
            nonce as u64,
            Call::InstantiateWithCode {
                value: 0,
                gas_limit: GAS,
                storage_deposit_limit: None,
                code: code.to_vec(),
                data: vec![],
                salt: salt.clone(),
            },
        );
    }
    salts.iter().map(|salt| address(&key.account(), code, salt)).collect()
}

#[test]
fn contracts_run_identically_through_the_wasm_and_the_native_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let alice = &keys[0];
    let code = wat::parse_str(PROBE).unwrap();
    let deployed = instantiate_each(&chain, alice, &code, &[b"a".to_vec(), b"b".to_vec()]);
    let (a, b) = (deployed[0], deployed[1]);
    let mut nonce = 2;
    let mut next = || {
        nonce += 1;
        nonce - 1
    };
    chain.produce_block(1_000, true, false).unwrap().unwrap();
    let deployed = receipts(&chain, 1);
    assert!(deployed.iter().all(|r| r.outcome == TxOutcome::Success), "{deployed:?}");

    let call_b = |inner: Vec<u8>| [vec![4], b.0.to_vec(), inner].concat();
    let calls: Vec<(Vec<u8>, bool)> = vec![
        (call_b(vec![7, 5]), true),                              // A -> B stores 5
        (call_b(vec![8, 6]), true),                              // A -> B stores 6 and traps: A goes on
        ([vec![3], vec![1; 64], b"ev".to_vec()].concat(), true), // an event
        (vec![0], false),                                        // a loop: out of gas
        (vec![1], false),                                        // recursion: trapped
    ];
    for (input, _) in &calls {
        submit(
            &chain,
            alice,
            next(),
            Call::Call {
                dest: a,
                value: 0,
                gas_limit: GAS,
                storage_deposit_limit: None,
                data: input.clone(),
            },
        );
    }
    chain.produce_block(2_000, true, false).unwrap().unwrap();
    let outcomes: Vec<bool> = receipts(&chain, 2)
        .iter()
        .map(|r| r.outcome == TxOutcome::Success)
        .collect();
    assert_eq!(outcomes, calls.iter().map(|(_, ok)| *ok).collect::<Vec<_>>());
    // B holds 5: the trapping callee's write was undone; A's call result says so.
    let r = dry_call(&chain, alice.account(), b, vec![9]);
    assert_eq!(r.result.unwrap().data, vec![5]);
    let r = dry_call(&chain, alice.account(), a, call_b(vec![8, 6]));
    assert_eq!(r.result.unwrap().data, 1u32.to_le_bytes().to_vec(), "CALLEE_TRAPPED");

    // The same blocks natively, with the node's sandbox as the native twin, under two native
    // stacks 12x apart: the stack limit is counted in wasm values, so the recursion traps at the
    // same depth with the same gas whatever the machine gives it.
    let mut state = MemoryBackend::default();
    for native_stack in [128 * 1024, 1536 * 1024] {
        let engine = ContractEngine::new(ContractEngineConfig {
            max_wasm_stack: native_stack,
            ..ContractEngineConfig::default()
        })
        .unwrap();
        watt_support::sandbox::set_host(Some(Arc::new(NativeSandbox::new(Arc::new(ContractSandbox::new(
            Arc::new(engine),
        ))))));
        let config = dev_spec().genesis_config().unwrap();
        let session = StateSession::new(Arc::new(MemoryBackend::default()));
        let (session, ()) =
            watt_support::externalities::execute_with(session, || watt_runtime::api::build_genesis(config));
        state = MemoryBackend::default();
        state.apply(&session.into_changes().unwrap());
        let ctx = ChainContext {
            genesis_hash: chain.genesis_hash(),
        };
        for number in 1..=2 {
            let hash = chain.hash_at(number).unwrap().unwrap();
            let block = chain.block(&hash).unwrap().unwrap();
            let input = ApplyBlockInput {
                chain: ctx.clone(),
                number,
                parent_hash: block.header.parent_hash,
                close_time: block.header.close_time,
                author: block.header.author,
                transactions: block.transactions.clone(),
            };
            let session = StateSession::new(Arc::new(state.clone()));
            let (session, out) =
                watt_support::externalities::execute_with(session, || watt_runtime::api::apply_block(input));
            let out = out.expect("a committed block is within the chain's size limits");
            state.apply(&session.into_changes().unwrap());
            let native: Vec<Receipt> = out
                .results
                .into_iter()
                .map(|r| match r {
                    watt_primitives::abi::ApplyResult::Included(r) => r,
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(
                native,
                receipts(&chain, number),
                "block {number} under a {native_stack}-byte native stack: receipts (gas refunds included) agree"
            );
            assert_eq!(
                watt_primitives::events_root(&out.events),
                block.header.events_root,
                "block {number}: events agree"
            );
        }
    }
    // Same state: every key the native run wrote reads the same through the chain.
    let head = chain.hash_at(2).unwrap().unwrap();
    for (key, value) in state.0.iter() {
        assert_eq!(
            chain.storage(key, Some(head)).unwrap().as_ref(),
            Some(value),
            "key {key:?}"
        );
    }
}

/// Eight nested contracts (the deepest call stack), each calling the next from the bottom of a
/// recursion as deep as the deterministic stack limit allows: the runtime's stack budget holds
/// all of them and their relays, so the block applies and every level succeeds (a runtime trap
/// here would fail the whole block on every node).
#[test]
fn the_deepest_call_stack_with_every_contract_stack_full_fits_the_runtime() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let alice = &keys[0];
    let code = wat::parse_str(include_str!("contracts/deep.wat")).unwrap();
    let levels = 8usize;
    let salts: Vec<Vec<u8>> = (0..levels as u8).map(|i| vec![i]).collect();
    let addrs = instantiate_each(&chain, alice, &code, &salts);
    chain.produce_block(1_000, true, false).unwrap().unwrap();
    let input = |r: u32, chain_of: &[AccountId]| {
        let mut v = r.to_le_bytes().to_vec();
        v.push(chain_of.len() as u8);
        for a in chain_of {
            v.extend_from_slice(&a.0);
        }
        v
    };
    // The deepest recursion, by hand from deep.wat and the rule (a frame is 8 + parameters +
    // locals + the deepest operand stack, in wasm values): `call` 8 + 0 + 0 + 3 = 11, each `$r`
    // 8 + 1 + 8 + 2 = 19, `$next` at the bottom 8 + 0 + 2 + 7 = 17. Recursion R holds R + 1
    // frames of `$r`: 11 + 19 * 214 + 17 = 4,094 fits the 4,096 limit, R = 214 does not.
    let limit = watt_primitives::sandbox::ContractVm::default().max_stack_height;
    assert_eq!(limit, 4_096, "the figures above are for the default limit");
    let r = 213u32;
    let survives = |r: u32| {
        dry_call(&chain, alice.account(), addrs[0], input(r, &[]))
            .result
            .is_ok()
    };
    assert!(survives(r), "{r} levels fit the limit");
    assert!(!survives(r + 1), "{} levels pass it", r + 1);
    let outcome = dry_call(&chain, alice.account(), addrs[0], input(r, &addrs[1..]));
    assert_eq!(
        outcome.result.unwrap().data,
        0u32.to_le_bytes().to_vec(),
        "every level succeeded"
    );
    // As a transaction, in a block.
    submit(
        &chain,
        alice,
        levels as u64,
        Call::Call {
            dest: addrs[0],
            value: 0,
            gas_limit: GAS,
            storage_deposit_limit: None,
            data: input(r, &addrs[1..]),
        },
    );
    chain.produce_block(2_000, true, false).unwrap().unwrap();
    assert_eq!(receipts(&chain, 2)[0].outcome, TxOutcome::Success);
}

/// Governance moves contracts to an engine this node does not have: the node does not execute
/// the next contract call with its own engine (that could give another result than the chain's);
/// the block fails on this node with an error that says what to do, and nothing is committed.
#[test]
fn a_chain_on_another_contract_engine_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let alice = &keys[0];
    let addrs = instantiate_each(&chain, alice, &wat::parse_str(PROBE).unwrap(), &[b"p".to_vec()]);
    chain.produce_block(1_000, true, false).unwrap().unwrap();
    let mut schedule = watt_runtime::pallet_contracts::Schedule::default();
    schedule.vm.engine = "wasmtime-99.0.0/watt-vm-9".into();
    let set = RuntimeCall::Contracts(Call::SetSchedule { schedule });
    let sudo = RuntimeCall::Sudo(watt_runtime::pallet_sudo::Call::Sudo { call: Box::new(set) });
    chain
        .submit(&sign(alice, 1, 0, chain.genesis_hash(), &sudo).encode())
        .unwrap();
    chain.produce_block(2_000, true, false).unwrap().unwrap();
    assert_eq!(
        receipts(&chain, 2)[0].outcome,
        TxOutcome::Success,
        "Root set the schedule"
    );
    let head = chain.best().0;
    submit(
        &chain,
        alice,
        2,
        Call::Call {
            dest: addrs[0],
            value: 0,
            gas_limit: GAS,
            storage_deposit_limit: None,
            data: vec![9],
        },
    );
    let produced = chain.produce_block(3_000, true, false);
    let why = match produced {
        Err(e) => format!("{e:#}"),
        Ok(b) => panic!(
            "the block was built with a call run on another engine than the chain's: {:?}",
            b.map(|b| b.hash)
        ),
    };
    assert!(
        why.contains("wasmtime-99.0.0/watt-vm-9") && why.contains("upgrade the node"),
        "{why}"
    );
    assert_eq!(chain.best().0, head, "nothing committed");
}
