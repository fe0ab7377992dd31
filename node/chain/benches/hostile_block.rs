//! Host functions against time, and the worst block a contract caller can fill (BENCHMARKS.md,
//! "Hostile contract blocks and host-function gas").
//!
//! Every host function a contract calls is relayed from the node's contract sandbox back into
//! the wasm runtime (`watt_sandbox_env`) and served there by the contracts pallet, which
//! charges `Schedule` gas for it. Gas is meant to be about a nanosecond, so that a block's
//! weight (a call weighs `CALL_BASE_WEIGHT` + its gas limit) bounds its time.
//!
//! 1. **Host functions, ns per gas.** For each host function (and a few argument sizes), a WAT
//!    contract whose `call` runs it N times in a loop is dry-run on a dev chain
//!    (`Query::ContractCall`, the wasm runtime, as RPC does) at N and N/2 calls; one host call's
//!    gas and time are the differences (what the call does once cancels), ns per gas their
//!    quotient. Time: the fastest of `WATT_BENCH_REPS` (default 5) dry-runs at each N.
//! 2. **The worst block.** Blocks filled to the dev chain's `max_block_weight` (2 × 10^9):
//!    contract calls each running one shape (the worst host function found in 1, others named
//!    by `WATT_BENCH_BLOCKS`, the dependent-load chase over 1 MiB, empty calls) at the largest
//!    gas limit that shape can use (at most `max_gas_per_call` less the base, so two calls fill
//!    a block), against a block of plain balance transfers filling the same weight (10,000 of
//!    200,000). Timed: `produce_block` (the pool's transactions applied through the wasm runtime
//!    and committed, synced) and a follower's `import_block` of the same block; beside them,
//!    one transaction's dry-run times the number of transactions (execution alone, so produce
//!    less that is about the commit). Every transaction must succeed.
//!
//! `WATT_BENCH_SCHEDULE=proposed` measures under the proposed schedule (Root sets it first);
//! `=proposed_call` also sets `call` to the proposed instantiation cost.
//!
//! `cargo bench -p watt-chain --bench hostile_block` (plain `harness = false` main; prints
//! markdown tables on stderr). `WATT_BENCH_ONLY=host` skips the blocks; `WATT_BENCH_BLOCKS` is
//! a comma-separated list of case names for the blocks (default: the worst of part 1,
//! `set_storage_new_32B`, `transfer_new_account`, `instantiate`, `sr25519_verify_invalid`,
//! `deposit_event_4x32_1KiB`); `WATT_BENCH_FOLLOWER=0` skips the follower imports. About 75 s
//! after the build; the chains live in temporary directories, removed at the end.

use parity_scale_codec::Encode;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use watt_chain::test_utils::{dev_spec, keyring};
use watt_chain::{Chain, ChainConfig, ChainSpec};
use watt_client::{sign, transfer_call, Keypair};
use watt_primitives::abi::{Query, QueryResult};
use watt_primitives::contracts::{address_preimage, CallRequest, ExecResult};
use watt_primitives::{blake2_256, AccountId, Balance, Block, SignedTransaction, TxOutcome, UNIT};
use watt_runtime::pallet_contracts::{Call, Schedule, CALL_BASE_WEIGHT};
use watt_runtime::RuntimeCall;

/// Weight of a balance transfer (`pallet_balances::TRANSFER_WEIGHT`).
const TRANSFER_WEIGHT: u64 = 200_000;
/// Senders funded at genesis: enough for a block of the smallest contract calls.
const SENDERS: usize = 14_000;

/// Every `watt_v1` function, imported by every case (unused imports cost only code bytes).
const IMPORTS: &str = r#"
  (import "watt_v1" "input" (func $input (param i32 i32) (result i32)))
  (import "watt_v1" "return_value" (func $ret (param i32 i32 i32)))
  (import "watt_v1" "set_storage" (func $set (param i32 i32 i32 i32) (result i32)))
  (import "watt_v1" "get_storage" (func $get (param i32 i32 i32 i32) (result i32)))
  (import "watt_v1" "clear_storage" (func $clear (param i32 i32) (result i32)))
  (import "watt_v1" "contains_storage" (func $contains (param i32 i32) (result i32)))
  (import "watt_v1" "caller" (func $caller (param i32)))
  (import "watt_v1" "address" (func $address (param i32)))
  (import "watt_v1" "value_transferred" (func $value_transferred (param i32)))
  (import "watt_v1" "balance" (func $balance (param i32)))
  (import "watt_v1" "balance_of" (func $balance_of (param i32 i32)))
  (import "watt_v1" "block_number" (func $block_number (result i64)))
  (import "watt_v1" "now" (func $now (result i64)))
  (import "watt_v1" "gas_left" (func $gas_left (result i64)))
  (import "watt_v1" "is_contract" (func $is_contract (param i32) (result i32)))
  (import "watt_v1" "code_hash" (func $code_hash (param i32 i32) (result i32)))
  (import "watt_v1" "transfer" (func $transfer (param i32 i32) (result i32)))
  (import "watt_v1" "deposit_event" (func $event (param i32 i32 i32 i32)))
  (import "watt_v1" "call" (func $call (param i32 i32 i32 i32 i64 i32 i32) (result i32)))
  (import "watt_v1" "instantiate" (func $instantiate (param i32 i32 i32 i32 i32 i32 i64 i32 i32 i32) (result i32)))
  (import "watt_v1" "hash_blake2_256" (func $hash256 (param i32 i32 i32)))
  (import "watt_v1" "hash_blake2_128" (func $hash128 (param i32 i32 i32)))
  (import "watt_v1" "sr25519_verify" (func $verify (param i32 i32 i32 i32) (result i32)))
  (import "watt_v1" "debug_message" (func $debug (param i32 i32) (result i32)))"#;

