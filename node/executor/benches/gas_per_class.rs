//! Gas against time, per instruction class (BENCHMARKS.md, "Gas per instruction class").
//!
//! Gas is meant to be about a nanosecond of execution on the reference machine. For each class
//! of [`InstructionCosts`] a contract's `call` export runs a loop dominated by that class (64
//! unrolled instructions of the class per loop turn, chained by data dependencies so the
//! compiler keeps them, addresses and branch conditions varying); each is called through
//! [`ContractEngine::call_pre`] (a fresh instance from a linked module, as a cached call does)
//! and timed with criterion, and the gas it used is read from [`CallOutcome`] (deterministic).
//!
//! Each case is timed at `turns` and at `turns / 2` loop turns: one turn's gas and time are the
//! differences over the difference in turns, so what a call does once (instantiating,
//! prefilling memory with random data, tearing down) cancels. Time per call is the fastest of
//! criterion's 10 samples' means (the least disturbed by whatever else the machine runs).
//!
//! Printed on stderr, for the default costs and for the costs [`BEFORE`] calibration, as a
//! markdown table:
//! - what one loop turn is made of, by class (found by compiling each contract under costs that
//!   are 1 for one class and 0 for the others; `fixed` is what every cost table adds:
//!   wasmtime's own 1 fuel per function entered and the engine's `ContractVm::memory_page` per
//!   page of memory beyond the first);
//! - gas per turn, ns per call, ns per turn and ns per gas, and the spread of the samples (the
//!   slowest over the fastest: a large one says the time flipped between modes and the
//!   difference of the two lengths is unreliable);
//! - each class at its worst case, the average of those over the classes, the worst, and
//!   worst / average (with and without `memory_grow`, which the u8 costs alone could not bring
//!   near before the engine charged `memory_page`, and without `float`, refused on chain);
//!   `touch_initial_pages` and `declared_pages` (pages declared at instantiation) have no class
//!   of their own and are left out;
//! - the empty call (instantiation, entry, teardown): ns against its gas.
//!
//! `cargo bench -p watt-executor --bench gas_per_class`

use criterion::{criterion_group, criterion_main, Criterion};
use std::fmt::Write as _;
use std::hint::black_box;
use std::time::{Duration, Instant};
use wasmtime::InstancePre;
use watt_executor::contract_engine::{ContractState, PreparedContract};
use watt_executor::{ContractEngine, ContractEngineConfig};
use watt_primitives::sandbox::{ContractVm, InstructionCosts};

/// The costs before this bench calibrated them (wasmtime's defaults, roughly), measured beside
/// the defaults to show what calibration changed (BENCHMARKS.md, "Gas per instruction class").
const BEFORE: InstructionCosts = InstructionCosts {
    simple: 1,
    branch: 1,
    load: 1,
    store: 1,
    mul: 2,
    div: 12,
    call: 4,
    call_indirect: 6,
    memory_size: 1,
    memory_grow: 255,
    memory_grow_per_page: 255,
    bulk_memory: 20,
    bulk_memory_per_byte: 1,
    float: 4,
};

/// Far more than any case uses: no case may run out.
const GAS_LIMIT: u64 = 1 << 40;

/// The names of [`InstructionCosts`]' fields, in order, and `fixed` (all costs 0).
const CLASSES: [&str; 15] = [
    "simple",
    "branch",
    "load",
    "store",
    "mul",
    "div",
    "call",
    "call_indirect",
    "memory_size",
    "memory_grow",
    "memory_grow_per_page",
    "bulk_memory",
    "bulk_memory_per_byte",
    "float",
    "fixed",
];

/// Costs that are `v` for class `i` (an index into [`CLASSES`]) and 0 for every other.
fn only(i: usize, v: u8) -> InstructionCosts {
    let c = |j: usize| if i == j { v } else { 0 };
    InstructionCosts {
        simple: c(0),
        branch: c(1),
        load: c(2),
        store: c(3),
        mul: c(4),
        div: c(5),
        call: c(6),
        call_indirect: c(7),
        memory_size: c(8),
        memory_grow: c(9),
        memory_grow_per_page: c(10),
        bulk_memory: c(11),
        bulk_memory_per_byte: c(12),
        float: c(13),
    }
}

/// One contract of the bench.
struct Case {
    /// Its name.
    name: &'static str,
    /// The class it is dominated by.
    class: &'static str,
    /// Loop turns per call.
    turns: u32,
    /// Floats allowed (validation refuses them on chain).
    floats: bool,
    /// The module for a number of turns.
    wat: fn(u32) -> String,
}

