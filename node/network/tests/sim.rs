//! The simulated network (`watt_network::sim`) in virtual time: seeded schedules repeat,
//! latency is what the link says, gossip is relayed only once accepted and seen once per node,
//! partitions cut and heal, requests answer or fail as the libp2p network's do, and rejected
//! gossip bans the sender.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::mpsc::Receiver;
use tokio::time::Instant;
use watt_network::sim::{Link, SimConfig, SimNetwork};
use watt_network::{NetworkConfig, NetworkError, NetworkEvent, NetworkHandle, Topic, Validation};

fn config(seed: u8) -> NetworkConfig {
    NetworkConfig {
        secret_seed: [seed; 32],
        genesis_hash: [9; 32],
        ..NetworkConfig::default()
    }
}

fn lan() -> Link {
    Link {
        latency: Duration::from_millis(10),
        jitter: Duration::ZERO,
        loss: 0.0,
    }
}

/// Nodes `1..=n` on a network with `link`.
fn network(seed: u64, link: Link, n: u8) -> (SimNetwork, Vec<(NetworkHandle, Receiver<NetworkEvent>)>) {
    let sim = SimNetwork::start(SimConfig { seed, link });
    let nodes = (1..=n).map(|i| sim.add_node(&config(i))).collect();
    (sim, nodes)
}

/// Takes events until none arrives for a virtual second; returns them with their arrival times.
async fn drain(events: &mut Receiver<NetworkEvent>) -> Vec<(Instant, NetworkEvent)> {
    let mut out = vec![];
    while let Ok(Some(ev)) = tokio::time::timeout(Duration::from_secs(1), events.recv()).await {
        out.push((Instant::now(), ev));
    }
    out
}

fn gossip_payloads(events: &[(Instant, NetworkEvent)]) -> Vec<Vec<u8>> {
    events
        .iter()
        .filter_map(|(_, e)| match e {
            NetworkEvent::Gossip { data, .. } => Some(data.clone()),
            _ => None,
        })
        .collect()
}

/// A node that accepts (and so relays) every gossip message and answers every request with
/// its own bytes reversed; returns how many gossip messages it received.
fn relaying(handle: NetworkHandle, mut events: Receiver<NetworkEvent>) -> tokio::task::JoinHandle<u64> {
    tokio::spawn(async move {
        let mut received = 0;
        while let Some(ev) = events.recv().await {
            match ev {
                NetworkEvent::Gossip { from, id, .. } => {
                    received += 1;
                    handle.report_validation(id, from, Validation::Accept);
                }
                NetworkEvent::Request { data, reply, .. } => reply.send(data.into_iter().rev().collect()),
                _ => {}
            }
        }
        received
    })
}

