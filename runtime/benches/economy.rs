//! Economy benchmarks of the native runtime (issue 10, "Benchmarks"):
//!
//! - `rollover`: the empty block whose `on_initialize` closes a day with 1, 10,000 and
//!   1,000,000 participants recorded that day (it must stay flat), beside an empty block in the
//!   middle of the same day; each also prints the storage calls its block made (the work, which
//!   must not grow with the participants);
//! - `checkin_block`: blocks of 2,000 check-ins by attested accounts against blocks of 2,000
//!   transfers, through `api::apply_block` (batch signature check, fees, nonces, dispatch,
//!   hooks), and the same calls dispatched alone (the pallets' own cost);
//! - `claim`: `pallet_rewards::claim` by an account with D = 1, 10, 100, 128, 365 unclaimed
//!   closed days (as many claims as settle them all: one claim settles at most
//!   `MAX_DAYS_PER_CLAIM` = 128 days, so 365 days take three).
//!
//! `cargo bench -p watt-runtime --bench economy` (criterion). `WATT_BENCH_PARTICIPANTS`
//! (comma-separated, default `1,10000,1000000`) picks the rollover sizes; `WATT_BENCH_DAYS`
//! (default `1,10,100,128,365`) the claim sizes; `WATT_BENCH_EVICT_CACHES=1` flushes the CPU caches
//! before each timed day close (untimed), to compare the sizes with equally cold caches.
//!
//! The runtime runs natively over [`OverlayExt`], an in-memory externalities whose nested
//! transactions are overlays holding only their own writes, as the node's are. (The test
//! crate's `MemoryExternalities` copies the whole state at every nested transaction, which
//! with a million accounts would measure that copy, not the runtime.)

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, SamplingMode, Throughput};
use parity_scale_codec::{Decode, Encode};
use sp_core::{sr25519, Pair};
use std::any::Any;
use std::collections::BTreeMap;
use std::ops::Bound;
use std::time::{Duration, Instant};
use watt_primitives::abi::{ApplyBlockInput, ApplyBlockOutput, ApplyResult, ChainContext, ChainParams, GenesisConfig};
use watt_primitives::economy::{EconomyGenesis, EconomyParams, Role};
use watt_primitives::{AccountId, Balance, SignedTransaction, Transaction, TxOutcome, UNIT};
use watt_runtime::pallet_rewards;
use watt_runtime::{api, RuntimeCall, RuntimeEvent};
use watt_support::externalities::{execute_with, Externalities};
use watt_support::Origin;

/// In-memory state with overlay transactions: committed state in a map, each nested
/// transaction a map of its own writes (`None` = cleared) over its parent. Reads look through
/// the layers top-down; commit folds the top layer into the one below; rollback drops it.
#[derive(Clone, Default)]
struct OverlayExt {
    state: BTreeMap<Vec<u8>, Vec<u8>>,
    layers: Vec<BTreeMap<Vec<u8>, Option<Vec<u8>>>>,
    /// Storage calls made by the runtime, to show how much work a block does.
    ops: Ops,
}

/// Counts of the runtime's storage calls.
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
struct Ops {
    reads: u64,
    writes: u64,
    next_keys: u64,
}

impl std::ops::Sub for Ops {
    type Output = Ops;
    fn sub(self, o: Ops) -> Ops {
        Ops {
            reads: self.reads - o.reads,
            writes: self.writes - o.writes,
            next_keys: self.next_keys - o.next_keys,
        }
    }
}

impl OverlayExt {
    fn lookup(&self, key: &[u8]) -> Option<&Vec<u8>> {
        for layer in self.layers.iter().rev() {
            if let Some(v) = layer.get(key) {
                return v.as_ref();
            }
        }
        self.state.get(key)
    }

    /// Smallest key strictly above `from` in any layer or the state, live or cleared.
    fn next_candidate(&self, from: &[u8]) -> Option<Vec<u8>> {
        let range = (Bound::Excluded(from), Bound::Unbounded);
        let mut best: Option<&Vec<u8>> = self.state.range::<[u8], _>(range).next().map(|(k, _)| k);
        for layer in &self.layers {
            if let Some((k, _)) = layer.range::<[u8], _>(range).next() {
                if best.is_none_or(|b| k < b) {
                    best = Some(k);
                }
            }
        }
        best.cloned()
    }
}

