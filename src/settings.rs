//! Settings: an application's OTP defaults ([`OtpSettings`]), the per-request
//! overrides of SMS.CX's create request ([`OtpRequest`]), and [`resolve`], which
//! merges the second over the first and checks every rule with its own error.

use crate::error::{Error, Result};
use crate::id::is_uuid;
use crate::phone::{is_known_country, parse_phone, NumberType, PhoneNumber};
use crate::pin::{validate_custom_pin, validate_pin_length, PinType};
use crate::template::{
    choose_template, hidden_char, validate_language, validate_language_template, validate_template,
    LanguageTemplate, TemplateSource, TextKind,
};
use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Shortest OTP life, in seconds.
pub const MIN_TTL: u32 = 60;
/// Longest OTP life, in seconds.
pub const MAX_TTL: u32 = 1800;
/// Fewest verification attempts an OTP may allow.
pub const MIN_ATTEMPTS: u8 = 1;
/// Most verification attempts an OTP may allow.
pub const MAX_ATTEMPTS: u8 = 10;
/// Longest callback URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// Price of one SMS part, by destination country, with a default for the rest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PriceTable {
    /// Price per part where the country has no entry of its own.
    pub default: f64,
    /// Price per part by ISO 3166-1 alpha-2 country code (uppercase).
    pub countries: BTreeMap<String, f64>,
}

impl PriceTable {
    /// The price of one part to `country_iso`.
    pub fn price_per_part(&self, country_iso: &str) -> f64 {
        self.countries
            .get(country_iso)
            .copied()
            .unwrap_or(self.default)
    }

    /// The cost of `parts` parts to `country_iso`, rounded to 6 decimals so that
    /// sums of prices do not show binary fractions.
    pub fn cost(&self, country_iso: &str, parts: u32) -> f64 {
        ((self.price_per_part(country_iso) * f64::from(parts)) * 1e6).round() / 1e6
    }

    /// Every price finite and non-negative, every country known.
    pub fn validate(&self) -> Result<()> {
        let ok_price = |p: f64| p.is_finite() && p >= 0.0;
        if !ok_price(self.default) {
            return Err(Error::PriceInvalid);
        }
        for (iso, &price) in &self.countries {
            if !ok_price(price)
                || !is_known_country(iso)
                || iso.bytes().any(|b| b.is_ascii_lowercase())
            {
                return Err(Error::PriceInvalid);
            }
        }
        Ok(())
    }
}

/// An application's OTP defaults; every field can be overridden per request
/// except the price table, the brand, the WebOTP domain and the allowed number
/// types. Unknown fields are refused, so a misspelt setting never passes silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default, deny_unknown_fields)]
pub struct OtpSettings {
    /// Default template; `None` uses the built-in text in the phone country's language.
    pub template: Option<String>,
    /// Templates per language, chosen by phone prefix or by the request's `language`.
    pub language_templates: Vec<LanguageTemplate>,
    /// Sender id (SMS.CX `from`).
    pub originator: String,
    /// Alphabet of generated PINs.
    pub pin_type: PinType,
    /// Length of generated PINs, 4-10.
    pub pin_length: u8,
    /// Life of an OTP in seconds, 60-1800.
    pub ttl: u32,
    /// Verification attempts allowed, 1-10.
    pub max_attempts: u8,
    /// Where status changes are POSTed: https to a public host, unless the
    /// deployment allows private ones ([`check_callback_url`]).
    pub callback_url: Option<String>,
    /// Price per SMS part by country.
    pub prices: PriceTable,
    /// The application or brand name rendered by `{{brand}}`.
    pub brand: String,
    /// Domain for the WebOTP / SMS Retriever last line (`@domain #PIN`), if wanted.
    pub webotp_domain: Option<String>,
    /// The number types an OTP SMS may go to, by [`NumberType::as_str`] name
    /// (JSON `allowedNumberTypes`); default [`DEFAULT_ALLOWED_NUMBER_TYPES`]. See
    /// [`crate::recipient::check_recipient`].
    pub allowed_number_types: Vec<String>,
}

/// The number types an application sends to unless it says otherwise: the ones
/// that receive SMS (`mobile`, `fixedLineOrMobile`, `voip`, `personalNumber`).
pub const DEFAULT_ALLOWED_NUMBER_TYPES: [NumberType; 4] = [
    NumberType::Mobile,
    NumberType::FixedLineOrMobile,
    NumberType::Voip,
    NumberType::PersonalNumber,
];

impl Default for OtpSettings {
    fn default() -> Self {
        OtpSettings {
            template: None,
            language_templates: Vec::new(),
            originator: "Verify".into(),
            pin_type: PinType::Numbers,
            pin_length: 6,
            ttl: 600,
            max_attempts: 5,
            callback_url: None,
            prices: PriceTable::default(),
            brand: "Verify".into(),
            webotp_domain: None,
            allowed_number_types: DEFAULT_ALLOWED_NUMBER_TYPES
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect(),
        }
    }
}

impl OtpSettings {
    /// Checks every field, failing with the first violation's own error; a callback
    /// URL must name a public host ([`OtpSettings::validate_with`] and
    /// [`PrivateHosts::Refuse`]).
    pub fn validate(&self) -> Result<()> {
        self.validate_with(PrivateHosts::Refuse)
    }

    /// [`OtpSettings::validate`], with the deployment's choice of whether a callback
    /// URL may name a private host ([`check_callback_url`]).
    pub fn validate_with(&self, private_hosts: PrivateHosts) -> Result<()> {
        if let Some(t) = &self.template {
            validate_template(t)?;
        }
        for lt in &self.language_templates {
            validate_language_template(lt)?;
        }
        validate_originator(&self.originator)?;
        validate_pin_length(self.pin_length)?;
        validate_ttl(i64::from(self.ttl))?;
        validate_max_attempts(i64::from(self.max_attempts))?;
        if let Some(url) = &self.callback_url {
            check_callback_url(url, private_hosts)?;
        }
        self.prices.validate()?;
        validate_brand(&self.brand)?;
        if let Some(domain) = &self.webotp_domain {
            validate_webotp_domain(domain)?;
        }
        validate_allowed_number_types(&self.allowed_number_types)?;
        Ok(())
    }
}

