//! The contracts pallet through the native runtime and the node's real contract sandbox
//! (`watt_executor::NativeSandbox`): WAT contracts written against `pallets/contracts/ABI.md`.

mod common;

use common::{chain_params, economy_params, events, Key, TestChain, START};
use parity_scale_codec::Encode;
use std::sync::Arc;
use watt_executor::contract_engine::{ContractEngine, ContractEngineConfig};
use watt_executor::{ContractSandbox, NativeSandbox};
use watt_primitives::abi::{ApplyResult, ChainParams, Query, QueryResult};
use watt_primitives::contracts::{CallRequest, CodeSource, ExecResult, InstantiateRequest, StorageDeposit};
use watt_primitives::{AccountId, Balance, TxOutcome};
use watt_runtime::pallet_contracts::{self, Call, Schedule};
use watt_runtime::{api, RuntimeCall, RuntimeEvent};

const GAS: u64 = 50_000_000;

fn install_sandbox() {
    let engine = ContractEngine::new(ContractEngineConfig::default()).expect("engine");
    let sandbox = Arc::new(ContractSandbox::new(Arc::new(engine)));
    watt_support::sandbox::set_host(Some(Arc::new(NativeSandbox::new(sandbox))));
}

fn wasm(path: &str) -> Vec<u8> {
    let text = std::fs::read_to_string(format!("{}/tests/contracts/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap();
    wat::parse_str(text).unwrap()
}

struct Env {
    chain: TestChain,
    alice: Key,
    bob: Key,
}

fn setup_with(params: ChainParams) -> Env {
    install_sandbox();
    let alice = Key::new("Alice");
    let bob = Key::new("Bob");
    let chain = TestChain::new(
        &[alice.account(), bob.account()],
        alice.account(),
        Key::new("Team").account(),
        economy_params(),
        params,
        false,
    );
    let mut chain = chain;
    chain.with(|| pallet_contracts::ScheduleOf::put(&test_schedule()));
    Env { chain, alice, bob }
}

/// The default costs, with deposits the test accounts can pay.
fn test_schedule() -> Schedule {
    Schedule {
        deposit_per_item: 1_000,
        deposit_per_byte: 10,
        ..Schedule::default()
    }
}

fn setup() -> Env {
    setup_with(chain_params())
}

fn contracts(call: Call) -> RuntimeCall {
    RuntimeCall::Contracts(call)
}

fn blake2(data: &[u8]) -> [u8; 32] {
    use blake2::digest::{Update, VariableOutput};
    let mut h = blake2::Blake2bVar::new(32).unwrap();
    h.update(data);
    let mut out = [0u8; 32];
    h.finalize_variable(&mut out).unwrap();
    out
}

impl Env {
    fn deploy(&mut self, code: Vec<u8>, salt: &[u8]) -> AccountId {
        let code_hash = blake2(&code);
        let mut preimage = b"watt:contract".to_vec();
        preimage.extend_from_slice(&self.alice.account().0);
        preimage.extend_from_slice(&code_hash);
        preimage.extend_from_slice(salt);
        let expected = AccountId(blake2(&preimage));
        let out = self.chain.run(vec![(
            &self.alice,
            contracts(Call::InstantiateWithCode {
                value: 0,
                gas_limit: GAS,
                storage_deposit_limit: None,
                code,
                data: vec![],
                salt: salt.to_vec(),
            }),
        )]);
        assert!(
            events(&out).contains(&RuntimeEvent::Contracts(pallet_contracts::Event::Instantiated {
                deployer: self.alice.account(),
                contract: expected,
            }))
        );
        expected
    }

    fn dry_call(&mut self, dest: AccountId, input: Vec<u8>, gas_limit: Option<u64>) -> ExecResult {
        let origin = self.alice.account();
        // As a node runs queries: on a throwaway overlay (here, a transaction rolled back).
        let answer = self.chain.with(|| {
            watt_support::host::with_transaction(|| {
                Err::<(), _>(api::query(Query::ContractCall(CallRequest {
                    origin,
                    dest,
                    value: 0,
                    gas_limit,
                    storage_deposit_limit: None,
                    input,
                })))
            })
            .unwrap_err()
        });
        match answer {
            QueryResult::ContractExec(r) => r,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// Submits a call signed by Bob (or Alice) with a gas limit; returns the receipt's outcome.
    fn call_by(&mut self, bob: bool, dest: AccountId, input: Vec<u8>, gas_limit: u64) -> TxOutcome {
        let key = if bob { &self.bob } else { &self.alice };
        let tx = self.chain.sign(
            key,
            contracts(Call::Call {
                dest,
                value: 0,
                gas_limit,
                storage_deposit_limit: None,
                data: input,
            }),
        );
        let out = self.chain.block(vec![tx]);
        match &out.results[0] {
            ApplyResult::Included(r) => r.outcome.clone(),
            ApplyResult::Invalid(e) => panic!("invalid: {e}"),
        }
    }

    /// Submits a call; returns the receipt's outcome.
    fn call(&mut self, dest: AccountId, value: Balance, input: Vec<u8>) -> TxOutcome {
        let tx = self.chain.sign(
            &self.alice,
            contracts(Call::Call {
                dest,
                value,
                gas_limit: GAS,
                storage_deposit_limit: None,
                data: input,
            }),
        );
        let out = self.chain.block(vec![tx]);
        match &out.results[0] {
            ApplyResult::Included(r) => r.outcome.clone(),
            ApplyResult::Invalid(e) => panic!("invalid: {e}"),
        }
    }
}

fn ok_data(r: &ExecResult) -> Vec<u8> {
    match &r.result {
        Ok(ret) => {
            assert!(!ret.reverted, "reverted: {r:?}");
            ret.data.clone()
        }
        Err(e) => panic!("failed: {e} ({})", String::from_utf8_lossy(&r.debug_message)),
    }
}

fn failed_with(outcome: &TxOutcome, error: &str) {
    match outcome {
        TxOutcome::Failed(e) => assert_eq!((e.module.as_str(), e.error.as_str()), ("contracts", error)),
        other => panic!("expected contracts::{error}, got {other:?}"),
    }
}

#[test]
fn counter_deploys_counts_and_pays_its_storage_deposit() {
    let mut env = setup();
    let before = env.chain.free(&env.alice.account());
    let code = wasm("counter.wat");
    let code_len = code.len() as Balance;
    let addr = env.deploy(code, b"");
    let s = test_schedule();
    // Code: one item plus its bytes. Counter storage: one item, key "n" (1) + value (8).
    let expected_deposit =
        s.deposit_per_item + s.deposit_per_byte * code_len + s.deposit_per_item + s.deposit_per_byte * 9;
    assert_eq!(
        before - env.chain.free(&env.alice.account()),
        common::FEE + expected_deposit + env.chain.params.existential_deposit
    );
    assert_eq!(env.call(addr, 0, vec![]), TxOutcome::Success);
    assert_eq!(env.call(addr, 0, vec![]), TxOutcome::Success);
    let r = env.dry_call(addr, vec![], Some(GAS));
    assert_eq!(
        ok_data(&r),
        3u64.to_le_bytes().to_vec(),
        "two calls, then the dry-run's"
    );
    assert!(r.gas_used > 0 && r.gas_used < GAS);
    assert_eq!(
        r.storage_deposit,
        StorageDeposit::Charge(0),
        "same-size overwrite costs nothing"
    );
    // The dry-run changed nothing.
    assert_eq!(ok_data(&env.dry_call(addr, vec![], None)), 3u64.to_le_bytes().to_vec());
    let info = env.chain.with(|| pallet_contracts::contract_info(&addr)).unwrap();
    assert_eq!((info.storage_items, info.storage_bytes), (1, 9));
    assert_eq!(info.storage_deposit, s.deposit_per_item + 9 * s.deposit_per_byte);
}

#[test]
fn instantiating_twice_at_one_address_fails_and_another_salt_works() {
    let mut env = setup();
    let a = env.deploy(wasm("counter.wat"), b"one");
    let tx = env.chain.sign(
        &env.alice,
        contracts(Call::Instantiate {
            value: 0,
            gas_limit: GAS,
            storage_deposit_limit: None,
            code_hash: blake2(&wasm("counter.wat")),
            data: vec![],
            salt: b"one".to_vec(),
        }),
    );
    let out = env.chain.block(vec![tx]);
    let ApplyResult::Included(r) = &out.results[0] else {
        panic!()
    };
    failed_with(&r.outcome, "DuplicateContract");
    let b = env.deploy(wasm("counter.wat"), b"two");
    assert_ne!(a, b);
}

#[test]
fn an_infinite_loop_runs_out_of_gas_is_charged_all_of_it_and_the_chain_goes_on() {
    let mut params = chain_params();
    params.weight_fee = 1;
    let mut env = setup_with(params);
    let addr = env.deploy(wasm("probe.wat"), b"");
    let r = env.dry_call(addr, vec![0], Some(1_000_000));
    assert_eq!(r.gas_used, 1_000_000);
    assert_eq!(r.result.unwrap_err().error, "OutOfGas");
    let before = env.chain.free(&env.alice.account());
    failed_with(&env.call(addr, 0, vec![0]), "OutOfGas");
    let paid = before - env.chain.free(&env.alice.account());
    let weight = pallet_contracts::CALL_BASE_WEIGHT + GAS;
    assert!(
        paid >= common::FEE + weight as Balance,
        "the whole gas limit is paid: {paid}"
    );
    // The chain goes on: a later call works.
    assert_eq!(env.call(addr, 0, vec![7, 1]), TxOutcome::Success);
}

#[test]
fn unused_gas_is_refunded() {
    let mut params = chain_params();
    params.weight_fee = 1;
    let mut env = setup_with(params);
    let addr = env.deploy(wasm("counter.wat"), b"");
    let used = env.dry_call(addr, vec![], Some(GAS)).gas_used;
    let before = env.chain.free(&env.alice.account());
    assert_eq!(env.call(addr, 0, vec![]), TxOutcome::Success);
    let paid = before - env.chain.free(&env.alice.account());
    // Fee = base + weight_fee × (call base weight + gas used): the rest of the limit came back.
    assert_eq!(
        paid,
        common::FEE + (pallet_contracts::CALL_BASE_WEIGHT + used) as Balance
    );
}

#[test]
fn unbounded_recursion_traps_without_harming_the_node() {
    let mut env = setup();
    let addr = env.deploy(wasm("probe.wat"), b"");
    let r = env.dry_call(addr, vec![1], Some(GAS));
    assert_eq!(r.result.as_ref().unwrap_err().error, "ContractTrapped");
    // Where the native stack runs out depends on the machine: the whole limit is charged.
    assert_eq!(r.gas_used, GAS);
    assert!(String::from_utf8_lossy(&r.debug_message).contains("trapped"), "{r:?}");
    failed_with(&env.call(addr, 0, vec![1]), "ContractTrapped");
    assert_eq!(env.call(addr, 0, vec![7, 5]), TxOutcome::Success);
}

#[test]
fn memory_cannot_grow_past_its_declared_maximum() {
    let mut env = setup();
    let addr = env.deploy(wasm("probe.wat"), b"");
    // Declared 1..2 pages: one more page works, two more do not.
    assert_eq!(
        ok_data(&env.dry_call(addr, vec![2, 1], None)),
        1i32.to_le_bytes().to_vec()
    );
    assert_eq!(
        ok_data(&env.dry_call(addr, vec![2, 2], None)),
        (-1i32).to_le_bytes().to_vec()
    );
}

#[test]
fn a_trap_reports_the_contracts_debug_message_and_reverts_its_writes() {
    let mut env = setup();
    let addr = env.deploy(wasm("probe.wat"), b"");
    assert_eq!(env.call(addr, 0, vec![7, 42]), TxOutcome::Success);
    let r = env.dry_call(addr, vec![6], None);
    assert!(
        String::from_utf8_lossy(&r.debug_message).contains("probe says hello"),
        "{r:?}"
    );
    failed_with(&env.call(addr, 0, vec![8, 99]), "ContractTrapped");
    assert_eq!(ok_data(&env.dry_call(addr, vec![9], None)), vec![42]);
}

#[test]
fn events_carry_the_contracts_topics_into_the_block() {
    let mut env = setup();
    let addr = env.deploy(wasm("probe.wat"), b"");
    let mut input = vec![3];
    input.extend_from_slice(&[1u8; 32]);
    input.extend_from_slice(&[2u8; 32]);
    input.extend_from_slice(b"payload");
    let tx = env.chain.sign(
        &env.alice,
        contracts(Call::Call {
            dest: addr,
            value: 0,
            gas_limit: GAS,
            storage_deposit_limit: None,
            data: input.clone(),
        }),
    );
    let out = env.chain.block(vec![tx]);
    let record = out
        .events
        .iter()
        .find(|r| r.topics == vec![[1u8; 32], [2u8; 32]])
        .expect("an event with the contract's topics");
    let event: RuntimeEvent = parity_scale_codec::Decode::decode(&mut &record.event[..]).unwrap();
    assert_eq!(
        event,
        RuntimeEvent::Contracts(pallet_contracts::Event::ContractEmitted {
            contract: addr,
            topics: vec![[1u8; 32], [2u8; 32]],
            data: b"payload".to_vec(),
        })
    );
    let r = env.dry_call(addr, input, None);
    assert_eq!(r.events.len(), 1);
    assert_eq!(r.events[0].data, b"payload".to_vec());
}

fn call_input(callee: AccountId, inner: Vec<u8>) -> Vec<u8> {
    let mut v = vec![4];
    v.extend_from_slice(&callee.0);
    v.extend(inner);
    v
}

#[test]
fn a_failing_callee_reverts_only_its_own_frame() {
    let mut env = setup();
    let a = env.deploy(wasm("probe.wat"), b"a");
    let b = env.deploy(wasm("probe.wat"), b"b");
    // A calls B, which stores 5: success (code 0), B's storage changed.
    assert_eq!(env.call(a, 0, call_input(b, vec![7, 5])), TxOutcome::Success);
    assert_eq!(ok_data(&env.dry_call(b, vec![9], None)), vec![5]);
    // A calls B, which stores 6 then traps: A sees CALLEE_TRAPPED (1) and succeeds; B keeps 5.
    let r = env.dry_call(a, call_input(b, vec![8, 6]), None);
    assert_eq!(ok_data(&r), 1u32.to_le_bytes().to_vec());
    assert_eq!(env.call(a, 0, call_input(b, vec![8, 6])), TxOutcome::Success);
    assert_eq!(ok_data(&env.dry_call(b, vec![9], None)), vec![5]);
    // B reverts with data: CALLEE_REVERTED (2) and the data.
    let r = env.dry_call(a, call_input(b, vec![5, 0xAB, 0xCD]), None);
    assert_eq!(ok_data(&r), [2u32.to_le_bytes().to_vec(), vec![0xAB, 0xCD]].concat());
    // Calling an account that holds no contract: NOT_A_CONTRACT (6).
    let r = env.dry_call(a, call_input(env.bob.account(), vec![9]), None);
    assert_eq!(ok_data(&r), 6u32.to_le_bytes().to_vec());
}

#[test]
fn reentrancy_is_denied_and_the_stack_depth_is_bounded() {
    let mut env = setup();
    let a = env.deploy(wasm("probe.wat"), b"a");
    let b = env.deploy(wasm("probe.wat"), b"b");
    // A -> B -> A: B's call into A is refused with REENTRANCE_DENIED (10).
    let r = env.dry_call(a, call_input(b, call_input(a, vec![9])), None);
    assert_eq!(
        ok_data(&r),
        [0u32.to_le_bytes().to_vec(), 10u32.to_le_bytes().to_vec()].concat()
    );
    // A -> A directly, too.
    let r = env.dry_call(a, call_input(a, vec![9]), None);
    assert_eq!(ok_data(&r), 10u32.to_le_bytes().to_vec());
    // A chain of distinct contracts: the frame past the maximum depth gets MAX_DEPTH (9).
    let depth = test_schedule().max_call_depth as usize;
    let chain: Vec<AccountId> = (0..=depth)
        .map(|i| env.deploy(wasm("probe.wat"), &[b'c', i as u8]))
        .collect();
    let mut input = vec![9];
    for callee in chain[1..].iter().rev() {
        input = call_input(*callee, input);
    }
    let out = ok_data(&env.dry_call(chain[0], input, None));
    // Every frame returns its callee's code first: depth-1 successes, then MAX_DEPTH.
    let codes: Vec<u32> = out
        .chunks(4)
        .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
        .collect();
    assert_eq!(codes.len(), depth);
    assert!(codes[..depth - 1].iter().all(|c| *c == 0), "{codes:?}");
    assert_eq!(codes[depth - 1], 9);
}

#[test]
fn value_moves_with_calls_and_terminate_pays_out_the_balance_and_refunds_the_deposit() {
    let mut env = setup();
    let addr = env.deploy(wasm("probe.wat"), b"");
    let bob = env.bob.account();
    assert_eq!(env.call(addr, 10_000, vec![7, 1, 2, 3]), TxOutcome::Success);
    let ed = env.chain.params.existential_deposit;
    assert_eq!(env.chain.free(&addr), ed + 10_000, "the endowment plus the value");
    // The contract sends 2,500 to Bob.
    let mut input = vec![11];
    input.extend_from_slice(&bob.0);
    input.extend_from_slice(&2_500u128.to_le_bytes());
    assert_eq!(
        ok_data(&env.dry_call(addr, input.clone(), None)),
        0u32.to_le_bytes().to_vec()
    );
    assert_eq!(env.call(addr, 0, input), TxOutcome::Success);
    assert_eq!(env.chain.free(&bob), START + 2_500);
    let info = env.chain.with(|| pallet_contracts::contract_info(&addr)).unwrap();
    assert!(info.storage_deposit > 0);
    let mut input = vec![10];
    input.extend_from_slice(&bob.0);
    let alice_before = env.chain.free(&env.alice.account());
    assert_eq!(env.call(addr, 0, input), TxOutcome::Success);
    // Bob gets the balance; the deposit goes back to Alice, who paid it.
    assert_eq!(env.chain.free(&bob), START + 2_500 + 7_500 + ed);
    assert_eq!(
        env.chain.free(&env.alice.account()),
        alice_before - common::FEE + info.storage_deposit
    );
    assert!(env.chain.with(|| pallet_contracts::contract_info(&addr)).is_none());
    let prefix = [pallet_contracts::CONTRACT_STORAGE_PREFIX, &addr.0[..]].concat();
    assert!(
        !env.chain.state().keys().any(|k| k.starts_with(&prefix)),
        "storage removed by the end of the block"
    );
    failed_with(&env.call(addr, 0, vec![9]), "NotAContract");
}

#[test]
fn the_storage_deposit_limit_is_enforced() {
    let mut env = setup();
    let addr = env.deploy(wasm("probe.wat"), b"");
    let tx = env.chain.sign(
        &env.alice,
        contracts(Call::Call {
            dest: addr,
            value: 0,
            gas_limit: GAS,
            storage_deposit_limit: Some(1),
            data: vec![7; 100],
        }),
    );
    let out = env.chain.block(vec![tx]);
    let ApplyResult::Included(r) = &out.results[0] else {
        panic!()
    };
    failed_with(&r.outcome, "StorageDepositLimitExhausted");
    assert_eq!(ok_data(&env.dry_call(addr, vec![9], None)), Vec::<u8>::new());
}

/// A dry-run instantiation of `code` as Alice would upload it.
fn dry_upload(env: &mut Env, code: Vec<u8>) -> ExecResult {
    let origin = env.alice.account();
    let r = env.chain.with(|| {
        api::query(Query::ContractInstantiate(InstantiateRequest {
            origin,
            value: 0,
            gas_limit: None,
            storage_deposit_limit: None,
            code: CodeSource::Upload(code),
            input: vec![],
            salt: vec![],
        }))
    });
    match r {
        QueryResult::ContractExec(r) => r,
        other => panic!("{other:?}"),
    }
}

#[test]
fn hostile_code_is_refused_at_upload() {
    let mut env = setup();
    let refused = |env: &mut Env, code: Vec<u8>, error: &str| {
        let tx = env.chain.sign(&env.alice, contracts(Call::UploadCode { code }));
        let out = env.chain.block(vec![tx]);
        let ApplyResult::Included(r) = &out.results[0] else {
            panic!()
        };
        failed_with(&r.outcome, error);
    };
    refused(&mut env, b"not wasm at all".to_vec(), "InvalidCode");
    // An import outside the ABI.
    let bad_import = wat::parse_str(
        r#"(module (import "env" "evil" (func)) (memory (export "memory") 1 1)
           (func (export "deploy")) (func (export "call")))"#,
    )
    .unwrap();
    refused(&mut env, bad_import, "InvalidCode");
    // Too many locals.
    let locals = wat::parse_str(
        r#"(module (memory (export "memory") 1 1) (func (export "deploy") (local i64 i64) (local i32) )
           (func (export "call") (local i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32
           i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32 i32
           ) (local i64) (local i64) (local i64)))"#
            .replace(
                ") (local i64) (local i64) (local i64)))",
                &format!(") (local {})))", "i64 ".repeat(1100)),
            ),
    )
    .unwrap();
    refused(&mut env, locals, "InvalidCode");
    // Memory without a maximum, and a start function.
    let unbounded =
        wat::parse_str(r#"(module (memory (export "memory") 1) (func (export "deploy")) (func (export "call")))"#)
            .unwrap();
    refused(&mut env, unbounded, "InvalidCode");
    let start = wat::parse_str(
        r#"(module (memory (export "memory") 1 1) (func $s) (start $s) (func (export "deploy")) (func (export "call")))"#,
    )
    .unwrap();
    refused(&mut env, start, "InvalidCode");
    // Over the schedule's code limit (announced by a chunked upload).
    let max = test_schedule().max_code_len;
    let tx = env.chain.sign(
        &env.alice,
        contracts(Call::UploadCodeChunk {
            code_hash: [0; 32],
            total_len: max + 1,
            offset: 0,
            chunk: vec![0; 1024],
        }),
    );
    let out = env.chain.block(vec![tx]);
    let ApplyResult::Included(r) = &out.results[0] else {
        panic!()
    };
    failed_with(&r.outcome, "CodeTooLarge");
    // An ABI function imported with another type.
    let mistyped = wat::parse_str(
        r#"(module (import "watt_v1" "set_storage" (func (param i32 i32)))
           (memory (export "memory") 1 1) (func (export "deploy")) (func (export "call")))"#,
    )
    .unwrap();
    refused(&mut env, mistyped.clone(), "InvalidCode");
    let r = dry_upload(&mut env, mistyped);
    let why = String::from_utf8_lossy(&r.debug_message).into_owned();
    assert!(
        why.contains("`watt_v1`.`set_storage` has type (i32, i32) -> ()")
            && why.contains("(i32, i32, i32, i32) -> (i32)"),
        "{why}"
    );
    // Shapes the ABI rules out that would be stored and then fail at every call: each is
    // refused at upload, and a dry-run names the rule.
    let ends = r#"(func (export "deploy")) (func (export "call"))"#;
    for (shape, rule) in [
        (
            format!(r#"(module (import "env" "memory" (memory 1 1)) (export "memory" (memory 0)) {ends})"#),
            "define its own memory",
        ),
        (format!("(module {ends})"), "defines no memory"),
        (
            format!(r#"(module (memory (export "mem") 1 1) {ends})"#),
            "not exported as `memory`",
        ),
        (
            r#"(module (memory (export "memory") 1 1) (global (export "deploy") i32 (i32.const 0)) (func (export "call")))"#
                .to_string(),
            "export `deploy` is a global",
        ),
        (
            r#"(module (memory (export "memory") 1 1) (func (export "deploy")) (func (export "call") (param i32)))"#
                .to_string(),
            "export `call` is a function of type",
        ),
        (
            format!(
                r#"(module (import "watt_v1" "caller" (func (param i32))) (import "watt_v1" "caller" (func (param i32)))
                   (memory (export "memory") 1 1) {ends})"#
            ),
            "appears more than once",
        ),
        (
            format!(r#"(module (memory (export "memory") 1 1) (data (i32.const 65535) "ab") {ends})"#),
            "past the memory's initial",
        ),
    ] {
        let code = wat::parse_str(&shape).unwrap();
        refused(&mut env, code.clone(), "InvalidCode");
        let r = dry_upload(&mut env, code);
        let why = String::from_utf8_lossy(&r.debug_message).into_owned();
        assert!(why.contains(rule), "{shape}: {why}");
    }
    // A dry-run says why.
    let r = dry_upload(&mut env, b"not wasm at all".to_vec());
    assert_eq!(r.result.unwrap_err().error, "InvalidCode");
    let why = String::from_utf8_lossy(&r.debug_message).into_owned();
    assert!(why.starts_with("invalid code: "), "{why}");
    // Nothing was stored.
    assert!(!env.chain.state().keys().any(|k| k.starts_with(b"contracts/code/")));
    // A contract with a table, an indirect call, data and many functions is not refused.
    let rich = wat::parse_str(
        r#"(module (import "watt_v1" "input" (func $input (param i32 i32) (result i32)))
           (memory (export "memory") 2 2) (table 4 4 funcref) (elem (i32.const 0) $a $b)
           (data (i32.const 0) "hello") (data (i32.const 65536) "world")
           (type $t (func (result i32)))
           (func $a (result i32) (i32.const 1)) (func $b (result i32) (i32.const 2))
           (func (export "deploy"))
           (func (export "call") (drop (call_indirect (type $t) (i32.const 1)))))"#,
    )
    .unwrap();
    let tx = env.chain.sign(&env.alice, contracts(Call::UploadCode { code: rich }));
    let out = env.chain.block(vec![tx]);
    let ApplyResult::Included(r) = &out.results[0] else {
        panic!()
    };
    assert_eq!(r.outcome, TxOutcome::Success, "a rich, valid contract is stored");
}

/// A valid contract of about `kib` KiB (a data segment).
fn big_contract(kib: usize) -> Vec<u8> {
    let data: String = "\\2a".repeat(kib * 1024);
    wat::parse_str(format!(
        r#"(module (import "watt_v1" "return_value" (func $ret (param i32 i32 i32)))
           (memory (export "memory") 4 4) (data (i32.const 0) "{data}")
           (func (export "deploy")) (func (export "call") (call $ret (i32.const 0) (i32.const 100) (i32.const 3))))"#
    ))
    .unwrap()
}

#[test]
fn code_larger_than_a_transaction_uploads_in_chunks() {
    let mut env = setup();
    let code = big_contract(150);
    assert!(code.len() > env.chain.params.max_tx_len as usize);
    let code_hash = blake2(&code);
    let total_len = code.len() as u32;
    let chunks: Vec<&[u8]> = code.chunks(60 * 1024).collect();
    // Out of order first: refused, nothing held.
    let tx = env.chain.sign(
        &env.alice,
        contracts(Call::UploadCodeChunk {
            code_hash,
            total_len,
            offset: 60 * 1024,
            chunk: chunks[1].to_vec(),
        }),
    );
    let out = env.chain.block(vec![tx]);
    let ApplyResult::Included(r) = &out.results[0] else {
        panic!()
    };
    failed_with(&r.outcome, "NoUpload");
    let mut offset = 0u32;
    for chunk in &chunks {
        let call = contracts(Call::UploadCodeChunk {
            code_hash,
            total_len,
            offset,
            chunk: chunk.to_vec(),
        });
        let tx = env.chain.sign(&env.alice, call);
        assert!(tx.encode().len() <= env.chain.params.max_tx_len as usize);
        let out = env.chain.block(vec![tx]);
        let ApplyResult::Included(r) = &out.results[0] else {
            panic!()
        };
        assert_eq!(r.outcome, TxOutcome::Success);
        offset += chunk.len() as u32;
    }
    let info = env
        .chain
        .with(|| pallet_contracts::code_info(&code_hash))
        .expect("stored");
    assert_eq!(info.len, total_len);
    env.chain.run(vec![(
        &env.alice,
        contracts(Call::Instantiate {
            value: 0,
            gas_limit: GAS,
            storage_deposit_limit: None,
            code_hash,
            data: vec![],
            salt: vec![],
        }),
    )]);
    let origin = env.alice.account();
    let addr = pallet_contracts_address(&origin, &code_hash);
    assert_eq!(ok_data(&env.dry_call(addr, vec![], None)), vec![0x2a; 3]);
}

fn pallet_contracts_address(deployer: &AccountId, code_hash: &[u8; 32]) -> AccountId {
    let mut preimage = b"watt:contract".to_vec();
    preimage.extend_from_slice(&deployer.0);
    preimage.extend_from_slice(code_hash);
    AccountId(blake2(&preimage))
}

#[test]
fn a_dry_run_instantiation_reports_the_address_and_the_deposit() {
    let mut env = setup();
    let origin = env.alice.account();
    let code = wasm("counter.wat");
    let code_hash = blake2(&code);
    let r = match env.chain.with(|| {
        api::query(Query::ContractInstantiate(InstantiateRequest {
            origin,
            value: 0,
            gas_limit: None,
            storage_deposit_limit: None,
            code: CodeSource::Upload(code),
            input: vec![],
            salt: vec![],
        }))
    }) {
        QueryResult::ContractExec(r) => r,
        other => panic!("{other:?}"),
    };
    assert!(r.result.is_ok(), "{r:?}");
    assert_eq!(r.address, Some(pallet_contracts_address(&origin, &code_hash)));
    let s = test_schedule();
    let code_len = wasm("counter.wat").len() as Balance;
    // The new account's endowment (the existential deposit) counts as deposit.
    let expected = 2 * s.deposit_per_item + s.deposit_per_byte * (code_len + 9) + env.chain.params.existential_deposit;
    assert_eq!(r.storage_deposit, StorageDeposit::Charge(expected));
}

#[test]
fn a_contract_being_deployed_is_a_contract_and_cannot_be_reentered() {
    // `deploy` calls the account given in its input with input [9]; the callee (a probe)
    // calls back the deploying contract: that call is refused as reentrance, not as
    // "not a contract".
    let mut env = setup();
    let probe = env.deploy(wasm("probe.wat"), b"p");
    let caller_back = wat::parse_str(
        r#"(module
          (import "watt_v1" "input" (func $input (param i32 i32) (result i32)))
          (import "watt_v1" "address" (func $address (param i32)))
          (import "watt_v1" "is_contract" (func $is (param i32) (result i32)))
          (import "watt_v1" "call" (func $call (param i32 i32 i32 i32 i64 i32 i32) (result i32)))
          (import "watt_v1" "set_storage" (func $set (param i32 i32 i32 i32) (result i32)))
          (import "watt_v1" "get_storage" (func $get (param i32 i32 i32 i32) (result i32)))
          (import "watt_v1" "return_value" (func $ret (param i32 i32 i32)))
          (memory (export "memory") 1 1)
          (data (i32.const 600) "k")
          (func (export "deploy")
            ;; input: the probe's address (32 bytes) at 0
            (i32.store (i32.const 200) (i32.const 32))
            (drop (call $input (i32.const 0) (i32.const 200)))
            ;; probe input at 100: [4] ++ own address ++ [9]  (probe calls us back with [9])
            (i32.store8 (i32.const 100) (i32.const 4))
            (call $address (i32.const 101))
            (i32.store8 (i32.const 133) (i32.const 9))
            (i32.store (i32.const 300) (i32.const 64))
            (drop (call $call (i32.const 0) (i32.const 512) (i32.const 100) (i32.const 34) (i64.const 0)
              (i32.const 304) (i32.const 300)))
            ;; keep is_contract(self) and the probe's answer (its call code first)
            (call $address (i32.const 400))
            (i32.store (i32.const 440) (call $is (i32.const 400)))
            (i32.store (i32.const 444) (i32.load (i32.const 304)))
            (drop (call $set (i32.const 600) (i32.const 1) (i32.const 440) (i32.const 8))))
          (func (export "call")
            (i32.store (i32.const 200) (i32.const 8))
            (drop (call $get (i32.const 600) (i32.const 1) (i32.const 440) (i32.const 200)))
            (call $ret (i32.const 0) (i32.const 440) (i32.const 8))))"#,
    )
    .unwrap();
    let code_hash = blake2(&caller_back);
    env.chain.run(vec![(
        &env.alice,
        contracts(Call::InstantiateWithCode {
            value: 0,
            gas_limit: GAS,
            storage_deposit_limit: None,
            code: caller_back,
            data: probe.0.to_vec(),
            salt: vec![],
        }),
    )]);
    let addr = pallet_contracts_address(&env.alice.account(), &code_hash);
    let seen = ok_data(&env.dry_call(addr, vec![], None));
    assert_eq!(&seen[..4], &1u32.to_le_bytes(), "is_contract(self) during deploy");
    assert_eq!(
        &seen[4..],
        &10u32.to_le_bytes(),
        "the probe's call back: REENTRANCE_DENIED"
    );
}

/// Emits `n` events of four topics and `len` bytes of data (input: `n`, `len` as u32 LE).
const EMITTER: &str = r#"(module
  (import "watt_v1" "input" (func $input (param i32 i32) (result i32)))
  (import "watt_v1" "deposit_event" (func $event (param i32 i32 i32 i32)))
  (memory (export "memory") 1 1)
  (func (export "deploy"))
  (func (export "call") (local $i i32)
    (i32.store (i32.const 0) (i32.const 64))
    (drop (call $input (i32.const 16) (i32.const 0)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (i32.load (i32.const 16))))
      (call $event (i32.const 1024) (i32.const 4) (i32.const 2048) (i32.load (i32.const 20)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))))"#;

