//! Hostile contracts against the engine: loops run out of gas, recursion traps, memory stays
//! within its limit, refused code never compiles, the cache compiles once, gas is
//! deterministic; and the engine keeps working after each.

use super::*;
use wasmtime::Caller;
use watt_primitives::sandbox::{ContractVm, InstructionCosts};

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
fn unbounded_recursion_stops_at_the_deterministic_limit_and_the_engine_keeps_working() {
    let e = engine();
    let deep = r#"(module (memory (export "memory") 1 1)
        (func $f (call $f))
        (func (export "call") (call $f)))"#;
    let c = prepare(&e, deep).unwrap();
    let out = e.call(&c, &linker(&e), vec![], "call", 50_000_000);
    let limit = ContractVm::default().max_stack_height;
    assert!(
        matches!(out.result, Err(ContractError::StackLimit { limit: l }) if l == limit),
        "{:?}",
        out.result.err()
    );
    assert_eq!(
        out.gas_used, 50_000_000,
        "a trap of the contract's own uses all of its gas"
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
    assert!(e
        .cached(
            &blake2_256(&wat::parse_str(float).unwrap()),
            &ContractVm::default().id()
        )
        .is_none());
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
    assert!(e.cached(&blake2_256(&code), &ContractVm::default().id()).is_none());
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

/// A loop of `n` turns: per turn seven simple instructions (`local.get`, `i32.const`,
/// `i32.add`, `local.set`, `local.get`, `i32.const`, `i32.lt_s`) and one branch (`br_if`).
fn counted(n: i32) -> String {
    format!(
        r#"(module (memory (export "memory") 1 1)
        (func (export "call") (local $i i32)
            (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_s (local.get $i) (i32.const {n}))))))"#
    )
}

/// Gas of `counted(n)` by hand from the cost table: the loop, plus the stack meter's prologue
/// (`global.get`, `i32.const`, `i32.add`, `global.set`, `global.get`, `i32.const`, `i32.gt_u`:
/// seven simple; `if`: a branch) and epilogue (`global.get`, `i32.const`, `i32.sub`,
/// `global.set`: four simple), plus the 1 wasmtime charges on entering a function.
fn counted_gas(n: u64, c: &InstructionCosts) -> u64 {
    let (simple, branch) = (c.simple as u64, c.branch as u64);
    n * (7 * simple + branch) + 11 * simple + branch + 1
}

fn gas_of(e: &ContractEngine, n: i32) -> u64 {
    let c = prepare(e, &counted(n)).unwrap();
    let out = e.call(&c, &linker(e), vec![], "call", 10_000_000);
    assert!(out.result.is_ok(), "{:?}", out.result.err());
    out.gas_used
}

#[test]
fn the_disk_cache_is_bounded_and_drops_the_least_recently_used() {
    let dir = tempfile::tempdir().unwrap();
    let files = |dir: &std::path::Path| -> Vec<(String, u64)> {
        let mut v: Vec<_> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().unwrap().len(),
                )
            })
            .collect();
        v.sort();
        v
    };
    // One module's size, to size the cache for about three.
    let probe = ContractEngine::new(ContractEngineConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        ..ContractEngineConfig::default()
    })
    .unwrap();
    probe
        .prepare(&wat::parse_str(counted(1)).unwrap(), env, &["call"])
        .unwrap();
    let one = files(dir.path())[0].1;
    std::fs::remove_dir_all(dir.path()).unwrap();
    std::fs::create_dir(dir.path()).unwrap();
    // A crash left a half-written file: it is swept at start.
    std::fs::write(dir.path().join("x.cwasm.tmp"), b"half").unwrap();
    let config = ContractEngineConfig {
        cache_dir: Some(dir.path().to_path_buf()),
        cache_max_bytes: one * 3 + one / 2,
        ..ContractEngineConfig::default()
    };
    let e = ContractEngine::new(config.clone()).unwrap();
    assert!(files(dir.path()).is_empty(), "the half-written file is gone");
    let codes: Vec<Vec<u8>> = (1..=6).map(|n| wat::parse_str(counted(n)).unwrap()).collect();
    for code in &codes {
        e.prepare(code, env, &["call"]).unwrap();
        // Distinct modification times, so "least recently used" is well defined.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let kept = files(dir.path());
    let total: u64 = kept.iter().map(|f| f.1).sum();
    assert!(
        total <= config.cache_max_bytes,
        "{total} bytes kept, bound {}",
        config.cache_max_bytes
    );
    assert!(kept.len() >= 2, "{kept:?}");
    let name = |code: &[u8]| {
        let h: String = blake2_256(code).iter().map(|b| format!("{b:02x}")).collect();
        kept.iter().any(|(f, _)| f.starts_with(&h))
    };
    assert!(name(&codes[5]), "the newest stays");
    assert!(!name(&codes[0]), "the oldest went");
    // A restarted node finds the newest on disk, and compiles an evicted one again.
    let restarted = ContractEngine::new(config).unwrap();
    assert_eq!(
        restarted.prepare(&codes[5], env, &["call"]).unwrap().from,
        PreparedFrom::Disk
    );
    assert_eq!(
        restarted.prepare(&codes[0], env, &["call"]).unwrap().from,
        PreparedFrom::Compiler
    );
}

