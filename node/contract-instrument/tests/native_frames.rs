//! How many native stack bytes one wasm value of the stack meter's count takes, for shapes that
//! stress it (a measurement, not a check: BENCHMARKS.md, "Contract stack"). The engine's native
//! stack per contract must stay well above the limit in values times the worst figure here.
//!
//! `cargo test -p watt-contract-instrument --test native_frames -- --ignored --nocapture`

use wasmtime::{Config, Engine, Instance, Module, OptLevel, Store, Trap};
use watt_contract_instrument::inject_stack_limit;

const NATIVE: usize = 256 * 1024;

/// Recurses `f` until the native stack runs out (the meter's limit is out of reach) and prints
/// the meter's height then: native bytes per counted value.
fn probe(name: &str, src: &str) {
    let code = wat::parse_str(src).unwrap();
    let inst = inject_stack_limit(&code, u32::MAX / 4).unwrap();
    let mut cfg = Config::new();
    cfg.max_wasm_stack(NATIVE)
        .consume_fuel(true)
        .cranelift_opt_level(OptLevel::Speed);
    let engine = Engine::new(&cfg).unwrap();
    let module = Module::new(&engine, &inst.code).unwrap();
    let mut store = Store::new(&engine, ());
    store.set_fuel(u64::MAX / 2).unwrap();
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let f = instance.get_typed_func::<i32, i32>(&mut store, "f").unwrap();
    let err = f.call(&mut store, 10_000_000).unwrap_err();
    assert_eq!(err.downcast_ref::<Trap>(), Some(&Trap::StackOverflow), "{name}");
    let height = instance
        .get_global(&mut store, &inst.height_export)
        .unwrap()
        .get(&mut store)
        .unwrap_i32();
    println!(
        "{name}: frame {} values, {height} values at the native limit, {:.2} native bytes per value",
        inst.deepest_frame,
        NATIVE as f64 / height as f64
    );
}

#[test]
#[ignore = "a measurement: run with --ignored --nocapture"]
fn native_bytes_per_counted_value() {
    probe(
        "tiny recursion",
        r#"(module (func $f (export "f") (param i32) (result i32) local.get 0 i32.const 1 i32.sub call $f))"#,
    );
    let sets: String = (1..33)
        .map(|i| format!("local.get 0 i64.extend_i32_u i64.const {i} i64.mul local.set {i} "))
        .collect();
    let gets: String = (1..33)
        .map(|i| format!("local.get {i} i32.wrap_i64 i32.add "))
        .collect();
    probe(
        "32 i64 locals live across the call",
        &format!(
            r#"(module (func $f (export "f") (param i32) (result i32) (local {}) {sets} local.get 0 i32.const 1 i32.sub call $f {gets}))"#,
            "i64 ".repeat(32)
        ),
    );
    let pushes: String = (1..33).map(|i| format!("local.get 0 i32.const {i} i32.mul ")).collect();
    probe(
        "32 operands live across the call",
        &format!(
            r#"(module (func $f (export "f") (param i32) (result i32) {pushes} local.get 0 i32.const 1 i32.sub call $f {}))"#,
            "i32.add ".repeat(32)
        ),
    );
    let args: String = (1..16).map(|i| format!("local.get {i} ")).collect();
    let sum: String = (1..16).map(|i| format!("local.get {i} i32.add ")).collect();
    let consts: String = (1..16).map(|i| format!("i32.const {i} ")).collect();
    probe(
        "16 parameters",
        &format!(
            r#"(module
            (func $g (param {}) (result i32) local.get 0 i32.const 1 i32.sub {args} call $g {sum})
            (func (export "f") (param i32) (result i32) local.get 0 {consts} call $g))"#,
            "i32 ".repeat(16)
        ),
    );
}
