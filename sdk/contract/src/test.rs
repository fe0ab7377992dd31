//! The off-chain test environment (native builds only): a thread-local fake chain that serves
//! every [`crate::env`] function, so contract unit tests call message methods directly on the
//! storage struct, or run the generated dispatch (`Contract::__watt_call`) through [`execute`].
//!
//! What it models, following the contracts pallet (`pallets/contracts/src/exec.rs`):
//! - the caller, own address and value of the current frame; the transaction's signer (the
//!   *origin*: the caller of the test's own frame, or of [`execute_as`] run from test code);
//!   block number, time and gas left (set by the test, not metered); storage per contract;
//!   events with their topics and data; debug messages;
//! - **reverts**: a call that reverts (a message returning `Err`, or any value that
//!   [`crate::dispatch::Reverts`]), fails to dispatch or panics (a trap) leaves no trace: its
//!   storage writes, events, balance transfers and storage deposits are undone. This holds for
//!   [`execute`] / [`execute_as`], for cross-contract calls, and for a message a test calls
//!   directly (`token.transfer(..)`): `#[contract]` runs each message natively as a
//!   [`MessageUnit`], which also restores a `&mut self` message's plain fields on a revert;
//! - **balances** under the chain's existential deposit (ED) rules: a transfer may not create an
//!   account holding less than the ED; a contract's `transfer` and the value of its `call` /
//!   `instantiate` may not leave it below the ED (`TransferFailed`); the origin may spend below
//!   it, and is then reaped (its balance drops to 0, as the dust goes to the fee pool); a
//!   contract created by `instantiate` is endowed with the ED by the origin;
//! - **storage deposits**, kept per payer of record as on chain (ABI.md "Storage"): each
//!   storage change costs `deposit_per_item` per new key and `deposit_per_byte` per byte of key
//!   and value (negative when storage shrinks). What a call frame owes is settled with the
//!   origin when the frame succeeds (the pallet's `settle_deposit`):
//!   - a charge the origin cannot pay fails the call (a trap); a charge paid adds to the
//!     origin's *share* of the contract's deposit ([`deposit_share`]);
//!   - a refund for freed storage is paid to the origin only out of its own share, whoever
//!     paid for the freed items: an origin that paid nothing into the contract gets nothing
//!     back, and freed deposit beyond its share stays held for the accounts that paid it. A
//!     refund that would create the origin's account below the ED is not paid either (it stays
//!     held, and in the origin's share);
//!
//!   The deposit a contract holds, [`storage_deposit_of`], is the sum of its shares. Outside
//!   any call a test makes (say, `Mapping::insert` in a constructor called directly) each
//!   write settles at once;
//! - cross-contract `call` / `instantiate` to contracts registered natively (a closure, or a
//!   real contract's generated dispatch), with value transfer, reentrancy denial and the depth
//!   limit (8); an output larger than the caller's buffer is [`CallError::OutputTooLarge`], or
//!   [`CallError::RevertedOutputTooLarge`] when the callee reverted (on chain `instantiate`
//!   tells these apart as well; `call` needs the host to report such a revert as
//!   `CALLEE_REVERTED`, see [`CallError::OutputTooLarge`]);
//! - `terminate`: the contract's whole balance goes to the beneficiary, **not** its storage
//!   deposit: each depositor is refunded its share (a share below the ED owed to an empty
//!   account is not paid; on chain it stays in the deposit account). On chain the deletion
//!   queue does this after the block's transactions (`process_deletions`); here the storage is
//!   deleted and the shares refunded at once, within the terminating call (undone with it if a
//!   caller reverts). The chain gives deposit that no share accounts for (held before shares
//!   were recorded) to the contract's deployer; every deposit here has a payer of record, so
//!   there never is any;
//! - sr25519 verification (schnorrkel, context `watt`).
//!
//! The ED and the deposit prices are [`Economics`]: a fresh environment has none
//! ([`Economics::NONE`], so tests need not fund anyone), and [`set_economics`]`(`[`Economics::CHAIN`]`)`
//! switches to the chain's defaults.
//!
//! Not modelled: gas metering (so neither the per-byte charge of storage reads nor what
//! `terminate` pays per item); the transaction's storage deposit limit; the deletion queue's
//! delay (on chain a terminated contract's address cannot hold a new contract,
//! `DUPLICATE_CONTRACT`, until the queue has deleted its storage; here it is free at once);
//! `return_value` / `terminate` called outside [`execute`] or a cross-contract call unwind the
//! test (with a [`ContractExit`] payload).
//!
//! Each test thread starts with a fresh environment: [`default_accounts`]`().alice` calling the
//! contract at [`CONTRACT`], nothing transferred, no balances, block 1 at time 0.

use crate::call::CallError;
use crate::dispatch::{DispatchError, DispatchResult, Outcome};
use crate::types::{AccountId, Balance, Error, Hash};
use crate::Event;
use blake2::digest::consts::{U16, U32};
use blake2::{Blake2b, Digest};
use parity_scale_codec::Decode;
use std::boxed::Box;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::rc::Rc;
use std::string::{String, ToString};
use std::vec::Vec;

