//! Who proposes a block, so that the validator reward cannot be stolen or ground (issue 17,
//! item 9).
//!
//! Before, the largest candidate set won with its proposer, and nothing tied the proposer to
//! the set: a validator copied a rival's set, added one transaction and took the reward. Now:
//! - Each value carries its proposer's sr25519 VRF signature ([`prove`]). Its input is the chain
//!   and the slot only, so each validator has exactly one ticket per slot, which it cannot
//!   change by choosing its set, close time or anything else, and which nobody else can compute
//!   before it is published. The signature also covers the parent and the set hash, so the
//!   proposer is bound to the set it proposed.
//! - A value is valid only with a proof that verifies and a proposer in the node's transitive
//!   quorum (otherwise a validator could mint tickets with keys of its own).
//! - Of the candidates SCP confirmed, those whose set has at least half the transactions of
//!   the largest are eligible, and the highest ticket among them wins (ties by set hash): the
//!   choice is a lottery among validators that did their job, not a race to the largest set.
//!   Copying a rival's set makes a validator eligible, but it then wins exactly when its own
//!   ticket is the best, as it would with a set of its own.
//! - The close time is the (lower) median of the candidates' close times, not the maximum: no
//!   single validator sets it.
//!
//! What remains: a validator knows its own tickets for every future slot (it cannot improve
//! them); it may withhold its value when its ticket is poor (it only loses its chance); a value
//! whose set is under half the largest is never chosen, so a validator can make a rival
//! ineligible only by proposing a set more than twice as large, which is then honest work; the
//! block's transactions and thus its hash still depend on the winner's set, which seeds the
//! next slot's nomination leaders (leaders decide which values are voted on first, not who
//! wins the reward).

use parity_scale_codec::{Decode, Encode};
use sp_core::crypto::{VrfPublic, VrfSecret};
use sp_core::sr25519::{self, vrf};
use watt_primitives::{ConsensusValue, Hash, PROPOSER_PROOF_LEN};

fn input(genesis: &Hash, slot: u64) -> vrf::VrfTranscript {
    vrf::VrfTranscript::new(
        b"watt/proposer/v1",
        &[(b"genesis", genesis), (b"slot", &slot.to_le_bytes())],
    )
}

fn sign_data(genesis: &Hash, slot: u64, parent: &Hash, set: &Hash) -> vrf::VrfSignData {
    vrf::VrfSignData::new(input(genesis, slot)).with_extra(vrf::VrfTranscript::new(
        b"watt/proposer-set/v1",
        &[(b"parent", parent), (b"set", set)],
    ))
}

/// The proof for a value proposing `set` on `parent` in `slot` (public for tools and tests
/// that play a validator; the engine proves its own values).
pub fn prove(key: &sr25519::Pair, genesis: &Hash, slot: u64, parent: &Hash, set: &Hash) -> [u8; PROPOSER_PROOF_LEN] {
    let sig = key.vrf_sign(&sign_data(genesis, slot, parent, set));
    let bytes = sig.encode();
    let mut out = [0u8; PROPOSER_PROOF_LEN];
    // A VRF signature encodes as its 32-byte pre-output and 64-byte proof.
    out.copy_from_slice(&bytes[..PROPOSER_PROOF_LEN]);
    out
}

/// The proposer's ticket for `slot` if `value`'s proof verifies (for its proposer, slot,
/// parent and set); `None` otherwise.
pub(crate) fn ticket(genesis: &Hash, slot: u64, value: &ConsensusValue) -> Option<u128> {
    let sig = vrf::VrfSignature::decode(&mut &value.proposer_proof[..]).ok()?;
    let public = sr25519::Public::from_raw(*value.proposer.as_bytes());
    let data = sign_data(genesis, slot, &value.parent_hash, &value.tx_set_hash);
    if !public.vrf_verify(&data, &sig) {
        return None;
    }
    let bytes: [u8; 16] = sig
        .pre_output
        .make_bytes(b"watt/proposer-ticket/v1", &input(genesis, slot), &public)
        .ok()?;
    Some(u128::from_be_bytes(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use sp_core::Pair as _;
    use watt_primitives::AccountId;

    fn value(key: &sr25519::Pair, slot: u64, set: Hash) -> ConsensusValue {
        let genesis = [1; 32];
        let parent = [2; 32];
        ConsensusValue {
            parent_hash: parent,
            tx_set_hash: set,
            close_time: 10,
            proposer: AccountId::from(key.public().0),
            proposer_proof: prove(key, &genesis, slot, &parent, &set),
        }
    }

    /// A proof verifies for its own proposer, slot, parent and set only; the ticket does not
    /// depend on the set (no grinding), and differs between validators and slots.
    #[test]
    fn a_proof_binds_proposer_slot_and_set_and_the_ticket_cannot_be_ground() {
        let (a, b) = (sr25519::Pair::from_seed(&[7; 32]), sr25519::Pair::from_seed(&[8; 32]));
        let g = [1; 32];
        let v = value(&a, 5, [3; 32]);
        let t = ticket(&g, 5, &v).expect("a valid proof");
        assert_eq!(ticket(&g, 6, &v), None, "another slot");
        assert_eq!(ticket(&[9; 32], 5, &v), None, "another chain");
        let mut other_set = v.clone();
        other_set.tx_set_hash = [4; 32];
        assert_eq!(ticket(&g, 5, &other_set), None, "the set is signed");
        let mut other_parent = v.clone();
        other_parent.parent_hash = [5; 32];
        assert_eq!(ticket(&g, 5, &other_parent), None, "the parent is signed");
        let mut stolen = v.clone();
        stolen.proposer = AccountId::from(b.public().0);
        assert_eq!(ticket(&g, 5, &stolen), None, "a proof is its proposer's only");
        let mut garbage = v.clone();
        garbage.proposer_proof = [0xff; PROPOSER_PROOF_LEN];
        assert_eq!(ticket(&g, 5, &garbage), None);
        // Same slot, another set: the same ticket (the set cannot be chosen to win).
        assert_eq!(ticket(&g, 5, &value(&a, 5, [6; 32])), Some(t));
        assert_ne!(ticket(&g, 5, &value(&b, 5, [3; 32])), Some(t));
        assert_ne!(ticket(&g, 6, &value(&a, 6, [3; 32])), Some(t));
    }
}
