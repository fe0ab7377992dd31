//! A block whose events exceed what one response carries, read in full page by page over the
//! real HTTP server (its 32 MiB response limit) with the client SDK (its 10 MiB one): the block
//! and its receipt are written to the dev chain's store directly, as a node would commit them,
//! since the runtime now caps what one transaction may emit.

use serde_json::{json, Value};
use std::net::SocketAddr;
use watt_chain::test_utils::open_dev_chain;
use watt_client::{RpcError, WattRpc};
use watt_primitives::economy::{EventPhase, EventRecord};
use watt_primitives::{Block, Header, Receipt, TxOutcome};
use watt_rpc::{RpcConfig, PAGE_BYTES};
use watt_store::{StateChanges, Store};

/// Events of the block: ~410 bytes of JSON each, ~37 MB in all.
const BLOCK_EVENTS: u32 = 90_000;
/// Events of the receipt: ~400 bytes of JSON each, ~34 MB in all.
const RECEIPT_EVENTS: u32 = 85_000;
const TX: [u8; 32] = [7; 32];

fn hex(b: &[u8]) -> String {
    format!("0x{}", hex::encode(b))
}

/// A four-topic event with a 40-byte payload, distinct per index.
fn record(i: u32) -> EventRecord {
    let mut event = vec![0u8; 40];
    event[..4].copy_from_slice(&i.to_le_bytes());
    EventRecord {
        phase: EventPhase::Transaction(i % 3),
        event,
        topics: (0..4u8)
            .map(|t| {
                let mut h = [t; 32];
                h[..4].copy_from_slice(&i.to_be_bytes());
                h
            })
            .collect(),
    }
}

/// A receipt's event: 200 bytes, distinct per index.
fn receipt_event(i: u32) -> Vec<u8> {
    let mut e = vec![0xee; 200];
    e[..4].copy_from_slice(&i.to_le_bytes());
    e
}

/// Commits block #1 on the dev genesis at `dir` with the large events and receipt.
fn write_large_block(dir: &std::path::Path) {
    let genesis = {
        let chain = open_dev_chain(dir);
        chain.best_header()
    };
    let store = Store::open(dir).unwrap();
    let tree = store.prepare_state(&StateChanges::new(), 1).unwrap();
    let block = Block {
        header: Header {
            parent_hash: genesis.hash(),
            number: 1,
            state_root: tree.root,
            close_time: genesis.close_time + 1_000,
            ..genesis.clone()
        },
        transactions: vec![],
    };
    let receipt = Receipt {
        tx_hash: TX,
        block_number: 1,
        index: 0,
        outcome: TxOutcome::Success,
        fee_paid: 5,
        events: (0..RECEIPT_EVENTS).map(receipt_event).collect(),
    };
    let events: Vec<EventRecord> = (0..BLOCK_EVENTS).map(record).collect();
    store
        .commit_block(&block, &[receipt], &events, &StateChanges::new(), tree, true, None)
        .unwrap();
}

