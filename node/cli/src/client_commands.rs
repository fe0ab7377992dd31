//! The client-side commands: keys, chain specs, transactions and queries over RPC.

use crate::{ChainSpecArgs, KeyCommand, Output, QueryCommand, TxCommand, WaitArg};
use anyhow::{bail, Context, Result};
use serde_json::json;
use std::time::Duration;
use watt_client::rpc::{hash_from_hex, to_hex, WaitFor};
use watt_client::{Keypair, WattRpc};
use watt_primitives::{AccountId, Balance, DECIMALS, UNIT};

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start tokio")
}

/// Parses `123` (units) or `1.5WATT` / `1.5 WATT` (whole tokens with up to 12 decimals).
pub fn parse_amount(s: &str) -> Result<Balance> {
    let t = s.trim();
    let Some(tokens) = t.strip_suffix("WATT").map(str::trim) else {
        return t
            .parse::<Balance>()
            .with_context(|| format!("`{s}` is not an amount (e.g. 1000000 or 1.5WATT)"));
    };
    let (whole, frac) = tokens.split_once('.').unwrap_or((tokens, ""));
    if frac.len() > DECIMALS as usize || (whole.is_empty() && frac.is_empty()) {
        bail!("`{s}`: WATT has {DECIMALS} decimals");
    }
    let whole: Balance = if whole.is_empty() {
        0
    } else {
        whole.parse().with_context(|| format!("`{s}` is not an amount"))?
    };
    let frac_units: Balance = if frac.is_empty() {
        0
    } else {
        let padded = format!("{frac:0<width$}", width = DECIMALS as usize);
        padded.parse().with_context(|| format!("`{s}` is not an amount"))?
    };
    whole
        .checked_mul(UNIT)
        .and_then(|w| w.checked_add(frac_units))
        .with_context(|| format!("`{s}` is too large"))
}

/// Units shown as WATT with all decimals, trailing zeros trimmed.
pub fn format_watt(units: Balance) -> String {
    let whole = units / UNIT;
    let frac = units % UNIT;
    if frac == 0 {
        format!("{whole} WATT")
    } else {
        let f = format!("{frac:0width$}", width = DECIMALS as usize);
        format!("{whole}.{} WATT", f.trim_end_matches('0'))
    }
}

fn print_json(v: &serde_json::Value) {
    say!("{}", serde_json::to_string_pretty(v).expect("JSON values serialize"));
}

pub fn key(cmd: KeyCommand) -> Result<()> {
    match cmd {
        KeyCommand::Generate { output } => {
            let (pair, phrase) = Keypair::generate();
            let account = pair.account();
            match output {
                Output::Json => print_json(&json!({
                    "secretPhrase": phrase,
                    "ss58": account.to_ss58(),
                    "public": to_hex(account.as_bytes()),
                })),
                Output::Text => {
                    say!("Secret phrase: {phrase}");
                    say!("  (anyone with this phrase controls the account; store it offline)");
                    say!("SS58 address:  {account}");
                    say!("Public key:    {}", to_hex(account.as_bytes()));
                }
            }
        }
        KeyCommand::Inspect { suri, output } => {
            let account = Keypair::from_suri(&suri)?.account();
            match output {
                Output::Json => print_json(&json!({"ss58": account.to_ss58(), "public": to_hex(account.as_bytes())})),
                Output::Text => {
                    say!("SS58 address: {account}");
                    say!("Public key:   {}", to_hex(account.as_bytes()));
                }
            }
        }
    }
    Ok(())
}

pub fn chain_spec(args: ChainSpecArgs) -> Result<()> {
    if !args.dev {
        bail!("say which spec: --dev (the only built-in chain so far)");
    }
    let accounts: Vec<AccountId> = watt_client::dev_accounts().iter().map(|(_, k)| k.account()).collect();
    let spec = watt_chain::ChainSpec::dev(&accounts, watt_runtime_blob::WASM_BINARY);
    say!("{}", serde_json::to_string_pretty(&spec)?);
    Ok(())
}

fn address(s: &str) -> Result<AccountId> {
    AccountId::from_ss58(s).map_err(|e| anyhow::anyhow!("invalid address `{s}`: {e}"))
}

