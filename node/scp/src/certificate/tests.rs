//! The crate does no cryptography, so these tests sign with a keyed SipHash of the payload
//! (`toy_sign`): enough to tell a changed payload or a forged signature from a real one.
//! Real sr25519 certificates are tested in the client SDK (`watt_client::light`).

use super::*;
use crate::ballot::Ballot;
use crate::nomination::Nominate;
use std::hash::{Hash as _, Hasher};

const NET: [u8; 32] = [7; 32];

fn toy_digest(parts: &[&[u8]]) -> [u8; 8] {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    for p in parts {
        p.hash(&mut h);
    }
    h.finish().to_le_bytes()
}

/// The node's "secret" is its encoding; what matters is that the signature binds the payload.
fn toy_sign<N: Encode>(env: &Envelope<N>, net: &[u8; 32]) -> Vec<u8> {
    toy_digest(&[b"key", &env.node.encode(), &env.signing_payload(net)]).to_vec()
}

fn toy_verify<N: Encode>(env: &Envelope<N>) -> bool {
    env.signature == toy_sign(env, &NET)
}

fn toy_qset_hash<N: Encode>(q: &QuorumSet<N>) -> [u8; 32] {
    let bytes = q.encode();
    let mut out = [0u8; 32];
    for (lane, chunk) in out.chunks_mut(8).enumerate() {
        chunk.copy_from_slice(&toy_digest(&[&[lane as u8], &bytes]));
    }
    out
}

fn n(name: &str) -> String {
    name.to_string()
}

fn names(list: &str) -> Vec<String> {
    list.chars().map(|c| c.to_string()).collect()
}

fn flat(t: u32, list: &str) -> QuorumSet<String> {
    QuorumSet::flat(t, names(list))
}

fn value(v: &str) -> Value {
    v.as_bytes().to_vec()
}

fn confirm(counter: u32, v: &str) -> Statement {
    Statement::Ballot(BallotStatement::Confirm {
        ballot: Ballot::new(counter, value(v)),
        n_prepared: counter,
        n_commit: 1,
        n_h: counter,
    })
}

fn externalize(v: &str) -> Statement {
    Statement::Ballot(BallotStatement::Externalize {
        commit: Ballot::new(1, value(v)),
        n_h: 1,
    })
}

fn prepare(v: &str) -> Statement {
    Statement::Ballot(BallotStatement::Prepare {
        ballot: Ballot::new(1, value(v)),
        prepared: None,
        prepared_prime: None,
        n_c: 0,
        n_h: 0,
    })
}

fn signed<N: Encode>(slot: u64, node: N, qset: &QuorumSet<N>, statement: Statement) -> Envelope<N> {
    let mut env = Envelope {
        slot,
        node,
        qset_hash: toy_qset_hash(qset),
        statement,
        signature: vec![],
    };
    env.signature = toy_sign(&env, &NET);
    env
}

/// A certificate of "x" for slot 5 signed by `signers`, each with its quorum set.
fn cert(signers: &[(&str, QuorumSet<String>)]) -> Certificate<String> {
    let mut quorum_sets: Vec<QuorumSet<String>> = vec![];
    let envelopes = signers
        .iter()
        .enumerate()
        .map(|(i, (name, q))| {
            if !quorum_sets.contains(q) {
                quorum_sets.push(q.clone());
            }
            // A mix of CONFIRM and EXTERNALIZE, as a real certificate has.
            let st = if i % 2 == 0 { externalize("x") } else { confirm(2, "x") };
            signed(5, n(name), q, st)
        })
        .collect();
    Certificate {
        slot: 5,
        value: value("x"),
        envelopes,
        quorum_sets,
    }
}

fn quorum(cert: &Certificate<String>, trusted: &QuorumSet<String>) -> Result<BTreeSet<String>, CertificateError> {
    certified_quorum(cert, trusted, toy_qset_hash, toy_verify)
}

fn check(cert: &Certificate<String>, trusted: &QuorumSet<String>) -> Result<(), CertificateError> {
    verify_certificate(cert, trusted, toy_qset_hash, toy_verify)
}

fn abcd() -> QuorumSet<String> {
    flat(3, "ABCD")
}

#[test]
fn three_of_four_is_a_certificate() {
    let c = cert(&[("A", abcd()), ("B", abcd()), ("C", abcd())]);
    assert_eq!(quorum(&c, &abcd()), Ok(names("ABC").into_iter().collect()));
    assert_eq!(check(&c, &abcd()), Ok(()));
    // All four, too.
    let c = cert(&[("A", abcd()), ("B", abcd()), ("C", abcd()), ("D", abcd())]);
    assert_eq!(check(&c, &abcd()), Ok(()));
}