#[test]
fn events_are_capped_per_transaction_by_count_and_by_bytes_with_their_topics() {
    let mut env = setup();
    let addr = env.deploy(wat::parse_str(EMITTER).unwrap(), b"");
    let s = test_schedule();
    assert_eq!((s.max_events_per_call, s.max_event_bytes_per_call), (1_024, 256 * 1024));
    let input = |n: u32, len: u32| [n.to_le_bytes(), len.to_le_bytes()].concat();
    // 1,024 events of four topics and no data: 128 KiB of topics, at the count limit.
    let r = env.dry_call(addr, input(1_024, 0), None);
    assert!(r.result.is_ok(), "{}", String::from_utf8_lossy(&r.debug_message));
    assert_eq!(r.events.len(), 1_024);
    // One more event is over the count.
    let r = env.dry_call(addr, input(1_025, 0), None);
    assert_eq!(r.result.unwrap_err().error, "ContractTrapped");
    assert!(String::from_utf8_lossy(&r.debug_message).contains("most events"));
    // 600 events of 320 bytes: 187.5 KiB of data (under 256 KiB on its own) but 262.5 KiB with
    // the 128 bytes of topics each.
    let r = env.dry_call(addr, input(600, 320), None);
    assert_eq!(r.result.unwrap_err().error, "ContractTrapped");
    assert!(
        String::from_utf8_lossy(&r.debug_message).contains("event data is over its limit"),
        "{}",
        String::from_utf8_lossy(&r.debug_message)
    );
    // 500 of them (218.75 KiB with topics) fit.
    assert!(env.dry_call(addr, input(500, 320), None).result.is_ok());
}

