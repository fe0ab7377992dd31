//! Examples of each refusal, and property tests: arbitrary text never panics a parser, every
//! value survives its text form, and what is accepted is exactly the documented spelling.

use super::*;
use proptest::prelude::*;
use serde_json::json;

/// Alice's dev account (`//Alice`), public key and SS58 text as Substrate's tools print them.
const ALICE_HEX: &str = "0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";
const ALICE_SS58: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

#[test]
fn hex_bytes_need_the_prefix_and_whole_bytes() {
    assert_eq!(bytes("0x", "key"), Ok(vec![]));
    assert_eq!(bytes("0x00Ff", "key"), Ok(vec![0, 255]));
    assert_eq!(bytes("00ff", "key"), Err(ParamError::NotPrefixed { what: "key" }));
    assert_eq!(bytes("0X00ff", "key"), Err(ParamError::NotPrefixed { what: "key" }));
    for bad in ["0x0", "0xzz", "0x 00", "0x00 ", "0x+0", "0x0x00"] {
        let e = bytes(bad, "storage key").unwrap_err();
        assert!(
            matches!(
                e,
                ParamError::BadHex {
                    what: "storage key",
                    ..
                }
            ),
            "{bad:?}: {e}"
        );
        assert!(e.to_string().starts_with("storage key is not valid hex"), "{e}");
    }
}

#[test]
fn a_hash_is_exactly_32_bytes_of_hex() {
    let h = format!("0x{}", "ab".repeat(32));
    assert_eq!(hash(&h, "block hash"), Ok([0xab; 32]));
    let short = format!("0x{}", "ab".repeat(31));
    assert_eq!(
        hash(&short, "block hash").unwrap_err().to_string(),
        "block hash must be 32 bytes (64 hex digits), got 62 hex digits"
    );
    let long = format!("0x{}", "ab".repeat(33));
    assert!(matches!(hash(&long, "h"), Err(ParamError::WrongLength { got: 66, .. })));
    let not_hex = format!("0x{}g", "a".repeat(63));
    assert!(matches!(hash(&not_hex, "h"), Err(ParamError::BadHex { .. })));
    assert_eq!(opt_hash(None, "at"), Ok(None));
    assert!(opt_hash(Some("0x"), "at").is_err());
}

#[test]
fn accounts_are_canonical_ss58_or_public_key_hex() {
    let alice = account(ALICE_SS58).unwrap();
    assert_eq!(hex::encode(alice.as_bytes()), ALICE_HEX[2..]);
    assert_eq!(account(ALICE_HEX), Ok(alice));
    assert_eq!(account(&ALICE_HEX.to_uppercase().replacen("0X", "0x", 1)), Ok(alice));
    let refused = [
        "",
        " 5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY",
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQZ", // checksum
        "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKut",   // length
        "0xd43593c7",
        // `from_ss58`'s own hex branch takes a sign in each digit pair.
        "0x+4+3+5+3+7+5+dd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d",
    ];
    let too_long = format!("{ALICE_SS58}{}", "1".repeat(MAX_ADDRESS_LEN));
    for bad in refused.iter().copied().chain([too_long.as_str()]) {
        let e = account(bad).unwrap_err();
        assert!(matches!(e, ParamError::BadAddress { .. }), "{bad:?}: {e}");
        assert!(e.to_string().starts_with("invalid address `"), "{e}");
    }
}

#[test]
fn an_address_spelled_with_the_two_byte_prefix_form_is_refused() {
    // The two-byte SS58 prefix form (first byte 64..128) can spell prefix 42 too: the prefix is
    // read as lower = (first << 2) | (second >> 6), upper = second & 0x3f.
    let key = hex::decode(&ALICE_HEX[2..]).unwrap();
    let (first, second) = (0b0100_0000u8 | (42 >> 2), (42u8 & 0b11) << 6);
    let mut payload = vec![first, second];
    payload.extend_from_slice(&key);
    let mut h = blake2::Blake2b512::default();
    use blake2::Digest;
    h.update(b"SS58PRE");
    h.update(&payload);
    let sum = h.finalize();
    payload.extend_from_slice(&sum[..2]);
    let alias = bs58::encode(&payload).into_string();
    assert_ne!(alias, ALICE_SS58);
    // A well-formed address (checksum and all) that spells Alice a second way: refused by the
    // primitives parser and so by the RPC parameter parser, which also checks the canonical form.
    assert!(AccountId::from_ss58(&alias).is_err());
    let e = account(&alias).unwrap_err();
    assert!(e.to_string().contains(&alias), "the error names the input: {e}");
}

