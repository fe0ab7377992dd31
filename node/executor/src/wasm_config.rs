//! The wasm configuration every Watt engine shares (the runtime's and the contracts'), and the
//! epoch ticker behind their watchdogs: the bottom layer of the executor, naming neither the
//! runtime nor contracts.

use std::sync::Weak;
use std::time::Duration;
use wasmtime::{Config, Engine, OptLevel};

/// How often the engine's epoch advances: the granularity of call deadlines.
pub(crate) const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Advances the engine's epoch every [`EPOCH_TICK`] while the engine lives; this is what
/// interrupts a runtime call past its deadline (wasmtime checks the epoch at function entries
/// and loop back-edges).
pub(crate) fn spawn_epoch_ticker(engine: Weak<Engine>) {
    let spawned = std::thread::Builder::new()
        .name("watt-epoch".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match engine.upgrade() {
                Some(e) => e.increment_epoch(),
                None => return,
            }
        });
    if let Err(e) = spawned {
        tracing::error!("cannot start the runtime deadline ticker ({e}); runtime calls will not time out");
    }
}

/// The wasm features a runtime may use. Everything whose result could differ between machines
/// (SIMD, relaxed SIMD; threads are compiled out of this wasmtime build) is off and NaNs are canonicalized (ARCHITECTURE §4).
/// The settings every Watt engine shares (the runtime's and the contracts'): optimized code,
/// canonical NaNs, and none of the proposals whose results could differ between machines or
/// that the chain does not use.
pub(crate) fn deterministic_wasm(c: &mut Config) -> &mut Config {
    c.cranelift_opt_level(OptLevel::Speed)
        .cranelift_nan_canonicalization(true)
        .wasm_simd(false)
        .wasm_relaxed_simd(false)
        .wasm_memory64(false)
        .wasm_multi_memory(false)
        .wasm_gc(false)
        .wasm_function_references(false)
        .wasm_tail_call(false)
        .wasm_wide_arithmetic(false)
        .wasm_custom_page_sizes(false)
}
