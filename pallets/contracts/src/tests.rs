//! Unit tests of the pallet's pure rules: addresses and weights. Execution is tested through
//! the runtime with the node's sandbox (`runtime/tests/contracts.rs`, `node/chain/tests/contracts.rs`)
//! and at the ABI boundary by `exec::hostile_tests`.

use super::*;
use watt_support::externalities::{execute_with, MemoryExternalities};

#[test]
fn an_address_depends_on_deployer_code_and_salt() {
    let (_, (base, again, other_deployer, other_code, other_salt)) =
        execute_with(MemoryExternalities::default(), || {
            let d = AccountId([1; 32]);
            (
                contract_address(&d, &[2; 32], b"s"),
                contract_address(&d, &[2; 32], b"s"),
                contract_address(&AccountId([3; 32]), &[2; 32], b"s"),
                contract_address(&d, &[4; 32], b"s"),
                contract_address(&d, &[2; 32], b"t"),
            )
        });
    assert_eq!(base, again);
    for other in [other_deployer, other_code, other_salt] {
        assert_ne!(base, other);
    }
    // The documented preimage: "watt:contract" ++ deployer ++ code hash ++ salt.
    let mut pre = b"watt:contract".to_vec();
    pre.extend_from_slice(&[1; 32]);
    pre.extend_from_slice(&[2; 32]);
    pre.extend_from_slice(b"s");
    assert_eq!(base, AccountId(watt_primitives::blake2_256(&pre)));
}

#[test]
fn each_chunk_pays_for_the_upload_it_carries_and_only_the_last_for_compiling() {
    let chunk = |offset: u32| Call::UploadCodeChunk {
        code_hash: [0; 32],
        total_len: 100_000,
        offset,
        chunk: alloc::vec![0; 50_000],
    };
    let first = weight(&chunk(0));
    let last = weight(&chunk(50_000));
    assert_eq!(first, UPLOAD_BASE_WEIGHT + 50_000 * CHUNK_WEIGHT_PER_BYTE);
    // The last chunk also carries the 50,000 bytes before it, and pays for the compile.
    assert_eq!(
        last,
        UPLOAD_BASE_WEIGHT + 100_000 * CHUNK_WEIGHT_PER_BYTE + UPLOAD_BASE_WEIGHT + 100_000 * UPLOAD_WEIGHT_PER_BYTE
    );
}

#[test]
fn a_calls_weight_counts_its_whole_gas_limit() {
    let call = |gas_limit| Call::Call {
        dest: AccountId([0; 32]),
        value: 0,
        gas_limit,
        storage_deposit_limit: None,
        data: alloc::vec![],
    };
    assert_eq!(weight(&call(0)), CALL_BASE_WEIGHT);
    assert_eq!(weight(&call(1_000_000)), CALL_BASE_WEIGHT + 1_000_000);
    assert_eq!(weight(&call(u64::MAX)), u64::MAX, "saturates");
}

#[test]
fn without_a_sandbox_code_is_refused_not_stored() {
    let (ext, r) = execute_with(MemoryExternalities::default(), || {
        pallet_balances::build_genesis(&[(AccountId([1; 32]), 1_000_000_000_000_000)], 1);
        store_code(
            &AccountId([1; 32]),
            alloc::vec![0, 97, 115, 109],
            &mut Vec::new(),
            &mut Vec::new(),
        )
    });
    assert_eq!(r, Err(Error::InvalidCode));
    assert!(!ext.state.keys().any(|k| k.starts_with(b"contracts/")));
}

#[test]
fn a_schedule_with_a_free_operation_or_limits_past_the_nodes_bounds_is_refused() {
    assert_eq!(Schedule::default().check(), Ok(()));
    for bad in [
        Schedule {
            event_per_byte: 0,
            ..Schedule::default()
        },
        Schedule {
            max_call_depth: schedule::bounds::MAX_CALL_DEPTH + 1,
            ..Schedule::default()
        },
        Schedule {
            max_call_depth: 0,
            ..Schedule::default()
        },
        Schedule {
            max_value_len: schedule::bounds::MAX_VALUE_LEN + 1,
            ..Schedule::default()
        },
        Schedule {
            max_code_len: schedule::bounds::MAX_CODE_LEN + 1,
            ..Schedule::default()
        },
        Schedule {
            max_gas_per_call: 10_000_000_001,
            ..Schedule::default()
        },
        Schedule {
            deposit_per_byte: 0,
            ..Schedule::default()
        },
    ] {
        assert!(bad.check().is_err(), "{bad:?}");
    }
    // Every code limit is bounded by what the compiler was tested against (the defaults), and
    // each one past it is refused on its own.
    let tested = watt_primitives::sandbox::CodeLimits::default();
    let fields: [fn(&mut watt_primitives::sandbox::CodeLimits) -> &mut u32; 11] = [
        |l| &mut l.max_code_len,
        |l| &mut l.max_functions,
        |l| &mut l.max_locals,
        |l| &mut l.max_params,
        |l| &mut l.max_memory_pages,
        |l| &mut l.max_table_elements,
        |l| &mut l.max_globals,
        |l| &mut l.max_data_segments,
        |l| &mut l.max_exports,
        |l| &mut l.max_nesting,
        |l| &mut l.max_loop_nesting,
    ];
    for (i, field) in fields.iter().enumerate() {
        let mut limits = tested.clone();
        *field(&mut limits) += 1;
        let bad = Schedule {
            code_limits: limits,
            ..Schedule::default()
        };
        assert!(bad.check().is_err(), "code limit {i} past the tested bound");
    }
    // The VM rules: a stack limit past the native stack's sizing, a free instruction, no engine.
    let mut vm = Schedule::default();
    vm.vm.max_stack_height = 4_097;
    assert!(vm.check().is_err());
    let mut vm = Schedule::default();
    vm.vm.costs.div = 0;
    assert!(vm.check().is_err());
    let mut vm = Schedule::default();
    vm.vm.engine.clear();
    assert!(vm.check().is_err());
}
