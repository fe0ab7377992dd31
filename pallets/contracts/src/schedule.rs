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
    /// Reading a storage value (plus `storage_read_per_byte`).
    pub storage_read: u64,
    /// Per byte of a stored value the host reads: the value `get_storage` and
    /// `contains_storage` look at, and the old value `set_storage` and `clear_storage` read to
    /// settle the deposit (on top of copying anything into the contract's memory).
    pub storage_read_per_byte: u64,
    /// Writing or clearing a storage value (plus per byte).
    pub storage_write: u64,
    /// A value transfer.
    pub transfer: u64,
    /// Emitting an event (plus per topic and per byte).
    pub event: u64,
    /// Per event topic.
    pub event_topic: u64,
    /// Per byte of event data, on top of copying it: the bytes stay in the block's events and
    /// receipts.
    pub event_per_byte: u64,
    /// Per byte of a storage value written, on top of copying it: the bytes stay in the
    /// node's state overlay until the block commits.
    pub storage_per_byte: u64,
    /// Most event data one transaction may emit, bytes, 32 per topic included (what is
    /// reverted counts too).
    pub max_event_bytes_per_call: u32,
    /// Most events one transaction may emit (what is reverted counts too).
    pub max_events_per_call: u32,
    /// Starting a nested call or instantiation (the callee's own gas comes on top).
    pub call: u64,
    /// Loading code for a frame, per byte of code (whether or not the node has it compiled).
    pub code_load_per_byte: u64,
    /// Compiling code, per byte: charged to the first call of a code after the contract rules
    /// (`vm`) changed, since every node compiles it then (the upload paid for the first compile).
    pub compile_per_byte: u64,
    /// A blake2 hash (plus per byte).
    pub hash: u64,
    /// An sr25519 signature check.
    pub sr25519_verify: u64,
    /// Terminating (queueing the contract's storage for deletion), plus per storage item.
    pub terminate: u64,
    /// Per storage item of a terminated contract: its deletion by the deletion queue after the
    /// block's transactions (an in-order seek and a delete), paid by the terminating call.
    pub terminate_per_item: u64,
    /// Most work the deletion queue does in one block, in units of one storage item deleted
    /// or one depositor's share refunded (plus one per queue entry visited). Block hooks sit
    /// outside the block weight limit, so this bounds what terminations cost any block.
    pub max_deletions_per_block: u32,
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
    /// Longest code, bytes.
    pub max_code_len: u32,
    /// What uploaded code is validated against.
    pub code_limits: watt_primitives::sandbox::CodeLimits,
    /// The engine, stack limit and instruction costs compiled code is shaped by.
    pub vm: watt_primitives::sandbox::ContractVm,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule {
            host_call: 400,
            per_byte: 1,
            storage_read: 3_000,
            // Reading the bytes out of the state's cache (decompression) and across the host
            // boundary into the runtime.
            storage_read_per_byte: 2,
            storage_write: 8_000,
            transfer: 10_000,
            event: 2_000,
            event_topic: 500,
            event_per_byte: 100,
            storage_per_byte: 50,
            max_event_bytes_per_call: 256 * 1024,
            max_events_per_call: 1_024,
            call: 20_000,
            // Loading compiled code from the node's memory or disk cache and linking it.
            code_load_per_byte: 20,
            // Compiling measured 1.4 us per byte of ordinary code, 3 us for the worst shape
            // validation accepts (BENCHMARKS.md, "Contracts"); 1,500 keeps the largest code
            // (512 KiB: 786M gas) callable within one transaction's 10^9.
            compile_per_byte: 1_500,
            hash: 300,
            sr25519_verify: 60_000,
            terminate: 20_000,
            // A delete is a write (`storage_write`); the seek that finds the next key walks
            // keys in order, within a database block already read.
            terminate_per_item: 8_000,
            // About 32 ms a block at `terminate_per_item`'s 8 µs per item: 3% of a full block.
            max_deletions_per_block: 4_000,
            deposit_per_item: UNIT / 100,
            deposit_per_byte: UNIT / 10_000,
            max_gas_per_call: 1_000_000_000,
            max_key_len: 128,
            max_value_len: 16 * 1024,
            max_call_depth: 8,
            max_code_len: 512 * 1024,
            code_limits: Default::default(),
            vm: Default::default(),
        }
    }
}

/// Hard bounds on a schedule (what `set_schedule` accepts): the node's contract engine is
/// sized for them (instance pool, stack, memory), so no schedule may exceed them.
pub mod bounds {
    /// Deepest call stack the node's instance pool and stack budget are sized for.
    pub const MAX_CALL_DEPTH: u32 = 8;
    /// Largest storage value or event data.
    pub const MAX_VALUE_LEN: u32 = 64 * 1024;
    /// Longest storage key.
    pub const MAX_KEY_LEN: u32 = 1024;
    /// Most event data per transaction.
    pub const MAX_EVENT_BYTES_PER_CALL: u32 = 4 << 20;
    /// Most events per transaction.
    pub const MAX_EVENTS_PER_CALL: u32 = 16_384;
    /// Largest code.
    pub const MAX_CODE_LEN: u32 = 512 * 1024;
    /// Largest contract memory, pages (the node's instance pool is sized for it).
    pub const MAX_MEMORY_PAGES: u32 = 16;
    /// Deepest stack, wasm values: the node's native stack for contracts is sized for it
    /// (`ContractEngineConfig::max_wasm_stack`).
    pub const MAX_STACK_HEIGHT: u32 = 4_096;
    /// Shallowest stack a schedule may set: room for an SDK contract's dispatch.
    pub const MIN_STACK_HEIGHT: u32 = 256;
    /// Longest engine name.
    pub const MAX_ENGINE_NAME: usize = 64;
    /// Most deletion work per block a schedule may allow (see `max_deletions_per_block`).
    pub const MAX_DELETIONS_PER_BLOCK: u32 = 100_000;
    /// Largest gas limit of one transaction: 10 s of execution at a nanosecond per gas, a third
    /// of the node's 30 s contract watchdog.
    pub const MAX_GAS_PER_CALL: u64 = 10_000_000_000;
}

