//! The node <-> runtime ABI.
//!
//! # Calling convention
//! Every runtime entry point is an export `fn(ptr: u32, len: u32) -> u64`. The host writes the
//! SCALE-encoded input into a buffer it obtained from the runtime's [`EXPORT_ALLOC`] export, calls
//! the entry, and reads the SCALE-encoded output at `(ret >> 32, ret & 0xffff_ffff)` (pointer,
//! length). The runtime's memory is exported as [`EXPORT_MEMORY`]. A fresh instance serves each
//! call, so the runtime never frees these buffers.
//!
//! # Host functions
//! Imported from module [`HOST_MODULE`]. Variable-length results come back the same packed way,
//! the host allocating through [`EXPORT_ALLOC`]; [`ABSENT`] stands for "none". The host-function
//! set is a registry on the node side (see `watt-executor`), so later issues add precompiles and
//! the contract sandbox by adding names here and registering their implementations there.

use crate::economy::{DayInfo, EconomyGenesis, EconomyParams, EventRecord, PledgeInfo, RewardsInfo, SupplyInfo};
use crate::{AccountId, Balance, BlockNumber, Hash, Receipt, SignedTransaction, Timestamp, TxError};
use alloc::string::String;
use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};

/// Import module of all host functions.
pub const HOST_MODULE: &str = "watt";
/// Exported linear memory.
pub const EXPORT_MEMORY: &str = "memory";
/// `fn(len: u32) -> u32`: allocate `len` bytes in the runtime's memory.
pub const EXPORT_ALLOC: &str = "watt_alloc";
/// Packed-pointer value meaning "no value".
pub const ABSENT: u64 = u64::MAX;

/// Runtime entry points (exports).
pub mod entry {
    /// () -> [`super::RuntimeVersion`]
    pub const VERSION: &str = "watt_version";
    /// [`super::GenesisConfig`] -> () ; writes the genesis state.
    pub const BUILD_GENESIS: &str = "watt_build_genesis";
    /// [`super::ApplyBlockInput`] -> `Result<ApplyBlockOutput, TxSetError>`: `Err` (only
    /// [`super::TxSetError::TooManyTransactions`] or [`super::TxSetError::TooLarge`]) refuses
    /// the whole block, over the chain's size limits, with nothing written.
    pub const APPLY_BLOCK: &str = "watt_apply_block";
    /// [`super::ValidateInput`] -> `Result<ValidTransaction, TxError>`
    pub const VALIDATE_TRANSACTION: &str = "watt_validate_transaction";
    /// [`super::ValidateBatchInput`] -> `Vec<Result<ValidTransaction, TxError>>`, one verdict
    /// per transaction, each as [`VALIDATE_TRANSACTION`] gives it (since spec version 5; the
    /// node's own admission of batches, not callable over RPC).
    pub const VALIDATE_TRANSACTIONS: &str = "watt_validate_transactions";
    /// [`super::Query`] -> [`super::QueryResult`]
    pub const QUERY: &str = "watt_query";
    /// [`super::ValidateTxSetInput`] -> `Result<(), TxSetError>` ; reads state, writes nothing.
    pub const VALIDATE_TX_SET: &str = "watt_validate_tx_set";
    /// Entry points a read-only caller (RPC `state_call`) may invoke.
    /// Not [`VALIDATE_TRANSACTIONS`]: the node calls it itself, for gossiped batches and for
    /// concurrent submissions, in chunks it bounds; through `state_call` one request could make
    /// it check any number of signatures.
    pub const READ_ONLY: &[&str] = &[VERSION, VALIDATE_TRANSACTION, QUERY];
}

/// Host functions (imports of module [`HOST_MODULE`]).
pub mod host {
    /// (key_ptr, key_len) -> packed value or ABSENT
    pub const STORAGE_GET: &str = "storage_get";
    /// (key_ptr, key_len, value_ptr, value_len)
    pub const STORAGE_SET: &str = "storage_set";
    /// (key_ptr, key_len)
    pub const STORAGE_CLEAR: &str = "storage_clear";
    /// (key_ptr, key_len) -> packed next key (strictly greater) or ABSENT
    pub const STORAGE_NEXT_KEY: &str = "storage_next_key";
    /// (prefix_ptr, prefix_len) -> number of keys removed (u32)
    pub const STORAGE_CLEAR_PREFIX: &str = "storage_clear_prefix";
    /// () ; opens a nested storage transaction
    pub const STORAGE_START_TRANSACTION: &str = "storage_start_transaction";
    /// () ; folds the innermost transaction into its parent
    pub const STORAGE_COMMIT_TRANSACTION: &str = "storage_commit_transaction";
    /// () ; discards the innermost transaction
    pub const STORAGE_ROLLBACK_TRANSACTION: &str = "storage_rollback_transaction";
    /// (data_ptr, data_len, out_ptr) ; writes 32 bytes
    pub const BLAKE2_256: &str = "blake2_256";
    /// (data_ptr, data_len, out_ptr) ; writes 16 bytes
    pub const BLAKE2_128: &str = "blake2_128";
    /// (sig_ptr, msg_ptr, msg_len, pubkey_ptr) -> 1 valid / 0 invalid
    pub const SR25519_VERIFY: &str = "sr25519_verify";
    /// (input_ptr, input_len) -> 1 all valid / 0 some invalid; input is SCALE
    /// `Vec<([u8; 32], [u8; 64], Vec<u8>)>` of (public key, signature, message)
    pub const SR25519_VERIFY_BATCH: &str = "sr25519_verify_batch";
    /// (level, msg_ptr, msg_len) ; level 1 error .. 5 trace
    pub const LOG: &str = "log";
}

