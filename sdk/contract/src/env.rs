//! Safe wrappers over every function of module `watt_v1` (ABI.md "Functions of module
//! `watt_v1`"), plus typed helpers over them.
//!
//! On wasm32 each function calls the host import; natively (tests) the same functions are served
//! by the thread-local off-chain environment of [`crate::test`]. Output buffers that turn out too
//! small (`BUFFER_TOO_SMALL`) are retried at the needed length, except for `call` and
//! `instantiate`, whose callee has already run (see [`crate::CallBuilder::output_capacity`]);
//! there a callee known to have reverted is reported as a revert
//! ([`CallError::RevertedOutputTooLarge`]), never hidden behind the buffer's size.

use crate::call::CallError;
use crate::types::{AccountId, Balance, Error, Hash};
use crate::Event;
use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};

#[cfg(target_arch = "wasm32")]
use onchain as backend;

#[cfg(not(target_arch = "wasm32"))]
use crate::test::host as backend;

/// The input of this call: for `deploy` the instantiation input, else the message input
/// (selector ++ SCALE(args) by convention).
pub fn input() -> Vec<u8> {
    backend::input()
}

/// Ends the call with `data` as its output; `revert` undoes every change the call made.
/// Natively this unwinds with a [`crate::test::ContractExit`] payload.
pub fn return_value(revert: bool, data: &[u8]) -> ! {
    backend::return_value(revert, data)
}

/// Stores `value` at `key` (at most 128 bytes; values at most 16 KiB); returns the length of the
/// value it replaced, if any.
pub fn set_storage(key: &[u8], value: &[u8]) -> Option<u32> {
    backend::set_storage(key, value)
}

/// The value at `key`, if any.
pub fn get_storage(key: &[u8]) -> Option<Vec<u8>> {
    backend::get_storage(key)
}

/// Removes `key`; returns the removed value's length, if there was one.
pub fn clear_storage(key: &[u8]) -> Option<u32> {
    backend::clear_storage(key)
}

/// The length of the value at `key`, if any.
pub fn contains_storage(key: &[u8]) -> Option<u32> {
    backend::contains_storage(key)
}

/// The SCALE-decoded value at `key`: `Ok(None)` when absent, `Err` when it does not decode.
pub fn get<T: Decode>(key: &[u8]) -> Result<Option<T>, parity_scale_codec::Error> {
    match get_storage(key) {
        None => Ok(None),
        Some(bytes) => T::decode(&mut &bytes[..]).map(Some),
    }
}

/// Stores SCALE(`value`) at `key`.
pub fn set<T: Encode + ?Sized>(key: &[u8], value: &T) {
    value.using_encoded(|bytes| set_storage(key, bytes));
}

/// The account that called this contract (the transaction's signer or the calling contract).
pub fn caller() -> AccountId {
    backend::caller()
}

/// This contract's own address.
pub fn address() -> AccountId {
    backend::address()
}

/// The value sent with this call.
pub fn value_transferred() -> Balance {
    backend::value_transferred()
}

/// This contract's free balance (the value of this call included).
pub fn balance() -> Balance {
    backend::balance()
}

/// Any account's free balance.
pub fn balance_of(account: &AccountId) -> Balance {
    backend::balance_of(account)
}

/// The number of the block being built.
pub fn block_number() -> u64 {
    backend::block_number()
}

/// The block's agreed close time, milliseconds since the Unix epoch.
pub fn now() -> u64 {
    backend::now()
}

/// Gas left to this call.
pub fn gas_left() -> u64 {
    backend::gas_left()
}

/// Whether `account` holds a contract.
pub fn is_contract(account: &AccountId) -> bool {
    backend::is_contract(account)
}

/// The code hash of the contract at `account` (`Error::NotAContract` otherwise).
pub fn code_hash(account: &AccountId) -> Result<Hash, Error> {
    backend::code_hash(account)
}

/// Sends `value` from this contract to `to` (`Error::TransferFailed` when the balance is too
/// low). To pay a contract and run its code, use [`crate::CallBuilder`].
pub fn transfer(to: &AccountId, value: Balance) -> Result<(), Error> {
    backend::transfer(to, value)
}

/// Emits a raw event: at most 4 topics, data at most 16 KiB (more traps).
pub fn deposit_event(topics: &[[u8; 32]], data: &[u8]) {
    backend::deposit_event(topics, data)
}

