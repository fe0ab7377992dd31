//! What a validator keeps on disk between runs: its own latest envelopes and the transaction
//! sets they name. Without the sets, a network whose validators all restart holds votes for
//! values nobody can fetch any more, and a slot whose ballot was already prepared on such a
//! value could never be applied (issue 17: restarting all four validators did not recover).

use super::wire::WattEnvelope;
use parity_scale_codec::{Decode, DecodeAll, Encode};
use std::sync::Arc;
use watt_primitives::TxSet;

/// Tags the current format; the first format was a bare `Vec<WattEnvelope>`.
const MAGIC: &[u8; 8] = b"wattscp2";

/// The persisted state.
#[derive(Debug, Default, PartialEq, Eq, Encode, Decode)]
pub(crate) struct Persisted {
    pub(crate) envelopes: Vec<WattEnvelope>,
    pub(crate) tx_sets: Vec<TxSet>,
}

/// Encodes `envelopes` with `sets` (each once).
pub(crate) fn encode(envelopes: &[WattEnvelope], sets: &[Arc<TxSet>]) -> Vec<u8> {
    let mut out = MAGIC.to_vec();
    envelopes.encode_to(&mut out);
    // A `Compact` length then each set: exactly how `Vec<TxSet>` encodes, without cloning them.
    parity_scale_codec::Compact(sets.len() as u32).encode_to(&mut out);
    for s in sets {
        s.encode_to(&mut out);
    }
    out
}

/// Decodes either format; `None` if the bytes are neither.
pub(crate) fn decode(bytes: &[u8]) -> Option<Persisted> {
    if let Some(rest) = bytes.strip_prefix(MAGIC.as_slice()) {
        return Persisted::decode_all(&mut &rest[..]).ok();
    }
    Vec::<WattEnvelope>::decode_all(&mut &bytes[..])
        .ok()
        .map(|envelopes| Persisted {
            envelopes,
            tx_sets: vec![],
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use watt_chain::test_utils::{keyring, transfer};
    use watt_primitives::{AccountId, UNIT};
    use watt_scp::nomination::Nominate;
    use watt_scp::slot::Statement;

    fn envelope(slot: u64) -> WattEnvelope {
        WattEnvelope {
            slot,
            node: AccountId::from([3; 32]),
            qset_hash: [4; 32],
            statement: Statement::Nominate(Nominate {
                votes: [vec![1u8, 2, 3]].into_iter().collect(),
                accepted: Default::default(),
            }),
            signature: vec![9; 64],
        }
    }

    /// Envelopes and sets round-trip; the old format (envelopes alone) still reads.
    #[test]
    fn both_formats_decode() {
        let keys = keyring();
        let set = TxSet {
            transactions: vec![transfer([0; 32], &keys[0], keys[1].account(), UNIT, 0, 0)],
        };
        let envs = vec![envelope(5), envelope(6)];
        let bytes = encode(&envs, &[Arc::new(set.clone())]);
        assert_eq!(
            decode(&bytes),
            Some(Persisted {
                envelopes: envs.clone(),
                tx_sets: vec![set]
            })
        );
        let old = envs.encode();
        assert_eq!(
            decode(&old),
            Some(Persisted {
                envelopes: envs,
                tx_sets: vec![]
            })
        );
        assert_eq!(decode(b"wattscp2garbage"), None);
    }
}
