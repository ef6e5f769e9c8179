//! The IFD handler v3 exports (pcsc-lite's ifdhandler.h), written with
//! libc types: DWORD is `unsigned long`, RESPONSECODE `long`. Every export
//! catches panics, so none unwinds into pcscd.

use std::ffi::CStr;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::time::Duration;

use libc::{c_char, c_int, c_long, c_uchar, c_ulong};

use crate::config::Config;

pub type Dword = c_ulong;
pub type ResponseCode = c_long;

pub const IFD_SUCCESS: ResponseCode = 0;
pub const IFD_ERROR_TAG: ResponseCode = 600;
pub const IFD_ERROR_POWER_ACTION: ResponseCode = 608;
pub const IFD_ERROR_NOT_SUPPORTED: ResponseCode = 606;
pub const IFD_PROTOCOL_NOT_SUPPORTED: ResponseCode = 607;
pub const IFD_COMMUNICATION_ERROR: ResponseCode = 612;
pub const IFD_NOT_SUPPORTED: ResponseCode = 614;
pub const IFD_ICC_PRESENT: ResponseCode = 615;
pub const IFD_ICC_NOT_PRESENT: ResponseCode = 616;
pub const IFD_ERROR_INSUFFICIENT_BUFFER: ResponseCode = 618;

const IFD_POWER_UP: Dword = 500;
const IFD_POWER_DOWN: Dword = 501;
const IFD_RESET: Dword = 502;

const TAG_IFD_ATR: Dword = 0x0303;
const SCARD_ATTR_ATR_STRING: Dword = 0x0009_0303;
const SCARD_ATTR_VENDOR_NAME: Dword = 0x0001_0100;
const TAG_IFD_SLOT_THREAD_SAFE: Dword = 0x0FAC;
const TAG_IFD_THREAD_SAFE: Dword = 0x0FAD;
const TAG_IFD_SLOTS_NUMBER: Dword = 0x0FAE;
const TAG_IFD_SIMULTANEOUS_ACCESS: Dword = 0x0FAF;
const TAG_IFD_POLLING_THREAD_KILLABLE: Dword = 0x0FB1;
const TAG_IFD_STOP_POLLING_THREAD: Dword = 0x0FB2;
const TAG_IFD_POLLING_THREAD_WITH_TIMEOUT: Dword = 0x0FB3;

const SCARD_PROTOCOL_T0: Dword = 1;
const SCARD_PROTOCOL_T1: Dword = 2;
const MAX_ATR_SIZE: usize = 33;
/// Readers one copy of the driver serves (reader.conf entries sharing it).
const SIMULTANEOUS_READERS: u8 = 16;

/// SCARD_IO_HEADER.
#[repr(C)]
pub struct ScardIoHeader {
    pub protocol: Dword,
    pub length: Dword,
}

/// Runs `body`, turning a panic into `IFD_COMMUNICATION_ERROR`.
fn guard(body: impl FnOnce() -> ResponseCode) -> ResponseCode {
    catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        crate::log("internal error (panic caught)");
        IFD_COMMUNICATION_ERROR
    })
}

/// Copies `data` to a caller's buffer of `*length` bytes and sets
/// `*length`.
///
/// # Safety
/// `value` must be valid for `*length` bytes of writes, and `length` valid.
unsafe fn give(data: &[u8], length: *mut Dword, value: *mut c_uchar) -> ResponseCode {
    if length.is_null() || (value.is_null() && !data.is_empty()) {
        return IFD_COMMUNICATION_ERROR;
    }
    // SAFETY: `length` is non-null and valid, per the caller.
    let room = unsafe { *length } as usize;
    if room < data.len() {
        return IFD_ERROR_INSUFFICIENT_BUFFER;
    }
    // SAFETY: `value` holds `room` ≥ data.len() bytes; the buffers are distinct.
    unsafe {
        std::ptr::copy_nonoverlapping(data.as_ptr(), value, data.len());
        *length = data.len() as Dword;
    }
    IFD_SUCCESS
}

/// A caller's input buffer as a slice (empty when null).
///
/// # Safety
/// `ptr` must be valid for `len` bytes of reads when non-null.
unsafe fn input<'a>(ptr: *const c_uchar, len: Dword) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: per the caller.
        unsafe { std::slice::from_raw_parts(ptr, len as usize) }
    }
}

fn open_with(lun: Dword, config: impl FnOnce() -> Result<Config, crate::config::ConfigError>) -> ResponseCode {
    match crate::open(lun, config) {
        Ok(()) => IFD_SUCCESS,
        Err(e) => {
            crate::log(&format!("lun {lun:#x}: {e}"));
            IFD_COMMUNICATION_ERROR
        }
    }
}

