//! An exchange selling a token contract's tokens for native value at a fixed price, through
//! cross-contract calls: `buy` pays the exchange and receives tokens (`transfer` on the token
//! contract), `sell` hands tokens back (`transfer_from`, after an `approve`) for native value.
//! It can be given an existing token, or instantiate one from uploaded token code, holding the
//! whole supply.
#![cfg_attr(not(test), no_std)]

#[watt_contract::contract]
pub mod exchange {
    use parity_scale_codec::{Decode, Encode};
    use watt_contract::{env, selector, AccountId, CallBuilder, Hash, InstantiateBuilder};

    /// The exchange's state.
    #[storage]
    pub struct Exchange {
        owner: AccountId,
        token: AccountId,
        price: u128,
    }

    /// `buyer` bought `amount` tokens for `paid`.
    #[event]
    pub struct Bought {
        #[topic]
        pub buyer: AccountId,
        pub amount: u128,
        pub paid: u128,
    }

    /// `seller` sold `amount` tokens for `received`.
    #[event]
    pub struct Sold {
        #[topic]
        pub seller: AccountId,
        pub amount: u128,
        pub received: u128,
    }

    /// The token contract's errors, as it encodes them (mirrored, not imported: contracts only
    /// share the ABI).
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
    pub enum TokenError {
        /// The sender's balance is too low.
        InsufficientBalance,
        /// The spender's allowance is too low.
        InsufficientAllowance,
    }

    /// Why an exchange operation failed.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode)]
    pub enum Error {
        /// The value sent buys no whole token, or zero tokens were offered.
        ZeroAmount,
        /// The token contract refused (its error, when it gave one).
        Token(Option<TokenError>),
        /// The call to the token contract failed otherwise (trap, missing contract ...).
        TokenCallFailed,
        /// The exchange's balance cannot pay.
        InsufficientFunds,
        /// Only the owner may do this.
        NotOwner,
        /// The amount times the price overflows.
        Overflow,
    }

    impl Exchange {
        /// An exchange for the existing token contract `token` at `price` per token; the caller
        /// owns it. Send it tokens (a `transfer` to its address) before anyone buys.
        #[constructor]
        pub fn new(token: AccountId, price: u128) -> Self {
            assert!(price > 0, "price must be positive");
            Self {
                owner: env::caller(),
                token,
                price,
            }
        }

        /// Instantiates a token from uploaded code (`token_code`, constructor `new(supply)`), the
        /// whole supply held by this exchange, and sells it at `price`.
        #[constructor]
        pub fn with_new_token(token_code: Hash, supply: u128, price: u128) -> Self {
            assert!(price > 0, "price must be positive");
            let (token, _) = InstantiateBuilder::new(token_code, selector!("new"))
                .arg(&supply)
                .salt(&env::address().0)
                .instantiate()
                .expect("instantiating the token failed");
            Self {
                owner: env::caller(),
                token,
                price,
            }
        }

        /// Buys as many whole tokens as the value sent pays for; the change is sent back.
        /// Returns the tokens bought.
        #[message(payable)]
        pub fn buy(&mut self) -> Result<u128, Error> {
            let buyer = env::caller();
            let paid = env::value_transferred();
            let amount = paid / self.price;
            if amount == 0 {
                return Err(Error::ZeroAmount);
            }
            let cost = amount * self.price;
            self.token_call(
                CallBuilder::new(self.token, selector!("transfer"))
                    .arg(&buyer)
                    .arg(&amount),
            )?;
            if paid > cost {
                env::transfer(&buyer, paid - cost).map_err(|_| Error::InsufficientFunds)?;
            }
            env::emit(&Bought {
                buyer,
                amount,
                paid: cost,
            });
            Ok(amount)
        }

        /// Sells `amount` tokens (the caller must have approved the exchange for them) for
        /// `amount * price`. Returns the value received.
        #[message]
        pub fn sell(&mut self, amount: u128) -> Result<u128, Error> {
            if amount == 0 {
                return Err(Error::ZeroAmount);
            }
            let seller = env::caller();
            let value = amount.checked_mul(self.price).ok_or(Error::Overflow)?;
            if env::balance() < value {
                return Err(Error::InsufficientFunds);
            }
            self.token_call(
                CallBuilder::new(self.token, selector!("transfer_from"))
                    .arg(&seller)
                    .arg(&env::address())
                    .arg(&amount),
            )?;
            // A failure here reverts the whole call, the token movement included.
            env::transfer(&seller, value).map_err(|_| Error::InsufficientFunds)?;
            env::emit(&Sold {
                seller,
                amount,
                received: value,
            });
            Ok(value)
        }

        /// The owner takes `value` of the proceeds.
        #[message]
        pub fn withdraw(&mut self, value: u128) -> Result<(), Error> {
            if env::caller() != self.owner {
                return Err(Error::NotOwner);
            }
            env::transfer(&self.owner, value).map_err(|_| Error::InsufficientFunds)
        }

        /// The token contract sold.
        #[message]
        pub fn token(&self) -> AccountId {
            self.token
        }

        /// The price of one token.
        #[message]
        pub fn price(&self) -> u128 {
            self.price
        }

