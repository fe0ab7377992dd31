//! `watt contract`: create, build, deploy and call Wasm contracts.
//!
//! - `new NAME`: a contract project (a flipper written with the SDK, with an off-chain test).
//! - `build`: compiles the project to `wasm32-unknown-unknown` optimised for size, takes the
//!   metadata out of its `watt_metadata` section into `target/<name>.json`, strips custom
//!   sections, puts `call_indirect` in the MVP encoding and checks the result with the chain's
//!   upload validation, writing `target/<name>.wasm`.
//! - `deploy WASM`, `call ADDR`, `query ADDR`: JSON arguments are SCALE-encoded through the
//!   metadata's types ([`abi`]); every command dry-runs first (`watt_contractInstantiate` /
//!   `watt_contractCall`); `--execute` then submits the transaction and waits for its receipt.
//!   `deploy` refuses code over the chain's size limit (the contracts schedule's
//!   `max_code_len`) before sending anything. Code too large to dry-run in one request (512 KiB
//!   of code is 1 MiB of hex, the node's default request limit) is uploaded first with
//!   `--execute` (`UploadCodeChunk`s, resuming an upload in progress), after the chain's upload
//!   validation passed locally; the instantiation is then dry-run by code hash and submitted
//!   as an `Instantiate` by hash. Code already on chain is always instantiated by hash.
//!
//! Metadata of deployed contracts is remembered by address in
//! `$XDG_CACHE_HOME/watt/contracts/<address>.json` (else `~/.cache/...`, else
//! `./target/watt-contracts/`), so `call` and `query` need no `--metadata` afterwards.

mod abi;
mod build;
mod template;

use crate::client_commands::{format_watt, parse_amount, print_json};
use crate::{Output, RpcArg, WaitArg};
use abi::{Metadata, Ty};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Subcommand};
use parity_scale_codec::{DecodeAll, Encode};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Duration;
use watt_client::contract::{self as c, Code, ExecLimits, ExecOutcome, ExecView};
use watt_client::rpc::{from_hex, to_hex, ReceiptView, WaitFor};
use watt_client::{Keypair, RpcError, WattRpc};
use watt_primitives::AccountId;
use watt_primitives::Balance;
use watt_runtime::{pallet_contracts, RuntimeCall, RuntimeEvent};

#[derive(Subcommand, Debug)]
pub enum ContractCommand {
    /// Create a contract project: Cargo.toml and a flipper contract with an off-chain test.
    New(template::NewArgs),
    /// Build the contract in the current directory (or --path) to target/<name>.wasm and
    /// target/<name>.json (its metadata), checked by the chain's upload validation.
    Build(build::BuildArgs),
    /// Instantiate a contract: dry-run, and with --execute upload and instantiate it.
    ///
    /// Prints the address (computed from the deployer, the code hash and the salt), gas used and
    /// storage deposit. With --execute the metadata is remembered by address for `call`/`query`.
    Deploy(DeployArgs),
    /// Call a message: dry-run (prints the decoded return value), and with --execute submit it.
    Call(CallArgs),
    /// Dry-run a message and print its decoded return value (nothing is written).
    Query(QueryArgs),
}

