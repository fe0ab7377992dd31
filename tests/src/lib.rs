//! End-to-end tests that start real `watt` processes (see `tests/`). This library holds the
//! process harness they share: [`NodeProcess`] for one `watt node --dev`, and [`testnet`] for a
//! `watt testnet` of several validators.
//!
//! Every node binds its RPC and Prometheus ports on port 0 and the harness reads the bound
//! addresses from the node's log, so parallel tests never race for a port (a testnet's
//! validators are the exception: see [`testnet`]). Every wait has a deadline and checks first
//! whether the node is still alive: a node that dies fails the test at once with its exit status
//! and log, and a hang fails at the deadline instead of blocking CI.

pub mod testnet;

use parity_scale_codec::DecodeAll;
use serde_json::Value;
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use watt_client::rpc::{from_hex, to_hex, ReceiptView, RpcError};
use watt_client::{sign, transfer_call, Keypair, WattRpc};
use watt_primitives::{AccountId, Block, Hash, SignedTransaction};

/// How long a node may take to open its ports. Generous: a debug build on a loaded 2-core
/// machine compiles the runtime with cranelift before it serves anything.
pub const START_TIMEOUT: Duration = Duration::from_secs(120);

/// The log line (from `watt_rpc::start`) that gives the bound RPC address.
pub const RPC_LISTENING: &str = "JSON-RPC (HTTP and WebSocket) listening on ";
/// The log line (from `watt node`) that gives the bound Prometheus address.
pub const PROMETHEUS_LISTENING: &str = "Prometheus metrics on http://";

/// The `watt` binary next to the test executable (`target/<profile>/watt`).
pub fn watt_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let dir = exe.parent().and_then(Path::parent).expect("target/<profile>/deps/..");
    let bin = dir.join("watt");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build -p watt`",
        bin.display()
    );
    bin
}

/// Polls `probe` every `every` until it yields a value, calling `alive` before each poll (it
/// panics when a process the caller relies on is gone, so a dead node fails at once rather than
/// at the deadline); `None` once `timeout` has passed without a value.
pub(crate) async fn poll<T, F, Fut>(timeout: Duration, every: Duration, alive: impl Fn(), mut probe: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        alive();
        if let Some(v) = probe().await {
            return Some(v);
        }
        if Instant::now() > deadline {
            return None;
        }
        tokio::time::sleep(every).await;
    }
}

/// The last `n` lines of a file (empty if unreadable), for failure messages.
pub(crate) fn tail(path: &Path, n: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// A running `watt node --dev` process, killed when dropped.
pub struct NodeProcess {
    child: Mutex<Child>,
    /// Its RPC port (bound by the node on port 0 and read from its log).
    pub port: u16,
    /// Its Prometheus port (0 when started with `--no-prometheus`).
    pub metrics_port: u16,
    /// Its log file (stderr).
    pub log: PathBuf,
}

/// The address after `marker` on some line of `log`, e.g. `127.0.0.1:41234`. Pass whole lines
/// only: a line still being written may end mid-port.
pub fn logged_addr(log: &str, marker: &str) -> Option<SocketAddr> {
    log.lines().find_map(|line| {
        let rest = &line[line.find(marker)? + marker.len()..];
        let end = rest
            .find(|c: char| !(c.is_ascii_hexdigit() || matches!(c, '.' | ':' | '[' | ']')))
            .unwrap_or(rest.len());
        rest[..end].parse().ok()
    })
}

/// A block the node logged as imported: `imported #N (0xabcd1234…) with K transactions`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedImport {
    /// Block number.
    pub number: u64,
    /// The first 4 bytes of its hash, `0x` hex.
    pub hash_prefix: String,
    /// Transactions in it.
    pub txs: usize,
}

/// The blocks the node logged as imported, in log order. The line is written after the block's
/// synced write returned, so each of these blocks was on disk when it was logged.
pub fn logged_imports(log: &str) -> Vec<LoggedImport> {
    log.lines()
        .filter_map(|line| {
            let rest = &line[line.find("imported #")? + "imported #".len()..];
            let (number, rest) = rest.split_once(" (")?;
            let (hash_prefix, rest) = rest.split_once('\u{2026}')?;
            let txs = rest.split_once(" with ")?.1.split_once(' ')?.0;
            Some(LoggedImport {
                number: number.parse().ok()?,
                hash_prefix: hash_prefix.to_string(),
                txs: txs.parse().ok()?,
            })
        })
        .collect()
}

