//! No cheap censorship (issue 17, item 4), on the pool and chain side: a proposal is never
//! emptied by refused transactions while a valid one is ready, the pool drops what its
//! senders can no longer pay, and pools converge (nonce gaps are pulled from peers, stale
//! transactions re-announced).

use parity_scale_codec::{DecodeAll, Encode};
use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use watt_chain::test_utils::{keyring, open_dev_chain, transfer, value_on_head};
use watt_chain::{Chain, ChainConfig, ChainEvent, ChainSpec, SubmitError};
use watt_client::Keypair;
use watt_primitives::abi::{Query, QueryResult};
use watt_primitives::{AccountId, Balance, Hash, SignedTransaction, TxError, TxSet, UNIT};
use watt_txpool::PoolError;

fn free(chain: &Chain, who: &AccountId) -> Balance {
    match chain.query(&Query::Account(*who)).unwrap() {
        QueryResult::Account(a) => a.free,
        other => panic!("unexpected {other:?}"),
    }
}

/// Keys that are not in the dev keyring, derived from `tag`.
fn extra_keys(tag: &str, n: usize) -> Vec<Keypair> {
    (0..n)
        .map(|i| Keypair::from_suri(&format!("//{tag}{i}")).expect("a valid derivation path"))
        .collect()
}

/// The dev chain spec with `extra` funded at genesis too (1,000,000 WATT each).
fn spec_with(extra: &[Keypair]) -> ChainSpec {
    let mut accounts: Vec<AccountId> = keyring().iter().map(Keypair::account).collect();
    accounts.extend(extra.iter().map(Keypair::account));
    ChainSpec::dev(&accounts, watt_runtime_blob::WASM_BINARY)
}

fn open(path: &Path, spec: &ChainSpec) -> Arc<Chain> {
    Chain::open(path, spec, ChainConfig::default()).expect("chain opens")
}

fn hashes(set: &TxSet) -> Vec<Hash> {
    set.transactions.iter().map(SignedTransaction::hash).collect()
}

/// The verdict on `set` as the next block on `chain`'s head.
fn verdict(chain: &Chain, set: &TxSet) -> Result<(), watt_primitives::abi::TxSetError> {
    chain.validate_tx_set(&chain.best().1, set).unwrap()
}

/// Every `Dropped` event received so far, by hash.
fn dropped(events: &mut tokio::sync::broadcast::Receiver<ChainEvent>) -> Vec<(Hash, String)> {
    let mut out = Vec::new();
    while let Ok(e) = events.try_recv() {
        if let ChainEvent::Dropped { hash, reason } = e {
            out.push((hash, reason));
        }
    }
    out
}