/// A module whose `call` runs `body` `turns` times, after `init`, then stores `sink`'s value.
fn looped(memory: &str, extra: &str, locals: &str, init: &str, body: &str, sink: &str, turns: u32) -> String {
    format!(
        r#"(module
  (memory (export "memory") {memory})
  {extra}
  (func (export "call") (local $n i32) (local $a i32) (local $b i32) (local $p i32) (local $d i32) (local $k i32)
    (local $x i64) (local $y i64) (local $z i64) {locals}
    {init}
    (local.set $n (i32.const {turns}))
    (loop $turn
      {body}
      (br_if $turn (local.tee $n (i32.sub (local.get $n) (i32.const 1)))))
    {sink}))"#
    )
}

/// Fills memory [start, end) with xorshift32 words masked by `mask`.
fn prefill(start: u32, end: u32, mask: u32) -> String {
    format!(
        r#"(local.set $b (i32.const 0x2545f491))
    (local.set $p (i32.const {start}))
    (loop $fill
      (local.set $b (i32.xor (local.get $b) (i32.shl (local.get $b) (i32.const 13))))
      (local.set $b (i32.xor (local.get $b) (i32.shr_u (local.get $b) (i32.const 17))))
      (local.set $b (i32.xor (local.get $b) (i32.shl (local.get $b) (i32.const 5))))
      (i32.store (local.get $p) (i32.and (local.get $b) (i32.const {mask})))
      (br_if $fill (i32.lt_u (local.tee $p (i32.add (local.get $p) (i32.const 4))) (i32.const {end}))))"#
    )
}

const SINK_A: &str = "(i32.store (i32.const 0) (local.get $a))";
const SINK_X: &str = "(i64.store (i32.const 0) (local.get $x))";

/// 64 units, `unit(k)` each.
fn units(unit: impl Fn(usize) -> String) -> String {
    let mut s = String::new();
    for k in 0..64 {
        let _ = writeln!(s, "      {}", unit(k));
    }
    s
}

/// The random table of the branch cases: bytes at 1024..57344.
const TABLE: (u32, u32) = (1024, 57344);

/// A random window of the table for this turn: a fresh xorshift32 of `$b` picks any byte
/// offset in the first 48 KiB, so the branch predictor cannot learn the outcomes.
const RANDOM_WINDOW: &str = "(local.set $b (i32.xor (local.get $b) (i32.shl (local.get $b) (i32.const 13))))
      (local.set $b (i32.xor (local.get $b) (i32.shr_u (local.get $b) (i32.const 17))))
      (local.set $b (i32.xor (local.get $b) (i32.shl (local.get $b) (i32.const 5))))
      (local.set $p (i32.add (i32.const 1024) (i32.and (local.get $b) (i32.const 0xbfff))))";

fn empty(_: u32) -> String {
    r#"(module (memory (export "memory") 1 1) (func (export "call")))"#.into()
}

/// Integer add, xor, rotate, `local.get`/`set`/`tee` in one dependency chain.
fn simple(turns: u32) -> String {
    let body = units(|k| {
        if k % 2 == 0 {
            format!(
                "local.get $n i32.add i32.const {} i32.xor",
                0x9e37_79b9u32.wrapping_mul(k as u32 + 1) as i32
            )
        } else {
            "local.tee $b local.get $n i32.rotl local.get $b i32.xor".into()
        }
    });
    looped(
        "1 1",
        "",
        "",
        "(local.set $a (i32.const 1))",
        &format!("local.get $a\n{body}      local.set $a"),
        SINK_A,
        turns,
    )
}

/// `br_if` on random bits (a table of random 0/1 bytes, the cheapest random condition: one
/// load): half the branches mispredict. Each skips one `local.set` (a branch over nothing would
/// be compiled away).
fn br_if(turns: u32) -> String {
    let body =
        units(|k| format!("(block (br_if 0 (i32.load8_u offset={k} (local.get $p))) (local.set $a (local.get $p)))"));
    looped(
        "1 1",
        "",
        "",
        &prefill(TABLE.0, TABLE.1, 0x0101_0101),
        &format!("{RANDOM_WINDOW}\n{body}"),
        SINK_A,
        turns,
    )
}