#[test]
fn gas_is_the_cost_table_sum_and_the_same_across_engines_and_processes() {
    let costs = InstructionCosts::default();
    // Engines of different native stacks and allocators meter alike.
    let pooled = engine();
    let unpooled = ContractEngine::new(ContractEngineConfig {
        pooled_instances: 0,
        max_wasm_stack: 1 << 20,
        ..ContractEngineConfig::default()
    })
    .unwrap();
    for n in [1, 100, 1_000] {
        assert_eq!(gas_of(&pooled, n), counted_gas(n as u64, &costs), "{n} turns");
        assert_eq!(
            gas_of(&unpooled, n),
            counted_gas(n as u64, &costs),
            "{n} turns, other engine"
        );
    }
    // And another process (its own compile, its own engine).
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "contract_engine::tests::gas_in_a_child_process",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env("WATT_GAS_CHILD", "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&child.stdout);
    let reported: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("GAS "))
        .unwrap_or_else(|| panic!("the child reported no gas: {stdout}"))
        .trim()
        .parse()
        .unwrap();
    assert_eq!(reported, gas_of(&pooled, 777));
}

/// Run by the test above in a child process.
#[test]
#[ignore = "run by gas_is_the_cost_table_sum_and_the_same_across_engines_and_processes"]
fn gas_in_a_child_process() {
    if std::env::var_os("WATT_GAS_CHILD").is_some() {
        println!("GAS {}", gas_of(&engine(), 777));
    }
}

/// Traps of the contract's own code use the whole gas limit, whatever work came before them,
/// so a callee that loops and then traps cannot hand its caller free compute.
#[test]
fn each_kind_of_trap_after_work_charges_the_whole_limit() {
    let e = engine();
    let after_loop = |trap: &str| {
        format!(
            r#"(module (memory (export "memory") 1 1)
            (func $deep (call $deep))
            (func (export "call") (local $i i32)
                (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
                    (br_if $l (i32.lt_s (local.get $i) (i32.const 100000))))
                {trap}))"#
        )
    };
    let limit = 5_000_000;
    for (what, trap, check) in [
        (
            "out-of-bounds load",
            "(drop (i32.load (i32.const 0x7fffffff)))",
            (|r: &Result<(), ContractError>| {
                matches!(r, Err(ContractError::WasmTrap(wasmtime::Trap::MemoryOutOfBounds)))
            }) as fn(&Result<(), ContractError>) -> bool,
        ),
        (
            "division by zero",
            "(local.set $i (i32.const 0)) (drop (i32.div_u (i32.const 1) (local.get $i)))",
            |r| matches!(r, Err(ContractError::WasmTrap(wasmtime::Trap::IntegerDivisionByZero))),
        ),
        ("unreachable", "(unreachable)", |r| {
            matches!(r, Err(ContractError::WasmTrap(wasmtime::Trap::UnreachableCodeReached)))
        }),
        ("stack limit", "(call $deep)", |r| {
            matches!(r, Err(ContractError::StackLimit { .. }))
        }),
    ] {
        let src = after_loop(trap);
        let c = prepare(&e, &src).unwrap_or_else(|err| panic!("{what}: {err}"));
        let out = e.call(&c, &linker(&e), vec![], "call", limit);
        assert!(check(&out.result), "{what}: {:?}", out.result);
        assert_eq!(out.gas_used, limit, "{what}");
    }
    // A host function's error is the environment's trap: fuel is exact there (it was written
    // back for the host call), so only the work done is charged.
    let mut l = e.linker::<Vec<i32>>();
    l.func_wrap(
        "watt",
        "note",
        |_: Caller<'_, ContractState<Vec<i32>>>, _: i32| -> wasmtime::Result<()> {
            Err(wasmtime::format_err!("refused"))
        },
    )
    .unwrap();
    let src = r#"(module (import "watt" "note" (func $note (param i32))) (memory (export "memory") 1 1)
        (func (export "call") (local $i i32)
            (loop $l (local.set $i (i32.add (local.get $i) (i32.const 1)))
                (br_if $l (i32.lt_s (local.get $i) (i32.const 1000))))
            (call $note (i32.const 1))))"#;
    let c = prepare(&e, src).unwrap();
    let out = e.call(&c, &l, vec![], "call", limit);
    assert!(matches!(out.result, Err(ContractError::Trap(_))), "{:?}", out.result);
    // By hand: the loop's 1,000 turns, the stack meter's prologue (seven simple and a branch),
    // wasmtime's 1 for entering, `i32.const 1` and the `call` itself; no epilogue, no return.
    let c = InstructionCosts::default();
    let (simple, branch, call) = (c.simple as u64, c.branch as u64, c.call as u64);
    let expected = 1_000 * (7 * simple + branch) + 7 * simple + branch + 1 + simple + call;
    assert_eq!(out.gas_used, expected, "a host trap charges exactly the work done");
}

