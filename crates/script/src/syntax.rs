//! The APDU script language: its syntax tree and its parser.
//!
//! One step per line, `card:` or `sam:`, hex with optional spaces,
//! placeholders `${name}` / `${name[a..b]}` / `${#name+n}`, a bracketed data
//! field whose Lc is computed, expected status words after `->`, captures
//! after `=>` (`=>>` appends), and `for CHUNK in FROM..TO` … `end` for data
//! that must travel in chunks. `apdu-scripts/README.md` is the reference.

use std::collections::HashSet;
use std::fmt;

use thiserror::Error;

/// A position in a script file, 1-based, columns counted in characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pos {
    pub file: String,
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

/// A script that does not parse or check: where, and what was expected.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
#[error("{pos}: expected {expected}, found {found}")]
pub struct ParseError {
    pub pos: Pos,
    pub expected: String,
    pub found: String,
}

/// Which card a step talks to: the contract's slot, as the errors'
/// details name it.
pub use sscard_contract::Slot;

/// A byte range of a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Slice {
    /// `[a..b]`, or `[a..]` to the end.
    Range(usize, Option<usize>),
    /// `[@]`: the current loop chunk of the value.
    Chunk,
}

/// One piece of an APDU template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Bytes(Vec<u8>),
    /// `${name}` or `${name[slice]}`.
    Value {
        name: String,
        slice: Option<Slice>,
        pos: Pos,
    },
    /// `${#name}` or `${#name+n}`: one byte, the value's length plus n.
    Length {
        name: String,
        plus: usize,
        pos: Pos,
    },
}

/// An APDU as written. With a data field (`[...]`), `head` is the 4-byte
/// header and `tail` the Le (none, 1 byte, or 2 bytes for extended Ne);
/// without one, `head` is the whole raw APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApduTemplate {
    pub head: Vec<Part>,
    pub data: Option<Vec<Part>>,
    pub tail: Vec<Part>,
}

/// An expected status word; `x` nibbles match anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwPattern {
    pub value: u16,
    pub mask: u16,
}

impl SwPattern {
    pub const SUCCESS: SwPattern = SwPattern { value: 0x9000, mask: 0xFFFF };

    pub fn matches(self, sw: u16) -> bool {
        sw & self.mask == self.value
    }

    /// Parses `9000`, `63Cx`, `6Axx`.
    pub fn parse(text: &str) -> Option<SwPattern> {
        if text.chars().count() != 4 {
            return None;
        }
        let (mut value, mut mask) = (0u16, 0u16);
        for c in text.chars() {
            value <<= 4;
            mask <<= 4;
            match c {
                'x' | 'X' => {}
                _ => {
                    value |= c.to_digit(16)? as u16;
                    mask |= 0xF;
                }
            }
        }
        Some(SwPattern { value, mask })
    }
}

impl fmt::Display for SwPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for shift in [12, 8, 4, 0] {
            if (self.mask >> shift) & 0xF == 0 {
                f.write_str("x")?;
            } else {
                write!(f, "{:X}", (self.value >> shift) & 0xF)?;
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Capture {
    /// `=> name`
    Set(String),
    /// `=>> name`: appends, for data read in chunks.
    Append(String),
}

/// What sending a step may do to the card beyond answering it, as the
/// script that holds the step declares (`effect …`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepEffects {
    /// It counts a PIN try (VERIFY, CHANGE PIN): after it, the operation
    /// must never run again, and the card is reset at the end.
    pub spends_pin_try: bool,
    /// It may leave the security state open (an external authentication,
    /// a verified PIN): the state must be closed before the card is left.
    pub opens_security_state: bool,
    /// It clears the security state (SELECT of the application).
    pub closes_security_state: bool,
}

impl StepEffects {
    /// The words of `effect` lines.
    pub const WORDS: [&'static str; 3] = ["spends-pin-try", "opens-security-state", "closes-security-state"];

    fn add(&mut self, word: &str) -> bool {
        match word {
            "spends-pin-try" => self.spends_pin_try = true,
            "opens-security-state" => self.opens_security_state = true,
            "closes-security-state" => self.closes_security_state = true,
            _ => return false,
        }
        true
    }
}

/// One command to one card.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    pub slot: Slot,
    /// The effects its script declares.
    pub effects: StepEffects,
    pub apdu: ApduTemplate,
    /// What may come back; `9000` when the line says nothing.
    pub expect: Vec<SwPattern>,
    pub capture: Option<Capture>,
    pub pos: Pos,
    /// The line as written, for traces and errors.
    pub text: String,
}

/// A loop bound: a number, or a value (optionally sliced) read as a
/// big-endian number, or a value's length; plus a constant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoundBase {
    Number(usize),
    Value { name: String, slice: Option<(usize, Option<usize>)> },
    Length(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bound {
    pub base: BoundBase,
    pub plus: usize,
}

/// `for CHUNK in FROM..TO [max LIMIT]` … `end`: the body runs for offsets
/// FROM, FROM+CHUNK, … below TO (and below LIMIT), with `${offset}` (2
/// bytes, big-endian) and `${count}` (1 byte, or 2 when above 255) bound,
/// and `[@]` slicing each value to the current chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loop {
    pub chunk: usize,
    pub from: Bound,
    pub to: Bound,
    pub max: Option<usize>,
    pub body: Vec<Step>,
    pub pos: Pos,
}

/// What a failed `check` means: the outcomes a comparison can name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckOutcome {
    /// `malformed`: a value given at `await` has the wrong length or form.
    Malformed,
    /// `not-issued`: a value given back is not the one handed out (an
    /// original, a command header).
    NotIssued,
    /// `not-authentic`: a result differs from the card's own answer.
    NotAuthentic,
}