// ---- Bounded deletion and deposits (`store.wat`) ----

/// Gas limit of a transaction storing 20,000 items (each about 8,630 gas: `set_storage`'s
/// 400 + 8,000 + 4 × 50 and 8 bytes copied, plus the loop).
const FILL_GAS: u64 = 250_000_000;

fn fill_input(start: u32, count: u32) -> Vec<u8> {
    [vec![0], start.to_le_bytes().to_vec(), count.to_le_bytes().to_vec()].concat()
}

fn set_input(key: &[u8], value: &[u8]) -> Vec<u8> {
    [vec![1, key.len() as u8], key.to_vec(), value.to_vec()].concat()
}

fn op_input(op: u8, bytes: &[u8]) -> Vec<u8> {
    [vec![op], bytes.to_vec()].concat()
}

fn keys_under(env: &Env, contract: &AccountId) -> usize {
    let prefix = [pallet_contracts::CONTRACT_STORAGE_PREFIX, &contract.0[..]].concat();
    env.chain
        .state()
        .range(prefix.clone()..)
        .take_while(|(k, _)| k.starts_with(&prefix))
        .count()
}

fn share(env: &mut Env, contract: &AccountId, who: &AccountId) -> Balance {
    env.chain.with(|| pallet_contracts::deposit_share(contract, who))
}

