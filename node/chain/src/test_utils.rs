//! Helpers for tests and benchmarks: the dev chain in a directory, the dev keyring, signed
//! transfers. Behind the `test-utils` feature.

use crate::{Chain, ChainConfig, ChainSpec};
use parity_scale_codec::Encode;
use std::path::Path;
use std::sync::Arc;
use watt_client::{dev_accounts, sign, transfer_call, Keypair};
use watt_primitives::{AccountId, Balance, Hash, SignedTransaction};

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
