//! `watt light`: a light client that follows the finalized chain through several nodes while
//! trusting none of them. It trusts a quorum set (whose signatures convince it) and checks,
//! block by block, the finality certificate every node serves (`watt_finalityProof`):
//!
//! - a node serving a proof that does not verify is reported and followed no further;
//! - verified certificates of two different values at one height are a proven fork (exit 3);
//! - each block's certified parent must be the previous block's hash; nodes serving one value
//!   with different headers (execution results) are told apart by the next certificate, and
//!   the ones it contradicts are followed no further;
//! - with `--account`, once block h+1 is verified (its value names the hash of header h, which
//!   certifies header h's state root), the account's free balance at h is read with a state
//!   proof and checked against that root.
//!
//! Exit status: 0 after `--blocks` blocks; 1 no node left to follow (or none can prove a
//! block); 2 bad arguments, files or nodes on different chains; 3 proven fork; 4 the verified
//! chain broke (a certified block names another parent than the header the nodes served for
//! the block before it, i.e. they served execution results the network did not agree on).

use crate::client_commands::format_watt;
use crate::Output;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};
use watt_client::light::{
    detect_fork, free_balance_key, quorum_set_from_json, verified_free_balance, verify_finality_proof, VerifiedBlock,
};
use watt_client::rpc::{to_hex, RpcError};
use watt_client::WattRpc;
use watt_primitives::{AccountId, Hash};
use watt_scp::quorum::QuorumSetJson;
use watt_scp::QuorumSet;

const DONE: u8 = 0;
const NO_NODE_LEFT: u8 = 1;
const BAD_INPUT: u8 = 2;
const FORK: u8 = 3;
const BROKEN_CHAIN: u8 = 4;

/// The JSON-RPC error code for a block the node does not have (yet) (node/rpc `UNKNOWN_BLOCK`).
const UNKNOWN_BLOCK: i32 = 4003;
/// The JSON-RPC error code of `watt_finalityProof` for a block the node has without a
/// certificate (node/rpc `NO_CERTIFICATE`).
const NO_CERTIFICATE: i32 = 4005;

/// How often a node that has no proof for the next height yet is asked again.
const POLL: Duration = Duration::from_millis(500);
/// How long the other nodes are waited for once one has served a valid proof for a height;
/// a node still silent then is skipped for that height (and asked again for the next).
const LAGGARD_WAIT: Duration = Duration::from_secs(10);

/// `watt light`: follow the finalized chain through several nodes, verifying every block's
/// finality certificate against a trusted quorum set.
#[derive(clap::Args, Debug)]
pub struct LightArgs {
    /// Node RPC URL; repeat for several nodes (each is checked, none is trusted).
    #[arg(long = "rpc", required = true)]
    pub rpc: Vec<String>,
    /// Chain spec whose `consensus.quorumSet` is the trusted quorum set.
    #[arg(long, conflicts_with = "quorum_set")]
    pub chain_spec: Option<PathBuf>,
    /// Trusted quorum set, stellar-core JSON with SS58 ids: `{"t": 3, "v": ["5G...", ...]}`.
    #[arg(long)]
    pub quorum_set: Option<PathBuf>,
    /// First block to verify (default: the lowest finalized height among the nodes).
    #[arg(long)]
    pub from: Option<u64>,
    /// Stop after this many verified blocks (default: follow the chain until interrupted).
    #[arg(long)]
    pub blocks: Option<u64>,
    /// Also print this account's free balance (SS58), proven against each certified state root
    /// (one block behind: the state of block h is certified by block h+1).
    #[arg(long)]
    pub account: Option<String>,
    /// Output format: text, or one JSON object per line.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

/// Runs the light client until `--blocks` blocks are verified, a fork is proven, or no node
/// is left; returns the exit status (see the module docs).
pub fn run(args: LightArgs) -> ExitCode {
    let rt = match crate::client_commands::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(BAD_INPUT);
        }
    };
    match rt.block_on(follow(args)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(BAD_INPUT)
        }
    }
}

