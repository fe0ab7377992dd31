//! The economy on a native chain with 5-block days: check-ins by many accounts over several
//! days, each role's payout to the unit, the phase switch, a day without participants,
//! refused check-ins, unbonding, revocation, Root and sudo, the block weight limit, contained
//! hook failures, and the storage layout. Expected amounts are worked out by hand from the
//! parameters in `common::economy_params` (weights in percent, fee 1,000 per transaction).

mod common;

use common::*;
use watt_primitives::abi::{ApplyResult, Query, QueryResult, TxSetError};
use watt_primitives::economy::{EventPhase, PerRole, Role, SupplyPhase};
use watt_primitives::{storage_pool_account, team_reserve_account, AccountId, DispatchError, TxError, TxOutcome};
use watt_runtime::{
    api, pallet_balances, pallet_identity, pallet_pledge, pallet_presence, pallet_rewards, pallet_system, sudo,
    RuntimeCall, RuntimeEvent,
};

fn attest(who: AccountId) -> RuntimeCall {
    RuntimeCall::Identity(pallet_identity::Call::Attest { who })
}
fn check_in() -> RuntimeCall {
    RuntimeCall::Presence(pallet_presence::Call::CheckIn)
}
fn claim() -> RuntimeCall {
    RuntimeCall::Rewards(pallet_rewards::Call::Claim)
}
fn circle(members: &[&Key]) -> RuntimeCall {
    RuntimeCall::Presence(pallet_presence::Call::SetCircle {
        members: members.iter().map(|k| k.account()).collect(),
    })
}

struct World {
    chain: TestChain,
    alice: Key,
    people: Vec<Key>,
    team: Key,
}

fn world(people: usize, validator_pledge: bool) -> World {
    world_with(people, validator_pledge, economy_params())
}

fn world_with(people: usize, validator_pledge: bool, economy: watt_primitives::economy::EconomyParams) -> World {
    let alice = Key::new("Alice");
    let team = Key::new("Team");
    let people: Vec<Key> = (0..people).map(|i| Key::new(&format!("person{i}"))).collect();
    let mut accounts: Vec<AccountId> = people.iter().map(Key::account).collect();
    accounts.push(alice.account());
    let chain = TestChain::new(
        &accounts,
        alice.account(),
        team.account(),
        economy,
        chain_params(),
        validator_pledge,
    );
    World {
        chain,
        alice,
        people,
        team,
    }
}

fn claim_amount(out: &watt_primitives::abi::ApplyBlockOutput) -> u128 {
    events(out)
        .into_iter()
        .find_map(|e| match e {
            RuntimeEvent::Rewards(pallet_rewards::Event::Claimed { amount, .. }) => Some(amount),
            _ => None,
        })
        .expect("a Claimed event")
}

