//! Nodes on loopback (ports chosen by the system): gossip, relaying after validation, requests,
//! discovery, bans and size limits. Every wait has a deadline; nothing is assumed to have happened
//! after a sleep.

mod common;

use std::{
    future::Future,
    time::{Duration, Instant},
};

use common::*;
use watt_network::{start, NetworkConfig, NetworkError, NetworkEvent, NetworkHandle, Topic, Validation};

fn config(seed: u8) -> NetworkConfig {
    test_config(seed, [0x5a; 32])
}

async fn with_deadline<T>(what: &str, f: impl Future<Output = T>) -> T {
    tokio::time::timeout(WAIT, f)
        .await
        .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
}

#[tokio::test]
async fn two_nodes_exchange_gossip_on_every_topic_and_requests() {
    init_logs();
    let mut a = Node::start(config(1)).await;
    let mut b = Node::start(NetworkConfig {
        bootnodes: vec![a.address()],
        ..config(2)
    })
    .await;
    a.connected_to(b.id()).await;
    b.connected_to(a.id()).await;
    assert_eq!(a.handle.connected_peers(), 1);
    let (ha, hb) = (a.handle.clone(), b.handle.clone());
    eventually("both know each other's subscriptions", || {
        Topic::ALL
            .iter()
            .all(|t| ha.topic_peers(*t) == 1 && hb.topic_peers(*t) == 1)
    })
    .await;

    for (i, topic) in Topic::ALL.into_iter().enumerate() {
        let from_a = format!("a says {i}").into_bytes();
        a.handle.publish(topic, from_a.clone());
        let (got_topic, from, id) = b.gossip(&from_a).await;
        assert_eq!((got_topic, from), (topic, a.id()));
        b.handle.report_validation(id, from, Validation::Accept);

        let from_b = format!("b says {i}").into_bytes();
        b.handle.publish(topic, from_b.clone());
        let (got_topic, from, id) = a.gossip(&from_b).await;
        assert_eq!((got_topic, from), (topic, b.id()));
        a.handle.report_validation(id, from, Validation::Accept);
    }

    // A request from a to b, answered.
    let request = tokio::spawn({
        let h = a.handle.clone();
        let b_id = b.id();
        async move { h.request(b_id, b"ping".to_vec()).await }
    });
    let reply = b
        .next("a request", |e| match e {
            NetworkEvent::Request { from, data, reply } if data == b"ping" => Some((from, reply)),
            _ => None,
        })
        .await;
    assert_eq!(reply.0, a.id());
    reply.1.send(b"pong".to_vec());
    assert_eq!(with_deadline("the response", request).await.unwrap().unwrap(), b"pong");

    // And one from b to a, which a's application declines to answer.
    let request = tokio::spawn({
        let h = b.handle.clone();
        let a_id = a.id();
        async move { h.request(a_id, b"anyone?".to_vec()).await }
    });
    let responder = a
        .next("a request", |e| match e {
            NetworkEvent::Request { data, reply, .. } if data == b"anyone?" => Some(reply),
            _ => None,
        })
        .await;
    drop(responder);
    let result = with_deadline("the failed response", request).await.unwrap();
    assert!(matches!(result, Err(NetworkError::NoResponse)), "{result:?}");

    let info = a.info(b.id()).expect("a knows b");
    assert!(info.connected);
    assert_eq!(info.agent.as_deref(), Some("watt-test/2"));
    assert_eq!(info.score, 0);
}

