//! The presence pallet: the daily check-in.
//!
//! An attested account checks in at most once per day (`check_in`), which makes it one of the
//! day's pioneers (one pioneer share). Roles on top of that, recorded at check-in:
//! - contributor: the account names a security circle of 3 to 5 distinct attested accounts
//!   (`set_circle`), all still attested when it checks in: one contributor share;
//! - ambassador: the account that referred it (`set_referrer`, set once) gets one ambassador
//!   share per referral that checks in, if it is itself attested.
//!
//! An unattested check-in and a second check-in the same day are refused before any fee is
//! taken ([`pre_check`]), so they change nothing at all.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use pallet_identity as identity;
use pallet_rewards as rewards;
use parity_scale_codec::{Decode, Encode};
use watt_primitives::economy::{PerRole, Role};
use watt_primitives::{AccountId, DispatchError};
use watt_support::dispatch::{DispatchResult, PalletError, Weight};
use watt_support::{storage_instance, Origin, StorageMap};

/// Fewest members of a security circle.
pub const MIN_CIRCLE: usize = 3;
/// Most members of a security circle.
pub const MAX_CIRCLE: usize = 5;

storage_instance!(CirclePrefix, b"presence/circle");
storage_instance!(ReferrerPrefix, b"presence/referrer");

/// Every storage prefix of this pallet.
pub const STORAGE_PREFIXES: &[&[u8]] = &[b"presence/circle", b"presence/referrer"];

/// Account -> its security circle.
pub type Circles = StorageMap<CirclePrefix, AccountId, Vec<AccountId>>;
/// Account -> who referred it.
pub type Referrers = StorageMap<ReferrerPrefix, AccountId, AccountId>;

/// Calls of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Checks in for today.
    #[codec(index = 0)]
    CheckIn,
    /// Names the signer's security circle.
    #[codec(index = 1)]
    SetCircle {
        /// 3 to 5 distinct attested accounts, not the signer.
        members: Vec<AccountId>,
    },
    /// Names who referred the signer (once).
    #[codec(index = 2)]
    SetReferrer {
        /// An attested account, not the signer.
        referrer: AccountId,
    },
}

/// Events of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// `who` checked in on `day`.
    #[codec(index = 0)]
    CheckedIn {
        who: AccountId,
        day: u64,
        /// Whether it earned the contributor share.
        contributor: bool,
        /// The referrer credited with an ambassador share.
        ambassador: Option<AccountId>,
    },
    /// `who` named its security circle.
    #[codec(index = 1)]
    CircleSet { who: AccountId, members: Vec<AccountId> },
    /// `who` named its referrer.
    #[codec(index = 2)]
    ReferrerSet { who: AccountId, referrer: AccountId },
}

impl watt_support::EventTopics for Event {
    fn topics(&self) -> Vec<[u8; 32]> {
        match self {
            Event::CheckedIn { who, ambassador, .. } => {
                let mut t = alloc::vec![who.0];
                t.extend(ambassador.iter().map(|a| a.0));
                t
            }
            Event::CircleSet { who, .. } => alloc::vec![who.0],
            Event::ReferrerSet { who, referrer } => alloc::vec![who.0, referrer.0],
        }
    }
}

watt_support::pallet_error!(
    "presence",
    /// Why a call of this pallet failed.
    pub enum Error {
        /// Only accounts a registrar attests may check in.
        NotAttested,
        /// The account already checked in today.
        AlreadyCheckedIn,
        /// A circle has 3 to 5 members.
        CircleSize,
        /// A circle's members must be distinct and not the signer.
        CircleMembers,
        /// Every circle member must be attested.
        CircleMemberNotAttested,
        /// The referrer is already set.
        ReferrerAlreadySet,
        /// The referrer must be attested and not the signer.
        BadReferrer,
    }
);

/// Weight of a call.
pub fn weight(call: &Call) -> Weight {
    match call {
        // About 1.15 transfers natively (BENCHMARKS.md, economy).
        Call::CheckIn => 230_000,
        Call::SetCircle { members } => 50_000 + 20_000 * members.len() as Weight,
        Call::SetReferrer { .. } => 60_000,
    }
}

