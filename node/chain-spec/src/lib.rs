//! Chain specs: the JSON file that fixes a chain's genesis (balances, parameters, runtime code).
//!
//! Its own crate, with no dependency on the executor or the store, so that the parser of this
//! untrusted input can be fuzzed (`fuzz/fuzz_targets/chain_spec.rs`) and property-tested without
//! building wasmtime or rocksdb. `watt-chain` re-exports it as `watt_chain::spec`.

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
    /// The consensus section is unusable.
    #[error("chain spec `consensus`: {0}")]
    BadConsensus(String),
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
    /// Who finalizes blocks. Absent: the single-node dev engine. Not part of genesis (a
    /// validator's quorum set is its own choice; this is the default each node starts with).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consensus: Option<ConsensusSpec>,
}

/// The SCP section of a chain spec.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConsensusSpec {
    /// The validators known at launch.
    pub validators: Vec<ValidatorSpec>,
    /// The default quorum set, stellar-core's JSON form with SS58 validator ids:
    /// `{"t": 3, "v": ["5G...", {"t": 1, "v": [...]}]}`.
    pub quorum_set: watt_scp::quorum::QuorumSetJson,
    /// Multiaddresses (ending `/p2p/<peer id>`) a new node dials first.
    #[serde(default)]
    pub boot_nodes: Vec<String>,
}

/// A validator named in the spec.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ValidatorSpec {
    /// A name for logs.
    pub name: String,
    /// Its SCP signing key (sr25519), SS58.
    pub id: AccountId,
}

/// A quorum set in stellar-core JSON with SS58 ids, as the node's own type: every id must be an
/// SS58 address and the set must pass SCP's sanity rules.
pub fn parse_quorum_set(json: &watt_scp::quorum::QuorumSetJson) -> Result<watt_scp::QuorumSet<AccountId>, SpecError> {
    let named: watt_scp::QuorumSet<String> = json.into();
    for s in named.all_validators() {
        AccountId::from_ss58(&s)
            .map_err(|e| SpecError::BadConsensus(format!("quorum set entry `{s}` is not an SS58 address: {e}")))?;
    }
    let q = named.map(&|s: &String| AccountId::from_ss58(s).unwrap_or(AccountId::from([0u8; 32])));
    if let Some(p) = q.problems().first() {
        return Err(SpecError::BadConsensus(format!("quorum set is not sane: {p}")));
    }
    Ok(q)
}

/// The JSON form of a quorum set (SS58 ids), for writing specs.
pub fn quorum_set_json(q: &watt_scp::QuorumSet<AccountId>) -> watt_scp::quorum::QuorumSetJson {
    use watt_scp::quorum::{EntryJson, QuorumSetJson};
    QuorumSetJson {
        t: q.threshold,
        v: q.validators
            .iter()
            .map(|a| EntryJson::Validator(a.to_ss58()))
            .chain(q.inner.iter().map(|i| EntryJson::Inner(quorum_set_json(i))))
            .collect(),
    }
}

impl ConsensusSpec {
    /// The default quorum set, checked.
    pub fn quorum_set(&self) -> Result<watt_scp::QuorumSet<AccountId>, SpecError> {
        parse_quorum_set(&self.quorum_set)
    }
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

/// A balance: decimal digits only. `u128::from_str` alone would also take a leading `+`, so a
/// spec saying `"+5"` would load; the spec format is plain digits, and the same text must mean
/// the same amount to every tool that reads it.
fn amount(s: &str) -> Result<Balance, SpecError> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SpecError::BadAmount(s.to_string()));
    }
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
            consensus: None,
        }
    }

    /// Reads a spec file.
    pub fn from_file(path: &std::path::Path) -> Result<Self, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Parses a spec from its JSON text.
    pub fn from_json(text: &str) -> Result<Self, SpecError> {
        Ok(serde_json::from_str(text)?)
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The smallest valid wasm module: magic and version.
    const EMPTY_WASM: &[u8] = b"\0asm\x01\0\0\0";

    fn spec_with_balance(balance: &str) -> ChainSpec {
        let mut spec = ChainSpec::dev(&[AccountId::from([7u8; 32])], EMPTY_WASM);
        spec.genesis.balances[0].1 = balance.to_string();
        spec
    }

    #[test]
    fn dev_spec_survives_json_and_builds_its_genesis() {
        let alice = AccountId::from([1u8; 32]);
        let spec = ChainSpec::dev(&[alice], EMPTY_WASM);
        let text = serde_json::to_string(&spec).unwrap();
        let back = ChainSpec::from_json(&text).unwrap();
        assert_eq!(back, spec);
        let genesis = back.genesis_config().unwrap();
        assert_eq!(genesis.balances, vec![(alice, 1_000_000_000_000_000_000)]);
        assert_eq!(genesis.params.existential_deposit, 10_000_000_000);
        assert_eq!(genesis.code, EMPTY_WASM);
    }

    #[test]
    fn signed_spaced_or_empty_balances_are_refused() {
        for bad in [
            "+5",
            "-5",
            " 5",
            "5 ",
            "",
            "1e3",
            "0x10",
            "5.0",
            "340282366920938463463374607431768211456",
        ] {
            let err = spec_with_balance(bad).genesis_config().unwrap_err();
            assert!(matches!(err, SpecError::BadAmount(ref s) if s == bad), "{bad:?}: {err}");
        }
        assert_eq!(spec_with_balance("007").genesis_config().unwrap().balances[0].1, 7);
    }

    #[test]
    fn code_that_is_not_prefixed_hex_of_wasm_is_refused() {
        for code in ["", "0x", "00", "0xzz", "0x0", "0x00000000", "0X0061736d01000000"] {
            let mut spec = ChainSpec::dev(&[], EMPTY_WASM);
            spec.code = code.to_string();
            assert!(matches!(spec.genesis_config(), Err(SpecError::BadCode)), "{code:?}");
        }
    }

    #[test]
    fn json_of_the_wrong_shape_is_a_json_error() {
        for text in [
            "",
            "{}",
            "[]",
            "null",
            r#"{"name":1}"#,
            "{\"name\":\"x\",\"id\":\"y\",\"genesis\":{}}",
        ] {
            assert!(
                matches!(ChainSpec::from_json(text), Err(SpecError::Json(_))),
                "{text:?}"
            );
        }
    }

    proptest! {
        /// Any balance text is either plain digits that fit a u128 (and then means exactly that
        /// number) or refused; nothing panics.
        #[test]
        fn balance_text_is_digits_or_refused(s in "\\PC{0,45}|[0-9+\\- ]{0,45}") {
            let expected: Option<u128> = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok()
            } else {
                None
            };
            let got = spec_with_balance(&s).genesis_config().ok().map(|g| g.balances[0].1);
            prop_assert_eq!(got, expected);
        }

        /// Every u128 written in decimal comes back unchanged.
        #[test]
        fn every_u128_round_trips(n in any::<u128>()) {
            let got = spec_with_balance(&n.to_string()).genesis_config().unwrap().balances[0].1;
            prop_assert_eq!(got, n);
        }

        /// Arbitrary text never panics the parser.
        #[test]
        fn arbitrary_json_text_never_panics(s in "\\PC{0,200}") {
            let _ = ChainSpec::from_json(&s).map(|spec| spec.genesis_config());
        }
    }
}