/// The trusted quorum set from `--quorum-set` or `--chain-spec`.
fn trusted_quorum_set(args: &LightArgs) -> Result<QuorumSet<AccountId>> {
    let (path, from_spec) = match (&args.quorum_set, &args.chain_spec) {
        (Some(p), _) => (p, false),
        (None, Some(p)) => (p, true),
        (None, None) => bail!(
            "say whom you trust: --quorum-set FILE ({{\"t\": 3, \"v\": [\"<ss58>\", ...]}}) or --chain-spec FILE (its consensus.quorumSet)"
        ),
    };
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let doc: Value = serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))?;
    let json = if from_spec {
        doc.get("consensus")
            .and_then(|c| c.get("quorumSet"))
            .cloned()
            .ok_or_else(|| {
                anyhow!(
                    "{} has no consensus.quorumSet (a dev chain spec has no validators to trust); pass --quorum-set",
                    path.display()
                )
            })?
    } else {
        doc
    };
    let json: QuorumSetJson = serde_json::from_value(json)
        .with_context(|| format!("{}: not a quorum set {{\"t\": n, \"v\": [...]}}", path.display()))?;
    quorum_set_from_json(&json).with_context(|| format!("{}", path.display()))
}

struct Node {
    url: String,
    rpc: WattRpc,
    /// Still followed (no invalid answer so far).
    active: bool,
    /// The last note printed about it (not yet having a proof, unreachable), so that polling
    /// does not repeat it every 500 ms.
    last_note: Option<String>,
}

impl Node {
    fn note(&mut self, note: String) {
        if self.last_note.as_ref() != Some(&note) {
            eprintln!("node {}: {note}", self.url);
            self.last_note = Some(note);
        }
    }

    fn flag(&mut self, what: String) {
        eprintln!("node {}: {what}; following it no further", self.url);
        self.active = false;
    }
}

/// One node's verified answer for a height.
struct Answer {
    node: usize,
    block: VerifiedBlock,
}

fn say_json(v: &Value) {
    say!("{}", serde_json::to_string(v).expect("JSON values serialize"));
}

