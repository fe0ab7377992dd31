//! Fuzz target `decode_transaction`: the checks are in `watt_fuzz::decode_transaction` (fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| watt_fuzz::decode_transaction(data));
