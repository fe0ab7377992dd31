//! The pledge pallet: bond WATT for mining rights, unbond with an unbonding period, withdraw,
//! and the slashing interface the storage module calls.
//!
//! One pledge unit costs `watt_per_unit` (economy parameters) and buys 1 TiB of pledge-mining
//! rights plus 1 TiB of storage-mining rights. Bonded funds sit in the keyless pledge account.
//! `unbond` moves units out of the bond at once (they stop earning) and their funds become
//! withdrawable `unbonding_days` days later; `withdraw` returns every chunk that is due.
//!
//! Validators (chain spec; Root changes the set) earn the validator share of a day for each
//! block they author while they hold at least `min_validator_units`; a registered validator
//! cannot unbond below that minimum (Root removes it from the set first).
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use pallet_balances as balances;
use pallet_rewards as rewards;
use parity_scale_codec::{Decode, Encode};
use watt_primitives::economy::{PledgeInfo, Role};
use watt_primitives::{pledge_account, AccountId, Balance};
use watt_support::dispatch::{DispatchResult, PalletError, Weight};
use watt_support::{mul_div, storage_instance, BlockContext, Hooks, Origin, StorageMap, StorageValue};

/// Most unbonding chunks an account may have waiting: bounds the ledger's size.
pub const MAX_UNBONDING_CHUNKS: usize = 32;

storage_instance!(LedgerPrefix, b"pledge/ledger");
storage_instance!(ValidatorsPrefix, b"pledge/validators");

/// Every storage prefix of this pallet.
pub const STORAGE_PREFIXES: &[&[u8]] = &[b"pledge/ledger", b"pledge/validators"];

/// Account -> its pledge.
pub type Ledgers = StorageMap<LedgerPrefix, AccountId, Ledger>;
/// Registered validators.
pub type Validators = StorageValue<ValidatorsPrefix, Vec<AccountId>>;

/// An account's pledge.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct Ledger {
    /// Units bonded.
    pub units: u64,
    /// Funds bonded for them.
    pub bonded: Balance,
    /// (day withdrawable from, amount), oldest first.
    pub unbonding: Vec<(u64, Balance)>,
}

/// Calls of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Bonds `units * watt_per_unit` of the signer's balance for `units` units.
    #[codec(index = 0)]
    Bond {
        /// Units to add.
        units: u64,
    },
    /// Starts unbonding `units` units.
    #[codec(index = 1)]
    Unbond {
        /// Units to remove.
        units: u64,
    },
    /// Returns every unbonded chunk whose period is over.
    #[codec(index = 2)]
    Withdraw,
    /// Root: replaces the validator set.
    #[codec(index = 3)]
    SetValidators {
        /// The new set.
        validators: Vec<AccountId>,
    },
}

/// Events of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// `who` bonded `units` for `amount`.
    #[codec(index = 0)]
    Bonded {
        who: AccountId,
        units: u64,
        amount: Balance,
    },
    /// `who` started unbonding.
    #[codec(index = 1)]
    Unbonded {
        who: AccountId,
        units: u64,
        amount: Balance,
        /// The day it becomes withdrawable.
        withdrawable_day: u64,
    },
    /// `who` got back `amount`.
    #[codec(index = 2)]
    Withdrawn { who: AccountId, amount: Balance },
    /// `who` lost `amount` of its pledge (burned).
    #[codec(index = 3)]
    Slashed { who: AccountId, amount: Balance },
    /// Root replaced the validator set.
    #[codec(index = 4)]
    ValidatorsSet { count: u32 },
}

impl watt_support::EventTopics for Event {
    fn topics(&self) -> Vec<[u8; 32]> {
        match self {
            Event::Bonded { who, .. }
            | Event::Unbonded { who, .. }
            | Event::Withdrawn { who, .. }
            | Event::Slashed { who, .. } => alloc::vec![who.0],
            Event::ValidatorsSet { .. } => Vec::new(),
        }
    }
}

