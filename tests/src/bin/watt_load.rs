//! Load generator: sustained signed transfers per second submitted over JSON-RPC to one node.
//!
//! Funds `--accounts` fresh accounts from the dev accounts, waits for that to be final, then
//! pre-signs `--txs` transfers spread over those accounts and submits them, each account's in
//! nonce order, with `--concurrency` accounts in flight. Reports the submission rate and the end-to-end rate (first submission
//! to the last transfer finalized).
//!
//! `watt-load --rpc http://127.0.0.1:9944 --accounts 1000 --txs 20000 --concurrency 64`

use anyhow::{bail, Context, Result};
use clap::Parser;
use futures::stream::{self, StreamExt};
use std::time::{Duration, Instant};
use watt_client::rpc::WaitFor;
use watt_client::{dev_accounts, sign, transfer_call, Keypair, WattRpc};
use watt_primitives::{Hash, SignedTransaction, UNIT};

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
    let funding = watt_e2e::funding_chains(&rpc, genesis, &funders, &senders, 100 * UNIT).await?;
    let last = submit_all(&rpc, funding, args.concurrency).await?;
    rpc.wait(&last, WaitFor::Finalized, Duration::from_secs(300)).await?;

    let per_sender = args.txs.div_ceil(senders.len());
    eprintln!("signing {} transfers ({} per account) ...", args.txs, per_sender);
    let receiver = funders[0].account();
    let mut chains: Vec<Vec<SignedTransaction>> = vec![Vec::new(); senders.len()];
    let mut total = 0;
    'outer: for n in 0..per_sender as u64 {
        for (i, s) in senders.iter().enumerate() {
            if total == args.txs {
                break 'outer;
            }
            chains[i].push(sign(s, n, 0, genesis, &transfer_call(receiver, UNIT / 1000, false)));
            total += 1;
        }
    }

    eprintln!(
        "submitting {total} transfers with {} senders in flight ...",
        args.concurrency
    );
    let started = Instant::now();
    let last = submit_all(&rpc, chains.clone(), args.concurrency).await?;
    let submitted = started.elapsed();
    rpc.wait(&last, WaitFor::Finalized, Duration::from_secs(600)).await?;
    // Every transfer is in: each sender's nonce reached the length of its chain.
    for (s, chain) in senders.iter().zip(&chains) {
        let n = rpc.account(&s.account()).await?.nonce;
        if n < chain.len() as u64 {
            bail!(
                "sender {} has nonce {n}, expected {}: transfers missing",
                s.account(),
                chain.len()
            );
        }
    }
    let finalized = started.elapsed();
    let n = total as f64;
    println!(
        "{{\"transfers\": {total}, \"concurrency\": {}, \"submit_tps\": {:.0}, \"finalized_tps\": {:.0}, \"seconds\": {:.2}}}",
        args.concurrency,
        n / submitted.as_secs_f64(),
        n / finalized.as_secs_f64(),
        finalized.as_secs_f64()
    );
    Ok(())
}

/// Submits every chain, each in nonce order, `concurrency` chains at a time; returns the hash
/// of the transaction submitted last.
async fn submit_all(rpc: &WattRpc, chains: Vec<Vec<SignedTransaction>>, concurrency: usize) -> Result<Hash> {
    let results: Vec<Result<Option<(Instant, Hash)>>> = stream::iter(chains.into_iter().map(|chain| {
        let rpc = rpc.clone();
        async move {
            let mut last = None;
            for t in &chain {
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
