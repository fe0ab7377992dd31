//! Block import on a realistic state: 1,000,000 accounts already on disk (rocksdb), blocks of
//! 10,000 transfers among random existing accounts, imported by a follower through the wasm
//! runtime and committed (synced) to rocksdb. Also the disk used by the state of a million
//! accounts, and per thousand blocks with and without state pruning.
//!
//! `cargo bench -p watt-chain --bench realistic_import` (a standalone program: the setup is too
//! long to repeat for criterion's samples, so it sets up once and times every block).
//!
//! How the state is made: only through the real chain path. The genesis funds 10,000 senders;
//! each setup block holds one transfer from every sender to a new account, built by a producer
//! from its pool (`Chain::submit` + `Chain::produce_block`, archive mode) and imported by a
//! follower (`Chain::import_block`, pruning the state to its last 256 blocks, the default). So
//! 100 setup blocks leave 1,000,000 new accounts on both, and the follower's import times during
//! the setup show how import slows as the state grows. The two databases are kept under
//! `~/.cache/watt/bench-state/` (`WATT_BENCH_STATE_DIR`), so a second run skips the setup (an
//! interrupted setup resumes); each run then advances both chains by the blocks it measures.
//!
//! Environment: `WATT_BENCH_ACCOUNTS` (default 1,000,000, a multiple of the 10,000 senders),
//! `WATT_BENCH_TXS` (transfers per measured block, 10,000), `WATT_BENCH_BLOCKS` (measured
//! blocks, 10), `WATT_BENCH_DISK_BLOCKS` / `WATT_BENCH_DISK_TXS` (blocks and transfers per block
//! of the disk-growth run, 1,000 / 1,000; 0 blocks skips it).

use parity_scale_codec::Encode;
use std::collections::HashSet;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use watt_chain::test_utils::{dev_spec, transfer};
use watt_chain::{Chain, ChainConfig, ChainSpec};
use watt_client::Keypair;
use watt_primitives::{AccountId, Block, UNIT};
use watt_store::{StatePruning, StoreConfig};

/// Genesis-funded senders; each setup block has one transfer from each.
const SENDERS: usize = 10_000;
/// Seeds of the accounts made by the setup start here (the senders use 1..=SENDERS).
const NEW_SEED_BASE: u64 = 1 << 40;
/// What each new account receives: enough for many transfers and their fees.
const NEW_ACCOUNT_FUNDS: u128 = 100 * UNIT;
/// The follower's pruning mode (the node's default).
const PRUNED_KEEP: u64 = 256;

fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(default)
}

fn sender(i: usize) -> Keypair {
    Keypair::from_suri(&format!("0x{:064x}", i + 1)).expect("hex seed")
}

fn new_account(j: usize) -> Keypair {
    Keypair::from_suri(&format!("0x{:064x}", NEW_SEED_BASE + j as u64)).expect("hex seed")
}

/// The dev spec plus the funded senders.
fn spec() -> ChainSpec {
    let mut spec = dev_spec();
    spec.genesis
        .balances
        .extend((0..SENDERS).map(|i| (sender(i).account(), (10_000_000 * UNIT).to_string())));
    spec
}

fn config(pruning: StatePruning) -> ChainConfig {
    ChainConfig {
        store: StoreConfig {
            pruning,
            ..Default::default()
        },
        max_block_txs: 1_000_000,
        max_block_bytes: 1 << 30,
        ..Default::default()
    }
}

/// `du -sk` of a directory, in bytes (what the files occupy on disk).
fn disk_bytes(dir: &Path) -> u64 {
    let out = std::process::Command::new("du")
        .arg("-sk")
        .arg(dir)
        .output()
        .expect("du runs");
    let text = String::from_utf8_lossy(&out.stdout);
    let kib: u64 = text.split_whitespace().next().and_then(|s| s.parse().ok()).unwrap_or(0);
    kib * 1024
}

/// Bytes in rocksdb's write-ahead logs (`*.log`), part of `disk_bytes`: a column family that
/// rarely flushes keeps every log since its last flush.
fn wal_bytes(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
                .filter_map(|e| e.metadata().ok())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// CPU time of this whole process (all threads, user + system), from /proc/self/stat: on a
/// shared machine, wall time depends on the other load; the CPU time spent on a block does not.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    // Fields 14 and 15 of proc(5) (utime, stime) in clock ticks (USER_HZ, 100 on Linux).
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

/// The 1-minute load average, to read each timing against.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next().map(str::to_owned))
        .unwrap_or_default()
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1 << 20) as f64
}

/// splitmix64: a small deterministic generator (no dependency needed for picking accounts).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Stats {
    mean: f64,
    min: f64,
    max: f64,
    sd: f64,
}

