//! The economy through the `watt` CLI against a real dev node with 5-block days: attestation,
//! daily check-in (refused for an unattested account and for a second check-in the same day,
//! with nothing changed), the day's reward becoming claimable, the claim paying it out, and the
//! supply staying under the cap; Root calls through the sudo key (`watt sudo`).
//!
//! The node seals a block when a transaction arrives and never on a timer: "the same day" then
//! depends on nothing but the transactions this test sends (with a seal interval, a day of 5
//! fast blocks could end between two check-ins and let the second one in, rightly). Days are
//! moved on by transfers between accounts the test does not otherwise use.

use serde_json::Value;
use std::time::Duration;
use watt_client::rpc::WaitFor;
use watt_client::{dev_accounts, sign, transfer_call, Keypair, WattRpc};
use watt_e2e::{watt_cli, NodeProcess};
use watt_primitives::{Balance, UNIT};

fn key(name: &str) -> Keypair {
    dev_accounts()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("dev account")
        .1
}

/// `watt <args> --rpc <url>` on a blocking thread: (success, stdout, stderr).
async fn cli(url: &str, args: &[&str]) -> (bool, String, String) {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(["--rpc".to_string(), url.to_string()]);
    tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        watt_cli(&refs)
    })
    .await
    .unwrap()
}

async fn cli_ok(url: &str, args: &[&str]) -> String {
    let (ok, out, err) = cli(url, args).await;
    assert!(ok, "watt {args:?} failed: {err}");
    out
}

