//! A real `watt node --dev` driven over JSON-RPC and through the CLI.

use jsonrpsee::core::client::SubscriptionClientT;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use parity_scale_codec::{Decode, Encode};
use serde_json::Value;
use std::io::{Read, Write};
use std::time::Duration;
use watt_client::proof::verify_proof;
use watt_client::rpc::{hash_from_hex, to_hex, RpcError, WaitFor};
use watt_client::{dev_accounts, sign, transfer_call, Keypair, WattRpc};
use watt_e2e::{block_at, logged_imports, receipts_of_blocks, watt_cli, NodeProcess, TransferLoad};
use watt_primitives::{Balance, UNIT};

fn key(name: &str) -> Keypair {
    dev_accounts()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("dev account")
        .1
}

async fn free(rpc: &WattRpc, who: &Keypair) -> (Balance, u64) {
    let a = rpc.account(&who.account()).await.unwrap();
    (a.free.parse().unwrap(), a.nonce)
}

async fn fee_pool(rpc: &WattRpc) -> Balance {
    let v: Value = rpc.call("watt_feePool", vec![]).await.unwrap();
    v["balance"].as_str().unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transfers_by_rpc_and_cli_are_final_provable_and_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path(), &[]);
    let rpc = WattRpc::new(&node.url()).unwrap();
    let genesis = rpc.genesis_hash().await.unwrap();
    let (alice, bob, charlie, dave) = (key("Alice"), key("Bob"), key("Charlie"), key("Dave"));
    let (alice0, _) = free(&rpc, &alice).await;
    let (bob0, _) = free(&rpc, &bob).await;
    let (charlie0, _) = free(&rpc, &charlie).await;
    let (dave0, _) = free(&rpc, &dave).await;
    assert_eq!(fee_pool(&rpc).await, 0);

    // A WebSocket subscriber sees the new head.
    let ws = WsClientBuilder::default().build(node.ws_url()).await.unwrap();
    let mut heads = ws
        .subscribe::<Value, _>(
            "chain_subscribeFinalizedHeads",
            rpc_params![],
            "chain_unsubscribeFinalizedHeads",
        )
        .await
        .unwrap();

    // 1. By RPC with the SDK.
    let tx = sign(&alice, 0, 0, genesis, &transfer_call(bob.account(), 5 * UNIT, false));
    let r1 = rpc
        .submit_and_wait(&tx, WaitFor::Finalized, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(r1.success, "{r1:?}");
    let head = tokio::time::timeout(Duration::from_secs(10), heads.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert_eq!(head["number"], 1);

    // 2. By the CLI.
    let url = node.url();
    let dave_addr = dave.account().to_ss58();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        watt_cli(&[
            "tx",
            "transfer",
            "--from",
            "//Charlie",
            "--to",
            &dave_addr,
            "--amount",
            "2WATT",
            "--rpc",
            &url,
            "--output",
            "json",
        ])
    })
    .await
    .unwrap();
    assert!(ok, "cli transfer failed: {err}");
    let r2: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r2["success"], true);
    let fee2: Balance = r2["feePaid"].as_str().unwrap().parse().unwrap();
    let fee1: Balance = r1.fee_paid.parse().unwrap();

    // 3. Balances, nonces, fee pool.
    assert_eq!(free(&rpc, &alice).await, (alice0 - 5 * UNIT - fee1, 1));
    assert_eq!(free(&rpc, &bob).await, (bob0 + 5 * UNIT, 0));
    assert_eq!(free(&rpc, &charlie).await, (charlie0 - 2 * UNIT - fee2, 1));
    assert_eq!(free(&rpc, &dave).await.0, dave0 + 2 * UNIT);
    assert_eq!(
        fee_pool(&rpc).await,
        fee1 + fee2,
        "the fee pool grew by exactly the fees"
    );
    let url = node.url();
    let bob_addr = bob.account().to_ss58();
    let (ok, out, _) = tokio::task::spawn_blocking(move || {
        watt_cli(&["query", "account", &bob_addr, "--rpc", &url, "--output", "json"])
    })
    .await
    .unwrap();
    assert!(ok);
    let q: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(q["free"], (bob0 + 5 * UNIT).to_string());
    assert_eq!(q["nonce"], 0);

    // 4. A state proof of Bob's balance against the finalized header's state root.
    let bob_key = watt_runtime::pallet_balances::Free::key(&bob.account());
    let proof = rpc.read_proof(std::slice::from_ref(&bob_key), None).await.unwrap();
    let header: Value = rpc
        .call("chain_getHeader", vec![proof.at.clone().into()])
        .await
        .unwrap();
    let root = hash_from_hex(header["stateRoot"].as_str().unwrap()).unwrap();
    let entry = proof.proofs[0].to_state_proof().unwrap();
    verify_proof(&root, &entry).unwrap();
    assert_eq!(
        Balance::decode(&mut &entry.value.clone().unwrap()[..]).unwrap(),
        bob0 + 5 * UNIT
    );
    let mut lie = entry.clone();
    lie.value = Some((bob0 + 500 * UNIT).encode());
    assert!(verify_proof(&root, &lie).is_err(), "a forged value fails the proof");

    // 5. submitAndWatch reports ready -> inBlock -> finalized.
    let tx = sign(&alice, 1, 0, genesis, &transfer_call(bob.account(), UNIT, false));
    let mut watch = ws
        .subscribe::<Value, _>(
            "author_submitAndWatchExtrinsic",
            rpc_params![to_hex(&tx.encode())],
            "author_unwatchExtrinsic",
        )
        .await
        .unwrap();
    let mut statuses = vec![];
    while let Ok(Some(Ok(s))) = tokio::time::timeout(Duration::from_secs(10), watch.next()).await {
        let done = s.get("finalized").is_some();
        statuses.push(s);
        if done {
            break;
        }
    }
    assert_eq!(statuses[0], "ready");
    assert!(statuses[1].get("inBlock").is_some(), "{statuses:?}");
    assert!(statuses.last().unwrap().get("finalized").is_some(), "{statuses:?}");

    // Prometheus metrics agree with the chain.
    let metrics = http_get(node.metrics_port, "/metrics");
    assert!(
        metrics.contains("watt_block_height{status=\"finalized\"} 3"),
        "{metrics}"
    );
    assert!(metrics.contains("watt_transactions_imported_total 3"), "{metrics}");

    // 6. kill -9 while blocks with transactions are being produced, then restart on the same
    // database. Two senders submit without pause; the kill comes only once blocks with
    // transactions are being imported and transactions still wait in the pool.
    drop(ws);
    let (eve, ferdie) = (key("Eve"), key("Ferdie"));
    let imports_before = logged_imports(&node.log_text()).len();
    let load = TransferLoad::start(&rpc, genesis, vec![eve.clone(), ferdie.clone()], dave.account(), UNIT);
    let (n, r) = (&node, &rpc);
    node.wait_for(
        "two blocks with transactions under load",
        Duration::from_secs(60),
        || async move {
            let log = n.log_text();
            let busy = logged_imports(&log)[imports_before..]
                .iter()
                .filter(|b| b.txs > 0)
                .count()
                >= 2;
            busy.then_some(())
        },
    )
    .await;
    let seen_final = rpc.finalized_number().await.unwrap();
    let final_receipts = receipts_of_blocks(&rpc, 4..=seen_final).await;
    assert!(!final_receipts.is_empty());
    node.wait_for(
        "transactions waiting in the pool",
        Duration::from_secs(30),
        || async move {
            let pending: Vec<String> = r.call("author_pendingExtrinsics", vec![]).await.ok()?;
            (!pending.is_empty()).then_some(())
        },
    )
    .await;
    let log_at_kill = node.kill9();
    let submitted = load.stop().await;
    let last_logged = logged_imports(&log_at_kill)
        .last()
        .cloned()
        .expect("blocks were imported");
    assert!(
        submitted.len() > final_receipts.len(),
        "transactions were still in flight at the kill"
    );

    let node = NodeProcess::start(dir.path(), &[]);
    let rpc = WattRpc::new(&node.url()).unwrap();
    assert_eq!(rpc.genesis_hash().await.unwrap(), genesis);
    assert!(
        rpc.finalized_number().await.unwrap() >= seen_final,
        "no finalized block lost"
    );
    for r in &final_receipts {
        let again = rpc
            .receipt(&hash_from_hex(&r.tx_hash).unwrap())
            .await
            .unwrap()
            .expect("finalized receipt survives");
        assert_eq!(&again, r);
    }
    // Every block the node logged as imported before the kill was on disk, so it survives.
    let (_, survivor) = block_at(&rpc, last_logged.number)
        .await
        .expect("the last block logged before the kill survives");
    assert!(to_hex(&survivor.header.hash()).starts_with(&last_logged.hash_prefix));
    let (_, eve_nonce) = free(&rpc, &eve).await;
    let (_, ferdie_nonce) = free(&rpc, &ferdie).await;
    assert!((eve_nonce + ferdie_nonce) as usize >= final_receipts.len());
    assert_eq!(free(&rpc, &bob).await.0, bob0 + 6 * UNIT, "earlier transfers intact");
    // The restarted node keeps producing.
    let tx = sign(&alice, 2, 0, genesis, &transfer_call(bob.account(), UNIT, false));
    let r = rpc
        .submit_and_wait(&tx, WaitFor::Finalized, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(r.success);
    assert_eq!(free(&rpc, &bob).await.0, bob0 + 7 * UNIT);
}

