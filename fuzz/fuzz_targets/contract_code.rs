//! Fuzz target `contract_code`: the checks are in `watt_fuzz::contract_code` (fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| watt_fuzz::contract_code(data));
