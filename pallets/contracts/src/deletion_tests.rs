//! The deletion queue and `cancel_upload`'s weight, at the pallet level (hand-computed
//! expectations; the whole path through the runtime is in `runtime/tests/contracts.rs`).

use super::*;
use watt_support::externalities::{execute_with, MemoryExternalities};

const A: AccountId = AccountId([1; 32]);
const B: AccountId = AccountId([2; 32]);
const ALICE: AccountId = AccountId([10; 32]);
const BOB: AccountId = AccountId([11; 32]);
const DEPLOYER: AccountId = AccountId([12; 32]);

fn info(storage_items: u32, deposit: Balance) -> ContractInfo {
    ContractInfo {
        code_hash: [3; 32],
        deployer: DEPLOYER,
        storage_items,
        storage_bytes: 0,
        deposit,
        code_len: 0,
    }
}

fn keys_of(ext: &MemoryExternalities, c: &AccountId) -> usize {
    let prefix = contract_storage_prefix(c);
    ext.state.keys().filter(|k| k.starts_with(&prefix)).count()
}

fn step(ext: MemoryExternalities, budget: u32) -> (MemoryExternalities, u32, Vec<Event>) {
    let (ext, (work, events)) = execute_with(ext, || {
        let mut events = Vec::new();
        let work = process_deletions(budget, &mut events, &mut Vec::new());
        (work, events)
    });
    (ext, work, events)
}

#[test]
fn the_deletion_queue_refunds_shares_then_deletes_within_its_budget_first_in_first_out() {
    let (ext, ()) = execute_with(MemoryExternalities::default(), || {
        pallet_balances::build_genesis(
            &[
                (contract_deposit_account(), 10_000),
                (ALICE, 1_000),
                (BOB, 1_000),
                (DEPLOYER, 1_000),
            ],
            1,
        );
        // A: five items, the empty key (the prefix itself) among them; shares of 300 and 200.
        let a = contract_storage_prefix(&A);
        for key in [&[][..], &[1], &[2], &[3], &[4]] {
            host::storage_set(&[&a[..], key].concat(), b"v");
        }
        Deposits::insert(&A, &ALICE, &300);
        Deposits::insert(&A, &BOB, &200);
        queue_deletion(&A, &info(5, 500));
        // B: three items and a deposit of 50 no share accounts for.
        let b = contract_storage_prefix(&B);
        for key in [[1u8], [2], [3]] {
            host::storage_set(&[&b[..], &key[..]].concat(), b"v");
        }
        queue_deletion(&B, &info(3, 50));
    });
    let free = |ext: MemoryExternalities, who: AccountId| execute_with(ext, || pallet_balances::free(&who));

    // 4 units: A's entry, its two shares, its empty key.
    let (ext, work, events) = step(ext, 4);
    assert_eq!((work, events.len()), (4, 0));
    assert_eq!((keys_of(&ext, &A), keys_of(&ext, &B)), (4, 3));
    let (ext, alice) = free(ext, ALICE);
    let (ext, bob) = free(ext, BOB);
    assert_eq!((alice, bob), (1_300, 1_200));
    let (ext, d) = execute_with(ext, || pending_deletion(&A).unwrap());
    assert_eq!((d.items_left, d.deposit_left), (4, 0));

    // A's entry and three items.
    let (ext, work, events) = step(ext, 4);
    assert_eq!((work, events.len()), (4, 0));
    assert_eq!(keys_of(&ext, &A), 1);

    // A's entry and last item (A is done), then B's entry (its 50 to the deployer) and one item.
    let (ext, work, events) = step(ext, 4);
    assert_eq!(work, 4);
    assert_eq!(events, alloc::vec![Event::StorageDeleted { contract: A }]);
    assert_eq!((keys_of(&ext, &A), keys_of(&ext, &B)), (0, 2));
    let (ext, deployer) = free(ext, DEPLOYER);
    assert_eq!(deployer, 1_050);
    let (ext, (a_left, a_shares)) = execute_with(ext, || (pending_deletion(&A), Deposits::iter_prefix(&A)));
    assert_eq!((a_left, a_shares.len()), (None, 0));

    // B's entry and two items; then the queue is empty.
    let (ext, work, events) = step(ext, 100);
    assert_eq!(work, 3);
    assert_eq!(events, alloc::vec![Event::StorageDeleted { contract: B }]);
    assert_eq!(keys_of(&ext, &B), 0);
    let (ext, work, _) = step(ext, 100);
    assert_eq!(work, 0);
    let (ext, held) = free(ext, contract_deposit_account());
    assert_eq!(held, 10_000 - 550);
    let (_, bounds) = execute_with(ext, DeletionBounds::get);
    assert_eq!(bounds, Some((2, 2)));
}

#[test]
fn cancel_upload_declares_the_largest_upload_and_weighs_what_it_read() {
    // 100,000 + 20 per byte of the largest upload a schedule allows (512 KiB).
    assert_eq!(
        weight(&Call::CancelUpload { code_hash: [0; 32] }),
        100_000 + 20 * 524_288
    );
    assert_eq!(cancel_upload_weight(10_000), 300_000);
    assert_eq!(cancel_upload_weight(0), 100_000);
}
