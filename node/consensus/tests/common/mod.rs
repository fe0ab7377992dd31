//! Shared setup of the in-process SCP network tests: validators (each with its own chain in
//! rocksdb and its own libp2p network on loopback), a monitor of finality gaps, a steady
//! trickle of honest transfers, and outsider peers that speak the real protocol (noise,
//! yamux, gossipsub, request-response) but run no engine.
//!
//! A [`Testnet`] can instead join its validators and outsiders over the simulated network of
//! `watt_network::sim` ([`Testnet::start_simulated`]); run such a test with tokio's clock
//! paused (`#[tokio::test(start_paused = true)]`) and every wait, timer, monitor and trickle
//! here is in virtual time (all of them use `tokio::time::Instant`).

#![allow(dead_code)] // each test binary uses its own part of this module

pub mod log;

use parity_scale_codec::Encode;
use sp_core::{sr25519, Pair};
use std::collections::HashSet;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::time::Instant;
use tracing::Instrument;
use watt_chain::test_utils::{dev_spec, keyring, transfer_bytes};
use watt_chain::{Chain, ChainConfig};
use watt_consensus::scp::wire::{self, Request, Response, Status, WattEnvelope};
use watt_consensus::scp::{quorum_set_hash, WallClock};
use watt_consensus::{ConsensusEngine, ConsensusError, ScpEngine, ScpEngineConfig, ScpStats};
use watt_network::sim::{SimConfig, SimNetwork};
use watt_network::{Multiaddr, NetworkConfig, NetworkEvent, NetworkHandle, PeerId, Topic, Validation};
use watt_primitives::{blake2_256, AccountId, ConsensusValue, Hash, UNIT};
use watt_scp::slot::Statement;
use watt_scp::QuorumSet;

/// The network seed (libp2p identity) of validator `i`.
pub fn seed(i: usize) -> [u8; 32] {
    [i as u8 + 1; 32]
}

/// The SCP signing key of validator `i`.
pub fn pair(i: usize) -> sr25519::Pair {
    sr25519::Pair::from_seed(&[i as u8 + 100; 32])
}

/// The account of validator `i`.
pub fn validator_account(i: usize) -> AccountId {
    AccountId::from(pair(i).public().0)
}

/// Every validator's quorum set: 3 of the `n` validators (`n` = 4 in these tests).
pub fn qset(n: usize) -> QuorumSet<AccountId> {
    QuorumSet::flat(3, (0..n).map(validator_account).collect())
}

/// A TCP port free right now on loopback.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `/ip4/127.0.0.1/tcp/<port>/p2p/<peer id of seed>`.
pub fn address(port: u16, seed: &[u8; 32]) -> Multiaddr {
    format!(
        "/ip4/127.0.0.1/tcp/{port}/p2p/{}",
        watt_network::peer_id_from_seed(seed)
    )
    .parse()
    .unwrap()
}

/// The local clock in milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Waits until `ok()` holds, polling every 50 ms; panics naming `what` after `timeout`.
pub async fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Unpredictable 32-byte strings (blake2 of a seed taken from the clock and a counter): fresh
/// identities, keys and hashes for attackers. Not cryptographic, and needs no `rand`.
pub struct Rng {
    seed: [u8; 32],
    counter: u64,
}

impl Rng {
    /// Seeded from the clock, the process id and a process-wide counter.
    pub fn new() -> Self {
        static CALLS: AtomicU64 = AtomicU64::new(0);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let seed = blake2_256(&(nanos, std::process::id(), CALLS.fetch_add(1, Relaxed)).encode());
        Rng { seed, counter: 0 }
    }

    /// 32 fresh bytes.
    pub fn bytes32(&mut self) -> [u8; 32] {
        self.counter += 1;
        blake2_256(&(self.seed, self.counter).encode())
    }

    /// A fresh sr25519 key.
    pub fn pair(&mut self) -> sr25519::Pair {
        sr25519::Pair::from_seed(&self.bytes32())
    }
}

