//! The deterministic wasmtime engine, the compiled-module cache and the call path.

use crate::host_functions::{HostFunctions, HostState, ALLOC_EXPORT, MEMORY_EXPORT};
use crate::overlay::{BackendError, StateSession};
use crate::signature_cache::VerifiedSignatures;
use crate::wasm_config::{deterministic_wasm, spawn_epoch_ticker, EPOCH_TICK};
use parity_scale_codec::{Decode, DecodeAll, Encode};
use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, InstancePre, Linker, Module, PoolingAllocationConfig, Store,
    StoreLimitsBuilder,
};
use watt_primitives::abi::{entry as entries, unpack_ptr_len};
use watt_primitives::{blake2_256, Hash};

/// Why a call into the runtime failed. None of these changes state: the call's writes are
/// discarded with it.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// The blob is not a valid wasm module for this engine.
    #[error("runtime code does not compile: {0}")]
    Compile(String),
    /// The module imports something the host does not provide, or lacks a required export.
    #[error("runtime code does not link: {0}")]
    Link(String),
    /// The pool of instances is exhausted or instantiation failed.
    #[error("cannot instantiate the runtime: {0}")]
    Instantiate(String),
    /// The runtime trapped (panicked, ran out of memory or stack, or misbehaved).
    #[error("runtime trapped in `{entry}`: {message}")]
    Trap {
        /// The entry point called.
        entry: String,
        /// The trap and the runtime's last error log.
        message: String,
    },
    /// The call ran past its deadline (a runtime that loops or is far too slow); it was
    /// interrupted and its writes are discarded.
    #[error("runtime call `{entry}` interrupted after {limit:?} (the runtime exceeded its execution deadline)")]
    Deadline {
        /// The entry point called.
        entry: String,
        /// The deadline it ran past.
        limit: Duration,
    },
    /// The runtime returned bytes that are not the expected SCALE type.
    #[error("runtime returned malformed output from `{0}`")]
    BadOutput(String),
    /// The database failed under the call.
    #[error(transparent)]
    Backend(#[from] BackendError),
}

/// The wall-clock bound of one runtime call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Deadline {
    /// The configured one: [`ExecutorConfig::block_call_deadline`] for block application and
    /// genesis, [`ExecutorConfig::call_deadline`] otherwise.
    Default,
    /// None: applying a block consensus already agreed on, which every node must finish
    /// however long it takes (abandoning it would leave the node unable to follow the chain).
    None,
}

/// Resource limits of runtime execution.
#[derive(Clone, Debug)]
pub struct ExecutorConfig {
    /// Largest linear memory a runtime instance may grow to.
    pub max_memory_bytes: usize,
    /// Native stack the runtime may use; deeper recursion traps.
    pub max_wasm_stack: usize,
    /// Instances that may run at once (block import, pool validation and RPC queries overlap).
    pub max_concurrent_instances: u32,
    /// Compiled runtimes kept in memory.
    pub module_cache_size: usize,
    /// Longest a block-building call (genesis, block application) may run.
    pub block_call_deadline: Duration,
    /// Longest any other call (validation, queries) may run.
    pub call_deadline: Duration,
    /// Instances kept for consensus (building genesis, applying a block, judging a proposed
    /// transaction set: [`CONSENSUS_ENTRIES`]): other calls (RPC queries, pool admission of
    /// gossiped or submitted transactions) wait rather than take the last ones, so SCP's
    /// validity check and the block apply always get an instance however busy the RPC is.
    pub reserved_for_consensus: u32,
    /// The contract engine [`crate::assembly`] builds beside this one (carried here so one
    /// config describes the node's executor; the runtime engine never reads it).
    pub contracts: crate::contract_engine::ContractEngineConfig,
}

impl Default for ExecutorConfig {
    fn default() -> Self {
        ExecutorConfig {
            max_memory_bytes: 512 << 20,
            max_wasm_stack: 1 << 20,
            max_concurrent_instances: 64,
            module_cache_size: 4,
            block_call_deadline: Duration::from_secs(60),
            call_deadline: Duration::from_secs(10),
            reserved_for_consensus: 2,
            contracts: Default::default(),
        }
    }
}

/// Runtime code with its hash computed once (the cache key).
#[derive(Clone)]
pub struct RuntimeCode {
    /// blake2b-256 of `code`.
    pub hash: Hash,
    /// The wasm blob.
    pub code: Arc<[u8]>,
}

