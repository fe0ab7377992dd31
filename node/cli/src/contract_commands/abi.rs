//! Contract metadata (ABI.md "Metadata") and the mapping between JSON values and SCALE bytes
//! through the metadata's Rust type spellings, both ways.
//!
//! Supported types: `u8`..`u128`, `i8`..`i128`, `bool`, `String`, `AccountId` (SS58 or `0x`
//! hex in, SS58 out), `Hash` and `[u8; N]` and `Vec<u8>` (`0x` hex), `Option<T>` (`null` or a
//! `T`), `Result<T, E>` (`{"ok": ..}` / `{"err": ..}`), `()` (`null`), `Vec<T>`, `[T; N]` and
//! tuples (JSON arrays), and the SDK's aliases `Balance` (u128), `BlockNumber`, `Timestamp`,
//! `Gas` (u64). Integers come from JSON numbers or decimal strings; they go out as numbers up
//! to 2^53 - 1 (exact in every JSON reader) and as decimal strings above. Any other type is
//! refused with its name, except where nothing follows it: the error type of a returned
//! `Result` (an enum the metadata does not describe) decodes as the hex of its bytes.

use anyhow::{anyhow, bail, Context, Result};
use parity_scale_codec::{Compact, Decode, Encode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use watt_primitives::AccountId;

/// Largest integer written as a JSON number: 2^53 - 1, exact in JavaScript too.
pub const MAX_SAFE_INTEGER: u128 = (1 << 53) - 1;

/// Most elements a decoded sequence may claim before its bytes are read: a hostile length
/// prefix must not reserve gigabytes.
const MAX_DECODED_LEN: u64 = 1 << 20;

/// Deepest type nesting parsed (bounds recursion on odd metadata).
const MAX_TYPE_DEPTH: usize = 32;

/// A constructor or message argument.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arg {
    /// Its name.
    pub name: String,
    /// Its Rust type.
    #[serde(rename = "type")]
    pub ty: String,
}

/// A constructor or message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Callable {
    /// Its name.
    pub name: String,
    /// `0x` and 8 hex digits.
    pub selector: String,
    /// Whether it changes state (messages).
    #[serde(default)]
    pub mutates: bool,
    /// Whether it accepts value.
    #[serde(default)]
    pub payable: bool,
    /// Arguments, in order.
    #[serde(default)]
    pub args: Vec<Arg>,
    /// Return type (messages); `()` when absent.
    #[serde(default)]
    pub returns: Option<String>,
}

/// An event field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventField {
    /// Its name.
    pub name: String,
    /// Its Rust type.
    #[serde(rename = "type")]
    pub ty: String,
    /// Whether it is also a topic.
    #[serde(default)]
    pub topic: bool,
}

/// An event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDef {
    /// Its name.
    pub name: String,
    /// Its index (the first byte of its data).
    pub index: u8,
    /// Its fields.
    #[serde(default)]
    pub fields: Vec<EventField>,
}

/// A contract's metadata.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// `watt_v1`.
    pub abi: String,
    /// The contract's name.
    pub name: String,
    /// Constructors.
    pub constructors: Vec<Callable>,
    /// Messages.
    pub messages: Vec<Callable>,
    /// Events.
    #[serde(default)]
    pub events: Vec<EventDef>,
}

impl Metadata {
    /// Parses metadata JSON.
    pub fn parse(text: &[u8]) -> Result<Self> {
        let m: Metadata = serde_json::from_slice(text).context("not contract metadata (ABI.md \"Metadata\")")?;
        if m.abi != "watt_v1" {
            bail!("metadata is for ABI `{}`; this tool speaks watt_v1", m.abi);
        }
        Ok(m)
    }

