//! SMS templates: validation, rendering, built-in texts per language and the
//! choice of which template an OTP uses.
//!
//! # Placeholders
//!
//! Matched exactly (lowercase, no inner spaces); anything else, including
//! unbalanced braces and `{{PIN}}`, is left as typed:
//!
//! | Value | Placeholders |
//! |---|---|
//! | PIN | `{{pin}}` (SMS.CX), `{code}` (Dexatel), and also `{{code}}`, `{pin}` |
//! | TTL in whole minutes, rounded up | `{{ttl}}`, `{ttl}` |
//! | Brand (application name) | `{{brand}}`, `{brand}`, `{{app}}`, `{app}` |
//!
//! The template is read once from left to right, and at each `{` the longest
//! placeholder form wins: `{{pin}}` is one placeholder, `{{{pin}}}` is `{`, a
//! placeholder and `}`. Substituted values are never read again, so a PIN or a
//! brand containing `{{pin}}` is inserted as typed.
//!
//! # Built-in texts
//!
//! Each built-in text contains `{{brand}}`, `{{pin}}` and `{{ttl}}`. Where the
//! language allows, the wording keeps to the GSM-7 alphabet (one SMS part holds
//! 160 characters instead of 70): `en fr de es it pt nl ro pl tr sv da nb no fi`
//! are GSM-7 (Spanish says *clave de seguridad* and Portuguese *PIN* to avoid the
//! non-GSM `ó`/`ç`/`ã` of *código de verificación/verificação*; Romanian, Polish
//! and Turkish use words without non-GSM diacritics). `ru uk bg el cs hu zh` are
//! UCS-2. The texts that spell out a plural word (`en fr de es it pt nl sv da nb
//! no el`) read "1 minutes" for a 60-second TTL; the Slavic and Romanian texts use
//! an abbreviation (`min.`, `хв`) that needs no agreement, and `fi tr hu zh` need none.

use crate::error::{Error, Result};

/// The longest template accepted, in Unicode scalar values (`char`s), before rendering.
pub const MAX_TEMPLATE_CHARS: usize = 1000;

/// Which value a placeholder stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    Pin,
    Ttl,
    Brand,
}

/// Every placeholder form, double-brace forms first so that `{{pin}}` is matched whole.
const PLACEHOLDERS: &[(&str, Slot)] = &[
    ("{{pin}}", Slot::Pin),
    ("{{code}}", Slot::Pin),
    ("{{ttl}}", Slot::Ttl),
    ("{{brand}}", Slot::Brand),
    ("{{app}}", Slot::Brand),
    ("{pin}", Slot::Pin),
    ("{code}", Slot::Pin),
    ("{ttl}", Slot::Ttl),
    ("{brand}", Slot::Brand),
    ("{app}", Slot::Brand),
];

/// The placeholder `rest` starts with, with its length in bytes.
fn placeholder_at(rest: &str) -> Option<(usize, Slot)> {
    if !rest.starts_with('{') {
        return None;
    }
    PLACEHOLDERS
        .iter()
        .find(|(form, _)| rest.starts_with(form))
        .map(|&(form, slot)| (form.len(), slot))
}

/// One piece of a template: literal text or a placeholder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece<'t> {
    Text(&'t str),
    Slot(Slot),
}

/// Splits a template into pieces, left to right. Only ever slices at a `{` or
/// right after an ASCII placeholder, so every slice falls on a char boundary.
struct Pieces<'t> {
    rest: &'t str,
}

impl<'t> Iterator for Pieces<'t> {
    type Item = Piece<'t>;

    fn next(&mut self) -> Option<Piece<'t>> {
        let rest = self.rest;
        if rest.is_empty() {
            return None;
        }
        if let Some((len, slot)) = placeholder_at(rest) {
            self.rest = rest.get(len..).unwrap_or_default();
            return Some(Piece::Slot(slot));
        }
        // Literal text up to the next `{` that opens a placeholder. Byte 0 is not
        // one (checked above), so the search starts at byte 1; a match is always
        // a `{` byte, hence a char boundary.
        let end = rest
            .bytes()
            .enumerate()
            .skip(1)
            .find(|&(i, b)| b == b'{' && rest.get(i..).and_then(placeholder_at).is_some())
            .map_or(rest.len(), |(i, _)| i);
        // `split_at_checked` and `get`, not indexing: the same slices, with no panic
        // path brought into the wasm builds.
        let (text, next) = rest.split_at_checked(end).unwrap_or((rest, ""));
        self.rest = next;
        Some(Piece::Text(text))
    }
}

/// The pieces of `template`.
fn pieces(template: &str) -> Pieces<'_> {
    Pieces { rest: template }
}

/// Whether the template has a PIN placeholder (`{{pin}}`, `{code}`, `{{code}}` or `{pin}`).
pub fn has_pin_placeholder(template: &str) -> bool {
    pieces(template).any(|p| p == Piece::Slot(Slot::Pin))
}

/// Checks a template: not blank, at most [`MAX_TEMPLATE_CHARS`] chars, with a PIN placeholder.
///
/// A blank (empty or whitespace-only) template is [`Error::TemplateInvalid`]; a
/// longer one is [`Error::TemplateTooLong`]; one without a PIN placeholder is
/// [`Error::TemplateInvalid`] (checked in that order).
pub fn validate_template(template: &str) -> Result<()> {
    if template.trim().is_empty() {
        return Err(Error::TemplateInvalid);
    }
    if template.chars().nth(MAX_TEMPLATE_CHARS).is_some() {
        return Err(Error::TemplateTooLong);
    }
    if !has_pin_placeholder(template) {
        return Err(Error::TemplateInvalid);
    }
    if hidden_char(template, TextKind::Template).is_some() {
        return Err(Error::TemplateInvisibleCharacter);
    }
    Ok(())
}

