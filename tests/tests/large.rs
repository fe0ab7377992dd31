//! Large things against a real dev node: a contract just under the chain's 512 KiB code limit
//! deployed through `watt contract deploy` (its code is 1 MiB of hex, more than one RPC request
//! takes, so the CLI uploads it first and dry-runs by code hash), code over the limit refused
//! before anything is sent with the rule named, and a block's events and a receipt's read page
//! by page over RPC.

use serde_json::{json, Value};
use std::path::Path;
use std::time::Duration;
use watt_client::contract::{Code, ExecLimits};
use watt_client::rpc::{to_hex, RpcError, WaitFor};
use watt_client::{dev_accounts, sign, transfer_call, Keypair, WattRpc};
use watt_e2e::{watt_cli, NodeProcess};
use watt_primitives::UNIT;

/// The chain's default code limit (the contracts schedule's `max_code_len`).
const MAX_CODE: usize = 512 * 1024;
/// What `marker` returns: read from the end of the padding, so it proves the code is whole.
const MARKER: u64 = 42;

fn key(name: &str) -> Keypair {
    dev_accounts()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("dev account")
        .1
}

/// A contract whose data segment pads it: `deploy` stores a byte, `call` returns the 8 bytes
/// after `padding` bytes of filler (MARKER, little-endian).
fn padded_wat(padding: usize) -> Vec<u8> {
    let marker: String = MARKER.to_le_bytes().iter().map(|b| format!("\\{b:02x}")).collect();
    let wat = format!(
        r#"(module
  (import "watt_v1" "set_storage" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "watt_v1" "return_value" (func $ret (param i32 i32 i32)))
  (memory (export "memory") 9 9)
  (data (i32.const 0) "k")
  (data (i32.const 64) "{}{marker}")
  (func (export "deploy")
    (drop (call $set (i32.const 0) (i32.const 1) (i32.const 64) (i32.const 8))))
  (func (export "call")
    (call $ret (i32.const 0) (i32.const {}) (i32.const 8))))"#,
        "w".repeat(padding),
        64 + padding
    );
    wat::parse_str(&wat).expect("the WAT assembles")
}

/// The padded contract exactly `len` bytes long.
fn contract_of_len(len: usize) -> Vec<u8> {
    // The bytes around the padding, measured at a padding of the same LEB128 length class.
    let overhead = padded_wat(400_000).len() - 400_000;
    let code = padded_wat(len - overhead);
    assert_eq!(code.len(), len);
    code
}

const METADATA: &str = r#"{"abi": "watt_v1", "name": "padded",
  "constructors": [{"name": "new", "selector": "0x9bae9d5e", "args": []}],
  "messages": [{"name": "marker", "selector": "0x00000001", "returns": "u64"}],
  "events": []}"#;

/// Writes the code and its metadata into `dir`; returns the wasm path.
fn write_contract(dir: &Path, name: &str, code: &[u8]) -> String {
    let wasm = dir.join(format!("{name}.wasm"));
    std::fs::write(&wasm, code).unwrap();
    std::fs::write(wasm.with_extension("json"), METADATA).unwrap();
    wasm.display().to_string()
}

/// Runs `watt ARGS --rpc URL --output json`; returns (success, stdout, stderr).
async fn cli(url: &str, args: &[&str]) -> (bool, String, String) {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(["--rpc", url, "--output", "json"].map(String::from));
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        watt_cli(&refs)
    })
    .await
    .unwrap()
}

