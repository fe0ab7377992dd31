//! The runtime's entry points as plain Rust functions. The wasm exports decode their input and
//! call these; natively, the executor and tests call them directly.

use crate::{fees, RuntimeCall, RuntimeEvent, SPEC_NAME, SPEC_VERSION};
use alloc::collections::{BTreeMap, BTreeSet};
use alloc::string::String;
use alloc::vec::Vec;
use pallet_balances as balances;
use pallet_system as system;
use parity_scale_codec::{DecodeAll, Encode};
use watt_primitives::abi::storage_keys;
use watt_primitives::abi::{
    AccountInfo, ApplyBlockInput, ApplyBlockOutput, ApplyResult, ChainContext, ChainParams, GenesisConfig, Query,
    QueryResult, RuntimeVersion, TxSetError, ValidTransaction, ValidateBatchInput, ValidateInput, ValidateTxSetInput,
};
use watt_primitives::economy::{EventPhase, EventRecord};
use watt_primitives::{fee_pool_account, AccountId, Balance, Hash, Receipt, SignedTransaction, TxError, TxOutcome};
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
    validate_with(&input.chain, &params(), &input.tx)
}

fn validate_with(chain: &ChainContext, params: &ChainParams, tx: &[u8]) -> Result<ValidTransaction, TxError> {
    let stx = SignedTransaction::decode_all(&mut &tx[..]).map_err(|_| TxError::BadEncoding)?;
    let len = tx.len() as u32;
    let checked = check(&stx, len, chain, params, || {
        host::sr25519_verify(&stx.signature, &stx.tx.signing_payload(), stx.tx.signer.as_bytes())
    })?;
    Ok(ValidTransaction {
        hash: host::blake2_256(tx),
        signer: stx.tx.signer,
        nonce: stx.tx.nonce,
        state_nonce: checked.state_nonce,
        fee: checked.fee,
        tip: stx.tx.tip,
        len,
        sender_free: checked.free,
    })
}

