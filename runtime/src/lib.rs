//! The Watt state-transition function. It composes the pallets (`system`, `balances`, `sudo`,
//! `identity`, `presence`, `pledge`, `rewards`, `contracts`), defines the call and event enums, origins and
//! the hook order, the fee rule, and the entry points of the node<->runtime ABI
//! (`watt_primitives::abi`). The same code is built natively (tests, benchmarks, the reference)
//! and to wasm32 (the blob stored on chain at `:code`, run by the node's executor).
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod api;
pub mod fees;
pub mod hooks;

#[cfg(target_arch = "wasm32")]
mod wasm_exports;

use alloc::boxed::Box;
use alloc::vec::Vec;
use parity_scale_codec::{Decode, DecodeLimit, Encode};
use watt_primitives::{AccountId, DispatchError};
use watt_support::dispatch::{DispatchResult, Weight};
use watt_support::{EventTopics, Origin};

pub use pallet_balances;
pub use pallet_contracts;
pub use pallet_identity;
pub use pallet_pledge;
pub use pallet_presence;
pub use pallet_rewards;
pub use pallet_sudo;
pub use pallet_system;

/// Name of this chain logic.
pub const SPEC_NAME: &str = "watt";
/// Version of the chain rules; a runtime upgrade must increase it. 4: a block's fees are all
/// charged before any of its calls runs (`api::apply_block`). 5: transactions validated in
/// batches (`api::validate_transactions`).
pub const SPEC_VERSION: u32 = 6;

/// Deepest nesting a call may have when decoded (`sudo(sudo(...))`): bounds the decoder's
/// recursion on hostile input.
pub const MAX_CALL_DEPTH: u32 = 16;

/// Every storage prefix the runtime writes under (besides `:code`); tests check that none is a
/// prefix of another and that every key a chain writes falls under one.
pub fn storage_prefixes() -> Vec<&'static [u8]> {
    [
        pallet_system::STORAGE_PREFIXES,
        pallet_balances::STORAGE_PREFIXES,
        pallet_sudo::STORAGE_PREFIXES,
        pallet_identity::STORAGE_PREFIXES,
        pallet_presence::STORAGE_PREFIXES,
        pallet_pledge::STORAGE_PREFIXES,
        pallet_rewards::STORAGE_PREFIXES,
        pallet_contracts::STORAGE_PREFIXES,
        &[b"runtime/params"],
    ]
    .concat()
}

/// Every call the runtime accepts. The index of each variant is part of the transaction format.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum RuntimeCall {
    /// System pallet.
    #[codec(index = 0)]
    System(pallet_system::Call),
    /// Balances pallet.
    #[codec(index = 1)]
    Balances(pallet_balances::Call),
    /// Sudo pallet.
    #[codec(index = 2)]
    Sudo(pallet_sudo::Call<RuntimeCall>),
    /// Identity pallet.
    #[codec(index = 3)]
    Identity(pallet_identity::Call),
    /// Presence pallet.
    #[codec(index = 4)]
    Presence(pallet_presence::Call),
    /// Pledge pallet.
    #[codec(index = 5)]
    Pledge(pallet_pledge::Call),
    /// Rewards pallet.
    #[codec(index = 6)]
    Rewards(pallet_rewards::Call),
    /// Contracts pallet.
    #[codec(index = 7)]
    Contracts(pallet_contracts::Call),
}

/// Every event the runtime emits; receipts and the block's events list carry them
/// SCALE-encoded.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum RuntimeEvent {
    /// System pallet.
    #[codec(index = 0)]
    System(pallet_system::Event),
    /// Balances pallet.
    #[codec(index = 1)]
    Balances(pallet_balances::Event),
    /// Sudo pallet.
    #[codec(index = 2)]
    Sudo(pallet_sudo::Event),
    /// Identity pallet.
    #[codec(index = 3)]
    Identity(pallet_identity::Event),
    /// Presence pallet.
    #[codec(index = 4)]
    Presence(pallet_presence::Event),
    /// Pledge pallet.
    #[codec(index = 5)]
    Pledge(pallet_pledge::Event),
    /// Rewards pallet.
    #[codec(index = 6)]
    Rewards(pallet_rewards::Event),
    /// Contracts pallet.
    #[codec(index = 7)]
    Contracts(pallet_contracts::Event),
}

macro_rules! event_from {
    ($($variant:ident => $pallet:ident),*) => {
        $(impl From<$pallet::Event> for RuntimeEvent {
            fn from(e: $pallet::Event) -> Self {
                RuntimeEvent::$variant(e)
            }
        })*

        impl RuntimeEvent {
            /// Topics of the event: the accounts it involves.
            pub fn topics(&self) -> Vec<[u8; 32]> {
                match self {
                    $(RuntimeEvent::$variant(e) => e.topics(),)*
                }
            }
        }
    };
}

