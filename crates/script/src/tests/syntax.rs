//! The script parser: every error it reports, with its exact position, the
//! structure of a script that uses every feature, and properties that no
//! input makes it panic.

use std::path::Path;

use proptest::prelude::*;

use super::*;

/// Profile constants as the loader passes them: names and value lengths.
const CONSTANTS: &[(&str, usize)] = &[("aid", 15), ("alg", 1), ("block", 1)];

const FILE: &str = "t.apdu";

/// An included script with two inputs and two captures, like gen3's `auth`.
const AUTH: &str = "\
# EXTERNAL AUTHENTICATE
input key ef05_01
card: 00 84 00 00 08                     => challenge
sam:  80 1A ${alg} ${key} [${ef05_01[10..18]}]
sam:  80 FA 00 00 [${challenge}] ${block}  => cryptogram
card: 00 82 00 ${key} [${cryptogram}]
";

fn pos(line: usize, column: usize) -> Pos {
    Pos { file: FILE.to_owned(), line, column }
}

fn ok(source: &str) -> Script {
    parse(FILE, source, CONSTANTS).unwrap_or_else(|e| panic!("{source:?} does not parse: {e}"))
}

fn resolver(name: &str) -> Option<Result<Script, ParseError>> {
    match name {
        "auth" => Some(parse("auth.apdu", AUTH, CONSTANTS)),
        "card-id" => Some(parse("card-id.apdu", "card: 00 B2 01 28 12 => ef05_01\n", CONSTANTS)),
        "broken" => Some(parse("broken.apdu", "card: 00 B0 0\n", CONSTANTS)),
        _ => None,
    }
}

fn ok_with_includes(source: &str) -> Script {
    parse_with_includes(FILE, source, CONSTANTS, &mut resolver)
        .unwrap_or_else(|e| panic!("{source:?} does not parse: {e}"))
}

/// One error case: the source, where the error is, a fragment of what was
/// expected and a fragment of what was found.
struct Case {
    source: &'static str,
    line: usize,
    column: usize,
    expected: &'static str,
    found: &'static str,
}

const fn case(source: &'static str, line: usize, column: usize, expected: &'static str, found: &'static str) -> Case {
    Case { source, line, column, expected, found }
}