async fn follow(args: LightArgs) -> Result<u8> {
    let trusted = trusted_quorum_set(&args)?;
    let trusted_ids = trusted.all_validators();
    let account = args
        .account
        .as_deref()
        .map(|a| AccountId::from_ss58(a).map_err(|e| anyhow!("--account {a}: {e}")))
        .transpose()?;
    let mut nodes = Vec::new();
    for url in &args.rpc {
        let rpc = WattRpc::new(url)?;
        nodes.push(Node {
            url: url.clone(),
            rpc,
            active: true,
            last_note: None,
        });
    }

    // Every node must be on one chain; the genesis hash is the network id signatures cover.
    let mut genesis: Option<Hash> = None;
    for n in nodes.iter_mut() {
        match n.rpc.genesis_hash().await {
            Ok(g) => match genesis {
                None => genesis = Some(g),
                Some(first) if first != g => bail!(
                    "the nodes are on different chains: {} has genesis {}, {} has {}",
                    args.rpc[0],
                    to_hex(&first),
                    n.url,
                    to_hex(&g)
                ),
                Some(_) => {}
            },
            Err(e) => n.flag(format!("cannot read its genesis hash: {e}")),
        }
    }
    let Some(genesis) = genesis else {
        eprintln!("error: no node answered");
        return Ok(NO_NODE_LEFT);
    };

    let start = match args.from {
        Some(h) => h,
        None => {
            let mut lowest: Option<u64> = None;
            for n in nodes.iter_mut().filter(|n| n.active) {
                match n.rpc.finalized_number().await {
                    Ok(f) => lowest = Some(lowest.map_or(f, |l| l.min(f))),
                    Err(e) => n.note(format!("cannot read its finalized head: {e}")),
                }
            }
            lowest.ok_or_else(|| anyhow!("no node told its finalized head; pass --from"))?
        }
    };
    // Genesis has no certificate; its hash is what every node agreed on above, and it is the
    // parent block 1 must name.
    let start = start.max(1);
    // The previous height's verified blocks grouped by hash (more than one group when nodes
    // disagree on its execution results; this height's certified parent settles it), or
    // genesis before block 1.
    let mut prev: Vec<Group> = vec![];
    let mut prev_hash: Option<Hash> = (start == 1).then_some(genesis);

    let mut printed = 0u64;
    let mut h = start;
    loop {
        let answers = match height(&mut nodes, h, &trusted, &genesis).await {
            Ok(a) => a,
            Err(code) => return Ok(code),
        };
        // Certificates of two values at one height: nothing more can be trusted.
        if let Some((a, b)) = answers
            .iter()
            .find_map(|a| answers.iter().find(|b| detect_fork(&a.block, &b.block)).map(|b| (a, b)))
        {
            report_fork(&nodes, a, b, args.output);
            return Ok(FORK);
        }
        let mut groups = group(answers);
        let parent = groups[0].block.header.parent_hash;

        // Continuity: this height's certified parent is the previous block's hash.
        let mut settled: Option<Group> = None;
        if let Some(expected) = prev_hash {
            if parent != expected {
                return Ok(broken(h, &parent, &[expected]));
            }
        } else if !prev.is_empty() {
            let Some(k) = prev.iter().position(|g| g.block.hash == parent) else {
                let served: Vec<Hash> = prev.iter().map(|g| g.block.hash).collect();
                return Ok(broken(h, &parent, &served));
            };
            let right = prev.swap_remove(k);
            for wrong in &prev {
                for &i in &wrong.nodes {
                    nodes[i].flag(format!(
                        "served header #{} as {}, but #{h} certifies {} as its parent (misreported execution results)",
                        h - 1,
                        to_hex(&wrong.block.hash),
                        to_hex(&parent)
                    ));
                }
            }
            if !prev.is_empty() {
                // Its line was held back until now.
                print_block(&right, &nodes, &trusted_ids, args.output);
                printed += 1;
                if args.blocks.is_some_and(|b| printed >= b) {
                    return Ok(DONE);
                }
            }
            settled = Some(right);
            // A node just flagged for #h-1 no longer counts for #h.
            for g in groups.iter_mut() {
                g.nodes.retain(|&i| nodes[i].active);
            }
        }
        if groups.len() == 1 {
            print_block(&groups[0], &nodes, &trusted_ids, args.output);
            printed += 1;
        } else {
            let sides: Vec<String> = groups
                .iter()
                .map(|g| {
                    let urls: Vec<&str> = g.nodes.iter().map(|&i| nodes[i].url.as_str()).collect();
                    format!("{} from {}", to_hex(&g.block.hash), urls.join(", "))
                })
                .collect();
            eprintln!(
                "#{h}: nodes serve one certified value but different headers ({}); the certificate of #{} will tell which is right",
                sides.join("; "),
                h + 1
            );
        }
        // The state of the previous block is certified now.
        if let (Some(who), Some(parent)) = (&account, &settled) {
            balance(
                &mut nodes,
                &groups[0].nodes,
                who,
                &parent.block,
                &groups[0].block,
                args.output,
            )
            .await;
        }
        if args.blocks.is_some_and(|b| printed >= b) {
            return Ok(DONE);
        }
        prev = groups;
        prev_hash = None;
        h += 1;
    }
}

/// The nodes that served one verified block for a height.
struct Group {
    block: VerifiedBlock,
    nodes: Vec<usize>,
}

