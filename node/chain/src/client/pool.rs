//! The pool front end: transactions are validated by the runtime against the head state and
//! pooled; block producers and SCP nominations take from here.

use super::{Chain, ChainError, ChainEvent};
use crate::SubmitError;
use parity_scale_codec::{DecodeAll, Encode};
use std::time::Instant;
use tokio::sync::Notify;
use watt_executor::ExecError;
use watt_primitives::abi::{entry, Query, QueryResult, ValidTransaction, ValidateInput};
use watt_primitives::{AccountId, Hash, SignedTransaction, TxError};
use watt_txpool::{DropReason, PendingTx, PoolError};

impl Chain {
    /// Signalled whenever a transaction enters the pool.
    pub fn transaction_arrived(&self) -> &Notify {
        &self.tx_arrived
    }

    /// Whether transactions wait in the pool.
    pub fn has_pending(&self) -> bool {
        !self.pool.lock().is_empty()
    }

    /// Number and encoded bytes of pending transactions.
    pub fn pool_size(&self) -> (usize, usize) {
        let pool = self.pool.lock();
        (pool.len(), pool.bytes())
    }

    /// Pending transactions.
    pub fn pending(&self) -> Vec<PendingTx> {
        self.pool.lock().pending()
    }

    /// The nonce `who`'s next transaction should use: after its pending ones, else its state nonce.
    pub fn next_nonce(&self, who: &AccountId) -> Result<u64, ChainError> {
        if let Some(n) = self.pool.lock().next_nonce(who) {
            return Ok(n);
        }
        match self.query(&Query::Account(*who))? {
            QueryResult::Account(a) => Ok(a.nonce),
            _ => Err(ExecError::BadOutput(entry::QUERY.into()).into()),
        }
    }

    /// Validates an encoded transaction against the head state.
    pub fn validate(&self, bytes: &[u8]) -> Result<Result<ValidTransaction, TxError>, ChainError> {
        let input = ValidateInput {
            chain: self.context.clone(),
            tx: bytes.to_vec(),
        };
        let out = self.call_read_only(entry::VALIDATE_TRANSACTION, &input.encode(), None)?;
        Result::<ValidTransaction, TxError>::decode_all(&mut &out[..])
            .map_err(|_| ExecError::BadOutput(entry::VALIDATE_TRANSACTION.into()).into())
    }

    /// Validates and pools an encoded transaction submitted to this node (RPC); returns its
    /// hash. A pooled transaction is also handed to the relay, if one is set, for gossip.
    pub fn submit(&self, bytes: &[u8]) -> Result<Hash, SubmitError> {
        let hash = self.submit_from_peer(bytes)?;
        if let Some(relay) = self.tx_relay.lock().as_ref() {
            let _ = relay.send(bytes.to_vec());
        }
        Ok(hash)
    }

    /// Where transactions submitted to this node go to be gossiped (the network's sender).
    pub fn set_tx_relay(&self, relay: tokio::sync::mpsc::UnboundedSender<Vec<u8>>) {
        *self.tx_relay.lock() = Some(relay);
    }

    /// Validates and pools a transaction that arrived by gossip: as [`Chain::submit`], but not
    /// handed back to the relay (the network relays what it was given once it is accepted).
    pub fn submit_from_peer(&self, bytes: &[u8]) -> Result<Hash, SubmitError> {
        let _gate = self.commit_gate.read();
        let valid = self.validate(bytes)?.map_err(PoolError::Invalid)?;
        let stx =
            SignedTransaction::decode_all(&mut &bytes[..]).map_err(|_| PoolError::Invalid(TxError::BadEncoding))?;
        let hash = valid.hash;
        let submitted = self.pool.lock().submit(stx, valid, Instant::now())?;
        if let Some(old) = submitted.replaced {
            let _ = self.events.send(ChainEvent::Dropped {
                hash: old,
                reason: "replaced by a higher tip".into(),
            });
        }
        for evicted in submitted.evicted {
            let _ = self.events.send(ChainEvent::Dropped {
                hash: evicted,
                reason: DropReason::Evicted.to_string(),
            });
        }
        self.tx_arrived.notify_one();
        Ok(hash)
    }

    /// Whether the transaction `hash` is pending in the pool.
    pub fn is_pending(&self, hash: &Hash) -> bool {
        self.pool.lock().contains(hash)
    }
}
