//! Headers and blocks. Header N commits the state root after applying tx set N
//! (ARCHITECTURE §3: agree, then execute).

use crate::{blake2_256, AccountId, BlockNumber, Hash, SignedTransaction, Timestamp};
use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};

/// A block header. Its hash (blake2b-256 of the SCALE encoding) names the block.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Header {
    /// Hash of the parent header; all zeros for genesis.
    pub parent_hash: Hash,
    /// Height; genesis is 0.
    pub number: BlockNumber,
    /// Root of the authenticated state tree after this block's transactions.
    pub state_root: Hash,
    /// Binary Merkle root of this block's transaction hashes (see [`merkle_root`]): the tx-set
    /// hash SCP agreed on, since an agreed set is applied whole (ARCHITECTURE §3).
    pub tx_root: Hash,
    /// Binary Merkle root of the blake2 hashes of this block's SCALE-encoded receipts (events
    /// included), in transaction order: a receipt proves against a certified header.
    pub receipts_root: Hash,
    /// [`merkle_root`] of blake2 of each SCALE-encoded `EventRecord` of the block, in order
    /// (hooks' and transactions' events, see [`crate::economy::EventRecord`]).
    pub events_root: Hash,
    /// Close time agreed by consensus, milliseconds since the Unix epoch.
    pub close_time: Timestamp,
    /// The block's author (dev engine: the node's key; SCP: the agreed value's proposer).
    pub author: AccountId,
}

impl Header {
    /// The block hash.
    pub fn hash(&self) -> Hash {
        blake2_256(&self.encode())
    }
}

/// The value SCP agrees on for slot N (block N): the parent it builds on, the transaction set
/// (by its [`merkle_root`] of transaction hashes, the header's `tx_root`), the close time and
/// its proposer with the proof that binds it.
/// Finality certificates name it; the block's header follows from it by execution. Its
/// SCALE encoding is the SCP value.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Encode, Decode)]
pub struct ConsensusValue {
    /// Hash of header N-1.
    pub parent_hash: Hash,
    /// `merkle_root` of the set's transaction hashes, in application order.
    pub tx_set_hash: Hash,
    /// Close time, milliseconds since the Unix epoch; later than the parent's.
    pub close_time: Timestamp,
    /// The validator whose candidate set was chosen; the block's author.
    pub proposer: AccountId,
    /// The proposer's sr25519 VRF signature (32-byte pre-output, 64-byte proof) whose input is
    /// the chain and slot alone and which also signs `parent_hash` and `tx_set_hash`: it binds
    /// the proposer to the set it proposed, and its output is the proposer's lottery ticket for
    /// the slot, which no one can predict for another validator nor grind for itself. Checked
    /// by the consensus engine (the header carries only the author); not part of the header.
    pub proposer_proof: [u8; PROPOSER_PROOF_LEN],
}

/// Length of [`ConsensusValue::proposer_proof`].
pub const PROPOSER_PROOF_LEN: usize = 96;

impl ConsensusValue {
    /// Whether `header` is the block this value produces (all but its execution results).
    pub fn matches(&self, header: &Header) -> bool {
        header.parent_hash == self.parent_hash
            && header.tx_root == self.tx_set_hash
            && header.close_time == self.close_time
            && header.author == self.proposer
    }
}

/// A transaction set proposed for a block: what SCP nominates by hash and validators fetch
/// from each other. Applied whole and in order once agreed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct TxSet {
    /// Transactions in application order.
    pub transactions: Vec<SignedTransaction>,
}

impl TxSet {
    /// The set's hash: [`merkle_root`] of its transaction hashes (the `tx_root` of its block).
    pub fn hash(&self) -> Hash {
        let hashes: Vec<Hash> = self.transactions.iter().map(|t| t.hash()).collect();
        merkle_root(&hashes)
    }

    /// Encoded size of its transactions.
    pub fn encoded_len(&self) -> usize {
        self.transactions.iter().map(|t| t.encoded_size()).sum()
    }
}

/// Root of receipts: [`merkle_root`] over blake2 of each SCALE-encoded receipt.
pub fn receipts_root<R: Encode>(receipts: &[R]) -> Hash {
    let leaves: Vec<Hash> = receipts.iter().map(|r| blake2_256(&r.encode())).collect();
    merkle_root(&leaves)
}

