//! SCALE round trips of every type that crosses the wire or the node<->runtime boundary.
//!
//! For each type: `decode_all(encode(x)) == x` (what the node sends is what the runtime reads,
//! and back); arbitrary bytes never make decoding panic (both sides decode untrusted input);
//! and no value has two encodings that decode (a transaction hash is blake2 of the encoding,
//! so a second accepted encoding would give the same transaction a second hash).

use parity_scale_codec::{Decode, DecodeAll, Encode};
use proptest::collection::vec;
use proptest::prelude::*;
use watt_primitives::abi::{
    AccountInfo, ApplyBlockInput, ApplyBlockOutput, ApplyResult, ChainContext, ChainParams, GenesisConfig, Query,
    QueryResult, RuntimeVersion, ValidTransaction, ValidateInput,
};
use watt_primitives::economy::{EconomyGenesis, EconomyParams, EventPhase, EventRecord, PerRole, PledgeInfo};
use watt_primitives::{
    AccountId, Block, ConsensusValue, DispatchError, Hash, Header, Receipt, SignedTransaction, StateProof, Transaction,
    TxError, TxOutcome,
};

// ---- strategies -------------------------------------------------------------------------------

/// Balances with extra weight on the edges (zero, one, the top of the range), where encoders
/// that truncate or sign-extend go wrong.
fn balance() -> impl Strategy<Value = u128> {
    prop_oneof![
        3 => any::<u128>(),
        1 => Just(0u128),
        1 => Just(1u128),
        1 => Just(u128::MAX),
        1 => (0u128..1024).prop_map(|d| u128::MAX - d),
        1 => 0u128..1 << 64,
    ]
}

fn u64_edge() -> impl Strategy<Value = u64> {
    prop_oneof![3 => any::<u64>(), 1 => Just(0u64), 1 => Just(u64::MAX), 1 => 0u64..256]
}

fn hash() -> impl Strategy<Value = Hash> {
    any::<[u8; 32]>()
}

fn account() -> impl Strategy<Value = AccountId> {
    hash().prop_map(AccountId)
}

fn signature() -> impl Strategy<Value = [u8; 64]> {
    (any::<[u8; 32]>(), any::<[u8; 32]>()).prop_map(|(a, b)| {
        let mut s = [0u8; 64];
        s[..32].copy_from_slice(&a);
        s[32..].copy_from_slice(&b);
        s
    })
}

/// Byte strings whose lengths cross the compact-length boundaries (64 and 16384 need one more
/// prefix byte each), not only tiny ones.
fn bytes() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        4 => vec(any::<u8>(), 0..80),
        1 => vec(any::<u8>(), 60..70),
        1 => vec(any::<u8>(), 16_380..16_390),
    ]
}

fn small_string() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_:/ é€]{0,40}"
}

fn transaction() -> impl Strategy<Value = Transaction> {
    (account(), u64_edge(), balance(), hash(), bytes()).prop_map(|(signer, nonce, tip, genesis, call)| Transaction {
        signer,
        nonce,
        tip,
        genesis,
        call,
    })
}

fn signed_transaction() -> impl Strategy<Value = SignedTransaction> {
    (transaction(), signature()).prop_map(|(tx, signature)| SignedTransaction { tx, signature })
}

fn header() -> impl Strategy<Value = Header> {
    (
        hash(),
        u64_edge(),
        hash(),
        hash(),
        hash(),
        hash(),
        u64_edge(),
        account(),
    )
        .prop_map(
            |(parent_hash, number, state_root, tx_root, receipts_root, events_root, close_time, author)| Header {
                parent_hash,
                number,
                state_root,
                tx_root,
                receipts_root,
                events_root,
                close_time,
                author,
            },
        )
}

fn consensus_value() -> impl Strategy<Value = ConsensusValue> {
    (
        hash(),
        hash(),
        u64_edge(),
        account(),
        proptest::collection::vec(any::<u8>(), watt_primitives::PROPOSER_PROOF_LEN),
    )
        .prop_map(|(parent_hash, tx_set_hash, close_time, proposer, proof)| {
            let mut proposer_proof = [0u8; watt_primitives::PROPOSER_PROOF_LEN];
            proposer_proof.copy_from_slice(&proof);
            ConsensusValue {
                parent_hash,
                tx_set_hash,
                close_time,
                proposer,
                proposer_proof,
            }
        })
}

fn event_record() -> impl Strategy<Value = EventRecord> {
    (
        prop_oneof![
            Just(EventPhase::Initialization),
            any::<u32>().prop_map(EventPhase::Transaction),
            Just(EventPhase::Finalization),
        ],
        vec(any::<u8>(), 0..80),
        vec(hash(), 0..4),
    )
        .prop_map(|(phase, event, topics)| EventRecord { phase, event, topics })
}

