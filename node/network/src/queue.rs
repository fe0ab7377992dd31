//! The queues of events waiting for the application, in front of its channel.
//!
//! The application reads [`NetworkEvent`]s from one channel, but what waits to enter it is sorted
//! here so that no peer and no topic can crowd out another:
//! - by class, served in strict priority: connection events, then SCP envelopes, then requests,
//!   then transaction sets, then transactions. Consensus messages are never dropped or delayed
//!   because the transaction or tx-set topics are flooded: they have their own bounded queue and
//!   go first. (A flood of envelopes could delay the lower classes, but envelopes are cheap to
//!   refuse and each peer's rate is capped before it gets here.)
//! - within a class, by peer, served round-robin: each peer with something queued gets one event
//!   delivered in turn, so a peer with ten thousand queued transactions delays an honest peer's
//!   transaction by one event, not ten thousand.
//!
//! Each class is bounded in events and bytes. When a class is full, the peer with the most queued
//! (by the measure that overflowed) loses its newest event: a flooding peer loses its own messages
//! while a peer with little queued always gets in. Dropped gossip is reported to gossipsub as
//! ignored (not relayed, no penalty); a dropped request is closed unanswered.
//!
//! Connection events are never dropped: their queue is unbounded here, and the swarm task waits
//! for the application (as it always did) when too many of them pile up.

use std::collections::{HashMap, VecDeque};

use libp2p::PeerId;

use crate::{NetworkEvent, Topic};

/// A class of events, in priority order (the first is served first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    Envelopes = 0,
    Requests = 1,
    TxSets = 2,
    Transactions = 3,
}

impl Class {
    const ALL: [Class; 4] = [Class::Envelopes, Class::Requests, Class::TxSets, Class::Transactions];

    pub(crate) fn of_topic(topic: Topic) -> Class {
        match topic {
            Topic::ScpEnvelopes => Class::Envelopes,
            Topic::TxSets => Class::TxSets,
            Topic::Transactions => Class::Transactions,
        }
    }

    /// The bounds of the class: (events, bytes of payload). Their sum bounds the memory the
    /// queues hold at about 240 MiB whatever peers send (plus the application's channel).
    fn bounds(self) -> (usize, usize) {
        match self {
            // Envelopes are about a kilobyte; 4,096 is several slots of a large network.
            Class::Envelopes => (4_096, 16 << 20),
            // Requests are at most 64 KiB (the default limit); each peer has at most eight in
            // flight, so 512 covers 64 busy peers.
            Class::Requests => (512, 32 << 20),
            // Sets reach 8 MiB: 128 MiB is sixteen full sets, or many small ones.
            Class::TxSets => (256, 128 << 20),
            // An honest burst of tens of thousands of transactions waits here instead of being
            // dropped (issue 17: "event queue full; gossip message dropped" under honest load).
            Class::Transactions => (40_000, 64 << 20),
        }
    }
}

/// The size an event takes in its class's byte bound.
fn weight(event: &NetworkEvent) -> usize {
    match event {
        NetworkEvent::Gossip { data, .. } | NetworkEvent::Request { data, .. } => data.len(),
        NetworkEvent::PeerConnected(_) | NetworkEvent::PeerDisconnected(_) => 0,
    }
}

#[derive(Debug, Default)]
struct PeerQueue {
    events: VecDeque<NetworkEvent>,
    bytes: usize,
}

/// One class: a queue per peer, served round-robin.
#[derive(Debug)]
struct ClassQueue {
    peers: HashMap<PeerId, PeerQueue>,
    /// Peers with something queued, in serving order.
    turn: VecDeque<PeerId>,
    len: usize,
    bytes: usize,
    max_len: usize,
    max_bytes: usize,
}

impl ClassQueue {
    fn new((max_len, max_bytes): (usize, usize)) -> Self {
        ClassQueue {
            peers: HashMap::new(),
            turn: VecDeque::new(),
            len: 0,
            bytes: 0,
            max_len,
            max_bytes,
        }
    }

