//! State pruning: recent state stays readable and provable, older state is refused with a
//! "pruned" error, and the tree stops growing with the number of blocks.

use super::*;
use watt_client::proof::verify_proof;

fn open(dir: &Path, pruning: StatePruning) -> Result<Store, StoreError> {
    Store::open_with(
        dir,
        &StoreConfig {
            pruning,
            cache_bytes: 8 << 20,
        },
    )
}

/// What block `n` writes: 40 keys updated every block (values name the block), one key created
/// per block, and every third block deletes the key created two blocks before.
fn changes_of(n: u64) -> StateChanges {
    let mut c = StateChanges::new();
    for k in 0..40u32 {
        c.insert(format!("hot/{k}").into_bytes(), Some(format!("{k}@{n}").into_bytes()));
    }
    c.insert(format!("new/{n}").into_bytes(), Some(vec![n as u8; 40]));
    if n % 3 == 0 && n >= 2 {
        c.insert(format!("new/{}", n - 2).into_bytes(), None);
    }
    c
}

/// Commits blocks `from..to` on top of `parent`; returns their headers.
fn commit_range(store: &Store, mut parent: Hash, from: u64, to: u64) -> Vec<Header> {
    let mut headers = Vec::new();
    for n in from..to {
        let changes = changes_of(n);
        let tree = store.prepare_state(&changes, n).unwrap();
        let block = Block {
            header: Header {
                parent_hash: parent,
                number: n,
                state_root: tree.root,
                tx_root: [0; 32],
                close_time: n * 1000,
                receipts_root: [0; 32],
                events_root: [0; 32],
                author: watt_primitives::AccountId([0; 32]),
            },
            transactions: vec![],
        };
        store
            .commit_block(&block, &[], &[], &changes, tree, true, None)
            .unwrap();
        parent = block.header.hash();
        headers.push(block.header);
    }
    headers
}

/// Commits blocks `0..count` (genesis included); returns their headers.
fn build(store: &Store, count: u64) -> Vec<Header> {
    commit_range(store, [0; 32], 0, count)
}

/// Commits blocks `from..to` on top of the store's head.
fn extend(store: &Store, from: u64, to: u64) {
    commit_range(store, store.best().unwrap().unwrap().1, from, to);
}

fn count(store: &Store, cf: &str) -> usize {
    store.db().iterator_cf(store.cf(cf), IteratorMode::Start).count()
}

#[test]
fn parse_accepts_archive_and_positive_counts_only() {
    assert_eq!(StatePruning::parse("archive"), Ok(StatePruning::Archive));
    assert_eq!(StatePruning::parse("8"), Ok(StatePruning::KeepLast(8)));
    for bad in ["0", "-1", "", "eight", "8 blocks", "1e3"] {
        assert!(StatePruning::parse(bad).is_err(), "`{bad}` was accepted");
    }
    assert_eq!(StatePruning::default(), StatePruning::KeepLast(256));
}

#[test]
fn keeps_the_last_n_versions_readable_and_provable_and_refuses_older_ones() {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path(), StatePruning::KeepLast(8)).unwrap();
    let headers = build(&store, 30);
    // Head 29, keeping 8 versions: 22..=29.
    assert_eq!(store.oldest_state(), 22);
    for n in 22..30u64 {
        assert_eq!(
            store.state_get_at(b"hot/7", n).unwrap(),
            Some(format!("7@{n}").into_bytes()),
            "value at kept version {n}"
        );
        let root = headers[n as usize].state_root;
        for key in [b"hot/3".to_vec(), format!("new/{n}").into_bytes(), b"never".to_vec()] {
            let proofs = store.prove(std::slice::from_ref(&key), n).unwrap();
            verify_proof(&root, &proofs[0]).unwrap_or_else(|e| panic!("proof at {n}: {e}"));
            assert_eq!(proofs[0].value, store.state_get_at(&key, n).unwrap());
        }
    }
    // A key created long ago and never touched again is still readable at every kept version.
    assert_eq!(store.state_get_at(b"new/2", 29).unwrap(), Some(vec![2; 40]));
    // Deleted before the horizon: absent, not resurrected from a pruned older value.
    assert_eq!(store.state_get_at(b"new/4", 25).unwrap(), None);
    for n in [0u64, 5, 21] {
        match store.state_get_at(b"hot/7", n) {
            Err(StoreError::Pruned { number, oldest, .. }) => assert_eq!((number, oldest), (n, 22)),
            other => panic!("read at pruned block {n}: {other:?}"),
        }
        let err = store.prove(&[b"hot/7".to_vec()], n).unwrap_err();
        assert!(err.to_string().contains("pruned"), "{err}");
        assert!(err.to_string().contains("#22"), "names the oldest kept block: {err}");
    }
}

