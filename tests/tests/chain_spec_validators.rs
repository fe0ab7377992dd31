//! `watt chain-spec --validators N --output-dir DIR` and the node-key commands: keys a node can
//! use, a spec whose quorum set and boot nodes name exactly those keys.

use serde_json::Value;
use watt_e2e::watt_cli;

fn ok(args: &[&str]) -> String {
    let (ok, out, err) = watt_cli(args);
    assert!(ok, "watt {args:?} failed: {err}");
    out
}

#[test]
fn a_validator_spec_names_its_keys_and_keeps_them_on_a_second_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    ok(&[
        "chain-spec",
        "--validators",
        "4",
        "--output-dir",
        out,
        "--host",
        "10.0.0.1",
        "--host",
        "10.0.0.2:4000",
        "--host",
        "node3.example.org",
        "--host",
        "10.0.0.4",
    ]);
    let spec: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("chain-spec.json")).unwrap()).unwrap();
    let consensus = &spec["consensus"];
    assert_eq!(consensus["quorumSet"]["t"], 3, "3 of 4 tolerates one fault");
    let mut ids = vec![];
    for i in 0..4 {
        let key = dir.path().join(format!("validator{i}")).join("node-key");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "a node key is readable by its owner only");
        }
        let shown: Value = serde_json::from_str(&ok(&[
            "key",
            "inspect-node-key",
            key.to_str().unwrap(),
            "--output",
            "json",
        ]))
        .unwrap();
        let id = shown["validatorId"].as_str().unwrap().to_string();
        assert_eq!(consensus["validators"][i]["id"], id.as_str());
        assert_eq!(consensus["quorumSet"]["v"][i], id.as_str());
        let peer = shown["peerId"].as_str().unwrap();
        let boot = consensus["bootNodes"][i].as_str().unwrap();
        assert!(
            boot.ends_with(&format!("/p2p/{peer}")),
            "{boot} names validator{i}'s peer id"
        );
        ids.push(id);
    }
    assert!(consensus["bootNodes"][1]
        .as_str()
        .unwrap()
        .starts_with("/ip4/10.0.0.2/tcp/4000/"));
    assert!(consensus["bootNodes"][2]
        .as_str()
        .unwrap()
        .starts_with("/dns4/node3.example.org/tcp/30333/"));

    // Again on the same directory: the keys are kept, so the spec names the same validators.
    ok(&["chain-spec", "--validators", "4", "--output-dir", out]);
    let again: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("chain-spec.json")).unwrap()).unwrap();
    let again_ids: Vec<String> = again["consensus"]["validators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(again_ids, ids);
}

#[test]
fn generate_node_key_refuses_to_overwrite_and_a_host_count_must_match() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("node-key");
    let first: Value = serde_json::from_str(&ok(&[
        "key",
        "generate-node-key",
        "--file",
        file.to_str().unwrap(),
        "--output",
        "json",
    ]))
    .unwrap();
    let before = std::fs::read(&file).unwrap();
    let (ok2, _, err) = watt_cli(&["key", "generate-node-key", "--file", file.to_str().unwrap()]);
    assert!(!ok2 && err.contains("not overwriting"), "{err}");
    assert_eq!(std::fs::read(&file).unwrap(), before, "the key is untouched");
    let shown: Value = serde_json::from_str(&ok(&[
        "key",
        "inspect-node-key",
        file.to_str().unwrap(),
        "--output",
        "json",
    ]))
    .unwrap();
    assert_eq!(shown["peerId"], first["peerId"]);
    assert_eq!(shown["validatorId"], first["validatorId"]);
    let (ok3, _, err) = watt_cli(&[
        "chain-spec",
        "--validators",
        "3",
        "--output-dir",
        dir.path().join("net").to_str().unwrap(),
        "--host",
        "10.0.0.1",
    ]);
    assert!(!ok3 && err.contains("one per validator"), "{err}");
}

/// A validator may not run a runtime other than the chain's (it would vote on blocks its
/// quorum computes differently): `--runtime-override` with `--validator` is refused before
/// the node opens anything, naming the rule.
#[test]
fn a_validator_refuses_a_runtime_override() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    ok(&["chain-spec", "--validators", "4", "--output-dir", out]);
    let wasm = dir.path().join("other.wasm");
    std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
    let spec = dir.path().join("chain-spec.json");
    let base = dir.path().join("validator0");
    let (ok_, _, err) = watt_cli(&[
        "node",
        "--chain",
        spec.to_str().unwrap(),
        "--base-path",
        base.to_str().unwrap(),
        "--validator",
        "--runtime-override",
        wasm.to_str().unwrap(),
        "--rpc-port",
        "0",
        "--p2p-port",
        "0",
        "--no-prometheus",
    ]);
    assert!(!ok_, "the validator started with another runtime");
    assert!(
        err.contains("--runtime-override cannot be used with --validator"),
        "{err}"
    );
    assert!(
        !base.join("chains").exists(),
        "the node refused before opening its database"
    );
}
