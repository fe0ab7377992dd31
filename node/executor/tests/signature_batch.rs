//! The sr25519 batch path through wasm: the `sr25519_verify_batch` host function verifies more
//! than 128 signatures in parallel chunks and must answer "all valid" only when every item in
//! every chunk is valid; and the runtime, which checks a block's signatures as one batch and
//! falls back to one-by-one checks when the batch fails, must then refuse exactly the bad items.

use parity_scale_codec::{Compact, Decode, Encode};
use schnorrkel::{signing_context, ExpansionMode, Keypair, MiniSecretKey};
use std::sync::Arc;
use watt_executor::{Executor, ExecutorConfig, MemoryBackend, RuntimeCode, StateSession};
use watt_primitives::abi::{
    entry, ApplyBlockInput, ApplyBlockOutput, ApplyResult, ChainContext, ChainParams, GenesisConfig, TxSetError,
};
use watt_primitives::{AccountId, SignedTransaction, Transaction, TxError, TxOutcome, SIGNATURE_CONTEXT};

/// The host verifies batches above this many items in parallel chunks of this size
/// (`watt_support::crypto`); the cases below straddle it.
const CHUNK: usize = 128;

fn keypair(i: usize) -> Keypair {
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&(i as u64 + 1).to_le_bytes());
    MiniSecretKey::from_bytes(&seed)
        .expect("32 bytes")
        .expand_to_keypair(ExpansionMode::Ed25519)
}

fn sign(k: &Keypair, msg: &[u8]) -> [u8; 64] {
    k.sign(signing_context(SIGNATURE_CONTEXT).bytes(msg)).to_bytes()
}

type Item = ([u8; 32], [u8; 64], Vec<u8>);

/// `n` valid (public key, signature, message) items from distinct keys.
fn items(n: usize) -> Vec<Item> {
    (0..n)
        .map(|i| {
            let k = keypair(i);
            let msg = format!("message number {i} of the batch").into_bytes();
            (k.public.to_bytes(), sign(&k, &msg), msg)
        })
        .collect()
}

/// The ways one item of a batch can be bad.
fn spoil(item: &mut Item, how: usize) {
    match how % 4 {
        // A flipped bit in the signature's scalar.
        0 => item.1[40] ^= 0x04,
        // Another key's valid signature over the same message.
        1 => item.1 = sign(&keypair(10_000), &item.2),
        // The message changed after signing.
        2 => item.2.push(b'!'),
        // Not a schnorrkel signature at all (marker bit cleared): refused before verifying.
        _ => item.1[63] &= 0x7f,
    }
}

fn executor() -> Executor {
    Executor::new(ExecutorConfig {
        max_memory_bytes: 64 << 20,
        ..Default::default()
    })
    .unwrap()
}

/// A module that hands its input to `sr25519_verify_batch` and returns the verdict as 4 bytes.
fn batch_probe() -> RuntimeCode {
    let wat = r#"(module
        (import "watt" "sr25519_verify_batch" (func $batch (param i32 i32) (result i32)))
        (memory (export "memory") 16)
        (func (export "watt_alloc") (param i32) (result i32) i32.const 1024)
        (func (export "verify") (param i32 i32) (result i64)
          (i32.store (i32.const 0) (call $batch (local.get 0) (local.get 1)))
          ;; packed (pointer 0, length 4)
          i64.const 4))"#;
    RuntimeCode::new(wat.as_bytes().to_vec())
}

fn host_verdict(ex: &Executor, batch: &[Item]) -> u32 {
    host_verdict_raw(ex, &batch.encode())
}

fn host_verdict_raw(ex: &Executor, input: &[u8]) -> u32 {
    let session = StateSession::new(Arc::new(MemoryBackend::default()));
    let (_, out) = ex.call(&batch_probe(), "verify", input, session);
    u32::decode(&mut &out.expect("the probe runs")[..]).unwrap()
}

#[test]
fn host_batch_verdict_over_the_parallel_threshold() {
    let ex = executor();
    for n in [CHUNK, CHUNK + 1, 3 * CHUNK + 17] {
        let good = items(n);
        assert_eq!(host_verdict(&ex, &good), 1, "{n} valid signatures");
        // One bad item anywhere: first, last of the first chunk, first of the second chunk,
        // in the middle of a later chunk, and the very last (alone in its chunk when n = 129).
        let positions = [0, CHUNK - 1, CHUNK, n / 2 + 3, n - 1];
        for (case, &bad) in positions.iter().enumerate() {
            if bad >= n {
                continue;
            }
            let mut batch = good.clone();
            spoil(&mut batch[bad], case);
            assert_eq!(
                host_verdict(&ex, &batch),
                0,
                "{n} signatures, item {bad} bad (kind {case})"
            );
        }
    }
    // Input that is not a SCALE batch is "not all valid", never a trap.
    assert_eq!(host_verdict_raw(&ex, &[0xff, 0xff, 0xff, 0xff, 0x0f]), 0);
    // An empty batch has no bad signature.
    assert_eq!(host_verdict(&ex, &[]), 1);
}