/// `br_table` of four targets on random indices (from the table); three quarters mispredict.
fn br_table(turns: u32) -> String {
    let body = units(|k| {
        format!(
            "(block $e (block (block (block (block (br_table 0 1 2 3 (i32.load8_u offset={k} (local.get $p)))) \
             (local.set $a (local.get $n)) (br $e)) (local.set $a (local.get $p)) (br $e)) \
             (local.set $a (local.get $b)) (br $e)) (local.set $a (local.get $k)))"
        )
    });
    looped(
        "1 1",
        "",
        "",
        &prefill(TABLE.0, TABLE.1, 0x0303_0303),
        &format!("{RANDOM_WINDOW}\n{body}"),
        SINK_A,
        turns,
    )
}

/// One xorshift32 step of `$b`.
const XORSHIFT_B: &str = "(local.set $b (i32.xor (local.get $b) (i32.shl (local.get $b) (i32.const 13))))
      (local.set $b (i32.xor (local.get $b) (i32.shr_u (local.get $b) (i32.const 17))))
      (local.set $b (i32.xor (local.get $b) (i32.shl (local.get $b) (i32.const 5))))";

/// `br_if` on the bits of a xorshift32 word (no memory: the other cheap random condition),
/// a fresh word every 32 branches.
fn br_if_bits(turns: u32) -> String {
    let body = units(|k| {
        let step = if k % 32 == 0 { XORSHIFT_B } else { "" };
        format!(
            "{step}(block (br_if 0 (i32.and (local.get $b) (i32.const {}))) (local.set $a (local.get $p)))",
            1u32 << (k % 32)
        )
    });
    looped(
        "1 1",
        "",
        "",
        "(local.set $b (i32.const 0x2545f491))",
        &body,
        SINK_A,
        turns,
    )
}

/// `br_table` of four targets on two bits of a xorshift32 word, a fresh word every 16.
fn br_table_bits(turns: u32) -> String {
    let body = units(|k| {
        let step = if k % 16 == 0 { XORSHIFT_B } else { "" };
        format!(
            "{step}(block $e (block (block (block (block (br_table 0 1 2 3 \
             (i32.and (i32.shr_u (local.get $b) (i32.const {})) (i32.const 3)))) \
             (local.set $a (local.get $n)) (br $e)) (local.set $a (local.get $p)) (br $e)) \
             (local.set $a (local.get $b)) (br $e)) (local.set $a (local.get $k)))",
            2 * (k % 16)
        )
    });
    looped(
        "1 1",
        "",
        "",
        "(local.set $b (i32.const 0x2545f491))",
        &body,
        SINK_A,
        turns,
    )
}

/// A pointer chase over the whole 64 KiB memory: each load's address is the value the last one
/// read (memory holds random word offsets), so every load waits for the one before.
fn load(turns: u32) -> String {
    let body = units(|k| format!("i32.load offset={}", 4 * k));
    looped(
        "1 1",
        "",
        "",
        &prefill(0, 65536, 0xfefc),
        &format!("local.get $a\n{body}      local.set $a"),
        SINK_A,
        turns,
    )
}

/// As [`load`] over the largest memory a contract may have (16 pages, 1 MiB): the chase misses
/// the first-level cache and TLB.
fn load_1mib(turns: u32) -> String {
    let body = units(|k| format!("i32.load offset={}", 4 * k));
    looped(
        "16 16",
        "",
        "",
        &prefill(0, 16 * 65536, 0x000f_fefc),
        &format!("local.get $a\n{body}      local.set $a"),
        SINK_A,
        turns,
    )
}

/// i32 and i64 stores spread over the memory (64 cache lines a turn, shifting each turn).
fn store(turns: u32) -> String {
    let body = units(|k| {
        if k % 2 == 0 {
            format!("(i32.store offset={} (local.get $p) (local.get $n))", k * 1008)
        } else {
            format!("(i64.store offset={} (local.get $p) (local.get $x))", k * 1008)
        }
    });
    looped(
        "1 1",
        "",
        "",
        "(local.set $x (i64.const 0x0123456789abcdef))",
        &format!("(local.set $p (i32.and (i32.shl (local.get $n) (i32.const 2)) (i32.const 0x3fc)))\n{body}"),
        "",
        turns,
    )
}

