//! The economy's shared types: supply schedule and role parameters (chain spec, changeable by
//! Root), block events with topics, and the answers of the economy queries (RPC `watt_rewards`,
//! `watt_day`, `watt_supply`).
//!
//! # Units
//! Balances are in the smallest unit; 1 WATT = 10^12 units ([`crate::DECIMALS`]). The cap of
//! 20,000,000,000 WATT is 2 * 10^22 units, far inside `u128`.

use crate::{AccountId, Balance, BlockNumber, Hash, UNIT};
use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};

/// Roles that earn a share of a day's rewards (whitepaper: pioneers check in, contributors name
/// a security circle, ambassadors bring people who check in, validators sign blocks, pledgers
/// bond WATT for mining rights).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Encode, Decode)]
pub enum Role {
    /// An attested account that checked in that day.
    Pioneer,
    /// A pioneer whose security circle (3 to 5 attested accounts) was valid at check-in.
    Contributor,
    /// An account whose referrals checked in that day (one share per referral).
    Ambassador,
    /// A pledged validator, one share per block it authored that day.
    Validator,
    /// Bonded pledge, pro rata to units bonded at the day's end.
    Pledger,
}

impl Role {
    /// Every role, in index order.
    pub const ALL: [Role; 5] = [
        Role::Pioneer,
        Role::Contributor,
        Role::Ambassador,
        Role::Validator,
        Role::Pledger,
    ];
    /// Roles whose shares are counted per day (all but [`Role::Pledger`], which is pro rata).
    pub const DAILY: [Role; 4] = [Role::Pioneer, Role::Contributor, Role::Ambassador, Role::Validator];

    /// Position in per-role arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Lower-case name, as in RPC output.
    pub fn name(self) -> &'static str {
        match self {
            Role::Pioneer => "pioneer",
            Role::Contributor => "contributor",
            Role::Ambassador => "ambassador",
            Role::Validator => "validator",
            Role::Pledger => "pledger",
        }
    }
}

/// A value per role, indexed by [`Role::index`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct PerRole<T>(pub [T; 5]);

impl<T: Copy> PerRole<T> {
    /// The value of `role`.
    pub fn get(&self, role: Role) -> T {
        self.0[role.index()]
    }
    /// Sets the value of `role`.
    pub fn set(&mut self, role: Role, value: T) {
        self.0[role.index()] = value;
    }
}

/// Which reward stream the supply currently pays (chain-spec schedule).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum SupplyPhase {
    /// Phase 1: daily check-in mining until `checkin_mining_total` is minted.
    CheckIn,
    /// Phase 2: pledge mining and storage mining (server and mobile device classes) from the
    /// rest of the supply.
    PledgeAndStorage,
    /// The cap is reached: only the fee pool is shared out.
    Exhausted,
}

impl SupplyPhase {
    /// Name as in RPC output.
    pub fn name(self) -> &'static str {
        match self {
            SupplyPhase::CheckIn => "check-in",
            SupplyPhase::PledgeAndStorage => "pledge-and-storage",
            SupplyPhase::Exhausted => "exhausted",
        }
    }
}

/// Economy parameters: chain spec at genesis, then `rewards.set_params` by Root.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EconomyParams {
    /// Blocks per day; day `d` is blocks `d * day_blocks + 1 ..= (d + 1) * day_blocks`.
    pub day_blocks: BlockNumber,
    /// Total issuance never exceeds this.
    pub supply_cap: Balance,
    /// Phase 1 budget: check-in mining stops once this much has been minted by it.
    pub checkin_mining_total: Balance,
    /// Phase 1 linear rate: minted per day (less on the last day of the phase).
    pub checkin_daily: Balance,
    /// Phase 2 linear rate, from what the cap leaves.
    pub phase2_daily: Balance,
    /// Percent of the phase-2 daily amount that goes to pledgers; the rest to the storage pool.
    pub pledge_mining_percent: u8,
    /// Percent of the storage pool's daily amount reserved for the mobile device class (phase 3).
    pub mobile_storage_percent: u8,
    /// Split of the daily check-in issuance between roles (the pledger weight is not used: pledge
    /// mining is phase 2's stream).
    pub checkin_weights: PerRole<u32>,
    /// Split of the fee pool between roles at each day's end.
    pub fee_weights: PerRole<u32>,
    /// WATT bonded per pledge unit (1 unit = 1 TiB of pledge-mining + 1 TiB of storage-mining
    /// rights).
    pub watt_per_unit: Balance,
    /// Days between `unbond` and the funds becoming withdrawable.
    pub unbonding_days: u32,
    /// Pledge units a validator must hold to earn the validator share.
    pub min_validator_units: u64,
    /// Team vesting: days over which the team reserve is released linearly.
    pub team_vesting_days: u32,
}

impl EconomyParams {
    /// The whitepaper's schedule: cap 20 billion WATT, 6 billion of check-in mining over ten
    /// years, the rest (after the 5% team reserve) over twenty.
    pub fn mainnet(day_blocks: BlockNumber) -> Self {
        let cap = 20_000_000_000 * UNIT;
        let checkin_total = 6_000_000_000 * UNIT;
        let phase2 = cap - checkin_total - team_reserve_of(cap);
        EconomyParams {
            day_blocks,
            supply_cap: cap,
            checkin_mining_total: checkin_total,
            checkin_daily: checkin_total / 3650,
            phase2_daily: phase2 / 7300,
            pledge_mining_percent: 50,
            mobile_storage_percent: 20,
            checkin_weights: PerRole([50, 20, 15, 15, 0]),
            fee_weights: PerRole([30, 10, 10, 20, 30]),
            watt_per_unit: 1_000 * UNIT,
            unbonding_days: 28,
            min_validator_units: 10,
            team_vesting_days: 4 * 365,
        }
    }