    fn find<'a>(list: &'a [Callable], name: &str, what: &str) -> Result<&'a Callable> {
        list.iter().find(|c| c.name == name).ok_or_else(|| {
            let names: Vec<&str> = list.iter().map(|c| c.name.as_str()).collect();
            anyhow!("no {what} `{name}`; this contract has: {}", names.join(", "))
        })
    }

    /// The constructor `name`.
    pub fn constructor(&self, name: &str) -> Result<&Callable> {
        Self::find(&self.constructors, name, "constructor")
    }

    /// The message `name`.
    pub fn message(&self, name: &str) -> Result<&Callable> {
        Self::find(&self.messages, name, "message")
    }

    /// An event's data decoded through its fields: `{"name", "fields": {..}}`, or `None` when
    /// no event of the data's index decodes it.
    pub fn decode_event(&self, data: &[u8]) -> Option<Value> {
        let (index, mut rest) = data.split_first()?;
        let ev = self.events.iter().find(|e| e.index == *index)?;
        let mut fields = serde_json::Map::new();
        for f in &ev.fields {
            let ty = Ty::parse(&f.ty).ok()?;
            fields.insert(f.name.clone(), decode(&ty, &mut rest, false).ok()?);
        }
        rest.is_empty().then(|| json!({"name": ev.name, "fields": fields}))
    }
}

impl Callable {
    /// The 4 selector bytes.
    pub fn selector_bytes(&self) -> Result<[u8; 4]> {
        let digits = self.selector.strip_prefix("0x").unwrap_or(&self.selector);
        let mut out = [0u8; 4];
        hex::decode_to_slice(digits, &mut out)
            .map_err(|e| anyhow!("metadata selector `{}` of {}: {e}", self.selector, self.name))?;
        Ok(out)
    }

    /// Input bytes: the selector and the SCALE arguments, from a JSON array in order (or an
    /// object by argument name).
    pub fn encode_input(&self, args: &Value) -> Result<Vec<u8>> {
        let values: Vec<&Value> = match args {
            Value::Array(a) => {
                if a.len() != self.args.len() {
                    bail!(
                        "{} takes {} argument(s) ({}), got {}",
                        self.name,
                        self.args.len(),
                        self.signature(),
                        a.len()
                    );
                }
                a.iter().collect()
            }
            Value::Object(o) => {
                if let Some(k) = o.keys().find(|k| !self.args.iter().any(|a| &a.name == *k)) {
                    bail!("{} has no argument `{k}` ({})", self.name, self.signature());
                }
                self.args
                    .iter()
                    .map(|a| {
                        o.get(&a.name)
                            .ok_or_else(|| anyhow!("{}: argument `{}` missing", self.name, a.name))
                    })
                    .collect::<Result<_>>()?
            }
            Value::Null if self.args.is_empty() => vec![],
            other => bail!("--args must be a JSON array (or object by name), got {other}"),
        };
        let mut out = self.selector_bytes()?.to_vec();
        for (arg, v) in self.args.iter().zip(values) {
            let ty = Ty::parse(&arg.ty)?;
            encode(&ty, v, &mut out).with_context(|| format!("argument `{}` ({})", arg.name, arg.ty))?;
        }
        Ok(out)
    }

    /// `name: type, ...`.
    pub fn signature(&self) -> String {
        self.args
            .iter()
            .map(|a| format!("{}: {}", a.name, a.ty))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The return type spelling (`()` when none).
    pub fn returns(&self) -> &str {
        self.returns.as_deref().unwrap_or("()")
    }
}

/// A type the mapping knows, parsed from its Rust spelling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    /// Unsigned integer of this many bits.
    U(u32),
    /// Signed integer of this many bits.
    I(u32),
    /// `bool`.
    Bool,
    /// `String`.
    Str,
    /// `AccountId`.
    AccountId,
    /// `Vec<u8>`: hex.
    Bytes,
    /// `[u8; N]` (and `Hash`): hex.
    ByteArray(usize),
    /// `Vec<T>`.
    Vec(Box<Ty>),
    /// `[T; N]`.
    Array(Box<Ty>, usize),
    /// `Option<T>`.
    Option(Box<Ty>),
    /// `Result<T, E>`.
    Result(Box<Ty>, Box<Ty>),
    /// `(A, B, ..)`; `()` when empty.
    Tuple(Vec<Ty>),
    /// A type the metadata names but does not describe.
    Named(String),
}

