//! The wire adapters: one folder per API dialect, like Garage's
//! `src/api/{s3,k2v,admin,common}`. Each parses its requests into values, calls
//! the verification service ([`crate::service`]) and writes its dialect's replies
//! and errors; `common` holds what they share. A new dialect is a new folder.

pub(crate) mod admin;
pub(crate) mod common;
pub(crate) mod dexatel;
pub(crate) mod dlr;
pub(crate) mod smscx;
