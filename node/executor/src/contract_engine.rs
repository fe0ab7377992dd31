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
//!   or memory64; CPU features pinned to a baseline, whatever the host has.
//! - The chain's [`ContractVm`] shapes compiled code: its instruction costs become wasmtime's
//!   operator-cost table and its stack limit is injected into the code
//!   ([`watt_contract_instrument`]) before compiling, so how deep a contract may recurse is
//!   counted in wasm values, the same on every machine. The native stack limit sits far above
//!   it: reaching that one is a failure of the node ([`ContractError::StackOverflow`]), never a
//!   result. One wasmtime `Engine` per distinct `ContractVm`; caches are keyed by
//!   (code hash, [`ContractVm::id`]). A `ContractVm` naming another engine than
//!   [`ENGINE_VERSION`] is refused ([`ContractError::EngineMismatch`]).
//! - Exact gas on every exit: wasmtime writes fuel back only at calls, returns and host calls,
//!   so a trap the contract raises itself (a bad memory access, a division by zero,
//!   `unreachable`, the stack limit) charges the whole gas limit, as the EVM does for an
//!   invalid opcode; traps the environment raises happen inside host calls, where fuel is
//!   exact.
//! - Compiled modules are cached by code hash: in memory (least recently used out first), so a
//!   call instantiates from the cache, and optionally on disk ([`ContractEngineConfig::cache_dir`]),
//!   so a restarted node does not compile every contract again.
//!
//! The contract host functions (storage, events, cross-contract calls ...) are the contracts
//! pallet's environment; they are registered on a [`wasmtime::Linker`] over the caller's store
//! data `T`, so this module knows nothing of them.

use crate::wasm_config::{deterministic_wasm, spawn_epoch_ticker, EPOCH_TICK};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, OperatorCost, PoolingAllocationConfig,
    Store, StoreLimits, StoreLimitsBuilder,
};
use watt_contract_validation::{Limits, ValidationError};
use watt_primitives::sandbox::{ContractVm, InstructionCosts};
use watt_primitives::{blake2_256, Hash};

/// The contract engine this node runs: wasmtime's version, the operator-to-class mapping of
/// [`operator_costs`] (`vm-1`) and the pinned CPU baseline. A chain whose [`ContractVm::engine`]
/// names another is refused: another engine could compile, meter or limit code differently.
pub const ENGINE_VERSION: &str = "wasmtime-48.0.8/watt-vm-1";

/// Most distinct [`ContractVm`]s kept compiled for at once (a schedule change adds one).
const MAX_VMS: usize = 4;

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
    /// The contract used up its *native* stack. The deterministic stack limit should always
    /// stop it first; where the native limit falls depends on the machine, so this is a failure
    /// of the node, never a result of the contract.
    #[error("contract exhausted the node's native stack before its deterministic stack limit")]
    StackOverflow,
    /// The contract passed the chain's stack limit (counted in wasm values).
    #[error("contract trapped: stack height above the limit of {limit} wasm values")]
    StackLimit {
        /// The limit.
        limit: u32,
    },
    /// The contract's own code trapped (a bad memory access, a division by zero, `unreachable`
    /// ...): all of the gas limit is used.
    #[error("contract trapped: {0}")]
    WasmTrap(wasmtime::Trap),
    /// The environment stopped the contract (a host function's error).
    #[error("contract trapped: {0}")]
    Trap(String),
    /// The chain's contracts run on another engine than this node's.
    #[error(
        "the chain runs contracts on engine `{chain}`, this node has `{node}`: upgrade the node to validate this chain"
    )]
    EngineMismatch {
        /// The chain's engine.
        chain: String,
        /// This node's ([`ENGINE_VERSION`]).
        node: String,
    },
}

impl ContractError {
    /// Whether the whole gas limit is used: out of gas, or a trap the contract raised itself
    /// (fuel is not written back at those, so what was used is unknown; the EVM's rule).
    pub fn uses_all_gas(&self) -> bool {
        matches!(
            self,
            ContractError::OutOfGas { .. } | ContractError::StackLimit { .. } | ContractError::WasmTrap(_)
        )
    }
}

