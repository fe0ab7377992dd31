//! The rewards pallet: the supply schedule, the daily mint, the fee pool's daily payout, and
//! claims.
//!
//! # Days
//! A day is `day_blocks` blocks (chain spec; Root may change it). The open day is kept in state
//! (`Today`: its number and first block), so a changed `day_blocks` takes effect from the open
//! day on. The first block that no longer fits the open day closes it in `on_initialize`, before
//! its transactions.
//!
//! # Closing a day: O(1) whatever the number of participants
//! Participants record shares during the day (`add_share`: a check-in, a referral that checked
//! in, a block authored by a pledged validator), each into its own `Pending(account, day)` entry
//! and into the day's totals. Closing the day only reads the totals:
//! 1. The team reserve vests one day's part (linear over `team_vesting_days`).
//! 2. The schedule's daily amount is minted, limited by what the cap leaves:
//!    - phase 1 ([`SupplyPhase::CheckIn`]): `checkin_daily` (less on the phase's last day) split
//!      between pioneers, contributors, ambassadors and validators by `checkin_weights`;
//!    - phase 2 ([`SupplyPhase::PledgeAndStorage`]): `phase2_daily`, `pledge_mining_percent` of
//!      it to pledgers pro rata to units bonded, the rest to the storage reward pool (split into
//!      the server and mobile device classes by `mobile_storage_percent`), which the storage
//!      module pays out by proven space.
//! 3. The fee pool's balance is split between the five roles by `fee_weights`.
//! 4. What each role receives becomes that day's pot for the role: `(amount, shares)`.
//!
//! **A role with no participants that day receives nothing: its part of the schedule is not
//! minted (it stays in the phase's budget, which lasts that much longer) and its part of the fee
//! pool stays in the pool for the next day.** No reward disappears; the issuance is carried
//! forward, never lost.
//!
//! # Claims: O(days unclaimed)
//! `claim` walks the claimant's `Pending` entries of closed days. For each role it takes
//! `amount * mine / shares` of what is left in that day's pot and removes its shares, so the
//! last claimant of a pot takes exactly what is left: rounding never creates tokens and leaves
//! no dust behind. Pledgers are paid through a reward-per-unit accumulator (rounding down; the
//! remainder stays in the pot). Units bonded when a day closes earn that whole day's pledger
//! share; unbonding units stop earning at once.
//!
//! # Revocation
//! When a registrar revokes an attestation, [`cancel_unclaimed`] burns the account's share of
//! every closed day it has not claimed and removes its shares from the open day. The burned
//! amount is recorded (`SupplyInfo::burned`); it lowers the total issuance and is not minted
//! again by the phase that issued it. Pledge rewards are not identity-based and are kept.
//!
//! # Invariants (property-tested in the runtime)
//! Total issuance never exceeds the cap; `TotalIssuance` equals the sum of all balances; the
//! rewards pot always holds at least what is claimable.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use pallet_balances as balances;
use parity_scale_codec::{Decode, Encode};
use watt_primitives::economy::{
    team_reserve_of, DayInfo, EconomyParams, PerRole, RewardsInfo, Role, SupplyInfo, SupplyPhase,
};
use watt_primitives::{
    fee_pool_account, rewards_pot_account, storage_pool_account, team_reserve_account, AccountId, Balance, BlockNumber,
};
use watt_support::dispatch::{DispatchResult, PalletError, Weight};
use watt_support::{
    mul_div, storage_instance, BlockContext, Hooks, Origin, StorageDoubleMap, StorageMap, StorageValue,
};

/// Fixed-point scale of the pledge accumulator (reward per unit * SCALE).
pub const ACC_SCALE: u128 = 1_000_000_000_000;

storage_instance!(ParamsPrefix, b"rewards/params");
storage_instance!(SupplyPrefix, b"rewards/supply");
storage_instance!(TodayPrefix, b"rewards/today");
storage_instance!(PendingPrefix, b"rewards/pending");
storage_instance!(PotPrefix, b"rewards/pot");
storage_instance!(PledgerPrefix, b"rewards/pledger");
storage_instance!(ClaimedPrefix, b"rewards/claimed");

/// Every storage prefix of this pallet (the runtime checks them prefix-free).
pub const STORAGE_PREFIXES: &[&[u8]] = &[
    b"rewards/params",
    b"rewards/supply",
    b"rewards/today",
    b"rewards/pending",
    b"rewards/pot",
    b"rewards/pledger",
    b"rewards/claimed",
];