/// Splits `a, b<c, d>, e` at its top-level commas.
fn split_top(s: &str) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '<' | '(' | '[' => depth += 1,
            '>' | ')' | ']' => depth -= 1,
            ',' if depth == 0 => {
                out.push(s[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    let last = s[start..].trim();
    if !last.is_empty() {
        out.push(last);
    }
    out
}

impl Ty {
    /// Parses a metadata type spelling.
    pub fn parse(s: &str) -> Result<Ty> {
        Self::parse_at(s.trim(), 0).with_context(|| format!("type `{s}`"))
    }

    fn parse_at(s: &str, depth: usize) -> Result<Ty> {
        if depth > MAX_TYPE_DEPTH {
            bail!("nested too deeply");
        }
        let inner = |t: &str| Self::parse_at(t.trim(), depth + 1);
        if let Some(body) = s.strip_prefix('(').and_then(|r| r.strip_suffix(')')) {
            return Ok(Ty::Tuple(
                split_top(body).into_iter().map(inner).collect::<Result<_>>()?,
            ));
        }
        if let Some(body) = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let parts: Vec<&str> = body.rsplitn(2, ';').collect();
            let [len, elem] = parts[..] else {
                bail!("a slice has no fixed size; use Vec")
            };
            let len: usize = len
                .trim()
                .parse()
                .map_err(|_| anyhow!("array length `{}`", len.trim()))?;
            return Ok(match inner(elem)? {
                Ty::U(8) => Ty::ByteArray(len),
                t => Ty::Array(Box::new(t), len),
            });
        }
        if let Some((name, rest)) = s.split_once('<') {
            let body = rest.strip_suffix('>').ok_or_else(|| anyhow!("unbalanced `<`"))?;
            let args = split_top(body);
            return match (name.trim(), &args[..]) {
                ("Vec", [t]) => Ok(match inner(t)? {
                    Ty::U(8) => Ty::Bytes,
                    t => Ty::Vec(Box::new(t)),
                }),
                ("Option", [t]) => Ok(Ty::Option(Box::new(inner(t)?))),
                ("Result", [t, e]) => Ok(Ty::Result(Box::new(inner(t)?), Box::new(inner(e)?))),
                ("Box", [t]) => inner(t),
                _ => Ok(Ty::Named(s.to_string())),
            };
        }
        Ok(match s {
            "u8" => Ty::U(8),
            "u16" => Ty::U(16),
            "u32" => Ty::U(32),
            "u64" | "BlockNumber" | "Timestamp" | "Gas" => Ty::U(64),
            "u128" | "Balance" => Ty::U(128),
            "i8" => Ty::I(8),
            "i16" => Ty::I(16),
            "i32" => Ty::I(32),
            "i64" => Ty::I(64),
            "i128" => Ty::I(128),
            "bool" => Ty::Bool,
            "String" | "str" | "&str" => Ty::Str,
            "AccountId" => Ty::AccountId,
            "Hash" => Ty::ByteArray(32),
            "" => bail!("empty type"),
            other => Ty::Named(other.to_string()),
        })
    }
}

fn unsupported(name: &str) -> anyhow::Error {
    anyhow!("type `{name}` is not described by the metadata and has no JSON mapping (supported: integers, bool, String, AccountId, Hash, [u8; N], Vec, Option, Result, tuples)")
}

/// An unsigned integer from a JSON number or decimal string.
fn json_uint(v: &Value) -> Result<u128> {
    match v {
        Value::Number(n) => n
            .as_u64()
            .map(u128::from)
            .ok_or_else(|| anyhow!("{n} is not a non-negative integer")),
        Value::String(s) if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
            s.parse().map_err(|_| anyhow!("{s} is too large"))
        }
        other => bail!("expected an integer (number or decimal string), got {other}"),
    }
}

/// A signed integer from a JSON number or decimal string.
fn json_int(v: &Value) -> Result<i128> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .map(i128::from)
            .ok_or_else(|| anyhow!("{n} is not an integer in range")),
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                bail!("expected an integer, got \"{s}\"");
            }
            s.parse().map_err(|_| anyhow!("{s} is out of range"))
        }
        other => bail!("expected an integer (number or decimal string), got {other}"),
    }
}

fn json_hex(v: &Value) -> Result<Vec<u8>> {
    let s = v.as_str().ok_or_else(|| anyhow!("expected 0x hex, got {v}"))?;
    let digits = s
        .strip_prefix("0x")
        .ok_or_else(|| anyhow!("expected 0x hex, got \"{s}\""))?;
    hex::decode(digits).map_err(|e| anyhow!("\"{s}\" is not hex: {e}"))
}