watt_support::pallet_error!(
    "pledge",
    /// Why a call of this pallet failed.
    pub enum Error {
        /// Zero units.
        ZeroUnits,
        /// The signer's balance cannot cover the bond (and keep the account alive).
        InsufficientBalance,
        /// Fewer units bonded than asked to unbond.
        InsufficientUnits,
        /// Too many unbonding chunks waiting; withdraw first.
        TooManyChunks,
        /// No unbonding chunk is due yet.
        NothingToWithdraw,
        /// A registered validator may not go below the minimum pledge.
        ValidatorMinimum,
        /// The amount overflows.
        Overflow,
    }
);

/// Weight of a call.
pub fn weight(call: &Call) -> Weight {
    match call {
        Call::Bond { .. } | Call::Unbond { .. } => 300_000,
        Call::Withdraw => 300_000,
        Call::SetValidators { validators } => 50_000 + 1_000 * validators.len() as Weight,
    }
}

/// Executes a call.
pub fn dispatch<E: From<Event> + From<balances::Event>>(
    origin: Origin,
    call: Call,
    out: &mut Vec<E>,
) -> DispatchResult {
    let signer = origin.ensure_signed();
    watt_support::dispatch::collect_events(out, |events, bev| {
        let r = match call {
            Call::Bond { units } => bond(&signer?, units, events, bev),
            Call::Unbond { units } => unbond(&signer?, units, events),
            Call::Withdraw => withdraw(&signer?, events, bev),
            Call::SetValidators { validators } => {
                origin.ensure_root()?;
                events.push(Event::ValidatorsSet {
                    count: validators.len() as u32,
                });
                Validators::put(&validators);
                Ok(())
            }
        };
        r.map_err(PalletError::into_dispatch_error)
    })
}

/// The ledger of `who`.
pub fn ledger(who: &AccountId) -> Ledger {
    Ledgers::get(who).unwrap_or_default()
}

fn put_ledger(who: &AccountId, l: &Ledger) {
    if l.units == 0 && l.bonded == 0 && l.unbonding.is_empty() {
        Ledgers::remove(who);
    } else {
        Ledgers::insert(who, l);
    }
}

/// Whether `who` is a registered validator.
pub fn is_validator(who: &AccountId) -> bool {
    Validators::get().unwrap_or_default().contains(who)
}

/// Bonds `units` for `who`.
pub fn bond(who: &AccountId, units: u64, events: &mut Vec<Event>, bev: &mut Vec<balances::Event>) -> Result<(), Error> {
    if units == 0 {
        return Err(Error::ZeroUnits);
    }
    let amount = rewards::params()
        .watt_per_unit
        .checked_mul(units as u128)
        .ok_or(Error::Overflow)?;
    balances::transfer(who, &pledge_account(), amount, true, bev).map_err(|_| Error::InsufficientBalance)?;
    let mut l = ledger(who);
    l.units = l.units.checked_add(units).ok_or(Error::Overflow)?;
    l.bonded += amount;
    put_ledger(who, &l);
    rewards::pledge_units_changed(who, l.units);
    events.push(Event::Bonded {
        who: *who,
        units,
        amount,
    });
    Ok(())
}

fn unbond(who: &AccountId, units: u64, events: &mut Vec<Event>) -> Result<(), Error> {
    if units == 0 {
        return Err(Error::ZeroUnits);
    }
    let params = rewards::params();
    let mut l = ledger(who);
    if units > l.units {
        return Err(Error::InsufficientUnits);
    }
    if is_validator(who) && l.units - units < params.min_validator_units {
        return Err(Error::ValidatorMinimum);
    }
    if l.unbonding.len() >= MAX_UNBONDING_CHUNKS {
        return Err(Error::TooManyChunks);
    }
    // Proportional to what was bonded, so a changed `watt_per_unit` or a slash is shared
    // fairly between the units that stay and those that leave.
    let amount = mul_div(l.bonded, units as u128, l.units as u128);
    l.units -= units;
    l.bonded -= amount;
    let withdrawable_day = rewards::today() + params.unbonding_days as u64;
    l.unbonding.push((withdrawable_day, amount));
    put_ledger(who, &l);
    rewards::pledge_units_changed(who, l.units);
    events.push(Event::Unbonded {
        who: *who,
        units,
        amount,
        withdrawable_day,
    });
    Ok(())
}

