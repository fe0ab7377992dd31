//! The RPC methods.

use crate::batcher::{Failed, SubmitBatcher};
use crate::json;
use crate::paging::{self, PAGE_BYTES};
use jsonrpsee::core::RegisterMethodError;
use jsonrpsee::core::SubscriptionResult;
use jsonrpsee::types::{ErrorObject, ErrorObjectOwned, Params};
use jsonrpsee::{PendingSubscriptionSink, RpcModule, SubscriptionMessage};
use parity_scale_codec::Encode;
use serde_json::{json, Value};
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;
use watt_chain::{Chain, ChainError, ChainEvent, SubmitError};
use watt_primitives::abi::{Query, QueryResult};
use watt_primitives::economy::{DayInfo, EventPhase, EventRecord, PerRole, PledgeInfo, RewardsInfo, Role, SupplyInfo};
use watt_primitives::{AccountId, Hash};
use watt_txpool::PoolError;

/// Shared by every method.
pub struct RpcContext {
    chain: Arc<Chain>,
    node_name: String,
    network: Option<Arc<dyn NetworkStatus>>,
    submitter: Arc<SubmitBatcher>,
}

/// What RPC shows of the node's networking (none on a single dev node).
pub trait NetworkStatus: Send + Sync + 'static {
    /// Peers connected now.
    fn peer_count(&self) -> usize;
    /// Every known peer as JSON (`system_peers`).
    fn peers(&self) -> Vec<Value>;
    /// This node's peer id.
    fn local_peer_id(&self) -> String;
    /// Addresses this node listens on.
    fn listen_addresses(&self) -> Vec<String>;
    /// Whether the node is catching up with its peers.
    fn is_syncing(&self) -> bool;
}

const INVALID_PARAMS: i32 = -32602;
const INTERNAL: i32 = -32603;
const INVALID_TX: i32 = 1010;
const SENDER_LIMIT: i32 = 1012;
const ALREADY_IMPORTED: i32 = 1013;
const TIP_TOO_LOW: i32 = 1014;
const POOL_FULL: i32 = 1016;
const UNKNOWN_BLOCK: i32 = 4003;
const STATE_PRUNED: i32 = 4004;
const NO_CERTIFICATE: i32 = 4005;
const RESPONSE_TOO_LARGE: i32 = 4006;

fn err(code: i32, msg: impl Into<String>) -> ErrorObjectOwned {
    ErrorObject::owned(code, msg.into(), None::<()>)
}

fn bad_params(msg: impl Into<String>) -> ErrorObjectOwned {
    err(INVALID_PARAMS, msg)
}

fn chain_err(e: ChainError) -> ErrorObjectOwned {
    match e {
        ChainError::UnknownBlock(b) => err(UNKNOWN_BLOCK, format!("unknown block {b}")),
        ChainError::BadRequest(m) => bad_params(m),
        e @ ChainError::Store(watt_store::StoreError::Pruned { .. }) => err(STATE_PRUNED, e.to_string()),
        other => {
            tracing::warn!("rpc internal error: {other}");
            err(INTERNAL, other.to_string())
        }
    }
}

fn submit_err(e: SubmitError) -> ErrorObjectOwned {
    match e {
        SubmitError::Pool(PoolError::Invalid(tx)) => {
            ErrorObject::owned(INVALID_TX, "Invalid Transaction", Some(tx.to_string()))
        }
        SubmitError::Pool(p @ PoolError::AlreadyImported) => err(ALREADY_IMPORTED, p.to_string()),
        SubmitError::Pool(p @ PoolError::TipTooLow { .. }) => err(TIP_TOO_LOW, p.to_string()),
        // Substrate's "priority too low" family: this replacement cannot win either.
        SubmitError::Pool(p @ PoolError::InBlock) => err(TIP_TOO_LOW, p.to_string()),
        SubmitError::Pool(p @ PoolError::Full { .. }) => err(POOL_FULL, p.to_string()),
        SubmitError::Pool(p @ PoolError::SenderLimit { .. }) => err(SENDER_LIMIT, p.to_string()),
        // Payment, as an unpayable fee alone: Substrate reports both as invalid (1010).
        SubmitError::Pool(p @ PoolError::ChainUnpayable { .. }) => {
            ErrorObject::owned(INVALID_TX, "Invalid Transaction", Some(p.to_string()))
        }
        SubmitError::Chain(c) => chain_err(c),
    }
}

