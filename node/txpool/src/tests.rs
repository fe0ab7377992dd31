use super::*;
use parity_scale_codec::Encode;
use proptest::prelude::*;
use std::collections::HashSet;
use std::sync::OnceLock;

/// A fixed origin for the pool's clock, so times in tests are plain offsets.
fn at(ms: u64) -> Instant {
    static T0: OnceLock<Instant> = OnceLock::new();
    *T0.get_or_init(Instant::now) + Duration::from_millis(ms)
}

/// What the runtime would report for a transaction; every field can be set.
#[derive(Clone, Copy)]
struct Spec {
    who: u8,
    nonce: u64,
    tip: Balance,
    state_nonce: u64,
    /// Extra call bytes, to make the transaction longer.
    padding: usize,
    free: Balance,
}

fn spec(who: u8, nonce: u64, tip: Balance) -> Spec {
    Spec {
        who,
        nonce,
        tip,
        state_nonce: 0,
        padding: 0,
        free: Balance::MAX / 2,
    }
}

/// Fee is 100 + tip, as a flat base fee would make it.
fn make(s: Spec) -> (SignedTransaction, ValidTransaction) {
    let stx = SignedTransaction {
        tx: watt_primitives::Transaction {
            signer: AccountId([s.who; 32]),
            nonce: s.nonce,
            tip: s.tip,
            genesis: [0; 32],
            call: vec![7; s.padding],
        },
        signature: [0; 64],
    };
    let v = ValidTransaction {
        hash: stx.hash(),
        signer: stx.tx.signer,
        nonce: s.nonce,
        state_nonce: s.state_nonce,
        fee: 100 + s.tip,
        tip: s.tip,
        len: stx.encoded_size() as u32,
        sender_free: s.free,
    };
    (stx, v)
}

fn tx(who: u8, nonce: u64, tip: Balance) -> (SignedTransaction, ValidTransaction) {
    make(spec(who, nonce, tip))
}

fn tx_at(who: u8, nonce: u64, tip: Balance, state_nonce: u64) -> (SignedTransaction, ValidTransaction) {
    make(Spec {
        state_nonce,
        ..spec(who, nonce, tip)
    })
}

fn hash_of(t: &(SignedTransaction, ValidTransaction)) -> Hash {
    t.1.hash
}

fn submit(p: &mut TxPool, (t, v): (SignedTransaction, ValidTransaction)) -> Result<Submitted, PoolError> {
    p.submit(t, v, at(0))
}

fn acct(who: u8) -> AccountId {
    AccountId([who; 32])
}

fn config(max_count: usize, max_bytes: usize) -> PoolConfig {
    PoolConfig {
        max_count,
        max_bytes,
        ..PoolConfig::default()
    }
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
    let out = submit(&mut p, tx(1, 0, 6)).unwrap();
    assert_eq!(
        out,
        Submitted {
            replaced: Some(first_hash),
            evicted: vec![]
        }
    );
    assert_eq!(p.len(), 1);
    assert!(!p.contains(&first_hash));
    assert_eq!(p.ready(10, usize::MAX)[0].tip, 6);
}

#[test]
fn bounded_by_count_and_bytes() {
    let one = tx(1, 0, 0).1.len as usize;
    let mut p = TxPool::new(config(2, usize::MAX));
    submit(&mut p, tx(1, 0, 0)).unwrap();
    submit(&mut p, tx(2, 0, 0)).unwrap();
    // Same fee as everything pending: nothing is cheaper, so nothing is evicted.
    assert_eq!(
        submit(&mut p, tx(3, 0, 0)),
        Err(PoolError::Full {
            count: 2,
            bytes: 2 * one,
            fee: 100
        })
    );
    let mut p = TxPool::new(config(100, one * 2));
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
    assert_eq!(p.prune(&[(acct(1), 2)]).len(), 2);
    assert_eq!(p.len(), 3);
    assert_eq!(p.remove_invalid(&bad).len(), 2, "nonce 2 and its follower 3");
    assert_eq!(p.len(), 1);
    assert_eq!(p.bytes(), tx(2, 0, 0).1.len as usize);
    assert_eq!(p.next_nonce(&acct(1)), None);
    assert_eq!(p.next_nonce(&acct(2)), Some(1));
    // The sender can start again from its state nonce.
    submit(&mut p, tx_at(1, 2, 0, 2)).unwrap();
    check_invariants(&p);
}

