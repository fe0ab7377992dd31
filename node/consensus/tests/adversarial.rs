//! Attacks by peers with no stake and no validator key (issue 17, "A network no outsider can
//! halt"), against four SCP validators in one process (each with its own chain in rocksdb and
//! its own libp2p network on loopback) that finalize a steady trickle of transfers.
//!
//! Each attacker is a real `watt_network` node (noise, yamux, gossipsub, request-response)
//! with a fresh identity that runs no engine: it publishes crafted gossip and answers requests
//! as the attack needs.
//!
//! Each attack runs twice: on libp2p in real time, and (`…_simulated`) on the simulated
//! network of `watt_network::sim` in virtual time, with seeded latency, jitter and 1 % loss
//! ([`SIM_LINK`], [`SIM_SEED`]): the same engines, the same attack, a schedule the machine's
//! load cannot change, and a tighter bound ([`SIM_MAX_GAP`]). A monitor polls every validator's head every 100 ms; each test checks
//! the longest time without a new block on every validator during the attack and after it.
//!
//! One attacker holds a validator key: in
//! `a_validator_copying_rivals_sets_takes_no_more_than_its_share_of_blocks`, validator 3 (in
//! every quorum set) is played by such a node against the three others, copying their sets to
//! take the block reward (issue 17 item 9).
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
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use watt_chain::test_utils::transfer;
use watt_client::Keypair;
use watt_consensus::scp::quorum_set_hash;
use watt_consensus::scp::wire::{self, Request, Response, Status, WattEnvelope};
use watt_network::sim::{Link, SimConfig};
use watt_network::Topic;
use watt_primitives::{AccountId, ConsensusValue, Hash, TxSet};
use watt_scp::nomination::Nominate;
use watt_scp::slot::Statement;
use watt_scp::QuorumSet;

/// Longest time any validator may go without a new block while attacked (see the module
/// docs for why 8 s).
const MAX_GAP: Duration = Duration::from_secs(8);
/// The same bound in virtual time on the simulated network, where the machine's load cannot
/// stretch a gap: a second nomination round (1 s) and a ballot timeout on lossy links, with
/// room to spare (honest: 0.5 s).
const SIM_MAX_GAP: Duration = Duration::from_secs(4);
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
/// Blocks finalized while validator 3 copies the others' sets
/// (`a_validator_copying_rivals_sets_takes_no_more_than_its_share_of_blocks`).
const COPIED_BLOCKS: u64 = 40;

/// What joins the validators and the attackers.
#[derive(Clone, Copy, Debug)]
enum Transport {
    /// Real libp2p nodes on loopback, in real time.
    Libp2p,
    /// The simulated network with this seed, in virtual time (the test runs with tokio's
    /// clock paused): the attack repeats exactly as far as the network goes, whatever the
    /// machine's load.
    Simulated(u64),
}

/// The simulated network's links: a WAN with some loss, so that the defences are exercised
/// with messages late, reordered across links and lost.
const SIM_LINK: Link = Link {
    latency: Duration::from_millis(40),
    jitter: Duration::from_millis(40),
    loss: 0.01,
};

/// The seed of the simulated runs (any seed must pass; this one is printed on failure).
const SIM_SEED: u64 = 17;

/// Four validators finalizing the trickle, watched by the monitor.
struct Run {
    net: Testnet,
    monitor: FinalityMonitor,
    trickle: Trickle,
}

impl Run {
    /// Starts the validators and the trickle; returns once every validator has finalized a
    /// few blocks of it.
    async fn start(transport: Transport) -> Run {
        let net = match transport {
            Transport::Libp2p => Testnet::start(4).await,
            Transport::Simulated(seed) => Testnet::start_simulated(4, SimConfig { seed, link: SIM_LINK }).await,
        };
        eprintln!("transport: {transport:?}");
        let monitor = net.monitor();
        let trickle = net.trickle(TRICKLE);
        let first = Instant::now();
        net.wait_for_height(3, Duration::from_secs(45)).await;
        eprintln!(
            "warm-up: #3 on every validator after {:.1} s",
            first.elapsed().as_secs_f64()
        );
        Run { net, monitor, trickle }
    }

