//! A fungible token: the whole supply goes to the deployer; holders transfer, approve spenders,
//! and spenders move approved amounts (`transfer_from`). Emits `Transfer` and `Approval`.
#![cfg_attr(not(test), no_std)]

#[watt_contract::contract]
pub mod token {
    use parity_scale_codec::{Decode, Encode};
    use watt_contract::{env, AccountId, Mapping};

    /// The token's state.
    #[storage]
    pub struct Token {
        total_supply: u128,
        balances: Mapping<AccountId, u128>,
        allowances: Mapping<(AccountId, AccountId), u128>,
    }

    /// Tokens moved (`from` is `None` when minted).
    #[event]
    pub struct Transfer {
        #[topic]
        pub from: Option<AccountId>,
        #[topic]
        pub to: Option<AccountId>,
        pub value: u128,
    }

    /// `owner` let `spender` move up to `value` of its tokens.
    #[event]
    pub struct Approval {
        #[topic]
        pub owner: AccountId,
        #[topic]
        pub spender: AccountId,
        pub value: u128,
    }

    /// Why a token operation failed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
    pub enum Error {
        /// The sender holds fewer tokens than it tries to move.
        InsufficientBalance,
        /// The spender's allowance is smaller than the amount.
        InsufficientAllowance,
    }

    impl Token {
        /// A token with `total_supply` tokens, all held by the caller.
        #[constructor]
        pub fn new(total_supply: u128) -> Self {
            let caller = env::caller();
            let mut balances = Mapping::new();
            balances.insert(&caller, &total_supply);
            env::emit(&Transfer {
                from: None,
                to: Some(caller),
                value: total_supply,
            });
            Self {
                total_supply,
                balances,
                allowances: Mapping::new(),
            }
        }

        /// All tokens in existence.
        #[message]
        pub fn total_supply(&self) -> u128 {
            self.total_supply
        }

        /// The tokens `owner` holds.
        #[message]
        pub fn balance_of(&self, owner: AccountId) -> u128 {
            self.balances.get(&owner).unwrap_or(0)
        }

        /// How much `spender` may still move of `owner`'s tokens.
        #[message]
        pub fn allowance(&self, owner: AccountId, spender: AccountId) -> u128 {
            self.allowances.get(&(owner, spender)).unwrap_or(0)
        }

        /// Moves `value` of the caller's tokens to `to`.
        #[message]
        pub fn transfer(&mut self, to: AccountId, value: u128) -> Result<(), Error> {
            let from = env::caller();
            self.move_tokens(from, to, value)
        }

        /// Lets `spender` move up to `value` of the caller's tokens (replacing any earlier
        /// allowance).
        #[message]
        pub fn approve(&mut self, spender: AccountId, value: u128) -> Result<(), Error> {
            let owner = env::caller();
            self.allowances.insert(&(owner, spender), &value);
            env::emit(&Approval { owner, spender, value });
            Ok(())
        }

        /// Moves `value` of `from`'s tokens to `to`, spending the caller's allowance.
        #[message]
        pub fn transfer_from(&mut self, from: AccountId, to: AccountId, value: u128) -> Result<(), Error> {
            let spender = env::caller();
            let allowed = self.allowance(from, spender);
            if allowed < value {
                return Err(Error::InsufficientAllowance);
            }
            self.move_tokens(from, to, value)?;
            self.allowances.insert(&(from, spender), &(allowed - value));
            Ok(())
        }

