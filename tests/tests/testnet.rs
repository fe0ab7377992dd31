//! Watt's multi-validator mode under faults, with real processes.
//!
//! `watt testnet` starts four validators (quorum 3 of 4) as child processes on loopback. The
//! tests kill validators with SIGKILL and restart them from their own data, and attack them with
//! hostile peers built in-process from `watt-network`. They check that finality goes on with one
//! validator down, stops (without forking) when the quorum is lost, resumes when it is back, that
//! restarted validators catch up, that every node ends with the same chain, each block's
//! certificate verified as a light client verifies it (against the quorum set and genesis of the
//! chain spec, not anything a node says), and that peers sending garbage are banned while honest
//! traffic goes on.
//!
//! The processes are run by the harness of [`watt_e2e::testnet`]: every wait has a deadline and
//! checks that the processes expected to be up still are; a failure shows the end of every
//! node's log; everything is killed on drop, also when a test panics.

use parity_scale_codec::{DecodeAll, Encode};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use watt_client::light::{quorum_set_from_json, verify_finality_proof, Certificate};
use watt_client::rpc::{from_hex, hash_from_hex, to_hex};
use watt_client::{dev_accounts, WattRpc};
use watt_e2e::testnet::{finalized_head, Testnet};
use watt_e2e::watt_cli;
use watt_network::{Multiaddr, NetworkConfig, NetworkEvent, NetworkHandle, PeerId, Topic, Validation};
use watt_primitives::{AccountId, Hash};

/// What every transfer of these tests moves.
const AMOUNT: u128 = 7;
/// How long a transfer may take to be finalized while a quorum is up. Generous: a loaded
/// 2-core machine running four debug validators.
const FINALIZE_TIMEOUT: Duration = Duration::from_secs(30);

/// The genesis hash of `spec`, computed as a node (and `watt light --chain-spec`) computes it:
/// the spec's runtime builds the genesis state, here in a scratch database. What the finality
/// checks trust comes from the spec, never from the nodes being checked.
fn spec_genesis_hash(spec: &watt_chain::ChainSpec) -> Hash {
    let dir = tempfile::tempdir().expect("temp dir");
    let chain = watt_chain::Chain::open(dir.path(), spec, watt_chain::ChainConfig::default())
        .unwrap_or_else(|e| panic!("cannot build the chain spec's genesis: {e}"));
    chain.genesis_hash()
}

// ---- RPC helpers (an unreachable node answers None) ----

/// The hash of block `n`, if the node has it.
async fn hash_at(rpc: &WattRpc, n: u64) -> Option<String> {
    rpc.call::<Option<String>>("chain_getBlockHash", vec![n.into()])
        .await
        .ok()
        .flatten()
}

/// `system_health`.
async fn health(rpc: &WattRpc) -> Option<Value> {
    rpc.call("system_health", vec![]).await.ok()
}

/// The peer ids a node lists in `system_peers` (its connected peers).
async fn listed_peers(rpc: &WattRpc) -> Option<Vec<String>> {
    let peers: Vec<Value> = rpc.call("system_peers", vec![]).await.ok()?;
    Some(
        peers
            .iter()
            .filter_map(|p| p["peer_id"].as_str().map(str::to_string))
            .collect(),
    )
}

/// Waits (10 s at most, every validator up) until each validator's `system_peers` satisfies `ok`,
/// naming what each was to do (`action`).
async fn wait_listed(net: &Testnet, action: &str, ok: impl Fn(&[String]) -> bool) {
    let all = net.all();
    for &i in &all {
        let what = format!("{} to {action}", net.nodes()[i].name);
        net.wait_for(&what, Duration::from_secs(10), &all, || async {
            ok(&listed_peers(net.rpc(i)).await?).then_some(())
        })
        .await;
    }
}

/// Free balance of a dev account.
async fn free_balance(rpc: &WattRpc, name: &str) -> Option<u128> {
    let a = rpc.account(&dev(name).account()).await.ok()?;
    a.free.parse().ok()
}

fn dev(name: &str) -> watt_client::Keypair {
    dev_accounts()
        .into_iter()
        .find(|(n, _)| *n == name)
        .expect("a dev account")
        .1
}