// ---- through the runtime ----------------------------------------------------------------------

const ACCOUNTS: usize = 2 * CHUNK + 40;
const GENESIS: [u8; 32] = [0x42; 32];

fn runtime() -> RuntimeCode {
    RuntimeCode::new(watt_runtime_blob::WASM_BINARY.to_vec())
}

/// Genesis through the wasm runtime: ACCOUNTS funded accounts.
fn genesis_state(ex: &Executor) -> MemoryBackend {
    let config = GenesisConfig {
        balances: (0..ACCOUNTS)
            .map(|i| (AccountId(keypair(i).public.to_bytes()), 1_000_000_000))
            .collect(),
        params: ChainParams {
            existential_deposit: 1,
            base_fee: 1_000,
            byte_fee: 1,
            weight_fee: 0,
            max_tx_len: 4096,
            // Room for every transfer of the biggest block here.
            max_block_weight: 1 << 40,
            max_block_transactions: u32::MAX,
            max_block_bytes: u32::MAX,
        },
        code: vec![],
        economy: watt_primitives::economy::EconomyGenesis::bare(
            watt_primitives::economy::EconomyParams::mainnet(10),
            AccountId([9; 32]),
        ),
    };
    let session = StateSession::new(Arc::new(MemoryBackend::default()));
    let (session, out) = ex.call_decoded::<()>(&runtime(), entry::BUILD_GENESIS, &config, session);
    out.unwrap();
    let mut state = MemoryBackend::default();
    state.apply(&session.into_changes().unwrap());
    state
}

/// Account `i` sends 1,000 units to account `i + 1`.
fn transfer(i: usize) -> SignedTransaction {
    let k = keypair(i);
    let call = watt_runtime::RuntimeCall::Balances(watt_runtime::pallet_balances::Call::Transfer {
        dest: AccountId(keypair((i + 1) % ACCOUNTS).public.to_bytes()),
        value: Compact(1_000),
    });
    let tx = Transaction {
        signer: AccountId(k.public.to_bytes()),
        nonce: 0,
        tip: 0,
        genesis: GENESIS,
        call: call.encode(),
    };
    let signature = sign(&k, &tx.signing_payload());
    SignedTransaction { tx, signature }
}

fn apply(ex: &Executor, state: &MemoryBackend, transactions: Vec<SignedTransaction>) -> ApplyBlockOutput {
    let input = ApplyBlockInput {
        chain: ChainContext { genesis_hash: GENESIS },
        number: 1,
        parent_hash: [1; 32],
        close_time: 1_000,
        author: AccountId([0; 32]),
        transactions,
    };
    let session = StateSession::new(Arc::new(state.clone()));
    let (_, out) =
        ex.call_decoded::<Result<ApplyBlockOutput, TxSetError>>(&runtime(), entry::APPLY_BLOCK, &input, session);
    out.unwrap().expect("within the block size limits")
}

#[test]
fn a_block_over_the_threshold_refuses_exactly_its_bad_signatures() {
    let ex = executor();
    let state = genesis_state(&ex);
    let txs: Vec<SignedTransaction> = (0..ACCOUNTS).map(transfer).collect();

    // All good: every transaction is included and succeeds.
    let out = apply(&ex, &state, txs.clone());
    assert_eq!(out.results.len(), ACCOUNTS);
    for (i, r) in out.results.iter().enumerate() {
        assert!(
            matches!(r, ApplyResult::Included(receipt) if receipt.outcome == TxOutcome::Success),
            "transaction {i}: {r:?}"
        );
    }

    // Exactly one bad signature, in the first chunk, on a chunk boundary, in the last chunk
    // (every other chunk valid, so a batch that looked at only some chunks would pass it), and
    // then one in each chunk at once: exactly those are refused as BadSignature, every other
    // transaction is still included.
    let spoil_tx = |tx: &mut SignedTransaction, i: usize, kind: usize| match kind {
        0 => tx.signature[10] ^= 1,
        1 => tx.signature = sign(&keypair(i + 1), &tx.tx.signing_payload()),
        _ => tx.tx.tip = 1, // signed body changed afterwards
    };
    let cases: [&[usize]; 4] = [&[3], &[CHUNK], &[ACCOUNTS - 1], &[3, CHUNK, ACCOUNTS - 1]];
    for bad in cases {
        let mut spoiled = txs.clone();
        for (kind, &i) in bad.iter().enumerate() {
            spoil_tx(&mut spoiled[i], i, kind + bad[0] % 3);
        }
        let out = apply(&ex, &state, spoiled);
        assert_eq!(out.results.len(), ACCOUNTS);
        for (i, r) in out.results.iter().enumerate() {
            if bad.contains(&i) {
                assert_eq!(
                    r,
                    &ApplyResult::Invalid(TxError::BadSignature),
                    "bad {bad:?}: transaction {i}"
                );
            } else {
                assert!(
                    matches!(r, ApplyResult::Included(receipt) if receipt.outcome == TxOutcome::Success),
                    "bad {bad:?}: transaction {i}: {r:?}"
                );
            }
        }
    }
}