/// The address of the contract under test unless [`set_address`] says otherwise.
pub const CONTRACT: AccountId = AccountId([0xc0; 32]);

/// A dispatch function: a contract's generated `__watt_deploy` / `__watt_call`, or a mock.
pub type Handler = Rc<dyn Fn(&[u8]) -> DispatchResult>;

/// An event emitted in the off-chain environment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EmittedEvent {
    /// The contract that emitted it.
    pub contract: AccountId,
    /// Its topics, in order.
    pub topics: Vec<[u8; 32]>,
    /// Its data.
    pub data: Vec<u8>,
}

impl EmittedEvent {
    /// The event decoded as `E`, if it is one: its first topic is `E`'s signature topic, its data
    /// starts with `E`'s index and the rest decodes as `E` exactly.
    pub fn decode<E: Event + Decode>(&self) -> Option<E> {
        if self.topics.first() != Some(&E::SIGNATURE_TOPIC) || self.data.first() != Some(&E::INDEX) {
            return None;
        }
        let mut rest = &self.data[1..];
        let e = E::decode(&mut rest).ok()?;
        rest.is_empty().then_some(e)
    }
}

/// How a contract ended a call by unwinding natively (the payload of the unwind).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ContractExit {
    /// `return_value(revert, data)`.
    Return {
        /// The revert flag.
        revert: bool,
        /// The output.
        data: Vec<u8>,
    },
    /// `terminate(beneficiary)` (already carried out).
    Terminated {
        /// Who received the balance.
        beneficiary: AccountId,
    },
}

/// Named accounts for tests.
#[derive(Clone, Copy, Debug)]
pub struct DefaultAccounts {
    /// `[1; 32]`, the default caller.
    pub alice: AccountId,
    /// `[2; 32]`.
    pub bob: AccountId,
    /// `[3; 32]`.
    pub charlie: AccountId,
    /// `[4; 32]`.
    pub django: AccountId,
    /// `[5; 32]`.
    pub eve: AccountId,
    /// `[6; 32]`.
    pub frank: AccountId,
}

/// The named test accounts.
pub fn default_accounts() -> DefaultAccounts {
    DefaultAccounts {
        alice: AccountId([1; 32]),
        bob: AccountId([2; 32]),
        charlie: AccountId([3; 32]),
        django: AccountId([4; 32]),
        eve: AccountId([5; 32]),
        frank: AccountId([6; 32]),
    }
}

/// The deepest call stack, as on chain (`MAX_CALL_DEPTH`).
const MAX_CALL_DEPTH: usize = 8;

/// One unit of the native token (`watt_primitives::UNIT`): 10^12 of the smallest unit.
pub const UNIT: Balance = 1_000_000_000_000;

/// The existential deposit and the storage deposit prices of the off-chain environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Economics {
    /// The least an account may hold (0: no existential deposit).
    pub existential_deposit: Balance,
    /// The deposit for each storage key a contract adds (refunded when it is removed, out of
    /// the share of the signer who removes it, or to its payers when the contract terminates).
    pub deposit_per_item: Balance,
    /// The deposit for each byte of key and value a contract adds (refunded as items are).
    pub deposit_per_byte: Balance,
}

impl Economics {
    /// No existential deposit, free storage: what a fresh environment starts with.
    pub const NONE: Economics = Economics {
        existential_deposit: 0,
        deposit_per_item: 0,
        deposit_per_byte: 0,
    };

    /// The chain's defaults: the existential deposit of the default chain spec
    /// (`node/chain-spec`, `UNIT / 100`) and the deposit prices of the contracts pallet's
    /// `Schedule::default()` (`pallets/contracts/src/schedule.rs`: `deposit_per_item: UNIT /
    /// 100`, `deposit_per_byte: UNIT / 10_000`).
    pub const CHAIN: Economics = Economics {
        existential_deposit: UNIT / 100,
        deposit_per_item: UNIT / 100,
        deposit_per_byte: UNIT / 10_000,
    };
}

impl Default for Economics {
    fn default() -> Self {
        Economics::NONE
    }
}

#[derive(Clone)]
struct Frame {
    caller: AccountId,
    address: AccountId,
    value: Balance,
    input: Vec<u8>,
    /// Units of work running in this frame (a call run by the environment, a message called
    /// directly); only the outermost one snapshots, rolls back and settles.
    units: u32,
    /// The storage deposit the frame's writes owe so far (negative: are owed), settled with
    /// the origin when its outermost unit succeeds.
    deposit_delta: i128,
}

impl Frame {
    fn new(caller: AccountId, address: AccountId, value: Balance, input: Vec<u8>) -> Self {
        Frame {
            caller,
            address,
            value,
            input,
            units: 0,
            deposit_delta: 0,
        }
    }
}

/// What a revert undoes.
#[derive(Clone, Default)]
struct State {
    storage: BTreeMap<AccountId, BTreeMap<Vec<u8>, Vec<u8>>>,
    balances: BTreeMap<AccountId, Balance>,
    events: Vec<EmittedEvent>,
    /// Contracts: code hash and call handler.
    contracts: BTreeMap<AccountId, (Hash, Handler)>,
    /// contract -> depositor -> its share of the contract's storage deposit (the pallet's
    /// `Deposits`: what it paid and has not been refunded; never 0). A contract's shares add up
    /// to the deposit it holds.
    deposits: BTreeMap<AccountId, BTreeMap<AccountId, Balance>>,
}

