//! Build-side fix-up of compiled contracts (feature `build`, native only; for `watt contract
//! build` and tests).
//!
//! rustc's precompiled `core` for wasm32-unknown-unknown is built with reference types, so the
//! `call_indirect` instructions it contributes (the formatting machinery behind every panic
//! message, present in any contract) encode their table index as an overlong 5-byte LEB. The
//! contract validator accepts only the MVP encoding (a single 0x00 byte), and `-C
//! target-cpu=mvp` cannot change code that was compiled in advance. [`canonicalize_call_indirect`]
//! rewrites those immediates to the MVP byte; nothing else in the module changes.

use std::string::{String, ToString};
use std::vec::Vec;
use wasmparser::{BinaryReader, FunctionBody, Operator};

fn read_leb(bytes: &[u8], mut pos: usize) -> Result<(u64, usize), String> {
    let mut value = 0u64;
    let mut shift = 0;
    loop {
        let b = *bytes.get(pos).ok_or("truncated LEB128")?;
        pos += 1;
        if shift < 64 {
            value |= u64::from(b & 0x7f) << shift;
        }
        shift += 7;
        if b & 0x80 == 0 {
            return Ok((value, pos));
        }
        if shift > 35 {
            return Err("LEB128 longer than 5 bytes".to_string());
        }
    }
}

fn write_leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let b = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(b);
            return;
        }
        out.push(b | 0x80);
    }
}

/// One function body with every overlong `call_indirect` table index (of table 0) shortened.
fn rewrite_body(body: &[u8]) -> Result<Vec<u8>, String> {
    let fb = FunctionBody::new(BinaryReader::new(body, 0));
    let mut ops = fb.get_operators_reader().map_err(|e| e.to_string())?;
    let mut cuts: Vec<(usize, usize)> = Vec::new();
    while !ops.eof() {
        let (op, offset) = ops.read_with_offset().map_err(|e| e.to_string())?;
        if let Operator::CallIndirect { table_index, .. } = op {
            if table_index != 0 {
                return Err("call_indirect on a table other than 0 (reference types)".to_string());
            }
            // 0x11, the type index, then the table index.
            let (_, table_at) = read_leb(body, offset + 1)?;
            let (_, end) = read_leb(body, table_at)?;
            if end - table_at > 1 {
                cuts.push((table_at, end));
            }
        }
    }
    let mut out = Vec::with_capacity(body.len());
    let mut at = 0;
    for (start, end) in cuts {
        out.extend_from_slice(&body[at..start]);
        out.push(0);
        at = end;
    }
    out.extend_from_slice(&body[at..]);
    Ok(out)
}

/// `code` with every `call_indirect` table immediate in the MVP encoding (see the module docs).
/// Fails on malformed code or on an indirect call through a table other than 0.
pub fn canonicalize_call_indirect(code: &[u8]) -> Result<Vec<u8>, String> {
    if code.len() < 8 || &code[..4] != b"\0asm" {
        return Err("not a wasm module".to_string());
    }
    let mut out = Vec::with_capacity(code.len());
    out.extend_from_slice(&code[..8]);
    let mut pos = 8;
    while pos < code.len() {
        let id = code[pos];
        let (size, start) = read_leb(code, pos + 1)?;
        let end = start
            .checked_add(size as usize)
            .filter(|e| *e <= code.len())
            .ok_or("section overruns")?;
        let contents = &code[start..end];
        if id == 10 {
            let (count, mut p) = read_leb(contents, 0)?;
            let mut section = Vec::with_capacity(contents.len());
            write_leb(&mut section, count);
            for _ in 0..count {
                let (len, body_start) = read_leb(contents, p)?;
                let body_end = body_start
                    .checked_add(len as usize)
                    .filter(|e| *e <= contents.len())
                    .ok_or("body overruns")?;
                let body = rewrite_body(&contents[body_start..body_end])?;
                write_leb(&mut section, body.len() as u64);
                section.extend_from_slice(&body);
                p = body_end;
            }
            out.push(id);
            write_leb(&mut out, section.len() as u64);
            out.extend_from_slice(&section);
        } else {
            out.extend_from_slice(&code[pos..end]);
        }
        pos = end;
    }
    Ok(out)
}
