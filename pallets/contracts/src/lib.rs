//! Watt pallet: Wasm smart contracts.
//!
//! - **Code** is uploaded once and stored by its blake2b-256 hash, with a deposit per byte
//!   held from the uploader until the code is removed. Code larger than one transaction may
//!   carry (`max_tx_len`) is uploaded in chunks (`upload_code_chunk`), in order; the last chunk
//!   checks the hash and stores the code. Every upload is validated and compiled by the node's
//!   sandbox (imports only from `watt_v1`, bounded memory, functions, locals and size, no start
//!   section, no floats), and its compilation is paid for by weight per byte.
//! - **Contracts** are instantiated from code at a deterministic address (`contract_address`),
//!   called with value and input, and may terminate themselves. The contract ABI is
//!   `pallets/contracts/ABI.md`; this pallet serves it ([`exec`]).
//! - **Gas** is wasmtime fuel plus the host functions' charges ([`schedule::Schedule`]). A
//!   transaction's weight is a base plus its gas limit, so the block weight limit bounds gas
//!   per block; the unused part of the limit is refunded after execution.
//! - **Storage deposits**: each contract storage item and byte is paid for by the transaction's
//!   signer, who becomes its payer of record ([`Deposits`]: each depositor's share of a
//!   contract's deposit). Freed storage refunds the signer of the freeing transaction only out
//!   of that signer's own share; the rest stays held for its payers, and when the contract
//!   terminates every depositor gets their share back. The deposit sits in a keyless account
//!   (`watt_primitives::contract_deposit_account`) and is tracked per contract.
//! - **Termination** is O(1): the contract's record goes at once and its storage joins the
//!   deletion queue ([`process_deletions`]), which the block hook works off with at most
//!   `Schedule::max_deletions_per_block` units of work per block; the terminating transaction
//!   paid `Schedule::terminate_per_item` gas per item for it. Until its storage is gone, no
//!   contract can be instantiated at the address.
//! - **Dry-runs** ([`dry_run_call`], [`dry_run_instantiate`]) run the same code read-only and
//!   return gas used, deposit, return data, events and debug messages.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod exec;
pub mod schedule;

use alloc::vec::Vec;
use pallet_balances as balances;
use parity_scale_codec::{Decode, Encode};
use watt_primitives::contracts::{CodeInfo, CodeSource, ContractInfo as ContractInfoView, ExecResult};
use watt_primitives::sandbox::SandboxPrepare;
use watt_primitives::{contract_deposit_account, AccountId, Balance, Hash};
use watt_support::dispatch::{PalletError, Weight};
use watt_support::{
    host, pallet_error, storage_instance, DispatchResult, Origin, StorageDoubleMap, StorageMap, StorageValue,
};

pub use schedule::Schedule;

storage_instance!(
    /// Code by hash.
    CodePrefix,
    b"contracts/code/"
);
storage_instance!(
    /// Code info by hash.
    CodeInfoPrefix,
    b"contracts/codeinfo/"
);
storage_instance!(
    /// Chunked uploads in progress.
    UploadPrefix,
    b"contracts/upload/"
);
storage_instance!(
    /// Contract info by address.
    ContractPrefix,
    b"contracts/info/"
);
storage_instance!(
    /// The schedule, when Root set one.
    SchedulePrefix,
    b"contracts/schedule"
);
storage_instance!(
    /// Each depositor's share of a contract's storage deposit.
    DepositPrefix,
    b"contracts/deposits/"
);
storage_instance!(
    /// Terminated contracts whose storage is still being deleted.
    DyingPrefix,
    b"contracts/dying/"
);
storage_instance!(
    /// The deletion queue's entries, by position.
    DeletionQueuePrefix,
    b"contracts/deletion/queue/"
);
storage_instance!(
    /// The deletion queue's (head, tail) positions.
    DeletionBoundsPrefix,
    b"contracts/deletion/bounds"
);
storage_instance!(
    /// The contract rules each code was last compiled under, as the chain paid for it.
    CompiledPrefix,
    b"contracts/compiled/"
);