fn http_get(port: u16, path: &str) -> String {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // One write: `write!` would send the pieces separately, and the metrics server answers
    // the first segment it reads (a bare "GET " gets a 404 and a closed socket).
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

fn code_and_data(e: RpcError) -> (i32, String) {
    match e {
        RpcError::Server {
            code, message, data, ..
        } => (code, format!("{message} {}", data.unwrap_or_default())),
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path(), &[]);
    let rpc = WattRpc::new(&node.url()).unwrap();
    let genesis = rpc.genesis_hash().await.unwrap();
    let (alice, bob) = (key("Alice"), key("Bob"));
    let before: Value = rpc.call("chain_getHeader", vec![]).await.unwrap();
    let alice_before = free(&rpc, &alice).await;

    let submit_raw = |bytes: String| {
        let rpc = rpc.clone();
        async move {
            rpc.call::<String>("author_submitExtrinsic", vec![bytes.into()])
                .await
                .unwrap_err()
        }
    };
    let (code, msg) = code_and_data(submit_raw("zz".into()).await);
    assert_eq!(code, -32602, "{msg}");
    let (code, msg) = code_and_data(submit_raw("0x0102".into()).await);
    assert!(code == 1010 && msg.contains("malformed"), "{code} {msg}");
    let mut forged = sign(&alice, 0, 0, genesis, &transfer_call(bob.account(), UNIT, false));
    forged.signature[0] ^= 1;
    let (code, msg) = code_and_data(submit_raw(to_hex(&forged.encode())).await);
    assert!(code == 1010 && msg.contains("bad signature"), "{msg}");
    let other_chain = sign(&alice, 0, 0, [3; 32], &transfer_call(bob.account(), UNIT, false));
    let (_, msg) = code_and_data(submit_raw(to_hex(&other_chain.encode())).await);
    assert!(msg.contains("another chain"), "{msg}");
    let ahead = sign(&alice, 9, 0, genesis, &transfer_call(bob.account(), UNIT, false));
    let (_, msg) = code_and_data(submit_raw(to_hex(&ahead.encode())).await);
    assert!(msg.contains("nonce too high"), "{msg}");
    let (pauper, _) = Keypair::generate();
    let broke = sign(&pauper, 0, 0, genesis, &transfer_call(bob.account(), 1, false));
    let (_, msg) = code_and_data(submit_raw(to_hex(&broke.encode())).await);
    assert!(msg.contains("too low to pay the fee"), "{msg}");
    let remark =
        watt_runtime::RuntimeCall::System(watt_runtime::pallet_system::Call::Remark { data: vec![7; 100_000] });
    let huge = sign(&alice, 0, 0, genesis, &remark);
    let (_, msg) = code_and_data(submit_raw(to_hex(&huge.encode())).await);
    assert!(msg.contains("the limit is 65536"), "{msg}");
    // Nonce too low: use nonce 0 once, then again.
    let ok = sign(&alice, 0, 0, genesis, &transfer_call(bob.account(), UNIT, false));
    rpc.submit_and_wait(&ok, WaitFor::Finalized, Duration::from_secs(30))
        .await
        .unwrap();
    let stale = sign(&alice, 0, 1, genesis, &transfer_call(bob.account(), 2 * UNIT, false));
    let (_, msg) = code_and_data(submit_raw(to_hex(&stale.encode())).await);
    assert!(msg.contains("nonce too low"), "{msg}");
    let after_ok: Value = rpc.call("chain_getHeader", vec![]).await.unwrap();

    // Unknown block, bad address, non-read-only state_call.
    let unknown: Value = rpc
        .call("chain_getHeader", vec![to_hex(&[9; 32]).into()])
        .await
        .unwrap();
    assert_eq!(unknown, Value::Null, "an unknown header is null, not an error");
    let (code, _) = code_and_data(
        rpc.call::<Value>("watt_account", vec!["5Grwva".into(), to_hex(&[9; 32]).into()])
            .await
            .unwrap_err(),
    );
    assert_eq!(code, -32602);
    let (code, _) = code_and_data(
        rpc.call::<Value>(
            "watt_account",
            vec![alice.account().to_ss58().into(), to_hex(&[9; 32]).into()],
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(code, 4003);
    let (code, _) = code_and_data(
        rpc.call::<Value>("state_call", vec!["watt_apply_block".into(), "0x".into()])
            .await
            .unwrap_err(),
    );
    assert_eq!(code, -32602);

    // An oversized request body is refused before it is parsed.
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"author_submitExtrinsic","params":["0x{}"]}}"#,
        "00".repeat(2 << 20)
    );
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", node.port)).unwrap();
    write!(stream, "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len()).unwrap();
    let _ = stream.write_all(body.as_bytes());
    let mut response = String::new();
    let _ = stream.read_to_string(&mut response);
    assert!(
        response.starts_with("HTTP/1.1 413"),
        "{}",
        &response[..response.len().min(200)]
    );

    // Nothing but the one valid transfer changed anything.
    let after: Value = rpc.call("chain_getHeader", vec![]).await.unwrap();
    assert_eq!(after, after_ok);
    assert_eq!(after["number"], 1);
    assert_ne!(before["stateRoot"], after["stateRoot"]);
    let (alice_free, alice_nonce) = free(&rpc, &alice).await;
    assert_eq!(alice_nonce, alice_before.1 + 1);
    assert!(alice_free < alice_before.0 - UNIT);
    let pending: Vec<String> = rpc.call("author_pendingExtrinsics", vec![]).await.unwrap();
    assert!(pending.is_empty());
}

#[test]
fn cli_keys_and_chain_spec() {
    let (ok, out, _) = watt_cli(&["key", "inspect", "//Alice", "--output", "json"]);
    assert!(ok);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["ss58"], "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
    assert_eq!(
        v["public"],
        "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
    );
    let (ok, out, _) = watt_cli(&["key", "generate", "--output", "json"]);
    assert!(ok);
    let g: Value = serde_json::from_str(&out).unwrap();
    let phrase = g["secretPhrase"].as_str().unwrap();
    let (_, again, _) = watt_cli(&["key", "inspect", phrase, "--output", "json"]);
    assert_eq!(serde_json::from_str::<Value>(&again).unwrap()["ss58"], g["ss58"]);
    let (ok, _, err) = watt_cli(&["key", "inspect", "//"]);
    assert!(!ok && err.contains("invalid secret URI"), "{err}");
    let (ok, spec, _) = watt_cli(&["chain-spec", "--dev"]);
    assert!(ok);
    let spec: Value = serde_json::from_str(&spec).unwrap();
    assert_eq!(spec["genesis"]["balances"].as_array().unwrap().len(), 6);
    assert!(spec["code"].as_str().unwrap().starts_with("0x0061736d"), "wasm magic");
    let (ok, _, err) = watt_cli(&[
        "tx",
        "transfer",
        "--from",
        "//Alice",
        "--to",
        "nonsense",
        "--amount",
        "1",
        "--rpc",
        "http://127.0.0.1:1",
    ]);
    assert!(!ok && err.contains("invalid address"), "{err}");
    let (ok, help, _) = watt_cli(&["node", "--help"]);
    assert!(ok && help.contains("--seal-interval") && help.contains("--base-path"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_started_from_a_written_chain_spec_has_that_genesis() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, spec, _) = watt_cli(&["chain-spec", "--dev"]);
    assert!(ok);
    let mut spec: Value = serde_json::from_str(&spec).unwrap();
    spec["name"] = "Spec Test".into();
    spec["genesis"]["balances"].as_array_mut().unwrap().truncate(2);
    let path = dir.path().join("spec.json");
    std::fs::write(&path, serde_json::to_vec(&spec).unwrap()).unwrap();
    let node = NodeProcess::start(dir.path(), &["--chain", path.to_str().unwrap()]);
    let rpc = WattRpc::new(&node.url()).unwrap();
    let name: String = rpc.call("system_chain", vec![]).await.unwrap();
    assert_eq!(name, "Spec Test");
    assert_eq!(
        free(&rpc, &key("Charlie")).await.0,
        0,
        "only the spec's accounts are funded"
    );
    assert_eq!(free(&rpc, &key("Bob")).await.0, 1_000_000 * UNIT);
}

#[test]
fn quorum_check_reports_intersection_splits_and_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let node = |n: &str, t: u32, v: &[&str]| serde_json::json!({"node": n, "qset": {"t": t, "v": v}});
    let nodes: Vec<Value> = ["A", "B", "C", "D"]
        .iter()
        .map(|n| node(n, 3, &["A", "B", "C", "D"]))
        .collect();
    let safe = serde_json::json!({ "nodes": nodes });
    let safe = write("safe.json", &safe.to_string());
    let out = std::process::Command::new(watt_e2e::watt_binary())
        .args(["quorum", "check", &safe, "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intersecting"], true);
    assert_eq!(v["disjoint_quorums"], serde_json::json!([]));

    let split = serde_json::json!({"nodes": [
        node("A", 2, &["A", "B"]), node("B", 2, &["A", "B"]),
        node("C", 2, &["C", "D"]), node("D", 2, &["C", "D", "X"]),
    ]});
    let split = write("split.json", &split.to_string());
    let out = std::process::Command::new(watt_e2e::watt_binary())
        .args(["quorum", "check", &split, "--output", "json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["intersecting"], false);
    let mut groups: Vec<Vec<String>> = serde_json::from_value(v["disjoint_quorums"].clone()).unwrap();
    groups.sort();
    assert_eq!(
        groups,
        vec![
            vec!["A".to_string(), "B".to_string()],
            vec!["C".to_string(), "D".to_string()]
        ]
    );
    assert!(v["problems"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p.as_str().unwrap().contains("validator X")));

    let bad = write("bad.json", "{\"nodes\": 3}");
    let out = std::process::Command::new(watt_e2e::watt_binary())
        .args(["quorum", "check", &bad])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = std::process::Command::new(watt_e2e::watt_binary())
        .args(["quorum", "check", "/nonexistent.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn scp_simulate_prints_a_summary_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = r#"{"seed": 7, "slots": 4, "nodes": [
        {"id": "A", "qset": {"t": 3, "v": ["A", "B", "C", "D"]}},
        {"id": "B", "qset": {"t": 3, "v": ["A", "B", {"t": 2, "v": ["C", "D"]}]}},
        {"id": "C", "qset": {"t": 3, "v": ["A", "B", "C", "D"]}, "behavior": "honest"},
        {"id": "D", "qset": {"t": 3, "v": ["A", "B", "C", "D"]}, "crash_at_ms": 0, "restart_at_ms": 5000}],
        "network": {"latency_ms": [5, 20], "loss": 0.0,
                    "partitions": [{"from_ms": 0, "to_ms": 2000, "groups": [["A", "B"], ["C", "D"]]}]}}"#;
    let path = dir.path().join("s.json");
    std::fs::write(&path, scenario).unwrap();
    let run = || {
        std::process::Command::new(watt_e2e::watt_binary())
            .args(["scp", "simulate", path.to_str().unwrap()])
            .output()
            .unwrap()
    };
    let out = run();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["agreement"], true);
    assert_eq!(v["slots_externalized"], 4);
    assert!(v["latency_ms"]["p50"].as_u64().unwrap() <= v["latency_ms"]["p99"].as_u64().unwrap());
    let a = v["externalized"]["A"].as_array().unwrap();
    assert_eq!(a.len(), 4);
    assert_eq!(
        v["externalized"]["B"], v["externalized"]["A"],
        "honest nodes externalize the same values"
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&run().stdout).unwrap(),
        v,
        "same seed, same run"
    );
    std::fs::write(&path, r#"{"seed": 1, "slots": 1, "nodes": []}"#).unwrap();
    let out = run();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no nodes"));
}

/// The harness itself: a node that cannot start, or dies while a test waits on it, fails the
/// test at once with its exit status and log instead of waiting out a timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_dies_fails_the_test_at_once_with_its_log() {
    use futures::FutureExt;
    use std::panic::AssertUnwindSafe;
    let dir = tempfile::tempdir().unwrap();
    let started = std::time::Instant::now();
    let missing = dir.path().join("missing-spec.json");
    let path = missing.to_str().unwrap().to_string();
    let base = dir.path().to_path_buf();
    let Err(refused) = std::panic::catch_unwind(move || NodeProcess::start(&base, &["--chain", &path])) else {
        panic!("a node with a missing chain spec started");
    };
    let msg = refused.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("exited unexpectedly"), "{msg}");
    assert!(
        msg.contains("missing-spec.json"),
        "the node's own error is in the message: {msg}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "noticed at once, not at the start timeout"
    );

    let node = NodeProcess::start(dir.path(), &[]);
    let killed = std::process::Command::new("kill")
        .args(["-9", &node.pid().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let started = std::time::Instant::now();
    let waited = AssertUnwindSafe(
        node.wait_for("something that never comes", Duration::from_secs(120), || async {
            None::<()>
        }),
    )
    .catch_unwind()
    .await
    .expect_err("waiting on a dead node fails");
    let msg = waited.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        msg.contains("exited unexpectedly") && msg.contains("signal: 9"),
        "{msg}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "noticed at once, not at the deadline"
    );
}