#[test]
fn huge_inputs_are_refused_at_once_and_not_echoed() {
    let huge = "x".repeat(1_000_000);
    let started = std::time::Instant::now();
    let msg = account(&huge).unwrap_err().to_string();
    // Base58-decoding this took minutes (quadratic); refusing it by length takes nothing. The
    // bound is loose for a loaded machine and still far below the old cost.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert!(msg.len() < 200, "{} bytes", msg.len());
    let msg = block_number(Some(&json!(huge))).unwrap_err().to_string();
    assert!(msg.len() < 250, "{} bytes", msg.len());
}

#[test]
fn block_numbers_are_integers_or_prefixed_hex() {
    assert_eq!(block_number(None), Ok(None));
    assert_eq!(block_number(Some(&Value::Null)), Ok(None));
    assert_eq!(block_number(Some(&json!(0))), Ok(Some(0)));
    assert_eq!(block_number(Some(&json!(u64::MAX))), Ok(Some(u64::MAX)));
    assert_eq!(block_number(Some(&json!("0x10"))), Ok(Some(16)));
    assert_eq!(block_number(Some(&json!("0xffffffffffffffff"))), Ok(Some(u64::MAX)));
    let refused = [
        json!(-1),
        json!(1.5),
        json!(1e30),
        json!("10"),
        json!("0x"),
        json!("0x0x5"),
        json!("0x+5"),
        json!("0x-5"),
        json!(" 0x5"),
        json!("0x5 "),
        json!("0x10000000000000000"),
        json!("0x00000000000000001"),
        json!(true),
        json!([1]),
        json!({"n": 1}),
    ];
    for v in refused {
        let e = block_number(Some(&v)).unwrap_err();
        assert!(matches!(e, ParamError::BadBlockNumber(_)), "{v}: {e}");
        assert!(e.to_string().starts_with("block number must be"), "{e}");
    }
}

#[test]
fn proof_requests_are_capped() {
    let keys = vec!["0x00".to_string(); MAX_PROOF_KEYS];
    assert_eq!(storage_keys(&keys).unwrap().len(), MAX_PROOF_KEYS);
    let keys = vec!["0x00".to_string(); MAX_PROOF_KEYS + 1];
    assert_eq!(
        storage_keys(&keys).unwrap_err().to_string(),
        "at most 1024 keys per request, got 1025"
    );
    let e = storage_keys(&["0x00".into(), "00".into()]).unwrap_err();
    assert_eq!(e, ParamError::NotPrefixed { what: "storage key" });
}

