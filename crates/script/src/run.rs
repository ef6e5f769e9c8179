//! The interpreter: runs a checked script over two transports, the card
//! and the PSAM, stopping at the first status word the step did not expect.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use thiserror::Error;
use zeroize::Zeroizing;

use super::status::{StatusClass, StatusTable};
use super::syntax::{
    ApduTemplate, Bound, BoundBase, Capture, CheckOutcome, Directive, Item, LOOP_COUNT, LOOP_OFFSET, Part, Pos, Script,
    Slice, Slot, Step, StepEffects,
};
use sscard_apdu::{Command, StatusWord, exchange};
use sscard_transport::{PadRefusal, PinPadEntry, PinPadRequest, Transport, TransportError};

fn pad_refusal_text(refusal: PadRefusal) -> &'static str {
    match refusal {
        PadRefusal::Timeout => "nobody typed the PIN in time",
        PadRefusal::Cancelled => "the holder cancelled",
        PadRefusal::EntriesDiffer => "the new PIN and its confirmation differ",
        PadRefusal::Length => "the PIN typed has a length the pad does not take",
    }
}

/// Whether `parts` use one of the keypad's secrets as bytes (its length,
/// `${#pin}`, is the host's to know).
fn uses_keypad_bytes(values: &Values, parts: &[Part]) -> bool {
    parts.iter().any(|part| matches!(part, Part::Value { name, .. } if values.keypad.contains(name)))
}

/// Refuses, before anything is sent, a use of the keypad's secrets that the
/// pad cannot fill in: only a whole secret in a card command's data can be
/// (the host holds only its place, `FF`s, which must never reach a card as
/// a PIN).
fn check_keypad_use(values: &Values, step: &Step) -> Result<(), RunError> {
    if values.keypad.is_empty() {
        return Ok(());
    }
    let data = step.apdu.data.as_deref().unwrap_or_default();
    let sliced =
        data.iter().any(|p| matches!(p, Part::Value { name, slice: Some(_), .. } if values.keypad.contains(name)));
    let outside = uses_keypad_bytes(values, &step.apdu.head) || uses_keypad_bytes(values, &step.apdu.tail);
    let on_sam = step.slot == Slot::Sam && uses_keypad_bytes(values, data);
    if sliced || outside || on_sam {
        return Err(RunError::Value {
            pos: step.pos.clone(),
            problem: "a PIN from the reader's keypad can only go whole into a card command's data".into(),
        });
    }
    Ok(())
}

/// Where the keypad's secrets fall in `parts`, the command's data: their
/// offsets, when the step sends any.
fn keypad_offsets(values: &Values, parts: &[Part], chunk: Option<(usize, usize)>) -> Vec<(usize, String)> {
    let mut at = 0;
    let mut found = Vec::new();
    for part in parts {
        if let Part::Value { name, slice: None, .. } = part
            && values.keypad.contains(name)
        {
            found.push((at, name.clone()));
        }
        at += expanded_len(values, std::slice::from_ref(part), chunk);
    }
    found
}

/// The PIN-pad request for a step whose data holds the keypad's secrets.
fn pad_request(
    values: &Values,
    command: &Command,
    offsets: &[(usize, String)],
    pos: &Pos,
) -> Result<PinPadRequest, RunError> {
    let bad = |problem: &str| RunError::Value { pos: pos.clone(), problem: problem.to_owned() };
    let offset = |i: usize| -> Result<u8, RunError> {
        let (at, _) = offsets.get(i).ok_or_else(|| bad("no PIN for the keypad"))?;
        u8::try_from(*at).ok().filter(|at| *at < 16).ok_or_else(|| bad("a PIN past the 15th byte of the data"))
    };
    let entry = match offsets.len() {
        1 => PinPadEntry::Verify { offset: offset(0)? },
        // The keypad asks in the order the holder types: the current PIN first.
        2 if offsets[0].1 == values.keypad[0] => PinPadEntry::Modify { old_offset: offset(0)?, new_offset: offset(1)? },
        2 => return Err(bad("the new PIN before the current one")),
        _ => return Err(bad("more than two PINs for the keypad in one command")),
    };
    let digits = values.keypad_digits;
    Ok(PinPadRequest {
        template: command.to_bytes().to_vec(),
        entry,
        min_digits: digits,
        max_digits: digits,
        timeout_s: 0,
    })
}

