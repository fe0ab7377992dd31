//! What SCP validators say to each other, in SCALE (ARCHITECTURE §5): gossip payloads (signed
//! envelopes, transaction sets, transactions) and request-response messages (a tx set or quorum
//! set by hash, a slot's SCP state, block ranges with their certificates, status). Every
//! decoder takes untrusted bytes: it is bounded by size and nesting, and refuses trailing bytes.

use parity_scale_codec::{Decode, DecodeAll, DecodeLimit, Encode};
use watt_primitives::{AccountId, Block, BlockNumber, Hash, TxSet};
use watt_scp::scp::Envelope;
use watt_scp::QuorumSet;

/// An SCP envelope as Watt sends it: validators are sr25519 keys.
pub type WattEnvelope = Envelope<AccountId>;

/// Largest SCP envelope accepted (a nomination carries at most a few hundred values of ~80
/// bytes; stellar-core's envelopes are of the same order).
pub const MAX_ENVELOPE_BYTES: usize = 64 * 1024;
/// Largest encoded transaction set: the block byte limit plus length prefixes.
pub const MAX_TX_SET_BYTES: usize = 9 << 20;
/// Largest request (a push of transactions is the largest kind; the network's own frame limit
/// is 64 KiB).
pub const MAX_REQUEST_BYTES: usize = 60 * 1024;
/// Largest response (a block range is cut to fit).
pub const MAX_RESPONSE_BYTES: usize = 16 << 20;
/// Most blocks asked for at once.
pub const MAX_BLOCKS_PER_REQUEST: u32 = 256;
/// Nesting depth allowed while decoding (quorum sets nest at most 4 deep; everything else is
/// flat).
const DEPTH: u32 = 16;

/// Why bytes from a peer were refused.
#[derive(Debug, thiserror::Error)]
pub enum WireError {
    /// Larger than the message kind allows.
    #[error("{kind} of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// What it was meant to be.
        kind: &'static str,
        /// Its size.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a valid encoding.
    #[error("malformed {kind}: {reason}")]
    Malformed {
        /// What it was meant to be.
        kind: &'static str,
        /// The codec's complaint.
        reason: String,
    },
}

/// Decodes untrusted bytes as `T`, within `max` bytes, bounded nesting, all bytes used.
pub fn decode<T: Decode>(bytes: &[u8], max: usize, kind: &'static str) -> Result<T, WireError> {
    if bytes.len() > max {
        return Err(WireError::TooLarge {
            kind,
            len: bytes.len(),
            max,
        });
    }
    let mut input = bytes;
    let value = T::decode_with_depth_limit(DEPTH, &mut input).map_err(|e| WireError::Malformed {
        kind,
        reason: e.to_string(),
    })?;
    if !input.is_empty() {
        return Err(WireError::Malformed {
            kind,
            reason: format!("{} trailing bytes", input.len()),
        });
    }
    Ok(value)
}

/// A request to a peer.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Request {
    /// The transaction set with this hash.
    TxSet(Hash),
    /// The quorum set with this hash.
    QuorumSet(Hash),
    /// Every node's latest envelopes for this slot and later (stellar-core
    /// `GET_SCP_STATE`): how a node that missed messages catches up on an open slot.
    ScpState(u64),
    /// Blocks `from..from+count` with their finality certificates.
    Blocks {
        /// First block number.
        from: BlockNumber,
        /// How many (at most [`MAX_BLOCKS_PER_REQUEST`]).
        count: u32,
    },
    /// The peer's chain and head.
    Status,
    /// Pooled transactions of `sender` from nonce `from_nonce` on (at most
    /// [`MAX_TXS_PER_MESSAGE`]): how a node whose pool misses a nonce pulls it from peers, so a
    /// gap left by dropped gossip heals by itself.
    PooledFrom {
        /// The sender.
        sender: AccountId,
        /// First nonce wanted.
        from_nonce: u64,
    },
    /// Transactions pushed to a validator that may not have them (each SCALE-encoded, at most
    /// [`MAX_TXS_PER_MESSAGE`]): the periodic re-announcement of transactions waiting too long,
    /// since gossip drops what it has seen recently and a message lost once is never resent.
    PushTransactions(Vec<Vec<u8>>),
}

/// Most transactions in one [`Request::PooledFrom`] answer or [`Request::PushTransactions`].
pub const MAX_TXS_PER_MESSAGE: usize = 256;

/// The answer to a [`Request`].
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Response {
    /// For [`Request::TxSet`].
    TxSet(Option<TxSet>),
    /// For [`Request::QuorumSet`].
    QuorumSet(Option<QuorumSet<AccountId>>),
    /// For [`Request::ScpState`].
    ScpState(Vec<WattEnvelope>),
    /// For [`Request::Blocks`]: consecutive blocks from the one asked for, each with its
    /// SCALE `Certificate` (none only for genesis).
    Blocks(Vec<(Block, Option<Vec<u8>>)>),
    /// For [`Request::Status`].
    Status(Status),
    /// The request could not be served.
    Error(String),
    /// For [`Request::PooledFrom`]: SCALE-encoded transactions in nonce order.
    Transactions(Vec<Vec<u8>>),
    /// For [`Request::PushTransactions`]: how many were queued for admission (a node admits
    /// them off its consensus loop, after answering; a full queue takes none).
    Pushed(u32),
}