struct Engine {
    state: State,
    /// frames[0] is the test's own frame; calls push more.
    frames: Vec<Frame>,
    block_number: u64,
    now: u64,
    gas_left: u64,
    debug: Vec<String>,
    /// Uploaded code: deploy and call handlers.
    codes: BTreeMap<Hash, (Handler, Handler)>,
    economics: Economics,
    /// The transaction's signer while [`execute_as`] runs one from test code.
    origin: Option<AccountId>,
    /// Set by `return_value` / `terminate` before they unwind: whether the call ended
    /// successfully (read by a [`MessageUnit`] the unwind passes through).
    exit_success: Option<bool>,
}

impl Engine {
    fn new() -> Self {
        Engine {
            state: State::default(),
            frames: std::vec![Frame::new(default_accounts().alice, CONTRACT, 0, Vec::new())],
            block_number: 1,
            now: 0,
            gas_left: 1_000_000_000,
            debug: Vec::new(),
            codes: BTreeMap::new(),
            economics: Economics::NONE,
            origin: None,
            exit_success: None,
        }
    }

    fn frame(&self) -> &Frame {
        self.frames.last().expect("the test frame is never popped")
    }

    fn frame_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("the test frame is never popped")
    }

    /// The transaction's signer: it pays storage deposits and endowments.
    fn origin(&self) -> AccountId {
        self.origin.unwrap_or(self.frames[0].caller)
    }

    fn balance(&self, who: &AccountId) -> Balance {
        self.state.balances.get(who).copied().unwrap_or(0)
    }

    /// Sets a balance as the chain does after a debit: below the ED the account is reaped
    /// (its balance record removed; the dust goes to the fee pool, not modelled).
    fn set_free(&mut self, who: &AccountId, amount: Balance) {
        if amount == 0 || amount < self.economics.existential_deposit {
            self.state.balances.remove(who);
        } else {
            self.state.balances.insert(*who, amount);
        }
    }

    /// Moves `value` under the ED rules of the balances pallet's `transfer`: the payer must
    /// hold it, and keep the ED when `keep_alive` (else it is reaped below the ED); the payee
    /// may not be created with less than the ED.
    fn transfer(&mut self, from: &AccountId, to: &AccountId, value: Balance, keep_alive: bool) -> Result<(), Error> {
        let ed = self.economics.existential_deposit;
        let remaining = self.balance(from).checked_sub(value).ok_or(Error::TransferFailed)?;
        if keep_alive && remaining < ed {
            return Err(Error::TransferFailed);
        }
        if from == to {
            return Ok(());
        }
        let to_free = self.balance(to);
        let to_new = to_free.checked_add(value).ok_or(Error::TransferFailed)?;
        if to_free == 0 && to_new < ed {
            return Err(Error::TransferFailed);
        }
        self.set_free(from, remaining);
        self.state.balances.insert(*to, to_new);
        Ok(())
    }

    /// The value sent with a call from `from`, as the pallet moves it: none when zero; a
    /// contract paying keeps its ED, the origin may spend down to nothing.
    fn pay_value(&mut self, from: &AccountId, to: &AccountId, value: Balance) -> Result<(), Error> {
        if value == 0 {
            return Ok(());
        }
        let keep_alive = *from != self.origin();
        self.transfer(from, to, value, keep_alive)
    }

    fn own_storage(&mut self) -> &mut BTreeMap<Vec<u8>, Vec<u8>> {
        let me = self.frame().address;
        self.state.storage.entry(me).or_default()
    }

    /// The deposit a storage change owes (the pallet's `account_storage`): `old` / `new` are
    /// the value's lengths before and after, `key_len` the contract's key length.
    fn storage_delta(&self, key_len: usize, old: Option<usize>, new: Option<usize>) -> i128 {
        let size = |v: Option<usize>| v.map_or(0i128, |l| (key_len + l) as i128);
        let items = new.is_some() as i128 - old.is_some() as i128;
        let bytes = size(new) - size(old);
        items * self.economics.deposit_per_item as i128 + bytes * self.economics.deposit_per_byte as i128
    }

    /// The storage deposit `contract` holds: the sum of its depositors' shares.
    fn deposit_held(&self, contract: &AccountId) -> Balance {
        self.state
            .deposits
            .get(contract)
            .map_or(0, |shares| shares.values().sum())
    }

    /// `who`'s share of `contract`'s storage deposit.
    fn share(&self, contract: &AccountId, who: &AccountId) -> Balance {
        self.state
            .deposits
            .get(contract)
            .and_then(|shares| shares.get(who))
            .copied()
            .unwrap_or(0)
    }

    /// Pays a refund of storage deposit to `to` as the pallet's `refund_deposit` does: not
    /// when it would create `to`'s account below the ED (false then).
    fn credit_refund(&mut self, to: &AccountId, amount: Balance) -> bool {
        let have = self.balance(to);
        if amount == 0 || (have == 0 && amount < self.economics.existential_deposit) {
            return false;
        }
        self.state.balances.insert(*to, have + amount);
        true
    }

    /// Takes (positive `delta`) or refunds (negative) `contract`'s storage deposit from / to the
    /// origin, as the pallet's `settle_deposit` does: a charge adds to the origin's share, a
    /// refund comes only out of it. `Err` (with the reason) when the origin cannot pay;
    /// nothing changed then.
    fn settle(&mut self, contract: &AccountId, delta: i128) -> Result<(), String> {
        let origin = self.origin();
        if delta > 0 {
            let charge = delta as Balance;
            let have = self.balance(&origin);
            let Some(remaining) = have.checked_sub(charge) else {
                return Err(std::format!(
                    "storage deposit not paid: {origin:?} owes {charge} and holds {have} (fund it with test::set_balance)"
                ));
            };
            self.set_free(&origin, remaining);
            *self
                .state
                .deposits
                .entry(*contract)
                .or_default()
                .entry(origin)
                .or_default() += charge;
        } else if delta < 0 {
            // The payer of record is refunded, not whoever frees the storage: the origin gets
            // back at most its own share (and never more than the contract holds). Freed
            // deposit beyond it stays held for the other payers, refunded when the contract
            // terminates.
            let share = self.share(contract, &origin);
            let refund = delta.unsigned_abs().min(self.deposit_held(contract)).min(share);
            // A refund that would create the origin's account below the ED stays held (and in
            // its share).
            if self.credit_refund(&origin, refund) {
                let shares = self.state.deposits.entry(*contract).or_default();
                if share == refund {
                    shares.remove(&origin);
                } else {
                    shares.insert(origin, share - refund);
                }
                if shares.is_empty() {
                    self.state.deposits.remove(contract);
                }
            }
        }
        Ok(())
    }

    /// Records a storage change's deposit in the current frame; outside any unit it is
    /// settled at once (`Err` when it cannot be paid: nothing changed then).
    fn record_storage(&mut self, delta: i128) -> Result<(), String> {
        if delta == 0 {
            return Ok(());
        }
        if self.frame().units == 0 {
            let me = self.frame().address;
            self.settle(&me, delta)
        } else {
            self.frame_mut().deposit_delta += delta;
            Ok(())
        }
    }
}

