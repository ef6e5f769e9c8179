//! The script engine: card knowledge as declarative APDU scripts
//! (`apdu-scripts/`), parsed and checked at start-up, run over the
//! transport with two slots, the card and the PSAM.

pub mod profile;
pub mod run;
pub mod status;
pub mod syntax;

pub use profile::load_profiles;
pub use profile::{Identify, LoadError, Profile, ScriptNeed, load_profile};
pub use run::{Cards, Effects, Finished, Outputs, Paused, Progress, RunError, TraceEntry, Values, run, run_from};
pub use status::{StatusClass, StatusTable};
pub use syntax::{CheckOutcome, Directive, ParseError, Pos, Script, Slot, StepEffects, SwPattern, parse};
