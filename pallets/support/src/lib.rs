//! The small framework every Watt pallet uses: the host interface (wasm imports in the wasm
//! build, a thread-local [`externalities`] backend natively), typed storage over it, dispatch
//! errors, weights, origins, block hooks and event topics. Pallets are plain modules of functions over this crate; the runtime
//! composes them.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod arithmetic;
pub mod dispatch;
pub mod hooks;
pub mod host;
pub mod origin;
pub mod sandbox;
pub mod storage;

#[cfg(feature = "std")]
pub mod crypto;
#[cfg(feature = "std")]
pub mod externalities;

pub use arithmetic::mul_div;
pub use dispatch::{DispatchResult, Weight};
pub use hooks::{BlockContext, EventTopics, Hooks};
pub use origin::Origin;
pub use storage::{StorageDoubleMap, StorageMap, StorageValue};