/// `watt tx transfer --from //<from> --to <to> --amount 7 --wait <wait> --rpc <url>`, as JSON.
async fn cli_transfer(url: &str, from: &str, to: &str, wait: &str, timeout: Duration) -> Result<Value, String> {
    let args: Vec<String> = [
        "tx",
        "transfer",
        "--from",
        &format!("//{from}"),
        "--to",
        &dev(to).account().to_ss58(),
        "--amount",
        &AMOUNT.to_string(),
        "--wait",
        wait,
        "--timeout",
        &timeout.as_secs().to_string(),
        "--rpc",
        url,
        "--output",
        "json",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let (ok, out, err) = tokio::task::spawn_blocking(move || {
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        watt_cli(&refs)
    })
    .await
    .map_err(|e| format!("the CLI task failed: {e}"))?;
    if !ok {
        return Err(format!("watt tx transfer from {from} via {url} failed: {err}"));
    }
    serde_json::from_str(&out).map_err(|e| format!("the CLI printed no JSON ({e}): {out}"))
}

/// A CLI transfer sent to validator `i` and waited for until finalized, failing if one of
/// `alive` is down; returns (block number, block hash) from its receipt.
async fn transfer_finalized(net: &Testnet, i: usize, from: &str, to: &str, alive: &[usize]) -> (u64, String) {
    net.assert_alive(alive);
    let r = match cli_transfer(&net.nodes()[i].url, from, to, "finalized", FINALIZE_TIMEOUT).await {
        Ok(r) => r,
        Err(e) => net.fail(&e),
    };
    if r["success"] != true {
        net.fail(&format!("the transfer from {from} failed: {r}"));
    }
    match (r["blockNumber"].as_u64(), r["blockHash"].as_str()) {
        (Some(n), Some(h)) => (n, h.to_string()),
        _ => net.fail(&format!("a finalized receipt without a block: {r}")),
    }
}

// ---- fork watch ----

#[derive(Default)]
struct Seen {
    /// Height -> (hash, the node that first reported it).
    hashes: BTreeMap<u64, (String, String)>,
    /// Every time a node reported another hash at a height already seen.
    conflicts: Vec<String>,
    observations: usize,
}

/// Records every (node, height, hash) the test reads and a background poller samples from every
/// node's finalized head, and remembers any two nodes that ever disagree on a height.
struct ForkWatch {
    seen: Arc<Mutex<Seen>>,
    poller: tokio::task::JoinHandle<()>,
}

impl ForkWatch {
    /// Starts polling the finalized heads of every validator of `net`.
    fn start(net: &Testnet) -> Self {
        let nodes: Vec<(String, WattRpc)> = net.nodes().iter().map(|v| (v.name.clone(), v.rpc.clone())).collect();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let s = seen.clone();
        let poller = tokio::spawn(async move {
            loop {
                for (name, rpc) in &nodes {
                    if let Some((n, hash)) = finalized_head(rpc).await {
                        Self::note(&s, name, n, &hash);
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        ForkWatch { seen, poller }
    }

    fn note(seen: &Mutex<Seen>, node: &str, n: u64, hash: &str) {
        let mut s = seen.lock().unwrap_or_else(|e| e.into_inner());
        s.observations += 1;
        let conflict = match s.hashes.get(&n) {
            Some((h, first)) if h != hash => Some(format!("#{n}: {first} reported {h}, {node} reported {hash}")),
            Some(_) => None,
            None => {
                s.hashes.insert(n, (hash.to_string(), node.to_string()));
                None
            }
        };
        s.conflicts.extend(conflict);
    }

    /// Waits until each of validators `nodes` has finalized block `n` and checks that they all
    /// report the same hash for it (and `expected`, if given), recording each; returns that hash.
    async fn same_block(&self, net: &Testnet, n: u64, expected: Option<&str>, nodes: &[usize]) -> String {
        let mut agreed: Option<String> = expected.map(str::to_string);
        for &i in nodes {
            let rpc = net.rpc(i);
            let name = &net.nodes()[i].name;
            net.wait_for(&format!("{name} to finalize #{n}"), FINALIZE_TIMEOUT, nodes, || async {
                (finalized_head(rpc).await?.0 >= n).then_some(())
            })
            .await;
            let Some(hash) = hash_at(rpc, n).await else {
                net.fail(&format!("{name} finalized past #{n} but has no block #{n}"));
            };
            Self::note(&self.seen, name, n, &hash);
            match &agreed {
                Some(h) if *h != hash => net.fail(&format!("#{n}: {name} has {hash}, expected {h}")),
                Some(_) => {}
                None => agreed = Some(hash),
            }
        }
        agreed.expect("at least one node")
    }

    /// The conflicts seen so far (none on a safe chain).
    fn conflicts(&self) -> Vec<String> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).conflicts.clone()
    }

    fn observations(&self) -> usize {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).observations
    }
}

impl Drop for ForkWatch {
    fn drop(&mut self) {
        self.poller.abort();
    }
}

// ---- test 1: crash faults ----

/// Four validators, quorum 3: kill -9 one (still final), a second (stalled, no fork), restart
/// them one by one (final again, both catch up), and end with one certified chain on all four.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_validators_survive_one_down_stall_with_two_and_resume() {
    let started = Instant::now();
    let mut net = Testnet::start(4, "info").await;
    let watch = ForkWatch::start(&net);
    let ferdie0 = match free_balance(net.rpc(0), "Ferdie").await {
        Some(b) => b,
        None => net.fail("no balance for Ferdie"),
    };
    // What step 6 checks every certificate against, as a light client would: the quorum set of
    // the spec `watt testnet` wrote, and the genesis hash its runtime builds (every envelope
    // signature covers it). Built now, in the background, from the spec alone.
    let spec = match watt_chain::ChainSpec::from_file(&net.spec()) {
        Ok(s) => s,
        Err(e) => net.fail(&format!("{}: {e}", net.spec().display())),
    };
    let spec_genesis = tokio::task::spawn_blocking(move || {
        let genesis = spec_genesis_hash(&spec);
        (spec, genesis)
    });

    // 1. All four up: a transfer is finalized and every validator has the same block there.
    let all = [0, 1, 2, 3];
    let (n1, h1) = transfer_finalized(&net, 0, "Alice", "Ferdie", &all).await;
    watch.same_block(&net, n1, Some(&h1), &all).await;
    eprintln!("[{:?}] 4 up: transfer finalized in #{n1}", started.elapsed());

    // 2. One down (3 of 4 is still a quorum): transfers are still finalized.
    net.kill9(3).await;
    let three = [0, 1, 2];
    let (n2, h2) = transfer_finalized(&net, 1, "Bob", "Ferdie", &three).await;
    assert!(n2 > n1, "#{n2} after #{n1}");
    watch.same_block(&net, n2, Some(&h2), &three).await;
    // Empty blocks go on too, and node3 falls further behind (it will have to sync them).
    watch.same_block(&net, n2 + 3, None, &three).await;
    eprintln!(
        "[{:?}] 3 up: transfer finalized in #{n2}, empty blocks to #{}",
        started.elapsed(),
        n2 + 3
    );

    // 3. Two down: no quorum. Let a slot that was agreed before the kill land first, then
    //    nothing may be finalized any more, not even a transfer submitted now.
    net.kill9(2).await;
    let two = [0, 1];
    let settle = Duration::from_millis(1500);
    let settle_deadline = Instant::now() + Duration::from_secs(15);
    let mut last = (net.heads(&two).await, Instant::now());
    let stalled = loop {
        net.assert_alive(&two);
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = net.heads(&two).await;
        if now != last.0 {
            last = (now, Instant::now());
        } else if now[0] == now[1] && last.1.elapsed() >= settle {
            break now[0].clone();
        }
        if Instant::now() > settle_deadline {
            net.fail(&format!("the two survivors did not settle on one head: {:?}", last.0));
        }
    };
    let pending = match cli_transfer(&net.nodes()[0].url, "Charlie", "Ferdie", "none", FINALIZE_TIMEOUT).await {
        Ok(r) => r,
        Err(e) => net.fail(&e),
    };
    let pending_hash = match pending["txHash"].as_str().map(hash_from_hex) {
        Some(Ok(h)) => h,
        _ => net.fail(&format!("no txHash in {pending}")),
    };
    let window = Instant::now();
    while window.elapsed() < Duration::from_secs(8) {
        net.assert_alive(&two);
        for &i in &two {
            let head = net.head(i).await;
            let best = health(net.rpc(i)).await.and_then(|h| h["bestNumber"].as_u64());
            if head.0 != stalled.0 || best != Some(stalled.0) {
                net.fail(&format!(
                    "{} moved to finalized #{} (best {best:?}) from #{} with only 2 of 4 validators up (quorum 3)",
                    net.nodes()[i].name,
                    head.0,
                    stalled.0
                ));
            }
            if let Ok(Some(r)) = net.rpc(i).receipt(&pending_hash).await {
                net.fail(&format!("the transfer got a receipt without a quorum: {r:?}"));
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    // The survivors have not diverged: the same block at every height.
    for n in 0..=stalled.0 {
        watch.same_block(&net, n, None, &two).await;
    }
    eprintln!("[{:?}] 2 up: stalled at #{} for 8 s", started.elapsed(), stalled.0);

    // 4. One back (3 of 4 again): the pending transfer is finalized and the restarted node
    //    catches up.
    net.restart(2);
    let (rb, rh) = net
        .wait_for(
            "the pending transfer to be finalized after the restart",
            FINALIZE_TIMEOUT,
            &three,
            || async {
                let r = net.rpc(0).receipt(&pending_hash).await.ok()??;
                (finalized_head(net.rpc(0)).await?.0 >= r.block_number).then_some((r.block_number, r.block_hash))
            },
        )
        .await;
    assert!(
        rb > stalled.0,
        "the pending transfer landed in #{rb}, after the stall at #{}",
        stalled.0
    );
    watch.same_block(&net, rb, Some(&rh), &three).await;
    let head0 = net.head(0).await.0;
    watch.same_block(&net, head0, None, &three).await;
    match net.rpc(2).receipt(&pending_hash).await {
        Ok(Some(r)) if r.success && r.block_number == rb => {}
        other => net.fail(&format!("node2's receipt of the pending transfer: {other:?}")),
    }
    eprintln!(
        "[{:?}] node2 back: pending transfer finalized in #{rb}",
        started.elapsed()
    );

    // 5. The last one back: it catches up, and a transfer sent to it is finalized everywhere.
    net.restart(3);
    let head0 = net.head(0).await.0;
    watch.same_block(&net, head0, None, &all).await;
    let (n5, h5) = transfer_finalized(&net, 3, "Dave", "Ferdie", &all).await;
    watch.same_block(&net, n5, Some(&h5), &all).await;
    eprintln!(
        "[{:?}] node3 back: caught up to #{head0}, transfer finalized in #{n5}",
        started.elapsed()
    );

    // 6. One chain everywhere: the same hash at every height, each block's finality proof
    //    verified on every node with the light client's checks (header, slot, value, sr25519
    //    envelope signatures over the spec's genesis, a quorum holding a slice of the spec's
    //    quorum set), each certified block naming the one before as its parent, and the same
    //    balances (four transfers of AMOUNT reached Ferdie).
    let (spec, genesis) = match spec_genesis.await {
        Ok(t) => t,
        Err(e) => net.fail(&format!("building the spec's genesis failed: {e}")),
    };
    let Some(consensus) = spec.consensus.as_ref() else {
        net.fail("the testnet spec has no consensus section");
    };
    let trusted = match quorum_set_from_json(&consensus.quorum_set) {
        Ok(q) => q,
        Err(e) => net.fail(&format!("the spec's quorum set: {e}")),
    };
    let validators: BTreeSet<AccountId> = consensus.validators.iter().map(|v| v.id).collect();
    let threshold = consensus.quorum_set.t as usize;
    assert_eq!((validators.len(), threshold), (4, 3), "4 validators, quorum 3");
    let top = net.heads(&all).await.iter().map(|h| h.0).min().unwrap_or(0);
    assert!(top >= n5);
    // Node0's proofs of the last two blocks, for the tampering checks below.
    let mut last_proofs: Vec<Value> = vec![];
    let mut parent = genesis;
    for n in 0..=top {
        let hash = watch.same_block(&net, n, None, &all).await;
        let hash = match hash_from_hex(&hash) {
            Ok(h) => h,
            Err(e) => net.fail(&format!("#{n}: hash {hash}: {e}")),
        };
        if n == 0 {
            if hash != genesis {
                net.fail(&format!(
                    "the nodes' genesis is {}, the spec's is {}",
                    to_hex(&hash),
                    to_hex(&genesis)
                ));
            }
            continue;
        }
        for &i in &all {
            let name = &net.nodes()[i].name;
            let proof: Value = match net.rpc(i).call("watt_finalityProof", vec![n.into()]).await {
                Ok(p) => p,
                Err(e) => net.fail(&format!("{name} has no finality proof of #{n}: {e}")),
            };
            let block = match verify_finality_proof(&proof, &trusted, &genesis) {
                Ok(b) => b,
                Err(e) => net.fail(&format!("{name}'s finality proof of #{n} is refused: {e}\n{proof}")),
            };
            if block.number != n || block.hash != hash || block.header.parent_hash != parent {
                net.fail(&format!(
                    "{name}'s verified proof of #{n} is of #{} {} with parent {}; expected {} with parent {}",
                    block.number,
                    to_hex(&block.hash),
                    to_hex(&block.header.parent_hash),
                    to_hex(&hash),
                    to_hex(&parent)
                ));
            }
            let signers: BTreeSet<AccountId> = block.signers.iter().copied().collect();
            if signers.len() < threshold || !signers.is_subset(&validators) {
                net.fail(&format!(
                    "{name}'s certificate of #{n} is certified by {signers:?}, not by {threshold} of {validators:?}"
                ));
            }
            if i == 0 && n + 1 >= top {
                last_proofs.push(proof);
            }
        }
        parent = hash;
    }

    // The checks can fail: proofs altered in ways a lying node could try are refused, each for
    // its own reason, and the untouched one still verifies.
    let [earlier, last] = &last_proofs[..] else {
        net.fail(&format!("{} of node0's last two proofs kept", last_proofs.len()));
    };
    let certificate = |proof: &Value| -> Certificate<AccountId> {
        let bytes = from_hex(proof["certificate"].as_str().unwrap_or_default()).expect("a hex certificate");
        Certificate::decode_all(&mut &bytes[..]).expect("a verified certificate decodes")
    };
    let with_certificate = |proof: &Value, cert: &Certificate<AccountId>| -> Value {
        let mut p = proof.clone();
        p["certificate"] = to_hex(&cert.encode()).into();
        p
    };
    let refused = |what: &str, proof: &Value, trusted: &_, genesis: &Hash, why: &str| match verify_finality_proof(
        proof, trusted, genesis,
    ) {
        Ok(b) => net.fail(&format!("{what}: accepted as #{} {}", b.number, to_hex(&b.hash))),
        Err(e) if format!("{e:?}").contains(why) => {}
        Err(e) => net.fail(&format!("{what}: refused, but not for {why}: {e}")),
    };
    let cert = certificate(last);
    if let Err(e) = verify_finality_proof(&with_certificate(last, &cert), &trusted, &genesis) {
        net.fail(&format!("the re-encoded certificate of #{top} is refused: {e}"));
    }
    // One byte of one trusted signer's envelope signature flipped.
    let mut flipped = cert.clone();
    match flipped.envelopes.iter_mut().find(|e| validators.contains(&e.node)) {
        Some(env) if !env.signature.is_empty() => env.signature[0] ^= 1,
        _ => net.fail(&format!(
            "the certificate of #{top} has no signed envelope of a validator"
        )),
    }
    refused(
        "a certificate with a flipped signature byte",
        &with_certificate(last, &flipped),
        &trusted,
        &genesis,
        "BadSignature",
    );
    // Signed for another chain: the same proof checked against another genesis.
    let mut other_genesis = genesis;
    other_genesis[0] ^= 1;
    refused(
        "a proof checked against another genesis",
        last,
        &trusted,
        &other_genesis,
        "BadSignature",
    );
    // The certificate of the block before, presented for this block: as it is, and with its
    // slot rewritten to this block's number.
    refused(
        &format!("the certificate of #{} presented for #{top}", top - 1),
        &with_certificate(last, &certificate(earlier)),
        &trusted,
        &genesis,
        "NumberMismatch",
    );
    let mut moved = certificate(earlier);
    moved.slot = top;
    refused(
        &format!("the certificate of #{} relabelled as slot {top}", top - 1),
        &with_certificate(last, &moved),
        &trusted,
        &genesis,
        "ValueMismatch",
    );
    // Too few signers: only threshold - 1 of the envelopes kept.
    let mut short = cert.clone();
    short.envelopes.truncate(threshold - 1);
    refused(
        &format!("a certificate cut to {} signers", threshold - 1),
        &with_certificate(last, &short),
        &trusted,
        &genesis,
        "NoTrustedQuorum",
    );
    // Signatures of validators the client does not trust: Alice to Dave, 3 of 4.
    let others: Vec<String> = ["Alice", "Bob", "Charlie", "Dave"]
        .iter()
        .map(|n| dev(n).account().to_ss58())
        .collect();
    let untrusted = match serde_json::from_value(json!({ "t": 3, "v": others })) {
        Ok(q) => quorum_set_from_json(&q).expect("a sane quorum set of dev accounts"),
        Err(e) => net.fail(&format!("a quorum set of dev accounts: {e}")),
    };
    refused(
        "a proof checked against a quorum set of other validators",
        last,
        &untrusted,
        &genesis,
        "NoTrustedQuorum",
    );
    // A header altered under its claimed hash.
    let mut altered = last.clone();
    altered["header"]["stateRoot"] = to_hex(&[0x5a; 32]).into();
    refused(
        "a proof whose header's state root was altered",
        &altered,
        &trusted,
        &genesis,
        "HeaderHash",
    );
    for &i in &all {
        let b = free_balance(net.rpc(i), "Ferdie").await;
        assert_eq!(
            b,
            Some(ferdie0 + 4 * AMOUNT),
            "Ferdie's balance on {}",
            net.nodes()[i].name
        );
    }
    let conflicts = watch.conflicts();
    assert!(
        conflicts.is_empty(),
        "nodes reported different blocks at one height: {conflicts:#?}"
    );
    assert!(watch.observations() > 100, "the fork watch sampled the nodes");
    eprintln!(
        "[{:?}] {} blocks identical on 4 nodes, every certificate verified against the spec's quorum set and genesis, 7 forgeries refused; {} observations, no conflict",
        started.elapsed(),
        top,
        watch.observations()
    );
}

// ---- test 2: hostile peers ----

/// How an in-process peer answers the validators' requests.
#[derive(Clone, Copy, PartialEq)]
enum Answer {
    /// Drops the request unanswered (allowed: the requester sees no response).
    Nothing,
    /// Answers bytes that decode as no response.
    Garbage,
}

/// A peer built from `watt-network`, outside any node.
struct Peer {
    handle: NetworkHandle,
    requests_seen: Arc<AtomicUsize>,
    drain: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.drain.abort();
    }
}

/// `len` pseudo-random bytes from `seed` (xorshift), never a valid message.
fn garbage(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

impl Peer {
    async fn start(seed: u8, genesis: [u8; 32], bootnodes: Vec<Multiaddr>, answer: Answer) -> Peer {
        let config = NetworkConfig {
            secret_seed: [seed; 32],
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().expect("multiaddr")],
            bootnodes,
            genesis_hash: genesis,
            // Room to send what the validators' defaults (9 MiB gossip, 64 KiB requests) refuse.
            max_gossip_bytes: 10 << 20,
            max_request_bytes: 1 << 20,
            // Only the validators: these peers do not find each other, so every connection
            // they have is to a validator.
            discovery: false,
            ..NetworkConfig::default()
        };
        let (handle, mut events) = watt_network::start(config).await.expect("start a test peer");
        let requests_seen = Arc::new(AtomicUsize::new(0));
        let (h, seen) = (handle.clone(), requests_seen.clone());
        let drain = tokio::spawn(async move {
            let mut i = 0u64;
            while let Some(ev) = events.recv().await {
                match ev {
                    NetworkEvent::Gossip { id, from, .. } => h.report_validation(id, from, Validation::Ignore),
                    NetworkEvent::Request { reply, .. } => {
                        seen.fetch_add(1, Ordering::Relaxed);
                        i += 1;
                        if answer == Answer::Garbage {
                            reply.send(garbage(1_000 + i, 48));
                        }
                    }
                    NetworkEvent::PeerConnected(_) | NetworkEvent::PeerDisconnected(_) => {}
                }
            }
        });
        Peer {
            handle,
            requests_seen,
            drain,
        }
    }

    fn peer_id(&self) -> String {
        self.handle.local_peer_id().to_string()
    }

    /// How many of `validators` (peer ids) this peer is connected to.
    fn connected_to(&self, validators: &[String]) -> usize {
        connected(&self.handle, validators)
    }
}

/// Three hostile peers (garbage SCP envelopes; garbage and oversized tx sets; garbage and
/// oversized requests and garbage answers) are banned by every validator and stay banned, a quiet
/// peer is not, and transfers are finalized during and after the attack.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_sending_garbage_is_disconnected_and_the_rest_go_on() {
    let started = Instant::now();
    // The network's debug lines show oversized gossip refused and banned peers' reconnects refused.
    let net = Testnet::start(4, "info,watt_network=debug").await;
    let all = [0, 1, 2, 3];
    let watch = ForkWatch::start(&net);
    let genesis = match hash_at(net.rpc(0), 0).await.map(|h| hash_from_hex(&h)) {
        Some(Ok(h)) => h,
        _ => net.fail("no genesis hash"),
    };
    let bootnodes: Vec<Multiaddr> = net
        .nodes()
        .iter()
        .map(|v| Multiaddr::from_str(&v.p2p).unwrap_or_else(|e| panic!("{}: {e}", v.p2p)))
        .collect();
    let validator_ids: Vec<String> = net.nodes().iter().map(|v| v.peer_id.clone()).collect();
    let validator_peers: Vec<PeerId> = validator_ids
        .iter()
        .map(|id| PeerId::from_str(id).unwrap_or_else(|e| panic!("{id}: {e}")))
        .collect();

    // A quiet observer (the control: connected, silent, never answering) and three hostile
    // peers, one per kind of garbage: SCP envelopes, transaction sets, requests.
    let quiet = Peer::start(0x51, genesis, bootnodes.clone(), Answer::Nothing).await;
    let scp = Peer::start(0x52, genesis, bootnodes.clone(), Answer::Nothing).await;
    let txsets = Peer::start(0x53, genesis, bootnodes.clone(), Answer::Nothing).await;
    let requester = Peer::start(0x54, genesis, bootnodes.clone(), Answer::Garbage).await;
    let hostile = [("scp", &scp), ("txsets", &txsets), ("requests", &requester)];
    for (name, p) in [("quiet", &quiet)].into_iter().chain(hostile) {
        net.wait_for(
            &format!("the {name} peer to join all validators"),
            Duration::from_secs(30),
            &all,
            || async {
                let subscribed =
                    p.handle.topic_peers(Topic::ScpEnvelopes) == 4 && p.handle.topic_peers(Topic::TxSets) == 4;
                (p.connected_to(&validator_ids) == 4 && subscribed).then_some(())
            },
        )
        .await;
    }
    let test_peers: Vec<String> = [&quiet, &scp, &txsets, &requester]
        .iter()
        .map(|p| p.peer_id())
        .collect();
    wait_listed(&net, "list the test peers", |listed| {
        test_peers.iter().all(|id| listed.contains(id))
    })
    .await;
    let before = net.head(0).await.0;
    eprintln!("[{:?}] 4 test peers connected at #{before}", started.elapsed());

    // The attack, while a transfer is in flight.
    let deadline = Instant::now() + Duration::from_secs(30);
    let in_flight = tokio::spawn({
        let url = net.nodes()[1].url.clone();
        async move { cli_transfer(&url, "Alice", "Ferdie", "finalized", FINALIZE_TIMEOUT).await }
    });
    let attacks = vec![
        tokio::spawn({
            let (h, ids) = (scp.handle.clone(), validator_ids.clone());
            async move {
                let mut i = 0u64;
                while Instant::now() < deadline && connected(&h, &ids) > 0 {
                    i += 1;
                    h.publish(Topic::ScpEnvelopes, garbage(i, 64 + (i as usize * 37) % 400));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                i
            }
        }),
        tokio::spawn({
            let (h, ids) = (txsets.handle.clone(), validator_ids.clone());
            async move {
                // One over the validators' 9 MiB gossip limit, then small ones.
                h.publish(Topic::TxSets, garbage(7, (9 << 20) + 1));
                let mut i = 1u64;
                while Instant::now() < deadline && connected(&h, &ids) > 0 {
                    i += 1;
                    h.publish(Topic::TxSets, garbage(100 + i, 200 + (i as usize * 53) % 2000));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                i
            }
        }),
        tokio::spawn({
            let (h, ids, peers) = (requester.handle.clone(), validator_ids.clone(), validator_peers.clone());
            async move {
                let mut i = 0u64;
                while Instant::now() < deadline && connected(&h, &ids) > 0 {
                    for p in &peers {
                        i += 1;
                        // Every third one over the validators' 64 KiB request limit.
                        let len = if i.is_multiple_of(3) {
                            100 << 10
                        } else {
                            40 + (i as usize % 200)
                        };
                        let _ =
                            tokio::time::timeout(Duration::from_secs(2), h.request(*p, garbage(500 + i, len))).await;
                    }
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                i
            }
        }),
    ];
    let mut sent = vec![];
    for a in attacks {
        sent.push(a.await.expect("attack task"));
    }
    for ((name, p), n) in hostile.iter().zip(&sent) {
        let still = p.connected_to(&validator_ids);
        if still > 0 {
            net.fail(&format!(
                "the {name} peer is still connected to {still} validators after sending {n} garbage messages for 30 s"
            ));
        }
    }
    eprintln!(
        "[{:?}] hostile peers disconnected after {sent:?} garbage messages",
        started.elapsed()
    );

    // The hostile peers saw their connections close, but a validator unlists a peer only when its
    // own swarm task handles the close, which on a loaded machine can come later (seen once with
    // four more validators of another test beside these on 2 cores).
    wait_listed(&net, "unlist the hostile peers", |listed| {
        hostile.iter().all(|(_, p)| !listed.contains(&p.peer_id()))
    })
    .await;
    // Banned, not just disconnected: for longer than the 5 s redial interval no validator lists
    // a hostile peer again, and each logged the ban of each.
    let hold = Instant::now();
    while hold.elapsed() < Duration::from_secs(6) {
        for &i in &all {
            let Some(listed) = listed_peers(net.rpc(i)).await else {
                net.fail(&format!("{} did not answer system_peers", net.nodes()[i].name));
            };
            for (name, p) in &hostile {
                if listed.contains(&p.peer_id()) {
                    net.fail(&format!(
                        "{} lists the {name} peer again after banning it",
                        net.nodes()[i].name
                    ));
                }
            }
            if !listed.contains(&quiet.peer_id()) {
                net.fail(&format!("{} dropped the quiet peer", net.nodes()[i].name));
            }
            let others = validator_ids.iter().filter(|id| listed.contains(id)).count();
            if others != 3 {
                net.fail(&format!(
                    "{} is connected to {others} of the 3 other validators",
                    net.nodes()[i].name
                ));
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // What each validator logged about each test peer (lines naming its peer id).
    let logs: Vec<String> = net.nodes().iter().map(|v| v.log_text()).collect();
    let about = |id: &str, what: &str| -> usize {
        logs.iter()
            .map(|log| log.lines().filter(|l| l.contains(id) && l.contains(what)).count())
            .sum()
    };
    for (i, log) in logs.iter().enumerate() {
        for (name, p) in &hostile {
            let id = p.peer_id();
            if !log.lines().any(|l| l.contains("peer banned") && l.contains(&id)) {
                net.fail(&format!(
                    "{} logged no ban of the {name} peer {id}",
                    net.nodes()[i].name
                ));
            }
        }
    }
    // Each kind of garbage was seen for what it is, somewhere.
    let evidence = [
        (&scp, "malformed SCP envelope"),
        (&txsets, "malformed transaction set"),
        (&txsets, "oversized gossip payload"),
        (&requester, "malformed request"),
        (&requester, "refused by its length"),
        (&requester, "malformed response"),
    ];
    for (p, what) in evidence {
        if about(&p.peer_id(), what) == 0 {
            net.fail(&format!("no validator logged `{what}` for peer {}", p.peer_id()));
        }
    }
    // The bans hold: the hostile peers' redials were refused.
    for (name, p) in &hostile {
        if about(&p.peer_id(), "refused a connection from a banned peer") == 0 {
            net.fail(&format!("no validator refused a reconnect of the banned {name} peer"));
        }
    }
    if about(&quiet.peer_id(), "peer penalised") + about(&quiet.peer_id(), "peer banned") > 0 {
        net.fail("a validator penalised the quiet peer");
    }
    assert_eq!(quiet.connected_to(&validator_ids), 4, "the quiet peer stays connected");
    assert!(
        requester.requests_seen.load(Ordering::Relaxed) > 0,
        "validators asked the requester for its status"
    );
    for p in &validator_peers {
        let r = tokio::time::timeout(Duration::from_secs(15), requester.handle.request(*p, vec![0])).await;
        assert!(
            !matches!(r, Ok(Ok(_))),
            "a banned peer's request to {p} was answered: {r:?}"
        );
    }

    // The validators went on: the transfer sent during the attack and one sent after it are
    // finalized, with the same blocks everywhere.
    let during = match in_flight.await.expect("transfer task") {
        Ok(r) => r,
        Err(e) => net.fail(&e),
    };
    let (n1, h1) = match (
        during["blockNumber"].as_u64(),
        during["blockHash"].as_str(),
        &during["success"],
    ) {
        (Some(n), Some(h), Value::Bool(true)) => (n, h.to_string()),
        _ => net.fail(&format!("the transfer during the attack: {during}")),
    };
    watch.same_block(&net, n1, Some(&h1), &all).await;
    let (n2, h2) = transfer_finalized(&net, 2, "Bob", "Ferdie", &all).await;
    watch.same_block(&net, n2, Some(&h2), &all).await;
    assert!(n1 > before && n2 > n1, "#{before} < #{n1} < #{n2}");
    let conflicts = watch.conflicts();
    assert!(
        conflicts.is_empty(),
        "nodes reported different blocks at one height: {conflicts:#?}"
    );
    eprintln!(
        "[{:?}] transfers finalized in #{n1} (during) and #{n2} (after)",
        started.elapsed()
    );
}

/// How many of `validators` a peer's handle is connected to.
fn connected(h: &NetworkHandle, validators: &[String]) -> usize {
    h.peers()
        .iter()
        .filter(|p| p.connected && validators.contains(&p.peer_id))
        .count()
}
