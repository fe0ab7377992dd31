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
            ..Submitted::default()
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

/// Checks every internal index against the senders' transactions, and the pool's bounds.
fn check_invariants(p: &TxPool) {
    let c = &p.config;
    assert!(p.len() <= c.max_count, "count bound");
    assert!(p.bytes() <= c.max_bytes, "byte bound");
    assert!(p.future_len() <= c.max_future, "future bound");
    let mut total = 0;
    let mut bytes = 0;
    let mut future = 0;
    let mut tails = BTreeSet::new();
    let mut seqs = BTreeMap::new();
    let mut announced = BTreeMap::new();
    for (who, s) in &p.senders {
        assert!(!s.txs.is_empty(), "no empty sender is kept");
        assert!(s.txs.len() <= c.max_per_sender, "per-sender bound");
        assert!(*s.txs.keys().next().unwrap() >= s.base, "nothing below the state nonce");
        let run = (s.base..).take_while(|n| s.txs.contains_key(n)).count();
        assert_eq!(s.ready, run, "the ready part is exactly the run from the state nonce");
        let mut fees: Balance = 0;
        for (n, t) in &s.txs {
            assert_eq!(t.tx.tx.nonce, *n);
            assert_eq!(p.by_hash.get(&t.hash), Some(&(*who, *n)));
            seqs.insert(t.seq, (*who, *n));
            if s.is_ready(*n) {
                announced.insert((t.announced, t.seq), (*who, *n));
            } else {
                future += 1;
            }
            assert!(t.announced >= t.added, "announced no earlier than it arrived");
            bytes += t.len;
            fees += t.fee;
            total += 1;
        }
        assert_eq!(s.fees, fees, "fee counter equals the sum of the sender's fees");
        assert!(s.fees <= s.free, "pending fees fit the balance last reported");
        let (n, last) = s.txs.iter().next_back().unwrap();
        tails.insert(tail_key(*who, s.is_ready(*n), last));
    }
    assert_eq!(p.by_hash.len(), total);
    assert_eq!(p.bytes, bytes, "byte counter equals the sum of lengths");
    assert_eq!(p.future, future, "future counter equals the transactions past a gap");
    assert_eq!(
        p.tails, tails,
        "eviction candidates are exactly the senders' last transactions"
    );
    assert_eq!(p.by_age, seqs, "age index covers exactly the pending transactions");
    assert_eq!(
        p.by_announce, announced,
        "announcement index covers exactly the ready transactions"
    );
}

#[derive(Clone, Debug)]
enum Op {
    /// Submitted to this node: the sender's next ready nonce (or, with `replace`, one of its
    /// pending nonces), this tip.
    Submit {
        who: u8,
        tip: Balance,
        padding: usize,
        replace: Option<usize>,
    },
    /// Relayed by a peer: `ahead` nonces past the sender's next ready one (0: the next).
    Relay { who: u8, ahead: u64, tip: Balance },
    /// Submitted to this node past the sender's next nonce and past everything it holds:
    /// must be refused.
    Gap { who: u8 },
    /// A block included `k` of the sender's transactions.
    Include { who: u8, k: u64 },
    /// The sender's free balance became `FREES[i]` (a block moved it); the node rechecks it.
    Balance { who: u8, i: usize },
    /// A block named `k` of the sender's nonces but skipped them, so the state nonce did not
    /// move while the pool pruned as if it had; the node then resyncs the sender's nonce.
    Skipped { who: u8, k: u64 },
    /// Block building found one of the sender's transactions invalid.
    Invalid { who: u8, idx: usize },
    /// Time passes, then expired transactions are dropped.
    Expire { ms: u64 },
    /// Time passes, then at most `max` transactions unannounced for 300 ms are re-announced.
    Stale { ms: u64, max: usize },
}

