//! Transactions from peers are admitted in batches whose signatures are checked together
//! (`Chain::submit_batch_from_peer`, used by the SCP engine's intake): every transaction gets
//! the verdict admitting it alone would give, whatever else is in its batch, and a bad
//! signature in a batch neither passes nor lets a good one fail.

use parity_scale_codec::Encode;
use watt_chain::test_utils::{keyring, open_dev_chain, transfer};
use watt_chain::SubmitError;
use watt_primitives::{TxError, UNIT};
use watt_txpool::PoolError;

#[test]
fn a_batch_from_peers_gets_the_verdicts_of_single_admission_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let g = chain.genesis_hash();
    let good: Vec<_> = (0..3)
        .map(|i| transfer(g, &keys[i], keys[(i + 1) % 4].account(), UNIT, 0, 0))
        .collect();
    // Dave's transfer with a byte of its signature flipped.
    let mut forged = transfer(g, &keys[3], keys[0].account(), UNIT, 0, 0);
    forged.signature[5] ^= 1;
    let batch = vec![
        good[0].encode(),
        forged.encode(),
        good[1].encode(),
        vec![0xde, 0xad],
        good[2].encode(),
        // Alice's again: already pooled.
        good[0].encode(),
    ];
    let results = chain.submit_batch_from_peer(&batch);
    assert_eq!(results.len(), batch.len(), "one result per transaction");
    assert_eq!(results[0].as_ref().unwrap(), &good[0].hash());
    assert!(
        matches!(
            results[1],
            Err(SubmitError::Pool(PoolError::Invalid(TxError::BadSignature)))
        ),
        "{:?}",
        results[1]
    );
    assert_eq!(results[2].as_ref().unwrap(), &good[1].hash());
    assert!(
        matches!(
            results[3],
            Err(SubmitError::Pool(PoolError::Invalid(TxError::BadEncoding)))
        ),
        "{:?}",
        results[3]
    );
    assert_eq!(results[4].as_ref().unwrap(), &good[2].hash());
    assert!(results[5].is_err(), "a duplicate is not pooled twice: {:?}", results[5]);
    assert_eq!(chain.pool_size().0, 3, "exactly the three good transfers wait");
    for stx in &good {
        assert!(chain.pending().iter().any(|p| p.hash == stx.hash()));
    }
}

#[test]
fn a_batch_of_valid_transactions_is_pooled_whole() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let g = chain.genesis_hash();
    // Out of nonce order, as gossip may deliver them: the later ones wait as future until
    // the first arrives later in the same batch.
    let txs: Vec<_> = (0..20u64)
        .rev()
        .map(|n| transfer(g, &keys[0], keys[1].account(), UNIT, n, 0))
        .collect();
    let batch: Vec<Vec<u8>> = txs.iter().map(|t| t.encode()).collect();
    let results = chain.submit_batch_from_peer(&batch);
    for (tx, r) in txs.iter().zip(&results) {
        assert_eq!(r.as_ref().unwrap(), &tx.hash(), "nonce {}", tx.tx.nonce);
    }
    assert_eq!(chain.pool_size().0, 20);
    assert!(chain.has_pending(), "the gap filled: the transfers are ready");
}

/// The runtime's batch check (`Chain::validate_batch`, one call for a gossiped batch) gives
/// each transaction exactly the verdict `Chain::validate` gives it alone, for every kind of
/// transaction a peer can send: valid, a nonce behind or far ahead, unfunded, forged,
/// undecodable, for another chain.
#[test]
fn the_batch_check_gives_each_transaction_its_single_verdict() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let g = chain.genesis_hash();
    // Two blocks' worth of Alice's nonces used, so nonce 0 is stale.
    for n in 0..2 {
        chain
            .submit(&transfer(g, &keys[0], keys[1].account(), UNIT, n, 0).encode())
            .unwrap();
    }
    chain
        .produce_block(1_000, true, false)
        .unwrap()
        .expect("a block of the two transfers");
    let (unfunded, _) = watt_client::Keypair::generate();
    let mut forged = transfer(g, &keys[2], keys[0].account(), UNIT, 0, 0);
    forged.signature[0] ^= 0x80;
    let batch: Vec<Vec<u8>> = vec![
        transfer(g, &keys[0], keys[1].account(), UNIT, 2, 0).encode(),
        transfer(g, &keys[0], keys[1].account(), UNIT, 0, 0).encode(),
        transfer(g, &keys[1], keys[0].account(), UNIT, 500, 0).encode(),
        transfer(g, &unfunded, keys[0].account(), UNIT, 0, 0).encode(),
        forged.encode(),
        vec![],
        vec![0xff; 300],
        transfer([7; 32], &keys[3], keys[0].account(), UNIT, 0, 0).encode(),
        transfer(g, &keys[3], keys[0].account(), u128::MAX, 0, 0).encode(),
    ];
    let together = chain
        .validate_batch(&batch)
        .unwrap()
        .expect("the dev runtime has the batch entry");
    assert_eq!(together.len(), batch.len());
    for (i, (tx, verdict)) in batch.iter().zip(&together).enumerate() {
        assert_eq!(verdict, &chain.validate(tx).unwrap(), "transaction {i}");
    }
    // Not all alike: the batch holds valid and invalid transactions.
    assert!(together[0].is_ok() && together[2].is_ok(), "{together:?}");
    assert!(
        together[1].is_err() && together[4].is_err() && together[5].is_err(),
        "{together:?}"
    );
}
