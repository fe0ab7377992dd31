//! `watt light` against fake nodes: small HTTP JSON-RPC servers that serve chains built here,
//! signed by real sr25519 dev keys, some of them lying. The exit status tells what the client
//! concluded.

use super::*;
use parity_scale_codec::Encode;
use std::collections::BTreeMap;
use std::sync::Arc;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use watt_client::light::{qset_hash, sign_envelope, Certificate};
use watt_client::Keypair;
use watt_primitives::{ConsensusValue, Header};
use watt_scp::ballot::{Ballot, BallotStatement};
use watt_scp::scp::Envelope;
use watt_scp::slot::Statement;

const GENESIS: Hash = [0x11; 32];

fn keys() -> Vec<Keypair> {
    ["//Alice", "//Bob", "//Charlie", "//Dave"]
        .iter()
        .map(|s| Keypair::from_suri(s).unwrap())
        .collect()
}

fn trusted(keys: &[Keypair]) -> QuorumSet<AccountId> {
    QuorumSet::flat(3, keys.iter().map(|k| k.account()).collect())
}

/// Block `number`, authored by one of the four validators in turn.
fn header(number: u64, parent_hash: Hash, state_root: Hash, tx_root: Hash) -> Header {
    Header {
        parent_hash,
        number,
        state_root,
        tx_root,
        receipts_root: [0xee; 32],
        events_root: [0xdd; 32],
        close_time: 1_700_000_000_000 + number * 1000,
        author: keys()[number as usize % 4].account(),
    }
}

/// Headers 1..=n on top of [`GENESIS`].
fn chain(n: u64) -> Vec<Header> {
    let mut out: Vec<Header> = vec![];
    for i in 1..=n {
        let parent = out.last().map_or(GENESIS, |h| h.hash());
        out.push(header(i, parent, [i as u8; 32], [0x20 + i as u8; 32]));
    }
    out
}

/// `watt_finalityProof` for `h`, certified by `signers` (quorum set: all four, 3 needed).
fn proof(h: &Header, signers: &[Keypair], all: &[Keypair]) -> Value {
    let q = trusted(all);
    let value = ConsensusValue {
        parent_hash: h.parent_hash,
        tx_set_hash: h.tx_root,
        close_time: h.close_time,
        proposer: h.author,
    };
    let v = value.encode();
    let envelopes = signers
        .iter()
        .map(|k| {
            let mut env = Envelope {
                slot: h.number,
                node: k.account(),
                qset_hash: qset_hash(&q),
                statement: Statement::Ballot(BallotStatement::Externalize {
                    commit: Ballot::new(1, v.clone()),
                    n_h: 1,
                }),
                signature: vec![],
            };
            env.signature = sign_envelope(k, &env, &GENESIS);
            env
        })
        .collect();
    let cert = Certificate {
        slot: h.number,
        value: v,
        envelopes,
        quorum_sets: vec![q],
    };
    json!({
        "number": h.number,
        "hash": to_hex(&h.hash()),
        "header": header_json(h),
        "value": {
            "parentHash": to_hex(&value.parent_hash),
            "txSetHash": to_hex(&value.tx_set_hash),
            "closeTime": value.close_time,
            "proposer": value.proposer.to_ss58(),
        },
        "certificate": to_hex(&cert.encode()),
        "signers": signers.iter().map(|k| k.account().to_ss58()).collect::<Vec<_>>(),
    })
}

fn header_json(h: &Header) -> Value {
    json!({
        "parentHash": to_hex(&h.parent_hash),
        "number": h.number,
        "stateRoot": to_hex(&h.state_root),
        "txRoot": to_hex(&h.tx_root),
        "receiptsRoot": to_hex(&h.receipts_root),
        "eventsRoot": to_hex(&h.events_root),
        "closeTime": h.close_time,
        "author": h.author.to_ss58(),
        "hash": to_hex(&h.hash()),
    })
}

/// What a fake node serves: proofs by number (others: "no block yet").
struct Fake {
    proofs: BTreeMap<u64, Value>,
}

impl Fake {
    fn answer(&self, method: &str, params: &Value) -> Result<Value, (i32, String)> {
        match method {
            "chain_getBlockHash" => Ok(json!(to_hex(&GENESIS))),
            "watt_finalityProof" => {
                let n = params[0].as_u64().ok_or((-32602, "bad params".to_string()))?;
                self.proofs
                    .get(&n)
                    .cloned()
                    .ok_or((UNKNOWN_BLOCK, format!("no block #{n} yet")))
            }
            other => Err((-32601, format!("{other} not served by this fake"))),
        }
    }
}