/// The economy parameters.
pub type Params = StorageValue<ParamsPrefix, EconomyParams>;
/// Supply bookkeeping.
pub type Supply = StorageValue<SupplyPrefix, SupplyState>;
/// The open day.
pub type Today = StorageValue<TodayPrefix, OpenDay>;
/// (account, day) -> shares recorded by the account that day, per role.
pub type Pending = StorageDoubleMap<PendingPrefix, AccountId, u64, PerRole<u64>>;
/// Closed day -> what is left of each role's pot.
pub type Pots = StorageMap<PotPrefix, u64, DayPot>;
/// Account -> pledge accrual state.
pub type Pledgers = StorageMap<PledgerPrefix, AccountId, PledgerState>;
/// Account -> total claimed.
pub type Claimed = StorageMap<ClaimedPrefix, AccountId, Balance>;

/// Supply bookkeeping beside `balances::TotalIssuance`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct SupplyState {
    /// Current phase.
    pub phase: Option<SupplyPhase>,
    /// Minted by check-in mining.
    pub checkin_minted: Balance,
    /// Minted by phase 2.
    pub phase2_minted: Balance,
    /// Burned by revocations and slashing.
    pub burned: Balance,
    /// Storage pool per device class (server, mobile).
    pub storage_pool: (Balance, Balance),
    /// The team reserve minted at genesis.
    pub team_total: Balance,
    /// How much of it has vested.
    pub team_vested: Balance,
    /// Who receives it.
    pub team: Option<AccountId>,
    /// Reward per pledge unit, scaled by [`ACC_SCALE`], since genesis.
    pub pledge_acc: u128,
    /// Pledge units bonded in all.
    pub total_units: u64,
}

/// The open day.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct OpenDay {
    /// Its number (0 from block 1).
    pub day: u64,
    /// Its first block.
    pub start: BlockNumber,
    /// Shares recorded so far, per role (the pledger entry is unused: see `total_units`).
    pub shares: PerRole<u64>,
}

/// What is left of a closed day's pots, per role.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct DayPot {
    /// Amount not yet claimed.
    pub amount: PerRole<Balance>,
    /// Shares not yet claimed.
    pub shares: PerRole<u64>,
}

/// A pledger's accrual.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct PledgerState {
    /// Units bonded.
    pub units: u64,
    /// The accumulator when last settled.
    pub acc: u128,
    /// Settled and not yet claimed.
    pub accrued: Balance,
}

/// Calls of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Pays the signer everything claimable (closed days and pledge accrual).
    #[codec(index = 0)]
    Claim,
    /// Root: replaces the economy parameters.
    #[codec(index = 1)]
    SetParams {
        /// The new parameters (must pass `EconomyParams::check`).
        params: EconomyParams,
    },
}

/// Events of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// A day closed: what was minted and shared.
    #[codec(index = 0)]
    DayClosed {
        /// The day.
        day: u64,
        /// Minted for the roles' pots.
        minted: Balance,
        /// Minted into the storage pool.
        storage_minted: Balance,
        /// Taken from the fee pool.
        fees_shared: Balance,
        /// Shares per role (pledger: units bonded).
        shares: PerRole<u64>,
    },
    /// The supply moved to another phase.
    #[codec(index = 1)]
    PhaseChanged {
        /// The new phase.
        phase: SupplyPhase,
    },
    /// `who` claimed `amount`.
    #[codec(index = 2)]
    Claimed {
        /// The claimant.
        who: AccountId,
        /// Total paid.
        amount: Balance,
        /// Per role.
        by_role: PerRole<Balance>,
    },
    /// A revoked account's unclaimed rewards were burned.
    #[codec(index = 3)]
    Cancelled {
        /// The account.
        who: AccountId,
        /// Burned.
        amount: Balance,
    },
    /// Part of the team reserve vested.
    #[codec(index = 4)]
    TeamVested {
        /// The team account.
        to: AccountId,
        /// Released.
        amount: Balance,
    },
    /// Root changed the parameters.
    #[codec(index = 5)]
    ParamsChanged,
}

impl watt_support::EventTopics for Event {
    fn topics(&self) -> Vec<[u8; 32]> {
        match self {
            Event::Claimed { who, .. } | Event::Cancelled { who, .. } => alloc::vec![who.0],
            Event::TeamVested { to, .. } => alloc::vec![to.0],
            _ => Vec::new(),
        }
    }
}