/// Every storage prefix of this pallet. Contract storage lives under [`CONTRACT_STORAGE_PREFIX`].
pub const STORAGE_PREFIXES: &[&[u8]] = &[
    b"contracts/code/",
    b"contracts/codeinfo/",
    b"contracts/upload/",
    b"contracts/info/",
    b"contracts/schedule",
    b"contracts/deposits/",
    b"contracts/dying/",
    b"contracts/deletion/queue/",
    b"contracts/deletion/bounds",
    b"contracts/compiled/",
    CONTRACT_STORAGE_PREFIX,
];

/// Contract storage: `prefix ++ contract address (32 bytes) ++ the contract's key`. The fixed
/// address length keeps every contract's keys apart.
pub const CONTRACT_STORAGE_PREFIX: &[u8] = b"contracts/kv/";

/// Code by hash.
pub type CodeStore = StorageMap<CodePrefix, Hash, Vec<u8>>;
/// Code info by hash.
pub type CodeInfoOf = StorageMap<CodeInfoPrefix, Hash, CodeInfo>;
/// (uploader, code hash) -> the upload so far.
pub type Uploads = StorageDoubleMap<UploadPrefix, AccountId, Hash, PartialUpload>;
/// Contract address -> its info.
pub type Contracts = StorageMap<ContractPrefix, AccountId, ContractInfo>;
/// The schedule Root set (the default otherwise).
pub type ScheduleOf = StorageValue<SchedulePrefix, Schedule>;
/// (contract, depositor) -> the part of the contract's deposit that depositor paid and has
/// not been refunded: the payer of record. A contract's shares add up to its `deposit`.
pub type Deposits = StorageDoubleMap<DepositPrefix, AccountId, AccountId, Balance>;
/// Terminated contract -> what is left of its deletion. While an entry exists the address
/// cannot hold a new contract.
pub type Dying = StorageMap<DyingPrefix, AccountId, Deletion>;
/// Position -> terminated contract, first in first out, between the bounds.
pub type DeletionQueue = StorageMap<DeletionQueuePrefix, u64, AccountId>;
/// (head, tail): the queue holds positions `head..tail`.
pub type DeletionBounds = StorageValue<DeletionBoundsPrefix, (u64, u64)>;
/// Code hash -> [`watt_primitives::sandbox::ContractVm::id`] of the rules the chain last paid
/// its compile under (at upload, or at the first call after the rules changed).
pub type CompiledUnder = StorageMap<CompiledPrefix, Hash, Hash>;

/// The storage of a contract at `address`: every one of its keys starts with this.
pub fn contract_storage_prefix(address: &AccountId) -> Vec<u8> {
    let mut prefix = Vec::with_capacity(CONTRACT_STORAGE_PREFIX.len() + 32);
    prefix.extend_from_slice(CONTRACT_STORAGE_PREFIX);
    prefix.extend_from_slice(address.as_bytes());
    prefix
}

/// What is left to do for a terminated contract.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Deletion {
    /// Storage items not deleted yet.
    pub items_left: u32,
    /// Deposit still held for it (its depositors' shares not refunded yet, plus any part no
    /// share accounts for, which goes to the deployer).
    pub deposit_left: Balance,
    /// Who instantiated it.
    pub deployer: AccountId,
}

/// A chunked upload in progress.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct PartialUpload {
    /// Length of the whole code.
    pub total_len: u32,
    /// The chunks received, in order.
    pub received: Vec<u8>,
    /// Deposit held for the whole code.
    pub deposit: Balance,
}

/// A contract, as stored.
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
    pub deposit: Balance,
    /// Length of its code (what loading it costs), kept here so a call reads one record.
    pub code_len: u32,
}

