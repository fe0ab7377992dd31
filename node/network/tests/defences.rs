//! The network's defences against outsiders (issue 17), on loopback: scoring that spares honest
//! peers of other libp2p implementations (echoes) but still bans senders of rejected messages,
//! queues that keep consensus messages flowing under a transaction flood, per-peer request limits,
//! slots reserved for quorum validators, per-address limits and address bans.
//!
//! Every wait has a deadline. Where a test asserts that something did *not* happen (no penalty),
//! it first waits for a marker that can only arrive after the events in question were processed.

mod common;

use std::{
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use blake2::{digest::consts::U32, Blake2b, Digest};
use common::*;
use futures::StreamExt;
use libp2p::{
    gossipsub, identify, identity, noise,
    swarm::{NetworkBehaviour, SwarmEvent},
    tcp, yamux,
};
use watt_network::{GossipId, Multiaddr, NetworkConfig, NetworkError, NetworkEvent, PeerId, Topic, Validation};

const GENESIS: [u8; 32] = [0x3c; 32];

fn config(seed: u8) -> NetworkConfig {
    NetworkConfig {
        // Only the connections each test makes.
        discovery: false,
        ..test_config(seed, GENESIS)
    }
}

/// The libp2p key of a node with this seed, derived as the crate documents it.
fn keypair_of_seed(seed: [u8; 32]) -> identity::Keypair {
    let mut h = Blake2b::<U32>::new();
    h.update(b"watt/p2p/v1");
    h.update(seed);
    let mut secret: [u8; 32] = h.finalize().into();
    identity::Keypair::ed25519_from_bytes(&mut secret).expect("any 32 bytes are an ed25519 secret")
}

#[derive(NetworkBehaviour)]
struct EchoBehaviour {
    identify: identify::Behaviour,
    gossipsub: gossipsub::Behaviour,
}

/// A bare libp2p peer with identity `key` speaking identify (with this chain's protocol
/// version) and `gossip` only, as a minimal third-party client does.
fn raw_gossip_swarm(key: identity::Keypair, gossip: gossipsub::Behaviour) -> libp2p::Swarm<EchoBehaviour> {
    let protocol = format!("{}/1", config(0).protocol_prefix());
    libp2p::SwarmBuilder::with_existing_identity(key.clone())
        .with_tokio()
        .with_tcp(tcp::Config::default(), noise::Config::new, yamux::Config::default)
        .unwrap()
        .with_behaviour(|_| EchoBehaviour {
            identify: identify::Behaviour::new(identify::Config::new(protocol, key.public())),
            gossipsub: gossip,
        })
        .unwrap()
        .build()
}

/// A peer behaving as js-libp2p does with a message it relays: it sends it on to every mesh peer
/// but the one it came from, so the author gets its own message back. Here every message of
/// `author` is sent back to it: received from the author, re-sent unchanged (messages carry no
/// author, StrictNoSign), so the author sees its own message arrive from another peer. After
/// `echoes` of them it sends one new message, `marker`, which the author has never seen. Like a minimal third-party client it speaks identify and gossipsub only
/// (no ping, no Kademlia).
async fn start_echo_peer(author: Multiaddr, echoes: usize, marker: Vec<u8>) -> (PeerId, Arc<AtomicUsize>) {
    let own_key = identity::Keypair::generate_ed25519();
    let own_id = own_key.public().to_peer_id();
    let cfg = config(0);
    // Its own message ids are unique per message, so it re-publishes what it received (with
    // content ids its own duplicate check would refuse); the author's ids are content hashes.
    static NEXT_ID: AtomicUsize = AtomicUsize::new(0);
    let gossip = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Anonymous,
        gossipsub::ConfigBuilder::default()
            .heartbeat_interval(Duration::from_millis(300))
            .validation_mode(gossipsub::ValidationMode::Anonymous)
            .message_id_fn(|_| gossipsub::MessageId::from(NEXT_ID.fetch_add(1, Ordering::SeqCst).to_string()))
            .build()
            .unwrap(),
    )
    .unwrap();
    let mut swarm = raw_gossip_swarm(own_key, gossip);
    let mut topics = Vec::new();
    for topic in Topic::ALL {
        let t = gossipsub::IdentTopic::new(cfg.topic_name(topic));
        swarm.behaviour_mut().gossipsub.subscribe(&t).unwrap();
        topics.push(t);
    }
    swarm.dial(author).unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    tokio::spawn(async move {
        loop {
            let SwarmEvent::Behaviour(EchoBehaviourEvent::Gossipsub(gossipsub::Event::Message { message, .. })) =
                swarm.select_next_some().await
            else {
                continue;
            };
            if counter.load(Ordering::SeqCst) >= echoes {
                continue;
            }
            let topic = topics
                .iter()
                .find(|t| t.hash() == message.topic)
                .cloned()
                .expect("a subscribed topic");
            swarm
                .behaviour_mut()
                .gossipsub
                .publish(topic.clone(), message.data)
                .expect("the echo is sent");
            if counter.fetch_add(1, Ordering::SeqCst) + 1 == echoes {
                swarm
                    .behaviour_mut()
                    .gossipsub
                    .publish(topic, marker.clone())
                    .expect("the marker is sent");
            }
        }
    });
    (own_id, sent)
}