// ---------------------------------------------------------------------------------------------
// Validators
// ---------------------------------------------------------------------------------------------

/// A running validator: its chain, its engine's counters and a way to stop it.
pub struct Validator {
    pub index: usize,
    pub chain: Arc<Chain>,
    pub stats: Arc<ScpStats>,
    pub network: NetworkHandle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), ConsensusError>>>,
}

impl Validator {
    /// Stops the engine and waits until its task (and with it the engine's hold on the chain
    /// and the network) is gone.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            match tokio::time::timeout(Duration::from_secs(10), task).await {
                Ok(Ok(Ok(()))) => {}
                Ok(Ok(Err(e))) => panic!("validator {} stopped with an error: {e}", self.index),
                Ok(Err(e)) => panic!("validator {}'s task failed: {e}", self.index),
                Err(_) => panic!("validator {} did not stop within 10 s", self.index),
            }
        }
    }
}

/// Opens the dev chain at `path`, retrying while a previous instance still holds the database.
pub async fn open_chain(path: &Path) -> Arc<Chain> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match Chain::open(path, &dev_spec(), ChainConfig::default()) {
            Ok(c) => return c,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!("chain at {} not yet free: {e}", path.display());
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot open the chain at {}: {e}", path.display()),
        }
    }
}

/// Starts a libp2p node, retrying while the listen port is still held by a node that is
/// shutting down.
pub async fn start_network(config: NetworkConfig) -> (NetworkHandle, tokio::sync::mpsc::Receiver<NetworkEvent>) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        match watt_network::start(config.clone()).await {
            Ok(n) => return n,
            Err(e) if Instant::now() < deadline => {
                tracing::debug!("network not started yet: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("cannot start the network on {:?}: {e}", config.listen),
        }
    }
}

/// Starts an SCP engine (a validator if `key` is given, else a follower) on the chain at
/// `dir`, listening on `ports[i]` with identity `seed(i)` and the other ports as bootnodes.
pub async fn start_node(i: usize, ports: &[u16], dir: &Path, key: Option<sr25519::Pair>) -> Validator {
    start_engine(i, ports, open_chain(dir).await, key).await
}

/// [`start_node`] on a chain already open (a test may pool transactions before the engine
/// starts).
pub async fn start_engine(i: usize, ports: &[u16], chain: Arc<Chain>, key: Option<sr25519::Pair>) -> Validator {
    let bootnodes = ports
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(j, p)| address(*p, &seed(j)))
        .collect();
    let (network, events) = start_network(NetworkConfig {
        secret_seed: seed(i),
        listen: vec![format!("/ip4/127.0.0.1/tcp/{}", ports[i]).parse().unwrap()],
        bootnodes,
        genesis_hash: chain.genesis_hash(),
        ..NetworkConfig::default()
    })
    .await;
    spawn_engine(i, chain, key, network, events, WallClock::System)
}

/// Runs validator `i`'s engine (a follower without `key`) on `chain` over `network`, reading
/// the time of day from `clock`.
pub fn spawn_engine(
    i: usize,
    chain: Arc<Chain>,
    key: Option<sr25519::Pair>,
    network: NetworkHandle,
    events: tokio::sync::mpsc::Receiver<NetworkEvent>,
    clock: WallClock,
) -> Validator {
    let engine_config = ScpEngineConfig {
        empty_block_interval: Duration::from_secs(2),
        clock,
        ..ScpEngineConfig::new(key, qset(4))
    };
    let engine = Box::new(ScpEngine::new(chain.clone(), network.clone(), events, engine_config));
    let stats = engine.stats();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let span = tracing::span!(target: "watt_consensus", tracing::Level::ERROR, "v", n = i);
    let task = tokio::spawn(
        engine
            .run(Box::pin(async move {
                let _ = stopped.await;
            }))
            .instrument(span),
    );
    Validator {
        index: i,
        chain,
        stats,
        network,
        stop: Some(stop),
        task: Some(task),
    }
}

