//! Fuzz target `decode_proof`: the checks are in `watt_fuzz::decode_proof` (fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| watt_fuzz::decode_proof(data));