/// Twenty senders (more than the sixteen full checks a candidate gets) whose pooled
/// transactions pay the highest tips but whose balances a block drained: each is refused by
/// the set check, at the front of the candidate. Before, the candidate gave up after sixteen
/// refusals and proposed an empty set; now the refused ones leave the pool and the valid
/// transactions behind them are proposed at once.
#[test]
fn refused_senders_at_the_front_of_the_pool_do_not_empty_the_candidate() {
    let drained = extra_keys("Drained", 20);
    let spec = spec_with(&drained);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(dir_a.path(), &spec);
    let b = open(dir_b.path(), &spec);
    let g = a.genesis_hash();
    assert_eq!(g, b.genesis_hash());
    let keys = keyring();
    let sink = keys[5].account();

    // On A, each drained sender pools a transfer of nearly everything it has (the account is
    // reaped once the fee is paid), then a small transfer with a tip that puts it ahead of
    // everyone. Both fees are payable together from the balance, so the pool admits both.
    let mut drains = Vec::new();
    let mut doomed = Vec::new();
    for k in &drained {
        let all = free(&a, &k.account());
        let drain = transfer(g, k, sink, all - 2 * UNIT / 100, 0, 0);
        let late = transfer(g, k, sink, UNIT / 100, 1, 10 * UNIT);
        a.submit(&drain.encode()).unwrap();
        a.submit(&late.encode()).unwrap();
        drains.push(drain);
        doomed.push(late);
    }
    let honest: Vec<SignedTransaction> = keys[1..5].iter().map(|k| transfer(g, k, sink, UNIT, 0, 0)).collect();
    for t in &honest {
        a.submit(&t.encode()).unwrap();
    }
    // Another node's block includes the drains only (its pool never had the later ones); A
    // imports it.
    for t in &drains {
        b.submit(&t.encode()).unwrap();
    }
    let block = b.produce_block(1_000, true, false).unwrap().expect("a block of drains");
    assert_eq!(block.tx_hashes.len(), drains.len());
    a.import_block(b.block(&block.hash).unwrap().unwrap(), true, None)
        .unwrap();
    // The situation under test: A's pool still holds every late transaction, ahead of the
    // honest ones, and none can pay its fee any more.
    for (k, t) in drained.iter().zip(&doomed) {
        assert!(
            a.is_pending(&t.hash()),
            "precondition: importing a block leaves the pool's later transactions to the set check"
        );
        assert_eq!(free(&a, &k.account()), 0);
    }
    let mut events = a.subscribe();

    let set = a.candidate_tx_set().unwrap();
    assert_eq!(verdict(&a, &set), Ok(()), "the proposal is a valid set");
    let proposed: HashSet<Hash> = hashes(&set).into_iter().collect();
    let wanted: HashSet<Hash> = honest.iter().map(SignedTransaction::hash).collect();
    assert_eq!(proposed, wanted, "exactly the valid transactions are proposed");

    // What the refusals taught reached the pool: the unpayable transactions are gone (their
    // subscribers told why), so the next proposal needs a single check.
    let told: Vec<(Hash, String)> = dropped(&mut events);
    for t in &doomed {
        assert!(!a.is_pending(&t.hash()));
        let reason = told.iter().find(|(h, _)| *h == t.hash()).map(|(_, r)| r.as_str());
        assert!(reason.is_some_and(|r| r.contains("no longer pays")), "{reason:?}");
    }
    assert_eq!(a.candidate_tx_set().unwrap().hash(), set.hash());
}

/// More transactions than the block's weight limit takes, each from its own sender: the set
/// check refuses every one past the room left, far more times than the sixteen full checks.
/// The candidate is the longest prefix found valid (before, it was empty), and nothing leaves
/// the pool: running out of room is no transaction's fault.
#[test]
fn when_the_full_checks_run_out_the_longest_valid_prefix_is_proposed() {
    let senders = extra_keys("Heavy", 30);
    let mut spec = spec_with(&senders);
    let room = 5;
    spec.genesis.params.max_block_weight = room * watt_runtime::pallet_balances::TRANSFER_WEIGHT;
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path(), &spec);
    let g = chain.genesis_hash();
    let sink = keyring()[5].account();
    // Distinct tips make the order certain: the highest tip first.
    let txs: Vec<SignedTransaction> = senders
        .iter()
        .enumerate()
        .map(|(i, k)| transfer(g, k, sink, UNIT, 0, (100 - i as Balance) * UNIT / 1_000))
        .collect();
    for t in &txs {
        chain.submit(&t.encode()).unwrap();
    }
    let set = chain.candidate_tx_set().unwrap();
    assert_eq!(
        hashes(&set),
        txs[..room as usize]
            .iter()
            .map(SignedTransaction::hash)
            .collect::<Vec<_>>(),
        "the five paying most, in order"
    );
    assert_eq!(verdict(&chain, &set), Ok(()));
    assert_eq!(chain.pool_size().0, txs.len(), "nothing was dropped for lack of room");
}