/// As [`store`] spread over 1 MiB (16 pages): 64 lines 16 KiB apart, a line further each turn.
fn store_1mib(turns: u32) -> String {
    let body = units(|k| {
        if k % 2 == 0 {
            format!("(i32.store offset={} (local.get $p) (local.get $n))", k * 16368)
        } else {
            format!("(i64.store offset={} (local.get $p) (local.get $x))", k * 16368)
        }
    });
    looped(
        "16 16",
        "",
        "",
        "(local.set $x (i64.const 0x0123456789abcdef))",
        &format!("(local.set $p (i32.and (i32.shl (local.get $n) (i32.const 6)) (i32.const 0x3fc0)))\n{body}"),
        "",
        turns,
    )
}

/// 32 `i64.mul` then 32 `i32.mul` in one chain, by a varying odd factor.
fn mul(turns: u32) -> String {
    let mut body = String::from(
        "(local.set $y (i64.or (i64.extend_i32_u (local.get $n)) (i64.const 1)))\n      \
         (local.set $b (i32.or (local.get $n) (i32.const 1)))\n      local.get $x\n",
    );
    for k in 0..64 {
        if k == 32 {
            body.push_str("      i32.wrap_i64\n");
        }
        body.push_str(if k < 32 {
            "      local.get $y i64.mul\n"
        } else {
            "      local.get $b i32.mul\n"
        });
    }
    body.push_str("      i64.extend_i32_u local.set $x");
    looped("1 1", "", "", "(local.set $x (i64.const 3))", &body, SINK_X, turns)
}

/// Chained i32 `div_u`, `rem_u`, `div_s`, `rem_s` by a divisor that varies each turn (3..258),
/// the dividend kept large (xor with a large value after each).
fn div32(turns: u32) -> String {
    let ops = ["i32.div_u", "i32.rem_u", "i32.div_s", "i32.rem_s"];
    let body = units(|k| format!("local.get $d {} local.get $k i32.xor", ops[k % 4]));
    looped(
        "1 1",
        "",
        "",
        "(local.set $a (i32.const 0x7654321))",
        &format!(
            "(local.set $d (i32.add (i32.and (local.get $n) (i32.const 0xff)) (i32.const 3)))\n      \
             (local.set $k (i32.or (i32.xor (local.get $n) (i32.const 0x5bd1e995)) (i32.const 0x40000000)))\n      \
             local.get $a\n{body}      local.set $a"
        ),
        SINK_A,
        turns,
    )
}

/// As [`div32`] with i64: large dividends, small divisors (the slowest 64-bit divisions).
fn div64(turns: u32) -> String {
    let ops = ["i64.div_u", "i64.rem_u", "i64.div_s", "i64.rem_s"];
    let body = units(|k| format!("local.get $y {} local.get $z i64.xor", ops[k % 4]));
    looped(
        "1 1",
        "",
        "",
        "(local.set $x (i64.const 0x76543210fedcba9))",
        &format!(
            "(local.set $y (i64.extend_i32_u (i32.add (i32.and (local.get $n) (i32.const 0xff)) (i32.const 3))))\n      \
             (local.set $z (i64.or (i64.xor (i64.extend_i32_u (local.get $n)) (i64.const 0x5bd1e9955bd1e995)) \
             (i64.const 0x4000000000000000)))\n      \
             local.get $x\n{body}      local.set $x"
        ),
        SINK_X,
        turns,
    )
}

/// 64 chained calls of a function that adds 1.
fn call(turns: u32) -> String {
    let body = units(|_| "call $f".into());
    looped(
        "1 1",
        "(func $f (param i32) (result i32) (i32.add (local.get 0) (i32.const 1)))",
        "",
        "",
        &format!("local.get $a\n{body}      local.set $a"),
        SINK_A,
        turns,
    )
}

/// 64 chained indirect calls through a table of four functions, the index the low bits of the
/// value (the target changes from call to call).
fn call_indirect(turns: u32) -> String {
    let mut extra = String::from(
        "(type $t (func (param i32) (result i32)))\n  (table 4 4 funcref)\n  (elem (i32.const 0) $f0 $f1 $f2 $f3)\n",
    );
    for i in 0..4 {
        let _ = writeln!(
            extra,
            "  (func $f{i} (type $t) (i32.add (local.get 0) (i32.const {})))",
            2 * i + 1
        );
    }
    let body = units(|_| "local.tee $a local.get $a i32.const 3 i32.and call_indirect (type $t)".into());
    looped(
        "1 1",
        &extra,
        "",
        "",
        &format!("local.get $a\n{body}      local.set $a"),
        SINK_A,
        turns,
    )
}

