//! Chain specs: the JSON file that fixes a chain's genesis (balances, parameters, runtime code).

use serde::{Deserialize, Serialize};
use watt_primitives::abi::{ChainParams, GenesisConfig};
use watt_primitives::{AccountId, Balance, UNIT};

/// Why a chain spec was refused.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// Not readable.
    #[error("cannot read chain spec {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The cause.
        source: std::io::Error,
    },
    /// Not valid JSON of the expected shape.
    #[error("chain spec is not valid: {0}")]
    Json(#[from] serde_json::Error),
    /// Runtime code is not hex.
    #[error("chain spec `code` is not 0x-prefixed hex of a wasm module")]
    BadCode,
    /// Amount does not parse.
    #[error("chain spec balance `{0}` is not a whole number of units")]
    BadAmount(String),
}

/// A chain spec.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChainSpec {
    /// Human-readable chain name (RPC `system_chain`).
    pub name: String,
    /// Short identifier, e.g. `dev`.
    pub id: String,
    /// Genesis state.
    pub genesis: GenesisSpec,
    /// The runtime wasm, 0x-prefixed hex.
    pub code: String,
}

/// The genesis part of a chain spec.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct GenesisSpec {
    /// Initial balances: SS58 address and amount in the smallest unit (a decimal string, as
    /// u128 amounts exceed JSON's safe integers).
    pub balances: Vec<(AccountId, String)>,
    /// Chain parameters (amounts as decimal strings).
    pub params: ParamsSpec,
}

/// Chain parameters in JSON form.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ParamsSpec {
    /// See [`ChainParams::existential_deposit`].
    pub existential_deposit: String,
    /// See [`ChainParams::base_fee`].
    pub base_fee: String,
    /// See [`ChainParams::byte_fee`].
    pub byte_fee: String,
    /// See [`ChainParams::weight_fee`].
    pub weight_fee: String,
    /// See [`ChainParams::max_tx_len`].
    pub max_tx_len: u32,
}

fn amount(s: &str) -> Result<Balance, SpecError> {
    s.parse().map_err(|_| SpecError::BadAmount(s.to_string()))
}

impl ChainSpec {
    /// The development chain: `accounts` (the dev keyring) funded with a million WATT each.
    pub fn dev(accounts: &[AccountId], code: &[u8]) -> Self {
        let each = 1_000_000 * UNIT;
        ChainSpec {
            name: "Watt Development".into(),
            id: "dev".into(),
            genesis: GenesisSpec {
                balances: accounts.iter().map(|a| (*a, each.to_string())).collect(),
                params: ParamsSpec {
                    existential_deposit: (UNIT / 100).to_string(),
                    base_fee: (UNIT / 100).to_string(),
                    byte_fee: (UNIT / 100_000).to_string(),
                    weight_fee: 100.to_string(),
                    max_tx_len: 64 * 1024,
                },
            },
            code: format!("0x{}", hex::encode(code)),
        }
    }

    /// Reads a spec file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Ok(serde_json::from_str(&text)?)
    }

    /// The runtime blob.
    pub fn code_bytes(&self) -> Result<Vec<u8>, SpecError> {
        let hex = self.code.strip_prefix("0x").ok_or(SpecError::BadCode)?;
        let code = hex::decode(hex).map_err(|_| SpecError::BadCode)?;
        if !code.starts_with(b"\0asm") {
            return Err(SpecError::BadCode);
        }
        Ok(code)
    }

    /// The runtime's genesis input.
    pub fn genesis_config(&self) -> Result<GenesisConfig, SpecError> {
        let p = &self.genesis.params;
        Ok(GenesisConfig {
            balances: self
                .genesis
                .balances
                .iter()
                .map(|(a, v)| Ok((*a, amount(v)?)))
                .collect::<Result<_, SpecError>>()?,
            params: ChainParams {
                existential_deposit: amount(&p.existential_deposit)?,
                base_fee: amount(&p.base_fee)?,
                byte_fee: amount(&p.byte_fee)?,
                weight_fee: amount(&p.weight_fee)?,
                max_tx_len: p.max_tx_len,
            },
            code: self.code_bytes()?,
        })
    }
}