// Parameter parsing lives in `watt-rpc-params` (fuzzed and property-tested on its own); these
// wrappers only turn its errors into "invalid params".
fn param_err(e: watt_rpc_params::ParamError) -> ErrorObjectOwned {
    bad_params(e.to_string())
}

fn bytes(s: &str, what: &'static str) -> Result<Vec<u8>, ErrorObjectOwned> {
    watt_rpc_params::bytes(s, what).map_err(param_err)
}

fn opt_hash(s: Option<String>) -> Result<Option<Hash>, ErrorObjectOwned> {
    watt_rpc_params::opt_hash(s.as_deref(), "block hash").map_err(param_err)
}

fn account(s: &str) -> Result<AccountId, ErrorObjectOwned> {
    watt_rpc_params::account(s).map_err(param_err)
}

/// The block a method reads: `at`, or the head.
fn header_at(chain: &Chain, at: Option<Hash>) -> Result<Option<watt_primitives::Header>, ErrorObjectOwned> {
    match at {
        None => Ok(Some(chain.best_header())),
        Some(h) => chain.header(&h).map_err(chain_err),
    }
}

/// Submits a hex transaction through the batcher (concurrent submissions are admitted together).
async fn submit(ctx: &RpcContext, tx_hex: &str) -> Result<Hash, ErrorObjectOwned> {
    let tx = bytes(tx_hex, "transaction")?;
    match ctx.submitter.submit(tx).await {
        Ok(verdict) => verdict.map_err(submit_err),
        Err(Failed::Node) => Err(err(INTERNAL, "the node failed while admitting the transaction")),
        Err(Failed::Busy) => Err(err(
            POOL_FULL,
            "too many transactions are waiting to be admitted; retry shortly",
        )),
    }
}

/// Builds the module with every method.
pub fn rpc_module(
    chain: Arc<Chain>,
    node_name: String,
    network: Option<Arc<dyn NetworkStatus>>,
) -> Result<RpcModule<RpcContext>, RegisterMethodError> {
    let submitter = SubmitBatcher::new(chain.clone());
    let mut m = RpcModule::new(RpcContext {
        chain,
        node_name,
        network,
        submitter,
    });
    register_system(&mut m)?;
    register_chain(&mut m)?;
    register_state(&mut m)?;
    register_author(&mut m)?;
    register_watt(&mut m)?;
    Ok(m)
}

/// The `system_` family: node, chain and network facts.
fn register_system(m: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    m.register_method("system_health", |_, ctx, _| {
        let (peers, syncing, networked) = match &ctx.network {
            Some(n) => (n.peer_count(), n.is_syncing(), true),
            None => (0, false, false),
        };
        json!({"peers": peers, "isSyncing": syncing, "shouldHavePeers": networked, "bestNumber": ctx.chain.best().0})
    })?;
    m.register_method("system_peers", |_, ctx, _| match &ctx.network {
        Some(n) => Value::Array(n.peers()),
        None => Value::Array(vec![]),
    })?;
    m.register_method("system_localPeerId", |_, ctx, _| {
        ctx.network.as_ref().map(|n| n.local_peer_id())
    })?;
    m.register_method("system_localListenAddresses", |_, ctx, _| {
        ctx.network.as_ref().map(|n| n.listen_addresses()).unwrap_or_default()
    })?;
    m.register_method("system_version", |_, _, _| env!("CARGO_PKG_VERSION"))?;
    m.register_method("system_chain", |_, ctx, _| ctx.chain.name().to_string())?;
    m.register_method("system_name", |_, ctx, _| ctx.node_name.clone())?;
    m.register_blocking_method(
        "system_accountNextIndex",
        |p: Params, ctx, _| -> Result<u64, ErrorObjectOwned> {
            let who: String = p.one()?;
            ctx.chain.next_nonce(&account(&who)?).map_err(chain_err)
        },
    )?;
    m.register_method("system_properties", |_, _, _| {
        json!({"ss58Format": watt_primitives::account::SS58_PREFIX, "tokenDecimals": watt_primitives::DECIMALS, "tokenSymbol": "WATT"})
    })?;
    Ok(())
}

