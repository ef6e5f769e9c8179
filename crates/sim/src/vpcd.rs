//! The vpcd wire protocol (test-bench.md): the simulator is a TCP client of
//! vsmartcard's vpcd reader driver. Each message is a 2-byte big-endian
//! length and a payload; a 1-byte payload is a control code, anything
//! longer is a command APDU, answered with the response APDU.
//!
//! TCP_NODELAY is set and TCP_QUICKACK re-armed after every read: without
//! them each APDU stalls on a delayed ACK (44 ms instead of ~0.1 ms here).
//! vpcd writes the 2-byte length and the payload as two segments, and with
//! Nagle on its side the payload waits for our ACK of the length; setting
//! TCP_QUICKACK right after reading the length sends that ACK at once.

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::thread;
use std::time::{Duration, Instant};

use super::image::ImageError;
use super::protocol::SimulatedCard;
use super::psam::Psam;
use super::user_card::UserCard;
use sscard_transport::VirtualCard;

const CONTROL_POWER_OFF: u8 = 0x00;
const CONTROL_POWER_ON: u8 = 0x01;
const CONTROL_RESET: u8 = 0x02;
const CONTROL_GET_ATR: u8 = 0x04;

/// A card the vpcd loop can drive: it answers APDUs and keeps its state.
pub trait Device {
    /// Resets the card and returns its ATR.
    fn reset(&mut self) -> Vec<u8>;
    /// Answers one APDU, saving any change before returning the answer.
    fn process(&mut self, apdu: &[u8]) -> Result<Vec<u8>, ImageError>;
}

/// A user card, saved to `image_path` after every APDU that changed it.
pub struct CardDevice {
    pub card: SimulatedCard<UserCard>,
    pub image_path: Option<PathBuf>,
}

impl CardDevice {
    pub fn save(&mut self) -> Result<(), ImageError> {
        match &self.image_path {
            Some(path) => self.card.applet().image().save_atomically(path),
            None => Ok(()),
        }
    }
}

impl Device for CardDevice {
    fn reset(&mut self) -> Vec<u8> {
        VirtualCard::reset(&mut self.card)
    }

    fn process(&mut self, apdu: &[u8]) -> Result<Vec<u8>, ImageError> {
        let answer = self.card.process(apdu);
        if self.card.applet_mut().take_dirty() {
            self.save()?;
        }
        Ok(answer)
    }
}

impl Device for SimulatedCard<Psam> {
    fn reset(&mut self) -> Vec<u8> {
        VirtualCard::reset(self)
    }

    fn process(&mut self, apdu: &[u8]) -> Result<Vec<u8>, ImageError> {
        Ok(VirtualCard::process(self, apdu))
    }
}

/// Fault injection and timing for one run.
#[derive(Debug, Default, Clone)]
pub struct RunOptions {
    /// Close the connection instead of answering the Nth APDU (1-based).
    /// The APDU is still executed, as a card pulled out just before its
    /// answer would have been: the terminal cannot tell whether it ran.
    pub remove_after: Option<u64>,
    /// Delay before each answer, to imitate a real card.
    pub latency: Duration,
    /// Only APDUs with one of these instruction bytes are delayed; empty:
    /// every APDU.
    pub latency_ins: Vec<u8>,
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// vpcd closed the connection (pcscd stopped), or we were told to stop.
    Closed,
    /// `remove_after` pulled the card.
    Removed,
}

/// Connects to vpcd, retrying while nothing listens yet.
pub fn connect(host: &str, port: u16, patience: Duration) -> io::Result<TcpStream> {
    let deadline = Instant::now() + patience;
    loop {
        match TcpStream::connect((host, port)) {
            Ok(stream) => {
                stream.set_nodelay(true)?;
                rearm_quickack(&stream)?;
                return Ok(stream);
            }
            Err(e) if Instant::now() < deadline && e.kind() == io::ErrorKind::ConnectionRefused => {
                thread::sleep(Duration::from_millis(50));
            }
            Err(e) => return Err(e),
        }
    }
}