watt_support::pallet_error!(
    "rewards",
    /// Why a call of this pallet failed.
    pub enum Error {
        /// Nothing is claimable yet (shares of the open day become claimable when it closes).
        NothingToClaim,
        /// The parameters fail `EconomyParams::check`.
        InvalidParams,
        /// A balance operation failed (the pot holds less than owed: a broken invariant).
        Balance,
    }
);

/// Weight of settling one closed day in a claim or a revocation: measured at about 0.8 of a
/// transfer's dispatch natively (BENCHMARKS.md, economy), so priced near a transfer's weight.
pub const CLAIM_WEIGHT_PER_DAY: Weight = 150_000;

/// Weight of a call. A claim settles at most [`MAX_DAYS_PER_CLAIM`] days and is charged for
/// that many.
pub fn weight(call: &Call) -> Weight {
    match call {
        Call::Claim => 100_000 + CLAIM_WEIGHT_PER_DAY * MAX_DAYS_PER_CLAIM as Weight,
        Call::SetParams { .. } => 100_000,
    }
}

/// Executes a call.
pub fn dispatch<E: From<Event> + From<balances::Event>>(
    origin: Origin,
    call: Call,
    out: &mut Vec<E>,
) -> DispatchResult {
    watt_support::dispatch::collect_events(out, |events, bev| dispatch_inner(origin, call, events, bev))
}

fn dispatch_inner(
    origin: Origin,
    call: Call,
    events: &mut Vec<Event>,
    bev: &mut Vec<balances::Event>,
) -> DispatchResult {
    match call {
        Call::Claim => {
            let who = origin.ensure_signed()?;
            claim(&who, events, bev)
                .map(|_| ())
                .map_err(PalletError::into_dispatch_error)
        }
        Call::SetParams { params } => {
            origin.ensure_root()?;
            params.check().map_err(|_| Error::InvalidParams.into_dispatch_error())?;
            // A cap below what exists would break "issuance never exceeds the cap" at once.
            if params.supply_cap < balances::total_issuance() {
                return Err(Error::InvalidParams.into_dispatch_error());
            }
            Params::put(&params);
            events.push(Event::ParamsChanged);
            Ok(())
        }
    }
}

/// The parameters (genesis always writes them).
pub fn params() -> EconomyParams {
    Params::get().expect("economy parameters missing from state")
}

fn supply() -> SupplyState {
    Supply::get().unwrap_or_default()
}

/// The open day's number.
pub fn today() -> u64 {
    Today::get().map(|t| t.day).unwrap_or(0)
}

/// Writes the genesis state: parameters, phase, the team reserve (5% of the cap, minted into
/// the reserve account). Panics, failing genesis, when the genesis balances plus the reserve
/// exceed the cap.
pub fn build_genesis(params: &EconomyParams, team: &AccountId) {
    let reserve = team_reserve_of(params.supply_cap);
    let mut ev = Vec::new();
    balances::mint(&team_reserve_account(), reserve, &mut ev).expect("genesis issuance overflows");
    assert!(
        balances::total_issuance() <= params.supply_cap,
        "genesis balances and the team reserve exceed the supply cap"
    );
    Params::put(params);
    let mut supply = SupplyState {
        team_total: reserve,
        team: Some(*team),
        ..Default::default()
    };
    supply.phase = Some(phase_now(params, &supply));
    Supply::put(&supply);
    Today::put(&OpenDay {
        day: 0,
        start: 1,
        shares: PerRole::default(),
    });
}

/// Records `n` shares of `role` for `who` in the open day. O(1).
pub fn add_share(who: &AccountId, role: Role, n: u64) {
    add_shares(who, &[(role, n)], None);
}

/// The open day and `who`'s entry in it: what a caller checks before recording shares with
/// [`record_shares`], read once.
pub fn open_day_entry(who: &AccountId) -> (OpenDay, PerRole<u64>) {
    let today = Today::get().unwrap_or_default();
    let entry = Pending::get(who, &today.day).unwrap_or_default();
    (today, entry)
}

/// Records shares of one event in the open day: `mine` for `who`, and optionally one more
/// `(account, role)` for another account (a check-in's referrer), reading and writing the open
/// day and each account's entry once. O(1).
pub fn add_shares(who: &AccountId, mine: &[(Role, u64)], other: Option<(&AccountId, Role)>) {
    let (today, entry) = open_day_entry(who);
    record_shares(today, who, entry, mine, other);
}