/// Named byte values: inputs, constants and captures. PIN bytes pass
/// through here, so every value is wiped when dropped.
#[derive(Default)]
pub struct Values {
    map: HashMap<String, Zeroizing<Vec<u8>>, BuildHasherDefault<NameHasher>>,
    /// The secrets the reader's keypad enters, in the order the holder
    /// types them, and their length in digits.
    keypad: Vec<String>,
    keypad_digits: u8,
}

/// FNV-1a over a value's name. The names are the profile's, short, and
/// chosen by no card; SipHash made up most of each of the hundreds of
/// lookups a ReadCard makes.
struct NameHasher(u64);

impl Default for NameHasher {
    fn default() -> NameHasher {
        NameHasher(0xCBF2_9CE4_8422_2325)
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = (self.0 ^ u64::from(b)).wrapping_mul(0x0100_0000_01B3);
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl std::fmt::Debug for Values {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.map.keys().collect();
        names.sort();
        f.debug_struct("Values").field("names", &names).finish()
    }
}

impl Values {
    pub fn new() -> Values {
        Values::default()
    }

    pub fn set(&mut self, name: &str, bytes: impl Into<Vec<u8>>) {
        self.put(name, Zeroizing::new(bytes.into()));
    }

    /// Sets a value that is already in a zeroizing buffer (PIN bytes).
    pub fn put(&mut self, name: &str, bytes: Zeroizing<Vec<u8>>) {
        // A name already there keeps its key: no new one to allocate.
        match self.map.get_mut(name) {
            Some(value) => *value = bytes,
            None => {
                self.map.insert(name.to_owned(), bytes);
            }
        }
    }

    pub fn get(&self, name: &str) -> Option<&[u8]> {
        self.map.get(name).map(|v| v.as_slice())
    }

    pub fn take(&mut self, name: &str) -> Option<Zeroizing<Vec<u8>>> {
        self.map.remove(name)
    }

    /// Takes in every value of `other`, replacing those of the same name.
    pub fn absorb(&mut self, other: Values) {
        self.map.extend(other.map);
        if !other.keypad.is_empty() {
            self.keypad = other.keypad;
            self.keypad_digits = other.keypad_digits;
        }
    }

    /// Makes the secret `name` one the reader's keypad enters, as `digits`
    /// digits of packed BCD: the host holds only its place (`FF`s). A step
    /// that sends it becomes a PIN-pad command (PC/SC part 10) that writes
    /// the PIN in at that place: one such secret is a VERIFY, two (the
    /// current PIN, then the new one) a CHANGE.
    /// Whether the keypad enters any of these values.
    pub fn is_keypad(&self) -> bool {
        !self.keypad.is_empty()
    }

    pub fn from_keypad(&mut self, name: &str, digits: u8) {
        self.set(name, vec![0xFF; usize::from(digits.div_ceil(2))]);
        self.keypad.push(name.to_owned());
        self.keypad_digits = digits;
    }

    fn append(&mut self, name: &str, bytes: &[u8]) {
        match self.map.get_mut(name) {
            Some(value) => value.extend_from_slice(bytes),
            None => self.put(name, Zeroizing::new(bytes.to_vec())),
        }
    }
}

/// What the steps sent so far did to the card, from the effects their
/// scripts declare.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Effects {
    /// A PIN try was (or may have been) counted.
    pub pin_try_spent: bool,
    /// The security state may be open: authenticated keys, a verified PIN.
    pub security_state_open: bool,
}

impl Effects {
    /// Takes in a step about to be sent: what it may open or spend counts
    /// from the sending, since the card may act on it and the answer be lost.
    fn sending(&mut self, step: StepEffects) {
        if step.opens_security_state {
            self.security_state_open = true;
        }
        if step.spends_pin_try {
            self.pin_try_spent = true;
        }
    }

