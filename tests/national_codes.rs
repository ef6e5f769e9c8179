#![allow(clippy::unwrap_used, clippy::expect_used)]

//! The national codes come from an error's name and details alone: every
//! daemon error, sent through the daemon's own D-Bus encoding and read back
//! by the clients' one translation, gives the same code whatever its
//! message says.

use sscard_contract::{ErrorName, Slot};
use zbus::DBusError as _;

use sscard::{Code, NationalError};
use sscard_apdu::StatusWord;
use sscard_client::CallError;
use sscard_model::{Field, Rule, ValidationError};
use sscard_ops::OpError;
use sscard_script::{CheckOutcome, Pos, RunError, StatusClass};
use sscard_service::ServiceError;
use sscard_transport::TransportError;

fn pos() -> Pos {
    Pos { file: "read-card.apdu".into(), line: 7, column: 1 }
}

/// Every kind of failure the daemon answers, with the national code of a
/// generic function and of a read function (`iReadCardBas`).
fn daemon_errors() -> Vec<(ServiceError, i32, i32)> {
    let invalid = |field, rule| OpError::InvalidArgument(ValidationError::new(field, rule));
    // A refused cryptogram (`AuthenticationFailed`), or any other status
    // word (`CardError`).
    let status = |slot, sw, card_error: bool| {
        let sw = StatusWord::from_u16(sw);
        if card_error {
            OpError::Card { pos: pos(), slot, step: "00B0 8100 00".into(), sw, class: StatusClass::CardError }
        } else {
            OpError::AuthenticationFailed { pos: pos(), slot, sw }
        }
    };
    let op = |e: OpError, code: i32, read: i32| (ServiceError::from_op("Call", &e), code, read);
    let same = |e: OpError, code: i32| op(e, code, code);
    vec![
        same(invalid(Field::NewPin, Rule::PinLength { min: 6, max: 6 }), -33),
        same(invalid(Field::NewPin, Rule::PinIsInitial), -36),
        same(invalid(Field::NewPin, Rule::PinSequential), -23),
        same(invalid(Field::Pin, Rule::PinLength { min: 4, max: 12 }), -23),
        same(invalid(Field::Ssn, Rule::BadCheckCharacter { expected: 'X' }), -23),
        same(OpError::EmptyRecord, -23),
        same(OpError::from_run(RunError::Check { pos: pos(), outcome: CheckOutcome::Malformed }), -14),
        same(OpError::from_run(RunError::Check { pos: pos(), outcome: CheckOutcome::NotIssued }), -22),
        same(OpError::from_run(RunError::Check { pos: pos(), outcome: CheckOutcome::NotAuthentic }), -21),
        same(OpError::NotSocialSecurityCard, -1),
        same(OpError::NoSam, -2201),
        same(OpError::Sam(TransportError::CardRemoved), -2201),
        same(OpError::PinBlocked, -52),
        same(OpError::LastTry, -13),
        same(OpError::WrongPin { tries_left: 2 }, -51),
        same(OpError::WrongPin { tries_left: 0 }, -52),
        same(OpError::HolderMismatch("ssn".into()), -22),
        same(OpError::AlreadyActive, -13),
        // The PSAM's 6A88 is the missing read key for a read, and only there.
        op(status(Slot::Sam, 0x6A88, false), -0x6A88, -2203),
        same(status(Slot::Card, 0x6A88, false), -0x6A88),
        same(status(Slot::Card, 0x6300, false), -0x6300),
        same(OpError::InternalAuthMismatch, -21),
        same(status(Slot::Card, 0x6581, true), -0x6581),
        op(status(Slot::Sam, 0x6A88, true), -0x6A88, -2203),
        same(OpError::ReadBackMismatch(vec![Field::Name]), -23),
        same(OpError::CardRemoved, -2),
        same(OpError::CardReset, -2),
        same(OpError::Timeout, -4),
        same(OpError::ServiceUnavailable, -11),
        same(OpError::Internal("x".into()), -14),
        (ServiceError::new(ErrorName::NotAuthorized, "Call", "not authorized"), -11, -11),
        (ServiceError::new(ErrorName::Cancelled, "Call", "shutting down"), -11, -11),
        (ServiceError::new(ErrorName::Ambiguous, "FindCard", "two cards"), -14, -14),
    ]
}

/// The error as a client reads it: the daemon's reply message, built by its
/// `DBusError` encoding, through zbus and [`CallError`].
fn through_the_bus(e: &ServiceError) -> CallError {
    let call = zbus::Message::method_call("/org/sscard/Daemon/readers/0", "ReadCard")
        .sender(":1.7")
        .build(&())
        .unwrap_or_else(|e| panic!("a method call: {e}"));
    let reply = e.create_reply(&call.header()).unwrap_or_else(|e| panic!("the error reply: {e}"));
    CallError::from(&zbus::Error::from(reply))
}

fn codes(e: &ServiceError) -> (i32, i32) {
    let national = NationalError::of_call(&through_the_bus(e));
    (national.code.value(), national.clone().for_read().code.value())
}

/// Messages that say nothing, and messages that say another error's words.
const REWORDINGS: [&str; 3] = [
    "",
    "消息已改写",
    "new_pin: must be 6 digits long; must differ from the initial PIN; wrong PIN, 2 tries left; sam answered 6A88; \
     a value given for the step has the wrong length or form",
];

#[test]
fn national_codes_do_not_change_when_every_message_is_reworded() {
    for (error, code, read) in daemon_errors() {
        assert_eq!(codes(&error), (code, read), "{}: {}", error.name, error.message);
        for words in REWORDINGS {
            let reworded = ServiceError { message: words.to_owned(), ..error.clone() };
            assert_eq!(codes(&reworded), (code, read), "{} reworded as {words:?}", error.name);
        }
    }
}

#[test]
fn the_details_survive_the_bus() {
    for (error, _, _) in daemon_errors() {
        let read = through_the_bus(&error);
        assert_eq!(read.name(), Some(error.name));
        assert_eq!(read.details, error.details, "{}", error.message);
        assert_eq!(read.message, error.message);
    }
    let wrong = ServiceError::from_op("ChangePin", &OpError::WrongPin { tries_left: 2 });
    assert_eq!(through_the_bus(&wrong).details.tries_left, Some(2));
    let step = ServiceError::from_op("Continue", &OpError::NotIssued("x".into())).at_step(3);
    assert_eq!(through_the_bus(&step).details.step, Some(3));
    let code = NationalError::of_call(&through_the_bus(&wrong)).code;
    assert_eq!(code, Code::WrongPin { tries_left: 2 });
}
