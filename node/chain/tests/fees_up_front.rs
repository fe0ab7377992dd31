//! Every fee of a block is charged before any call runs (issue 17 item 4; `watt_runtime::api::
//! apply_block`): a transaction whose sender an earlier call drained still pays its fee and
//! uses its nonce, and fails, instead of being skipped for free. Through the wasm runtime as a
//! node runs it (an agreed set, a block built by the dev producer, the import of either on
//! another node) and natively, to the same state roots.
//!
//! Expected fees come from the documented rule (README "Chain rules in brief"): 0.01 WATT +
//! 0.00001 WATT per byte of the encoded transaction + 100 units per unit of the call's weight +
//! tip, written out here rather than asked of the runtime.
//!
//! The drain scenarios run on the dev spec with an existential deposit of 1 WATT, more than
//! the later transactions' fees together: applied one transaction at a time (spec version 3),
//! the drain left the fees of the later ones behind, less than the deposit, so it reaped the
//! sender and the later ones were skipped for nothing; with fees first, they pay and fail.

use parity_scale_codec::Encode;
use std::path::Path;
use std::sync::Arc;
use watt_chain::test_utils::{commit_native, dev_spec, keyring, open_dev_chain, transfer, value_on_head};
use watt_chain::{Chain, ChainConfig, ChainSpec};
use watt_client::Keypair;
use watt_executor::{MemoryBackend, StateSession};
use watt_primitives::abi::{ApplyBlockInput, ApplyResult, ChainContext, Query, QueryResult};
use watt_primitives::{
    fee_pool_account, AccountId, Balance, Block, DispatchError, Receipt, SignedTransaction, TxOutcome, TxSet, UNIT,
};
use watt_store::Store;

const BASE_FEE: Balance = UNIT / 100;
const BYTE_FEE: Balance = UNIT / 100_000;
const WEIGHT_FEE: Balance = 100;
/// `pallet_balances::TRANSFER_WEIGHT`, as the README's fee example assumes.
const TRANSFER_WEIGHT: Balance = 200_000;

/// The fee of a transfer by the documented rule.
fn documented_fee(stx: &SignedTransaction) -> Balance {
    BASE_FEE + BYTE_FEE * stx.encode().len() as Balance + WEIGHT_FEE * TRANSFER_WEIGHT + stx.tx.tip
}

fn account(chain: &Chain, who: &AccountId) -> (Balance, u64) {
    match chain.query(&Query::Account(*who)).unwrap() {
        QueryResult::Account(a) => (a.free, a.nonce),
        other => panic!("unexpected {other:?}"),
    }
}

