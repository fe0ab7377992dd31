//! Attacks by peers with no stake and no validator key (issue 17, "A network no outsider can
//! halt"), against four SCP validators in one process (each with its own chain in rocksdb and
//! its own libp2p network on loopback) that finalize a steady trickle of transfers.
//!
//! Each attacker is a real `watt_network` node (noise, yamux, gossipsub, request-response)
//! with a fresh identity that runs no engine: it publishes crafted gossip and answers requests
//! as the attack needs. A monitor polls every validator's head every 100 ms; each test checks
//! the longest time without a new block on every validator during the attack and after it.
//!
//! Bounds. Honest behaviour with the trickle (a transfer every 200 ms, so transactions always
//! wait) closes 2-4 blocks a second, with a longest gap of 1.1-1.4 s (a second nomination
//! round) on this 2-core machine; an idle network closes one every 2 s (the empty-block
//! interval). [`MAX_GAP`] (8 s) is four empty-block intervals: room for a second and third
//! nomination round (1 s, then 2 s more), a ballot timeout, the 1.5 s stuck-slot state request
//! and a CPU-starved 2-core CI machine running other tests, yet a tenth of the 90 s a test may
//! take, so a network that stops finalizing (for good, as these attacks did when the issue was
//! filed) fails within the attack's window. `honest_trickle_finalizes_without_long_gaps` is
//! the control: if it fails, the bound or the machine is at fault, not an attack's defence.
//!
//! `RUST_LOG=watt_consensus=debug,info` prints the engines' logs, each line tagged with the
//! validator (`v n=<i>`) it came from.

mod common;

use common::*;
use parity_scale_codec::Encode;
use sp_core::{sr25519, Pair};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant};
use watt_chain::test_utils::transfer;
use watt_client::Keypair;
use watt_consensus::scp::quorum_set_hash;
use watt_consensus::scp::wire::{Request, Response, Status, WattEnvelope};
use watt_network::Topic;
use watt_primitives::{AccountId, ConsensusValue, Hash, TxSet};
use watt_scp::nomination::Nominate;
use watt_scp::slot::Statement;
use watt_scp::QuorumSet;

/// Longest time any validator may go without a new block while attacked (see the module
/// docs for why 8 s).
const MAX_GAP: Duration = Duration::from_secs(8);
/// One honest transfer this often.
const TRICKLE: Duration = Duration::from_millis(200);
/// How long each attack lasts.
const ATTACK: Duration = Duration::from_secs(10);
/// How long the liar of `a_peer_claiming_height_u64_max_does_not_stop_nomination` stays
/// connected: well over [`MAX_GAP`], so that nomination stopped while it is connected fails
/// the test even if it takes a few seconds to stop.
const LIAR_CONNECTED: Duration = Duration::from_secs(15);
/// Junk tx sets a second in the flood (the issue asks for at least 1,000).
const FLOOD_RATE: u64 = 1_200;
/// How long finality is watched after an attack.
const AFTER: Duration = Duration::from_secs(5);
/// Blocks each validator must finalize in the [`AFTER`] window (honest: 5-15).
const MIN_BLOCKS_AFTER: u64 = 2;

/// Four validators finalizing the trickle, watched by the monitor.
struct Run {
    net: Testnet,
    monitor: FinalityMonitor,
    trickle: Trickle,
}

impl Run {
    /// Starts the validators and the trickle; returns once every validator has finalized a
    /// few blocks of it.
    async fn start() -> Run {
        let net = Testnet::start(4).await;
        let monitor = FinalityMonitor::start(net.chains());
        let trickle = Trickle::start(net.chains(), TRICKLE);
        let first = Instant::now();
        net.wait_for_height(3, Duration::from_secs(45)).await;
        eprintln!(
            "warm-up: #3 on every validator after {:.1} s",
            first.elapsed().as_secs_f64()
        );
        Run { net, monitor, trickle }
    }

