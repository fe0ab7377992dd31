//! Token transfers through contracts on a dev chain (the contracts issue, "Benchmarks"): blocks
//! of K token `transfer` calls built by a producer from its pool (`produce_block`) and imported
//! by a follower (`import_block`: signature batch, the wasm runtime, each call relayed through
//! the node's contract sandbox and back into the runtime's contracts pallet, the state root and
//! the synced rocksdb commit), against blocks of K plain balance transfers between the same
//! accounts. Plain `harness = false` main: it prints one line per measured block and a summary.
//!
//! Tokens:
//! - `sdk`: the example token (contracts/token, written with the SDK), read from
//!   `WATT_TOKEN_WASM` or `$CARGO_TARGET_DIR/wasm32-unknown-unknown/release/token.wasm`; build
//!   it first (see BENCHMARKS.md, "Contracts (issue 11)"). Skipped with a note when absent.
//! - `wat`: a hand-written token in WAT with the same input encoding (selector, `to`, `u128`
//!   amount): a transfer is `input`, `caller`, 2 storage reads, 2 writes and 1 event, the
//!   least a token can do, so the difference to `sdk` is what the SDK's code adds.
//!
//! Setup, through the same chain path: genesis funds K senders; //Alice instantiates the token
//! with the whole supply, (optionally) transfers tokens to `WATT_BENCH_HOLDERS` random accounts
//! in blocks of 10,000 (a state of many holders; receivers of the measured blocks are then
//! drawn from them), then gives each sender tokens in one block of K transfers (timed too:
//! transfers from one sender to new holders, so new storage items and deposits). Measured:
//! `WATT_BENCH_ROUNDS` rounds of one token block (sender i to a receiver) and one balance
//! block (the same pairs). Every transaction of a measured block must succeed.
//!
//! `cargo bench -p watt-chain --bench contracts` (`WATT_BENCH_TXS` = K, default 2,000;
//! `WATT_BENCH_ROUNDS`, default 3; `WATT_BENCH_HOLDERS`, default 0 = fresh state;
//! `WATT_BENCH_TOKEN=sdk|wat|both`, default both; `WATT_BENCH_GAS`, the gas limit per call,
//! default 2,000,000).

use parity_scale_codec::Encode;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use watt_chain::test_utils::{dev_spec, keyring};
use watt_chain::{Chain, ChainConfig, ChainSpec};
use watt_client::{sign, transfer_call, Keypair};
use watt_primitives::abi::{Query, QueryResult};
use watt_primitives::contracts::CallRequest;
use watt_primitives::{blake2_256, AccountId, Block, SignedTransaction, TxOutcome, UNIT};
use watt_runtime::pallet_contracts::Call;
use watt_runtime::RuntimeCall;

