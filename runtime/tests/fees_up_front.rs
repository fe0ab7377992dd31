//! Every fee of a block is charged before any call runs (`api::apply_block`, issue 17 item 4):
//! moving value out of an account cannot make its later transactions in the block free. The
//! expected fees are computed here from the documented rule (README, `runtime/src/fees.rs`:
//! base + per byte of the encoded transaction + per unit of declared weight + tip), not by
//! asking the runtime.

mod common;

use common::{economy_params, events, Key, TestChain, START};
use parity_scale_codec::Encode;
use sp_core::Pair;
use watt_primitives::abi::{ApplyBlockOutput, ApplyResult, ChainParams};
use watt_primitives::economy::EventPhase;
use watt_primitives::{
    fee_pool_account, AccountId, Balance, DispatchError, Receipt, SignedTransaction, TxError, TxOutcome,
};
use watt_runtime::{pallet_balances, pallet_presence, RuntimeCall, RuntimeEvent};

const BASE_FEE: Balance = 1_000;
const BYTE_FEE: Balance = 7;
const WEIGHT_FEE: Balance = 3;

/// Fees with every term of the rule non-zero, so a term charged twice or not at all shows.
fn params() -> ChainParams {
    ChainParams {
        existential_deposit: 1,
        base_fee: BASE_FEE,
        byte_fee: BYTE_FEE,
        weight_fee: WEIGHT_FEE,
        max_tx_len: 64 * 1024,
        max_block_weight: 1_000_000_000,
        max_block_transactions: 10_000,
        max_block_bytes: 10_000_000,
    }
}

/// The fee of a transfer by the documented rule.
fn transfer_fee(stx: &SignedTransaction) -> Balance {
    BASE_FEE
        + BYTE_FEE * stx.encode().len() as Balance
        + WEIGHT_FEE * pallet_balances::TRANSFER_WEIGHT as Balance
        + stx.tx.tip
}

fn transfer_call(to: AccountId, amount: Balance) -> RuntimeCall {
    RuntimeCall::Balances(pallet_balances::Call::Transfer {
        dest: to,
        value: amount.into(),
    })
}

fn signed(chain: &TestChain, key: &Key, nonce: u64, tip: Balance, call: RuntimeCall) -> SignedTransaction {
    let mut stx = chain.sign_with_nonce(key, nonce, call);
    stx.tx.tip = tip;
    stx.signature = key.0.sign(&stx.tx.signing_payload()).0;
    stx
}

/// A transfer of whatever amount leaves its sender exactly `left` once it and `other_fees`
/// (the fees of the sender's other transactions in the block) are paid, from `free`. The
/// amount changes the encoded length, hence the fee: settled by iterating.
#[allow(clippy::too_many_arguments)]
fn transfer_leaving(
    chain: &TestChain,
    from: &Key,
    nonce: u64,
    tip: Balance,
    to: AccountId,
    free: Balance,
    other_fees: Balance,
    left: Balance,
) -> (SignedTransaction, Balance, Balance) {
    let mut amount = free - other_fees - left;
    for _ in 0..4 {
        let stx = signed(chain, from, nonce, tip, transfer_call(to, amount));
        let fee = transfer_fee(&stx);
        if amount == free - other_fees - fee - left {
            return (stx, amount, fee);
        }
        amount = free - other_fees - fee - left;
    }
    panic!("transfer amount did not settle");
}

fn receipts(out: &ApplyBlockOutput) -> Vec<Receipt> {
    out.results
        .iter()
        .enumerate()
        .map(|(i, r)| match r {
            ApplyResult::Included(r) => r.clone(),
            ApplyResult::Invalid(e) => panic!("transaction {i} invalid: {e}"),
        })
        .collect()
}

fn balances_error(error: &str) -> TxOutcome {
    TxOutcome::Failed(DispatchError {
        module: "balances".into(),
        error: error.into(),
    })
}

fn decode(event: &[u8]) -> RuntimeEvent {
    parity_scale_codec::Decode::decode(&mut &event[..]).unwrap()
}