#[test]
fn terminating_a_100k_item_contract_deletes_its_storage_over_blocks_paid_by_the_terminator() {
    let mut env = setup();
    // 30,000 units a block: one per queue entry visited, one per share refunded, one per item.
    let budget = 30_000;
    env.chain.with(|| {
        pallet_contracts::ScheduleOf::put(&Schedule {
            max_deletions_per_block: budget,
            ..test_schedule()
        })
    });
    let code = wasm("store.wat");
    let code_hash = blake2(&code);
    let full = env.deploy(code.clone(), b"full");
    let empty = env.deploy(code, b"empty");
    let bob = env.bob.account();
    let alice = env.alice.account();
    // Bob stores 100,000 items (keys and values of 4 bytes), three transactions a block.
    for batch in [[0u32, 1, 2].as_slice(), &[3, 4]] {
        let calls = batch
            .iter()
            .map(|i| {
                let call = contracts(Call::Call {
                    dest: full,
                    value: 0,
                    gas_limit: FILL_GAS,
                    storage_deposit_limit: None,
                    data: fill_input(i * 20_000, 20_000),
                });
                (&env.bob, call)
            })
            .collect();
        env.chain.run(calls);
    }
    let info = env.chain.with(|| pallet_contracts::contract_info(&full)).unwrap();
    assert_eq!((info.storage_items, info.storage_bytes), (100_000, 800_000));
    assert_eq!(keys_under(&env, &full), 100_000);
    // 100,000 × (1,000 per item + 8 bytes × 10).
    let bobs_share: Balance = 108_000_000;
    assert_eq!(info.storage_deposit, bobs_share);
    assert_eq!(share(&mut env, &full, &bob), bobs_share);

    // Terminating costs 8,000 gas per item more than terminating an empty contract: the
    // deletion the queue will do is paid now.
    let beneficiary = AccountId([7; 32]);
    let terminate = op_input(3, &beneficiary.0);
    let full_gas = env.dry_call(full, terminate.clone(), Some(900_000_000));
    let empty_gas = env.dry_call(empty, terminate.clone(), Some(900_000_000));
    ok_data(&full_gas);
    ok_data(&empty_gas);
    assert_eq!(full_gas.gas_used - empty_gas.gas_used, 100_000 * 8_000);
    // So a terminating transaction that cannot pay for it fails and changes nothing.
    failed_with(&env.call_by(false, full, terminate.clone(), 100_000_000), "OutOfGas");
    assert!(env.chain.with(|| pallet_contracts::contract_info(&full)).is_some());

    let (alice_before, bob_before) = (env.chain.free(&alice), env.chain.free(&bob));
    let tx = env.chain.sign(
        &env.alice,
        contracts(Call::Call {
            dest: full,
            value: 0,
            gas_limit: 900_000_000,
            storage_deposit_limit: None,
            data: terminate,
        }),
    );
    let out = env.chain.block(vec![tx]);
    let ApplyResult::Included(r) = &out.results[0] else {
        panic!()
    };
    assert_eq!(r.outcome, TxOutcome::Success);
    let evs = events(&out);
    assert!(
        evs.contains(&RuntimeEvent::Contracts(pallet_contracts::Event::Terminated {
            contract: full,
            beneficiary,
        }))
    );
    // The record is gone at once; the beneficiary has the balance (the endowment), Bob his
    // whole deposit (the first unit of the block's work), Alice paid her fee only.
    assert!(env.chain.with(|| pallet_contracts::contract_info(&full)).is_none());
    assert_eq!(env.chain.free(&beneficiary), env.chain.params.existential_deposit);
    assert_eq!(env.chain.free(&bob), bob_before + bobs_share);
    assert_eq!(env.chain.free(&alice), alice_before - common::FEE);
    assert_eq!(share(&mut env, &full, &bob), 0);

    // Each block deletes at most the budget: the terminating block 30,000 − 2 (the entry and
    // Bob's share), later ones 30,000 − 1 (the entry), the last what is left.
    let mut left = 100_000 - (budget as usize - 2);
    assert_eq!(keys_under(&env, &full), left);
    let pending = env.chain.with(|| pallet_contracts::pending_deletion(&full)).unwrap();
    assert_eq!(pending.items_left as usize, left);
    assert_eq!(pending.deposit_left, 0);
    assert!(!evs.iter().any(|e| matches!(
        e,
        RuntimeEvent::Contracts(pallet_contracts::Event::StorageDeleted { .. })
    )));

    // Meanwhile the address is no contract, and cannot hold a new one.
    failed_with(&env.call(full, 0, op_input(4, &0u32.to_le_bytes())), "NotAContract");
    left -= budget as usize - 1;
    assert_eq!(keys_under(&env, &full), left);
    let redeploy = contracts(Call::Instantiate {
        value: 0,
        gas_limit: GAS,
        storage_deposit_limit: None,
        code_hash,
        data: vec![],
        salt: b"full".to_vec(),
    });
    let tx = env.chain.sign(&env.alice, redeploy.clone());
    let out = env.chain.block(vec![tx]);
    let ApplyResult::Included(r) = &out.results[0] else {
        panic!()
    };
    failed_with(&r.outcome, "DuplicateContract");
    left -= budget as usize - 1;
    assert_eq!(left, 10_004);
    assert_eq!(keys_under(&env, &full), left);

    // The last block deletes the rest and says so.
    let out = env.chain.block(vec![]);
    assert_eq!(keys_under(&env, &full), 0);
    assert!(
        events(&out).contains(&RuntimeEvent::Contracts(pallet_contracts::Event::StorageDeleted {
            contract: full
        }))
    );
    assert!(env.chain.with(|| pallet_contracts::pending_deletion(&full)).is_none());
    // Now the address may hold a contract again, with none of the old storage.
    env.chain.run(vec![(&env.alice, redeploy)]);
    assert_eq!(
        ok_data(&env.dry_call(full, op_input(4, &0u32.to_le_bytes()), None)),
        Vec::<u8>::new()
    );
    let info = env.chain.with(|| pallet_contracts::contract_info(&full)).unwrap();
    assert_eq!((info.storage_items, info.storage_deposit), (0, 0));
}

