//! Client SDK for Watt: keys and `//Alice`-style dev accounts (sr25519, Substrate-compatible
//! secret URIs), signing and building transactions, a JSON-RPC client for the node, and
//! light-client verification ([`light`]: finality certificates against a trusted quorum set,
//! then state proofs against the state roots they certify; [`proof`]: one state proof against
//! a trusted state root); [`contract`]: contract dry-runs, info and deployment calls.

pub mod contract;
pub mod keys;
pub mod light;
pub mod proof;
pub mod rpc;
pub mod tx;

pub use keys::{dev_accounts, KeyError, Keypair, DEV_NAMES};
pub use rpc::{RpcError, WattRpc};
pub use tx::{sign, transfer_call};
