//! The D-Bus side of the tests: a bench with a private bus and sscardd,
//! and helpers over the project's own proxies.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use sscard_client::{Dict, Manager1Proxy, Reader1Proxy};
use zbus::{OwnedObjectPath, OwnedVariant, Variant};

use super::bench::{Bench, Slot};
use super::daemon::{PrivateBus, Sscardd};

pub const SSN: &str = "11010519491231002X";
pub const INITIAL_PIN: &str = "123456";
pub const NEW_PIN: &str = "802413";

/// A bench, a private bus, and sscardd on both.
pub struct Rig {
    pub bench: Bench,
    pub bus: PrivateBus,
    pub daemon: Sscardd,
    pub conn: zbus::Connection,
}

impl Rig {
    /// A bench with `slots` readers and the daemon; no cards yet.
    pub async fn empty(slots: u16, daemon_args: &[&str]) -> Rig {
        let filter = std::env::var("SSCARDD_LOG").unwrap_or_else(|_| "debug".into());
        Rig::empty_logged(slots, daemon_args, &filter).await
    }

    /// Like [`Rig::empty`], with the daemon's `RUST_LOG` set to `filter`.
    pub async fn empty_logged(slots: u16, daemon_args: &[&str], filter: &str) -> Rig {
        Rig::on_bench(Bench::start_with_slots(slots), daemon_args, filter).await
    }

    /// A bench whose readers are on sscard-ifd (`Bench::start_ifd`), and the
    /// daemon; no cards yet.
    pub async fn on_ifd(readers: &[super::bench::IfdReader], daemon_args: &[&str]) -> Rig {
        let filter = std::env::var("SSCARDD_LOG").unwrap_or_else(|_| "debug".into());
        Rig::on_bench(Bench::start_ifd(readers), daemon_args, &filter).await
    }

    /// A private bus and sscardd over `bench`, the daemon logging at `filter`.
    async fn on_bench(bench: Bench, daemon_args: &[&str], filter: &str) -> Rig {
        let bus = PrivateBus::start(bench.dir(), None);
        let daemon = Sscardd::start_full(
            &super::daemon::daemon_binary(),
            &super::daemon::scripts_dir(),
            &bench,
            &bus,
            &["--authorization", "none"],
            daemon_args,
            filter,
        );
        let conn = connect(&bus).await;
        Rig { bench, bus, daemon, conn }
    }

    /// A card of `generation` (with `--log`), and a PSAM if asked, both
    /// classified by the daemon.
    pub async fn new(generation: u8, with_sam: bool) -> Rig {
        let mut rig = Rig::empty(2, &[]).await;
        if with_sam {
            rig.insert_sam().await;
        }
        rig.insert_card(Slot::Card, generation, &[]).await;
        rig
    }

    /// Inserts a PSAM (with `--log`) and waits for the daemon to classify it.
    pub async fn insert_sam(&mut self) {
        self.insert_sam_with(&[]).await;
    }

    pub async fn insert_sam_with(&mut self, args: &[&str]) {
        let log = self.card_log(Slot::Sam).to_string_lossy().into_owned();
        let mut all = vec!["--log", log.as_str()];
        all.extend_from_slice(args);
        self.bench.insert(Slot::Sam, "psam", &all);
        self.wait_kind(Slot::Sam, "psam").await;
    }

    /// Inserts a card with `--log` into `slot` and waits for the daemon to
    /// classify it.
    pub async fn insert_card(&mut self, slot: Slot, generation: u8, args: &[&str]) {
        let log = self.card_log(slot);
        let gen_arg = generation.to_string();
        let mut all = vec!["--gen", &gen_arg, "--log"];
        let log_arg = log.to_string_lossy().into_owned();
        all.push(&log_arg);
        all.extend_from_slice(args);
        self.bench.insert(slot, "card", &all);
        self.wait_kind(slot, "ssse").await;
    }

    pub fn card_log(&self, slot: Slot) -> PathBuf {
        self.bench.dir().join(format!("card-{}.log", self.bench.reader_name(slot).replace(' ', "_")))
    }

