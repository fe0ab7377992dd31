//! Light-client verification of finality and state without trusting any node: the client knows
//! the genesis hash and whom it trusts (a quorum set of validator keys), and checks what nodes
//! send against that alone.
//!
//! What a certificate proves (ARCHITECTURE §3, "agree, then execute"): SCP agrees per slot N on
//! a [`ConsensusValue`] (parent hash, tx-set hash, close time, proposer), so the certificate of
//! block N certifies header N's `parent_hash`, `tx_root`, `close_time` and `author`, but not the
//! results of executing it (`state_root`, `receipts_root`, `events_root`). Those are certified
//! one block later: value N+1 names the hash of header N, which covers every field. Hence:
//!
//! - [`verify_finality_proof`] checks `watt_finalityProof [N]`: header N hashes to the claimed
//!   hash, the certificate is for slot N, its value matches the header, and it is signed by a
//!   quorum holding a slice of the trusted set. The block's agreed value is then final, and
//!   two such blocks with one number and two values prove a fork ([`detect_fork`]).
//! - [`verify_state_proof`] checks a `state_getReadProof` answer at block N against the state
//!   root of header N only when the verified block N+1 names header N as its parent.

use crate::proof::{verify_proof, ProofError};
use crate::rpc::{from_hex, hash_from_hex, header_number, to_hex, ReadProofView};
use crate::Keypair;
use parity_scale_codec::{DecodeAll, Encode};
use serde_json::Value as Json;
use sp_core::crypto::Pair as _;
use sp_core::sr25519;
use watt_primitives::{blake2_256, AccountId, Balance, BlockNumber, ConsensusValue, Hash, Header, StateProof};
use watt_scp::certificate::{certified_quorum, CertificateError};
use watt_scp::quorum::{EntryJson, QuorumSetJson};
use watt_scp::scp::Envelope;
use watt_scp::QuorumSet;

pub use watt_scp::certificate::Certificate;

/// Why a finality or state proof was refused.
#[derive(Debug, thiserror::Error)]
pub enum LightError {
    /// A field of the node's answer is missing or has the wrong shape.
    #[error("malformed answer: `{field}`: {reason}")]
    Malformed {
        /// The field, e.g. `header.stateRoot`.
        field: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The header does not hash to the hash the answer claims.
    #[error("the header hashes to {computed}, not to the claimed {claimed}")]
    HeaderHash {
        /// Claimed hash, hex.
        claimed: String,
        /// Hash of the header sent, hex.
        computed: String,
    },
    /// The answer's number, the header's number and the certificate's slot differ.
    #[error(
        "numbers disagree: the answer is for #{number}, the header is #{header}, the certificate is for slot {slot}"
    )]
    NumberMismatch {
        /// The answer's `number`.
        number: BlockNumber,
        /// The header's number.
        header: BlockNumber,
        /// The certificate's slot.
        slot: u64,
    },
    /// The certificate bytes are not a SCALE `Certificate<AccountId>`.
    #[error("the certificate does not decode: {0}")]
    CertificateDecode(String),
    /// The certified value is not a SCALE [`ConsensusValue`].
    #[error("the certified value is not a Watt consensus value: {0}")]
    ValueDecode(String),
    /// The certified value is not the one this header was built from.
    #[error("the certified value does not match the header ({0})")]
    ValueMismatch(String),
    /// The answer's `value` field differs from the value the certificate certifies.
    #[error("the `value` field differs from the value the certificate certifies")]
    ValueFieldMismatch,
    /// The certificate itself is refused.
    #[error("certificate refused: {0}")]
    Certificate(#[from] CertificateError),
    /// The later block does not name the earlier one as its parent, so the earlier header's
    /// state root is not certified.
    #[error("block #{child} does not certify #{number} {hash}: it is not the next block or its parent is {parent}")]
    NotCertifiedByChild {
        /// The earlier block's number.
        number: BlockNumber,
        /// The earlier block's hash, hex.
        hash: String,
        /// The later block's number.
        child: BlockNumber,
        /// The later block's parent hash, hex.
        parent: String,
    },
    /// The read proof is for another block.
    #[error("the read proof is for block {found}, not {expected}")]
    WrongBlock {
        /// Block the proof names, hex.
        found: String,
        /// Block it should be for, hex.
        expected: String,
    },
    /// The read proof names another state root than the certified header holds.
    #[error("the read proof names state root {found}, the certified header holds {expected}")]
    StateRootMismatch {
        /// Root the proof names, hex.
        found: String,
        /// The header's, hex.
        expected: String,
    },
    /// A proof entry does not verify against the certified state root.
    #[error("the state proof of key {key} is refused: {source}")]
    Proof {
        /// The key, hex.
        key: String,
        /// Why.
        source: ProofError,
    },
    /// The read proof has no entry for a key that was asked for.
    #[error("the read proof has no entry for key {0}")]
    MissingKey(String),
    /// A proven value does not decode as the type stored at its key.
    #[error("the value at key {key} does not decode: {reason}")]
    BadValue {
        /// The key, hex.
        key: String,
        /// Why.
        reason: String,
    },
    /// A trusted quorum set given as JSON is unusable.
    #[error("quorum set: {0}")]
    BadQuorumSet(String),
}

