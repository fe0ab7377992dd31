//! The runtime's entry points as plain Rust functions. The wasm exports decode their input and
//! call these; natively, the executor and tests call them directly.

use crate::{fees, RuntimeCall, RuntimeEvent, SPEC_NAME, SPEC_VERSION};
use alloc::string::String;
use alloc::vec::Vec;
use pallet_balances as balances;
use pallet_system as system;
use parity_scale_codec::{DecodeAll, Encode};
use watt_primitives::abi::storage_keys;
use watt_primitives::abi::{
    AccountInfo, ApplyBlockInput, ApplyBlockOutput, ApplyResult, ChainContext, ChainParams, GenesisConfig, Query,
    QueryResult, RuntimeVersion, TxSetError, ValidTransaction, ValidateInput, ValidateTxSetInput,
};
use watt_primitives::economy::{EventPhase, EventRecord};
use watt_primitives::{fee_pool_account, Balance, Receipt, SignedTransaction, TxError, TxOutcome};
use watt_support::{host, storage_instance, BlockContext, Origin, StorageValue};

storage_instance!(
    /// Chain parameters.
    ParamsPrefix,
    b"runtime/params"
);
/// The chain parameters.
pub type Params = StorageValue<ParamsPrefix, ChainParams>;

fn params() -> ChainParams {
    // Genesis always writes them; their absence means the state is not a Watt chain's.
    Params::get().expect("chain parameters missing from state")
}

/// The runtime version.
pub fn version() -> RuntimeVersion {
    RuntimeVersion {
        spec_name: String::from(SPEC_NAME),
        spec_version: SPEC_VERSION,
    }
}

/// Writes the genesis state.
pub fn build_genesis(config: GenesisConfig) {
    host::storage_set(storage_keys::CODE, &config.code);
    Params::put(&config.params);
    balances::build_genesis(&config.balances, config.params.existential_deposit);
    system::Number::put(&0);
    let economy = &config.economy;
    if let Err(why) = economy.params.check() {
        panic!("invalid economy parameters: {why}");
    }
    pallet_rewards::build_genesis(&economy.params, &economy.team);
    pallet_identity::build_genesis(&economy.registrars);
    pallet_sudo::build_genesis(economy.sudo);
    pallet_pledge::build_genesis(&economy.validators, &economy.pledges);
}

/// A transaction that passed every check that only reads state.
struct Checked {
    call: RuntimeCall,
    weight: u64,
    fee: Balance,
    state_nonce: u64,
    /// The signer's free balance before this transaction.
    free: Balance,
}

/// The checks shared by pool validation and block application: size, chain, signature, nonce not
/// stale, call decodes, fee payable. Reads state, writes nothing.
fn check(
    stx: &SignedTransaction,
    len: u32,
    chain: &ChainContext,
    params: &ChainParams,
    signature_ok: impl FnOnce() -> bool,
) -> Result<Checked, TxError> {
    let tx = &stx.tx;
    if len > params.max_tx_len {
        return Err(TxError::TooLarge {
            len,
            max: params.max_tx_len,
        });
    }
    if tx.genesis != chain.genesis_hash {
        return Err(TxError::WrongGenesis {
            expected: chain.genesis_hash,
            got: tx.genesis,
        });
    }
    if !signature_ok() {
        return Err(TxError::BadSignature);
    }
    let state_nonce = system::nonce(&tx.signer);
    if tx.nonce < state_nonce {
        return Err(TxError::StaleNonce {
            expected: state_nonce,
            got: tx.nonce,
        });
    }
    let call = RuntimeCall::decode_bounded(&tx.call).ok_or(TxError::BadCall)?;
    let weight = call.weight();
    if weight > params.max_block_weight {
        return Err(TxError::ExhaustsBlock {
            weight,
            max: params.max_block_weight,
        });
    }
    call.pre_check(&tx.signer).map_err(TxError::Refused)?;
    let fee = fees::fee(params, len, weight).saturating_add(tx.tip);
    let free = balances::free(&tx.signer);
    if free < fee {
        return Err(TxError::CannotPayFee { fee, free });
    }
    Ok(Checked {
        call,
        weight,
        fee,
        state_nonce,
        free,
    })
}