std::thread_local! {
    static ENGINE: RefCell<Engine> = RefCell::new(Engine::new());
}

fn with<R>(f: impl FnOnce(&mut Engine) -> R) -> R {
    ENGINE.with(|e| f(&mut e.borrow_mut()))
}

/// Silences the default panic message of a [`ContractExit`] unwind (it is control flow, not a
/// failure); other panics print as usual.
fn install_quiet_exit_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<ContractExit>().is_none() {
                previous(info)
            }
        }));
    });
}

/// Starts over with a fresh environment (as each test thread does by itself).
pub fn reset() {
    with(|e| *e = Engine::new());
}

/// Sets the caller of the current frame.
pub fn set_caller(caller: AccountId) {
    with(|e| e.frame_mut().caller = caller);
}

/// Sets the contract's own address (where its storage and balance are).
pub fn set_address(address: AccountId) {
    with(|e| e.frame_mut().address = address);
}

/// The contract's own address in the current frame.
pub fn address() -> AccountId {
    with(|e| e.frame().address)
}

/// Sets the value sent with the current call (balances are not touched; see [`pay`]).
pub fn set_value_transferred(value: Balance) {
    with(|e| e.frame_mut().value = value);
}

/// Sends `value` from the caller to the contract with the current call, as a payable call does:
/// moves the balance (under the ED rules) and sets the value transferred. Panics if the caller
/// cannot pay it, or the contract's account would be created below the existential deposit.
pub fn pay(value: Balance) {
    with(|e| {
        let (from, to) = (e.frame().caller, e.frame().address);
        if e.pay_value(&from, &to, value).is_err() {
            panic!(
                "test caller cannot pay {value}: it holds {}, or the contract's account would hold less than the existential deposit {}",
                e.balance(&from),
                e.economics.existential_deposit
            );
        }
        e.frame_mut().value = value;
    });
}

/// Sets the existential deposit and the storage deposit prices (see [`Economics`]).
pub fn set_economics(economics: Economics) {
    with(|e| e.economics = economics);
}

/// The existential deposit and the storage deposit prices in force.
pub fn economics() -> Economics {
    with(|e| e.economics)
}

/// The storage deposit `contract` holds: the sum of its depositors' shares (see
/// [`deposit_share`]).
pub fn storage_deposit_of(contract: &AccountId) -> Balance {
    with(|e| e.deposit_held(contract))
}

/// `who`'s share of `contract`'s storage deposit (the pallet's `deposit_share`): what `who`
/// paid as the origin of calls that grew its storage, less what it was refunded. Only this
/// much is refunded to `who` when it frees storage, and it is refunded in full when the
/// contract terminates.
pub fn deposit_share(contract: &AccountId, who: &AccountId) -> Balance {
    with(|e| e.share(contract, who))
}

