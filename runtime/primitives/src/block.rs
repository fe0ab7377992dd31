//! Headers and blocks. Header N commits the state root after applying tx set N
//! (ARCHITECTURE §3: agree, then execute).

use crate::{blake2_256, BlockNumber, Hash, SignedTransaction, Timestamp};
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
    /// Binary Merkle root of this block's transaction hashes (see [`merkle_root`]).
    pub tx_root: Hash,
    /// Close time agreed by consensus, milliseconds since the Unix epoch.
    pub close_time: Timestamp,
    /// Engine-specific finality data (the dev engine leaves it empty; SCP stores its ballot).
    pub consensus_data: Vec<u8>,
}

impl Header {
    /// The block hash.
    pub fn hash(&self) -> Hash {
        blake2_256(&self.encode())
    }
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
            close_time: 99,
            consensus_data: alloc::vec![4],
        };
        // Exhaustive destructuring: a field added to Header fails to compile here until it is
        // given a variation below (an unused binding warns), so no field escapes the hash unnoticed.
        let Header {
            parent_hash,
            number,
            state_root,
            tx_root,
            close_time,
            consensus_data,
        } = base.clone();
        let flip = |mut h: Hash| {
            h[31] ^= 1;
            h
        };
        let variants: [(&str, Header); 7] = [
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
                "consensus_data (changed)",
                Header {
                    consensus_data: alloc::vec![consensus_data[0] ^ 1],
                    ..base.clone()
                },
            ),
            (
                "consensus_data (longer)",
                Header {
                    consensus_data: [consensus_data.clone(), alloc::vec![0]].concat(),
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
