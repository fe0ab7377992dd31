use super::*;
use watt_client::proof::verify_proof;

fn block(number: BlockNumber, parent: Hash, root: Hash) -> Block {
    Block {
        header: Header {
            parent_hash: parent,
            number,
            state_root: root,
            tx_root: [0; 32],
            close_time: number * 1000,
            receipts_root: [0; 32],
            events_root: [0; 32],
            author: watt_primitives::AccountId([0; 32]),
        },
        transactions: vec![],
    }
}

fn changes(pairs: &[(&[u8], Option<&[u8]>)]) -> StateChanges {
    pairs.iter().map(|(k, v)| (k.to_vec(), v.map(|v| v.to_vec()))).collect()
}

/// Commits genesis (a=1, b=2) and block 1 (a=10, b deleted, c=3); returns the two headers.
fn two_blocks(store: &Store) -> (Header, Header) {
    let g = changes(&[(b"a", Some(b"1")), (b"b", Some(b"2"))]);
    let t0 = store.prepare_state(&g, 0).unwrap();
    let b0 = block(0, [0; 32], t0.root);
    store.commit_block(&b0, &[], &[], &g, t0, true, None).unwrap();
    let c1 = changes(&[(b"a", Some(b"10")), (b"b", None), (b"c", Some(b"3"))]);
    let t1 = store.prepare_state(&c1, 1).unwrap();
    let b1 = block(1, b0.header.hash(), t1.root);
    store.commit_block(&b1, &[], &[], &c1, t1, true, None).unwrap();
    (b0.header, b1.header)
}

#[test]
fn blocks_state_and_pointers_persist_across_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let (h0, h1) = {
        let store = Store::open(dir.path()).unwrap();
        two_blocks(&store)
    };
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.genesis_hash().unwrap(), Some(h0.hash()));
    assert_eq!(store.best().unwrap(), Some((1, h1.hash())));
    assert_eq!(store.finalized().unwrap(), Some((1, h1.hash())));
    assert_eq!(store.hash_at(1).unwrap(), Some(h1.hash()));
    assert_eq!(store.header(&h1.hash()).unwrap(), Some(h1.clone()));
    assert_eq!(store.state_get(b"a").unwrap(), Some(b"10".to_vec()));
    assert_eq!(store.state_get(b"b").unwrap(), None);
    assert_eq!(store.state_next_key(b"a").unwrap(), Some(b"c".to_vec()));
    // History through the tree's versioned values.
    assert_eq!(store.state_get_at(b"a", 0).unwrap(), Some(b"1".to_vec()));
    assert_eq!(store.state_get_at(b"b", 0).unwrap(), Some(b"2".to_vec()));
    assert_eq!(store.state_get_at(b"b", 1).unwrap(), None);
    assert_ne!(h0.state_root, h1.state_root);
}

#[test]
fn inclusion_and_exclusion_proofs_verify_and_tampering_fails() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (h0, h1) = two_blocks(&store);
    let proofs = store
        .prove(&[b"a".to_vec(), b"b".to_vec(), b"zzz".to_vec()], 1)
        .unwrap();
    assert_eq!(proofs[0].value, Some(b"10".to_vec()));
    assert_eq!(proofs[1].value, None, "deleted key is proven absent");
    for p in &proofs {
        verify_proof(&h1.state_root, p).unwrap();
        assert!(
            verify_proof(&h0.state_root, p).is_err(),
            "a proof binds to its own root"
        );
    }
    let mut lie = proofs[0].clone();
    lie.value = Some(b"11".to_vec());
    assert!(verify_proof(&h1.state_root, &lie).is_err());
    let mut absent_lie = proofs[1].clone();
    absent_lie.value = Some(b"2".to_vec());
    assert!(verify_proof(&h1.state_root, &absent_lie).is_err());
    let old = store.prove(&[b"b".to_vec()], 0).unwrap();
    assert_eq!(old[0].value, Some(b"2".to_vec()));
    verify_proof(&h0.state_root, &old[0]).unwrap();
}