#[test]
fn per_sender_cap_refuses_the_next_nonce_but_not_a_replacement() {
    let mut p = TxPool::new(PoolConfig {
        max_per_sender: 3,
        ..PoolConfig::default()
    });
    for n in 0..3 {
        submit(&mut p, tx(1, n, 0)).unwrap();
    }
    assert_eq!(
        submit(&mut p, tx(1, 3, 0)),
        Err(PoolError::SenderLimit { pending: 3, limit: 3 })
    );
    // A replacement does not add to the sender's count.
    assert!(submit(&mut p, tx(1, 2, 9)).unwrap().replaced.is_some());
    // Other senders are not affected.
    submit(&mut p, tx(2, 0, 0)).unwrap();
    // Once a block includes some, the sender has room again.
    p.prune(&[(acct(1), 1)]);
    submit(&mut p, tx_at(1, 3, 0, 1)).unwrap();
    assert_eq!(p.next_nonce(&acct(1)), Some(4));
    check_invariants(&p);
}

#[test]
fn full_pool_evicts_the_cheapest_tail_never_a_chain_middle() {
    let mut p = TxPool::new(config(3, usize::MAX));
    let a0 = tx(1, 0, 0); // fee 100: the cheapest, but sender 1's nonce 1 depends on it
    let a1 = tx(1, 1, 90); // fee 190
    let b0 = tx(2, 0, 50); // fee 150
    let (a0h, a1h, b0h) = (hash_of(&a0), hash_of(&a1), hash_of(&b0));
    submit(&mut p, a0).unwrap();
    submit(&mut p, a1).unwrap();
    submit(&mut p, b0).unwrap();

    // Fee 160: the cheapest tail is b0 (150); a0 is cheaper but not a tail.
    let c0 = tx(3, 0, 60);
    let c0h = hash_of(&c0);
    let out = submit(&mut p, c0).unwrap();
    assert_eq!(out.evicted, vec![b0h]);
    assert!(p.contains(&a0h) && p.contains(&a1h) && p.contains(&c0h) && !p.contains(&b0h));

    // Fee 195: tails are a1 (190) and c0 (160); c0 goes.
    let out = submit(&mut p, tx(4, 0, 95)).unwrap();
    assert_eq!(out.evicted, vec![c0h]);

    // Fee 100: nothing evictable pays less (tails a1 190, d0 195), so it is refused and
    // nothing changes.
    let before: HashSet<Hash> = p.pending().iter().map(|t| t.hash).collect();
    assert!(matches!(
        submit(&mut p, tx(5, 0, 0)),
        Err(PoolError::Full { count: 3, .. })
    ));
    let after: HashSet<Hash> = p.pending().iter().map(|t| t.hash).collect();
    assert_eq!(before, after);

    // A tail paying exactly the new fee is not evicted either: strictly more is needed.
    assert!(matches!(submit(&mut p, tx(5, 0, 90)), Err(PoolError::Full { .. })));
    check_invariants(&p);
}

#[test]
fn eviction_takes_a_chain_from_its_end_when_several_are_needed() {
    let one = tx(1, 0, 0).1.len as usize;
    let mut p = TxPool::new(config(100, 3 * one));
    let a0 = tx(1, 0, 10); // fee 110
    let a1 = tx(1, 1, 20); // fee 120
    let b0 = tx(2, 0, 30); // fee 130
    let (a0h, a1h, b0h) = (hash_of(&a0), hash_of(&a1), hash_of(&b0));
    submit(&mut p, a0).unwrap();
    submit(&mut p, a1).unwrap();
    submit(&mut p, b0).unwrap();
    // About two transactions' worth of bytes: two must go. a1 is the cheapest tail; once it is
    // planned, a0 becomes sender 1's tail and is cheaper than b0.
    let big = make(Spec {
        padding: one / 2,
        ..spec(3, 0, 100)
    });
    assert!(big.1.len as usize > one && (big.1.len as usize) <= 2 * one);
    let out = submit(&mut p, big).unwrap();
    assert_eq!(out.evicted, vec![a1h, a0h]);
    assert!(p.contains(&b0h));
    assert!(p.bytes() <= 3 * one);
    assert_eq!(p.next_nonce(&acct(1)), None, "sender 1 has no gap: it has nothing");
    check_invariants(&p);
}

