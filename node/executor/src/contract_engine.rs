//! The contract engine: a wasmtime `Engine` of its own for untrusted contract code, separate
//! from the runtime's (ARCHITECTURE "Contracts"; the contracts issue, item 1).
//!
//! - Code is validated before it is compiled ([`watt_contract_validation`]): allowed imports
//!   only, bounded size, functions, locals, memory and tables, no start section, no floats.
//! - Execution is fuel-metered (fuel is gas): a call gets a gas limit, runs out of it with
//!   [`ContractError::OutOfGas`], and reports the gas it used either way.
//! - An epoch deadline is the watchdog behind fuel: a call that somehow outlives it (a host
//!   function stuck, a fuel bug) is interrupted, never hangs the node.
//! - Deterministic: NaN canonicalization, no SIMD, threads, reference types, multiple memories
//!   or memory64; a bounded wasm stack, so unbounded recursion traps.
//! - Compiled modules are cached by code hash: in memory (least recently used out first), so a
//!   call instantiates from the cache, and optionally on disk ([`ContractEngineConfig::cache_dir`]),
//!   so a restarted node does not compile every contract again.
//!
//! The contract host functions (storage, events, cross-contract calls ...) are the contracts
//! pallet's environment; they are registered on a [`wasmtime::Linker`] over the caller's store
//! data `T`, so this module knows nothing of them.

use crate::engine::{deterministic_wasm, spawn_epoch_ticker, EPOCH_TICK};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, PoolingAllocationConfig, Store,
    StoreLimits, StoreLimitsBuilder,
};
use watt_contract_validation::{Limits, ValidationError};
use watt_primitives::{blake2_256, Hash};

/// Why a contract could not be prepared or called.
#[derive(Debug, thiserror::Error)]
pub enum ContractError {
    /// The code failed upload validation.
    #[error(transparent)]
    Validation(#[from] ValidationError),
    /// Valid code that the compiler refused (should not happen after validation).
    #[error("contract code does not compile: {0}")]
    Compile(String),
    /// The environment could not be linked (an import the linker lacks).
    #[error("contract does not link: {0}")]
    Link(String),
    /// The export to call does not exist or has the wrong type.
    #[error("contract has no callable export `{0}` of type () -> ()")]
    NoExport(String),
    /// The gas limit was used up.
    #[error("out of gas: the limit of {limit} was used up")]
    OutOfGas {
        /// The limit.
        limit: u64,
    },
    /// The call outlived the engine's wall-clock watchdog.
    #[error("contract call interrupted after {0:?}")]
    Deadline(Duration),
    /// Every pooled instance is in use (more contract executions at once than the pool was
    /// sized for). Not a result of the contract: the caller must fail its whole runtime call.
    #[error("the contract instance pool is exhausted: {0}")]
    PoolExhausted(String),
    /// The contract used up its native stack (recursion too deep). Where exactly that happens
    /// depends on native frame sizes, so callers charge the whole gas limit for it.
    #[error("contract trapped: wasm call stack exhausted")]
    StackOverflow,
    /// The contract trapped (unreachable, a bad memory access, a host function's error ...).
    #[error("contract trapped: {0}")]
    Trap(String),
}

/// Configuration of the contract engine.
#[derive(Clone, Debug)]
pub struct ContractEngineConfig {
    /// Upload limits (code size, memory pages ...).
    pub limits: Limits,
    /// Compiled modules kept.
    pub module_cache_size: usize,
    /// Largest wasm stack, bytes: bounds recursion.
    pub max_wasm_stack: usize,
    /// Wall-clock watchdog of one call.
    pub call_deadline: Duration,
    /// Where compiled modules are kept across restarts (`<code hash>.cwasm`); `None` for
    /// memory only.
    pub cache_dir: Option<PathBuf>,
    /// Contract instances kept ready in wasmtime's pooling allocator (0: allocate each on
    /// demand). It must cover every execution that can run at once: runtime instances times
    /// the deepest call stack. Each slot reserves address space (not memory) for one linear
    /// memory.
    pub pooled_instances: u32,
}

impl Default for ContractEngineConfig {
    fn default() -> Self {
        ContractEngineConfig {
            limits: Limits::default(),
            module_cache_size: 256,
            // Nested contracts and the runtime frames between them share the runtime's own
            // stack budget (1 MiB: each wasm engine counts from where it was first entered),
            // so eight levels of this plus the relays must fit in it.
            max_wasm_stack: 32 * 1024,
            // Far above what the largest gas limit takes (about a second): a watchdog for
            // bugs, never a rule of execution (see `sandbox`).
            call_deadline: Duration::from_secs(30),
            cache_dir: None,
            // 64 runtime instances (the executor's default) × 8 frames (the default call
            // depth), rounded up.
            pooled_instances: 544,
        }
    }
}

/// Where a prepared contract's compiled module came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PreparedFrom {
    /// The in-memory cache.
    Memory,
    /// The on-disk cache.
    Disk,
    /// The compiler, just now.
    Compiler,
}