#[test]
fn two_of_four_is_not() {
    let c = cert(&[("A", abcd()), ("B", abcd())]);
    assert_eq!(
        check(&c, &abcd()),
        Err(CertificateError::NoTrustedQuorum { signers: 2, quorum: 0 })
    );
    let empty = Certificate {
        slot: 5,
        value: value("x"),
        envelopes: vec![],
        quorum_sets: vec![],
    };
    assert_eq!(
        check(&empty, &abcd()),
        Err(CertificateError::NoTrustedQuorum { signers: 0, quorum: 0 })
    );
}

#[test]
fn a_bad_signature_refuses_the_whole_certificate() {
    let good = cert(&[("A", abcd()), ("B", abcd()), ("C", abcd()), ("D", abcd())]);
    for e in 0..good.envelopes.len() {
        for i in 0..good.envelopes[e].signature.len() {
            let mut c = good.clone();
            c.envelopes[e].signature[i] ^= 0x01;
            assert_eq!(
                check(&c, &abcd()),
                Err(CertificateError::BadSignature {
                    node: format!("{:?}", c.envelopes[e].node)
                }),
                "envelope {e}, byte {i}: even with three good envelopes left, a bad one is refused"
            );
        }
    }
    // Signed for another network.
    let mut c = good.clone();
    c.envelopes[0].signature = toy_sign(&c.envelopes[0], &[8; 32]);
    assert!(matches!(check(&c, &abcd()), Err(CertificateError::BadSignature { .. })));
}

#[test]
fn envelopes_for_another_slot_or_value_are_refused() {
    let base = cert(&[("A", abcd()), ("B", abcd()), ("C", abcd())]);

    let mut c = base.clone();
    c.envelopes[1] = signed(6, n("B"), &abcd(), confirm(2, "x"));
    assert_eq!(
        check(&c, &abcd()),
        Err(CertificateError::WrongSlot {
            node: format!("{:?}", "B"),
            found: 6,
            expected: 5
        })
    );

    for st in [
        confirm(2, "y"),
        externalize("y"),
        prepare("x"),
        Statement::Nominate(Nominate {
            votes: [value("x")].into_iter().collect(),
            accepted: [value("x")].into_iter().collect(),
        }),
    ] {
        let mut c = base.clone();
        c.envelopes[2] = signed(5, n("C"), &abcd(), st.clone());
        assert_eq!(
            check(&c, &abcd()),
            Err(CertificateError::NotCommitting {
                node: format!("{:?}", "C")
            }),
            "{st:?}"
        );
    }

    // The certificate claiming another value than its envelopes accept.
    let mut c = base.clone();
    c.value = value("y");
    assert!(matches!(
        check(&c, &abcd()),
        Err(CertificateError::NotCommitting { .. })
    ));
}

#[test]
fn a_signer_whose_slice_is_not_met_is_peeled() {
    // C's slices all need X, who did not sign: C is removed, and A, B still form a quorum
    // holding a slice of the trusted 2-of-{A,B,C}.
    let abc = flat(2, "ABC");
    let c = cert(&[("A", abc.clone()), ("B", abc.clone()), ("C", flat(2, "CX"))]);
    assert_eq!(quorum(&c, &abc), Ok(names("AB").into_iter().collect()));

    // Peeling cascades: B needs E, so B goes; then A's only slice {A, B} is gone, so A goes.
    let ab = flat(2, "AB");
    let c = cert(&[("A", ab.clone()), ("B", flat(2, "BE"))]);
    assert_eq!(
        check(&c, &ab),
        Err(CertificateError::NoTrustedQuorum { signers: 2, quorum: 0 })
    );
    // With E's signature (E trusting itself) the same envelopes are a certificate.
    let c = cert(&[("A", ab.clone()), ("B", flat(2, "BE")), ("E", flat(1, "E"))]);
    assert_eq!(quorum(&c, &ab), Ok(names("ABE").into_iter().collect()));
}

