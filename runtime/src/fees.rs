//! The fee rule: `base + byte_fee * encoded_len + weight_fee * weight + tip`, all saturating.
//! Every byte of a fee goes to the fee pool (`watt_primitives::fee_pool_account`).

use watt_primitives::{abi::ChainParams, Balance};
use watt_support::Weight;

/// Fee without tip for a transaction of `len` bytes whose call weighs `weight`.
pub fn fee(params: &ChainParams, len: u32, weight: Weight) -> Balance {
    params
        .base_fee
        .saturating_add(params.byte_fee.saturating_mul(len as Balance))
        .saturating_add(params.weight_fee.saturating_mul(weight as Balance))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fee_grows_with_each_term() {
        let p = ChainParams {
            existential_deposit: 1,
            base_fee: 1000,
            byte_fee: 10,
            weight_fee: 2,
            max_tx_len: 100,
            max_block_weight: 1_000_000,
            max_block_transactions: 100,
            max_block_bytes: 10_000,
        };
        assert_eq!(fee(&p, 0, 0), 1000);
        assert_eq!(fee(&p, 5, 0), 1050);
        assert_eq!(fee(&p, 5, 7), 1064);
        let huge = ChainParams {
            byte_fee: Balance::MAX,
            ..p
        };
        assert_eq!(fee(&huge, 2, 0), Balance::MAX, "saturates instead of wrapping");
    }
}