/// # Safety
/// `device_name` must be a NUL-terminated string (reader.conf's DEVICENAME).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHCreateChannelByName(lun: Dword, device_name: *const c_char) -> ResponseCode {
    guard(|| {
        if device_name.is_null() {
            return IFD_COMMUNICATION_ERROR;
        }
        // SAFETY: pcscd passes a NUL-terminated string.
        let name = unsafe { CStr::from_ptr(device_name) }.to_string_lossy().into_owned();
        open_with(lun, || Config::load(Path::new(&name)))
    })
}

/// # Safety
/// None beyond the C contract; takes no pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHCreateChannel(lun: Dword, channel: Dword) -> ResponseCode {
    // Without DEVICENAME, CHANNELID is the one slot's port, as for vpcd.
    guard(|| match u16::try_from(channel) {
        Ok(port) if port != 0 => open_with(lun, || Ok(Config::single(port))),
        _ => IFD_COMMUNICATION_ERROR,
    })
}

/// # Safety
/// None; takes no pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHCloseChannel(lun: Dword) -> ResponseCode {
    guard(|| {
        crate::close(lun);
        IFD_SUCCESS
    })
}

/// pcscd's event thread calls this between presence checks.
extern "C" fn poll_event(lun: Dword, timeout_ms: c_int) -> ResponseCode {
    guard(|| match crate::find(lun) {
        Some((_, slot)) => {
            slot.wait_event(Duration::from_millis(u64::try_from(timeout_ms).unwrap_or(0)));
            IFD_SUCCESS
        }
        None => IFD_COMMUNICATION_ERROR,
    })
}

/// pcscd ends the event thread's current wait with this: to restart it
/// with another timeout, or before it stops the thread.
extern "C" fn stop_polling(lun: Dword) -> ResponseCode {
    guard(|| {
        if let Some((_, slot)) = crate::find(lun) {
            slot.wake_event();
        }
        IFD_SUCCESS
    })
}

/// # Safety
/// `length` must be valid, and `value` valid for `*length` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHGetCapabilities(
    lun: Dword,
    tag: Dword,
    length: *mut Dword,
    value: *mut c_uchar,
) -> ResponseCode {
    guard(|| {
        let Some((reader, slot)) = crate::find(lun) else { return IFD_COMMUNICATION_ERROR };
        let data: Vec<u8> = match tag {
            TAG_IFD_ATR | SCARD_ATTR_ATR_STRING => slot.state().atr.clone(),
            SCARD_ATTR_VENDOR_NAME => b"sscard\0".to_vec(),
            TAG_IFD_SIMULTANEOUS_ACCESS => vec![SIMULTANEOUS_READERS],
            // Each slot has its own state and locks: pcscd may call them at once.
            TAG_IFD_THREAD_SAFE | TAG_IFD_SLOT_THREAD_SAFE => vec![1],
            TAG_IFD_SLOTS_NUMBER => vec![reader.config.slots.len() as u8],
            // Not killable: pcscd asks stop_polling instead (no pthread_cancel
            // through Rust frames).
            TAG_IFD_POLLING_THREAD_KILLABLE => vec![0],
            TAG_IFD_POLLING_THREAD_WITH_TIMEOUT => {
                let f: extern "C" fn(Dword, c_int) -> ResponseCode = poll_event;
                (f as usize).to_ne_bytes().to_vec()
            }
            TAG_IFD_STOP_POLLING_THREAD => {
                let f: extern "C" fn(Dword) -> ResponseCode = stop_polling;
                (f as usize).to_ne_bytes().to_vec()
            }
            _ => return IFD_ERROR_TAG,
        };
        // SAFETY: per this function's contract.
        unsafe { give(&data, length, value) }
    })
}

/// # Safety
/// None; the value is not read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHSetCapabilities(
    _lun: Dword,
    _tag: Dword,
    _length: Dword,
    _value: *mut c_uchar,
) -> ResponseCode {
    IFD_NOT_SUPPORTED
}

/// # Safety
/// None; takes no pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHSetProtocolParameters(
    lun: Dword,
    protocol: Dword,
    _flags: c_uchar,
    _pts1: c_uchar,
    _pts2: c_uchar,
    _pts3: c_uchar,
) -> ResponseCode {
    guard(|| {
        if crate::find(lun).is_none() {
            return IFD_COMMUNICATION_ERROR;
        }
        // The simulator speaks APDUs, whatever the protocol.
        if protocol == SCARD_PROTOCOL_T0 || protocol == SCARD_PROTOCOL_T1 {
            IFD_SUCCESS
        } else {
            IFD_PROTOCOL_NOT_SUPPORTED
        }
    })
}

