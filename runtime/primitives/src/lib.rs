//! Types shared by the Watt runtime, node and SDK: accounts and their SS58 text form, balances,
//! headers and blocks, signed transactions with their domain-separated signing payload, receipts,
//! and the node<->runtime ABI (export names, host-function names, the SCALE messages crossing it).
//!
//! Everything here is `no_std` (with `alloc`) so the wasm runtime uses the very same definitions
//! as the node; the `std` feature adds the SS58/hex text forms used at the RPC/CLI edge.
#![cfg_attr(not(feature = "std"), no_std)]

extern crate alloc;

pub mod abi;
pub mod account;
pub mod block;
pub mod contracts;
pub mod economy;
pub mod hashing;
pub mod sandbox;
pub mod transaction;

pub use account::AccountId;
pub use block::{events_root, merkle_root, receipts_root, Block, ConsensusValue, Header, TxSet, PROPOSER_PROOF_LEN};
pub use hashing::{blake2_128, blake2_256, Hash};
pub use transaction::{
    DispatchError, Receipt, SignedTransaction, Transaction, TxError, TxOutcome, SIGNATURE_CONTEXT, TX_SIGNING_TAG,
};

/// Token amounts in the smallest unit ("plank"). One WATT is `10^DECIMALS` units.
pub type Balance = u128;
/// Height of a block; genesis is block 0.
pub type BlockNumber = u64;
/// Number of decimals of the WATT token: 1 WATT = 10^12 units.
pub const DECIMALS: u32 = 12;
/// One WATT in the smallest unit.
pub const UNIT: Balance = 1_000_000_000_000;
/// Milliseconds since the Unix epoch, as agreed by consensus (never a node's local clock).
pub type Timestamp = u64;

/// The keyless account every fee and tip is paid to; the rewards pallet shares it out daily.
pub fn fee_pool_account() -> AccountId {
    AccountId::keyless(b"watt/fee-pool")
}

/// The keyless account holding minted and pooled rewards until their owners claim them.
pub fn rewards_pot_account() -> AccountId {
    AccountId::keyless(b"watt/rewards-pot")
}

/// The keyless account holding the storage reward pool (both device classes) until the storage
/// module pays it out by proven space.
pub fn storage_pool_account() -> AccountId {
    AccountId::keyless(b"watt/storage-pool")
}

/// The keyless account holding the unvested team reserve.
pub fn team_reserve_account() -> AccountId {
    AccountId::keyless(b"watt/team-reserve")
}

/// The keyless account holding the storage deposits of contract code and contract storage.
pub fn contract_deposit_account() -> AccountId {
    AccountId::keyless(b"watt/contract-deposits")
}

/// The keyless account holding bonded and unbonding pledges.
pub fn pledge_account() -> AccountId {
    AccountId::keyless(b"watt/pledge")
}

/// Keyless accounts that runtime logic holds funds in: exempt from the existential deposit.
pub fn is_module_account(who: &AccountId) -> bool {
    [
        fee_pool_account(),
        rewards_pot_account(),
        storage_pool_account(),
        team_reserve_account(),
        pledge_account(),
        contract_deposit_account(),
    ]
    .contains(who)
}

/// A storage key's value at a block together with the proof that binds it to that block's
/// state root. Produced by the node's store, checked by light clients (`watt-client`).
#[derive(Clone, Debug, PartialEq, Eq, parity_scale_codec::Encode, parity_scale_codec::Decode)]
pub struct StateProof {
    /// The storage key.
    pub key: alloc::vec::Vec<u8>,
    /// Its value, `None` when absent (the proof is then an exclusion proof).
    pub value: Option<alloc::vec::Vec<u8>>,
    /// borsh-encoded `jmt::proof::SparseMerkleProof` over blake2b-256; leaves are keyed by
    /// blake2b-256 of the storage key.
    pub proof: alloc::vec::Vec<u8>,
}