/// `n` validators with quorum set 3-of-4, each on its own data directory, which outlives
/// restarts.
pub struct Testnet {
    pub genesis: Hash,
    pub ports: Vec<u16>,
    dirs: Vec<tempfile::TempDir>,
    pub validators: Vec<Validator>,
    /// The simulated network the nodes are joined by, if not libp2p.
    pub sim: Option<SimNetwork>,
    /// The validators' time of day: virtual on a simulated network.
    clock: WallClock,
}

impl Testnet {
    /// Starts validators `0..n` (of a quorum set of 4) on libp2p.
    pub async fn start(n: usize) -> Self {
        Self::start_on(n, None).await
    }

    /// Starts validators `0..n` (of a quorum set of 4) on a simulated network of `config`.
    pub async fn start_simulated(n: usize, config: SimConfig) -> Self {
        Self::start_on(n, Some(SimNetwork::start(config))).await
    }

    async fn start_on(n: usize, sim: Option<SimNetwork>) -> Self {
        log::init();
        let ports: Vec<u16> = (0..n).map(|_| if sim.is_some() { 0 } else { free_port() }).collect();
        let dirs: Vec<tempfile::TempDir> = (0..n).map(|_| tempfile::tempdir().unwrap()).collect();
        let mut net = Testnet {
            genesis: [0; 32],
            ports,
            dirs,
            clock: if sim.is_some() {
                WallClock::virtual_from_now()
            } else {
                WallClock::System
            },
            validators: vec![],
            sim,
        };
        for i in 0..n {
            let v = net.start_validator(i).await;
            net.validators.push(v);
        }
        net.genesis = net.validators[0].chain.genesis_hash();
        net
    }

    /// Starts validator `i` on its data directory, identity and port (or simulated link).
    async fn start_validator(&self, i: usize) -> Validator {
        let dir = self.dirs[i].path();
        match &self.sim {
            None => start_node(i, &self.ports, dir, Some(pair(i))).await,
            Some(sim) => {
                let chain = open_chain(dir).await;
                let (network, events) = sim.add_node(&NetworkConfig {
                    secret_seed: seed(i),
                    genesis_hash: chain.genesis_hash(),
                    ..NetworkConfig::default()
                });
                spawn_engine(i, chain, Some(pair(i)), network, events, self.clock)
            }
        }
    }

    /// Whether the nodes are joined by a simulated network (then time is virtual).
    pub fn is_simulated(&self) -> bool {
        self.sim.is_some()
    }

    /// An outsider with identity `seed`, connected to the validators, answering by `policy`.
    pub async fn outsider(&self, seed: [u8; 32], policy: Policy) -> Outsider {
        match &self.sim {
            None => Outsider::start(seed, self.genesis, self.bootnodes(), policy).await,
            Some(sim) => {
                let (network, events) = sim.add_node(&NetworkConfig {
                    secret_seed: seed,
                    genesis_hash: self.genesis,
                    ..NetworkConfig::default()
                });
                Outsider::attach(network, events, policy)
            }
        }
    }

    /// A monitor of every validator's finality.
    pub fn monitor(&self) -> FinalityMonitor {
        FinalityMonitor::start(self.chains(), self.is_simulated())
    }

    /// A transfer every `period` through the validators.
    pub fn trickle(&self, period: Duration) -> Trickle {
        Trickle::start(self.chains(), period, self.is_simulated())
    }

    pub fn chains(&self) -> Vec<Arc<Chain>> {
        self.validators.iter().map(|v| v.chain.clone()).collect()
    }

    pub fn heads(&self) -> Vec<u64> {
        self.validators.iter().map(|v| v.chain.best().0).collect()
    }

    /// The validators' addresses, for an outsider's bootnodes.
    pub fn bootnodes(&self) -> Vec<Multiaddr> {
        self.ports
            .iter()
            .enumerate()
            .map(|(i, p)| address(*p, &seed(i)))
            .collect()
    }

