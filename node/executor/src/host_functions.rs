//! The host-function registry: the `watt` import module the runtime links against.
//!
//! Each [`HostFunctions`] set registers its functions into the linker; the executor links the
//! default sets (storage, crypto, logging) and any extra ones it is given. Sets read and write
//! the runtime's memory through [`GuestMemory`], which can also allocate in the runtime by
//! calling back into its `watt_alloc` export from inside a host call; the same re-entrancy
//! serves a later contract sandbox whose environment calls come back into the runtime.

use crate::overlay::StateSession;
use parity_scale_codec::Decode;
use wasmtime::{Caller, Linker, Memory, StoreLimits, TypedFunc};
use watt_primitives::abi::{host as names, pack_ptr_len, ABSENT, EXPORT_ALLOC, EXPORT_MEMORY, HOST_MODULE};
use watt_support::externalities::Externalities;

/// What a `Store` of the executor carries.
pub struct HostState {
    /// The state the call reads and writes.
    pub session: StateSession,
    pub(crate) memory: Option<Memory>,
    pub(crate) alloc: Option<TypedFunc<u32, u32>>,
    pub(crate) limits: StoreLimits,
    /// The last message the runtime logged at error level (its panic message, before it traps).
    pub(crate) last_error: Option<String>,
    /// State of the host-function sets that keep some across calls of one runtime call
    /// (the contract sandbox's, say), each under its own type.
    pub extensions: Extensions,
}

/// Per-call host-side state of host-function sets, by type: a set keeps what it needs here
/// without this struct knowing it.
#[derive(Default)]
pub struct Extensions(std::collections::HashMap<std::any::TypeId, Box<dyn std::any::Any + Send>>);

impl Extensions {
    /// The set's state of type `T`, created empty on first use.
    pub fn get_or_default<T: Default + Send + 'static>(&mut self) -> &mut T {
        self.0
            .entry(std::any::TypeId::of::<T>())
            .or_insert_with(|| Box::new(T::default()))
            .downcast_mut::<T>()
            .expect("extensions are stored under their own type")
    }

    /// The set's state of type `T`, if it has any.
    pub fn get<T: 'static>(&self) -> Option<&T> {
        self.0
            .get(&std::any::TypeId::of::<T>())
            .and_then(|b| b.downcast_ref::<T>())
    }
}

impl HostState {
    pub(crate) fn new(session: StateSession, limits: StoreLimits) -> Self {
        HostState {
            session,
            memory: None,
            alloc: None,
            limits,
            last_error: None,
            extensions: Extensions::default(),
        }
    }
}

/// A set of host functions.
pub trait HostFunctions: Send + Sync {
    /// Adds this set's functions to `linker` (module `watt`).
    fn register(&self, linker: &mut Linker<HostState>) -> wasmtime::Result<()>;
}

/// Access to the calling runtime's memory from inside a host function.
pub struct GuestMemory;

impl GuestMemory {
    fn memory(caller: &Caller<'_, HostState>) -> wasmtime::Result<Memory> {
        caller
            .data()
            .memory
            .ok_or_else(|| wasmtime::format_err!("runtime memory not yet bound"))
    }

    /// Copies `len` bytes at `ptr` out of the runtime's memory.
    pub fn read(caller: &mut Caller<'_, HostState>, ptr: u32, len: u32) -> wasmtime::Result<Vec<u8>> {
        let mem = Self::memory(caller)?;
        let mut buf = vec![0u8; len as usize];
        mem.read(&*caller, ptr as usize, &mut buf)
            .map_err(|_| wasmtime::format_err!("host function read out of bounds: {ptr}+{len}"))?;
        Ok(buf)
    }

    /// Reads a fixed-size array.
    pub fn read_array<const N: usize>(caller: &mut Caller<'_, HostState>, ptr: u32) -> wasmtime::Result<[u8; N]> {
        let mem = Self::memory(caller)?;
        let mut buf = [0u8; N];
        mem.read(&*caller, ptr as usize, &mut buf)
            .map_err(|_| wasmtime::format_err!("host function read out of bounds: {ptr}+{N}"))?;
        Ok(buf)
    }

    /// Runs `f` on a borrowed slice of memory together with the host state (no copy).
    pub fn with_slice<R>(
        caller: &mut Caller<'_, HostState>,
        ptr: u32,
        len: u32,
        f: impl FnOnce(&[u8], &mut HostState) -> R,
    ) -> wasmtime::Result<R> {
        let mem = Self::memory(caller)?;
        let (data, state) = mem.data_and_store_mut(caller);
        let range = (ptr as usize)..(ptr as usize).saturating_add(len as usize);
        let slice = data
            .get(range)
            .ok_or_else(|| wasmtime::format_err!("host function read out of bounds: {ptr}+{len}"))?;
        Ok(f(slice, state))
    }

