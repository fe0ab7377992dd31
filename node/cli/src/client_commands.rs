//! The client-side commands: keys, chain specs, transactions and queries over RPC, and
//! [`submit_call`], which every transaction-sending command uses to sign, submit, wait and report.

use crate::{ChainSpecArgs, KeyCommand, Output, QueryCommand, SubmitArgs, TxCommand, WaitArg};
use anyhow::{bail, Context, Result};
use parity_scale_codec::DecodeAll;
use serde_json::json;
use std::time::Duration;
use watt_client::rpc::{from_hex, hash_from_hex, to_hex, ReceiptView, WaitFor};
use watt_client::{Keypair, RpcError, WattRpc};
use watt_primitives::{AccountId, Balance, DECIMALS, UNIT};
use watt_runtime::{RuntimeCall, RuntimeEvent};

pub fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start tokio")
}

/// Parses an amount: `DIGITS` (units) or `DIGITS[.DIGITS]WATT`, also written with one space
/// before the unit (`1.5 WATT`, as [`format_watt`] prints it), with at most 12 decimals.
///
/// Nothing else: no sign, exponent, surrounding or inner whitespace, second dot, or empty
/// whole or fractional part. Parsing the pieces with `u128::from_str` alone took a `+`, so
/// `1.+5WATT` used to be 1.05 WATT.
pub fn parse_amount(s: &str) -> Result<Balance> {
    let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
    let Some(tokens) = s.strip_suffix("WATT") else {
        if !digits(s) {
            bail!("`{s}` is not an amount (e.g. 1000000 units or 1.5WATT)");
        }
        // Only digits, so the one way left to fail is overflow.
        return s.parse::<Balance>().with_context(|| format!("`{s}` is too large"));
    };
    let tokens = tokens.strip_suffix(' ').unwrap_or(tokens);
    let (whole, frac) = match tokens.split_once('.') {
        Some((whole, frac)) => (whole, Some(frac)),
        None => (tokens, None),
    };
    if !digits(whole) || frac.is_some_and(|f| !digits(f)) {
        bail!("`{s}` is not an amount (e.g. 1000000 units or 1.5WATT)");
    }
    let frac = frac.unwrap_or("");
    if frac.len() > DECIMALS as usize {
        bail!("`{s}`: WATT has {DECIMALS} decimals");
    }
    let too_large = || format!("`{s}` is too large");
    let whole: Balance = whole.parse().with_context(too_large)?;
    // At most 12 digits, padded to 12: always fits.
    let frac_units: Balance = format!("{frac:0<width$}", width = DECIMALS as usize)
        .parse()
        .with_context(too_large)?;
    whole
        .checked_mul(UNIT)
        .and_then(|w| w.checked_add(frac_units))
        .with_context(too_large)
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

pub fn print_json(v: &serde_json::Value) {
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
        KeyCommand::GenerateNodeKey { file, output } => {
            let key = crate::p2p::NodeKey::generate();
            key.write(&file)?;
            show_node_key(&key, &file, output);
        }
        KeyCommand::InspectNodeKey { file, output } => {
            let key = crate::p2p::NodeKey::read(&file)?;
            show_node_key(&key, &file, output);
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

fn show_node_key(key: &crate::p2p::NodeKey, file: &std::path::Path, output: Output) {
    match output {
        Output::Json => print_json(&json!({
            "file": file.display().to_string(),
            "peerId": key.peer_id().to_string(),
            "validatorId": key.validator_id().to_ss58(),
        })),
        Output::Text => {
            say!("Node key file: {} (secret: keep it private)", file.display());
            say!("Peer id:       {}", key.peer_id());
            say!("Validator id:  {}", key.validator_id());
        }
    }
}

pub fn chain_spec(args: ChainSpecArgs) -> Result<()> {
    if !args.dev {
        bail!("say which spec: --dev, or --validators N --output-dir DIR");
    }
    let accounts: Vec<AccountId> = watt_client::dev_accounts().iter().map(|(_, k)| k.account()).collect();
    let day_blocks = args.day_blocks.unwrap_or(watt_chain::spec::DEV_DAY_BLOCKS);
    let spec = watt_chain::ChainSpec::dev_with_day_blocks(&accounts, watt_runtime_blob::WASM_BINARY, day_blocks);
    say!("{}", serde_json::to_string_pretty(&spec)?);
    Ok(())
}

/// An SS58 address (or 0x-hex public key) given on the command line.
pub fn address(s: &str) -> Result<AccountId> {
    AccountId::from_ss58(s).map_err(|e| anyhow::anyhow!("invalid address `{s}`: {e}"))
}

/// A receipt's events, decoded as the runtime's events where they decode (else their hex).
fn describe_events(receipt: &ReceiptView) -> Vec<String> {
    receipt
        .events
        .iter()
        .map(|hex| {
            from_hex(hex)
                .ok()
                .and_then(|b| RuntimeEvent::decode_all(&mut &b[..]).ok())
                .map(|e| format!("{e:?}"))
                .unwrap_or_else(|| hex.clone())
        })
        .collect()
}

/// Signs `call` as `args.from`, submits it to `args.rpc` and waits as `args.wait` says, printing
/// the outcome (`what` names the transaction in messages, e.g. "check-in").
///
/// An error (so a non-zero exit) when the node refuses the transaction (the node's reason is
/// in the message: a second check-in the same day, an unattested account, a low balance ...),
/// when waiting times out, or when it was included but failed (its fee is paid all the same).
pub async fn submit_call(args: &SubmitArgs, what: &str, call: &RuntimeCall) -> Result<()> {
    let signer = Keypair::from_suri(&args.from)?;
    let tip = parse_amount(&args.tip).context("--tip")?;
    let client = WattRpc::new(&args.rpc.rpc)?;
    let genesis = client.genesis_hash().await?;
    let nonce = match args.nonce {
        Some(n) => n,
        None => client.next_nonce(&signer.account()).await?,
    };
    let signed = watt_client::sign(&signer, nonce, tip, genesis, call);
    let hash = client.submit(&signed).await.map_err(|e| match e {
        // The node answered: it refused the transaction before it entered the pool.
        e @ RpcError::Server { .. } => {
            anyhow::Error::new(e).context(format!("the {what} was refused; nothing changed and no fee was paid"))
        }
        // Whether the node received it is unknown.
        e => anyhow::Error::new(e).context(format!("the {what} may not have reached the node")),
    })?;
    let until = match args.wait {
        WaitArg::None => {
            match args.output {
                Output::Json => print_json(&json!({"txHash": to_hex(&hash), "status": "pooled"})),
                Output::Text => say!("{what} submitted: {}", to_hex(&hash)),
            }
            return Ok(());
        }
        WaitArg::Included => WaitFor::Included,
        WaitArg::Finalized => WaitFor::Finalized,
    };
    let receipt = client.wait(&hash, until, Duration::from_secs(args.timeout)).await?;
    match args.output {
        Output::Json => print_json(&serde_json::to_value(&receipt)?),
        Output::Text => {
            let fee: Balance = receipt.fee_paid.parse().context("the node sent a malformed fee")?;
            let status = match &receipt.error {
                None => "succeeded".to_string(),
                Some(e) => format!("FAILED ({e})"),
            };
            say!(
                "{what} {} {} in block #{} ({}); fee {}",
                receipt.tx_hash,
                status,
                receipt.block_number,
                receipt.block_hash,
                format_watt(fee)
            );
            for e in describe_events(&receipt) {
                say!("  event: {e}");
            }
        }
    }
    if let Some(e) = receipt.error {
        bail!(
            "the {what} was included in block #{} but failed: {e} (its fee was paid)",
            receipt.block_number
        );
    }
    // A call run as Root through the sudo key reports its own outcome in an event: the
    // transaction succeeds (the key paid) even when the call it carried failed.
    if let Some(e) = root_call_failure(&receipt) {
        bail!(
            "the {what} was included in block #{} but the call it ran as Root failed: {e} (nothing changed; its fee was paid)",
            receipt.block_number
        );
    }
    Ok(())
}

/// The error of a call that `sudo.sudo` ran as Root, from the receipt's `Sudid` event.
fn root_call_failure(receipt: &ReceiptView) -> Option<watt_primitives::DispatchError> {
    receipt.events.iter().find_map(|hex| {
        let bytes = from_hex(hex).ok()?;
        match RuntimeEvent::decode_all(&mut &bytes[..]).ok()? {
            RuntimeEvent::Sudo(watt_runtime::pallet_sudo::Event::Sudid { result: Err(e) }) => Some(e),
            _ => None,
        }
    })
}

pub async fn tx(cmd: TxCommand) -> Result<()> {
    match cmd {
        TxCommand::Transfer {
            to,
            amount,
            keep_alive,
            tx,
        } => {
            let dest = address(&to)?;
            let amount = parse_amount(&amount)?;
            submit_call(&tx, "transfer", &watt_client::transfer_call(dest, amount, keep_alive)).await
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

    #[test]
    fn malformed_amounts_are_refused() {
        let refused = [
            "1.+5WATT",
            "+5",
            "+1WATT",
            "1.-5WATT",
            "-1WATT",
            " 1",
            "1 ",
            "1 000",
            "1.5WATT ",
            " 1.5WATT",
            "1.5  WATT",
            "1. 5WATT",
            "1 .5WATT",
            "1e3",
            "1e3WATT",
            "1.5e2WATT",
            "1..5WATT",
            "1.5.0WATT",
            ".5WATT",
            "1.WATT",
            "WATT",
            " WATT",
            "",
            ".",
            "1.5watt",
            "1.5 watt",
            "0x10",
            "1_000",
            "１WATT",
            "1.5WATTWATT",
        ];
        for s in refused {
            assert!(
                parse_amount(s).is_err(),
                "`{s}` was accepted as {:?}",
                parse_amount(s).ok()
            );
        }
        // u128::MAX units parse; one more does not; neither does the WATT amount past it.
        assert_eq!(
            parse_amount("340282366920938463463374607431768211455").unwrap(),
            u128::MAX
        );
        let e = parse_amount("340282366920938463463374607431768211456").unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
        assert_eq!(
            parse_amount("340282366920938463463.374607431768WATT").unwrap(),
            340_282_366_920_938_463_463_374_607_431_768
        );
        // u128::MAX is 340282366920938463463374607.431768211455 WATT.
        assert_eq!(
            parse_amount("340282366920938463463374607.431768211455WATT").unwrap(),
            u128::MAX
        );
        let e = parse_amount("340282366920938463463374607.431768211456WATT").unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
        let e = parse_amount("340282366920938463463374608WATT").unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            /// Every amount survives being printed: as units and as WATT.
            #[test]
            fn formatted_amounts_parse_back(units in any::<u128>()) {
                prop_assert_eq!(parse_amount(&units.to_string()).unwrap(), units);
                prop_assert_eq!(parse_amount(&format_watt(units)).unwrap(), units);
                let compact = format_watt(units).replace(' ', "");
                prop_assert_eq!(parse_amount(&compact).unwrap(), units);
            }

            /// Whole and fractional digits mean exactly whole * UNIT + fraction.
            #[test]
            fn watt_amounts_mean_whole_and_fraction(whole in any::<u64>(), frac in "[0-9]{1,12}") {
                let expected = whole as u128 * UNIT + format!("{frac:0<12}").parse::<u128>().unwrap();
                prop_assert_eq!(parse_amount(&format!("{whole}.{frac}WATT")).unwrap(), expected);
            }

            /// Any text either is of the documented form or is refused; nothing panics.
            #[test]
            fn only_the_documented_forms_are_accepted(s in "\\PC{0,40}|[0-9.+\\-e WAT]{0,30}") {
                let units = s.bytes().all(|b| b.is_ascii_digit()) && !s.is_empty();
                let watt = s
                    .strip_suffix("WATT")
                    .map(|t| t.strip_suffix(' ').unwrap_or(t))
                    .is_some_and(|t| {
                        let (w, f) = t.split_once('.').unwrap_or((t, "0"));
                        let digits = |d: &str| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit());
                        digits(w) && digits(f) && f.len() <= 12
                    });
                if let Ok(v) = parse_amount(&s) {
                    prop_assert!(units || watt, "`{}` accepted as {}", s, v);
                } else {
                    // Refused forms that look right may only be too large.
                    prop_assert!(!(units && s.len() < 39) && !(watt && s.len() < 25), "`{}` refused", s);
                }
            }

            /// Signs, exponents, inner spaces and extra dots are refused wherever they appear.
            #[test]
            fn a_stray_character_is_refused(
                whole in "[0-9]{1,6}",
                frac in "[0-9]{1,6}",
                stray in prop::sample::select(vec!["+", "-", "e", "E", " ", ".", "_", ",", "\t"]),
                at in 0usize..14,
            ) {
                let mut s = format!("{whole}.{frac}WATT");
                let at = at.min(whole.len() + 1 + frac.len());
                // One space right before the unit is the documented `1.5 WATT` form.
                prop_assume!(!(stray == " " && at == whole.len() + 1 + frac.len()));
                s.insert_str(at, stray);
                prop_assert!(parse_amount(&s).is_err(), "`{}` accepted", s);
            }
        }
    }
}