/// Checks `allowedNumberTypes`: one or more names of [`NumberType`]
/// ([`NumberType::as_str`], exact spelling), never `unknown` (an invalid number
/// is never sent to). [`Error::AllowedNumberTypesInvalid`] otherwise.
pub fn validate_allowed_number_types(types: &[String]) -> Result<()> {
    let known =
        |name: &String| NumberType::from_name(name).is_some_and(|t| t != NumberType::Unknown);
    if types.is_empty() || !types.iter().all(known) {
        return Err(Error::AllowedNumberTypesInvalid);
    }
    Ok(())
}

/// One field of a request as the client sent it: the core checks types itself so
/// that "not a number" gets its own SMS.CX code instead of a generic parse error.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Field {
    /// Absent or `null`: the application's default applies.
    #[default]
    Missing,
    /// A JSON string.
    Text(String),
    /// A JSON number.
    Number(f64),
    /// A boolean, array or object.
    Other,
}

impl Field {
    /// The text, `None` when missing; a number or other type is `wrong_type`: the
    /// field's own SMS.CX error (every unusable `phoneNumber` is 2020, …).
    fn text(&self, wrong_type: Error) -> Result<Option<&str>> {
        match self {
            Field::Missing => Ok(None),
            Field::Text(s) => Ok(Some(s)),
            Field::Number(_) | Field::Other => Err(wrong_type),
        }
    }

    /// A whole number from a JSON number or numeric string, `None` when missing,
    /// `not_number` for anything else (fractions, words, booleans).
    fn whole_number(&self, not_number: Error) -> Result<Option<i64>> {
        let n = match self {
            Field::Missing => return Ok(None),
            Field::Number(n) => *n,
            Field::Text(s) => crate::decimal::parse_f64(s.trim()).ok_or(not_number)?,
            Field::Other => return Err(not_number),
        };
        if n.is_finite() && n.fract() == 0.0 && n.abs() < 1e15 {
            Ok(Some(n as i64))
        } else {
            Err(not_number)
        }
    }
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: Deserializer<'de>>(d: D) -> core::result::Result<Self, D::Error> {
        struct FieldVisitor;
        impl<'de> Visitor<'de> for FieldVisitor {
            type Value = Field;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("any JSON value")
            }
            fn visit_unit<E>(self) -> core::result::Result<Field, E> {
                Ok(Field::Missing)
            }
            fn visit_none<E>(self) -> core::result::Result<Field, E> {
                Ok(Field::Missing)
            }
            fn visit_some<D: Deserializer<'de>>(
                self,
                d: D,
            ) -> core::result::Result<Field, D::Error> {
                Field::deserialize(d)
            }
            fn visit_str<E>(self, v: &str) -> core::result::Result<Field, E> {
                Ok(Field::Text(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> core::result::Result<Field, E> {
                Ok(Field::Text(v))
            }
            fn visit_f64<E>(self, v: f64) -> core::result::Result<Field, E> {
                Ok(Field::Number(v))
            }
            fn visit_i64<E>(self, v: i64) -> core::result::Result<Field, E> {
                Ok(Field::Number(v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> core::result::Result<Field, E> {
                Ok(Field::Number(v as f64))
            }
            fn visit_bool<E>(self, _: bool) -> core::result::Result<Field, E> {
                Ok(Field::Other)
            }
            fn visit_seq<A: de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> core::result::Result<Field, A::Error> {
                while seq.next_element::<de::IgnoredAny>()?.is_some() {}
                Ok(Field::Other)
            }
            fn visit_map<A: de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> core::result::Result<Field, A::Error> {
                while map
                    .next_entry::<de::IgnoredAny, de::IgnoredAny>()?
                    .is_some()
                {}
                Ok(Field::Other)
            }
        }
        d.deserialize_any(FieldVisitor)
    }
}

impl From<&str> for Field {
    fn from(s: &str) -> Self {
        Field::Text(s.to_owned())
    }
}

impl From<i64> for Field {
    fn from(n: i64) -> Self {
        Field::Number(n as f64)
    }
}

/// SMS.CX's create request (`POST /otp`), field by field as sent. Unknown fields
/// are ignored, as SMS.CX does.
#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct OtpRequest {
    /// E.164, or national format together with `countryIso`.
    pub phone_number: Field,
    /// Country of a national-format number.
    pub country_iso: Field,
    /// Sender id override.
    pub from: Field,
    /// Template override; must hold `{{pin}}`.
    pub template: Field,
    /// The client's own UUID for this OTP.
    pub track_id: Field,
    /// Life in seconds override.
    pub ttl: Field,
    /// Attempts override.
    pub max_attempts: Field,
    /// PIN alphabet override.
    pub pin_type: Field,
    /// PIN length override.
    pub pin_length: Field,
    /// Callback URL override.
    pub otp_callback_url: Field,
    /// Language of the SMS text (2 letters), chosen over the phone prefix.
    pub language: Field,
    /// A PIN chosen by the caller (Dexatel's custom `code`); not part of SMS.CX's wire format.
    #[serde(skip)]
    pub custom_pin: Option<String>,
    /// Whether `otpCallbackUrl` may name a private host: the deployment's choice,
    /// never the client's (not part of the wire format; [`PrivateHosts::Refuse`]
    /// unless the caller says otherwise). See [`check_callback_url`].
    #[serde(skip)]
    pub private_hosts: PrivateHosts,
}

/// Everything decided about one OTP before it is sent: settings merged and checked.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolvedOtp {
    /// The destination.
    pub phone: PhoneNumber,
    /// Sender id.
    pub originator: String,
    /// The template text to render.
    pub template: String,
    /// Language of that text.
    pub language: String,
    /// Where the template came from.
    pub template_source: TemplateSource,
    /// PIN alphabet.
    pub pin_type: PinType,
    /// PIN length.
    pub pin_length: u8,
    /// A PIN chosen by the caller instead of a generated one.
    pub custom_pin: Option<String>,
    /// Life in seconds.
    pub ttl: u32,
    /// Attempts allowed.
    pub max_attempts: u8,
    /// Callback URL, if any.
    pub callback_url: Option<String>,
    /// The client's track id, if any.
    pub track_id: Option<String>,
    /// Brand rendered in the text.
    pub brand: String,
    /// WebOTP domain, if any.
    pub webotp_domain: Option<String>,
}

/// Merges `request` over `app` and checks every rule, in SMS.CX's field order, so
/// the first violation reported is the one SMS.CX would report.
pub fn resolve(app: &OtpSettings, request: &OtpRequest) -> Result<ResolvedOtp> {
    let phone_input = match request.phone_number.text(Error::PhoneNumberInvalid)? {
        Some(p) if !p.trim().is_empty() => p,
        _ => return Err(Error::PhoneNumberEmpty),
    };
    let country_iso = match request.country_iso.text(Error::CountryIsoInvalid)? {
        Some(iso) if !iso.trim().is_empty() => {
            let iso = iso.trim();
            if !is_known_country(iso) {
                return Err(Error::CountryIsoInvalid);
            }
            Some(iso)
        }
        _ => None,
    };
    let originator = match request.from.text(Error::FromInvalid)? {
        Some(from) => from.trim().to_owned(),
        None => app.originator.clone(),
    };
    validate_originator(&originator)?;
    let request_template = request.template.text(Error::TemplateInvalid)?;
    if let Some(t) = request_template {
        validate_template(t)?;
    }
    let track_id = match request.track_id.text(Error::TrackIdInvalid)? {
        Some(id) if !is_uuid(id) => return Err(Error::TrackIdInvalid),
        other => other.map(str::to_owned),
    };
    let ttl = match request.ttl.whole_number(Error::TtlNotNumber)? {
        Some(ttl) => validate_ttl(ttl)?,
        None => app.ttl,
    };
    let max_attempts = match request
        .max_attempts
        .whole_number(Error::MaxAttemptsNotNumber)?
    {
        Some(n) => validate_max_attempts(n)?,
        None => app.max_attempts,
    };
    let pin_type = match &request.pin_type {
        Field::Missing => app.pin_type,
        Field::Text(s) => PinType::parse(s)?,
        Field::Number(_) | Field::Other => return Err(Error::PinTypeInvalid),
    };
    let pin_length = match request.pin_length.whole_number(Error::PinLengthNotNumber)? {
        Some(n) if n < i64::from(crate::pin::MIN_PIN_LENGTH) => {
            return Err(Error::PinLengthTooShort)
        }
        Some(n) if n > i64::from(crate::pin::MAX_PIN_LENGTH) => {
            return Err(Error::PinLengthTooLong)
        }
        Some(n) => n as u8,
        None => app.pin_length,
    };
    let callback_url = match request.otp_callback_url.text(Error::CallbackUrlInvalid)? {
        Some(url) if !url.trim().is_empty() => {
            check_callback_url(url.trim(), request.private_hosts)?;
            Some(url.trim().to_owned())
        }
        _ => app.callback_url.clone(),
    };
    let language = match request.language.text(Error::LanguageInvalid)? {
        Some(l) if !l.trim().is_empty() => {
            validate_language(l.trim())?;
            Some(l.trim().to_ascii_lowercase())
        }
        _ => None,
    };
    if let Some(pin) = &request.custom_pin {
        validate_custom_pin(pin, pin_type)?;
    }
    // The phone is parsed last among the SMS.CX fields: 2020 comes after 2001-2019.
    let phone = parse_phone(phone_input, country_iso)?;
    let choice = choose_template(
        request_template,
        language.as_deref(),
        app.template.as_deref(),
        &app.language_templates,
        phone.digits(),
        phone.country_iso(),
    );
    Ok(ResolvedOtp {
        originator,
        template: choice.text.to_owned(),
        language: choice.language,
        template_source: choice.source,
        pin_type,
        pin_length: request
            .custom_pin
            .as_ref()
            .map_or(pin_length, |p| p.len() as u8),
        custom_pin: request.custom_pin.clone(),
        ttl,
        max_attempts,
        callback_url,
        track_id,
        brand: app.brand.clone(),
        webotp_domain: app.webotp_domain.clone(),
        phone,
    })
}

/// Checks a life in seconds against 60-1800.
pub fn validate_ttl(ttl: i64) -> Result<u32> {
    match ttl {
        t if t < i64::from(MIN_TTL) => Err(Error::TtlTooLow),
        t if t > i64::from(MAX_TTL) => Err(Error::TtlTooHigh),
        t => Ok(t as u32),
    }
}

/// Checks an attempt limit against 1-10.
pub fn validate_max_attempts(n: i64) -> Result<u8> {
    match n {
        n if n < i64::from(MIN_ATTEMPTS) => Err(Error::MaxAttemptsTooLow),
        n if n > i64::from(MAX_ATTEMPTS) => Err(Error::MaxAttemptsTooHigh),
        n => Ok(n as u8),
    }
}

/// Checks a sender id: 3-15 characters; letters, digits, spaces and `. - _ & + '`
/// only; at most 11 characters when it is alphanumeric (not a plain phone number).
pub fn validate_originator(from: &str) -> Result<()> {
    if from.trim().is_empty() {
        return Err(Error::FromEmpty);
    }
    if !from
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, ' ' | '.' | '-' | '_' | '&' | '+' | '\''))
    {
        return Err(Error::FromInvalid);
    }
    let len = from.chars().count();
    let numeric = from
        .strip_prefix('+')
        .unwrap_or(from)
        .bytes()
        .all(|b| b.is_ascii_digit());
    match len {
        0..=2 => Err(Error::FromTooShort),
        16.. => Err(Error::FromTooLong),
        12.. if !numeric => Err(Error::FromAlphanumericTooLong),
        _ => Ok(()),
    }
}

