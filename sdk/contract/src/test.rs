//! The off-chain test environment (native builds only): a thread-local fake chain that serves
//! every [`crate::env`] function, so contract unit tests call message methods directly on the
//! storage struct, or run the generated dispatch (`Contract::__watt_call`) through [`execute`].
//!
//! What it models: the caller, own address and value of the current frame; balances (transfers
//! move them, no existential deposit); block number, time and gas left (set by the test, not
//! metered); storage per contract address; events with their topics and data; debug messages;
//! cross-contract `call` / `instantiate` to contracts registered natively (a closure, or a real
//! contract's generated dispatch), with value transfer, reentrancy denial, the depth limit (8)
//! and the callee's changes rolled back when it reverts, fails to dispatch or panics (a trap);
//! `terminate`; sr25519 verification (schnorrkel, context `watt`).
//!
//! Not modelled: gas metering and storage deposits; `return_value` / `terminate` called outside
//! [`execute`] or a cross-contract call unwind the test (with a [`ContractExit`] payload).
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

#[derive(Clone)]
struct Frame {
    caller: AccountId,
    address: AccountId,
    value: Balance,
    input: Vec<u8>,
}

/// What a revert undoes.
#[derive(Clone, Default)]
struct State {
    storage: BTreeMap<AccountId, BTreeMap<Vec<u8>, Vec<u8>>>,
    balances: BTreeMap<AccountId, Balance>,
    events: Vec<EmittedEvent>,
    /// Contracts: code hash and call handler.
    contracts: BTreeMap<AccountId, (Hash, Handler)>,
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
}

impl Engine {
    fn new() -> Self {
        Engine {
            state: State::default(),
            frames: std::vec![Frame {
                caller: default_accounts().alice,
                address: CONTRACT,
                value: 0,
                input: Vec::new()
            }],
            block_number: 1,
            now: 0,
            gas_left: 1_000_000_000,
            debug: Vec::new(),
            codes: BTreeMap::new(),
        }
    }

    fn frame(&self) -> &Frame {
        self.frames.last().expect("the test frame is never popped")
    }

    fn frame_mut(&mut self) -> &mut Frame {
        self.frames.last_mut().expect("the test frame is never popped")
    }

    fn balance(&self, who: &AccountId) -> Balance {
        self.state.balances.get(who).copied().unwrap_or(0)
    }

    fn move_value(&mut self, from: &AccountId, to: &AccountId, value: Balance) -> Result<(), Error> {
        if value == 0 {
            return Ok(());
        }
        let have = self.balance(from);
        if have < value {
            return Err(Error::TransferFailed);
        }
        self.state.balances.insert(*from, have - value);
        let to_have = self.balance(to);
        self.state.balances.insert(*to, to_have.saturating_add(value));
        Ok(())
    }

    fn own_storage(&mut self) -> &mut BTreeMap<Vec<u8>, Vec<u8>> {
        let me = self.frame().address;
        self.state.storage.entry(me).or_default()
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
/// moves the balance and sets the value transferred. Panics if the caller cannot pay.
pub fn pay(value: Balance) {
    with(|e| {
        let (from, to) = (e.frame().caller, e.frame().address);
        e.move_value(&from, &to, value)
            .expect("test caller cannot pay this value");
        e.frame_mut().value = value;
    });
}

/// Sets an account's free balance.
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
/// is added to [`debug_messages`].
pub fn execute(handler: impl Fn(&[u8]) -> DispatchResult, input: &[u8]) -> Result<Vec<u8>, CallError> {
    let snapshot = with(|e| {
        e.frame_mut().input = input.to_vec();
        e.state.clone()
    });
    let result = run_guarded(&handler, input);
    if result.is_err() {
        with(|e| e.state = snapshot);
    }
    result
}

/// [`execute`] as a call from `caller` to `address` with `value` (moved from the caller first):
/// a new frame, like a transaction or a contract's call.
pub fn execute_as(
    caller: AccountId,
    address: AccountId,
    value: Balance,
    handler: impl Fn(&[u8]) -> DispatchResult,
    input: &[u8],
) -> Result<Vec<u8>, CallError> {
    let snapshot = with(|e| e.state.clone());
    if with(|e| e.move_value(&caller, &address, value)).is_err() {
        return Err(CallError::TransferFailed);
    }
    with(|e| {
        e.frames.push(Frame {
            caller,
            address,
            value,
            input: input.to_vec(),
        })
    });
    let result = run_guarded(&handler, input);
    with(|e| {
        e.frames.pop();
        if result.is_err() {
            e.state = snapshot;
        }
    });
    result
}

/// Runs `handler` catching unwinds: the outcome as a caller sees it (no rollback here).
fn run_guarded(handler: &dyn Fn(&[u8]) -> DispatchResult, input: &[u8]) -> Result<Vec<u8>, CallError> {
    install_quiet_exit_hook();
    match catch_unwind(AssertUnwindSafe(|| handler(input))) {
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
        with(|e| {
            e.own_storage()
                .insert(key.to_vec(), value.to_vec())
                .map(|v| v.len() as u32)
        })
    }

    pub fn get_storage(key: &[u8]) -> Option<Vec<u8>> {
        check_key(key);
        with(|e| e.own_storage().get(key).cloned())
    }

    pub fn clear_storage(key: &[u8]) -> Option<u32> {
        check_key(key);
        with(|e| e.own_storage().remove(key).map(|v| v.len() as u32))
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
            let from = e.frame().address;
            e.move_value(&from, to, value)
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

    /// Pushes a frame for `callee`, runs `handler`, pops it; rolls back on failure.
    fn nested(
        callee: AccountId,
        value: Balance,
        input: &[u8],
        handler: &dyn Fn(&[u8]) -> DispatchResult,
        snapshot: State,
        output_capacity: usize,
    ) -> Result<Vec<u8>, CallError> {
        let moved = with(|e| {
            let me = e.frame().address;
            if e.move_value(&me, &callee, value).is_err() {
                return false;
            }
            e.frames.push(Frame {
                caller: me,
                address: callee,
                value,
                input: input.to_vec(),
            });
            true
        });
        if !moved {
            with(|e| e.state = snapshot);
            return Err(CallError::TransferFailed);
        }
        let result = run_guarded(handler, input);
        with(|e| {
            e.frames.pop();
            if matches!(result, Err(CallError::Trapped | CallError::Reverted(_))) {
                e.state = snapshot;
            }
        });
        match result {
            Ok(out) | Err(CallError::Reverted(out)) if out.len() > output_capacity => Err(CallError::OutputTooLarge {
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
        let deployer = address();
        let mut preimage = Vec::with_capacity(13 + 64 + salt.len());
        preimage.extend_from_slice(b"watt:contract");
        preimage.extend_from_slice(&deployer.0);
        preimage.extend_from_slice(&code_hash.0);
        preimage.extend_from_slice(salt);
        let new = AccountId(hash_blake2_256(&preimage));
        if is_contract(&new) {
            return Err(CallError::DuplicateContract);
        }
        check_stack(&new)?;
        let snapshot = with(|e| {
            let snapshot = e.state.clone();
            e.state.contracts.insert(new, (*code_hash, call));
            snapshot
        });
        nested(new, value, input, &*deploy, snapshot, output_capacity).map(|out| (new, out))
    }

    pub fn terminate(beneficiary: &AccountId) -> ! {
        with(|e| {
            let me = e.frame().address;
            let all = e.balance(&me);
            let _ = e.move_value(&me, beneficiary, all);
            e.state.storage.remove(&me);
            e.state.contracts.remove(&me);
        });
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
