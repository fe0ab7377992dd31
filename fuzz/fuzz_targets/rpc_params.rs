//! Fuzz target `rpc_params`: the checks are in `watt_fuzz::rpc_params` (fuzz/src/lib.rs).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| watt_fuzz::rpc_params(data));