    /// Writes `data` at `ptr`.
    pub fn write(caller: &mut Caller<'_, HostState>, ptr: u32, data: &[u8]) -> wasmtime::Result<()> {
        let mem = Self::memory(caller)?;
        mem.write(&mut *caller, ptr as usize, data)
            .map_err(|_| wasmtime::format_err!("host function write out of bounds: {ptr}+{}", data.len()))
    }

    /// Allocates a buffer in the runtime (calling its `watt_alloc`), copies `data` into it and
    /// returns the packed (pointer, length) the runtime takes ownership of.
    pub fn give(caller: &mut Caller<'_, HostState>, data: &[u8]) -> wasmtime::Result<u64> {
        let alloc = caller
            .data()
            .alloc
            .clone()
            .ok_or_else(|| wasmtime::format_err!("runtime allocator not bound"))?;
        let len = u32::try_from(data.len()).map_err(|_| wasmtime::format_err!("value too large for wasm32"))?;
        let ptr = alloc.call(&mut *caller, len)?;
        Self::write(caller, ptr, data)?;
        Ok(pack_ptr_len(ptr, len))
    }
}

/// Fails the call (trap) if the state backend failed underneath the overlay.
fn check_backend(caller: &Caller<'_, HostState>) -> wasmtime::Result<()> {
    match caller.data().session.error() {
        Some(e) => Err(wasmtime::format_err!("{e}")),
        None => Ok(()),
    }
}

/// Storage: get/set/clear/next-key/clear-prefix and nested transactions.
pub struct StorageFunctions;

impl HostFunctions for StorageFunctions {
    fn register(&self, l: &mut Linker<HostState>) -> wasmtime::Result<()> {
        l.func_wrap(
            HOST_MODULE,
            names::STORAGE_GET,
            |mut c: Caller<'_, HostState>, kp: u32, kl: u32| {
                let value = GuestMemory::with_slice(&mut c, kp, kl, |key, st| st.session.get(key))?;
                check_backend(&c)?;
                match value {
                    Some(v) => GuestMemory::give(&mut c, &v),
                    None => Ok(ABSENT),
                }
            },
        )?;
        l.func_wrap(
            HOST_MODULE,
            names::STORAGE_SET,
            |mut c: Caller<'_, HostState>, kp: u32, kl: u32, vp: u32, vl: u32| {
                let value = GuestMemory::read(&mut c, vp, vl)?;
                GuestMemory::with_slice(&mut c, kp, kl, |key, st| st.session.set(key, &value))
            },
        )?;
        l.func_wrap(
            HOST_MODULE,
            names::STORAGE_CLEAR,
            |mut c: Caller<'_, HostState>, kp: u32, kl: u32| {
                GuestMemory::with_slice(&mut c, kp, kl, |key, st| st.session.clear(key))
            },
        )?;
        l.func_wrap(
            HOST_MODULE,
            names::STORAGE_NEXT_KEY,
            |mut c: Caller<'_, HostState>, kp: u32, kl: u32| {
                let next = GuestMemory::with_slice(&mut c, kp, kl, |key, st| st.session.next_key(key))?;
                check_backend(&c)?;
                match next {
                    Some(k) => GuestMemory::give(&mut c, &k),
                    None => Ok(ABSENT),
                }
            },
        )?;
        l.func_wrap(
            HOST_MODULE,
            names::STORAGE_CLEAR_PREFIX,
            |mut c: Caller<'_, HostState>, pp: u32, pl: u32| {
                let n = GuestMemory::with_slice(&mut c, pp, pl, |p, st| st.session.clear_prefix(p))?;
                check_backend(&c)?;
                Ok(n)
            },
        )?;
        l.func_wrap(
            HOST_MODULE,
            names::STORAGE_START_TRANSACTION,
            |mut c: Caller<'_, HostState>| c.data_mut().session.start_transaction(),
        )?;
        l.func_wrap(
            HOST_MODULE,
            names::STORAGE_COMMIT_TRANSACTION,
            |mut c: Caller<'_, HostState>| c.data_mut().session.commit_transaction(),
        )?;
        l.func_wrap(
            HOST_MODULE,
            names::STORAGE_ROLLBACK_TRANSACTION,
            |mut c: Caller<'_, HostState>| c.data_mut().session.rollback_transaction(),
        )?;
        Ok(())
    }
}

