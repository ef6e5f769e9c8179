//! `Pinentry` against fake pinentries: shell scripts written at test time
//! that speak Assuan and record every command they are sent (no PIN is
//! ever sent to a pinentry, so the record holds none).

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::*;

const CANCELLED: &str = "ERR 83886179 Operation cancelled <Pinentry>";
const TIMEOUT: &str = "S ERROR curses.? 83886142 \nERR 83886142 Timeout <Pinentry>";
const FULLY_CANCELLED: &str = "ERR 83886278 Fully canceled <Pinentry>";
const NO_TTY: &str = "S ERROR curses.isatty 83918950 \nERR 83918950 Inappropriate ioctl for device <Pinentry>";

/// A fake pinentry and the file it records its commands in.
struct Fake {
    _dir: tempfile::TempDir,
    program: PathBuf,
    log: PathBuf,
}

impl Fake {
    /// A fake answering its n-th GETPIN with the n-th answer: lines to
    /// print, or `EXIT` (it leaves) or `HANG` (it waits for more input).
    /// Every other command gets OK, or ERR when `refuse` starts it.
    fn new(getpins: &[&str], refuse: Option<&str>) -> Fake {
        let mut cases = String::new();
        for (i, answer) in getpins.iter().enumerate() {
            let action = match *answer {
                "EXIT" => "exit 0".to_owned(),
                "HANG" => "read -r never".to_owned(),
                lines => {
                    let quoted: Vec<String> = lines.split('\n').map(|l| format!("'{l}'")).collect();
                    format!("printf '%s\\n' {}", quoted.join(" "))
                }
            };
            cases.push_str(&format!("        {}) {action} ;;\n", i + 1));
        }
        let refuse = refuse
            .map_or(String::new(), |r| format!("    {r}*) printf 'ERR 83886254 Unknown option <Pinentry>\\n' ;;\n"));
        Fake::script(&format!(
            "printf 'OK Pleased to meet you\\n'\n\
             n=0\n\
             while IFS= read -r line; do\n\
             \x20 printf '%s\\n' \"$line\" >> \"$LOG\"\n\
             \x20 case \"$line\" in\n\
             \x20   GETPIN)\n\
             \x20     n=$((n+1))\n\
             \x20     case $n in\n{cases}\
             \x20       *) printf '%s\\n' '{CANCELLED}' ;;\n\
             \x20     esac ;;\n\
             \x20   BYE) printf 'OK closing connection\\n'; exit 0 ;;\n\
             {refuse}\
             \x20   *) printf 'OK\\n' ;;\n\
             \x20 esac\n\
             done\n"
        ))
    }

    /// A fake with the given body; it records its PID first.
    fn script(body: &str) -> Fake {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("pinentry-fake");
        let log = dir.path().join("log");
        let text = format!("#!/bin/sh\nLOG='{}'\nprintf 'PID %s\\n' \"$$\" >> \"$LOG\"\n{body}", log.display());
        std::fs::write(&program, text).unwrap();
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).unwrap();
        Fake { _dir: dir, program, log }
    }

    fn pinentry(&self) -> Pinentry {
        Pinentry::new(&self.program)
    }

    /// The commands received, in order (without the PID line).
    fn commands(&self) -> Vec<String> {
        let log = std::fs::read_to_string(&self.log).unwrap_or_default();
        log.lines().filter(|l| !l.starts_with("PID ")).map(str::to_owned).collect()
    }

    fn count(&self, command: &str) -> usize {
        self.commands().iter().filter(|c| *c == command).count()
    }

    /// The fake has been waited for: its PID is gone (a zombie keeps it).
    fn assert_reaped(&self) {
        let log = std::fs::read_to_string(&self.log).unwrap();
        let pid = log.lines().find_map(|l| l.strip_prefix("PID ")).expect("the fake ran");
        assert!(!Path::new(&format!("/proc/{pid}")).exists(), "pinentry {pid} left running or a zombie");
    }
}

fn card_prompt() -> PinPrompt<'static> {
    PinPrompt { description: "请输入社保卡密码", tries_left: Some(3) }
}

fn new_prompt() -> PinPrompt<'static> {
    PinPrompt { description: "请输入新密码", tries_left: None }
}