/// A block whose agreed value is final for a client with the trusted quorum set used (its
/// hash, which also covers execution results, once the next block names it as parent).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedBlock {
    /// Its number.
    pub number: BlockNumber,
    /// Its hash.
    pub hash: Hash,
    /// Its header. Only `parent_hash`, `tx_root`, `close_time` and `author` are certified by
    /// this block's certificate; the rest is certified once the next block is (see
    /// [`verify_state_proof`]).
    pub header: Header,
    /// The certifying quorum: the signers, of those the trusted set depends on, whose slices
    /// are met within the signers (ascending).
    pub signers: Vec<AccountId>,
}

/// The hash a quorum set is known by in envelopes: blake2b-256 of its SCALE encoding.
pub fn qset_hash(q: &QuorumSet<AccountId>) -> Hash {
    blake2_256(&q.encode())
}

/// Signs an envelope as `key` for the chain with genesis `genesis` (sr25519 over
/// [`Envelope::signing_payload`]).
pub fn sign_envelope(key: &Keypair, env: &Envelope<AccountId>, genesis: &Hash) -> Vec<u8> {
    key.sign(&env.signing_payload(genesis)).to_vec()
}

/// Whether `env.signature` is `env.node`'s sr25519 signature over its payload for `genesis`.
pub fn verify_envelope_signature(env: &Envelope<AccountId>, genesis: &Hash) -> bool {
    let Ok(sig) = <[u8; 64]>::try_from(env.signature.as_slice()) else {
        return false;
    };
    sr25519::Pair::verify(
        &sr25519::Signature::from_raw(sig),
        env.signing_payload(genesis),
        &sr25519::Public::from_raw(env.node.0),
    )
}

/// A quorum set in stellar-core's JSON form with SS58 validator ids, checked against SCP's
/// sanity rules (a threshold of 0, for instance, would let anything through).
pub fn quorum_set_from_json(json: &QuorumSetJson) -> Result<QuorumSet<AccountId>, LightError> {
    fn convert(json: &QuorumSetJson) -> Result<QuorumSet<AccountId>, LightError> {
        let mut q = QuorumSet {
            threshold: json.t,
            validators: vec![],
            inner: vec![],
        };
        for e in &json.v {
            match e {
                EntryJson::Validator(s) => q.validators.push(
                    AccountId::from_ss58(s)
                        .map_err(|e| LightError::BadQuorumSet(format!("`{s}` is not an SS58 address: {e}")))?,
                ),
                EntryJson::Inner(i) => q.inner.push(convert(i)?),
            }
        }
        Ok(q)
    }
    let q = convert(json)?;
    if let Some(p) = q.problems().first() {
        return Err(LightError::BadQuorumSet(format!("not sane: {p}")));
    }
    Ok(q)
}

fn malformed(field: impl Into<String>, reason: impl Into<String>) -> LightError {
    LightError::Malformed {
        field: field.into(),
        reason: reason.into(),
    }
}

fn str_field<'a>(v: &'a Json, path: &str, name: &str) -> Result<&'a str, LightError> {
    v.get(name)
        .and_then(Json::as_str)
        .ok_or_else(|| malformed(format!("{path}{name}"), "missing or not a string"))
}

fn hash_field(v: &Json, path: &str, name: &str) -> Result<Hash, LightError> {
    hash_from_hex(str_field(v, path, name)?).map_err(|e| malformed(format!("{path}{name}"), e))
}

fn proof_field(v: &Json, path: &str, name: &str) -> Result<[u8; watt_primitives::PROPOSER_PROOF_LEN], LightError> {
    let text = str_field(v, path, name)?;
    let bytes =
        hex::decode(text.trim_start_matches("0x")).map_err(|e| malformed(format!("{path}{name}"), e.to_string()))?;
    bytes
        .try_into()
        .map_err(|_| malformed(format!("{path}{name}"), "not 96 bytes"))
}