impl Externalities for OverlayExt {
    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        self.ops.reads += 1;
        self.lookup(key).cloned()
    }
    fn set(&mut self, key: &[u8], value: &[u8]) {
        self.ops.writes += 1;
        match self.layers.last_mut() {
            Some(top) => {
                top.insert(key.to_vec(), Some(value.to_vec()));
            }
            None => {
                self.state.insert(key.to_vec(), value.to_vec());
            }
        }
    }
    fn clear(&mut self, key: &[u8]) {
        self.ops.writes += 1;
        match self.layers.last_mut() {
            Some(top) => {
                top.insert(key.to_vec(), None);
            }
            None => {
                self.state.remove(key);
            }
        }
    }
    fn next_key(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        self.ops.next_keys += 1;
        let mut at = key.to_vec();
        loop {
            let candidate = self.next_candidate(&at)?;
            if self.lookup(&candidate).is_some() {
                return Some(candidate);
            }
            // Cleared in an overlay: look further.
            at = candidate;
        }
    }
    fn clear_prefix(&mut self, prefix: &[u8]) -> u32 {
        let mut keys = Vec::new();
        if self.lookup(prefix).is_some() {
            keys.push(prefix.to_vec());
        }
        let mut at = prefix.to_vec();
        while let Some(k) = self.next_key(&at) {
            if !k.starts_with(prefix) {
                break;
            }
            at = k.clone();
            keys.push(k);
        }
        for k in &keys {
            self.clear(k);
        }
        keys.len() as u32
    }
    fn start_transaction(&mut self) {
        self.layers.push(BTreeMap::new());
    }
    fn commit_transaction(&mut self) {
        let Some(top) = self.layers.pop() else { return };
        match self.layers.last_mut() {
            Some(parent) => parent.extend(top),
            None => {
                for (k, v) in top {
                    match v {
                        Some(v) => {
                            self.state.insert(k, v);
                        }
                        None => {
                            self.state.remove(&k);
                        }
                    }
                }
            }
        }
    }
    fn rollback_transaction(&mut self) {
        self.layers.pop();
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}

const CHAIN: ChainContext = ChainContext { genesis_hash: [7; 32] };
/// Genesis balance of every account (pays fees and a one-unit pledge).
const START: Balance = 2_000 * UNIT;

/// The dev chain's parameters (node/chain-spec `ChainSpec::dev`): base fee 0.01 WATT, byte and
/// weight fees, block weight limit 2,000,000,000.
fn chain_params() -> ChainParams {
    ChainParams {
        existential_deposit: UNIT / 100,
        base_fee: UNIT / 100,
        byte_fee: UNIT / 100_000,
        weight_fee: 100,
        max_tx_len: 64 * 1024,
        max_block_weight: 2_000_000_000,
        // The benchmark's blocks are sized by weight alone.
        max_block_transactions: u32::MAX,
        max_block_bytes: u32::MAX,
    }
}

/// An account with no key, for states where nobody signs.
fn plain_account(i: u64) -> AccountId {
    AccountId(watt_primitives::blake2_256(&(b"bench", i).encode()))
}

/// A runtime state and the chain's next block.
struct World {
    ext: Option<OverlayExt>,
    registrar: AccountId,
    number: u64,
}

impl World {
    /// Genesis: `accounts` funded with [`START`]; `registrar` (also funded) is the registrar,
    /// sudo, the one validator with the minimum pledge, and the team account. Mainnet schedule
    /// with days of `day_blocks`.
    fn genesis(accounts: &[AccountId], registrar: AccountId, day_blocks: u64) -> World {
        let params = EconomyParams::mainnet(day_blocks);
        let mut balances: Vec<(AccountId, Balance)> = accounts.iter().map(|a| (*a, START)).collect();
        balances.push((registrar, 1_000_000 * UNIT));
        let config = GenesisConfig {
            balances,
            params: chain_params(),
            code: b"\0asm\x01\0\0\0".to_vec(),
            economy: EconomyGenesis {
                registrars: vec![registrar],
                sudo: Some(registrar),
                validators: vec![registrar],
                pledges: vec![(registrar, params.min_validator_units)],
                team: registrar,
                params,
            },
        };
        let (ext, ()) = execute_with(OverlayExt::default(), || api::build_genesis(config));
        World {
            ext: Some(ext),
            registrar,
            number: 0,
        }
    }

