//! Chain specs: the JSON file that fixes a chain's genesis (balances, parameters, the economy,
//! runtime code).
//!
//! Amounts are decimal strings of the smallest unit (1 WATT = 10^12 units), since u128 amounts
//! exceed JSON's safe integers. The `genesis.economy` section holds the supply schedule and role
//! weights ([`EconomyParams`]), the registrars who attest unique persons, the dev sudo key, the
//! validators, genesis pledges and the team account. A spec is checked when its genesis is
//! built ([`ChainSpec::genesis_config`]): parameters pass [`EconomyParams::check`], the block
//! limits can hold a transaction and travel on the wire ([`MAX_BLOCK_BYTES_LIMIT`]), no account is
//! funded twice, every genesis pledge is covered by its account's balance, and the genesis
//! balances plus the team reserve (5% of the cap, minted at genesis) stay within the cap.
//!
//! Its own crate, with no dependency on the executor or the store, so that the parser of this
//! untrusted input can be fuzzed (`fuzz/fuzz_targets/chain_spec.rs`) and property-tested without
//! building wasmtime or rocksdb. `watt-chain` re-exports it as `watt_chain::spec`.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use watt_primitives::abi::{ChainParams, GenesisConfig};
use watt_primitives::economy::{team_reserve_of, EconomyGenesis, EconomyParams, PerRole, Role};
use watt_primitives::{AccountId, Balance, BlockNumber, UNIT};

/// Blocks per day of the dev chain unless asked otherwise: one day of 5-second blocks.
pub const DEV_DAY_BLOCKS: BlockNumber = 17_280;

/// The dev chain's block weight limit.
pub const DEV_MAX_BLOCK_WEIGHT: u64 = 2_000_000_000;

/// Most transactions in a block of the dev and test chains, and of a spec written before
/// `maxBlockTransactions` existed (the node's old `--max-block-txs` default, so such a spec
/// keeps the limit its validators used).
pub const DEFAULT_MAX_BLOCK_TRANSACTIONS: u32 = 20_000;

/// Most encoded transaction bytes in a block of the dev and test chains, and of a spec written
/// before `maxBlockBytes` existed (the node's old fixed limit): 8 MiB.
pub const DEFAULT_MAX_BLOCK_BYTES: u32 = 8 << 20;

/// The largest encoded transaction set the network carries: `MAX_TX_SET_BYTES` of the
/// consensus wire (`watt_consensus::scp::wire`) and the gossip payload limit, 9 MiB. Restated
/// here because this crate stays free of the node's networking; the `watt` binary checks at
/// compile time that the two agree.
pub const WIRE_MAX_TX_SET_BYTES: u32 = 9 << 20;

/// The largest `maxBlockBytes` a spec may give: a set of that many bytes of transactions plus
/// its length prefix (a SCALE compact count, at most 5 bytes) still fits
/// [`WIRE_MAX_TX_SET_BYTES`]. A larger limit would let validators agree on a set that cannot
/// be gossiped or fetched, and the chain would stall.
pub const MAX_BLOCK_BYTES_LIMIT: u32 = WIRE_MAX_TX_SET_BYTES - 5;

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
    /// A chain parameter cannot run a chain.
    #[error("chain spec `genesis.params`: {0}")]
    BadParams(String),
    /// The economy section cannot run a chain (the message names the field).
    #[error("chain spec `genesis.economy`: {0}")]
    BadEconomy(String),
    /// An account appears twice in `genesis.balances` (which amount was meant is unclear).
    #[error("chain spec `genesis.balances` lists {0} more than once: give each account one entry")]
    DuplicateBalance(AccountId),
    /// A genesis pledge needs more than its account is given.
    #[error(
        "chain spec `genesis.economy.pledges`: {account} pledges {units} units, which bond {needed} units of balance, but its genesis balance is {balance}: fund it in `genesis.balances` or pledge less"
    )]
    UnfundedPledge {
        /// The pledging account.
        account: AccountId,
        /// Pledge units asked.
        units: u64,
        /// Balance the pledge bonds (units * wattPerUnit).
        needed: Balance,
        /// The account's genesis balance.
        balance: Balance,
    },
    /// Genesis would mint more than the cap.
    #[error(
        "chain spec genesis mints {minted} units (balances plus the team reserve of 5% of the cap), more than the supply cap {cap}: lower the balances or raise `supplyCap`"
    )]
    ExceedsCap {
        /// Genesis balances plus the team reserve (saturating).
        minted: Balance,
        /// `supplyCap`.
        cap: Balance,
    },
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
    /// The economy: schedule, registrars, sudo key, validators, pledges, team.
    pub economy: EconomySpec,
}

