//! Account identifiers: an sr25519 public key, shown as an SS58 address.

use parity_scale_codec::{Decode, Encode};

/// The SS58 address prefix of Watt. 42 is the generic Substrate prefix, so `//Alice` has the
/// address Substrate users know (`5GrwvaEF...`).
pub const SS58_PREFIX: u16 = 42;

/// An account: the 32-byte sr25519 public key that signs for it.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, Default)]
pub struct AccountId(pub [u8; 32]);

impl AccountId {
    /// A keyless account derived from a purpose string: nobody holds a secret key for it, so only
    /// runtime logic can move its funds (the fee pool, module accounts).
    pub fn keyless(purpose: &[u8]) -> Self {
        AccountId(crate::blake2_256(purpose))
    }

    /// The raw public key bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl From<[u8; 32]> for AccountId {
    fn from(b: [u8; 32]) -> Self {
        AccountId(b)
    }
}

impl core::fmt::Debug for AccountId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        #[cfg(feature = "std")]
        {
            write!(f, "{}", self.to_ss58())
        }
        #[cfg(not(feature = "std"))]
        {
            write!(f, "0x")?;
            for b in self.0 {
                write!(f, "{b:02x}")?;
            }
            Ok(())
        }
    }
}

/// Why a text address was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ss58Error {
    /// Not base58.
    BadBase58,
    /// Not the length of a 32-byte account with a one- or two-byte prefix.
    BadLength,
    /// The checksum does not match: a typo.
    BadChecksum,
    /// A valid address of another network.
    WrongPrefix(u16),
}

impl core::fmt::Display for Ss58Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Ss58Error::BadBase58 => write!(f, "not a base58 string"),
            Ss58Error::BadLength => write!(f, "wrong length for an SS58 account address"),
            Ss58Error::BadChecksum => write!(f, "checksum mismatch (mistyped address?)"),
            Ss58Error::WrongPrefix(p) => {
                write!(f, "address is for network prefix {p}, Watt uses {SS58_PREFIX}")
            }
        }
    }
}

#[cfg(feature = "std")]
impl std::error::Error for Ss58Error {}

fn ss58_checksum(payload: &[u8]) -> [u8; 2] {
    use blake2::{Blake2b512, Digest};
    let mut h = Blake2b512::new();
    h.update(b"SS58PRE");
    h.update(payload);
    let out = h.finalize();
    [out[0], out[1]]
}

fn prefix_bytes(prefix: u16) -> alloc::vec::Vec<u8> {
    // SS58 "simple" (<64) and "full" (64..16383) prefix encodings.
    if prefix < 64 {
        alloc::vec![prefix as u8]
    } else {
        let first = ((prefix & 0b0000_0000_1111_1100) as u8) >> 2;
        let second = ((prefix >> 8) as u8) | (((prefix & 0b11) as u8) << 6);
        alloc::vec![first | 0b0100_0000, second]
    }
}

impl AccountId {
    /// The SS58 text form with Watt's prefix.
    pub fn to_ss58(&self) -> alloc::string::String {
        let mut payload = prefix_bytes(SS58_PREFIX);
        payload.extend_from_slice(&self.0);
        let sum = ss58_checksum(&payload);
        payload.extend_from_slice(&sum);
        bs58::encode(payload).into_string()
    }

    /// Parses an SS58 address, also accepting `0x`-prefixed hex of the public key.
    pub fn from_ss58(s: &str) -> Result<Self, Ss58Error> {
        // base58 decoding costs the square of the length: refuse what cannot be an address
        // (at most 36 bytes, 50 characters of base58; 66 as hex) before decoding anything.
        if s.len() > 66 {
            return Err(Ss58Error::BadLength);
        }
        if let Some(hex) = s.strip_prefix("0x") {
            let mut out = [0u8; 32];
            // `from_str_radix` alone would also take a sign (`+4`) as a digit pair.
            if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Ss58Error::BadLength);
            }
            for (i, chunk) in hex.as_bytes().chunks(2).enumerate() {
                let s = core::str::from_utf8(chunk).map_err(|_| Ss58Error::BadBase58)?;
                out[i] = u8::from_str_radix(s, 16).map_err(|_| Ss58Error::BadBase58)?;
            }
            return Ok(AccountId(out));
        }
        let data = bs58::decode(s).into_vec().map_err(|_| Ss58Error::BadBase58)?;
        let (prefix_len, prefix) = match data.first() {
            Some(b) if *b < 64 => (1usize, *b as u16),
            Some(b) if *b < 128 => {
                let second = *data.get(1).ok_or(Ss58Error::BadLength)?;
                let lower = ((b << 2) | (second >> 6)) as u16;
                let upper = (second & 0b0011_1111) as u16;
                let prefix = lower | (upper << 8);
                // Prefixes below 64 have a one-byte form; the two-byte one would be a second
                // spelling of the same account.
                if prefix < 64 {
                    return Err(Ss58Error::BadLength);
                }
                (2usize, prefix)
            }
            _ => return Err(Ss58Error::BadLength),
        };
        if data.len() != prefix_len + 32 + 2 {
            return Err(Ss58Error::BadLength);
        }
        let (payload, sum) = data.split_at(prefix_len + 32);
        if ss58_checksum(payload) != sum {
            return Err(Ss58Error::BadChecksum);
        }
        if prefix != SS58_PREFIX {
            return Err(Ss58Error::WrongPrefix(prefix));
        }
        let mut out = [0u8; 32];
        out.copy_from_slice(&payload[prefix_len..]);
        Ok(AccountId(out))
    }
}