/// Checks a transaction for the pool against the current state. A nonce ahead of the state's is
/// accepted here (the pool decides whether it follows pending ones).
pub fn validate_transaction(input: ValidateInput) -> Result<ValidTransaction, TxError> {
    let stx = SignedTransaction::decode_all(&mut &input.tx[..]).map_err(|_| TxError::BadEncoding)?;
    let len = input.tx.len() as u32;
    let params = params();
    let checked = check(&stx, len, &input.chain, &params, || {
        host::sr25519_verify(&stx.signature, &stx.tx.signing_payload(), stx.tx.signer.as_bytes())
    })?;
    Ok(ValidTransaction {
        hash: host::blake2_256(&input.tx),
        signer: stx.tx.signer,
        nonce: stx.tx.nonce,
        state_nonce: checked.state_nonce,
        fee: checked.fee,
        tip: stx.tx.tip,
        len,
        sender_free: checked.free,
    })
}

/// Every transaction's signing payload, and whether all signatures verify as one batch (when
/// not, each is checked alone by its caller, to tell which are bad).
fn signing_payloads_and_batch_check(transactions: &[SignedTransaction]) -> (Vec<Vec<u8>>, bool) {
    let payloads: Vec<Vec<u8>> = transactions.iter().map(|t| t.tx.signing_payload()).collect();
    let batch: Vec<(&[u8; 32], &[u8; 64], &Vec<u8>)> = transactions
        .iter()
        .zip(&payloads)
        .map(|(t, p)| (t.tx.signer.as_bytes(), &t.signature, p))
        .collect();
    let all_ok = batch.is_empty() || host::sr25519_verify_batch(&batch.encode());
    drop(batch);
    (payloads, all_ok)
}

/// Checks a proposed transaction set as a whole against the parent state (SCP's validity
/// check before voting, ARCHITECTURE §3): size bounds, every signature (one batch), and per
/// sender nonces in sequence from the state's and fees payable cumulatively from the free
/// balance. A set that passes applies with every transaction included, unless an earlier
/// transaction's call moves the balance a later one needed (that one is then skipped).
pub fn validate_tx_set(input: ValidateTxSetInput) -> Result<(), TxSetError> {
    let count = input.transactions.len();
    if count > input.max_transactions as usize {
        return Err(TxSetError::TooManyTransactions {
            count: count.min(u32::MAX as usize) as u32,
            max: input.max_transactions,
        });
    }
    let encoded: Vec<Vec<u8>> = input.transactions.iter().map(Encode::encode).collect();
    let bytes: u64 = encoded.iter().map(|e| e.len() as u64).sum();
    if bytes > input.max_bytes as u64 {
        return Err(TxSetError::TooLarge {
            bytes,
            max: input.max_bytes,
        });
    }
    let params = params();
    let (payloads, all_signatures_ok) = signing_payloads_and_batch_check(&input.transactions);
    // Per sender: the next nonce expected and the fees already committed by the set.
    let mut senders: alloc::collections::BTreeMap<watt_primitives::AccountId, (u64, Balance)> = Default::default();
    let mut weight_used: u64 = 0;
    // Senders with a check-in earlier in the set: a second one would be refused at its turn.
    let mut checked_in: alloc::collections::BTreeSet<watt_primitives::AccountId> = Default::default();
    for (index, ((stx, payload), enc)) in input.transactions.iter().zip(&payloads).zip(&encoded).enumerate() {
        let fail = |error| TxSetError::Transaction {
            index: index as u32,
            error,
        };
        let checked = check(stx, enc.len() as u32, &input.chain, &params, || {
            all_signatures_ok || host::sr25519_verify(&stx.signature, payload, stx.tx.signer.as_bytes())
        })
        .map_err(fail)?;
        let (next_nonce, spent) = senders.entry(stx.tx.signer).or_insert((checked.state_nonce, 0));
        if stx.tx.nonce != *next_nonce {
            let expected = *next_nonce;
            return Err(fail(if stx.tx.nonce < expected {
                TxError::StaleNonce {
                    expected,
                    got: stx.tx.nonce,
                }
            } else {
                TxError::FutureNonce {
                    expected,
                    got: stx.tx.nonce,
                }
            }));
        }
        let total = spent.saturating_add(checked.fee);
        if total > checked.free {
            return Err(fail(TxError::CannotPayFee {
                fee: total,
                free: checked.free,
            }));
        }
        if matches!(checked.call, RuntimeCall::Presence(pallet_presence::Call::CheckIn))
            && !checked_in.insert(stx.tx.signer)
        {
            use watt_support::dispatch::PalletError;
            return Err(fail(TxError::Refused(
                pallet_presence::Error::AlreadyCheckedIn.into_dispatch_error(),
            )));
        }
        let room = params.max_block_weight - weight_used.min(params.max_block_weight);
        if checked.weight > room {
            return Err(fail(TxError::ExhaustsBlock {
                weight: checked.weight,
                max: room,
            }));
        }
        weight_used += checked.weight;
        *next_nonce += 1;
        *spent = total;
    }
    Ok(())
}

