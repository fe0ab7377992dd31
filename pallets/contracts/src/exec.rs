//! Contract execution: the call stack, frames, and the contract ABI v1 (`ABI.md`) served to
//! the sandbox as a [`SandboxEnv`].
//!
//! Each frame (a call or an instantiation) runs in its own storage transaction: a frame that
//! traps, runs out of gas or reverts undoes its own writes, value transfer and events, and
//! only those; its caller goes on. Storage deposits are counted per frame and settled with the
//! transaction's signer when the frame succeeds: a charge adds to the signer's share of the
//! contract's deposit (`Deposits`), a refund comes only out of that share. A contract already
//! on the stack cannot be entered again (ABI.md "Reentrancy"), and the stack is at most
//! `max_call_depth` deep.

use crate::{
    contract_address, contract_storage_prefix, prepare_code, schedule, CodeInfoOf, CodeStore, ContractInfo, Contracts,
    Deposits, Dying, Error, Event, Schedule, CONTRACT_STORAGE_PREFIX,
};
use alloc::string::String;
use alloc::vec::Vec;
use pallet_balances as balances;
use watt_primitives::contracts::{CodeSource, ContractEvent, ExecResult, ExecReturn, StorageDeposit};
use watt_primitives::sandbox::{EnvReply, SandboxExecute, SandboxExport, SandboxOutcome, ValueType};
use watt_primitives::{contract_deposit_account, AccountId, Balance, Hash};
use watt_support::dispatch::PalletError;
use watt_support::host;
use watt_support::sandbox::{self, ContractMemory, SandboxEnv};
use ValueType::{I32, I64};

/// The functions of module `watt_v1` with their wasm types (params, results), in the order
/// ABI.md lists them. Upload refuses an import of another name or another type.
pub const FUNCTIONS: &[(&str, &[ValueType], &[ValueType])] = &[
    ("input", &[I32, I32], &[I32]),
    ("return_value", &[I32, I32, I32], &[]),
    ("set_storage", &[I32, I32, I32, I32], &[I32]),
    ("get_storage", &[I32, I32, I32, I32], &[I32]),
    ("clear_storage", &[I32, I32], &[I32]),
    ("contains_storage", &[I32, I32], &[I32]),
    ("caller", &[I32], &[]),
    ("address", &[I32], &[]),
    ("value_transferred", &[I32], &[]),
    ("balance", &[I32], &[]),
    ("balance_of", &[I32, I32], &[]),
    ("block_number", &[], &[I64]),
    ("now", &[], &[I64]),
    ("gas_left", &[], &[I64]),
    ("is_contract", &[I32], &[I32]),
    ("code_hash", &[I32, I32], &[I32]),
    ("transfer", &[I32, I32], &[I32]),
    ("deposit_event", &[I32, I32, I32, I32], &[]),
    ("call", &[I32, I32, I32, I32, I64, I32, I32], &[I32]),
    (
        "instantiate",
        &[I32, I32, I32, I32, I32, I32, I64, I32, I32, I32],
        &[I32],
    ),
    ("terminate", &[I32], &[]),
    ("hash_blake2_256", &[I32, I32, I32], &[]),
    ("hash_blake2_128", &[I32, I32, I32], &[]),
    ("sr25519_verify", &[I32, I32, I32, I32], &[I32]),
    ("debug_message", &[I32, I32], &[I32]),
];

/// Return codes of ABI.md.
pub mod codes {
    /// Done.
    pub const SUCCESS: u64 = 0;
    /// The callee trapped or ran out of gas.
    pub const CALLEE_TRAPPED: u64 = 1;
    /// The callee reverted.
    pub const CALLEE_REVERTED: u64 = 2;
    /// No value at the key.
    pub const KEY_NOT_FOUND: u64 = 3;
    /// The output buffer is too small.
    pub const BUFFER_TOO_SMALL: u64 = 4;
    /// The transfer failed.
    pub const TRANSFER_FAILED: u64 = 5;
    /// The account holds no contract.
    pub const NOT_A_CONTRACT: u64 = 6;
    /// No such code.
    pub const CODE_NOT_FOUND: u64 = 7;
    /// The address already holds a contract.
    pub const DUPLICATE_CONTRACT: u64 = 8;
    /// The stack is too deep.
    pub const MAX_DEPTH: u64 = 9;
    /// The callee is on the stack.
    pub const REENTRANCE_DENIED: u64 = 10;
    /// The signature is invalid.
    pub const INVALID_SIGNATURE: u64 = 11;
    /// "No value" for functions returning a length.
    pub const NONE: u64 = u32::MAX as u64;
}

/// Longest debug buffer a dry-run collects.
const MAX_DEBUG_BUFFER: usize = 64 * 1024;

/// What an execution did.
pub struct Report {
    /// The top frame's return, or why it failed.
    pub outcome: Result<ExecReturn, Error>,
    /// Gas used.
    pub gas_used: u64,
    /// Net storage deposit taken from the origin (negative: refunded).
    pub deposit: i128,
    /// Events of the frames that succeeded (only when the top one did).
    pub events: Vec<Event>,
    /// Balance events of those frames.
    pub balance_events: Vec<balances::Event>,
    /// Debug messages (dry-runs only).
    pub debug: Vec<u8>,
    /// The new contract, for an instantiation.
    pub address: Option<AccountId>,
}