    /// Takes in a step the card answered: a SELECT clears the state whether
    /// it succeeds or not, but only once the card has answered it.
    fn answered(&mut self, step: StepEffects) {
        if step.closes_security_state && !step.opens_security_state {
            self.security_state_open = false;
        }
    }
}

/// The two slots a script talks to, and what was done to the card.
pub struct Cards<'a> {
    pub card: &'a mut dyn Transport,
    pub sam: Option<&'a mut dyn Transport>,
    pub effects: Effects,
}

impl<'a> Cards<'a> {
    pub fn new(card: &'a mut dyn Transport, sam: Option<&'a mut dyn Transport>) -> Cards<'a> {
        Cards { card, sam, effects: Effects::default() }
    }

    /// Command APDUs sent on both slots so far.
    pub fn apdus_sent(&self) -> u64 {
        self.card.apdus_sent() + self.sam.as_ref().map_or(0, |s| s.apdus_sent())
    }
}

/// Why a script stopped.
#[derive(Debug, Error)]
pub enum RunError {
    /// A status word the step did not expect; `class` is its meaning in
    /// the profile's status table.
    #[error("{pos}: {slot} answered {:04X} ({class}) to `{step}`", .sw.to_u16())]
    Status { pos: Pos, step: String, slot: Slot, sw: StatusWord, class: StatusClass },
    #[error("{pos}: {slot}: {source}")]
    Transport { pos: Pos, slot: Slot, source: TransportError },
    /// The PIN pad answered for the card: nothing reached the card.
    #[error("{pos}: the PIN pad: {}", pad_refusal_text(*.refusal))]
    PinPad { pos: Pos, refusal: PadRefusal },
    #[error("{pos}: this step needs the PSAM, and there is none")]
    NoSam { pos: Pos },
    #[error("{pos}: {problem}")]
    Value { pos: Pos, problem: String },
    #[error("{file}: input {name:?} was not given")]
    MissingInput { file: String, name: String },
    /// The profile has no such script (only optional ones can be missing:
    /// the loader checked the rest).
    #[error("{file}: the profile has no such script")]
    MissingScript { file: String },
    /// A `check` whose two sides differ; nothing was sent for it.
    #[error("{pos}: check failed ({})", .outcome.as_str())]
    Check { pos: Pos, outcome: CheckOutcome },
}

/// What a finished script leaves.
#[derive(Debug)]
pub struct Finished {
    pub values: Values,
    /// The status word of the last step.
    pub last_sw: StatusWord,
    /// Command APDUs sent, on both slots, GET RESPONSE included.
    pub apdus: u64,
}

/// One exchange, for a trace. PIN bytes are never in
/// [`command_shown`](TraceEntry::command_shown).
pub struct TraceEntry<'a> {
    pub step: &'a Step,
    pub response_data: &'a [u8],
    pub sw: StatusWord,
    script: &'a Script,
    /// The values the command was built from.
    values: &'a Values,
    chunk: Option<(usize, usize)>,
}

impl TraceEntry<'_> {
    /// The command as sent, in hex, secret values as `${name}`. Built on
    /// request: the daemon's traces never ask, and the text cost more than
    /// the rest of the interpreter.
    pub fn command_shown(&self) -> String {
        show(self.script, self.values, &self.step.apdu, self.chunk)
    }
}

/// Named values a script hands out (`yield`); wiped when dropped.
pub type Outputs = Vec<(String, Zeroizing<Vec<u8>>)>;

/// Where a script waits (`await`): the item to resume at, and the names
/// the client must give.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paused {
    pub next: usize,
    pub awaits: Vec<String>,
}

/// A script run up to its end or to its next `await`.
#[derive(Debug)]
pub struct Progress {
    pub finished: Finished,
    /// What its `yield` lines handed out on the way.
    pub outputs: Outputs,
    /// `None` once the script has ended.
    pub paused: Option<Paused>,
}

