//! Phone numbers: parse what a user typed into E.164 (`+33612424111`) and find
//! the country it belongs to, with static tables only (no regex, no phone library).
//!
//! What [`parse_phone`] accepts:
//! - Separators are dropped: Unicode whitespace (incl. non-breaking spaces),
//!   `.`, `-` (and the Unicode dashes), `(`, `)`, `[`, `]`, `/` and invisible
//!   format marks (zero-width space, bidi marks, BOM) that copy-paste leaves behind.
//! - Digits are ASCII `0-9`; fullwidth and Arabic-Indic digits are read as the
//!   same digits. Any other character (letters, `#`, `*`, `;`, …) is
//!   [`Error::PhoneNumberInvalid`].
//! - `+` (or fullwidth `＋`) may appear once, before the first digit (so
//!   `(+44) 20…` works); a leading `00` also means international format.
//!   Anywhere else a `+` is [`Error::PhoneNumberInvalid`].
//! - International numbers start with an assigned ITU-T country calling code.
//!   The non-geographic codes (+800, +808, +870, +878, +881-+883, +888, +979)
//!   belong to no country and are [`Error::PhoneCountryCodeUnknown`].
//! - A national trunk prefix is dropped, in national **and** international
//!   format, so `+44 (0)20 7946 0958`, `+44 020 7946 0958` and `020 7946 0958`
//!   (GB) all give `+442079460958`. The prefix is `0` in most countries, `1`
//!   in the NANP (only before 10 digits), `8` in Russia/Kazakhstan (before 10
//!   digits), `06` in Hungary, and a few more; it is dropped only if what
//!   follows does not itself start with `0`. Where a leading `0` belongs to
//!   the number (Italy, Vatican, San Marino, Côte d'Ivoire, Congo, Benin,
//!   Burkina Faso, Tajikistan) nothing is dropped: `+39 06…` stays `+3906…`.
//! - Calling code plus national number must have 7 to 15 digits.
//!
//! The country ([`PhoneNumber::country_iso`]) comes from the number: +1 by its
//! NANP area code (US, CA and the Caribbean/Pacific territories), +7 by the
//! first national digit (6/7 Kazakhstan, else Russia), a few shared codes by a
//! clean prefix (GG/JE/IM under +44, AX under +358, VA under +39, YT under
//! +262, BQ under +599, SJ under +47, EH under +212, CC/CX under +61, TA under
//! +290), else the code's main country. When the number does not decide
//! between countries that share its code, a `country_iso` passed by the caller
//! that shares the code wins (`+44 7700 900123` with `GG` is GG).

use core::fmt;

use crate::error::{Error, Result};

/// Fewest digits (calling code + national number) a number may have.
pub const MIN_DIGITS: usize = 7;
/// Most digits (calling code + national number) a number may have (ITU-T E.164).
pub const MAX_DIGITS: usize = 15;

/// Digits kept while scanning; more than this can never shrink to 15
/// (`00` + 15 digits + a 3-digit trunk prefix is 20).
const SCAN_DIGITS: usize = 24;

/// A valid phone number in E.164 form, with its calling code and country.
/// `Debug` prints it masked, so a stray log line never holds a full number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    code_len: u8,
    calling_code: u16,
    country_iso: &'static str,
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneNumber")
            .field("masked", &self.masked())
            .field("country_iso", &self.country_iso)
            .finish()
    }
}

impl PhoneNumber {
    /// The number in E.164 form: `+` then 7-15 digits, e.g. `+33612424111`.
    pub fn e164(&self) -> &str {
        &self.e164
    }

    /// The E.164 digits without the `+` (`33612424111`), as Dexatel wants them.
    pub fn digits(&self) -> &str {
        // `get`, not indexing: the bounds always hold (the `+` and the calling code
        // are ASCII), and `get` carries no panic path into the wasm builds.
        self.e164.get(1..).unwrap_or_default()
    }

    /// The national significant number, after the calling code (`612424111`).
    pub fn national_number(&self) -> &str {
        self.e164
            .get(1 + usize::from(self.code_len)..)
            .unwrap_or_default()
    }

    /// The ITU-T country calling code (`33`).
    pub fn calling_code(&self) -> u16 {
        self.calling_code
    }

    /// The ISO 3166-1 alpha-2 code of the number's country (`FR`).
    pub fn country_iso(&self) -> &'static str {
        self.country_iso
    }

    /// The number for logs: `+`, the calling code, then `*` for every national
    /// digit but the last three (`+33******111`).
    pub fn masked(&self) -> String {
        let national = self.national_number();
        let hidden = national.len().saturating_sub(3);
        let mut out = String::with_capacity(self.e164.len());
        out.push('+');
        out.push_str(
            self.e164
                .get(1..1 + usize::from(self.code_len))
                .unwrap_or_default(),
        );
        out.extend(core::iter::repeat_n('*', hidden));
        out.push_str(national.get(hidden..).unwrap_or_default());
        out
    }
}

