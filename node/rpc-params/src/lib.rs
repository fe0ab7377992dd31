//! Parsers of the JSON-RPC parameters Watt's methods take: 0x-hex bytes (storage keys, call
//! data, transactions), 32-byte hashes, account addresses and block numbers, and the parameter
//! objects of the contract dry-runs ([`contracts`]).
//!
//! Every parameter is untrusted input from the network. These parsers live in their own crate,
//! with no dependency on the executor or the store, so that they can be fuzzed
//! (`fuzz/fuzz_targets/rpc_params.rs`) and property-tested cheaply; `watt-rpc` maps their
//! [`ParamError`] to JSON-RPC "invalid params" (-32602).
//!
//! The parsers are strict: no signs, no whitespace, no missing `0x`, no length that does not
//! fit, and an address only in its canonical text, so that what a client sent is what it meant.

use serde_json::Value;
use watt_primitives::{AccountId, BlockNumber, Hash};

/// Most storage keys one `state_getReadProof` request may ask for.
pub const MAX_PROOF_KEYS: usize = 1024;

/// Longest address text: `0x` and 64 hex digits (SS58 forms are at most 50 characters).
pub const MAX_ADDRESS_LEN: usize = 66;

/// Most characters of the offending input an error repeats: the input may be megabytes long.
const ECHO_LIMIT: usize = 80;

