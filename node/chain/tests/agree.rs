//! The seam SCP uses: verdicts on proposed transaction sets, and applying an agreed value
//! (the set whole, in order, every fee charged before any call runs) the same way on every
//! node.

use watt_chain::test_utils::{dev_spec, keyring, open_dev_chain, transfer, value_on_head};
use watt_chain::{Chain, ChainConfig, ChainError};
use watt_primitives::abi::{Query, QueryResult, TxSetError};
use watt_primitives::{AccountId, Balance, ConsensusValue, TxError, TxOutcome, TxSet, UNIT};

fn free(chain: &Chain, who: &AccountId) -> Balance {
    match chain.query(&Query::Account(*who)).unwrap() {
        QueryResult::Account(a) => a.free,
        other => panic!("unexpected {other:?}"),
    }
}

/// The value agreed for `set` on `chain`'s head, `after_ms` after it: Bob proposed it.
fn value_for(chain: &Chain, set: &TxSet, after_ms: u64) -> ConsensusValue {
    value_on_head(chain, set, after_ms, keyring()[1].account())
}

/// An agreed set applies whole and in order with every fee charged before any call runs:
/// a transfer written to drain its sender as if the later transaction's fee were still there
/// fails (that fee was taken first) but pays its own; the later transfer runs. Another node
/// importing the block computes the same block, receipts and events.
#[test]
fn an_agreed_set_applies_whole_charging_every_fee_first_the_same_way_on_import() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let (charlie, dave) = (&keys[2], keys[3].account());
    let g = chain.genesis_hash();
    let start = free(&chain, &charlie.account());
    // Leaves 0.02 WATT, enough for its own fee (about 0.012 WATT) but not for the second
    // transfer's fee as well, which pass 1 takes before this call runs.
    let drain = transfer(g, charlie, dave, start - 2 * UNIT / 100, 0, 0);
    let after = transfer(g, charlie, dave, UNIT, 1, 0);
    let set = TxSet {
        transactions: vec![drain.clone(), after.clone()],
    };
    let parent = chain.best().1;
    assert_eq!(
        chain.validate_tx_set(&parent, &set).unwrap(),
        Ok(()),
        "valid against the parent"
    );
    let dave_before = free(&chain, &dave);
    let value = value_for(&chain, &set, 1_000);
    let imported = chain.apply_agreed(&value, &set, Some(b"certificate".to_vec())).unwrap();

    assert!(value.matches(&imported.header), "the block is the agreed value's");
    assert_eq!(imported.header.tx_root, set.hash());
    assert_eq!(imported.header.author, keys[1].account(), "authored by the proposer");
    assert_eq!(
        imported.tx_hashes,
        vec![drain.hash(), after.hash()],
        "the whole set, in order"
    );
    assert_eq!(chain.justification(1).unwrap().as_deref(), Some(&b"certificate"[..]));
    assert_eq!(chain.finalized().unwrap(), (1, imported.hash));
    let failed = chain.receipt(&drain.hash()).unwrap().unwrap();
    assert!(matches!(failed.outcome, TxOutcome::Failed(_)), "{:?}", failed.outcome);
    let ok = chain.receipt(&after.hash()).unwrap().unwrap();
    assert_eq!(ok.outcome, TxOutcome::Success);
    assert!(
        failed.fee_paid > UNIT / 100 && ok.fee_paid > UNIT / 100,
        "both paid a fee"
    );
    assert_eq!(
        free(&chain, &charlie.account()),
        start - failed.fee_paid - ok.fee_paid - UNIT,
        "both fees and the second transfer taken, nothing of the failed one"
    );
    assert_eq!(free(&chain, &dave), dave_before + UNIT);

    // Another node re-executes the same block to the same hash.
    let other_dir = tempfile::tempdir().unwrap();
    let other = open_dev_chain(other_dir.path());
    let block = chain.block(&imported.hash).unwrap().unwrap();
    let again = other.import_block(block, true, Some(b"certificate")).unwrap();
    assert_eq!(again.hash, imported.hash);
    assert_eq!(again.header.author, keys[1].account());
    assert_eq!(other.receipt(&drain.hash()).unwrap(), Some(failed));
    assert_eq!(other.receipt(&after.hash()).unwrap(), Some(ok));
    assert_eq!(other.events(1).unwrap(), chain.events(1).unwrap(), "the same events");
}

