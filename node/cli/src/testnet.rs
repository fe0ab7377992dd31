//! `watt testnet` (N validators on loopback as child processes) and `watt chain-spec
//! --validators N` (a spec and validator keys for real hosts).
//!
//! Both specs are test networks built on the dev chain's accounts: //Alice .. //Ferdie are
//! funded, //Alice is the identity registrar and the sudo key (Root until governance lands),
//! //Ferdie receives the team reserve. The validators are the SCP validators named in the spec,
//! each funded with its genesis pledge of the validator minimum plus [`VALIDATOR_SPENDING`] for
//! fees, and pledged at genesis so they earn the validator share from the first day.

use crate::p2p::{node_key_path, NodeKey};
use anyhow::{bail, Context, Result};
use clap::Args;
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use watt_chain::spec::{quorum_set_json, ConsensusSpec, ValidatorSpec};
use watt_chain::ChainSpec;
use watt_primitives::{AccountId, Balance, BlockNumber, UNIT};
use watt_scp::QuorumSet;

/// What a validator holds at genesis beyond its pledge: enough for fees.
pub const VALIDATOR_SPENDING: Balance = 1_000 * UNIT;

#[derive(Args, Debug)]
pub struct TestnetArgs {
    /// Number of validators.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    validators: u32,
    /// Directory for the spec, the nodes' data and testnet.json (reused: keys and databases
    /// found there are kept, so a testnet can be stopped and started again).
    #[arg(long, value_name = "DIR")]
    base_path: PathBuf,
    /// RPC port of the first validator; validator i listens on P+i.
    #[arg(long, value_name = "P", default_value_t = 9944)]
    rpc_port_base: u16,
    /// Peer-to-peer port of the first validator (i on Q+i); default: free ports.
    #[arg(long, value_name = "Q")]
    p2p_port_base: Option<u16>,
    /// Seconds after which validators propose an empty block when nothing happened.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    empty_block_interval: u64,
    /// Blocks per economy day (default 17280).
    #[arg(long, value_name = "N", value_parser = crate::parse_day_blocks)]
    day_blocks: Option<u64>,
}

#[derive(Args, Debug)]
pub struct ValidatorSpecArgs {
    /// Write a spec for N validators (with --output-dir) instead of printing the dev spec.
    #[arg(long, value_name = "N", requires = "output_dir", value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub validators: Option<u32>,
    /// Where the spec (chain-spec.json) and each validator's key (validatorI/node-key) go.
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
    /// Host (IP or DNS name, optionally :PORT, default port 30333) of validator I, in order
    /// (repeat per validator): makes the spec's bootNodes. Without hosts the spec has none and
    /// each node is given --bootnodes.
    #[arg(long = "host", value_name = "HOST[:PORT]")]
    pub hosts: Vec<String>,
}

/// The threshold that tolerates the most faults: n - floor((n-1)/3) (3 of 4, 5 of 7...).
pub fn bft_threshold(n: usize) -> u32 {
    (n - (n.saturating_sub(1)) / 3) as u32
}

