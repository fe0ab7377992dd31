//! The contract methods (`watt_contractInstantiate`, `watt_contractCall`, `watt_contractInfo`,
//! `watt_codeInfo`, `watt_chainParams`) through the RPC module in process, on a real dev chain
//! (the wasm runtime runs the contracts): the ABI's WAT counter is dry-run, instantiated by a
//! transaction, then called; bad parameters get "invalid params".

use jsonrpsee::Methods;
use parity_scale_codec::Encode;
use serde_json::{json, Value};
use std::sync::Arc;
use watt_chain::test_utils::{dev_spec, keyring};
use watt_chain::{Chain, ChainConfig};
use watt_client::Keypair;
use watt_runtime::{pallet_contracts, RuntimeCall};

/// The counter of ABI.md "A contract in WAT": `deploy` stores 0, `call` adds 1 and returns the
/// new value as 8 bytes.
const COUNTER: &str = r#"(module
  (import "watt_v1" "get_storage" (func $get (param i32 i32 i32 i32) (result i32)))
  (import "watt_v1" "set_storage" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "watt_v1" "return_value" (func $ret (param i32 i32 i32)))
  (memory (export "memory") 1 1)
  (data (i32.const 0) "n")
  (func (export "deploy")
    (i64.store (i32.const 16) (i64.const 0))
    (drop (call $set (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 8))))
  (func (export "call")
    (i32.store (i32.const 32) (i32.const 8))
    (drop (call $get (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 32)))
    (i64.store (i32.const 16) (i64.add (i64.load (i32.const 16)) (i64.const 1)))
    (drop (call $set (i32.const 0) (i32.const 1) (i32.const 16) (i32.const 8)))
    (call $ret (i32.const 0) (i32.const 16) (i32.const 8))))"#;