/// The transaction's signer: the account that pays storage deposits and the endowment of
/// contracts `instantiate` creates (the test frame's caller, or the caller of an
/// [`execute_as`] run from test code).
pub fn origin() -> AccountId {
    with(|e| e.origin())
}

/// Sets an account's free balance (no existential deposit check).
pub fn set_balance(account: &AccountId, balance: Balance) {
    with(|e| {
        e.state.balances.insert(*account, balance);
    });
}

/// An account's free balance.
pub fn balance_of(account: &AccountId) -> Balance {
    with(|e| e.balance(account))
}

/// Sets the block number.
pub fn set_block_number(n: u64) {
    with(|e| e.block_number = n);
}

/// Moves to the next block, `ms` milliseconds later.
pub fn advance_block(ms: u64) {
    with(|e| {
        e.block_number += 1;
        e.now += ms;
    });
}

/// Sets the block time (ms since the Unix epoch).
pub fn set_now(ms: u64) {
    with(|e| e.now = ms);
}

/// Sets what `gas_left` answers (gas is not metered off-chain).
pub fn set_gas_left(gas: u64) {
    with(|e| e.gas_left = gas);
}

/// Sets the input `env::input` returns in the current frame.
pub fn set_input(input: Vec<u8>) {
    with(|e| e.frame_mut().input = input);
}

/// Every event emitted so far (minus those of reverted calls), oldest first.
pub fn events() -> Vec<EmittedEvent> {
    with(|e| e.state.events.clone())
}

/// The events emitted so far decoded as `E` (others skipped).
pub fn events_of<E: Event + Decode>() -> Vec<E> {
    events().iter().filter_map(EmittedEvent::decode::<E>).collect()
}

/// Forgets the events emitted so far.
pub fn clear_events() {
    with(|e| e.state.events.clear());
}

/// The debug messages so far (including panic messages of contracts run through [`execute`]).
pub fn debug_messages() -> Vec<String> {
    with(|e| e.debug.clone())
}

/// The value at `key` in `contract`'s storage.
pub fn storage_of(contract: &AccountId, key: &[u8]) -> Option<Vec<u8>> {
    with(|e| e.state.storage.get(contract).and_then(|s| s.get(key).cloned()))
}

/// Every storage entry of `contract`, by key.
pub fn storage_entries(contract: &AccountId) -> BTreeMap<Vec<u8>, Vec<u8>> {
    with(|e| e.state.storage.get(contract).cloned().unwrap_or_default())
}

/// Makes `address` a contract with `code_hash` whose messages `handler` answers (a real
/// contract's `Contract::__watt_call`, or a mock closure). Its storage starts empty unless
/// the test deploys it, e.g. by running `__watt_deploy` through [`execute_as`].
pub fn register_contract(address: AccountId, code_hash: Hash, handler: impl Fn(&[u8]) -> DispatchResult + 'static) {
    with(|e| {
        e.state.contracts.insert(address, (code_hash, Rc::new(handler)));
    });
}

/// "Uploads" code: `instantiate(code_hash, ..)` runs `deploy` and registers the new contract
/// with `call` as its message handler.
pub fn register_code(
    code_hash: Hash,
    deploy: impl Fn(&[u8]) -> DispatchResult + 'static,
    call: impl Fn(&[u8]) -> DispatchResult + 'static,
) {
    with(|e| {
        e.codes.insert(code_hash, (Rc::new(deploy), Rc::new(call)));
    });
}

/// Runs a dispatch function (e.g. `Token::__watt_call`) as one contract call with `input`, in
/// the current frame: the result as a caller would see it. On a revert, a dispatch error or a
/// panic (a trap) every change the call made is rolled back; a dispatch error's or panic's text
/// is added to [`debug_messages`]. When it succeeds, its storage deposit is settled with the
/// origin; a deposit the origin cannot pay fails the call like a trap.
pub fn execute(handler: impl Fn(&[u8]) -> DispatchResult, input: &[u8]) -> Result<Vec<u8>, CallError> {
    let snapshot = with(|e| {
        e.frame_mut().input = input.to_vec();
        e.state.clone()
    });
    let result = run_unit(&handler, input);
    if result.is_err() {
        with(|e| e.state = snapshot);
    }
    result
}

/// [`execute`] as a call from `caller` to `address` with `value` (moved from the caller first):
/// a new frame, like a transaction or a contract's call. Run from test code (no contract code
/// running), it is a transaction signed by `caller`: `caller` is the origin that pays the
/// value without keeping the existential deposit, and pays the storage deposit.
pub fn execute_as(
    caller: AccountId,
    address: AccountId,
    value: Balance,
    handler: impl Fn(&[u8]) -> DispatchResult,
    input: &[u8],
) -> Result<Vec<u8>, CallError> {
    let (snapshot, saved_origin) = with(|e| {
        let saved = e.origin;
        if e.frames.len() == 1 && e.frames[0].units == 0 {
            e.origin = Some(caller);
        }
        (e.state.clone(), saved)
    });
    let result = if with(|e| e.pay_value(&caller, &address, value)).is_err() {
        Err(CallError::TransferFailed)
    } else {
        run_in_new_frame(Frame::new(caller, address, value, input.to_vec()), &handler, input)
    };
    with(|e| {
        if result.is_err() {
            e.state = snapshot;
        }
        e.origin = saved_origin;
    });
    result
}

