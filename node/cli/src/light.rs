//! `watt light`: a light client that follows the finalized chain through several nodes while
//! trusting none of them. It trusts a chain spec (or a genesis hash given to it) and a quorum
//! set (whose signatures convince it), and checks, block by block, the finality certificate
//! every node serves (`watt_finalityProof`):
//!
//! - the genesis hash, which every signature covers, comes from what the user trusts: computed
//!   from `--chain-spec` (the spec's runtime builds its genesis state, as a node does) or given
//!   with `--genesis`; never from the nodes. A node reporting another genesis is refused and
//!   followed no further;
//! - a node serving a proof that does not verify is reported and followed no further; a node
//!   that is unreachable or does not answer within `--rpc-timeout` is reported and skipped for
//!   that height (asked again for the next); the run goes on with the others;
//! - verified certificates of two different values at one height are a proven fork (exit 3):
//!   a quorum of the trusted set signed both, so nothing is trusted any more;
//! - each block's certified parent must be the previous block's hash; nodes serving one value
//!   with different headers (execution results) are told apart by the next certificate, and
//!   the ones it contradicts are followed no further (when every node that served the block
//!   is contradicted, it is asked again of the others);
//! - with `--account`, once block h+1 is verified (its value names the hash of header h, which
//!   certifies header h's state root), the account's free balance at h is read with a state
//!   proof and checked against that root.
//!
//! Enough to go on: at least one followed node whose every certificate verifies against the
//! trusted quorum set and extends the verified chain. One such node is enough, since what it
//! serves is checked, not believed; every other node may be wrong, unreachable or slow.
//!
//! What a printed block means (ARCHITECTURE principle 3): block N's certificate certifies its
//! agreed value (parent, transactions, close time, author); its execution results (state,
//! receipts and events roots) are certified by block N+1's certificate, which names header N's
//! hash. So a block is printed once the next block is verified, with every field certified;
//! only the last block of a run (`--blocks`, or the last verified before no node is left) is
//! printed before that, marked: `rootsCertified: false` in JSON, "execution roots NOT yet
//! certified" in text.
//!
//! Exit status: 0 after `--blocks` blocks; 1 no node left to follow (or none can prove a
//! block); 2 bad arguments or files; 3 proven fork; 4 the verified chain broke (a certified
//! block names another parent than the header the nodes served for the block before it, and
//! no node serves the header it names).

use crate::client_commands::format_watt;
use crate::Output;
use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};
use watt_chain::ChainSpec;
use watt_client::light::{
    detect_fork, free_balance_key, quorum_set_from_json, verified_free_balance, verify_finality_proof, VerifiedBlock,
};
use watt_client::rpc::{hash_from_hex, to_hex, RpcError};
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
/// a node still without the block then is skipped for that height (and asked again for the
/// next). Unreachable and timed-out nodes are not waited for.
const LAGGARD_WAIT: Duration = Duration::from_secs(10);

