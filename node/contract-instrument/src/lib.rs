//! Deterministic stack-height metering for contract code (the contract-gas issue, item 2).
//!
//! wasmtime's only stack limit is native (`max_wasm_stack`): how deep a contract recurses before
//! it hits that depends on native frame sizes, which differ by CPU architecture, compiler
//! version and CPU features. Two validators could then disagree on whether one agreed call
//! finished. So, as pallet-contracts' `stack_height` instrumentation and NEAR's finite-wasm do,
//! the limit is counted in wasm terms instead, and the native limit is set so far above it that
//! reaching the native one is a node failure, never a transaction result.
//!
//! [`inject_stack_limit`] rewrites a module so that:
//! - a new mutable `i32` global holds the stack height, in units of one wasm value;
//! - every defined function adds its frame cost ([`frame_cost`]: parameters, locals, the
//!   deepest its operand stack gets, plus [`FRAME_OVERHEAD`]) on entry and traps with
//!   `unreachable` if the height passes the limit, then takes the cost back on exit;
//! - exits are made explicit by wrapping the body in a block: `return` becomes a branch to
//!   that block (a branch to the body's own label already lands there), so one epilogue covers
//!   every way out but a trap, and a trap ends the whole instance anyway.
//!
//! Counting at function entry (not at call sites, as wasm-instrument does) covers exported
//! functions and `call_indirect` without thunks. The global is exported (see
//! [`Instrumented::height_export`]) so the engine can tell the stack-limit trap from a plain
//! `unreachable`: after it, the height is above the limit.
//!
//! The operand-stack depth is wasmparser's own validator's (`operand_stack_height` after each
//! operator), so the count is exactly the wasm semantics' and needs no opcode table here.
//!
//! Pure: bytes in, bytes out. Any valid module is accepted (property-tested: the output
//! validates and computes what the input did).

use thiserror::Error;
use wasm_encoder::reencode::{Reencode, RoundtripReencoder};
use wasm_encoder::{
    BlockType, CodeSection, ConstExpr, ExportKind, ExportSection, Function, GlobalSection, GlobalType, Instruction,
    Module, RawSection, TypeSection,
};
use wasmparser::{
    FuncValidatorAllocations, Operator, Parser, Payload, TypeRef, ValType, ValidPayload, Validator, WasmFeatures,
};

/// Units every frame costs on top of its values: the return address, the saved frame pointer
/// and the slots the engine keeps per frame (its context, fuel), which a native frame has
/// whatever the function does.
pub const FRAME_OVERHEAD: u32 = 8;

/// Units the prologue itself uses on the operand stack.
const PROLOGUE_HEIGHT: u32 = 2;

/// Why a module could not be instrumented (it is not a valid module).
#[derive(Debug, Error, PartialEq, Eq)]
pub enum InstrumentError {
    /// The input is not valid wasm under the features contracts may use.
    #[error("not a valid module: {0}")]
    Invalid(String),
    /// Re-encoding failed (a construct the encoder cannot express).
    #[error("cannot re-encode the module: {0}")]
    Encode(String),
}

impl From<wasmparser::BinaryReaderError> for InstrumentError {
    fn from(e: wasmparser::BinaryReaderError) -> Self {
        InstrumentError::Invalid(e.to_string())
    }
}

/// An instrumented module.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instrumented {
    /// The rewritten module.
    pub code: Vec<u8>,
    /// Name of the exported `i32` global holding the current stack height.
    pub height_export: String,
    /// The largest frame cost of any function (a function whose frame alone is above the
    /// limit always traps when called).
    pub deepest_frame: u32,
}

/// The wasm features the instrumenter reads: everything contract validation may allow
/// (floats included, for code validated with `allow_floats`).
pub fn features() -> WasmFeatures {
    WasmFeatures::WASM1
        | WasmFeatures::SIGN_EXTENSION
        | WasmFeatures::MULTI_VALUE
        | WasmFeatures::BULK_MEMORY
        | WasmFeatures::SATURATING_FLOAT_TO_INT
        | WasmFeatures::MUTABLE_GLOBAL
}

