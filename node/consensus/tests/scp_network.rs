//! Four SCP validators in one process, each with its own chain (rocksdb in a temp dir) and its
//! own libp2p network on loopback: they agree block by block, certify every block, keep
//! finalizing with one of them stopped, and a late node catches up by sync. Some validators
//! are played by the test through a libp2p peer signing with their keys: an equivocator (with
//! and without its votes needed for a quorum), and the peers that walk a validator through the
//! ballot protocol across restarts.

mod common;

use common::{
    address, free_port, knows_nothing, pair, qset, seed, signed_envelope, start_engine, start_network, start_node,
    validator_account, wait_for, OnGossip, Peer, Policy, Validator,
};
use parity_scale_codec::{Decode, Encode};
use sp_core::Pair;
use std::sync::Arc;
use std::time::{Duration, Instant};
use watt_chain::test_utils::{keyring, transfer_bytes};
use watt_chain::Chain;
use watt_consensus::scp::wire::{decode_envelope, Request, Response, WattEnvelope};
use watt_consensus::scp::{envelope_signature_ok, quorum_set_hash};
use watt_consensus::{ConsensusEngine, ScpEngine, ScpEngineConfig};
use watt_network::NetworkConfig;
use watt_network::Topic;
use watt_primitives::{AccountId, ConsensusValue, Hash, UNIT};
use watt_scp::ballot::{Ballot, BallotStatement};
use watt_scp::certificate::{verify_certificate, Certificate};
use watt_scp::nomination::Nominate;
use watt_scp::slot::Statement;

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
/// times), over and over. The three honest validators are a quorum on their own (3 of 4), so
/// this checks that an equivocator cannot disturb an intact quorum: they keep finalizing and
/// never disagree. The equivocator's votes are never needed here; for that case, where every
/// quorum of the live validators contains it, see
/// `an_equivocating_validator_needed_for_every_quorum_cannot_split_the_others`.
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

/// One face of the equivocating validator 3, shown to validator `side` (0 or 1) over a libp2p
/// node connected to it alone. To that validator it is the perfect ally: it repeats, signed as
/// validator 3, every statement validator `side` makes (its nominations, PREPARE, CONFIRM,
/// EXTERNALIZE), so that whatever that validator wants to confirm, validator 3 seems to
/// confirm it too. And it lies: its nominations also vote for and claim to have accepted a
/// twin of every value any honest validator names (the same value closing `side + 1` ms
/// later: as valid, and another block), a different twin for each face. The other face does
/// the same for the other validator, so the two hear contradictory statements from validator
/// 3 (each relays what it hears to the other, as honest nodes do; which one a node holds as
/// validator 3's latest depends on what arrived first). Once `ally` is false it only lies.
/// `sent` counts the envelopes sent, by slot.
fn equivocator_face(
    side: usize,
    genesis: Hash,
    ally: Arc<std::sync::atomic::AtomicBool>,
    sent: Arc<std::sync::Mutex<std::collections::BTreeMap<u64, usize>>>,
) -> OnGossip {
    let key = pair(3);
    let rogue = validator_account(3);
    let mirrored = validator_account(side);
    let shift = side as u64 + 1;
    // Its nomination so far, by slot: each one sent must contain the last (or nobody takes it).
    let mut nominations: std::collections::BTreeMap<u64, Nominate> = Default::default();
    Box::new(move |net, topic, _from, data| {
        if topic != Topic::ScpEnvelopes {
            return;
        }
        let Ok(env) = decode_envelope(data) else { return };
        if env.node == rogue {
            return;
        }
        let mirror = env.node == mirrored && ally.load(std::sync::atomic::Ordering::Relaxed);
        let statement = match env.statement {
            Statement::Nominate(n) => {
                let twin = |v: &Vec<u8>| {
                    ConsensusValue::decode(&mut &v[..]).ok().map(|cv| {
                        ConsensusValue {
                            close_time: cv.close_time + shift,
                            ..cv
                        }
                        .encode()
                    })
                };
                let ours = nominations.entry(env.slot).or_default();
                let before = ours.clone();
                // At most 16 twins a slot: honest validators echo validator 3's twins, which
                // would be twinned again.
                for v in n.votes.iter().chain(&n.accepted) {
                    if ours.votes.len() < 32 {
                        if let Some(t) = twin(v) {
                            ours.votes.insert(t.clone());
                            ours.accepted.insert(t);
                        }
                    }
                }
                if mirror {
                    ours.votes.extend(n.votes.iter().chain(&n.accepted).cloned());
                    ours.accepted.extend(n.accepted.iter().cloned());
                }
                if *ours == before {
                    return;
                }
                Statement::Nominate(ours.clone())
            }
            Statement::Ballot(b) if mirror => Statement::Ballot(b),
            Statement::Ballot(_) => return,
        };
        *sent.lock().unwrap().entry(env.slot).or_default() += 1;
        net.publish(
            Topic::ScpEnvelopes,
            signed_envelope(&key, &genesis, env.slot, statement).encode(),
        );
    })
}

