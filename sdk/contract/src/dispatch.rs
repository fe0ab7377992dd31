//! The runtime half of the generated dispatch: splitting the selector, decoding arguments,
//! the payable check, loading state, and (on wasm32) turning the result into `return_value`.
//!
//! `#[contract]` generates `Storage::__watt_deploy(input)` and `Storage::__watt_call(input)`,
//! pure functions over these helpers, so the dispatch runs natively in tests as it does on chain.

use crate::storage::ContractStorage;
use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use parity_scale_codec::Decode;

/// What a dispatched constructor or message produced.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Outcome {
    /// Whether the call ends with the revert flag (a message returned a value that
    /// [`Reverts`], e.g. an `Err`).
    pub revert: bool,
    /// SCALE(return value).
    pub output: Vec<u8>,
}

impl Outcome {
    /// A successful outcome with `output`.
    pub fn success(output: Vec<u8>) -> Self {
        Outcome { revert: false, output }
    }
}

/// Why input could not be dispatched. On chain each one reverts the call with empty output and
/// its text in the debug buffer.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum DispatchError {
    /// The input is shorter than a 4-byte selector.
    NoSelector,
    /// No constructor or message has this selector.
    UnknownSelector([u8; 4]),
    /// An argument does not decode as its type.
    BadArgument {
        /// The message or constructor.
        function: &'static str,
        /// The argument.
        arg: &'static str,
    },
    /// Bytes are left after the last argument.
    TrailingInput {
        /// The message or constructor.
        function: &'static str,
    },
    /// Value was sent to a function not marked `payable`.
    NotPayable {
        /// The message or constructor.
        function: &'static str,
    },
    /// The contract's state is missing or does not decode (the contract was never deployed).
    CorruptState,
}

impl DispatchError {
    /// The error as text, built without `core::fmt` (whose indirect calls, compiled into the
    /// precompiled `core` with reference types, would make the contract's wasm invalid).
    pub fn message(&self) -> String {
        let mut m = String::from("dispatch: ");
        match self {
            DispatchError::NoSelector => m.push_str("input shorter than a 4-byte selector"),
            DispatchError::UnknownSelector(s) => {
                m.push_str("unknown selector 0x");
                for b in s {
                    push_hex(&mut m, *b);
                }
            }
            DispatchError::BadArgument { function, arg } => {
                m.push_str("argument `");
                m.push_str(arg);
                m.push_str("` of `");
                m.push_str(function);
                m.push_str("` does not decode");
            }
            DispatchError::TrailingInput { function } => {
                m.push_str("bytes left after the arguments of `");
                m.push_str(function);
                m.push('`');
            }
            DispatchError::NotPayable { function } => {
                m.push('`');
                m.push_str(function);
                m.push_str("` is not payable but value was sent");
            }
            DispatchError::CorruptState => m.push_str("contract state missing or undecodable"),
        }
        m
    }
}

fn push_hex(s: &mut String, b: u8) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    s.push(DIGITS[(b >> 4) as usize] as char);
    s.push(DIGITS[(b & 15) as usize] as char);
}

impl fmt::Display for DispatchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// A message return type that can ask for a revert: when [`Reverts::reverts`] says so, the call
/// ends with the revert flag (every change it made is undone) and the SCALE-encoded value as
/// its output.
///
/// Implemented for `Result<T, E>` (reverts on `Err`), whatever the type is called in the
/// message's signature: `Result`, `core::result::Result`, `std::result::Result` or an alias
/// such as `type MyResult<T> = Result<T, MyError>`. Implement it for your own return type to
/// make it revert. A return type that does not implement it never reverts.
pub trait Reverts {
    /// Whether this value ends the call with the revert flag.
    fn reverts(&self) -> bool;
}

impl<T, E> Reverts for Result<T, E> {
    fn reverts(&self) -> bool {
        self.is_err()
    }
}

/// How `#[contract]` asks whether a message's return value reverts, decided by its type at
/// compile time (autoref dispatch): for `(&RevertProbe(&value)).__watt_reverts()`, method
/// lookup first tries [`RevertsByType`], implemented for `RevertProbe<T>` where
/// `T: `[`Reverts`]; only when `T` does not implement it does lookup go on to the autoref
/// step, where [`NeverReverts`] (implemented for every `&RevertProbe<T>`) answers `false`.
/// Needs a concrete type, which a message's return type always is.
#[doc(hidden)]
pub struct RevertProbe<'a, T>(pub &'a T);

/// The first choice of [`RevertProbe`]: the value's own [`Reverts`].
#[doc(hidden)]
pub trait RevertsByType {
    fn __watt_reverts(&self) -> bool;
}

impl<T: Reverts> RevertsByType for RevertProbe<'_, T> {
    fn __watt_reverts(&self) -> bool {
        self.0.reverts()
    }
}

/// The fallback of [`RevertProbe`]: a type without [`Reverts`] never reverts.
#[doc(hidden)]
pub trait NeverReverts {
    fn __watt_reverts(&self) -> bool;
}

impl<T> NeverReverts for &RevertProbe<'_, T> {
    fn __watt_reverts(&self) -> bool {
        false
    }
}

/// The result of a generated dispatch function.
pub type DispatchResult = Result<Outcome, DispatchError>;

/// Splits `input` into its selector and the argument bytes.
pub fn split_selector(input: &[u8]) -> Result<([u8; 4], &[u8]), DispatchError> {
    match input {
        [a, b, c, d, rest @ ..] => Ok(([*a, *b, *c, *d], rest)),
        _ => Err(DispatchError::NoSelector),
    }
}

/// Decodes the next argument.
pub fn decode_arg<T: Decode>(args: &mut &[u8], function: &'static str, arg: &'static str) -> Result<T, DispatchError> {
    T::decode(args).map_err(|_| DispatchError::BadArgument { function, arg })
}

/// Refuses bytes left after the last argument.
pub fn ensure_consumed(args: &[u8], function: &'static str) -> Result<(), DispatchError> {
    if args.is_empty() {
        Ok(())
    } else {
        Err(DispatchError::TrailingInput { function })
    }
}

/// Refuses value sent to a non-payable function.
pub fn ensure_not_paid(function: &'static str) -> Result<(), DispatchError> {
    if crate::env::value_transferred() == 0 {
        Ok(())
    } else {
        Err(DispatchError::NotPayable { function })
    }
}

/// Loads the contract's state (the root blob).
pub fn load<S: ContractStorage>() -> Result<S, DispatchError> {
    S::try_load().ok_or(DispatchError::CorruptState)
}

/// Loads the contract's state and the root value it came from (for
/// [`ContractStorage::store_if_changed`]).
pub fn load_with_root<S: ContractStorage>() -> Result<(S, alloc::vec::Vec<u8>), DispatchError> {
    S::try_load_with_root().ok_or(DispatchError::CorruptState)
}

/// Runs a generated dispatch function over this call's input and ends the call: the outcome's
/// output with its revert flag, or on a dispatch error its text to `debug_message` and a revert
/// with empty output.
#[cfg(target_arch = "wasm32")]
pub fn execute(f: fn(&[u8]) -> DispatchResult) -> ! {
    let input = crate::env::input();
    match f(&input) {
        Ok(outcome) => crate::env::return_value(outcome.revert, &outcome.output),
        Err(e) => {
            crate::env::debug_message(&e.message());
            crate::env::return_value(true, &[])
        }
    }
}
