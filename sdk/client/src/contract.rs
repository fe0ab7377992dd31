//! Contracts from the client side: the dry-run requests and answers of `watt_contractCall` /
//! `watt_contractInstantiate` as typed views, `watt_contractInfo`, `watt_codeInfo` and
//! `watt_chainParams`, the pallet calls that upload, instantiate and call (with code split into
//! `UploadCodeChunk` transactions when it does not fit one), the chain's contract schedule (its
//! code size limit) and uploads in progress read from state, and a contract's address.

use crate::rpc::{to_hex, RpcError, WattRpc};
use parity_scale_codec::{Decode, Encode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use watt_primitives::{AccountId, Balance, Hash};
use watt_runtime::{pallet_contracts, RuntimeCall};

/// What a dry-run returned: the contract's output, or why execution failed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExecOutcome {
    /// The contract returned (possibly with the revert flag).
    Ok {
        /// Returned with the revert flag: its changes would be undone.
        reverted: bool,
        /// Its output, `0x` hex.
        data: String,
    },
    /// Execution failed: `module::Error`, e.g. `contracts::ContractTrapped`.
    Err(String),
}

/// Storage deposit a dry-run would move, decimal strings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DepositView {
    /// Taken from the origin.
    Charge(String),
    /// Given back to the origin.
    Refund(String),
}

/// An event a contract emitted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContractEventView {
    /// The emitting contract, SS58.
    pub contract: String,
    /// Its topics, `0x` hex.
    pub topics: Vec<String>,
    /// Its data, `0x` hex.
    pub data: String,
}

/// The answer of a dry-run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecView {
    /// Output or failure.
    pub result: ExecOutcome,
    /// Gas used.
    pub gas_used: u64,
    /// Storage deposit moved.
    pub storage_deposit: DepositView,
    /// Events of the calls that did not revert.
    pub events: Vec<ContractEventView>,
    /// The contracts' debug messages.
    pub debug_message: String,
    /// For an instantiation: the new contract's address, SS58.
    pub address: Option<String>,
}

/// A contract as `watt_contractInfo` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContractInfoView {
    /// Its code hash, hex.
    pub code_hash: String,
    /// Who instantiated it, SS58.
    pub deployer: String,
    /// Storage items.
    pub storage_items: u32,
    /// Storage bytes.
    pub storage_bytes: u64,
    /// Storage deposit held, decimal string.
    pub storage_deposit: String,
    /// Free balance, decimal string.
    pub balance: String,
}

/// Uploaded code as `watt_codeInfo` shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CodeInfoView {
    /// Uploader, SS58.
    pub owner: String,
    /// Deposit held, decimal string.
    pub deposit: String,
    /// Live contracts using it.
    pub refcount: u64,
    /// Code length, bytes.
    pub len: u32,
}

/// The chain parameters a client sizes transactions with (`watt_chainParams`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainParamsView {
    /// Existential deposit, decimal string.
    pub existential_deposit: String,
    /// Fee of every transaction, decimal string.
    pub base_fee: String,
    /// Fee per byte, decimal string.
    pub byte_fee: String,
    /// Fee per unit of weight, decimal string.
    pub weight_fee: String,
    /// Largest encoded transaction, bytes.
    pub max_tx_len: u32,
    /// Most weight per block.
    pub max_block_weight: u64,
    /// Most transactions per block (a chain rule; a node may propose fewer).
    pub max_block_transactions: u32,
    /// Most encoded transaction bytes per block (a chain rule; a node may propose fewer).
    pub max_block_bytes: u32,
}

/// The settings of a dry-run or transaction besides its code/destination and input.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ExecLimits {
    /// Value sent.
    pub value: Balance,
    /// Gas limit (`None`: the most a block allows, for dry-runs).
    pub gas_limit: Option<u64>,
    /// Most storage deposit (`None`: no limit).
    pub storage_deposit_limit: Option<Balance>,
}

impl ExecLimits {
    fn fields(&self, obj: &mut serde_json::Map<String, Value>) {
        obj.insert("value".into(), json!(self.value.to_string()));
        if let Some(g) = self.gas_limit {
            obj.insert("gasLimit".into(), json!(g));
        }
        if let Some(d) = self.storage_deposit_limit {
            obj.insert("storageDepositLimit".into(), json!(d.to_string()));
        }
    }
}