/// Text likely to be near the accepted forms, plus anything at all.
fn near_miss() -> impl Strategy<Value = String> {
    prop_oneof![
        "\\PC{0,100}",
        "(0x|0X|)[0-9a-fA-F+\\- xg]{0,70}",
        "[1-9A-HJ-NP-Za-km-z]{44,50}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Whatever a hex parser accepts is `0x` and an even number of hex digits, and means
    /// exactly those bytes.
    #[test]
    fn accepted_hex_is_exactly_prefix_and_digits(s in near_miss()) {
        if let Ok(b) = bytes(&s, "x") {
            prop_assert_eq!(s.to_ascii_lowercase(), format!("0x{}", hex::encode(&b)));
        }
        if let Ok(h) = hash(&s, "x") {
            prop_assert_eq!(s.to_ascii_lowercase(), format!("0x{}", hex::encode(h)));
        }
    }

    /// Whatever the address parser accepts is the account's SS58 text or its hex.
    #[test]
    fn accepted_addresses_are_canonical(s in near_miss()) {
        if let Ok(a) = account(&s) {
            let hex_form = format!("0x{}", hex::encode(a.as_bytes()));
            prop_assert!(s == a.to_ss58() || s.to_ascii_lowercase() == hex_form, "{}", s);
        }
    }

    /// Whatever the block-number parser accepts from a string is `0x` and at most 16 hex
    /// digits meaning that number.
    #[test]
    fn accepted_block_number_text_is_prefixed_hex(s in near_miss()) {
        if let Ok(Some(n)) = block_number(Some(&Value::String(s.clone()))) {
            let digits = s.strip_prefix("0x").expect("accepted without 0x");
            prop_assert!(!digits.is_empty() && digits.len() <= 16);
            prop_assert_eq!(u64::from_str_radix(digits, 16).ok(), Some(n));
        }
    }

    #[test]
    fn bytes_round_trip(b in proptest::collection::vec(any::<u8>(), 0..200), upper in any::<bool>()) {
        let digits = if upper { hex::encode_upper(&b) } else { hex::encode(&b) };
        prop_assert_eq!(bytes(&format!("0x{digits}"), "x"), Ok(b));
    }

    #[test]
    fn hashes_and_accounts_round_trip(h in any::<[u8; 32]>()) {
        let text = format!("0x{}", hex::encode(h));
        prop_assert_eq!(hash(&text, "x"), Ok(h));
        let a = AccountId::from(h);
        prop_assert_eq!(account(&a.to_ss58()), Ok(a));
        prop_assert_eq!(account(&text), Ok(a));
    }

    /// A hash of any other length is refused for its length.
    #[test]
    fn hashes_of_other_lengths_are_refused(b in proptest::collection::vec(any::<u8>(), 0..100)) {
        prop_assume!(b.len() != 32);
        let e = hash(&format!("0x{}", hex::encode(&b)), "x");
        prop_assert_eq!(e, Err(ParamError::WrongLength { what: "x", expected: 32, got: b.len() * 2 }));
    }

    #[test]
    fn block_numbers_round_trip(n in any::<u64>()) {
        prop_assert_eq!(block_number(Some(&json!(n))), Ok(Some(n)));
        prop_assert_eq!(block_number(Some(&json!(format!("0x{n:x}")))), Ok(Some(n)));
        prop_assert_eq!(block_number(Some(&json!(format!("0x{n:016X}")))), Ok(Some(n)));
    }

    /// Numbers past u64 are refused, whichever way they are written.
    #[test]
    fn oversized_block_numbers_are_refused(n in (u64::MAX as u128 + 1)..=u128::MAX) {
        let text = format!("0x{n:x}");
        prop_assert!(block_number(Some(&json!(text))).is_err());
        let as_json: Value = serde_json::from_str(&n.to_string()).unwrap();
        prop_assert!(block_number(Some(&as_json)).is_err());
    }
}

#[test]
fn a_page_is_an_offset_and_a_limit_of_at_least_one() {
    assert_eq!(page(None), Ok(None));
    assert_eq!(page(Some(&Value::Null)), Ok(None));
    assert_eq!(page(Some(&json!({}))), Ok(Some(PageRequest::default())));
    assert_eq!(
        page(Some(&json!({"offset": 7, "limit": "3"}))),
        Ok(Some(PageRequest {
            offset: 7,
            limit: Some(3)
        }))
    );
    let refused = |v: Value| page(Some(&v)).unwrap_err().to_string();
    assert_eq!(refused(json!({"limit": 0})), "limit must be at least 1");
    assert!(refused(json!({"offset": -1})).starts_with("offset must be a non-negative integer"));
    assert!(refused(json!({"ofset": 1})).starts_with("unknown field `ofset`"));
    assert!(refused(json!([0, 1])).starts_with("parameters must be a JSON object"));
    assert!(refused(json!({"limit": "18446744073709551616"})).contains("larger than"));
}