#[test]
fn the_pin_comes_back_in_an_exact_buffer_and_the_prompt_shows_the_tries_left() {
    let fake = Fake::new(&["D 123456\nOK"], None);
    let pin = fake.pinentry().current_pin(&card_prompt()).unwrap();
    assert_eq!((pin.as_str(), pin.capacity()), ("123456", 6));
    let commands = fake.commands();
    assert!(commands.contains(&"SETDESC 请输入社保卡密码（剩余3次）".to_owned()), "{commands:?}");
    for setting in ["SETTITLE 社会保障卡", "SETPROMPT 密码：", "SETOK 确定", "SETCANCEL 取消", "SETTIMEOUT 60"]
    {
        assert!(commands.contains(&setting.to_owned()), "{setting} missing from {commands:?}");
    }
    assert!(commands.iter().any(|c| c.starts_with("OPTION lc-ctype=")), "{commands:?}");
    assert_eq!(fake.count("GETPIN"), 1);
    let setdesc = commands.iter().position(|c| c.starts_with("SETDESC")).unwrap();
    let getpin = commands.iter().position(|c| c == "GETPIN").unwrap();
    assert!(setdesc < getpin, "the description comes before GETPIN: {commands:?}");
    assert_eq!(commands.last().map(String::as_str), Some("BYE"));
    fake.assert_reaped();
}

#[test]
fn without_tries_left_the_description_is_shown_as_given() {
    let fake = Fake::new(&["D 1234\nOK"], None);
    let pin = fake.pinentry().current_pin(&PinPrompt { description: "请输入原密码", tries_left: None }).unwrap();
    assert_eq!(pin.as_str(), "1234");
    assert!(fake.commands().contains(&"SETDESC 请输入原密码".to_owned()), "{:?}", fake.commands());
}

#[test]
fn data_lines_are_percent_decoded_and_joined_past_status_and_comment_lines() {
    let fake = Fake::new(&["S PROGRESS x\n# a comment\nD 12%3345\nD 6\nOK"], None);
    let pin = fake.pinentry().current_pin(&card_prompt()).unwrap();
    assert_eq!((pin.as_str(), pin.capacity()), ("123456", 6));
}

#[test]
fn entries_that_are_not_4_to_12_digits_are_the_wrong_length() {
    let long = format!("D {}\nOK", "1".repeat(900));
    for answer in ["D 123\nOK", "D 1234567890123\nOK", "D 12a456\nOK", "D 12%25456\nOK", "D 1234 \nOK", "OK", &long] {
        let fake = Fake::new(&[answer], None);
        assert_eq!(
            fake.pinentry().current_pin(&card_prompt()).map(|p| p.len()),
            Err(PinEntryError::WrongLength),
            "{answer}"
        );
        fake.assert_reaped();
    }
}

#[test]
fn cancel_and_timeout_answers_map_to_their_errors() {
    for (answer, want) in [
        (CANCELLED, PinEntryError::Cancelled),
        (FULLY_CANCELLED, PinEntryError::Cancelled),
        (TIMEOUT, PinEntryError::TimedOut),
        (NO_TTY, PinEntryError::Unavailable),
        ("EXIT", PinEntryError::Unavailable),
        ("something else", PinEntryError::Unavailable),
        ("D 12%G4\nOK", PinEntryError::Unavailable),
    ] {
        let fake = Fake::new(&[answer], None);
        assert_eq!(fake.pinentry().current_pin(&card_prompt()).map(|p| p.len()), Err(want), "{answer}");
        fake.assert_reaped();
    }
}

#[test]
fn a_new_pin_is_asked_twice_in_one_pinentry() {
    let fake = Fake::new(&["D 135790\nOK", "D 135790\nOK"], None);
    let pin = fake.pinentry().new_pin(&new_prompt()).unwrap();
    assert_eq!((pin.as_str(), pin.capacity()), ("135790", 6));
    let descriptions: Vec<String> = fake.commands().into_iter().filter(|c| c.starts_with("SETDESC")).collect();
    assert_eq!(descriptions, ["SETDESC 请输入新密码", "SETDESC 请再次输入新密码"]);
    assert_eq!(fake.count("GETPIN"), 2);
    assert_eq!(fake.count("BYE"), 1);
    fake.assert_reaped();
}

