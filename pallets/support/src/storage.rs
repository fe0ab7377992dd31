//! Typed storage over the host interface.
//!
//! Key layout (stable; RPC users compute it to read raw storage):
//! - a value: its prefix, e.g. `b"system/number"`;
//! - a map entry: prefix ++ blake2_128(SCALE(key)) ++ SCALE(key) ("blake2_128_concat": even
//!   spread in the tree, yet the key is recoverable when iterating);
//! - a double-map entry: prefix ++ blake2_128(SCALE(k1)) ++ SCALE(k1) ++ SCALE(k2), so all
//!   entries of one `k1` sit under one key prefix and iterate without touching the others.
//!
//! Prefixes of one runtime must be prefix-free (no prefix starts another); the runtime's tests
//! check its list, and that every key a chain writes falls under exactly one prefix.
//!
//! Iteration in transaction logic goes through cursors ([`StorageMap::iter_from`],
//! [`StorageDoubleMap::iter_prefix`]): bounded work per call, resumable in a later block.

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
        blake2_128_concat(I::PREFIX, k)
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
    /// not for transaction logic (use [`Self::iter_from`]).
    pub fn iter() -> Vec<(K, V)> {
        let mut out = Vec::new();
        let mut cursor = None;
        loop {
            let (mut page, next) = Self::iter_from(cursor.as_deref(), 1024);
            out.append(&mut page);
            match next {
                Some(c) => cursor = Some(c),
                None => return out,
            }
        }
    }

    /// At most `limit` entries after the raw key `cursor` (from the start when `None`), and
    /// the cursor to resume from (`None` once the map is exhausted).
    pub fn iter_from(cursor: Option<&[u8]>, limit: usize) -> (Vec<(K, V)>, Option<Vec<u8>>) {
        // The map key follows the 16 hash bytes.
        scan(I::PREFIX, cursor, limit, |rest| K::decode(&mut rest.get(16..)?).ok())
    }
}

/// A typed map of two keys; the entries of one first key iterate together.
pub struct StorageDoubleMap<I, K1, K2, V>(PhantomData<(I, K1, K2, V)>);

impl<I: StorageInstance, K1: Encode, K2: FullCodec, V: FullCodec> StorageDoubleMap<I, K1, K2, V> {
    /// The raw key prefix of every entry under `k1`.
    pub fn prefix(k1: &K1) -> Vec<u8> {
        blake2_128_concat(I::PREFIX, k1)
    }
    /// The raw key of `(k1, k2)`.
    pub fn key(k1: &K1, k2: &K2) -> Vec<u8> {
        let mut key = Self::prefix(k1);
        k2.encode_to(&mut key);
        key
    }
    /// The value at `(k1, k2)`, if any.
    pub fn get(k1: &K1, k2: &K2) -> Option<V> {
        host::storage_get(&Self::key(k1, k2)).map(decode)
    }
    /// Sets `(k1, k2)` to `v`.
    pub fn insert(k1: &K1, k2: &K2, v: &V) {
        host::storage_set(&Self::key(k1, k2), &v.encode())
    }
    /// Removes `(k1, k2)`.
    pub fn remove(k1: &K1, k2: &K2) {
        host::storage_clear(&Self::key(k1, k2))
    }
    /// The entries under `k1` (cost proportional to their number, not the map's).
    pub fn iter_prefix(k1: &K1) -> Vec<(K2, V)> {
        Self::iter_prefix_limited(k1, usize::MAX)
    }

    /// At most `limit` of the entries under `k1`, in key order: bounded work for transaction
    /// logic that drains them over several calls.
    pub fn iter_prefix_limited(k1: &K1, limit: usize) -> Vec<(K2, V)> {
        scan(&Self::prefix(k1), None, limit, |mut rest| K2::decode(&mut rest).ok()).0
    }
}

/// `prefix ++ blake2_128(SCALE(key)) ++ SCALE(key)`: the key of a map entry (or of a double
/// map's first key).
fn blake2_128_concat(prefix: &[u8], key: &impl Encode) -> Vec<u8> {
    let encoded = key.encode();
    let mut out = Vec::with_capacity(prefix.len() + 16 + encoded.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(&host::blake2_128(&encoded));
    out.extend_from_slice(&encoded);
    out
}

/// At most `limit` entries under `prefix` after the raw key `cursor` (from the prefix when
/// `None`), each key decoded by `key` from what follows the prefix (entries whose key does not
/// decode are skipped), and the cursor to resume from (`None` once the prefix is exhausted).
fn scan<K, V: Decode>(
    prefix: &[u8],
    cursor: Option<&[u8]>,
    limit: usize,
    key: impl Fn(&[u8]) -> Option<K>,
) -> (Vec<(K, V)>, Option<Vec<u8>>) {
    let mut out = Vec::new();
    let mut at: Vec<u8> = cursor.unwrap_or(prefix).to_vec();
    while out.len() < limit {
        let Some(next) = host::storage_next_key(&at) else {
            return (out, None);
        };
        if !next.starts_with(prefix) {
            return (out, None);
        }
        if let (Some(k), Some(v)) = (key(&next[prefix.len()..]), host::storage_get(&next)) {
            out.push((k, decode(v)));
        }
        at = next;
    }
    (out, Some(at))
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

    #[test]
    fn cursors_page_through_a_map_and_double_maps_group_by_first_key() {
        execute_with(MemoryExternalities::default(), || {
            type M = StorageMap<Numbers, u32, u64>;
            for i in 0..10u32 {
                M::insert(&i, &(i as u64 * 10));
            }
            StorageValue::<Flag, bool>::put(&true);
            let mut seen = Vec::new();
            let mut cursor = None;
            let mut pages = 0;
            loop {
                let (page, next) = M::iter_from(cursor.as_deref(), 3);
                assert!(page.len() <= 3);
                seen.extend(page);
                pages += 1;
                match next {
                    Some(c) => cursor = Some(c),
                    None => break,
                }
            }
            seen.sort();
            assert_eq!(seen, (0..10u32).map(|i| (i, i as u64 * 10)).collect::<Vec<_>>());
            assert!(pages >= 4, "10 entries in pages of 3");

            crate::storage_instance!(Pairs, b"test/pairs");
            type D = StorageDoubleMap<Pairs, u32, u64, u8>;
            D::insert(&1, &5, &50);
            D::insert(&1, &6, &60);
            D::insert(&2, &5, &99);
            let mut one = D::iter_prefix(&1);
            one.sort();
            assert_eq!(one, vec![(5, 50), (6, 60)]);
            D::remove(&1, &5);
            assert_eq!(D::iter_prefix(&1), vec![(6, 60)]);
            assert_eq!(D::get(&2, &5), Some(99));
        });
    }
}