/// [`add_shares`] with the open day and `who`'s entry as [`open_day_entry`] read them.
pub fn record_shares(
    mut today: OpenDay,
    who: &AccountId,
    mut entry: PerRole<u64>,
    mine: &[(Role, u64)],
    other: Option<(&AccountId, Role)>,
) {
    for (role, n) in mine {
        entry.set(*role, entry.get(*role).saturating_add(*n));
        today.shares.set(*role, today.shares.get(*role).saturating_add(*n));
    }
    Pending::insert(who, &today.day, &entry);
    if let Some((account, role)) = other {
        let mut theirs = Pending::get(account, &today.day).unwrap_or_default();
        theirs.set(role, theirs.get(role).saturating_add(1));
        Pending::insert(account, &today.day, &theirs);
        today.shares.set(role, today.shares.get(role).saturating_add(1));
    }
    Today::put(&today);
}

/// `who`'s shares in the open day, and the day's number.
pub fn shares_today(who: &AccountId) -> (u64, PerRole<u64>) {
    let (today, entry) = open_day_entry(who);
    (today.day, entry)
}

/// The pallet's hooks: `on_initialize` closes the open day when its blocks are over.
pub struct Pallet;

impl<E: From<Event> + From<balances::Event>> Hooks<E> for Pallet {
    const NAME: &'static str = "rewards";
    fn on_initialize(block: &BlockContext, events: &mut Vec<E>) -> DispatchResult {
        watt_support::dispatch::collect_events(events, |ev, bev| on_initialize(block.number, ev, bev))
    }
}

/// Closes the open day if block `number` no longer belongs to it.
pub fn on_initialize(
    number: BlockNumber,
    events: &mut Vec<Event>,
    balance_events: &mut Vec<balances::Event>,
) -> DispatchResult {
    let params = params();
    let today = Today::get().unwrap_or_default();
    if number < today.start.saturating_add(params.day_blocks) {
        return Ok(());
    }
    close_day(&params, &today, events, balance_events).map_err(PalletError::into_dispatch_error)?;
    Today::put(&OpenDay {
        day: today.day + 1,
        start: number,
        shares: PerRole::default(),
    });
    Ok(())
}

/// What closing the open day would mint per role, and into the storage pool, under `params`
/// and the current supply: (per role, storage). Reads state, writes nothing.
fn schedule(params: &EconomyParams, supply: &SupplyState, shares: &PerRole<u64>) -> (PerRole<Balance>, Balance) {
    let room = params.supply_cap.saturating_sub(balances::total_issuance());
    let mut per_role = PerRole::<Balance>::default();
    let mut storage = 0;
    match phase_now(params, supply) {
        SupplyPhase::CheckIn => {
            let left = params.checkin_mining_total.saturating_sub(supply.checkin_minted);
            let nominal = params.checkin_daily.min(room);
            let daily = nominal.min(left);
            let weight = |r: Role| params.checkin_weights.get(r) as u128;
            let present: Vec<Role> = Role::DAILY
                .into_iter()
                .filter(|r| shares.get(*r) > 0 && weight(*r) > 0)
                .collect();
            if left <= nominal {
                // The phase's last day: the roles present share all that is left (the last
                // one takes the rounding), so phase 1 ends exactly and never lingers on dust.
                let present_weight: u128 = present.iter().map(|r| weight(*r)).sum();
                let mut given = 0;
                for (i, role) in present.iter().enumerate() {
                    let amount = if i + 1 == present.len() {
                        daily - given
                    } else {
                        mul_div(daily, weight(*role), present_weight)
                    };
                    given += amount;
                    per_role.set(*role, amount);
                }
            } else {
                let total_weight: u128 = Role::DAILY.iter().map(|r| weight(*r)).sum();
                for role in present {
                    per_role.set(role, mul_div(daily, weight(role), total_weight));
                }
            }
        }
        SupplyPhase::PledgeAndStorage => {
            let daily = params.phase2_daily.min(room);
            let pledge = mul_div(daily, params.pledge_mining_percent as u128, 100);
            if supply.total_units > 0 {
                per_role.set(Role::Pledger, pledge);
            }
            storage = daily - pledge;
        }
        SupplyPhase::Exhausted => {}
    }
    (per_role, storage)
}

