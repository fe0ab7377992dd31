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
    chain_on(GENESIS, n)
}

/// Headers 1..=n on top of `genesis`.
fn chain_on(genesis: Hash, n: u64) -> Vec<Header> {
    let mut out: Vec<Header> = vec![];
    for i in 1..=n {
        let parent = out.last().map_or(genesis, |h| h.hash());
        out.push(header(i, parent, [i as u8; 32], [0x20 + i as u8; 32]));
    }
    out
}

/// `watt_finalityProof` for `h`, certified by `signers` (quorum set: all four, 3 needed).
fn proof(h: &Header, signers: &[Keypair], all: &[Keypair]) -> Value {
    proof_on(GENESIS, h, signers, all)
}

/// [`proof`] on the chain with genesis `genesis` (the envelopes are signed for it).
fn proof_on(genesis: Hash, h: &Header, signers: &[Keypair], all: &[Keypair]) -> Value {
    let q = trusted(all);
    let value = ConsensusValue {
        parent_hash: h.parent_hash,
        tx_set_hash: h.tx_root,
        close_time: h.close_time,
        proposer: h.author,
        proposer_proof: [7; watt_primitives::PROPOSER_PROOF_LEN],
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
            env.signature = sign_envelope(k, &env, &genesis);
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
            "proposerProof": format!("0x{}", hex::encode(value.proposer_proof)),
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

/// What a fake node serves: its genesis hash and proofs by number (others: "no block yet").
struct Fake {
    genesis: Hash,
    proofs: BTreeMap<u64, Value>,
    /// Heights it has without a certificate.
    no_certificate: BTreeSet<u64>,
    /// How many more times a request for a height's proof is met by a closed connection.
    drops: std::sync::Mutex<BTreeMap<u64, usize>>,
}

impl Fake {
    fn new(genesis: Hash, proofs: BTreeMap<u64, Value>) -> Fake {
        Fake {
            genesis,
            proofs,
            no_certificate: BTreeSet::new(),
            drops: Default::default(),
        }
    }

    /// The answer, or `None` to close the connection without one.
    fn answer(&self, method: &str, params: &Value) -> Option<Result<Value, (i32, String)>> {
        Some(match method {
            "chain_getBlockHash" => Ok(json!(to_hex(&self.genesis))),
            "watt_finalityProof" => {
                let Some(n) = params[0].as_u64() else {
                    return Some(Err((-32602, "bad params".to_string())));
                };
                if let Some(left) = self.drops.lock().unwrap().get_mut(&n).filter(|l| **l > 0) {
                    *left -= 1;
                    return None;
                }
                if self.no_certificate.contains(&n) {
                    return Some(Err((NO_CERTIFICATE, format!("block #{n} has no finality certificate"))));
                }
                self.proofs
                    .get(&n)
                    .cloned()
                    .ok_or((UNKNOWN_BLOCK, format!("no block #{n} yet")))
            }
            other => Err((-32601, format!("{other} not served by this fake"))),
        })
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
                    let Some(answer) = fake.answer(req["method"].as_str().unwrap_or(""), &req["params"]) else {
                        // Dropped: the client sees the connection close.
                        return;
                    };
                    let reply = match answer {
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

/// A node that accepts connections and never answers.
async fn serve_silent() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    url
}

/// A URL where nothing listens (a port just released).
async fn unreachable_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

/// What a run printed.
#[derive(Default)]
struct Captured {
    out: Vec<String>,
    err: Vec<String>,
}

impl Sink for Captured {
    fn out(&mut self, line: String) {
        self.out.push(line);
    }

    fn err(&mut self, line: String) {
        self.err.push(line);
    }
}

impl Captured {
    /// The reports about the node at `url`.
    fn about(&self, url: &str) -> Vec<&String> {
        let prefix = format!("node {url}: ");
        self.err.iter().filter(|l| l.starts_with(&prefix)).collect()
    }

    /// The JSON block lines (not balances, exclusions or forks).
    fn blocks_json(&self) -> Vec<Value> {
        self.out
            .iter()
            .map(|l| serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
            .filter(|v| v.get("rootsCertified").is_some())
            .collect()
    }
}

/// The quorum set file trusting the four validators (3 of 4), in `dir`.
fn qset_file(dir: &Path) -> PathBuf {
    let path = dir.join("q.json");
    let ids: Vec<String> = keys().iter().map(|k| k.account().to_ss58()).collect();
    std::fs::write(&path, json!({"t": 3, "v": ids}).to_string()).unwrap();
    path
}

/// `watt light --quorum-set Q --genesis GENESIS --from 1 --blocks <blocks> --rpc <rpc>...`.
fn light_args(dir: &Path, rpc: Vec<String>, blocks: u64) -> LightArgs {
    LightArgs {
        rpc,
        chain_spec: None,
        quorum_set: Some(qset_file(dir)),
        genesis: Some(GENESIS),
        from: Some(1),
        blocks: Some(blocks),
        account: None,
        rpc_timeout: 10,
        output: Output::Text,
    }
}

/// Runs the light client (at most 60 s); its exit status and what it printed.
async fn light(args: LightArgs) -> (u8, Captured) {
    let mut cap = Captured::default();
    let code = tokio::time::timeout(Duration::from_secs(60), follow(args, &mut cap))
        .await
        .expect("the light client finished within 60 s")
        .unwrap();
    (code, cap)
}

/// Runs `watt light --from 1 --blocks <blocks>` against fakes serving `chains` on
/// [`GENESIS`]; the exit status.
async fn run_against(chains: Vec<BTreeMap<u64, Value>>, blocks: u64) -> u8 {
    let dir = tempfile::tempdir().unwrap();
    let mut rpc = vec![];
    for proofs in chains {
        rpc.push(serve(Fake::new(GENESIS, proofs)).await);
    }
    light(light_args(dir.path(), rpc, blocks)).await.0
}

fn honest(headers: &[Header]) -> BTreeMap<u64, Value> {
    honest_on(GENESIS, headers)
}

fn honest_on(genesis: Hash, headers: &[Header]) -> BTreeMap<u64, Value> {
    let k = keys();
    headers
        .iter()
        .map(|h| (h.number, proof_on(genesis, h, &k[..3], &k)))
        .collect()
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
async fn block_one_must_name_the_trusted_genesis() {
    let k = keys();
    let stray = header(1, [0x42; 32], [1; 32], [0x21; 32]);
    let chain: BTreeMap<u64, Value> = [(1, proof(&stray, &k[..3], &k))].into_iter().collect();
    assert_eq!(run_against(vec![chain], 1).await, BROKEN_CHAIN);
}

#[tokio::test]
async fn a_node_on_another_genesis_is_refused_by_name_and_the_run_continues() {
    let other: Hash = [0x22; 32];
    let dir = tempfile::tempdir().unwrap();
    // A node on another chain, consistent with itself (it reports its genesis and serves a
    // certified chain on it), listed first; an honest one after it.
    let stray = serve(Fake::new(other, honest_on(other, &chain_on(other, 3)))).await;
    let good = serve(Fake::new(GENESIS, honest(&chain(3)))).await;
    let (code, cap) = light(light_args(dir.path(), vec![stray.clone(), good.clone()], 3)).await;
    assert_eq!(code, DONE, "{:?}", cap.err);
    assert_eq!(cap.out.len(), 3, "three blocks printed: {:?}", cap.out);
    let about = cap.about(&stray);
    assert!(
        about.iter().any(|l| l.contains("another chain")
            && l.contains(&to_hex(&other))
            && l.contains(&to_hex(&GENESIS))
            && l.contains("following it no further")),
        "the stray node is refused by name, with both genesis hashes: {:?}",
        cap.err
    );
    assert!(
        !cap.about(&good).iter().any(|l| l.contains("no further")),
        "the honest node stays: {:?}",
        cap.err
    );
    // The refusal is a JSON line too.
    let mut args = light_args(dir.path(), vec![stray.clone(), good], 3);
    args.output = Output::Json;
    let (code, cap) = light(args).await;
    assert_eq!(code, DONE);
    let excluded: Vec<Value> = cap
        .out
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .filter_map(|v| v.get("excluded").cloned())
        .collect();
    assert_eq!(excluded.len(), 1, "{:?}", cap.out);
    assert_eq!(excluded[0]["node"], json!(stray));
}

#[tokio::test]
async fn unreachable_and_silent_nodes_do_not_abort_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let dead = unreachable_url().await;
    let silent = serve_silent().await;
    let good = serve(Fake::new(GENESIS, honest(&chain(3)))).await;
    let mut args = light_args(dir.path(), vec![dead.clone(), silent.clone(), good], 3);
    args.rpc_timeout = 1;
    let started = Instant::now();
    let (code, cap) = light(args).await;
    assert_eq!(code, DONE, "{:?}", cap.err);
    assert_eq!(cap.out.len(), 3, "{:?}", cap.out);
    // Not waited for: a round costs at most the timeout (the silent node would otherwise hold
    // each height for the client's 60 s request timeout).
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?}",
        started.elapsed()
    );
    assert!(
        !cap.about(&dead).is_empty(),
        "the unreachable node is reported: {:?}",
        cap.err
    );
    assert!(
        cap.about(&silent).iter().any(|l| l.contains("no answer within 1s")),
        "the silent node is reported as timing out: {:?}",
        cap.err
    );

    // The only node, unreachable for a moment, is asked again rather than given up on.
    let c = chain(3);
    let flaky = Fake::new(GENESIS, honest(&c));
    flaky.drops.lock().unwrap().insert(2, 2);
    let flaky = serve(flaky).await;
    let (code, cap) = light(light_args(dir.path(), vec![flaky], 3)).await;
    assert_eq!(code, DONE, "{:?}", cap.err);
    assert_eq!(cap.out.len(), 3, "{:?}", cap.out);

    // Nothing reachable at all: exit 1, not a wait forever.
    let (code, _) = light(light_args(dir.path(), vec![unreachable_url().await], 3)).await;
    assert_eq!(code, NO_NODE_LEFT);
}

#[tokio::test]
async fn a_lone_liar_is_refused_and_the_block_it_misreported_is_asked_of_the_others() {
    let c = chain(3);
    let k = keys();
    let dir = tempfile::tempdir().unwrap();
    // The honest node drops the first request for #2, so the liar alone serves #2 (another
    // state root, the certified value); #3 names the real #2.
    let honest_node = Fake::new(GENESIS, honest(&c));
    honest_node.drops.lock().unwrap().insert(2, 1);
    let mut lying = honest(&c);
    let lie = Header {
        state_root: [0x66; 32],
        ..c[1].clone()
    };
    lying.insert(2, proof(&lie, &k[..3], &k));
    let good = serve(honest_node).await;
    let liar = serve(Fake::new(GENESIS, lying)).await;
    let mut args = light_args(dir.path(), vec![good, liar.clone()], 3);
    args.output = Output::Json;
    let (code, cap) = light(args).await;
    assert_eq!(
        code, DONE,
        "not a broken chain: the honest node serves the real #2: {:?}",
        cap.err
    );
    let blocks = cap.blocks_json();
    let hashes: Vec<&Value> = blocks.iter().map(|b| &b["hash"]).collect();
    let want: Vec<Value> = c.iter().map(|h| json!(to_hex(&h.hash()))).collect();
    assert_eq!(hashes, want.iter().collect::<Vec<_>>(), "the real #1..#3");
    assert!(
        cap.about(&liar).iter().any(|l| l.contains("misreported")),
        "the liar is reported: {:?}",
        cap.err
    );
}

#[tokio::test]
async fn the_last_block_printed_is_marked_while_its_execution_roots_are_uncertified() {
    let c = chain(4);
    let dir = tempfile::tempdir().unwrap();
    let url = serve(Fake::new(GENESIS, honest(&c))).await;

    let mut args = light_args(dir.path(), vec![url.clone()], 3);
    args.output = Output::Json;
    let (code, cap) = light(args).await;
    assert_eq!(code, DONE);
    let blocks = cap.blocks_json();
    assert_eq!(blocks.len(), 3, "{:?}", cap.out);
    for (b, h) in blocks.iter().zip(&c) {
        assert_eq!(b["number"], json!(h.number));
        assert_eq!(b["stateRoot"], json!(to_hex(&h.state_root)));
        assert_eq!(b["receiptsRoot"], json!(to_hex(&h.receipts_root)));
    }
    let certified: Vec<&Value> = blocks.iter().map(|b| &b["rootsCertified"]).collect();
    assert_eq!(certified, [&json!(true), &json!(true), &json!(false)]);
    let by: Vec<&Value> = blocks.iter().map(|b| &b["rootsCertifiedBy"]).collect();
    assert_eq!(by, [&json!(2), &json!(3), &Value::Null]);

    let (code, cap) = light(light_args(dir.path(), vec![url], 3)).await;
    assert_eq!(code, DONE);
    assert_eq!(cap.out.len(), 3, "{:?}", cap.out);
    assert!(
        cap.out[..2].iter().all(|l| !l.contains("NOT yet certified")),
        "{:?}",
        cap.out
    );
    assert!(
        cap.out[2].starts_with("#3 ") && cap.out[2].contains("NOT yet certified") && cap.out[2].contains("#4"),
        "{}",
        cap.out[2]
    );

    // The chain ends (no node can prove #3): the last block verified is still printed, marked.
    let mut short = Fake::new(GENESIS, honest(&c[..2]));
    short.no_certificate.insert(3);
    let url = serve(short).await;
    let mut args = light_args(dir.path(), vec![url], 5);
    args.output = Output::Json;
    let (code, cap) = light(args).await;
    assert_eq!(code, NO_NODE_LEFT);
    let blocks = cap.blocks_json();
    let seen: Vec<(&Value, &Value)> = blocks.iter().map(|b| (&b["number"], &b["rootsCertified"])).collect();
    assert_eq!(seen, [(&json!(1), &json!(true)), (&json!(2), &json!(false))]);
}

/// A spec of the dev chain finalized by the four test validators (3 of 4).
fn validator_spec() -> ChainSpec {
    use watt_chain::spec::{quorum_set_json, ConsensusSpec, ValidatorSpec};
    let accounts: Vec<AccountId> = watt_client::dev_accounts().iter().map(|(_, k)| k.account()).collect();
    let mut spec = ChainSpec::dev(&accounts, watt_runtime_blob::WASM_BINARY);
    let k = keys();
    spec.consensus = Some(ConsensusSpec {
        validators: k
            .iter()
            .enumerate()
            .map(|(i, k)| ValidatorSpec {
                name: format!("validator{i}"),
                id: k.account(),
            })
            .collect(),
        quorum_set: quorum_set_json(&trusted(&k)),
        boot_nodes: vec![],
    });
    spec
}

#[tokio::test]
async fn the_genesis_comes_from_the_chain_spec_not_from_the_nodes() {
    let dir = tempfile::tempdir().unwrap();
    let spec = validator_spec();
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, serde_json::to_string(&spec).unwrap()).unwrap();
    // What a node opening this spec writes as genesis.
    let db = tempfile::tempdir().unwrap();
    let expected = watt_chain::Chain::open(db.path(), &spec, watt_chain::ChainConfig::default())
        .unwrap()
        .genesis_hash();
    assert_ne!(expected, GENESIS);

    // Nodes on GENESIS, consistent with themselves, are on another chain than the spec's.
    let elsewhere = serve(Fake::new(GENESIS, honest(&chain(3)))).await;
    let on_spec = serve(Fake::new(expected, honest_on(expected, &chain_on(expected, 3)))).await;
    let spec_args = |rpc: Vec<String>| LightArgs {
        rpc,
        chain_spec: Some(spec_path.clone()),
        quorum_set: None,
        genesis: None,
        from: Some(1),
        blocks: Some(3),
        account: None,
        rpc_timeout: 10,
        output: Output::Text,
    };
    let (code, cap) = light(spec_args(vec![elsewhere.clone()])).await;
    assert_eq!(
        code, NO_NODE_LEFT,
        "a node reporting another genesis is never believed: {:?}",
        cap.err
    );
    assert!(
        cap.about(&elsewhere)
            .iter()
            .any(|l| l.contains("another chain") && l.contains(&to_hex(&expected))),
        "{:?}",
        cap.err
    );
    assert!(cap.out.is_empty(), "{:?}", cap.out);

    let (code, cap) = light(spec_args(vec![elsewhere.clone(), on_spec])).await;
    assert_eq!(code, DONE, "{:?}", cap.err);
    assert_eq!(cap.out.len(), 3, "{:?}", cap.out);
    assert!(
        cap.err
            .iter()
            .any(|l| l.contains(&to_hex(&expected)) && l.contains("spec.json")),
        "the trusted genesis and where it came from are said: {:?}",
        cap.err
    );

    // The same nodes with --genesis: the hash given, not the nodes', decides.
    let dir2 = tempfile::tempdir().unwrap();
    let mut args = light_args(dir2.path(), vec![elsewhere], 3);
    args.genesis = Some(expected);
    let (code, _) = light(args).await;
    assert_eq!(code, NO_NODE_LEFT);
}

#[tokio::test]
async fn without_a_trusted_genesis_the_run_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = serve(Fake::new(GENESIS, honest(&chain(1)))).await;
    let mut args = light_args(dir.path(), vec![url], 1);
    args.genesis = None;
    let mut cap = Captured::default();
    let err = follow(args, &mut cap).await.expect_err("no genesis source");
    assert!(err.to_string().contains("--genesis"), "{err}");
}

#[test]
fn flags() {
    use clap::Parser;
    #[derive(clap::Parser)]
    struct Cmd {
        #[command(flatten)]
        light: LightArgs,
    }
    let g = format!("0x{}", "ab".repeat(32));
    let c = Cmd::try_parse_from(["light", "--rpc", "http://a", "--quorum-set", "q.json", "--genesis", &g]).unwrap();
    assert_eq!(c.light.genesis, Some([0xab; 32]));
    assert_eq!(c.light.rpc_timeout, 10);
    // --chain is --chain-spec, as `watt node --chain`; it may be given with --quorum-set.
    let c = Cmd::try_parse_from([
        "light",
        "--rpc",
        "http://a",
        "--chain",
        "s.json",
        "--quorum-set",
        "q.json",
    ])
    .unwrap();
    assert_eq!(c.light.chain_spec, Some(PathBuf::from("s.json")));
    assert!(Cmd::try_parse_from(["light", "--rpc", "http://a", "--chain-spec", "s.json", "--genesis", &g]).is_err());
    assert!(Cmd::try_parse_from(["light", "--rpc", "http://a", "--genesis", "0x1234"]).is_err());
    assert!(Cmd::try_parse_from(["light", "--rpc", "http://a", "--genesis", &"ab".repeat(32)]).is_err());
}
