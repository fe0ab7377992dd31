//! Origins: who a call runs as. A signed transaction runs as its signer; Root is the chain
//! itself (governance's enactment; until governance lands, the dev spec's sudo key through
//! `sudo.sudo`). Calls that change parameters require Root.

use alloc::string::String;
use watt_primitives::{AccountId, DispatchError};

/// Who a call runs as.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Origin {
    /// The chain itself.
    Root,
    /// A signed transaction's signer.
    Signed(AccountId),
}

/// The error of a call made from the wrong origin.
pub fn bad_origin() -> DispatchError {
    DispatchError {
        module: String::from("system"),
        error: String::from("BadOrigin"),
    }
}

impl Origin {
    /// The signer, or `system::BadOrigin` for Root.
    pub fn ensure_signed(&self) -> Result<AccountId, DispatchError> {
        match self {
            Origin::Signed(who) => Ok(*who),
            Origin::Root => Err(bad_origin()),
        }
    }

    /// Ok for Root, `system::BadOrigin` for a signer.
    pub fn ensure_root(&self) -> Result<(), DispatchError> {
        match self {
            Origin::Root => Ok(()),
            Origin::Signed(_) => Err(bad_origin()),
        }
    }
}