/// `depth(n)`: recursion n deep. Its frame, by hand: 8 overhead + 1 parameter + 0 locals + an
/// operand stack 2 deep = 11 values; the exported `call` adds a frame of 8 + 0 + 0 + 2 = 10.
fn recursion(n: i32) -> String {
    format!(
        r#"(module (memory (export "memory") 1 1)
        (func $depth (param i32) (result i32)
            (if (result i32) (i32.eqz (local.get 0))
                (then (i32.const 0))
                (else (i32.add (call $depth (i32.sub (local.get 0) (i32.const 1))) (i32.const 1)))))
        (func (export "call") (drop (call $depth (i32.const {n})))))"#
    )
}

#[test]
fn the_stack_limit_is_the_same_under_any_native_stack() {
    let limit = ContractVm::default().max_stack_height;
    // Frames of 11 values below a frame of 10: depth(n) holds n + 1 of them.
    let deepest_ok = ((limit - 10) / 11 - 1) as i32;
    let mut results = Vec::new();
    for native in [128 * 1024, 512 * 1024, 1536 * 1024] {
        let e = ContractEngine::new(ContractEngineConfig {
            max_wasm_stack: native,
            ..ContractEngineConfig::default()
        })
        .unwrap();
        for n in [deepest_ok, deepest_ok + 1] {
            let c = prepare(&e, &recursion(n)).unwrap();
            let out = e.call(&c, &linker(&e), vec![], "call", 10_000_000);
            results.push((
                native,
                n,
                out.result.is_ok(),
                format!("{:?}", out.result.err()),
                out.gas_used,
            ));
        }
    }
    for (native, n, ok, err, _) in &results {
        assert_eq!(*ok, *n == deepest_ok, "depth {n} under {native} native bytes: {err}");
    }
    let first: Vec<_> = results.iter().take(2).map(|r| (r.1, r.2, r.3.clone(), r.4)).collect();
    for chunk in results.chunks(2) {
        let these: Vec<_> = chunk.iter().map(|r| (r.1, r.2, r.3.clone(), r.4)).collect();
        assert_eq!(these, first, "native stack {} changed a result", chunk[0].0);
    }
}

#[test]
fn a_native_stack_smaller_than_the_limit_needs_is_the_nodes_failure_not_a_result() {
    // 8 KiB cannot hold 4,096 values of frames: the native limit is reached first, and that is
    // reported as the node's problem (`StackOverflow`), never as the contract's trap.
    let e = ContractEngine::new(ContractEngineConfig {
        max_wasm_stack: 8 * 1024,
        ..ContractEngineConfig::default()
    })
    .unwrap();
    let limit = ContractVm::default().max_stack_height;
    let c = prepare(&e, &recursion(((limit - 10) / 11 - 1) as i32)).unwrap();
    let out = e.call(&c, &linker(&e), vec![], "call", 10_000_000);
    assert!(
        matches!(out.result, Err(ContractError::StackOverflow)),
        "{:?}",
        out.result
    );
    assert!(!ContractError::StackOverflow.uses_all_gas());
}

