//! The economy methods (`watt_rewards`, `watt_day`, `watt_supply`, `watt_pledge`, `watt_events`)
//! through the RPC module in process, on a real dev chain with 5-block days (the wasm runtime
//! answers the queries): the JSON shapes, balances as decimal strings, and what a check-in and a
//! day's end do to them.

use jsonrpsee::Methods;
use parity_scale_codec::Encode;
use serde_json::{json, Value};
use std::sync::Arc;
use watt_chain::test_utils::{dev_spec, keyring};
use watt_chain::{Chain, ChainConfig};
use watt_client::Keypair;
use watt_primitives::{AccountId, Balance};
use watt_runtime::{pallet_identity, pallet_presence, RuntimeCall};

const DAY_BLOCKS: u64 = 5;
const ROLES: [&str; 5] = ["pioneer", "contributor", "ambassador", "validator", "pledger"];

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
    /// The dev chain with 5-block days, blocks authored by //Alice (the pledged validator).
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keys = keyring();
        let mut spec = dev_spec();
        spec.genesis.economy.params.day_blocks = DAY_BLOCKS;
        let config = ChainConfig {
            author: keys[0].account(),
            ..ChainConfig::default()
        };
        let chain = Chain::open(dir.path(), &spec, config).expect("dev chain opens");
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

    fn ss58(&self, i: usize) -> String {
        self.keys[i].account().to_ss58()
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

    async fn error_code(&self, method: &str, params: Value) -> i64 {
        let r = self.call(method, params.clone()).await;
        r["error"]["code"]
            .as_i64()
            .unwrap_or_else(|| panic!("{method}({params}) should fail: {r}"))
    }

    /// Signs `call` as key `i` with its next nonce and submits it over RPC.
    async fn submit(&self, i: usize, call: RuntimeCall) {
        let nonce = self.chain.next_nonce(&self.keys[i].account()).unwrap();
        let tx = watt_client::sign(&self.keys[i], nonce, 0, self.chain.genesis_hash(), &call);
        self.result("author_submitExtrinsic", json!([hex(&tx.encode())])).await;
    }

    /// Produces blocks until the head is `number`.
    fn produce_until(&self, number: u64) {
        while self.chain.best().0 < number {
            let next = self.chain.best().0 + 1;
            self.chain
                .produce_block(1_000 * next, true, true)
                .expect("block produced")
                .expect("empty blocks allowed");
        }
    }
}

fn balance(v: &Value) -> Balance {
    v.as_str()
        .unwrap_or_else(|| panic!("a balance is a decimal string, got {v}"))
        .parse()
        .expect("a decimal balance")
}

/// The per-role object has exactly the five roles, each a decimal-string balance.
fn role_balances(v: &Value) -> Vec<Balance> {
    assert_eq!(v.as_object().map(|o| o.len()), Some(5), "{v}");
    ROLES.iter().map(|r| balance(&v[r])).collect()
}

