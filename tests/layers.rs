//! The workspace's crates show the layers (README, "Layout"): each uses
//! only the crates below it, and libsscard, a client, links neither the
//! daemon, the simulator, the web server nor the ciphers. Read from
//! `cargo metadata` and `cargo tree`, which see what the manifests say.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

fn cargo() -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

/// Each workspace crate's own crates, from the manifests (normal and build
/// dependencies; dev-dependencies are tests' business).
fn internal_dependencies() -> BTreeMap<String, BTreeSet<String>> {
    let out = cargo().args(["metadata", "--format-version", "1", "--no-deps", "--offline"]).output().expect("cargo");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("metadata");
    let packages = meta["packages"].as_array().expect("packages");
    let ours: BTreeSet<String> = packages.iter().map(|p| p["name"].as_str().unwrap().to_owned()).collect();
    packages
        .iter()
        .map(|p| {
            let deps = p["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].as_str() != Some("dev"))
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .filter(|d| ours.contains(d))
                .collect();
            (p["name"].as_str().unwrap().to_owned(), deps)
        })
        .collect()
}

/// What each crate may use: the crates below it in the README's table.
const ALLOWED: &[(&str, &[&str])] = &[
    ("sscard-contract", &[]),
    ("sscard-model", &["sscard-contract"]),
    ("sscard-transport", &["sscard-model"]),
    ("sscard-apdu", &["sscard-transport"]),
    ("sscard-script", &["sscard-apdu", "sscard-model", "sscard-transport", "sscard-contract"]),
    ("sscard-ops", &["sscard-script", "sscard-apdu", "sscard-model", "sscard-transport", "sscard-contract"]),
    (
        "sscard-service",
        &["sscard-ops", "sscard-script", "sscard-apdu", "sscard-model", "sscard-transport", "sscard-contract"],
    ),
    ("sscard-client", &["sscard-contract"]),
    ("libsscard", &["sscard-client", "sscard-model", "sscard-contract"]),
    ("sscard-bridge", &["libsscard", "sscard-client", "sscard-model", "sscard-contract"]),
    ("sscard-sim", &["sscard-apdu", "sscard-model", "sscard-transport", "sscard-contract"]),
    // The reader driver pcscd loads: libc only, none of ours.
    ("sscard-ifd", &[]),
    // Dev-only: the root package's tests, benchmarks and demo use it.
    (
        "sscard-testkit",
        &[
            "sscard-service",
            "sscard-ops",
            "sscard-apdu",
            "sscard-model",
            "sscard-transport",
            "sscard-client",
            "sscard-sim",
            "sscard-ifd",
        ],
    ),
];

#[test]
fn each_crate_uses_only_the_ones_below_it() {
    let actual = internal_dependencies();
    for (name, allowed) in ALLOWED {
        let deps = actual.get(*name).unwrap_or_else(|| panic!("{name} is not in the workspace"));
        let extra: Vec<&String> = deps.iter().filter(|d| !allowed.contains(&d.as_str())).collect();
        assert!(extra.is_empty(), "{name} uses {extra:?}, which are not below it");
    }
    let listed: BTreeSet<&str> = ALLOWED.iter().map(|(n, _)| *n).chain(["sscard"]).collect();
    let unlisted: Vec<&String> = actual.keys().filter(|n| !listed.contains(n.as_str())).collect();
    assert!(unlisted.is_empty(), "crates without a place in the layers: {unlisted:?}");
}

#[test]
fn libsscard_is_a_client() {
    let out = cargo()
        .args(["tree", "--offline", "-p", "libsscard", "-e", "normal,build", "--prefix", "none", "--format", "{p}"])
        .output()
        .expect("cargo tree");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let tree = String::from_utf8_lossy(&out.stdout);
    let names: BTreeSet<&str> = tree.lines().filter_map(|l| l.split_whitespace().next()).collect();
    for forbidden in [
        "sscard-service",
        "sscard-ops",
        "sscard-script",
        "sscard-transport",
        "sscard-sim",
        "pcsc",
        "axum",
        "hyper",
        "sm4",
        "des",
        "cbc-mac",
        "cipher",
        "zbus_polkit",
    ] {
        assert!(!names.contains(forbidden), "libsscard links {forbidden}");
    }
    assert!(names.contains("sscard-client") && names.contains("sscard-contract"), "{names:?}");
}
