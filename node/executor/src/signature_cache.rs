//! Signatures this node has already found valid. A transaction's signature is checked when it
//! enters the pool, again when a validator judges a set holding it, and again when its block is
//! applied; with SCP every node does all three. Verification is a pure function of (public
//! key, signature, message), so remembering a `true` answer changes no result: a hit is what
//! checking again would say. Only valid triples are kept (a refusal is always recomputed), and
//! the key hashes all three in full, so a signature never passes for another message or key.

use parking_lot::Mutex;
use std::collections::{HashSet, VecDeque};
use watt_primitives::{blake2_256, Hash};

/// Entries kept (32 bytes each, plus the set's overhead: a few MiB).
const CAPACITY: usize = 1 << 17;

/// A bounded set of verified (public key, signature, message) triples, oldest forgotten first.
#[derive(Default)]
pub struct VerifiedSignatures {
    inner: Mutex<(HashSet<Hash>, VecDeque<Hash>)>,
}

impl VerifiedSignatures {
    /// The cache key of a triple.
    pub fn key(public: &[u8; 32], sig: &[u8; 64], msg: &[u8]) -> Hash {
        let mut buf = [0u8; 32 + 64 + 32];
        buf[..32].copy_from_slice(public);
        buf[32..96].copy_from_slice(sig);
        buf[96..].copy_from_slice(&blake2_256(msg));
        blake2_256(&buf)
    }

    /// Whether the triple with this key was verified before.
    pub fn contains(&self, key: &Hash) -> bool {
        self.inner.lock().0.contains(key)
    }

    /// Remembers verified triples.
    pub fn insert_all(&self, keys: impl IntoIterator<Item = Hash>) {
        let mut guard = self.inner.lock();
        let (set, order) = &mut *guard;
        for k in keys {
            if set.insert(k) {
                order.push_back(k);
            }
        }
        while order.len() > CAPACITY {
            if let Some(old) = order.pop_front() {
                set.remove(&old);
            }
        }
    }

    /// Verifies one signature, consulting and filling the cache.
    pub fn verify(&self, sig: &[u8; 64], msg: &[u8], public: &[u8; 32]) -> bool {
        let key = Self::key(public, sig, msg);
        if self.contains(&key) {
            return true;
        }
        let ok = watt_support::crypto::sr25519_verify(sig, msg, public);
        if ok {
            self.insert_all([key]);
        }
        ok
    }

    /// Verifies a batch: `true` only when every signature is valid. Only the ones not known
    /// valid are checked (as one batch).
    pub fn verify_batch(&self, items: &watt_support::crypto::BatchItems) -> bool {
        let keys: Vec<Hash> = items.0.iter().map(|(p, s, m)| Self::key(p, s, m)).collect();
        let unknown: Vec<usize> = {
            let guard = self.inner.lock();
            (0..keys.len()).filter(|i| !guard.0.contains(&keys[*i])).collect()
        };
        if unknown.is_empty() {
            return true;
        }
        let rest = watt_support::crypto::BatchItems(unknown.iter().map(|i| items.0[*i].clone()).collect());
        let ok = watt_support::crypto::sr25519_verify_batch(&rest);
        if ok {
            self.insert_all(unknown.into_iter().map(|i| keys[i]));
        }
        ok
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sp_core::{sr25519, Pair};

    fn signed(seed: u8, msg: &[u8]) -> ([u8; 32], [u8; 64], Vec<u8>) {
        let pair = sr25519::Pair::from_seed(&[seed; 32]);
        (pair.public().0, pair.sign(msg).0, msg.to_vec())
    }

    #[test]
    fn a_known_valid_signature_never_vouches_for_another_message_key_or_signature() {
        let cache = VerifiedSignatures::default();
        let (public, sig, msg) = signed(1, b"transfer 7");
        assert!(cache.verify(&sig, &msg, &public));
        assert!(
            cache.contains(&VerifiedSignatures::key(&public, &sig, &msg)),
            "remembered"
        );
        assert!(cache.verify(&sig, &msg, &public), "and still valid");
        assert!(!cache.verify(&sig, b"transfer 8", &public), "another message");
        let (other_public, other_sig, _) = signed(2, b"transfer 7");
        assert!(!cache.verify(&sig, &msg, &other_public), "another key");
        let mut flipped = sig;
        flipped[10] ^= 1;
        assert!(!cache.verify(&flipped, &msg, &public), "another signature");
        assert!(cache.verify(&other_sig, &msg, &other_public));
    }

    #[test]
    fn a_batch_with_one_bad_signature_fails_even_when_the_rest_are_known() {
        let cache = VerifiedSignatures::default();
        let good: Vec<_> = (0..5u8).map(|i| signed(i + 1, &[i; 40])).collect();
        let batch = |items: &[([u8; 32], [u8; 64], Vec<u8>)]| watt_support::crypto::BatchItems(items.to_vec());
        assert!(cache.verify_batch(&batch(&good)));
        assert!(cache.verify_batch(&batch(&good)), "all known");
        let mut with_bad = good.clone();
        with_bad[3].1[0] ^= 1;
        assert!(!cache.verify_batch(&batch(&with_bad)), "the bad one is checked");
        assert!(!cache.verify_batch(&batch(&with_bad)), "and never remembered");
        let (public, sig, msg) = &with_bad[3];
        assert!(!cache.contains(&VerifiedSignatures::key(public, sig, msg)));
    }

    #[test]
    fn the_cache_forgets_its_oldest_entries_past_its_capacity() {
        let cache = VerifiedSignatures::default();
        let first = [1u8; 32];
        cache.insert_all([first]);
        cache.insert_all((0..CAPACITY as u64).map(|i| blake2_256(&i.to_le_bytes())));
        assert!(!cache.contains(&first));
        assert_eq!(cache.inner.lock().0.len(), CAPACITY);
    }
}
