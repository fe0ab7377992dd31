//! Hostile contracts against the engine: loops run out of gas, recursion traps, memory stays
//! within its limit, refused code never compiles, the cache compiles once, gas is
//! deterministic; and the engine keeps working after each.

use super::*;
use wasmtime::Caller;

fn env(module: &str, name: &str) -> bool {
    module == "watt" && name == "note"
}

fn engine() -> ContractEngine {
    ContractEngine::new(ContractEngineConfig::default()).unwrap()
}

fn prepare(engine: &ContractEngine, wat: &str) -> Result<PreparedContract, ContractError> {
    engine.prepare(&wat::parse_str(wat).unwrap(), env, &["call"])
}

/// A linker whose one host function `watt.note(x)` records `x` in the store data.
fn linker(engine: &ContractEngine) -> Linker<ContractState<Vec<i32>>> {
    let mut l = engine.linker::<Vec<i32>>();
    l.func_wrap("watt", "note", |mut c: Caller<'_, ContractState<Vec<i32>>>, x: i32| {
        c.data_mut().data.push(x)
    })
    .unwrap();
    l
}

const LOOP: &str = r#"(module (memory (export "memory") 1 1)
    (func (export "call") (loop $l (br $l))))"#;

#[test]
fn an_infinite_loop_runs_out_of_gas_and_pays_all_of_it() {
    let e = engine();
    let c = prepare(&e, LOOP).unwrap();
    let out = e.call(&c, &linker(&e), vec![], "call", 1_000_000);
    assert!(
        matches!(out.result, Err(ContractError::OutOfGas { limit: 1_000_000 })),
        "{:?}",
        out.result.err()
    );
    assert_eq!(out.gas_used, 1_000_000);
}

#[test]
fn unbounded_recursion_traps_and_the_engine_keeps_working() {
    let e = engine();
    let deep = r#"(module (memory (export "memory") 1 1)
        (func $f (call $f))
        (func (export "call") (call $f)))"#;
    let c = prepare(&e, deep).unwrap();
    let out = e.call(&c, &linker(&e), vec![], "call", u64::MAX / 2);
    assert!(
        matches!(out.result, Err(ContractError::StackOverflow)),
        "{:?}",
        out.result.err()
    );
    let ok = r#"(module (import "watt" "note" (func $note (param i32))) (memory (export "memory") 1 1)
        (func (export "call") (call $note (i32.const 7))))"#;
    let c = prepare(&e, ok).unwrap();
    let out = e.call(&c, &linker(&e), vec![], "call", 1_000_000);
    assert!(out.result.is_ok(), "{:?}", out.result.err());
    assert_eq!(out.data, vec![7]);
}

#[test]
fn memory_grows_only_to_its_declared_maximum() {
    let e = engine();
    // Declared maximum 2 pages: growing by 1 works (returns the old size 1), by 5 more fails (-1).
    let grow = r#"(module (import "watt" "note" (func $note (param i32))) (memory (export "memory") 1 2)
        (func (export "call")
            (call $note (memory.grow (i32.const 1)))
            (call $note (memory.grow (i32.const 5)))))"#;
    let c = prepare(&e, grow).unwrap();
    let out = e.call(&c, &linker(&e), vec![], "call", 1_000_000);
    assert!(out.result.is_ok(), "{:?}", out.result.err());
    assert_eq!(out.data, vec![1, -1]);
    // A memory declared past the engine's limit never compiles.
    let big = r#"(module (memory (export "memory") 1 1000) (func (export "call")))"#;
    assert!(matches!(prepare(&e, big), Err(ContractError::Validation(_))));
}

#[test]
fn refused_code_is_never_compiled_and_bad_calls_are_clear_errors() {
    let e = engine();
    let float = r#"(module (memory (export "memory") 1 1) (func (export "call") (drop (f32.const 1))))"#;
    assert!(matches!(prepare(&e, float), Err(ContractError::Validation(_))));
    assert!(e.cached(&blake2_256(&wat::parse_str(float).unwrap())).is_none());
    assert!(matches!(
        e.prepare(b"not wasm", env, &[]),
        Err(ContractError::Validation(_))
    ));
    let c = prepare(&e, LOOP).unwrap();
    let out = e.call(&c, &linker(&e), vec![], "missing", 1_000);
    assert!(matches!(out.result, Err(ContractError::NoExport(ref n)) if n == "missing"));
    // An import the linker lacks is a link error, not a crash.
    let needs =
        r#"(module (import "watt" "note" (func (param i32))) (memory (export "memory") 1 1) (func (export "call")))"#;
    let c = prepare(&e, needs).unwrap();
    let out = e.call(&c, &e.linker::<Vec<i32>>(), vec![], "call", 1_000);
    assert!(
        matches!(out.result, Err(ContractError::Link(_))),
        "{:?}",
        out.result.err()
    );
}

