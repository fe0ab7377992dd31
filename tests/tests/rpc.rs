//! Every JSON-RPC method and error code in the README's table, against a real node.

use jsonrpsee::core::client::SubscriptionClientT;
use jsonrpsee::rpc_params;
use jsonrpsee::ws_client::WsClientBuilder;
use parity_scale_codec::{DecodeAll, Encode};
use serde_json::{json, Value};
use std::time::Duration;
use watt_client::rpc::{from_hex, to_hex, RpcError, WaitFor};
use watt_client::{dev_accounts, sign, transfer_call, Keypair, WattRpc};
use watt_e2e::NodeProcess;
use watt_primitives::abi::{ChainContext, Query, QueryResult, RuntimeVersion, ValidTransaction, ValidateInput};
use watt_primitives::{Balance, Hash, SignedTransaction, TxError, UNIT};

fn key(name: &str) -> Keypair {
    dev_accounts()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("dev account")
        .1
}

/// The JSON-RPC error code and message (with data) of a refused call.
fn refused<T: std::fmt::Debug>(r: Result<T, RpcError>) -> (i32, String) {
    match r {
        Err(RpcError::Server {
            code, message, data, ..
        }) => (code, format!("{message} {}", data.unwrap_or_default())),
        other => panic!("expected a JSON-RPC error, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_methods_answer_in_their_documented_shapes() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path(), &["--name", "e2e-rpc"]);
    let rpc = WattRpc::new(&node.url()).unwrap();
    let genesis = rpc.genesis_hash().await.unwrap();
    let (alice, bob) = (key("Alice"), key("Bob"));
    let bob_key = watt_runtime::pallet_balances::Free::key(&bob.account());
    let bob0: Balance = rpc.account(&bob.account()).await.unwrap().free.parse().unwrap();

    let ws = WsClientBuilder::default().build(node.ws_url()).await.unwrap();
    let mut new_heads = ws
        .subscribe::<Value, _>("chain_subscribeNewHeads", rpc_params![], "chain_unsubscribeNewHeads")
        .await
        .unwrap();
    let tx = sign(&alice, 0, 0, genesis, &transfer_call(bob.account(), 3 * UNIT, false));
    let receipt = rpc
        .submit_and_wait(&tx, WaitFor::Finalized, Duration::from_secs(60))
        .await
        .unwrap();
    let hash1 = receipt.block_hash.clone();

    // system_
    let health: Value = rpc.call("system_health", vec![]).await.unwrap();
    assert_eq!(
        health,
        json!({"peers": 0, "isSyncing": false, "shouldHavePeers": false, "bestNumber": 1})
    );
    let version: String = rpc.call("system_version", vec![]).await.unwrap();
    assert_eq!(version, env!("CARGO_PKG_VERSION"), "the workspace version");
    let name: String = rpc.call("system_name", vec![]).await.unwrap();
    assert_eq!(name, "e2e-rpc", "the --name flag");
    let props: Value = rpc.call("system_properties", vec![]).await.unwrap();
    assert_eq!(
        props,
        json!({"ss58Format": 42, "tokenDecimals": 12, "tokenSymbol": "WATT"})
    );

    // chain_
    let head: Value = rpc.call("chain_getHeader", vec![]).await.unwrap();
    assert_eq!(head["hash"], hash1.as_str());
    let by_number = |n: Value| {
        let rpc = rpc.clone();
        async move { rpc.call::<Option<String>>("chain_getBlockHash", vec![n]).await }
    };
    assert_eq!(
        by_number(Value::Null).await.unwrap().as_deref(),
        Some(hash1.as_str()),
        "head when omitted"
    );
    let no_params: Option<String> = rpc.call("chain_getBlockHash", vec![]).await.unwrap();
    assert_eq!(no_params.as_deref(), Some(hash1.as_str()));
    assert_eq!(by_number(1.into()).await.unwrap().as_deref(), Some(hash1.as_str()));
    assert_eq!(
        by_number("0x1".into()).await.unwrap().as_deref(),
        Some(hash1.as_str()),
        "hex numbers too"
    );
    assert_eq!(by_number(0.into()).await.unwrap(), Some(to_hex(&genesis)));
    assert_eq!(by_number(2.into()).await.unwrap(), None, "beyond the head: null");
    assert_eq!(refused(by_number((-1).into()).await).0, -32602);
    assert_eq!(refused(by_number("zz".into()).await).0, -32602);
    let finalized: String = rpc.call("chain_getFinalizedHead", vec![]).await.unwrap();
    assert_eq!(finalized, hash1);
    let block: Value = rpc.call("chain_getBlock", vec![hash1.clone().into()]).await.unwrap();
    assert_eq!(block["justifications"], Value::Null);
    assert_eq!(block["block"]["header"], head);
    assert_eq!(block["block"]["extrinsics"], json!([to_hex(&tx.encode())]));
    let head_block: Value = rpc.call("chain_getBlock", vec![]).await.unwrap();
    assert_eq!(head_block, block, "the head block when no hash is given");
    let unknown: Value = rpc.call("chain_getBlock", vec![to_hex(&[7; 32]).into()]).await.unwrap();
    assert_eq!(unknown, Value::Null);
    assert_eq!(
        refused(rpc.call::<Value>("chain_getBlock", vec!["0x1234".into()]).await).0,
        -32602,
        "a hash is 32 bytes"
    );
    let announced = tokio::time::timeout(Duration::from_secs(30), new_heads.next())
        .await
        .expect("a new head within 30 s")
        .unwrap()
        .unwrap();
    assert_eq!(announced, head, "chain_newHead carries the new header");
    new_heads.unsubscribe().await.unwrap();

    // state_
    let storage = |k: Value, at: Option<String>| {
        let rpc = rpc.clone();
        let mut params = vec![k];
        params.extend(at.map(Value::from));
        async move { rpc.call::<Option<String>>("state_getStorage", params).await }
    };
    let now = storage(to_hex(&bob_key).into(), None)
        .await
        .unwrap()
        .expect("Bob's balance is stored");
    assert_eq!(
        Balance::decode_all(&mut &from_hex(&now).unwrap()[..]).unwrap(),
        bob0 + 3 * UNIT
    );
    let then = storage(to_hex(&bob_key).into(), Some(to_hex(&genesis)))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        Balance::decode_all(&mut &from_hex(&then).unwrap()[..]).unwrap(),
        bob0,
        "history is readable at genesis"
    );
    assert_eq!(
        storage("0x00ff00ff".into(), None).await.unwrap(),
        None,
        "an absent key is null"
    );
    assert_eq!(refused(storage("nothex".into(), None).await).0, -32602);
    assert_eq!(
        refused(storage(to_hex(&bob_key).into(), Some(to_hex(&[7; 32]))).await).0,
        4003,
        "unknown block"
    );
    let rv: Value = rpc.call("state_getRuntimeVersion", vec![]).await.unwrap();
    assert_eq!(
        rv,
        json!({"specName": watt_runtime::SPEC_NAME, "specVersion": watt_runtime::SPEC_VERSION})
    );
    let call = |entry: &str, data: Vec<u8>, at: Option<String>| {
        let rpc = rpc.clone();
        let mut params = vec![entry.into(), to_hex(&data).into()];
        params.extend(at.map(Value::from));
        async move {
            rpc.call::<String>("state_call", params)
                .await
                .map(|out| from_hex(&out).unwrap())
        }
    };
    let out = call("watt_version", vec![], None).await.unwrap();
    assert_eq!(
        RuntimeVersion::decode_all(&mut &out[..]).unwrap(),
        RuntimeVersion {
            spec_name: watt_runtime::SPEC_NAME.into(),
            spec_version: watt_runtime::SPEC_VERSION
        }
    );
    let out = call("watt_query", Query::FeePool.encode(), None).await.unwrap();
    let QueryResult::FeePool { balance, .. } = QueryResult::decode_all(&mut &out[..]).unwrap() else {
        panic!("watt_query(FeePool) answered another question");
    };
    assert_eq!(balance.to_string(), receipt.fee_paid, "the pool holds the one fee");
    let out = call("watt_query", Query::FeePool.encode(), Some(to_hex(&genesis)))
        .await
        .unwrap();
    assert!(
        matches!(
            QueryResult::decode_all(&mut &out[..]).unwrap(),
            QueryResult::FeePool { balance: 0, .. }
        ),
        "the fee pool was empty at genesis"
    );
    let next = sign(&alice, 1, 0, genesis, &transfer_call(bob.account(), UNIT, false));
    let validate = |tx: &SignedTransaction| ValidateInput {
        chain: ChainContext { genesis_hash: genesis },
        tx: tx.encode(),
    };
    let out = call("watt_validate_transaction", validate(&next).encode(), None)
        .await
        .unwrap();
    let v = Result::<ValidTransaction, TxError>::decode_all(&mut &out[..])
        .unwrap()
        .expect("nonce 1 is valid next");
    assert_eq!(
        (v.hash, v.signer, v.nonce, v.state_nonce),
        (next.hash(), alice.account(), 1, 1)
    );
    let out = call("watt_validate_transaction", validate(&tx).encode(), None)
        .await
        .unwrap();
    assert!(
        Result::<ValidTransaction, TxError>::decode_all(&mut &out[..])
            .unwrap()
            .is_err(),
        "the used nonce 0 is invalid now"
    );
    let out = call(
        "watt_validate_transaction",
        validate(&tx).encode(),
        Some(to_hex(&genesis)),
    )
    .await
    .unwrap();
    assert!(
        Result::<ValidTransaction, TxError>::decode_all(&mut &out[..])
            .unwrap()
            .is_ok(),
        "at genesis nonce 0 was still unused"
    );
    assert_eq!(
        refused(call("watt_version", vec![], Some(to_hex(&[7; 32]))).await).0,
        4003
    );
    // Validation by state_call pools nothing.
    let pending: Vec<String> = rpc.call("author_pendingExtrinsics", vec![]).await.unwrap();
    assert!(pending.is_empty());
    assert_eq!(rpc.next_nonce(&alice.account()).await.unwrap(), 1);

    // watt_
    let pool: Value = rpc.call("watt_feePool", vec![]).await.unwrap();
    assert_eq!(pool["balance"], receipt.fee_paid.as_str());
    assert_eq!(pool["account"], watt_primitives::fee_pool_account().to_ss58().as_str());
    let r: Value = rpc.call("watt_receipt", vec![to_hex(&tx.hash()).into()]).await.unwrap();
    assert_eq!(r["blockNumber"], 1);
    assert_eq!(r["index"], 0);
    assert_eq!(r["success"], true);
    let none: Value = rpc
        .call("watt_receipt", vec![to_hex(&next.hash()).into()])
        .await
        .unwrap();
    assert_eq!(none, Value::Null, "no receipt for a transaction never submitted");
    assert_eq!(
        refused(rpc.call::<Value>("watt_receipt", vec!["0x1234".into()]).await).0,
        -32602
    );
    assert_eq!(
        refused(
            rpc.call::<u64>("system_accountNextIndex", vec!["nonsense".into()])
                .await
        )
        .0,
        -32602
    );
    let (code, msg) = refused(rpc.call::<Value>("watt_account", vec![]).await);
    assert_eq!(code, -32602, "a missing parameter: {msg}");
}

/// Submits `n` transfers from `who` with consecutive nonces from its next nonce, as fast as the
/// node takes them; returns the first nonce and the hashes (signatures are randomized, so a
/// transaction signed again has another hash).
async fn burst(rpc: &WattRpc, genesis: Hash, who: &Keypair, to: &Keypair, n: u64) -> (u64, Vec<Hash>) {
    let first = rpc.next_nonce(&who.account()).await.unwrap();
    let mut hashes = vec![];
    for nonce in first..first + n {
        let tx = sign(who, nonce, 0, genesis, &transfer_call(to.account(), UNIT, false));
        hashes.push(rpc.submit(&tx).await.unwrap());
    }
    (first, hashes)
}

/// With one transaction per block the pool drains slowly, so a burst keeps a sender's last
/// transaction pending long enough to collide with it. Each attempt that finds it already
/// included (the node outran us) is retried with a new burst.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pool_refusals_have_their_codes_and_a_higher_tip_replaces() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path(), &["--max-block-txs", "1"]);
    let rpc = WattRpc::new(&node.url()).unwrap();
    let genesis = rpc.genesis_hash().await.unwrap();
    let (alice, bob) = (key("Alice"), key("Bob"));
    let ws = WsClientBuilder::default().build(node.ws_url()).await.unwrap();
    let tip = UNIT / 2;

    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    let (original, replacement, mut watch, reference) = loop {
        node.assert_alive();
        assert!(
            std::time::Instant::now() < deadline,
            "never caught a pending transaction"
        );
        let (first, burst_hashes) = burst(&rpc, genesis, &alice, &bob, 30).await;
        let nonce = first + 30;
        let original = sign(&alice, nonce, 0, genesis, &transfer_call(bob.account(), UNIT, false));
        let mut watch = ws
            .subscribe::<Value, _>(
                "author_submitAndWatchExtrinsic",
                rpc_params![to_hex(&original.encode())],
                "author_unwatchExtrinsic",
            )
            .await
            .unwrap();
        let ready = tokio::time::timeout(Duration::from_secs(30), watch.next())
            .await
            .unwrap();
        assert_eq!(ready.unwrap().unwrap(), "ready");

        // Counting pending transactions: the next index is past `nonce` while the state nonce
        // (read after it) is not yet.
        let next_index = rpc.next_nonce(&alice.account()).await.unwrap();
        let state_nonce = rpc.account(&alice.account()).await.unwrap().nonce;
        let pending: Vec<String> = rpc.call("author_pendingExtrinsics", vec![]).await.unwrap();
        let again = rpc.submit(&original).await;
        let same_tip = sign(
            &alice,
            nonce,
            0,
            genesis,
            &transfer_call(bob.account(), 2 * UNIT, false),
        );
        let too_low = rpc.submit(&same_tip).await;
        let replacement = sign(&alice, nonce, tip, genesis, &transfer_call(bob.account(), UNIT, false));
        let replaced = match rpc.submit(&replacement).await {
            Ok(h) => h,
            Err(RpcError::Server { code: 1010, .. }) | Err(RpcError::Server { code: 1014, .. }) => {
                // The original was included (1010), or is in the block being built (1014),
                // before we collided with it: retry with a new burst.
                rpc.wait(&original.hash(), WaitFor::Included, Duration::from_secs(60))
                    .await
                    .unwrap();
                continue;
            }
            Err(e) => panic!("the higher-tip replacement was refused: {e}"),
        };
        // The original was pending until the replacement, so at every earlier call too.
        assert_eq!(next_index, nonce + 1, "the next index counts pending transactions");
        assert!(state_nonce <= nonce, "while the state nonce was behind");
        assert!(
            pending.contains(&to_hex(&original.encode())),
            "the pending list holds it"
        );
        let (code, msg) = refused(again);
        assert_eq!(code, 1013, "already in the pool: {msg}");
        let (code, msg) = refused(too_low);
        assert_eq!(code, 1014, "a replacement needs a higher tip: {msg}");
        assert_eq!(replaced, replacement.hash());
        // A tip-less transfer of the same shape from the burst, to compare fees with.
        break (original, replacement, watch, burst_hashes[0]);
    };

    let dropped = tokio::time::timeout(Duration::from_secs(30), watch.next())
        .await
        .expect("the watcher hears of the replacement")
        .unwrap()
        .unwrap();
    assert!(
        dropped["dropped"].as_str().unwrap_or_default().contains("replaced"),
        "{dropped}"
    );
    let r = rpc
        .wait(&replacement.hash(), WaitFor::Finalized, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(r.success);
    let base = rpc.receipt(&reference).await.unwrap().expect("the burst was included");
    let base_fee: Balance = base.fee_paid.parse().unwrap();
    assert_eq!(
        r.fee_paid.parse::<Balance>().unwrap(),
        base_fee + tip,
        "the fee paid includes the tip"
    );
    assert_eq!(
        rpc.receipt(&original.hash()).await.unwrap(),
        None,
        "the replaced one never lands"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_pool_refuses_with_1016_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    // A pool of one: while the engine builds a block from it, the next submission finds it full.
    let node = NodeProcess::start(dir.path(), &["--pool-limit", "1"]);
    let rpc = WattRpc::new(&node.url()).unwrap();
    let genesis = rpc.genesis_hash().await.unwrap();
    let senders = [key("Alice"), key("Bob"), key("Charlie")];
    let to = key("Dave").account();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let (refused_tx, msg) = 'outer: loop {
        for s in &senders {
            node.assert_alive();
            assert!(std::time::Instant::now() < deadline, "the pool of one never filled");
            let nonce = rpc.next_nonce(&s.account()).await.unwrap();
            let tx = sign(s, nonce, 0, genesis, &transfer_call(to, UNIT, false));
            match rpc.submit(&tx).await {
                Ok(_) => {}
                Err(RpcError::Server {
                    code: 1016, message, ..
                }) => break 'outer (tx, message),
                Err(e) => panic!("unexpected refusal: {e}"),
            }
        }
    };
    assert!(msg.contains("full"), "{msg}");
    // The refused transaction left nothing behind: once the pool drains, its nonce is still
    // the sender's next and it has no receipt.
    let signer = refused_tx.tx.signer;
    let n = refused_tx.tx.nonce;
    let (r, a) = (&rpc, signer);
    node.wait_for("the pool to drain", Duration::from_secs(60), || async move {
        let pending: Vec<String> = r.call("author_pendingExtrinsics", vec![]).await.ok()?;
        let nonce = r.account(&a).await.ok()?.nonce;
        (pending.is_empty() && nonce == n).then_some(())
    })
    .await;
    assert_eq!(rpc.receipt(&refused_tx.hash()).await.unwrap(), None);
    // And the same transaction is taken once there is room.
    let again = rpc
        .submit_and_wait(&refused_tx, WaitFor::Finalized, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(again.success);
}
