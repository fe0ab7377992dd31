//! Runtime calls are bounded: a runtime that loops is interrupted at its deadline with a clear
//! error, and the executor keeps serving calls; more concurrent callers than instances wait for
//! an instance instead of failing.

use std::sync::Arc;
use std::time::{Duration, Instant};
use watt_executor::{ExecError, Executor, ExecutorConfig, MemoryBackend, RuntimeCode, StateSession};
use watt_primitives::abi::entry;

/// Links like a runtime; `watt_apply_block` and `watt_query` loop forever, `watt_version` and
/// `watt_validate_tx_set` return at once (an empty output at address 0).
const LOOPING_RUNTIME: &str = r#"
(module
  (memory (export "memory") 1)
  (func (export "watt_alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "watt_version") (param i32 i32) (result i64) (i64.const 0))
  (func (export "watt_apply_block") (param i32 i32) (result i64)
    (loop $forever (br $forever))
    (i64.const 0))
  (func (export "watt_validate_tx_set") (param i32 i32) (result i64) (i64.const 0))
  (func (export "watt_query") (param i32 i32) (result i64)
    (loop $forever (br $forever))
    (i64.const 0)))
"#;

fn code() -> RuntimeCode {
    // wasmtime (with its `wat` feature) compiles the text form directly.
    RuntimeCode::new(LOOPING_RUNTIME.as_bytes().to_vec())
}

fn session() -> StateSession {
    StateSession::new(Arc::new(MemoryBackend::default()))
}

fn executor(call: Duration, block: Duration, instances: u32) -> Executor {
    Executor::new(ExecutorConfig {
        max_memory_bytes: 1 << 20,
        call_deadline: call,
        block_call_deadline: block,
        max_concurrent_instances: instances,
        reserved_for_consensus: 1,
        ..Default::default()
    })
    .expect("executor")
}

#[test]
fn a_looping_runtime_is_interrupted_at_its_deadline_and_the_executor_keeps_working() {
    let ex = executor(Duration::from_millis(200), Duration::from_millis(400), 4);
    let started = Instant::now();
    let (_, out) = ex.call(&code(), entry::QUERY, &[], session());
    let took = started.elapsed();
    match out {
        Err(ExecError::Deadline { entry: e, limit }) => {
            assert_eq!(e, entry::QUERY);
            assert_eq!(limit, Duration::from_millis(200));
        }
        other => panic!("expected a deadline error, got {other:?}"),
    }
    assert!(took >= Duration::from_millis(200), "interrupted too early: {took:?}");
    assert!(took < Duration::from_secs(5), "not interrupted in time: {took:?}");
    let message = ExecError::Deadline {
        entry: entry::QUERY.into(),
        limit: Duration::from_millis(200),
    }
    .to_string();
    assert!(message.contains("deadline"), "{message}");

    // Block application gets its own, longer deadline.
    let started = Instant::now();
    let (_, out) = ex.call(&code(), entry::APPLY_BLOCK, &[], session());
    assert!(
        matches!(&out, Err(ExecError::Deadline { limit, .. }) if *limit == Duration::from_millis(400)),
        "{out:?}"
    );
    assert!(started.elapsed() >= Duration::from_millis(400));

    // The interrupted calls gave their instances back: many more calls than instances succeed.
    for _ in 0..20 {
        let (_, out) = ex.call(&code(), entry::VERSION, &[], session());
        assert_eq!(out.expect("version after interrupted calls"), Vec::<u8>::new());
    }
}

#[test]
fn more_callers_than_instances_wait_instead_of_failing() {
    // Two instances, one of them reserved for consensus: ordinary calls run one at a time.
    let ex = Arc::new(executor(Duration::from_millis(150), Duration::from_millis(150), 2));
    let threads: Vec<_> = (0..6)
        .map(|_| {
            let ex = ex.clone();
            std::thread::spawn(move || ex.call(&code(), entry::QUERY, &[], session()).1)
        })
        .collect();
    let started = Instant::now();
    for t in threads {
        match t.join().expect("caller thread") {
            Err(ExecError::Deadline { .. }) => {}
            other => panic!("every caller must run (and hit the deadline), not fail to instantiate: {other:?}"),
        }
    }
    // Six 150 ms calls through one ordinary slot take at least ~900 ms: they queued.
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "calls did not wait for each other: {:?}",
        started.elapsed()
    );
}

#[test]
fn block_building_gets_the_reserved_instance_while_ordinary_calls_hold_the_rest() {
    let ex = Arc::new(executor(Duration::from_secs(3), Duration::from_millis(100), 2));
    // Occupy the only ordinary slot with a 3 s query.
    let busy = {
        let ex = ex.clone();
        std::thread::spawn(move || ex.call(&code(), entry::QUERY, &[], session()).1)
    };
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (_, out) = ex.call(&code(), entry::APPLY_BLOCK, &[], session());
    assert!(matches!(out, Err(ExecError::Deadline { .. })), "{out:?}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "block building waited for the ordinary call: {:?}",
        started.elapsed()
    );
    assert!(matches!(busy.join().unwrap(), Err(ExecError::Deadline { .. })));
}

/// SCP's validity check of a proposed set runs at once while RPC-style queries hold every
/// ordinary instance (issue 17 item 7: the consensus loop never waits on the RPC); an ordinary
/// call (a pool admission, say) started then waits for the query instead of taking the
/// reserved instance.
#[test]
fn consensus_set_validation_gets_the_reserved_instance_and_ordinary_calls_do_not() {
    let ex = Arc::new(executor(Duration::from_secs(2), Duration::from_millis(100), 2));
    let busy_started = Instant::now();
    let busy = {
        let ex = ex.clone();
        std::thread::spawn(move || ex.call(&code(), entry::QUERY, &[], session()).1)
    };
    std::thread::sleep(Duration::from_millis(300));
    let started = Instant::now();
    let (_, out) = ex.call(&code(), entry::VALIDATE_TX_SET, &[], session());
    assert_eq!(out.expect("the set check ran"), Vec::<u8>::new());
    assert!(
        started.elapsed() < Duration::from_millis(1_000),
        "the set check waited for the ordinary call: {:?}",
        started.elapsed()
    );
    let (_, out) = ex.call(&code(), entry::VERSION, &[], session());
    assert_eq!(out.expect("the ordinary call ran"), Vec::<u8>::new());
    assert!(
        busy_started.elapsed() >= Duration::from_millis(1_900),
        "an ordinary call took the reserved instance instead of waiting: {:?}",
        busy_started.elapsed()
    );
    assert!(matches!(busy.join().unwrap(), Err(ExecError::Deadline { .. })));
}
