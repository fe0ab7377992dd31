//! The SDK's behaviour through a contract written with it: selectors and topics against an
//! independent blake2b-256, the Mapping and root layout, the metadata JSON, dispatch errors,
//! and arbitrary input never panicking the dispatcher.

use blake2::digest::consts::U32;
use blake2::{Blake2b, Digest};
use parity_scale_codec::Encode;
use proptest::prelude::*;
use watt_contract::dispatch::DispatchError;
use watt_contract::{selector, test, AccountId, CallError};

fn blake2_256(data: &[u8]) -> [u8; 32] {
    Blake2b::<U32>::digest(data).into()
}

fn sel(name: &str) -> [u8; 4] {
    let h = blake2_256(name.as_bytes());
    [h[0], h[1], h[2], h[3]]
}

#[watt_contract::contract]
mod sample {
    use watt_contract::alloc::vec::Vec;
    use watt_contract::{env, AccountId, Mapping};

    #[storage]
    pub struct Sample {
        pub counter: u64,
        pub label: Vec<u8>,
        pub owners: Mapping<AccountId, u32>,
    }

    #[event]
    pub struct Ping {
        #[topic]
        pub who: AccountId,
        #[topic]
        pub n: u64,
        pub note: Vec<u8>,
    }

    #[event]
    pub struct Pong {}

    impl Sample {
        #[constructor]
        pub fn new(counter: u64) -> Self {
            Self {
                counter,
                label: Vec::new(),
                owners: Mapping::new(),
            }
        }

        #[constructor(payable)]
        pub fn funded() -> Self {
            Self::new(0)
        }

        #[message]
        pub fn bump(&mut self, by: u64, label: Vec<u8>) -> u64 {
            self.counter = self.counter.wrapping_add(by);
            self.label = label;
            env::emit(&Ping {
                who: env::caller(),
                n: self.counter,
                note: Vec::new(),
            });
            self.counter
        }

        #[message]
        pub fn set_owner(&mut self, who: AccountId, n: u32) {
            self.owners.insert(&who, &n);
        }

        #[message]
        pub fn owner(&self, who: AccountId) -> Option<u32> {
            self.owners.get(&who)
        }

        #[message]
        pub fn fail(&mut self, code: u8) -> Result<u8, u8> {
            self.counter = 999;
            if code == 0 {
                Ok(0)
            } else {
                Err(code)
            }
        }

        #[message(payable)]
        pub fn tip(&self) -> (u128, [u8; 4]) {
            env::emit(&Pong {});
            (env::value_transferred(), [1, 2, 3, 4])
        }
    }
}

use sample::{Ping, Pong, Sample};

fn deploy(counter: u64) {
    let mut input = sel("new").to_vec();
    input.extend(counter.encode());
    assert_eq!(test::execute(Sample::__watt_deploy, &input), Ok(vec![]));
}

#[test]
fn selector_macro_and_runtime_selector_match_blake2() {
    for name in ["transfer", "balance_of", "new", "a_rather_long_message_name_0"] {
        assert_eq!(watt_contract::Selector::from_name(name).0, sel(name));
    }
    assert_eq!(selector!("transfer").0, sel("transfer"));
    assert_eq!(selector!("bump").0, sel("bump"));
}

#[test]
fn root_value_holds_plain_fields_and_mapping_entries_live_under_their_prefix() {
    deploy(5);
    let a = test::default_accounts();
    let mut input = sel("bump").to_vec();
    input.extend((2u64, b"hi".to_vec()).encode());
    assert_eq!(test::execute(Sample::__watt_call, &input), Ok(7u64.encode()));
    // Root key: 4 zero bytes; value: SCALE(counter) ++ SCALE(label), no Mapping.
    let mut root = 7u64.encode();
    root.extend(b"hi".to_vec().encode());
    assert_eq!(test::storage_of(&test::CONTRACT, &[0, 0, 0, 0]), Some(root));

    let mut input = sel("set_owner").to_vec();
    input.extend((a.bob, 42u32).encode());
    test::execute(Sample::__watt_call, &input).unwrap();
    let mut key = blake2_256(b"Sample::owners")[..4].to_vec();
    key.extend(a.bob.0);
    assert_eq!(test::storage_of(&test::CONTRACT, &key), Some(42u32.encode()));
    assert_eq!(test::storage_entries(&test::CONTRACT).len(), 2);

    let mut input = sel("owner").to_vec();
    input.extend(a.bob.encode());
    assert_eq!(test::execute(Sample::__watt_call, &input), Ok(Some(42u32).encode()));
}