/// Identifies a runtime build; governance upgrades must increase `spec_version`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct RuntimeVersion {
    /// Name of the chain logic, e.g. `watt`.
    pub spec_name: String,
    /// Increases with every change of chain rules.
    pub spec_version: u32,
}

/// Chain parameters set at genesis.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ChainParams {
    /// An account holding less than this is reaped (see the balances pallet).
    pub existential_deposit: Balance,
    /// Fee every transaction pays.
    pub base_fee: Balance,
    /// Fee per byte of the encoded transaction.
    pub byte_fee: Balance,
    /// Fee per unit of weight of the call.
    pub weight_fee: Balance,
    /// Largest accepted encoded transaction, bytes.
    pub max_tx_len: u32,
    /// Most weight a block's transactions may use together (hooks run outside it, and are
    /// bounded by design: O(1) per block).
    pub max_block_weight: u64,
    /// Most transactions a block may hold. A chain rule, not a node setting: every validator
    /// must judge a proposed set (and an imported block) alike, so the bound that decides
    /// validity is here, and a node's own `--max-block-txs` only caps what it proposes.
    pub max_block_transactions: u32,
    /// Most encoded transaction bytes a block may hold (the sum of the encoded transactions).
    /// A chain rule for the same reason as [`ChainParams::max_block_transactions`]; the chain
    /// spec keeps it small enough for a transaction set to travel on the wire.
    pub max_block_bytes: u32,
}

/// Input of [`entry::BUILD_GENESIS`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct GenesisConfig {
    /// Initial free balances.
    pub balances: Vec<(AccountId, Balance)>,
    /// Chain parameters.
    pub params: ChainParams,
    /// The runtime wasm blob, stored at [`storage_keys::CODE`].
    pub code: Vec<u8>,
    /// Economy: parameters, registrars, sudo key, validators, genesis pledges, team account.
    pub economy: EconomyGenesis,
}

/// Well-known storage keys the node reads directly.
pub mod storage_keys {
    /// The runtime wasm blob.
    pub const CODE: &[u8] = b":code";
}

/// What the runtime needs to know about the chain that is not in its state.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ChainContext {
    /// Genesis hash: transactions must name it.
    pub genesis_hash: Hash,
}

/// Input of [`entry::APPLY_BLOCK`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ApplyBlockInput {
    /// Chain context.
    pub chain: ChainContext,
    /// Height of the block being applied.
    pub number: BlockNumber,
    /// Hash of its parent header.
    pub parent_hash: Hash,
    /// Agreed close time.
    pub close_time: Timestamp,
    /// The block's author: the dev node's key, or the SCP validator whose transaction set was
    /// agreed (`ConsensusValue::proposer`). It earns the validator share if pledged.
    pub author: AccountId,
    /// Transactions in order.
    pub transactions: Vec<SignedTransaction>,
}

/// Input of [`entry::VALIDATE_TX_SET`]: a proposed transaction set for the block after the
/// state it runs on (the parent's). The size bounds it is judged by are the chain's
/// ([`ChainParams::max_block_transactions`], [`ChainParams::max_block_bytes`]), read from that
/// state, never the caller's: every node must reach the same verdict.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ValidateTxSetInput {
    /// Chain context.
    pub chain: ChainContext,
    /// The set, in application order.
    pub transactions: Vec<SignedTransaction>,
}

/// Why a proposed transaction set is invalid as a whole (SCP votes for no value carrying it).
/// The two size variants also refuse a whole block at [`entry::APPLY_BLOCK`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum TxSetError {
    /// More transactions than a block may hold ([`ChainParams::max_block_transactions`]).
    TooManyTransactions {
        /// Transactions in the set.
        count: u32,
        /// The limit.
        max: u32,
    },
    /// More encoded bytes than a block may hold ([`ChainParams::max_block_bytes`]).
    TooLarge {
        /// Encoded bytes of the set.
        bytes: u64,
        /// The limit.
        max: u32,
    },
    /// A transaction fails its own checks at its place in the set: bad signature, a nonce out
    /// of sequence for its sender, or fees its sender cannot pay on top of the sender's earlier
    /// transactions in the set.
    Transaction {
        /// Position in the set.
        index: u32,
        /// What is wrong with it.
        error: TxError,
    },
}

