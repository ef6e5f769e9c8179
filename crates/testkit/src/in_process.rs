//! sscardd's D-Bus surface in process: the daemon's `Daemon` served over a
//! zbus peer-to-peer connection (a socket pair), on in-process readers
//! (`VirtualBackend`, with its faults) holding the simulator's cards. No
//! pcscd, no bus daemon, no polkit, no root: `cargo test` alone runs it.
//! The bench (`support::client::Rig`) keeps what only it can show.

use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::time::Duration;

use sscard_client::{Manager1Proxy, Reader1Proxy};
use sscard_ops::Engine;
use sscard_service::dbus::{Authorization, Daemon};
use sscard_service::{Event, Service, ServiceConfig};
use sscard_sim::{CardImage, Generation, Psam, SimulatedCard, UserCard, psam, user_card};
use sscard_transport::{
    AnyBackend, Backend, CardConnection, ReaderFeatures, VirtualBackend, VirtualCard, VirtualReader,
};
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
        capture_logs();
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

impl InProcessDaemon {
    /// Waits until the reader named so shows `CardKind` `kind`.
    pub async fn wait_kind(&self, name: &str, kind: &str) {
        let proxy = self.reader(name).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        loop {
            let now = proxy.card_kind().await.expect("CardKind");
            if now == kind {
                return;
            }
            assert!(tokio::time::Instant::now() < deadline, "{name}: CardKind stayed {now:?}, never {kind:?}");
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }

    /// Takes the card out and waits until the daemon shows the reader empty.
    pub async fn take_out(&self, reader: &VirtualReader, name: &str) {
        reader.remove();
        self.wait_kind(name, "none").await;
    }

    /// Another program resets the card in the reader named so, between
    /// two of the daemon's transactions, as `opensc-tool --reset` does.
    pub fn reset_by_another_program(&self, name: &str) {
        let mut other = self.backend.connect(name).expect("another program's connection");
        other.reset().expect("another program's reset");
    }

    /// What sscardd does on SIGTERM, in process: no new calls, the
    /// operations under way finish within the grace, the queued calls are
    /// answered `Cancelled`. Answers how many calls were left unanswered.
    pub async fn shut_down(&self) -> usize {
        self.daemon.stop_taking_calls();
        let daemon = Arc::clone(&self.daemon);
        tokio::task::spawn_blocking(move || daemon.shutdown()).await.expect("shutdown");
        self.daemon.drain(Duration::from_secs(1)).await
    }
}

/// The command APDUs (as the card got them) since `from`, in upper-case hex.
pub fn logged_since(reader: &VirtualReader, from: usize) -> Vec<String> {
    reader.log().get(from..).unwrap_or_default().iter().map(|apdu| hex::encode_upper(&apdu[..])).collect()
}

/// A card the test keeps a handle on: its state can be read once it has
/// left the reader (which then drops its own handle).
pub struct Shared<C>(Arc<Mutex<C>>);

impl<C> Clone for Shared<C> {
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

impl<C> Shared<C> {
    pub fn new(card: C) -> Shared<C> {
        Shared(Arc::new(Mutex::new(card)))
    }

    pub fn lock(&self) -> MutexGuard<'_, C> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: VirtualCard> VirtualCard for Shared<C> {
    fn reset(&mut self) -> Vec<u8> {
        self.lock().reset()
    }

    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        self.lock().process(command)
    }
}

/// A user card from `image` (a blank card of `generation` without one),
/// with a handle on it.
pub fn shared_card(generation: Generation, image: Option<&CardImage>) -> Shared<SimulatedCard<UserCard>> {
    let card = match image {
        Some(image) => UserCard::from_image(image.clone()).expect("a consistent card image"),
        None => UserCard::blank(generation, [0x11, 0x01, 0x00], [1, 2, 3, 4, 5, 6, 7, 8], "123456"),
    };
    Shared::new(user_card(card))
}

/// The image of a shared user card, checked to be consistent.
pub fn image_of(card: &Shared<SimulatedCard<UserCard>>) -> CardImage {
    let image = card.lock().applet().image().clone();
    UserCard::from_image(image.clone()).unwrap_or_else(|e| panic!("inconsistent image: {e}"));
    image
}

/// An ISO 7816 card that is none of ours (vsmartcard's `vicc` plays it on
/// the bench): it knows no application.
pub struct ForeignCard;

impl VirtualCard for ForeignCard {
    fn reset(&mut self) -> Vec<u8> {
        // T=1, historical bytes "JCOP41V221".
        vec![0x3B, 0x8A, 0x80, 0x01, 0x4A, 0x43, 0x4F, 0x50, 0x34, 0x31, 0x56, 0x32, 0x32, 0x31, 0x7F]
    }

    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        match command.get(1) {
            Some(0xA4) => vec![0x6A, 0x82],
            _ => vec![0x6D, 0x00],
        }
    }
}

/// The daemon's log lines (at info and above) of the process's in-process
/// daemons, for the reader named so: `reader=<name>` in the line. A test
/// that reads them names its readers apart from every other test's.
pub fn log_lines_of(reader: &str) -> Vec<String> {
    let field = format!("reader={reader}");
    let text = String::from_utf8_lossy(&lock(log_buffer())).into_owned();
    text.lines()
        .filter(|line| line.split_whitespace().any(|word| word == field || word.trim_end_matches(':') == field))
        .map(str::to_owned)
        .collect()
}

fn log_buffer() -> &'static Mutex<Vec<u8>> {
    static BUFFER: OnceLock<Mutex<Vec<u8>>> = OnceLock::new();
    BUFFER.get_or_init(Mutex::default)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

struct LogWriter;

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        lock(log_buffer()).extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Once per process: the daemons' log at info and above into a buffer.
fn capture_logs() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let _ = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(|| LogWriter)
            .try_init();
    });
}

impl Drop for InProcessDaemon {
    fn drop(&mut self) {
        self.daemon.shutdown();
        self.pump.abort();
    }
}
