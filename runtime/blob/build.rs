//! Compiles `watt-runtime` to wasm32 with a nested cargo invocation, so the node's normal
//! `cargo build` produces the blob with no manual step. The nested build uses its own target
//! directory (`<target>/wasm-runtime`) so it neither deadlocks on the outer build's lock nor
//! loses incrementality between debug, test and bench builds.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let manifest_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let workspace = manifest_dir
        .join("../..")
        .canonicalize()
        .expect("workspace root exists");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("set by cargo"));
    // OUT_DIR = <target>/<profile>/build/<crate>-<hash>/out
    let target_root = out_dir
        .ancestors()
        .nth(4)
        .map(Path::to_path_buf)
        .unwrap_or_else(|| workspace.join("target"));
    let wasm_target_dir = target_root.join("wasm-runtime");

    // Relative to this package, not absolute: cargo shares a build script's run (and what it
    // watches) between checkouts of the workspace that use one target directory (a CI clone
    // beside the working copy), and absolute paths would then watch the other checkout's files.
    for dir in [
        "runtime/src",
        "runtime/Cargo.toml",
        "runtime/primitives",
        "pallets",
        "Cargo.toml",
        "Cargo.lock",
    ] {
        println!("cargo:rerun-if-changed=../../{dir}");
    }
    println!("cargo:rerun-if-env-changed=WATT_SKIP_WASM_BUILD");

    let blob_path = out_dir.join("watt_runtime.wasm");
    if std::env::var_os("WATT_SKIP_WASM_BUILD").is_some() {
        std::fs::write(&blob_path, b"").expect("write empty blob");
        return;
    }

    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(&workspace)
        .args(["rustc", "--package", "watt-runtime", "--lib", "--crate-type", "cdylib"])
        .args([
            "--target",
            "wasm32-unknown-unknown",
            "--release",
            "--no-default-features",
        ])
        .arg("--target-dir")
        .arg(&wasm_target_dir)
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "3")
        .env("CARGO_PROFILE_RELEASE_LTO", "true")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "1")
        .env("CARGO_PROFILE_RELEASE_PANIC", "abort")
        .env("CARGO_PROFILE_RELEASE_DEBUG", "false")
        .env("CARGO_PROFILE_RELEASE_STRIP", "true");
    // Settings of the outer (native) build must not leak into the wasm build.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "RUSTC_WORKSPACE_WRAPPER",
        "RUSTC_WRAPPER",
        "CARGO_MAKEFLAGS",
        "CARGO_LLVM_COV",
        "LLVM_PROFILE_FILE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("run cargo for the wasm runtime");
    if !status.success() {
        panic!(
            "building the wasm runtime failed (is the target installed? `rustup target add wasm32-unknown-unknown`)"
        );
    }
    let built = wasm_target_dir.join("wasm32-unknown-unknown/release/watt_runtime.wasm");
    std::fs::copy(&built, &blob_path).unwrap_or_else(|e| panic!("copy {}: {e}", built.display()));
}
