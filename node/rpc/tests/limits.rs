//! Pool limits and slow subscribers, through the RPC module in process on a real dev chain (the
//! wasm runtime validates, so `sender_free` and fees are the runtime's).
//!
//! The lag tests run on a single-threaded runtime and produce blocks without yielding: the
//! subscription tasks cannot run meanwhile, so their event receivers fall behind by exactly the
//! number of events past the chain's event buffer (made small), deterministically.

use jsonrpsee::Methods;
use parity_scale_codec::Encode;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;
use watt_chain::test_utils::{keyring, open_dev_chain, open_dev_chain_with, transfer};
use watt_chain::{Chain, ChainConfig};
use watt_client::Keypair;
use watt_primitives::{Hash, SignedTransaction, UNIT};
use watt_txpool::PoolConfig;

/// Chain events buffered per subscriber in the lag tests.
const BUFFER: usize = 32;
/// More events than that.
const FLOOD: u64 = BUFFER as u64 + 10;
/// Pool lifetime in the expiry test: long enough that a block right after submitting finds the
/// transaction still pending on a loaded machine.
const LIFETIME: Duration = Duration::from_secs(2);
/// Generous: a loaded 2-core machine runs these in debug.
const WAIT: Duration = Duration::from_secs(30);

fn hex(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

fn tx_hex(tx: &SignedTransaction) -> String {
    hex(&tx.encode())
}

/// Sends one request; returns the response and the stream of subscription notifications.
async fn request(
    m: &Methods,
    method: &str,
    params: Value,
    buf: usize,
) -> (Value, Receiver<Box<serde_json::value::RawValue>>) {
    let req = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).to_string();
    let (resp, rx) = m.raw_json_request(&req, buf).await.expect("request is JSON");
    (serde_json::from_str(resp.get()).expect("response is JSON"), rx)
}

/// The next notification, or `None` once the subscription's stream ends.
async fn next(rx: &mut Receiver<Box<serde_json::value::RawValue>>) -> Option<Value> {
    let raw = tokio::time::timeout(WAIT, rx.recv())
        .await
        .expect("a notification or the end of the stream within the timeout")?;
    Some(serde_json::from_str(raw.get()).expect("notification is JSON"))
}

/// The `result` of a notification (panics on an error notification).
async fn next_result(rx: &mut Receiver<Box<serde_json::value::RawValue>>) -> Value {
    let n = next(rx).await.expect("a notification");
    n["params"]
        .get("result")
        .cloned()
        .unwrap_or_else(|| panic!("expected a result, got {n}"))
}

/// Produces `n` empty blocks without yielding to other tasks.
fn flood_blocks(chain: &Chain, n: u64) {
    let first = chain.best().0 + 1;
    for i in 0..n {
        chain
            .produce_block(1_000 + first + i, true, true)
            .expect("block produced")
            .expect("empty blocks allowed");
    }
}

/// A dev chain whose subscribers may fall only `BUFFER` events behind.
fn small_buffer_chain(dir: &std::path::Path) -> Arc<Chain> {
    open_dev_chain_with(
        dir,
        ChainConfig {
            event_buffer: BUFFER,
            ..ChainConfig::default()
        },
    )
}

fn module(chain: &Arc<Chain>) -> Methods {
    watt_rpc::rpc_module(chain.clone(), "test".into(), None)
        .expect("methods register")
        .into()
}

#[tokio::test(flavor = "current_thread")]
async fn a_lagging_head_subscriber_gets_an_error_and_is_closed() {
    let dir = tempfile::tempdir().unwrap();
    let chain = small_buffer_chain(dir.path());
    let m = module(&chain);
    let (resp, mut rx) = request(&m, "chain_subscribeNewHeads", json!([]), 1).await;
    assert!(resp.get("result").is_some(), "{resp}");
    flood_blocks(&chain, FLOOD);
    let n = next(&mut rx).await.expect("an error notification");
    let error = n["params"]["error"]
        .as_str()
        .unwrap_or_else(|| panic!("expected an error, got {n}"));
    assert_eq!(error, "subscriber too slow: 10 events missed; resubscribe");
    assert_eq!(next(&mut rx).await, None, "nothing follows: the subscription is closed");
}