/// Runs `script` with `values` holding its inputs and the profile's
/// constants. `trace` sees each exchange. A script that waits (`await`)
/// runs only through [`run_from`].
pub fn run(
    script: &Script,
    table: &StatusTable,
    cards: &mut Cards<'_>,
    values: Values,
    trace: &mut dyn FnMut(&TraceEntry<'_>),
) -> Result<Finished, RunError> {
    let progress = run_from(script, table, cards, values, 0, trace)?;
    if progress.paused.is_some() {
        return Err(RunError::MissingInput { file: script.file.clone(), name: "await".into() });
    }
    Ok(progress.finished)
}

/// Runs `script` from item `start` (0, or a [`Paused::next`]) to its end
/// or its next `await`. Resuming, `values` must hold what the script had
/// and the names it awaited.
pub fn run_from(
    script: &Script,
    table: &StatusTable,
    cards: &mut Cards<'_>,
    mut values: Values,
    start_item: usize,
    trace: &mut dyn FnMut(&TraceEntry<'_>),
) -> Result<Progress, RunError> {
    let needed: Vec<&String> = match start_item.checked_sub(1).and_then(|i| script.items.get(i)) {
        Some(Item::Directive(Directive::Await { names, .. })) => names.iter().collect(),
        _ => script.inputs.iter().collect(),
    };
    for name in needed {
        if values.get(name).is_none() {
            return Err(RunError::MissingInput { file: script.file.clone(), name: name.clone() });
        }
    }
    let start = cards.apdus_sent();
    let mut last_sw = StatusWord::Success;
    let mut outputs = Outputs::new();
    for (index, item) in script.items.iter().enumerate().skip(start_item) {
        match item {
            Item::Directive(Directive::Check(check)) => {
                let side = |parts: &[Part]| {
                    let mut out = buffer_for(&values, parts, None);
                    expand(&values, parts, None, &mut out).ok().map(|()| out)
                };
                let (left, right) = (side(&check.left), side(&check.right));
                if left.is_none() || left != right {
                    return Err(RunError::Check { pos: check.pos.clone(), outcome: check.outcome });
                }
            }
            Item::Directive(Directive::Let { parts, pos, .. }) if uses_keypad_bytes(&values, parts) => {
                return Err(RunError::Value {
                    pos: pos.clone(),
                    problem: "a PIN from the reader's keypad never reaches the host".into(),
                });
            }
            Item::Directive(Directive::Let { name, parts, .. }) => {
                let mut out = buffer_for(&values, parts, None);
                expand(&values, parts, None, &mut out)?;
                values.put(name, out);
            }
            Item::Directive(Directive::Yield { names, .. }) => {
                for name in names {
                    let value = Zeroizing::new(values.get(name).unwrap_or_default().to_vec());
                    outputs.push((name.clone(), value));
                }
            }
            Item::Directive(Directive::Await { names, .. }) => {
                let finished = Finished { values, last_sw, apdus: cards.apdus_sent() - start };
                let paused = Some(Paused { next: index + 1, awaits: names.clone() });
                return Ok(Progress { finished, outputs, paused });
            }
            Item::Step(step) => last_sw = exec(script, table, cards, &mut values, step, trace, None)?,
            Item::Loop(l) => {
                let from = bound(&values, &l.from, &l.pos)?;
                let to = bound(&values, &l.to, &l.pos)?.min(l.max.unwrap_or(usize::MAX));
                let mut offset = from;
                while offset < to {
                    let count = l.chunk.min(to - offset);
                    let offset_bytes = u16::try_from(offset)
                        .map_err(|_| RunError::Value {
                            pos: l.pos.clone(),
                            problem: format!("offset {offset} exceeds 65535"),
                        })?
                        .to_be_bytes();
                    values.set(LOOP_OFFSET, offset_bytes.to_vec());
                    values.set(
                        LOOP_COUNT,
                        if count <= 255 { vec![count as u8] } else { (count as u16).to_be_bytes().to_vec() },
                    );
                    for step in &l.body {
                        last_sw = exec(script, table, cards, &mut values, step, trace, Some((offset, count)))?;
                    }
                    offset += l.chunk;
                }
                values.take(LOOP_OFFSET);
                values.take(LOOP_COUNT);
            }
        }
    }
    let finished = Finished { values, last_sw, apdus: cards.apdus_sent() - start };
    Ok(Progress { finished, outputs, paused: None })
}

fn bound(values: &Values, b: &Bound, pos: &Pos) -> Result<usize, RunError> {
    let base = match &b.base {
        BoundBase::Number(n) => *n,
        BoundBase::Length(name) => values.get(name).map_or(0, |v| v.len()),
        BoundBase::Value { name, slice } => {
            let value = values.get(name).unwrap_or_default();
            let bytes = match slice {
                Some((a, end)) => clamp(value, *a, *end),
                None => value,
            };
            if bytes.len() > 4 {
                return Err(RunError::Value { pos: pos.clone(), problem: format!("{name} is too long to count with") });
            }
            bytes.iter().fold(0usize, |n, b| (n << 8) | *b as usize)
        }
    };
    Ok(base.saturating_add(b.plus))
}

/// `value[a..b]`, stopping at the value's end.
fn clamp(value: &[u8], a: usize, b: Option<usize>) -> &[u8] {
    let end = b.unwrap_or(value.len()).min(value.len());
    value.get(a.min(end)..end).unwrap_or_default()
}

/// How many bytes `parts` expand to, so that the buffer holding them (PIN
/// bytes, perhaps) is allocated once and never moves.
fn expanded_len(values: &Values, parts: &[Part], chunk: Option<(usize, usize)>) -> usize {
    parts
        .iter()
        .map(|part| match part {
            Part::Bytes(b) => b.len(),
            Part::Length { .. } => 1,
            Part::Value { name, slice, .. } => {
                let value = values.get(name).unwrap_or_default();
                match slice {
                    None => value.len(),
                    Some(Slice::Range(a, b)) => clamp(value, *a, *b).len(),
                    Some(Slice::Chunk) => match chunk {
                        Some((offset, count)) => clamp(value, offset, Some(offset + count)).len(),
                        None => value.len(),
                    },
                }
            }
        })
        .sum()
}

/// A zeroizing buffer with room for exactly `parts`.
fn buffer_for(values: &Values, parts: &[Part], chunk: Option<(usize, usize)>) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(Vec::with_capacity(expanded_len(values, parts, chunk)))
}

/// Builds the bytes of `parts`.
fn expand(
    values: &Values,
    parts: &[Part],
    chunk: Option<(usize, usize)>,
    out: &mut Zeroizing<Vec<u8>>,
) -> Result<(), RunError> {
    for part in parts {
        match part {
            Part::Bytes(b) => out.extend_from_slice(b),
            Part::Length { name, plus, pos } => {
                let len = values.get(name).map_or(0, |v| v.len()) + plus;
                let byte = u8::try_from(len).map_err(|_| RunError::Value {
                    pos: pos.clone(),
                    problem: format!("${{#{name}}} is {len}, over 255"),
                })?;
                out.push(byte);
            }
            Part::Value { name, slice, pos: _ } => out.extend_from_slice(value_bytes(values, name, slice, chunk)),
        }
    }
    Ok(())
}

/// The bytes a `${name}` part stands for.
fn value_bytes<'v>(values: &'v Values, name: &str, slice: &Option<Slice>, chunk: Option<(usize, usize)>) -> &'v [u8] {
    let value = values.get(name).unwrap_or_default();
    match slice {
        None => value,
        Some(Slice::Range(a, b)) => clamp(value, *a, *b),
        Some(Slice::Chunk) => match chunk {
            Some((offset, count)) => clamp(value, offset, Some(offset + count)),
            None => value,
        },
    }
}