#[test]
fn each_role_is_paid_its_share_to_the_unit() {
    let World {
        mut chain,
        alice,
        people: p,
        team,
    } = world(5, true);
    // Day 0. Block 1: five attestations. Block 2: four circles and one referral. Block 3:
    // five check-ins. Alice authors every block: 5 validator shares; she bonded 10 units.
    chain.run(p.iter().map(|k| (&alice, attest(k.account()))).collect());
    chain.run(vec![
        (&p[0], circle(&[&p[1], &p[2], &p[3]])),
        (&p[1], circle(&[&p[0], &p[2], &p[3]])),
        (&p[2], circle(&[&p[0], &p[1], &p[3]])),
        (&p[3], circle(&[&p[0], &p[1], &p[2]])),
        (
            &p[4],
            RuntimeCall::Presence(pallet_presence::Call::SetReferrer {
                referrer: p[0].account(),
            }),
        ),
    ]);
    chain.run(p.iter().map(|k| (k, check_in())).collect());
    let today = chain.rewards(&p[0].account()).today;
    assert_eq!(
        (
            today.get(Role::Pioneer),
            today.get(Role::Contributor),
            today.get(Role::Ambassador)
        ),
        (1, 1, 1)
    );
    assert_eq!(
        chain.rewards(&p[0].account()).claimable,
        0,
        "nothing before the day closes"
    );
    chain.advance_to(5);
    let issuance_before = chain.total_issuance();
    chain.block(vec![]); // block 6 closes day 0

    // Minted 1,000,000: pioneers 500,000, contributors 200,000, ambassadors 150,000,
    // validators 150,000. Fees of day 0: 15 transactions * 1,000 = 15,000: pioneers 40% =
    // 6,000, contributors 1,500, ambassadors 1,500, validators 3,000, pledgers 3,000.
    // The team reserve (5% of the cap) vests 1/100 a day: 50,000,000,000,000.
    let team_vest = 100_000_000_000_000u128 / 20 / 100;
    assert_eq!(chain.total_issuance() - issuance_before, 1_000_000);
    let pioneer = (500_000 + 6_000) / 5;
    let contributor = (200_000 + 1_500) / 4;
    let ambassador = 150_000 + 1_500;
    assert_eq!(pioneer, 101_200);
    assert_eq!(contributor, 50_375);
    let info = chain.rewards(&p[0].account());
    assert_eq!(info.by_role.get(Role::Pioneer), 101_200);
    assert_eq!(info.by_role.get(Role::Contributor), 50_375);
    assert_eq!(info.by_role.get(Role::Ambassador), 151_500);
    assert_eq!(info.claimable, 303_075);
    assert_eq!(info.unclaimed_days, 1);
    assert_eq!(
        chain.rewards(&p[4].account()).claimable,
        101_200,
        "no circle: pioneer only"
    );
    let a = chain.rewards(&alice.account());
    assert_eq!(a.by_role.get(Role::Validator), 153_000);
    assert_eq!(a.by_role.get(Role::Pledger), 3_000);
    assert_eq!(chain.free(&team.account()), team_vest, "the team account starts empty");

    // Claims pay exactly that, less the claim's own fee.
    for (k, expected) in [
        (&p[0], pioneer + contributor + ambassador),
        (&p[1], pioneer + contributor),
        (&p[4], pioneer),
    ] {
        let before = chain.free(&k.account());
        let out = chain.run(vec![(k, claim())]);
        assert_eq!(claim_amount(&out), expected);
        assert_eq!(chain.free(&k.account()), before + expected - FEE);
        assert_eq!(chain.rewards(&k.account()).claimable, 0);
    }
    let out = chain.run(vec![(&alice, claim())]);
    assert_eq!(claim_amount(&out), 156_000);
    // A second claim has nothing left.
    let stx = chain.sign(&p[0], claim());
    let out = chain.block(vec![stx]);
    match &out.results[0] {
        ApplyResult::Included(r) => assert_eq!(
            r.outcome,
            TxOutcome::Failed(DispatchError {
                module: "rewards".into(),
                error: "NothingToClaim".into()
            })
        ),
        other => panic!("{other:?}"),
    }
    assert_eq!(chain.sum_of_balances(), chain.total_issuance());
}

#[test]
fn the_last_claimant_of_a_pot_takes_the_remainder_so_nothing_is_lost_to_rounding() {
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world(3, false);
    chain.author = AccountId([0; 32]); // no validator shares: only pioneers
    chain.run(p.iter().map(|k| (&alice, attest(k.account()))).collect());
    chain.run(p.iter().map(|k| (k, check_in())).collect());
    chain.advance_to(5);
    chain.block(vec![]);
    // Pioneers: 500,000 minted + 40% of 6 fees (6,000 * 40% = 2,400) = 502,400 for 3 shares.
    // Each claimant takes floor(left * 1 / shares left): 502,400 / 3 -> 167,466; 334,934 / 2
    // -> 167,467; the last takes the 167,467 left.
    let mut paid = Vec::new();
    for k in &p {
        let out = chain.run(vec![(k, claim())]);
        paid.push(claim_amount(&out));
    }
    assert_eq!(paid, vec![167_466, 167_467, 167_467]);
    assert_eq!(paid.iter().sum::<u128>(), 502_400);
    let pots: Vec<(u64, pallet_rewards::DayPot)> = chain.with(pallet_rewards::Pots::iter);
    assert!(pots.is_empty(), "a fully claimed day leaves no pot behind: {pots:?}");
}

