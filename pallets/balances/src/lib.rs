//! The balances pallet: free balances, transfers, the existential deposit, and fee withdrawal
//! into the fee pool.
//!
//! # Existential deposit and reaping
//! An account exists while its free balance is at least the existential deposit (ED, a chain
//! parameter). A transfer may not create an account with less than the ED. When a `transfer` or
//! a fee payment leaves an account below the ED, the account is reaped: its balance record is
//! deleted and the remainder ("dust") goes to the fee pool, so total issuance never changes by
//! rounding. `transfer_keep_alive` refuses instead of reaping the sender. Module accounts (the
//! fee pool, rewards pot, storage pool, team reserve and pledge account:
//! `watt_primitives::is_module_account`) are exempt from the ED. Nonces live in the system
//! pallet and survive reaping.
//!
//! # Issuance
//! Only [`mint`] and [`burn`] change `TotalIssuance`, and always together with one balance, so
//! `TotalIssuance` equals the sum of all balances at every step. The cap is the rewards pallet's
//! business: it never asks to mint past it.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use parity_scale_codec::{Compact, Decode, Encode};
use watt_primitives::{fee_pool_account, is_module_account, AccountId, Balance};
use watt_support::dispatch::{DispatchResult, PalletError, Weight};
use watt_support::{storage_instance, StorageMap, StorageValue};

storage_instance!(
    /// Free balance per account.
    FreePrefix,
    b"balances/free"
);
storage_instance!(
    /// Sum of all balances.
    IssuancePrefix,
    b"balances/total_issuance"
);
storage_instance!(
    /// The existential deposit.
    EdPrefix,
    b"balances/existential_deposit"
);

/// Every storage prefix of this pallet.
pub const STORAGE_PREFIXES: &[&[u8]] = &[
    b"balances/free",
    b"balances/total_issuance",
    b"balances/existential_deposit",
];

/// Account -> free balance. Absent means zero (and the account does not exist).
pub type Free = StorageMap<FreePrefix, AccountId, Balance>;
/// Total issuance.
pub type TotalIssuance = StorageValue<IssuancePrefix, Balance>;
/// Existential deposit.
pub type ExistentialDeposit = StorageValue<EdPrefix, Balance>;

/// Weight of a transfer: two balance reads and writes plus the signer's nonce.
pub const TRANSFER_WEIGHT: Weight = 200_000;

/// Calls of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Moves `value` to `dest`; may reap the sender.
    #[codec(index = 0)]
    Transfer {
        /// Receiver.
        dest: AccountId,
        /// Amount.
        value: Compact<Balance>,
    },
    /// Moves `value` to `dest`, refusing if the sender would fall below the ED.
    #[codec(index = 1)]
    TransferKeepAlive {
        /// Receiver.
        dest: AccountId,
        /// Amount.
        value: Compact<Balance>,
    },
}

/// Events of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// A transfer happened.
    #[codec(index = 0)]
    Transfer {
        from: AccountId,
        to: AccountId,
        amount: Balance,
    },
    /// An account came into existence with this balance.
    #[codec(index = 1)]
    Endowed { account: AccountId, free: Balance },
    /// An account fell below the ED and was removed; `dust` went to the fee pool.
    #[codec(index = 2)]
    Reaped { account: AccountId, dust: Balance },
    /// A transaction fee (with tip) went to the fee pool.
    #[codec(index = 3)]
    FeePaid { who: AccountId, amount: Balance },
    /// New tokens were issued into a (module) account.
    #[codec(index = 4)]
    Minted { account: AccountId, amount: Balance },
    /// Tokens were destroyed from an account.
    #[codec(index = 5)]
    Burned { account: AccountId, amount: Balance },
}

impl watt_support::EventTopics for Event {
    fn topics(&self) -> Vec<[u8; 32]> {
        match self {
            Event::Transfer { from, to, .. } => alloc::vec![from.0, to.0],
            Event::Endowed { account, .. }
            | Event::Reaped { account, .. }
            | Event::Minted { account, .. }
            | Event::Burned { account, .. } => alloc::vec![account.0],
            Event::FeePaid { who, .. } => alloc::vec![who.0],
        }
    }
}

watt_support::pallet_error!(
    "balances",
    /// Why a call of this pallet failed.
    pub enum Error {
        /// The sender's free balance is below the amount.
        InsufficientBalance,
        /// The transfer would create an account below the existential deposit.
        ExistentialDeposit,
        /// `transfer_keep_alive` would leave the sender below the existential deposit.
        KeepAlive,
        /// The receiver's balance would overflow.
        Overflow,
    }
);

