//! The host interface as the runtime sees it. In the wasm build every function is an import of
//! module `watt` (names in `watt_primitives::abi::host`); natively the same functions are served
//! by the thread-local [`crate::externalities`] and native crypto, so pallets run in plain unit
//! tests and the native runtime computes exactly what the wasm one does.

use alloc::vec::Vec;

/// Log levels accepted by [`log`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum LogLevel {
    /// Something is broken.
    Error = 1,
    /// Something is odd.
    Warn = 2,
    /// Noteworthy.
    Info = 3,
    /// For developers.
    Debug = 4,
    /// Very chatty.
    Trace = 5,
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use super::LogLevel;
    use alloc::vec::Vec;
    use watt_primitives::abi::{unpack_ptr_len, ABSENT};

    #[link(wasm_import_module = "watt")]
    extern "C" {
        #[link_name = "storage_get"]
        fn ext_storage_get(key_ptr: u32, key_len: u32) -> u64;
        #[link_name = "storage_set"]
        fn ext_storage_set(key_ptr: u32, key_len: u32, value_ptr: u32, value_len: u32);
        #[link_name = "storage_clear"]
        fn ext_storage_clear(key_ptr: u32, key_len: u32);
        #[link_name = "storage_next_key"]
        fn ext_storage_next_key(key_ptr: u32, key_len: u32) -> u64;
        #[link_name = "storage_clear_prefix"]
        fn ext_storage_clear_prefix(prefix_ptr: u32, prefix_len: u32) -> u32;
        #[link_name = "storage_start_transaction"]
        fn ext_storage_start_transaction();
        #[link_name = "storage_commit_transaction"]
        fn ext_storage_commit_transaction();
        #[link_name = "storage_rollback_transaction"]
        fn ext_storage_rollback_transaction();
        #[link_name = "blake2_256"]
        fn ext_blake2_256(data_ptr: u32, data_len: u32, out_ptr: u32);
        #[link_name = "blake2_128"]
        fn ext_blake2_128(data_ptr: u32, data_len: u32, out_ptr: u32);
        #[link_name = "sr25519_verify"]
        fn ext_sr25519_verify(sig_ptr: u32, msg_ptr: u32, msg_len: u32, pubkey_ptr: u32) -> u32;
        #[link_name = "sr25519_verify_batch"]
        fn ext_sr25519_verify_batch(input_ptr: u32, input_len: u32) -> u32;
        #[link_name = "log"]
        fn ext_log(level: u32, msg_ptr: u32, msg_len: u32);
    }

    /// Takes ownership of a buffer the host allocated through `watt_alloc`.
    fn owned(packed: u64) -> Option<Vec<u8>> {
        if packed == ABSENT {
            return None;
        }
        let (ptr, len) = unpack_ptr_len(packed);
        if len == 0 {
            return Some(Vec::new());
        }
        // SAFETY: the host obtained `ptr` from our `watt_alloc(len)`, which allocates exactly
        // `len` bytes with alignment 1 through the global allocator, and wrote `len` bytes there;
        // nobody else holds the pointer, so the Vec may own and later free it.
        Some(unsafe { Vec::from_raw_parts(ptr as *mut u8, len as usize, len as usize) })
    }

    // SAFETY (all calls below): the host reads exactly the (pointer, length) ranges we pass,
    // which point into live slices, and writes only to output arrays of the documented size.
    pub fn storage_get(key: &[u8]) -> Option<Vec<u8>> {
        owned(unsafe { ext_storage_get(key.as_ptr() as u32, key.len() as u32) })
    }
    pub fn storage_set(key: &[u8], value: &[u8]) {
        unsafe {
            ext_storage_set(
                key.as_ptr() as u32,
                key.len() as u32,
                value.as_ptr() as u32,
                value.len() as u32,
            )
        }
    }
    pub fn storage_clear(key: &[u8]) {
        unsafe { ext_storage_clear(key.as_ptr() as u32, key.len() as u32) }
    }
    pub fn storage_next_key(key: &[u8]) -> Option<Vec<u8>> {
        owned(unsafe { ext_storage_next_key(key.as_ptr() as u32, key.len() as u32) })
    }
    pub fn storage_clear_prefix(prefix: &[u8]) -> u32 {
        unsafe { ext_storage_clear_prefix(prefix.as_ptr() as u32, prefix.len() as u32) }
    }
    pub fn storage_start_transaction() {
        unsafe { ext_storage_start_transaction() }
    }
    pub fn storage_commit_transaction() {
        unsafe { ext_storage_commit_transaction() }
    }
    pub fn storage_rollback_transaction() {
        unsafe { ext_storage_rollback_transaction() }
    }
    pub fn blake2_256(data: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        unsafe { ext_blake2_256(data.as_ptr() as u32, data.len() as u32, out.as_mut_ptr() as u32) };
        out
    }
    pub fn blake2_128(data: &[u8]) -> [u8; 16] {
        let mut out = [0u8; 16];
        unsafe { ext_blake2_128(data.as_ptr() as u32, data.len() as u32, out.as_mut_ptr() as u32) };
        out
    }
    pub fn sr25519_verify(sig: &[u8; 64], msg: &[u8], public: &[u8; 32]) -> bool {
        unsafe {
            ext_sr25519_verify(
                sig.as_ptr() as u32,
                msg.as_ptr() as u32,
                msg.len() as u32,
                public.as_ptr() as u32,
            ) == 1
        }
    }
    pub fn sr25519_verify_batch(encoded_items: &[u8]) -> bool {
        unsafe { ext_sr25519_verify_batch(encoded_items.as_ptr() as u32, encoded_items.len() as u32) == 1 }
    }
    pub fn log(level: LogLevel, msg: &str) {
        unsafe { ext_log(level as u32, msg.as_ptr() as u32, msg.len() as u32) }
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use super::LogLevel;
    use crate::externalities::with_externalities;
    use alloc::vec::Vec;
    use parity_scale_codec::Decode;

    pub fn storage_get(key: &[u8]) -> Option<Vec<u8>> {
        with_externalities(|e| e.get(key))
    }
    pub fn storage_set(key: &[u8], value: &[u8]) {
        with_externalities(|e| e.set(key, value))
    }
    pub fn storage_clear(key: &[u8]) {
        with_externalities(|e| e.clear(key))
    }
    pub fn storage_next_key(key: &[u8]) -> Option<Vec<u8>> {
        with_externalities(|e| e.next_key(key))
    }
    pub fn storage_clear_prefix(prefix: &[u8]) -> u32 {
        with_externalities(|e| e.clear_prefix(prefix))
    }
    pub fn storage_start_transaction() {
        with_externalities(|e| e.start_transaction())
    }
    pub fn storage_commit_transaction() {
        with_externalities(|e| e.commit_transaction())
    }
    pub fn storage_rollback_transaction() {
        with_externalities(|e| e.rollback_transaction())
    }
    pub fn blake2_256(data: &[u8]) -> [u8; 32] {
        watt_primitives::blake2_256(data)
    }
    pub fn blake2_128(data: &[u8]) -> [u8; 16] {
        watt_primitives::blake2_128(data)
    }
    pub fn sr25519_verify(sig: &[u8; 64], msg: &[u8], public: &[u8; 32]) -> bool {
        crate::crypto::sr25519_verify(sig, msg, public)
    }
    pub fn sr25519_verify_batch(encoded_items: &[u8]) -> bool {
        match crate::crypto::BatchItems::decode(&mut &encoded_items[..]) {
            Ok(items) => crate::crypto::sr25519_verify_batch(&items),
            Err(_) => false,
        }
    }
    pub fn log(_level: LogLevel, _msg: &str) {}
}

