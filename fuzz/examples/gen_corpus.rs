//! Writes the seed corpus, `fuzz/corpus/<target>/<name>`: a few valid inputs per target and
//! the edge cases a parser must refuse. Run from the repository root:
//! `cargo run --manifest-path fuzz/Cargo.toml --example gen_corpus`. Signatures are randomized
//! by schnorrkel, so re-running rewrites the signed seeds with equally valid bytes.

use parity_scale_codec::{Compact, Encode};
use schnorrkel::{signing_context, ExpansionMode, MiniSecretKey};
use std::path::Path;
use watt_chain_spec::ChainSpec;
use watt_primitives::{AccountId, Block, Header, SignedTransaction, StateProof, Transaction, SIGNATURE_CONTEXT};
use watt_runtime::{pallet_balances, pallet_system, RuntimeCall};

const ALICE_SS58: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
const ALICE_HEX: &str = "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
/// The smallest valid wasm module: magic and version.
const EMPTY_WASM: &[u8] = b"\0asm\x01\0\0\0";

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus").join(target);
    std::fs::create_dir_all(&dir).expect("create the corpus directory");
    std::fs::write(dir.join(name), bytes).expect("write a seed");
}

fn signed(seed: u8, nonce: u64, tip: u128, call: Vec<u8>) -> SignedTransaction {
    let pair = MiniSecretKey::from_bytes(&[seed; 32])
        .expect("32 bytes")
        .expand_to_keypair(ExpansionMode::Ed25519);
    let tx = Transaction {
        signer: AccountId::from(pair.public.to_bytes()),
        nonce,
        tip,
        genesis: [0x42; 32],
        call,
    };
    let signature = pair
        .sign(signing_context(SIGNATURE_CONTEXT).bytes(&tx.signing_payload()))
        .to_bytes();
    SignedTransaction { tx, signature }
}

fn transfer(keep_alive: bool, value: u128) -> Vec<u8> {
    let dest = AccountId::from([9u8; 32]);
    let value = Compact(value);
    RuntimeCall::Balances(if keep_alive {
        pallet_balances::Call::TransferKeepAlive { dest, value }
    } else {
        pallet_balances::Call::Transfer { dest, value }
    })
    .encode()
}