/// `watt light`: follow the finalized chain through several nodes, verifying every block's
/// finality certificate against a trusted quorum set and a trusted genesis.
#[derive(clap::Args, Debug)]
pub struct LightArgs {
    /// Node RPC URL; repeat for several nodes (each is checked, none is trusted: one node whose
    /// certificates verify is enough, the others may be wrong, down or slow).
    #[arg(long = "rpc", value_name = "URL", required = true)]
    pub rpc: Vec<String>,
    /// Chain spec you trust (as `watt testnet` or `watt chain-spec --validators N` writes it):
    /// the genesis hash is computed from it (its runtime builds the genesis state, as a node
    /// does; this takes a few seconds), never taken from the nodes; its `consensus.quorumSet` is
    /// the trusted quorum set unless --quorum-set is given.
    #[arg(long, visible_alias = "chain", value_name = "SPEC.json", conflicts_with = "genesis")]
    pub chain_spec: Option<PathBuf>,
    /// Trusted quorum set, stellar-core JSON with SS58 ids: `{"t": 3, "v": ["5G...", ...]}`
    /// (instead of the chain spec's).
    #[arg(long, value_name = "FILE.json")]
    pub quorum_set: Option<PathBuf>,
    /// Genesis hash of the chain to follow (0x and 64 hex digits), instead of --chain-spec: take
    /// it from a source you trust, e.g. the `genesis 0x...` line your own node logs at start.
    /// Nodes reporting another genesis are refused.
    #[arg(long, value_name = "0xHASH", value_parser = parse_genesis)]
    pub genesis: Option<Hash>,
    /// First block to verify (default: the lowest finalized height among the nodes).
    #[arg(long)]
    pub from: Option<u64>,
    /// Stop after this many verified blocks (default: follow the chain until interrupted). A
    /// block is printed once the next block's certificate certifies its execution roots (state,
    /// receipts, events); the last one is printed at once, marked as not having them certified.
    #[arg(long)]
    pub blocks: Option<u64>,
    /// Also print this account's free balance (SS58), proven against each certified state root
    /// (one block behind: the state of block h is certified by block h+1).
    #[arg(long)]
    pub account: Option<String>,
    /// Seconds one call to a node may take: a node slower than that, or unreachable, is reported
    /// and skipped for that height (asked again for the next), and the run goes on.
    #[arg(long, value_name = "SECONDS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub rpc_timeout: u64,
    /// Output format: text, or one JSON object per line.
    #[arg(long, value_enum, default_value_t)]
    pub output: Output,
}

fn parse_genesis(s: &str) -> Result<Hash, String> {
    if !s.starts_with("0x") {
        return Err("write the genesis hash as 0x and 64 hex digits".into());
    }
    hash_from_hex(s).map_err(|e| format!("{e}: write the genesis hash as 0x and 64 hex digits"))
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
    match rt.block_on(follow(args, &mut Console)) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(BAD_INPUT)
        }
    }
}

/// Where a run's lines go: `out` for results (blocks, balances, JSON lines), `err` for reports
/// about nodes and the run.
trait Sink {
    fn out(&mut self, line: String);
    fn err(&mut self, line: String);
}

/// Standard output and standard error.
struct Console;

impl Sink for Console {
    fn out(&mut self, line: String) {
        say!("{line}");
    }

    fn err(&mut self, line: String) {
        eprintln!("{line}");
    }
}

/// What the user trusts: whose signatures convince, and which chain.
struct Trust {
    quorum: QuorumSet<AccountId>,
    ids: BTreeSet<AccountId>,
    genesis: Hash,
    /// Where the genesis hash came from, for messages.
    genesis_from: String,
}

fn read_quorum_set_file(path: &Path) -> Result<QuorumSet<AccountId>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let json: QuorumSetJson = serde_json::from_str(&text)
        .with_context(|| format!("{}: not a quorum set {{\"t\": n, \"v\": [...]}}", path.display()))?;
    quorum_set_from_json(&json).with_context(|| format!("{}", path.display()))
}

/// The genesis hash of `spec`, computed as a node computes it: the spec's runtime builds the
/// genesis state (here in a temporary database, removed afterwards) and the genesis header
/// commits its root.
fn spec_genesis_hash(spec: &ChainSpec) -> Result<Hash> {
    let dir = tempfile::tempdir().context("create a temporary directory to build the genesis in")?;
    let chain = watt_chain::Chain::open(dir.path(), spec, watt_chain::ChainConfig::default())
        .context("cannot build its genesis")?;
    Ok(chain.genesis_hash())
}