impl RuntimeCode {
    /// Wraps a blob.
    pub fn new(code: impl Into<Arc<[u8]>>) -> Self {
        let code = code.into();
        RuntimeCode {
            hash: blake2_256(&code),
            code,
        }
    }
}

impl std::fmt::Debug for RuntimeCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "RuntimeCode(0x{}, {} bytes)",
            hex_prefix(&self.hash),
            self.code.len()
        )
    }
}

fn hex_prefix(h: &Hash) -> String {
    h[..4].iter().map(|b| format!("{b:02x}")).collect()
}

/// The runtime entry points consensus calls: they may take the instances reserved by
/// [`ExecutorConfig::reserved_for_consensus`]. Everything an outsider can trigger (RPC queries
/// and dry runs, validation of a submitted or gossiped transaction) is an ordinary call.
pub const CONSENSUS_ENTRIES: [&str; 3] = [entries::BUILD_GENESIS, entries::APPLY_BLOCK, entries::VALIDATE_TX_SET];

/// Admission to the pooling allocator's instances. wasmtime fails an instantiation when every
/// instance is taken; here a caller waits for one instead, and ordinary calls leave
/// `reserved` instances to consensus.
struct InstanceSlots {
    in_use: Mutex<u32>,
    freed: Condvar,
    total: u32,
    reserved: u32,
}

/// An instance slot held for the length of one call.
struct SlotGuard<'a>(&'a InstanceSlots);

impl InstanceSlots {
    fn acquire(&self, for_consensus: bool) -> SlotGuard<'_> {
        let limit = if for_consensus {
            self.total
        } else {
            self.total.saturating_sub(self.reserved).max(1)
        };
        let mut in_use = self.in_use.lock();
        while *in_use >= limit {
            self.freed.wait(&mut in_use);
        }
        *in_use += 1;
        SlotGuard(self)
    }
}

impl Drop for SlotGuard<'_> {
    fn drop(&mut self) {
        *self.0.in_use.lock() -= 1;
        // Wake everyone: a consensus waiter may be behind ordinary ones it can overtake.
        self.0.freed.notify_all();
    }
}

/// Runs runtime entry points.
pub struct Executor {
    engine: Engine,
    linker: Linker<HostState>,
    modules: Mutex<HashMap<Hash, InstancePre<HostState>>>,
    slots: InstanceSlots,
    config: ExecutorConfig,
    /// Valid signatures remembered (shared with the default crypto host functions).
    verified: Arc<VerifiedSignatures>,
    /// Keeps the epoch ticker running exactly as long as this executor.
    #[allow(dead_code)]
    ticker: Arc<Engine>,
}

fn deterministic_config(cfg: &ExecutorConfig) -> Config {
    let mut c = Config::new();
    deterministic_wasm(&mut c)
        // rustc's wasm32 target emits the reference-types encoding of call_indirect.
        .wasm_reference_types(true)
        .max_wasm_stack(cfg.max_wasm_stack)
        .epoch_interruption(true)
        .parallel_compilation(true);
    let mut pool = PoolingAllocationConfig::default();
    pool.total_core_instances(cfg.max_concurrent_instances)
        .total_memories(cfg.max_concurrent_instances)
        .total_tables(cfg.max_concurrent_instances)
        .max_memory_size(cfg.max_memory_bytes)
        // Returning an instance's memory to the pool is an `madvise`, and each one shoots
        // down the TLBs of every core running the node (a few percent of a validator's time
        // under load); batched, one call covers several. A slot waiting in a batch is not
        // reused until its memory is reset, and allocation flushes the batch when short.
        .decommit_batch_size(8);
    c.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    c
}

impl Executor {
    /// An executor with the given host-function sets (the defaults plus extensions, usually).
    /// Its [`Executor::preverify_signatures`] fills a cache of its own, which the sets' crypto
    /// functions consult only if they were built with it.
    pub fn with_host_functions(config: ExecutorConfig, sets: Vec<Box<dyn HostFunctions>>) -> Result<Self, ExecError> {
        Self::with_host_functions_verified(config, sets, Arc::new(VerifiedSignatures::default()))
    }