/// Calls of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Uploads code that fits one transaction.
    #[codec(index = 0)]
    UploadCode {
        /// The wasm.
        code: Vec<u8>,
    },
    /// Uploads the next chunk of code too large for one transaction. The first chunk (offset 0)
    /// holds the deposit for `total_len` bytes; the last one checks `code_hash` and stores it.
    #[codec(index = 1)]
    UploadCodeChunk {
        /// blake2b-256 of the whole code.
        code_hash: Hash,
        /// Its length.
        total_len: u32,
        /// Where this chunk starts: the length received so far.
        offset: u32,
        /// The bytes.
        chunk: Vec<u8>,
    },
    /// Abandons a chunked upload and refunds its deposit.
    #[codec(index = 2)]
    CancelUpload {
        /// The code being uploaded.
        code_hash: Hash,
    },
    /// Removes code no contract uses; its uploader gets the deposit back.
    #[codec(index = 3)]
    RemoveCode {
        /// The code.
        code_hash: Hash,
    },
    /// Instantiates a contract from uploaded code.
    #[codec(index = 4)]
    Instantiate {
        /// Value endowed.
        value: Balance,
        /// Gas limit.
        gas_limit: u64,
        /// Most storage deposit it may take.
        storage_deposit_limit: Option<Balance>,
        /// The code.
        code_hash: Hash,
        /// Constructor input.
        data: Vec<u8>,
        /// Address salt.
        salt: Vec<u8>,
    },
    /// Uploads code (if new) and instantiates it.
    #[codec(index = 5)]
    InstantiateWithCode {
        /// Value endowed.
        value: Balance,
        /// Gas limit.
        gas_limit: u64,
        /// Most storage deposit it may take (the code's deposit included).
        storage_deposit_limit: Option<Balance>,
        /// The wasm.
        code: Vec<u8>,
        /// Constructor input.
        data: Vec<u8>,
        /// Address salt.
        salt: Vec<u8>,
    },
    /// Calls a contract.
    #[codec(index = 6)]
    Call {
        /// The contract.
        dest: AccountId,
        /// Value sent.
        value: Balance,
        /// Gas limit.
        gas_limit: u64,
        /// Most storage deposit it may take.
        storage_deposit_limit: Option<Balance>,
        /// Input.
        data: Vec<u8>,
    },
    /// Root: replaces the schedule.
    #[codec(index = 7)]
    SetSchedule {
        /// The new schedule.
        schedule: Schedule,
    },
}

/// Events of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// Code was stored.
    #[codec(index = 0)]
    CodeStored {
        /// Its hash.
        code_hash: Hash,
        /// Who uploaded it.
        uploader: AccountId,
    },
    /// Code was removed.
    #[codec(index = 1)]
    CodeRemoved {
        /// Its hash.
        code_hash: Hash,
    },
    /// A contract was instantiated.
    #[codec(index = 2)]
    Instantiated {
        /// Who deployed it (an account or a contract).
        deployer: AccountId,
        /// Its address.
        contract: AccountId,
    },
    /// A contract terminated itself.
    #[codec(index = 3)]
    Terminated {
        /// Its address.
        contract: AccountId,
        /// Who received its balance.
        beneficiary: AccountId,
    },
    /// A contract emitted an event; its topics are the block event's topics.
    #[codec(index = 4)]
    ContractEmitted {
        /// The contract.
        contract: AccountId,
        /// The event's topics.
        topics: Vec<Hash>,
        /// The event's data.
        data: Vec<u8>,
    },
    /// A chunked upload was abandoned.
    #[codec(index = 5)]
    UploadCancelled {
        /// The code.
        code_hash: Hash,
    },
    /// Root replaced the schedule.
    #[codec(index = 6)]
    ScheduleSet,
    /// The deletion queue removed the last of a terminated contract's storage and refunded
    /// its deposit; the address may hold a contract again.
    #[codec(index = 7)]
    StorageDeleted {
        /// The terminated contract.
        contract: AccountId,
    },
}

impl watt_support::EventTopics for Event {
    fn topics(&self) -> Vec<[u8; 32]> {
        match self {
            Event::CodeStored { code_hash, uploader } => alloc::vec![*code_hash, uploader.0],
            Event::CodeRemoved { code_hash } | Event::UploadCancelled { code_hash } => alloc::vec![*code_hash],
            Event::StorageDeleted { contract } => alloc::vec![contract.0],
            Event::Instantiated { deployer, contract } => alloc::vec![deployer.0, contract.0],
            Event::Terminated { contract, beneficiary } => alloc::vec![contract.0, beneficiary.0],
            Event::ContractEmitted { topics, .. } => topics.clone(),
            Event::ScheduleSet => Vec::new(),
        }
    }
}