/// Where a text is shown, for [`hidden_char`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextKind {
    /// A name shown as it is typed, to operators and in the SMS: an application's
    /// name, its brand, a sender id or name, a template's name. No control
    /// character and no invisible one at all.
    Name,
    /// The text of an SMS template, in any script: an invisible character only
    /// where its script needs it (below). Control characters are not this rule's
    /// business (a line break is text).
    Template,
}

/// The first character of `text` that can hide or reorder what a reader sees,
/// and that `kind` does not allow, if any.
///
/// Invisible here: the bidirectional controls (the embeddings, overrides and
/// isolates U+202A-U+202E and U+2066-U+2069, the marks LRM U+200E, RLM U+200F and
/// ALM U+061C), the zero-width characters (ZWSP U+200B, ZWNJ U+200C, ZWJ U+200D,
/// word joiner U+2060, BOM U+FEFF), the other format characters (soft hyphen,
/// invisible operators U+2061-U+2064, the deprecated U+206A-U+206F, interlinear
/// annotation U+FFF9-U+FFFB, shorthand and musical format controls), tags and
/// variation selectors (U+E0000-U+E0FFF, U+FE00-U+FE0F), fillers that draw
/// nothing (U+034F, U+115F, U+1160, U+17B4, U+17B5, U+3164, U+FFA0), the
/// Mongolian selectors U+180B-U+180F, and the line and paragraph separators
/// U+2028 and U+2029.
///
/// A template may hold only these of them, where a script needs them:
///
/// - ZWNJ and ZWJ between two characters of a script that joins or forms
///   conjuncts (Arabic, Syriac, N'Ko, the Indic scripts from Devanagari to Sinhala,
///   Myanmar, Khmer, Mongolian): the Persian *می‌خواهم*, the Hindi half forms;
///   and ZWJ inside an emoji sequence (👩‍💻);
/// - LRM, RLM and ALM in a template that holds right-to-left letters (Hebrew,
///   Arabic, Syriac, Thaana, N'Ko), to place the PIN and a Latin brand;
/// - one emoji presentation selector (U+FE0E or U+FE0F) right after a visible
///   character (❤️), and a Mongolian free variation selector after a Mongolian letter.
///
/// Everything else above is refused in templates too; a name refuses all of them,
/// and control characters.
pub fn hidden_char(text: &str, kind: TextKind) -> Option<char> {
    let rtl = kind == TextKind::Template && text.chars().any(is_rtl_letter);
    let mut prev: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        let refused = match kind {
            TextKind::Name => c.is_control() || is_invisible(c),
            TextKind::Template => {
                is_invisible(c) && !template_needs(c, prev, chars.peek().copied(), rtl)
            }
        };
        if refused {
            return Some(c);
        }
        prev = Some(c);
    }
    None
}

/// Whether `c` draws nothing or changes the direction of what follows (see [`hidden_char`]).
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'
            | '\u{1160}'
            | '\u{17B4}'
            | '\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{2028}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{FFF9}'..='\u{FFFB}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Whether a template's script needs the invisible `c` between `prev` and `next`.
fn template_needs(c: char, prev: Option<char>, next: Option<char>, rtl: bool) -> bool {
    let visible = |p: Option<char>| {
        p.is_some_and(|p| !is_invisible(p) && !p.is_control() && !p.is_whitespace())
    };
    match c {
        '\u{200C}' | '\u{200D}' => {
            let joining =
                prev.is_some_and(is_joining_script) && next.is_some_and(is_joining_script);
            let emoji = c == '\u{200D}'
                && prev.is_some_and(|p| {
                    is_emoji(p) || matches!(p, '\u{FE0F}' | '\u{1F3FB}'..='\u{1F3FF}')
                })
                && next.is_some_and(is_emoji);
            joining || emoji
        }
        '\u{200E}' | '\u{200F}' | '\u{061C}' => rtl,
        '\u{FE0E}' | '\u{FE0F}' => visible(prev),
        '\u{180B}'..='\u{180D}' | '\u{180F}' => {
            prev.is_some_and(|p| matches!(p, '\u{1820}'..='\u{18AF}'))
        }
        _ => false,
    }
}

/// A letter or mark of a script where ZWJ and ZWNJ choose joined or conjunct forms.
fn is_joining_script(c: char) -> bool {
    matches!(
        c,
        '\u{0600}'..='\u{07BF}' // Arabic, Syriac, Arabic Supplement, Thaana
            | '\u{07C0}'..='\u{07FF}' // N'Ko
            | '\u{0860}'..='\u{08FF}' // Syriac Supplement, Arabic Extended
            | '\u{0900}'..='\u{0DFF}' // Devanagari to Sinhala
            | '\u{1000}'..='\u{109F}' // Myanmar
            | '\u{1780}'..='\u{17FF}' // Khmer
            | '\u{1800}'..='\u{18AF}' // Mongolian
            | '\u{1CD0}'..='\u{1CFF}' // Vedic extensions
            | '\u{A8E0}'..='\u{A8FF}' // Devanagari Extended
            | '\u{FB50}'..='\u{FDFF}' // Arabic Presentation Forms-A
            | '\u{FE70}'..='\u{FEFE}' // Arabic Presentation Forms-B
    ) && !is_invisible(c)
}

/// A right-to-left letter: Hebrew, Arabic, Syriac, Thaana, N'Ko and their forms.
fn is_rtl_letter(c: char) -> bool {
    matches!(
        c,
        '\u{0590}'..='\u{05FF}'
            | '\u{0600}'..='\u{07FF}'
            | '\u{0860}'..='\u{08FF}'
            | '\u{FB1D}'..='\u{FDFF}'
            | '\u{FE70}'..='\u{FEFE}'
    ) && !is_invisible(c)
}

/// A pictograph that emoji ZWJ sequences join.
fn is_emoji(c: char) -> bool {
    matches!(c, '\u{2600}'..='\u{27BF}' | '\u{2B00}'..='\u{2BFF}' | '\u{1F000}'..='\u{1FAFF}')
        && !matches!(c, '\u{1F3FB}'..='\u{1F3FF}')
}

