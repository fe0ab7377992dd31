//! A typed JSON-RPC client for a Watt node (HTTP; the node serves HTTP and WebSocket on the same
//! port, so `ws://` URLs are accepted and spoken to over HTTP).

use jsonrpsee::core::client::ClientT;
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::http_client::{HttpClient, HttpClientBuilder};
use parity_scale_codec::Encode;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::{Duration, Instant};
use watt_primitives::{AccountId, Hash, SignedTransaction, StateProof};

/// Why an RPC call failed.
#[derive(Debug, thiserror::Error)]
pub enum RpcError {
    /// The node answered with a JSON-RPC error.
    #[error("node refused {method}: {message} (code {code}){}", data.as_ref().map(|d| format!(": {d}")).unwrap_or_default())]
    Server {
        /// The method called.
        method: String,
        /// JSON-RPC error code.
        code: i32,
        /// Message.
        message: String,
        /// Extra data (e.g. the invalidity reason).
        data: Option<String>,
    },
    /// The node could not be reached or answered garbage.
    #[error("cannot talk to the node at {url}: {reason}")]
    Transport {
        /// Node URL.
        url: String,
        /// Cause.
        reason: String,
    },
    /// The answer has an unexpected shape.
    #[error("unexpected answer to {method}: {reason}")]
    BadAnswer {
        /// The method called.
        method: String,
        /// Cause.
        reason: String,
    },
    /// Waiting ran out of time.
    #[error("transaction 0x{0} was not {1} within the timeout")]
    Timeout(String, &'static str),
}

/// An account as `watt_account` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountView {
    /// Free balance in the smallest unit, as a decimal string.
    pub free: String,
    /// Next nonce.
    pub nonce: u64,
}

/// A receipt as `watt_receipt` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptView {
    /// Transaction hash.
    pub tx_hash: String,
    /// Including block's number.
    pub block_number: u64,
    /// Including block's hash.
    pub block_hash: String,
    /// Position in the block.
    pub index: u32,
    /// Whether the call succeeded (the fee is paid either way).
    pub success: bool,
    /// Failure reason, `module::Error`.
    pub error: Option<String>,
    /// Fee and tip paid, decimal string.
    pub fee_paid: String,
    /// SCALE-encoded runtime events, hex: the first page of them (all of them unless
    /// `events_next` is set; [`WattRpc::receipt_events`] reads every page).
    pub events: Vec<String>,
    /// How many events the transaction emitted (absent from nodes older than paging).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_total: Option<u64>,
    /// Where the next page of events starts, when `events` is not all of them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events_next: Option<u64>,
}

/// A read proof as `state_getReadProof` returns it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReadProofView {
    /// Block the proof is for.
    pub at: String,
    /// That block's state root (clients should take it from a header they trust instead).
    pub state_root: String,
    /// One proof per requested key.
    pub proofs: Vec<ProofEntryView>,
}

/// One key's proof.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProofEntryView {
    /// Storage key, hex.
    pub key: String,
    /// Value, hex, or null when absent.
    pub value: Option<String>,
    /// Proof bytes, hex.
    pub proof: String,
}

impl ProofEntryView {
    /// Decodes into a [`StateProof`].
    pub fn to_state_proof(&self) -> Result<StateProof, String> {
        Ok(StateProof {
            key: from_hex(&self.key)?,
            value: self.value.as_deref().map(from_hex).transpose()?,
            proof: from_hex(&self.proof)?,
        })
    }
}

/// How long [`WattRpc::submit_and_wait`] waits.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WaitFor {
    /// Until a block includes it.
    Included,
    /// Until a finalized block includes it.
    Finalized,
}

/// The `number` of a JSON header: a JSON number (Watt), or a `0x` hex string (Substrate).
pub fn header_number(header: &serde_json::Value) -> Option<u64> {
    match &header["number"] {
        serde_json::Value::Number(n) => n.as_u64(),
        serde_json::Value::String(s) => u64::from_str_radix(s.strip_prefix("0x")?, 16).ok(),
        _ => None,
    }
}

/// `0x`-prefixed lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// Parses `0x`-prefixed hex.
pub fn from_hex(s: &str) -> Result<Vec<u8>, String> {
    hex::decode(s.strip_prefix("0x").unwrap_or(s)).map_err(|e| format!("not hex: {e}"))
}

/// Parses a 32-byte hash from hex.
pub fn hash_from_hex(s: &str) -> Result<Hash, String> {
    from_hex(s)?.try_into().map_err(|_| "not a 32-byte hash".to_string())
}

/// A client of one node.
#[derive(Clone)]
pub struct WattRpc {
    client: HttpClient,
    url: String,
}

impl WattRpc {
    /// Connects (lazily) to `url`, e.g. `http://127.0.0.1:9944`.
    pub fn new(url: &str) -> Result<Self, RpcError> {
        let http = if let Some(rest) = url.strip_prefix("ws://") {
            format!("http://{rest}")
        } else if let Some(rest) = url.strip_prefix("wss://") {
            format!("https://{rest}")
        } else {
            url.to_string()
        };
        let client = HttpClientBuilder::default()
            .request_timeout(Duration::from_secs(60))
            .build(&http)
            .map_err(|e| RpcError::Transport {
                url: url.into(),
                reason: e.to_string(),
            })?;
        Ok(WattRpc {
            client,
            url: url.to_string(),
        })
    }