/// Weight of a call.
pub fn weight(call: &Call) -> Weight {
    match call {
        Call::Transfer { .. } | Call::TransferKeepAlive { .. } => TRANSFER_WEIGHT,
    }
}

/// Executes a call signed by `origin`.
pub fn dispatch(origin: &AccountId, call: Call, events: &mut Vec<Event>) -> DispatchResult {
    let r = match call {
        Call::Transfer { dest, value } => transfer(origin, &dest, value.0, false, events),
        Call::TransferKeepAlive { dest, value } => transfer(origin, &dest, value.0, true, events),
    };
    r.map_err(PalletError::into_dispatch_error)
}

/// Free balance of `who`.
pub fn free(who: &AccountId) -> Balance {
    Free::get(who).unwrap_or(0)
}

/// The existential deposit: the least an account may hold (module accounts excepted).
pub fn existential_deposit() -> Balance {
    ExistentialDeposit::get().unwrap_or(0)
}

/// Sets a balance, reaping below the ED (except the fee pool). Returns the dust removed.
fn set_free(who: &AccountId, amount: Balance, events: &mut Vec<Event>) -> Balance {
    if amount == 0 || (amount < existential_deposit() && !is_module_account(who)) {
        let existed = Free::contains(who);
        Free::remove(who);
        if existed {
            events.push(Event::Reaped {
                account: *who,
                dust: amount,
            });
        }
        amount
    } else {
        Free::insert(who, &amount);
        0
    }
}

/// Credits the fee pool; cannot fail (issuance bounds every balance).
fn credit_fee_pool(amount: Balance) {
    let pool = fee_pool_account();
    Free::insert(&pool, &free(&pool).saturating_add(amount));
}

/// Moves `value` from `from` to `to` under the ED rules above.
pub fn transfer(
    from: &AccountId,
    to: &AccountId,
    value: Balance,
    keep_alive: bool,
    events: &mut Vec<Event>,
) -> Result<(), Error> {
    let from_free = free(from);
    let remaining = from_free.checked_sub(value).ok_or(Error::InsufficientBalance)?;
    let ed = existential_deposit();
    if keep_alive && remaining < ed {
        return Err(Error::KeepAlive);
    }
    if from == to {
        events.push(Event::Transfer {
            from: *from,
            to: *to,
            amount: value,
        });
        return Ok(());
    }
    let to_free = free(to);
    let to_new = to_free.checked_add(value).ok_or(Error::Overflow)?;
    if to_free == 0 && to_new < ed && !is_module_account(to) {
        return Err(Error::ExistentialDeposit);
    }
    let dust = set_free(from, remaining, events);
    // Credit the receiver before the dust: when the receiver is the fee pool itself, `to_new`
    // was computed before the dust arrived, and writing it afterwards would destroy the dust.
    Free::insert(to, &to_new);
    if dust > 0 {
        credit_fee_pool(dust);
    }
    if to_free == 0 {
        events.push(Event::Endowed {
            account: *to,
            free: to_new,
        });
    }
    events.push(Event::Transfer {
        from: *from,
        to: *to,
        amount: value,
    });
    Ok(())
}

/// Takes `fee` from `who` into the fee pool; reaps `who` if the rest is below the ED (the dust
/// joins the fee). Returns the total moved, or `Err(free)` when the balance cannot pay.
pub fn withdraw_fee(who: &AccountId, fee: Balance, events: &mut Vec<Event>) -> Result<Balance, Balance> {
    let current = free(who);
    let remaining = current.checked_sub(fee).ok_or(current)?;
    let dust = set_free(who, remaining, events);
    let moved = fee + dust;
    credit_fee_pool(moved);
    events.push(Event::FeePaid { who: *who, amount: fee });
    Ok(moved)
}

/// Issues `amount` new tokens into `who` (a module account: the rewards pot, storage pool or
/// team reserve). `Err(Overflow)` changes nothing.
pub fn mint(who: &AccountId, amount: Balance, events: &mut Vec<Event>) -> Result<(), Error> {
    if amount == 0 {
        return Ok(());
    }
    let issuance = TotalIssuance::get().unwrap_or(0);
    let new_issuance = issuance.checked_add(amount).ok_or(Error::Overflow)?;
    let new_free = free(who).checked_add(amount).ok_or(Error::Overflow)?;
    Free::insert(who, &new_free);
    TotalIssuance::put(&new_issuance);
    events.push(Event::Minted { account: *who, amount });
    Ok(())
}

