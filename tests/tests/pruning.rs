//! State pruning through a real node: recent state stays readable and provable over RPC, older
//! state is refused with code 4004 and a message that says it was pruned, the horizon survives
//! a kill -9, and a pruned database refuses to reopen as an archive.

use serde_json::{json, Value};
use std::process::Command;
use std::time::{Duration, Instant};
use watt_client::rpc::{header_number, RpcError};
use watt_client::{dev_accounts, WattRpc};
use watt_e2e::{watt_binary, NodeProcess};

const KEEP: u64 = 8;

async fn head(rpc: &WattRpc) -> u64 {
    let h: Value = rpc.call("chain_getHeader", vec![]).await.expect("chain_getHeader");
    header_number(&h).expect("header number")
}

async fn wait_for_height(node: &NodeProcess, rpc: &WattRpc, height: u64) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while head(rpc).await < height {
        node.assert_alive();
        if Instant::now() > deadline {
            node.fail(&format!("no block #{height} within 60 s at --seal-interval 100"));
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn hash_at(rpc: &WattRpc, n: u64) -> Value {
    rpc.call("chain_getBlockHash", vec![json!(n)])
        .await
        .expect("chain_getBlockHash")
}

fn assert_pruned(r: Result<Value, RpcError>, what: &str) {
    match r {
        Err(RpcError::Server { code, message, .. }) => {
            assert_eq!(code, 4004, "{what}: {message}");
            assert!(message.contains("pruned"), "{what}: {message}");
            assert!(
                message.contains("oldest available"),
                "{what} names the oldest kept block: {message}"
            );
        }
        other => panic!("{what} at a pruned block was not refused: {other:?}"),
    }
}

async fn check_reads(rpc: &WattRpc) {
    let alice = dev_accounts()[0].1.account();
    let key = json!("0x00");
    let now = head(rpc).await;
    let old = hash_at(rpc, 1).await;
    let kept = hash_at(rpc, now - 2).await;
    assert_pruned(
        rpc.call("state_getReadProof", vec![json!([key]), old.clone()]).await,
        "state_getReadProof",
    );
    assert_pruned(
        rpc.call("state_getStorage", vec![key.clone(), old.clone()]).await,
        "state_getStorage",
    );
    assert_pruned(
        rpc.call("watt_account", vec![json!(alice.to_string()), old.clone()])
            .await,
        "watt_account",
    );
    // Blocks themselves are never pruned.
    let block: Value = rpc.call("chain_getBlock", vec![old]).await.expect("chain_getBlock");
    assert_eq!(header_number(&block["block"]["header"]), Some(1));
    // Recent state is served.
    let proof: Value = rpc
        .call("state_getReadProof", vec![json!([key]), kept.clone()])
        .await
        .expect("a proof at a kept block");
    assert_eq!(proof["at"], kept);
    let account: Value = rpc
        .call("watt_account", vec![json!(alice.to_string()), kept])
        .await
        .expect("an account at a kept block");
    assert!(account["free"].as_str().is_some(), "{account}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pruned_state_is_refused_with_4004_and_recent_state_is_served_across_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let args = ["--state-pruning", "8", "--seal-interval", "100"];
    let node = NodeProcess::start(dir.path(), &args);
    let rpc = WattRpc::new(&node.url()).unwrap();
    wait_for_height(&node, &rpc, 3 * KEEP).await;
    check_reads(&rpc).await;
    let before = head(&rpc).await;
    node.kill9();

    let node = NodeProcess::start(dir.path(), &args);
    let rpc = WattRpc::new(&node.url()).unwrap();
    assert!(head(&rpc).await >= before, "finalized blocks lost");
    wait_for_height(&node, &rpc, before + 3).await;
    check_reads(&rpc).await;
    drop(node);

    // The history an archive node promises is gone: refuse rather than pretend.
    let out = Command::new(watt_binary())
        .args(["node", "--dev", "--base-path"])
        .arg(dir.path())
        .args(["--rpc-port", "0", "--no-prometheus", "--state-pruning", "archive"])
        .output()
        .expect("run watt node");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "a pruned database opened as an archive: {stderr}"
    );
    assert!(stderr.contains("cannot be opened with `archive`"), "{stderr}");
}
