//! The per-call overhead of contracts in the node's sandbox (the contracts issue, "Benchmarks"),
//! and what compiling uploaded code costs.
//!
//! - `contract_call/*`: one execution of an already compiled and linked contract through
//!   [`ContractSandbox`] with the native twin ([`NativeSandbox`], the `SandboxHost` the native
//!   runtime calls): a fresh store and instance from the cached `InstancePre`, fuel set, the
//!   export run, and for the echo contract two environment calls relayed to a trivial
//!   [`SandboxEnv`] (`input` copies 36 bytes into the contract, `return_value` reads them back
//!   and halts). This is the sandbox's own cost; the relay through the wasm runtime (into the
//!   runtime's `watt_sandbox_env` and the contracts pallet) is measured by
//!   `node/chain/benches/contracts.rs`.
//! - `contract_compile/*`: `ContractEngine::prepare` (validation + cranelift) of fresh modules of
//!   about 16, 64 and 256 KiB of arithmetic code; each prepared module differs (a custom section
//!   carries a counter), so the engine's cache never answers. Reported per KiB on stderr.
//!
//! `cargo bench -p watt-executor --bench contract_call`

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};
use watt_executor::{ContractEngine, ContractEngineConfig, ContractSandbox, NativeSandbox};
use watt_primitives::sandbox::{
    EnvReply, ImportSignature, SandboxExecute, SandboxExport, SandboxOutcome, SandboxPrepare, ValueType,
};
use watt_support::sandbox::{ContractMemory, SandboxEnv, SandboxHost};

/// `deploy` and `call` that do nothing.
const EMPTY: &str = r#"(module
  (memory (export "memory") 1 1)
  (func (export "deploy"))
  (func (export "call")))"#;

/// `call` reads its input (`input` into a 256-byte buffer) and returns it (`return_value`).
const ECHO: &str = r#"(module
  (import "watt_v1" "input" (func $input (param i32 i32) (result i32)))
  (import "watt_v1" "return_value" (func $ret (param i32 i32 i32)))
  (memory (export "memory") 1 1)
  (func (export "deploy"))
  (func (export "call")
    (i32.store (i32.const 0) (i32.const 256))
    (if (call $input (i32.const 16) (i32.const 0)) (then unreachable))
    (call $ret (i32.const 0) (i32.const 16) (i32.load (i32.const 0)))))"#;

/// The input the echo contract gets: a selector and an account id, as a token call starts.
const INPUT: [u8; 36] = [7; 36];

/// Serves `input` and `return_value` itself, as cheaply as an environment can: what is left
/// is the sandbox's cost.
struct EchoEnv {
    input: Vec<u8>,
    output: Vec<u8>,
}

fn u32_at(memory: &mut dyn ContractMemory, ptr: u64) -> Option<u32> {
    let mut word = [0u8; 4];
    memory.read(ptr as u32, &mut word).then(|| u32::from_le_bytes(word))
}

impl SandboxEnv for EchoEnv {
    fn dispatch(&mut self, function: &[u8], args: &[u64], _gas_left: u64, memory: &mut dyn ContractMemory) -> EnvReply {
        let trap = |message: &str| EnvReply::Trap {
            charge: 0,
            message: message.into(),
        };
        match (function, args) {
            (b"input", [out, len_ptr]) => {
                let Some(cap) = u32_at(memory, *len_ptr) else {
                    return trap("bad length pointer");
                };
                let len = self.input.len() as u32;
                if cap < len {
                    memory.write(*len_ptr as u32, &len.to_le_bytes());
                    return EnvReply::Return { value: 4, charge: 10 };
                }
                if !memory.write(*out as u32, &self.input) || !memory.write(*len_ptr as u32, &len.to_le_bytes()) {
                    return trap("bad output buffer");
                }
                EnvReply::Return { value: 0, charge: 10 }
            }
            (b"return_value", [_flags, ptr, len]) => {
                self.output.resize(*len as usize, 0);
                if !memory.read(*ptr as u32, &mut self.output) {
                    return trap("bad data");
                }
                EnvReply::Halt { charge: 10 }
            }
            _ => trap("unknown function"),
        }
    }
}