/// Hashing and signature verification (valid signatures remembered: see
/// [`crate::signature_cache`]).
#[derive(Default)]
pub struct CryptoFunctions {
    verified: std::sync::Arc<crate::signature_cache::VerifiedSignatures>,
}

impl CryptoFunctions {
    /// Crypto functions remembering valid signatures in `verified`, a cache the node may also
    /// fill itself ([`crate::Executor::preverify_signatures`]).
    pub fn new(verified: std::sync::Arc<crate::signature_cache::VerifiedSignatures>) -> Self {
        CryptoFunctions { verified }
    }
}

impl HostFunctions for CryptoFunctions {
    fn register(&self, l: &mut Linker<HostState>) -> wasmtime::Result<()> {
        l.func_wrap(
            HOST_MODULE,
            names::BLAKE2_256,
            |mut c: Caller<'_, HostState>, dp: u32, dl: u32, out: u32| {
                let h = GuestMemory::with_slice(&mut c, dp, dl, |d, _| watt_primitives::blake2_256(d))?;
                GuestMemory::write(&mut c, out, &h)
            },
        )?;
        l.func_wrap(
            HOST_MODULE,
            names::BLAKE2_128,
            |mut c: Caller<'_, HostState>, dp: u32, dl: u32, out: u32| {
                let h = GuestMemory::with_slice(&mut c, dp, dl, |d, _| watt_primitives::blake2_128(d))?;
                GuestMemory::write(&mut c, out, &h)
            },
        )?;
        let verified = self.verified.clone();
        l.func_wrap(
            HOST_MODULE,
            names::SR25519_VERIFY,
            move |mut c: Caller<'_, HostState>, sp: u32, mp: u32, ml: u32, pp: u32| {
                let sig: [u8; 64] = GuestMemory::read_array(&mut c, sp)?;
                let public: [u8; 32] = GuestMemory::read_array(&mut c, pp)?;
                let ok = GuestMemory::with_slice(&mut c, mp, ml, |m, _| verified.verify(&sig, m, &public))?;
                Ok(ok as u32)
            },
        )?;
        let verified = self.verified.clone();
        l.func_wrap(
            HOST_MODULE,
            names::SR25519_VERIFY_BATCH,
            move |mut c: Caller<'_, HostState>, ip: u32, il: u32| {
                let ok =
                    GuestMemory::with_slice(
                        &mut c,
                        ip,
                        il,
                        |input, _| match watt_support::crypto::BatchItems::decode(&mut &input[..]) {
                            Ok(items) => verified.verify_batch(&items),
                            Err(_) => false,
                        },
                    )?;
                Ok(ok as u32)
            },
        )?;
        Ok(())
    }
}

/// Logging from the runtime into the node's `tracing` output (target `runtime`).
pub struct LoggingFunctions;

impl HostFunctions for LoggingFunctions {
    fn register(&self, l: &mut Linker<HostState>) -> wasmtime::Result<()> {
        l.func_wrap(
            HOST_MODULE,
            names::LOG,
            |mut c: Caller<'_, HostState>, level: u32, mp: u32, ml: u32| {
                // A hostile runtime must not flood memory through its log: cap the message.
                let msg =
                    GuestMemory::with_slice(&mut c, mp, ml.min(4096), |m, _| String::from_utf8_lossy(m).into_owned())?;
                match level {
                    1 => {
                        tracing::error!(target: "runtime", "{msg}");
                        c.data_mut().last_error = Some(msg);
                    }
                    2 => tracing::warn!(target: "runtime", "{msg}"),
                    3 => tracing::info!(target: "runtime", "{msg}"),
                    4 => tracing::debug!(target: "runtime", "{msg}"),
                    _ => tracing::trace!(target: "runtime", "{msg}"),
                }
                Ok(())
            },
        )?;
        Ok(())
    }
}

/// The host functions every Watt runtime links against besides the contract sandbox (which
/// `crate::assembly` adds): storage, crypto over the signature cache `verified`, logging.
pub fn core_host_functions(
    verified: std::sync::Arc<crate::signature_cache::VerifiedSignatures>,
) -> Vec<Box<dyn HostFunctions>> {
    vec![
        Box::new(StorageFunctions),
        Box::new(CryptoFunctions::new(verified)),
        Box::new(LoggingFunctions),
    ]
}

pub(crate) const MEMORY_EXPORT: &str = EXPORT_MEMORY;
pub(crate) const ALLOC_EXPORT: &str = EXPORT_ALLOC;
