//! Certificates here are signed with real sr25519 dev keys; headers and answers are built the
//! way the node's RPC writes them.

use super::*;
use crate::rpc::ProofEntryView;
use proptest::prelude::*;
use serde_json::json;
use watt_scp::ballot::{Ballot, BallotStatement};
use watt_scp::slot::Statement;

const GENESIS: Hash = [0x11; 32];

/// Alice, Bob, Charlie, Dave (derived once: derivation is slow in debug builds).
fn keys() -> Vec<Keypair> {
    static KEYS: std::sync::OnceLock<Vec<Keypair>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        ["//Alice", "//Bob", "//Charlie", "//Dave"]
            .iter()
            .map(|s| Keypair::from_suri(s).unwrap())
            .collect()
    })
    .clone()
}

/// 3 of Alice, Bob, Charlie, Dave.
fn trusted() -> QuorumSet<AccountId> {
    QuorumSet::flat(3, keys().iter().map(|k| k.account()).collect())
}

/// Block `number`, authored by one of the four validators in turn.
fn header(number: u64, parent_hash: Hash, state_root: Hash, tx_root: Hash) -> Header {
    Header {
        parent_hash,
        number,
        state_root,
        tx_root,
        receipts_root: [0xee; 32],
        events_root: [0xdd; 32],
        close_time: 1_700_000_000_000 + number * 1000,
        author: keys()[number as usize % 4].account(),
    }
}

/// Genesis, block 1, block 2 (block 1 holds `root1` as its state root).
fn chain(root1: Hash) -> [Header; 3] {
    let g = header(0, [0; 32], [1; 32], [0; 32]);
    let b1 = header(1, g.hash(), root1, [0x21; 32]);
    let b2 = header(2, b1.hash(), [3; 32], [0x22; 32]);
    [g, b1, b2]
}

fn value_of(h: &Header) -> ConsensusValue {
    ConsensusValue {
        parent_hash: h.parent_hash,
        tx_set_hash: h.tx_root,
        close_time: h.close_time,
        proposer: h.author,
        proposer_proof: [7; watt_primitives::PROPOSER_PROOF_LEN],
    }
}

fn envelope(
    slot: u64,
    key: &Keypair,
    qset: &QuorumSet<AccountId>,
    statement: Statement,
    genesis: &Hash,
) -> Envelope<AccountId> {
    let mut env = Envelope {
        slot,
        node: key.account(),
        qset_hash: qset_hash(qset),
        statement,
        signature: vec![],
    };
    env.signature = sign_envelope(key, &env, genesis);
    env
}

/// A certificate of `value` for `slot`, signed by `signers` (quorum set: [`trusted`]).
fn cert_of(slot: u64, value: &[u8], signers: &[Keypair], genesis: &Hash) -> Certificate<AccountId> {
    let q = trusted();
    let envelopes = signers
        .iter()
        .enumerate()
        .map(|(i, k)| {
            let statement = if i == 0 {
                Statement::Ballot(BallotStatement::Confirm {
                    ballot: Ballot::new(2, value.to_vec()),
                    n_prepared: 2,
                    n_commit: 1,
                    n_h: 2,
                })
            } else {
                Statement::Ballot(BallotStatement::Externalize {
                    commit: Ballot::new(1, value.to_vec()),
                    n_h: 2,
                })
            };
            envelope(slot, k, &q, statement, genesis)
        })
        .collect();
    Certificate {
        slot,
        value: value.to_vec(),
        envelopes,
        quorum_sets: vec![q],
    }
}

fn cert_for(h: &Header, signers: &[Keypair]) -> Certificate<AccountId> {
    cert_of(h.number, &value_of(h).encode(), signers, &GENESIS)
}

