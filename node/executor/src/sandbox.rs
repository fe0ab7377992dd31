//! The contract sandbox: the node side of `watt_primitives::sandbox`.
//!
//! [`ContractSandbox`] runs contract code in the [`ContractEngine`] and relays every call the
//! contract makes to module `watt_v1` to whoever serves the environment:
//! - for the wasm runtime, [`SandboxFunctions`] registers the `sandbox_*_v1` host functions; a
//!   relayed call re-enters the runtime instance through its `watt_sandbox_env` export, with
//!   the contract's memory reachable through `sandbox_memory_read_v1`/`_write_v1` while it runs;
//! - for the native runtime, [`NativeSandbox`] is the `watt_support::sandbox::SandboxHost` the
//!   native twin calls, relaying straight to the pallet's `SandboxEnv`.
//!
//! The host knows no contract function: it links whatever `watt_v1` functions the code imports
//! (the runtime validated the names at upload) as relays, so the rules, costs and the function
//! list all live in the runtime and change with it.

use crate::contract_engine::{ContractEngine, ContractError, ContractState, PreparedContract, StackMeter};
use crate::host_functions::{GuestMemory, HostFunctions, HostState};
use parity_scale_codec::{DecodeAll, Encode};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::Arc;
use wasmtime::{Caller, ExternType, InstancePre, Linker, TypedFunc, Val, ValType};
use watt_primitives::abi::{unpack_ptr_len, HOST_MODULE};
use watt_primitives::sandbox::{
    host as names, CodeSummary, EnvCall, EnvReply, ImportSignature, SandboxExecute, SandboxOutcome, SandboxPrepare,
    ValueType, CONTRACT_ENV_MODULE, ENTRY_SANDBOX_ENV,
};
use watt_primitives::Hash;
use watt_support::sandbox::{SandboxEnv, SandboxHost, SliceMemory};

/// Serves one relayed environment call; `memory` is the calling contract's linear memory.
/// An `Err` is a failure of the runtime itself (it trapped): it ends the whole runtime call.
trait Relay {
    fn relay(
        &mut self,
        function: &str,
        args: &[u64],
        gas_left: u64,
        memory: &mut [u8],
    ) -> Result<EnvReply, wasmtime::Error>;
}

/// Why a contract stopped early, recorded by the relay before it makes the contract trap.
enum Stop {
    Halt,
    OutOfGas,
    Trap(String),
    Runtime(wasmtime::Error),
}

/// The store data of a running contract.
struct Frame {
    /// The relay of the execution in progress. A raw pointer because the store must be
    /// `'static`; see [`ContractSandbox::execute`] for why it stays valid.
    relay: *mut (dyn Relay + 'static),
    stop: Option<Stop>,
}

// SAFETY: a `Frame` lives in a store created, used and dropped on one thread within one
// `ContractSandbox::execute` call; it is never sent anywhere.
unsafe impl Send for Frame {}

/// A contract linked to the relays, with its stack meter.
type Linked = (InstancePre<ContractState<Frame>>, StackMeter);

/// Why code could not be prepared.
#[derive(Debug)]
pub enum PrepareError {
    /// The code is refused or does not compile: an answer for the runtime.
    Refused(String),
    /// This node cannot prepare contracts of this chain at all (another engine): the runtime
    /// call must fail, not answer.
    Node(String),
}

/// Validates, compiles, links and runs contracts (see the module docs).
pub struct ContractSandbox {
    engine: Arc<ContractEngine>,
    /// By (code hash, [`watt_primitives::sandbox::ContractVm::id`]).
    linked: Mutex<HashMap<(Hash, Hash), Linked>>,
    /// Outermost executions that may run at once, so that each can nest to the deepest call
    /// stack without the instance pool running out (`None`: unpooled, no bound).
    outermost: Option<OutermostSlots>,
}

/// (executions running, freed signal, most at once).
type OutermostSlots = (Mutex<u32>, parking_lot::Condvar, u32);

/// The deepest nesting the instance pool is sized for (the contracts pallet's schedules may
/// not exceed it: `pallet_contracts::schedule::bounds::MAX_CALL_DEPTH`).
pub const MAX_NESTING: u32 = 8;

thread_local! {
    /// Executions running on this thread (they nest through environment calls).
    static DEPTH: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
    /// The module this thread prepared last: the execution that follows finds it even if
    /// other threads pushed it out of the shared cache meanwhile, so whether a call runs never
    /// depends on what else the node is doing.
    static JUST_PREPARED: std::cell::RefCell<Option<PreparedContract>> =
        const { std::cell::RefCell::new(None) };
}

/// An outermost execution's place (released on drop).
struct Outermost<'a>(Option<&'a OutermostSlots>);

