//! The off-chain environment behaves as the chain does (`pallets/contracts/src/exec.rs`,
//! `pallets/balances`): a message that returns `Err` leaves no trace, also when a test calls it
//! directly; storage deposits are charged to the origin per item and byte and refunded only to
//! their payers of record (a signer out of its own share; every share when the contract
//! terminates, not to the beneficiary); the existential deposit (ED) rules hold for transfers;
//! and a nested call's output that does not fit is still reported as a revert when the callee
//! reverted.
//!
//! Prices are written out here as numbers (the chain's `UNIT` is 10^12; `Schedule::default()`
//! has `deposit_per_item: UNIT / 100`, `deposit_per_byte: UNIT / 10_000`; the default chain
//! spec's ED is `UNIT / 100`), not taken from the SDK.

use parity_scale_codec::{Decode, Encode};
use watt_contract::dispatch::{DispatchResult, Outcome};
use watt_contract::test::{self, Economics};
use watt_contract::{selector, AccountId, CallBuilder, CallError, Hash, InstantiateBuilder, Selector};

const UNIT: u128 = 1_000_000_000_000;
/// `deposit_per_item`.
const ITEM: u128 = 10_000_000_000;
/// `deposit_per_byte`.
const BYTE: u128 = 100_000_000;
/// The existential deposit.
const ED: u128 = 10_000_000_000;

#[watt_contract::contract]
mod bank {
    use watt_contract::alloc::vec;
    use watt_contract::alloc::vec::Vec;
    use watt_contract::{env, AccountId, Mapping};

    #[storage]
    pub struct Bank {
        pub total: u64,
        pub note: Vec<u8>,
        pub entries: Mapping<u32, Vec<u8>>,
    }

    #[event]
    pub struct Put {
        #[topic]
        pub key: u32,
    }

    impl Bank {
        #[constructor]
        pub fn new() -> Self {
            Self {
                total: 0,
                note: Vec::new(),
                entries: Mapping::new(),
            }
        }

        #[message]
        pub fn put(&mut self, key: u32, value: Vec<u8>) -> Result<(), u8> {
            self.entries.insert(&key, &value);
            self.total += 1;
            env::emit(&Put { key });
            Ok(())
        }

        #[message]
        pub fn remove(&mut self, key: u32) {
            self.entries.remove(&key);
        }

        #[message]
        pub fn set_note(&mut self, note: Vec<u8>) {
            self.note = note;
        }

        /// Writes an entry (through another message), the root, an event and a transfer,
        /// then fails.
        #[message]
        pub fn put_pay_then_fail(&mut self, key: u32, to: AccountId, amount: u128) -> Result<(), u8> {
            self.put(key, vec![1, 2, 3])?;
            self.total = 999;
            env::transfer(&to, amount).map_err(|_| 1)?;
            Err(2)
        }

        /// Calls the failing message but succeeds itself: nothing is reverted.
        #[message]
        pub fn tolerate_failure(&mut self, key: u32, to: AccountId, amount: u128) -> Result<(), u8> {
            let _ = self.put_pay_then_fail(key, to, amount);
            Ok(())
        }

        #[message]
        pub fn write_then_panic(&mut self, key: u32) {
            self.entries.insert(&key, &Vec::new());
            panic!("boom");
        }

        #[message]
        pub fn pay(&mut self, to: AccountId, amount: u128) -> Result<(), u8> {
            env::transfer(&to, amount).map_err(|_| 1)
        }

        /// `len` bytes of output; as an error when `fail`. Bumps `total` either way.
        #[message]
        pub fn output(&mut self, len: u32, fail: bool) -> Result<Vec<u8>, Vec<u8>> {
            self.total += 1;
            let v = vec![7u8; len as usize];
            if fail {
                Err(v)
            } else {
                Ok(v)
            }
        }

        #[message]
        pub fn close(&mut self, to: AccountId) {
            env::terminate(&to)
        }
    }
}

use bank::Bank;

fn sel(name: &str) -> Vec<u8> {
    Selector::from_name(name).0.to_vec()
}

fn input(name: &str, args: impl Encode) -> Vec<u8> {
    let mut i = sel(name);
    i.extend(args.encode());
    i
}

fn run(name: &str, args: impl Encode) -> Result<Vec<u8>, CallError> {
    test::execute(Bank::__watt_call, &input(name, args))
}