/// A spec of the dev chain's accounts and parameters, finalized by these validators, which are
/// also the economy's validators, funded and pledged at genesis (see the module docs).
fn validator_spec(
    name: &str,
    id: &str,
    validators: &[(String, NodeKey)],
    boot_nodes: Vec<String>,
    day_blocks: Option<BlockNumber>,
) -> Result<ChainSpec> {
    let accounts: Vec<AccountId> = watt_client::dev_accounts().iter().map(|(_, k)| k.account()).collect();
    let day_blocks = day_blocks.unwrap_or(watt_chain::spec::DEV_DAY_BLOCKS);
    let mut spec = ChainSpec::dev_with_day_blocks(&accounts, watt_runtime_blob::WASM_BINARY, day_blocks);
    spec.name = name.into();
    spec.id = id.into();
    let ids: Vec<AccountId> = validators.iter().map(|(_, k)| k.validator_id()).collect();
    let economy = &mut spec.genesis.economy;
    let params = economy.params.to_params()?;
    let pledge = Balance::from(params.min_validator_units)
        .checked_mul(params.watt_per_unit)
        .and_then(|p| p.checked_add(VALIDATOR_SPENDING))
        .context("the validator minimum pledge overflows")?;
    economy.validators = ids.clone();
    economy.pledges = ids.iter().map(|v| (*v, params.min_validator_units)).collect();
    spec.genesis
        .balances
        .extend(ids.iter().map(|v| (*v, pledge.to_string())));
    let qset = QuorumSet::flat(bft_threshold(ids.len()), ids);
    spec.consensus = Some(ConsensusSpec {
        validators: validators
            .iter()
            .map(|(n, k)| ValidatorSpec {
                name: n.clone(),
                id: k.validator_id(),
            })
            .collect(),
        quorum_set: quorum_set_json(&qset),
        boot_nodes,
    });
    // The checks a node makes when it loads the spec, made before anything is written.
    spec.genesis_config()?;
    Ok(spec)
}