/// An agreed block (another validator's set) holds a transfer that empties its sender: the
/// sender's later transaction, admitted when the balance paid for both, leaves the pool as the
/// block is applied, while another signer's later transaction, still payable, stays.
#[test]
fn after_an_agreed_block_the_pool_drops_what_its_signers_can_no_longer_pay() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let g = chain.genesis_hash();
    let (charlie, dave, sink) = (&keys[2], &keys[3], keys[5].account());
    let drain = transfer(
        g,
        charlie,
        sink,
        free(&chain, &charlie.account()) - 2 * UNIT / 100,
        0,
        0,
    );
    let late = transfer(g, charlie, sink, UNIT / 100, 1, 0);
    let dave0 = transfer(g, dave, sink, UNIT, 0, 0);
    let dave1 = transfer(g, dave, sink, UNIT, 1, 0);
    for t in [&drain, &late, &dave0, &dave1] {
        chain.submit(&t.encode()).unwrap();
    }
    let mut events = chain.subscribe();
    let set = TxSet {
        transactions: vec![drain, dave0],
    };
    let value = value_on_head(&chain, &set, 1_000, keys[1].account());
    chain.apply_agreed(&value, &set, None).unwrap();
    assert!(!chain.is_pending(&late.hash()), "Charlie can no longer pay it");
    assert!(chain.is_pending(&dave1.hash()), "Dave still can");
    let told = dropped(&mut events);
    assert!(
        told.iter()
            .any(|(h, reason)| *h == late.hash() && reason.contains("no longer pays")),
        "{told:?}"
    );
    // Rechecking again finds nothing more to drop.
    assert_eq!(
        chain.recheck_pool_senders([charlie.account(), dave.account()]).unwrap(),
        0
    );
}

/// Gossip lost one nonce of a sender on its way to B: B holds the later ones as future,
/// names the gap, pulls the missing nonce from A, and then proposes everything.
#[test]
fn a_nonce_gap_left_by_gossip_heals_by_pulling_from_a_peer() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (open_dev_chain(dir_a.path()), open_dev_chain(dir_b.path()));
    let keys = keyring();
    let (alice, bob) = (&keys[0], keys[1].account());
    let g = a.genesis_hash();
    let txs: Vec<SignedTransaction> = (0..5).map(|n| transfer(g, alice, bob, UNIT, n, 0)).collect();
    for t in &txs {
        a.submit(&t.encode()).unwrap();
    }
    // Gossip brings B nonces 2 to 4 first, then 0; nonce 1 never arrives.
    for t in &txs[2..] {
        b.submit_from_peer(&t.encode()).unwrap();
    }
    assert_eq!(b.pool_size().0, 3, "held, not refused");
    assert!(!b.has_pending(), "but nothing a block could take");
    assert_eq!(b.nonce_gaps(), vec![(alice.account(), 0)]);
    b.submit_from_peer(&txs[0].encode()).unwrap();
    assert!(b.has_pending());
    assert_eq!(b.candidate_tx_set().unwrap().transactions, vec![txs[0].clone()]);
    assert_eq!(b.nonce_gaps(), vec![(alice.account(), 1)]);
    assert_eq!(a.nonce_gaps(), vec![], "A has no gap");

    // What the engine does: ask a peer for the sender's transactions from the missing nonce,
    // and pool the answer as coming from a peer.
    let served = a.pooled_from(&alice.account(), 1, 16);
    assert_eq!(served, txs[1..].iter().map(Encode::encode).collect::<Vec<_>>());
    assert_eq!(a.pooled_from(&alice.account(), 1, 2).len(), 2, "bounded by the request");
    for bytes in &served {
        match b.submit_from_peer(bytes) {
            Ok(_) | Err(SubmitError::Pool(PoolError::AlreadyImported)) => {}
            Err(e) => panic!("a served transaction was refused: {e}"),
        }
    }
    assert_eq!(b.nonce_gaps(), vec![]);
    assert_eq!(b.candidate_tx_set().unwrap().transactions, txs);

    // Submitted to a node directly, a gap is still its author's mistake, told at once.
    match a.submit(&transfer(g, alice, bob, UNIT, 7, 0).encode()) {
        Err(SubmitError::Pool(PoolError::Invalid(TxError::FutureNonce { expected: 5, got: 7 }))) => {}
        other => panic!("expected a nonce-gap refusal, got {other:?}"),
    }
}