fn stats(xs: &[f64]) -> Stats {
    let n = xs.len().max(1) as f64;
    let mean = xs.iter().sum::<f64>() / n;
    let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    Stats {
        mean,
        min: xs.iter().cloned().fold(f64::INFINITY, f64::min),
        max: xs.iter().cloned().fold(f64::NEG_INFINITY, f64::max),
        sd: var.sqrt(),
    }
}

struct Pair {
    /// Builds blocks from its pool and commits them; keeps every state version.
    producer: Arc<Chain>,
    /// Imports the producer's blocks; keeps the state of the last 256 blocks.
    follower: Arc<Chain>,
    archive_dir: PathBuf,
    pruned_dir: PathBuf,
}

/// Timings of one block carried from the producer to the follower.
struct BlockTimes {
    txs: usize,
    submit: Duration,
    produce: Duration,
    import: Duration,
    /// Process CPU seconds during the import (the follower's work, plus any rocksdb background
    /// work of either database in that time).
    import_cpu: f64,
}

impl Pair {
    fn open(root: &Path, spec: &ChainSpec) -> Pair {
        let archive_dir = root.join("archive");
        let pruned_dir = root.join("pruned");
        let producer = Chain::open(&archive_dir, spec, config(StatePruning::Archive)).expect("producer opens");
        let follower =
            Chain::open(&pruned_dir, spec, config(StatePruning::KeepLast(PRUNED_KEEP))).expect("follower opens");
        let pair = Pair {
            producer,
            follower,
            archive_dir,
            pruned_dir,
        };
        pair.catch_up();
        pair
    }

    /// After an interrupted run the follower may be a block behind: import what it misses.
    fn catch_up(&self) {
        let (p, _) = self.producer.best();
        let (mut f, _) = self.follower.best();
        assert!(
            f <= p,
            "follower #{f} is ahead of producer #{p}: remove the bench state directory"
        );
        while f < p {
            f += 1;
            let hash = self.producer.hash_at(f).unwrap().expect("producer block");
            let block = self.producer.block(&hash).unwrap().expect("producer block body");
            self.follower.import_block(block, true, None).expect("catch-up import");
        }
    }

    /// Pools `txs` on the producer, builds and commits one block from them, and imports it on the
    /// follower. Every transaction must be included.
    fn step(&self, txs: &[Vec<u8>], close_time: u64) -> BlockTimes {
        let t = Instant::now();
        for tx in txs {
            self.producer.submit(tx).expect("transfer accepted into the pool");
        }
        let submit = t.elapsed();
        let t = Instant::now();
        let made = self
            .producer
            .produce_block(close_time, true, false)
            .expect("block produced")
            .expect("pool not empty");
        let produce = t.elapsed();
        assert_eq!(made.tx_hashes.len(), txs.len(), "every transfer is included");
        let block: Block = self.producer.block(&made.hash).unwrap().expect("block stored");
        let t = Instant::now();
        let cpu = cpu_secs();
        let imported = self.follower.import_block(block, true, None).expect("follower imports");
        let import = t.elapsed();
        let import_cpu = cpu_secs() - cpu;
        assert_eq!(imported.hash, made.hash);
        BlockTimes {
            txs: txs.len(),
            submit,
            produce,
            import,
            import_cpu,
        }
    }
}

fn per_sec(txs: usize, d: Duration) -> f64 {
    txs as f64 / d.as_secs_f64()
}

