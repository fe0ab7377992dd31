//! Property tests of the economy's invariants over random operation sequences (check-ins,
//! attestations and revocations, circles, referrals, pledges, claims, transfers, idle days)
//! on a chain whose cap is reached within a few days:
//! - total issuance never exceeds the cap;
//! - `TotalIssuance` equals the sum of all balances after every block;
//! - the rewards pot always holds at least what everyone can claim (rounding never creates
//!   tokens, nothing is paid twice).

mod common;

use common::*;
use proptest::prelude::*;
use watt_primitives::economy::PerRole;
use watt_primitives::{rewards_pot_account, AccountId};
use watt_runtime::{pallet_balances, pallet_identity, pallet_pledge, pallet_presence, pallet_rewards, RuntimeCall};

const PEOPLE: usize = 6;

#[derive(Clone, Debug)]
enum Op {
    Attest(usize),
    Revoke(usize),
    CheckIn(usize),
    Circle(usize),
    Referrer(usize, usize),
    Bond(usize, u64),
    Unbond(usize, u64),
    Withdraw(usize),
    Claim(usize),
    Transfer(usize, usize, u128),
    Idle(u64),
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0..PEOPLE;
    prop_oneof![
        1 => who.clone().prop_map(Op::Attest),
        1 => who.clone().prop_map(Op::Revoke),
        3 => who.clone().prop_map(Op::CheckIn),
        1 => who.clone().prop_map(Op::Circle),
        1 => (who.clone(), who.clone()).prop_map(|(a, b)| Op::Referrer(a, b)),
        1 => (who.clone(), 1u64..50).prop_map(|(a, u)| Op::Bond(a, u)),
        1 => (who.clone(), 1u64..50).prop_map(|(a, u)| Op::Unbond(a, u)),
        1 => who.clone().prop_map(Op::Withdraw),
        2 => who.clone().prop_map(Op::Claim),
        1 => (who.clone(), who.clone(), 0u128..2_000_000_000).prop_map(|(a, b, v)| Op::Transfer(a, b, v)),
        1 => (1u64..12).prop_map(Op::Idle),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn issuance_stays_under_the_cap_and_equals_the_sum_of_balances(ops in proptest::collection::vec(op(), 1..60)) {
        let alice = Key::new("Alice");
        let people: Vec<Key> = (0..PEOPLE).map(|i| Key::new(&format!("p{i}"))).collect();
        let mut accounts: Vec<AccountId> = people.iter().map(Key::account).collect();
        accounts.push(alice.account());
        let mut economy = economy_params();
        // Genesis holds 7 * 10^9 plus the reserve: the cap leaves room for a few days only.
        economy.supply_cap = 7_800_000_000;
        economy.checkin_mining_total = 400_000_000;
        economy.checkin_daily = 150_000_000;
        economy.phase2_daily = 90_000_000;
        economy.checkin_weights = PerRole([40, 25, 20, 15, 0]);
        let mut chain = TestChain::new(&accounts, alice.account(), alice.account(), economy.clone(), chain_params(), true);
        let cap = economy.supply_cap;
        for op in ops {
            let call = |c| Some(c);
            let (key, c) = match op {
                Op::Attest(i) => (&alice, call(RuntimeCall::Identity(pallet_identity::Call::Attest { who: people[i].account() }))),
                Op::Revoke(i) => (&alice, call(RuntimeCall::Identity(pallet_identity::Call::Revoke { who: people[i].account() }))),
                Op::CheckIn(i) => (&people[i], call(RuntimeCall::Presence(pallet_presence::Call::CheckIn))),
                Op::Circle(i) => {
                    let members = (1..=3).map(|d| people[(i + d) % PEOPLE].account()).collect();
                    (&people[i], call(RuntimeCall::Presence(pallet_presence::Call::SetCircle { members })))
                }
                Op::Referrer(i, j) => (&people[i], call(RuntimeCall::Presence(pallet_presence::Call::SetReferrer { referrer: people[j].account() }))),
                Op::Bond(i, u) => (&people[i], call(RuntimeCall::Pledge(pallet_pledge::Call::Bond { units: u * 1_000 }))),
                Op::Unbond(i, u) => (&people[i], call(RuntimeCall::Pledge(pallet_pledge::Call::Unbond { units: u * 1_000 }))),
                Op::Withdraw(i) => (&people[i], call(RuntimeCall::Pledge(pallet_pledge::Call::Withdraw))),
                Op::Claim(i) => (&people[i], call(RuntimeCall::Rewards(pallet_rewards::Call::Claim))),
                Op::Transfer(i, j, v) => (&people[i], call(RuntimeCall::Balances(pallet_balances::Call::Transfer { dest: people[j].account(), value: v.into() }))),
                Op::Idle(n) => {
                    for _ in 0..n {
                        chain.block(vec![]);
                    }
                    (&alice, None)
                }
            };
            if let Some(c) = c {
                let stx = chain.sign(key, c);
                chain.block(vec![stx]);
            }
            let issuance = chain.total_issuance();
            prop_assert!(issuance <= cap, "issuance {issuance} over the cap {cap}");
            prop_assert_eq!(chain.sum_of_balances(), issuance);
            let owed: u128 = accounts.iter().map(|a| chain.rewards(a).claimable).sum();
            let pot = chain.free(&rewards_pot_account());
            prop_assert!(owed <= pot, "owed {owed} but the pot holds {pot}");
        }
    }
}
