//! Finality certificates: the signed envelopes that show a slot's value was confirmed
//! committed, checkable by anyone who knows only whom they trust (a light client, a node
//! catching up, an auditor).
//!
//! In SCP a node externalizes value `x` once it *confirms* commit of a ballot for `x`: a quorum
//! has accepted commit of it (draft-mazieres-dinrg-scp §6, "confirm commit"). A statement
//! accepts commit when it is a CONFIRM (commit accepted for `n_commit..=n_h`) or an EXTERNALIZE
//! (commit confirmed, hence accepted). A certificate collects such statements, one per signer,
//! with the quorum sets they name; the verifier rebuilds the quorum from them (§3: a quorum is
//! a non-empty set of nodes containing a slice of each of its members) and asks that it also
//! contain a slice of the verifier's own trusted quorum set, which makes the verifier, were it a
//! node with that quorum set, a member of a quorum that accepted commit: exactly the condition
//! under which it would itself have confirmed the commit and externalized.
//!
//! The check is at value level: each signer accepted commit of *some* ballot for the value.
//! That suffices for safety because an intact node accepts commit of `<n, x>` only after `<n,
//! x>` was confirmed prepared, which aborts every lower ballot for another value, and it never
//! accepts both commit and abort of one ballot; two intersecting quorums that each accept
//! commit of a different value would need an intact node in their intersection to do just
//! that.
//!
//! Signing is outside this crate (it does no cryptography): [`Envelope::signing_payload`]
//! defines the bytes, the caller signs and checks them.

use crate::ballot::BallotStatement;
use crate::nomination::Value;
use crate::quorum::QuorumSet;
use crate::scp::{Envelope, Hash};
use crate::slot::Statement;
use parity_scale_codec::{Decode, Encode};
use std::collections::{btree_map::Entry, BTreeMap, BTreeSet};
use std::fmt::Debug;

/// Domain tag of every SCP envelope signature (a signature for one purpose is never valid for
/// another; ARCHITECTURE §5).
pub const SIGNING_DOMAIN: &[u8] = b"watt/scp/v1";

