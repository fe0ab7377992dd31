//! Genesis: the spec's state built by the runtime in memory, and the header that commits it.

use super::ChainError;
use crate::spec::ChainSpec;
use std::sync::Arc;
use watt_executor::{Changes, ExecError, Executor, MemoryBackend, RuntimeCode, StateSession};
use watt_primitives::abi::entry;
use watt_primitives::{events_root, merkle_root, AccountId, Block, Header};
use watt_store::{PreparedTree, Store};

/// Runs the genesis build in memory: the changes and the genesis header.
pub(crate) fn genesis(
    store: &Store,
    executor: &Executor,
    spec: &ChainSpec,
) -> Result<(Block, Changes, PreparedTree), ChainError> {
    let config = spec.genesis_config()?;
    let code = RuntimeCode::new(config.code.clone());
    let session = StateSession::new(Arc::new(MemoryBackend::default()));
    let (session, out) = executor.call_decoded::<()>(&code, entry::BUILD_GENESIS, &config, session);
    out?;
    let changes = session.into_changes().map_err(ExecError::from)?;
    let tree = store.prepare_state(&changes, 0)?;
    let header = Header {
        parent_hash: [0; 32],
        number: 0,
        state_root: tree.root,
        tx_root: merkle_root(&[]),
        receipts_root: merkle_root(&[]),
        events_root: events_root(&[]),
        close_time: 0,
        // Nobody authored genesis: the spec did.
        author: AccountId([0; 32]),
    };
    Ok((
        Block {
            header,
            transactions: vec![],
        },
        changes,
        tree,
    ))
}