/// `chain_getHeader`, as node/rpc writes it.
fn header_json(h: &Header) -> Json {
    json!({
        "parentHash": to_hex(&h.parent_hash),
        "number": h.number,
        "stateRoot": to_hex(&h.state_root),
        "txRoot": to_hex(&h.tx_root),
        "receiptsRoot": to_hex(&h.receipts_root),
        "eventsRoot": to_hex(&h.events_root),
        "closeTime": h.close_time,
        "author": h.author.to_ss58(),
        "hash": to_hex(&h.hash()),
    })
}

/// `watt_finalityProof`, as the brief of the RPC specifies it.
fn proof_json(h: &Header, cert: &Certificate<AccountId>) -> Json {
    let v = ConsensusValue::decode_all(&mut &cert.value[..]).unwrap_or_else(|_| value_of(h));
    json!({
        "number": h.number,
        "hash": to_hex(&h.hash()),
        "header": header_json(h),
        "value": {
            "parentHash": to_hex(&v.parent_hash),
            "txSetHash": to_hex(&v.tx_set_hash),
            "closeTime": v.close_time,
            "proposer": v.proposer.to_ss58(),
            "proposerProof": format!("0x{}", hex::encode(v.proposer_proof)),
        },
        "certificate": to_hex(&cert.encode()),
        "signers": cert.envelopes.iter().map(|e| e.node.to_ss58()).collect::<Vec<_>>(),
    })
}

fn verify(proof: &Json) -> Result<VerifiedBlock, LightError> {
    verify_finality_proof(proof, &trusted(), &GENESIS)
}

fn verified(h: &Header) -> VerifiedBlock {
    verify(&proof_json(h, &cert_for(h, &keys()[..3]))).unwrap()
}

#[test]
fn envelope_signatures_are_substrate_sr25519_over_the_payload() {
    let k = &keys()[0];
    let env = envelope(
        1,
        k,
        &trusted(),
        Statement::Ballot(BallotStatement::Externalize {
            commit: Ballot::new(1, b"v".to_vec()),
            n_h: 1,
        }),
        &GENESIS,
    );
    // An independent verifier: the runtime's schnorrkel check with the "substrate" context.
    let sig: [u8; 64] = env.signature.clone().try_into().unwrap();
    assert!(watt_support::crypto::sr25519_verify(
        &sig,
        &env.signing_payload(&GENESIS),
        &k.account().0
    ));
    assert!(verify_envelope_signature(&env, &GENESIS));
    assert!(
        !verify_envelope_signature(&env, &[0x12; 32]),
        "signed for another chain"
    );
    let mut other = env.clone();
    other.node = keys()[1].account();
    assert!(!verify_envelope_signature(&other, &GENESIS), "claimed by another key");
    let mut short = env.clone();
    short.signature.pop();
    assert!(!verify_envelope_signature(&short, &GENESIS));
}

#[test]
fn a_three_of_four_certificate_makes_a_verified_block() {
    let [_, b1, _] = chain([2; 32]);
    let k = keys();
    let got = verify(&proof_json(&b1, &cert_for(&b1, &k[..3]))).unwrap();
    assert_eq!(got.number, 1);
    assert_eq!(got.hash, b1.hash());
    assert_eq!(got.header, b1);
    let mut want: Vec<AccountId> = k[..3].iter().map(|k| k.account()).collect();
    want.sort();
    assert_eq!(got.signers, want);
    // Dave and Bob and Charlie, too.
    assert!(verify(&proof_json(&b1, &cert_for(&b1, &k[1..]))).is_ok());
}

