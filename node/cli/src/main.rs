//! The `watt` command: run a node, manage keys, write chain specs, send transactions, take part
//! in the economy (attest, check in, claim, pledge) and query state over JSON-RPC.

/// `println!` that ends quietly when stdout is gone (`watt quorum check big.json | head`) instead
/// of panicking on the broken pipe; a reader that stopped reading wants no more output.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

mod client_commands;
mod contract_commands;
mod economy_commands;
mod light;
mod metrics;
mod node;
mod p2p;
mod quorum;
mod testnet;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Watt: a WebAssembly smart-contract chain for decentralized storage, final by SCP.
#[derive(Parser, Debug)]
#[command(name = "watt", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a node (with --dev: a single-node development chain producing blocks on demand).
    Node(node::NodeArgs),
    /// Generate and inspect sr25519 keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Print the dev chain spec (JSON), or write a spec and keys for N validators.
    ChainSpec(ChainSpecArgs),
    /// Run N validators on this machine (loopback) as child processes until Ctrl-C.
    Testnet(testnet::TestnetArgs),
    /// Follow the finalized head across several nodes, verifying every finality certificate
    /// (and optionally an account's state proof) against a trusted quorum set.
    Light(light::LightArgs),
    /// Sign and submit transactions.
    #[command(subcommand)]
    Tx(TxCommand),
    /// Read chain state from a node.
    #[command(subcommand)]
    Query(QueryCommand),
    /// Attest or revoke unique persons (registrars only): only attested accounts earn check-in
    /// rewards.
    #[command(subcommand)]
    Identity(economy_commands::IdentityCommand),
    /// Check in for the day (once a day, attested accounts), name a security circle or a
    /// referrer.
    #[command(subcommand)]
    Presence(economy_commands::PresenceCommand),
    /// Show and claim daily rewards.
    #[command(subcommand)]
    Rewards(economy_commands::RewardsCommand),
    /// Calls that need Root (economy parameters, registrars, validators), signed by the chain's
    /// sudo key (//Alice on the dev chain) until governance lands.
    #[command(subcommand)]
    Sudo(economy_commands::SudoCommand),
    /// Bond WATT for mining rights, unbond it, withdraw it after the unbonding period.
    #[command(subcommand)]
    Pledge(economy_commands::PledgeCommand),
    /// Total issuance, the cap, the supply phase and where minted WATT went.
    Supply(economy_commands::ShowArgs),
    /// The current day: its number, blocks left, what it will mint, the fee pool, participants.
    Day(economy_commands::ShowArgs),
    /// Wasm contracts: create a project, build it, deploy, call and query contracts.
    #[command(subcommand)]
    Contract(contract_commands::ContractCommand),
    /// Analyse SCP quorum configurations.
    #[command(subcommand)]
    Quorum(QuorumCommand),
    /// The Stellar Consensus Protocol: simulate networks.
    #[command(subcommand)]
    Scp(ScpCommand),
}

#[derive(Subcommand, Debug)]
pub enum ScpCommand {
    /// Run a deterministic SCP simulation and print a JSON summary.
    ///
    /// Scenario format (see README): {"seed", "slots", "nodes": [{"id", "qset", "behavior",
    /// "crash_at_ms", "restart_at_ms"}], "network": {"latency_ms": [lo, hi], "loss", "partitions"}}.
    /// Exit status: 0 agreement held, 1 two honest nodes externalized different values, 2 bad
    /// scenario file.
    Simulate {
        /// The scenario file.
        scenario: std::path::PathBuf,
    },
}