/// Groups answers by hash, the largest group first.
fn group(answers: Vec<Answer>) -> Vec<Group> {
    let mut groups: Vec<Group> = Vec::new();
    for a in answers {
        match groups.iter_mut().find(|g| g.block.hash == a.block.hash) {
            Some(g) => g.nodes.push(a.node),
            None => groups.push(Group {
                block: a.block,
                nodes: vec![a.node],
            }),
        }
    }
    groups.sort_by(|a, b| b.nodes.len().cmp(&a.nodes.len()));
    groups
}

fn print_block(g: &Group, nodes: &[Node], trusted_ids: &BTreeSet<AccountId>, output: Output) {
    let b = &g.block;
    let followed = nodes.iter().filter(|n| n.active).count();
    let certified_by = b.signers.iter().filter(|s| trusted_ids.contains(*s)).count();
    match output {
        Output::Text => say!(
            "#{} {} certified by {certified_by} of the trusted quorum; {}/{followed} nodes agree",
            b.number,
            to_hex(&b.hash),
            g.nodes.len()
        ),
        Output::Json => say_json(&json!({
            "number": b.number,
            "hash": to_hex(&b.hash),
            "parentHash": to_hex(&b.header.parent_hash),
            // Certified with the block: the agreed value names its proposer.
            "author": b.header.author.to_ss58(),
            "certifiedBy": certified_by,
            "signers": b.signers.iter().map(|s| s.to_ss58()).collect::<Vec<_>>(),
            "agree": g.nodes.len(),
            "nodes": followed,
        })),
    }
}

/// Reports that height `h` does not extend what the nodes served for `h - 1`.
fn broken(h: u64, parent: &Hash, served: &[Hash]) -> u8 {
    let served: Vec<String> = served.iter().map(|s| to_hex(s)).collect();
    eprintln!(
        "BROKEN CHAIN at #{h}: its certificate names parent {}, but #{} was served as {}: \
         the nodes served execution results (state, receipts or events root) the network did not agree on",
        to_hex(parent),
        h - 1,
        served.join(" / ")
    );
    BROKEN_CHAIN
}

/// Asks every followed node for the proof of height `h` until each has answered (or, once one
/// valid answer is in, [`LAGGARD_WAIT`] passed); returns the valid answers (at least one), or
/// the exit status when no node is left.
async fn height(nodes: &mut [Node], h: u64, trusted: &QuorumSet<AccountId>, genesis: &Hash) -> Result<Vec<Answer>, u8> {
    let mut answers: Vec<Answer> = Vec::new();
    let mut answered: BTreeSet<usize> = BTreeSet::new();
    let mut first_valid: Option<Instant> = None;
    loop {
        let mut asks = tokio::task::JoinSet::new();
        for (i, n) in nodes.iter().enumerate() {
            if n.active && !answered.contains(&i) {
                let rpc = n.rpc.clone();
                asks.spawn(async move { (i, rpc.call::<Value>("watt_finalityProof", vec![h.into()]).await) });
            }
        }
        while let Some(joined) = asks.join_next().await {
            let Ok((i, result)) = joined else {
                continue;
            };
            let node = &mut nodes[i];
            match result {
                Ok(Value::Null) => {}
                Ok(proof) => {
                    answered.insert(i);
                    match verify_finality_proof(&proof, trusted, genesis) {
                        Ok(block) => {
                            node.last_note = None;
                            first_valid.get_or_insert_with(Instant::now);
                            answers.push(Answer { node: i, block });
                        }
                        Err(e) => node.flag(format!("invalid proof for #{h}: {e}")),
                    }
                }
                // The node has the block but no certificate for it (genesis, a dev-engine
                // chain, or a block it took without one): it cannot help with this height.
                Err(RpcError::Server { code, message, .. }) if code == NO_CERTIFICATE => {
                    answered.insert(i);
                    node.note(format!("cannot prove #{h}: {message}"));
                }
                // Not there yet: the usual wait for the next block, asked again quietly.
                Err(RpcError::Server { code, .. }) if code == UNKNOWN_BLOCK => {}
                Err(RpcError::Server { message, .. }) => node.note(format!("no proof for #{h} yet: {message}")),
                Err(e) => node.note(format!("{e} (retrying)")),
            }
        }
        let silent: Vec<usize> = (0..nodes.len())
            .filter(|i| nodes[*i].active && !answered.contains(i))
            .collect();
        if nodes.iter().all(|n| !n.active) {
            eprintln!("no node left to follow");
            return Err(NO_NODE_LEFT);
        }
        if answers.is_empty() && silent.is_empty() {
            eprintln!("no node can prove #{h}");
            return Err(NO_NODE_LEFT);
        }
        if !answers.is_empty() && (silent.is_empty() || first_valid.is_some_and(|t| t.elapsed() >= LAGGARD_WAIT)) {
            for i in silent {
                nodes[i].note(format!(
                    "no proof for #{h} within {}s; skipped for this height",
                    LAGGARD_WAIT.as_secs()
                ));
            }
            return Ok(answers);
        }
        tokio::time::sleep(POLL).await;
    }
}

