//! Cross-contract calls and instantiation by selector (ABI.md "Calling other contracts" and
//! "Selectors and encoding": input = selector ++ SCALE(args), output = SCALE(return value)).
//!
//! ```ignore
//! let ok: Result<(), TokenError> = CallBuilder::new(token, selector!("transfer"))
//!     .arg(&to)
//!     .arg(&amount)
//!     .invoke()?;
//! ```

use crate::types::{AccountId, Balance, Error, Hash, Selector};
use alloc::vec::Vec;
use core::fmt;
use parity_scale_codec::{Decode, Encode};

/// The output buffer a call reads back unless told otherwise: 16 KiB, the largest storage value.
pub const DEFAULT_OUTPUT_CAPACITY: usize = 16 * 1024;

/// Why a cross-contract call or instantiation failed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum CallError {
    /// The callee trapped or ran out of gas; its changes are reverted.
    Trapped,
    /// The callee reverted with this output (by convention SCALE(Err(e))); its changes are
    /// reverted.
    Reverted(Vec<u8>),
    /// The callee holds no contract.
    NotAContract,
    /// This contract's balance cannot pay the value sent.
    TransferFailed,
    /// The call stack is already `MAX_CALL_DEPTH` deep.
    MaxDepth,
    /// The callee is already on the call stack.
    ReentranceDenied,
    /// `instantiate`: no code under that hash.
    CodeNotFound,
    /// `instantiate`: the address already holds a contract.
    DuplicateContract,
    /// The callee succeeded or reverted, but its output (`needed` bytes) did not fit the
    /// buffer. The callee is not run again (it has run); raise `output_capacity` instead.
    OutputTooLarge {
        /// The output's length.
        needed: u32,
    },
    /// The callee's output does not decode as the expected type.
    Decode,
    /// A return code this SDK does not know.
    Unknown(i32),
}

impl CallError {
    /// The error of a non-success return code of `call` / `instantiate` (outputs aside).
    pub fn from_code(code: i32) -> Self {
        match Error::check(code) {
            Ok(()) => CallError::Unknown(0),
            Err(Error::CalleeTrapped) => CallError::Trapped,
            Err(Error::CalleeReverted) => CallError::Reverted(Vec::new()),
            Err(Error::NotAContract) => CallError::NotAContract,
            Err(Error::TransferFailed) => CallError::TransferFailed,
            Err(Error::MaxDepth) => CallError::MaxDepth,
            Err(Error::ReentranceDenied) => CallError::ReentranceDenied,
            Err(Error::CodeNotFound) => CallError::CodeNotFound,
            Err(Error::DuplicateContract) => CallError::DuplicateContract,
            Err(other) => CallError::Unknown(other.code()),
        }
    }

    /// Decodes a reverted callee's output as `E` (by convention a revert carries
    /// SCALE(Err(e)) of the message's `Result<T, E>`).
    pub fn revert_error<T: Decode, E: Decode>(&self) -> Option<E> {
        match self {
            CallError::Reverted(out) => match Result::<T, E>::decode(&mut &out[..]) {
                Ok(Err(e)) => Some(e),
                _ => None,
            },
            _ => None,
        }
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CallError::Trapped => f.write_str("the callee trapped or ran out of gas"),
            CallError::Reverted(out) => write!(f, "the callee reverted ({} bytes of output)", out.len()),
            CallError::NotAContract => f.write_str("the callee holds no contract"),
            CallError::TransferFailed => f.write_str("the value could not be transferred"),
            CallError::MaxDepth => f.write_str("the call stack is too deep"),
            CallError::ReentranceDenied => f.write_str("the callee is already on the call stack"),
            CallError::CodeNotFound => f.write_str("no code was uploaded under that hash"),
            CallError::DuplicateContract => f.write_str("that address already holds a contract"),
            CallError::OutputTooLarge { needed } => write!(f, "the callee's output ({needed} bytes) did not fit"),
            CallError::Decode => f.write_str("the callee's output does not decode"),
            CallError::Unknown(c) => write!(f, "unknown return code {c}"),
        }
    }
}

/// A call to another contract's message.
#[derive(Clone, Debug)]
pub struct CallBuilder {
    callee: AccountId,
    value: Balance,
    gas_limit: u64,
    input: Vec<u8>,
    output_capacity: usize,
}