/// Five relaying nodes on lossy, jittery links, each publishing 20 messages; returns the
/// trace digest and the counters.
async fn lossy_run(seed: u64) -> ([u8; 32], watt_network::sim::SimStats) {
    let link = Link {
        latency: Duration::from_millis(20),
        jitter: Duration::from_millis(30),
        loss: 0.2,
    };
    let (sim, nodes) = network(seed, link, 5);
    let handles: Vec<NetworkHandle> = nodes.iter().map(|(h, _)| h.clone()).collect();
    let tasks: Vec<_> = nodes.into_iter().map(|(h, e)| relaying(h, e)).collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    for round in 0..20u8 {
        for (i, h) in handles.iter().enumerate() {
            h.publish(Topic::Transactions, vec![i as u8, round]);
        }
        tokio::time::sleep(Duration::from_millis(7)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let digest = (sim.trace_digest(), sim.stats());
    drop(handles);
    for t in tasks {
        t.abort();
    }
    digest
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_repeats_the_schedule_and_another_seed_changes_it() {
    let (a, stats_a) = lossy_run(7).await;
    let (b, stats_b) = lossy_run(7).await;
    let (c, stats_c) = lossy_run(8).await;
    assert_eq!(a, b, "same seed, different schedules: {stats_a:?} vs {stats_b:?}");
    assert_eq!(stats_a, stats_b);
    assert_ne!(a, c, "another seed gave the same schedule: {stats_a:?} vs {stats_c:?}");
    // 100 messages to 4 peers each, a fifth of the sends lost, relays filling most gaps.
    assert!(stats_a.lost > 0, "{stats_a:?}");
    assert!(stats_a.delivered > 300, "{stats_a:?}");
}

#[tokio::test(start_paused = true)]
async fn a_message_arrives_after_the_links_latency() {
    let link = Link {
        latency: Duration::from_millis(150),
        jitter: Duration::ZERO,
        loss: 0.0,
    };
    let (_sim, mut nodes) = network(1, link, 2);
    let (b, mut b_events) = nodes.pop().unwrap();
    let (a, mut a_events) = nodes.pop().unwrap();
    let start = Instant::now();
    let connected = drain(&mut a_events).await;
    assert!(
        matches!(connected.as_slice(), [(at, NetworkEvent::PeerConnected(p))] if *p == b.local_peer_id() && *at - start == Duration::from_millis(150)),
        "a should see b connect after 150 ms"
    );
    drain(&mut b_events).await;
    let sent = Instant::now();
    a.publish(Topic::ScpEnvelopes, b"hello".to_vec());
    let got = drain(&mut b_events).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].0 - sent, Duration::from_millis(150));
    assert!(
        matches!(&got[0].1, NetworkEvent::Gossip { topic: Topic::ScpEnvelopes, from, data, .. } if *from == a.local_peer_id() && data == b"hello")
    );
}

#[tokio::test(start_paused = true)]
async fn gossip_is_relayed_only_once_accepted_and_reaches_each_node_once() {
    let (sim, mut nodes) = network(2, lan(), 3);
    let (c, mut c_events) = nodes.pop().unwrap();
    let (b, mut b_events) = nodes.pop().unwrap();
    let (a, mut a_events) = nodes.pop().unwrap();
    for e in [&mut a_events, &mut b_events, &mut c_events] {
        drain(e).await;
    }
    // a reaches only b; c hears of it only through b.
    sim.partition(&[vec![a.local_peer_id(), b.local_peer_id()], vec![c.local_peer_id()]]);
    a.publish(Topic::TxSets, b"set".to_vec());
    let at_b = drain(&mut b_events).await;
    assert_eq!(gossip_payloads(&at_b), vec![b"set".to_vec()]);
    sim.heal();
    // Not relayed without a verdict: c hears nothing.
    assert!(gossip_payloads(&drain(&mut c_events).await).is_empty());
    let NetworkEvent::Gossip { id, from, .. } = &at_b[0].1 else {
        unreachable!()
    };
    b.report_validation(*id, *from, Validation::Accept);
    let at_c = drain(&mut c_events).await;
    assert_eq!(gossip_payloads(&at_c), vec![b"set".to_vec()]);
    // c relays it too; a and b have seen it and get nothing more.
    let NetworkEvent::Gossip { id, from, .. } = &at_c[0].1 else {
        unreachable!()
    };
    assert_eq!(*from, b.local_peer_id());
    c.report_validation(*id, *from, Validation::Accept);
    assert!(gossip_payloads(&drain(&mut a_events).await).is_empty());
    assert!(gossip_payloads(&drain(&mut b_events).await).is_empty());
    assert!(sim.stats().duplicates >= 1, "{:?}", sim.stats());
    // Publishing what it has seen sends nothing again.
    a.publish(Topic::TxSets, b"set".to_vec());
    assert!(gossip_payloads(&drain(&mut b_events).await).is_empty());
}

#[tokio::test(start_paused = true)]
async fn requests_answer_time_out_when_lost_and_fail_across_a_partition() {
    let (sim, mut nodes) = network(3, lan(), 3);
    let (c, c_events) = nodes.pop().unwrap();
    let (b, mut b_events) = nodes.pop().unwrap();
    let (a, a_events) = nodes.pop().unwrap();
    let _c = relaying(c.clone(), c_events);
    let _a = relaying(a.clone(), a_events);
    drain(&mut b_events).await;

    // Answered: the round trip is two latencies.
    let t0 = Instant::now();
    assert_eq!(b.request(a.local_peer_id(), b"abc".to_vec()).await.unwrap(), b"cba");
    assert_eq!(Instant::now() - t0, Duration::from_millis(20));

    // Unanswered (the responder dropped): no response.
    let (d, mut d_events) = sim.add_node(&config(4));
    drain(&mut d_events).await;
    let asker = b.clone();
    let silent = d.local_peer_id();
    let req = tokio::spawn(async move { asker.request(silent, b"y".to_vec()).await });
    match d_events.recv().await {
        Some(NetworkEvent::Request { data, reply, .. }) => {
            assert_eq!(data, b"y");
            drop(reply);
        }
        other => panic!("expected the request at d, got {other:?}"),
    }
    assert!(matches!(req.await.unwrap(), Err(NetworkError::NoResponse)));

    // Lost: the request times out after request_timeout.
    sim.set_link(b.local_peer_id(), a.local_peer_id(), Link { loss: 1.0, ..lan() });
    let t0 = Instant::now();
    assert!(matches!(
        b.request(a.local_peer_id(), b"z".to_vec()).await,
        Err(NetworkError::Timeout)
    ));
    assert_eq!(Instant::now() - t0, NetworkConfig::default().request_timeout);
    sim.set_link(b.local_peer_id(), a.local_peer_id(), lan());

    // Across a partition: unreachable at once.
    sim.partition(&[vec![a.local_peer_id()], vec![b.local_peer_id(), c.local_peer_id()]]);
    assert!(matches!(
        b.request(a.local_peer_id(), b"w".to_vec()).await,
        Err(NetworkError::Unreachable)
    ));
    sim.heal();
    assert_eq!(b.request(a.local_peer_id(), b"ok".to_vec()).await.unwrap(), b"ko");
}

#[tokio::test(start_paused = true)]
async fn rejected_gossip_bans_its_sender_and_disconnects_it() {
    let (_sim, mut nodes) = network(4, lan(), 2);
    let (b, mut b_events) = nodes.pop().unwrap();
    let (a, mut a_events) = nodes.pop().unwrap();
    drain(&mut a_events).await;
    drain(&mut b_events).await;
    let mut rejected = 0;
    let mut disconnected = false;
    for i in 0..100u32 {
        a.publish(Topic::Transactions, i.to_le_bytes().to_vec());
        for (_, ev) in drain(&mut b_events).await {
            match ev {
                NetworkEvent::Gossip { id, from, .. } => {
                    rejected += 1;
                    b.report_validation(id, from, Validation::Reject);
                }
                NetworkEvent::PeerDisconnected(p) if p == a.local_peer_id() => disconnected = true,
                _ => {}
            }
        }
        if disconnected {
            break;
        }
    }
    let view = b
        .peers()
        .into_iter()
        .find(|p| p.peer_id == a.local_peer_id().to_string())
        .unwrap();
    assert!(
        disconnected && view.banned && !view.connected,
        "after {rejected} rejections: {view:?}"
    );
    assert!(view.score < NetworkConfig::default().ban_threshold);
    // Nothing more from a reaches b, and b cannot ask a.
    a.publish(Topic::Transactions, b"after".to_vec());
    assert!(gossip_payloads(&drain(&mut b_events).await).is_empty());
    assert!(matches!(
        b.request(a.local_peer_id(), b"q".to_vec()).await,
        Err(NetworkError::Banned)
    ));
    // a saw b go too.
    let a_saw: BTreeMap<bool, usize> = drain(&mut a_events)
        .await
        .iter()
        .fold(BTreeMap::new(), |mut m, (_, e)| {
            *m.entry(matches!(e, NetworkEvent::PeerDisconnected(p) if *p == b.local_peer_id()))
                .or_default() += 1;
            m
        });
    assert_eq!(a_saw.get(&true), Some(&1), "{a_saw:?}");
}

#[tokio::test(start_paused = true)]
async fn a_node_that_leaves_is_seen_to_disconnect_and_can_come_back() {
    let (sim, mut nodes) = network(5, lan(), 2);
    let (b, mut b_events) = nodes.pop().unwrap();
    let (a, a_events) = nodes.pop().unwrap();
    drain(&mut b_events).await;
    let a_id = a.local_peer_id();
    drop((a, a_events));
    let events = drain(&mut b_events).await;
    assert!(events
        .iter()
        .any(|(_, e)| matches!(e, NetworkEvent::PeerDisconnected(p) if *p == a_id)));
    assert!(matches!(
        b.request(a_id, b"?".to_vec()).await,
        Err(NetworkError::Unreachable)
    ));
    let (a2, a2_events) = sim.add_node(&config(1));
    assert_eq!(a2.local_peer_id(), a_id);
    let events = drain(&mut b_events).await;
    assert!(events
        .iter()
        .any(|(_, e)| matches!(e, NetworkEvent::PeerConnected(p) if *p == a_id)));
    let _a2 = relaying(a2, a2_events);
    assert_eq!(b.request(a_id, b"back".to_vec()).await.unwrap(), b"kcab");
}

#[tokio::test(start_paused = true)]
async fn a_node_added_during_a_partition_meets_the_other_side_when_it_heals() {
    let (sim, mut nodes) = network(6, lan(), 2);
    let (b, mut b_events) = nodes.pop().unwrap();
    let (a, mut a_events) = nodes.pop().unwrap();
    drain(&mut a_events).await;
    drain(&mut b_events).await;
    let c_id = watt_network::peer_id_from_seed(&[3; 32]);
    sim.partition(&[vec![a.local_peer_id(), c_id], vec![b.local_peer_id()]]);
    let (c, mut c_events) = sim.add_node(&config(3));
    let connects = |events: &[(Instant, NetworkEvent)]| -> Vec<String> {
        events
            .iter()
            .filter_map(|(_, e)| match e {
                NetworkEvent::PeerConnected(p) => Some(p.to_string()),
                _ => None,
            })
            .collect()
    };
    assert_eq!(
        connects(&drain(&mut c_events).await),
        vec![a.local_peer_id().to_string()]
    );
    assert_eq!(
        connects(&drain(&mut a_events).await),
        vec![c.local_peer_id().to_string()]
    );
    assert!(connects(&drain(&mut b_events).await).is_empty());
    sim.heal();
    assert_eq!(
        connects(&drain(&mut c_events).await),
        vec![b.local_peer_id().to_string()]
    );
    assert_eq!(
        connects(&drain(&mut b_events).await),
        vec![c.local_peer_id().to_string()]
    );
    // a and b were connected all along: healing tells them nothing new.
    assert!(connects(&drain(&mut a_events).await).is_empty());
    b.publish(Topic::ScpEnvelopes, b"after the heal".to_vec());
    assert_eq!(
        gossip_payloads(&drain(&mut c_events).await),
        vec![b"after the heal".to_vec()]
    );
}