#[tokio::test]
async fn a_peer_echoing_our_own_messages_is_never_penalised() {
    init_logs();
    let seed = [101u8; 32];
    let mut a = Node::start(config(101)).await;
    assert_eq!(keypair_of_seed(seed).public().to_peer_id(), a.id());
    // Twelve echoes: counted as invalid messages (-10 × n²) they would cost -1,440, a ban after
    // the fourth.
    let echoes = 12;
    let marker = b"sent by the echo peer after the echoes".to_vec();
    let (echo_id, sent) = start_echo_peer(a.address(), echoes, marker.clone()).await;
    a.connected_to(echo_id).await;
    let ha = a.handle.clone();
    eventually("a knows the echo peer's subscriptions", || {
        Topic::ALL.iter().all(|t| ha.topic_peers(*t) == 1)
    })
    .await;

    let mut published = Vec::new();
    for i in 0..echoes {
        let topic = Topic::ALL[i % 3];
        let data = format!("a's message {i}").into_bytes();
        a.handle.publish(topic, data.clone());
        published.push(data);
    }
    // Messages from the echo peer reach a in the order sent, so once the marker is in, every
    // echo before it has been handled.
    let mut echoes_seen = 0;
    let (from, id) = a
        .next("the marker after the echoes", |e| match e {
            NetworkEvent::Gossip { data, from, id, .. } => {
                if published.contains(&data) {
                    echoes_seen += 1;
                }
                (data == marker).then_some((from, id))
            }
            _ => None,
        })
        .await;
    assert_eq!(sent.load(Ordering::SeqCst), echoes);
    assert_eq!(from, echo_id);
    // A new message from that peer is delivered like any other ...
    a.handle.report_validation(id, from, Validation::Ignore);
    // ... but an echo of one we sent is a duplicate: the application does not see it again.
    assert_eq!(echoes_seen, 0, "echoes of our own messages reached the application");

    // Gossipsub's scores are folded into the peer book every second: wait for two folds.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let info = a.info(echo_id).expect("a knows the echo peer");
    assert_eq!(info.score, 0, "{info:?}");
    assert!(info.connected && !info.banned, "{info:?}");
}

#[tokio::test]
async fn a_peer_sending_rejected_messages_is_still_banned() {
    init_logs();
    let mut a = Node::start(config(110)).await;
    let b = fresh_peers(111, 1, &a).await.remove(0);
    a.connected_to(b.id()).await;
    let (ha, hb) = (a.handle.clone(), b.handle.clone());
    eventually("subscriptions are known", || {
        ha.topic_peers(Topic::Transactions) == 1 && hb.topic_peers(Topic::Transactions) == 1
    })
    .await;
    let b_id = b.id();

    // A verdict on a message b never sent costs b nothing.
    a.handle
        .report_validation(GossipId::from_bytes([9; 32]), b_id, Validation::Reject);

    let mut scores = Vec::new();
    for i in 0..4 {
        let data = format!("bad transaction {i}").into_bytes();
        b.handle.publish(Topic::Transactions, data.clone());
        let (from, id) = a
            .next("b's message", |e| match e {
                NetworkEvent::Gossip {
                    data: got, from, id, ..
                } if got == data => Some((from, id)),
                _ => None,
            })
            .await;
        assert_eq!(from, b_id);
        a.handle.report_validation(id, from, Validation::Reject);
        if i < 3 {
            // The count decays by 1 % a second, so the first rejections cost -10, -40, -90 give
            // or take a point.
            let expected = -10 * (i + 1) * (i + 1);
            eventually("the rejection is counted", || {
                info(&ha, b_id).is_some_and(|p| (p.score - expected).abs() <= 2)
            })
            .await;
            scores.push(a.info(b_id).unwrap().score);
        }
    }
    assert!(
        scores[0] > -12,
        "the unknown message's verdict cost b something: {scores:?}"
    );
    a.next("b's disconnection", |e| {
        matches!(e, NetworkEvent::PeerDisconnected(p) if p == b_id).then_some(())
    })
    .await;
    let info = a.info(b_id).unwrap();
    assert!(info.banned && info.score <= -150, "{info:?}");
}