/// Memory of a case (one page):
/// - 0: input capacity/length word; 16: input = N (u32), base (u32), then the payload:
///   24 an address (Bob or a callee), 56 the empty callee's code hash, 88 a signature, 152 its
///   public key, 184 its 32-byte message;
/// - 4200: a 32-byte key / account / salt buffer: (i + base) as u32, a tag byte, zeros;
/// - 4300 / 4400 / 4500: keys "small" (32-byte value), "big" (16 KiB value), "missing";
/// - 4600: u128 1; 4620: u128 0; 4640: u128 the dev chain's existential deposit (UNIT / 100);
/// - 4700: 4 topics (128 bytes);
/// - 4896 / 4900: output length words; 4904: 32 bytes of output;
/// - 8192..24576: 16 KiB of xorshift bytes (values, event data, hash input);
/// - 32768..49152: an output buffer of 16 KiB.
fn case_module(body: &str) -> String {
    format!(
        r#"(module {IMPORTS}
  (memory (export "memory") 1 1)
  (data (i32.const 4300) "small")
  (data (i32.const 4400) "big")
  (data (i32.const 4500) "missing")
  (data (i32.const 4600) "\01")
  (data (i32.const 4640) "\00\e4\0b\54\02")
  (data (i32.const 4700) "topic-0 topic-1 topic-2 topic-3 topic-4 topic-5 topic-6 topic-7 topic-8 topic-9 topic-a topic-b topic-c topic-d topic-e topic-f ")
  (func $fill (local $b i32) (local $p i32)
    (local.set $b (i32.const 0x2545f491))
    (local.set $p (i32.const 8192))
    (loop $f
      (local.set $b (i32.xor (local.get $b) (i32.shl (local.get $b) (i32.const 13))))
      (local.set $b (i32.xor (local.get $b) (i32.shr_u (local.get $b) (i32.const 17))))
      (local.set $b (i32.xor (local.get $b) (i32.shl (local.get $b) (i32.const 5))))
      (i32.store (local.get $p) (local.get $b))
      (br_if $f (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 4))) (i32.const 24576)))))
  (func $read_input
    (i32.store (i32.const 0) (i32.const 4096))
    (drop (call $input (i32.const 16) (i32.const 0))))
  ;; deploy(small keys u32, big keys u32): the "small" and "big" values, then tag-1 keys with
  ;; 32-byte values and tag-2 keys with 16 KiB values (for the clears).
  (func (export "deploy") (local $j i32)
    (call $read_input)
    (call $fill)
    (drop (call $set (i32.const 4300) (i32.const 32) (i32.const 8192) (i32.const 32)))
    (drop (call $set (i32.const 4400) (i32.const 32) (i32.const 8192) (i32.const 16384)))
    (block $d1 (loop $l1
      (br_if $d1 (i32.ge_u (local.get $j) (i32.load (i32.const 16))))
      (i32.store (i32.const 4200) (local.get $j)) (i32.store8 (i32.const 4204) (i32.const 1))
      (drop (call $set (i32.const 4200) (i32.const 32) (i32.const 8192) (i32.const 32)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $l1)))
    (local.set $j (i32.const 0))
    (block $d2 (loop $l2
      (br_if $d2 (i32.ge_u (local.get $j) (i32.load (i32.const 20))))
      (i32.store (i32.const 4200) (local.get $j)) (i32.store8 (i32.const 4204) (i32.const 2))
      (drop (call $set (i32.const 4200) (i32.const 32) (i32.const 8192) (i32.const 16384)))
      (local.set $j (i32.add (local.get $j) (i32.const 1)))
      (br $l2))))
  ;; call(N u32, base u32, payload): the body N times; returns the OR of the checked codes.
  (func (export "call") (local $i i32) (local $n i32) (local $base i32) (local $r i32)
    (call $read_input)
    (call $fill)
    (local.set $n (i32.load (i32.const 16)))
    (local.set $base (i32.load (i32.const 20)))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      {body}
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (i32.store (i32.const 4896) (local.get $r))
    (call $ret (i32.const 0) (i32.const 4896) (i32.const 4))))"#
    )
}

/// Writes (i + base) and `tag` into the key buffer at 4200.
fn key(tag: u8) -> String {
    format!(
        "(i32.store (i32.const 4200) (i32.add (local.get $i) (local.get $base))) (i32.store8 (i32.const 4204) (i32.const {tag}))"
    )
}

/// ORs a host function's return code into `$r` (checked: the contract returns it).
fn check(expr: &str) -> String {
    format!("(local.set $r (i32.or (local.get $r) {expr}))")
}

/// ORs "the key was missing" (the function returned `NONE`) into `$r`.
fn check_present(expr: &str) -> String {
    check(&format!("(i32.eq {expr} (i32.const -1))"))
}

/// What the payload's address is.
#[derive(Clone, Copy, PartialEq)]
enum Addr {
    Bob,
    Callee,
    Callee16,
}