fn write_json(path: &Path, value: &impl serde::Serialize) -> Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, text).with_context(|| format!("write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("write {}", path.display()))?;
    Ok(())
}

/// `watt chain-spec --validators N --output-dir DIR [--day-blocks D]`.
pub fn chain_spec(args: &ValidatorSpecArgs, day_blocks: Option<BlockNumber>) -> Result<()> {
    let (Some(n), Some(dir)) = (args.validators, &args.output_dir) else {
        bail!("--validators N needs --output-dir DIR");
    };
    if !args.hosts.is_empty() && args.hosts.len() != n as usize {
        bail!(
            "{} --host given for {n} validators: give one per validator, in order",
            args.hosts.len()
        );
    }
    let mut validators = vec![];
    for i in 0..n {
        let name = format!("validator{i}");
        let key = NodeKey::load_or_create(&node_key_path(&dir.join(&name)))?;
        validators.push((name, key));
    }
    let boot_nodes = args
        .hosts
        .iter()
        .zip(&validators)
        .map(|(h, (_, k))| {
            let (host, port) = match h.rsplit_once(':') {
                Some((host, port)) => (host, port.parse::<u16>().with_context(|| format!("port in `{h}`"))?),
                None => (h.as_str(), 30333),
            };
            let proto = if host.parse::<std::net::IpAddr>().is_ok() {
                "ip4"
            } else {
                "dns4"
            };
            Ok(format!("/{proto}/{host}/tcp/{port}/p2p/{}", k.peer_id()))
        })
        .collect::<Result<Vec<_>>>()?;
    let spec = validator_spec("Watt Network", "watt", &validators, boot_nodes, day_blocks)?;
    let path = dir.join("chain-spec.json");
    write_json(&path, &spec)?;
    say!(
        "wrote {} for {n} validators (quorum: {} of {n})",
        path.display(),
        bft_threshold(n as usize)
    );
    for (name, key) in &validators {
        say!(
            "{name}: key {}  validator id {}  peer id {}",
            node_key_path(&dir.join(name)).display(),
            key.validator_id(),
            key.peer_id()
        );
    }
    Ok(())
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("find a free port")?;
    Ok(l.local_addr()?.port())
}

struct Running {
    name: String,
    child: Child,
    exited: bool,
}

/// `watt testnet`.
pub fn run(args: TestnetArgs) -> Result<()> {
    let n = args.validators as usize;
    let dir = &args.base_path;
    std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolve {}", dir.display()))?;
    let exe = std::env::current_exe().context("find the watt binary")?;
    let mut validators = vec![];
    let mut p2p_ports = vec![];
    for i in 0..n {
        let name = format!("node{i}");
        let key = NodeKey::load_or_create(&node_key_path(&dir.join(&name)))?;
        validators.push((name, key));
        p2p_ports.push(match args.p2p_port_base {
            Some(q) => q.checked_add(i as u16).context("p2p port out of range")?,
            None => free_port()?,
        });
    }
    let boot_nodes: Vec<String> = validators
        .iter()
        .zip(&p2p_ports)
        .map(|((_, k), port)| format!("/ip4/127.0.0.1/tcp/{port}/p2p/{}", k.peer_id()))
        .collect();
    let spec = validator_spec(
        "Watt Local Testnet",
        "local_testnet",
        &validators,
        boot_nodes.clone(),
        args.day_blocks,
    )?;
    let spec_path = dir.join("chain-spec.json");
    write_json(&spec_path, &spec)?;

    let mut running = vec![];
    let mut described = vec![];
    for (i, (name, key)) in validators.iter().enumerate() {
        let rpc_port = args
            .rpc_port_base
            .checked_add(i as u16)
            .context("RPC port out of range")?;
        let base = dir.join(name);
        let command: Vec<String> = vec![
            exe.display().to_string(),
            "node".into(),
            "--chain".into(),
            spec_path.display().to_string(),
            "--base-path".into(),
            base.display().to_string(),
            "--validator".into(),
            "--name".into(),
            name.clone(),
            "--rpc-port".into(),
            rpc_port.to_string(),
            "--listen-addr".into(),
            format!("/ip4/127.0.0.1/tcp/{}", p2p_ports[i]),
            "--prometheus-port".into(),
            "0".into(),
            "--empty-block-interval".into(),
            args.empty_block_interval.to_string(),
        ];
        let log_path = base.join("node.log");
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("open {}", log_path.display()))?;
        let child = Command::new(&command[0])
            .args(&command[1..])
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("start {name}"))?;
        described.push(json!({
            "name": name,
            "pid": child.id(),
            "rpc": format!("http://127.0.0.1:{rpc_port}"),
            "p2p": boot_nodes[i],
            "validator_id": key.validator_id().to_ss58(),
            "base_path": base.display().to_string(),
            "log": log_path.display().to_string(),
            "command": command,
        }));
        running.push(Running {
            name: name.clone(),
            child,
            exited: false,
        });
    }
    let manifest = dir.join("testnet.json");
    write_json(
        &manifest,
        &json!({ "chain_spec": spec_path.display().to_string(), "nodes": described }),
    )?;
    say!(
        "testnet of {n} validators (quorum {} of {n}) started; {} describes them (RPC from http://127.0.0.1:{}); Ctrl-C stops them",
        bft_threshold(n),
        manifest.display(),
        args.rpc_port_base
    );

    let stop = signal_flag()?;
    while !stop.load(std::sync::atomic::Ordering::SeqCst) {
        for r in running.iter_mut().filter(|r| !r.exited) {
            if let Ok(Some(status)) = r.child.try_wait() {
                r.exited = true;
                eprintln!("{} exited ({status}); not restarting it", r.name);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    say!("stopping the testnet");
    for r in running.iter_mut().filter(|r| !r.exited) {
        terminate(&r.child);
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    for r in running.iter_mut().filter(|r| !r.exited) {
        loop {
            match r.child.try_wait() {
                Ok(Some(_)) => break,
                _ if Instant::now() >= deadline => {
                    let _ = r.child.kill();
                    let _ = r.child.wait();
                    break;
                }
                _ => std::thread::sleep(Duration::from_millis(100)),
            }
        }
    }
    Ok(())
}

/// Asks a child to stop cleanly (SIGTERM, through kill(1): no unsafe code for a signal).
fn terminate(child: &Child) {
    let _ = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// A flag set by SIGINT or SIGTERM (watched by a small tokio runtime on its own thread).
fn signal_flag() -> Result<std::sync::Arc<std::sync::atomic::AtomicBool>> {
    let flag = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the signal watcher")?;
    let set = flag.clone();
    std::thread::spawn(move || {
        rt.block_on(crate::node::shutdown_signal());
        set.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    Ok(flag)
}