async fn cli_json(url: &str, args: &[&str]) -> Value {
    let (ok, out, err) = cli(url, args).await;
    assert!(ok, "watt {args:?} failed:\n{out}\n{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contract_just_under_the_code_limit_deploys_through_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path(), &[]);
    let url = node.url();
    let rpc = WattRpc::new(&url).unwrap();
    let code = contract_of_len(MAX_CODE - 8);
    let wasm = write_contract(dir.path(), "padded", &code);
    let alice = key("Alice").account();

    // What failed before: a dry-run carrying the code is more than the node takes (HTTP 413).
    let whole = rpc
        .contract_instantiate(&alice, Code::Wasm(&code), &ExecLimits::default(), &[], &[])
        .await
        .unwrap_err();
    assert!(
        matches!(&whole, RpcError::Transport { reason, .. } if reason.contains("413")),
        "{whole}"
    );

    // A dry-run alone cannot upload: refused with what to do, and nothing is sent.
    let (ok, out, err) = cli(&url, &["contract", "deploy", &wasm, "--from", "//Alice"]).await;
    assert!(!ok, "a dry-run of code not on chain and too large for a request: {out}");
    assert!(err.contains("--execute") && err.contains("nothing was sent"), "{err}");
    assert_eq!(rpc.next_nonce(&alice).await.unwrap(), 0);

    let deployed = cli_json(&url, &["contract", "deploy", &wasm, "--from", "//Alice", "--execute"]).await;
    assert_eq!(deployed["dry_run_by"], "code_hash");
    assert_eq!(deployed["code_len"], json!(code.len()));
    let txs = deployed["tx_hashes"].as_array().expect("tx hashes");
    let max_tx_len = rpc.chain_params().await.unwrap().max_tx_len as usize;
    assert!(
        txs.len() > code.len().div_ceil(max_tx_len),
        "chunks and an instantiation: {deployed}"
    );
    let hash = watt_client::contract::code_hash(&code);
    assert_eq!(deployed["code_hash"], to_hex(&hash));
    let info = rpc.code_info(&hash).await.unwrap().expect("the code is on chain");
    assert_eq!(info.len as usize, code.len());
    assert_eq!(info.refcount, 1);
    let address = deployed["address"].as_str().expect("address").to_string();
    let contract = rpc
        .contract_info(&watt_primitives::AccountId::from_ss58(&address).unwrap())
        .await
        .unwrap()
        .expect("the contract exists");
    assert_eq!(contract.code_hash, to_hex(&hash));
    // The marker at the end of the padding: the whole code arrived.
    let meta = Path::new(&wasm).with_extension("json").display().to_string();
    let marker = cli_json(
        &url,
        &[
            "contract",
            "query",
            &address,
            "--message",
            "marker",
            "--metadata",
            &meta,
        ],
    )
    .await;
    assert_eq!(marker["result"], json!(MARKER));

    // Code already on chain dry-runs (and deploys) by hash, even without --execute.
    let again = cli_json(&url, &["contract", "deploy", &wasm, "--from", "//Bob"]).await;
    assert_eq!(
        (again["dry_run_by"].as_str(), again["executed"].as_bool()),
        (Some("code_hash"), Some(false))
    );
    assert_ne!(again["address"], deployed["address"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_over_the_limit_is_refused_naming_the_rule_and_nothing_is_sent() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path(), &[]);
    let url = node.url();
    let rpc = WattRpc::new(&url).unwrap();
    let code = contract_of_len(MAX_CODE + 1);
    let wasm = write_contract(dir.path(), "toolarge", &code);
    let alice = key("Alice").account();
    let (ok, out, err) = cli(&url, &["contract", "deploy", &wasm, "--from", "//Alice", "--execute"]).await;
    assert!(!ok, "code over the limit deployed: {out}");
    assert!(
        err.contains("is 524289 bytes of contract code, over the chain's limit of 524288 bytes")
            && err.contains("max_code_len")
            && err.contains("nothing was sent"),
        "{err}"
    );
    assert_eq!(rpc.next_nonce(&alice).await.unwrap(), 0, "no transaction was submitted");
    let pending: Vec<String> = rpc.call("author_pendingExtrinsics", vec![]).await.unwrap();
    assert!(pending.is_empty());
    // One byte under it is not refused by that rule: it gets as far as the upload.
    let fits = write_contract(dir.path(), "fits", &contract_of_len(MAX_CODE));
    let (_, _, err) = cli(&url, &["contract", "deploy", &fits, "--from", "//Alice"]).await;
    assert!(!err.contains("max_code_len"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blocks_events_and_a_receipts_read_in_pages_are_the_whole_lists() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path(), &[]);
    let rpc = WattRpc::new(&node.url()).unwrap();
    let genesis = rpc.genesis_hash().await.unwrap();
    let tx = sign(
        &key("Alice"),
        0,
        0,
        genesis,
        &transfer_call(key("Bob").account(), UNIT, false),
    );
    let receipt = rpc
        .submit_and_wait(&tx, WaitFor::Included, Duration::from_secs(30))
        .await
        .unwrap();
    let n = receipt.block_number;

    // The unpaged form is the whole list, as before paging.
    let whole: Vec<Value> = rpc.call("watt_events", vec![json!(n)]).await.unwrap();
    assert!(whole.len() >= 2, "fee and transfer events at least: {whole:?}");
    let mut paged = Vec::new();
    let mut offset = 0u64;
    loop {
        let p: Value = rpc
            .call("watt_events", vec![json!(n), json!({"offset": offset, "limit": 1})])
            .await
            .unwrap();
        assert_eq!(p["total"], json!(whole.len()));
        let events = p["events"].as_array().unwrap();
        assert_eq!(events.len(), 1, "a limit of 1: {p}");
        paged.extend(events.iter().cloned());
        match p["next"].as_u64() {
            Some(next) => offset = next,
            None => break,
        }
    }
    assert_eq!(paged, whole);

    // A receipt: all its events unpaged, and the same one at a time.
    assert_eq!(
        (receipt.events_total, receipt.events_next),
        (Some(receipt.events.len() as u64), None)
    );
    assert!(receipt.events.len() >= 2, "{receipt:?}");
    let mut events = Vec::new();
    let mut offset = 0u64;
    loop {
        let r: Value = rpc
            .call(
                "watt_receipt",
                vec![json!(to_hex(&tx.hash())), json!({"offset": offset, "limit": 1})],
            )
            .await
            .unwrap();
        events.push(r["events"][0].as_str().expect("one event").to_string());
        match r["eventsNext"].as_u64() {
            Some(next) => offset = next,
            None => break,
        }
    }
    assert_eq!(events, receipt.events);
}
