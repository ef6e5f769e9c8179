//! The manual pages and shell completions in `man/` and `completions/` are
//! generated from the programs' clap definitions (`sscard_cli`) with
//! clap_mangen and clap_complete, and committed so that `make install` and
//! the Debian packages install them without running anything. This test
//! generates them again and fails when a committed file differs, is missing
//! or is left over; `SSCARD_UPDATE_DOCS=1 cargo nextest run --test docs generated`
//! (or `make docs`) writes them. The hand-written pages (`sscardd.toml.5`,
//! `libsscard.3`) are checked for rendering only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use clap::CommandFactory;
use clap_complete::Shell;

/// The pages nobody generates: the configuration and the library.
const HAND_WRITTEN: &[&str] = &["sscardd.toml.5", "libsscard.3"];

fn manifest() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A program: its command line, its manual section, and roff appended to
/// its main page (FILES, SEE ALSO, …).
struct Program {
    command: clap::Command,
    section: &'static str,
    tail: &'static str,
    /// Programs outside PATH (the daemon, in /usr/libexec) get no completion.
    completions: bool,
}

fn programs() -> Vec<Program> {
    vec![
        Program { command: sscard_cli::sscardd::Cli::command(), section: "8", tail: SSCARDD_TAIL, completions: false },
        Program {
            command: sscard_cli::sscardctl::Cli::command(),
            section: "1",
            tail: SSCARDCTL_TAIL,
            completions: true,
        },
        Program { command: sscard_cli::sscard_sim::Cli::command(), section: "1", tail: SIM_TAIL, completions: true },
        Program {
            command: sscard_cli::sscard_bridge::Cli::command(),
            section: "1",
            tail: BRIDGE_TAIL,
            completions: true,
        },
    ]
}

const SSCARDD_TAIL: &str = r#".SH FILES
.TP
\fI/etc/sscard/sscardd.toml\fR
The configuration, see \fBsscardd.toml\fR(5).
.TP
\fI/usr/share/sscard/apdu\-scripts/\fR
The card profiles: declarative APDU scripts, one directory a card generation.
.TP
\fI/usr/lib/systemd/system/sscardd.service\fR
The unit that runs the daemon as the user \fBsscardd\fR; D\-Bus activation and the
udev rule for CCID readers start it.
.TP
\fI/usr/share/dbus\-1/system.d/org.sscard.Daemon.conf\fR
Who may own the name on the system bus: root and \fBsscardd\fR.
.TP
\fI/usr/share/polkit\-1/actions/org.sscard.policy\fR
.TQ
\fI/usr/share/polkit\-1/rules.d/50\-sscard.rules\fR
Who may call what: members of the group \fBsscard\fR may do everything, others as
polkit decides.
.SH ENVIRONMENT
.TP
\fBRUST_LOG\fR
The log filter (default \fBinfo\fR). The audit trail is logged at target \fBsscard::audit\fR.
.TP
\fBPCSCLITE_CSOCK_NAME\fR
The socket of pcscd, when not the system's.
.SH "SEE ALSO"
\fBsscardctl\fR(1), \fBsscardd.toml\fR(5), \fBlibsscard\fR(3), \fBsscard\-bridge\fR(1),
\fBpcscd\fR(8), \fBpolkit\fR(8)
"#;

const SSCARDCTL_TAIL: &str = r#".SH "SEE ALSO"
\fBsscardd\fR(8), \fBsscardd.toml\fR(5), \fBlibsscard\fR(3), \fBpinentry\fR(1)
"#;

const SIM_TAIL: &str = r#".SH "SEE ALSO"
\fBsscardd\fR(8), \fBsscardctl\fR(1); vsmartcard's virtual reader driver \fBvpcd\fR
(Debian package \fBvsmartcard\-vpcd\fR)
"#;

const BRIDGE_TAIL: &str = r#".SH FILES
.TP
\fI~/.config/sscard/bridge.toml\fR, \fI/etc/sscard/bridge.toml\fR
The configuration, the user's before the system's.
.TP
\fI/usr/lib/systemd/user/sscard\-bridge.service\fR
The user unit: \fBsystemctl \-\-user enable \-\-now sscard\-bridge\fR.
.SH "SEE ALSO"
\fBsscardd\fR(8), \fBsscardctl\fR(1), \fBlibsscard\fR(3)
"#;

/// The heading of a command's after-help text (clap_mangen's "EXTRA").
fn extra_heading(name: &str) -> &'static str {
    match name {
        "sscardctl-unified" => "FUNCTIONS",
        _ => "NOTES",
    }
}

/// The page of `command` (built, so subcommands have their display names)
/// and of every subcommand below it, as (file name, roff).
fn pages(command: &clap::Command, section: &str, tail: &str, into: &mut BTreeMap<String, String>) {
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        pages(sub, section, "", into);
    }
    let man = clap_mangen::Man::new(command.clone()).section(section).manual("sscard");
    let name = command.get_display_name().unwrap_or_else(|| command.get_name()).to_owned();
    let mut out = Vec::new();
    man.render_title(&mut out).unwrap();
    man.render_name_section(&mut out).unwrap();
    man.render_synopsis_section(&mut out).unwrap();
    man.render_description_section(&mut out).unwrap();
    if command.get_arguments().any(|a| !a.is_hide_set()) {
        man.render_options_section(&mut out).unwrap();
    }
    if command.get_subcommands().any(|s| !s.is_hide_set()) {
        man.render_subcommands_section(&mut out).unwrap();
    }
    if command.get_after_long_help().is_some() || command.get_after_help().is_some() {
        let mut extra = Vec::new();
        man.render_extra_section(&mut extra).unwrap();
        let extra = String::from_utf8(extra).unwrap();
        let extra = extra.split_once(".SH EXTRA\n").map(|(_, rest)| rest).unwrap_or_else(|| panic!("{extra}"));
        // Kept as laid out: the exit codes are a table.
        out.extend_from_slice(format!(".SH {}\n.nf\n{extra}.fi\n", extra_heading(&name)).as_bytes());
    }
    if command.get_version().is_some() {
        man.render_version_section(&mut out).unwrap();
    }
    out.extend_from_slice(tail.as_bytes());
    // Each section rendered alone starts with the same two-line preamble:
    // once is enough.
    let text = String::from_utf8(out).unwrap();
    let preamble = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";
    let text = format!("{preamble}{}", text.replace(preamble, ""));
    into.insert(format!("man/{name}.{section}"), text);
}

