//! # otp-core
//!
//! The sans-IO core of an OTP SMS verification service. It decides every rule of a
//! verification (PIN generation, template rendering, phone parsing, SMS part
//! counting, settings validation and the PENDING → VERIFIED / FAILED / EXPIRED /
//! CANCELLED state machine) and **does no I/O**: no network, no storage, no
//! clock and no global state. The caller passes `now` (Unix seconds) and a
//! [`rng::RandomSource`]; the caller stores the records and sends the messages
//! the core hands back. The same code compiles natively and to
//! `wasm32-unknown-unknown` (with the `wasm` feature it exports wasm-bindgen
//! bindings for the npm package).
//!
//! Call order for one OTP: [`otp::plan_otp`] turns an application's settings and a
//! request into a record to store and an SMS to send; [`otp::OtpRecord::verify`]
//! and [`otp::OtpRecord::cancel`] move a stored record; [`otp::OtpRecord::status_at`]
//! derives EXPIRED from `now`, so a stored record never needs a rewrite to expire.
//!
//! Status callbacks: [`webhook`] decides how they are retried and signed (one rule
//! for the worker and the npm package), [`settings::check_callback_url`] where they
//! may be sent.

pub mod app_policy;
mod decimal;
pub mod error;
pub mod fraud;
pub mod guard;
pub mod id;
#[cfg(any(feature = "wasm", feature = "fuzzing", test))]
mod json;
pub mod limits;
pub mod number;
pub mod numbering;
pub mod otp;
#[cfg(any(feature = "wasm", test))]
mod packed;
pub mod phone;
pub mod pin;
pub mod recipient;
pub mod rng;
pub mod secret;
pub mod settings;
pub mod sms;
pub mod template;
pub mod time;
#[cfg(feature = "wasm")]
pub mod wasm;
pub mod webhook;

pub use error::{Error, Result};

/// The npm bindings' JSON reader, for the cargo-fuzz targets only (feature `fuzzing`).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing {
    /// [`crate::json`]'s `from_str`: `None` for anything it refuses.
    pub fn json_from_str<T: serde::de::DeserializeOwned>(text: &str) -> Option<T> {
        crate::json::from_str(text).ok()
    }

    /// [`crate::json`]'s `to_string`.
    pub fn json_to_string<T: serde::Serialize>(value: &T) -> Option<String> {
        crate::json::to_string(value)
    }
}
