//! A real js-libp2p peer among real validators (issue 17 item 6).
//!
//! `watt testnet` starts four validators; `tests/js-peer/peer.js` (js-libp2p with its gossipsub,
//! set up only as `node/network/PROTOCOL.md` says) dials all four and behaves as an ordinary
//! gossipsub peer for 30 s while transfers are submitted and finalized: it accepts every message
//! and forwards it to its mesh, so validators get their own messages back from it. The test polls
//! every validator's `system_peers` each second and checks that the js peer stays connected,
//! unbanned, with a score that never drops below 0; that finality went on; and that the js peer
//! really took part (it received SCP envelopes and forwarded messages).
//!
//! Node.js and npm are required: the test fails, not skips, without them (`scripts/setup.sh`
//! installs them). It runs `npm ci` in `tests/js-peer` when `node_modules` is missing.

use serde_json::Value;
use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use watt_client::rpc::WaitFor;
use watt_client::{dev_accounts, sign, transfer_call, WattRpc};
use watt_e2e::testnet::Testnet;
use watt_primitives::Hash;

/// How long the js peer runs.
const RUN_SECS: u64 = 30;
/// Oldest Node.js that runs the js peer (js-libp2p 3 with the `Promise.withResolvers` polyfill
/// of `tests/js-peer/node20.js`).
const MIN_NODE_MAJOR: u32 = 20;

// ---- the js peer ----

fn js_peer_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("js-peer")
}

/// Checks for Node.js and installs the js peer's packages if needed; panics with what to do
/// otherwise. Never skips: a missing Node.js must not look like a pass.
fn prepare_js_peer() {
    let version = match Command::new("node").arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        Ok(out) => panic!(
            "`node --version` failed ({}): this test runs a js-libp2p peer and needs Node.js {MIN_NODE_MAJOR}+ \
             and npm (run scripts/setup.sh)",
            out.status
        ),
        Err(e) => panic!(
            "Node.js not found ({e}): this test runs a js-libp2p peer and needs Node.js {MIN_NODE_MAJOR}+ and \
             npm; run scripts/setup.sh, or install Debian's nodejs and npm"
        ),
    };
    let major: u32 = version
        .trim_start_matches('v')
        .split('.')
        .next()
        .and_then(|m| m.parse().ok())
        .unwrap_or(0);
    assert!(
        major >= MIN_NODE_MAJOR,
        "Node.js {version} is too old for js-libp2p 3: the js peer needs Node.js {MIN_NODE_MAJOR}+"
    );
    let dir = js_peer_dir();
    if dir.join("node_modules").is_dir() {
        return;
    }
    eprintln!("installing the js peer's packages: npm ci in {}", dir.display());
    let out = Command::new("npm")
        .args(["ci", "--prefer-offline", "--no-audit", "--no-fund"])
        .current_dir(&dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "npm not found ({e}): this test needs npm to install tests/js-peer (run scripts/setup.sh, or install \
                 Debian's npm)"
            )
        });
    assert!(
        out.status.success(),
        "npm ci in {} failed ({}):\n{}\n{}",
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `node peer.js` with its stdout lines (JSON) collected by a thread; killed on drop.
struct JsPeer {
    child: Child,
    lines: Arc<Mutex<Vec<Value>>>,
    stderr: PathBuf,
}

impl JsPeer {
    fn start(genesis_prefix: &str, nodes: &[String], stderr: PathBuf) -> JsPeer {
        let err = std::fs::File::create(&stderr).expect("js peer log");
        let mut child = Command::new("node")
            .arg("peer.js")
            .args(["--genesis", genesis_prefix, "--seconds", &RUN_SECS.to_string()])
            .args(nodes)
            .current_dir(js_peer_dir())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(err)
            .spawn()
            .expect("spawn node peer.js");
        let stdout = child.stdout.take().expect("piped stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                match serde_json::from_str::<Value>(&line) {
                    Ok(v) => sink.lock().unwrap_or_else(|e| e.into_inner()).push(v),
                    Err(_) => eprintln!("js peer: {line}"),
                }
            }
        });
        JsPeer { child, lines, stderr }
    }

    /// Its last report line, if any.
    fn last(&self) -> Option<Value> {
        self.lines.lock().unwrap_or_else(|e| e.into_inner()).last().cloned()
    }

    /// Whether it has printed its final line.
    fn done(&self) -> bool {
        self.last().is_some_and(|v| v["event"] == "done")
    }

    fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    fn stderr_text(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for JsPeer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---- the test ----

/// What one validator showed of the js peer over the run.
#[derive(Debug, Default)]
struct Seen {
    /// Polls that listed it connected (and unbanned) while it ran.
    connected: usize,
    /// Polls taken while it ran, after this validator first listed it.
    polls: usize,
    /// Polls while it ran that did not list it, or listed it disconnected or banned.
    missing: Vec<String>,
    min_score: Option<i64>,
    agent: Option<String>,
}

/// Transfers to Ferdie from Alice, Bob, Charlie and Dave in turn, one every `every` until `stop`,
/// each sender's to its own validator; returns (validator, hash) of each one accepted.
fn submit_transfers(
    rpcs: Vec<WattRpc>,
    genesis: Hash,
    stop: Arc<std::sync::atomic::AtomicBool>,
    every: Duration,
) -> tokio::task::JoinHandle<Vec<(usize, Hash)>> {
    tokio::spawn(async move {
        let accounts = dev_accounts();
        let to = accounts
            .iter()
            .find(|(n, _)| *n == "Ferdie")
            .expect("Ferdie")
            .1
            .account();
        let senders: Vec<_> = ["Alice", "Bob", "Charlie", "Dave"]
            .iter()
            .map(|name| accounts.iter().find(|(n, _)| n == name).expect("dev account").1.clone())
            .collect();
        let mut accepted = Vec::new();
        let mut round = 0usize;
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            // Sender i always goes to validator i: the pool-aware next nonce stays right.
            let i = round % senders.len();
            round += 1;
            let rpc = &rpcs[i % rpcs.len()];
            if let Ok(nonce) = rpc.next_nonce(&senders[i].account()).await {
                let tx = sign(&senders[i], nonce, 0, genesis, &transfer_call(to, 7, false));
                if let Ok(h) = rpc.submit(&tx).await {
                    accepted.push((i % rpcs.len(), h));
                }
            }
            tokio::time::sleep(every).await;
        }
        accepted
    })
}