#[tokio::test]
async fn gossip_is_relayed_only_after_acceptance() {
    init_logs();
    // a - b - c in a line: discovery off, so a and c never meet.
    let line = |seed| NetworkConfig {
        discovery: false,
        ..config(seed)
    };
    let mut b = Node::start(line(11)).await;
    let mut a = Node::start(NetworkConfig {
        bootnodes: vec![b.address()],
        ..line(10)
    })
    .await;
    let mut c = Node::start(NetworkConfig {
        bootnodes: vec![b.address()],
        ..line(12)
    })
    .await;
    a.connected_to(b.id()).await;
    c.connected_to(b.id()).await;
    let (ha, hb, hc) = (a.handle.clone(), b.handle.clone(), c.handle.clone());
    let topic = Topic::ScpEnvelopes;
    eventually("subscriptions are known", || {
        ha.topic_peers(topic) == 1 && hb.topic_peers(topic) == 2 && hc.topic_peers(topic) == 1
    })
    .await;

    // Warm up until the b-c path carries accepted messages (the mesh forms on heartbeats).
    let deadline = Instant::now() + WAIT;
    let mut probe = 0u32;
    'warm: loop {
        assert!(Instant::now() < deadline, "no probe reached c");
        probe += 1;
        let data = format!("probe {probe}").into_bytes();
        a.handle.publish(topic, data.clone());
        let (_, from, id) = b.gossip(&data).await;
        b.handle.report_validation(id, from, Validation::Accept);
        let wait = tokio::time::Instant::now() + Duration::from_secs(1);
        while let Ok(Some(event)) = tokio::time::timeout_at(wait, c.events.recv()).await {
            if let NetworkEvent::Gossip { from, .. } = event {
                assert_eq!(from, b.id(), "c hears only b");
                break 'warm;
            }
        }
    }
    assert!(
        a.info(c.id()).is_none() && c.info(a.id()).is_none(),
        "a and c never connected"
    );

    // held: b has it but gives no verdict; ignored: b drops it; accepted: published after both.
    // Both b->c sends go down one ordered stream, so had b relayed `held` or `ignored` before its
    // verdict, c would receive it before `accepted`.
    let held = b"held until accepted".to_vec();
    let ignored = b"ignored by b".to_vec();
    let accepted = b"accepted at once".to_vec();
    a.handle.publish(topic, held.clone());
    let (_, held_from, held_id) = b.gossip(&held).await;
    a.handle.publish(topic, ignored.clone());
    let (_, from, id) = b.gossip(&ignored).await;
    b.handle.report_validation(id, from, Validation::Ignore);
    a.handle.publish(topic, accepted.clone());
    let (_, from, id) = b.gossip(&accepted).await;
    b.handle.report_validation(id, from, Validation::Accept);

    let mut seen_by_c = Vec::new();
    c.next("the accepted message at c", |e| match e {
        NetworkEvent::Gossip { data, .. } => {
            let done = data == accepted;
            seen_by_c.push(data);
            done.then_some(())
        }
        _ => None,
    })
    .await;
    assert!(!seen_by_c.contains(&held), "relayed before b accepted it");
    assert!(!seen_by_c.contains(&ignored), "relayed although b ignored it");

    b.handle.report_validation(held_id, held_from, Validation::Accept);
    let (got_topic, from, _) = c.gossip(&held).await;
    assert_eq!((got_topic, from), (topic, b.id()));
}

#[tokio::test]
async fn kademlia_finds_a_peer_known_only_to_the_bootnode() {
    init_logs();
    let mut boot = Node::start(config(20)).await;
    let mut a = Node::start(NetworkConfig {
        bootnodes: vec![boot.address()],
        ..config(21)
    })
    .await;
    a.connected_to(boot.id()).await;
    boot.connected_to(a.id()).await;
    // The bootnode can hand a out once identify has told it a's listen address.
    let hb = boot.handle.clone();
    let a_id = a.id();
    eventually("the bootnode has identified a", || {
        hb.peers()
            .iter()
            .any(|p| p.peer_id == a_id.to_base58() && p.agent.is_some() && !p.addresses.is_empty())
    })
    .await;

    let mut c = Node::start(NetworkConfig {
        bootnodes: vec![boot.address()],
        ..config(22)
    })
    .await;
    c.connected_to(a.id()).await;
    a.connected_to(c.id()).await;
    assert!(c.info(a.id()).is_some_and(|p| p.connected));
}