#[test]
fn certificates_that_do_not_convince_are_refused() {
    let [_, b1, _] = chain([2; 32]);
    let k = keys();
    let two = verify(&proof_json(&b1, &cert_for(&b1, &k[..2])));
    assert!(
        matches!(
            two,
            Err(LightError::Certificate(CertificateError::NoTrustedQuorum {
                signers: 2,
                ..
            }))
        ),
        "{two:?}"
    );

    let elsewhere = cert_of(1, &value_of(&b1).encode(), &k[..3], &[0x12; 32]);
    assert!(matches!(
        verify(&proof_json(&b1, &elsewhere)),
        Err(LightError::Certificate(CertificateError::BadSignature { .. }))
    ));

    // Three strangers who trust each other are no certificate for a client trusting A..D.
    let strangers: Vec<Keypair> = ["//Eve", "//Ferdie", "//One", "//Two"]
        .iter()
        .map(|s| Keypair::from_suri(s).unwrap())
        .collect();
    let theirs = QuorumSet::flat(3, strangers.iter().map(|k| k.account()).collect());
    let value = value_of(&b1).encode();
    let cert = Certificate {
        slot: 1,
        value: value.clone(),
        envelopes: strangers[..3]
            .iter()
            .map(|s| {
                let st = Statement::Ballot(BallotStatement::Externalize {
                    commit: Ballot::new(1, value.clone()),
                    n_h: 1,
                });
                envelope(1, s, &theirs, st, &GENESIS)
            })
            .collect(),
        quorum_sets: vec![theirs.clone()],
    };
    assert!(verify_finality_proof(&proof_json(&b1, &cert), &theirs, &GENESIS).is_ok());
    assert!(matches!(
        verify(&proof_json(&b1, &cert)),
        Err(LightError::Certificate(CertificateError::NoTrustedQuorum { .. }))
    ));
}

#[test]
fn the_header_must_be_the_certified_one() {
    let [_, b1, b2] = chain([2; 32]);
    let cert = cert_for(&b1, &keys()[..3]);
    let good = proof_json(&b1, &cert);

    // A field changed, the hash left: the hash check catches it.
    let mut p = good.clone();
    p["header"]["stateRoot"] = json!(to_hex(&[9; 32]));
    assert!(
        matches!(verify(&p), Err(LightError::HeaderHash { .. })),
        "{:?}",
        verify(&p)
    );
    let mut p = good.clone();
    p["hash"] = json!(to_hex(&b2.hash()));
    p["header"]["hash"] = Json::Null;
    assert!(matches!(verify(&p), Err(LightError::HeaderHash { .. })));

    // Another tx set, hashes recomputed: the certified value does not match.
    let other_txs = Header {
        tx_root: [0x99; 32],
        ..b1.clone()
    };
    let p = proof_json(&other_txs, &cert);
    assert!(
        matches!(verify(&p), Err(LightError::ValueMismatch(ref m)) if m.contains("tx set")),
        "{:?}",
        verify(&p)
    );

    // Block 2 with block 1's certificate.
    let p = proof_json(&b2, &cert);
    assert!(matches!(verify(&p), Err(LightError::NumberMismatch { .. })));
    // Block 2 with a certificate of its value but for slot 1.
    let p = proof_json(&b2, &cert_of(1, &value_of(&b2).encode(), &keys()[..3], &GENESIS));
    assert!(matches!(
        verify(&p),
        Err(LightError::NumberMismatch {
            number: 2,
            header: 2,
            slot: 1
        })
    ));
    let mut p = good.clone();
    p["number"] = json!(2);
    assert!(matches!(verify(&p), Err(LightError::NumberMismatch { .. })));
}

#[test]
fn a_lying_state_root_passes_its_own_certificate_but_not_the_next() {
    let [_, b1, b2] = chain([2; 32]);
    // The node executes block 1 "differently": same agreed value, another state root.
    let lie = Header {
        state_root: [0x66; 32],
        ..b1.clone()
    };
    let lying = verify(&proof_json(&lie, &cert_for(&b1, &keys()[..3]))).expect("execution results are not in value 1");
    let child = verified(&b2);
    let proof = ReadProofView {
        at: to_hex(&lie.hash()),
        state_root: to_hex(&lie.state_root),
        proofs: vec![],
    };
    assert!(matches!(
        verify_state_proof(&proof, &lying, &child),
        Err(LightError::NotCertifiedByChild {
            number: 1,
            child: 2,
            ..
        })
    ));
}