/// One host-function case.
struct Case {
    name: &'static str,
    /// What the schedule charges for one call (for the table).
    charged: &'static str,
    body: String,
    /// Host calls per measured call (the long run; the short one makes half).
    n: u32,
    /// Most host calls one transaction may make (limits per transaction, prefilled keys).
    cap: u32,
    /// The payload's address.
    addr: Addr,
    /// Prefilled (small, big) keys.
    fill: (u32, u32),
    /// Value endowed at instantiation.
    endow: Balance,
    /// Whether a block of it may be built (it needs nothing a transaction uses up).
    blockable: bool,
}

fn cases() -> Vec<Case> {
    let c = |name, charged, body: String, n| Case {
        name,
        charged,
        body,
        n,
        cap: u32::MAX,
        addr: Addr::Bob,
        fill: (0, 0),
        endow: 0,
        blockable: true,
    };
    let get = |k: u32| {
        format!(
            "(i32.store (i32.const 4900) (i32.const 16384)) {}",
            check(&format!(
                "(call $get (i32.const {k}) (i32.const 32) (i32.const 32768) (i32.const 4900))"
            ))
        )
    };
    let out_len = "(i32.store (i32.const 4896) (i32.const 1024))";
    vec![
        c("block_number", "host_call", "(drop (call $block_number))".into(), 40_000),
        c("gas_left", "host_call", "(drop (call $gas_left))".into(), 40_000),
        c("now", "host_call", "(drop (call $now))".into(), 40_000),
        c("caller", "host_call + 32 B", "(call $caller (i32.const 4904))".into(), 40_000),
        c(
            "value_transferred",
            "host_call + 16 B",
            "(call $value_transferred (i32.const 4904))".into(),
            40_000,
        ),
        c(
            "input_216B",
            "host_call + 224 B",
            format!("{out_len} (drop (call $input (i32.const 32768) (i32.const 4896)))"),
            30_000,
        ),
        c(
            "debug_message_0B",
            "host_call",
            "(drop (call $debug (i32.const 8192) (i32.const 0)))".into(),
            40_000,
        ),
        c("balance", "host_call + storage_read + 16 B", "(call $balance (i32.const 4904))".into(), 5_000),
        c(
            "balance_of",
            "host_call + storage_read + 48 B",
            "(call $balance_of (i32.const 24) (i32.const 4904))".into(),
            5_000,
        ),
        Case {
            addr: Addr::Callee,
            ..c(
                "is_contract",
                "host_call + storage_read + 32 B",
                check("(i32.eqz (call $is_contract (i32.const 24)))"),
                5_000,
            )
        },
        Case {
            addr: Addr::Callee,
            ..c(
                "code_hash",
                "host_call + storage_read + 64 B",
                check("(call $code_hash (i32.const 24) (i32.const 4904))"),
                5_000,
            )
        },
        c("get_storage_32B", "host_call + storage_read + 2×32 B + 72 B", get(4300), 5_000),
        c("get_storage_16KiB", "host_call + storage_read + 3×16 KiB + 40 B", get(4400), 300),
        c(
            "get_storage_missing",
            "host_call + storage_read + 32 B",
            "(i32.store (i32.const 4900) (i32.const 16384)) (drop (call $get (i32.const 4500) (i32.const 32) (i32.const 32768) (i32.const 4900)))".into(),
            5_000,
        ),
        c(
            "contains_storage_32B",
            "host_call + storage_read + 32 B + 2×32 B",
            check_present("(call $contains (i32.const 4300) (i32.const 32))"),
            5_000,
        ),
        c(
            "contains_storage_16KiB",
            "host_call + storage_read + 32 B + 2×16 KiB",
            check_present("(call $contains (i32.const 4400) (i32.const 32))"),
            400,
        ),
        c(
            "set_storage_overwrite_32B",
            "host_call + storage_write + 51×32 + 32 B + 2×32 B",
            check_present("(call $set (i32.const 4300) (i32.const 32) (i32.const 8192) (i32.const 32))"),
            1_500,
        ),
        c(
            "set_storage_overwrite_16KiB",
            "host_call + storage_write + 51×16 KiB + 32 B + 2×16 KiB",
            check_present("(call $set (i32.const 4400) (i32.const 32) (i32.const 8192) (i32.const 16384))"),
            24,
        ),
        c(
            "set_storage_new_32B",
            "host_call + storage_write + 51×32 + 32 B",
            format!(
                "{} {}",
                key(3),
                check("(i32.ne (call $set (i32.const 4200) (i32.const 32) (i32.const 8192) (i32.const 32)) (i32.const -1))")
            ),
            1_500,
        ),
        c(
            "set_storage_new_16KiB",
            "host_call + storage_write + 51×16 KiB + 32 B",
            format!(
                "{} {}",
                key(4),
                check("(i32.ne (call $set (i32.const 4200) (i32.const 32) (i32.const 8192) (i32.const 16384)) (i32.const -1))")
            ),
            24,
        ),
        c(
            "clear_storage_missing",
            "host_call + storage_write + 32 B",
            "(drop (call $clear (i32.const 4500) (i32.const 32)))".into(),
            2_000,
        ),
        Case {
            cap: 20_000,
            fill: (20_000, 0),
            blockable: false,
            ..c(
                "clear_storage_32B",
                "host_call + storage_write + 32 B + 2×32 B",
                format!("{} {}", key(1), check_present("(call $clear (i32.const 4200) (i32.const 32))")),
                2_000,
            )
        },
        Case {
            cap: 600,
            fill: (0, 600),
            blockable: false,
            ..c(
                "clear_storage_16KiB",
                "host_call + storage_write + 32 B + 2×16 KiB",
                format!("{} {}", key(2), check_present("(call $clear (i32.const 4200) (i32.const 32))")),
                200,
            )
        },
        Case {
            endow: 10_000 * UNIT,
            ..c(
                "transfer",
                "host_call + transfer + 48 B",
                check("(call $transfer (i32.const 24) (i32.const 4600))"),
                1_500,
            )
        },
        Case {
            endow: 10_000 * UNIT,
            ..c(
                "transfer_new_account",
                "host_call + transfer + 48 B",
                format!("{} {}", key(5), check("(call $transfer (i32.const 4200) (i32.const 4640))")),
                1_500,
            )
        },
        Case {
            cap: 1_024,
            ..c(
                "deposit_event_0",
                "host_call + event",
                "(call $event (i32.const 4700) (i32.const 0) (i32.const 8192) (i32.const 0))".into(),
                1_000,
            )
        },
        Case {
            // 256 KiB of event bytes a transaction, 32 a topic counted.
            cap: (256 * 1024) / (1024 + 128),
            ..c(
                "deposit_event_4x32_1KiB",
                "host_call + event + 4 event_topic + 101×1 KiB + 128 B",
                "(call $event (i32.const 4700) (i32.const 4) (i32.const 8192) (i32.const 1024))".into(),
                200,
            )
        },
        c(
            "hash_blake2_256_0B",
            "host_call + hash + 32 B",
            "(call $hash256 (i32.const 8192) (i32.const 0) (i32.const 4904))".into(),
            40_000,
        ),
        c(
            "hash_blake2_256_1KiB",
            "host_call + hash + 1 KiB + 32 B",
            "(call $hash256 (i32.const 8192) (i32.const 1024) (i32.const 4904))".into(),
            10_000,
        ),
        c(
            "hash_blake2_256_16KiB",
            "host_call + hash + 16 KiB + 32 B",
            "(call $hash256 (i32.const 8192) (i32.const 16384) (i32.const 4904))".into(),
            1_000,
        ),
        // The node remembers valid (key, signature, message) triples: the same valid one is a
        // cache hit after the first; an invalid one (the message changed) is checked each time.
        c(
            "sr25519_verify_valid_same",
            "host_call + sr25519_verify + 128 B",
            check("(call $verify (i32.const 88) (i32.const 152) (i32.const 184) (i32.const 32))"),
            300,
        ),
        c(
            "sr25519_verify_invalid",
            "host_call + sr25519_verify + 128 B",
            "(i32.store (i32.const 184) (i32.add (local.get $i) (local.get $base))) \
             (drop (call $verify (i32.const 88) (i32.const 152) (i32.const 184) (i32.const 32)))"
                .into(),
            300,
        ),
        Case {
            addr: Addr::Callee,
            ..c(
                "call_empty",
                "host_call + call + code load + callee + 56 B",
                format!(
                    "{out_len} {}",
                    check("(call $call (i32.const 24) (i32.const 4620) (i32.const 8192) (i32.const 0) (i64.const 0) (i32.const 32768) (i32.const 4896))")
                ),
                800,
            )
        },
        Case {
            addr: Addr::Callee16,
            ..c(
                "call_16_pages_touched",
                "host_call + call + code load + callee (15 memory_page) + 56 B",
                format!(
                    "{out_len} {}",
                    check("(call $call (i32.const 24) (i32.const 4620) (i32.const 8192) (i32.const 0) (i64.const 0) (i32.const 32768) (i32.const 4896))")
                ),
                200,
            )
        },
        c(
            "instantiate",
            "host_call + call + code load + callee + 88 B",
            format!(
                "{} {out_len} {}",
                key(6),
                check("(call $instantiate (i32.const 56) (i32.const 4620) (i32.const 8192) (i32.const 0) (i32.const 4200) (i32.const 8) (i64.const 0) (i32.const 4904) (i32.const 32768) (i32.const 4896))")
            ),
            800,
        ),
    ]
}

