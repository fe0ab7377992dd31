//! The wasm32 exports: decode SCALE input from linear memory, call [`crate::api`], return the
//! SCALE output as a packed (pointer, length). See `watt_primitives::abi` for the convention.

use crate::api;
use alloc::vec::Vec;
use core::alloc::Layout;
use parity_scale_codec::{DecodeAll, Encode};
use watt_primitives::abi::{
    pack_ptr_len, ApplyBlockInput, GenesisConfig, Query, ValidateBatchInput, ValidateInput, ValidateTxSetInput,
};

#[global_allocator]
static ALLOCATOR: dlmalloc::GlobalDlmalloc = dlmalloc::GlobalDlmalloc;

#[cfg(not(feature = "std"))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo) -> ! {
    use alloc::string::ToString;
    let msg = info.to_string();
    watt_support::host::log(watt_support::host::LogLevel::Error, &msg);
    core::arch::wasm32::unreachable()
}

/// Allocates `len` bytes (alignment 1) for the host to write into.
#[no_mangle]
pub extern "C" fn watt_alloc(len: u32) -> u32 {
    if len == 0 {
        // A dangling, well-aligned pointer: what an empty Vec<u8> holds.
        return 1;
    }
    // SAFETY: the layout has non-zero size and alignment 1, always valid.
    unsafe { alloc::alloc::alloc(Layout::from_size_align_unchecked(len as usize, 1)) as u32 }
}

fn input<T: DecodeAll>(ptr: u32, len: u32) -> T {
    // SAFETY: the host wrote exactly `len` bytes at `ptr`, a buffer it got from `watt_alloc`.
    let bytes = unsafe { core::slice::from_raw_parts(ptr as *const u8, len as usize) };
    match T::decode_all(&mut &bytes[..]) {
        Ok(v) => v,
        Err(_) => panic!("runtime entry input does not decode"),
    }
}

fn output(value: impl Encode) -> u64 {
    let bytes: Vec<u8> = value.encode();
    let packed = pack_ptr_len(bytes.as_ptr() as u32, bytes.len() as u32);
    // The instance is discarded after the call; the host reads the buffer first.
    core::mem::forget(bytes);
    packed
}

#[no_mangle]
pub extern "C" fn watt_version(_ptr: u32, _len: u32) -> u64 {
    output(api::version())
}

#[no_mangle]
pub extern "C" fn watt_build_genesis(ptr: u32, len: u32) -> u64 {
    api::build_genesis(input::<GenesisConfig>(ptr, len));
    output(())
}

#[no_mangle]
pub extern "C" fn watt_apply_block(ptr: u32, len: u32) -> u64 {
    output(api::apply_block(input::<ApplyBlockInput>(ptr, len)))
}

#[no_mangle]
pub extern "C" fn watt_validate_tx_set(ptr: u32, len: u32) -> u64 {
    output(api::validate_tx_set(input::<ValidateTxSetInput>(ptr, len)))
}

#[no_mangle]
pub extern "C" fn watt_validate_transaction(ptr: u32, len: u32) -> u64 {
    output(api::validate_transaction(input::<ValidateInput>(ptr, len)))
}

#[no_mangle]
pub extern "C" fn watt_validate_transactions(ptr: u32, len: u32) -> u64 {
    output(api::validate_transactions(input::<ValidateBatchInput>(ptr, len)))
}

#[no_mangle]
pub extern "C" fn watt_query(ptr: u32, len: u32) -> u64 {
    output(api::query(input::<Query>(ptr, len)))
}

/// The previous environment reply, freed at the next one: the host has read it by then, and a
/// contract making thousands of calls must not leak a buffer per call.
struct LastReply(core::cell::RefCell<Vec<u8>>);
// SAFETY: wasm32 without threads: never shared between threads.
unsafe impl Sync for LastReply {}
static LAST_REPLY: LastReply = LastReply(core::cell::RefCell::new(Vec::new()));

/// The contract sandbox's environment calls (`watt_primitives::sandbox::ENTRY_SANDBOX_ENV`),
/// made by the host while a contract runs inside a `sandbox_execute_v2` call.
#[no_mangle]
pub extern "C" fn watt_sandbox_env(ptr: u32, len: u32) -> u64 {
    // SAFETY: the host wrote exactly `len` bytes at `ptr`, a buffer it got from `watt_alloc`;
    // the Vec takes it over and frees it when the call is decoded and served.
    let bytes = unsafe { Vec::from_raw_parts(ptr as *mut u8, len as usize, len as usize) };
    let reply = watt_support::sandbox::dispatch_env_call(&bytes).encode();
    drop(bytes);
    let packed = pack_ptr_len(reply.as_ptr() as u32, reply.len() as u32);
    // Nested calls replaced the slot while this one was served; this reply is the newest.
    *LAST_REPLY.0.borrow_mut() = reply;
    packed
}
