//! The balances rules over random operation sequences, natively on the support crate's test
//! externalities, against a small independent model of the documented rules (crate docs):
//!
//! - total issuance == the sum of every stored balance, fee pool included, after every step
//!   (no transfer, fee or reaping creates or destroys money);
//! - no stored balance overflows or sits below the existential deposit (except the fee pool);
//! - a refused operation leaves the state byte for byte as it was;
//! - each operation's result and every balance match the model, and an account is reported
//!   `Reaped` (with its dust) exactly when the model reaps it.
//!
//! Amounts are drawn near the edges that matter: the sender's whole balance, a few units around
//! "whole balance minus the ED", around the ED itself, and near `u128::MAX`.

use pallet_balances::{build_genesis, free, transfer, withdraw_fee, Error, Event, Free, TotalIssuance};
use proptest::prelude::*;
use std::collections::BTreeMap;
use watt_primitives::{fee_pool_account, AccountId, Balance};
use watt_support::externalities::{execute_with, MemoryExternalities};

/// Signers are accounts 1..=SIGNERS; account 0 stands for the fee pool as a receiver.
const SIGNERS: u8 = 4;

fn who(i: u8) -> AccountId {
    if i == 0 {
        fee_pool_account()
    } else {
        AccountId([i; 32])
    }
}

/// How an amount is chosen, relative to the state at the moment the operation runs.
#[derive(Clone, Debug)]
enum Amount {
    /// A fixed number.
    Raw(Balance),
    /// The sender's whole balance plus `d` (so `d > 0` overdraws by `d`).
    AllPlus(u8),
    /// The sender's balance minus the ED plus `d - 2`: just around the keep-alive boundary.
    AroundKeepAlive(u8),
    /// The ED plus `d - 2`: just around the smallest account a transfer may create.
    AroundEd(u8),
    /// `u128::MAX - d`.
    NearMax(u8),
    /// `balance * n / 256`.
    Fraction(u8),
}

impl Amount {
    fn resolve(&self, balance: Balance, ed: Balance) -> Balance {
        let around = |base: Balance, d: u8| base.saturating_add(d as Balance).saturating_sub(2);
        match self {
            Amount::Raw(v) => *v,
            Amount::AllPlus(d) => balance.saturating_add(*d as Balance),
            Amount::AroundKeepAlive(d) => around(balance.saturating_sub(ed), *d),
            Amount::AroundEd(d) => around(ed, *d),
            Amount::NearMax(d) => Balance::MAX - *d as Balance,
            Amount::Fraction(n) => (balance / 256).saturating_mul(*n as Balance),
        }
    }
}

fn amount() -> impl Strategy<Value = Amount> {
    prop_oneof![
        any::<u128>().prop_map(Amount::Raw),
        (0u128..1_000).prop_map(Amount::Raw),
        (0u8..4).prop_map(Amount::AllPlus),
        (0u8..5).prop_map(Amount::AroundKeepAlive),
        (0u8..5).prop_map(Amount::AroundEd),
        (0u8..4).prop_map(Amount::NearMax),
        any::<u8>().prop_map(Amount::Fraction),
    ]
}

#[derive(Clone, Debug)]
enum Op {
    Transfer {
        from: u8,
        to: u8,
        amount: Amount,
        keep_alive: bool,
    },
    Fee {
        who: u8,
        amount: Amount,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => (1..=SIGNERS, 0..=SIGNERS + 1, amount(), any::<bool>()).prop_map(|(from, to, amount, keep_alive)| Op::Transfer {
            from,
            to,
            amount,
            keep_alive
        }),
        1 => (1..=SIGNERS, amount()).prop_map(|(who, amount)| Op::Fee { who, amount }),
    ]
}

fn existential_deposit() -> impl Strategy<Value = Balance> {
    prop_oneof![Just(1u128), Just(100u128), Just(10_000_000_000u128), 1u128..1_000_000]
}