/// Runs `handler` as the outermost unit of a new frame on top of the stack: pushes the frame,
/// runs, pops it, settles its deposit when it succeeded. No rollback here.
fn run_in_new_frame(
    frame: Frame,
    handler: &dyn Fn(&[u8]) -> DispatchResult,
    input: &[u8],
) -> Result<Vec<u8>, CallError> {
    let depth = with(|e| {
        e.frames.push(frame);
        e.frames.len()
    });
    let result = run_unit(handler, input);
    with(|e| {
        debug_assert_eq!(e.frames.len(), depth, "frames are balanced");
        e.frames.pop();
    });
    result
}

/// Runs `handler` in the current frame as one unit: catches unwinds, and when it succeeds
/// settles the storage deposit its writes owe (a deposit the origin cannot pay turns the
/// outcome into a trap, with the reason in the debug buffer). No rollback here.
fn run_unit(handler: &dyn Fn(&[u8]) -> DispatchResult, input: &[u8]) -> Result<Vec<u8>, CallError> {
    let saved_delta = with(|e| {
        let f = e.frame_mut();
        f.units += 1;
        core::mem::take(&mut f.deposit_delta)
    });
    let mut result = run_guarded(handler, input);
    with(|e| {
        let f = e.frame_mut();
        f.units -= 1;
        let delta = core::mem::replace(&mut f.deposit_delta, saved_delta);
        let me = f.address;
        if result.is_ok() {
            if let Err(why) = e.settle(&me, delta) {
                e.debug.push(why);
                result = Err(CallError::Trapped);
            }
        }
    });
    result
}

/// Runs `handler` catching unwinds: the outcome as a caller sees it (no rollback here).
fn run_guarded(handler: &dyn Fn(&[u8]) -> DispatchResult, input: &[u8]) -> Result<Vec<u8>, CallError> {
    install_quiet_exit_hook();
    let caught = catch_unwind(AssertUnwindSafe(|| handler(input)));
    with(|e| e.exit_success = None);
    match caught {
        Ok(Ok(Outcome { revert: false, output })) => Ok(output),
        Ok(Ok(Outcome { revert: true, output })) => Err(CallError::Reverted(output)),
        Ok(Err(dispatch)) => {
            host::debug_message(&dispatch_text(&dispatch));
            Err(CallError::Reverted(Vec::new()))
        }
        Err(payload) => match payload.downcast::<ContractExit>() {
            Ok(exit) => match *exit {
                ContractExit::Return { revert: false, data } => Ok(data),
                ContractExit::Return { revert: true, data } => Err(CallError::Reverted(data)),
                ContractExit::Terminated { .. } => Ok(Vec::new()),
            },
            Err(other) => {
                let text = other
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| other.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "panic".to_string());
                host::debug_message(&std::format!("panic: {text}"));
                Err(CallError::Trapped)
            }
        },
    }
}

/// A message running natively: `#[contract]` wraps each message's body in one, so that a
/// message a test calls directly (not through [`execute`]) behaves as on chain. The outermost
/// unit of a frame snapshots the environment when it begins; when it ends with a revert (the
/// message returned a value that [`crate::dispatch::Reverts`], e.g. an `Err`) or unwinds with
/// a panic, the snapshot is restored (storage, events, balances, deposits); when it succeeds,
/// the storage deposit its writes owe is settled with the origin (panicking, like a trap,
/// when the origin cannot pay). A unit inside another one (a message calling a message, or a
/// message run by [`execute`] or a cross-contract call, which roll back themselves) does
/// nothing.
#[doc(hidden)]
pub struct MessageUnit {
    /// The environment before the outermost unit began; `None` for an inner one.
    snapshot: Option<State>,
    ended: bool,
}

impl MessageUnit {
    /// Begins a unit in the current frame.
    pub fn begin() -> Self {
        with(|e| {
            let f = e.frame_mut();
            f.units += 1;
            let outermost = f.units == 1;
            if outermost {
                f.deposit_delta = 0;
                e.exit_success = None;
            }
            MessageUnit {
                snapshot: outermost.then(|| e.state.clone()),
                ended: false,
            }
        })
    }

    /// Whether this is the frame's outermost unit (the one that rolls back and settles).
    pub fn is_outermost(&self) -> bool {
        self.snapshot.is_some()
    }

    /// Ends the unit: rolls back when `revert`, else settles the deposit. Returns whether
    /// the environment was rolled back (always `false` for an inner unit).
    pub fn end(mut self, revert: bool) -> bool {
        self.ended = true;
        let snapshot = self.snapshot.take();
        let outermost = snapshot.is_some();
        let failure = with(|e| {
            let f = e.frame_mut();
            f.units -= 1;
            let snapshot = snapshot?;
            let delta = core::mem::take(&mut f.deposit_delta);
            let me = f.address;
            if revert {
                e.state = snapshot;
                return None;
            }
            match e.settle(&me, delta) {
                Ok(()) => None,
                Err(why) => {
                    e.state = snapshot;
                    Some(why)
                }
            }
        });
        if let Some(why) = failure {
            panic!("{why}");
        }
        revert && outermost
    }
}