#[test]
fn freed_storage_refunds_only_its_payer_of_record() {
    let mut env = setup();
    let c = env.deploy(wasm("store.wat"), b"");
    let (alice, bob) = (env.alice.account(), env.bob.account());
    // Alice stores "a" with 100 bytes: 1,000 + 10 × 101 = 2,010.
    let before = env.chain.free(&alice);
    assert_eq!(env.call(c, 0, set_input(b"a", &[1; 100])), TxOutcome::Success);
    assert_eq!(before - env.chain.free(&alice), common::FEE + 2_010);
    assert_eq!(share(&mut env, &c, &alice), 2_010);
    // Bob shrinks Alice's value to 10 bytes, freeing 900: he paid nothing, he gets nothing;
    // the 900 stay held for Alice.
    let (alice_before, bob_before) = (env.chain.free(&alice), env.chain.free(&bob));
    assert_eq!(env.call_by(true, c, set_input(b"a", &[2; 10]), GAS), TxOutcome::Success);
    assert_eq!(env.chain.free(&bob), bob_before - common::FEE);
    assert_eq!(env.chain.free(&alice), alice_before);
    assert_eq!(share(&mut env, &c, &alice), 2_010);
    let info = env.chain.with(|| pallet_contracts::contract_info(&c)).unwrap();
    assert_eq!(info.storage_deposit, 2_010);
    // Bob stores "b" with 10 bytes (1,000 + 10 × 11 = 1,110) and clears it: his own 1,110
    // come back.
    let bob_before = env.chain.free(&bob);
    assert_eq!(env.call_by(true, c, set_input(b"b", &[3; 10]), GAS), TxOutcome::Success);
    assert_eq!(share(&mut env, &c, &bob), 1_110);
    assert_eq!(env.call_by(true, c, op_input(2, b"b"), GAS), TxOutcome::Success);
    assert_eq!(env.chain.free(&bob), bob_before - 2 * common::FEE);
    assert_eq!(share(&mut env, &c, &bob), 0);
    // Bob clears Alice's "a" (1,000 + 10 × 11 freed): nothing for him, still nothing lost by
    // Alice.
    let bob_before = env.chain.free(&bob);
    assert_eq!(env.call_by(true, c, op_input(2, b"a"), GAS), TxOutcome::Success);
    assert_eq!(env.chain.free(&bob), bob_before - common::FEE);
    assert_eq!(share(&mut env, &c, &alice), 2_010);
    // Alice stores "a" again (1,000 + 10 × 11 = 1,110) and clears it: out of her share, she
    // gets back what this storage freed, 1,110, and 900 stay hers for termination.
    let alice_before = env.chain.free(&alice);
    assert_eq!(env.call(c, 0, set_input(b"a", &[4; 10])), TxOutcome::Success);
    assert_eq!(share(&mut env, &c, &alice), 3_120);
    assert_eq!(env.call(c, 0, op_input(2, b"a")), TxOutcome::Success);
    assert_eq!(env.chain.free(&alice), alice_before - 2 * common::FEE);
    assert_eq!(share(&mut env, &c, &alice), 2_010);
    // Dry-runs of a clear of Alice's "z" (1,110): a refund for Alice, none for Bob.
    assert_eq!(env.call(c, 0, set_input(b"z", &[5; 10])), TxOutcome::Success);
    let mut clear_z = |origin: AccountId| {
        let r = env.chain.with(|| {
            api::query(Query::ContractCall(CallRequest {
                origin,
                dest: c,
                value: 0,
                gas_limit: None,
                storage_deposit_limit: None,
                input: op_input(2, b"z"),
            }))
        });
        let QueryResult::ContractExec(r) = r else {
            panic!("{r:?}")
        };
        r.storage_deposit
    };
    assert_eq!(clear_z(alice), StorageDeposit::Refund(1_110));
    assert_eq!(clear_z(bob), StorageDeposit::Charge(0));
}