/// The `chain_` family: headers, blocks, hashes, head subscriptions.
fn register_chain(m: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    m.register_method(
        "chain_getHeader",
        |p: Params, ctx, _| -> Result<Value, ErrorObjectOwned> {
            let at = opt_hash(p.sequence().optional_next()?)?;
            Ok(header_at(&ctx.chain, at)?
                .map(|h| json::header(&h))
                .unwrap_or(Value::Null))
        },
    )?;
    m.register_method(
        "chain_getBlock",
        |p: Params, ctx, _| -> Result<Value, ErrorObjectOwned> {
            let at = opt_hash(p.sequence().optional_next()?)?;
            let h = at.unwrap_or_else(|| ctx.chain.best().1);
            Ok(ctx
                .chain
                .block(&h)
                .map_err(chain_err)?
                .map(|b| json::block(&b))
                .unwrap_or(Value::Null))
        },
    )?;
    m.register_method(
        "chain_getBlockHash",
        |p: Params, ctx, _| -> Result<Value, ErrorObjectOwned> {
            let n: Option<Value> = p.sequence().optional_next()?;
            let number = match watt_rpc_params::block_number(n.as_ref()).map_err(param_err)? {
                None => ctx.chain.best().0,
                Some(n) => n,
            };
            Ok(ctx
                .chain
                .hash_at(number)
                .map_err(chain_err)?
                .map(|h| Value::String(json::hex(&h)))
                .unwrap_or(Value::Null))
        },
    )?;
    m.register_method(
        "chain_getFinalizedHead",
        |_, ctx, _| -> Result<String, ErrorObjectOwned> { Ok(json::hex(&ctx.chain.finalized().map_err(chain_err)?.1)) },
    )?;
    register_head_subscription(
        m,
        "chain_subscribeNewHeads",
        "chain_newHead",
        "chain_unsubscribeNewHeads",
        false,
    )?;
    register_head_subscription(
        m,
        "chain_subscribeFinalizedHeads",
        "chain_finalizedHead",
        "chain_unsubscribeFinalizedHeads",
        true,
    )?;
    Ok(())
}

/// The `state_` family: storage, proofs, runtime calls and version.
fn register_state(m: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    m.register_method(
        "state_getStorage",
        |p: Params, ctx, _| -> Result<Option<String>, ErrorObjectOwned> {
            let mut seq = p.sequence();
            let key: String = seq.next()?;
            let at = opt_hash(seq.optional_next()?)?;
            let v = ctx.chain.storage(&bytes(&key, "storage key")?, at).map_err(chain_err)?;
            Ok(v.map(|v| json::hex(&v)))
        },
    )?;
    m.register_method(
        "state_getReadProof",
        |p: Params, ctx, _| -> Result<Value, ErrorObjectOwned> {
            let mut seq = p.sequence();
            let keys: Vec<String> = seq.next()?;
            let keys = watt_rpc_params::storage_keys(&keys).map_err(param_err)?;
            let at = opt_hash(seq.optional_next()?)?;
            let (at, proofs) = ctx.chain.read_proof(&keys, at).map_err(chain_err)?;
            let header = ctx
                .chain
                .header(&at)
                .map_err(chain_err)?
                .ok_or_else(|| err(INTERNAL, "proof block vanished"))?;
            Ok(json!({
                "at": json::hex(&at),
                "stateRoot": json::hex(&header.state_root),
                "proofs": proofs.iter().map(|p| json!({
                    "key": json::hex(&p.key),
                    "value": p.value.as_ref().map(|v| json::hex(v)),
                    "proof": json::hex(&p.proof),
                })).collect::<Vec<_>>(),
            }))
        },
    )?;
    m.register_blocking_method("state_call", |p: Params, ctx, _| -> Result<String, ErrorObjectOwned> {
        let mut seq = p.sequence();
        let method: String = seq.next()?;
        let data: String = seq.next()?;
        let at = opt_hash(seq.optional_next()?)?;
        let out = ctx
            .chain
            .call_read_only(&method, &bytes(&data, "call data")?, at)
            .map_err(chain_err)?;
        Ok(json::hex(&out))
    })?;
    m.register_blocking_method(
        "state_getRuntimeVersion",
        |_, ctx, _| -> Result<Value, ErrorObjectOwned> {
            let v = ctx.chain.runtime_version().map_err(chain_err)?;
            Ok(json!({"specName": v.spec_name, "specVersion": v.spec_version}))
        },
    )?;
    Ok(())
}

