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
        "closeTime": h.close_time,
        "consensusData": hex(&h.consensus_data),
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

pub fn receipt(r: &Receipt, block_hash: Option<Hash>) -> Value {
    let (success, error) = match &r.outcome {
        TxOutcome::Success => (true, Value::Null),
        TxOutcome::Failed(e) => (false, Value::String(e.to_string())),
    };
    json!({
        "txHash": hex(&r.tx_hash),
        "blockNumber": r.block_number,
        "blockHash": block_hash.map(|h| hex(&h)),
        "index": r.index,
        "success": success,
        "error": error,
        "feePaid": r.fee_paid.to_string(),
        "events": r.events.iter().map(|e| hex(e)).collect::<Vec<_>>(),
    })
}
