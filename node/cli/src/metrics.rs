//! Prometheus metrics at `http://<addr>/metrics`, encoded by `prometheus-client` in the
//! OpenMetrics text format (what Prometheus asks for first and parses by the content type).
//!
//! Every value is read from its source when it is scraped ([`Collector`]): the chain's counters,
//! the SCP engine's [`ScpStats`] and the network's peer count. Nothing is copied into metric
//! objects between scrapes, so concurrent scrapes cannot double-count a delta and no value is
//! older than its scrape.
//!
//! | metric | type | source |
//! | --- | --- | --- |
//! | `watt_block_height{status="best"\|"finalized"}` | gauge | [`Chain::best`], [`Chain::finalized`] |
//! | `watt_txpool_transactions`, `watt_txpool_bytes` | gauge | [`Chain::pool_size`] |
//! | `watt_blocks_imported_total`, `watt_transactions_imported_total` | counter | [`Chain::stats`] |
//! | `watt_block_import_microseconds_total` | counter | [`Chain::stats`] |
//! | `watt_peers` | gauge | [`NetworkHandle::connected_peers`] |
//! | `watt_syncing` | gauge (0/1) | [`ScpStats::syncing`] |
//! | `watt_scp_envelopes_total{direction="in"\|"out"}` | counter | [`ScpStats`] |
//! | `watt_scp_nomination_timeouts_total`, `watt_scp_ballot_timeouts_total` | counter | [`ScpStats`] |
//! | `watt_scp_slots_externalized_total`, `watt_scp_slots_multi_round_total` | counter | [`ScpStats`] |
//! | `watt_sync_blocks_total`, `watt_scp_refused_total` | counter | [`ScpStats`] |
//! | `watt_scp_outside_quorum_total`, `watt_scp_apply_failures_total` | counter | [`ScpStats`] |
//! | `watt_scp_tx_sets{state="pinned"\|"loose"}`, `watt_scp_tx_set_bytes` | gauge | [`ScpStats`] |
//! | `watt_scp_pending_fetches`, `watt_scp_parked_envelopes` | gauge | [`ScpStats`] |
//!
//! The last three rows are what an operator watches under attack: the gauges are the bounded
//! stores an outsider can fill (their caps are in `node/consensus/src/scp/`), the counters what
//! the node dropped unread and the agreed values it failed to apply (a fault of this node, not
//! of the network: see the log).
//!
//! A dev node has no network and no SCP engine: those metrics read 0 there, so dashboards
//! and alerts see the same series on every node.
//!
//! There is no histogram of block import times: the chain keeps only the total import time and
//! the number of blocks, not each block's duration. The ratio of the rates of
//! `watt_block_import_microseconds_total` and `watt_blocks_imported_total` gives the mean
//! import time over any window.
//!
//! OpenMetrics names a counter's family without its `_total` suffix (`# TYPE
//! watt_blocks_imported counter`) and its sample with it (`watt_blocks_imported_total 3`), so
//! the counters here are declared without the suffix and the series names stay those of the
//! hand-written exporter this replaced.

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::registry::Registry;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use watt_chain::Chain;
use watt_consensus::ScpStats;
use watt_network::NetworkHandle;

/// The content type of [`NodeMetrics::render`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Where the metrics are read from.
#[derive(Clone)]
pub struct MetricsSources {
    /// The chain: heights, pool, import counters.
    pub chain: Arc<Chain>,
    /// The SCP engine's counters; `None` on a dev node (its SCP metrics read 0).
    pub scp: Option<Arc<ScpStats>>,
    /// The peer-to-peer network; `None` on a dev node (`watt_peers` reads 0).
    pub network: Option<NetworkHandle>,
}

impl MetricsSources {
    /// A node without network or SCP engine (`--dev`).
    pub fn dev(chain: Arc<Chain>) -> Self {
        Self {
            chain,
            scp: None,
            network: None,
        }
    }
}

/// The node's metric registry.
pub struct NodeMetrics {
    registry: Registry,
}