#[test]
fn the_cache_compiles_once_per_code_hash() {
    let e = engine();
    let code = wat::parse_str(LOOP).unwrap();
    assert!(e.cached(&blake2_256(&code)).is_none());
    let a = e.prepare(&code, env, &["call"]).unwrap();
    let b = e.prepare(&code, env, &["call"]).unwrap();
    assert_eq!(a.code_hash, blake2_256(&code));
    assert!(
        Module::same(&a.module, &b.module),
        "the second prepare came from the cache"
    );
    assert_eq!((a.from, b.from), (PreparedFrom::Compiler, PreparedFrom::Memory));
}

#[test]
fn compiled_contracts_survive_a_restart_on_disk_and_a_bad_file_is_compiled_again() {
    let dir = tempfile::tempdir().unwrap();
    let config = ContractEngineConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..ContractEngineConfig::default()
    };
    let code = wat::parse_str(LOOP).unwrap();
    let first = ContractEngine::new(config.clone()).unwrap();
    assert_eq!(
        first.prepare(&code, env, &["call"]).unwrap().from,
        PreparedFrom::Compiler
    );
    let files: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(files.len(), 1, "one artifact, no temporary file left");

    // A new engine (a restarted node) loads it instead of compiling, and it runs.
    let second = ContractEngine::new(config.clone()).unwrap();
    let c = second.prepare(&code, env, &["call"]).unwrap();
    assert_eq!(c.from, PreparedFrom::Disk);
    let out = second.call(&c, &linker(&second), vec![], "call", 10_000);
    assert!(matches!(out.result, Err(ContractError::OutOfGas { .. })));

    // A damaged artifact is refused by wasmtime and replaced by a fresh compile.
    let path = files[0].as_ref().unwrap().path();
    std::fs::write(&path, b"not a compiled module").unwrap();
    let third = ContractEngine::new(config).unwrap();
    assert_eq!(
        third.prepare(&code, env, &["call"]).unwrap().from,
        PreparedFrom::Compiler
    );
    assert_ne!(std::fs::read(&path).unwrap(), b"not a compiled module");
}

#[test]
fn gas_is_deterministic_and_grows_with_the_work() {
    let e = engine();
    let counted = |n: i32| {
        format!(
            r#"(module (memory (export "memory") 1 1)
            (func (export "call") (local $i i32)
                (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $l (i32.lt_s (local.get $i) (i32.const {n}))))))"#
        )
    };
    let run = |wat: &str| {
        let c = prepare(&e, wat).unwrap();
        let out = e.call(&c, &linker(&e), vec![], "call", 10_000_000);
        assert!(out.result.is_ok());
        out.gas_used
    };
    let (small, again, big) = (run(&counted(100)), run(&counted(100)), run(&counted(1_000)));
    assert_eq!(small, again, "same code, same gas");
    assert!(big > small * 5, "10x the iterations: {small} -> {big}");
}

#[test]
fn a_full_instance_pool_is_reported_as_such_not_as_a_contract_failure() {
    let e = Arc::new(
        ContractEngine::new(ContractEngineConfig {
            pooled_instances: 1,
            ..ContractEngineConfig::default()
        })
        .unwrap(),
    );
    let c = prepare(
        &e,
        r#"(module (import "watt" "note" (func $note (param i32))) (memory (export "memory") 1 1)
        (func (export "call") (call $note (i32.const 1))))"#,
    )
    .unwrap();
    // The one pooled instance is busy running the outer call when `note` starts another.
    let inner: Arc<Mutex<Option<Result<(), ContractError>>>> = Arc::default();
    let mut l = e.linker::<Vec<i32>>();
    let (engine, module, seen) = (e.clone(), c.clone(), inner.clone());
    l.func_wrap("watt", "note", move |_: Caller<'_, ContractState<Vec<i32>>>, _: i32| {
        let nested = engine.call(&module, &linker(&engine), vec![], "call", 1_000_000);
        *seen.lock() = Some(nested.result);
    })
    .unwrap();
    let outer = e.call(&c, &l, vec![], "call", 1_000_000);
    assert!(outer.result.is_ok(), "{:?}", outer.result.err());
    match inner.lock().take() {
        Some(Err(ContractError::PoolExhausted(_))) => {}
        other => panic!("expected PoolExhausted, got {other:?}"),
    }
    // Once the outer call is done, its slot is free again.
    assert!(e.call(&c, &linker(&e), vec![], "call", 1_000_000).result.is_ok());
}
