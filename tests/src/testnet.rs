//! The harness for a real `watt testnet --validators N`: the testnet process, the validators it
//! started (found in its `testnet.json`), and any the test killed or restarted.
//!
//! Unlike [`NodeProcess`](crate::NodeProcess), the validators cannot bind port 0: `watt testnet`
//! gives validator i the RPC port P+i of `--rpc-port-base P`, so the harness picks a block of
//! ports that is free now. Every wait checks that the processes the caller expects to be up still
//! are, and a failure shows the end of every log. The testnet process and every validator are
//! killed on drop, also when a test panics, and the base path is removed after they are dead.

use crate::{poll, tail, watt_binary, START_TIMEOUT};
use serde_json::Value;
use std::future::Future;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};
use watt_client::WattRpc;

/// Seconds after which validators close an empty block. Keeps the chain (and SCP) moving between
/// transfers, so a stall shows as heights that stop growing and a restarted validator has blocks
/// to catch up on.
pub const EMPTY_BLOCK_INTERVAL: u64 = 2;

/// Whether `pid` is a live process (not gone, not a zombie waiting to be reaped) running with
/// `dir` on its command line: a pid recycled by an unrelated process is neither watched nor
/// killed.
fn pid_is_ours(pid: u32, dir: &Path) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // The state follows the command name in parentheses, which may itself hold spaces.
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.trim_start().chars().next());
    !matches!(state, None | Some('Z') | Some('X'))
        && std::fs::read(format!("/proc/{pid}/cmdline"))
            .is_ok_and(|c| String::from_utf8_lossy(&c).contains(&*dir.to_string_lossy()))
}

