//! SCALE round trips of the runtime's call and event enums (the `call` bytes inside every
//! transaction, the events inside every receipt): `decode_all(encode(x)) == x`, arbitrary or
//! slightly corrupted bytes never make decoding panic, and whatever decodes re-encodes to the
//! very same bytes (no second encoding of a call, e.g. a non-minimal compact amount).

use parity_scale_codec::{Compact, Decode, DecodeAll, Encode};
use proptest::collection::vec;
use proptest::prelude::*;
use watt_primitives::AccountId;
use watt_runtime::{
    pallet_balances, pallet_identity, pallet_pledge, pallet_presence, pallet_rewards, pallet_system, sudo, RuntimeCall,
    RuntimeEvent,
};

fn amount() -> impl Strategy<Value = u128> {
    // Compact encodings change width at 2^6, 2^14, 2^30 and then per byte: cover each mode.
    prop_oneof![
        0u128..64,
        64u128..16_384,
        16_384u128..1 << 30,
        any::<u64>().prop_map(u128::from),
        any::<u128>(),
        Just(u128::MAX),
    ]
}

fn account() -> impl Strategy<Value = AccountId> {
    any::<[u8; 32]>().prop_map(AccountId)
}

fn call() -> impl Strategy<Value = RuntimeCall> {
    leaf_call().prop_recursive(3, 8, 1, |inner| inner.prop_map(sudo))
}

fn economy_call() -> impl Strategy<Value = RuntimeCall> {
    prop_oneof![
        account().prop_map(|who| RuntimeCall::Identity(pallet_identity::Call::Attest { who })),
        account().prop_map(|who| RuntimeCall::Identity(pallet_identity::Call::Revoke { who })),
        vec(account(), 0..4)
            .prop_map(|registrars| RuntimeCall::Identity(pallet_identity::Call::SetRegistrars { registrars })),
        Just(RuntimeCall::Presence(pallet_presence::Call::CheckIn)),
        vec(account(), 0..6).prop_map(|members| RuntimeCall::Presence(pallet_presence::Call::SetCircle { members })),
        account().prop_map(|referrer| RuntimeCall::Presence(pallet_presence::Call::SetReferrer { referrer })),
        any::<u64>().prop_map(|units| RuntimeCall::Pledge(pallet_pledge::Call::Bond { units })),
        any::<u64>().prop_map(|units| RuntimeCall::Pledge(pallet_pledge::Call::Unbond { units })),
        Just(RuntimeCall::Pledge(pallet_pledge::Call::Withdraw)),
        Just(RuntimeCall::Rewards(pallet_rewards::Call::Claim)),
        (1u64..100_000, amount()).prop_map(|(day_blocks, cap)| {
            let mut params = watt_primitives::economy::EconomyParams::mainnet(day_blocks);
            params.supply_cap = cap;
            RuntimeCall::Rewards(pallet_rewards::Call::SetParams { params })
        }),
    ]
}

fn leaf_call() -> impl Strategy<Value = RuntimeCall> {
    prop_oneof![
        economy_call(),
        vec(any::<u8>(), 0..100).prop_map(|data| RuntimeCall::System(pallet_system::Call::Remark { data })),
        (account(), amount()).prop_map(|(dest, v)| RuntimeCall::Balances(pallet_balances::Call::Transfer {
            dest,
            value: Compact(v)
        })),
        (account(), amount()).prop_map(
            |(dest, v)| RuntimeCall::Balances(pallet_balances::Call::TransferKeepAlive {
                dest,
                value: Compact(v)
            })
        ),
    ]
}

