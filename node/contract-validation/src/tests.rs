//! Each rule refuses what it names and nothing else: a minimal valid contract is accepted, and
//! each test changes one thing about it.

use super::*;
use proptest::prelude::*;

fn env(module: &str, name: &str) -> bool {
    module == "watt" && matches!(name, "input" | "output" | "storage_get" | "storage_set")
}

fn check(wat: &str) -> Result<CodeSummary, ValidationError> {
    check_with(wat, &Limits::default())
}

fn check_with(wat: &str, limits: &Limits) -> Result<CodeSummary, ValidationError> {
    let code = wat::parse_str(wat).expect("test modules are valid text");
    validate(&code, limits, env, &["call", "deploy"])
}

/// A contract in the shape the environment expects, with `extra` spliced into the module.
fn contract(extra: &str) -> String {
    contract_importing("", extra)
}

/// [`contract`] with one more import (imports come first in a module).
fn contract_importing(import: &str, extra: &str) -> String {
    format!(
        r#"(module
            {import}
            (import "watt" "input" (func $input (param i32 i32)))
            (import "watt" "output" (func $output (param i32 i32)))
            (memory (export "memory") 1 4)
            (func (export "call") (call $input (i32.const 0) (i32.const 0)))
            (func (export "deploy"))
            {extra})"#
    )
}

#[test]
fn a_minimal_contract_is_accepted_and_summarized() {
    let s = check(&contract("")).unwrap();
    assert_eq!(
        s,
        CodeSummary {
            functions: 2,
            imported_functions: 2,
            memory_pages: 4,
            memory_imported: false,
            exported_functions: vec!["call".into(), "deploy".into()],
        }
    );
    // Extra exports of any kind and type, the memory exported under a second name, and
    // segments that fit exactly are all fine.
    let s = check(&contract(
        r#"(export "heap" (memory 0)) (func (export "helper") (param i32) (result i64) (i64.const 0))
           (global (export "g") i32 (i32.const 0)) (table (export "t") 2 2 funcref)
           (elem (i32.const 1) func 0) (data (i32.const 65534) "ab") (data "passive, never placed")"#,
    ))
    .unwrap();
    assert_eq!(s.exported_functions, ["call", "deploy", "helper"]);
    assert_eq!((s.memory_imported, s.memory_pages), (false, 4));
}