fn hex(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

struct Env {
    chain: Arc<Chain>,
    m: Methods,
    keys: Vec<Keypair>,
    _dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keys = keyring();
        let config = ChainConfig {
            author: keys[0].account(),
            ..ChainConfig::default()
        };
        let chain = Chain::open(dir.path(), &dev_spec(), config).expect("dev chain opens");
        let m = watt_rpc::rpc_module(chain.clone(), "test".into(), None)
            .expect("methods register")
            .into();
        Env {
            chain,
            m,
            keys,
            _dir: dir,
        }
    }

    async fn call(&self, method: &str, params: Value) -> Value {
        let req = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
        let (resp, _) = self.m.raw_json_request(&req, 1).await.expect("request is JSON");
        serde_json::from_str(resp.get()).expect("response is JSON")
    }

    async fn result(&self, method: &str, params: Value) -> Value {
        let r = self.call(method, params).await;
        r.get("result")
            .cloned()
            .unwrap_or_else(|| panic!("{method} failed: {r}"))
    }

    async fn error(&self, method: &str, params: Value) -> (i64, String) {
        let r = self.call(method, params.clone()).await;
        let code = r["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("{method}({params}) should fail: {r}"));
        (code, r["error"]["message"].as_str().unwrap_or_default().to_string())
    }

    /// Signs `call` as key `i`, submits it over RPC and seals a block with it.
    async fn execute(&self, i: usize, call: RuntimeCall) {
        let nonce = self.chain.next_nonce(&self.keys[i].account()).unwrap();
        let tx = watt_client::sign(&self.keys[i], nonce, 0, self.chain.genesis_hash(), &call);
        self.result("author_submitExtrinsic", json!([hex(&tx.encode())])).await;
        let next = self.chain.best().0 + 1;
        self.chain
            .produce_block(1_000 * next, true, true)
            .expect("block produced")
            .expect("a block");
    }
}

fn blake2_256(data: &[u8]) -> [u8; 32] {
    watt_primitives::hashing::blake2_256(data)
}

#[tokio::test(flavor = "current_thread")]
async fn the_counter_is_dry_run_instantiated_and_called() {
    let env = Env::new();
    let code = wat::parse_str(COUNTER).expect("the ABI's example is valid WAT");
    let code_hash = blake2_256(&code);
    let alice = env.keys[0].account();
    let salt = vec![7u8];

    let dry = env
        .result(
            "watt_contractInstantiate",
            json!({"origin": alice.to_ss58(), "code": hex(&code), "input": "0x", "salt": hex(&salt)}),
        )
        .await;
    assert_eq!(dry["result"], json!({"ok": {"reverted": false, "data": "0x"}}), "{dry}");
    assert!(dry["gasUsed"].as_u64().is_some_and(|g| g > 0), "{dry}");
    // The deploy stored one key: a charge, as a decimal string.
    let charge: u128 = dry["storageDeposit"]["charge"]
        .as_str()
        .expect("a charge")
        .parse()
        .unwrap();
    assert!(charge > 0, "{dry}");
    let expected = pallet_contracts::contract_address(&alice, &code_hash, &salt);
    assert_eq!(dry["address"], json!(expected.to_ss58()), "{dry}");
    assert_eq!(dry["events"], json!([]));
    // A dry-run writes nothing.
    assert_eq!(
        env.result("watt_contractInfo", json!([expected.to_ss58()])).await,
        Value::Null
    );
    assert_eq!(env.result("watt_codeInfo", json!([hex(&code_hash)])).await, Value::Null);

    env.execute(
        0,
        RuntimeCall::Contracts(pallet_contracts::Call::InstantiateWithCode {
            value: 0,
            gas_limit: dry["gasUsed"].as_u64().unwrap() * 2 + 50_000,
            storage_deposit_limit: None,
            code: code.clone(),
            data: vec![],
            salt: salt.clone(),
        }),
    )
    .await;
    let info = env.result("watt_contractInfo", json!([expected.to_ss58()])).await;
    assert_eq!(info["codeHash"], json!(hex(&code_hash)), "{info}");
    assert_eq!(info["deployer"], json!(alice.to_ss58()), "{info}");
    assert_eq!(info["storageItems"], 1, "{info}");
    let code_info = env.result("watt_codeInfo", json!([hex(&code_hash)])).await;
    assert_eq!(code_info["len"], code.len(), "{code_info}");
    assert_eq!(code_info["refcount"], 1, "{code_info}");
    assert_eq!(code_info["owner"], json!(alice.to_ss58()), "{code_info}");

    // Dry-run calls see the stored 0 each time (nothing is kept): 1 both times.
    for _ in 0..2 {
        let r = env
            .result(
                "watt_contractCall",
                json!({"origin": env.keys[1].account().to_ss58(), "dest": expected.to_ss58(), "input": "0x", "value": "0", "gasLimit": 1_000_000}),
            )
            .await;
        assert_eq!(r["result"]["ok"]["data"], json!(hex(&1u64.to_le_bytes())), "{r}");
        assert_eq!(r["address"], Value::Null, "{r}");
    }
    // Too little gas: a failure named module::Error, not an RPC error.
    let r = env
        .result(
            "watt_contractCall",
            json!({"origin": alice.to_ss58(), "dest": expected.to_ss58(), "input": "0x", "gasLimit": 1}),
        )
        .await;
    let e = r["result"]["err"].as_str().unwrap_or_else(|| panic!("an err: {r}"));
    assert!(e.starts_with("contracts::"), "{r}");

    let params = env.result("watt_chainParams", json!([])).await;
    assert!(params["maxTxLen"].as_u64().is_some_and(|l| l > 1_000), "{params}");
    // The block size limits are chain parameters (the dev spec's values).
    assert_eq!(params["maxBlockTransactions"], 20_000, "{params}");
    assert_eq!(params["maxBlockBytes"], 8 << 20, "{params}");
}

#[tokio::test(flavor = "current_thread")]
async fn bad_parameters_are_invalid_params() {
    let env = Env::new();
    let alice = env.keys[0].account().to_ss58();
    let cases = [
        (
            "watt_contractCall",
            json!([{"origin": alice, "dest": "nonsense", "input": "0x"}]),
            "invalid address",
        ),
        (
            "watt_contractCall",
            json!([{"origin": alice, "dest": alice, "input": "zz"}]),
            "0x-prefixed",
        ),
        (
            "watt_contractCall",
            json!([{"origin": alice, "dest": alice, "input": "0x", "gas": 5}]),
            "unknown field",
        ),
        ("watt_contractCall", json!(["not an object"]), "JSON object"),
        ("watt_contractCall", json!([]), ""),
        (
            "watt_contractInstantiate",
            json!([{"origin": alice, "input": "0x"}]),
            "missing field code",
        ),
        (
            "watt_contractInstantiate",
            json!([{"origin": alice, "code": "0x0", "input": "0x"}]),
            "code is not valid hex",
        ),
        ("watt_contractInfo", json!(["0x1234"]), "invalid address"),
        ("watt_codeInfo", json!(["0x1234"]), "32 bytes"),
    ];
    for (method, params, want) in cases {
        let (code, message) = env.error(method, params.clone()).await;
        assert_eq!(code, -32602, "{method}({params}): {message}");
        assert!(message.contains(want), "{method}({params}): `{message}` lacks `{want}`");
    }
    // Code that is not wasm is the runtime's answer, not a parameter error.
    let r = env
        .result(
            "watt_contractInstantiate",
            json!({"origin": alice, "code": "0x00", "input": "0x"}),
        )
        .await;
    assert!(
        r["result"]["err"]
            .as_str()
            .is_some_and(|e| e.starts_with("contracts::")),
        "{r}"
    );
}