/// The dev chain's fee parameters are the ones this file's rule assumes.
fn assert_dev_fee_params(chain: &Chain) {
    match chain.query(&Query::Params).unwrap() {
        QueryResult::Params(p) => assert_eq!((p.base_fee, p.byte_fee, p.weight_fee), (BASE_FEE, BYTE_FEE, WEIGHT_FEE)),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(
        watt_runtime::pallet_balances::TRANSFER_WEIGHT as Balance,
        TRANSFER_WEIGHT
    );
}

/// The existential deposit of [`spec`].
const DEPOSIT: Balance = UNIT;

/// The dev spec with an existential deposit of [`DEPOSIT`].
fn spec() -> ChainSpec {
    let mut spec = dev_spec();
    spec.genesis.params.existential_deposit = DEPOSIT.to_string();
    spec
}

fn open(path: &Path) -> Arc<Chain> {
    Chain::open(path, &spec(), ChainConfig::default()).expect("chain opens")
}

/// An account no key controls, fresh on the dev chain.
fn sink() -> AccountId {
    AccountId([0x5a; 32])
}

/// Charlie's transactions: a transfer of everything the set's fees leave (to the sink, with a
/// tip), then three transfers of 1 WATT, each payable from the parent state; and Dave's
/// transfer of 2 WATT between them. Returns the set, the drained amount and every fee.
struct Scenario {
    set: TxSet,
    drained: Balance,
    fees: Vec<Balance>,
    charlie: AccountId,
    dave: AccountId,
    charlie_start: Balance,
    dave_start: Balance,
}

fn scenario(chain: &Chain) -> Scenario {
    let keys = keyring();
    let (charlie, dave) = (&keys[2], &keys[3]);
    let g = chain.genesis_hash();
    let charlie_start = account(chain, &charlie.account()).0;
    let dave_start = account(chain, &dave.account()).0;
    let later: Vec<SignedTransaction> = [(1, 0), (2, UNIT / 1_000), (3, 0)]
        .iter()
        .map(|&(nonce, tip)| transfer(g, charlie, sink(), UNIT, nonce, tip))
        .collect();
    let later_fees: Vec<Balance> = later.iter().map(documented_fee).collect();
    assert!(
        later_fees.iter().sum::<Balance>() < DEPOSIT,
        "one transaction at a time, the drain would reap Charlie"
    );
    let (drain, drained, drain_fee) = drain(chain, charlie, charlie_start, later_fees.iter().sum());
    let dave_tx = transfer(g, dave, sink(), 2 * UNIT, 0, 0);
    let dave_fee = documented_fee(&dave_tx);
    Scenario {
        set: TxSet {
            transactions: vec![drain, later[0].clone(), dave_tx, later[1].clone(), later[2].clone()],
        },
        drained,
        fees: vec![drain_fee, later_fees[0], dave_fee, later_fees[1], later_fees[2]],
        charlie: charlie.account(),
        dave: dave.account(),
        charlie_start,
        dave_start,
    }
}

/// Charlie's nonce-0 transfer (tip 0.0005 WATT) of whatever leaves nothing once it and
/// `other_fees` are paid from `free`. The amount changes the encoded length, hence the fee:
/// settled by iterating.
fn drain(chain: &Chain, from: &Keypair, free: Balance, other_fees: Balance) -> (SignedTransaction, Balance, Balance) {
    let tip = UNIT / 2_000;
    let mut amount = free - other_fees;
    for _ in 0..4 {
        let stx = transfer(chain.genesis_hash(), from, sink(), amount, 0, tip);
        let fee = documented_fee(&stx);
        if amount == free - other_fees - fee {
            return (stx, amount, fee);
        }
        amount = free - other_fees - fee;
    }
    panic!("drain amount did not settle");
}

fn insufficient_balance() -> TxOutcome {
    TxOutcome::Failed(DispatchError {
        module: "balances".into(),
        error: "InsufficientBalance".into(),
    })
}

/// The block's receipts, in block order, from the chain's store.
fn stored_receipts(chain: &Chain, block: &Block) -> Vec<Receipt> {
    block
        .transactions
        .iter()
        .map(|t| chain.receipt(&t.hash()).unwrap().expect("a receipt per transaction"))
        .collect()
}

/// What the scenario must leave, whichever path applied it: every transaction in the block,
/// charged its documented fee; Charlie's drain succeeded and his later transfers failed; none
/// skipped; balances, nonces and the fee pool as computed by hand.
fn assert_outcome(chain: &Chain, s: &Scenario, block: &Block, pool_before: Balance) {
    let hashes: Vec<_> = s.set.transactions.iter().map(SignedTransaction::hash).collect();
    assert_eq!(
        block
            .transactions
            .iter()
            .map(SignedTransaction::hash)
            .collect::<Vec<_>>(),
        hashes,
        "the whole set, in order"
    );
    let receipts = stored_receipts(chain, block);
    let outcomes: Vec<TxOutcome> = receipts.iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        vec![
            TxOutcome::Success,
            insufficient_balance(),
            TxOutcome::Success,
            insufficient_balance(),
            insufficient_balance(),
        ]
    );
    assert!(!receipts.iter().any(|r| matches!(r.outcome, TxOutcome::Skipped(_))));
    assert_eq!(receipts.iter().map(|r| r.fee_paid).collect::<Vec<_>>(), s.fees);
    let total: Balance = s.fees.iter().sum();
    let dave_fee = s.fees[2];
    let charlie_fees = total - dave_fee;
    assert_eq!(
        s.charlie_start,
        s.drained + charlie_fees,
        "the drain moves all the fees leave"
    );
    assert_eq!(
        account(chain, &s.charlie),
        (0, 4),
        "Charlie: nothing left, four nonces used"
    );
    assert_eq!(account(chain, &s.dave), (s.dave_start - 2 * UNIT - dave_fee, 1));
    assert_eq!(account(chain, &sink()).0, s.drained + 2 * UNIT);
    assert_eq!(account(chain, &fee_pool_account()).0, pool_before + total);
}

