//! The introspection data of the daemon's interfaces, as the daemon itself
//! serves it, is checked into `dbus/` so that an API change shows up in
//! review. Run with `SSCARD_BLESS=1` to rewrite the files after a
//! deliberate change (and say so in `docs/interfaces.md`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use sscard_testkit as support;

use std::path::PathBuf;

use support::bench::Slot;
use support::client::Rig;

#[tokio::test]
async fn introspection_matches_the_checked_in_xml() {
    let rig = Rig::new(3, false).await;
    let reader = rig.reader_path(Slot::Card).await.to_string();
    // An HSM session, for its object.
    let proxy = rig.reader(Slot::Card).await;
    let (session, _) = proxy.begin_hsm("read", support::client::no_opts()).await.expect("BeginHsm");
    let session = session.to_string();
    for (path, interface) in [
        ("/org/sscard/Daemon", "org.sscard.Manager1"),
        (reader.as_str(), "org.sscard.Reader1"),
        (session.as_str(), "org.sscard.HsmSession1"),
    ] {
        let (ok, document, err) = rig.bus.busctl(&["introspect", "--xml-interface", "org.sscard.Daemon", path]);
        assert!(ok, "introspect {path}: {err}");
        let served = support::interface_xml(&document, interface);
        let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("dbus").join(format!("{interface}.xml"));
        if std::env::var_os("SSCARD_BLESS").is_some() {
            std::fs::write(&file, &served).expect("write the introspection file");
        }
        let checked_in = std::fs::read_to_string(&file).unwrap_or_default();
        assert_eq!(served, checked_in, "{interface} differs from {}; rerun with SSCARD_BLESS=1", file.display());
    }
}