fn block() -> impl Strategy<Value = Block> {
    (header(), vec(signed_transaction(), 0..4)).prop_map(|(header, transactions)| Block { header, transactions })
}

fn dispatch_error() -> impl Strategy<Value = DispatchError> {
    (small_string(), small_string()).prop_map(|(module, error)| DispatchError { module, error })
}

fn tx_outcome() -> impl Strategy<Value = TxOutcome> {
    prop_oneof![
        Just(TxOutcome::Success),
        dispatch_error().prop_map(TxOutcome::Failed),
        tx_error().prop_map(TxOutcome::Skipped)
    ]
}

fn tx_error() -> impl Strategy<Value = TxError> {
    prop_oneof![
        Just(TxError::BadEncoding),
        (any::<u32>(), any::<u32>()).prop_map(|(len, max)| TxError::TooLarge { len, max }),
        (hash(), hash()).prop_map(|(expected, got)| TxError::WrongGenesis { expected, got }),
        Just(TxError::BadSignature),
        (u64_edge(), u64_edge()).prop_map(|(expected, got)| TxError::StaleNonce { expected, got }),
        (u64_edge(), u64_edge()).prop_map(|(expected, got)| TxError::FutureNonce { expected, got }),
        Just(TxError::BadCall),
        (balance(), balance()).prop_map(|(fee, free)| TxError::CannotPayFee { fee, free }),
        (u64_edge(), u64_edge()).prop_map(|(weight, max)| TxError::ExhaustsBlock { weight, max }),
        dispatch_error().prop_map(TxError::Refused),
    ]
}

fn receipt() -> impl Strategy<Value = Receipt> {
    (
        hash(),
        u64_edge(),
        any::<u32>(),
        tx_outcome(),
        balance(),
        vec(vec(any::<u8>(), 0..40), 0..4),
    )
        .prop_map(|(tx_hash, block_number, index, outcome, fee_paid, events)| Receipt {
            tx_hash,
            block_number,
            index,
            outcome,
            fee_paid,
            events,
        })
}

fn chain_context() -> impl Strategy<Value = ChainContext> {
    hash().prop_map(|genesis_hash| ChainContext { genesis_hash })
}

fn chain_params() -> impl Strategy<Value = ChainParams> {
    (
        balance(),
        balance(),
        balance(),
        balance(),
        any::<u32>(),
        u64_edge(),
        any::<(u32, u32)>(),
    )
        .prop_map(
            |(
                existential_deposit,
                base_fee,
                byte_fee,
                weight_fee,
                max_tx_len,
                max_block_weight,
                (max_block_transactions, max_block_bytes),
            )| ChainParams {
                existential_deposit,
                base_fee,
                byte_fee,
                weight_fee,
                max_tx_len,
                max_block_weight,
                max_block_transactions,
                max_block_bytes,
            },
        )
}

fn per_role<T: Strategy>(t: T) -> impl Strategy<Value = PerRole<T::Value>>
where
    T::Value: Copy + std::fmt::Debug,
{
    proptest::array::uniform5(t).prop_map(PerRole)
}

fn economy_params() -> impl Strategy<Value = EconomyParams> {
    (
        (u64_edge(), balance(), balance(), balance(), balance()),
        (any::<u8>(), any::<u8>(), per_role(any::<u32>()), per_role(any::<u32>())),
        (balance(), any::<u32>(), u64_edge(), any::<u32>()),
    )
        .prop_map(
            |(
                (day_blocks, supply_cap, checkin_mining_total, checkin_daily, phase2_daily),
                (pledge_mining_percent, mobile_storage_percent, checkin_weights, fee_weights),
                (watt_per_unit, unbonding_days, min_validator_units, team_vesting_days),
            )| EconomyParams {
                day_blocks,
                supply_cap,
                checkin_mining_total,
                checkin_daily,
                phase2_daily,
                pledge_mining_percent,
                mobile_storage_percent,
                checkin_weights,
                fee_weights,
                watt_per_unit,
                unbonding_days,
                min_validator_units,
                team_vesting_days,
            },
        )
}

fn economy_genesis() -> impl Strategy<Value = EconomyGenesis> {
    (
        economy_params(),
        vec(account(), 0..3),
        proptest::option::of(account()),
        vec(account(), 0..3),
        vec((account(), u64_edge()), 0..3),
        account(),
    )
        .prop_map(|(params, registrars, sudo, validators, pledges, team)| EconomyGenesis {
            params,
            registrars,
            sudo,
            validators,
            pledges,
            team,
        })
}