fn event() -> impl Strategy<Value = RuntimeEvent> {
    use pallet_balances::Event as B;
    prop_oneof![
        (account(), any::<[u8; 32]>())
            .prop_map(|(who, hash)| RuntimeEvent::System(pallet_system::Event::Remarked { who, hash })),
        (account(), account(), amount()).prop_map(|(from, to, amount)| RuntimeEvent::Balances(B::Transfer {
            from,
            to,
            amount
        })),
        (account(), amount()).prop_map(|(account, free)| RuntimeEvent::Balances(B::Endowed { account, free })),
        (account(), amount()).prop_map(|(account, dust)| RuntimeEvent::Balances(B::Reaped { account, dust })),
        (account(), amount()).prop_map(|(who, amount)| RuntimeEvent::Balances(B::FeePaid { who, amount })),
        (account(), amount()).prop_map(|(account, amount)| RuntimeEvent::Balances(B::Minted { account, amount })),
        (account(), account(), amount()).prop_map(|(who, registrar, cancelled)| RuntimeEvent::Identity(
            pallet_identity::Event::Revoked {
                who,
                registrar,
                cancelled
            }
        )),
        (account(), any::<u64>(), any::<bool>(), proptest::option::of(account())).prop_map(
            |(who, day, contributor, ambassador)| RuntimeEvent::Presence(pallet_presence::Event::CheckedIn {
                who,
                day,
                contributor,
                ambassador
            })
        ),
        (account(), amount(), any::<[u128; 5]>()).prop_map(|(who, amount, r)| RuntimeEvent::Rewards(
            pallet_rewards::Event::Claimed {
                who,
                amount,
                by_role: watt_primitives::economy::PerRole(r)
            }
        )),
    ]
}

fn round_trips<T: Encode + Decode + PartialEq + std::fmt::Debug>(v: &T) -> Result<(), TestCaseError> {
    let bytes = v.encode();
    let back = T::decode_all(&mut &bytes[..]);
    prop_assert_eq!(back.as_ref(), Ok(v));
    let mut longer = bytes.clone();
    longer.push(0);
    prop_assert!(T::decode_all(&mut &longer[..]).is_err(), "trailing byte accepted");
    prop_assert!(
        T::decode_all(&mut &bytes[..bytes.len() - 1]).is_err(),
        "truncation accepted"
    );
    Ok(())
}

fn canonical<T: Encode + Decode>(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(v) = T::decode_all(&mut &bytes[..]) {
        prop_assert_eq!(v.encode(), bytes.to_vec(), "a second encoding decoded");
    }
    Ok(())
}

fn mutate(mut b: Vec<u8>, at: prop::sample::Index, byte: u8, insert: bool) -> Vec<u8> {
    let i = at.index(b.len());
    if insert {
        b.insert(i, byte)
    } else {
        b[i] = byte
    }
    b
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn calls_round_trip(c in call()) {
        round_trips(&c)?;
    }

    #[test]
    fn events_round_trip(e in event()) {
        round_trips(&e)?;
    }

    #[test]
    fn arbitrary_bytes_decode_canonically_or_not_at_all(bytes in vec(any::<u8>(), 0..120)) {
        canonical::<RuntimeCall>(&bytes)?;
        canonical::<RuntimeEvent>(&bytes)?;
    }

    #[test]
    fn corrupted_calls_and_events_decode_canonically_or_not_at_all(
        c in call(),
        e in event(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        insert in any::<bool>(),
    ) {
        canonical::<RuntimeCall>(&mutate(c.encode(), at, byte, insert))?;
        canonical::<RuntimeEvent>(&mutate(e.encode(), at, byte, insert))?;
    }
}

/// A compact amount in a wider mode than needed (1 encoded as the 4-byte mode) is refused, so a
/// call has exactly one encoding.
#[test]
fn non_minimal_compact_amounts_are_refused() {
    let dest = AccountId([7; 32]);
    let minimal = RuntimeCall::Balances(pallet_balances::Call::Transfer {
        dest,
        value: Compact(1),
    })
    .encode();
    let mut wide = minimal[..minimal.len() - 1].to_vec();
    // The value 1 in compact's four-byte mode: (1 << 2) | 0b10, little endian.
    wide.extend_from_slice(&[(1 << 2) | 0b10, 0, 0, 0]);
    assert!(RuntimeCall::decode_all(&mut &wide[..]).is_err());
    assert!(RuntimeCall::decode_all(&mut &minimal[..]).is_ok());
}