impl Drop for MessageUnit {
    /// A unit dropped without [`MessageUnit::end`] is unwinding: a trap, unless the message
    /// ended the call successfully with `return_value` / `terminate`.
    fn drop(&mut self) {
        if self.ended {
            return;
        }
        let snapshot = self.snapshot.take();
        with(|e| {
            let success = e.exit_success == Some(true);
            let f = e.frame_mut();
            f.units = f.units.saturating_sub(1);
            if let Some(snapshot) = snapshot {
                let delta = core::mem::take(&mut f.deposit_delta);
                let me = f.address;
                if !success || e.settle(&me, delta).is_err() {
                    e.state = snapshot;
                }
            }
        });
    }
}

fn dispatch_text(e: &DispatchError) -> String {
    e.to_string()
}

/// The native backend of [`crate::env`].
pub(crate) mod host {
    use super::*;

    pub fn input() -> Vec<u8> {
        with(|e| e.frame().input.clone())
    }

    pub fn return_value(revert: bool, data: &[u8]) -> ! {
        install_quiet_exit_hook();
        with(|e| e.exit_success = Some(!revert));
        std::panic::panic_any(ContractExit::Return {
            revert,
            data: data.to_vec(),
        })
    }

    fn check_key(key: &[u8]) {
        assert!(
            key.len() <= 128,
            "storage key of {} bytes; the ABI allows 128 (this traps on chain)",
            key.len()
        );
    }

    pub fn set_storage(key: &[u8], value: &[u8]) -> Option<u32> {
        check_key(key);
        assert!(
            value.len() <= 16 * 1024,
            "storage value over 16 KiB (this traps on chain)"
        );
        let done = with(|e| {
            let old = e.own_storage().get(key).map(Vec::len);
            let delta = e.storage_delta(key.len(), old, Some(value.len()));
            e.record_storage(delta)?;
            Ok(e.own_storage()
                .insert(key.to_vec(), value.to_vec())
                .map(|v| v.len() as u32))
        });
        done.unwrap_or_else(|why: String| panic!("{why}"))
    }

    pub fn get_storage(key: &[u8]) -> Option<Vec<u8>> {
        check_key(key);
        with(|e| e.own_storage().get(key).cloned())
    }

    pub fn clear_storage(key: &[u8]) -> Option<u32> {
        check_key(key);
        let done = with(|e| {
            let Some(old) = e.own_storage().get(key).map(Vec::len) else {
                return Ok(None);
            };
            let delta = e.storage_delta(key.len(), Some(old), None);
            e.record_storage(delta)?;
            Ok(e.own_storage().remove(key).map(|v| v.len() as u32))
        });
        done.unwrap_or_else(|why: String| panic!("{why}"))
    }

    pub fn contains_storage(key: &[u8]) -> Option<u32> {
        check_key(key);
        with(|e| e.own_storage().get(key).map(|v| v.len() as u32))
    }

    pub fn caller() -> AccountId {
        with(|e| e.frame().caller)
    }

    pub fn address() -> AccountId {
        with(|e| e.frame().address)
    }

    pub fn value_transferred() -> Balance {
        with(|e| e.frame().value)
    }

    pub fn balance() -> Balance {
        with(|e| e.balance(&e.frame().address))
    }

    pub fn balance_of(account: &AccountId) -> Balance {
        with(|e| e.balance(account))
    }

    pub fn block_number() -> u64 {
        with(|e| e.block_number)
    }

    pub fn now() -> u64 {
        with(|e| e.now)
    }

    pub fn gas_left() -> u64 {
        with(|e| e.gas_left)
    }

    pub fn is_contract(account: &AccountId) -> bool {
        with(|e| e.state.contracts.contains_key(account))
    }

    pub fn code_hash(account: &AccountId) -> Result<Hash, Error> {
        with(|e| e.state.contracts.get(account).map(|c| c.0).ok_or(Error::NotAContract))
    }

    pub fn transfer(to: &AccountId, value: Balance) -> Result<(), Error> {
        with(|e| {
            // A contract paying keeps its existential deposit.
            let from = e.frame().address;
            e.transfer(&from, to, value, true)
        })
    }

    pub fn deposit_event(topics: &[[u8; 32]], data: &[u8]) {
        assert!(
            topics.len() <= 4,
            "{} topics; the ABI allows 4 (this traps on chain)",
            topics.len()
        );
        assert!(data.len() <= 16 * 1024, "event data over 16 KiB (this traps on chain)");
        with(|e| {
            let contract = e.frame().address;
            e.state.events.push(EmittedEvent {
                contract,
                topics: topics.to_vec(),
                data: data.to_vec(),
            })
        });
    }