pallet_error!(
    "contracts",
    /// Why a contracts call failed.
    pub enum Error {
        /// The code is not valid contract code (see the node log or a dry-run for the reason).
        InvalidCode,
        /// The code is longer than the schedule allows.
        CodeTooLarge,
        /// Code with this hash is already stored.
        CodeExists,
        /// No code with this hash is stored.
        CodeNotFound,
        /// The code is still used by contracts.
        CodeInUse,
        /// Only the uploader may remove code.
        NotCodeOwner,
        /// A chunk does not start where the upload stands, or overruns its length.
        ChunkOutOfOrder,
        /// No chunked upload of this code by this account is in progress.
        NoUpload,
        /// The uploaded bytes do not hash to the announced code hash.
        CodeHashMismatch,
        /// The account is not a contract.
        NotAContract,
        /// A contract already lives at the address (same deployer, code and salt), or the
        /// storage of one terminated there is still being deleted.
        DuplicateContract,
        /// The contract trapped (its debug message, in a dry-run, says why).
        ContractTrapped,
        /// The contract returned with the revert flag.
        ContractReverted,
        /// The gas limit was used up.
        OutOfGas,
        /// The gas limit is above the schedule's largest.
        GasLimitTooHigh,
        /// The value could not be transferred (balance too low, or the existential deposit).
        TransferFailed,
        /// The storage deposit would exceed the limit the transaction set.
        StorageDepositLimitExhausted,
        /// The signer cannot pay the storage deposit.
        StorageDepositNotPaid,
        /// The call stack is too deep.
        MaxCallDepth,
        /// The contract is already on the call stack.
        ReentranceDenied,
        /// The schedule breaks a rule (a zero cost, or a limit above the node's bounds).
        InvalidSchedule,
    }
);

/// Weight of a call besides its gas limit.
pub const CALL_BASE_WEIGHT: Weight = 150_000;
/// Weight of an upload besides its bytes.
pub const UPLOAD_BASE_WEIGHT: Weight = 150_000;
/// Weight per byte of uploaded code: validation and compilation. BENCHMARKS.md measures about
/// 1.4 µs per byte for ordinary code and 3 µs per byte for the worst shape validation accepts
/// (functions nested to its limits); one weight unit is about a nanosecond.
pub const UPLOAD_WEIGHT_PER_BYTE: Weight = 3_000;
/// Weight per byte of the upload so far, carried (read and written back) by each chunk.
pub const CHUNK_WEIGHT_PER_BYTE: Weight = 20;
/// Weight of `cancel_upload`, `remove_code` and `set_schedule` besides the bytes they read.
pub const ADMIN_BASE_WEIGHT: Weight = 100_000;

/// Weight of a `cancel_upload` that reads (decodes) an upload of `received` bytes so far.
/// The call declares it for the largest upload any schedule allows and reports the rest as
/// unused once it has read the upload.
pub fn cancel_upload_weight(received: usize) -> Weight {
    ADMIN_BASE_WEIGHT.saturating_add((received as Weight).saturating_mul(CHUNK_WEIGHT_PER_BYTE))
}

/// Weight of a call (see `watt_support::Weight`): known before execution, so it bounds the
/// block. Gas limits count in full; what a call leaves unused is refunded afterwards.
pub fn weight(call: &Call) -> Weight {
    let upload = |len: usize| UPLOAD_BASE_WEIGHT.saturating_add((len as Weight).saturating_mul(UPLOAD_WEIGHT_PER_BYTE));
    match call {
        Call::UploadCode { code } => upload(code.len()),
        Call::UploadCodeChunk {
            total_len,
            offset,
            chunk,
            ..
        } => {
            let is_last = (*offset as u64).saturating_add(chunk.len() as u64) == *total_len as u64;
            // The upload so far is read and written back with each chunk.
            let carried = (*offset as Weight).saturating_add(chunk.len() as Weight);
            let carry = UPLOAD_BASE_WEIGHT.saturating_add(carried.saturating_mul(CHUNK_WEIGHT_PER_BYTE));
            if is_last {
                carry.saturating_add(upload(*total_len as usize))
            } else {
                carry
            }
        }
        // An upload in progress is shorter than its code, at most `bounds::MAX_CODE_LEN`.
        Call::CancelUpload { .. } => cancel_upload_weight(schedule::bounds::MAX_CODE_LEN as usize),
        Call::RemoveCode { .. } | Call::SetSchedule { .. } => ADMIN_BASE_WEIGHT,
        Call::Instantiate { gas_limit, .. } | Call::Call { gas_limit, .. } => {
            CALL_BASE_WEIGHT.saturating_add(*gas_limit)
        }
        Call::InstantiateWithCode { gas_limit, code, .. } => CALL_BASE_WEIGHT
            .saturating_add(*gas_limit)
            .saturating_add(upload(code.len())),
    }
}