/// Each receipt's events are exactly its transaction's entries in the block's events list,
/// listed together and in input order, the fee payment first.
fn assert_events_grouped_per_transaction(out: &ApplyBlockOutput) {
    let mut last = None;
    for record in &out.events {
        if let EventPhase::Transaction(i) = record.phase {
            assert!(last.is_none_or(|l| l <= i), "transaction {i}'s events after {last:?}'s");
            last = Some(i);
        }
    }
    for (i, result) in out.results.iter().enumerate() {
        let listed: Vec<&Vec<u8>> = out
            .events
            .iter()
            .filter(|r| r.phase == EventPhase::Transaction(i as u32))
            .map(|r| &r.event)
            .collect();
        match result {
            ApplyResult::Included(receipt) => {
                assert_eq!(listed, receipt.events.iter().collect::<Vec<_>>(), "transaction {i}");
                // The fee's events (a reaped sender's dust, then the payment) come first.
                let decoded: Vec<RuntimeEvent> = receipt.events.iter().map(|e| decode(e)).collect();
                let paid = decoded
                    .iter()
                    .position(|e| matches!(e, RuntimeEvent::Balances(pallet_balances::Event::FeePaid { .. })))
                    .unwrap_or_else(|| panic!("transaction {i}: no fee payment in {decoded:?}"));
                assert!(
                    decoded[..paid].iter().all(|e| matches!(e, RuntimeEvent::Balances(_))),
                    "transaction {i}: the fee comes first: {decoded:?}"
                );
            }
            ApplyResult::Invalid(_) => assert!(listed.is_empty(), "an invalid transaction {i} emitted events"),
        }
    }
}

struct Setup {
    chain: TestChain,
    charlie: Key,
    dave: Key,
    sink: AccountId,
}

fn setup() -> Setup {
    setup_with(params())
}

fn setup_with(params: ChainParams) -> Setup {
    let registrar = Key::new("Alice");
    let charlie = Key::new("Charlie");
    let dave = Key::new("Dave");
    let sink = Key::new("Sink").account();
    let chain = TestChain::new(
        &[registrar.account(), charlie.account(), dave.account()],
        registrar.account(),
        Key::new("Team").account(),
        economy_params(),
        params,
        false,
    );
    Setup {
        chain,
        charlie,
        dave,
        sink,
    }
}

/// Charlie's first transaction moves everything the set's fees leave; its three later ones,
/// each payable from the parent state (the set check passes), then find nothing to move. Each
/// pays its fee (tips included) and uses its nonce, and fails; none is skipped. Dave's
/// transaction in between is untouched. (The existential deposit is more than the later fees
/// together: applied one transaction at a time, as before spec version 4, the drain left just
/// those fees, reaped Charlie, and the later ones were skipped for nothing.)
#[test]
fn a_drained_sender_pays_every_fee_and_its_later_calls_fail_instead_of_being_skipped() {
    let deposit = 10_000_000;
    let Setup {
        mut chain,
        charlie,
        dave,
        sink,
    } = setup_with(ChainParams {
        existential_deposit: deposit,
        ..params()
    });
    let pool_before = chain.free(&fee_pool_account());
    let later: Vec<SignedTransaction> = [(1, 0), (2, 11), (3, 0)]
        .iter()
        .map(|&(nonce, tip)| signed(&chain, &charlie, nonce, tip, transfer_call(sink, 1_000)))
        .collect();
    let later_fees: Vec<Balance> = later.iter().map(transfer_fee).collect();
    assert!(later_fees.iter().sum::<Balance>() < deposit);
    // Leaves Charlie exactly nothing (reaped) once every fee of the set is paid.
    let (drain, drained, drain_fee) = transfer_leaving(&chain, &charlie, 0, 5, sink, START, later_fees.iter().sum(), 0);
    let dave_tx = signed(&chain, &dave, 0, 0, transfer_call(sink, 2_000));
    let dave_fee = transfer_fee(&dave_tx);
    let set = vec![
        drain.clone(),
        later[0].clone(),
        dave_tx.clone(),
        later[1].clone(),
        later[2].clone(),
    ];
    assert_eq!(chain.validate_set(set.clone()), Ok(()), "payable from the parent state");

    let out = chain.block(set.clone());
    let got = receipts(&out);
    let outcomes: Vec<TxOutcome> = got.iter().map(|r| r.outcome.clone()).collect();
    let failed = balances_error("InsufficientBalance");
    assert_eq!(
        outcomes,
        vec![
            TxOutcome::Success,
            failed.clone(),
            TxOutcome::Success,
            failed.clone(),
            failed
        ]
    );
    let fees: Vec<Balance> = got.iter().map(|r| r.fee_paid).collect();
    assert_eq!(
        fees,
        vec![drain_fee, later_fees[0], dave_fee, later_fees[1], later_fees[2]]
    );
    for (i, (r, stx)) in got.iter().zip(&set).enumerate() {
        assert_eq!(r.tx_hash, watt_primitives::blake2_256(&stx.encode()), "receipt {i}");
        assert_eq!(r.index, i as u32);
        assert_eq!(
            decode(&r.events[0]),
            RuntimeEvent::Balances(pallet_balances::Event::FeePaid {
                who: stx.tx.signer,
                amount: r.fee_paid
            }),
            "receipt {i}"
        );
    }
    assert_events_grouped_per_transaction(&out);

    let total_fees = drain_fee + later_fees.iter().sum::<Balance>() + dave_fee;
    assert_eq!(
        chain.account(&charlie.account()),
        (0, 4),
        "nothing left, every nonce used"
    );
    assert_eq!(chain.account(&dave.account()), (START - 2_000 - dave_fee, 1));
    assert_eq!(chain.free(&sink), drained + 2_000);
    assert_eq!(chain.free(&fee_pool_account()), pool_before + total_fees);
    assert_eq!(chain.sum_of_balances(), chain.total_issuance(), "no value made or lost");
}

