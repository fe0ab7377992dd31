//! The shipped binary stays small: the release profile carries no DWARF (line tables alone once
//! made `watt` 499 MB) but keeps symbols, and the `dist` profile that `scripts/package.sh`
//! splits into a stripped binary plus `watt.debug` keeps line tables.

use std::collections::HashMap;

/// `[profile.NAME]` tables of the workspace manifest, as key -> raw value.
fn profiles() -> HashMap<String, HashMap<String, String>> {
    let manifest = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let text = std::fs::read_to_string(&manifest).expect("read the workspace Cargo.toml");
    let mut out: HashMap<String, HashMap<String, String>> = HashMap::new();
    let mut current: Option<String> = None;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            current = line
                .strip_prefix("[profile.")
                .and_then(|r| r.strip_suffix(']'))
                .filter(|name| !name.contains('.'))
                .map(str::to_string);
            continue;
        }
        if let (Some(profile), Some((k, v))) = (&current, line.split_once('=')) {
            if !line.starts_with('#') {
                out.entry(profile.clone())
                    .or_default()
                    .insert(k.trim().to_string(), v.trim().trim_matches('"').to_string());
            }
        }
    }
    out
}

#[test]
fn the_release_binary_carries_symbols_but_no_debug_info() {
    let p = profiles();
    let release = p.get("release").expect("a [profile.release]");
    let debug = release.get("debug").map(String::as_str).unwrap_or("false");
    let strip = release.get("strip").map(String::as_str).unwrap_or("none");
    assert!(
        matches!(debug, "false" | "0" | "none") || matches!(strip, "debuginfo" | "true" | "symbols"),
        "release keeps debug info ({debug}) unstripped ({strip}): the binary grows to hundreds of MB"
    );
    assert_ne!(strip, "symbols", "backtraces need the symbol table");
    assert_ne!(strip, "true", "backtraces need the symbol table");
}

#[test]
fn the_dist_profile_keeps_line_tables_for_the_split_debug_file() {
    let p = profiles();
    let dist = p.get("dist").expect("a [profile.dist] for scripts/package.sh");
    assert_eq!(dist.get("inherits").map(String::as_str), Some("release"));
    assert_eq!(dist.get("debug").map(String::as_str), Some("line-tables-only"));
    let script =
        std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/package.sh"))
            .expect("scripts/package.sh");
    assert!(script.contains("--only-keep-debug") && script.contains("--add-gnu-debuglink"));
}