#[test]
fn malformed_answers_are_refused() {
    let [_, b1, _] = chain([2; 32]);
    let cert = cert_for(&b1, &keys()[..3]);
    let good = proof_json(&b1, &cert);
    assert!(verify(&good).is_ok());

    for field in ["number", "hash", "header", "certificate"] {
        let mut p = good.clone();
        p.as_object_mut().unwrap().remove(field);
        assert!(
            matches!(verify(&p), Err(LightError::Malformed { .. })),
            "without {field}"
        );
    }
    for field in [
        "parentHash",
        "stateRoot",
        "txRoot",
        "receiptsRoot",
        "eventsRoot",
        "closeTime",
        "author",
        "number",
    ] {
        let mut p = good.clone();
        p["header"].as_object_mut().unwrap().remove(field);
        assert!(
            matches!(verify(&p), Err(LightError::Malformed { ref field, .. }) if field.starts_with("header.")),
            "without header.{field}: {:?}",
            verify(&p)
        );
    }
    let mut p = good.clone();
    p["certificate"] = json!("0xzz");
    assert!(matches!(verify(&p), Err(LightError::Malformed { .. })));

    let mut trailing = cert.encode();
    trailing.push(0);
    let mut p = good.clone();
    p["certificate"] = json!(to_hex(&trailing));
    assert!(matches!(verify(&p), Err(LightError::CertificateDecode(_))));

    let not_a_value = cert_of(1, b"not a consensus value", &keys()[..3], &GENESIS);
    let p = proof_json(&b1, &not_a_value);
    assert!(matches!(verify(&p), Err(LightError::ValueDecode(_))));

    let mut p = good.clone();
    p["value"]["closeTime"] = json!(1);
    assert!(matches!(verify(&p), Err(LightError::ValueFieldMismatch)));
    let mut p = good.clone();
    p["value"]["proposer"] = json!(keys()[3].account().to_ss58());
    assert!(matches!(verify(&p), Err(LightError::ValueFieldMismatch)));
    for (field, bad) in [("author", "0x01"), ("eventsRoot", "0x01")] {
        let mut p = good.clone();
        p["header"][field] = json!(bad);
        assert!(
            matches!(verify(&p), Err(LightError::Malformed { field: ref f, .. }) if f == &format!("header.{field}")),
            "header.{field} = {bad}: {:?}",
            verify(&p)
        );
    }
    // `value` is informational: without it the proof still verifies; `signers` is never used.
    let mut p = good.clone();
    p.as_object_mut().unwrap().remove("value");
    p["signers"] = json!(["nonsense"]);
    assert!(verify(&p).is_ok());
}

#[test]
fn two_certified_values_at_one_height_are_a_fork() {
    let [_, b1, b2] = chain([2; 32]);
    let other = Header {
        tx_root: [0x77; 32],
        ..b1.clone()
    };
    let k = keys();
    let a = verified(&b1);
    // Bob and Charlie equivocate: they also sign the other block with Dave.
    let b = verify(&proof_json(&other, &cert_for(&other, &k[1..]))).unwrap();
    assert!(detect_fork(&a, &b));
    assert!(detect_fork(&b, &a));
    assert!(!detect_fork(&a, &a.clone()));
    assert!(!detect_fork(&a, &verified(&b2)), "different heights are no fork");

    // One value, two execution results: a node misreports them, the network did not fork.
    let misreported = Header {
        state_root: [0x66; 32],
        ..b1.clone()
    };
    let c = verify(&proof_json(&misreported, &cert_for(&b1, &k[..3]))).unwrap();
    assert_ne!(c.hash, a.hash);
    assert!(!detect_fork(&a, &c));
}

fn bob_key() -> Vec<u8> {
    free_balance_key(&keys()[1].account())
}

