//! The contract sandbox across the node <-> runtime boundary.
//!
//! The runtime's contracts pallet owns every rule of contract execution; the node only runs the
//! contract's wasm in a fuel-metered sandbox and relays each call the contract makes to its
//! environment (module [`CONTRACT_ENV_MODULE`]) back into the runtime:
//!
//! 1. The runtime calls host function [`host::SANDBOX_EXECUTE`] with a [`SandboxExecute`]
//!    (code hash, export, gas limit).
//! 2. Whenever the contract calls an imported function, the host calls the runtime's export
//!    [`ENTRY_SANDBOX_ENV`] with an [`EnvCall`] (function name, arguments, gas left) and the
//!    contract's memory made reachable through [`host::SANDBOX_MEMORY_READ`] and
//!    [`host::SANDBOX_MEMORY_WRITE`]; the runtime answers with an [`EnvReply`], whose `charge`
//!    the host takes from the contract's fuel.
//! 3. The host returns a [`SandboxOutcome`].
//!
//! Code is compiled (and validated) by [`host::SANDBOX_PREPARE`]; an execution whose code the
//! node has not compiled returns [`SandboxOutcome::NotPrepared`] and the runtime prepares it and
//! tries again, so what a call costs never depends on a node's cache.
//!
//! The native build of the runtime reaches the same sandbox through a native twin of these
//! functions (`watt_support::sandbox`), so both builds compute the same results.

use crate::Hash;
use alloc::string::String;
use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};

/// The import module contracts link against (ABI v1; `pallets/contracts/ABI.md`).
pub const CONTRACT_ENV_MODULE: &str = "watt_v1";
/// Runtime export `fn(ptr, len) -> u64`: SCALE [`EnvCall`] in, SCALE [`EnvReply`] out.
pub const ENTRY_SANDBOX_ENV: &str = "watt_sandbox_env";

/// Host functions of the sandbox (module `watt`); versioned by suffix, so a later runtime can
/// import a `_v2` beside them while nodes keep serving `_v1`.
pub mod host {
    /// (input_ptr, input_len) -> packed SCALE `Result<CodeSummary, String>`; input is SCALE
    /// [`super::SandboxPrepare`]. Validates and compiles; the module stays cached by hash.
    pub const SANDBOX_PREPARE: &str = "sandbox_prepare_v2";
    /// (input_ptr, input_len) -> packed SCALE [`super::SandboxOutcome`]; input is SCALE
    /// [`super::SandboxExecute`].
    pub const SANDBOX_EXECUTE: &str = "sandbox_execute_v2";
    /// (contract_ptr, len, out_ptr) -> 0 ok / 1 out of the contract's memory. Only during an
    /// [`super::ENTRY_SANDBOX_ENV`] call: reads the calling contract's memory.
    pub const SANDBOX_MEMORY_READ: &str = "sandbox_memory_read_v1";
    /// (contract_ptr, src_ptr, len) -> 0 ok / 1 out of the contract's memory.
    pub const SANDBOX_MEMORY_WRITE: &str = "sandbox_memory_write_v1";
}

/// What to validate and compile.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SandboxPrepare {
    /// The contract's wasm.
    pub code: Vec<u8>,
    /// The functions the contract may import from [`CONTRACT_ENV_MODULE`], with their types.
    pub functions: Vec<ImportSignature>,
    /// Exports it must have (besides its memory).
    pub exports: Vec<String>,
    /// The limits code is validated against: a chain rule, so the runtime sets them (a node
    /// clamps the memory limit to what its engine is built for).
    pub limits: CodeLimits,
    /// Validate (an upload) or only compile (code validated when it was uploaded, possibly
    /// under other limits: it must keep working).
    pub validate: bool,
    /// Keep the compiled module on disk (not for dry-runs: their code may never be on chain).
    pub persist: bool,
    /// How the code is to be metered and compiled (part of the compiled module's identity).
    pub vm: ContractVm,
}