#[test]
fn terminate_refunds_each_depositor_their_share_not_the_beneficiary() {
    let mut env = setup();
    let c = env.deploy(wasm("store.wat"), b"");
    let (alice, bob) = (env.alice.account(), env.bob.account());
    // Alice: "a" with 100 bytes, 1,000 + 10 × 101 = 2,010. Bob: "bb" with 50 bytes,
    // 1,000 + 10 × 52 = 1,520.
    assert_eq!(env.call(c, 0, set_input(b"a", &[1; 100])), TxOutcome::Success);
    assert_eq!(
        env.call_by(true, c, set_input(b"bb", &[2; 50]), GAS),
        TxOutcome::Success
    );
    let info = env.chain.with(|| pallet_contracts::contract_info(&c)).unwrap();
    assert_eq!(info.storage_deposit, 3_530);
    let beneficiary = AccountId([8; 32]);
    let deposits = watt_primitives::contract_deposit_account();
    let held_before = env.chain.free(&deposits);
    let (alice_before, bob_before) = (env.chain.free(&alice), env.chain.free(&bob));
    assert_eq!(
        env.call_by(true, c, op_input(3, &beneficiary.0), GAS),
        TxOutcome::Success
    );
    // Refunded in the terminating block: each their own share; the beneficiary gets only the
    // contract's balance (its endowment).
    assert_eq!(env.chain.free(&alice), alice_before + 2_010);
    assert_eq!(env.chain.free(&bob), bob_before - common::FEE + 1_520);
    assert_eq!(env.chain.free(&beneficiary), env.chain.params.existential_deposit);
    assert_eq!(
        held_before - env.chain.free(&deposits),
        3_530,
        "the whole deposit went back; the code's deposit stays"
    );
}

