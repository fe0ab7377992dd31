//! Helpers for tests and benchmarks: the dev chain in a directory, the dev keyring, signed
//! transfers, agreed values, native state committed to a store. Behind the `test-utils` feature.

use crate::{Chain, ChainConfig, ChainSpec};
use parity_scale_codec::Encode;
use std::path::Path;
use std::sync::Arc;
use watt_client::{dev_accounts, sign, transfer_call, Keypair};
use watt_primitives::{AccountId, Balance, Block, ConsensusValue, Hash, Header, SignedTransaction, TxSet};
use watt_store::{StateChanges, Store};

/// The dev keyring (`//Alice` .. `//Ferdie`).
pub fn keyring() -> Vec<Keypair> {
    dev_accounts().into_iter().map(|(_, k)| k).collect()
}

/// The dev chain spec with the built runtime blob.
pub fn dev_spec() -> ChainSpec {
    let accounts: Vec<AccountId> = keyring().iter().map(Keypair::account).collect();
    ChainSpec::dev(&accounts, watt_runtime_blob::WASM_BINARY)
}

/// Opens the dev chain at `path`.
pub fn open_dev_chain(path: &Path) -> Arc<Chain> {
    open_dev_chain_with(path, ChainConfig::default())
}

/// Opens the dev chain at `path` with `config`.
pub fn open_dev_chain_with(path: &Path, config: ChainConfig) -> Arc<Chain> {
    Chain::open(path, &dev_spec(), config).expect("dev chain opens")
}

/// A signed `balances::transfer`.
pub fn transfer(
    genesis: Hash,
    from: &Keypair,
    to: AccountId,
    amount: Balance,
    nonce: u64,
    tip: Balance,
) -> SignedTransaction {
    sign(from, nonce, tip, genesis, &transfer_call(to, amount, false))
}

/// The same, SCALE-encoded as submitted over RPC.
pub fn transfer_bytes(genesis: Hash, from: &Keypair, to: AccountId, amount: Balance, nonce: u64) -> Vec<u8> {
    transfer(genesis, from, to, amount, nonce, 0).encode()
}

/// The value consensus would agree for `set` as the next block on `chain`'s head, closing
/// `after_ms` after the head and proposed by `proposer`: what `Chain::apply_agreed` takes.
/// The proposer proof is zeroes: the chain does not check it (the consensus engine does,
/// before a value is agreed), so tests of the chain need no lottery.
pub fn value_on_head(chain: &Chain, set: &TxSet, after_ms: u64, proposer: AccountId) -> ConsensusValue {
    let head = chain.best_header();
    ConsensusValue {
        parent_hash: head.hash(),
        tx_set_hash: set.hash(),
        close_time: head.close_time + after_ms,
        proposer,
        proposer_proof: [0; watt_primitives::PROPOSER_PROOF_LEN],
    }
}

/// Commits `changes`, computed natively (the runtime run outside the chain client) on top of
/// what `store` holds, as the block of `header`, and returns the state root `store` computes
/// for them. For tests that run the native runtime beside the wasm one: the block is stored
/// with that root in place of the header's, so the store takes a root that differs and the
/// test can compare the two itself (`commit_block` would refuse the mismatch), and finalized,
/// so that the next native block can build on it. No transactions, receipts or events: only
/// the state matters to the comparison.
pub fn commit_native(store: &Store, header: &Header, changes: &StateChanges) -> Hash {
    let tree = store
        .prepare_state(changes, header.number)
        .expect("the store prepares the state");
    let root = tree.root;
    let block = Block {
        header: Header {
            state_root: root,
            ..header.clone()
        },
        transactions: vec![],
    };
    store
        .commit_block(&block, &[], &[], changes, tree, true, None)
        .expect("the store commits the block");
    root
}
