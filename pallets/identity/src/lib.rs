//! The identity pallet: registrars attest that an account belongs to a unique, real person.
//! Only attested accounts earn check-in rewards (presence). A registrar can revoke an
//! attestation (a false or duplicate user, as the whitepaper asks); revocation cancels the
//! account's unclaimed check-in rewards (`pallet_rewards::cancel_unclaimed`).
//!
//! Registrars come from the chain spec (//Alice in the dev spec); Root replaces the list.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use pallet_rewards as rewards;
use parity_scale_codec::{Decode, Encode};
use watt_primitives::{AccountId, Balance, BlockNumber};
use watt_support::dispatch::{DispatchResult, PalletError, Weight};
use watt_support::{storage_instance, Origin, StorageMap, StorageValue};

storage_instance!(RegistrarsPrefix, b"identity/registrars");
storage_instance!(AttestedPrefix, b"identity/attested");

/// Every storage prefix of this pallet.
pub const STORAGE_PREFIXES: &[&[u8]] = &[b"identity/registrars", b"identity/attested"];

/// The registrars.
pub type Registrars = StorageValue<RegistrarsPrefix, Vec<AccountId>>;
/// Account -> its attestation.
pub type Attestations = StorageMap<AttestedPrefix, AccountId, Attestation>;

/// Who attested an account, and when.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub struct Attestation {
    /// The registrar.
    pub registrar: AccountId,
    /// Block of the attestation.
    pub since: BlockNumber,
}

/// Calls of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// A registrar attests `who` as a unique person.
    #[codec(index = 0)]
    Attest {
        /// The account.
        who: AccountId,
    },
    /// A registrar revokes `who`'s attestation; its unclaimed check-in rewards are burned.
    #[codec(index = 1)]
    Revoke {
        /// The account.
        who: AccountId,
    },
    /// Root: replaces the registrars.
    #[codec(index = 2)]
    SetRegistrars {
        /// The new list.
        registrars: Vec<AccountId>,
    },
}

/// Events of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// `who` was attested.
    #[codec(index = 0)]
    Attested { who: AccountId, registrar: AccountId },
    /// `who`'s attestation was revoked; `cancelled` unclaimed rewards were burned.
    #[codec(index = 1)]
    Revoked {
        who: AccountId,
        registrar: AccountId,
        cancelled: Balance,
    },
    /// Root replaced the registrars.
    #[codec(index = 2)]
    RegistrarsSet { count: u32 },
}

impl watt_support::EventTopics for Event {
    fn topics(&self) -> Vec<[u8; 32]> {
        match self {
            Event::Attested { who, registrar } | Event::Revoked { who, registrar, .. } => {
                alloc::vec![who.0, registrar.0]
            }
            Event::RegistrarsSet { .. } => Vec::new(),
        }
    }
}

watt_support::pallet_error!(
    "identity",
    /// Why a call of this pallet failed.
    pub enum Error {
        /// The signer is not a registrar.
        NotRegistrar,
        /// The account is already attested.
        AlreadyAttested,
        /// The account is not attested.
        NotAttested,
    }
);

/// Weight of a call.
pub fn weight(call: &Call) -> Weight {
    match call {
        Call::Attest { .. } => 150_000,
        // Charged as a full claim: a revocation settles every unclaimed day (registrars are
        // trusted not to let accounts go unclaimed for longer than that to grief blocks).
        Call::Revoke { .. } => 100_000 + rewards::CLAIM_WEIGHT_PER_DAY * rewards::MAX_DAYS_PER_CLAIM as Weight,
        Call::SetRegistrars { registrars } => 50_000 + 1_000 * registrars.len() as Weight,
    }
}

/// Whether a registrar attests `who`.
pub fn is_attested(who: &AccountId) -> bool {
    Attestations::contains(who)
}

fn ensure_registrar(who: &AccountId) -> Result<(), Error> {
    if Registrars::get().unwrap_or_default().contains(who) {
        Ok(())
    } else {
        Err(Error::NotRegistrar)
    }
}

/// Executes a call.
pub fn dispatch<E>(origin: Origin, call: Call, out: &mut Vec<E>) -> DispatchResult
where
    E: From<Event> + From<rewards::Event> + From<pallet_balances::Event>,
{
    match call {
        Call::Attest { who } => {
            let registrar = origin.ensure_signed()?;
            ensure_registrar(&registrar).map_err(PalletError::into_dispatch_error)?;
            if is_attested(&who) {
                return Err(Error::AlreadyAttested.into_dispatch_error());
            }
            Attestations::insert(
                &who,
                &Attestation {
                    registrar,
                    since: pallet_system::block_number(),
                },
            );
            out.push(Event::Attested { who, registrar }.into());
            Ok(())
        }
        Call::Revoke { who } => {
            let registrar = origin.ensure_signed()?;
            ensure_registrar(&registrar).map_err(PalletError::into_dispatch_error)?;
            if !is_attested(&who) {
                return Err(Error::NotAttested.into_dispatch_error());
            }
            Attestations::remove(&who);
            let cancelled = watt_support::dispatch::collect_events(out, |ev: &mut Vec<rewards::Event>, bev| {
                rewards::cancel_unclaimed(&who, ev, bev)
            });
            out.push(
                Event::Revoked {
                    who,
                    registrar,
                    cancelled,
                }
                .into(),
            );
            Ok(())
        }
        Call::SetRegistrars { registrars } => {
            origin.ensure_root()?;
            out.push(
                Event::RegistrarsSet {
                    count: registrars.len() as u32,
                }
                .into(),
            );
            Registrars::put(&registrars);
            Ok(())
        }
    }
}

/// Genesis: the registrars.
pub fn build_genesis(registrars: &[AccountId]) {
    Registrars::put(&registrars.to_vec());
}