/// Panics unless `nodes` hold the same block at every height they all have, and every block
/// any of them holds carries a certificate that verifies against the quorum set; returns the
/// heads.
fn check_safety(nodes: &[&Node], context: &str) -> Vec<u64> {
    let heads: Vec<u64> = nodes.iter().map(|n| n.chain.best().0).collect();
    let top = heads.iter().copied().max().unwrap_or(0);
    for number in 1..=top {
        let hashes: Vec<_> = nodes
            .iter()
            .filter(|n| n.chain.best().0 >= number)
            .map(|n| n.chain.hash_at(number).unwrap())
            .collect();
        assert!(
            hashes.iter().all(|h| h == &hashes[0]),
            "{context}: validators hold different blocks #{number}: {hashes:?}"
        );
        for n in nodes.iter().filter(|n| n.chain.best().0 >= number) {
            check_certificate(&n.chain, number);
        }
    }
    heads
}

/// Validator 3 equivocates while every quorum of the live validators needs it: validators 0
/// and 1 run, validator 2 is down, and with quorum sets of 3 of 4 the only quorum left is
/// {0, 1, 3}. Validator 3 shows two faces ([`equivocator_face`]), each a libp2p node connected
/// to one honest validator: to validator 0 it repeats everything validator 0 says, to validator
/// 1 everything validator 1 says (each sees it as the ally that completes its quorum), and to
/// each it votes for and claims to have accepted a different twin of every value nominated
/// (another close time: as valid, and another block). The honest validators relay to each
/// other what they hear, so each also hears the face meant for the other.
///
/// Safety holds anyway, and this is what the test checks for 10 s of equivocation: validators
/// 0 and 1 never hold different blocks at any height, every block either finalizes carries a
/// certificate that verifies, and (since no quorum of the live validators lacks validator 3)
/// validator 3's envelope is in it. Why: validator 3 is the only node that sends illegal
/// messages (validator 2 merely crashed). Deleting it leaves {0, 1, 2} with slices of 2 of 3,
/// in which every two quorums intersect: the system enjoys quorum intersection despite {3}.
/// By Theorem 13 of Mazières, "The Stellar Consensus Protocol" (2015) (with Theorem 4, §5.1:
/// a statement and its contradiction cannot both be ratified where quorums intersect in
/// well-behaved nodes), two well-behaved nodes that externalize, which they do only after
/// ratifying `accept(commit)` (draft-mazieres-dinrg-scp §6), externalize the same value.
/// Concretely: any quorum of validator 0 and any of validator 1 share a well-behaved node,
/// which never votes for two contradictory statements, and validator 3 alone is neither a
/// quorum nor v-blocking for anyone (that takes two nodes besides oneself): its lies about
/// the twins are never accepted on its word.
///
/// Liveness is not promised meanwhile (validators 0 and 1 are befouled: every quorum of theirs
/// needs the equivocator), so nothing is asked of finality then (its mirroring lets them
/// finalize whenever they agree). Then validator 3 stops mirroring and only lies, and
/// validator 2 starts (a fresh node, which syncs what was finalized): {0, 1, 2} is a quorum
/// without validator 3, intact despite it, so a transfer must become final on all three,
/// which agree on every height.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_equivocating_validator_needed_for_every_quorum_cannot_split_the_others() {
    const EQUIVOCATION: Duration = Duration::from_secs(10);
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let mut nodes = vec![];
    for i in 0..2 {
        nodes.push(start(i, &ports, true).await);
    }
    let genesis = nodes[0].chain.genesis_hash();
    let sent: Vec<Arc<std::sync::Mutex<std::collections::BTreeMap<u64, usize>>>> =
        (0..2).map(|_| Default::default()).collect();
    let ally = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let mut faces = vec![];
    for (i, sent) in sent.iter().enumerate() {
        let face = Peer::start(
            NetworkConfig {
                secret_seed: common::Rng::new().bytes32(),
                listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
                bootnodes: vec![address(ports[i], &seed(i))],
                genesis_hash: genesis,
                discovery: false,
                ..NetworkConfig::default()
            },
            knows_nothing(genesis),
            equivocator_face(i, genesis, ally.clone(), sent.clone()),
        )
        .await;
        faces.push(face);
    }
    for face in &faces {
        face.wait_for_mesh(1, Duration::from_secs(20)).await;
    }

    // Equivocation with validator 2 down: safety only.
    let t0 = Instant::now();
    let mut heads = vec![];
    while t0.elapsed() < EQUIVOCATION {
        heads = check_safety(&[&nodes[0], &nodes[1]], "validator 2 down");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let sent: Vec<std::collections::BTreeMap<u64, usize>> = sent.iter().map(|s| s.lock().unwrap().clone()).collect();
    // Every quorum of the live validators contains validator 3: whatever was finalized
    // meanwhile is certified with its envelope (the certificates verified above).
    let with_rogue = (1..=heads.iter().copied().max().unwrap_or(0))
        .filter(|n| {
            let node = nodes.iter().find(|node| node.chain.best().0 >= *n).unwrap();
            let bytes = node.chain.justification(*n).unwrap().unwrap();
            let cert = Certificate::<AccountId>::decode(&mut &bytes[..]).unwrap();
            assert!(
                cert.envelopes.iter().any(|e| e.node == validator_account(3)),
                "block #{n}, finalized while validator 2 was down, is certified without validator 3"
            );
            true
        })
        .count();
    eprintln!(
        "after {:.0} s of equivocation with validator 2 down: heads {heads:?} ({with_rogue} blocks certified with \
         validator 3's envelopes); envelopes sent by each face, by slot: {sent:?}",
        EQUIVOCATION.as_secs_f64()
    );
    assert!(
        sent[0].keys().any(|slot| sent[1].contains_key(slot)),
        "validator 3 told the two validators different stories about some slot"
    );

    // Validator 2 back: a quorum without the equivocator, which goes on, now only lying.
    ally.store(false, std::sync::atomic::Ordering::Relaxed);
    nodes.push(start(2, &ports, true).await);
    let keys = keyring();
    let tx = transfer_bytes(genesis, &keys[0], keys[1].account(), UNIT, 0);
    let tx_hash = nodes[0].chain.submit(&tx).unwrap();
    let resumed = Instant::now();
    while !nodes.iter().all(|n| n.chain.receipt(&tx_hash).unwrap().is_some()) {
        check_safety(&nodes.iter().collect::<Vec<_>>(), "validator 2 back");
        assert!(
            resumed.elapsed() < Duration::from_secs(60),
            "finality did not resume within 60 s of validator 2's start: heads {:?}",
            nodes.iter().map(|n| n.chain.best().0).collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let heads = check_safety(&nodes.iter().collect::<Vec<_>>(), "after finality resumed");
    eprintln!(
        "the transfer is final everywhere {:.1} s after validator 2 started; heads {heads:?}",
        resumed.elapsed().as_secs_f64()
    );
    for face in faces {
        face.leave().await;
    }
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

// ---------------------------------------------------------------------------------------------
// A restarted validator keeps its ballot votes
// ---------------------------------------------------------------------------------------------

/// Validator `me`'s own statements for `slot` in `chain`'s persisted SCP state (what it takes
/// back after a restart), each checked signed: its NOMINATE and its ballot statement, if any.
fn persisted_own(chain: &Chain, me: &AccountId, slot: u64) -> (Option<Nominate>, Option<BallotStatement>) {
    let Some(bytes) = chain.consensus_state().unwrap() else {
        return (None, None);
    };
    let (envs, _sets): (Vec<WattEnvelope>, _) =
        watt_consensus::scp::decode_persisted_state(&bytes).expect("a persisted SCP state");
    let (mut nomination, mut ballot) = (None, None);
    for e in envs.into_iter().filter(|e| e.slot == slot && &e.node == me) {
        assert!(
            envelope_signature_ok(&e, &chain.genesis_hash()),
            "persisted envelopes are signed"
        );
        match e.statement {
            Statement::Nominate(n) => nomination = Some(n),
            Statement::Ballot(b) => ballot = Some(b),
        }
    }
    (nomination, ballot)
}

/// The ballot counter a statement is at (EXTERNALIZE: past every counter).
fn ballot_counter(b: &BallotStatement) -> u32 {
    match b {
        BallotStatement::Prepare { ballot, .. } | BallotStatement::Confirm { ballot, .. } => ballot.counter,
        BallotStatement::Externalize { .. } => u32::MAX,
    }
}

/// `b` with its value shortened to the first bytes of its hash, for messages.
fn brief(b: &BallotStatement) -> String {
    let v = |v: &[u8]| short(&[v.to_vec()].into());
    match b {
        BallotStatement::Prepare {
            ballot,
            prepared,
            prepared_prime,
            n_c,
            n_h,
        } => format!(
            "PREPARE b=({}, {}) p={:?} p'={:?} c={n_c} h={n_h}",
            ballot.counter,
            v(&ballot.value),
            prepared.as_ref().map(|p| (p.counter, v(&p.value))),
            prepared_prime.as_ref().map(|p| (p.counter, v(&p.value))),
        ),
        BallotStatement::Confirm {
            ballot,
            n_prepared,
            n_commit,
            n_h,
        } => format!(
            "CONFIRM b=({}, {}) p={n_prepared} c={n_commit} h={n_h}",
            ballot.counter,
            v(&ballot.value)
        ),
        BallotStatement::Externalize { commit, n_h } => {
            format!("EXTERNALIZE c=({}, {}) h={n_h}", commit.counter, v(&commit.value))
        }
    }
}

/// Values by the first bytes of their hashes, for messages.
fn short(values: &std::collections::BTreeSet<Vec<u8>>) -> String {
    let v: Vec<String> = values
        .iter()
        .map(|v| format!("{:02x?}", &watt_primitives::blake2_256(v)[..3]))
        .collect();
    format!("{{{}}}", v.join(", "))
}

fn phase(b: &BallotStatement) -> u8 {
    match b {
        BallotStatement::Prepare { .. } => 0,
        BallotStatement::Confirm { .. } => 1,
        BallotStatement::Externalize { .. } => 2,
    }
}

/// The ballot statements validator 0 sent after `since` (as `heard` recorded them), having
/// checked that none contradicts `before`, what it said before its restart; panics naming the
/// first that does, with `when` in the message.
fn sent_since_without_contradiction(
    heard: &std::sync::Mutex<Vec<(Instant, BallotStatement)>>,
    since: Instant,
    before: &BallotStatement,
    value: &[u8],
    when: &str,
) -> Vec<BallotStatement> {
    let said: Vec<BallotStatement> = heard
        .lock()
        .unwrap()
        .iter()
        .filter(|(at, _)| *at > since)
        .map(|(_, b)| b.clone())
        .collect();
    for b in &said {
        if let Some(why) = contradiction(before, b, value) {
            panic!(
                "{when}: after the restart validator 0 sent {} after {}: {why}",
                brief(b),
                brief(before)
            );
        }
    }
    said
}

/// Why `next`, said after `earlier` by the same validator for the same slot, contradicts it
/// (draft-mazieres-dinrg-scp §6: a node never votes to abort a ballot it voted to commit, never
/// lowers its ballot counter, and what it accepted stays accepted); `None` if it does not.
/// `value` is the only value the slot's ballots may carry (the test offered no other).
/// Written out here rather than taken from `BallotStatement::is_newer_than`, which is part of
/// what is under test.
fn contradiction(earlier: &BallotStatement, next: &BallotStatement, value: &[u8]) -> Option<String> {
    use BallotStatement::*;
    if next.values().iter().any(|v| v.as_slice() != value) {
        return Some("it names another value than the one it prepared".into());
    }
    if phase(next) < phase(earlier) {
        return Some("it went back to an earlier phase (PREPARE after CONFIRM drops its accepted commit)".into());
    }
    match (earlier, next) {
        (
            Prepare {
                ballot: b0,
                prepared: p0,
                n_c: c0,
                n_h: h0,
                ..
            },
            Prepare {
                ballot: b1,
                prepared: p1,
                n_c: c1,
                n_h: h1,
                ..
            },
        ) => {
            if b1.counter < b0.counter {
                return Some(format!(
                    "its ballot counter went back from {} to {}",
                    b0.counter, b1.counter
                ));
            }
            if let Some(p0) = p0 {
                match p1 {
                    None => return Some("it no longer accepts the ballot it had accepted as prepared".into()),
                    Some(p1) if p1.counter < p0.counter => {
                        return Some(format!(
                            "its prepared ballot went back from {} to {}",
                            p0.counter, p1.counter
                        ))
                    }
                    _ => {}
                }
            }
            if h1 < h0 {
                return Some(format!("its confirmed-prepared counter went back from {h0} to {h1}"));
            }
            if *c0 != 0 && *c1 == 0 {
                return Some("it dropped its vote to commit".into());
            }
        }
        (
            Prepare {
                ballot: b0,
                prepared: p0,
                ..
            },
            Confirm {
                ballot: b1, n_prepared, ..
            },
        ) => {
            if b1.counter < b0.counter {
                return Some(format!(
                    "its ballot counter went back from {} to {}",
                    b0.counter, b1.counter
                ));
            }
            if p0.as_ref().is_some_and(|p| *n_prepared < p.counter) {
                return Some("its prepared counter went back".into());
            }
        }
        (
            Confirm {
                ballot: b0,
                n_prepared: p0,
                n_h: h0,
                ..
            },
            Confirm {
                ballot: b1,
                n_prepared: p1,
                n_commit: c1,
                n_h: h1,
            },
        ) => {
            if b1.counter < b0.counter || p1 < p0 || h1 < h0 {
                return Some(format!(
                    "its counters went back: ballot {} -> {}, prepared {p0} -> {p1}, high {h0} -> {h1}",
                    b0.counter, b1.counter
                ));
            }
            if *c1 == 0 {
                return Some("it no longer accepts a commit".into());
            }
        }
        _ => {}
    }
    None
}

/// Validators 1, 2 and 3 as the test plays them: the statements each says now (re-signed and
/// published every 300 ms, and served to `ScpState` requests).
type Script = Arc<std::sync::Mutex<Vec<Statement>>>;

/// A validator persists its ballot statements before sending them and takes them back after a
/// restart, so that it never contradicts a ballot vote it cast (draft-mazieres-dinrg-scp §6;
/// stellar-core `BallotProtocol::setStateFromEnvelope`). Validator 0 runs for real; the test
/// plays validators 1, 2 and 3 through one libp2p peer, signing with their keys, and says
/// exactly what brings validator 0 along the ballot protocol for the value it nominated,
/// withholding what would let it externalize:
/// 1. everyone accepts validator 0's nominated value and votes to prepare it (up to counter 2):
///    validator 0 accepts the ballot as prepared (PREPARE with `p`) but cannot confirm it;
///    it is restarted on its database;
/// 2. everyone accepts the ballot as prepared and votes to commit it: validator 0 confirms it
///    prepared and accepts the commit (CONFIRM); it is restarted again;
/// 3. everyone accepts the commit: validator 0 externalizes, and block #1 is its value.
///
/// After each restart the others keep raising their counters, so validator 0 keeps speaking;
/// every ballot statement it sends (seen by gossip) or records (its persisted state) must be
/// compatible with what it said before the restart: the same value, no counter lower, no
/// PREPARE after a CONFIRM, no prepared ballot or commit vote dropped; its nomination keeps
/// every earlier vote. A validator that forgot its ballot state would come back at counter 1
/// (or in PREPARE) and fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_restarted_validator_keeps_its_ballot_votes() {
    common::log::init();
    let ports: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let dir = tempfile::tempdir().unwrap();
    let me = validator_account(0);
    let keys = keyring();
    let mut chain = Some(common::open_chain(dir.path()).await);
    let genesis = chain.as_ref().unwrap().genesis_hash();
    // Pooled before the engine starts, so that its first proposal carries it.
    let tx_hash = chain
        .as_ref()
        .unwrap()
        .submit(&transfer_bytes(genesis, &keys[0], keys[1].account(), UNIT, 0))
        .unwrap();

    // What validator 0 gossips for slot 1, as received.
    let heard: Arc<std::sync::Mutex<Vec<(Instant, BallotStatement)>>> = Default::default();
    let script: Script = Default::default();
    let policy: Policy = {
        let script = script.clone();
        let honest = knows_nothing(genesis);
        Arc::new(move |r: &Request| match r {
            Request::ScpState(from) if *from <= 1 => Some(Response::ScpState(
                script
                    .lock()
                    .unwrap()
                    .iter()
                    .flat_map(|st| (1..4).map(|i| signed_envelope(&pair(i), &genesis, 1, st.clone())))
                    .collect(),
            )),
            _ => honest(r),
        })
    };
    let on_gossip: OnGossip = {
        let heard = heard.clone();
        Box::new(move |_net, topic, _from, data| {
            if topic != Topic::ScpEnvelopes {
                return;
            }
            if let Ok(env) = decode_envelope(data) {
                if let (1, true, Statement::Ballot(b)) = (env.slot, env.node == me, env.statement) {
                    heard.lock().unwrap().push((Instant::now(), b));
                }
            }
        })
    };
    let peer = Peer::start(
        NetworkConfig {
            secret_seed: seed(1),
            listen: vec![format!("/ip4/127.0.0.1/tcp/{}", ports[1]).parse().unwrap()],
            bootnodes: vec![address(ports[0], &seed(0))],
            genesis_hash: genesis,
            discovery: false,
            ..NetworkConfig::default()
        },
        policy,
        on_gossip,
    )
    .await;
    let speaker = {
        let (net, script) = (peer.network.clone(), script.clone());
        tokio::spawn(async move {
            loop {
                let statements = script.lock().unwrap().clone();
                for st in statements {
                    for i in 1..4 {
                        net.publish(
                            Topic::ScpEnvelopes,
                            signed_envelope(&pair(i), &genesis, 1, st.clone()).encode(),
                        );
                    }
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        })
    };
    let mut v0 = Some(start_engine(0, &ports, chain.take().unwrap(), Some(pair(0))).await);
    peer.wait_for_mesh(1, Duration::from_secs(20)).await;

    // Validator 0's own value for slot 1, from its persisted nomination.
    let c0 = v0.as_ref().unwrap().chain.clone();
    let mut value: Option<Vec<u8>> = None;
    wait_for(
        "validator 0 to vote for a value of its own",
        Duration::from_secs(30),
        || {
            value = persisted_own(&c0, &me, 1).0.and_then(|n| {
                n.votes
                    .into_iter()
                    .find(|v| ConsensusValue::decode(&mut &v[..]).is_ok_and(|cv| cv.proposer == me))
            });
            value.is_some()
        },
    )
    .await;
    let value = value.unwrap();
    let own = ConsensusValue::decode(&mut &value[..]).unwrap();

    let nominate = Statement::Nominate(Nominate {
        votes: [value.clone()].into(),
        accepted: [value.clone()].into(),
    });
    let prepare = |n: u32, prepared: bool, commit: bool| {
        Statement::Ballot(BallotStatement::Prepare {
            ballot: Ballot::new(n, value.clone()),
            prepared: prepared.then(|| Ballot::new(n, value.clone())),
            prepared_prime: None,
            n_c: if commit { 1 } else { 0 },
            n_h: if commit { n } else { 0 },
        })
    };
    let ballot_of = |c: &Chain| persisted_own(c, &me, 1).1;

    // Step 1: accepted as prepared, not confirmed.
    *script.lock().unwrap() = vec![nominate.clone(), prepare(2, false, false)];
    wait_for(
        "validator 0 to accept its ballot as prepared at counter 2",
        Duration::from_secs(20),
        || {
            matches!(ballot_of(&c0), Some(BallotStatement::Prepare { ballot, prepared: Some(p), .. })
                if ballot.counter >= 2 && p.value == value)
        },
    )
    .await;
    drop(c0);

    let mut last_restart = None;
    for step in [1, 2] {
        let c = v0.as_ref().unwrap().chain.clone();
        if step == 2 {
            // Step 2: confirmed prepared, commit accepted.
            let n = ballot_counter(&ballot_of(&c).unwrap()) + 1;
            *script.lock().unwrap() = vec![nominate.clone(), prepare(n, true, true)];
            wait_for(
                "validator 0 to accept the commit (CONFIRM)",
                Duration::from_secs(20),
                || matches!(ballot_of(&c), Some(BallotStatement::Confirm { .. })),
            )
            .await;
        }
        v0.take().unwrap().stop().await;
        let (nomination_before, ballot_before) = persisted_own(&c, &me, 1);
        let ballot_before = ballot_before.expect("a ballot statement persisted");
        let nomination_before = nomination_before.expect("a nomination persisted");
        // Nothing it gossiped before going down said more than what it persisted.
        let stopped = Instant::now();
        let sent_before: Vec<BallotStatement> = heard.lock().unwrap().iter().map(|(_, b)| b.clone()).collect();
        for b in &sent_before {
            if let Some(why) = contradiction(b, &ballot_before, &value) {
                panic!(
                    "step {step}: the persisted statement {} is behind the gossiped {}: {why}",
                    brief(&ballot_before),
                    brief(b)
                );
            }
        }
        assert_eq!(c.best().0, 0, "step {step}: slot 1 is not externalized yet");
        drop(c);
        eprintln!("step {step}: validator 0 stopped after {}", brief(&ballot_before));

        let restarted = start_node(0, &ports, dir.path(), Some(pair(0))).await;
        let c = restarted.chain.clone();
        v0 = Some(restarted);
        // The others move to higher counters every second, so validator 0 keeps speaking.
        let base = ballot_counter(&ballot_before);
        let watch = Instant::now();
        let mut recorded = vec![];
        let mut raised = 0;
        while watch.elapsed() < Duration::from_secs(5) {
            let bumps = (watch.elapsed().as_secs() + 1) as u32;
            if bumps != raised {
                raised = bumps;
                let n = base + bumps;
                *script.lock().unwrap() = vec![nominate.clone(), prepare(n, step == 2, step == 2)];
            }
            let (nomination, ballot) = persisted_own(&c, &me, 1);
            if let Some(n) = nomination {
                assert!(
                    n.votes.is_superset(&nomination_before.votes)
                        && n.accepted.is_superset(&nomination_before.accepted),
                    "step {step}: validator 0 dropped a nomination vote it cast before the restart: votes {} \
                     accepted {} -> votes {} accepted {}",
                    short(&nomination_before.votes),
                    short(&nomination_before.accepted),
                    short(&n.votes),
                    short(&n.accepted)
                );
            }
            if let Some(b) = ballot {
                if let Some(why) = contradiction(&ballot_before, &b, &value) {
                    panic!(
                        "step {step}: after the restart validator 0 recorded {} after {}: {why}",
                        brief(&b),
                        brief(&ballot_before)
                    );
                }
                if recorded.last() != Some(&b) {
                    recorded.push(b);
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let said = sent_since_without_contradiction(&heard, stopped, &ballot_before, &value, &format!("step {step}"));
        // Vacuous otherwise: it must have spoken again, past what it said before.
        assert!(
            said.iter().chain(&recorded).any(|b| ballot_counter(b) > base),
            "step {step}: validator 0 said nothing new after the restart (sent {:?}, recorded {:?})",
            said.iter().map(brief).collect::<Vec<_>>(),
            recorded.iter().map(brief).collect::<Vec<_>>()
        );
        eprintln!(
            "step {step}: after the restart validator 0 sent {} and recorded {} ballot statements, the last {:?}",
            said.len(),
            recorded.len(),
            recorded.last().map(brief)
        );
        last_restart = Some((stopped, ballot_before));
    }

    // Step 3: everyone accepts the commit; validator 0 externalizes its value.
    let c = v0.as_ref().unwrap().chain.clone();
    let n = ballot_counter(&ballot_of(&c).unwrap()) + 1;
    *script.lock().unwrap() = vec![
        nominate.clone(),
        Statement::Ballot(BallotStatement::Confirm {
            ballot: Ballot::new(n, value.clone()),
            n_prepared: n,
            n_commit: 1,
            n_h: n,
        }),
    ];
    wait_for("block #1", Duration::from_secs(20), || c.best().0 >= 1).await;
    let receipt = c.receipt(&tx_hash).unwrap().expect("the transfer is in block #1");
    assert_eq!(receipt.block_number, 1);
    let header = c.header(&c.hash_at(1).unwrap().unwrap()).unwrap().unwrap();
    assert_eq!(
        (header.parent_hash, header.tx_root, header.close_time, header.author),
        (genesis, own.tx_set_hash, own.close_time, me),
        "block #1 is the value validator 0 nominated and kept through both restarts"
    );
    check_certificate(&c, 1);
    // Up to its EXTERNALIZE, nothing it sent since the last restart contradicts what it had
    // said before it.
    let (stopped, before) = last_restart.unwrap();
    sent_since_without_contradiction(&heard, stopped, &before, &value, "after the second restart");
    speaker.abort();
    v0.take().unwrap().stop().await;
    peer.leave().await;
}

/// What a serving peer does to the certificates of the blocks it serves.
#[derive(Clone, Copy, Debug)]
enum Serve {
    /// One envelope's signature altered (the certificate still decodes).
    Forged,
    /// No certificate at all.
    Missing,
    /// As the validators stored them.
    Intact,
}

/// Sync imports a block only with a certificate that verifies against the trusted quorum set
/// (issue 17: the sync test must fail if sync skipped its certificate checks). A follower's
/// only peers serve the validators' real blocks (right headers, right transactions), first
/// with a forged certificate, then with none: it imports nothing and scores each server down.
/// Then a peer serves the same blocks intact, and it catches up to exactly the validators'
/// blocks. Without the checks it would import the first server's blocks at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_follower_imports_only_blocks_whose_certificates_verify() {
    use common::{Outsider, Testnet};
    use watt_consensus::scp::wire::Status;
    use watt_primitives::Block;

    let net = Testnet::start(4).await;
    net.wait_for_height(3, Duration::from_secs(60)).await;
    let source = net.chains()[0].clone();
    let top = source.finalized().unwrap().0;
    let blocks: Vec<(Block, Vec<u8>)> = (1..=top)
        .map(|n| {
            let hash = source.hash_at(n).unwrap().unwrap();
            let block = source.block(&hash).unwrap().unwrap();
            (
                block,
                source.justification(n).unwrap().expect("a certificate is stored"),
            )
        })
        .collect();
    let top_hash = source.hash_at(top).unwrap().unwrap();
    let genesis = net.genesis;
    let server = |how: Serve| -> Policy {
        let blocks = blocks.clone();
        let honest = knows_nothing(genesis);
        Arc::new(move |r: &Request| match r {
            Request::Status => Some(Response::Status(Status {
                genesis,
                best_number: top,
                best_hash: top_hash,
            })),
            Request::Blocks { from, count } => {
                let served = blocks
                    .iter()
                    .filter(|(b, _)| b.header.number >= *from && b.header.number < from.saturating_add(*count as u64))
                    .map(|(b, cert)| {
                        let cert = match how {
                            Serve::Intact => Some(cert.clone()),
                            Serve::Missing => None,
                            Serve::Forged => {
                                let mut c = Certificate::<AccountId>::decode(&mut &cert[..]).unwrap();
                                c.envelopes[0].signature[7] ^= 1;
                                Some(c.encode())
                            }
                        };
                        (b.clone(), cert)
                    })
                    .collect();
                Some(Response::Blocks(served))
            }
            _ => honest(r),
        })
    };

    // A follower whose only peers are the servers the test starts.
    let dir = tempfile::tempdir().unwrap();
    let follower_chain = common::open_chain(dir.path()).await;
    let (follower_net, events) = start_network(NetworkConfig {
        secret_seed: [91; 32],
        listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
        genesis_hash: genesis,
        discovery: false,
        ..NetworkConfig::default()
    })
    .await;
    let engine = Box::new(ScpEngine::new(
        follower_chain.clone(),
        follower_net.clone(),
        events,
        ScpEngineConfig::new(None, qset(4)),
    ));
    let (_stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(engine.run(Box::pin(async move {
        let _ = stopped.await;
    })));
    let follower_addr: watt_network::Multiaddr = format!(
        "{}/p2p/{}",
        follower_net.listen_addresses()[0],
        follower_net.local_peer_id()
    )
    .parse()
    .unwrap();

    for (n, how) in [Serve::Forged, Serve::Missing].into_iter().enumerate() {
        let bad = Outsider::start([92 + n as u8; 32], genesis, vec![follower_addr.clone()], server(how)).await;
        let served = || bad.count_requests(|r| matches!(r, Request::Blocks { .. }));
        wait_for(
            "the follower to ask the server for blocks",
            Duration::from_secs(20),
            || served() > 0,
        )
        .await;
        // Time to import what it was served, had it not checked.
        tokio::time::sleep(Duration::from_secs(2)).await;
        assert_eq!(
            follower_chain.best().0,
            0,
            "the follower imported blocks served with {how:?} certificates"
        );
        let view = follower_net
            .peers()
            .into_iter()
            .find(|p| p.peer_id == bad.peer_id.to_string());
        assert!(
            view.as_ref().is_some_and(|p| p.score < 0 || p.banned),
            "a peer serving {how:?} certificates was not scored down: {view:?}"
        );
        bad.leave().await;
    }

    let good = Outsider::start([99; 32], genesis, vec![follower_addr], server(Serve::Intact)).await;
    wait_for(
        "the follower to sync from the honest server",
        Duration::from_secs(30),
        || follower_chain.best().0 >= top,
    )
    .await;
    for n in 1..=top {
        assert_eq!(
            follower_chain.hash_at(n).unwrap(),
            source.hash_at(n).unwrap(),
            "block #{n}"
        );
        check_certificate(&follower_chain, n);
    }
    good.leave().await;
}
