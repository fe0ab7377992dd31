//! What the network tests share: a node with its event stream, waits with deadlines, the
//! configuration of a test node on loopback.
// Each test file uses its own part of this module.
#![allow(dead_code)]

use std::time::{Duration, Instant};

use tokio::sync::mpsc::Receiver;
use watt_network::{start, GossipId, Multiaddr, NetworkConfig, NetworkEvent, NetworkHandle, PeerId, PeerInfo, Topic};

/// The longest any wait of these tests takes before it fails.
pub const WAIT: Duration = Duration::from_secs(20);

pub fn init_logs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_test_writer()
        .try_init();
}

/// A node of chain `genesis` listening on a port the system picks, identified by `seed`.
pub fn test_config(seed: u8, genesis: [u8; 32]) -> NetworkConfig {
    NetworkConfig {
        secret_seed: [seed; 32],
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        genesis_hash: genesis,
        agent: format!("watt-test/{seed}"),
        redial_interval: Duration::from_millis(300),
        ..Default::default()
    }
}

pub struct Node {
    pub handle: NetworkHandle,
    pub events: Receiver<NetworkEvent>,
}

impl Node {
    pub async fn start(config: NetworkConfig) -> Node {
        let (handle, events) = start(config).await.expect("network starts");
        Node { handle, events }
    }

    pub fn id(&self) -> PeerId {
        self.handle.local_peer_id()
    }

    /// The address others use to reach this node, ending with its peer id.
    pub fn address(&self) -> Multiaddr {
        let bound = self.handle.listen_addresses();
        assert!(!bound.is_empty(), "start returns once listening");
        format!("{}/p2p/{}", bound[0], self.id()).parse().unwrap()
    }

    /// Takes events until `pick` returns something, or panics at the deadline.
    pub async fn next<T>(&mut self, what: &str, mut pick: impl FnMut(NetworkEvent) -> Option<T>) -> T {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.events.recv()).await {
                Ok(Some(event)) => {
                    if let Some(found) = pick(event) {
                        return found;
                    }
                }
                Ok(None) => panic!("event stream ended while waiting for {what}"),
                Err(_) => panic!("timed out waiting for {what}"),
            }
        }
    }

    pub async fn connected_to(&mut self, peer: PeerId) {
        self.next("a connection", |e| {
            matches!(e, NetworkEvent::PeerConnected(p) if p == peer).then_some(())
        })
        .await
    }

    /// Waits until every peer of `peers` has connected, in whatever order.
    pub async fn connected_to_all(&mut self, peers: &[PeerId]) {
        let mut missing = peers.to_vec();
        self.next("connections", |e| {
            if let NetworkEvent::PeerConnected(p) = e {
                missing.retain(|m| *m != p);
            }
            missing.is_empty().then_some(())
        })
        .await
    }

    /// Waits for a gossip message with this payload and returns its topic, sender and id.
    pub async fn gossip(&mut self, data: &[u8]) -> (Topic, PeerId, GossipId) {
        self.next("a gossip message", |e| match e {
            NetworkEvent::Gossip {
                topic,
                from,
                id,
                data: got,
            } if got == data => Some((topic, from, id)),
            _ => None,
        })
        .await
    }

    pub fn info(&self, peer: PeerId) -> Option<PeerInfo> {
        info(&self.handle, peer)
    }
}

/// What `handle` knows of `peer`.
pub fn info(handle: &NetworkHandle, peer: PeerId) -> Option<PeerInfo> {
    handle.peers().into_iter().find(|p| p.peer_id == peer.to_base58())
}

/// Polls `condition` until it holds, or panics at the deadline.
pub async fn eventually(what: &str, condition: impl Fn() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