    fn context(&self) -> String {
        format!("{}\ntrickle: {} refused", self.net.describe(), self.trickle.refused())
    }

    /// Prints and checks finality over `[t0, t1]` (the attack: at most [`MAX_GAP`] without a
    /// block, at least one block) and `[t1, t2]` (after it: at least [`MIN_BLOCKS_AFTER`]
    /// blocks), that the transfers submitted during the attack were finalized, and that the
    /// validators agree.
    fn check(&self, attack: &str, t0: Instant, t1: Instant, t2: Instant, extra: &str) {
        let during = self.monitor.window(t0, t1);
        let after = self.monitor.window(t1, t2);
        let chains = self.net.chains();
        let (submitted, finalized) = self.trickle.finalized(&chains, t0, t1);
        let context = format!("{}\n{extra}", self.context());
        eprintln!(
            "{attack}: during ({:.1} s): {during:?}\nafter ({:.1} s): {after:?}\n\
             transfers submitted during the attack: {submitted}, final everywhere: {finalized}\n{context}",
            (t1 - t0).as_secs_f64(),
            (t2 - t1).as_secs_f64(),
        );
        assert_finality(&format!("during {attack}"), &during, MAX_GAP, 1, &context);
        assert_finality(&format!("after {attack}"), &after, MAX_GAP, MIN_BLOCKS_AFTER, &context);
        assert!(
            finalized > 0,
            "during {attack}: none of the {submitted} transfers submitted was finalized on every validator \
             (blocks were empty)\n{context}"
        );
        self.net.assert_agreement();
    }
}

/// A decodable transaction set no validator would propose: one transfer, validly signed, by
/// a key nobody funded. Distinct for each `n`.
fn junk_tx_set(genesis: Hash, key: &Keypair, to: AccountId, n: u64) -> Vec<u8> {
    TxSet {
        transactions: vec![transfer(genesis, key, to, 1, n, 0)],
    }
    .encode()
}

/// Publishes `rate * duration` distinct junk tx sets on `Topic::TxSets`, paced at `rate` a
/// second from a thread of its own (made and signed before the clock starts, so the pace does
/// not depend on the runtime the validators keep busy); returns how many were sent and when
/// the flood started.
async fn flood_junk_tx_sets(outsider: &Outsider, genesis: Hash, duration: Duration, rate: u64) -> (u64, Instant) {
    let network = outsider.network.clone();
    tokio::task::spawn_blocking(move || {
        let total = rate * duration.as_secs();
        let (key, _) = Keypair::generate();
        let to = AccountId::from(Rng::new().pair().public().0);
        let sets: Vec<Vec<u8>> = (0..total).map(|n| junk_tx_set(genesis, &key, to, n)).collect();
        let start = Instant::now();
        let mut sent = 0u64;
        for set in sets {
            let due = start + Duration::from_secs_f64(sent as f64 / rate as f64);
            if let Some(wait) = due.checked_duration_since(Instant::now()) {
                std::thread::sleep(wait);
            }
            network.publish(Topic::TxSets, set);
            sent += 1;
        }
        (sent, start)
    })
    .await
    .unwrap()
}

/// The control: no attacker, the trickle alone. It measures the honest longest gap the
/// bounds of the other tests are chosen against.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn honest_trickle_finalizes_without_long_gaps() {
    let run = Run::start().await;
    let t0 = Instant::now();
    tokio::time::sleep(ATTACK).await;
    let t1 = Instant::now();
    tokio::time::sleep(AFTER).await;
    run.check("the honest run", t0, t1, Instant::now(), "");
}

