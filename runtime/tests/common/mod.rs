//! A native chain for runtime tests: genesis and blocks applied through the runtime's entry
//! points (`watt_runtime::api`) over in-memory storage, with sr25519-signed transactions.

#![allow(dead_code)]

use parity_scale_codec::Encode;
use sp_core::{sr25519, Pair};
use watt_primitives::abi::{
    ApplyBlockInput, ApplyBlockOutput, ApplyResult, ChainContext, ChainParams, GenesisConfig, Query, QueryResult,
    ValidateTxSetInput,
};
use watt_primitives::economy::{EconomyGenesis, EconomyParams, PerRole, RewardsInfo, SupplyInfo};
use watt_primitives::{AccountId, Balance, SignedTransaction, Transaction, TxError, TxOutcome};
use watt_runtime::{api, RuntimeCall, RuntimeEvent};
use watt_support::externalities::{execute_with, MemoryExternalities};

/// Every transaction pays exactly this (no byte or weight fee), so fee pools are easy to predict.
pub const FEE: Balance = 1_000;
/// Genesis balance of every test account.
pub const START: Balance = 1_000_000_000;

/// A test key.
pub struct Key(pub sr25519::Pair);

impl Key {
    pub fn new(name: &str) -> Key {
        Key(sr25519::Pair::from_string(&format!("//{name}"), None).expect("valid dev URI"))
    }
    pub fn account(&self) -> AccountId {
        AccountId(self.0.public().0)
    }
}

/// Round numbers: 1,000,000 a day of check-in mining over 2.5 days, weights in percent.
pub fn economy_params() -> EconomyParams {
    EconomyParams {
        day_blocks: 5,
        supply_cap: 100_000_000_000_000,
        checkin_mining_total: 2_500_000,
        checkin_daily: 1_000_000,
        phase2_daily: 400_000,
        pledge_mining_percent: 50,
        mobile_storage_percent: 25,
        checkin_weights: PerRole([50, 20, 15, 15, 0]),
        fee_weights: PerRole([40, 10, 10, 20, 20]),
        watt_per_unit: 1_000,
        unbonding_days: 2,
        min_validator_units: 10,
        team_vesting_days: 100,
    }
}

pub fn chain_params() -> ChainParams {
    ChainParams {
        existential_deposit: 1,
        base_fee: FEE,
        byte_fee: 0,
        weight_fee: 0,
        max_tx_len: 64 * 1024,
        max_block_weight: 1_000_000_000,
        max_block_transactions: 10_000,
        max_block_bytes: 10_000_000,
    }
}

pub struct TestChain {
    ext: Option<MemoryExternalities>,
    pub number: u64,
    pub author: AccountId,
    pub chain: ChainContext,
    pub params: ChainParams,
}

impl TestChain {
    /// Genesis with `accounts` funded with [`START`]; `registrar` (also sudo, validator with
    /// the minimum pledge when `validator_pledge`) and `team`.
    pub fn new(
        accounts: &[AccountId],
        registrar: AccountId,
        team: AccountId,
        economy: EconomyParams,
        params: ChainParams,
        validator_pledge: bool,
    ) -> TestChain {
        let genesis = EconomyGenesis {
            registrars: vec![registrar],
            sudo: Some(registrar),
            validators: vec![registrar],
            pledges: if validator_pledge {
                vec![(registrar, economy.min_validator_units)]
            } else {
                vec![]
            },
            team,
            params: economy,
        };
        let config = GenesisConfig {
            balances: accounts.iter().map(|a| (*a, START)).collect(),
            params: params.clone(),
            code: b"\0asm\x01\0\0\0".to_vec(),
            economy: genesis,
        };
        let (ext, ()) = execute_with(MemoryExternalities::default(), || api::build_genesis(config));
        TestChain {
            ext: Some(ext),
            number: 0,
            author: registrar,
            chain: ChainContext { genesis_hash: [7; 32] },
            params,
        }
    }

    /// Runs `f` against the chain's state.
    pub fn with<R>(&mut self, f: impl FnOnce() -> R) -> R {
        let (ext, r) = execute_with(self.ext.take().expect("state present"), f);
        self.ext = Some(ext);
        r
    }

    pub fn state(&self) -> &std::collections::BTreeMap<Vec<u8>, Vec<u8>> {
        &self.ext.as_ref().expect("state present").state
    }

    pub fn sign(&mut self, key: &Key, call: RuntimeCall) -> SignedTransaction {
        let nonce = self.account(&key.account()).1;
        self.sign_with_nonce(key, nonce, call)
    }