/// The `author_` family: submitting and watching transactions.
fn register_author(m: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    m.register_async_method(
        "author_submitExtrinsic",
        |p: Params<'static>, ctx: Arc<RpcContext>, _| async move {
            let tx: String = p.one()?;
            Ok::<String, ErrorObjectOwned>(json::hex(&submit(&ctx, &tx).await?))
        },
    )?;
    m.register_method("author_pendingExtrinsics", |_, ctx, _| {
        ctx.chain
            .pending()
            .iter()
            .map(|t| json::hex(&t.tx.encode()))
            .collect::<Vec<_>>()
    })?;
    m.register_subscription(
        "author_submitAndWatchExtrinsic",
        "author_extrinsicUpdate",
        "author_unwatchExtrinsic",
        |p: Params<'static>, pending: PendingSubscriptionSink, ctx: Arc<RpcContext>, _| async move {
            watch_extrinsic(p, pending, ctx).await
        },
    )?;
    Ok(())
}

/// A runtime answer of the wrong kind (a runtime bug, not the caller's).
fn other_answer() -> ErrorObjectOwned {
    err(INTERNAL, "runtime answered another question")
}

/// `{"pioneer": .., "contributor": .., ...}` of a per-role value.
fn per_role<T: Copy>(values: &PerRole<T>, show: impl Fn(T) -> Value) -> Value {
    Value::Object(
        Role::ALL
            .iter()
            .map(|r| (r.name().to_string(), show(values.get(*r))))
            .collect(),
    )
}

/// Balances are decimal strings: u128 amounts exceed JSON's safe integers.
fn balance_json(b: watt_primitives::Balance) -> Value {
    Value::String(b.to_string())
}

/// The answer of `watt_rewards`.
fn rewards_json(who: &AccountId, r: &RewardsInfo) -> Value {
    json!({
        "account": who.to_ss58(),
        "claimable": r.claimable.to_string(),
        "by_role": per_role(&r.by_role, balance_json),
        "unclaimed_days": r.unclaimed_days,
        "today": per_role(&r.today, Value::from),
        "attested": r.attested,
        "checked_in_today": r.checked_in_today,
        "claimed_total": r.claimed_total.to_string(),
    })
}

/// The answer of `watt_day`.
fn day_json(d: &DayInfo) -> Value {
    json!({
        "day": d.day,
        "day_blocks": d.day_blocks,
        "blocks_left": d.blocks_left,
        "phase": d.phase.name(),
        "issuance": d.issuance.to_string(),
        "fee_pool": d.fee_pool.to_string(),
        "participants": per_role(&d.participants, Value::from),
    })
}

/// The answer of `watt_supply`.
fn supply_json(s: &SupplyInfo) -> Value {
    json!({
        "total_issuance": s.total_issuance.to_string(),
        "cap": s.cap.to_string(),
        "phase": s.phase.name(),
        "checkin_minted": s.checkin_minted.to_string(),
        "checkin_total": s.checkin_total.to_string(),
        "phase2_minted": s.phase2_minted.to_string(),
        "storage_pool": {"server": s.storage_pool.0.to_string(), "mobile": s.storage_pool.1.to_string()},
        "team_locked": s.team_locked.to_string(),
        "burned": s.burned.to_string(),
        "unclaimed": s.unclaimed.to_string(),
    })
}

/// The answer of `watt_pledge`.
fn pledge_json(who: &AccountId, p: &PledgeInfo) -> Value {
    json!({
        "account": who.to_ss58(),
        "units": p.units,
        "bonded": p.bonded.to_string(),
        "unbonding": p
            .unbonding
            .iter()
            .map(|(day, amount)| json!({"day": day, "amount": amount.to_string()}))
            .collect::<Vec<_>>(),
        "validator": p.validator,
    })
}

/// One entry of `watt_events`: when it happened, the SCALE-encoded runtime event, its topics.
fn event_json(e: &EventRecord) -> Value {
    let phase = match e.phase {
        EventPhase::Initialization => json!("initialization"),
        EventPhase::Transaction(i) => json!({ "transaction": i }),
        EventPhase::Finalization => json!("finalization"),
    };
    json!({
        "phase": phase,
        "event": json::hex(&e.event),
        "topics": e.topics.iter().map(|t| json::hex(t)).collect::<Vec<_>>(),
    })
}