        fn move_tokens(&mut self, from: AccountId, to: AccountId, value: u128) -> Result<(), Error> {
            let from_balance = self.balance_of(from);
            if from_balance < value {
                return Err(Error::InsufficientBalance);
            }
            self.balances.insert(&from, &(from_balance - value));
            // The supply is bounded by total_supply, so the recipient's balance cannot overflow.
            let to_balance = self.balance_of(to);
            self.balances.insert(&to, &(to_balance + value));
            env::emit(&Transfer {
                from: Some(from),
                to: Some(to),
                value,
            });
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::token::*;
    use parity_scale_codec::Encode;
    use watt_contract::{selector, test, AccountId, CallError};

    fn accounts() -> test::DefaultAccounts {
        test::default_accounts()
    }

    #[test]
    fn new_gives_the_whole_supply_to_the_deployer_and_emits_a_mint() {
        let a = accounts();
        let t = Token::new(1_000);
        assert_eq!(t.total_supply(), 1_000);
        assert_eq!(t.balance_of(a.alice), 1_000);
        assert_eq!(t.balance_of(a.bob), 0);
        let transfers = test::events_of::<Transfer>();
        assert_eq!(transfers.len(), 1);
        assert_eq!(transfers[0].from, None);
        assert_eq!(transfers[0].to, Some(a.alice));
        assert_eq!(transfers[0].value, 1_000);
    }

    #[test]
    fn transfer_moves_tokens_and_emits_with_topics() {
        let a = accounts();
        let mut t = Token::new(100);
        test::clear_events();
        assert_eq!(t.transfer(a.bob, 30), Ok(()));
        assert_eq!(t.balance_of(a.alice), 70);
        assert_eq!(t.balance_of(a.bob), 30);
        let events = test::events();
        assert_eq!(events.len(), 1);
        let ev = &events[0];
        // Topics: blake2b-256("Transfer"), then the Option<AccountId> fields hashed (33 bytes).
        assert_eq!(ev.topics.len(), 3);
        assert_eq!(ev.topics[0], watt_contract::env::hash_blake2_256(b"Transfer"));
        assert_eq!(
            ev.topics[1],
            watt_contract::env::hash_blake2_256(&Some(a.alice).encode())
        );
        assert_eq!(ev.topics[2], watt_contract::env::hash_blake2_256(&Some(a.bob).encode()));
        // Data: index 0, then every field.
        let mut data = vec![0u8];
        data.extend((Some(a.alice), Some(a.bob), 30u128).encode());
        assert_eq!(ev.data, data);
    }

    #[test]
    fn transfer_beyond_balance_fails_and_changes_nothing() {
        let a = accounts();
        let mut t = Token::new(10);
        assert_eq!(t.transfer(a.bob, 11), Err(Error::InsufficientBalance));
        assert_eq!(t.balance_of(a.alice), 10);
        assert_eq!(t.balance_of(a.bob), 0);
    }

    #[test]
    fn transfer_from_spends_the_allowance() {
        let a = accounts();
        let mut t = Token::new(100);
        assert_eq!(t.approve(a.bob, 40), Ok(()));
        let approvals = test::events_of::<Approval>();
        assert_eq!(approvals.len(), 1);
        assert_eq!(
            (approvals[0].owner, approvals[0].spender, approvals[0].value),
            (a.alice, a.bob, 40)
        );
        // AccountId topics are the raw 32 bytes.
        let ev = test::events()
            .into_iter()
            .find(|e| e.decode::<Approval>().is_some())
            .unwrap();
        assert_eq!(ev.topics[1], a.alice.0);
        assert_eq!(ev.topics[2], a.bob.0);

        test::set_caller(a.bob);
        assert_eq!(
            t.transfer_from(a.alice, a.charlie, 50),
            Err(Error::InsufficientAllowance)
        );
        assert_eq!(t.transfer_from(a.alice, a.charlie, 25), Ok(()));
        assert_eq!(t.allowance(a.alice, a.bob), 15);
        assert_eq!(t.balance_of(a.alice), 75);
        assert_eq!(t.balance_of(a.charlie), 25);
    }

    #[test]
    fn transfer_from_beyond_owner_balance_keeps_the_allowance() {
        let a = accounts();
        let mut t = Token::new(10);
        t.approve(a.bob, 100).unwrap();
        test::set_caller(a.bob);
        assert_eq!(t.transfer_from(a.alice, a.bob, 11), Err(Error::InsufficientBalance));
        assert_eq!(t.allowance(a.alice, a.bob), 100);
    }

    #[test]
    fn dispatch_runs_messages_and_persists_state() {
        let a = accounts();
        let mut input = selector!("new").to_bytes().to_vec();
        input.extend(500u128.encode());
        assert_eq!(test::execute(Token::__watt_deploy, &input), Ok(vec![]));

        let mut input = selector!("transfer").to_bytes().to_vec();
        input.extend((a.bob, 200u128).encode());
        assert_eq!(
            test::execute(Token::__watt_call, &input),
            Ok(Ok::<(), Error>(()).encode())
        );

        let mut input = selector!("balance_of").to_bytes().to_vec();
        input.extend(a.bob.encode());
        assert_eq!(test::execute(Token::__watt_call, &input), Ok(200u128.encode()));

        let total = test::execute(Token::__watt_call, &selector!("total_supply").to_bytes());
        assert_eq!(total, Ok(500u128.encode()));
    }

    #[test]
    fn failing_message_reverts_with_the_encoded_error_and_rolls_back() {
        let a = accounts();
        let mut input = selector!("new").to_bytes().to_vec();
        input.extend(5u128.encode());
        test::execute(Token::__watt_deploy, &input).unwrap();
        let events_before = test::events().len();

        let mut input = selector!("transfer").to_bytes().to_vec();
        input.extend((a.bob, 6u128).encode());
        let out = test::execute(Token::__watt_call, &input);
        assert_eq!(
            out,
            Err(CallError::Reverted(
                Err::<(), Error>(Error::InsufficientBalance).encode()
            ))
        );
        assert_eq!(test::events().len(), events_before);
    }

    #[test]
    fn value_sent_to_a_non_payable_message_reverts() {
        let mut input = selector!("new").to_bytes().to_vec();
        input.extend(5u128.encode());
        test::execute(Token::__watt_deploy, &input).unwrap();
        test::set_value_transferred(1);
        let out = test::execute(Token::__watt_call, &selector!("total_supply").to_bytes());
        assert_eq!(out, Err(CallError::Reverted(vec![])));
        assert!(test::debug_messages().iter().any(|m| m.contains("not payable")));
    }

    #[test]
    fn balances_live_under_the_documented_mapping_key() {
        let a = accounts();
        let _t = Token::new(7);
        let h = watt_contract::env::hash_blake2_256(b"Token::balances");
        let mut key = h[..4].to_vec();
        key.extend(a.alice.encode());
        assert_eq!(test::storage_of(&test::CONTRACT, &key), Some(7u128.encode()));
    }

    #[test]
    fn metadata_lists_every_message_with_its_selector() {
        let meta = __watt_metadata();
        for name in [
            "transfer",
            "approve",
            "transfer_from",
            "balance_of",
            "allowance",
            "total_supply",
        ] {
            assert!(
                meta.contains(&format!("\"name\":\"{name}\"")),
                "{name} missing from {meta}"
            );
        }
        let _ = AccountId::default();
    }
}