/// Whether a callback URL may name a private host: a loopback, private-network,
/// link-local, CGNAT, multicast or reserved address, or `localhost` and its
/// subdomains (see [`check_callback_url`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PrivateHosts {
    /// Refuse them: what every deployment does.
    #[default]
    Refuse,
    /// Accept them, and plain `http` for loopback hosts: local development (the
    /// worker with `ENVIRONMENT=development`) and tests (the npm package's
    /// `allowPrivateHosts`), where the receiver runs on the same machine.
    Allow,
}

/// Checks a URL that status callbacks (or the webhook gateway) will POST to, so that
/// a URL given by an API client cannot reach the sender's own network (SSRF):
///
/// - `https://host[:port][/path][?query]`; no user info, spaces or control
///   characters, at most [`MAX_URL_LEN`] bytes ([`Error::CallbackUrlInvalid`]);
/// - the host is a DNS name (ASCII; IDNs in punycode), a dotted-decimal IPv4 address
///   or a bracketed IPv6 address without zone;
/// - a host that a WHATWG URL parser (`fetch`) reads as an IPv4 number but that is
///   not plain dotted decimal (`2130706433`, `0x7f.1`, `017700000001`, `127.1`,
///   `127.000.000.001`, `foo.123`) is [`Error::CallbackUrlNumericHost`], always;
/// - with [`PrivateHosts::Refuse`], a private host is [`Error::CallbackUrlPrivateHost`]:
///   IPv4 0/8, 10/8, 100.64/10, 127/8, 169.254/16, 172.16/12, 192.0.0/24, 192.168/16,
///   198.18/15, 224/4 and 240/4 (broadcast included); IPv6 `::`, `::1`, `::/96`,
///   fc00::/7, fe80::/10, fec0::/10, ff00::/8, and IPv4-mapped (`::ffff:a.b.c.d`),
///   NAT64 (64:ff9b::/96, 64:ff9b:1::/48) and 6to4 (2002::/16) forms of private IPv4;
///   `localhost` and `*.localhost`;
/// - plain `http` only for a loopback host under [`PrivateHosts::Allow`]; otherwise
///   [`Error::CallbackUrlNotHttps`].
///
/// A DNS name that resolves to a private address passes: this is a check of the
/// text, and senders also never follow redirects.
pub fn check_callback_url(url: &str, private_hosts: PrivateHosts) -> Result<()> {
    let (secure, host) = split_callback_url(url)?;
    match (classify_host(host)?, private_hosts) {
        (HostKind::Public, _) => {}
        (_, PrivateHosts::Refuse) => return Err(Error::CallbackUrlPrivateHost),
        (HostKind::Loopback, PrivateHosts::Allow) => return Ok(()),
        (HostKind::Private, PrivateHosts::Allow) => {}
    }
    if secure {
        Ok(())
    } else {
        Err(Error::CallbackUrlNotHttps)
    }
}