/// `total` from the root value of `contract`.
fn total_of(contract: &AccountId) -> u64 {
    let root = test::storage_of(contract, &[0, 0, 0, 0]).expect("deployed");
    u64::decode(&mut &root[..]).unwrap()
}

fn accounts() -> test::DefaultAccounts {
    test::default_accounts()
}

// ---- Reverts roll back (item 4) ----

#[test]
fn a_message_called_directly_that_returns_err_leaves_no_trace() {
    let a = accounts();
    test::set_balance(&test::CONTRACT, 100);
    let mut b = Bank::new();
    assert_eq!(b.put(1, vec![9]), Ok(()));
    let entries = test::storage_entries(&test::CONTRACT);
    let events = test::events();
    assert_eq!(entries.len(), 1);
    assert_eq!(events.len(), 1);

    assert_eq!(b.put_pay_then_fail(2, a.bob, 30), Err(2));
    assert_eq!(b.total, 1, "the plain field is restored");
    assert_eq!(test::storage_entries(&test::CONTRACT), entries, "entry 2 is undone");
    assert_eq!(test::events(), events, "its event is undone");
    assert_eq!(test::balance_of(&test::CONTRACT), 100, "the transfer is undone");
    assert_eq!(test::balance_of(&a.bob), 0);
}

#[test]
fn an_error_an_outer_message_handles_is_not_a_revert() {
    let a = accounts();
    test::set_balance(&test::CONTRACT, 100);
    let mut b = Bank::new();
    assert_eq!(b.tolerate_failure(2, a.bob, 30), Ok(()));
    assert_eq!(b.total, 999);
    assert_eq!(test::storage_entries(&test::CONTRACT).len(), 1);
    assert_eq!(test::events().len(), 1);
    assert_eq!(test::balance_of(&a.bob), 30);
}

#[test]
fn a_message_run_through_dispatch_that_returns_err_leaves_no_trace() {
    let a = accounts();
    test::set_balance(&test::CONTRACT, 100);
    test::execute(Bank::__watt_deploy, &sel("new")).unwrap();
    let entries = test::storage_entries(&test::CONTRACT);
    assert_eq!(
        run("put_pay_then_fail", (2u32, a.bob, 30u128)),
        Err(CallError::Reverted(Err::<(), u8>(2).encode()))
    );
    assert_eq!(test::storage_entries(&test::CONTRACT), entries);
    assert!(test::events().is_empty());
    assert_eq!(test::balance_of(&test::CONTRACT), 100);
    assert_eq!(total_of(&test::CONTRACT), 0);
}

#[test]
fn a_message_called_directly_that_panics_is_undone() {
    let mut b = Bank::new();
    b.put(1, vec![]).unwrap();
    let entries = test::storage_entries(&test::CONTRACT);
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| b.write_then_panic(5)));
    assert!(r.is_err());
    assert_eq!(test::storage_entries(&test::CONTRACT), entries);
    // The environment still works after the unwind.
    assert_eq!(b.put(6, vec![]), Ok(()));
    assert_eq!(test::storage_entries(&test::CONTRACT).len(), 2);
}

// ---- Storage deposits (item 4) ----

#[test]
fn the_chain_economics_are_the_chain_defaults() {
    assert_eq!(
        Economics::CHAIN,
        Economics {
            existential_deposit: ED,
            deposit_per_item: ITEM,
            deposit_per_byte: BYTE
        }
    );
    assert_eq!(
        test::economics(),
        Economics::NONE,
        "a fresh environment charges nothing"
    );
}

