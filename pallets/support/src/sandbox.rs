//! The contract sandbox as the runtime sees it (see `watt_primitives::sandbox` for the protocol).
//!
//! [`execute`] runs a contract's export; every call the contract makes to its environment comes
//! back, while [`execute`] is still running, as [`SandboxEnv::dispatch`] on the environment the
//! caller passed, with the contract's memory as a [`ContractMemory`]. Executions nest: the
//! environment may call [`execute`] again (a cross-contract call), and each nested execution
//! gets its own environment.
//!
//! In the wasm build the functions are host imports and the environment is reached through the
//! runtime's `watt_sandbox_env` export ([`dispatch_env_call`]); natively they are served by a
//! thread-local [`SandboxHost`] the node's executor (or a test) installs, so the native runtime
//! runs contracts through the same engine and computes the same results.

use alloc::string::String;
use watt_primitives::sandbox::{CodeSummary, EnvReply, SandboxExecute, SandboxOutcome, SandboxPrepare};

/// The calling contract's memory, during one [`SandboxEnv::dispatch`].
pub trait ContractMemory {
    /// Copies `out.len()` bytes at `ptr`; `false` when the range is outside the memory.
    fn read(&mut self, ptr: u32, out: &mut [u8]) -> bool;
    /// Writes `data` at `ptr`; `false` when the range is outside the memory.
    fn write(&mut self, ptr: u32, data: &[u8]) -> bool;
}

/// A contract memory that is a plain byte slice (the native sandbox's view of a contract's
/// linear memory, and tests').
pub struct SliceMemory<'a>(pub &'a mut [u8]);

impl ContractMemory for SliceMemory<'_> {
    fn read(&mut self, ptr: u32, out: &mut [u8]) -> bool {
        let start = ptr as usize;
        match start.checked_add(out.len()).and_then(|end| self.0.get(start..end)) {
            Some(src) => {
                out.copy_from_slice(src);
                true
            }
            None => false,
        }
    }
    fn write(&mut self, ptr: u32, data: &[u8]) -> bool {
        let start = ptr as usize;
        match start.checked_add(data.len()).and_then(|end| self.0.get_mut(start..end)) {
            Some(dst) => {
                dst.copy_from_slice(data);
                true
            }
            None => false,
        }
    }
}

/// The contract's environment: the contracts pallet's implementation of the contract ABI.
pub trait SandboxEnv {
    /// Serves one call of imported function `function` with `args` (i32s zero-extended).
    fn dispatch(&mut self, function: &[u8], args: &[u64], gas_left: u64, memory: &mut dyn ContractMemory) -> EnvReply;
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::{ContractMemory, SandboxEnv};
    use alloc::string::String;
    use alloc::vec::Vec;
    use core::cell::RefCell;
    use parity_scale_codec::{Decode, DecodeAll, Encode};
    use watt_primitives::abi::unpack_ptr_len;
    use watt_primitives::sandbox::{CodeSummary, EnvCall, EnvReply, SandboxExecute, SandboxOutcome, SandboxPrepare};

    #[link(wasm_import_module = "watt")]
    extern "C" {
        #[link_name = "sandbox_prepare_v2"]
        fn ext_sandbox_prepare(input_ptr: u32, input_len: u32) -> u64;
        #[link_name = "sandbox_execute_v2"]
        fn ext_sandbox_execute(input_ptr: u32, input_len: u32) -> u64;
        #[link_name = "sandbox_memory_read_v1"]
        fn ext_sandbox_memory_read(contract_ptr: u32, len: u32, out_ptr: u32) -> u32;
        #[link_name = "sandbox_memory_write_v1"]
        fn ext_sandbox_memory_write(contract_ptr: u32, src_ptr: u32, len: u32) -> u32;
    }

