//! The executor running real and hostile wasm: the runtime blob's entry points, traps with the
//! runtime's panic message, modules that do not compile or link, host calls out of bounds,
//! runaway recursion and memory. After every failure the executor keeps serving.

use parity_scale_codec::{Decode, Encode};
use std::sync::Arc;
use watt_executor::{ExecError, Executor, ExecutorConfig, MemoryBackend, RuntimeCode, StateSession};
use watt_primitives::abi::{entry, RuntimeVersion};

fn session() -> StateSession {
    StateSession::new(Arc::new(MemoryBackend::default()))
}

fn runtime() -> RuntimeCode {
    RuntimeCode::new(watt_runtime_blob::WASM_BINARY.to_vec())
}

fn executor() -> Executor {
    Executor::new(ExecutorConfig {
        max_memory_bytes: 16 << 20,
        ..Default::default()
    })
    .unwrap()
}

fn version_works(ex: &Executor) {
    let (_, v) = ex.call_decoded::<RuntimeVersion>(&runtime(), entry::VERSION, &(), session());
    assert_eq!(
        v.unwrap(),
        watt_runtime::api::version(),
        "wasm and native agree on the version"
    );
}

#[test]
fn the_runtime_blob_answers_through_wasm() {
    version_works(&executor());
}

#[test]
fn a_runtime_panic_becomes_a_trap_with_its_message() {
    let ex = executor();
    // Input that does not decode as ApplyBlockInput: the runtime panics.
    let (s, r) = ex.call(&runtime(), entry::APPLY_BLOCK, &[1, 2, 3], session());
    match r {
        Err(ExecError::Trap { entry, message }) => {
            assert_eq!(entry, "watt_apply_block");
            assert!(message.contains("runtime entry input does not decode"), "{message}");
        }
        other => panic!("expected a trap, got {other:?}"),
    }
    assert!(s.changes().is_empty());
    version_works(&ex);
}

fn wat(src: &str) -> RuntimeCode {
    RuntimeCode::new(src.as_bytes().to_vec())
}

const ABI: &str = r#"(memory (export "memory") 1 17)
  (func (export "watt_alloc") (param i32) (result i32) i32.const 1024)"#;

#[test]
fn hostile_modules_are_refused_and_the_executor_survives() {
    let ex = executor();
    let garbage = RuntimeCode::new(b"\0asm\x01\0\0\0garbage".to_vec());
    assert!(matches!(
        ex.call(&garbage, "x", &[], session()).1,
        Err(ExecError::Compile(_))
    ));
    let no_memory = wat(r#"(module (func (export "watt_alloc") (param i32) (result i32) i32.const 0))"#);
    assert!(matches!(ex.call(&no_memory, "x", &[], session()).1, Err(ExecError::Link(m)) if m.contains("memory")));
    let unknown_import = wat(&format!(r#"(module (import "watt" "launch_missiles" (func)) {ABI})"#));
    assert!(matches!(
        ex.call(&unknown_import, "x", &[], session()).1,
        Err(ExecError::Link(_))
    ));
    let missing_entry = wat(&format!("(module {ABI})"));
    assert!(
        matches!(ex.call(&missing_entry, "watt_query", &[], session()).1, Err(ExecError::Link(m)) if m.contains("watt_query"))
    );
    let simd = wat(&format!(
        r#"(module {ABI} (func (export "f") (param i32 i32) (result i64) (drop (v128.const i64x2 0 0)) i64.const 0))"#
    ));
    assert!(
        matches!(ex.call(&simd, "f", &[], session()).1, Err(ExecError::Compile(_))),
        "SIMD is not deterministic: refused"
    );
    version_works(&ex);
}

#[test]
fn host_calls_out_of_bounds_trap() {
    let ex = executor();
    let m = wat(&format!(
        r#"(module (import "watt" "storage_set" (func $set (param i32 i32 i32 i32))) {ABI}
            (func (export "f") (param i32 i32) (result i64)
              (call $set (i32.const 0) (i32.const 4) (i32.const 65530) (i32.const 100000)) i64.const 0))"#
    ));
    let (s, r) = ex.call(&m, "f", &[], session());
    assert!(matches!(r, Err(ExecError::Trap { message, .. }) if message.contains("out of bounds")));
    assert!(s.changes().is_empty(), "a failed host call wrote nothing");
    version_works(&ex);
}

#[test]
fn runaway_recursion_and_memory_are_bounded() {
    let ex = executor();
    let recurse = wat(&format!(
        r#"(module {ABI} (func $r (export "f") (param i32 i32) (result i64) (call $r (local.get 0) (local.get 1))))"#
    ));
    assert!(matches!(
        ex.call(&recurse, "f", &[], session()).1,
        Err(ExecError::Trap { .. })
    ));
    // Growing past the 16 MiB limit fails (memory.grow returns -1) instead of exhausting the host.
    let greedy = wat(r#"(module (memory (export "memory") 1)
            (func (export "watt_alloc") (param i32) (result i32) i32.const 0)
            (func (export "f") (param i32 i32) (result i64)
              (i64.extend_i32_s (memory.grow (i32.const 1000)))))"#);
    let (_, out) = ex.call(&greedy, "f", &[], session());
    let err = out.expect_err("the packed result -1 points nowhere readable");
    assert!(matches!(err, ExecError::BadOutput(_)), "{err:?}");
    version_works(&ex);
}

#[test]
fn storage_host_functions_round_trip_through_wasm() {
    // The real runtime writes genesis through storage_set; read it back through storage_get.
    let ex = executor();
    let config = watt_primitives::abi::GenesisConfig {
        balances: vec![(watt_primitives::AccountId([1; 32]), 500)],
        params: watt_primitives::abi::ChainParams {
            existential_deposit: 1,
            base_fee: 1,
            byte_fee: 1,
            weight_fee: 1,
            max_tx_len: 1000,
            max_block_weight: 1 << 40,
            max_block_transactions: 20_000,
            max_block_bytes: 8 << 20,
        },
        code: vec![1, 2, 3],
        economy: watt_primitives::economy::EconomyGenesis::bare(
            watt_primitives::economy::EconomyParams::mainnet(10),
            watt_primitives::AccountId([9; 32]),
        ),
    };
    let (s, r) = ex.call_decoded::<()>(&runtime(), entry::BUILD_GENESIS, &config, session());
    r.unwrap();
    let changes = s.into_changes().unwrap();
    assert_eq!(changes.get(b":code".as_slice()), Some(&Some(vec![1, 2, 3])));
    let mut backend = MemoryBackend::default();
    backend.apply(&changes);
    let q = watt_primitives::abi::Query::Account(watt_primitives::AccountId([1; 32]));
    let (_, r) = ex.call(
        &runtime(),
        entry::QUERY,
        &q.encode(),
        StateSession::new(Arc::new(backend)),
    );
    let answer = watt_primitives::abi::QueryResult::decode(&mut &r.unwrap()[..]).unwrap();
    assert_eq!(
        answer,
        watt_primitives::abi::QueryResult::Account(watt_primitives::abi::AccountInfo { free: 500, nonce: 0 })
    );
}