    /// Whether the parameters can run a chain; the error names the first bad field.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.day_blocks == 0 {
            return Err("dayBlocks must be at least 1");
        }
        if self.checkin_mining_total > self.supply_cap {
            return Err("checkinMiningTotal exceeds the supply cap");
        }
        if self.pledge_mining_percent > 100 || self.mobile_storage_percent > 100 {
            return Err("percentages must be at most 100");
        }
        if self.watt_per_unit == 0 {
            return Err("wattPerUnit must be positive");
        }
        if self.unbonding_days == 0 {
            // Otherwise units bonded in a day's last block take its pledger share and leave in
            // the next block.
            return Err("unbondingDays must be at least 1");
        }
        if self.checkin_weights.0.iter().take(4).all(|w| *w == 0) {
            return Err("checkinWeights must give some role a weight");
        }
        Ok(())
    }
}

/// 5% of a cap: the team reserve.
pub fn team_reserve_of(cap: Balance) -> Balance {
    cap / 20
}

/// Genesis state of the economy pallets.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EconomyGenesis {
    /// Parameters.
    pub params: EconomyParams,
    /// Accounts that may attest unique persons.
    pub registrars: Vec<AccountId>,
    /// The key that may act as Root (`sudo.sudo`) until governance replaces it; `None` for none.
    pub sudo: Option<AccountId>,
    /// Validators (block authors) the chain pays the validator share to, once pledged.
    pub validators: Vec<AccountId>,
    /// Pledges bonded at genesis: (account, units). The account's balance must cover them.
    pub pledges: Vec<(AccountId, u64)>,
    /// Receives the team reserve (5% of the cap, minted at genesis) as it vests.
    pub team: AccountId,
}

impl EconomyGenesis {
    /// Parameters only: no registrar, sudo key, validator or pledge (tools and tests that need
    /// a genesis without economy participants).
    pub fn bare(params: EconomyParams, team: AccountId) -> Self {
        EconomyGenesis {
            params,
            registrars: Vec::new(),
            sudo: None,
            validators: Vec::new(),
            pledges: Vec::new(),
            team,
        }
    }
}

/// When an event was emitted within its block.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Encode, Decode)]
pub enum EventPhase {
    /// In an `on_initialize` hook, before the transactions.
    Initialization,
    /// By the transaction at this index of the block.
    Transaction(u32),
    /// In an `on_finalize` hook, after the transactions.
    Finalization,
}

/// One entry of a block's events list; the header's `events_root` commits the list.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct EventRecord {
    /// When it happened.
    pub phase: EventPhase,
    /// SCALE-encoded runtime event (the runtime's `RuntimeEvent`).
    pub event: Vec<u8>,
    /// Topics to filter by (accounts involved), 32 bytes each.
    pub topics: Vec<Hash>,
}

/// Answer of `Query::Rewards`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct RewardsInfo {
    /// Payable now by `rewards.claim` (days already closed plus pledge accrual).
    pub claimable: Balance,
    /// `claimable` by role.
    pub by_role: PerRole<Balance>,
    /// Closed days with unclaimed shares.
    pub unclaimed_days: u32,
    /// Shares recorded for the current (open) day, by role; pledger: units bonded.
    pub today: PerRole<u64>,
    /// Whether a registrar attests the account as a unique person.
    pub attested: bool,
    /// Whether it checked in today.
    pub checked_in_today: bool,
    /// Total claimed so far.
    pub claimed_total: Balance,
}

/// Answer of `Query::Day`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct DayInfo {
    /// The current day.
    pub day: u64,
    /// Blocks per day.
    pub day_blocks: BlockNumber,
    /// Blocks of the day after the last applied block.
    pub blocks_left: BlockNumber,
    /// The supply phase.
    pub phase: SupplyPhase,
    /// What the schedule mints at this day's end if every role has participants.
    pub issuance: Balance,
    /// The fee pool's balance (shared out at the day's end).
    pub fee_pool: Balance,
    /// Shares recorded so far today by role (pledger: units bonded).
    pub participants: PerRole<u64>,
}

/// Answer of `Query::Supply`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct SupplyInfo {
    /// Sum of all balances.
    pub total_issuance: Balance,
    /// The cap.
    pub cap: Balance,
    /// The phase.
    pub phase: SupplyPhase,
    /// Minted by check-in mining so far.
    pub checkin_minted: Balance,
    /// Phase-1 budget.
    pub checkin_total: Balance,
    /// Minted by phase 2 so far (pledge + storage).
    pub phase2_minted: Balance,
    /// Storage reward pool per device class: (server, mobile), awaiting the storage module.
    pub storage_pool: (Balance, Balance),
    /// Team reserve not yet vested.
    pub team_locked: Balance,
    /// Burned by revocation of unclaimed rewards.
    pub burned: Balance,
    /// Rewards minted or taken from fees and not yet claimed (held by the rewards pot).
    pub unclaimed: Balance,
}

/// Answer of `Query::Pledge`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Encode, Decode)]
pub struct PledgeInfo {
    /// Units bonded.
    pub units: u64,
    /// WATT bonded (units * watt_per_unit at bonding time).
    pub bonded: Balance,
    /// Unbonding chunks: (day withdrawable from, amount).
    pub unbonding: Vec<(u64, Balance)>,
    /// Whether the account is a registered validator.
    pub validator: bool,
}
