use super::*;
use watt_chain::test_utils::{keyring, open_dev_chain, transfer_bytes};
use watt_chain::ChainEvent;
use watt_primitives::UNIT;

fn spawn(chain: Arc<watt_chain::Chain>, seal_interval: Option<Duration>) -> tokio::sync::oneshot::Sender<()> {
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let engine = Box::new(DevEngine::new(chain, DevEngineConfig { seal_interval }));
    tokio::spawn(engine.run(Box::pin(async move {
        let _ = stopped.await;
    })));
    stop
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seals_as_soon_as_transactions_wait_and_finalizes() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    let mut events = chain.subscribe();
    let _stop = spawn(chain.clone(), None);
    let keys = keyring();
    let hash = chain
        .submit(&transfer_bytes(
            chain.genesis_hash(),
            &keys[0],
            keys[1].account(),
            UNIT,
            0,
        ))
        .unwrap();
    let block = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            if let Ok(ChainEvent::Block(b)) = events.recv().await {
                return b;
            }
        }
    })
    .await
    .expect("a block within 10 s");
    assert_eq!(block.tx_hashes, vec![hash]);
    assert!(block.finalized);
    assert_eq!(chain.finalized().unwrap().1, block.hash);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_transactions_only_the_interval_seals() {
    let dir = tempfile::tempdir().unwrap();
    let idle = open_dev_chain(dir.path());
    let _stop = spawn(idle.clone(), None);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(idle.best().0, 0, "no transactions, no interval: no blocks");

    let dir2 = tempfile::tempdir().unwrap();
    let ticking = open_dev_chain(dir2.path());
    let stop = spawn(ticking.clone(), Some(Duration::from_millis(50)));
    tokio::time::sleep(Duration::from_millis(600)).await;
    let n = ticking.best().0;
    assert!(n >= 3, "expected several empty blocks, got {n}");
    stop.send(()).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after_stop = ticking.best().0;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(ticking.best().0, after_stop, "engine stopped on shutdown");
}
