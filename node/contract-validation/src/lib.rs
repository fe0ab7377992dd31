//! Upload-time validation of contract code (the contracts issue, ARCHITECTURE "Contracts"):
//! before a contract's wasm is stored or compiled, it must be a valid module that
//! - is at most `max_code_len` bytes;
//! - uses only deterministic, single-threaded wasm: the MVP with mutable globals, sign
//!   extension, multi-value and bulk memory; no threads, SIMD, memory64, multiple memories,
//!   reference types, exceptions or GC (ARCHITECTURE §4), and no floating point at all unless
//!   [`Limits::allow_floats`] (the engine must then canonicalize NaNs);
//! - imports only functions, only what the host's contract environment offers (the caller's
//!   `allowed_import` says which module/name pairs), each at most once: no memory, table,
//!   global or tag;
//! - defines exactly one memory (not imported), exports it as `memory`, and declares its
//!   maximum within `max_memory_pages` (a memory without a maximum is refused: it could grow
//!   without bound);
//! - stays within the function, locals-per-function, parameter, table, global, data-segment and
//!   export limits, so compiling it is bounded by its size;
//! - has no active data or element segment that reaches past the initial memory or table;
//! - has no start section (code runs only when a message is called, with gas);
//! - exports the functions the environment calls (`required_exports`), each a function of type
//!   `() -> ()`.
//!
//! Pure: bytes in, a summary or the first reason out. Every reason is a [`ValidationError`]
//! variant a developer can act on. No input panics (property-tested and fuzzed).
//!
//! # Validation and linking agree
//!
//! The contract ABI (`pallets/contracts/ABI.md`) is what the node's contract engine links and
//! runs (`node/executor`: `contract_engine.rs`, `sandbox.rs`). Every way an accepted module
//! could still fail to link, instantiate or call a required export is refused here, or cannot
//! occur, as follows:
//! - *Linking* defines one host function per import, under the import's own module and name:
//!   an import that is not a function ([`ValidationError::ImportedMemory`],
//!   [`ValidationError::ForbiddenImportKind`]), a name the environment lacks
//!   ([`ValidationError::ForbiddenImport`]) or the same name imported twice (the linker refuses
//!   to define a name twice: [`ValidationError::DuplicateImport`]) are refused. An import's
//!   *type* is checked against the ABI's signatures by the caller that knows them (the
//!   executor's sandbox, at upload); `allowed_import` sees names only.
//! - *Compiling* for the instance pool (memory and table slots, instance size) cannot fail on
//!   shape: a memory's minimum is at most its maximum (wasm validity), which is at most
//!   `max_memory_pages`; likewise a table's minimum is at most its bounded maximum; there is at
//!   most one memory and one table (multiple memories and tables need features not enabled);
//!   and an instance's size is bounded by the function, global and (distinct) import counts.
//! - *Instantiating* runs no contract code (no start section) and allocates within the same
//!   limits; the one remaining failure, an active data or element segment past the initial
//!   memory or table (a trap, deterministic but at every instantiation), is refused
//!   ([`ValidationError::DataOutOfBounds`], [`ValidationError::ElementsOutOfBounds`]).
//!   Offsets are always constants: a constant expression may read only imported globals, and
//!   none can be imported.
//! - *Calling* looks up `memory` (the environment reads and writes the contract through it:
//!   [`ValidationError::NoMemory`], [`ValidationError::MemoryNotExported`]) and the export to
//!   call as a `() -> ()` function ([`ValidationError::MissingExport`],
//!   [`ValidationError::ExportNotAFunction`], [`ValidationError::ExportWrongType`]).
//! - Export names are unique (wasm validity); other exports, of any kind and type, and the
//!   memory exported under further names besides `memory`, are never looked at by the host and
//!   are allowed.
//!
//! What validation does not decide: traps while a call runs (gas, memory bounds, native stack
//! depth, which depends on the compiler's frame sizes and is charged as the ABI says).

use thiserror::Error;
use wasmparser::{ExternalKind, FuncType, Imports, Parser, Payload, TypeRef, ValType, Validator, WasmFeatures};
use watt_primitives::sandbox::CodeLimits;