#[tokio::test]
async fn consensus_messages_and_honest_peers_overtake_a_transaction_flood() {
    init_logs();
    let mut a = Node::start(config(120)).await;
    let [flooder, honest]: [Node; 2] = fresh_peers(121, 2, &a)
        .await
        .try_into()
        .unwrap_or_else(|_| unreachable!("two peers were started"));
    a.connected_to_all(&[flooder.id(), honest.id()]).await;
    let (hf, hh) = (flooder.handle.clone(), honest.handle.clone());
    eventually("both know a's subscriptions", || {
        hf.topic_peers(Topic::Transactions) == 1
            && hh.topic_peers(Topic::Transactions) == 1
            && hh.topic_peers(Topic::ScpEnvelopes) == 1
    })
    .await;

    // a's application is busy: it reads nothing while 3,000 transactions arrive from one peer
    // (three times the single 1,024-event queue that used to drop everyone's gossip), then 20
    // envelopes and 5 transactions from an honest validator.
    let flood = 3_000;
    for i in 0..flood {
        flooder
            .handle
            .publish(Topic::Transactions, format!("flood {i}").into_bytes());
    }
    // Only once the flood is in line does the honest validator speak (its messages would
    // otherwise arrive first: signing and checking 3,000 messages takes a while).
    let ha = a.handle.clone();
    eventually("the flood is queued for a's application", || {
        ha.queued_events() >= flood
    })
    .await;
    let envelopes = 20;
    for i in 0..envelopes {
        honest
            .handle
            .publish(Topic::ScpEnvelopes, format!("envelope {i}").into_bytes());
    }
    for i in 0..5 {
        honest
            .handle
            .publish(Topic::Transactions, format!("honest tx {i}").into_bytes());
    }
    let total = flood + envelopes + 5;
    eventually("everything sent is queued for a's application", || {
        ha.queued_events() >= total
    })
    .await;
    assert_eq!(a.handle.queued_events(), total);

    // Now a reads. Its channel holds the first 32 events to arrive; behind it, envelopes go
    // first, then transactions with the two peers taking turns.
    let mut order = Vec::new();
    while order.len() < total {
        let event = tokio::time::timeout(WAIT, a.events.recv())
            .await
            .expect("every queued event is delivered")
            .expect("the network runs");
        if let NetworkEvent::Gossip { data, from, id, .. } = event {
            a.handle.report_validation(id, from, Validation::Ignore);
            order.push(String::from_utf8(data).unwrap());
        }
    }
    let position = |prefix: &str| -> usize {
        order
            .iter()
            .rposition(|m| m.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix}"))
    };
    let channel = 32;
    assert!(
        position("envelope") < channel + envelopes,
        "the last envelope came {}th",
        position("envelope") + 1
    );
    assert!(
        position("honest tx") < channel + envelopes + 2 * 5,
        "the honest peer's last transaction came {}th",
        position("honest tx") + 1
    );
    assert_eq!(
        order.iter().filter(|m| m.starts_with("flood")).count(),
        flood,
        "nothing dropped"
    );
    assert_eq!(a.handle.queued_events(), 0);
    let info = a.info(flooder.id()).unwrap();
    assert_eq!(
        (info.ignored_gossip, info.score),
        (0, 0),
        "an honest-sized burst costs nothing: {info:?}"
    );
}