fn json_list<'a>(v: &'a Value, len: Option<usize>) -> Result<&'a Vec<Value>> {
    let a = v.as_array().ok_or_else(|| anyhow!("expected a JSON array, got {v}"))?;
    if let Some(n) = len {
        if a.len() != n {
            bail!("expected {n} elements, got {}", a.len());
        }
    }
    Ok(a)
}

/// Appends the SCALE encoding of JSON `v` as type `ty`.
pub fn encode(ty: &Ty, v: &Value, out: &mut Vec<u8>) -> Result<()> {
    match ty {
        Ty::U(bits) => {
            let n = json_uint(v)?;
            if *bits < 128 && n >> bits != 0 {
                bail!("{n} does not fit u{bits}");
            }
            out.extend_from_slice(&n.to_le_bytes()[..(*bits / 8) as usize]);
        }
        Ty::I(bits) => {
            let n = json_int(v)?;
            let fits = *bits == 128 || (n >= -(1i128 << (bits - 1)) && n < (1i128 << (bits - 1)));
            if !fits {
                bail!("{n} does not fit i{bits}");
            }
            out.extend_from_slice(&n.to_le_bytes()[..(*bits / 8) as usize]);
        }
        Ty::Bool => v
            .as_bool()
            .ok_or_else(|| anyhow!("expected true or false, got {v}"))?
            .encode_to(out),
        Ty::Str => v
            .as_str()
            .ok_or_else(|| anyhow!("expected a string, got {v}"))?
            .encode_to(out),
        Ty::AccountId => {
            let s = v
                .as_str()
                .ok_or_else(|| anyhow!("expected an SS58 address or 0x hex, got {v}"))?;
            let a = watt_rpc_params_account(s)?;
            out.extend_from_slice(a.as_bytes());
        }
        Ty::Bytes => json_hex(v)?.encode_to(out),
        Ty::ByteArray(n) => {
            let b = json_hex(v)?;
            if b.len() != *n {
                bail!("expected {n} bytes of hex, got {}", b.len());
            }
            out.extend_from_slice(&b);
        }
        Ty::Vec(t) => {
            let a = json_list(v, None)?;
            Compact(a.len() as u32).encode_to(out);
            for (i, e) in a.iter().enumerate() {
                encode(t, e, out).with_context(|| format!("element {i}"))?;
            }
        }
        Ty::Array(t, n) => {
            for (i, e) in json_list(v, Some(*n))?.iter().enumerate() {
                encode(t, e, out).with_context(|| format!("element {i}"))?;
            }
        }
        Ty::Option(t) => match v {
            Value::Null => out.push(0),
            v => {
                out.push(1);
                encode(t, v, out)?;
            }
        },
        Ty::Result(t, e) => {
            let o = v
                .as_object()
                .filter(|o| o.len() == 1)
                .ok_or_else(|| anyhow!("expected {{\"ok\": ..}} or {{\"err\": ..}}, got {v}"))?;
            match (o.get("ok"), o.get("err")) {
                (Some(x), _) => {
                    out.push(0);
                    encode(t, x, out)?;
                }
                (_, Some(x)) => {
                    out.push(1);
                    encode(e, x, out)?;
                }
                _ => bail!("expected {{\"ok\": ..}} or {{\"err\": ..}}, got {v}"),
            }
        }
        Ty::Tuple(ts) if ts.is_empty() => {
            if !v.is_null() && v.as_array().is_none_or(|a| !a.is_empty()) {
                bail!("expected null for (), got {v}");
            }
        }
        Ty::Tuple(ts) => {
            for (i, (t, e)) in ts.iter().zip(json_list(v, Some(ts.len()))?).enumerate() {
                encode(t, e, out).with_context(|| format!("tuple element {i}"))?;
            }
        }
        Ty::Named(n) => return Err(unsupported(n)),
    }
    Ok(())
}