/// Checks made before any fee is taken: a check-in that would be refused is not a
/// transaction at all (the pool refuses it and a block skips it), so it costs and changes
/// nothing.
pub fn pre_check(who: &AccountId, call: &Call) -> Result<(), DispatchError> {
    match call {
        Call::CheckIn => check_in_allowed(who)
            .map(|_| ())
            .map_err(PalletError::into_dispatch_error),
        _ => Ok(()),
    }
}

/// Ok with the open day and `who`'s entry in it (read once, for recording the check-in) when
/// `who` may check in.
fn check_in_allowed(who: &AccountId) -> Result<(rewards::OpenDay, PerRole<u64>), Error> {
    if !identity::is_attested(who) {
        return Err(Error::NotAttested);
    }
    let (today, entry) = rewards::open_day_entry(who);
    if entry.get(Role::Pioneer) > 0 {
        return Err(Error::AlreadyCheckedIn);
    }
    Ok((today, entry))
}

/// Whether `who` checked in today.
///
/// A check-in is its pioneer share in the open day's rewards entry: no separate record, so a
/// check-in writes one entry less. (A revocation removes that share, so an account attested
/// again the same day may check in again; the first check-in's reward was cancelled.)
pub fn checked_in_today(who: &AccountId) -> bool {
    rewards::shares_today(who).1.get(Role::Pioneer) > 0
}

fn circle_valid(who: &AccountId) -> bool {
    Circles::get(who).is_some_and(|members| {
        (MIN_CIRCLE..=MAX_CIRCLE).contains(&members.len()) && members.iter().all(identity::is_attested)
    })
}

/// Executes a call.
pub fn dispatch<E: From<Event>>(origin: Origin, call: Call, out: &mut Vec<E>) -> DispatchResult {
    let who = origin.ensure_signed()?;
    let event = match call {
        Call::CheckIn => check_in(&who),
        Call::SetCircle { members } => set_circle(&who, members),
        Call::SetReferrer { referrer } => set_referrer(&who, referrer),
    }
    .map_err(PalletError::into_dispatch_error)?;
    out.push(event.into());
    Ok(())
}

fn check_in(who: &AccountId) -> Result<Event, Error> {
    let (today, entry) = check_in_allowed(who)?;
    let day = today.day;
    let contributor = circle_valid(who);
    let ambassador = Referrers::get(who).filter(identity::is_attested);
    let mine: &[(Role, u64)] = if contributor {
        &[(Role::Pioneer, 1), (Role::Contributor, 1)]
    } else {
        &[(Role::Pioneer, 1)]
    };
    rewards::record_shares(
        today,
        who,
        entry,
        mine,
        ambassador.as_ref().map(|r| (r, Role::Ambassador)),
    );
    Ok(Event::CheckedIn {
        who: *who,
        day,
        contributor,
        ambassador,
    })
}

fn set_circle(who: &AccountId, members: Vec<AccountId>) -> Result<Event, Error> {
    if !(MIN_CIRCLE..=MAX_CIRCLE).contains(&members.len()) {
        return Err(Error::CircleSize);
    }
    let mut sorted = members.clone();
    sorted.sort();
    sorted.dedup();
    if sorted.len() != members.len() || members.contains(who) {
        return Err(Error::CircleMembers);
    }
    if !members.iter().all(identity::is_attested) {
        return Err(Error::CircleMemberNotAttested);
    }
    Circles::insert(who, &members);
    Ok(Event::CircleSet { who: *who, members })
}

fn set_referrer(who: &AccountId, referrer: AccountId) -> Result<Event, Error> {
    if Referrers::contains(who) {
        return Err(Error::ReferrerAlreadySet);
    }
    if referrer == *who || !identity::is_attested(&referrer) {
        return Err(Error::BadReferrer);
    }
    Referrers::insert(who, &referrer);
    Ok(Event::ReferrerSet { who: *who, referrer })
}