/// The phase the supply is in: a function of the state and the parameters, so a Root change
/// of the cap or of the phase-1 budget takes effect at the next day's close (and a raised cap
/// resumes issuance after [`SupplyPhase::Exhausted`]).
fn phase_now(params: &EconomyParams, supply: &SupplyState) -> SupplyPhase {
    if balances::total_issuance() >= params.supply_cap {
        SupplyPhase::Exhausted
    } else if supply.checkin_minted < params.checkin_mining_total {
        SupplyPhase::CheckIn
    } else {
        SupplyPhase::PledgeAndStorage
    }
}

fn close_day(
    params: &EconomyParams,
    today: &OpenDay,
    events: &mut Vec<Event>,
    bev: &mut Vec<balances::Event>,
) -> Result<(), Error> {
    let mut supply = supply();
    vest_team(params, &mut supply, events, bev)?;

    let mut shares = today.shares;
    shares.set(Role::Pledger, supply.total_units);
    let (minted, storage) = schedule(params, &supply, &shares);
    let minted_total: Balance = minted.0.iter().sum();

    // The fee pool, split between roles that have participants today.
    let fee_pool = balances::free(&fee_pool_account());
    let total_fee_weight: u128 = params.fee_weights.0.iter().map(|w| *w as u128).sum();
    let mut fees = PerRole::<Balance>::default();
    for role in Role::ALL {
        if shares.get(role) > 0 {
            fees.set(
                role,
                mul_div(fee_pool, params.fee_weights.get(role) as u128, total_fee_weight),
            );
        }
    }
    let fees_total: Balance = fees.0.iter().sum();

    let pot = rewards_pot_account();
    let phase = phase_now(params, &supply);
    balances::mint(&pot, minted_total, bev).map_err(|_| Error::Balance)?;
    balances::mint(&storage_pool_account(), storage, bev).map_err(|_| Error::Balance)?;
    if fees_total > 0 {
        balances::transfer(&fee_pool_account(), &pot, fees_total, false, bev).map_err(|_| Error::Balance)?;
    }

    match phase {
        SupplyPhase::CheckIn => supply.checkin_minted += minted_total,
        _ => supply.phase2_minted += minted_total + storage,
    }
    let mobile = mul_div(storage, params.mobile_storage_percent as u128, 100);
    supply.storage_pool.0 += storage - mobile;
    supply.storage_pool.1 += mobile;

    let mut day_pot = DayPot::default();
    for role in Role::DAILY {
        if shares.get(role) > 0 {
            day_pot.amount.set(role, minted.get(role) + fees.get(role));
            day_pot.shares.set(role, shares.get(role));
        }
    }
    if day_pot.shares.0.iter().any(|s| *s > 0) {
        Pots::insert(&today.day, &day_pot);
    }
    let pledge_amount = minted.get(Role::Pledger) + fees.get(Role::Pledger);
    if supply.total_units > 0 && pledge_amount > 0 {
        let per_unit = mul_div(pledge_amount, ACC_SCALE, supply.total_units as u128);
        supply.pledge_acc = supply.pledge_acc.saturating_add(per_unit);
    }

    // Phase switches, after this day's issuance.
    let next = phase_now(params, &supply);
    let next_phase = (supply.phase != Some(next)).then_some(next);
    events.push(Event::DayClosed {
        day: today.day,
        minted: minted_total,
        storage_minted: storage,
        fees_shared: fees_total,
        shares,
    });
    if let Some(phase) = next_phase {
        supply.phase = Some(phase);
        events.push(Event::PhaseChanged { phase });
    }
    Supply::put(&supply);
    Ok(())
}

fn vest_team(
    params: &EconomyParams,
    supply: &mut SupplyState,
    events: &mut Vec<Event>,
    bev: &mut Vec<balances::Event>,
) -> Result<(), Error> {
    let Some(team) = supply.team else { return Ok(()) };
    let left = supply.team_total.saturating_sub(supply.team_vested);
    if left == 0 {
        return Ok(());
    }
    let per_day = supply.team_total / params.team_vesting_days.max(1) as u128;
    // The last payment takes the division's remainder with it, so no tail smaller than the
    // existential deposit is ever left to pay.
    let amount = if left < per_day.saturating_mul(2) {
        left
    } else {
        per_day.max(1)
    };
    if balances::transfer(&team_reserve_account(), &team, amount, false, bev).is_err() {
        // Vesting never blocks the day's close: the amount waits in the reserve for the next
        // day (say, the team account cannot be created with less than the existential deposit).
        return Ok(());
    }
    supply.team_vested += amount;
    events.push(Event::TeamVested { to: team, amount });
    Ok(())
}

