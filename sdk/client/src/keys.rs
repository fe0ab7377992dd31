//! sr25519 keys from secret URIs (`//Alice`, a mnemonic with `//hard/soft` paths, or a hex
//! seed), exactly as Substrate derives them, so the same URI gives the same account everywhere.

use sp_core::crypto::Pair as _;
use sp_core::sr25519;
use watt_primitives::AccountId;

/// The dev accounts funded by the dev chain spec, as `//Name` URIs.
pub const DEV_NAMES: [&str; 6] = ["Alice", "Bob", "Charlie", "Dave", "Eve", "Ferdie"];

/// Why a key could not be made.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    /// The secret URI does not parse or derive.
    #[error("invalid secret URI (expected e.g. //Alice, a 12/24-word mnemonic, or 0x-hex seed): {0}")]
    BadSuri(String),
}

/// An sr25519 key pair. Its `Debug` never shows the secret.
#[derive(Clone)]
pub struct Keypair(sr25519::Pair);

impl std::fmt::Debug for Keypair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keypair({})", self.account())
    }
}

impl Keypair {
    /// From a secret URI.
    pub fn from_suri(suri: &str) -> Result<Self, KeyError> {
        sr25519::Pair::from_string(suri, None)
            .map(Keypair)
            .map_err(|e| KeyError::BadSuri(format!("{e:?}")))
    }

    /// A fresh key with its 12-word mnemonic.
    pub fn generate() -> (Self, String) {
        let (pair, phrase, _) = sr25519::Pair::generate_with_phrase(None);
        (Keypair(pair), phrase)
    }

    /// The account (public key).
    pub fn account(&self) -> AccountId {
        let public = self.0.public();
        let bytes: &[u8] = public.as_ref();
        let mut out = [0u8; 32];
        out.copy_from_slice(bytes);
        AccountId(out)
    }

    /// Signs `message` (schnorrkel context `substrate`).
    pub fn sign(&self, message: &[u8]) -> [u8; 64] {
        let sig = self.0.sign(message);
        let bytes: &[u8] = sig.as_ref();
        let mut out = [0u8; 64];
        out.copy_from_slice(bytes);
        out
    }
}

/// The dev accounts (`//Alice` .. `//Ferdie`).
pub fn dev_accounts() -> Vec<(&'static str, Keypair)> {
    DEV_NAMES
        .iter()
        .map(|n| (*n, Keypair::from_suri(&format!("//{n}")).expect("dev URIs are valid")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dev_keys_match_substrate() {
        let alice = Keypair::from_suri("//Alice").unwrap();
        assert_eq!(
            alice.account().to_ss58(),
            "5GrwvaEF5zXb26Fz9rcQpDWS57CtERHpNehXCPcNoHGKutQY"
        );
        let bob = Keypair::from_suri("//Bob").unwrap();
        assert_eq!(
            bob.account().to_ss58(),
            "5FHneW46xGXgs5mUiveU4sbTyGBzmstUspZC92UhjJM694ty"
        );
    }

    #[test]
    fn signatures_verify_with_the_runtime_verifier() {
        let (k, phrase) = Keypair::generate();
        assert_eq!(phrase.split_whitespace().count(), 12);
        let again = Keypair::from_suri(&phrase).unwrap();
        assert_eq!(again.account(), k.account());
        let sig = k.sign(b"hello");
        assert!(watt_support_verify(&sig, b"hello", &k.account()));
        assert!(!watt_support_verify(&sig, b"hellp", &k.account()));
    }

    fn watt_support_verify(sig: &[u8; 64], msg: &[u8], who: &AccountId) -> bool {
        use sp_core::crypto::Pair as _;
        let public = sr25519::Public::from_raw(who.0);
        let sig = sr25519::Signature::from_raw(*sig);
        sr25519::Pair::verify(&sig, msg, &public)
    }

    #[test]
    fn bad_suris_are_refused_and_debug_hides_secrets() {
        assert!(Keypair::from_suri("not a uri at all !!").is_err());
        let alice = Keypair::from_suri("//Alice").unwrap();
        let shown = format!("{alice:?}");
        assert!(shown.contains("5Grwva") && !shown.contains("Alice"));
    }
}