impl CheckOutcome {
    /// The words after `else`.
    pub const WORDS: [&'static str; 3] = ["malformed", "not-issued", "not-authentic"];

    fn from_word(word: &str) -> Option<CheckOutcome> {
        match word {
            "malformed" => Some(CheckOutcome::Malformed),
            "not-issued" => Some(CheckOutcome::NotIssued),
            "not-authentic" => Some(CheckOutcome::NotAuthentic),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            CheckOutcome::Malformed => "malformed",
            CheckOutcome::NotIssued => "not-issued",
            CheckOutcome::NotAuthentic => "not-authentic",
        }
    }
}

/// `check A == B else OUTCOME`: the bytes of A and B (parts as in an APDU)
/// must be equal; otherwise the script stops with OUTCOME. No APDU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub left: Vec<Part>,
    pub right: Vec<Part>,
    pub outcome: CheckOutcome,
    pub pos: Pos,
    pub text: String,
}

/// A line of a script that is not a command: a comparison, a named value,
/// or a hand-over to the client of a session (`docs/unified-interface.md`
/// section 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Directive {
    Check(Check),
    /// `let NAME = PARTS`: a value built from others.
    Let {
        name: String,
        parts: Vec<Part>,
        pos: Pos,
    },
    /// `yield NAME …`: values handed to the client when the script next
    /// waits or ends.
    Yield {
        names: Vec<String>,
        pos: Pos,
    },
    /// `await NAME …`: the script waits here for the client's next step,
    /// which gives these values.
    Await {
        names: Vec<String>,
        pos: Pos,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Item {
    Step(Step),
    Loop(Loop),
    Directive(Directive),
}

/// A parsed and checked script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub file: String,
    /// Inputs the caller must give, in declaration order.
    pub inputs: Vec<String>,
    /// Inputs never shown in traces (PINs).
    pub secrets: HashSet<String>,
    pub items: Vec<Item>,
}

impl Script {
    /// Every step, loop bodies included, in order.
    pub fn steps(&self) -> impl Iterator<Item = &Step> {
        self.items.iter().flat_map(|item| match item {
            Item::Step(s) => std::slice::from_ref(s).iter(),
            Item::Loop(l) => l.body.iter(),
            Item::Directive(_) => [].iter(),
        })
    }

    /// Every name a `yield` hands out, in order.
    pub fn yields(&self) -> impl Iterator<Item = &str> {
        self.items
            .iter()
            .flat_map(|item| match item {
                Item::Directive(Directive::Yield { names, .. }) => names.as_slice(),
                _ => &[],
            })
            .map(String::as_str)
    }

    /// Every name an `await` waits for, in order.
    pub fn awaits(&self) -> impl Iterator<Item = &str> {
        self.items
            .iter()
            .flat_map(|item| match item {
                Item::Directive(Directive::Await { names, .. }) => names.as_slice(),
                _ => &[],
            })
            .map(String::as_str)
    }
}

/// Replaces every unsliced `${input}` with `bytes`.
fn bind(items: &mut [Item], input: &str, bytes: &[u8]) {
    let fix = |parts: &mut Vec<Part>| {
        for part in parts.iter_mut() {
            if matches!(part, Part::Value { name, slice: None, .. } if name == input) {
                *part = Part::Bytes(bytes.to_vec());
            }
        }
    };
    for item in items.iter_mut() {
        let steps = match item {
            Item::Step(s) => std::slice::from_mut(s),
            Item::Loop(l) => l.body.as_mut_slice(),
            Item::Directive(Directive::Check(check)) => {
                fix(&mut check.left);
                fix(&mut check.right);
                continue;
            }
            Item::Directive(Directive::Let { parts, .. }) => {
                fix(parts);
                continue;
            }
            Item::Directive(_) => continue,
        };
        for step in steps {
            fix(&mut step.apdu.head);
            if let Some(data) = step.apdu.data.as_mut() {
                fix(data);
            }
            fix(&mut step.apdu.tail);
        }
    }
}

/// The names bound inside a loop body.
pub const LOOP_OFFSET: &str = "offset";
pub const LOOP_COUNT: &str = "count";

/// Parses and checks `source`. `constants` are the names the profile
/// defines for every script, with their values' lengths. `include` is
/// refused: use [`parse_with_includes`] for that.
pub fn parse(file: &str, source: &str, constants: &[(&str, usize)]) -> Result<Script, ParseError> {
    parse_with_includes(file, source, constants, &mut |_| None)
}