/// Every generated file, by its path in the source tree.
fn generated() -> BTreeMap<String, String> {
    let mut files = BTreeMap::new();
    for program in programs() {
        let mut command = program.command.disable_help_subcommand(true);
        command.build();
        pages(&command, program.section, program.tail, &mut files);
        if program.completions {
            let name = command.get_name().to_owned();
            for (shell, path) in [
                (Shell::Bash, format!("completions/bash/{name}")),
                (Shell::Zsh, format!("completions/zsh/_{name}")),
                (Shell::Fish, format!("completions/fish/{name}.fish")),
            ] {
                let mut out = Vec::new();
                clap_complete::generate(shell, &mut command.clone(), &name, &mut out);
                files.insert(path, String::from_utf8(out).unwrap());
            }
        }
    }
    files
}

/// The generated files in the tree now (the hand-written pages aside).
fn committed() -> Vec<String> {
    let mut found = Vec::new();
    for dir in ["man", "completions/bash", "completions/zsh", "completions/fish"] {
        if let Ok(entries) = std::fs::read_dir(manifest().join(dir)) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if !(dir == "man" && HAND_WRITTEN.contains(&name.as_str())) {
                    found.push(format!("{dir}/{name}"));
                }
            }
        }
    }
    found
}

#[test]
fn generated_pages_and_completions_are_current() {
    let files = generated();
    // Pages for every program and command, completions for the three in PATH.
    for path in [
        "man/sscardd.8",
        "man/sscardctl.1",
        "man/sscardctl-read.1",
        "man/sscardctl-pin-verify.1",
        "man/sscard-sim.1",
        "man/sscard-sim-card.1",
        "man/sscard-bridge.1",
        "completions/bash/sscardctl",
        "completions/zsh/_sscard-sim",
        "completions/fish/sscard-bridge.fish",
    ] {
        assert!(files.contains_key(path), "{path} is not generated");
    }
    assert!(!files.keys().any(|p| p.contains("sscardd") && p.starts_with("completions/")));
    if std::env::var_os("SSCARD_UPDATE_DOCS").is_some() {
        for stale in committed().into_iter().filter(|p| !files.contains_key(p)) {
            std::fs::remove_file(manifest().join(stale)).unwrap();
        }
        for (path, text) in &files {
            let file = manifest().join(path);
            std::fs::create_dir_all(file.parent().unwrap()).unwrap();
            std::fs::write(file, text).unwrap();
        }
        return;
    }
    let hint = "run `make docs` (SSCARD_UPDATE_DOCS=1 cargo nextest run --test docs generated) and commit the result";
    for (path, text) in &files {
        let on_disk = std::fs::read_to_string(manifest().join(path)).unwrap_or_default();
        assert!(on_disk == *text, "{path} is not what the command line generates: {hint}");
    }
    for path in committed() {
        assert!(files.contains_key(&path), "{path} is no longer generated: {hint}");
    }
}

/// Each page, generated or written by hand, renders with man-db without a
/// warning from groff (as lintian checks them).
#[test]
fn every_page_renders_without_warnings() {
    let mut pages: Vec<PathBuf> =
        std::fs::read_dir(manifest().join("man")).unwrap().flatten().map(|e| e.path()).collect();
    pages.sort();
    for name in HAND_WRITTEN {
        assert!(pages.iter().any(|p| p.ends_with(name)), "man/{name} is missing");
    }
    assert!(pages.len() > 10, "{pages:?}");
    for page in pages {
        let (text, warnings) = render(&page);
        assert!(warnings.trim().is_empty(), "{}: {warnings}", page.display());
        let stem = page.file_stem().unwrap().to_string_lossy().into_owned();
        assert!(text.contains("NAME") && text.contains(&stem), "{}: {text}", page.display());
    }
}

/// `man -l PAGE`: (the text, groff's warnings as lintian asks for them).
pub fn render(page: &Path) -> (String, String) {
    let warnings = Command::new("man")
        .args(["--warnings", "-E", "UTF-8", "-l", "-Tutf8", "-Z"])
        .arg(page)
        .env("LC_ALL", "C.UTF-8")
        .env("MANWIDTH", "80")
        .env("MANROFFSEQ", "")
        .output()
        .expect("man (is man-db installed?)");
    assert!(warnings.status.success(), "man -l {}: {}", page.display(), String::from_utf8_lossy(&warnings.stderr));
    let text = Command::new("man").arg("-l").arg(page).env("LC_ALL", "C.UTF-8").env("MANPAGER", "cat").output();
    let text = text.expect("man");
    assert!(text.status.success(), "man -l {}", page.display());
    (String::from_utf8_lossy(&text.stdout).into_owned(), String::from_utf8_lossy(&warnings.stderr).into_owned())
}
