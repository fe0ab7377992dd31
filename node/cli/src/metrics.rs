//! Prometheus metrics at `http://<addr>/metrics` (text exposition format 0.0.4).

use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use watt_chain::Chain;

/// The exposition text for `chain`.
pub fn render(chain: &Chain) -> String {
    let (best, _) = chain.best();
    let finalized = chain.finalized().map(|(n, _)| n).unwrap_or(0);
    let (pending, pending_bytes) = chain.pool_size();
    let s = chain.stats();
    let mut out = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, lines: &[(&str, u64)]| {
        out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
        for (labels, v) in lines {
            out.push_str(&format!("{name}{labels} {v}\n"));
        }
    };
    metric(
        "watt_block_height",
        "gauge",
        "Block height by status.",
        &[("{status=\"best\"}", best), ("{status=\"finalized\"}", finalized)],
    );
    metric(
        "watt_txpool_transactions",
        "gauge",
        "Transactions waiting in the pool.",
        &[("", pending as u64)],
    );
    metric(
        "watt_txpool_bytes",
        "gauge",
        "Encoded bytes waiting in the pool.",
        &[("", pending_bytes as u64)],
    );
    metric(
        "watt_blocks_imported_total",
        "counter",
        "Blocks committed since start.",
        &[("", s.blocks.load(Relaxed))],
    );
    metric(
        "watt_transactions_imported_total",
        "counter",
        "Transactions committed since start.",
        &[("", s.transactions.load(Relaxed))],
    );
    metric(
        "watt_block_import_microseconds_total",
        "counter",
        "Time spent executing and committing blocks since start.",
        &[("", s.import_micros.load(Relaxed))],
    );
    out
}

/// Serves `/metrics` until the task is dropped.
pub async fn serve(listener: TcpListener, chain: Arc<Chain>) {
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let chain = chain.clone();
        tokio::spawn(async move {
            // A request may arrive in several segments: read until the blank line that ends
            // its headers (bounded in size and time), not just the first segment.
            let mut buf = Vec::with_capacity(1024);
            let read_head = async {
                let mut chunk = [0u8; 1024];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") && buf.len() < 8192 {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
            };
            if tokio::time::timeout(std::time::Duration::from_secs(5), read_head)
                .await
                .is_err()
            {
                return;
            }
            let request = String::from_utf8_lossy(&buf);
            let response = if request.starts_with("GET /metrics ") {
                let body = render(&chain);
                format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len())
            } else {
                "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            };
            let _ = sock.write_all(response.as_bytes()).await;
        });
    }
}

/// Binds the metrics listener.
pub async fn bind(addr: SocketAddr) -> anyhow::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|e| {
        anyhow::anyhow!("cannot listen for Prometheus on {addr}: {e} (use --prometheus-port or --no-prometheus)")
    })
}