/// Block `number` over RPC (`chain_getBlockHash` + `chain_getBlock`), decoded, its hash checked
/// against the hash the node reports. `None` when the node has no such block.
pub async fn block_at(rpc: &WattRpc, number: u64) -> Option<(Hash, Block)> {
    let hash: Option<String> = rpc
        .call("chain_getBlockHash", vec![number.into()])
        .await
        .expect("chain_getBlockHash");
    let hash = hash?;
    let v: Value = rpc
        .call("chain_getBlock", vec![hash.clone().into()])
        .await
        .expect("chain_getBlock");
    let h = &v["block"]["header"];
    // The light client's parser: every field, and the `hash` the node sent checked against them.
    let header = watt_client::light::header_from_json(h).unwrap_or_else(|e| panic!("header: {e}: {h}"));
    assert_eq!(header.number, number, "chain_getBlockHash({number}) gave block {hash}");
    assert_eq!(to_hex(&header.hash()), hash, "the header's fields hash to its hash");
    let transactions = v["block"]["extrinsics"]
        .as_array()
        .expect("extrinsics")
        .iter()
        .map(|x| {
            let bytes = from_hex(x.as_str().expect("hex extrinsic")).expect("hex");
            SignedTransaction::decode_all(&mut &bytes[..]).expect("a block holds decodable transactions")
        })
        .collect();
    Some((header.hash(), Block { header, transactions }))
}

/// The receipts of every transaction in blocks `numbers` (each must exist and have receipts).
pub async fn receipts_of_blocks(rpc: &WattRpc, numbers: std::ops::RangeInclusive<u64>) -> Vec<ReceiptView> {
    let mut out = Vec::new();
    for n in numbers {
        let (_, block) = block_at(rpc, n).await.unwrap_or_else(|| panic!("block #{n} exists"));
        for tx in &block.transactions {
            let r = rpc.receipt(&tx.hash()).await.expect("watt_receipt");
            out.push(r.unwrap_or_else(|| panic!("a transaction of block #{n} has a receipt")));
        }
    }
    out
}

