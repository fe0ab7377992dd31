//! The Watt runtime compiled to wasm32, as bytes. The build script compiles `watt-runtime`
//! for `wasm32-unknown-unknown`; genesis stores these bytes at `:code`.

/// The runtime wasm blob (empty when built with `WATT_SKIP_WASM_BUILD` set).
pub const WASM_BINARY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/watt_runtime.wasm"));

#[cfg(test)]
mod tests {
    #[test]
    fn blob_is_a_wasm_module() {
        assert!(super::WASM_BINARY.starts_with(b"\0asm"), "blob must be a wasm module");
    }
}