/// Finds the script `include NAME` names: `None` when there is no such
/// script, or the error that stopped it from loading.
pub type Resolver<'r> = dyn FnMut(&str) -> Option<Result<Script, ParseError>> + 'r;

/// Like [`parse`], with `include NAME` lines resolved by `resolve`.
pub fn parse_with_includes(
    file: &str,
    source: &str,
    constants: &[(&str, usize)],
    resolve: &mut Resolver<'_>,
) -> Result<Script, ParseError> {
    let mut parser = Parser::new(file, constants);
    parser.resolve = Some(resolve);
    parser.parse(source)
}

/// The names a script's steps capture, and those its `let` lines define.
pub fn captures(script: &Script) -> impl Iterator<Item = &str> {
    let lets = script.items.iter().filter_map(|item| match item {
        Item::Directive(Directive::Let { name, .. }) => Some(name.as_str()),
        _ => None,
    });
    script
        .steps()
        .filter_map(|s| match &s.capture {
            Some(Capture::Set(n) | Capture::Append(n)) => Some(n.as_str()),
            None => None,
        })
        .chain(lets)
}

struct Parser<'a, 'r> {
    resolve: Option<&'a mut Resolver<'r>>,
    file: &'a str,
    constants: &'a [(&'a str, usize)],
    inputs: Vec<String>,
    secrets: HashSet<String>,
    /// Names defined so far: inputs, constants, captures.
    defined: HashSet<String>,
    items: Vec<Item>,
    open_loop: Option<Loop>,
    /// This script's own `effect` lines, given to its own steps.
    effects: StepEffects,
}

/// A cursor over one line.
struct Cursor<'a> {
    file: &'a str,
    line: usize,
    chars: Vec<char>,
    at: usize,
}

impl Cursor<'_> {
    fn pos(&self) -> Pos {
        Pos { file: self.file.to_owned(), line: self.line, column: self.at + 1 }
    }

    fn pos_at(&self, at: usize) -> Pos {
        Pos { file: self.file.to_owned(), line: self.line, column: at + 1 }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.at).copied()
    }

    fn peek_at(&self, n: usize) -> Option<char> {
        self.chars.get(self.at + n).copied()
    }

    fn skip_spaces(&mut self) {
        while self.peek().is_some_and(|c| c == ' ' || c == '\t') {
            self.at += 1;
        }
    }

    /// At the end of the meaningful text (end of line or a comment).
    fn at_end(&self) -> bool {
        matches!(self.peek(), None | Some('#'))
    }

    fn found(&self) -> String {
        match self.peek() {
            None => "end of line".to_owned(),
            Some(_) => {
                let rest: String = self.chars[self.at..].iter().take(12).collect();
                format!("{:?}", rest.split_whitespace().next().unwrap_or(&rest))
            }
        }
    }

    fn error(&self, expected: impl Into<String>) -> ParseError {
        ParseError { pos: self.pos(), expected: expected.into(), found: self.found() }
    }

    fn eat(&mut self, s: &str) -> bool {
        let n = s.chars().count();
        if self.chars.len() >= self.at + n && self.chars[self.at..self.at + n].iter().copied().eq(s.chars()) {
            self.at += n;
            true
        } else {
            false
        }
    }

    fn ident(&mut self) -> Option<String> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.at += 1;
        }
        let word: String = self.chars[start..self.at].iter().collect();
        if word.is_empty() || word.starts_with(|c: char| c.is_ascii_digit()) {
            self.at = start;
            None
        } else {
            Some(word)
        }
    }

    fn number(&mut self) -> Option<usize> {
        let start = self.at;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.at += 1;
        }
        let digits: String = self.chars[start..self.at].iter().collect();
        let n = digits.parse().ok();
        if n.is_none() {
            self.at = start;
        }
        n
    }
}