#[cfg(feature = "std")]
impl core::fmt::Display for AccountId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.to_ss58())
    }
}

#[cfg(feature = "std")]
impl core::str::FromStr for AccountId {
    type Err = Ss58Error;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccountId::from_ss58(s)
    }
}

#[cfg(feature = "std")]
impl serde::Serialize for AccountId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_ss58())
    }
}

#[cfg(feature = "std")]
impl<'de> serde::Deserialize<'de> for AccountId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <alloc::string::String as serde::Deserialize>::deserialize(d)?;
        AccountId::from_ss58(&s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // //Alice's public key, as every Substrate tool prints it.
    const ALICE: &str = "d43593c715fdd31c61141abd04a99fd6822c8558854ccde39a5684e7a56da27d";

    fn alice() -> AccountId {
        AccountId::from_ss58(&format!("0x{ALICE}")).unwrap()
    }

    #[test]
    fn ss58_matches_substrate_generic_prefix() {
        assert_eq!(alice().to_ss58(), "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY");
    }

    #[test]
    fn ss58_round_trips_and_rejects_typos() {
        let a = alice();
        let text = a.to_ss58();
        assert_eq!(AccountId::from_ss58(&text).unwrap(), a);
        let mut typo = text.clone().into_bytes();
        typo[10] = if typo[10] == b'a' { b'b' } else { b'a' };
        let typo = String::from_utf8(typo).unwrap();
        assert!(matches!(
            AccountId::from_ss58(&typo),
            Err(Ss58Error::BadChecksum) | Err(Ss58Error::BadBase58)
        ));
        assert_eq!(AccountId::from_ss58("abc"), Err(Ss58Error::BadLength));
        assert_eq!(AccountId::from_ss58("0OIl"), Err(Ss58Error::BadBase58));
    }

    #[test]
    fn ss58_refuses_other_networks() {
        // Polkadot (prefix 0) address of Alice.
        let dot = "15oF4uVJwmo4TdGW7VfQxNLavjCXviqxT9S1MgbjMNHr6Sp5";
        assert_eq!(AccountId::from_ss58(dot), Err(Ss58Error::WrongPrefix(0)));
    }

    #[test]
    fn oversized_and_signed_inputs_are_refused_at_once() {
        let huge = "5".repeat(1 << 20);
        let started = std::time::Instant::now();
        assert_eq!(AccountId::from_ss58(&huge), Err(Ss58Error::BadLength));
        assert!(
            started.elapsed() < std::time::Duration::from_secs(1),
            "decoded a 1 MB address"
        );
        // `+4` parses as a hex byte with `from_str_radix`: not a hex digit pair.
        let signed = format!("0x+4{}", &ALICE[2..]);
        assert_eq!(AccountId::from_ss58(&signed), Err(Ss58Error::BadLength));
        assert_eq!(AccountId::from_ss58(&format!("0x{ALICE}")), Ok(alice()));
    }

    #[test]
    fn the_two_byte_spelling_of_a_one_byte_prefix_is_refused() {
        // Prefix 42 in the two-byte form (first byte 0b01 + low 6 bits, second the rest),
        // with a valid checksum: the same account written a second way.
        let lower = 42u16;
        let first = 0b0100_0000 | ((lower & 0b1111_1100) >> 2) as u8;
        let second = (((lower & 0b11) << 6) as u8) | ((lower >> 8) as u8 & 0b0011_1111);
        let mut payload = vec![first, second];
        payload.extend_from_slice(&alice().0);
        let sum = ss58_checksum(&payload);
        payload.extend_from_slice(&sum[..2]);
        let alias = bs58::encode(payload).into_string();
        assert_eq!(AccountId::from_ss58(&alias), Err(Ss58Error::BadLength));
    }

    #[test]
    fn keyless_accounts_differ_by_purpose() {
        assert_ne!(AccountId::keyless(b"a"), AccountId::keyless(b"b"));
    }
}