impl Schedule {
    /// Why this schedule cannot be used, if it cannot: every cost at least 1 (nothing the node
    /// does may be free) and every limit within [`bounds`].
    pub fn check(&self) -> Result<(), &'static str> {
        let costs = [
            self.host_call,
            self.per_byte,
            self.storage_read,
            self.storage_read_per_byte,
            self.storage_write,
            self.transfer,
            self.event,
            self.event_topic,
            self.event_per_byte,
            self.storage_per_byte,
            self.call,
            self.code_load_per_byte,
            self.compile_per_byte,
            self.hash,
            self.sr25519_verify,
            self.terminate,
            self.terminate_per_item,
        ];
        if costs.contains(&0) {
            return Err("every gas cost must be at least 1");
        }
        if self.max_deletions_per_block == 0 || self.max_deletions_per_block > bounds::MAX_DELETIONS_PER_BLOCK {
            return Err("max_deletions_per_block must be 1..=100,000");
        }
        if self.max_call_depth == 0 || self.max_call_depth > bounds::MAX_CALL_DEPTH {
            return Err("max_call_depth must be 1..=8");
        }
        if self.max_value_len > bounds::MAX_VALUE_LEN || self.max_key_len > bounds::MAX_KEY_LEN {
            return Err("storage key or value limit above the node's bound");
        }
        if self.max_event_bytes_per_call > bounds::MAX_EVENT_BYTES_PER_CALL {
            return Err("max_event_bytes_per_call above the node's bound");
        }
        if self.max_events_per_call == 0 || self.max_events_per_call > bounds::MAX_EVENTS_PER_CALL {
            return Err("max_events_per_call must be 1..=16384");
        }
        if self.max_code_len > bounds::MAX_CODE_LEN || self.code_limits.max_code_len > bounds::MAX_CODE_LEN {
            return Err("max_code_len above the node's bound");
        }
        // The upload limits the node's compiler was tested against are the defaults
        // (`node/executor/tests/compile_bound.rs`: the worst shapes within them compile within
        // what the upload weight pays) and its instance pool is sized for them.
        let (l, b) = (&self.code_limits, &watt_primitives::sandbox::CodeLimits::default());
        let within = [
            (l.max_code_len, b.max_code_len),
            (l.max_functions, b.max_functions),
            (l.max_locals, b.max_locals),
            (l.max_params, b.max_params),
            (l.max_memory_pages, b.max_memory_pages),
            (l.max_table_elements, b.max_table_elements),
            (l.max_globals, b.max_globals),
            (l.max_data_segments, b.max_data_segments),
            (l.max_exports, b.max_exports),
            (l.max_nesting, b.max_nesting),
            (l.max_loop_nesting, b.max_loop_nesting),
        ];
        if within.iter().any(|(limit, bound)| limit > bound) {
            return Err("a code limit is above what the node's compiler was tested against");
        }
        if l.max_memory_pages == 0 || l.max_functions == 0 || l.max_nesting == 0 {
            return Err("code limits must admit a contract (memory, functions, a body)");
        }
        if self.max_gas_per_call == 0 || self.max_gas_per_call > bounds::MAX_GAS_PER_CALL {
            return Err("max_gas_per_call must be 1..=10^10");
        }
        if self.deposit_per_item == 0 || self.deposit_per_byte == 0 {
            return Err("storage deposits must be at least 1 (storage is never free)");
        }
        let vm = &self.vm;
        if !(bounds::MIN_STACK_HEIGHT..=bounds::MAX_STACK_HEIGHT).contains(&vm.max_stack_height) {
            return Err("vm.max_stack_height must be 256..=4096");
        }
        if vm.memory_page == 0 {
            return Err("vm.memory_page must be at least 1 (memory is never free)");
        }
        if vm.engine.is_empty() || vm.engine.len() > bounds::MAX_ENGINE_NAME {
            return Err("vm.engine must name an engine (at most 64 bytes)");
        }
        let c = &vm.costs;
        let instruction_costs = [
            c.simple,
            c.branch,
            c.load,
            c.store,
            c.mul,
            c.div,
            c.call,
            c.call_indirect,
            c.memory_size,
            c.memory_grow,
            c.memory_grow_per_page,
            c.bulk_memory,
            c.bulk_memory_per_byte,
            c.float,
        ];
        if instruction_costs.contains(&0) {
            return Err("every instruction cost must be at least 1");
        }
        Ok(())
    }
}
