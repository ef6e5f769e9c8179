//! sscardd's D-Bus surface in process: the daemon's `Daemon` served over a
//! zbus peer-to-peer connection (a socket pair), on in-process readers
//! (`VirtualBackend`, with its faults) holding the simulator's cards. No
//! pcscd, no bus daemon, no polkit, no root: `cargo test` alone runs it.
//! The bench (`support::client::Rig`) keeps what only it can show.

use std::sync::Arc;
use std::time::Duration;

use sscard_client::{Manager1Proxy, Reader1Proxy};
use sscard_ops::Engine;
use sscard_service::dbus::{Authorization, Daemon};
use sscard_service::{Event, Service, ServiceConfig};
use sscard_sim::{Generation, Psam, UserCard, psam, user_card};
use sscard_transport::{AnyBackend, ReaderFeatures, VirtualBackend, VirtualReader};
use tokio::sync::mpsc;
use zbus::{Connection, OwnedObjectPath};

pub fn scripts_dir() -> std::path::PathBuf {
    crate::source_root().join("apdu-scripts")
}

/// A blank card of `generation` with the reference initial PIN.
pub fn blank_card(generation: Generation, serial: u8) -> sscard_sim::SimulatedCard<UserCard> {
    user_card(UserCard::blank(generation, [0x11, 0x01, 0x00], [0, 0, 0, 0, 0, 0, 0, serial], "123456"))
}

/// The reference PSAM.
pub fn reference_psam() -> sscard_sim::SimulatedCard<Psam> {
    psam(Psam::new([0x44, 0x03, 0, 0, 0, 1]))
}

/// The daemon on one end of a socket pair, a client on the other.
pub struct InProcessDaemon {
    pub backend: VirtualBackend,
    /// The client's end: proxies are built on it as on a bus connection.
    pub client: Connection,
    /// The daemon's end, kept open for the client's life.
    _server: Connection,
    daemon: Arc<Daemon>,
    pump: tokio::task::JoinHandle<()>,
}

impl InProcessDaemon {
    /// Readers named as given, empty; the daemon serves once it has
    /// published them all.
    pub async fn start(readers: &[&str]) -> (InProcessDaemon, Vec<VirtualReader>) {
        InProcessDaemon::start_with(readers, ServiceConfig::default()).await
    }

    pub async fn start_with(readers: &[&str], config: ServiceConfig) -> (InProcessDaemon, Vec<VirtualReader>) {
        let plain: Vec<(&str, ReaderFeatures)> =
            readers.iter().map(|name| (*name, ReaderFeatures::default())).collect();
        InProcessDaemon::start_with_features(&plain, config).await
    }

    /// Readers that say `features` of themselves (PC/SC part 10) from the
    /// moment they appear, as a PIN-pad or a short-APDU reader does.
    pub async fn start_with_features(
        readers: &[(&str, ReaderFeatures)],
        config: ServiceConfig,
    ) -> (InProcessDaemon, Vec<VirtualReader>) {
        let backend = VirtualBackend::new();
        let handles: Vec<VirtualReader> = readers
            .iter()
            .map(|(name, features)| {
                let reader = backend.add_reader(name);
                reader.set_features(features.clone());
                reader
            })
            .collect();
        let engine = Arc::new(Engine::load(&scripts_dir()).expect("profiles"));
        let profiles = engine.profiles().iter().map(|p| p.name.clone()).collect();
        let (events, events_rx) = mpsc::unbounded_channel::<Event>();
        let service =
            Service::start_with(AnyBackend::Virtual(backend.clone()), engine, config, events).expect("the service");
        let daemon = Daemon::new(service, Authorization::None, profiles, String::new());
        let (ours, theirs) = std::os::unix::net::UnixStream::pair().expect("a socket pair");
        let guid = zbus::Guid::generate();
        let server = zbus::connection::Builder::unix_stream(ours).server(guid).p2p().build();
        // A call lost to the peer fails in time rather than hanging the test.
        let client =
            zbus::connection::Builder::unix_stream(theirs).p2p().method_timeout(Duration::from_secs(10)).build();
        let (server, client) = tokio::try_join!(server, client).expect("the peer-to-peer connection");
        sscard_service::dbus::register(&server, &daemon).await.expect("register");
        let pump = tokio::spawn(sscard_service::dbus::serve(server.clone(), Arc::clone(&daemon), events_rx));
        let rig = InProcessDaemon { backend, client, _server: server, daemon, pump };
        // The server's object server starts dispatching a moment after the
        // objects are registered, and a peer-to-peer call that arrives
        // before it is lost (a bus daemon's NameOwnerChanged gives the same
        // moment to sscardd's clients): ask, briefly, until it answers.
        let manager = rig.manager().await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let listed = tokio::time::timeout(Duration::from_millis(200), manager.list_readers()).await;
            if let Ok(Ok(found)) = listed
                && found.len() == readers.len()
            {
                break;
            }
            assert!(tokio::time::Instant::now() < deadline, "the daemon did not publish its readers");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        (rig, handles)
    }

    pub async fn manager(&self) -> Manager1Proxy<'static> {
        Manager1Proxy::builder(&self.client)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .expect("manager proxy")
    }

    /// The object path of the reader named so.
    pub async fn reader_path(&self, name: &str) -> OwnedObjectPath {
        let readers = self.manager().await.list_readers().await.expect("ListReaders");
        readers.into_iter().find(|(_, n)| n == name).map(|(p, _)| p).unwrap_or_else(|| panic!("no reader {name}"))
    }

    pub async fn reader(&self, name: &str) -> Reader1Proxy<'static> {
        Reader1Proxy::builder(&self.client)
            .path(self.reader_path(name).await)
            .cache_properties(zbus::proxy::CacheProperties::No)
            .build()
            .await
            .expect("reader proxy")
    }

    /// Inserts a card and waits until the daemon shows it classified.
    pub async fn insert(&self, reader: &VirtualReader, name: &str, card: impl sscard_transport::VirtualCard + 'static) {
        let proxy = self.reader(name).await;
        reader.insert(card);
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while proxy.card_kind().await.expect("CardKind") == "none" {
            assert!(tokio::time::Instant::now() < deadline, "{name}: the card was not classified");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for InProcessDaemon {
    fn drop(&mut self) {
        self.daemon.shutdown();
        self.pump.abort();
    }
}