/// Destroys `amount` of `who`'s balance (revoked rewards, slashed pledges).
/// `Err(InsufficientBalance)` changes nothing.
pub fn burn(who: &AccountId, amount: Balance, events: &mut Vec<Event>) -> Result<(), Error> {
    if amount == 0 {
        return Ok(());
    }
    let remaining = free(who).checked_sub(amount).ok_or(Error::InsufficientBalance)?;
    let dust = set_free(who, remaining, events);
    if dust > 0 {
        credit_fee_pool(dust);
    }
    TotalIssuance::put(&TotalIssuance::get().unwrap_or(0).saturating_sub(amount));
    events.push(Event::Burned { account: *who, amount });
    Ok(())
}

/// Total issuance.
pub fn total_issuance() -> Balance {
    TotalIssuance::get().unwrap_or(0)
}

/// Writes the genesis balances and ED.
pub fn build_genesis(balances: &[(AccountId, Balance)], existential_deposit: Balance) {
    ExistentialDeposit::put(&existential_deposit);
    let mut issuance: Balance = 0;
    for (who, amount) in balances {
        Free::insert(who, amount);
        issuance = issuance.saturating_add(*amount);
    }
    TotalIssuance::put(&issuance);
}

#[cfg(test)]
mod tests {
    use super::*;
    use watt_support::externalities::{execute_with, MemoryExternalities};

    const ED: Balance = 100;
    fn a(n: u8) -> AccountId {
        AccountId([n; 32])
    }
    fn with_genesis(f: impl FnOnce()) {
        execute_with(MemoryExternalities::default(), || {
            build_genesis(&[(a(1), 1_000), (a(2), 500)], ED);
            f()
        });
    }
    fn sum() -> Balance {
        Free::iter().iter().map(|(_, b)| *b).sum()
    }

    #[test]
    fn transfer_moves_funds_and_endows() {
        with_genesis(|| {
            let mut ev = Vec::new();
            transfer(&a(1), &a(3), 300, false, &mut ev).unwrap();
            assert_eq!((free(&a(1)), free(&a(3))), (700, 300));
            assert!(ev.contains(&Event::Endowed {
                account: a(3),
                free: 300
            }));
            assert_eq!(sum(), TotalIssuance::get().unwrap());
        });
    }

    #[test]
    fn transfer_refusals() {
        with_genesis(|| {
            let mut ev = Vec::new();
            assert_eq!(
                transfer(&a(1), &a(2), 1_001, false, &mut ev),
                Err(Error::InsufficientBalance)
            );
            assert_eq!(
                transfer(&a(1), &a(3), ED - 1, false, &mut ev),
                Err(Error::ExistentialDeposit)
            );
            assert_eq!(transfer(&a(1), &a(2), 950, true, &mut ev), Err(Error::KeepAlive));
            assert_eq!((free(&a(1)), free(&a(2))), (1_000, 500), "refusals change nothing");
        });
    }

    #[test]
    fn transfer_below_ed_reaps_sender_and_dust_goes_to_pool() {
        with_genesis(|| {
            let mut ev = Vec::new();
            transfer(&a(1), &a(2), 950, false, &mut ev).unwrap();
            assert!(!Free::contains(&a(1)));
            assert_eq!(free(&fee_pool_account()), 50);
            assert!(ev.contains(&Event::Reaped {
                account: a(1),
                dust: 50
            }));
            assert_eq!(sum(), TotalIssuance::get().unwrap(), "issuance preserved");
        });
    }

    #[test]
    fn fees_go_to_pool_and_can_reap() {
        with_genesis(|| {
            let mut ev = Vec::new();
            assert_eq!(withdraw_fee(&a(2), 600, &mut ev), Err(500));
            assert_eq!(withdraw_fee(&a(2), 10, &mut ev), Ok(10));
            assert_eq!(free(&fee_pool_account()), 10);
            // 490 left; a fee of 400 leaves 90 < ED: reaped, all 490 to the pool.
            assert_eq!(withdraw_fee(&a(2), 400, &mut ev), Ok(490));
            assert_eq!(free(&fee_pool_account()), 500);
            assert!(!Free::contains(&a(2)));
            assert_eq!(sum(), TotalIssuance::get().unwrap());
        });
    }
}