fn prepare(host: &NativeSandbox, wat: &str) -> [u8; 32] {
    let code = wat::parse_str(wat).expect("bench WAT parses");
    host.prepare(&SandboxPrepare {
        code: code.clone(),
        functions: vec![
            ImportSignature {
                name: "input".into(),
                params: vec![ValueType::I32, ValueType::I32],
                results: vec![ValueType::I32],
            },
            ImportSignature {
                name: "return_value".into(),
                params: vec![ValueType::I32, ValueType::I32, ValueType::I32],
                results: vec![],
            },
        ],
        exports: vec!["deploy".into(), "call".into()],
        limits: Default::default(),
        validate: true,
        persist: false,
        vm: Default::default(),
    })
    .expect("bench contract is valid");
    watt_primitives::blake2_256(&code)
}

fn calls(c: &mut Criterion) {
    let engine = Arc::new(ContractEngine::new(ContractEngineConfig::default()).unwrap());
    let host = NativeSandbox::new(Arc::new(ContractSandbox::new(engine)));
    let empty = prepare(&host, EMPTY);
    let echo = prepare(&host, ECHO);
    let mut env = EchoEnv {
        input: INPUT.to_vec(),
        output: Vec::new(),
    };
    let run = |code_hash: [u8; 32], export: SandboxExport, env: &mut EchoEnv| {
        host.execute(
            &SandboxExecute {
                code_hash,
                export,
                gas_limit: 2_000_000,
                vm: watt_primitives::sandbox::ContractVm::default().id(),
            },
            env,
        )
    };
    // The contracts do what they say (so the timings below are of working calls).
    assert!(matches!(
        run(empty, SandboxExport::Call, &mut env),
        SandboxOutcome::Finished { .. }
    ));
    assert!(matches!(
        run(echo, SandboxExport::Call, &mut env),
        SandboxOutcome::Halted { .. }
    ));
    assert_eq!(env.output, INPUT);

    let mut group = c.benchmark_group("contract_call");
    group.measurement_time(Duration::from_secs(5));
    group.bench_function("empty_deploy", |b| {
        b.iter(|| run(empty, SandboxExport::Deploy, &mut env))
    });
    group.bench_function("empty_call", |b| b.iter(|| run(empty, SandboxExport::Call, &mut env)));
    group.bench_function("echo_call", |b| b.iter(|| run(echo, SandboxExport::Call, &mut env)));
    group.finish();
}

/// A valid contract of about `kib` KiB of code: functions of integer arithmetic, a loop and
/// calls to their neighbours, as compiled code looks (no floats, per the ABI).
fn arithmetic_module(kib: usize) -> Vec<u8> {
    let mut wat = String::from(
        "(module\n (import \"watt_v1\" \"input\" (func $input (param i32 i32) (result i32)))\n (memory (export \"memory\") 1 16)\n",
    );
    let mut n = 0;
    loop {
        let _ = write!(
            wat,
            " (func $f{n} (param $a i32) (param $b i64) (result i32) (local $i i32) (local $x i64)
  (local.set $x (i64.mul (local.get $b) (i64.const {k1})))
  (loop $l
   (local.set $x (i64.add (i64.rotl (local.get $x) (i64.const 13)) (i64.extend_i32_u (local.get $i))))
   (local.set $a (i32.xor (i32.mul (local.get $a) (i32.const {k2})) (i32.wrap_i64 (local.get $x))))
   (i32.store (i32.and (local.get $a) (i32.const 0xfff0)) (local.get $a))
   (local.set $i (i32.add (local.get $i) (i32.const 1)))
   (br_if $l (i32.lt_u (local.get $i) (i32.const 8))))
  (if (result i32) (i32.gt_s (local.get $a) (i32.const {k3}))
   (then (i32.add (local.get $a) (i32.load (i32.const 64))))
   (else {other})))\n",
            k1 = n * 31 + 7,
            k2 = n * 17 + 3,
            k3 = n as i32 - 100,
            other = if n == 0 {
                "(i32.sub (local.get $a) (i32.const 1))".to_string()
            } else {
                format!(
                    "(call $f{} (i32.sub (local.get $a) (i32.const 1)) (local.get $x))",
                    n - 1
                )
            },
        );
        n += 1;
        // Text is about 9x the binary; check the real size every 8 functions.
        if n % 8 == 0 {
            let size = wat::parse_str(format!("{wat} (func (export \"deploy\")) (func (export \"call\")))"))
                .unwrap()
                .len();
            if size >= kib * 1024 {
                break;
            }
        }
    }
    let _ = write!(
        wat,
        " (func (export \"deploy\"))\n (func (export \"call\") (drop (call $f{} (i32.const 1) (i64.const 2)))))",
        n - 1
    );
    wat::parse_str(&wat).expect("generated WAT parses")
}