#[test]
fn storage_deposits_are_charged_and_refunded_as_on_chain() {
    let a = accounts();
    test::set_economics(Economics::CHAIN);
    test::set_balance(&a.alice, UNIT);

    // Root: key 4 bytes, value SCALE(0u64) ++ SCALE(empty Vec) = 9 bytes: one item, 13 bytes.
    test::execute(Bank::__watt_deploy, &sel("new")).unwrap();
    let mut paid = ITEM + 13 * BYTE;
    assert_eq!(test::balance_of(&a.alice), UNIT - paid);
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), paid);
    assert_eq!(
        test::deposit_share(&test::CONTRACT, &a.alice),
        paid,
        "alice is its payer of record"
    );

    // Entry: key prefix(4) ++ u32(4) = 8 bytes, value compact(10) ++ 10 = 11 bytes; the root
    // changes value (total 0 -> 1) but not size.
    run("put", (1u32, vec![0u8; 10])).unwrap();
    paid += ITEM + 19 * BYTE;
    assert_eq!(test::balance_of(&a.alice), UNIT - paid);

    // The root grows by 20 bytes, then shrinks back: charged, then refunded.
    run("set_note", vec![1u8; 20]).unwrap();
    assert_eq!(test::balance_of(&a.alice), UNIT - paid - 20 * BYTE);
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), paid + 20 * BYTE);
    run("set_note", Vec::<u8>::new()).unwrap();
    assert_eq!(test::balance_of(&a.alice), UNIT - paid);

    // Removing the entry refunds its item and bytes.
    run("remove", 1u32).unwrap();
    assert_eq!(test::balance_of(&a.alice), UNIT - (ITEM + 13 * BYTE));
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), ITEM + 13 * BYTE);
    assert_eq!(test::deposit_share(&test::CONTRACT, &a.alice), ITEM + 13 * BYTE);

    // A write that nets out within one call costs nothing: a reverted call neither.
    let before = test::balance_of(&a.alice);
    assert!(run("put_pay_then_fail", (3u32, a.bob, 0u128)).is_err());
    assert_eq!(test::balance_of(&a.alice), before);
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), ITEM + 13 * BYTE);
}

#[test]
fn a_message_called_directly_pays_its_deposit_and_a_failing_one_does_not() {
    let a = accounts();
    test::set_economics(Economics::CHAIN);
    test::set_balance(&a.alice, UNIT);
    let mut b = Bank::new();
    b.put(1, vec![0; 10]).unwrap();
    assert_eq!(test::balance_of(&a.alice), UNIT - (ITEM + 19 * BYTE));
    // Its entry is written (and would owe a deposit) before it fails; under the ED even the
    // transfer of 0 to an empty account fails, as on chain.
    assert_eq!(b.put_pay_then_fail(2, a.bob, 0), Err(1));
    assert_eq!(test::balance_of(&a.alice), UNIT - (ITEM + 19 * BYTE));
    assert_eq!(test::storage_entries(&test::CONTRACT).len(), 1);
}

#[test]
fn a_deposit_the_origin_cannot_pay_fails_the_call_and_changes_nothing() {
    let a = accounts();
    test::set_economics(Economics::CHAIN);
    test::set_balance(&a.alice, ITEM + 12 * BYTE);
    assert_eq!(test::execute(Bank::__watt_deploy, &sel("new")), Err(CallError::Trapped));
    assert!(test::storage_entries(&test::CONTRACT).is_empty());
    assert_eq!(test::balance_of(&a.alice), ITEM + 12 * BYTE);
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), 0);
    assert!(test::debug_messages()
        .iter()
        .any(|m| m.contains("storage deposit not paid")));
}

#[test]
fn a_nested_callee_storage_is_paid_by_the_origin_not_the_calling_contract() {
    let a = accounts();
    let callee = AccountId([0xee; 32]);
    test::set_economics(Economics::CHAIN);
    test::set_balance(&a.alice, UNIT);
    test::set_balance(&test::CONTRACT, UNIT);
    test::register_contract(callee, Hash([1; 32]), Bank::__watt_call);
    test::execute_as(a.alice, callee, 0, Bank::__watt_deploy, &sel("new")).unwrap();
    let alice = test::balance_of(&a.alice);
    assert_eq!(alice, UNIT - (ITEM + 13 * BYTE));

    // The test frame is CONTRACT called by alice, the origin.
    let r: Result<(), u8> = CallBuilder::new(callee, selector!("put"))
        .arg(&1u32)
        .arg(&vec![0u8; 10])
        .invoke()
        .unwrap();
    assert_eq!(r, Ok(()));
    assert_eq!(test::balance_of(&a.alice), alice - (ITEM + 19 * BYTE));
    assert_eq!(test::balance_of(&test::CONTRACT), UNIT);
    assert_eq!(test::storage_deposit_of(&callee), 2 * ITEM + 32 * BYTE);

    // A callee that reverts pays nothing.
    let r = CallBuilder::new(callee, selector!("put_pay_then_fail"))
        .arg(&2u32)
        .arg(&a.bob)
        .arg(&0u128)
        .invoke_raw();
    assert!(matches!(r, Err(CallError::Reverted(_))));
    assert_eq!(test::balance_of(&a.alice), alice - (ITEM + 19 * BYTE));
}