/// Where instantiated code comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Code<'a> {
    /// These bytes.
    Wasm(&'a [u8]),
    /// Already uploaded, by hash.
    Hash(Hash),
}

impl WattRpc {
    /// Dry-runs a call of `dest` by `origin` (`watt_contractCall`).
    pub async fn contract_call(
        &self,
        origin: &AccountId,
        dest: &AccountId,
        limits: &ExecLimits,
        input: &[u8],
    ) -> Result<ExecView, RpcError> {
        let mut obj = serde_json::Map::new();
        obj.insert("origin".into(), json!(origin.to_ss58()));
        obj.insert("dest".into(), json!(dest.to_ss58()));
        obj.insert("input".into(), json!(to_hex(input)));
        limits.fields(&mut obj);
        self.call("watt_contractCall", vec![Value::Object(obj)]).await
    }

    /// Dry-runs an instantiation by `origin` (`watt_contractInstantiate`).
    pub async fn contract_instantiate(
        &self,
        origin: &AccountId,
        code: Code<'_>,
        limits: &ExecLimits,
        input: &[u8],
        salt: &[u8],
    ) -> Result<ExecView, RpcError> {
        let mut obj = serde_json::Map::new();
        obj.insert("origin".into(), json!(origin.to_ss58()));
        match code {
            Code::Wasm(w) => obj.insert("code".into(), json!(to_hex(w))),
            Code::Hash(h) => obj.insert("codeHash".into(), json!(to_hex(&h))),
        };
        obj.insert("input".into(), json!(to_hex(input)));
        obj.insert("salt".into(), json!(to_hex(salt)));
        limits.fields(&mut obj);
        self.call("watt_contractInstantiate", vec![Value::Object(obj)]).await
    }

    /// The contract at `address`, if there is one.
    pub async fn contract_info(&self, address: &AccountId) -> Result<Option<ContractInfoView>, RpcError> {
        self.call("watt_contractInfo", vec![address.to_ss58().into()]).await
    }

    /// Uploaded code, if any.
    pub async fn code_info(&self, code_hash: &Hash) -> Result<Option<CodeInfoView>, RpcError> {
        self.call("watt_codeInfo", vec![to_hex(code_hash).into()]).await
    }

    /// The chain's parameters.
    pub async fn chain_params(&self) -> Result<ChainParamsView, RpcError> {
        self.call("watt_chainParams", vec![]).await
    }

    /// The raw value at a storage key of the head state (`state_getStorage`).
    pub async fn storage(&self, key: &[u8]) -> Result<Option<Vec<u8>>, RpcError> {
        let v: Option<String> = self.call("state_getStorage", vec![to_hex(key).into()]).await?;
        v.map(|h| crate::rpc::from_hex(&h))
            .transpose()
            .map_err(|reason| RpcError::BadAnswer {
                method: "state_getStorage".into(),
                reason,
            })
    }

    /// The contracts schedule in force (what Root set, else the default): its code limits
    /// are what an upload is checked against.
    pub async fn contract_schedule(&self) -> Result<pallet_contracts::Schedule, RpcError> {
        match self.storage(pallet_contracts::ScheduleOf::key()).await? {
            None => Ok(pallet_contracts::Schedule::default()),
            Some(bytes) => pallet_contracts::Schedule::decode(&mut &bytes[..]).map_err(|e| RpcError::BadAnswer {
                method: "state_getStorage".into(),
                reason: format!("the contracts schedule does not decode ({e}): is this client older than the node?"),
            }),
        }
    }

    /// `uploader`'s chunked upload of `code_hash` in progress, if any.
    pub async fn upload_in_progress(
        &self,
        uploader: &AccountId,
        code_hash: &Hash,
    ) -> Result<Option<pallet_contracts::PartialUpload>, RpcError> {
        let key = pallet_contracts::Uploads::key(uploader, code_hash);
        self.storage(&key)
            .await?
            .map(|bytes| {
                pallet_contracts::PartialUpload::decode(&mut &bytes[..]).map_err(|e| RpcError::BadAnswer {
                    method: "state_getStorage".into(),
                    reason: format!("an upload in progress does not decode: {e}"),
                })
            })
            .transpose()
    }
}

