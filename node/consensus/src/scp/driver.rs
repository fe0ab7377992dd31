//! SCP's environment at a Watt validator (stellar-core's `HerderSCPDriver`): signatures over
//! envelopes, quorum sets by hash, validity of values against the head, the deterministic
//! combination of candidates, and the nomination hashes of draft-mazieres-dinrg-scp §5.1.

use super::txsets::TxSetStore;
use super::wire::{decode_value, WattEnvelope};
use crate::AgreementChain;
use parity_scale_codec::Encode;
use sp_core::{sr25519, Pair as _};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use watt_primitives::{blake2_256, AccountId, ConsensusValue, Hash, Header};
use watt_scp::ballot_protocol::BallotDriver;
use watt_scp::nomination::{NominationDriver, Validity, Value};
use watt_scp::scp::ScpDriver;
use watt_scp::QuorumSet;

/// The local clock, milliseconds since the Unix epoch.
pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The hash a quorum set is known by: blake2b-256 of its SCALE encoding.
pub fn quorum_set_hash(q: &QuorumSet<AccountId>) -> Hash {
    blake2_256(&q.encode())
}

/// Whether `env` carries a valid sr25519 signature of its sender over its payload on the
/// chain `genesis`.
pub fn envelope_signature_ok(env: &WattEnvelope, genesis: &Hash) -> bool {
    let Ok(sig) = <[u8; 64]>::try_from(env.signature.as_slice()) else {
        return false;
    };
    let public = sr25519::Public::from_raw(*env.node.as_bytes());
    sr25519::Pair::verify(
        &sr25519::Signature::from_raw(sig),
        env.signing_payload(genesis),
        &public,
    )
}

pub(crate) struct Driver<C> {
    pub(crate) chain: Arc<C>,
    pub(crate) genesis: Hash,
    pub(crate) key: Option<sr25519::Pair>,
    pub(crate) head: Header,
    pub(crate) head_hash: Hash,
    pub(crate) max_drift_ms: u64,
    pub(crate) qsets: HashMap<Hash, QuorumSet<AccountId>>,
    /// Every transaction set held, pinned or loose (see [`TxSetStore`]).
    pub(crate) sets: TxSetStore,
}

impl<C: AgreementChain> Driver<C> {
    pub(crate) fn new(
        chain: Arc<C>,
        key: Option<sr25519::Pair>,
        qset: &QuorumSet<AccountId>,
        max_drift_ms: u64,
    ) -> Self {
        let (head, head_hash) = chain.head();
        let mut qsets = HashMap::new();
        qsets.insert(quorum_set_hash(qset), qset.clone());
        Driver {
            genesis: chain.genesis_hash(),
            chain,
            key,
            head,
            head_hash,
            max_drift_ms,
            qsets,
            sets: TxSetStore::default(),
        }
    }

    fn validity(&self, slot: u64, value: &Value) -> Validity {
        let Some(v) = decode_value(value) else {
            return Validity::Invalid;
        };
        if slot != self.head.number + 1 {
            // Not the slot after our head: we cannot judge (we are behind or it is old).
            return Validity::MaybeValid;
        }
        if v.parent_hash != self.head_hash {
            return Validity::Invalid;
        }
        if v.close_time <= self.head.close_time || v.close_time > now_ms().saturating_add(self.max_drift_ms) {
            return Validity::Invalid;
        }
        let Some(set) = self.sets.get(&v.tx_set_hash) else {
            return Validity::MaybeValid;
        };
        match self.chain.validate_tx_set(&v.parent_hash, &set) {
            Ok(Ok(())) => Validity::Valid,
            Ok(Err(e)) => {
                tracing::debug!("slot {slot}: refusing a value: {e}");
                Validity::Invalid
            }
            Err(e) => {
                tracing::warn!("slot {slot}: cannot check a transaction set: {e}");
                Validity::MaybeValid
            }
        }
    }
}

/// `H(tag, slot, previous, round, x)` as a u64 (draft §5.1 uses SHA-256; Watt hashes with
/// blake2b-256 everywhere).
fn hash64(tag: u8, slot: u64, previous: &[u8], round: u32, x: &[u8]) -> u64 {
    let mut buf = Vec::with_capacity(1 + 8 + previous.len() + 4 + x.len() + 8);
    buf.push(tag);
    slot.encode_to(&mut buf);
    previous.encode_to(&mut buf);
    round.encode_to(&mut buf);
    x.encode_to(&mut buf);
    let h = blake2_256(&buf);
    u64::from_be_bytes([h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]])
}

impl<C: AgreementChain> NominationDriver<AccountId> for Driver<C> {
    fn validate(&self, slot: u64, value: &Value) -> Validity {
        self.validity(slot, value)
    }