#[test]
fn a_refund_to_an_empty_payer_below_the_ed_stays_held_for_it_and_a_charge_reaps() {
    let a = accounts();
    test::set_economics(Economics::CHAIN);
    test::set_balance(&a.alice, UNIT);
    test::execute(Bank::__watt_deploy, &sel("new")).unwrap();
    let alices = ITEM + 13 * BYTE;

    // Bob, holding exactly the ED, pays for 20 bytes of note: left below the ED, his account
    // is reaped; he is their payer of record.
    test::set_caller(a.bob);
    test::set_balance(&a.bob, ED);
    run("set_note", vec![1u8; 20]).unwrap();
    assert_eq!(test::balance_of(&a.bob), 0);
    assert_eq!(test::deposit_share(&test::CONTRACT, &a.bob), 20 * BYTE);
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), alices + 20 * BYTE);

    // Bob, holding nothing, frees them: 20 * BYTE is below the ED, so it cannot create his
    // account; the deposit stays held, and still his.
    run("set_note", Vec::<u8>::new()).unwrap();
    assert_eq!(test::balance_of(&a.bob), 0);
    assert_eq!(test::deposit_share(&test::CONTRACT, &a.bob), 20 * BYTE);
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), alices + 20 * BYTE);

    // Once his account exists (any balance will do), his share comes back when the contract
    // terminates; alice gets hers, the beneficiary (charlie) nothing of either.
    test::set_balance(&a.bob, 1);
    assert_eq!(run("close", a.charlie), Ok(vec![]));
    assert_eq!(test::balance_of(&a.bob), 1 + 20 * BYTE);
    assert_eq!(test::balance_of(&a.alice), UNIT);
    assert_eq!(test::balance_of(&a.charlie), 0);
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), 0);
}

#[test]
fn a_signer_who_paid_nothing_is_refunded_nothing() {
    let a = accounts();
    test::set_economics(Economics::CHAIN);
    test::set_balance(&a.alice, UNIT);
    test::set_balance(&a.bob, UNIT);
    test::execute(Bank::__watt_deploy, &sel("new")).unwrap();
    run("put", (1u32, vec![0u8; 10])).unwrap();
    let alices = (ITEM + 13 * BYTE) + (ITEM + 19 * BYTE);
    assert_eq!(test::balance_of(&a.alice), UNIT - alices);

    // Bob frees alice's entry (ITEM + 19 * BYTE): he paid nothing into the contract, so he
    // gets nothing; the deposit stays held, all of it alice's.
    test::set_caller(a.bob);
    run("remove", 1u32).unwrap();
    assert_eq!(test::storage_entries(&test::CONTRACT).len(), 1, "the entry is gone");
    assert_eq!(test::balance_of(&a.bob), UNIT);
    assert_eq!(test::deposit_share(&test::CONTRACT, &a.bob), 0);
    assert_eq!(test::deposit_share(&test::CONTRACT, &a.alice), alices);
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), alices);

    // Alice gets all of it back when the contract terminates, whoever signs the terminate.
    assert_eq!(run("close", a.bob), Ok(vec![]));
    assert_eq!(test::balance_of(&a.alice), UNIT);
    assert_eq!(test::balance_of(&a.bob), UNIT);
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), 0);
}

#[test]
fn a_refund_comes_only_out_of_the_signers_share_and_the_rest_stays_held_for_its_payers() {
    let a = accounts();
    test::set_economics(Economics::CHAIN);
    test::set_balance(&a.alice, UNIT);
    test::set_balance(&a.bob, UNIT);
    test::execute(Bank::__watt_deploy, &sel("new")).unwrap();
    run("put", (1u32, vec![0u8; 10])).unwrap();
    let mut alices = (ITEM + 13 * BYTE) + (ITEM + 19 * BYTE);

    // Bob pays for 20 bytes of note: his share is 20 * BYTE.
    test::set_caller(a.bob);
    run("set_note", vec![1u8; 20]).unwrap();
    assert_eq!(test::balance_of(&a.bob), UNIT - 20 * BYTE);
    assert_eq!(test::deposit_share(&test::CONTRACT, &a.bob), 20 * BYTE);

    // He frees alice's entry, worth ITEM + 19 * BYTE: he is refunded his share, 20 * BYTE,
    // and no more; the other ITEM - BYTE stays held for alice.
    run("remove", 1u32).unwrap();
    assert_eq!(test::balance_of(&a.bob), UNIT);
    assert_eq!(test::deposit_share(&test::CONTRACT, &a.bob), 0);
    assert_eq!(test::deposit_share(&test::CONTRACT, &a.alice), alices);
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), alices);

    // Alice frees bob's 20 bytes of note: refunded out of her own share.
    test::set_caller(a.alice);
    run("set_note", Vec::<u8>::new()).unwrap();
    alices -= 20 * BYTE;
    assert_eq!(test::balance_of(&a.alice), UNIT - alices);
    assert_eq!(test::deposit_share(&test::CONTRACT, &a.alice), alices);
    assert_eq!(alices, 2 * ITEM + 12 * BYTE, "held beyond the root's ITEM + 13 * BYTE");

    // Terminating returns the rest of her share: nobody got back more than they paid, and
    // everybody got back all of it.
    assert_eq!(run("close", a.charlie), Ok(vec![]));
    assert_eq!(test::balance_of(&a.alice), UNIT);
    assert_eq!(test::balance_of(&a.bob), UNIT);
    assert_eq!(test::balance_of(&a.charlie), 0);
}