/// A compiled contract, by the hash of its code.
#[derive(Clone)]
pub struct PreparedContract {
    /// blake2b-256 of the code.
    pub code_hash: Hash,
    /// The compiled module.
    pub module: Module,
    /// Where it came from.
    pub from: PreparedFrom,
}

/// What a call left: its result, the gas it used, and the store data back.
pub struct CallOutcome<T> {
    /// Ok, or why the call failed.
    pub result: Result<(), ContractError>,
    /// Fuel consumed (all of the limit when it ran out).
    pub gas_used: u64,
    /// The caller's store data, with whatever the host functions recorded.
    pub data: T,
}

/// Store data wrapper: the caller's data plus the memory limiter.
pub struct ContractState<T> {
    /// The caller's data, seen by its host functions.
    pub data: T,
    /// The contract's exported `memory`, once instantiated.
    pub memory: Option<wasmtime::Memory>,
    /// The watchdog's allowance in epoch ticks; host functions renew it when they return, so
    /// it bounds wasm running between host calls, not the host calls themselves.
    pub deadline_ticks: u64,
    limits: StoreLimits,
}

/// The contract engine (see the module docs).
pub struct ContractEngine {
    engine: Arc<Engine>,
    config: ContractEngineConfig,
    cache: Mutex<ModuleCache>,
}

#[derive(Default)]
struct ModuleCache {
    modules: HashMap<Hash, (Module, u64)>,
    clock: u64,
}