/// The schedule in force.
pub fn schedule() -> Schedule {
    ScheduleOf::get().unwrap_or_default()
}

/// The contract ABI's functions (module `watt_v1`) with their types: the only imports code may have.
pub const ABI_FUNCTIONS: &[(
    &str,
    &[watt_primitives::sandbox::ValueType],
    &[watt_primitives::sandbox::ValueType],
)] = exec::FUNCTIONS;

/// A contract's address: `blake2b-256("watt:contract" ++ deployer ++ code_hash ++ salt)`.
pub fn contract_address(deployer: &AccountId, code_hash: &Hash, salt: &[u8]) -> AccountId {
    AccountId(host::blake2_256(&watt_primitives::contracts::address_preimage(
        deployer, code_hash, salt,
    )))
}

/// Validates (an upload) or only compiles (code on chain, validated when uploaded) through the
/// node's sandbox; a dry-run's code is not kept on the node's disk.
fn prepare_code(schedule: &Schedule, code: &[u8], validate: bool, persist: bool) -> Result<(), alloc::string::String> {
    watt_support::sandbox::prepare(&SandboxPrepare {
        code: code.to_vec(),
        functions: ABI_FUNCTIONS
            .iter()
            .map(|(name, params, results)| watt_primitives::sandbox::ImportSignature {
                name: alloc::string::String::from(*name),
                params: params.to_vec(),
                results: results.to_vec(),
            })
            .collect(),
        exports: alloc::vec![
            alloc::string::String::from("deploy"),
            alloc::string::String::from("call")
        ],
        limits: schedule.code_limits.clone(),
        validate,
        persist,
        vm: schedule.vm.clone(),
    })
    .map(|_| ())
}

fn code_deposit(schedule: &Schedule, len: usize) -> Balance {
    schedule
        .deposit_per_item
        .saturating_add(schedule.deposit_per_byte.saturating_mul(len as Balance))
}

/// Validates and stores `code` for `uploader`, holding its deposit. Returns its hash.
pub fn store_code(
    uploader: &AccountId,
    code: Vec<u8>,
    events: &mut Vec<Event>,
    bev: &mut Vec<balances::Event>,
) -> Result<Hash, Error> {
    store_code_explained(uploader, code, events, bev, &mut None, true)
}

/// As [`store_code`], also saying why code was refused as invalid (for dry-runs).
pub(crate) fn store_code_explained(
    uploader: &AccountId,
    code: Vec<u8>,
    events: &mut Vec<Event>,
    bev: &mut Vec<balances::Event>,
    why_invalid: &mut Option<alloc::string::String>,
    persist: bool,
) -> Result<Hash, Error> {
    let schedule = schedule();
    if code.len() > schedule.max_code_len as usize {
        return Err(Error::CodeTooLarge);
    }
    let code_hash = host::blake2_256(&code);
    if CodeInfoOf::contains(&code_hash) {
        return Err(Error::CodeExists);
    }
    if let Err(why) = prepare_code(&schedule, &code, true, persist) {
        host::log(host::LogLevel::Debug, &why);
        *why_invalid = Some(why);
        return Err(Error::InvalidCode);
    }
    let deposit = code_deposit(&schedule, code.len());
    balances::transfer(uploader, &contract_deposit_account(), deposit, false, bev)
        .map_err(|_| Error::StorageDepositNotPaid)?;
    finish_store(uploader, code_hash, code, deposit, events);
    Ok(code_hash)
}

fn finish_store(uploader: &AccountId, code_hash: Hash, code: Vec<u8>, deposit: Balance, events: &mut Vec<Event>) {
    CodeInfoOf::insert(
        &code_hash,
        &CodeInfo {
            owner: *uploader,
            deposit,
            refcount: 0,
            len: code.len() as u32,
        },
    );
    CodeStore::insert(&code_hash, &code);
    // The upload's weight paid for compiling it under the rules of the day.
    CompiledUnder::insert(&code_hash, &schedule().vm.id());
    events.push(Event::CodeStored {
        code_hash,
        uploader: *uploader,
    });
}