/// `code` with a custom section holding `nonce`: a different code hash, the same compile work.
fn distinct(code: &[u8], nonce: u64) -> Vec<u8> {
    let mut out = code.to_vec();
    let name = b"nonce";
    let payload_len = 1 + name.len() + 8;
    out.push(0); // custom section
    out.push(payload_len as u8);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&nonce.to_le_bytes());
    out
}

fn compile(c: &mut Criterion) {
    let engine = ContractEngine::new(ContractEngineConfig::default()).unwrap();
    let allowed = |m: &str, _: &str| m == "watt_v1";
    let mut group = c.benchmark_group("contract_compile");
    group.sample_size(10).measurement_time(Duration::from_secs(8));
    let mut nonce = 0u64;
    for kib in [16usize, 64, 256] {
        let code = arithmetic_module(kib);
        let prepared = engine.prepare(&code, allowed, &["deploy", "call"]).expect("valid");
        assert_eq!(prepared.from, watt_executor::contract_engine::PreparedFrom::Compiler);
        group.throughput(Throughput::Bytes(code.len() as u64));
        let mut per_kib = Vec::new();
        group.bench_with_input(BenchmarkId::from_parameter(format!("{kib}KiB")), &code, |b, code| {
            b.iter_custom(|iters| {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    nonce += 1;
                    let fresh = distinct(code, nonce);
                    let t = Instant::now();
                    let p = engine.prepare(&fresh, allowed, &["deploy", "call"]).expect("valid");
                    let took = t.elapsed();
                    assert_eq!(p.from, watt_executor::contract_engine::PreparedFrom::Compiler);
                    total += took;
                    per_kib.push(took.as_secs_f64() * 1e6 / (fresh.len() as f64 / 1024.0));
                }
                total
            })
        });
        per_kib.sort_by(f64::total_cmp);
        eprintln!(
            "contract_compile/{kib}KiB: {} bytes of code; {:.1} us per KiB (median of {}; min {:.1}, max {:.1})",
            code.len(),
            per_kib[per_kib.len() / 2],
            per_kib.len(),
            per_kib[0],
            per_kib[per_kib.len() - 1]
        );
    }
    group.finish();
}

/// `depth` nested loops, each closing with a conditional branch back to an enclosing loop: the
/// shape `tests/compile_bound.rs` finds compiles in time about cubic in the depth. Timed once
/// per depth here, in the release build the node runs (printed, not a criterion figure).
fn nested_loops(depth: usize) -> Vec<u8> {
    let mut wat = String::from("(module (memory (export \"memory\") 1 1) (func (export \"deploy\")) (func (export \"call\"))\n (func (param i32)\n");
    for _ in 0..depth {
        wat.push_str("(loop\n");
    }
    for level in 0..depth {
        let _ = writeln!(wat, "(br_if {} (local.get 0)))", (level % 64).min(depth - level - 1));
    }
    wat.push_str("))");
    wat::parse_str(&wat).expect("generated WAT parses")
}

fn hostile_compile(_: &mut Criterion) {
    let allowed = |m: &str, _: &str| m == "watt_v1";
    for depth in [256usize, 512, 1024, 2048] {
        let code = nested_loops(depth);
        let engine = ContractEngine::new(ContractEngineConfig::default()).unwrap();
        let t = Instant::now();
        let r = engine.prepare(&code, allowed, &["deploy", "call"]).map(|_| ());
        eprintln!(
            "contract_compile_hostile/nested_loops: depth {depth}, {} bytes: {:?} in {:.3} s",
            code.len(),
            r.map_err(|e| e.to_string()),
            t.elapsed().as_secs_f64()
        );
    }
}

criterion_group!(benches, calls, compile, hostile_compile);
criterion_main!(benches);
