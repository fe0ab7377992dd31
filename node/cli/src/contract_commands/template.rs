//! `watt contract new`: a contract project that builds with `watt contract build` and tests
//! with `cargo test` — a flipper written with the SDK's macros, with an off-chain unit test.

use anyhow::{bail, Context, Result};
use clap::Args;
use std::path::{Path, PathBuf};

#[derive(Args, Debug)]
pub struct NewArgs {
    /// The contract's name (a Rust crate name: letters, digits, `_` and `-`).
    name: String,
    /// Directory to create the project in (default: ./NAME).
    #[arg(long, value_name = "DIR")]
    path: Option<PathBuf>,
    /// The contract SDK (`sdk/contract` of a Watt checkout) the project depends on by path
    /// (default: found from the current directory upwards, else the checkout this binary was
    /// built from).
    #[arg(long, value_name = "DIR")]
    sdk_path: Option<PathBuf>,
}

/// `sdk/contract` in `dir` or one of its ancestors.
fn sdk_above(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join("sdk/contract"))
        .find(|p| p.join("Cargo.toml").exists())
}

fn default_sdk() -> Option<PathBuf> {
    std::env::current_dir()
        .ok()
        .and_then(|d| sdk_above(&d))
        .or_else(|| sdk_above(Path::new(env!("CARGO_MANIFEST_DIR"))))
}

fn valid_name(name: &str) -> bool {
    name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// The project's Cargo.toml: its own workspace (so it can live inside another one), the SDK by
/// path, SCALE from crates.io in the version the SDK uses.
pub fn cargo_toml(name: &str, sdk: &Path) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
publish = false

[lib]
# cdylib: the wasm contract; rlib: the off-chain tests link it natively.
crate-type = ["cdylib", "rlib"]

[dependencies]
watt-contract = {{ path = "{sdk}", features = ["panic-handler"] }}
parity-scale-codec = {{ version = "3.7.5", default-features = false, features = ["derive"] }}

# A project of its own, even when created inside another workspace.
[workspace]
"#,
        sdk = sdk.display().to_string().replace('\\', "/")
    )
}

/// The contract: a flipper with an event and an off-chain test.
pub fn lib_rs(name: &str) -> String {
    let module = name.replace('-', "_");
    format!(
        r#"//! {name}: a flipper — one boolean anyone can flip, and a count of flips.
//! Build: `watt contract build`; test: `cargo test`.
#![cfg_attr(not(test), no_std)]

#[watt_contract::contract]
pub mod {module} {{
    use watt_contract::{{env, AccountId}};

    /// The contract's state.
    #[storage]
    pub struct Flipper {{
        value: bool,
        flips: u32,
    }}

    /// The value was flipped.
    #[event]
    pub struct Flipped {{
        #[topic]
        pub by: AccountId,
        pub value: bool,
    }}

    impl Flipper {{
        /// A flipper starting at `init`.
        #[constructor]
        pub fn new(init: bool) -> Self {{
            Self {{ value: init, flips: 0 }}
        }}

        /// Flips the value.
        #[message]
        pub fn flip(&mut self) {{
            self.value = !self.value;
            self.flips += 1;
            env::emit(&Flipped {{ by: env::caller(), value: self.value }});
        }}

        /// The value.
        #[message]
        pub fn get(&self) -> bool {{
            self.value
        }}

        /// How many times it was flipped.
        #[message]
        pub fn flips(&self) -> u32 {{
            self.flips
        }}
    }}
}}

#[cfg(test)]
mod tests {{
    use super::{module}::*;
    use watt_contract::test;

    #[test]
    fn flip_flips_and_emits() {{
        let mut f = Flipper::new(false);
        assert!(!f.get());
        f.flip();
        assert!(f.get());
        assert_eq!(f.flips(), 1);
        let events = test::events_of::<Flipped>();
        assert_eq!(events.len(), 1);
        assert!(events[0].value);
        assert_eq!(events[0].by, test::default_accounts().alice);
    }}
}}
"#
    )
}

pub fn new(a: NewArgs) -> Result<()> {
    if !valid_name(&a.name) {
        bail!(
            "`{}` is not a crate name (start with a letter; letters, digits, _ and - only)",
            a.name
        );
    }
    let dir = a.path.clone().unwrap_or_else(|| PathBuf::from(&a.name));
    if dir.join("Cargo.toml").exists() {
        bail!("{} already holds a Cargo.toml; not overwriting", dir.display());
    }
    let sdk = match a.sdk_path.clone().or_else(default_sdk) {
        Some(p) => p,
        None => bail!("cannot find the contract SDK: pass --sdk-path <checkout>/sdk/contract"),
    };
    let sdk = sdk
        .canonicalize()
        .with_context(|| format!("SDK path {}", sdk.display()))?;
    if !sdk.join("Cargo.toml").exists() {
        bail!("{} is not the contract SDK (no Cargo.toml)", sdk.display());
    }
    std::fs::create_dir_all(dir.join("src")).with_context(|| format!("create {}", dir.display()))?;
    std::fs::write(dir.join("Cargo.toml"), cargo_toml(&a.name, &sdk))?;
    std::fs::write(dir.join("src/lib.rs"), lib_rs(&a.name))?;
    std::fs::write(dir.join(".gitignore"), "/target\n")?;
    // The checkout's lock pins the versions the SDK is tested with (cargo trims the rest).
    if let Some(lock) = sdk.parent().and_then(Path::parent).map(|r| r.join("Cargo.lock")) {
        if lock.exists() {
            let _ = std::fs::copy(&lock, dir.join("Cargo.lock"));
        }
    }
    say!("created contract project {} (SDK: {})", dir.display(), sdk.display());
    say!("  cd {} && cargo test && watt contract build", dir.display());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_crate_names() {
        assert!(valid_name("flipper"));
        assert!(valid_name("my-token_2"));
        for bad in ["", "2x", "a b", "../x", "x/y", "é"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }

    #[test]
    fn the_template_names_the_crate_and_the_sdk() {
        let toml = cargo_toml("my-flip", Path::new("/repo/sdk/contract"));
        assert!(toml.contains("name = \"my-flip\""));
        assert!(toml.contains("path = \"/repo/sdk/contract\""));
        assert!(toml.contains("[workspace]"));
        assert!(lib_rs("my-flip").contains("pub mod my_flip {"));
    }
}