    /// Calls any method with positional parameters.
    pub async fn call<T: DeserializeOwned>(&self, method: &str, params: Vec<serde_json::Value>) -> Result<T, RpcError> {
        let mut p = ArrayParams::new();
        for v in params {
            p.insert(v).map_err(|e| RpcError::BadAnswer {
                method: method.into(),
                reason: e.to_string(),
            })?;
        }
        self.client.request(method, p).await.map_err(|e| match e {
            jsonrpsee::core::ClientError::Call(obj) => RpcError::Server {
                method: method.into(),
                code: obj.code(),
                message: obj.message().to_string(),
                data: obj.data().map(|d| d.get().trim_matches('"').to_string()),
            },
            jsonrpsee::core::ClientError::ParseError(e) => RpcError::BadAnswer {
                method: method.into(),
                reason: e.to_string(),
            },
            other => RpcError::Transport {
                url: self.url.clone(),
                reason: other.to_string(),
            },
        })
    }

    fn bad(method: &str, reason: impl ToString) -> RpcError {
        RpcError::BadAnswer {
            method: method.into(),
            reason: reason.to_string(),
        }
    }

    /// The chain's genesis hash (`chain_getBlockHash(0)`).
    pub async fn genesis_hash(&self) -> Result<Hash, RpcError> {
        let h: Option<String> = self.call("chain_getBlockHash", vec![0.into()]).await?;
        let h = h.ok_or_else(|| Self::bad("chain_getBlockHash", "no genesis"))?;
        hash_from_hex(&h).map_err(|e| Self::bad("chain_getBlockHash", e))
    }

    /// Balance and nonce of `who`.
    pub async fn account(&self, who: &AccountId) -> Result<AccountView, RpcError> {
        self.call("watt_account", vec![who.to_ss58().into()]).await
    }

    /// The nonce for `who`'s next transaction, counting its transactions pending in the pool.
    pub async fn next_nonce(&self, who: &AccountId) -> Result<u64, RpcError> {
        self.call("system_accountNextIndex", vec![who.to_ss58().into()]).await
    }

    /// Submits a signed transaction; returns its hash.
    pub async fn submit(&self, tx: &SignedTransaction) -> Result<Hash, RpcError> {
        let h: String = self
            .call("author_submitExtrinsic", vec![to_hex(&tx.encode()).into()])
            .await?;
        hash_from_hex(&h).map_err(|e| Self::bad("author_submitExtrinsic", e))
    }

    /// The receipt of a transaction, once included.
    pub async fn receipt(&self, tx_hash: &Hash) -> Result<Option<ReceiptView>, RpcError> {
        self.call("watt_receipt", vec![to_hex(tx_hash).into()]).await
    }

    /// Every event of a transaction's receipt, reading page after page when it emitted more
    /// than one response carries (`watt_receipt(hash, {offset})`); `None` without a receipt.
    pub async fn receipt_events(&self, tx_hash: &Hash) -> Result<Option<Vec<String>>, RpcError> {
        let Some(first) = self.receipt(tx_hash).await? else {
            return Ok(None);
        };
        let mut events = first.events;
        let mut next = first.events_next;
        while let Some(offset) = next {
            let page: Option<ReceiptView> = self
                .call(
                    "watt_receipt",
                    vec![to_hex(tx_hash).into(), serde_json::json!({ "offset": offset })],
                )
                .await?;
            let page = page.ok_or_else(|| Self::bad("watt_receipt", "the receipt vanished between pages"))?;
            if page.events.is_empty() && page.events_next.is_some() {
                return Err(Self::bad("watt_receipt", "an empty page that is not the last"));
            }
            events.extend(page.events);
            next = page.events_next;
        }
        Ok(Some(events))
    }

    /// Number of the highest finalized block.
    pub async fn finalized_number(&self) -> Result<u64, RpcError> {
        let hash: String = self.call("chain_getFinalizedHead", vec![]).await?;
        let header: serde_json::Value = self.call("chain_getHeader", vec![hash.into()]).await?;
        header_number(&header).ok_or_else(|| Self::bad("chain_getHeader", "no block number"))
    }

    /// Submits and waits until the transaction is included (or finalized).
    pub async fn submit_and_wait(
        &self,
        tx: &SignedTransaction,
        until: WaitFor,
        timeout: Duration,
    ) -> Result<ReceiptView, RpcError> {
        let hash = self.submit(tx).await?;
        self.wait(&hash, until, timeout).await
    }

    /// Polls until `tx_hash` has a receipt (and, for [`WaitFor::Finalized`], its block is final).
    pub async fn wait(&self, tx_hash: &Hash, until: WaitFor, timeout: Duration) -> Result<ReceiptView, RpcError> {
        let started = Instant::now();
        loop {
            if let Some(r) = self.receipt(tx_hash).await? {
                if until == WaitFor::Included || self.finalized_number().await? >= r.block_number {
                    return Ok(r);
                }
            }
            if started.elapsed() > timeout {
                let what = if until == WaitFor::Included {
                    "included"
                } else {
                    "finalized"
                };
                return Err(RpcError::Timeout(hex::encode(tx_hash), what));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Proofs of raw storage keys at block `at` (head when `None`).
    pub async fn read_proof(&self, keys: &[Vec<u8>], at: Option<Hash>) -> Result<ReadProofView, RpcError> {
        let keys: Vec<serde_json::Value> = keys.iter().map(|k| to_hex(k).into()).collect();
        let at = at.map(|h| to_hex(&h).into()).unwrap_or(serde_json::Value::Null);
        self.call("state_getReadProof", vec![keys.into(), at]).await
    }
}
