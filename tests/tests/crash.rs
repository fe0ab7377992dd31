//! Crash injection: `kill -9` at seeded-random moments during heavy block production, many
//! times over on one database. After each restart every receipt seen final before the kill is
//! still there unchanged, every block the node logged as imported survived, and the chain goes
//! on; at the end every block is replayed into a fresh in-process chain, which must reach the
//! node's state root at every height.
//!
//! `WATT_CRASH_ROUNDS` sets the number of kills (default 5); `WATT_CRASH_SEED` repeats a run's
//! kill moments (the seed is printed).

use std::time::Duration;
use watt_client::rpc::{hash_from_hex, ReceiptView, WaitFor};
use watt_client::{dev_accounts, sign, transfer_call, Keypair, WattRpc};
use watt_e2e::{block_at, logged_imports, watt_cli, LoggedImport, NodeProcess, TransferLoad};
use watt_primitives::{Hash, UNIT};

/// splitmix64: a tiny seeded generator, so a failing run can be repeated with its seed.
fn next_random(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(v) => v.parse().unwrap_or_else(|_| panic!("{name}={v} does not parse")),
        Err(_) => default,
    }
}

/// What the node must still have after a restart.
#[derive(Default)]
struct Survivors {
    /// Receipts seen in finalized blocks before some kill.
    receipts: Vec<ReceiptView>,
    /// The finalized height seen before the last kill.
    finalized: u64,
    /// The last block the node logged as imported before the last kill.
    last_logged: Option<LoggedImport>,
}