/// The `genesis.economy` section.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EconomySpec {
    /// Supply schedule and role weights.
    pub params: EconomyParamsSpec,
    /// Accounts that may attest unique persons (SS58).
    pub registrars: Vec<AccountId>,
    /// The key that acts as Root until governance lands (SS58), or `null` for none.
    pub sudo: Option<AccountId>,
    /// Validators paid the validator share once pledged (SS58).
    pub validators: Vec<AccountId>,
    /// Pledges bonded at genesis: `[address, units]`; each account's genesis balance must cover
    /// `units * wattPerUnit`.
    pub pledges: Vec<(AccountId, u64)>,
    /// Receives the team reserve as it vests (SS58).
    pub team: AccountId,
}

/// [`EconomyParams`] in JSON form: balances as decimal strings, role weights as objects.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EconomyParamsSpec {
    /// See [`EconomyParams::day_blocks`].
    pub day_blocks: BlockNumber,
    /// See [`EconomyParams::supply_cap`].
    pub supply_cap: String,
    /// See [`EconomyParams::checkin_mining_total`].
    pub checkin_mining_total: String,
    /// See [`EconomyParams::checkin_daily`].
    pub checkin_daily: String,
    /// See [`EconomyParams::phase2_daily`].
    pub phase2_daily: String,
    /// See [`EconomyParams::pledge_mining_percent`].
    pub pledge_mining_percent: u8,
    /// See [`EconomyParams::mobile_storage_percent`].
    pub mobile_storage_percent: u8,
    /// See [`EconomyParams::checkin_weights`].
    pub checkin_weights: RoleWeights,
    /// See [`EconomyParams::fee_weights`].
    pub fee_weights: RoleWeights,
    /// See [`EconomyParams::watt_per_unit`].
    pub watt_per_unit: String,
    /// See [`EconomyParams::unbonding_days`].
    pub unbonding_days: u32,
    /// See [`EconomyParams::min_validator_units`].
    pub min_validator_units: u64,
    /// See [`EconomyParams::team_vesting_days`].
    pub team_vesting_days: u32,
}

/// A weight per role, by name.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RoleWeights {
    /// [`Role::Pioneer`].
    pub pioneer: u32,
    /// [`Role::Contributor`].
    pub contributor: u32,
    /// [`Role::Ambassador`].
    pub ambassador: u32,
    /// [`Role::Validator`].
    pub validator: u32,
    /// [`Role::Pledger`].
    pub pledger: u32,
}

impl From<PerRole<u32>> for RoleWeights {
    fn from(w: PerRole<u32>) -> Self {
        RoleWeights {
            pioneer: w.get(Role::Pioneer),
            contributor: w.get(Role::Contributor),
            ambassador: w.get(Role::Ambassador),
            validator: w.get(Role::Validator),
            pledger: w.get(Role::Pledger),
        }
    }
}

impl From<RoleWeights> for PerRole<u32> {
    fn from(w: RoleWeights) -> Self {
        let mut p = PerRole::default();
        p.set(Role::Pioneer, w.pioneer);
        p.set(Role::Contributor, w.contributor);
        p.set(Role::Ambassador, w.ambassador);
        p.set(Role::Validator, w.validator);
        p.set(Role::Pledger, w.pledger);
        p
    }
}

impl From<&EconomyParams> for EconomyParamsSpec {
    fn from(p: &EconomyParams) -> Self {
        EconomyParamsSpec {
            day_blocks: p.day_blocks,
            supply_cap: p.supply_cap.to_string(),
            checkin_mining_total: p.checkin_mining_total.to_string(),
            checkin_daily: p.checkin_daily.to_string(),
            phase2_daily: p.phase2_daily.to_string(),
            pledge_mining_percent: p.pledge_mining_percent,
            mobile_storage_percent: p.mobile_storage_percent,
            checkin_weights: p.checkin_weights.into(),
            fee_weights: p.fee_weights.into(),
            watt_per_unit: p.watt_per_unit.to_string(),
            unbonding_days: p.unbonding_days,
            min_validator_units: p.min_validator_units,
            team_vesting_days: p.team_vesting_days,
        }
    }
}