impl Drop for Outermost<'_> {
    fn drop(&mut self) {
        if let Some((running, freed, _)) = self.0 {
            *running.lock() -= 1;
            freed.notify_one();
        }
    }
}

/// Leaves one level of [`DEPTH`] on drop.
struct Nested;

impl Drop for Nested {
    fn drop(&mut self) {
        DEPTH.with(|d| d.set(d.get().saturating_sub(1)));
    }
}

/// Most linked contracts kept; past it the map starts over (the engine keeps the compiled
/// modules, so relinking is cheap).
const LINKED_CACHE: usize = 1024;

impl ContractSandbox {
    /// A sandbox over `engine`.
    pub fn new(engine: Arc<ContractEngine>) -> Self {
        let pooled = engine.pooled_instances();
        let outermost = (pooled > 0).then(|| {
            (
                Mutex::new(0),
                parking_lot::Condvar::new(),
                (pooled / MAX_NESTING).max(1),
            )
        });
        ContractSandbox {
            engine,
            linked: Mutex::new(HashMap::new()),
            outermost,
        }
    }

    /// The engine (for its cache statistics and tests).
    pub fn engine(&self) -> &ContractEngine {
        &self.engine
    }

    /// Validates `input.code` against the ABI and limits the runtime describes (unless
    /// `input.validate` is false: code already on chain) and compiles it under `input.vm`.
    pub fn prepare(&self, input: &SandboxPrepare) -> Result<CodeSummary, PrepareError> {
        let allowed =
            |module: &str, name: &str| module == CONTRACT_ENV_MODULE && input.functions.iter().any(|f| f.name == name);
        let exports: Vec<&str> = input.exports.iter().map(String::as_str).collect();
        let limits = watt_contract_validation::Limits::from(&input.limits);
        let prepared = self
            .engine
            .prepare_with(
                &input.code,
                &limits,
                &input.vm,
                allowed,
                &exports,
                input.validate,
                input.persist,
            )
            .map_err(|e| match e {
                // Not the code's fault: this node cannot follow the chain's contracts.
                ContractError::EngineMismatch { .. } => PrepareError::Node(e.to_string()),
                e => PrepareError::Refused(e.to_string()),
            })?;
        if input.validate {
            check_import_types(&prepared.module, &input.functions).map_err(PrepareError::Refused)?;
        }
        let functions = prepared
            .module
            .functions()
            .count()
            .saturating_sub(prepared.module.imports().count());
        let max_memory_pages = prepared
            .module
            .exports()
            .find_map(|e| match e.ty() {
                ExternType::Memory(m) => m.maximum(),
                _ => None,
            })
            .unwrap_or(0);
        JUST_PREPARED.with(|p| *p.borrow_mut() = Some(prepared));
        Ok(CodeSummary {
            functions: u32::try_from(functions).unwrap_or(u32::MAX),
            max_memory_pages: u32::try_from(max_memory_pages).unwrap_or(u32::MAX),
        })
    }

    fn linked(&self, code_hash: &Hash, vm: &Hash) -> Result<Option<Linked>, ContractError> {
        if let Some(linked) = self.linked.lock().get(&(*code_hash, *vm)) {
            return Ok(Some(linked.clone()));
        }
        let prepared = match self.engine.cached(code_hash, vm) {
            Some(prepared) => prepared,
            None => match JUST_PREPARED.with(|p| p.borrow().clone()) {
                Some(p) if p.code_hash == *code_hash && p.vm == *vm => p,
                _ => return Ok(None),
            },
        };
        let module = &prepared.module;
        let mut linker: Linker<ContractState<Frame>> = self.engine.linker_for(&prepared);
        for import in module.imports() {
            let ExternType::Func(ty) = import.ty() else {
                return Err(ContractError::Link(format!(
                    "import `{}` is not a function",
                    import.name()
                )));
            };
            let name: Arc<str> = Arc::from(import.name());
            let returns_i32 = matches!(ty.results().next(), Some(ValType::I32));
            linker
                .func_new(import.module(), import.name(), ty, move |caller, params, results| {
                    relay_call(caller, &name, returns_i32, params, results)
                })
                .map_err(|e| ContractError::Link(format!("{e:#}")))?;
        }
        let pre = linker
            .instantiate_pre(module)
            .map_err(|e| ContractError::Link(format!("{e:#}")))?;
        let entry = (pre, prepared.meter.clone());
        let mut linked = self.linked.lock();
        if linked.len() >= LINKED_CACHE {
            linked.clear();
        }
        linked.insert((*code_hash, *vm), entry.clone());
        Ok(Some(entry))
    }