/// A store whose block-0 state holds Bob's balance and a few other entries; returns it with the
/// read proof (view) of `keys` against it and its root.
fn read_proof(keys: &[Vec<u8>]) -> (ReadProofView, Hash) {
    let dir = tempfile::tempdir().unwrap();
    let store = watt_store::Store::open(dir.path()).unwrap();
    let mut changes = watt_store::StateChanges::new();
    changes.insert(bob_key(), Some(500u128.encode()));
    for i in 0u8..20 {
        changes.insert(vec![i; 40], Some(vec![i]));
    }
    let tree = store.prepare_state(&changes, 0).unwrap();
    let root = tree.root;
    let block = watt_primitives::Block {
        header: header(0, [0; 32], root, [0; 32]),
        transactions: vec![],
    };
    store
        .commit_block(&block, &[], &[], &changes, tree, true, None)
        .unwrap();
    let proofs = store
        .prove(keys, 0)
        .unwrap()
        .into_iter()
        .map(|p| ProofEntryView {
            key: to_hex(&p.key),
            value: p.value.as_deref().map(to_hex),
            proof: to_hex(&p.proof),
        })
        .collect();
    (
        ReadProofView {
            at: String::new(),
            state_root: to_hex(&root),
            proofs,
        },
        root,
    )
}

#[test]
fn state_is_verified_against_a_header_the_next_block_certifies() {
    let charlie = keys()[2].account();
    let (mut proof, root) = read_proof(&[bob_key(), free_balance_key(&charlie)]);
    let [_, b1, b2] = chain(root);
    proof.at = to_hex(&b1.hash());
    let (block, child) = (verified(&b1), verified(&b2));

    let entries = verify_state_proof(&proof, &block, &child).unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(entries[0].value, Some(500u128.encode()));
    assert_eq!(entries[1].value, None);
    assert_eq!(
        verified_free_balance(&proof, &block, &child, &keys()[1].account()).unwrap(),
        500
    );
    assert_eq!(
        verified_free_balance(&proof, &block, &child, &charlie).unwrap(),
        0,
        "absent: 0"
    );
    assert!(matches!(
        verified_free_balance(&proof, &block, &child, &keys()[3].account()),
        Err(LightError::MissingKey(_))
    ));

    // A forged balance.
    let mut forged = proof.clone();
    forged.proofs[0].value = Some(to_hex(&5_000u128.encode()));
    assert!(matches!(
        verified_free_balance(&forged, &block, &child, &keys()[1].account()),
        Err(LightError::Proof { .. })
    ));
    // Claimed absent.
    let mut hidden = proof.clone();
    hidden.proofs[0].value = None;
    assert!(matches!(
        verify_state_proof(&hidden, &block, &child),
        Err(LightError::Proof { .. })
    ));
    // For another block, or naming another root.
    let mut p = proof.clone();
    p.at = to_hex(&b2.hash());
    assert!(matches!(
        verify_state_proof(&p, &block, &child),
        Err(LightError::WrongBlock { .. })
    ));
    let mut p = proof.clone();
    p.state_root = to_hex(&[0x55; 32]);
    assert!(matches!(
        verify_state_proof(&p, &block, &child),
        Err(LightError::StateRootMismatch { .. })
    ));
    // A "child" that is not the next block, or not built on this one.
    assert!(matches!(
        verify_state_proof(&proof, &block, &block),
        Err(LightError::NotCertifiedByChild { .. })
    ));
    let stranger = header(2, [0x42; 32], [3; 32], [0x22; 32]);
    assert!(matches!(
        verify_state_proof(&proof, &block, &verified(&stranger)),
        Err(LightError::NotCertifiedByChild { .. })
    ));
}