impl fmt::Display for PhoneNumber {
    /// Writes the E.164 form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

/// Parses a phone number as typed into E.164 (see the module docs for the rules).
///
/// `country_iso` (ISO 3166-1 alpha-2, any case) is required for a national
/// number (no `+` or `00`); with an international number it is optional but,
/// if not empty, must still be a known code.
pub fn parse_phone(input: &str, country_iso: Option<&str>) -> Result<PhoneNumber> {
    let scan = Scan::new(input.trim())?;
    if scan.len == 0 {
        return Err(Error::PhoneNumberEmpty);
    }

    let given = match country_iso.map(str::trim).filter(|s| !s.is_empty()) {
        Some(iso) => Some(find_country(iso).ok_or(Error::CountryIsoInvalid)?),
        None => None,
    };

    let digits = &scan.digits[..scan.len];
    let international = scan.plus || digits.starts_with(b"00");
    let (calling_code, code_len, national) = if international {
        let rest = if scan.plus { digits } else { &digits[2..] };
        let (code, code_len) = split_calling_code(rest)?;
        (code, code_len, &rest[code_len..])
    } else {
        let (_, code) = given.ok_or(Error::CountryIsoEmpty)?;
        (code, decimal_len(code), digits)
    };
    if scan.overflow {
        return Err(Error::PhoneNumberTooLong);
    }

    let national = strip_trunk_prefix(calling_code, national);
    let total = code_len + national.len();
    if total < MIN_DIGITS {
        return Err(Error::PhoneNumberTooShort);
    }
    if total > MAX_DIGITS {
        return Err(Error::PhoneNumberTooLong);
    }

    let (derived, decided) = country_of(calling_code, national);
    let country_iso = match given {
        Some((iso, code)) if !decided && code == calling_code => iso,
        _ => derived,
    };

    let mut e164 = String::with_capacity(1 + total);
    e164.push('+');
    push_decimal(&mut e164, calling_code);
    e164.extend(national.iter().map(|&d| char::from(d)));
    Ok(PhoneNumber {
        e164,
        code_len: code_len as u8,
        calling_code,
        country_iso,
    })
}

/// The calling code of a country (ISO 3166-1 alpha-2, any case): `FR` → 33.
pub fn calling_code_for_country(iso: &str) -> Option<u16> {
    find_country(iso).map(|(_, code)| code)
}

/// Whether `iso` (any case) is an ISO 3166-1 alpha-2 code with a calling code.
pub fn is_known_country(iso: &str) -> bool {
    find_country(iso).is_some()
}

/// The digits of an input, checked for characters no phone number has.
struct Scan {
    /// ASCII digits (`b'0'..=b'9'`), at most [`SCAN_DIGITS`].
    digits: [u8; SCAN_DIGITS],
    len: usize,
    /// More than [`SCAN_DIGITS`] digits were seen.
    overflow: bool,
    /// A `+` came before the first digit.
    plus: bool,
}

impl Scan {
    fn new(input: &str) -> Result<Scan> {
        let mut scan = Scan {
            digits: [0; SCAN_DIGITS],
            len: 0,
            overflow: false,
            plus: false,
        };
        for c in input.chars() {
            if let Some(d) = digit_value(c) {
                if scan.len < SCAN_DIGITS {
                    scan.digits[scan.len] = b'0' + d;
                    scan.len += 1;
                } else {
                    scan.overflow = true;
                }
            } else if c == '+' || c == '\u{FF0B}' {
                if scan.plus || scan.len > 0 {
                    return Err(Error::PhoneNumberInvalid);
                }
                scan.plus = true;
            } else if !is_separator(c) {
                return Err(Error::PhoneNumberInvalid);
            }
        }
        Ok(scan)
    }
}

/// The value of a decimal digit: ASCII, fullwidth or (Extended) Arabic-Indic.
fn digit_value(c: char) -> Option<u8> {
    let zero = match c {
        '0'..='9' => '0',
        '\u{FF10}'..='\u{FF19}' => '\u{FF10}',
        '\u{0660}'..='\u{0669}' => '\u{0660}',
        '\u{06F0}'..='\u{06F9}' => '\u{06F0}',
        _ => return None,
    };
    u8::try_from(u32::from(c) - u32::from(zero)).ok()
}

/// Characters people put between digits, and invisible marks copy-paste adds.
fn is_separator(c: char) -> bool {
    c.is_whitespace()
        || matches!(
            c,
            '.' | '-'
                | '('
                | ')'
                | '['
                | ']'
                | '/'
                | '\u{00AD}' // soft hyphen
                | '\u{2010}'..='\u{2015}' // hyphens and dashes
                | '\u{2212}' // minus sign
                | '\u{FE58}'
                | '\u{FE63}'
                | '\u{FF08}' // fullwidth ( )
                | '\u{FF09}'
                | '\u{FF0D}' // fullwidth - . /
                | '\u{FF0E}'
                | '\u{FF0F}'
                | '\u{FF3B}' // fullwidth [ ]
                | '\u{FF3D}'
                | '\u{200B}'..='\u{200F}' // zero-width space/joiners, LRM, RLM
                | '\u{202A}'..='\u{202E}' // bidi embeddings and overrides
                | '\u{2060}'..='\u{2064}' // word joiner, invisible operators
                | '\u{2066}'..='\u{2069}' // bidi isolates
                | '\u{FEFF}' // byte order mark
        )
}

/// Splits the calling code (1-3 digits, a prefix-free set) off international digits.
fn split_calling_code(digits: &[u8]) -> Result<(u16, usize)> {
    if digits.first() == Some(&b'0') {
        return Err(Error::PhoneCountryCodeUnknown);
    }
    let mut code = 0u16;
    for (i, &d) in digits.iter().take(3).enumerate() {
        code = code * 10 + u16::from(d - b'0');
        if CALLING_CODES
            .binary_search_by_key(&code, |&(c, _)| c)
            .is_ok()
        {
            return Ok((code, i + 1));
        }
    }
    if digits.len() < 3 {
        // The number ends before a code could be read: "+9", "+99".
        Err(Error::PhoneNumberTooShort)
    } else {
        Err(Error::PhoneCountryCodeUnknown)
    }
}

/// Drops the national trunk prefixes (`0` in most countries) from a national number.
///
/// Each rule is `(prefix, length)`: the prefix is dropped when the number has
/// exactly `length` digits with it (0: any length) and what follows does not
/// start with `0`. The first rule that applies wins, and the rules are applied
/// again to what is left until none applies, so a number this returns is one
/// no rule changes: parsing its E.164 again gives the same number (with one
/// pass, Turkmenistan's `0 8 12345678` left `812345678`, which `+993812345678`
/// re-parsed as `+99312345678`).
fn strip_trunk_prefix(calling_code: u16, mut national: &[u8]) -> &[u8] {
    'again: loop {
        for &(prefix, len) in trunk_rules(calling_code) {
            if national.starts_with(prefix.as_bytes())
                && (len == 0 || national.len() == len)
                && national.get(prefix.len()) != Some(&b'0')
            {
                national = &national[prefix.len()..];
                continue 'again;
            }
        }
        return national;
    }
}

/// The trunk prefix rules of a calling code (see [`strip_trunk_prefix`]).
fn trunk_rules(calling_code: u16) -> &'static [(&'static str, usize)] {
    match calling_code {
        // NANP: 1 + 10 digits.
        1 => &[("1", 11)],
        // Russia and Kazakhstan: 8 + 10 digits; also "7 912…" typed as national.
        7 => &[("8", 11), ("7", 11)],
        // Hungary: 06.
        36 => &[("06", 0)],
        // Mexico: the retired 01 / 044 / 045 prefixes and the mobile "1" after +52.
        52 => &[("044", 13), ("045", 13), ("01", 12), ("1", 11)],
        // Gabon: 0 only before the 8-digit 11/6x/7x ranges; 0[2-7] mobiles keep it.
        241 => &[("0", 9)],
        // Rwanda: 0 before 9-digit mobiles; 06 fixed lines (8 digits) keep it.
        250 => &[("0", 10)],
        // Lithuania: 8 (or 0) + 8 digits.
        370 => &[("8", 9), ("0", 9)],
        // Belarus: 8 0 + 9 digits, or 0 alone.
        375 => &[("80", 11), ("0", 0)],
        // Turkmenistan: 8 + 8 digits.
        993 => &[("8", 9), ("0", 0)],
        // Uzbekistan: the old 8 + 9 digits.
        998 => &[("8", 10), ("0", 0)],
        // The leading 0 is part of the number: Italy/Vatican, San Marino, Côte
        // d'Ivoire, Burkina Faso, Benin, Congo, Tajikistan.
        39 | 378 | 225 | 226 | 229 | 242 | 992 => &[],
        _ => &[("0", 0)],
    }
}