/// Who signs or, for a dry-run, on whose behalf, and how transactions are sent.
#[derive(Args, Debug, Clone)]
pub struct TxArgs {
    /// Secret URI of the signer (e.g. //Alice); needed with --execute. Never logged.
    #[arg(long, value_name = "SURI")]
    from: Option<String>,
    /// Dry-run as this address instead of --from's (default: --from's, else the zero account).
    #[arg(long, value_name = "ADDR")]
    origin: Option<String>,
    /// Submit the transaction after the dry-run (default: dry-run only).
    #[arg(long)]
    execute: bool,
    /// Tip on top of the fee (units or WATT).
    #[arg(long, default_value = "0")]
    tip: String,
    /// With --execute: wait until the transaction is in a block (included) or a finalized one.
    #[arg(long, value_enum, default_value = "finalized")]
    wait: WaitArg,
    /// Seconds to wait at most for each transaction.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    #[command(flatten)]
    rpc: RpcArg,
    /// Output format.
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

/// Value, gas and deposit settings.
#[derive(Args, Debug, Clone)]
pub struct LimitArgs {
    /// Value sent along (units or WATT, e.g. 1.5WATT).
    #[arg(long, default_value = "0")]
    value: String,
    /// Gas limit of the transaction (default: the dry-run's gas × 1.2 + 50,000).
    #[arg(long, value_name = "GAS")]
    gas_limit: Option<u64>,
    /// Most storage deposit the transaction may take (units or WATT; default: what the
    /// dry-run charged, so a contract cannot take more from you than it showed).
    #[arg(long, value_name = "AMOUNT")]
    storage_deposit_limit: Option<String>,
}

/// The deposit limit of a submitted transaction: the one given, else what its dry-run charged
/// (nothing when it refunded).
fn deposit_limit(given: Option<Balance>, dry: &c::DepositView) -> Result<Option<Balance>> {
    if given.is_some() {
        return Ok(given);
    }
    Ok(Some(match dry {
        c::DepositView::Charge(n) => n.parse().context("the dry-run's storage deposit")?,
        c::DepositView::Refund(_) => 0,
    }))
}

impl LimitArgs {
    fn limits(&self) -> Result<ExecLimits> {
        Ok(ExecLimits {
            value: parse_amount(&self.value).context("--value")?,
            gas_limit: self.gas_limit,
            storage_deposit_limit: self
                .storage_deposit_limit
                .as_deref()
                .map(parse_amount)
                .transpose()
                .context("--storage-deposit-limit")?,
        })
    }
}

#[derive(Args, Debug)]
pub struct DeployArgs {
    /// The contract's wasm (from `watt contract build`).
    wasm: PathBuf,
    /// Constructor to run.
    #[arg(long, default_value = "new")]
    constructor: String,
    /// Constructor arguments as a JSON array (or an object by argument name), e.g. '[1000000]'.
    #[arg(long, default_value = "[]")]
    args: String,
    /// The metadata (default: WASM with the extension .json).
    #[arg(long, value_name = "FILE")]
    metadata: Option<PathBuf>,
    /// Address salt, 0x hex (default: the deployer's next nonce, so each deploy gets a new
    /// address).
    #[arg(long, value_name = "HEX")]
    salt: Option<String>,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    tx: TxArgs,
}

#[derive(Args, Debug)]
pub struct CallArgs {
    /// The contract's address (SS58 or 0x hex).
    address: String,
    /// Message to call.
    #[arg(long)]
    message: String,
    /// Arguments as a JSON array (or an object by argument name), e.g. '["5F…", 250]'.
    #[arg(long, default_value = "[]")]
    args: String,
    /// The metadata (default: remembered at deploy, else a build's target/*.json whose wasm
    /// is this contract's code).
    #[arg(long, value_name = "FILE")]
    metadata: Option<PathBuf>,
    #[command(flatten)]
    limits: LimitArgs,
    #[command(flatten)]
    tx: TxArgs,
}

#[derive(Args, Debug)]
pub struct QueryArgs {
    /// The contract's address (SS58 or 0x hex).
    address: String,
    /// Message to dry-run.
    #[arg(long)]
    message: String,
    /// Arguments as a JSON array (or an object by argument name).
    #[arg(long, default_value = "[]")]
    args: String,
    /// The metadata (default as for `call`).
    #[arg(long, value_name = "FILE")]
    metadata: Option<PathBuf>,
    /// Dry-run as this address (default: the zero account).
    #[arg(long, value_name = "ADDR")]
    origin: Option<String>,
    /// Value sent along (units or WATT).
    #[arg(long, default_value = "0")]
    value: String,
    #[command(flatten)]
    rpc: RpcArg,
    /// Output format (json: {"result", "gas_used", "events", ...}).
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

pub fn run(cmd: ContractCommand) -> Result<()> {
    match cmd {
        ContractCommand::New(a) => template::new(a),
        ContractCommand::Build(a) => build::build(a),
        other => crate::client_commands::runtime()?.block_on(run_rpc(other)),
    }
}

async fn run_rpc(cmd: ContractCommand) -> Result<()> {
    match cmd {
        ContractCommand::Deploy(a) => deploy(a).await,
        ContractCommand::Call(a) => call(a).await,
        ContractCommand::Query(a) => query(a).await,
        ContractCommand::New(_) | ContractCommand::Build(_) => unreachable!("handled by run"),
    }
}

fn address(s: &str) -> Result<AccountId> {
    AccountId::from_ss58(s).map_err(|e| anyhow!("invalid address `{s}`: {e}"))
}

fn args_json(s: &str) -> Result<Value> {
    serde_json::from_str(s).with_context(|| format!("--args is not JSON: {s}"))
}

impl TxArgs {
    fn signer(&self) -> Result<Option<Keypair>> {
        self.from
            .as_deref()
            .map(Keypair::from_suri)
            .transpose()
            .map_err(Into::into)
    }