/// The call sees its sender's balance after all of the sender's fees in the block: a transfer
/// of what would have been left after its own fee alone now fails (its fee paid), and the
/// later transactions it was meant to starve run.
#[test]
fn a_call_sees_the_balance_after_every_fee_of_its_sender_in_the_block() {
    let Setup {
        mut chain,
        charlie,
        sink,
        ..
    } = setup();
    let pool_before = chain.free(&fee_pool_account());
    // Leaves 10 after its own fee only; the later transaction's fee is more than that.
    let (greedy, _, greedy_fee) = transfer_leaving(&chain, &charlie, 0, 0, sink, START, 0, 10);
    let later = signed(&chain, &charlie, 1, 0, transfer_call(sink, 1));
    let later_fee = transfer_fee(&later);
    assert!(later_fee > 10);
    assert_eq!(chain.validate_set(vec![greedy.clone(), later.clone()]), Ok(()));
    let out = chain.block(vec![greedy, later]);
    let got = receipts(&out);
    assert_eq!(got[0].outcome, balances_error("InsufficientBalance"));
    assert_eq!(got[1].outcome, TxOutcome::Success);
    assert_eq!((got[0].fee_paid, got[1].fee_paid), (greedy_fee, later_fee));
    assert_eq!(
        chain.account(&charlie.account()),
        (START - greedy_fee - later_fee - 1, 2)
    );
    assert_eq!(chain.free(&sink), 1);
    assert_eq!(chain.free(&fee_pool_account()), pool_before + greedy_fee + later_fee);
}