/// The `watt_` economy methods: rewards, the day, supply and pledges at the head (the runtime's
/// economy queries iterate storage keys, which the store serves at the head only), and a
/// block's events list: `watt_events([number])` (default the head) answers the whole list when
/// it fits one page ([`PAGE_BYTES`] of JSON), else error 4006; `watt_events(number, {offset?,
/// limit?})` answers `{number, blockHash, events, offset, next, total}`, a page bounded by bytes
/// and `limit`, `next` being the offset to ask for next (null after the last page).
fn register_economy(m: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    register_account_query(m, "watt_rewards", Query::Rewards, |who, r| match r {
        QueryResult::Rewards(r) => Some(rewards_json(who, &r)),
        _ => None,
    })?;
    register_account_query(m, "watt_pledge", Query::Pledge, |who, r| match r {
        QueryResult::Pledge(p) => Some(pledge_json(who, &p)),
        _ => None,
    })?;
    m.register_blocking_method("watt_day", |_, ctx, _| {
        ask(&ctx.chain, Query::Day, |r| match r {
            QueryResult::Day(d) => Some(day_json(&d)),
            _ => None,
        })
    })?;
    m.register_blocking_method("watt_supply", |_, ctx, _| {
        ask(&ctx.chain, Query::Supply, |r| match r {
            QueryResult::Supply(s) => Some(supply_json(&s)),
            _ => None,
        })
    })?;
    m.register_blocking_method("watt_events", |p: Params, ctx, _| -> Result<Value, ErrorObjectOwned> {
        let mut seq = p.sequence();
        let n: Option<Value> = seq.optional_next()?;
        let page: Option<Value> = seq.optional_next()?;
        let page = watt_rpc_params::page(page.as_ref()).map_err(param_err)?;
        let number = match watt_rpc_params::block_number(n.as_ref()).map_err(param_err)? {
            None => ctx.chain.best().0,
            Some(n) => n,
        };
        let Some(events) = ctx.chain.events(number).map_err(chain_err)? else {
            let why = "no such block yet, or a node from before events were stored committed it";
            return Err(err(
                UNKNOWN_BLOCK,
                format!("no events stored for block #{number}: {why}"),
            ));
        };
        let Some(req) = page else {
            // The unpaged form: the whole list, as before paging existed, when it fits a page.
            let whole = paging::page(&events, 0, None, PAGE_BYTES, event_json).map_err(bad_params)?;
            if whole.next.is_some() {
                return Err(err(
                    RESPONSE_TOO_LARGE,
                    format!(
                        "block #{number} has {} events, more than one response carries ({} MiB of JSON); \
                         read them in pages: watt_events({number}, {{\"offset\": 0}}) answers \
                         {{events, offset, next, total}}, then ask again from `next` until it is null",
                        whole.total,
                        PAGE_BYTES >> 20
                    ),
                ));
            }
            return Ok(Value::Array(whole.items));
        };
        let page = paging::page(&events, req.offset, req.limit, PAGE_BYTES, event_json).map_err(bad_params)?;
        let hash = ctx.chain.hash_at(number).map_err(chain_err)?;
        Ok(json!({
            "number": number,
            "blockHash": hash.map(|h| json::hex(&h)),
            "events": page.items,
            "offset": page.offset,
            "next": page.next,
            "total": page.total,
        }))
    })?;
    Ok(())
}

/// The one parameter object of a method: sent as the params themselves (by name) or as the
/// only element of a params array.
fn object_param(p: &Params) -> Result<Value, ErrorObjectOwned> {
    match p.parse::<Value>()? {
        v @ Value::Object(_) => Ok(v),
        Value::Array(mut a) if a.len() == 1 => Ok(a.remove(0)),
        _ => Err(bad_params("expected one parameter object")),
    }
}

