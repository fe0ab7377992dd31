//! What contract execution costs: gas per host function, storage deposits, limits.
//!
//! Gas is wasmtime fuel (about one unit per wasm instruction; one unit is about a nanosecond of
//! execution on the reference machine, the same scale as weight). Host functions charge their
//! base cost before doing anything and a per-byte cost for the bytes they move, so a contract
//! pays for what it makes the node do. Root can replace the schedule (`set_schedule`).

use parity_scale_codec::{Decode, Encode};
use watt_primitives::{Balance, UNIT};

/// Gas costs, deposits and limits.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Schedule {
    /// Every host function: the relay into the runtime and back.
    pub host_call: u64,
    /// Per byte copied between the contract's memory and the runtime.
    pub per_byte: u64,
    /// Reading a storage value (plus per byte).
    pub storage_read: u64,
    /// Writing or clearing a storage value (plus per byte).
    pub storage_write: u64,
    /// A value transfer.
    pub transfer: u64,
    /// Emitting an event (plus per topic and per byte).
    pub event: u64,
    /// Per event topic.
    pub event_topic: u64,
    /// Starting a nested call or instantiation (the callee's own gas comes on top).
    pub call: u64,
    /// Loading code for a frame, per byte of code (whether or not the node has it compiled).
    pub code_load_per_byte: u64,
    /// A blake2 hash (plus per byte).
    pub hash: u64,
    /// An sr25519 signature check.
    pub sr25519_verify: u64,
    /// Terminating, plus per storage item removed.
    pub terminate: u64,
    /// Per storage item removed at termination.
    pub terminate_per_item: u64,
    /// Deposit per storage item (a contract's key, or an uploaded code).
    pub deposit_per_item: Balance,
    /// Deposit per byte (of key and value, or of code).
    pub deposit_per_byte: Balance,
    /// Largest gas limit of one transaction.
    pub max_gas_per_call: u64,
    /// Longest storage key, bytes.
    pub max_key_len: u32,
    /// Longest storage value (and event data), bytes.
    pub max_value_len: u32,
    /// Deepest call stack, frames.
    pub max_call_depth: u32,
    /// Longest code, bytes (the executor's validation limit may be lower).
    pub max_code_len: u32,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            host_call: 400,
            per_byte: 1,
            storage_read: 3_000,
            storage_write: 8_000,
            transfer: 10_000,
            event: 2_000,
            event_topic: 500,
            call: 20_000,
            code_load_per_byte: 1,
            hash: 300,
            sr25519_verify: 60_000,
            terminate: 20_000,
            terminate_per_item: 2_000,
            deposit_per_item: UNIT / 100,
            deposit_per_byte: UNIT / 10_000,
            max_gas_per_call: 1_000_000_000,
            max_key_len: 128,
            max_value_len: 16 * 1024,
            max_call_depth: 8,
            max_code_len: 512 * 1024,
        }
    }
}