    /// Runs `input`, relaying environment calls to `relay`. `Err` only when the relay failed
    /// (the runtime trapped underneath).
    fn execute(&self, input: &SandboxExecute, relay: &mut dyn Relay) -> Result<SandboxOutcome, wasmtime::Error> {
        // An outermost execution waits for a place; nested ones run in their outermost's.
        let depth = DEPTH.with(|d| d.get());
        if depth >= MAX_NESTING {
            return Err(wasmtime::format_err!(
                "contracts nested {depth} deep, past the {MAX_NESTING} the node is built for"
            ));
        }
        let _place = match (&self.outermost, depth) {
            (Some(slots), 0) => {
                let (running, freed, max) = slots;
                let mut n = running.lock();
                while *n >= *max {
                    freed.wait(&mut n);
                }
                *n += 1;
                Outermost(Some(slots))
            }
            _ => Outermost(None),
        };
        DEPTH.with(|d| d.set(depth + 1));
        let _nested = Nested;
        let (pre, meter) = match self.linked(&input.code_hash, &input.vm) {
            Ok(Some(linked)) => linked,
            Ok(None) => return Ok(SandboxOutcome::NotPrepared),
            Err(e) => {
                return Ok(SandboxOutcome::Trapped {
                    gas_used: 0,
                    message: e.to_string(),
                })
            }
        };
        // SAFETY: the pointer is stored in the store's data only; the store is created and
        // dropped inside `call_pre` below, before `relay`'s borrow ends, and the relay is only
        // dereferenced from host calls made while that store runs. Erasing the lifetime is what
        // lets the store be `'static`.
        let relay: *mut (dyn Relay + 'static) = unsafe { std::mem::transmute(relay) };
        let frame = Frame { relay, stop: None };
        let outcome = self
            .engine
            .call_pre(&pre, &meter, frame, input.export.name(), input.gas_limit);
        let gas_used = outcome.gas_used;
        Ok(match (outcome.data.stop, outcome.result) {
            (Some(Stop::Runtime(e)), _) => return Err(e),
            // Out of gas first: the memory charge at the end can run out after the environment
            // halted the contract.
            (Some(Stop::OutOfGas), _) | (_, Err(ContractError::OutOfGas { .. })) => SandboxOutcome::OutOfGas,
            (Some(Stop::Halt), _) => SandboxOutcome::Halted { gas_used },
            (Some(Stop::Trap(message)), _) => SandboxOutcome::Trapped { gas_used, message },
            // The wall-clock watchdog is not part of the chain's rules: its firing depends on
            // the machine, so it must not become a result other nodes could disagree with. The
            // whole runtime call fails instead, as a runtime past its deadline does.
            // Likewise a full instance pool (load, not a rule) and the native stack (the
            // deterministic limit must stop every contract first; where the native one falls
            // depends on the machine's frame sizes).
            (None, Err(ContractError::StackOverflow)) => {
                return Err(wasmtime::format_err!(
                    "{} (limit {} wasm values, {} native bytes): this node cannot execute this block",
                    ContractError::StackOverflow,
                    meter.limit,
                    self.engine.max_wasm_stack()
                ))
            }
            (None, Err(ContractError::PoolExhausted(why))) => {
                return Err(wasmtime::format_err!("contract instance pool exhausted: {why}"))
            }
            (None, Err(ContractError::Deadline(limit))) => {
                return Err(wasmtime::format_err!(
                    "contract execution outlived the {limit:?} watchdog (gas should have stopped it first)"
                ))
            }
            // A trap of the contract's own code: all of the limit (see `ContractError::uses_all_gas`).
            (None, Err(e)) if e.uses_all_gas() => SandboxOutcome::Trapped {
                gas_used: input.gas_limit,
                message: e.to_string(),
            },
            (None, Ok(())) => SandboxOutcome::Finished { gas_used },
            (None, Err(e)) => SandboxOutcome::Trapped {
                gas_used,
                message: e.to_string(),
            },
        })
    }
}

/// Refuses an import whose wasm type is not the ABI's (names were checked by validation).
fn check_import_types(module: &wasmtime::Module, abi: &[ImportSignature]) -> Result<(), String> {
    let wasm = |t: &ValueType| match t {
        ValueType::I32 => ValType::I32,
        ValueType::I64 => ValType::I64,
    };
    let text = |types: &mut dyn Iterator<Item = ValType>| types.map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
    for import in module.imports() {
        let (ExternType::Func(ty), Some(sig)) = (import.ty(), abi.iter().find(|s| s.name == import.name())) else {
            continue;
        };
        let same = ty.params().len() == sig.params.len()
            && ty.results().len() == sig.results.len()
            && ty.params().zip(&sig.params).all(|(a, b)| ValType::eq(&a, &wasm(b)))
            && ty.results().zip(&sig.results).all(|(a, b)| ValType::eq(&a, &wasm(b)));
        if !same {
            return Err(format!(
                "import `{}`.`{}` has type ({}) -> ({}), the contract ABI's is ({}) -> ({})",
                import.module(),
                import.name(),
                text(&mut ty.params()),
                text(&mut ty.results()),
                text(&mut sig.params.iter().map(wasm)),
                text(&mut sig.results.iter().map(wasm)),
            ));
        }
    }
    Ok(())
}

/// The body of every linked `watt_v1` function: relay, charge, answer.
fn relay_call(
    mut caller: Caller<'_, ContractState<Frame>>,
    name: &str,
    returns_i32: bool,
    params: &[Val],
    results: &mut [Val],
) -> wasmtime::Result<()> {
    let args: Vec<u64> = params
        .iter()
        .map(|v| match v {
            Val::I32(x) => *x as u32 as u64,
            Val::I64(x) => *x as u64,
            // Validation admits no other parameter types in imports.
            _ => 0,
        })
        .collect();
    let gas_left = caller.get_fuel()?;
    let relay = caller.data().data.relay;
    let reply = {
        let memory = caller.data().memory;
        let mut empty = [0u8; 0];
        let bytes: &mut [u8] = match memory {
            Some(m) => m.data_mut(&mut caller),
            None => &mut empty,
        };
        // SAFETY: see `ContractSandbox::execute`: the relay outlives the store this host call
        // runs in, and nothing else holds it during the call.
        unsafe { (*relay).relay(name, &args, gas_left, bytes) }
    };
    let (charge, stop, value) = match reply {
        Ok(EnvReply::Return { value, charge }) => (charge, None, value),
        Ok(EnvReply::Halt { charge }) => (charge, Some(Stop::Halt), 0),
        Ok(EnvReply::Trap { charge, message }) => (charge, Some(Stop::Trap(message)), 0),
        Err(e) => (0, Some(Stop::Runtime(e)), 0),
    };
    // The host call's time (nested contracts, compiles, storage reads) is bounded by gas and
    // weight; the watchdog only guards the wasm between host calls.
    let ticks = caller.data().deadline_ticks;
    wasmtime::AsContextMut::as_context_mut(&mut caller).set_epoch_deadline(ticks);
    let left = caller.get_fuel()?;
    let stop = if charge > left {
        caller.set_fuel(0)?;
        match stop {
            Some(Stop::Runtime(e)) => Some(Stop::Runtime(e)),
            _ => Some(Stop::OutOfGas),
        }
    } else {
        caller.set_fuel(left - charge)?;
        stop
    };
    if let Some(stop) = stop {
        caller.data_mut().data.stop = Some(stop);
        return Err(wasmtime::format_err!("contract stopped by its environment"));
    }
    if let Some(slot) = results.first_mut() {
        *slot = if returns_i32 {
            Val::I32(value as u32 as i32)
        } else {
            Val::I64(value as i64)
        };
    }
    Ok(())
}

/// The relay of the wasm runtime: re-enters the runtime instance that called `sandbox_execute`.
struct RuntimeRelay<'a, 'b> {
    caller: &'a mut Caller<'b, HostState>,
}

impl Relay for RuntimeRelay<'_, '_> {
    fn relay(
        &mut self,
        function: &str,
        args: &[u64],
        gas_left: u64,
        memory: &mut [u8],
    ) -> Result<EnvReply, wasmtime::Error> {
        let call = EnvCall {
            function: function.as_bytes().to_vec(),
            args: args.to_vec(),
            gas_left,
        }
        .encode();
        let env = runtime_env_export(self.caller)?;
        self.caller
            .data_mut()
            .extensions
            .get_or_default::<SandboxState>()
            .memories
            .push(ContractMemoryPtr(memory.as_mut_ptr(), memory.len()));
        let result = (|| {
            let packed = GuestMemory::give(self.caller, &call)?;
            let (ptr, len) = unpack_ptr_len(packed);
            let out = env.call(&mut *self.caller, (ptr, len))?;
            let (out_ptr, out_len) = unpack_ptr_len(out);
            let bytes = GuestMemory::read(self.caller, out_ptr, out_len)?;
            EnvReply::decode_all(&mut &bytes[..])
                .map_err(|_| wasmtime::format_err!("the runtime answered an environment call with malformed bytes"))
        })();
        self.caller
            .data_mut()
            .extensions
            .get_or_default::<SandboxState>()
            .memories
            .pop();
        result
    }
}

/// The sandbox's state in a runtime call ([`HostState::extensions`]).
#[derive(Default)]
struct SandboxState {
    /// The runtime's `watt_sandbox_env` export, looked up on first use.
    env: Option<TypedFunc<(u32, u32), u64>>,
    /// The memories of the contracts whose environment calls are being served, innermost last.
    memories: Vec<ContractMemoryPtr>,
}

fn runtime_env_export(caller: &mut Caller<'_, HostState>) -> Result<TypedFunc<(u32, u32), u64>, wasmtime::Error> {
    if let Some(f) = caller
        .data()
        .extensions
        .get::<SandboxState>()
        .and_then(|s| s.env.clone())
    {
        return Ok(f);
    }
    let f = caller
        .get_export(ENTRY_SANDBOX_ENV)
        .and_then(|e| e.into_func())
        .ok_or_else(|| wasmtime::format_err!("the runtime has no `{ENTRY_SANDBOX_ENV}` export"))?
        .typed::<(u32, u32), u64>(&*caller)?;
    caller.data_mut().extensions.get_or_default::<SandboxState>().env = Some(f.clone());
    Ok(f)
}

fn current_memory(caller: &Caller<'_, HostState>) -> Option<ContractMemoryPtr> {
    caller
        .data()
        .extensions
        .get::<SandboxState>()
        .and_then(|s| s.memories.last().copied())
}

/// The memory of a contract whose environment call the runtime is serving.
#[derive(Clone, Copy)]
struct ContractMemoryPtr(*mut u8, usize);

// SAFETY: only ever used on the thread running the contract, within the relayed call.
unsafe impl Send for ContractMemoryPtr {}

impl ContractMemoryPtr {
    fn range(&self, ptr: u32, len: u32) -> Option<std::ops::Range<usize>> {
        let start = ptr as usize;
        let end = start.checked_add(len as usize)?;
        (end <= self.1).then_some(start..end)
    }

