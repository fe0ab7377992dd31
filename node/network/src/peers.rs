//! The peer book: what this node knows about each peer (addresses, agent, connection state) and
//! its score, ban state and the bookkeeping behind [`crate::NetworkHandle::peers`].
//!
//! A peer's score is the sum of two parts:
//! - the application part, lowered by [`crate::NetworkHandle::report_peer`] and by this crate's own
//!   penalties (oversized request-response frames), recovering by one point every
//!   [`RECOVERY_INTERVAL`] so that rare honest mistakes do not add up to a ban over days;
//! - the gossip part, gossipsub's own score of the peer, which with this crate's parameters is only
//!   ever negative: it counts invalid messages (bad signatures, oversized messages, messages the
//!   application rejected) and protocol misbehaviour, and decays over time.
//!
//! When the sum falls below the ban threshold the peer is disconnected and refused for the ban
//! duration; when the ban ends its application part starts again from zero.

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use libp2p::{Multiaddr, PeerId};

/// How often a negative application score recovers by one point.
pub const RECOVERY_INTERVAL: Duration = Duration::from_secs(10);
/// Addresses remembered per peer (the most recent ones win).
const MAX_ADDRESSES: usize = 8;
/// Peers remembered; past this, disconnected peers in good standing are forgotten first.
const MAX_PEERS: usize = 1024;

/// One peer as [`crate::NetworkHandle::peers`] shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PeerInfo {
    /// The peer id (base58).
    pub peer_id: String,
    /// Addresses it listens on or was reached at, most recent last.
    pub addresses: Vec<String>,
    /// Its identify agent version, once it has told us.
    pub agent: Option<String>,
    /// Its current score (application part plus gossip part); below the ban threshold it is banned.
    pub score: i32,
    /// Whether at least one connection to it is open.
    pub connected: bool,
    /// Whether it is banned right now.
    pub banned: bool,
    /// Connection attempts from it refused during its bans.
    pub refused_connections: u32,
}

#[derive(Debug, Default)]
pub(crate) struct PeerEntry {
    pub(crate) addresses: Vec<Multiaddr>,
    pub(crate) agent: Option<String>,
    pub(crate) app_score: i32,
    pub(crate) gossip_score: i32,
    pub(crate) connections: u32,
    pub(crate) banned_until: Option<Instant>,
    pub(crate) refused_connections: u32,
    pub(crate) last_seen: Option<Instant>,
}

impl PeerEntry {
    pub(crate) fn score(&self) -> i32 {
        self.app_score.saturating_add(self.gossip_score)
    }

    pub(crate) fn add_address(&mut self, addr: Multiaddr) {
        self.addresses.retain(|a| a != &addr);
        self.addresses.push(addr);
        if self.addresses.len() > MAX_ADDRESSES {
            self.addresses.remove(0);
        }
    }
}

/// The peer book, shared between the swarm task (the only writer) and handles (readers).
#[derive(Debug, Default)]
pub(crate) struct PeerBook {
    pub(crate) peers: HashMap<PeerId, PeerEntry>,
}

impl PeerBook {
    pub(crate) fn entry(&mut self, peer: PeerId) -> &mut PeerEntry {
        if !self.peers.contains_key(&peer) && self.peers.len() >= MAX_PEERS {
            self.forget_one();
        }
        self.peers.entry(peer).or_default()
    }

    /// Forgets the disconnected, unbanned, non-negative peer seen longest ago (or, failing that,
    /// any disconnected unbanned peer): a penalised peer is kept as long as possible so that
    /// forgetting it does not wipe its penalty.
    fn forget_one(&mut self) {
        let candidate = |good_standing: bool| {
            self.peers
                .iter()
                .filter(|(_, e)| e.connections == 0 && e.banned_until.is_none())
                .filter(|(_, e)| !good_standing || e.score() >= 0)
                .min_by_key(|(_, e)| e.last_seen)
                .map(|(p, _)| *p)
        };
        if let Some(peer) = candidate(true).or_else(|| candidate(false)) {
            self.peers.remove(&peer);
        }
    }

