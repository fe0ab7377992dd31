//! Load and latency against a multi-validator testnet (`watt testnet`): transactions go to
//! several nodes' RPC at once, so the validators' pools, gossip and SCP all carry load.
//!
//! Two measurements:
//!
//! - `latency`: a few senders each submit one transfer every `--interval-ms` for `--seconds`
//!   over WebSocket (`author_submitAndWatchExtrinsic`, sender i to node i mod N) and time each
//!   from the submission call to its `inBlock` and `finalized` notifications; prints p50/p90/p99.
//! - `throughput`: funds `--accounts` fresh accounts, pre-signs `--txs` transfers, submits them
//!   over HTTP with `--concurrency` senders in flight (sender i through node i mod N), paced at
//!   `--rate` per second if given, waits until every one is final (up to 120 s after the one
//!   submitted last), then reads the blocks that carried them and reports finalized
//!   transfers per second both end to end and over the blocks' agreed close times.
//!
//! Both print one JSON line on stdout (progress goes to stderr).
//!
//! ```text
//! watt-testnet-load --rpc http://127.0.0.1:9944 --rpc http://127.0.0.1:9945 latency --senders 6 --interval-ms 300 --seconds 60
//! watt-testnet-load --rpc http://127.0.0.1:9944 --rpc http://127.0.0.1:9945 throughput --accounts 2000 --txs 40000
//! ```

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand};
use futures::stream::{self, StreamExt};
use jsonrpsee::core::client::{Subscription, SubscriptionClientT};
use jsonrpsee::core::params::ArrayParams;
use jsonrpsee::ws_client::{WsClient, WsClientBuilder};
use parity_scale_codec::Encode;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::{Duration, Instant};
use watt_client::rpc::{header_number, to_hex, WaitFor};
use watt_client::{dev_accounts, sign, transfer_call, Keypair, WattRpc};
use watt_primitives::{AccountId, Hash, SignedTransaction, UNIT};

#[derive(Parser, Debug)]
#[command(about = "Latency and sustained transfers/s against several validators of one Watt network")]
struct Args {
    /// A node's RPC endpoint (http://HOST:PORT); repeat for each node to load. The first one
    /// funds the senders and is the one whose blocks are read.
    #[arg(long = "rpc", required = true)]
    rpcs: Vec<String>,
    /// Seed offset: runs on one chain with different seeds use different accounts.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(subcommand)]
    what: What,
}

#[derive(Subcommand, Debug)]
enum What {
    /// Submission-to-finality latency at a paced, light load.
    Latency {
        /// Senders, each submitting one transfer per interval (staggered).
        #[arg(long, default_value_t = 6)]
        senders: usize,
        /// Milliseconds between one sender's transfers.
        #[arg(long, default_value_t = 300)]
        interval_ms: u64,
        /// How long to submit.
        #[arg(long, default_value_t = 60)]
        seconds: u64,
    },
    /// Sustained finalized transfers/s under as much load as the senders can give.
    Throughput {
        /// Fresh sender accounts (funded first).
        #[arg(long, default_value_t = 2000)]
        accounts: usize,
        /// Transfers to submit.
        #[arg(long, default_value_t = 40_000)]
        txs: usize,
        /// Senders with a request in flight, over all nodes.
        #[arg(long, default_value_t = 64)]
        concurrency: usize,
        /// Offered load in transfers/s over all nodes (0: as fast as the senders go).
        #[arg(long, default_value_t = 0)]
        rate: u64,
    },
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let rpcs: Vec<WattRpc> = args
        .rpcs
        .iter()
        .map(|u| WattRpc::new(u).with_context(|| format!("bad --rpc {u}")))
        .collect::<Result<_>>()?;
    let genesis = rpcs[0]
        .genesis_hash()
        .await
        .context("is a node running at the first --rpc?")?;
    for (url, rpc) in args.rpcs.iter().zip(&rpcs).skip(1) {
        let g = rpc.genesis_hash().await.with_context(|| format!("node at {url}"))?;
        if g != genesis {
            bail!("{url} is on another chain (genesis differs from {})", args.rpcs[0]);
        }
    }
    match args.what {
        What::Latency {
            senders,
            interval_ms,
            seconds,
        } => latency(&args.rpcs, &rpcs, genesis, args.seed, senders, interval_ms, seconds).await,
        What::Throughput {
            accounts,
            txs,
            concurrency,
            rate,
        } => throughput(&rpcs, genesis, args.seed, accounts, txs, concurrency, rate).await,
    }
}

/// `count` fresh keys derived from `seed` (hex secret seeds, so no derivation cost).
fn fresh_keys(seed: u64, count: usize) -> Vec<Keypair> {
    (0..count)
        .map(|i| {
            Keypair::from_suri(&format!("0x{:064x}", (seed << 32) + i as u64 + 1))
                .expect("a 32-byte hex seed is a valid URI")
        })
        .collect()
}