#[test]
fn terminate_sends_the_balance_to_the_beneficiary_and_each_share_to_its_payer() {
    let a = accounts();
    test::set_economics(Economics::CHAIN);
    test::set_balance(&a.alice, UNIT);
    test::set_balance(&a.bob, UNIT);
    test::execute(Bank::__watt_deploy, &sel("new")).unwrap();
    test::set_caller(a.bob);
    run("put", (1u32, vec![0u8; 10])).unwrap();
    assert_eq!(test::deposit_share(&test::CONTRACT, &a.alice), ITEM + 13 * BYTE);
    assert_eq!(test::deposit_share(&test::CONTRACT, &a.bob), ITEM + 19 * BYTE);
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), 2 * ITEM + 32 * BYTE);
    test::set_balance(&test::CONTRACT, ED);

    // Eve, who paid nothing, terminates it in favour of charlie.
    test::set_caller(a.eve);
    assert_eq!(run("close", a.charlie), Ok(vec![]));
    assert_eq!(
        test::balance_of(&a.charlie),
        ED,
        "the balance only, none of the deposit"
    );
    assert_eq!(test::balance_of(&a.alice), UNIT, "alice's share back");
    assert_eq!(test::balance_of(&a.bob), UNIT, "bob's share back");
    assert_eq!(test::balance_of(&a.eve), 0);
    assert_eq!(test::balance_of(&test::CONTRACT), 0);
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), 0);
    assert_eq!(test::deposit_share(&test::CONTRACT, &a.alice), 0);
    assert_eq!(test::deposit_share(&test::CONTRACT, &a.bob), 0);
    assert!(test::storage_entries(&test::CONTRACT).is_empty());
}

#[test]
fn a_share_below_the_ed_owed_to_an_empty_payer_is_not_paid_at_terminate() {
    let a = accounts();
    test::set_economics(Economics::CHAIN);
    test::set_balance(&a.alice, UNIT);
    test::execute(Bank::__watt_deploy, &sel("new")).unwrap();
    // Bob pays 20 * BYTE (below the ED) out of exactly the ED and is reaped.
    test::set_caller(a.bob);
    test::set_balance(&a.bob, ED);
    run("set_note", vec![1u8; 20]).unwrap();
    assert_eq!(test::balance_of(&a.bob), 0);

    assert_eq!(run("close", a.charlie), Ok(vec![]));
    assert_eq!(test::balance_of(&a.bob), 0, "20 * BYTE cannot create his account");
    assert_eq!(test::balance_of(&a.alice), UNIT);
    assert_eq!(test::balance_of(&a.charlie), 0);
    assert_eq!(test::storage_deposit_of(&test::CONTRACT), 0);
}

