//! The `watt` CLI's transaction and query commands and the node's `--seal-interval`, against a
//! real node.

use serde_json::Value;
use std::time::Duration;
use watt_client::rpc::hash_from_hex;
use watt_client::{dev_accounts, WattRpc};
use watt_e2e::{block_at, watt_cli, NodeProcess};
use watt_primitives::{Balance, UNIT};

fn ss58(name: &str) -> String {
    dev_accounts()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("dev account")
        .1
        .account()
        .to_ss58()
}

/// `watt <args> --rpc <url>` on a blocking thread; panics with stderr unless it succeeds.
async fn cli_ok(url: &str, args: &[&str]) -> String {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(["--rpc".to_string(), url.to_string()]);
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        watt_cli(&refs)
    })
    .await
    .unwrap();
    assert!(ok, "watt {args:?} failed: {err}");
    out
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn balance(v: &Value) -> Balance {
    v.as_str().expect("a decimal string").parse().expect("a balance")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_transfer_waits_as_asked_pays_its_tip_and_fees_reach_the_pool() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path(), &[]);
    let url = node.url();
    let rpc = WattRpc::new(&url).unwrap();
    let bob = ss58("Bob");
    let transfer = |wait: &'static str, tip: &'static str| {
        let (url, bob) = (url.clone(), bob.clone());
        async move {
            json(
                &cli_ok(
                    &url,
                    &[
                        "tx", "transfer", "--from", "//Alice", "--to", &bob, "--amount", "1WATT", "--tip", tip,
                        "--wait", wait, "--output", "json",
                    ],
                )
                .await,
            )
        }
    };
    let pool_before = json(&cli_ok(&url, &["query", "fee-pool", "--output", "json"]).await);
    assert_eq!(
        balance(&pool_before["balance"]),
        0,
        "nothing paid before the first transfer"
    );

    // --wait none returns at once with the hash; the transfer lands afterwards.
    let pooled = transfer("none", "0").await;
    assert_eq!(pooled["status"], "pooled", "{pooled}");
    assert!(pooled.get("blockNumber").is_none(), "no receipt yet: {pooled}");
    let hash = hash_from_hex(pooled["txHash"].as_str().unwrap()).unwrap();
    let r = &rpc;
    let first = node
        .wait_for(
            "the --wait none transfer to land",
            Duration::from_secs(60),
            || async move { r.receipt(&hash).await.ok().flatten() },
        )
        .await;
    assert!(first.success);

    // --wait included returns the receipt of the including block.
    let included = transfer("included", "0").await;
    assert_eq!(included["success"], true, "{included}");
    let block = included["blockNumber"].as_u64().unwrap();
    assert!(block > first.block_number);
    let (hash, _) = block_at(&rpc, block).await.expect("the including block exists");
    assert_eq!(included["blockHash"], watt_client::rpc::to_hex(&hash));

    // --wait finalized (the default) returns only once the block is final.
    let finalized = transfer("finalized", "0.5WATT").await;
    assert_eq!(finalized["success"], true, "{finalized}");
    assert!(rpc.finalized_number().await.unwrap() >= finalized["blockNumber"].as_u64().unwrap());

    // The tip is paid on top of the fee of the same transfer without one.
    let plain_fee = balance(&included["feePaid"]);
    assert_eq!(
        balance(&finalized["feePaid"]),
        plain_fee + UNIT / 2,
        "fee = plain fee + tip"
    );
    assert_eq!(first.fee_paid.parse::<Balance>().unwrap(), plain_fee);

    // The fee pool grew by exactly the fees of the three receipts.
    let pool_after = json(&cli_ok(&url, &["query", "fee-pool", "--output", "json"]).await);
    let paid = plain_fee * 2 + balance(&finalized["feePaid"]);
    assert_eq!(balance(&pool_after["balance"]), paid);
    assert_eq!(pool_after["account"], pool_before["account"]);
    let text = cli_ok(&url, &["query", "fee-pool"]).await;
    assert!(text.contains(&format!("{paid} units")), "{text}");
    let bob_now = json(&cli_ok(&url, &["query", "account", &bob, "--output", "json"]).await);
    assert_eq!(balance(&bob_now["free"]), 1_000_000 * UNIT + 3 * UNIT);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seal_interval_seals_empty_blocks_at_about_the_interval() {
    const INTERVAL_MS: u64 = 400;
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path(), &["--seal-interval", &INTERVAL_MS.to_string()]);
    let rpc = WattRpc::new(&node.url()).unwrap();
    let r = &rpc;
    // Six blocks with no transaction submitted at all.
    node.wait_for("six empty blocks", Duration::from_secs(60), || async move {
        let n = r.finalized_number().await.ok()?;
        (n >= 6).then_some(())
    })
    .await;
    let mut close_times = vec![];
    for n in 1..=6 {
        let (_, block) = block_at(&rpc, n).await.unwrap();
        assert!(block.transactions.is_empty(), "block #{n} is empty");
        close_times.push(block.header.close_time);
    }
    let gaps: Vec<u64> = close_times.windows(2).map(|w| w[1] - w[0]).collect();
    // Timers may fire late on a loaded machine, never much early.
    assert!(
        gaps.iter().all(|g| *g >= INTERVAL_MS * 3 / 4),
        "blocks came faster than the interval: {gaps:?}"
    );
    let mean = gaps.iter().sum::<u64>() / gaps.len() as u64;
    assert!(
        mean <= INTERVAL_MS * 3,
        "blocks came far slower than the interval: {gaps:?}"
    );
}
