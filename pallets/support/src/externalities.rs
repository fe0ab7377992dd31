//! The native backend of the host interface: a thread-local [`Externalities`] object that the
//! node's executor (or a test) installs around a native runtime call.

use std::any::Any;
use std::cell::RefCell;

/// Storage access as the host provides it, with nested transactions. The node's executor
/// implements it over its overlay; the wasm host functions and the native backend both call it.
pub trait Externalities: Send + 'static {
    /// Value at `key`.
    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>>;
    /// Sets `key`.
    fn set(&mut self, key: &[u8], value: &[u8]);
    /// Removes `key`.
    fn clear(&mut self, key: &[u8]);
    /// Smallest key strictly greater than `key`.
    fn next_key(&mut self, key: &[u8]) -> Option<Vec<u8>>;
    /// Removes all keys under `prefix`, returns how many existed.
    fn clear_prefix(&mut self, prefix: &[u8]) -> u32;
    /// Opens a nested transaction.
    fn start_transaction(&mut self);
    /// Folds the innermost transaction into its parent; a commit without a transaction is ignored.
    fn commit_transaction(&mut self);
    /// Drops the innermost transaction's writes; a rollback without a transaction is ignored.
    fn rollback_transaction(&mut self);
    /// For getting the concrete type back after a call.
    fn into_any(self: Box<Self>) -> Box<dyn Any>;
}

thread_local! {
    static EXT: RefCell<Option<Box<dyn Externalities>>> = const { RefCell::new(None) };
}

/// Installs `ext` for the duration of `f` on this thread and hands it back with `f`'s result.
pub fn execute_with<E: Externalities, R>(ext: E, f: impl FnOnce() -> R) -> (E, R) {
    let previous = EXT.with(|cell| cell.borrow_mut().replace(Box::new(ext)));
    // Put the previous externalities back (and recover ours) even if `f` panics.
    struct Restore(Option<Option<Box<dyn Externalities>>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            if let Some(prev) = self.0.take() {
                EXT.with(|cell| *cell.borrow_mut() = prev);
            }
        }
    }
    let mut guard = Restore(Some(previous));
    let result = f();
    let prev = guard.0.take().expect("set above");
    let ours = EXT.with(|cell| std::mem::replace(&mut *cell.borrow_mut(), prev));
    let ours = ours.expect("externalities were installed by execute_with").into_any();
    let ours = *ours.downcast::<E>().expect("the installed externalities have type E");
    (ours, result)
}

/// Runs `f` with the installed externalities.
///
/// # Panics
/// When none are installed: calling the runtime natively outside [`execute_with`] is a bug.
pub fn with_externalities<R>(f: impl FnOnce(&mut dyn Externalities) -> R) -> R {
    EXT.with(|cell| {
        let mut slot = cell.borrow_mut();
        let ext = slot
            .as_mut()
            .expect("no externalities installed: run native runtime code inside externalities::execute_with");
        f(ext.as_mut())
    })
}

/// A plain in-memory externalities with nested transactions, for pallet unit tests.
#[derive(Default, Debug, Clone)]
pub struct MemoryExternalities {
    /// Committed state.
    pub state: std::collections::BTreeMap<Vec<u8>, Vec<u8>>,
    layers: Vec<std::collections::BTreeMap<Vec<u8>, Vec<u8>>>,
}

impl MemoryExternalities {
    fn top(&mut self) -> &mut std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
        self.layers.last_mut().unwrap_or(&mut self.state)
    }
}

impl Externalities for MemoryExternalities {
    fn get(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        self.top().get(key).cloned()
    }
    fn set(&mut self, key: &[u8], value: &[u8]) {
        self.top().insert(key.to_vec(), value.to_vec());
    }
    fn clear(&mut self, key: &[u8]) {
        self.top().remove(key);
    }
    fn next_key(&mut self, key: &[u8]) -> Option<Vec<u8>> {
        use std::ops::Bound;
        self.top()
            .range::<[u8], _>((Bound::Excluded(key), Bound::Unbounded))
            .next()
            .map(|(k, _)| k.clone())
    }
    fn clear_prefix(&mut self, prefix: &[u8]) -> u32 {
        let top = self.top();
        let keys: Vec<Vec<u8>> = top.keys().filter(|k| k.starts_with(prefix)).cloned().collect();
        for k in &keys {
            top.remove(k);
        }
        keys.len() as u32
    }
    // Each layer is a full copy: simple and obviously correct, fine for unit tests.
    fn start_transaction(&mut self) {
        let copy = self.top().clone();
        self.layers.push(copy);
    }
    fn commit_transaction(&mut self) {
        if let Some(layer) = self.layers.pop() {
            *self.top() = layer;
        }
    }
    fn rollback_transaction(&mut self) {
        self.layers.pop();
    }
    fn into_any(self: Box<Self>) -> Box<dyn Any> {
        self
    }
}