#[tokio::test(flavor = "current_thread")]
async fn a_head_subscriber_that_keeps_up_sees_every_block() {
    let dir = tempfile::tempdir().unwrap();
    let chain = small_buffer_chain(dir.path());
    let m = module(&chain);
    let (_, mut rx) = request(&m, "chain_subscribeNewHeads", json!([]), 16).await;
    // More blocks than the buffer holds, read as they come: no lag, no error.
    for expected in 1..=2 * BUFFER as u64 {
        flood_blocks(&chain, 1);
        let head = next_result(&mut rx).await;
        assert_eq!(head["number"], json!(expected), "{head}");
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_lagging_watcher_still_learns_its_transaction_was_finalized() {
    let dir = tempfile::tempdir().unwrap();
    let chain = small_buffer_chain(dir.path());
    let m = module(&chain);
    let keys = keyring();
    let tx = transfer(chain.genesis_hash(), &keys[0], keys[1].account(), UNIT, 0, 0);
    let (resp, mut rx) = request(&m, "author_submitAndWatchExtrinsic", json!([tx_hex(&tx)]), 16).await;
    assert!(resp.get("result").is_some(), "{resp}");
    // The block including it is the first of the flood: its event is among those missed.
    flood_blocks(&chain, 1);
    let block = chain.best().1;
    flood_blocks(&chain, FLOOD - 1);
    assert_eq!(next_result(&mut rx).await, json!("ready"));
    assert_eq!(next_result(&mut rx).await, json!({"inBlock": hex(&block)}));
    assert_eq!(next_result(&mut rx).await, json!({"finalized": hex(&block)}));
    assert_eq!(next(&mut rx).await, None);
}

#[tokio::test(flavor = "current_thread")]
async fn a_lagging_watcher_learns_its_transaction_was_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let chain = small_buffer_chain(dir.path());
    let m = module(&chain);
    let keys = keyring();
    let g = chain.genesis_hash();
    let tx = transfer(g, &keys[0], keys[1].account(), UNIT, 0, 0);
    let (_, mut rx) = request(&m, "author_submitAndWatchExtrinsic", json!([tx_hex(&tx)]), 16).await;
    // Replaced by a higher tip (its Dropped event is the first of the flood), then the flood.
    let replacement = transfer(g, &keys[0], keys[1].account(), UNIT, 0, 1);
    chain.submit(&replacement.encode()).expect("replacement accepted");
    flood_blocks(&chain, FLOOD);
    assert_eq!(next_result(&mut rx).await, json!("ready"));
    let dropped = next_result(&mut rx).await;
    let reason = dropped["dropped"]
        .as_str()
        .unwrap_or_else(|| panic!("expected dropped, got {dropped}"));
    assert!(reason.contains("events this subscriber missed"), "{reason}");
    assert_eq!(next(&mut rx).await, None);
}

fn error_of(resp: &Value) -> (i64, String, String) {
    let e = resp
        .get("error")
        .unwrap_or_else(|| panic!("expected an error, got {resp}"));
    (
        e["code"].as_i64().unwrap(),
        e["message"].as_str().unwrap().to_string(),
        e["data"].as_str().unwrap_or_default().to_string(),
    )
}

async fn submit(m: &Methods, tx: &SignedTransaction) -> Value {
    request(m, "author_submitExtrinsic", json!([tx_hex(tx)]), 1).await.0
}

#[tokio::test]
async fn too_many_pending_for_one_sender_is_error_1012() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChainConfig {
        pool: PoolConfig {
            max_per_sender: 2,
            ..PoolConfig::default()
        },
        ..ChainConfig::default()
    };
    let chain = open_dev_chain_with(dir.path(), config);
    let m = module(&chain);
    let keys = keyring();
    let g = chain.genesis_hash();
    for n in 0..2 {
        let r = submit(&m, &transfer(g, &keys[0], keys[1].account(), UNIT, n, 0)).await;
        assert!(r.get("result").is_some(), "{r}");
    }
    let r = submit(&m, &transfer(g, &keys[0], keys[1].account(), UNIT, 2, 0)).await;
    let (code, msg, _) = error_of(&r);
    assert_eq!(code, 1012);
    assert!(msg.contains("too many pending transactions for this sender"), "{msg}");
    // Another sender is unaffected.
    let r = submit(&m, &transfer(g, &keys[1], keys[0].account(), UNIT, 0, 0)).await;
    assert!(r.get("result").is_some(), "{r}");
}