fn json(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn balance(v: &Value) -> Balance {
    v.as_str()
        .unwrap_or_else(|| panic!("a decimal string, got {v}"))
        .parse()
        .expect("a balance")
}

async fn account(rpc: &WattRpc, who: &Keypair) -> (Balance, u64) {
    let a = rpc.account(&who.account()).await.unwrap();
    (a.free.parse().unwrap(), a.nonce)
}

async fn rewards(rpc: &WattRpc, who: &Keypair) -> Value {
    rpc.call("watt_rewards", vec![who.account().to_ss58().into()])
        .await
        .unwrap()
}

#[test]
fn a_day_of_no_blocks_is_refused_with_a_clear_error() {
    let (ok, _, err) = watt_cli(&["chain-spec", "--dev", "--day-blocks", "0"]);
    assert!(!ok && err.contains("a day must have at least 1 block"), "{err}");
    let (ok, out, err) = watt_cli(&["chain-spec", "--dev", "--day-blocks", "5"]);
    assert!(ok, "{err}");
    let spec = json(&out);
    assert_eq!(spec["genesis"]["economy"]["params"]["dayBlocks"], 5);
    let alice = key("Alice").account().to_ss58();
    assert_eq!(spec["genesis"]["economy"]["registrars"], serde_json::json!([alice]));
    assert_eq!(spec["genesis"]["economy"]["sudo"], alice.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attested_check_in_earns_a_claimable_reward_and_refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, spec, err) = watt_cli(&["chain-spec", "--dev", "--day-blocks", "5"]);
    assert!(ok, "{err}");
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, spec).unwrap();
    let node = NodeProcess::start(dir.path(), &["--chain", spec_path.to_str().unwrap()]);
    let url = node.url();
    let rpc = WattRpc::new(&url).unwrap();
    let (bob, charlie, dave) = (key("Bob"), key("Charlie"), key("Dave"));
    let (bob_addr, charlie_addr) = (bob.account().to_ss58(), charlie.account().to_ss58());

    // //Alice, the dev registrar, attests Bob and Charlie.
    for who in [&bob_addr, &charlie_addr] {
        cli_ok(&url, &["identity", "attest", who, "--from", "//Alice"]).await;
    }
    let r = rewards(&rpc, &charlie).await;
    assert_eq!(r["attested"], true, "{r}");

    // Bob checks in: his receipt succeeds, today's pioneer share is his.
    let receipt = json(&cli_ok(&url, &["presence", "check-in", "--from", "//Bob", "--output", "json"]).await);
    assert_eq!(receipt["success"], true, "{receipt}");
    let checked_in_at = receipt["blockNumber"].as_u64().unwrap();
    let r = rewards(&rpc, &bob).await;
    assert_eq!(
        (&r["checked_in_today"], &r["today"]["pioneer"]),
        (&true.into(), &1.into()),
        "{r}"
    );

    // Dave is not attested: refused before the pool, so no fee, no nonce, no block.
    let dave_before = account(&rpc, &dave).await;
    let head_before = rpc.finalized_number().await.unwrap();
    let (ok, _, err) = cli(&url, &["presence", "check-in", "--from", "//Dave"]).await;
    assert!(!ok, "an unattested check-in was accepted");
    assert!(err.contains("refused") && err.contains("NotAttested"), "{err}");
    assert_eq!(account(&rpc, &dave).await, dave_before, "balance and nonce unchanged");
    let dave_rewards = rewards(&rpc, &dave).await;
    assert_eq!(dave_rewards["checked_in_today"], false, "{dave_rewards}");

    // Bob again, the same day (no block was sealed since: same day for sure): refused alike.
    let bob_before = account(&rpc, &bob).await;
    let (ok, _, err) = cli(&url, &["presence", "check-in", "--from", "//Bob"]).await;
    assert!(!ok, "a second check-in the same day was accepted");
    assert!(err.contains("refused") && err.contains("AlreadyCheckedIn"), "{err}");
    assert_eq!(account(&rpc, &bob).await, bob_before);
    assert_eq!(
        rpc.finalized_number().await.unwrap(),
        head_before,
        "no block for refused check-ins"
    );
    assert!(head_before < 5, "still day 0 (blocks 1-5): #{head_before}");

    // Nothing is claimable while the day lasts.
    let shown = json(&cli_ok(&url, &["rewards", "show", &bob_addr, "--output", "json"]).await);
    assert_eq!(balance(&shown["claimable"]), 0, "{shown}");

    // Transfers between Eve and Ferdie move the chain past the end of day 0.
    let (eve, ferdie) = (key("Eve"), key("Ferdie"));
    let genesis = rpc.genesis_hash().await.unwrap();
    let mut nonce = account(&rpc, &eve).await.1;
    while balance(&rewards(&rpc, &bob).await["claimable"]) == 0 {
        assert!(
            nonce < 20,
            "no reward {nonce} blocks after the check-in at #{checked_in_at}"
        );
        let tx = sign(&eve, nonce, 0, genesis, &transfer_call(ferdie.account(), UNIT, false));
        let r = rpc
            .submit_and_wait(&tx, WaitFor::Finalized, Duration::from_secs(30))
            .await
            .unwrap();
        assert!(r.success, "{r:?}");
        nonce += 1;
    }
    let head = rpc.finalized_number().await.unwrap();
    assert!(head >= 5, "a reward before day 0 (blocks 1-5) ended, at #{head}");

    // `rewards show --output json` prints exactly the RPC answer.
    let shown = json(&cli_ok(&url, &["rewards", "show", &bob_addr, "--output", "json"]).await);
    let r = rewards(&rpc, &bob).await;
    assert_eq!(shown, r);
    let claimable = balance(&r["claimable"]);
    assert_eq!(
        balance(&r["by_role"]["pioneer"]),
        claimable,
        "all of it for checking in: {r}"
    );
    assert_eq!(r["unclaimed_days"], 1, "{r}");
    let text = cli_ok(&url, &["rewards", "show", &bob_addr]).await;
    assert!(text.contains("claimable:") && text.contains("WATT"), "{text}");

    // The claim moves it into Bob's free balance, less the claim's fee.
    let (free_before, _) = account(&rpc, &bob).await;
    let receipt = json(&cli_ok(&url, &["rewards", "claim", "--from", "//Bob", "--output", "json"]).await);
    assert_eq!(receipt["success"], true, "{receipt}");
    let fee = balance(&receipt["feePaid"]);
    let (free_after, _) = account(&rpc, &bob).await;
    assert_eq!(free_after, free_before + claimable - fee);
    let r = rewards(&rpc, &bob).await;
    assert_eq!(balance(&r["claimable"]), 0, "{r}");
    assert_eq!(balance(&r["claimed_total"]), claimable, "{r}");

    // Issuance stays within the cap; the supply and day commands show the same numbers.
    let supply = json(&cli_ok(&url, &["supply", "--output", "json"]).await);
    let (issued, cap) = (balance(&supply["total_issuance"]), balance(&supply["cap"]));
    assert_eq!(cap, 20_000_000_000 * UNIT);
    assert!(0 < issued && issued <= cap, "{supply}");
    assert_eq!(supply["phase"], "check-in");
    assert!(balance(&supply["checkin_minted"]) >= claimable, "{supply}");
    let day = json(&cli_ok(&url, &["day", "--output", "json"]).await);
    assert_eq!(day["day_blocks"], 5, "{day}");

    // Root through the sudo key: Bob is not it (the call fails, his fee is paid); //Alice is.
    let spec = json(&std::fs::read_to_string(&spec_path).unwrap());
    let mut params = spec["genesis"]["economy"]["params"].clone();
    params["dayBlocks"] = 7.into();
    let params_path = dir.path().join("params.json");
    std::fs::write(&params_path, params.to_string()).unwrap();
    let params_arg = params_path.to_str().unwrap();
    let (ok, _, err) = cli(&url, &["sudo", "set-params", params_arg, "--from", "//Bob"]).await;
    assert!(!ok && err.contains("RequireSudo"), "{err}");
    assert_eq!(json(&cli_ok(&url, &["day", "--output", "json"]).await)["day_blocks"], 5);
    cli_ok(&url, &["sudo", "set-params", params_arg, "--from", "//Alice"]).await;
    assert_eq!(json(&cli_ok(&url, &["day", "--output", "json"]).await)["day_blocks"], 7);
    // The registrars become Charlie alone: Alice can no longer attest, Charlie can.
    cli_ok(&url, &["sudo", "set-registrars", &charlie_addr, "--from", "//Alice"]).await;
    let (ok, _, err) = cli(
        &url,
        &["identity", "attest", &dave.account().to_ss58(), "--from", "//Alice"],
    )
    .await;
    assert!(!ok && err.contains("NotRegistrar"), "{err}");
    cli_ok(
        &url,
        &["identity", "attest", &dave.account().to_ss58(), "--from", "//Charlie"],
    )
    .await;
    assert_eq!(rewards(&rpc, &dave).await["attested"], true);
}
