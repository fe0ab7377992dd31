//! Block size limits are chain parameters (issue 17, item 8): the chain spec's
//! `maxBlockTransactions` and `maxBlockBytes` decide whether a proposed set or a block is valid,
//! the same on every node; a node's own caps (`ChainConfig::max_block_txs` / `max_block_bytes`,
//! the `--max-block-txs` flag) only bound what it proposes and builds.

use parity_scale_codec::Encode;
use std::path::Path;
use std::sync::Arc;
use watt_chain::test_utils::{dev_spec, keyring, transfer, value_on_head};
use watt_chain::{Chain, ChainConfig, ChainError, ChainSpec};
use watt_primitives::abi::TxSetError;
use watt_primitives::{Block, ConsensusValue, Hash, Header, SignedTransaction, TxSet, UNIT};

/// The dev spec with a chain limit of `max_txs` transactions per block.
fn spec_with_max_txs(max_txs: u32) -> ChainSpec {
    let mut spec = dev_spec();
    spec.genesis.params.max_block_transactions = max_txs;
    spec
}

/// Opens `spec` in `path` with the node's own caps `local_txs` and `local_bytes`.
fn open(path: &Path, spec: &ChainSpec, local_txs: usize, local_bytes: usize) -> Arc<Chain> {
    let config = ChainConfig {
        max_block_txs: local_txs,
        max_block_bytes: local_bytes,
        ..ChainConfig::default()
    };
    Chain::open(path, spec, config).expect("chain opens")
}

/// `n` transfers from //Alice to //Bob on the chain of `genesis`, nonces 0.. in order.
fn transfers_on(genesis: Hash, n: u64) -> Vec<SignedTransaction> {
    let keys = keyring();
    (0..n)
        .map(|nonce| transfer(genesis, &keys[0], keys[1].account(), UNIT, nonce, 0))
        .collect()
}

/// `n` transfers from //Alice to //Bob on `chain`, nonces 0.. in order.
fn transfers(chain: &Chain, n: u64) -> Vec<SignedTransaction> {
    transfers_on(chain.genesis_hash(), n)
}

fn verdict(chain: &Chain, txs: &[SignedTransaction]) -> Result<(), TxSetError> {
    let set = TxSet {
        transactions: txs.to_vec(),
    };
    chain
        .validate_tx_set(&chain.best().1, &set)
        .expect("the node can judge the set")
}

fn encoded_len(txs: &[SignedTransaction]) -> u64 {
    txs.iter().map(|t| t.encode().len() as u64).sum()
}

/// Two validators of one chain whose operators chose very different caps judge every set
/// alike, by the chain's `maxBlockTransactions` alone: the node capped at one transaction
/// accepts a set of three, the node capped at a hundred refuses a set of four.
#[test]
fn the_chains_transaction_limit_decides_set_validity_whatever_the_local_caps() {
    let spec = spec_with_max_txs(3);
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(dir_a.path(), &spec, 1, 100);
    let b = open(dir_b.path(), &spec, 100, 64 << 20);
    assert_eq!(a.genesis_hash(), b.genesis_hash(), "one chain");
    assert_eq!(a.chain_params().unwrap().max_block_transactions, 3);
    let txs = transfers(&a, 4);
    for chain in [&a, &b] {
        assert_eq!(verdict(chain, &txs[..3]), Ok(()), "within the chain's limit");
        assert_eq!(
            verdict(chain, &txs),
            Err(TxSetError::TooManyTransactions { count: 4, max: 3 }),
            "over the chain's limit"
        );
    }
}

/// The same for the chain's `maxBlockBytes`: a limit between the size of two transfers and
/// three decides, not the node's byte cap.
#[test]
fn the_chains_byte_limit_decides_set_validity_whatever_the_local_caps() {
    // A transfer's size does not depend on the genesis it names (a fixed-size hash).
    let sized = transfers_on([0; 32], 3);
    let max = u32::try_from(encoded_len(&sized[..2]) + encoded_len(&sized[2..]) / 2).unwrap();

    let mut spec = dev_spec();
    spec.genesis.params.max_block_bytes = max;
    // The spec refuses a transaction length no block could hold.
    spec.genesis.params.max_tx_len = max;
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = open(dir_a.path(), &spec, 20_000, 1);
    let b = open(dir_b.path(), &spec, 20_000, 64 << 20);
    let txs = transfers(&a, 3);
    let three = encoded_len(&txs);
    assert_eq!(three, encoded_len(&sized));
    for chain in [&a, &b] {
        assert_eq!(verdict(chain, &txs[..2]), Ok(()), "two transfers fit");
        assert_eq!(
            verdict(chain, &txs),
            Err(TxSetError::TooLarge { bytes: three, max }),
            "three do not"
        );
    }
}

