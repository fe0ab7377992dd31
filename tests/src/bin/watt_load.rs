//! Load generator: sustained signed transfers per second submitted over JSON-RPC to one node.
//!
//! Funds `--accounts` fresh accounts from the dev accounts, waits for that to be final, then
//! pre-signs `--txs` transfers spread over those accounts and submits them with `--concurrency`
//! requests in flight. Reports the submission rate and the end-to-end rate (first submission
//! to the last transfer finalized).
//!
//! `watt-load --rpc http://127.0.0.1:9944 --accounts 1000 --txs 20000 --concurrency 64`

use anyhow::{bail, Context, Result};
use clap::Parser;
use futures::stream::{self, StreamExt};
use std::time::{Duration, Instant};
use watt_client::rpc::WaitFor;
use watt_client::{dev_accounts, sign, transfer_call, Keypair, WattRpc};
use watt_primitives::UNIT;

#[derive(Parser, Debug)]
#[command(about = "Sustained transfers/s over JSON-RPC against one Watt node")]
struct Args {
    /// Node endpoint.
    #[arg(long, default_value = "http://127.0.0.1:9944")]
    rpc: String,
    /// Fresh sender accounts to spread the load over.
    #[arg(long, default_value_t = 1000)]
    accounts: usize,
    /// Transfers to submit.
    #[arg(long, default_value_t = 20_000)]
    txs: usize,
    /// Requests in flight.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seed offset so repeated runs on one chain use new accounts.
    #[arg(long, default_value_t = 0)]
    seed: u64,
}

#[tokio::main]
async fn main() -> Result<()> {
    let args = Args::parse();
    let rpc = WattRpc::new(&args.rpc)?;
    let genesis = rpc.genesis_hash().await.context("is a node running at --rpc?")?;
    let funders: Vec<Keypair> = dev_accounts().into_iter().map(|(_, k)| k).collect();
    let senders: Vec<Keypair> = (0..args.accounts)
        .map(|i| Keypair::from_suri(&format!("0x{:064x}", (args.seed << 32) + i as u64 + 1)).expect("hex seed"))
        .collect();

    eprintln!("funding {} accounts ...", senders.len());
    let mut nonces = Vec::new();
    for f in &funders {
        nonces.push(rpc.next_nonce(&f.account()).await?);
    }
    let mut funding = Vec::new();
    for (i, s) in senders.iter().enumerate() {
        let f = i % funders.len();
        funding.push(sign(
            &funders[f],
            nonces[f],
            0,
            genesis,
            &transfer_call(s.account(), 100 * UNIT, false),
        ));
        nonces[f] += 1;
    }
    let last = submit_all(&rpc, &funding, args.concurrency).await?;
    rpc.wait(&last, WaitFor::Finalized, Duration::from_secs(300)).await?;

    let per_sender = args.txs.div_ceil(senders.len());
    eprintln!("signing {} transfers ({} per account) ...", args.txs, per_sender);
    let receiver = funders[0].account();
    let mut txs = Vec::with_capacity(args.txs);
    'outer: for n in 0..per_sender as u64 {
        for s in &senders {
            if txs.len() == args.txs {
                break 'outer;
            }
            txs.push(sign(s, n, 0, genesis, &transfer_call(receiver, UNIT / 1000, false)));
        }
    }

    eprintln!(
        "submitting {} transfers with {} in flight ...",
        txs.len(),
        args.concurrency
    );
    let started = Instant::now();
    let last = submit_all(&rpc, &txs, args.concurrency).await?;
    let submitted = started.elapsed();
    rpc.wait(&last, WaitFor::Finalized, Duration::from_secs(600)).await?;
    // Every sender's nonce must have reached its count: all transfers are in.
    for s in senders.iter().take(10) {
        let n = rpc.account(&s.account()).await?.nonce;
        if n < per_sender as u64 - 1 {
            bail!("sender nonce {n} < {}: transfers missing", per_sender - 1);
        }
    }
    let finalized = started.elapsed();
    let n = txs.len() as f64;
    println!(
        "{{\"transfers\": {}, \"concurrency\": {}, \"submit_tps\": {:.0}, \"finalized_tps\": {:.0}, \"seconds\": {:.2}}}",
        txs.len(),
        args.concurrency,
        n / submitted.as_secs_f64(),
        n / finalized.as_secs_f64(),
        finalized.as_secs_f64()
    );
    Ok(())
}

/// Submits all, `concurrency` at a time; returns the hash of the last one.
async fn submit_all(
    rpc: &WattRpc,
    txs: &[watt_primitives::SignedTransaction],
    concurrency: usize,
) -> Result<watt_primitives::Hash> {
    let results: Vec<_> = stream::iter(txs.iter().map(|t| {
        let rpc = rpc.clone();
        async move { rpc.submit(t).await }
    }))
    .buffered(concurrency)
    .collect()
    .await;
    let mut last = None;
    for r in results {
        last = Some(r?);
    }
    last.context("nothing submitted")
}
