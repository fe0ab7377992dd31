//! The peer book: what this node knows about each peer (addresses, agent, connection state) and
//! its score, ban state and the bookkeeping behind [`crate::NetworkHandle::peers`].
//!
//! A peer's score is the sum of three parts:
//! - the application part, lowered by [`crate::NetworkHandle::report_peer`] and by this crate's own
//!   penalties (oversized request-response frames, request floods), recovering by one point every
//!   [`RECOVERY_INTERVAL`] so that rare honest mistakes do not add up to a ban over days;
//! - the rejected-gossip part: `-REJECTED_GOSSIP_WEIGHT × n²`, where `n` counts the gossip
//!   messages of this peer that the application rejected ([`crate::Validation::Reject`]) or that
//!   this crate found oversized, decaying by [`REJECTED_GOSSIP_DECAY`] a second. One rejection
//!   costs 10, two 40, three 90, four 160: a burst of four bans at the default threshold, while an
//!   occasional rejection fades (half-life about 70 s). These are gossipsub's former parameters
//!   for invalid messages, counted here so that only the application's verdicts count;
//! - the gossip part, gossipsub's own score of the peer, which with this crate's parameters is only
//!   ever negative: it counts messages that break the gossipsub protocol itself (bad or missing
//!   signatures, malformed sequence numbers or sources, messages over the size limit) and protocol
//!   misbehaviour (grafting during a backoff, unkept IWANT promises), and decays over time.
//!   Nothing circumstantial counts: echoes of our own messages, duplicates, messages ignored by the
//!   application or dropped by rate limits cost nothing (see `service.rs`).
//!
//! When the sum falls below the ban threshold the peer is disconnected and refused for the ban
//! duration; when the ban ends its application and rejected-gossip parts start again from zero.

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
/// The weight of rejected gossip: the score part is `-weight × count²`.
pub const REJECTED_GOSSIP_WEIGHT: f64 = 10.0;
/// Per-second decay of the count of rejected gossip messages (half-life about 70 s).
pub const REJECTED_GOSSIP_DECAY: f64 = 0.99;
/// Below this the decaying count is taken as zero (gossipsub's `decay_to_zero`).
const DECAY_TO_ZERO: f64 = 0.1;

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
    /// Connection attempts from it refused: during its bans, or because the connection slots
    /// (or its address's share of them) were full.
    pub refused_connections: u32,
    /// Gossip messages from it dropped unread because it exceeded its rate on a topic or the
    /// queue for the application was full (no penalty).
    pub ignored_gossip: u64,
    /// Requests from it closed unanswered because it exceeded its request rate or had too many
    /// requests waiting for answers.
    pub refused_requests: u64,
}

#[derive(Debug, Default)]
pub(crate) struct PeerEntry {
    pub(crate) addresses: Vec<Multiaddr>,
    pub(crate) agent: Option<String>,
    pub(crate) app_score: i32,
    /// The decaying count of rejected gossip messages.
    pub(crate) rejected_gossip: f64,
    pub(crate) gossip_score: i32,
    pub(crate) connections: u32,
    pub(crate) banned_until: Option<Instant>,
    pub(crate) refused_connections: u32,
    pub(crate) last_seen: Option<Instant>,
    pub(crate) ignored_gossip: u64,
    pub(crate) refused_requests: u64,
}

impl PeerEntry {
    pub(crate) fn score(&self) -> i32 {
        self.app_score
            .saturating_add(self.gossip_score)
            .saturating_add(self.rejected_gossip_score())
    }

    /// The rejected-gossip part of the score.
    fn rejected_gossip_score(&self) -> i32 {
        let n = self.rejected_gossip;
        // `as` saturates, so a huge count cannot wrap into a positive score.
        (-(REJECTED_GOSSIP_WEIGHT * n * n)).round() as i32
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
                ignored_gossip: e.ignored_gossip,
                refused_requests: e.refused_requests,
            })
            .collect();
        out.sort_by(|a, b| a.peer_id.cmp(&b.peer_id));
        out
    }

    /// Peers whose ban has ended by `now`; their ban state, application score and count of
    /// rejected gossip are reset.
    pub(crate) fn expire_bans(&mut self, now: Instant) -> Vec<PeerId> {
        let mut ended = Vec::new();
        for (peer, e) in self.peers.iter_mut() {
            if e.banned_until.is_some_and(|until| until <= now) {
                e.banned_until = None;
                e.app_score = 0;
                e.rejected_gossip = 0.0;
                ended.push(*peer);
            }
        }
        ended
    }

    /// Counts one rejected gossip message of `peer`; returns its new score.
    pub(crate) fn reject_gossip(&mut self, peer: PeerId) -> i32 {
        let entry = self.entry(peer);
        entry.rejected_gossip += 1.0;
        entry.score()
    }

    /// Decays every count of rejected gossip by `elapsed` seconds' worth.
    pub(crate) fn decay_rejections(&mut self, elapsed: Duration) {
        let factor = REJECTED_GOSSIP_DECAY.powf(elapsed.as_secs_f64());
        for e in self.peers.values_mut() {
            if e.rejected_gossip > 0.0 && e.banned_until.is_none() {
                e.rejected_gossip *= factor;
                if e.rejected_gossip < DECAY_TO_ZERO {
                    e.rejected_gossip = 0.0;
                }
            }
        }
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
    fn rejected_gossip_costs_the_square_of_its_count_and_decays() {
        let mut book = PeerBook::default();
        let p = PeerId::random();
        let scores: Vec<i32> = (0..4).map(|_| book.reject_gossip(p)).collect();
        assert_eq!(scores, vec![-10, -40, -90, -160], "four quick rejections pass -100");
        // Seventy seconds later about half the count is left: -160 becomes about -40.
        book.decay_rejections(Duration::from_secs(70));
        let score = book.peers[&p].score();
        assert!((-42..=-38).contains(&score), "{score}");
        // Long after, nothing.
        book.decay_rejections(Duration::from_secs(1000));
        assert_eq!(book.peers[&p].score(), 0);
        // A banned peer's count does not decay during the ban and is cleared when it ends.
        let q = PeerId::random();
        for _ in 0..4 {
            book.reject_gossip(q);
        }
        let now = Instant::now();
        book.entry(q).banned_until = Some(now);
        book.decay_rejections(Duration::from_secs(1000));
        assert_eq!(book.peers[&q].score(), -160);
        book.expire_bans(now);
        assert_eq!(book.peers[&q].score(), 0);
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
