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
    // An imported memory is fine too.
    let imported = r#"(module
        (import "watt" "memory" (memory 1 2))
        (func (export "call")) (func (export "deploy")))"#;
    let s = check(imported).unwrap();
    assert_eq!((s.memory_imported, s.memory_pages), (true, 2));
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
