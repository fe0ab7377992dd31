//! Four SCP validators in one process, each with its own chain (rocksdb in a temp dir) and its
//! own libp2p network on loopback: they agree block by block, certify every block, keep
//! finalizing with one of them stopped, and a late node catches up by sync.

mod common;

use common::{address, free_port, pair, qset, seed, start_network, start_node, wait_for, Validator};
use parity_scale_codec::Decode;
use sp_core::Pair;
use std::sync::Arc;
use std::time::{Duration, Instant};
use watt_chain::test_utils::{keyring, transfer_bytes};
use watt_chain::Chain;
use watt_consensus::scp::{envelope_signature_ok, quorum_set_hash};
use watt_consensus::{ConsensusEngine, ScpEngine, ScpEngineConfig};
use watt_network::NetworkConfig;
use watt_primitives::{AccountId, ConsensusValue, UNIT};
use watt_scp::certificate::{verify_certificate, Certificate};

/// A node of these tests: its chain outlives its engine.
struct Node {
    chain: Arc<Chain>,
    engine: Option<Validator>,
    _dir: tempfile::TempDir,
}

/// Starts node `i` (a validator, or a follower) on a fresh chain.
async fn start(i: usize, ports: &[u16], validator: bool) -> Node {
    common::log::init();
    let dir = tempfile::tempdir().unwrap();
    let engine = start_node(i, ports, dir.path(), validator.then(|| pair(i))).await;
    Node {
        chain: engine.chain.clone(),
        engine: Some(engine),
        _dir: dir,
    }
}