    /// Queues `event` from `peer`; returns what had to be dropped to stay within bounds (possibly
    /// `event` itself).
    fn push(&mut self, peer: PeerId, event: NetworkEvent) -> Vec<NetworkEvent> {
        let size = weight(&event);
        let queue = self.peers.entry(peer).or_default();
        if queue.events.is_empty() {
            self.turn.push_back(peer);
        }
        queue.events.push_back(event);
        queue.bytes += size;
        self.len += 1;
        self.bytes += size;
        let mut dropped = Vec::new();
        while self.len > self.max_len || self.bytes > self.max_bytes {
            let by_bytes = self.bytes > self.max_bytes;
            let heaviest = self
                .peers
                .iter()
                .max_by_key(|(_, q)| if by_bytes { q.bytes } else { q.events.len() })
                .map(|(p, _)| *p);
            let Some(heaviest) = heaviest else { break };
            match self.pop_back(heaviest) {
                Some(event) => dropped.push(event),
                None => break,
            }
        }
        dropped
    }

    fn pop_back(&mut self, peer: PeerId) -> Option<NetworkEvent> {
        let (event, emptied) = self.take(peer, true)?;
        if emptied {
            self.turn.retain(|p| *p != peer);
        }
        Some(event)
    }

    /// Takes `peer`'s newest (`newest`) or oldest event and counts it out; whether that left
    /// the peer with nothing queued (its entry is then gone).
    fn take(&mut self, peer: PeerId, newest: bool) -> Option<(NetworkEvent, bool)> {
        let queue = self.peers.get_mut(&peer)?;
        let event = if newest {
            queue.events.pop_back()?
        } else {
            queue.events.pop_front()?
        };
        let size = weight(&event);
        queue.bytes -= size;
        self.len -= 1;
        self.bytes -= size;
        let emptied = queue.events.is_empty();
        if emptied {
            self.peers.remove(&peer);
        }
        Some((event, emptied))
    }

    /// The next event: the oldest of the peer whose turn it is.
    fn pop(&mut self) -> Option<NetworkEvent> {
        let peer = self.turn.pop_front()?;
        let (event, emptied) = self.take(peer, false)?;
        if !emptied {
            self.turn.push_back(peer);
        }
        Some(event)
    }
}

/// Every queue in front of the application's channel.
#[derive(Debug)]
pub(crate) struct EventQueues {
    connections: VecDeque<NetworkEvent>,
    classes: [ClassQueue; 4],
}

impl Default for EventQueues {
    fn default() -> Self {
        EventQueues {
            connections: VecDeque::new(),
            classes: Class::ALL.map(|c| ClassQueue::new(c.bounds())),
        }
    }
}

impl EventQueues {
    /// Queues a connection event (never dropped).
    pub(crate) fn push_connection(&mut self, event: NetworkEvent) {
        self.connections.push_back(event);
    }

    /// Connection events waiting.
    pub(crate) fn connection_backlog(&self) -> usize {
        self.connections.len()
    }

    /// Queues a gossip message or request from `peer` in `class`; returns the events dropped to
    /// make room (possibly this one), for the caller to settle (ignore the gossip, close the
    /// request).
    pub(crate) fn push(&mut self, class: Class, peer: PeerId, event: NetworkEvent) -> Vec<NetworkEvent> {
        self.classes[class as usize].push(peer, event)
    }

    /// The next event for the application, by priority.
    pub(crate) fn pop(&mut self) -> Option<NetworkEvent> {
        if let Some(event) = self.connections.pop_front() {
            return Some(event);
        }
        self.classes.iter_mut().find_map(ClassQueue::pop)
    }