/// The callees: empty, and one declaring 16 pages that touches each 4 KiB of them.
const CALLEE_EMPTY: &str = r#"(module (memory (export "memory") 1 1) (func (export "deploy")) (func (export "call")))"#;
const CALLEE_16: &str = r#"(module (memory (export "memory") 16 16) (func (export "deploy"))
  (func (export "call") (local $p i32)
    (loop $l
      (i32.store (local.get $p) (local.get $p))
      (br_if $l (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 4096))) (i32.const 1048576))))))"#;

/// The worst instruction class of BENCHMARKS.md ("Gas per instruction class"): a dependent
/// load chase over 1 MiB (random word offsets prefilled), 64 loads a turn, N turns.
fn chase_module() -> String {
    let mut loads = String::new();
    for k in 0..64 {
        let _ = writeln!(loads, "        i32.load offset={}", 4 * k);
    }
    format!(
        r#"(module
  (import "watt_v1" "input" (func $input (param i32 i32) (result i32)))
  (memory (export "memory") 16 16)
  (func (export "deploy"))
  (func (export "call") (local $n i32) (local $a i32) (local $b i32) (local $p i32)
    (i32.store (i32.const 0) (i32.const 8))
    (drop (call $input (i32.const 16) (i32.const 0)))
    (local.set $n (i32.load (i32.const 16)))
    (local.set $b (i32.const 0x2545f491))
    (local.set $p (i32.const 0))
    (loop $fill
      (local.set $b (i32.xor (local.get $b) (i32.shl (local.get $b) (i32.const 13))))
      (local.set $b (i32.xor (local.get $b) (i32.shr_u (local.get $b) (i32.const 17))))
      (local.set $b (i32.xor (local.get $b) (i32.shl (local.get $b) (i32.const 5))))
      (i32.store (local.get $p) (i32.and (local.get $b) (i32.const 0x000ffefc)))
      (br_if $fill (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 4))) (i32.const 1048576))))
    (block $done (loop $turn
      (br_if $done (i32.eqz (local.get $n)))
      local.get $a
{loads}      local.set $a
      (local.set $n (i32.sub (local.get $n) (i32.const 1)))
      (br $turn)))
    (i32.store (i32.const 0) (local.get $a))))"#
    )
}