/// Configuration of the contract engine.
#[derive(Clone, Debug)]
pub struct ContractEngineConfig {
    /// Upload limits (code size, memory pages ...).
    pub limits: Limits,
    /// Compiled modules kept.
    pub module_cache_size: usize,
    /// Largest native stack of one contract instance, bytes: a safety net far above what the
    /// deterministic limit lets code use (reaching it fails the node).
    pub max_wasm_stack: usize,
    /// Wall-clock watchdog of one call.
    pub call_deadline: Duration,
    /// Where compiled modules are kept across restarts (`<code hash>.cwasm`); `None` for
    /// memory only.
    pub cache_dir: Option<PathBuf>,
    /// Most bytes of compiled modules kept in `cache_dir`: past it the least recently used are
    /// deleted (a deleted module is compiled again when next needed).
    pub cache_max_bytes: u64,
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
            // The default stack limit (4,096 wasm values) took at most 6.8 native bytes per value
            // in the shapes measured (BENCHMARKS.md, "Contract stack"): 28 KiB. This is 4.7x
            // that. Nested contracts and the runtime frames between them share the runtime's own
            // budget (1 MiB: each wasm engine counts from where it was first entered); eight
            // honest levels at the limit need about 230 KiB of it.
            max_wasm_stack: 128 * 1024,
            // Far above what the largest gas limit takes (about a second): a watchdog for
            // bugs, never a rule of execution (see `sandbox`).
            call_deadline: Duration::from_secs(30),
            cache_dir: None,
            // A compiled module is 2-6x its wasm: thousands of large contracts.
            cache_max_bytes: 4 << 30,
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

/// A compiled contract, by the hash of its code and the rules it was compiled under.
#[derive(Clone)]
pub struct PreparedContract {
    /// blake2b-256 of the code.
    pub code_hash: Hash,
    /// [`ContractVm::id`] of the rules it was compiled under.
    pub vm: Hash,
    /// The compiled (instrumented) module.
    pub module: Module,
    /// Its stack meter.
    pub meter: StackMeter,
    /// Where it came from.
    pub from: PreparedFrom,
}

/// Where an instrumented module keeps its stack height, and its limit (after an `unreachable`
/// trap, a height above the limit says it was the stack limit); and what its memory costs.
#[derive(Clone, Debug)]
pub struct StackMeter {
    /// The exported global.
    pub export: Arc<str>,
    /// The limit, wasm values.
    pub limit: u32,
    /// Gas per page of memory beyond the first, charged at the end of a call
    /// ([`ContractVm::memory_page`]).
    pub memory_page: u64,
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
    /// The engine of [`ContractVm::default`] (for [`ContractEngine::linker`] and tests).
    default_vm: Hash,
    /// One wasmtime engine per [`ContractVm::id`], with when it was last used.
    engines: Mutex<HashMap<Hash, (Arc<Engine>, u64)>>,
    config: ContractEngineConfig,
    cache: Mutex<ModuleCache>,
    /// Bytes of compiled modules in `cache_dir` (counted at start, kept up to date).
    disk_bytes: Mutex<u64>,
}

#[derive(Default)]
struct ModuleCache {
    modules: HashMap<(Hash, Hash), (Module, StackMeter, u64)>,
    clock: u64,
}

/// wasmtime's operator-cost table for `costs`: every operator gets its class's cost
/// (the mapping is `vm-1` of [`ENGINE_VERSION`]).
pub fn operator_costs(costs: &InstructionCosts) -> OperatorCost {
    let mut table = OperatorCost::new();
    macro_rules! assign {
        ($( @$proposal:ident $op:ident $({ $($arg:ident: $argty:ty),* })? => $visit:ident ($($ann:tt)*) )*) => {
            $( table.$op = operator_class_cost(costs, stringify!($op)); )*
        };
    }
    wasmparser::for_each_operator!(assign);
    table.variable.memory_grow_per_page = costs.memory_grow_per_page;
    table.variable.memory_copy_per_byte = costs.bulk_memory_per_byte;
    table.variable.memory_fill_per_byte = costs.bulk_memory_per_byte;
    table.variable.memory_init_per_byte = costs.bulk_memory_per_byte;
    table
}

/// The cost of the operator named `op` (wasmparser's name) under `c`.
fn operator_class_cost(c: &InstructionCosts, op: &str) -> u8 {
    match op {
        // No code of their own: the branches and blocks around them pay.
        "Nop" | "Drop" | "Block" | "Loop" | "Else" | "End" | "Unreachable" | "Return" => 0,
        "Br" | "BrIf" | "BrTable" | "If" => c.branch,
        "Call" => c.call,
        "CallIndirect" => c.call_indirect,
        "MemorySize" => c.memory_size,
        "MemoryGrow" => c.memory_grow,
        "MemoryCopy" | "MemoryFill" | "MemoryInit" | "DataDrop" => c.bulk_memory,
        "I32Mul" | "I64Mul" => c.mul,
        _ if op.ends_with("DivS") || op.ends_with("DivU") || op.ends_with("RemS") || op.ends_with("RemU") => c.div,
        _ if op.contains("F32") || op.contains("F64") => c.float,
        _ if op.contains("Load") => c.load,
        _ if op.contains("Store") => c.store,
        _ => c.simple,
    }
}

/// Removes what a crash left half written in the disk cache; the bytes of the modules in it.
fn sweep_disk_cache(dir: &std::path::Path) -> u64 {
    let mut total = 0u64;
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        match path.extension().and_then(|e| e.to_str()) {
            Some("tmp") => {
                let _ = std::fs::remove_file(&path);
            }
            Some("cwasm") => total += entry.metadata().map_or(0, |m| m.len()),
            _ => {}
        }
    }
    total
}

