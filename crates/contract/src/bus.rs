//! Where the daemon is on the bus.

/// The daemon's well-known name.
pub const BUS_NAME: &str = "org.sscard.Daemon";
/// The manager object (`org.sscard.Manager1` and the ObjectManager).
pub const MANAGER_PATH: &str = "/org/sscard/Daemon";
/// The parent of the reader objects, `READERS_PATH/<n>`.
pub const READERS_PATH: &str = "/org/sscard/Daemon/readers";
/// The parent of the HSM session objects, `HSM_PATH/<n>`.
pub const HSM_PATH: &str = "/org/sscard/Daemon/hsm";
/// What a path property holds when there is no such object
/// (`Manager1.SamReader` without a PSAM).
pub const NO_OBJECT: &str = "/";

pub const MANAGER_INTERFACE: &str = "org.sscard.Manager1";
pub const READER_INTERFACE: &str = "org.sscard.Reader1";
pub const HSM_SESSION_INTERFACE: &str = "org.sscard.HsmSession1";

/// The prefix of every error name: `org.sscard.Error.<Name>`.
pub const ERROR_PREFIX: &str = "org.sscard.Error";

/// The object path of reader `id`.
pub fn reader_path(id: u32) -> String {
    format!("{READERS_PATH}/{id}")
}

/// The object path of HSM session `id`.
pub fn hsm_session_path(id: u64) -> String {
    format!("{HSM_PATH}/{id}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_sit_under_the_manager() {
        assert_eq!(reader_path(3), "/org/sscard/Daemon/readers/3");
        assert_eq!(hsm_session_path(12), "/org/sscard/Daemon/hsm/12");
        assert!(READERS_PATH.starts_with(MANAGER_PATH) && HSM_PATH.starts_with(MANAGER_PATH));
    }
}