/// Bounds on contract code; the runtime's parameters (changeable by governance later).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest code, bytes.
    pub max_code_len: usize,
    /// Most functions defined by the module (imports not counted).
    pub max_functions: u32,
    /// Most locals of one function (parameters not counted).
    pub max_locals: u32,
    /// Most parameters or results of one function type.
    pub max_params: u32,
    /// Largest memory maximum, in 64 KiB pages.
    pub max_memory_pages: u64,
    /// Largest table size, in elements.
    pub max_table_elements: u64,
    /// Most globals.
    pub max_globals: u32,
    /// Most data segments.
    pub max_data_segments: u32,
    /// Most exports.
    pub max_exports: u32,
    /// Deepest nesting of control blocks (`block`, `loop`, `if`) in one function.
    pub max_nesting: u32,
    /// Deepest nesting of `loop`s in one function.
    pub max_loop_nesting: u32,
    /// Whether float types and instructions may appear.
    pub allow_floats: bool,
}

impl Default for Limits {
    /// The chain's default limits (`watt_primitives::sandbox::CodeLimits`), no floats.
    fn default() -> Self {
        Limits::from(&CodeLimits::default())
    }
}

impl From<&CodeLimits> for Limits {
    /// The limits a runtime sets for uploads (floats never allowed on chain).
    fn from(l: &CodeLimits) -> Self {
        Limits {
            max_code_len: l.max_code_len as usize,
            max_functions: l.max_functions,
            max_locals: l.max_locals,
            max_params: l.max_params,
            max_memory_pages: l.max_memory_pages as u64,
            max_table_elements: l.max_table_elements as u64,
            max_globals: l.max_globals,
            max_data_segments: l.max_data_segments,
            max_exports: l.max_exports,
            max_nesting: l.max_nesting,
            max_loop_nesting: l.max_loop_nesting,
            allow_floats: false,
        }
    }
}

/// Most targets of one `br_table`: the compiler's own limit lies between 10,000 and 60,000
/// (past it, valid code fails to compile), so validation names a rule below it; a Rust `match`
/// needs one target per arm.
pub const MAX_BR_TABLE_TARGETS: u32 = 16_384;

