//! `watt contract build`: compile a contract project to wasm32, take out its metadata, strip
//! custom sections, put `call_indirect` in the MVP encoding, and check it as the chain would.

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::client_commands::print_json;
use crate::Output;

/// The rustc flags of contract builds: MVP code (no reference types or multi-value in what is
/// compiled here), a memory of at most 16 pages (1 MiB, the ABI's limit) with a 64 KiB stack.
pub const CONTRACT_RUSTFLAGS: &str =
    "-C target-cpu=mvp -C link-arg=--max-memory=1048576 -C link-arg=-zstack-size=65536";

#[derive(Args, Debug)]
pub struct BuildArgs {
    /// The contract project (default: the current directory).
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// Output format (json: {"wasm", "metadata", "size", ...}).
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

/// Reads a LEB128 u32 at `pos`; returns it and the position after it.
fn leb(bytes: &[u8], mut pos: usize) -> Result<(u32, usize)> {
    let mut v = 0u64;
    for shift in (0..35).step_by(7) {
        let b = *bytes.get(pos).ok_or_else(|| anyhow!("truncated LEB128 at {pos}"))?;
        pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b & 0x80 == 0 {
            return u32::try_from(v)
                .map(|v| (v, pos))
                .map_err(|_| anyhow!("LEB128 too large"));
        }
    }
    bail!("LEB128 longer than 5 bytes")
}

/// Splits a module into its `watt_metadata` section's payload (if any) and the module with
/// every custom section (id 0) removed.
pub fn split_custom_sections(code: &[u8]) -> Result<(Option<Vec<u8>>, Vec<u8>)> {
    if code.len() < 8 || &code[..4] != b"\0asm" {
        bail!("not a wasm module");
    }
    let mut out = code[..8].to_vec();
    let mut meta = None;
    let mut pos = 8;
    while pos < code.len() {
        let id = code[pos];
        let (size, start) = leb(code, pos + 1)?;
        let end = start
            .checked_add(size as usize)
            .filter(|e| *e <= code.len())
            .ok_or_else(|| anyhow!("section at {pos} overruns the module"))?;
        if id == 0 {
            let (name_len, name_start) = leb(code, start)?;
            let name_end = name_start + name_len as usize;
            if name_end > end {
                bail!("custom section name overruns its section");
            }
            if &code[name_start..name_end] == b"watt_metadata" {
                meta = Some(code[name_end..end].to_vec());
            }
        } else {
            out.extend_from_slice(&code[pos..end]);
        }
        pos = end;
    }
    Ok((meta, out))
}

/// What `cargo metadata` says of the project: its package and library names.
fn package_of(manifest: &Path) -> Result<(String, String)> {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["metadata", "--no-deps", "--format-version", "1", "--manifest-path"])
        .arg(manifest)
        .output()
        .context("run cargo metadata (is cargo installed?)")?;
    if !out.status.success() {
        bail!("cargo metadata failed: {}", String::from_utf8_lossy(&out.stderr).trim());
    }
    let v: Value = serde_json::from_slice(&out.stdout).context("cargo metadata output")?;
    let manifest = manifest.canonicalize()?;
    let pkg = v["packages"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["manifest_path"].as_str().is_some_and(|m| Path::new(m) == manifest))
        .ok_or_else(|| anyhow!("{} names no package", manifest.display()))?;
    let name = pkg["name"].as_str().unwrap_or_default().to_string();
    let lib = pkg["targets"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|t| {
            t["crate_types"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "cdylib"))
        })
        .and_then(|t| t["name"].as_str())
        .ok_or_else(|| anyhow!("package {name} has no cdylib target: add [lib] crate-type = [\"cdylib\", \"rlib\"]"))?;
    Ok((name, lib.replace('-', "_")))
}

fn ensure_wasm_target() -> Result<()> {
    let installed = Command::new("rustup").args(["target", "list", "--installed"]).output();
    match installed {
        Ok(o)
            if String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == "wasm32-unknown-unknown") =>
        {
            Ok(())
        }
        Ok(_) => {
            eprintln!("adding the wasm32-unknown-unknown target (rustup target add)");
            let ok = Command::new("rustup")
                .args(["target", "add", "wasm32-unknown-unknown"])
                .status()?
                .success();
            if ok {
                Ok(())
            } else {
                bail!("`rustup target add wasm32-unknown-unknown` failed")
            }
        }
        // No rustup: the toolchain may still have the target; cargo will say if not.
        Err(_) => Ok(()),
    }
}

