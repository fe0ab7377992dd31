//! Contract storage and its layout.
//!
//! - The plain fields of the `#[storage]` struct are SCALE-encoded together, in declaration
//!   order, into one value under [`ROOT_KEY`] (4 zero bytes). `deploy` writes it; every message
//!   reads it, and a `&mut self` message that does not fail writes it back if it changed.
//! - Each [`Mapping`] field is not part of that value. Its entries live under
//!   `prefix ++ SCALE(key)`, where `prefix` is the 4 bytes `blake2b-256("<Struct>::<field>")[..4]`
//!   (the const parameter `P` is those bytes read as a little-endian `u32`; `#[contract]`
//!   fills it in and refuses a prefix equal to the root key or to another field's). Entries are
//!   read and written directly, when the contract touches them. A key longer than 128 bytes traps
//!   (the ABI's limit): keep mapping keys short (an `AccountId` key makes a 36-byte storage key).

use alloc::vec::Vec;
use core::marker::PhantomData;
use parity_scale_codec::{Decode, Encode};

/// The key of the root value (the struct's plain fields).
pub const ROOT_KEY: &[u8] = &[0, 0, 0, 0];

/// The state of a contract: its `#[storage]` struct; `#[contract]` implements it.
pub trait ContractStorage: Sized {
    /// SCALE of the plain fields in order (Mappings left out).
    fn encode_root(&self) -> Vec<u8>;

    /// The struct from the root value, Mappings attached to their prefixes.
    fn decode_root(input: &mut &[u8]) -> Result<Self, parity_scale_codec::Error>;

    /// The stored state, or `None` when there is none or it does not decode.
    fn try_load() -> Option<Self> {
        Self::try_load_with_root().map(|(s, _)| s)
    }

    /// The stored state and the root value it was decoded from.
    fn try_load_with_root() -> Option<(Self, Vec<u8>)> {
        let bytes = crate::env::get_storage(ROOT_KEY)?;
        let state = Self::decode_root(&mut &bytes[..]).ok()?;
        Some((state, bytes))
    }

    /// Writes the plain fields under [`ROOT_KEY`].
    fn store(&self) {
        crate::env::set_storage(ROOT_KEY, &self.encode_root());
    }

    /// Writes the plain fields back only if they differ from `loaded` (the root value they were
    /// read from): a message that changes only Mapping entries, a token transfer say, then
    /// pays for no root write.
    fn store_if_changed(&self, loaded: &[u8]) {
        let root = self.encode_root();
        if root != loaded {
            crate::env::set_storage(ROOT_KEY, &root);
        }
    }
}

/// A lazy key-value map in contract storage: entry `key` lives at `P.to_le_bytes() ++ SCALE(key)`.
/// Declare the field as `Mapping<K, V>`; `#[contract]` supplies `P`. Build it with
/// `Mapping::new()` (or `Default`) in the constructor.
pub struct Mapping<K, V, const P: u32 = 0> {
    _marker: PhantomData<fn() -> (K, V)>,
}

impl<K, V, const P: u32> Mapping<K, V, P> {
    /// The mapping (it holds nothing in memory: entries are in storage).
    pub const fn new() -> Self {
        Mapping { _marker: PhantomData }
    }

    /// The storage prefix of this mapping's entries.
    pub const PREFIX: [u8; 4] = P.to_le_bytes();
}

impl<K: Encode, V: Encode + Decode, const P: u32> Mapping<K, V, P> {
    /// The storage key of `key`'s entry.
    pub fn storage_key(key: &K) -> Vec<u8> {
        let mut k = Vec::with_capacity(4 + key.size_hint());
        k.extend_from_slice(&Self::PREFIX);
        key.encode_to(&mut k);
        k
    }

    /// The value at `key`. A stored value that does not decode (only possible after a layout
    /// change) reads as `None`.
    pub fn get(&self, key: &K) -> Option<V> {
        crate::env::get(&Self::storage_key(key)).ok().flatten()
    }

    /// Stores `value` at `key`; returns the length of the value it replaced, if any.
    pub fn insert(&mut self, key: &K, value: &V) -> Option<u32> {
        let k = Self::storage_key(key);
        value.using_encoded(|bytes| crate::env::set_storage(&k, bytes))
    }

    /// Removes `key`'s entry; returns the removed value's length, if any.
    pub fn remove(&mut self, key: &K) -> Option<u32> {
        crate::env::clear_storage(&Self::storage_key(key))
    }

    /// Whether `key` has an entry.
    pub fn contains(&self, key: &K) -> bool {
        crate::env::contains_storage(&Self::storage_key(key)).is_some()
    }

    /// The value at `key`, removed from storage.
    pub fn take(&mut self, key: &K) -> Option<V> {
        let v = self.get(key);
        if v.is_some() {
            self.remove(key);
        }
        v
    }
}

impl<K, V, const P: u32> Default for Mapping<K, V, P> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K, V, const P: u32> core::fmt::Debug for Mapping<K, V, P> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Mapping(prefix 0x{P:08x} le)")
    }
}