        /// Runs a token message returning `Result<(), TokenError>`.
        fn token_call(&self, call: CallBuilder) -> Result<(), Error> {
            match call.invoke::<Result<(), TokenError>>() {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(Error::Token(Some(e))),
                Err(e @ watt_contract::CallError::Reverted(_)) => Err(Error::Token(e.revert_error::<(), TokenError>())),
                Err(_) => Err(Error::TokenCallFailed),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    //! The real token contract runs natively as the callee (registered with the off-chain
    //! environment); one test mocks a token that traps.
    use super::exchange::*;
    use parity_scale_codec::Encode;
    use token::token::Token;
    use watt_contract::dispatch::DispatchResult;
    use watt_contract::{selector, test, AccountId, CallBuilder, Hash};

    const TOKEN_CODE: Hash = Hash([7; 32]);

    fn setup(supply: u128, price: u128) -> (Exchange, AccountId) {
        test::register_code(TOKEN_CODE, Token::__watt_deploy, Token::__watt_call);
        let ex = Exchange::with_new_token(TOKEN_CODE, supply, price);
        let token = ex.token();
        (ex, token)
    }

    fn token_balance(token: AccountId, who: AccountId) -> u128 {
        CallBuilder::new(token, selector!("balance_of"))
            .arg(&who)
            .invoke()
            .unwrap()
    }

    #[test]
    fn the_new_token_is_held_by_the_exchange() {
        let (_ex, token) = setup(1_000, 10);
        assert!(watt_contract::env::is_contract(&token));
        assert_eq!(watt_contract::env::code_hash(&token), Ok(TOKEN_CODE));
        assert_eq!(token_balance(token, test::CONTRACT), 1_000);
    }

    #[test]
    fn buy_transfers_tokens_and_returns_change() {
        let a = test::default_accounts();
        let (mut ex, token) = setup(1_000, 10);
        test::set_balance(&a.bob, 100);
        test::set_caller(a.bob);
        test::pay(57);
        assert_eq!(ex.buy(), Ok(5));
        assert_eq!(token_balance(token, a.bob), 5);
        assert_eq!(token_balance(token, test::CONTRACT), 995);
        assert_eq!(test::balance_of(&a.bob), 100 - 50);
        assert_eq!(test::balance_of(&test::CONTRACT), 50);
        let b = test::events_of::<Bought>();
        assert_eq!((b[0].buyer, b[0].amount, b[0].paid), (a.bob, 5, 50));
    }

    #[test]
    fn buying_more_than_the_exchange_holds_is_the_token_error() {
        let a = test::default_accounts();
        let (mut ex, _token) = setup(3, 10);
        test::set_balance(&a.bob, 100);
        test::set_caller(a.bob);
        test::pay(40);
        assert_eq!(ex.buy(), Err(Error::Token(Some(TokenError::InsufficientBalance))));
    }

    #[test]
    fn sell_needs_an_approval_then_pays() {
        let a = test::default_accounts();
        let (mut ex, token) = setup(1_000, 10);
        test::set_balance(&a.bob, 100);
        test::set_caller(a.bob);
        test::pay(100);
        assert_eq!(ex.buy(), Ok(10));
        test::set_value_transferred(0);

        assert_eq!(ex.sell(4), Err(Error::Token(Some(TokenError::InsufficientAllowance))));
        // Bob approves the exchange on the token contract.
        let mut approve = selector!("approve").to_bytes().to_vec();
        approve.extend((test::CONTRACT, 4u128).encode());
        test::execute_as(a.bob, token, 0, Token::__watt_call, &approve).unwrap();

        assert_eq!(ex.sell(4), Ok(40));
        assert_eq!(token_balance(token, a.bob), 6);
        assert_eq!(test::balance_of(&a.bob), 40);
        assert_eq!(test::balance_of(&test::CONTRACT), 60);
        assert_eq!(ex.sell(0), Err(Error::ZeroAmount));
    }

    #[test]
    fn sell_beyond_the_exchange_balance_is_refused_before_calling() {
        let a = test::default_accounts();
        let (mut ex, _token) = setup(1_000, 10);
        test::set_caller(a.bob);
        assert_eq!(ex.sell(1), Err(Error::InsufficientFunds));
    }

    #[test]
    fn a_trapping_token_is_a_failed_call() {
        let a = test::default_accounts();
        let broken = AccountId([9; 32]);
        test::register_contract(broken, Hash([8; 32]), |_input: &[u8]| -> DispatchResult {
            panic!("token broke")
        });
        let mut ex = Exchange::new(broken, 1);
        test::set_balance(&a.bob, 10);
        test::set_caller(a.bob);
        test::pay(5);
        assert_eq!(ex.buy(), Err(Error::TokenCallFailed));
        assert!(test::debug_messages().iter().any(|m| m.contains("token broke")));
    }

    #[test]
    fn only_the_owner_withdraws() {
        let a = test::default_accounts();
        let (mut ex, _token) = setup(1_000, 10);
        test::set_balance(&test::CONTRACT, 30);
        test::set_caller(a.bob);
        assert_eq!(ex.withdraw(10), Err(Error::NotOwner));
        test::set_caller(a.alice);
        assert_eq!(ex.withdraw(10), Ok(()));
        assert_eq!(test::balance_of(&a.alice), 10);
    }
}
