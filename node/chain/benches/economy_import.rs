//! Check-ins against transfers through the real node path (issue 10, "Benchmarks"): blocks of
//! N `presence.check_in` transactions and blocks of N `balances.transfer` transactions, built
//! by a producer from its pool and imported by a follower (`Chain::import_block`: signature
//! batch, wasm execution, state root, synced rocksdb commit), timed on the follower.
//!
//! Setup, through the same path: the dev spec funds N accounts; //Alice, the dev spec's
//! registrar, attests them all in one block (N `identity.attest` with sequential nonces); then
//! every account names a security circle of 3 (one block) and a referrer (one block), so each
//! check-in records all three shares a check-in can (pioneer, contributor, the referrer's
//! ambassador share): the most work a check-in does. Measured blocks alternate, check-ins then
//! transfers, each time from all N accounts, so both kinds run on the same state.
//!
//! Two departures from the dev spec, both needed to run the blocks at all: days of one block
//! (an account checks in once a day, and every measured check-in block must be a new day), and
//! the block weight limit raised to fit N check-ins (a check-in weighs 250,000, so the dev
//! limit of 2,000,000,000 takes 8,000 of them against 10,000 transfers of 200,000). With
//! one-block days every block, check-ins and transfers alike, also closes a day.
//!
//! `cargo bench -p watt-chain --bench economy_import` (`WATT_BENCH_TXS` sets N, default
//! 10,000; `WATT_BENCH_BLOCKS` the measured blocks of each kind per follower, default 6;
//! `WATT_BENCH_ONLY=checkins|transfers` builds and measures one kind alone, check-in blocks then
//! separated by empty blocks, so a profile of the process shows that kind only;
//! `WATT_BENCH_ROLES=pioneer` leaves out circles and referrers, so each check-in records the
//! pioneer share only).

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use parity_scale_codec::Encode;
use std::sync::Arc;
use std::time::{Duration, Instant};
use watt_chain::test_utils::{dev_spec, keyring, transfer};
use watt_chain::{Chain, ChainConfig, ChainSpec};
use watt_client::{sign, Keypair};
use watt_primitives::abi::{Query, QueryResult};
use watt_primitives::economy::Role;
use watt_primitives::{Block, Hash, SignedTransaction, TxOutcome, UNIT};
use watt_runtime::{pallet_balances, pallet_identity, pallet_presence, RuntimeCall};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// What a measured block holds.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    CheckIns,
    Transfers,
    /// Opens a new day between check-in blocks when transfers are left out (never timed).
    Empty,
}

/// `WATT_BENCH_ONLY=checkins|transfers` builds and measures one kind only (for profiling).
fn only() -> Option<Kind> {
    match std::env::var("WATT_BENCH_ONLY").as_deref() {
        Ok("checkins") => Some(Kind::CheckIns),
        Ok("transfers") => Some(Kind::Transfers),
        Ok(other) => panic!("WATT_BENCH_ONLY: expected checkins or transfers, got {other}"),
        Err(_) => None,
    }
}

fn config(n: usize) -> ChainConfig {
    let mut config = ChainConfig {
        max_block_txs: 1_000_000,
        max_block_bytes: 1 << 30,
        ..Default::default()
    };
    // //Alice submits all N attestations at once.
    config.pool.max_per_sender = n + 1;
    config.pool.max_count = 4 * n + 1_000;
    config.pool.max_bytes = 1 << 30;
    config
}

/// The dev spec, also funding `accounts`, with one-block days and a block weight limit that
/// fits N of the heaviest transaction used here.
fn spec_with(accounts: &[Keypair]) -> ChainSpec {
    let mut spec = dev_spec();
    spec.genesis
        .balances
        .extend(accounts.iter().map(|k| (k.account(), (1_000 * UNIT).to_string())));
    spec.genesis.economy.params.day_blocks = 1;
    let heaviest = [
        check_in_call(),
        transfer_call_to(accounts[0].account()),
        RuntimeCall::Identity(pallet_identity::Call::Attest {
            who: accounts[0].account(),
        }),
        circle_call(accounts, 0),
        referrer_call(accounts, 0),
    ]
    .iter()
    .map(RuntimeCall::weight)
    .max()
    .unwrap_or(0);
    let needed = heaviest * accounts.len() as u64;
    spec.genesis.params.max_block_weight = spec.genesis.params.max_block_weight.max(needed);
    spec
}