#[test]
fn a_quorum_without_a_trusted_slice_is_refused() {
    // E..H form a quorum of their own, but the verifier trusts A..D.
    let efgh = flat(3, "EFGH");
    let c = cert(&[
        ("E", efgh.clone()),
        ("F", efgh.clone()),
        ("G", efgh.clone()),
        ("H", efgh.clone()),
    ]);
    assert_eq!(check(&c, &efgh), Ok(()), "a verifier trusting them accepts it");
    assert_eq!(
        check(&c, &abcd()),
        Err(CertificateError::NoTrustedQuorum { signers: 4, quorum: 0 })
    );
    // Two trusted nodes with them are not a slice of the trusted 3-of-4 either.
    let c = cert(&[
        ("A", abcd()),
        ("B", abcd()),
        ("E", efgh.clone()),
        ("F", efgh.clone()),
        ("G", efgh.clone()),
    ]);
    assert!(matches!(
        check(&c, &abcd()),
        Err(CertificateError::NoTrustedQuorum { .. })
    ));
}

#[test]
fn malformed_certificates_are_refused() {
    let base = cert(&[("A", abcd()), ("B", abcd()), ("C", abcd())]);

    let mut c = base.clone();
    c.quorum_sets.clear();
    assert!(matches!(
        check(&c, &abcd()),
        Err(CertificateError::UnknownQuorumSet { .. })
    ));

    let insane = flat(0, "ABCD");
    let c = cert(&[("A", abcd()), ("B", abcd()), ("C", insane)]);
    assert!(matches!(
        check(&c, &abcd()),
        Err(CertificateError::InsaneQuorumSet { ref node, .. }) if node == &format!("{:?}", "C")
    ));

    let mut c = base.clone();
    c.envelopes.push(signed(5, n("A"), &abcd(), confirm(3, "x")));
    assert_eq!(
        check(&c, &abcd()),
        Err(CertificateError::DuplicateSigner {
            node: format!("{:?}", "A")
        })
    );

    let mut c = base.clone();
    c.envelopes[0] = signed(5, n("A"), &abcd(), confirm(0, "x"));
    assert!(matches!(
        check(&c, &abcd()),
        Err(CertificateError::InsaneStatement { .. })
    ));

    assert!(matches!(
        check(&base, &flat(0, "ABCD")),
        Err(CertificateError::InsaneTrustedSet(_))
    ));
}

#[test]
fn building_keeps_the_best_envelope_per_node() {
    let q = abcd();
    let unknown = flat(1, "E");
    let confirm_h = |counter: u32, h: u32| {
        Statement::Ballot(BallotStatement::Confirm {
            ballot: Ballot::new(counter, value("x")),
            n_prepared: counter,
            n_commit: 1,
            n_h: h,
        })
    };
    let a_ext = signed(5, n("A"), &q, externalize("x"));
    let b_newest = signed(5, n("B"), &q, confirm_h(3, 3));
    let c_conf = signed(5, n("C"), &q, confirm(2, "x"));
    let envelopes = vec![
        signed(5, n("A"), &q, confirm(2, "x")),
        a_ext.clone(),
        signed(5, n("A"), &q, confirm(4, "x")),
        signed(5, n("B"), &q, confirm_h(3, 2)),
        b_newest.clone(),
        signed(5, n("B"), &q, confirm_h(2, 2)),
        signed(4, n("C"), &q, externalize("x")),
        signed(5, n("C"), &q, confirm(2, "y")),
        c_conf.clone(),
        signed(5, n("D"), &q, prepare("x")),
        signed(5, n("E"), &unknown, externalize("x")),
    ];
    let want = toy_qset_hash(&q);
    let c = certificate_from_envelopes(5, &value("x"), envelopes, |h: &[u8; 32]| {
        (*h == want).then(|| q.clone())
    });
    assert_eq!(c.slot, 5);
    assert_eq!(c.value, value("x"));
    assert_eq!(c.envelopes, vec![a_ext, b_newest, c_conf]);
    assert_eq!(
        c.quorum_sets,
        vec![q.clone()],
        "each quorum set once; E's unknown one left out with E"
    );
    assert_eq!(check(&c, &q), Ok(()));
}

#[test]
fn the_payload_binds_every_field_but_the_signature() {
    let env = signed(5, n("A"), &abcd(), confirm(2, "x"));
    let p = env.signing_payload(&NET);
    let mut expected = b"watt/scp/v1".to_vec();
    expected.extend_from_slice(&NET);
    expected.extend_from_slice(&5u64.to_le_bytes());
    expected.extend_from_slice(&n("A").encode());
    expected.extend_from_slice(&env.qset_hash);
    expected.extend_from_slice(&env.statement.encode());
    assert_eq!(p, expected);

    let mut other = env.clone();
    other.signature = vec![1, 2, 3];
    assert_eq!(other.signing_payload(&NET), p, "the signature is not signed");
    assert_ne!(env.signing_payload(&[8; 32]), p, "the network is");
    let variants = [
        Envelope { slot: 6, ..env.clone() },
        Envelope {
            node: n("B"),
            ..env.clone()
        },
        Envelope {
            qset_hash: [0; 32],
            ..env.clone()
        },
        Envelope {
            statement: confirm(3, "x"),
            ..env.clone()
        },
    ];
    for v in variants {
        assert_ne!(v.signing_payload(&NET), p, "{v:?}");
    }
}