/// The values a template is rendered with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateVars<'a> {
    /// The PIN, inserted as typed (leading zeros kept).
    pub pin: &'a str,
    /// Lifetime of the OTP in seconds; rendered as whole minutes, rounded up.
    pub ttl_seconds: u32,
    /// The brand (application name) for `{{brand}}` / `{{app}}`.
    pub brand: &'a str,
    /// When set, the WebOTP / SMS Retriever line `@domain #pin` is appended (domain validated by the caller).
    pub webotp_domain: Option<&'a str>,
}

/// Renders `template` with `vars` in one left-to-right pass; never panics.
///
/// With `vars.webotp_domain = Some(domain)` the text gets the last line that
/// browsers (WebOTP) and Android (SMS Retriever) autofill from:
/// `"{text}\n\n@{domain} #{pin}"`.
pub fn render(template: &str, vars: &TemplateVars<'_>) -> String {
    let mut digits = [0u8; 10];
    let minutes = decimal_digits(vars.ttl_seconds.div_ceil(60), &mut digits);
    let mut out = String::with_capacity(template.len() + 32);
    for piece in pieces(template) {
        out.push_str(match piece {
            Piece::Text(text) => text,
            Piece::Slot(Slot::Pin) => vars.pin,
            Piece::Slot(Slot::Ttl) => minutes,
            Piece::Slot(Slot::Brand) => vars.brand,
        });
    }
    if let Some(domain) = vars.webotp_domain {
        out.push_str("\n\n@");
        out.push_str(domain);
        out.push_str(" #");
        out.push_str(vars.pin);
    }
    out
}

/// The decimal digits of `n`, written at the end of `buf` (faster and smaller in wasm
/// than `to_string`, which goes through `core::fmt`).
fn decimal_digits(mut n: u32, buf: &mut [u8; 10]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    core::str::from_utf8(&buf[i..]).unwrap_or_default()
}

/// An application's template for one language, optionally tied to phone prefixes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LanguageTemplate {
    /// ISO 639-1 language code (2 letters; compared case-insensitively).
    pub language: String,
    /// E.164 digit prefixes (1-6 digits, no `+`) of the numbers this template is for.
    #[serde(default)]
    pub prefixes: Vec<String>,
    /// The template text.
    pub template: String,
}

/// Checks a language code: exactly 2 ASCII letters, any case (`"FR"` is `"fr"`).
pub fn validate_language(code: &str) -> Result<()> {
    if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) {
        Ok(())
    } else {
        Err(Error::LanguageInvalid)
    }
}

/// The lowercase form of a valid language code (`"FR"` → `"fr"`), or [`Error::LanguageInvalid`].
pub fn normalize_language(code: &str) -> Result<String> {
    validate_language(code)?;
    Ok(code.to_ascii_lowercase())
}

/// Checks a language template: its language, every prefix (1-6 ASCII digits) and its template.
pub fn validate_language_template(t: &LanguageTemplate) -> Result<()> {
    validate_language(&t.language)?;
    let prefix_ok =
        |p: &String| (1..=6).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_digit());
    if !t.prefixes.iter().all(prefix_ok) {
        return Err(Error::LanguagePrefixInvalid);
    }
    validate_template(&t.template)
}

/// Built-in texts, one per language code. `nb` and `no` share the Norwegian text.
const BUILTINS: &[(&str, &str)] = &[
    (
        "en",
        "{{brand}}: your verification code is {{pin}}. It expires in {{ttl}} minutes.",
    ),
    (
        "fr",
        "{{brand}} : votre code de vérification est {{pin}}. Il expire dans {{ttl}} minutes.",
    ),
    (
        "de",
        "{{brand}}: Ihr Bestätigungscode lautet {{pin}}. Er ist {{ttl}} Minuten gültig.",
    ),
    (
        "es",
        "{{brand}}: tu clave de seguridad es {{pin}}. Caduca en {{ttl}} minutos.",
    ),
    (
        "it",
        "{{brand}}: il tuo codice di verifica è {{pin}}. Scade tra {{ttl}} minuti.",
    ),
    (
        "pt",
        "{{brand}}: o seu PIN é {{pin}}. Expira em {{ttl}} minutos.",
    ),
    (
        "nl",
        "{{brand}}: je verificatiecode is {{pin}}. Deze verloopt over {{ttl}} minuten.",
    ),
    (
        "ro",
        "{{brand}}: codul de verificare este {{pin}}. Este valabil {{ttl}} min.",
    ),
    (
        "pl",
        "{{brand}}: kod weryfikacyjny to {{pin}}. Kod wygasa za {{ttl}} min.",
    ),
    (
        "tr",
        "{{brand}}: onay kodunuz {{pin}}. Kodun süresi {{ttl}} dakika.",
    ),
    (
        "sv",
        "{{brand}}: din verifieringskod är {{pin}}. Den gäller i {{ttl}} minuter.",
    ),
    (
        "da",
        "{{brand}}: din bekræftelseskode er {{pin}}. Den udløber om {{ttl}} minutter.",
    ),
    (
        "nb",
        "{{brand}}: din bekreftelseskode er {{pin}}. Den utløper om {{ttl}} minutter.",
    ),
    (
        "no",
        "{{brand}}: din bekreftelseskode er {{pin}}. Den utløper om {{ttl}} minutter.",
    ),
    (
        "fi",
        "{{brand}}: vahvistuskoodisi on {{pin}}. Se vanhenee {{ttl}} minuutin kuluttua.",
    ),
    (
        "ru",
        "{{brand}}: код подтверждения {{pin}}. Действует {{ttl}} мин.",
    ),
    (
        "uk",
        "{{brand}}: код підтвердження {{pin}}. Дійсний {{ttl}} хв.",
    ),
    (
        "bg",
        "{{brand}}: кодът за потвърждение е {{pin}}. Валиден е {{ttl}} мин.",
    ),
    (
        "el",
        "{{brand}}: ο κωδικός επαλήθευσης είναι {{pin}}. Λήγει σε {{ttl}} λεπτά.",
    ),
    (
        "cs",
        "{{brand}}: váš ověřovací kód je {{pin}}. Platí {{ttl}} min.",
    ),
    (
        "hu",
        "{{brand}} ellenőrző kód: {{pin}}. {{ttl}} percig érvényes.",
    ),
    (
        "zh",
        "【{{brand}}】您的验证码是{{pin}}，{{ttl}}分钟内有效。",
    ),
];

