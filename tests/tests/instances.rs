//! A node with very few runtime instances under many concurrent submissions: every submission
//! waits for an instance and is accepted (none fails with "maximum concurrent limit ... reached"),
//! queries in flight at the same time are answered, and blocks keep coming.

use std::time::Duration;
use watt_client::rpc::WaitFor;
use watt_client::{dev_accounts, sign, transfer_call, Keypair, WattRpc};
use watt_e2e::NodeProcess;
use watt_primitives::UNIT;

/// Submissions in flight at once; the node runs 3 instances, one of them for ordinary calls.
const IN_FLIGHT: usize = 96;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn more_submissions_in_flight_than_runtime_instances_all_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let node = NodeProcess::start(
        dir.path(),
        // Enough connections for every request at once: this test is about runtime instances.
        &["--runtime-instances", "3", "--rpc-max-connections", "1000"],
    );
    let rpc = WattRpc::new(&node.url()).unwrap();
    let genesis = rpc.genesis_hash().await.unwrap();
    let funders: Vec<Keypair> = dev_accounts().into_iter().map(|(_, k)| k).collect();
    let senders: Vec<Keypair> = (0..IN_FLIGHT)
        .map(|i| Keypair::from_suri(&format!("//load/{i}")).unwrap())
        .collect();

    // Fund every sender (16 per dev account, consecutive nonces from each).
    let mut funding = Vec::new();
    for (i, s) in senders.iter().enumerate() {
        let from = &funders[i % funders.len()];
        let nonce = (i / funders.len()) as u64;
        let tx = sign(from, nonce, 0, genesis, &transfer_call(s.account(), 10 * UNIT, false));
        funding.push(
            rpc.submit(&tx)
                .await
                .unwrap_or_else(|e| node.fail(&format!("funding: {e}"))),
        );
    }
    for h in &funding {
        rpc.wait(h, WaitFor::Finalized, Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| node.fail(&format!("funding not finalized: {e}")));
    }

    // All senders at once, each also asking for its account while submitting.
    let bob = funders[1].account();
    let tasks: Vec<_> = senders
        .iter()
        .map(|s| {
            let (rpc, s) = (rpc.clone(), s.clone());
            tokio::spawn(async move {
                let tx = sign(&s, 0, 0, genesis, &transfer_call(bob, UNIT, false));
                let who = s.account();
                let (submitted, account) = tokio::join!(rpc.submit(&tx), rpc.account(&who));
                (submitted, account.map(|a| a.free))
            })
        })
        .collect();
    let mut hashes = Vec::new();
    for t in tasks {
        let (submitted, free) = t.await.unwrap();
        match submitted {
            Ok(h) => hashes.push(h),
            Err(e) => node.fail(&format!("a submission failed under load: {e}")),
        }
        if let Err(e) = free {
            node.fail(&format!("a query failed under load: {e}"));
        }
    }
    assert_eq!(hashes.len(), IN_FLIGHT);
    for h in &hashes {
        let r = rpc
            .wait(h, WaitFor::Finalized, Duration::from_secs(60))
            .await
            .unwrap_or_else(|e| node.fail(&format!("not finalized: {e}")));
        assert!(r.success, "transfer failed: {r:?}");
    }
    assert!(
        !node.log_text().contains("maximum concurrent"),
        "the node ran out of runtime instances"
    );
}