impl Report {
    /// As a client sees it.
    pub fn into_exec_result(self) -> ExecResult {
        let events = self
            .events
            .iter()
            .filter_map(|e| match e {
                Event::ContractEmitted { contract, topics, data } => Some(ContractEvent {
                    contract: *contract,
                    topics: topics.clone(),
                    data: data.clone(),
                }),
                _ => None,
            })
            .collect();
        ExecResult {
            result: self.outcome.map_err(PalletError::into_dispatch_error),
            gas_used: self.gas_used,
            storage_deposit: if self.deposit >= 0 {
                StorageDeposit::Charge(self.deposit as Balance)
            } else {
                StorageDeposit::Refund(self.deposit.unsigned_abs())
            },
            events,
            debug_message: self.debug,
            address: self.address,
        }
    }
}

/// What every frame of one execution shares.
struct Stack {
    origin: AccountId,
    /// Shared so a host call can hold it while the frame changes (no copy per call).
    schedule: alloc::rc::Rc<Schedule>,
    deposit_limit: Option<Balance>,
    /// Net deposit settled so far (charged minus refunded).
    deposit: i128,
    /// Addresses of the frames running, outermost first.
    frames: Vec<AccountId>,
    debug: Option<Vec<u8>>,
    block_number: u64,
    now: u64,
    /// Event data and topics emitted so far, reverted frames' included (bounded per
    /// transaction).
    event_bytes: u32,
    /// Events emitted so far, reverted frames' included (bounded per transaction).
    events_emitted: u32,
    /// `schedule.vm.id()`: which compiled code the sandbox must run.
    vm: watt_primitives::Hash,
}

impl Stack {
    fn new(origin: &AccountId, deposit_limit: Option<Balance>, dry_run: bool) -> Self {
        let number = pallet_system::block_number();
        let schedule = schedule();
        Stack {
            origin: *origin,
            vm: schedule.vm.id(),
            schedule: alloc::rc::Rc::new(schedule),
            deposit_limit,
            deposit: 0,
            frames: Vec::new(),
            debug: dry_run.then(Vec::new),
            // A dry-run runs on the head's state, as if in the next block.
            block_number: if dry_run { number + 1 } else { number },
            now: pallet_system::CloseTime::get().unwrap_or(0),
            event_bytes: 0,
            events_emitted: 0,
        }
    }

    fn debug(&mut self, msg: &[u8]) {
        if let Some(buf) = &mut self.debug {
            let room = MAX_DEBUG_BUFFER.saturating_sub(buf.len());
            buf.extend_from_slice(&msg[..msg.len().min(room)]);
            if !buf.ends_with(b"\n") && buf.len() < MAX_DEBUG_BUFFER {
                buf.push(b'\n');
            }
        }
    }
}

enum FrameKind {
    Call { dest: AccountId },
    Deploy { code_hash: Hash, salt: Vec<u8> },
}

struct FrameResult {
    outcome: Result<ExecReturn, Error>,
    gas_used: u64,
    events: Vec<Event>,
    bev: Vec<balances::Event>,
    address: Option<AccountId>,
}

/// Why a frame's transaction is rolled back.
enum Rollback {
    Reverted(Vec<u8>),
    Failed(Error),
}

