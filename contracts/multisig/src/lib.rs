//! An m-of-n multisig wallet holding native value: anyone may deposit; an owner proposes a
//! transfer (confirming it at once), other owners confirm, and once `threshold` owners have
//! confirmed any owner executes it, which sends the value out of the wallet's balance.
#![cfg_attr(not(test), no_std)]

#[watt_contract::contract]
pub mod multisig {
    use parity_scale_codec::{Decode, Encode};
    use watt_contract::alloc::vec::Vec;
    use watt_contract::{env, AccountId, Mapping};

    /// The wallet's state.
    #[storage]
    pub struct Multisig {
        owners: Vec<AccountId>,
        threshold: u32,
        next_id: u32,
        proposals: Mapping<u32, Proposal>,
        confirmed: Mapping<(u32, AccountId), ()>,
    }

    /// A proposed transfer.
    #[derive(Debug, Clone, PartialEq, Eq, Encode, Decode)]
    pub struct Proposal {
        /// Who receives the value.
        pub to: AccountId,
        /// How much.
        pub value: u128,
        /// Owners who confirmed so far.
        pub confirmations: u32,
        /// Whether it was carried out.
        pub executed: bool,
    }

    /// Value arrived.
    #[event]
    pub struct Deposited {
        #[topic]
        pub from: AccountId,
        pub value: u128,
    }

    /// An owner proposed a transfer.
    #[event]
    pub struct Proposed {
        #[topic]
        pub id: u32,
        #[topic]
        pub proposer: AccountId,
        pub to: AccountId,
        pub value: u128,
    }

    /// An owner confirmed a proposal.
    #[event]
    pub struct Confirmed {
        #[topic]
        pub id: u32,
        #[topic]
        pub owner: AccountId,
        pub confirmations: u32,
    }

    /// A proposal was carried out.
    #[event]
    pub struct Executed {
        #[topic]
        pub id: u32,
        pub to: AccountId,
        pub value: u128,
    }

    /// Why a wallet operation failed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
    pub enum Error {
        /// The caller is not an owner.
        NotOwner,
        /// No proposal has that id.
        UnknownProposal,
        /// The caller already confirmed that proposal.
        AlreadyConfirmed,
        /// The proposal was already carried out.
        AlreadyExecuted,
        /// Fewer than `threshold` owners confirmed.
        NotEnoughConfirmations,
        /// The wallet's balance cannot pay the transfer.
        TransferFailed,
    }

    impl Multisig {
        /// A wallet of `owners` (distinct) needing `threshold` (1..=owners) confirmations; any
        /// value sent with the deployment is its first deposit. Bad parameters trap.
        #[constructor(payable)]
        pub fn new(owners: Vec<AccountId>, threshold: u32) -> Self {
            assert!(
                threshold >= 1 && threshold as usize <= owners.len(),
                "threshold must be 1..=owners"
            );
            for (i, o) in owners.iter().enumerate() {
                assert!(!owners[..i].contains(o), "owners must be distinct");
            }
            let value = env::value_transferred();
            if value > 0 {
                env::emit(&Deposited {
                    from: env::caller(),
                    value,
                });
            }
            Self {
                owners,
                threshold,
                next_id: 0,
                proposals: Mapping::new(),
                confirmed: Mapping::new(),
            }
        }

        /// Adds the value sent to the wallet.
        #[message(payable)]
        pub fn deposit(&mut self) {
            env::emit(&Deposited {
                from: env::caller(),
                value: env::value_transferred(),
            });
        }

        /// Proposes sending `value` to `to`; the proposer's confirmation counts. Returns the id.
        #[message]
        pub fn propose(&mut self, to: AccountId, value: u128) -> Result<u32, Error> {
            let proposer = self.ensure_owner()?;
            let id = self.next_id;
            self.next_id += 1;
            self.proposals.insert(
                &id,
                &Proposal {
                    to,
                    value,
                    confirmations: 1,
                    executed: false,
                },
            );
            self.confirmed.insert(&(id, proposer), &());
            env::emit(&Proposed {
                id,
                proposer,
                to,
                value,
            });
            env::emit(&Confirmed {
                id,
                owner: proposer,
                confirmations: 1,
            });
            Ok(id)
        }

        /// Confirms proposal `id`; returns its confirmations.
        #[message]
        pub fn confirm(&mut self, id: u32) -> Result<u32, Error> {
            let owner = self.ensure_owner()?;
            let mut p = self.proposals.get(&id).ok_or(Error::UnknownProposal)?;
            if p.executed {
                return Err(Error::AlreadyExecuted);
            }
            if self.confirmed.contains(&(id, owner)) {
                return Err(Error::AlreadyConfirmed);
            }
            p.confirmations += 1;
            self.confirmed.insert(&(id, owner), &());
            self.proposals.insert(&id, &p);
            env::emit(&Confirmed {
                id,
                owner,
                confirmations: p.confirmations,
            });
            Ok(p.confirmations)
        }

        /// Carries out proposal `id` once `threshold` owners confirmed it.
        #[message]
        pub fn execute(&mut self, id: u32) -> Result<(), Error> {
            self.ensure_owner()?;
            let mut p = self.proposals.get(&id).ok_or(Error::UnknownProposal)?;
            if p.executed {
                return Err(Error::AlreadyExecuted);
            }
            if p.confirmations < self.threshold {
                return Err(Error::NotEnoughConfirmations);
            }
            env::transfer(&p.to, p.value).map_err(|_| Error::TransferFailed)?;
            p.executed = true;
            self.proposals.insert(&id, &p);
            env::emit(&Executed {
                id,
                to: p.to,
                value: p.value,
            });
            Ok(())
        }

