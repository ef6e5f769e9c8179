//! How a simulated card answers on the wire: the T=0 and T=1 rules of
//! docs/card-profile.md section 1, wrapped around an [`Applet`] that only knows
//! commands and the data it has to give.

use sscard_apdu::{Command, LengthForm, Response, StatusWord};
use sscard_transport::VirtualCard;

/// What an applet answers before the transmission rules shape it: all the
/// data it has available, and the status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppletAnswer {
    pub data: Vec<u8>,
    pub sw: StatusWord,
}

impl AppletAnswer {
    pub fn ok(data: Vec<u8>) -> AppletAnswer {
        AppletAnswer { data, sw: StatusWord::Success }
    }

    pub fn status(sw: StatusWord) -> AppletAnswer {
        AppletAnswer { data: Vec::new(), sw }
    }
}

impl From<StatusWord> for AppletAnswer {
    fn from(sw: StatusWord) -> Self {
        AppletAnswer::status(sw)
    }
}

/// The command logic of a card.
pub trait Applet: Send {
    fn atr(&self) -> Vec<u8>;
    /// A reset or power cycle: clears the volatile security state.
    fn reset(&mut self);
    fn handle(&mut self, command: &Command) -> AppletAnswer;
}

/// The transmission rules a card follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WireRules {
    /// T=0, short APDUs. With `exact_le_skips_get_response`, a case-4
    /// command whose Le equals the available length gets its data at once
    /// (the PSAM does this); otherwise case 4 always answers 61xx.
    T0 { exact_le_skips_get_response: bool },
    /// T=1; `extended` when the card takes extended Lc/Le.
    T1 { extended: bool },
}

/// Most data one T=0 response carries (docs/card-profile.md section 1).
const T0_MAX_RESPONSE: usize = 255;

/// An [`Applet`] behind its [`WireRules`]: a complete virtual card.
pub struct SimulatedCard<A: Applet> {
    applet: A,
    rules: WireRules,
    /// T=0 data waiting for GET RESPONSE.
    pending: Option<Vec<u8>>,
}

impl<A: Applet> SimulatedCard<A> {
    pub fn new(applet: A, rules: WireRules) -> Self {
        SimulatedCard { applet, rules, pending: None }
    }

    pub fn applet(&self) -> &A {
        &self.applet
    }

    pub fn applet_mut(&mut self) -> &mut A {
        &mut self.applet
    }

    fn answer(&mut self, bytes: &[u8]) -> Response {
        let Ok((command, form)) = Command::parse(bytes) else {
            self.pending = None;
            return Response::new(Vec::new(), StatusWord::WrongLength);
        };
        match self.rules {
            WireRules::T0 { exact_le_skips_get_response } => {
                if form == LengthForm::Extended {
                    self.pending = None;
                    return Response::new(Vec::new(), StatusWord::WrongLength);
                }
                if command.cla == 0x00 && command.ins == 0xC0 {
                    return self.get_response(&command);
                }
                self.pending = None;
                let reply = self.applet.handle(&command);
                if reply.sw != StatusWord::Success || reply.data.is_empty() {
                    return Response::new(Vec::new(), reply.sw);
                }
                let available = reply.data.len().min(T0_MAX_RESPONSE);
                if !command.data().is_empty() {
                    if exact_le_skips_get_response && command.ne() == Some(reply.data.len()) {
                        return Response::new(reply.data, StatusWord::Success);
                    }
                    self.pending = Some(reply.data);
                    return Response::new(Vec::new(), StatusWord::BytesAvailable(available as u8));
                }
                exact_le_or_6c(reply.data, command.ne())
            }
            WireRules::T1 { extended } => {
                if form == LengthForm::Extended && !extended {
                    return Response::new(Vec::new(), StatusWord::WrongLength);
                }
                let mut reply = self.applet.handle(&command);
                // Without Le there is no response data (section 1, T=1 rules).
                reply.data.truncate(command.ne().unwrap_or(0));
                Response::new(reply.data, reply.sw)
            }
        }
    }

    fn get_response(&mut self, command: &Command) -> Response {
        match self.pending.take() {
            None => Response::new(Vec::new(), StatusWord::ConditionsOfUseNotSatisfied),
            Some(waiting) => take_waiting(waiting, command.ne(), &mut self.pending),
        }
    }
}

/// T=0 case 2: Le must equal the available length, else 6Cxx. A direct
/// answer longer than 255 bytes is cut to 255 (so it reads as 6CFF).
fn exact_le_or_6c(mut data: Vec<u8>, ne: Option<usize>) -> Response {
    data.truncate(T0_MAX_RESPONSE);
    if ne != Some(data.len()) {
        return Response::new(Vec::new(), StatusWord::WrongLe(data.len() as u8));
    }
    Response::new(data, StatusWord::Success)
}

/// GET RESPONSE: the same Le rule over the waiting data; whatever is left
/// beyond 255 bytes stays waiting and is announced with 61xx.
fn take_waiting(mut waiting: Vec<u8>, ne: Option<usize>, pending: &mut Option<Vec<u8>>) -> Response {
    let available = waiting.len().min(T0_MAX_RESPONSE);
    if ne != Some(available) {
        *pending = Some(waiting);
        return Response::new(Vec::new(), StatusWord::WrongLe(available as u8));
    }
    let rest = waiting.split_off(available);
    if rest.is_empty() {
        return Response::new(waiting, StatusWord::Success);
    }
    let more = rest.len().min(T0_MAX_RESPONSE) as u8;
    *pending = Some(rest);
    Response::new(waiting, StatusWord::BytesAvailable(more))
}

impl<A: Applet> VirtualCard for SimulatedCard<A> {
    fn reset(&mut self) -> Vec<u8> {
        self.pending = None;
        self.applet.reset();
        self.applet.atr()
    }

    fn process(&mut self, command: &[u8]) -> Vec<u8> {
        self.answer(command).to_bytes()
    }
}