/// Genesis balances for the signers (account SIGNERS + 1 starts empty), some near `u128::MAX`:
/// each is capped so the total still fits in a u128, as on a real chain.
fn genesis_balances() -> impl Strategy<Value = Vec<Balance>> {
    let one = prop_oneof![
        2 => 0u128..10_000,
        2 => any::<u64>().prop_map(|v| v as u128),
        1 => (0u128..1_000).prop_map(|d| u128::MAX - d),
        1 => any::<u128>(),
    ];
    proptest::collection::vec(one, SIGNERS as usize).prop_map(|v| {
        let mut total: Balance = 0;
        v.into_iter()
            .map(|b| {
                let b = b.min(Balance::MAX - total);
                total += b;
                b
            })
            .collect()
    })
}

/// The documented rules, written out independently of the pallet.
#[derive(Clone, Debug)]
struct Model {
    free: BTreeMap<AccountId, Balance>,
    ed: Balance,
}

/// What the model expects of one operation.
struct Expected {
    result: Result<(), Error>,
    reaped: Option<(AccountId, Balance)>,
}

impl Model {
    fn get(&self, a: &AccountId) -> Balance {
        self.free.get(a).copied().unwrap_or(0)
    }

    /// Sets `a`'s balance; an ordinary account below the ED (or any account at zero) is removed
    /// and its remainder returned as dust.
    fn settle(&mut self, a: AccountId, amount: Balance) -> Option<Balance> {
        let pool = fee_pool_account();
        if amount == 0 || (amount < self.ed && a != pool) {
            let existed = self.free.remove(&a).is_some();
            existed.then_some(amount)
        } else {
            self.free.insert(a, amount);
            None
        }
    }

    fn credit_pool(&mut self, amount: Balance) {
        let pool = fee_pool_account();
        let now = self.get(&pool);
        self.free.insert(pool, now + amount);
    }

    fn transfer(&mut self, from: AccountId, to: AccountId, value: Balance, keep_alive: bool) -> Expected {
        let refuse = |e| Expected {
            result: Err(e),
            reaped: None,
        };
        let Some(remaining) = self.get(&from).checked_sub(value) else {
            return refuse(Error::InsufficientBalance);
        };
        if keep_alive && remaining < self.ed {
            return refuse(Error::KeepAlive);
        }
        if from == to {
            return Expected {
                result: Ok(()),
                reaped: None,
            };
        }
        let to_before = self.get(&to);
        let Some(to_after) = to_before.checked_add(value) else {
            return refuse(Error::Overflow);
        };
        if to_before == 0 && to_after < self.ed && to != fee_pool_account() {
            return refuse(Error::ExistentialDeposit);
        }
        let dust = self.settle(from, remaining);
        // The receiver gets `value`; the sender's dust, if any, goes to the pool on top (the
        // pool may itself be the receiver: it then gets both).
        self.free.insert(to, self.get(&to) + value);
        if let Some(d) = dust.filter(|d| *d > 0) {
            self.credit_pool(d);
        }
        Expected {
            result: Ok(()),
            reaped: dust.map(|d| (from, d)),
        }
    }

    fn fee(&mut self, who: AccountId, fee: Balance) -> Expected {
        let Some(remaining) = self.get(&who).checked_sub(fee) else {
            return Expected {
                result: Err(Error::InsufficientBalance),
                reaped: None,
            };
        };
        let dust = self.settle(who, remaining);
        self.credit_pool(fee + dust.unwrap_or(0));
        Expected {
            result: Ok(()),
            reaped: dust.map(|d| (who, d)),
        }
    }
}

/// Every stored balance, read back through the pallet's own map.
fn stored() -> BTreeMap<AccountId, Balance> {
    Free::iter().into_iter().collect()
}