impl<'a, 'r> Parser<'a, 'r> {
    fn new(file: &'a str, constants: &'a [(&'a str, usize)]) -> Self {
        Parser {
            resolve: None,
            file,
            constants,
            inputs: Vec::new(),
            secrets: HashSet::new(),
            defined: constants.iter().map(|(n, _)| (*n).to_owned()).collect(),
            items: Vec::new(),
            open_loop: None,
            effects: StepEffects::default(),
        }
    }

    fn parse(mut self, source: &str) -> Result<Script, ParseError> {
        let mut steps_seen = false;
        let mut last_line = 0;
        for (index, raw_line) in source.lines().enumerate() {
            last_line = index + 1;
            let mut c = Cursor { file: self.file, line: index + 1, chars: raw_line.chars().collect(), at: 0 };
            c.skip_spaces();
            if c.at_end() {
                continue;
            }
            let word_start = c.at;
            let word = c.ident();
            match word.as_deref() {
                Some(kind @ ("input" | "secret")) if c.peek().is_some_and(|ch| ch == ' ' || ch == '\t') => {
                    if steps_seen {
                        return Err(ParseError {
                            pos: c.pos_at(word_start),
                            expected: "inputs declared before the first step".into(),
                            found: format!("{kind:?}"),
                        });
                    }
                    self.declare(&mut c, kind == "secret")?;
                }
                Some("effect") if c.peek().is_some_and(|ch| ch == ' ' || ch == '\t') => {
                    if steps_seen {
                        return Err(ParseError {
                            pos: c.pos_at(word_start),
                            expected: "effects declared before the first step".into(),
                            found: "\"effect\"".into(),
                        });
                    }
                    self.declare_effects(&mut c)?;
                }
                Some("for") => {
                    steps_seen = true;
                    self.open(&mut c, word_start)?;
                }
                Some(kind @ ("check" | "let" | "yield" | "await"))
                    if c.peek().is_some_and(|ch| ch == ' ' || ch == '\t') || kind == "await" =>
                {
                    steps_seen = true;
                    if self.open_loop.is_some() {
                        return Err(ParseError {
                            pos: c.pos_at(word_start),
                            expected: format!("a step or \"end\" (no \"{kind}\" inside \"for\")"),
                            found: format!("{kind:?}"),
                        });
                    }
                    let pos = c.pos_at(word_start);
                    let directive = match kind {
                        "check" => self.check(&mut c, pos, raw_line.trim())?,
                        "let" => self.let_value(&mut c, pos)?,
                        "yield" => self.yield_names(&mut c, pos)?,
                        _ => self.await_names(&mut c, pos)?,
                    };
                    self.items.push(Item::Directive(directive));
                }
                Some("include") => {
                    steps_seen = true;
                    self.include(&mut c, word_start)?;
                }
                Some("end") => {
                    c.skip_spaces();
                    if !c.at_end() {
                        return Err(c.error("end of line after \"end\""));
                    }
                    let Some(done) = self.open_loop.take() else {
                        return Err(ParseError {
                            pos: c.pos_at(word_start),
                            expected: "a step, \"input\", \"secret\" or \"for\"".into(),
                            found: "\"end\" without \"for\"".into(),
                        });
                    };
                    if done.body.is_empty() {
                        return Err(ParseError {
                            pos: c.pos_at(word_start),
                            expected: "at least one step in the loop".into(),
                            found: "\"end\"".into(),
                        });
                    }
                    for name in [LOOP_OFFSET, LOOP_COUNT] {
                        self.defined.remove(name);
                    }
                    self.items.push(Item::Loop(done));
                }
                Some(slot_word) => {
                    steps_seen = true;
                    let slot = match slot_word {
                        "card" => Slot::Card,
                        "sam" => Slot::Sam,
                        _ => {
                            return Err(ParseError {
                                pos: c.pos_at(word_start),
                                expected: "a slot (\"card\" or \"sam\"), \"input\", \"secret\", \"include\", \"for\" or \"end\"".into(),
                                found: format!("{slot_word:?}"),
                            });
                        }
                    };
                    let step = self.step(&mut c, slot, raw_line.trim())?;
                    match self.open_loop.as_mut() {
                        Some(l) => l.body.push(step),
                        None => self.items.push(Item::Step(step)),
                    }
                }
                None => {
                    return Err(c.error(
                        "a slot (\"card\" or \"sam\"), \"input\", \"secret\", \"include\", \"for\" or \"end\"",
                    ));
                }
            }
        }
        if let Some(open) = self.open_loop {
            return Err(ParseError {
                pos: Pos { file: self.file.to_owned(), line: last_line.max(open.pos.line), column: 1 },
                expected: format!("\"end\" for the loop at line {}", open.pos.line),
                found: "end of file".into(),
            });
        }
        if self.items.is_empty() {
            return Err(ParseError {
                pos: Pos { file: self.file.to_owned(), line: last_line.max(1), column: 1 },
                expected: "at least one step".into(),
                found: "end of file".into(),
            });
        }
        Ok(Script { file: self.file.to_owned(), inputs: self.inputs, secrets: self.secrets, items: self.items })
    }

    /// `include NAME`: the steps of the profile's NAME.apdu, here. Its
    /// inputs become this script's inputs, its captures are defined after.
    fn include(&mut self, c: &mut Cursor, word_start: usize) -> Result<(), ParseError> {
        if self.open_loop.is_some() {
            return Err(ParseError {
                pos: c.pos_at(word_start),
                expected: "a step or \"end\" (no include inside \"for\")".into(),
                found: "\"include\"".into(),
            });
        }
        c.skip_spaces();
        let at = c.at;
        while c.peek().is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-') {
            c.at += 1;
        }
        let name: String = c.chars[at..c.at].iter().collect();
        if name.is_empty() {
            return Err(c.error("a script name"));
        }
        // `name=HEX` bindings fix an input of the included script.
        let mut bindings: Vec<(String, Vec<u8>, usize)> = Vec::new();
        loop {
            c.skip_spaces();
            if c.at_end() {
                break;
            }
            let binding_at = c.at;
            let input = c.ident().ok_or_else(|| c.error("\"name=HEX\" or end of line"))?;
            if !c.eat("=") {
                return Err(c.error("\"=\""));
            }
            match self.part(c)? {
                Part::Bytes(bytes) => bindings.push((input, bytes, binding_at)),
                _ => {
                    return Err(ParseError {
                        pos: c.pos_at(binding_at),
                        expected: "hex bytes".into(),
                        found: "a placeholder".into(),
                    });
                }
            }
        }
        let resolved = self.resolve.as_mut().and_then(|r| r(&name));
        let included = match resolved {
            Some(Ok(script)) => script,
            Some(Err(e)) => return Err(e),
            None => {
                return Err(ParseError {
                    pos: c.pos_at(at),
                    expected: "the name of another script of this profile".into(),
                    found: format!("{name:?}"),
                });
            }
        };
        let mut included = included;
        for (input, bytes, binding_at) in bindings {
            let Some(index) = included.inputs.iter().position(|i| *i == input) else {
                return Err(ParseError {
                    pos: c.pos_at(binding_at),
                    expected: format!("an input of {name} ({})", included.inputs.join(", ")),
                    found: format!("{input:?}"),
                });
            };
            included.inputs.remove(index);
            bind(&mut included.items, &input, &bytes);
        }
        for input in &included.inputs {
            if !self.defined.contains(input) {
                self.defined.insert(input.clone());
                self.inputs.push(input.clone());
            }
        }
        self.secrets.extend(included.secrets.iter().cloned());
        for captured in captures(&included) {
            self.defined.insert(captured.to_owned());
        }
        self.items.extend(included.items);
        Ok(())
    }

    /// `check A == B else OUTCOME`.
    fn check(&mut self, c: &mut Cursor, pos: Pos, text: &str) -> Result<Directive, ParseError> {
        let left = self.parts_until(c, "==")?;
        if !c.eat("==") {
            return Err(c.error("\"==\""));
        }
        let right = self.parts_until(c, "else")?;
        if left.is_empty() || right.is_empty() {
            return Err(c.error("a value on each side of \"==\""));
        }
        if !c.eat("else") {
            return Err(c.error("\"else\" and an outcome"));
        }
        c.skip_spaces();
        let at = c.at;
        while c.peek().is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '-') {
            c.at += 1;
        }
        let word: String = c.chars[at..c.at].iter().collect();
        let outcome = CheckOutcome::from_word(&word).ok_or_else(|| ParseError {
            pos: c.pos_at(at),
            expected: format!("an outcome ({})", CheckOutcome::WORDS.join(", ")),
            found: if word.is_empty() { c.found() } else { format!("{word:?}") },
        })?;
        c.skip_spaces();
        if !c.at_end() {
            return Err(c.error("end of line"));
        }
        Ok(Directive::Check(Check { left, right, outcome, pos, text: text.to_owned() }))
    }