/// The schedule proposed from this bench's figures (BENCHMARKS.md, "Hostile contract blocks and
/// host-function gas"), as far as today's fields go.
fn proposed_schedule() -> Schedule {
    Schedule {
        host_call: 800,
        hash: 400,
        storage_write: 26_000,
        transfer: 44_000,
        ..Schedule::default()
    }
}

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn address(deployer: &AccountId, code: &[u8], salt: &[u8]) -> AccountId {
    AccountId(blake2_256(&address_preimage(deployer, &blake2_256(code), salt)))
}

/// A chain (with its directory) that the bench builds blocks on.
struct Node {
    chain: Arc<Chain>,
    _dir: tempfile::TempDir,
}

fn node(spec: &ChainSpec) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let mut config = ChainConfig::default();
    config.pool.max_per_sender = 100;
    config.pool.max_count = 4 * SENDERS;
    config.pool.max_bytes = 1 << 30;
    let chain = Chain::open(dir.path(), spec, config).unwrap();
    Node { chain, _dir: dir }
}

struct Bench {
    producer: Node,
    follower: Option<Node>,
    senders: Vec<Keypair>,
    nonces: Vec<u64>,
    alice: Keypair,
    alice_nonce: u64,
    close_time: u64,
}

/// One block's times.
struct Timed {
    produce: Duration,
    import: Option<Duration>,
}

impl Bench {
    fn genesis(&self) -> watt_primitives::Hash {
        self.producer.chain.genesis_hash()
    }

    /// Submits `txs`, builds one block of all of them, checks every one succeeded, and
    /// imports it on the follower.
    fn block(&mut self, txs: &[SignedTransaction]) -> Timed {
        let chain = &self.producer.chain;
        for tx in txs {
            chain.submit(&tx.encode()).expect("pool admits");
        }
        self.close_time += 1_000;
        let t = Instant::now();
        let imported = chain
            .produce_block(self.close_time, true, false)
            .unwrap()
            .expect("a block");
        let produce = t.elapsed();
        assert_eq!(imported.tx_hashes.len(), txs.len(), "every transaction in one block");
        for h in &imported.tx_hashes {
            let receipt = chain.receipt(h).unwrap().expect("receipt");
            assert_eq!(receipt.outcome, TxOutcome::Success, "{receipt:?}");
        }
        let import = self.follower.as_ref().map(|f| {
            let block: Block = chain.block(&imported.hash).unwrap().unwrap();
            let t = Instant::now();
            f.chain.import_block(block, true, None).unwrap();
            t.elapsed()
        });
        Timed { produce, import }
    }

    fn alice_tx(&mut self, call: Call) -> SignedTransaction {
        self.alice_nonce += 1;
        sign(
            &self.alice,
            self.alice_nonce - 1,
            0,
            self.genesis(),
            &RuntimeCall::Contracts(call),
        )
    }

    fn sender_tx(&mut self, i: usize, call: &RuntimeCall) -> SignedTransaction {
        self.nonces[i] += 1;
        sign(&self.senders[i], self.nonces[i] - 1, 0, self.genesis(), call)
    }

    fn dry_run(&self, dest: AccountId, input: Vec<u8>, gas: u64) -> ExecResult {
        match self
            .producer
            .chain
            .query(&Query::ContractCall(CallRequest {
                origin: self.alice.account(),
                dest,
                value: 0,
                gas_limit: Some(gas),
                storage_deposit_limit: None,
                input,
            }))
            .unwrap()
        {
            QueryResult::ContractExec(r) => r,
            other => panic!("unexpected {other:?}"),
        }
    }
}

/// A deployed case, with its gas per host call (slope) and fixed gas (intercept).
struct Measured {
    name: &'static str,
    dest: AccountId,
    /// Builds the input for (N, base).
    payload: Vec<u8>,
    cap: u32,
    blockable: bool,
    gas_per_op: f64,
    gas_fixed: f64,
    ns_per_op: f64,
    ns_per_gas: f64,
}

fn input(n: u32, base: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = n.to_le_bytes().to_vec();
    v.extend_from_slice(&base.to_le_bytes());
    v.extend_from_slice(payload);
    v
}

