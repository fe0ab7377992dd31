//! Signed transactions, why one is refused, and what applying one leaves behind (its receipt).

use crate::{blake2_256, AccountId, Balance, BlockNumber, Hash};
use alloc::string::String;
use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};

/// Domain tag of the transaction signing payload (ARCHITECTURE §5: every signed payload is
/// domain-separated by purpose tag and genesis hash).
pub const TX_SIGNING_TAG: &[u8] = b"watt/tx/v1";

/// The schnorrkel signing context. It is Substrate's, so keys and signers from the Substrate
/// ecosystem (sp-core, subkey, wallets) produce signatures Watt accepts.
pub const SIGNATURE_CONTEXT: &[u8] = b"substrate";

/// The unsigned body of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Transaction {
    /// The account that signs and pays.
    pub signer: AccountId,
    /// Must equal the signer's count of applied transactions.
    pub nonce: u64,
    /// Paid on top of the fee; orders the pool and can replace a pending transaction.
    pub tip: Balance,
    /// The genesis hash of the chain this is meant for: a transaction signed for one chain is
    /// refused on every other.
    pub genesis: Hash,
    /// The SCALE-encoded runtime call (the runtime's `RuntimeCall`).
    pub call: Vec<u8>,
}

impl Transaction {
    /// The bytes that are signed: tag, then the SCALE body (which contains the genesis hash).
    pub fn signing_payload(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(TX_SIGNING_TAG.len() + 32 + 8 + 16 + 32 + self.call.len() + 4);
        out.extend_from_slice(TX_SIGNING_TAG);
        self.encode_to(&mut out);
        out
    }
}

/// A transaction with its sr25519 signature over [`Transaction::signing_payload`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SignedTransaction {
    /// The signed body.
    pub tx: Transaction,
    /// sr25519 signature by `tx.signer`.
    pub signature: [u8; 64],
}

impl SignedTransaction {
    /// The transaction hash: blake2b-256 of the SCALE encoding.
    pub fn hash(&self) -> Hash {
        blake2_256(&self.encode())
    }
}

/// Why a transaction is invalid: it cannot be included at all and pays nothing.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum TxError {
    /// The bytes are not a SCALE `SignedTransaction`.
    BadEncoding,
    /// The encoded transaction exceeds the chain's limit.
    TooLarge { len: u32, max: u32 },
    /// Signed for another chain.
    WrongGenesis { expected: Hash, got: Hash },
    /// The signature does not verify for the signer.
    BadSignature,
    /// The nonce was already used.
    StaleNonce { expected: u64, got: u64 },
    /// The nonce is ahead of the next one the chain (or the pool) can take.
    FutureNonce { expected: u64, got: u64 },
    /// The call bytes do not decode to a call of this runtime.
    BadCall,
    /// The signer's free balance cannot pay the fee.
    CannotPayFee { fee: Balance, free: Balance },
    /// The call weighs more than the room left in the block (or than a whole block).
    ExhaustsBlock { weight: u64, max: u64 },
    /// The call would fail for a reason checked before any fee is taken (say, a second check-in
    /// the same day): nothing changes, nothing is paid.
    Refused(DispatchError),
}

impl core::fmt::Display for TxError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            TxError::BadEncoding => write!(f, "malformed transaction: not a SCALE-encoded signed transaction"),
            TxError::TooLarge { len, max } => {
                write!(f, "transaction is {len} bytes, the limit is {max}")
            }
            TxError::WrongGenesis { .. } => {
                write!(f, "transaction was signed for another chain (genesis hash differs)")
            }
            TxError::BadSignature => write!(f, "bad signature: it does not verify for the signer"),
            TxError::StaleNonce { expected, got } => {
                write!(f, "nonce too low: {got} was already used, next is {expected}")
            }
            TxError::FutureNonce { expected, got } => {
                write!(f, "nonce too high: got {got}, next is {expected}")
            }
            TxError::BadCall => write!(f, "call does not decode to a call of this runtime"),
            TxError::CannotPayFee { fee, free } => {
                write!(f, "balance too low to pay the fee: fee {fee}, free {free}")
            }
            TxError::ExhaustsBlock { weight, max } => {
                write!(
                    f,
                    "call weight {weight} does not fit the block's remaining weight {max}"
                )
            }
            TxError::Refused(e) => write!(f, "refused: {e}"),
        }
    }
}

/// Why a dispatched call failed. Both names are stable, human-readable identifiers.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct DispatchError {
    /// The pallet that refused, e.g. `balances`.
    pub module: String,
    /// The error, e.g. `InsufficientBalance`.
    pub error: String,
}

impl core::fmt::Display for DispatchError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}::{}", self.module, self.error)
    }
}

/// The result of a dispatched call.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum TxOutcome {
    /// The call's effects were kept.
    Success,
    /// The call's effects were rolled back; the fee was still paid.
    Failed(DispatchError),
    /// Part of an agreed transaction set but invalid when the block's fee pass reached it:
    /// not executed, no fee, no state change. Every node skips it the same way, so an agreed
    /// block stays importable. Fees are charged before any call runs, so a set that passed the
    /// set check has this only for a sender an earlier fee of its own reaped (that fee left
    /// less than the existential deposit, and the whole balance went to the fee pool).
    Skipped(TxError),
}

/// What including a transaction left behind.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Receipt {
    /// The transaction hash.
    pub tx_hash: Hash,
    /// Block that included it.
    pub block_number: BlockNumber,
    /// Position in the block.
    pub index: u32,
    /// Success or failure with its reason.
    pub outcome: TxOutcome,
    /// Total paid to the fee pool (fee plus tip).
    pub fee_paid: Balance,
    /// SCALE-encoded runtime events (the runtime's `RuntimeEvent`), in emission order.
    pub events: Vec<Vec<u8>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tx() -> Transaction {
        Transaction {
            signer: AccountId([1; 32]),
            nonce: 3,
            tip: 5,
            genesis: [9; 32],
            call: alloc::vec![1, 2, 3],
        }
    }

    #[test]
    fn signing_payload_binds_tag_genesis_and_body() {
        let a = tx();
        let p = a.signing_payload();
        assert!(p.starts_with(TX_SIGNING_TAG));
        let mut b = tx();
        b.genesis = [8; 32];
        assert_ne!(b.signing_payload(), p);
        let mut c = tx();
        c.nonce = 4;
        assert_ne!(c.signing_payload(), p);
    }

    #[test]
    fn tx_errors_read_as_sentences() {
        let e = TxError::StaleNonce { expected: 5, got: 2 };
        assert_eq!(e.to_string(), "nonce too low: 2 was already used, next is 5");
    }
}
