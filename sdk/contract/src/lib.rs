//! The Watt contract SDK: write a contract in Rust against the contract ABI v1
//! (`pallets/contracts/ABI.md`), test it natively, build it to `wasm32-unknown-unknown`.
//!
//! ```ignore
//! #[watt_contract::contract]
//! mod flipper {
//!     use watt_contract::{env, AccountId};
//!
//!     #[storage]
//!     pub struct Flipper { value: bool, owner: AccountId }
//!
//!     #[event]
//!     pub struct Flipped { #[topic] by: AccountId, value: bool }
//!
//!     impl Flipper {
//!         #[constructor]
//!         pub fn new(value: bool) -> Self { Self { value, owner: env::caller() } }
//!         #[message]
//!         pub fn flip(&mut self) { self.value = !self.value; env::emit(&Flipped { by: env::caller(), value: self.value }) }
//!         #[message]
//!         pub fn get(&self) -> bool { self.value }
//!     }
//! }
//! ```
//!
//! - [`contract`] generates the dispatch (`deploy`/`call` exports on wasm32; a message whose
//!   value [`dispatch::Reverts`], e.g. any `Err`, reverts), the storage layout and the metadata
//!   (custom section `watt_metadata`, with custom type definitions and the storage layout); see
//!   `watt-contract-macros`.
//! - [`env`]: every `watt_v1` function as a safe function.
//! - [`Mapping`]: a lazy key-value field of the storage struct ([`storage`] documents the layout).
//! - [`CallBuilder`] / [`InstantiateBuilder`]: cross-contract calls by selector.
//! - [`test`] (native only): the off-chain environment contract unit tests run in (reverts,
//!   existential deposit and storage deposits modelled as on chain).
//!
//! On wasm32 the crate (feature `panic-handler`, on by default) supplies the panic handler
//! (message to `debug_message`, then trap) and a bump allocator (each call runs in a fresh
//! instance, so memory is never reused).
#![no_std]

#[doc(hidden)]
pub extern crate alloc;
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

#[cfg(all(feature = "build", not(target_arch = "wasm32")))]
pub mod build;
pub mod call;
pub mod dispatch;
pub mod env;
pub mod event;
pub mod storage;
#[cfg(not(target_arch = "wasm32"))]
pub mod test;
mod types;
#[cfg(all(target_arch = "wasm32", feature = "panic-handler"))]
mod wasm_rt;

pub use call::{CallBuilder, CallError, InstantiateBuilder};
pub use event::Event;
/// SCALE, re-exported so generated code and contracts name one version.
pub use parity_scale_codec as scale;
pub use storage::Mapping;
pub use types::{AccountId, Balance, BlockNumber, Error, Gas, Hash, Selector, Timestamp};
pub use watt_contract_macros::{contract, selector};