/// Value at `key`, if any.
pub fn storage_get(key: &[u8]) -> Option<Vec<u8>> {
    imp::storage_get(key)
}
/// Sets `key` to `value`.
pub fn storage_set(key: &[u8], value: &[u8]) {
    imp::storage_set(key, value)
}
/// Removes `key`.
pub fn storage_clear(key: &[u8]) {
    imp::storage_clear(key)
}
/// The smallest key strictly greater than `key`, if any.
pub fn storage_next_key(key: &[u8]) -> Option<Vec<u8>> {
    imp::storage_next_key(key)
}
/// Removes every key starting with `prefix`; returns how many were removed.
pub fn storage_clear_prefix(prefix: &[u8]) -> u32 {
    imp::storage_clear_prefix(prefix)
}
/// blake2b-256.
pub fn blake2_256(data: &[u8]) -> [u8; 32] {
    imp::blake2_256(data)
}
/// blake2b-128.
pub fn blake2_128(data: &[u8]) -> [u8; 16] {
    imp::blake2_128(data)
}
/// Verifies one sr25519 signature (signing context `watt_primitives::SIGNATURE_CONTEXT`).
pub fn sr25519_verify(sig: &[u8; 64], msg: &[u8], public: &[u8; 32]) -> bool {
    imp::sr25519_verify(sig, msg, public)
}
/// Verifies many signatures at once; `true` only if all verify. `encoded_items` is the SCALE
/// encoding of [`BatchItems`](crate::host::BatchItem) `Vec<(public, signature, message)>`.
pub fn sr25519_verify_batch(encoded_items: &[u8]) -> bool {
    imp::sr25519_verify_batch(encoded_items)
}
/// Writes to the node's log.
pub fn log(level: LogLevel, msg: &str) {
    imp::log(level, msg)
}

/// One entry of a signature batch: (public key, signature, message).
pub type BatchItem = ([u8; 32], [u8; 64], Vec<u8>);

/// Runs `f` inside a nested storage transaction: its writes are kept when it returns `Ok` and
/// discarded when it returns `Err`.
pub fn with_transaction<T, E>(f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    imp::storage_start_transaction();
    let r = f();
    if r.is_ok() {
        imp::storage_commit_transaction();
    } else {
        imp::storage_rollback_transaction();
    }
    r
}