impl NodeProcess {
    /// Starts `watt node --dev --base-path <base> --rpc-port 0 --prometheus-port 0` plus `extra`
    /// args and waits until it has logged its bound RPC (and Prometheus) address.
    pub fn start(base: &Path, extra: &[&str]) -> Self {
        let log = (0..)
            .map(|i| base.join(format!("node-{i}.log")))
            .find(|p| !p.exists())
            .expect("a free log name");
        let log_file = std::fs::File::create(&log).expect("create node log");
        // The harness reads info lines of these targets; keep whatever else the caller asked for.
        let filter = match std::env::var("RUST_LOG") {
            Ok(f) if !f.is_empty() => format!("{f},watt=info,watt_rpc=info,watt_chain=info"),
            _ => "info".to_string(),
        };
        let child = Command::new(watt_binary())
            .args(["node", "--dev", "--base-path"])
            .arg(base)
            .args(["--rpc-port", "0", "--prometheus-port", "0"])
            .args(extra)
            .env("RUST_LOG", filter)
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn watt node");
        let mut node = NodeProcess {
            child: Mutex::new(child),
            port: 0,
            metrics_port: 0,
            log,
        };
        let want_metrics = !extra.contains(&"--no-prometheus");
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            node.assert_alive();
            let text = node.log_text();
            // Only whole lines: a line being written may end mid-port ("127.0.0.1:371").
            let text = &text[..text.rfind('\n').map_or(0, |i| i + 1)];
            let rpc = logged_addr(text, RPC_LISTENING);
            let metrics = match want_metrics {
                true => logged_addr(text, PROMETHEUS_LISTENING).map(|a| a.port()),
                false => Some(0),
            };
            if let (Some(rpc), Some(metrics)) = (rpc, metrics) {
                node.port = rpc.port();
                node.metrics_port = metrics;
                return node;
            }
            if Instant::now() > deadline {
                node.fail(&format!("node did not log its RPC address within {START_TIMEOUT:?}"));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `ws://127.0.0.1:<port>`.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    /// The node's process id.
    pub fn pid(&self) -> u32 {
        self.child.lock().unwrap_or_else(|e| e.into_inner()).id()
    }

    /// The node's exit status if it has exited.
    pub fn exited(&self) -> Option<ExitStatus> {
        let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
        child.try_wait().ok().flatten()
    }

    /// Panics with the exit status and the log if the node has exited.
    pub fn assert_alive(&self) {
        if let Some(status) = self.exited() {
            self.fail(&format!("the node exited unexpectedly ({status})"));
        }
    }

    /// Panics with `why` and the end of the node's log.
    pub fn fail(&self, why: &str) -> ! {
        let tail = tail(&self.log, 80);
        panic!("{why}; node log {} (last 80 lines):\n{tail}", self.log.display())
    }

    /// Polls `probe` every 20 ms until it yields a value, failing at once if the node dies and
    /// after `timeout` if nothing came (naming `what`).
    pub async fn wait_for<T, F, Fut>(&self, what: &str, timeout: Duration, probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        poll(timeout, Duration::from_millis(20), || self.assert_alive(), probe)
            .await
            .unwrap_or_else(|| self.fail(&format!("timed out after {timeout:?} waiting for {what}")))
    }

    /// The node's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`: no chance to flush or shut down. Returns the log as it was at the kill.
    pub fn kill9(self) -> String {
        {
            let mut child = self.child.lock().unwrap_or_else(|e| e.into_inner());
            if let Ok(Some(status)) = child.try_wait() {
                drop(child);
                self.fail(&format!("the node had already exited ({status}) before kill -9"));
            }
            let _ = child.kill(); // SIGKILL on unix
            let _ = child.wait();
        }
        self.log_text()
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let child = self.child.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = child.kill();
        let _ = child.wait();
    }
}

/// Runs the `watt` CLI; returns (success, stdout, stderr).
pub fn watt_cli(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(watt_binary()).args(args).output().expect("run watt");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Transfers submitted without pause by one task per sender, until stopped or the node is gone.
pub struct TransferLoad {
    stop: Arc<AtomicBool>,
    tasks: Vec<tokio::task::JoinHandle<Vec<Hash>>>,
}

impl TransferLoad {
    /// Starts one submitting task per sender, each sending `amount` to `to` with consecutive
    /// nonces from the sender's next nonce. A refused submission (pool full, a busy node) is
    /// retried with a fresh nonce after a short pause; a transport error (the node was killed)
    /// ends the task.
    pub fn start(rpc: &WattRpc, genesis: Hash, senders: Vec<Keypair>, to: AccountId, amount: u128) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let tasks = senders
            .into_iter()
            .map(|sender| {
                let (rpc, stop) = (rpc.clone(), stop.clone());
                tokio::spawn(async move {
                    let mut hashes = Vec::new();
                    let mut nonce = None;
                    while !stop.load(Ordering::Relaxed) {
                        let n = match nonce {
                            Some(n) => n,
                            None => match rpc.next_nonce(&sender.account()).await {
                                Ok(n) => n,
                                Err(RpcError::Transport { .. }) => break,
                                Err(_) => {
                                    tokio::time::sleep(Duration::from_millis(20)).await;
                                    continue;
                                }
                            },
                        };
                        let tx = sign(&sender, n, 0, genesis, &transfer_call(to, amount, false));
                        match rpc.submit(&tx).await {
                            Ok(h) => {
                                hashes.push(h);
                                nonce = Some(n + 1);
                            }
                            Err(RpcError::Transport { .. }) => break,
                            Err(_) => {
                                nonce = None;
                                tokio::time::sleep(Duration::from_millis(20)).await;
                            }
                        }
                    }
                    hashes
                })
            })
            .collect();
        TransferLoad { stop, tasks }
    }

    /// Stops the tasks; returns the hashes of every accepted submission.
    pub async fn stop(self) -> Vec<Hash> {
        self.stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        for t in self.tasks {
            all.extend(t.await.expect("load task"));
        }
        all
    }
}

/// Of the load generators' per-sender results (when each sender's last transaction was
/// accepted, and its hash), the hash accepted last; the first error if any sender failed.
pub fn last_submitted<E>(results: Vec<Result<Option<(Instant, Hash)>, E>>) -> Result<Option<Hash>, E> {
    let mut last: Option<(Instant, Hash)> = None;
    for r in results {
        if let Some(l) = r? {
            if last.is_none_or(|(t, _)| l.0 > t) {
                last = Some(l);
            }
        }
    }
    Ok(last.map(|(_, h)| h))
}

/// Transfers of `amount` from `funders` (round robin) to each of `accounts`, as one nonce-ordered
/// chain per funder (a sender's nonces must reach the node in order), for the load generators.
pub async fn funding_chains(
    rpc: &WattRpc,
    genesis: Hash,
    funders: &[Keypair],
    accounts: &[Keypair],
    amount: watt_primitives::Balance,
) -> Result<Vec<Vec<SignedTransaction>>, RpcError> {
    let mut chains: Vec<Vec<SignedTransaction>> = vec![Vec::new(); funders.len()];
    for (i, a) in accounts.iter().enumerate() {
        let f = i % funders.len();
        let nonce = match chains[f].last() {
            Some(t) => t.tx.nonce + 1,
            None => rpc.next_nonce(&funders[f].account()).await?,
        };
        chains[f].push(sign(
            &funders[f],
            nonce,
            0,
            genesis,
            &transfer_call(a.account(), amount, false),
        ));
    }
    Ok(chains)
}