/// The native runtime on its own store, at the dev genesis.
struct Native {
    state: MemoryBackend,
    store: Store,
    ctx: ChainContext,
    _dir: tempfile::TempDir,
}

impl Native {
    fn genesis(chain: &Chain, spec: &ChainSpec) -> Native {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let config = spec.genesis_config().unwrap();
        let session = StateSession::new(Arc::new(MemoryBackend::default()));
        let (session, ()) =
            watt_support::externalities::execute_with(session, || watt_runtime::api::build_genesis(config));
        let changes = session.into_changes().unwrap();
        let mut state = MemoryBackend::default();
        state.apply(&changes);
        let genesis = chain.header(&chain.genesis_hash()).unwrap().unwrap();
        assert_eq!(
            commit_native(&store, &genesis, &changes),
            genesis.state_root,
            "genesis roots agree"
        );
        Native {
            state,
            store,
            ctx: ChainContext {
                genesis_hash: chain.genesis_hash(),
            },
            _dir: dir,
        }
    }

    /// Applies `block` natively: its receipts and state root.
    fn apply(&mut self, block: &Block) -> (Vec<Receipt>, [u8; 32]) {
        let input = ApplyBlockInput {
            chain: self.ctx.clone(),
            number: block.header.number,
            parent_hash: block.header.parent_hash,
            close_time: block.header.close_time,
            author: block.header.author,
            transactions: block.transactions.clone(),
        };
        let session = StateSession::new(Arc::new(self.state.clone()));
        let (session, out) =
            watt_support::externalities::execute_with(session, || watt_runtime::api::apply_block(input));
        let changes = session.into_changes().unwrap();
        self.state.apply(&changes);
        let root = commit_native(&self.store, &block.header, &changes);
        let receipts = out
            .expect("a committed block is within the chain's size limits")
            .results
            .into_iter()
            .map(|r| match r {
                ApplyResult::Included(r) => r,
                ApplyResult::Invalid(e) => panic!("natively invalid: {e}"),
            })
            .collect();
        (receipts, root)
    }
}

/// An agreed set (SCP's path, through the wasm runtime) whose first transaction drains its
/// sender: his three later transactions each pay their fee and use their nonce, and fail; the
/// native runtime computes the same receipts and state root; another node importing the block
/// with its certificate gets the same block.
#[test]
fn an_agreed_set_charges_every_fee_up_front_the_same_through_wasm_native_and_import() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path());
    assert_dev_fee_params(&chain);
    let s = scenario(&chain);
    let head = chain.best_header();
    assert_eq!(
        chain.validate_tx_set(&head.hash(), &s.set).unwrap(),
        Ok(()),
        "every fee payable from the parent state"
    );
    let pool_before = account(&chain, &fee_pool_account()).0;
    let value = value_on_head(&chain, &s.set, 1_000, keyring()[1].account());
    let imported = chain
        .apply_agreed(&value, &s.set, Some(b"certificate".to_vec()))
        .unwrap();
    let block = chain.block(&imported.hash).unwrap().unwrap();
    assert_outcome(&chain, &s, &block, pool_before);

    let mut native = Native::genesis(&chain, &spec());
    let (receipts, root) = native.apply(&block);
    assert_eq!(
        root, block.header.state_root,
        "native and wasm reach the same state root"
    );
    assert_eq!(receipts, stored_receipts(&chain, &block), "and the same receipts");

    let other_dir = tempfile::tempdir().unwrap();
    let other = open(other_dir.path());
    let again = other.import_block(block.clone(), true, Some(b"certificate")).unwrap();
    assert_eq!(again.hash, imported.hash);
    assert_outcome(&other, &s, &block, pool_before);
    assert_eq!(other.events(1).unwrap(), chain.events(1).unwrap(), "the same events");
}

