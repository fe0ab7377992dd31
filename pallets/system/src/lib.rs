//! The system pallet: block number, parent hash and close time of the block being applied,
//! account nonces, and `remark` (a call that only records a hash of its data).
//!
//! Nonces are never deleted, even when the balances pallet reaps an account, so a transaction
//! that was applied once can never be applied again.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

use alloc::vec::Vec;
use parity_scale_codec::{Decode, Encode};
use watt_primitives::{AccountId, BlockNumber, Hash, Timestamp};
use watt_support::dispatch::{DispatchResult, Weight};
use watt_support::{host, storage_instance, StorageMap, StorageValue};

storage_instance!(
    /// Next nonce of each account.
    NoncePrefix,
    b"system/nonce"
);
storage_instance!(
    /// Number of the block being applied (or last applied).
    NumberPrefix,
    b"system/number"
);
storage_instance!(
    /// Parent hash of the block being applied.
    ParentHashPrefix,
    b"system/parent_hash"
);
storage_instance!(
    /// Agreed close time of the block being applied.
    CloseTimePrefix,
    b"system/close_time"
);

/// Every storage prefix of this pallet.
pub const STORAGE_PREFIXES: &[&[u8]] = &[
    b"system/nonce",
    b"system/number",
    b"system/parent_hash",
    b"system/close_time",
];

/// Account -> next nonce.
pub type Nonces = StorageMap<NoncePrefix, AccountId, u64>;
/// The current block number.
pub type Number = StorageValue<NumberPrefix, BlockNumber>;
/// The current block's parent hash.
pub type ParentHash = StorageValue<ParentHashPrefix, Hash>;
/// The current block's close time.
pub type CloseTime = StorageValue<CloseTimePrefix, Timestamp>;

/// Calls of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Call {
    /// Records blake2b-256 of `data` in an event; costs fees, changes nothing else.
    #[codec(index = 0)]
    Remark {
        /// Arbitrary bytes.
        data: Vec<u8>,
    },
}

/// Events of this pallet.
#[derive(Clone, Debug, PartialEq, Eq, Encode, Decode)]
pub enum Event {
    /// `who` made a remark with this hash.
    #[codec(index = 0)]
    Remarked {
        /// The signer.
        who: AccountId,
        /// blake2b-256 of the data.
        hash: Hash,
    },
    /// A pallet's block hook failed: its writes were rolled back and the block went on.
    #[codec(index = 1)]
    HookFailed {
        /// The pallet.
        pallet: Vec<u8>,
        /// `on_initialize` (true) or `on_finalize` (false).
        initialize: bool,
        /// Why.
        error: watt_primitives::DispatchError,
    },
}

impl watt_support::EventTopics for Event {
    fn topics(&self) -> Vec<[u8; 32]> {
        match self {
            Event::Remarked { who, .. } => alloc::vec![who.0],
            Event::HookFailed { .. } => Vec::new(),
        }
    }
}

/// Weight of a call (see `watt_support::Weight`).
pub fn weight(call: &Call) -> Weight {
    match call {
        Call::Remark { data } => 20_000 + data.len() as Weight * 2,
    }
}

/// Executes a call signed by `origin`.
pub fn dispatch(origin: &AccountId, call: Call, events: &mut Vec<Event>) -> DispatchResult {
    match call {
        Call::Remark { data } => {
            events.push(Event::Remarked {
                who: *origin,
                hash: host::blake2_256(&data),
            });
            Ok(())
        }
    }
}

/// Records the block being applied.
pub fn initialize_block(number: BlockNumber, parent_hash: Hash, close_time: Timestamp) {
    Number::put(&number);
    ParentHash::put(&parent_hash);
    CloseTime::put(&close_time);
}

/// Next nonce of `who`.
pub fn nonce(who: &AccountId) -> u64 {
    Nonces::get(who).unwrap_or(0)
}

/// Marks one more transaction of `who` as applied.
pub fn inc_nonce(who: &AccountId) {
    Nonces::insert(who, &(nonce(who) + 1));
}

/// The current block number (0 before the first block).
pub fn block_number() -> BlockNumber {
    Number::get().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use watt_support::externalities::{execute_with, MemoryExternalities};

    #[test]
    fn nonces_count_up_per_account() {
        execute_with(MemoryExternalities::default(), || {
            let a = AccountId([1; 32]);
            let b = AccountId([2; 32]);
            assert_eq!(nonce(&a), 0);
            inc_nonce(&a);
            inc_nonce(&a);
            assert_eq!(nonce(&a), 2);
            assert_eq!(nonce(&b), 0);
        });
    }

    #[test]
    fn remark_emits_hash_of_data() {
        execute_with(MemoryExternalities::default(), || {
            let mut ev = Vec::new();
            dispatch(&AccountId([1; 32]), Call::Remark { data: b"hi".to_vec() }, &mut ev).unwrap();
            assert_eq!(
                ev,
                vec![Event::Remarked {
                    who: AccountId([1; 32]),
                    hash: watt_primitives::blake2_256(b"hi")
                }]
            );
            assert!(weight(&Call::Remark { data: vec![0; 100] }) > weight(&Call::Remark { data: vec![] }));
        });
    }

    #[test]
    fn block_context_is_recorded() {
        execute_with(MemoryExternalities::default(), || {
            initialize_block(5, [7; 32], 1234);
            assert_eq!(block_number(), 5);
            assert_eq!(ParentHash::get(), Some([7; 32]));
            assert_eq!(CloseTime::get(), Some(1234));
        });
    }
}