    /// The command APDUs the card in `slot` has logged so far.
    pub fn logged(&self, slot: Slot) -> Vec<String> {
        std::fs::read_to_string(self.card_log(slot))
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.split_once(" > ").map(|(_, apdu)| apdu.to_owned()))
            .collect()
    }

    pub async fn manager(&self) -> Manager1Proxy<'static> {
        Manager1Proxy::new(&self.conn).await.expect("manager proxy")
    }

    /// The object path of the reader in `slot`, waiting for it to appear.
    pub async fn reader_path(&self, slot: Slot) -> OwnedObjectPath {
        let name = self.bench.reader_name(slot);
        let manager = self.manager().await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let readers = manager.list_readers().await.expect("ListReaders");
            if let Some((path, _)) = readers.into_iter().find(|(_, n)| *n == name) {
                return path;
            }
            assert!(Instant::now() < deadline, "reader {name} never appeared");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    pub async fn reader(&self, slot: Slot) -> Reader1Proxy<'static> {
        let path = self.reader_path(slot).await;
        reader_at(&self.conn, path).await
    }

    /// Waits until the reader in `slot` shows `CardKind` `kind`.
    pub async fn wait_kind(&self, slot: Slot, kind: &str) {
        let reader = self.reader(slot).await;
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            // Uncached: the property as the daemon has it now.
            let now = get_string(&self.conn, &reader, "CardKind").await;
            if now == kind {
                return;
            }
            if Instant::now() > deadline {
                let log = self.daemon.log_text();
                let tail: Vec<&str> = log.lines().rev().take(30).collect();
                panic!("CardKind of {slot:?} stayed {now:?}, never {kind:?}; sscardd's log ends:\n{}", tail.join("\n"));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

pub async fn connect(bus: &PrivateBus) -> zbus::Connection {
    zbus::connection::Builder::address(bus.address().as_str()).build().await.expect("connect to the private bus")
}

/// A reader proxy without a property cache, so every read asks the daemon.
pub async fn reader_at(conn: &zbus::Connection, path: OwnedObjectPath) -> Reader1Proxy<'static> {
    Reader1Proxy::builder(conn)
        .path(path)
        .cache_properties(zbus::proxy::CacheProperties::No)
        .build()
        .await
        .expect("reader proxy")
}

async fn get_string(conn: &zbus::Connection, reader: &Reader1Proxy<'_>, property: &str) -> String {
    let props = zbus::fdo::PropertiesProxy::builder(conn)
        .destination("org.sscard.Daemon")
        .path(reader.inner().path().clone())
        .build()
        .await
        .expect("properties proxy");
    let iface = zbus::names::InterfaceName::try_from("org.sscard.Reader1").expect("interface name");
    let value = props.get(iface, property).await.expect("Get");
    String::try_from(value).unwrap_or_default()
}

/// An options dictionary of booleans.
pub fn opts(pairs: &[(&str, bool)]) -> Dict {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), OwnedVariant::from(*v))).collect()
}

pub fn no_opts() -> Dict {
    HashMap::new()
}

pub fn string_value(s: &str) -> OwnedVariant {
    OwnedVariant::try_from(Variant::from(s)).expect("string variant")
}

pub fn bytes_value(b: &[u8]) -> OwnedVariant {
    OwnedVariant::try_from(Variant::from(b.to_vec())).expect("bytes variant")
}

/// The holder record as `WriteHolderRecord` takes it: every writable key,
/// and a JPEG of `photo_len` bytes when asked.
pub fn holder_dict(generation: u8, photo_len: Option<usize>) -> Dict {
    let mut d = Dict::new();
    for (k, v) in [
        ("card_type", "3"),
        ("spec_version", if generation == 3 { "3.00" } else { "2.00" }),
        ("issuer", "SZ-CARD-CTR"),
        ("issue_date", "2026-11-25"),
        ("expiry_date", "2036-11-25"),
        ("card_number", "X00000019"),
        ("ssn", SSN),
        ("name", "阿卜杜热合曼·买买提艾力·克里木江"),
        ("sex", "2"),
        ("birthplace", "653101"),
        ("birth_date", "1949-12-31"),
    ] {
        d.insert(k.to_owned(), string_value(v));
    }
    d.insert("nation".to_owned(), OwnedVariant::from(5u8));
    if let Some(len) = photo_len {
        d.insert("photo".to_owned(), bytes_value(&jpeg(len)));
    }
    d
}

pub use super::terminal::jpeg;

pub fn text(d: &Dict, key: &str) -> Option<String> {
    d.get(key).and_then(|v| String::try_from(v.try_clone().ok()?).ok())
}

pub fn uint(d: &Dict, key: &str) -> Option<u32> {
    d.get(key).and_then(|v| u32::try_from(v).ok())
}

pub fn byte(d: &Dict, key: &str) -> Option<u8> {
    d.get(key).and_then(|v| u8::try_from(v).ok())
}

pub fn boolean(d: &Dict, key: &str) -> Option<bool> {
    d.get(key).and_then(|v| bool::try_from(v).ok())
}

pub fn bytes(d: &Dict, key: &str) -> Option<Vec<u8>> {
    match &**d.get(key)? {
        Variant::Array(a) => {
            Some(a.inner().iter().filter_map(|e| if let Variant::U8(b) = e { Some(*b) } else { None }).collect())
        }
        _ => None,
    }
}

/// The error name of a failed call (`NoCard`, `WrongPin`, …).
pub fn error_name<T: std::fmt::Debug>(result: zbus::Result<T>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => {
            let e = sscard_client::CallError::from(&e);
            assert!(matches!(e.kind, sscard_client::CallErrorKind::Daemon(_)), "not an sscard error: {e}");
            e.short_name().to_owned()
        }
    }
}