        /// The owners.
        #[message]
        pub fn owners(&self) -> Vec<AccountId> {
            self.owners.clone()
        }

        /// Confirmations a transfer needs.
        #[message]
        pub fn threshold(&self) -> u32 {
            self.threshold
        }

        /// Proposal `id`, if any.
        #[message]
        pub fn proposal(&self, id: u32) -> Option<Proposal> {
            self.proposals.get(&id)
        }

        /// The wallet's balance.
        #[message]
        pub fn balance(&self) -> u128 {
            env::balance()
        }

        fn ensure_owner(&self) -> Result<AccountId, Error> {
            let caller = env::caller();
            if self.owners.contains(&caller) {
                Ok(caller)
            } else {
                Err(Error::NotOwner)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::multisig::*;
    use parity_scale_codec::Encode;
    use watt_contract::{selector, test, CallError};

    fn two_of_three() -> Multisig {
        let a = test::default_accounts();
        Multisig::new(vec![a.alice, a.bob, a.charlie], 2)
    }

    #[test]
    fn deposit_adds_to_the_balance() {
        let a = test::default_accounts();
        let mut w = two_of_three();
        test::set_balance(&a.eve, 1_000);
        test::set_caller(a.eve);
        test::pay(300);
        w.deposit();
        assert_eq!(w.balance(), 300);
        assert_eq!(test::balance_of(&a.eve), 700);
        let d = test::events_of::<Deposited>();
        assert_eq!((d[0].from, d[0].value), (a.eve, 300));
    }

    #[test]
    fn transfer_needs_threshold_confirmations() {
        let a = test::default_accounts();
        let mut w = two_of_three();
        test::set_balance(&test::CONTRACT, 500);
        let id = w.propose(a.django, 200).unwrap();
        assert_eq!(w.execute(id), Err(Error::NotEnoughConfirmations));
        assert_eq!(w.confirm(id), Err(Error::AlreadyConfirmed));
        test::set_caller(a.bob);
        assert_eq!(w.confirm(id), Ok(2));
        assert_eq!(w.execute(id), Ok(()));
        assert_eq!(test::balance_of(&a.django), 200);
        assert_eq!(w.balance(), 300);
        assert_eq!(w.execute(id), Err(Error::AlreadyExecuted));
        assert_eq!(w.proposal(id).map(|p| p.executed), Some(true));
        let ex = test::events_of::<Executed>();
        assert_eq!((ex[0].id, ex[0].to, ex[0].value), (id, a.django, 200));
    }

    #[test]
    fn strangers_cannot_propose_or_confirm() {
        let a = test::default_accounts();
        let mut w = two_of_three();
        let id = w.propose(a.bob, 1).unwrap();
        test::set_caller(a.eve);
        assert_eq!(w.propose(a.eve, 1), Err(Error::NotOwner));
        assert_eq!(w.confirm(id), Err(Error::NotOwner));
        assert_eq!(w.execute(id), Err(Error::NotOwner));
        assert_eq!(w.confirm(99), Err(Error::NotOwner));
    }

    #[test]
    fn execution_beyond_the_balance_fails_and_can_be_retried() {
        let a = test::default_accounts();
        let mut w = two_of_three();
        let id = w.propose(a.django, 200).unwrap();
        test::set_caller(a.bob);
        w.confirm(id).unwrap();
        assert_eq!(w.execute(id), Err(Error::TransferFailed));
        test::set_balance(&test::CONTRACT, 200);
        assert_eq!(w.execute(id), Ok(()));
        assert_eq!(test::balance_of(&a.django), 200);
    }

    #[test]
    #[should_panic(expected = "threshold")]
    fn threshold_above_owners_is_refused() {
        let a = test::default_accounts();
        Multisig::new(vec![a.alice], 2);
    }

    #[test]
    fn payable_deposit_through_dispatch_and_non_payable_refusal() {
        let a = test::default_accounts();
        let mut input = selector!("new").to_bytes().to_vec();
        input.extend((vec![a.alice, a.bob], 1u32).encode());
        assert_eq!(test::execute(Multisig::__watt_deploy, &input), Ok(vec![]));
        test::set_balance(&a.alice, 100);
        assert_eq!(
            test::execute_as(
                a.alice,
                test::CONTRACT,
                40,
                Multisig::__watt_call,
                &selector!("deposit").to_bytes()
            ),
            Ok(().encode())
        );
        assert_eq!(test::balance_of(&test::CONTRACT), 40);
        // Value sent to `propose` (not payable) reverts and is returned.
        let mut input = selector!("propose").to_bytes().to_vec();
        input.extend((a.bob, 5u128).encode());
        assert_eq!(
            test::execute_as(a.alice, test::CONTRACT, 10, Multisig::__watt_call, &input),
            Err(CallError::Reverted(vec![]))
        );
        assert_eq!(test::balance_of(&a.alice), 60);
        // With one confirmation needed, a proposal executes at once.
        assert_eq!(
            test::execute_as(a.alice, test::CONTRACT, 0, Multisig::__watt_call, &input),
            Ok(Ok::<u32, Error>(0).encode())
        );
        let mut exec = selector!("execute").to_bytes().to_vec();
        exec.extend(0u32.encode());
        assert_eq!(
            test::execute_as(a.alice, test::CONTRACT, 0, Multisig::__watt_call, &exec),
            Ok(Ok::<(), Error>(()).encode())
        );
        assert_eq!(test::balance_of(&a.bob), 5);
    }
}
