//! A block's events go in the same atomic batch as the block: a commit that fails before its
//! batch is written leaves neither the block nor its events, one that fails after it leaves
//! both (fail points `store::commit::before_write` / `after_write`, watt-store's `failpoints`
//! feature). Fail points are process-global: this binary's tests hold a `FailScenario` each.

use watt_primitives::economy::{EventPhase, EventRecord};
use watt_primitives::{AccountId, Block, Hash, Header};
use watt_store::{StateChanges, Store, StoreError};

fn block(number: u64, parent: Hash, root: Hash) -> Block {
    Block {
        header: Header {
            parent_hash: parent,
            number,
            state_root: root,
            tx_root: [0; 32],
            receipts_root: [0; 32],
            events_root: [0; 32],
            close_time: number * 1000,
            author: AccountId([0; 32]),
        },
        transactions: vec![],
    }
}

fn events(n: u8) -> Vec<EventRecord> {
    vec![
        EventRecord {
            phase: EventPhase::Initialization,
            event: vec![n; 3],
            topics: vec![],
        },
        EventRecord {
            phase: EventPhase::Transaction(0),
            event: vec![n, 1],
            topics: vec![[n; 32]],
        },
    ]
}

/// A store with genesis committed (no events); the genesis hash.
fn genesis(store: &Store) -> Hash {
    let c: StateChanges = [(b"k".to_vec(), Some(b"0".to_vec()))].into_iter().collect();
    let t = store.prepare_state(&c, 0).unwrap();
    let b = block(0, [0; 32], t.root);
    store.commit_block(&b, &[], &[], &c, t, true, None).unwrap();
    b.header.hash()
}

/// Commits block #1 (with `events(1)`) with `point` set to `action`: the commit's result.
fn commit_one(store: &Store, parent: Hash, point: &str, action: &str) -> (Result<(), StoreError>, Block) {
    let c: StateChanges = [(b"k".to_vec(), Some(b"1".to_vec()))].into_iter().collect();
    let t = store.prepare_state(&c, 1).unwrap();
    let b = block(1, parent, t.root);
    fail::cfg(point, action).unwrap();
    let r = store.commit_block(&b, &[], &events(1), &c, t, true, None);
    fail::remove(point);
    (r, b)
}

#[test]
fn a_commit_failing_before_its_write_leaves_no_block_and_no_events() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let g = genesis(&store);
    let (r, b) = commit_one(&store, g, "store::commit::before_write", "return(disk full)");
    assert!(matches!(r, Err(StoreError::Injected(_))), "{r:?}");
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.best().unwrap(), Some((0, g)));
    assert_eq!(store.header(&b.header.hash()).unwrap(), None);
    assert_eq!(store.events(1).unwrap(), None, "no events without their block");
    scenario.teardown();
}

#[test]
fn a_commit_failing_after_its_write_leaves_the_block_with_its_events() {
    let scenario = fail::FailScenario::setup();
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let g = genesis(&store);
    let (r, b) = commit_one(&store, g, "store::commit::after_write", "return(fsync failed)");
    assert!(matches!(r, Err(StoreError::Injected(_))), "{r:?}");
    drop(store);
    let store = Store::open(dir.path()).unwrap();
    assert_eq!(store.best().unwrap(), Some((1, b.header.hash())));
    assert_eq!(
        store.events(1).unwrap(),
        Some(events(1)),
        "the block's events landed with it"
    );
    scenario.teardown();
}
