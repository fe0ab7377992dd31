//! Dispatch results, weights and the error convention of pallets.

use alloc::string::String;
pub use watt_primitives::DispatchError;

/// The result of a call.
pub type DispatchResult = Result<(), DispatchError>;

/// Execution cost of a call in abstract units (roughly nanoseconds of reference execution); the
/// fee charges `weight_fee` per unit.
pub type Weight = u64;

/// Implemented by each pallet's error enum so failures read as `module::Error`.
pub trait PalletError: core::fmt::Debug {
    /// Pallet name, e.g. `balances`.
    const MODULE: &'static str;
    /// The variant name.
    fn name(&self) -> &'static str;
    /// As a [`DispatchError`] for receipts.
    fn into_dispatch_error(self) -> DispatchError
    where
        Self: Sized,
    {
        DispatchError {
            module: String::from(Self::MODULE),
            error: String::from(self.name()),
        }
    }
}

/// Runs `f` with two fresh event lists, a pallet's own and another pallet's it calls into
/// (balances, say), then appends both to the runtime's list `out`: the other pallet's first, as
/// they happen before the effects the pallet's own events report.
pub fn collect_events<E, A, B, R>(
    out: &mut alloc::vec::Vec<E>,
    f: impl FnOnce(&mut alloc::vec::Vec<A>, &mut alloc::vec::Vec<B>) -> R,
) -> R
where
    E: From<A> + From<B>,
{
    let mut own = alloc::vec::Vec::new();
    let mut other = alloc::vec::Vec::new();
    let r = f(&mut own, &mut other);
    out.extend(other.into_iter().map(E::from));
    out.extend(own.into_iter().map(E::from));
    r
}

/// Declares a pallet's error enum (unit variants, each documented) and its [`PalletError`]
/// impl, whose names are the variants' own:
/// `pallet_error!("rewards", /// Why. pub enum Error { /// Nothing. NothingToClaim })`.
#[macro_export]
macro_rules! pallet_error {
    ($module:literal, $(#[$m:meta])* pub enum $name:ident { $($(#[$vm:meta])* $variant:ident),* $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum $name {
            $($(#[$vm])* $variant),*
        }

        impl $crate::dispatch::PalletError for $name {
            const MODULE: &'static str = $module;
            fn name(&self) -> &'static str {
                match self {
                    $($name::$variant => stringify!($variant)),*
                }
            }
        }
    };
}

/// The weight a call declared but did not use, reported by the call (a contract call that used
/// less gas than its limit) and refunded by the runtime after dispatch. It lives outside
/// storage so a failed call, whose writes are rolled back, still gets its refund.
#[cfg(target_arch = "wasm32")]
mod unused {
    use core::cell::Cell;
    struct Slot(Cell<u64>);
    // SAFETY: wasm32 without threads: never shared between threads.
    unsafe impl Sync for Slot {}
    static UNUSED: Slot = Slot(Cell::new(0));
    pub fn set(w: u64) {
        UNUSED.0.set(w)
    }
    pub fn take() -> u64 {
        UNUSED.0.replace(0)
    }
}

#[cfg(not(target_arch = "wasm32"))]
mod unused {
    use core::cell::Cell;
    std::thread_local! {
        static UNUSED: Cell<u64> = const { Cell::new(0) };
    }
    pub fn set(w: u64) {
        UNUSED.with(|u| u.set(w))
    }
    pub fn take() -> u64 {
        UNUSED.with(|u| u.replace(0))
    }
}

/// Reports weight the current call declared but did not use (see [`take_unused_weight`]).
pub fn set_unused_weight(weight: Weight) {
    unused::set(weight)
}

/// The unused weight the last call reported, reset to zero.
pub fn take_unused_weight() -> Weight {
    unused::take()
}