#[test]
fn imports_outside_the_environment_are_refused() {
    let err = check(&contract_importing(r#"(import "env" "abort" (func))"#, "")).unwrap_err();
    assert_eq!(
        err,
        ValidationError::ForbiddenImport {
            module: "env".into(),
            name: "abort".into()
        }
    );
    let err = check(&contract_importing(r#"(import "watt" "seal_call" (func))"#, "")).unwrap_err();
    assert!(matches!(err, ValidationError::ForbiddenImport { .. }), "{err}");
    let err = check(&contract_importing(r#"(import "watt" "g" (global i32))"#, "")).unwrap_err();
    assert!(
        matches!(err, ValidationError::ForbiddenImportKind { kind: "global", .. }),
        "{err}"
    );
}

#[test]
fn a_start_function_is_refused() {
    let err = check(&contract("(func $s) (start $s)")).unwrap_err();
    assert_eq!(err, ValidationError::StartFunction);
}

#[test]
fn floats_are_refused_unless_allowed() {
    let with_float = contract("(func (result f32) (f32.const 1.5))");
    let err = check(&with_float).unwrap_err();
    assert!(
        matches!(err, ValidationError::Invalid(ref m) if m.contains("float")),
        "{err}"
    );
    let allowed = Limits {
        allow_floats: true,
        ..Limits::default()
    };
    assert!(check_with(&with_float, &allowed).is_ok());
    // A float local alone is refused too.
    let err = check(&contract("(func (local f64))")).unwrap_err();
    assert!(matches!(err, ValidationError::Invalid(_)), "{err}");
}

#[test]
fn non_deterministic_features_are_refused() {
    for (what, extra) in [
        ("simd", "(func (result v128) (v128.const i64x2 0 0))"),
        ("threads", "(func (i32.atomic.store (i32.const 0) (i32.const 0)))"),
        ("reference types", "(func (result externref) (ref.null extern))"),
    ] {
        let err = check(&contract(extra)).unwrap_err();
        assert!(matches!(err, ValidationError::Invalid(_)), "{what}: {err}");
    }
    // Bulk memory and sign extension are deterministic and allowed (Rust emits them).
    assert!(check(&contract(
        "(func (memory.copy (i32.const 0) (i32.const 8) (i32.const 4)) (drop (i32.extend8_s (i32.const 1))))"
    ))
    .is_ok());
}

#[test]
fn memories_must_be_single_and_bounded() {
    let unbounded = r#"(module (memory (export "memory") 1) (func (export "call")) (func (export "deploy")))"#;
    assert_eq!(
        check(unbounded).unwrap_err(),
        ValidationError::UnboundedMemory { max: 16 }
    );
    let big = r#"(module (memory (export "memory") 1 17) (func (export "call")) (func (export "deploy")))"#;
    assert_eq!(
        check(big).unwrap_err(),
        ValidationError::MemoryTooLarge { pages: 17, max: 16 }
    );
    let at_limit = r#"(module (memory (export "memory") 1 16) (func (export "call")) (func (export "deploy")))"#;
    assert!(check(at_limit).is_ok());
    let two = r#"(module (import "watt" "memory" (memory 1 2)) (memory 1 2) (func (export "call")) (func (export "deploy")))"#;
    // Multiple memories are not even a valid module under the allowed features.
    assert!(check(two).is_err());
}

#[test]
fn tables_must_be_bounded() {
    let err = check(&contract("(table 1 funcref)")).unwrap_err();
    assert_eq!(
        err,
        ValidationError::TableTooLarge {
            elements: u64::MAX,
            max: 4_096
        }
    );
    assert!(check(&contract("(table 1 8 funcref)")).is_ok());
}

#[test]
fn counts_over_their_limits_are_refused() {
    let limits = Limits {
        max_functions: 3,
        max_locals: 4,
        max_params: 3,
        max_globals: 1,
        max_exports: 3,
        ..Limits::default()
    };
    // 2 functions in the base contract: 2 more make 4 > 3.
    let err = check_with(&contract("(func) (func)"), &limits).unwrap_err();
    assert_eq!(
        err,
        ValidationError::TooMany {
            what: "functions",
            count: 4,
            max: 3
        }
    );
    let err = check_with(&contract("(func (local i32 i32 i32 i64 i64))"), &limits).unwrap_err();
    assert_eq!(
        err,
        ValidationError::TooManyLocals {
            function: 2,
            count: 5,
            max: 4
        }
    );
    assert!(check_with(&contract("(func (local i32 i32 i64 i64))"), &limits).is_ok());
    let err = check_with(
        &contract("(func (param i32 i32 i32) (result i32) (i32.const 0))"),
        &limits,
    )
    .unwrap_err();
    assert_eq!(err, ValidationError::TooManyParams { count: 4, max: 3 });
    let err = check_with(
        &contract("(global (mut i32) (i32.const 0)) (global (mut i32) (i32.const 0))"),
        &limits,
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            ValidationError::TooMany {
                what: "globals",
                count: 2,
                ..
            }
        ),
        "{err}"
    );
    // memory, call, deploy + 1 = 4 exports > 3.
    let err = check_with(&contract(r#"(func (export "x"))"#), &limits).unwrap_err();
    assert!(
        matches!(
            err,
            ValidationError::TooMany {
                what: "exports",
                count: 4,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_corrupted_locals_declaration_is_an_error_not_a_panic() {
    // One local group declaring u32::MAX locals: the spec validator already bounds locals per
    // function (50,000), so this never reaches a compiler.
    let mut code = wat::parse_str(contract("(func)")).unwrap();
    // Find the last function body `02 00 0b` (size 2, no locals, end) and rewrite it to declare
    // a huge local group.
    let pos = code
        .windows(3)
        .rposition(|w| w == [0x02, 0x00, 0x0b])
        .expect("empty body");
    let body: Vec<u8> = vec![0x08, 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x7f, 0x0b];
    code.splice(pos..pos + 3, body.iter().copied());
    // The code section's size prefix is now stale: the module is invalid either way, and the
    // answer is an error, not a panic or an allocation.
    assert!(validate(&code, &Limits::default(), env, &[]).is_err());
}

#[test]
fn oversized_code_and_missing_exports_are_refused() {
    let code = wat::parse_str(contract("")).unwrap();
    let limits = Limits {
        max_code_len: code.len() - 1,
        ..Limits::default()
    };
    assert_eq!(
        validate(&code, &limits, env, &[]).unwrap_err(),
        ValidationError::TooLarge {
            len: code.len(),
            max: code.len() - 1
        }
    );
    let err = validate(&code, &Limits::default(), env, &["call", "upgrade"]).unwrap_err();
    assert_eq!(err, ValidationError::MissingExport("upgrade".into()));
    assert_eq!(err.to_string(), "contract code does not export the function `upgrade`");
}

#[test]
fn garbage_is_a_clear_error() {
    for bytes in [&b""[..], b"\0asm", b"\0asm\x01\0\0\0\x01", b"not wasm at all"] {
        let err = validate(bytes, &Limits::default(), env, &[]).unwrap_err();
        assert!(matches!(err, ValidationError::Invalid(_)), "{err}");
        assert!(err.to_string().starts_with("invalid contract wasm: "));
    }
}

proptest! {
    /// Arbitrary bytes never panic the validator.
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = validate(&bytes, &Limits::default(), env, &["call"]);
    }

    /// Corrupting a valid contract anywhere gives a verdict, never a panic; whatever is
    /// accepted still satisfies the limits.
    #[test]
    fn corrupted_contracts_are_judged_without_panics(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut code = wat::parse_str(contract("(func (local i32) (drop (i32.const 7)))")).unwrap();
        let i = at.index(code.len());
        code[i] = byte;
        if let Ok(s) = validate(&code, &Limits::default(), env, &[]) {
            prop_assert!(s.functions <= Limits::default().max_functions);
            prop_assert!(s.memory_pages <= Limits::default().max_memory_pages);
        }
    }
}

/// A module whose `call` nests `blocks` blocks around `loops` loops.
fn nested(blocks: usize, loops: usize) -> Vec<u8> {
    let open = "(block ".repeat(blocks) + &"(loop ".repeat(loops);
    let close = ")".repeat(blocks + loops);
    wat::parse_str(format!(
        r#"(module (memory (export "memory") 1 1) (func (export "deploy")) (func (export "call") {open}{close}))"#
    ))
    .unwrap()
}

#[test]
fn nesting_deeper_than_the_limits_is_refused() {
    let limits = Limits::default();
    let check = |code: Vec<u8>| validate(&code, &limits, |_, _| true, &["deploy", "call"]);
    // The function body is the outermost frame: 255 more fit in 256.
    assert!(check(nested(255, 0)).is_ok());
    assert_eq!(
        check(nested(256, 0)),
        Err(ValidationError::TooDeep {
            function: 1,
            what: "blocks",
            depth: 257,
            max: 256
        })
    );
    assert!(check(nested(0, 32)).is_ok());
    assert_eq!(
        check(nested(3, 33)),
        Err(ValidationError::TooDeep {
            function: 1,
            what: "loops",
            depth: 33,
            max: 32
        })
    );
    // Sequential (not nested) blocks do not add up.
    let flat = wat::parse_str(format!(
        r#"(module (memory (export "memory") 1 1) (func (export "deploy")) (func (export "call") {}))"#,
        "(block (loop))".repeat(1_000)
    ))
    .unwrap();
    assert!(check(flat).is_ok());
}

// The module's shape the contract ABI requires (ABI.md "The module"): each of these the old
// validator accepted, and the engine then failed to link, instantiate or call at every call.

/// A module with `call` and `deploy` of the right type, and `body` spliced in.
fn module(body: &str) -> String {
    format!(r#"(module {body} (func (export "call")) (func (export "deploy")))"#)
}

#[test]
fn an_imported_memory_is_refused() {
    let expected = ValidationError::ImportedMemory {
        module: "watt".into(),
        name: "memory".into(),
    };
    assert_eq!(
        check(&module(r#"(import "watt" "memory" (memory 1 2))"#)),
        Err(expected.clone())
    );
    // Imported and re-exported as `memory`: still not the contract's own memory.
    assert_eq!(
        check(&module(
            r#"(import "watt" "memory" (memory 1 2)) (export "memory" (memory 0))"#
        )),
        Err(expected.clone())
    );
    // Refused even when the environment offers that name (it offers functions only).
    let code = wat::parse_str(module(r#"(import "watt" "memory" (memory 1 2))"#)).unwrap();
    assert_eq!(
        validate(&code, &Limits::default(), |_, _| true, &[]),
        Err(expected.clone())
    );
    assert_eq!(
        expected.to_string(),
        "the memory is imported as `watt`.`memory`; a contract must define its own memory and export it as `memory`"
    );
    // A table import is refused as before, with a message that no longer offers the memory.
    let err = check(&contract_importing(r#"(import "watt" "t" (table 1 1 funcref))"#, "")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "import `watt`.`t` is a table; contracts may import only functions"
    );
}

#[test]
fn a_module_without_memory_is_refused() {
    assert_eq!(check(&module("")), Err(ValidationError::NoMemory { max: 16 }));
    let limits = Limits {
        max_memory_pages: 3,
        ..Limits::default()
    };
    let err = check_with(&module(""), &limits).unwrap_err();
    assert_eq!(err, ValidationError::NoMemory { max: 3 });
    assert_eq!(
        err.to_string(),
        "contract code defines no memory; define one with a maximum of at most 3 pages and export it as `memory`"
    );
}

#[test]
fn the_memory_must_be_exported_as_memory() {
    for (what, body) in [
        ("not exported", "(memory 1 1)"),
        ("exported under another name", r#"(memory (export "mem") 1 1)"#),
        (
            "exported under two other names",
            r#"(memory (export "heap") (export "mem") 1 1)"#,
        ),
        (
            "`memory` names a function",
            r#"(memory (export "heap") 1 1) (func (export "memory"))"#,
        ),
        (
            "`memory` names a global",
            r#"(memory 1 1) (global (export "memory") i32 (i32.const 0))"#,
        ),
        ("`Memory` is another name", r#"(memory (export "Memory") 1 1)"#),
    ] {
        assert_eq!(check(&module(body)), Err(ValidationError::MemoryNotExported), "{what}");
    }
    // Under two names, one of them `memory`: the host finds it.
    assert!(check(&module(r#"(memory (export "heap") (export "memory") 1 1)"#)).is_ok());
    assert_eq!(
        ValidationError::MemoryNotExported.to_string(),
        "the memory is not exported as `memory`; the environment reads and writes the contract's memory through that export"
    );
}

#[test]
fn required_exports_must_be_functions() {
    let mem = r#"(memory (export "memory") 1 1)"#;
    let cases = [
        (
            format!(r#"(module {mem} (global (export "deploy") i32 (i32.const 0)) (func (export "call")))"#),
            "deploy",
            "global",
        ),
        (
            r#"(module (memory (export "memory") (export "call") 1 1) (func (export "deploy")))"#.to_string(),
            "call",
            "memory",
        ),
        (
            format!(r#"(module {mem} (table (export "call") 1 1 funcref) (func (export "deploy")))"#),
            "call",
            "table",
        ),
    ];
    for (wat, name, kind) in &cases {
        assert_eq!(
            check(wat),
            Err(ValidationError::ExportNotAFunction {
                name: (*name).into(),
                kind
            }),
            "{wat}"
        );
    }
    let err = check(&cases[0].0).unwrap_err();
    assert_eq!(
        err.to_string(),
        "export `deploy` is a global; the environment calls it, so it must be a function of type () -> ()"
    );
}

#[test]
fn required_exports_must_have_type_unit_to_unit() {
    let mem = r#"(memory (export "memory") 1 1)"#;
    for (wat, name, found) in [
        (
            format!(r#"(module {mem} (func (export "call") (param i32)) (func (export "deploy")))"#),
            "call",
            "(i32) -> ()",
        ),
        (
            format!(r#"(module {mem} (func (export "call")) (func (export "deploy") (result i32) (i32.const 0)))"#),
            "deploy",
            "() -> (i32)",
        ),
        (
            format!(
                r#"(module {mem} (func (export "call") (param i32 i64) (result i32 i64) (i32.const 0) (i64.const 0))
                   (func (export "deploy")))"#
            ),
            "call",
            "(i32, i64) -> (i32, i64)",
        ),
        // An imported function re-exported: function indices count imports first, so this is
        // `output`'s type, not that of the first defined function (which is `() -> ()`).
        (
            format!(
                r#"(module (import "watt" "output" (func $out (param i32 i32))) {mem}
                   (func (export "call")) (export "deploy" (func $out)))"#
            ),
            "deploy",
            "(i32, i32) -> ()",
        ),
    ] {
        assert_eq!(
            check(&wat),
            Err(ValidationError::ExportWrongType {
                name: name.into(),
                found: found.into()
            }),
            "{wat}"
        );
    }
    let err = ValidationError::ExportWrongType {
        name: "call".into(),
        found: "(i32) -> ()".into(),
    };
    assert_eq!(
        err.to_string(),
        "export `call` is a function of type (i32) -> (); the environment calls it as () -> ()"
    );
    // A function defined after imports, exported by index: its own type decides.
    assert!(check(&contract("")).is_ok());
}

#[test]
fn an_environment_function_imported_twice_is_refused() {
    let twice = r#"(import "watt" "input" (func (param i32 i32)))"#;
    assert_eq!(
        check(&contract_importing(twice, "")),
        Err(ValidationError::DuplicateImport {
            module: "watt".into(),
            name: "input".into()
        })
    );
    // Under another type too (the linker defines each name once, whatever the type).
    let other_type = r#"(import "watt" "input" (func (param i32) (result i32)))"#;
    assert!(matches!(
        check(&contract_importing(other_type, "")),
        Err(ValidationError::DuplicateImport { .. })
    ));
    // The same name from two modules is two imports.
    let code = wat::parse_str(module(
        r#"(import "a" "x" (func)) (import "b" "x" (func)) (memory (export "memory") 1 1)"#,
    ))
    .unwrap();
    assert!(validate(&code, &Limits::default(), |_, _| true, &["call", "deploy"]).is_ok());
    assert_eq!(
        ValidationError::DuplicateImport {
            module: "watt".into(),
            name: "input".into()
        }
        .to_string(),
        "import `watt`.`input` appears more than once; import each environment function once"
    );
}

#[test]
fn data_segments_must_fit_the_initial_memory() {
    // The base contract's memory starts at 1 page (65,536 bytes).
    assert_eq!(
        check(&contract(r#"(data (i32.const 65535) "ab")"#)),
        Err(ValidationError::DataOutOfBounds {
            segment: 0,
            end: 65_537,
            size: 65_536
        })
    );
    // The second segment, after one that fits.
    assert_eq!(
        check(&contract(r#"(data (i32.const 0) "a") (data (i32.const 65536) "b")"#)),
        Err(ValidationError::DataOutOfBounds {
            segment: 1,
            end: 65_537,
            size: 65_536
        })
    );
    // A negative offset is a huge unsigned one.
    assert_eq!(
        check(&contract(r#"(data (i32.const -1) "a")"#)),
        Err(ValidationError::DataOutOfBounds {
            segment: 0,
            end: 4_294_967_296,
            size: 65_536
        })
    );
    // The initial size counts, not the maximum the memory may grow to.
    let grows = module(r#"(memory (export "memory") 0 4) (data (i32.const 0) "x")"#);
    assert_eq!(
        check(&grows),
        Err(ValidationError::DataOutOfBounds {
            segment: 0,
            end: 1,
            size: 0
        })
    );
    // An empty segment at the very end fits; one past it does not (bulk-memory semantics).
    assert!(check(&module(r#"(memory (export "memory") 0 4) (data (i32.const 0) "")"#)).is_ok());
    assert_eq!(
        check(&module(r#"(memory (export "memory") 0 4) (data (i32.const 1) "")"#)),
        Err(ValidationError::DataOutOfBounds {
            segment: 0,
            end: 1,
            size: 0
        })
    );
    assert!(check(&contract(r#"(data (i32.const 65534) "ab")"#)).is_ok());
    assert_eq!(
        ValidationError::DataOutOfBounds {
            segment: 2,
            end: 10,
            size: 8
        }
        .to_string(),
        "data segment 2 ends at byte 10, past the memory's initial 8 bytes"
    );
}

#[test]
fn element_segments_must_fit_the_initial_table() {
    assert_eq!(
        check(&contract("(table 2 8 funcref) (elem (i32.const 1) func 0 0)")),
        Err(ValidationError::ElementsOutOfBounds {
            segment: 0,
            end: 3,
            size: 2
        })
    );
    assert_eq!(
        check(&contract(
            "(table 2 8 funcref) (elem (i32.const 0) func 0 0) (elem (i32.const 2) func 0)"
        )),
        Err(ValidationError::ElementsOutOfBounds {
            segment: 1,
            end: 3,
            size: 2
        })
    );
    assert!(check(&contract("(table 2 8 funcref) (elem (i32.const 0) func 0 0)")).is_ok());
    // Passive and declared segments are placed by code, if ever: no bound at instantiation.
    assert!(check(&contract("(table 0 8 funcref) (elem func 0 0 0)")).is_ok());
    assert_eq!(
        ValidationError::ElementsOutOfBounds {
            segment: 0,
            end: 3,
            size: 2
        }
        .to_string(),
        "element segment 0 ends at element 3, past the table's initial 2 elements"
    );
}

#[test]
fn initial_sizes_are_bounded_by_the_limits() {
    // A memory or table minimum over the limit: its maximum is too (wasm requires min <= max).
    assert_eq!(
        check(&module(r#"(memory (export "memory") 17 17)"#)),
        Err(ValidationError::MemoryTooLarge { pages: 17, max: 16 })
    );
    assert!(matches!(
        check(&module(r#"(memory (export "memory") 17 16)"#)),
        Err(ValidationError::Invalid(_))
    ));
    assert_eq!(
        check(&contract("(table 5000 5000 funcref)")),
        Err(ValidationError::TableTooLarge {
            elements: 5000,
            max: 4096
        })
    );
    // Duplicate export names are invalid wasm.
    assert!(matches!(
        check(&contract(r#"(func (export "call"))"#)),
        Err(ValidationError::Invalid(ref m)) if m.contains("duplicate export")
    ));
}

/// What the environment's `deploy` export is, in a generated module.
#[derive(Clone, Debug)]
enum Deploy {
    Func { params: usize, results: usize },
    Global,
    Missing,
}

/// The memory of a generated module.
#[derive(Clone, Debug)]
enum Memory {
    None,
    /// Defined, exported under these names.
    Defined(Vec<&'static str>),
    /// Imported, re-exported as `memory` or not.
    Imported(bool),
}

fn memory_strategy() -> impl Strategy<Value = Memory> {
    // Mostly a defined memory, mostly exported as `memory`, so that the later rules are reached.
    let names = (
        prop::bool::weighted(0.8),
        prop::sample::subsequence(vec!["heap", "mem"], 0..=2),
    )
        .prop_map(|(as_memory, mut names)| {
            if as_memory {
                names.push("memory");
            }
            Memory::Defined(names)
        });
    prop_oneof![
        1 => Just(Memory::None),
        6 => names,
        1 => any::<bool>().prop_map(Memory::Imported),
    ]
}

fn deploy_strategy() -> impl Strategy<Value = Deploy> {
    prop_oneof![
        6 => (0..3usize, 0..3usize).prop_map(|(params, results)| Deploy::Func { params, results }),
        1 => Just(Deploy::Global),
        1 => Just(Deploy::Missing),
    ]
}

proptest! {
    /// Generated module shapes get exactly the verdict the ABI's rules give, stated here
    /// independently of the validator, in the order it reports them.
    #[test]
    fn module_shapes_get_the_abi_verdict(
        memory in memory_strategy(),
        deploy in deploy_strategy(),
        import_twice in prop::bool::weighted(0.1),
        data in proptest::option::of((65_530u32..65_540, 0usize..4)),
    ) {
        let mut wat = String::from("(module\n");
        if let Memory::Imported(_) = memory {
            wat += r#"(import "watt" "memory" (memory 1 1))"#;
        }
        wat += r#"(import "watt" "input" (func (param i32 i32)))"#;
        if import_twice {
            wat += r#"(import "watt" "input" (func (param i32 i32)))"#;
        }
        match &memory {
            Memory::Defined(names) => {
                wat += "(memory";
                for n in names {
                    wat += &format!(r#" (export "{n}")"#);
                }
                wat += " 1 1)";
            }
            Memory::Imported(true) => wat += r#"(export "memory" (memory 0))"#,
            _ => {}
        }
        // Data needs a memory (else the module is not even valid wasm).
        let data = if matches!(memory, Memory::None) { None } else { data };
        if let Some((offset, len)) = data {
            wat += &format!(r#"(data (i32.const {offset}) "{}")"#, "x".repeat(len));
        }
        wat += r#"(func (export "call"))"#;
        match deploy {
            Deploy::Func { params, results } => {
                wat += &format!(
                    r#"(func (export "deploy") {} {} {})"#,
                    if params > 0 { format!("(param{})", " i32".repeat(params)) } else { String::new() },
                    if results > 0 { format!("(result{})", " i32".repeat(results)) } else { String::new() },
                    "(i32.const 0)".repeat(results),
                )
            }
            Deploy::Global => wat += r#"(global (export "deploy") i32 (i32.const 0))"#,
            Deploy::Missing => {}
        }
        wat += ")";
        let verdict = check(&wat);
        // The rules, in the order the module states what they are about.
        let expected: Result<(), &str> = if let Memory::Imported(_) = memory {
            Err("imported memory")
        } else if import_twice {
            Err("duplicate import")
        } else if data.is_some_and(|(offset, len)| offset as usize + len > 65_536) {
            Err("data out of bounds")
        } else if matches!(memory, Memory::None) {
            Err("no memory")
        } else if !matches!(&memory, Memory::Defined(names) if names.contains(&"memory")) {
            Err("memory not exported")
        } else {
            match deploy {
                Deploy::Func { params: 0, results: 0 } => Ok(()),
                Deploy::Func { .. } => Err("wrong type"),
                Deploy::Global => Err("not a function"),
                Deploy::Missing => Err("missing"),
            }
        };
        let got: Result<(), &str> = match &verdict {
            Ok(_) => Ok(()),
            Err(ValidationError::ImportedMemory { .. }) => Err("imported memory"),
            Err(ValidationError::DuplicateImport { .. }) => Err("duplicate import"),
            Err(ValidationError::DataOutOfBounds { .. }) => Err("data out of bounds"),
            Err(ValidationError::NoMemory { .. }) => Err("no memory"),
            Err(ValidationError::MemoryNotExported) => Err("memory not exported"),
            Err(ValidationError::ExportWrongType { name, .. }) if name == "deploy" => Err("wrong type"),
            Err(ValidationError::ExportNotAFunction { name, kind: "global" }) if name == "deploy" => {
                Err("not a function")
            }
            Err(ValidationError::MissingExport(name)) if name == "deploy" => Err("missing"),
            Err(_) => Err("another error"),
        };
        prop_assert_eq!(got, expected, "{}\n{:?}", wat, verdict);
    }

    /// Corrupting a contract that uses every section the shape rules read (tables, element
    /// and data segments, several exports) gives a verdict, never a panic; what is accepted
    /// still has a defined memory and `() -> ()` exports the environment can call.
    #[test]
    fn corrupted_rich_contracts_are_judged_without_panics(at in any::<prop::sample::Index>(), byte in any::<u8>()) {
        let mut code = wat::parse_str(contract(
            r#"(table 2 4 funcref) (elem (i32.const 0) func 0 1) (data (i32.const 8) "hi")
               (func (export "x") (param i32) (result i32) (local.get 0))"#,
        ))
        .unwrap();
        let i = at.index(code.len());
        code[i] = byte;
        if let Ok(s) = validate(&code, &Limits::default(), env, &["call", "deploy"]) {
            prop_assert!(!s.memory_imported);
            prop_assert!(s.exported_functions.iter().any(|e| e == "call"));
            prop_assert!(s.exported_functions.iter().any(|e| e == "deploy"));
        }
    }
}