/// A tiny seeded generator (splitmix64): the shuffles below are random but reproducible.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            items.swap(i, self.below(i + 1));
        }
    }
}

/// Commits `blocks` (each a list of writes, applied in list order within the block) on a fresh
/// store as blocks 0, 1, ...; returns the last state root and the flat state read back.
fn build(blocks: &[Vec<(Vec<u8>, Option<Vec<u8>>)>]) -> (Hash, Vec<(Vec<u8>, Vec<u8>)>) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut parent = [0; 32];
    let mut root = [0; 32];
    for (number, writes) in blocks.iter().enumerate() {
        // Later writes to a key within a block win, as in the executor's overlay.
        let mut c = StateChanges::new();
        for (k, v) in writes {
            c.insert(k.clone(), v.clone());
        }
        let t = store.prepare_state(&c, number as u64).unwrap();
        root = t.root;
        let b = block(number as u64, parent, t.root);
        store.commit_block(&b, &[], &[], &c, t, true, None).unwrap();
        parent = b.header.hash();
    }
    let mut flat = Vec::new();
    let mut cursor = Vec::new();
    while let Some(k) = store.state_next_key(&cursor).unwrap() {
        flat.push((k.clone(), store.state_get(&k).unwrap().unwrap()));
        cursor = k;
    }
    (root, flat)
}

#[test]
fn state_root_is_independent_of_write_order_and_history() {
    let key = |i: usize| format!("key/{i:03}").into_bytes();
    let value = |i: usize| format!("value {i}").into_bytes();
    let n = 60;
    let final_state: Vec<(Vec<u8>, Option<Vec<u8>>)> = (0..n).map(|i| (key(i), Some(value(i)))).collect();
    // Reference: the final state written in one block, in key order.
    let (reference, flat) = build(&[final_state.clone()]);
    assert_eq!(flat.len(), n);
    let mut rng = SplitMix(0x5eed);
    for round in 0..6 {
        // The same writes shuffled and split over 1..=6 blocks at random cut points; some keys
        // first take a decoy value or are created and deleted in an earlier block.
        let mut writes = final_state.clone();
        rng.shuffle(&mut writes);
        let blocks_n = 1 + rng.below(6);
        let mut blocks: Vec<Vec<(Vec<u8>, Option<Vec<u8>>)>> = vec![Vec::new(); blocks_n];
        for w in writes {
            let at = rng.below(blocks_n);
            if at > 0 && rng.below(3) == 0 {
                let early = rng.below(at);
                blocks[early].push((w.0.clone(), Some(b"decoy".to_vec())));
            }
            blocks[at].push(w);
        }
        // A key that exists only in the middle of the history must leave no trace.
        let ghost = format!("ghost/{round}").into_bytes();
        blocks[0].push((ghost.clone(), Some(b"boo".to_vec())));
        blocks.push(vec![(ghost, None)]);
        let (root, history_flat) = build(&blocks);
        assert_eq!(
            root,
            reference,
            "round {round}: {} blocks, shuffled writes",
            blocks.len()
        );
        assert_eq!(history_flat, flat, "round {round}: flat state differs");
    }
    // And the root does depend on the state: one value changed gives another root.
    let mut other = final_state.clone();
    other[17].1 = Some(b"different".to_vec());
    assert_ne!(build(&[other]).0, reference);
}

#[test]
fn commit_refuses_a_header_that_does_not_match_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let g = changes(&[(b"a", Some(b"1"))]);
    let t0 = store.prepare_state(&g, 0).unwrap();
    let bad = block(0, [0; 32], [9; 32]);
    assert!(matches!(
        store.commit_block(&bad, &[], &[], &g, t0, true, None),
        Err(StoreError::Tree(_))
    ));
    assert_eq!(store.best().unwrap(), None, "nothing written");
    assert_eq!(store.state_get(b"a").unwrap(), None);
}