    /// Runs `handler` in a new frame for `callee` after `value` is paid (by the current
    /// contract); rolls back to `snapshot` on any failure; maps an output larger than
    /// `output_capacity` to the error a caller sees.
    fn nested(
        callee: AccountId,
        value: Balance,
        input: &[u8],
        handler: &dyn Fn(&[u8]) -> DispatchResult,
        snapshot: State,
        output_capacity: usize,
    ) -> Result<Vec<u8>, CallError> {
        let me = with(|e| e.frame().address);
        let result = if with(|e| e.pay_value(&me, &callee, value)).is_err() {
            Err(CallError::TransferFailed)
        } else {
            run_in_new_frame(Frame::new(me, callee, value, input.to_vec()), handler, input)
        };
        if result.is_err() {
            with(|e| e.state = snapshot);
        }
        match result {
            Ok(out) if out.len() > output_capacity => Err(CallError::OutputTooLarge {
                needed: out.len() as u32,
            }),
            Err(CallError::Reverted(out)) if out.len() > output_capacity => Err(CallError::RevertedOutputTooLarge {
                needed: out.len() as u32,
            }),
            other => other,
        }
    }

    fn check_stack(callee: &AccountId) -> Result<(), CallError> {
        with(|e| {
            // frames[0] is the test's own frame: the contract under test at depth 1.
            if e.frames.len() >= MAX_CALL_DEPTH {
                return Err(CallError::MaxDepth);
            }
            if e.frames.iter().any(|f| f.address == *callee) {
                return Err(CallError::ReentranceDenied);
            }
            Ok(())
        })
    }

    pub fn call(
        callee: &AccountId,
        value: Balance,
        input: &[u8],
        _gas_limit: u64,
        output_capacity: usize,
    ) -> Result<Vec<u8>, CallError> {
        let handler = with(|e| e.state.contracts.get(callee).map(|c| c.1.clone())).ok_or(CallError::NotAContract)?;
        check_stack(callee)?;
        let snapshot = with(|e| e.state.clone());
        nested(*callee, value, input, &*handler, snapshot, output_capacity)
    }

    pub fn instantiate(
        code_hash: &Hash,
        value: Balance,
        input: &[u8],
        salt: &[u8],
        _gas_limit: u64,
        output_capacity: usize,
    ) -> Result<(AccountId, Vec<u8>), CallError> {
        let (deploy, call) = with(|e| e.codes.get(code_hash).cloned()).ok_or(CallError::CodeNotFound)?;
        let new = crate::env::contract_address(&address(), code_hash, salt);
        if is_contract(&new) {
            return Err(CallError::DuplicateContract);
        }
        check_stack(&new)?;
        let endowed = with(|e| {
            let snapshot = e.state.clone();
            e.state.contracts.insert(new, (*code_hash, call));
            // The origin endows the new account with the existential deposit.
            let ed = e.economics.existential_deposit;
            let origin = e.origin();
            if ed > 0 && e.transfer(&origin, &new, ed, false).is_err() {
                e.state = snapshot;
                e.debug.push(std::format!(
                    "storage deposit not paid: the origin {origin:?} cannot endow the new contract with the existential deposit {ed}"
                ));
                return Err(CallError::Trapped);
            }
            Ok(snapshot)
        });
        nested(new, value, input, &*deploy, endowed?, output_capacity).map(|out| (new, out))
    }

    pub fn terminate(beneficiary: &AccountId) -> ! {
        let refused = with(|e| {
            let me = e.frame().address;
            let all = e.balance(&me);
            if all > 0 && e.transfer(&me, beneficiary, all, false).is_err() {
                return true;
            }
            e.state.storage.remove(&me);
            e.state.contracts.remove(&me);
            // The deposit is not the beneficiary's: each depositor's share goes back to it (the
            // chain's deletion queue does this after the block; here at once). A share that
            // would create its payer's account below the ED is not paid (on chain it stays in
            // the deposit account). Every deposit here has a payer of record, so nothing is
            // left for the deployer. What this frame's own writes owed or freed is moot: the
            // storage is gone and every share is refunded in full.
            let shares = e.state.deposits.remove(&me).unwrap_or_default();
            for (payer, share) in shares {
                e.credit_refund(&payer, share);
            }
            e.frame_mut().deposit_delta = 0;
            e.exit_success = Some(true);
            false
        });
        assert!(
            !refused,
            "terminate: the beneficiary cannot receive the balance (this traps on chain)"
        );
        install_quiet_exit_hook();
        std::panic::panic_any(ContractExit::Terminated {
            beneficiary: *beneficiary,
        })
    }

    pub fn hash_blake2_256(data: &[u8]) -> [u8; 32] {
        Blake2b::<U32>::digest(data).into()
    }

    pub fn hash_blake2_128(data: &[u8]) -> [u8; 16] {
        Blake2b::<U16>::digest(data).into()
    }

    pub fn sr25519_verify(signature: &[u8; 64], public_key: &[u8; 32], message: &[u8]) -> Result<(), Error> {
        let pk = schnorrkel::PublicKey::from_bytes(public_key).map_err(|_| Error::InvalidSignature)?;
        let sig = schnorrkel::Signature::from_bytes(signature).map_err(|_| Error::InvalidSignature)?;
        pk.verify_simple(b"watt", message, &sig)
            .map_err(|_| Error::InvalidSignature)
    }

    pub fn debug_message(message: &str) {
        with(|e| e.debug.push(message.to_string()));
    }
}