impl core::fmt::Display for TxSetError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TxSetError::TooManyTransactions { count, max } => {
                write!(f, "transaction set holds {count} transactions, the limit is {max}")
            }
            TxSetError::TooLarge { bytes, max } => write!(f, "transaction set is {bytes} bytes, the limit is {max}"),
            TxSetError::Transaction { index, error } => write!(f, "transaction {index} of the set: {error}"),
        }
    }
}

/// Per-transaction result of [`entry::APPLY_BLOCK`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum ApplyResult {
    /// Included: state changed (at least the fee), receipt produced.
    Included(Receipt),
    /// Invalid: nothing changed. A block builder drops it; an importer refuses the block.
    Invalid(TxError),
}

/// Output of [`entry::APPLY_BLOCK`]: one result per input transaction, in order.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ApplyBlockOutput {
    /// Results in input order.
    pub results: Vec<ApplyResult>,
    /// The block's events in emission order: hooks' and transactions' (a transaction's phase
    /// names its index in the input; the node renumbers them to block positions).
    pub events: Vec<EventRecord>,
}

/// Input of [`entry::VALIDATE_TRANSACTION`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ValidateInput {
    /// Chain context.
    pub chain: ChainContext,
    /// The encoded `SignedTransaction` as received.
    pub tx: Vec<u8>,
}

/// Input of [`entry::VALIDATE_TRANSACTIONS`]: many transactions judged in one runtime call
/// (a gossiped batch, or submissions that arrived together), each alone against the same state.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ValidateBatchInput {
    /// Chain context.
    pub chain: ChainContext,
    /// The encoded `SignedTransaction`s as received.
    pub txs: Vec<Vec<u8>>,
}

/// A transaction that may be included once its nonce comes up.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct ValidTransaction {
    /// Transaction hash.
    pub hash: Hash,
    /// Signer.
    pub signer: AccountId,
    /// Its nonce.
    pub nonce: u64,
    /// The signer's next nonce in state: the transaction is ready when `nonce == state_nonce`.
    pub state_nonce: u64,
    /// Fee including tip.
    pub fee: Balance,
    /// Tip.
    pub tip: Balance,
    /// Encoded length.
    pub len: u32,
    /// The signer's free balance in the state validated against: the pool checks that the fees
    /// of all the sender's pending transactions together stay payable from it.
    pub sender_free: Balance,
}

/// Read-only questions for [`entry::QUERY`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Query {
    /// Free balance and nonce of an account.
    Account(AccountId),
    /// The fee pool's account and balance.
    FeePool,
    /// The chain parameters.
    Params,
    /// The fee a transaction of this encoded length and call would pay (without tip).
    FeeFor { call: Vec<u8>, len: u32 },
    /// An account's rewards: claimable, by role, today's shares.
    Rewards(AccountId),
    /// The current day.
    Day,
    /// Supply, cap and phase.
    Supply,
    /// An account's pledge.
    Pledge(AccountId),
    /// The economy parameters.
    EconomyParams,
    /// Dry-run of a contract call (nothing is written).
    ContractCall(crate::contracts::CallRequest),
    /// Dry-run of a contract instantiation (nothing is written).
    ContractInstantiate(crate::contracts::InstantiateRequest),
    /// A contract's info, if the account holds one.
    ContractInfo(AccountId),
    /// Uploaded code's info, if any.
    CodeInfo(Hash),
}

/// Account state as seen by clients.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct AccountInfo {
    /// Spendable balance.
    pub free: Balance,
    /// Next nonce.
    pub nonce: u64,
}

/// Answers to [`Query`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum QueryResult {
    /// For [`Query::Account`].
    Account(AccountInfo),
    /// For [`Query::FeePool`].
    FeePool { account: AccountId, balance: Balance },
    /// For [`Query::Params`].
    Params(ChainParams),
    /// For [`Query::FeeFor`]; `None` when the call does not decode.
    Fee(Option<Balance>),
    /// For [`Query::Rewards`].
    Rewards(RewardsInfo),
    /// For [`Query::Day`].
    Day(DayInfo),
    /// For [`Query::Supply`].
    Supply(SupplyInfo),
    /// For [`Query::Pledge`].
    Pledge(PledgeInfo),
    /// For [`Query::EconomyParams`].
    EconomyParams(EconomyParams),
    /// For [`Query::ContractCall`] and [`Query::ContractInstantiate`].
    ContractExec(crate::contracts::ExecResult),
    /// For [`Query::ContractInfo`].
    ContractInfo(Option<crate::contracts::ContractInfo>),
    /// For [`Query::CodeInfo`].
    CodeInfo(Option<crate::contracts::CodeInfo>),
}

/// Packs a (pointer, length) pair into the u64 an entry point or host function returns.
pub fn pack_ptr_len(ptr: u32, len: u32) -> u64 {
    ((ptr as u64) << 32) | len as u64
}

/// Splits a packed (pointer, length) pair.
pub fn unpack_ptr_len(packed: u64) -> (u32, u32) {
    ((packed >> 32) as u32, packed as u32)
}
