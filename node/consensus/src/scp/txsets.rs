//! The transaction sets a validator holds, and why: the defence against junk sets pushing out
//! the sets consensus needs (issue 17, "tx sets no one can push out").
//!
//! Three kinds, each bounded on its own:
//! - **pinned**: sets an open slot needs, because an envelope of a node in the local transitive
//!   quorum (or this node itself) names them. They stay until their slot is applied, whatever
//!   else arrives; nothing an outsider sends can evict them (stellar-core keeps the tx sets of
//!   open slots in its `PendingEnvelopes` the same way).
//! - **wanted**: hashes such envelopes name whose set has not arrived. A set with a wanted
//!   hash is pinned on arrival (from gossip or a fetch).
//! - **loose**: sets that arrived before anything named them (a proposer gossips its set just
//!   before its nomination). Kept per relaying peer ([`LOOSE_PER_PEER`]) and in total
//!   ([`LOOSE_TOTAL`], [`LOOSE_BYTES`]); when full, the peer holding the most loses its oldest,
//!   so a flooding peer only ever evicts its own sets. A loose set is not relayed: gossip
//!   carries a set further only once an envelope names it.
//!
//! Sets of applied slots are not kept here: the block store serves them ([`TxSetStore::applied`]
//! remembers which recent block carried which set hash).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use watt_network::PeerId;
use watt_primitives::{BlockNumber, Hash, TxSet};

/// Loose sets kept per relaying peer.
pub(crate) const LOOSE_PER_PEER: usize = 4;
/// Loose sets kept in total.
pub(crate) const LOOSE_TOTAL: usize = 64;
/// Bytes of loose sets kept in total (a set is at most ~9 MiB on the wire).
pub(crate) const LOOSE_BYTES: usize = 64 << 20;
/// Hashes wanted at once, over all open slots. Each is named by a signed envelope of a node in
/// the transitive quorum, so only a quorum member can make the node want something; the cap
/// bounds what a faulty one costs.
pub(crate) const WANTED_TOTAL: usize = 256;
/// Hashes one sender may make the node want for one slot (an honest nomination names the
/// values of a few round leaders).
pub(crate) const WANTED_PER_SENDER_SLOT: usize = 16;
/// Applied slots whose set hash is remembered, to serve peers one or a few slots behind.
pub(crate) const APPLIED_KEPT: usize = 64;

struct Pinned {
    set: Arc<TxSet>,
    /// The highest slot naming it: released once that slot is applied.
    slot: u64,
}

struct Loose {
    set: Arc<TxSet>,
    from: PeerId,
    bytes: usize,
}

struct Wanted {
    slot: u64,
}

/// What became of a set handed to [`TxSetStore::offer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Offered {
    /// An open slot was waiting for it: pinned (worth relaying).
    Pinned,
    /// Already held.
    Known,
    /// Nothing names it yet: kept loose (not relayed).
    Loose,
}

/// What [`TxSetStore::want`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Want {
    /// The set is here (now pinned for the slot).
    Have,
    /// Not here; newly wanted (`true`) or already wanted (`false`): fetch it.
    Missing(bool),
    /// Over a cap: not wanted; the envelope that named it must not wait for it.
    Refused,
}

/// The sets held by the engine; see the module doc.
#[derive(Default)]
pub(crate) struct TxSetStore {
    pinned: HashMap<Hash, Pinned>,
    wanted: HashMap<Hash, Wanted>,
    /// (slot, sender) -> hashes that sender made the node want for that slot.
    wanted_by: BTreeMap<(u64, [u8; 32]), Vec<Hash>>,
    loose: HashMap<Hash, Loose>,
    loose_order: HashMap<PeerId, VecDeque<Hash>>,
    loose_bytes: usize,
    applied: VecDeque<(Hash, BlockNumber)>,
}

impl TxSetStore {
    pub(crate) fn get(&self, hash: &Hash) -> Option<Arc<TxSet>> {
        self.pinned
            .get(hash)
            .map(|p| p.set.clone())
            .or_else(|| self.loose.get(hash).map(|l| l.set.clone()))
    }

    pub(crate) fn has(&self, hash: &Hash) -> bool {
        self.pinned.contains_key(hash) || self.loose.contains_key(hash)
    }

    /// Pins `set` for `slot` (this node's own proposal, or one restored from disk).
    pub(crate) fn pin(&mut self, set: Arc<TxSet>, slot: u64) -> Hash {
        let hash = set.hash();
        self.remove_loose(&hash);
        self.wanted.remove(&hash);
        let entry = self.pinned.entry(hash).or_insert(Pinned { set, slot });
        entry.slot = entry.slot.max(slot);
        hash
    }