fn upload_chunk(
    who: &AccountId,
    code_hash: Hash,
    total_len: u32,
    offset: u32,
    chunk: Vec<u8>,
    events: &mut Vec<Event>,
    bev: &mut Vec<balances::Event>,
) -> Result<(), Error> {
    let schedule = schedule();
    if total_len > schedule.max_code_len {
        return Err(Error::CodeTooLarge);
    }
    if CodeInfoOf::contains(&code_hash) {
        return Err(Error::CodeExists);
    }
    let mut upload = match Uploads::get(who, &code_hash) {
        Some(u) => u,
        None if offset == 0 => {
            let deposit = code_deposit(&schedule, total_len as usize);
            balances::transfer(who, &contract_deposit_account(), deposit, false, bev)
                .map_err(|_| Error::StorageDepositNotPaid)?;
            PartialUpload {
                total_len,
                received: Vec::new(),
                deposit,
            }
        }
        None => return Err(Error::NoUpload),
    };
    let end = (offset as u64).saturating_add(chunk.len() as u64);
    if upload.total_len != total_len
        || offset as usize != upload.received.len()
        || end > total_len as u64
        || chunk.is_empty()
    {
        return Err(Error::ChunkOutOfOrder);
    }
    upload.received.extend_from_slice(&chunk);
    if end < total_len as u64 {
        Uploads::insert(who, &code_hash, &upload);
        return Ok(());
    }
    Uploads::remove(who, &code_hash);
    if host::blake2_256(&upload.received) != code_hash {
        return Err(Error::CodeHashMismatch);
    }
    if let Err(why) = prepare_code(&schedule, &upload.received, true, true) {
        host::log(host::LogLevel::Debug, &why);
        return Err(Error::InvalidCode);
    }
    finish_store(who, code_hash, upload.received, upload.deposit, events);
    Ok(())
}

fn refund_deposit(to: &AccountId, amount: Balance, bev: &mut Vec<balances::Event>) {
    if amount > 0 {
        // The deposit account holds every deposit it records, so this cannot fail short of
        // corrupted state; a receiver below the ED simply does not get dust-sized refunds.
        let _ = balances::transfer(&contract_deposit_account(), to, amount, false, bev);
    }
}

/// Executes a call for `origin`, appending its events.
pub fn dispatch<E: From<Event> + From<balances::Event>>(
    origin: Origin,
    call: Call,
    out: &mut Vec<E>,
) -> DispatchResult {
    let signer = origin.ensure_signed();
    watt_support::dispatch::collect_events(out, |events: &mut Vec<Event>, bev: &mut Vec<balances::Event>| {
        let r = match call {
            Call::UploadCode { code } => store_code(&signer?, code, events, bev).map(|_| ()),
            Call::UploadCodeChunk {
                code_hash,
                total_len,
                offset,
                chunk,
            } => upload_chunk(&signer?, code_hash, total_len, offset, chunk, events, bev),
            Call::CancelUpload { code_hash } => {
                let who = signer?;
                let upload = Uploads::get(&who, &code_hash);
                let read = upload.as_ref().map_or(0, |u| u.received.len());
                let declared = cancel_upload_weight(schedule::bounds::MAX_CODE_LEN as usize);
                watt_support::dispatch::set_unused_weight(declared.saturating_sub(cancel_upload_weight(read)));
                match upload {
                    Some(u) => {
                        Uploads::remove(&who, &code_hash);
                        refund_deposit(&who, u.deposit, bev);
                        events.push(Event::UploadCancelled { code_hash });
                        Ok(())
                    }
                    None => Err(Error::NoUpload),
                }
            }
            Call::RemoveCode { code_hash } => {
                let who = signer?;
                match CodeInfoOf::get(&code_hash) {
                    None => Err(Error::CodeNotFound),
                    Some(info) if info.owner != who => Err(Error::NotCodeOwner),
                    Some(info) if info.refcount > 0 => Err(Error::CodeInUse),
                    Some(info) => {
                        CodeInfoOf::remove(&code_hash);
                        CodeStore::remove(&code_hash);
                        CompiledUnder::remove(&code_hash);
                        refund_deposit(&who, info.deposit, bev);
                        events.push(Event::CodeRemoved { code_hash });
                        Ok(())
                    }
                }
            }
            Call::Instantiate {
                value,
                gas_limit,
                storage_deposit_limit,
                code_hash,
                data,
                salt,
            } => {
                let code = CodeSource::Existing(code_hash);
                instantiate_tx(
                    &signer?,
                    value,
                    gas_limit,
                    storage_deposit_limit,
                    code,
                    data,
                    salt,
                    events,
                    bev,
                )
            }
            Call::InstantiateWithCode {
                value,
                gas_limit,
                storage_deposit_limit,
                code,
                data,
                salt,
            } => {
                let code = CodeSource::Upload(code);
                instantiate_tx(
                    &signer?,
                    value,
                    gas_limit,
                    storage_deposit_limit,
                    code,
                    data,
                    salt,
                    events,
                    bev,
                )
            }
            Call::Call {
                dest,
                value,
                gas_limit,
                storage_deposit_limit,
                data,
            } => {
                let who = signer?;
                let report = exec::call(&who, dest, value, gas_limit, storage_deposit_limit, data, false);
                finish_transaction(report, gas_limit, events, bev)
            }
            Call::SetSchedule { schedule } => {
                origin.ensure_root()?;
                if let Err(why) = schedule.check() {
                    host::log(host::LogLevel::Debug, why);
                    return Err(Error::InvalidSchedule.into_dispatch_error());
                }
                ScheduleOf::put(&schedule);
                events.push(Event::ScheduleSet);
                Ok(())
            }
        };
        r.map_err(PalletError::into_dispatch_error)
    })
}

