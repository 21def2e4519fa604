//! Checks shared by several targets (included with `#[path]`, not a crate).
#![allow(dead_code)]

use otp_core::sms::{count_parts, is_gsm7, SmsEncoding, SmsParts};

/// The characters of the GSM 03.38 extension table (2 septets each).
const GSM7_EXTENSION: &[char] = &['\u{0C}', '^', '{', '}', '\\', '[', '~', ']', '|', '€'];

/// `count_parts(text)`, checked against what the encoding implies:
/// GSM-7 units are the characters plus one escape per extension character,
/// UCS-2 units are the UTF-16 length; one part up to 160/70 units, else at
/// least `ceil(units / 153|67)` parts and no part but the last left more than
/// one unit short (a 2-unit character is never split).
pub fn check_parts(text: &str) -> SmsParts {
    let p = count_parts(text);
    let chars = text.chars().count() as u64;
    let units = u64::from(p.units);
    assert!(p.parts >= 1, "{p:?}");
    let (single, segment) = match p.encoding {
        SmsEncoding::Gsm7 => {
            assert!(is_gsm7(text));
            let ext = text.chars().filter(|c| GSM7_EXTENSION.contains(c)).count() as u64;
            assert_eq!(units, chars + ext, "GSM-7 septets of {text:?}");
            assert!(chars <= units && units <= 2 * chars);
            (160u64, 153u64)
        }
        SmsEncoding::Ucs2 => {
            assert!(!is_gsm7(text));
            assert!(!text.is_empty());
            assert_eq!(
                units,
                text.encode_utf16().count() as u64,
                "UTF-16 units of {text:?}"
            );
            assert!(chars <= units && units <= 2 * chars);
            (70, 67)
        }
    };
    let parts = u64::from(p.parts);
    if units <= single {
        assert_eq!(parts, 1, "{units} units fit one part: {p:?}");
    } else {
        assert!(parts >= units.div_ceil(segment), "too few parts: {p:?}");
        // Every part but the last holds at least segment - 1 units, the last at least 1.
        assert!((parts - 1) * (segment - 1) < units, "too many parts: {p:?}");
    }
    p
}