fn check_in_call() -> RuntimeCall {
    RuntimeCall::Presence(pallet_presence::Call::CheckIn)
}

fn transfer_call_to(dest: watt_primitives::AccountId) -> RuntimeCall {
    RuntimeCall::Balances(pallet_balances::Call::Transfer {
        dest,
        value: parity_scale_codec::Compact(UNIT),
    })
}

/// Account `i`'s circle: the next three accounts.
fn circle_call(accounts: &[Keypair], i: usize) -> RuntimeCall {
    let n = accounts.len();
    RuntimeCall::Presence(pallet_presence::Call::SetCircle {
        members: (1..=3).map(|k| accounts[(i + k) % n].account()).collect(),
    })
}

/// Account `i`'s referrer: the next account.
fn referrer_call(accounts: &[Keypair], i: usize) -> RuntimeCall {
    RuntimeCall::Presence(pallet_presence::Call::SetReferrer {
        referrer: accounts[(i + 1) % accounts.len()].account(),
    })
}

struct Fixture {
    spec: ChainSpec,
    /// Attestations, then circles and referrers (unless `WATT_BENCH_ROLES=pioneer`).
    setup: Vec<Block>,
    /// Check-in and transfer blocks, alternating.
    measured: Vec<(Kind, Block)>,
    _dir: tempfile::TempDir,
}

/// Submits `txs` to the producer's pool, builds a block of all of them and checks that every
/// one succeeded. Returns the block and the pool's admission rate.
fn build(producer: &Chain, close_time: u64, txs: &[SignedTransaction], what: &str) -> (Block, f64) {
    let started = Instant::now();
    for tx in txs {
        producer
            .submit(&tx.encode())
            .unwrap_or_else(|e| panic!("{what}: pool refused: {e}"));
    }
    let admission = txs.len() as f64 / started.elapsed().as_secs_f64();
    let imported = producer
        .produce_block(close_time, true, false)
        .expect("the producer builds")
        .expect("the pool is not empty");
    assert_eq!(
        imported.tx_hashes.len(),
        txs.len(),
        "{what}: every transaction in the block"
    );
    for h in &imported.tx_hashes {
        let receipt = producer.receipt(h).expect("store reads").expect("receipt stored");
        assert_eq!(receipt.outcome, TxOutcome::Success, "{what}");
    }
    let block = producer
        .block(&imported.hash)
        .expect("store reads")
        .expect("block stored");
    (block, admission)
}

fn participants(producer: &Chain) -> (u64, u64, u64) {
    match producer.query(&Query::Day).expect("query runs") {
        QueryResult::Day(d) => (
            d.participants.get(Role::Pioneer),
            d.participants.get(Role::Contributor),
            d.participants.get(Role::Ambassador),
        ),
        other => panic!("unexpected answer {other:?}"),
    }
}

/// `WATT_BENCH_ROLES=pioneer`: no circles or referrers, so each check-in records the pioneer
/// share only (the least a check-in does); by default each records all three.
fn all_roles() -> bool {
    match std::env::var("WATT_BENCH_ROLES").as_deref() {
        Ok("pioneer") => false,
        Ok("all") | Err(_) => true,
        Ok(other) => panic!("WATT_BENCH_ROLES: expected pioneer or all, got {other}"),
    }
}

