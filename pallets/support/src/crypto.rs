//! Native signature verification, shared by the native host backend and the executor's host
//! functions so both verify exactly alike.

use parity_scale_codec::{Decode, Encode};
use rayon::prelude::*;
use schnorrkel::{signing_context, PublicKey, Signature};
use watt_primitives::SIGNATURE_CONTEXT;

/// A batch as it crosses the host boundary (SCALE): (public key, signature, message) triples.
#[derive(Encode, Decode)]
pub struct BatchItems(pub Vec<crate::host::BatchItem>);

/// Verifies one sr25519 signature.
pub fn sr25519_verify(sig: &[u8; 64], msg: &[u8], public: &[u8; 32]) -> bool {
    let (Ok(public), Ok(sig)) = (PublicKey::from_bytes(public), Signature::from_bytes(sig)) else {
        return false;
    };
    public
        .verify(signing_context(SIGNATURE_CONTEXT).bytes(msg), &sig)
        .is_ok()
}

/// Below this many signatures a batch is verified on the calling thread.
const PARALLEL_CHUNK: usize = 128;

/// Verifies all signatures; `true` only when every one is valid. Uses schnorrkel's
/// deterministic batch verification (no randomness: same input, same answer on every node)
/// spread over the rayon pool.
pub fn sr25519_verify_batch(items: &BatchItems) -> bool {
    let verify_chunk = |chunk: &[crate::host::BatchItem]| -> bool {
        let mut publics = Vec::with_capacity(chunk.len());
        let mut sigs = Vec::with_capacity(chunk.len());
        for (p, s, _) in chunk {
            match (PublicKey::from_bytes(p), Signature::from_bytes(s)) {
                (Ok(p), Ok(s)) => {
                    publics.push(p);
                    sigs.push(s);
                }
                _ => return false,
            }
        }
        let ctx = signing_context(SIGNATURE_CONTEXT);
        let transcripts = chunk.iter().map(|(_, _, m)| ctx.bytes(m));
        schnorrkel::verify_batch_deterministic(transcripts, &sigs, &publics, false).is_ok()
    };
    if items.0.len() <= PARALLEL_CHUNK {
        verify_chunk(&items.0)
    } else {
        items.0.par_chunks(PARALLEL_CHUNK).all(verify_chunk)
    }
}