/// Applies a block: `on_initialize` hooks, the transactions in order (signatures verified as
/// one batch up front; only if the batch fails is each checked alone, to tell which are bad;
/// a transaction that does not fit the block's remaining weight is invalid), `on_finalize`
/// hooks. Returns every transaction's result and the block's events list.
pub fn apply_block(input: ApplyBlockInput) -> ApplyBlockOutput {
    system::initialize_block(input.number, input.parent_hash, input.close_time);
    let block = BlockContext {
        number: input.number,
        author: input.author,
    };
    let mut records = event_records(
        EventPhase::Initialization,
        crate::hooks::run(EventPhase::Initialization, &block),
    );
    let params = params();
    let (payloads, all_signatures_ok) = signing_payloads_and_batch_check(&input.transactions);

    let mut weight_left = params.max_block_weight;
    let mut results = Vec::with_capacity(input.transactions.len());
    for (index, (stx, payload)) in input.transactions.into_iter().zip(payloads).enumerate() {
        let signature_ok = |stx: &SignedTransaction| {
            all_signatures_ok || host::sr25519_verify(&stx.signature, &payload, stx.tx.signer.as_bytes())
        };
        let (result, mut events) = apply_transaction(
            stx,
            index as u32,
            input.number,
            &input.chain,
            &params,
            &mut weight_left,
            signature_ok,
        );
        records.append(&mut events);
        results.push(result);
    }
    records.extend(event_records(
        EventPhase::Finalization,
        crate::hooks::run(EventPhase::Finalization, &block),
    ));
    ApplyBlockOutput {
        results,
        events: records,
    }
}

/// The block's list entries for `events` of one phase: each encoded once, with its topics.
fn event_records(phase: EventPhase, events: Vec<RuntimeEvent>) -> Vec<EventRecord> {
    events
        .into_iter()
        .map(|e| EventRecord {
            phase,
            topics: e.topics(),
            event: e.encode(),
        })
        .collect()
}