fn withdraw(who: &AccountId, events: &mut Vec<Event>, bev: &mut Vec<balances::Event>) -> Result<(), Error> {
    let today = rewards::today();
    let mut l = ledger(who);
    let (due, waiting): (Vec<_>, Vec<_>) = l.unbonding.iter().partition(|(day, _)| *day <= today);
    let amount: Balance = due.iter().map(|(_, a)| *a).sum();
    if amount == 0 {
        return Err(Error::NothingToWithdraw);
    }
    balances::transfer(&pledge_account(), who, amount, false, bev).map_err(|_| Error::InsufficientBalance)?;
    l.unbonding = waiting;
    put_ledger(who, &l);
    events.push(Event::Withdrawn { who: *who, amount });
    Ok(())
}

/// Slashes up to `amount` of `who`'s pledge (bonded first, then unbonding chunks, newest
/// first) and burns it; the units shrink in proportion to the bonded funds lost. Returns what
/// was slashed. For the storage module (a sector that fails its proofs).
pub fn slash(who: &AccountId, amount: Balance, events: &mut Vec<Event>, bev: &mut Vec<balances::Event>) -> Balance {
    let mut l = ledger(who);
    let from_bonded = amount.min(l.bonded);
    if from_bonded > 0 {
        let kept_units = mul_div(l.units as u128, l.bonded - from_bonded, l.bonded) as u64;
        l.bonded -= from_bonded;
        l.units = kept_units;
        if l.units == 0 && l.bonded > 0 {
            // No unit left to unbond them with: what remains starts unbonding, so it is not
            // stuck in the pledge account.
            let day = rewards::today() + rewards::params().unbonding_days as u64;
            l.unbonding.push((day, l.bonded));
            l.bonded = 0;
        }
    }
    let mut left = amount - from_bonded;
    while left > 0 {
        let Some(last) = l.unbonding.last_mut() else { break };
        let take = left.min(last.1);
        last.1 -= take;
        left -= take;
        if last.1 == 0 {
            l.unbonding.pop();
        }
    }
    let slashed = amount - left;
    if slashed == 0 || balances::burn(&pledge_account(), slashed, bev).is_err() {
        return 0;
    }
    rewards::record_burn(slashed);
    put_ledger(who, &l);
    rewards::pledge_units_changed(who, l.units);
    events.push(Event::Slashed {
        who: *who,
        amount: slashed,
    });
    slashed
}

/// Genesis: the validator set and bonds (each taken from the account's genesis balance).
pub fn build_genesis(validators: &[AccountId], pledges: &[(AccountId, u64)]) {
    Validators::put(&validators.to_vec());
    for (who, units) in pledges {
        let mut ev = Vec::new();
        let mut bev = Vec::new();
        if let Err(e) = bond(who, *units, &mut ev, &mut bev) {
            panic!("genesis pledge of {units} units cannot be bonded: {e:?}");
        }
    }
}

/// Answer of `Query::Pledge`.
pub fn pledge_info(who: &AccountId) -> PledgeInfo {
    let l = ledger(who);
    PledgeInfo {
        units: l.units,
        bonded: l.bonded,
        unbonding: l.unbonding,
        validator: is_validator(who),
    }
}

/// The pallet's hooks: `on_finalize` gives the block's author one validator share of the day
/// when it is a registered validator holding the minimum pledge.
pub struct Pallet;

impl<E> Hooks<E> for Pallet {
    const NAME: &'static str = "pledge";
    fn on_finalize(block: &BlockContext, _events: &mut Vec<E>) -> DispatchResult {
        let author = block.author;
        if is_validator(&author) && ledger(&author).units >= rewards::params().min_validator_units {
            rewards::add_share(&author, Role::Validator, 1);
        }
        Ok(())
    }
}