impl EconomyParamsSpec {
    /// The parameters, parsed and checked ([`EconomyParams::check`]).
    pub fn to_params(&self) -> Result<EconomyParams, SpecError> {
        let params = EconomyParams {
            day_blocks: self.day_blocks,
            supply_cap: amount(&self.supply_cap)?,
            checkin_mining_total: amount(&self.checkin_mining_total)?,
            checkin_daily: amount(&self.checkin_daily)?,
            phase2_daily: amount(&self.phase2_daily)?,
            pledge_mining_percent: self.pledge_mining_percent,
            mobile_storage_percent: self.mobile_storage_percent,
            checkin_weights: self.checkin_weights.into(),
            fee_weights: self.fee_weights.into(),
            watt_per_unit: amount(&self.watt_per_unit)?,
            unbonding_days: self.unbonding_days,
            min_validator_units: self.min_validator_units,
            team_vesting_days: self.team_vesting_days,
        };
        params
            .check()
            .map_err(|e| SpecError::BadEconomy(format!("params: {e}")))?;
        Ok(params)
    }
}

/// Chain parameters in JSON form.
///
/// Unknown fields are refused: `maxBlockTransactions` and `maxBlockBytes` have defaults, so a
/// misspelt one would otherwise be ignored and silently give the chain the default limit.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
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
    /// See [`ChainParams::max_block_weight`]; at least 1.
    pub max_block_weight: u64,
    /// See [`ChainParams::max_block_transactions`]; at least 1. A chain rule every validator
    /// judges sets by (a node's `--max-block-txs` only caps what it proposes). Optional in the
    /// JSON so that specs written before it load: absent means
    /// [`DEFAULT_MAX_BLOCK_TRANSACTIONS`], the limit those chains' nodes applied.
    #[serde(default = "default_max_block_transactions")]
    pub max_block_transactions: u32,
    /// See [`ChainParams::max_block_bytes`]; at least 1, at least `maxTxLen` (or a transaction
    /// the pool admits could fit no block), at most [`MAX_BLOCK_BYTES_LIMIT`] (what the wire
    /// carries). Optional in the JSON like `maxBlockTransactions`: absent means
    /// [`DEFAULT_MAX_BLOCK_BYTES`].
    #[serde(default = "default_max_block_bytes")]
    pub max_block_bytes: u32,
}

fn default_max_block_transactions() -> u32 {
    DEFAULT_MAX_BLOCK_TRANSACTIONS
}

fn default_max_block_bytes() -> u32 {
    DEFAULT_MAX_BLOCK_BYTES
}

impl ParamsSpec {
    /// The block size limits can run a chain: at least one transaction of `maxTxLen` bytes fits
    /// a block, and a full block's set fits the wire.
    fn check_block_size(&self) -> Result<(), SpecError> {
        if self.max_block_transactions == 0 {
            return Err(SpecError::BadParams(
                "maxBlockTransactions must be at least 1 (no block could hold a transaction)".into(),
            ));
        }
        if self.max_block_bytes == 0 {
            return Err(SpecError::BadParams(
                "maxBlockBytes must be at least 1 (no block could hold a transaction)".into(),
            ));
        }
        if self.max_block_bytes > MAX_BLOCK_BYTES_LIMIT {
            return Err(SpecError::BadParams(format!(
                "maxBlockBytes is {}, more than the {MAX_BLOCK_BYTES_LIMIT} a transaction set may carry on the network ({WIRE_MAX_TX_SET_BYTES} bytes with its length prefix)",
                self.max_block_bytes
            )));
        }
        if self.max_tx_len > self.max_block_bytes {
            return Err(SpecError::BadParams(format!(
                "maxTxLen ({}) is more than maxBlockBytes ({}): the pool would admit transactions no block can hold",
                self.max_tx_len, self.max_block_bytes
            )));
        }
        Ok(())
    }
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
    /// The development chain: `accounts` (the dev keyring) funded with a million WATT each, days
    /// of [`DEV_DAY_BLOCKS`] blocks. See [`ChainSpec::dev_with_day_blocks`] for the economy.
    pub fn dev(accounts: &[AccountId], code: &[u8]) -> Self {
        Self::dev_with_day_blocks(accounts, code, DEV_DAY_BLOCKS)
    }