#[test]
fn unattested_and_second_check_ins_are_refused_and_change_nothing() {
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world(2, true);
    let unattested = chain.sign(&p[1], check_in());
    let refused = |error: &str| {
        TxError::Refused(DispatchError {
            module: "presence".into(),
            error: error.into(),
        })
    };
    assert_eq!(chain.validate(&unattested), Err(refused("NotAttested")));
    chain.run(vec![(&alice, attest(p[0].account()))]);
    chain.run(vec![(&p[0], check_in())]);
    let again = chain.sign(&p[0], check_in());
    assert_eq!(chain.validate(&again), Err(refused("AlreadyCheckedIn")));
    assert_eq!(
        refused("AlreadyCheckedIn").to_string(),
        "refused: presence::AlreadyCheckedIn"
    );

    // In a block they are invalid: no fee, no nonce, no write at all.
    let state_before = chain.state().clone();
    chain.author = AccountId([0; 32]);
    let out = chain.block(vec![again.clone(), unattested.clone()]);
    assert_eq!(
        out.results,
        vec![
            ApplyResult::Invalid(refused("AlreadyCheckedIn")),
            ApplyResult::Invalid(refused("NotAttested"))
        ]
    );
    let changed: Vec<&Vec<u8>> = chain
        .state()
        .iter()
        .filter(|(k, v)| state_before.get(*k) != Some(*v))
        .map(|(k, _)| k)
        .collect();
    // Only the block context (number, parent hash, close time) is written by an empty block.
    let allowed: Vec<&[u8]> = vec![b"system/number", b"system/parent_hash", b"system/close_time"];
    for key in changed {
        assert!(allowed.contains(&key.as_slice()), "refused check-ins wrote {key:?}");
    }
    // The next day, the same account may check in again.
    chain.advance_to(5);
    chain.block(vec![]);
    let next = chain.sign(&p[0], check_in());
    assert_eq!(chain.validate(&next), Ok(()));
}

#[test]
fn check_in_mining_switches_to_pledge_and_storage_when_its_budget_is_spent() {
    let mut economy = economy_params();
    economy.checkin_weights = PerRole([100, 0, 0, 0, 0]);
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world_with(1, true, economy);
    chain.author = AccountId([0; 32]);
    chain.run(vec![(&alice, attest(p[0].account()))]);
    let mut minted_checkin = Vec::new();
    let mut phases = Vec::new();
    for day in 0..4u64 {
        chain.run(vec![(&p[0], check_in())]);
        chain.advance_to(5 * (day + 1));
        let out = chain.block(vec![]);
        let closed = events(&out).into_iter().find_map(|e| match e {
            RuntimeEvent::Rewards(pallet_rewards::Event::DayClosed {
                minted, storage_minted, ..
            }) => Some((minted, storage_minted)),
            _ => None,
        });
        minted_checkin.push(closed.expect("DayClosed"));
        phases.push(chain.supply().phase);
    }
    // Budget 2,500,000 at 1,000,000 a day: 1M, 1M, 0.5M; then phase 2: 400,000 a day, half to
    // the 10 pledged units, half (200,000) to the storage pool, a quarter of which is mobile.
    assert_eq!(
        minted_checkin,
        vec![(1_000_000, 0), (1_000_000, 0), (500_000, 0), (200_000, 200_000)]
    );
    assert_eq!(
        phases,
        vec![
            SupplyPhase::CheckIn,
            SupplyPhase::CheckIn,
            SupplyPhase::PledgeAndStorage,
            SupplyPhase::PledgeAndStorage
        ]
    );
    let s = chain.supply();
    assert_eq!(s.checkin_minted, 2_500_000);
    assert_eq!(s.phase2_minted, 400_000);
    assert_eq!(s.storage_pool, (150_000, 50_000));
    assert_eq!(chain.free(&storage_pool_account()), 200_000);
    // Alice's 10 units are the only pledge. Fee pool (20% to pledgers, 40% to pioneers, the
    // absent roles' 40% carried): day 0 2,000 -> 400; day 1 800 + 1,000 -> 360; day 2
    // 720 + 1,000 -> 344; day 3 688 + 1,000 -> 337 (rounded down); plus day 3's 200,000.
    assert_eq!(
        chain.rewards(&alice.account()).by_role.get(Role::Pledger),
        400 + 360 + 344 + 337 + 200_000
    );
    assert!(s.total_issuance <= s.cap);
    assert_eq!(chain.sum_of_balances(), chain.total_issuance());
}