/// The trusted quorum set (`--quorum-set`, else the spec's) and genesis (`--genesis`, else
/// computed from `--chain-spec`).
async fn trust(args: &LightArgs) -> Result<Trust> {
    let spec = match &args.chain_spec {
        Some(path) => Some((
            path,
            ChainSpec::from_file(path).with_context(|| format!("chain spec {}", path.display()))?,
        )),
        None => None,
    };
    let quorum = match (&args.quorum_set, &spec) {
        (Some(path), _) => read_quorum_set_file(path)?,
        (None, Some((path, spec))) => {
            let consensus = spec.consensus.as_ref().ok_or_else(|| {
                anyhow!(
                    "{} has no consensus.quorumSet (a dev chain spec has no validators to trust); pass --quorum-set",
                    path.display()
                )
            })?;
            quorum_set_from_json(&consensus.quorum_set)
                .with_context(|| format!("{}: consensus.quorumSet", path.display()))?
        }
        (None, None) => bail!(
            "say whom you trust: --chain-spec SPEC.json (its consensus.quorumSet) or --quorum-set FILE ({{\"t\": 3, \"v\": [\"<ss58>\", ...]}})"
        ),
    };
    let (genesis, genesis_from) = match (args.genesis, spec) {
        (Some(g), _) => (g, "--genesis".to_string()),
        (None, Some((path, spec))) => {
            let from = format!("chain spec {}", path.display());
            let genesis = tokio::task::spawn_blocking(move || spec_genesis_hash(&spec))
                .await
                .context("the genesis build stopped")?
                .with_context(|| from.clone())?;
            (genesis, from)
        }
        (None, None) => bail!(
            "say which chain: --chain-spec SPEC.json (the genesis hash is computed from it) or --genesis 0x<hash> (e.g. from your own node's log); the light client does not take the genesis from the nodes it checks"
        ),
    };
    Ok(Trust {
        ids: quorum.all_validators(),
        quorum,
        genesis,
        genesis_from,
    })
}

struct Node {
    url: String,
    rpc: WattRpc,
    /// Why it is followed no further; `None` while it is followed.
    excluded: Option<String>,
    /// Its genesis hash was read and is the trusted one (until then none of its answers is
    /// used).
    genesis_checked: bool,
    /// The last note printed about it (not yet having a proof, unreachable), so that polling
    /// does not repeat it every 500 ms.
    last_note: Option<String>,
}

impl Node {
    fn active(&self) -> bool {
        self.excluded.is_none()
    }
}

/// One node's verified answer for a height.
struct Answer {
    node: usize,
    block: VerifiedBlock,
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
    groups.sort_by_key(|g| std::cmp::Reverse(g.nodes.len()));
    groups
}

/// Two answers proving a fork, if any.
fn find_fork(answers: &[Answer]) -> Option<(&Answer, &Answer)> {
    answers
        .iter()
        .find_map(|a| answers.iter().find(|b| detect_fork(&a.block, &b.block)).map(|b| (a, b)))
}

/// Whether a printed block's execution roots are certified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Roots {
    /// By the certificate of this (the next) block.
    CertifiedBy(u64),
    /// Not yet: the next block is not verified.
    Uncertified,
}

/// Why a call to a node gave nothing usable.
enum Failure {
    Rpc(RpcError),
    Timeout(Duration),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Rpc(e) => write!(f, "{e}"),
            Failure::Timeout(d) => write!(f, "no answer within {}s (--rpc-timeout)", d.as_secs()),
        }
    }
}

async fn within<T>(limit: Duration, call: impl Future<Output = Result<T, RpcError>>) -> Result<T, Failure> {
    match tokio::time::timeout(limit, call).await {
        Ok(r) => r.map_err(Failure::Rpc),
        Err(_) => Err(Failure::Timeout(limit)),
    }
}

/// One node's reply to "prove #h", in one round.
enum Reply {
    /// Its genesis hash, read just now, is not the trusted one.
    WrongGenesis(Hash),
    /// What the proof call gave (`checked`: its genesis was read and matched in this round).
    Proof {
        checked: bool,
        result: Result<Value, Failure>,
    },
}

/// A run: the nodes followed, what is trusted, where lines go.
struct Session<'s> {
    nodes: Vec<Node>,
    trust: Trust,
    output: Output,
    timeout: Duration,
    sink: &'s mut dyn Sink,
}