/// The country of a number, and whether the number decides it (rather than
/// falling back to the main country of a shared calling code).
fn country_of(calling_code: u16, national: &[u8]) -> (&'static str, bool) {
    match calling_code {
        1 => {
            let area = national
                .iter()
                .take(3)
                .fold(0u16, |acc, &d| acc * 10 + u16::from(d - b'0'));
            let iso = NANP_AREAS
                .binary_search_by_key(&area, |&(a, _)| a)
                .map_or("US", |i| NANP_AREAS[i].1);
            (iso, true)
        }
        7 => match national.first() {
            Some(b'6' | b'7') => ("KZ", true),
            _ => ("RU", true),
        },
        _ => {
            for &(code, prefix, iso) in SHARED_CODE_PREFIXES {
                if code == calling_code && national.starts_with(prefix.as_bytes()) {
                    return (iso, true);
                }
            }
            let main = CALLING_CODES
                .binary_search_by_key(&calling_code, |&(c, _)| c)
                .map_or("", |i| CALLING_CODES[i].1);
            (main, false)
        }
    }
}

/// The table entry of an ISO code, looked up case-insensitively.
fn find_country(iso: &str) -> Option<(&'static str, u16)> {
    let b = iso.as_bytes();
    if b.len() != 2 || !b.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let key = [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()];
    COUNTRIES
        .binary_search_by(|&(c, _)| c.as_bytes().cmp(&key[..]))
        .ok()
        .map(|i| COUNTRIES[i])
}

/// How many decimal digits `n` has (calling codes have 1 to 3).
fn decimal_len(n: u16) -> usize {
    match n {
        0..=9 => 1,
        10..=99 => 2,
        100..=999 => 3,
        1000..=9999 => 4,
        _ => 5,
    }
}

/// Appends `n` in decimal.
fn push_decimal(out: &mut String, n: u16) {
    let len = decimal_len(n);
    for i in (0..len).rev() {
        let d = (n / 10u16.pow(i as u32)) % 10;
        out.push(char::from(b'0' + d as u8));
    }
}

// ---------------------------------------------------------------------------
// Tables. All sorted by their key (the tests check it) for binary search.
// Sources: ITU-T E.164 assignments as kept by libphonenumber's metadata, plus
// ISO countries served by a shared code that it leaves out (AQ, GS, PN, TF).
// AC (Ascension), TA (Tristan da Cunha) and XK (Kosovo) are not officially
// assigned ISO 3166-1 codes, but every SMS provider uses them.
// ---------------------------------------------------------------------------

/// Every assigned geographic calling code and its main country.
#[rustfmt::skip]
const CALLING_CODES: &[(u16, &str)] = &[
    (1, "US"), (7, "RU"), (20, "EG"), (27, "ZA"), (30, "GR"), (31, "NL"), (32, "BE"), (33, "FR"),
    (34, "ES"), (36, "HU"), (39, "IT"), (40, "RO"), (41, "CH"), (43, "AT"), (44, "GB"), (45, "DK"),
    (46, "SE"), (47, "NO"), (48, "PL"), (49, "DE"), (51, "PE"), (52, "MX"), (53, "CU"), (54, "AR"),
    (55, "BR"), (56, "CL"), (57, "CO"), (58, "VE"), (60, "MY"), (61, "AU"), (62, "ID"), (63, "PH"),
    (64, "NZ"), (65, "SG"), (66, "TH"), (81, "JP"), (82, "KR"), (84, "VN"), (86, "CN"), (90, "TR"),
    (91, "IN"), (92, "PK"), (93, "AF"), (94, "LK"), (95, "MM"), (98, "IR"), (211, "SS"), (212, "MA"),
    (213, "DZ"), (216, "TN"), (218, "LY"), (220, "GM"), (221, "SN"), (222, "MR"), (223, "ML"), (224, "GN"),
    (225, "CI"), (226, "BF"), (227, "NE"), (228, "TG"), (229, "BJ"), (230, "MU"), (231, "LR"), (232, "SL"),
    (233, "GH"), (234, "NG"), (235, "TD"), (236, "CF"), (237, "CM"), (238, "CV"), (239, "ST"), (240, "GQ"),
    (241, "GA"), (242, "CG"), (243, "CD"), (244, "AO"), (245, "GW"), (246, "IO"), (247, "AC"), (248, "SC"),
    (249, "SD"), (250, "RW"), (251, "ET"), (252, "SO"), (253, "DJ"), (254, "KE"), (255, "TZ"), (256, "UG"),
    (257, "BI"), (258, "MZ"), (260, "ZM"), (261, "MG"), (262, "RE"), (263, "ZW"), (264, "NA"), (265, "MW"),
    (266, "LS"), (267, "BW"), (268, "SZ"), (269, "KM"), (290, "SH"), (291, "ER"), (297, "AW"), (298, "FO"),
    (299, "GL"), (350, "GI"), (351, "PT"), (352, "LU"), (353, "IE"), (354, "IS"), (355, "AL"), (356, "MT"),
    (357, "CY"), (358, "FI"), (359, "BG"), (370, "LT"), (371, "LV"), (372, "EE"), (373, "MD"), (374, "AM"),
    (375, "BY"), (376, "AD"), (377, "MC"), (378, "SM"), (380, "UA"), (381, "RS"), (382, "ME"), (383, "XK"),
    (385, "HR"), (386, "SI"), (387, "BA"), (389, "MK"), (420, "CZ"), (421, "SK"), (423, "LI"), (500, "FK"),
    (501, "BZ"), (502, "GT"), (503, "SV"), (504, "HN"), (505, "NI"), (506, "CR"), (507, "PA"), (508, "PM"),
    (509, "HT"), (590, "GP"), (591, "BO"), (592, "GY"), (593, "EC"), (594, "GF"), (595, "PY"), (596, "MQ"),
    (597, "SR"), (598, "UY"), (599, "CW"), (670, "TL"), (672, "NF"), (673, "BN"), (674, "NR"), (675, "PG"),
    (676, "TO"), (677, "SB"), (678, "VU"), (679, "FJ"), (680, "PW"), (681, "WF"), (682, "CK"), (683, "NU"),
    (685, "WS"), (686, "KI"), (687, "NC"), (688, "TV"), (689, "PF"), (690, "TK"), (691, "FM"), (692, "MH"),
    (850, "KP"), (852, "HK"), (853, "MO"), (855, "KH"), (856, "LA"), (880, "BD"), (886, "TW"), (960, "MV"),
    (961, "LB"), (962, "JO"), (963, "SY"), (964, "IQ"), (965, "KW"), (966, "SA"), (967, "YE"), (968, "OM"),
    (970, "PS"), (971, "AE"), (972, "IL"), (973, "BH"), (974, "QA"), (975, "BT"), (976, "MN"), (977, "NP"),
    (992, "TJ"), (993, "TM"), (994, "AZ"), (995, "GE"), (996, "KG"), (998, "UZ"),
];

