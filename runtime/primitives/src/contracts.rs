//! Contract types seen by clients: dry-run requests and their results, contract and code info.
//! The contracts pallet produces them; RPC (`watt_contractCall`, `watt_contractInfo`) and the
//! CLI show them.

use crate::{AccountId, Balance, DispatchError, Hash};
use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};

/// Where the code of an instantiation comes from.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum CodeSource {
    /// Code uploaded with this request.
    Upload(Vec<u8>),
    /// Code uploaded before, by hash.
    Existing(Hash),
}

/// A dry-run of a message call.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CallRequest {
    /// Who calls (pays deposits, is the contract's `caller`).
    pub origin: AccountId,
    /// The contract.
    pub dest: AccountId,
    /// Value sent with the call.
    pub value: Balance,
    /// Gas limit; `None` for the most a block allows.
    pub gas_limit: Option<u64>,
    /// Most storage deposit the call may take; `None` for no limit.
    pub storage_deposit_limit: Option<Balance>,
    /// Input: selector ++ SCALE arguments, by the SDK's convention.
    pub input: Vec<u8>,
}

/// A dry-run of an instantiation.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct InstantiateRequest {
    /// The deployer.
    pub origin: AccountId,
    /// Value endowed.
    pub value: Balance,
    /// Gas limit; `None` for the most a block allows.
    pub gas_limit: Option<u64>,
    /// Most storage deposit it may take; `None` for no limit.
    pub storage_deposit_limit: Option<Balance>,
    /// The code.
    pub code: CodeSource,
    /// Constructor input.
    pub input: Vec<u8>,
    /// Salt of the address.
    pub salt: Vec<u8>,
}

/// Storage deposit moved by an execution.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum StorageDeposit {
    /// Taken from the origin.
    Charge(Balance),
    /// Given back to the origin.
    Refund(Balance),
}

/// What a contract returned.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ExecReturn {
    /// The contract returned with the revert flag: its changes are undone.
    pub reverted: bool,
    /// Its output.
    pub data: Vec<u8>,
}

/// An event a contract emitted.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ContractEvent {
    /// The emitting contract.
    pub contract: AccountId,
    /// Its topics (at most 4).
    pub topics: Vec<Hash>,
    /// Its data.
    pub data: Vec<u8>,
}

/// The result of a dry-run (and what a transaction would do).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ExecResult {
    /// The contract's return (possibly reverted), or why the execution failed (trap, out of
    /// gas, a pallet error).
    pub result: Result<ExecReturn, DispatchError>,
    /// Gas used, host-function charges included.
    pub gas_used: u64,
    /// Storage deposit the execution would move.
    pub storage_deposit: StorageDeposit,
    /// Events emitted by calls that did not revert.
    pub events: Vec<ContractEvent>,
    /// The contracts' debug messages (a panic's message among them), UTF-8.
    pub debug_message: Vec<u8>,
    /// For an instantiation: the new contract's address.
    pub address: Option<AccountId>,
}

/// A contract as `watt_contractInfo` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ContractInfo {
    /// Its code.
    pub code_hash: Hash,
    /// Who instantiated it.
    pub deployer: AccountId,
    /// Storage items.
    pub storage_items: u32,
    /// Storage bytes (keys and values).
    pub storage_bytes: u64,
    /// Storage deposit held for it.
    pub storage_deposit: Balance,
    /// Its free balance.
    pub balance: Balance,
}

/// Uploaded code.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct CodeInfo {
    /// Who uploaded it (and holds its deposit).
    pub owner: AccountId,
    /// Deposit held for it.
    pub deposit: Balance,
    /// Contracts instantiated from it and still alive.
    pub refcount: u64,
    /// Code length, bytes.
    pub len: u32,
}

/// What a contract's address is the blake2b-256 of: `"watt:contract" ++ deployer ++ code_hash ++
/// salt` (ABI.md "Addresses"). The pallet hashes it through the host, clients natively.
pub fn address_preimage(deployer: &AccountId, code_hash: &Hash, salt: &[u8]) -> Vec<u8> {
    let mut input = Vec::with_capacity(13 + 64 + salt.len());
    input.extend_from_slice(b"watt:contract");
    input.extend_from_slice(deployer.as_bytes());
    input.extend_from_slice(code_hash);
    input.extend_from_slice(salt);
    input
}