/// Times dry-runs at N and N/2 host calls: (N, gas per host call, fixed gas, ns per host call).
/// N starts at `n0` and grows (to at most `cap` host calls and 0.9 × 10^9 gas) until a dry-run
/// takes about 40 ms; then `reps` dry-runs at N and at N/2, interleaved, the fastest of each
/// counting (three times as many when a dry-run still takes under 10 ms).
fn measure(
    b: &Bench,
    dest: AccountId,
    payload: &[u8],
    n0: u32,
    cap: u32,
    reps: usize,
    checked: bool,
) -> (u32, f64, f64, f64) {
    let once = |n: u32| -> (u64, Duration) {
        let t = Instant::now();
        let r = b.dry_run(dest, input(n, 0, payload), 1_000_000_000);
        let d = t.elapsed();
        let ret = r
            .result
            .unwrap_or_else(|e| panic!("dry-run failed: {e:?}: {}", String::from_utf8_lossy(&r.debug_message)));
        assert!(!ret.reverted);
        if checked {
            assert_eq!(ret.data, vec![0; 4], "a checked host call failed");
        }
        (r.gas_used, d)
    };
    let (g0, t0) = once(n0);
    let target = 0.04;
    let grow = (target / t0.as_secs_f64()).max(1.0);
    let n = ((n0 as f64 * grow) as u32)
        .min(cap)
        .min((0.9e9 * n0 as f64 / g0 as f64) as u32)
        .max(n0.min(cap))
        .max(2);
    let reps = if t0.as_secs_f64() * n as f64 / (n0 as f64) < 0.01 {
        3 * reps
    } else {
        reps
    };
    let (mut best1, mut best2, mut g1, mut g2) = (Duration::MAX, Duration::MAX, 0, 0);
    for _ in 0..reps {
        let (g, d) = once(n);
        (g1, best1) = (g, best1.min(d));
        let (g, d) = once(n / 2);
        (g2, best2) = (g, best2.min(d));
    }
    let dn = (n - n / 2) as f64;
    let per_op = (g1 - g2) as f64 / dn;
    let ns = (best1.as_secs_f64() - best2.as_secs_f64()) * 1e9 / dn;
    (n, per_op, g1 as f64 - per_op * n as f64, ns)
}