/// The contract methods, at the head: dry-runs of a call and of an instantiation (nothing is
/// written; the answer says what a transaction would do), a contract's and uploaded code's
/// info, and the chain parameters a client needs to size its transactions.
///
/// - `watt_contractCall({origin, dest, value?, gasLimit?, storageDepositLimit?, input})`
/// - `watt_contractInstantiate({origin, value?, gasLimit?, storageDepositLimit?, code | codeHash,
///   input, salt?})`
///
/// (parameters as `watt_rpc_params::contracts` parses them) answer
/// `{"result": {"ok": {"reverted", "data"}} | {"err": "module::Error"}, "gasUsed",
/// "storageDeposit": {"charge": ".."} | {"refund": ".."}, "events": [{"contract", "topics",
/// "data"}], "debugMessage", "address"}`; `watt_contractInfo(address)` and
/// `watt_codeInfo(codeHash)` answer `null` when there is no such contract or code.
fn register_contracts(m: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    m.register_blocking_method(
        "watt_contractCall",
        |p: Params, ctx, _| -> Result<Value, ErrorObjectOwned> {
            let req = watt_rpc_params::contracts::call_request(&object_param(&p)?).map_err(param_err)?;
            ask(&ctx.chain, Query::ContractCall(req), |r| match r {
                QueryResult::ContractExec(e) => Some(json::exec_result(&e)),
                _ => None,
            })
        },
    )?;
    m.register_blocking_method(
        "watt_contractInstantiate",
        |p: Params, ctx, _| -> Result<Value, ErrorObjectOwned> {
            let req = watt_rpc_params::contracts::instantiate_request(&object_param(&p)?).map_err(param_err)?;
            ask(&ctx.chain, Query::ContractInstantiate(req), |r| match r {
                QueryResult::ContractExec(e) => Some(json::exec_result(&e)),
                _ => None,
            })
        },
    )?;
    register_account_query(m, "watt_contractInfo", Query::ContractInfo, |_, r| match r {
        QueryResult::ContractInfo(i) => Some(i.as_ref().map(json::contract_info).unwrap_or(Value::Null)),
        _ => None,
    })?;
    m.register_blocking_method(
        "watt_codeInfo",
        |p: Params, ctx, _| -> Result<Value, ErrorObjectOwned> {
            let h: String = p.one()?;
            let code_hash = watt_rpc_params::hash(&h, "code hash").map_err(param_err)?;
            ask(&ctx.chain, Query::CodeInfo(code_hash), |r| match r {
                QueryResult::CodeInfo(i) => Some(i.as_ref().map(json::code_info).unwrap_or(Value::Null)),
                _ => None,
            })
        },
    )?;
    m.register_blocking_method("watt_chainParams", |_, ctx, _| {
        ask(&ctx.chain, Query::Params, |r| match r {
            QueryResult::Params(p) => Some(json!({
                "existentialDeposit": p.existential_deposit.to_string(),
                "baseFee": p.base_fee.to_string(),
                "byteFee": p.byte_fee.to_string(),
                "weightFee": p.weight_fee.to_string(),
                "maxTxLen": p.max_tx_len,
                "maxBlockWeight": p.max_block_weight,
                "maxBlockTransactions": p.max_block_transactions,
                "maxBlockBytes": p.max_block_bytes,
            })),
            _ => None,
        })
    })?;
    Ok(())
}

/// Registers `name(address)`: the runtime's answer to `query(address)` at the head, as `shape`
/// makes it JSON (`None`: an answer of another kind).
fn register_account_query(
    m: &mut RpcModule<RpcContext>,
    name: &'static str,
    query: fn(AccountId) -> Query,
    shape: fn(&AccountId, QueryResult) -> Option<Value>,
) -> Result<(), RegisterMethodError> {
    m.register_blocking_method(name, move |p: Params, ctx, _| -> Result<Value, ErrorObjectOwned> {
        let who = account(&p.one::<String>()?)?;
        ask(&ctx.chain, query(who), |r| shape(&who, r))
    })?;
    Ok(())
}

/// Asks the runtime `q` at the head and shapes its answer (`None`: an answer of another kind).
fn ask(chain: &Chain, q: Query, shape: impl FnOnce(QueryResult) -> Option<Value>) -> Result<Value, ErrorObjectOwned> {
    shape(chain.query(&q).map_err(chain_err)?).ok_or_else(other_answer)
}