/// Emits a typed event: topics and data per ABI.md "Selectors and encoding".
pub fn emit<E: Event>(event: &E) {
    deposit_event(&event.topics(), &event.data())
}

/// Calls contract `callee` with `value` and raw `input`; `gas_limit` 0 means all gas left.
/// `output_capacity` bounds the output read back (see [`crate::CallBuilder::output_capacity`]).
/// Prefer [`crate::CallBuilder`].
pub fn call(
    callee: &AccountId,
    value: Balance,
    input: &[u8],
    gas_limit: u64,
    output_capacity: usize,
) -> Result<Vec<u8>, CallError> {
    backend::call(callee, value, input, gas_limit, output_capacity)
}

/// Instantiates a contract from uploaded code; returns its address and the constructor's output.
/// Prefer [`crate::InstantiateBuilder`].
pub fn instantiate(
    code_hash: &Hash,
    value: Balance,
    input: &[u8],
    salt: &[u8],
    gas_limit: u64,
    output_capacity: usize,
) -> Result<(AccountId, Vec<u8>), CallError> {
    backend::instantiate(code_hash, value, input, salt, gas_limit, output_capacity)
}

/// The address `instantiate` gives a contract of `code_hash` created by `deployer` with `salt`:
/// `blake2b-256("watt:contract" ++ deployer ++ code_hash ++ salt)` (ABI.md "Addresses").
pub fn contract_address(deployer: &AccountId, code_hash: &Hash, salt: &[u8]) -> AccountId {
    let mut preimage = Vec::with_capacity(13 + 64 + salt.len());
    preimage.extend_from_slice(b"watt:contract");
    preimage.extend_from_slice(&deployer.0);
    preimage.extend_from_slice(&code_hash.0);
    preimage.extend_from_slice(salt);
    AccountId(hash_blake2_256(&preimage))
}

/// Removes this contract (its storage is deleted over the next blocks), sends its balance to
/// `beneficiary` and each storage deposit back to whoever paid it, and ends the call
/// successfully. Natively this unwinds with a [`crate::test::ContractExit`].
pub fn terminate(beneficiary: &AccountId) -> ! {
    backend::terminate(beneficiary)
}

/// blake2b-256 of `data`.
pub fn hash_blake2_256(data: &[u8]) -> [u8; 32] {
    backend::hash_blake2_256(data)
}

/// blake2b-128 of `data`.
pub fn hash_blake2_128(data: &[u8]) -> [u8; 16] {
    backend::hash_blake2_128(data)
}

/// Checks an sr25519 signature (signing context `watt`): `Ok` or `Error::InvalidSignature`.
pub fn sr25519_verify(signature: &[u8; 64], public_key: &[u8; 32], message: &[u8]) -> Result<(), Error> {
    backend::sr25519_verify(signature, public_key, message)
}

/// Appends `message` to the call's debug buffer (shown by dry-runs).
pub fn debug_message(message: &str) {
    backend::debug_message(message)
}

/// The wasm32 backend: the `watt_v1` imports.
#[cfg(target_arch = "wasm32")]
mod onchain {
    use super::*;
    use crate::call::{classify_call_code, CallCode};

    /// The first capacity tried for variable-length outputs; larger outputs cost one retry.
    const FIRST_CAPACITY: usize = 256;
    const BUFFER_TOO_SMALL: i32 = 4;