    fn with<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let (ext, r) = execute_with(self.ext.take().expect("state present"), f);
        self.ext = Some(ext);
        r
    }

    /// Storage calls so far.
    fn ops(&self) -> Ops {
        self.ext.as_ref().expect("state present").ops
    }

    /// Applies an empty block and returns its time and its storage calls.
    fn timed_empty_block(&mut self, number: u64) -> (Duration, Ops, ApplyBlockOutput) {
        let before = self.ops();
        let t = Instant::now();
        let out = self.apply(number, Vec::new());
        let elapsed = t.elapsed();
        (elapsed, self.ops() - before, out)
    }

    /// The registrar attests `who` (the pallet's call, as a transaction would make it).
    fn attest(&mut self, who: &[AccountId]) {
        let registrar = self.registrar;
        self.with(|| {
            for w in who {
                let mut ev: Vec<RuntimeEvent> = Vec::new();
                pallet_identity_dispatch(registrar, *w, &mut ev);
            }
        });
    }

    /// Applies block `number` with `transactions` (`number` need not follow the last one: a
    /// day is closed by the first block past its end, whatever its number).
    fn apply(&mut self, number: u64, transactions: Vec<SignedTransaction>) -> ApplyBlockOutput {
        self.number = number;
        let input = ApplyBlockInput {
            chain: CHAIN,
            number,
            parent_hash: [number as u8; 32],
            close_time: 1_000 * number,
            author: self.registrar,
            transactions,
        };
        self.with(|| api::apply_block(input))
            .expect("the block is within the chain's size limits")
    }

    /// (open day, its first block, the first block past it).
    fn today(&mut self) -> (u64, u64, u64) {
        self.with(|| {
            let t = pallet_rewards::Today::get().expect("genesis opens day 0");
            (t.day, t.start, t.start + pallet_rewards::params().day_blocks)
        })
    }
}

fn pallet_identity_dispatch(registrar: AccountId, who: AccountId, ev: &mut Vec<RuntimeEvent>) {
    watt_runtime::pallet_identity::dispatch(
        Origin::Signed(registrar),
        watt_runtime::pallet_identity::Call::Attest { who },
        ev,
    )
    .expect("the registrar attests a new account");
}