#[test]
fn a_day_without_participants_mints_nothing_and_its_fees_wait_for_the_next_day() {
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world(1, false);
    chain.author = AccountId([0; 32]);
    // Day 0: only a transfer (its fee enters the pool), no check-in.
    chain.run(vec![(
        &alice,
        RuntimeCall::Balances(pallet_balances::Call::Transfer {
            dest: p[0].account(),
            value: 5u128.into(),
        }),
    )]);
    chain.advance_to(5);
    let issuance = chain.total_issuance();
    let out = chain.block(vec![]);
    let day = match chain.with(|| api::query(Query::Day)) {
        QueryResult::Day(d) => d,
        other => panic!("{other:?}"),
    };
    assert_eq!(day.day, 1);
    assert_eq!(day.fee_pool, FEE, "the fee stays in the pool");
    assert_eq!(chain.total_issuance(), issuance, "nothing minted for nobody");
    assert_eq!(chain.supply().checkin_minted, 0, "the phase budget is untouched");
    assert!(events(&out).iter().any(|e| matches!(
        e,
        RuntimeEvent::Rewards(pallet_rewards::Event::DayClosed {
            minted: 0,
            fees_shared: 0,
            ..
        })
    )));
    // Day 1: one check-in; the carried fee is shared with that day's pioneers.
    chain.run(vec![(&alice, attest(p[0].account()))]);
    chain.run(vec![(&p[0], check_in())]);
    chain.advance_to(10);
    chain.block(vec![]);
    // Pool: 1,000 carried + 2 fees = 3,000; pioneers get 40% = 1,200; minted 500,000.
    assert_eq!(chain.rewards(&p[0].account()).claimable, 501_200);
}