impl<N: Encode> Envelope<N> {
    /// The bytes a node signs: [`SIGNING_DOMAIN`] ++ `network_id` (the genesis hash, so a
    /// statement of one chain is worthless on another) ++ SCALE of `(slot, node, qset_hash,
    /// statement)`. The signature itself is not part of it.
    pub fn signing_payload(&self, network_id: &[u8; 32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(SIGNING_DOMAIN.len() + 32 + 8 + self.node.size_hint() + 32 + 64);
        out.extend_from_slice(SIGNING_DOMAIN);
        out.extend_from_slice(network_id);
        // Field by field is the SCALE encoding of the tuple (tuples concatenate).
        self.slot.encode_to(&mut out);
        self.node.encode_to(&mut out);
        self.qset_hash.encode_to(&mut out);
        self.statement.encode_to(&mut out);
        out
    }
}

/// The value a statement accepts commit of: the ballot value of a CONFIRM or the commit value
/// of an EXTERNALIZE (draft-mazieres-dinrg-scp §6); `None` for NOMINATE and PREPARE.
pub fn accepted_commit(st: &Statement) -> Option<&Value> {
    match st {
        Statement::Ballot(BallotStatement::Confirm { ballot, .. }) => Some(&ballot.value),
        Statement::Ballot(BallotStatement::Externalize { commit, .. }) => Some(&commit.value),
        Statement::Ballot(BallotStatement::Prepare { .. }) | Statement::Nominate(_) => None,
    }
}

/// The proof that `value` was agreed for `slot`: one envelope per signer accepting commit of
/// it, and the quorum sets those envelopes name (by hash). SCALE on the wire and in storage;
/// stored beside the block, never inside its header (ARCHITECTURE, consensus engine).
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Certificate<N> {
    /// The slot (block number).
    pub slot: u64,
    /// The agreed value.
    pub value: Value,
    /// Signed envelopes, at most one per node.
    pub envelopes: Vec<Envelope<N>>,
    /// The quorum sets the envelopes name, each once.
    pub quorum_sets: Vec<QuorumSet<N>>,
}

/// Why a certificate was refused. A certificate with one bad envelope is refused whole rather
/// than trimmed: whoever built it is not to be trusted with the rest either.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CertificateError {
    /// The verifier's own trusted quorum set breaks the sanity rules (e.g. threshold 0, which
    /// any set of signers, even none, would satisfy).
    #[error("the trusted quorum set is not sane: {0}")]
    InsaneTrustedSet(String),
    /// An envelope is about another slot.
    #[error("envelope of {node} is for slot {found}, the certificate for slot {expected}")]
    WrongSlot {
        /// The signer.
        node: String,
        /// Its slot.
        found: u64,
        /// The certificate's slot.
        expected: u64,
    },
    /// An envelope does not accept commit of the certified value: it is a NOMINATE or PREPARE,
    /// or accepts commit of another value.
    #[error("envelope of {node} does not accept commit of the certified value")]
    NotCommitting {
        /// The signer.
        node: String,
    },
    /// An envelope's ballot statement breaks the sanity rules (e.g. a CONFIRM of ballot 0),
    /// which no honest node sends and the network would not have taken.
    #[error("envelope of {node} holds an insane ballot statement")]
    InsaneStatement {
        /// The signer.
        node: String,
    },
    /// Two envelopes of one node.
    #[error("two envelopes of {node}")]
    DuplicateSigner {
        /// The signer.
        node: String,
    },
    /// An envelope names a quorum set the certificate does not carry.
    #[error("envelope of {node} names quorum set {hash}, which the certificate does not carry")]
    UnknownQuorumSet {
        /// The signer.
        node: String,
        /// The hash named, hex.
        hash: String,
    },
    /// A signer's quorum set breaks the sanity rules.
    #[error("the quorum set of {node} is not sane: {problem}")]
    InsaneQuorumSet {
        /// The signer.
        node: String,
        /// The first problem found.
        problem: String,
    },
    /// An envelope's signature does not verify.
    #[error("bad signature on the envelope of {node}")]
    BadSignature {
        /// The signer.
        node: String,
    },
    /// The signers whose slices are met within the signers (the largest quorum among them)
    /// do not include a slice of the trusted quorum set: the verifier would not have
    /// confirmed the commit from these statements.
    #[error(
        "not enough trust: of {signers} signers, {quorum} form a quorum, which holds no slice of the trusted quorum set"
    )]
    NoTrustedQuorum {
        /// Envelopes in the certificate.
        signers: usize,
        /// Size of the largest quorum among the signers that the trusted set depends on.
        quorum: usize,
    },
}

fn hex(h: &Hash) -> String {
    h.iter().map(|b| format!("{b:02x}")).collect()
}

