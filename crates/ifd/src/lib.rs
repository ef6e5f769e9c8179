//! sscard-ifd: a virtual reader driver for pcscd (IFD handler v3).
//!
//! pcscd loads `libsscard_ifd.so` from a reader.conf entry whose DEVICENAME
//! names the driver's configuration file ([`config`]). Each slot listens on
//! a TCP port and speaks vsmartcard's vpcd protocol to the simulator that
//! connects, so `sscard-sim` plugs in unchanged. The slots can be short-APDU
//! only, have a PIN pad (PC/SC part 10, [`part10`]) typed on through a
//! control socket ([`keypad`]), and tell pcscd of insertions at once
//! ([`slot`]). docs/interfaces.md, "The virtual reader driver (sscard-ifd)".

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

pub mod config;
pub mod ffi;
pub mod keypad;
pub mod part10;
pub mod pinpad;
pub mod slot;

use config::Config;
use ffi::Dword;
use slot::Slot;

/// Digits or a command that held them: zeroed when dropped.
#[derive(Default)]
pub struct Secret(pub Vec<u8>);

impl Drop for Secret {
    fn drop(&mut self) {
        wipe(&mut self.0);
    }
}

/// Overwrites a buffer that held a PIN, in a way the compiler keeps.
pub fn wipe(bytes: &mut [u8]) {
    for b in bytes.iter_mut() {
        // SAFETY: `b` is a valid, aligned, exclusive reference.
        unsafe { std::ptr::write_volatile(b, 0) };
    }
}

/// pcscd logs what its drivers write to stderr; no PIN is ever written.
pub fn log(message: &str) {
    eprintln!("sscard-ifd: {message}");
}

/// One reader.conf entry: its configuration and its open slots.
pub struct Reader {
    pub config: Config,
    pub slots: keypad::Slots,
    control: Mutex<Option<keypad::Server>>,
}

/// Readers by the high half of pcscd's Lun (0xRRRRSSSS).
static READERS: Mutex<BTreeMap<Dword, Arc<Reader>>> = Mutex::new(BTreeMap::new());

fn readers() -> MutexGuard<'static, BTreeMap<Dword, Arc<Reader>>> {
    READERS.lock().unwrap_or_else(|e| e.into_inner())
}

fn split(lun: Dword) -> (Dword, usize) {
    (lun >> 16, (lun & 0xFFFF) as usize)
}

#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("configuration: {0}")]
    Config(#[from] config::ConfigError),
    #[error("slot {slot} is not in the configuration, which has {slots}")]
    NoSuchSlot { slot: usize, slots: usize },
    #[error("slot {slot} opened before slot 0")]
    NoReader { slot: usize },
    #[error("port {port}: {source}")]
    Listen { port: u16, source: std::io::Error },
    #[error("control socket {path}: {source}")]
    Control { path: String, source: std::io::Error },
}

/// IFDHCreateChannel(ByName): slot 0 brings the reader's configuration,
/// the other slot uses it.
pub fn open(lun: Dword, config: impl FnOnce() -> Result<Config, config::ConfigError>) -> Result<(), OpenError> {
    let (index, slot_index) = split(lun);
    let reader = if slot_index == 0 {
        // A reader pcscd opened again without closing it (not seen, but cheap).
        let stale = readers().remove(&index);
        if let Some(stale) = stale {
            close_reader(&stale);
        }
        let config = config()?;
        let slots: keypad::Slots = Arc::new(Mutex::new(vec![None; config.slots.len()]));
        let control = match &config.control {
            Some(path) => Some(
                keypad::Server::start(path, Arc::clone(&slots))
                    .map_err(|source| OpenError::Control { path: path.display().to_string(), source })?,
            ),
            None => None,
        };
        let reader = Arc::new(Reader { config, slots, control: Mutex::new(control) });
        readers().insert(index, Arc::clone(&reader));
        reader
    } else {
        readers().get(&index).cloned().ok_or(OpenError::NoReader { slot: slot_index })?
    };
    let slot_config = reader
        .config
        .slots
        .get(slot_index)
        .cloned()
        .ok_or(OpenError::NoSuchSlot { slot: slot_index, slots: reader.config.slots.len() })?;
    let port = slot_config.port;
    let slot = match Slot::open(&reader.config.listen, slot_config) {
        Ok(slot) => slot,
        Err(source) => {
            // pcscd gives up on the reader: so does the driver, control socket and all.
            if slot_index == 0 {
                readers().remove(&index);
                close_reader(&reader);
            }
            return Err(OpenError::Listen { port, source });
        }
    };
    let mut slots = reader.slots.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(old) = slots.get_mut(slot_index).and_then(Option::take) {
        old.close();
    }
    if let Some(entry) = slots.get_mut(slot_index) {
        *entry = Some(slot);
    }
    Ok(())
}

/// The reader and slot of a Lun, if open.
pub fn find(lun: Dword) -> Option<(Arc<Reader>, Arc<Slot>)> {
    let (index, slot_index) = split(lun);
    let reader = readers().get(&index).cloned()?;
    let slot = reader.slots.lock().unwrap_or_else(|e| e.into_inner()).get(slot_index).cloned().flatten()?;
    Some((reader, slot))
}

/// IFDHCloseChannel: closes the slot, and the reader with its last slot.
pub fn close(lun: Dword) {
    let (index, slot_index) = split(lun);
    let Some(reader) = readers().get(&index).cloned() else { return };
    let slot = reader.slots.lock().unwrap_or_else(|e| e.into_inner()).get_mut(slot_index).and_then(Option::take);
    if let Some(slot) = slot {
        slot.close();
    }
    let empty = reader.slots.lock().unwrap_or_else(|e| e.into_inner()).iter().all(Option::is_none);
    if empty {
        readers().remove(&index);
        close_reader(&reader);
    }
}

fn close_reader(reader: &Reader) {
    let slots: Vec<Arc<Slot>> =
        reader.slots.lock().unwrap_or_else(|e| e.into_inner()).iter_mut().filter_map(Option::take).collect();
    for slot in slots {
        slot.close();
    }
    if let Some(mut server) = reader.control.lock().unwrap_or_else(|e| e.into_inner()).take() {
        server.stop();
    }
}
