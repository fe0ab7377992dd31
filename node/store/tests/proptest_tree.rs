//! The state tree through the store's public API, over random histories:
//!
//! - the root after many incremental blocks (overwrites, deletions, keys created and deleted
//!   again, deletions of keys that never existed) equals the root of the final state written
//!   from scratch in one block, and the flat state matches too;
//! - the root does not depend on how the same writes are split into blocks or ordered;
//! - every key's proof at the head verifies against that root and proves the right value.

use proptest::collection::vec;
use proptest::prelude::*;
use std::collections::BTreeMap;
use watt_client::proof::verify_proof;
use watt_primitives::{Block, Hash, Header};
use watt_store::{StateChanges, Store};

/// Keys come from a small pool so that histories overwrite and delete the same keys often.
const KEYS: u8 = 24;

fn key(i: u8) -> Vec<u8> {
    format!("k{i}").into_bytes()
}

/// One write: a key of the pool and a new value, or a deletion.
fn write() -> impl Strategy<Value = (u8, Option<Vec<u8>>)> {
    (
        0..KEYS,
        prop_oneof![3 => vec(any::<u8>(), 0..12).prop_map(Some), 1 => Just(None)],
    )
}

fn history() -> impl Strategy<Value = Vec<Vec<(u8, Option<Vec<u8>>)>>> {
    vec(vec(write(), 0..12), 1..8)
}

struct Built {
    root: Hash,
    flat: BTreeMap<Vec<u8>, Vec<u8>>,
    store: Store,
    head: u64,
    _dir: tempfile::TempDir,
}

/// Commits each list of writes as one block (later writes to a key in a block win) on a fresh
/// store, blocks 0, 1, ...
fn build(blocks: &[Vec<(u8, Option<Vec<u8>>)>]) -> Built {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut parent = [0; 32];
    let mut root = [0; 32];
    for (number, writes) in blocks.iter().enumerate() {
        let number = number as u64;
        let mut changes = StateChanges::new();
        for (k, v) in writes {
            changes.insert(key(*k), v.clone());
        }
        let tree = store.prepare_state(&changes, number).unwrap();
        root = tree.root;
        let header = Header {
            parent_hash: parent,
            number,
            state_root: tree.root,
            tx_root: [0; 32],
            close_time: number,
            receipts_root: [0; 32],
            events_root: [0; 32],
            author: watt_primitives::AccountId([0; 32]),
        };
        parent = header.hash();
        let block = Block {
            header,
            transactions: vec![],
        };
        store
            .commit_block(&block, &[], &[], &changes, tree, true, None)
            .unwrap();
    }
    let mut flat = BTreeMap::new();
    let mut cursor = Vec::new();
    while let Some(k) = store.state_next_key(&cursor).unwrap() {
        flat.insert(k.clone(), store.state_get(&k).unwrap().unwrap());
        cursor = k;
    }
    Built {
        root,
        flat,
        store,
        head: blocks.len() as u64 - 1,
        _dir: dir,
    }
}

/// The final state of a history, computed without the store.
fn final_state(blocks: &[Vec<(u8, Option<Vec<u8>>)>]) -> BTreeMap<u8, Vec<u8>> {
    let mut state = BTreeMap::new();
    for (k, v) in blocks.iter().flatten() {
        match v {
            Some(v) => state.insert(*k, v.clone()),
            None => state.remove(k),
        };
    }
    state
}

proptest! {
    // Every case opens rocksdb twice and syncs each block: keep the count modest.
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn incremental_root_equals_from_scratch_root(blocks in history()) {
        let state = final_state(&blocks);
        let incremental = build(&blocks);
        let scratch = build(&[state.iter().map(|(k, v)| (*k, Some(v.clone()))).collect()]);
        prop_assert_eq!(incremental.root, scratch.root);
        let expected: BTreeMap<Vec<u8>, Vec<u8>> = state.iter().map(|(k, v)| (key(*k), v.clone())).collect();
        prop_assert_eq!(&incremental.flat, &expected);
        prop_assert_eq!(&scratch.flat, &expected);
        // Every key of the pool, present or not, is proven against the root with its value.
        let keys: Vec<Vec<u8>> = (0..KEYS).map(key).collect();
        let proofs = incremental.store.prove(&keys, incremental.head).unwrap();
        for (i, p) in proofs.iter().enumerate() {
            prop_assert_eq!(&p.value, &state.get(&(i as u8)).cloned());
            prop_assert!(verify_proof(&incremental.root, p).is_ok(), "proof of {:?} refused", p.key);
        }
    }

    #[test]
    fn root_is_independent_of_how_writes_are_split_and_ordered(
        entries in proptest::collection::btree_map(0..KEYS, vec(any::<u8>(), 0..12), 0..KEYS as usize),
        order in any::<u64>(),
        cuts_a in vec(any::<prop::sample::Index>(), 0..5),
        cuts_b in vec(any::<prop::sample::Index>(), 0..5),
    ) {
        let writes: Vec<(u8, Option<Vec<u8>>)> = entries.iter().map(|(k, v)| (*k, Some(v.clone()))).collect();
        // Two different orders of the same writes, each cut into blocks at random points.
        let split = |mut w: Vec<(u8, Option<Vec<u8>>)>, seed: u64, cuts: &[prop::sample::Index]| {
            let mut s = seed;
            for i in (1..w.len()).rev() {
                s = s.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                w.swap(i, (s >> 33) as usize % (i + 1));
            }
            let mut points: Vec<usize> = cuts.iter().map(|c| c.index(w.len() + 1)).collect();
            points.sort();
            let mut blocks = Vec::new();
            let mut last = 0;
            for p in points.into_iter().chain([w.len()]) {
                blocks.push(w[last..p].to_vec());
                last = p;
            }
            blocks
        };
        let a = build(&split(writes.clone(), order, &cuts_a));
        let b = build(&split(writes, order.rotate_left(17) ^ 0x9e37, &cuts_b));
        prop_assert_eq!(a.root, b.root);
        prop_assert_eq!(a.flat, b.flat);
    }
}