#[test]
fn unbonding_waits_its_period_and_validators_keep_their_minimum() {
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world(1, true);
    let bond = |units| RuntimeCall::Pledge(pallet_pledge::Call::Bond { units });
    let unbond = |units| RuntimeCall::Pledge(pallet_pledge::Call::Unbond { units });
    let withdraw = RuntimeCall::Pledge(pallet_pledge::Call::Withdraw);
    let before = chain.free(&p[0].account());
    chain.run(vec![(&p[0], bond(7))]);
    assert_eq!(chain.free(&p[0].account()), before - 7_000 - FEE);
    chain.run(vec![(&p[0], unbond(3))]);
    let failed = |chain: &mut TestChain, key: &Key, call: RuntimeCall| {
        let stx = chain.sign(key, call);
        match chain.block(vec![stx]).results.remove(0) {
            ApplyResult::Included(r) => match r.outcome {
                TxOutcome::Failed(e) => e.error,
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    };
    // Unbonded on day 0 with a 2-day period: withdrawable from day 2.
    assert_eq!(failed(&mut chain, &p[0], withdraw.clone()), "NothingToWithdraw");
    chain.advance_to(10);
    chain.block(vec![]); // day 2 opens at block 11
    let mid = chain.free(&p[0].account());
    chain.run(vec![(&p[0], withdraw.clone())]);
    assert_eq!(chain.free(&p[0].account()), mid + 3_000 - FEE);
    assert_eq!(failed(&mut chain, &p[0], withdraw), "NothingToWithdraw");
    // Alice is a validator with exactly the minimum: she may not go below it.
    assert_eq!(failed(&mut chain, &alice, unbond(1)), "ValidatorMinimum");
    match chain.with(|| api::query(Query::Pledge(p[0].account()))) {
        QueryResult::Pledge(info) => assert_eq!((info.units, info.bonded, info.unbonding), (4, 4_000, vec![])),
        other => panic!("{other:?}"),
    }
}

#[test]
fn slashing_burns_from_the_pledge_and_shrinks_its_units() {
    let World {
        mut chain, people: p, ..
    } = world(1, true);
    chain.run(vec![(
        &p[0],
        RuntimeCall::Pledge(pallet_pledge::Call::Bond { units: 10 }),
    )]);
    let issuance = chain.total_issuance();
    let who = p[0].account();
    let slashed = chain.with(|| {
        let (mut ev, mut bev) = (Vec::new(), Vec::new());
        pallet_pledge::slash(&who, 2_500, &mut ev, &mut bev)
    });
    assert_eq!(slashed, 2_500);
    assert_eq!(chain.total_issuance(), issuance - 2_500);
    assert_eq!(chain.supply().burned, 2_500);
    let l = chain.with(|| pallet_pledge::ledger(&who));
    assert_eq!(
        (l.units, l.bonded),
        (7, 7_500),
        "units follow the bonded funds, rounded down"
    );
    assert_eq!(chain.sum_of_balances(), chain.total_issuance());
}

#[test]
fn revocation_cancels_unclaimed_rewards_by_burning_them() {
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world(2, false);
    chain.author = AccountId([0; 32]);
    chain.run(p.iter().map(|k| (&alice, attest(k.account()))).collect());
    chain.run(p.iter().map(|k| (k, check_in())).collect());
    chain.advance_to(5);
    chain.block(vec![]);
    let owed = chain.rewards(&p[0].account()).claimable;
    assert!(owed > 0);
    // Day 1: p0 checks in again, then is revoked.
    chain.run(vec![(&p[0], check_in())]);
    let issuance = chain.total_issuance();
    let out = chain.run(vec![(
        &alice,
        RuntimeCall::Identity(pallet_identity::Call::Revoke { who: p[0].account() }),
    )]);
    assert!(
        events(&out).contains(&RuntimeEvent::Identity(pallet_identity::Event::Revoked {
            who: p[0].account(),
            registrar: alice.account(),
            cancelled: owed,
        }))
    );
    assert_eq!(chain.total_issuance(), issuance - owed);
    assert_eq!(chain.supply().burned, owed);
    let r = chain.rewards(&p[0].account());
    assert_eq!((r.claimable, r.today.get(Role::Pioneer), r.attested), (0, 0, false));
    // The other pioneer's share is untouched, and the open day no longer counts p0.
    let other = chain.rewards(&p[1].account()).claimable;
    assert_eq!(other, owed, "same shares on day 0");
    match chain.with(|| api::query(Query::Day)) {
        QueryResult::Day(d) => assert_eq!(d.participants.get(Role::Pioneer), 0),
        x => panic!("{x:?}"),
    }
    assert_eq!(chain.sum_of_balances(), chain.total_issuance());
}

#[test]
fn root_calls_need_sudo_and_sudo_reaches_them() {
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world(1, false);
    let mut params = economy_params();
    params.day_blocks = 7;
    let set = RuntimeCall::Rewards(pallet_rewards::Call::SetParams { params: params.clone() });
    let stx = chain.sign(&p[0], set.clone());
    let out = chain.block(vec![stx]);
    assert!(matches!(&out.results[0], ApplyResult::Included(r)
        if r.outcome == TxOutcome::Failed(DispatchError { module: "system".into(), error: "BadOrigin".into() })));
    let stx = chain.sign(&p[0], sudo(set.clone()));
    let out = chain.block(vec![stx]);
    assert!(matches!(&out.results[0], ApplyResult::Included(r)
        if r.outcome == TxOutcome::Failed(DispatchError { module: "sudo".into(), error: "RequireSudo".into() })));
    let out = chain.run(vec![(&alice, sudo(set))]);
    assert!(events(&out).contains(&RuntimeEvent::Sudo(pallet_sudo_event_ok())));
    assert_eq!(chain.with(pallet_rewards::params).day_blocks, 7);
    // Bad parameters are refused even for Root.
    let mut bad = economy_params();
    bad.day_blocks = 0;
    let out = chain.run(vec![(
        &alice,
        sudo(RuntimeCall::Rewards(pallet_rewards::Call::SetParams { params: bad })),
    )]);
    assert!(events(&out).iter().any(|e| matches!(e,
        RuntimeEvent::Sudo(watt_runtime::pallet_sudo::Event::Sudid { result: Err(e) }) if e.error == "InvalidParams")));
    assert_eq!(chain.with(pallet_rewards::params).day_blocks, 7);
}

fn pallet_sudo_event_ok() -> watt_runtime::pallet_sudo::Event {
    watt_runtime::pallet_sudo::Event::Sudid { result: Ok(()) }
}

#[test]
fn nested_calls_deeper_than_the_limit_do_not_decode() {
    let mut call = RuntimeCall::System(pallet_system::Call::Remark { data: vec![] });
    for _ in 0..=watt_runtime::MAX_CALL_DEPTH {
        call = sudo(call);
    }
    let encoded = parity_scale_codec::Encode::encode(&call);
    assert!(RuntimeCall::decode_bounded(&encoded).is_none());
    let mut shallow = RuntimeCall::System(pallet_system::Call::Remark { data: vec![] });
    for _ in 0..4 {
        shallow = sudo(shallow);
    }
    assert_eq!(
        RuntimeCall::decode_bounded(&parity_scale_codec::Encode::encode(&shallow)),
        Some(shallow)
    );
}

#[test]
fn the_block_weight_limit_holds_in_sets_and_blocks() {
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world(3, false);
    let transfer = |to: &Key| {
        RuntimeCall::Balances(pallet_balances::Call::Transfer {
            dest: to.account(),
            value: 10u128.into(),
        })
    };
    let mut params = chain.params.clone();
    params.max_block_weight = pallet_balances::TRANSFER_WEIGHT * 2 + 1;
    chain.with(|| api::Params::put(&params));
    let txs: Vec<_> = p.iter().map(|k| chain.sign(k, transfer(&alice))).collect();
    assert!(matches!(
        chain.validate_set(txs.clone()),
        Err(TxSetError::Transaction {
            index: 2,
            error: TxError::ExhaustsBlock { .. }
        })
    ));
    assert_eq!(chain.validate_set(txs[..2].to_vec()), Ok(()));
    let out = chain.block(txs);
    assert!(matches!(out.results[0], ApplyResult::Included(_)));
    assert!(matches!(out.results[1], ApplyResult::Included(_)));
    assert!(matches!(
        out.results[2],
        ApplyResult::Invalid(TxError::ExhaustsBlock { weight, max }) if weight == pallet_balances::TRANSFER_WEIGHT && max == 1
    ));
    // A call heavier than a whole block never enters the pool.
    params.max_block_weight = pallet_balances::TRANSFER_WEIGHT - 1;
    chain.with(|| api::Params::put(&params));
    let stx = chain.sign(&p[2], transfer(&alice));
    assert!(matches!(chain.validate(&stx), Err(TxError::ExhaustsBlock { .. })));
}

#[test]
fn a_failing_hook_is_rolled_back_and_reported_while_the_block_goes_on() {
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world(1, false);
    chain.run(vec![(&alice, attest(p[0].account()))]);
    chain.run(vec![(&p[0], check_in())]);
    chain.advance_to(5);
    // A rewards pot at the edge of u128: moving the day's fees into it overflows, and the hook
    // fails after the team reserve already vested.
    chain.with(|| pallet_balances::Free::insert(&watt_primitives::rewards_pot_account(), &(u128::MAX - 1)));
    let stx = chain.sign(
        &alice,
        RuntimeCall::System(pallet_system::Call::Remark {
            data: b"still here".to_vec(),
        }),
    );
    let out = chain.block(vec![stx]);
    assert!(matches!(&out.results[0], ApplyResult::Included(r) if r.outcome == TxOutcome::Success));
    let failed: Vec<_> = out
        .events
        .iter()
        .zip(events(&out))
        .filter(|(_, e)| matches!(e, RuntimeEvent::System(pallet_system::Event::HookFailed { .. })))
        .map(|(r, e)| (r.phase, e))
        .collect();
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert_eq!(failed[0].0, EventPhase::Initialization);
    assert!(
        matches!(&failed[0].1, RuntimeEvent::System(pallet_system::Event::HookFailed { pallet, initialize: true, .. }) if pallet == b"rewards")
    );
    // Rolled back: the day did not close, the team reserve did not vest.
    match chain.with(|| api::query(Query::Day)) {
        QueryResult::Day(d) => assert_eq!(d.day, 0),
        x => panic!("{x:?}"),
    }
    assert_eq!(chain.free(&team_reserve_account()), 100_000_000_000_000 / 20);
}

#[test]
fn events_carry_their_phase_and_account_topics() {
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world(1, true);
    chain.run(vec![(&alice, attest(p[0].account()))]);
    chain.run(vec![(&p[0], check_in())]);
    chain.advance_to(5);
    let stx = chain.sign(&p[0], check_in());
    let out = chain.block(vec![stx]);
    let phases: Vec<EventPhase> = out.events.iter().map(|r| r.phase).collect();
    let first_tx = phases
        .iter()
        .position(|p| *p == EventPhase::Transaction(0))
        .expect("tx events");
    assert!(phases[..first_tx].iter().all(|p| *p == EventPhase::Initialization));
    assert!(first_tx > 0, "the day closed in on_initialize");
    let checked_in = out
        .events
        .iter()
        .zip(events(&out))
        .find(|(_, e)| matches!(e, RuntimeEvent::Presence(pallet_presence::Event::CheckedIn { .. })))
        .map(|(r, _)| r.clone())
        .expect("check-in event");
    assert_eq!(checked_in.topics, vec![p[0].account().0]);
    assert_eq!(checked_in.phase, EventPhase::Transaction(0));
    // Receipts still carry the transaction's events, the same bytes.
    match &out.results[0] {
        ApplyResult::Included(r) => assert!(r.events.contains(&checked_in.event)),
        x => panic!("{x:?}"),
    }
}

#[test]
fn storage_prefixes_are_prefix_free_and_cover_every_key_a_chain_writes() {
    let prefixes = watt_runtime::storage_prefixes();
    for a in &prefixes {
        for b in &prefixes {
            if a != b {
                assert!(
                    !b.starts_with(a),
                    "{:?} is a prefix of {:?}",
                    String::from_utf8_lossy(a),
                    String::from_utf8_lossy(b)
                );
            }
        }
    }
    // A chain that used every pallet: every key falls under exactly one prefix.
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world(4, true);
    chain.run(p.iter().map(|k| (&alice, attest(k.account()))).collect());
    chain.run(vec![
        (&p[0], circle(&[&p[1], &p[2], &p[3]])),
        (
            &p[1],
            RuntimeCall::Presence(pallet_presence::Call::SetReferrer {
                referrer: p[0].account(),
            }),
        ),
        (&p[2], RuntimeCall::Pledge(pallet_pledge::Call::Bond { units: 3 })),
    ]);
    chain.run(p.iter().map(|k| (k, check_in())).collect());
    chain.run(vec![(
        &p[2],
        RuntimeCall::Pledge(pallet_pledge::Call::Unbond { units: 1 }),
    )]);
    chain.advance_to(5);
    chain.block(vec![]);
    chain.run(vec![(&p[3], claim())]);
    for key in chain.state().keys() {
        if key.as_slice() == watt_primitives::abi::storage_keys::CODE {
            continue;
        }
        let owners = prefixes.iter().filter(|p| key.starts_with(p)).count();
        assert_eq!(
            owners,
            1,
            "key {:?} falls under {owners} prefixes",
            String::from_utf8_lossy(key)
        );
    }
}

fn closed(out: &watt_primitives::abi::ApplyBlockOutput) -> (u128, u128) {
    events(out)
        .into_iter()
        .find_map(|e| match e {
            RuntimeEvent::Rewards(pallet_rewards::Event::DayClosed {
                minted, storage_minted, ..
            }) => Some((minted, storage_minted)),
            _ => None,
        })
        .expect("DayClosed")
}

#[test]
fn phase_one_ends_exactly_on_a_budget_that_does_not_divide_with_absent_roles() {
    let mut economy = economy_params();
    economy.checkin_mining_total = 2_500_001;
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world_with(1, true, economy);
    chain.run(vec![(&alice, attest(p[0].account()))]);
    let mut minted = Vec::new();
    for day in 0..5u64 {
        chain.run(vec![(&p[0], check_in())]);
        chain.advance_to(5 * (day + 1));
        minted.push(closed(&chain.block(vec![])));
    }
    // Pioneers (50%) and validators (15%) only: 650,000 a day; contributors' and ambassadors'
    // parts are not minted. The last day (550,001 left, under the daily 1,000,000) gives the
    // present roles all that is left, so the phase ends exactly and phase 2 follows.
    assert_eq!(
        minted,
        vec![
            (650_000, 0),
            (650_000, 0),
            (650_000, 0),
            (550_001, 0),
            (200_000, 200_000)
        ]
    );
    let s = chain.supply();
    assert_eq!((s.checkin_minted, s.phase), (2_500_001, SupplyPhase::PledgeAndStorage));
}

#[test]
fn the_team_reserve_vests_to_the_unit_and_never_blocks_a_day() {
    let mut economy = economy_params();
    economy.team_vesting_days = 3;
    let World { mut chain, team, .. } = world_with(1, false, economy);
    chain.author = AccountId([0; 32]);
    let reserve = 100_000_000_000_000u128 / 20;
    let per_day = reserve / 3;
    let mut paid = Vec::new();
    for day in 0..4u64 {
        chain.advance_to(5 * (day + 1));
        chain.block(vec![]);
        paid.push(chain.free(&team.account()));
    }
    // 1,666,666,666,666 twice, then the last payment takes the remainder (2 units).
    assert_eq!(paid, vec![per_day, 2 * per_day, reserve, reserve]);
    assert_eq!(chain.supply().team_locked, 0);
    assert_eq!(chain.free(&team_reserve_account()), 0);
}

#[test]
fn a_vesting_payment_that_cannot_be_made_waits_and_the_day_still_closes() {
    let World { mut chain, team, .. } = world(1, false);
    chain.author = AccountId([0; 32]);
    // An existential deposit above a day's vesting: the team account cannot be created by it.
    chain.with(|| pallet_balances::ExistentialDeposit::put(&u128::MAX));
    chain.advance_to(5);
    let out = chain.block(vec![]);
    closed(&out);
    match chain.with(|| api::query(Query::Day)) {
        QueryResult::Day(d) => assert_eq!(d.day, 1, "the day closed"),
        x => panic!("{x:?}"),
    }
    assert_eq!(chain.free(&team.account()), 0);
    assert_eq!(
        chain.supply().team_locked,
        100_000_000_000_000 / 20,
        "the payment waits"
    );
}

#[test]
fn a_slash_that_leaves_no_unit_starts_unbonding_the_rest() {
    let World {
        mut chain, people: p, ..
    } = world(1, false);
    chain.run(vec![(
        &p[0],
        RuntimeCall::Pledge(pallet_pledge::Call::Bond { units: 1 }),
    )]);
    let who = p[0].account();
    chain.with(|| pallet_pledge::slash(&who, 1, &mut Vec::new(), &mut Vec::new()));
    let l = chain.with(|| pallet_pledge::ledger(&who));
    // Unbonding period 2 days from day 0.
    assert_eq!((l.units, l.bonded, l.unbonding), (0, 0, vec![(2, 999)]));
}

#[test]
fn a_set_with_two_check_ins_by_one_sender_is_refused() {
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world(1, false);
    chain.run(vec![(&alice, attest(p[0].account()))]);
    let first = chain.sign_with_nonce(&p[0], 0, check_in());
    let second = chain.sign_with_nonce(&p[0], 1, check_in());
    assert_eq!(
        chain.validate_set(vec![first.clone(), second]),
        Err(TxSetError::Transaction {
            index: 1,
            error: TxError::Refused(DispatchError {
                module: "presence".into(),
                error: "AlreadyCheckedIn".into()
            })
        })
    );
    assert_eq!(chain.validate_set(vec![first]), Ok(()));
}

#[test]
fn revocation_keeps_validator_shares_and_root_cannot_cap_below_issuance() {
    let World { mut chain, alice, .. } = world(0, true);
    // Alice is registrar, validator and attests herself.
    chain.run(vec![(&alice, attest(alice.account()))]);
    chain.run(vec![(&alice, check_in())]);
    chain.advance_to(5);
    chain.block(vec![]);
    let before = chain.rewards(&alice.account());
    assert!(before.by_role.get(Role::Pioneer) > 0 && before.by_role.get(Role::Validator) > 0);
    chain.run(vec![(
        &alice,
        RuntimeCall::Identity(pallet_identity::Call::Revoke { who: alice.account() }),
    )]);
    let after = chain.rewards(&alice.account());
    assert_eq!(after.by_role.get(Role::Pioneer), 0);
    assert_eq!(after.by_role.get(Role::Validator), before.by_role.get(Role::Validator));

    let mut params = economy_params();
    params.supply_cap = chain.total_issuance() - 1;
    let out = chain.run(vec![(
        &alice,
        sudo(RuntimeCall::Rewards(pallet_rewards::Call::SetParams { params })),
    )]);
    assert!(events(&out).iter().any(|e| matches!(e,
        RuntimeEvent::Sudo(watt_runtime::pallet_sudo::Event::Sudid { result: Err(e) }) if e.error == "InvalidParams")));
}

#[test]
fn a_claim_settles_at_most_its_bound_of_days_and_the_next_one_the_rest() {
    let World {
        mut chain,
        alice,
        people: p,
        ..
    } = world(1, false);
    chain.author = AccountId([0; 32]);
    let mut economy = economy_params();
    economy.checkin_mining_total = u128::MAX / 2;
    chain.with(|| pallet_rewards::Params::put(&economy));
    chain.run(vec![(&alice, attest(p[0].account()))]);
    let days = pallet_rewards::MAX_DAYS_PER_CLAIM as u64 + 2;
    for day in 0..days {
        chain.run(vec![(&p[0], check_in())]);
        chain.advance_to(5 * (day + 1));
        chain.block(vec![]);
    }
    let info = chain.rewards(&p[0].account());
    assert_eq!(info.unclaimed_days as u64, days);
    let first = claim_amount(&chain.run(vec![(&p[0], claim())]));
    assert_eq!(chain.rewards(&p[0].account()).unclaimed_days, 2);
    let second = claim_amount(&chain.run(vec![(&p[0], claim())]));
    assert_eq!(first + second, info.claimable);
    assert_eq!(chain.rewards(&p[0].account()).claimable, 0);
}