#[tokio::test]
async fn requests_are_limited_per_peer() {
    init_logs();
    let mut a = Node::start(config(130)).await;
    let b = fresh_peers(131, 1, &a).await.remove(0);
    a.connected_to(b.id()).await;
    let (a_id, b_id) = (a.id(), b.id());

    // 20 requests at once while a's application holds them: 8 are handed over (the per-peer
    // limit in flight), the other 12 are closed unanswered at once.
    let requests: Vec<_> = (0..20)
        .map(|i| {
            let h = b.handle.clone();
            tokio::spawn(async move { h.request(a_id, format!("request {i}").into_bytes()).await })
        })
        .collect();
    let mut held = Vec::new();
    while held.len() < 8 {
        let reply = a
            .next("a request", |e| match e {
                NetworkEvent::Request { reply, .. } => Some(reply),
                _ => None,
            })
            .await;
        held.push(reply);
    }
    let ha = a.handle.clone();
    eventually("twelve requests are refused", || {
        info(&ha, b_id).is_some_and(|p| p.refused_requests == 12)
    })
    .await;
    assert!(a.events.try_recv().is_err(), "a ninth request reached the application");
    for reply in held {
        reply.send(b"answer".to_vec());
    }
    let mut answered = 0;
    for r in requests {
        match tokio::time::timeout(WAIT, r).await.expect("requests end").unwrap() {
            Ok(answer) => {
                assert_eq!(answer, b"answer");
                answered += 1;
            }
            Err(NetworkError::NoResponse) => {}
            Err(e) => panic!("unexpected failure {e}"),
        }
    }
    assert_eq!(answered, 8);
    assert_eq!(
        a.info(b_id).unwrap().score,
        0,
        "refusals for being in flight cost nothing"
    );

    // A peer that keeps sending far over its rate (20/s after a burst of 50) is refused, and
    // penalised mildly once its refusals show it is flooding.
    let answering = tokio::spawn(async move {
        while let Some(event) = a.events.recv().await {
            if let NetworkEvent::Request { reply, .. } = event {
                reply.send(b"ok".to_vec());
            }
        }
    });
    let started = Instant::now();
    let mut ok = 0usize;
    for i in 0..400 {
        if b.handle.request(a_id, format!("again {i}").into_bytes()).await.is_ok() {
            ok += 1;
        }
    }
    let allowed = 50.0 + 20.0 * started.elapsed().as_secs_f64();
    assert!(ok as f64 <= allowed + 1.0, "{ok} answered, the budget was {allowed}");
    assert!(ok >= 30, "only {ok} answered: the budget was refused too early");
    eventually("the flood is penalised", || {
        info(&ha, b_id).is_some_and(|p| p.score <= -10)
    })
    .await;
    let flooded = info(&ha, b_id).unwrap();
    assert!(flooded.score > -100 && !flooded.banned, "mildly: {flooded:?}");
    answering.abort();
}

/// Starts `n` nodes with fresh keys that dial `target` (and redial it every 300 ms).
async fn fresh_peers(first_seed: u8, n: u8, target: &Node) -> Vec<Node> {
    let mut nodes = Vec::new();
    for seed in first_seed..first_seed + n {
        nodes.push(
            Node::start(NetworkConfig {
                bootnodes: vec![target.address()],
                ..config(seed)
            })
            .await,
        );
    }
    nodes
}

/// Connects `n` fresh peers (seeds from `first_seed`) to `a`, then one more, which `a` must
/// refuse (at least twice: it redials) and leave unconnected. Returns the connected peers (kept
/// running) and the refused one's id.
async fn fill_then_refuse_one(a: &mut Node, first_seed: u8, n: u8) -> (Vec<Node>, PeerId) {
    let fillers = fresh_peers(first_seed, n, a).await;
    a.connected_to_all(&fillers.iter().map(Node::id).collect::<Vec<_>>())
        .await;
    let late = fresh_peers(first_seed + n + 1, 1, a).await;
    let (ha, late_id) = (a.handle.clone(), late[0].id());
    eventually("one peer more than the slots is refused", || {
        info(&ha, late_id).is_some_and(|p| p.refused_connections >= 2)
    })
    .await;
    assert!(!a.info(late_id).unwrap().connected);
    (fillers.into_iter().chain(late).collect(), late_id)
}

#[tokio::test]
async fn a_reserved_peer_connects_when_every_slot_is_taken() {
    init_logs();
    let reserved_seed = 149u8;
    let reserved_id = watt_network::peer_id_from_seed(&[reserved_seed; 32]);
    let mut a = Node::start(NetworkConfig {
        max_peers: 3,
        reserved_peers: vec![reserved_id],
        ..config(140)
    })
    .await;
    // A fourth fresh peer finds no slot.
    let (_fillers, late_id) = fill_then_refuse_one(&mut a, 141, 3).await;
    assert_eq!(a.handle.connected_peers(), 3);

    // The reserved validator gets in all the same.
    let validator = fresh_peers(reserved_seed, 1, &a).await;
    assert_eq!(validator[0].id(), reserved_id);
    a.connected_to(reserved_id).await;
    assert_eq!(a.handle.connected_peers(), 4);
    assert!(!a.info(late_id).unwrap().connected);
}

#[tokio::test]
async fn one_address_gets_a_bounded_share_of_the_slots() {
    init_logs();
    let reserved_seed = 159u8;
    let reserved_id = watt_network::peer_id_from_seed(&[reserved_seed; 32]);
    let mut a = Node::start(NetworkConfig {
        max_peers_per_ip: 2,
        // Every test node is on 127.0.0.1: apply the per-address limit to it.
        limit_loopback_ips: true,
        reserved_peers: vec![reserved_id],
        ..config(150)
    })
    .await;
    // A third peer from the same address finds no slot.
    let (_first, _third_id) = fill_then_refuse_one(&mut a, 151, 2).await;
    let validator = fresh_peers(reserved_seed, 1, &a).await;
    a.connected_to(validator[0].id()).await;
    assert_eq!(a.handle.connected_peers(), 3);
}