fn record(phase: watt_primitives::economy::EventPhase, event: &[u8], topics: &[Hash]) -> EventRecord {
    EventRecord {
        phase,
        event: event.to_vec(),
        topics: topics.to_vec(),
    }
}

#[test]
fn events_round_trip_by_block_number_and_survive_reopen() {
    use watt_primitives::economy::EventPhase;
    let dir = tempfile::tempdir().unwrap();
    let e1 = vec![
        record(EventPhase::Initialization, b"minted", &[]),
        record(EventPhase::Transaction(0), b"transfer", &[[1; 32], [2; 32]]),
        record(EventPhase::Transaction(1), b"", &[[3; 32]]),
        record(EventPhase::Finalization, b"day closed", &[]),
    ];
    {
        let store = Store::open(dir.path()).unwrap();
        let g = changes(&[(b"a", Some(b"1"))]);
        let t0 = store.prepare_state(&g, 0).unwrap();
        let b0 = block(0, [0; 32], t0.root);
        store.commit_block(&b0, &[], &[], &g, t0, true, None).unwrap();
        let c1 = changes(&[(b"a", Some(b"2"))]);
        let t1 = store.prepare_state(&c1, 1).unwrap();
        let b1 = block(1, b0.header.hash(), t1.root);
        store.commit_block(&b1, &[], &e1, &c1, t1, true, None).unwrap();
    }
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(
        store.events(0).unwrap(),
        Some(vec![]),
        "a block without events stores an empty list"
    );
    assert_eq!(store.events(1).unwrap(), Some(e1), "same records, same order");
    assert_eq!(store.events(2).unwrap(), None, "no block #2");
}

#[test]
fn a_refused_commit_writes_no_events() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let g = changes(&[(b"a", Some(b"1"))]);
    let t0 = store.prepare_state(&g, 0).unwrap();
    let bad = block(0, [0; 32], [9; 32]);
    let events = [record(watt_primitives::economy::EventPhase::Initialization, b"x", &[])];
    assert!(store.commit_block(&bad, &[], &events, &g, t0, true, None).is_err());
    assert_eq!(store.events(0).unwrap(), None);
}

/// A database written before the `events` column existed (the same columns minus that one)
/// opens, keeps its blocks, reports no events for them and stores events for new blocks.
#[test]
fn a_database_without_the_events_column_opens_and_gains_it() {
    let dir = tempfile::tempdir().unwrap();
    let (h0, h1) = {
        let store = Store::open(dir.path()).unwrap();
        two_blocks(&store)
    };
    // Rewrite the database without the events column, as an older node left it.
    {
        let mut opts = Options::default();
        opts.create_if_missing(false);
        let mut db = DB::open_cf(&opts, dir.path(), COLUMNS).unwrap();
        db.drop_cf(CF_EVENTS).unwrap();
    }
    let cfs = DB::list_cf(&Options::default(), dir.path()).unwrap();
    assert!(
        !cfs.iter().any(|c| c == CF_EVENTS),
        "the old layout has no events column: {cfs:?}"
    );

    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.best().unwrap(), Some((1, h1.hash())));
    assert_eq!(store.header(&h0.hash()).unwrap(), Some(h0));
    assert_eq!(store.events(1).unwrap(), None, "block #1 predates the column");
    let c2 = changes(&[(b"a", Some(b"20"))]);
    let t2 = store.prepare_state(&c2, 2).unwrap();
    let b2 = block(2, h1.hash(), t2.root);
    let e2 = vec![record(
        watt_primitives::economy::EventPhase::Finalization,
        b"e",
        &[[7; 32]],
    )];
    store.commit_block(&b2, &[], &e2, &c2, t2, true, None).unwrap();
    assert_eq!(store.events(2).unwrap(), Some(e2));
}