    /// Verifies the signatures of `items` as one batch (schnorrkel's batch verification costs
    /// about half as much per signature as checking each) and, when all are valid, remembers
    /// them, so the runtime's checks of those transactions (pool admission, the set check,
    /// the block) find them verified. `false` when any is invalid: nothing is remembered and
    /// each is checked alone when the runtime gets to it. A result changes no runtime
    /// outcome (see [`crate::signature_cache`]), only what the runtime's checks cost.
    pub fn preverify_signatures(&self, items: Vec<([u8; 32], [u8; 64], Vec<u8>)>) -> bool {
        self.verified.verify_batch(&watt_support::crypto::BatchItems(items))
    }

    /// As [`Executor::with_host_functions`], with the signature cache the sets' crypto
    /// functions were built with (so [`Executor::preverify_signatures`] fills theirs).
    pub(crate) fn with_host_functions_verified(
        config: ExecutorConfig,
        sets: Vec<Box<dyn HostFunctions>>,
        verified: Arc<VerifiedSignatures>,
    ) -> Result<Self, ExecError> {
        let engine = Engine::new(&deterministic_config(&config)).map_err(|e| ExecError::Instantiate(e.to_string()))?;
        let mut linker = Linker::new(&engine);
        for set in &sets {
            set.register(&mut linker).map_err(|e| ExecError::Link(e.to_string()))?;
        }
        let ticked = Arc::new(engine.clone());
        spawn_epoch_ticker(Arc::downgrade(&ticked));
        Ok(Executor {
            engine,
            linker,
            modules: Mutex::new(HashMap::new()),
            slots: InstanceSlots {
                in_use: Mutex::new(0),
                freed: Condvar::new(),
                total: config.max_concurrent_instances.max(1),
                reserved: config.reserved_for_consensus,
            },
            config,
            verified,
            ticker: ticked,
        })
    }

    /// Compiles and links `code`, or takes it from the cache.
    pub fn prepare(&self, code: &RuntimeCode) -> Result<InstancePre<HostState>, ExecError> {
        if let Some(pre) = self.modules.lock().get(&code.hash) {
            return Ok(pre.clone());
        }
        let started = std::time::Instant::now();
        let module = Module::new(&self.engine, &code.code).map_err(|e| ExecError::Compile(format!("{e:#}")))?;
        for required in [MEMORY_EXPORT, ALLOC_EXPORT] {
            if module.get_export(required).is_none() {
                return Err(ExecError::Link(format!("missing export `{required}`")));
            }
        }
        let pre = self
            .linker
            .instantiate_pre(&module)
            .map_err(|e| ExecError::Link(format!("{e:#}")))?;
        tracing::info!(code = ?code, took_ms = started.elapsed().as_millis() as u64, "compiled runtime");
        let mut modules = self.modules.lock();
        if modules.len() >= self.config.module_cache_size {
            modules.clear();
        }
        modules.insert(code.hash, pre.clone());
        Ok(pre)
    }

    /// Calls `entry` with SCALE `input` against `session`; returns the session (with the call's
    /// writes) and the raw output. On error the session's writes must be discarded.
    pub fn call(
        &self,
        code: &RuntimeCode,
        entry: &str,
        input: &[u8],
        session: StateSession,
    ) -> (StateSession, Result<Vec<u8>, ExecError>) {
        self.call_with(code, entry, input, session, Deadline::Default)
    }

    /// As [`Executor::call`], choosing the wall-clock bound.
    pub fn call_with(
        &self,
        code: &RuntimeCode,
        entry: &str,
        input: &[u8],
        session: StateSession,
        deadline: Deadline,
    ) -> (StateSession, Result<Vec<u8>, ExecError>) {
        let pre = match self.prepare(code) {
            Ok(p) => p,
            Err(e) => return (session, Err(e)),
        };
        let for_block = entry == entries::APPLY_BLOCK || entry == entries::BUILD_GENESIS;
        let deadline = match deadline {
            Deadline::Default if for_block => Some(self.config.block_call_deadline),
            Deadline::Default => Some(self.config.call_deadline),
            Deadline::None => None,
        };
        let _slot = self.slots.acquire(CONSENSUS_ENTRIES.contains(&entry));
        let limits = StoreLimitsBuilder::new()
            .memory_size(self.config.max_memory_bytes)
            .instances(1)
            .build();
        let mut store = Store::new(&self.engine, HostState::new(session, limits));
        store.limiter(|s| &mut s.limits);
        // Ticks round up, and one more: the first tick may come at once.
        // No deadline: 2^40 ticks, centuries, far from overflowing the epoch counter.
        let ticks = deadline.map_or(1 << 40, |d| d.as_nanos().div_ceil(EPOCH_TICK.as_nanos()) as u64 + 1);
        store.set_epoch_deadline(ticks);
        store.epoch_deadline_trap();
        let result = Self::run(&mut store, &pre, entry, input);
        let state = store.into_data();
        let result = match (result, state.session.error()) {
            (_, Some(e)) => Err(ExecError::Backend(e.clone())),
            (Err(ExecError::Deadline { entry, .. }), None) => Err(ExecError::Deadline {
                entry,
                limit: deadline.unwrap_or(Duration::MAX),
            }),
            (Err(ExecError::Trap { entry, message }), None) => {
                let message = match &state.last_error {
                    Some(log) => format!("{message} (runtime said: {log})"),
                    None => message,
                };
                Err(ExecError::Trap { entry, message })
            }
            (r, None) => r,
        };
        (state.session, result)
    }