/// ≥ 1,000 distinct, decodable junk tx sets a second for 10 s on the tx-set topic. When the
/// issue was filed this pushed the sets that open slots named out of every validator's
/// 256-entry FIFO, and finality stopped for good.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn junk_tx_set_flood_does_not_halt_finality() {
    let run = Run::start().await;
    let genesis = run.net.genesis;
    let mut rng = Rng::new();
    let outsider = Outsider::start(rng.bytes32(), genesis, run.net.bootnodes(), knows_nothing(genesis)).await;
    outsider.wait_for_mesh(4, Duration::from_secs(20)).await;

    let (sent, t0) = flood_junk_tx_sets(&outsider, genesis, ATTACK, FLOOD_RATE).await;
    let t1 = Instant::now();
    let rate = sent as f64 / (t1 - t0).as_secs_f64();
    assert!(rate >= 1_000.0, "the flood offered only {rate:.0} sets/s");
    tokio::time::sleep(AFTER).await;
    let t2 = Instant::now();
    let extra = format!(
        "flood: {sent} junk sets, {rate:.0}/s; outsider: {}; validators' view of it (score, connected, banned): {:?}",
        outsider.request_summary(),
        run.net.view_of(&outsider.peer_id)
    );
    run.check("a junk tx-set flood", t0, t1, t2, &extra);
    outsider.leave().await;
}

/// Validly signed NOMINATE envelopes from sr25519 keys in no validator's quorum set, each
/// voting for 100 values naming tx sets that do not exist, for the head's slot, the one after
/// it (the open slot) and the two after that, 64 envelopes a second for 10 s. The outsider answers quorum-set requests
/// with its keys' quorum sets and tx-set requests with "none". Validators must keep
/// finalizing, and must not fetch anything such an envelope names (stellar-core drops
/// envelopes from outside the local transitive quorum before any check, fetch or relay).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn envelopes_from_outside_the_quorum_are_ignored() {
    const KEYS: usize = 8;
    const VALUES_PER_ENVELOPE: usize = 100;
    const SLOTS_AHEAD: u64 = 3;
    const PERIOD: Duration = Duration::from_millis(500);

    let run = Run::start().await;
    let genesis = run.net.genesis;
    let mut rng = Rng::new();
    let keys: Vec<sr25519::Pair> = (0..KEYS).map(|_| rng.pair()).collect();
    let outsider_qsets: HashMap<Hash, QuorumSet<AccountId>> = keys
        .iter()
        .map(|k| {
            let q = QuorumSet::flat(1, vec![AccountId::from(k.public().0)]);
            (quorum_set_hash(&q), q)
        })
        .collect();
    let honest = knows_nothing(genesis);
    let policy: Policy = {
        let qsets = outsider_qsets.clone();
        Arc::new(move |r: &Request| match r {
            Request::QuorumSet(h) if qsets.contains_key(h) => Some(Response::QuorumSet(qsets.get(h).cloned())),
            _ => honest(r),
        })
    };
    let outsider = Outsider::start(rng.bytes32(), genesis, run.net.bootnodes(), policy).await;
    outsider.wait_for_mesh(4, Duration::from_secs(20)).await;

    let mut invented: HashSet<Hash> = HashSet::new();
    let mut envelopes = 0u64;
    let chain0 = run.net.validators[0].chain.clone();
    let t0 = Instant::now();
    let mut tick = tokio::time::interval(PERIOD);
    while t0.elapsed() < ATTACK {
        tick.tick().await;
        let (head, head_hash) = chain0.best();
        for key in &keys {
            let node = AccountId::from(key.public().0);
            let qset_hash = quorum_set_hash(&QuorumSet::flat(1, vec![node]));
            for slot in head..=head + SLOTS_AHEAD {
                let votes = (0..VALUES_PER_ENVELOPE)
                    .map(|_| {
                        let tx_set_hash = rng.bytes32();
                        invented.insert(tx_set_hash);
                        ConsensusValue {
                            parent_hash: if slot == head + 1 { head_hash } else { rng.bytes32() },
                            tx_set_hash,
                            close_time: now_ms(),
                            proposer: node,
                            // Never checked: the envelope is dropped before anything it names.
                            proposer_proof: [0; watt_primitives::PROPOSER_PROOF_LEN],
                        }
                        .encode()
                    })
                    .collect();
                let mut env = WattEnvelope {
                    slot,
                    node,
                    qset_hash,
                    statement: Statement::Nominate(Nominate {
                        votes,
                        accepted: Default::default(),
                    }),
                    signature: vec![],
                };
                env.signature = key.sign(&env.signing_payload(&genesis)).0.to_vec();
                outsider.network.publish(Topic::ScpEnvelopes, env.encode());
                envelopes += 1;
            }
        }
    }
    let t1 = Instant::now();
    tokio::time::sleep(AFTER).await;
    let t2 = Instant::now();

    let set_requests = outsider.count_requests(|r| matches!(r, Request::TxSet(h) if invented.contains(h)));
    let qset_requests =
        outsider.count_requests(|r| matches!(r, Request::QuorumSet(h) if outsider_qsets.contains_key(h)));
    let extra = format!(
        "outsiders: {envelopes} envelopes naming {} unknown tx sets; requests for them: {set_requests} tx sets, \
         {qset_requests} quorum sets; outsider: {}; validators' view of it (score, connected, banned): {:?}",
        invented.len(),
        outsider.request_summary(),
        run.net.view_of(&outsider.peer_id)
    );
    run.check("envelopes from outside the quorum", t0, t1, t2, &extra);
    assert_eq!(
        (set_requests, qset_requests),
        (0, 0),
        "validators fetched the tx sets or quorum sets that envelopes from outside their quorum named\n{extra}"
    );
    outsider.leave().await;
}