    /// The dry-run's origin: --origin, else the signer, else the zero account.
    fn origin(&self, signer: Option<&Keypair>) -> Result<AccountId> {
        match (&self.origin, signer) {
            (Some(o), _) => address(o),
            (None, Some(k)) => Ok(k.account()),
            (None, None) => Ok(AccountId([0; 32])),
        }
    }
}

/// Gas for a transaction from its dry-run: × 1.2 + 50,000, unless given.
fn gas_limit(given: Option<u64>, dry_gas: u64) -> u64 {
    given.unwrap_or_else(|| dry_gas.saturating_add(dry_gas / 5).saturating_add(50_000))
}

/// Signs and submits `call`, waits as asked, and returns the receipt (an error when it was
/// refused, timed out or failed).
async fn submit(
    client: &WattRpc,
    tx: &TxArgs,
    signer: &Keypair,
    nonce: u64,
    what: &str,
    call: &RuntimeCall,
) -> Result<ReceiptView> {
    let tip = parse_amount(&tx.tip).context("--tip")?;
    let genesis = client.genesis_hash().await?;
    let signed = watt_client::sign(signer, nonce, tip, genesis, call);
    let hash = client.submit(&signed).await.map_err(|e| match e {
        e @ RpcError::Server { .. } => {
            anyhow::Error::new(e).context(format!("the {what} was refused; nothing changed"))
        }
        e => anyhow::Error::new(e).context(format!("the {what} may not have reached the node")),
    })?;
    let until = match tx.wait {
        // Contract transactions are followed by their results: at least inclusion.
        WaitArg::None | WaitArg::Included => WaitFor::Included,
        WaitArg::Finalized => WaitFor::Finalized,
    };
    let receipt = client.wait(&hash, until, Duration::from_secs(tx.timeout)).await?;
    if let Some(e) = &receipt.error {
        bail!(
            "the {what} {} was included in block #{} but failed: {e} (its fee was paid)",
            receipt.tx_hash,
            receipt.block_number
        );
    }
    Ok(receipt)
}

/// The runtime events of a receipt's (hex) events that decode.
fn receipt_events(events: &[String]) -> Vec<RuntimeEvent> {
    events
        .iter()
        .filter_map(|h| {
            from_hex(h)
                .ok()
                .and_then(|b| RuntimeEvent::decode_all(&mut &b[..]).ok())
        })
        .collect()
}

/// A dry-run's events as JSON, decoded through the metadata where they decode.
fn events_json(view: &ExecView, meta: Option<&Metadata>) -> Vec<Value> {
    view.events
        .iter()
        .map(|e| {
            let decoded = from_hex(&e.data)
                .ok()
                .and_then(|d| meta.and_then(|m| m.decode_event(&d)));
            json!({"contract": e.contract, "topics": e.topics, "data": e.data, "decoded": decoded})
        })
        .collect()
}

/// Prints a dry-run's facts in text form.
fn print_dry_run(view: &ExecView) {
    say!("dry-run gas used: {}", view.gas_used);
    match &view.storage_deposit {
        c::DepositView::Charge(d) => say!("storage deposit: charge {d} units"),
        c::DepositView::Refund(d) => say!("storage deposit: refund {d} units"),
    }
    if !view.debug_message.is_empty() {
        say!("debug message: {}", view.debug_message);
    }
}

/// The output bytes of a dry-run that returned, or an error saying why it failed (trap, pallet
/// error), with the contract's debug message.
fn returned(view: &ExecView, what: &str) -> Result<(bool, Vec<u8>)> {
    match &view.result {
        ExecOutcome::Ok { reverted, data } => Ok((
            *reverted,
            from_hex(data).map_err(|e| anyhow!("node sent bad output: {e}"))?,
        )),
        ExecOutcome::Err(e) => {
            let debug = if view.debug_message.is_empty() {
                String::new()
            } else {
                format!("; debug message: {}", view.debug_message)
            };
            bail!("the {what} dry-run failed: {e} (gas used {}){debug}", view.gas_used)
        }
    }
}

fn deposit_json(d: &c::DepositView) -> Value {
    serde_json::to_value(d).unwrap_or(Value::Null)
}

/// The node's default `--rpc-max-request-size`: a node with default settings refuses a larger
/// request (HTTP 413).
const DEFAULT_MAX_REQUEST: usize = 1 << 20;

/// Bytes of a `watt_contractInstantiate` request carrying the code itself: hex doubles each
/// byte of code, input and salt; the rest (method, origin, limits) is well under 512 bytes.
fn dry_run_request_len(code: usize, input: usize, salt: usize) -> usize {
    2 * (code + input + salt) + 512
}

/// Whether the node refused a request for its size (HTTP 413: over `--rpc-max-request-size`).
fn refused_as_too_large(e: &RpcError) -> bool {
    matches!(e, RpcError::Transport { reason, .. } if reason.contains("413"))
}

/// The refusal of code larger than the chain takes, naming the rule and the limit.
fn code_too_large(path: &Path, len: usize, max: usize) -> anyhow::Error {
    anyhow!(
        "{} is {len} bytes of contract code, over the chain's limit of {max} bytes per contract \
         (the contracts schedule's max_code_len; 524288 bytes, 512 KiB, by default); nothing was \
         sent. Make the contract smaller: `watt contract build` optimises for size and strips \
         custom sections",
        path.display()
    )
}

/// The contracts schedule in force, or the default one (with a note) when this client cannot
/// decode the node's.
async fn schedule(client: &WattRpc) -> Result<pallet_contracts::Schedule> {
    match client.contract_schedule().await {
        Ok(s) => Ok(s),
        Err(e @ RpcError::BadAnswer { .. }) => {
            eprintln!("note: {e}; checking the code against the default schedule's limits");
            Ok(pallet_contracts::Schedule::default())
        }
        Err(e) => Err(e.into()),
    }
}

/// Every event of a receipt: its first page and, when the transaction emitted more than one
/// response carries, the rest (`watt_receipt` pages).
async fn all_events(client: &WattRpc, receipt: &ReceiptView) -> Result<Vec<String>> {
    if receipt.events_next.is_none() {
        return Ok(receipt.events.clone());
    }
    let hash = watt_client::rpc::hash_from_hex(&receipt.tx_hash).map_err(|e| anyhow!("receipt hash: {e}"))?;
    Ok(client.receipt_events(&hash).await?.unwrap_or_default())
}

/// Uploads `code` alone, signed by `signer` from `nonce` on: one `UploadCode`, or chunks that
/// resume an upload of the same code in progress. Returns the receipts.
#[allow(clippy::too_many_arguments)]
async fn upload(
    client: &WattRpc,
    tx: &TxArgs,
    signer: &Keypair,
    nonce: u64,
    code: &[u8],
    code_hash: &watt_primitives::Hash,
    max_tx_len: usize,
    text: bool,
) -> Result<Vec<ReceiptView>> {
    let from = match client.upload_in_progress(&signer.account(), code_hash).await? {
        Some(u) if u.total_len as usize == code.len() && code.starts_with(&u.received) => u.received.len(),
        Some(u) => bail!(
            "an upload of {} by {} is in progress with other bytes ({} of {}); cancel it \
             (contracts.cancel_upload) and deploy again",
            to_hex(code_hash),
            signer.account(),
            u.received.len(),
            u.total_len
        ),
        None => 0,
    };
    let calls = c::upload_calls(code, from, max_tx_len);
    if text {
        say!(
            "uploading the code first ({} transaction{}{}), then dry-running the instantiation by its hash",
            calls.len(),
            if calls.len() == 1 { "" } else { "s" },
            if from > 0 {
                format!(", resuming after the {from} bytes already on chain")
            } else {
                String::new()
            }
        );
    }
    let mut receipts = Vec::new();
    for (i, call) in calls.iter().enumerate() {
        let what = match call {
            RuntimeCall::Contracts(pallet_contracts::Call::UploadCodeChunk { offset, chunk, .. }) => {
                format!("code chunk at {offset} ({} bytes)", chunk.len())
            }
            _ => "code upload".to_string(),
        };
        if text {
            say!("submitting {what} ({}/{})", i + 1, calls.len());
        }
        receipts.push(submit(client, tx, signer, nonce + i as u64, &what, call).await?);
    }
    Ok(receipts)
}

async fn deploy(a: DeployArgs) -> Result<()> {
    let code = std::fs::read(&a.wasm).with_context(|| format!("read {}", a.wasm.display()))?;
    let meta_path = a.metadata.clone().unwrap_or_else(|| a.wasm.with_extension("json"));
    let meta_text = std::fs::read(&meta_path).with_context(|| {
        format!(
            "read the metadata {} (give --metadata FILE; `watt contract build` writes it beside the wasm)",
            meta_path.display()
        )
    })?;
    let meta = Metadata::parse(&meta_text)?;
    let ctor = meta.constructor(&a.constructor)?;
    let input = ctor.encode_input(&args_json(&a.args)?)?;
    let limits = a.limits.limits()?;
    let signer = a.tx.signer()?;
    if a.tx.execute && signer.is_none() {
        bail!("--execute needs --from (the signer)");
    }
    let origin = a.tx.origin(signer.as_ref())?;
    let client = WattRpc::new(&a.tx.rpc.rpc)?;
    // Refused before anything is sent: the chain would refuse it at upload, fee paid.
    let schedule = schedule(&client).await?;
    let max_code = c::max_code_len(&schedule);
    if code.len() > max_code {
        return Err(code_too_large(&a.wasm, code.len(), max_code));
    }
    let nonce = match &signer {
        Some(k) => client.next_nonce(&k.account()).await?,
        None => 0,
    };
    let salt = match &a.salt {
        Some(s) => from_hex(s).map_err(|e| anyhow!("--salt: {e}"))?,
        None => nonce.encode(),
    };
    let code_hash = c::code_hash(&code);
    let expected = c::contract_address(&origin, &code_hash, &salt);
    let dry_limits = ExecLimits {
        gas_limit: limits.gas_limit,
        ..limits.clone()
    };
    let text = a.tx.output == Output::Text;
    if text {
        say!(
            "code {} ({} bytes), constructor {}({})",
            to_hex(&code_hash),
            code.len(),
            ctor.name,
            ctor.signature()
        );
    }
    // The dry-run sends the code itself when it fits one request; code already on chain, or
    // too large for a request (512 KiB of code is 1 MiB of hex), is dry-run by its hash, after
    // uploading it when it is not on chain yet.
    let on_chain = client.code_info(&code_hash).await?.is_some();
    let mut dry = None;
    if !on_chain && dry_run_request_len(code.len(), input.len(), salt.len()) <= DEFAULT_MAX_REQUEST {
        match client
            .contract_instantiate(&origin, Code::Wasm(&code), &dry_limits, &input, &salt)
            .await
        {
            Ok(view) => dry = Some(view),
            // A node with a smaller --rpc-max-request-size: go by hash as for larger code.
            Err(e) if refused_as_too_large(&e) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let by_hash = dry.is_none();
    let max_tx_len = client.chain_params().await?.max_tx_len as usize;
    let mut receipts = Vec::new();
    if by_hash && !on_chain {
        if !a.tx.execute {
            bail!(
                "{} is {} bytes: its dry-run would send about {} bytes, more than a node takes in one \
                 request (1 MiB by default, `watt node --rpc-max-request-size`), and the code is not on \
                 chain yet; nothing was sent. Deploy it with --execute --from SURI: the code is uploaded \
                 first and the instantiation dry-run by its code hash before it is submitted",
                a.wasm.display(),
                code.len(),
                dry_run_request_len(code.len(), input.len(), salt.len())
            );
        }
        // Checked here as the chain checks it, so that code it would refuse costs nothing.
        build::check_upload(&code, &watt_contract_validation::Limits::from(&schedule.code_limits))
            .map_err(|e| anyhow!("{} would be refused at upload: {e}; nothing was sent", a.wasm.display()))?;
        let signer = signer.as_ref().expect("checked above");
        receipts = upload(&client, &a.tx, signer, nonce, &code, &code_hash, max_tx_len, text).await?;
    }
    let uploaded = !receipts.is_empty();
    let dry = match dry {
        Some(view) => view,
        None => {
            client
                .contract_instantiate(&origin, Code::Hash(code_hash), &dry_limits, &input, &salt)
                .await?
        }
    };
    // When the code was uploaded first, it stays on chain (with its deposit) whatever follows.
    let kept = |e: anyhow::Error| {
        if uploaded {
            e.context(format!(
                "the code {} was uploaded and stays on chain (its deposit is held until \
                 contracts.remove_code)",
                to_hex(&code_hash)
            ))
        } else {
            e
        }
    };
    if text {
        print_dry_run(&dry);
    }
    let (reverted, data) = returned(&dry, "instantiation").map_err(kept)?;
    if reverted {
        return Err(kept(anyhow!(
            "the constructor reverted (output {}); nothing was deployed{}",
            to_hex(&data),
            debug_suffix(&dry)
        )));
    }
    let gas = gas_limit(limits.gas_limit, dry.gas_used);
    let mut out = json!({
        "address": expected.to_ss58(),
        "code_hash": to_hex(&code_hash),
        "code_len": code.len(),
        "dry_run_by": if by_hash { "code_hash" } else { "code" },
        "gas_used": dry.gas_used,
        "gas_limit": gas,
        "storage_deposit": deposit_json(&dry.storage_deposit),
        "debug_message": dry.debug_message,
        "events": events_json(&dry, Some(&meta)),
        "executed": a.tx.execute,
    });
    if !a.tx.execute {
        match a.tx.output {
            Output::Json => print_json(&out),
            Output::Text => say!("address (dry-run, not deployed; add --execute --from SURI): {expected}"),
        }
        return Ok(());
    }
    let signer = signer.expect("checked above");
    let limits = ExecLimits {
        storage_deposit_limit: deposit_limit(limits.storage_deposit_limit, &dry.storage_deposit)?,
        ..limits
    };
    // Code on chain (uploaded just now or before) is instantiated by hash: uploading it again
    // would be refused as existing code.
    let calls = if by_hash {
        vec![c::instantiate_call(code_hash, &limits, gas, input, salt)]
    } else {
        c::deploy_calls(&code, &limits, gas, input, salt, max_tx_len)
    };
    let first = nonce + receipts.len() as u64;
    for (i, call) in calls.iter().enumerate() {
        let what = match call {
            RuntimeCall::Contracts(pallet_contracts::Call::UploadCodeChunk { offset, chunk, .. }) => {
                format!("code chunk at {offset} ({} bytes)", chunk.len())
            }
            _ => "instantiation".to_string(),
        };
        if text {
            say!("submitting {what} ({}/{})", i + 1, calls.len());
        }
        receipts.push(submit(&client, &a.tx, &signer, first + i as u64, &what, call).await?);
    }
    let last = receipts.last().expect("at least one transaction");
    let address = receipt_events(&all_events(&client, last).await?)
        .into_iter()
        .find_map(|e| match e {
            RuntimeEvent::Contracts(pallet_contracts::Event::Instantiated { deployer, contract })
                if deployer == signer.account() =>
            {
                Some(contract)
            }
            _ => None,
        })
        .unwrap_or(expected);
    let remembered = remember(&address, &meta_text);
    out["address"] = json!(address.to_ss58());
    out["tx_hashes"] = json!(receipts.iter().map(|r| r.tx_hash.clone()).collect::<Vec<_>>());
    out["block_number"] = json!(last.block_number);
    out["fee_paid"] = json!(receipts
        .iter()
        .map(|r| r.fee_paid.parse::<u128>().unwrap_or(0))
        .sum::<u128>()
        .to_string());
    out["metadata_saved"] = json!(remembered.as_ref().map(|p| p.display().to_string()).ok());
    match a.tx.output {
        Output::Json => print_json(&out),
        Output::Text => {
            say!("deployed {} at {address} in block #{}", meta.name, last.block_number);
            match remembered {
                Ok(p) => say!("metadata remembered at {}", p.display()),
                Err(e) => say!("metadata not remembered ({e:#}); pass --metadata to call/query"),
            }
        }
    }
    Ok(())
}

fn debug_suffix(view: &ExecView) -> String {
    if view.debug_message.is_empty() {
        String::new()
    } else {
        format!("; debug message: {}", view.debug_message)
    }
}

/// Directories of remembered metadata, in the order tried: under the user's cache directory
/// (`$XDG_CACHE_HOME`, else `$HOME/.cache`) when that exists — a cache home that does not
/// exist is not created (a test harness points it nowhere on purpose) — then
/// `./target/watt-contracts`.
fn registry_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    let cache = match std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        Some(x) => Some(PathBuf::from(x)),
        None => std::env::var_os("HOME")
            .filter(|h| !h.is_empty())
            .map(|h| PathBuf::from(h).join(".cache")),
    };
    if let Some(cache) = cache.filter(|c| c.is_dir()) {
        dirs.push(cache.join("watt/contracts"));
    }
    dirs.push(PathBuf::from("target/watt-contracts"));
    dirs
}

/// Writes `meta` as the metadata of `address` in the first registry directory that takes it.
fn remember(address: &AccountId, meta: &[u8]) -> Result<PathBuf> {
    let mut errors = Vec::new();
    for dir in registry_dirs() {
        let path = dir.join(format!("{}.json", address.to_ss58()));
        match std::fs::create_dir_all(&dir).and_then(|_| std::fs::write(&path, meta)) {
            Ok(()) => return Ok(path),
            Err(e) => errors.push(format!("{}: {e}", dir.display())),
        }
    }
    bail!("no writable metadata directory ({})", errors.join("; "))
}

/// The metadata of the contract at `address`: --metadata, else remembered, else the `.json`
/// beside a built wasm in ./target whose code hash is the contract's.
async fn find_metadata(client: &WattRpc, address: &AccountId, given: Option<&Path>) -> Result<Metadata> {
    if let Some(p) = given {
        return Metadata::parse(&std::fs::read(p).with_context(|| format!("read {}", p.display()))?);
    }
    for dir in registry_dirs() {
        let path = dir.join(format!("{}.json", address.to_ss58()));
        if let Ok(text) = std::fs::read(&path) {
            return Metadata::parse(&text).with_context(|| format!("remembered metadata {}", path.display()));
        }
    }
    let info = client
        .contract_info(address)
        .await?
        .ok_or_else(|| anyhow!("{address} is not a contract"))?;
    let mut wasms: Vec<PathBuf> = Vec::new();
    for dir in ["target", "target/wasm32-unknown-unknown/release"] {
        if let Ok(entries) = std::fs::read_dir(dir) {
            wasms.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "wasm")),
            );
        }
    }
    for wasm in wasms {
        let json = wasm.with_extension("json");
        let Ok(code) = std::fs::read(&wasm) else { continue };
        if to_hex(&c::code_hash(&code)) == info.code_hash && json.exists() {
            return Metadata::parse(&std::fs::read(&json)?).with_context(|| format!("{}", json.display()));
        }
    }
    bail!(
        "no metadata for {address} (code {}): pass --metadata FILE (deploys with --execute remember it)",
        info.code_hash
    )
}