async fn follow(args: LightArgs, sink: &mut dyn Sink) -> Result<u8> {
    let trust = trust(&args).await?;
    let account = args
        .account
        .as_deref()
        .map(|a| AccountId::from_ss58(a).map_err(|e| anyhow!("--account {a}: {e}")))
        .transpose()?;
    let mut nodes = Vec::new();
    for url in &args.rpc {
        nodes.push(Node {
            url: url.clone(),
            rpc: WattRpc::new(url).with_context(|| format!("--rpc {url}"))?,
            excluded: None,
            genesis_checked: false,
            last_note: None,
        });
    }
    sink.err(format!(
        "trusted genesis {} (from {})",
        to_hex(&trust.genesis),
        trust.genesis_from
    ));
    let mut s = Session {
        nodes,
        trust,
        output: args.output,
        timeout: Duration::from_secs(args.rpc_timeout),
        sink,
    };
    let code = s.run(args.from, args.blocks, account.as_ref()).await;
    s.summary();
    Ok(code)
}

impl Session<'_> {
    fn note(&mut self, i: usize, note: String) {
        let node = &mut self.nodes[i];
        if node.last_note.as_ref() != Some(&note) {
            self.sink.err(format!("node {}: {note}", node.url));
            node.last_note = Some(note);
        }
    }

    /// Follows node `i` no further, saying why (a line naming it on stderr, and a JSON line
    /// `{"excluded": {"node", "reason"}}` with `--output json`).
    fn exclude(&mut self, i: usize, why: String) {
        let node = &mut self.nodes[i];
        if node.excluded.is_some() {
            return;
        }
        self.sink
            .err(format!("node {}: {why}; following it no further", node.url));
        if self.output == Output::Json {
            let line = json!({"excluded": {"node": node.url, "reason": why}});
            self.sink.out(line.to_string());
        }
        node.excluded = Some(why);
    }

    fn say_json(&mut self, v: &Value) {
        self.sink.out(serde_json::to_string(v).expect("JSON values serialize"));
    }

    fn wrong_genesis(&self, theirs: &Hash) -> String {
        format!(
            "refused: it is on another chain (its genesis is {}, the trusted genesis from {} is {})",
            to_hex(theirs),
            self.trust.genesis_from,
            to_hex(&self.trust.genesis)
        )
    }

    fn summary(&mut self) {
        let excluded: Vec<String> = self
            .nodes
            .iter()
            .filter_map(|n| n.excluded.as_ref().map(|why| format!("{} ({why})", n.url)))
            .collect();
        if !excluded.is_empty() {
            let line = format!(
                "{} of {} nodes excluded: {}",
                excluded.len(),
                self.nodes.len(),
                excluded.join("; ")
            );
            self.sink.err(line);
        }
    }

    /// Reads every node's genesis hash: a node on another chain is refused; one that does not
    /// answer is asked again before its first proof is used. Whether some node is on the
    /// trusted chain.
    async fn check_genesis(&mut self) -> bool {
        let mut asks = tokio::task::JoinSet::new();
        for (i, n) in self.nodes.iter().enumerate() {
            if n.active() && !n.genesis_checked {
                let rpc = n.rpc.clone();
                let limit = self.timeout;
                asks.spawn(async move { (i, within(limit, rpc.genesis_hash()).await) });
            }
        }
        while let Some(joined) = asks.join_next().await {
            let Ok((i, result)) = joined else {
                continue;
            };
            match result {
                Ok(g) if g == self.trust.genesis => self.nodes[i].genesis_checked = true,
                Ok(g) => self.exclude(i, self.wrong_genesis(&g)),
                Err(e) => self.note(i, format!("cannot read its genesis hash: {e} (asked again later)")),
            }
        }
        self.nodes.iter().any(|n| n.active() && n.genesis_checked)
    }

    async fn run(&mut self, from: Option<u64>, blocks: Option<u64>, account: Option<&AccountId>) -> u8 {
        if !self.check_genesis().await {
            self.sink.err(format!(
                "error: no node answered on the trusted chain (genesis {}): each is unreachable or on another chain",
                to_hex(&self.trust.genesis)
            ));
            return NO_NODE_LEFT;
        }
        let start = match from {
            Some(h) => h,
            None => match self.lowest_finalized().await {
                Some(h) => h,
                None => {
                    self.sink
                        .err("error: no node told its finalized head; pass --from".into());
                    return NO_NODE_LEFT;
                }
            },
        };
        // Genesis has no certificate; its hash is the trusted one, and it is the parent block
        // 1 must name.
        let start = start.max(1);
        // The hash the next height's certified parent must be, when known without asking
        // (genesis; a block just printed).
        let mut anchor: Option<Hash> = (start == 1).then_some(self.trust.genesis);
        // The previous height's verified blocks, not printed yet, grouped by hash (more than
        // one group when nodes disagree on its execution results; this height's certified
        // parent settles it).
        let mut pending: Vec<Group> = vec![];
        let mut printed = 0u64;
        let mut h = start;
        loop {
            let answers = match self.height(h).await {
                Ok(a) => a,
                Err(code) => {
                    // The last block verified is the last printed: marked, as nothing
                    // certifies its execution roots.
                    if let [only] = &pending[..] {
                        self.print_block(only, Roots::Uncertified);
                    }
                    return code;
                }
            };
            // Certificates of two values at one height: nothing more can be trusted.
            if let Some((a, b)) = find_fork(&answers) {
                self.report_fork(a, b);
                return FORK;
            }
            let mut groups = group(answers);
            let parent = groups[0].block.header.parent_hash;

            // Continuity: this height's certified parent is the previous block's hash.
            if let Some(expected) = anchor {
                if parent != expected {
                    return self.broken(h, &parent, &[expected]);
                }
            } else if !pending.is_empty() {
                let right = match self.settle(h, parent, std::mem::take(&mut pending)).await {
                    Ok(g) => g,
                    Err(code) => return code,
                };
                // Every field of #h-1 is certified now.
                self.print_block(&right, Roots::CertifiedBy(h));
                printed += 1;
                // A node just refused for #h-1 no longer counts for #h.
                let child = groups[0].block.clone();
                for g in groups.iter_mut() {
                    g.nodes.retain(|&i| self.nodes[i].active());
                }
                groups.retain(|g| !g.nodes.is_empty());
                if let Some(who) = account {
                    let mut order: Vec<usize> = groups.iter().flat_map(|g| g.nodes.iter().copied()).collect();
                    let others: Vec<usize> = (0..self.nodes.len())
                        .filter(|i| self.nodes[*i].active() && !order.contains(i))
                        .collect();
                    order.extend(others);
                    self.balance(&order, who, &right.block, &child).await;
                }
                if blocks.is_some_and(|b| printed >= b) {
                    return DONE;
                }
                if groups.is_empty() {
                    // Only refused nodes served #h: ask the others.
                    anchor = Some(right.block.hash);
                    continue;
                }
            }
            let last = blocks.is_some_and(|b| printed + 1 >= b);
            if groups.len() == 1 {
                if last {
                    self.print_block(&groups[0], Roots::Uncertified);
                    return DONE;
                }
            } else {
                let sides: Vec<String> = groups
                    .iter()
                    .map(|g| {
                        let urls: Vec<&str> = g.nodes.iter().map(|&i| self.nodes[i].url.as_str()).collect();
                        format!("{} from {}", to_hex(&g.block.hash), urls.join(", "))
                    })
                    .collect();
                self.sink.err(format!(
                    "#{h}: nodes serve one certified value but different headers ({}); the certificate of #{} will tell which is right",
                    sides.join("; "),
                    h + 1
                ));
            }
            pending = groups;
            anchor = None;
            h += 1;
        }
    }

    /// The lowest finalized height among the nodes on the trusted chain.
    async fn lowest_finalized(&mut self) -> Option<u64> {
        let mut lowest: Option<u64> = None;
        for i in 0..self.nodes.len() {
            let n = &self.nodes[i];
            if !n.active() || !n.genesis_checked {
                continue;
            }
            let rpc = n.rpc.clone();
            match within(self.timeout, rpc.finalized_number()).await {
                Ok(f) => lowest = Some(lowest.map_or(f, |l| l.min(f))),
                Err(e) => self.note(i, format!("cannot read its finalized head: {e}")),
            }
        }
        lowest
    }

    /// Height `h` certifies `parent` as the hash of #h-1, served as `prev`: returns the group
    /// that served it, refusing the others. When none did, their nodes are refused and the
    /// other nodes are asked for #h-1; the chain is broken only if none serves it either.
    async fn settle(&mut self, h: u64, parent: Hash, mut prev: Vec<Group>) -> Result<Group, u8> {
        let misreported = |wrong: &Hash| {
            format!(
                "served header #{} as {}, but #{h} certifies {} as its parent (misreported execution results)",
                h - 1,
                to_hex(wrong),
                to_hex(&parent)
            )
        };
        if let Some(k) = prev.iter().position(|g| g.block.hash == parent) {
            let right = prev.swap_remove(k);
            for wrong in &prev {
                for &i in &wrong.nodes {
                    self.exclude(i, misreported(&wrong.block.hash));
                }
            }
            return Ok(right);
        }
        let served: Vec<Hash> = prev.iter().map(|g| g.block.hash).collect();
        for wrong in &prev {
            for &i in &wrong.nodes {
                self.exclude(i, misreported(&wrong.block.hash));
            }
        }
        if self.nodes.iter().any(Node::active) {
            self.sink.err(format!(
                "#{}: asking the other nodes for the header #{h} certifies",
                h - 1
            ));
            if let Ok(answers) = self.height(h - 1).await {
                let earlier: Vec<Answer> = prev
                    .into_iter()
                    .map(|g| Answer {
                        node: g.nodes[0],
                        block: g.block,
                    })
                    .collect();
                // A value certified now that differs from the one certified before.
                let fork = find_fork(&answers).or_else(|| {
                    answers
                        .iter()
                        .find_map(|a| earlier.iter().find(|b| detect_fork(&a.block, &b.block)).map(|b| (a, b)))
                });
                if let Some((a, b)) = fork {
                    self.report_fork(a, b);
                    return Err(FORK);
                }
                let mut found = None;
                for g in group(answers) {
                    if g.block.hash == parent {
                        found = Some(g);
                    } else {
                        for &i in &g.nodes {
                            self.exclude(i, misreported(&g.block.hash));
                        }
                    }
                }
                if let Some(right) = found {
                    return Ok(right);
                }
            }
        }
        Err(self.broken(h, &parent, &served))
    }

    fn print_block(&mut self, g: &Group, roots: Roots) {
        let b = &g.block;
        let followed = self.nodes.iter().filter(|n| n.active()).count();
        let certified_by = b.signers.iter().filter(|s| self.trust.ids.contains(*s)).count();
        match self.output {
            Output::Text => {
                let mark = match roots {
                    Roots::CertifiedBy(_) => String::new(),
                    Roots::Uncertified => format!(
                        "; execution roots (state, receipts, events) NOT yet certified: the certificate of #{} will certify them",
                        b.number + 1
                    ),
                };
                self.sink.out(format!(
                    "#{} {} certified by {certified_by} of the trusted quorum; {}/{followed} nodes agree{mark}",
                    b.number,
                    to_hex(&b.hash),
                    g.nodes.len()
                ));
            }
            Output::Json => {
                let line = json!({
                    "number": b.number,
                    "hash": to_hex(&b.hash),
                    "parentHash": to_hex(&b.header.parent_hash),
                    // Certified with the block: the agreed value names its proposer.
                    "author": b.header.author.to_ss58(),
                    "txRoot": to_hex(&b.header.tx_root),
                    // Execution results: certified by the next block's certificate.
                    "stateRoot": to_hex(&b.header.state_root),
                    "receiptsRoot": to_hex(&b.header.receipts_root),
                    "eventsRoot": to_hex(&b.header.events_root),
                    "rootsCertified": matches!(roots, Roots::CertifiedBy(_)),
                    "rootsCertifiedBy": match roots {
                        Roots::CertifiedBy(n) => json!(n),
                        Roots::Uncertified => Value::Null,
                    },
                    "certifiedBy": certified_by,
                    "signers": b.signers.iter().map(|s| s.to_ss58()).collect::<Vec<_>>(),
                    "agree": g.nodes.len(),
                    "nodes": followed,
                });
                self.say_json(&line);
            }
        }
    }

    /// Reports that height `h` does not extend what the nodes served for `h - 1`.
    fn broken(&mut self, h: u64, parent: &Hash, served: &[Hash]) -> u8 {
        let served: Vec<String> = served.iter().map(|s| to_hex(s)).collect();
        self.sink.err(format!(
            "BROKEN CHAIN at #{h}: its certificate names parent {}, but #{} was served as {}: \
             the nodes served execution results (state, receipts or events root) the network did not agree on",
            to_hex(parent),
            h - 1,
            served.join(" / ")
        ));
        BROKEN_CHAIN
    }

    /// Asks every followed node for the proof of height `h` until each has answered (or, once
    /// one valid answer is in, [`LAGGARD_WAIT`] passed); a node unreachable or timing out is
    /// not waited for. Returns the valid answers (at least one), or the exit status when no
    /// node is left.
    async fn height(&mut self, h: u64) -> Result<Vec<Answer>, u8> {
        let mut answers: Vec<Answer> = Vec::new();
        // Answered for this height (a proof, valid or not, or "no certificate").
        let mut answered: BTreeSet<usize> = BTreeSet::new();
        let mut first_valid: Option<Instant> = None;
        loop {
            // Unreachable or timed out in this round.
            let mut failed: BTreeSet<usize> = BTreeSet::new();
            let mut asks = tokio::task::JoinSet::new();
            for (i, n) in self.nodes.iter().enumerate() {
                if n.active() && !answered.contains(&i) {
                    let rpc = n.rpc.clone();
                    let limit = self.timeout;
                    let (checked, genesis) = (n.genesis_checked, self.trust.genesis);
                    asks.spawn(async move {
                        let mut newly_checked = false;
                        if !checked {
                            match within(limit, rpc.genesis_hash()).await {
                                Ok(g) if g != genesis => return (i, Reply::WrongGenesis(g)),
                                Ok(_) => newly_checked = true,
                                Err(e) => {
                                    return (
                                        i,
                                        Reply::Proof {
                                            checked: false,
                                            result: Err(e),
                                        },
                                    )
                                }
                            }
                        }
                        let result = within(limit, rpc.call::<Value>("watt_finalityProof", vec![h.into()])).await;
                        (
                            i,
                            Reply::Proof {
                                checked: newly_checked,
                                result,
                            },
                        )
                    });
                }
            }
            while let Some(joined) = asks.join_next().await {
                let Ok((i, reply)) = joined else {
                    continue;
                };
                let result = match reply {
                    Reply::WrongGenesis(g) => {
                        self.exclude(i, self.wrong_genesis(&g));
                        continue;
                    }
                    Reply::Proof { checked, result } => {
                        if checked {
                            self.nodes[i].genesis_checked = true;
                        }
                        result
                    }
                };
                match result {
                    Ok(Value::Null) => {}
                    Ok(proof) => {
                        answered.insert(i);
                        match verify_finality_proof(&proof, &self.trust.quorum, &self.trust.genesis) {
                            Ok(block) => {
                                self.nodes[i].last_note = None;
                                first_valid.get_or_insert_with(Instant::now);
                                answers.push(Answer { node: i, block });
                            }
                            Err(e) => self.exclude(i, format!("invalid proof for #{h}: {e}")),
                        }
                    }
                    // The node has the block but no certificate for it (genesis, a dev-engine
                    // chain, or a block it took without one): it cannot help with this height.
                    Err(Failure::Rpc(RpcError::Server { code, message, .. })) if code == NO_CERTIFICATE => {
                        answered.insert(i);
                        self.note(i, format!("cannot prove #{h}: {message}"));
                    }
                    // Not there yet: the usual wait for the next block, asked again quietly.
                    Err(Failure::Rpc(RpcError::Server { code, .. })) if code == UNKNOWN_BLOCK => {}
                    Err(Failure::Rpc(RpcError::Server { message, .. })) => {
                        self.note(i, format!("no proof for #{h} yet: {message}"))
                    }
                    // Unreachable, timed out, or an answer that is not JSON-RPC: not waited for.
                    Err(e) => {
                        failed.insert(i);
                        self.note(i, format!("{e}; skipped for now (asked again)"));
                    }
                }
            }
            let active: Vec<usize> = (0..self.nodes.len()).filter(|i| self.nodes[*i].active()).collect();
            if active.is_empty() {
                self.sink.err("no node left to follow".into());
                return Err(NO_NODE_LEFT);
            }
            let waiting: Vec<usize> = active
                .iter()
                .copied()
                .filter(|i| !answered.contains(i) && !failed.contains(i))
                .collect();
            if !answers.is_empty() && (waiting.is_empty() || first_valid.is_some_and(|t| t.elapsed() >= LAGGARD_WAIT)) {
                for &i in &waiting {
                    self.note(
                        i,
                        format!(
                            "no proof for #{h} within {}s; skipped for this height",
                            LAGGARD_WAIT.as_secs()
                        ),
                    );
                }
                return Ok(answers);
            }
            if answers.is_empty() && active.iter().all(|i| answered.contains(i)) {
                self.sink.err(format!("no node can prove #{h}"));
                return Err(NO_NODE_LEFT);
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn report_fork(&mut self, a: &Answer, b: &Answer) {
        let side = |x: &Answer| {
            json!({
                "node": self.nodes[x.node].url,
                "hash": to_hex(&x.block.hash),
                "parentHash": to_hex(&x.block.header.parent_hash),
                "signers": x.block.signers.iter().map(|s| s.to_ss58()).collect::<Vec<_>>(),
            })
        };
        let h = a.block.number;
        match self.output {
            Output::Json => {
                let line = json!({"fork": {"number": h, "sides": [side(a), side(b)]}});
                self.say_json(&line);
            }
            Output::Text => {
                let signed = |x: &Answer| {
                    x.block
                        .signers
                        .iter()
                        .map(|s| s.to_ss58())
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let line = format!(
                    "PROVEN FORK at #{h}: {} serves {} certified by [{}]; {} serves {} certified by [{}]",
                    self.nodes[a.node].url,
                    to_hex(&a.block.hash),
                    signed(a),
                    self.nodes[b.node].url,
                    to_hex(&b.block.hash),
                    signed(b)
                );
                self.sink.out(line);
            }
        }
        self.sink.err(format!(
            "PROVEN FORK at #{h}: two quorums holding slices of the trusted set signed different blocks; validators signing both sides equivocated"
        ));
    }

    /// Prints `who`'s free balance at `parent` (block h-1), proven against its state root,
    /// which `child` (block h) certifies. Tries the nodes `order` in turn; a node serving a
    /// proof that does not verify is refused.
    async fn balance(&mut self, order: &[usize], who: &AccountId, parent: &VerifiedBlock, child: &VerifiedBlock) {
        let key = free_balance_key(who);
        for &i in order {
            if !self.nodes[i].active() {
                continue;
            }
            let rpc = self.nodes[i].rpc.clone();
            let proof = match within(
                self.timeout,
                rpc.read_proof(std::slice::from_ref(&key), Some(parent.hash)),
            )
            .await
            {
                Ok(p) => p,
                Err(e) => {
                    self.note(i, format!("no state proof at #{}: {e}", parent.number));
                    continue;
                }
            };
            match verified_free_balance(&proof, parent, child, who) {
                Ok(free) => {
                    match self.output {
                        Output::Text => {
                            let line = format!(
                                "  {} free balance at #{}: {} (proven against the state root certified by #{})",
                                who.to_ss58(),
                                parent.number,
                                format_watt(free),
                                child.number
                            );
                            self.sink.out(line);
                        }
                        Output::Json => self.say_json(&json!({
                            "account": who.to_ss58(),
                            "number": parent.number,
                            "hash": to_hex(&parent.hash),
                            "free": free.to_string(),
                        })),
                    }
                    return;
                }
                Err(e) => self.exclude(i, format!("invalid state proof at #{}: {e}", parent.number)),
            }
        }
        self.sink.err(format!(
            "{}: no node served a valid balance proof at #{}",
            who.to_ss58(),
            parent.number
        ));
    }
}

#[cfg(test)]
mod tests;