    /// An envelope of a quorum member, `sender`, names `hash` for `slot`: pin the set if held,
    /// else want it (within the caps).
    pub(crate) fn want(&mut self, hash: Hash, slot: u64, sender: [u8; 32]) -> Want {
        if let Some(p) = self.pinned.get_mut(&hash) {
            p.slot = p.slot.max(slot);
            return Want::Have;
        }
        if let Some(l) = self.remove_loose(&hash) {
            self.pinned.insert(hash, Pinned { set: l.set, slot });
            return Want::Have;
        }
        if let Some(w) = self.wanted.get_mut(&hash) {
            w.slot = w.slot.max(slot);
            return Want::Missing(false);
        }
        let by_sender = self.wanted_by.entry((slot, sender)).or_default();
        if self.wanted.len() >= WANTED_TOTAL || by_sender.len() >= WANTED_PER_SENDER_SLOT {
            return Want::Refused;
        }
        by_sender.push(hash);
        self.wanted.insert(hash, Wanted { slot });
        Want::Missing(true)
    }

    /// A set arrived from `from` (gossip, or the answer to a fetch).
    pub(crate) fn offer(&mut self, set: TxSet, from: PeerId) -> (Hash, Offered) {
        let hash = set.hash();
        if self.pinned.contains_key(&hash) || self.loose.contains_key(&hash) {
            return (hash, Offered::Known);
        }
        if let Some(w) = self.wanted.remove(&hash) {
            self.pinned.insert(
                hash,
                Pinned {
                    set: Arc::new(set),
                    slot: w.slot,
                },
            );
            return (hash, Offered::Pinned);
        }
        let bytes = set.encoded_len();
        if bytes > LOOSE_BYTES {
            return (hash, Offered::Loose);
        }
        // Make room: first within the sender's own quota, then from whoever holds the most.
        while self.loose_order.get(&from).is_some_and(|q| q.len() >= LOOSE_PER_PEER) {
            self.evict_oldest_of(from);
        }
        while self.loose.len() >= LOOSE_TOTAL || self.loose_bytes + bytes > LOOSE_BYTES {
            let Some(biggest) = self
                .loose_order
                .iter()
                .max_by_key(|(p, q)| (q.len(), **p == from))
                .map(|(p, _)| *p)
            else {
                break;
            };
            self.evict_oldest_of(biggest);
        }
        self.loose_bytes += bytes;
        self.loose.insert(
            hash,
            Loose {
                set: Arc::new(set),
                from,
                bytes,
            },
        );
        self.loose_order.entry(from).or_default().push_back(hash);
        (hash, Offered::Loose)
    }

    fn evict_oldest_of(&mut self, peer: PeerId) {
        let Some(queue) = self.loose_order.get_mut(&peer) else {
            return;
        };
        let oldest = queue.pop_front();
        if queue.is_empty() {
            self.loose_order.remove(&peer);
        }
        if let Some(h) = oldest {
            if let Some(l) = self.loose.remove(&h) {
                self.loose_bytes -= l.bytes;
            }
        }
    }

    fn remove_loose(&mut self, hash: &Hash) -> Option<Loose> {
        let l = self.loose.remove(hash)?;
        self.loose_bytes -= l.bytes;
        if let Some(q) = self.loose_order.get_mut(&l.from) {
            q.retain(|h| h != hash);
            if q.is_empty() {
                self.loose_order.remove(&l.from);
            }
        }
        Some(l)
    }

    /// Slot `number` was applied with the set `set_hash`: every pin and want for slots up to it
    /// is released, and the set is remembered as served by block `number`.
    pub(crate) fn applied(&mut self, number: BlockNumber, set_hash: Hash) {
        self.pinned.retain(|_, p| p.slot > number);
        self.wanted.retain(|_, w| w.slot > number);
        self.wanted_by = self.wanted_by.split_off(&(number + 1, [0; 32]));
        self.applied.push_back((set_hash, number));
        while self.applied.len() > APPLIED_KEPT {
            self.applied.pop_front();
        }
    }

    /// The head moved to `number` by sync (no set known): release what slots up to it held.
    pub(crate) fn release_through(&mut self, number: BlockNumber) {
        self.pinned.retain(|_, p| p.slot > number);
        self.wanted.retain(|_, w| w.slot > number);
        self.wanted_by = self.wanted_by.split_off(&(number + 1, [0; 32]));
    }

    /// The block that carried `hash`, if it is a recently applied set.
    pub(crate) fn applied_block(&self, hash: &Hash) -> Option<BlockNumber> {
        self.applied.iter().rev().find(|(h, _)| h == hash).map(|(_, n)| *n)
    }