    /// Waits until every validator's head is at least `height`.
    pub async fn wait_for_height(&self, height: u64, timeout: Duration) {
        let chains = self.chains();
        let what = format!("every validator to reach #{height}");
        wait_for(&what, timeout, || chains.iter().all(|c| c.best().0 >= height)).await;
    }

    /// Stops validator `i` (its data stays).
    pub async fn stop_one(&mut self, i: usize) {
        let pos = self
            .validators
            .iter()
            .position(|v| v.index == i)
            .expect("validator running");
        self.validators.remove(pos).stop().await;
    }

    /// Starts validator `i` again on its data directory, identity and port.
    pub async fn restart_one(&mut self, i: usize) {
        assert!(self.validators.iter().all(|v| v.index != i), "stop_one({i}) first");
        let v = self.start_validator(i).await;
        let pos = self
            .validators
            .iter()
            .position(|v| v.index > i)
            .unwrap_or(self.validators.len());
        self.validators.insert(pos, v);
    }

    /// Stops every validator (their data stays).
    pub async fn stop_all(&mut self) {
        for v in std::mem::take(&mut self.validators) {
            v.stop().await;
        }
    }

    /// Starts every validator again on its data directory, identity and port.
    pub async fn restart_all(&mut self) {
        assert!(self.validators.is_empty(), "stop_all first");
        for i in 0..self.dirs.len() {
            let v = self.start_validator(i).await;
            self.validators.push(v);
        }
    }

    /// Panics unless every validator holds the same block at every height all of them have.
    pub fn assert_agreement(&self) {
        let top = self.heads().into_iter().min().unwrap_or(0);
        for n in 1..=top {
            let hashes: Vec<_> = self.validators.iter().map(|v| v.chain.hash_at(n).unwrap()).collect();
            assert!(
                hashes.iter().all(|h| h == &hashes[0]),
                "validators disagree on block #{n}: {hashes:?}"
            );
        }
    }

    /// How many of the other validators each validator is connected to.
    pub fn validator_links(&self) -> Vec<usize> {
        let ids: Vec<String> = (0..self.ports.len())
            .map(|j| watt_network::peer_id_from_seed(&seed(j)).to_string())
            .collect();
        self.validators
            .iter()
            .map(|v| {
                v.network
                    .peers()
                    .iter()
                    .filter(|p| p.connected && ids.contains(&p.peer_id))
                    .count()
            })
            .collect()
    }

    /// How each validator sees `peer`: `(score, connected, banned)`, if it knows it.
    pub fn view_of(&self, peer: &PeerId) -> Vec<Option<(i32, bool, bool)>> {
        let id = peer.to_string();
        self.validators
            .iter()
            .map(|v| {
                v.network
                    .peers()
                    .into_iter()
                    .find(|p| p.peer_id == id)
                    .map(|p| (p.score, p.connected, p.banned))
            })
            .collect()
    }