/// Why contract code is refused.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum ValidationError {
    /// The code is larger than allowed.
    #[error("contract code is {len} bytes, the limit is {max}")]
    TooLarge {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// Not a valid module under the allowed features (the message says where and why; a
    /// float, SIMD or thread instruction reads as "... support is not enabled").
    #[error("invalid contract wasm: {0}")]
    Invalid(String),
    /// An import the contract environment does not offer.
    #[error("import `{module}`.`{name}` is not part of the contract environment")]
    ForbiddenImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// An import of a table, global or tag (only functions may be imported).
    #[error("import `{module}`.`{name}` is a {kind}; contracts may import only functions")]
    ForbiddenImportKind {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// What it is.
        kind: &'static str,
    },
    /// An imported memory: the environment offers none, the contract defines its own.
    #[error(
        "the memory is imported as `{module}`.`{name}`; a contract must define its own memory and export it as `memory`"
    )]
    ImportedMemory {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// The same function imported twice (the environment defines each name once, so such code
    /// would fail to link).
    #[error("import `{module}`.`{name}` appears more than once; import each environment function once")]
    DuplicateImport {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
    },
    /// A start section.
    #[error("contract code has a start function: code may run only when called, with gas")]
    StartFunction,
    /// No memory at all.
    #[error(
        "contract code defines no memory; define one with a maximum of at most {max} pages and export it as `memory`"
    )]
    NoMemory {
        /// The limit, pages.
        max: u64,
    },
    /// The memory is not exported under the name `memory`.
    #[error("the memory is not exported as `memory`; the environment reads and writes the contract's memory through that export")]
    MemoryNotExported,
    /// More than one memory (the spec validator refuses this first, as multiple memories are
    /// not enabled; kept for callers that match on it).
    #[error("contract code has {count} memories, at most one is allowed")]
    TooManyMemories {
        /// Memories declared or imported.
        count: u32,
    },
    /// A memory without a declared maximum.
    #[error("the memory declares no maximum: give it one of at most {max} pages")]
    UnboundedMemory {
        /// The limit, pages.
        max: u64,
    },
    /// A memory larger than allowed.
    #[error("the memory may grow to {pages} pages, the limit is {max}")]
    MemoryTooLarge {
        /// Declared maximum (or initial size).
        pages: u64,
        /// The limit.
        max: u64,
    },
    /// A table larger than allowed (or without a maximum).
    #[error("a table may hold {elements} elements, the limit is {max}")]
    TableTooLarge {
        /// Declared maximum (u64::MAX when none is declared).
        elements: u64,
        /// The limit.
        max: u64,
    },
    /// A count over its limit.
    #[error("contract code has {count} {what}, the limit is {max}")]
    TooMany {
        /// What is counted: "functions", "globals", "data segments", "exports".
        what: &'static str,
        /// The count.
        count: u64,
        /// The limit.
        max: u64,
    },
    /// A function with too many locals.
    #[error("function {function} has {count} locals, the limit is {max}")]
    TooManyLocals {
        /// Index among the module's defined functions.
        function: u32,
        /// Its locals.
        count: u64,
        /// The limit.
        max: u32,
    },
    /// A function type with too many parameters or results.
    #[error("a function type has {count} parameters and results, the limit is {max}")]
    TooManyParams {
        /// Parameters plus results.
        count: usize,
        /// The limit.
        max: u32,
    },
    /// A `br_table` with more targets than the compiler handles.
    #[error("function {function} has a br_table of {targets} targets, the limit is {max}")]
    BrTableTooLarge {
        /// Function index.
        function: u32,
        /// Its targets.
        targets: u32,
        /// The limit.
        max: u32,
    },
    /// A function nests control blocks or loops deeper than allowed (compile time grows fast
    /// with nesting).
    #[error("function {function} nests {what} {depth} deep, the limit is {max}")]
    TooDeep {
        /// Index among the module's defined functions.
        function: u32,
        /// "blocks" or "loops".
        what: &'static str,
        /// The depth reached.
        depth: u32,
        /// The limit.
        max: u32,
    },
    /// A function the environment calls is not exported.
    #[error("contract code does not export the function `{0}`")]
    MissingExport(String),
    /// An export the environment calls is not a function.
    #[error("export `{name}` is a {kind}; the environment calls it, so it must be a function of type () -> ()")]
    ExportNotAFunction {
        /// The export's name.
        name: String,
        /// What it is: "table", "memory", "global" or "tag".
        kind: &'static str,
    },
    /// An export the environment calls is a function of another type than `() -> ()`.
    #[error("export `{name}` is a function of type {found}; the environment calls it as () -> ()")]
    ExportWrongType {
        /// The export's name.
        name: String,
        /// Its type, e.g. `(i32) -> ()`.
        found: String,
    },
    /// An active data segment reaches past the memory's initial size (instantiation would trap,
    /// every time).
    #[error("data segment {segment} ends at byte {end}, past the memory's initial {size} bytes")]
    DataOutOfBounds {
        /// Index of the segment in the data section.
        segment: u32,
        /// Offset plus length, bytes.
        end: u64,
        /// The memory's initial size, bytes.
        size: u64,
    },
    /// An active element segment reaches past its table's initial size (instantiation would
    /// trap, every time).
    #[error("element segment {segment} ends at element {end}, past the table's initial {size} elements")]
    ElementsOutOfBounds {
        /// Index of the segment in the element section.
        segment: u32,
        /// Offset plus count, elements.
        end: u64,
        /// The table's initial size, elements.
        size: u64,
    },
}

/// What validation learned about accepted code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CodeSummary {
    /// Functions defined by the module.
    pub functions: u32,
    /// Functions imported from the environment.
    pub imported_functions: u32,
    /// The memory's declared maximum, pages (0 without a memory).
    pub memory_pages: u64,
    /// Whether the memory is imported: always false, as an imported memory is refused (kept
    /// for existing callers).
    pub memory_imported: bool,
    /// Exported function names.
    pub exported_functions: Vec<String>,
}

/// The wasm features contract code may use (see the crate docs).
pub fn features(limits: &Limits) -> WasmFeatures {
    let mut f =
        WasmFeatures::WASM1 | WasmFeatures::SIGN_EXTENSION | WasmFeatures::MULTI_VALUE | WasmFeatures::BULK_MEMORY;
    if limits.allow_floats {
        f |= WasmFeatures::SATURATING_FLOAT_TO_INT;
    } else {
        f.remove(WasmFeatures::FLOATS);
    }
    f
}