#[test]
fn eviction_never_takes_from_the_submitters_own_chain() {
    let mut p = TxPool::new(config(2, usize::MAX));
    submit(&mut p, tx(1, 0, 0)).unwrap();
    submit(&mut p, tx(1, 1, 0)).unwrap();
    // Evicting sender 1's nonce 1 would leave nonce 2 with a gap before it.
    assert!(matches!(submit(&mut p, tx(1, 2, 500)), Err(PoolError::Full { .. })));
    // Another sender's cheaper tail is fair game.
    let mut p = TxPool::new(config(2, usize::MAX));
    submit(&mut p, tx(1, 0, 0)).unwrap();
    let b0 = tx(2, 0, 0);
    let b0h = hash_of(&b0);
    submit(&mut p, b0).unwrap();
    assert_eq!(submit(&mut p, tx(1, 1, 50)).unwrap().evicted, vec![b0h]);
    assert_eq!(p.next_nonce(&acct(1)), Some(2));
    check_invariants(&p);
}

#[test]
fn equal_fees_evict_the_newest_first() {
    let mut p = TxPool::new(config(2, usize::MAX));
    let old = tx(1, 0, 0);
    let new = tx(2, 0, 0);
    let (oldh, newh) = (hash_of(&old), hash_of(&new));
    p.submit(old.0, old.1, at(0)).unwrap();
    p.submit(new.0, new.1, at(5)).unwrap();
    let out = submit(&mut p, tx(3, 0, 1)).unwrap();
    assert_eq!(out.evicted, vec![newh], "the earlier arrival keeps its place");
    assert!(p.contains(&oldh));
}

#[test]
fn cumulative_fees_of_a_sender_must_fit_its_balance() {
    let mut p = TxPool::new(PoolConfig::default());
    let with_free = |nonce, tip, free| {
        make(Spec {
            free,
            ..spec(1, nonce, tip)
        })
    };
    // Each transaction alone is payable from 350; three together need 300.
    for n in 0..3 {
        submit(&mut p, with_free(n, 0, 350)).unwrap();
    }
    assert_eq!(
        submit(&mut p, with_free(3, 0, 350)),
        Err(PoolError::ChainUnpayable {
            pending_fees: 300,
            fee: 100,
            free: 350
        })
    );
    // A replacement counts instead of the one it replaces: 200 + 150 fits exactly ...
    assert!(submit(&mut p, with_free(2, 50, 350)).unwrap().replaced.is_some());
    // ... 200 + 151 does not.
    assert_eq!(
        submit(&mut p, with_free(2, 51, 350)),
        Err(PoolError::ChainUnpayable {
            pending_fees: 200,
            fee: 151,
            free: 350
        })
    );
    // The balance reported now is what counts (the sender received funds).
    submit(&mut p, with_free(3, 0, 450)).unwrap();
    // Other senders have their own budget.
    submit(
        &mut p,
        make(Spec {
            free: 100,
            ..spec(2, 0, 0)
        }),
    )
    .unwrap();
    assert_eq!(p.len(), 5);
}

#[test]
fn transactions_expire_with_their_followers() {
    let mut p = TxPool::new(PoolConfig {
        lifetime: Duration::from_secs(10),
        ..PoolConfig::default()
    });
    let a0 = tx(1, 0, 0);
    let a1 = tx(1, 1, 0);
    let b0 = tx(2, 0, 0);
    let (a0h, a1h, b0h) = (hash_of(&a0), hash_of(&a1), hash_of(&b0));
    p.submit(a0.0, a0.1, at(0)).unwrap();
    p.submit(a1.0, a1.1, at(5_000)).unwrap();
    p.submit(b0.0, b0.1, at(8_000)).unwrap();
    assert_eq!(p.expire(at(9_999)), vec![]);
    assert_eq!(
        p.expire(at(10_000)),
        vec![(a0h, DropReason::Expired), (a1h, DropReason::EarlierNonceExpired)]
    );
    assert_eq!(p.len(), 1);
    assert_eq!(p.next_nonce(&acct(1)), None);
    check_invariants(&p);
    assert_eq!(p.expire(at(18_000)), vec![(b0h, DropReason::Expired)]);
    assert!(p.is_empty());
    assert_eq!(p.bytes(), 0);
}