#[derive(Subcommand, Debug)]
pub enum QuorumCommand {
    /// Whether every two quorums of a network intersect (SCP is safe only if they do).
    ///
    /// Input in stellar-core's quorum JSON shape:
    /// {"nodes": [{"node": "A", "qset": {"t": 2, "v": ["A", "B", {"t": 1, "v": ["C", "D"]}]}}]}.
    /// Exit status: 0 all quorums intersect, 1 two disjoint quorums exist (printed), 2 bad input.
    Check {
        /// The network file.
        network: std::path::PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
}

/// Output format of query commands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, Default)]
pub enum Output {
    /// Human-readable text.
    #[default]
    Text,
    /// One JSON document.
    Json,
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Generate a new key with a 12-word mnemonic (keep the phrase secret: it is the key).
    Generate {
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Generate a node key file: the node's peer-to-peer identity, from which its SCP
    /// validator key is derived. Prints the peer id and validator id.
    GenerateNodeKey {
        /// Where to write it (refuses to overwrite), e.g. <base-path>/node-key.
        #[arg(long, value_name = "FILE")]
        file: std::path::PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Show the peer id and validator id of a node key file.
    InspectNodeKey {
        /// The node key file.
        file: std::path::PathBuf,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// Show the account of a secret URI (e.g. //Alice, a mnemonic, a mnemonic//hard/path).
    Inspect {
        /// The secret URI.
        suri: String,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
}

#[derive(Args, Debug)]
pub struct ChainSpecArgs {
    /// The development chain (//Alice .. //Ferdie funded with 1,000,000 WATT each; //Alice is
    /// the registrar, the sudo key and the one validator, with a genesis pledge; //Ferdie
    /// receives the team reserve).
    #[arg(long, conflicts_with = "validators")]
    dev: bool,
    /// Blocks per economy day: rewards are computed when a day of N blocks ends (default 17280,
    /// one day of 5-second blocks; small values make short test days).
    #[arg(long, value_name = "N", value_parser = parse_day_blocks)]
    day_blocks: Option<u64>,
    #[command(flatten)]
    validators: testnet::ValidatorSpecArgs,
}

/// `--day-blocks`: a whole number of at least 1.
pub fn parse_day_blocks(s: &str) -> Result<u64, String> {
    match s.parse::<u64>() {
        Ok(0) => Err("a day must have at least 1 block".into()),
        Ok(n) => Ok(n),
        Err(_) => Err(format!(
            "`{s}` is not a number of blocks (a whole number of at least 1)"
        )),
    }
}

#[derive(Args, Debug, Clone)]
pub struct RpcArg {
    /// Node JSON-RPC endpoint (http:// or ws://).
    #[arg(long, default_value = "http://127.0.0.1:9944", env = "WATT_RPC")]
    rpc: String,
}

/// When `watt tx` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum WaitArg {
    /// As soon as the node accepted it into its pool.
    None,
    /// When a block includes it.
    Included,
    /// When a finalized block includes it.
    Finalized,
}

/// How a command signs, submits and waits for its transaction (every submitting command).
///
/// Exit status: 0 when the transaction was accepted (and, unless `--wait none`, included and
/// succeeded); non-zero when the node refused it, waiting timed out, or it was included but
/// failed (its fee is paid all the same).
#[derive(Args, Debug, Clone)]
pub struct SubmitArgs {
    /// Secret URI of the signer (e.g. //Alice, a mnemonic). Never logged.
    #[arg(long, value_name = "SURI")]
    from: String,
    /// Tip on top of the fee (units or WATT), for priority.
    #[arg(long, default_value = "0")]
    tip: String,
    /// Use this nonce instead of asking the node.
    #[arg(long)]
    nonce: Option<u64>,
    /// Wait until the transaction is in the node's pool (none), in a block (included) or in a
    /// finalized block (finalized).
    #[arg(long, value_enum, default_value = "finalized")]
    wait: WaitArg,
    /// Seconds to wait at most.
    #[arg(long, default_value_t = 60)]
    timeout: u64,
    #[command(flatten)]
    rpc: RpcArg,
    /// Output format (json: the receipt, or {"txHash", "status": "pooled"} with --wait none).
    #[arg(long, value_enum, default_value_t)]
    output: Output,
}

#[derive(Subcommand, Debug)]
pub enum TxCommand {
    /// Transfer WATT to another account.
    Transfer {
        /// SS58 address of the receiver.
        #[arg(long)]
        to: String,
        /// Amount: whole units (e.g. 1500000000000) or WATT with a suffix (e.g. 1.5WATT).
        #[arg(long)]
        amount: String,
        /// Refuse instead of emptying the sender's account below the existential deposit.
        #[arg(long)]
        keep_alive: bool,
        #[command(flatten)]
        tx: SubmitArgs,
    },
}

#[derive(Subcommand, Debug)]
pub enum QueryCommand {
    /// Free balance and nonce of an account.
    Account {
        /// SS58 address (or 0x-hex public key).
        address: String,
        #[command(flatten)]
        rpc: RpcArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// The receipt of a transaction.
    Receipt {
        /// Transaction hash (0x-hex).
        hash: String,
        #[command(flatten)]
        rpc: RpcArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
    /// The fee pool's account and balance.
    FeePool {
        #[command(flatten)]
        rpc: RpcArg,
        /// Output format.
        #[arg(long, value_enum, default_value_t)]
        output: Output,
    },
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    if let Command::Quorum(QuorumCommand::Check { network, output }) = &cli.command {
        return quorum::check(network, *output);
    }
    if let Command::Scp(ScpCommand::Simulate { scenario }) = &cli.command {
        return quorum::simulate(scenario);
    }
    if let Command::Light(args) = cli.command {
        return light::run(args);
    }
    let result = match cli.command {
        Command::Node(args) => node::run(args),
        Command::Key(k) => client_commands::key(k),
        Command::ChainSpec(a) if a.validators.validators.is_some() => testnet::chain_spec(&a.validators, a.day_blocks),
        Command::ChainSpec(a) => client_commands::chain_spec(a),
        Command::Testnet(a) => testnet::run(a),
        Command::Tx(t) => client_commands::runtime().and_then(|rt| rt.block_on(client_commands::tx(t))),
        Command::Query(q) => client_commands::runtime().and_then(|rt| rt.block_on(client_commands::query(q))),
        Command::Identity(c) => client_commands::runtime().and_then(|rt| rt.block_on(economy_commands::identity(c))),
        Command::Presence(c) => client_commands::runtime().and_then(|rt| rt.block_on(economy_commands::presence(c))),
        Command::Sudo(c) => client_commands::runtime().and_then(|rt| rt.block_on(economy_commands::sudo(c))),
        Command::Rewards(c) => client_commands::runtime().and_then(|rt| rt.block_on(economy_commands::rewards(c))),
        Command::Pledge(c) => client_commands::runtime().and_then(|rt| rt.block_on(economy_commands::pledge(c))),
        Command::Supply(a) => client_commands::runtime().and_then(|rt| rt.block_on(economy_commands::supply(a))),
        Command::Day(a) => client_commands::runtime().and_then(|rt| rt.block_on(economy_commands::day(a))),
        Command::Contract(c) => contract_commands::run(c),
        Command::Quorum(_) | Command::Scp(_) | Command::Light(_) => unreachable!("handled above"),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