/// Checks every case, with includes resolved by [`resolver`], and reports
/// all the mismatches at once.
fn check(cases: &[Case]) {
    let mut failures = Vec::new();
    for c in cases {
        match parse_with_includes(FILE, c.source, CONSTANTS, &mut resolver) {
            Ok(script) => failures.push(format!("{:?}: parsed, to {script:?}", c.source)),
            Err(e) => {
                let prefix = format!("{FILE}:{}:{}: expected ", c.line, c.column);
                if e.pos != pos(c.line, c.column)
                    || !e.to_string().starts_with(&prefix)
                    || !e.expected.contains(c.expected)
                    || !e.found.contains(c.found)
                {
                    failures.push(format!(
                        "{:?}:\n     got {e}\n    want {prefix}…{}…, found …{}…",
                        c.source, c.expected, c.found
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{} of {} cases fail:\n{}", failures.len(), cases.len(), failures.join("\n"));
}

#[test]
fn errors_at_the_start_of_a_line() {
    check(&[
        // Unknown slot word, at the word, case-sensitive, after indentation.
        case("card: 00 A4 04 00\nreader: 00 B0 00 00", 2, 1, "a slot (\"card\" or \"sam\")", "\"reader\""),
        case("  Card: 00 B0 00 00", 1, 3, "a slot", "\"Card\""),
        case("\tpsam: 00 B0 00 00", 1, 2, "a slot", "\"psam\""),
        // `input` needs at least a space and a name after it.
        case("input", 1, 1, "a slot", "\"input\""),
        // A line that starts with no word at all.
        case("00 B0 00 00", 1, 1, "a slot", "\"00\""),
        case("  ${aid}", 1, 3, "a slot", "\"${aid}\""),
        // The `:` after the slot.
        case("card 00 B0 00 00", 1, 5, "\":\" after the slot", "\"00\""),
        case("sam; 00 B0 00 00", 1, 4, "\":\" after the slot", "\";\""),
        case("card", 1, 5, "\":\" after the slot", "end of line"),
    ]);
}

#[test]
fn errors_in_hex() {
    check(&[
        // An odd number of digits, at the start of the run.
        case("card: 00 B0 0 00", 1, 13, "an even number of hex digits", "1 digits"),
        case("card: 00B0000", 1, 7, "an even number of hex digits", "7 digits"),
        case("\tcard: 00 B0 0", 1, 14, "an even number of hex digits", "1 digits"),
        case("card: 00 B0 00 00\r\ncard: 00 B0 0\r\n", 2, 13, "an even number of hex digits", "1 digits"),
        // A character that is not hex, glued to hex.
        case("card: 00 B0 00 00G1", 1, 18, "hex digits", "\"G1\""),
        case("card: 00 B0 00 00_", 1, 18, "hex digits", "\"_\""),
        case("card: 00 B0 00 00${alg}xy", 1, 24, "hex bytes", "\"xy\""),
        // Something that is not hex at all.
        case("card: 00 B0 00 00 zz", 1, 19, "hex bytes, \"${name}\", \"[\", \"->\" or \"=>\"", "\"zz\""),
        case("card: 00 B0 00 00 - 9000", 1, 19, "hex bytes", "\"-\""),
        case("card: 00 B0 00 00 = x", 1, 19, "hex bytes", "\"=\""),
    ]);
}

#[test]
fn errors_in_placeholders() {
    check(&[
        // An input nobody declared.
        case("card: 00 20 00 00 [${pin}]", 1, 22, "an input, a profile constant or an earlier capture", "\"pin\""),
        case("card: 00 B0 00 ${#len}", 1, 19, "an input, a profile constant or an earlier capture", "\"len\""),
        // A capture used before the step that makes it, or on that step.
        case(
            "card: 00 82 00 00 [${answer}]\ncard: 00 84 00 00 08 => answer",
            1,
            22,
            "an earlier capture",
            "undefined name \"answer\"",
        ),
        case("card: 00 84 00 00 ${#answer} => answer", 1, 22, "an earlier capture", "\"answer\""),
        // The loop variables exist only inside a loop.
        case("card: 00 B0 ${offset} 00", 1, 15, "an earlier capture", "\"offset\""),
        case(
            "input d\nfor 8 in 0..${#d}\ncard: 00 B0 ${offset} 08\nend\ncard: 00 B0 00 ${count}",
            5,
            18,
            "an earlier capture",
            "\"count\"",
        ),
        // Malformed placeholders.
        case("card: 00 B0 00 ${}", 1, 18, "a name after \"${\"", "\"}\""),
        case("card: 00 B0 00 ${#}", 1, 19, "a name after \"${#\"", "\"}\""),
        case("card: 00 B0 00 ${alg", 1, 21, "\"}\"", "end of line"),
        case("card: 00 B0 00 ${#alg+}", 1, 23, "a number from 0 to 255 after \"+\"", "\"}\""),
        // `${#name+n}` is one byte: n above 255 never fits.
        case("card: 00 B0 00 ${#alg+256}", 1, 23, "a number from 0 to 255 after \"+\"", "\"256}\""),
        case("card: 00 B0 00 ${#alg+18446744073709551616}", 1, 23, "from 0 to 255", "\"184467440737"),
        case("card: 00 B0 00 ${#alg-1}", 1, 22, "\"}\"", "\"-1}\""),
        // `[@]` outside a loop, at the `@`.
        case("input data\ncard: 00 D6 00 00 [${data[@]}]", 2, 27, "\"[@]\" only inside a \"for\" loop", "\"@\""),
        case("input data\nfor 8 in 0..${#data}\ncard: 00 D6 ${offset} [${data[@}]\nend", 3, 32, "\"]\"", "\"}]\""),
        // Slices: the end before the start, at the end offset.
        case("input data\ncard: 00 D6 00 00 [${data[8..4]}]", 2, 30, "an end offset of at least 8", "\"4]}]\""),
        case("input data\ncard: 00 D6 00 00 [${data[8]}]", 2, 28, "\"..\"", "\"]}]\""),
        case("input data\ncard: 00 D6 00 00 [${data[..4]}]", 2, 27, "a start offset", "\"..4]}]\""),
        case("input data\ncard: 00 D6 00 00 [${data[0..4}]", 2, 31, "\"]\"", "\"}]\""),
        // Slicing a value and taking its length do not combine.
        case("input data\ncard: 00 D6 00 00 [${#data[0..4]}]", 2, 27, "\"}\"", "\"[0..4]}]\""),
    ]);
}

#[test]
fn errors_in_the_data_field() {
    check(&[
        // `[` never closed, at the end of the line or at the comment.
        case("card: 00 D6 00 00 [01 02", 1, 25, "\"]\" closing the data field", "end of line"),
        case("card: 00 D6 00 00 [01 02 # note", 1, 26, "\"]\" closing the data field", "\"#\""),
        // `[ ]` with nothing in it, at the `]`.
        case("card: 00 D6 00 00 [ ]", 1, 21, "data inside \"[ ]\"", "\"]\""),
        case("card: 00 D6 00 00 []", 1, 20, "data inside \"[ ]\"", "\"]\""),
        // Two data fields, at the second `[`.
        case("card: 00 D6 00 00 [01] [02]", 1, 24, "one data field only", "\"[02]\""),
        // Something in the data field that is not hex or a placeholder.
        case("card: 00 D6 00 00 [01 -> 9000]", 1, 23, "hex bytes", "\"->\""),
    ]);
}

#[test]
fn errors_in_apdu_lengths() {
    check(&[
        // Not 4 header bytes before `[`, at the first byte of the APDU.
        case("card: 00 D6 00 [01 02]", 1, 7, "a 4-byte header before \"[\"", "3 bytes"),
        case("card:   00 D6 00 00 00 [01 02]", 1, 9, "a 4-byte header before \"[\"", "5 bytes"),
        case("card: 00 A4 ${aid} [01]", 1, 7, "a 4-byte header before \"[\"", "17 bytes"),
        case("input p\ncard: 00 A4 ${p[0..3]} [01]", 2, 7, "a 4-byte header before \"[\"", "5 bytes"),
        // No header at all.
        case("card: [01 02]", 1, 7, "an APDU", "\"[\""),
        case("card: -> 9000", 1, 7, "an APDU", "\"->\""),
        case("card:", 1, 6, "an APDU", "end of line"),
        case("sam:    # nothing", 1, 9, "an APDU", "\"#\""),
        // An Le of 3 bytes after `]`, at the first Le byte.
        case("card: 00 D6 00 00 [01] 00 00 00", 1, 24, "an Le of at most 2 bytes after \"]\"", "3 bytes"),
        case("card: 00 D6 00 00 [01]   ${aid}", 1, 26, "an Le of at most 2 bytes", "15 bytes"),
        // A raw APDU shorter than a header.
        case("card: 00 B0 00", 1, 7, "an APDU of at least 4 bytes", "3 bytes"),
        case("sam: ${alg} ${block} 00", 1, 6, "an APDU of at least 4 bytes", "3 bytes"),
        // A literal raw APDU that fits no ISO 7816-3 case: an extended Le
        // without its leading 00, an Lc that does not match the data.
        case("card: 00 B0 88 00 20 00", 1, 7, "an APDU that fits an ISO 7816-3 case", "6 bytes"),
        case("card: 00 A4 04 00 05 A0 00", 1, 7, "an APDU that fits an ISO 7816-3 case", "7 bytes"),
        case("card: 00 B0 00 00 00 00 00 00", 1, 7, "an APDU that fits an ISO 7816-3 case", "8 bytes"),
        // Huge slices saturate instead of overflowing.
        case(
            "input d\ncard: 00 D6 00 00 [01] ${d[0..18446744073709551615]} ${d[0..18446744073709551615]}",
            2,
            24,
            "an Le of at most 2 bytes",
            "18446744073709551615 bytes",
        ),
    ]);
}

#[test]
fn errors_in_status_words() {
    check(&[
        case("card: 00 B0 00 00 -> 90G0", 1, 22, "a status word such as 9000 or 63Cx", "\"90G0\""),
        case("card: 00 B0 00 00 -> 900", 1, 22, "a status word", "\"900\""),
        case("card: 00 B0 00 00 -> 90000", 1, 22, "a status word", "\"90000\""),
        case("card: 00 B0 00 00 -> 63Cy", 1, 22, "a status word", "\"63Cy\""),
        case("card: 00 B0 00 00 ->", 1, 21, "a status word", "end of line"),
        case("card: 00 B0 00 00 -> 9000 |", 1, 28, "a status word", "end of line"),
        case("card: 00 B0 00 00 -> 9000 | 6A82 | => x", 1, 36, "a status word", "\"=>\""),
        case("card: 00 B0 00 00 -> 9000 | 6A8", 1, 29, "a status word", "\"6A8\""),
        case("card: 00 B0 00 00 -> 9000 6A82", 1, 27, "\"->\", \"=>\" or end of line", "\"6A82\""),
    ]);
}

#[test]
fn errors_in_captures_and_trailing_junk() {
    check(&[
        // No name after `=>`.
        case("card: 00 84 00 00 08 =>", 1, 24, "a capture name", "end of line"),
        case("card: 00 84 00 00 08 =>> # c", 1, 26, "a capture name", "\"#\""),
        case("card: 00 84 00 00 08 => 1st", 1, 25, "a capture name", "\"1st\""),
        case("card: 00 84 00 00 08 => ünï", 1, 25, "a capture name", "\"ünï\""),
        // Names a capture may not take.
        case("card: 00 84 00 00 08 => alg", 1, 25, "not a loop variable or a profile constant", "\"alg\""),
        case("card: 00 84 00 00 08 =>> aid", 1, 26, "not a loop variable or a profile constant", "\"aid\""),
        case("card: 00 84 00 00 08 => offset", 1, 25, "not a loop variable or a profile constant", "\"offset\""),
        case(
            "input d\nfor 8 in 0..${#d}\ncard: 00 B0 ${offset} 08 =>> count\nend",
            3,
            30,
            "not a loop variable",
            "\"count\"",
        ),
        case("input key\ncard: 00 84 00 00 08 => key", 2, 25, "a name that is not an input", "\"key\""),
        case("secret pin\ncard: 00 84 00 00 08 => pin", 2, 25, "a name that is not an input", "\"pin\""),
        // Trailing junk, at the junk.
        case("card: 00 84 00 00 08 => challenge extra", 1, 35, "end of line", "\"extra\""),
        case("card: 00 84 00 00 08 => a => b", 1, 27, "end of line", "\"=>\""),
        case("card: 00 84 00 00 08 => a-b", 1, 26, "end of line", "\"-b\""),
        case("card: 00 84 00 00 08 -> 9000 =>", 1, 32, "a capture name", "end of line"),
        case("card: 00 84 00 00 08 => c -> 9000", 1, 27, "end of line", "\"->\""),
    ]);
}

#[test]
fn errors_in_declarations() {
    check(&[
        // `input` and `secret` after the first step, at the keyword.
        case("card: 00 84 00 00 08\ninput key", 2, 1, "inputs declared before the first step", "\"input\""),
        case("card: 00 84 00 00 08\n  secret pin", 2, 3, "inputs declared before the first step", "\"secret\""),
        case("include card-id\ninput key", 2, 1, "inputs declared before the first step", "\"input\""),
        case(
            "input d\nfor 8 in 0..${#d}\ncard: 00 B0 ${offset} 08\nend\ninput e",
            5,
            1,
            "before the first step",
            "\"input\"",
        ),
        // The same name twice, or a name already taken.
        case("input key tag key", 1, 15, "a name not yet defined", "\"key\" again"),
        case("input pin\nsecret pin", 2, 8, "a name not yet defined", "\"pin\" again"),
        case("input alg", 1, 7, "a name not yet defined", "\"alg\" again"),
        case("secret offset", 1, 8, "a name not yet defined", "\"offset\" again"),
        case("input count", 1, 7, "a name not yet defined", "\"count\" again"),
        // Not a name.
        case("input 1key", 1, 7, "an input name", "\"1key\""),
        case("input a,b", 1, 8, "an input name", "\",b\""),
    ]);
}

#[test]
fn errors_in_loops() {
    check(&[
        // The chunk size, at the number.
        case("for 0 in 0..8\ncard: 00 B0 00 00\nend", 1, 5, "a chunk size from 1 to 65535", "\"0\""),
        case("for 65536 in 0..8\ncard: 00 B0 00 00\nend", 1, 5, "a chunk size from 1 to 65535", "\"65536\""),
        case("for  in 0..8\ncard: 00 B0 00 00\nend", 1, 6, "a chunk size", "\"in\""),
        case("for 99999999999999999999 in 0..8", 1, 5, "a chunk size", "\"999999999999"),
        // `in` and `..`.
        case("for 8 0..16\ncard: 00 B0 00 00\nend", 1, 7, "\"in\"", "\"0..16\""),
        case("for 8 in 0 16\ncard: 00 B0 00 00\nend", 1, 11, "\"..\"", "\"16\""),
        case("for 8 in 0-16\ncard: 00 B0 00 00\nend", 1, 11, "\"..\"", "\"-16\""),
        // The bounds.
        case("for 8 in x..16", 1, 10, "a number, \"${name}\" or \"${#name}\"", "\"x..16\""),
        case("for 8 in 0..", 1, 13, "a number, \"${name}\" or \"${#name}\"", "end of line"),
        case("for 8 in 0..${len}", 1, 15, "an input, a profile constant or an earlier capture", "\"len\""),
        case("input d\nfor 8 in 0..${#d}+", 2, 19, "a number after \"+\"", "end of line"),
        case("input d\nfor 8 in 0..${d[4..2]}", 2, 20, "an end offset of at least 4", "\"2]}\""),
        case("input d\nfor 8 in 0..${d", 2, 16, "\"}\"", "end of line"),
        // `max`, and junk after the bounds.
        case("input d\nfor 8 in 0..${#d} max", 2, 22, "a number after \"max\"", "end of line"),
        case("for 8 in 0..16 max 64 now", 1, 23, "end of line", "\"now\""),
        case("for 8 in 0..16 step 2", 1, 16, "\"max\" or end of line", "\"step\""),
        // Nesting, and `end` on its own.
        case("for 8 in 0..16\nfor 4 in 0..8\ncard: 00 B0 00 00\nend\nend", 2, 1, "loops do not nest", "\"for\""),
        case("card: 00 B0 00 00\nend", 2, 1, "a step, \"input\", \"secret\" or \"for\"", "\"end\" without \"for\""),
        case("for 8 in 0..16\ncard: 00 B0 00 00\nend\n  end", 4, 3, "a step", "without \"for\""),
        case("for 8 in 0..16\ncard: 00 B0 00 00\nend now", 3, 5, "end of line after \"end\"", "\"now\""),
        // A loop with no step.
        case("for 8 in 0..16\nend", 2, 1, "at least one step in the loop", "\"end\""),
        case("for 8 in 0..16\n# nothing yet\n  end # done", 3, 3, "at least one step in the loop", "\"end\""),
        // No `end` before the end of the file: the last line, column 1.
        case(
            "for 8 in 0..16\ncard: 00 B0 ${offset} 08\n# done\n",
            3,
            1,
            "\"end\" for the loop at line 1",
            "end of file",
        ),
        case("card: 00 A4 04 00\n\nfor 8 in 0..16", 3, 1, "\"end\" for the loop at line 3", "end of file"),
        // No include inside a loop.
        case("for 8 in 0..16\ninclude card-id\nend", 2, 1, "no include inside \"for\"", "\"include\""),
    ]);
}

#[test]
fn errors_in_includes() {
    check(&[
        // A script the resolver does not know, at its name.
        case("include nowhere", 1, 9, "the name of another script of this profile", "\"nowhere\""),
        case("card: 00 A4 04 00\n  include  auth-2 # x", 2, 12, "the name of another script", "\"auth-2\""),
        // No name, or a binding that is not `name=HEX`.
        case("include", 1, 8, "a script name", "end of line"),
        case("include # what", 1, 9, "a script name", "\"#\""),
        case("include auth key", 1, 17, "\"=\"", "end of line"),
        case("include auth key 0C", 1, 17, "\"=\"", "\"0C\""),
        case("include auth 0C", 1, 14, "\"name=HEX\" or end of line", "\"0C\""),
        case("include auth key=", 1, 18, "hex bytes", "end of line"),
        case("include auth key=0", 1, 18, "an even number of hex digits", "1 digits"),
        case("include auth key=${alg}", 1, 14, "hex bytes", "a placeholder"),
        // A binding of a name that is not an input of the included script.
        case("include auth tag=01", 1, 14, "an input of auth (key, ef05_01)", "\"tag\""),
        case("include auth key=0C key=0A", 1, 21, "an input of auth (ef05_01)", "\"key\""),
        case("include card-id key=0C", 1, 17, "an input of card-id ()", "\"key\""),
    ]);
}

#[test]
fn an_included_scripts_error_keeps_its_own_file() {
    let e = parse_with_includes(FILE, "card: 00 A4 04 00\ninclude broken", CONSTANTS, &mut resolver).unwrap_err();
    assert_eq!(e.pos, Pos { file: "broken.apdu".into(), line: 1, column: 13 });
    assert!(e.to_string().starts_with("broken.apdu:1:13: expected an even number of hex digits"), "{e}");
}

#[test]
fn include_without_a_resolver_is_refused() {
    for source in ["include auth", "include card-id\ncard: 00 B0 00 00"] {
        let e = parse(FILE, source, CONSTANTS).unwrap_err();
        assert_eq!(e.pos, pos(1, 9), "{source:?}: {e}");
        assert!(e.expected.contains("the name of another script"), "{e}");
    }
}

#[test]
fn an_empty_file_has_no_step() {
    for (source, line) in [
        ("", 1),
        ("\n", 1),
        ("# only a comment", 1),
        ("# only a comment\n\n   \n", 3),
        ("input pin\n", 1),
        ("secret pin\n# and nothing\n", 2),
    ] {
        let e = parse(FILE, source, CONSTANTS).unwrap_err();
        assert_eq!(e.pos, pos(line, 1), "{source:?}: {e}");
        assert_eq!(e.expected, "at least one step", "{source:?}");
        assert_eq!(e.found, "end of file", "{source:?}");
        assert!(e.to_string().starts_with(&format!("{FILE}:{line}:1: expected at least one step")), "{e}");
    }
}

#[test]
fn the_error_message_names_file_line_column_expected_and_found() {
    let e = parse("dir/x.apdu", "card: 00 B0 00 00\ncard: 00 B0 0", &[]).unwrap_err();
    assert_eq!(e.to_string(), "dir/x.apdu:2:13: expected an even number of hex digits, found 1 digits");
    let e = parse("x.apdu", "card: 00 B0 00 00 -> 90G0", &[]).unwrap_err();
    assert_eq!(e.to_string(), "x.apdu:1:22: expected a status word such as 9000 or 63Cx, found \"90G0\"");
}

fn bytes(b: &[u8]) -> Part {
    Part::Bytes(b.to_vec())
}

/// One `Part::Bytes` per run of hex, as the parser makes them.
fn hex(runs: &str) -> Vec<Part> {
    runs.split_whitespace().map(|run| Part::Bytes(hex::decode(run).unwrap())).collect()
}

fn value(name: &str, slice: Option<Slice>, line: usize, column: usize) -> Part {
    Part::Value { name: name.into(), slice, pos: pos(line, column) }
}

fn sw(text: &str) -> SwPattern {
    SwPattern::parse(text).unwrap()
}

const EVERYTHING: &str = "\
# Every feature of the language.
input data ef05_01
secret pin
card: 00 A4 04 00 [${aid}] 00            -> 9000 | 6283  => fci
card: 00 20 00 00 [${pin}]               -> 9000 | 63Cx | 6983
card: 0084000008                         => challenge
sam:  80 1A ${alg} 0B [${ef05_01[10..18]}]
sam:  80 FA 05 00 [${challenge} 80 5E 00 00 ${#pin+4} ${pin}] 04  => mac
\tfor 255 in 0..${#data} max 4096   # chunks of 255
card: 00 D6 ${offset} [${data[@]}]
card: 00 B0 ${offset} ${count}           -> 9000 | 6Axx =>> back
  end
card: 00 B0 88 00 00 20 00               =>>back
sam:  80 CA 00 00 [${back[2..]} ${mac}] 00 00 -> xxxx
";

#[test]
fn a_script_with_every_feature_parses_to_its_structure() {
    let script = ok(EVERYTHING);
    assert_eq!(script.file, FILE);
    assert_eq!(script.inputs, ["data", "ef05_01", "pin"]);
    assert_eq!(script.secrets, HashSet::from(["pin".to_owned()]));
    assert_eq!(script.items.len(), 8);
    assert_eq!(script.steps().count(), 9);
    assert_eq!(captures(&script).collect::<Vec<_>>(), ["fci", "challenge", "mac", "back", "back"]);

    let Item::Step(select) = &script.items[0] else { panic!("{:?}", script.items[0]) };
    assert_eq!(
        *select,
        Step {
            slot: Slot::Card,
            effects: StepEffects::default(),
            apdu: ApduTemplate {
                head: hex("00 A4 04 00"),
                data: Some(vec![value("aid", None, 4, 20)]),
                tail: hex("00"),
            },
            expect: vec![SwPattern::SUCCESS, SwPattern { value: 0x6283, mask: 0xFFFF }],
            capture: Some(Capture::Set("fci".into())),
            pos: pos(4, 1),
            text: "card: 00 A4 04 00 [${aid}] 00            -> 9000 | 6283  => fci".into(),
        }
    );

    let Item::Step(verify) = &script.items[1] else { panic!() };
    assert_eq!(verify.expect, [sw("9000"), SwPattern { value: 0x63C0, mask: 0xFFF0 }, sw("6983")]);
    assert_eq!(verify.capture, None);

    let Item::Step(challenge) = &script.items[2] else { panic!() };
    assert_eq!(challenge.apdu, ApduTemplate { head: vec![bytes(&[0, 0x84, 0, 0, 8])], data: None, tail: vec![] });
    assert_eq!(challenge.expect, [SwPattern::SUCCESS]);

    let Item::Step(diversify) = &script.items[3] else { panic!() };
    assert_eq!(diversify.slot, Slot::Sam);
    assert_eq!(diversify.pos, pos(7, 1));
    assert_eq!(
        diversify.apdu,
        ApduTemplate {
            head: vec![bytes(&[0x80]), bytes(&[0x1A]), value("alg", None, 7, 13), bytes(&[0x0B])],
            data: Some(vec![value("ef05_01", Some(Slice::Range(10, Some(18))), 7, 24)]),
            tail: vec![],
        }
    );

    let Item::Step(mac) = &script.items[4] else { panic!() };
    assert_eq!(
        mac.apdu.data.as_deref(),
        Some(
            &[
                value("challenge", None, 8, 20),
                bytes(&[0x80]),
                bytes(&[0x5E]),
                bytes(&[0x00]),
                bytes(&[0x00]),
                Part::Length { name: "pin".into(), plus: 4, pos: pos(8, 45) },
                value("pin", None, 8, 55),
            ][..]
        )
    );
    assert_eq!(mac.apdu.tail, [bytes(&[0x04])]);
    assert_eq!(mac.capture, Some(Capture::Set("mac".into())));

    let Item::Loop(chunks) = &script.items[5] else { panic!("{:?}", script.items[5]) };
    assert_eq!(chunks.chunk, 255);
    assert_eq!(chunks.from, Bound { base: BoundBase::Number(0), plus: 0 });
    assert_eq!(chunks.to, Bound { base: BoundBase::Length("data".into()), plus: 0 });
    assert_eq!(chunks.max, Some(4096));
    assert_eq!(chunks.pos, pos(9, 2));
    assert_eq!(chunks.body.len(), 2);
    assert_eq!(
        chunks.body[0].apdu,
        ApduTemplate {
            head: vec![bytes(&[0x00]), bytes(&[0xD6]), value("offset", None, 10, 13)],
            data: Some(vec![value("data", Some(Slice::Chunk), 10, 24)]),
            tail: vec![],
        }
    );
    assert_eq!(chunks.body[1].expect, [SwPattern::SUCCESS, SwPattern { value: 0x6A00, mask: 0xFF00 }]);
    assert_eq!(chunks.body[1].capture, Some(Capture::Append("back".into())));
    assert_eq!(chunks.body[1].apdu.head[3], value("count", None, 11, 23));

    let Item::Step(photo) = &script.items[6] else { panic!() };
    assert_eq!(photo.apdu.head, hex("00 B0 88 00 00 20 00"));
    assert_eq!(photo.capture, Some(Capture::Append("back".into())));

    let last = script.steps().last().unwrap();
    assert_eq!(last.apdu.data.as_deref().unwrap()[0], value("back", Some(Slice::Range(2, None)), 14, 20));
    assert_eq!(last.apdu.tail, hex("00 00"));
    assert_eq!(last.expect, [SwPattern { value: 0, mask: 0 }]);
}

#[test]
fn loop_bounds_take_numbers_values_slices_lengths_and_plus() {
    let script = ok("input d len\n\
         for 16 in 2+1..${len[0..2]}+3\ncard: 00 B0 ${offset} ${count}\nend\n\
         for 1 in ${len}..${#d}+12 max 9\ncard: 00 D6 ${offset} [${d[@]}]\nend\n");
    let loops: Vec<&Loop> = script
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Loop(l) => Some(l),
            Item::Step(_) | Item::Directive(_) => None,
        })
        .collect();
    assert_eq!(loops.len(), 2);
    assert_eq!(loops[0].from, Bound { base: BoundBase::Number(2), plus: 1 });
    assert_eq!(
        loops[0].to,
        Bound { base: BoundBase::Value { name: "len".into(), slice: Some((0, Some(2))) }, plus: 3 }
    );
    assert_eq!(loops[0].max, None);
    assert_eq!(loops[1].chunk, 1);
    assert_eq!(loops[1].from, Bound { base: BoundBase::Value { name: "len".into(), slice: None }, plus: 0 });
    assert_eq!(loops[1].to, Bound { base: BoundBase::Length("d".into()), plus: 12 });
    assert_eq!(loops[1].max, Some(9));
    assert_eq!(loops[1].pos, pos(5, 1));
}

#[test]
fn captures_inside_a_loop_are_defined_after_it() {
    let script = ok("for 8 in 0..32\ncard: 00 B0 ${offset} 08 =>> all\nend\ncard: 00 D6 00 00 [${all}]");
    assert_eq!(script.items.len(), 2);
    assert!(
        matches!(&script.items[1], Item::Step(s) if s.apdu.data.as_deref() == Some(&[value("all", None, 4, 20)][..]))
    );
}

#[test]
fn hex_may_be_spaced_or_not_and_comments_end_a_line() {
    let spaced = ok("card: 00 A4 04 00 02 3F 00 # select MF");
    let packed = ok("card:00A40400023F00");
    let mixed = ok("  card:   00A4 0400   023F00#");
    for script in [&spaced, &packed, &mixed] {
        let bytes: Vec<u8> = script
            .steps()
            .next()
            .unwrap()
            .apdu
            .head
            .iter()
            .flat_map(|p| match p {
                Part::Bytes(b) => b.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(bytes, [0x00, 0xA4, 0x04, 0x00, 0x02, 0x3F, 0x00]);
    }
    assert_eq!(mixed.steps().next().unwrap().pos, pos(1, 3));
    assert_eq!(mixed.steps().next().unwrap().text, "card:   00A4 0400   023F00#");
}

#[test]
fn raw_apdus_of_every_iso_case_parse() {
    for source in [
        "card: 00 44 00 00",                      // case 1
        "card: 00 B2 01 28 12",                   // case 2 short
        "card: 00 B0 88 00 00 20 00",             // case 2 extended
        "card: 00 A4 04 00 02 3F 00",             // case 3 short
        "card: 00 A4 04 00 02 3F 00 00",          // case 4 short
        "card: 00 D6 00 00 00 00 02 3F 00",       // case 3 extended
        "card: 00 D6 00 00 00 00 02 3F 00 01 00", // case 4 extended
        "card: 00 B2 ${alg} 28 ${block}",         // not literal: checked when run
        "card: 00 B0 00 ${#alg+255}",             // the largest `+n`
    ] {
        ok(source);
    }
}

#[test]
fn include_splices_steps_binds_inputs_and_defines_captures() {
    let script = ok_with_includes(
        "secret pin\ninclude card-id\ninclude auth key=0C\ncard: 00 20 00 00 [${pin}]\nsam: 00 B0 00 00 [${cryptogram}]",
    );
    // `key` is bound, `ef05_01` is captured by card-id before auth needs it.
    assert_eq!(script.inputs, ["pin"]);
    assert_eq!(script.steps().count(), 7);
    let auth_last = script.steps().nth(4).unwrap();
    assert_eq!(auth_last.pos, Pos { file: "auth.apdu".into(), line: 6, column: 1 });
    assert_eq!(auth_last.apdu.head, hex("00 82 00 0C"));

    // Without card-id, auth's unbound inputs become this script's inputs.
    let script = ok_with_includes("input x\ninclude auth\ncard: 00 B0 00 00 [${challenge} ${x}]");
    assert_eq!(script.inputs, ["x", "key", "ef05_01"]);
}

#[test]
fn the_real_profiles_parse() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../apdu-scripts");
    for profile in ["ssse-gen3", "ssse-gen2"] {
        let loaded = crate::load_profile(&root.join(profile), &[]);
        assert!(loaded.is_ok(), "{profile}: {:?}", loaded.err());
    }
}

#[test]
fn sw_patterns_parse_match_and_display() {
    for (text, value, mask, shown) in [
        ("9000", 0x9000, 0xFFFF, "9000"),
        ("63Cx", 0x63C0, 0xFFF0, "63Cx"),
        ("63cX", 0x63C0, 0xFFF0, "63Cx"),
        ("6Axx", 0x6A00, 0xFF00, "6Axx"),
        ("x000", 0x0000, 0x0FFF, "x000"),
        ("xxxx", 0x0000, 0x0000, "xxxx"),
        ("0x90", 0x0090, 0xF0FF, "0x90"),
        ("abcd", 0xABCD, 0xFFFF, "ABCD"),
    ] {
        let p = SwPattern::parse(text).unwrap_or_else(|| panic!("{text}"));
        assert_eq!(p, SwPattern { value, mask }, "{text}");
        assert_eq!(p.to_string(), shown, "{text}");
        assert_eq!(SwPattern::parse(shown), Some(p), "{text}");
    }
    for bad in ["", "900", "90000", "90G0", "9 00", "+900", "９０００", "9000\n", "0y90", "90-0"] {
        assert_eq!(SwPattern::parse(bad), None, "{bad:?}");
    }
    assert_eq!(SwPattern::SUCCESS, sw("9000"));
    assert!(sw("9000").matches(0x9000));
    assert!(!sw("9000").matches(0x9001));
    assert!(sw("63Cx").matches(0x63C0) && sw("63Cx").matches(0x63C3) && sw("63Cx").matches(0x63CF));
    assert!(!sw("63Cx").matches(0x63D3) && !sw("63Cx").matches(0x6300));
    assert!(sw("6Axx").matches(0x6A82) && !sw("6Axx").matches(0x6B00));
    assert!(sw("x000").matches(0x9000) && !sw("x000").matches(0x9001));
    assert!(sw("xxxx").matches(0x0000) && sw("xxxx").matches(0xFFFF));
}

/// The language's own pieces, to build inputs that get past the first
/// checks far more often than arbitrary text does.
const TOKENS: &[&str] = &[
    "card:",
    "sam:",
    "card",
    "sam",
    ":",
    "${",
    "${#",
    "}",
    "[",
    "]",
    "[@]",
    "@",
    "->",
    "=>",
    "=>>",
    "|",
    "..",
    "+",
    "00",
    "A4",
    "0",
    "FF",
    "x",
    "63Cx",
    "9000",
    "6Axx",
    "90G0",
    "for 255 in 0..${x}",
    "for 0 in 0..8",
    "for",
    "in",
    "max",
    "max 4",
    "end",
    "input",
    "input x",
    "secret",
    "secret x",
    "include",
    "include auth",
    "key=0C",
    "x",
    "y",
    "offset",
    "count",
    "aid",
    "alg",
    "d",
    "=",
    "1",
    "8",
    "18446744073709551615",
    "\n",
    "\n",
    "\r\n",
    "#",
    " ",
    "\t",
    "é",
    "${x[0..2]}",
    "${x[@]}",
    "${#x+4}",
];

fn token_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        4 => prop::sample::select(TOKENS).prop_map(str::to_owned),
        1 => "[0-9A-Fa-f]{1,5}",
        1 => "[a-z_]{1,4}",
        1 => "[0-9]{1,3}",
    ];
    (prop::collection::vec((token, prop::bool::ANY), 0..48), prop::bool::ANY).prop_map(|(tokens, declare)| {
        let mut s = if declare { "input x d\n".to_owned() } else { String::new() };
        for (t, space) in tokens {
            s.push_str(&t);
            if space {
                s.push(' ');
            }
        }
        s
    })
}

/// Parses with and without includes; whatever happens, no panic, and an
/// error points inside the text (a line that exists, a column at most one
/// past its end).
fn parses_without_panicking(source: &str) -> Result<(), TestCaseError> {
    let lines: Vec<&str> = source.lines().collect();
    for result in [
        parse(FILE, source, CONSTANTS),
        parse_with_includes(FILE, source, CONSTANTS, &mut |name| match name {
            "auth" => Some(parse("auth.apdu", AUTH, CONSTANTS)),
            _ => None,
        }),
    ] {
        match result {
            Ok(script) => {
                prop_assert!(script.steps().next().is_some());
                prop_assert!(script.steps().all(|s| !s.expect.is_empty() && !s.apdu.head.is_empty()));
            }
            Err(e) if e.pos.file == FILE => {
                prop_assert!(e.pos.line >= 1 && e.pos.line <= lines.len().max(1), "{e}");
                let width = lines.get(e.pos.line - 1).map_or(0, |l| l.chars().count());
                prop_assert!(e.pos.column >= 1 && e.pos.column <= width + 1, "{e}");
                prop_assert!(!e.expected.is_empty() && !e.found.is_empty(), "{e}");
            }
            Err(_) => {}
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn parse_never_panics_on_arbitrary_text(source in any::<String>()) {
        parses_without_panicking(&source)?;
    }

    #[test]
    fn parse_never_panics_on_printable_lines(source in "([ -~]{0,40}\n){0,6}") {
        parses_without_panicking(&source)?;
    }

    #[test]
    fn parse_never_panics_on_token_soup(source in token_soup()) {
        parses_without_panicking(&source)?;
    }

    #[test]
    fn sw_pattern_display_round_trips(value in any::<u16>(), nibbles in 0u16..16) {
        let mask = (0..4).fold(0u16, |m, i| if nibbles & (1 << i) != 0 { m | (0xF << (4 * i)) } else { m });
        let pattern = SwPattern { value: value & mask, mask };
        let text = pattern.to_string();
        prop_assert_eq!(text.len(), 4);
        prop_assert_eq!(SwPattern::parse(&text), Some(pattern));
        prop_assert!(pattern.matches(value));
    }
}

/// The lines of HSM sessions: `let`, `yield`, `await`, `check`, each
/// refused at its exact position when wrong.
#[test]
fn errors_in_session_lines() {
    check(&[
        // A check needs `==`, a value each side, `else` and a known outcome.
        case("card: 00 84 00 00 08 => c\ncheck ${c} ${c}", 2, 16, "\"==\"", "end of line"),
        case("card: 00 84 00 00 08 => c\ncheck ${c} == ${c}", 2, 19, "\"else\"", "end of line"),
        case("card: 00 84 00 00 08 => c\ncheck ${c} == ${c} else wrong", 2, 25, "an outcome", "\"wrong\""),
        case("card: 00 84 00 00 08 => c\ncheck ${x} == ${c} else malformed", 2, 9, "an input", "undefined name \"x\""),
        // A let defines a name that is not a constant or an input.
        case("let alg = 01", 1, 5, "a name that is not an input", "\"alg\""),
        case("let a 01", 1, 7, "\"=\"", "\"01\""),
        // A yield names defined values.
        case("yield nothing", 1, 7, "an input", "undefined name \"nothing\""),
        // None of them inside a loop.
        case("card: 00 B0 00 00 => f\nfor 8 in 0..16\nyield f\nend", 3, 1, "no \"yield\" inside \"for\"", "\"yield\""),
        // An awaited name is not an input.
        case("input a\nawait a", 2, 7, "a name that is not an input", "\"a\""),
    ]);
}

/// A session script: what it yields and awaits, in order, and the secret
/// names kept out of traces.
#[test]
fn session_lines_parse_into_directives() {
    let script = ok("card: 00 84 00 00 08 => challenge\n\
        let header = 80 5E 00 00 ${#challenge+4}\n\
        yield challenge header\n\
        await secret apdu\n\
        check ${apdu[0..5]} == ${header} else not-issued\n\
        card: ${apdu}\n");
    assert_eq!(script.yields().collect::<Vec<_>>(), ["challenge", "header"]);
    assert_eq!(script.awaits().collect::<Vec<_>>(), ["apdu"]);
    assert!(script.secrets.contains("apdu"));
    let Item::Directive(Directive::Check(check)) = &script.items[4] else { panic!("{:?}", script.items[4]) };
    assert_eq!(check.outcome, CheckOutcome::NotIssued);
    assert_eq!(check.pos, pos(5, 1));
    assert_eq!(script.steps().count(), 2);
}
