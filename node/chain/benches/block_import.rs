//! Block import throughput: blocks of signed transfers from many accounts, imported by a
//! follower node through the wasm runtime: signature batch verification, execution, the state
//! root (Jellyfish Merkle tree) and the atomic synced commit. Also the producer's path (build
//! from the pool + commit).
//!
//! `cargo bench -p watt-chain --bench block_import` (WATT_BENCH_TXS sets transfers per block).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::sync::Arc;
use std::time::{Duration, Instant};
use watt_chain::test_utils::{dev_spec, keyring, transfer};
use watt_chain::{Chain, ChainConfig, ChainSpec};
use watt_client::Keypair;
use watt_primitives::{Block, UNIT};

const BLOCKS: usize = 6;

fn txs_per_block() -> usize {
    std::env::var("WATT_BENCH_TXS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000)
}

/// A dev spec that also funds `senders`.
fn spec_with(senders: &[Keypair]) -> ChainSpec {
    let mut spec = dev_spec();
    spec.genesis
        .balances
        .extend(senders.iter().map(|k| (k.account(), (1_000 * UNIT).to_string())));
    spec
}

fn config() -> ChainConfig {
    ChainConfig {
        max_block_txs: 1_000_000,
        max_block_bytes: 1 << 30,
        ..Default::default()
    }
}

struct Fixture {
    spec: ChainSpec,
    blocks: Vec<Block>,
    _dir: tempfile::TempDir,
}

/// Builds BLOCKS blocks of `n` transfers each on a producer: every sender sends one transfer
/// per block to a pseudo-random receiver.
fn fixture(n: usize) -> Fixture {
    let started = Instant::now();
    let senders: Vec<Keypair> = (0..n)
        .map(|i| Keypair::from_suri(&format!("0x{:064x}", i + 1)).unwrap())
        .collect();
    let receivers: Vec<_> = keyring().iter().map(Keypair::account).collect();
    let spec = spec_with(&senders);
    let dir = tempfile::tempdir().unwrap();
    let producer = Chain::open(dir.path(), &spec, config()).unwrap();
    let g = producer.genesis_hash();
    let mut blocks = Vec::new();
    for b in 0..BLOCKS {
        for (i, s) in senders.iter().enumerate() {
            let to = receivers[(i * 7 + b) % receivers.len()];
            let tx = transfer(g, s, to, UNIT, b as u64, 0);
            producer.submit(&parity_scale_codec::Encode::encode(&tx)).unwrap();
        }
        let imported = producer.produce_block(1_000 + b as u64, true, false).unwrap().unwrap();
        assert_eq!(imported.tx_hashes.len(), n);
        blocks.push(producer.block(&imported.hash).unwrap().unwrap());
    }
    eprintln!("fixture: {BLOCKS} blocks of {n} transfers in {:?}", started.elapsed());
    Fixture {
        spec,
        blocks,
        _dir: dir,
    }
}

fn import(c: &mut Criterion) {
    let n = txs_per_block();
    let fx = fixture(n);
    let mut group = c.benchmark_group("block_import");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(n as u64));
    group.bench_with_input(BenchmarkId::new("wasm_transfers", n), &fx, |b, fx| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            let mut done = 0u64;
            while done < iters {
                // A fresh follower each time the pre-built blocks run out (not timed).
                let dir = tempfile::tempdir().unwrap();
                let follower: Arc<Chain> = Chain::open(dir.path(), &fx.spec, config()).unwrap();
                for block in fx.blocks.iter().take((iters - done) as usize) {
                    let t = Instant::now();
                    follower.import_block(block.clone(), true, None).unwrap();
                    total += t.elapsed();
                    done += 1;
                }
            }
            total
        })
    });
    group.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