/// `TooMany` when a section holds more than its limit.
fn at_most(what: &'static str, count: u32, max: u32) -> Result<(), ValidationError> {
    if count > max {
        return Err(ValidationError::TooMany {
            what,
            count: count as u64,
            max: max as u64,
        });
    }
    Ok(())
}

/// Refuses a function whose control blocks or loops nest deeper than the limits.
fn check_nesting(body: &wasmparser::FunctionBody<'_>, function: u32, limits: &Limits) -> Result<(), ValidationError> {
    use wasmparser::Operator;
    let invalid = |e: wasmparser::BinaryReaderError| ValidationError::Invalid(e.to_string());
    // Whether each open frame is a loop; the function body itself is the outermost frame.
    let mut frames: Vec<bool> = Vec::new();
    let mut loops = 0u32;
    let too_deep = |what, depth, max| ValidationError::TooDeep {
        function,
        what,
        depth,
        max,
    };
    let mut reader = body.get_operators_reader().map_err(invalid)?;
    while !reader.eof() {
        match reader.read().map_err(invalid)? {
            Operator::Block { .. } | Operator::If { .. } => frames.push(false),
            Operator::Loop { .. } => {
                frames.push(true);
                loops += 1;
                if loops > limits.max_loop_nesting {
                    return Err(too_deep("loops", loops, limits.max_loop_nesting));
                }
            }
            Operator::End => {
                if frames.pop() == Some(true) {
                    loops -= 1;
                }
            }
            Operator::BrTable { targets } if targets.len() > MAX_BR_TABLE_TARGETS => {
                return Err(ValidationError::BrTableTooLarge {
                    function,
                    targets: targets.len(),
                    max: MAX_BR_TABLE_TARGETS,
                });
            }
            _ => {}
        }
        // The function body is the outermost frame of wasm's control stack.
        let depth = frames.len() as u32 + 1;
        if depth > limits.max_nesting {
            return Err(too_deep("blocks", depth, limits.max_nesting));
        }
    }
    Ok(())
}

/// The offset of an active segment, when it is a constant (always, for code that passed the
/// spec validator without global imports; `None` otherwise, and instantiation decides).
fn constant_offset(expr: &wasmparser::ConstExpr<'_>) -> Option<u64> {
    let mut ops = expr.get_operators_reader();
    match (ops.read().ok()?, ops.read().ok()?) {
        (wasmparser::Operator::I32Const { value }, wasmparser::Operator::End) if ops.eof() => Some(value as u32 as u64),
        _ => None,
    }
}

/// `(i32, i64) -> (i32)`, as error messages write a function type.
fn type_text(ty: &FuncType) -> String {
    let list = |types: &[ValType]| types.iter().map(|t| t.to_string()).collect::<Vec<_>>().join(", ");
    format!("({}) -> ({})", list(ty.params()), list(ty.results()))
}

/// Bytes in a wasm page.
const PAGE: u64 = 65_536;

