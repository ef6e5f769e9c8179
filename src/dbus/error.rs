//! `org.sscard.Error.<Name>`: the service's error is the D-Bus error, its
//! name taken from [`ErrorName`](crate::service::ErrorName).

pub use crate::service::ServiceError as Error;