/// Builds the certificate of `value` for `slot` from envelopes a node holds (its own and its
/// peers' latest, in any order and with repeats). Per node it keeps one envelope of that slot
/// accepting commit of `value` (an EXTERNALIZE if there is one, else the newest CONFIRM) and
/// carries each quorum set they name once, looked up with `quorum_set`; an envelope whose
/// quorum set is unknown is left out, since no verifier could use it. Insane statements are
/// left out too (the verifier refuses them).
pub fn certificate_from_envelopes<N: Ord + Clone>(
    slot: u64,
    value: &Value,
    envelopes: impl IntoIterator<Item = Envelope<N>>,
    quorum_set: impl Fn(&[u8; 32]) -> Option<QuorumSet<N>>,
) -> Certificate<N> {
    let mut best: BTreeMap<N, (Envelope<N>, BallotStatement)> = BTreeMap::new();
    for env in envelopes {
        if env.slot != slot || accepted_commit(&env.statement) != Some(value) {
            continue;
        }
        let Statement::Ballot(ballot) = env.statement.clone() else {
            continue;
        };
        if !ballot.is_sane(false) {
            continue;
        }
        match best.entry(env.node.clone()) {
            Entry::Vacant(e) => {
                e.insert((env, ballot));
            }
            // EXTERNALIZE is newer than any CONFIRM; among CONFIRMs the larger (b, p.n, h).
            Entry::Occupied(mut e) => {
                if ballot.is_newer_than(&e.get().1) {
                    e.insert((env, ballot));
                }
            }
        }
    }
    let mut known: BTreeMap<Hash, bool> = BTreeMap::new();
    let mut quorum_sets = Vec::new();
    let mut kept = Vec::new();
    for (_, (env, _)) in best {
        let have = *known
            .entry(env.qset_hash)
            .or_insert_with(|| match quorum_set(&env.qset_hash) {
                Some(q) => {
                    quorum_sets.push(q);
                    true
                }
                None => false,
            });
        if have {
            kept.push(env);
        }
    }
    Certificate {
        slot,
        value: value.clone(),
        envelopes: kept,
        quorum_sets,
    }
}

/// Checks `cert` for a verifier whose own quorum set is `trusted`; see [`certified_quorum`].
pub fn verify_certificate<N: Ord + Clone + Debug>(
    cert: &Certificate<N>,
    trusted: &QuorumSet<N>,
    qset_hash: impl Fn(&QuorumSet<N>) -> [u8; 32],
    verify_signature: impl Fn(&Envelope<N>) -> bool,
) -> Result<(), CertificateError> {
    certified_quorum(cert, trusted, qset_hash, verify_signature).map(|_| ())
}