#[test]
fn reading_a_stored_value_is_charged_per_byte() {
    let mut env = setup();
    let c = env.deploy(wasm("store.wat"), b"");
    // "a" holds 1,000 bytes, "b" 10: the same operation on either differs by the 990 bytes
    // read, at `storage_read_per_byte` (2).
    assert_eq!(test_schedule().storage_read_per_byte, 2);
    assert_eq!(env.call(c, 0, set_input(b"a", &[1; 1_000])), TxOutcome::Success);
    assert_eq!(env.call(c, 0, set_input(b"b", &[1; 10])), TxOutcome::Success);
    let mut gas = |input_a: Vec<u8>, input_b: Vec<u8>| {
        let a = env.dry_call(c, input_a, None);
        let b = env.dry_call(c, input_b, None);
        ok_data(&a);
        ok_data(&b);
        a.gas_used - b.gas_used
    };
    // Overwriting (both with 5 bytes) and clearing read the old value.
    assert_eq!(gas(set_input(b"a", &[9; 5]), set_input(b"b", &[9; 5])), 990 * 2);
    assert_eq!(gas(op_input(2, b"a"), op_input(2, b"b")), 990 * 2);
    assert_eq!(gas(op_input(5, b"a"), op_input(5, b"b")), 990 * 2);
    // Getting it also copies the bytes into the contract's memory and back out as the return
    // value (`per_byte`, 1, each way).
    assert_eq!(gas(op_input(4, b"a"), op_input(4, b"b")), 990 * (2 + 1 + 1));
}