fn code_of(e: RpcError) -> (i32, String) {
    match e {
        RpcError::Server { code, message, .. } => (code, message),
        other => panic!("expected a JSON-RPC error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_block_with_more_events_than_a_response_carries_is_read_in_full_page_by_page() {
    let dir = tempfile::tempdir().unwrap();
    write_large_block(dir.path());
    let chain = open_dev_chain(dir.path());
    assert_eq!(chain.best().0, 1);
    let config = RpcConfig {
        addr: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..RpcConfig::default()
    };
    let server = watt_rpc::start(&config, chain, "test".into(), None).await.unwrap();
    let rpc = WattRpc::new(&format!("http://{}", server.addr)).unwrap();

    // The unpaged form cannot carry it: a clear error naming the paged form, not a 36 MB answer.
    let (code, message) = code_of(rpc.call::<Value>("watt_events", vec![json!(1)]).await.unwrap_err());
    assert_eq!(code, 4006, "{message}");
    assert!(
        message.contains("90000 events") && message.contains("watt_events(1, {\"offset\": 0})"),
        "{message}"
    );

    // Page by page: every page answers (under the SDK client's 10 MiB limit), and together they
    // are the block's list, in order.
    let mut offset = 0u64;
    let (mut pages, mut bytes) = (0, 0usize);
    let mut seen = 0u32;
    loop {
        let p: Value = rpc
            .call("watt_events", vec![json!(1), json!({"offset": offset})])
            .await
            .unwrap_or_else(|e| panic!("page at {offset}: {e}"));
        assert_eq!((p["number"].as_u64(), p["offset"].as_u64()), (Some(1), Some(offset)));
        assert_eq!(p["total"], json!(BLOCK_EVENTS));
        assert!(p["blockHash"].as_str().is_some_and(|h| h.len() == 66));
        let events = p["events"].as_array().unwrap();
        let len = serde_json::to_string(events).unwrap().len();
        assert!(len <= PAGE_BYTES, "page {pages}: {len} bytes");
        bytes += len;
        for e in events {
            let r = record(seen);
            assert_eq!(e["event"], json!(hex(&r.event)), "event {seen}");
            assert_eq!(e["phase"], json!({"transaction": seen % 3}));
            let topics: Vec<String> = r.topics.iter().map(|t| hex(t)).collect();
            assert_eq!(e["topics"], json!(topics));
            seen += 1;
        }
        pages += 1;
        match p["next"].as_u64() {
            Some(n) => {
                assert_eq!(n, seen as u64);
                offset = n;
            }
            None => {
                assert!(p["next"].is_null());
                break;
            }
        }
    }
    assert_eq!(seen, BLOCK_EVENTS);
    assert!(
        bytes > config.max_response_bytes as usize,
        "the list ({bytes} bytes) must exceed one response for this test to mean anything"
    );
    assert!(pages >= 5, "{pages} pages");

    // A count limit, and an offset past the end.
    let p: Value = rpc
        .call("watt_events", vec![json!(1), json!({"offset": 5, "limit": 3})])
        .await
        .unwrap();
    assert_eq!(p["events"].as_array().unwrap().len(), 3);
    assert_eq!(p["events"][0]["event"], json!(hex(&record(5).event)));
    assert_eq!(p["next"], json!(8));
    let (code, message) = code_of(
        rpc.call::<Value>("watt_events", vec![json!(1), json!({"offset": BLOCK_EVENTS + 1})])
            .await
            .unwrap_err(),
    );
    assert_eq!(code, -32602);
    assert!(message.contains("past the end: there are 90000 entries"), "{message}");

    // The receipt: unpaged, its first page and where the next one starts; then the rest.
    let first = rpc.receipt(&TX).await.unwrap().expect("the receipt");
    assert_eq!(first.events_total, Some(RECEIPT_EVENTS as u64));
    let mut next = first.events_next.expect("more events than one page");
    assert_eq!(next as usize, first.events.len());
    let mut all = first.events;
    loop {
        let r: Value = rpc
            .call("watt_receipt", vec![json!(hex(&TX)), json!({"offset": next})])
            .await
            .unwrap();
        assert_eq!(r["txHash"], json!(hex(&TX)));
        assert_eq!(r["eventsTotal"], json!(RECEIPT_EVENTS));
        let events = r["events"].as_array().unwrap();
        assert!(serde_json::to_string(events).unwrap().len() <= PAGE_BYTES);
        all.extend(events.iter().map(|e| e.as_str().unwrap().to_string()));
        match r["eventsNext"].as_u64() {
            Some(n) => next = n,
            None => break,
        }
    }
    let expected: Vec<String> = (0..RECEIPT_EVENTS).map(|i| hex(&receipt_event(i))).collect();
    assert_eq!(all.len(), expected.len());
    assert!(all == expected, "the receipt's pages are its events, in order");
    // The SDK's helper does the same walk.
    let events = rpc.receipt_events(&TX).await.unwrap().expect("the receipt");
    assert!(events == expected);
    server.handle.stop().unwrap();
}