    fn context(&self) -> String {
        let sim = self
            .net
            .sim
            .as_ref()
            .map(|s| format!("\nsimulated network: {:?}", s.stats()));
        format!(
            "{}\ntrickle: {} refused{}",
            self.net.describe(),
            self.trickle.refused(),
            sim.unwrap_or_default()
        )
    }

    /// Prints and checks finality over `[t0, t1]` (the attack: at most [`MAX_GAP`], or
    /// [`SIM_MAX_GAP`] in virtual time, without a block, at least one block) and `[t1, t2]`
    /// (after it: at least [`MIN_BLOCKS_AFTER`] blocks), that the transfers submitted during the attack were finalized, and that the
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
        let max_gap = if self.net.is_simulated() { SIM_MAX_GAP } else { MAX_GAP };
        assert_finality(&format!("during {attack}"), &during, max_gap, 1, &context);
        assert_finality(&format!("after {attack}"), &after, max_gap, MIN_BLOCKS_AFTER, &context);
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
/// second (made and signed before the clock starts); returns how many were sent and when the
/// flood started. In real time the pacing runs on a thread of its own, so that it does not
/// depend on the runtime the validators keep busy; in virtual time, on the runtime's clock.
async fn flood_junk_tx_sets(
    outsider: &Outsider,
    genesis: Hash,
    duration: Duration,
    rate: u64,
    virtual_time: bool,
) -> (u64, Instant) {
    let network = outsider.network.clone();
    let total = rate * duration.as_secs();
    let sets = tokio::task::spawn_blocking(move || {
        let (key, _) = Keypair::generate();
        let to = AccountId::from(Rng::new().pair().public().0);
        (0..total)
            .map(|n| junk_tx_set(genesis, &key, to, n))
            .collect::<Vec<Vec<u8>>>()
    })
    .await
    .unwrap();
    if virtual_time {
        let start = Instant::now();
        let mut sent = 0u64;
        for set in sets {
            tokio::time::sleep_until(start + Duration::from_secs_f64(sent as f64 / rate as f64)).await;
            network.publish(Topic::TxSets, set);
            sent += 1;
        }
        return (sent, start);
    }
    tokio::task::spawn_blocking(move || {
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
    honest_trickle_finalizes_without_long_gaps_on(Transport::Libp2p).await
}

/// The same on the simulated network, in virtual time.
#[tokio::test(start_paused = true)]
async fn honest_trickle_finalizes_without_long_gaps_simulated() {
    honest_trickle_finalizes_without_long_gaps_on(Transport::Simulated(SIM_SEED)).await
}

async fn honest_trickle_finalizes_without_long_gaps_on(transport: Transport) {
    let run = Run::start(transport).await;
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
    junk_tx_set_flood_does_not_halt_finality_on(Transport::Libp2p).await
}

/// The same on the simulated network, in virtual time.
#[tokio::test(start_paused = true)]
async fn junk_tx_set_flood_does_not_halt_finality_simulated() {
    junk_tx_set_flood_does_not_halt_finality_on(Transport::Simulated(SIM_SEED)).await
}

async fn junk_tx_set_flood_does_not_halt_finality_on(transport: Transport) {
    let run = Run::start(transport).await;
    let genesis = run.net.genesis;
    let mut rng = Rng::new();
    let outsider = run.net.outsider(rng.bytes32(), knows_nothing(genesis)).await;
    outsider.wait_for_mesh(4, Duration::from_secs(20)).await;

    let (sent, t0) = flood_junk_tx_sets(&outsider, genesis, ATTACK, FLOOD_RATE, run.net.is_simulated()).await;
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
    envelopes_from_outside_the_quorum_are_ignored_on(Transport::Libp2p).await
}

/// The same on the simulated network, in virtual time.
#[tokio::test(start_paused = true)]
async fn envelopes_from_outside_the_quorum_are_ignored_simulated() {
    envelopes_from_outside_the_quorum_are_ignored_on(Transport::Simulated(SIM_SEED)).await
}

async fn envelopes_from_outside_the_quorum_are_ignored_on(transport: Transport) {
    const KEYS: usize = 8;
    const VALUES_PER_ENVELOPE: usize = 100;
    const SLOTS_AHEAD: u64 = 3;
    const PERIOD: Duration = Duration::from_millis(500);

    let run = Run::start(transport).await;
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
    let outsider = run.net.outsider(rng.bytes32(), policy).await;
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
    a_peer_claiming_height_u64_max_does_not_stop_nomination_on(Transport::Libp2p).await
}

/// The same on the simulated network, in virtual time.
#[tokio::test(start_paused = true)]
async fn a_peer_claiming_height_u64_max_does_not_stop_nomination_simulated() {
    a_peer_claiming_height_u64_max_does_not_stop_nomination_on(Transport::Simulated(SIM_SEED)).await
}

async fn a_peer_claiming_height_u64_max_does_not_stop_nomination_on(transport: Transport) {
    let run = Run::start(transport).await;
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
    let outsider = run.net.outsider(rng.bytes32(), policy).await;
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
    let run = Run::start(Transport::Libp2p).await;
    let genesis = run.net.genesis;
    let mut rng = Rng::new();
    let t0 = Instant::now();
    let mut summaries = vec![];
    for _wave in 0..2 {
        let wave_start = Instant::now();
        let mut peers = vec![];
        for _ in 0..WAVE {
            peers.push(run.net.outsider(rng.bytes32(), knows_nothing(genesis)).await);
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
    validators_restarted_on_their_data_after_an_attack_resume_on(Transport::Libp2p).await
}

/// The same on the simulated network, in virtual time.
#[tokio::test(start_paused = true)]
async fn validators_restarted_on_their_data_after_an_attack_resume_simulated() {
    validators_restarted_on_their_data_after_an_attack_resume_on(Transport::Simulated(SIM_SEED)).await
}

async fn validators_restarted_on_their_data_after_an_attack_resume_on(transport: Transport) {
    /// Time from every validator running again to two new blocks on each (an honest restart
    /// takes 2-5 s: peers reconnect, the state exchange, a slot or two).
    const RESUME: Duration = Duration::from_secs(20);
    let Run {
        mut net,
        monitor,
        trickle,
    } = Run::start(transport).await;
    let genesis = net.genesis;
    let mut rng = Rng::new();
    let outsider = net.outsider(rng.bytes32(), knows_nothing(genesis)).await;
    outsider.wait_for_mesh(4, Duration::from_secs(20)).await;
    let (sent, t0) = flood_junk_tx_sets(&outsider, genesis, ATTACK, FLOOD_RATE, net.is_simulated()).await;
    let t1 = Instant::now();
    outsider.leave().await;
    let during = monitor.window(t0, t1);
    eprintln!(
        "flood: {sent} junk sets in {:.1} s; finality during it: {during:?}",
        (t1 - t0).as_secs_f64()
    );
    trickle.stop().await;
    monitor.stop().await;
    let before = net.heads();
    eprintln!("before the restart:\n{}", net.describe());
    net.stop_all().await;
    net.restart_all().await;
    let restarted = Instant::now();
    let trickle = net.trickle(TRICKLE);
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
    trickle.stop().await;
}

// ---------------------------------------------------------------------------------------------
// A validator that copies its rivals' sets
// ---------------------------------------------------------------------------------------------

/// The copying validator's values of one slot, each with the size of the honest set it
/// copied, and when it last sent its nomination.
type OwnValues = (Vec<(Vec<u8>, usize)>, Instant);

/// What the copying validator of
/// `a_validator_copying_rivals_sets_takes_no_more_than_its_share_of_blocks` knows and did.
#[derive(Default)]
struct Copier {
    /// Transaction sets gossiped, and its own, by hash, with when each arrived.
    sets: HashMap<Hash, (Instant, TxSet)>,
    /// Its own sets.
    own_sets: HashSet<Hash>,
    /// Per slot: every value an honest validator's nomination named.
    honest_values: BTreeMap<u64, BTreeSet<Vec<u8>>>,
    /// Per slot and honest validator: everything its nominations voted for and accepted.
    honest_nominations: BTreeMap<(u64, AccountId), Nominate>,
    /// Per slot: its values, each with the size of the honest set it copied, and when it last
    /// sent its nomination.
    own: BTreeMap<u64, OwnValues>,
}

impl Copier {
    fn on_gossip(&mut self, topic: Topic, data: &[u8]) {
        match topic {
            Topic::TxSets => {
                if let Ok(set) = wire::decode_tx_set(data) {
                    if self.sets.len() >= 4096 {
                        self.sets.retain(|h, _| self.own_sets.contains(h));
                    }
                    self.sets.entry(set.hash()).or_insert((Instant::now(), set));
                }
            }
            Topic::ScpEnvelopes => {
                let Ok(env) = wire::decode_envelope(data) else { return };
                let Statement::Nominate(n) = env.statement else { return };
                if !(0..3).any(|i| validator_account(i) == env.node) {
                    return;
                }
                let values = self.honest_values.entry(env.slot).or_default();
                values.extend(n.votes.iter().chain(&n.accepted).cloned());
                let held = self.honest_nominations.entry((env.slot, env.node)).or_default();
                held.votes.extend(n.votes);
                held.accepted.extend(n.accepted);
            }
            Topic::Transactions => {}
        }
    }

    /// Its nomination for `slot`, freshly signed: its values, voted for and accepted.
    fn nomination(&self, genesis: &Hash, slot: u64) -> Option<WattEnvelope> {
        let (values, _) = self.own.get(&slot)?;
        let values: BTreeSet<Vec<u8>> = values.iter().map(|(v, _)| v.clone()).collect();
        let st = Statement::Nominate(Nominate {
            votes: values.clone(),
            accepted: values,
        });
        Some(signed_envelope(&pair(3), genesis, slot, st))
    }
}

/// The copying validator's proposing loop, every 5 ms: on the head of the most advanced
/// honest chain (its view of the chain; it only reads it, as a node that syncs would), it
/// copies the largest honest set of the slot it has seen (named by an honest nomination of
/// the slot, or gossiped since the slot began: honest validators gossip their sets as they
/// nominate, when the slot begins), appends its own transaction and nominates the copy, 20 ms
/// into the slot or as soon as an honest nomination names a set; a larger honest set seen
/// later is copied too (at most three values a slot, each nomination containing the last).
async fn copy_rivals(
    copier: Arc<std::sync::Mutex<Copier>>,
    chains: Vec<Arc<watt_chain::Chain>>,
    network: watt_network::NetworkHandle,
    own_key: Keypair,
) {
    let genesis = chains[0].genesis_hash();
    let rogue = validator_account(3);
    let to = watt_chain::test_utils::keyring()[1].account();
    let (mut slot, mut began, mut nonce) = (0u64, Instant::now(), None);
    loop {
        tokio::time::sleep(Duration::from_millis(5)).await;
        let Some(chain) = chains.iter().max_by_key(|c| c.best().0) else {
            return;
        };
        let head = chain.best_header();
        let parent = head.hash();
        if head.number + 1 != slot {
            (slot, began) = (head.number + 1, Instant::now());
            // Its own transaction: the next nonce of its account on the head (its
            // transactions are in no pool, only in its sets).
            nonce = chain.next_nonce(&own_key.account()).ok();
        }
        let Some(nonce) = nonce else { continue };
        let mut c = copier.lock().unwrap();
        if let Some((_, sent)) = c.own.get(&slot) {
            // Said again now and then (gossip drops repeats; signatures differ).
            if sent.elapsed() >= Duration::from_millis(500) {
                if let Some(env) = c.nomination(&genesis, slot) {
                    network.publish(Topic::ScpEnvelopes, env.encode());
                }
                c.own.get_mut(&slot).unwrap().1 = Instant::now();
            }
        }
        let named: HashSet<Hash> = c
            .honest_values
            .get(&slot)
            .into_iter()
            .flatten()
            .filter_map(|v| wire::decode_value(v))
            .filter(|v| v.parent_hash == parent && v.proposer != rogue)
            .map(|v| v.tx_set_hash)
            .collect();
        if named.is_empty() && began.elapsed() < Duration::from_millis(20) {
            continue;
        }
        let Some(target) = c
            .sets
            .iter()
            .filter(|(h, (at, _))| {
                !c.own_sets.contains(*h) && (named.contains(*h) || *at + Duration::from_millis(50) >= began)
            })
            .map(|(_, (_, set))| set)
            .max_by_key(|s| (s.transactions.len(), s.hash()))
            .cloned()
        else {
            continue;
        };
        let copied = target.transactions.len();
        let mine = c.own.get(&slot).map_or(&[][..], |(vs, _)| &vs[..]);
        if mine.len() >= 3 || mine.iter().any(|(_, n)| *n >= copied) {
            continue;
        }
        let mut transactions = target.transactions;
        transactions.push(transfer(genesis, &own_key, to, 1, nonce, 0));
        let set = TxSet { transactions };
        let set_hash = set.hash();
        network.publish(Topic::TxSets, set.encode());
        let value = proposed_value(&pair(3), &genesis, slot, &parent, head.close_time, &set_hash).encode();
        c.own_sets.insert(set_hash);
        c.sets.insert(set_hash, (Instant::now(), set));
        c.own
            .entry(slot)
            .or_insert_with(|| (vec![], Instant::now()))
            .0
            .push((value, copied));
        c.own.get_mut(&slot).unwrap().1 = Instant::now();
        let env = c.nomination(&genesis, slot).unwrap();
        network.publish(Topic::ScpEnvelopes, env.encode());
    }
}

/// Issue 17 item 9: "a validator copies a rival's set plus one transaction and takes the
/// reward". Validator 3, in every validator's quorum set, is played by the test through a
/// libp2p node speaking the real protocol ([`copy_rivals`], a fully protocol-speaking rogue,
/// not the engine with its set source replaced): in every slot it nominates the largest honest
/// set it sees plus one transaction of its own (a transfer from its own funded account, the
/// same until it lands), with its own valid proposer proof (`watt_consensus::scp::proposer_proof`,
/// the engine's own prover), voting for and claiming to accept
/// nothing but its own values (it never helps an honest value). Three honest validators
/// finalize a steady trickle of transfers meanwhile, for [`COPIED_BLOCKS`] blocks.
///
/// What it checks: finality never stops longer than [`MAX_GAP`]; the copier's values are
/// valid and taken (all three honest validators voted for one in some slot: otherwise the
/// test would prove nothing); every block it authored carries its own transaction (its copy
/// won, not some other value); and it authored at most 60 % of the blocks.
///
/// Why about a quarter, and what the bound can and cannot catch. A validator votes only for
/// its round leaders' values (draft-mazieres-dinrg-scp §5), and since issue 17 item 11 every
/// validator picks the same leader for a round (a hash of slot, parent and round): the honest
/// validators confirm one candidate per slot, the round-1 leader's value, and the copy is a
/// candidate only where the copier leads. In a run where the leaders were recomputed, every
/// block went to its slot's first-round leader; over seven runs the copier won 5-12 of 30-40
/// blocks, and an eligible honest candidate beside the copy was seen in at most one slot a
/// run (the copier lost it): the proposer lottery of `combine` hardly ever decided. The leader
/// is each of the four validators with probability 1/4 by symmetry,
/// independently from slot to slot (the parent hash changes), so the copier's blocks are
/// Binomial(40, 1/4): P(more than 24 of 40) = 5.9e-7 (3.6e-4 even at p = 0.35), which is the
/// false-failure rate of the bound; P(it never leads, failing the "values taken" check) =
/// 0.75^40 = 1.0e-5. The bound fails if the copier wins slots it does not lead: if validators
/// echoed every valid value and the largest set won, the copy would be a candidate and win in
/// every slot. It cannot tell the lottery from "largest set wins" on its own, since with agreed
/// leaders a copy almost never meets a rival candidate; that rule is checked where candidates
/// meet, in node/consensus/src/scp/driver.rs (`a_copied_set_does_not_steal_the_slot_...`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_validator_copying_rivals_sets_takes_no_more_than_its_share_of_blocks() {
    const BLOCKS: u64 = COPIED_BLOCKS;
    let net = Testnet::start(3).await;
    let genesis = net.genesis;
    let chains = net.chains();
    let rogue = validator_account(3);

    // The copier's own account, funded, for its one transaction per set.
    let (own_key, _) = Keypair::generate();
    let keys = watt_chain::test_utils::keyring();
    let nonce = chains[0].next_nonce(&keys[0].account()).unwrap();
    let fund = chains[0]
        .submit(&watt_chain::test_utils::transfer_bytes(
            genesis,
            &keys[0],
            own_key.account(),
            1_000 * watt_primitives::UNIT,
            nonce,
        ))
        .unwrap();
    wait_for("the copier's account to be funded", Duration::from_secs(45), || {
        chains.iter().all(|c| c.receipt(&fund).unwrap().is_some())
    })
    .await;

    let copier = Arc::new(std::sync::Mutex::new(Copier::default()));
    let policy: Policy = {
        let copier = copier.clone();
        let honest = knows_nothing(genesis);
        let qset_hash = quorum_set_hash(&qset(4));
        Arc::new(move |r: &Request| match r {
            Request::TxSet(h) => Some(Response::TxSet(
                copier.lock().unwrap().sets.get(h).map(|(_, s)| s.clone()),
            )),
            Request::QuorumSet(h) if *h == qset_hash => Some(Response::QuorumSet(Some(qset(4)))),
            Request::ScpState(from) => {
                let c = copier.lock().unwrap();
                Some(Response::ScpState(
                    c.own
                        .range(*from..)
                        .filter_map(|(slot, _)| c.nomination(&genesis, *slot))
                        .collect(),
                ))
            }
            _ => honest(r),
        })
    };
    let on_gossip: OnGossip = {
        let copier = copier.clone();
        // (A poisoned lock only means the test already failed.)
        Box::new(move |_net, topic, _from, data| {
            copier.lock().unwrap_or_else(|e| e.into_inner()).on_gossip(topic, data)
        })
    };
    let peer = Peer::start(
        watt_network::NetworkConfig {
            secret_seed: seed(3),
            listen: vec!["/ip4/127.0.0.1/tcp/0".parse().unwrap()],
            bootnodes: net.bootnodes(),
            genesis_hash: genesis,
            discovery: false,
            ..watt_network::NetworkConfig::default()
        },
        policy,
        on_gossip,
    )
    .await;
    peer.wait_for_mesh(3, Duration::from_secs(20)).await;
    let own_account = own_key.account();
    let proposer = tokio::spawn(copy_rivals(
        copier.clone(),
        chains.clone(),
        peer.network.clone(),
        own_key,
    ));

    let monitor = net.monitor();
    let trickle = net.trickle(TRICKLE);
    let from = chains.iter().map(|c| c.best().0).max().unwrap() + 1;
    let t0 = Instant::now();
    let target = from + BLOCKS - 1;
    while !chains.iter().all(|c| c.best().0 >= target) {
        assert!(
            t0.elapsed() < Duration::from_secs(75),
            "{BLOCKS} blocks were not finalized within 75 s: heads {:?}\n{}",
            net.heads(),
            net.describe()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let t1 = Instant::now();
    proposer.abort();
    trickle.stop().await;
    let finality = monitor.window(t0, t1);
    monitor.stop().await;
    net.assert_agreement();

    // Per block: who authored it, and what nomination made of the copier's values.
    let (won, taken, summary) = {
        let c = copier.lock().unwrap();
        let mut rows = vec![];
        let (mut won, mut taken, mut candidate, mut contested, mut contested_won) = (0, 0, 0, 0, 0);
        for n in from..=target {
            let header = chains[0]
                .header(&chains[0].hash_at(n).unwrap().unwrap())
                .unwrap()
                .unwrap();
            let author = (0..4)
                .find(|i| validator_account(*i) == header.author)
                .expect("a validator authored it");
            let size = |h: &Hash| c.sets.get(h).map(|(_, s)| s.transactions.len());
            let held = |i: usize| c.honest_nominations.get(&(n, validator_account(i)));
            let accepted_by = |v: &Vec<u8>| {
                (0..3)
                    .filter(|i| held(*i).is_some_and(|nom| nom.accepted.contains(v)))
                    .count()
            };
            let voted_by = |v: &Vec<u8>| {
                (0..3)
                    .filter(|i| held(*i).is_some_and(|nom| nom.votes.contains(v)))
                    .count()
            };
            let own: Vec<(usize, usize, usize)> = c
                .own
                .get(&n)
                .map(|(vs, _)| {
                    vs.iter()
                        .map(|(v, copied)| (*copied + 1, voted_by(v), accepted_by(v)))
                        .collect()
                })
                .unwrap_or_default();
            // Honest values all three honest validators accepted: confirmed candidates (the copier
            // never accepts them, so only the honest validators can confirm them).
            let honest_candidates: Vec<usize> = c
                .honest_values
                .get(&n)
                .into_iter()
                .flatten()
                .filter(|v| accepted_by(v) == 3)
                .filter_map(|v| wire::decode_value(v))
                .filter(|v| v.proposer != rogue)
                .map(|v| size(&v.tx_set_hash).unwrap_or(0))
                .collect();
            let own_candidate = own
                .iter()
                .filter(|(_, _, acc)| *acc >= 2)
                .map(|(size, _, _)| *size)
                .max();
            let is_contested = own_candidate.is_some_and(|size| honest_candidates.iter().any(|s| 2 * s >= size));
            if author == 3 {
                let block = chains[0].block(&header.hash()).unwrap().unwrap();
                assert_eq!(
                    block.transactions.iter().filter(|t| t.tx.signer == own_account).count(),
                    1,
                    "block #{n}, authored by the copier, carries its own transaction"
                );
            }
            taken += own.iter().any(|(_, voted, _)| *voted == 3) as u32;
            won += (author == 3) as u32;
            candidate += own_candidate.is_some() as u32;
            contested += is_contested as u32;
            contested_won += (is_contested && author == 3) as u32;
            rows.push(format!(
                "#{n}: author {author} ({} txs); copier's values (size, voted by, accepted by honest): {own:?}; \
             honest candidates' sizes {honest_candidates:?}",
                chains[0]
                    .block(&header.hash())
                    .unwrap()
                    .map_or(0, |b| b.transactions.len()),
            ));
        }
        let summary = format!(
            "{}\nthe copier authored {won} of {BLOCKS} blocks; its value was a candidate in {candidate}, contested by \
         an eligible honest candidate in {contested}, of which it won {contested_won}; finality: {finality:?}",
            rows.join("\n")
        );
        (won, taken, summary)
    };
    eprintln!("{summary}");
    assert_finality("while validator 3 copies", &finality, MAX_GAP, 1, &summary);
    assert!(
        taken > 0,
        "the honest validators never voted for a value of the copier: its values were refused, and the test \
         proves nothing\n{summary}"
    );
    assert!(
        u64::from(won) * 5 <= BLOCKS * 3,
        "the copier authored {won} of {BLOCKS} blocks (at most 60 % expected, see the doc comment)\n{summary}"
    );
    peer.leave().await;
}