fn report_fork(nodes: &[Node], a: &Answer, b: &Answer, output: Output) {
    let side = |x: &Answer| {
        json!({
            "node": nodes[x.node].url,
            "hash": to_hex(&x.block.hash),
            "parentHash": to_hex(&x.block.header.parent_hash),
            "signers": x.block.signers.iter().map(|s| s.to_ss58()).collect::<Vec<_>>(),
        })
    };
    let h = a.block.number;
    match output {
        Output::Json => say_json(&json!({"fork": {"number": h, "sides": [side(a), side(b)]}})),
        Output::Text => {
            let signed = |x: &Answer| {
                x.block
                    .signers
                    .iter()
                    .map(|s| s.to_ss58())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            say!(
                "PROVEN FORK at #{h}: {} serves {} certified by [{}]; {} serves {} certified by [{}]",
                nodes[a.node].url,
                to_hex(&a.block.hash),
                signed(a),
                nodes[b.node].url,
                to_hex(&b.block.hash),
                signed(b)
            );
        }
    }
    eprintln!(
        "PROVEN FORK at #{h}: two quorums holding slices of the trusted set signed different blocks; validators signing both sides equivocated"
    );
}

/// Prints `who`'s free balance at `parent` (block h-1), proven against its state root, which
/// `child` (block h) certifies. Tries the nodes that agreed on `child` in turn; a node serving a
/// proof that does not verify is flagged.
async fn balance(
    nodes: &mut [Node],
    agreeing: &[usize],
    who: &AccountId,
    parent: &VerifiedBlock,
    child: &VerifiedBlock,
    output: Output,
) {
    let key = free_balance_key(who);
    for &i in agreeing {
        let node = &mut nodes[i];
        let proof = match node.rpc.read_proof(std::slice::from_ref(&key), Some(parent.hash)).await {
            Ok(p) => p,
            Err(e) => {
                node.note(format!("no state proof at #{}: {e}", parent.number));
                continue;
            }
        };
        match verified_free_balance(&proof, parent, child, who) {
            Ok(free) => {
                match output {
                    Output::Text => say!(
                        "  {} free balance at #{}: {} (proven against the state root certified by #{})",
                        who.to_ss58(),
                        parent.number,
                        format_watt(free),
                        child.number
                    ),
                    Output::Json => say_json(&json!({
                        "account": who.to_ss58(),
                        "number": parent.number,
                        "hash": to_hex(&parent.hash),
                        "free": free.to_string(),
                    })),
                }
                return;
            }
            Err(e) => node.flag(format!("invalid state proof at #{}: {e}", parent.number)),
        }
    }
    eprintln!(
        "{}: no node served a valid balance proof at #{}",
        who.to_ss58(),
        parent.number
    );
}

#[cfg(test)]
mod tests;