    pub(crate) fn is_banned(&self, peer: &PeerId) -> bool {
        self.peers.get(peer).is_some_and(|e| e.banned_until.is_some())
    }

    pub(crate) fn connected_count(&self) -> usize {
        self.peers.values().filter(|e| e.connections > 0).count()
    }

    pub(crate) fn info(&self) -> Vec<PeerInfo> {
        let mut out: Vec<PeerInfo> = self
            .peers
            .iter()
            .map(|(peer, e)| PeerInfo {
                peer_id: peer.to_base58(),
                addresses: e.addresses.iter().map(|a| a.to_string()).collect(),
                agent: e.agent.clone(),
                score: e.score(),
                connected: e.connections > 0,
                banned: e.banned_until.is_some(),
                refused_connections: e.refused_connections,
            })
            .collect();
        out.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        out
    }

    /// Peers whose ban has ended by `now`; their ban state and application score are reset.
    pub(crate) fn expire_bans(&mut self, now: Instant) -> Vec<PeerId> {
        let mut ended = Vec::new();
        for (peer, e) in self.peers.iter_mut() {
            if e.banned_until.is_some_and(|until| until <= now) {
                e.banned_until = None;
                e.app_score = 0;
                ended.push(*peer);
            }
        }
        ended
    }

    /// One recovery step: every negative application score moves one point towards zero.
    pub(crate) fn recover(&mut self) {
        for e in self.peers.values_mut() {
            if e.app_score < 0 && e.banned_until.is_none() {
                e.app_score += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn score_sums_parts_and_recovers_towards_zero() {
        let mut book = PeerBook::default();
        let p = PeerId::random();
        book.entry(p).app_score = -2;
        book.entry(p).gossip_score = -10;
        assert_eq!(book.info()[0].score, -12);
        book.recover();
        book.recover();
        book.recover();
        assert_eq!(book.peers[&p].app_score, 0, "stops at zero");
        assert_eq!(book.peers[&p].score(), -10, "the gossip part is gossipsub's to decay");
    }

    #[test]
    fn ban_expiry_resets_application_score() {
        let mut book = PeerBook::default();
        let p = PeerId::random();
        let now = Instant::now();
        let e = book.entry(p);
        e.app_score = -150;
        e.banned_until = Some(now + Duration::from_secs(5));
        assert!(book.expire_bans(now).is_empty());
        assert!(book.is_banned(&p));
        assert_eq!(book.expire_bans(now + Duration::from_secs(5)), vec![p]);
        assert!(!book.is_banned(&p));
        assert_eq!(book.peers[&p].app_score, 0);
    }

    #[test]
    fn addresses_are_bounded_and_deduplicated() {
        let mut e = PeerEntry::default();
        for port in 0..20u16 {
            e.add_address(format!("/ip4/127.0.0.1/tcp/{port}").parse().unwrap());
        }
        e.add_address("/ip4/127.0.0.1/tcp/19".parse().unwrap());
        assert_eq!(e.addresses.len(), MAX_ADDRESSES);
        assert_eq!(e.addresses.last().unwrap().to_string(), "/ip4/127.0.0.1/tcp/19");
        assert_eq!(e.addresses[0].to_string(), "/ip4/127.0.0.1/tcp/12");
    }

    #[test]
    fn full_book_forgets_good_standing_disconnected_peers_first() {
        let mut book = PeerBook::default();
        let penalised = PeerId::random();
        book.entry(penalised).app_score = -50;
        for _ in 1..MAX_PEERS {
            book.entry(PeerId::random());
        }
        assert_eq!(book.peers.len(), MAX_PEERS);
        book.entry(PeerId::random());
        assert_eq!(book.peers.len(), MAX_PEERS);
        assert!(book.peers.contains_key(&penalised));
    }
}
