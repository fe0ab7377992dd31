use super::*;
use proptest::prelude::*;
use wasmtime::{Engine, Instance, Store, Val};

fn run(code: &[u8], export: &str, args: &[Val], results: usize) -> Result<Vec<Val>, wasmtime::Error> {
    let engine = Engine::default();
    let module = wasmtime::Module::new(&engine, code)?;
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[])?;
    let f = instance.get_func(&mut store, export).expect("export");
    let mut out = vec![Val::I32(0); results];
    f.call(&mut store, args, &mut out)?;
    Ok(out)
}

fn height(code: &[u8], export: &str) -> i32 {
    let engine = Engine::default();
    let module = wasmtime::Module::new(&engine, code).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    instance
        .get_global(&mut store, export)
        .unwrap()
        .get(&mut store)
        .unwrap_i32()
}

/// `depth(n)` recurses n levels. One parameter, no locals, and its operand stack holds at most
/// 2 values (`local.get 0`, `i32.const 1` before `i32.sub`), so by hand its frame is
/// FRAME_OVERHEAD + 1 + 0 + 2.
const RECURSE: &str = r#"(module
  (func $depth (export "depth") (param i32) (result i32)
    local.get 0
    i32.eqz
    if (result i32)
      i32.const 0
    else
      local.get 0
      i32.const 1
      i32.sub
      call $depth
      i32.const 1
      i32.add
    end))"#;

#[test]
fn recursion_stops_exactly_at_the_limit_in_wasm_units() {
    let frame = FRAME_OVERHEAD + 3;
    let limit = 100 * frame + frame / 2;
    let code = inject_stack_limit(&wat::parse_str(RECURSE).unwrap(), limit)
        .unwrap()
        .code;
    // depth(n) has n + 1 frames live at its deepest: 100 fit, 101 do not.
    let ok = run(&code, "depth", &[Val::I32(99)], 1).unwrap();
    assert_eq!(ok[0].unwrap_i32(), 99);
    let err = run(&code, "depth", &[Val::I32(100)], 1).unwrap_err();
    assert_eq!(
        err.downcast_ref::<wasmtime::Trap>(),
        Some(&wasmtime::Trap::UnreachableCodeReached)
    );
}

#[test]
fn the_height_returns_to_zero_after_every_kind_of_exit() {
    // Exits: falling off the end, `return` inside nested blocks, a branch to the body's label,
    // and br_table to it; the results must survive each.
    let src = r#"(module
      (func $a (param i32) (result i32 i32)
        block
          block
            local.get 0
            i32.const 1
            i32.eq
            if
              i32.const 10
              i32.const 11
              return
            end
            local.get 0
            i32.const 2
            i32.eq
            br_if 1
          end
        end
        local.get 0
        i32.const 3
        i32.eq
        if
          i32.const 30
          i32.const 31
          br 1
        end
        i32.const 40
        i32.const 41
        local.get 0
        br_table 0 0)
      (func (export "go") (param i32) (result i32)
        local.get 0
        call $a
        i32.add))"#;
    let original = wat::parse_str(src).unwrap();
    let inst = inject_stack_limit(&original, 10_000).unwrap();
    for n in 0..5 {
        let want = run(&original, "go", &[Val::I32(n)], 1).unwrap()[0].unwrap_i32();
        let engine = Engine::default();
        let module = wasmtime::Module::new(&engine, &inst.code).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let f = instance.get_typed_func::<i32, i32>(&mut store, "go").unwrap();
        assert_eq!(f.call(&mut store, n).unwrap(), want, "input {n}");
        let h = instance.get_global(&mut store, &inst.height_export).unwrap();
        assert_eq!(h.get(&mut store).unwrap_i32(), 0, "height after input {n}");
    }
}

#[test]
fn the_stack_limit_trap_leaves_the_height_above_the_limit() {
    let limit = 1_000;
    let inst = inject_stack_limit(&wat::parse_str(RECURSE).unwrap(), limit).unwrap();
    let engine = Engine::default();
    let module = wasmtime::Module::new(&engine, &inst.code).unwrap();
    let mut store = Store::new(&engine, ());
    let instance = Instance::new(&mut store, &module, &[]).unwrap();
    let f = instance.get_typed_func::<i32, i32>(&mut store, "depth").unwrap();
    assert!(f.call(&mut store, 1_000).is_err());
    let h = instance
        .get_global(&mut store, &inst.height_export)
        .unwrap()
        .get(&mut store)
        .unwrap_i32();
    assert!(h as u32 > limit, "height {h} after the trap");
    // A plain `unreachable` leaves it within the limit: the engine can tell the two apart.
    assert_eq!(height(&inst.code, &inst.height_export), 0);
}

#[test]
fn frames_count_locals_params_and_operand_depth() {
    // Two params, 5 + 3 locals, an operand stack 4 deep.
    let src = r#"(module (func (export "f") (param i32 i64) (local i32 i32 i32 i32 i32) (local i64 i64 i64)
        i32.const 1 i32.const 2 i32.const 3 i32.const 4 i32.add i32.add i32.add drop))"#;
    let inst = inject_stack_limit(&wat::parse_str(src).unwrap(), 1_000).unwrap();
    assert_eq!(inst.deepest_frame, FRAME_OVERHEAD + 2 + 8 + 4);
}

#[test]
fn a_taken_export_name_is_not_reused() {
    let src = r#"(module (global (export "__watt_stack_height") i32 (i32.const 7)) (func (export "f")))"#;
    let inst = inject_stack_limit(&wat::parse_str(src).unwrap(), 1_000).unwrap();
    assert_ne!(inst.height_export, "__watt_stack_height");
    assert_eq!(height(&inst.code, "__watt_stack_height"), 7);
    run(&inst.code, "f", &[], 0).unwrap();
}