fn day_closed(out: &ApplyBlockOutput) -> Option<(u64, watt_primitives::economy::PerRole<u64>)> {
    out.events.iter().find_map(
        |r| match RuntimeEvent::decode(&mut &r.event[..]).expect("runtime events decode") {
            RuntimeEvent::Rewards(pallet_rewards::Event::DayClosed { day, shares, .. }) => Some((day, shares)),
            _ => None,
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Day rollover

/// A state of `n` funded, attested accounts; every tenth holds a one-unit pledge.
struct RolloverWorld {
    world: World,
    accounts: Vec<AccountId>,
    /// Whether the open day holds the participants of [`Self::record_day`].
    recorded: bool,
}

impl RolloverWorld {
    fn new(n: usize) -> RolloverWorld {
        let started = Instant::now();
        let accounts: Vec<AccountId> = (0..n as u64).map(plain_account).collect();
        // Days far longer than any run, so only the block the benchmark places past the end
        // of the day closes it.
        let mut world = World::genesis(&accounts, plain_account(u64::MAX), 1_000_000_000);
        world.attest(&accounts);
        world.with(|| {
            for who in accounts.iter().step_by(10) {
                let (mut ev, mut bev) = (Vec::new(), Vec::new());
                watt_runtime::pallet_pledge::bond(who, 1, &mut ev, &mut bev).expect("funded for one unit");
            }
        });
        eprintln!("rollover state of {n} accounts built in {:.1?}", started.elapsed());
        RolloverWorld {
            world,
            accounts,
            recorded: false,
        }
    }

    /// Records the open day's participants as check-ins record them: every account checks in
    /// (a pioneer share), every second one with a valid circle (a
    /// contributor share), and every fifth was referred by another account (an ambassador
    /// share for the referrer).
    fn record_day(&mut self) {
        self.recorded = true;
        let accounts = &self.accounts;
        self.world.with(|| {
            for (i, who) in accounts.iter().enumerate() {
                let mine: &[(Role, u64)] = if i % 2 == 0 {
                    &[(Role::Pioneer, 1), (Role::Contributor, 1)]
                } else {
                    &[(Role::Pioneer, 1)]
                };
                let referrer = (i % 5 == 0).then(|| &accounts[(i * 7 + 1) % accounts.len()]);
                pallet_rewards::add_shares(who, mine, referrer.map(|r| (r, Role::Ambassador)));
            }
        });
    }

    /// Removes a closed day's `Pending` entries, as the participants' claims would, so the
    /// state stays the size of one day's participants across iterations.
    fn forget_day(&mut self, day: u64) {
        let accounts = &self.accounts;
        self.world.with(|| {
            for who in accounts {
                pallet_rewards::Pending::remove(who, &day);
            }
        });
    }

    /// The expected shares of a day recorded by [`Self::record_day`].
    fn expected(&self) -> (u64, u64, u64) {
        let n = self.accounts.len() as u64;
        (n, n.div_ceil(2), n.div_ceil(5))
    }
}

fn check_closed(out: &ApplyBlockOutput, day: u64, expected: (u64, u64, u64)) {
    let (closed, shares) = day_closed(out).expect("the boundary block closes the day");
    assert_eq!(closed, day);
    assert_eq!(
        (
            shares.get(Role::Pioneer),
            shares.get(Role::Contributor),
            shares.get(Role::Ambassador)
        ),
        expected
    );
}

fn participants() -> Vec<usize> {
    list_env("WATT_BENCH_PARTICIPANTS", &[1, 10_000, 1_000_000])
}

fn list_env(name: &str, default: &[usize]) -> Vec<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .split(',')
            .map(|s| s.trim().parse().unwrap_or_else(|_| panic!("{name}: not a number: {s}")))
            .collect(),
        Err(_) => default.to_vec(),
    }
}

/// Writes a buffer larger than the CPU caches, so the next block finds none of the state in
/// them (the cold case, whatever the number of participants).
fn evict_caches() {
    let mut buf = vec![1u8; 256 << 20];
    for i in (0..buf.len()).step_by(64) {
        buf[i] = buf[i].wrapping_add(i as u8);
    }
    std::hint::black_box(&buf);
}

fn rollover(c: &mut Criterion) {
    let evict = std::env::var_os("WATT_BENCH_EVICT_CACHES").is_some();
    let mut group = c.benchmark_group("rollover");
    for n in participants() {
        let mut rw = RolloverWorld::new(n);
        rw.record_day();
        // An empty block inside the open day, which holds n participants.
        group
            .sampling_mode(SamplingMode::Auto)
            .sample_size(50)
            .warm_up_time(Duration::from_millis(500))
            .measurement_time(Duration::from_secs(2));
        let mut ops = Ops::default();
        group.bench_function(BenchmarkId::new("mid_day_empty_block", n), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let (_, start, _) = rw.world.today();
                    let (elapsed, o, out) = rw.world.timed_empty_block(start + 1);
                    total += elapsed;
                    ops = o;
                    assert!(day_closed(&out).is_none());
                }
                total
            })
        });
        if ops != Ops::default() {
            eprintln!("rollover/mid_day_empty_block/{n}: storage calls per block {ops:?}");
        }
        // The empty block that closes a day of n participants. Each iteration first records a
        // whole day of participants (untimed; about a second for a million), so there is one
        // iteration per sample and next to no warm-up. `close_day_empty_block` runs right
        // after the recording (caches hold the participants' entries); `..._after_block` runs
        // after an untimed empty block of the same day (caches hold what a block touches).
        group
            .sampling_mode(SamplingMode::Flat)
            .sample_size(if n > 100_000 { 10 } else { 50 })
            .warm_up_time(Duration::from_millis(1))
            .measurement_time(Duration::from_millis(1));
        for warm in [false, true] {
            let name = if warm {
                "close_day_empty_block_after_block"
            } else {
                "close_day_empty_block"
            };
            let mut ops = Ops::default();
            group.bench_function(BenchmarkId::new(name, n), |b| {
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        if !rw.recorded {
                            rw.record_day();
                        }
                        let (day, start, end) = rw.world.today();
                        if warm {
                            rw.world.apply(start + 1, Vec::new());
                        }
                        if evict {
                            evict_caches();
                        }
                        let (elapsed, o, out) = rw.world.timed_empty_block(end);
                        total += elapsed;
                        ops = o;
                        rw.recorded = false;
                        check_closed(&out, day, rw.expected());
                        rw.forget_day(day);
                    }
                    total
                })
            });
            if ops != Ops::default() {
                eprintln!("rollover/{name}/{n}: storage calls per block {ops:?}");
            }
        }
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// Check-ins against transfers