fn contract_config(cfg: &ContractEngineConfig) -> Config {
    let mut c = Config::new();
    deterministic_wasm(&mut c)
        .consume_fuel(true)
        .epoch_interruption(true)
        // Validation refuses them; the compiler need not know them either.
        .wasm_reference_types(false)
        .max_wasm_stack(cfg.max_wasm_stack)
        .parallel_compilation(false);
    // A contract memory never exceeds the validation limit (1 MiB by default), so each reserves
    // just that plus a guard page, not wasmtime's default 4 GiB: hundreds of pooled slots then
    // cost megabytes of address space, at the price of explicit bounds checks in contract code.
    let max_memory = cfg.limits.max_memory_pages.saturating_mul(65_536);
    c.memory_reservation(max_memory)
        .memory_guard_size(64 * 1024)
        .memory_reservation_for_growth(0);
    if cfg.pooled_instances > 0 {
        // A pooled instance reuses its memory and table slots: no mmap/munmap per call (which
        // cost about a tenth of a token transfer on the on-demand allocator, BENCHMARKS.md).
        let n = cfg.pooled_instances;
        let mut pool = PoolingAllocationConfig::default();
        pool.total_core_instances(n)
            .total_memories(n)
            .total_tables(n)
            .max_memories_per_module(1)
            .max_tables_per_module(1)
            .max_memory_size(cfg.limits.max_memory_pages as usize * 65_536)
            .table_elements(cfg.limits.max_table_elements as usize)
            .linear_memory_keep_resident(64 * 1024)
            .table_keep_resident(16 * 1024);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    c
}

impl ContractEngine {
    /// A new engine with its own epoch watchdog.
    pub fn new(config: ContractEngineConfig) -> Result<Self, ContractError> {
        let engine =
            Arc::new(Engine::new(&contract_config(&config)).map_err(|e| ContractError::Compile(e.to_string()))?);
        spawn_epoch_ticker(Arc::downgrade(&engine));
        Ok(ContractEngine {
            engine,
            config,
            cache: Mutex::new(ModuleCache::default()),
        })
    }

    /// Instances in the pool (0 when unpooled).
    pub fn pooled_instances(&self) -> u32 {
        self.config.pooled_instances
    }

    /// The upload limits code is validated against.
    pub fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// The wasmtime engine, for building a [`Linker`] of contract host functions.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// A compiled contract from the cache, if its code was prepared before.
    pub fn cached(&self, code_hash: &Hash) -> Option<PreparedContract> {
        let mut cache = self.cache.lock();
        cache.clock += 1;
        let now = cache.clock;
        cache.modules.get_mut(code_hash).map(|(module, used)| {
            *used = now;
            PreparedContract {
                code_hash: *code_hash,
                module: module.clone(),
                from: PreparedFrom::Memory,
            }
        })
    }

    /// Validates and compiles `code` (or takes it from the cache). `allowed_import` and
    /// `required_exports` describe the environment, as for [`watt_contract_validation::validate`].
    pub fn prepare(
        &self,
        code: &[u8],
        allowed_import: impl Fn(&str, &str) -> bool,
        required_exports: &[&str],
    ) -> Result<PreparedContract, ContractError> {
        let limits = self.config.limits.clone();
        self.prepare_with(code, &limits, allowed_import, required_exports, true, true)
    }

    /// As [`ContractEngine::prepare`] with the caller's limits (the chain's rule, clamped to the
    /// memory this engine is built for), validating only if `validate` (code validated at upload
    /// is only compiled, so it keeps working under newer limits), and keeping the compiled
    /// module on disk only if `persist`.
    pub fn prepare_with(
        &self,
        code: &[u8],
        limits: &Limits,
        allowed_import: impl Fn(&str, &str) -> bool,
        required_exports: &[&str],
        validate: bool,
        persist: bool,
    ) -> Result<PreparedContract, ContractError> {
        let code_hash = blake2_256(code);
        if validate {
            let mut limits = limits.clone();
            limits.max_memory_pages = limits.max_memory_pages.min(self.config.limits.max_memory_pages);
            watt_contract_validation::validate(code, &limits, allowed_import, required_exports)?;
        }
        if let Some(p) = self.cached(&code_hash) {
            return Ok(p);
        }
        let (module, from) = match self.load_compiled(&code_hash) {
            Some(m) => (m, PreparedFrom::Disk),
            None => {
                let m = Module::new(&self.engine, code).map_err(|e| ContractError::Compile(e.to_string()))?;
                if persist {
                    self.store_compiled(&code_hash, &m);
                }
                (m, PreparedFrom::Compiler)
            }
        };
        let mut cache = self.cache.lock();
        if cache.modules.len() >= self.config.module_cache_size {
            let oldest = cache.modules.iter().min_by_key(|(_, (_, used))| *used).map(|(h, _)| *h);
            if let Some(h) = oldest {
                cache.modules.remove(&h);
            }
        }
        cache.clock += 1;
        let now = cache.clock;
        cache.modules.insert(code_hash, (module.clone(), now));
        Ok(PreparedContract {
            code_hash,
            module,
            from,
        })
    }

    fn compiled_path(&self, code_hash: &Hash) -> Option<PathBuf> {
        let name: String = code_hash.iter().map(|b| format!("{b:02x}")).collect();
        self.config.cache_dir.as_ref().map(|d| d.join(format!("{name}.cwasm")))
    }

    /// The compiled module kept on disk for `code_hash`, if there is one this engine accepts.
    fn load_compiled(&self, code_hash: &Hash) -> Option<Module> {
        let path = self.compiled_path(code_hash)?;
        // Read whole, not mapped: a mapped artifact that something truncates would kill the
        // node with SIGBUS.
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: the bytes are a file this node wrote with `Module::serialize` for this code
        // hash, in its own data directory (trusted like its binary). wasmtime checks the
        // artifact's header against this engine's version and configuration and refuses a
        // mismatch or a truncated file; the contract is then compiled again and the file replaced.
        match unsafe { Module::deserialize(&self.engine, &bytes) } {
            Ok(m) => Some(m),
            Err(e) => {
                tracing::warn!("compiled contract {} unusable ({e:#}); compiling again", path.display());
                None
            }
        }
    }

    /// Keeps a compiled module on disk (written whole, then renamed, so a crash leaves no half
    /// file). Failing to is not an error: the module is in memory.
    fn store_compiled(&self, code_hash: &Hash, module: &Module) {
        let Some(path) = self.compiled_path(code_hash) else {
            return;
        };
        let tmp = path.with_extension("cwasm.tmp");
        let written = module
            .serialize()
            .map_err(|e| e.to_string())
            .and_then(|bytes| std::fs::write(&tmp, bytes).map_err(|e| e.to_string()))
            .and_then(|()| std::fs::rename(&tmp, &path).map_err(|e| e.to_string()));
        if let Err(e) = written {
            tracing::warn!("cannot keep compiled contract at {}: {e}", path.display());
        }
    }

    /// A linker for host functions over store data `T` (wrapped in [`ContractState`]).
    pub fn linker<T: 'static>(&self) -> Linker<ContractState<T>> {
        Linker::new(&self.engine)
    }

    /// Instantiates `contract` with `linker` and calls its export `export` (type `() -> ()`)
    /// with `gas_limit` fuel. Memory is capped at the validation limit.
    pub fn call<T: 'static>(
        &self,
        contract: &PreparedContract,
        linker: &Linker<ContractState<T>>,
        data: T,
        export: &str,
        gas_limit: u64,
    ) -> CallOutcome<T> {
        match linker.instantiate_pre(&contract.module) {
            Ok(pre) => self.call_pre(&pre, data, export, gas_limit),
            Err(e) => CallOutcome {
                result: Err(ContractError::Link(format!("{e:#}"))),
                gas_used: 0,
                data,
            },
        }
    }

    /// As [`ContractEngine::call`] from a contract already linked ([`Linker::instantiate_pre`]),
    /// which is what a cached call does: no import resolution, only instantiation.
    pub fn call_pre<T: 'static>(
        &self,
        pre: &InstancePre<ContractState<T>>,
        data: T,
        export: &str,
        gas_limit: u64,
    ) -> CallOutcome<T> {
        let deadline = self.config.call_deadline;
        let deadline_ticks = deadline.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64 + 1;
        let limits = StoreLimitsBuilder::new()
            .memory_size((self.config.limits.max_memory_pages as usize) * 65_536)
            .instances(1)
            .tables(1)
            .memories(1)
            .build();
        let mut store = Store::new(
            &self.engine,
            ContractState {
                data,
                memory: None,
                deadline_ticks,
                limits,
            },
        );
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(deadline_ticks);
        store.epoch_deadline_trap();
        let result = match store.set_fuel(gas_limit) {
            Ok(()) => Self::run(&mut store, pre, export, gas_limit, deadline),
            Err(e) => Err(ContractError::Trap(e.to_string())),
        };
        let left = store.get_fuel().unwrap_or(0);
        CallOutcome {
            result,
            gas_used: gas_limit.saturating_sub(left),
            data: store.into_data().data,
        }
    }

    fn run<T: 'static>(
        store: &mut Store<ContractState<T>>,
        pre: &InstancePre<ContractState<T>>,
        export: &str,
        gas_limit: u64,
        deadline: Duration,
    ) -> Result<(), ContractError> {
        let trap = |e: wasmtime::Error| match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::OutOfFuel) => ContractError::OutOfGas { limit: gas_limit },
            Some(wasmtime::Trap::StackOverflow) => ContractError::StackOverflow,
            Some(wasmtime::Trap::Interrupt) => ContractError::Deadline(deadline),
            _ => ContractError::Trap(format!("{e:#}")),
        };
        let instance = pre.instantiate(&mut *store).map_err(|e| {
            // Instantiation runs no contract code (no start section), so its failures are
            // link errors or limits.
            if e.downcast_ref::<wasmtime::PoolConcurrencyLimitError>().is_some() {
                return ContractError::PoolExhausted(format!("{e:#}"));
            }
            match e.downcast_ref::<wasmtime::Trap>() {
                Some(_) => trap(e),
                None => ContractError::Link(format!("{e:#}")),
            }
        })?;
        if let Some(memory) = instance.get_memory(&mut *store, "memory") {
            store.data_mut().memory = Some(memory);
        }
        let func = instance
            .get_typed_func::<(), ()>(&mut *store, export)
            .map_err(|_| ContractError::NoExport(export.to_string()))?;
        func.call(&mut *store, ()).map_err(trap)
    }
}

#[cfg(test)]
mod tests;