    /// The development chain with days of `day_blocks` blocks: the mainnet schedule
    /// ([`EconomyParams::mainnet`]); the first account (//Alice) is the registrar, the sudo key,
    /// the one validator and holds a genesis pledge of the validator minimum; the last account
    /// receives the team reserve (a keyless account when `accounts` is empty, which also leaves
    /// no registrar, sudo key, validator or pledge).
    pub fn dev_with_day_blocks(accounts: &[AccountId], code: &[u8], day_blocks: BlockNumber) -> Self {
        let each = 1_000_000 * UNIT;
        let params = EconomyParams::mainnet(day_blocks);
        let first = accounts.first().copied();
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
                    max_block_weight: DEV_MAX_BLOCK_WEIGHT,
                    max_block_transactions: DEFAULT_MAX_BLOCK_TRANSACTIONS,
                    max_block_bytes: DEFAULT_MAX_BLOCK_BYTES,
                },
                economy: EconomySpec {
                    params: (&params).into(),
                    registrars: first.into_iter().collect(),
                    sudo: first,
                    validators: first.into_iter().collect(),
                    pledges: first.map(|a| (a, params.min_validator_units)).into_iter().collect(),
                    team: accounts
                        .last()
                        .copied()
                        .unwrap_or_else(|| AccountId::keyless(b"watt/dev-team")),
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

    /// The runtime's genesis input, after the checks the module docs list.
    pub fn genesis_config(&self) -> Result<GenesisConfig, SpecError> {
        let p = &self.genesis.params;
        let mut balances: Vec<(AccountId, Balance)> = Vec::with_capacity(self.genesis.balances.len());
        let mut by_account: BTreeMap<AccountId, Balance> = BTreeMap::new();
        for (who, text) in &self.genesis.balances {
            let value = amount(text)?;
            if by_account.insert(*who, value).is_some() {
                return Err(SpecError::DuplicateBalance(*who));
            }
            balances.push((*who, value));
        }
        if p.max_block_weight == 0 {
            return Err(SpecError::BadParams(
                "maxBlockWeight must be at least 1 (no transaction fits a block of weight 0)".into(),
            ));
        }
        p.check_block_size()?;
        let economy = self.economy_genesis(&by_account)?;
        Ok(GenesisConfig {
            balances,
            params: ChainParams {
                existential_deposit: amount(&p.existential_deposit)?,
                base_fee: amount(&p.base_fee)?,
                byte_fee: amount(&p.byte_fee)?,
                weight_fee: amount(&p.weight_fee)?,
                max_tx_len: p.max_tx_len,
                max_block_weight: p.max_block_weight,
                max_block_transactions: p.max_block_transactions,
                max_block_bytes: p.max_block_bytes,
            },
            code: self.code_bytes()?,
            economy,
        })
    }

    /// The economy's genesis, checked against the genesis balances.
    fn economy_genesis(&self, balances: &BTreeMap<AccountId, Balance>) -> Result<EconomyGenesis, SpecError> {
        let e = &self.genesis.economy;
        let params = e.params.to_params()?;
        let minted = balances
            .values()
            .fold(team_reserve_of(params.supply_cap), |sum, b| sum.saturating_add(*b));
        if minted > params.supply_cap {
            return Err(SpecError::ExceedsCap {
                minted,
                cap: params.supply_cap,
            });
        }
        let mut pledged: BTreeSet<AccountId> = BTreeSet::new();
        for (account, units) in &e.pledges {
            if *units == 0 {
                return Err(SpecError::BadEconomy(format!("pledges: {account} pledges 0 units")));
            }
            if !pledged.insert(*account) {
                return Err(SpecError::BadEconomy(format!(
                    "pledges: {account} is listed more than once; give one entry with the total units"
                )));
            }
            let balance = balances.get(account).copied().unwrap_or(0);
            let needed = Balance::from(*units).checked_mul(params.watt_per_unit);
            if needed.is_none_or(|n| n > balance) {
                return Err(SpecError::UnfundedPledge {
                    account: *account,
                    units: *units,
                    needed: needed.unwrap_or(Balance::MAX),
                    balance,
                });
            }
        }
        Ok(EconomyGenesis {
            params,
            registrars: e.registrars.clone(),
            sudo: e.sudo,
            validators: e.validators.clone(),
            pledges: e.pledges.clone(),
            team: e.team,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The smallest valid wasm module: magic and version.
    const EMPTY_WASM: &[u8] = b"\0asm\x01\0\0\0";

    /// The most a single genesis balance may be when the cap is `u128::MAX`: the team reserve
    /// (a twentieth of the cap) is minted at genesis too.
    const MOST_UNDER_MAX_CAP: u128 = u128::MAX - u128::MAX / 20;

    fn a(n: u8) -> AccountId {
        AccountId::from([n; 32])
    }

    /// A spec with one funded account, no pledge, and the largest cap, so the balance text alone
    /// decides what is accepted.
    fn spec_with_balance(balance: &str) -> ChainSpec {
        let mut spec = ChainSpec::dev(&[], EMPTY_WASM);
        spec.genesis.balances.push((a(7), balance.to_string()));
        spec.genesis.economy.params.supply_cap = u128::MAX.to_string();
        spec
    }

    fn round_trip(spec: &ChainSpec) -> ChainSpec {
        ChainSpec::from_json(&serde_json::to_string(spec).unwrap()).unwrap()
    }

    #[test]
    fn dev_spec_survives_json_and_builds_its_genesis() {
        let (alice, bob, ferdie) = (a(1), a(2), a(6));
        let spec = ChainSpec::dev(&[alice, bob, ferdie], EMPTY_WASM);
        let back = round_trip(&spec);
        assert_eq!(back, spec);
        let genesis = back.genesis_config().unwrap();
        let million = 1_000_000_000_000_000_000;
        assert_eq!(
            genesis.balances,
            vec![(alice, million), (bob, million), (ferdie, million)]
        );
        assert_eq!(genesis.params.existential_deposit, 10_000_000_000);
        assert_eq!(genesis.params.max_block_weight, 2_000_000_000);
        assert_eq!(genesis.code, EMPTY_WASM);
        let e = genesis.economy;
        assert_eq!(e.params.day_blocks, 17_280, "one day of 5 s blocks");
        assert_eq!(e.params, EconomyParams::mainnet(17_280));
        assert_eq!(e.registrars, vec![alice]);
        assert_eq!(e.sudo, Some(alice));
        assert_eq!(e.validators, vec![alice]);
        assert_eq!(e.pledges, vec![(alice, e.params.min_validator_units)]);
        assert_eq!(e.team, ferdie, "the last dev account holds the team reserve");
    }

    #[test]
    fn dev_spec_of_no_accounts_still_builds() {
        let spec = ChainSpec::dev(&[], EMPTY_WASM);
        let genesis = round_trip(&spec).genesis_config().unwrap();
        assert!(genesis.balances.is_empty());
        let e = genesis.economy;
        assert!(e.registrars.is_empty() && e.validators.is_empty() && e.pledges.is_empty());
        assert_eq!(e.sudo, None);
        assert_eq!(e.team, AccountId::keyless(b"watt/dev-team"));
    }

    #[test]
    fn day_length_is_chosen_by_dev_with_day_blocks() {
        let spec = ChainSpec::dev_with_day_blocks(&[a(1)], EMPTY_WASM, 5);
        assert_eq!(round_trip(&spec).genesis_config().unwrap().economy.params.day_blocks, 5);
        let spec = ChainSpec::dev_with_day_blocks(&[a(1)], EMPTY_WASM, 0);
        let err = spec.genesis_config().unwrap_err();
        assert!(
            matches!(&err, SpecError::BadEconomy(m) if m.contains("dayBlocks")),
            "{err}"
        );
    }

    #[test]
    fn economy_json_is_camel_case_with_string_amounts_and_named_weights() {
        let alice = a(1);
        let v = serde_json::to_value(ChainSpec::dev(&[alice], EMPTY_WASM)).unwrap();
        let e = &v["genesis"]["economy"];
        assert_eq!(
            e["params"]["supplyCap"], "20000000000000000000000",
            "20e9 WATT of 12 decimals"
        );
        assert_eq!(e["params"]["dayBlocks"], 17_280);
        assert_eq!(e["params"]["wattPerUnit"], "1000000000000000");
        assert_eq!(
            e["params"]["checkinWeights"],
            serde_json::json!({"pioneer": 50, "contributor": 20, "ambassador": 15, "validator": 15, "pledger": 0})
        );
        assert_eq!(e["sudo"], alice.to_ss58());
        assert_eq!(e["pledges"], serde_json::json!([[alice.to_ss58(), 10]]));
        assert_eq!(v["genesis"]["params"]["maxBlockWeight"], 2_000_000_000u64);
        let none = serde_json::to_value(ChainSpec::dev(&[], EMPTY_WASM)).unwrap();
        assert_eq!(none["genesis"]["economy"]["sudo"], serde_json::Value::Null);
    }

    #[test]
    fn misspelt_or_missing_economy_fields_are_json_errors() {
        let text = serde_json::to_string(&ChainSpec::dev(&[a(1)], EMPTY_WASM)).unwrap();
        for (from, to) in [
            ("\"dayBlocks\"", "\"dayblocks\""),
            ("\"pioneer\"", "\"pioner\""),
            ("\"economy\"", "\"economi\""),
            ("\"maxBlockWeight\"", "\"maxBlockWieght\""),
            ("\"team\"", "\"teem\""),
        ] {
            assert!(text.contains(from));
            let bad = text.replacen(from, to, 1);
            assert!(matches!(ChainSpec::from_json(&bad), Err(SpecError::Json(_))), "{to}");
        }
    }

    #[test]
    fn economy_params_failing_their_check_are_refused_with_the_field() {
        let cases: [(&str, fn(&mut EconomyParamsSpec)); 4] = [
            ("dayBlocks", |p| p.day_blocks = 0),
            ("wattPerUnit", |p| p.watt_per_unit = "0".into()),
            ("percentages", |p| p.pledge_mining_percent = 101),
            ("checkinMiningTotal", |p| {
                p.checkin_mining_total = "20000000000000000000001".into()
            }),
        ];
        for (field, spoil) in cases {
            let mut spec = ChainSpec::dev(&[a(1)], EMPTY_WASM);
            spoil(&mut spec.genesis.economy.params);
            let err = spec.genesis_config().unwrap_err();
            assert!(
                matches!(&err, SpecError::BadEconomy(m) if m.contains(field)),
                "{field}: {err}"
            );
            assert!(err.to_string().contains("genesis.economy"), "{err}");
        }
        let mut spec = ChainSpec::dev(&[a(1)], EMPTY_WASM);
        spec.genesis.economy.params.checkin_weights = RoleWeights {
            pioneer: 0,
            contributor: 0,
            ambassador: 0,
            validator: 0,
            pledger: 7,
        };
        assert!(matches!(spec.genesis_config(), Err(SpecError::BadEconomy(m)) if m.contains("checkinWeights")));
        let mut spec = ChainSpec::dev(&[a(1)], EMPTY_WASM);
        spec.genesis.economy.params.phase2_daily = "+1".into();
        assert!(matches!(spec.genesis_config(), Err(SpecError::BadAmount(s)) if s == "+1"));
    }

    #[test]
    fn pledges_need_the_balance_they_bond() {
        // 10 units of 1,000 WATT: 10,000 WATT.
        let needed: Balance = 10_000 * UNIT;
        let mut spec = ChainSpec::dev(&[a(1), a(2)], EMPTY_WASM);
        spec.genesis.balances[0].1 = needed.to_string();
        assert!(spec.genesis_config().is_ok(), "exactly enough");
        spec.genesis.balances[0].1 = (needed - 1).to_string();
        match spec.genesis_config() {
            Err(SpecError::UnfundedPledge {
                account,
                units: 10,
                needed: n,
                balance,
            }) => {
                assert_eq!((account, n, balance), (a(1), needed, needed - 1));
            }
            other => panic!("{other:?}"),
        }
        // An account with no balance entry at all.
        let mut spec = ChainSpec::dev(&[a(1)], EMPTY_WASM);
        spec.genesis.economy.pledges.push((a(9), 1));
        assert!(matches!(
            spec.genesis_config(),
            Err(SpecError::UnfundedPledge { account, balance: 0, .. }) if account == a(9)
        ));
        // So many units that their price overflows.
        let mut spec = ChainSpec::dev(&[a(1)], EMPTY_WASM);
        spec.genesis.economy.pledges[0].1 = u64::MAX;
        spec.genesis.economy.params.watt_per_unit = u128::MAX.to_string();
        assert!(matches!(
            spec.genesis_config(),
            Err(SpecError::UnfundedPledge { needed: u128::MAX, .. })
        ));
    }

    #[test]
    fn zero_or_repeated_pledges_and_repeated_balances_are_refused() {
        let mut spec = ChainSpec::dev(&[a(1)], EMPTY_WASM);
        spec.genesis.economy.pledges[0].1 = 0;
        assert!(matches!(spec.genesis_config(), Err(SpecError::BadEconomy(m)) if m.contains("0 units")));
        let mut spec = ChainSpec::dev(&[a(1)], EMPTY_WASM);
        spec.genesis.economy.pledges.push((a(1), 1));
        assert!(matches!(spec.genesis_config(), Err(SpecError::BadEconomy(m)) if m.contains("more than once")));
        let mut spec = ChainSpec::dev(&[a(1), a(2)], EMPTY_WASM);
        spec.genesis.balances.push((a(2), "5".into()));
        assert!(matches!(spec.genesis_config(), Err(SpecError::DuplicateBalance(x)) if x == a(2)));
    }

    #[test]
    fn genesis_may_not_mint_past_the_cap() {
        let mut spec = ChainSpec::dev(&[a(1)], EMPTY_WASM);
        let cap: Balance = 20_000_000_000 * UNIT;
        // The reserve is 1,000,000,000 WATT: 19 billion more fit, one unit more does not.
        spec.genesis.balances[0].1 = (19_000_000_000 * UNIT).to_string();
        assert!(spec.genesis_config().is_ok());
        spec.genesis.balances[0].1 = (19_000_000_000 * UNIT + 1).to_string();
        match spec.genesis_config() {
            Err(SpecError::ExceedsCap { minted, cap: c }) => assert_eq!((minted, c), (cap + 1, cap)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_zero_block_weight_limit_is_refused() {
        let mut spec = ChainSpec::dev(&[a(1)], EMPTY_WASM);
        spec.genesis.params.max_block_weight = 0;
        assert!(matches!(spec.genesis_config(), Err(SpecError::BadParams(m)) if m.contains("maxBlockWeight")));
    }

    #[test]
    fn block_size_limits_are_in_the_spec_with_the_old_node_defaults() {
        let spec = ChainSpec::dev(&[a(1)], EMPTY_WASM);
        let v = serde_json::to_value(&spec).unwrap();
        assert_eq!(v["genesis"]["params"]["maxBlockTransactions"], 20_000);
        assert_eq!(v["genesis"]["params"]["maxBlockBytes"], 8 << 20);
        let genesis = round_trip(&spec).genesis_config().unwrap();
        assert_eq!(genesis.params.max_block_transactions, 20_000);
        assert_eq!(genesis.params.max_block_bytes, 8 * 1024 * 1024);
        // Values of the spec reach the genesis parameters.
        let mut spec = spec;
        spec.genesis.params.max_block_transactions = 3;
        spec.genesis.params.max_block_bytes = MAX_BLOCK_BYTES_LIMIT;
        let genesis = round_trip(&spec).genesis_config().unwrap();
        assert_eq!(
            (genesis.params.max_block_transactions, genesis.params.max_block_bytes),
            (3, MAX_BLOCK_BYTES_LIMIT)
        );
    }

    #[test]
    fn a_spec_written_before_the_block_size_limits_loads_with_the_old_limits() {
        let mut v = serde_json::to_value(ChainSpec::dev(&[a(1)], EMPTY_WASM)).unwrap();
        let params = v["genesis"]["params"].as_object_mut().unwrap();
        assert!(params.remove("maxBlockTransactions").is_some());
        assert!(params.remove("maxBlockBytes").is_some());
        let spec = ChainSpec::from_json(&v.to_string()).unwrap();
        let genesis = spec.genesis_config().unwrap();
        assert_eq!(genesis.params.max_block_transactions, DEFAULT_MAX_BLOCK_TRANSACTIONS);
        assert_eq!(genesis.params.max_block_bytes, DEFAULT_MAX_BLOCK_BYTES);
    }

    #[test]
    fn misspelt_block_size_limits_are_json_errors_not_defaults() {
        let text = serde_json::to_string(&ChainSpec::dev(&[a(1)], EMPTY_WASM)).unwrap();
        for (from, to) in [
            ("\"maxBlockTransactions\"", "\"maxBlockTransaction\""),
            ("\"maxBlockBytes\"", "\"max_block_bytes\""),
        ] {
            assert!(text.contains(from));
            let bad = text.replacen(from, to, 1);
            let err = ChainSpec::from_json(&bad).unwrap_err();
            assert!(
                matches!(&err, SpecError::Json(e) if e.to_string().contains("unknown field")),
                "{to}: {err}"
            );
        }
    }

    #[test]
    fn block_size_limits_of_zero_or_past_the_wire_are_refused_with_the_field() {
        type Spoil = fn(&mut ParamsSpec);
        let cases: [(&str, Spoil); 6] = [
            ("maxBlockTransactions must be at least 1", |p| {
                p.max_block_transactions = 0
            }),
            ("maxBlockBytes must be at least 1", |p| {
                p.max_block_bytes = 0;
                p.max_tx_len = 0;
            }),
            ("maxBlockBytes is 9437180, more than the 9437179", |p| {
                p.max_block_bytes = MAX_BLOCK_BYTES_LIMIT + 1
            }),
            ("maxBlockBytes is 9437184,", |p| p.max_block_bytes = 9 << 20),
            ("maxBlockBytes is 4294967295,", |p| p.max_block_bytes = u32::MAX),
            ("maxTxLen (65537) is more than maxBlockBytes (65536)", |p| {
                p.max_block_bytes = 65_536;
                p.max_tx_len = 65_537;
            }),
        ];
        for (message, spoil) in cases {
            let mut spec = ChainSpec::dev(&[a(1)], EMPTY_WASM);
            spoil(&mut spec.genesis.params);
            let err = spec.genesis_config().unwrap_err();
            assert!(
                matches!(&err, SpecError::BadParams(m) if m.contains(message)),
                "{message}: {err}"
            );
            assert!(err.to_string().contains("genesis.params"), "{err}");
        }
        // The bound is exactly what a set and its length prefix may take on the wire.
        assert_eq!(MAX_BLOCK_BYTES_LIMIT as usize + 5, 9 << 20);
        let mut spec = ChainSpec::dev(&[a(1)], EMPTY_WASM);
        spec.genesis.params.max_block_bytes = MAX_BLOCK_BYTES_LIMIT;
        spec.genesis.params.max_block_transactions = 1;
        assert!(
            spec.genesis_config().is_ok(),
            "the largest limits that travel are accepted"
        );
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

    fn weights() -> impl Strategy<Value = RoleWeights> {
        prop::array::uniform5(0u32..1_000).prop_map(|w| RoleWeights {
            pioneer: w[0],
            contributor: w[1],
            ambassador: w[2],
            validator: w[3],
            pledger: w[4],
        })
    }

    proptest! {
        /// Any balance text is either plain digits of a number the cap allows (and then means
        /// exactly that number) or refused; nothing panics.
        #[test]
        fn balance_text_is_digits_or_refused(s in "\\PC{0,45}|[0-9+\\- ]{0,45}") {
            let expected: Option<u128> = if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
                s.parse().ok().filter(|n| *n <= MOST_UNDER_MAX_CAP)
            } else {
                None
            };
            let got = spec_with_balance(&s).genesis_config().ok().map(|g| g.balances[0].1);
            prop_assert_eq!(got, expected);
        }

        /// Every u128 written in decimal comes back unchanged, or is refused as past the cap.
        #[test]
        fn every_u128_round_trips(n in any::<u128>()) {
            match spec_with_balance(&n.to_string()).genesis_config() {
                Ok(g) => prop_assert_eq!(g.balances[0].1, n),
                Err(SpecError::ExceedsCap { minted, .. }) => {
                    prop_assert!(n > MOST_UNDER_MAX_CAP);
                    prop_assert_eq!(minted, n.saturating_add(u128::MAX / 20));
                }
                Err(e) => prop_assert!(false, "{}", e),
            }
        }

        /// Economy parameters survive the JSON form exactly: what the spec builds is what was
        /// written, or the check refuses it.
        #[test]
        fn economy_params_survive_json(
            day_blocks in 0u64..100_000,
            cap in any::<u128>(),
            checkin_total in any::<u128>(),
            daily in any::<(u128, u128, u128)>(),
            percents in (0u8..=120, 0u8..=120),
            checkin_weights in weights(),
            fee_weights in weights(),
            days in any::<(u32, u32)>(),
            min_units in any::<u64>(),
        ) {
            let params = EconomyParams {
                day_blocks,
                supply_cap: cap,
                checkin_mining_total: checkin_total,
                checkin_daily: daily.0,
                phase2_daily: daily.1,
                pledge_mining_percent: percents.0,
                mobile_storage_percent: percents.1,
                checkin_weights: checkin_weights.into(),
                fee_weights: fee_weights.into(),
                watt_per_unit: daily.2,
                unbonding_days: days.0,
                min_validator_units: min_units,
                team_vesting_days: days.1,
            };
            let mut spec = ChainSpec::dev(&[], EMPTY_WASM);
            spec.genesis.economy.params = (&params).into();
            let back = round_trip(&spec);
            prop_assert_eq!(&back, &spec);
            match back.genesis_config() {
                Ok(g) => prop_assert_eq!(g.economy.params, params),
                Err(SpecError::BadEconomy(_)) => prop_assert!(params.check().is_err()),
                Err(e) => prop_assert!(false, "{}", e),
            }
        }

        /// Arbitrary text never panics the parser.
        #[test]
        fn arbitrary_json_text_never_panics(s in "\\PC{0,200}") {
            let _ = ChainSpec::from_json(&s).map(|spec| spec.genesis_config());
        }
    }
}