/// An account from SS58 text or `0x` and 64 hex digits.
fn watt_rpc_params_account(s: &str) -> Result<AccountId> {
    if s.starts_with("0x") {
        let b = json_hex(&Value::String(s.into()))?;
        let arr: [u8; 32] = b.try_into().map_err(|_| anyhow!("an account is 32 bytes of hex"))?;
        return Ok(AccountId(arr));
    }
    AccountId::from_ss58(s).map_err(|e| anyhow!("invalid address `{s}`: {e}"))
}

fn take<'a>(input: &mut &'a [u8], n: usize) -> Result<&'a [u8]> {
    if input.len() < n {
        bail!("output ends early: {n} bytes needed, {} left", input.len());
    }
    let (head, rest) = input.split_at(n);
    *input = rest;
    Ok(head)
}

/// A JSON number when exact everywhere, else a decimal string.
fn json_number(n: i128) -> Value {
    if n.unsigned_abs() <= MAX_SAFE_INTEGER {
        json!(n as i64)
    } else {
        json!(n.to_string())
    }
}

fn decode_len(input: &mut &[u8]) -> Result<usize> {
    let n = Compact::<u32>::decode(input)
        .map_err(|e| anyhow!("length prefix: {e}"))?
        .0 as u64;
    // Elements are decoded one by one (an early end stops the loop), so only zero-sized
    // elements could make a large count expensive: capped for them too.
    if n > MAX_DECODED_LEN {
        bail!("length {n} is implausible");
    }
    Ok(n as usize)
}

/// Decodes one value of `ty` from `input`. `tail`: nothing follows it, so an undescribed type
/// takes the rest of the bytes as hex.
pub fn decode(ty: &Ty, input: &mut &[u8], tail: bool) -> Result<Value> {
    Ok(match ty {
        Ty::U(bits) => {
            let mut b = [0u8; 16];
            b[..(*bits / 8) as usize].copy_from_slice(take(input, (*bits / 8) as usize)?);
            let n = u128::from_le_bytes(b);
            if n <= MAX_SAFE_INTEGER {
                json!(n as u64)
            } else {
                json!(n.to_string())
            }
        }
        Ty::I(bits) => {
            let bytes = (*bits / 8) as usize;
            let raw = take(input, bytes)?;
            let fill = if raw[bytes - 1] & 0x80 != 0 { 0xff } else { 0 };
            let mut b = [fill; 16];
            b[..bytes].copy_from_slice(raw);
            json_number(i128::from_le_bytes(b))
        }
        Ty::Bool => match take(input, 1)?[0] {
            0 => json!(false),
            1 => json!(true),
            b => bail!("bool byte {b}"),
        },
        Ty::Str => {
            let n = decode_len(input)?;
            let s = std::str::from_utf8(take(input, n)?).map_err(|e| anyhow!("string is not UTF-8: {e}"))?;
            json!(s)
        }
        Ty::AccountId => {
            let b: [u8; 32] = take(input, 32)?.try_into().expect("32 bytes taken");
            json!(AccountId(b).to_ss58())
        }
        Ty::Bytes => {
            let n = decode_len(input)?;
            json!(format!("0x{}", hex::encode(take(input, n)?)))
        }
        Ty::ByteArray(n) => json!(format!("0x{}", hex::encode(take(input, *n)?))),
        Ty::Vec(t) => {
            let n = decode_len(input)?;
            let mut a = Vec::new();
            for _ in 0..n {
                a.push(decode(t, input, false)?);
            }
            Value::Array(a)
        }
        Ty::Array(t, n) => {
            if *n as u64 > MAX_DECODED_LEN {
                bail!("array of {n} elements is implausible");
            }
            Value::Array((0..*n).map(|_| decode(t, input, false)).collect::<Result<_>>()?)
        }
        Ty::Option(t) => match take(input, 1)?[0] {
            0 => Value::Null,
            1 => decode(t, input, tail)?,
            b => bail!("Option tag {b}"),
        },
        Ty::Result(t, e) => match take(input, 1)?[0] {
            0 => json!({"ok": decode(t, input, tail)?}),
            1 => json!({"err": decode(e, input, tail)?}),
            b => bail!("Result tag {b}"),
        },
        Ty::Tuple(ts) if ts.is_empty() => Value::Null,
        Ty::Tuple(ts) => {
            let last = ts.len() - 1;
            Value::Array(
                ts.iter()
                    .enumerate()
                    .map(|(i, t)| decode(t, input, tail && i == last))
                    .collect::<Result<_>>()?,
            )
        }
        Ty::Named(_) if tail => {
            let rest = std::mem::take(input);
            json!(format!("0x{}", hex::encode(rest)))
        }
        Ty::Named(n) => return Err(unsupported(n)),
    })
}