/// A function's frame in stack units: [`FRAME_OVERHEAD`], its parameters and locals, and the
/// deepest its operand stack gets (at least what the prologue uses).
pub fn frame_cost(params: u32, locals: u32, max_operand_height: u32) -> u32 {
    FRAME_OVERHEAD
        .saturating_add(params)
        .saturating_add(locals)
        .saturating_add(max_operand_height.max(PROLOGUE_HEIGHT))
}

/// What the first pass learns about the module.
#[derive(Default)]
struct ModuleFacts {
    /// Every function type: (params, results).
    types: Vec<(Vec<ValType>, Vec<ValType>)>,
    /// Type index of each function, imported ones first.
    func_types: Vec<u32>,
    imported_funcs: u32,
    globals: u32,
    export_names: Vec<String>,
    /// Per defined function: its frame cost.
    costs: Vec<u32>,
}

fn collect_facts(code: &[u8]) -> Result<ModuleFacts, InstrumentError> {
    let mut facts = ModuleFacts::default();
    let mut validator = Validator::new_with_features(features());
    let mut allocs = FuncValidatorAllocations::default();
    for payload in Parser::new(0).parse_all(code) {
        let payload = payload?;
        match &payload {
            Payload::TypeSection(reader) => {
                for group in reader.clone() {
                    for ty in group?.into_types() {
                        let f = ty.unwrap_func();
                        facts.types.push((f.params().to_vec(), f.results().to_vec()));
                    }
                }
            }
            Payload::ImportSection(reader) => {
                for import in reader.clone().into_imports() {
                    match import?.ty {
                        TypeRef::Func(t) => {
                            facts.func_types.push(t);
                            facts.imported_funcs += 1;
                        }
                        TypeRef::Global(_) => facts.globals += 1,
                        _ => {}
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                for t in reader.clone() {
                    facts.func_types.push(t?);
                }
            }
            Payload::GlobalSection(reader) => facts.globals += reader.count(),
            Payload::ExportSection(reader) => {
                for e in reader.clone() {
                    facts.export_names.push(e?.name.to_string());
                }
            }
            _ => {}
        }
        match validator.payload(&payload)? {
            ValidPayload::Func(to_validate, body) => {
                let mut func = to_validate.into_validator(std::mem::take(&mut allocs));
                let mut locals = 0u32;
                let mut reader = body.get_locals_reader()?;
                for _ in 0..reader.get_count() {
                    let offset = reader.original_position();
                    let (count, ty) = reader.read()?;
                    func.define_locals(offset, count, ty)?;
                    locals = locals.saturating_add(count);
                }
                let mut ops = body.get_operators_reader()?;
                let mut max_height = 0u32;
                while !ops.eof() {
                    let offset = ops.original_position();
                    let op = ops.read()?;
                    func.op(offset, &op)?;
                    max_height = max_height.max(func.operand_stack_height());
                }
                ops.finish()?;
                let index = facts.imported_funcs as usize + facts.costs.len();
                let params = facts
                    .func_types
                    .get(index)
                    .and_then(|t| facts.types.get(*t as usize))
                    .map_or(0, |(p, _)| p.len() as u32);
                facts.costs.push(frame_cost(params, locals, max_height));
                allocs = func.into_allocations();
            }
            ValidPayload::Parser(_) => return Err(InstrumentError::Invalid("nested modules are not contracts".into())),
            _ => {}
        }
    }
    Ok(facts)
}

/// Section ids in the order a module must have them (custom sections aside).
fn section_rank(id: u8) -> u8 {
    match id {
        1 => 1,   // type
        2 => 2,   // import
        3 => 3,   // function
        4 => 4,   // table
        5 => 5,   // memory
        13 => 6,  // tag
        6 => 7,   // global
        7 => 8,   // export
        8 => 9,   // start
        9 => 10,  // element
        12 => 11, // data count
        10 => 12, // code
        11 => 13, // data
        _ => 0,
    }
}

const GLOBAL_RANK: u8 = 7;
const EXPORT_RANK: u8 = 8;

/// Rewrites `code` so that it traps (`unreachable`) once its stack height would pass
/// `max_height` units (see the crate docs).
pub fn inject_stack_limit(code: &[u8], max_height: u32) -> Result<Instrumented, InstrumentError> {
    let facts = collect_facts(code)?;
    // The height never exceeds `max_height` plus one frame before the check traps, so it
    // stays far from i32 overflow (the comparison is unsigned).
    let limit = max_height.min(i32::MAX as u32 / 2);
    let height_global = facts.globals;
    let mut height_export = String::from("__watt_stack_height");
    while facts.export_names.iter().any(|n| *n == height_export) {
        height_export.push('_');
    }

    // Block types of the wrappers: functions with several results need a type `[] -> results`.
    let mut extra_types: Vec<Vec<ValType>> = Vec::new();
    let mut wrapper_types = Vec::with_capacity(facts.costs.len());
    for i in 0..facts.costs.len() {
        let ty = facts
            .func_types
            .get(facts.imported_funcs as usize + i)
            .and_then(|t| facts.types.get(*t as usize))
            .ok_or_else(|| InstrumentError::Invalid("function without a type".into()))?;
        let results = &ty.1;
        let bt = match results.len() {
            0 => BlockType::Empty,
            1 => BlockType::Result(valtype(results[0])?),
            _ => {
                let at = match extra_types.iter().position(|r| r == results) {
                    Some(p) => p,
                    None => {
                        extra_types.push(results.clone());
                        extra_types.len() - 1
                    }
                };
                BlockType::FunctionType((facts.types.len() + at) as u32)
            }
        };
        wrapper_types.push(bt);
    }

    let mut out = Module::new();
    let mut types_done = extra_types.is_empty();
    let mut globals_done = false;
    let mut exports_done = false;
    let mut func_index = 0usize;
    let mut code_section: Option<CodeSection> = None;
    let mut reencoder = RoundtripReencoder;
    let enc = |e: wasm_encoder::reencode::Error| InstrumentError::Encode(e.to_string());

    for payload in Parser::new(0).parse_all(code) {
        let payload = payload?;
        if let Payload::CodeSectionEntry(body) = &payload {
            let cost = facts.costs.get(func_index).copied().unwrap_or(u32::MAX).min(limit + 1);
            let bt = wrapper_types
                .get(func_index)
                .copied()
                .ok_or_else(|| InstrumentError::Invalid("more bodies than functions".into()))?;
            func_index += 1;
            let f = instrument_body(&mut reencoder, body, bt, cost, limit, height_global)?;
            code_section.get_or_insert_with(CodeSection::new).function(&f);
            if func_index == facts.costs.len() {
                if let Some(section) = code_section.take() {
                    out.section(&section);
                }
            }
            continue;
        }
        let Some((id, range)) = payload.as_section() else {
            continue;
        };
        let this_rank = section_rank(id);
        if this_rank != 0 {
            // Sections this pass adds go where the module lacks them, in order.
            if !types_done && this_rank > 1 {
                out.section(&new_types(&extra_types)?);
                types_done = true;
            }
            if !globals_done && this_rank > GLOBAL_RANK {
                let mut globals = GlobalSection::new();
                push_height_global(&mut globals);
                out.section(&globals);
                globals_done = true;
            }
            if !exports_done && this_rank > EXPORT_RANK {
                let mut exports = ExportSection::new();
                exports.export(&height_export, ExportKind::Global, height_global);
                out.section(&exports);
                exports_done = true;
            }
        }
        match payload {
            Payload::TypeSection(reader) => {
                let mut types = TypeSection::new();
                reencoder.parse_type_section(&mut types, reader).map_err(enc)?;
                for results in &extra_types {
                    let results: Vec<_> = results.iter().map(|v| valtype(*v)).collect::<Result<_, _>>()?;
                    types.ty().function([], results);
                }
                out.section(&types);
                types_done = true;
            }
            Payload::GlobalSection(reader) => {
                let mut globals = GlobalSection::new();
                reencoder.parse_global_section(&mut globals, reader).map_err(enc)?;
                push_height_global(&mut globals);
                out.section(&globals);
                globals_done = true;
            }
            Payload::ExportSection(reader) => {
                let mut exports = ExportSection::new();
                reencoder.parse_export_section(&mut exports, reader).map_err(enc)?;
                exports.export(&height_export, ExportKind::Global, height_global);
                out.section(&exports);
                exports_done = true;
            }
            Payload::CodeSectionStart { count, .. } => {
                if count == 0 {
                    out.section(&CodeSection::new());
                } else {
                    code_section = Some(CodeSection::new());
                }
            }
            _ => {
                out.section(&RawSection { id, data: &code[range] });
            }
        }
    }
    if !types_done {
        out.section(&new_types(&extra_types)?);
    }
    if !globals_done {
        let mut globals = GlobalSection::new();
        push_height_global(&mut globals);
        out.section(&globals);
    }
    if !exports_done {
        let mut exports = ExportSection::new();
        exports.export(&height_export, ExportKind::Global, height_global);
        out.section(&exports);
    }
    if let Some(section) = code_section.take() {
        out.section(&section);
    }
    Ok(Instrumented {
        code: out.finish(),
        height_export,
        deepest_frame: facts.costs.iter().copied().max().unwrap_or(0),
    })
}

fn new_types(extra: &[Vec<ValType>]) -> Result<TypeSection, InstrumentError> {
    let mut types = TypeSection::new();
    for results in extra {
        let results: Vec<_> = results.iter().map(|v| valtype(*v)).collect::<Result<_, _>>()?;
        types.ty().function([], results);
    }
    Ok(types)
}

fn push_height_global(globals: &mut GlobalSection) {
    globals.global(
        GlobalType {
            val_type: wasm_encoder::ValType::I32,
            mutable: true,
            shared: false,
        },
        &ConstExpr::i32_const(0),
    );
}

fn valtype(v: ValType) -> Result<wasm_encoder::ValType, InstrumentError> {
    RoundtripReencoder
        .val_type(v)
        .map_err(|e| InstrumentError::Encode(e.to_string()))
}

/// One function: prologue, the body in a block (`return` → branch out of it), epilogue.
fn instrument_body(
    reencoder: &mut RoundtripReencoder,
    body: &wasmparser::FunctionBody<'_>,
    wrapper: BlockType,
    cost: u32,
    limit: u32,
    height_global: u32,
) -> Result<Function, InstrumentError> {
    let mut locals = Vec::new();
    let mut reader = body.get_locals_reader()?;
    for _ in 0..reader.get_count() {
        let (count, ty) = reader.read()?;
        locals.push((count, valtype(ty)?));
    }
    let mut f = Function::new(locals);
    // Wasm constants are signed; the costs and limit are below 2^31.
    let cost = cost as i32;
    f.instruction(&Instruction::GlobalGet(height_global))
        .instruction(&Instruction::I32Const(cost))
        .instruction(&Instruction::I32Add)
        .instruction(&Instruction::GlobalSet(height_global))
        .instruction(&Instruction::GlobalGet(height_global))
        .instruction(&Instruction::I32Const(limit as i32))
        .instruction(&Instruction::I32GtU)
        .instruction(&Instruction::If(BlockType::Empty))
        .instruction(&Instruction::Unreachable)
        .instruction(&Instruction::End)
        .instruction(&Instruction::Block(wrapper));
    // Labels open inside the original body; the wrapper block is at this depth.
    let mut depth = 0u32;
    let mut ops = body.get_operators_reader()?;
    while !ops.eof() {
        let op = ops.read()?;
        match op {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::If { .. } | Operator::TryTable { .. } => {
                depth += 1;
            }
            Operator::Return => {
                f.instruction(&Instruction::Br(depth));
                continue;
            }
            Operator::End if depth == 0 => {
                // The body's own end closes the wrapper; the epilogue and the real end follow.
                f.instruction(&Instruction::End)
                    .instruction(&Instruction::GlobalGet(height_global))
                    .instruction(&Instruction::I32Const(cost))
                    .instruction(&Instruction::I32Sub)
                    .instruction(&Instruction::GlobalSet(height_global))
                    .instruction(&Instruction::End);
                continue;
            }
            Operator::End => depth -= 1,
            _ => {}
        }
        let inst = reencoder
            .instruction(op)
            .map_err(|e| InstrumentError::Encode(e.to_string()))?;
        f.instruction(&inst);
    }
    Ok(f)
}

#[cfg(test)]
mod tests;
