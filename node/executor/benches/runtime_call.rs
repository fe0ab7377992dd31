//! The cost of one call into the wasm runtime: a fresh instance from the cached `InstancePre`
//! on the pooling allocator, input copied in, output copied out. `watt_version` is the empty
//! call; `watt_query` (an account lookup) adds two host storage reads.
//!
//! `cargo bench -p watt-executor --bench runtime_call`

use criterion::{criterion_group, criterion_main, Criterion};
use parity_scale_codec::Encode;
use std::sync::Arc;
use watt_executor::{Executor, ExecutorConfig, MemoryBackend, RuntimeCode, StateSession};
use watt_primitives::abi::{entry, Query};
use watt_primitives::AccountId;

fn calls(c: &mut Criterion) {
    let ex = Executor::new(ExecutorConfig::default()).unwrap();
    let code = RuntimeCode::new(watt_runtime_blob::WASM_BINARY.to_vec());
    let backend: Arc<MemoryBackend> = Arc::new(MemoryBackend::default());
    ex.prepare(&code).unwrap();
    c.bench_function("runtime_call/version", |b| {
        b.iter(|| {
            let (_, out) = ex.call(&code, entry::VERSION, &[], StateSession::new(backend.clone()));
            out.unwrap()
        })
    });
    let q = Query::Account(AccountId([7; 32])).encode();
    c.bench_function("runtime_call/query_account", |b| {
        b.iter(|| {
            let (_, out) = ex.call(&code, entry::QUERY, &q, StateSession::new(backend.clone()));
            out.unwrap()
        })
    });
}

criterion_group!(benches, calls);
criterion_main!(benches);