/// Gives every account 100 units from the dev accounts (through `rpc`) and waits until that
/// is final.
async fn fund(rpc: &WattRpc, genesis: Hash, accounts: &[Keypair], concurrency: usize) -> Result<()> {
    eprintln!("funding {} accounts ...", accounts.len());
    let funders: Vec<Keypair> = dev_accounts().into_iter().map(|(_, k)| k).collect();
    let chains = watt_e2e::funding_chains(rpc, genesis, &funders, accounts, 100 * UNIT).await?;
    let routes = vec![rpc.clone()];
    let last = submit_all(&routes, chains, concurrency).await?;
    rpc.wait(&last, WaitFor::Finalized, Duration::from_secs(300)).await?;
    Ok(())
}

/// Submits every chain in nonce order, chain i through `rpcs[i % len]`, `concurrency` chains
/// at a time; returns the hash of the transaction submitted last.
async fn submit_all(rpcs: &[WattRpc], chains: Vec<Vec<SignedTransaction>>, concurrency: usize) -> Result<Hash> {
    submit_paced(rpcs, chains, concurrency, None).await
}

/// Submission slots at a fixed rate: the k-th submission (over all senders) waits for
/// `start + k / rate`.
struct Pacer {
    start: tokio::time::Instant,
    per_tx: Duration,
    next: std::sync::atomic::AtomicU64,
}

impl Pacer {
    async fn wait(&self) {
        let k = self.next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tokio::time::sleep_until(self.start + self.per_tx.mul_f64(k as f64)).await;
    }
}

/// [`submit_all`], each submission first waiting for its slot of `pacer` when there is one.
async fn submit_paced(
    rpcs: &[WattRpc],
    chains: Vec<Vec<SignedTransaction>>,
    concurrency: usize,
    pacer: Option<Arc<Pacer>>,
) -> Result<Hash> {
    let results: Vec<Result<Option<(Instant, Hash)>>> =
        stream::iter(chains.into_iter().enumerate().map(|(i, chain)| {
            let rpc = rpcs[i % rpcs.len()].clone();
            let pacer = pacer.clone();
            async move {
                let mut last = None;
                for t in &chain {
                    if let Some(p) = &pacer {
                        p.wait().await;
                    }
                    let hash = rpc.submit(t).await?;
                    last = Some((Instant::now(), hash));
                }
                Ok(last)
            }
        }))
        .buffer_unordered(concurrency)
        .collect()
        .await;
    watt_e2e::last_submitted(results)?.context("nothing submitted")
}

/// The `p`-th percentile (nearest rank) of sorted milliseconds.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn summary(mut ms: Vec<f64>) -> Value {
    ms.sort_by(f64::total_cmp);
    json!({
        "n": ms.len(),
        "p50_ms": percentile(&ms, 50.0).round(),
        "p90_ms": percentile(&ms, 90.0).round(),
        "p99_ms": percentile(&ms, 99.0).round(),
        "max_ms": ms.last().copied().unwrap_or(f64::NAN).round(),
    })
}

/// One watched transfer: milliseconds to `inBlock` and to `finalized`, or why it failed.
type Watched = Result<(f64, f64), String>;

async fn watch(started: Instant, mut sub: Subscription<Value>) -> Watched {
    let mut in_block = None;
    let deadline = Duration::from_secs(120);
    loop {
        let left = deadline.saturating_sub(started.elapsed());
        let next = tokio::time::timeout(left, sub.next())
            .await
            .map_err(|_| format!("not final within {} s", deadline.as_secs()))?;
        let ev = match next {
            Some(Ok(v)) => v,
            Some(Err(e)) => return Err(format!("bad notification: {e}")),
            None => return Err("subscription closed before finality".into()),
        };
        let ms = started.elapsed().as_secs_f64() * 1e3;
        if ev.get("inBlock").is_some() {
            in_block.get_or_insert(ms);
        } else if ev.get("finalized").is_some() {
            // A block that is final on import may be announced only as final.
            return Ok((in_block.unwrap_or(ms), ms));
        } else if let Some(r) = ev.get("dropped") {
            return Err(format!("dropped: {r}"));
        }
    }
}

async fn ws_client(url: &str) -> Result<WsClient> {
    let ws = if let Some(rest) = url.strip_prefix("http://") {
        format!("ws://{rest}")
    } else if let Some(rest) = url.strip_prefix("https://") {
        format!("wss://{rest}")
    } else {
        url.to_string()
    };
    WsClientBuilder::default()
        .max_concurrent_requests(4096)
        .build(&ws)
        .await
        .with_context(|| format!("WebSocket to {ws}"))
}

