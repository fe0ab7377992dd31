//! A light client's proof check against proofs made by the node's own store, over random
//! states: an untampered proof is accepted; a proof with any byte flipped, truncated or
//! extended, or checked against another root, is refused; and a proof whose claimed key or value
//! was changed is accepted only if the new claim happens to be true of the state (an exclusion
//! proof also proves its neighbours absent), never for a false one.

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use std::collections::BTreeMap;
use watt_client::proof::{verify_proof, ProofError};
use watt_primitives::{Block, Hash, Header, StateProof};
use watt_store::{StateChanges, Store};

const KEYS: u8 = 40;

fn key(i: u8) -> Vec<u8> {
    format!("key-{i}").into_bytes()
}

/// A store holding `state` as block 0; returns it with the root.
fn store_with(state: &BTreeMap<u8, Vec<u8>>) -> (tempfile::TempDir, Store, Hash) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let changes: StateChanges = state.iter().map(|(k, v)| (key(*k), Some(v.clone()))).collect();
    let tree = store.prepare_state(&changes, 0).unwrap();
    let root = tree.root;
    let block = Block {
        header: Header {
            parent_hash: [0; 32],
            number: 0,
            state_root: root,
            tx_root: [0; 32],
            close_time: 0,
            receipts_root: [0; 32],
            events_root: [0; 32],
            author: watt_primitives::AccountId([0; 32]),
        },
        transactions: vec![],
    };
    store
        .commit_block(&block, &[], &[], &changes, tree, true, None)
        .unwrap();
    (dir, store, root)
}

#[derive(Clone, Debug)]
enum Tamper {
    /// XOR one byte of the proof bytes with a non-zero mask.
    FlipByte(prop::sample::Index, u8),
    /// Keep only a strict prefix of the proof bytes.
    Truncate(prop::sample::Index),
    /// Append bytes.
    Extend(Vec<u8>),
    /// Claim another value (`None`: claim absence).
    Value(Option<Vec<u8>>),
    /// Claim the proof is about another key of the pool, or an arbitrary one.
    Key(Vec<u8>),
    /// Check against another root.
    Root(Hash),
}

fn tamper() -> impl Strategy<Value = Tamper> {
    prop_oneof![
        3 => (any::<prop::sample::Index>(), 1u8..=255).prop_map(|(i, m)| Tamper::FlipByte(i, m)),
        1 => any::<prop::sample::Index>().prop_map(Tamper::Truncate),
        1 => vec(any::<u8>(), 1..40).prop_map(Tamper::Extend),
        2 => proptest::option::of(vec(any::<u8>(), 0..10)).prop_map(Tamper::Value),
        2 => prop_oneof![(0..KEYS).prop_map(key), vec(any::<u8>(), 0..10)].prop_map(Tamper::Key),
        1 => any::<[u8; 32]>().prop_map(Tamper::Root),
    ]
}

fn state() -> impl Strategy<Value = BTreeMap<u8, Vec<u8>>> {
    btree_map(0..KEYS, vec(any::<u8>(), 0..10), 0..KEYS as usize)
}

/// What `state` actually holds at a raw key.
fn truth(state: &BTreeMap<u8, Vec<u8>>, raw: &[u8]) -> Option<Vec<u8>> {
    (0..KEYS).find(|i| key(*i) == raw).and_then(|i| state.get(&i).cloned())
}

proptest! {
    // Each case opens a rocksdb store: keep the count modest.
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn tampered_proofs_are_refused(
        state in state(),
        probe in 0..KEYS,
        tampers in vec(tamper(), 1..12),
    ) {
        let (_dir, store, root) = store_with(&state);
        let proof = store.prove(&[key(probe)], 0).unwrap().remove(0);
        prop_assert_eq!(&proof.value, &state.get(&probe).cloned());
        prop_assert_eq!(verify_proof(&root, &proof), Ok(()), "untampered proof refused");
        for t in tampers {
            let mut p: StateProof = proof.clone();
            let mut r = root;
            // Whether the changed claim is still true of the state: only then may it pass.
            let mut claim_true = false;
            match &t {
                Tamper::FlipByte(i, mask) => {
                    let i = i.index(p.proof.len());
                    p.proof[i] ^= mask;
                }
                Tamper::Truncate(i) => {
                    let len = i.index(p.proof.len());
                    p.proof.truncate(len);
                }
                Tamper::Extend(extra) => p.proof.extend_from_slice(extra),
                Tamper::Value(v) => {
                    claim_true = *v == proof.value;
                    p.value = v.clone();
                }
                Tamper::Key(k) => {
                    claim_true = truth(&state, k) == proof.value;
                    p.key = k.clone();
                }
                Tamper::Root(other) => {
                    claim_true = *other == root;
                    r = *other;
                }
            }
            let verdict = verify_proof(&r, &p);
            if claim_true {
                // E.g. the same key and value again, or an exclusion proof reused for another
                // absent key in the same empty subtree: true statements may verify.
                continue;
            }
            prop_assert!(verdict.is_err(), "tampering {:?} accepted", t);
        }
    }

    #[test]
    fn arbitrary_proof_bytes_are_refused_without_panicking(
        state in state(),
        probe in 0..KEYS,
        bytes in vec(any::<u8>(), 0..600),
    ) {
        let (_dir, store, root) = store_with(&state);
        let genuine = store.prove(&[key(probe)], 0).unwrap().remove(0);
        // The one valid proof of this (true) claim is all that may pass.
        prop_assume!(bytes != genuine.proof);
        let p = StateProof { proof: bytes, ..genuine };
        prop_assert!(verify_proof(&root, &p).is_err());
    }
}

/// A length prefix claiming four billion siblings in a few bytes is refused as malformed,
/// without trying to allocate for the claim.
#[test]
fn huge_sibling_counts_are_refused_cheaply() {
    let mut state = BTreeMap::new();
    state.insert(1, b"one".to_vec());
    let (_dir, store, root) = store_with(&state);
    let good = store.prove(&[key(1)], 0).unwrap().remove(0);
    // Borsh layout: Option<leaf> (1 + 64 bytes when Some), then the u32 sibling count.
    assert_eq!(good.proof[0], 1, "an inclusion proof has a leaf");
    let mut huge = good.proof[..65].to_vec();
    huge.extend_from_slice(&u32::MAX.to_le_bytes());
    let p = StateProof { proof: huge, ..good };
    let started = std::time::Instant::now();
    assert!(matches!(verify_proof(&root, &p), Err(ProofError::Malformed(_))));
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}
