//! Events (ABI.md "Selectors and encoding"): data = SCALE(index: u8 ++ fields); topics =
//! blake2b-256(event name), then each `#[topic]` field as its SCALE encoding when that is 32
//! bytes long (an `AccountId`, a `Hash`), else blake2b-256 of its SCALE encoding.

use alloc::vec::Vec;
use parity_scale_codec::Encode;

/// An event of a contract; `#[event]` implements it.
pub trait Event: Encode {
    /// The event's name (its struct's name).
    const NAME: &'static str;
    /// Its position in the contract's event list.
    const INDEX: u8;
    /// blake2b-256 of the name: the first topic.
    const SIGNATURE_TOPIC: [u8; 32];

    /// The topics: the signature topic, then the `#[topic]` fields in order.
    fn topics(&self) -> Vec<[u8; 32]>;

    /// The data: the index byte, then SCALE of every field in order.
    fn data(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(1 + self.size_hint());
        out.push(Self::INDEX);
        self.encode_to(&mut out);
        out
    }
}

/// The topic of a field: its SCALE encoding when that is exactly 32 bytes, else blake2b-256 of
/// the encoding.
pub fn topic_of<T: Encode + ?Sized>(field: &T) -> [u8; 32] {
    field.using_encoded(|bytes| match <[u8; 32]>::try_from(bytes) {
        Ok(raw) => raw,
        Err(_) => crate::env::hash_blake2_256(bytes),
    })
}