/// The language codes that have a built-in text (lowercase).
pub const BUILTIN_LANGUAGES: &[&str] = &[
    "en", "fr", "de", "es", "it", "pt", "nl", "ro", "pl", "tr", "sv", "da", "nb", "no", "fi", "ru",
    "uk", "bg", "el", "cs", "hu", "zh",
];

/// The built-in text for a language code (case-insensitive), if there is one.
pub fn builtin_template(language: &str) -> Option<&'static str> {
    BUILTINS
        .iter()
        .find(|(code, _)| code.eq_ignore_ascii_case(language))
        .map(|&(_, text)| text)
}

/// The built-in language for a country (ISO 3166-1 alpha-2, any case); `"en"` when none.
///
/// Multilingual countries get their majority or most widely used language that
/// has a built-in text: BE, LU → `fr`; CH → `de`; CA → `en`; CY → `el`;
/// MA, DZ, TN → `fr` (no Arabic text is built in); CN → `zh` (simplified
/// Chinese, so TW, HK and MO stay `en`).
pub fn language_for_country(country_iso: &str) -> &'static str {
    let b = country_iso.as_bytes();
    if b.len() != 2 {
        return "en";
    }
    let code = [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()];
    match &code {
        b"FR" | b"BE" | b"LU" | b"MC" | b"GP" | b"MQ" | b"GF" | b"RE" | b"YT" | b"PM" | b"BL"
        | b"MF" | b"NC" | b"PF" | b"WF" | b"SN" | b"CI" | b"ML" | b"BF" | b"NE" | b"TG" | b"BJ"
        | b"GN" | b"CM" | b"GA" | b"CG" | b"CD" | b"CF" | b"TD" | b"MG" | b"DJ" | b"KM" | b"BI"
        | b"HT" | b"MA" | b"DZ" | b"TN" => "fr",
        b"DE" | b"AT" | b"CH" | b"LI" => "de",
        b"ES" | b"MX" | b"AR" | b"CO" | b"CL" | b"PE" | b"VE" | b"EC" | b"GT" | b"CU" | b"BO"
        | b"DO" | b"HN" | b"PY" | b"SV" | b"NI" | b"CR" | b"PA" | b"UY" | b"PR" | b"GQ" => "es",
        b"PT" | b"BR" | b"AO" | b"MZ" | b"CV" | b"GW" | b"ST" | b"TL" => "pt",
        b"IT" | b"SM" | b"VA" => "it",
        b"NL" | b"SR" | b"AW" | b"CW" | b"BQ" => "nl",
        b"RO" | b"MD" => "ro",
        b"PL" => "pl",
        b"TR" => "tr",
        b"SE" | b"AX" => "sv",
        b"DK" | b"FO" | b"GL" => "da",
        b"NO" | b"SJ" => "nb",
        b"FI" => "fi",
        b"RU" | b"BY" | b"KZ" | b"KG" => "ru",
        b"UA" => "uk",
        b"BG" => "bg",
        b"GR" | b"CY" => "el",
        b"CZ" => "cs",
        b"HU" => "hu",
        b"CN" => "zh",
        _ => "en",
    }
}

/// Where a chosen template came from (steps of [`choose_template`], in order).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TemplateSource {
    /// The template given in the request.
    Request,
    /// The app's template, or the built-in text, for the language given in the request.
    RequestLanguage,
    /// The app language template whose prefix matches the phone number (longest wins).
    PhonePrefix,
    /// The app's default template.
    AppDefault,
    /// The built-in text of the country's language (or English).
    BuiltIn,
}

/// The template an OTP uses, its language and where it came from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateChoice<'a> {
    /// The template text (not rendered yet).
    pub text: &'a str,
    /// Lowercase language code of the text (see [`choose_template`] for request and default templates).
    pub language: String,
    /// Which step chose it.
    pub source: TemplateSource,
}