/// A peer answers `Status` with height 2^64-1 (and the right genesis) and every block request
/// with an empty list or an error, for 15 s; then it leaves. When the issue was filed every
/// validator stopped nominating while it was connected (and stayed "syncing" after it left).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_peer_claiming_height_u64_max_does_not_stop_nomination() {
    let run = Run::start().await;
    let genesis = run.net.genesis;
    let mut rng = Rng::new();
    let fake_head = rng.bytes32();
    let block_requests = Arc::new(AtomicU64::new(0));
    let honest = knows_nothing(genesis);
    let policy: Policy = {
        let block_requests = block_requests.clone();
        Arc::new(move |r: &Request| match r {
            Request::Status => Some(Response::Status(Status {
                genesis,
                best_number: u64::MAX,
                best_hash: fake_head,
            })),
            Request::Blocks { .. } => Some(if block_requests.fetch_add(1, Relaxed) % 2 == 0 {
                Response::Blocks(vec![])
            } else {
                Response::Error("no blocks here".into())
            }),
            _ => honest(r),
        })
    };
    let t0 = Instant::now();
    let outsider = Outsider::start(rng.bytes32(), genesis, run.net.bootnodes(), policy).await;
    outsider.wait_for_mesh(4, Duration::from_secs(20)).await;
    tokio::time::sleep(LIAR_CONNECTED.saturating_sub(t0.elapsed())).await;
    let summary = format!(
        "{}; validators' view of it (score, connected, banned): {:?}",
        outsider.request_summary(),
        run.net.view_of(&outsider.peer_id)
    );
    outsider.leave().await;
    let t1 = Instant::now();
    tokio::time::sleep(AFTER).await;
    let t2 = Instant::now();
    let extra = format!("liar: {summary}");
    run.check("a peer claiming height 2^64-1", t0, t1, t2, &extra);
    let syncing: Vec<bool> = run
        .net
        .validators
        .iter()
        .map(|v| v.stats.syncing.load(Relaxed))
        .collect();
    assert!(
        syncing.iter().all(|s| !s),
        "validators still believe they are behind after the liar left: {syncing:?}\n{extra}"
    );
}