/// A node builds and proposes at most its own cap when that is below the chain's limit, and at
/// most the chain's limit when its own cap is above it: its blocks are never refused for size.
#[test]
fn a_node_proposes_and_builds_within_its_own_cap_and_the_chains_limit() {
    let spec = spec_with_max_txs(3);
    for (local, expected) in [(2, 2), (100, 3)] {
        let dir = tempfile::tempdir().unwrap();
        let chain = open(dir.path(), &spec, local, 8 << 20);
        for tx in transfers(&chain, 5) {
            chain.submit(&tx.encode()).unwrap();
        }
        assert_eq!(
            chain.proposal_limits().unwrap(),
            (expected, 8 << 20),
            "local cap {local}"
        );
        let candidate = chain.candidate_tx_set().unwrap();
        assert_eq!(candidate.transactions.len(), expected, "proposal, local cap {local}");
        let close_time = chain.best_header().close_time + 1_000;
        let block = chain.produce_block(close_time, true, false).unwrap().unwrap();
        assert_eq!(block.tx_hashes.len(), expected, "block, local cap {local}");
        assert_eq!(chain.pool_size().0, 5 - expected, "the rest waits");
    }
}

/// The node's byte cap bounds what it builds too: room for two transfers, two are taken.
#[test]
fn a_node_builds_within_its_own_byte_cap() {
    let dir = tempfile::tempdir().unwrap();
    let two = encoded_len(&transfers_on([0; 32], 2)) as usize;
    let chain = open(dir.path(), &dev_spec(), 20_000, two);
    for tx in transfers(&chain, 4) {
        chain.submit(&tx.encode()).unwrap();
    }
    let close_time = chain.best_header().close_time + 1_000;
    let block = chain.produce_block(close_time, true, false).unwrap().unwrap();
    assert_eq!(block.tx_hashes.len(), 2);
}

/// A block of more transactions than the chain allows, imported from a peer or applied as an
/// agreed value, is refused whole by every node, whatever its own cap, and nothing is written.
#[test]
fn a_block_over_the_chains_limit_is_refused_on_import_and_when_agreed() {
    let spec = spec_with_max_txs(3);
    for local in [1, 100] {
        let dir = tempfile::tempdir().unwrap();
        let chain = open(dir.path(), &spec, local, 8 << 20);
        let (number, head) = chain.best();
        let parent = chain.best_header();
        let txs = transfers(&chain, 4);

        // The refusal comes before execution, so the header's roots do not matter.
        let block = Block {
            header: Header {
                parent_hash: head,
                number: number + 1,
                state_root: [0; 32],
                tx_root: [0; 32],
                receipts_root: [0; 32],
                events_root: [0; 32],
                close_time: parent.close_time + 1_000,
                author: keyring()[1].account(),
            },
            transactions: txs.clone(),
        };
        match chain.import_block(block, true, None) {
            Err(ChainError::InvalidBlock(m)) => {
                assert!(m.contains("4 transactions, the limit is 3"), "{m}")
            }
            other => panic!("local cap {local}: expected the block refused, got {other:?}"),
        }
        assert_eq!(chain.best(), (number, head), "nothing written");

        let set = TxSet { transactions: txs };
        // On the head the refused block named: the refusal wrote nothing.
        let value = value_on_head(&chain, &set, 1_000, keyring()[1].account());
        assert_eq!((value.parent_hash, value.close_time), (head, parent.close_time + 1_000));
        match chain.apply_agreed(&value, &set, None) {
            Err(ChainError::InvalidBlock(m)) => {
                assert!(m.contains("4 transactions, the limit is 3"), "{m}")
            }
            other => panic!("local cap {local}: expected the value refused, got {other:?}"),
        }
        assert_eq!(chain.best(), (number, head), "nothing written");

        // Within the limit, the same path applies it.
        let set = TxSet {
            transactions: transfers(&chain, 3),
        };
        let value = ConsensusValue {
            tx_set_hash: set.hash(),
            ..value
        };
        let imported = chain.apply_agreed(&value, &set, None).unwrap();
        assert_eq!(imported.tx_hashes.len(), 3);
    }
}
