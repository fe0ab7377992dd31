//! Light-client verification of state proofs: given a state root the client trusts (from a
//! finalized header), check that a key has (or has not) a value without trusting the node.

use jmt::{KeyHash, RootHash};
use watt_primitives::hashing::Blake2b256;
use watt_primitives::{blake2_256, Hash, StateProof};

/// Why a proof was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProofError {
    /// The proof bytes are not a sparse Merkle proof.
    #[error("malformed proof: {0}")]
    Malformed(String),
    /// The proof does not bind this key and value to the root.
    #[error("proof does not verify against the state root: {0}")]
    Mismatch(String),
}

/// Checks `proof` against the trusted `state_root`.
pub fn verify_proof(state_root: &Hash, proof: &StateProof) -> Result<(), ProofError> {
    let smp: jmt::proof::SparseMerkleProof<Blake2b256> =
        borsh::from_slice(&proof.proof).map_err(|e| ProofError::Malformed(e.to_string()))?;
    smp.verify(
        RootHash(*state_root),
        KeyHash(blake2_256(&proof.key)),
        proof.value.as_ref(),
    )
    .map_err(|e| ProofError::Mismatch(e.to_string()))
}
