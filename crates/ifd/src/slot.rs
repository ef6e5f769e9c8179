//! One slot: a TCP listener that a simulator connects to, as vpcd's, and
//! the state that presence, the pad and the exchanges share.
//!
//! A monitor thread per slot accepts the simulator and watches its
//! connection for a hang-up (POLLRDHUP: the simulator never sends
//! unsolicited bytes), so presence changes are known at once and
//! [`Slot::wait_event`] can wake pcscd's event thread.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use thiserror::Error;

use crate::config::SlotConfig;

const CONTROL_POWER_OFF: u8 = 0x00;
const CONTROL_POWER_ON: u8 = 0x01;
const CONTROL_RESET: u8 = 0x02;
const CONTROL_GET_ATR: u8 = 0x04;
/// A card that takes longer than this to answer is treated as gone.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug, Error)]
pub enum SlotError {
    #[error("no card in the slot")]
    Absent,
    #[error("the simulator's connection failed: {0}")]
    Io(#[from] io::Error),
    #[error("a frame of {0} bytes does not fit vpcd's 2-byte length")]
    TooLong(usize),
    #[error("a command of {0} bytes is shorter than an APDU header")]
    TooShort(usize),
}

/// A key of the simulated keypad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Digit(u8),
    Ok,
    Cancel,
}

pub struct State {
    conn: Option<Arc<TcpStream>>,
    /// Bumped at every insertion and removal.
    generation: u64,
    /// The generation pcscd last saw through IFDHICCPresence.
    reported: u64,
    /// The channel is closing: every wait ends.
    stopping: bool,
    /// pcscd asked the current (or next) event wait to return.
    wake_event: bool,
    pub atr: Vec<u8>,
    pub keys: VecDeque<Key>,
    /// Whether a PIN entry is waiting for keys now.
    pub entering: bool,
    /// PIN entries begun since the channel opened.
    pub entries: u64,
}

impl State {
    pub fn present(&self) -> bool {
        self.conn.is_some()
    }
}

