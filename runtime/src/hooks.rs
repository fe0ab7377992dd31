//! The block hooks in their fixed order, and how a failing hook is contained.
//!
//! `on_initialize` runs before a block's transactions, `on_finalize` after them, each pallet
//! in [`HOOK_ORDER`]. Every hook runs in its own storage transaction: when it returns an error
//! its writes are rolled back, a `system::HookFailed` event records the pallet and the error,
//! and the block goes on, so one broken module cannot halt the chain. (A hook that traps, like
//! any trap in the runtime, makes the block fail to build; hooks are written not to panic on
//! any state a transaction can create.)

use crate::RuntimeEvent;
use alloc::vec::Vec;
use watt_primitives::economy::EventPhase;
use watt_support::{host, BlockContext, DispatchResult, Hooks};

type Hook = fn(&BlockContext, &mut Vec<RuntimeEvent>) -> DispatchResult;

/// (pallet, on_initialize, on_finalize) in the order they run. Rewards closes the day before
/// anything of the new day happens; pledge credits the author after the block's transactions;
/// contracts works off its deletion queue (bounded by `Schedule::max_deletions_per_block`)
/// after them, so a contract terminated in a block starts being deleted in the same block.
pub const HOOK_ORDER: &[(&str, Hook, Hook)] = &[
    (
        <pallet_rewards::Pallet as Hooks<RuntimeEvent>>::NAME,
        <pallet_rewards::Pallet as Hooks<RuntimeEvent>>::on_initialize,
        <pallet_rewards::Pallet as Hooks<RuntimeEvent>>::on_finalize,
    ),
    (
        <pallet_pledge::Pallet as Hooks<RuntimeEvent>>::NAME,
        <pallet_pledge::Pallet as Hooks<RuntimeEvent>>::on_initialize,
        <pallet_pledge::Pallet as Hooks<RuntimeEvent>>::on_finalize,
    ),
    (
        <pallet_contracts::Pallet as Hooks<RuntimeEvent>>::NAME,
        <pallet_contracts::Pallet as Hooks<RuntimeEvent>>::on_initialize,
        <pallet_contracts::Pallet as Hooks<RuntimeEvent>>::on_finalize,
    ),
];

/// Runs one phase's hooks, returning their events (a failed hook's events are dropped with its
/// writes and replaced by `system::HookFailed`).
pub fn run(phase: EventPhase, block: &BlockContext) -> Vec<RuntimeEvent> {
    let initialize = phase == EventPhase::Initialization;
    let mut out = Vec::new();
    for (name, on_initialize, on_finalize) in HOOK_ORDER {
        let hook = if initialize { on_initialize } else { on_finalize };
        let mut events = Vec::new();
        match host::with_transaction(|| hook(block, &mut events)) {
            Ok(()) => out.append(&mut events),
            Err(error) => out.push(RuntimeEvent::System(pallet_system::Event::HookFailed {
                pallet: name.as_bytes().to_vec(),
                initialize,
                error,
            })),
        }
    }
    out
}
