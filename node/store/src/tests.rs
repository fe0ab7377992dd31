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
            consensus_data: vec![],
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
    store.commit_block(&b0, &[], &g, t0, true).unwrap();
    let c1 = changes(&[(b"a", Some(b"10")), (b"b", None), (b"c", Some(b"3"))]);
    let t1 = store.prepare_state(&c1, 1).unwrap();
    let b1 = block(1, b0.header.hash(), t1.root);
    store.commit_block(&b1, &[], &c1, t1, true).unwrap();
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

#[test]
fn state_root_is_independent_of_write_order_and_history() {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let s1 = Store::open(d1.path()).unwrap();
    let (_, h1) = two_blocks(&s1);
    // The same final state written at once.
    let s2 = Store::open(d2.path()).unwrap();
    let direct = changes(&[(b"a", Some(b"10")), (b"c", Some(b"3"))]);
    let t = s2.prepare_state(&direct, 0).unwrap();
    assert_eq!(t.root, h1.state_root);
}

#[test]
fn commit_refuses_a_header_that_does_not_match_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let g = changes(&[(b"a", Some(b"1"))]);
    let t0 = store.prepare_state(&g, 0).unwrap();
    let bad = block(0, [0; 32], [9; 32]);
    assert!(matches!(
        store.commit_block(&bad, &[], &g, t0, true),
        Err(StoreError::Tree(_))
    ));
    assert_eq!(store.best().unwrap(), None, "nothing written");
    assert_eq!(store.state_get(b"a").unwrap(), None);
}