#[tokio::test]
async fn pending_fees_beyond_the_balance_are_error_1010() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let m = module(&chain);
    let keys = keyring();
    let g = chain.genesis_hash();
    let poor = Keypair::from_suri("//PoolLimitsPoor").unwrap();
    // The fee of one of the poor account's transfers, as the runtime computes it.
    let probe = transfer(g, &poor, keys[0].account(), 1, 0, 0);
    let fee = match chain.validate(&probe.encode()).unwrap() {
        Err(watt_primitives::TxError::CannotPayFee { fee, .. }) => fee,
        other => panic!("an unfunded account cannot pay: {other:?}"),
    };
    // Funds for two and a half fees: each transfer alone is payable, three together are not.
    chain
        .submit(&transfer(g, &keys[0], poor.account(), fee * 5 / 2, 0, 0).encode())
        .unwrap();
    flood_blocks(&chain, 1);
    for n in 0..2 {
        let r = submit(&m, &transfer(g, &poor, keys[0].account(), 1, n, 0)).await;
        assert!(r.get("result").is_some(), "{r}");
    }
    let third = transfer(g, &poor, keys[0].account(), 1, 2, 0);
    // The runtime alone accepts it ...
    assert!(chain.validate(&third.encode()).unwrap().is_ok());
    // ... the pool, counting the two pending fees, does not.
    let (code, _, data) = error_of(&submit(&m, &third).await);
    assert_eq!(code, 1010);
    assert!(
        data.contains(&format!("need {} in fees", 2 * fee)) && data.contains("exceeds its free balance"),
        "{data}"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_full_pool_evicts_the_cheaper_transaction_and_its_watcher_is_told() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChainConfig {
        pool: PoolConfig {
            max_count: 1,
            ..PoolConfig::default()
        },
        ..ChainConfig::default()
    };
    let chain = open_dev_chain_with(dir.path(), config);
    let m = module(&chain);
    let keys = keyring();
    let g = chain.genesis_hash();
    let cheap = transfer(g, &keys[0], keys[1].account(), UNIT, 0, 0);
    let (_, mut rx) = request(&m, "author_submitAndWatchExtrinsic", json!([tx_hex(&cheap)]), 16).await;
    assert_eq!(next_result(&mut rx).await, json!("ready"));
    // Same fee: refused, nothing evicted.
    let (code, msg, _) = error_of(&submit(&m, &transfer(g, &keys[1], keys[0].account(), UNIT, 0, 0)).await);
    assert_eq!(code, 1016, "{msg}");
    // A higher tip takes the place.
    let r = submit(&m, &transfer(g, &keys[1], keys[0].account(), UNIT, 0, 5)).await;
    assert!(r.get("result").is_some(), "{r}");
    assert_eq!(
        next_result(&mut rx).await,
        json!({"dropped": "evicted by a higher-fee transaction"})
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_transaction_pending_past_its_lifetime_is_dropped_at_the_next_block() {
    let dir = tempfile::tempdir().unwrap();
    let config = ChainConfig {
        pool: PoolConfig {
            lifetime: LIFETIME,
            ..PoolConfig::default()
        },
        // Blocks take nothing from the pool, so the transaction can only leave by expiring.
        max_block_txs: 0,
        ..ChainConfig::default()
    };
    let chain = open_dev_chain_with(dir.path(), config);
    let m = module(&chain);
    let keys = keyring();
    let g = chain.genesis_hash();
    let tx = transfer(g, &keys[0], keys[1].account(), UNIT, 0, 0);
    let hash: Hash = tx.hash();
    let submitted = std::time::Instant::now();
    let (_, mut rx) = request(&m, "author_submitAndWatchExtrinsic", json!([tx_hex(&tx)]), 16).await;
    assert_eq!(next_result(&mut rx).await, json!("ready"));
    // Before the lifetime, a block keeps it (checked only if this machine was quick enough).
    flood_blocks(&chain, 1);
    if submitted.elapsed() < LIFETIME {
        assert!(chain.is_pending(&hash));
    }
    tokio::time::sleep(LIFETIME).await;
    flood_blocks(&chain, 1);
    assert!(!chain.is_pending(&hash));
    let dropped = next_result(&mut rx).await;
    let reason = dropped["dropped"]
        .as_str()
        .unwrap_or_else(|| panic!("expected dropped, got {dropped}"));
    assert!(reason.starts_with("expired"), "{reason}");
}

/// Concurrent `author_submitExtrinsic` calls are admitted in batches (the RPC server's
/// batcher); each caller still gets its own verdict: the valid transfers their hashes, a
/// forged one and a stale nonce their own errors, whatever they were batched with.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submissions_each_get_their_own_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let m = module(&chain);
    let keys = keyring();
    let g = chain.genesis_hash();
    let good: Vec<SignedTransaction> = (0..5)
        .map(|i| transfer(g, &keys[i], keys[(i + 1) % 6].account(), UNIT, 0, 0))
        .collect();
    let mut forged = transfer(g, &keys[5], keys[0].account(), UNIT, 0, 0);
    forged.signature[3] ^= 1;
    // Alice's nonce 0 twice: only one of the two can be pooled.
    let mut all: Vec<SignedTransaction> = good.clone();
    all.push(forged);
    all.push(transfer(g, &keys[0], keys[2].account(), 2 * UNIT, 0, 0));
    let calls = all.iter().map(|tx| {
        let m = m.clone();
        let hex = tx_hex(tx);
        async move { request(&m, "author_submitExtrinsic", json!([hex]), 1).await.0 }
    });
    let answers: Vec<Value> = futures::future::join_all(calls).await;
    for (tx, answer) in good.iter().zip(&answers) {
        assert_eq!(answer["result"], json!(hex(&tx.hash())), "{answer}");
    }
    assert_eq!(answers[5]["error"]["code"], json!(1010), "forged: {}", answers[5]);
    assert!(
        answers[6]["error"].is_object(),
        "a second nonce 0 for Alice: {}",
        answers[6]
    );
    assert_eq!(chain.pool_size().0, 5, "exactly the five good transfers wait");
}