    /// One line per validator: head, pool, peers and the engine's counters.
    pub fn describe(&self) -> String {
        let links = self.validator_links();
        self.validators
            .iter()
            .zip(links)
            .map(|(v, links)| {
                let peers = v.network.peers();
                format!(
                    "v{}: head #{} pool {:?} peers {} (validators {links}, banned {}) {:?}",
                    v.index,
                    v.chain.best().0,
                    v.chain.pool_size(),
                    v.network.connected_peers(),
                    peers.iter().filter(|p| p.banned).count(),
                    v.stats
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

// ---------------------------------------------------------------------------------------------
// Finality gaps
// ---------------------------------------------------------------------------------------------

/// Polls each chain's best number every 100 ms and records when it changed.
pub struct FinalityMonitor {
    log: Arc<Mutex<Vec<Vec<(Instant, u64)>>>>,
    ticker: Ticker,
}

/// Finality of one validator over a window.
#[derive(Clone)]
pub struct Finality {
    /// Longest time within the window without a new block (the window's ends count as
    /// boundaries: a halt shows as the time from the last block to the window's end).
    pub longest_gap: Duration,
    /// When that gap began, from the window's start.
    pub gap_began: Duration,
    /// Blocks finalized within the window.
    pub blocks: u64,
    /// Head at the window's end.
    pub head: u64,
}

impl std::fmt::Debug for Finality {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} blocks to #{}, longest gap {:.1} s from +{:.1} s",
            self.blocks,
            self.head,
            self.longest_gap.as_secs_f64(),
            self.gap_began.as_secs_f64()
        )
    }
}

impl FinalityMonitor {
    /// Polls on a thread of its own (so a busy runtime does not delay it), or in virtual time
    /// as a task of the current runtime.
    pub fn start(chains: Vec<Arc<Chain>>, virtual_time: bool) -> Self {
        let now = Instant::now();
        let log = Arc::new(Mutex::new(
            chains.iter().map(|c| vec![(now, c.best().0)]).collect::<Vec<_>>(),
        ));
        let ticker = {
            let log = log.clone();
            Ticker::every(Duration::from_millis(100), virtual_time, move || {
                let now = Instant::now();
                let mut log = log.lock().unwrap();
                for (c, entries) in chains.iter().zip(log.iter_mut()) {
                    let head = c.best().0;
                    if entries.last().is_none_or(|(_, h)| *h != head) {
                        entries.push((now, head));
                    }
                }
            })
        };
        FinalityMonitor { log, ticker }
    }

    /// Each validator's finality over `[from, to]`.
    pub fn window(&self, from: Instant, to: Instant) -> Vec<Finality> {
        let log = self.log.lock().unwrap();
        log.iter()
            .map(|entries| {
                let head_at = |t: Instant| {
                    entries
                        .iter()
                        .take_while(|(at, _)| *at <= t)
                        .last()
                        .map(|(_, h)| *h)
                        .unwrap_or(0)
                };
                let mut points = vec![from];
                points.extend(entries.iter().map(|(at, _)| *at).filter(|at| *at > from && *at <= to));
                points.push(to);
                let (longest_gap, gap_began) = points
                    .windows(2)
                    .map(|w| (w[1] - w[0], w[0] - from))
                    .max()
                    .unwrap_or_default();
                let head = head_at(to);
                Finality {
                    longest_gap,
                    gap_began,
                    blocks: head.saturating_sub(head_at(from)),
                    head,
                }
            })
            .collect()
    }

    /// Stops polling and lets go of the chains.
    pub async fn stop(self) {
        self.ticker.stop().await;
    }
}

/// Runs a step every period until stopped: on a thread of its own in real time, or as a task
/// of the current runtime in virtual time (a thread would not see the paused clock).
pub struct Ticker {
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Ticker {
    pub fn every(period: Duration, virtual_time: bool, mut step: impl FnMut() + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        if virtual_time {
            let task = tokio::spawn(async move {
                while !flag.load(Relaxed) {
                    tokio::time::sleep(period).await;
                    step();
                }
            });
            Ticker {
                stop,
                thread: None,
                task: Some(task),
            }
        } else {
            let thread = std::thread::spawn(move || {
                while !flag.load(Relaxed) {
                    std::thread::sleep(period);
                    step();
                }
            });
            Ticker {
                stop,
                thread: Some(thread),
                task: None,
            }
        }
    }

    /// Stops and waits until the step no longer runs.
    pub async fn stop(mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = self.thread.take() {
            tokio::task::spawn_blocking(move || t.join().unwrap()).await.unwrap();
        }
        if let Some(t) = self.task.take() {
            t.abort();
            let _ = t.await;
        }
    }
}

impl Drop for Ticker {
    fn drop(&mut self) {
        self.stop.store(true, Relaxed);
        if let Some(t) = &self.task {
            t.abort();
        }
    }
}

/// Panics unless every validator finalized at least `min_blocks` in `window` with no gap
/// longer than `max_gap`; `what` names the window.
pub fn assert_finality(what: &str, window: &[Finality], max_gap: Duration, min_blocks: u64, context: &str) {
    for (i, f) in window.iter().enumerate() {
        assert!(
            f.blocks >= min_blocks && f.longest_gap <= max_gap,
            "{what}: validator {i} finalized {} blocks (at least {min_blocks} expected) with a longest gap \
             of {:.1} s (at most {:.1} s allowed); every validator: {window:?}\n{context}",
            f.blocks,
            f.longest_gap.as_secs_f64(),
            max_gap.as_secs_f64(),
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Honest load
// ---------------------------------------------------------------------------------------------

/// Submits a transfer every `period` (see [`Ticker`]), rotating over the six dev accounts;
/// each account always submits to the same validator, with the nonce that validator expects
/// next (so a lost transaction is replaced instead of leaving a gap).
pub struct Trickle {
    submitted: Arc<Mutex<Vec<(Instant, Hash)>>>,
    refused: Arc<AtomicU64>,
    ticker: Ticker,
}

impl Trickle {
    pub fn start(chains: Vec<Arc<Chain>>, period: Duration, virtual_time: bool) -> Self {
        let submitted = Arc::new(Mutex::new(vec![]));
        let refused = Arc::new(AtomicU64::new(0));
        let ticker = {
            let (submitted, refused) = (submitted.clone(), refused.clone());
            let keys = keyring();
            let genesis = chains[0].genesis_hash();
            let mut k = 0usize;
            Ticker::every(period, virtual_time, move || {
                let sender = k % keys.len();
                let chain = &chains[sender % chains.len()];
                let to = keys[(sender + 1) % keys.len()].account();
                let result = chain
                    .next_nonce(&keys[sender].account())
                    .map_err(|e| e.to_string())
                    .and_then(|nonce| {
                        chain
                            .submit(&transfer_bytes(genesis, &keys[sender], to, UNIT, nonce))
                            .map_err(|e| e.to_string())
                    });
                match result {
                    Ok(h) => submitted.lock().unwrap().push((Instant::now(), h)),
                    Err(e) => {
                        tracing::debug!("trickle: transfer refused: {e}");
                        refused.fetch_add(1, Relaxed);
                    }
                }
                k += 1;
            })
        };
        Trickle {
            submitted,
            refused,
            ticker,
        }
    }

    /// Transfers submitted in `[from, to]`, and how many of them are final on every chain.
    pub fn finalized(&self, chains: &[Arc<Chain>], from: Instant, to: Instant) -> (usize, usize) {
        let hashes: Vec<Hash> = self
            .submitted
            .lock()
            .unwrap()
            .iter()
            .filter(|(at, _)| *at >= from && *at <= to)
            .map(|(_, h)| *h)
            .collect();
        let done = hashes
            .iter()
            .filter(|h| chains.iter().all(|c| c.receipt(h).unwrap().is_some()))
            .count();
        (hashes.len(), done)
    }

    pub fn refused(&self) -> u64 {
        self.refused.load(Relaxed)
    }

    /// Stops submitting and lets go of the chains.
    pub async fn stop(self) {
        self.ticker.stop().await;
    }
}

// ---------------------------------------------------------------------------------------------
// Outsiders
// ---------------------------------------------------------------------------------------------

/// How an outsider answers a request: `None` drops the responder (the peer sees the stream
/// closed).
pub type Policy = Arc<dyn Fn(&Request) -> Option<Response> + Send + Sync>;

/// The answers of a peer that knows nothing but the genesis: status at genesis, nothing else.
pub fn knows_nothing(genesis: Hash) -> Policy {
    Arc::new(move |r: &Request| {
        #[allow(unreachable_patterns)] // requests added later get an error
        Some(match r {
            Request::Status => Response::Status(Status {
                genesis,
                best_number: 0,
                best_hash: genesis,
            }),
            Request::TxSet(_) => Response::TxSet(None),
            Request::QuorumSet(_) => Response::QuorumSet(None),
            Request::ScpState(_) => Response::ScpState(vec![]),
            Request::Blocks { .. } => Response::Blocks(vec![]),
            _ => Response::Error("not served by this peer".into()),
        })
    })
}

/// A libp2p node with a fresh identity, connected to the validators, that runs no engine:
/// it publishes what the test crafts, answers requests by its [`Policy`], never relays gossip
/// (it ignores every message) and records every request it receives.
pub struct Outsider {
    pub network: NetworkHandle,
    pub peer_id: PeerId,
    requests: Arc<Mutex<Vec<(PeerId, Request)>>>,
    undecodable_requests: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

impl Outsider {
    pub async fn start(seed: [u8; 32], genesis: Hash, bootnodes: Vec<Multiaddr>, policy: Policy) -> Self {
        let (network, events) = start_network(NetworkConfig {
            secret_seed: seed,
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
            bootnodes,
            genesis_hash: genesis,
            // Only the validators: outsiders dialling each other would spend the CPU this
            // process shares with the validators, not the validators' defences.
            discovery: false,
            ..NetworkConfig::default()
        })
        .await;
        Self::attach(network, events, policy)
    }

    /// An outsider on a network already started (e.g. a simulated one).
    pub fn attach(
        network: NetworkHandle,
        mut events: tokio::sync::mpsc::Receiver<NetworkEvent>,
        policy: Policy,
    ) -> Self {
        let requests = Arc::new(Mutex::new(vec![]));
        let undecodable_requests = Arc::new(AtomicU64::new(0));
        let task = {
            let (net, requests, undecodable) = (network.clone(), requests.clone(), undecodable_requests.clone());
            tokio::spawn(async move {
                while let Some(ev) = events.recv().await {
                    match ev {
                        NetworkEvent::Gossip { from, id, .. } => net.report_validation(id, from, Validation::Ignore),
                        NetworkEvent::Request { from, data, reply } => match wire::decode_request(&data) {
                            Ok(req) => {
                                let answer = policy(&req);
                                requests.lock().unwrap().push((from, req));
                                if let Some(a) = answer {
                                    reply.send(a.encode());
                                }
                            }
                            Err(_) => {
                                undecodable.fetch_add(1, Relaxed);
                            }
                        },
                        NetworkEvent::PeerConnected(_) | NetworkEvent::PeerDisconnected(_) => {}
                    }
                }
            })
        };
        let peer_id = network.local_peer_id();
        Outsider {
            network,
            peer_id,
            requests,
            undecodable_requests,
            task,
        }
    }

    /// Waits until at least `n` peers (the validators) receive what this node publishes on
    /// every topic.
    pub async fn wait_for_mesh(&self, n: usize, timeout: Duration) {
        let net = self.network.clone();
        wait_for("the outsider to reach the validators' topics", timeout, || {
            Topic::ALL.iter().all(|t| net.topic_peers(*t) >= n)
        })
        .await;
    }

    /// Every request received so far, with who sent it.
    pub fn requests(&self) -> Vec<(PeerId, Request)> {
        self.requests.lock().unwrap().clone()
    }

    /// Requests received matching `f`.
    pub fn count_requests(&self, f: impl Fn(&Request) -> bool) -> usize {
        self.requests.lock().unwrap().iter().filter(|(_, r)| f(r)).count()
    }

    /// A summary of the requests received, by kind.
    pub fn request_summary(&self) -> String {
        let reqs = self.requests.lock().unwrap();
        let count = |f: &dyn Fn(&Request) -> bool| reqs.iter().filter(|(_, r)| f(r)).count();
        let askers: HashSet<PeerId> = reqs.iter().map(|(p, _)| *p).collect();
        format!(
            "{} requests from {} peers: Status {}, Blocks {}, ScpState {}, TxSet {}, QuorumSet {}; {} undecodable",
            reqs.len(),
            askers.len(),
            count(&|r| matches!(r, Request::Status)),
            count(&|r| matches!(r, Request::Blocks { .. })),
            count(&|r| matches!(r, Request::ScpState(_))),
            count(&|r| matches!(r, Request::TxSet(_))),
            count(&|r| matches!(r, Request::QuorumSet(_))),
            self.undecodable_requests.load(Relaxed),
        )
    }

    /// Leaves the network: stops answering and closes every connection (the swarm stops once
    /// its last handle is gone).
    pub async fn leave(self) {
        self.task.abort();
        let _ = self.task.await;
        drop(self.network);
    }
}

// ---------------------------------------------------------------------------------------------
// Peers that speak for validators
// ---------------------------------------------------------------------------------------------

/// What a [`Peer`] does with each gossip message it receives: `(its network, topic, sender,
/// payload)`.
pub type OnGossip = Box<dyn FnMut(&NetworkHandle, Topic, PeerId, &[u8]) + Send>;

/// A libp2p node that runs no engine and relays nothing, like an [`Outsider`], but hands every
/// gossip message to the test ([`OnGossip`]) and answers requests by a [`Policy`] (which may
/// read state the test changes as it goes): the test plays validators through it, signing
/// their envelopes with their keys ([`signed_envelope`]).
pub struct Peer {
    pub network: NetworkHandle,
    pub peer_id: PeerId,
    task: tokio::task::JoinHandle<()>,
}

impl Peer {
    pub async fn start(config: NetworkConfig, policy: Policy, mut on_gossip: OnGossip) -> Self {
        let (network, mut events) = start_network(config).await;
        let task = {
            let net = network.clone();
            tokio::spawn(async move {
                while let Some(ev) = events.recv().await {
                    match ev {
                        NetworkEvent::Gossip { topic, from, id, data } => {
                            net.report_validation(id, from, Validation::Ignore);
                            on_gossip(&net, topic, from, &data);
                        }
                        NetworkEvent::Request { data, reply, .. } => {
                            if let Some(answer) = wire::decode_request(&data).ok().and_then(|r| policy(&r)) {
                                reply.send(answer.encode());
                            }
                        }
                        NetworkEvent::PeerConnected(_) | NetworkEvent::PeerDisconnected(_) => {}
                    }
                }
            })
        };
        let peer_id = network.local_peer_id();
        Peer { network, peer_id, task }
    }

    /// Waits until at least `n` peers receive what this node publishes on every topic.
    pub async fn wait_for_mesh(&self, n: usize, timeout: Duration) {
        let net = self.network.clone();
        wait_for("the peer to reach the validators' topics", timeout, || {
            Topic::ALL.iter().all(|t| net.topic_peers(*t) >= n)
        })
        .await;
    }

    /// Leaves the network (see [`Outsider::leave`]).
    pub async fn leave(self) {
        self.task.abort();
        let _ = self.task.await;
        drop(self.network);
    }
}

/// `statement` about `slot` as validator `key` says it (quorum set [`qset`]`(4)`), signed for
/// the chain `genesis`.
pub fn signed_envelope(key: &sr25519::Pair, genesis: &Hash, slot: u64, statement: Statement) -> WattEnvelope {
    let mut env = WattEnvelope {
        slot,
        node: AccountId::from(key.public().0),
        qset_hash: quorum_set_hash(&qset(4)),
        statement,
        signature: vec![],
    };
    env.signature = key.sign(&env.signing_payload(genesis)).0.to_vec();
    env
}

/// The value validator `key` proposes: `set` on `parent` (the head, closed at `parent_close`)
/// in `slot`, closing now.
pub fn proposed_value(
    key: &sr25519::Pair,
    genesis: &Hash,
    slot: u64,
    parent: &Hash,
    parent_close: u64,
    set: &Hash,
) -> ConsensusValue {
    ConsensusValue {
        parent_hash: *parent,
        tx_set_hash: *set,
        close_time: now_ms().max(parent_close + 1),
        proposer: AccountId::from(key.public().0),
        proposer_proof: watt_consensus::scp::proposer_proof(key, genesis, slot, parent, set),
    }
}