/// Applies one transaction: its result and its entries of the block's events list (the
/// receipt carries the same encoded events).
fn apply_transaction(
    stx: SignedTransaction,
    index: u32,
    number: u64,
    chain: &ChainContext,
    params: &ChainParams,
    weight_left: &mut u64,
    signature_ok: impl FnOnce(&SignedTransaction) -> bool,
) -> (ApplyResult, Vec<EventRecord>) {
    let encoded = stx.encode();
    let len = encoded.len() as u32;
    let checked = match check(&stx, len, chain, params, || signature_ok(&stx)) {
        Ok(c) => c,
        Err(e) => return (ApplyResult::Invalid(e), Vec::new()),
    };
    let signer = stx.tx.signer;
    if stx.tx.nonce != checked.state_nonce {
        let e = TxError::FutureNonce {
            expected: checked.state_nonce,
            got: stx.tx.nonce,
        };
        return (ApplyResult::Invalid(e), Vec::new());
    }
    if checked.weight > *weight_left {
        let e = TxError::ExhaustsBlock {
            weight: checked.weight,
            max: *weight_left,
        };
        return (ApplyResult::Invalid(e), Vec::new());
    }
    let mut balance_events = Vec::new();
    if let Err(free) = balances::withdraw_fee(&signer, checked.fee, &mut balance_events) {
        return (
            ApplyResult::Invalid(TxError::CannotPayFee { fee: checked.fee, free }),
            Vec::new(),
        );
    }
    *weight_left -= checked.weight;
    system::inc_nonce(&signer);
    let mut events: Vec<RuntimeEvent> = balance_events.into_iter().map(RuntimeEvent::Balances).collect();
    let mut call_events = Vec::new();
    watt_support::dispatch::take_unused_weight();
    // The call runs in its own storage transaction: a failure undoes the call, not the fee.
    let outcome = match host::with_transaction(|| checked.call.dispatch(Origin::Signed(signer), &mut call_events)) {
        Ok(()) => {
            events.append(&mut call_events);
            TxOutcome::Success
        }
        Err(e) => TxOutcome::Failed(e),
    };
    // Weight the call declared but did not use (a contract's unused gas), whether it
    // succeeded or not: refunded from the fee pool and given back to the block.
    let unused = watt_support::dispatch::take_unused_weight().min(checked.weight);
    let mut fee_paid = checked.fee;
    if unused > 0 {
        *weight_left = weight_left.saturating_add(unused);
        let refund = params.weight_fee.saturating_mul(unused as Balance).min(fee_paid);
        // A signer reaped by its own call may not take a refund below the existential
        // deposit; the refund then stays in the pool.
        let mut refund_events = Vec::new();
        if refund > 0 && balances::transfer(&fee_pool_account(), &signer, refund, false, &mut refund_events).is_ok() {
            fee_paid -= refund;
            events.extend(refund_events.into_iter().map(RuntimeEvent::Balances));
        }
    }
    let records = event_records(EventPhase::Transaction(index), events);
    let receipt = Receipt {
        tx_hash: host::blake2_256(&encoded),
        block_number: number,
        index,
        outcome,
        fee_paid,
        events: records.iter().map(|r| r.event.clone()).collect(),
    };
    (ApplyResult::Included(receipt), records)
}

/// Answers a read-only query.
pub fn query(q: Query) -> QueryResult {
    match q {
        Query::Account(who) => QueryResult::Account(AccountInfo {
            free: balances::free(&who),
            nonce: system::nonce(&who),
        }),
        Query::FeePool => {
            let account = fee_pool_account();
            QueryResult::FeePool {
                account,
                balance: balances::free(&account),
            }
        }
        Query::Params => QueryResult::Params(params()),
        Query::FeeFor { call, len } => {
            QueryResult::Fee(RuntimeCall::decode_bounded(&call).map(|c| fees::fee(&params(), len, c.weight())))
        }
        Query::Rewards(who) => {
            let mut info = pallet_rewards::rewards_info(&who);
            info.attested = pallet_identity::is_attested(&who);
            info.checked_in_today = pallet_presence::checked_in_today(&who);
            QueryResult::Rewards(info)
        }
        Query::Day => QueryResult::Day(pallet_rewards::day_info(system::block_number())),
        Query::Supply => QueryResult::Supply(pallet_rewards::supply_info()),
        Query::Pledge(who) => QueryResult::Pledge(pallet_pledge::pledge_info(&who)),
        Query::EconomyParams => QueryResult::EconomyParams(pallet_rewards::params()),
        Query::ContractCall(req) => QueryResult::ContractExec(pallet_contracts::dry_run_call(req)),
        Query::ContractInstantiate(req) => QueryResult::ContractExec(pallet_contracts::dry_run_instantiate(req)),
        Query::ContractInfo(who) => QueryResult::ContractInfo(pallet_contracts::contract_info(&who)),
        Query::CodeInfo(hash) => QueryResult::CodeInfo(pallet_contracts::code_info(&hash)),
    }
}
