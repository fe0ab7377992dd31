//! Checks contracts already built to wasm32 (this test builds nothing): each one passes the
//! chain's upload validation (`watt-contract-validation` with default limits, imports only from
//! `watt_v1`, exports `deploy` and `call`) and carries its metadata in a `watt_metadata` custom
//! section that parses as the ABI's JSON.
//!
//! Which files: the paths in `WATT_CONTRACT_WASM` (separated by `:`), else the example
//! contracts under `$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/` that exist. None found
//! is not a failure (a plain `cargo test` does not build wasm).

use std::path::PathBuf;
use watt_contract_validation::{validate, Limits};

fn candidates() -> Vec<PathBuf> {
    if let Ok(list) = std::env::var("WATT_CONTRACT_WASM") {
        return list.split(':').filter(|s| !s.is_empty()).map(PathBuf::from).collect();
    }
    let target = std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"));
    ["token", "multisig", "exchange"]
        .iter()
        .map(|n| target.join("wasm32-unknown-unknown/release").join(format!("{n}.wasm")))
        .filter(|p| p.exists())
        .collect()
}

/// The payload of custom section `name`, if present.
fn custom_section(code: &[u8], name: &str) -> Option<Vec<u8>> {
    for payload in wasmparser::Parser::new(0).parse_all(code) {
        if let Ok(wasmparser::Payload::CustomSection(c)) = payload {
            if c.name() == name {
                return Some(c.data().to_vec());
            }
        }
    }
    None
}

#[test]
fn built_contracts_pass_upload_validation_and_carry_metadata() {
    for path in candidates() {
        let raw = std::fs::read(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        // What `watt contract build` does after cargo (see watt_contract::build).
        let code = watt_contract::build::canonicalize_call_indirect(&raw).expect("canonicalize");
        let summary = validate(&code, &Limits::default(), |m, _| m == "watt_v1", &["deploy", "call"])
            .unwrap_or_else(|e| panic!("{} refused: {e}", path.display()));
        assert!(
            !summary.memory_imported,
            "{}: the memory must be defined and exported",
            path.display()
        );
        assert!(
            summary.memory_pages <= 16,
            "{}: memory maximum {}",
            path.display(),
            summary.memory_pages
        );
        let meta = custom_section(&code, "watt_metadata")
            .unwrap_or_else(|| panic!("{}: no watt_metadata section", path.display()));
        let json: serde_json::Value = serde_json::from_slice(&meta).expect("metadata is JSON");
        assert_eq!(json["abi"], "watt_v1");
        assert!(json["messages"].as_array().is_some_and(|m| !m.is_empty()));
        eprintln!(
            "{}: {} bytes ({} as built), {} functions, valid",
            path.display(),
            code.len(),
            raw.len(),
            summary.functions
        );
    }
}