/// Runs one frame in its own storage transaction.
fn run_frame(
    stack: &mut Stack,
    kind: FrameKind,
    caller: AccountId,
    value: Balance,
    input: Vec<u8>,
    gas_limit: u64,
) -> FrameResult {
    let mut events = Vec::new();
    let mut bev = Vec::new();
    let mut gas_used = 0u64;
    let mut address = None;
    let deposit_before = stack.deposit;
    let result = host::with_transaction(|| {
        let deploying = matches!(kind, FrameKind::Deploy { .. });
        let (dest, info, export) = match kind {
            FrameKind::Call { dest } => {
                let info = Contracts::get(&dest).ok_or(Rollback::Failed(Error::NotAContract))?;
                (dest, info, SandboxExport::Call)
            }
            FrameKind::Deploy { code_hash, salt } => {
                let dest = contract_address(&caller, &code_hash, &salt);
                // A terminated contract's address stays taken until its storage is deleted, so
                // a new contract never sees the old one's keys.
                if Contracts::contains(&dest) || Dying::contains(&dest) {
                    return Err(Rollback::Failed(Error::DuplicateContract));
                }
                let mut code = CodeInfoOf::get(&code_hash).ok_or(Rollback::Failed(Error::CodeNotFound))?;
                code.refcount += 1;
                CodeInfoOf::insert(&code_hash, &code);
                let info = ContractInfo {
                    code_hash,
                    deployer: caller,
                    storage_items: 0,
                    storage_bytes: 0,
                    deposit: 0,
                    code_len: code.len,
                };
                // Recorded before `deploy` runs (and undone with the frame if it fails), so the
                // contract is one from its first instruction: `is_contract` says so, and a call
                // back into it is refused as reentrance.
                Contracts::insert(&dest, &info);
                events.push(Event::Instantiated {
                    deployer: caller,
                    contract: dest,
                });
                address = Some(dest);
                (dest, info, SandboxExport::Deploy)
            }
        };
        if stack.frames.len() >= stack.schedule.max_call_depth as usize {
            return Err(Rollback::Failed(Error::MaxCallDepth));
        }
        if stack.frames.contains(&dest) {
            return Err(Rollback::Failed(Error::ReentranceDenied));
        }
        if deploying {
            // The new account is endowed with the existential deposit by the transaction's
            // signer, so any later value, however small, can reach it; it counts as deposit.
            let ed = balances::existential_deposit();
            if ed > 0 {
                balances::transfer(&stack.origin, &dest, ed, false, &mut bev)
                    .map_err(|_| Rollback::Failed(Error::StorageDepositNotPaid))?;
                stack.deposit = stack.deposit.saturating_add(ed as i128);
                if let Some(limit) = stack.deposit_limit {
                    if stack.deposit > limit as i128 {
                        return Err(Rollback::Failed(Error::StorageDepositLimitExhausted));
                    }
                }
            }
        }
        if value > 0 {
            // A contract paying value keeps its account alive (its endowment stays); the
            // transaction's signer may spend down to nothing.
            let keep_alive = caller != stack.origin;
            balances::transfer(&caller, &dest, value, keep_alive, &mut bev)
                .map_err(|_| Rollback::Failed(Error::TransferFailed))?;
        }
        let mut load = (info.code_len as u64).saturating_mul(stack.schedule.code_load_per_byte);
        // The first call after the contract rules changed (an engine upgrade, new costs, a new
        // stack limit) pays for compiling the code under them: every node compiles it then, and
        // what a call costs must not depend on a node's cache. Recorded with the frame, so a
        // frame that fails pays again next time.
        let compiled = crate::CompiledUnder::get(&info.code_hash) == Some(stack.vm);
        if !compiled {
            load = load.saturating_add((info.code_len as u64).saturating_mul(stack.schedule.compile_per_byte));
        }
        if load > gas_limit {
            gas_used = gas_limit;
            return Err(Rollback::Failed(Error::OutOfGas));
        }
        if !compiled {
            crate::CompiledUnder::insert(&info.code_hash, &stack.vm);
        }
        gas_used = load;
        stack.frames.push(dest);
        let mut frame = Frame {
            stack: &mut *stack,
            address: dest,
            caller,
            value,
            input,
            info,
            deposit_delta: 0,
            storage_changed: deploying,
            output: None,
            terminated: false,
            events: &mut events,
            bev: &mut bev,
        };
        let outcome = execute_code(&mut frame, export, gas_limit - load);
        let Frame {
            output,
            terminated,
            info,
            deposit_delta,
            storage_changed,
            ..
        } = frame;
        stack.frames.pop();
        let returned = match outcome {
            SandboxOutcome::Finished { gas_used: g } => {
                gas_used += g;
                ExecReturn {
                    reverted: false,
                    data: Vec::new(),
                }
            }
            SandboxOutcome::Halted { gas_used: g } => {
                gas_used += g;
                output.unwrap_or(ExecReturn {
                    reverted: false,
                    data: Vec::new(),
                })
            }
            SandboxOutcome::OutOfGas => {
                gas_used = gas_limit;
                stack.debug(b"out of gas");
                return Err(Rollback::Failed(Error::OutOfGas));
            }
            SandboxOutcome::Trapped { gas_used: g, message } => {
                gas_used += g;
                stack.debug(alloc::format!("contract trapped: {message}").as_bytes());
                return Err(Rollback::Failed(Error::ContractTrapped));
            }
            SandboxOutcome::NotPrepared => {
                stack.debug(b"the node could not prepare the contract's code");
                return Err(Rollback::Failed(Error::ContractTrapped));
            }
        };
        if returned.reverted {
            return Err(Rollback::Reverted(returned.data));
        }
        // A frame that changed no storage leaves its record as it was: no write.
        if !terminated && storage_changed {
            settle_deposit(stack, &dest, info, deposit_delta, &mut bev).map_err(Rollback::Failed)?;
        }
        Ok(returned)
    });
    let outcome = match result {
        Ok(r) => Ok(r),
        Err(rollback) => {
            stack.deposit = deposit_before;
            events.clear();
            bev.clear();
            match rollback {
                Rollback::Reverted(data) => Ok(ExecReturn { reverted: true, data }),
                Rollback::Failed(e) => Err(e),
            }
        }
    };
    FrameResult {
        outcome,
        gas_used,
        events,
        bev,
        address,
    }
}