/// How `parts`, which [`expand`] built, are shown in a trace: hex, and
/// `${name}` for a secret value.
fn show_parts(script: &Script, values: &Values, parts: &[Part], chunk: Option<(usize, usize)>, shown: &mut String) {
    for part in parts {
        match part {
            Part::Bytes(b) => shown.push_str(&hex::encode_upper(b)),
            Part::Length { name, plus, .. } => {
                // expand checked that it fits in a byte.
                let len = values.get(name).map_or(0, |v| v.len()) + plus;
                shown.push_str(&hex::encode_upper([len as u8]));
            }
            Part::Value { name, .. } if script.secrets.contains(name) => shown.push_str(&format!("${{{name}}}")),
            Part::Value { name, slice, .. } => {
                shown.push_str(&hex::encode_upper(value_bytes(values, name, slice, chunk)));
            }
        }
    }
}

/// How an APDU that [`build`] built is shown in a trace: the header, the
/// data field in brackets, then Le.
fn show(script: &Script, values: &Values, apdu: &ApduTemplate, chunk: Option<(usize, usize)>) -> String {
    let mut shown = String::new();
    show_parts(script, values, &apdu.head, chunk, &mut shown);
    let Some(data_parts) = &apdu.data else { return shown };
    shown.push_str(" [");
    show_parts(script, values, data_parts, chunk, &mut shown);
    shown.push(']');
    if !apdu.tail.is_empty() {
        shown.push(' ');
    }
    show_parts(script, values, &apdu.tail, chunk, &mut shown);
    shown
}