fn check_certificate(chain: &Chain, number: u64) {
    let bytes = chain.justification(number).unwrap().expect("a certificate is stored");
    let cert = Certificate::<AccountId>::decode(&mut &bytes[..]).unwrap();
    let header = chain.header(&chain.hash_at(number).unwrap().unwrap()).unwrap().unwrap();
    let value = ConsensusValue::decode(&mut &cert.value[..]).unwrap();
    assert!(value.matches(&header), "the certificate names block #{number}");
    assert!(
        qset(4).validators.contains(&header.author),
        "block #{number} is authored by the validator that proposed it, not {}",
        header.author
    );
    let genesis = chain.genesis_hash();
    verify_certificate(&cert, &qset(4), quorum_set_hash, |e| envelope_signature_ok(e, &genesis))
        .expect("the certificate verifies against the quorum set");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_validators_agree_certify_survive_one_down_and_a_late_node_syncs() {
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let mut nodes = vec![];
    for i in 0..4 {
        nodes.push(start(i, &ports, true).await);
    }
    let keys = keyring();
    let genesis = nodes[0].chain.genesis_hash();
    let tx = transfer_bytes(genesis, &keys[0], keys[1].account(), 7 * UNIT, 0);
    let tx_hash = nodes[0].chain.submit(&tx).unwrap();
    wait_for("the transfer to be final on all four", Duration::from_secs(60), || {
        nodes.iter().all(|n| n.chain.receipt(&tx_hash).unwrap().is_some())
    })
    .await;
    let at = nodes[0].chain.receipt(&tx_hash).unwrap().unwrap().block_number;
    let hashes: Vec<_> = nodes.iter().map(|n| n.chain.hash_at(at).unwrap()).collect();
    assert!(hashes.iter().all(|h| h == &hashes[0]), "all four agree on block #{at}");
    for n in &nodes {
        check_certificate(&n.chain, at);
    }

    // One of four down: 3-of-4 quorums still finalize.
    nodes[3].engine.take().unwrap().stop().await;
    let tx2 = transfer_bytes(genesis, &keys[0], keys[1].account(), 7 * UNIT, 1);
    let tx2_hash = nodes[1].chain.submit(&tx2).unwrap();
    wait_for("finality with one validator stopped", Duration::from_secs(60), || {
        nodes[..3].iter().all(|n| n.chain.receipt(&tx2_hash).unwrap().is_some())
    })
    .await;

    // A follower that starts late catches up through block sync, checking certificates.
    let target = nodes[0].chain.best().0;
    let follower = start(4, &ports, false).await;
    wait_for("the follower to sync", Duration::from_secs(60), || {
        follower.chain.best().0 >= target
    })
    .await;
    assert_eq!(
        follower.chain.hash_at(target).unwrap(),
        nodes[0].chain.hash_at(target).unwrap()
    );
    check_certificate(&follower.chain, target);
}

/// Validator 3 equivocates: for every slot it hears of, it signs NOMINATE and PREPARE
/// statements for two conflicting values (valid ones: an honest value with other close
/// times), over and over. The three honest validators (a quorum on their own) keep finalizing
/// and never disagree.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_equivocating_validator_does_not_break_agreement() {
    use parity_scale_codec::Encode;
    use watt_consensus::scp::wire::{decode_envelope, WattEnvelope};
    use watt_network::{NetworkEvent, Topic, Validation};
    use watt_scp::ballot::{Ballot, BallotStatement};
    use watt_scp::nomination::Nominate;
    use watt_scp::slot::Statement;

    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let mut nodes = vec![];
    for i in 0..3 {
        nodes.push(start(i, &ports, true).await);
    }
    let genesis = nodes[0].chain.genesis_hash();
    let bootnodes = (0..3).map(|j| address(ports[j], &seed(j))).collect();
    let (rogue, mut events) = start_network(NetworkConfig {
        secret_seed: seed(3),
        listen: vec![format!("/ip4/127.0.0.1/tcp/{}", ports[3]).parse().unwrap()],
        bootnodes,
        genesis_hash: genesis,
        ..NetworkConfig::default()
    })
    .await;
    let key = pair(3);
    let me = AccountId::from(key.public().0);
    let my_qset_hash = quorum_set_hash(&qset(4));
    let sign = move |slot: u64, statement: Statement| {
        let mut env = WattEnvelope {
            slot,
            node: me,
            qset_hash: my_qset_hash,
            statement,
            signature: vec![],
        };
        env.signature = key.sign(&env.signing_payload(&genesis)).0.to_vec();
        env
    };
    let equivocations = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let sent = equivocations.clone();
    let rogue_task = tokio::spawn(async move {
        while let Some(ev) = events.recv().await {
            let NetworkEvent::Gossip { topic, from, id, data } = ev else {
                continue;
            };
            rogue.report_validation(id, from, Validation::Accept);
            if topic != Topic::ScpEnvelopes {
                continue;
            }
            let Ok(env) = decode_envelope(&data) else { continue };
            let honest = match &env.statement {
                Statement::Nominate(n) => n.votes.iter().next().cloned(),
                Statement::Ballot(b) => Some(b.working_ballot().value),
            };
            let Some(value) = honest.and_then(|v| ConsensusValue::decode(&mut &v[..]).ok()) else {
                continue;
            };
            let twin = |dt: u64| {
                ConsensusValue {
                    close_time: value.close_time + dt,
                    ..value.clone()
                }
                .encode()
            };
            let (a, b) = (twin(1), twin(2));
            for v in [&a, &b] {
                let nominate = Statement::Nominate(Nominate {
                    votes: [v.clone()].into(),
                    accepted: [v.clone()].into(),
                });
                rogue.publish(Topic::ScpEnvelopes, sign(env.slot, nominate).encode());
                let prepare = Statement::Ballot(BallotStatement::Prepare {
                    ballot: Ballot::new(1, v.clone()),
                    prepared: Some(Ballot::new(1, v.clone())),
                    prepared_prime: None,
                    n_c: 1,
                    n_h: 1,
                });
                rogue.publish(Topic::ScpEnvelopes, sign(env.slot, prepare).encode());
            }
            sent.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    });

    let keys = keyring();
    let mut last = vec![];
    for nonce in 0..3 {
        let tx = transfer_bytes(genesis, &keys[0], keys[1].account(), UNIT, nonce);
        let h = nodes[(nonce as usize) % 3].chain.submit(&tx).unwrap();
        wait_for("finality despite the equivocator", Duration::from_secs(60), || {
            nodes.iter().all(|n| n.chain.receipt(&h).unwrap().is_some())
        })
        .await;
        last.push(h);
    }
    assert!(
        equivocations.load(std::sync::atomic::Ordering::Relaxed) > 0,
        "the rogue validator did equivocate"
    );
    let top = nodes.iter().map(|n| n.chain.best().0).min().unwrap();
    for n in 1..=top {
        let hashes: Vec<_> = nodes.iter().map(|node| node.chain.hash_at(n).unwrap()).collect();
        assert!(hashes.iter().all(|h| h == &hashes[0]), "nodes disagree on block #{n}");
        check_certificate(&nodes[0].chain, n);
    }
    rogue_task.abort();
}

/// The nomination votes in `chain`'s persisted SCP state for `slot` by `me`.
fn persisted_votes(chain: &Chain, me: &AccountId, slot: u64) -> std::collections::BTreeSet<Vec<u8>> {
    use watt_consensus::scp::wire::WattEnvelope;
    use watt_scp::slot::Statement;
    let Some(bytes) = chain.consensus_state().unwrap() else {
        return Default::default();
    };
    let (envs, _sets): (Vec<WattEnvelope>, _) =
        watt_consensus::scp::decode_persisted_state(&bytes).expect("a persisted SCP state");
    envs.into_iter()
        .filter(|e| e.slot == slot && &e.node == me)
        .inspect(|e| {
            assert!(
                envelope_signature_ok(e, &chain.genesis_hash()),
                "persisted envelopes are signed"
            )
        })
        .filter_map(|e| match e.statement {
            Statement::Nominate(n) => Some(n.votes),
            _ => None,
        })
        .flatten()
        .collect()
}

/// A validator persists its votes before sending them and takes them back after a restart
/// (draft §6: never contradict an earlier vote). Two of four validators cannot finalize (3 of 4
/// needed): validator 0 nominates, is restarted on the same database, and from then on every
/// nomination it records still holds its earlier votes. A fresh start would nominate a new
/// value (a later close time) in their place.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_validator_keeps_the_votes_it_cast_before() {
    let ports: Vec<u16> = (0..5).map(|_| free_port()).collect();
    let mut nodes = vec![];
    for i in 0..2 {
        nodes.push(start(i, &ports, true).await);
    }
    let me = AccountId::from(pair(0).public().0);
    let keys = keyring();
    let genesis = nodes[0].chain.genesis_hash();
    let tx = transfer_bytes(genesis, &keys[0], keys[1].account(), UNIT, 0);
    let tx_hash = nodes[0].chain.submit(&tx).unwrap();
    let chain0 = nodes[0].chain.clone();
    wait_for("validator 0 to persist a nomination", Duration::from_secs(30), || {
        !persisted_votes(&chain0, &me, 1).is_empty()
    })
    .await;
    let before = persisted_votes(&chain0, &me, 1);
    assert_eq!(nodes[0].chain.best().0, 0, "no quorum yet");

    // Restart validator 0's engine on the same chain, with a new network identity and port.
    nodes[0].engine.take().unwrap().stop().await;
    let (handle, events) = start_network(NetworkConfig {
        secret_seed: [77; 32],
        listen: vec![format!("/ip4/127.0.0.1/tcp/{}", ports[4]).parse().unwrap()],
        bootnodes: vec![address(ports[1], &seed(1))],
        genesis_hash: genesis,
        ..NetworkConfig::default()
    })
    .await;
    let engine = Box::new(ScpEngine::new(
        chain0.clone(),
        handle,
        events,
        ScpEngineConfig {
            empty_block_interval: Duration::from_secs(2),
            ..ScpEngineConfig::new(Some(pair(0)), qset(4))
        },
    ));
    let (_stop0, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(engine.run(Box::pin(async move {
        let _ = stopped.await;
    })));
    // Over several state exchanges with validator 1 (one every 1.5 s while the slot is stuck),
    // whatever validator 0 records for slot 1 keeps every earlier vote.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        let now = persisted_votes(&chain0, &me, 1);
        assert!(
            now.is_superset(&before),
            "a vote cast before the restart was dropped: {before:?} -> {now:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // With validators 2 and 3 up there is a quorum, and the transfer is final everywhere.
    for i in 2..4 {
        nodes.push(start(i, &ports, true).await);
    }
    wait_for("finality once a quorum is up", Duration::from_secs(60), || {
        nodes.iter().all(|n| n.chain.receipt(&tx_hash).unwrap().is_some())
    })
    .await;
    let at = nodes[1].chain.receipt(&tx_hash).unwrap().unwrap().block_number;
    let hashes: Vec<_> = nodes.iter().map(|n| n.chain.hash_at(at).unwrap()).collect();
    assert!(hashes.iter().all(|h| h == &hashes[0]), "all agree on block #{at}");
}