    /// The raw imports.
    mod sys {
        #[link(wasm_import_module = "watt_v1")]
        extern "C" {
            pub fn input(out_ptr: *mut u8, out_len_ptr: *mut u32) -> i32;
            pub fn return_value(flags: i32, data_ptr: *const u8, data_len: u32) -> !;
            pub fn set_storage(key_ptr: *const u8, key_len: u32, value_ptr: *const u8, value_len: u32) -> i32;
            pub fn get_storage(key_ptr: *const u8, key_len: u32, out_ptr: *mut u8, out_len_ptr: *mut u32) -> i32;
            pub fn clear_storage(key_ptr: *const u8, key_len: u32) -> i32;
            pub fn contains_storage(key_ptr: *const u8, key_len: u32) -> i32;
            pub fn caller(out_ptr: *mut u8);
            pub fn address(out_ptr: *mut u8);
            pub fn value_transferred(out_ptr: *mut u8);
            pub fn balance(out_ptr: *mut u8);
            pub fn balance_of(account_ptr: *const u8, out_ptr: *mut u8);
            pub fn block_number() -> i64;
            pub fn now() -> i64;
            pub fn gas_left() -> i64;
            pub fn is_contract(account_ptr: *const u8) -> i32;
            pub fn code_hash(account_ptr: *const u8, out_ptr: *mut u8) -> i32;
            pub fn transfer(to_ptr: *const u8, value_ptr: *const u8) -> i32;
            pub fn deposit_event(topics_ptr: *const u8, topics_count: u32, data_ptr: *const u8, data_len: u32);
            pub fn call(
                callee_ptr: *const u8,
                value_ptr: *const u8,
                input_ptr: *const u8,
                input_len: u32,
                gas_limit: i64,
                out_ptr: *mut u8,
                out_len_ptr: *mut u32,
            ) -> i32;
            pub fn instantiate(
                code_hash_ptr: *const u8,
                value_ptr: *const u8,
                input_ptr: *const u8,
                input_len: u32,
                salt_ptr: *const u8,
                salt_len: u32,
                gas_limit: i64,
                address_out_ptr: *mut u8,
                out_ptr: *mut u8,
                out_len_ptr: *mut u32,
            ) -> i32;
            pub fn terminate(beneficiary_ptr: *const u8) -> !;
            pub fn hash_blake2_256(data_ptr: *const u8, data_len: u32, out_ptr: *mut u8);
            pub fn hash_blake2_128(data_ptr: *const u8, data_len: u32, out_ptr: *mut u8);
            pub fn sr25519_verify(
                signature_ptr: *const u8,
                public_key_ptr: *const u8,
                message_ptr: *const u8,
                message_len: u32,
            ) -> i32;
            pub fn debug_message(data_ptr: *const u8, data_len: u32) -> i32;
        }
    }

    /// Calls `f(out_ptr, out_len_ptr)` with a buffer of `capacity`, growing it to the length the
    /// host asks for while it answers `BUFFER_TOO_SMALL` (only for idempotent reads).
    fn read_growing(mut capacity: usize, mut f: impl FnMut(*mut u8, *mut u32) -> i32) -> Result<Vec<u8>, i32> {
        loop {
            let (code, buf, len) = read_once(capacity, &mut f);
            match code {
                0 => return Ok(buf),
                BUFFER_TOO_SMALL if len as usize > capacity => capacity = len as usize,
                other => return Err(other),
            }
        }
    }

    /// One call of `f` with a buffer of `capacity`: (code, the data written on success, the
    /// length word the host left).
    fn read_once(capacity: usize, f: &mut impl FnMut(*mut u8, *mut u32) -> i32) -> (i32, Vec<u8>, u32) {
        let mut buf: Vec<u8> = Vec::with_capacity(capacity);
        let mut len: u32 = capacity as u32;
        let code = f(buf.as_mut_ptr(), &mut len);
        if code == 0 {
            // SAFETY: on SUCCESS the host wrote `len` bytes at the buffer's start, and `len` is
            // at most the capacity it was given (clamped in case of a faulty host).
            unsafe { buf.set_len((len as usize).min(capacity)) };
        }
        (code, buf, len)
    }

    fn opt_len(r: i32) -> Option<u32> {
        if r < 0 {
            None
        } else {
            Some(r as u32)
        }
    }

    fn read32(f: unsafe extern "C" fn(*mut u8)) -> [u8; 32] {
        let mut out = [0u8; 32];
        // SAFETY: the host writes exactly 32 bytes at `out`, a 32-byte buffer.
        unsafe { f(out.as_mut_ptr()) };
        out
    }

    fn read_balance(f: unsafe extern "C" fn(*mut u8)) -> Balance {
        let mut out = [0u8; 16];
        // SAFETY: the host writes exactly 16 bytes at `out`, a 16-byte buffer.
        unsafe { f(out.as_mut_ptr()) };
        u128::from_le_bytes(out)
    }

    pub fn input() -> Vec<u8> {
        // SAFETY: `input` writes at most `*len` bytes at `ptr`; both point into a live buffer.
        read_growing(FIRST_CAPACITY, |ptr, len| unsafe { sys::input(ptr, len) }).unwrap_or_default()
    }