    /// The environments of the executions in progress, innermost last. The wasm runtime is
    /// single-threaded and an instance serves one call, so a plain cell suffices.
    struct Envs(RefCell<Vec<*mut (dyn SandboxEnv + 'static)>>);
    // SAFETY: wasm32 without threads (the engines refuse the threads proposal): never shared.
    unsafe impl Sync for Envs {}
    static ENVS: Envs = Envs(RefCell::new(Vec::new()));

    fn take_output(packed: u64) -> Vec<u8> {
        let (ptr, len) = unpack_ptr_len(packed);
        if len == 0 {
            return Vec::new();
        }
        // SAFETY: the host allocated `len` bytes at `ptr` through our `watt_alloc` and wrote
        // them; the buffer is ours (see `host::owned`).
        unsafe { Vec::from_raw_parts(ptr as *mut u8, len as usize, len as usize) }
    }

    pub fn prepare(input: &SandboxPrepare) -> Result<CodeSummary, String> {
        let bytes = input.encode();
        // SAFETY: the host reads exactly the range of the live `bytes`.
        let out = take_output(unsafe { ext_sandbox_prepare(bytes.as_ptr() as u32, bytes.len() as u32) });
        Result::<CodeSummary, String>::decode_all(&mut &out[..])
            .unwrap_or_else(|_| Err(String::from("malformed answer from the host's sandbox_prepare")))
    }

    pub fn execute(input: &SandboxExecute, env: &mut dyn SandboxEnv) -> SandboxOutcome {
        let bytes = input.encode();
        // SAFETY: erasing the lifetime is sound because the pointer is popped below, before
        // `env`'s borrow ends, and is only dereferenced by `dispatch_env_call`, which the host
        // calls only while `ext_sandbox_execute` (and so this frame) is running.
        let env: *mut (dyn SandboxEnv + 'static) = unsafe { core::mem::transmute(env) };
        ENVS.0.borrow_mut().push(env);
        // SAFETY: the host reads exactly the range of the live `bytes`.
        let out = take_output(unsafe { ext_sandbox_execute(bytes.as_ptr() as u32, bytes.len() as u32) });
        ENVS.0.borrow_mut().pop();
        SandboxOutcome::decode_all(&mut &out[..]).unwrap_or(SandboxOutcome::Trapped {
            gas_used: input.gas_limit,
            message: String::from("malformed answer from the host's sandbox_execute"),
        })
    }

    struct HostMemory;

    impl ContractMemory for HostMemory {
        fn read(&mut self, ptr: u32, out: &mut [u8]) -> bool {
            // SAFETY: the host writes exactly `out.len()` bytes into the live `out`.
            unsafe { ext_sandbox_memory_read(ptr, out.len() as u32, out.as_mut_ptr() as u32) == 0 }
        }
        fn write(&mut self, ptr: u32, data: &[u8]) -> bool {
            // SAFETY: the host reads exactly the range of the live `data`.
            unsafe { ext_sandbox_memory_write(ptr, data.as_ptr() as u32, data.len() as u32) == 0 }
        }
    }

    pub fn dispatch_env_call(input: &[u8]) -> EnvReply {
        let call = match EnvCall::decode(&mut &input[..]) {
            Ok(c) => c,
            Err(_) => {
                return EnvReply::Trap {
                    charge: 0,
                    message: String::from("malformed environment call"),
                }
            }
        };
        let top = ENVS.0.borrow().last().copied();
        match top {
            // SAFETY: the pointer was pushed by the `execute` frame still running below us
            // (see there); the borrow of ENVS is released before dispatching, so a nested
            // `execute` can push its own.
            Some(env) => unsafe { (*env).dispatch(&call.function, &call.args, call.gas_left, &mut HostMemory) },
            None => EnvReply::Trap {
                charge: 0,
                message: String::from("environment call outside a sandbox execution"),
            },
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::{SandboxEnv, SandboxHost};
    use alloc::string::String;
    use std::cell::RefCell;
    use std::sync::Arc;
    use watt_primitives::sandbox::{CodeSummary, SandboxExecute, SandboxOutcome, SandboxPrepare};

    thread_local! {
        static HOST: RefCell<Option<Arc<dyn SandboxHost>>> = const { RefCell::new(None) };
    }

    pub fn set_host(host: Option<Arc<dyn SandboxHost>>) -> Option<Arc<dyn SandboxHost>> {
        HOST.with(|h| core::mem::replace(&mut *h.borrow_mut(), host))
    }

    fn host() -> Option<Arc<dyn SandboxHost>> {
        // Cloned out so no borrow is held while a contract runs (executions nest).
        HOST.with(|h| h.borrow().clone())
    }

    pub fn prepare(input: &SandboxPrepare) -> Result<CodeSummary, String> {
        match host() {
            Some(h) => h.prepare(input),
            None => Err(String::from("no contract sandbox installed in this native runtime")),
        }
    }

    pub fn execute(input: &SandboxExecute, env: &mut dyn SandboxEnv) -> SandboxOutcome {
        match host() {
            Some(h) => h.execute(input, env),
            None => SandboxOutcome::Trapped {
                gas_used: 0,
                message: String::from("no contract sandbox installed in this native runtime"),
            },
        }
    }
}

/// The node side of the native twin: what [`execute`] and [`prepare`] call natively.
#[cfg(not(target_arch = "wasm32"))]
pub trait SandboxHost: Send + Sync {
    /// Validates and compiles code.
    fn prepare(&self, input: &SandboxPrepare) -> Result<CodeSummary, String>;
    /// Runs an export, relaying environment calls to `env`.
    fn execute(&self, input: &SandboxExecute, env: &mut dyn SandboxEnv) -> SandboxOutcome;
}

/// Installs the sandbox the native runtime uses on this thread; returns the previous one.
#[cfg(not(target_arch = "wasm32"))]
pub fn set_host(host: Option<alloc::sync::Arc<dyn SandboxHost>>) -> Option<alloc::sync::Arc<dyn SandboxHost>> {
    imp::set_host(host)
}

/// Validates code against the contract ABI and compiles it (cached by the node by hash).
pub fn prepare(input: &SandboxPrepare) -> Result<CodeSummary, String> {
    imp::prepare(input)
}

/// Runs a prepared contract's export with `env` serving its environment calls.
pub fn execute(input: &SandboxExecute, env: &mut dyn SandboxEnv) -> SandboxOutcome {
    imp::execute(input, env)
}

/// The body of the runtime's `watt_sandbox_env` export: decodes an environment call and hands
/// it to the innermost execution's environment.
#[cfg(target_arch = "wasm32")]
pub fn dispatch_env_call(input: &[u8]) -> EnvReply {
    imp::dispatch_env_call(input)
}
