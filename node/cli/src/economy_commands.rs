//! The economy's commands: identity attestation (`watt identity`), daily presence (`watt
//! presence`), rewards (`watt rewards`), pledges (`watt pledge`), the supply (`watt supply`) and
//! the day (`watt day`).
//!
//! Commands that send a transaction take the same flags as `watt tx transfer` ([`SubmitArgs`])
//! and go through [`submit_call`]; commands that show state print the node's `watt_*` RPC answer,
//! unchanged with `--output json` (so scripts read the same fields as RPC clients).

use crate::client_commands::{address, format_watt, print_json, submit_call};
use crate::{Output, RpcArg, SubmitArgs};
use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use serde_json::Value;
use watt_client::WattRpc;
use watt_primitives::economy::Role;
use watt_primitives::Balance;
use watt_runtime::{pallet_identity, pallet_pledge, pallet_presence, pallet_rewards, RuntimeCall};

#[derive(Subcommand, Debug)]
pub enum IdentityCommand {
    /// Attest that ADDR belongs to a unique person (signed by a registrar, e.g. //Alice on the
    /// dev chain). Only attested accounts earn check-in rewards.
    Attest {
        /// SS58 address (or 0x-hex public key) of the person.
        address: String,
        #[command(flatten)]
        tx: SubmitArgs,
    },
    /// Revoke ADDR's attestation (signed by a registrar): it stops earning check-in rewards and
    /// its unclaimed rewards are cancelled.
    Revoke {
        /// SS58 address (or 0x-hex public key).
        address: String,
        #[command(flatten)]
        tx: SubmitArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum PresenceCommand {
    /// Check in for today: an attested account may check in once per day, which earns it the
    /// day's pioneer share (and the contributor share with a valid security circle). A second
    /// check-in the same day, or one by an unattested account, is refused and costs nothing.
    CheckIn {
        #[command(flatten)]
        tx: SubmitArgs,
    },
    /// Name your security circle: 3 to 5 distinct attested accounts other than yourself. With
    /// a valid circle, your check-ins also earn the contributor share.
    SetCircle {
        /// The members' SS58 addresses (3 to 5).
        #[arg(required = true, num_args = 1.., value_name = "ADDR")]
        members: Vec<String>,
        #[command(flatten)]
        tx: SubmitArgs,
    },
    /// Name the attested account that referred you (once): it earns an ambassador share on
    /// each day you check in.
    SetReferrer {
        /// The referrer's SS58 address.
        referrer: String,
        #[command(flatten)]
        tx: SubmitArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum RewardsCommand {
    /// An account's rewards: claimable now (days already closed), by role, today's shares.
    Show {
        /// SS58 address (or 0x-hex public key).
        address: String,
        #[command(flatten)]
        show: ShowArgs,
    },
    /// Claim everything claimable into your free balance.
    Claim {
        #[command(flatten)]
        tx: SubmitArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum PledgeCommand {
    /// Bond UNITS pledge units (each costs the chain's WATT per unit, see `watt pledge show`)
    /// for pledge-mining and storage-mining rights; validators must hold a minimum pledge.
    Bond {
        /// Units to bond (at least 1).
        #[arg(value_parser = clap::value_parser!(u64).range(1..))]
        units: u64,
        #[command(flatten)]
        tx: SubmitArgs,
    },
    /// Start unbonding UNITS units: the WATT becomes withdrawable after the unbonding period.
    Unbond {
        /// Units to unbond (at least 1).
        #[arg(value_parser = clap::value_parser!(u64).range(1..))]
        units: u64,
        #[command(flatten)]
        tx: SubmitArgs,
    },
    /// Return every unbonding chunk whose period is over to your free balance.
    Withdraw {
        #[command(flatten)]
        tx: SubmitArgs,
    },
    /// An account's pledge: units, WATT bonded, unbonding chunks, whether it is a validator.
    Show {
        /// SS58 address (or 0x-hex public key).
        address: String,
        #[command(flatten)]
        show: ShowArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum SudoCommand {
    /// Replace the economy parameters, as Root through the sudo key. FILE holds the JSON of a
    /// chain spec's `genesis.economy.params` (as `watt chain-spec --dev` writes it); the
    /// runtime refuses parameters that fail their check or a cap below the current issuance.
    SetParams {
        /// The parameters' JSON file.
        file: std::path::PathBuf,
        #[command(flatten)]
        tx: SubmitArgs,
    },
    /// Replace the registrars (who may attest unique persons), as Root through the sudo key.
    SetRegistrars {
        /// The registrars' SS58 addresses (none: no one can attest).
        #[arg(num_args = 0.., value_name = "ADDR")]
        registrars: Vec<String>,
        #[command(flatten)]
        tx: SubmitArgs,
    },
    /// Replace the validators the chain pays the validator share to, as Root through the sudo
    /// key (a validator must also hold the minimum pledge to earn it).
    SetValidators {
        /// The validators' SS58 addresses.
        #[arg(num_args = 0.., value_name = "ADDR")]
        validators: Vec<String>,
        #[command(flatten)]
        tx: SubmitArgs,
    },
}

/// Where to read from and how to print it.
#[derive(Args, Debug)]
pub struct ShowArgs {
    #[command(flatten)]
    rpc: RpcArg,
    /// Output format (json: the node's RPC answer as is).
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

pub async fn sudo(cmd: SudoCommand) -> Result<()> {
    let addresses = |list: &[String]| list.iter().map(|a| address(a)).collect::<Result<Vec<_>>>();
    let (tx, what, call) = match cmd {
        SudoCommand::SetParams { file, tx } => {
            let text = std::fs::read_to_string(&file).with_context(|| format!("read {}", file.display()))?;
            let spec: watt_chain::spec::EconomyParamsSpec = serde_json::from_str(&text)
                .with_context(|| format!("{} is not the JSON of economy parameters", file.display()))?;
            let params = spec.to_params()?;
            let call = RuntimeCall::Rewards(pallet_rewards::Call::SetParams { params });
            (tx, "parameter change", call)
        }
        SudoCommand::SetRegistrars { registrars, tx } => {
            let registrars = addresses(&registrars)?;
            let call = RuntimeCall::Identity(pallet_identity::Call::SetRegistrars { registrars });
            (tx, "registrar change", call)
        }
        SudoCommand::SetValidators { validators, tx } => {
            let validators = addresses(&validators)?;
            let call = RuntimeCall::Pledge(pallet_pledge::Call::SetValidators { validators });
            (tx, "validator change", call)
        }
    };
    submit_call(&tx, what, &watt_runtime::sudo(call)).await
}

pub async fn identity(cmd: IdentityCommand) -> Result<()> {
    let (tx, what, call) = match cmd {
        IdentityCommand::Attest { address: a, tx } => {
            (tx, "attestation", pallet_identity::Call::Attest { who: address(&a)? })
        }
        IdentityCommand::Revoke { address: a, tx } => {
            (tx, "revocation", pallet_identity::Call::Revoke { who: address(&a)? })
        }
    };
    submit_call(&tx, what, &RuntimeCall::Identity(call)).await
}

pub async fn presence(cmd: PresenceCommand) -> Result<()> {
    let (tx, what, call) = match cmd {
        PresenceCommand::CheckIn { tx } => (tx, "check-in", pallet_presence::Call::CheckIn),
        PresenceCommand::SetCircle { members, tx } => {
            let members = members.iter().map(|m| address(m)).collect::<Result<Vec<_>>>()?;
            (tx, "security circle", pallet_presence::Call::SetCircle { members })
        }
        PresenceCommand::SetReferrer { referrer, tx } => (
            tx,
            "referrer",
            pallet_presence::Call::SetReferrer {
                referrer: address(&referrer)?,
            },
        ),
    };
    submit_call(&tx, what, &RuntimeCall::Presence(call)).await
}

pub async fn rewards(cmd: RewardsCommand) -> Result<()> {
    match cmd {
        RewardsCommand::Show { address: a, show } => {
            let who = address(&a)?;
            let v = fetch(&show, "watt_rewards", vec![who.to_ss58().into()]).await?;
            show_with(&show, &v, rewards_text)
        }
        RewardsCommand::Claim { tx } => {
            submit_call(&tx, "claim", &RuntimeCall::Rewards(pallet_rewards::Call::Claim)).await
        }
    }
}

pub async fn pledge(cmd: PledgeCommand) -> Result<()> {
    let (tx, what, call) = match cmd {
        PledgeCommand::Bond { units, tx } => (tx, "bond", pallet_pledge::Call::Bond { units }),
        PledgeCommand::Unbond { units, tx } => (tx, "unbond", pallet_pledge::Call::Unbond { units }),
        PledgeCommand::Withdraw { tx } => (tx, "withdrawal", pallet_pledge::Call::Withdraw),
        PledgeCommand::Show { address: a, show } => {
            let who = address(&a)?;
            let v = fetch(&show, "watt_pledge", vec![who.to_ss58().into()]).await?;
            return show_with(&show, &v, pledge_text);
        }
    };
    submit_call(&tx, what, &RuntimeCall::Pledge(call)).await
}

pub async fn supply(show: ShowArgs) -> Result<()> {
    let v = fetch(&show, "watt_supply", vec![]).await?;
    show_with(&show, &v, supply_text)
}

pub async fn day(show: ShowArgs) -> Result<()> {
    let v = fetch(&show, "watt_day", vec![]).await?;
    show_with(&show, &v, day_text)
}

async fn fetch(show: &ShowArgs, method: &str, params: Vec<Value>) -> Result<Value> {
    Ok(WattRpc::new(&show.rpc.rpc)?.call(method, params).await?)
}

/// Prints `v` as JSON, or the lines `text` makes of it.
fn show_with(show: &ShowArgs, v: &Value, text: fn(&Value) -> Result<Vec<String>>) -> Result<()> {
    match show.output {
        Output::Json => print_json(v),
        Output::Text => {
            for line in text(v)? {
                say!("{line}");
            }
        }
    }
    Ok(())
}

/// The balance (a decimal string) at `key` of `v`, as WATT.
fn watt(v: &Value, key: &str) -> Result<String> {
    let units: Balance = v[key]
        .as_str()
        .and_then(|s| s.parse().ok())
        .with_context(|| format!("the node sent no balance `{key}`: {v}"))?;
    Ok(format_watt(units))
}

/// The per-role object at `key` of `v` as `pioneer X, contributor Y, ...`, each value shown by
/// `show`.
fn roles(v: &Value, key: &str, show: impl Fn(&Value, &str) -> Result<String>) -> Result<String> {
    let per = &v[key];
    Role::ALL
        .iter()
        .map(|r| Ok(format!("{} {}", r.name(), show(per, r.name())?)))
        .collect::<Result<Vec<_>>>()
        .map(|parts| parts.join(", "))
}

/// A count at `key` of `v`.
fn count(v: &Value, key: &str) -> Result<String> {
    v[key]
        .as_u64()
        .map(|n| n.to_string())
        .with_context(|| format!("the node sent no count `{key}`: {v}"))
}

fn yes_no(v: &Value, key: &str) -> Result<&'static str> {
    match v[key].as_bool() {
        Some(true) => Ok("yes"),
        Some(false) => Ok("no"),
        None => anyhow::bail!("the node sent no flag `{key}`: {v}"),
    }
}

fn rewards_text(v: &Value) -> Result<Vec<String>> {
    Ok(vec![
        format!("account:          {}", v["account"].as_str().unwrap_or("?")),
        format!("claimable:        {}", watt(v, "claimable")?),
        format!("  by role:        {}", roles(v, "by_role", watt)?),
        format!("unclaimed days:   {}", count(v, "unclaimed_days")?),
        format!("today's shares:   {}", roles(v, "today", count)?),
        format!("attested:         {}", yes_no(v, "attested")?),
        format!("checked in today: {}", yes_no(v, "checked_in_today")?),
        format!("claimed in total: {}", watt(v, "claimed_total")?),
    ])
}

fn pledge_text(v: &Value) -> Result<Vec<String>> {
    let mut lines = vec![
        format!("account:   {}", v["account"].as_str().unwrap_or("?")),
        format!("units:     {}", count(v, "units")?),
        format!("bonded:    {}", watt(v, "bonded")?),
        format!("validator: {}", yes_no(v, "validator")?),
    ];
    let chunks = v["unbonding"].as_array().map(Vec::as_slice).unwrap_or_default();
    if chunks.is_empty() {
        lines.push("unbonding: nothing".into());
    }
    for c in chunks {
        lines.push(format!(
            "unbonding: {} withdrawable from day {}",
            watt(c, "amount")?,
            count(c, "day")?
        ));
    }
    Ok(lines)
}

fn supply_text(v: &Value) -> Result<Vec<String>> {
    Ok(vec![
        format!("total issuance:  {}", watt(v, "total_issuance")?),
        format!("cap:             {}", watt(v, "cap")?),
        format!("phase:           {}", v["phase"].as_str().unwrap_or("?")),
        format!(
            "check-in mined:  {} of {}",
            watt(v, "checkin_minted")?,
            watt(v, "checkin_total")?
        ),
        format!("phase 2 minted:  {}", watt(v, "phase2_minted")?),
        format!(
            "storage pool:    server {}, mobile {}",
            watt(&v["storage_pool"], "server")?,
            watt(&v["storage_pool"], "mobile")?
        ),
        format!("team locked:     {}", watt(v, "team_locked")?),
        format!("burned:          {}", watt(v, "burned")?),
        format!("unclaimed:       {}", watt(v, "unclaimed")?),
    ])
}

fn day_text(v: &Value) -> Result<Vec<String>> {
    Ok(vec![
        format!(
            "day {} ({} blocks a day, {} left)",
            count(v, "day")?,
            count(v, "day_blocks")?,
            count(v, "blocks_left")?
        ),
        format!("phase:        {}", v["phase"].as_str().unwrap_or("?")),
        format!("issuance:     {}", watt(v, "issuance")?),
        format!("fee pool:     {}", watt(v, "fee_pool")?),
        format!("participants: {}", roles(v, "participants", count)?),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn rewards_are_shown_in_watt_by_role() {
        let v = json!({
            "account": "5Grw",
            "claimable": "1500000000000",
            "by_role": {
                "pioneer": "1000000000000", "contributor": "500000000000",
                "ambassador": "0", "validator": "0", "pledger": "0",
            },
            "unclaimed_days": 2,
            "today": {"pioneer": 1, "contributor": 0, "ambassador": 0, "validator": 3, "pledger": 10},
            "attested": true,
            "checked_in_today": false,
            "claimed_total": "0",
        });
        let text = rewards_text(&v).unwrap().join("\n");
        assert!(text.contains("claimable:        1.5 WATT"), "{text}");
        assert!(
            text.contains("pioneer 1 WATT, contributor 0.5 WATT, ambassador 0 WATT"),
            "{text}"
        );
        assert!(text.contains("validator 3, pledger 10"), "{text}");
        assert!(
            text.contains("attested:         yes") && text.contains("checked in today: no"),
            "{text}"
        );
    }

    #[test]
    fn a_malformed_answer_is_an_error_naming_the_field() {
        let v = json!({"claimable": 15, "by_role": {}});
        let e = rewards_text(&v).unwrap_err().to_string();
        assert!(e.contains("`claimable`"), "{e}");
        let e = pledge_text(&json!({"units": 1, "bonded": "1", "validator": "no"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("`validator`"), "{e}");
    }

    #[test]
    fn pledges_list_their_unbonding_chunks() {
        let v = json!({
            "account": "5Grw", "units": 3, "bonded": "3000000000000000", "validator": false,
            "unbonding": [{"day": 30, "amount": "1000000000000000"}],
        });
        let text = pledge_text(&v).unwrap().join("\n");
        assert!(text.contains("bonded:    3000 WATT"), "{text}");
        assert!(text.contains("unbonding: 1000 WATT withdrawable from day 30"), "{text}");
    }
}
