//! The Watt state-transition function. It composes the pallets (`system`, `balances`), defines
//! the call and event enums, the fee rule, and the entry points of the node<->runtime ABI
//! (`watt_primitives::abi`). The same code is built natively (tests, benchmarks, the reference)
//! and to wasm32 (the blob stored on chain at `:code`, run by the node's executor).
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod api;
pub mod fees;

#[cfg(target_arch = "wasm32")]
mod wasm_exports;

use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};
use watt_primitives::AccountId;
use watt_support::dispatch::{DispatchResult, Weight};

pub use pallet_balances;
pub use pallet_system;

/// Name of this chain logic.
pub const SPEC_NAME: &str = "watt";
/// Version of the chain rules; a runtime upgrade must increase it.
pub const SPEC_VERSION: u32 = 1;

/// Every call the runtime accepts. The index of each variant is part of the transaction format.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum RuntimeCall {
    /// System pallet.
    #[codec(index = 0)]
    System(pallet_system::Call),
    /// Balances pallet.
    #[codec(index = 1)]
    Balances(pallet_balances::Call),
}

/// Every event the runtime emits; receipts carry them SCALE-encoded.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum RuntimeEvent {
    /// System pallet.
    #[codec(index = 0)]
    System(pallet_system::Event),
    /// Balances pallet.
    #[codec(index = 1)]
    Balances(pallet_balances::Event),
}

impl RuntimeCall {
    /// Execution weight, charged by the fee rule.
    pub fn weight(&self) -> Weight {
        match self {
            RuntimeCall::System(c) => pallet_system::weight(c),
            RuntimeCall::Balances(c) => pallet_balances::weight(c),
        }
    }

    /// Executes the call for `origin`, appending its events.
    pub fn dispatch(self, origin: &AccountId, events: &mut Vec<RuntimeEvent>) -> DispatchResult {
        match self {
            RuntimeCall::System(c) => {
                let mut ev = Vec::new();
                let r = pallet_system::dispatch(origin, c, &mut ev);
                events.extend(ev.into_iter().map(RuntimeEvent::System));
                r
            }
            RuntimeCall::Balances(c) => {
                let mut ev = Vec::new();
                let r = pallet_balances::dispatch(origin, c, &mut ev);
                events.extend(ev.into_iter().map(RuntimeEvent::Balances));
                r
            }
        }
    }
}