#[tokio::test]
async fn a_banned_peer_is_disconnected_and_refused_until_the_ban_expires() {
    init_logs();
    let ban_duration = Duration::from_secs(3);
    let mut a = Node::start(NetworkConfig {
        ban_duration,
        ..config(30)
    })
    .await;
    // b keeps redialling a (its bootnode) every 300 ms.
    let mut b = Node::start(NetworkConfig {
        bootnodes: vec![a.address()],
        ..config(31)
    })
    .await;
    a.connected_to(b.id()).await;
    let b_id = b.id();

    a.handle.report_peer(b_id, 60, "first offence");
    let ha = a.handle.clone();
    eventually("the penalty is applied", || {
        ha.peers().iter().any(|p| p.peer_id == b_id.to_base58() && p.score < 0)
    })
    .await;
    let info = a.info(b_id).unwrap();
    assert!(
        info.connected && !info.banned,
        "-60 is above the threshold of -100: {info:?}"
    );

    let banned_at = Instant::now();
    a.handle.report_peer(b_id, 60, "second offence");
    a.next("b's disconnection", |e| {
        matches!(e, NetworkEvent::PeerDisconnected(p) if p == b_id).then_some(())
    })
    .await;
    let info = a.info(b_id).unwrap();
    assert!(info.banned && !info.connected, "{info:?}");
    assert!(info.score <= -110, "{info:?}");
    assert!(matches!(
        a.handle.request(b_id, b"x".to_vec()).await,
        Err(NetworkError::Banned)
    ));

    // b's redials are refused while the ban lasts ...
    eventually("a refuses b's reconnection", || {
        ha.peers()
            .iter()
            .any(|p| p.peer_id == b_id.to_base58() && p.refused_connections > 0)
    })
    .await;
    assert!(a.info(b_id).unwrap().banned);
    // ... and accepted after it: the first reconnection a sees comes no earlier than the ban's end.
    a.next("b's reconnection", |e| {
        matches!(e, NetworkEvent::PeerConnected(p) if p == b_id).then_some(())
    })
    .await;
    assert!(
        banned_at.elapsed() >= ban_duration,
        "reconnected after {:?}",
        banned_at.elapsed()
    );
    let info = a.info(b_id).unwrap();
    assert!(
        !info.banned && info.score == 0,
        "the ban's end resets the score: {info:?}"
    );
    drop(b.events.try_recv());
}

#[tokio::test]
async fn oversized_requests_and_responses_are_refused_and_penalised() {
    init_logs();
    let big_limits = NetworkConfig {
        max_request_bytes: 1 << 20,
        max_response_bytes: 1 << 20,
        ..config(40)
    };
    let mut a = Node::start(big_limits).await;
    let small_limits = NetworkConfig {
        bootnodes: vec![a.address()],
        max_request_bytes: 64 * 1024,
        max_response_bytes: 32 * 1024,
        ..config(41)
    };
    let mut b = Node::start(small_limits).await;
    a.connected_to(b.id()).await;
    b.connected_to(a.id()).await;
    let (a_id, b_id) = (a.id(), b.id());

    // Refused locally, before sending.
    let local = b.handle.request(a_id, vec![1; 100_000]).await;
    assert!(
        matches!(
            local,
            Err(NetworkError::RequestTooLarge {
                size: 100_000,
                max: 65_536
            })
        ),
        "{local:?}"
    );

    // a's 100 kB request is over b's limit: b refuses it unread and penalises a.
    let result = with_deadline("the refused request", a.handle.request(b_id, vec![2; 100_000])).await;
    assert!(result.is_err(), "{result:?}");
    let hb = b.handle.clone();
    eventually("b penalises a", || {
        hb.peers()
            .iter()
            .any(|p| p.peer_id == a_id.to_base58() && p.score <= -30)
    })
    .await;
    while let Ok(event) = b.events.try_recv() {
        assert!(
            !matches!(event, NetworkEvent::Request { .. }),
            "an oversized request reached the application"
        );
    }

    // a answers b with 40 kB, over b's response limit.
    let request = tokio::spawn({
        let h = b.handle.clone();
        async move { h.request(a_id, b"send a lot".to_vec()).await }
    });
    let responder = a
        .next("b's request", |e| match e {
            NetworkEvent::Request { data, reply, .. } if data == b"send a lot" => Some(reply),
            _ => None,
        })
        .await;
    responder.send(vec![3; 40 * 1024]);
    let result = with_deadline("the refused response", request).await.unwrap();
    assert!(
        matches!(result, Err(NetworkError::ResponseTooLarge { max: 32_768 })),
        "{result:?}"
    );
    eventually("b penalises a again", || {
        hb.peers()
            .iter()
            .any(|p| p.peer_id == a_id.to_base58() && p.score <= -70)
    })
    .await;
}

