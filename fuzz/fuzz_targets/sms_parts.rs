//! `sms::count_parts` on any text (lossy UTF-8 of the input).
//!
//! Checks: never panics; the encoding, units and parts agree with the text (see
//! `common::check_parts`); and dropping the last character never adds a part
//! when the encoding stays the same (the segmentation of a prefix is a prefix).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let whole = common::check_parts(&text);
    let mut shorter = text.clone().into_owned();
    if shorter.pop().is_some() {
        let prefix = common::check_parts(&shorter);
        if prefix.encoding == whole.encoding {
            assert!(prefix.units <= whole.units);
            assert!(
                prefix.parts <= whole.parts,
                "{shorter:?} -> {prefix:?} but {text:?} -> {whole:?}"
            );
        }
    }
});