/// Chooses the template for an OTP; the first step that yields a text wins.
///
/// 1. `request_template`, if given.
/// 2. With `request_language`: the first app template of that language (prefixes
///    ignored), else the built-in text of that language; with neither, go on.
/// 3. The app language template with the longest prefix of `phone_digits`; on a
///    tie the one listed first.
/// 4. `app_default`, if given.
/// 5. The built-in text in [`language_for_country`]`(country_iso)`.
/// 6. The English built-in text.
///
/// `language` is the language of the text chosen. For a request template or the
/// app default (whose language is unknown) it is the request language if given,
/// else the country's language. A request language that is not 2 ASCII letters is
/// ignored (validate it first with [`validate_language`]). Templates are not
/// validated here: validate them when they are received or stored.
pub fn choose_template<'a>(
    request_template: Option<&'a str>,
    request_language: Option<&str>,
    app_default: Option<&'a str>,
    app_languages: &'a [LanguageTemplate],
    phone_digits: &str,
    country_iso: &str,
) -> TemplateChoice<'a> {
    let request_language = request_language.and_then(|l| normalize_language(l).ok());
    let country_language = language_for_country(country_iso);
    let choice = |text: &'a str, language: &str, source| TemplateChoice {
        text,
        language: language.to_ascii_lowercase(),
        source,
    };
    let given_language = request_language.as_deref().unwrap_or(country_language);

    // 1. The request's own template.
    if let Some(text) = request_template {
        return choice(text, given_language, TemplateSource::Request);
    }

    // 2. An explicit request language.
    if let Some(language) = request_language.as_deref() {
        let app = app_languages
            .iter()
            .find(|t| t.language.eq_ignore_ascii_case(language));
        if let Some(t) = app {
            return choice(&t.template, language, TemplateSource::RequestLanguage);
        }
        if let Some(text) = builtin_template(language) {
            return choice(text, language, TemplateSource::RequestLanguage);
        }
    }

    // 3. The longest matching phone prefix; a tie keeps the first listed.
    let mut best: Option<(usize, &'a LanguageTemplate)> = None;
    for t in app_languages {
        for p in &t.prefixes {
            let longer = best.is_none_or(|(len, _)| p.len() > len);
            if !p.is_empty() && longer && phone_digits.starts_with(p.as_str()) {
                best = Some((p.len(), t));
            }
        }
    }
    if let Some((_, t)) = best {
        return choice(&t.template, &t.language, TemplateSource::PhonePrefix);
    }

    // 4. The app's default template.
    if let Some(text) = app_default {
        return choice(text, given_language, TemplateSource::AppDefault);
    }

    // 5. and 6. The built-in text of the country's language, else English.
    match builtin_template(country_language) {
        Some(text) => choice(text, country_language, TemplateSource::BuiltIn),
        None => choice(BUILTINS[0].1, "en", TemplateSource::BuiltIn),
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::rng::SeededRandom;
    use crate::sms::{count_parts, is_gsm7, SmsEncoding};

    fn vars<'a>(pin: &'a str, ttl_seconds: u32, brand: &'a str) -> TemplateVars<'a> {
        TemplateVars {
            pin,
            ttl_seconds,
            brand,
            webotp_domain: None,
        }
    }

    fn lt(language: &str, prefixes: &[&str], template: &str) -> LanguageTemplate {
        LanguageTemplate {
            language: language.to_string(),
            prefixes: prefixes.iter().map(|p| p.to_string()).collect(),
            template: template.to_string(),
        }
    }

    // --- render ---

    #[test]
    fn renders_smscx_double_brace_placeholders() {
        let out = render(
            "{{brand}}: {{pin}} ({{ttl}} min)",
            &vars("123456", 300, "Acme"),
        );
        assert_eq!(out, "Acme: 123456 (5 min)");
    }

    #[test]
    fn renders_dexatel_single_brace_placeholders() {
        let out = render("{app}: {code} ({ttl} min)", &vars("4821", 120, "Shop"));
        assert_eq!(out, "Shop: 4821 (2 min)");
    }

    #[test]
    fn accepts_every_pin_form() {
        for t in ["{{pin}}", "{pin}", "{{code}}", "{code}"] {
            assert!(has_pin_placeholder(t), "{t}");
            assert_eq!(render(t, &vars("9999", 60, "B")), "9999", "{t}");
        }
    }

    #[test]
    fn accepts_every_brand_form() {
        for t in ["{{brand}}", "{brand}", "{{app}}", "{app}"] {
            assert_eq!(render(t, &vars("1", 60, "Acme")), "Acme", "{t}");
        }
    }

    #[test]
    fn replaces_repeated_placeholders() {
        let out = render(
            "{{pin}} {code} {{pin}} {{brand}} {app} {{ttl}}{ttl}",
            &vars("42", 600, "X"),
        );
        assert_eq!(out, "42 42 42 X X 1010");
    }

    #[test]
    fn keeps_a_pin_with_a_leading_zero() {
        assert_eq!(
            render("Code {{pin}}", &vars("012345", 60, "B")),
            "Code 012345"
        );
    }

    #[test]
    fn does_not_expand_substituted_values_again() {
        let out = render("{{brand}} {{pin}}", &vars("{{ttl}}", 60, "{{pin}}{code}"));
        assert_eq!(out, "{{pin}}{code} {{ttl}}");
    }

    #[test]
    fn rounds_the_ttl_up_to_whole_minutes() {
        let ttl = |s| render("{{ttl}}", &vars("1", s, "B"));
        assert_eq!(ttl(0), "0");
        assert_eq!(ttl(1), "1");
        assert_eq!(ttl(60), "1");
        assert_eq!(ttl(61), "2");
        assert_eq!(ttl(1800), "30");
        assert_eq!(ttl(u32::MAX), "71582789");
    }

    #[test]
    fn leaves_unknown_and_malformed_placeholders_as_typed() {
        let t = "{{PIN}} {{ pin }} {{name}} {pin {{pin} }pin{ {} {{}} `{{`";
        assert!(!has_pin_placeholder("{{PIN}} {{ pin }} {{name}} {}"));
        assert_eq!(
            render(t, &vars("77", 60, "B")),
            "{{PIN}} {{ pin }} {{name}} {pin {77 }pin{ {} {{}} `{{`"
        );
    }

    #[test]
    fn extra_braces_around_a_placeholder_stay() {
        assert_eq!(render("{{{pin}}}", &vars("5", 60, "B")), "{5}");
        assert_eq!(render("{{{{code}}}}", &vars("5", 60, "B")), "{{5}}");
        assert_eq!(render("{{pin}}}", &vars("5", 60, "B")), "5}");
    }

    #[test]
    fn keeps_multibyte_text_around_placeholders() {
        let out = render(
            "【{{brand}}】验证码{{pin}}😀é{code}",
            &vars("1234", 60, "Ж"),
        );
        assert_eq!(out, "【Ж】验证码1234😀é1234");
    }

    #[test]
    fn appends_the_webotp_line_in_its_exact_shape() {
        let v = TemplateVars {
            webotp_domain: Some("example.com"),
            ..vars("123456", 300, "Acme")
        };
        assert_eq!(
            render("Your code is {{pin}}.", &v),
            "Your code is 123456.\n\n@example.com #123456"
        );
    }

    #[test]
    fn no_webotp_line_without_a_domain() {
        assert_eq!(render("{{pin}}", &vars("1", 60, "B")), "1");
    }

    #[test]
    fn renders_huge_and_brace_only_inputs() {
        let braces = "{".repeat(200_000) + &"}".repeat(200_000);
        assert_eq!(render(&braces, &vars("1", 60, "B")), braces);
        let many = "{{pin}}".repeat(50_000);
        assert_eq!(render(&many, &vars("12", 60, "B")), "12".repeat(50_000));
        assert_eq!(render("", &vars("1", 60, "B")), "");
    }

    // --- validation ---

    #[test]
    fn validate_accepts_a_template_with_a_pin() {
        assert_eq!(validate_template("Code: {{pin}}"), Ok(()));
        assert_eq!(validate_template("Code: {code}"), Ok(()));
    }

    #[test]
    fn validate_rejects_a_template_without_pin_as_invalid() {
        assert_eq!(
            validate_template("Hello {{brand}}"),
            Err(Error::TemplateInvalid)
        );
        assert_eq!(validate_template("{{PIN}}"), Err(Error::TemplateInvalid));
    }

    #[test]
    fn validate_rejects_a_blank_template_as_invalid() {
        assert_eq!(validate_template(""), Err(Error::TemplateInvalid));
        assert_eq!(validate_template(" \n\t "), Err(Error::TemplateInvalid));
        assert_eq!(
            validate_template(&" ".repeat(5000)),
            Err(Error::TemplateInvalid)
        );
    }

    #[test]
    fn validate_counts_chars_not_bytes_for_the_length_limit() {
        let at_limit = format!("{{{{pin}}}}{}", "é".repeat(MAX_TEMPLATE_CHARS - 7));
        assert_eq!(at_limit.chars().count(), MAX_TEMPLATE_CHARS);
        assert_eq!(validate_template(&at_limit), Ok(()));
        let over = format!("{at_limit}x");
        assert_eq!(validate_template(&over), Err(Error::TemplateTooLong));
        let over_no_pin = "x".repeat(MAX_TEMPLATE_CHARS + 1);
        assert_eq!(validate_template(&over_no_pin), Err(Error::TemplateTooLong));
    }

    #[test]
    fn templates_keep_the_invisible_characters_their_script_needs() {
        for ok in [
            "کد شما {{pin}} است. می\u{200C}خواهم", // Persian ZWNJ between letters
            "आपका कोड {{pin}} है। क्\u{200D}ष",      // Devanagari ZWJ after a virama
            "ඔබේ කේතය {{pin}} ශ්\u{200D}රී",         // Sinhala ZWJ
            "\u{200F}קוד: {{pin}}",                // RLM in a Hebrew template
            "رمزك \u{061C}{{pin}}\u{200E} Acme",   // ALM and LRM in an Arabic one
            "Code {{pin}} 👩\u{200D}💻 ❤\u{FE0F}", // an emoji ZWJ sequence, emoji presentation
            "Code {{pin}} 🏳\u{FE0F}\u{200D}🌈 👩🏽\u{200D}💻",
            "Code:\t{{pin}}\n\0", // control characters: not this rule's
        ] {
            assert_eq!(hidden_char(ok, TextKind::Template), None, "{ok:?}");
            assert_eq!(validate_template(ok), Ok(()), "{ok:?}");
        }
        for (bad, c) in [
            ("Code {{pin}}\u{202E}", '\u{202E}'), // right-to-left override
            ("\u{2066}Code\u{2069} {{pin}}", '\u{2066}'), // isolates
            ("Co\u{200B}de {{pin}}", '\u{200B}'), // zero-width space
            ("Co\u{200D}de {{pin}}", '\u{200D}'), // ZWJ inside Latin
            ("Code {{pin}}\u{200C}", '\u{200C}'), // ZWNJ at the end
            ("\u{200E}Code {{pin}}", '\u{200E}'), // LRM without right-to-left text
            ("Code {{pin}} \u{FEFF}", '\u{FEFF}'), // BOM
            ("Code {{pin}} \u{E0041}\u{E0042}", '\u{E0041}'), // tags (hidden ASCII)
            ("Code {{pin}} \u{FE0F}", '\u{FE0F}'), // a selector after a space
            ("Code {{pin}} ❤\u{FE0F}\u{FE0F}", '\u{FE0F}'),
            ("Code {{pin}}\u{2028}", '\u{2028}'),
            ("Code {{pin}} \u{3164}", '\u{3164}'), // Hangul filler
            ("Code {{pin}} \u{00AD}", '\u{00AD}'), // soft hyphen
        ] {
            assert_eq!(hidden_char(bad, TextKind::Template), Some(c), "{bad:?}");
            assert_eq!(
                validate_template(bad),
                Err(Error::TemplateInvisibleCharacter),
                "{bad:?}"
            );
        }
        for (_, text) in BUILTINS {
            assert_eq!(hidden_char(text, TextKind::Template), None, "{text}");
        }
    }

    #[test]
    fn names_refuse_every_invisible_and_control_character() {
        for ok in ["Acme", "Zoé & Co", "ヤマト運輸", "دیجی کالا", "Acme ❤"] {
            assert_eq!(hidden_char(ok, TextKind::Name), None, "{ok:?}");
        }
        for bad in [
            "Acme\u{202E}",
            "Ac\u{200B}me",
            "دیجی\u{200C}کالا",
            "Acme ❤\u{FE0F}",
            "Ac\tme",
            "Ac\u{0}me",
            "\u{200F}Acme",
            "Acme\u{E007F}",
        ] {
            assert!(hidden_char(bad, TextKind::Name).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn validate_language_takes_two_ascii_letters_in_any_case() {
        assert_eq!(validate_language("fr"), Ok(()));
        assert_eq!(validate_language("FR"), Ok(()));
        assert_eq!(normalize_language("Fr"), Ok("fr".to_string()));
        for bad in ["", "f", "fra", "f1", "fr-FR", "é", "éé", " fr"] {
            assert_eq!(
                validate_language(bad),
                Err(Error::LanguageInvalid),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn validate_language_template_checks_language_prefixes_and_text() {
        assert_eq!(
            validate_language_template(&lt("FR", &["33", "123456"], "{{pin}}")),
            Ok(())
        );
        assert_eq!(
            validate_language_template(&lt("fr", &[], "{{pin}}")),
            Ok(())
        );
        assert_eq!(
            validate_language_template(&lt("fra", &["33"], "{{pin}}")),
            Err(Error::LanguageInvalid)
        );
        for bad in ["", "1234567", "+33", "3a", "３３"] {
            assert_eq!(
                validate_language_template(&lt("fr", &["33", bad], "{{pin}}")),
                Err(Error::LanguagePrefixInvalid),
                "{bad:?}"
            );
        }
        assert_eq!(
            validate_language_template(&lt("fr", &["33"], "no pin")),
            Err(Error::TemplateInvalid)
        );
    }

    #[test]
    fn language_template_json_uses_camel_case_and_defaults_prefixes() {
        let t: LanguageTemplate =
            serde_json::from_str(r#"{"language":"fr","template":"{{pin}}"}"#).unwrap();
        assert_eq!(t, lt("fr", &[], "{{pin}}"));
    }

    // --- built-ins ---

    #[test]
    fn every_builtin_is_valid_and_has_pin_brand_and_ttl() {
        assert!(BUILTIN_LANGUAGES.len() >= 12);
        for &lang in BUILTIN_LANGUAGES {
            let text = builtin_template(lang).unwrap_or_else(|| panic!("{lang}"));
            assert_eq!(validate_template(text), Ok(()), "{lang}");
            assert!(text.contains("{{pin}}"), "{lang}");
            assert!(text.contains("{{brand}}"), "{lang}");
            assert!(text.contains("{{ttl}}"), "{lang}");
            assert_eq!(validate_language(lang), Ok(()), "{lang}");
        }
        assert_eq!(BUILTIN_LANGUAGES.len(), BUILTINS.len());
    }

    #[test]
    fn builtins_that_can_be_gsm7_are() {
        let gsm = [
            "en", "fr", "de", "es", "it", "pt", "nl", "ro", "pl", "tr", "sv", "da", "nb", "no",
            "fi",
        ];
        for &lang in BUILTIN_LANGUAGES {
            let text = builtin_template(lang).unwrap();
            assert_eq!(is_gsm7(text), gsm.contains(&lang), "{lang}");
            // A typical rendered built-in fits one SMS part.
            let sms = render(text, &vars("12345678", 600, "Acme Store"));
            assert_eq!(count_parts(&sms).parts, 1, "{lang}: {sms}");
        }
        assert_eq!(
            count_parts(builtin_template("fr").unwrap()).encoding,
            SmsEncoding::Gsm7
        );
    }

    #[test]
    fn renders_the_english_builtin() {
        let out = render(
            builtin_template("en").unwrap(),
            &vars("012345", 300, "Acme"),
        );
        assert_eq!(
            out,
            "Acme: your verification code is 012345. It expires in 5 minutes."
        );
    }

    #[test]
    fn builtin_lookup_ignores_case_and_knows_no_other_language() {
        assert_eq!(builtin_template("FR"), builtin_template("fr"));
        assert_eq!(builtin_template("xx"), None);
        assert_eq!(builtin_template(""), None);
    }

    #[test]
    fn countries_map_to_their_builtin_language() {
        let cases = [
            ("FR", "fr"),
            ("be", "fr"),
            ("LU", "fr"),
            ("MC", "fr"),
            ("SN", "fr"),
            ("CH", "de"),
            ("AT", "de"),
            ("DE", "de"),
            ("ES", "es"),
            ("MX", "es"),
            ("AR", "es"),
            ("BR", "pt"),
            ("AO", "pt"),
            ("IT", "it"),
            ("NL", "nl"),
            ("MD", "ro"),
            ("KZ", "ru"),
            ("BY", "ru"),
            ("UA", "uk"),
            ("CY", "el"),
            ("NO", "nb"),
            ("CN", "zh"),
            ("US", "en"),
            ("GB", "en"),
            ("JP", "en"),
            ("", "en"),
            ("FRA", "en"),
            ("é", "en"),
        ];
        for (country, lang) in cases {
            assert_eq!(language_for_country(country), lang, "{country}");
        }
    }

    #[test]
    fn every_country_language_has_a_builtin() {
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = [a, b];
                let code = core::str::from_utf8(&code).unwrap();
                let lang = language_for_country(code);
                assert!(builtin_template(lang).is_some(), "{code} -> {lang}");
            }
        }
    }

    // --- choice ---

    fn app_languages() -> Vec<LanguageTemplate> {
        vec![
            lt("fr", &["33"], "FR {{pin}}"),
            lt("de", &["41", "49"], "DE {{pin}}"),
            lt("it", &["4191"], "IT {{pin}}"),
            lt("en", &[], "EN app {{pin}}"),
        ]
    }

    #[test]
    fn choice_1_request_template_wins_over_everything() {
        let langs = app_languages();
        let c = choose_template(
            Some("Req {{pin}}"),
            Some("DE"),
            Some("Default {{pin}}"),
            &langs,
            "33612345678",
            "FR",
        );
        assert_eq!(c.text, "Req {{pin}}");
        assert_eq!(c.source, TemplateSource::Request);
        assert_eq!(c.language, "de");
    }

    #[test]
    fn choice_1_request_template_language_falls_back_to_the_country() {
        let c = choose_template(Some("Req {{pin}}"), None, None, &[], "33612345678", "FR");
        assert_eq!(c.language, "fr");
        let c = choose_template(Some("Req {{pin}}"), Some("xyz"), None, &[], "1555", "US");
        assert_eq!(c.language, "en");
    }

    #[test]
    fn choice_2_request_language_uses_the_app_template_of_that_language() {
        let langs = app_languages();
        let c = choose_template(
            None,
            Some("DE"),
            Some("Default {{pin}}"),
            &langs,
            "33612345678",
            "FR",
        );
        assert_eq!(c.text, "DE {{pin}}");
        assert_eq!(c.language, "de");
        assert_eq!(c.source, TemplateSource::RequestLanguage);
    }

    #[test]
    fn choice_2_request_language_falls_back_to_its_builtin() {
        let langs = app_languages();
        let c = choose_template(None, Some("es"), Some("D {{pin}}"), &langs, "33612", "FR");
        assert_eq!(c.text, builtin_template("es").unwrap());
        assert_eq!(c.language, "es");
        assert_eq!(c.source, TemplateSource::RequestLanguage);
    }

    #[test]
    fn choice_2_unknown_request_language_goes_on_to_the_prefix() {
        let langs = app_languages();
        let c = choose_template(None, Some("ja"), Some("D {{pin}}"), &langs, "33612", "FR");
        assert_eq!(c.text, "FR {{pin}}");
        assert_eq!(c.source, TemplateSource::PhonePrefix);
    }

    #[test]
    fn choice_3_phone_prefix_picks_the_app_language_template() {
        let langs = app_languages();
        let c = choose_template(None, None, Some("D {{pin}}"), &langs, "4915112345678", "DE");
        assert_eq!(c.text, "DE {{pin}}");
        assert_eq!(c.language, "de");
        assert_eq!(c.source, TemplateSource::PhonePrefix);
    }

    #[test]
    fn choice_3_longest_prefix_wins_across_templates() {
        let langs = app_languages();
        // 4191... matches "41" (de, listed first) and "4191" (it): the longer wins.
        let c = choose_template(None, None, None, &langs, "41911234567", "CH");
        assert_eq!(c.text, "IT {{pin}}");
        assert_eq!(c.language, "it");
        let c = choose_template(None, None, None, &langs, "41791234567", "CH");
        assert_eq!(c.text, "DE {{pin}}");
    }

    #[test]
    fn choice_3_a_prefix_tie_goes_to_the_first_listed() {
        let langs = vec![
            lt("fr", &["1"], "first {{pin}}"),
            lt("en", &["32", "1"], "second {{pin}}"),
            lt("nl", &["32"], "third {{pin}}"),
        ];
        let c = choose_template(None, None, None, &langs, "15551234567", "US");
        assert_eq!(c.text, "first {{pin}}");
        let c = choose_template(None, None, None, &langs, "32471234567", "BE");
        assert_eq!(c.text, "second {{pin}}");
        assert_eq!(c.language, "en");
    }

    #[test]
    fn choice_4_app_default_when_no_prefix_matches() {
        let langs = app_languages();
        let c = choose_template(None, None, Some("D {{pin}}"), &langs, "34612345678", "ES");
        assert_eq!(c.text, "D {{pin}}");
        assert_eq!(c.language, "es");
        assert_eq!(c.source, TemplateSource::AppDefault);
    }

    #[test]
    fn choice_5_builtin_in_the_country_language() {
        let langs = app_languages();
        let c = choose_template(None, None, None, &langs, "34612345678", "ES");
        assert_eq!(c.text, builtin_template("es").unwrap());
        assert_eq!(c.language, "es");
        assert_eq!(c.source, TemplateSource::BuiltIn);
    }

    #[test]
    fn choice_6_english_when_the_country_has_no_builtin_language() {
        let c = choose_template(None, None, None, &[], "81312345678", "JP");
        assert_eq!(c.text, builtin_template("en").unwrap());
        assert_eq!(c.language, "en");
        assert_eq!(c.source, TemplateSource::BuiltIn);
        let c = choose_template(None, None, None, &[], "", "");
        assert_eq!(c.language, "en");
    }

    #[test]
    fn choice_source_serializes_in_camel_case() {
        let json = serde_json::to_string(&TemplateSource::RequestLanguage).unwrap();
        assert_eq!(json, r#""requestLanguage""#);
        let c = choose_template(None, None, None, &[], "33612", "FR");
        let json = serde_json::to_string(&c).unwrap();
        assert!(
            json.ends_with(r#""language":"fr","source":"builtIn"}"#),
            "{json}"
        );
    }

    // --- property ---

    const FRAGMENTS: &[&str] = &[
        "{", "}", "{{", "}}", "pin", "code", "ttl", "brand", "app", "{pin}", "{{pin}}", "{code}",
        "a", "Z", " ", "\n", "é", "ж", "中", "😀", "\u{200d}", "€", "\\", "$", "0",
    ];

    fn random_text(rng: &mut SeededRandom, max_fragments: u64) -> String {
        let n = rng.next_u64() % (max_fragments + 1);
        let mut s = String::new();
        for _ in 0..n {
            let i = (rng.next_u64() % FRAGMENTS.len() as u64) as usize;
            s.push_str(FRAGMENTS[i]);
        }
        s
    }

    #[test]
    fn render_never_panics_and_keeps_the_pin_on_random_templates() {
        let mut rng = SeededRandom::new(0x5EED_7E3F_1A7E);
        for round in 0..20_000 {
            let template = random_text(&mut rng, 24);
            let pin = format!("{:06}", rng.next_u64() % 1_000_000);
            let brand = random_text(&mut rng, 4);
            let ttl_seconds = rng.next_u64() as u32;
            let domain = (rng.next_u64() >> 62 == 0).then_some("example.com");
            let v = TemplateVars {
                pin: &pin,
                ttl_seconds,
                brand: &brand,
                webotp_domain: domain,
            };
            let out = render(&template, &v);
            if has_pin_placeholder(&template) {
                assert!(out.contains(&pin), "round {round}: {template:?} -> {out:?}");
            } else if domain.is_none() {
                // Without a PIN placeholder only TTL and brand change the text.
                let no_pin = TemplateVars { pin: "", ..v };
                assert_eq!(out, render(&template, &no_pin), "round {round}");
            }
            let _ = validate_template(&template);
        }
    }
}
