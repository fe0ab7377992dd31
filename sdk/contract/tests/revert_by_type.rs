//! A message reverts on `Err` because of its return *type*, however that type is spelled:
//! `Result`, `core::result::Result`, `std::result::Result`, an alias inside or outside the
//! contract module, or a type of the contract's own that implements `dispatch::Reverts`. A type
//! merely *named* `Result` (with an `is_err` method) does not revert, nor does `Option`.
//!
//! Each message first writes the root value (`counter`), a Mapping entry and an event, so a
//! revert is visible as all three being undone.

use parity_scale_codec::{Decode, Encode};
use watt_contract::{test, CallError};

/// An alias declared outside the contract module.
pub type OuterResult<T> = core::result::Result<T, u8>;

/// A type named `Result` that is not `core::result::Result`; the old spelling check treated it
/// as one (and called its `is_err`).
pub mod fake {
    use parity_scale_codec::{Decode, Encode};

    #[derive(Debug, PartialEq, Eq, Encode, Decode)]
    pub struct Result<T>(pub T);

    impl<T> Result<T> {
        /// Always "an error": the dispatcher must not look at this.
        pub fn is_err(&self) -> bool {
            true
        }
    }
}

#[watt_contract::contract]
mod spellings {
    use parity_scale_codec::{Decode, Encode};
    use watt_contract::{env, Mapping};

    #[storage]
    pub struct Spellings {
        pub counter: u64,
        pub log: Mapping<u8, u8>,
    }

    #[event]
    pub struct Touched {
        pub by: u8,
    }

    #[derive(Debug, PartialEq, Eq, Encode, Decode)]
    pub enum MyError {
        Nope,
    }

    /// An alias inside the module.
    pub type MyResult<T> = Result<T, MyError>;

    /// A return type of the contract's own that opts into reverting.
    #[derive(Debug, PartialEq, Eq, Encode, Decode)]
    pub enum Verdict {
        Fine(u8),
        Refused(u8),
    }

    impl watt_contract::dispatch::Reverts for Verdict {
        fn reverts(&self) -> bool {
            matches!(self, Verdict::Refused(_))
        }
    }

    impl Spellings {
        #[constructor]
        pub fn new() -> Self {
            Self {
                counter: 0,
                log: Mapping::new(),
            }
        }

        fn touch(&mut self, tag: u8) {
            self.counter += 1;
            self.log.insert(&tag, &tag);
            env::emit(&Touched { by: tag });
        }

        #[message]
        pub fn plain(&mut self, fail: bool) -> Result<u8, u8> {
            self.touch(1);
            if fail {
                Err(11)
            } else {
                Ok(1)
            }
        }

        #[message]
        pub fn core_path(&mut self, fail: bool) -> core::result::Result<u8, u8> {
            self.touch(2);
            if fail {
                Err(12)
            } else {
                Ok(2)
            }
        }

        #[message]
        pub fn std_path(&mut self, fail: bool) -> std::result::Result<u8, u8> {
            self.touch(3);
            if fail {
                Err(13)
            } else {
                Ok(3)
            }
        }

        #[message]
        pub fn inner_alias(&mut self, fail: bool) -> MyResult<u8> {
            self.touch(4);
            if fail {
                Err(MyError::Nope)
            } else {
                Ok(4)
            }
        }

        #[message]
        pub fn outer_alias(&mut self, fail: bool) -> super::OuterResult<u8> {
            self.touch(5);
            if fail {
                Err(15)
            } else {
                Ok(5)
            }
        }

        #[message]
        pub fn own_type(&mut self, fail: bool) -> Verdict {
            self.touch(6);
            if fail {
                Verdict::Refused(16)
            } else {
                Verdict::Fine(6)
            }
        }

        #[message]
        pub fn named_result(&mut self) -> super::fake::Result<u8> {
            self.touch(7);
            super::fake::Result(7)
        }

        #[message]
        pub fn option(&mut self) -> Option<u8> {
            self.touch(8);
            None
        }
    }
}

use spellings::{MyError, Spellings, Verdict};