/// [`validate_transaction`] of each of `input.txs`, in one call: a node admitting a gossiped
/// batch (or submissions that arrived together) pays one runtime instance and one read of the
/// parameters instead of one per transaction. Each is judged alone against the state, as separate calls would judge it.
pub fn validate_transactions(input: ValidateBatchInput) -> Vec<Result<ValidTransaction, TxError>> {
    let ValidateBatchInput { chain, txs } = input;
    let params = params();
    txs.into_iter().map(|tx| validate_with(&chain, &params, &tx)).collect()
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

/// Whether `call` is a check-in: a sender may have only one in a block (its pre-check reads
/// the state before the block's calls run, so a second one in the same block would pass it).
fn is_check_in(call: &RuntimeCall) -> bool {
    matches!(call, RuntimeCall::Presence(pallet_presence::Call::CheckIn))
}

/// The refusal of a second check-in by one sender in a set or block.
fn second_check_in() -> TxError {
    use watt_support::dispatch::PalletError;
    TxError::Refused(pallet_presence::Error::AlreadyCheckedIn.into_dispatch_error())
}

/// The chain's block size limits ([`ChainParams::max_block_transactions`],
/// [`ChainParams::max_block_bytes`]) over `count` transactions of `bytes` encoded bytes in
/// all. One function for the set check and block application, so that a set the one accepts
/// the other applies, and a block the one would refuse the other refuses too.
fn check_block_size(params: &ChainParams, count: usize, bytes: u64) -> Result<(), TxSetError> {
    if count > params.max_block_transactions as usize {
        return Err(TxSetError::TooManyTransactions {
            count: count.min(u32::MAX as usize) as u32,
            max: params.max_block_transactions,
        });
    }
    if bytes > u64::from(params.max_block_bytes) {
        return Err(TxSetError::TooLarge {
            bytes,
            max: params.max_block_bytes,
        });
    }
    Ok(())
}

/// Checks a proposed transaction set as a whole against the parent state (SCP's validity
/// check before voting, ARCHITECTURE §3): the chain's size limits (read from the parent
/// state's [`ChainParams`], never from the caller, so every node reaches the same verdict;
/// the count is checked before anything is encoded), every signature (one batch), and per
/// sender nonces in sequence from the state's and fees payable cumulatively from the free
/// balance, at most one check-in per sender, and the block's weight limit over the declared
/// weights. These are the rules of [`apply_block`]'s first pass (the fee pass), judged on the
/// parent state: a set that passes has every transaction charged its fee and given its nonce
/// when applied, whatever its calls then do with the balances. (The one exception: a fee that
/// leaves its sender below the existential deposit reaps it, and the sender's later
/// transactions are then skipped; that sender has paid its whole balance, at least the sum of
/// its fees in the set.)
pub fn validate_tx_set(input: ValidateTxSetInput) -> Result<(), TxSetError> {
    let params = params();
    let count = input.transactions.len();
    check_block_size(&params, count, 0)?;
    let encoded: Vec<Vec<u8>> = input.transactions.iter().map(Encode::encode).collect();
    let bytes: u64 = encoded.iter().map(|e| e.len() as u64).sum();
    check_block_size(&params, count, bytes)?;
    let (payloads, all_signatures_ok) = signing_payloads_and_batch_check(&input.transactions);
    // Per sender: the next nonce expected and the fees already committed by the set.
    let mut senders: BTreeMap<AccountId, (u64, Balance)> = Default::default();
    let mut weight_used: u64 = 0;
    // Senders with a check-in earlier in the set: a second one would be refused at its turn.
    let mut checked_in: BTreeSet<AccountId> = Default::default();
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
        if is_check_in(&checked.call) && !checked_in.insert(stx.tx.signer) {
            return Err(fail(second_check_in()));
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

/// Applies a block: `on_initialize` hooks, the transactions, `on_finalize` hooks. Returns every
/// transaction's result (in input order) and the block's events list.
///
/// **A block over the chain's size limits is refused whole**, before anything runs or is
/// written: more than [`ChainParams::max_block_transactions`] transactions or more than
/// [`ChainParams::max_block_bytes`] encoded transaction bytes gives
/// [`TxSetError::TooManyTransactions`] or [`TxSetError::TooLarge`], the same verdict
/// [`validate_tx_set`] gives the set (one check, `check_block_size`, serves both). Refusing
/// the block rather than skipping the transactions past the limit keeps every path
/// consistent: a producer never meets the refusal (it takes at most the chain's limits from
/// its pool), an agreed set cannot exceed them (the set check refused it before any vote), and
/// a block imported from a peer that exceeds them was never valid, so every node refuses it
/// the same way instead of committing a block larger than the chain allows.
///
/// **Every fee is charged before any call runs** (stellar-core applies a ledger the same way:
/// fees and sequence numbers first, then the operations). The transactions go through two
/// passes, each in input order:
///
/// 1. *Fee pass.* Each transaction is checked as the pool and the set check do (size, chain,
///    signature (all verified as one batch up front; only if the batch fails is each checked
///    alone, to tell which are bad), nonce equal to its sender's next one, call decodes and
///    passes its pre-check, at most one check-in per sender, room left in the block's weight
///    limit for its declared weight, fee plus tip payable from its sender's free balance as
///    earlier fees of the pass left it). If it passes, its fee and tip go to the fee pool, its
///    sender's nonce goes up by one and its declared weight is counted against the block. If
///    it does not, it is [`ApplyResult::Invalid`] and has changed nothing at all: no write, no
///    event.
/// 2. *Call pass.* The call of each transaction charged in pass 1 runs, in its own storage
///    transaction, without being charged again. One that fails (its transfer exceeds what an
///    earlier call or the fees left, say) is rolled back and has a `Failed` receipt; its fee
///    stays paid and its nonce used. Weight the call declared but did not use (a contract's
///    unused gas) is refunded from the fee pool after the call, whether it succeeded or not
///    (not below the existential deposit of a reaped signer: that refund stays in the pool).
///
/// So a call sees its sender's balance after **all** of that sender's fees in the block, and
/// moving value out of an account can no longer make the account's later transactions in the
/// block free: for a set that passed [`validate_tx_set`] (whose rules are pass 1's, on the
/// parent state) every transaction pays its fee and uses its nonce. Stuffing a block with
/// transactions that do nothing costs their fees, like any other transactions.
///
/// Every path of the node applies blocks through this one entry point; they differ only in
/// what becomes of an `Invalid` transaction. An agreed set and an imported block keep it in
/// the block with a `Skipped` receipt and no fee (for an agreed set the set check leaves one
/// way there: a sender reaped by the dust of its own fee, see [`validate_tx_set`]); a producer
/// building from its pool drops it. Dropping is sound because pass 1 is all-or-nothing per
/// transaction: one that fails it changed nothing, so the block without it applies exactly as
/// the block with it did, and a node importing the producer's block computes the same.
///
/// A transaction's events are listed together in the block's events list (phase
/// `Transaction(i)`) and its receipt: its fee's, its call's (if the call succeeded), its
/// refund's.
pub fn apply_block(input: ApplyBlockInput) -> Result<ApplyBlockOutput, TxSetError> {
    let params = params();
    check_block_size(&params, input.transactions.len(), 0)?;
    let bytes: u64 = input.transactions.iter().map(|t| t.encoded_size() as u64).sum();
    check_block_size(&params, input.transactions.len(), bytes)?;
    system::initialize_block(input.number, input.parent_hash, input.close_time);
    let block = BlockContext {
        number: input.number,
        author: input.author,
    };
    let mut records = event_records(
        EventPhase::Initialization,
        crate::hooks::run(EventPhase::Initialization, &block),
    );
    let (payloads, all_signatures_ok) = signing_payloads_and_batch_check(&input.transactions);

    // Pass 1: fees, nonces and block weight, for every transaction before any call.
    let mut room = BlockRoom {
        weight_left: params.max_block_weight,
        checked_in: BTreeSet::new(),
    };
    let charged: Vec<Result<Charged, TxError>> = input
        .transactions
        .into_iter()
        .zip(payloads)
        .enumerate()
        .map(|(index, (stx, payload))| {
            let signature_ok = |stx: &SignedTransaction| {
                all_signatures_ok || host::sr25519_verify(&stx.signature, &payload, stx.tx.signer.as_bytes())
            };
            charge_fee(stx, index as u32, &input.chain, &params, &mut room, signature_ok)
        })
        .collect();

    // Pass 2: the calls of the charged transactions, in order.
    let mut results = Vec::with_capacity(charged.len());
    for charged in charged {
        match charged {
            Ok(charged) => {
                let (receipt, mut events) = execute_call(charged, input.number, &params);
                records.append(&mut events);
                results.push(ApplyResult::Included(receipt));
            }
            Err(e) => results.push(ApplyResult::Invalid(e)),
        }
    }
    records.extend(event_records(
        EventPhase::Finalization,
        crate::hooks::run(EventPhase::Finalization, &block),
    ));
    Ok(ApplyBlockOutput {
        results,
        events: records,
    })
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

/// What the fee pass has used of the block so far.
struct BlockRoom {
    /// The block's weight limit less the declared weights of the transactions charged.
    weight_left: u64,
    /// Senders of the check-ins charged.
    checked_in: BTreeSet<AccountId>,
}

/// A transaction the fee pass charged: what the call pass needs to run it and write its
/// receipt.
struct Charged {
    /// Position in the input.
    index: u32,
    /// blake2b-256 of the encoded transaction.
    tx_hash: Hash,
    signer: AccountId,
    call: RuntimeCall,
    /// Declared weight (an upper bound; a contract reports what it did not use).
    weight: u64,
    /// Fee plus tip, taken.
    fee: Balance,
    /// The fee's events (the payment, a reaped sender's dust): first in the receipt.
    fee_events: Vec<RuntimeEvent>,
}

/// Pass 1 of [`apply_block`] for one transaction: checks it, takes its fee and tip, uses its
/// nonce, counts its declared weight. `Err` changes nothing at all.
fn charge_fee(
    stx: SignedTransaction,
    index: u32,
    chain: &ChainContext,
    params: &ChainParams,
    room: &mut BlockRoom,
    signature_ok: impl FnOnce(&SignedTransaction) -> bool,
) -> Result<Charged, TxError> {
    let encoded = stx.encode();
    let len = encoded.len() as u32;
    let checked = check(&stx, len, chain, params, || signature_ok(&stx))?;
    let signer = stx.tx.signer;
    if stx.tx.nonce != checked.state_nonce {
        return Err(TxError::FutureNonce {
            expected: checked.state_nonce,
            got: stx.tx.nonce,
        });
    }
    let check_in = is_check_in(&checked.call);
    if check_in && room.checked_in.contains(&signer) {
        return Err(second_check_in());
    }
    if checked.weight > room.weight_left {
        return Err(TxError::ExhaustsBlock {
            weight: checked.weight,
            max: room.weight_left,
        });
    }
    let mut balance_events = Vec::new();
    // Cannot fail after `check` found the fee payable on this same state; if it did, it would
    // have written nothing.
    balances::withdraw_fee(&signer, checked.fee, &mut balance_events)
        .map_err(|free| TxError::CannotPayFee { fee: checked.fee, free })?;
    room.weight_left -= checked.weight;
    if check_in {
        room.checked_in.insert(signer);
    }
    system::inc_nonce(&signer);
    Ok(Charged {
        index,
        tx_hash: host::blake2_256(&encoded),
        signer,
        call: checked.call,
        weight: checked.weight,
        fee: checked.fee,
        fee_events: balance_events.into_iter().map(RuntimeEvent::Balances).collect(),
    })
}

/// Pass 2 of [`apply_block`] for one charged transaction: runs its call (the fee is not
/// charged again), refunds the weight it did not use; its receipt and its entries of the
/// block's events list (the receipt carries the same encoded events).
fn execute_call(charged: Charged, number: u64, params: &ChainParams) -> (Receipt, Vec<EventRecord>) {
    let Charged {
        index,
        tx_hash,
        signer,
        call,
        weight,
        fee,
        fee_events: mut events,
    } = charged;
    let mut call_events = Vec::new();
    watt_support::dispatch::take_unused_weight();
    // The call runs in its own storage transaction: a failure undoes the call, not the fee.
    let outcome = match host::with_transaction(|| call.dispatch(Origin::Signed(signer), &mut call_events)) {
        Ok(()) => {
            events.append(&mut call_events);
            TxOutcome::Success
        }
        Err(e) => TxOutcome::Failed(e),
    };
    // Weight the call declared but did not use (a contract's unused gas), whether it
    // succeeded or not, is refunded from the fee pool, which holds this transaction's fee.
    // (Every transaction was admitted to the block by its declared weight in pass 1, so the
    // unused weight makes no room for another.)
    let unused = watt_support::dispatch::take_unused_weight().min(weight);
    let mut fee_paid = fee;
    if unused > 0 {
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
        tx_hash,
        block_number: number,
        index,
        outcome,
        fee_paid,
        events: records.iter().map(|r| r.event.clone()).collect(),
    };
    (receipt, records)
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