/// Deletes the least recently used compiled modules in `dir` (never `keep`, just written) until
/// at most `target` bytes remain; the bytes left.
fn evict_disk_cache(dir: &std::path::Path, target: u64, keep: &std::path::Path) -> u64 {
    let mut files: Vec<(std::time::SystemTime, u64, PathBuf)> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.path().extension().and_then(|x| x.to_str()) == Some("cwasm"))
        .filter_map(|e| {
            let m = e.metadata().ok()?;
            Some((m.modified().ok()?, m.len(), e.path()))
        })
        .collect();
    let mut total: u64 = files.iter().map(|f| f.1).sum();
    files.sort();
    let mut evicted = 0usize;
    for (_, len, path) in files {
        if total <= target {
            break;
        }
        if path == keep {
            continue;
        }
        if std::fs::remove_file(&path).is_ok() {
            total -= len;
            evicted += 1;
        }
    }
    tracing::info!(
        "contract cache over its size: {evicted} compiled modules deleted, {} MiB left",
        total >> 20
    );
    total
}

/// CPU features contract code may not use, whatever the host has: x86-64 code is compiled
/// for an x86-64-v2 baseline (SSE4.2, POPCNT), aarch64 code for the architecture's baseline, so
/// the same code compiles to the same instructions on every validator of an architecture.
#[cfg(target_arch = "x86_64")]
const UNPINNED_CPU_FEATURES: &[&str] = &[
    "has_avx",
    "has_avx2",
    "has_fma",
    "has_avx_vnni",
    "has_avx512vnni",
    "has_bmi1",
    "has_bmi2",
    "has_avx512bitalg",
    "has_avx512dq",
    "has_avx512f",
    "has_avx512vl",
    "has_avx512vbmi",
    "has_lzcnt",
];
#[cfg(target_arch = "aarch64")]
const UNPINNED_CPU_FEATURES: &[&str] = &["has_lse", "has_pauth", "has_fp16", "has_dotprod", "has_i8mm"];
#[cfg(not(any(target_arch = "x86_64", target_arch = "aarch64")))]
const UNPINNED_CPU_FEATURES: &[&str] = &[];

fn contract_config(cfg: &ContractEngineConfig, vm: &ContractVm) -> Config {
    let mut c = Config::new();
    for flag in UNPINNED_CPU_FEATURES {
        // SAFETY: turning a CPU feature off only narrows the instructions cranelift may emit;
        // wasmtime still checks every feature left on against the host.
        unsafe {
            c.cranelift_flag_set(flag, "false");
        }
    }
    deterministic_wasm(&mut c)
        .consume_fuel(true)
        .operator_cost(operator_costs(&vm.costs))
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
            // A contract's whole memory stays resident in its slot: reusing the slot resets the
            // pages the last call used with a memset, instead of returning them to the kernel
            // and faulting every one in again (27 us a page measured, BENCHMARKS.md).
            .linear_memory_keep_resident(max_memory as usize)
            .table_keep_resident(16 * 1024);
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    c
}