/// The minimal token: the same input as the SDK token's `transfer` (selector, `to`, `u128`
/// amount; the selector is not checked), balances under the 32-byte account id, a `Transfer`
/// event with topics `from`, `to` and the amount as data. `deploy` takes (selector, supply)
/// and gives the supply to the caller. Reverts when the balance is short.
const WAT_TOKEN: &str = r#"(module
  (import "watt_v1" "input" (func $input (param i32 i32) (result i32)))
  (import "watt_v1" "caller" (func $caller (param i32)))
  (import "watt_v1" "get_storage" (func $get (param i32 i32 i32 i32) (result i32)))
  (import "watt_v1" "set_storage" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "watt_v1" "deposit_event" (func $event (param i32 i32 i32 i32)))
  (import "watt_v1" "return_value" (func $ret (param i32 i32 i32)))
  (memory (export "memory") 1 1)
  ;; 0: input length word; 16: input (selector 16..20, to 20..52, amount 52..68)
  ;; 128: caller; 160: caller's balance; 176: receiver's balance; 192: value length word
  ;; 256: topics (from, to)
  (func $load_input
    (i32.store (i32.const 0) (i32.const 100))
    (if (call $input (i32.const 16) (i32.const 0)) (then unreachable)))
  (func $balance (param $key i32) (param $out i32)
    (i32.store (i32.const 192) (i32.const 16))
    (if (call $get (local.get $key) (i32.const 32) (local.get $out) (i32.const 192))
      (then (i64.store (local.get $out) (i64.const 0)) (i64.store offset=8 (local.get $out) (i64.const 0)))))
  (func (export "deploy")
    (call $load_input)
    (call $caller (i32.const 128))
    (drop (call $set (i32.const 128) (i32.const 32) (i32.const 20) (i32.const 16))))
  (func (export "call")
    (local $lo i64) (local $hi i64) (local $alo i64) (local $ahi i64)
    (call $load_input)
    (call $caller (i32.const 128))
    (call $balance (i32.const 128) (i32.const 160))
    (local.set $alo (i64.load (i32.const 52)))
    (local.set $ahi (i64.load (i32.const 60)))
    (local.set $lo (i64.load (i32.const 160)))
    (local.set $hi (i64.load (i32.const 168)))
    (if (i32.or (i64.lt_u (local.get $hi) (local.get $ahi))
                (i32.and (i64.eq (local.get $hi) (local.get $ahi)) (i64.lt_u (local.get $lo) (local.get $alo))))
      (then (call $ret (i32.const 1) (i32.const 0) (i32.const 0))))
    (i64.store (i32.const 160) (i64.sub (local.get $lo) (local.get $alo)))
    (i64.store (i32.const 168) (i64.sub (i64.sub (local.get $hi) (local.get $ahi))
                                        (i64.extend_i32_u (i64.lt_u (local.get $lo) (local.get $alo)))))
    (drop (call $set (i32.const 128) (i32.const 32) (i32.const 160) (i32.const 16)))
    (call $balance (i32.const 20) (i32.const 176))
    (local.set $lo (i64.add (i64.load (i32.const 176)) (local.get $alo)))
    (i64.store (i32.const 176) (local.get $lo))
    (i64.store (i32.const 184) (i64.add (i64.add (i64.load (i32.const 184)) (local.get $ahi))
                                        (i64.extend_i32_u (i64.lt_u (local.get $lo) (local.get $alo)))))
    (drop (call $set (i32.const 20) (i32.const 32) (i32.const 176) (i32.const 16)))
    (memory.copy (i32.const 256) (i32.const 128) (i32.const 32))
    (memory.copy (i32.const 288) (i32.const 20) (i32.const 32))
    (call $event (i32.const 256) (i32.const 2) (i32.const 52) (i32.const 16))))"#;

