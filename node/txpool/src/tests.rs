use super::*;
use parity_scale_codec::Encode;

fn tx(who: u8, nonce: u64, tip: Balance) -> (SignedTransaction, ValidTransaction) {
    tx_at(who, nonce, tip, 0)
}

fn tx_at(who: u8, nonce: u64, tip: Balance, state_nonce: u64) -> (SignedTransaction, ValidTransaction) {
    let stx = SignedTransaction {
        tx: watt_primitives::Transaction {
            signer: AccountId([who; 32]),
            nonce,
            tip,
            genesis: [0; 32],
            call: vec![],
        },
        signature: [0; 64],
    };
    let v = ValidTransaction {
        hash: stx.hash(),
        signer: stx.tx.signer,
        nonce,
        state_nonce,
        fee: 100 + tip,
        tip,
        len: stx.encoded_size() as u32,
    };
    (stx, v)
}

fn submit(p: &mut TxPool, (t, v): (SignedTransaction, ValidTransaction)) -> Result<Option<Hash>, PoolError> {
    p.submit(t, v)
}

#[test]
fn orders_by_fee_but_keeps_sender_nonce_order() {
    let mut p = TxPool::new(PoolConfig::default());
    submit(&mut p, tx(1, 0, 1)).unwrap();
    submit(&mut p, tx(1, 1, 50)).unwrap();
    submit(&mut p, tx(2, 0, 10)).unwrap();
    let order: Vec<(u8, u64)> = p
        .ready(10, usize::MAX)
        .iter()
        .map(|t| (t.tx.tx.signer.0[0], t.tx.tx.nonce))
        .collect();
    // Sender 2 pays more than sender 1's first; sender 1's nonce 1 waits for nonce 0.
    assert_eq!(order, vec![(2, 0), (1, 0), (1, 1)]);
    assert_eq!(p.ready(2, usize::MAX).len(), 2);
}

#[test]
fn refuses_duplicates_gaps_and_cheap_replacements() {
    let mut p = TxPool::new(PoolConfig::default());
    submit(&mut p, tx(1, 0, 5)).unwrap();
    assert_eq!(submit(&mut p, tx(1, 0, 5)), Err(PoolError::AlreadyImported));
    assert_eq!(
        submit(&mut p, tx(1, 0, 4)),
        Err(PoolError::TipTooLow { pending_tip: 5 })
    );
    assert_eq!(
        submit(&mut p, tx(1, 2, 0)),
        Err(PoolError::Invalid(TxError::FutureNonce { expected: 1, got: 2 }))
    );
    assert_eq!(
        submit(&mut p, tx_at(3, 7, 0, 5)),
        Err(PoolError::Invalid(TxError::FutureNonce { expected: 5, got: 7 }))
    );
    assert_eq!(p.len(), 1);
}

#[test]
fn higher_tip_replaces() {
    let mut p = TxPool::new(PoolConfig::default());
    let first = tx(1, 0, 5);
    let first_hash = first.1.hash;
    submit(&mut p, first).unwrap();
    let replaced = submit(&mut p, tx(1, 0, 6)).unwrap();
    assert_eq!(replaced, Some(first_hash));
    assert_eq!(p.len(), 1);
    assert!(!p.contains(&first_hash));
    assert_eq!(p.ready(10, usize::MAX)[0].tip, 6);
}

#[test]
fn bounded_by_count_and_bytes() {
    let one = tx(1, 0, 0).1.len as usize;
    let mut p = TxPool::new(PoolConfig {
        max_count: 2,
        max_bytes: usize::MAX,
    });
    submit(&mut p, tx(1, 0, 0)).unwrap();
    submit(&mut p, tx(2, 0, 0)).unwrap();
    assert!(matches!(
        submit(&mut p, tx(3, 0, 0)),
        Err(PoolError::Full { count: 2, .. })
    ));
    let mut p = TxPool::new(PoolConfig {
        max_count: 100,
        max_bytes: one * 2,
    });
    submit(&mut p, tx(1, 0, 0)).unwrap();
    submit(&mut p, tx(2, 0, 0)).unwrap();
    assert!(matches!(submit(&mut p, tx(3, 0, 0)), Err(PoolError::Full { .. })));
    assert_eq!(p.bytes(), one * 2);
    assert_eq!(p.ready(10, one).len(), 1, "block byte limit respected");
}

#[test]
fn prune_and_remove_invalid_keep_chains_gap_free() {
    let mut p = TxPool::new(PoolConfig::default());
    for n in 0..4 {
        submit(&mut p, tx(1, n, 0)).unwrap();
    }
    let bad = tx(1, 2, 0).1.hash;
    submit(&mut p, tx(2, 0, 0)).unwrap();
    assert_eq!(p.prune(&[(AccountId([1; 32]), 2)]).len(), 2);
    assert_eq!(p.len(), 3);
    assert_eq!(p.remove_invalid(&bad).len(), 2, "nonce 2 and its follower 3");
    assert_eq!(p.len(), 1);
    assert_eq!(p.bytes(), tx(2, 0, 0).1.len as usize);
    assert_eq!(p.next_nonce(&AccountId([1; 32])), None);
    assert_eq!(p.next_nonce(&AccountId([2; 32])), Some(1));
    // The sender can start again from its state nonce.
    submit(&mut p, tx_at(1, 2, 0, 2)).unwrap();
}