    pub fn return_value(revert: bool, data: &[u8]) -> ! {
        // SAFETY: `data` is a live slice; the host reads `data.len()` bytes and does not return.
        unsafe { sys::return_value(revert as i32, data.as_ptr(), data.len() as u32) }
    }

    pub fn set_storage(key: &[u8], value: &[u8]) -> Option<u32> {
        // SAFETY: both slices are live; the host only reads them.
        opt_len(unsafe { sys::set_storage(key.as_ptr(), key.len() as u32, value.as_ptr(), value.len() as u32) })
    }

    pub fn get_storage(key: &[u8]) -> Option<Vec<u8>> {
        read_growing(FIRST_CAPACITY, |ptr, len| {
            // SAFETY: `key` is live; the host writes at most `*len` bytes at `ptr`.
            unsafe { sys::get_storage(key.as_ptr(), key.len() as u32, ptr, len) }
        })
        .ok()
    }

    pub fn clear_storage(key: &[u8]) -> Option<u32> {
        // SAFETY: `key` is a live slice the host only reads.
        opt_len(unsafe { sys::clear_storage(key.as_ptr(), key.len() as u32) })
    }

    pub fn contains_storage(key: &[u8]) -> Option<u32> {
        // SAFETY: `key` is a live slice the host only reads.
        opt_len(unsafe { sys::contains_storage(key.as_ptr(), key.len() as u32) })
    }

    pub fn caller() -> AccountId {
        AccountId(read32(sys::caller))
    }

    pub fn address() -> AccountId {
        AccountId(read32(sys::address))
    }

    pub fn value_transferred() -> Balance {
        read_balance(sys::value_transferred)
    }

    pub fn balance() -> Balance {
        read_balance(sys::balance)
    }

    pub fn balance_of(account: &AccountId) -> Balance {
        let mut out = [0u8; 16];
        // SAFETY: the host reads 32 bytes of `account` and writes 16 bytes at `out`.
        unsafe { sys::balance_of(account.0.as_ptr(), out.as_mut_ptr()) };
        u128::from_le_bytes(out)
    }

    pub fn block_number() -> u64 {
        // SAFETY: no memory is passed.
        unsafe { sys::block_number() as u64 }
    }

    pub fn now() -> u64 {
        // SAFETY: no memory is passed.
        unsafe { sys::now() as u64 }
    }

    pub fn gas_left() -> u64 {
        // SAFETY: no memory is passed.
        unsafe { sys::gas_left() as u64 }
    }

    pub fn is_contract(account: &AccountId) -> bool {
        // SAFETY: the host reads 32 bytes of `account`.
        unsafe { sys::is_contract(account.0.as_ptr()) == 1 }
    }

    pub fn code_hash(account: &AccountId) -> Result<Hash, Error> {
        let mut out = [0u8; 32];
        // SAFETY: the host reads 32 bytes of `account` and writes at most 32 at `out`.
        let code = unsafe { sys::code_hash(account.0.as_ptr(), out.as_mut_ptr()) };
        Error::check(code).map(|()| Hash(out))
    }

    pub fn transfer(to: &AccountId, value: Balance) -> Result<(), Error> {
        let v = value.to_le_bytes();
        // SAFETY: the host reads 32 bytes of `to` and 16 of `v`.
        Error::check(unsafe { sys::transfer(to.0.as_ptr(), v.as_ptr()) })
    }

    pub fn deposit_event(topics: &[[u8; 32]], data: &[u8]) {
        // SAFETY: `topics` is `topics.len()` contiguous 32-byte arrays and `data` a live slice;
        // the host only reads them.
        unsafe {
            sys::deposit_event(
                topics.as_ptr() as *const u8,
                topics.len() as u32,
                data.as_ptr(),
                data.len() as u32,
            )
        }
    }