/// Checks a restarted node against what it had before the kill; `receipts` are the receipts to
/// look up again (all of them, or those seen since the last check).
async fn check_survivors(node: &NodeProcess, rpc: &WattRpc, genesis: Hash, s: &Survivors, receipts: &[ReceiptView]) {
    assert_eq!(rpc.genesis_hash().await.unwrap(), genesis, "same chain after restart");
    let finalized = rpc.finalized_number().await.unwrap();
    if finalized < s.finalized {
        node.fail(&format!(
            "finalized #{} was seen before the kill, #{finalized} after",
            s.finalized
        ));
    }
    if let Some(logged) = &s.last_logged {
        let Some((hash, _)) = block_at(rpc, logged.number).await else {
            node.fail(&format!(
                "block #{} was logged as imported before the kill and is gone",
                logged.number
            ));
        };
        assert!(
            watt_client::rpc::to_hex(&hash).starts_with(&logged.hash_prefix),
            "block #{} is {} after the restart, {}… before",
            logged.number,
            watt_client::rpc::to_hex(&hash),
            logged.hash_prefix
        );
    }
    for r in receipts {
        let again = rpc.receipt(&hash_from_hex(&r.tx_hash).unwrap()).await.unwrap();
        assert_eq!(again.as_ref(), Some(r), "a receipt final before the kill is intact");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_nothing_final_and_replays_to_the_same_roots() {
    let rounds: usize = env_or("WATT_CRASH_ROUNDS", 5);
    let seed: u64 = env_or(
        "WATT_CRASH_SEED",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(1),
    );
    eprintln!("crash test: {rounds} rounds, WATT_CRASH_SEED={seed}");
    let mut rng = seed;
    let dir = tempfile::tempdir().unwrap();
    let keys: Vec<Keypair> = dev_accounts().into_iter().map(|(_, k)| k).collect();
    // Heavy load needs many senders (each submits its nonces in order, one at a time): the dev
    // spec plus 24 funded accounts.
    let senders: Vec<Keypair> = (0..24)
        .map(|i| Keypair::from_suri(&format!("//Crash{i}")).unwrap())
        .collect();
    let receiver = keys[5].account();
    let (ok, spec, err) = watt_cli(&["chain-spec", "--dev"]);
    assert!(ok, "{err}");
    let mut spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    let balances = spec["genesis"]["balances"].as_array_mut().unwrap();
    for s in &senders {
        balances.push(serde_json::json!([s.account().to_ss58(), "1000000000000000000"]));
    }
    let spec_path = dir.path().join("crash-spec.json");
    std::fs::write(&spec_path, serde_json::to_vec(&spec).unwrap()).unwrap();
    let node_args = ["--chain", spec_path.to_str().unwrap()];

    let mut survivors = Survivors::default();
    let mut genesis = None;
    let mut since_last_check = 0;
    for round in 0..rounds {
        let node = NodeProcess::start(dir.path(), &node_args);
        let rpc = WattRpc::new(&node.url()).unwrap();
        let g = *genesis.get_or_insert(rpc.genesis_hash().await.unwrap());
        check_survivors(&node, &rpc, g, &survivors, &survivors.receipts[since_last_check..]).await;
        since_last_check = survivors.receipts.len();

        // Heavy load: 24 senders submitting without pause. Wait until blocks with
        // transactions are being imported, then kill at a random moment within 1.5 s.
        let imports_before = logged_imports(&node.log_text()).len();
        let load = TransferLoad::start(&rpc, g, senders.clone(), receiver, UNIT / 1000);
        let n = &node;
        node.wait_for(
            "a block with transactions under load",
            Duration::from_secs(60),
            || async move {
                let log = n.log_text();
                logged_imports(&log)[imports_before..]
                    .iter()
                    .any(|b| b.txs > 0)
                    .then_some(())
            },
        )
        .await;
        let delay = Duration::from_millis(next_random(&mut rng) % 1500);
        tokio::time::sleep(delay).await;
        node.assert_alive();

        // The receipts of the last final blocks are the ones a lost write would take with it.
        let finalized = rpc.finalized_number().await.unwrap();
        let from = finalized.saturating_sub(2).max(1);
        let mut hashes: Vec<Hash> = vec![];
        for n in from..=finalized {
            let (_, block) = block_at(&rpc, n).await.expect("a finalized block");
            hashes.extend(block.transactions.iter().map(|t| t.hash()));
        }
        if hashes.len() > 300 {
            // The newest and a seeded sample of the rest, so the lookups stay quick.
            let newest = hashes.split_off(hashes.len() - 150);
            let start = (next_random(&mut rng) as usize) % (hashes.len() - 150);
            hashes = hashes[start..start + 150].iter().copied().chain(newest).collect();
        }
        let mut recent = Vec::with_capacity(hashes.len());
        for h in &hashes {
            recent.push(
                rpc.receipt(h)
                    .await
                    .unwrap()
                    .expect("a finalized transaction has a receipt"),
            );
        }
        survivors.receipts.extend(recent);
        survivors.finalized = finalized;

        let r = &rpc;
        node.wait_for(
            "transactions waiting at the kill",
            Duration::from_secs(30),
            || async move {
                let pending: Vec<String> = r.call("author_pendingExtrinsics", vec![]).await.ok()?;
                (!pending.is_empty()).then_some(())
            },
        )
        .await;
        let log = node.kill9();
        let submitted = load.stop().await;
        survivors.last_logged = logged_imports(&log).last().cloned();
        eprintln!(
            "round {round}: killed after {delay:?} at finalized #{finalized} (last logged #{}), {} submitted",
            survivors.last_logged.as_ref().map_or(0, |b| b.number),
            submitted.len()
        );
    }

    // After the last kill: everything seen final in any round is intact, and the chain goes on.
    let node = NodeProcess::start(dir.path(), &node_args);
    let rpc = WattRpc::new(&node.url()).unwrap();
    let genesis = genesis.unwrap_or(rpc.genesis_hash().await.unwrap());
    check_survivors(&node, &rpc, genesis, &survivors, &survivors.receipts).await;
    let nonce = rpc.next_nonce(&keys[5].account()).await.unwrap();
    let tx = sign(
        &keys[5],
        nonce,
        0,
        genesis,
        &transfer_call(keys[0].account(), UNIT, false),
    );
    let last = rpc
        .submit_and_wait(&tx, WaitFor::Finalized, Duration::from_secs(60))
        .await
        .unwrap();
    assert!(last.success, "the chain continues after {rounds} kills");

    // Replay: every block into a fresh chain from the same spec; each must re-execute to the
    // state root in the node's header (import refuses a mismatch), and give the same hash.
    let head = rpc.finalized_number().await.unwrap();
    let mut blocks = Vec::with_capacity(head as usize);
    for n in 1..=head {
        blocks.push(block_at(&rpc, n).await.expect("every block up to the head"));
    }
    let replay_dir = tempfile::tempdir().unwrap();
    let replayed = tokio::task::spawn_blocking(move || {
        let spec = watt_chain::ChainSpec::from_file(&spec_path).unwrap();
        let chain = watt_chain::Chain::open(replay_dir.path(), &spec, watt_chain::ChainConfig::default()).unwrap();
        assert_eq!(chain.genesis_hash(), genesis, "the replay runs the node's spec");
        let mut txs = 0;
        for (hash, block) in blocks {
            let number = block.header.number;
            let root = block.header.state_root;
            txs += block.transactions.len();
            let imported = chain
                .import_block(block, true, None)
                .unwrap_or_else(|e| panic!("replaying block #{number}: {e}"));
            assert_eq!(imported.header.state_root, root, "state root of #{number}");
            assert_eq!(imported.hash, hash, "hash of #{number}");
        }
        txs
    })
    .await
    .unwrap();
    eprintln!("replayed {head} blocks with {replayed} transactions");
    assert!(replayed > 0);
}