#[tokio::test]
async fn rejected_and_oversized_gossip_penalise_the_sender() {
    init_logs();
    let mut a = Node::start(NetworkConfig {
        max_gossip_bytes: 1 << 20,
        ..config(50)
    })
    .await;
    let mut b = Node::start(NetworkConfig {
        bootnodes: vec![a.address()],
        max_gossip_bytes: 64 * 1024,
        ..config(51)
    })
    .await;
    b.connected_to(a.id()).await;
    let (ha, hb) = (a.handle.clone(), b.handle.clone());
    let topic = Topic::Transactions;
    eventually("subscriptions are known", || {
        ha.topic_peers(topic) == 1 && hb.topic_peers(topic) == 1
    })
    .await;
    let a_id = a.id();
    let score_of_a = |h: &NetworkHandle| {
        h.peers()
            .into_iter()
            .find(|p| p.peer_id == a_id.to_base58())
            .map(|p| p.score)
    };

    a.handle.publish(topic, b"bad transaction".to_vec());
    let (_, from, id) = b.gossip(b"bad transaction").await;
    assert_eq!(from, a_id);
    b.handle.report_validation(id, from, Validation::Reject);
    eventually("the rejection costs a", || score_of_a(&hb).is_some_and(|s| s < 0)).await;
    let after_reject = score_of_a(&hb).unwrap();

    // 100 kB is within a's limit but over b's: b's gossipsub refuses it as invalid.
    a.handle.publish(topic, vec![7; 100 * 1024]);
    eventually("the oversized message costs a more", || {
        score_of_a(&hb).is_some_and(|s| s < after_reject)
    })
    .await;
    // A normal message still gets through afterwards, and the oversized one never reached b.
    a.handle.publish(topic, b"fine".to_vec());
    let mut oversized_seen = false;
    b.next("the normal message", |e| match e {
        NetworkEvent::Gossip { data, .. } => {
            oversized_seen |= data.len() > 64 * 1024;
            (data == b"fine").then_some(())
        }
        _ => None,
    })
    .await;
    assert!(!oversized_seen);
    drop(a.events.try_recv());
}

#[tokio::test]
async fn four_nodes_exchange_every_message() {
    init_logs();
    let first = Node::start(config(60)).await;
    let boot = first.address();
    let mut nodes = vec![first];
    for seed in 61..64 {
        nodes.push(
            Node::start(NetworkConfig {
                bootnodes: vec![boot.clone()],
                ..config(seed)
            })
            .await,
        );
    }
    let handles: Vec<NetworkHandle> = nodes.iter().map(|n| n.handle.clone()).collect();
    eventually("every node knows every other's subscription", || {
        handles
            .iter()
            .all(|h| h.connected_peers() == 3 && h.topic_peers(Topic::ScpEnvelopes) == 3)
    })
    .await;

    for (i, node) in nodes.iter().enumerate() {
        node.handle
            .publish(Topic::ScpEnvelopes, format!("envelope from {i}").into_bytes());
    }
    for (i, node) in nodes.iter_mut().enumerate() {
        let mut missing: Vec<Vec<u8>> = (0..4)
            .filter(|j| *j != i)
            .map(|j| format!("envelope from {j}").into_bytes())
            .collect();
        let handle = node.handle.clone();
        node.next("every other node's envelope", |e| {
            if let NetworkEvent::Gossip { data, from, id, .. } = e {
                handle.report_validation(id, from, Validation::Accept);
                missing.retain(|m| *m != data);
            }
            missing.is_empty().then_some(())
        })
        .await;
    }
}