impl CallBuilder {
    /// A call of the message with `selector` on `callee`: no value, all gas left, no args yet.
    pub fn new(callee: AccountId, selector: Selector) -> Self {
        let mut input = Vec::with_capacity(64);
        input.extend_from_slice(&selector.0);
        CallBuilder {
            callee,
            value: 0,
            gas_limit: 0,
            input,
            output_capacity: DEFAULT_OUTPUT_CAPACITY,
        }
    }

    /// Sends `value` with the call (the message must be payable).
    pub fn value(mut self, value: Balance) -> Self {
        self.value = value;
        self
    }

    /// Caps the callee's gas (0, the default, means all gas left).
    pub fn gas_limit(mut self, gas: u64) -> Self {
        self.gas_limit = gas;
        self
    }

    /// Appends the next argument, SCALE-encoded.
    pub fn arg<T: Encode + ?Sized>(mut self, arg: &T) -> Self {
        arg.encode_to(&mut self.input);
        self
    }

    /// Appends already SCALE-encoded arguments.
    pub fn raw_args(mut self, encoded: &[u8]) -> Self {
        self.input.extend_from_slice(encoded);
        self
    }

    /// The most output bytes read back (default [`DEFAULT_OUTPUT_CAPACITY`]). A larger output
    /// fails with [`CallError::OutputTooLarge`]: the call is not retried, since the callee has
    /// already run.
    pub fn output_capacity(mut self, bytes: usize) -> Self {
        self.output_capacity = bytes;
        self
    }

    /// The input this call sends.
    pub fn input(&self) -> &[u8] {
        &self.input
    }

    /// Runs the call; the callee's raw output.
    pub fn invoke_raw(self) -> Result<Vec<u8>, CallError> {
        crate::env::call(
            &self.callee,
            self.value,
            &self.input,
            self.gas_limit,
            self.output_capacity,
        )
    }

    /// Runs the call and decodes its output as `R` (the message's return type).
    pub fn invoke<R: Decode>(self) -> Result<R, CallError> {
        let out = self.invoke_raw()?;
        R::decode(&mut &out[..]).map_err(|_| CallError::Decode)
    }
}

/// `call(callee, value, selector, args, gas)`: calls a message with `args` (a tuple, SCALE of a
/// tuple being its elements' encodings one after the other) and decodes its output as `R`.
pub fn call<A: Encode, R: Decode>(
    callee: AccountId,
    value: Balance,
    selector: Selector,
    args: &A,
    gas_limit: u64,
) -> Result<R, CallError> {
    CallBuilder::new(callee, selector)
        .value(value)
        .gas_limit(gas_limit)
        .arg(args)
        .invoke()
}

/// The instantiation of a contract from uploaded code, running the constructor `selector`.
#[derive(Clone, Debug)]
pub struct InstantiateBuilder {
    code_hash: Hash,
    value: Balance,
    gas_limit: u64,
    input: Vec<u8>,
    salt: Vec<u8>,
    output_capacity: usize,
}

impl InstantiateBuilder {
    /// Instantiates `code_hash` with constructor `selector`: no value, all gas, empty salt.
    pub fn new(code_hash: Hash, selector: Selector) -> Self {
        let mut input = Vec::with_capacity(64);
        input.extend_from_slice(&selector.0);
        InstantiateBuilder {
            code_hash,
            value: 0,
            gas_limit: 0,
            input,
            salt: Vec::new(),
            output_capacity: DEFAULT_OUTPUT_CAPACITY,
        }
    }

    /// Endows the new contract with `value`.
    pub fn value(mut self, value: Balance) -> Self {
        self.value = value;
        self
    }

    /// Caps the constructor's gas (0 means all gas left).
    pub fn gas_limit(mut self, gas: u64) -> Self {
        self.gas_limit = gas;
        self
    }

    /// Appends the next constructor argument, SCALE-encoded.
    pub fn arg<T: Encode + ?Sized>(mut self, arg: &T) -> Self {
        arg.encode_to(&mut self.input);
        self
    }

    /// The salt of the address (`blake2b-256("watt:contract" ++ deployer ++ code_hash ++ salt)`).
    pub fn salt(mut self, salt: &[u8]) -> Self {
        self.salt = salt.to_vec();
        self
    }

    /// The most constructor output bytes read back.
    pub fn output_capacity(mut self, bytes: usize) -> Self {
        self.output_capacity = bytes;
        self
    }

    /// Instantiates; the new contract's address and the constructor's raw output.
    pub fn instantiate(self) -> Result<(AccountId, Vec<u8>), CallError> {
        crate::env::instantiate(
            &self.code_hash,
            self.value,
            &self.input,
            &self.salt,
            self.gas_limit,
            self.output_capacity,
        )
    }
}