#[test]
fn a_replacement_starts_a_new_lifetime() {
    let mut p = TxPool::new(PoolConfig {
        lifetime: Duration::from_secs(10),
        ..PoolConfig::default()
    });
    let (t, v) = tx(1, 0, 0);
    p.submit(t, v, at(0)).unwrap();
    let (t, v) = tx(1, 0, 1);
    let h = v.hash;
    p.submit(t, v, at(6_000)).unwrap();
    assert_eq!(p.expire(at(12_000)), vec![]);
    assert_eq!(p.expire(at(16_000)), vec![(h, DropReason::Expired)]);
}

#[test]
fn a_clock_going_backwards_cannot_expire_early() {
    let mut p = TxPool::new(PoolConfig {
        lifetime: Duration::from_secs(10),
        ..PoolConfig::default()
    });
    let (t, v) = tx(1, 0, 0);
    p.submit(t, v, at(5_000)).unwrap();
    // A caller that read its clock earlier but reached the pool later.
    let (t, v) = tx(2, 0, 0);
    p.submit(t, v, at(1_000)).unwrap();
    assert_eq!(p.expire(at(12_000)), vec![], "both count as arrived at 5 s");
    assert_eq!(p.expire(at(15_000)).len(), 2);
}

/// Checks every internal index against the chains, and the pool's bounds.
fn check_invariants(p: &TxPool) {
    let c = &p.config;
    assert!(p.len() <= c.max_count, "count bound");
    assert!(p.bytes() <= c.max_bytes, "byte bound");
    let mut total = 0;
    let mut bytes = 0;
    let mut tails = BTreeSet::new();
    let mut seqs = BTreeMap::new();
    for (who, chain) in &p.senders {
        assert!(!chain.is_empty(), "no empty chain is kept");
        assert!(chain.len() <= c.max_per_sender, "per-sender bound");
        let first = *chain.keys().next().unwrap();
        for (i, (n, t)) in chain.iter().enumerate() {
            assert_eq!(*n, first + i as u64, "nonces are contiguous");
            assert_eq!(t.tx.tx.nonce, *n);
            assert_eq!(p.by_hash.get(&t.hash), Some(&(*who, *n)));
            seqs.insert(t.seq, (*who, *n));
            bytes += t.len;
            total += 1;
        }
        let (_, last) = chain.iter().next_back().unwrap();
        tails.insert(tail_key(*who, last));
    }
    assert_eq!(p.by_hash.len(), total);
    assert_eq!(p.bytes, bytes, "byte counter equals the sum of lengths");
    assert_eq!(p.tails, tails, "eviction candidates are exactly the chain ends");
    assert_eq!(p.by_age, seqs, "age index covers exactly the pending transactions");
}