/// The earlier check of configured callback URLs, left for the webhook gateway's
/// URL only: [`check_callback_url`] with [`PrivateHosts::Refuse`], except that the
/// three loopback hosts of the earlier rule (`localhost`, `127.0.0.1`, `[::1]`, with
/// `http` too) still pass. Settings and requests no longer use it: they take the
/// deployment's [`PrivateHosts`] ([`OtpSettings::validate_with`],
/// [`OtpRequest::private_hosts`]), and so should every new caller.
pub fn validate_callback_url(url: &str) -> Result<()> {
    let (_, host) = split_callback_url(url)?;
    let loopback = ["localhost", "127.0.0.1", "[::1]"]
        .iter()
        .any(|h| host.eq_ignore_ascii_case(h));
    check_callback_url(
        url,
        if loopback {
            PrivateHosts::Allow
        } else {
            PrivateHosts::Refuse
        },
    )
}

/// Whether the scheme is https, and the host, of a callback URL whose form is right
/// (scheme, length, characters, no user info, port).
fn split_callback_url(url: &str) -> Result<(bool, &str)> {
    let (secure, rest) = if let Some(rest) = strip_prefix_ignore_case(url, "https://") {
        (true, rest)
    } else if let Some(rest) = strip_prefix_ignore_case(url, "http://") {
        (false, rest)
    } else {
        return Err(Error::CallbackUrlInvalid);
    };
    // A backslash is a path separator to a WHATWG URL parser: refused rather than
    // read one way here and another way by `fetch`.
    if url.len() > MAX_URL_LEN
        || url
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err(Error::CallbackUrlInvalid);
    }
    // Byte searches and sums, here and in the helpers below, rather than `str::find`
    // with several characters, `split`, `parse` and `to_ascii_lowercase`: the same
    // checks, 1 KiB gzipped less in the npm package's wasm.
    let authority_end = position(rest, |b| matches!(b, b'/' | b'?' | b'#')).unwrap_or(rest.len());
    let authority = rest.get(..authority_end).unwrap_or(rest);
    if position(authority, |b| b == b'@').is_some() {
        return Err(Error::CallbackUrlInvalid);
    }
    let (host, port) = split_host_port(authority).ok_or(Error::CallbackUrlInvalid)?;
    if let Some(port) = port {
        if port.is_empty()
            || port.len() > 5
            || !port.bytes().all(|b| b.is_ascii_digit())
            || !(1..=65_535).contains(&decimal(port.as_bytes()))
        {
            return Err(Error::CallbackUrlInvalid);
        }
    }
    Ok((secure, host))
}

/// The first byte of `s` that `pred` accepts.
fn position(s: &str, pred: impl Fn(u8) -> bool) -> Option<usize> {
    s.bytes().position(pred)
}

/// The value of ASCII decimal digits (at most 9 of them: no overflow).
fn decimal(digits: &[u8]) -> u32 {
    digits
        .iter()
        .fold(0, |n, &b| n * 10 + u32::from(b.wrapping_sub(b'0')))
}

/// Where a callback host points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HostKind {
    /// A DNS name, or an address on the public internet.
    Public,
    /// `localhost`, `*.localhost`, 127/8 or `::1`.
    Loopback,
    /// Any other address that is not public (private, link-local, reserved, …).
    Private,
}

/// The kind of a callback URL's host, or why it is refused.
fn classify_host(host: &str) -> Result<HostKind> {
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(Error::CallbackUrlInvalid)?;
        return parse_ipv6(inner)
            .map(ipv6_kind)
            .ok_or(Error::CallbackUrlInvalid);
    }
    if !is_host_name(host) {
        return Err(Error::CallbackUrlInvalid);
    }
    // A WHATWG URL parser reads a host whose last label is a number (decimal, or
    // 0x hex) as an IPv4 address, in up to four parts of any base: only the plain
    // dotted-decimal form is accepted, so what is checked is what is fetched.
    let bytes = host.as_bytes();
    let last = bytes.rsplit(|&b| b == b'.').next().unwrap_or_default();
    if is_url_number(last) {
        return dotted_ipv4(bytes)
            .map(ipv4_kind)
            .ok_or(Error::CallbackUrlNumericHost);
    }
    let suffix = |n: usize| {
        bytes
            .get(bytes.len().saturating_sub(n)..)
            .unwrap_or_default()
    };
    if host.eq_ignore_ascii_case("localhost")
        || (bytes.len() >= 10 && suffix(10).eq_ignore_ascii_case(b".localhost"))
    {
        return Ok(HostKind::Loopback);
    }
    Ok(HostKind::Public)
}

/// Whether a host label is a number to a WHATWG URL parser: decimal digits, or `0x`
/// and hex digits (octal is a decimal-looking label with a leading 0).
fn is_url_number(label: &[u8]) -> bool {
    match label {
        [b'0', b'x' | b'X', digits @ ..] => digits.iter().all(u8::is_ascii_hexdigit),
        _ => !label.is_empty() && label.iter().all(u8::is_ascii_digit),
    }
}