pub fn build(a: BuildArgs) -> Result<()> {
    let dir = a.path.clone().unwrap_or_else(|| PathBuf::from("."));
    let dir = dir
        .canonicalize()
        .with_context(|| format!("project directory {}", dir.display()))?;
    let manifest = dir.join("Cargo.toml");
    if !manifest.exists() {
        bail!(
            "no Cargo.toml in {} (run in a contract project, or pass --path)",
            dir.display()
        );
    }
    let text = a.output == Output::Text;
    let progress = |s: String| {
        if text {
            say!("{s}");
        } else {
            eprintln!("{s}");
        }
    };
    let (package, lib) = package_of(&manifest)?;
    ensure_wasm_target()?;
    let target_dir = dir.join("target");
    progress(format!(
        "building {package} for wasm32-unknown-unknown (release, size-optimised)"
    ));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .current_dir(&dir)
        .args([
            "build",
            "--release",
            "--lib",
            "--target",
            "wasm32-unknown-unknown",
            "--manifest-path",
        ])
        .arg(&manifest)
        .args(["--package", &package, "--target-dir"])
        .arg(&target_dir)
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "z")
        .env("CARGO_PROFILE_RELEASE_LTO", "fat")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "symbols")
        .env("RUSTFLAGS", CONTRACT_RUSTFLAGS)
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_BUILD_TARGET")
        // Stdout stays ours (JSON); cargo's progress goes to stderr either way.
        .stdout(std::process::Stdio::null())
        .status()
        .context("run cargo")?;
    if !status.success() {
        bail!("cargo build of {package} failed (see above)");
    }
    let built = target_dir
        .join("wasm32-unknown-unknown/release")
        .join(format!("{lib}.wasm"));
    let raw = std::fs::read(&built).with_context(|| format!("read {}", built.display()))?;
    let (meta, stripped) = split_custom_sections(&raw)?;
    let meta = meta.ok_or_else(|| {
        anyhow!(
            "{} has no watt_metadata section: is it written with #[watt_contract::contract]?",
            built.display()
        )
    })?;
    let meta_json: Value = serde_json::from_slice(&meta).context("the watt_metadata section is not JSON")?;
    let name = meta_json["name"].as_str().unwrap_or(&lib).to_string();
    let code = watt_contract::build::canonicalize_call_indirect(&stripped).map_err(|e| anyhow!("{e}"))?;
    progress(format!("validating {} bytes as the chain does on upload", code.len()));
    let limits = watt_contract_validation::Limits::default();
    let summary =
        check_upload(&code, &limits).map_err(|e| anyhow!("the built contract would be refused at upload: {e}"))?;
    let wasm_out = target_dir.join(format!("{name}.wasm"));
    let json_out = target_dir.join(format!("{name}.json"));
    std::fs::write(&wasm_out, &code).with_context(|| format!("write {}", wasm_out.display()))?;
    let pretty = serde_json::to_string_pretty(&meta_json).expect("JSON values serialize");
    std::fs::write(&json_out, pretty + "\n").with_context(|| format!("write {}", json_out.display()))?;
    match a.output {
        Output::Json => print_json(&json!({
            "name": name,
            "wasm": wasm_out.display().to_string(),
            "metadata": json_out.display().to_string(),
            "size": code.len(),
            "compiled_size": raw.len(),
            "functions": summary.functions,
            "memory_pages": summary.memory_pages,
            "code_hash": watt_client::rpc::to_hex(&watt_client::contract::code_hash(&code)),
        })),
        Output::Text => {
            say!(
                "contract {name}: {} bytes (compiled {}), {} functions, memory max {} pages",
                code.len(),
                raw.len(),
                summary.functions,
                summary.memory_pages
            );
            say!("  wasm:     {}", wasm_out.display());
            say!("  metadata: {}", json_out.display());
        }
    }
    Ok(())
}

/// The chain's upload validation of contract `code` under `limits`: imports only from the
/// `watt_v1` environment, `deploy` and `call` exported, and every limit.
pub(super) fn check_upload(
    code: &[u8],
    limits: &watt_contract_validation::Limits,
) -> Result<watt_contract_validation::CodeSummary, watt_contract_validation::ValidationError> {
    watt_contract_validation::validate(
        code,
        limits,
        |m, n| {
            m == "watt_v1"
                && watt_runtime::pallet_contracts::ABI_FUNCTIONS
                    .iter()
                    .any(|(f, _, _)| *f == n)
        },
        &["deploy", "call"],
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A module: header, a type section (id 1, empty), a custom section `name` with `payload`,
    /// and another custom section.
    fn module(name: &[u8], payload: &[u8]) -> Vec<u8> {
        let mut m = b"\0asm\x01\0\0\0".to_vec();
        m.extend_from_slice(&[1, 1, 0]);
        let mut custom = vec![name.len() as u8];
        custom.extend_from_slice(name);
        custom.extend_from_slice(payload);
        m.push(0);
        m.push(custom.len() as u8);
        m.extend_from_slice(&custom);
        m.extend_from_slice(&[0, 3, 2, b'h', b'i']);
        m
    }

    #[test]
    fn the_metadata_is_taken_out_and_custom_sections_stripped() {
        let (meta, code) = split_custom_sections(&module(b"watt_metadata", b"{}")).unwrap();
        assert_eq!(meta.as_deref(), Some(&b"{}"[..]));
        assert_eq!(code, b"\0asm\x01\0\0\0\x01\x01\x00");
        let (meta, _) = split_custom_sections(&module(b"other", b"{}")).unwrap();
        assert_eq!(meta, None);
        assert!(
            split_custom_sections(b"\0asm\x01\0\0\0\x01\x05\x00").is_err(),
            "overrun"
        );
        assert!(split_custom_sections(b"nope").is_err());
    }
}
