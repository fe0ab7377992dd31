//! Block hooks. The runtime calls each pallet's `on_initialize` before a block's transactions
//! and `on_finalize` after them, in the fixed pallet order of `watt_runtime::HOOK_ORDER`.
//!
//! A hook runs inside its own storage transaction. If it returns an error its writes are
//! rolled back, the runtime records a `system::HookFailed` event naming the pallet and the
//! error, and the block goes on: one failing module never halts the chain. Hooks must do O(1)
//! work per block (cursors and accumulators, never a walk over all accounts), so a hook's cost
//! sits outside the transactions' weight limit.

use crate::dispatch::DispatchResult;
use alloc::vec::Vec;
use watt_primitives::{AccountId, BlockNumber};

/// What a block hook sees of its block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockContext {
    /// The block being applied.
    pub number: BlockNumber,
    /// Its author (see `ApplyBlockInput::author`).
    pub author: AccountId,
}

/// Per-pallet block hooks, generic over the runtime's event type `E` (a pallet implements
/// them for every `E` its events convert into); both default to doing nothing.
pub trait Hooks<E> {
    /// The pallet's name, as `system::HookFailed` reports it.
    const NAME: &'static str;
    /// Before the block's transactions.
    fn on_initialize(_block: &BlockContext, _events: &mut Vec<E>) -> DispatchResult {
        Ok(())
    }
    /// After the block's transactions.
    fn on_finalize(_block: &BlockContext, _events: &mut Vec<E>) -> DispatchResult {
        Ok(())
    }
}

/// Implemented by pallet events: the topics a client filters by (accounts involved).
pub trait EventTopics {
    /// 32-byte topics.
    fn topics(&self) -> Vec<[u8; 32]>;
}