    /// Parts up to `stop` or the end of the line.
    fn parts_until(&mut self, c: &mut Cursor, stop: &str) -> Result<Vec<Part>, ParseError> {
        let mut parts = Vec::new();
        loop {
            c.skip_spaces();
            let rest: String = c.chars[c.at.min(c.chars.len())..].iter().collect();
            if c.at_end() || rest.starts_with(stop) {
                return Ok(parts);
            }
            parts.push(self.part(c)?);
        }
    }

    /// A name a directive defines: not a constant, not a loop variable.
    fn new_name(&self, c: &mut Cursor) -> Result<String, ParseError> {
        let at = c.at;
        let name = c.ident().ok_or_else(|| c.error("a name"))?;
        if [LOOP_OFFSET, LOOP_COUNT].contains(&name.as_str())
            || self.constants.iter().any(|(n, _)| *n == name)
            || self.inputs.contains(&name)
        {
            return Err(ParseError {
                pos: c.pos_at(at),
                expected: "a name that is not an input, a loop variable or a profile constant".into(),
                found: format!("{name:?}"),
            });
        }
        Ok(name)
    }

    /// `let NAME = PARTS`; the value is secret when a part is.
    fn let_value(&mut self, c: &mut Cursor, pos: Pos) -> Result<Directive, ParseError> {
        c.skip_spaces();
        let name = self.new_name(c)?;
        c.skip_spaces();
        if !c.eat("=") {
            return Err(c.error("\"=\""));
        }
        let parts = self.parts_until(c, "#")?;
        let secret = parts.iter().any(|p| matches!(p, Part::Value { name, .. } if self.secrets.contains(name)));
        if secret {
            self.secrets.insert(name.clone());
        }
        self.defined.insert(name.clone());
        Ok(Directive::Let { name, parts, pos })
    }

    /// `yield NAME …`: each name defined before.
    fn yield_names(&mut self, c: &mut Cursor, pos: Pos) -> Result<Directive, ParseError> {
        let mut names = Vec::new();
        loop {
            c.skip_spaces();
            if c.at_end() {
                break;
            }
            let at = c.at;
            let name = c.ident().ok_or_else(|| c.error("a name"))?;
            self.check_defined(c, at, &name)?;
            names.push(name);
        }
        if names.is_empty() {
            return Err(c.error("at least one name"));
        }
        Ok(Directive::Yield { names, pos })
    }