    fn run(
        store: &mut Store<HostState>,
        pre: &InstancePre<HostState>,
        entry: &str,
        input: &[u8],
    ) -> Result<Vec<u8>, ExecError> {
        let trap = |e: wasmtime::Error| match e.downcast_ref::<wasmtime::Trap>() {
            // The caller fills in the deadline it set.
            Some(wasmtime::Trap::Interrupt) => ExecError::Deadline {
                entry: entry.to_string(),
                limit: Duration::ZERO,
            },
            _ => ExecError::Trap {
                entry: entry.to_string(),
                message: format!("{e:#}"),
            },
        };
        let instance = pre
            .instantiate(&mut *store)
            .map_err(|e| ExecError::Instantiate(format!("{e:#}")))?;
        let memory = instance
            .get_memory(&mut *store, MEMORY_EXPORT)
            .ok_or_else(|| ExecError::Link(format!("`{MEMORY_EXPORT}` is not a memory")))?;
        let alloc = instance
            .get_typed_func::<u32, u32>(&mut *store, ALLOC_EXPORT)
            .map_err(|e| ExecError::Link(format!("`{ALLOC_EXPORT}`: {e}")))?;
        let func = instance
            .get_typed_func::<(u32, u32), u64>(&mut *store, entry)
            .map_err(|e| ExecError::Link(format!("entry `{entry}`: {e}")))?;
        store.data_mut().memory = Some(memory);
        store.data_mut().alloc = Some(alloc.clone());
        let len = u32::try_from(input.len()).map_err(|_| ExecError::Instantiate("input larger than 4 GiB".into()))?;
        let ptr = alloc.call(&mut *store, len).map_err(trap)?;
        memory
            .write(&mut *store, ptr as usize, input)
            .map_err(|_| ExecError::Trap {
                entry: entry.into(),
                message: "allocator returned an invalid buffer".into(),
            })?;
        let packed = func.call(&mut *store, (ptr, len)).map_err(trap)?;
        let (out_ptr, out_len) = unpack_ptr_len(packed);
        let mut out = vec![0u8; out_len as usize];
        memory
            .read(&*store, out_ptr as usize, &mut out)
            .map_err(|_| ExecError::BadOutput(entry.to_string()))?;
        Ok(out)
    }

    /// [`Executor::call`] with SCALE encoding of the input and decoding of the output.
    pub fn call_decoded<O: Decode>(
        &self,
        code: &RuntimeCode,
        entry: &str,
        input: &impl Encode,
        session: StateSession,
    ) -> (StateSession, Result<O, ExecError>) {
        self.call_decoded_with(code, entry, input, session, Deadline::Default)
    }

    /// As [`Executor::call_decoded`], choosing the wall-clock bound.
    pub fn call_decoded_with<O: Decode>(
        &self,
        code: &RuntimeCode,
        entry: &str,
        input: &impl Encode,
        session: StateSession,
        deadline: Deadline,
    ) -> (StateSession, Result<O, ExecError>) {
        let (session, raw) = self.call_with(code, entry, &input.encode(), session, deadline);
        let decoded =
            raw.and_then(|bytes| O::decode_all(&mut &bytes[..]).map_err(|_| ExecError::BadOutput(entry.to_string())));
        (session, decoded)
    }
}