async fn latency(
    urls: &[String],
    rpcs: &[WattRpc],
    genesis: Hash,
    seed: u64,
    senders: usize,
    interval_ms: u64,
    seconds: u64,
) -> Result<()> {
    if senders == 0 || interval_ms == 0 {
        bail!("--senders and --interval-ms must be positive");
    }
    let keys = fresh_keys(seed, senders);
    fund(&rpcs[0], genesis, &keys, 16).await?;
    let receiver = dev_accounts()[0].1.account();
    let interval = Duration::from_millis(interval_ms);
    let until = Instant::now() + Duration::from_secs(seconds);
    eprintln!(
        "{senders} senders, one transfer each every {interval_ms} ms for {seconds} s, over {} nodes ...",
        urls.len()
    );
    let mut tasks = vec![];
    for (i, key) in keys.into_iter().enumerate() {
        let url = urls[i % urls.len()].clone();
        let rpc = rpcs[i % rpcs.len()].clone();
        // Staggered so the network sees an even stream rather than bursts.
        let offset = interval.mul_f64(i as f64 / senders as f64);
        tasks.push(tokio::spawn(async move {
            let client = Arc::new(ws_client(&url).await?);
            let mut nonce = rpc.next_nonce(&key.account()).await?;
            tokio::time::sleep(offset).await;
            let mut ticker = tokio::time::interval(interval);
            ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut watches = vec![];
            while Instant::now() < until {
                ticker.tick().await;
                let tx = sign(&key, nonce, 0, genesis, &transfer_call(receiver, UNIT / 1000, false));
                nonce += 1;
                let mut p = ArrayParams::new();
                p.insert(to_hex(&tx.encode()))?;
                let started = Instant::now();
                // Awaited before the next submission: one sender's nonces arrive in order.
                match client
                    .subscribe::<Value, _>("author_submitAndWatchExtrinsic", p, "author_unwatchExtrinsic")
                    .await
                {
                    Ok(sub) => watches.push(tokio::spawn(watch(started, sub))),
                    Err(e) => watches.push(tokio::spawn(async move { Err(format!("refused: {e}")) })),
                }
            }
            let mut out: Vec<Watched> = vec![];
            for w in watches {
                out.push(w.await.unwrap_or_else(|e| Err(format!("watcher panicked: {e}"))));
            }
            anyhow::Ok(out)
        }));
    }
    let mut in_block = vec![];
    let mut finalized = vec![];
    let mut failures: Vec<String> = vec![];
    for t in tasks {
        for w in t.await.context("sender task panicked")?? {
            match w {
                Ok((b, f)) => {
                    in_block.push(b);
                    finalized.push(f);
                }
                Err(e) => failures.push(e),
            }
        }
    }
    for f in failures.iter().take(5) {
        eprintln!("failed: {f}");
    }
    println!(
        "{}",
        json!({
            "mode": "latency",
            "nodes": urls.len(),
            "senders": senders,
            "interval_ms": interval_ms,
            "seconds": seconds,
            "offered_tps": (senders as f64 * 1000.0 / interval_ms as f64),
            "in_block": summary(in_block),
            "finalized": summary(finalized),
            "failed": failures.len(),
        })
    );
    Ok(())
}

/// Number, close time (ms) and transaction count of block `n` as `rpc` has it.
async fn block_at(rpc: &WattRpc, n: u64) -> Result<(u64, u64, usize)> {
    let hash: Option<String> = rpc.call("chain_getBlockHash", vec![n.into()]).await?;
    let hash = hash.with_context(|| format!("no block #{n}"))?;
    let b: Value = rpc.call("chain_getBlock", vec![hash.into()]).await?;
    let header = &b["block"]["header"];
    let number = header_number(header).context("block without a number")?;
    let close = header["closeTime"].as_u64().context("block without closeTime")?;
    let txs = b["block"]["extrinsics"].as_array().map(Vec::len).unwrap_or(0);
    Ok((number, close, txs))
}