#[tokio::test]
async fn start_refuses_bad_configuration() {
    let no_peer_id = NetworkConfig {
        bootnodes: vec!["/ip4/127.0.0.1/tcp/1".parse().unwrap()],
        ..config(70)
    };
    assert!(matches!(start(no_peer_id).await, Err(NetworkError::InvalidBootnode(_))));
    let no_listen = NetworkConfig {
        listen: vec![],
        ..config(71)
    };
    assert!(matches!(start(no_listen).await, Err(NetworkError::NotListening)));
    let not_tcp = NetworkConfig {
        listen: vec!["/ip4/127.0.0.1/udp/0".parse().unwrap()],
        ..config(72)
    };
    assert!(matches!(start(not_tcp).await, Err(NetworkError::Listen { .. })));
}

#[tokio::test]
async fn full_size_tx_sets_and_block_ranges_get_through() {
    init_logs();
    let mut a = Node::start(config(80)).await;
    let mut b = Node::start(NetworkConfig {
        bootnodes: vec![a.address()],
        ..config(81)
    })
    .await;
    b.connected_to(a.id()).await;
    let (ha, hb) = (a.handle.clone(), b.handle.clone());
    eventually("subscriptions are known", || {
        ha.topic_peers(Topic::TxSets) == 1 && hb.topic_peers(Topic::TxSets) == 1
    })
    .await;

    // An 8 MiB transaction set (the largest the chain allows), with varied bytes.
    let tx_set: Vec<u8> = (0..8u32 << 20)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    let started = Instant::now();
    a.handle.publish(Topic::TxSets, tx_set.clone());
    let (topic, from, _) = b.gossip(&tx_set).await;
    assert_eq!((topic, from), (Topic::TxSets, a.id()));
    eprintln!("8 MiB gossip took {:?}", started.elapsed());

    // A 15 MiB response (a block range), just under the default 16 MiB limit.
    let request = tokio::spawn({
        let h = b.handle.clone();
        let a_id = a.id();
        async move { h.request(a_id, b"blocks 1..1000".to_vec()).await }
    });
    let responder = a
        .next("the block range request", |e| match e {
            NetworkEvent::Request { reply, .. } => Some(reply),
            _ => None,
        })
        .await;
    let blocks: Vec<u8> = (0..15u32 << 20).map(|i| (i % 251) as u8).collect();
    let started = Instant::now();
    responder.send(blocks.clone());
    let got = with_deadline("the block range", request).await.unwrap().unwrap();
    assert!(got == blocks, "response corrupted ({} bytes)", got.len());
    eprintln!("15 MiB response took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_restarted_node_and_its_peers_reconnect() {
    init_logs();
    let a = Node::start(config(90)).await;
    let a_address = a.handle.listen_addresses()[0].clone();
    let a_id = a.id();
    let mut b = Node::start(NetworkConfig {
        bootnodes: vec![a.address()],
        ..config(91)
    })
    .await;
    b.connected_to(a_id).await;

    // Dropping every handle stops a's network and closes its connections.
    drop(a);
    b.next("a's disconnection", |e| {
        matches!(e, NetworkEvent::PeerDisconnected(p) if p == a_id).then_some(())
    })
    .await;

    // a comes back with the same key on the same port (retrying while the old socket is released).
    let deadline = Instant::now() + WAIT;
    let mut a = loop {
        match start(NetworkConfig {
            listen: vec![a_address.clone()],
            ..config(90)
        })
        .await
        {
            Ok((handle, events)) => break Node { handle, events },
            Err(e) => {
                assert!(Instant::now() < deadline, "cannot listen again: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    };
    assert_eq!(a.id(), a_id, "the same seed gives the same identity");
    // b redials its bootnode on its own.
    b.connected_to(a_id).await;
    a.connected_to(b.id()).await;
}
