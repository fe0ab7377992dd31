//! The example contracts end to end, as a dApp developer uses them: `watt contract build` in
//! each contract's directory, then deploy, call and query through the `watt` CLI against a real
//! dev node. The token moves tokens and emits its events; the multisig wallet holds native value
//! and pays out once two of three owners agree; the exchange instantiates a token from a code
//! hash and sells it through cross-contract calls.

use serde_json::Value;
use std::path::PathBuf;
use watt_client::{dev_accounts, Keypair, WattRpc};
use watt_e2e::{watt_cli, NodeProcess};
use watt_primitives::{Balance, UNIT};

fn key(name: &str) -> Keypair {
    dev_accounts()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("dev account")
        .1
}

fn ss58(name: &str) -> String {
    key(name).account().to_ss58()
}

fn account(ss58: &str) -> watt_primitives::AccountId {
    watt_primitives::AccountId::from_ss58(ss58).expect("an SS58 address")
}

fn contract_dir(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../contracts")
        .join(name)
}

/// Builds a contract with `watt contract build`; returns (wasm, metadata) paths.
fn build(name: &str) -> (String, String) {
    let dir = contract_dir(name);
    let (ok, out, err) = watt_cli(&["contract", "build", "--path", dir.to_str().unwrap()]);
    assert!(ok, "watt contract build {name} failed:\n{out}\n{err}");
    let target = dir.join("target");
    let wasm = target.join(format!("{name}.wasm"));
    let json = target.join(format!("{name}.json"));
    assert!(
        wasm.exists() && json.exists(),
        "build wrote {} and {}",
        wasm.display(),
        json.display()
    );
    (wasm.display().to_string(), json.display().to_string())
}

async fn cli_json(url: &str, args: &[&str]) -> Value {
    let mut all: Vec<String> = args.iter().map(|s| s.to_string()).collect();
    all.extend(["--rpc", url, "--output", "json"].map(String::from));
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = all.iter().map(String::as_str).collect();
        watt_cli(&refs)
    })
    .await
    .unwrap();
    assert!(ok, "watt {args:?} failed:\n{out}\n{err}");
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

async fn free(rpc: &WattRpc, name: &str) -> Balance {
    rpc.account(&key(name).account()).await.unwrap().free.parse().unwrap()
}