/// Balances a sender may be left with: none, one fee or a little more, a few fees, plenty.
const FREES: [Balance; 5] = [0, 150, 250, 400, 10_000];
/// How long a transaction waits before `Stale` hands it out again, in the property test.
const REANNOUNCE_MS: u64 = 300;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (0u8..5, 0u128..60, 0usize..80, proptest::option::weighted(0.2, 0usize..8))
            .prop_map(|(who, tip, padding, replace)| Op::Submit { who, tip, padding, replace }),
        3 => (0u8..5, 0u64..4, 0u128..60).prop_map(|(who, ahead, tip)| Op::Relay { who, ahead, tip }),
        1 => (0u8..5).prop_map(|who| Op::Gap { who }),
        2 => (0u8..5, 0u64..4).prop_map(|(who, k)| Op::Include { who, k }),
        1 => (0u8..5, 0usize..FREES.len()).prop_map(|(who, i)| Op::Balance { who, i }),
        1 => (0u8..5, 1u64..3).prop_map(|(who, k)| Op::Skipped { who, k }),
        1 => (0u8..5, 0usize..8).prop_map(|(who, idx)| Op::Invalid { who, idx }),
        2 => (0u64..700).prop_map(|ms| Op::Expire { ms }),
        1 => (0u64..400, 0usize..4).prop_map(|(ms, max)| Op::Stale { ms, max }),
    ]
}