    /// The contract memory's bytes.
    ///
    /// # Safety
    /// Only while the relayed call that pushed this pointer is running: the contract is paused
    /// inside a host call, so its memory can neither grow nor move, and no other reference to
    /// it is used meanwhile.
    unsafe fn bytes<'a>(&self) -> &'a mut [u8] {
        // SAFETY: the caller upholds the contract above; the pointer and length were taken from
        // a live `&mut [u8]` of the contract's memory.
        unsafe { std::slice::from_raw_parts_mut(self.0, self.1) }
    }
}

/// The sandbox host functions of the wasm runtime.
pub struct SandboxFunctions {
    sandbox: Arc<ContractSandbox>,
}

impl SandboxFunctions {
    /// Host functions over `sandbox`.
    pub fn new(sandbox: Arc<ContractSandbox>) -> Self {
        SandboxFunctions { sandbox }
    }
}

impl HostFunctions for SandboxFunctions {
    fn register(&self, l: &mut Linker<HostState>) -> wasmtime::Result<()> {
        let sandbox = self.sandbox.clone();
        l.func_wrap(
            HOST_MODULE,
            names::SANDBOX_PREPARE,
            move |mut c: Caller<'_, HostState>, ip: u32, il: u32| {
                let answer = GuestMemory::with_slice(&mut c, ip, il, |input, _| {
                    match SandboxPrepare::decode_all(&mut &input[..]) {
                        Ok(req) => sandbox.prepare(&req),
                        Err(_) => Err(PrepareError::Refused("malformed sandbox_prepare input".to_string())),
                    }
                })?;
                let answer: Result<CodeSummary, String> = match answer {
                    Ok(summary) => Ok(summary),
                    Err(PrepareError::Refused(why)) => Err(why),
                    Err(PrepareError::Node(why)) => return Err(wasmtime::format_err!("{why}")),
                };
                GuestMemory::give(&mut c, &answer.encode())
            },
        )?;
        let sandbox = self.sandbox.clone();
        l.func_wrap(
            HOST_MODULE,
            names::SANDBOX_EXECUTE,
            move |mut c: Caller<'_, HostState>, ip: u32, il: u32| {
                let input = GuestMemory::read(&mut c, ip, il)?;
                let req = SandboxExecute::decode_all(&mut &input[..])
                    .map_err(|_| wasmtime::format_err!("malformed sandbox_execute input"))?;
                let outcome = sandbox.execute(&req, &mut RuntimeRelay { caller: &mut c })?;
                GuestMemory::give(&mut c, &outcome.encode())
            },
        )?;
        l.func_wrap(
            HOST_MODULE,
            names::SANDBOX_MEMORY_READ,
            |mut c: Caller<'_, HostState>, cp: u32, len: u32, out: u32| {
                let Some(mem) = current_memory(&c) else {
                    return Err(wasmtime::format_err!("sandbox memory read outside an environment call"));
                };
                let Some(range) = mem.range(cp, len) else {
                    return Ok(1u32);
                };
                // SAFETY: we are inside the relayed call that pushed `mem` (it is popped when
                // that call returns), see `ContractMemoryPtr::bytes`.
                let bytes = unsafe { mem.bytes() };
                GuestMemory::write(&mut c, out, &bytes[range])?;
                Ok(0)
            },
        )?;
        l.func_wrap(
            HOST_MODULE,
            names::SANDBOX_MEMORY_WRITE,
            |mut c: Caller<'_, HostState>, cp: u32, src: u32, len: u32| {
                let Some(mem) = current_memory(&c) else {
                    return Err(wasmtime::format_err!(
                        "sandbox memory write outside an environment call"
                    ));
                };
                let Some(range) = mem.range(cp, len) else {
                    return Ok(1u32);
                };
                GuestMemory::with_slice(&mut c, src, len, |data, _| {
                    // SAFETY: as for the read; the runtime's memory and the contract's are
                    // different memories of different stores, so the ranges cannot overlap.
                    let bytes = unsafe { mem.bytes() };
                    bytes[range].copy_from_slice(data);
                })?;
                Ok(0)
            },
        )?;
        Ok(())
    }
}