/// xorshift64*: a fixed-seed source of test bytes (the crate has no proptest dependency).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

fn byte_cert() -> (Certificate<[u8; 32]>, QuorumSet<[u8; 32]>) {
    let ids: Vec<[u8; 32]> = (1..=4u8).map(|i| [i; 32]).collect();
    let q = QuorumSet::flat(3, ids.clone());
    let envelopes = ids[..3]
        .iter()
        .map(|id| signed(9, *id, &q, externalize("value")))
        .collect();
    let c = Certificate {
        slot: 9,
        value: value("value"),
        envelopes,
        quorum_sets: vec![q.clone()],
    };
    (c, q)
}

#[test]
fn random_bytes_decode_without_panicking() {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let (good, _) = byte_cert();
    let good = good.encode();
    for _ in 0..20_000 {
        let len = rng.below(600);
        let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        // Half of the inputs start like a certificate, to get past the first fields.
        if rng.below(2) == 0 {
            let keep = rng.below(good.len()).min(bytes.len());
            bytes[..keep].copy_from_slice(&good[..keep]);
        }
        let _ = Certificate::<[u8; 32]>::decode(&mut &bytes[..]);
    }
}

#[test]
fn mutated_certificates_never_certify_something_else() {
    let (good, trusted) = byte_cert();
    assert_eq!(verify_certificate(&good, &trusted, toy_qset_hash, toy_verify), Ok(()));
    let bytes = good.encode();
    let mut rng = Rng(0xD1B5_4A32_D192_ED03);
    let mut verified = 0;
    for _ in 0..20_000 {
        let mut m = bytes.clone();
        for _ in 0..1 + rng.below(3) {
            match rng.below(3) {
                0 => {
                    let i = rng.below(m.len());
                    m[i] ^= 1 << rng.below(8);
                }
                1 => {
                    let i = rng.below(m.len());
                    m.remove(i);
                }
                _ => {
                    let i = rng.below(m.len() + 1);
                    m.insert(i, rng.next() as u8);
                }
            }
        }
        let Ok(c) = Certificate::<[u8; 32]>::decode(&mut &m[..]) else {
            continue;
        };
        if verify_certificate(&c, &trusted, toy_qset_hash, toy_verify).is_ok() {
            // Only changes outside what is signed survive: the slot and value stay.
            assert_eq!((c.slot, &c.value), (good.slot, &good.value), "{m:?}");
            verified += 1;
        }
    }
    // Trailing-byte changes decode to the same certificate and verify; the test saw some.
    assert!(verified > 0);
}

/// Envelopes of nodes the trusted set does not depend on are not signature-checked (padding
/// costs the verifier no signature work), the certificate still verifies, and trimming it to
/// the certified quorum keeps exactly the quorum's envelopes and quorum sets.
#[test]
fn padding_costs_no_signature_checks_and_is_trimmed() {
    let mut padded = cert(&[("A", abcd()), ("B", abcd()), ("C", abcd())]);
    let strangers = flat(1, "XYZ");
    padded.quorum_sets.push(strangers.clone());
    for name in ["X", "Y", "Z"] {
        let mut e = signed(5, n(name), &strangers, confirm(2, "x"));
        // A bad signature: it would refuse the certificate if it were checked.
        e.signature[0] ^= 1;
        padded.envelopes.push(e);
    }
    let checked = std::cell::Cell::new(0usize);
    let quorum = certified_quorum(&padded, &abcd(), toy_qset_hash, |e| {
        checked.set(checked.get() + 1);
        toy_verify(e)
    })
    .expect("the three trusted signers certify it");
    assert_eq!(checked.get(), 3, "only the trusted signers' signatures are checked");
    assert_eq!(quorum, names("ABC").into_iter().collect());
    let trimmed = trim_certificate(padded, &quorum, toy_qset_hash);
    let kept: Vec<String> = trimmed.envelopes.iter().map(|e| e.node.clone()).collect();
    assert_eq!(kept, names("ABC"));
    assert_eq!(trimmed.quorum_sets, vec![abcd()]);
    assert_eq!(check(&trimmed, &abcd()), Ok(()));
}
