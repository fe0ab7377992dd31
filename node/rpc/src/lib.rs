//! Watt's JSON-RPC server: HTTP and WebSocket on one port (127.0.0.1:9944 by default), with
//! Substrate-style families (`system_`, `chain_`, `state_`, `author_`) plus `watt_` methods,
//! bounded request sizes and connection counts, and JSON-RPC error codes with clear messages.
//!
//! Error codes: -32602 bad parameters; -32603 internal; 1010 invalid transaction (data: the
//! reason, including "the sender's pending fees would exceed its balance"); 1012 too many pending
//! transactions for this sender; 1013 already imported; 1014 replacement tip too low; 1016 pool
//! full (nothing cheaper to evict); 4003 unknown block; 4004 state pruned; 4005 no finality
//! certificate for that block (genesis, or a dev-engine block); 4006 the answer is larger than
//! one response carries: ask for it in pages (`watt_events(number, {"offset": 0})`).
//!
//! Long lists are paged by bytes as well as count ([`PAGE_BYTES`]): a block's events
//! (`watt_events`) and a receipt's (`watt_receipt`) are readable in full however many megabytes
//! a block holds.
//!
//! Subscriptions never skip events silently: a subscriber too slow to keep up is closed with a
//! subscription error ("subscriber too slow: N events missed; resubscribe"); a transaction
//! watcher that misses events reads the transaction's status from the chain instead.
//!
//! Hashes, keys and byte strings are `0x` hex; balances are decimal strings.

mod batcher;
mod json;
mod methods;
mod paging;

use jsonrpsee::server::{Server, ServerConfig, ServerHandle};
use std::net::SocketAddr;
use std::sync::Arc;
use watt_chain::Chain;

pub use methods::{rpc_module, NetworkStatus};
pub use paging::PAGE_BYTES;

/// Server settings.
#[derive(Clone, Debug)]
pub struct RpcConfig {
    /// Listening address.
    pub addr: SocketAddr,
    /// Largest request body accepted (bytes); larger ones get an error and change nothing.
    pub max_request_bytes: u32,
    /// Largest response (bytes).
    pub max_response_bytes: u32,
    /// Concurrent connections.
    pub max_connections: u32,
    /// Subscriptions per WebSocket connection.
    pub max_subscriptions_per_connection: u32,
}

impl Default for RpcConfig {
    fn default() -> Self {
        RpcConfig {
            addr: SocketAddr::from(([127, 0, 0, 1], 9944)),
            max_request_bytes: 1 << 20,
            max_response_bytes: 32 << 20,
            max_connections: 100,
            max_subscriptions_per_connection: 1024,
        }
    }
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum RpcServerError {
    /// Binding failed (port in use, permission).
    #[error("cannot listen for RPC on {addr}: {source} (is another node running? try --rpc-port)")]
    Bind {
        /// Address.
        addr: SocketAddr,
        /// Cause.
        source: std::io::Error,
    },
    /// A method name was registered twice (a bug).
    #[error("rpc method registration: {0}")]
    Register(String),
}

/// What a running server is.
pub struct RunningServer {
    /// Stop handle.
    pub handle: ServerHandle,
    /// Bound address (the real port when 0 was asked).
    pub addr: SocketAddr,
}

/// Starts serving `chain`.
pub async fn start(
    config: &RpcConfig,
    chain: Arc<Chain>,
    node_name: String,
    network: Option<Arc<dyn NetworkStatus>>,
) -> Result<RunningServer, RpcServerError> {
    let server_config = ServerConfig::builder()
        .max_request_body_size(config.max_request_bytes)
        .max_response_body_size(config.max_response_bytes)
        .max_connections(config.max_connections)
        .max_subscriptions_per_connection(config.max_subscriptions_per_connection)
        .build();
    let server = Server::builder()
        .set_config(server_config)
        .build(config.addr)
        .await
        .map_err(|source| RpcServerError::Bind {
            addr: config.addr,
            source,
        })?;
    let addr = server.local_addr().map_err(|source| RpcServerError::Bind {
        addr: config.addr,
        source,
    })?;
    let module = rpc_module(chain, node_name, network).map_err(|e| RpcServerError::Register(e.to_string()))?;
    let handle = server.start(module);
    // The bound address (the real port when 0 was asked); tests/ parses this line.
    tracing::info!("JSON-RPC (HTTP and WebSocket) listening on {addr}");
    Ok(RunningServer { handle, addr })
}