#[test]
fn two_different_entries_of_a_new_pin_differ() {
    let fake = Fake::new(&["D 135790\nOK", "D 135791\nOK"], None);
    assert_eq!(fake.pinentry().new_pin(&new_prompt()).map(|p| p.len()), Err(PinEntryError::EntriesDiffer));
    let fake = Fake::new(&["D 135790\nOK", "D 13579\nOK"], None);
    assert_eq!(fake.pinentry().new_pin(&new_prompt()).map(|p| p.len()), Err(PinEntryError::EntriesDiffer));
    fake.assert_reaped();
}

#[test]
fn a_new_pin_of_the_wrong_length_is_refused_before_its_second_entry() {
    let fake = Fake::new(&["D 123\nOK", "D 123\nOK"], None);
    assert_eq!(fake.pinentry().new_pin(&new_prompt()).map(|p| p.len()), Err(PinEntryError::WrongLength));
    assert_eq!(fake.count("GETPIN"), 1);
    assert_eq!(fake.count("BYE"), 1);
    fake.assert_reaped();
}

#[test]
fn cancelling_the_second_entry_cancels_the_new_pin() {
    let fake = Fake::new(&["D 135790\nOK", CANCELLED], None);
    assert_eq!(fake.pinentry().new_pin(&new_prompt()).map(|p| p.len()), Err(PinEntryError::Cancelled));
    fake.assert_reaped();
}

#[test]
fn a_program_that_cannot_start_or_speaks_no_assuan_is_unavailable() {
    let mut missing = Pinentry::new("/nonexistent/pinentry");
    assert_eq!(missing.current_pin(&card_prompt()).map(|p| p.len()), Err(PinEntryError::Unavailable));

    let rude = Fake::script("printf 'hello\\n'\nread -r line\n");
    assert_eq!(rude.pinentry().current_pin(&card_prompt()).map(|p| p.len()), Err(PinEntryError::Unavailable));
    rude.assert_reaped();

    let gone = Fake::script("exit 0\n");
    assert_eq!(gone.pinentry().current_pin(&card_prompt()).map(|p| p.len()), Err(PinEntryError::Unavailable));
    gone.assert_reaped();

    let refusing = Fake::script("printf 'ERR 1 no\\n'\n");
    assert_eq!(refusing.pinentry().new_pin(&new_prompt()).map(|p| p.len()), Err(PinEntryError::Unavailable));
    refusing.assert_reaped();
}

#[test]
fn a_pinentry_that_outlives_its_timeout_is_ended_and_waited_for() {
    let fake = Fake::new(&["HANG"], None);
    let started = Instant::now();
    let result = fake.pinentry().with_timeout(1).with_grace(Duration::ZERO).current_pin(&card_prompt());
    assert_eq!(result.map(|p| p.len()), Err(PinEntryError::TimedOut));
    assert!(started.elapsed() < Duration::from_secs(8), "took {:?}", started.elapsed());
    fake.assert_reaped();
}

#[test]
fn refused_settings_are_left_out() {
    let fake = Fake::new(&["D 2468\nOK"], Some("OPTION"));
    let pin = fake.pinentry().with_tty("/dev/pts/77").current_pin(&card_prompt()).unwrap();
    assert_eq!(pin.as_str(), "2468");
    assert!(fake.commands().contains(&"OPTION ttyname=/dev/pts/77".to_owned()));
}

#[test]
fn the_terminal_settings_and_the_timeout_are_sent_as_given() {
    let fake = Fake::new(&["D 2468\nOK"], None);
    let mut pinentry = fake.pinentry().with_tty("/dev/pts/77").with_ttytype("screen").with_timeout(0);
    pinentry.current_pin(&card_prompt()).unwrap();
    let commands = fake.commands();
    assert!(commands.contains(&"OPTION ttyname=/dev/pts/77".to_owned()), "{commands:?}");
    assert!(commands.contains(&"OPTION ttytype=screen".to_owned()), "{commands:?}");
    assert!(!commands.iter().any(|c| c.starts_with("SETTIMEOUT")), "a timeout of 0 sends none: {commands:?}");
}