/// The native runtime's sandbox (installed with `watt_support::sandbox::set_host`).
pub struct NativeSandbox {
    sandbox: Arc<ContractSandbox>,
}

impl NativeSandbox {
    /// The native twin over `sandbox`.
    pub fn new(sandbox: Arc<ContractSandbox>) -> Self {
        NativeSandbox { sandbox }
    }
}

struct NativeRelay<'a> {
    env: &'a mut dyn SandboxEnv,
}

impl Relay for NativeRelay<'_> {
    fn relay(
        &mut self,
        function: &str,
        args: &[u64],
        gas_left: u64,
        memory: &mut [u8],
    ) -> Result<EnvReply, wasmtime::Error> {
        Ok(self
            .env
            .dispatch(function.as_bytes(), args, gas_left, &mut SliceMemory(memory)))
    }
}

impl SandboxHost for NativeSandbox {
    fn prepare(&self, input: &SandboxPrepare) -> Result<CodeSummary, String> {
        match self.sandbox.prepare(input) {
            Ok(summary) => Ok(summary),
            Err(PrepareError::Refused(why)) => Err(why),
            // As the wasm runtime's call fails: abandon the native runtime call.
            Err(PrepareError::Node(why)) => panic!("{why}"),
        }
    }

    fn execute(&self, input: &SandboxExecute, env: &mut dyn SandboxEnv) -> SandboxOutcome {
        match self.sandbox.execute(input, &mut NativeRelay { env }) {
            Ok(outcome) => outcome,
            // Only the watchdog fails here (the native relay never does): abandon the native
            // runtime call, as the wasm runtime's call fails.
            Err(e) => panic!("{e:#}"),
        }
    }
}

#[cfg(test)]
mod tests;