/// Dry-runs `message` and decodes its output; returns (view, decoded, reverted).
async fn dry_call(
    client: &WattRpc,
    origin: &AccountId,
    dest: &AccountId,
    meta: &Metadata,
    message: &str,
    args: &str,
    limits: &ExecLimits,
) -> Result<(ExecView, Vec<u8>, Value, bool)> {
    let msg = meta.message(message)?;
    let input = msg.encode_input(&args_json(args)?)?;
    let view = client.contract_call(origin, dest, limits, &input).await?;
    let (reverted, data) = returned(&view, message)?;
    let ty = Ty::parse(msg.returns())?;
    let decoded = abi::decode_all(&ty, &data)
        .with_context(|| format!("the output {} does not decode as {}", to_hex(&data), msg.returns()))?;
    Ok((view, input, decoded, reverted))
}

async fn call(a: CallArgs) -> Result<()> {
    let dest = address(&a.address)?;
    let client = WattRpc::new(&a.tx.rpc.rpc)?;
    let meta = find_metadata(&client, &dest, a.metadata.as_deref()).await?;
    let signer = a.tx.signer()?;
    if a.tx.execute && signer.is_none() {
        bail!("--execute needs --from (the signer)");
    }
    let origin = a.tx.origin(signer.as_ref())?;
    let limits = a.limits.limits()?;
    let (view, input, decoded, reverted) =
        dry_call(&client, &origin, &dest, &meta, &a.message, &a.args, &limits).await?;
    let text = a.tx.output == Output::Text;
    if text {
        print_dry_run(&view);
        say!("{}returned: {decoded}", if reverted { "REVERTED, " } else { "" });
    }
    let gas = gas_limit(limits.gas_limit, view.gas_used);
    let mut out = json!({
        "result": decoded,
        "reverted": reverted,
        "gas_used": view.gas_used,
        "gas_limit": gas,
        "storage_deposit": deposit_json(&view.storage_deposit),
        "events": events_json(&view, Some(&meta)),
        "debug_message": view.debug_message,
        "executed": a.tx.execute,
    });
    if !a.tx.execute {
        if a.tx.output == Output::Json {
            print_json(&out);
        }
        return Ok(());
    }
    if reverted {
        bail!(
            "the dry-run of {} reverted with {decoded}; not submitted (it would fail and pay its fee)",
            a.message
        );
    }
    let signer = signer.expect("checked above");
    let limits = ExecLimits {
        storage_deposit_limit: deposit_limit(limits.storage_deposit_limit, &view.storage_deposit)?,
        ..limits
    };
    let client_nonce = client.next_nonce(&signer.account()).await?;
    let receipt = submit(
        &client,
        &a.tx,
        &signer,
        client_nonce,
        &format!("call of {}", a.message),
        &c::call_call(dest, &limits, gas, input),
    )
    .await?;
    let emitted: Vec<Value> = receipt_events(&all_events(&client, &receipt).await?)
        .into_iter()
        .filter_map(|e| match e {
            RuntimeEvent::Contracts(pallet_contracts::Event::ContractEmitted { contract, data, .. }) => Some(
                json!({"contract": contract.to_ss58(), "data": to_hex(&data), "decoded": meta.decode_event(&data)}),
            ),
            _ => None,
        })
        .collect();
    out["tx_hash"] = json!(receipt.tx_hash);
    out["block_number"] = json!(receipt.block_number);
    out["fee_paid"] = json!(receipt.fee_paid);
    out["events"] = json!(emitted);
    match a.tx.output {
        Output::Json => print_json(&out),
        Output::Text => {
            let fee: u128 = receipt.fee_paid.parse().unwrap_or(0);
            say!(
                "{} {} succeeded in block #{}; fee {}",
                a.message,
                receipt.tx_hash,
                receipt.block_number,
                format_watt(fee)
            );
            for e in emitted {
                say!(
                    "  event: {}",
                    e["decoded"]
                        .as_object()
                        .map(|_| e["decoded"].to_string())
                        .unwrap_or_else(|| e["data"].to_string())
                );
            }
        }
    }
    Ok(())
}

