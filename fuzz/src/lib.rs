//! What each fuzz target checks, shared by the targets in `fuzz_targets/` and by
//! `examples/gen_corpus.rs`, which writes the seed corpus.
//!
//! Every target feeds untrusted bytes to a parser Watt runs on network or user input and
//! asserts more than "no panic": whatever decodes must encode back to the same bytes (one
//! encoding per value), and whatever a verifier accepts must be true.

use jmt::mock::MockTreeStore;
use jmt::proof::SparseMerkleProof;
use jmt::{JellyfishMerkleTree, KeyHash, RootHash};
use parity_scale_codec::{Decode, DecodeAll, Encode};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use watt_chain_spec::ChainSpec;
use watt_primitives::hashing::Blake2b256;
use watt_primitives::{blake2_256, merkle_root, Block, Hash, Header, SignedTransaction, StateProof, TX_SIGNING_TAG};
use watt_runtime::RuntimeCall;

/// A signed transaction as the pool and the runtime decode it (`decode_all`: no trailing bytes).
pub fn decode_transaction(data: &[u8]) {
    let Ok(stx) = SignedTransaction::decode_all(&mut &data[..]) else {
        return;
    };
    check_transaction(&stx);
    assert_eq!(stx.encode(), data, "a transaction has a second encoding");
}

fn check_transaction(stx: &SignedTransaction) {
    let payload = stx.tx.signing_payload();
    assert_eq!(&payload[..TX_SIGNING_TAG.len()], TX_SIGNING_TAG);
    assert_eq!(&payload[TX_SIGNING_TAG.len()..], &stx.tx.encode()[..]);
    assert_eq!(stx.hash(), blake2_256(&stx.encode()));
    // The verifier the runtime's host function uses; any answer is fine, a panic is not.
    let _ = watt_support::crypto::sr25519_verify(&stx.signature, &payload, stx.tx.signer.as_bytes());
    // The call, as the runtime decodes it before dispatch.
    // As the runtime decodes it: nesting (`sudo(sudo(..))`) bounded by MAX_CALL_DEPTH.
    if let Some(call) = RuntimeCall::decode_bounded(&stx.tx.call) {
        assert_eq!(call.encode(), stx.tx.call, "a call has a second encoding");
        let _ = call.weight();
    }
}

/// A block (as a store reads it or a peer will send it), and a lone header.
pub fn decode_block(data: &[u8]) {
    if let Ok(header) = Header::decode_all(&mut &data[..]) {
        assert_eq!(header.encode(), data, "a header has a second encoding");
        let _ = header.hash();
    }
    let Ok(block) = Block::decode_all(&mut &data[..]) else {
        return;
    };
    assert_eq!(block.encode(), data, "a block has a second encoding");
    let hashes: Vec<Hash> = block.transactions.iter().map(|t| t.hash()).collect();
    let _ = merkle_root(&hashes);
    for stx in &block.transactions {
        check_transaction(stx);
    }
}

/// A fixed state tree (known keys and values) that proofs are checked against.
pub struct ProofFixture {
    /// The tree's root.
    pub root: Hash,
    /// Every key in the tree and its value.
    pub values: BTreeMap<Vec<u8>, Vec<u8>>,
    store: MockTreeStore,
}

/// Keys of the fixture tree; `key-3` has an empty value.
pub fn fixture_entries() -> Vec<(Vec<u8>, Vec<u8>)> {
    (0u8..8)
        .map(|i| {
            let value = if i == 3 { vec![] } else { vec![i; 1 + i as usize] };
            (format!("key-{i}").into_bytes(), value)
        })
        .collect()
}

/// The fixture, built once per process.
pub fn fixture() -> &'static ProofFixture {
    static FIXTURE: OnceLock<ProofFixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let store = MockTreeStore::default();
        let entries = fixture_entries();
        let tree = JellyfishMerkleTree::<_, Blake2b256>::new(&store);
        let set = entries.iter().map(|(k, v)| (KeyHash(blake2_256(k)), Some(v.clone())));
        let (root, batch) = tree.put_value_set(set, 0).expect("an in-memory tree takes the fixture");
        store
            .write_tree_update_batch(batch)
            .expect("an in-memory tree stores the fixture");
        ProofFixture {
            root: root.0,
            values: entries.into_iter().collect(),
            store,
        }
    })
}

impl ProofFixture {
    /// A state proof for `key` (inclusion or exclusion), exactly as the node's store makes one.
    pub fn prove(&self, key: &[u8]) -> StateProof {
        let tree = JellyfishMerkleTree::<_, Blake2b256>::new(&self.store);
        let (value, proof) = tree
            .get_with_proof(KeyHash(blake2_256(key)), 0)
            .expect("the fixture tree answers");
        StateProof {
            key: key.to_vec(),
            value,
            proof: borsh::to_vec(&proof).expect("a proof serializes"),
        }
    }
}

/// Light-client proof verification, the same steps as `watt_client::proof::verify_proof`.
///
/// Repeated here rather than linked: `watt-client` brings an RPC client with rustls, ring and
/// secp256k1 (several hundred crates, C builds), far too heavy for the short fuzz run in CI.
/// The untrusted-input work is all in `borsh` and `jmt`, which this drives the same way.
pub fn verify_proof(root: &Hash, proof: &StateProof) -> Result<(), String> {
    let smp: SparseMerkleProof<Blake2b256> = borsh::from_slice(&proof.proof).map_err(|e| e.to_string())?;
    smp.verify(RootHash(*root), KeyHash(blake2_256(&proof.key)), proof.value.as_ref())
        .map_err(|e| e.to_string())
}