fn number(v: &Value) -> u128 {
    match v {
        Value::Number(n) => n.as_u64().expect("an unsigned integer") as u128,
        Value::String(s) => s.parse().expect("a decimal string"),
        other => panic!("not a number: {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_contracts_work_on_a_dev_node() {
    let (token_wasm, token_meta) = build("token");
    let (multisig_wasm, multisig_meta) = build("multisig");
    let (exchange_wasm, exchange_meta) = build("exchange");

    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(dir.path(), &[]);
    let url = node.url();
    let rpc = WattRpc::new(&url).unwrap();
    let (alice, bob, charlie, dave) = (ss58("Alice"), ss58("Bob"), ss58("Charlie"), ss58("Dave"));
    // Every contract account is endowed with the existential deposit at instantiation.
    let ed: Balance = rpc.chain_params().await.unwrap().existential_deposit.parse().unwrap();

    // --- token: deploy, transfer, events, approve / transfer_from ---
    let deployed = cli_json(
        &url,
        &[
            "contract",
            "deploy",
            &token_wasm,
            "--metadata",
            &token_meta,
            "--constructor",
            "new",
            "--args",
            "[1000000]",
            "--from",
            "//Alice",
            "--execute",
        ],
    )
    .await;
    let token = deployed["address"].as_str().expect("address").to_string();
    let token_code = deployed["code_hash"].as_str().expect("code hash").to_string();
    assert!(number(&deployed["gas_used"]) > 0);
    let transfer = cli_json(
        &url,
        &[
            "contract",
            "call",
            &token,
            "--metadata",
            &token_meta,
            "--message",
            "transfer",
            "--args",
            &format!("[\"{bob}\", 250]"),
            "--from",
            "//Alice",
            "--execute",
        ],
    )
    .await;
    assert_eq!(transfer["reverted"], Value::Bool(false), "{transfer}");
    let events = transfer["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "one Transfer event: {transfer}");
    let query = |message: &'static str, args: String| {
        let (url, token, meta) = (url.clone(), token.clone(), token_meta.clone());
        async move {
            cli_json(
                &url,
                &[
                    "contract",
                    "query",
                    &token,
                    "--metadata",
                    &meta,
                    "--message",
                    message,
                    "--args",
                    &args,
                ],
            )
            .await
        }
    };
    assert_eq!(
        number(&query("balance_of", format!("[\"{bob}\"]")).await["result"]),
        250
    );
    assert_eq!(
        number(&query("balance_of", format!("[\"{alice}\"]")).await["result"]),
        999_750
    );
    assert_eq!(number(&query("total_supply", "[]".into()).await["result"]), 1_000_000);
    // Bob may not spend Alice's tokens until she approves: the dry-run reverts.
    let refused = cli_json(
        &url,
        &[
            "contract",
            "call",
            &token,
            "--metadata",
            &token_meta,
            "--message",
            "transfer_from",
            "--args",
            &format!("[\"{alice}\", \"{charlie}\", 100]"),
            "--from",
            "//Bob",
        ],
    )
    .await;
    assert_eq!(refused["reverted"], Value::Bool(true), "{refused}");
    cli_json(
        &url,
        &[
            "contract",
            "call",
            &token,
            "--metadata",
            &token_meta,
            "--message",
            "approve",
            "--args",
            &format!("[\"{bob}\", 100]"),
            "--from",
            "//Alice",
            "--execute",
        ],
    )
    .await;
    cli_json(
        &url,
        &[
            "contract",
            "call",
            &token,
            "--metadata",
            &token_meta,
            "--message",
            "transfer_from",
            "--args",
            &format!("[\"{alice}\", \"{charlie}\", 100]"),
            "--from",
            "//Bob",
            "--execute",
        ],
    )
    .await;
    assert_eq!(
        number(&query("balance_of", format!("[\"{charlie}\"]")).await["result"]),
        100
    );
    assert_eq!(
        number(&query("allowance", format!("[\"{alice}\", \"{bob}\"]")).await["result"]),
        0
    );

    // --- multisig: 2 of 3 owners pay Dave from the wallet's native balance ---
    let wallet = cli_json(
        &url,
        &[
            "contract",
            "deploy",
            &multisig_wasm,
            "--metadata",
            &multisig_meta,
            "--constructor",
            "new",
            "--args",
            &format!("[[\"{alice}\", \"{bob}\", \"{charlie}\"], 2]"),
            "--value",
            "100WATT",
            "--from",
            "//Alice",
            "--execute",
        ],
    )
    .await;
    let wallet = wallet["address"].as_str().expect("address").to_string();
    let info = rpc.contract_info(&account(&wallet)).await.unwrap().expect("a contract");
    assert_eq!(info.balance.parse::<Balance>().unwrap(), ed + 100 * UNIT);
    let call_wallet = |message: &'static str, args: String, from: &'static str| {
        let (url, wallet, meta) = (url.clone(), wallet.clone(), multisig_meta.clone());
        async move {
            cli_json(
                &url,
                &[
                    "contract",
                    "call",
                    &wallet,
                    "--metadata",
                    &meta,
                    "--message",
                    message,
                    "--args",
                    &args,
                    "--from",
                    from,
                    "--execute",
                ],
            )
            .await
        }
    };
    let proposed = call_wallet("propose", format!("[\"{dave}\", {}]", 30 * UNIT), "//Alice").await;
    assert_eq!(proposed["result"], serde_json::json!({"ok": 0}), "{proposed}");
    // One confirmation is not enough: executing now reverts (dry-run, nothing submitted).
    let early = cli_json(
        &url,
        &[
            "contract",
            "call",
            &wallet,
            "--metadata",
            &multisig_meta,
            "--message",
            "execute",
            "--args",
            "[0]",
            "--from",
            "//Alice",
        ],
    )
    .await;
    assert_eq!(early["reverted"], Value::Bool(true), "{early}");
    let dave_before = free(&rpc, "Dave").await;
    call_wallet("confirm", "[0]".into(), "//Bob").await;
    call_wallet("execute", "[0]".into(), "//Charlie").await;
    assert_eq!(free(&rpc, "Dave").await, dave_before + 30 * UNIT);
    let info = rpc.contract_info(&account(&wallet)).await.unwrap().expect("a contract");
    assert_eq!(info.balance.parse::<Balance>().unwrap(), ed + 70 * UNIT);

    // --- exchange: instantiates a token from its code hash, sells it by cross-contract calls ---
    let exchange = cli_json(
        &url,
        &[
            "contract",
            "deploy",
            &exchange_wasm,
            "--metadata",
            &exchange_meta,
            "--constructor",
            "with_new_token",
            "--args",
            &format!("[\"{token_code}\", 5000, 1000]"),
            "--from",
            "//Alice",
            "--execute",
        ],
    )
    .await;
    let exchange = exchange["address"].as_str().expect("address").to_string();
    let sold_token = cli_json(
        &url,
        &[
            "contract",
            "query",
            &exchange,
            "--metadata",
            &exchange_meta,
            "--message",
            "token",
        ],
    )
    .await["result"]
        .as_str()
        .expect("the token's address")
        .to_string();
    let bought = cli_json(
        &url,
        &[
            "contract",
            "call",
            &exchange,
            "--metadata",
            &exchange_meta,
            "--message",
            "buy",
            "--value",
            "12500",
            "--from",
            "//Dave",
            "--execute",
        ],
    )
    .await;
    assert_eq!(
        bought["result"],
        serde_json::json!({"ok": 12}),
        "12 tokens at 1000 each: {bought}"
    );
    let held = |who: String| {
        let (url, token, meta) = (url.clone(), sold_token.clone(), token_meta.clone());
        async move {
            number(
                &cli_json(
                    &url,
                    &[
                        "contract",
                        "query",
                        &token,
                        "--metadata",
                        &meta,
                        "--message",
                        "balance_of",
                        "--args",
                        &format!("[\"{who}\"]"),
                    ],
                )
                .await["result"],
            )
        }
    };
    assert_eq!(held(dave.clone()).await, 12);
    assert_eq!(held(exchange.clone()).await, 5000 - 12);
    let ex_info = rpc
        .contract_info(&account(&exchange))
        .await
        .unwrap()
        .expect("a contract");
    assert_eq!(
        ex_info.balance.parse::<Balance>().unwrap(),
        ed + 12_000,
        "the change (500) went back to Dave"
    );
    node.assert_alive();
}