fn memory_size(turns: u32) -> String {
    let body = units(|_| "memory.size i32.add".into());
    looped(
        "1 1",
        "",
        "",
        "",
        &format!("local.get $a\n{body}      local.set $a"),
        SINK_A,
        turns,
    )
}

/// `memory.grow` by one page, then a store to each of its 16 4-KiB pages (touching fresh pages
/// is what costs): `turns` (at most 15) pages from 1 to 16.
fn memory_grow(turns: u32) -> String {
    let mut body = String::from("(local.set $p (i32.shl (memory.grow (i32.const 1)) (i32.const 16)))\n");
    for j in 0..16 {
        let _ = writeln!(
            body,
            "      (i32.store offset={} (local.get $p) (local.get $n))",
            j * 4096
        );
    }
    looped("1 16", "", "", "", &body, "", turns)
}

/// `memory.grow` by one page, the page never touched: the grow alone.
fn memory_grow_untouched(turns: u32) -> String {
    looped("1 16", "", "", "", "(drop (memory.grow (i32.const 1)))", "", turns)
}

/// No instruction class: a memory declared with 16 pages at instantiation, a store to each
/// 4 KiB of pages 1 to 15 (a turn a page). What touching fresh pages costs when no
/// `memory.grow` pays for it.
fn touch_initial_pages(turns: u32) -> String {
    let mut body = String::from("(local.set $p (i32.shl (i32.sub (i32.const 16) (local.get $n)) (i32.const 16)))\n");
    for j in 0..16 {
        let _ = writeln!(
            body,
            "      (i32.store offset={} (local.get $p) (local.get $n))",
            j * 4096
        );
    }
    looped("16 16", "", "", "", &body, "", turns)
}