/// Root of a block's events list: [`merkle_root`] over blake2 of each SCALE-encoded record.
pub fn events_root(records: &[crate::economy::EventRecord]) -> Hash {
    receipts_root(records)
}

/// A block: header plus the ordered transactions it applied.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Block {
    /// The header.
    pub header: Header,
    /// Transactions in application order.
    pub transactions: Vec<SignedTransaction>,
}

/// Binary Merkle root over leaf hashes: pairs are hashed as blake2(0x01 || left || right), a lone
/// last node is promoted unchanged, leaves are tagged blake2(0x00 || leaf) so that a leaf can
/// never pass for an inner node. The root of no leaves is all zeros.
pub fn merkle_root(leaves: &[Hash]) -> Hash {
    if leaves.is_empty() {
        return [0u8; 32];
    }
    let mut level: Vec<Hash> = leaves
        .iter()
        .map(|l| {
            let mut buf = [0u8; 33];
            buf[1..].copy_from_slice(l);
            blake2_256(&buf)
        })
        .collect();
    while level.len() > 1 {
        level = level
            .chunks(2)
            .map(|pair| match pair {
                [l, r] => {
                    let mut buf = [0u8; 65];
                    buf[0] = 1;
                    buf[1..33].copy_from_slice(l);
                    buf[33..].copy_from_slice(r);
                    blake2_256(&buf)
                }
                [single] => *single,
                _ => unreachable!("chunks(2) yields one or two items"),
            })
            .collect();
    }
    level[0]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merkle_root_depends_on_every_leaf_and_order() {
        let leaves: Vec<Hash> = (0u8..5).map(|i| blake2_256(&[i])).collect();
        let root = merkle_root(&leaves);
        for i in 0..leaves.len() {
            let mut changed = leaves.clone();
            changed[i][0] ^= 1;
            assert_ne!(merkle_root(&changed), root, "leaf {i} not committed");
        }
        let mut swapped = leaves.clone();
        swapped.swap(0, 1);
        assert_ne!(merkle_root(&swapped), root);
        assert_eq!(merkle_root(&[]), [0u8; 32]);
        assert_ne!(merkle_root(&leaves[..1]), leaves[0], "single leaf must be tagged");
    }

    #[test]
    fn header_hash_covers_every_field() {
        let base = Header {
            parent_hash: [1; 32],
            number: 7,
            state_root: [2; 32],
            tx_root: [3; 32],
            receipts_root: [4; 32],
            events_root: [5; 32],
            close_time: 99,
            author: AccountId([6; 32]),
        };
        // Exhaustive destructuring: a field added to Header fails to compile here until it is
        // given a variation below (an unused binding warns), so no field escapes the hash unnoticed.
        let Header {
            parent_hash,
            number,
            state_root,
            tx_root,
            receipts_root,
            events_root,
            close_time,
            author,
        } = base.clone();
        let flip = |mut h: Hash| {
            h[31] ^= 1;
            h
        };
        let variants: [(&str, Header); 8] = [
            (
                "events_root",
                Header {
                    events_root: flip(events_root),
                    ..base.clone()
                },
            ),
            (
                "author",
                Header {
                    author: AccountId(flip(author.0)),
                    ..base.clone()
                },
            ),
            (
                "parent_hash",
                Header {
                    parent_hash: flip(parent_hash),
                    ..base.clone()
                },
            ),
            (
                "number",
                Header {
                    number: number + 1,
                    ..base.clone()
                },
            ),
            (
                "state_root",
                Header {
                    state_root: flip(state_root),
                    ..base.clone()
                },
            ),
            (
                "tx_root",
                Header {
                    tx_root: flip(tx_root),
                    ..base.clone()
                },
            ),
            (
                "close_time",
                Header {
                    close_time: close_time + 1,
                    ..base.clone()
                },
            ),
            (
                "receipts_root",
                Header {
                    receipts_root: flip(receipts_root),
                    ..base.clone()
                },
            ),
        ];
        let mut seen = alloc::vec![base.hash()];
        for (field, changed) in variants {
            let h = changed.hash();
            assert!(
                !seen.contains(&h),
                "changing {field} left the header hash unchanged (or collided)"
            );
            seen.push(h);
        }
    }
}