#[tokio::test]
async fn a_ban_covers_the_banned_peers_address() {
    init_logs();
    let reserved_seed = 169u8;
    let reserved_id = watt_network::peer_id_from_seed(&[reserved_seed; 32]);
    let mut a = Node::start(NetworkConfig {
        // Every test node is on 127.0.0.1: ban it like any other address.
        ban_loopback_ips: true,
        reserved_peers: vec![reserved_id],
        ..config(160)
    })
    .await;
    let attacker = fresh_peers(161, 1, &a).await;
    let attacker_id = attacker[0].id();
    a.connected_to(attacker_id).await;
    a.handle.report_peer(attacker_id, 200, "test: misbehaved");
    a.next("the attacker's disconnection", |e| {
        matches!(e, NetworkEvent::PeerDisconnected(p) if p == attacker_id).then_some(())
    })
    .await;

    // The attacker comes back under a fresh peer id from the same address: refused.
    let comeback = fresh_peers(162, 1, &a).await;
    let (ha, comeback_id) = (a.handle.clone(), comeback[0].id());
    eventually("the fresh id from the banned address is refused", || {
        info(&ha, comeback_id).is_some_and(|p| p.refused_connections >= 2)
    })
    .await;
    assert!(!a.info(comeback_id).unwrap().connected);
    // A reserved validator on that address still connects.
    let validator = fresh_peers(reserved_seed, 1, &a).await;
    a.connected_to(validator[0].id()).await;
    assert!(!a.info(comeback_id).unwrap().connected);
}

#[tokio::test]
async fn loopback_is_not_banned_by_default() {
    init_logs();
    let mut a = Node::start(config(170)).await;
    let attacker = fresh_peers(171, 1, &a).await;
    let attacker_id = attacker[0].id();
    a.connected_to(attacker_id).await;
    a.handle.report_peer(attacker_id, 200, "test: misbehaved");
    a.next("the attacker's disconnection", |e| {
        matches!(e, NetworkEvent::PeerDisconnected(p) if p == attacker_id).then_some(())
    })
    .await;
    assert!(a.info(attacker_id).unwrap().banned);
    // Another node on 127.0.0.1 is not cut off by that ban.
    let neighbour = fresh_peers(172, 1, &a).await;
    a.connected_to(neighbour[0].id()).await;
}

/// Messages carry no author (StrictNoSign, `PROTOCOL.md`): a peer that signs its messages, as a
/// node of the old format or a client left on js-libp2p's default does, has them refused, not
/// delivered, and counted against it like any message breaking gossipsub.
#[tokio::test]
async fn signed_gossip_is_refused_and_counts_against_its_sender() {
    init_logs();
    let mut a = Node::start(config(120)).await;
    let key = identity::Keypair::generate_ed25519();
    let signer_id = key.public().to_peer_id();
    let cfg = config(0);
    let gossip = gossipsub::Behaviour::new(
        gossipsub::MessageAuthenticity::Signed(key.clone()),
        gossipsub::ConfigBuilder::default()
            .heartbeat_interval(Duration::from_millis(300))
            .build()
            .unwrap(),
    )
    .unwrap();
    let mut swarm = raw_gossip_swarm(key, gossip);
    let topic = gossipsub::IdentTopic::new(cfg.topic_name(Topic::Transactions));
    swarm.behaviour_mut().gossipsub.subscribe(&topic).unwrap();
    swarm.dial(a.address()).unwrap();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let mut n = 0u32;
        loop {
            tokio::select! {
                _ = swarm.select_next_some() => {}
                _ = tick.tick() => {
                    // Fails until the subscription is known; the next tick tries again.
                    let _ = swarm.behaviour_mut().gossipsub.publish(topic.clone(), format!("signed {n}").into_bytes());
                    n += 1;
                }
            }
        }
    });
    a.connected_to(signer_id).await;
    let ha = a.handle.clone();
    // Gossipsub's penalties are folded into the peer book every second.
    eventually("the signer's score to fall", || {
        ha.peers()
            .iter()
            .any(|p| p.peer_id == signer_id.to_string() && p.score < 0)
    })
    .await;
    // None of its messages reached the application.
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_millis(200), a.events.recv()).await {
        if let NetworkEvent::Gossip { data, .. } = ev {
            assert!(!data.starts_with(b"signed "), "a signed message was delivered");
        }
    }
}