/// The largest contract code the chain accepts under `schedule`: its `max_code_len`, and its
/// validation limits' (the smaller of the two counts).
pub fn max_code_len(schedule: &pallet_contracts::Schedule) -> usize {
    schedule.max_code_len.min(schedule.code_limits.max_code_len) as usize
}

/// A contract's address: `blake2b-256("watt:contract" ++ deployer ++ code_hash ++ salt)`
/// (ABI.md "Addresses"; the pallet's `contract_address`).
pub fn contract_address(deployer: &AccountId, code_hash: &Hash, salt: &[u8]) -> AccountId {
    AccountId(watt_primitives::hashing::blake2_256(
        &watt_primitives::contracts::address_preimage(deployer, code_hash, salt),
    ))
}

/// blake2b-256 of code: its hash on chain.
pub fn code_hash(code: &[u8]) -> Hash {
    watt_primitives::hashing::blake2_256(code)
}

/// Bytes a signed transaction adds around its call (signer, nonce, tip, genesis, signature and
/// length prefixes), rounded up generously.
pub const TX_OVERHEAD: usize = 256;

/// `Call { dest, value, gas_limit, storage_deposit_limit, data }`.
pub fn call_call(dest: AccountId, limits: &ExecLimits, gas_limit: u64, data: Vec<u8>) -> RuntimeCall {
    RuntimeCall::Contracts(pallet_contracts::Call::Call {
        dest,
        value: limits.value,
        gas_limit,
        storage_deposit_limit: limits.storage_deposit_limit,
        data,
    })
}

/// The transactions that deploy `code` with constructor input `data`: one
/// `InstantiateWithCode` when it fits a transaction of `max_tx_len` bytes, else
/// `UploadCodeChunk`s (offset 0 first, in order, each as large as fits) and an `Instantiate`
/// by hash.
pub fn deploy_calls(
    code: &[u8],
    limits: &ExecLimits,
    gas_limit: u64,
    data: Vec<u8>,
    salt: Vec<u8>,
    max_tx_len: usize,
) -> Vec<RuntimeCall> {
    let whole = RuntimeCall::Contracts(pallet_contracts::Call::InstantiateWithCode {
        value: limits.value,
        gas_limit,
        storage_deposit_limit: limits.storage_deposit_limit,
        code: code.to_vec(),
        data: data.clone(),
        salt: salt.clone(),
    });
    if whole.encoded_size() + TX_OVERHEAD <= max_tx_len {
        return vec![whole];
    }
    let mut calls = chunk_calls(code, 0, max_tx_len);
    calls.push(instantiate_call(code_hash(code), limits, gas_limit, data, salt));
    calls
}

/// `Instantiate { value, gas_limit, storage_deposit_limit, code_hash, data, salt }`: a contract
/// from code already on chain.
pub fn instantiate_call(
    code_hash: Hash,
    limits: &ExecLimits,
    gas_limit: u64,
    data: Vec<u8>,
    salt: Vec<u8>,
) -> RuntimeCall {
    RuntimeCall::Contracts(pallet_contracts::Call::Instantiate {
        value: limits.value,
        gas_limit,
        storage_deposit_limit: limits.storage_deposit_limit,
        code_hash,
        data,
        salt,
    })
}

/// The chunk transactions that upload `code[from..]` (`from`: what an upload in progress has
/// received already; 0 for a new one), in order, each as large as fits `max_tx_len`.
pub fn chunk_calls(code: &[u8], from: usize, max_tx_len: usize) -> Vec<RuntimeCall> {
    let hash = code_hash(code);
    let total_len = code.len() as u32;
    // A chunk call is its bytes plus hash, two u32s and the compact length (at most 5 bytes).
    let per_chunk = max_tx_len.saturating_sub(TX_OVERHEAD + 2 + 32 + 8 + 5).max(1);
    let from = from.min(code.len());
    code[from..]
        .chunks(per_chunk)
        .enumerate()
        .map(|(i, chunk)| {
            RuntimeCall::Contracts(pallet_contracts::Call::UploadCodeChunk {
                code_hash: hash,
                total_len,
                offset: (from + i * per_chunk) as u32,
                chunk: chunk.to_vec(),
            })
        })
        .collect()
}

