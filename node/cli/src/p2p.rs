//! A networked node's identity and wiring: the node key in the base path (its libp2p identity
//! and, derived from it, its SCP signing key), the network it starts, the SCP engine on top,
//! and what RPC shows of the network.

use anyhow::{bail, Context, Result};
use sp_core::{sr25519, Pair as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use watt_network::{Multiaddr, NetworkHandle};
use watt_primitives::{blake2_256, AccountId};

/// File name of the node key inside a base path.
pub const NODE_KEY_FILE: &str = "node-key";

/// A node key: 32 secret bytes. The libp2p identity is ed25519 derived from it (inside
/// `watt-network`); the SCP signing key is sr25519 derived from it here, each with its own
/// domain tag so that neither key says anything about the other.
#[derive(Clone)]
pub struct NodeKey([u8; 32]);

impl std::fmt::Debug for NodeKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret.
        write!(f, "NodeKey(peer {})", self.peer_id())
    }
}

impl NodeKey {
    /// A fresh random key.
    pub fn generate() -> Self {
        let (pair, _) = sr25519::Pair::generate();
        // 32 bytes from the OS RNG (through sp-core's key generation), hashed.
        NodeKey(blake2_256(&pair.to_raw_vec()))
    }

    /// The secret seed.
    pub fn seed(&self) -> &[u8; 32] {
        &self.0
    }

    /// The libp2p peer id.
    pub fn peer_id(&self) -> watt_network::PeerId {
        watt_network::peer_id_from_seed(&self.0)
    }

    /// The SCP signing key.
    pub fn validator_pair(&self) -> sr25519::Pair {
        let mut input = b"watt/validator/v1".to_vec();
        input.extend_from_slice(&self.0);
        sr25519::Pair::from_seed(&blake2_256(&input))
    }

    /// The validator id (the SCP signing key's public key) as an account.
    pub fn validator_id(&self) -> AccountId {
        AccountId::from(self.validator_pair().public().0)
    }

    /// Reads a key file (64 hex digits, optional 0x, surrounding whitespace ignored).
    pub fn read(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| format!("read node key {}", path.display()))?;
        let hex_text = text.trim();
        let hex_text = hex_text.strip_prefix("0x").unwrap_or(hex_text);
        let bytes = hex::decode(hex_text).with_context(|| format!("node key {} is not hex", path.display()))?;
        let seed: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("node key {} must be 32 bytes (64 hex digits)", path.display()))?;
        Ok(NodeKey(seed))
    }

    /// Writes the key file, readable by its owner only; refuses to overwrite.
    pub fn write(&self, path: &Path) -> Result<()> {
        if path.exists() {
            bail!("{} exists; not overwriting a node key", path.display());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("create {}", dir.display()))?;
        }
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        use std::io::Write;
        let mut f = opts.open(path).with_context(|| format!("create {}", path.display()))?;
        writeln!(f, "{}", hex::encode(self.0)).with_context(|| format!("write {}", path.display()))?;
        Ok(())
    }

    /// The key at `path`, created on first use.
    pub fn load_or_create(path: &Path) -> Result<Self> {
        if path.exists() {
            return Self::read(path);
        }
        let key = Self::generate();
        key.write(path)?;
        tracing::info!("generated a node key in {}", path.display());
        Ok(key)
    }
}

/// Default node-key path inside a base path.
pub fn node_key_path(base: &Path) -> PathBuf {
    base.join(NODE_KEY_FILE)
}

/// Parses multiaddresses given on the command line or in a spec.
pub fn multiaddrs(list: &[String], what: &str) -> Result<Vec<Multiaddr>> {
    list.iter()
        .map(|s| {
            s.parse::<Multiaddr>()
                .with_context(|| format!("{what} `{s}` is not a multiaddress"))
        })
        .collect()
}

/// What RPC shows of the network.
pub struct NetworkInfo {
    pub handle: NetworkHandle,
    pub syncing: Arc<dyn Fn() -> bool + Send + Sync>,
}

impl watt_rpc::NetworkStatus for NetworkInfo {
    fn peer_count(&self) -> usize {
        self.handle.connected_peers()
    }
    fn peers(&self) -> Vec<serde_json::Value> {
        self.handle
            .peers()
            .into_iter()
            .filter(|p| p.connected)
            .filter_map(|p| serde_json::to_value(p).ok())
            .collect()
    }
    fn local_peer_id(&self) -> String {
        self.handle.local_peer_id().to_string()
    }
    fn listen_addresses(&self) -> Vec<String> {
        self.handle.listen_addresses().iter().map(|a| a.to_string()).collect()
    }
    fn is_syncing(&self) -> bool {
        (self.syncing)()
    }
}