#[derive(Clone, Debug)]
enum Op {
    /// Sender's next nonce (or, with `replace`, one of its pending nonces), this tip.
    Submit {
        who: u8,
        tip: Balance,
        padding: usize,
        replace: Option<usize>,
    },
    /// A nonce past the sender's next: must be refused.
    Gap { who: u8 },
    /// A block included `k` of the sender's transactions.
    Include { who: u8, k: u64 },
    /// Block building found one of the sender's transactions invalid.
    Invalid { who: u8, idx: usize },
    /// Time passes, then expired transactions are dropped.
    Expire { ms: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..5, 0u128..60, 0usize..80, proptest::option::weighted(0.2, 0usize..8))
            .prop_map(|(who, tip, padding, replace)| Op::Submit { who, tip, padding, replace }),
        1 => (0u8..5).prop_map(|who| Op::Gap { who }),
        2 => (0u8..5, 0u64..4).prop_map(|(who, k)| Op::Include { who, k }),
        1 => (0u8..5, 0usize..8).prop_map(|(who, idx)| Op::Invalid { who, idx }),
        2 => (0u64..700).prop_map(|ms| Op::Expire { ms }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random submissions, inclusions, invalidations and expiries never break the bounds, the
    /// chains' contiguity from the state nonce, the fee budget, or the index bookkeeping.
    #[test]
    fn random_operations_keep_the_pool_invariants(ops in proptest::collection::vec(op(), 1..120)) {
        let one = tx(0, 0, 0).1.len as usize;
        let cfg = PoolConfig {
            max_count: 7,
            max_bytes: 9 * one,
            max_per_sender: 3,
            lifetime: Duration::from_millis(1000),
        };
        let mut p = TxPool::new(cfg.clone());
        // Per sender: state nonce (the model of the chain) and a fixed free balance, small
        // enough for the fee budget to bite (sender 0 can pay only two cheap transactions).
        let mut base = [0u64; 5];
        let free: [Balance; 5] = [250, 400, 10_000, 10_000, 10_000];
        let mut now = 0u64;
        for op in ops {
            match op {
                Op::Submit { who, tip, padding, replace } => {
                    let w = who as usize;
                    let next = p.next_nonce(&acct(who)).unwrap_or(base[w]);
                    let nonce = match replace {
                        Some(i) if next > base[w] => base[w] + (i as u64 % (next - base[w])),
                        _ => next,
                    };
                    let t = make(Spec { who, nonce, tip, state_nonce: base[w], padding, free: free[w] });
                    let h = hash_of(&t);
                    let (len, bytes) = (p.len(), p.bytes());
                    now += 1;
                    match p.submit(t.0, t.1, at(now)) {
                        Ok(out) => {
                            prop_assert!(p.contains(&h));
                            for e in &out.evicted {
                                prop_assert!(!p.contains(e));
                            }
                            if let Some(r) = out.replaced {
                                prop_assert!(!p.contains(&r));
                            }
                        }
                        Err(PoolError::Full { .. }) | Err(PoolError::SenderLimit { .. })
                        | Err(PoolError::ChainUnpayable { .. }) | Err(PoolError::TipTooLow { .. })
                        | Err(PoolError::AlreadyImported) => {
                            prop_assert_eq!((p.len(), p.bytes()), (len, bytes), "a refusal changes nothing");
                        }
                        Err(e) => prop_assert!(false, "unexpected refusal {e}"),
                    }
                }
                Op::Gap { who } => {
                    let w = who as usize;
                    let next = p.next_nonce(&acct(who)).unwrap_or(base[w]);
                    let t = make(Spec { state_nonce: base[w], free: free[w], ..spec(who, next + 1, 0) });
                    let refused = matches!(
                        p.submit(t.0, t.1, at(now)),
                        Err(PoolError::Invalid(TxError::FutureNonce { .. }))
                    );
                    prop_assert!(refused);
                }
                Op::Include { who, k } => {
                    base[who as usize] += k;
                    p.prune(&[(acct(who), base[who as usize])]);
                }
                Op::Invalid { who, idx } => {
                    let chain: Vec<Hash> = p.senders.get(&acct(who)).map(|c| c.values().map(|t| t.hash).collect()).unwrap_or_default();
                    if !chain.is_empty() {
                        let removed = p.remove_invalid(&chain[idx % chain.len()]);
                        prop_assert_eq!(removed.len(), chain.len() - idx % chain.len());
                    }
                }
                Op::Expire { ms } => {
                    now += ms;
                    for (h, _) in p.expire(at(now)) {
                        prop_assert!(!p.contains(&h));
                    }
                    for t in p.pending() {
                        prop_assert!(at(now).duration_since(t.added) < cfg.lifetime, "nothing too old survives");
                    }
                }
            }
            check_invariants(&p);
            for (who, chain) in &p.senders {
                let w = who.0[0] as usize;
                prop_assert_eq!(*chain.keys().next().unwrap(), base[w], "chain starts at the state nonce");
                let fees: Balance = chain.values().map(|t| t.fee).sum();
                prop_assert!(fees <= free[w], "pending fees fit the balance");
            }
        }
    }
}

#[test]
fn a_transaction_in_the_block_being_built_is_neither_replaced_nor_evicted() {
    let mut p = TxPool::new(config(2, usize::MAX));
    let a = tx(1, 0, 0);
    let b = tx(2, 0, 0);
    submit(&mut p, a.clone()).unwrap();
    submit(&mut p, b.clone()).unwrap();
    p.set_in_block(p.ready(10, usize::MAX).iter().map(|t| t.hash));
    // A higher tip would replace it, but it is about to be included.
    assert_eq!(submit(&mut p, tx(1, 0, 5)), Err(PoolError::InBlock));
    // A richer newcomer would evict the cheapest tail, but both tails are in the block.
    assert!(matches!(submit(&mut p, tx(3, 0, 50)), Err(PoolError::Full { .. })));
    assert!(p.contains(&hash_of(&a)) && p.contains(&hash_of(&b)));
    // Once the block is done (here: abandoned), both rules apply again.
    p.clear_in_block();
    assert!(submit(&mut p, tx(1, 0, 5)).unwrap().replaced.is_some());
    assert_eq!(submit(&mut p, tx(3, 0, 50)).unwrap().evicted, vec![hash_of(&b)]);
    check_invariants(&p);
}