/// Delayed ACKs are re-enabled by the kernel after it sends one, so
/// TCP_QUICKACK must be set again after every read.
fn rearm_quickack(stream: &TcpStream) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: a valid socket fd and a pointer to a c_int of the given size.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_QUICKACK,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 { Ok(()) } else { Err(io::Error::last_os_error()) }
}

/// Reads one message; `None` when vpcd closed the connection.
fn read_message(stream: &mut TcpStream) -> io::Result<Option<Vec<u8>>> {
    let mut len = [0u8; 2];
    match stream.read_exact(&mut len) {
        Ok(()) => rearm_quickack(stream)?,
        Err(e) if matches!(e.kind(), io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset) => {
            return Ok(None);
        }
        Err(e) => return Err(e),
    }
    let mut payload = vec![0u8; u16::from_be_bytes(len) as usize];
    stream.read_exact(&mut payload)?;
    rearm_quickack(stream)?;
    Ok(Some(payload))
}

fn write_message(stream: &mut TcpStream, payload: &[u8]) -> io::Result<()> {
    let len = u16::try_from(payload.len()).map_err(|_| io::Error::other("answer longer than 65535 bytes"))?;
    let mut frame = Vec::with_capacity(payload.len() + 2);
    frame.extend_from_slice(&len.to_be_bytes());
    frame.extend_from_slice(payload);
    stream.write_all(&frame)
}

/// One line per APDU or answer for `--log`. The data of PIN-bearing
/// commands is redacted even on a test card, so logs never teach bad habits.
pub fn describe_apdu(apdu: &[u8]) -> String {
    // VERIFY, CHANGE/RELOAD PIN, and the PSAM's MAC over a RELOAD (whose
    // input holds the new PIN).
    let carries_pin = matches!(apdu, [0x00, 0x20, ..] | [0x80, 0x5E, ..] | [0x80, 0xFA, ..]);
    if carries_pin && apdu.len() > 5 {
        format!("{} <{} bytes redacted>", hex::encode_upper(&apdu[..5]), apdu.len() - 5)
    } else {
        hex::encode_upper(apdu)
    }
}

/// Serves `device` over `stream` until vpcd closes it, `remove_after`
/// fires, or the stream is shut down from another thread (SIGTERM).
pub fn serve(
    stream: &mut TcpStream,
    device: &mut dyn Device,
    options: &RunOptions,
    log: &mut dyn FnMut(&str),
) -> Result<RunEnd, Box<dyn std::error::Error>> {
    let mut atr = device.reset();
    let mut apdus = 0u64;
    loop {
        let Some(message) = read_message(stream)? else { return Ok(RunEnd::Closed) };
        match message.as_slice() {
            [] => return Err("vpcd sent an empty message".into()),
            [CONTROL_POWER_OFF] | [CONTROL_POWER_ON] | [CONTROL_RESET] => {
                atr = device.reset();
                log(&format!("control {:02X}", message[0]));
            }
            [CONTROL_GET_ATR] => write_message(stream, &atr)?,
            [other] => return Err(format!("vpcd sent unknown control code {other:02X}").into()),
            apdu => {
                apdus += 1;
                log(&format!("{apdus} > {}", describe_apdu(apdu)));
                let answer = device.process(apdu)?;
                if options.remove_after == Some(apdus) {
                    log(&format!("{apdus} card removed before answering"));
                    stream.shutdown(Shutdown::Both)?;
                    return Ok(RunEnd::Removed);
                }
                let delayed =
                    options.latency_ins.is_empty() || apdu.get(1).is_some_and(|ins| options.latency_ins.contains(ins));
                if !options.latency.is_zero() && delayed {
                    thread::sleep(options.latency);
                }
                log(&format!("{apdus} < {}", hex::encode_upper(&answer)));
                write_message(stream, &answer)?;
            }
        }
    }
}