/// The transactions that upload `code` alone: one `UploadCode` when it fits a transaction of
/// `max_tx_len` bytes, else `UploadCodeChunk`s from `from` (what an upload in progress has
/// received; 0 for a new one).
pub fn upload_calls(code: &[u8], from: usize, max_tx_len: usize) -> Vec<RuntimeCall> {
    let whole = RuntimeCall::Contracts(pallet_contracts::Call::UploadCode { code: code.to_vec() });
    if from == 0 && whole.encoded_size() + TX_OVERHEAD <= max_tx_len {
        return vec![whole];
    }
    chunk_calls(code, from, max_tx_len)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_address_is_the_pallets() {
        let deployer = AccountId([1; 32]);
        let hash = [2; 32];
        assert_eq!(
            contract_address(&deployer, &hash, b"salt"),
            pallet_contracts::contract_address(&deployer, &hash, b"salt")
        );
        assert_ne!(
            contract_address(&deployer, &hash, b"salt"),
            contract_address(&deployer, &hash, b"salu")
        );
    }

    #[test]
    fn small_code_deploys_in_one_transaction_and_large_code_in_chunks() {
        let limits = ExecLimits::default();
        let small = deploy_calls(&[7; 1000], &limits, 10, vec![1], vec![], 4096);
        assert!(matches!(
            &small[..],
            [RuntimeCall::Contracts(
                pallet_contracts::Call::InstantiateWithCode { .. }
            )]
        ));
        let code: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
        let calls = deploy_calls(&code, &limits, 10, vec![1], vec![9], 4096);
        let mut joined = Vec::new();
        for call in &calls[..calls.len() - 1] {
            // Each chunk transaction fits the limit, and the chunks come in order.
            assert!(call.encoded_size() + TX_OVERHEAD <= 4096, "{}", call.encoded_size());
            match call {
                RuntimeCall::Contracts(pallet_contracts::Call::UploadCodeChunk {
                    code_hash: h,
                    total_len,
                    offset,
                    chunk,
                }) => {
                    assert_eq!(*h, code_hash(&code));
                    assert_eq!(*total_len, 10_000);
                    assert_eq!(*offset as usize, joined.len());
                    joined.extend_from_slice(chunk);
                }
                other => panic!("a chunk, got {other:?}"),
            }
        }
        assert_eq!(joined, code);
        assert!(calls.len() >= 4, "10,000 bytes in chunks under 4,096");
        match calls.last() {
            Some(RuntimeCall::Contracts(pallet_contracts::Call::Instantiate {
                code_hash: h,
                data,
                salt,
                ..
            })) => {
                assert_eq!(*h, code_hash(&code));
                assert_eq!((data.as_slice(), salt.as_slice()), (&[1u8][..], &[9u8][..]));
            }
            other => panic!("an Instantiate last, got {other:?}"),
        }
    }

    #[test]
    fn an_upload_resumes_where_the_chain_left_it() {
        let code: Vec<u8> = (0..10_000u32).map(|i| (i * 7) as u8).collect();
        assert!(matches!(
            &upload_calls(&code[..1000], 0, 4096)[..],
            [RuntimeCall::Contracts(pallet_contracts::Call::UploadCode { code: c })] if c.len() == 1000
        ));
        let all = upload_calls(&code, 0, 4096);
        let rest = upload_calls(&code, 5_000, 4096);
        let mut joined = code[..5_000].to_vec();
        for call in &rest {
            match call {
                RuntimeCall::Contracts(pallet_contracts::Call::UploadCodeChunk {
                    offset,
                    chunk,
                    code_hash: h,
                    total_len,
                }) => {
                    assert_eq!(
                        (*offset as usize, *h, *total_len),
                        (joined.len(), code_hash(&code), 10_000)
                    );
                    assert!(call.encoded_size() + TX_OVERHEAD <= 4096);
                    joined.extend_from_slice(chunk);
                }
                other => panic!("a chunk, got {other:?}"),
            }
        }
        assert_eq!(joined, code);
        assert!(rest.len() < all.len(), "resuming sends fewer chunks");
    }
}
