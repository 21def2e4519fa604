//! `template::render`, `has_pin_placeholder` and `validate_template` on any template.
//!
//! Input: `template \0 pin \0 brand \0 ttl \0 webotp-domain`, each field as
//! (lossy) UTF-8; missing fields take the defaults `123456`, `Acme`, 600 and no
//! domain, so a seed file can be a plain template. `ttl` is decimal, or else its
//! first four bytes little-endian.
//!
//! Checks: `render` never panics and equals a naive reference renderer (one
//! left-to-right pass that tries every placeholder form at each position, the
//! WebOTP line appended); the output holds the PIN when `has_pin_placeholder`;
//! `has_pin_placeholder` agrees with the reference; `validate_template` is
//! `TemplateInvalid` for blank, `TemplateTooLong` over 1000 chars, else `Ok`
//! exactly when there is a PIN placeholder; `count_parts` of the output is
//! consistent (see `common::check_parts`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use otp_core::template::{
    has_pin_placeholder, render, validate_template, TemplateVars, MAX_TEMPLATE_CHARS,
};
use otp_core::Error;
use std::borrow::Cow;

#[path = "common.rs"]
mod common;

#[derive(Clone, Copy, PartialEq)]
enum Slot {
    Pin,
    Ttl,
    Brand,
}

/// Every placeholder form, as documented in `template.rs`.
const FORMS: &[(&str, Slot)] = &[
    ("{{pin}}", Slot::Pin),
    ("{{code}}", Slot::Pin),
    ("{pin}", Slot::Pin),
    ("{code}", Slot::Pin),
    ("{{ttl}}", Slot::Ttl),
    ("{ttl}", Slot::Ttl),
    ("{{brand}}", Slot::Brand),
    ("{{app}}", Slot::Brand),
    ("{brand}", Slot::Brand),
    ("{app}", Slot::Brand),
];

/// Reference rendering (without the WebOTP line) and whether a PIN slot was seen.
fn reference(template: &str, pin: &str, ttl: u32, brand: &str) -> (String, bool) {
    // Written out instead of `div_ceil`, which `render` itself uses.
    #[allow(clippy::manual_div_ceil)]
    let minutes = ((u64::from(ttl) + 59) / 60).to_string();
    let mut out = String::new();
    let mut has_pin = false;
    let mut i = 0;
    'scan: while i < template.len() {
        let rest = &template[i..];
        // At most one form can match at a position: the double-brace forms need
        // `{{`, the single-brace ones a letter after `{`. Longest first anyway.
        let mut best: Option<(&str, Slot)> = None;
        for &(form, slot) in FORMS {
            if rest.starts_with(form) && best.is_none_or(|(b, _)| form.len() > b.len()) {
                best = Some((form, slot));
            }
        }
        if let Some((form, slot)) = best {
            out.push_str(match slot {
                Slot::Pin => {
                    has_pin = true;
                    pin
                }
                Slot::Ttl => &minutes,
                Slot::Brand => brand,
            });
            i += form.len();
            continue 'scan;
        }
        let c = rest
            .chars()
            .next()
            .expect("i is below len on a char boundary");
        out.push(c);
        i += c.len_utf8();
    }
    (out, has_pin)
}

fn ttl_from(bytes: &[u8]) -> u32 {
    if let Some(n) = std::str::from_utf8(bytes).ok().and_then(|s| s.parse().ok()) {
        return n;
    }
    let mut b = [0u8; 4];
    let n = bytes.len().min(4);
    b[..n].copy_from_slice(&bytes[..n]);
    u32::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    let mut fields = data.split(|&b| b == 0);
    let template = String::from_utf8_lossy(fields.next().unwrap_or_default());
    let pin = fields
        .next()
        .map_or(Cow::Borrowed("123456"), String::from_utf8_lossy);
    let brand = fields
        .next()
        .map_or(Cow::Borrowed("Acme"), String::from_utf8_lossy);
    let ttl = fields.next().map_or(600, ttl_from);
    let domain = fields.next().map(String::from_utf8_lossy);

    let vars = TemplateVars {
        pin: &pin,
        ttl_seconds: ttl,
        brand: &brand,
        webotp_domain: domain.as_deref(),
    };
    let out = render(&template, &vars);

    let (mut expected, ref_has_pin) = reference(&template, &pin, ttl, &brand);
    if let Some(d) = domain.as_deref() {
        expected.push_str("\n\n@");
        expected.push_str(d);
        expected.push_str(" #");
        expected.push_str(&pin);
    }
    assert_eq!(out, expected, "render({template:?})");

    let has_pin = has_pin_placeholder(&template);
    assert_eq!(has_pin, ref_has_pin, "has_pin_placeholder({template:?})");
    if has_pin {
        assert!(out.contains(&*pin), "{out:?} lacks the PIN {pin:?}");
    }

    let validated = validate_template(&template);
    let chars = template.chars().count();
    let want = if template.trim().is_empty() {
        Err(Error::TemplateInvalid)
    } else if chars > MAX_TEMPLATE_CHARS {
        Err(Error::TemplateTooLong)
    } else if has_pin {
        Ok(())
    } else {
        Err(Error::TemplateInvalid)
    };
    assert_eq!(validated, want, "validate_template({template:?})");

    common::check_parts(&out);
});