/// The events stored with an agreed block are the ones its header commits, with transaction
/// phases naming positions in the block.
#[test]
fn an_agreed_block_stores_the_events_its_header_commits() {
    use watt_primitives::economy::EventPhase;
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let g = chain.genesis_hash();
    let set = TxSet {
        transactions: vec![
            transfer(g, &keys[0], keys[1].account(), UNIT, 0, 0),
            transfer(g, &keys[2], keys[3].account(), 2 * UNIT, 0, 0),
        ],
    };
    let value = value_for(&chain, &set, 1_000);
    let imported = chain.apply_agreed(&value, &set, None).unwrap();
    let events = chain.events(1).unwrap().expect("events stored with block #1");
    assert_eq!(imported.header.events_root, watt_primitives::events_root(&events));
    for e in &events {
        if let EventPhase::Transaction(i) = e.phase {
            assert!((i as usize) < set.transactions.len(), "{e:?}");
        }
    }
    assert_eq!(chain.events(0).unwrap(), Some(vec![]), "genesis has no events");
    assert_eq!(chain.events(2).unwrap(), None, "no block #2");
}

#[test]
fn set_verdicts_refuse_nonce_gaps_replays_unpayable_fees_and_oversized_sets() {
    let dir = tempfile::tempdir().unwrap();
    // The size limit is the chain's (see tests/block_limits.rs for its independence from the
    // node's own caps).
    let mut spec = dev_spec();
    spec.genesis.params.max_block_transactions = 3;
    let chain = Chain::open(dir.path(), &spec, ChainConfig::default()).unwrap();
    let keys = keyring();
    let g = chain.genesis_hash();
    let (alice, bob) = (&keys[0], keys[1].account());
    let head = chain.best().1;
    let verdict = |txs: Vec<watt_primitives::SignedTransaction>| {
        chain.validate_tx_set(&head, &TxSet { transactions: txs }).unwrap()
    };
    assert_eq!(
        verdict(vec![transfer(g, alice, bob, UNIT, 1, 0)]),
        Err(TxSetError::Transaction {
            index: 0,
            error: TxError::FutureNonce { expected: 0, got: 1 }
        })
    );
    assert_eq!(
        verdict(vec![
            transfer(g, alice, bob, UNIT, 0, 0),
            transfer(g, alice, bob, 2 * UNIT, 0, 0)
        ]),
        Err(TxSetError::Transaction {
            index: 1,
            error: TxError::StaleNonce { expected: 1, got: 0 }
        })
    );
    let mut forged = transfer(g, alice, bob, UNIT, 0, 0);
    forged.signature[5] ^= 1;
    assert_eq!(
        verdict(vec![forged]),
        Err(TxSetError::Transaction {
            index: 0,
            error: TxError::BadSignature
        })
    );
    // Fees are payable one by one but not together: a tip that takes nearly all of Bob's
    // balance, then a second transaction.
    let bob_key = &keys[1];
    let bob_free = free(&chain, &bob);
    let greedy = transfer(g, bob_key, alice.account(), UNIT, 0, bob_free - 2 * UNIT / 100);
    let second = transfer(g, bob_key, alice.account(), UNIT, 1, 0);
    match verdict(vec![greedy, second]) {
        Err(TxSetError::Transaction {
            index: 1,
            error: TxError::CannotPayFee { fee, free },
        }) => assert!(fee > free && free == bob_free, "fee {fee}, free {free}"),
        other => panic!("expected the second fee to be unpayable, got {other:?}"),
    }
    let four: Vec<_> = (0..4).map(|n| transfer(g, alice, bob, UNIT, n, 0)).collect();
    assert_eq!(
        verdict(four.clone()),
        Err(TxSetError::TooManyTransactions { count: 4, max: 3 })
    );
    assert_eq!(verdict(four[..3].to_vec()), Ok(()));
    assert!(matches!(
        chain.validate_tx_set(&[9; 32], &TxSet::default()),
        Err(ChainError::NotOnHead { .. })
    ));
}

#[test]
fn agreed_values_off_the_head_not_after_the_parent_or_naming_another_set_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let g = chain.genesis_hash();
    let set = TxSet {
        transactions: vec![transfer(g, &keys[0], keys[1].account(), UNIT, 0, 0)],
    };
    let good = value_for(&chain, &set, 1_000);
    let before = chain.best();
    let off_head = ConsensusValue {
        parent_hash: [7; 32],
        ..good.clone()
    };
    assert!(matches!(
        chain.apply_agreed(&off_head, &set, None),
        Err(ChainError::NotOnHead { .. })
    ));
    let same_time = ConsensusValue {
        close_time: chain.best_header().close_time,
        ..good.clone()
    };
    assert!(
        matches!(chain.apply_agreed(&same_time, &set, None), Err(ChainError::InvalidBlock(m)) if m.contains("close time"))
    );
    let other_set = ConsensusValue {
        tx_set_hash: [1; 32],
        ..good.clone()
    };
    assert!(
        matches!(chain.apply_agreed(&other_set, &set, None), Err(ChainError::InvalidBlock(m)) if m.contains("transaction set"))
    );
    assert_eq!(chain.best(), before, "refusals write nothing");
    assert_eq!(chain.apply_agreed(&good, &set, None).unwrap().header.number, 1);
}
