//! Building and signing transactions.

use crate::keys::Keypair;
use parity_scale_codec::{Compact, Encode};
use watt_primitives::{AccountId, Balance, Hash, SignedTransaction, Transaction};
use watt_runtime::{pallet_balances, RuntimeCall};

/// A `balances::transfer` (or `transfer_keep_alive`) call.
pub fn transfer_call(dest: AccountId, amount: Balance, keep_alive: bool) -> RuntimeCall {
    let value = Compact(amount);
    RuntimeCall::Balances(if keep_alive {
        pallet_balances::Call::TransferKeepAlive { dest, value }
    } else {
        pallet_balances::Call::Transfer { dest, value }
    })
}

/// Signs `call` as `signer`'s transaction number `nonce` on the chain with `genesis`.
pub fn sign(signer: &Keypair, nonce: u64, tip: Balance, genesis: Hash, call: &RuntimeCall) -> SignedTransaction {
    let tx = Transaction {
        signer: signer.account(),
        nonce,
        tip,
        genesis,
        call: call.encode(),
    };
    let signature = signer.sign(&tx.signing_payload());
    SignedTransaction { tx, signature }
}