fn fixture(n: usize, blocks: usize, only: Option<Kind>, roles: bool) -> Fixture {
    let started = Instant::now();
    let accounts: Vec<Keypair> = (0..n)
        .map(|i| Keypair::from_suri(&format!("0x{:064x}", i + 1)).expect("hex seed"))
        .collect();
    let alice = keyring()
        .into_iter()
        .next()
        .expect("the dev keyring starts with //Alice");
    let spec = spec_with(&accounts);
    assert_eq!(
        spec.genesis.economy.registrars,
        vec![alice.account()],
        "//Alice is the dev spec's registrar"
    );
    let dir = tempfile::tempdir().expect("temp dir");
    let producer = Chain::open(dir.path(), &spec, config(n)).expect("producer opens");
    let g: Hash = producer.genesis_hash();
    let mut close = 1_000u64;
    let mut next_close = || {
        close += 1;
        close
    };

    let attest: Vec<SignedTransaction> = accounts
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let call = RuntimeCall::Identity(pallet_identity::Call::Attest { who: k.account() });
            sign(&alice, i as u64, 0, g, &call)
        })
        .collect();
    let (b_attest, _) = build(&producer, next_close(), &attest, "attest");
    let mut setup = vec![b_attest];
    let mut nonce = 0u64;
    if roles {
        let circles: Vec<_> = (0..n)
            .map(|i| sign(&accounts[i], 0, 0, g, &circle_call(&accounts, i)))
            .collect();
        setup.push(build(&producer, next_close(), &circles, "set_circle").0);
        let referrers: Vec<_> = (0..n)
            .map(|i| sign(&accounts[i], 1, 0, g, &referrer_call(&accounts, i)))
            .collect();
        setup.push(build(&producer, next_close(), &referrers, "set_referrer").0);
        nonce = 2;
    }
    eprintln!(
        "setup: {n} attestations{} in {:.1?}",
        if roles { ", circles and referrers" } else { "" },
        started.elapsed()
    );

    let mut measured = Vec::new();
    let (mut admit_c, mut admit_t) = (0.0, 0.0);
    let n64 = n as u64;
    let expected_shares = if roles { (n64, n64, n64) } else { (n64, 0, 0) };
    for b in 0..blocks {
        if only != Some(Kind::Transfers) {
            let check_ins: Vec<_> = accounts
                .iter()
                .map(|k| sign(k, nonce, 0, g, &check_in_call()))
                .collect();
            nonce += 1;
            let (block, rate) = build(&producer, next_close(), &check_ins, "check_in");
            admit_c += rate / blocks as f64;
            assert_eq!(
                participants(&producer),
                expected_shares,
                "every check-in earns its shares"
            );
            measured.push((Kind::CheckIns, block));
        }
        if only != Some(Kind::CheckIns) {
            let transfers: Vec<_> = accounts
                .iter()
                .enumerate()
                .map(|(i, k)| transfer(g, k, accounts[(i + 1 + b) % n].account(), UNIT, nonce, 0))
                .collect();
            nonce += 1;
            let (block, rate) = build(&producer, next_close(), &transfers, "transfer");
            admit_t += rate / blocks as f64;
            measured.push((Kind::Transfers, block));
        } else {
            // A new day, so the next check-ins pass the pool's once-a-day check.
            let imported = producer
                .produce_block(next_close(), true, true)
                .expect("the producer builds")
                .expect("an empty block is allowed");
            let block = producer
                .block(&imported.hash)
                .expect("store reads")
                .expect("block stored");
            measured.push((Kind::Empty, block));
        }
    }
    eprintln!(
        "fixture: {blocks} measured blocks of each kind ({only:?} if only one), {n} transactions each, in \
         {:.1?}; pool admission (one thread, producer): check-ins {admit_c:.0}/s, transfers {admit_t:.0}/s",
        started.elapsed()
    );
    Fixture {
        spec,
        setup,
        measured,
        _dir: dir,
    }
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn import(c: &mut Criterion) {
    let n = env_or("WATT_BENCH_TXS", 10_000);
    let blocks = env_or("WATT_BENCH_BLOCKS", 6).max(1);
    let only = only();
    let fx = fixture(n, blocks, only, all_roles());
    let mut group = c.benchmark_group("economy_import");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(10)
        .measurement_time(Duration::from_secs(20))
        .throughput(Throughput::Elements(n as u64));
    for (kind, name) in [(Kind::CheckIns, "wasm_checkins"), (Kind::Transfers, "wasm_transfers")] {
        if only.is_some_and(|o| o != kind) {
            continue;
        }
        eprintln!("{name}: load average before {}", loadavg());
        group.bench_with_input(BenchmarkId::new(name, n), &fx, |b, fx| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                let mut done = 0u64;
                while done < iters {
                    // A fresh follower each time the pre-built blocks run out: it imports the
                    // setup and the blocks of the other kind untimed.
                    let dir = tempfile::tempdir().expect("temp dir");
                    let follower: Arc<Chain> = Chain::open(dir.path(), &fx.spec, config(n)).expect("follower opens");
                    for block in &fx.setup {
                        follower
                            .import_block(block.clone(), true, None)
                            .expect("setup block imports");
                    }
                    for (k, block) in &fx.measured {
                        if done == iters {
                            break;
                        }
                        let block = block.clone();
                        let t = Instant::now();
                        follower.import_block(block, true, None).expect("block imports");
                        if *k == kind {
                            total += t.elapsed();
                            done += 1;
                        }
                    }
                }
                total
            })
        });
        eprintln!("{name}: load average after {}", loadavg());
    }
    group.finish();
}

criterion_group!(benches, import);
criterion_main!(benches);