/// # Safety
/// `atr_length` valid when `atr` is non-null, and `atr` valid for
/// `*atr_length` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHPowerICC(
    lun: Dword,
    action: Dword,
    atr: *mut c_uchar,
    atr_length: *mut Dword,
) -> ResponseCode {
    guard(|| {
        let Some((_, slot)) = crate::find(lun) else { return IFD_COMMUNICATION_ERROR };
        let clear = || {
            if !atr_length.is_null() {
                // SAFETY: non-null, valid per the contract.
                unsafe { *atr_length = 0 };
            }
        };
        match action {
            IFD_POWER_DOWN => {
                clear();
                // A card that is gone is off.
                let _ = slot.power_off();
                IFD_SUCCESS
            }
            IFD_POWER_UP | IFD_RESET => match slot.power_on(action == IFD_RESET) {
                Ok(bytes) if !bytes.is_empty() && bytes.len() <= MAX_ATR_SIZE => {
                    if atr.is_null() || atr_length.is_null() {
                        return IFD_SUCCESS;
                    }
                    // SAFETY: per this function's contract.
                    unsafe { give(&bytes, atr_length, atr) }
                }
                Ok(_) => {
                    clear();
                    IFD_ERROR_POWER_ACTION
                }
                Err(e) => {
                    clear();
                    crate::log(&format!("port {}: power on: {e}", slot.config.port));
                    IFD_ERROR_POWER_ACTION
                }
            },
            _ => IFD_NOT_SUPPORTED,
        }
    })
}

/// # Safety
/// `tx` valid for `tx_length` bytes, `rx_length` valid, `rx` valid for
/// `*rx_length` bytes; `recv_pci` null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHTransmitToICC(
    lun: Dword,
    send_pci: ScardIoHeader,
    tx: *const c_uchar,
    tx_length: Dword,
    rx: *mut c_uchar,
    rx_length: *mut Dword,
    recv_pci: *mut ScardIoHeader,
) -> ResponseCode {
    guard(|| {
        if rx_length.is_null() {
            return IFD_COMMUNICATION_ERROR;
        }
        // SAFETY: rx_length is valid per the contract.
        let room = unsafe { *rx_length };
        // SAFETY: rx_length is valid; zero on every error, as the header asks.
        unsafe { *rx_length = 0 };
        let Some((_, slot)) = crate::find(lun) else { return IFD_COMMUNICATION_ERROR };
        // SAFETY: per this function's contract.
        let apdu = unsafe { input(tx, tx_length) };
        if slot.config.short && crate::pinpad::is_extended(apdu) {
            // A short-APDU CCID reader refuses it the same way.
            crate::log(&format!(
                "port {}: extended APDU refused: the reader accepts only short APDUs",
                slot.config.port
            ));
            return IFD_COMMUNICATION_ERROR;
        }
        match slot.transmit(apdu) {
            Ok(answer) => {
                if !recv_pci.is_null() {
                    // SAFETY: non-null, valid per the contract.
                    unsafe { (*recv_pci).protocol = send_pci.protocol };
                }
                // SAFETY: rx_length valid; rx holds `room` bytes.
                unsafe {
                    *rx_length = room;
                    let rc = give(&answer, rx_length, rx);
                    if rc != IFD_SUCCESS {
                        *rx_length = 0;
                    }
                    rc
                }
            }
            Err(crate::slot::SlotError::Absent) => IFD_ICC_NOT_PRESENT,
            Err(e) => {
                crate::log(&format!("port {}: {e}", slot.config.port));
                IFD_COMMUNICATION_ERROR
            }
        }
    })
}

/// # Safety
/// `tx` valid for `tx_length` bytes, `rx` for `rx_length` bytes, and
/// `bytes_returned` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHControl(
    lun: Dword,
    control_code: Dword,
    tx: *const c_uchar,
    tx_length: Dword,
    rx: *mut c_uchar,
    rx_length: Dword,
    bytes_returned: *mut Dword,
) -> ResponseCode {
    guard(|| {
        if bytes_returned.is_null() {
            return IFD_COMMUNICATION_ERROR;
        }
        // SAFETY: valid per the contract; zero on every error.
        unsafe { *bytes_returned = 0 };
        let Some((reader, slot)) = crate::find(lun) else { return IFD_COMMUNICATION_ERROR };
        let Ok(code) = u32::try_from(control_code) else { return IFD_ERROR_NOT_SUPPORTED };
        // SAFETY: per this function's contract.
        let request = unsafe { input(tx, tx_length) };
        match crate::part10::control(&reader.config, &slot, code, request, rx_length as usize) {
            Ok(mut answer) => {
                let mut length = rx_length;
                // SAFETY: rx holds rx_length bytes; control() checked the room.
                let rc = unsafe { give(&answer, &mut length, rx) };
                crate::wipe(&mut answer);
                if rc == IFD_SUCCESS {
                    // SAFETY: valid per the contract.
                    unsafe { *bytes_returned = length };
                }
                rc
            }
            Err(rc) => rc,
        }
    })
}

/// # Safety
/// None; takes no pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn IFDHICCPresence(lun: Dword) -> ResponseCode {
    guard(|| match crate::find(lun) {
        Some((_, slot)) if slot.present() => IFD_ICC_PRESENT,
        Some(_) => IFD_ICC_NOT_PRESENT,
        None => IFD_COMMUNICATION_ERROR,
    })
}