#[test]
fn event_topics_and_data_follow_the_abi() {
    let a = test::default_accounts();
    let mut s = Sample::new(1);
    s.bump(2, vec![]);
    let ev = &test::events()[0];
    assert_eq!(ev.contract, test::CONTRACT);
    // Name topic, the 32-byte AccountId as is, the 8-byte u64 hashed.
    assert_eq!(
        ev.topics,
        vec![blake2_256(b"Ping"), a.alice.0, blake2_256(&3u64.encode())]
    );
    let mut data = vec![0u8];
    data.extend(a.alice.0);
    data.extend(3u64.encode());
    data.extend(Vec::<u8>::new().encode());
    assert_eq!(ev.data, data);
    let decoded: Ping = ev.decode().unwrap();
    assert_eq!((decoded.who, decoded.n), (a.alice, 3));
    assert!(ev.decode::<Pong>().is_none());

    test::clear_events();
    s.tip();
    let ev = &test::events()[0];
    assert_eq!(ev.topics, vec![blake2_256(b"Pong")]);
    assert_eq!(ev.data, vec![1u8]);
}

#[test]
fn metadata_json_has_the_abi_shape() {
    let meta: serde_json::Value = serde_json::from_str(sample::__watt_metadata()).expect("valid JSON");
    assert_eq!(meta["abi"], "watt_v1");
    assert_eq!(meta["name"], "sample");
    let ctors = meta["constructors"].as_array().unwrap();
    assert_eq!(ctors.len(), 2);
    assert_eq!(ctors[0]["name"], "new");
    assert_eq!(ctors[0]["selector"], format!("0x{}", hex::encode(sel("new"))));
    assert_eq!(ctors[0]["args"][0]["name"], "counter");
    assert_eq!(ctors[0]["args"][0]["type"], "u64");
    assert_eq!(ctors[1]["payable"], true);

    let msgs = meta["messages"].as_array().unwrap();
    let names: Vec<&str> = msgs.iter().map(|m| m["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["bump", "set_owner", "owner", "fail", "tip"]);
    for m in msgs {
        let n = m["name"].as_str().unwrap();
        assert_eq!(m["selector"], format!("0x{}", hex::encode(sel(n))), "{n}");
    }
    assert_eq!(msgs[0]["mutates"], true);
    assert_eq!(msgs[0]["payable"], false);
    assert_eq!(msgs[0]["args"][1]["type"], "Vec<u8>");
    assert_eq!(msgs[0]["returns"], "u64");
    assert_eq!(msgs[1]["args"][0]["type"], "AccountId");
    assert_eq!(msgs[1]["returns"], "()");
    assert_eq!(msgs[2]["mutates"], false);
    assert_eq!(msgs[2]["returns"], "Option<u32>");
    assert_eq!(msgs[3]["returns"], "Result<u8, u8>");
    assert_eq!(msgs[4]["payable"], true);
    assert_eq!(msgs[4]["returns"], "(u128, [u8; 4])");

    let events = meta["events"].as_array().unwrap();
    assert_eq!(events[0]["name"], "Ping");
    assert_eq!(events[0]["index"], 0);
    assert_eq!(events[0]["fields"][0]["type"], "AccountId");
    assert_eq!(events[0]["fields"][0]["topic"], true);
    assert_eq!(events[0]["fields"][2]["topic"], false);
    assert_eq!(events[1]["index"], 1);
}

#[test]
fn dispatch_refuses_bad_input_cleanly() {
    deploy(1);
    assert_eq!(Sample::__watt_call(&[1, 2]), Err(DispatchError::NoSelector));
    assert_eq!(
        Sample::__watt_call(&[9, 9, 9, 9]),
        Err(DispatchError::UnknownSelector([9, 9, 9, 9]))
    );
    assert_eq!(
        Sample::__watt_deploy(&sel("bump")),
        Err(DispatchError::UnknownSelector(sel("bump")))
    );
    assert_eq!(
        Sample::__watt_call(&sel("bump")),
        Err(DispatchError::BadArgument {
            function: "bump",
            arg: "by"
        })
    );
    let mut input = sel("owner").to_vec();
    input.extend([0u8; 33]);
    assert_eq!(
        Sample::__watt_call(&input),
        Err(DispatchError::TrailingInput { function: "owner" })
    );
    // Through the environment: a revert with empty output and the reason in the debug buffer.
    assert_eq!(
        test::execute(Sample::__watt_call, &[9, 9, 9, 9]),
        Err(CallError::Reverted(vec![]))
    );
    assert!(test::debug_messages()
        .iter()
        .any(|m| m == "dispatch: unknown selector 0x09090909"));
}

#[test]
fn err_result_reverts_and_rolls_back_state() {
    deploy(1);
    let mut input = sel("fail").to_vec();
    input.push(3);
    assert_eq!(
        test::execute(Sample::__watt_call, &input),
        Err(CallError::Reverted(Err::<u8, u8>(3).encode()))
    );
    let root = test::storage_of(&test::CONTRACT, &[0, 0, 0, 0]).unwrap();
    assert_eq!(&root[..8], &1u64.encode()[..]);
    let mut input = sel("fail").to_vec();
    input.push(0);
    assert_eq!(test::execute(Sample::__watt_call, &input), Ok(Ok::<u8, u8>(0).encode()));
    let root = test::storage_of(&test::CONTRACT, &[0, 0, 0, 0]).unwrap();
    assert_eq!(&root[..8], &999u64.encode()[..]);
}

#[test]
fn payable_rules_hold_for_constructors_and_messages() {
    test::set_value_transferred(5);
    assert_eq!(
        Sample::__watt_deploy(&sel("new")),
        Err(DispatchError::NotPayable { function: "new" })
    );
    assert!(Sample::__watt_deploy(&sel("funded")).is_ok());
    assert_eq!(
        Sample::__watt_call(&sel("tip")).map(|o| o.output),
        Ok((5u128, [1u8, 2, 3, 4]).encode())
    );
}

#[test]
fn cross_contract_calls_roll_back_a_failing_callee_and_deny_reentrance() {
    let callee = AccountId([0xee; 32]);
    test::register_contract(callee, watt_contract::Hash([1; 32]), Sample::__watt_call);
    // Deploy the callee's state in its own frame.
    let mut input = sel("new").to_vec();
    input.extend(10u64.encode());
    test::execute_as(test::default_accounts().alice, callee, 0, Sample::__watt_deploy, &input).unwrap();

    let ok: u64 = watt_contract::CallBuilder::new(callee, selector!("bump"))
        .arg(&1u64)
        .arg(&vec![1u8])
        .invoke()
        .unwrap();
    assert_eq!(ok, 11);
    let err = watt_contract::CallBuilder::new(callee, selector!("fail"))
        .arg(&7u8)
        .invoke::<Result<u8, u8>>();
    assert_eq!(err, Err(CallError::Reverted(Err::<u8, u8>(7).encode())));
    assert_eq!(err.unwrap_err().revert_error::<u8, u8>(), Some(7));
    // The callee's write of 999 was undone.
    assert_eq!(
        &test::storage_of(&callee, &[0, 0, 0, 0]).unwrap()[..8],
        &11u64.encode()[..]
    );
    // Calling yourself is reentrance.
    test::register_contract(test::CONTRACT, watt_contract::Hash([1; 32]), Sample::__watt_call);
    assert_eq!(
        watt_contract::CallBuilder::new(test::CONTRACT, selector!("bump")).invoke_raw(),
        Err(CallError::ReentranceDenied)
    );
    assert_eq!(
        watt_contract::CallBuilder::new(AccountId([0x55; 32]), selector!("bump")).invoke_raw(),
        Err(CallError::NotAContract)
    );
    // Value beyond the balance.
    assert_eq!(
        watt_contract::CallBuilder::new(callee, selector!("tip"))
            .value(1)
            .invoke_raw(),
        Err(CallError::TransferFailed)
    );
    // Output larger than the buffer.
    assert_eq!(
        watt_contract::CallBuilder::new(callee, selector!("tip"))
            .output_capacity(4)
            .invoke_raw(),
        Err(CallError::OutputTooLarge { needed: 20 })
    );
}

#[test]
fn return_codes_round_trip() {
    for code in 1..=11 {
        assert_eq!(watt_contract::Error::check(code).unwrap_err().code(), code);
    }
    assert_eq!(watt_contract::Error::check(0), Ok(()));
    assert_eq!(watt_contract::Error::check(42), Err(watt_contract::Error::Unknown(42)));
    assert_eq!(
        watt_contract::Error::check(4),
        Err(watt_contract::Error::BufferTooSmall)
    );
}

#[test]
fn canonicalize_shortens_overlong_call_indirect_only() {
    // (module (type (func)) (table 1 funcref) (func (call_indirect (type 0) (i32.const 0))))
    // with the table index as the 5-byte LEB 0x80 0x80 0x80 0x80 0x00.
    let body_overlong: &[u8] = &[0x00, 0x41, 0x00, 0x11, 0x00, 0x80, 0x80, 0x80, 0x80, 0x00, 0x0b];
    let mut module = b"\0asm\x01\0\0\0".to_vec();
    module.extend([0x01, 0x04, 0x01, 0x60, 0x00, 0x00]); // type section
    module.extend([0x03, 0x02, 0x01, 0x00]); // function section
    module.extend([0x04, 0x04, 0x01, 0x70, 0x00, 0x01]); // table section
    let mut code = vec![0x01, body_overlong.len() as u8];
    code.extend(body_overlong);
    module.push(0x0a);
    module.push(code.len() as u8);
    module.extend(&code);
    let mvp = wasmparser::WasmFeatures::WASM1;
    assert!(wasmparser::Validator::new_with_features(mvp)
        .validate_all(&module)
        .is_err());
    let fixed = watt_contract::build::canonicalize_call_indirect(&module).unwrap();
    assert_eq!(fixed.len(), module.len() - 4);
    wasmparser::Validator::new_with_features(mvp)
        .validate_all(&fixed)
        .expect("MVP-valid after the fix-up");
    // Already canonical code is unchanged.
    assert_eq!(watt_contract::build::canonicalize_call_indirect(&fixed).unwrap(), fixed);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// Arbitrary input (behind a real selector or not) never panics the dispatcher: it runs or is
    /// refused with a DispatchError.
    #[test]
    fn arbitrary_input_never_panics(which in 0usize..6, tail in proptest::collection::vec(any::<u8>(), 0..64)) {
        test::reset();
        deploy(1);
        let names = ["bump", "set_owner", "owner", "fail", "tip", "nothing"];
        let mut input = sel(names[which]).to_vec();
        input.extend(&tail);
        let r = std::panic::catch_unwind(|| Sample::__watt_call(&input));
        prop_assert!(r.is_ok(), "dispatch panicked on {:?}", input);
        let raw = std::panic::catch_unwind(|| Sample::__watt_call(&tail));
        prop_assert!(raw.is_ok());
    }
}