#[test]
fn descriptions_are_percent_escaped() {
    let fake = Fake::new(&["D 2468\nOK"], None);
    fake.pinentry().current_pin(&PinPrompt { description: "50% off\r\nnow", tries_left: Some(1) }).unwrap();
    assert!(fake.commands().contains(&"SETDESC 50%25 off%0D%0Anow（剩余1次）".to_owned()), "{:?}", fake.commands());
}

#[test]
fn from_env_reads_the_program_and_the_timeout() {
    let fake = Fake::new(&["D 97531\nOK"], None);
    // SAFETY: nextest runs each test in its own process, so no other thread
    // reads the environment meanwhile.
    unsafe {
        std::env::set_var("SSCARD_PINENTRY", &fake.program);
        std::env::set_var("SSCARD_PINENTRY_TIMEOUT", "17");
    }
    let mut pinentry = Pinentry::from_env();
    assert_eq!((pinentry.program(), pinentry.timeout()), (fake.program.as_path(), 17));
    assert_eq!(pinentry.current_pin(&card_prompt()).unwrap().as_str(), "97531");
    assert!(fake.commands().contains(&"SETTIMEOUT 17".to_owned()));
    // SAFETY: as above.
    unsafe {
        std::env::set_var("SSCARD_PINENTRY_TIMEOUT", "soon");
        std::env::remove_var("SSCARD_PINENTRY");
    }
    let pinentry = Pinentry::from_env();
    assert_eq!((pinentry.program(), pinentry.timeout()), (Path::new("pinentry"), DEFAULT_TIMEOUT));
}

#[test]
fn long_descriptions_are_cut_at_a_character_to_fit_a_line() {
    let text = "请输入社保卡密码".repeat(100);
    let line = command_line("SETDESC", &text);
    assert!(line.len() < LINE_MAX && line.len() > LINE_MAX - 8, "{}", line.len());
    assert!(std::str::from_utf8(&line).is_ok());
}

#[test]
fn percent_decoding_takes_any_byte_and_refuses_broken_escapes() {
    let mut entry = PinBuf::new();
    entry.push_escaped(b"%25a%0A%7e").unwrap();
    assert_eq!(entry.as_bytes(), b"%a\n~");
    assert_eq!(entry.to_pin().map(|p| p.len()), Err(PinEntryError::WrongLength));
    entry.clear();
    assert_eq!(entry.as_bytes(), b"");
    assert!(entry.bytes.iter().all(|b| *b == 0));
    assert_eq!(entry.push_escaped(b"12%3"), Err(Fail::Protocol));
    let mut long = PinBuf::new();
    long.push_escaped(&[b'1'; PIN_BUF + 1]).unwrap();
    assert!(long.overflow);
    assert_eq!(long.to_pin().map(|p| p.len()), Err(PinEntryError::WrongLength));
}

#[test]
fn scripted_pins_answer_in_order_and_are_checked_like_a_pinentry() {
    let mut pins = ScriptedPins::new(vec![
        Ok("123456"),
        Err(PinEntryError::Cancelled),
        Ok("12"),
        Ok("654321"),
        Ok("654321"),
        Ok("111111"),
        Ok("111112"),
    ]);
    assert_eq!(pins.current_pin(&card_prompt()).unwrap().as_str(), "123456");
    assert_eq!(pins.current_pin(&card_prompt()).map(|p| p.len()), Err(PinEntryError::Cancelled));
    assert_eq!(pins.new_pin(&new_prompt()).map(|p| p.len()), Err(PinEntryError::WrongLength));
    assert_eq!(pins.new_pin(&new_prompt()).unwrap().as_str(), "654321");
    assert_eq!(pins.new_pin(&new_prompt()).map(|p| p.len()), Err(PinEntryError::EntriesDiffer));
    assert_eq!(pins.remaining(), 0);
    assert_eq!(pins.current_pin(&card_prompt()).map(|p| p.len()), Err(PinEntryError::Unavailable));
    assert_eq!(
        pins.prompts()[..4],
        ["请输入社保卡密码（剩余3次）", "请输入社保卡密码（剩余3次）", "请输入新密码", "请输入新密码"]
    );
    assert_eq!(pins.prompts()[4], REPEAT_DESCRIPTION);
    let debug = format!("{:?}", ScriptedPins::new(vec![Ok("975310")]));
    assert!(!debug.contains("975310"), "{debug}");
}