/// However much a peer asks for, one answer stays bounded in count and bytes.
#[test]
fn pooled_from_is_bounded_whatever_the_peer_asks() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let keys = keyring();
    let (alice, bob) = (&keys[0], keys[1].account());
    let g = chain.genesis_hash();
    let count = Chain::MAX_POOLED_FROM + 10;
    for n in 0..count as u64 {
        chain.submit(&transfer(g, alice, bob, UNIT, n, 0).encode()).unwrap();
    }
    assert_eq!(
        chain.pooled_from(&alice.account(), 0, usize::MAX).len(),
        Chain::MAX_POOLED_FROM
    );
    assert_eq!(
        chain.pooled_from(&alice.account(), count as u64 - 3, usize::MAX).len(),
        3
    );
    assert!(chain.pooled_from(&bob, 0, usize::MAX).is_empty());

    // Large transactions: the byte bound stops the answer first.
    let charlie = &keys[2];
    let big = |n| {
        watt_client::sign(
            charlie,
            n,
            0,
            g,
            &watt_runtime::RuntimeCall::System(watt_runtime::pallet_system::Call::Remark { data: vec![7; 60_000] }),
        )
    };
    for n in 0..24 {
        chain.submit(&big(n).encode()).unwrap();
    }
    let served = chain.pooled_from(&charlie.account(), 0, usize::MAX);
    let bytes: usize = served.iter().map(Vec::len).sum();
    assert!(served.len() < 24, "{} served", served.len());
    assert!(bytes <= Chain::MAX_POOLED_FROM_BYTES, "{bytes} bytes");
    assert!(bytes + served[0].len() > Chain::MAX_POOLED_FROM_BYTES, "as many as fit");
}

/// Transactions A accepted whose gossip never reached B: re-announcing what has waited brings
/// B's pool, and so its proposal, to A's.
#[test]
fn re_announcing_stale_transactions_brings_a_peers_proposal_to_the_same_set() {
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (a, b) = (open_dev_chain(dir_a.path()), open_dev_chain(dir_b.path()));
    let keys = keyring();
    let g = a.genesis_hash();
    let sink = keys[5].account();
    let mut txs: Vec<SignedTransaction> = keys[..4].iter().map(|k| transfer(g, k, sink, UNIT, 0, 0)).collect();
    txs.push(transfer(g, &keys[0], sink, UNIT, 1, 0));
    for t in &txs {
        a.submit(&t.encode()).unwrap();
    }
    let wait = Duration::from_millis(500);
    assert!(a.stale_pending(wait, 100).is_empty(), "nothing has waited yet");
    std::thread::sleep(Duration::from_millis(600));
    let first = a.stale_pending(wait, 3);
    assert_eq!(first.len(), 3, "bounded per call");
    // Those were just marked announced: the next call hands out the others only.
    let rest = a.stale_pending(wait, 100);
    assert_eq!(rest.len(), 2);
    let announced: HashSet<Hash> = first
        .iter()
        .chain(&rest)
        .map(|bytes| {
            SignedTransaction::decode_all(&mut &bytes[..])
                .expect("a transaction's encoding")
                .hash()
        })
        .collect();
    assert_eq!(announced, txs.iter().map(SignedTransaction::hash).collect());

    // B receives them as gossip, in the order handed out (each sender's nonces in sequence
    // within a call; Alice's two come in the same call or in nonce order across calls).
    for bytes in first.iter().chain(&rest) {
        b.submit_from_peer(bytes).unwrap();
    }
    let in_a: HashSet<Hash> = hashes(&a.candidate_tx_set().unwrap()).into_iter().collect();
    let in_b: HashSet<Hash> = hashes(&b.candidate_tx_set().unwrap()).into_iter().collect();
    assert_eq!(in_a.len(), txs.len());
    assert_eq!(in_a, in_b);
}