fn genesis_config() -> impl Strategy<Value = GenesisConfig> {
    (
        vec((account(), balance()), 0..6),
        chain_params(),
        bytes(),
        economy_genesis(),
    )
        .prop_map(|(balances, params, code, economy)| GenesisConfig {
            balances,
            params,
            code,
            economy,
        })
}

fn apply_block_input() -> impl Strategy<Value = ApplyBlockInput> {
    (
        chain_context(),
        u64_edge(),
        hash(),
        u64_edge(),
        account(),
        vec(signed_transaction(), 0..4),
    )
        .prop_map(
            |(chain, number, parent_hash, close_time, author, transactions)| ApplyBlockInput {
                chain,
                number,
                parent_hash,
                close_time,
                author,
                transactions,
            },
        )
}

fn apply_block_output() -> impl Strategy<Value = ApplyBlockOutput> {
    (
        vec(
            prop_oneof![
                receipt().prop_map(ApplyResult::Included),
                tx_error().prop_map(ApplyResult::Invalid)
            ],
            0..5,
        ),
        vec(event_record(), 0..5),
    )
        .prop_map(|(results, events)| ApplyBlockOutput { results, events })
}

fn validate_input() -> impl Strategy<Value = ValidateInput> {
    (chain_context(), bytes()).prop_map(|(chain, tx)| ValidateInput { chain, tx })
}

fn valid_transaction() -> impl Strategy<Value = ValidTransaction> {
    (
        (hash(), account(), u64_edge(), u64_edge()),
        (balance(), balance(), any::<u32>(), balance()),
    )
        .prop_map(
            |((hash, signer, nonce, state_nonce), (fee, tip, len, sender_free))| ValidTransaction {
                hash,
                signer,
                nonce,
                state_nonce,
                fee,
                tip,
                len,
                sender_free,
            },
        )
}

/// What `watt_validate_transaction` returns.
fn validate_output() -> impl Strategy<Value = Result<ValidTransaction, TxError>> {
    prop_oneof![valid_transaction().prop_map(Ok), tx_error().prop_map(Err)]
}

fn query() -> impl Strategy<Value = Query> {
    prop_oneof![
        account().prop_map(Query::Account),
        Just(Query::FeePool),
        Just(Query::Params),
        (bytes(), any::<u32>()).prop_map(|(call, len)| Query::FeeFor { call, len }),
        account().prop_map(Query::Rewards),
        Just(Query::Day),
        Just(Query::Supply),
        account().prop_map(Query::Pledge),
        Just(Query::EconomyParams),
    ]
}

fn query_result() -> impl Strategy<Value = QueryResult> {
    prop_oneof![
        (balance(), u64_edge()).prop_map(|(free, nonce)| QueryResult::Account(AccountInfo { free, nonce })),
        (account(), balance()).prop_map(|(account, balance)| QueryResult::FeePool { account, balance }),
        chain_params().prop_map(QueryResult::Params),
        proptest::option::of(balance()).prop_map(QueryResult::Fee),
        (u64_edge(), balance(), vec((u64_edge(), balance()), 0..3), any::<bool>()).prop_map(
            |(units, bonded, unbonding, validator)| QueryResult::Pledge(PledgeInfo {
                units,
                bonded,
                unbonding,
                validator,
            })
        ),
        economy_params().prop_map(QueryResult::EconomyParams),
    ]
}

fn runtime_version() -> impl Strategy<Value = RuntimeVersion> {
    (small_string(), any::<u32>()).prop_map(|(spec_name, spec_version)| RuntimeVersion {
        spec_name,
        spec_version,
    })
}

fn state_proof() -> impl Strategy<Value = StateProof> {
    (bytes(), proptest::option::of(bytes()), vec(any::<u8>(), 0..300)).prop_map(|(key, value, proof)| StateProof {
        key,
        value,
        proof,
    })
}

// ---- properties -------------------------------------------------------------------------------

/// encode -> decode_all gives the value back, and the encoding is exactly as long as
/// `encoded_size` says (the runtime sizes buffers with it).
fn round_trips<T: Encode + Decode + PartialEq + std::fmt::Debug>(value: &T) -> Result<(), TestCaseError> {
    let bytes = value.encode();
    prop_assert_eq!(bytes.len(), value.encoded_size());
    let back = T::decode_all(&mut &bytes[..]);
    prop_assert_eq!(back.as_ref(), Ok(value), "decode_all(encode(x)) != x");
    // A truncated encoding never decodes as a whole value.
    if !bytes.is_empty() {
        prop_assert!(
            T::decode_all(&mut &bytes[..bytes.len() - 1]).is_err(),
            "a truncated encoding decoded"
        );
    }
    // Trailing garbage is refused by decode_all (the entry points' decoder).
    let mut longer = bytes.clone();
    longer.push(0);
    prop_assert!(T::decode_all(&mut &longer[..]).is_err(), "trailing byte accepted");
    Ok(())
}