#[test]
fn pruned_and_archive_stores_agree_on_every_root_and_kept_value() {
    let (a, p) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let archive = open(a.path(), StatePruning::Archive).unwrap();
    let pruned = open(p.path(), StatePruning::KeepLast(4)).unwrap();
    let ha = build(&archive, 40);
    let hp = build(&pruned, 40);
    assert_eq!(ha, hp, "pruning must never change a state root");
    for n in pruned.oldest_state()..40 {
        for key in ["hot/0", "hot/39", "new/30", "new/36", "new/37"] {
            assert_eq!(
                pruned.state_get_at(key.as_bytes(), n).unwrap(),
                archive.state_get_at(key.as_bytes(), n).unwrap(),
                "{key} at {n}"
            );
        }
    }
    // The archive still has all of history.
    assert_eq!(archive.state_get_at(b"hot/0", 0).unwrap(), Some(b"0@0".to_vec()));
    assert_eq!(archive.oldest_state(), 0);
}

#[test]
fn the_pruned_tree_stops_growing_with_the_number_of_blocks() {
    let (a, p) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let archive = open(a.path(), StatePruning::Archive).unwrap();
    let pruned = open(p.path(), StatePruning::KeepLast(4)).unwrap();
    build(&pruned, 50);
    let (nodes_50, values_50) = (count(&pruned, CF_TREE_NODES), count(&pruned, CF_TREE_VALUES));
    let pruned2 = {
        drop(pruned);
        open(p.path(), StatePruning::KeepLast(4)).unwrap()
    };
    // 50 more blocks on top (same shape of writes).
    extend(&pruned2, 50, 100);
    let (nodes_100, values_100) = (count(&pruned2, CF_TREE_NODES), count(&pruned2, CF_TREE_VALUES));
    build(&archive, 100);
    let (archive_nodes, archive_values) = (count(&archive, CF_TREE_NODES), count(&archive, CF_TREE_VALUES));
    // The hot keys are rewritten every block: the archive holds 100 versions of each, the pruned
    // store a handful. Only the one new key per block (a live key) may add to the pruned tree.
    assert!(archive_values > 4000, "archive keeps every version: {archive_values}");
    assert!(
        values_100 < 40 * 6 + 100,
        "pruned values grow with blocks: {values_50} after 50, {values_100} after 100"
    );
    assert!(
        nodes_100 * 4 < archive_nodes,
        "pruned nodes {nodes_100} vs archive {archive_nodes}"
    );
    assert!(
        nodes_100 < nodes_50 * 2,
        "pruned nodes doubled with blocks: {nodes_50} after 50, {nodes_100} after 100"
    );
    // Nothing stale is left behind beyond the kept window.
    let stale = count(&pruned2, CF_TREE_STALE);
    assert!(stale < 4 * 400, "stale index holds {stale} entries");
}

#[test]
fn the_horizon_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path(), StatePruning::KeepLast(5)).unwrap();
        build(&store, 12);
        assert_eq!(store.oldest_state(), 7);
    }
    let store = open(dir.path(), StatePruning::KeepLast(5)).unwrap();
    assert_eq!(store.oldest_state(), 7);
    assert!(matches!(
        store.state_get_at(b"hot/1", 6),
        Err(StoreError::Pruned { .. })
    ));
    assert_eq!(store.state_get_at(b"hot/1", 7).unwrap(), Some(b"1@7".to_vec()));
}

