//! `watt node`: open the chain, serve JSON-RPC, run the consensus engine until Ctrl-C/SIGTERM.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;
use watt_chain::{Chain, ChainConfig, ChainSpec};
use watt_consensus::{ConsensusEngine, DevEngine, DevEngineConfig};
use watt_primitives::AccountId;
use watt_rpc::RpcConfig;
use watt_txpool::PoolConfig;

// The chain spec bounds `maxBlockBytes` by the wire's transaction-set limit without seeing the
// wire (the spec crate stays free of the node's networking). The two are tied here, where both
// are known: a change to either that would let validators agree on a set they cannot send
// fails the build.
const _: () = assert!(watt_chain::spec::WIRE_MAX_TX_SET_BYTES as usize == watt_consensus::scp::wire::MAX_TX_SET_BYTES);

#[derive(Args, Debug)]
pub struct NodeArgs {
    /// Development mode: the dev engine (a block as soon as transactions wait), the dev chain
    /// spec unless --chain is given, and a temporary database unless --base-path is given.
    #[arg(long)]
    dev: bool,
    /// Keep the database in a temporary directory that is deleted on exit.
    #[arg(long, conflicts_with = "base_path")]
    tmp: bool,
    /// Directory of the node's data (the database lives in <base-path>/chains/<chain id>/db).
    #[arg(long, short = 'd', value_name = "DIR")]
    base_path: Option<PathBuf>,
    /// Chain spec file (see `watt chain-spec`).
    #[arg(long, value_name = "SPEC.json")]
    chain: Option<PathBuf>,
    /// JSON-RPC port (HTTP and WebSocket on the same port); 0 picks a free port, and the bound
    /// address is logged as "JSON-RPC (HTTP and WebSocket) listening on ADDR".
    #[arg(long, default_value_t = 9944)]
    rpc_port: u16,
    /// JSON-RPC listening address; the default serves only this machine.
    #[arg(long, default_value = "127.0.0.1")]
    rpc_addr: IpAddr,
    /// Most concurrent RPC connections.
    #[arg(long, default_value_t = 100)]
    rpc_max_connections: u32,
    /// Largest RPC request body in bytes; larger requests are refused.
    #[arg(long, default_value_t = 1 << 20)]
    rpc_max_request_size: u32,
    /// Also seal a block every MS milliseconds, even when no transaction waits.
    #[arg(long, value_name = "MS")]
    seal_interval: Option<u64>,
    /// Most transactions waiting in the pool.
    #[arg(long, default_value_t = 100_000)]
    pool_limit: usize,
    /// Most transactions waiting in the pool from one sender (more are refused with 1012).
    #[arg(long, default_value_t = 1_000, value_parser = clap::value_parser!(u64).range(1..))]
    pool_sender_limit: u64,
    /// Seconds a transaction may wait in the pool before it is dropped.
    #[arg(long, value_name = "SECONDS", default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..))]
    pool_lifetime: u64,
    /// Most transactions in a block this node proposes or builds: a local cap, applied within the
    /// chain spec's `maxBlockTransactions` (the lower of the two wins). It never decides whether
    /// a block or another validator's proposal is valid; the chain spec's limit alone does.
    #[arg(long, default_value_t = 20_000)]
    max_block_txs: usize,
    /// State history to keep: `archive` (every block's state, for historic queries and proofs)
    /// or N, the state of the last N blocks (older state reads and proofs are refused with a
    /// "pruned" error; blocks and receipts are always kept). Fixed when the database is created,
    /// except that N may change later.
    #[arg(long, value_name = "archive|N", default_value = "256", value_parser = parse_pruning)]
    state_pruning: watt_store::StatePruning,
    /// Runtime instances that may run at once (block building, validation, RPC queries); further
    /// callers wait for one. Two are kept for block building.
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u32).range(3..=1024))]
    runtime_instances: u32,
    /// rocksdb block cache in MiB (shared by all columns).
    #[arg(long, value_name = "MiB", default_value_t = 256)]
    db_cache: usize,
    /// Execute this wasm file instead of the on-chain runtime (for debugging a runtime). Refused
    /// with --validator on an SCP chain: a validator votes only on the chain's own runtime.
    #[arg(long, value_name = "FILE.wasm")]
    runtime_override: Option<PathBuf>,
    /// Prometheus metrics port (`/metrics` on the RPC address); 0 picks a free port, and the
    /// bound address is logged as "Prometheus metrics on http://ADDR/metrics".
    #[arg(long, default_value_t = 9615)]
    prometheus_port: u16,
    /// Do not serve Prometheus metrics.
    #[arg(long)]
    no_prometheus: bool,
    /// Node name reported by `system_name`.
    #[arg(long, default_value = "watt-node")]
    name: String,
    /// Take part in SCP as a validator, signing with the key derived from the node key (its
    /// validator id must be in the quorum sets of the others; `watt key node-id` shows it).
    /// Without it, a node of an SCP chain follows: it verifies every certificate, never votes.
    #[arg(long)]
    validator: bool,
    /// The node key file (default: <base-path>/node-key, generated on first start).
    #[arg(long, value_name = "FILE")]
    node_key_file: Option<PathBuf>,
    /// TCP port for peer-to-peer connections (all interfaces unless --listen-addr is given).
    #[arg(long, default_value_t = 30333)]
    p2p_port: u16,
    /// Peer-to-peer listening multiaddress (repeatable), e.g. /ip4/0.0.0.0/tcp/30333.
    #[arg(long, value_name = "MULTIADDR")]
    listen_addr: Vec<String>,
    /// Peers to dial first, as /ip4/HOST/tcp/PORT/p2p/PEER_ID (repeatable; added to the
    /// chain spec's bootNodes).
    #[arg(long, value_name = "MULTIADDR")]
    bootnodes: Vec<String>,
    /// This node's quorum set, stellar-core JSON with SS58 validator ids ({"t": 3, "v": [...]});
    /// default: the chain spec's.
    #[arg(long, value_name = "FILE.json")]
    quorum_set: Option<PathBuf>,
    /// Seconds after which a validator proposes an empty block when nothing happened.
    #[arg(long, value_name = "SECONDS", default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..))]
    empty_block_interval: u64,
}