/// Validates contract `code` under `limits`; `allowed_import(module, name)` says which function
/// imports the environment offers, and every name in `required_exports` must be an exported
/// function of type `() -> ()`. See the crate docs for every rule.
pub fn validate(
    code: &[u8],
    limits: &Limits,
    allowed_import: impl Fn(&str, &str) -> bool,
    required_exports: &[&str],
) -> Result<CodeSummary, ValidationError> {
    if code.len() > limits.max_code_len {
        return Err(ValidationError::TooLarge {
            len: code.len(),
            max: limits.max_code_len,
        });
    }
    // The spec validator first: after it, every section below is well formed and every index
    // in range.
    Validator::new_with_features(features(limits))
        .validate_all(code)
        .map_err(|e| ValidationError::Invalid(e.to_string()))?;
    let mut summary = CodeSummary {
        functions: 0,
        imported_functions: 0,
        memory_pages: 0,
        memory_imported: false,
        exported_functions: Vec::new(),
    };
    let mut memories = 0u32;
    let invalid = |e: wasmparser::BinaryReaderError| ValidationError::Invalid(e.to_string());
    let mut check_memory = |ty: &wasmparser::MemoryType| -> Result<u64, ValidationError> {
        memories += 1;
        if memories > 1 {
            return Err(ValidationError::TooManyMemories { count: memories });
        }
        let max = ty.maximum.ok_or(ValidationError::UnboundedMemory {
            max: limits.max_memory_pages,
        })?;
        if max > limits.max_memory_pages {
            return Err(ValidationError::MemoryTooLarge {
                pages: max,
                max: limits.max_memory_pages,
            });
        }
        Ok(max)
    };
    // Function types by type index, and each function's type index (imports first).
    let mut types: Vec<FuncType> = Vec::new();
    let mut function_types: Vec<u32> = Vec::new();
    let mut imported: std::collections::BTreeSet<(&str, &str)> = std::collections::BTreeSet::new();
    // The memory's initial size, bytes, and each table's initial size, elements.
    let mut memory_bytes: Option<u64> = None;
    let mut table_sizes: Vec<u64> = Vec::new();
    let mut exports: Vec<(&str, ExternalKind, u32)> = Vec::new();
    let mut function_index = 0u32;
    for payload in Parser::new(0).parse_all(code) {
        match payload.map_err(invalid)? {
            Payload::TypeSection(reader) => {
                for ty in reader.into_iter_err_on_gc_types() {
                    let ty: FuncType = ty.map_err(invalid)?;
                    let count = ty.params().len() + ty.results().len();
                    if count > limits.max_params as usize {
                        return Err(ValidationError::TooManyParams {
                            count,
                            max: limits.max_params,
                        });
                    }
                    types.push(ty);
                }
            }
            Payload::ImportSection(reader) => {
                for group in reader {
                    let imports: Vec<(&str, &str, TypeRef)> = match group.map_err(invalid)? {
                        Imports::Single(_, i) => vec![(i.module, i.name, i.ty)],
                        Imports::Compact1 { module, items } => items
                            .into_iter()
                            .map(|item| item.map(|it| (module, it.name, it.ty)))
                            .collect::<Result<_, _>>()
                            .map_err(invalid)?,
                        Imports::Compact2 { module, ty, names } => names
                            .into_iter()
                            .map(|name| name.map(|n| (module, n, ty)))
                            .collect::<Result<_, _>>()
                            .map_err(invalid)?,
                    };
                    for (module, name, ty) in imports {
                        let named = |module: &str, name: &str| (module.to_string(), name.to_string());
                        let forbidden_kind = |kind| ValidationError::ForbiddenImportKind {
                            module: module.to_string(),
                            name: name.to_string(),
                            kind,
                        };
                        match ty {
                            TypeRef::Func(type_index) | TypeRef::FuncExact(type_index) => {
                                if !allowed_import(module, name) {
                                    let (module, name) = named(module, name);
                                    return Err(ValidationError::ForbiddenImport { module, name });
                                }
                                if !imported.insert((module, name)) {
                                    let (module, name) = named(module, name);
                                    return Err(ValidationError::DuplicateImport { module, name });
                                }
                                function_types.push(type_index);
                                summary.imported_functions += 1;
                            }
                            TypeRef::Memory(_) => {
                                let (module, name) = named(module, name);
                                return Err(ValidationError::ImportedMemory { module, name });
                            }
                            TypeRef::Table(_) => return Err(forbidden_kind("table")),
                            TypeRef::Global(_) => return Err(forbidden_kind("global")),
                            TypeRef::Tag(_) => return Err(forbidden_kind("tag")),
                        }
                    }
                }
            }
            Payload::FunctionSection(reader) => {
                at_most("functions", reader.count(), limits.max_functions)?;
                summary.functions = reader.count();
                for type_index in reader {
                    function_types.push(type_index.map_err(invalid)?);
                }
            }
            Payload::TableSection(reader) => {
                for table in reader {
                    let table = table.map_err(invalid)?;
                    let elements = table.ty.maximum.unwrap_or(u64::MAX);
                    if elements > limits.max_table_elements {
                        return Err(ValidationError::TableTooLarge {
                            elements,
                            max: limits.max_table_elements,
                        });
                    }
                    table_sizes.push(table.ty.initial);
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    let memory = memory.map_err(invalid)?;
                    summary.memory_pages = check_memory(&memory)?;
                    memory_bytes = Some(memory.initial.saturating_mul(PAGE));
                }
            }
            Payload::GlobalSection(reader) => {
                at_most("globals", reader.count(), limits.max_globals)?;
            }
            Payload::ExportSection(reader) => {
                at_most("exports", reader.count(), limits.max_exports)?;
                for export in reader {
                    let export = export.map_err(invalid)?;
                    if matches!(export.kind, ExternalKind::Func | ExternalKind::FuncExact) {
                        summary.exported_functions.push(export.name.to_string());
                    }
                    exports.push((export.name, export.kind, export.index));
                }
            }
            Payload::StartSection { .. } => return Err(ValidationError::StartFunction),
            Payload::ElementSection(reader) => {
                for (segment, element) in (0u32..).zip(reader) {
                    let element = element.map_err(invalid)?;
                    let wasmparser::ElementKind::Active {
                        table_index,
                        offset_expr,
                    } = element.kind
                    else {
                        continue;
                    };
                    let count = match &element.items {
                        wasmparser::ElementItems::Functions(r) => r.count(),
                        wasmparser::ElementItems::Expressions(_, r) => r.count(),
                    };
                    let size = table_sizes.get(table_index.unwrap_or(0) as usize).copied();
                    if let (Some(offset), Some(size)) = (constant_offset(&offset_expr), size) {
                        let end = offset + count as u64;
                        if end > size {
                            return Err(ValidationError::ElementsOutOfBounds { segment, end, size });
                        }
                    }
                }
            }
            Payload::DataSection(reader) => {
                at_most("data segments", reader.count(), limits.max_data_segments)?;
                for (segment, data) in (0u32..).zip(reader) {
                    let data = data.map_err(invalid)?;
                    let wasmparser::DataKind::Active { offset_expr, .. } = data.kind else {
                        continue;
                    };
                    if let (Some(offset), Some(size)) = (constant_offset(&offset_expr), memory_bytes) {
                        let end = offset + data.data.len() as u64;
                        if end > size {
                            return Err(ValidationError::DataOutOfBounds { segment, end, size });
                        }
                    }
                }
            }
            Payload::CodeSectionEntry(body) => {
                let mut locals: u64 = 0;
                for group in body.get_locals_reader().map_err(invalid)? {
                    let (count, _ty): (u32, ValType) = group.map_err(invalid)?;
                    locals += count as u64;
                }
                if locals > limits.max_locals as u64 {
                    return Err(ValidationError::TooManyLocals {
                        function: function_index,
                        count: locals,
                        max: limits.max_locals,
                    });
                }
                check_nesting(&body, function_index, limits)?;
                function_index += 1;
            }
            _ => {}
        }
    }
    // The memory: defined (imports were refused above) and exported as `memory`.
    if memory_bytes.is_none() {
        return Err(ValidationError::NoMemory {
            max: limits.max_memory_pages,
        });
    }
    if !exports
        .iter()
        .any(|&(name, kind, _)| name == "memory" && kind == ExternalKind::Memory)
    {
        return Err(ValidationError::MemoryNotExported);
    }
    for &required in required_exports {
        let Some(&(name, kind, index)) = exports.iter().find(|(name, ..)| *name == required) else {
            return Err(ValidationError::MissingExport(required.to_string()));
        };
        let not_a_function = |kind| ValidationError::ExportNotAFunction {
            name: name.to_string(),
            kind,
        };
        match kind {
            ExternalKind::Func | ExternalKind::FuncExact => {}
            ExternalKind::Table => return Err(not_a_function("table")),
            ExternalKind::Memory => return Err(not_a_function("memory")),
            ExternalKind::Global => return Err(not_a_function("global")),
            ExternalKind::Tag => return Err(not_a_function("tag")),
        }
        // In range: the spec validator checked every function and type index.
        let ty = function_types
            .get(index as usize)
            .and_then(|&t| types.get(t as usize))
            .ok_or_else(|| ValidationError::Invalid(format!("export `{name}` names no function")))?;
        if !ty.params().is_empty() || !ty.results().is_empty() {
            return Err(ValidationError::ExportWrongType {
                name: name.to_string(),
                found: type_text(ty),
            });
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;