    /// Sizes, for metrics and the memory bound: (pinned sets, pinned bytes, loose sets, loose
    /// bytes, wanted hashes).
    pub(crate) fn sizes(&self) -> (usize, usize, usize, usize, usize) {
        let pinned_bytes = self.pinned.values().map(|p| p.set.encoded_len()).sum();
        (
            self.pinned.len(),
            pinned_bytes,
            self.loose.len(),
            self.loose_bytes,
            self.wanted.len(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use watt_chain::test_utils::{keyring, transfer};
    use watt_primitives::UNIT;

    /// A distinct set per `i` (signed once: the store never checks signatures).
    fn set(i: u64) -> TxSet {
        thread_local! {
            static TEMPLATE: watt_primitives::SignedTransaction = {
                let keys = keyring();
                transfer([0; 32], &keys[0], keys[1].account(), UNIT, 0, 0)
            };
        }
        let mut tx = TEMPLATE.with(|t| t.clone());
        tx.tx.nonce = i;
        TxSet { transactions: vec![tx] }
    }

    /// A flood of unnamed sets from one peer never evicts a pinned set, nor another peer's
    /// loose set; the flooder keeps at most its quota.
    #[test]
    fn a_flood_evicts_only_the_flooders_own_sets() {
        let mut store = TxSetStore::default();
        let honest = PeerId::random();
        let flooder = PeerId::random();
        let needed = store.pin(Arc::new(set(1)), 5);
        let (early, o) = store.offer(set(2), honest);
        assert_eq!(o, Offered::Loose);
        for i in 100..2_100 {
            store.offer(set(i), flooder);
        }
        assert!(store.has(&needed), "a pinned set was evicted");
        assert!(
            store.has(&early),
            "an honest peer's loose set was evicted by another peer"
        );
        assert_eq!(store.loose_order.get(&flooder).map(|q| q.len()), Some(LOOSE_PER_PEER));
        assert!(store.loose.len() <= LOOSE_TOTAL);
    }

    /// Many flooding peers (fresh peer ids) can fill the loose total, but the eviction always
    /// takes from whoever holds the most, so a peer with one set keeps it while any holds more.
    #[test]
    fn many_flooders_evict_each_other_first() {
        let mut store = TxSetStore::default();
        let honest = PeerId::random();
        let (early, _) = store.offer(set(1), honest);
        let mut n = 10;
        for _ in 0..40 {
            let p = PeerId::random();
            for _ in 0..LOOSE_PER_PEER {
                n += 1;
                store.offer(set(n), p);
            }
        }
        assert!(store.loose.len() <= LOOSE_TOTAL);
        assert!(store.has(&early));
    }

    /// A set that arrived loose is pinned when an envelope names it, and survives a flood; a
    /// wanted set is pinned when it arrives; pins end when their slot is applied.
    #[test]
    fn named_sets_are_pinned_until_their_slot_is_applied() {
        let mut store = TxSetStore::default();
        let p = PeerId::random();
        let (h, _) = store.offer(set(1), p);
        assert_eq!(store.want(h, 7, [1; 32]), Want::Have);
        let later = set(2).hash();
        assert_eq!(store.want(later, 8, [1; 32]), Want::Missing(true));
        assert_eq!(store.want(later, 8, [2; 32]), Want::Missing(false));
        for i in 100..300 {
            store.offer(set(i), p);
        }
        assert!(store.has(&h));
        assert_eq!(store.offer(set(2), p), (later, Offered::Pinned));
        store.applied(7, h);
        assert!(!store.has(&h), "slot 7 applied: its pin is released");
        assert_eq!(store.applied_block(&h), Some(7));
        assert!(store.has(&later), "slot 8 is still open");
        store.applied(8, later);
        assert!(!store.has(&later));
    }

    /// One sender cannot make the node want more than its per-slot share, nor all senders
    /// more than the total.
    #[test]
    fn wanted_hashes_are_capped_per_sender_and_in_total() {
        let mut store = TxSetStore::default();
        let mut refused = 0;
        for i in 0..100u64 {
            let mut h = [0u8; 32];
            h[..8].copy_from_slice(&i.to_le_bytes());
            if store.want(h, 3, [9; 32]) == Want::Refused {
                refused += 1;
            }
        }
        assert_eq!(refused, 100 - WANTED_PER_SENDER_SLOT);
        let mut total_refused = 0;
        for s in 0..1_000u64 {
            let mut h = [1u8; 32];
            h[..8].copy_from_slice(&s.to_le_bytes());
            let sender: [u8; 32] = [(s % 200) as u8; 32];
            if store.want(h, 4 + s / 200, sender) == Want::Refused {
                total_refused += 1;
            }
        }
        assert_eq!(store.wanted.len(), WANTED_TOTAL);
        assert!(total_refused > 0);
        // Applying releases the wants of the slots applied, and room returns.
        store.release_through(100);
        assert_eq!(store.wanted.len(), 0);
    }
}