impl ContractEngine {
    /// A new engine (its [`ContractVm::default`] engine built, with its epoch watchdog).
    pub fn new(config: ContractEngineConfig) -> Result<Self, ContractError> {
        let vm = ContractVm::default();
        let disk_bytes = config.cache_dir.as_deref().map_or(0, sweep_disk_cache);
        let engine = ContractEngine {
            default_vm: vm.id(),
            engines: Mutex::new(HashMap::new()),
            config,
            cache: Mutex::new(ModuleCache::default()),
            disk_bytes: Mutex::new(disk_bytes),
        };
        engine.engine_for(&vm)?;
        Ok(engine)
    }

    /// The wasmtime engine compiling code under `vm` (built on first use).
    pub fn engine_for(&self, vm: &ContractVm) -> Result<Arc<Engine>, ContractError> {
        if vm.engine != ENGINE_VERSION {
            return Err(ContractError::EngineMismatch {
                chain: vm.engine.clone(),
                node: ENGINE_VERSION.to_string(),
            });
        }
        let id = vm.id();
        let mut engines = self.engines.lock();
        let now = engines.values().map(|(_, used)| *used).max().unwrap_or(0) + 1;
        if let Some((engine, used)) = engines.get_mut(&id) {
            *used = now;
            return Ok(engine.clone());
        }
        let engine = Arc::new(
            Engine::new(&contract_config(&self.config, vm)).map_err(|e| ContractError::Compile(e.to_string()))?,
        );
        spawn_epoch_ticker(Arc::downgrade(&engine));
        if engines.len() >= MAX_VMS {
            // Modules compiled under the evicted rules keep their engine alive while cached.
            let oldest = engines
                .iter()
                .filter(|(k, _)| **k != self.default_vm)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                engines.remove(&k);
            }
        }
        engines.insert(id, (engine.clone(), now));
        Ok(engine)
    }

    fn default_engine(&self) -> Arc<Engine> {
        match self.engine_for(&ContractVm::default()) {
            Ok(e) => e,
            // `new` built it already, with the same configuration.
            Err(e) => panic!("the default contract engine cannot be built: {e}"),
        }
    }

    /// The native stack of one contract instance, bytes.
    pub fn max_wasm_stack(&self) -> usize {
        self.config.max_wasm_stack
    }

    /// Instances in the pool (0 when unpooled).
    pub fn pooled_instances(&self) -> u32 {
        self.config.pooled_instances
    }

    /// The upload limits code is validated against.
    pub fn limits(&self) -> &Limits {
        &self.config.limits
    }

    /// A compiled contract from the cache, if its code was prepared under `vm` before.
    pub fn cached(&self, code_hash: &Hash, vm: &Hash) -> Option<PreparedContract> {
        let mut cache = self.cache.lock();
        cache.clock += 1;
        let now = cache.clock;
        cache.modules.get_mut(&(*code_hash, *vm)).map(|(module, meter, used)| {
            *used = now;
            PreparedContract {
                code_hash: *code_hash,
                vm: *vm,
                module: module.clone(),
                meter: meter.clone(),
                from: PreparedFrom::Memory,
            }
        })
    }

    /// Validates and compiles `code` under [`ContractVm::default`] (or takes it from the
    /// cache). `allowed_import` and `required_exports` describe the environment, as for
    /// [`watt_contract_validation::validate`].
    pub fn prepare(
        &self,
        code: &[u8],
        allowed_import: impl Fn(&str, &str) -> bool,
        required_exports: &[&str],
    ) -> Result<PreparedContract, ContractError> {
        let limits = self.config.limits.clone();
        self.prepare_with(
            code,
            &limits,
            &ContractVm::default(),
            allowed_import,
            required_exports,
            true,
            true,
        )
    }

    /// As [`ContractEngine::prepare`] with the caller's limits (the chain's rule, clamped to the
    /// memory this engine is built for), validating only if `validate` (code validated at upload
    /// is only compiled, so it keeps working under newer limits), and keeping the compiled
    /// module on disk only if `persist`.
    #[allow(clippy::too_many_arguments)]
    pub fn prepare_with(
        &self,
        code: &[u8],
        limits: &Limits,
        vm: &ContractVm,
        allowed_import: impl Fn(&str, &str) -> bool,
        required_exports: &[&str],
        validate: bool,
        persist: bool,
    ) -> Result<PreparedContract, ContractError> {
        let code_hash = blake2_256(code);
        let engine = self.engine_for(vm)?;
        let vm_id = vm.id();
        if validate {
            let mut limits = limits.clone();
            // The engine's pool is sized for its own limits; the chain's never exceed them
            // (`Schedule::check` bounds them by the same defaults).
            limits.max_memory_pages = limits.max_memory_pages.min(self.config.limits.max_memory_pages);
            limits.max_table_elements = limits.max_table_elements.min(self.config.limits.max_table_elements);
            watt_contract_validation::validate(code, &limits, allowed_import, required_exports)?;
        }
        if let Some(p) = self.cached(&code_hash, &vm_id) {
            return Ok(p);
        }
        // Cheap next to compiling, and it names the stack meter's export either way.
        let instrumented = watt_contract_instrument::inject_stack_limit(code, vm.max_stack_height)
            .map_err(|e| ContractError::Compile(e.to_string()))?;
        let meter = StackMeter {
            export: Arc::from(instrumented.height_export.as_str()),
            limit: vm.max_stack_height,
            memory_page: vm.memory_page as u64,
        };
        let (module, from) = match self.load_compiled(&engine, &code_hash, &vm_id) {
            Some(m) => (m, PreparedFrom::Disk),
            None => {
                let m = Module::new(&engine, &instrumented.code).map_err(|e| ContractError::Compile(e.to_string()))?;
                if persist {
                    self.store_compiled(&code_hash, &vm_id, &m);
                }
                (m, PreparedFrom::Compiler)
            }
        };
        let mut cache = self.cache.lock();
        if cache.modules.len() >= self.config.module_cache_size {
            let oldest = cache
                .modules
                .iter()
                .min_by_key(|(_, (_, _, used))| *used)
                .map(|(h, _)| *h);
            if let Some(h) = oldest {
                cache.modules.remove(&h);
            }
        }
        cache.clock += 1;
        let now = cache.clock;
        cache
            .modules
            .insert((code_hash, vm_id), (module.clone(), meter.clone(), now));
        Ok(PreparedContract {
            code_hash,
            vm: vm_id,
            module,
            meter,
            from,
        })
    }

    fn compiled_path(&self, code_hash: &Hash, vm: &Hash) -> Option<PathBuf> {
        let hex = |h: &Hash| h.iter().map(|b| format!("{b:02x}")).collect::<String>();
        // The rules' id is part of the name: code compiled under other costs or another stack
        // limit is another module.
        self.config
            .cache_dir
            .as_ref()
            .map(|d| d.join(format!("{}-{}.cwasm", hex(code_hash), &hex(vm)[..16])))
    }

    /// The compiled module kept on disk for `code_hash` under `vm`, if there is one `engine`
    /// accepts.
    fn load_compiled(&self, engine: &Engine, code_hash: &Hash, vm: &Hash) -> Option<Module> {
        let path = self.compiled_path(code_hash, vm)?;
        // Read whole, not mapped: a mapped artifact that something truncates would kill the
        // node with SIGBUS.
        let bytes = std::fs::read(&path).ok()?;
        // SAFETY: the bytes are a file this node wrote with `Module::serialize` for this code
        // hash, in its own data directory (trusted like its binary). wasmtime checks the
        // artifact's header against this engine's version and configuration and refuses a
        // mismatch or a truncated file; the contract is then compiled again and the file replaced.
        match unsafe { Module::deserialize(engine, &bytes) } {
            Ok(m) => {
                // Used now: the last to go when the cache is over its size.
                if let Ok(f) = std::fs::File::options().append(true).open(&path) {
                    let _ = f.set_modified(std::time::SystemTime::now());
                }
                Some(m)
            }
            Err(e) => {
                tracing::warn!("compiled contract {} unusable ({e:#}); compiling again", path.display());
                None
            }
        }
    }

    /// Keeps a compiled module on disk (written whole, then renamed, so a crash leaves no half
    /// file). Failing to is not an error: the module is in memory.
    fn store_compiled(&self, code_hash: &Hash, vm: &Hash, module: &Module) {
        let Some(path) = self.compiled_path(code_hash, vm) else {
            return;
        };
        let tmp = path.with_extension("cwasm.tmp");
        let replaced = std::fs::metadata(&path).map_or(0, |m| m.len());
        let written = module
            .serialize()
            .map_err(|e| e.to_string())
            .and_then(|bytes| {
                std::fs::write(&tmp, &bytes)
                    .map(|()| bytes.len() as u64)
                    .map_err(|e| e.to_string())
            })
            .and_then(|len| std::fs::rename(&tmp, &path).map(|()| len).map_err(|e| e.to_string()));
        match written {
            Ok(len) => {
                let mut used = self.disk_bytes.lock();
                *used = used.saturating_sub(replaced).saturating_add(len);
                if *used > self.config.cache_max_bytes {
                    if let Some(dir) = &self.config.cache_dir {
                        *used = evict_disk_cache(dir, self.config.cache_max_bytes / 10 * 9, &path);
                    }
                }
            }
            Err(e) => tracing::warn!("cannot keep compiled contract at {}: {e}", path.display()),
        }
    }

    /// A linker for host functions over store data `T` (wrapped in [`ContractState`]), for
    /// contracts prepared under [`ContractVm::default`].
    pub fn linker<T: 'static>(&self) -> Linker<ContractState<T>> {
        Linker::new(&self.default_engine())
    }

    /// A linker for `contract`'s engine.
    pub fn linker_for<T: 'static>(&self, contract: &PreparedContract) -> Linker<ContractState<T>> {
        Linker::new(contract.module.engine())
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
            Ok(pre) => self.call_pre(&pre, &contract.meter, data, export, gas_limit),
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
        meter: &StackMeter,
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
            pre.module().engine(),
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
            Ok(()) => Self::run(&mut store, pre, meter, export, gas_limit, deadline),
            Err(e) => Err(ContractError::Trap(e.to_string())),
        };
        let mut result = result;
        let mut gas_used = match &result {
            Err(e) if e.uses_all_gas() => gas_limit,
            _ => gas_limit.saturating_sub(store.get_fuel().unwrap_or(0)),
        };
        if !matches!(&result, Err(e) if e.uses_all_gas()) {
            // Memory is paid by the page at the end, beyond the first: the pages the call
            // touched cost page faults, and returning them to the pool costs a reset, however
            // few instructions touched them. Deterministic: the memory's size is.
            let pages = store.data().memory.map_or(0, |m| m.size(&store));
            let charge = pages.saturating_sub(1).saturating_mul(meter.memory_page);
            gas_used = gas_used.saturating_add(charge);
            if gas_used > gas_limit {
                result = Err(ContractError::OutOfGas { limit: gas_limit });
                gas_used = gas_limit;
            }
        }
        CallOutcome {
            result,
            gas_used,
            data: store.into_data().data,
        }
    }

    fn run<T: 'static>(
        store: &mut Store<ContractState<T>>,
        pre: &InstancePre<ContractState<T>>,
        meter: &StackMeter,
        export: &str,
        gas_limit: u64,
        deadline: Duration,
    ) -> Result<(), ContractError> {
        let trap = |e: wasmtime::Error| match e.downcast_ref::<wasmtime::Trap>() {
            Some(wasmtime::Trap::OutOfFuel) => ContractError::OutOfGas { limit: gas_limit },
            Some(wasmtime::Trap::StackOverflow) => ContractError::StackOverflow,
            Some(wasmtime::Trap::Interrupt) => ContractError::Deadline(deadline),
            Some(t) => ContractError::WasmTrap(*t),
            // Not a trap: a host function's error (the environment stopped the contract).
            None => ContractError::Trap(format!("{e:#}")),
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
        func.call(&mut *store, ()).map_err(|e| match trap(e) {
            // The stack-limit check traps with `unreachable`, leaving the height above the limit.
            ContractError::WasmTrap(wasmtime::Trap::UnreachableCodeReached)
                if instance
                    .get_global(&mut *store, &meter.export)
                    .and_then(|g| g.get(&mut *store).i32())
                    .is_some_and(|h| h as u32 > meter.limit) =>
            {
                ContractError::StackLimit { limit: meter.limit }
            }
            other => other,
        })
    }
}

#[cfg(test)]
mod tests;
