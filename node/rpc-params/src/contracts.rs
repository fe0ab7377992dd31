//! The parameter objects of the contract dry-run methods, `watt_contractCall` and
//! `watt_contractInstantiate`:
//!
//! ```json
//! {"origin": "5Grw…", "dest": "5F…", "value": "0", "gasLimit": 1000000,
//!  "storageDepositLimit": null, "input": "0x…"}
//! {"origin": "5Grw…", "value": 0, "code": "0x0061736d…" | "codeHash": "0x…",
//!  "input": "0x…", "salt": "0x"}
//! ```
//!
//! Accounts as [`account`] takes them; `value` and `storageDepositLimit` a JSON integer or a
//! decimal string (u128 amounts exceed JSON's safe integers); `gasLimit` a JSON integer or a
//! decimal string; `gasLimit`/`storageDepositLimit` absent or `null` for "no limit" (the most
//! a block allows / none); `value` absent means 0; `salt` absent means empty. A field this
//! method does not know is refused rather than ignored, so a misspelt `gaslimit` is noticed.
//! The size of `input` and `code` is bounded by the server's request limit.

use crate::{account, bytes, echo, hash, ParamError};
use serde_json::{Map, Value};
use watt_primitives::contracts::{CallRequest, CodeSource, InstantiateRequest};
use watt_primitives::Balance;

/// The fields of a `watt_contractCall` object.
const CALL_FIELDS: &[&str] = &["origin", "dest", "value", "gasLimit", "storageDepositLimit", "input"];

/// The fields of a `watt_contractInstantiate` object.
const INSTANTIATE_FIELDS: &[&str] = &[
    "origin",
    "value",
    "gasLimit",
    "storageDepositLimit",
    "code",
    "codeHash",
    "input",
    "salt",
];

/// The object, with only `known` fields.
pub(crate) fn object<'a>(v: &'a Value, known: &[&'static str]) -> Result<&'a Map<String, Value>, ParamError> {
    let Value::Object(map) = v else {
        return Err(ParamError::NotAnObject(echo(&v.to_string())));
    };
    if let Some(unknown) = map.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(ParamError::UnknownField {
            field: echo(unknown),
            known: known.join(", "),
        });
    }
    Ok(map)
}

/// A present, non-null field.
pub(crate) fn field<'a>(map: &'a Map<String, Value>, name: &'static str) -> Option<&'a Value> {
    map.get(name).filter(|v| !v.is_null())
}

/// A required string field.
fn string<'a>(map: &'a Map<String, Value>, name: &'static str) -> Result<&'a str, ParamError> {
    match field(map, name) {
        None => Err(ParamError::MissingField(name)),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(ParamError::BadField {
            field: name,
            reason: format!("must be a string, got {}", echo(&other.to_string())),
        }),
    }
}

/// A non-negative integer: a JSON integer or a string of decimal digits, at most `max`.
pub fn amount(v: &Value, what: &'static str, max: u128) -> Result<u128, ParamError> {
    let bad = |reason: String| ParamError::BadField { field: what, reason };
    let n = match v {
        Value::Number(n) => n
            .as_u64()
            .map(u128::from)
            .ok_or_else(|| bad(format!("must be a non-negative integer, got {n}")))?,
        Value::String(s) => {
            // Digits only: `u128::from_str` alone would take a leading `+`.
            if s.is_empty() || s.len() > 39 || !s.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad(format!("must be a decimal integer string, got \"{}\"", echo(s))));
            }
            s.parse::<u128>().map_err(|_| bad(format!("{s} is too large")))?
        }
        other => {
            return Err(bad(format!(
                "must be an integer or a decimal string, got {}",
                echo(&other.to_string())
            )))
        }
    };
    if n > max {
        return Err(bad(format!("{n} is larger than {max}")));
    }
    Ok(n)
}

fn opt_balance(map: &Map<String, Value>, name: &'static str) -> Result<Option<Balance>, ParamError> {
    field(map, name).map(|v| amount(v, name, u128::MAX)).transpose()
}