/// Most closed days one claim settles; a claimant with more claims again. Bounds the claim's
/// work to what its weight pays for.
pub const MAX_DAYS_PER_CLAIM: usize = 128;

/// One closed day of a settlement: the day, its pot after paying, and the shares the account
/// keeps in it (the roles not settled).
type Settled = (u64, DayPot, PerRole<u64>);

/// What `who`'s shares of `roles` in closed days are worth now (at most `limit` days), per
/// role, and the pots after paying them. Reads state, writes nothing.
fn settle_days(who: &AccountId, open_day: u64, roles: &[Role], limit: usize) -> (PerRole<Balance>, Vec<Settled>) {
    let mut by_role = PerRole::<Balance>::default();
    let mut settled = Vec::new();
    // One more than the limit: the open day's entry may be among them.
    for (day, mut mine) in Pending::iter_prefix_limited(who, limit.saturating_add(1)) {
        if day >= open_day || settled.len() >= limit {
            continue;
        }
        let Some(mut pot) = Pots::get(&day) else {
            settled.push((day, DayPot::default(), PerRole::default()));
            continue;
        };
        for role in roles.iter().copied() {
            let s = mine.get(role);
            let left_shares = pot.shares.get(role);
            mine.set(role, 0);
            if s == 0 || left_shares == 0 {
                continue;
            }
            let s = s.min(left_shares);
            let pay = mul_div(pot.amount.get(role), s as u128, left_shares as u128);
            pot.amount.set(role, pot.amount.get(role) - pay);
            pot.shares.set(role, left_shares - s);
            by_role.set(role, by_role.get(role) + pay);
        }
        settled.push((day, pot, mine));
    }
    (by_role, settled)
}

/// Writes the pots after a settlement and what is left of the account's entries.
fn apply_settlement(who: &AccountId, settled: Vec<Settled>) {
    for (day, pot, mine) in settled {
        if mine.0.iter().all(|s| *s == 0) {
            Pending::remove(who, &day);
        } else {
            Pending::insert(who, &day, &mine);
        }
        if pot.shares.0.iter().all(|s| *s == 0) {
            Pots::remove(&day);
        } else {
            Pots::insert(&day, &pot);
        }
    }
}

fn pledge_accrued(state: &PledgerState, acc: u128) -> Balance {
    state
        .accrued
        .saturating_add(mul_div(state.units as u128, acc.saturating_sub(state.acc), ACC_SCALE))
}

/// Pays `who` everything claimable.
pub fn claim(who: &AccountId, events: &mut Vec<Event>, bev: &mut Vec<balances::Event>) -> Result<Balance, Error> {
    let (mut by_role, pots) = settle_days(who, today(), &Role::DAILY, MAX_DAYS_PER_CLAIM);
    let supply = supply();
    let mut pledger = Pledgers::get(who).unwrap_or_default();
    let pledge = pledge_accrued(&pledger, supply.pledge_acc);
    by_role.set(Role::Pledger, pledge);
    let total: Balance = by_role.0.iter().sum();
    if total == 0 && pots.is_empty() {
        return Err(Error::NothingToClaim);
    }
    balances::transfer(&rewards_pot_account(), who, total, false, bev).map_err(|_| Error::Balance)?;
    apply_settlement(who, pots);
    pledger.accrued = 0;
    pledger.acc = supply.pledge_acc;
    if pledger.units == 0 {
        Pledgers::remove(who);
    } else {
        Pledgers::insert(who, &pledger);
    }
    Claimed::insert(who, &Claimed::get(who).unwrap_or(0).saturating_add(total));
    events.push(Event::Claimed {
        who: *who,
        amount: total,
        by_role,
    });
    Ok(total)
}

/// The roles a revocation cancels: those earned by being a (claimed) unique person. Validator
/// and pledge rewards are not identity-based and stay.
pub const IDENTITY_ROLES: [Role; 3] = [Role::Pioneer, Role::Contributor, Role::Ambassador];

