//! Fuzz target `decode_block`: the checks are in `watt_fuzz::decode_block` (fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| watt_fuzz::decode_block(data));