event_from!(
    System => pallet_system,
    Balances => pallet_balances,
    Sudo => pallet_sudo,
    Identity => pallet_identity,
    Presence => pallet_presence,
    Pledge => pallet_pledge,
    Rewards => pallet_rewards,
    Contracts => pallet_contracts
);

impl RuntimeCall {
    /// Decodes a call, refusing nesting deeper than [`MAX_CALL_DEPTH`] and trailing bytes.
    pub fn decode_bounded(bytes: &[u8]) -> Option<RuntimeCall> {
        RuntimeCall::decode_all_with_depth_limit(MAX_CALL_DEPTH, &mut &bytes[..]).ok()
    }

    /// Execution weight, charged by the fee rule and counted against the block's limit.
    pub fn weight(&self) -> Weight {
        match self {
            RuntimeCall::System(c) => pallet_system::weight(c),
            RuntimeCall::Balances(c) => pallet_balances::weight(c),
            RuntimeCall::Sudo(pallet_sudo::Call::Sudo { call }) => 10_000u64.saturating_add(call.weight()),
            RuntimeCall::Sudo(_) => 10_000,
            RuntimeCall::Identity(c) => pallet_identity::weight(c),
            RuntimeCall::Presence(c) => pallet_presence::weight(c),
            RuntimeCall::Pledge(c) => pallet_pledge::weight(c),
            RuntimeCall::Rewards(c) => pallet_rewards::weight(c),
            RuntimeCall::Contracts(c) => pallet_contracts::weight(c),
        }
    }

    /// Checks made before the fee is taken (see `TxError::Refused`): a call that fails them is
    /// not a transaction at all.
    pub fn pre_check(&self, signer: &AccountId) -> Result<(), DispatchError> {
        match self {
            RuntimeCall::Presence(c) => pallet_presence::pre_check(signer, c),
            _ => Ok(()),
        }
    }

    /// Executes the call for `origin`, appending its events.
    pub fn dispatch(self, origin: Origin, events: &mut Vec<RuntimeEvent>) -> DispatchResult {
        match self {
            RuntimeCall::System(c) => {
                let who = origin.ensure_signed()?;
                let mut ev = Vec::new();
                let r = pallet_system::dispatch(&who, c, &mut ev);
                events.extend(ev.into_iter().map(RuntimeEvent::System));
                r
            }
            RuntimeCall::Balances(c) => {
                let who = origin.ensure_signed()?;
                let mut ev = Vec::new();
                let r = pallet_balances::dispatch(&who, c, &mut ev);
                events.extend(ev.into_iter().map(RuntimeEvent::Balances));
                r
            }
            RuntimeCall::Sudo(c) => dispatch_sudo(origin, c, events),
            RuntimeCall::Identity(c) => pallet_identity::dispatch(origin, c, events),
            RuntimeCall::Presence(c) => pallet_presence::dispatch(origin, c, events),
            RuntimeCall::Pledge(c) => pallet_pledge::dispatch(origin, c, events),
            RuntimeCall::Rewards(c) => pallet_rewards::dispatch(origin, c, events),
            RuntimeCall::Contracts(c) => pallet_contracts::dispatch(origin, c, events),
        }
    }
}

fn dispatch_sudo(
    origin: Origin,
    call: pallet_sudo::Call<RuntimeCall>,
    events: &mut Vec<RuntimeEvent>,
) -> DispatchResult {
    pallet_sudo::ensure_sudo(&origin)?;
    match call {
        pallet_sudo::Call::Sudo { call } => {
            // The inner call's failure is reported in the event, not as the transaction's:
            // its writes are undone, the sudo key's nonce and fee stand.
            let result = watt_support::host::with_transaction(|| {
                let mut inner = Vec::new();
                let r = (*call).dispatch(Origin::Root, &mut inner);
                if r.is_ok() {
                    events.append(&mut inner);
                }
                r
            });
            events.push(RuntimeEvent::Sudo(pallet_sudo::Event::Sudid { result }));
            Ok(())
        }
        pallet_sudo::Call::SetKey { new } => {
            pallet_sudo::Key::put(&new);
            events.push(RuntimeEvent::Sudo(pallet_sudo::Event::KeyChanged { new: Some(new) }));
            Ok(())
        }
        pallet_sudo::Call::RemoveKey => {
            pallet_sudo::Key::kill();
            events.push(RuntimeEvent::Sudo(pallet_sudo::Event::KeyChanged { new: None }));
            Ok(())
        }
    }
}

/// Builds `sudo.sudo(call)`.
pub fn sudo(call: RuntimeCall) -> RuntimeCall {
    RuntimeCall::Sudo(pallet_sudo::Call::Sudo { call: Box::new(call) })
}
