//! Four SCP validators in one process, each with its own chain (rocksdb in a temp dir) and its
//! own libp2p network on loopback: they agree block by block, certify every block, keep
//! finalizing with one of them stopped, and a late node catches up by sync.

use parity_scale_codec::Decode;
use sp_core::{sr25519, Pair};
use std::sync::Arc;
use std::time::{Duration, Instant};
use watt_chain::test_utils::{keyring, open_dev_chain, transfer_bytes};
use watt_chain::Chain;
use watt_consensus::scp::{envelope_signature_ok, quorum_set_hash};
use watt_consensus::{ConsensusEngine, ScpEngine, ScpEngineConfig};
use watt_network::{Multiaddr, NetworkConfig};
use watt_primitives::{AccountId, ConsensusValue, UNIT};
use watt_scp::certificate::{verify_certificate, Certificate};
use watt_scp::QuorumSet;

struct Node {
    chain: Arc<Chain>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    _dir: tempfile::TempDir,
}

fn seed(i: usize) -> [u8; 32] {
    [i as u8 + 1; 32]
}

fn pair(i: usize) -> sr25519::Pair {
    sr25519::Pair::from_seed(&[i as u8 + 100; 32])
}

fn qset(n: usize) -> QuorumSet<AccountId> {
    let ids = (0..n).map(|i| AccountId::from(pair(i).public().0)).collect();
    QuorumSet::flat(3, ids)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn start(i: usize, ports: &[u16], validator: bool) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let bootnodes: Vec<Multiaddr> = ports
        .iter()
        .enumerate()
        .filter(|(j, _)| *j != i)
        .map(|(j, p)| {
            format!("/ip4/127.0.0.1/tcp/{p}/p2p/{}", watt_network::peer_id_from_seed(&seed(j)))
                .parse()
                .unwrap()
        })
        .collect();
    let config = NetworkConfig {
        secret_seed: seed(i),
        listen: vec![format!("/ip4/127.0.0.1/tcp/{}", ports[i]).parse().unwrap()],
        bootnodes,
        genesis_hash: chain.genesis_hash(),
        ..NetworkConfig::default()
    };
    let (handle, events) = watt_network::start(config).await.unwrap();
    let engine_config = ScpEngineConfig {
        empty_block_interval: Duration::from_secs(2),
        ..ScpEngineConfig::new(validator.then(|| pair(i)), qset(4))
    };
    let engine = Box::new(ScpEngine::new(chain.clone(), handle, events, engine_config));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(engine.run(Box::pin(async move {
        let _ = stopped.await;
    })));
    Node {
        chain,
        stop: Some(stop),
        _dir: dir,
    }
}

async fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn check_certificate(chain: &Chain, number: u64) {
    let bytes = chain.justification(number).unwrap().expect("a certificate is stored");
    let cert = Certificate::<AccountId>::decode(&mut &bytes[..]).unwrap();
    let header = chain.header(&chain.hash_at(number).unwrap().unwrap()).unwrap().unwrap();
    let value = ConsensusValue::decode(&mut &cert.value[..]).unwrap();
    assert!(value.matches(&header), "the certificate names block #{number}");
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
    let _ = nodes[3].stop.take().unwrap().send(());
    let tx2 = transfer_bytes(genesis, &keys[0], keys[1].account(), 7 * UNIT, 1);
    let tx2_hash = nodes[1].chain.submit(&tx2).unwrap();
    wait_for("finality with one validator stopped", Duration::from_secs(60), || {
        nodes[..3].iter().all(|n| n.chain.receipt(&tx2_hash).unwrap().is_some())
    })
    .await;

    // A follower that starts late catches up through block sync, checking certificates.
    let target = nodes[0].chain.best().0;
    let follower = start(4, &ports, false).await;
    wait_for("the follower to sync", Duration::from_secs(60), || follower.chain.best().0 >= target).await;
    assert_eq!(follower.chain.hash_at(target).unwrap(), nodes[0].chain.hash_at(target).unwrap());
    check_certificate(&follower.chain, target);
}
