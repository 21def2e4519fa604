//! Phone numbers: parse what a user typed into E.164 (`+33612424111`), then check
//! it against the country's numbering plan (libphonenumber's, compiled into
//! [`crate::numbering`]): valid or not, its type, and the country it belongs to.
//! Static tables only (no regex, no phone library).
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
//! - International numbers start with an assigned ITU-T country calling code,
//!   geographic or not (+800, +808, +870, +878, +881-+883, +888, +979: region
//!   `001`, see [`PhoneNumber::is_international_network`]); any other is
//!   [`Error::PhoneCountryCodeUnknown`].
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
//! A number that parses is not necessarily one to send to: [`PhoneNumber::is_valid`]
//! says whether the plan has it at all (`+44 7700 900123`, in Ofcom's drama range,
//! parses but is not valid), [`PhoneNumber::number_type`] what it is (mobile, fixed
//! line, premium rate, …); [`crate::recipient::check_recipient`] turns both into
//! the decision to send.
//!
//! The country ([`PhoneNumber::country_iso`]) is the one the digits determine,
//! as libphonenumber's `getRegionCodeForNumber` decides it: for a calling code
//! shared by several countries (+1, +7, +44, +262, +590, …) the first country
//! whose leading digits start the number, else the first in whose plan the
//! number is valid (`+44 7781 123456` is GG, `+1 416 555 0123` CA). A number no
//! country claims (an invalid one) gets the code's main country (`+44 7700
//! 900123` is GB). The `country_iso` passed by the caller only says how to read
//! a national-format number; it never overrides the digits (`07781 123456`
//! with `GB` is GG, `+44 20 7946 0958` with `GG` is GB).

use core::fmt;

use crate::error::{Error, Result};
use crate::numbering::{self, NON_GEOGRAPHIC_REGION};

pub use crate::numbering::NumberType;

/// Fewest digits (calling code + national number) a number may have.
pub const MIN_DIGITS: usize = 7;
/// Most digits (calling code + national number) a number may have (ITU-T E.164).
pub const MAX_DIGITS: usize = 15;

/// Digits kept while scanning; more than this can never shrink to 15
/// (`00` + 15 digits + a 3-digit trunk prefix is 20).
const SCAN_DIGITS: usize = 24;

/// A phone number in E.164 form, with its calling code, country and what its
/// numbering plan says of it (type, validity). `Debug` prints it masked, so a
/// stray log line never holds a full number.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct PhoneNumber {
    e164: String,
    code_len: u8,
    calling_code: u16,
    country_iso: &'static str,
    number_type: NumberType,
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PhoneNumber")
            .field("masked", &self.masked())
            .field("country_iso", &self.country_iso)
            .field("number_type", &self.number_type)
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

    /// The ISO 3166-1 alpha-2 code of the number's country (`FR`), as its digits
    /// determine it (see the module docs); `001` for the international networks
    /// of the non-geographic calling codes.
    pub fn country_iso(&self) -> &'static str {
        self.country_iso
    }

    /// What the number is by its country's numbering plan (libphonenumber's
    /// `getNumberType`): [`NumberType::Unknown`] when the plan does not have it.
    /// [`NumberType::as_str`] names it (`mobile`, `premiumRate`, …).
    pub fn number_type(&self) -> NumberType {
        self.number_type
    }

    /// Whether the numbering plan has this number (libphonenumber's
    /// `isValidNumber`): right length, assigned range.
    pub fn is_valid(&self) -> bool {
        self.number_type != NumberType::Unknown
    }

    /// Whether the number belongs to an international network or service of a
    /// non-geographic calling code (+800, +808, +870, +878, +881, +882, +883,
    /// +888, +979: satellite phones, global toll-free, …) rather than to a country.
    pub fn is_international_network(&self) -> bool {
        self.country_iso == NON_GEOGRAPHIC_REGION
    }

    /// The number for logs and stored records: its range, every digit but the
    /// last four, then `****` (`+3361242****`). Stores that keep a number's range
    /// (the worker's insights) keep the same digits, so whatever is stored of a
    /// number, taken together, leaves its last four digits unknown.
    pub fn masked(&self) -> String {
        let shown = self.e164.len().saturating_sub(4);
        let mut out = String::with_capacity(self.e164.len());
        out.push_str(self.e164.get(..shown).unwrap_or_default());
        out.extend(core::iter::repeat_n('*', self.e164.len() - shown));
        out
    }
}