/// An instantiation as a transaction (from uploaded code or code it carries).
#[allow(clippy::too_many_arguments)]
fn instantiate_tx(
    who: &AccountId,
    value: Balance,
    gas_limit: u64,
    storage_deposit_limit: Option<Balance>,
    code: CodeSource,
    data: Vec<u8>,
    salt: Vec<u8>,
    events: &mut Vec<Event>,
    bev: &mut Vec<balances::Event>,
) -> Result<(), Error> {
    let report = exec::instantiate(who, value, gas_limit, storage_deposit_limit, code, data, salt, false);
    finish_transaction(report, gas_limit, events, bev)
}

/// Reports the gas a transaction did not use (refunded by the runtime whatever the outcome)
/// and turns the execution's result into the call's.
fn finish_transaction(
    report: exec::Report,
    gas_limit: u64,
    events: &mut Vec<Event>,
    bev: &mut Vec<balances::Event>,
) -> Result<(), Error> {
    watt_support::dispatch::set_unused_weight(gas_limit.saturating_sub(report.gas_used));
    match report.outcome {
        Ok(ret) if !ret.reverted => {
            bev.extend(report.balance_events);
            events.extend(report.events);
            Ok(())
        }
        Ok(_) => Err(Error::ContractReverted),
        Err(e) => Err(e),
    }
}

/// Dry-runs a call (the caller discards the writes: queries run on a throwaway overlay).
pub fn dry_run_call(req: watt_primitives::contracts::CallRequest) -> ExecResult {
    let gas_limit = req.gas_limit.unwrap_or(schedule().max_gas_per_call);
    exec::call(
        &req.origin,
        req.dest,
        req.value,
        gas_limit,
        req.storage_deposit_limit,
        req.input,
        true,
    )
    .into_exec_result()
}

/// Dry-runs an instantiation.
pub fn dry_run_instantiate(req: watt_primitives::contracts::InstantiateRequest) -> ExecResult {
    let gas_limit = req.gas_limit.unwrap_or(schedule().max_gas_per_call);
    exec::instantiate(
        &req.origin,
        req.value,
        gas_limit,
        req.storage_deposit_limit,
        req.code,
        req.input,
        req.salt,
        true,
    )
    .into_exec_result()
}

/// A contract's info for clients.
pub fn contract_info(address: &AccountId) -> Option<ContractInfoView> {
    Contracts::get(address).map(|c| ContractInfoView {
        code_hash: c.code_hash,
        deployer: c.deployer,
        storage_items: c.storage_items,
        storage_bytes: c.storage_bytes,
        storage_deposit: c.deposit,
        balance: balances::free(address),
    })
}

/// Uploaded code's info.
pub fn code_info(code_hash: &Hash) -> Option<CodeInfo> {
    CodeInfoOf::get(code_hash)
}

/// `who`'s share of `contract`'s storage deposit (what `who` paid and may get back).
pub fn deposit_share(contract: &AccountId, who: &AccountId) -> Balance {
    Deposits::get(contract, who).unwrap_or(0)
}

/// What is left of a terminated contract's deletion, while it is queued.
pub fn pending_deletion(contract: &AccountId) -> Option<Deletion> {
    Dying::get(contract)
}