/// Decoding any bytes does not panic; whatever does decode re-encodes to exactly those bytes,
/// so each value has a single accepted encoding.
fn decodes_canonically<T: Encode + Decode>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(v) = T::decode_all(&mut &bytes[..]) {
        prop_assert_eq!(v.encode(), bytes.to_vec(), "a second encoding of one value decoded");
    }
    // The prefix decoder (used on streams) must not panic either.
    let _ = T::decode(&mut &bytes[..]);
    Ok(())
}

/// A valid encoding with one byte changed, or bytes inserted or removed: inputs near the valid
/// ones, where a decoder's length and tag checks are actually exercised.
fn mutated(valid: Vec<u8>, at: prop::sample::Index, byte: u8, kind: u8) -> Vec<u8> {
    let mut b = valid;
    if b.is_empty() {
        return vec![byte];
    }
    let i = at.index(b.len());
    match kind % 3 {
        0 => b[i] = byte,
        1 => b.insert(i, byte),
        _ => {
            b.remove(i);
        }
    }
    b
}

macro_rules! scale_properties {
    ($($name:ident: $ty:ty = $strategy:expr;)*) => {
        $(
            mod $name {
                use super::*;
                proptest! {
                    #![proptest_config(ProptestConfig::with_cases(256))]
                    #[test]
                    fn round_trips(value in $strategy) {
                        super::round_trips::<$ty>(&value)?;
                    }

                    #[test]
                    fn arbitrary_bytes_never_panic(bytes in vec(any::<u8>(), 0..512)) {
                        decodes_canonically::<$ty>(&bytes)?;
                    }

                    #[test]
                    fn near_valid_bytes_decode_canonically_or_not_at_all(
                        value in $strategy,
                        at in any::<prop::sample::Index>(),
                        byte in any::<u8>(),
                        kind in any::<u8>(),
                    ) {
                        decodes_canonically::<$ty>(&mutated(value.encode(), at, byte, kind))?;
                    }
                }
            }
        )*
    };
}

scale_properties! {
    account_id: AccountId = account();
    transaction_body: Transaction = transaction();
    signed_transaction: SignedTransaction = signed_transaction();
    header: Header = header();
    consensus_value: ConsensusValue = consensus_value();
    event_record: EventRecord = event_record();
    economy_genesis: EconomyGenesis = economy_genesis();
    block: Block = block();
    receipt: Receipt = receipt();
    tx_outcome: TxOutcome = tx_outcome();
    tx_error: TxError = tx_error();
    dispatch_error: DispatchError = dispatch_error();
    chain_context: ChainContext = chain_context();
    chain_params: ChainParams = chain_params();
    genesis_config: GenesisConfig = genesis_config();
    apply_block_input: ApplyBlockInput = apply_block_input();
    apply_block_output: ApplyBlockOutput = apply_block_output();
    validate_input: ValidateInput = validate_input();
    valid_transaction: ValidTransaction = valid_transaction();
    validate_output: Result<ValidTransaction, TxError> = validate_output();
    query: Query = query();
    query_result: QueryResult = query_result();
    runtime_version: RuntimeVersion = runtime_version();
    state_proof: StateProof = state_proof();
}

/// A length prefix claiming far more elements than there are bytes must be refused without
/// allocating for the claim (a 4-byte input must not make the node reserve gigabytes).
#[test]
fn huge_length_prefixes_are_refused_cheaply() {
    // Compact "big integer" mode: 0b11 tag, 4 following bytes = u32::MAX elements.
    let huge = [0b0000_0011u8, 0xff, 0xff, 0xff, 0xff];
    assert!(Vec::<SignedTransaction>::decode_all(&mut &huge[..]).is_err());
    assert!(Vec::<u8>::decode_all(&mut &huge[..]).is_err());
    let mut block = Header {
        parent_hash: [0; 32],
        number: 1,
        state_root: [0; 32],
        tx_root: [0; 32],
        close_time: 0,
        receipts_root: [0; 32],
        events_root: [0; 32],
        author: AccountId([0; 32]),
    }
    .encode();
    block.extend_from_slice(&huge);
    assert!(Block::decode_all(&mut &block[..]).is_err());
}
