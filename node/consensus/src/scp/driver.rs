//! SCP's environment at a Watt validator (stellar-core's `HerderSCPDriver`): signatures over
//! envelopes, quorum sets by hash, validity of values against the head, the deterministic
//! combination of candidates, and the nomination hashes of draft-mazieres-dinrg-scp §5.1.

use super::proposer;
use super::txsets::TxSetStore;
use super::wire::{decode_value, WattEnvelope};
use crate::AgreementChain;
use parity_scale_codec::Encode;
use sp_core::{sr25519, Pair as _};
use std::collections::{BTreeSet, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};
use watt_primitives::abi::TxSetError;
use watt_primitives::{blake2_256, AccountId, ConsensusValue, Hash, Header};
use watt_scp::ballot_protocol::BallotDriver;
use watt_scp::nomination::{NominationDriver, Validity, Value};
use watt_scp::scp::ScpDriver;
use watt_scp::QuorumSet;

/// Where the engine reads the time of day: close times it proposes, the check that a value
/// does not close too far in the future, and the empty-block interval (counted from the head's
/// close time, which all validators agree on).
#[derive(Clone, Copy, Debug, Default)]
pub enum WallClock {
    /// The system clock (production).
    #[default]
    System,
    /// `unix_ms` at `anchor`, advancing with tokio's clock: a simulation with the clock paused
    /// runs in virtual time of day too. Validators of one simulation share one anchor, as real
    /// validators share NTP.
    Virtual {
        /// Milliseconds since the Unix epoch at `anchor`.
        unix_ms: u64,
        /// The tokio instant `unix_ms` was read at.
        anchor: tokio::time::Instant,
    },
}

impl WallClock {
    /// A virtual clock that reads the system's time of day now.
    pub fn virtual_from_now() -> Self {
        WallClock::Virtual {
            unix_ms: system_ms(),
            anchor: tokio::time::Instant::now(),
        }
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> u64 {
        match self {
            WallClock::System => system_ms(),
            WallClock::Virtual { unix_ms, anchor } => unix_ms.saturating_add(anchor.elapsed().as_millis() as u64),
        }
    }
}

fn system_ms() -> u64 {
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
    pub(crate) clock: WallClock,
    pub(crate) qsets: HashMap<Hash, QuorumSet<AccountId>>,
    /// Every transaction set held, pinned or loose (see [`TxSetStore`]).
    pub(crate) sets: TxSetStore,
    /// Who may propose: the local transitive quorum (kept equal to the engine's scope).
    pub(crate) proposers: BTreeSet<AccountId>,
    /// The set check's verdicts by (parent, set hash). SCP asks for a value's validity on every
    /// statement naming it, a dozen times a slot; the chain caches verdicts too, but finding
    /// its entry means hashing the whole set again (a Merkle root over every transaction: 10 %
    /// of a validator's time under load before this cache).
    set_verdicts: Mutex<HashMap<(Hash, Hash), Result<(), TxSetError>>>,
}

/// Set-check verdicts kept (a few slots' candidates).
const SET_VERDICTS_KEPT: usize = 64;

impl<C: AgreementChain> Driver<C> {
    pub(crate) fn new(
        chain: Arc<C>,
        key: Option<sr25519::Pair>,
        qset: &QuorumSet<AccountId>,
        max_drift_ms: u64,
        clock: WallClock,
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
            clock,
            qsets,
            sets: TxSetStore::default(),
            proposers: qset.all_validators(),
            set_verdicts: Mutex::new(HashMap::new()),
        }
    }

