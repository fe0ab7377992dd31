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

    /// A dev chain's genesis state, for running the runtime's transaction check natively.
    fn genesis_state(funded: &[AccountId]) -> watt_support::externalities::MemoryExternalities {
        use watt_primitives::abi::{ChainParams, GenesisConfig};
        let config = GenesisConfig {
            balances: funded.iter().map(|a| (*a, 1_000 * watt_primitives::UNIT)).collect(),
            params: ChainParams {
                existential_deposit: 1,
                base_fee: 1,
                byte_fee: 1,
                weight_fee: 1,
                max_tx_len: 4096,
                max_block_weight: 2_000_000_000,
                max_block_transactions: 20_000,
                max_block_bytes: 8 << 20,
            },
            code: vec![],
            economy: watt_primitives::economy::EconomyGenesis::bare(
                watt_primitives::economy::EconomyParams::mainnet(10),
                AccountId([9; 32]),
            ),
        };
        let (ext, ()) = watt_support::externalities::execute_with(
            watt_support::externalities::MemoryExternalities::default(),
            || watt_runtime::api::build_genesis(config),
        );
        ext
    }

    /// The runtime's own transaction check (`watt_validate_transaction`, run natively: the same
    /// code as the wasm blob, verifying through the host interface's sr25519 function, which is
    /// also what the executor's wasm host function calls).
    fn runtime_validates(
        state: &watt_support::externalities::MemoryExternalities,
        genesis: [u8; 32],
        stx: &watt_primitives::SignedTransaction,
    ) -> Result<watt_primitives::abi::ValidTransaction, watt_primitives::TxError> {
        use parity_scale_codec::Encode;
        let input = watt_primitives::abi::ValidateInput {
            chain: watt_primitives::abi::ChainContext { genesis_hash: genesis },
            tx: stx.encode(),
        };
        watt_support::externalities::execute_with(state.clone(), || watt_runtime::api::validate_transaction(input)).1
    }

    #[test]
    fn signatures_verify_with_the_runtime_verifier() {
        use watt_primitives::TxError;
        let (k, phrase) = Keypair::generate();
        assert_eq!(phrase.split_whitespace().count(), 12);
        let again = Keypair::from_suri(&phrase).unwrap();
        assert_eq!(again.account(), k.account());
        let alice = Keypair::from_suri("//Alice").unwrap();

        // The host interface's verifier (what the runtime calls for every transaction).
        let sig = k.sign(b"hello");
        assert!(watt_support::host::sr25519_verify(&sig, b"hello", &k.account().0));
        assert!(!watt_support::host::sr25519_verify(&sig, b"hellp", &k.account().0));
        assert!(!watt_support::host::sr25519_verify(&sig, b"hello", &alice.account().0));

        // The runtime's transaction check over a transaction the client signed.
        let genesis = [7u8; 32];
        let state = genesis_state(&[k.account(), alice.account()]);
        let call = crate::tx::transfer_call(alice.account(), 5, false);
        let stx = crate::tx::sign(&k, 0, 0, genesis, &call);
        let valid = runtime_validates(&state, genesis, &stx).expect("the runtime accepts the client's signature");
        assert_eq!(valid.signer, k.account());

        // Tampered signatures: every byte position matters (a flipped bit in R or s).
        for i in [0, 17, 31, 32, 50, 63] {
            let mut bad = stx.clone();
            bad.signature[i] ^= 0x01;
            assert_eq!(
                runtime_validates(&state, genesis, &bad).unwrap_err(),
                TxError::BadSignature,
                "signature byte {i} flipped"
            );
        }
        // A tampered body under the original signature.
        let mut bad = stx.clone();
        bad.tx.tip = 1;
        assert_eq!(
            runtime_validates(&state, genesis, &bad).unwrap_err(),
            TxError::BadSignature
        );
        // Another key's valid signature over the same payload, claimed for this signer.
        let mut bad = stx.clone();
        bad.signature = alice.sign(&stx.tx.signing_payload());
        assert_eq!(
            runtime_validates(&state, genesis, &bad).unwrap_err(),
            TxError::BadSignature
        );
        // The right key and payload, but the payload signed without the domain tag.
        let mut bad = stx.clone();
        let mut untagged = Vec::new();
        parity_scale_codec::Encode::encode_to(&stx.tx, &mut untagged);
        bad.signature = k.sign(&untagged);
        assert_eq!(
            runtime_validates(&state, genesis, &bad).unwrap_err(),
            TxError::BadSignature
        );
        // The right key and payload under another schnorrkel signing context.
        let schnorrkel_pair: &schnorrkel::Keypair = k.0.as_ref();
        let payload = stx.tx.signing_payload();
        let in_context = |ctx: &[u8]| {
            schnorrkel_pair
                .sign(schnorrkel::signing_context(ctx).bytes(&payload))
                .to_bytes()
        };
        // Control: signing by hand in the runtime's context is accepted, so the refusals below
        // are about the context and nothing else.
        let mut ok = stx.clone();
        ok.signature = in_context(watt_primitives::SIGNATURE_CONTEXT);
        assert!(runtime_validates(&state, genesis, &ok).is_ok());
        for ctx in [b"watt".as_slice(), b"substrate2", b""] {
            let mut bad = stx.clone();
            bad.signature = in_context(ctx);
            assert_eq!(
                runtime_validates(&state, genesis, &bad).unwrap_err(),
                TxError::BadSignature,
                "context {:?} accepted",
                String::from_utf8_lossy(ctx)
            );
        }
    }

    #[test]
    fn bad_suris_are_refused_and_debug_hides_secrets() {
        assert!(Keypair::from_suri("not a uri at all !!").is_err());
        let alice = Keypair::from_suri("//Alice").unwrap();
        let shown = format!("{alice:?}");
        assert!(shown.contains("5Grwva") && !shown.contains("Alice"));
    }
}