/// Takes or refunds the frame's storage deposit and stores the contract's info.
fn settle_deposit(
    stack: &mut Stack,
    dest: &AccountId,
    mut info: ContractInfo,
    delta: i128,
    bev: &mut Vec<balances::Event>,
) -> Result<(), Error> {
    if delta > 0 {
        let charge = delta as Balance;
        let total = stack.deposit.saturating_add(delta);
        if let Some(limit) = stack.deposit_limit {
            if total > 0 && total as Balance > limit {
                return Err(Error::StorageDepositLimitExhausted);
            }
        }
        balances::transfer(&stack.origin, &contract_deposit_account(), charge, false, bev)
            .map_err(|_| Error::StorageDepositNotPaid)?;
        info.deposit = info.deposit.saturating_add(charge);
        let share = Deposits::get(dest, &stack.origin).unwrap_or(0);
        Deposits::insert(dest, &stack.origin, &share.saturating_add(charge));
        stack.deposit = total;
    } else if delta < 0 {
        // The payer of record is refunded, not whoever frees the storage: the signer gets back
        // at most its own share (and never more than the contract holds; deposits can change
        // with the schedule). Freed deposit beyond it stays held for the other payers, who get
        // it back when the contract terminates.
        let share = Deposits::get(dest, &stack.origin).unwrap_or(0);
        let refund = delta.unsigned_abs().min(info.deposit).min(share);
        // A refund the signer cannot take (it would stay below the existential deposit) stays
        // with the contract's deposit.
        if refund > 0 && balances::transfer(&contract_deposit_account(), &stack.origin, refund, false, bev).is_ok() {
            info.deposit -= refund;
            if share == refund {
                Deposits::remove(dest, &stack.origin);
            } else {
                Deposits::insert(dest, &stack.origin, &(share - refund));
            }
            stack.deposit = stack.deposit.saturating_sub(refund as i128);
        }
    }
    Contracts::insert(dest, &info);
    Ok(())
}

/// Runs the frame's code, preparing it first if this node has not compiled it.
fn execute_code(frame: &mut Frame<'_>, export: SandboxExport, gas_limit: u64) -> SandboxOutcome {
    let req = SandboxExecute {
        code_hash: frame.info.code_hash,
        export,
        gas_limit,
        vm: frame.stack.vm,
    };
    match sandbox::execute(&req, frame) {
        SandboxOutcome::NotPrepared => {
            let Some(code) = CodeStore::get(&frame.info.code_hash) else {
                return SandboxOutcome::NotPrepared;
            };
            // Validated at upload, perhaps under other limits: compile only, so code on chain
            // keeps working whatever the schedule became.
            let persist = frame.stack.debug.is_none();
            if let Err(why) = prepare_code(&frame.stack.schedule, &code, false, persist) {
                return SandboxOutcome::Trapped {
                    gas_used: 0,
                    message: why,
                };
            }
            sandbox::execute(&req, frame)
        }
        outcome => outcome,
    }
}

/// A top-level call of `dest` by `origin`.
pub fn call(
    origin: &AccountId,
    dest: AccountId,
    value: Balance,
    gas_limit: u64,
    deposit_limit: Option<Balance>,
    input: Vec<u8>,
    dry_run: bool,
) -> Report {
    let mut stack = Stack::new(origin, deposit_limit, dry_run);
    if gas_limit > stack.schedule.max_gas_per_call {
        return failed(stack, Error::GasLimitTooHigh);
    }
    let r = run_frame(&mut stack, FrameKind::Call { dest }, *origin, value, input, gas_limit);
    report(stack, r)
}

/// A top-level instantiation by `origin`.
#[allow(clippy::too_many_arguments)]
pub fn instantiate(
    origin: &AccountId,
    value: Balance,
    gas_limit: u64,
    deposit_limit: Option<Balance>,
    code: CodeSource,
    input: Vec<u8>,
    salt: Vec<u8>,
    dry_run: bool,
) -> Report {
    let mut stack = Stack::new(origin, deposit_limit, dry_run);
    if gas_limit > stack.schedule.max_gas_per_call {
        return failed(stack, Error::GasLimitTooHigh);
    }
    let mut upload_events = Vec::new();
    let mut upload_bev = Vec::new();
    let code_hash = match code {
        CodeSource::Existing(hash) => hash,
        CodeSource::Upload(code) => {
            let hash = host::blake2_256(&code);
            if !CodeInfoOf::contains(&hash) {
                let len = code.len();
                let mut why = None;
                if let Err(e) =
                    crate::store_code_explained(origin, code, &mut upload_events, &mut upload_bev, &mut why, !dry_run)
                {
                    if let Some(why) = why {
                        stack.debug(alloc::format!("invalid code: {why}").as_bytes());
                    }
                    return failed(stack, e);
                }
                stack.deposit = crate::code_deposit(&stack.schedule, len) as i128;
                if let Some(limit) = deposit_limit {
                    if stack.deposit as Balance > limit {
                        return failed(stack, Error::StorageDepositLimitExhausted);
                    }
                }
            }
            hash
        }
    };
    let r = run_frame(
        &mut stack,
        FrameKind::Deploy { code_hash, salt },
        *origin,
        value,
        input,
        gas_limit,
    );
    let mut report = report(stack, r);
    upload_events.append(&mut report.events);
    report.events = upload_events;
    upload_bev.append(&mut report.balance_events);
    report.balance_events = upload_bev;
    report
}

fn failed(stack: Stack, e: Error) -> Report {
    Report {
        outcome: Err(e),
        gas_used: 0,
        deposit: 0,
        events: Vec::new(),
        balance_events: Vec::new(),
        debug: stack.debug.unwrap_or_default(),
        address: None,
    }
}

