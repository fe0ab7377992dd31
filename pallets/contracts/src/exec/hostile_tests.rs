//! A hostile contract at the ABI boundary: arbitrary sequences of environment calls, with
//! arbitrary arguments over arbitrary memory, served by a real frame. Whatever the contract
//! does, the runtime must not panic, must never charge more gas than the contract has nor less
//! than the schedule's price of what a call did, must neither create nor destroy tokens, and must
//! keep the contract's storage accounting equal to what is really stored.

use super::*;
use crate::{ContractInfo, Contracts};
use proptest::prelude::*;
use watt_support::externalities::{execute_with, MemoryExternalities};

const CONTRACT: AccountId = AccountId([9; 32]);
const ORIGIN: AccountId = AccountId([1; 32]);

fn arg_value() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..64,
        0u64..70_000,
        Just(u32::MAX as u64),
        Just(u64::MAX),
        any::<u64>(),
    ]
}

fn env_call() -> impl Strategy<Value = (Vec<u8>, Vec<u64>)> {
    let name = prop_oneof![
        6 => prop::sample::select(vec!["set_storage", "clear_storage", "get_storage", "transfer"]).prop_map(|f| f.as_bytes().to_vec()),
        9 => prop::sample::select(FUNCTIONS.iter().map(|(f, _, _)| *f).collect::<Vec<_>>()).prop_map(|f| f.as_bytes().to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..12),
    ];
    (name, prop::collection::vec(arg_value(), 0..11))
}

/// The least a call that succeeded must have been charged, written from the schedule's table
/// (not from the code under test): the relay's base cost, the function's own cost and the bytes
/// it copied out of the contract's memory.
fn least_charge(s: &Schedule, name: &[u8], a: &[u64]) -> u64 {
    let arg = |i: usize| a.get(i).copied().unwrap_or(0) as u32 as u64;
    let own = match name {
        b"set_storage" => s.storage_write + s.storage_per_byte * arg(3) + s.per_byte * (arg(1) + arg(3)),
        b"clear_storage" => s.storage_write + s.per_byte * arg(1),
        b"get_storage" | b"contains_storage" => s.storage_read + s.per_byte * arg(1),
        b"transfer" => s.transfer + s.per_byte * 48,
        b"deposit_event" => {
            s.event + s.event_topic * arg(1) + s.event_per_byte * arg(3) + s.per_byte * (32 * arg(1) + arg(3))
        }
        b"balance_of" | b"is_contract" => s.storage_read + s.per_byte * 32,
        b"caller" | b"address" => s.per_byte * 32,
        b"value_transferred" => s.per_byte * 16,
        _ => 0,
    };
    s.host_call + own
}

fn sum_of_balances(state: &std::collections::BTreeMap<Vec<u8>, Vec<u8>>) -> u128 {
    state
        .iter()
        .filter(|(k, _)| k.starts_with(b"balances/free"))
        .map(|(_, v)| <u128 as parity_scale_codec::Decode>::decode(&mut &v[..]).unwrap())
        .sum()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_environment_calls_keep_the_runtime_whole(
        memory in prop::collection::vec(any::<u8>(), 4096),
        seed_small_ptrs in any::<bool>(),
        calls in prop::collection::vec(env_call(), 1..40),
        gas in 0u64..2_000_000,
    ) {
        let ext = MemoryExternalities::default();
        let (ext, ()) = execute_with(ext, || {
            pallet_balances::build_genesis(&[(ORIGIN, 1_000_000_000), (CONTRACT, 5_000)], 1);
            crate::ScheduleOf::put(&Schedule { deposit_per_item: 100, deposit_per_byte: 1, ..Schedule::default() });
            Contracts::insert(&CONTRACT, &ContractInfo {
                code_hash: [3; 32], deployer: ORIGIN, storage_items: 0, storage_bytes: 0, deposit: 0, code_len: 0,
            });
        });
        let before = sum_of_balances(&ext.state);
        let (ext, result) = execute_with(ext, || {
            let mut stack = Stack::new(&ORIGIN, None, true);
            stack.frames.push(CONTRACT);
            let mut events = Vec::new();
            let mut bev = Vec::new();
            let mut frame = Frame {
                stack: &mut stack,
                address: CONTRACT,
                caller: ORIGIN,
                value: 0,
                input: alloc::vec![1, 2, 3],
                info: Contracts::get(&CONTRACT).unwrap(),
                deposit_delta: 0,
                storage_changed: false,
                output: None,
                terminated: false,
                events: &mut events,
                bev: &mut bev,
            };
            let mut memory = memory;
            let mut mem = watt_support::sandbox::SliceMemory(&mut memory);
            let mut left = gas;
            for (name, mut args) in calls {
                if seed_small_ptrs {
                    // Small pointers and lengths: most calls then succeed.
                    for a in args.iter_mut() { *a %= 48; }
                }
                let mut meter = Meter { left, used: 0 };
                let r = frame.serve(&name, &args, &mut meter, &mut mem);
                prop_assert!(meter.used <= meter.left, "charged {} of {}", meter.used, meter.left);
                if r.is_ok() {
                    let least = least_charge(&frame.stack.schedule, &name, &args);
                    prop_assert!(
                        meter.used >= least,
                        "{} charged {} for what costs at least {}", String::from_utf8_lossy(&name), meter.used, least
                    );
                }
                left -= meter.used;
                if frame.terminated || matches!(r, Err(Stop::Halt) | Err(Stop::OutOfGas)) {
                    break;
                }
            }
            Ok::<_, TestCaseError>((frame.info.clone(), frame.terminated))
        });
        let (info, terminated) = result?;
        prop_assert_eq!(sum_of_balances(&ext.state), before, "tokens created or destroyed");
        let prefix = [CONTRACT_STORAGE_PREFIX, &CONTRACT.0[..]].concat();
        let stored: Vec<(&Vec<u8>, &Vec<u8>)> = ext.state.iter().filter(|(k, _)| k.starts_with(&prefix)).collect();
        if terminated {
            // Queued with exactly its items; the queue then removes every one of them.
            let (ext, pending) = execute_with(ext.clone(), || crate::pending_deletion(&CONTRACT));
            prop_assert_eq!(pending.map(|d| d.items_left as usize), Some(stored.len()));
            let (ext, _) = execute_with(ext, || crate::process_deletions(u32::MAX, &mut Vec::new(), &mut Vec::new()));
            prop_assert!(!ext.state.keys().any(|k| k.starts_with(&prefix)));
            prop_assert_eq!(sum_of_balances(&ext.state), before, "tokens created or destroyed by the queue");
        } else {
            prop_assert_eq!(info.storage_items as usize, stored.len());
            let bytes: usize = stored.iter().map(|(k, v)| k.len() - prefix.len() + v.len()).sum();
            prop_assert_eq!(info.storage_bytes as usize, bytes);
        }
    }
}