fn opt_gas(map: &Map<String, Value>) -> Result<Option<u64>, ParamError> {
    // Bounded by u64::MAX, so the narrowing cannot fail.
    field(map, "gasLimit")
        .map(|v| amount(v, "gasLimit", u64::MAX as u128).map(|g| g as u64))
        .transpose()
}

fn opt_bytes(map: &Map<String, Value>, name: &'static str) -> Result<Option<Vec<u8>>, ParamError> {
    field(map, name)
        .map(|_| string(map, name).and_then(|s| bytes(s, name)))
        .transpose()
}

/// The `watt_contractCall` parameter object.
pub fn call_request(v: &Value) -> Result<CallRequest, ParamError> {
    let map = object(v, CALL_FIELDS)?;
    Ok(CallRequest {
        origin: account(string(map, "origin")?)?,
        dest: account(string(map, "dest")?)?,
        value: opt_balance(map, "value")?.unwrap_or(0),
        gas_limit: opt_gas(map)?,
        storage_deposit_limit: opt_balance(map, "storageDepositLimit")?,
        input: bytes(string(map, "input")?, "input")?,
    })
}

/// The `watt_contractInstantiate` parameter object: exactly one of `code` and `codeHash`.
pub fn instantiate_request(v: &Value) -> Result<InstantiateRequest, ParamError> {
    let map = object(v, INSTANTIATE_FIELDS)?;
    let code = match (field(map, "code"), field(map, "codeHash")) {
        (Some(_), None) => CodeSource::Upload(bytes(string(map, "code")?, "code")?),
        (None, Some(_)) => CodeSource::Existing(hash(string(map, "codeHash")?, "codeHash")?),
        (Some(_), Some(_)) => {
            return Err(ParamError::BadField {
                field: "code",
                reason: "give either code or codeHash, not both".into(),
            })
        }
        (None, None) => return Err(ParamError::MissingField("code (or codeHash)")),
    };
    Ok(InstantiateRequest {
        origin: account(string(map, "origin")?)?,
        value: opt_balance(map, "value")?.unwrap_or(0),
        gas_limit: opt_gas(map)?,
        storage_deposit_limit: opt_balance(map, "storageDepositLimit")?,
        code,
        input: bytes(string(map, "input")?, "input")?,
        salt: opt_bytes(map, "salt")?.unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    const ALICE_SS58: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";
    const BOB_SS58: &str = "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty";

    #[test]
    fn a_call_object_parses_with_defaults() {
        let r = call_request(&json!({"origin": ALICE_SS58, "dest": BOB_SS58, "input": "0x0102"})).unwrap();
        assert_eq!(r.origin.to_ss58(), ALICE_SS58);
        assert_eq!(r.dest.to_ss58(), BOB_SS58);
        assert_eq!(r.value, 0);
        assert_eq!(r.gas_limit, None);
        assert_eq!(r.storage_deposit_limit, None);
        assert_eq!(r.input, vec![1, 2]);
        let r = call_request(&json!({
            "origin": ALICE_SS58, "dest": BOB_SS58, "input": "0x",
            "value": "340282366920938463463374607431768211455", "gasLimit": "18446744073709551615",
            "storageDepositLimit": 7,
        }))
        .unwrap();
        assert_eq!(r.value, u128::MAX);
        assert_eq!(r.gas_limit, Some(u64::MAX));
        assert_eq!(r.storage_deposit_limit, Some(7));
    }

    #[test]
    fn call_objects_are_checked_strictly() {
        let base = json!({"origin": ALICE_SS58, "dest": BOB_SS58, "input": "0x"});
        let with = |k: &str, v: Value| {
            let mut o = base.clone();
            o[k] = v;
            o
        };
        let cases: Vec<(Value, &str)> = vec![
            (json!([ALICE_SS58]), "must be a JSON object"),
            (json!({"dest": BOB_SS58, "input": "0x"}), "missing field origin"),
            (with("gaslimit", json!(5)), "unknown field `gaslimit`"),
            (with("origin", json!("5Grw")), "invalid address"),
            (with("dest", json!(3)), "dest must be a string"),
            (with("input", json!("0102")), "input must be 0x-prefixed hex"),
            (with("input", json!("0x012")), "input is not valid hex"),
            (with("value", json!(-1)), "value must be a non-negative integer"),
            (with("value", json!(1.5)), "value must be a non-negative integer"),
            (with("value", json!("+5")), "value must be a decimal integer string"),
            (with("value", json!("1 ")), "value must be a decimal integer string"),
            (
                with("value", json!("340282366920938463463374607431768211456")),
                "too large",
            ),
            (with("gasLimit", json!("18446744073709551616")), "is larger than"),
            (
                with("storageDepositLimit", json!(true)),
                "must be an integer or a decimal string",
            ),
        ];
        for (v, want) in cases {
            let e = call_request(&v).unwrap_err().to_string();
            assert!(e.contains(want), "{v}: `{e}` lacks `{want}`");
        }
    }

    #[test]
    fn an_instantiate_object_takes_code_or_a_hash() {
        let r =
            instantiate_request(&json!({"origin": ALICE_SS58, "code": "0x0061736d", "input": "0x01", "salt": "0xff"}))
                .unwrap();
        assert_eq!(r.code, CodeSource::Upload(vec![0, 0x61, 0x73, 0x6d]));
        assert_eq!(r.salt, vec![0xff]);
        let h = format!("0x{}", "ab".repeat(32));
        let r = instantiate_request(&json!({"origin": ALICE_SS58, "codeHash": h, "input": "0x"})).unwrap();
        assert_eq!(r.code, CodeSource::Existing([0xab; 32]));
        assert_eq!(r.salt, Vec::<u8>::new());
        let both = json!({"origin": ALICE_SS58, "codeHash": h, "code": "0x", "input": "0x"});
        assert!(instantiate_request(&both).unwrap_err().to_string().contains("not both"));
        let neither = json!({"origin": ALICE_SS58, "input": "0x"});
        assert!(instantiate_request(&neither)
            .unwrap_err()
            .to_string()
            .contains("missing field code"));
        let short = json!({"origin": ALICE_SS58, "codeHash": "0xabcd", "input": "0x"});
        assert!(instantiate_request(&short)
            .unwrap_err()
            .to_string()
            .contains("32 bytes"));
        let dest = json!({"origin": ALICE_SS58, "code": "0x", "input": "0x", "dest": BOB_SS58});
        assert!(instantiate_request(&dest)
            .unwrap_err()
            .to_string()
            .contains("unknown field `dest`"));
    }

    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            "(0x)?[0-9a-f]{0,10}|\\PC{0,20}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            let keys = prop::sample::select(vec![
                "origin",
                "dest",
                "value",
                "gasLimit",
                "storageDepositLimit",
                "input",
                "code",
                "codeHash",
                "salt",
                "x",
            ]);
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(keys.prop_map(String::from), inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Any JSON at all is parsed or refused, never a panic.
        #[test]
        fn arbitrary_objects_never_panic(v in any_json()) {
            let _ = call_request(&v);
            let _ = instantiate_request(&v);
        }

        /// Amounts survive their two JSON forms.
        #[test]
        fn amounts_round_trip(n in any::<u128>(), small in any::<u64>()) {
            prop_assert_eq!(amount(&json!(n.to_string()), "value", u128::MAX), Ok(n));
            prop_assert_eq!(amount(&json!(small), "value", u128::MAX), Ok(small as u128));
        }

        /// Whatever the amount parser accepts from a string is plain decimal digits.
        #[test]
        fn accepted_amount_text_is_digits(s in "[0-9+\\- .e]{0,42}") {
            if let Ok(n) = amount(&Value::String(s.clone()), "value", u128::MAX) {
                prop_assert!(s.bytes().all(|b| b.is_ascii_digit()));
                prop_assert_eq!(s.parse::<u128>().ok(), Some(n));
            }
        }
    }
}
