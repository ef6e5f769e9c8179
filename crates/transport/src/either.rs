//! One backend type for the service, whichever readers it runs on: PC/SC
//! through pcscd in the daemon, in-process virtual readers in the tests.
//! The choice is made at run time, so the service and the D-Bus layer
//! above it are compiled once, for both.

use std::sync::Arc;

use crate::{
    Backend, Capabilities, CardConnection, CardTransaction, Observation, PcscBackend, PcscConnection, PcscMonitor,
    PcscTransaction, ReaderMonitor, Transport, TransportError, VirtualBackend, VirtualConnection, VirtualMonitor,
    VirtualTransaction, WaitError,
};

/// PC/SC, or the in-process readers.
#[derive(Clone)]
pub enum AnyBackend {
    Pcsc(PcscBackend),
    Virtual(VirtualBackend),
}

/// A connection of either backend.
pub enum AnyConnection {
    Pcsc(PcscConnection),
    Virtual(VirtualConnection),
}

/// A transaction of either backend.
pub enum AnyTransaction<'a> {
    Pcsc(PcscTransaction<'a>),
    Virtual(VirtualTransaction<'a>),
}

/// A reader monitor of either backend.
pub enum AnyMonitor {
    Pcsc(PcscMonitor),
    Virtual(VirtualMonitor),
}

/// Calls `$call` on whichever backend's value `$value` holds.
macro_rules! either {
    ($value:expr, $kind:ident, $inner:ident => $call:expr) => {
        match $value {
            $kind::Pcsc($inner) => $call,
            $kind::Virtual($inner) => $call,
        }
    };
}

impl Backend for AnyBackend {
    type Connection = AnyConnection;
    type Monitor = AnyMonitor;

    fn connect(&self, reader: &str) -> Result<AnyConnection, TransportError> {
        match self {
            AnyBackend::Pcsc(b) => b.connect(reader).map(AnyConnection::Pcsc),
            AnyBackend::Virtual(b) => b.connect(reader).map(AnyConnection::Virtual),
        }
    }

    fn monitor(&self) -> Result<AnyMonitor, TransportError> {
        match self {
            AnyBackend::Pcsc(b) => b.monitor().map(AnyMonitor::Pcsc),
            AnyBackend::Virtual(b) => b.monitor().map(AnyMonitor::Virtual),
        }
    }

    fn features(&self, reader: &str) -> crate::ReaderFeatures {
        either!(self, AnyBackend, b => b.features(reader))
    }
}

impl CardConnection for AnyConnection {
    type Transaction<'a> = AnyTransaction<'a>;

    fn atr(&self) -> &[u8] {
        either!(self, AnyConnection, c => c.atr())
    }

    fn capabilities(&self) -> Capabilities {
        either!(self, AnyConnection, c => c.capabilities())
    }

    fn begin(&mut self) -> Result<AnyTransaction<'_>, TransportError> {
        match self {
            AnyConnection::Pcsc(c) => c.begin().map(AnyTransaction::Pcsc),
            AnyConnection::Virtual(c) => c.begin().map(AnyTransaction::Virtual),
        }
    }

    fn reconnect(&mut self) -> Result<(), TransportError> {
        either!(self, AnyConnection, c => c.reconnect())
    }

    fn reset(&mut self) -> Result<(), TransportError> {
        either!(self, AnyConnection, c => c.reset())
    }

    fn apdus_sent(&self) -> u64 {
        either!(self, AnyConnection, c => c.apdus_sent())
    }
}

impl Transport for AnyTransaction<'_> {
    fn atr(&self) -> &[u8] {
        either!(self, AnyTransaction, t => t.atr())
    }

    fn capabilities(&self) -> Capabilities {
        either!(self, AnyTransaction, t => t.capabilities())
    }

    fn transmit(&mut self, command: &[u8]) -> Result<Vec<u8>, TransportError> {
        either!(self, AnyTransaction, t => t.transmit(command))
    }

    fn pin_pad(&mut self, request: &crate::PinPadRequest) -> Result<Vec<u8>, TransportError> {
        either!(self, AnyTransaction, t => t.pin_pad(request))
    }

    fn apdus_sent(&self) -> u64 {
        either!(self, AnyTransaction, t => t.apdus_sent())
    }
}

impl CardTransaction for AnyTransaction<'_> {
    fn end(self) -> Result<(), TransportError> {
        either!(self, AnyTransaction, t => t.end())
    }

    fn end_with_reset(self) -> Result<(), TransportError> {
        either!(self, AnyTransaction, t => t.end_with_reset())
    }
}

impl ReaderMonitor for AnyMonitor {
    fn list_readers(&mut self) -> Result<Vec<String>, TransportError> {
        either!(self, AnyMonitor, m => m.list_readers())
    }

    fn wait(&mut self, readers: &[String]) -> Result<Observation, WaitError> {
        either!(self, AnyMonitor, m => m.wait(readers))
    }

    fn canceller(&self) -> Arc<dyn Fn() + Send + Sync> {
        either!(self, AnyMonitor, m => m.canceller())
    }
}