#[test]
fn pruning_modes_that_would_lie_about_history_are_refused_on_open() {
    let archive_dir = tempfile::tempdir().unwrap();
    build(&open(archive_dir.path(), StatePruning::Archive).unwrap(), 3);
    match open(archive_dir.path(), StatePruning::KeepLast(8)) {
        Err(e @ StoreError::PruningMismatch { .. }) => assert!(e.to_string().contains("archive"), "{e}"),
        Err(e) => panic!("wrong error: {e}"),
        Ok(_) => panic!("an archive database was opened with pruning"),
    }
    assert!(open(archive_dir.path(), StatePruning::Archive).is_ok());

    let pruned_dir = tempfile::tempdir().unwrap();
    build(&open(pruned_dir.path(), StatePruning::KeepLast(8)).unwrap(), 3);
    assert!(matches!(
        open(pruned_dir.path(), StatePruning::Archive),
        Err(StoreError::PruningMismatch { .. })
    ));
    // Keeping more or fewer blocks is allowed.
    let reopened = open(pruned_dir.path(), StatePruning::KeepLast(2)).unwrap();
    assert_eq!(reopened.pruning(), StatePruning::KeepLast(2));
}

#[test]
fn keeping_fewer_blocks_catches_up_a_bounded_step_per_commit() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = open(dir.path(), StatePruning::KeepLast(90)).unwrap();
        build(&store, 100);
        assert_eq!(store.oldest_state(), 10);
    }
    let store = open(dir.path(), StatePruning::KeepLast(4)).unwrap();
    // Until a block commits, nothing more is pruned.
    assert_eq!(store.state_get_at(b"hot/5", 10).unwrap(), Some(b"5@10".to_vec()));
    extend(&store, 100, 101);
    // Target 97, but one commit prunes at most 64 versions: 10 -> 74.
    assert_eq!(store.oldest_state(), 74);
    assert_eq!(store.state_get_at(b"hot/5", 74).unwrap(), Some(b"5@74".to_vec()));
    assert!(matches!(
        store.state_get_at(b"hot/5", 73),
        Err(StoreError::Pruned { .. })
    ));
    extend(&store, 101, 102);
    assert_eq!(store.oldest_state(), 98);
    for n in 98..102u64 {
        assert_eq!(
            store.state_get_at(b"hot/5", n).unwrap(),
            Some(format!("5@{n}").into_bytes())
        );
        assert_eq!(store.state_get_at(b"new/2", n).unwrap(), Some(vec![2; 40]));
    }
    // Everything stale up to the horizon is gone from the index.
    let first_stale = store
        .db()
        .iterator_cf(store.cf(CF_TREE_STALE), IteratorMode::Start)
        .next()
        .map(|e| u64::from_be_bytes(e.unwrap().0[..8].try_into().unwrap()));
    assert!(
        first_stale.is_none_or(|v| v > 98),
        "stale entry left at version {first_stale:?}"
    );
}

#[test]
fn reads_racing_commits_never_see_pruned_state() {
    // A reader hammers the oldest kept version while blocks commit and prune under it: each read
    // either returns that version's value or says it is pruned, never a wrong value.
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(open(dir.path(), StatePruning::KeepLast(2)).unwrap());
    build(&store, 5);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let (store, stop) = (store.clone(), stop.clone());
        std::thread::spawn(move || {
            let (mut ok, mut pruned) = (0u32, 0u32);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let n = store.oldest_state();
                match store.state_get_at(b"hot/9", n) {
                    Ok(v) => {
                        assert_eq!(v, Some(format!("9@{n}").into_bytes()), "wrong value at {n}");
                        ok += 1;
                    }
                    Err(StoreError::Pruned { .. }) => pruned += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            (ok, pruned)
        })
    };
    extend(&store, 5, 80);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let (ok, _) = reader.join().unwrap();
    assert!(ok > 0, "the reader never read");
}
