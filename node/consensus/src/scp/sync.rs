//! Catch-up from peers' claimed heights, believed only as far as they are proven (issue 17,
//! "honest sync claims").
//!
//! A peer's `Status` is a claim. It decides whom to ask for blocks, nothing else: the node keeps
//! taking part in consensus while it syncs (a value for a slot the network has passed is simply
//! ignored by the others), and it reports itself as syncing only while synced blocks actually
//! arrive. A peer that claims more than it serves loses its claim at once and is reported: an
//! empty answer to a block request below its claim, or a failed request. A claim of 2^64-1 thus
//! costs one block request and the claimant's standing.

use std::collections::HashMap;
use std::time::Duration;
use tokio::time::Instant;
use watt_network::PeerId;
use watt_primitives::BlockNumber;

/// A block request unanswered this long is given up (the network's request timeout is 10 s).
pub(crate) const REQUEST_PATIENCE: Duration = Duration::from_secs(15);
/// Most blocks asked for at once.
pub(crate) const BATCH: u64 = 64;

/// The verdict on a peer's answer to a block request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// It served what it could: nothing to say.
    Fine,
    /// It claimed blocks it did not serve: penalise with this reason.
    Overclaimed(String),
}

/// Per-peer claims and the one outstanding block request.
#[derive(Default)]
pub(crate) struct SyncClaims {
    claims: HashMap<PeerId, BlockNumber>,
    /// (peer, first block asked for, when).
    asking: Option<(PeerId, BlockNumber, Instant)>,
    /// Whether synced blocks arrived since the node last found itself caught up.
    progressing: bool,
}

impl SyncClaims {
    /// `peer` says its head is `best`.
    pub(crate) fn claim(&mut self, peer: PeerId, best: BlockNumber) {
        self.claims.insert(peer, best);
    }

    pub(crate) fn forget(&mut self, peer: &PeerId) {
        self.claims.remove(peer);
        if self.asking.is_some_and(|(p, _, _)| p == *peer) {
            self.asking = None;
        }
    }

    /// The highest claim above `head`, and who made it.
    pub(crate) fn best_above(&self, head: BlockNumber) -> Option<(BlockNumber, PeerId)> {
        self.claims
            .iter()
            .filter(|(_, n)| **n > head)
            .map(|(p, n)| (*n, *p))
            .max_by_key(|(n, p)| (*n, std::cmp::Reverse(*p)))
    }

    /// The next block request to send, if one is due: `(peer, from, count)`.
    pub(crate) fn next_request(&mut self, head: BlockNumber, now: Instant) -> Option<(PeerId, BlockNumber, u32)> {
        if self
            .asking
            .is_some_and(|(_, _, at)| now.saturating_duration_since(at) < REQUEST_PATIENCE)
        {
            return None;
        }
        self.asking = None;
        let (target, peer) = self.best_above(head)?;
        let from = head + 1;
        let count = (target - head).min(BATCH) as u32;
        self.asking = Some((peer, from, now));
        Some((peer, from, count))
    }

    /// `peer` answered the block request with `served` blocks of which `imported` were
    /// imported; the head is now `head`.
    pub(crate) fn answered(&mut self, peer: PeerId, served: usize, imported: u64, head: BlockNumber) -> Verdict {
        let asked_from = match self.asking {
            Some((p, from, _)) if p == peer => from,
            _ => head + 1,
        };
        self.asking = None;
        if imported > 0 {
            self.progressing = true;
        }
        let claimed = self.claims.get(&peer).copied().unwrap_or(0);
        if imported == 0 {
            // Nothing it served moved the head: its claim is spent (a new Status renews it).
            self.claims.remove(&peer);
            if served == 0 && claimed >= asked_from {
                return Verdict::Overclaimed(format!(
                    "claimed head #{claimed} but served no block from #{asked_from}"
                ));
            }
        }
        Verdict::Fine
    }

    /// The block request to `peer` failed (timeout, refused, undecodable).
    pub(crate) fn failed(&mut self, peer: PeerId) {
        if self.asking.is_some_and(|(p, _, _)| p == peer) {
            self.asking = None;
        }
        self.claims.remove(&peer);
    }

    /// Whether the node is catching up: synced blocks arrived and a claim above the head
    /// remains. Clears itself once caught up.
    pub(crate) fn syncing(&mut self, head: BlockNumber) -> bool {
        self.claims.retain(|_, n| *n > head);
        if self.claims.is_empty() {
            self.progressing = false;
        }
        self.progressing
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A claim of 2^64-1 answered with nothing is dropped and reported, and never makes the
    /// node report itself as syncing.
    #[test]
    fn an_empty_answer_to_a_huge_claim_drops_it() {
        let mut s = SyncClaims::default();
        let liar = PeerId::random();
        s.claim(liar, u64::MAX);
        let now = Instant::now();
        let (p, from, count) = s.next_request(10, now).expect("a request");
        assert_eq!((p, from, count), (liar, 11, BATCH as u32));
        assert!(!s.syncing(10), "a claim alone is not syncing");
        assert!(matches!(s.answered(liar, 0, 0, 10), Verdict::Overclaimed(_)));
        assert_eq!(s.best_above(10), None);
        assert_eq!(s.next_request(10, now), None);
        assert!(!s.syncing(10));
    }

    /// Honest progress: blocks arrive, the node is syncing until it reaches the claim.
    #[test]
    fn honest_sync_progresses_and_ends() {
        let mut s = SyncClaims::default();
        let peer = PeerId::random();
        s.claim(peer, 100);
        let now = Instant::now();
        let (_, from, count) = s.next_request(0, now).unwrap();
        assert_eq!((from, count), (1, 64));
        assert_eq!(s.next_request(0, now), None, "one request at a time");
        assert_eq!(s.answered(peer, 64, 64, 64), Verdict::Fine);
        assert!(s.syncing(64));
        let (_, from, count) = s.next_request(64, now).unwrap();
        assert_eq!((from, count), (65, 36));
        assert_eq!(s.answered(peer, 36, 36, 100), Verdict::Fine);
        assert!(!s.syncing(100));
    }

    /// A peer that stops answering is given up after the patience and another is asked.
    #[test]
    fn an_unanswered_request_moves_on_and_a_gone_peer_loses_its_claim() {
        let mut s = SyncClaims::default();
        let (a, b) = (PeerId::random(), PeerId::random());
        s.claim(a, 50);
        s.claim(b, 40);
        let now = Instant::now();
        assert_eq!(s.next_request(0, now).map(|r| r.0), Some(a));
        assert_eq!(s.next_request(0, now + Duration::from_secs(1)), None);
        s.forget(&a);
        assert_eq!(s.next_request(0, now + Duration::from_secs(1)).map(|r| r.0), Some(b));
        s.failed(b);
        assert_eq!(s.best_above(0), None);
    }
}