    /// The largest candidate set (most transactions, then most bytes, ties by the higher set
    /// hash, then by a hash of slot and proposer: two validators proposing the same set get the
    /// block in turn by slot, and no key can be ground to win every tie) with its proposer and the latest candidate close time
    /// (stellar-core `combineCandidates` keeps the best set and the highest close time too). The
    /// proposer stays the one whose set was chosen: it becomes the block's author.
    fn combine(&self, slot: u64, candidates: &BTreeSet<Value>) -> Value {
        let decoded: Vec<ConsensusValue> = candidates.iter().filter_map(|v| decode_value(v)).collect();
        let Some(first) = decoded.first() else {
            return candidates.iter().next().cloned().unwrap_or_default();
        };
        let close_time = decoded.iter().map(|v| v.close_time).max().unwrap_or(first.close_time);
        let rank = |v: &ConsensusValue| {
            let set = self.sets.get(&v.tx_set_hash);
            (
                set.as_ref().map(|s| s.transactions.len()).unwrap_or(0),
                set.as_ref().map(|s| s.encoded_len()).unwrap_or(0),
                v.tx_set_hash,
                hash64(4, slot, &[], 0, v.proposer.as_bytes()),
            )
        };
        let best = decoded.iter().max_by_key(|v| rank(v)).unwrap_or(first);
        ConsensusValue {
            parent_hash: best.parent_hash,
            tx_set_hash: best.tx_set_hash,
            close_time,
            proposer: best.proposer,
        }
        .encode()
    }

    fn hash_node(&self, slot: u64, previous: &Value, priority: bool, round: u32, node: &AccountId) -> u64 {
        hash64(if priority { 2 } else { 1 }, slot, previous, round, node.as_bytes())
    }

    fn hash_value(&self, slot: u64, previous: &Value, round: u32, value: &Value) -> u64 {
        hash64(3, slot, previous, round, value)
    }
}

impl<C: AgreementChain> BallotDriver for Driver<C> {
    fn validate(&self, slot: u64, value: &Value) -> Validity {
        self.validity(slot, value)
    }
}

impl<C: AgreementChain> ScpDriver<AccountId> for Driver<C> {
    fn sign(&self, envelope: &WattEnvelope) -> Vec<u8> {
        match &self.key {
            Some(k) => {
                let sig = k.sign(&envelope.signing_payload(&self.genesis));
                let bytes: &[u8] = sig.as_ref();
                bytes.to_vec()
            }
            // A watcher emits nothing (ScpConfig::validator is false), so nothing is signed.
            None => vec![],
        }
    }

    fn verify(&self, envelope: &WattEnvelope) -> bool {
        envelope_signature_ok(envelope, &self.genesis)
    }

    fn quorum_set_hash(&self, qset: &QuorumSet<AccountId>) -> Hash {
        quorum_set_hash(qset)
    }

    fn quorum_set(&self, hash: &Hash) -> Option<QuorumSet<AccountId>> {
        self.qsets.get(hash).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use watt_chain::test_utils::{keyring, open_dev_chain, transfer};
    use watt_primitives::{TxSet, UNIT};

    fn value(tx_set_hash: Hash, close_time: u64, proposer: AccountId) -> ConsensusValue {
        ConsensusValue {
            parent_hash: [1; 32],
            tx_set_hash,
            close_time,
            proposer,
        }
    }

    fn combined(driver: &Driver<watt_chain::Chain>, values: &[&ConsensusValue]) -> ConsensusValue {
        let candidates: BTreeSet<Value> = values.iter().map(|v| v.encode()).collect();
        decode_value(&driver.combine(1, &candidates)).expect("a consensus value")
    }

    /// The biggest set wins with its own proposer, and the latest close time of all candidates.
    #[test]
    fn combine_keeps_the_proposer_of_the_set_it_picks() {
        let dir = tempfile::tempdir().unwrap();
        let chain = open_dev_chain(dir.path());
        let keys = keyring();
        let (alice, bob, charlie) = (keys[0].account(), keys[1].account(), keys[2].account());
        let g = chain.genesis_hash();
        let mut driver = Driver::new(chain, None, &QuorumSet::flat(1, vec![alice]), 1_000);
        let big = driver.sets.pin(
            Arc::new(TxSet {
                transactions: vec![
                    transfer(g, &keys[0], charlie, UNIT, 0, 0),
                    transfer(g, &keys[1], charlie, UNIT, 0, 0),
                ],
            }),
            1,
        );
        let small = driver.sets.pin(
            Arc::new(TxSet {
                transactions: vec![transfer(g, &keys[3], charlie, UNIT, 0, 0)],
            }),
            1,
        );
        let by_bob = value(big, 5_000, bob);
        let late_by_alice = value(small, 9_000, alice);
        let empty_by_charlie = value(TxSet::default().hash(), 7_000, charlie);
        let c = combined(&driver, &[&by_bob, &late_by_alice, &empty_by_charlie]);
        assert_eq!(c, value(big, 9_000, bob));

        // One set proposed by two validators: each wins some slots (the tie is broken by a hash
        // of slot and proposer, not by the larger account, which a key could be ground for).
        let same_by_alice = value(big, 6_000, alice);
        let candidates: BTreeSet<Value> = [by_bob.encode(), same_by_alice.encode()].into_iter().collect();
        let winners: Vec<AccountId> = (1..=32u64)
            .map(|slot| {
                decode_value(&driver.combine(slot, &candidates))
                    .expect("a value")
                    .proposer
            })
            .collect();
        assert!(winners.iter().all(|w| *w == alice || *w == bob));
        assert!(winners.contains(&alice) && winners.contains(&bob), "{winners:?}");
    }
}