fn account_field(v: &Json, path: &str, name: &str) -> Result<AccountId, LightError> {
    AccountId::from_ss58(str_field(v, path, name)?)
        .map_err(|e| malformed(format!("{path}{name}"), format!("not an SS58 address: {e}")))
}

fn u64_field(v: &Json, path: &str, name: &str) -> Result<u64, LightError> {
    v.get(name)
        .and_then(Json::as_u64)
        .ok_or_else(|| malformed(format!("{path}{name}"), "missing or not a whole number"))
}

/// A header as `chain_getHeader` returns it (`number` a JSON number or `0x` hex). When the
/// object carries a `hash`, it must be the header's.
pub fn header_from_json(v: &Json) -> Result<Header, LightError> {
    const P: &str = "header.";
    if !v.is_object() {
        return Err(malformed("header", "not an object"));
    }
    let header = Header {
        parent_hash: hash_field(v, P, "parentHash")?,
        number: header_number(v).ok_or_else(|| malformed("header.number", "missing or not a block number"))?,
        state_root: hash_field(v, P, "stateRoot")?,
        tx_root: hash_field(v, P, "txRoot")?,
        receipts_root: hash_field(v, P, "receiptsRoot")?,
        events_root: hash_field(v, P, "eventsRoot")?,
        close_time: u64_field(v, P, "closeTime")?,
        author: account_field(v, P, "author")?,
    };
    if !v.get("hash").is_none_or(Json::is_null) {
        let claimed = hash_field(v, P, "hash")?;
        if claimed != header.hash() {
            return Err(LightError::HeaderHash {
                claimed: to_hex(&claimed),
                computed: to_hex(&header.hash()),
            });
        }
    }
    Ok(header)
}

/// Checks a `watt_finalityProof [N]` answer:
/// `{"number", "hash", "header", "value", "certificate", "signers"}` (see the module docs).
///
/// The header must hash to `hash` and be block `number`; the certificate (`0x` hex of a SCALE
/// `Certificate<AccountId>`, nothing after it) must be for slot `number`, its value a
/// [`ConsensusValue`] that [`matches`](ConsensusValue::matches) the header, every envelope
/// signed for `genesis`, and its signers must form a quorum holding a slice of `trusted`
/// ([`watt_scp::certificate::verify_certificate`]). `value`, when present, must be the certified
/// value; `signers` is not trusted (the returned signers come from the certificate).
pub fn verify_finality_proof(
    proof: &Json,
    trusted: &QuorumSet<AccountId>,
    genesis: &Hash,
) -> Result<VerifiedBlock, LightError> {
    let number = header_number(proof).ok_or_else(|| malformed("number", "missing or not a block number"))?;
    let hash = hash_field(proof, "", "hash")?;
    let header = header_from_json(proof.get("header").unwrap_or(&Json::Null))?;
    if header.hash() != hash {
        return Err(LightError::HeaderHash {
            claimed: to_hex(&hash),
            computed: to_hex(&header.hash()),
        });
    }
    let cert_bytes = from_hex(str_field(proof, "", "certificate")?).map_err(|e| malformed("certificate", e))?;
    let cert = Certificate::<AccountId>::decode_all(&mut &cert_bytes[..])
        .map_err(|e| LightError::CertificateDecode(e.to_string()))?;
    if header.number != number || cert.slot != number {
        return Err(LightError::NumberMismatch {
            number,
            header: header.number,
            slot: cert.slot,
        });
    }
    let value = ConsensusValue::decode_all(&mut &cert.value[..]).map_err(|e| LightError::ValueDecode(e.to_string()))?;
    if !value.matches(&header) {
        let mut differ = vec![];
        if value.parent_hash != header.parent_hash {
            differ.push("parent hash");
        }
        if value.tx_set_hash != header.tx_root {
            differ.push("tx set");
        }
        if value.close_time != header.close_time {
            differ.push("close time");
        }
        if value.proposer != header.author {
            differ.push("proposer (the header's author)");
        }
        return Err(LightError::ValueMismatch(format!("{} differ", differ.join(", "))));
    }
    if let Some(v) = proof.get("value").filter(|v| !v.is_null()) {
        const P: &str = "value.";
        let stated = ConsensusValue {
            parent_hash: hash_field(v, P, "parentHash")?,
            tx_set_hash: hash_field(v, P, "txSetHash")?,
            close_time: u64_field(v, P, "closeTime")?,
            proposer: account_field(v, P, "proposer")?,
            proposer_proof: proof_field(v, P, "proposerProof")?,
        };
        if stated != value {
            return Err(LightError::ValueFieldMismatch);
        }
    }
    let quorum = certified_quorum(&cert, trusted, qset_hash, |env| verify_envelope_signature(env, genesis))?;
    Ok(VerifiedBlock {
        number,
        hash,
        header,
        signers: quorum.into_iter().collect(),
    })
}