/// The four bytes of plain dotted decimal (`a.b.c.d`, each 0-255 without leading zeros).
fn dotted_ipv4(host: &[u8]) -> Option<[u8; 4]> {
    let mut out = [0u8; 4];
    let mut parts = host.split(|&b| b == b'.');
    for byte in &mut out {
        let part = parts.next()?;
        if part.is_empty()
            || part.len() > 3
            || (part.len() > 1 && part.starts_with(b"0"))
            || !part.iter().all(u8::is_ascii_digit)
        {
            return None;
        }
        *byte = u8::try_from(decimal(part)).ok()?;
    }
    parts.next().is_none().then_some(out)
}

/// The kind of an IPv4 address.
fn ipv4_kind([a, b, c, _]: [u8; 4]) -> HostKind {
    match (a, b, c) {
        (127, _, _) => HostKind::Loopback,
        (0 | 10, _, _)
        | (100, 64..=127, _)
        | (169, 254, _)
        | (172, 16..=31, _)
        | (192, 0, 0)
        | (192, 168, _)
        | (198, 18..=19, _)
        | (224..=255, _, _) => HostKind::Private,
        _ => HostKind::Public,
    }
}

/// The kind of an IPv6 address (eight 16-bit groups).
fn ipv6_kind(g: [u16; 8]) -> HostKind {
    let v4 = |hi: u16, lo: u16| {
        let ([a, b], [c, d]) = (hi.to_be_bytes(), lo.to_be_bytes());
        ipv4_kind([a, b, c, d])
    };
    match g {
        [0, 0, 0, 0, 0, 0, 0, 1] => HostKind::Loopback,
        // Unspecified, and the deprecated IPv4-compatible ::a.b.c.d.
        [0, 0, 0, 0, 0, 0, _, _] => HostKind::Private,
        // IPv4-mapped, and NAT64's well-known prefix.
        [0, 0, 0, 0, 0, 0xffff, hi, lo] | [0x64, 0xff9b, 0, 0, 0, 0, hi, lo] => v4(hi, lo),
        // NAT64 for local use.
        [0x64, 0xff9b, 1, ..] => HostKind::Private,
        // 6to4: the IPv4 address follows the prefix.
        [0x2002, hi, lo, ..] => v4(hi, lo),
        // Unique local, link-local, site-local, multicast.
        [first, ..]
            if first & 0xfe00 == 0xfc00
                || first & 0xffc0 == 0xfe80
                || first & 0xffc0 == 0xfec0
                || first & 0xff00 == 0xff00 =>
        {
            HostKind::Private
        }
        _ => HostKind::Public,
    }
}

/// The eight groups of an IPv6 address as written between brackets: 1-4 hex digits
/// per group, one `::` at most, a dotted-decimal IPv4 tail allowed; no zone.
fn parse_ipv6(text: &str) -> Option<[u16; 8]> {
    /// The groups of `part` (`:`-separated) into `out`; how many. More than 8 never
    /// make an address: `None`, as for a malformed group.
    fn groups(part: &[u8], v4_tail: bool, out: &mut [u16; 8]) -> Option<usize> {
        if part.is_empty() {
            return Some(0);
        }
        let mut n = 0;
        let mut pieces = part.split(|&b| b == b':').peekable();
        while let Some(piece) = pieces.next() {
            if v4_tail && pieces.peek().is_none() && piece.contains(&b'.') {
                let [a, b, c, d] = dotted_ipv4(piece)?;
                out.get_mut(n..n + 2)?
                    .copy_from_slice(&[u16::from_be_bytes([a, b]), u16::from_be_bytes([c, d])]);
                n += 2;
            } else if (1..=4).contains(&piece.len()) && piece.iter().all(u8::is_ascii_hexdigit) {
                let hex = |n: u16, &b: &u8| n << 4 | (b as char).to_digit(16).unwrap_or(0) as u16;
                *out.get_mut(n)? = piece.iter().fold(0, hex);
                n += 1;
            } else {
                return None;
            }
        }
        Some(n)
    }
    // Byte searches, not `str::split_once("::")`: a `&str` pattern links core's
    // two-way string searcher and its panic formatting (4.7 KiB gzipped in the npm
    // package's wasm).
    let text = text.as_bytes();
    let double_colon = |s: &[u8]| s.windows(2).position(|w| w == b"::");
    let (mut head, mut tail) = ([0u16; 8], [0u16; 8]);
    let (h, t) = match double_colon(text) {
        Some(at) => {
            let (before, after) = (text.get(..at)?, text.get(at + 2..)?);
            if double_colon(after).is_some() {
                return None;
            }
            (
                groups(before, false, &mut head)?,
                Some(groups(after, true, &mut tail)?),
            )
        }
        None => (groups(text, true, &mut head)?, None),
    };
    match t {
        None if h == 8 => Some(head),
        Some(t) if h + t <= 7 => {
            // head's groups, zeros, then tail's last t groups at the end.
            head.get_mut(8 - t..)?.copy_from_slice(tail.get(..t)?);
            Some(head)
        }
        _ => None,
    }
}

/// Checks a WebOTP domain: a plain DNS host name such as `example.com`.
pub fn validate_webotp_domain(domain: &str) -> Result<()> {
    if is_host_name(domain) {
        Ok(())
    } else {
        Err(Error::WebOtpDomainInvalid)
    }
}

/// Checks a brand name: 1-32 characters after trimming, no control characters
/// ([`Error::BrandInvalid`]), and no invisible or direction-changing one
/// ([`Error::BrandInvisibleCharacter`], [`hidden_char`] of a [`TextKind::Name`]):
/// it goes into every SMS as it is typed.
pub fn validate_brand(brand: &str) -> Result<()> {
    let trimmed = brand.trim();
    if trimmed.is_empty() || trimmed.chars().count() > 32 || trimmed.chars().any(char::is_control) {
        return Err(Error::BrandInvalid);
    }
    if hidden_char(trimmed, TextKind::Name).is_some() {
        return Err(Error::BrandInvisibleCharacter);
    }
    Ok(())
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| s.get(prefix.len()..).unwrap_or_default())
}