fn sel(name: &str) -> Vec<u8> {
    watt_contract::Selector::from_name(name).0.to_vec()
}

fn deploy() {
    assert_eq!(test::execute(Spellings::__watt_deploy, &sel("new")), Ok(vec![]));
}

fn counter() -> u64 {
    let root = test::storage_of(&test::CONTRACT, &[0, 0, 0, 0]).expect("deployed");
    u64::decode(&mut &root[..]).unwrap()
}

fn log_key(tag: u8) -> Vec<u8> {
    let mut k = watt_contract::env::hash_blake2_256(b"Spellings::log")[..4].to_vec();
    k.push(tag);
    k
}

/// Runs `name(fail)`; checks the outcome is `expected_err` as a revert (nothing written) or,
/// when `fail` is false, success with the writes kept.
fn check(name: &str, tag: u8, fail_output: Vec<u8>, ok_output: Vec<u8>) {
    test::reset();
    deploy();
    let mut input = sel(name);
    input.extend(true.encode());
    assert_eq!(
        test::execute(Spellings::__watt_call, &input),
        Err(CallError::Reverted(fail_output)),
        "{name} must revert on its error value"
    );
    assert_eq!(counter(), 0, "{name}: the root write is undone");
    assert_eq!(
        test::storage_of(&test::CONTRACT, &log_key(tag)),
        None,
        "{name}: the entry is undone"
    );
    assert!(test::events().is_empty(), "{name}: the event is undone");

    let mut input = sel(name);
    input.extend(false.encode());
    assert_eq!(test::execute(Spellings::__watt_call, &input), Ok(ok_output));
    assert_eq!(counter(), 1, "{name}: success keeps the root write");
    assert_eq!(test::storage_of(&test::CONTRACT, &log_key(tag)), Some(vec![tag]));
    assert_eq!(test::events().len(), 1);
}

#[test]
fn result_reverts_on_err() {
    check("plain", 1, Err::<u8, u8>(11).encode(), Ok::<u8, u8>(1).encode());
}

#[test]
fn core_result_path_reverts_on_err() {
    check("core_path", 2, Err::<u8, u8>(12).encode(), Ok::<u8, u8>(2).encode());
}

#[test]
fn std_result_path_reverts_on_err() {
    check("std_path", 3, Err::<u8, u8>(13).encode(), Ok::<u8, u8>(3).encode());
}

#[test]
fn alias_in_the_module_reverts_on_err() {
    check(
        "inner_alias",
        4,
        Err::<u8, MyError>(MyError::Nope).encode(),
        Ok::<u8, MyError>(4).encode(),
    );
}

#[test]
fn alias_outside_the_module_reverts_on_err() {
    check("outer_alias", 5, Err::<u8, u8>(15).encode(), Ok::<u8, u8>(5).encode());
}

#[test]
fn own_type_implementing_reverts_reverts() {
    check("own_type", 6, Verdict::Refused(16).encode(), Verdict::Fine(6).encode());
}

#[test]
fn a_type_merely_named_result_and_option_never_revert() {
    deploy();
    assert_eq!(
        test::execute(Spellings::__watt_call, &sel("named_result")),
        Ok(fake::Result(7u8).encode())
    );
    assert_eq!(counter(), 1);
    assert_eq!(test::storage_of(&test::CONTRACT, &log_key(7)), Some(vec![7]));
    assert_eq!(
        test::execute(Spellings::__watt_call, &sel("option")),
        Ok(None::<u8>.encode())
    );
    assert_eq!(counter(), 2);
}

#[test]
fn the_outcome_carries_the_revert_flag_for_every_spelling() {
    for name in [
        "plain",
        "core_path",
        "std_path",
        "inner_alias",
        "outer_alias",
        "own_type",
    ] {
        test::reset();
        deploy();
        let mut input = sel(name);
        input.extend(true.encode());
        let outcome = Spellings::__watt_call(&input).expect("dispatches");
        assert!(outcome.revert, "{name}");
        let mut input = sel(name);
        input.extend(false.encode());
        assert!(!Spellings::__watt_call(&input).expect("dispatches").revert, "{name}");
    }
}
