//! The sudo pallet: one key that may dispatch any call as Root, for chains whose governance is
//! not live yet (the dev chain spec names //Alice). A chain spec without a sudo key has no way
//! to act as Root but governance.
//!
//! The pallet is generic over the runtime's call type; the runtime dispatches the inner call
//! with `Origin::Root` when [`ensure_sudo`] accepts the signer.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::boxed::Box;
use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};
use watt_primitives::{AccountId, DispatchError};
use watt_support::dispatch::PalletError;
use watt_support::{storage_instance, Origin, StorageValue};

storage_instance!(KeyPrefix, b"sudo/key");

/// Every storage prefix of this pallet.
pub const STORAGE_PREFIXES: &[&[u8]] = &[b"sudo/key"];

/// The sudo key, if any.
pub type Key = StorageValue<KeyPrefix, AccountId>;

/// Calls of this pallet, over the runtime's call type `C`.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call<C> {
    /// Dispatches `call` as Root.
    #[codec(index = 0)]
    Sudo {
        /// The call.
        call: Box<C>,
    },
    /// Hands the key to `new`.
    #[codec(index = 1)]
    SetKey {
        /// The new key.
        new: AccountId,
    },
    /// Removes the key for good (Root is then reachable only through governance).
    #[codec(index = 2)]
    RemoveKey,
}

/// Events of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// A call ran as Root; its result.
    #[codec(index = 0)]
    Sudid { result: Result<(), DispatchError> },
    /// The key changed.
    #[codec(index = 1)]
    KeyChanged { new: Option<AccountId> },
}

impl watt_support::EventTopics for Event {
    fn topics(&self) -> Vec<[u8; 32]> {
        match self {
            Event::KeyChanged { new: Some(k) } => alloc::vec![k.0],
            _ => Vec::new(),
        }
    }
}

watt_support::pallet_error!(
    "sudo",
    /// Why a call of this pallet failed.
    pub enum Error {
        /// The signer is not the sudo key.
        RequireSudo,
    }
);

/// Ok when `origin` is signed by the sudo key.
pub fn ensure_sudo(origin: &Origin) -> Result<(), DispatchError> {
    let who = origin.ensure_signed()?;
    if Key::get() == Some(who) {
        Ok(())
    } else {
        Err(Error::RequireSudo.into_dispatch_error())
    }
}

/// Genesis: the key.
pub fn build_genesis(key: Option<AccountId>) {
    if let Some(k) = key {
        Key::put(&k);
    }
}
