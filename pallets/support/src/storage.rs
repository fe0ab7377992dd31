//! Typed storage over the host interface.
//!
//! Key layout (stable; RPC users compute it to read raw storage):
//! - a value: its prefix, e.g. `b"system/number"`;
//! - a map entry: prefix ++ blake2_128(SCALE(key)) ++ SCALE(key) ("blake2_128_concat": even
//!   spread in the tree, yet the key is recoverable when iterating).

use crate::host;
use alloc::vec::Vec;
use core::marker::PhantomData;
use parity_scale_codec::{Decode, Encode, FullCodec};

/// Names a storage item.
pub trait StorageInstance {
    /// The item's key prefix, `module/item`.
    const PREFIX: &'static [u8];
}

/// Declares a zero-sized type naming a storage item: `storage_instance!(Number, b"system/number");`
#[macro_export]
macro_rules! storage_instance {
    ($(#[$m:meta])* $name:ident, $prefix:expr) => {
        $(#[$m])*
        pub struct $name;
        impl $crate::storage::StorageInstance for $name {
            const PREFIX: &'static [u8] = $prefix;
        }
    };
}

/// Decodes a stored value. Undecodable bytes mean corrupted state, which no input can cause;
/// treating it as absent would silently lose funds, so the runtime traps and the block is refused.
fn decode<T: Decode>(bytes: Vec<u8>) -> T {
    match T::decode(&mut &bytes[..]) {
        Ok(v) => v,
        Err(_) => panic!("corrupted storage value"),
    }
}

/// A single typed value.
pub struct StorageValue<I, T>(PhantomData<(I, T)>);

impl<I: StorageInstance, T: FullCodec> StorageValue<I, T> {
    /// The raw key.
    pub fn key() -> &'static [u8] {
        I::PREFIX
    }
    /// The value, if set.
    pub fn get() -> Option<T> {
        host::storage_get(I::PREFIX).map(decode)
    }
    /// Sets the value.
    pub fn put(value: &T) {
        host::storage_set(I::PREFIX, &value.encode())
    }
    /// Removes the value.
    pub fn kill() {
        host::storage_clear(I::PREFIX)
    }
}

/// A typed map.
pub struct StorageMap<I, K, V>(PhantomData<(I, K, V)>);

impl<I: StorageInstance, K: Encode, V: FullCodec> StorageMap<I, K, V> {
    /// The raw key of `k`.
    pub fn key(k: &K) -> Vec<u8> {
        let encoded = k.encode();
        let mut key = Vec::with_capacity(I::PREFIX.len() + 16 + encoded.len());
        key.extend_from_slice(I::PREFIX);
        key.extend_from_slice(&host::blake2_128(&encoded));
        key.extend_from_slice(&encoded);
        key
    }
    /// The value at `k`, if any.
    pub fn get(k: &K) -> Option<V> {
        host::storage_get(&Self::key(k)).map(decode)
    }
    /// Sets `k` to `v`.
    pub fn insert(k: &K, v: &V) {
        host::storage_set(&Self::key(k), &v.encode())
    }
    /// Removes `k`.
    pub fn remove(k: &K) {
        host::storage_clear(&Self::key(k))
    }
    /// Whether `k` is set.
    pub fn contains(k: &K) -> bool {
        host::storage_get(&Self::key(k)).is_some()
    }
}

impl<I: StorageInstance, K: FullCodec, V: FullCodec> StorageMap<I, K, V> {
    /// Every entry, in key order (by hashed key). Reads the whole map: for queries and tests,
    /// not for transaction logic.
    pub fn iter() -> Vec<(K, V)> {
        let mut out = Vec::new();
        let mut cursor: Vec<u8> = I::PREFIX.to_vec();
        while let Some(next) = host::storage_next_key(&cursor) {
            if !next.starts_with(I::PREFIX) {
                break;
            }
            let mut rest = &next[I::PREFIX.len()..];
            if rest.len() >= 16 {
                rest = &rest[16..];
                if let (Ok(k), Some(v)) = (K::decode(&mut rest), host::storage_get(&next)) {
                    out.push((k, decode(v)));
                }
            }
            cursor = next;
        }
        out
    }
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use crate::externalities::{execute_with, MemoryExternalities};

    crate::storage_instance!(Numbers, b"test/numbers");
    crate::storage_instance!(Flag, b"test/flag");

    #[test]
    fn maps_iterate_and_transactions_roll_back() {
        let (ext, ()) = execute_with(MemoryExternalities::default(), || {
            type M = StorageMap<Numbers, u32, u64>;
            M::insert(&1, &10);
            M::insert(&2, &20);
            StorageValue::<Flag, bool>::put(&true);
            let r: Result<(), ()> = host::with_transaction(|| {
                M::insert(&3, &30);
                M::remove(&1);
                Err(())
            });
            assert!(r.is_err());
            let mut all = M::iter();
            all.sort();
            assert_eq!(all, vec![(1, 10), (2, 20)]);
            let r: Result<(), ()> = host::with_transaction(|| {
                M::insert(&3, &30);
                Ok(())
            });
            assert!(r.is_ok());
            assert_eq!(M::get(&3), Some(30));
            assert_eq!(StorageValue::<Flag, bool>::get(), Some(true));
        });
        assert_eq!(ext.state.len(), 4);
    }
}