fn parse_pruning(s: &str) -> Result<watt_store::StatePruning, String> {
    watt_store::StatePruning::parse(s)
}

fn dev_accounts() -> Vec<AccountId> {
    watt_client::dev_accounts().iter().map(|(_, k)| k.account()).collect()
}

pub fn run(args: NodeArgs) -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let spec = match &args.chain {
        Some(path) => ChainSpec::from_file(path)?,
        None if args.dev => ChainSpec::dev(&dev_accounts(), watt_runtime_blob::WASM_BINARY),
        None => bail!("say which chain: --chain SPEC.json (see `watt chain-spec --validators N`), or --dev"),
    };
    let scp_spec = match (&spec.consensus, args.dev) {
        (_, true) => None,
        (Some(c), false) => Some(c.clone()),
        (None, false) => bail!(
            "chain spec `{}` has no `consensus` section, so only the single-node dev engine can run it: add --dev, or write a spec with `watt chain-spec --validators N`",
            spec.id
        ),
    };
    // A validator votes on what the chain's own runtime computes: one running other code would
    // compute other state roots and split from its quorum (issue 17, item 8). Only followers
    // and dev chains may run an override.
    if args.runtime_override.is_some() && args.validator && scp_spec.is_some() {
        bail!(
            "--runtime-override cannot be used with --validator: a validator must execute the chain's own runtime \
             (blocks it votes for would differ from its quorum's). Run the override on a follower (without --validator) or a --dev chain."
        );
    }
    // A --tmp directory lives until this function returns.
    let mut _tmp_guard = None;
    let base = match (&args.base_path, args.tmp || args.base_path.is_none()) {
        (Some(p), false) => p.clone(),
        _ => {
            let t = tempfile::Builder::new()
                .prefix("watt-")
                .tempdir()
                .context("create a temporary directory")?;
            let p = t.path().to_path_buf();
            _tmp_guard = Some(t);
            p
        }
    };
    let db_path = base.join("chains").join(&spec.id).join("db");
    std::fs::create_dir_all(&db_path).with_context(|| format!("create {}", db_path.display()))?;
    tracing::info!(
        "Watt node {} — chain \"{}\" ({}), database {}",
        env!("CARGO_PKG_VERSION"),
        spec.name,
        spec.id,
        db_path.display()
    );

    // Compiled contracts survive restarts here, so a restarted node does not compile every
    // contract again (an unusable file is compiled anew; see watt_executor::contract_engine).
    let contracts_cache = base.join("chains").join(&spec.id).join("contracts-cache");
    let contracts_cache = match std::fs::create_dir_all(&contracts_cache) {
        Ok(()) => Some(contracts_cache),
        Err(e) => {
            tracing::warn!(
                "no on-disk cache of compiled contracts ({}: {e})",
                contracts_cache.display()
            );
            None
        }
    };

    let code_override = match &args.runtime_override {
        Some(p) => Some(std::fs::read(p).with_context(|| format!("read runtime override {}", p.display()))?),
        None => None,
    };
    let config = ChainConfig {
        author: block_author(&args, &base)?,
        pool: PoolConfig {
            max_count: args.pool_limit,
            max_per_sender: usize::try_from(args.pool_sender_limit).unwrap_or(usize::MAX),
            lifetime: std::time::Duration::from_secs(args.pool_lifetime),
            ..PoolConfig::default()
        },
        max_block_txs: args.max_block_txs,
        executor: watt_executor::ExecutorConfig {
            max_concurrent_instances: args.runtime_instances,
            contracts: watt_executor::ContractEngineConfig {
                cache_dir: contracts_cache,
                ..Default::default()
            },
            ..Default::default()
        },
        store: watt_store::StoreConfig {
            pruning: args.state_pruning,
            cache_bytes: args.db_cache.saturating_mul(1 << 20),
        },
        code_override,
        ..ChainConfig::default()
    };
    let chain = Chain::open(&db_path, &spec, config).context("open the chain")?;
    tracing::info!("state pruning: keeping {}", args.state_pruning);
    tracing::info!("genesis 0x{}", hex::encode(chain.genesis_hash()));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("start tokio")?;
    runtime.block_on(async move {
        let rpc_config = RpcConfig {
            addr: SocketAddr::new(args.rpc_addr, args.rpc_port),
            max_request_bytes: args.rpc_max_request_size,
            max_connections: args.rpc_max_connections,
            ..RpcConfig::default()
        };
        let (engine, network_info, metrics_sources): (Box<dyn ConsensusEngine>, _, _) = match &scp_spec {
            None => (
                Box::new(DevEngine::new(
                    chain.clone(),
                    DevEngineConfig {
                        seal_interval: args.seal_interval.map(Duration::from_millis),
                    },
                )),
                None,
                crate::metrics::MetricsSources::dev(chain.clone()),
            ),
            Some(consensus) => {
                let (engine, info, sources) = scp_engine(&args, &base, consensus, chain.clone()).await?;
                (engine, Some(info), sources)
            }
        };
        let server = watt_rpc::start(&rpc_config, chain.clone(), args.name.clone(), network_info).await?;
        if !args.no_prometheus {
            let addr = SocketAddr::new(args.rpc_addr, args.prometheus_port);
            let listener = crate::metrics::bind(addr).await?;
            // The bound address (the real port when 0 was asked); tests/ parses this line.
            tracing::info!("Prometheus metrics on http://{}/metrics", listener.local_addr()?);
            tokio::spawn(crate::metrics::serve(listener, metrics_sources));
        }
        tracing::info!("consensus engine: {}", engine.name());
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let engine_task = tokio::spawn(engine.run(Box::pin(async move {
            let _ = stop_rx.await;
        })));
        shutdown_signal().await;
        tracing::info!("shutting down");
        let _ = stop_tx.send(());
        let _ = server.handle.stop();
        match engine_task.await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::error!("consensus engine: {e}"),
            Err(e) => tracing::error!("consensus task: {e}"),
        }
        server.handle.stopped().await;
        anyhow::Ok(())
    })
}