/// 100 fresh PeerIds connect to every validator, 50 at a time (two waves of 7 s, each dialling
/// over 1 s: a validator accepts 32 pending connections at once, and refused peers redial after
/// 5 s); each answers `Status` at genesis and nothing else useful, and relays no gossip. A
/// validator holds at most 50 connections: the fresh peers must not push the validators' links
/// to each other out, nor slow finality.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_fresh_peer_ids_do_not_halt_finality() {
    const WAVE: usize = 50;
    let run = Run::start().await;
    let genesis = run.net.genesis;
    let mut rng = Rng::new();
    let t0 = Instant::now();
    let mut summaries = vec![];
    for _wave in 0..2 {
        let wave_start = Instant::now();
        let mut peers = vec![];
        for _ in 0..WAVE {
            peers.push(Outsider::start(rng.bytes32(), genesis, run.net.bootnodes(), knows_nothing(genesis)).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_secs(7).saturating_sub(wave_start.elapsed())).await;
        let links = run.net.validator_links();
        assert!(
            links.iter().all(|l| *l == 3),
            "fresh peers pushed out links between validators (each validator's links to the other three: \
             {links:?})\n{}",
            run.context()
        );
        let connected: Vec<usize> = peers.iter().map(|p| p.network.connected_peers()).collect();
        summaries.push(format!(
            "wave: {} of {WAVE} fresh peers connected to some validator, {} to all four; validators' peers: {:?}",
            connected.iter().filter(|c| **c > 0).count(),
            connected.iter().filter(|c| **c >= 4).count(),
            run.net
                .validators
                .iter()
                .map(|v| v.network.connected_peers())
                .collect::<Vec<_>>()
        ));
        for p in peers {
            p.leave().await;
        }
    }
    let t1 = Instant::now();
    tokio::time::sleep(AFTER).await;
    let t2 = Instant::now();
    run.check("many fresh peer ids", t0, t1, t2, &summaries.join("\n"));
}

/// The junk tx-set flood for 10 s, then every validator is stopped and started again on its
/// own data (same identity, port and database). When the issue was filed each restored its
/// envelopes for the stuck slot, which named the lost set, and never nominated again. Within
/// [`RESUME`] of the restart every validator must have finalized two new blocks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn validators_restarted_on_their_data_after_an_attack_resume() {
    /// Time from every validator running again to two new blocks on each (an honest restart
    /// takes 2-5 s: peers reconnect, the state exchange, a slot or two).
    const RESUME: Duration = Duration::from_secs(20);
    let Run {
        mut net,
        monitor,
        trickle,
    } = Run::start().await;
    let genesis = net.genesis;
    let mut rng = Rng::new();
    let outsider = Outsider::start(rng.bytes32(), genesis, net.bootnodes(), knows_nothing(genesis)).await;
    outsider.wait_for_mesh(4, Duration::from_secs(20)).await;
    let (sent, t0) = flood_junk_tx_sets(&outsider, genesis, ATTACK, FLOOD_RATE).await;
    let t1 = Instant::now();
    outsider.leave().await;
    let during = monitor.window(t0, t1);
    eprintln!(
        "flood: {sent} junk sets in {:.1} s; finality during it: {during:?}",
        (t1 - t0).as_secs_f64()
    );
    trickle.stop();
    monitor.stop();
    let before = net.heads();
    eprintln!("before the restart:\n{}", net.describe());
    net.stop_all().await;
    net.restart_all().await;
    let restarted = Instant::now();
    let trickle = Trickle::start(net.chains(), TRICKLE);
    let target = before.iter().max().copied().unwrap_or(0) + 2;
    let chains = net.chains();
    while !chains.iter().all(|c| c.best().0 >= target) {
        assert!(
            restarted.elapsed() < RESUME,
            "finality did not resume within {RESUME:?} of the restart: heads {:?} before, {:?} now (#{target} \
             expected on every validator)\n{}",
            before,
            net.heads(),
            net.describe()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    eprintln!(
        "resumed: #{target} on every validator {:.1} s after the restart (heads before: {before:?})",
        restarted.elapsed().as_secs_f64()
    );
    net.assert_agreement();
    trickle.stop();
}