#[test]
fn cancel_upload_pays_for_the_bytes_it_reads() {
    let mut params = chain_params();
    params.weight_fee = 1;
    let mut env = setup_with(params);
    let alice = env.alice.account();
    let upload = |offset: u32, chunk: Vec<u8>| {
        contracts(Call::UploadCodeChunk {
            code_hash: [5; 32],
            total_len: 20_000,
            offset,
            chunk,
        })
    };
    env.chain.run(vec![(&env.alice, upload(0, vec![0; 10_000]))]);
    let before = env.chain.free(&alice);
    env.chain
        .run(vec![(&env.alice, contracts(Call::CancelUpload { code_hash: [5; 32] }))]);
    // The deposit for 20,000 bytes comes back (1,000 + 10 × 20,000 = 201,000); the fee is the
    // base plus weight 100,000 + 20 per byte read (10,000 bytes), not the declared maximum.
    let fee = common::FEE + 100_000 + 20 * 10_000;
    assert_eq!(env.chain.free(&alice), before + 201_000 - fee);
    // Nothing to read: the base weight only.
    let before = env.chain.free(&alice);
    let tx = env
        .chain
        .sign(&env.alice, contracts(Call::CancelUpload { code_hash: [5; 32] }));
    let out = env.chain.block(vec![tx]);
    let ApplyResult::Included(r) = &out.results[0] else {
        panic!()
    };
    failed_with(&r.outcome, "NoUpload");
    assert_eq!(env.chain.free(&alice), before - common::FEE - 100_000);
}

#[test]
fn the_first_call_after_the_contract_rules_change_pays_the_compile() {
    let mut env = setup();
    let code = wasm("counter.wat");
    let len = code.len() as u64;
    let addr = env.deploy(code, b"");
    // Uploaded (and so compiled) under today's rules: calls cost the same every time.
    let before = env.dry_call(addr, vec![], None).gas_used;
    assert_eq!(env.call(addr, 0, vec![]), TxOutcome::Success);
    assert_eq!(env.dry_call(addr, vec![], None).gas_used, before);
    // New rules (an instruction costs more): every node compiles the code again.
    let mut s = test_schedule();
    s.vm.costs.store = 2;
    env.chain.with(|| pallet_contracts::ScheduleOf::put(&s));
    let first = env.dry_call(addr, vec![], None).gas_used;
    assert_eq!(env.call(addr, 0, vec![]), TxOutcome::Success);
    let second = env.dry_call(addr, vec![], None).gas_used;
    // The dry-run before the call paid the compile (a dry-run records nothing); the call did,
    // and recorded it; from then on only the execution counts.
    assert_eq!(first - second, len * s.compile_per_byte, "the compile, by the byte");
    assert!(second >= before, "the store costs no less under the new rules");
}

#[test]
fn a_callee_that_reverts_with_more_output_than_fits_is_reported_as_reverted() {
    let mut env = setup();
    // The callee reverts with 8 bytes; the caller offers a 2-byte buffer and returns the code
    // and the length word the host left.
    let callee = env.deploy(
        wat::parse_str(
            r#"(module (import "watt_v1" "return_value" (func $ret (param i32 i32 i32)))
               (memory (export "memory") 1 1) (data (i32.const 0) "revert!!")
               (func (export "deploy")) (func (export "call") (call $ret (i32.const 1) (i32.const 0) (i32.const 8))))"#,
        )
        .unwrap(),
        b"callee",
    );
    let caller = env.deploy(
        wat::parse_str(
            r#"(module (import "watt_v1" "input" (func $input (param i32 i32) (result i32)))
               (import "watt_v1" "call" (func $call (param i32 i32 i32 i32 i64 i32 i32) (result i32)))
               (import "watt_v1" "return_value" (func $ret (param i32 i32 i32)))
               (memory (export "memory") 1 1)
               (func (export "deploy"))
               (func (export "call")
                 (i32.store (i32.const 0) (i32.const 32))
                 (drop (call $input (i32.const 64) (i32.const 0)))
                 (i32.store (i32.const 200) (i32.const 2))
                 (i32.store (i32.const 300)
                   (call $call (i32.const 64) (i32.const 128) (i32.const 0) (i32.const 0) (i64.const 0)
                     (i32.const 208) (i32.const 200)))
                 (i32.store (i32.const 304) (i32.load (i32.const 200)))
                 (call $ret (i32.const 0) (i32.const 300) (i32.const 8))))"#,
        )
        .unwrap(),
        b"caller",
    );
    let data = ok_data(&env.dry_call(caller, callee.0.to_vec(), None));
    // CALLEE_REVERTED (2), not BUFFER_TOO_SMALL (4); the 8 bytes it needed.
    assert_eq!(data, [2u32.to_le_bytes(), 8u32.to_le_bytes()].concat());
}

#[test]
fn a_caller_looping_over_a_callee_that_works_then_traps_runs_out_within_its_limit() {
    let mut env = setup();
    // The callee loops 100,000 times, then loads out of bounds: the work is paid with the
    // whole gas it was given, so it cannot hand its caller free compute.
    let callee = env.deploy(
        wat::parse_str(
            r#"(module (memory (export "memory") 1 1)
               (func (export "deploy"))
               (func (export "call") (local $i i32)
                 (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
                   (br_if $l (i32.lt_u (local.get $i) (i32.const 100000))))
                 (drop (i32.load (i32.const 0x7ffffff0)))))"#,
        )
        .unwrap(),
        b"callee",
    );
    // The caller calls it forever, each time with all it may forward, counting the calls.
    let caller = env.deploy(
        wat::parse_str(
            r#"(module (import "watt_v1" "input" (func $input (param i32 i32) (result i32)))
               (import "watt_v1" "call" (func $call (param i32 i32 i32 i32 i64 i32 i32) (result i32)))
               (memory (export "memory") 1 1)
               (func (export "deploy"))
               (func (export "call")
                 (i32.store (i32.const 0) (i32.const 32))
                 (drop (call $input (i32.const 64) (i32.const 0)))
                 (loop $forever
                   (i32.store (i32.const 200) (i32.const 0))
                   (drop (call $call (i32.const 64) (i32.const 128) (i32.const 0) (i32.const 0) (i64.const 0)
                     (i32.const 208) (i32.const 200)))
                   (br $forever))))"#,
        )
        .unwrap(),
        b"caller",
    );
    let limit = 200_000_000;
    let r = env.dry_call(caller, callee.0.to_vec(), Some(limit));
    assert_eq!(r.result.unwrap_err().error, "OutOfGas");
    assert_eq!(r.gas_used, limit, "the caller ran out of its own limit");
    // Each trapped callee frame used all it was forwarded (63/64 of what was left), so the
    // caller is out after a handful of calls: log_64(200M / 20,000 per call) is under 3, plus
    // the calls whose code load alone runs out. Were the traps charged only the fuel wasmtime
    // had written back (about nothing), the caller would make about 10,000 calls of 100,000
    // turns each.
    let trapped = String::from_utf8_lossy(&r.debug_message)
        .matches("contract trapped")
        .count();
    assert!((1..=6).contains(&trapped), "{trapped} callee traps");
}
