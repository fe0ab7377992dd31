//! Adapters from the store to the executor's [`StateBackend`]: the head's flat state, and the
//! state at an older block (through the tree's versioned values).

use std::sync::Arc;
use watt_executor::{BackendError, StateBackend};
use watt_primitives::BlockNumber;
use watt_store::Store;

/// The head state (flat column): fast reads and key iteration.
pub struct HeadState(pub Arc<Store>);

impl StateBackend for HeadState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.0.state_get(key).map_err(|e| BackendError(e.to_string()))
    }
    fn next_key(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.0.state_next_key(key).map_err(|e| BackendError(e.to_string()))
    }
}

/// The state after an older block. Point reads only: key iteration needs the head.
pub struct HistoricState {
    /// The store.
    pub store: Arc<Store>,
    /// The block whose post-state is read.
    pub number: BlockNumber,
}

impl StateBackend for HistoricState {
    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.store
            .state_get_at(key, self.number)
            .map_err(|e| BackendError(e.to_string()))
    }
    fn next_key(&self, _key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        Err(BackendError(format!(
            "key iteration is only available at the head, not at block {}",
            self.number
        )))
    }
}