/// The per-role object has exactly the five roles, each a count.
fn role_counts(v: &Value) -> Vec<u64> {
    assert_eq!(v.as_object().map(|o| o.len()), Some(5), "{v}");
    ROLES
        .iter()
        .map(|r| v[r].as_u64().unwrap_or_else(|| panic!("{r} is a count: {v}")))
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn a_check_in_shows_today_and_becomes_claimable_when_the_day_ends() {
    let env = Env::new();
    let bob = env.keys[1].account();
    env.submit(0, RuntimeCall::Identity(pallet_identity::Call::Attest { who: bob }))
        .await;
    env.produce_until(1);
    env.submit(1, RuntimeCall::Presence(pallet_presence::Call::CheckIn))
        .await;
    env.produce_until(2);

    // Day 0 is blocks 1..=5: after block 2, three are left.
    let day = env.result("watt_day", json!([])).await;
    assert_eq!(day["day"], 0, "{day}");
    assert_eq!(day["day_blocks"], DAY_BLOCKS, "{day}");
    assert_eq!(day["blocks_left"], 3, "{day}");
    assert_eq!(day["phase"], "check-in", "{day}");
    assert!(balance(&day["issuance"]) > 0, "{day}");
    balance(&day["fee_pool"]);
    assert_eq!(role_counts(&day["participants"])[0], 1, "one pioneer: {day}");

    let r = env.result("watt_rewards", json!([bob.to_ss58()])).await;
    assert_eq!(r["account"], bob.to_ss58());
    assert_eq!(r["attested"], true, "{r}");
    assert_eq!(r["checked_in_today"], true, "{r}");
    assert_eq!(role_counts(&r["today"]), vec![1, 0, 0, 0, 0], "{r}");
    assert_eq!(balance(&r["claimable"]), 0, "nothing before the day ends: {r}");
    assert_eq!(role_balances(&r["by_role"]), vec![0; 5]);
    assert_eq!(r["unclaimed_days"], 0);
    assert_eq!(balance(&r["claimed_total"]), 0);

    // The check-in's block lists its event with Bob as a topic, at transaction 0.
    let events = env.result("watt_events", json!([2])).await;
    let bob_topic = hex(bob.as_bytes());
    let mine: Vec<&Value> = events
        .as_array()
        .expect("a list")
        .iter()
        .filter(|e| e["topics"].as_array().unwrap().contains(&json!(bob_topic)))
        .collect();
    assert!(!mine.is_empty(), "{events}");
    assert!(mine.iter().all(|e| e["phase"] == json!({"transaction": 0})), "{events}");
    assert!(mine.iter().all(|e| e["event"].as_str().unwrap().starts_with("0x")));

    // The day ends: Bob's pioneer share is claimable, and only that.
    env.produce_until(DAY_BLOCKS + 1);
    let r = env.result("watt_rewards", json!([bob.to_ss58()])).await;
    let claimable = balance(&r["claimable"]);
    let by_role = role_balances(&r["by_role"]);
    assert!(claimable > 0, "{r}");
    assert_eq!(by_role, vec![claimable, 0, 0, 0, 0], "{r}");
    assert_eq!(r["unclaimed_days"], 1, "{r}");
    assert_eq!(r["checked_in_today"], false, "a new day: {r}");
    let day = env.result("watt_day", json!([])).await;
    assert_eq!((&day["day"], &day["blocks_left"]), (&json!(1), &json!(4)), "{day}");

    // Rewards are minted within the cap and held unclaimed.
    let s = env.result("watt_supply", json!([])).await;
    assert_eq!(balance(&s["cap"]), 20_000_000_000 * 10u128.pow(12));
    assert_eq!(balance(&s["checkin_total"]), 6_000_000_000 * 10u128.pow(12));
    assert_eq!(s["phase"], "check-in");
    assert!(balance(&s["total_issuance"]) <= balance(&s["cap"]));
    assert!(balance(&s["checkin_minted"]) >= claimable, "{s}");
    assert!(balance(&s["unclaimed"]) >= claimable, "{s}");
    for k in ["phase2_minted", "team_locked", "burned"] {
        balance(&s[k]);
    }
    assert_eq!(s["storage_pool"].as_object().unwrap().len(), 2);
    assert_eq!(balance(&s["storage_pool"]["server"]), 0, "no phase 2 yet");
    assert_eq!(balance(&s["storage_pool"]["mobile"]), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn pledges_show_units_bonded_watt_and_the_validator_flag() {
    let env = Env::new();
    let alice = env.result("watt_pledge", json!([env.ss58(0)])).await;
    // The dev spec's genesis pledge: 10 units of 1,000 WATT.
    assert_eq!(alice["account"], env.ss58(0));
    assert_eq!(alice["units"], 10);
    assert_eq!(balance(&alice["bonded"]), 10_000 * 10u128.pow(12));
    assert_eq!(alice["validator"], true);
    assert_eq!(alice["unbonding"], json!([]));
    let bob = env.result("watt_pledge", json!([env.ss58(1)])).await;
    assert_eq!((&bob["units"], &bob["validator"]), (&json!(0), &json!(false)));
    assert_eq!(balance(&bob["bonded"]), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn bad_parameters_are_invalid_params_and_unknown_blocks_4003() {
    let env = Env::new();
    for (method, params) in [
        ("watt_rewards", json!(["nonsense"])),
        ("watt_rewards", json!([])),
        ("watt_rewards", json!([42])),
        ("watt_rewards", json!([env.ss58(1), "0x12"])),
        ("watt_rewards", json!([env.ss58(1), hex(&env.chain.best().1)])),
        ("watt_pledge", json!(["5Grw"])),
        ("watt_pledge", json!([])),
        ("watt_events", json!(["one"])),
        ("watt_events", json!([-1])),
    ] {
        assert_eq!(
            env.error_code(method, params.clone()).await,
            -32602,
            "{method}({params})"
        );
    }
    assert_eq!(env.error_code("watt_events", json!([99])).await, 4003);
    // An account never seen is no error: it has nothing.
    let nobody = AccountId::from([9u8; 32]).to_ss58();
    let r = env.result("watt_rewards", json!([nobody])).await;
    assert_eq!((&r["attested"], balance(&r["claimable"])), (&json!(false), 0));
}