    pub fn sign_with_nonce(&self, key: &Key, nonce: u64, call: RuntimeCall) -> SignedTransaction {
        let tx = Transaction {
            signer: key.account(),
            nonce,
            tip: 0,
            genesis: self.chain.genesis_hash,
            call: call.encode(),
        };
        let signature = key.0.sign(&tx.signing_payload()).0;
        SignedTransaction { tx, signature }
    }

    /// Applies the next block with `txs`.
    pub fn block(&mut self, txs: Vec<SignedTransaction>) -> ApplyBlockOutput {
        self.number += 1;
        let input = ApplyBlockInput {
            chain: self.chain.clone(),
            number: self.number,
            parent_hash: [self.number as u8; 32],
            close_time: 1_000 * self.number,
            author: self.author,
            transactions: txs,
        };
        self.with(|| api::apply_block(input))
            .expect("the block is within the chain's size limits")
    }

    /// Applies a block with one transaction per call (each signer's nonces in sequence) and
    /// asserts every one succeeded.
    pub fn run(&mut self, calls: Vec<(&Key, RuntimeCall)>) -> ApplyBlockOutput {
        let mut nonces: std::collections::BTreeMap<AccountId, u64> = Default::default();
        let mut txs = Vec::new();
        for (key, call) in calls {
            let who = key.account();
            let n = *nonces.entry(who).or_insert_with(|| self.account(&who).1);
            txs.push(self.sign_with_nonce(key, n, call));
            nonces.insert(who, n + 1);
        }
        let out = self.block(txs);
        for (i, r) in out.results.iter().enumerate() {
            match r {
                ApplyResult::Included(rc) => assert_eq!(rc.outcome, TxOutcome::Success, "transaction {i}"),
                ApplyResult::Invalid(e) => panic!("transaction {i} invalid: {e}"),
            }
        }
        out
    }

    /// Empty blocks until the next block opens a new day (the open day's last block applied).
    pub fn finish_day(&mut self) {
        while self.with(|| api::query(Query::Day)) != QueryResult::Day(day_info_end(self)) {
            self.block(vec![]);
        }
    }

    /// Empty blocks until `n` is the last applied.
    pub fn advance_to(&mut self, n: u64) {
        while self.number < n {
            self.block(vec![]);
        }
    }

    pub fn account(&mut self, who: &AccountId) -> (Balance, u64) {
        match self.with(|| api::query(Query::Account(*who))) {
            QueryResult::Account(a) => (a.free, a.nonce),
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn free(&mut self, who: &AccountId) -> Balance {
        self.account(who).0
    }

    pub fn rewards(&mut self, who: &AccountId) -> RewardsInfo {
        match self.with(|| api::query(Query::Rewards(*who))) {
            QueryResult::Rewards(r) => r,
            other => panic!("unexpected {other:?}"),
        }
    }

    pub fn supply(&mut self) -> SupplyInfo {
        match self.with(|| api::query(Query::Supply)) {
            QueryResult::Supply(s) => s,
            other => panic!("unexpected {other:?}"),
        }
    }

    /// The pool's verdict on a transaction.
    pub fn validate(&mut self, stx: &SignedTransaction) -> Result<(), TxError> {
        let input = watt_primitives::abi::ValidateInput {
            chain: self.chain.clone(),
            tx: stx.encode(),
        };
        self.with(|| api::validate_transaction(input)).map(|_| ())
    }

    pub fn validate_set(&mut self, txs: Vec<SignedTransaction>) -> Result<(), watt_primitives::abi::TxSetError> {
        let input = ValidateTxSetInput {
            chain: self.chain.clone(),
            transactions: txs,
        };
        self.with(|| api::validate_tx_set(input))
    }

    /// Sum of every balance in state, read straight from storage.
    pub fn sum_of_balances(&mut self) -> Balance {
        self.with(|| pallet_balances::Free::iter().iter().map(|(_, b)| *b).sum())
    }

    pub fn total_issuance(&mut self) -> Balance {
        self.with(pallet_balances::total_issuance)
    }
}

/// The `DayInfo` as it reads after the open day's last block: no blocks left. Used only to
/// stop; compares the whole struct, so it is built from the live one.
fn day_info_end(chain: &mut TestChain) -> watt_primitives::economy::DayInfo {
    match chain.with(|| api::query(Query::Day)) {
        QueryResult::Day(mut d) => {
            d.blocks_left = 0;
            d
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// Decoded events of a block output.
pub fn events(out: &ApplyBlockOutput) -> Vec<RuntimeEvent> {
    out.events
        .iter()
        .map(|r| parity_scale_codec::Decode::decode(&mut &r.event[..]).expect("runtime events decode"))
        .collect()
}
