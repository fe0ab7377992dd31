//! Fetching what envelopes name (tx sets, quorum sets) without asking every peer forever
//! (issue 17, item 2): stellar-core's `ItemFetcher` asks one peer at a time and moves to the
//! next after a timeout; so does this. Each item is asked of the peer whose envelope named it
//! first, then of one other connected peer per [`RETRY_AFTER`], each peer once per round, and
//! it is dropped when the slot that wanted it is applied. At most [`MAX_ITEMS`] at once, so
//! the requests a node sends are bounded by `MAX_ITEMS` per [`RETRY_AFTER`] whatever it is told.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;
use tokio::time::Instant;
use watt_network::PeerId;
use watt_primitives::Hash;

/// Items fetched at once.
pub(crate) const MAX_ITEMS: usize = 256;
/// How long one peer has to answer before the next is asked.
pub(crate) const RETRY_AFTER: Duration = Duration::from_millis(1_000);

/// Something an envelope names that the node does not have yet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Missing {
    TxSet(Hash),
    QuorumSet(Hash),
}

impl Missing {
    pub(crate) fn hash(self) -> Hash {
        match self {
            Missing::TxSet(h) | Missing::QuorumSet(h) => h,
        }
    }
}

struct Item {
    missing: Missing,
    /// The slot that needs it (dropped once applied).
    slot: u64,
    asked: BTreeSet<PeerId>,
    next_at: Instant,
}

/// The items being fetched.
#[derive(Default)]
pub(crate) struct Fetcher {
    items: HashMap<Hash, Item>,
}

impl Fetcher {
    /// `missing` is needed for `slot`; `hint` named it. Returns the peer to ask now, if any
    /// (none when the item is already being fetched, or the table is full).
    pub(crate) fn need(&mut self, missing: Missing, slot: u64, hint: PeerId, now: Instant) -> Option<PeerId> {
        if let Some(item) = self.items.get_mut(&missing.hash()) {
            item.slot = item.slot.max(slot);
            return None;
        }
        if self.items.len() >= MAX_ITEMS {
            return None;
        }
        let mut asked = BTreeSet::new();
        asked.insert(hint);
        self.items.insert(
            missing.hash(),
            Item {
                missing,
                slot,
                asked,
                next_at: now + RETRY_AFTER,
            },
        );
        Some(hint)
    }

    /// It arrived (or is no longer needed).
    pub(crate) fn done(&mut self, hash: &Hash) {
        self.items.remove(hash);
    }

    /// `peer` could not give it: ask the next one at once.
    pub(crate) fn failed(&mut self, hash: &Hash, now: Instant) {
        if let Some(item) = self.items.get_mut(hash) {
            item.next_at = now;
        }
    }

    /// The items due for another peer, each with the one peer to ask: a connected peer not
    /// asked yet this round (a new round starts when every connected peer was asked).
    pub(crate) fn due(&mut self, peers: &BTreeSet<PeerId>, now: Instant) -> Vec<(Missing, PeerId)> {
        if peers.is_empty() {
            return vec![];
        }
        let mut out = vec![];
        for item in self.items.values_mut() {
            if item.next_at > now {
                continue;
            }
            let next = match peers.iter().find(|p| !item.asked.contains(p)) {
                Some(p) => *p,
                None => {
                    item.asked.clear();
                    match peers.iter().next() {
                        Some(p) => *p,
                        None => continue,
                    }
                }
            };
            item.asked.insert(next);
            item.next_at = now + RETRY_AFTER;
            out.push((item.missing, next));
        }
        out
    }

    /// Slots up to `slot` are applied: what only they needed is dropped.
    pub(crate) fn release_through(&mut self, slot: u64) {
        self.items.retain(|_, i| i.slot > slot);
    }

    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The naming peer is asked first; then one other peer per retry period, each once per
    /// round; not every peer every time.
    #[test]
    fn each_peer_is_asked_in_turn_not_all_at_once() {
        let mut f = Fetcher::default();
        let peers: BTreeSet<PeerId> = (0..5).map(|_| PeerId::random()).collect();
        let hint = *peers.iter().nth(2).unwrap();
        let t0 = Instant::now();
        let m = Missing::TxSet([7; 32]);
        assert_eq!(f.need(m, 10, hint, t0), Some(hint));
        assert_eq!(f.need(m, 10, hint, t0), None, "already being fetched");
        assert!(f.due(&peers, t0).is_empty(), "not due before the retry period");
        let mut asked = vec![hint];
        for k in 1..5u32 {
            let due = f.due(&peers, t0 + RETRY_AFTER * k);
            assert_eq!(due.len(), 1, "one peer per retry period");
            asked.push(due[0].1);
        }
        let distinct: BTreeSet<PeerId> = asked.iter().copied().collect();
        assert_eq!(distinct, peers, "every peer asked once in the round");
        // A new round starts.
        assert_eq!(f.due(&peers, t0 + RETRY_AFTER * 6).len(), 1);
    }

    /// The table is bounded and emptied as slots are applied.
    #[test]
    fn items_are_capped_and_released_with_their_slot() {
        let mut f = Fetcher::default();
        let p = PeerId::random();
        let t0 = Instant::now();
        let mut started = 0;
        for i in 0..(MAX_ITEMS as u64 + 50) {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&i.to_le_bytes());
            if f.need(Missing::QuorumSet(h), 5 + i % 2, p, t0).is_some() {
                started += 1;
            }
        }
        assert_eq!(started, MAX_ITEMS);
        f.release_through(5);
        assert_eq!(f.len(), MAX_ITEMS / 2);
        f.release_through(6);
        assert_eq!(f.len(), 0);
    }
}