pub(crate) fn build(
    values: &Values,
    apdu: &ApduTemplate,
    chunk: Option<(usize, usize)>,
    pos: &Pos,
) -> Result<Command, RunError> {
    let bad = |problem: String| RunError::Value { pos: pos.clone(), problem };
    let mut head = buffer_for(values, &apdu.head, chunk);
    expand(values, &apdu.head, chunk, &mut head)?;
    let Some(data_parts) = &apdu.data else {
        let (command, _) = Command::parse(&head).map_err(|e| bad(format!("not an APDU: {e}")))?;
        return Ok(command);
    };
    let [cla, ins, p1, p2] = head[..] else {
        return Err(bad(format!("the header is {} bytes, not 4", head.len())));
    };
    let mut data = buffer_for(values, data_parts, chunk);
    expand(values, data_parts, chunk, &mut data)?;
    let mut le = buffer_for(values, &apdu.tail, chunk);
    expand(values, &apdu.tail, chunk, &mut le)?;
    let mut command = Command::new(cla, ins, p1, p2).with_secret_data(data).map_err(|e| bad(e.to_string()))?;
    let ne = match le.as_slice() {
        [] => None,
        [0] => Some(256),
        [n] => Some(*n as usize),
        [0, 0] => Some(65_536),
        [hi, lo] => Some(u16::from_be_bytes([*hi, *lo]) as usize),
        more => return Err(bad(format!("Le is {} bytes, not 1 or 2", more.len()))),
    };
    if let Some(ne) = ne {
        command = command.with_ne(ne).map_err(|e| bad(e.to_string()))?;
    }
    Ok(command)
}