/// Accounts in the check-in state.
const CHECKIN_ACCOUNTS: usize = 10_000;
/// Transactions per measured block.
const BLOCK_TXS: usize = 2_000;

struct Signer {
    pair: sr25519::Pair,
    account: AccountId,
}

fn signer(i: u64) -> Signer {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&i.to_le_bytes());
    seed[31] = 0xee;
    let pair = sr25519::Pair::from_seed(&seed);
    let account = AccountId(pair.public().0);
    Signer { pair, account }
}

fn sign(s: &Signer, nonce: u64, call: &RuntimeCall) -> SignedTransaction {
    let tx = Transaction {
        signer: s.account,
        nonce,
        tip: 0,
        genesis: CHAIN.genesis_hash,
        call: call.encode(),
    };
    let signature = s.pair.sign(&tx.signing_payload()).0;
    SignedTransaction { tx, signature }
}

fn check_in() -> RuntimeCall {
    RuntimeCall::Presence(watt_runtime::pallet_presence::Call::CheckIn)
}

fn transfer_to(dest: AccountId) -> RuntimeCall {
    RuntimeCall::Balances(watt_runtime::pallet_balances::Call::Transfer {
        dest,
        value: parity_scale_codec::Compact(UNIT),
    })
}

/// Runs `f` over `ext` inside a storage transaction that is then rolled back, so `ext` is
/// left as it was and every iteration starts from the same state (the node too runs a block
/// over an overlay of the committed state). Opening the transaction is not timed by callers
/// that time inside `f`.
fn rolled_back<R>(ext: &mut Option<OverlayExt>, f: impl FnOnce() -> R) -> R {
    let (e, r) = execute_with(ext.take().expect("state present"), || {
        watt_support::host::with_transaction(|| Err::<(), R>(f())).unwrap_err()
    });
    *ext = Some(e);
    r
}

/// The state before a measured block, and the blocks to apply on it.
struct CheckinFixture {
    state: Option<OverlayExt>,
    number: u64,
    /// Check-ins by accounts with neither circle nor referrer (pioneer share only).
    plain: Vec<SignedTransaction>,
    /// Check-ins by accounts with a circle of 3 and a referrer (pioneer, contributor and an
    /// ambassador share: the most a check-in records).
    full: Vec<SignedTransaction>,
    /// Transfers of 1 WATT between existing accounts.
    transfers: Vec<SignedTransaction>,
}

fn checkin_fixture() -> CheckinFixture {
    let started = Instant::now();
    let signers: Vec<Signer> = (0..CHECKIN_ACCOUNTS as u64).map(signer).collect();
    let accounts: Vec<AccountId> = signers.iter().map(|s| s.account).collect();
    let mut world = World::genesis(&accounts, plain_account(u64::MAX), 1_000_000_000);
    world.attest(&accounts);
    // The second half names circles and referrers (from the first half), as its members would
    // with `set_circle` and `set_referrer`.
    let half = CHECKIN_ACCOUNTS / 2;
    world.with(|| {
        for i in half..CHECKIN_ACCOUNTS {
            let origin = Origin::Signed(accounts[i]);
            let members = (1..=3).map(|k| accounts[(i * 3 + k) % half]).collect();
            let mut ev: Vec<RuntimeEvent> = Vec::new();
            watt_runtime::pallet_presence::dispatch(
                origin,
                watt_runtime::pallet_presence::Call::SetCircle { members },
                &mut ev,
            )
            .expect("circle of three attested accounts");
            watt_runtime::pallet_presence::dispatch(
                origin,
                watt_runtime::pallet_presence::Call::SetReferrer {
                    referrer: accounts[i % half],
                },
                &mut ev,
            )
            .expect("attested referrer");
        }
    });
    // A block in the middle of day 0, so the measured block closes no day.
    world.apply(1, Vec::new());
    let plain = signers[..BLOCK_TXS].iter().map(|s| sign(s, 0, &check_in())).collect();
    let full = signers[half..half + BLOCK_TXS]
        .iter()
        .map(|s| sign(s, 0, &check_in()))
        .collect();
    let transfers = signers[..BLOCK_TXS]
        .iter()
        .enumerate()
        .map(|(i, s)| sign(s, 0, &transfer_to(accounts[(i * 7 + 3) % CHECKIN_ACCOUNTS])))
        .collect();
    eprintln!(
        "check-in state of {CHECKIN_ACCOUNTS} accounts and blocks of {BLOCK_TXS} built in {:.1?}",
        started.elapsed()
    );
    CheckinFixture {
        state: world.ext.take(),
        number: world.number,
        plain,
        full,
        transfers,
    }
}