/// Why a parameter was refused. The messages go back to the RPC caller as they are.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ParamError {
    /// Hex without the `0x` prefix.
    #[error("{what} must be 0x-prefixed hex")]
    NotPrefixed {
        /// Which parameter.
        what: &'static str,
    },
    /// Not hex digits, or an odd number of them.
    #[error("{what} is not valid hex: {reason}")]
    BadHex {
        /// Which parameter.
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// Hex of the wrong length for a fixed-size value.
    #[error("{what} must be {expected} bytes ({} hex digits), got {got} hex digits", expected * 2)]
    WrongLength {
        /// Which parameter.
        what: &'static str,
        /// Bytes expected.
        expected: usize,
        /// Hex digits given.
        got: usize,
    },
    /// Not an address of this chain.
    #[error("invalid address `{input}`: {reason}")]
    BadAddress {
        /// The start of the input.
        input: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Not a block number.
    #[error("block number must be a non-negative integer or 0x-prefixed hex of at most 16 digits, got {0}")]
    BadBlockNumber(String),
    /// A parameter object is something else.
    #[error("parameters must be a JSON object, got {0}")]
    NotAnObject(String),
    /// A parameter object has a field the method does not know.
    #[error("unknown field `{field}` (known fields: {known})")]
    UnknownField {
        /// The field (its start).
        field: String,
        /// The fields the method takes.
        known: String,
    },
    /// A required field of a parameter object is absent or null.
    #[error("missing field {0}")]
    MissingField(&'static str),
    /// A field of a parameter object has the wrong type or value.
    #[error("{field} {reason}")]
    BadField {
        /// The field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A list longer than the method allows.
    #[error("at most {max} {what} per request, got {got}")]
    TooMany {
        /// What is listed.
        what: &'static str,
        /// The limit.
        max: usize,
        /// How many were given.
        got: usize,
    },
}

/// The first [`ECHO_LIMIT`] characters of `s`, marked when cut.
fn echo(s: &str) -> String {
    match s.char_indices().nth(ECHO_LIMIT) {
        None => s.to_string(),
        Some((end, _)) => format!("{}…", &s[..end]),
    }
}

/// `0x`-prefixed hex, any length (including none), digits in either case.
pub fn bytes(s: &str, what: &'static str) -> Result<Vec<u8>, ParamError> {
    let digits = s.strip_prefix("0x").ok_or(ParamError::NotPrefixed { what })?;
    hex::decode(digits).map_err(|e| ParamError::BadHex {
        what,
        reason: e.to_string(),
    })
}

/// `0x`-prefixed hex of exactly 32 bytes.
pub fn hash(s: &str, what: &'static str) -> Result<Hash, ParamError> {
    let digits = s.strip_prefix("0x").ok_or(ParamError::NotPrefixed { what })?;
    // Length first: a wrong-sized value is refused without decoding all of it.
    if digits.len() != 64 {
        return Err(ParamError::WrongLength {
            what,
            expected: 32,
            got: digits.chars().count(),
        });
    }
    let mut out = [0u8; 32];
    hex::decode_to_slice(digits, &mut out).map_err(|e| ParamError::BadHex {
        what,
        reason: e.to_string(),
    })?;
    Ok(out)
}

/// An optional hash (`at` parameters: absent means the best block).
pub fn opt_hash(s: Option<&str>, what: &'static str) -> Result<Option<Hash>, ParamError> {
    s.map(|s| hash(s, what)).transpose()
}

/// An account: its SS58 address with Watt's prefix, or the `0x` hex of its 32-byte public key.
///
/// Only the canonical SS58 text is taken. SS58 also has a two-byte prefix form, and an address
/// spelling Watt's prefix in it would name the same account under a second text; `from_ss58`
/// accepts that (as Substrate does), the RPC does not.
pub fn account(s: &str) -> Result<AccountId, ParamError> {
    // Base58 decoding takes time quadratic in the length: a megabyte "address" kept a core busy
    // for minutes before this check. No address form is longer than the hex one.
    if s.len() > MAX_ADDRESS_LEN {
        return Err(ParamError::BadAddress {
            input: echo(s),
            reason: format!("{} bytes long, no address is longer than {MAX_ADDRESS_LEN}", s.len()),
        });
    }
    if s.starts_with("0x") {
        // Parsed here rather than by `from_ss58`, whose hex branch takes each digit pair through
        // `u8::from_str_radix` and so also accepts a sign (`0x+1+1…`).
        return hash(s, "address")
            .map(AccountId::from)
            .map_err(|e| ParamError::BadAddress {
                input: echo(s),
                reason: e.to_string(),
            });
    }
    let account = AccountId::from_ss58(s).map_err(|e| ParamError::BadAddress {
        input: echo(s),
        reason: e.to_string(),
    })?;
    if account.to_ss58() != s {
        return Err(ParamError::BadAddress {
            input: echo(s),
            reason: "not the canonical SS58 form of this account".into(),
        });
    }
    Ok(account)
}

/// A block number: absent or `null` (the best block, `None`), a JSON integer, or `0x` hex of
/// 1 to 16 digits. A string without `0x` is refused rather than guessed at: `"10"` would be
/// ten to a person and sixteen to a hex parser.
pub fn block_number(v: Option<&Value>) -> Result<Option<BlockNumber>, ParamError> {
    let bad = |v: &Value| ParamError::BadBlockNumber(echo(&v.to_string()));
    match v {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => n.as_u64().map(Some).ok_or_else(|| bad(v)),
        Some(v @ Value::String(s)) => {
            let digits = s.strip_prefix("0x").ok_or_else(|| bad(v))?;
            // `from_str_radix` alone would take a sign (`0x+5`) and any number of leading zeros.
            if digits.is_empty() || digits.len() > 16 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(bad(v));
            }
            u64::from_str_radix(digits, 16).map(Some).map_err(|_| bad(v))
        }
        Some(v) => Err(bad(v)),
    }
}

/// The storage keys of a proof request: at most [`MAX_PROOF_KEYS`], each `0x` hex.
pub fn storage_keys(keys: &[String]) -> Result<Vec<Vec<u8>>, ParamError> {
    if keys.len() > MAX_PROOF_KEYS {
        return Err(ParamError::TooMany {
            what: "keys",
            max: MAX_PROOF_KEYS,
            got: keys.len(),
        });
    }
    keys.iter().map(|k| bytes(k, "storage key")).collect()
}

/// Where a page of a long list starts and how many entries it may hold at most: the `page`
/// parameter of `watt_events` and `watt_receipt`, `{"offset"?: n, "limit"?: m}` (JSON integers
/// or decimal strings; `offset` absent means 0, `limit` absent means as many as fit the page's
/// byte budget). The server bounds every page by bytes as well, so `limit` only shrinks it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// Index of the first entry.
    pub offset: u64,
    /// Most entries (`None`: as many as the byte budget allows).
    pub limit: Option<u64>,
}

/// The fields of a page object.
const PAGE_FIELDS: &[&str] = &["offset", "limit"];

/// A page parameter: absent or `null` (`None`: the method's unpaged form), else an object as
/// [`PageRequest`] describes. `limit` must be at least 1.
pub fn page(v: Option<&Value>) -> Result<Option<PageRequest>, ParamError> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let map = contracts::object(v, PAGE_FIELDS)?;
    let int = |name: &'static str| {
        contracts::field(map, name)
            .map(|v| contracts::amount(v, name, u64::MAX as u128).map(|n| n as u64))
            .transpose()
    };
    let offset = int("offset")?.unwrap_or(0);
    let limit = int("limit")?;
    if limit == Some(0) {
        return Err(ParamError::BadField {
            field: "limit",
            reason: "must be at least 1".into(),
        });
    }
    Ok(Some(PageRequest { offset, limit }))
}

pub mod contracts;

#[cfg(test)]
mod tests;