#[test]
fn a_terminate_its_caller_reverts_refunds_nothing() {
    let a = accounts();
    let callee = AccountId([0xee; 32]);
    test::set_economics(Economics::CHAIN);
    test::set_balance(&a.alice, UNIT);
    test::register_contract(callee, Hash([1; 32]), Bank::__watt_call);
    test::execute_as(a.alice, callee, 0, Bank::__watt_deploy, &sel("new")).unwrap();
    test::set_balance(&callee, ED);
    let alice = UNIT - (ITEM + 13 * BYTE);
    assert_eq!(test::balance_of(&a.alice), alice);

    // The test frame (CONTRACT, signed by alice) has the callee terminate, sees the refund
    // paid at once, then reverts.
    let handler = |_: &[u8]| -> DispatchResult {
        let r = CallBuilder::new(callee, selector!("close"))
            .arg(&a.charlie)
            .invoke_raw();
        assert_eq!(r, Ok(vec![]));
        assert_eq!(test::balance_of(&a.alice), UNIT, "refunded within the call");
        assert_eq!(test::balance_of(&a.charlie), ED);
        Ok(Outcome {
            revert: true,
            output: vec![],
        })
    };
    assert_eq!(test::execute(handler, &sel("any")), Err(CallError::Reverted(vec![])));
    assert!(watt_contract::env::is_contract(&callee));
    assert_eq!(test::balance_of(&a.alice), alice);
    assert_eq!(test::balance_of(&a.charlie), 0);
    assert_eq!(test::balance_of(&callee), ED);
    assert_eq!(test::deposit_share(&callee, &a.alice), ITEM + 13 * BYTE);
    assert_eq!(total_of(&callee), 0);
}

// ---- Existential deposit (item 4) ----

#[test]
fn a_contract_transfer_may_not_leave_it_or_create_an_account_below_the_ed() {
    let a = accounts();
    test::set_economics(Economics::CHAIN);
    test::set_balance(&test::CONTRACT, 3 * ED);
    test::set_balance(&a.bob, ED);
    let mut b = Bank::new();

    // Charlie does not exist: less than the ED cannot create him.
    assert_eq!(b.pay(a.charlie, ED - 1), Err(1));
    assert_eq!(test::balance_of(&a.charlie), 0);
    assert_eq!(b.pay(a.charlie, ED), Ok(()));
    assert_eq!(test::balance_of(&a.charlie), ED);

    // The contract keeps its ED.
    assert_eq!(b.pay(a.bob, ED + 1), Err(1));
    assert_eq!(test::balance_of(&test::CONTRACT), 2 * ED);
    assert_eq!(b.pay(a.bob, ED), Ok(()));
    assert_eq!(test::balance_of(&test::CONTRACT), ED);
    assert_eq!(test::balance_of(&a.bob), 2 * ED);
    assert_eq!(
        watt_contract::env::transfer(&a.bob, 1),
        Err(watt_contract::Error::TransferFailed)
    );

    // Without an ED the same transfer goes through.
    test::set_economics(Economics::NONE);
    assert_eq!(b.pay(a.bob, 1), Ok(()));
}

#[test]
fn value_a_contract_sends_with_a_call_keeps_its_ed_but_the_origin_may_be_reaped() {
    let a = accounts();
    let callee = AccountId([0xdd; 32]);
    test::set_economics(Economics::CHAIN);
    test::register_contract(callee, Hash([2; 32]), |_: &[u8]| -> DispatchResult {
        Ok(Outcome::success(vec![]))
    });

    // A contract paying value keeps its ED.
    test::set_balance(&test::CONTRACT, ED + 5);
    assert_eq!(
        CallBuilder::new(callee, selector!("any")).value(6).invoke_raw(),
        Err(CallError::TransferFailed)
    );
    assert_eq!(
        CallBuilder::new(callee, selector!("any")).value(ED).invoke_raw(),
        Err(CallError::TransferFailed),
        "5 left would be below the ED"
    );
    assert_eq!(test::balance_of(&test::CONTRACT), ED + 5);

    // The transaction's signer may spend below the ED, and is reaped.
    test::set_balance(&a.bob, ED + 5);
    let handler = |_: &[u8]| -> DispatchResult { Ok(Outcome::success(vec![])) };
    assert_eq!(test::execute_as(a.bob, callee, ED + 1, handler, &[0; 4]), Ok(vec![]));
    assert_eq!(test::balance_of(&a.bob), 0, "4 left is below the ED: reaped");
    assert_eq!(test::balance_of(&callee), ED + 1);
}