/// Every country (ISO 3166-1 alpha-2) with a calling code, shared codes included.
#[rustfmt::skip]
const COUNTRIES: &[(&str, u16)] = &[
    ("AC", 247), ("AD", 376), ("AE", 971), ("AF", 93), ("AG", 1), ("AI", 1), ("AL", 355), ("AM", 374),
    ("AO", 244), ("AQ", 672), ("AR", 54), ("AS", 1), ("AT", 43), ("AU", 61), ("AW", 297), ("AX", 358),
    ("AZ", 994), ("BA", 387), ("BB", 1), ("BD", 880), ("BE", 32), ("BF", 226), ("BG", 359), ("BH", 973),
    ("BI", 257), ("BJ", 229), ("BL", 590), ("BM", 1), ("BN", 673), ("BO", 591), ("BQ", 599), ("BR", 55),
    ("BS", 1), ("BT", 975), ("BW", 267), ("BY", 375), ("BZ", 501), ("CA", 1), ("CC", 61), ("CD", 243),
    ("CF", 236), ("CG", 242), ("CH", 41), ("CI", 225), ("CK", 682), ("CL", 56), ("CM", 237), ("CN", 86),
    ("CO", 57), ("CR", 506), ("CU", 53), ("CV", 238), ("CW", 599), ("CX", 61), ("CY", 357), ("CZ", 420),
    ("DE", 49), ("DJ", 253), ("DK", 45), ("DM", 1), ("DO", 1), ("DZ", 213), ("EC", 593), ("EE", 372),
    ("EG", 20), ("EH", 212), ("ER", 291), ("ES", 34), ("ET", 251), ("FI", 358), ("FJ", 679), ("FK", 500),
    ("FM", 691), ("FO", 298), ("FR", 33), ("GA", 241), ("GB", 44), ("GD", 1), ("GE", 995), ("GF", 594),
    ("GG", 44), ("GH", 233), ("GI", 350), ("GL", 299), ("GM", 220), ("GN", 224), ("GP", 590), ("GQ", 240),
    ("GR", 30), ("GS", 500), ("GT", 502), ("GU", 1), ("GW", 245), ("GY", 592), ("HK", 852), ("HN", 504),
    ("HR", 385), ("HT", 509), ("HU", 36), ("ID", 62), ("IE", 353), ("IL", 972), ("IM", 44), ("IN", 91),
    ("IO", 246), ("IQ", 964), ("IR", 98), ("IS", 354), ("IT", 39), ("JE", 44), ("JM", 1), ("JO", 962),
    ("JP", 81), ("KE", 254), ("KG", 996), ("KH", 855), ("KI", 686), ("KM", 269), ("KN", 1), ("KP", 850),
    ("KR", 82), ("KW", 965), ("KY", 1), ("KZ", 7), ("LA", 856), ("LB", 961), ("LC", 1), ("LI", 423),
    ("LK", 94), ("LR", 231), ("LS", 266), ("LT", 370), ("LU", 352), ("LV", 371), ("LY", 218), ("MA", 212),
    ("MC", 377), ("MD", 373), ("ME", 382), ("MF", 590), ("MG", 261), ("MH", 692), ("MK", 389), ("ML", 223),
    ("MM", 95), ("MN", 976), ("MO", 853), ("MP", 1), ("MQ", 596), ("MR", 222), ("MS", 1), ("MT", 356),
    ("MU", 230), ("MV", 960), ("MW", 265), ("MX", 52), ("MY", 60), ("MZ", 258), ("NA", 264), ("NC", 687),
    ("NE", 227), ("NF", 672), ("NG", 234), ("NI", 505), ("NL", 31), ("NO", 47), ("NP", 977), ("NR", 674),
    ("NU", 683), ("NZ", 64), ("OM", 968), ("PA", 507), ("PE", 51), ("PF", 689), ("PG", 675), ("PH", 63),
    ("PK", 92), ("PL", 48), ("PM", 508), ("PN", 64), ("PR", 1), ("PS", 970), ("PT", 351), ("PW", 680),
    ("PY", 595), ("QA", 974), ("RE", 262), ("RO", 40), ("RS", 381), ("RU", 7), ("RW", 250), ("SA", 966),
    ("SB", 677), ("SC", 248), ("SD", 249), ("SE", 46), ("SG", 65), ("SH", 290), ("SI", 386), ("SJ", 47),
    ("SK", 421), ("SL", 232), ("SM", 378), ("SN", 221), ("SO", 252), ("SR", 597), ("SS", 211), ("ST", 239),
    ("SV", 503), ("SX", 1), ("SY", 963), ("SZ", 268), ("TA", 290), ("TC", 1), ("TD", 235), ("TF", 262),
    ("TG", 228), ("TH", 66), ("TJ", 992), ("TK", 690), ("TL", 670), ("TM", 993), ("TN", 216), ("TO", 676),
    ("TR", 90), ("TT", 1), ("TV", 688), ("TW", 886), ("TZ", 255), ("UA", 380), ("UG", 256), ("US", 1),
    ("UY", 598), ("UZ", 998), ("VA", 39), ("VC", 1), ("VE", 58), ("VG", 1), ("VI", 1), ("VN", 84),
    ("VU", 678), ("WF", 681), ("WS", 685), ("XK", 383), ("YE", 967), ("YT", 262), ("ZA", 27), ("ZM", 260),
    ("ZW", 263),
];