fn pending_nonces(p: &TxPool, who: u8) -> Vec<u64> {
    p.senders
        .get(&acct(who))
        .map(|s| s.txs.keys().copied().collect())
        .unwrap_or_default()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Random submissions (direct and relayed, in and out of order), inclusions, balance
    /// changes, invalidations, expiries and re-announcements never break the bounds, the
    /// ready part's contiguity from the state nonce, the index bookkeeping, or the fee budget:
    /// **the fees a sender has pending never exceed its free balance as last reported** (at an
    /// admission or a recheck after a block moved it).
    #[test]
    fn random_operations_keep_the_pool_invariants(ops in proptest::collection::vec(op(), 1..120)) {
        let one = tx(0, 0, 0).1.len as usize;
        let cfg = PoolConfig {
            max_count: 7,
            max_bytes: 9 * one,
            max_per_sender: 3,
            max_future: 3,
            lifetime: Duration::from_millis(1000),
        };
        let mut p = TxPool::new(cfg.clone());
        // Per sender: state nonce and free balance (the model of the chain), small enough for
        // the fee budget to bite (sender 0 can pay only two cheap transactions).
        let mut base = [0u64; 5];
        let mut free: [Balance; 5] = [250, 400, 10_000, 10_000, 10_000];
        let mut now = 0u64;
        for op in ops {
            match op {
                Op::Submit { who, tip, padding, replace } => {
                    let w = who as usize;
                    let next = p.next_nonce(&acct(who)).unwrap_or(base[w]);
                    let pending = pending_nonces(&p, who);
                    let nonce = match replace {
                        Some(i) if !pending.is_empty() => pending[i % pending.len()],
                        _ => next,
                    };
                    let t = make(Spec { who, nonce, tip, state_nonce: base[w], padding, free: free[w] });
                    let h = hash_of(&t);
                    let (len, bytes) = (p.len(), p.bytes());
                    now += 1;
                    match p.submit(t.0, t.1, at(now)) {
                        Ok(out) => {
                            prop_assert!(p.contains(&h));
                            for e in out.evicted.iter().chain(&out.unpayable) {
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
                Op::Relay { who, ahead, tip } => {
                    let w = who as usize;
                    let next = p.next_nonce(&acct(who)).unwrap_or(base[w]);
                    let t = make(Spec { state_nonce: base[w], free: free[w], ..spec(who, next + ahead, tip) });
                    let h = hash_of(&t);
                    let (len, bytes, future) = (p.len(), p.bytes(), p.future_len());
                    now += 1;
                    match p.submit_relayed(t.0, t.1, at(now)) {
                        Ok(out) => {
                            prop_assert!(p.contains(&h));
                            prop_assert_eq!(p.is_ready(&h), ahead == 0, "ready exactly when it follows the ready part");
                            if ahead > 0 {
                                prop_assert!(out.evicted.is_empty(), "a future newcomer evicts nothing");
                            }
                            for e in out.evicted.iter().chain(&out.unpayable) {
                                prop_assert!(!p.contains(e));
                            }
                        }
                        Err(PoolError::Invalid(TxError::FutureNonce { .. })) => {
                            prop_assert!(ahead > 0);
                            prop_assert_eq!((p.len(), p.bytes(), p.future_len()), (len, bytes, future));
                        }
                        Err(_) => prop_assert_eq!((p.len(), p.bytes()), (len, bytes), "a refusal changes nothing"),
                    }
                }
                Op::Gap { who } => {
                    let w = who as usize;
                    let next = p.next_nonce(&acct(who)).unwrap_or(base[w]);
                    let past = pending_nonces(&p, who).last().map_or(next, |n| (n + 1).max(next));
                    let t = make(Spec { state_nonce: base[w], free: free[w], ..spec(who, past + 1, 0) });
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
                Op::Balance { who, i } => {
                    free[who as usize] = FREES[i];
                    for h in p.recheck(&acct(who), FREES[i]) {
                        prop_assert!(!p.contains(&h));
                    }
                }
                Op::Skipped { who, k } => {
                    let w = who as usize;
                    p.prune(&[(acct(who), base[w] + k)]);
                    for (h, reason) in p.resync_nonce(&acct(who), base[w]) {
                        prop_assert_eq!(reason, DropReason::NoRoomToWait);
                        prop_assert!(!p.contains(&h));
                    }
                    if let Some(s) = p.senders.get(&acct(who)) {
                        prop_assert_eq!(s.ready, 0, "nothing of the sender is ready behind the skipped nonces");
                    }
                }
                Op::Invalid { who, idx } => {
                    let chain: Vec<Hash> = p.senders.get(&acct(who)).map(|s| s.txs.values().map(|t| t.hash).collect()).unwrap_or_default();
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
                Op::Stale { ms, max } => {
                    now += ms;
                    let older_than = Duration::from_millis(REANNOUNCE_MS);
                    let out = p.stale(at(now), older_than, max);
                    prop_assert!(out.len() <= max, "bounded per call");
                    let keys: Vec<(AccountId, u64)> = out.iter().map(|t| (t.tx.signer, t.tx.nonce)).collect();
                    let mut sorted = keys.clone();
                    sorted.sort();
                    prop_assert_eq!(&keys, &sorted, "handed out in sender/nonce order");
                    for t in &out {
                        prop_assert!(p.is_ready(&t.hash()), "only ready transactions are re-announced");
                    }
                    if out.len() < max {
                        for t in p.pending().iter().filter(|t| p.is_ready(&t.hash)) {
                            prop_assert!(at(now).duration_since(t.announced) < older_than, "nothing stale is left behind");
                        }
                    }
                }
            }
            check_invariants(&p);
            for (who, s) in &p.senders {
                let w = who.0[0] as usize;
                prop_assert_eq!(s.base, base[w], "the pool follows the state nonce");
                prop_assert_eq!(s.free, free[w], "the pool holds the balance last reported");
                let fees: Balance = s.txs.values().map(|t| t.fee).sum();
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

fn relay(p: &mut TxPool, (t, v): (SignedTransaction, ValidTransaction)) -> Result<Submitted, PoolError> {
    p.submit_relayed(t, v, at(0))
}

fn nonces(txs: &[PendingTx]) -> Vec<(u8, u64)> {
    txs.iter().map(|t| (t.tx.tx.signer.0[0], t.tx.tx.nonce)).collect()
}

#[test]
fn a_relayed_transaction_past_a_gap_waits_until_the_gap_fills() {
    let mut p = TxPool::new(PoolConfig::default());
    let (a1, a2) = (tx(1, 1, 0), tx(1, 2, 0));
    relay(&mut p, a1.clone()).unwrap();
    relay(&mut p, a2.clone()).unwrap();
    assert_eq!(p.len(), 2);
    assert_eq!(p.future_len(), 2);
    assert!(!p.is_ready(&hash_of(&a1)));
    assert!(p.ready(10, usize::MAX).is_empty(), "nothing a block could take");
    assert!(!p.has_ready());
    assert_eq!(p.next_nonce(&acct(1)), None, "the state nonce is the one to use");
    assert_eq!(
        p.nonce_gaps(),
        vec![(acct(1), 0)],
        "nonce 0 is what peers are asked for"
    );
    // Submitted to this node directly, a gap is the author's mistake: refused.
    assert_eq!(
        submit(&mut p, tx(1, 3, 0)),
        Err(PoolError::Invalid(TxError::FutureNonce { expected: 0, got: 3 }))
    );
    check_invariants(&p);

    let out = submit(&mut p, tx(1, 0, 0)).unwrap();
    assert_eq!(out, Submitted::default());
    assert_eq!(p.future_len(), 0);
    assert!(p.is_ready(&hash_of(&a2)));
    assert_eq!(nonces(&p.ready(10, usize::MAX)), vec![(1, 0), (1, 1), (1, 2)]);
    assert!(p.has_ready());
    assert_eq!(p.nonce_gaps(), vec![]);
    assert_eq!(p.next_nonce(&acct(1)), Some(3));
    check_invariants(&p);
}

#[test]
fn a_gap_after_ready_transactions_is_reported_at_its_first_missing_nonce() {
    let mut p = TxPool::new(PoolConfig::default());
    submit(&mut p, tx(1, 0, 0)).unwrap();
    submit(&mut p, tx(1, 1, 0)).unwrap();
    relay(&mut p, tx(1, 4, 0)).unwrap();
    relay(&mut p, tx(1, 3, 0)).unwrap();
    submit(&mut p, tx(2, 0, 0)).unwrap();
    relay(&mut p, tx(3, 2, 0)).unwrap();
    assert_eq!(p.nonce_gaps(), vec![(acct(1), 2), (acct(3), 0)]);
    assert_eq!(nonces(&p.ready(10, usize::MAX)).len(), 3, "1/0, 1/1 and 2/0 only");
    // Nonce 2 arrives: 3 and 4 join the ready part.
    relay(&mut p, tx(1, 2, 0)).unwrap();
    assert_eq!(p.nonce_gaps(), vec![(acct(3), 0)]);
    assert_eq!(p.next_nonce(&acct(1)), Some(5));
    check_invariants(&p);
}

#[test]
fn future_transactions_are_bounded_in_distance_and_number() {
    let mut p = TxPool::new(PoolConfig {
        max_per_sender: 4,
        max_future: 2,
        ..PoolConfig::default()
    });
    // Further ahead than the per-sender limit: it could not become ready before the sender
    // reached its limit anyway.
    assert_eq!(
        relay(&mut p, tx(1, 4, 0)),
        Err(PoolError::Invalid(TxError::FutureNonce { expected: 0, got: 4 }))
    );
    relay(&mut p, tx(1, 3, 0)).unwrap();
    relay(&mut p, tx(2, 1, 0)).unwrap();
    assert_eq!(
        relay(&mut p, tx(3, 1, 0)),
        Err(PoolError::Invalid(TxError::FutureNonce { expected: 0, got: 1 })),
        "the future section is full"
    );
    // Ready transactions are not bounded by it.
    relay(&mut p, tx(3, 0, 0)).unwrap();
    assert_eq!((p.len(), p.future_len()), (3, 2));
    // With no future section, a relayed gap is refused as a direct one is.
    let mut p = TxPool::new(PoolConfig {
        max_future: 0,
        ..PoolConfig::default()
    });
    assert!(matches!(
        relay(&mut p, tx(1, 1, 0)),
        Err(PoolError::Invalid(TxError::FutureNonce { .. }))
    ));
    check_invariants(&p);
}

#[test]
fn future_fees_count_against_the_budget_and_filling_the_gap_drops_what_no_longer_fits() {
    let with_free = |nonce, tip, free| {
        make(Spec {
            free,
            ..spec(1, nonce, tip)
        })
    };
    let mut p = TxPool::new(PoolConfig::default());
    relay(&mut p, with_free(1, 0, 350)).unwrap();
    relay(&mut p, with_free(2, 0, 350)).unwrap();
    relay(&mut p, with_free(3, 0, 350)).unwrap();
    assert_eq!(
        relay(&mut p, with_free(4, 0, 350)),
        Err(PoolError::ChainUnpayable {
            pending_fees: 300,
            fee: 100,
            free: 350
        }),
        "future transactions hold their fees too"
    );
    // The gap's transaction cannot pay its own fee: refused, the future ones stay.
    assert_eq!(
        relay(&mut p, with_free(0, 0, 90)),
        Err(PoolError::ChainUnpayable {
            pending_fees: 0,
            fee: 100,
            free: 90
        })
    );
    assert_eq!(p.len(), 3);
    // It can (fee 150 of 350): it is taken, and of the future ones only what the balance
    // still pays after it (100 + 100) stays ready; nonce 3 goes.
    let n3 = hash_of(&with_free(3, 0, 350));
    let out = submit(&mut p, with_free(0, 50, 350)).unwrap();
    assert_eq!(out.unpayable, vec![n3]);
    assert_eq!(nonces(&p.ready(10, usize::MAX)), vec![(1, 0), (1, 1), (1, 2)]);
    assert_eq!(p.fee_budget(&acct(1)), Some((350, 350)));
    check_invariants(&p);
}

#[test]
fn a_block_past_the_ready_part_makes_the_future_ones_ready() {
    let mut p = TxPool::new(PoolConfig::default());
    submit(&mut p, tx(1, 0, 0)).unwrap();
    relay(&mut p, tx(1, 2, 0)).unwrap();
    relay(&mut p, tx(1, 3, 0)).unwrap();
    relay(&mut p, tx(1, 5, 0)).unwrap();
    // Nonces 0 and 1 were included (1 came from another node's pool).
    assert_eq!(p.prune(&[(acct(1), 2)]), vec![hash_of(&tx(1, 0, 0))]);
    assert_eq!(nonces(&p.ready(10, usize::MAX)), vec![(1, 2), (1, 3)]);
    assert_eq!(p.nonce_gaps(), vec![(acct(1), 4)]);
    // A block past a future transaction drops it with the rest below the new nonce.
    assert_eq!(p.prune(&[(acct(1), 5)]).len(), 2);
    assert_eq!(nonces(&p.ready(10, usize::MAX)), vec![(1, 5)]);
    assert_eq!(p.nonce_gaps(), vec![]);
    check_invariants(&p);
}

#[test]
fn recheck_drops_what_a_lower_balance_no_longer_pays_latest_nonces_first() {
    let mut p = TxPool::new(PoolConfig::default());
    let txs: Vec<_> = (0..4)
        .map(|n| {
            make(Spec {
                free: 400,
                ..spec(1, n, 0)
            })
        })
        .collect();
    for t in &txs {
        submit(&mut p, t.clone()).unwrap();
    }
    submit(&mut p, tx(2, 0, 0)).unwrap();
    assert_eq!(p.fee_budget(&acct(1)), Some((400, 400)));
    // The balance rose: nothing to drop.
    assert_eq!(p.recheck(&acct(1), 1_000), Vec::<Hash>::new());
    // A block moved value out: 250 pays nonces 0 and 1 only.
    assert_eq!(p.recheck(&acct(1), 250), vec![hash_of(&txs[2]), hash_of(&txs[3])]);
    assert_eq!(p.fee_budget(&acct(1)), Some((200, 250)));
    assert_eq!(p.next_nonce(&acct(1)), Some(2));
    check_invariants(&p);
    // Nothing left: the sender is gone; other senders are untouched; unknown ones are a no-op.
    assert_eq!(p.recheck(&acct(1), 0).len(), 2);
    assert_eq!(p.fee_budget(&acct(1)), None);
    assert_eq!(p.recheck(&acct(9), 0), Vec::<Hash>::new());
    assert_eq!(p.len(), 1);
    check_invariants(&p);
}

#[test]
fn a_ready_newcomer_evicts_future_transactions_first_whatever_they_pay() {
    let mut p = TxPool::new(config(2, usize::MAX));
    let rich_future = tx(1, 1, 500);
    relay(&mut p, rich_future.clone()).unwrap();
    submit(&mut p, tx(2, 0, 0)).unwrap();
    // A future newcomer takes free room only.
    assert!(matches!(
        relay(&mut p, tx(3, 1, 900)),
        Err(PoolError::Full { count: 2, .. })
    ));
    assert_eq!(p.len(), 2);
    // A ready one pays less than the future transaction but can be included: it takes its
    // place (and would not take the ready one's, which pays as much as it).
    let out = submit(&mut p, tx(3, 0, 0)).unwrap();
    assert_eq!(out.evicted, vec![hash_of(&rich_future)]);
    assert!(matches!(submit(&mut p, tx(4, 0, 0)), Err(PoolError::Full { .. })));
    check_invariants(&p);
}

#[test]
fn stale_hands_out_the_longest_unannounced_ready_transactions_and_marks_them() {
    let mut p = TxPool::new(PoolConfig::default());
    let (a, b, c) = (tx(1, 0, 0), tx(2, 0, 0), tx(1, 1, 0));
    p.submit(a.0.clone(), a.1.clone(), at(0)).unwrap();
    p.submit(b.0.clone(), b.1.clone(), at(100)).unwrap();
    p.submit(c.0.clone(), c.1.clone(), at(200)).unwrap();
    // A future transaction is never re-announced: peers could not take it either.
    let d = tx(3, 5, 0);
    p.submit_relayed(d.0.clone(), d.1.clone(), at(200)).unwrap();
    let hashes = |txs: Vec<Arc<SignedTransaction>>| txs.iter().map(|t| t.hash()).collect::<Vec<_>>();
    let wait = Duration::from_millis(250);
    assert_eq!(hashes(p.stale(at(249), wait, 10)), Vec::<Hash>::new());
    assert_eq!(hashes(p.stale(at(250), wait, 10)), vec![hash_of(&a)]);
    // a was announced again at 250: only b has waited 250 ms at 350.
    assert_eq!(hashes(p.stale(at(350), wait, 10)), vec![hash_of(&b)]);
    // At 1 s all three waited; the two waiting longest (c since 200, a since 250) are handed
    // out, in sender/nonce order.
    assert_eq!(hashes(p.stale(at(1_000), wait, 2)), vec![hash_of(&a), hash_of(&c)]);
    assert_eq!(hashes(p.stale(at(1_000), wait, 2)), vec![hash_of(&b)]);
    assert_eq!(hashes(p.stale(at(1_100), wait, 10)), Vec::<Hash>::new());
    // A replacement is announced when it arrives.
    let b2 = tx(2, 0, 1);
    p.submit(b2.0, b2.1.clone(), at(1_150)).unwrap();
    assert_eq!(hashes(p.stale(at(1_300), wait, 10)), vec![hash_of(&a), hash_of(&c)]);
    assert_eq!(hashes(p.stale(at(1_400), wait, 10)), vec![b2.1.hash]);
    check_invariants(&p);
}

#[test]
fn pooled_from_serves_a_senders_transactions_from_a_nonce_bounded() {
    let mut p = TxPool::new(PoolConfig::default());
    for n in 0..4 {
        submit(&mut p, tx(1, n, 0)).unwrap();
    }
    relay(&mut p, tx(1, 6, 0)).unwrap();
    let served = |from, max| -> Vec<u64> { p.pooled_from(&acct(1), from, max).iter().map(|t| t.tx.nonce).collect() };
    assert_eq!(served(1, 10), vec![1, 2, 3, 6], "ready and future, in nonce order");
    assert_eq!(served(1, 2), vec![1, 2]);
    assert_eq!(served(5, 10), vec![6]);
    assert_eq!(served(7, 10), Vec::<u64>::new());
    assert!(p.pooled_from(&acct(2), 0, 10).is_empty());
}

#[test]
fn resync_nonce_follows_the_state_both_ways() {
    let mut p = TxPool::new(PoolConfig {
        max_future: 3,
        ..PoolConfig::default()
    });
    let txs: Vec<_> = (0..4).map(|n| tx(1, n, 0)).collect();
    for t in &txs {
        submit(&mut p, t.clone()).unwrap();
    }
    // A block named nonces 0 and 1, the pool pruned them, but nonce 0 was skipped: the state
    // nonce is still 0. Nonces 2 and 3 cannot be included before a new 0 and 1.
    p.prune(&[(acct(1), 2)]);
    assert_eq!(p.resync_nonce(&acct(1), 0), vec![]);
    assert!(p.ready(10, usize::MAX).is_empty());
    assert_eq!(p.nonce_gaps(), vec![(acct(1), 0)]);
    assert_eq!(p.future_len(), 2);
    check_invariants(&p);
    // The sender sends nonce 0 again, then 1: everything is ready again.
    submit(&mut p, tx(1, 0, 1)).unwrap();
    assert_eq!(p.nonce_gaps(), vec![(acct(1), 1)]);
    relay(&mut p, tx(1, 1, 1)).unwrap();
    assert_eq!(nonces(&p.ready(10, usize::MAX)), vec![(1, 0), (1, 1), (1, 2), (1, 3)]);
    // The state moved past nonce 1 (another node's transactions): 0 and 1 leave as used.
    let used: Vec<Hash> = p
        .resync_nonce(&acct(1), 2)
        .into_iter()
        .map(|(h, r)| {
            assert_eq!(r, DropReason::NonceUsed);
            h
        })
        .collect();
    assert_eq!(used, vec![hash_of(&tx(1, 0, 1)), hash_of(&tx(1, 1, 1))]);
    assert_eq!(nonces(&p.ready(10, usize::MAX)), vec![(1, 2), (1, 3)]);
    check_invariants(&p);
    // Demoted transactions beyond the room for waiting ones are dropped, latest first.
    relay(&mut p, tx(2, 5, 0)).unwrap();
    relay(&mut p, tx(2, 6, 0)).unwrap();
    let dropped = p.resync_nonce(&acct(1), 1);
    assert_eq!(dropped, vec![(hash_of(&txs[3]), DropReason::NoRoomToWait)]);
    assert_eq!(p.future_len(), 3);
    assert_eq!(p.nonce_gaps(), vec![(acct(1), 1), (acct(2), 0)]);
    check_invariants(&p);
    assert_eq!(p.resync_nonce(&acct(9), 5), vec![], "an unknown sender is a no-op");
}