fn report(stack: Stack, r: FrameResult) -> Report {
    Report {
        outcome: r.outcome,
        gas_used: r.gas_used,
        deposit: stack.deposit,
        events: r.events,
        balance_events: r.bev,
        debug: stack.debug.unwrap_or_default(),
        address: r.address,
    }
}

/// One running frame: what the contract's environment calls see.
struct Frame<'a> {
    stack: &'a mut Stack,
    address: AccountId,
    caller: AccountId,
    value: Balance,
    input: Vec<u8>,
    /// The contract's info, written back when the frame succeeds.
    info: ContractInfo,
    /// Deposit this frame's storage changes owe (negative: are owed).
    deposit_delta: i128,
    /// Whether the contract's record must be written back (new, or its storage changed size).
    storage_changed: bool,
    output: Option<ExecReturn>,
    terminated: bool,
    events: &'a mut Vec<Event>,
    bev: &'a mut Vec<balances::Event>,
}

/// Why an environment call stops the contract.
enum Stop {
    Halt,
    OutOfGas,
    Trap(String),
}

/// Gas of one environment call.
struct Meter {
    left: u64,
    used: u64,
}

impl Meter {
    fn charge(&mut self, amount: u64) -> Result<(), Stop> {
        let used = self.used.saturating_add(amount);
        if used > self.left {
            return Err(Stop::OutOfGas);
        }
        self.used = used;
        Ok(())
    }
    fn remaining(&self) -> u64 {
        self.left - self.used
    }

    /// The gas a nested call may have when it asks for `requested` (0: as much as it can): at
    /// most all but a 64th of what is left (EIP-150's rule), so a caller always keeps gas to
    /// handle a callee that used all of its own (a trap of the callee's own code does).
    fn forwardable(&self, requested: u64) -> u64 {
        let left = self.remaining();
        let cap = left - left / 64;
        match requested {
            0 => cap,
            g => g.min(cap),
        }
    }
}

fn trap(msg: &str) -> Stop {
    Stop::Trap(String::from(msg))
}

fn arg(args: &[u64], i: usize) -> Result<u64, Stop> {
    args.get(i)
        .copied()
        .ok_or_else(|| trap("environment function called with too few arguments"))
}

fn arg32(args: &[u64], i: usize) -> Result<u32, Stop> {
    arg(args, i).map(|v| v as u32)
}