/// NANP area codes outside the United States (every other +1 area is US).
/// Canada: the CRTC/CNA list, with the non-geographic 600 and 622 and the
/// announced 273 (Quebec, 2027).
#[rustfmt::skip]
const NANP_AREAS: &[(u16, &str)] = &[
    (204, "CA"), (226, "CA"), (236, "CA"), (242, "BS"), (246, "BB"), (249, "CA"), (250, "CA"), (257, "CA"),
    (263, "CA"), (264, "AI"), (268, "AG"), (273, "CA"), (284, "VG"), (289, "CA"), (306, "CA"), (340, "VI"),
    (343, "CA"), (345, "KY"), (354, "CA"), (365, "CA"), (367, "CA"), (368, "CA"), (382, "CA"), (403, "CA"),
    (416, "CA"), (418, "CA"), (428, "CA"), (431, "CA"), (437, "CA"), (438, "CA"), (441, "BM"), (450, "CA"),
    (468, "CA"), (473, "GD"), (474, "CA"), (506, "CA"), (514, "CA"), (519, "CA"), (548, "CA"), (579, "CA"),
    (581, "CA"), (584, "CA"), (587, "CA"), (600, "CA"), (604, "CA"), (613, "CA"), (622, "CA"), (639, "CA"),
    (647, "CA"), (649, "TC"), (658, "JM"), (664, "MS"), (670, "MP"), (671, "GU"), (672, "CA"), (683, "CA"),
    (684, "AS"), (705, "CA"), (709, "CA"), (721, "SX"), (742, "CA"), (753, "CA"), (758, "LC"), (767, "DM"),
    (778, "CA"), (780, "CA"), (782, "CA"), (784, "VC"), (787, "PR"), (807, "CA"), (809, "DO"), (819, "CA"),
    (825, "CA"), (829, "DO"), (849, "DO"), (867, "CA"), (868, "TT"), (869, "KN"), (873, "CA"), (876, "JM"),
    (879, "CA"), (902, "CA"), (905, "CA"), (939, "PR"), (942, "CA"),
];

