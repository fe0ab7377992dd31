//! The small framework every Watt pallet uses: the host interface (wasm imports in the wasm
//! build, a thread-local [`externalities`] backend natively), typed storage over it, dispatch
//! errors and weights. Pallets are plain modules of functions over this crate; the runtime
//! composes them.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod dispatch;
pub mod host;
pub mod storage;

#[cfg(feature = "std")]
pub mod crypto;
#[cfg(feature = "std")]
pub mod externalities;

pub use dispatch::{DispatchResult, Weight};
pub use storage::{StorageMap, StorageValue};