/// Applies `txs` as the next block over the fixture's state (rolled back after); returns the
/// time of `apply_block` alone. Every transaction must succeed (a refused check-in would be
/// cheap and flatter the figure).
fn time_block(state: &mut Option<OverlayExt>, number: u64, txs: &[SignedTransaction]) -> Duration {
    let input = ApplyBlockInput {
        chain: CHAIN,
        number,
        parent_hash: [9; 32],
        close_time: 2_000,
        author: plain_account(u64::MAX),
        transactions: txs.to_vec(),
    };
    let (elapsed, out) = rolled_back(state, || {
        let t = Instant::now();
        let out = api::apply_block(input).expect("the block is within the chain's size limits");
        (t.elapsed(), out)
    });
    assert!(day_closed(&out).is_none(), "the measured block must not close a day");
    assert_eq!(out.results.len(), txs.len());
    for (i, r) in out.results.iter().enumerate() {
        match r {
            ApplyResult::Included(rc) => assert_eq!(rc.outcome, TxOutcome::Success, "transaction {i}"),
            ApplyResult::Invalid(e) => panic!("transaction {i} invalid: {e}"),
        }
    }
    elapsed
}

/// How many keys of the state applying `txs` on it changes (each one a leaf of the node's
/// state tree to rewrite or insert).
fn keys_changed(state: &OverlayExt, number: u64, txs: &[SignedTransaction]) -> usize {
    let input = ApplyBlockInput {
        chain: CHAIN,
        number,
        parent_hash: [9; 32],
        close_time: 2_000,
        author: plain_account(u64::MAX),
        transactions: txs.to_vec(),
    };
    let (after, _) = execute_with(state.clone(), || api::apply_block(input));
    let written = after
        .state
        .iter()
        .filter(|(k, v)| state.state.get(*k) != Some(*v))
        .count();
    let removed = state.state.keys().filter(|k| !after.state.contains_key(*k)).count();
    written + removed
}

/// Dispatches the transactions' calls alone over the fixture's state (rolled back after),
/// each in its own storage transaction as `apply_block` does, but without signature, nonce
/// and fee: the pallets' own cost.
fn time_dispatch(state: &mut Option<OverlayExt>, txs: &[SignedTransaction]) -> Duration {
    let calls: Vec<(AccountId, RuntimeCall)> = txs
        .iter()
        .map(|t| {
            let call = RuntimeCall::decode(&mut &t.tx.call[..]).expect("our calls decode");
            (t.tx.signer, call)
        })
        .collect();
    rolled_back(state, || {
        let t = Instant::now();
        for (who, call) in calls {
            let mut events = Vec::new();
            watt_support::host::with_transaction(|| call.dispatch(Origin::Signed(who), &mut events))
                .expect("every call succeeds");
        }
        t.elapsed()
    })
}

fn checkin_block(c: &mut Criterion) {
    let CheckinFixture {
        mut state,
        number,
        plain,
        full,
        transfers,
    } = checkin_fixture();
    let mut group = c.benchmark_group("checkin_block");
    group
        .sampling_mode(SamplingMode::Flat)
        .sample_size(20)
        .measurement_time(Duration::from_secs(10))
        .throughput(Throughput::Elements(BLOCK_TXS as u64));
    let kinds: [(&str, &Vec<SignedTransaction>); 3] = [
        ("transfers", &transfers),
        ("checkins_pioneer_only", &plain),
        ("checkins_all_roles", &full),
    ];
    for (name, txs) in kinds {
        let before = state.as_ref().expect("state present").ops;
        time_block(&mut state, number + 1, txs);
        let ops = state.as_ref().expect("state present").ops - before;
        let changed = keys_changed(state.as_ref().expect("state present"), number + 1, txs);
        eprintln!("checkin_block/apply_block_{name}: storage calls per block {ops:?}, {changed} keys changed");
        group.bench_function(BenchmarkId::new(format!("apply_block_{name}"), BLOCK_TXS), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| time_block(&mut state, number + 1, txs)).sum())
        });
    }
    for (name, txs) in kinds {
        group.bench_function(BenchmarkId::new(format!("dispatch_only_{name}"), BLOCK_TXS), |b| {
            b.iter_custom(|iters| (0..iters).map(|_| time_dispatch(&mut state, txs)).sum())
        });
    }
    group.finish();
}

