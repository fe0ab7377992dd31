//! JSON shapes of chain objects at the RPC edge.

use parity_scale_codec::Encode;
use serde_json::{json, Value};
use watt_primitives::{Block, Hash, Header, Receipt, TxOutcome};

pub fn hex(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

pub fn header(h: &Header) -> Value {
    json!({
        "parentHash": hex(&h.parent_hash),
        // A JSON number (Substrate sends hex; plain numbers are what shell tools and most clients
        // compare): u64 block numbers fit a JSON number exactly below 2^53.
        "number": h.number,
        "stateRoot": hex(&h.state_root),
        "txRoot": hex(&h.tx_root),
        "receiptsRoot": hex(&h.receipts_root),
        "eventsRoot": hex(&h.events_root),
        "closeTime": h.close_time,
        // SS58, as accounts are everywhere at the RPC edge.
        "author": h.author.to_ss58(),
        "hash": hex(&h.hash()),
    })
}

pub fn block(b: &Block) -> Value {
    json!({
        "block": {
            "header": header(&b.header),
            "extrinsics": b.transactions.iter().map(|t| hex(&t.encode())).collect::<Vec<_>>(),
        },
        "justifications": Value::Null,
    })
}

/// A receipt with one page of its events (`eventsTotal` of them in all; `eventsNext`: the
/// offset of the next page, null after the last).
pub fn receipt(r: &Receipt, block_hash: Option<Hash>, events: &crate::paging::Page) -> Value {
    let (success, error) = match &r.outcome {
        TxOutcome::Success => (true, Value::Null),
        TxOutcome::Failed(e) => (false, Value::String(e.to_string())),
        TxOutcome::Skipped(e) => (false, Value::String(format!("skipped: {e}"))),
    };
    json!({
        "txHash": hex(&r.tx_hash),
        "blockNumber": r.block_number,
        "blockHash": block_hash.map(|h| hex(&h)),
        "index": r.index,
        "success": success,
        "error": error,
        "feePaid": r.fee_paid.to_string(),
        "events": events.items,
        "eventsTotal": events.total,
        "eventsNext": events.next,
    })
}

/// The answer of `watt_finalityProof`: the header, the agreed value it came from, and the
/// certificate (SCALE `Certificate<AccountId>`, hex) with the quorum sets it needs.
pub fn finality_proof(number: u64, h: &Header, certificate: &[u8]) -> Result<Value, String> {
    use parity_scale_codec::Decode;
    let cert = watt_scp::certificate::Certificate::<watt_primitives::AccountId>::decode(&mut &certificate[..])
        .map_err(|e| format!("stored certificate of #{number} does not decode: {e}"))?;
    let value = watt_primitives::ConsensusValue::decode(&mut &cert.value[..])
        .map_err(|e| format!("stored certificate of #{number} names no Watt value: {e}"))?;
    Ok(json!({
        "number": number,
        "hash": hex(&h.hash()),
        "header": header(h),
        "value": {
            "parentHash": hex(&value.parent_hash),
            "txSetHash": hex(&value.tx_set_hash),
            "closeTime": value.close_time,
            "proposer": value.proposer.to_ss58(),
            "proposerProof": hex(&value.proposer_proof),
        },
        "certificate": hex(certificate),
        "signers": cert.envelopes.iter().map(|e| e.node.to_ss58()).collect::<Vec<_>>(),
    }))
}

/// A contract dry-run's result (`watt_contractCall`, `watt_contractInstantiate`): the contract's
/// return or why it failed (`module::Error`), gas, storage deposit (decimal strings), events,
/// the debug buffer as text (lossy UTF-8: contracts write what they like) and, for an
/// instantiation, the new address.
pub fn exec_result(r: &watt_primitives::contracts::ExecResult) -> Value {
    use watt_primitives::contracts::StorageDeposit;
    let result = match &r.result {
        Ok(ret) => json!({"ok": {"reverted": ret.reverted, "data": hex(&ret.data)}}),
        Err(e) => json!({"err": e.to_string()}),
    };
    let deposit = match r.storage_deposit {
        StorageDeposit::Charge(b) => json!({"charge": b.to_string()}),
        StorageDeposit::Refund(b) => json!({"refund": b.to_string()}),
    };
    json!({
        "result": result,
        "gasUsed": r.gas_used,
        "storageDeposit": deposit,
        "events": r.events.iter().map(|e| json!({
            "contract": e.contract.to_ss58(),
            "topics": e.topics.iter().map(|t| hex(t)).collect::<Vec<_>>(),
            "data": hex(&e.data),
        })).collect::<Vec<_>>(),
        "debugMessage": String::from_utf8_lossy(&r.debug_message),
        "address": r.address.map(|a| a.to_ss58()),
    })
}

/// A contract as `watt_contractInfo` shows it.
pub fn contract_info(i: &watt_primitives::contracts::ContractInfo) -> Value {
    json!({
        "codeHash": hex(&i.code_hash),
        "deployer": i.deployer.to_ss58(),
        "storageItems": i.storage_items,
        "storageBytes": i.storage_bytes,
        "storageDeposit": i.storage_deposit.to_string(),
        "balance": i.balance.to_string(),
    })
}

/// Uploaded code as `watt_codeInfo` shows it.
pub fn code_info(i: &watt_primitives::contracts::CodeInfo) -> Value {
    json!({
        "owner": i.owner.to_ss58(),
        "deposit": i.deposit.to_string(),
        "refcount": i.refcount,
        "len": i.len,
    })
}