fn main() {
    // decode_transaction
    let transfer_tx = signed(1, 0, 0, transfer(false, 1_500_000_000_000));
    let keep_alive_tx = signed(2, 7, 10, transfer(true, u128::MAX));
    let remark_tx = signed(
        3,
        u64::MAX,
        0,
        RuntimeCall::System(pallet_system::Call::Remark { data: b"hi".to_vec() }).encode(),
    );
    let mut bad_sig = transfer_tx.clone();
    bad_sig.signature = [0; 64];
    let garbage_call = signed(4, 1, 0, vec![0xff, 0x00, 0x01]);
    let t = "decode_transaction";
    write(t, "transfer", &transfer_tx.encode());
    write(t, "transfer_keep_alive_max", &keep_alive_tx.encode());
    write(t, "remark", &remark_tx.encode());
    write(t, "zero_signature", &bad_sig.encode());
    write(t, "unknown_call", &garbage_call.encode());
    write(t, "empty_call", &signed(5, 0, 0, vec![]).encode());
    let enc = transfer_tx.encode();
    write(t, "truncated", &enc[..enc.len() - 1]);
    write(t, "trailing_byte", &[&enc[..], &[0]].concat());
    // A call length prefix claiming 2^30 bytes.
    let mut huge = transfer_tx.tx.signer.encode();
    huge.extend(0u64.encode());
    huge.extend(0u128.encode());
    huge.extend([0x42u8; 32]);
    huge.extend([0x03, 0x00, 0x00, 0x00, 0x40]);
    write(t, "huge_call_length", &huge);

    // decode_block
    let header = Header {
        parent_hash: [1; 32],
        number: 1,
        state_root: [2; 32],
        tx_root: watt_primitives::merkle_root(&[transfer_tx.hash(), remark_tx.hash()]),
        close_time: 1_700_000_000_000,
        receipts_root: [0; 32],
        events_root: watt_primitives::events_root(&[]),
        author: watt_primitives::AccountId([7; 32]),
    };
    let b = "decode_block";
    write(b, "header_only", &header.encode());
    write(
        b,
        "empty_block",
        &Block {
            header: header.clone(),
            transactions: vec![],
        }
        .encode(),
    );
    let block = Block {
        header: Header {
            receipts_root: [0xaa; 32],
            ..header.clone()
        },
        transactions: vec![transfer_tx.clone(), remark_tx.clone()],
    };
    write(b, "two_transactions", &block.encode());
    let mut huge_count = header.encode();
    huge_count.extend([0xff, 0xff, 0xff, 0xff]);
    write(b, "huge_tx_count", &huge_count);
    let enc = block.encode();
    write(b, "truncated", &enc[..enc.len() / 2]);

    // decode_proof
    let f = watt_fuzz::fixture();
    let p = "decode_proof";
    write(p, "inclusion_key0", &f.prove(b"key-0").encode());
    write(p, "inclusion_empty_value", &f.prove(b"key-3").encode());
    write(p, "inclusion_key7", &f.prove(b"key-7").encode());
    write(p, "exclusion_absent", &f.prove(b"absent").encode());
    write(p, "exclusion_key8", &f.prove(b"key-8").encode());
    let mut lie = f.prove(b"key-1");
    lie.value = Some(b"not the value".to_vec());
    write(p, "false_value", &lie.encode());
    let mut denial = f.prove(b"key-2");
    denial.value = None;
    write(p, "false_absence", &denial.encode());
    let mut cut = f.prove(b"key-4");
    cut.proof.truncate(cut.proof.len() / 2);
    write(p, "truncated_proof", &cut.encode());
    // borsh: no leaf, then a sibling list claiming u32::MAX entries.
    let huge_siblings = StateProof {
        key: b"key-5".to_vec(),
        value: None,
        proof: vec![0, 0xff, 0xff, 0xff, 0xff, 0],
    };
    write(p, "huge_sibling_count", &huge_siblings.encode());
    for (k, _) in watt_fuzz::fixture_entries() {
        assert!(
            watt_fuzz::verify_proof(&f.root, &f.prove(&k)).is_ok(),
            "fixture proofs verify"
        );
    }
    assert!(watt_fuzz::verify_proof(&f.root, &lie).is_err());

    // chain_spec
    let accounts = [
        AccountId::from_ss58(ALICE_SS58).expect("Alice's address"),
        AccountId::from([9u8; 32]),
    ];
    let spec = ChainSpec::dev(&accounts, EMPTY_WASM);
    let c = "chain_spec";
    let text = serde_json::to_string_pretty(&spec).expect("serialize the spec");
    write(c, "dev", text.as_bytes());
    let mut signed_amount = spec.clone();
    signed_amount.genesis.balances[0].1 = "+5".into();
    write(
        c,
        "signed_amount",
        serde_json::to_string(&signed_amount).unwrap().as_bytes(),
    );
    let mut big = spec.clone();
    big.genesis.balances[1].1 = u128::MAX.to_string();
    big.genesis.params.max_tx_len = u32::MAX;
    write(c, "max_amounts", serde_json::to_string(&big).unwrap().as_bytes());
    let mut bad_code = spec.clone();
    bad_code.code = "0x0061736d0".into();
    write(c, "odd_code", serde_json::to_string(&bad_code).unwrap().as_bytes());
    write(c, "hex_address", text.replace(ALICE_SS58, ALICE_HEX).as_bytes());
    write(c, "deep_nesting", "[".repeat(200).as_bytes());
    write(c, "empty_object", b"{}");

    // rpc_params
    let r = "rpc_params";
    let seeds: &[(&str, &str)] = &[
        ("empty_hex", "0x"),
        ("bytes", "0x00fF10"),
        (
            "hash",
            "0x0102030405060708091011121314151617181920212223242526272829303132",
        ),
        ("ss58", ALICE_SS58),
        ("account_hex", ALICE_HEX),
        ("number_hex", "0x10"),
        ("number_max", "0xffffffffffffffff"),
        ("number_json", "12345"),
        ("number_string_json", "\"0x1f\""),
        ("null", "null"),
        ("negative", "-1"),
        ("float", "1e3"),
        ("keys", "[\"0x00\",\"0x0102\",\"0x\"]"),
        ("signed_hex", "0x+1"),
        ("double_prefix", "0x0x10"),
    ];
    for (name, text) in seeds {
        write(r, name, text.as_bytes());
    }
    println!("corpus written under {}/corpus", env!("CARGO_MANIFEST_DIR"));
}