/// The `watt_` family: accounts, the fee pool, receipts, finality proofs, the economy.
///
/// `watt_receipt(txHash, [{offset?, limit?}])` pages the receipt's events as `watt_events`
/// does: `events` holds at most [`PAGE_BYTES`] of JSON from `offset` (default 0),
/// `eventsTotal` counts them all and `eventsNext` is the offset of the next page (null when
/// none remain), so a receipt is readable whatever its transaction emitted.
fn register_watt(m: &mut RpcModule<RpcContext>) -> Result<(), RegisterMethodError> {
    register_economy(m)?;
    register_contracts(m)?;
    m.register_blocking_method("watt_account", |p: Params, ctx, _| -> Result<Value, ErrorObjectOwned> {
        let mut seq = p.sequence();
        let who: String = seq.next()?;
        let at = opt_hash(seq.optional_next()?)?;
        match ctx
            .chain
            .query_at(&Query::Account(account(&who)?), at)
            .map_err(chain_err)?
        {
            QueryResult::Account(a) => Ok(json!({"free": a.free.to_string(), "nonce": a.nonce})),
            _ => Err(other_answer()),
        }
    })?;
    m.register_blocking_method("watt_feePool", |_, ctx, _| -> Result<Value, ErrorObjectOwned> {
        match ctx.chain.query(&Query::FeePool).map_err(chain_err)? {
            QueryResult::FeePool { account, balance } => {
                Ok(json!({"account": account.to_ss58(), "balance": balance.to_string()}))
            }
            _ => Err(other_answer()),
        }
    })?;
    m.register_method("watt_finalityProof", |p: Params, ctx, _| -> Result<Value, ErrorObjectOwned> {
        let n: Option<Value> = p.sequence().optional_next()?;
        let number = match watt_rpc_params::block_number(n.as_ref()).map_err(param_err)? {
            None => ctx.chain.finalized().map_err(chain_err)?.0,
            Some(n) => n,
        };
        let Some(hash) = ctx.chain.hash_at(number).map_err(chain_err)? else {
            return Err(err(UNKNOWN_BLOCK, format!("no block #{number} yet")));
        };
        let header = ctx
            .chain
            .header(&hash)
            .map_err(chain_err)?
            .ok_or_else(|| err(INTERNAL, "header missing"))?;
        let Some(bytes) = ctx.chain.justification(number).map_err(chain_err)? else {
            return Err(err(
                NO_CERTIFICATE,
                format!("block #{number} has no finality certificate (genesis, or finalized by the single-node dev engine)"),
            ));
        };
        json::finality_proof(number, &header, &bytes).map_err(|e| err(INTERNAL, e))
    })?;
    m.register_blocking_method("watt_receipt", |p: Params, ctx, _| -> Result<Value, ErrorObjectOwned> {
        let mut seq = p.sequence();
        let h: String = seq.next()?;
        let page: Option<Value> = seq.optional_next()?;
        let page = watt_rpc_params::page(page.as_ref()).map_err(param_err)?;
        let tx_hash = watt_rpc_params::hash(&h, "transaction hash").map_err(param_err)?;
        let Some(r) = ctx.chain.receipt(&tx_hash).map_err(chain_err)? else {
            return Ok(Value::Null);
        };
        let block_hash = ctx.chain.hash_at(r.block_number).map_err(chain_err)?;
        // Unpaged: the first page, with `eventsNext` when more remain.
        let req = page.unwrap_or_default();
        let events = paging::page(&r.events, req.offset, req.limit, PAGE_BYTES, |e| {
            Value::String(json::hex(e))
        })
        .map_err(bad_params)?;
        Ok(json::receipt(&r, block_hash, &events))
    })?;
    Ok(())
}

fn raw(v: &Value) -> Result<SubscriptionMessage, serde_json::Error> {
    Ok(serde_json::value::to_raw_value(v)?.into())
}

fn register_head_subscription(
    m: &mut RpcModule<RpcContext>,
    sub: &'static str,
    notif: &'static str,
    unsub: &'static str,
    finalized_only: bool,
) -> Result<(), jsonrpsee::core::RegisterMethodError> {
    m.register_subscription(sub, notif, unsub, move |_, pending, ctx, _| async move {
        let mut events = ctx.chain.subscribe();
        let sink = pending.accept().await?;
        loop {
            tokio::select! {
                _ = sink.closed() => break,
                ev = events.recv() => match ev {
                    Ok(ChainEvent::Block(b)) if !finalized_only || b.finalized => {
                        if sink.send(raw(&json::header(&b.header))?).await.is_err() {
                            break;
                        }
                    }
                    Ok(_) => {}
                    // Missed heads cannot be replayed: tell the client and close, rather than
                    // let it believe it saw every block.
                    Err(RecvError::Lagged(missed)) => return Err(lagged(missed).into()),
                    Err(RecvError::Closed) => break,
                },
            }
        }
        Ok(())
    })?;
    Ok(())
}