fn exec(
    script: &Script,
    table: &StatusTable,
    cards: &mut Cards<'_>,
    values: &mut Values,
    step: &Step,
    trace: &mut dyn FnMut(&TraceEntry<'_>),
    chunk: Option<(usize, usize)>,
) -> Result<StatusWord, RunError> {
    check_keypad_use(values, step)?;
    let command = build(values, &step.apdu, chunk, &step.pos)?;
    if step.slot == Slot::Card {
        cards.effects.sending(step.effects);
    }
    let transport: &mut dyn Transport = match step.slot {
        Slot::Card => &mut *cards.card,
        Slot::Sam => match cards.sam.as_mut() {
            Some(sam) => &mut **sam,
            None => return Err(RunError::NoSam { pos: step.pos.clone() }),
        },
    };
    let keypad = match (step.slot, &step.apdu.data) {
        (Slot::Card, Some(parts)) if !values.keypad.is_empty() => keypad_offsets(values, parts, chunk),
        _ => Vec::new(),
    };
    let transport_error = |source| RunError::Transport { pos: step.pos.clone(), slot: step.slot, source };
    let response = if keypad.is_empty() {
        exchange(transport, &command).map_err(|e| match e {
            sscard_apdu::ExchangeError::Transport(source) => transport_error(source),
            sscard_apdu::ExchangeError::Response(e) => {
                RunError::Value { pos: step.pos.clone(), problem: e.to_string() }
            }
        })?
    } else {
        let request = pad_request(values, &command, &keypad, &step.pos)?;
        let answer = transport.pin_pad(&request).map_err(transport_error)?;
        let response = sscard_apdu::Response::parse(&answer)
            .map_err(|e| RunError::Value { pos: step.pos.clone(), problem: e.to_string() })?;
        if let Some(refusal) = PadRefusal::of_status(response.sw.to_u16()) {
            return Err(RunError::PinPad { pos: step.pos.clone(), refusal });
        }
        response
    };
    if step.slot == Slot::Card {
        cards.effects.answered(step.effects);
    }
    trace(&TraceEntry { step, response_data: &response.data, sw: response.sw, script, values, chunk });
    let sw = response.sw;
    if !step.expect.iter().any(|p| p.matches(sw.to_u16())) {
        return Err(RunError::Status {
            pos: step.pos.clone(),
            step: step.text.clone(),
            slot: step.slot,
            sw,
            class: table.classify(command.ins, sw),
        });
    }
    match &step.capture {
        Some(Capture::Set(name)) => values.set(name, response.data),
        Some(Capture::Append(name)) => values.append(name, &response.data),
        None => {}
    }
    Ok(sw)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sscard_model::{Field, Pin};

    /// Answers `ABCD 9000` to everything.
    struct Echo(u64);

    impl Transport for Echo {
        fn atr(&self) -> &[u8] {
            &[0x3B, 0x00]
        }
        fn capabilities(&self) -> sscard_transport::Capabilities {
            sscard_transport::Capabilities {
                protocol: sscard_transport::Protocol::T1,
                extended_length: false,
                reader_extended: true,
            }
        }
        fn transmit(&mut self, _command: &[u8]) -> Result<Vec<u8>, TransportError> {
            self.0 += 1;
            Ok(vec![0xAB, 0xCD, 0x90, 0x00])
        }
        fn apdus_sent(&self) -> u64 {
            self.0
        }
    }

    /// The trace shows each command as it was sent, in the text the
    /// interpreter has always printed (`sscardctl script`): hex, the data
    /// field in brackets, Le after it, a secret as `${name}`, and each
    /// loop step with its own chunk.
    #[test]
    fn the_trace_shows_each_command_as_sent() {
        let script = crate::parse(
            "trace.apdu",
            "input data\nsecret pin\n\
             card: 00 A4 04 00 [${aid}] 00 => fci\n\
             card: 00 20 00 00 [${pin}]\n\
             card: 00 D6 00 00 [${#data} ${data[1..3]}]\n\
             card: 00 B0 00 00 ${#fci}\n\
             for 2 in 0..3\n\
             card: 00 D6 ${offset} [${data[@]}]\n\
             end\n",
            &[("aid", 2)],
        )
        .unwrap();
        let mut values = Values::new();
        values.set("aid", vec![0xD1, 0x56]);
        values.set("data", vec![0x11, 0x22, 0x33]);
        values.put("pin", Pin::parse("123456", Field::Pin).unwrap().to_bcd());
        let mut card = Echo(0);
        let mut cards = Cards::new(&mut card, None);
        let mut shown = Vec::new();
        let table = StatusTable::default();
        run(&script, &table, &mut cards, values, &mut |e: &TraceEntry<'_>| shown.push(e.command_shown())).unwrap();
        assert_eq!(
            shown,
            [
                "00A40400 [D156] 00",
                "00200000 [${pin}]",
                "00D60000 [032233]",
                "00B0000002",
                "00D60000 [1122]",
                "00D60002 [33]",
            ]
        );
    }

    /// CHANGE PIN with two 12-digit PINs: the data field's buffer is
    /// allocated once at its final size, so no PIN byte is left behind in
    /// an unwiped earlier allocation.
    #[test]
    fn a_change_pin_apdu_is_built_without_reallocating() {
        let script = crate::parse(
            "change-pin.apdu",
            "secret old_pin new_pin\ncard: 80 5E 01 00 [${old_pin} FF ${new_pin}]\n",
            &[],
        )
        .unwrap();
        let mut values = Values::new();
        values.put("old_pin", Pin::parse("123456789012", Field::Pin).unwrap().to_bcd());
        values.put("new_pin", Pin::parse("210987654321", Field::NewPin).unwrap().to_bcd());
        let Item::Step(step) = &script.items[0] else { panic!("a step") };
        let command = build(&values, &step.apdu, None, &step.pos).unwrap();
        let shown = show(&script, &values, &step.apdu, None);
        assert_eq!(command.data().len(), 13, "6 + FF + 6 bytes");
        assert_eq!(command.data_capacity(), command.data().len(), "one allocation of the final size");
        assert_eq!(command.data()[..7], [0x12, 0x34, 0x56, 0x78, 0x90, 0x12, 0xFF]);
        assert!(!shown.contains("123456") && shown.contains("${old_pin}"), "{shown}");
    }

    /// A card that answers 9000 to everything and keeps what it was sent.
    struct Recording(std::sync::Arc<std::sync::Mutex<Vec<Vec<u8>>>>);

    impl sscard_transport::VirtualCard for Recording {
        fn reset(&mut self) -> Vec<u8> {
            vec![0x3B, 0x80, 0x80, 0x01, 0x01]
        }
        fn process(&mut self, command: &[u8]) -> Vec<u8> {
            self.0.lock().unwrap().push(command.to_vec());
            vec![0x90, 0x00]
        }
    }

    /// Runs `source` with `pin` from the keypad, on a card and a PSAM that
    /// record; what each was sent.
    fn run_with_keypad(source: &str) -> (Result<Finished, RunError>, usize) {
        use sscard_transport::{CardConnection, InProcessConnection};
        let script = crate::parse("t.apdu", source, &[]).unwrap();
        let sent = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let mut card = InProcessConnection::new(Recording(sent.clone()));
        let mut sam = InProcessConnection::new(Recording(sent.clone()));
        let (mut card_tx, mut sam_tx) = (card.begin().unwrap(), sam.begin().unwrap());
        let mut cards = Cards::new(&mut card_tx, Some(&mut sam_tx));
        let mut values = Values::new();
        values.from_keypad("pin", 6);
        let result = run(&script, &StatusTable::default(), &mut cards, values, &mut |_| {});
        let count = sent.lock().unwrap().len();
        (result, count)
    }

    #[test]
    fn a_keypad_pin_goes_only_whole_into_a_card_commands_data() {
        for source in [
            "secret pin\ncard: 00 20 00 00 [${pin[0..2]}]\n",
            "secret pin\nsam: 80 1A 00 00 [${pin}]\n",
            "secret pin\ncard: 00 20 00 ${pin}\n",
            "secret pin\nlet copy = ${pin}\ncard: 00 84 00 00 08\n",
        ] {
            let (result, sent) = run_with_keypad(source);
            assert!(matches!(result, Err(RunError::Value { .. })), "{source}: {result:?}");
            assert_eq!(sent, 0, "{source}: the keypad's placeholder reached a card");
        }
        // A whole one goes to the reader's pad, which this transport has
        // not: refused as such, with nothing sent to the card.
        let (result, sent) = run_with_keypad("secret pin\ncard: 00 20 00 00 [${pin}]\n");
        assert!(matches!(result, Err(RunError::Transport { source: TransportError::NoPinPad, .. })), "{result:?}");
        assert_eq!(sent, 0);
    }
}