fn check_invariants(ed: Balance) -> Result<(), TestCaseError> {
    let balances = stored();
    let mut sum: Balance = 0;
    for (who, b) in &balances {
        sum = match sum.checked_add(*b) {
            Some(s) => s,
            None => return Err(TestCaseError::fail("the balances sum past u128::MAX")),
        };
        if *who != fee_pool_account() {
            prop_assert!(*b >= ed, "{:?} holds {} below the ED {}", who, b, ed);
        }
    }
    prop_assert_eq!(Some(sum), TotalIssuance::get(), "total issuance != sum of balances");
    Ok(())
}

fn run(ed: Balance, genesis: Vec<Balance>, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let initial: Vec<(AccountId, Balance)> = genesis
        .iter()
        .enumerate()
        .map(|(i, b)| (who(i as u8 + 1), *b))
        // Genesis only creates accounts that may exist.
        .filter(|(_, b)| *b >= ed)
        .collect();
    let mut model = Model {
        free: initial.iter().copied().collect(),
        ed,
    };
    let (mut ext, r) = execute_with(MemoryExternalities::default(), || {
        build_genesis(&initial, ed);
        check_invariants(ed)
    });
    r?;
    for (step, op) in ops.into_iter().enumerate() {
        let before = ext.state.clone();
        let mut events = Vec::new();
        let (expected, actual) = match &op {
            Op::Transfer {
                from,
                to,
                amount,
                keep_alive,
            } => {
                let (from, to) = (who(*from), who(*to));
                let value = amount.resolve(model.get(&from), ed);
                let expected = model.transfer(from, to, value, *keep_alive);
                let (e, actual) = execute_with(ext, || transfer(&from, &to, value, *keep_alive, &mut events));
                ext = e;
                (expected, actual)
            }
            Op::Fee { who: w, amount } => {
                let w = who(*w);
                let fee = amount.resolve(model.get(&w), ed);
                let expected = model.fee(w, fee);
                let (e, actual) = execute_with(ext, || withdraw_fee(&w, fee, &mut events));
                ext = e;
                (expected, actual.map(|_| ()).map_err(|_| Error::InsufficientBalance))
            }
        };
        prop_assert_eq!(actual, expected.result, "step {}: {:?}", step, op);
        if actual.is_err() {
            prop_assert_eq!(&ext.state, &before, "step {}: a refused {:?} changed state", step, op);
            prop_assert!(
                events.is_empty(),
                "step {}: a refused operation emitted {:?}",
                step,
                events
            );
        }
        let reaped: Vec<(AccountId, Balance)> = events
            .iter()
            .filter_map(|e| match e {
                Event::Reaped { account, dust } => Some((*account, *dust)),
                _ => None,
            })
            .collect();
        prop_assert_eq!(
            reaped,
            expected.reaped.into_iter().collect::<Vec<_>>(),
            "step {}: {:?}",
            step,
            op
        );
        let (e, r) = execute_with(ext, || -> Result<(), TestCaseError> {
            check_invariants(ed)?;
            prop_assert_eq!(
                stored(),
                model.free.clone(),
                "step {}: balances differ from the model after {:?}",
                step,
                op
            );
            for i in 0..=SIGNERS + 1 {
                prop_assert_eq!(free(&who(i)), model.get(&who(i)));
            }
            Ok(())
        });
        ext = e;
        r?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn issuance_is_conserved_and_refusals_change_nothing(
        ed in existential_deposit(),
        genesis in genesis_balances(),
        ops in proptest::collection::vec(op(), 1..40),
    ) {
        run(ed, genesis, ops)?;
    }
}

/// The case the random search is most likely to miss on its own: a sender pays the fee pool
/// directly and falls below the ED, so the pool is both the receiver and the taker of the dust.
#[test]
fn paying_the_fee_pool_with_everything_but_dust_keeps_the_dust() {
    let ed = 100;
    run(
        ed,
        vec![1_000, 0, 0, 0],
        vec![Op::Transfer {
            from: 1,
            to: 0,
            amount: Amount::Raw(950),
            keep_alive: false,
        }],
    )
    .unwrap();
}