/// The error a subscription closes with when its client reads too slowly.
fn lagged(missed: u64) -> String {
    format!("subscriber too slow: {missed} events missed; resubscribe")
}

/// Where a watched transaction stands, decided from the chain's records after the watcher
/// missed events (one of them may have been about it).
enum AfterLag {
    /// Still in the pool: the events about it are yet to come.
    Pending,
    /// Included in `block`; `finalized` if that block is final already.
    Included { block: Hash, finalized: bool },
    /// Gone from the pool without a receipt: dropped, for a reason that was missed.
    Dropped,
}

fn after_lag(chain: &Chain, tx: &Hash) -> Result<AfterLag, ChainError> {
    // Pool first, receipt second: a commit writes the receipt before it prunes the pool, so
    // "not pending" read first and "no receipt" read after means it really was dropped.
    if chain.is_pending(tx) {
        return Ok(AfterLag::Pending);
    }
    let Some(r) = chain.receipt(tx)? else {
        return Ok(AfterLag::Dropped);
    };
    let block = chain
        .hash_at(r.block_number)?
        .ok_or_else(|| ChainError::UnknownBlock(format!("#{}", r.block_number)))?;
    Ok(AfterLag::Included {
        block,
        finalized: chain.finalized()?.0 >= r.block_number,
    })
}

async fn watch_extrinsic(
    p: Params<'static>,
    pending: PendingSubscriptionSink,
    ctx: Arc<RpcContext>,
) -> SubscriptionResult {
    // Subscribe before submitting so the inclusion cannot be missed.
    let mut events = ctx.chain.subscribe();
    let tx: String = match p.one() {
        Ok(t) => t,
        Err(e) => {
            pending.reject(e).await;
            return Ok(());
        }
    };
    let hash = match submit(&ctx, &tx).await {
        Ok(h) => h,
        Err(e) => {
            pending.reject(e).await;
            return Ok(());
        }
    };
    let sink = pending.accept().await?;
    sink.send(raw(&json!("ready"))?).await?;
    // The block already announced, so a lag recovery and a late event do not both report it.
    let mut announced: Option<Hash> = None;
    loop {
        tokio::select! {
            _ = sink.closed() => break,
            ev = events.recv() => match ev {
                Ok(ChainEvent::Block(b)) if b.tx_hashes.contains(&hash) => {
                    if announced != Some(b.hash) {
                        sink.send(raw(&json!({"inBlock": json::hex(&b.hash)}))?).await?;
                        announced = Some(b.hash);
                    }
                    if b.finalized {
                        sink.send(raw(&json!({"finalized": json::hex(&b.hash)}))?).await?;
                        break;
                    }
                }
                Ok(ChainEvent::Dropped { hash: h, reason }) if h == hash => {
                    sink.send(raw(&json!({"dropped": reason}))?).await?;
                    break;
                }
                Ok(_) => {}
                // The events about this transaction may be among those missed: waiting for them
                // would wait forever, so read where it stands from the chain instead.
                Err(RecvError::Lagged(missed)) => {
                    let chain = ctx.chain.clone();
                    let status = tokio::task::spawn_blocking(move || after_lag(&chain, &hash)).await?;
                    match status.map_err(|e| format!("{}; {e}", lagged(missed)))? {
                        AfterLag::Pending => {}
                        AfterLag::Included { block, finalized } => {
                            if announced != Some(block) {
                                sink.send(raw(&json!({"inBlock": json::hex(&block)}))?).await?;
                                announced = Some(block);
                            }
                            if finalized {
                                sink.send(raw(&json!({"finalized": json::hex(&block)}))?).await?;
                                break;
                            }
                        }
                        AfterLag::Dropped => {
                            let reason = format!(
                                "left the pool without being included; the reason was among {missed} events this subscriber missed"
                            );
                            sink.send(raw(&json!({"dropped": reason}))?).await?;
                            break;
                        }
                    }
                }
                Err(RecvError::Closed) => break,
            },
        }
    }
    Ok(())
}