#[test]
fn modules_without_globals_exports_or_functions_are_instrumented() {
    for src in [
        "(module)",
        "(module (memory 1))",
        r#"(module (func) (data (i32.const 0) "x") (memory 1))"#,
        r#"(module (import "e" "f" (func)) (memory 1) (data (i32.const 0) "x"))"#,
    ] {
        let inst = inject_stack_limit(&wat::parse_str(src).unwrap(), 1_000).unwrap();
        wasmparser::Validator::new_with_features(features())
            .validate_all(&inst.code)
            .unwrap_or_else(|e| panic!("{src}: {e}"));
    }
}

#[test]
fn invalid_modules_are_refused() {
    assert!(matches!(
        inject_stack_limit(b"\0asm\x01\0\0\0\x01", 10),
        Err(InstrumentError::Invalid(_))
    ));
    assert!(inject_stack_limit(b"not wasm", 10).is_err());
}

/// A random function body over one i32 parameter: nested blocks, ifs, loops that run a bounded
/// number of times, early returns and arithmetic that cannot trap.
#[derive(Clone, Debug)]
enum Stmt {
    Add(i32),
    Mul(i32),
    Xor(i32),
    ReturnIfOdd,
    Block(Vec<Stmt>),
    IfPositive(Vec<Stmt>, Vec<Stmt>),
    Repeat(u8, Vec<Stmt>),
    CallHelper,
}

fn stmt() -> impl Strategy<Value = Stmt> {
    let leaf = prop_oneof![
        any::<i32>().prop_map(Stmt::Add),
        any::<i32>().prop_map(Stmt::Mul),
        any::<i32>().prop_map(Stmt::Xor),
        Just(Stmt::ReturnIfOdd),
        Just(Stmt::CallHelper),
    ];
    leaf.prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Stmt::Block),
            (
                prop::collection::vec(inner.clone(), 0..4),
                prop::collection::vec(inner.clone(), 0..4)
            )
                .prop_map(|(a, b)| Stmt::IfPositive(a, b)),
            (1u8..4, prop::collection::vec(inner, 0..4)).prop_map(|(n, b)| Stmt::Repeat(n, b)),
        ]
    })
}

fn emit(s: &Stmt, out: &mut String, counter: &mut u32) {
    match s {
        Stmt::Add(k) => out.push_str(&format!("local.get 0 i32.const {k} i32.add local.set 0\n")),
        Stmt::Mul(k) => out.push_str(&format!("local.get 0 i32.const {k} i32.mul local.set 0\n")),
        Stmt::Xor(k) => out.push_str(&format!("local.get 0 i32.const {k} i32.xor local.set 0\n")),
        Stmt::ReturnIfOdd => out.push_str("local.get 0 i32.const 1 i32.and if local.get 0 return end\n"),
        Stmt::CallHelper => out.push_str("local.get 0 call $helper local.set 0\n"),
        Stmt::Block(b) => {
            out.push_str("block\n");
            b.iter().for_each(|s| emit(s, out, counter));
            out.push_str("end\n");
        }
        Stmt::IfPositive(a, b) => {
            out.push_str("local.get 0 i32.const 0 i32.gt_s if\n");
            a.iter().for_each(|s| emit(s, out, counter));
            out.push_str("else\n");
            b.iter().for_each(|s| emit(s, out, counter));
            out.push_str("end\n");
        }
        Stmt::Repeat(n, b) => {
            // A loop counter local of its own: loops nest.
            *counter += 1;
            let c = *counter;
            out.push_str(&format!("i32.const {n} local.set {c} loop\n"));
            b.iter().for_each(|s| emit(s, out, counter));
            out.push_str(&format!(
                "local.get {c} i32.const 1 i32.sub local.tee {c} br_if 0 end\n"
            ));
        }
    }
}

fn program(body: &[Stmt]) -> String {
    let mut text = String::new();
    let mut counter = 0;
    body.iter().for_each(|s| emit(s, &mut text, &mut counter));
    format!(
        r#"(module
          (func $helper (param i32) (result i32) local.get 0 i32.const 7 i32.rotl i32.const 3 i32.add)
          (func (export "f") (param i32) (result i32) (local {locals})
            {text}
            local.get 0))"#,
        locals = "i32 ".repeat(counter as usize + 1)
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Instrumented code validates, computes what the original computed, and leaves the height
    /// at zero, whatever mix of blocks, loops, early returns and calls the body has.
    #[test]
    fn instrumented_code_computes_what_the_original_did(
        body in prop::collection::vec(stmt(), 0..8),
        input in any::<i32>(),
    ) {
        let original = wat::parse_str(program(&body)).unwrap();
        let inst = inject_stack_limit(&original, 1 << 20).unwrap();
        let want = run(&original, "f", &[Val::I32(input)], 1).unwrap()[0].unwrap_i32();
        let engine = Engine::default();
        let module = wasmtime::Module::new(&engine, &inst.code).unwrap();
        let mut store = Store::new(&engine, ());
        let instance = Instance::new(&mut store, &module, &[]).unwrap();
        let f = instance.get_typed_func::<i32, i32>(&mut store, "f").unwrap();
        prop_assert_eq!(f.call(&mut store, input).unwrap(), want);
        let h = instance.get_global(&mut store, &inst.height_export).unwrap().get(&mut store).unwrap_i32();
        prop_assert_eq!(h, 0);
    }

    /// Arbitrary bytes never panic the instrumenter.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let mut code = b"\0asm\x01\0\0\0".to_vec();
        code.extend_from_slice(&bytes);
        let _ = inject_stack_limit(&code, 1_000);
        let _ = inject_stack_limit(&bytes, 1_000);
    }
}