/// National-number prefixes that pick one country out of a shared calling code.
#[rustfmt::skip]
const SHARED_CODE_PREFIXES: &[(u16, &str, &str)] = &[
    (39, "06698", "VA"),
    (44, "1481", "GG"), (44, "7781", "GG"), (44, "7839", "GG"), (44, "79111", "GG"), (44, "79117", "GG"),
    (44, "1534", "JE"), (44, "7509", "JE"), (44, "77003", "JE"), (44, "77007", "JE"), (44, "77008", "JE"),
    (44, "7797", "JE"), (44, "7829", "JE"), (44, "7937", "JE"),
    (44, "1624", "IM"), (44, "74576", "IM"), (44, "7524", "IM"), (44, "7624", "IM"), (44, "7924", "IM"),
    (47, "79", "SJ"),
    (61, "89162", "CC"), (61, "89164", "CX"),
    (212, "5288", "EH"), (212, "5289", "EH"),
    (262, "269", "YT"), (262, "2689", "YT"), (262, "639", "YT"), (262, "7093", "YT"),
    (290, "8", "TA"),
    (358, "18", "AX"),
    (599, "3", "BQ"), (599, "4", "BQ"), (599, "7", "BQ"),
];

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn e164(input: &str, iso: Option<&str>) -> String {
        match parse_phone(input, iso) {
            Ok(p) => p.e164().to_owned(),
            Err(e) => panic!("{input:?} ({iso:?}) failed: {e:?}"),
        }
    }

    fn country(input: &str, iso: Option<&str>) -> &'static str {
        parse_phone(input, iso).unwrap().country_iso()
    }

    fn err(input: &str, iso: Option<&str>) -> Error {
        match parse_phone(input, iso) {
            Ok(p) => panic!("{input:?} ({iso:?}) parsed as {p:?}"),
            Err(e) => e,
        }
    }

    #[test]
    fn e164_input_gives_all_views_of_the_number() {
        let p = parse_phone("+33612424111", None).unwrap();
        assert_eq!(p.e164(), "+33612424111");
        assert_eq!(p.digits(), "33612424111");
        assert_eq!(p.national_number(), "612424111");
        assert_eq!(p.calling_code(), 33);
        assert_eq!(p.country_iso(), "FR");
        assert_eq!(p.masked(), "+33******111");
        assert_eq!(p.to_string(), "+33612424111");
    }

    #[test]
    fn double_zero_prefix_means_international() {
        assert_eq!(e164("0033 6 12 42 41 11", None), "+33612424111");
        assert_eq!(e164("00 44 20 7946 0958", Some("FR")), "+442079460958");
    }

    #[test]
    fn national_number_takes_the_country_code_and_drops_the_trunk_zero() {
        let p = parse_phone("06 12 42 41 11", Some("FR")).unwrap();
        assert_eq!(p.e164(), "+33612424111");
        assert_eq!(p.country_iso(), "FR");
        assert_eq!(e164("06.12.42.41.11", Some("fr")), "+33612424111");
        assert_eq!(e164("612424111", Some(" Fr ")), "+33612424111");
        assert_eq!(e164("0151 2345 6789", Some("DE")), "+4915123456789");
        assert_eq!(e164("0412 345 678", Some("AU")), "+61412345678");
        assert_eq!(e164("090-1234-5678", Some("JP")), "+819012345678");
    }

    #[test]
    fn bracketed_trunk_zero_in_international_format_is_dropped() {
        assert_eq!(e164("+44 (0)20 7946 0958", None), "+442079460958");
        assert_eq!(e164("+44 (0) 7700 900123", None), "+447700900123");
        // The same 0 written without brackets is a misplaced trunk prefix too.
        assert_eq!(e164("+44 020 7946 0958", None), "+442079460958");
        assert_eq!(e164("+33 06 12 42 41 11", None), "+33612424111");
        assert_eq!(e164("(0)20 7946 0958", Some("GB")), "+442079460958");
    }

    #[test]
    fn italian_leading_zero_is_part_of_the_number() {
        let p = parse_phone("06 1234 5678", Some("IT")).unwrap();
        assert_eq!(p.e164(), "+390612345678");
        assert_eq!(p.country_iso(), "IT");
        assert_eq!(e164("+39 06 1234 5678", None), "+390612345678");
        assert_eq!(e164("+39 (0)6 1234 5678", None), "+390612345678");
        assert_eq!(e164("0549 123456", Some("SM")), "+3780549123456");
        assert_eq!(e164("07 12 34 56 78", Some("CI")), "+2250712345678");
        assert_eq!(e164("01 97 12 34 56", Some("BJ")), "+2290197123456");
        let vatican = parse_phone("06 698 12345", Some("VA")).unwrap();
        assert_eq!(vatican.e164(), "+390669812345");
        assert_eq!(vatican.country_iso(), "VA");
    }

    #[test]
    fn nanp_country_comes_from_the_area_code() {
        assert_eq!(country("+1 212 555 0123", None), "US");
        assert_eq!(country("+1 (416) 555-0123", None), "CA");
        assert_eq!(country("+1 604 555 0123", None), "CA");
        assert_eq!(country("+1 787 555 0123", None), "PR");
        assert_eq!(country("+1 939 555 0123", None), "PR");
        assert_eq!(country("+1 876 555 0123", None), "JM");
        assert_eq!(country("+1 658 555 0123", None), "JM");
        assert_eq!(country("+1 809 555 0123", None), "DO");
        assert_eq!(country("+1 829 555 0123", None), "DO");
        assert_eq!(country("+1 849 555 0123", None), "DO");
        assert_eq!(country("+1 868 555 0123", None), "TT");
        assert_eq!(country("+1 671 555 0123", None), "GU");
        assert_eq!(country("+1 441 555 0123", None), "BM");
        // An unlisted area code is US, whatever country was passed.
        assert_eq!(country("212 555 0123", Some("CA")), "US");
        assert_eq!(country("416 555 0123", Some("US")), "CA");
    }

    #[test]
    fn nanp_national_number_may_carry_the_leading_one() {
        assert_eq!(e164("1 (212) 555-0123", Some("US")), "+12125550123");
        assert_eq!(e164("(212) 555-0123", Some("US")), "+12125550123");
        assert_eq!(e164("+1 1 212 555 0123", None), "+12125550123");
        assert_eq!(e164("1-876-555-0123", Some("JM")), "+18765550123");
    }

    #[test]
    fn every_nanp_area_maps_to_a_nanp_country() {
        for &(area, iso) in NANP_AREAS {
            let number = format!("+1{area}5550123");
            assert_eq!(country(&number, None), iso, "{number}");
            assert_eq!(calling_code_for_country(iso), Some(1), "{iso}");
        }
        for iso in [
            "PR", "DO", "JM", "TT", "BS", "BB", "AG", "AI", "BM", "VG", "KY", "DM",
        ] {
            assert!(NANP_AREAS.iter().any(|&(_, i)| i == iso), "{iso}");
        }
        for iso in [
            "GD", "MS", "KN", "LC", "VC", "TC", "SX", "VI", "GU", "AS", "MP", "CA",
        ] {
            assert!(NANP_AREAS.iter().any(|&(_, i)| i == iso), "{iso}");
        }
    }

    #[test]
    fn plus_seven_splits_kazakhstan_from_russia() {
        assert_eq!(country("+7 912 345 67 89", None), "RU");
        assert_eq!(country("+7 495 123 45 67", None), "RU");
        assert_eq!(country("+7 701 123 45 67", None), "KZ");
        assert_eq!(country("+7 600 123 45 67", None), "KZ");
        // National: 8 is the trunk prefix before 10 digits.
        assert_eq!(e164("8 (912) 345-67-89", Some("RU")), "+79123456789");
        assert_eq!(country("8 701 123 45 67", Some("RU")), "KZ");
        assert_eq!(e164("8 800 555 35 35", Some("RU")), "+78005553535");
        assert_eq!(e164("701 123 45 67", Some("KZ")), "+77011234567");
    }

    #[test]
    fn three_digit_calling_codes_are_recognised() {
        let ua = parse_phone("+380 50 123 4567", None).unwrap();
        assert_eq!((ua.calling_code(), ua.country_iso()), (380, "UA"));
        assert_eq!(ua.national_number(), "501234567");
        let ae = parse_phone("+971 50 123 4567", None).unwrap();
        assert_eq!((ae.calling_code(), ae.country_iso()), (971, "AE"));
        let bd = parse_phone("+880 1712-345678", None).unwrap();
        assert_eq!((bd.calling_code(), bd.country_iso()), (880, "BD"));
        assert_eq!(e164("050 123 4567", Some("UA")), "+380501234567");
        assert_eq!(country("+420 601 123 456", None), "CZ");
        assert_eq!(country("+599 9 461 2345", None), "CW");
        assert_eq!(country("+692 455 1234", None), "MH");
        assert_eq!(country("+998 90 123 45 67", None), "UZ");
    }

    #[test]
    fn shared_codes_resolve_by_prefix_or_by_the_given_country() {
        assert_eq!(country("+44 1481 123456", None), "GG");
        assert_eq!(country("+44 1534 123456", None), "JE");
        assert_eq!(country("+44 7624 123456", None), "IM");
        assert_eq!(country("+44 7700 900123", None), "GB");
        assert_eq!(country("+44 7700 900123", Some("gg")), "GG");
        assert_eq!(country("07700 900123", Some("JE")), "JE");
        assert_eq!(country("+44 1481 123456", Some("JE")), "GG");
        // A country with another calling code does not change the number's country.
        assert_eq!(country("+44 7700 900123", Some("FR")), "GB");
        assert_eq!(country("+358 18 123 456", None), "AX");
        assert_eq!(country("+358 40 123 4567", None), "FI");
        assert_eq!(country("+262 639 12 34 56", None), "YT");
        assert_eq!(country("+262 692 12 34 56", None), "RE");
        assert_eq!(country("+599 7 123 456", None), "BQ");
        assert_eq!(country("+47 79 12 34 56", None), "SJ");
        assert_eq!(country("+212 5288 12345", None), "EH");
        assert_eq!(country("+61 8 9164 1234", None), "CX");
        assert_eq!(country("0690 12 34 56", Some("MF")), "MF");
        assert_eq!(country("0690 12 34 56", Some("GP")), "GP");
    }

    #[test]
    fn other_trunk_prefixes_are_dropped() {
        assert_eq!(e164("06 30 123 4567", Some("HU")), "+36301234567");
        assert_eq!(e164("+36 06 30 123 4567", None), "+36301234567");
        assert_eq!(e164("8 029 123 45 67", Some("BY")), "+375291234567");
        assert_eq!(e164("8 612 34567", Some("LT")), "+37061234567");
        assert_eq!(e164("044 55 1234 5678", Some("MX")), "+525512345678");
        assert_eq!(e164("+52 1 55 1234 5678", None), "+525512345678");
        assert_eq!(e164("0788 123 456", Some("RW")), "+250788123456");
        assert_eq!(e164("06 12 34 56", Some("GA")), "+24106123456");
        assert_eq!(e164("011 12 34 56", Some("GA")), "+24111123456");
    }

    #[test]
    fn separators_and_unicode_spaces_are_ignored() {
        for input in [
            "+33\u{a0}6\u{a0}12\u{a0}42\u{a0}41\u{a0}11",
            "+33\u{202f}6\u{2009}12 42 41 11",
            "\u{200e}+33 6 12 42 41 11\u{200f}",
            "\u{feff}+33-6-12-42-41-11",
            "+33 (6) [12] 42/41.11",
            "+33\u{2013}612\u{2014}424111",
            "\t +33 612424111 \n",
            "(+33) 6 12 42 41 11",
            "\u{ff0b}\u{ff13}\u{ff13}\u{ff16}\u{ff11}\u{ff12}\u{ff14}\u{ff12}\u{ff14}\u{ff11}\u{ff11}\u{ff11}",
            "+٣٣٦١٢٤٢٤١١١",
        ] {
            assert_eq!(e164(input, None), "+33612424111", "{input:?}");
        }
    }

    #[test]
    fn empty_input_is_phone_number_empty() {
        for input in ["", "   ", "\u{a0}\u{3000}", "-", "( ) - . /", "+", " + "] {
            assert_eq!(err(input, None), Error::PhoneNumberEmpty, "{input:?}");
            assert_eq!(err(input, Some("FR")), Error::PhoneNumberEmpty, "{input:?}");
        }
    }

    #[test]
    fn letters_and_symbols_are_phone_number_invalid() {
        for input in [
            "+33 6 12 42 41 1a",
            "06 12 42 41 11 ext 2",
            "1-800-FLOWERS",
            "+33612424111#",
            "*33612424111",
            "+33612424111;",
            "+33 6 12 42 41 11 é",
            "+33 6 12 42 41 11 😀",
            "abc",
            // Letters are invalid however long or short the digits are.
            "1a",
            "1234567890123456789012345678901234567890x",
        ] {
            assert_eq!(
                err(input, Some("FR")),
                Error::PhoneNumberInvalid,
                "{input:?}"
            );
        }
    }

    #[test]
    fn plus_after_a_digit_or_twice_is_phone_number_invalid() {
        for input in [
            "33+612424111",
            "0033 6 12+42",
            "+33612424111+",
            "++33612424111",
            "+ +33612424111",
            "0+33612424111",
        ] {
            assert_eq!(err(input, None), Error::PhoneNumberInvalid, "{input:?}");
        }
    }

    #[test]
    fn unassigned_calling_code_is_country_code_unknown() {
        for input in [
            "+999 123 456 789",
            "+0 612 424 111",
            "+0033612424111",
            "+800 1234 5678",
            "+808 1234 5678",
            "+882 1234 5678",
            "+979 123 456 789",
            "+388 123 456 789",
            "00999 123 456 789",
        ] {
            assert_eq!(
                err(input, None),
                Error::PhoneCountryCodeUnknown,
                "{input:?}"
            );
        }
        // Too few digits to read a code at all: the number is too short.
        assert_eq!(err("+9", None), Error::PhoneNumberTooShort);
        assert_eq!(err("+99", None), Error::PhoneNumberTooShort);
    }

    #[test]
    fn fewer_than_seven_digits_is_too_short() {
        assert_eq!(err("+33 6 12", None), Error::PhoneNumberTooShort);
        assert_eq!(err("+1", None), Error::PhoneNumberTooShort);
        assert_eq!(err("+33 123", None), Error::PhoneNumberTooShort);
        assert_eq!(err("06 12", Some("FR")), Error::PhoneNumberTooShort);
        assert_eq!(err("00", None), Error::PhoneNumberTooShort);
        // The dropped trunk prefix does not count.
        assert_eq!(err("01234", Some("FR")), Error::PhoneNumberTooShort);
        assert_eq!(err("+33 1234", None), Error::PhoneNumberTooShort);
        assert_eq!(e164("+33 12345", None), "+3312345");
    }

    #[test]
    fn more_than_fifteen_digits_is_too_long() {
        assert_eq!(e164("+49 1512 3456 7890 1", None), "+491512345678901");
        assert_eq!(
            err("+49 1512 3456 7890 12", None),
            Error::PhoneNumberTooLong
        );
        assert_eq!(
            err("0151 2345 6789 0123 4", Some("DE")),
            Error::PhoneNumberTooLong
        );
        let huge = "1".repeat(100_000);
        assert_eq!(err(&format!("+{huge}"), None), Error::PhoneNumberTooLong);
        assert_eq!(err(&huge, Some("US")), Error::PhoneNumberTooLong);
        // Letters after a long run of digits are still invalid, not too long.
        assert_eq!(err(&format!("+{huge}x"), None), Error::PhoneNumberInvalid);
    }

    #[test]
    fn national_number_without_country_is_country_iso_empty() {
        assert_eq!(err("06 12 42 41 11", None), Error::CountryIsoEmpty);
        assert_eq!(err("06 12 42 41 11", Some("")), Error::CountryIsoEmpty);
        assert_eq!(err("06 12 42 41 11", Some("  ")), Error::CountryIsoEmpty);
        // An international number needs no country; an empty one is ignored.
        assert_eq!(e164("+33612424111", Some("")), "+33612424111");
    }

    #[test]
    fn unknown_country_is_country_iso_invalid() {
        for iso in ["ZZ", "XX", "F", "FRA", "F1", "ÉF", "日本", "UK", "EU"] {
            assert_eq!(
                err("06 12 42 41 11", Some(iso)),
                Error::CountryIsoInvalid,
                "{iso:?}"
            );
            assert_eq!(
                err("+33612424111", Some(iso)),
                Error::CountryIsoInvalid,
                "{iso:?}"
            );
        }
    }

    #[test]
    fn masking_shows_only_calling_code_and_last_three_digits() {
        let cases = [
            ("+33612424111", None, "+33******111"),
            ("+12125550123", None, "+1*******123"),
            ("+380501234567", None, "+380******567"),
            ("+3312345", None, "+33**345"),
            ("06 1234 5678", Some("IT"), "+39*******678"),
        ];
        for (input, iso, masked) in cases {
            let p = parse_phone(input, iso).unwrap();
            assert_eq!(p.masked(), masked);
            let national = p.national_number();
            let hidden = &national[..national.len() - 3];
            let shown = p.masked();
            assert!(!shown.contains(hidden), "{shown} reveals {hidden}");
            assert_eq!(
                shown.chars().filter(|c| c.is_ascii_digit()).count(),
                decimal_len(p.calling_code()) + 3
            );
        }
    }

    #[test]
    fn country_lookups_are_case_insensitive() {
        assert_eq!(calling_code_for_country("FR"), Some(33));
        assert_eq!(calling_code_for_country("fr"), Some(33));
        assert_eq!(calling_code_for_country("kz"), Some(7));
        assert_eq!(calling_code_for_country("VA"), Some(39));
        assert_eq!(calling_code_for_country("ZZ"), None);
        assert_eq!(calling_code_for_country(""), None);
        assert_eq!(calling_code_for_country("é"), None);
        for iso in [
            "GG", "JE", "IM", "VA", "AX", "YT", "BL", "MF", "BQ", "EH", "SJ", "CX", "CC", "XK",
            "ca", "Us",
        ] {
            assert!(is_known_country(iso), "{iso}");
        }
        for iso in ["ZZ", "UK", "EU", "", "F", "FRA", "\u{0}\u{0}"] {
            assert!(!is_known_country(iso), "{iso:?}");
        }
    }

    #[test]
    fn shared_code_countries_parse_national_numbers() {
        assert_eq!(e164("07781 123456", Some("GG")), "+447781123456");
        assert_eq!(e164("0639 12 34 56", Some("YT")), "+262639123456");
        assert_eq!(e164("0690 12 34 56", Some("BL")), "+590690123456");
        assert_eq!(e164("9 461 2345", Some("CW")), "+59994612345");
        assert_eq!(e164("0457 123 456", Some("AX")), "+358457123456");
        assert_eq!(e164("0412 345 678", Some("CX")), "+61412345678");
    }

    #[test]
    fn tables_are_sorted_and_consistent() {
        assert!(CALLING_CODES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(NANP_AREAS.windows(2).all(|w| w[0].0 < w[1].0));
        // Calling codes are prefix-free, so reading 1, 2, then 3 digits is unambiguous.
        for &(a, _) in CALLING_CODES {
            for &(b, _) in CALLING_CODES {
                let (a, b) = (a.to_string(), b.to_string());
                assert!(a == b || !b.starts_with(&a), "{a} is a prefix of {b}");
            }
        }
        for &(code, iso) in CALLING_CODES {
            assert_eq!(calling_code_for_country(iso), Some(code), "{iso}");
            assert!((1..=999).contains(&code));
        }
        for &(iso, code) in COUNTRIES {
            assert!(
                iso.len() == 2 && iso.bytes().all(|b| b.is_ascii_uppercase()),
                "{iso}"
            );
            assert!(
                CALLING_CODES
                    .binary_search_by_key(&code, |&(c, _)| c)
                    .is_ok(),
                "{iso} {code}"
            );
        }
        for &(code, prefix, iso) in SHARED_CODE_PREFIXES {
            assert_eq!(calling_code_for_country(iso), Some(code), "{iso}");
            assert!(prefix.bytes().all(|b| b.is_ascii_digit()));
        }
        // Non-geographic codes belong to no country.
        for code in [800, 808, 870, 878, 881, 882, 883, 888, 979] {
            assert!(CALLING_CODES
                .binary_search_by_key(&code, |&(c, _)| c)
                .is_err());
        }
    }

    #[test]
    fn parsing_an_e164_result_again_gives_the_same_number() {
        for (input, iso) in [
            ("+44 (0)20 7946 0958", None),
            ("8 (912) 345-67-89", Some("RU")),
            ("1 212 555 0123", Some("US")),
            ("06 30 123 4567", Some("HU")),
            ("044 55 1234 5678", Some("MX")),
            ("06 1234 5678", Some("IT")),
        ] {
            let p = parse_phone(input, iso).unwrap();
            assert_eq!(parse_phone(p.e164(), None).unwrap(), p);
            assert_eq!(parse_phone(&format!("00{}", p.digits()), None).unwrap(), p);
        }
    }

    #[test]
    fn a_trunk_prefix_left_by_another_is_dropped_too() {
        // Found by fuzz/phone_parse: one pass dropped the 0 and left Turkmenistan's
        // 8 (or Uzbekistan's 8, Belarus's 80), which re-parsing the E.164 dropped.
        for (input, iso, want) in [
            ("(0)882444444", "TM", "+99382444444"),
            ("0 8 12 345678", "TM", "+99312345678"),
            ("0 8 90 123 45 67", "UZ", "+998901234567"),
            ("0 80 29 123 45 67", "BY", "+375291234567"),
        ] {
            let p = parse_phone(input, Some(iso)).unwrap();
            assert_eq!(p.e164(), want, "{input:?} {iso}");
            assert_eq!(parse_phone(p.e164(), None).unwrap().e164(), want);
        }
    }

    /// xorshift64*: a tiny deterministic generator for the fuzz loop.
    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }
    }

    #[test]
    fn random_input_never_panics_and_ok_results_are_e164() {
        // Every character kind, for panics and wrong errors...
        const ALPHABET: &[char] = &[
            '0',
            '0',
            '1',
            '2',
            '3',
            '4',
            '5',
            '6',
            '7',
            '8',
            '9',
            '0',
            '1',
            '3',
            '4',
            '7',
            '9',
            ' ',
            ' ',
            '.',
            '-',
            '(',
            ')',
            '[',
            ']',
            '/',
            '+',
            '+',
            'a',
            'Z',
            'x',
            '#',
            '*',
            '\u{a0}',
            '\u{200b}',
            '\u{feff}',
            'é',
            '日',
            '😀',
            '٣',
            '０',
            '\u{ff0b}',
            '\u{2013}',
            '\u{0}',
            '\u{10ffff}',
        ];
        // ...and mostly digits, so that many inputs reach the happy path.
        const NUMERIC: &[char] = &[
            '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '0', '1', '3', '4', '7', ' ', '-',
            '(', ')', '\u{a0}',
        ];
        const ISOS: &[Option<&str>] = &[
            None,
            Some("FR"),
            Some("US"),
            Some("IT"),
            Some("RU"),
            Some("ZZ"),
            Some(""),
            Some("gb"),
            Some("é"),
            Some("MX"),
        ];
        let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
        let mut ok = 0;
        for _ in 0..20_000 {
            let len = rng.below(28);
            let chars = if rng.below(2) == 0 { ALPHABET } else { NUMERIC };
            let mut input: String = (0..len).map(|_| chars[rng.below(chars.len())]).collect();
            if rng.below(3) == 0 {
                input.insert(0, '+');
            }
            let iso = ISOS[rng.below(ISOS.len())];
            if let Ok(p) = parse_phone(&input, iso) {
                ok += 1;
                let e = p.e164();
                assert!(e.starts_with('+'), "{input:?} -> {e}");
                assert!(
                    (MIN_DIGITS..=MAX_DIGITS).contains(&p.digits().len()),
                    "{input:?} -> {e}"
                );
                assert!(
                    p.digits().bytes().all(|b| b.is_ascii_digit()),
                    "{input:?} -> {e}"
                );
                assert!(p.digits().starts_with(&p.calling_code().to_string()));
                assert!(
                    is_known_country(p.country_iso()),
                    "{input:?} -> {}",
                    p.country_iso()
                );
                assert_eq!(
                    calling_code_for_country(p.country_iso()),
                    Some(p.calling_code())
                );
                assert_eq!(p.masked().len(), e.len());
                let again = parse_phone(e, None).unwrap();
                assert_eq!(again.e164(), e, "{input:?}");
            }
        }
        assert!(
            ok > 2_000,
            "only {ok} inputs parsed: the fuzz loop is not reaching the happy path"
        );
    }
}