    /// Events waiting in every queue.
    pub(crate) fn len(&self) -> usize {
        self.connections.len() + self.classes.iter().map(|c| c.len).sum::<usize>()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[cfg(test)]
    fn with_bounds(class: Class, max_len: usize, max_bytes: usize) -> Self {
        let mut q = EventQueues::default();
        q.classes[class as usize] = ClassQueue::new((max_len, max_bytes));
        q
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::GossipId;

    fn gossip(topic: Topic, from: PeerId, tag: u32, size: usize) -> NetworkEvent {
        let mut data = tag.to_le_bytes().to_vec();
        data.resize(size.max(4), 0);
        NetworkEvent::Gossip {
            topic,
            from,
            id: GossipId::from_bytes([0; 32]),
            data,
        }
    }

    /// (sender, tag) of a gossip event.
    fn tag(event: &NetworkEvent) -> (PeerId, u32) {
        match event {
            NetworkEvent::Gossip { from, data, .. } => (*from, u32::from_le_bytes(data[..4].try_into().unwrap())),
            other => panic!("not gossip: {other:?}"),
        }
    }

    #[test]
    fn classes_are_served_by_priority_and_connections_first() {
        let mut q = EventQueues::default();
        let p = PeerId::random();
        for i in 0..100 {
            assert!(q
                .push(Class::Transactions, p, gossip(Topic::Transactions, p, i, 8))
                .is_empty());
        }
        assert!(q.push(Class::TxSets, p, gossip(Topic::TxSets, p, 1000, 8)).is_empty());
        assert!(q
            .push(Class::Envelopes, p, gossip(Topic::ScpEnvelopes, p, 2000, 8))
            .is_empty());
        q.push_connection(NetworkEvent::PeerConnected(p));
        assert_eq!(q.len(), 103);
        assert!(matches!(q.pop(), Some(NetworkEvent::PeerConnected(_))));
        assert_eq!(
            tag(&q.pop().unwrap()).1,
            2000,
            "the envelope overtakes 100 queued transactions"
        );
        assert_eq!(tag(&q.pop().unwrap()).1, 1000);
        let rest: Vec<u32> = std::iter::from_fn(|| q.pop()).map(|e| tag(&e).1).collect();
        assert_eq!(rest, (0..100).collect::<Vec<_>>(), "one peer's messages stay in order");
        assert!(q.is_empty());
    }

    #[test]
    fn peers_are_served_in_turn() {
        let mut q = EventQueues::default();
        let (flooder, honest) = (PeerId::random(), PeerId::random());
        for i in 0..1000 {
            q.push(Class::Transactions, flooder, gossip(Topic::Transactions, flooder, i, 8));
        }
        q.push(Class::Transactions, honest, gossip(Topic::Transactions, honest, 7, 8));
        // The honest peer's message is the second one out, not the 1001st.
        let first_two: Vec<PeerId> = (0..2).map(|_| tag(&q.pop().unwrap()).0).collect();
        assert_eq!(first_two, vec![flooder, honest]);
        assert_eq!(q.len(), 999);
    }

    #[test]
    fn a_full_class_drops_the_heaviest_peers_newest() {
        let mut q = EventQueues::with_bounds(Class::Transactions, 10, usize::MAX);
        let (flooder, honest) = (PeerId::random(), PeerId::random());
        for i in 0..10 {
            assert!(q
                .push(Class::Transactions, flooder, gossip(Topic::Transactions, flooder, i, 8))
                .is_empty());
        }
        // Full: the flooder's own new messages are what goes.
        let dropped = q.push(
            Class::Transactions,
            flooder,
            gossip(Topic::Transactions, flooder, 10, 8),
        );
        assert_eq!(dropped.iter().map(tag).collect::<Vec<_>>(), vec![(flooder, 10)]);
        // An honest peer's message gets in, at the flooder's expense.
        let dropped = q.push(Class::Transactions, honest, gossip(Topic::Transactions, honest, 0, 8));
        assert_eq!(dropped.iter().map(tag).collect::<Vec<_>>(), vec![(flooder, 9)]);
        assert_eq!(q.len(), 10);
        let out: Vec<(PeerId, u32)> = std::iter::from_fn(|| q.pop()).map(|e| tag(&e)).collect();
        assert!(out.contains(&(honest, 0)));
        // Other classes are not touched by a full transaction class.
        let mut q = EventQueues::with_bounds(Class::Transactions, 1, usize::MAX);
        q.push(Class::Transactions, flooder, gossip(Topic::Transactions, flooder, 0, 8));
        assert!(q
            .push(Class::Envelopes, honest, gossip(Topic::ScpEnvelopes, honest, 1, 8))
            .is_empty());
    }

    #[test]
    fn the_byte_bound_drops_the_peer_holding_the_most_bytes() {
        let mut q = EventQueues::with_bounds(Class::TxSets, 100, 1000);
        let (big, small) = (PeerId::random(), PeerId::random());
        assert!(q
            .push(Class::TxSets, big, gossip(Topic::TxSets, big, 0, 600))
            .is_empty());
        for i in 0..3 {
            assert!(q
                .push(Class::TxSets, small, gossip(Topic::TxSets, small, i, 100))
                .is_empty());
        }
        // 900 bytes queued; 200 more overflow: the big sender's set goes, though `small` has
        // more events queued.
        let dropped = q.push(Class::TxSets, small, gossip(Topic::TxSets, small, 3, 200));
        assert_eq!(dropped.iter().map(tag).collect::<Vec<_>>(), vec![(big, 0)]);
        assert_eq!(q.len(), 4);
    }
}