/// Decodes all of `bytes` as `ty`; bytes left over are an error.
pub fn decode_all(ty: &Ty, bytes: &[u8]) -> Result<Value> {
    let mut input = bytes;
    let v = decode(ty, &mut input, true)?;
    if !input.is_empty() {
        bail!("{} bytes left after the value", input.len());
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALICE_SS58: &str = "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY";

    fn enc(ty: &str, v: Value) -> Result<Vec<u8>> {
        let mut out = vec![];
        encode(&Ty::parse(ty)?, &v, &mut out)?;
        Ok(out)
    }

    #[test]
    fn types_parse_from_their_rust_spelling() {
        assert_eq!(Ty::parse("u128").unwrap(), Ty::U(128));
        assert_eq!(Ty::parse("Balance").unwrap(), Ty::U(128));
        assert_eq!(Ty::parse("Vec<u8>").unwrap(), Ty::Bytes);
        assert_eq!(Ty::parse("[u8; 32]").unwrap(), Ty::ByteArray(32));
        assert_eq!(Ty::parse("Hash").unwrap(), Ty::ByteArray(32));
        assert_eq!(
            Ty::parse("Result<(), Error>").unwrap(),
            Ty::Result(Box::new(Ty::Tuple(vec![])), Box::new(Ty::Named("Error".into())))
        );
        assert_eq!(
            Ty::parse("Option<(AccountId, Vec<u32>)>").unwrap(),
            Ty::Option(Box::new(Ty::Tuple(vec![Ty::AccountId, Ty::Vec(Box::new(Ty::U(32)))])))
        );
        assert!(Ty::parse("[u8]").is_err());
        assert!(Ty::parse(&format!("{}u8{}", "Option<".repeat(40), ">".repeat(40))).is_err());
    }

    #[test]
    fn arguments_encode_as_scale() {
        // Values written out by hand from the SCALE spec, not by the encoder under test.
        assert_eq!(enc("u128", json!(250)).unwrap(), [&[250u8][..], &[0; 15]].concat());
        assert_eq!(enc("u32", json!("258")).unwrap(), vec![2, 1, 0, 0]);
        assert_eq!(enc("i16", json!(-2)).unwrap(), vec![0xfe, 0xff]);
        assert_eq!(enc("bool", json!(true)).unwrap(), vec![1]);
        assert_eq!(enc("String", json!("hi")).unwrap(), vec![8, b'h', b'i']);
        assert_eq!(enc("Vec<u8>", json!("0x0102")).unwrap(), vec![8, 1, 2]);
        assert_eq!(enc("[u8; 2]", json!("0x0102")).unwrap(), vec![1, 2]);
        assert_eq!(enc("Option<u8>", json!(null)).unwrap(), vec![0]);
        assert_eq!(enc("Option<u8>", json!(5)).unwrap(), vec![1, 5]);
        assert_eq!(enc("Vec<u16>", json!([1, 2])).unwrap(), vec![8, 1, 0, 2, 0]);
        assert_eq!(enc("(u8, bool)", json!([7, false])).unwrap(), vec![7, 0]);
        assert_eq!(enc("Result<u8, u8>", json!({"err": 3})).unwrap(), vec![1, 3]);
        let alice = enc("AccountId", json!(ALICE_SS58)).unwrap();
        assert_eq!(
            hex::encode(&alice),
            "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"
        );
        let by_hex = enc(
            "AccountId",
            json!("0xd43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d"),
        );
        assert_eq!(by_hex.unwrap(), alice);
    }

    #[test]
    fn bad_arguments_are_refused_clearly() {
        let cases = [
            ("u8", json!(256), "does not fit u8"),
            ("u8", json!(-1), "not a non-negative integer"),
            ("u128", json!("+1"), "expected an integer"),
            ("i8", json!(128), "does not fit i8"),
            ("bool", json!(1), "true or false"),
            ("AccountId", json!("5Grw"), "invalid address"),
            ("[u8; 2]", json!("0x01"), "expected 2 bytes"),
            ("Vec<u8>", json!("0102"), "expected 0x hex"),
            ("Error", json!("x"), "type `Error` is not described"),
            ("Result<(), u8>", json!({"oops": 1}), "\"ok\""),
        ];
        for (ty, v, want) in cases {
            let e = format!("{:#}", enc(ty, v.clone()).unwrap_err());
            assert!(e.contains(want), "{ty} {v}: `{e}` lacks `{want}`");
        }
    }

    #[test]
    fn return_values_decode_to_json() {
        let u128_of = |n: u128| n.to_le_bytes().to_vec();
        assert_eq!(decode_all(&Ty::U(128), &u128_of(250)).unwrap(), json!(250));
        assert_eq!(
            decode_all(&Ty::U(128), &u128_of(1 << 60)).unwrap(),
            json!("1152921504606846976")
        );
        assert_eq!(decode_all(&Ty::I(8), &[0xff]).unwrap(), json!(-1));
        // `Result<(), Error>`: Ok(()) is [0]; Err(the second variant) is [1, 1].
        let ty = Ty::parse("Result<(), Error>").unwrap();
        assert_eq!(decode_all(&ty, &[0]).unwrap(), json!({"ok": null}));
        assert_eq!(decode_all(&ty, &[1, 1]).unwrap(), json!({"err": "0x01"}));
        assert!(decode_all(&Ty::U(32), &[1, 2, 3]).is_err(), "too short");
        assert!(decode_all(&Ty::U(8), &[1, 2]).is_err(), "left over");
        assert!(
            decode_all(&Ty::parse("(Error, u8)").unwrap(), &[1, 2]).is_err(),
            "not at the tail"
        );
    }

    #[test]
    fn events_decode_through_the_metadata() {
        let m = Metadata::parse(
            br#"{"abi":"watt_v1","name":"t","constructors":[],"messages":[],
            "events":[{"name":"Flipped","index":0,"fields":[{"name":"value","type":"bool","topic":false}]}]}"#,
        )
        .unwrap();
        assert_eq!(
            m.decode_event(&[0, 1]),
            Some(json!({"name": "Flipped", "fields": {"value": true}}))
        );
        assert_eq!(m.decode_event(&[1, 1]), None);
        assert_eq!(m.decode_event(&[0, 1, 5]), None);
    }

    #[test]
    fn inputs_are_the_selector_then_the_arguments() {
        let m = Metadata::parse(
            br#"{"abi":"watt_v1","name":"t","constructors":[],"events":[],
            "messages":[{"name":"transfer","selector":"0x01020304","mutates":true,"payable":false,
            "args":[{"name":"to","type":"AccountId"},{"name":"value","type":"u128"}],"returns":"Result<(), Error>"}]}"#,
        )
        .unwrap();
        let msg = m.message("transfer").unwrap();
        let input = msg.encode_input(&json!([ALICE_SS58, 5])).unwrap();
        assert_eq!(&input[..4], &[1, 2, 3, 4]);
        assert_eq!(input.len(), 4 + 32 + 16);
        assert_eq!(input[36], 5);
        assert_eq!(msg.encode_input(&json!({"value": 5, "to": ALICE_SS58})).unwrap(), input);
        assert!(format!("{}", msg.encode_input(&json!([ALICE_SS58])).unwrap_err()).contains("takes 2 argument"));
        assert!(format!("{}", m.message("mint").unwrap_err()).contains("this contract has: transfer"));
    }

    /// A type of the supported set.
    fn any_ty() -> impl Strategy<Value = Ty> {
        let leaf = prop_oneof![
            prop::sample::select(vec![8u32, 16, 32, 64, 128]).prop_map(Ty::U),
            prop::sample::select(vec![8u32, 16, 32, 64, 128]).prop_map(Ty::I),
            Just(Ty::Bool),
            Just(Ty::Str),
            Just(Ty::AccountId),
            Just(Ty::Bytes),
            (0usize..40).prop_map(Ty::ByteArray),
            Just(Ty::Tuple(vec![])),
        ];
        leaf.prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                inner.clone().prop_map(|t| Ty::Vec(Box::new(t))),
                (inner.clone(), 0usize..4).prop_map(|(t, n)| Ty::Array(Box::new(t), n)),
                inner.clone().prop_map(|t| Ty::Option(Box::new(t))),
                (inner.clone(), inner.clone()).prop_map(|(t, e)| Ty::Result(Box::new(t), Box::new(e))),
                prop::collection::vec(inner, 1..4).prop_map(Ty::Tuple),
            ]
        })
    }

    /// A JSON value of type `ty`, in the canonical form the decoder writes.
    fn value_of(ty: &Ty) -> BoxedStrategy<Value> {
        let num = |n: i128| json_number(n);
        match ty.clone() {
            Ty::U(128) => any::<u128>()
                .prop_map(move |n| {
                    if n <= MAX_SAFE_INTEGER {
                        json!(n as u64)
                    } else {
                        json!(n.to_string())
                    }
                })
                .boxed(),
            Ty::U(bits) => (0..=(u64::MAX >> (64 - bits)))
                .prop_map(move |n| num(n as i128))
                .boxed(),
            Ty::I(128) => any::<i128>().prop_map(num).boxed(),
            Ty::I(bits) => {
                let half = 1i128 << (bits - 1);
                (-half..half).prop_map(num).boxed()
            }
            Ty::Bool => any::<bool>().prop_map(Value::from).boxed(),
            Ty::Str => "\\PC{0,20}".prop_map(Value::from).boxed(),
            Ty::AccountId => any::<[u8; 32]>().prop_map(|b| json!(AccountId(b).to_ss58())).boxed(),
            Ty::Bytes => prop::collection::vec(any::<u8>(), 0..40)
                .prop_map(|b| json!(format!("0x{}", hex::encode(b))))
                .boxed(),
            Ty::ByteArray(n) => prop::collection::vec(any::<u8>(), n)
                .prop_map(|b| json!(format!("0x{}", hex::encode(b))))
                .boxed(),
            Ty::Vec(t) => prop::collection::vec(value_of(&t), 0..4).prop_map(Value::Array).boxed(),
            Ty::Array(t, n) => prop::collection::vec(value_of(&t), n).prop_map(Value::Array).boxed(),
            // `Some(())` and `Some(None)` have no JSON of their own (both would be null).
            Ty::Option(t) if matches!(*t, Ty::Tuple(ref v) if v.is_empty()) || matches!(*t, Ty::Option(_)) => {
                Just(Value::Null).boxed()
            }
            Ty::Option(t) => prop_oneof![Just(Value::Null), value_of(&t)].boxed(),
            Ty::Result(t, e) => prop_oneof![
                value_of(&t).prop_map(|v| json!({"ok": v})),
                value_of(&e).prop_map(|v| json!({"err": v}))
            ]
            .boxed(),
            Ty::Tuple(ts) if ts.is_empty() => Just(Value::Null).boxed(),
            Ty::Tuple(ts) => ts
                .iter()
                .map(value_of)
                .collect::<Vec<_>>()
                .prop_map(Value::Array)
                .boxed(),
            Ty::Named(_) => Just(Value::Null).boxed(),
        }
    }

    proptest! {
        /// JSON -> SCALE -> JSON gives the value back, and the bytes are all consumed.
        #[test]
        fn values_round_trip((ty, v) in any_ty().prop_flat_map(|t| { let s = value_of(&t); (Just(t), s) })) {
            let mut bytes = vec![];
            encode(&ty, &v, &mut bytes).unwrap();
            prop_assert_eq!(decode_all(&ty, &bytes).unwrap(), v);
        }

        /// Arbitrary bytes decode or are refused; nothing panics or allocates wildly.
        #[test]
        fn arbitrary_bytes_never_panic(ty in any_ty(), bytes in prop::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_all(&ty, &bytes);
        }

        /// Arbitrary type spellings parse or are refused.
        #[test]
        fn arbitrary_type_text_never_panics(s in "[A-Za-z0-9<>()\\[\\];, ]{0,40}") {
            let _ = Ty::parse(&s);
        }
    }
}
