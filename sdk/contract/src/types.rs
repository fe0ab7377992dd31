//! The ABI's value types (ABI.md "Values in memory") and its return codes.

use core::fmt;
use parity_scale_codec::{Decode, Encode};

/// A 32-byte account id: a person's or a contract's address.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct AccountId(pub [u8; 32]);

impl AccountId {
    /// The id's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for AccountId {
    fn from(b: [u8; 32]) -> Self {
        AccountId(b)
    }
}

impl fmt::Debug for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountId(0x")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// A 32-byte blake2b-256 hash (e.g. a code hash).
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct Hash(pub [u8; 32]);

impl From<[u8; 32]> for Hash {
    fn from(b: [u8; 32]) -> Self {
        Hash(b)
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash(0x")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        write!(f, ")")
    }
}

/// An amount of the native token (16 bytes little-endian in the ABI).
pub type Balance = u128;
/// A block number.
pub type BlockNumber = u64;
/// Milliseconds since the Unix epoch.
pub type Timestamp = u64;
/// Gas (wasmtime fuel).
pub type Gas = u64;

/// A message's or constructor's selector: the first 4 bytes of blake2b-256(name).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, Encode, Decode)]
pub struct Selector(pub [u8; 4]);

impl Selector {
    /// A selector from its bytes (what `selector!("name")` expands to).
    pub const fn new(bytes: [u8; 4]) -> Self {
        Selector(bytes)
    }

    /// The selector of `name`, hashed at run time (on wasm32 through the host's
    /// `hash_blake2_256`; prefer the compile-time `selector!`).
    pub fn from_name(name: &str) -> Self {
        let h = crate::env::hash_blake2_256(name.as_bytes());
        Selector([h[0], h[1], h[2], h[3]])
    }

    /// The selector's bytes.
    pub fn to_bytes(self) -> [u8; 4] {
        self.0
    }
}

/// A failure code of a `watt_v1` function (ABI.md "Return codes"; `SUCCESS` is `Ok`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Encode, Decode)]
pub enum Error {
    /// 1: the callee trapped or ran out of gas; its changes are reverted.
    CalleeTrapped,
    /// 2: the callee returned with the revert flag; its changes are reverted.
    CalleeReverted,
    /// 3: no value at that storage key.
    KeyNotFound,
    /// 4: the output buffer is too small.
    BufferTooSmall,
    /// 5: the balance is too low, or the transfer would leave an account below the
    /// existential deposit.
    TransferFailed,
    /// 6: the callee holds no contract.
    NotAContract,
    /// 7: no code was uploaded under that hash.
    CodeNotFound,
    /// 8: the address `instantiate` would create already holds a contract.
    DuplicateContract,
    /// 9: the call stack is already `MAX_CALL_DEPTH` frames deep.
    MaxDepth,
    /// 10: the callee is already on the call stack.
    ReentranceDenied,
    /// 11: `sr25519_verify` rejected the signature.
    InvalidSignature,
    /// A code this SDK does not know (a newer host).
    Unknown(i32),
}

impl Error {
    /// `SUCCESS` (0) as `Ok`, any other code as its `Error`.
    pub fn check(code: i32) -> Result<(), Error> {
        Err(match code {
            0 => return Ok(()),
            1 => Error::CalleeTrapped,
            2 => Error::CalleeReverted,
            3 => Error::KeyNotFound,
            4 => Error::BufferTooSmall,
            5 => Error::TransferFailed,
            6 => Error::NotAContract,
            7 => Error::CodeNotFound,
            8 => Error::DuplicateContract,
            9 => Error::MaxDepth,
            10 => Error::ReentranceDenied,
            11 => Error::InvalidSignature,
            other => Error::Unknown(other),
        })
    }

    /// The ABI code of this error.
    pub fn code(&self) -> i32 {
        match self {
            Error::CalleeTrapped => 1,
            Error::CalleeReverted => 2,
            Error::KeyNotFound => 3,
            Error::BufferTooSmall => 4,
            Error::TransferFailed => 5,
            Error::NotAContract => 6,
            Error::CodeNotFound => 7,
            Error::DuplicateContract => 8,
            Error::MaxDepth => 9,
            Error::ReentranceDenied => 10,
            Error::InvalidSignature => 11,
            Error::Unknown(c) => *c,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Error::CalleeTrapped => "the callee trapped or ran out of gas",
            Error::CalleeReverted => "the callee reverted",
            Error::KeyNotFound => "no value at that storage key",
            Error::BufferTooSmall => "the output buffer is too small",
            Error::TransferFailed => "the balance is too low or would fall below the existential deposit",
            Error::NotAContract => "the account holds no contract",
            Error::CodeNotFound => "no code was uploaded under that hash",
            Error::DuplicateContract => "that address already holds a contract",
            Error::MaxDepth => "the call stack is too deep",
            Error::ReentranceDenied => "the callee is already on the call stack",
            Error::InvalidSignature => "the signature is invalid",
            Error::Unknown(c) => return write!(f, "unknown return code {c}"),
        };
        f.write_str(s)
    }
}