    /// Runs a `call` / `instantiate` import `f(out_ptr, out_len_ptr)` with a buffer of
    /// `capacity` and classifies its code (see [`crate::call::classify_call_code`]); the output
    /// is read only when the host wrote it.
    fn run_call(
        capacity: usize,
        f: impl FnOnce(*mut u8, *mut u32) -> i32,
        succeeded: impl FnOnce() -> Option<bool>,
    ) -> Result<Vec<u8>, CallError> {
        let mut buf: Vec<u8> = Vec::with_capacity(capacity);
        let mut len: u32 = u32::try_from(capacity).unwrap_or(u32::MAX);
        let code = f(buf.as_mut_ptr(), &mut len);
        match classify_call_code(code, len, capacity, succeeded) {
            CallCode::Written { reverted, len } => {
                // SAFETY: on SUCCESS or CALLEE_REVERTED with a length within the capacity the
                // host wrote `len` bytes at the buffer's start.
                unsafe { buf.set_len(len as usize) };
                if reverted {
                    Err(CallError::Reverted(buf))
                } else {
                    Ok(buf)
                }
            }
            CallCode::Failed(e) => Err(e),
        }
    }

    pub fn call(
        callee: &AccountId,
        value: Balance,
        input: &[u8],
        gas_limit: u64,
        output_capacity: usize,
    ) -> Result<Vec<u8>, CallError> {
        let v = value.to_le_bytes();
        // `BUFFER_TOO_SMALL` from `call` does not say whether the callee reverted: unknown.
        let run = |ptr: *mut u8, len: *mut u32| {
            // SAFETY: callee (32 bytes), value (16), input are live and only read; the host
            // writes at most `*len` bytes at `ptr`.
            unsafe {
                sys::call(
                    callee.0.as_ptr(),
                    v.as_ptr(),
                    input.as_ptr(),
                    input.len() as u32,
                    gas_limit as i64,
                    ptr,
                    len,
                )
            }
        };
        run_call(output_capacity, run, || None)
    }

    pub fn instantiate(
        code_hash: &Hash,
        value: Balance,
        input: &[u8],
        salt: &[u8],
        gas_limit: u64,
        output_capacity: usize,
    ) -> Result<(AccountId, Vec<u8>), CallError> {
        let v = value.to_le_bytes();
        let mut address = [0u8; 32];
        let run = |ptr: *mut u8, len: *mut u32| {
            // SAFETY: code hash (32 bytes), value (16), input and salt are live and only read;
            // the host writes 32 bytes at `address` and at most `*len` bytes at `ptr`.
            unsafe {
                sys::instantiate(
                    code_hash.0.as_ptr(),
                    v.as_ptr(),
                    input.as_ptr(),
                    input.len() as u32,
                    salt.as_ptr(),
                    salt.len() as u32,
                    gas_limit as i64,
                    address.as_mut_ptr(),
                    ptr,
                    len,
                )
            }
        };
        // After `BUFFER_TOO_SMALL` the new contract exists exactly when its constructor
        // succeeded (a reverted constructor's contract is undone with it; an existing address
        // would have been `DUPLICATE_CONTRACT`). Asked only then: it costs two host calls.
        let succeeded = || Some(is_contract(&super::contract_address(&self::address(), code_hash, salt)));
        run_call(output_capacity, run, succeeded).map(|out| (AccountId(address), out))
    }

    pub fn terminate(beneficiary: &AccountId) -> ! {
        // SAFETY: the host reads 32 bytes of `beneficiary` and does not return.
        unsafe { sys::terminate(beneficiary.0.as_ptr()) }
    }

    pub fn hash_blake2_256(data: &[u8]) -> [u8; 32] {
        let mut out = [0u8; 32];
        // SAFETY: `data` is read, 32 bytes are written at `out`.
        unsafe { sys::hash_blake2_256(data.as_ptr(), data.len() as u32, out.as_mut_ptr()) };
        out
    }

    pub fn hash_blake2_128(data: &[u8]) -> [u8; 16] {
        let mut out = [0u8; 16];
        // SAFETY: `data` is read, 16 bytes are written at `out`.
        unsafe { sys::hash_blake2_128(data.as_ptr(), data.len() as u32, out.as_mut_ptr()) };
        out
    }

    pub fn sr25519_verify(signature: &[u8; 64], public_key: &[u8; 32], message: &[u8]) -> Result<(), Error> {
        // SAFETY: all three are live buffers of the sizes the host reads.
        Error::check(unsafe {
            sys::sr25519_verify(
                signature.as_ptr(),
                public_key.as_ptr(),
                message.as_ptr(),
                message.len() as u32,
            )
        })
    }

    pub fn debug_message(message: &str) {
        // SAFETY: `message` is a live UTF-8 slice the host only reads.
        unsafe { sys::debug_message(message.as_ptr(), message.len() as u32) };
    }
}