/// Burns `who`'s unclaimed check-in rewards (revocation): its pioneer, contributor and
/// ambassador shares of every closed day, and of the open day. Returns the amount burned.
/// Costs O(days unclaimed), like a claim without its bound: a registrar's revocation must
/// cancel everything.
pub fn cancel_unclaimed(who: &AccountId, events: &mut Vec<Event>, bev: &mut Vec<balances::Event>) -> Balance {
    let open = Today::get().unwrap_or_default();
    let (by_role, pots) = settle_days(who, open.day, &IDENTITY_ROLES, usize::MAX);
    let total: Balance = by_role.0.iter().sum();
    apply_settlement(who, pots);
    if let Some(mine) = Pending::get(who, &open.day) {
        let mut today = open;
        for role in Role::DAILY {
            today
                .shares
                .set(role, today.shares.get(role).saturating_sub(mine.get(role)));
        }
        Today::put(&today);
        Pending::remove(who, &today.day);
    }
    if total > 0 && balances::burn(&rewards_pot_account(), total, bev).is_ok() {
        let mut supply = supply();
        supply.burned += total;
        Supply::put(&supply);
    }
    events.push(Event::Cancelled {
        who: *who,
        amount: total,
    });
    total
}

/// The pledge module reports a change of `who`'s bonded units: accrual so far is settled at
/// the old units, and the total follows.
pub fn pledge_units_changed(who: &AccountId, new_units: u64) {
    let mut supply = supply();
    let mut state = Pledgers::get(who).unwrap_or_default();
    state.accrued = pledge_accrued(&state, supply.pledge_acc);
    state.acc = supply.pledge_acc;
    supply.total_units = supply.total_units.saturating_sub(state.units).saturating_add(new_units);
    state.units = new_units;
    Supply::put(&supply);
    if state.units == 0 && state.accrued == 0 {
        Pledgers::remove(who);
    } else {
        Pledgers::insert(who, &state);
    }
}

/// Records a burn made elsewhere (slashing).
pub fn record_burn(amount: Balance) {
    let mut supply = supply();
    supply.burned = supply.burned.saturating_add(amount);
    Supply::put(&supply);
}

/// Answer of `Query::Rewards`, apart from identity fields the runtime fills in.
pub fn rewards_info(who: &AccountId) -> RewardsInfo {
    let open = Today::get().unwrap_or_default();
    let (mut by_role, pots) = settle_days(who, open.day, &Role::DAILY, usize::MAX);
    let supply = supply();
    let pledger = Pledgers::get(who).unwrap_or_default();
    by_role.set(Role::Pledger, pledge_accrued(&pledger, supply.pledge_acc));
    let mut today = Pending::get(who, &open.day).unwrap_or_default();
    today.set(Role::Pledger, pledger.units);
    RewardsInfo {
        claimable: by_role.0.iter().sum(),
        by_role,
        unclaimed_days: pots.len() as u32,
        today,
        attested: false,
        checked_in_today: false,
        claimed_total: Claimed::get(who).unwrap_or(0),
    }
}

/// Answer of `Query::Day` after block `number`.
pub fn day_info(number: BlockNumber) -> DayInfo {
    let params = params();
    let open = Today::get().unwrap_or_default();
    let supply = supply();
    let end = open.start.saturating_add(params.day_blocks);
    let mut participants = open.shares;
    participants.set(Role::Pledger, supply.total_units);
    let all = PerRole([1; 5]);
    let (per_role, storage) = schedule(&params, &supply, &all);
    DayInfo {
        day: open.day,
        day_blocks: params.day_blocks,
        blocks_left: end.saturating_sub(number.saturating_add(1)),
        phase: phase_now(&params, &supply),
        issuance: per_role.0.iter().sum::<Balance>() + storage,
        fee_pool: balances::free(&fee_pool_account()),
        participants,
    }
}

/// Answer of `Query::Supply`.
pub fn supply_info() -> SupplyInfo {
    let params = params();
    let supply = supply();
    SupplyInfo {
        total_issuance: balances::total_issuance(),
        cap: params.supply_cap,
        phase: phase_now(&params, &supply),
        checkin_minted: supply.checkin_minted,
        checkin_total: params.checkin_mining_total,
        phase2_minted: supply.phase2_minted,
        storage_pool: supply.storage_pool,
        team_locked: supply.team_total.saturating_sub(supply.team_vested),
        burned: supply.burned,
        unclaimed: balances::free(&rewards_pot_account()),
    }
}