/// No instruction class: an empty `call` of a contract whose memory is `turns` pages from the
/// start (a turn = a page declared, never touched): what the pages cost the instance's setup
/// and reset.
fn declared_pages(turns: u32) -> String {
    format!(r#"(module (memory (export "memory") {turns} {turns}) (func (export "call")))"#)
}

/// `memory.fill` of 64 KiB, one page then the other.
fn fill_64k(turns: u32) -> String {
    looped(
        "2 2",
        "",
        "",
        "",
        "(memory.fill (i32.shl (i32.and (local.get $n) (i32.const 1)) (i32.const 16)) (local.get $n) (i32.const 65536))",
        "",
        turns,
    )
}

/// `memory.copy` of 64 KiB, one page to the other and back.
fn copy_64k(turns: u32) -> String {
    looped(
        "2 2",
        "",
        "",
        "",
        "(memory.copy (i32.shl (i32.and (local.get $n) (i32.const 1)) (i32.const 16)) \
         (i32.shl (i32.and (i32.add (local.get $n) (i32.const 1)) (i32.const 1)) (i32.const 16)) (i32.const 65536))",
        "",
        turns,
    )
}

/// 64 `memory.fill`s of one byte: the fixed part of a bulk operation, with as little else as
/// a fill can have.
fn fill_1(turns: u32) -> String {
    let body = units(|_| "(memory.fill (local.get $p) (local.get $n) (i32.const 1))".into());
    looped("1 1", "", "", "", &body, "", turns)
}

/// 64 `memory.copy`s of one byte.
fn copy_1(turns: u32) -> String {
    let body = units(|_| "(memory.copy (local.get $p) (local.get $n) (i32.const 1))".into());
    looped("1 1", "", "", "", &body, "", turns)
}

/// f64 add, mul, div, sqrt in one chain (floats are refused on chain; validated here with
/// floats allowed).
fn float(turns: u32) -> String {
    let ops = [
        "local.get $g f64.add",
        "local.get $g f64.mul",
        "local.get $g f64.div",
        "f64.sqrt",
    ];
    let body = units(|k| ops[k % 4].into());
    looped(
        "1 1",
        "",
        "(local $f f64) (local $g f64)",
        "(local.set $f (f64.const 1))",
        &format!(
            "(local.set $g (f64.add (f64.convert_i32_u (i32.and (local.get $n) (i32.const 255))) (f64.const 1.5)))\n      \
             local.get $f\n{body}      local.set $f"
        ),
        "(f64.store (i32.const 0) (local.get $f))",
        turns,
    )
}

const CASES: &[Case] = &[
    Case {
        name: "simple",
        class: "simple",
        turns: 16384,
        floats: false,
        wat: simple,
    },
    Case {
        name: "br_if",
        class: "branch",
        turns: 4096,
        floats: false,
        wat: br_if,
    },
    Case {
        name: "br_table",
        class: "branch",
        turns: 2048,
        floats: false,
        wat: br_table,
    },
    Case {
        name: "br_if_bits",
        class: "branch",
        turns: 4096,
        floats: false,
        wat: br_if_bits,
    },
    Case {
        name: "br_table_bits",
        class: "branch",
        turns: 2048,
        floats: false,
        wat: br_table_bits,
    },
    Case {
        name: "load",
        class: "load",
        turns: 4096,
        floats: false,
        wat: load,
    },
    Case {
        name: "load_1MiB",
        class: "load",
        turns: 8192,
        floats: false,
        wat: load_1mib,
    },
    Case {
        name: "store",
        class: "store",
        turns: 8192,
        floats: false,
        wat: store,
    },
    Case {
        name: "store_1MiB",
        class: "store",
        turns: 8192,
        floats: false,
        wat: store_1mib,
    },
    Case {
        name: "mul",
        class: "mul",
        turns: 8192,
        floats: false,
        wat: mul,
    },
    Case {
        name: "div_i32",
        class: "div",
        turns: 2048,
        floats: false,
        wat: div32,
    },
    Case {
        name: "div_i64",
        class: "div",
        turns: 2048,
        floats: false,
        wat: div64,
    },
    Case {
        name: "call",
        class: "call",
        turns: 2048,
        floats: false,
        wat: call,
    },
    Case {
        name: "call_indirect",
        class: "call_indirect",
        turns: 2048,
        floats: false,
        wat: call_indirect,
    },
    Case {
        name: "memory_size",
        class: "memory_size",
        turns: 8192,
        floats: false,
        wat: memory_size,
    },
    Case {
        name: "memory_grow",
        class: "memory_grow",
        turns: 15,
        floats: false,
        wat: memory_grow,
    },
    Case {
        name: "memory_grow_untouched",
        class: "memory_grow",
        turns: 15,
        floats: false,
        wat: memory_grow_untouched,
    },
    Case {
        name: "touch_initial_pages",
        class: "(instantiation)",
        turns: 15,
        floats: false,
        wat: touch_initial_pages,
    },
    Case {
        name: "declared_pages",
        class: "(instantiation)",
        turns: 16,
        floats: false,
        wat: declared_pages,
    },
    Case {
        name: "memory_fill_64k",
        class: "bulk_memory",
        turns: 64,
        floats: false,
        wat: fill_64k,
    },
    Case {
        name: "memory_copy_64k",
        class: "bulk_memory",
        turns: 64,
        floats: false,
        wat: copy_64k,
    },
    Case {
        name: "memory_fill_1B",
        class: "bulk_memory",
        turns: 2048,
        floats: false,
        wat: fill_1,
    },
    Case {
        name: "memory_copy_1B",
        class: "bulk_memory",
        turns: 2048,
        floats: false,
        wat: copy_1,
    },
    Case {
        name: "float",
        class: "float",
        turns: 2048,
        floats: true,
        wat: float,
    },
];

fn allow_nothing(_: &str, _: &str) -> bool {
    false
}

fn prepare(engine: &ContractEngine, vm: &ContractVm, code: &[u8], floats: bool) -> PreparedContract {
    let mut limits = engine.limits().clone();
    limits.allow_floats = floats;
    engine
        .prepare_with(code, &limits, vm, allow_nothing, &["call"], true, false)
        .unwrap_or_else(|e| panic!("bench contract refused: {e}"))
}

fn linked(engine: &ContractEngine, c: &PreparedContract) -> InstancePre<ContractState<()>> {
    engine
        .linker_for::<()>(c)
        .instantiate_pre(&c.module)
        .expect("no imports")
}

/// Gas one call of `c` uses (and checks that it succeeds).
fn gas(engine: &ContractEngine, c: &PreparedContract) -> u64 {
    let out = engine.call_pre(&linked(engine, c), &c.meter, (), "call", GAS_LIMIT);
    if let Err(e) = out.result {
        panic!("bench contract failed: {e}");
    }
    out.gas_used
}

/// Gas per turn of `case` under `costs`: the difference between `turns` and `turns / 2`.
fn gas_per_turn(engine: &ContractEngine, costs: &InstructionCosts, case: &Case) -> f64 {
    let vm = ContractVm {
        costs: costs.clone(),
        ..ContractVm::default()
    };
    let half = case.turns / 2;
    let full = gas(
        engine,
        &prepare(
            engine,
            &vm,
            &wat::parse_str((case.wat)(case.turns)).unwrap(),
            case.floats,
        ),
    );
    let part = gas(
        engine,
        &prepare(engine, &vm, &wat::parse_str((case.wat)(half)).unwrap(), case.floats),
    );
    (full - part) as f64 / (case.turns - half) as f64
}

/// One measured case under one set of costs.
struct Measured {
    /// Time of one call of `turns` turns.
    ns_per_call: f64,
    /// Gas and time of one turn: the difference between calls of `turns` and `turns / 2`
    /// turns, over the difference in turns (what the call does once, prefilling memory,
    /// instantiating, cancels).
    gas_per_turn: f64,
    ns_per_turn: f64,
    /// The slowest sample over the fastest, minus 1, of either length: large when the time
    /// per call flips between modes, and the difference is then unreliable.
    spread: f64,
}

impl Measured {
    fn ns_per_gas(&self) -> f64 {
        self.ns_per_turn / self.gas_per_turn
    }
}

const SAMPLES: usize = 10;

/// Times calls of `code` under `vm` with criterion: the fastest of the samples' mean per call
/// (the least disturbed by whatever else the machine runs), and how much slower the slowest
/// sample was (a fraction).
fn measure(
    c: &mut Criterion,
    engine: &ContractEngine,
    group: &str,
    name: &str,
    vm: &ContractVm,
    code: &[u8],
    floats: bool,
) -> (u64, f64, f64) {
    let prepared = prepare(engine, vm, code, floats);
    let pre = linked(engine, &prepared);
    let gas = gas(engine, &prepared);
    let mut per_call = Vec::new();
    let mut g = c.benchmark_group(group);
    g.sample_size(SAMPLES)
        .warm_up_time(Duration::from_millis(200))
        .measurement_time(Duration::from_millis(800));
    g.bench_function(name, |b| {
        b.iter_custom(|iters| {
            let t = Instant::now();
            for _ in 0..iters {
                let out = engine.call_pre(&pre, &prepared.meter, (), "call", GAS_LIMIT);
                assert_eq!(out.gas_used, gas, "gas is deterministic");
                black_box(out.result.is_ok());
            }
            let took = t.elapsed();
            per_call.push(took.as_secs_f64() * 1e9 / iters as f64);
            took
        })
    });
    g.finish();
    // The last calls of the routine are criterion's samples (the first are its warm-up).
    let samples = per_call.split_off(per_call.len().saturating_sub(SAMPLES));
    let fastest = samples.iter().copied().fold(f64::INFINITY, f64::min);
    let slowest = samples.iter().copied().fold(0.0, f64::max);
    (gas, fastest, slowest / fastest - 1.0)
}

/// What one turn of `case` is made of: instructions per class (`fixed`: gas every cost table
/// adds, wasmtime's fuel per function entered and the engine's charge per memory page).
fn composition(engine: &ContractEngine, case: &Case) -> String {
    // All costs 0: what is left is fixed.
    let entry = gas_per_turn(engine, &only(CLASSES.len(), 0), case);
    let mut parts = Vec::new();
    for (i, class) in CLASSES.iter().enumerate() {
        let n = if *class == "fixed" {
            entry
        } else {
            gas_per_turn(engine, &only(i, 1), case) - entry
        };
        if n > 0.0 {
            parts.push(format!("{class} {}", fmt_count(n)));
        }
    }
    parts.join(", ")
}

fn fmt_count(n: f64) -> String {
    if (n - n.round()).abs() < 0.01 {
        format!("{}", n.round() as u64)
    } else {
        format!("{n:.1}")
    }
}

/// A name and which classes it keeps.
type ClassFilter = (&'static str, fn(&str) -> bool);

fn gas_per_class(c: &mut Criterion) {
    // Composition first, on an engine of its own (one wasmtime engine per set of costs).
    let unpooled = ContractEngine::new(ContractEngineConfig {
        pooled_instances: 0,
        ..ContractEngineConfig::default()
    })
    .unwrap();
    let compositions: Vec<String> = CASES.iter().map(|case| composition(&unpooled, case)).collect();
    drop(unpooled);

    let engine = ContractEngine::new(ContractEngineConfig::default()).unwrap();
    let vms = [
        ("default", ContractVm::default()),
        (
            "before",
            ContractVm {
                costs: BEFORE,
                ..ContractVm::default()
            },
        ),
    ];
    let empty_code = wat::parse_str(empty(0)).unwrap();
    let mut results: Vec<(u64, f64, Vec<Measured>)> = Vec::new();
    for (label, vm) in &vms {
        let group = format!("gas_per_class/{label}");
        let (empty_gas, empty_ns, _) = measure(c, &engine, &group, "empty", vm, &empty_code, false);
        let mut measured = Vec::new();
        for case in CASES {
            let half = case.turns / 2;
            let code = wat::parse_str((case.wat)(case.turns)).unwrap();
            let (gas_per_call, ns_per_call, spread_full) =
                measure(c, &engine, &group, case.name, vm, &code, case.floats);
            let code = wat::parse_str((case.wat)(half)).unwrap();
            let name = format!("{}/half", case.name);
            let (half_gas, half_ns, spread_half) = measure(c, &engine, &group, &name, vm, &code, case.floats);
            let turns = (case.turns - half) as f64;
            measured.push(Measured {
                ns_per_call,
                gas_per_turn: (gas_per_call - half_gas) as f64 / turns,
                ns_per_turn: (ns_per_call - half_ns) / turns,
                spread: spread_full.max(spread_half),
            });
        }
        results.push((empty_gas, empty_ns, measured));
    }

    let mut report = String::new();
    let _ = writeln!(report, "\n# gas per instruction class: default {:?}", vms[0].1.costs);
    let _ = writeln!(report, "# before calibration {:?}", vms[1].1.costs);
    let _ = writeln!(
        report,
        "| case | class | one turn (instructions by class) | turns | gas/turn default → before | ns/call | ns/turn | ns/gas default | ns/gas before | sample spread default / before |"
    );
    let _ = writeln!(report, "|---|---|---|---|---|---|---|---|---|---|");
    for (i, case) in CASES.iter().enumerate() {
        let (d, p) = (&results[0].2[i], &results[1].2[i]);
        let _ = writeln!(
            report,
            "| {} | {} | {} | {} | {} → {} | {:.0} | {:.1} | {:.3} | {:.3} | {:.0} % / {:.0} % |",
            case.name,
            case.class,
            compositions[i],
            case.turns,
            fmt_count(d.gas_per_turn),
            fmt_count(p.gas_per_turn),
            d.ns_per_call,
            d.ns_per_turn,
            d.ns_per_gas(),
            p.ns_per_gas(),
            d.spread * 100.0,
            p.spread * 100.0,
        );
    }
    for (k, (label, _)) in vms.iter().enumerate() {
        let (eg, en, m) = &results[k];
        // Each class at its worst case.
        let mut classes: Vec<(&str, f64, &str)> = Vec::new();
        for (m, case) in m.iter().zip(CASES) {
            let x = m.ns_per_gas();
            match classes.iter_mut().find(|c| c.0 == case.class) {
                Some(c) if c.1 < x => *c = (case.class, x, case.name),
                Some(_) => {}
                None => classes.push((case.class, x, case.name)),
            }
        }
        let line: Vec<String> = classes
            .iter()
            .map(|c| format!("{} {:.3} ({})", c.0, c.1, c.2))
            .collect();
        let _ = writeln!(
            report,
            "# {label}, worst case of each class (ns/gas): {}",
            line.join("; ")
        );
        let sets: [ClassFilter; 3] = [
            ("every instruction class", |c: &str| !c.starts_with('(')),
            ("every class but memory_grow", |c: &str| {
                !c.starts_with('(') && c != "memory_grow"
            }),
            ("every class but memory_grow and float (refused on chain)", |c: &str| {
                !c.starts_with('(') && c != "memory_grow" && c != "float"
            }),
        ];
        for (what, keep) in sets {
            let set: Vec<_> = classes.iter().filter(|c| keep(c.0)).collect();
            let avg = set.iter().map(|c| c.1).sum::<f64>() / set.len() as f64;
            let worst = set.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
            let best = set.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
            let _ = writeln!(
                report,
                "# {label}, {what}: average {avg:.3} ns/gas; worst {} {:.3} (worst/average {:.2}); cheapest {} {:.3} (average/cheapest {:.1})",
                worst.0,
                worst.1,
                worst.1 / avg,
                best.0,
                best.1,
                avg / best.1
            );
        }
        let _ = writeln!(
            report,
            "# {label}, empty call: {en:.0} ns for {eg} gas ({:.1} ns/gas)",
            en / *eg as f64
        );
    }
    eprintln!("{report}");
}

criterion_group!(benches, gas_per_class);
criterion_main!(benches);