/// Makes (or resumes) the 1M-account state. Returns the ids of the new accounts, in order.
fn setup(pair: &Pair, root: &Path, accounts: usize) -> Vec<AccountId> {
    let ids_path = root.join("accounts.bin");
    let blocks = accounts / SENDERS;
    // Setup blocks done: the ids file grows by one block's accounts after each (measured blocks
    // after an earlier, smaller setup do not count); without the file, the head's height.
    let (height, _) = pair.producer.best();
    let from_file = std::fs::metadata(&ids_path)
        .map(|m| m.len() as usize / 32 / SENDERS)
        .unwrap_or(usize::MAX);
    let done = (height as usize).min(from_file).min(blocks);
    // The ids file may hold more than the committed blocks if a run stopped between the two.
    let mut ids = Vec::new();
    if let Ok(mut f) = std::fs::File::open(&ids_path) {
        let mut bytes = Vec::new();
        f.read_to_end(&mut bytes).unwrap();
        ids = bytes
            .chunks_exact(32)
            .take(done * SENDERS)
            .map(|c| AccountId(c.try_into().expect("32 bytes")))
            .collect();
    }
    if ids.len() < done * SENDERS {
        // Ids are derived, so a lost file is recomputed rather than trusted partially.
        eprintln!("setup: deriving the ids of {} existing accounts", done * SENDERS);
        ids = (0..done * SENDERS).map(|j| new_account(j).account()).collect();
    }
    let mut file = std::fs::File::create(&ids_path).unwrap();
    for id in &ids {
        file.write_all(id.as_bytes()).unwrap();
    }
    if done == blocks {
        return ids;
    }
    eprintln!(
        "setup: {} accounts on disk, making {} more in {} blocks of {SENDERS} transfers",
        done * SENDERS,
        accounts - done * SENDERS,
        blocks - done
    );
    let senders: Vec<Keypair> = (0..SENDERS).map(sender).collect();
    let g = pair.producer.genesis_hash();
    let started = Instant::now();
    for b in done..blocks {
        let t = Instant::now();
        let new: Vec<AccountId> = (0..SENDERS).map(|i| new_account(b * SENDERS + i).account()).collect();
        let txs: Vec<Vec<u8>> = senders
            .iter()
            .zip(&new)
            .map(|(s, to)| transfer(g, s, *to, NEW_ACCOUNT_FUNDS, b as u64, 0).encode())
            .collect();
        let prepare = t.elapsed();
        let times = pair.step(&txs, 1_000 + b as u64);
        for id in &new {
            file.write_all(id.as_bytes()).unwrap();
        }
        file.flush().unwrap();
        ids.extend(new);
        eprintln!(
            "setup block {}/{blocks}: {} accounts; keys+sign {:.0} ms, submit {:.0} ms, produce {:.0} ms ({:.0}/s), follower import {:.0} ms ({:.0}/s, CPU {:.2} s); load {}; {:.0} s so far",
            b + 1,
            ids.len(),
            prepare.as_secs_f64() * 1e3,
            times.submit.as_secs_f64() * 1e3,
            times.produce.as_secs_f64() * 1e3,
            per_sec(times.txs, times.produce),
            times.import.as_secs_f64() * 1e3,
            per_sec(times.txs, times.import),
            times.import_cpu,
            load_average(),
            started.elapsed().as_secs_f64()
        );
    }
    ids
}

fn disk_report(pair: &Pair) -> String {
    let one = |dir: &Path| {
        format!(
            "{:.0} MiB (of which write-ahead logs {:.0} MiB)",
            mib(disk_bytes(dir)),
            mib(wal_bytes(dir))
        )
    };
    format!(
        "archive {}, pruned (last {PRUNED_KEEP}) {}",
        one(&pair.archive_dir),
        one(&pair.pruned_dir)
    )
}