#[test]
fn quorum_sets_are_read_from_stellar_json_with_ss58_ids() {
    let k = keys();
    let ids: Vec<String> = k.iter().map(|k| k.account().to_ss58()).collect();
    let parse = |v: Json| quorum_set_from_json(&serde_json::from_value(v).unwrap());
    assert_eq!(parse(json!({"t": 3, "v": ids})).unwrap(), trusted());
    let nested = parse(json!({"t": 2, "v": [ids[0], {"t": 1, "v": [ids[1], ids[2]]}]})).unwrap();
    assert_eq!(nested.validators, vec![k[0].account()]);
    assert_eq!(
        nested.inner,
        vec![QuorumSet::flat(1, vec![k[1].account(), k[2].account()])]
    );
    assert!(matches!(
        parse(json!({"t": 1, "v": ["Alice"]})),
        Err(LightError::BadQuorumSet(_))
    ));
    assert!(matches!(
        parse(json!({"t": 0, "v": ids})),
        Err(LightError::BadQuorumSet(_))
    ));
    assert!(matches!(
        parse(json!({"t": 5, "v": ids})),
        Err(LightError::BadQuorumSet(_))
    ));
}

proptest! {
    // Every case checks up to three sr25519 signatures.
    #![proptest_config(ProptestConfig::with_cases(96))]

    /// Whatever byte of the certificate changes, the answer is refused or still certifies
    /// exactly block 1 (the change fell where nothing is claimed).
    #[test]
    fn a_changed_certificate_certifies_nothing_else(index in any::<prop::sample::Index>(), mask in 1u8..=255) {
        let [_, b1, _] = chain([2; 32]);
        let mut bytes = cert_for(&b1, &keys()[..3]).encode();
        let i = index.index(bytes.len());
        bytes[i] ^= mask;
        let mut p = proof_json(&b1, &cert_for(&b1, &keys()[..3]));
        p["certificate"] = json!(to_hex(&bytes));
        if let Ok(v) = verify(&p) {
            prop_assert_eq!((v.number, v.hash), (1, b1.hash()));
        }
    }

    /// A changed signature byte is always refused.
    #[test]
    fn a_changed_signature_is_refused(which in 0usize..3, index in 0usize..64, mask in 1u8..=255) {
        let [_, b1, _] = chain([2; 32]);
        let mut cert = cert_for(&b1, &keys()[..3]);
        cert.envelopes[which].signature[index] ^= mask;
        let verdict = verify(&proof_json(&b1, &cert));
        prop_assert!(
            matches!(verdict, Err(LightError::Certificate(CertificateError::BadSignature { .. }))),
            "{:?}", verdict
        );
    }

    /// Arbitrary certificate bytes are refused without panicking.
    #[test]
    fn arbitrary_certificate_bytes_are_refused(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let [_, b1, _] = chain([2; 32]);
        let mut p = proof_json(&b1, &cert_for(&b1, &keys()[..3]));
        p["certificate"] = json!(to_hex(&bytes));
        prop_assert!(verify(&p).is_err());
    }
}

#[test]
fn headers_round_trip_through_the_rpc_json() {
    for h in chain([2; 32]) {
        assert_eq!(header_from_json(&header_json(&h)).unwrap(), h);
    }
}

/// The certificate names the proposer; a header claiming another author (hash recomputed)
/// does not match the certified value.
#[test]
fn a_header_naming_another_author_than_the_certified_proposer_is_refused() {
    let [_, b1, _] = chain([2; 32]);
    let cert = cert_for(&b1, &keys()[..3]);
    let other_author = Header {
        author: keys()[3].account(),
        ..b1.clone()
    };
    assert_ne!(other_author.author, b1.author);
    let p = proof_json(&other_author, &cert);
    assert!(
        matches!(verify(&p), Err(LightError::ValueMismatch(ref m)) if m.contains("proposer")),
        "{:?}",
        verify(&p)
    );
}

/// Two certified values that differ only in their proposer are two agreed values: a fork.
#[test]
fn two_certified_proposers_at_one_height_are_a_fork() {
    let [_, b1, _] = chain([2; 32]);
    let k = keys();
    let other = Header {
        author: k[3].account(),
        ..b1.clone()
    };
    let a = verified(&b1);
    let b = verify(&proof_json(&other, &cert_for(&other, &k[1..]))).unwrap();
    assert!(detect_fork(&a, &b));
}