pub struct Slot {
    pub config: SlotConfig,
    state: Mutex<State>,
    /// Wakes presence waiters, pad entries and the monitor's users.
    changed: Condvar,
    /// Serializes exchanges with the simulator.
    io: Mutex<()>,
    wake: UnixStream,
    monitor: Mutex<Option<JoinHandle<()>>>,
    pub apdus: AtomicU64,
    pub extended: AtomicU64,
    /// The port bound (the configuration's, or the system's choice for 0).
    pub port: u16,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic elsewhere was caught at the FFI edge; the state is still whole.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Slot {
    /// Binds the slot's port and starts its monitor.
    pub fn open(listen: &str, config: SlotConfig) -> io::Result<Arc<Slot>> {
        let listener = TcpListener::bind((listen, config.port))?;
        let port = listener.local_addr()?.port();
        listener.set_nonblocking(true)?;
        let (wake, wake_rx) = UnixStream::pair()?;
        wake_rx.set_nonblocking(true)?;
        let slot = Arc::new(Slot {
            config,
            state: Mutex::new(State {
                conn: None,
                generation: 0,
                reported: 0,
                stopping: false,
                wake_event: false,
                atr: Vec::new(),
                keys: VecDeque::new(),
                entering: false,
                entries: 0,
            }),
            changed: Condvar::new(),
            io: Mutex::new(()),
            wake,
            monitor: Mutex::new(None),
            apdus: AtomicU64::new(0),
            extended: AtomicU64::new(0),
            port,
        });
        let worker = Arc::clone(&slot);
        let handle = std::thread::Builder::new()
            .name(format!("sscard-ifd:{}", slot.config.port))
            .spawn(move || worker.monitor(listener, wake_rx))?;
        *lock(&slot.monitor) = Some(handle);
        Ok(slot)
    }

    pub fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub fn notify(&self) {
        self.changed.notify_all();
    }

    /// Waits on the slot's condition until `done` or `deadline`.
    pub fn wait_until<'a>(
        &self,
        mut guard: MutexGuard<'a, State>,
        deadline: Instant,
        mut done: impl FnMut(&State) -> bool,
    ) -> MutexGuard<'a, State> {
        while !done(&guard) && !guard.stopping {
            let now = Instant::now();
            if now >= deadline {
                break;
            }
            guard = match self.changed.wait_timeout(guard, deadline - now) {
                Ok((g, _)) => g,
                Err(e) => e.into_inner().0,
            };
        }
        guard
    }

    /// For IFDHICCPresence: whether a card is there, noting that pcscd
    /// has seen this state.
    pub fn present(&self) -> bool {
        let mut state = self.state();
        state.reported = state.generation;
        state.present()
    }

    /// For pcscd's event thread: returns when presence changed since pcscd
    /// last asked, when pcscd asks ([`Slot::wake_event`]), after `timeout`,
    /// or when the slot closes.
    pub fn wait_event(&self, timeout: Duration) {
        let state = self.state();
        let seen = state.reported;
        let mut state = self.wait_until(state, Instant::now() + timeout, |s| s.generation != seen || s.wake_event);
        state.wake_event = false;
    }

    /// TAG_IFD_STOP_POLLING_THREAD: pcscd calls it to end the current
    /// wait, so that its event thread starts a new one with another timeout
    /// (after SCardDisconnect) or checks that it must exit. One wait ends,
    /// the current one or the next.
    pub fn wake_event(&self) {
        self.state().wake_event = true;
        self.notify();
    }

    /// Stops the monitor and closes the listener and the connection.
    pub fn close(&self) {
        {
            let mut state = self.state();
            state.stopping = true;
            if let Some(conn) = state.conn.take() {
                let _ = conn.shutdown(Shutdown::Both);
            }
        }
        self.notify();
        let _ = (&self.wake).write_all(&[1]);
        if let Some(handle) = lock(&self.monitor).take() {
            let _ = handle.join();
        }
    }

    fn monitor(self: Arc<Slot>, listener: TcpListener, wake: UnixStream) {
        loop {
            let conn = {
                let state = self.state();
                if state.stopping {
                    return;
                }
                state.conn.clone()
            };
            match conn {
                None => {
                    if !wait_fd(listener.as_raw_fd(), libc::POLLIN, &wake) {
                        continue;
                    }
                    match listener.accept() {
                        Ok((stream, _)) => {
                            if let Err(e) = prepare(&stream) {
                                crate::log(&format!("port {}: {e}", self.config.port));
                                continue;
                            }
                            let mut state = self.state();
                            state.conn = Some(Arc::new(stream));
                            state.atr.clear();
                            state.generation += 1;
                            drop(state);
                            self.notify();
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                        Err(e) => {
                            crate::log(&format!("port {}: accept: {e}", self.config.port));
                            std::thread::sleep(Duration::from_millis(50));
                        }
                    }
                }
                Some(stream) => {
                    if wait_fd(stream.as_raw_fd(), libc::POLLRDHUP, &wake) {
                        self.drop_connection(&stream);
                    }
                }
            }
        }
    }

    /// The card is gone: forgets `stream` if it is still the slot's.
    fn drop_connection(&self, stream: &Arc<TcpStream>) {
        let mut state = self.state();
        if state.conn.as_ref().is_some_and(|c| Arc::ptr_eq(c, stream)) {
            state.conn = None;
            state.atr.clear();
            state.generation += 1;
            drop(state);
            let _ = stream.shutdown(Shutdown::Both);
            self.notify();
        }
    }

    /// Sends one frame and, unless it is a control code without an
    /// answer, reads the answer. A failed exchange removes the card.
    fn exchange(&self, payload: &[u8], answer: bool) -> Result<Vec<u8>, SlotError> {
        let _io = lock(&self.io);
        let stream = self.state().conn.clone().ok_or(SlotError::Absent)?;
        let result = frame_exchange(&stream, payload, answer);
        // A command too long for a frame was never sent: the card stays.
        if matches!(result, Err(SlotError::Io(_))) {
            self.drop_connection(&stream);
        }
        result
    }

    pub fn power_on(&self, reset: bool) -> Result<Vec<u8>, SlotError> {
        self.exchange(&[if reset { CONTROL_RESET } else { CONTROL_POWER_ON }], false)?;
        let atr = self.exchange(&[CONTROL_GET_ATR], true)?;
        self.state().atr = atr.clone();
        Ok(atr)
    }

    pub fn power_off(&self) -> Result<(), SlotError> {
        self.state().atr.clear();
        self.exchange(&[CONTROL_POWER_OFF], false).map(|_| ())
    }

    /// An APDU to the card; its response.
    pub fn transmit(&self, apdu: &[u8]) -> Result<Vec<u8>, SlotError> {
        // vpcd's frames: a payload of one byte is a control code.
        if apdu.len() < 4 {
            return Err(SlotError::TooShort(apdu.len()));
        }
        self.apdus.fetch_add(1, Ordering::Relaxed);
        if crate::pinpad::is_extended(apdu) {
            self.extended.fetch_add(1, Ordering::Relaxed);
        }
        self.exchange(apdu, true)
    }
}

fn prepare(stream: &TcpStream) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(ANSWER_TIMEOUT))?;
    stream.set_write_timeout(Some(ANSWER_TIMEOUT))?;
    Ok(())
}

/// Polls `fd` for `events` and the wake socket; true when `fd` is ready.
pub(crate) fn wait_fd(fd: i32, events: libc::c_short, wake: &UnixStream) -> bool {
    let mut fds = [
        libc::pollfd { fd, events, revents: 0 },
        libc::pollfd { fd: wake.as_raw_fd(), events: libc::POLLIN, revents: 0 },
    ];
    // SAFETY: two valid pollfd entries, and their count.
    let rc = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
    if rc < 0 {
        return false;
    }
    if fds[1].revents != 0 {
        let mut drain = [0u8; 16];
        let _ = (&*wake).read(&mut drain);
    }
    fds[0].revents != 0
}

fn frame_exchange(mut stream: &TcpStream, payload: &[u8], answer: bool) -> Result<Vec<u8>, SlotError> {
    let len = u16::try_from(payload.len()).map_err(|_| SlotError::TooLong(payload.len()))?;
    let mut frame = Vec::with_capacity(payload.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)?;
    crate::wipe(&mut frame);
    if !answer {
        return Ok(Vec::new());
    }
    let mut len = [0u8; 2];
    stream.read_exact(&mut len)?;
    let mut body = vec![0u8; usize::from(u16::from_be_bytes(len))];
    stream.read_exact(&mut body)?;
    Ok(body)
}