async fn throughput(
    rpcs: &[WattRpc],
    genesis: Hash,
    seed: u64,
    accounts: usize,
    txs: usize,
    concurrency: usize,
    rate: u64,
) -> Result<()> {
    if accounts == 0 || txs == 0 || concurrency == 0 {
        bail!("--accounts, --txs and --concurrency must be positive");
    }
    let senders = fresh_keys(seed, accounts);
    fund(&rpcs[0], genesis, &senders, 64).await?;

    let per_sender = txs.div_ceil(senders.len());
    eprintln!("signing {txs} transfers ({per_sender} per account) ...");
    let receiver = dev_accounts()[0].1.account();
    let mut chains: Vec<Vec<SignedTransaction>> = vec![Vec::new(); senders.len()];
    let mut total = 0;
    'outer: for _ in 0..per_sender {
        for (i, s) in senders.iter().enumerate() {
            if total == txs {
                break 'outer;
            }
            let nonce = chains[i].last().map(|t| t.tx.nonce + 1).unwrap_or(0);
            chains[i].push(sign(s, nonce, 0, genesis, &transfer_call(receiver, UNIT / 1000, false)));
            total += 1;
        }
    }

    let first_block = rpcs[0].finalized_number().await? + 1;
    eprintln!(
        "submitting {total} transfers through {} nodes, {concurrency} senders in flight (blocks from #{first_block}) ...",
        rpcs.len()
    );
    let started = Instant::now();
    let pacer = (rate > 0).then(|| {
        Arc::new(Pacer {
            start: tokio::time::Instant::now(),
            per_tx: Duration::from_secs_f64(1.0 / rate as f64),
            next: 0.into(),
        })
    });
    let last = submit_paced(rpcs, chains.clone(), concurrency, pacer).await?;
    let submitted = started.elapsed();
    rpcs[0]
        .wait(&last, WaitFor::Finalized, Duration::from_secs(600))
        .await?;
    let last_final = started.elapsed();
    // The transfer submitted last being final does not make the others final: those sent
    // through another node are included when a set holding them wins a slot. Wait until every
    // sender's nonce reached the length of its chain (SCP blocks are final when imported).
    let mut waiting: Vec<(AccountId, u64)> = senders
        .iter()
        .zip(&chains)
        .map(|(s, c)| (s.account(), c.len() as u64))
        .collect();
    let give_up = Instant::now() + Duration::from_secs(120);
    loop {
        let states: Vec<Result<bool>> = stream::iter(waiting.iter().map(|(who, want)| {
            let rpc = rpcs[0].clone();
            async move { Ok(rpc.account(who).await?.nonce >= *want) }
        }))
        .buffered(32)
        .collect()
        .await;
        let mut still = vec![];
        for (w, done) in waiting.into_iter().zip(states) {
            if !done? {
                still.push(w);
            }
        }
        waiting = still;
        if waiting.is_empty() || Instant::now() > give_up {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let all_final = started.elapsed();
    let mut missing = 0;
    for (who, want) in &waiting {
        missing += want - rpcs[0].account(who).await?.nonce.min(*want);
    }
    if missing > 0 {
        eprintln!(
            "{missing} transfers of {} senders not final 120 s after the last submitted one was",
            waiting.len()
        );
    }
    let last_block = rpcs[0].finalized_number().await?;

    // The blocks that carried the load, timed by their agreed close times: the rate the chain
    // finalized at, free of the generator's start-up and polling.
    let mut blocks = vec![block_at(&rpcs[0], first_block - 1).await?];
    for n in first_block..=last_block {
        blocks.push(block_at(&rpcs[0], n).await?);
    }
    let loaded: Vec<usize> = (1..blocks.len()).filter(|&i| blocks[i].2 > 0).collect();
    let (first, lastb) = (
        *loaded.first().context("no block carried a transfer")?,
        *loaded.last().context("no block carried a transfer")?,
    );
    let in_window: usize = blocks[first..=lastb].iter().map(|b| b.2).sum();
    let window_s = (blocks[lastb].1.saturating_sub(blocks[first - 1].1)) as f64 / 1e3;
    let sizes: Vec<usize> = blocks[first..=lastb].iter().map(|b| b.2).collect();
    let n = total as f64;
    println!(
        "{}",
        json!({
            "mode": "throughput",
            "nodes": rpcs.len(),
            "transfers": total,
            "accounts": accounts,
            "concurrency": concurrency,
            "offered_tps": rate,
            "submit_tps": (n / submitted.as_secs_f64()).round(),
            "last_submitted_final_s": (last_final.as_secs_f64() * 100.0).round() / 100.0,
            "end_to_end_tps": (n / all_final.as_secs_f64()).round(),
            "seconds": (all_final.as_secs_f64() * 100.0).round() / 100.0,
            "not_final": missing,
            "blocks": {
                "from": blocks[first].0,
                "to": blocks[lastb].0,
                "count": sizes.len(),
                "transactions": in_window,
                "close_time_window_s": window_s,
                "chain_tps": (in_window as f64 / window_s.max(1e-3)).round(),
                "max_txs": sizes.iter().max(),
                "mean_txs": (in_window as f64 / sizes.len() as f64).round(),
                "mean_interval_ms": (window_s * 1e3 / sizes.len() as f64).round(),
            },
        })
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentile_is_nearest_rank() {
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        // Nearest rank: the smallest value with at least p % of the values at or below it.
        assert_eq!(percentile(&ten, 50.0), 5.0);
        assert_eq!(percentile(&ten, 90.0), 9.0);
        assert_eq!(percentile(&ten, 99.0), 10.0);
        assert_eq!(percentile(&ten, 0.0), 1.0);
        assert_eq!(percentile(&[7.0], 99.0), 7.0);
        assert!(percentile(&[], 50.0).is_nan());
    }
}
