//! The npm bindings' own JSON reader (`src/json.rs`) against serde_json, on
//! untrusted text.
//!
//! Checks, for any UTF-8 input:
//! - nothing panics, however deep or long the input;
//! - read as a free-form value, it accepts exactly what serde_json accepts and
//!   gives the same value (same numbers, same strings, last duplicate key wins),
//!   and the bindings' writer turns that value into text both readers read back
//!   as the same value (numbers compared as JS sees them: the writer writes an
//!   integral float such as `153.0` as `153`, one number in JS);
//! - read as the core's types (settings, a request, a record), it accepts
//!   exactly what serde_json accepts and gives equal values, except for the one
//!   documented difference: an enum must be its name as a string (serde_json also
//!   takes `{"name": null}`), so serde_json may accept what ours refuses when the
//!   text holds an object where an enum goes. And where a type ignores part of
//!   the text (an unknown key, a field that takes anything), serde_json skips
//!   numbers without reading them, so it accepts numbers out of `f64`'s range
//!   there; ours reads every number and refuses them, as serde_json itself does
//!   when it reads the text as a value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_core::fuzzing::{json_from_str, json_to_string};
use otp_core::otp::OtpRecord;
use otp_core::settings::{OtpRequest, OtpSettings};
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::fmt::Debug;

/// Both readers on `text` as a `T`: the same answer, or (with `enum_objects`)
/// serde_json alone accepting.
fn agree<T: DeserializeOwned + PartialEq + Debug>(text: &str, enum_objects: bool) {
    let ours = json_from_str::<T>(text);
    let theirs = serde_json::from_str::<T>(text).ok();
    let not_a_value = || serde_json::from_str::<Value>(text).is_err();
    match (&ours, &theirs) {
        (Some(a), Some(b)) => assert_eq!(a, b, "different values for {text:?}"),
        (None, None) => {}
        (None, Some(_)) if enum_objects || not_a_value() => {}
        _ => panic!("ours {ours:?}, serde_json {theirs:?} for {text:?}"),
    }
}

/// `value` with every number as an `f64`, as JS holds it.
fn as_js(value: &Value) -> Value {
    match value {
        Value::Number(n) => n.as_f64().map_or(Value::Null, |f| Value::from(f)),
        Value::Array(items) => Value::Array(items.iter().map(as_js).collect()),
        Value::Object(map) => {
            Value::Object(map.iter().map(|(k, v)| (k.clone(), as_js(v))).collect())
        }
        other => other.clone(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    agree::<Value>(text, false);
    if let Some(value) = json_from_str::<Value>(text) {
        let written = json_to_string(&value).expect("a JSON value is writable");
        let expected = Some(as_js(&value));
        assert_eq!(
            json_from_str::<Value>(&written).map(|v| as_js(&v)),
            expected,
            "{written}"
        );
        assert_eq!(
            serde_json::from_str::<Value>(&written)
                .ok()
                .map(|v| as_js(&v)),
            expected,
            "{written}"
        );
    }
    let enum_objects = text.contains('{') && text.matches('{').count() > 1;
    agree::<OtpSettings>(text, enum_objects);
    agree::<OtpRequest>(text, enum_objects);
    agree::<OtpRecord>(text, enum_objects);
});