fn main() {
    let started = Instant::now();
    let reps = env_or("WATT_BENCH_REPS", 5).max(1);
    let only_host = std::env::var("WATT_BENCH_ONLY").is_ok_and(|v| v == "host");
    let with_follower = std::env::var("WATT_BENCH_FOLLOWER").map_or(true, |v| v != "0");
    // `WATT_BENCH_SCHEDULE=proposed`: Root sets the schedule BENCHMARKS.md proposes (those of
    // its changes that are fields today) before anything is measured.
    // `=proposed_call`: also `call` at the instantiation cost proposed for a new field, so the
    // instantiate block shows what that field would do (nested calls then overpay).
    let which = std::env::var("WATT_BENCH_SCHEDULE").unwrap_or_default();
    let proposed = which.starts_with("proposed");
    let schedule = match which.as_str() {
        "proposed" => proposed_schedule(),
        "proposed_call" => Schedule {
            call: 96_000,
            ..proposed_schedule()
        },
        _ => Schedule::default(),
    };

    eprintln!("hostile_block: {SENDERS} sender keys, dev genesis ...");
    let senders: Vec<Keypair> = (0..SENDERS)
        .map(|i| Keypair::from_suri(&format!("0x{:064x}", i + 1)).unwrap())
        .collect();
    let mut spec = dev_spec();
    spec.genesis
        .balances
        .extend(senders.iter().map(|s| (s.account(), (1_000_000 * UNIT).to_string())));
    let max_block_weight = spec.genesis.params.max_block_weight;
    let mut b = Bench {
        producer: node(&spec),
        follower: with_follower.then(|| node(&spec)),
        nonces: vec![0; senders.len()],
        senders,
        alice: keyring().remove(0),
        alice_nonce: 0,
        close_time: 1_000,
    };
    let bob = keyring()[1].account();
    let alice = b.alice.account();

    // Deploy: the callees, the chase and every case, in one block (the deploy gas limits are
    // small, except for the prefilled clears).
    let callee = wat::parse_str(CALLEE_EMPTY).unwrap();
    let callee16 = wat::parse_str(CALLEE_16).unwrap();
    let chase = wat::parse_str(chase_module()).unwrap();
    let cases = cases();
    let mut deploys = Vec::new();
    let instantiate =
        |code: &[u8], data: Vec<u8>, gas_limit: u64, value: Balance, salt: Vec<u8>| Call::InstantiateWithCode {
            value,
            gas_limit,
            storage_deposit_limit: None,
            code: code.to_vec(),
            data,
            salt,
        };
    for code in [&callee, &callee16, &chase] {
        deploys.push(instantiate(code, vec![], 1_000_000, 0, vec![]));
    }
    let mut codes = Vec::new();
    for (i, case) in cases.iter().enumerate() {
        let code = wat::parse_str(case_module(&case.body)).unwrap_or_else(|e| panic!("{}: {e}", case.name));
        let fill = case.fill;
        let gas = 5_000_000 + fill.0 as u64 * 12_000 + fill.1 as u64 * 900_000;
        let data = [fill.0.to_le_bytes(), fill.1.to_le_bytes()].concat();
        // Cases of the same code (differing only in their payload) need their own addresses.
        deploys.push(instantiate(&code, data, gas, case.endow, vec![i as u8]));
        codes.push(code);
    }
    let txs: Vec<_> = deploys.into_iter().map(|c| b.alice_tx(c)).collect();
    let t = b.block(&txs);
    eprintln!(
        "deployed {} contracts in one block ({:.0} ms)",
        txs.len(),
        t.produce.as_secs_f64() * 1e3
    );
    if proposed {
        let set = RuntimeCall::Contracts(Call::SetSchedule {
            schedule: schedule.clone(),
        });
        let sudo = RuntimeCall::Sudo(watt_runtime::pallet_sudo::Call::Sudo { call: Box::new(set) });
        b.alice_nonce += 1;
        let tx = sign(&b.alice, b.alice_nonce - 1, 0, b.genesis(), &sudo);
        b.block(&[tx]);
        eprintln!("Root set the proposed schedule");
    }
    let callee_addr = address(&alice, &callee, &[]);
    let callee16_addr = address(&alice, &callee16, &[]);
    let chase_addr = address(&alice, &chase, &[]);

    // The payload: address, the empty callee's code hash, a signature of a message.
    let signer = keyring().remove(2);
    let msg = blake2_256(b"hostile block");
    let payload = |addr: Addr| {
        let a = match addr {
            Addr::Bob => bob,
            Addr::Callee => callee_addr,
            Addr::Callee16 => callee16_addr,
        };
        [
            &a.0[..],
            &blake2_256(&callee),
            &signer.sign(&msg),
            &signer.account().0,
            &msg,
        ]
        .concat()
    };

    // 1. Host functions.
    eprintln!("\n## Host functions: dry-runs at N and N/2 host calls (fastest of {reps})\n");
    eprintln!("| case | charged as | N | gas per host call | µs per host call | ns/gas | gas needed at 0.8 ns/gas |");
    eprintln!("|---|---|---|---|---|---|---|");
    let mut measured = Vec::new();
    for (i, (case, code)) in cases.iter().zip(&codes).enumerate() {
        let dest = address(&alice, code, &[i as u8]);
        let p = payload(case.addr);
        let checked = case.body.contains("$r");
        let (n, per_op, fixed, ns) = measure(&b, dest, &p, case.n, case.cap, reps, checked);
        let m = Measured {
            name: case.name,
            dest,
            payload: p,
            cap: case.cap,
            blockable: case.blockable,
            gas_per_op: per_op,
            gas_fixed: fixed,
            ns_per_op: ns,
            ns_per_gas: ns / per_op,
        };
        eprintln!(
            "| {} | {} | {} | {:.0} | {:.2} | {:.2} | {:.0} |",
            m.name,
            case.charged,
            n,
            m.gas_per_op,
            m.ns_per_op / 1e3,
            m.ns_per_gas,
            m.ns_per_op / 0.8
        );
        measured.push(m);
    }
    // The chase, as an instruction-class reference: per turn of 64 loads.
    let (turns, per_turn, fixed, ns) = measure(&b, chase_addr, &[], 20_000, u32::MAX, reps, false);
    eprintln!(
        "| load chase 1 MiB (per turn of 64 loads) | 64 load + 7 | {turns} | {per_turn:.0} | {:.3} | {:.2} | {:.0} |",
        ns / 1e3,
        ns / per_turn,
        ns / 0.8
    );
    measured.push(Measured {
        name: "load_chase_1MiB",
        dest: chase_addr,
        payload: vec![],
        cap: u32::MAX,
        blockable: true,
        gas_per_op: per_turn,
        gas_fixed: fixed,
        ns_per_op: ns,
        ns_per_gas: ns / per_turn,
    });
    eprintln!(
        "\nschedule: host_call {}, per_byte {}, storage_read {} (+{}/B), storage_write {} (+{}/B), transfer {}, event {} (+{}/topic, +{}/B), call {}, code_load_per_byte {}, hash {}, sr25519_verify {}; {:.1} s so far",
        schedule.host_call,
        schedule.per_byte,
        schedule.storage_read,
        schedule.storage_read_per_byte,
        schedule.storage_write,
        schedule.storage_per_byte,
        schedule.transfer,
        schedule.event,
        schedule.event_topic,
        schedule.event_per_byte,
        schedule.call,
        schedule.code_load_per_byte,
        schedule.hash,
        schedule.sr25519_verify,
        started.elapsed().as_secs_f64()
    );
    if only_host {
        return;
    }

    // 2. Blocks filled to the weight limit.
    let worst = measured
        .iter()
        .filter(|m| m.blockable && m.name != "load_chase_1MiB")
        .max_by(|a, b| a.ns_per_gas.total_cmp(&b.ns_per_gas))
        .unwrap()
        .name;
    let names: Vec<String> = match std::env::var("WATT_BENCH_BLOCKS") {
        Ok(v) => v.split(',').map(|s| s.trim().to_string()).collect(),
        Err(_) => {
            let mut v = vec![worst.to_string()];
            for n in [
                "set_storage_new_32B",
                "transfer_new_account",
                "instantiate",
                "sr25519_verify_invalid",
                "deposit_event_4x32_1KiB",
            ] {
                if n != worst {
                    v.push(n.into());
                }
            }
            v
        }
    };
    eprintln!("\n## Blocks filled to max_block_weight = {max_block_weight} (worst host case by ns/gas: {worst})\n");
    eprintln!("| block | txs × gas limit | weight used | gas used (dry-run) | dry-runs s | produce s | import s | ns per weight (produce) | × transfers |");
    eprintln!("|---|---|---|---|---|---|---|---|---|");
    let most_gas = schedule.max_gas_per_call.min(max_block_weight / 2) - CALL_BASE_WEIGHT;

    // Transfers: 10,000 distinct senders to Bob.
    let transfers = (max_block_weight / TRANSFER_WEIGHT) as usize;
    let mut transfer_s = Vec::new();
    for round in 0..2 {
        let call = transfer_call(bob, UNIT, false);
        let txs: Vec<_> = (0..transfers).map(|i| b.sender_tx(i, &call)).collect();
        let t = b.block(&txs);
        transfer_s.push(t.produce.as_secs_f64());
        row(
            &format!("balance transfers (round {round})"),
            &format!("{transfers} transfers"),
            transfers as u64 * TRANSFER_WEIGHT,
            0,
            None,
            &t,
            max_block_weight,
            None,
        );
    }
    let transfer_s = transfer_s.iter().cloned().fold(f64::MAX, f64::min);

    // Empty contract calls at the smallest gas limit that runs them.
    {
        let need = b.dry_run(callee_addr, vec![], 1_000_000);
        assert!(need.result.is_ok());
        let gas = need.gas_used;
        let k = ((max_block_weight / (CALL_BASE_WEIGHT + gas)) as usize).min(SENDERS);
        let call = RuntimeCall::Contracts(Call::Call {
            dest: callee_addr,
            value: 0,
            gas_limit: gas,
            storage_deposit_limit: None,
            data: vec![],
        });
        let txs: Vec<_> = (0..k).map(|i| b.sender_tx(i, &call)).collect();
        let t = b.block(&txs);
        row(
            "empty contract calls",
            &format!("{k} × {gas}"),
            k as u64 * (CALL_BASE_WEIGHT + gas),
            k as u64 * gas,
            None,
            &t,
            max_block_weight,
            Some(transfer_s),
        );
    }

    let mut base = 1_000_000u32;
    for name in names.iter().map(String::as_str).chain(["load_chase_1MiB"]) {
        let Some(m) = measured.iter().find(|m| m.name == name) else {
            eprintln!("(no case named {name})");
            continue;
        };
        if !m.blockable {
            eprintln!("({name}: not built as a block: its transactions use up prefilled keys)");
            continue;
        }
        // Host calls per transaction: the most gas a call may have (a 2% margin), or the cap.
        let by_gas = ((most_gas as f64 * 0.98 - m.gas_fixed) / m.gas_per_op).floor() as u32;
        let n = by_gas.min(m.cap);
        let probe = if m.name == "load_chase_1MiB" {
            n.to_le_bytes().to_vec()
        } else {
            input(n, base, &m.payload)
        };
        let t = Instant::now();
        let dry = b.dry_run(m.dest, probe, most_gas);
        let dry_s = t.elapsed().as_secs_f64();
        assert!(dry.result.is_ok(), "{name}: {:?}", dry.result);
        let gas = (dry.gas_used + dry.gas_used / 100 + 10_000).min(most_gas);
        let k = ((max_block_weight / (CALL_BASE_WEIGHT + gas)) as usize).min(SENDERS);
        let txs: Vec<_> = (0..k)
            .map(|i| {
                let data = if m.name == "load_chase_1MiB" {
                    n.to_le_bytes().to_vec()
                } else {
                    input(n, base + (i as u32) * n, &m.payload)
                };
                let call = RuntimeCall::Contracts(Call::Call {
                    dest: m.dest,
                    value: 0,
                    gas_limit: gas,
                    storage_deposit_limit: None,
                    data,
                });
                b.sender_tx(i, &call)
            })
            .collect();
        base += (k as u32) * n;
        let t = b.block(&txs);
        row(
            &format!("{name} ({n} a tx; dry-run {:.2} ns/gas)", m.ns_per_gas),
            &format!("{k} × {gas}"),
            k as u64 * (CALL_BASE_WEIGHT + gas),
            k as u64 * dry.gas_used,
            Some(k as f64 * dry_s),
            &t,
            max_block_weight,
            Some(transfer_s),
        );
    }
    eprintln!("\n{:.1} s in all", started.elapsed().as_secs_f64());
}

/// One block's line: `exec` is the transactions' dry-runs added up (execution without the
/// commit).
#[allow(clippy::too_many_arguments)]
fn row(what: &str, txs: &str, weight: u64, gas: u64, exec: Option<f64>, t: &Timed, max: u64, transfers: Option<f64>) {
    let p = t.produce.as_secs_f64();
    eprintln!(
        "| {what} | {txs} | {:.1} % | {} | {} | {p:.3} | {} | {:.3} | {} |",
        100.0 * weight as f64 / max as f64,
        if gas > 0 {
            format!("{:.3e}", gas as f64)
        } else {
            "—".into()
        },
        exec.map_or("—".into(), |s| format!("{s:.3}")),
        t.import.map_or("—".into(), |d| format!("{:.3}", d.as_secs_f64())),
        p * 1e9 / weight as f64,
        transfers.map_or("1".into(), |s| format!("{:.2}", (p / weight as f64) / (s / max as f64)))
    );
}