/// What fails the fee pass (a bad signature, a nonce gap, an unpayable fee, a second check-in)
/// is `Invalid` and changes nothing: applying the block without those transactions gives the
/// same state and the same receipts. This is what lets a producer drop them and an importer of
/// its block compute the same result.
#[test]
fn what_fails_the_fee_pass_changes_nothing_and_dropping_it_changes_nothing_else() {
    let build = || {
        let mut s = setup();
        let registrar = Key::new("Alice");
        s.chain.run(vec![(
            &registrar,
            RuntimeCall::Identity(watt_runtime::pallet_identity::Call::Attest { who: s.dave.account() }),
        )]);
        s
    };
    let Setup {
        chain: mut with_bad,
        charlie,
        dave,
        sink,
    } = build();
    let mut without = build().chain;
    assert_eq!(with_bad.state(), without.state());
    let check_in = RuntimeCall::Presence(pallet_presence::Call::CheckIn);
    let pauper = Key::new("Pauper");
    let mut forged = signed(&with_bad, &charlie, 1, 0, transfer_call(sink, 5));
    forged.signature[3] ^= 1;
    // Charlie's first moves everything both fees leave: the second then fails.
    let second = signed(&with_bad, &charlie, 1, 0, transfer_call(sink, 7));
    let (first, _, _) = transfer_leaving(&with_bad, &charlie, 0, 0, sink, START, transfer_fee(&second), 0);
    let dave_check_in = signed(&with_bad, &dave, 0, 0, check_in.clone());
    let txs = vec![
        first.clone(),
        forged,                                                    // bad signature
        signed(&with_bad, &charlie, 5, 0, transfer_call(sink, 1)), // nonce gap
        second.clone(),
        signed(&with_bad, &pauper, 0, 0, transfer_call(sink, 1)), // never had anything
        dave_check_in.clone(),
        signed(&with_bad, &dave, 1, 0, check_in), // a second check-in
    ];
    let out = with_bad.block(txs);
    let kinds: Vec<(usize, &str)> = out
        .results
        .iter()
        .enumerate()
        .filter_map(|(i, r)| match r {
            ApplyResult::Invalid(e) => Some((
                i,
                match e {
                    TxError::BadSignature => "signature",
                    TxError::FutureNonce { .. } => "nonce",
                    TxError::CannotPayFee { free: 0, .. } => "fee",
                    TxError::Refused(d) if d.error == "AlreadyCheckedIn" => "check-in",
                    other => panic!("unexpected {other:?}"),
                },
            )),
            ApplyResult::Included(_) => None,
        })
        .collect();
    assert_eq!(kinds, vec![(1, "signature"), (2, "nonce"), (4, "fee"), (6, "check-in")]);
    assert_events_grouped_per_transaction(&out);

    let clean = without.block(vec![first, second, dave_check_in]);
    assert_eq!(with_bad.state(), without.state(), "the same state without them");
    let positionless = |r: &Receipt| Receipt { index: 0, ..r.clone() };
    let with_receipts: Vec<Receipt> = out
        .results
        .iter()
        .filter_map(|r| match r {
            ApplyResult::Included(r) => Some(positionless(r)),
            ApplyResult::Invalid(_) => None,
        })
        .collect();
    let clean_receipts: Vec<Receipt> = receipts(&clean).iter().map(positionless).collect();
    assert_eq!(
        with_receipts, clean_receipts,
        "the same receipts but for their positions"
    );
    let outcomes: Vec<TxOutcome> = clean_receipts.into_iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        vec![
            TxOutcome::Success,
            balances_error("InsufficientBalance"),
            TxOutcome::Success
        ]
    );
    assert_eq!(with_bad.account(&charlie.account()), (0, 2));
}

/// The weight limit admits transactions by their declared weight in the fee pass: one that
/// does not fit is invalid before any call runs, and the ones before it are charged.
#[test]
fn the_weight_limit_is_applied_in_the_fee_pass() {
    let Setup {
        mut chain,
        charlie,
        dave,
        sink,
    } = setup();
    let mut p = params();
    p.max_block_weight = 2 * pallet_balances::TRANSFER_WEIGHT;
    chain.with(|| watt_runtime::api::Params::put(&p));
    let txs = vec![
        signed(&chain, &charlie, 0, 0, transfer_call(sink, 10)),
        signed(&chain, &dave, 0, 0, transfer_call(sink, 10)),
        signed(&chain, &charlie, 1, 0, transfer_call(sink, 10)),
    ];
    let out = chain.block(txs);
    assert!(matches!(out.results[0], ApplyResult::Included(_)));
    assert!(matches!(out.results[1], ApplyResult::Included(_)));
    assert_eq!(
        out.results[2],
        ApplyResult::Invalid(TxError::ExhaustsBlock {
            weight: pallet_balances::TRANSFER_WEIGHT,
            max: 0
        })
    );
    assert_eq!(chain.account(&charlie.account()).1, 1, "the third used no nonce");
}