// ---------------------------------------------------------------------------------------------
// Claims

/// Other accounts checking in every day beside the claimant.
const CLAIM_OTHERS: u64 = 1_000;

/// A state where the claimant checked in (pioneer and contributor shares) on each of `days`
/// closed days, with [`CLAIM_OTHERS`] others checking in each of those days too, and never
/// claimed.
fn claim_fixture(days: usize) -> (Option<OverlayExt>, AccountId) {
    let claimant = plain_account(1 << 40);
    let others: Vec<AccountId> = (0..CLAIM_OTHERS).map(plain_account).collect();
    let mut all = others.clone();
    all.push(claimant);
    let mut world = World::genesis(&all, plain_account(u64::MAX), 1_000_000_000);
    for _ in 0..days {
        let (day, _, end) = world.today();
        world.with(|| {
            pallet_rewards::add_share(&claimant, Role::Pioneer, 1);
            pallet_rewards::add_share(&claimant, Role::Contributor, 1);
            for o in &others {
                pallet_rewards::add_share(o, Role::Pioneer, 1);
            }
        });
        let out = world.apply(end, Vec::new());
        assert_eq!(day_closed(&out).map(|(d, _)| d), Some(day));
    }
    (world.ext.take(), claimant)
}

/// Claims `claimant` makes to settle `days` closed days: one claim settles at most
/// `pallet_rewards::MAX_DAYS_PER_CLAIM` of them.
fn claims_needed(days: usize) -> usize {
    days.div_ceil(pallet_rewards::MAX_DAYS_PER_CLAIM).max(1)
}

fn claim(c: &mut Criterion) {
    let mut group = c.benchmark_group("claim");
    group.sample_size(30).measurement_time(Duration::from_secs(5));
    for days in list_env("WATT_BENCH_DAYS", &[1, 10, 100, 128, 365]) {
        let started = Instant::now();
        let (mut state, claimant) = claim_fixture(days);
        let claims = claims_needed(days);
        eprintln!(
            "claim state of {days} closed days built in {:.1?}; {claims} claim(s) settle them",
            started.elapsed()
        );
        // Once, untimed: each claim pays, and together they leave no closed day unclaimed.
        let unclaimed_after = rolled_back(&mut state, || {
            for _ in 0..claims {
                let (mut ev, mut bev) = (Vec::new(), Vec::new());
                let paid = pallet_rewards::claim(&claimant, &mut ev, &mut bev);
                assert!(paid.expect("the claimant has closed days to claim") > 0);
            }
            pallet_rewards::rewards_info(&claimant).unclaimed_days
        });
        assert_eq!(unclaimed_after, 0, "{claims} claim(s) settle {days} closed days");
        group.throughput(Throughput::Elements(days as u64));
        let mut ops = Ops::default();
        group.bench_function(BenchmarkId::new("unclaimed_days", days), |b| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let before = state.as_ref().expect("state present").ops;
                    let elapsed = rolled_back(&mut state, || {
                        let (mut ev, mut bev) = (Vec::new(), Vec::new());
                        let t = Instant::now();
                        for _ in 0..claims {
                            pallet_rewards::claim(&claimant, &mut ev, &mut bev).expect("claimable");
                        }
                        t.elapsed()
                    });
                    ops = state.as_ref().expect("state present").ops - before;
                    total += elapsed;
                }
                total
            })
        });
        if ops != Ops::default() {
            eprintln!("claim/unclaimed_days/{days}: storage calls of the {claims} claim(s) {ops:?}");
        }
    }
    group.finish();
}

criterion_group!(benches, rollover, checkin_block, claim);
criterion_main!(benches);