/// Transfers per block of the holder prefill.
const PREFILL_BLOCK: usize = 10_000;
/// Gas for the instantiation (code load and constructor).
const DEPLOY_GAS: u64 = 100_000_000;

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn selector(name: &str) -> [u8; 4] {
    let h = blake2_256(name.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

/// The SDK token's wasm as `watt contract build` would upload it, with where it came from.
fn sdk_token() -> Option<(Vec<u8>, PathBuf)> {
    let path = match std::env::var("WATT_TOKEN_WASM") {
        Ok(p) => PathBuf::from(p),
        Err(_) => std::env::var("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|_| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
            .join("wasm32-unknown-unknown/release/token.wasm"),
    };
    let raw = std::fs::read(&path).ok()?;
    let code = watt_contract::build::canonicalize_call_indirect(&raw).expect("token.wasm is a wasm module");
    Some((code, path))
}

struct Setup {
    k: usize,
    rounds: usize,
    holders: usize,
    gas: u64,
    senders: Vec<Keypair>,
    spec: ChainSpec,
}

fn config(k: usize) -> ChainConfig {
    let mut config = ChainConfig {
        max_block_txs: 1_000_000,
        max_block_bytes: 1 << 30,
        ..Default::default()
    };
    let most = k.max(PREFILL_BLOCK);
    config.pool.max_per_sender = most + 1;
    config.pool.max_count = 4 * most + 1_000;
    config.pool.max_bytes = 1 << 30;
    config
}

struct Node {
    chain: std::sync::Arc<Chain>,
    _dir: tempfile::TempDir,
}

fn node(setup: &Setup) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let chain = Chain::open(dir.path(), &setup.spec, config(setup.k)).unwrap();
    Node { chain, _dir: dir }
}

/// One block's figures.
struct Timed {
    txs: usize,
    submit: Duration,
    produce: Duration,
    import: Duration,
}

impl Timed {
    fn line(&self, what: &str) {
        let per_s = |d: Duration| self.txs as f64 / d.as_secs_f64();
        eprintln!(
            "  {what}: {} txs; pool admission {:.0}/s; produce (build + commit) {:.0} ms = {:.0}/s; follower import {:.0} ms = {:.0}/s",
            self.txs,
            per_s(self.submit),
            self.produce.as_secs_f64() * 1e3,
            per_s(self.produce),
            self.import.as_secs_f64() * 1e3,
            per_s(self.import)
        );
    }
}

struct Run {
    producer: Node,
    follower: Node,
    close_time: u64,
    alice_nonce: u64,
}

impl Run {
    /// Submits `txs`, builds one block of all of them, imports it on the follower, and checks
    /// that every transaction succeeded.
    fn block(&mut self, txs: &[SignedTransaction]) -> Timed {
        let producer = &self.producer.chain;
        let t = Instant::now();
        for tx in txs {
            producer.submit(&tx.encode()).expect("pool admits");
        }
        let submit = t.elapsed();
        self.close_time += 1_000;
        let t = Instant::now();
        let imported = producer
            .produce_block(self.close_time, true, false)
            .unwrap()
            .expect("a block");
        let produce = t.elapsed();
        assert_eq!(imported.tx_hashes.len(), txs.len(), "every transaction in one block");
        for h in &imported.tx_hashes {
            let receipt = producer.receipt(h).unwrap().expect("receipt");
            assert_eq!(receipt.outcome, TxOutcome::Success, "{receipt:?}");
        }
        let block: Block = producer.block(&imported.hash).unwrap().unwrap();
        let t = Instant::now();
        self.follower.chain.import_block(block, true, None).unwrap();
        let import = t.elapsed();
        Timed {
            txs: txs.len(),
            submit,
            produce,
            import,
        }
    }

    fn contract_call(
        &self,
        key: &Keypair,
        nonce: u64,
        dest: AccountId,
        data: Vec<u8>,
        gas_limit: u64,
    ) -> SignedTransaction {
        let call = RuntimeCall::Contracts(Call::Call {
            dest,
            value: 0,
            gas_limit,
            storage_deposit_limit: None,
            data,
        });
        sign(key, nonce, 0, self.producer.chain.genesis_hash(), &call)
    }

    fn alice_next(&mut self) -> u64 {
        self.alice_nonce += 1;
        self.alice_nonce - 1
    }
}

fn transfer_input(to: &AccountId, amount: u128) -> Vec<u8> {
    (selector("transfer"), to, amount).encode()
}

/// A pseudo-random holder account (no key: holders only receive).
fn holder(i: usize) -> AccountId {
    AccountId(blake2_256(&(b"bench-holder", i as u64).encode()))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Deploys `code`, prefills, funds the senders, and measures token and balance blocks.
fn run_token(setup: &Setup, name: &str, code: Vec<u8>) {
    let started = Instant::now();
    let alice = keyring().remove(0);
    let mut run = Run {
        producer: node(setup),
        follower: node(setup),
        close_time: 1_000,
        alice_nonce: 0,
    };
    let g = run.producer.chain.genesis_hash();
    let code_hash = blake2_256(&code);
    let supply: u128 = u128::MAX / 4;
    let deploy = sign(
        &alice,
        run.alice_next(),
        0,
        g,
        &RuntimeCall::Contracts(Call::InstantiateWithCode {
            value: 0,
            gas_limit: DEPLOY_GAS,
            storage_deposit_limit: None,
            code: code.clone(),
            data: (selector("new"), supply).encode(),
            salt: vec![],
        }),
    );
    let t = run.block(&[deploy]);
    // ABI.md "Addresses": blake2b-256("watt:contract" ++ deployer ++ code hash ++ salt).
    let token = AccountId(blake2_256(
        &[&b"watt:contract"[..], &alice.account().0, &code_hash].concat(),
    ));
    eprintln!(
        "[{name}] {} bytes of code, deployed at 0x{} (producer {:.1} ms, follower {:.1} ms, each compiling it once)",
        code.len(),
        hex::encode(token.0),
        t.produce.as_secs_f64() * 1e3,
        t.import.as_secs_f64() * 1e3
    );

    // Prefill: holders in blocks of PREFILL_BLOCK from //Alice.
    let mut done = 0;
    while done < setup.holders {
        let n = PREFILL_BLOCK.min(setup.holders - done);
        let txs: Vec<_> = (done..done + n)
            .map(|i| {
                let nonce = run.alice_next();
                run.contract_call(&alice, nonce, token, transfer_input(&holder(i), 1_000), setup.gas)
            })
            .collect();
        let t = run.block(&txs);
        done += n;
        t.line(&format!("prefill to {done} holders"));
    }

    // Fund the senders: one block of K transfers from //Alice to new holders.
    let txs: Vec<_> = setup
        .senders
        .iter()
        .map(|s| {
            let nonce = run.alice_next();
            run.contract_call(
                &alice,
                nonce,
                token,
                transfer_input(&s.account(), 1_000_000_000),
                setup.gas,
            )
        })
        .collect();
    run.block(&txs)
        .line("funding: token transfers from one sender to new holders");

    let gas_used = match run
        .producer
        .chain
        .query(&Query::ContractCall(CallRequest {
            origin: setup.senders[0].account(),
            dest: token,
            value: 0,
            gas_limit: Some(setup.gas),
            storage_deposit_limit: None,
            input: transfer_input(&setup.senders[1].account(), 1),
        }))
        .unwrap()
    {
        QueryResult::ContractExec(r) => {
            assert!(r.result.is_ok(), "dry-run transfer: {:?}", r.result);
            r.gas_used
        }
        other => panic!("unexpected {other:?}"),
    };
    eprintln!(
        "[{name}] a transfer to an existing holder uses {gas_used} gas (limit {})",
        setup.gas
    );

    let k = setup.k;
    let receiver = |round: usize, i: usize| -> AccountId {
        if setup.holders > 0 {
            holder((i * 7919 + round * 104_729) % setup.holders)
        } else {
            setup.senders[(i + 1 + round) % k].account()
        }
    };
    let (mut token_rates, mut balance_rates, mut token_build, mut balance_build) = (vec![], vec![], vec![], vec![]);
    for round in 0..setup.rounds {
        let nonce = 1 + 2 * round as u64;
        let txs: Vec<_> = setup
            .senders
            .iter()
            .enumerate()
            .map(|(i, s)| run.contract_call(s, nonce - 1, token, transfer_input(&receiver(round, i), 1), setup.gas))
            .collect();
        let t = run.block(&txs);
        t.line(&format!("round {round}: token transfers"));
        token_rates.push(k as f64 / t.import.as_secs_f64());
        token_build.push(k as f64 / t.produce.as_secs_f64());
        let txs: Vec<_> = setup
            .senders
            .iter()
            .enumerate()
            .map(|(i, s)| sign(s, nonce, 0, g, &transfer_call(receiver(round, i), UNIT, false)))
            .collect();
        let t = run.block(&txs);
        t.line(&format!("round {round}: balance transfers"));
        balance_rates.push(k as f64 / t.import.as_secs_f64());
        balance_build.push(k as f64 / t.produce.as_secs_f64());
    }
    let (ti, bi) = (median(token_rates), median(balance_rates));
    eprintln!(
        "[{name}] state: {}; blocks of {k}, median of {} rounds: token transfers {:.0}/s imported, {:.0}/s produced; balance transfers {:.0}/s imported, {:.0}/s produced; token/balance {:.0} % (import); {:.1} s in all",
        if setup.holders > 0 {
            format!("prefilled, {} token holders + {k} senders", setup.holders)
        } else {
            format!("fresh, {k} token holders (the senders)")
        },
        setup.rounds,
        ti,
        median(token_build),
        bi,
        median(balance_build),
        100.0 * ti / bi,
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; nothing here takes arguments.
    let k = env_or("WATT_BENCH_TXS", 2_000);
    let senders: Vec<Keypair> = (0..k)
        .map(|i| Keypair::from_suri(&format!("0x{:064x}", i + 1)).unwrap())
        .collect();
    let mut spec = dev_spec();
    spec.genesis
        .balances
        .extend(senders.iter().map(|s| (s.account(), (1_000 * UNIT).to_string())));
    // Room for the largest block, counted as the runtime does: the gas limit plus the base.
    spec.genesis.params.max_block_weight = 1 << 50;
    let setup = Setup {
        k,
        rounds: env_or("WATT_BENCH_ROUNDS", 3).max(1),
        holders: env_or("WATT_BENCH_HOLDERS", 0),
        gas: env_or("WATT_BENCH_GAS", 2_000_000) as u64,
        senders,
        spec,
    };
    let which = std::env::var("WATT_BENCH_TOKEN").unwrap_or_else(|_| "both".into());
    if which == "both" || which == "sdk" {
        match sdk_token() {
            Some((code, path)) => {
                eprintln!("SDK token from {}", path.display());
                run_token(&setup, "sdk token", code);
            }
            None => {
                eprintln!("SDK token: no token.wasm (set WATT_TOKEN_WASM or build contracts/token for wasm32); skipped")
            }
        }
    }
    if which == "both" || which == "wat" {
        run_token(
            &setup,
            "wat token",
            wat::parse_str(WAT_TOKEN).expect("WAT token parses"),
        );
    }
}