/// Checks `cert` and returns the quorum that certifies it.
///
/// Every envelope must be for `cert.slot`, accept commit of `cert.value` (a sane CONFIRM or
/// EXTERNALIZE, draft-mazieres-dinrg-scp §6), name a sane quorum set the certificate carries
/// (found by `qset_hash`) and come from a node without another envelope; the first envelope
/// failing any of these refuses the certificate. The signers `trusted` depends on must carry
/// a signature `verify_signature` accepts; the others' signatures are not checked (they
/// cannot change the answer, and checking them would let padding cost the verifier). Of the signers S, members whose quorum set has no slice inside S are removed
/// until none is left to remove: what remains is the largest quorum inside S (§3). It must
/// contain a slice of `trusted`. Only signers `trusted` depends on (its validators, and
/// transitively those of their quorum sets) are considered, which changes nothing about the
/// answer (a member's fate depends only on the members its slices name) and keeps unrelated
/// signers from costing work. The quorum returned holds those signers only.
pub fn certified_quorum<N: Ord + Clone + Debug>(
    cert: &Certificate<N>,
    trusted: &QuorumSet<N>,
    qset_hash: impl Fn(&QuorumSet<N>) -> [u8; 32],
    verify_signature: impl Fn(&Envelope<N>) -> bool,
) -> Result<BTreeSet<N>, CertificateError> {
    if let Some(p) = trusted.problems().first() {
        return Err(CertificateError::InsaneTrustedSet(p.to_string()));
    }
    let by_hash: BTreeMap<Hash, &QuorumSet<N>> = cert.quorum_sets.iter().map(|q| (qset_hash(q), q)).collect();
    let mut sane: BTreeMap<Hash, Option<String>> = BTreeMap::new();
    let mut members: BTreeMap<N, (&QuorumSet<N>, &Envelope<N>)> = BTreeMap::new();
    for env in &cert.envelopes {
        let node = || format!("{:?}", env.node);
        // Cheap checks first; the signature last.
        if env.slot != cert.slot {
            return Err(CertificateError::WrongSlot {
                node: node(),
                found: env.slot,
                expected: cert.slot,
            });
        }
        if accepted_commit(&env.statement) != Some(&cert.value) {
            return Err(CertificateError::NotCommitting { node: node() });
        }
        if let Statement::Ballot(b) = &env.statement {
            if !b.is_sane(false) {
                return Err(CertificateError::InsaneStatement { node: node() });
            }
        }
        let Some(qset) = by_hash.get(&env.qset_hash).copied() else {
            return Err(CertificateError::UnknownQuorumSet {
                node: node(),
                hash: hex(&env.qset_hash),
            });
        };
        let problem = sane
            .entry(env.qset_hash)
            .or_insert_with(|| qset.problems().first().map(|p| p.to_string()));
        if let Some(problem) = problem {
            return Err(CertificateError::InsaneQuorumSet {
                node: node(),
                problem: problem.clone(),
            });
        }
        if members.contains_key(&env.node) {
            return Err(CertificateError::DuplicateSigner { node: node() });
        }
        members.insert(env.node.clone(), (qset, env));
    }
    let signers = members.len();

    // The signers the trusted set depends on.
    let mut relevant: BTreeMap<N, &QuorumSet<N>> = BTreeMap::new();
    let mut todo: Vec<N> = trusted
        .all_validators()
        .into_iter()
        .filter(|n| members.contains_key(n))
        .collect();
    while let Some(n) = todo.pop() {
        if relevant.contains_key(&n) {
            continue;
        }
        let Some((q, _)) = members.get(&n).copied() else {
            continue;
        };
        todo.extend(
            q.all_validators()
                .into_iter()
                .filter(|m| members.contains_key(m) && !relevant.contains_key(m)),
        );
        relevant.insert(n, q);
    }
    // Signatures last, and only of the signers that matter: a certificate padded with
    // envelopes of unrelated nodes costs no signature check for them (issue 17, item 5).
    for n in relevant.keys() {
        if let Some((_, env)) = members.get(n) {
            if !verify_signature(env) {
                return Err(CertificateError::BadSignature {
                    node: format!("{:?}", env.node),
                });
            }
        }
    }

    // Peel: the greatest quorum inside the signers (removing every unsatisfied member per
    // round reaches the same fixpoint as one at a time, since satisfaction only shrinks).
    let mut quorum = relevant;
    loop {
        let out: Vec<N> = quorum
            .iter()
            .filter(|(_, q)| !q.is_satisfied_by(&|m: &N| quorum.contains_key(m)))
            .map(|(n, _)| n.clone())
            .collect();
        if out.is_empty() {
            break;
        }
        for n in out {
            quorum.remove(&n);
        }
    }
    if !trusted.is_satisfied_by(&|m: &N| quorum.contains_key(m)) {
        return Err(CertificateError::NoTrustedQuorum {
            signers,
            quorum: quorum.len(),
        });
    }
    Ok(quorum.into_keys().collect())
}

/// `cert` with only the envelopes of `quorum` (as [`certified_quorum`] returns it) and the
/// quorum sets they name: what a node stores and serves, so that a certificate is the size of
/// the quorum that proves it, whatever the node had heard.
pub fn trim_certificate<N: Ord + Clone>(
    cert: Certificate<N>,
    quorum: &BTreeSet<N>,
    qset_hash: impl Fn(&QuorumSet<N>) -> [u8; 32],
) -> Certificate<N> {
    let envelopes: Vec<Envelope<N>> = cert
        .envelopes
        .into_iter()
        .filter(|e| quorum.contains(&e.node))
        .collect();
    let named: BTreeSet<Hash> = envelopes.iter().map(|e| e.qset_hash).collect();
    let quorum_sets = cert
        .quorum_sets
        .into_iter()
        .filter(|q| named.contains(&qset_hash(q)))
        .collect();
    Certificate {
        slot: cert.slot,
        value: cert.value,
        envelopes,
        quorum_sets,
    }
}

#[cfg(test)]
mod tests;
