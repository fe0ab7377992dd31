//! End-to-end tests that start real `watt` processes (see `tests/`). This library holds the
//! process harness they share.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

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

/// A free loopback port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind a free port")
}

/// A running `watt node --dev` process, killed when dropped.
pub struct NodeProcess {
    child: Child,
    /// Its RPC port.
    pub port: u16,
    /// Its Prometheus port.
    pub metrics_port: u16,
    /// Its log file.
    pub log: PathBuf,
}

impl NodeProcess {
    /// Starts `watt node --dev --base-path <base> --rpc-port <free>` plus `extra` args and waits
    /// until its RPC answers.
    pub fn start(base: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        let metrics_port = free_port();
        let log = base.join(format!("node-{port}.log"));
        let log_file = std::fs::File::create(&log).expect("create node log");
        let child = Command::new(watt_binary())
            .args(["node", "--dev", "--base-path"])
            .arg(base)
            .args(["--rpc-port", &port.to_string()])
            .args(["--prometheus-port", &metrics_port.to_string()])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("spawn watt node");
        let node = NodeProcess {
            child,
            port,
            metrics_port,
            log,
        };
        node.wait_ready(Duration::from_secs(60));
        node
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `ws://127.0.0.1:<port>`.
    pub fn ws_url(&self) -> String {
        format!("ws://127.0.0.1:{}", self.port)
    }

    fn wait_ready(&self, timeout: Duration) {
        let started = Instant::now();
        while started.elapsed() < timeout {
            if std::net::TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!(
            "node did not open its RPC port within {timeout:?}; log:\n{}",
            self.log_text()
        );
    }

    /// The node's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `kill -9`: no chance to flush or shut down.
    pub fn kill9(mut self) {
        let _ = self.child.kill(); // SIGKILL on unix
        let _ = self.child.wait();
    }
}

impl Drop for NodeProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
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