/// The dev producer builds from its pool with the same rule: the pool admitted Charlie's later
/// transactions (their fees were payable), so the block holds them, failed with their fees
/// paid, rather than dropping them; a follower importing the block agrees, and so does the
/// native runtime.
#[test]
fn the_dev_producer_keeps_a_drained_senders_later_transactions_as_failed_ones() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open(dir.path());
    let s = scenario(&chain);
    for t in &s.set.transactions {
        chain.submit(&t.encode()).unwrap();
    }
    let pool_before = account(&chain, &fee_pool_account()).0;
    let produced = chain.produce_block(1_000, true, false).unwrap().unwrap();
    let block = chain.block(&produced.hash).unwrap().unwrap();
    // The pool orders by its own rules; the scenario's order within each sender is kept.
    let mut in_block = block.transactions.clone();
    let mut expected = s.set.transactions.clone();
    in_block.sort_by_key(|t| (t.tx.signer, t.tx.nonce));
    expected.sort_by_key(|t| (t.tx.signer, t.tx.nonce));
    assert_eq!(in_block, expected, "nothing dropped");
    let receipts = stored_receipts(&chain, &block);
    for (t, r) in block.transactions.iter().zip(&receipts) {
        let expected_outcome = if t.tx.signer == s.charlie && t.tx.nonce > 0 {
            insufficient_balance()
        } else {
            TxOutcome::Success
        };
        assert_eq!(r.outcome, expected_outcome, "nonce {} of {:?}", t.tx.nonce, t.tx.signer);
        assert_eq!(r.fee_paid, documented_fee(t));
    }
    assert_eq!(account(&chain, &s.charlie), (0, 4));
    assert_eq!(
        account(&chain, &fee_pool_account()).0,
        pool_before + s.fees.iter().sum::<Balance>()
    );
    assert!(chain.pending().is_empty(), "every transaction left the pool");

    let mut native = Native::genesis(&chain, &spec());
    let (native_receipts, root) = native.apply(&block);
    assert_eq!(root, block.header.state_root);
    assert_eq!(native_receipts, receipts);
    let other_dir = tempfile::tempdir().unwrap();
    let other = open(other_dir.path());
    assert_eq!(other.import_block(block, true, None).unwrap().hash, produced.hash);
}

/// The attack as it was written for one transaction at a time, on the plain dev spec: the
/// first transaction moves everything but its own fee, so that the sender's later
/// transactions (each payable from the parent state, so the set passes) find nothing for
/// their fees and take the block's slots for free. With fees first, the drain itself fails
/// (the later fees were taken before it ran), and every transaction pays its fee and uses its
/// nonce; the later transfers run.
#[test]
fn the_drain_written_for_the_old_rule_fails_and_every_transaction_pays() {
    let dir = tempfile::tempdir().unwrap();
    let chain = open_dev_chain(dir.path());
    assert_dev_fee_params(&chain);
    let keys = keyring();
    let charlie = &keys[2];
    let g = chain.genesis_hash();
    let start = account(&chain, &charlie.account()).0;
    let later: Vec<SignedTransaction> = (1..=3).map(|n| transfer(g, charlie, sink(), UNIT, n, 0)).collect();
    // Everything but its own fee.
    let (drain, _, _) = drain(&chain, charlie, start, 0);
    let set = TxSet {
        transactions: [vec![drain], later].concat(),
    };
    let fees: Vec<Balance> = set.transactions.iter().map(documented_fee).collect();
    let head = chain.best_header();
    assert_eq!(chain.validate_tx_set(&head.hash(), &set).unwrap(), Ok(()));
    let pool_before = account(&chain, &fee_pool_account()).0;
    let value = value_on_head(&chain, &set, 1_000, keys[1].account());
    let imported = chain.apply_agreed(&value, &set, None).unwrap();
    let block = chain.block(&imported.hash).unwrap().unwrap();
    let receipts = stored_receipts(&chain, &block);
    let outcomes: Vec<TxOutcome> = receipts.iter().map(|r| r.outcome.clone()).collect();
    assert_eq!(
        outcomes,
        vec![
            insufficient_balance(),
            TxOutcome::Success,
            TxOutcome::Success,
            TxOutcome::Success
        ]
    );
    assert_eq!(receipts.iter().map(|r| r.fee_paid).collect::<Vec<_>>(), fees);
    let total: Balance = fees.iter().sum();
    assert_eq!(account(&chain, &charlie.account()), (start - total - 3 * UNIT, 4));
    assert_eq!(account(&chain, &sink()).0, 3 * UNIT);
    assert_eq!(account(&chain, &fee_pool_account()).0, pool_before + total);

    let mut native = Native::genesis(&chain, &dev_spec());
    let (native_receipts, root) = native.apply(&block);
    assert_eq!(root, block.header.state_root);
    assert_eq!(native_receipts, receipts);
}