/// `n` transfers of 1 UNIT, each from a distinct random existing account to another random one.
fn random_transfers(pair: &Pair, ids: &[AccountId], rng: &mut Rng, n: usize) -> Vec<Vec<u8>> {
    let g = pair.producer.genesis_hash();
    let mut from = HashSet::with_capacity(n);
    while from.len() < n {
        from.insert(rng.below(ids.len()));
    }
    from.into_iter()
        .map(|i| {
            let key = new_account(i);
            let nonce = pair.producer.next_nonce(&ids[i]).expect("nonce");
            let mut to = rng.below(ids.len());
            if to == i {
                to = (to + 1) % ids.len();
            }
            transfer(g, &key, ids[to], UNIT, nonce, 0).encode()
        })
        .collect()
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that does not match skips this program.
    if let Some(filter) = std::env::args().skip(1).find(|a| !a.starts_with('-')) {
        if !"realistic_import".contains(&filter) {
            return;
        }
    }
    let accounts = env_usize("WATT_BENCH_ACCOUNTS", 1_000_000);
    assert!(
        accounts.is_multiple_of(SENDERS) && accounts > 0,
        "WATT_BENCH_ACCOUNTS must be a multiple of {SENDERS}"
    );
    let txs = env_usize("WATT_BENCH_TXS", 10_000);
    let measured = env_usize("WATT_BENCH_BLOCKS", 10);
    let disk_blocks = env_usize("WATT_BENCH_DISK_BLOCKS", 1_000);
    let disk_txs = env_usize("WATT_BENCH_DISK_TXS", 1_000);
    let base = std::env::var_os("WATT_BENCH_STATE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/tmp".into())).join(".cache/watt/bench-state")
        });
    let root = base.join(format!("accounts-{accounts}"));
    std::fs::create_dir_all(&root).unwrap();
    eprintln!("state directory: {}", root.display());

    let spec = spec();
    let pair = Pair::open(&root, &spec);
    let ids = setup(&pair, &root, accounts);
    let setup_blocks = (accounts / SENDERS) as u64;
    let (height, _) = pair.producer.best();
    println!(
        "state: {} accounts made by {setup_blocks} blocks; head #{height}; disk: {}",
        ids.len(),
        disk_report(&pair)
    );

    let mut rng = Rng(0x5eed ^ height);
    measure(&pair, &ids, &mut rng, measured, txs, "right after the setup");

    if disk_blocks == 0 {
        return;
    }
    // Disk growth (the follower starts pruning at block #257, within this run): `disk_blocks` blocks of `disk_txs` random transfers on both databases.
    let before = (disk_bytes(&pair.archive_dir), disk_bytes(&pair.pruned_dir));
    let before_wal = (wal_bytes(&pair.archive_dir), wal_bytes(&pair.pruned_dir));
    let started = Instant::now();
    for b in 0..disk_blocks {
        let batch = random_transfers(&pair, &ids, &mut rng, disk_txs);
        let (h, _) = pair.producer.best();
        pair.step(&batch, 1_000 + h + 1);
        if (b + 1) % 100 == 0 {
            eprintln!(
                "disk run: {}/{disk_blocks} blocks in {:.0} s; {}",
                b + 1,
                started.elapsed().as_secs_f64(),
                disk_report(&pair)
            );
        }
    }
    // Let background flushes and compactions settle before measuring.
    std::thread::sleep(Duration::from_secs(10));
    let after = (disk_bytes(&pair.archive_dir), disk_bytes(&pair.pruned_dir));
    let after_wal = (wal_bytes(&pair.archive_dir), wal_bytes(&pair.pruned_dir));
    let per_k = |a: u64, b: u64| (b as f64 - a as f64) / (1 << 20) as f64 * 1000.0 / disk_blocks as f64;
    println!(
        "disk growth per 1,000 blocks of {disk_txs} random transfers: archive {:.0} MiB ({:.0} -> {:.0}; without logs {:.0} -> {:.0}), pruned (last {PRUNED_KEEP}) {:.0} MiB ({:.0} -> {:.0}; without logs {:.0} -> {:.0})",
        per_k(before.0, after.0),
        mib(before.0),
        mib(after.0),
        mib(before.0.saturating_sub(before_wal.0)),
        mib(after.0.saturating_sub(after_wal.0)),
        per_k(before.1, after.1),
        mib(before.1),
        mib(after.1),
        mib(before.1.saturating_sub(before_wal.1)),
        mib(after.1.saturating_sub(after_wal.1))
    );

    // Again, now that the follower prunes a version with every block it imports.
    measure(
        &pair,
        &ids,
        &mut rng,
        measured,
        txs,
        "after the disk run (follower pruning)",
    );
}

/// Times `blocks` blocks of `txs` random transfers and prints each and their spread.
fn measure(pair: &Pair, ids: &[AccountId], rng: &mut Rng, blocks: usize, txs: usize, when: &str) {
    println!("measured blocks, {when}:");
    let mut import = Vec::new();
    let mut import_cpu = Vec::new();
    let mut produce = Vec::new();
    let mut submit = Vec::new();
    for b in 0..blocks {
        let batch = random_transfers(pair, ids, rng, txs);
        let (h, _) = pair.producer.best();
        let t = pair.step(&batch, 1_000 + h + 1);
        println!(
            "block {}/{blocks} (#{}): import {:.0} ms = {:.0} transfers/s (CPU {:.2} s = {:.0} per CPU-second); produce {:.0} ms = {:.0}/s; pool submit {:.0}/s; load {}",
            b + 1,
            h + 1,
            t.import.as_secs_f64() * 1e3,
            per_sec(t.txs, t.import),
            t.import_cpu,
            t.txs as f64 / t.import_cpu.max(0.01),
            t.produce.as_secs_f64() * 1e3,
            per_sec(t.txs, t.produce),
            per_sec(t.txs, t.submit),
            load_average()
        );
        import_cpu.push(t.txs as f64 / t.import_cpu.max(0.01));
        import.push(per_sec(t.txs, t.import));
        produce.push(per_sec(t.txs, t.produce));
        submit.push(per_sec(t.txs, t.submit));
    }
    for (what, xs) in [
        ("follower import (pruned 256)", &import),
        ("follower import per CPU-second", &import_cpu),
        ("producer build+commit (archive)", &produce),
        ("pool submit (validate)", &submit),
    ] {
        let s = stats(xs);
        println!(
            "{what}: mean {:.0} transfers/s, min {:.0}, max {:.0}, sd {:.0} over {} blocks of {txs} ({when})",
            s.mean,
            s.min,
            s.max,
            s.sd,
            xs.len()
        );
    }
}
