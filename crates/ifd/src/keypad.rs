//! The simulated keypad: PIN entry from the slot's key queue, and the
//! control socket that tests type on (docs/interfaces.md).
//!
//! The socket takes one command per line and answers one line:
//!
//! - `keys SLOT KEYS`: queue keys; `0`-`9` digits, `O` OK, `C` cancel;
//! - `clear SLOT`: drop the queued keys;
//! - `status SLOT`: `ok present=P entering=E entries=N queued=Q`;
//! - `stats SLOT`: `ok apdus=N extended=M` (APDUs sent to the card).
//!
//! Errors answer `error WHY`.

use std::io::{self, BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::Secret;
use crate::slot::{Key, Slot};

/// The most digits an entry keeps; a pad has no room for more.
const MAX_DIGITS: usize = 32;

pub enum Entry {
    Pin(Secret),
    Cancelled,
    Timeout,
    /// The card left, or the channel is closing.
    Removed,
}

/// Collects one PIN from the keypad: digits until OK (or until `auto`
/// digits when the entry validates on the maximum size).
pub fn enter(slot: &Slot, timeout: Duration, auto: Option<usize>) -> Entry {
    let deadline = Instant::now() + timeout;
    let mut state = slot.state();
    state.entering = true;
    state.entries += 1;
    slot.notify();
    let mut digits = Secret::default();
    let end = loop {
        state = slot.wait_until(state, deadline, |s| !s.keys.is_empty() || !s.present());
        if !state.present() {
            break Entry::Removed;
        }
        match state.keys.pop_front() {
            None if Instant::now() >= deadline => break Entry::Timeout,
            // Stopping: the channel closes under the entry.
            None => break Entry::Removed,
            Some(Key::Cancel) => break Entry::Cancelled,
            Some(Key::Ok) => break Entry::Pin(std::mem::take(&mut digits)),
            Some(Key::Digit(d)) => {
                if digits.0.len() < MAX_DIGITS {
                    digits.0.push(d);
                }
                if auto.is_some_and(|n| n > 0 && digits.0.len() >= n) {
                    break Entry::Pin(std::mem::take(&mut digits));
                }
            }
        }
    };
    state.entering = false;
    drop(state);
    slot.notify();
    end
}

pub type Slots = Arc<Mutex<Vec<Option<Arc<Slot>>>>>;

/// The control socket's server thread.
pub struct Server {
    path: PathBuf,
    wake: UnixStream,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(path: &Path, slots: Slots) -> io::Result<Server> {
        // A pcscd that was killed left its socket behind.
        let _ = std::fs::remove_file(path);
        let listener = UnixListener::bind(path)?;
        listener.set_nonblocking(true)?;
        let (wake, wake_rx) = UnixStream::pair()?;
        wake_rx.set_nonblocking(true)?;
        let thread = std::thread::Builder::new()
            .name("sscard-ifd:control".to_owned())
            .spawn(move || serve(listener, wake_rx, slots))?;
        Ok(Server { path: path.to_owned(), wake, thread: Some(thread) })
    }

    pub fn stop(&mut self) {
        let _ = (&self.wake).write_all(&[1]);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        let _ = std::fs::remove_file(&self.path);
    }
}

fn serve(listener: UnixListener, wake: UnixStream, slots: Slots) {
    loop {
        if !crate::slot::wait_fd(listener.as_raw_fd(), libc::POLLIN, &wake) {
            return;
        }
        if let Ok((stream, _)) = listener.accept() {
            let slots = Arc::clone(&slots);
            // One thread per client, so a client that idles blocks no one.
            let _ =
                std::thread::Builder::new().name("sscard-ifd:client".to_owned()).spawn(move || client(stream, slots));
        }
    }
}

fn client(stream: UnixStream, slots: Slots) {
    if stream.set_nonblocking(false).is_err() || stream.set_read_timeout(Some(Duration::from_secs(600))).is_err() {
        return;
    }
    let Ok(mut out) = stream.try_clone() else { return };
    for line in BufReader::new(stream).lines() {
        let Ok(line) = line else { return };
        let answer = match command(&line, &slots) {
            Ok(text) => format!("ok{text}\n"),
            Err(why) => format!("error {why}\n"),
        };
        if out.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

fn command(line: &str, slots: &Slots) -> Result<String, String> {
    let mut words = line.split_whitespace();
    let verb = words.next().ok_or("empty command")?;
    let index: usize = words.next().and_then(|w| w.parse().ok()).ok_or("expected a slot number")?;
    let slot = slots
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(index)
        .cloned()
        .flatten()
        .ok_or_else(|| format!("slot {index} is not open"))?;
    match verb {
        "keys" => {
            let text = words.next().ok_or("expected keys")?;
            let keys = text
                .chars()
                .map(|c| match c {
                    '0'..='9' => Ok(Key::Digit(c as u8 - b'0')),
                    'O' | 'o' => Ok(Key::Ok),
                    'C' | 'c' => Ok(Key::Cancel),
                    _ => Err(format!("unknown key {c:?}")),
                })
                .collect::<Result<Vec<_>, _>>()?;
            slot.state().keys.extend(keys);
            slot.notify();
            Ok(String::new())
        }
        "clear" => {
            slot.state().keys.clear();
            Ok(String::new())
        }
        "status" => {
            let s = slot.state();
            Ok(format!(
                " present={} entering={} entries={} queued={}",
                u8::from(s.present()),
                u8::from(s.entering),
                s.entries,
                s.keys.len()
            ))
        }
        "stats" => Ok(format!(
            " apdus={} extended={}",
            slot.apdus.load(Ordering::Relaxed),
            slot.extended.load(Ordering::Relaxed)
        )),
        _ => Err(format!("unknown command {verb}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::SlotConfig;

    /// A slot with a "card": a TCP client that stays connected.
    fn slot_with_card() -> (Arc<Slot>, std::net::TcpStream) {
        let slot = Slot::open("127.0.0.1", SlotConfig::new(0)).unwrap();
        let card = std::net::TcpStream::connect(("127.0.0.1", slot.port)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while !slot.state().present() {
            assert!(Instant::now() < deadline, "the slot never saw the card");
            std::thread::sleep(Duration::from_millis(5));
        }
        (slot, card)
    }

    fn press(slot: &Slot, keys: &[Key]) {
        slot.state().keys.extend(keys.iter().copied());
        slot.notify();
    }

    #[test]
    fn entries_end_at_ok_cancel_timeout_the_maximum_or_removal() {
        let (slot, card) = slot_with_card();
        let second = Duration::from_secs(1);
        press(&slot, &[Key::Digit(1), Key::Digit(2), Key::Ok, Key::Digit(3)]);
        assert!(matches!(enter(&slot, second, None), Entry::Pin(p) if p.0 == [1, 2]));
        assert_eq!(slot.state().keys.len(), 1, "keys after OK stay queued");
        // Validation on the maximum size: no OK needed.
        press(&slot, &[Key::Digit(4), Key::Digit(5)]);
        assert!(matches!(enter(&slot, second, Some(3)), Entry::Pin(p) if p.0 == [3, 4, 5]));
        press(&slot, &[Key::Digit(6), Key::Cancel]);
        assert!(matches!(enter(&slot, second, None), Entry::Cancelled));
        let started = Instant::now();
        assert!(matches!(enter(&slot, Duration::from_millis(200), None), Entry::Timeout));
        assert!(started.elapsed() >= Duration::from_millis(200));
        assert_eq!(slot.state().entries, 4);
        assert!(!slot.state().entering);
        // The card leaves while the pad waits.
        let waiter = {
            let slot = Arc::clone(&slot);
            std::thread::spawn(move || matches!(enter(&slot, Duration::from_secs(30), None), Entry::Removed))
        };
        while !slot.state().entering {
            std::thread::sleep(Duration::from_millis(5));
        }
        drop(card);
        assert!(waiter.join().unwrap());
        slot.close();
    }
}