impl NodeMetrics {
    /// A registry whose metrics are read from `sources` at every scrape.
    pub fn new(sources: MetricsSources) -> Self {
        let mut registry = Registry::default();
        registry.register_collector(Box::new(SourcesCollector(sources)));
        Self { registry }
    }

    /// The exposition text, ending with `# EOF`.
    pub fn render(&self) -> Result<String, fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Reads every metric from its source while it is encoded.
struct SourcesCollector(MetricsSources);

impl fmt::Debug for SourcesCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SourcesCollector")
            .field("scp", &self.0.scp.is_some())
            .field("network", &self.0.network.is_some())
            .finish_non_exhaustive()
    }
}

fn gauge(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = ConstGauge::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// `name` without `_total`: the encoder appends it to the sample.
fn counter(encoder: &mut DescriptorEncoder, name: &str, help: &str, value: u64) -> fmt::Result {
    let metric = ConstCounter::new(value);
    metric.encode(encoder.encode_descriptor(name, help, None, metric.metric_type())?)
}

/// A family with one label; `name` as for [`counter`] when `T` is a counter.
fn family<T: EncodeMetric>(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    label: &str,
    members: [(&str, T); 2],
) -> fmt::Result {
    let mut family = encoder.encode_descriptor(name, help, None, members[0].1.metric_type())?;
    for (value, metric) in &members {
        let labels = [(label, *value)];
        metric.encode(family.encode_family(&labels)?)?;
    }
    Ok(())
}

impl Collector for SourcesCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> fmt::Result {
        let e = &mut encoder;
        let chain = &self.0.chain;
        let (best, _) = chain.best();
        // Before the first finalized block (or if the store cannot say) genesis is final.
        let finalized = chain.finalized().map(|(n, _)| n).unwrap_or(0);
        family(
            e,
            "watt_block_height",
            "Block height by status.",
            "status",
            [
                ("best", ConstGauge::new(best)),
                ("finalized", ConstGauge::new(finalized)),
            ],
        )?;
        let (pending, pending_bytes) = chain.pool_size();
        gauge(
            e,
            "watt_txpool_transactions",
            "Transactions waiting in the pool.",
            pending as u64,
        )?;
        gauge(
            e,
            "watt_txpool_bytes",
            "Encoded bytes waiting in the pool.",
            pending_bytes as u64,
        )?;
        let s = chain.stats();
        counter(
            e,
            "watt_blocks_imported",
            "Blocks committed since start.",
            s.blocks.load(Relaxed),
        )?;
        counter(
            e,
            "watt_transactions_imported",
            "Transactions committed since start.",
            s.transactions.load(Relaxed),
        )?;
        counter(
            e,
            "watt_block_import_microseconds",
            "Time spent executing and committing blocks since start.",
            s.import_micros.load(Relaxed),
        )?;

        let peers = self.0.network.as_ref().map_or(0, NetworkHandle::connected_peers);
        gauge(e, "watt_peers", "Connected peers.", peers as u64)?;

        let scp = self.0.scp.as_deref();
        let read = |field: fn(&ScpStats) -> &std::sync::atomic::AtomicU64| scp.map_or(0, |s| field(s).load(Relaxed));
        let syncing = scp.is_some_and(|s| s.syncing.load(Relaxed));
        gauge(
            e,
            "watt_syncing",
            "1 while catching up from peers, else 0.",
            syncing as u64,
        )?;
        family(
            e,
            "watt_scp_envelopes",
            "SCP envelopes received from peers (in) and signed and sent by this node (out).",
            "direction",
            [
                ("in", ConstCounter::new(read(|s| &s.envelopes_in))),
                ("out", ConstCounter::new(read(|s| &s.envelopes_out))),
            ],
        )?;
        counter(
            e,
            "watt_scp_nomination_timeouts",
            "Nomination rounds that timed out (a new round started).",
            read(|s| &s.nomination_timeouts),
        )?;
        counter(
            e,
            "watt_scp_ballot_timeouts",
            "Ballot timers that fired (the ballot counter went up).",
            read(|s| &s.ballot_timeouts),
        )?;
        counter(
            e,
            "watt_scp_slots_externalized",
            "Slots externalized by this node.",
            read(|s| &s.slots_externalized),
        )?;
        counter(
            e,
            "watt_scp_slots_multi_round",
            "Externalized slots whose nomination needed more than one round.",
            read(|s| &s.slots_multi_round),
        )?;
        counter(
            e,
            "watt_sync_blocks",
            "Blocks imported by catch-up sync.",
            read(|s| &s.blocks_synced),
        )?;
        counter(
            e,
            "watt_scp_refused",
            "SCP envelopes or messages refused as invalid.",
            read(|s| &s.refused),
        )?;
        counter(
            e,
            "watt_scp_outside_quorum",
            "SCP envelopes dropped unread: their sender is outside the local transitive quorum.",
            read(|s| &s.outside_quorum),
        )?;
        counter(
            e,
            "watt_scp_apply_failures",
            "Failed attempts at applying an agreed value here (a fault of this node; retried).",
            read(|s| &s.apply_failures),
        )?;
        family(
            e,
            "watt_scp_tx_sets",
            "Transaction sets held: pinned for open slots, or loose (named by nothing yet).",
            "state",
            [
                ("pinned", ConstGauge::new(read(|s| &s.tx_sets_pinned))),
                ("loose", ConstGauge::new(read(|s| &s.tx_sets_loose))),
            ],
        )?;
        gauge(
            e,
            "watt_scp_tx_set_bytes",
            "Bytes of every transaction set held.",
            read(|s| &s.tx_set_bytes),
        )?;
        gauge(
            e,
            "watt_scp_pending_fetches",
            "Transaction sets and quorum sets wanted or being fetched.",
            read(|s| &s.pending_fetches),
        )?;
        gauge(
            e,
            "watt_scp_parked_envelopes",
            "SCP envelopes parked until what they name arrives.",
            read(|s| &s.parked),
        )?;
        Ok(())
    }
}