impl fmt::Display for PhoneNumber {
    /// Writes the E.164 form.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

/// Parses a phone number as typed into E.164 and classifies it by its numbering
/// plan (see the module docs for the rules). A number the plan does not have
/// still parses, with [`PhoneNumber::is_valid`] false.
///
/// `country_iso` (ISO 3166-1 alpha-2, any case) is required for a national
/// number (no `+` or `00`), whose calling code it gives; with an international
/// number it is optional but, if not empty, must still be a known code. It
/// never decides the number's country: the digits do.
pub fn parse_phone(input: &str, country_iso: Option<&str>) -> Result<PhoneNumber> {
    let scan = Scan::new(input.trim())?;
    if scan.len == 0 {
        return Err(Error::PhoneNumberEmpty);
    }

    let given = match country_iso.map(str::trim).filter(|s| !s.is_empty()) {
        Some(iso) => Some(find_country(iso).ok_or(Error::CountryIsoInvalid)?),
        None => None,
    };

    let digits = scan.digits.get(..scan.len).unwrap_or_default();
    let international = scan.plus || digits.starts_with(b"00");
    let (calling_code, code_len, national) = if international {
        let rest = if scan.plus {
            digits
        } else {
            digits.get(2..).unwrap_or_default()
        };
        let (code, code_len) = split_calling_code(rest)?;
        (code, code_len, rest.get(code_len..).unwrap_or_default())
    } else {
        let (_, code) = given.ok_or(Error::CountryIsoEmpty)?;
        (code, decimal_len(code), digits)
    };
    if scan.overflow {
        return Err(Error::PhoneNumberTooLong);
    }

    // Too long even without its trunk prefixes, or too short even with them.
    let chain = TrunkChain::new(calling_code, national);
    if code_len + chain.shortest().len() > MAX_DIGITS {
        return Err(Error::PhoneNumberTooLong);
    }
    if code_len + national.len() < MIN_DIGITS {
        return Err(Error::PhoneNumberTooShort);
    }

    // The digits decide the country and type; a given country never overrides them.
    let code_index =
        numbering::calling_code_index(calling_code).ok_or(Error::PhoneCountryCodeUnknown)?;
    let mut buf = [0u8; SCAN_DIGITS];
    let (national, country_iso, number_type) = chain.significant(code_index, &mut buf);
    let total = code_len + national.len();
    if total < MIN_DIGITS {
        return Err(Error::PhoneNumberTooShort);
    }
    if total > MAX_DIGITS {
        return Err(Error::PhoneNumberTooLong);
    }

    let mut e164 = String::with_capacity(1 + total);
    e164.push('+');
    push_decimal(&mut e164, calling_code);
    e164.extend(national.iter().map(|&d| char::from(d)));
    Ok(PhoneNumber {
        e164,
        code_len: code_len as u8,
        calling_code,
        country_iso,
        number_type,
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
                if let Some(slot) = scan.digits.get_mut(scan.len) {
                    *slot = b'0' + d;
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
/// The non-geographic codes (+800, +881, …) are calling codes too.
fn split_calling_code(digits: &[u8]) -> Result<(u16, usize)> {
    if digits.first() == Some(&b'0') {
        return Err(Error::PhoneCountryCodeUnknown);
    }
    let mut code = 0u16;
    for (i, &d) in digits.iter().take(3).enumerate() {
        code = code * 10 + u16::from(d - b'0');
        if numbering::calling_code_index(code).is_some() {
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

/// Most trunk prefixes one number can carry (Belarus's `8 0`, Turkmenistan's `0 8`).
const MAX_TRUNK_PREFIXES: usize = 4;

/// A national number, then what is left after dropping each national trunk
/// prefix in turn (`0` in most countries; see [`trunk_rules`]).
///
/// Each rule is `(prefix, length)`: the prefix is dropped when the number has
/// exactly `length` digits with it (0: any length) and what follows does not
/// start with `0`. The first rule that applies wins, and the rules are applied
/// again to what is left until none applies (with one pass, Turkmenistan's
/// `0 8 12345678` left `812345678`, which `+993812345678` re-parsed as
/// `+99312345678`).
struct TrunkChain<'a> {
    numbers: [&'a [u8]; MAX_TRUNK_PREFIXES + 1],
    len: usize,
}

impl<'a> TrunkChain<'a> {
    fn new(calling_code: u16, national: &'a [u8]) -> TrunkChain<'a> {
        let mut chain = TrunkChain {
            numbers: [national; MAX_TRUNK_PREFIXES + 1],
            len: 1,
        };
        let mut current = national;
        'again: while let Some(slot) = chain.numbers.get_mut(chain.len) {
            for &(prefix, len) in trunk_rules(calling_code) {
                if current.starts_with(prefix.as_bytes())
                    && (len == 0 || current.len() == len)
                    && current.get(prefix.len()) != Some(&b'0')
                {
                    current = current.get(prefix.len()..).unwrap_or_default();
                    *slot = current;
                    chain.len += 1;
                    continue 'again;
                }
            }
            break;
        }
        chain
    }

    /// The number with every trunk prefix dropped.
    fn shortest(&self) -> &'a [u8] {
        self.numbers.get(self.len - 1).copied().unwrap_or_default()
    }

    /// The national significant number, with its region and type: the number with
    /// every trunk prefix dropped, unless only a longer one (fewer prefixes dropped)
    /// is in the plan: libphonenumber's rule that dropping a prefix must not turn a
    /// valid number into an invalid one, which keeps the `0` of the `0800` toll-free
    /// numbers of the countries without a trunk prefix (Botswana, Fiji, Niger, …)
    /// and Norway's `02000`. For Argentina, a mobile written with `15` after the
    /// area code (`011 15 2345 6789`) becomes its E.164 form `9 11 2345 6789`
    /// (libphonenumber's transform rule for AR), into `buf`. An E.164 number this
    /// returns parses back to itself: its own chain is the rest of this one.
    fn significant(
        &self,
        code_index: usize,
        buf: &'a mut [u8; SCAN_DIGITS],
    ) -> (&'a [u8], &'static str, NumberType) {
        let shortest = self.shortest();
        let (iso, kind) = numbering::classify(code_index, shortest);
        if kind != NumberType::Unknown {
            return (shortest, iso, kind);
        }
        for &longer in self.numbers.iter().take(self.len - 1).rev() {
            let (iso, kind) = numbering::classify(code_index, longer);
            if kind != NumberType::Unknown {
                return (longer, iso, kind);
            }
        }
        if numbering::calling_code_index(54) == Some(code_index) {
            let is_mobile = |m: &[u8]| numbering::classify(code_index, m).1 == NumberType::Mobile;
            let area = (2..=4)
                .find(|&area| argentine_mobile(shortest, area, &mut *buf).is_some_and(is_mobile));
            if let Some(mobile) = area.and_then(|area| argentine_mobile(shortest, area, buf)) {
                let (iso, kind) = numbering::classify(code_index, mobile);
                return (mobile, iso, kind);
            }
        }
        (shortest, iso, kind)
    }
}

/// Argentina's national mobile format: an area code of `area` digits, `15`, then
/// the subscriber number, 10 digits without the `15`. Its E.164 form is `9`, area
/// code, subscriber number, written into `buf`; `None` when `national` is not
/// that shape.
fn argentine_mobile<'b>(
    national: &[u8],
    area: usize,
    buf: &'b mut [u8; SCAN_DIGITS],
) -> Option<&'b [u8]> {
    if national.len() != 12 {
        return None;
    }
    let (head, tail) = national.split_at_checked(area)?;
    let subscriber = tail.strip_prefix(b"15")?;
    let out = buf.get_mut(..11)?;
    let (nine, rest) = out.split_first_mut()?;
    *nine = b'9';
    let (a, b) = rest.split_at_mut(head.len());
    a.copy_from_slice(head);
    b.copy_from_slice(subscriber);
    Some(out)
}

/// The trunk prefix rules of a calling code (see [`TrunkChain`]).
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
        // Belarus: 8 0 + 9 digits, 8 before the 10-digit 800/902 numbers, or 0 alone.
        375 => &[("80", 11), ("8", 11), ("0", 0)],
        // Turkmenistan: 8 + 8 digits.
        993 => &[("8", 9), ("0", 0)],
        // Uzbekistan: the old 8 + 9 digits.
        998 => &[("8", 10), ("0", 0)],
        // The leading 0 is part of the number: Italy/Vatican, San Marino, Côte
        // d'Ivoire, Burkina Faso, Benin, Congo, Tajikistan.
        39 | 378 | 225 | 226 | 229 | 242 | 992 => &[],
        // The non-geographic codes have no national format.
        800 | 808 | 870 | 878 | 881 | 882 | 883 | 888 | 979 => &[],
        _ => &[("0", 0)],
    }
}

/// The table entry of an ISO code, looked up case-insensitively.
fn find_country(iso: &str) -> Option<(&'static str, u16)> {
    let b = iso.as_bytes();
    if b.len() != 2 || !b.iter().all(u8::is_ascii_alphabetic) {
        return None;
    }
    let key = [
        b.first()?.to_ascii_uppercase(),
        b.get(1)?.to_ascii_uppercase(),
    ];
    let (iso, code) = COUNTRIES.get(COUNTRIES.binary_search_by(|(c, _)| c.cmp(&key)).ok()?)?;
    Some((core::str::from_utf8(iso).ok()?, *code))
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
// The countries a caller may name. Sorted by code (the tests check it) for
// binary search. Sources: the regions of libphonenumber's metadata (the tests
// check that every region of crate::numbering is here with its calling code),
// plus ISO countries served by a shared code that it leaves out (AQ, GS, PN, TF).
// AC (Ascension), TA (Tristan da Cunha) and XK (Kosovo) are not officially
// assigned ISO 3166-1 codes, but every SMS provider uses them.
// ---------------------------------------------------------------------------

/// Every country (ISO 3166-1 alpha-2) with a calling code, shared codes included.
/// Codes as byte pairs, not `&str`: 4 bytes an entry instead of 12 (a pointer and a
/// length each), 0.7 KiB gzipped less in the npm package's wasm.
#[rustfmt::skip]
const COUNTRIES: &[([u8; 2], u16)] = &[
    (*b"AC", 247), (*b"AD", 376), (*b"AE", 971), (*b"AF", 93), (*b"AG", 1), (*b"AI", 1),
    (*b"AL", 355), (*b"AM", 374), (*b"AO", 244), (*b"AQ", 672), (*b"AR", 54), (*b"AS", 1),
    (*b"AT", 43), (*b"AU", 61), (*b"AW", 297), (*b"AX", 358), (*b"AZ", 994), (*b"BA", 387),
    (*b"BB", 1), (*b"BD", 880), (*b"BE", 32), (*b"BF", 226), (*b"BG", 359), (*b"BH", 973),
    (*b"BI", 257), (*b"BJ", 229), (*b"BL", 590), (*b"BM", 1), (*b"BN", 673), (*b"BO", 591),
    (*b"BQ", 599), (*b"BR", 55), (*b"BS", 1), (*b"BT", 975), (*b"BW", 267), (*b"BY", 375),
    (*b"BZ", 501), (*b"CA", 1), (*b"CC", 61), (*b"CD", 243), (*b"CF", 236), (*b"CG", 242),
    (*b"CH", 41), (*b"CI", 225), (*b"CK", 682), (*b"CL", 56), (*b"CM", 237), (*b"CN", 86),
    (*b"CO", 57), (*b"CR", 506), (*b"CU", 53), (*b"CV", 238), (*b"CW", 599), (*b"CX", 61),
    (*b"CY", 357), (*b"CZ", 420), (*b"DE", 49), (*b"DJ", 253), (*b"DK", 45), (*b"DM", 1),
    (*b"DO", 1), (*b"DZ", 213), (*b"EC", 593), (*b"EE", 372), (*b"EG", 20), (*b"EH", 212),
    (*b"ER", 291), (*b"ES", 34), (*b"ET", 251), (*b"FI", 358), (*b"FJ", 679), (*b"FK", 500),
    (*b"FM", 691), (*b"FO", 298), (*b"FR", 33), (*b"GA", 241), (*b"GB", 44), (*b"GD", 1),
    (*b"GE", 995), (*b"GF", 594), (*b"GG", 44), (*b"GH", 233), (*b"GI", 350), (*b"GL", 299),
    (*b"GM", 220), (*b"GN", 224), (*b"GP", 590), (*b"GQ", 240), (*b"GR", 30), (*b"GS", 500),
    (*b"GT", 502), (*b"GU", 1), (*b"GW", 245), (*b"GY", 592), (*b"HK", 852), (*b"HN", 504),
    (*b"HR", 385), (*b"HT", 509), (*b"HU", 36), (*b"ID", 62), (*b"IE", 353), (*b"IL", 972),
    (*b"IM", 44), (*b"IN", 91), (*b"IO", 246), (*b"IQ", 964), (*b"IR", 98), (*b"IS", 354),
    (*b"IT", 39), (*b"JE", 44), (*b"JM", 1), (*b"JO", 962), (*b"JP", 81), (*b"KE", 254),
    (*b"KG", 996), (*b"KH", 855), (*b"KI", 686), (*b"KM", 269), (*b"KN", 1), (*b"KP", 850),
    (*b"KR", 82), (*b"KW", 965), (*b"KY", 1), (*b"KZ", 7), (*b"LA", 856), (*b"LB", 961),
    (*b"LC", 1), (*b"LI", 423), (*b"LK", 94), (*b"LR", 231), (*b"LS", 266), (*b"LT", 370),
    (*b"LU", 352), (*b"LV", 371), (*b"LY", 218), (*b"MA", 212), (*b"MC", 377), (*b"MD", 373),
    (*b"ME", 382), (*b"MF", 590), (*b"MG", 261), (*b"MH", 692), (*b"MK", 389), (*b"ML", 223),
    (*b"MM", 95), (*b"MN", 976), (*b"MO", 853), (*b"MP", 1), (*b"MQ", 596), (*b"MR", 222),
    (*b"MS", 1), (*b"MT", 356), (*b"MU", 230), (*b"MV", 960), (*b"MW", 265), (*b"MX", 52),
    (*b"MY", 60), (*b"MZ", 258), (*b"NA", 264), (*b"NC", 687), (*b"NE", 227), (*b"NF", 672),
    (*b"NG", 234), (*b"NI", 505), (*b"NL", 31), (*b"NO", 47), (*b"NP", 977), (*b"NR", 674),
    (*b"NU", 683), (*b"NZ", 64), (*b"OM", 968), (*b"PA", 507), (*b"PE", 51), (*b"PF", 689),
    (*b"PG", 675), (*b"PH", 63), (*b"PK", 92), (*b"PL", 48), (*b"PM", 508), (*b"PN", 64),
    (*b"PR", 1), (*b"PS", 970), (*b"PT", 351), (*b"PW", 680), (*b"PY", 595), (*b"QA", 974),
    (*b"RE", 262), (*b"RO", 40), (*b"RS", 381), (*b"RU", 7), (*b"RW", 250), (*b"SA", 966),
    (*b"SB", 677), (*b"SC", 248), (*b"SD", 249), (*b"SE", 46), (*b"SG", 65), (*b"SH", 290),
    (*b"SI", 386), (*b"SJ", 47), (*b"SK", 421), (*b"SL", 232), (*b"SM", 378), (*b"SN", 221),
    (*b"SO", 252), (*b"SR", 597), (*b"SS", 211), (*b"ST", 239), (*b"SV", 503), (*b"SX", 1),
    (*b"SY", 963), (*b"SZ", 268), (*b"TA", 290), (*b"TC", 1), (*b"TD", 235), (*b"TF", 262),
    (*b"TG", 228), (*b"TH", 66), (*b"TJ", 992), (*b"TK", 690), (*b"TL", 670), (*b"TM", 993),
    (*b"TN", 216), (*b"TO", 676), (*b"TR", 90), (*b"TT", 1), (*b"TV", 688), (*b"TW", 886),
    (*b"TZ", 255), (*b"UA", 380), (*b"UG", 256), (*b"US", 1), (*b"UY", 598), (*b"UZ", 998),
    (*b"VA", 39), (*b"VC", 1), (*b"VE", 58), (*b"VG", 1), (*b"VI", 1), (*b"VN", 84), (*b"VU", 678),
    (*b"WF", 681), (*b"WS", 685), (*b"XK", 383), (*b"YE", 967), (*b"YT", 262), (*b"ZA", 27),
    (*b"ZM", 260), (*b"ZW", 263),
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
        assert_eq!(p.number_type(), NumberType::Mobile);
        assert!(p.is_valid());
        assert!(!p.is_international_network());
        assert_eq!(p.masked(), "+3361242****");
        assert_eq!(p.to_string(), "+33612424111");
    }

    #[test]
    fn double_zero_prefix_means_international() {
        assert_eq!(e164("0033 6 12 42 41 11", None), "+33612424111");
        assert_eq!(e164("00 44 7400 123456", Some("FR")), "+447400123456");
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
        assert_eq!(e164("+44 (0)7400 123456", None), "+447400123456");
        assert_eq!(e164("+44 (0) 7400 123456", None), "+447400123456");
        // The same 0 written without brackets is a misplaced trunk prefix too.
        assert_eq!(e164("+44 07400 123456", None), "+447400123456");
        assert_eq!(e164("+33 06 12 42 41 11", None), "+33612424111");
        assert_eq!(e164("(0)7400 123456", Some("GB")), "+447400123456");
    }

    #[test]
    fn italian_leading_zero_is_part_of_the_number() {
        // Italian landlines keep their 0 (mobiles start with 3).
        let p = parse_phone("06 1234 5678", Some("IT")).unwrap();
        assert_eq!(p.e164(), "+390612345678");
        assert_eq!(
            (p.country_iso(), p.number_type()),
            ("IT", NumberType::FixedLine)
        );
        assert_eq!(e164("+39 06 1234 5678", None), "+390612345678");
        assert_eq!(e164("+39 (0)6 1234 5678", None), "+390612345678");
        assert_eq!(e164("312 345 6789", Some("IT")), "+393123456789");
        assert_eq!(e164("0549 886377", Some("SM")), "+3780549886377");
        let ci = parse_phone("07 12 34 56 78", Some("CI")).unwrap();
        assert_eq!(
            (ci.e164(), ci.number_type()),
            ("+2250712345678", NumberType::Mobile)
        );
        let bj = parse_phone("01 97 12 34 56", Some("BJ")).unwrap();
        assert_eq!(
            (bj.e164(), bj.number_type()),
            ("+2290197123456", NumberType::Mobile)
        );
        let vatican = parse_phone("06 698 12345", Some("VA")).unwrap();
        assert_eq!(vatican.e164(), "+390669812345");
        assert_eq!(vatican.country_iso(), "VA");
    }

    #[test]
    fn nanp_country_comes_from_the_area_code() {
        for (number, iso) in [
            ("+1 201 555 0123", "US"),
            ("+1 (416) 555-0123", "CA"),
            ("+1 506 234 5678", "CA"),
            ("+1 604 555 0123", "CA"),
            ("+1 787 234 5678", "PR"),
            ("+1 939 555 0123", "PR"),
            ("+1 876 210 1234", "JM"),
            ("+1 809 234 5678", "DO"),
            ("+1 829 555 0123", "DO"),
            ("+1 868 291 1234", "TT"),
            ("+1 671 300 1234", "GU"),
            ("+1 441 370 1234", "BM"),
            ("+1 268 464 1234", "AG"),
            ("+1 242 359 1234", "BS"),
        ] {
            let p = parse_phone(number, None).unwrap();
            assert_eq!(p.country_iso(), iso, "{number}");
            assert!(p.is_valid(), "{number}");
        }
        // The plan cannot tell US and Canadian landlines from mobiles.
        assert_eq!(
            parse_phone("+1 201 555 0123", None).unwrap().number_type(),
            NumberType::FixedLineOrMobile
        );
        // The given country only gives the calling code: the area code decides.
        assert_eq!(country("201 555 0123", Some("CA")), "US");
        assert_eq!(country("416 555 0123", Some("US")), "CA");
        assert_eq!(country("+1 416 555 0123", Some("JM")), "CA");
        assert_eq!(country("876 210 1234", Some("US")), "JM");
    }

    #[test]
    fn nanp_national_number_may_carry_the_leading_one() {
        assert_eq!(e164("1 (201) 555-0123", Some("US")), "+12015550123");
        assert_eq!(e164("(201) 555-0123", Some("US")), "+12015550123");
        assert_eq!(e164("+1 1 201 555 0123", None), "+12015550123");
        assert_eq!(e164("1-876-210-1234", Some("JM")), "+18762101234");
    }

    #[test]
    fn plus_seven_splits_kazakhstan_from_russia() {
        assert_eq!(country("+7 912 345 67 89", None), "RU");
        assert_eq!(country("+7 701 123 45 67", None), "KZ");
        assert_eq!(country("+7 771 000 99 98", None), "KZ");
        // National: 8 is the trunk prefix before 10 digits.
        assert_eq!(e164("8 (912) 345-67-89", Some("RU")), "+79123456789");
        assert_eq!(country("8 701 123 45 67", Some("RU")), "KZ");
        assert_eq!(country("8 912 345 67 89", Some("KZ")), "RU");
        assert_eq!(e164("701 123 45 67", Some("KZ")), "+77011234567");
        let free = parse_phone("8 800 555 35 35", Some("RU")).unwrap();
        assert_eq!(free.e164(), "+78005553535");
        assert_eq!(free.number_type(), NumberType::TollFree);
    }

    #[test]
    fn three_digit_calling_codes_are_recognised() {
        let ua = parse_phone("+380 50 123 4567", None).unwrap();
        assert_eq!((ua.calling_code(), ua.country_iso()), (380, "UA"));
        assert_eq!(ua.national_number(), "501234567");
        let ae = parse_phone("+971 50 123 4567", None).unwrap();
        assert_eq!((ae.calling_code(), ae.country_iso()), (971, "AE"));
        let bd = parse_phone("+880 1812-345678", None).unwrap();
        assert_eq!((bd.calling_code(), bd.country_iso()), (880, "BD"));
        assert_eq!(e164("050 123 4567", Some("UA")), "+380501234567");
        assert_eq!(country("+420 601 123 456", None), "CZ");
        assert_eq!(country("+599 9 518 1234", None), "CW");
        assert_eq!(country("+692 235 1234", None), "MH");
        assert_eq!(country("+998 91 234 56 78", None), "UZ");
    }

    /// (number, countryIso or "", the country the digits give, type).
    const SHARED: &[(&str, &str, &str, NumberType)] = &[
        // GB and the Crown Dependencies.
        ("+44 7400 123456", "", "GB", NumberType::Mobile),
        ("+44 7400 123456", "GG", "GB", NumberType::Mobile),
        ("07400 123456", "JE", "GB", NumberType::Mobile),
        ("+44 7781 123456", "", "GG", NumberType::Mobile),
        ("07781 123456", "GB", "GG", NumberType::Mobile),
        ("+44 1481 256789", "JE", "GG", NumberType::FixedLine),
        ("+44 7797 712345", "", "JE", NumberType::Mobile),
        ("07797 712345", "GG", "JE", NumberType::Mobile),
        ("+44 7624 123456", "", "IM", NumberType::Mobile),
        ("07624 123456", "GB", "IM", NumberType::Mobile),
        // IM's own example mobile is in a range GB's plan has too: GB comes first.
        ("+44 7924 123456", "IM", "GB", NumberType::Mobile),
        ("+44 1624 756789", "GB", "IM", NumberType::FixedLine),
        // NANP.
        ("+1 201 555 0123", "CA", "US", NumberType::FixedLineOrMobile),
        ("506 234 5678", "US", "CA", NumberType::FixedLineOrMobile),
        ("1 787 234 5678", "US", "PR", NumberType::FixedLineOrMobile),
        ("876 210 1234", "CA", "JM", NumberType::Mobile),
        ("+1 268 464 1234", "US", "AG", NumberType::Mobile),
        // Russia and Kazakhstan.
        ("+7 912 345 67 89", "KZ", "RU", NumberType::Mobile),
        ("8 771 000 99 98", "RU", "KZ", NumberType::Mobile),
        // France's overseas departments and collectivities.
        ("+262 692 12 34 56", "YT", "RE", NumberType::Mobile),
        ("0639 01 23 45", "RE", "YT", NumberType::Mobile),
        ("+262 269 60 12 34", "RE", "YT", NumberType::FixedLine),
        ("0590 20 12 34", "MF", "GP", NumberType::FixedLine),
        ("0590 27 12 34", "GP", "BL", NumberType::FixedLine),
        ("+590 690 00 12 34", "BL", "GP", NumberType::Mobile),
        ("0696 20 12 34", "MQ", "MQ", NumberType::Mobile),
        ("+594 694 20 12 34", "", "GF", NumberType::Mobile),
        ("0551 234", "PM", "PM", NumberType::Mobile),
        // Others.
        ("+358 18 123 4567", "FI", "AX", NumberType::FixedLine),
        ("041 234 5678", "AX", "FI", NumberType::Mobile),
        ("+47 79 12 34 56", "NO", "SJ", NumberType::FixedLine),
        ("+61 8 9164 1234", "AU", "CX", NumberType::FixedLine),
        ("+61 8 9162 1234", "CX", "CC", NumberType::FixedLine),
        // Morocco's leading digits take every number of +212, Western Sahara's too.
        ("+212 5288 12345", "EH", "MA", NumberType::FixedLine),
        ("+599 318 1234", "CW", "BQ", NumberType::Mobile),
        ("+39 06 698 12345", "IT", "VA", NumberType::FixedLine),
    ];

    #[test]
    fn shared_codes_resolve_by_the_digits_never_by_the_given_country() {
        for &(number, iso, want, kind) in SHARED {
            let given = Some(iso).filter(|s| !s.is_empty());
            let p = parse_phone(number, given).unwrap_or_else(|e| panic!("{number} {iso}: {e:?}"));
            assert_eq!(
                (p.country_iso(), p.number_type()),
                (want, kind),
                "{number} {iso}"
            );
            // The same digits, in E.164 and with any country of the code: same answer.
            let again = parse_phone(p.e164(), given).unwrap();
            assert_eq!(again, p, "{number} {iso}");
            assert_eq!(parse_phone(p.e164(), None).unwrap(), p, "{number}");
        }
    }

    #[test]
    fn a_number_no_country_of_its_code_claims_is_invalid_and_gets_the_main_country() {
        // Ofcom's drama range: parses, but is no number of GB or its dependencies.
        let drama = parse_phone("+44 7700 900123", Some("GG")).unwrap();
        assert_eq!(drama.e164(), "+447700900123");
        assert_eq!((drama.country_iso(), drama.is_valid()), ("GB", false));
        assert_eq!(drama.number_type(), NumberType::Unknown);
        // libphonenumber's invalid examples quoted in issue 13.
        for (number, iso) in [("+9712234567", "AE"), ("+37671234", "AD")] {
            let p = parse_phone(number, None).unwrap();
            assert_eq!((p.country_iso(), p.is_valid()), (iso, false), "{number}");
        }
        assert!(!parse_phone("+262 639 12 34 56", None).unwrap().is_valid());
    }

    #[test]
    fn non_geographic_codes_parse_as_international_networks() {
        for (number, kind) in [
            ("+800 1234 5678", NumberType::TollFree),
            ("+808 1234 5678", NumberType::SharedCost),
            ("+870 301 234 567", NumberType::Mobile),
            ("+881 612 345 678", NumberType::Mobile),
            ("+882 390 123 456 789", NumberType::Voip),
            ("+883 510 012 345", NumberType::Voip),
            ("+979 123 456 789", NumberType::PremiumRate),
            ("00 800 1234 5678", NumberType::TollFree),
        ] {
            let p = parse_phone(number, Some("FR")).unwrap();
            assert_eq!(p.country_iso(), "001", "{number}");
            assert!(p.is_international_network(), "{number}");
            assert_eq!(p.number_type(), kind, "{number}");
        }
        // A leading 0 after a non-geographic code is not a trunk prefix.
        assert_eq!(e164("+800 0123 4567", None), "+80001234567");
    }

    #[test]
    fn other_trunk_prefixes_are_dropped() {
        assert_eq!(e164("06 30 123 4567", Some("HU")), "+36301234567");
        assert_eq!(e164("+36 06 30 123 4567", None), "+36301234567");
        assert_eq!(e164("8 029 491 19 11", Some("BY")), "+375294911911");
        assert_eq!(e164("8 612 34567", Some("LT")), "+37061234567");
        assert_eq!(e164("044 222 123 4567", Some("MX")), "+522221234567");
        assert_eq!(e164("+52 1 222 123 4567", None), "+522221234567");
        assert_eq!(e164("0788 123 456", Some("RW")), "+250788123456");
        assert_eq!(e164("06 03 12 34", Some("GA")), "+24106031234");
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
            "+801 1234 5678",
            "+884 1234 5678",
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
    fn masking_hides_the_last_four_digits() {
        let cases = [
            ("+33612424111", None, "+3361242****"),
            ("+12015550123", None, "+1201555****"),
            ("+380501234567", None, "+38050123****"),
            ("+3312345", None, "+331****"),
            ("06 1234 5678", Some("IT"), "+39061234****"),
        ];
        for (input, iso, masked) in cases {
            let p = parse_phone(input, iso).unwrap();
            assert_eq!(p.masked(), masked);
            let e164 = p.e164();
            let shown = p.masked();
            assert_eq!(shown.len(), e164.len());
            assert_eq!(shown[..e164.len() - 4], e164[..e164.len() - 4]);
            assert!(shown.ends_with("****"), "{shown} shows a last digit");
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
        assert_eq!(e164("0639 01 23 45", Some("YT")), "+262639012345");
        assert_eq!(e164("0690 00 12 34", Some("BL")), "+590690001234");
        assert_eq!(e164("9 518 1234", Some("CW")), "+59995181234");
        assert_eq!(e164("041 234 5678", Some("AX")), "+358412345678");
        assert_eq!(e164("0412 345 678", Some("CX")), "+61412345678");
    }

    #[test]
    fn countries_are_sorted_and_every_region_of_the_plan_is_one() {
        assert!(COUNTRIES.windows(2).all(|w| w[0].0 < w[1].0));
        let codes: Vec<(u16, Vec<&str>)> = numbering::calling_codes().collect();
        // Calling codes are prefix-free, so reading 1, 2, then 3 digits is unambiguous.
        for &(a, _) in &codes {
            for &(b, _) in &codes {
                let (a, b) = (a.to_string(), b.to_string());
                assert!(a == b || !b.starts_with(&a), "{a} is a prefix of {b}");
            }
            assert!((1..=999).contains(&a));
        }
        for &(iso, code) in COUNTRIES {
            let iso = std::str::from_utf8(&iso).unwrap();
            assert!(
                iso.len() == 2 && iso.bytes().all(|b| b.is_ascii_uppercase()),
                "{iso}"
            );
            assert!(
                numbering::calling_code_index(code).is_some(),
                "{iso} {code}"
            );
        }
        // Every region of the plan is a country a caller may name, with its code;
        // the non-geographic codes belong to none.
        for (code, regions) in codes {
            for iso in regions {
                if iso == NON_GEOGRAPHIC_REGION {
                    assert!(!COUNTRIES.iter().any(|&(_, c)| c == code), "+{code}");
                } else {
                    assert_eq!(calling_code_for_country(iso), Some(code), "{iso}");
                }
            }
        }
        assert!(!is_known_country("001"));
    }

    #[test]
    fn parsing_an_e164_result_again_gives_the_same_number() {
        for (input, iso) in [
            ("+44 (0)7400 123456", None),
            ("8 (912) 345-67-89", Some("RU")),
            ("1 201 555 0123", Some("US")),
            ("06 30 123 4567", Some("HU")),
            ("044 222 123 4567", Some("MX")),
            ("06 1234 5678", Some("IT")),
            ("+44 7700 900123", None),
            ("+800 1234 5678", None),
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
            ("(0)866123456", "TM", "+99366123456"),
            ("0 8 12 345678", "TM", "+99312345678"),
            ("0 8 91 234 56 78", "UZ", "+998912345678"),
            ("0 80 29 491 19 11", "BY", "+375294911911"),
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
                if p.is_international_network() {
                    assert!(numbering::calling_code_index(p.calling_code()).is_some());
                } else {
                    assert!(
                        is_known_country(p.country_iso()),
                        "{input:?} -> {}",
                        p.country_iso()
                    );
                    assert_eq!(
                        calling_code_for_country(p.country_iso()),
                        Some(p.calling_code())
                    );
                }
                assert_eq!(p.masked().len(), e.len());
                assert_eq!(p.is_valid(), p.number_type() != NumberType::Unknown);
                // The digits alone decide the number, its country and its type.
                let again = parse_phone(e, None).unwrap();
                assert_eq!(again, p, "{input:?}");
            }
        }
        assert!(
            ok > 2_000,
            "only {ok} inputs parsed: the fuzz loop is not reaching the happy path"
        );
    }
}