pub async fn tx(cmd: TxCommand) -> Result<()> {
    match cmd {
        TxCommand::Transfer {
            from,
            to,
            amount,
            tip,
            keep_alive,
            nonce,
            wait,
            timeout,
            rpc,
            output,
        } => {
            let signer = Keypair::from_suri(&from)?;
            let dest = address(&to)?;
            let amount = parse_amount(&amount)?;
            let tip = parse_amount(&tip)?;
            let client = WattRpc::new(&rpc.rpc)?;
            let genesis = client.genesis_hash().await?;
            let nonce = match nonce {
                Some(n) => n,
                None => client.next_nonce(&signer.account()).await?,
            };
            let call = watt_client::transfer_call(dest, amount, keep_alive);
            let signed = watt_client::sign(&signer, nonce, tip, genesis, &call);
            let hash = client.submit(&signed).await?;
            let until = match wait {
                WaitArg::None => {
                    match output {
                        Output::Json => print_json(&json!({"txHash": to_hex(&hash), "status": "pooled"})),
                        Output::Text => say!("submitted {}", to_hex(&hash)),
                    }
                    return Ok(());
                }
                WaitArg::Included => WaitFor::Included,
                WaitArg::Finalized => WaitFor::Finalized,
            };
            let receipt = client.wait(&hash, until, Duration::from_secs(timeout)).await?;
            match output {
                Output::Json => print_json(&serde_json::to_value(&receipt)?),
                Output::Text => {
                    let fee: Balance = receipt.fee_paid.parse().unwrap_or(0);
                    let status = match &receipt.error {
                        None => "succeeded".to_string(),
                        Some(e) => format!("FAILED ({e})"),
                    };
                    say!(
                        "transfer {} {} in block #{} ({}); fee {}",
                        receipt.tx_hash,
                        status,
                        receipt.block_number,
                        receipt.block_hash,
                        format_watt(fee)
                    );
                }
            }
            if receipt.error.is_some() {
                bail!(
                    "the transfer was included but failed: {}",
                    receipt.error.unwrap_or_default()
                );
            }
            Ok(())
        }
    }
}

pub async fn query(cmd: QueryCommand) -> Result<()> {
    match cmd {
        QueryCommand::Account {
            address: a,
            rpc,
            output,
        } => {
            let who = address(&a)?;
            let view = WattRpc::new(&rpc.rpc)?.account(&who).await?;
            match output {
                Output::Json => print_json(&json!({"free": view.free, "nonce": view.nonce})),
                Output::Text => {
                    let free: Balance = view.free.parse().context("node sent a malformed balance")?;
                    say!("account: {who}");
                    say!("free:    {} ({})", view.free, format_watt(free));
                    say!("nonce:   {}", view.nonce);
                }
            }
        }
        QueryCommand::Receipt { hash, rpc, output } => {
            let h = hash_from_hex(&hash).map_err(|e| anyhow::anyhow!("transaction hash: {e}"))?;
            match WattRpc::new(&rpc.rpc)?.receipt(&h).await? {
                None => bail!("no receipt for {hash}: not (yet) included"),
                Some(r) => match output {
                    Output::Json => print_json(&serde_json::to_value(&r)?),
                    Output::Text => say!(
                        "{} in block #{} at index {}: {}; fee {} units",
                        r.tx_hash,
                        r.block_number,
                        r.index,
                        r.error
                            .as_deref()
                            .map(|e| format!("failed ({e})"))
                            .unwrap_or_else(|| "success".into()),
                        r.fee_paid
                    ),
                },
            }
        }
        QueryCommand::FeePool { rpc, output } => {
            let v: serde_json::Value = WattRpc::new(&rpc.rpc)?.call("watt_feePool", vec![]).await?;
            match output {
                Output::Json => print_json(&v),
                Output::Text => say!(
                    "fee pool {}: {} units",
                    v["account"].as_str().unwrap_or("?"),
                    v["balance"].as_str().unwrap_or("?")
                ),
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_parse_in_units_and_watt() {
        assert_eq!(parse_amount("123").unwrap(), 123);
        assert_eq!(parse_amount("1.5WATT").unwrap(), 1_500_000_000_000);
        assert_eq!(parse_amount("2 WATT").unwrap(), 2 * UNIT);
        assert_eq!(parse_amount("0.000000000001WATT").unwrap(), 1);
        assert!(parse_amount("0.0000000000001WATT").is_err(), "13 decimals");
        assert!(parse_amount("1.5").is_err(), "decimals need the unit");
        assert!(parse_amount("-1").is_err());
        assert_eq!(format_watt(1_500_000_000_000), "1.5 WATT");
        assert_eq!(format_watt(3 * UNIT), "3 WATT");
    }
}