impl Frame<'_> {
    fn storage_key(&self, key: &[u8]) -> Vec<u8> {
        let mut k = Vec::with_capacity(CONTRACT_STORAGE_PREFIX.len() + 32 + key.len());
        k.extend_from_slice(&contract_storage_prefix(&self.address));
        k.extend_from_slice(key);
        k
    }

    fn read(&self, m: &mut Meter, mem: &mut dyn ContractMemory, ptr: u32, len: u32) -> Result<Vec<u8>, Stop> {
        m.charge((len as u64).saturating_mul(self.stack.schedule.per_byte))?;
        // Contract memory is at most 1 MiB (16 pages, the validation limit): a longer read is
        // out of bounds anyway, and must not allocate first.
        if len > 1 << 20 {
            return Err(trap("memory access out of bounds"));
        }
        let mut buf = alloc::vec![0u8; len as usize];
        if !mem.read(ptr, &mut buf) {
            return Err(trap("memory access out of bounds"));
        }
        Ok(buf)
    }

    fn read_array<const N: usize>(
        &self,
        m: &mut Meter,
        mem: &mut dyn ContractMemory,
        ptr: u32,
    ) -> Result<[u8; N], Stop> {
        m.charge((N as u64).saturating_mul(self.stack.schedule.per_byte))?;
        let mut buf = [0u8; N];
        if !mem.read(ptr, &mut buf) {
            return Err(trap("memory access out of bounds"));
        }
        Ok(buf)
    }

    fn write(&self, m: &mut Meter, mem: &mut dyn ContractMemory, ptr: u32, data: &[u8]) -> Result<(), Stop> {
        m.charge((data.len() as u64).saturating_mul(self.stack.schedule.per_byte))?;
        if !mem.write(ptr, data) {
            return Err(trap("memory access out of bounds"));
        }
        Ok(())
    }

    /// Writes `data` to an (out_ptr, out_len_ptr) buffer (ABI.md "Values in memory").
    fn write_output(
        &self,
        m: &mut Meter,
        mem: &mut dyn ContractMemory,
        out_ptr: u32,
        len_ptr: u32,
        data: &[u8],
    ) -> Result<u64, Stop> {
        let capacity = u32::from_le_bytes(self.read_array::<4>(m, mem, len_ptr)?);
        let len = u32::try_from(data.len()).map_err(|_| trap("output too large"))?;
        self.write(m, mem, len_ptr, &len.to_le_bytes())?;
        if len > capacity {
            return Ok(codes::BUFFER_TOO_SMALL);
        }
        self.write(m, mem, out_ptr, data)?;
        Ok(codes::SUCCESS)
    }

    fn key(&self, m: &mut Meter, mem: &mut dyn ContractMemory, ptr: u32, len: u32) -> Result<Vec<u8>, Stop> {
        if len > self.stack.schedule.max_key_len {
            return Err(trap("storage key longer than the limit"));
        }
        let key = self.read(m, mem, ptr, len)?;
        Ok(self.storage_key(&key))
    }

    /// The length of the value stored at `key` (a storage key), charging
    /// `storage_read_per_byte` for every byte the host read to learn it.
    fn read_stored(&self, m: &mut Meter, key: &[u8]) -> Result<Option<usize>, Stop> {
        let len = host::storage_get(key).map(|v| v.len());
        m.charge(
            self.stack
                .schedule
                .storage_read_per_byte
                .saturating_mul(len.unwrap_or(0) as u64),
        )?;
        Ok(len)
    }

    /// Records a storage change for the deposit: `old`/`new` are the value lengths.
    fn account_storage(&mut self, key_len: usize, old: Option<usize>, new: Option<usize>) {
        let s = &self.stack.schedule;
        let size = |v: Option<usize>| v.map_or(0i128, |l| (key_len + l) as i128);
        let items = new.is_some() as i128 - old.is_some() as i128;
        let bytes = size(new) - size(old);
        self.deposit_delta += items * s.deposit_per_item as i128 + bytes * s.deposit_per_byte as i128;
        self.storage_changed |= items != 0 || bytes != 0;
        self.info.storage_items = (self.info.storage_items as i128 + items).max(0) as u32;
        self.info.storage_bytes = (self.info.storage_bytes as i128 + bytes).max(0) as u64;
    }

    fn balance_bytes(b: Balance) -> [u8; 16] {
        b.to_le_bytes()
    }

    /// Maps a nested frame's failure to its ABI code.
    fn failure_code(e: Error) -> u64 {
        match e {
            Error::NotAContract => codes::NOT_A_CONTRACT,
            Error::TransferFailed => codes::TRANSFER_FAILED,
            Error::MaxCallDepth => codes::MAX_DEPTH,
            Error::ReentranceDenied => codes::REENTRANCE_DENIED,
            Error::CodeNotFound => codes::CODE_NOT_FOUND,
            Error::DuplicateContract => codes::DUPLICATE_CONTRACT,
            _ => codes::CALLEE_TRAPPED,
        }
    }

    fn serve(&mut self, f: &[u8], a: &[u64], m: &mut Meter, mem: &mut dyn ContractMemory) -> Result<u64, Stop> {
        let s = self.stack.schedule.clone();
        m.charge(s.host_call)?;
        match f {
            b"input" => {
                let input = core::mem::take(&mut self.input);
                let r = self.write_output(m, mem, arg32(a, 0)?, arg32(a, 1)?, &input);
                self.input = input;
                r
            }
            b"return_value" => {
                let flags = arg32(a, 0)?;
                if flags & !1 != 0 {
                    return Err(trap("return_value: unknown flags"));
                }
                let data = self.read(m, mem, arg32(a, 1)?, arg32(a, 2)?)?;
                self.output = Some(ExecReturn {
                    reverted: flags & 1 == 1,
                    data,
                });
                Err(Stop::Halt)
            }
            b"set_storage" => {
                let (kl, vl) = (arg32(a, 1)?, arg32(a, 3)?);
                if vl > s.max_value_len {
                    return Err(trap("storage value longer than the limit"));
                }
                m.charge(
                    s.storage_write
                        .saturating_add(s.storage_per_byte.saturating_mul(vl as u64)),
                )?;
                let key = self.key(m, mem, arg32(a, 0)?, kl)?;
                let value = self.read(m, mem, arg32(a, 2)?, vl)?;
                let old = self.read_stored(m, &key)?;
                host::storage_set(&key, &value);
                self.account_storage(kl as usize, old, Some(value.len()));
                Ok(old.map_or(codes::NONE, |l| l as u64))
            }
            b"get_storage" => {
                m.charge(s.storage_read)?;
                let key = self.key(m, mem, arg32(a, 0)?, arg32(a, 1)?)?;
                match host::storage_get(&key) {
                    Some(v) => {
                        m.charge(s.storage_read_per_byte.saturating_mul(v.len() as u64))?;
                        self.write_output(m, mem, arg32(a, 2)?, arg32(a, 3)?, &v)
                    }
                    None => Ok(codes::KEY_NOT_FOUND),
                }
            }
            b"clear_storage" => {
                m.charge(s.storage_write)?;
                let kl = arg32(a, 1)?;
                let key = self.key(m, mem, arg32(a, 0)?, kl)?;
                let old = self.read_stored(m, &key)?;
                if old.is_some() {
                    host::storage_clear(&key);
                    self.account_storage(kl as usize, old, None);
                }
                Ok(old.map_or(codes::NONE, |l| l as u64))
            }
            b"contains_storage" => {
                m.charge(s.storage_read)?;
                let key = self.key(m, mem, arg32(a, 0)?, arg32(a, 1)?)?;
                Ok(self.read_stored(m, &key)?.map_or(codes::NONE, |l| l as u64))
            }
            b"caller" => self.write(m, mem, arg32(a, 0)?, &self.caller.0).map(|_| 0),
            b"address" => self.write(m, mem, arg32(a, 0)?, &self.address.0).map(|_| 0),
            b"value_transferred" => self
                .write(m, mem, arg32(a, 0)?, &Self::balance_bytes(self.value))
                .map(|_| 0),
            b"balance" => {
                m.charge(s.storage_read)?;
                let b = balances::free(&self.address);
                self.write(m, mem, arg32(a, 0)?, &Self::balance_bytes(b)).map(|_| 0)
            }
            b"balance_of" => {
                m.charge(s.storage_read)?;
                let who = AccountId(self.read_array::<32>(m, mem, arg32(a, 0)?)?);
                self.write(m, mem, arg32(a, 1)?, &Self::balance_bytes(balances::free(&who)))
                    .map(|_| 0)
            }
            b"block_number" => Ok(self.stack.block_number),
            b"now" => Ok(self.stack.now),
            b"gas_left" => Ok(m.remaining()),
            b"is_contract" => {
                m.charge(s.storage_read)?;
                let who = AccountId(self.read_array::<32>(m, mem, arg32(a, 0)?)?);
                Ok(Contracts::contains(&who) as u64)
            }
            b"code_hash" => {
                m.charge(s.storage_read)?;
                let who = AccountId(self.read_array::<32>(m, mem, arg32(a, 0)?)?);
                match Contracts::get(&who) {
                    Some(c) => self.write(m, mem, arg32(a, 1)?, &c.code_hash).map(|_| codes::SUCCESS),
                    None => Ok(codes::NOT_A_CONTRACT),
                }
            }
            b"transfer" => {
                m.charge(s.transfer)?;
                let to = AccountId(self.read_array::<32>(m, mem, arg32(a, 0)?)?);
                let value = Balance::from_le_bytes(self.read_array::<16>(m, mem, arg32(a, 1)?)?);
                match balances::transfer(&self.address, &to, value, true, self.bev) {
                    Ok(()) => Ok(codes::SUCCESS),
                    Err(_) => Ok(codes::TRANSFER_FAILED),
                }
            }
            b"deposit_event" => {
                let count = arg32(a, 1)?;
                let len = arg32(a, 3)?;
                if count > 4 {
                    return Err(trap("deposit_event: more than 4 topics"));
                }
                if len > s.max_value_len {
                    return Err(trap("deposit_event: data longer than the limit"));
                }
                m.charge(
                    s.event
                        .saturating_add(s.event_topic.saturating_mul(count as u64))
                        .saturating_add(s.event_per_byte.saturating_mul(len as u64)),
                )?;
                // Topics count with the data: both stay in the block's events and receipts.
                let total = self.stack.event_bytes.saturating_add(len).saturating_add(count * 32);
                if total > s.max_event_bytes_per_call {
                    return Err(trap("deposit_event: the transaction's event data is over its limit"));
                }
                if self.stack.events_emitted >= s.max_events_per_call {
                    return Err(trap("deposit_event: the transaction emitted its most events"));
                }
                self.stack.event_bytes = total;
                self.stack.events_emitted += 1;
                let raw = self.read(m, mem, arg32(a, 0)?, count * 32)?;
                let topics = raw
                    .chunks_exact(32)
                    .map(|c| {
                        let mut t = [0u8; 32];
                        t.copy_from_slice(c);
                        t
                    })
                    .collect();
                let data = self.read(m, mem, arg32(a, 2)?, len)?;
                self.events.push(Event::ContractEmitted {
                    contract: self.address,
                    topics,
                    data,
                });
                Ok(codes::SUCCESS)
            }
            b"call" => {
                m.charge(s.call)?;
                let dest = AccountId(self.read_array::<32>(m, mem, arg32(a, 0)?)?);
                let value = Balance::from_le_bytes(self.read_array::<16>(m, mem, arg32(a, 1)?)?);
                let input = self.read(m, mem, arg32(a, 2)?, arg32(a, 3)?)?;
                let limit = m.forwardable(arg(a, 4)?);
                let r = run_frame(self.stack, FrameKind::Call { dest }, self.address, value, input, limit);
                self.nested_result(m, mem, r, arg32(a, 5)?, arg32(a, 6)?, None)
            }
            b"instantiate" => {
                m.charge(s.call)?;
                let code_hash = self.read_array::<32>(m, mem, arg32(a, 0)?)?;
                let value = Balance::from_le_bytes(self.read_array::<16>(m, mem, arg32(a, 1)?)?);
                let input = self.read(m, mem, arg32(a, 2)?, arg32(a, 3)?)?;
                let salt = self.read(m, mem, arg32(a, 4)?, arg32(a, 5)?)?;
                let limit = m.forwardable(arg(a, 6)?);
                let r = run_frame(
                    self.stack,
                    FrameKind::Deploy { code_hash, salt },
                    self.address,
                    value,
                    input,
                    limit,
                );
                self.nested_result(m, mem, r, arg32(a, 8)?, arg32(a, 9)?, Some(arg32(a, 7)?))
            }
            b"terminate" => {
                // The deletion of every item, done by the deletion queue after the block's
                // transactions (over as many blocks as it takes), is paid here.
                let items = self.info.storage_items as u64;
                m.charge(s.terminate.saturating_add(s.terminate_per_item.saturating_mul(items)))?;
                let beneficiary = AccountId(self.read_array::<32>(m, mem, arg32(a, 0)?)?);
                if beneficiary == self.address {
                    return Err(trap("terminate: the beneficiary is the terminating contract"));
                }
                self.terminate(beneficiary)?;
                Err(Stop::Halt)
            }
            b"hash_blake2_256" => {
                m.charge(s.hash)?;
                let data = self.read(m, mem, arg32(a, 0)?, arg32(a, 1)?)?;
                self.write(m, mem, arg32(a, 2)?, &host::blake2_256(&data)).map(|_| 0)
            }
            b"hash_blake2_128" => {
                m.charge(s.hash)?;
                let data = self.read(m, mem, arg32(a, 0)?, arg32(a, 1)?)?;
                self.write(m, mem, arg32(a, 2)?, &host::blake2_128(&data)).map(|_| 0)
            }
            b"sr25519_verify" => {
                m.charge(s.sr25519_verify)?;
                let sig = self.read_array::<64>(m, mem, arg32(a, 0)?)?;
                let public = self.read_array::<32>(m, mem, arg32(a, 1)?)?;
                let msg = self.read(m, mem, arg32(a, 2)?, arg32(a, 3)?)?;
                Ok(if host::sr25519_verify(&sig, &msg, &public) {
                    codes::SUCCESS
                } else {
                    codes::INVALID_SIGNATURE
                })
            }
            b"debug_message" => {
                let msg = self.read(m, mem, arg32(a, 0)?, arg32(a, 1)?)?;
                self.stack.debug(&msg);
                Ok(codes::SUCCESS)
            }
            _ => Err(trap("call of a function the contract ABI does not have")),
        }
    }

    /// Charges a nested frame's gas, keeps its events when it succeeded, writes its output
    /// (and address) and returns its ABI code.
    fn nested_result(
        &mut self,
        m: &mut Meter,
        mem: &mut dyn ContractMemory,
        r: FrameResult,
        out_ptr: u32,
        len_ptr: u32,
        address_ptr: Option<u32>,
    ) -> Result<u64, Stop> {
        m.charge(r.gas_used)?;
        match r.outcome {
            Ok(ret) => {
                if !ret.reverted {
                    self.events.extend(r.events);
                    self.bev.extend(r.bev);
                    if let (Some(ptr), Some(addr)) = (address_ptr, r.address) {
                        self.write(m, mem, ptr, &addr.0)?;
                    }
                }
                let code = self.write_output(m, mem, out_ptr, len_ptr, &ret.data)?;
                // A revert is reported as one even when its output does not fit (the needed
                // length is written, the output is not): the caller must never mistake it for
                // a success whose output was too long.
                Ok(match (code, ret.reverted) {
                    (codes::SUCCESS | codes::BUFFER_TOO_SMALL, true) => codes::CALLEE_REVERTED,
                    (c, _) => c,
                })
            }
            Err(e) => Ok(Self::failure_code(e)),
        }
    }

    fn terminate(&mut self, beneficiary: AccountId) -> Result<(), Stop> {
        let all = balances::free(&self.address);
        if all > 0 && balances::transfer(&self.address, &beneficiary, all, false, self.bev).is_err() {
            return Err(trap("terminate: the beneficiary cannot receive the balance"));
        }
        // O(1) here: the storage and the deposit go to the deletion queue, which refunds each
        // depositor's share and deletes the items after the block's transactions, a bounded
        // amount per block. The deposit is not the beneficiary's: it goes back to whoever paid it. What
        // this frame's own writes would have owed or freed is not settled: the items are
        // counted in `storage_items` (and their deletion paid above), and every share is
        // refunded in full anyway.
        crate::queue_deletion(&self.address, &self.info);
        self.deposit_delta = 0;
        if let Some(mut code) = CodeInfoOf::get(&self.info.code_hash) {
            code.refcount = code.refcount.saturating_sub(1);
            CodeInfoOf::insert(&self.info.code_hash, &code);
        }
        Contracts::remove(&self.address);
        self.terminated = true;
        self.events.push(Event::Terminated {
            contract: self.address,
            beneficiary,
        });
        Ok(())
    }
}

impl SandboxEnv for Frame<'_> {
    fn dispatch(&mut self, function: &[u8], args: &[u64], gas_left: u64, memory: &mut dyn ContractMemory) -> EnvReply {
        let mut meter = Meter {
            left: gas_left,
            used: 0,
        };
        match self.serve(function, args, &mut meter, memory) {
            Ok(value) => EnvReply::Return {
                value,
                charge: meter.used,
            },
            Err(Stop::Halt) => EnvReply::Halt { charge: meter.used },
            // A charge above what is left makes the sandbox stop the contract out of gas.
            Err(Stop::OutOfGas) => EnvReply::Return {
                value: 0,
                charge: u64::MAX,
            },
            Err(Stop::Trap(message)) => EnvReply::Trap {
                charge: meter.used,
                message,
            },
        }
    }
}

#[cfg(test)]
mod hostile_tests;
