//! Exact reward arithmetic: `a * b / c` without overflow (a 256-bit intermediate), rounding
//! down, so shares computed with it never add up to more than what is shared.

/// `floor(a * b / c)`, saturating at `u128::MAX` when the quotient does not fit; 0 when `c` is 0.
pub fn mul_div(a: u128, b: u128, c: u128) -> u128 {
    if c == 0 {
        return 0;
    }
    if let Some(p) = a.checked_mul(b) {
        return p / c;
    }
    let (hi, lo) = mul_wide(a, b);
    if hi >= c {
        return u128::MAX;
    }
    // Long division of the 256-bit (hi, lo) by c, one bit at a time; hi < c keeps the
    // remainder below c, so the quotient fits in 128 bits.
    let mut rem = hi;
    let mut quotient: u128 = 0;
    for i in (0..128).rev() {
        let carry = rem >> 127;
        rem = (rem << 1) | ((lo >> i) & 1);
        quotient <<= 1;
        if carry == 1 || rem >= c {
            rem = rem.wrapping_sub(c);
            quotient |= 1;
        }
    }
    quotient
}

/// The full 256-bit product as (high, low) halves.
fn mul_wide(a: u128, b: u128) -> (u128, u128) {
    let mask = u64::MAX as u128;
    let (a_hi, a_lo) = (a >> 64, a & mask);
    let (b_hi, b_lo) = (b >> 64, b & mask);
    let lo_lo = a_lo * b_lo;
    let hi_lo = a_hi * b_lo;
    let lo_hi = a_lo * b_hi;
    let hi_hi = a_hi * b_hi;
    let cross = (lo_lo >> 64) + (hi_lo & mask) + (lo_hi & mask);
    let lo = (lo_lo & mask) | (cross << 64);
    let hi = hi_hi + (hi_lo >> 64) + (lo_hi >> 64) + (cross >> 64);
    (hi, lo)
}

#[cfg(all(test, feature = "std"))]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Reference: schoolbook over decimal-free big integers, via u128 pieces of 32 bits.
    fn reference(a: u128, b: u128, c: u128) -> Option<u128> {
        // Represent numbers as Vec<u32> little-endian limbs.
        fn limbs(x: u128) -> Vec<u64> {
            (0..4).map(|i| ((x >> (32 * i)) & 0xffff_ffff) as u64).collect()
        }
        let (la, lb) = (limbs(a), limbs(b));
        let mut prod = vec![0u64; 9];
        for i in 0..4 {
            let mut carry = 0u64;
            for j in 0..4 {
                let t = prod[i + j] + la[i] * lb[j] + carry;
                prod[i + j] = t & 0xffff_ffff;
                carry = t >> 32;
            }
            prod[i + 4] += carry;
        }
        // Divide by c: long division on 32-bit limbs from the top, remainder as u128 may
        // overflow, so do bitwise.
        let mut rem: u128 = 0;
        let mut q = vec![0u8; 256];
        for bit in (0..256).rev() {
            let limb = prod[bit / 32];
            let b = ((limb >> (bit % 32)) & 1) as u128;
            let top = rem >> 127;
            rem = (rem << 1) | b;
            if top == 1 || rem >= c {
                rem = rem.wrapping_sub(c);
                q[bit] = 1;
            }
        }
        if q[128..].iter().any(|b| *b == 1) {
            return None;
        }
        Some((0..128).fold(0u128, |acc, i| acc | ((q[i] as u128) << i)))
    }

    #[test]
    fn known_values() {
        assert_eq!(mul_div(10, 20, 7), 28);
        assert_eq!(mul_div(u128::MAX, u128::MAX, u128::MAX), u128::MAX);
        assert_eq!(mul_div(u128::MAX, 2, 4), u128::MAX / 2);
        assert_eq!(mul_div(u128::MAX, u128::MAX, 1), u128::MAX, "saturates");
        assert_eq!(mul_div(5, 5, 0), 0);
    }

    proptest! {
        #[test]
        fn matches_a_bitwise_reference(a in any::<u128>(), b in any::<u128>(), c in 1..u128::MAX) {
            let expected = reference(a, b, c).unwrap_or(u128::MAX);
            prop_assert_eq!(mul_div(a, b, c), expected);
        }

        #[test]
        fn shares_never_exceed_the_whole(total in any::<u128>(), parts in proptest::collection::vec(1u128..1_000_000, 1..20)) {
            let sum: u128 = parts.iter().sum();
            let paid: u128 = parts.iter().map(|p| mul_div(total, *p, sum)).sum();
            prop_assert!(paid <= total);
        }
    }
}