/// A node's chain and head.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Status {
    /// Genesis hash: peers on another chain are of no use.
    pub genesis: Hash,
    /// Head (= finalized) number.
    pub best_number: BlockNumber,
    /// Head hash.
    pub best_hash: Hash,
}

/// Decodes a gossiped envelope.
pub fn decode_envelope(bytes: &[u8]) -> Result<WattEnvelope, WireError> {
    decode(bytes, MAX_ENVELOPE_BYTES, "SCP envelope")
}

/// Decodes a gossiped or fetched transaction set.
pub fn decode_tx_set(bytes: &[u8]) -> Result<TxSet, WireError> {
    decode(bytes, MAX_TX_SET_BYTES, "transaction set")
}

/// A gossip message on the transactions topic: SCALE-encoded signed transactions, at most
/// [`MAX_TXS_PER_MESSAGE`]. Batching is what lets gossip carry thousands of transactions a
/// second: every gossip message costs a signature, a signature check and a slot in each peer's
/// send queue, and one message per transaction filled those queues under load until SCP
/// envelopes could not be sent (BENCHMARKS.md "An open network").
pub fn encode_tx_batch(txs: &[Vec<u8>]) -> Vec<u8> {
    txs.encode()
}

/// Decodes a gossiped transaction batch (see [`encode_tx_batch`]): within the gossip payload
/// limit, at most [`MAX_TXS_PER_MESSAGE`] transactions, not empty.
pub fn decode_tx_batch(bytes: &[u8]) -> Result<Vec<Vec<u8>>, WireError> {
    const KIND: &str = "transaction batch";
    let txs: Vec<Vec<u8>> = decode(bytes, MAX_TX_SET_BYTES, KIND)?;
    if txs.is_empty() || txs.len() > MAX_TXS_PER_MESSAGE {
        return Err(WireError::Malformed {
            kind: KIND,
            reason: format!("{} transactions (1 to {MAX_TXS_PER_MESSAGE} allowed)", txs.len()),
        });
    }
    Ok(txs)
}

/// Decodes a request.
pub fn decode_request(bytes: &[u8]) -> Result<Request, WireError> {
    decode(bytes, MAX_REQUEST_BYTES, "request")
}

/// Decodes a response.
pub fn decode_response(bytes: &[u8]) -> Result<Response, WireError> {
    decode(bytes, MAX_RESPONSE_BYTES, "response")
}

/// Decodes an SCP value (a SCALE `ConsensusValue`, nothing more).
pub fn decode_value(bytes: &[u8]) -> Option<watt_primitives::ConsensusValue> {
    watt_primitives::ConsensusValue::decode_all(&mut &bytes[..]).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn oversized_and_trailing_bytes_are_refused() {
        let req = Request::Status.encode();
        let mut trailing = req.clone();
        trailing.push(0);
        assert!(matches!(decode_request(&trailing), Err(WireError::Malformed { .. })));
        let big = vec![0u8; MAX_REQUEST_BYTES + 1];
        assert!(matches!(decode_request(&big), Err(WireError::TooLarge { .. })));
        assert_eq!(decode_request(&req).unwrap(), Request::Status);
    }

    #[test]
    fn requests_and_responses_round_trip() {
        let reqs = [
            Request::TxSet([7; 32]),
            Request::QuorumSet([8; 32]),
            Request::ScpState(9),
            Request::Blocks { from: 3, count: 4 },
            Request::Status,
        ];
        for r in reqs {
            assert_eq!(decode_request(&r.encode()).unwrap(), r);
        }
        let resp = Response::Status(Status {
            genesis: [1; 32],
            best_number: 5,
            best_hash: [2; 32],
        });
        assert_eq!(decode_response(&resp.encode()).unwrap(), resp);
    }

    proptest! {
        /// Random bytes never panic any network decoder; whatever decodes re-encodes to the
        /// same bytes (one encoding per message).
        #[test]
        fn random_bytes_never_panic_the_decoders(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            if let Ok(env) = decode_envelope(&bytes) {
                prop_assert_eq!(env.encode(), bytes.clone());
            }
            if let Ok(set) = decode_tx_set(&bytes) {
                prop_assert_eq!(set.encode(), bytes.clone());
            }
            if let Ok(r) = decode_request(&bytes) {
                prop_assert_eq!(r.encode(), bytes.clone());
            }
            if let Ok(txs) = decode_tx_batch(&bytes) {
                prop_assert!(!txs.is_empty() && txs.len() <= MAX_TXS_PER_MESSAGE);
                prop_assert_eq!(encode_tx_batch(&txs), bytes.clone());
            }
            let _ = decode_response(&bytes);
            let _ = decode_value(&bytes);
        }

        #[test]
        fn tx_batches_round_trip_within_their_bounds(
            txs in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..64), 0..300)
        ) {
            let decoded = decode_tx_batch(&encode_tx_batch(&txs));
            if txs.is_empty() || txs.len() > MAX_TXS_PER_MESSAGE {
                prop_assert!(decoded.is_err(), "{} transactions accepted", txs.len());
            } else {
                prop_assert_eq!(decoded.unwrap(), txs);
            }
        }
    }
}