/// Checks a `state_getReadProof` answer for block N (`block`) and returns its entries, every
/// one proven against header N's state root.
///
/// Block N's own certificate does not cover its state root (it is an execution result); the
/// certificate of block N+1 does, since value N+1 names the hash of header N. So `child` must
/// be the verified block N+1 and its (certified) parent hash must be `block.hash`; both must
/// come from [`verify_finality_proof`]. The proof must be for `block.hash` and name its state
/// root (a node naming another root is lying about something, even though the check never
/// relies on that field).
pub fn verify_state_proof(
    proof: &ReadProofView,
    block: &VerifiedBlock,
    child: &VerifiedBlock,
) -> Result<Vec<StateProof>, LightError> {
    if block.number.checked_add(1) != Some(child.number) || child.header.parent_hash != block.hash {
        return Err(LightError::NotCertifiedByChild {
            number: block.number,
            hash: to_hex(&block.hash),
            child: child.number,
            parent: to_hex(&child.header.parent_hash),
        });
    }
    let at = hash_from_hex(&proof.at).map_err(|e| malformed("at", e))?;
    if at != block.hash {
        return Err(LightError::WrongBlock {
            found: to_hex(&at),
            expected: to_hex(&block.hash),
        });
    }
    let root = hash_from_hex(&proof.state_root).map_err(|e| malformed("stateRoot", e))?;
    if root != block.header.state_root {
        return Err(LightError::StateRootMismatch {
            found: to_hex(&root),
            expected: to_hex(&block.header.state_root),
        });
    }
    proof
        .proofs
        .iter()
        .map(|entry| {
            let p = entry.to_state_proof().map_err(|e| malformed("proofs", e))?;
            verify_proof(&block.header.state_root, &p).map_err(|source| LightError::Proof {
                key: to_hex(&p.key),
                source,
            })?;
            Ok(p)
        })
        .collect()
}

/// The raw storage key of `who`'s free balance.
pub fn free_balance_key(who: &AccountId) -> Vec<u8> {
    watt_runtime::pallet_balances::Free::key(who)
}

/// `who`'s free balance at block N, from a read proof of [`free_balance_key`] checked with
/// [`verify_state_proof`] (`child` is block N+1). An absent entry is a balance of 0.
pub fn verified_free_balance(
    proof: &ReadProofView,
    block: &VerifiedBlock,
    child: &VerifiedBlock,
    who: &AccountId,
) -> Result<Balance, LightError> {
    let key = free_balance_key(who);
    let entries = verify_state_proof(proof, block, child)?;
    let entry = entries
        .iter()
        .find(|p| p.key == key)
        .ok_or_else(|| LightError::MissingKey(to_hex(&key)))?;
    match &entry.value {
        None => Ok(0),
        Some(v) => Balance::decode_all(&mut &v[..]).map_err(|e| LightError::BadValue {
            key: to_hex(&key),
            reason: e.to_string(),
        }),
    }
}

/// Whether two verified blocks prove a fork: one number, and certificates (each convincing
/// for the same trusted quorum set) of two different agreed values. SCP never forks while the
/// quorums of the network intersect in intact nodes; a proven fork means that assumption failed
/// (too many faulty validators, or a trusted set whose quorums do not intersect the network's).
///
/// Two hashes for one certified value are *not* a fork: the value fixes the parent, the
/// transactions, the close time and the author, and the execution results (state, receipts
/// and events roots) that complete the header follow deterministically, so one of the two headers misreports them.
/// The next block's certificate settles which ([`verify_state_proof`] relies on the same).
pub fn detect_fork(a: &VerifiedBlock, b: &VerifiedBlock) -> bool {
    let value = |v: &VerifiedBlock| {
        (
            v.header.parent_hash,
            v.header.tx_root,
            v.header.close_time,
            v.header.author,
        )
    };
    a.number == b.number && value(a) != value(b)
}

#[cfg(test)]
mod tests;