/// Queues a terminated contract's storage and deposit for [`process_deletions`]. O(1).
pub(crate) fn queue_deletion(address: &AccountId, info: &ContractInfo) {
    let (head, tail) = DeletionBounds::get().unwrap_or((0, 0));
    DeletionQueue::insert(&tail, address);
    DeletionBounds::put(&(head, tail + 1));
    Dying::insert(
        address,
        &Deletion {
            items_left: info.storage_items,
            deposit_left: info.deposit,
            deployer: info.deployer,
        },
    );
}

/// Works off the deletion queue, first in first out, doing at most `budget` units of work:
/// one per queue entry visited, one per depositor's share refunded, one per storage item
/// deleted. For each terminated contract it first refunds every depositor's share (then any
/// deposit no share accounts for to its deployer), then deletes its storage in key order;
/// when nothing is left it drops the entry and emits [`Event::StorageDeleted`]. Returns the
/// work done. Each block's hook calls it with `Schedule::max_deletions_per_block`.
pub fn process_deletions(budget: u32, events: &mut Vec<Event>, bev: &mut Vec<balances::Event>) -> u32 {
    let mut left = budget;
    while left > 0 {
        let (head, tail) = DeletionBounds::get().unwrap_or((0, 0));
        if head >= tail {
            break;
        }
        left -= 1;
        let Some(address) = DeletionQueue::get(&head) else {
            // Cannot happen short of corrupted state: skip the hole.
            DeletionBounds::put(&(head + 1, tail));
            continue;
        };
        let mut d = Dying::get(&address).unwrap_or(Deletion {
            items_left: 0,
            deposit_left: 0,
            deployer: address,
        });
        if !delete_some(&address, &mut d, &mut left, bev) {
            Dying::insert(&address, &d);
            break;
        }
        Dying::remove(&address);
        DeletionQueue::remove(&head);
        DeletionBounds::put(&(head + 1, tail));
        events.push(Event::StorageDeleted { contract: address });
    }
    budget - left
}

/// Refunds shares, then deletes storage items, of one terminated contract within `left` units.
/// True when nothing is left of it.
fn delete_some(address: &AccountId, d: &mut Deletion, left: &mut u32, bev: &mut Vec<balances::Event>) -> bool {
    let room = *left as usize;
    let shares = Deposits::iter_prefix_limited(address, room);
    *left -= shares.len() as u32;
    let more_shares = shares.len() == room;
    for (who, share) in shares {
        Deposits::remove(address, &who);
        let pay = share.min(d.deposit_left);
        d.deposit_left -= pay;
        refund_deposit(&who, pay, bev);
    }
    if more_shares {
        return false;
    }
    // No share accounts for it (held before payers were recorded): the deployer's.
    if d.deposit_left > 0 {
        refund_deposit(&d.deployer, d.deposit_left, bev);
        d.deposit_left = 0;
    }
    let prefix = contract_storage_prefix(address);
    // The contract's empty key is the prefix itself, which `next_key` never returns.
    if host::storage_get(&prefix).is_some() {
        if *left == 0 {
            return false;
        }
        host::storage_clear(&prefix);
        *left -= 1;
        d.items_left = d.items_left.saturating_sub(1);
    }
    let mut cursor = prefix.clone();
    loop {
        if *left == 0 {
            return false;
        }
        match host::storage_next_key(&cursor) {
            Some(key) if key.starts_with(&prefix) => {
                host::storage_clear(&key);
                *left -= 1;
                d.items_left = d.items_left.saturating_sub(1);
                cursor = key;
            }
            _ => return true,
        }
    }
}

/// The pallet's hooks: `on_finalize` works off the deletion queue.
pub struct Pallet;

impl<E: From<Event> + From<balances::Event>> watt_support::Hooks<E> for Pallet {
    const NAME: &'static str = "contracts";
    fn on_finalize(_block: &watt_support::BlockContext, events: &mut Vec<E>) -> DispatchResult {
        watt_support::dispatch::collect_events(events, |ev: &mut Vec<Event>, bev: &mut Vec<balances::Event>| {
            process_deletions(schedule().max_deletions_per_block, ev, bev);
            Ok(())
        })
    }
}

#[cfg(test)]
mod deletion_tests;
#[cfg(test)]
mod tests;
