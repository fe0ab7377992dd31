//! Upload-time validation of contract code (the contracts issue, ARCHITECTURE "Contracts"):
//! before a contract's wasm is stored or compiled, it must be a valid module that
//! - is at most `max_code_len` bytes;
//! - uses only deterministic, single-threaded wasm: the MVP with mutable globals, sign
//!   extension, multi-value and bulk memory; no threads, SIMD, memory64, multiple memories,
//!   reference types, exceptions or GC (ARCHITECTURE §4), and no floating point at all unless
//!   [`Limits::allow_floats`] (the engine must then canonicalize NaNs);
//! - imports only what the host's contract environment offers (the caller's `allowed_import`
//!   says which module/name pairs), and no table, global or tag;
//! - has at most one memory, imported or defined, whose declared maximum is within
//!   `max_memory_pages` (a memory without a maximum is refused: it could grow without bound);
//! - stays within the function, locals-per-function, parameter, table, global, data-segment and
//!   export limits, so compiling it is bounded by its size;
//! - has no start section (code runs only when a message is called, with gas);
//! - exports the functions the environment calls (`required_exports`).
//!
//! Pure: bytes in, a summary or the first reason out. Every reason is a [`ValidationError`]
//! variant a developer can act on. No input panics (property-tested and fuzzed).

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
    /// An import of a table, global or tag (only functions and the memory may be imported).
    #[error("import `{module}`.`{name}` is a {kind}; contracts may import only functions and their memory")]
    ForbiddenImportKind {
        /// Import module.
        module: String,
        /// Import name.
        name: String,
        /// What it is.
        kind: &'static str,
    },
    /// A start section.
    #[error("contract code has a start function: code may run only when called, with gas")]
    StartFunction,
    /// More than one memory.
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
    /// Whether the memory is imported (else defined and exported by the module).
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

/// Validates contract `code` under `limits`; `allowed_import(module, name)` says which function
/// imports the environment offers, and every name in `required_exports` must be an exported
/// function.
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
    // The spec validator first: after it, every section below is well formed.
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
                        let forbidden_kind = |kind| ValidationError::ForbiddenImportKind {
                            module: module.to_string(),
                            name: name.to_string(),
                            kind,
                        };
                        match ty {
                            TypeRef::Func(_) | TypeRef::FuncExact(_) => {
                                if !allowed_import(module, name) {
                                    return Err(ValidationError::ForbiddenImport {
                                        module: module.to_string(),
                                        name: name.to_string(),
                                    });
                                }
                                summary.imported_functions += 1;
                            }
                            TypeRef::Memory(m) => {
                                summary.memory_pages = check_memory(&m)?;
                                summary.memory_imported = true;
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
                }
            }
            Payload::MemorySection(reader) => {
                for memory in reader {
                    summary.memory_pages = check_memory(&memory.map_err(invalid)?)?;
                }
            }
            Payload::GlobalSection(reader) => {
                at_most("globals", reader.count(), limits.max_globals)?;
            }
            Payload::DataSection(reader) => {
                at_most("data segments", reader.count(), limits.max_data_segments)?;
            }
            Payload::ExportSection(reader) => {
                at_most("exports", reader.count(), limits.max_exports)?;
                for export in reader {
                    let export = export.map_err(invalid)?;
                    if export.kind == ExternalKind::Func {
                        summary.exported_functions.push(export.name.to_string());
                    }
                }
            }
            Payload::StartSection { .. } => return Err(ValidationError::StartFunction),
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
    for name in required_exports {
        if !summary.exported_functions.iter().any(|e| e == name) {
            return Err(ValidationError::MissingExport(name.to_string()));
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;