async fn query(a: QueryArgs) -> Result<()> {
    let dest = address(&a.address)?;
    let client = WattRpc::new(&a.rpc.rpc)?;
    let meta = find_metadata(&client, &dest, a.metadata.as_deref()).await?;
    let origin = a
        .origin
        .as_deref()
        .map(address)
        .transpose()?
        .unwrap_or(AccountId([0; 32]));
    let limits = ExecLimits {
        value: parse_amount(&a.value).context("--value")?,
        ..ExecLimits::default()
    };
    let (view, _, decoded, reverted) = dry_call(&client, &origin, &dest, &meta, &a.message, &a.args, &limits).await?;
    match a.output {
        Output::Json => print_json(&json!({
            "result": decoded,
            "reverted": reverted,
            "gas_used": view.gas_used,
            "storage_deposit": deposit_json(&view.storage_deposit),
            "events": events_json(&view, Some(&meta)),
            "debug_message": view.debug_message,
        })),
        Output::Text => {
            say!("{}{decoded}", if reverted { "REVERTED: " } else { "" });
            say!("gas used: {}", view.gas_used);
            if !view.debug_message.is_empty() {
                say!("debug message: {}", view.debug_message);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_gas_limit_is_the_dry_runs_with_a_margin() {
        assert_eq!(gas_limit(None, 100_000), 170_000);
        assert_eq!(gas_limit(Some(5), 100_000), 5);
        assert_eq!(gas_limit(None, u64::MAX), u64::MAX);
    }
}