/// A check-in that was valid on the parent state (so in an agreed set) but whose attestation
/// an earlier transaction of the block revoked is charged and fails, like any call that an
/// earlier one made fail; before, it was skipped for free.
#[test]
fn a_check_in_revoked_earlier_in_the_block_pays_its_fee_and_fails() {
    let registrar = Key::new("Alice");
    let Setup { mut chain, dave, .. } = setup();
    chain.run(vec![(
        &registrar,
        RuntimeCall::Identity(watt_runtime::pallet_identity::Call::Attest { who: dave.account() }),
    )]);
    let revoke = chain.sign(
        &registrar,
        RuntimeCall::Identity(watt_runtime::pallet_identity::Call::Revoke { who: dave.account() }),
    );
    let check_in = chain.sign(&dave, RuntimeCall::Presence(pallet_presence::Call::CheckIn));
    let check_in_fee = BASE_FEE
        + BYTE_FEE * check_in.encode().len() as Balance
        + WEIGHT_FEE * watt_runtime::pallet_presence::weight(&pallet_presence::Call::CheckIn) as Balance;
    assert_eq!(chain.validate_set(vec![revoke.clone(), check_in.clone()]), Ok(()));
    let before = chain.account(&dave.account());
    let out = chain.block(vec![revoke, check_in]);
    let got = receipts(&out);
    assert_eq!(got[0].outcome, TxOutcome::Success);
    assert_eq!(
        got[1].outcome,
        TxOutcome::Failed(DispatchError {
            module: "presence".into(),
            error: "NotAttested".into()
        })
    );
    assert_eq!(got[1].fee_paid, check_in_fee);
    assert_eq!(chain.account(&dave.account()), (before.0 - check_in_fee, before.1 + 1));
    assert!(!events(&out)
        .iter()
        .any(|e| matches!(e, RuntimeEvent::Presence(pallet_presence::Event::CheckedIn { .. }))));
}

/// The one way an agreed set can still hold a skipped transaction: a fee that leaves its
/// sender below the existential deposit reaps it, and its later fees find nothing. (Only when
/// a fee can be smaller than the deposit: not so in the dev spec.) The sender then paid its
/// whole balance, at least the sum of the fees the set check counted for it.
#[test]
fn a_sender_reaped_by_its_own_fee_dust_pays_its_whole_balance_for_the_skipped_rest() {
    let registrar = Key::new("Alice");
    let charlie = Key::new("Charlie");
    let sink = Key::new("Sink").account();
    let mut p = params();
    p.existential_deposit = 1_000_000;
    let mut chain = TestChain::new(
        &[registrar.account(), charlie.account()],
        registrar.account(),
        Key::new("Team").account(),
        economy_params(),
        p,
        false,
    );
    // Charlie keeps just enough for two fees, less than the existential deposit after one.
    let one = signed(&chain, &charlie, 1, 0, transfer_call(sink, 1_000_000));
    let two = signed(&chain, &charlie, 2, 0, transfer_call(sink, 1_000_000));
    let fees = transfer_fee(&one) + transfer_fee(&two);
    let keep = fees + 100;
    assert!(keep - transfer_fee(&one) < 1_000_000, "below the deposit after one fee");
    let (leave, _, _) = transfer_leaving(&chain, &charlie, 0, 0, sink, START, 0, keep);
    let out = chain.block(vec![leave]);
    assert_eq!(receipts(&out)[0].outcome, TxOutcome::Success);
    assert_eq!(chain.account(&charlie.account()), (keep, 1));
    let pool_before = chain.free(&fee_pool_account());
    assert_eq!(chain.validate_set(vec![one.clone(), two.clone()]), Ok(()));
    let out = chain.block(vec![one.clone(), two]);
    match &out.results[0] {
        ApplyResult::Included(r) => {
            assert_eq!(r.outcome, balances_error("InsufficientBalance"));
            assert_eq!(r.fee_paid, transfer_fee(&one));
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        out.results[1],
        ApplyResult::Invalid(TxError::CannotPayFee { free: 0, .. })
    ));
    assert_eq!(chain.account(&charlie.account()), (0, 2));
    assert_eq!(
        chain.free(&fee_pool_account()),
        pool_before + keep,
        "the whole balance, > both fees"
    );
    assert!(keep >= fees);
}