    /// `await [secret] NAME …`: names the client gives at its next step;
    /// those after `secret` never appear in a trace.
    fn await_names(&mut self, c: &mut Cursor, pos: Pos) -> Result<Directive, ParseError> {
        let mut names = Vec::new();
        let mut secret = false;
        loop {
            c.skip_spaces();
            if c.at_end() {
                break;
            }
            if c.eat("secret ") {
                secret = true;
                continue;
            }
            let name = self.new_name(c)?;
            if secret {
                self.secrets.insert(name.clone());
            }
            self.defined.insert(name.clone());
            names.push(name);
        }
        Ok(Directive::Await { names, pos })
    }

    fn declare_effects(&mut self, c: &mut Cursor) -> Result<(), ParseError> {
        loop {
            c.skip_spaces();
            if c.at_end() {
                return Ok(());
            }
            let at = c.at;
            while c.peek().is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '-') {
                c.at += 1;
            }
            let word: String = c.chars[at..c.at].iter().collect();
            if !self.effects.add(&word) {
                return Err(ParseError {
                    pos: c.pos_at(at),
                    expected: format!("an effect ({})", StepEffects::WORDS.join(", ")),
                    found: format!("{word:?}"),
                });
            }
        }
    }

    fn declare(&mut self, c: &mut Cursor, secret: bool) -> Result<(), ParseError> {
        loop {
            c.skip_spaces();
            if c.at_end() {
                return Ok(());
            }
            let at = c.at;
            let name = c.ident().ok_or_else(|| c.error("an input name"))?;
            if self.defined.contains(&name) || [LOOP_OFFSET, LOOP_COUNT].contains(&name.as_str()) {
                return Err(ParseError {
                    pos: c.pos_at(at),
                    expected: "a name not yet defined".into(),
                    found: format!("{name:?} again"),
                });
            }
            self.defined.insert(name.clone());
            if secret {
                self.secrets.insert(name.clone());
            }
            self.inputs.push(name);
        }
    }

    fn open(&mut self, c: &mut Cursor, word_start: usize) -> Result<(), ParseError> {
        if self.open_loop.is_some() {
            return Err(ParseError {
                pos: c.pos_at(word_start),
                expected: "\"end\" before another \"for\" (loops do not nest)".into(),
                found: "\"for\"".into(),
            });
        }
        let pos = c.pos_at(word_start);
        c.skip_spaces();
        let chunk_at = c.at;
        let chunk = c.number().filter(|n| (1..=65_535).contains(n)).ok_or_else(|| {
            c.at = chunk_at;
            c.error("a chunk size from 1 to 65535")
        })?;
        c.skip_spaces();
        if !c.eat("in") {
            return Err(c.error("\"in\""));
        }
        c.skip_spaces();
        let from = self.bound(c)?;
        if !c.eat("..") {
            return Err(c.error("\"..\""));
        }
        let to = self.bound(c)?;
        c.skip_spaces();
        let mut max = None;
        if c.eat("max") {
            c.skip_spaces();
            max = Some(c.number().ok_or_else(|| c.error("a number after \"max\""))?);
            c.skip_spaces();
        }
        if !c.at_end() {
            return Err(c.error(if max.is_some() { "end of line" } else { "\"max\" or end of line" }));
        }
        for name in [LOOP_OFFSET, LOOP_COUNT] {
            self.defined.insert(name.to_owned());
        }
        self.open_loop = Some(Loop { chunk, from, to, max, body: Vec::new(), pos });
        Ok(())
    }

    fn bound(&self, c: &mut Cursor) -> Result<Bound, ParseError> {
        let base = if let Some(n) = c.number() {
            BoundBase::Number(n)
        } else {
            if !c.eat("${") {
                return Err(c.error("a number, \"${name}\" or \"${#name}\""));
            }
            let length = c.eat("#");
            let at = c.at;
            let name = c.ident().ok_or_else(|| c.error("a name"))?;
            self.check_defined(c, at, &name)?;
            let slice = if !length && c.eat("[") { Some(self.range(c)?) } else { None };
            if !c.eat("}") {
                return Err(c.error("\"}\""));
            }
            if length { BoundBase::Length(name) } else { BoundBase::Value { name, slice } }
        };
        let plus = if c.eat("+") { c.number().ok_or_else(|| c.error("a number after \"+\""))? } else { 0 };
        Ok(Bound { base, plus })
    }

    /// `a..b]` or `a..]`, after the `[`.
    fn range(&self, c: &mut Cursor) -> Result<(usize, Option<usize>), ParseError> {
        let a = c.number().ok_or_else(|| c.error("a start offset"))?;
        if !c.eat("..") {
            return Err(c.error("\"..\""));
        }
        let b_at = c.at;
        let b = c.number();
        if b.is_some_and(|b| b < a) {
            c.at = b_at;
            return Err(c.error(format!("an end offset of at least {a}")));
        }
        if !c.eat("]") {
            return Err(c.error("\"]\""));
        }
        Ok((a, b))
    }

    fn check_defined(&self, c: &Cursor, at: usize, name: &str) -> Result<(), ParseError> {
        if self.defined.contains(name) {
            Ok(())
        } else {
            Err(ParseError {
                pos: c.pos_at(at),
                expected: "an input, a profile constant or an earlier capture".into(),
                found: format!("undefined name {name:?}"),
            })
        }
    }

    fn step(&mut self, c: &mut Cursor, slot: Slot, text: &str) -> Result<Step, ParseError> {
        let pos = c.pos_at(0);
        let pos = Pos { column: c.chars.iter().take_while(|ch| **ch == ' ' || **ch == '\t').count() + 1, ..pos };
        if !c.eat(":") {
            return Err(c.error("\":\" after the slot"));
        }
        c.skip_spaces();
        let apdu_start = c.at;
        let mut head = Vec::new();
        let mut data = None;
        let mut tail = Vec::new();
        let mut tail_start = apdu_start;
        loop {
            c.skip_spaces();
            match c.peek() {
                None | Some('#') => break,
                Some('-') if c.peek_at(1) == Some('>') => break,
                Some('=') if c.peek_at(1) == Some('>') => break,
                Some('[') => {
                    if data.is_some() {
                        return Err(c.error("one data field only"));
                    }
                    c.at += 1;
                    let mut parts = Vec::new();
                    loop {
                        c.skip_spaces();
                        match c.peek() {
                            Some(']') if parts.is_empty() => return Err(c.error("data inside \"[ ]\"")),
                            Some(']') => {
                                c.at += 1;
                                break;
                            }
                            None | Some('#') => return Err(c.error("\"]\" closing the data field")),
                            _ => parts.push(self.part(c)?),
                        }
                    }
                    data = Some(parts);
                }
                _ => {
                    if data.is_some() && tail.is_empty() {
                        tail_start = c.at;
                    }
                    let part = self.part(c)?;
                    if data.is_some() { tail.push(part) } else { head.push(part) }
                }
            }
        }
        if head.is_empty() {
            let found = if data.is_some() { "\"[\"".to_owned() } else { c.found() };
            return Err(ParseError { pos: c.pos_at(apdu_start), expected: "an APDU".into(), found });
        }
        let apdu = ApduTemplate { head, data, tail };
        self.check_lengths(c, apdu_start, tail_start, &apdu)?;
        let mut expect = Vec::new();
        c.skip_spaces();
        if c.eat("->") {
            loop {
                c.skip_spaces();
                let start = c.at;
                while c.peek().is_some_and(|ch| ch.is_ascii_alphanumeric()) {
                    c.at += 1;
                }
                let word: String = c.chars[start..c.at].iter().collect();
                let pattern = SwPattern::parse(&word).ok_or_else(|| ParseError {
                    pos: c.pos_at(start),
                    expected: "a status word such as 9000 or 63Cx".into(),
                    found: if word.is_empty() { c.found() } else { format!("{word:?}") },
                })?;
                expect.push(pattern);
                c.skip_spaces();
                if !c.eat("|") {
                    break;
                }
            }
        }
        if expect.is_empty() {
            expect.push(SwPattern::SUCCESS);
        }
        c.skip_spaces();
        let mut capture = None;
        if c.eat("=>") {
            let append = c.eat(">");
            c.skip_spaces();
            let at = c.at;
            let name = c.ident().ok_or_else(|| c.error("a capture name"))?;
            if [LOOP_OFFSET, LOOP_COUNT].contains(&name.as_str()) || self.constants.iter().any(|(n, _)| *n == name) {
                return Err(ParseError {
                    pos: c.pos_at(at),
                    expected: "a capture name that is not a loop variable or a profile constant".into(),
                    found: format!("{name:?}"),
                });
            }
            if self.inputs.contains(&name) {
                return Err(ParseError {
                    pos: c.pos_at(at),
                    expected: "a name that is not an input".into(),
                    found: format!("{name:?}"),
                });
            }
            self.defined.insert(name.clone());
            capture = Some(if append { Capture::Append(name) } else { Capture::Set(name) });
        }
        c.skip_spaces();
        if !c.at_end() {
            return Err(c.error(if capture.is_some() { "end of line" } else { "\"->\", \"=>\" or end of line" }));
        }
        Ok(Step { slot, effects: self.effects, apdu, expect, capture, pos, text: text.to_owned() })
    }

    /// Hex bytes or one placeholder.
    fn part(&self, c: &mut Cursor) -> Result<Part, ParseError> {
        if c.eat("${") {
            let open = c.at - 2;
            if c.eat("#") {
                let at = c.at;
                let name = c.ident().ok_or_else(|| c.error("a name after \"${#\""))?;
                self.check_defined(c, at, &name)?;
                // The length plus n is one byte: n above 255 never fits.
                let plus = if c.eat("+") {
                    let plus_at = c.at;
                    c.number().filter(|n| *n <= 255).ok_or_else(|| {
                        c.at = plus_at;
                        c.error("a number from 0 to 255 after \"+\"")
                    })?
                } else {
                    0
                };
                if !c.eat("}") {
                    return Err(c.error("\"}\""));
                }
                return Ok(Part::Length { name, plus, pos: c.pos_at(open) });
            }
            let at = c.at;
            let name = c.ident().ok_or_else(|| c.error("a name after \"${\""))?;
            self.check_defined(c, at, &name)?;
            let slice = if c.eat("[") {
                if c.eat("@") {
                    if self.open_loop.is_none() {
                        return Err(ParseError {
                            pos: c.pos_at(c.at - 1),
                            expected: "\"[@]\" only inside a \"for\" loop".into(),
                            found: "\"@\"".into(),
                        });
                    }
                    if !c.eat("]") {
                        return Err(c.error("\"]\""));
                    }
                    Some(Slice::Chunk)
                } else {
                    let (a, b) = self.range(c)?;
                    Some(Slice::Range(a, b))
                }
            } else {
                None
            };
            if !c.eat("}") {
                return Err(c.error("\"}\""));
            }
            return Ok(Part::Value { name, slice, pos: c.pos_at(open) });
        }
        let start = c.at;
        let mut digits = Vec::new();
        while let Some(d) = c.peek().and_then(|ch| ch.to_digit(16)) {
            digits.push(d as u8);
            c.at += 1;
        }
        if digits.is_empty() {
            return Err(c.error("hex bytes, \"${name}\", \"[\", \"->\" or \"=>\""));
        }
        if digits.len() % 2 == 1 {
            return Err(ParseError {
                pos: c.pos_at(start),
                expected: "an even number of hex digits".into(),
                found: format!("{} digits", digits.len()),
            });
        }
        if c.peek().is_some_and(|ch| ch.is_ascii_alphanumeric() || ch == '_') {
            return Err(c.error("hex digits"));
        }
        Ok(Part::Bytes(digits.chunks(2).map(|p| (p[0] << 4) | p[1]).collect()))
    }

    /// The length of a part when it is known before running.
    fn known_len(&self, part: &Part) -> Option<usize> {
        match part {
            Part::Bytes(b) => Some(b.len()),
            Part::Length { .. } => Some(1),
            Part::Value { name, slice: Some(Slice::Range(a, Some(b))), .. } => {
                let _ = name;
                Some(b - a)
            }
            Part::Value { name, slice: None, .. } => match name.as_str() {
                LOOP_OFFSET if self.open_loop.is_some() => Some(2),
                _ => self.constants.iter().find(|(n, _)| n == name).map(|(_, len)| *len),
            },
            Part::Value { .. } => None,
        }
    }

    /// With a data field, the header must be 4 bytes and Le 0 to 2 bytes,
    /// checked now wherever the lengths are known; without one, a raw APDU
    /// all of whose bytes are written out must fit an ISO 7816-3 case.
    fn check_lengths(
        &self,
        c: &Cursor,
        apdu_start: usize,
        tail_start: usize,
        apdu: &ApduTemplate,
    ) -> Result<(), ParseError> {
        // Saturating: slices such as `[0..99999999999999999999]` must not overflow.
        let total =
            |parts: &[Part]| parts.iter().try_fold(0usize, |sum, p| self.known_len(p).map(|n| sum.saturating_add(n)));
        let at = c.pos_at(apdu_start);
        if apdu.data.is_some() {
            if let Some(n) = total(&apdu.head).filter(|n| *n != 4) {
                return Err(ParseError {
                    pos: at,
                    expected: "a 4-byte header before \"[\"".into(),
                    found: format!("{n} bytes"),
                });
            }
            if let Some(n) = total(&apdu.tail).filter(|n| *n > 2) {
                return Err(ParseError {
                    pos: c.pos_at(tail_start),
                    expected: "an Le of at most 2 bytes after \"]\"".into(),
                    found: format!("{n} bytes"),
                });
            }
        } else if let Some(n) = total(&apdu.head).filter(|n| *n < 4) {
            return Err(ParseError {
                pos: at,
                expected: "an APDU of at least 4 bytes".into(),
                found: format!("{n} bytes"),
            });
        } else {
            let literal: Option<Vec<u8>> = apdu.head.iter().try_fold(Vec::new(), |mut all, p| match p {
                Part::Bytes(b) => {
                    all.extend_from_slice(b);
                    Some(all)
                }
                _ => None,
            });
            if let Some(bytes) = literal.filter(|b| sscard_apdu::classify(b).is_err()) {
                return Err(ParseError {
                    pos: at,
                    expected: "an APDU that fits an ISO 7816-3 case (header, then Lc and data, then Le)".into(),
                    found: format!("{} bytes", bytes.len()),
                });
            }
        }
        Ok(())
    }
}

#[cfg(test)]
#[path = "tests/syntax.rs"]
mod tests;