/// Serves `fake` over HTTP JSON-RPC on a free loopback port; returns its URL.
async fn serve(fake: Fake) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let fake = Arc::new(fake);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let fake = fake.clone();
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                // Requests on a kept-alive connection, one after another.
                loop {
                    let mut len = 0usize;
                    let mut line = String::new();
                    loop {
                        line.clear();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if line == "\r\n" {
                            break;
                        }
                        if let Some((k, v)) = line.split_once(':') {
                            if k.eq_ignore_ascii_case("content-length") {
                                len = v.trim().parse().unwrap_or(0);
                            }
                        }
                    }
                    let mut body = vec![0; len];
                    if stream.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let req: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                    let reply = match fake.answer(req["method"].as_str().unwrap_or(""), &req["params"]) {
                        Ok(result) => json!({"jsonrpc": "2.0", "id": req["id"], "result": result}),
                        Err((code, message)) => {
                            json!({"jsonrpc": "2.0", "id": req["id"], "error": {"code": code, "message": message}})
                        }
                    };
                    let reply = reply.to_string();
                    let out = format!(
                        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{reply}",
                        reply.len()
                    );
                    if stream.get_mut().write_all(out.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    url
}

/// Runs `watt light --from 1 --blocks <blocks>` against fakes serving `chains`; the exit status.
async fn run_against(chains: Vec<BTreeMap<u64, Value>>, blocks: u64) -> u8 {
    let dir = tempfile::tempdir().unwrap();
    let qset = dir.path().join("q.json");
    let ids: Vec<String> = keys().iter().map(|k| k.account().to_ss58()).collect();
    std::fs::write(&qset, json!({"t": 3, "v": ids}).to_string()).unwrap();
    let mut rpc = vec![];
    for proofs in chains {
        rpc.push(serve(Fake { proofs }).await);
    }
    let args = LightArgs {
        rpc,
        chain_spec: None,
        quorum_set: Some(qset),
        from: Some(1),
        blocks: Some(blocks),
        account: None,
        output: Output::Text,
    };
    tokio::time::timeout(Duration::from_secs(60), follow(args))
        .await
        .expect("the light client finished")
        .unwrap()
}

fn honest(headers: &[Header]) -> BTreeMap<u64, Value> {
    let k = keys();
    headers.iter().map(|h| (h.number, proof(h, &k[..3], &k))).collect()
}

#[tokio::test]
async fn honest_nodes_are_followed() {
    let c = chain(3);
    assert_eq!(run_against(vec![honest(&c), honest(&c)], 3).await, DONE);
}

#[tokio::test]
async fn an_invalid_proof_drops_its_node_only() {
    let c = chain(3);
    let k = keys();
    let mut forged = honest(&c);
    // Only two signers for #2.
    forged.insert(2, proof(&c[1], &k[..2], &k));
    assert_eq!(run_against(vec![honest(&c), forged.clone()], 3).await, DONE);
    // Alone, the forger leaves nothing to follow.
    assert_eq!(run_against(vec![forged], 3).await, NO_NODE_LEFT);
}

#[tokio::test]
async fn two_certified_values_at_one_height_are_a_proven_fork() {
    let c = chain(3);
    let k = keys();
    let mut other = honest(&c);
    let fork = header(2, c[0].hash(), [2; 32], [0x99; 32]);
    // Bob and Charlie sign both sides.
    other.insert(2, proof(&fork, &k[1..], &k));
    assert_eq!(run_against(vec![honest(&c), other], 3).await, FORK);
}

#[tokio::test]
async fn misreported_execution_results_are_settled_by_the_next_certificate() {
    let c = chain(3);
    let k = keys();
    // The liar serves #2 with another state root (its value is certified all the same) and
    // then the real #3, whose certified parent is the real #2.
    let mut lying = honest(&c);
    let lie = Header {
        state_root: [0x66; 32],
        ..c[1].clone()
    };
    lying.insert(2, proof(&lie, &k[..3], &k));
    assert_eq!(
        run_against(vec![honest(&c), lying.clone()], 3).await,
        DONE,
        "the honest node's #2 is the one #3 names"
    );
    // Served alone, the lie is caught one block later: the chain breaks.
    assert_eq!(run_against(vec![lying], 3).await, BROKEN_CHAIN);
}

#[tokio::test]
async fn block_one_must_name_the_genesis_all_nodes_agree_on() {
    let k = keys();
    let stray = header(1, [0x42; 32], [1; 32], [0x21; 32]);
    let chain: BTreeMap<u64, Value> = [(1, proof(&stray, &k[..3], &k))].into_iter().collect();
    assert_eq!(run_against(vec![chain], 1).await, BROKEN_CHAIN);
}