/// The chain's rules of contract execution that shape compiled code: the engine it must run
/// on, the deterministic stack limit and the cost of each instruction. The runtime owns them
/// (in the contracts pallet's schedule); a node compiles a module once per distinct `ContractVm`
/// and keys its caches by [`ContractVm::id`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ContractVm {
    /// The engine (and its version) this chain's contracts run on. A node whose engine is
    /// another refuses to execute contracts (it fails, not the transaction): another engine
    /// could meter or limit the same code differently.
    pub engine: String,
    /// Deepest stack, in wasm values (each function's frame counts its parameters, locals,
    /// deepest operand stack and a fixed overhead); the same on every machine.
    pub max_stack_height: u32,
    /// Gas of each instruction class.
    pub costs: InstructionCosts,
    /// Gas per 64 KiB page of a contract's memory beyond the first, charged when an execution
    /// ends (by its memory's size then): what touching and resetting pages costs, which no
    /// instruction count sees.
    pub memory_page: u32,
}

/// What wasm instructions cost, in gas, by class. Each class was timed on the reference machine
/// (BENCHMARKS.md, "Gas per instruction class"), so that gas tracks time within 2x for every
/// class; the node maps each wasm operator to its class (the mapping is part of the engine
/// version).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct InstructionCosts {
    /// Constants, locals, globals, integer add/sub/logic/compare/shift, select, conversions.
    pub simple: u8,
    /// Branches (`br`, `br_if`, `br_table`, `if`).
    pub branch: u8,
    /// A load from linear memory.
    pub load: u8,
    /// A store to linear memory.
    pub store: u8,
    /// Integer multiplication.
    pub mul: u8,
    /// Integer division and remainder.
    pub div: u8,
    /// A direct call.
    pub call: u8,
    /// An indirect call (table lookup and signature check).
    pub call_indirect: u8,
    /// `memory.size`.
    pub memory_size: u8,
    /// `memory.grow`, plus `memory_grow_per_page`.
    pub memory_grow: u8,
    /// Per page `memory.grow` asks for.
    pub memory_grow_per_page: u8,
    /// `memory.copy`, `memory.fill`, `memory.init`, `data.drop`, plus per byte.
    pub bulk_memory: u8,
    /// Per byte `memory.copy`, `memory.fill` or `memory.init` moves.
    pub bulk_memory_per_byte: u8,
    /// Floating point (refused at upload on chain; here so that no operator is free).
    pub float: u8,
}

/// The engine contracts run on by default (`watt_executor::contract_engine::ENGINE_VERSION` of
/// nodes that can run them).
pub const DEFAULT_CONTRACT_ENGINE: &str = "wasmtime-48.0.8/watt-vm-1";

impl Default for ContractVm {
    /// wasmtime 48.0.8; 4,096 wasm values of stack (a Rust contract's frames are tens of
    /// values; recursion a few hundred deep fits); the default instruction costs.
    fn default() -> Self {
        ContractVm {
            engine: DEFAULT_CONTRACT_ENGINE.into(),
            max_stack_height: 4_096,
            costs: InstructionCosts::default(),
            memory_page: 5_000,
        }
    }
}

impl Default for InstructionCosts {
    /// Measured on the reference machine (BENCHMARKS.md, "Gas per instruction class"): the
    /// lowest cost that keeps each class's worst case at or under about 0.8 ns per gas, so gas
    /// stays an upper bound of time at about a nanosecond per gas, like weight.
    fn default() -> Self {
        InstructionCosts {
            simple: 1,
            branch: 1,
            load: 6,
            store: 1,
            mul: 1,
            div: 3,
            call: 2,
            call_indirect: 2,
            memory_size: 1,
            memory_grow: 255,
            memory_grow_per_page: 255,
            bulk_memory: 2,
            bulk_memory_per_byte: 1,
            float: 5,
        }
    }
}

impl ContractVm {
    /// The identity of compiled code under these rules: blake2b-256 of their SCALE encoding.
    pub fn id(&self) -> Hash {
        crate::blake2_256(&self.encode())
    }
}

/// A wasm value type of the contract ABI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum ValueType {
    /// `i32`.
    I32,
    /// `i64`.
    I64,
}

/// A function of the contract environment and its wasm type.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ImportSignature {
    /// Its name in [`CONTRACT_ENV_MODULE`].
    pub name: String,
    /// Parameter types.
    pub params: Vec<ValueType>,
    /// Result types.
    pub results: Vec<ValueType>,
}