/// A js-libp2p peer connected to all four validators, relaying (and echoing) their gossip for
/// 30 s, is never penalised, banned or disconnected, and finality goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_js_libp2p_peer_relaying_gossip_is_never_penalised() {
    prepare_js_peer();
    let started = Instant::now();
    // The network's debug lines name every penalty, rejection and gossip misbehaviour.
    let net = Testnet::start(4, "info,watt_network=debug").await;
    let all = net.all();
    let genesis = match net.nodes()[0].rpc.genesis_hash().await {
        Ok(h) => h,
        Err(e) => net.fail(&format!("no genesis hash: {e}")),
    };
    let prefix = hex::encode(&genesis[..8]);
    let addrs: Vec<String> = net.nodes().iter().map(|v| v.p2p.clone()).collect();
    let validator_ids: Vec<String> = net.nodes().iter().map(|v| v.peer_id.clone()).collect();
    let mut js = JsPeer::start(&prefix, &addrs, net.root().join("js-peer.log"));
    let js_id = {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Some(id) = js.last().and_then(|v| v["peerId"].as_str().map(str::to_string)) {
                break id;
            }
            if let Some(status) = js.exited() {
                net.fail(&format!(
                    "the js peer exited ({status}) before starting:\n{}",
                    js.stderr_text()
                ));
            }
            if Instant::now() > deadline {
                net.fail(&format!(
                    "the js peer printed no peer id in 60 s:\n{}",
                    js.stderr_text()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let head_before = net.head(0).await.0;
    eprintln!(
        "[{:?}] js peer {js_id} started at finalized #{head_before}",
        started.elapsed()
    );

    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let transfers = submit_transfers(
        net.nodes().iter().map(|v| v.rpc.clone()).collect(),
        genesis,
        stop.clone(),
        Duration::from_millis(500),
    );

    // Every second, until the js peer is done: what each validator says of it.
    let mut seen: Vec<Seen> = (0..net.nodes().len()).map(|_| Seen::default()).collect();
    let deadline = Instant::now() + Duration::from_secs(RUN_SECS + 30);
    while !js.done() {
        net.assert_alive(&all);
        if let Some(status) = js.exited() {
            net.fail(&format!("the js peer exited early ({status}):\n{}", js.stderr_text()));
        }
        if Instant::now() > deadline {
            net.fail("the js peer did not finish in time");
        }
        let mut sample = Vec::new();
        for v in net.nodes() {
            let peers: Vec<Value> = match v.rpc.call("system_peers", vec![]).await {
                Ok(p) => p,
                Err(e) => net.fail(&format!("{} did not answer system_peers: {e}", v.name)),
            };
            sample.push(peers.into_iter().find(|p| p["peer_id"] == js_id.as_str()));
        }
        // A sample taken while the js peer was shutting down says nothing about its connection.
        let running = !js.done();
        for (i, entry) in sample.into_iter().enumerate() {
            let s = &mut seen[i];
            if let Some(p) = &entry {
                let score = p["score"].as_i64().unwrap_or(i64::MIN);
                s.min_score = Some(s.min_score.map_or(score, |m| m.min(score)));
                s.agent = p["agent"].as_str().map(str::to_string).or(s.agent.take());
            }
            let ok = entry
                .as_ref()
                .is_some_and(|p| p["connected"] == true && p["banned"] == false);
            if running && (s.polls > 0 || ok) {
                s.polls += 1;
                if ok {
                    s.connected += 1;
                } else {
                    s.missing.push(format!("{:?}: {entry:?}", started.elapsed()));
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let head_after = net.head(0).await.0;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let accepted = transfers.await.expect("transfer task");
    let report = js.last().expect("the final line");
    eprintln!(
        "[{:?}] js peer done; finalized #{head_before} -> #{head_after}; {} transfers submitted\njs peer: {report}",
        started.elapsed(),
        accepted.len()
    );
    for (v, s) in net.nodes().iter().zip(&seen) {
        eprintln!(
            "{}: listed the js peer connected in {}/{} polls, min score {:?}, agent {:?}",
            v.name, s.connected, s.polls, s.min_score, s.agent
        );
    }

    // The validators' view: connected throughout, never banned, never below 0.
    let logs: Vec<String> = net.nodes().iter().map(|v| v.log_text()).collect();
    let about_js: Vec<String> = logs
        .iter()
        .flat_map(|l| l.lines())
        .filter(|l| l.contains(&js_id))
        .filter(|l| {
            ["penalised", "banned", "gossip rejected", "gossip misbehaviour"]
                .iter()
                .any(|w| l.contains(w))
        })
        .map(str::to_string)
        .collect();
    for (v, s) in net.nodes().iter().zip(&seen) {
        if s.min_score.is_none_or(|m| m < 0) || !s.missing.is_empty() || s.polls < (RUN_SECS as usize) / 3 {
            net.fail(&format!(
                "{} scored or dropped the js peer {js_id}: min score {:?}, connected in {}/{} polls, \
                 not connected at {:#?}\nwhat the validators logged about it: {about_js:#?}",
                v.name, s.min_score, s.connected, s.polls, s.missing
            ));
        }
        // The agent is recorded only once identify succeeded with protocolVersion /watt/<g>/1.
        if !s.agent.as_deref().is_some_and(|a| a.contains("watt-js-peer")) {
            net.fail(&format!(
                "{} has no identify agent of the js peer: {:?}",
                v.name, s.agent
            ));
        }
    }
    assert!(
        about_js.is_empty(),
        "the validators penalised the js peer: {about_js:#?}"
    );

    // The js peer's view: all four connected, SCP envelopes received and messages forwarded.
    let connected: Vec<&str> = report["connected"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for id in &validator_ids {
        assert!(
            connected.contains(&id.as_str()),
            "the js peer is not connected to {id} at the end: {report}"
        );
    }
    // Topic names carry their version: the transactions topic is at 3 (batches, then no
    // author signatures), the others at 2.
    let count = |what: &str, topic: &str| {
        let version = if topic == "tx" { 3 } else { 2 };
        report[what][format!("/watt/{prefix}/{topic}/{version}")]
            .as_u64()
            .unwrap_or(0)
    };
    let forwarded: u64 = ["tx", "scp", "txset"].iter().map(|t| count("forwarded", t)).sum();
    assert!(
        count("received", "tx") > 0,
        "the js peer received no transaction batch: {report}"
    );
    assert!(
        count("received", "scp") > 0,
        "the js peer received no SCP envelope: {report}"
    );
    assert!(forwarded > 0, "the js peer forwarded nothing: {report}");

    // Finality went on during the run, and the transfers were finalized.
    assert!(
        head_after >= head_before + 3,
        "finality stalled with the js peer connected: #{head_before} -> #{head_after}"
    );
    assert!(!accepted.is_empty(), "no transfer was accepted");
    let mut last_of: BTreeMap<usize, Hash> = BTreeMap::new();
    for (i, h) in &accepted {
        last_of.insert(*i, *h);
    }
    for (i, h) in last_of {
        if let Err(e) = net.nodes()[i]
            .rpc
            .wait(&h, WaitFor::Finalized, Duration::from_secs(30))
            .await
        {
            net.fail(&format!(
                "the last transfer sent to {} was not finalized: {e}",
                net.nodes()[i].name
            ));
        }
    }
    eprintln!(
        "[{:?}] {} transfers finalized; js peer received {} SCP envelopes, forwarded {forwarded} messages ({} echoes)",
        started.elapsed(),
        accepted.len(),
        count("received", "scp"),
        report["echoes"]
    );
}
