//! blake2b, the one hash function of the chain (ARCHITECTURE §5).

use blake2::digest::consts::{U16, U32};
use blake2::{Blake2b, Digest};

/// A blake2b-256 digest.
pub type Hash = [u8; 32];

/// The blake2b hasher with a 256-bit output; also the hasher of the authenticated state tree.
pub type Blake2b256 = Blake2b<U32>;

/// blake2b-256 of `data`.
pub fn blake2_256(data: &[u8]) -> Hash {
    Blake2b256::digest(data).into()
}

/// blake2b-128 of `data`; used to spread storage-map keys evenly while keeping them short.
pub fn blake2_128(data: &[u8]) -> [u8; 16] {
    Blake2b::<U16>::digest(data).into()
}