/// Upload limits of contract code (see `watt-contract-validation`).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CodeLimits {
    /// Largest code, bytes.
    pub max_code_len: u32,
    /// Most functions defined.
    pub max_functions: u32,
    /// Most locals of one function.
    pub max_locals: u32,
    /// Most parameters and results of one function type.
    pub max_params: u32,
    /// Largest memory, 64 KiB pages.
    pub max_memory_pages: u32,
    /// Largest table, elements.
    pub max_table_elements: u32,
    /// Most globals.
    pub max_globals: u32,
    /// Most data segments.
    pub max_data_segments: u32,
    /// Most exports.
    pub max_exports: u32,
    /// Deepest nesting of control blocks in a function.
    pub max_nesting: u32,
    /// Deepest nesting of loops in a function.
    pub max_loop_nesting: u32,
}

impl Default for CodeLimits {
    /// 512 KiB, 4,096 functions, 1,024 locals, 16 pages, nesting 256 (loops 32): room for real
    /// contracts (an optimized Rust token is 10 to 40 KiB) with compile time near linear in
    /// size. Compile time grows with the square of block nesting and the cube of nested loops
    /// with back edges (BENCHMARKS.md, "Contracts"); a Rust `match` of N arms nests N blocks,
    /// loops rarely nest more than a few deep.
    fn default() -> Self {
        CodeLimits {
            max_code_len: 512 * 1024,
            max_functions: 4_096,
            max_locals: 1_024,
            max_params: 128,
            max_memory_pages: 16,
            max_table_elements: 4_096,
            max_globals: 256,
            max_data_segments: 1_024,
            max_exports: 256,
            max_nesting: 256,
            max_loop_nesting: 32,
        }
    }
}

/// What validation learned about accepted code.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CodeSummary {
    /// Functions defined.
    pub functions: u32,
    /// Largest memory the code may grow to, in 64 KiB pages.
    pub max_memory_pages: u32,
}

/// Which export of the contract to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum SandboxExport {
    /// `deploy`: the constructor, once.
    Deploy,
    /// `call`: a message.
    Call,
}

impl SandboxExport {
    /// The export's name.
    pub fn name(self) -> &'static str {
        match self {
            SandboxExport::Deploy => "deploy",
            SandboxExport::Call => "call",
        }
    }
}

/// One contract execution.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SandboxExecute {
    /// blake2b-256 of the code, prepared before.
    pub code_hash: Hash,
    /// What to run.
    pub export: SandboxExport,
    /// Fuel it may use, host-function charges included.
    pub gas_limit: u64,
    /// [`ContractVm::id`] of the rules the code must have been prepared under.
    pub vm: Hash,
}

/// How an execution ended. `gas_used` counts fuel and host-function charges.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum SandboxOutcome {
    /// The export returned normally.
    Finished {
        /// Gas used.
        gas_used: u64,
    },
    /// The environment ended the execution ([`EnvReply::Halt`]: return, revert, terminate);
    /// the runtime knows why.
    Halted {
        /// Gas used.
        gas_used: u64,
    },
    /// The gas limit was used up (all of it is charged).
    OutOfGas,
    /// The contract trapped, or the environment refused a call ([`EnvReply::Trap`]).
    Trapped {
        /// Gas used.
        gas_used: u64,
        /// What happened.
        message: String,
    },
    /// This node has not compiled the code: prepare it and execute again.
    NotPrepared,
}

/// A contract's call to its environment.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EnvCall {
    /// The imported function's name (in [`CONTRACT_ENV_MODULE`]).
    pub function: Vec<u8>,
    /// Its arguments; `i32`s zero-extended.
    pub args: Vec<u64>,
    /// Gas the contract has left.
    pub gas_left: u64,
}

/// The environment's answer.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum EnvReply {
    /// Go on: `value` is the function's result (truncated to `i32` where the import returns
    /// one; ignored where it returns nothing), `charge` the gas it cost.
    Return {
        /// The result.
        value: u64,
        /// Gas to take from the contract.
        charge: u64,
    },
    /// Stop the contract now (it returned, reverted or terminated).
    Halt {
        /// Gas to take from the contract.
        charge: u64,
    },
    /// Stop the contract with a trap (misuse of the environment).
    Trap {
        /// Gas to take from the contract.
        charge: u64,
        /// Why.
        message: String,
    },
}
