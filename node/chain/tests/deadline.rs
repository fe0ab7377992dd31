//! A runtime that loops cannot hang the chain: block building is interrupted at its deadline
//! with a clear error, nothing is committed, the chain keeps answering, and production resumes
//! once a working runtime runs again.

use std::time::{Duration, Instant};
use watt_chain::test_utils::{keyring, open_dev_chain, open_dev_chain_with, transfer_bytes};
use watt_chain::{ChainConfig, ChainError};
use watt_executor::{ExecError, ExecutorConfig};
use watt_primitives::UNIT;

/// Links like a runtime; every entry point loops forever.
const LOOPING_RUNTIME: &str = r#"
(module
  (memory (export "memory") 2)
  (func (export "watt_alloc") (param i32) (result i32) i32.const 1024)
  (func (export "watt_apply_block") (param i32 i32) (result i64) (loop $l (br $l)) i64.const 0)
  (func (export "watt_query") (param i32 i32) (result i64) (loop $l (br $l)) i64.const 0)
  (func (export "watt_validate_transaction") (param i32 i32) (result i64) (loop $l (br $l)) i64.const 0)
  (func (export "watt_version") (param i32 i32) (result i64) (loop $l (br $l)) i64.const 0))
"#;

#[test]
fn a_looping_runtime_is_interrupted_and_production_resumes_with_a_working_one() {
    let dir = tempfile::tempdir().unwrap();
    let keys = keyring();
    let head = {
        let chain = open_dev_chain(dir.path());
        let bytes = transfer_bytes(chain.genesis_hash(), &keys[0], keys[1].account(), UNIT, 0);
        chain.submit(&bytes).unwrap();
        chain.produce_block(1_000, true, false).unwrap();
        chain.best()
    };
    let config = ChainConfig {
        code_override: Some(LOOPING_RUNTIME.as_bytes().to_vec()),
        executor: ExecutorConfig {
            block_call_deadline: Duration::from_millis(500),
            call_deadline: Duration::from_millis(300),
            ..Default::default()
        },
        ..Default::default()
    };
    let chain = open_dev_chain_with(dir.path(), config);
    for attempt in 0..2 {
        let started = Instant::now();
        let err = chain.produce_block(2_000 + attempt, true, true).unwrap_err();
        let took = started.elapsed();
        assert!(
            matches!(err, ChainError::Exec(ExecError::Deadline { .. })),
            "attempt {attempt}: {err}"
        );
        assert!(err.to_string().contains("deadline"), "{err}");
        assert!(took < Duration::from_secs(10), "block building hung for {took:?}");
        assert_eq!(chain.best(), head, "nothing committed");
    }
    // Runtime queries are bounded too, and the chain still serves raw reads.
    let started = Instant::now();
    assert!(matches!(
        chain.runtime_version(),
        Err(ChainError::Exec(ExecError::Deadline { .. }))
    ));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert!(chain.header(&head.1).unwrap().is_some());
    drop(chain);
    let chain = open_dev_chain(dir.path());
    assert_eq!(chain.best(), head);
    let next = chain.produce_block(3_000, true, true).unwrap().unwrap();
    assert_eq!(next.header.number, head.0 + 1);
}