/// A state proof as a light client receives it: decoding and verifying never panics, and a
/// proof that verifies against the fixture's root tells the truth about the fixture.
pub fn decode_proof(data: &[u8]) {
    let Ok(proof) = StateProof::decode_all(&mut &data[..]) else {
        // The proof bytes alone, as `verify_proof` reads them, are fair game too.
        let _ = borsh::from_slice::<SparseMerkleProof<Blake2b256>>(data);
        return;
    };
    assert_eq!(proof.encode(), data, "a state proof has a second encoding");
    let f = fixture();
    if verify_proof(&f.root, &proof).is_ok() {
        assert_eq!(
            f.values.get(&proof.key),
            proof.value.as_ref(),
            "a proof of a false claim verified: key {:?}",
            proof.key
        );
    }
    // No preimage of an all-zero root is known, so nothing can prove anything against it.
    assert!(
        verify_proof(&[0u8; 32], &proof).is_err(),
        "a proof verified against the zero root"
    );
}

/// A chain spec file (`watt node --chain spec.json`).
pub fn chain_spec(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(spec) = ChainSpec::from_json(text) else {
        return;
    };
    let again = serde_json::to_string(&spec).expect("a parsed spec serializes");
    assert_eq!(ChainSpec::from_json(&again).expect("a written spec parses"), spec);
    let Ok(genesis) = spec.genesis_config() else {
        return;
    };
    for ((_, text), (_, units)) in spec.genesis.balances.iter().zip(&genesis.balances) {
        assert!(text.bytes().all(|b| b.is_ascii_digit()), "balance `{text}` accepted");
        assert_eq!(text.trim_start_matches('0').parse::<u128>().unwrap_or(0), *units);
    }
    assert!(genesis.code.starts_with(b"\0asm"));
    let encoded = genesis.encode();
    assert_eq!(
        watt_primitives::abi::GenesisConfig::decode(&mut &encoded[..]).ok(),
        Some(genesis)
    );
}

/// The RPC parameter parsers: what they accept is exactly the documented spelling.
pub fn rpc_params(data: &[u8]) {
    use watt_rpc_params as p;
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(b) = p::bytes(s, "bytes") {
        assert_eq!(s.to_ascii_lowercase(), format!("0x{}", hex::encode(&b)));
    }
    if let Ok(h) = p::hash(s, "hash") {
        assert_eq!(s.to_ascii_lowercase(), format!("0x{}", hex::encode(h)));
    }
    if let Ok(a) = p::account(s) {
        let hex_form = format!("0x{}", hex::encode(a.as_bytes()));
        assert!(
            s == a.to_ss58() || s.to_ascii_lowercase() == hex_form,
            "address `{s}` accepted"
        );
    }
    if let Ok(Some(n)) = p::block_number(Some(&Value::String(s.to_string()))) {
        let digits = s
            .strip_prefix("0x")
            .expect("a block number string without 0x was accepted");
        assert!(!digits.is_empty() && digits.len() <= 16 && digits.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_eq!(u64::from_str_radix(digits, 16).ok(), Some(n));
    }
    // The same text as a JSON parameter: a number, a string, or a list of storage keys.
    let Ok(v) = serde_json::from_str::<Value>(s) else {
        return;
    };
    match p::block_number(Some(&v)) {
        Ok(Some(n)) => assert!(v.as_u64() == Some(n) || v.is_string(), "{v} accepted as block {n}"),
        Ok(None) => assert!(v.is_null()),
        Err(_) => {}
    }
    if let Some(list) = v.as_array() {
        let keys: Vec<String> = list.iter().filter_map(|k| k.as_str().map(String::from)).collect();
        if let Ok(decoded) = p::storage_keys(&keys) {
            assert!(decoded.len() == keys.len() && keys.len() <= p::MAX_PROOF_KEYS);
        }
    }
}

/// Contract code at upload: validation never panics, and what it accepts keeps every limit.
pub fn contract_code(data: &[u8]) {
    use watt_contract_validation::{validate, Limits};
    let limits = Limits::default();
    if let Ok(summary) = validate(data, &limits, |m, _| m == "watt_v1", &["deploy", "call"]) {
        assert!(data.len() <= limits.max_code_len, "accepted {} bytes", data.len());
        assert!(summary.functions <= limits.max_functions);
        assert!(summary.memory_pages <= limits.max_memory_pages);
        for required in ["deploy", "call"] {
            assert!(summary.exported_functions.iter().any(|e| e == required), "no `{required}` export");
        }
        // Whatever validation accepts, the stack-limit instrumentation takes, and its output is
        // valid wasm: a node never fails to compile code the chain stored.
        let instrumented = watt_contract_instrument::inject_stack_limit(data, 4_096)
            .unwrap_or_else(|e| panic!("validated code could not be instrumented: {e}"));
        wasmparser::Validator::new_with_features(watt_contract_instrument::features())
            .validate_all(&instrumented.code)
            .unwrap_or_else(|e| panic!("instrumented code is invalid: {e}"));
    }
}