/// Splits `host[:port]` or `[v6]:port`; `None` when the brackets do not balance.
fn split_host_port(authority: &str) -> Option<(&str, Option<&str>)> {
    if authority.starts_with('[') {
        let close = position(authority, |b| b == b']')?;
        let (host, rest) = authority.split_at_checked(close + 1)?;
        return match rest.strip_prefix(':') {
            Some(port) => Some((host, Some(port))),
            None if rest.is_empty() => Some((host, None)),
            None => None,
        };
    }
    Some(match position(authority, |b| b == b':') {
        Some(at) => (authority.get(..at)?, Some(authority.get(at + 1..)?)),
        None => (authority, None),
    })
}

/// A DNS name: labels of 1-63 letters, digits or inner hyphens, 253 characters at most.
fn is_host_name(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.as_bytes().split(|&b| b == b'.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .iter()
                    .all(|&b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with(b"-")
                && !label.ends_with(b"-")
        })
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;

    fn request(json: &str) -> OtpRequest {
        serde_json::from_str(json).unwrap()
    }

    fn resolve_json(json: &str) -> Result<ResolvedOtp> {
        resolve(&OtpSettings::default(), &request(json))
    }

    #[test]
    fn defaults_are_valid_and_apply_when_the_request_is_silent() {
        let app = OtpSettings::default();
        app.validate().unwrap();
        let r = resolve_json(r#"{"phoneNumber": "+33612424111"}"#).unwrap();
        assert_eq!(
            (r.ttl, r.max_attempts, r.pin_length, r.pin_type),
            (app.ttl, app.max_attempts, app.pin_length, app.pin_type)
        );
        assert_eq!(r.originator, "Verify");
        assert_eq!(r.phone.country_iso(), "FR");
    }

    #[test]
    fn request_fields_override_the_application_defaults() {
        let r = resolve_json(
            r#"{"phoneNumber": "0612424111", "countryIso": "FR", "from": "ACME", "ttl": 120, "maxAttempts": "4",
                "pinType": "letters", "pinLength": 8, "trackId": "123e4567-e89b-42d3-a456-426614174000",
                "otpCallbackUrl": "https://example.com/cb", "template": "Code {{pin}}"}"#,
        )
        .unwrap();
        assert_eq!(
            (r.ttl, r.max_attempts, r.pin_length, r.pin_type),
            (120, 4, 8, PinType::Letters)
        );
        assert_eq!(r.originator, "ACME");
        assert_eq!(r.template, "Code {{pin}}");
        assert_eq!(r.callback_url.as_deref(), Some("https://example.com/cb"));
        assert_eq!(r.phone.e164(), "+33612424111");
    }

    /// Each violation, in a request, with the code SMS.CX (or we) give it.
    #[test]
    fn every_request_violation_has_its_own_code() {
        let cases: &[(&str, Error)] = &[
            (r#"{}"#, Error::PhoneNumberEmpty),
            (r#"{"phoneNumber": "  "}"#, Error::PhoneNumberEmpty),
            (r#"{"phoneNumber": "0612424111"}"#, Error::CountryIsoEmpty),
            (
                r#"{"phoneNumber": "0612424111", "countryIso": "XX"}"#,
                Error::CountryIsoInvalid,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "from": ""}"#,
                Error::FromEmpty,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "from": "AC<ME"}"#,
                Error::FromInvalid,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "from": "AC"}"#,
                Error::FromTooShort,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "from": "1234567890123456"}"#,
                Error::FromTooLong,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "from": "ACME Company"}"#,
                Error::FromAlphanumericTooLong,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "template": "no placeholder"}"#,
                Error::TemplateInvalid,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "ttl": "soon"}"#,
                Error::TtlNotNumber,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "ttl": 90.5}"#,
                Error::TtlNotNumber,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "ttl": true}"#,
                Error::TtlNotNumber,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "ttl": 59}"#,
                Error::TtlTooLow,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "ttl": 1801}"#,
                Error::TtlTooHigh,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "maxAttempts": "x"}"#,
                Error::MaxAttemptsNotNumber,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "maxAttempts": 0}"#,
                Error::MaxAttemptsTooLow,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "maxAttempts": 11}"#,
                Error::MaxAttemptsTooHigh,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "pinType": ""}"#,
                Error::PinTypeEmpty,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "pinType": "hex"}"#,
                Error::PinTypeInvalid,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "pinLength": []}"#,
                Error::PinLengthNotNumber,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "pinLength": 3}"#,
                Error::PinLengthTooShort,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "pinLength": 11}"#,
                Error::PinLengthTooLong,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "trackId": "abc"}"#,
                Error::TrackIdInvalid,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "otpCallbackUrl": "not a url"}"#,
                Error::CallbackUrlInvalid,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "otpCallbackUrl": "http://example.com/cb"}"#,
                Error::CallbackUrlNotHttps,
            ),
            (
                r#"{"phoneNumber": "+33612424111", "language": "fra"}"#,
                Error::LanguageInvalid,
            ),
            (
                r#"{"phoneNumber": "+3361242411a"}"#,
                Error::PhoneNumberInvalid,
            ),
            (r#"{"phoneNumber": 33612424111}"#, Error::PhoneNumberInvalid),
        ];
        for (json, expected) in cases {
            assert_eq!(resolve_json(json).err(), Some(*expected), "{json}");
        }
    }

    #[test]
    fn the_first_violation_in_smscx_field_order_is_reported() {
        let r = resolve_json(r#"{"phoneNumber": "abc", "ttl": 5, "from": ""}"#);
        assert_eq!(r.err(), Some(Error::FromEmpty));
    }

    #[test]
    fn application_settings_violations_have_their_own_codes() {
        let bad = |f: &dyn Fn(&mut OtpSettings)| {
            let mut s = OtpSettings::default();
            f(&mut s);
            s.validate().unwrap_err()
        };
        assert_eq!(
            bad(&|s| s.template = Some("hi".into())),
            Error::TemplateInvalid
        );
        assert_eq!(bad(&|s| s.pin_length = 11), Error::PinLengthTooLong);
        assert_eq!(bad(&|s| s.ttl = 10), Error::TtlTooLow);
        assert_eq!(bad(&|s| s.max_attempts = 0), Error::MaxAttemptsTooLow);
        assert_eq!(bad(&|s| s.prices.default = -1.0), Error::PriceInvalid);
        assert_eq!(bad(&|s| s.prices.default = f64::NAN), Error::PriceInvalid);
        assert_eq!(
            bad(&|s| {
                s.prices.countries.insert("ZZ".into(), 1.0);
            }),
            Error::PriceInvalid
        );
        assert_eq!(bad(&|s| s.brand = String::new()), Error::BrandInvalid);
        assert_eq!(
            bad(&|s| s.webotp_domain = Some("https://x.com".into())),
            Error::WebOtpDomainInvalid
        );
        assert_eq!(
            bad(&|s| s.callback_url = Some("ftp://x.com".into())),
            Error::CallbackUrlInvalid
        );
    }

    #[test]
    fn callback_urls_need_https_and_a_well_formed_host() {
        for ok in [
            "https://example.com",
            "https://example.com:8443/a/b?c=d",
            "HTTPS://EXAMPLE.COM/",
        ] {
            assert_eq!(check_callback_url(ok, PrivateHosts::Refuse), Ok(()), "{ok}");
        }
        for (bad, e) in [
            ("http://example.com", Error::CallbackUrlNotHttps),
            ("https://", Error::CallbackUrlInvalid),
            ("https://user:pw@example.com", Error::CallbackUrlInvalid),
            ("https://exa mple.com", Error::CallbackUrlInvalid),
            ("https://example.com:99999", Error::CallbackUrlInvalid),
            ("https://example.com:", Error::CallbackUrlInvalid),
            ("https://[::1", Error::CallbackUrlInvalid),
            ("javascript:alert(1)", Error::CallbackUrlInvalid),
            ("https://-bad-.com", Error::CallbackUrlInvalid),
            (
                "https://example.com\\@127.0.0.1/",
                Error::CallbackUrlInvalid,
            ),
            (
                "https://127.0.0.1\\@example.com/",
                Error::CallbackUrlInvalid,
            ),
        ] {
            for flag in [PrivateHosts::Refuse, PrivateHosts::Allow] {
                assert_eq!(check_callback_url(bad, flag), Err(e), "{bad} {flag:?}");
            }
        }
    }

    /// The URL vectors shared with the npm package's test (tests/pkg/callback.test.mjs).
    fn url_vectors() -> serde_json::Value {
        let all: serde_json::Value =
            serde_json::from_str(include_str!("../tests/fixtures/webhook-vectors.json")).unwrap();
        all["callbackUrls"].clone()
    }

    fn url_cases<'a>(v: &'a serde_json::Value, key: &str) -> Vec<(&'a str, Error)> {
        let cases = v[key].as_array().unwrap();
        assert!(!cases.is_empty());
        cases
            .iter()
            .map(|c| {
                let reason = c["reason"].as_str().unwrap();
                let e = Error::from_name(reason).unwrap_or_else(|| panic!("no error {reason}"));
                (c["url"].as_str().unwrap(), e)
            })
            .collect()
    }

    #[test]
    fn public_hosts_pass_whatever_the_flag() {
        let v = url_vectors();
        for url in v["public"].as_array().unwrap() {
            let url = url.as_str().unwrap();
            for flag in [PrivateHosts::Refuse, PrivateHosts::Allow] {
                assert_eq!(check_callback_url(url, flag), Ok(()), "{url} {flag:?}");
            }
        }
    }

    #[test]
    fn private_hosts_are_refused_unless_allowed() {
        let v = url_vectors();
        for (url, e) in url_cases(&v, "private") {
            assert_eq!(
                check_callback_url(url, PrivateHosts::Refuse),
                Err(e),
                "{url}"
            );
            assert_eq!(
                check_callback_url(url, PrivateHosts::Allow),
                Ok(()),
                "{url}"
            );
            assert_eq!(e.code(), 2019);
        }
    }

    #[test]
    fn numeric_and_malformed_hosts_are_refused_whatever_the_flag() {
        let v = url_vectors();
        for (url, e) in url_cases(&v, "refused") {
            for flag in [PrivateHosts::Refuse, PrivateHosts::Allow] {
                assert_eq!(check_callback_url(url, flag), Err(e), "{url} {flag:?}");
            }
            assert_eq!(e.code(), 2019);
        }
    }

    #[test]
    fn allowed_private_hosts_still_need_https_unless_loopback() {
        let v = url_vectors();
        for (url, e) in url_cases(&v, "privateOverHttp") {
            assert_eq!(
                check_callback_url(url, PrivateHosts::Allow),
                Err(e),
                "{url}"
            );
            assert_eq!(
                check_callback_url(url, PrivateHosts::Refuse),
                Err(Error::CallbackUrlPrivateHost),
                "{url}"
            );
        }
        for url in [
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://127.9.9.9/cb",
            "http://[::1]:9/x",
            "http://[::ffff:127.0.0.1]/",
            "http://api.localhost/",
        ] {
            assert_eq!(
                check_callback_url(url, PrivateHosts::Allow),
                Ok(()),
                "{url}"
            );
        }
    }

    #[test]
    fn settings_and_requests_refuse_private_hosts_unless_the_deployment_allows_them() {
        let with_url = |url: &str| OtpSettings {
            callback_url: Some(url.into()),
            ..OtpSettings::default()
        };
        let request = |url: &str, private_hosts| OtpRequest {
            phone_number: "+33612424111".into(),
            otp_callback_url: url.into(),
            private_hosts,
            ..OtpRequest::default()
        };
        let app = OtpSettings::default();
        // The three loopback hosts the earlier rule let through, now refused by default.
        for url in [
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:9/x",
            "https://LOCALHOST/",
        ] {
            let refused = Err(Error::CallbackUrlPrivateHost);
            assert_eq!(with_url(url).validate(), refused, "{url}");
            assert_eq!(
                with_url(url).validate_with(PrivateHosts::Refuse),
                refused,
                "{url}"
            );
            assert_eq!(
                resolve(&app, &request(url, PrivateHosts::default())).map(|_| ()),
                refused,
                "{url}"
            );
            assert_eq!(
                with_url(url).validate_with(PrivateHosts::Allow),
                Ok(()),
                "{url}"
            );
            let allowed = resolve(&app, &request(url, PrivateHosts::Allow)).unwrap();
            assert_eq!(allowed.callback_url.as_deref(), Some(url));
        }
        // The same rule as the senders', case by case.
        let v = url_vectors();
        for (url, e) in url_cases(&v, "private") {
            assert_eq!(with_url(url).validate(), Err(e), "{url}");
            assert_eq!(
                with_url(url).validate_with(PrivateHosts::Allow),
                Ok(()),
                "{url}"
            );
        }
        for (url, e) in url_cases(&v, "refused") {
            for flag in [PrivateHosts::Refuse, PrivateHosts::Allow] {
                assert_eq!(with_url(url).validate_with(flag), Err(e), "{url}");
                assert_eq!(
                    resolve(&app, &request(url, flag)).map(|_| ()),
                    Err(e),
                    "{url}"
                );
            }
        }
        assert_eq!(
            with_url("https://169.254.169.254/latest/meta-data/").validate(),
            Err(Error::CallbackUrlPrivateHost)
        );
        assert_eq!(
            resolve_json(
                r#"{"phoneNumber": "+33612424111", "otpCallbackUrl": "https://10.0.0.1/cb"}"#
            )
            .map(|_| ()),
            Err(Error::CallbackUrlPrivateHost)
        );
        assert_eq!(
            resolve_json(
                r#"{"phoneNumber": "+33612424111", "otpCallbackUrl": "https://2130706433/"}"#
            )
            .map(|_| ()),
            Err(Error::CallbackUrlNumericHost)
        );
        // The choice is never read from the wire.
        let sneaky: OtpRequest = serde_json::from_str(
            r#"{"phoneNumber": "+33612424111", "privateHosts": "Allow", "private_hosts": "Allow"}"#,
        )
        .unwrap();
        assert_eq!(sneaky.private_hosts, PrivateHosts::Refuse);
    }

    #[test]
    fn the_webhook_gateway_check_still_keeps_the_three_loopback_hosts() {
        for ok in [
            "http://localhost:3000/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:9/x",
        ] {
            assert_eq!(validate_callback_url(ok), Ok(()), "{ok}");
        }
        assert_eq!(
            validate_callback_url("https://10.0.0.1/"),
            Err(Error::CallbackUrlPrivateHost)
        );
    }

    #[test]
    fn brands_refuse_invisible_and_direction_changing_characters() {
        for ok in ["Acme", "Zoé & Co", "ACME Bank", "دیجی کالا", "ヤマト運輸"] {
            assert_eq!(validate_brand(ok), Ok(()), "{ok}");
        }
        for bad in [
            "Acme\u{202E}gnp.exe",
            "Ac\u{200B}me",
            "Acme\u{200D}",
            "\u{2066}Acme\u{2069}",
            "Acme\u{FEFF}",
            "Ac\u{00AD}me",
            "Acme\u{E0041}",
            "دیجی\u{200C}کالا",
        ] {
            assert_eq!(
                validate_brand(bad),
                Err(Error::BrandInvisibleCharacter),
                "{bad:?}"
            );
            let settings = OtpSettings {
                brand: bad.into(),
                ..OtpSettings::default()
            };
            assert_eq!(settings.validate(), Err(Error::BrandInvisibleCharacter));
        }
        assert_eq!(validate_brand("Ac\u{7}me"), Err(Error::BrandInvalid));
        // Senders were ASCII only already: an override is an invalid `from`.
        assert_eq!(validate_originator("ACME\u{202E}"), Err(Error::FromInvalid));
        assert_eq!(
            resolve_json(r#"{"phoneNumber": "+33612424111", "from": "AC\u200bME"}"#).map(|_| ()),
            Err(Error::FromInvalid)
        );
    }

    #[test]
    fn request_templates_follow_the_template_rule() {
        assert_eq!(
            resolve_json(r#"{"phoneNumber": "+33612424111", "template": "Code {{pin}} \u202e"}"#)
                .map(|_| ()),
            Err(Error::TemplateInvisibleCharacter)
        );
        let r = resolve_json(
            r#"{"phoneNumber": "+33612424111", "template": "کد شما: {{pin}} می\u200cخواهم"}"#,
        )
        .unwrap();
        assert!(r.template.contains('\u{200C}'));
        assert_eq!(Error::TemplateInvisibleCharacter.code(), 2006);
    }

    #[test]
    fn ipv6_literals_parse_in_every_written_form() {
        assert_eq!(parse_ipv6("::"), Some([0; 8]));
        assert_eq!(parse_ipv6("::1"), Some([0, 0, 0, 0, 0, 0, 0, 1]));
        assert_eq!(parse_ipv6("1::"), Some([1, 0, 0, 0, 0, 0, 0, 0]));
        assert_eq!(
            parse_ipv6("2606:4700:4700::1111"),
            Some([0x2606, 0x4700, 0x4700, 0, 0, 0, 0, 0x1111])
        );
        assert_eq!(
            parse_ipv6("1:2:3:4:5:6:7:8"),
            Some([1, 2, 3, 4, 5, 6, 7, 8])
        );
        assert_eq!(
            parse_ipv6("1:2:3:4:5:6:1.2.3.4"),
            Some([1, 2, 3, 4, 5, 6, 0x0102, 0x0304])
        );
        assert_eq!(
            parse_ipv6("::FFFF:10.0.0.1"),
            Some([0, 0, 0, 0, 0, 0xffff, 0x0a00, 1])
        );
        for bad in [
            "",
            ":",
            ":::",
            "1:2:3:4:5:6:7",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            "1:2:3:4:5:6:7::8",
            "12345::",
            "g::",
            "+1::",
            "1.2.3.4::",
            "::1.2.3",
            "::01.2.3.4",
            "fe80::1%eth0",
        ] {
            assert_eq!(parse_ipv6(bad), None, "{bad}");
        }
    }

    #[test]
    fn numeric_senders_may_be_fifteen_digits_alphanumeric_only_eleven() {
        assert_eq!(validate_originator("+447911123456"), Ok(()));
        assert_eq!(validate_originator("123456789012345"), Ok(()));
        assert_eq!(validate_originator("ACME Bank11"), Ok(()));
        assert_eq!(
            validate_originator("ACME Bank 12"),
            Err(Error::FromAlphanumericTooLong)
        );
        assert_eq!(validate_originator("Zoé"), Err(Error::FromInvalid));
    }

    #[test]
    fn prices_are_per_part_by_country_with_a_default() {
        let mut prices = PriceTable {
            default: 0.05,
            ..Default::default()
        };
        prices.countries.insert("FR".into(), 0.07);
        assert_eq!(prices.cost("FR", 3), 0.21);
        assert_eq!(prices.cost("DE", 2), 0.1);
        prices.validate().unwrap();
    }

    #[test]
    fn settings_round_trip_through_camel_case_json() {
        let s: OtpSettings = serde_json::from_str(r#"{"pinType": "alphanumeric", "languageTemplates": [{"language": "fr", "prefixes": ["33"], "template": "Code {{pin}}"}]}"#).unwrap();
        assert_eq!(s.pin_type, PinType::Alphanumeric);
        assert_eq!(s.ttl, 600, "missing fields take defaults");
        let back: OtpSettings = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(back, s);
    }
}