/// Serves `/metrics` (any other path gets 404) until the task is dropped.
pub async fn serve(listener: TcpListener, sources: MetricsSources) {
    let metrics = Arc::new(NodeMetrics::new(sources));
    loop {
        let Ok((mut sock, _)) = listener.accept().await else {
            continue;
        };
        let metrics = metrics.clone();
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
                match metrics.render() {
                    Ok(body) => format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {CONTENT_TYPE}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        body.len()
                    ),
                    Err(_) => {
                        tracing::warn!("metrics could not be encoded");
                        "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
                    }
                }
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;
    use std::sync::atomic::AtomicU64;
    use std::time::{Duration, Instant};
    use watt_chain::test_utils::{keyring, open_dev_chain, transfer_bytes};

    /// Every series of the exposition (name with its labels) and its value.
    fn samples(text: &str) -> HashMap<String, u64> {
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| {
                let (series, value) = l.rsplit_once(' ').unwrap_or_else(|| panic!("no value in {l:?}"));
                let value = value.parse().unwrap_or_else(|_| panic!("not an integer in {l:?}"));
                (series.to_string(), value)
            })
            .collect()
    }

    /// `# TYPE` lines: family name to type.
    fn types(text: &str) -> HashMap<String, String> {
        text.lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| {
                let (name, kind) = l.split_once(' ').unwrap_or_else(|| panic!("bad TYPE line {l:?}"));
                (name.to_string(), kind.to_string())
            })
            .collect()
    }

    fn scrape(metrics: &NodeMetrics) -> (String, HashMap<String, u64>) {
        let text = metrics.render().expect("metrics encode");
        assert!(
            text.ends_with("# EOF\n"),
            "an OpenMetrics exposition ends with # EOF: {text}"
        );
        let values = samples(&text);
        (text, values)
    }

    /// Family, type, and the series the family must expose.
    const REQUIRED: &[(&str, &str, &[&str])] = &[
        (
            "watt_block_height",
            "gauge",
            &[
                "watt_block_height{status=\"best\"}",
                "watt_block_height{status=\"finalized\"}",
            ],
        ),
        ("watt_txpool_transactions", "gauge", &["watt_txpool_transactions"]),
        ("watt_txpool_bytes", "gauge", &["watt_txpool_bytes"]),
        ("watt_blocks_imported", "counter", &["watt_blocks_imported_total"]),
        (
            "watt_transactions_imported",
            "counter",
            &["watt_transactions_imported_total"],
        ),
        (
            "watt_block_import_microseconds",
            "counter",
            &["watt_block_import_microseconds_total"],
        ),
        ("watt_peers", "gauge", &["watt_peers"]),
        ("watt_syncing", "gauge", &["watt_syncing"]),
        (
            "watt_scp_envelopes",
            "counter",
            &[
                "watt_scp_envelopes_total{direction=\"in\"}",
                "watt_scp_envelopes_total{direction=\"out\"}",
            ],
        ),
        (
            "watt_scp_nomination_timeouts",
            "counter",
            &["watt_scp_nomination_timeouts_total"],
        ),
        (
            "watt_scp_ballot_timeouts",
            "counter",
            &["watt_scp_ballot_timeouts_total"],
        ),
        (
            "watt_scp_slots_externalized",
            "counter",
            &["watt_scp_slots_externalized_total"],
        ),
        (
            "watt_scp_slots_multi_round",
            "counter",
            &["watt_scp_slots_multi_round_total"],
        ),
        ("watt_sync_blocks", "counter", &["watt_sync_blocks_total"]),
        ("watt_scp_refused", "counter", &["watt_scp_refused_total"]),
        ("watt_scp_outside_quorum", "counter", &["watt_scp_outside_quorum_total"]),
        ("watt_scp_apply_failures", "counter", &["watt_scp_apply_failures_total"]),
        (
            "watt_scp_tx_sets",
            "gauge",
            &[
                "watt_scp_tx_sets{state=\"pinned\"}",
                "watt_scp_tx_sets{state=\"loose\"}",
            ],
        ),
        ("watt_scp_tx_set_bytes", "gauge", &["watt_scp_tx_set_bytes"]),
        ("watt_scp_pending_fetches", "gauge", &["watt_scp_pending_fetches"]),
        ("watt_scp_parked_envelopes", "gauge", &["watt_scp_parked_envelopes"]),
    ];

    #[test]
    fn every_metric_is_exposed_with_its_type_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let metrics = NodeMetrics::new(MetricsSources::dev(open_dev_chain(dir.path())));
        let (text, values) = scrape(&metrics);
        let types = types(&text);
        let mut expected_series = 0;
        for (family, kind, series) in REQUIRED {
            assert_eq!(
                types.get(*family).map(String::as_str),
                Some(*kind),
                "# TYPE of {family} in:\n{text}"
            );
            assert!(
                text.contains(&format!("# HELP {family} ")),
                "# HELP of {family} in:\n{text}"
            );
            for s in *series {
                assert!(values.contains_key(*s), "{s} missing from:\n{text}");
            }
            expected_series += series.len();
        }
        assert_eq!(types.len(), REQUIRED.len(), "unexpected families in:\n{text}");
        assert_eq!(values.len(), expected_series, "unexpected series in:\n{text}");
    }

    #[test]
    fn dev_chain_values_follow_the_chain() {
        let dir = tempfile::tempdir().unwrap();
        let chain = open_dev_chain(dir.path());
        let metrics = NodeMetrics::new(MetricsSources::dev(chain.clone()));
        let (text, v) = scrape(&metrics);
        for series in [
            "watt_block_height{status=\"best\"}",
            "watt_block_height{status=\"finalized\"}",
            "watt_txpool_transactions",
            "watt_txpool_bytes",
            "watt_blocks_imported_total",
            "watt_transactions_imported_total",
            "watt_block_import_microseconds_total",
            // A dev node has no network and no SCP engine.
            "watt_peers",
            "watt_syncing",
            "watt_scp_envelopes_total{direction=\"in\"}",
            "watt_scp_envelopes_total{direction=\"out\"}",
            "watt_scp_nomination_timeouts_total",
            "watt_scp_ballot_timeouts_total",
            "watt_scp_slots_externalized_total",
            "watt_scp_slots_multi_round_total",
            "watt_sync_blocks_total",
            "watt_scp_refused_total",
            "watt_scp_outside_quorum_total",
            "watt_scp_apply_failures_total",
            "watt_scp_tx_sets{state=\"pinned\"}",
            "watt_scp_tx_sets{state=\"loose\"}",
            "watt_scp_tx_set_bytes",
            "watt_scp_pending_fetches",
            "watt_scp_parked_envelopes",
        ] {
            assert_eq!(v[series], 0, "{series} on a fresh dev chain:\n{text}");
        }

        // Two transfers wait in the pool.
        let keys = keyring();
        let genesis = chain.genesis_hash();
        let tx0 = transfer_bytes(genesis, &keys[0], keys[1].account(), 1_000, 0);
        let tx1 = transfer_bytes(genesis, &keys[0], keys[1].account(), 2_000, 1);
        chain.submit(&tx0).expect("a valid transfer");
        chain.submit(&tx1).expect("a valid transfer");
        let (text, v) = scrape(&metrics);
        assert_eq!(v["watt_txpool_transactions"], 2, "{text}");
        assert_eq!(v["watt_txpool_bytes"], (tx0.len() + tx1.len()) as u64, "{text}");
        assert_eq!(v["watt_blocks_imported_total"], 0, "{text}");

        // A finalized block takes them.
        chain
            .produce_block(1_000, true, false)
            .expect("block builds")
            .expect("a block");
        let (text, v) = scrape(&metrics);
        assert_eq!(v["watt_block_height{status=\"best\"}"], 1, "{text}");
        assert_eq!(v["watt_block_height{status=\"finalized\"}"], 1, "{text}");
        assert_eq!(v["watt_txpool_transactions"], 0, "{text}");
        assert_eq!(v["watt_txpool_bytes"], 0, "{text}");
        assert_eq!(v["watt_blocks_imported_total"], 1, "{text}");
        assert_eq!(v["watt_transactions_imported_total"], 2, "{text}");
        assert!(v["watt_block_import_microseconds_total"] > 0, "{text}");

        // An empty block that is not final moves only the best height.
        chain
            .produce_block(2_000, false, true)
            .expect("block builds")
            .expect("a block");
        let (text, v) = scrape(&metrics);
        assert_eq!(v["watt_block_height{status=\"best\"}"], 2, "{text}");
        assert_eq!(v["watt_block_height{status=\"finalized\"}"], 1, "{text}");
        assert_eq!(v["watt_blocks_imported_total"], 2, "{text}");
        assert_eq!(v["watt_transactions_imported_total"], 2, "{text}");
    }

    fn network_config(seed: u8) -> watt_network::NetworkConfig {
        watt_network::NetworkConfig {
            secret_seed: [seed; 32],
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
            genesis_hash: [0x6d; 32],
            agent: format!("watt-metrics-test/{seed}"),
            redial_interval: Duration::from_millis(300),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn scp_counters_and_peers_are_read_at_each_scrape() {
        let (a, _a_events) = watt_network::start(network_config(1)).await.expect("network starts");
        let a_addr = format!("{}/p2p/{}", a.listen_addresses()[0], a.local_peer_id())
            .parse()
            .unwrap();
        let (_b, _b_events) = watt_network::start(watt_network::NetworkConfig {
            bootnodes: vec![a_addr],
            ..network_config(2)
        })
        .await
        .expect("network starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while a.connected_peers() != 1 {
            assert!(Instant::now() < deadline, "the peers never connected");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let stats = Arc::new(ScpStats::default());
        let set = |field: &AtomicU64, v| field.store(v, Relaxed);
        set(&stats.envelopes_in, 17);
        set(&stats.envelopes_out, 5);
        set(&stats.nomination_timeouts, 3);
        set(&stats.ballot_timeouts, 2);
        set(&stats.slots_externalized, 11);
        set(&stats.slots_multi_round, 1);
        set(&stats.blocks_synced, 4);
        set(&stats.refused, 9);
        set(&stats.outside_quorum, 31);
        set(&stats.apply_failures, 6);
        set(&stats.tx_sets_pinned, 7);
        set(&stats.tx_sets_loose, 13);
        set(&stats.tx_set_bytes, 4_096);
        set(&stats.pending_fetches, 8);
        set(&stats.parked, 12);
        stats.syncing.store(true, Relaxed);

        let dir = tempfile::tempdir().unwrap();
        let metrics = NodeMetrics::new(MetricsSources {
            chain: open_dev_chain(dir.path()),
            scp: Some(stats.clone()),
            network: Some(a.clone()),
        });
        let (text, v) = scrape(&metrics);
        assert_eq!(v["watt_peers"], 1, "{text}");
        assert_eq!(v["watt_syncing"], 1, "{text}");
        assert_eq!(v["watt_scp_envelopes_total{direction=\"in\"}"], 17, "{text}");
        assert_eq!(v["watt_scp_envelopes_total{direction=\"out\"}"], 5, "{text}");
        assert_eq!(v["watt_scp_nomination_timeouts_total"], 3, "{text}");
        assert_eq!(v["watt_scp_ballot_timeouts_total"], 2, "{text}");
        assert_eq!(v["watt_scp_slots_externalized_total"], 11, "{text}");
        assert_eq!(v["watt_scp_slots_multi_round_total"], 1, "{text}");
        assert_eq!(v["watt_sync_blocks_total"], 4, "{text}");
        assert_eq!(v["watt_scp_refused_total"], 9, "{text}");
        assert_eq!(v["watt_scp_outside_quorum_total"], 31, "{text}");
        assert_eq!(v["watt_scp_apply_failures_total"], 6, "{text}");
        assert_eq!(v["watt_scp_tx_sets{state=\"pinned\"}"], 7, "{text}");
        assert_eq!(v["watt_scp_tx_sets{state=\"loose\"}"], 13, "{text}");
        assert_eq!(v["watt_scp_tx_set_bytes"], 4_096, "{text}");
        assert_eq!(v["watt_scp_pending_fetches"], 8, "{text}");
        assert_eq!(v["watt_scp_parked_envelopes"], 12, "{text}");

        // Later changes show at the next scrape, once (no delta is carried between scrapes).
        stats.envelopes_in.fetch_add(3, Relaxed);
        stats.syncing.store(false, Relaxed);
        let (text, v) = scrape(&metrics);
        assert_eq!(v["watt_scp_envelopes_total{direction=\"in\"}"], 20, "{text}");
        assert_eq!(v["watt_syncing"], 0, "{text}");
        let (text, v) = scrape(&metrics);
        assert_eq!(v["watt_scp_envelopes_total{direction=\"in\"}"], 20, "{text}");
    }

    async fn get(addr: SocketAddr, request: &str) -> String {
        let mut sock = tokio::net::TcpStream::connect(addr).await.expect("connect");
        sock.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        tokio::time::timeout(Duration::from_secs(10), sock.read_to_string(&mut response))
            .await
            .expect("an answer in time")
            .expect("read the answer");
        response
    }

    #[tokio::test]
    async fn serves_metrics_only_at_the_metrics_path() {
        let dir = tempfile::tempdir().unwrap();
        let listener = bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(serve(listener, MetricsSources::dev(open_dev_chain(dir.path()))));

        let ok = get(addr, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").await;
        let (head, body) = ok.split_once("\r\n\r\n").expect("a head and a body");
        assert!(head.starts_with("HTTP/1.1 200 OK\r\n"), "{ok}");
        assert!(head.contains(&format!("Content-Type: {CONTENT_TYPE}\r\n")), "{ok}");
        assert!(head.contains(&format!("Content-Length: {}\r\n", body.len())), "{ok}");
        assert!(body.contains("\nwatt_block_height{status=\"best\"} 0\n"), "{ok}");
        assert!(body.ends_with("# EOF\n"), "{ok}");

        for request in [
            "GET / HTTP/1.1\r\n\r\n",
            "GET /metricsx HTTP/1.1\r\n\r\n",
            "GET /other/metrics HTTP/1.1\r\n\r\n",
            "POST /metrics HTTP/1.1\r\n\r\n",
        ] {
            let response = get(addr, request).await;
            assert!(
                response.starts_with("HTTP/1.1 404 Not Found\r\n"),
                "{request:?}: {response}"
            );
        }
        server.abort();
    }
}