#[test]
fn instantiate_endows_the_new_contract_with_the_ed_from_the_origin() {
    const CODE: Hash = Hash([5; 32]);
    let a = accounts();
    test::set_economics(Economics::CHAIN);
    test::register_code(
        CODE,
        |_: &[u8]| -> DispatchResult { Ok(Outcome::success(vec![])) },
        |_: &[u8]| -> DispatchResult { Ok(Outcome::success(vec![])) },
    );
    test::set_balance(&a.alice, UNIT);
    let (new, _) = InstantiateBuilder::new(CODE, Selector::new([0; 4]))
        .salt(b"one")
        .instantiate()
        .unwrap();
    assert_eq!(test::balance_of(&new), ED);
    assert_eq!(test::balance_of(&a.alice), UNIT - ED);
    assert_eq!(test::balance_of(&test::CONTRACT), 0);

    // An origin that cannot endow it: the instantiation fails and leaves nothing.
    test::set_balance(&a.alice, ED - 1);
    let r = InstantiateBuilder::new(CODE, Selector::new([0; 4]))
        .salt(b"two")
        .instantiate();
    assert_eq!(r, Err(CallError::Trapped));
    let would_be = watt_contract::env::contract_address(&test::CONTRACT, &CODE, b"two");
    assert!(!watt_contract::env::is_contract(&would_be));
    assert_eq!(test::balance_of(&a.alice), ED - 1);
}

// ---- Outputs that do not fit (item 3) ----

#[test]
fn a_callee_that_reverts_with_an_output_too_large_is_reported_as_a_revert() {
    let a = accounts();
    let callee = AccountId([0xee; 32]);
    test::register_contract(callee, Hash([1; 32]), Bank::__watt_call);
    test::execute_as(a.alice, callee, 0, Bank::__watt_deploy, &sel("new")).unwrap();
    let call = |fail: bool, capacity: usize| {
        CallBuilder::new(callee, selector!("output"))
            .arg(&40u32)
            .arg(&fail)
            .output_capacity(capacity)
            .invoke_raw()
    };

    // SCALE(Err(vec![7; 40])): 1 byte for Err, 1 for the compact length, 40 bytes.
    let r = call(true, 8);
    assert_eq!(r, Err(CallError::RevertedOutputTooLarge { needed: 42 }));
    assert!(r.unwrap_err().is_revert());
    assert_eq!(total_of(&callee), 0, "the reverted callee's write is undone");

    // A callee that succeeded: its output did not fit, its write stands.
    let r = call(false, 8);
    assert_eq!(r, Err(CallError::OutputTooLarge { needed: 42 }));
    assert!(!r.unwrap_err().is_revert());
    assert_eq!(total_of(&callee), 1);

    // Room for it: the revert data itself.
    let r = call(true, 42);
    assert_eq!(
        r,
        Err(CallError::Reverted(Err::<Vec<u8>, Vec<u8>>(vec![7; 40]).encode()))
    );
    assert_eq!(r.unwrap_err().revert_error::<Vec<u8>, Vec<u8>>(), Some(vec![7; 40]));
    assert_eq!(total_of(&callee), 1);
}

#[test]
fn instantiate_tells_a_reverted_constructor_from_a_successful_one_when_the_output_does_not_fit() {
    const CODE: Hash = Hash([6; 32]);
    test::register_code(
        CODE,
        // Selector 0x01010101 reverts, any other succeeds; both answer 100 bytes.
        |input: &[u8]| -> DispatchResult {
            Ok(Outcome {
                revert: input[..4] == [1, 1, 1, 1],
                output: vec![1; 100],
            })
        },
        |_: &[u8]| -> DispatchResult { Ok(Outcome::success(vec![])) },
    );
    // The address, computed independently of the SDK.
    let address = |salt: &[u8]| {
        use blake2::digest::consts::U32;
        use blake2::{Blake2b, Digest};
        let mut pre = b"watt:contract".to_vec();
        pre.extend(test::CONTRACT.0);
        pre.extend(CODE.0);
        pre.extend(salt);
        AccountId(Blake2b::<U32>::digest(&pre).into())
    };
    assert_eq!(
        watt_contract::env::contract_address(&test::CONTRACT, &CODE, b"a"),
        address(b"a")
    );

    let r = InstantiateBuilder::new(CODE, Selector::new([1; 4]))
        .salt(b"a")
        .output_capacity(10)
        .instantiate();
    assert_eq!(r, Err(CallError::RevertedOutputTooLarge { needed: 100 }));
    assert!(!watt_contract::env::is_contract(&address(b"a")));

    let r = InstantiateBuilder::new(CODE, Selector::new([2; 4]))
        .salt(b"b")
        .output_capacity(10)
        .instantiate();
    assert_eq!(r, Err(CallError::OutputTooLarge { needed: 100 }));
    assert!(watt_contract::env::is_contract(&address(b"b")));
}