/// The author of blocks this node builds from its own pool (the dev engine's): `//Alice` with
/// `--dev`, the validator id with `--validator`, else nobody (the zero account). An SCP node's
/// agreed blocks are authored by their value's proposer, which is its validator id when it
/// proposed the chosen set.
fn block_author(args: &NodeArgs, base: &std::path::Path) -> Result<AccountId> {
    if args.dev {
        return Ok(watt_client::Keypair::from_suri("//Alice")
            .map_err(|e| anyhow::anyhow!("derive the dev key //Alice: {e}"))?
            .account());
    }
    if args.validator {
        use crate::p2p::{node_key_path, NodeKey};
        let key_path = args.node_key_file.clone().unwrap_or_else(|| node_key_path(base));
        return Ok(NodeKey::load_or_create(&key_path)?.validator_id());
    }
    Ok(AccountId([0; 32]))
}

/// Starts the network and builds the SCP engine (validator or follower), with what the RPC
/// server and the metrics read from them.
async fn scp_engine(
    args: &NodeArgs,
    base: &std::path::Path,
    consensus: &watt_chain::spec::ConsensusSpec,
    chain: std::sync::Arc<Chain>,
) -> Result<(
    Box<dyn ConsensusEngine>,
    std::sync::Arc<dyn watt_rpc::NetworkStatus>,
    crate::metrics::MetricsSources,
)> {
    use crate::p2p::{multiaddrs, node_key_path, NodeKey};
    let key_path = args.node_key_file.clone().unwrap_or_else(|| node_key_path(base));
    let key = NodeKey::load_or_create(&key_path)?;
    let quorum_set = match &args.quorum_set {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("read {}", path.display()))?;
            let json: watt_scp::quorum::QuorumSetJson =
                serde_json::from_str(&text).with_context(|| format!("{} is not a quorum set", path.display()))?;
            watt_chain::spec::parse_quorum_set(&json)?
        }
        None => consensus.quorum_set()?,
    };
    let validator_id = key.validator_id();
    if args.validator && !quorum_set.all_validators().contains(&validator_id) {
        tracing::warn!(
            "this validator ({validator_id}) is not in its own quorum set; others will not count its votes unless they trust it"
        );
    }
    let listen = if args.listen_addr.is_empty() {
        vec![format!("/ip4/0.0.0.0/tcp/{}", args.p2p_port)]
    } else {
        args.listen_addr.clone()
    };
    let mut bootnodes = multiaddrs(&consensus.boot_nodes, "boot node")?;
    bootnodes.extend(multiaddrs(&args.bootnodes, "--bootnodes")?);
    let own = key.peer_id();
    // A spec lists every validator; a node does not dial itself.
    bootnodes.retain(|a| !a.to_string().ends_with(&format!("/p2p/{own}")));
    // The spec's boot nodes are its validators (`watt chain-spec --validators N` writes one per
    // validator): their connections are reserved, so that strangers filling every slot cannot
    // cut a validator off from its quorum (issue 17, item 7).
    let reserved_peers: Vec<watt_network::PeerId> = bootnodes
        .iter()
        .filter_map(|a| a.to_string().rsplit_once("/p2p/").and_then(|(_, id)| id.parse().ok()))
        .collect();
    let config = watt_network::NetworkConfig {
        secret_seed: *key.seed(),
        listen: multiaddrs(&listen, "--listen-addr")?,
        bootnodes,
        reserved_peers,
        genesis_hash: chain.genesis_hash(),
        agent: format!("watt/{}", env!("CARGO_PKG_VERSION")),
        ..watt_network::NetworkConfig::default()
    };
    let (handle, events) = watt_network::start(config).await.context("start the network")?;
    for a in handle.listen_addresses() {
        tracing::info!("peer-to-peer listening on {a}/p2p/{own}");
    }
    let engine_config = watt_consensus::ScpEngineConfig {
        empty_block_interval: Duration::from_secs(args.empty_block_interval),
        ..watt_consensus::ScpEngineConfig::new(args.validator.then(|| key.validator_pair()), quorum_set)
    };
    if args.validator {
        tracing::info!("SCP validator {validator_id}");
    } else {
        tracing::info!("SCP follower: verifying what the validators finalize");
    }
    let engine = watt_consensus::ScpEngine::new(chain.clone(), handle.clone(), events, engine_config);
    let stats = engine.stats();
    let metrics = crate::metrics::MetricsSources {
        chain,
        scp: Some(stats.clone()),
        network: Some(handle.clone()),
    };
    let info = crate::p2p::NetworkInfo {
        handle,
        syncing: std::sync::Arc::new(move || stats.syncing.load(std::sync::atomic::Ordering::Relaxed)),
    };
    Ok((Box::new(engine), std::sync::Arc::new(info), metrics))
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