#[test]
fn a_chain_on_another_engine_is_refused_by_name() {
    let e = engine();
    let vm = ContractVm {
        engine: "wasmtime-47.0.0/watt-vm-1".into(),
        ..ContractVm::default()
    };
    let code = wat::parse_str(LOOP).unwrap();
    let err = e
        .prepare_with(&code, &Limits::default(), &vm, env, &["call"], true, false)
        .err()
        .expect("refused");
    assert!(
        matches!(&err, ContractError::EngineMismatch { chain, node } if chain == "wasmtime-47.0.0/watt-vm-1" && node == ENGINE_VERSION),
        "{err}"
    );
    assert!(err.to_string().contains("upgrade the node"), "{err}");
}

#[test]
fn the_engine_version_names_the_wasmtime_this_node_is_built_with() {
    // The workspace pins wasmtime exactly; the version string must follow an upgrade.
    let manifest = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../Cargo.toml")).unwrap();
    let pin = manifest
        .lines()
        .find_map(|l| l.strip_prefix("wasmtime = { version = \"="))
        .and_then(|rest| rest.split('"').next())
        .expect("wasmtime is pinned with =x.y.z");
    assert!(
        ENGINE_VERSION.starts_with(&format!("wasmtime-{pin}/")),
        "{ENGINE_VERSION} vs {pin}"
    );
    // And the runtime's default rules name it.
    assert_eq!(ContractVm::default().engine, ENGINE_VERSION);
}

#[test]
fn costs_come_from_the_table_and_change_the_compiled_code() {
    let e = engine();
    let mut vm = ContractVm::default();
    vm.costs.simple = 3;
    vm.costs.branch = 5;
    let code = wat::parse_str(counted(50)).unwrap();
    let c = e
        .prepare_with(&code, &Limits::default(), &vm, env, &["call"], true, false)
        .unwrap();
    assert_ne!(c.vm, ContractVm::default().id());
    let out = e.call(&c, &e.linker_for::<Vec<i32>>(&c), vec![], "call", 10_000_000);
    assert!(out.result.is_ok());
    assert_eq!(out.gas_used, counted_gas(50, &vm.costs));
    // The default rules' module is another, with its own gas.
    assert_eq!(gas_of(&e, 50), counted_gas(50, &InstructionCosts::default()));
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

#[test]
fn memory_is_paid_by_the_page_at_the_end_of_a_call() {
    let e = engine();
    let with_pages = |min: u32, max: u32, grow: u32| {
        format!(
            r#"(module (memory (export "memory") {min} {max})
            (func (export "call") (drop (memory.grow (i32.const {grow})))))"#
        )
    };
    let page = ContractVm::default().memory_page as u64;
    let gas = |src: &str, limit: u64| {
        let c = prepare(&e, src).unwrap();
        let out = e.call(&c, &linker(&e), vec![], "call", limit);
        (out.result, out.gas_used)
    };
    // The same instructions; 1 page, 5 declared pages, and 1 page grown to 5.
    let (r1, one) = gas(&with_pages(1, 16, 0), 1_000_000);
    let (r5, five) = gas(&with_pages(5, 16, 0), 1_000_000);
    assert!(r1.is_ok() && r5.is_ok());
    assert_eq!(five - one, 4 * page, "four pages more, declared");
    let (rg, grown) = gas(&with_pages(1, 16, 4), 1_000_000);
    assert!(rg.is_ok());
    // memory.grow of 4 pages: its own cost and 4 per page on the table, and 4 pages at the end.
    let c = InstructionCosts::default();
    assert_eq!(grown - one, 4 * page + c.memory_grow_per_page as u64 * 4);
    // Short of the pages' charge: out of gas, all of it used.
    let (r, used) = gas(&with_pages(5, 16, 0), five - 1);
    assert!(matches!(r, Err(ContractError::OutOfGas { .. })), "{r:?}");
    assert_eq!(used, five - 1);
}