    fn validity(&self, slot: u64, value: &Value) -> Validity {
        let Some(v) = decode_value(value) else {
            return Validity::Invalid;
        };
        // The proposer must be a validator this node depends on, bound to the set by its proof
        // (issue 17, item 9; see [`super::proposer`]).
        if !self.proposers.contains(&v.proposer) || proposer::ticket(&self.genesis, slot, &v).is_none() {
            return Validity::Invalid;
        }
        if slot != self.head.number + 1 {
            // Not the slot after our head: we cannot judge (we are behind or it is old).
            return Validity::MaybeValid;
        }
        if v.parent_hash != self.head_hash {
            return Validity::Invalid;
        }
        if v.close_time <= self.head.close_time || v.close_time > self.clock.now_ms().saturating_add(self.max_drift_ms)
        {
            return Validity::Invalid;
        }
        let key = (v.parent_hash, v.tx_set_hash);
        let cached = self
            .set_verdicts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        let verdict = match cached {
            Some(verdict) => Ok(verdict),
            None => {
                // The store keys each set by its verified hash, so this is the set the value names.
                let Some(set) = self.sets.get(&v.tx_set_hash) else {
                    return Validity::MaybeValid;
                };
                let verdict = self.chain.validate_tx_set(&v.parent_hash, &set);
                if let Ok(verdict) = &verdict {
                    let mut cache = self.set_verdicts.lock().unwrap_or_else(|e| e.into_inner());
                    if cache.len() >= SET_VERDICTS_KEPT {
                        cache.clear();
                    }
                    cache.insert(key, verdict.clone());
                }
                verdict
            }
        };
        match verdict {
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

    /// The candidate chosen by the proposer lottery ([`super::proposer`]): of the candidates
    /// whose set has at least half the transactions of the largest, the one with the highest
    /// ticket (ties by set hash), with the lower median of all candidates' close times
    /// (stellar-core `combineCandidates` takes the best set and the highest close time; Watt
    /// takes neither from a single validator). The proposer stays the one whose set was chosen:
    /// it becomes the block's author.
    fn combine(&self, slot: u64, candidates: &BTreeSet<Value>) -> Value {
        let decoded: Vec<(ConsensusValue, u128, usize)> = candidates
            .iter()
            .filter_map(|v| decode_value(v))
            .filter_map(|v| {
                let ticket = proposer::ticket(&self.genesis, slot, &v)?;
                let len = self.sets.get(&v.tx_set_hash).map_or(0, |s| s.transactions.len());
                Some((v, ticket, len))
            })
            .collect();
        if decoded.is_empty() {
            // Candidates were validated, so this cannot happen; any fixed choice keeps agreement.
            return candidates.iter().next().cloned().unwrap_or_default();
        }
        let largest = decoded.iter().map(|(_, _, len)| *len).max().unwrap_or(0);
        let Some((best, _, _)) = decoded
            .iter()
            .filter(|(_, _, len)| len * 2 >= largest)
            .max_by_key(|(v, ticket, _)| (*ticket, v.tx_set_hash))
        else {
            return candidates.iter().next().cloned().unwrap_or_default();
        };
        let mut times: Vec<u64> = decoded.iter().map(|(v, _, _)| v.close_time).collect();
        times.sort_unstable();
        let close_time = times[(times.len() - 1) / 2];
        ConsensusValue {
            close_time,
            ..best.clone()
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

    fn validator(i: u8) -> sr25519::Pair {
        sr25519::Pair::from_seed(&[i + 40; 32])
    }

    fn id(k: &sr25519::Pair) -> AccountId {
        AccountId::from(k.public().0)
    }

    fn value(
        driver: &Driver<watt_chain::Chain>,
        key: &sr25519::Pair,
        slot: u64,
        set: Hash,
        close_time: u64,
    ) -> ConsensusValue {
        ConsensusValue {
            parent_hash: driver.head_hash,
            tx_set_hash: set,
            close_time,
            proposer: id(key),
            proposer_proof: proposer::prove(key, &driver.genesis, slot, &driver.head_hash, &set),
        }
    }

    fn sets(chain: &watt_chain::Chain, driver: &mut Driver<watt_chain::Chain>) -> (Hash, Hash, Hash) {
        let keys = keyring();
        let g = chain.genesis_hash();
        let to = keys[5].account();
        let t = |k: usize| transfer(g, &keys[k], to, UNIT, 0, 0);
        let big = driver.sets.pin(
            Arc::new(TxSet {
                transactions: vec![t(0), t(1), t(2), t(3)],
            }),
            1,
        );
        // A copy of the big set plus one transaction: what a reward thief would propose.
        let copy = driver.sets.pin(
            Arc::new(TxSet {
                transactions: vec![t(0), t(1), t(2), t(3), t(4)],
            }),
            1,
        );
        let small = driver.sets.pin(
            Arc::new(TxSet {
                transactions: vec![t(4)],
            }),
            1,
        );
        (big, copy, small)
    }

    /// The proposer is chosen by lottery among eligible candidates, not by set size: a copy of
    /// a rival's set plus one transaction does not win every slot, a set under half the largest
    /// never wins, and the close time is the median, not the maximum.
    #[test]
    fn a_copied_set_does_not_steal_the_slot_and_the_close_time_is_the_median() {
        let dir = tempfile::tempdir().unwrap();
        let chain = open_dev_chain(dir.path());
        let (a, b, c) = (validator(0), validator(1), validator(2));
        let qset = QuorumSet::flat(2, vec![id(&a), id(&b), id(&c)]);
        let mut driver = Driver::new(chain.clone(), None, &qset, 1_000, WallClock::System);
        let (big, copy, small) = sets(&chain, &mut driver);
        let mut winners = vec![];
        for slot in 1..=40u64 {
            let honest = value(&driver, &a, slot, big, 5_000);
            let thief = value(&driver, &b, slot, copy, 9_000);
            let lazy = value(&driver, &c, slot, small, 7_000);
            let candidates: BTreeSet<Value> = [&honest, &thief, &lazy].iter().map(|v| v.encode()).collect();
            let chosen = decode_value(&driver.combine(slot, &candidates)).expect("a value");
            assert_ne!(chosen.proposer, id(&c), "slot {slot}: a set under half the largest won");
            assert_eq!(chosen.close_time, 7_000, "the median of 5,000, 7,000 and 9,000");
            assert!(
                chosen.proposer == id(&a) && chosen.tx_set_hash == big
                    || chosen.proposer == id(&b) && chosen.tx_set_hash == copy
            );
            assert!(
                proposer::ticket(&driver.genesis, slot, &chosen).is_some(),
                "the proof still binds"
            );
            winners.push(chosen.proposer);
        }
        assert!(
            winners.contains(&id(&a)),
            "the honest proposer never won: size decided, not the lottery"
        );
        assert!(winners.contains(&id(&b)));
    }

    /// A value is invalid with a proof for another set, another slot or another key, or with
    /// a proposer outside the quorum; valid with its own.
    #[test]
    fn values_without_their_proposers_proof_are_invalid() {
        let dir = tempfile::tempdir().unwrap();
        let chain = open_dev_chain(dir.path());
        let (a, stranger) = (validator(0), validator(9));
        let qset = QuorumSet::flat(1, vec![id(&a)]);
        let mut driver = Driver::new(chain.clone(), None, &qset, 60_000, WallClock::System);
        let (big, copy, _) = sets(&chain, &mut driver);
        let at = driver.head.close_time + 1;
        let good = value(&driver, &a, 1, big, at);
        assert_eq!(driver.validity(1, &good.encode()), Validity::Valid);
        let swapped = ConsensusValue {
            tx_set_hash: copy,
            ..good.clone()
        };
        assert_eq!(
            driver.validity(1, &swapped.encode()),
            Validity::Invalid,
            "proof over another set"
        );
        let other_slot = value(&driver, &a, 2, big, at);
        assert_eq!(
            driver.validity(1, &other_slot.encode()),
            Validity::Invalid,
            "proof for another slot"
        );
        let outsider = value(&driver, &stranger, 1, big, at);
        assert_eq!(
            driver.validity(1, &outsider.encode()),
            Validity::Invalid,
            "proposer outside the quorum"
        );
    }
}
