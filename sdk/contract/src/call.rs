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
    /// The callee's output (`needed` bytes) did not fit the buffer and the callee did not
    /// revert as far as this contract can tell: its changes stand. The callee is not run again
    /// (it has run); raise `output_capacity` instead.
    ///
    /// For `call` the host's `BUFFER_TOO_SMALL` does not say whether the callee reverted (see
    /// ABI.md "call"), so on chain this may also be a callee that reverted; a host that reports
    /// such a revert as `CALLEE_REVERTED` with the needed length gives
    /// [`CallError::RevertedOutputTooLarge`] instead. For `instantiate` the SDK tells them apart
    /// (a reverted constructor leaves no contract at the new address).
    OutputTooLarge {
        /// The output's length.
        needed: u32,
    },
    /// The callee reverted (its changes are undone), but its output (`needed` bytes, by
    /// convention SCALE(Err(e))) did not fit the buffer, so it was not read. Raise
    /// `output_capacity` to read it next time.
    RevertedOutputTooLarge {
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

    /// Whether the callee reverted: [`CallError::Reverted`] or
    /// [`CallError::RevertedOutputTooLarge`].
    pub fn is_revert(&self) -> bool {
        matches!(self, CallError::Reverted(_) | CallError::RevertedOutputTooLarge { .. })
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
            CallError::RevertedOutputTooLarge { needed } => {
                write!(f, "the callee reverted; its output ({needed} bytes) did not fit")
            }
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
    /// fails with [`CallError::OutputTooLarge`], or [`CallError::RevertedOutputTooLarge`] when
    /// the callee is known to have reverted: the call is not retried, since the callee has
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

/// What a `call` / `instantiate` return code means, given the length word the host left and the
/// buffer's capacity (ABI.md "Calling other contracts" and "Values in memory").
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) enum CallCode {
    /// The output (`len` bytes, at most the capacity) was written at the buffer: `SUCCESS`, or
    /// `CALLEE_REVERTED` when `reverted`.
    Written {
        /// The revert flag.
        reverted: bool,
        /// The output's length.
        len: u32,
    },
    /// Nothing usable was written.
    Failed(CallError),
}

/// Classifies a `call` / `instantiate` return `code`. `len` is the length word after the call.
/// `succeeded` answers, only when the host said `BUFFER_TOO_SMALL`, whether the callee is known
/// to have succeeded (`Some(true)`), known to have reverted (`Some(false)`) or not known
/// (`None`, the case of `call`).
///
/// A `CALLEE_REVERTED` whose length word exceeds the capacity (a host that reports a revert
/// whose output does not fit as a revert, writing only the needed length) is
/// [`CallError::RevertedOutputTooLarge`]; the buffer is never read past what fits.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn classify_call_code(
    code: i32,
    len: u32,
    capacity: usize,
    succeeded: impl FnOnce() -> Option<bool>,
) -> CallCode {
    const SUCCESS: i32 = 0;
    const CALLEE_REVERTED: i32 = 2;
    const BUFFER_TOO_SMALL: i32 = 4;
    let fits = len as usize <= capacity;
    match code {
        SUCCESS if fits => CallCode::Written { reverted: false, len },
        // A faulty host: success with more than the buffer holds. Nothing is read.
        SUCCESS => CallCode::Failed(CallError::OutputTooLarge { needed: len }),
        CALLEE_REVERTED if fits => CallCode::Written { reverted: true, len },
        CALLEE_REVERTED => CallCode::Failed(CallError::RevertedOutputTooLarge { needed: len }),
        BUFFER_TOO_SMALL => match succeeded() {
            Some(false) => CallCode::Failed(CallError::RevertedOutputTooLarge { needed: len }),
            _ => CallCode::Failed(CallError::OutputTooLarge { needed: len }),
        },
        other => CallCode::Failed(CallError::from_code(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEVER: fn() -> Option<bool> = || panic!("asked only after BUFFER_TOO_SMALL");

    #[test]
    fn success_and_revert_that_fit_are_written() {
        assert_eq!(
            classify_call_code(0, 3, 8, NEVER),
            CallCode::Written {
                reverted: false,
                len: 3
            }
        );
        assert_eq!(
            classify_call_code(2, 8, 8, NEVER),
            CallCode::Written { reverted: true, len: 8 }
        );
    }

    #[test]
    fn a_revert_reported_with_a_larger_length_is_a_revert_not_read() {
        assert_eq!(
            classify_call_code(2, 9, 8, NEVER),
            CallCode::Failed(CallError::RevertedOutputTooLarge { needed: 9 })
        );
    }

    #[test]
    fn buffer_too_small_is_a_revert_when_the_callee_is_known_to_have_reverted() {
        assert_eq!(
            classify_call_code(4, 100, 8, || Some(false)),
            CallCode::Failed(CallError::RevertedOutputTooLarge { needed: 100 })
        );
        assert_eq!(
            classify_call_code(4, 100, 8, || Some(true)),
            CallCode::Failed(CallError::OutputTooLarge { needed: 100 })
        );
        assert_eq!(
            classify_call_code(4, 100, 8, || None),
            CallCode::Failed(CallError::OutputTooLarge { needed: 100 })
        );
    }

    #[test]
    fn other_codes_are_their_errors() {
        assert_eq!(classify_call_code(1, 0, 8, NEVER), CallCode::Failed(CallError::Trapped));
        assert_eq!(
            classify_call_code(10, 0, 8, NEVER),
            CallCode::Failed(CallError::ReentranceDenied)
        );
        assert_eq!(
            classify_call_code(0, 9, 8, NEVER),
            CallCode::Failed(CallError::OutputTooLarge { needed: 9 })
        );
    }
}