/// `kill -9 <pid>` (through kill(1): no unsafe code for a signal).
fn sigkill(pid: u32) {
    let _ = Command::new("kill")
        .args(["-9", &pid.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// The exit status of `child` if it has exited.
fn exited(child: &Mutex<Child>) -> Option<ExitStatus> {
    child
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .try_wait()
        .ok()
        .flatten()
}

/// A base port B such that B..B+n are free now. Taken below the kernel's ephemeral range
/// (32768+), so that ports other tests bind on port 0 do not land there before the validators
/// bind them; the start is spread by pid and clock so that parallel tests pick different blocks.
fn free_port_block(n: u16) -> u16 {
    let mut x = u64::from(std::process::id()) << 20
        ^ std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(1, |d| d.as_nanos() as u64);
    for _ in 0..500 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let base = 20_000 + (x % 12_000) as u16;
        if (0..n).all(|i| std::net::TcpListener::bind(("127.0.0.1", base + i)).is_ok()) {
            return base;
        }
    }
    panic!("no block of {n} free ports in 20000..32000");
}

/// A fresh directory under the system's temp dir. The path is canonical because the harness
/// recognises its validators by this path on their command lines.
fn fresh_dir() -> PathBuf {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    loop {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("watt-testnet-{}-{n}-{nanos}", std::process::id()));
        // `create_dir`, not `create_dir_all`: a leftover of an earlier run is never reused.
        match std::fs::create_dir(&dir) {
            Ok(()) => return dir.canonicalize().expect("canonical temp dir"),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(e) => panic!("create {}: {e}", dir.display()),
        }
    }
}

/// The finalized head of a node, (number, hash); `None` if it does not answer.
pub async fn finalized_head(rpc: &WattRpc) -> Option<(u64, String)> {
    let hash: String = rpc.call("chain_getFinalizedHead", vec![]).await.ok()?;
    let header: Value = rpc.call("chain_getHeader", vec![hash.clone().into()]).await.ok()?;
    Some((watt_client::rpc::header_number(&header)?, hash))
}

/// What the harness knows of a validator's process.
enum NodeState {
    /// Still the process `watt testnet` started (its pid is in testnet.json).
    Original,
    /// Killed by the test and not restarted.
    Killed,
    /// Restarted by the test with its command from testnet.json.
    Restarted(Mutex<Child>),
}

/// One validator of a [`Testnet`], as testnet.json describes it.
pub struct Validator {
    /// Its name (`node0`, `node1`, …).
    pub name: String,
    /// The pid of the process `watt testnet` started.
    pub pid: u32,
    /// Its RPC URL, `http://127.0.0.1:<P+i>`.
    pub url: String,
    /// A client of its RPC.
    pub rpc: WattRpc,
    /// Its multiaddress with `/p2p/<peer id>`.
    pub p2p: String,
    /// Its libp2p peer id.
    pub peer_id: String,
    /// Its log file (`<base path>/node.log`); a restart appends to it.
    pub log: PathBuf,
    rpc_port: u16,
    /// The command line `watt testnet` started it with, for a restart.
    command: Vec<String>,
    state: NodeState,
}

impl Validator {
    /// Its log so far (empty if unreadable).
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Kills it however it runs now (the original process by pid, if still ours under `root`; a
    /// restarted one as our child, reaped) and marks it killed. Does not wait for the original
    /// process to be gone: the testnet process reaps it.
    fn kill(&mut self, root: &Path) {
        match std::mem::replace(&mut self.state, NodeState::Killed) {
            NodeState::Original if pid_is_ours(self.pid, root) => sigkill(self.pid),
            NodeState::Original | NodeState::Killed => {}
            NodeState::Restarted(child) => {
                let mut child = child.into_inner().unwrap_or_else(|e| e.into_inner());
                let _ = child.kill();
                let _ = child.wait();
            }
        }
    }
}

/// A running `watt testnet`: the testnet process and every validator are killed on drop.
pub struct Testnet {
    /// The canonical base path (the one on the validators' command lines).
    root: PathBuf,
    /// `RUST_LOG` of every validator, also of a restarted one.
    log_filter: String,
    process: Mutex<Child>,
    nodes: Vec<Validator>,
}

impl Testnet {
    /// Starts `watt testnet --validators n --empty-block-interval` [`EMPTY_BLOCK_INTERVAL`] with
    /// `RUST_LOG=<log_filter>` (the validators inherit it; tests read their log lines), checks
    /// what its testnet.json says, and waits until every validator answers RPC and is connected
    /// to all the others.
    pub async fn start(n: u16, log_filter: &str) -> Testnet {
        let root = fresh_dir();
        let rpc_base = free_port_block(n);
        let log = std::fs::File::create(root.join("testnet.log")).expect("testnet log");
        let child = Command::new(watt_binary())
            .args(["testnet", "--validators", &n.to_string(), "--base-path"])
            .arg(&root)
            .args(["--rpc-port-base", &rpc_base.to_string()])
            .args(["--empty-block-interval", &EMPTY_BLOCK_INTERVAL.to_string()])
            .env("RUST_LOG", log_filter)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("testnet log"))
            .stderr(log)
            .spawn()
            .expect("spawn watt testnet");
        let mut net = Testnet {
            root,
            log_filter: log_filter.to_string(),
            process: Mutex::new(child),
            nodes: vec![],
        };
        // testnet.json is written (renamed into place) once every validator has been started.
        let manifest = net.root.join("testnet.json");
        let described: Value = net
            .wait_for("watt testnet to write testnet.json", START_TIMEOUT, &[], || async {
                serde_json::from_str(&std::fs::read_to_string(&manifest).ok()?).ok()
            })
            .await;
        assert_eq!(
            described["chain_spec"].as_str().map(PathBuf::from),
            Some(net.spec()),
            "testnet.json names the spec in the base path: {described}"
        );
        let nodes = described["nodes"].as_array().cloned().unwrap_or_default();
        assert_eq!(
            nodes.len(),
            n as usize,
            "testnet.json describes every validator: {described}"
        );
        for (i, d) in nodes.iter().enumerate() {
            let s = |k: &str| {
                d[k].as_str()
                    .unwrap_or_else(|| panic!("testnet.json: node {i} has no {k}: {d}"))
                    .to_string()
            };
            let rpc_port = rpc_base + i as u16;
            let url = s("rpc");
            assert_eq!(url, format!("http://127.0.0.1:{rpc_port}"), "validator i on P+i");
            let p2p = s("p2p");
            let peer_id = p2p
                .rsplit_once("/p2p/")
                .map(|(_, id)| id.to_string())
                .unwrap_or_else(|| panic!("p2p address without /p2p/: {p2p}"));
            let command: Vec<String> = d["command"]
                .as_array()
                .expect("command")
                .iter()
                .map(|a| a.as_str().expect("command words are strings").to_string())
                .collect();
            let log = PathBuf::from(s("log"));
            assert_eq!(log, PathBuf::from(s("base_path")).join("node.log"));
            net.nodes.push(Validator {
                name: s("name"),
                pid: d["pid"].as_u64().expect("pid") as u32,
                rpc: WattRpc::new(&url).expect("rpc client"),
                url,
                p2p,
                peer_id,
                log,
                rpc_port,
                command,
                state: NodeState::Original,
            });
        }
        let all = net.all();
        let want = u64::from(n) - 1;
        for v in &net.nodes {
            net.wait_for(
                &format!("{} to answer RPC with {want} peers", v.name),
                START_TIMEOUT,
                &all,
                || async {
                    let health: Value = v.rpc.call("system_health", vec![]).await.ok()?;
                    (health["peers"].as_u64()? >= want).then_some(())
                },
            )
            .await;
        }
        net
    }

    /// The base path; test files of its own (a peer's log) may go here too.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The chain spec `watt testnet` wrote and started the validators with.
    pub fn spec(&self) -> PathBuf {
        self.root.join("chain-spec.json")
    }

    /// The validators, in testnet.json's order.
    pub fn nodes(&self) -> &[Validator] {
        &self.nodes
    }

    /// The indices of every validator, for the `alive` arguments.
    pub fn all(&self) -> Vec<usize> {
        (0..self.nodes.len()).collect()
    }

    /// The RPC client of validator `i`.
    pub fn rpc(&self, i: usize) -> &WattRpc {
        &self.nodes[i].rpc
    }

    /// Fails (with every log) if the testnet process or one of validators `nodes` is not running.
    pub fn assert_alive(&self, nodes: &[usize]) {
        if let Some(status) = exited(&self.process) {
            self.fail(&format!("watt testnet exited ({status})"));
        }
        for &i in nodes {
            let v = &self.nodes[i];
            let down = match &v.state {
                NodeState::Original => (!pid_is_ours(v.pid, &self.root)).then(|| "exited".to_string()),
                NodeState::Killed => Some("was killed by the test".to_string()),
                NodeState::Restarted(c) => exited(c).map(|s| format!("exited after its restart ({s})")),
            };
            if let Some(why) = down {
                self.fail(&format!("{} {why}", v.name));
            }
        }
    }

    /// Panics with `why` and the end of every log.
    pub fn fail(&self, why: &str) -> ! {
        let mut text = format!("{why}\n--- testnet.log:\n{}", tail(&self.root.join("testnet.log"), 20));
        for v in &self.nodes {
            text += &format!("\n--- {} ({}):\n{}", v.name, v.log.display(), tail(&v.log, 40));
        }
        panic!("{text}");
    }

    /// Polls `probe` every 100 ms until it yields a value; fails if the testnet process or one of
    /// validators `alive` goes down, or nothing came within `timeout` (naming `what`).
    pub async fn wait_for<T, F, Fut>(&self, what: &str, timeout: Duration, alive: &[usize], probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        poll(timeout, Duration::from_millis(100), || self.assert_alive(alive), probe)
            .await
            .unwrap_or_else(|| self.fail(&format!("timed out after {timeout:?} waiting for {what}")))
    }

    /// The finalized head of validator `i`, (number, hash); fails if it does not answer.
    pub async fn head(&self, i: usize) -> (u64, String) {
        match finalized_head(self.rpc(i)).await {
            Some(h) => h,
            None => self.fail(&format!("{} did not tell its finalized head", self.nodes[i].name)),
        }
    }

    /// The finalized heads of validators `nodes`, in that order.
    pub async fn heads(&self, nodes: &[usize]) -> Vec<(u64, String)> {
        let mut out = vec![];
        for &i in nodes {
            out.push(self.head(i).await);
        }
        out
    }

    /// `kill -9` validator `i` and waits until it is gone and its RPC port is closed.
    pub async fn kill9(&mut self, i: usize) {
        self.assert_alive(&[i]);
        self.nodes[i].kill(&self.root);
        let v = &self.nodes[i];
        self.wait_for(&format!("{} to die", v.name), Duration::from_secs(10), &[], || async {
            // The testnet process reaps its children every 200 ms; a restarted one was reaped above.
            let gone = !pid_is_ours(v.pid, &self.root) && TcpStream::connect(("127.0.0.1", v.rpc_port)).is_err();
            gone.then_some(())
        })
        .await;
    }

    /// Restarts killed validator `i` with its command from testnet.json, its output appended to
    /// its log.
    pub fn restart(&mut self, i: usize) {
        let v = &mut self.nodes[i];
        assert!(matches!(v.state, NodeState::Killed), "{} is running", v.name);
        let open = || {
            std::fs::OpenOptions::new()
                .append(true)
                .open(&v.log)
                .unwrap_or_else(|e| panic!("open {}: {e}", v.log.display()))
        };
        let child = Command::new(&v.command[0])
            .args(&v.command[1..])
            .env("RUST_LOG", &self.log_filter)
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(open())
            .stderr(open())
            .spawn()
            .unwrap_or_else(|e| panic!("restart {}: {e}", v.name));
        v.state = NodeState::Restarted(Mutex::new(child));
    }
}

impl Drop for Testnet {
    fn drop(&mut self) {
        // The validators first (by pid, checked to be ours), then the testnet process: killed
        // first, it would leave its children running.
        for v in &mut self.nodes {
            v.kill(&self.root);
        }
        let process = self.process.get_mut().unwrap_or_else(|e| e.into_inner());
        let _ = process.kill();
        let _ = process.wait();
        // The validators it started are reaped by it or, once it is gone, by init; wait for them
        // to be dead before their base paths go.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.nodes.iter().any(|v| pid_is_ours(v.pid, &self.root)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = std::fs::remove_dir_all(&self.root);
    }
}
