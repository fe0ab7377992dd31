//! Fuzz target `chain_spec`: the checks are in `watt_fuzz::chain_spec` (fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| watt_fuzz::chain_spec(data));
