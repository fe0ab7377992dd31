//! Runs the Watt runtime blob in wasmtime.
//!
//! The layers read one way, bottom up:
//! - [`wasm_config`]: the deterministic wasm configuration every engine shares and the epoch
//!   ticker behind their watchdogs;
//! - beside each other on it, [`engine`] (the runtime's) and [`contract_engine`] (contracts');
//! - [`host_functions`] sets over the runtime engine, [`sandbox`] among them, relaying contract
//!   calls through the narrow [`HostFunctions`] trait (the runtime engine never names contracts);
//! - [`assembly`]: the node's executor, the runtime engine with the sandbox registered.
//!
//! - [`engine`]: the module cache (by code hash) and the call path: a fresh `Store` per call
//!   from a cached `InstancePre` on the pooling allocator, so a call costs microseconds.
//! - [`host_functions`]: the registry of host functions (`watt` import module): storage with
//!   nested transactions, blake2, sr25519 (single and batch), logging. Later host-function sets
//!   (proof precompiles, the contract sandbox) register through the same [`HostFunctions`] trait;
//!   [`GuestMemory`] gives them the runtime's memory and allocator, including calling back into
//!   the runtime from inside a host call.
//! - [`signature_cache`]: valid signatures remembered, so a transaction checked at pool
//!   admission is not checked again when its set is judged and its block applied.
//! - [`contract_engine`]: the separate, fuel-metered engine for untrusted contract code,
//!   validated at upload and cached by code hash.
//! - [`sandbox`]: the contract sandbox host functions (and their native twin): contract code
//!   runs in the contract engine, its environment calls are relayed to the runtime.
//! - [`overlay`]: the storage overlay over a read-only [`StateBackend`], with nested
//!   transactions; it is the [`watt_support::externalities::Externalities`] of both the wasm
//!   and the native execution.

pub mod assembly;
pub mod contract_engine;
pub mod engine;
pub mod host_functions;
pub mod overlay;
pub mod sandbox;
pub mod signature_cache;
pub mod wasm_config;

pub use contract_engine::{
    CallOutcome, ContractEngine, ContractEngineConfig, ContractError, ContractState, PreparedContract, StackMeter,
    ENGINE_VERSION,
};
pub use engine::{Deadline, ExecError, Executor, ExecutorConfig, RuntimeCode};
pub use host_functions::{Extensions, GuestMemory, HostFunctions, HostState};
pub use overlay::{BackendError, Changes, MemoryBackend, StateBackend, StateSession};
pub use sandbox::{ContractSandbox, NativeSandbox, PrepareError, SandboxFunctions};
