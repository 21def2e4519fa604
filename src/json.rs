//! JSON text in and out for the npm bindings ([`crate::wasm`]), through the core's
//! serde types. Reading is a small serde `Deserializer` of our own, whose error is a
//! bare [`Invalid`]: serde_json's reader builds a message for every error (with
//! `core::fmt`, float formatting included), which costs the wasm build more than the
//! reader itself. Writing is serde_json's, with numbers written by [`crate::decimal`]
//! (exactly, and without float-formatting tables).
//!
//! The reader takes standard JSON (RFC 8259) and the serde data model as serde_json
//! does, with one exception: an enum value must be its name as a string (serde_json
//! also takes `{"name": null}` for a unit variant).

use crate::decimal;
use core::fmt;
use serde::de::{
    self, DeserializeSeed, Deserializer, IntoDeserializer, MapAccess, SeqAccess, Visitor,
};
use serde::{Deserialize, Serialize};

/// Input that is not JSON of the expected shape. It carries no message on purpose
/// (see the module docs); callers turn it into their own error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Invalid;

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid JSON input")
    }
}

impl std::error::Error for Invalid {}

impl de::Error for Invalid {
    fn custom<T: fmt::Display>(_: T) -> Self {
        Invalid
    }
    fn invalid_type(_: de::Unexpected<'_>, _: &dyn de::Expected) -> Self {
        Invalid
    }
    fn invalid_value(_: de::Unexpected<'_>, _: &dyn de::Expected) -> Self {
        Invalid
    }
    fn invalid_length(_: usize, _: &dyn de::Expected) -> Self {
        Invalid
    }
    fn unknown_variant(_: &str, _: &'static [&'static str]) -> Self {
        Invalid
    }
    fn unknown_field(_: &str, _: &'static [&'static str]) -> Self {
        Invalid
    }
    fn missing_field(_: &'static str) -> Self {
        Invalid
    }
    fn duplicate_field(_: &'static str) -> Self {
        Invalid
    }
}

/// Nesting deeper than this is refused (serde_json's limit too).
const MAX_DEPTH: u32 = 128;

/// Reads a `T` from JSON text; anything after the value but whitespace is an error.
pub(crate) fn from_str<'de, T: Deserialize<'de>>(text: &'de str) -> Result<T, Invalid> {
    let mut reader = Reader {
        text,
        pos: 0,
        depth: 0,
    };
    let value = T::deserialize(&mut reader)?;
    match reader.peek() {
        None => Ok(value),
        Some(_) => Err(Invalid),
    }
}

/// Writes `value` as compact JSON.
pub(crate) fn to_string<T: Serialize + ?Sized>(value: &T) -> Option<String> {
    let mut out = Vec::with_capacity(256);
    value
        .serialize(&mut serde_json::Serializer::with_formatter(
            &mut out,
            ExactNumbers,
        ))
        .ok()?;
    String::from_utf8(out).ok()
}

/// serde_json's compact output, with floats written by [`decimal::write_f64`].
struct ExactNumbers;

impl serde_json::ser::Formatter for ExactNumbers {
    fn write_f64<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: f64) -> std::io::Result<()> {
        let mut text = String::new();
        decimal::write_f64(v, &mut text);
        w.write_all(text.as_bytes())
    }

    fn write_f32<W: ?Sized + std::io::Write>(&mut self, w: &mut W, v: f32) -> std::io::Result<()> {
        self.write_f64(w, f64::from(v))
    }
}

struct Reader<'de> {
    text: &'de str,
    pos: usize,
    depth: u32,
}

/// A string value: a slice of the input when it has no escapes.
enum Text<'de> {
    Borrowed(&'de str),
    Owned(String),
}

enum Number {
    Unsigned(u64),
    Signed(i64),
    Float(f64),
}

impl<'de> Reader<'de> {
    fn bytes(&self) -> &'de [u8] {
        self.text.as_bytes()
    }

    /// The next byte after whitespace, not consumed.
    fn peek(&mut self) -> Option<u8> {
        let b = self.bytes();
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = b.get(self.pos) {
            self.pos += 1;
        }
        b.get(self.pos).copied()
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Invalid> {
        if self.bytes()[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Invalid)
        }
    }

    /// A string, from its opening quote.
    fn string(&mut self) -> Result<Text<'de>, Invalid> {
        let (text, b) = (self.text, self.bytes());
        let start = self.pos + 1;
        let mut i = start;
        let mut owned: Option<String> = None;
        let mut run = start; // start of the bytes not yet copied into `owned`
        loop {
            match *b.get(i).ok_or(Invalid)? {
                // Slices end at an ASCII byte, so `get` never fails (and, unlike
                // indexing, brings no panic path with it).
                b'"' => {
                    self.pos = i + 1;
                    let last = text.get(run..i).ok_or(Invalid)?;
                    return Ok(match owned {
                        None => Text::Borrowed(last),
                        Some(mut s) => {
                            s.push_str(last);
                            Text::Owned(s)
                        }
                    });
                }
                b'\\' => {
                    let s = owned.get_or_insert_with(String::new);
                    s.push_str(text.get(run..i).ok_or(Invalid)?);
                    let c = match *b.get(i + 1).ok_or(Invalid)? {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => {
                            let high = hex4(b, i + 2)?;
                            i += 4;
                            let code = match high {
                                0xD800..=0xDBFF => {
                                    if b.get(i + 2..i + 4) != Some(b"\\u") {
                                        return Err(Invalid);
                                    }
                                    let low = hex4(b, i + 4)?;
                                    if !(0xDC00..=0xDFFF).contains(&low) {
                                        return Err(Invalid);
                                    }
                                    i += 6;
                                    0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00)
                                }
                                _ => high,
                            };
                            char::from_u32(code).ok_or(Invalid)?
                        }
                        _ => return Err(Invalid),
                    };
                    s.push(c);
                    i += 2;
                    run = i;
                }
                0..=0x1f => return Err(Invalid),
                _ => i += 1,
            }
        }
    }

    /// A number, by JSON's grammar: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Result<Number, Invalid> {
        let b = self.bytes();
        let digits_from = |i: usize| i + b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
        let negative = b[self.pos] == b'-';
        let int_start = self.pos + usize::from(negative);
        let int_end = digits_from(int_start);
        let int = &b[int_start..int_end];
        if int.is_empty() || (int[0] == b'0' && int.len() > 1) {
            return Err(Invalid);
        }
        let mut i = int_end;
        let mut frac: &[u8] = &[];
        if b.get(i) == Some(&b'.') {
            let end = digits_from(i + 1);
            if end == i + 1 {
                return Err(Invalid);
            }
            frac = &b[i + 1..end];
            i = end;
        }
        let mut exp: Option<i64> = None;
        if let Some(b'e' | b'E') = b.get(i) {
            i += 1;
            let negative_exp = match b.get(i) {
                Some(b'-') => {
                    i += 1;
                    true
                }
                Some(b'+') => {
                    i += 1;
                    false
                }
                _ => false,
            };
            let end = digits_from(i);
            if end == i {
                return Err(Invalid);
            }
            let value = b[i..end]
                .iter()
                .fold(0i64, |e, &d| (e * 10 + i64::from(d - b'0')).min(1 << 40));
            exp = Some(if negative_exp { -value } else { value });
            i = end;
        }
        self.pos = i;
        if frac.is_empty() && exp.is_none() {
            let value = int.iter().try_fold(0u64, |v, &d| {
                v.checked_mul(10)?.checked_add(u64::from(d - b'0'))
            });
            match (negative, value) {
                (false, Some(v)) => return Ok(Number::Unsigned(v)),
                // As serde_json: -0 is a float, so it never passes for an unsigned field.
                (true, Some(v)) if v > 0 && v <= 1 << 63 => {
                    return Ok(Number::Signed((v as i64).wrapping_neg()))
                }
                _ => {}
            }
        }
        let value = decimal::decimal_to_f64(int, frac, exp.unwrap_or(0));
        if value.is_infinite() {
            return Err(Invalid);
        }
        Ok(Number::Float(if negative { -value } else { value }))
    }

    fn enter(&mut self) -> Result<(), Invalid> {
        self.depth += 1;
        self.pos += 1;
        if self.depth > MAX_DEPTH {
            return Err(Invalid);
        }
        Ok(())
    }

    /// The closing bracket of an array or object whose visitor is done with it.
    fn leave(&mut self, close: u8) -> Result<(), Invalid> {
        if self.peek() != Some(close) {
            return Err(Invalid);
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }
}

/// Four hex digits at `at`.
fn hex4(b: &[u8], at: usize) -> Result<u32, Invalid> {
    b.get(at..at + 4)
        .ok_or(Invalid)?
        .iter()
        .try_fold(0, |v, &c| Some(v << 4 | (c as char).to_digit(16)?))
        .ok_or(Invalid)
}

/// The start of a value, read by one non-generic function so that each visitor's
/// `deserialize_any` is only the dispatch below.
enum Token<'de> {
    Null,
    Bool(bool),
    Text(Text<'de>),
    Number(Number),
    /// After `[`.
    Array,
    /// After `{`.
    Object,
}

impl<'de> Reader<'de> {
    fn token(&mut self) -> Result<Token<'de>, Invalid> {
        Ok(match self.peek().ok_or(Invalid)? {
            b'n' => {
                self.literal(b"null")?;
                Token::Null
            }
            b't' => {
                self.literal(b"true")?;
                Token::Bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                Token::Bool(false)
            }
            b'"' => Token::Text(self.string()?),
            b'-' | b'0'..=b'9' => Token::Number(self.number()?),
            b'[' => {
                self.enter()?;
                Token::Array
            }
            b'{' => {
                self.enter()?;
                Token::Object
            }
            _ => return Err(Invalid),
        })
    }
}

impl<'de> Deserializer<'de> for &mut Reader<'de> {
    type Error = Invalid;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        match self.token()? {
            Token::Null => visitor.visit_unit(),
            Token::Bool(b) => visitor.visit_bool(b),
            Token::Text(Text::Borrowed(s)) => visitor.visit_borrowed_str(s),
            Token::Text(Text::Owned(s)) => visitor.visit_string(s),
            Token::Number(Number::Unsigned(n)) => visitor.visit_u64(n),
            Token::Number(Number::Signed(n)) => visitor.visit_i64(n),
            Token::Number(Number::Float(n)) => visitor.visit_f64(n),
            Token::Array => {
                let value = visitor.visit_seq(Elements {
                    reader: &mut *self,
                    first: true,
                })?;
                self.leave(b']')?;
                Ok(value)
            }
            Token::Object => {
                let value = visitor.visit_map(Elements {
                    reader: &mut *self,
                    first: true,
                })?;
                self.leave(b'}')?;
                Ok(value)
            }
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        if self.peek() == Some(b'n') {
            self.literal(b"null")?;
            visitor.visit_none()
        } else {
            visitor.visit_some(self)
        }
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        visitor: V,
    ) -> Result<V::Value, Invalid> {
        visitor.visit_newtype_struct(self)
    }

    /// Unit variants only, by name.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Invalid> {
        if self.peek() != Some(b'"') {
            return Err(Invalid);
        }
        match self.string()? {
            Text::Borrowed(s) => visitor.visit_enum(de::value::BorrowedStrDeserializer::new(s)),
            Text::Owned(s) => visitor.visit_enum(IntoDeserializer::<Invalid>::into_deserializer(s)),
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Invalid> {
        self.deserialize_any(de::IgnoredAny)?;
        visitor.visit_unit()
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct seq tuple tuple_struct map struct identifier
    }
}

/// The elements of an array, or the entries of an object.
struct Elements<'r, 'de> {
    reader: &'r mut Reader<'de>,
    first: bool,
}

impl Elements<'_, '_> {
    /// Moves past the `,` before an element; false at the closing bracket.
    fn next(&mut self, close: u8) -> Result<bool, Invalid> {
        let next = self.reader.peek();
        if next == Some(close) {
            return Ok(false);
        }
        if !self.first {
            if next != Some(b',') {
                return Err(Invalid);
            }
            self.reader.pos += 1;
        }
        self.first = false;
        Ok(true)
    }
}

impl<'de> SeqAccess<'de> for Elements<'_, 'de> {
    type Error = Invalid;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Invalid> {
        if !self.next(b']')? {
            return Ok(None);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }
}

impl<'de> MapAccess<'de> for Elements<'_, 'de> {
    type Error = Invalid;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Invalid> {
        if !self.next(b'}')? {
            return Ok(None);
        }
        if self.reader.peek() != Some(b'"') {
            return Err(Invalid);
        }
        seed.deserialize(&mut *self.reader).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Invalid> {
        if self.reader.peek() != Some(b':') {
            return Err(Invalid);
        }
        self.reader.pos += 1;
        seed.deserialize(&mut *self.reader)
    }
}

#[cfg(test)]
mod tests {
    #[cfg(target_arch = "wasm32")]
    use wasm_bindgen_test::wasm_bindgen_test as test;

    use super::*;
    use crate::otp::OtpRecord;
    use crate::settings::{OtpRequest, OtpSettings};
    use serde_json::Value;

    /// What serde_json makes of `json` as a `T`, and what we make of it, agree: both
    /// fail, or both give the same value.
    fn agree<T: for<'de> Deserialize<'de> + PartialEq + fmt::Debug>(json: &str) {
        let theirs = serde_json::from_str::<T>(json).ok();
        let ours = from_str::<T>(json).ok();
        assert_eq!(ours, theirs, "{json}");
    }

    #[test]
    fn reads_what_serde_json_reads_into_the_core_types() {
        for json in [
            r#"{"phoneNumber": "+33612424111"}"#,
            r#" { "phoneNumber" : "06 12", "countryIso": "FR", "ttl": "300", "maxAttempts": 4.5, "pinLength": 1e1 } "#,
            r#"{"phoneNumber": "a\"b\\c\/d\b\f\n\r\t\u00e9\ud83d\ude00", "from": null, "unknown": [1, {"x": [true, false, null]}]}"#,
            r#"{"phoneNumber": 33612424111, "ttl": -5, "pinType": ["x"], "language": {}}"#,
            r#"{"ttl": 18446744073709551616, "maxAttempts": -9223372036854775809, "pinLength": -0}"#,
            r#"[]"#,
            r#"{"phoneNumber": "x",}"#,
            r#"{"phoneNumber": "x" "from": "y"}"#,
            r#"{"phoneNumber": "x"} x"#,
            r#"{"phoneNumber": "\ud800"}"#,
            r#"{"phoneNumber": "\u00"}"#,
            r#"{"phoneNumber": "tab	inside"}"#,
            r#"{"ttl": 01}"#,
            r#"{"ttl": 1.}"#,
            r#"{"ttl": .5}"#,
            r#"{"ttl": 1e}"#,
            r#"{"ttl": +1}"#,
            r#"{"ttl": 1e400}"#,
            r#"{"ttl": nul}"#,
            r#"{"phoneNumber": "x", "phoneNumber": "y"}"#,
        ] {
            agree::<OtpRequest>(json);
        }
        for json in [
            r#"{}"#,
            r#"{"ttl": 300, "pinType": "letters", "prices": {"default": 0.05, "countries": {"FR": 0.07}}, "brand": "Acme"}"#,
            r#"{"languageTemplates": [{"language": "fr", "prefixes": ["33"], "template": "Code {{pin}}"}], "webotpDomain": null}"#,
            r#"{"ttl": 300, "colour": "blue"}"#,
            r#"{"ttl": 300.5}"#,
            r#"{"ttl": -1}"#,
            r#"{"pinLength": 256}"#,
            r#"{"pinType": "hex"}"#,
            r#"{"prices": {"default": 0.30000000000000004, "countries": {"FR": 1e-7, "DE": 12345678901234567890}}}"#,
            r#"null"#,
        ] {
            agree::<OtpSettings>(json);
        }
        let record = r#"{"otpId":"3c1d1f6e-8a38-4f0c-a0ab-2c1b6f2f6b1e","trackId":null,"phoneMasked":"+33******111","countryIso":"FR","status":"PENDING","cost":0.05,"parts":1,"maxAttempts":5,"attempts":0,"ttl":600,"otpCallbackUrl":null,"createdAt":1800000000,"expiresAt":1800000600,"updatedAt":1800000000,"pinDigest":"00"}"#;
        agree::<OtpRecord>(record);
        agree::<OtpRecord>(&record.replace("\"trackId\":null,", ""));
        agree::<OtpRecord>(&record.replace("PENDING", "DONE"));
        agree::<OtpRecord>(&record.replace("\"attempts\":0", "\"attempts\":256"));
        agree::<OtpRecord>(&record.replace("1800000600", "1.8e9"));
        agree::<OtpRecord>(&record.replace("\"cost\":0.05", "\"cost\":\"0.05\""));
    }

    #[test]
    fn an_enum_is_its_name_only() {
        assert_eq!(
            from_str::<OtpSettings>(r#"{"pinType": "letters"}"#).map(|s| s.pin_type),
            Ok(crate::pin::PinType::Letters)
        );
        assert_eq!(
            from_str::<OtpSettings>(r#"{"pinType": {"letters": null}}"#),
            Err(Invalid)
        );
    }

    #[test]
    fn nesting_is_limited() {
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert_eq!(from_str::<Value>(&deep).err(), Some(Invalid));
        let ok = format!("{}{}", "[".repeat(100), "]".repeat(100));
        assert!(from_str::<Value>(&ok).is_ok());
    }

    #[test]
    fn written_json_reads_back_the_same() {
        let settings: OtpSettings = serde_json::from_str(
            r#"{"prices": {"default": 0.1, "countries": {"FR": 0.30000000000000004, "DE": 1e300}}, "brand": "Zoé \"Q\""}"#,
        )
        .unwrap();
        let text = to_string(&settings).unwrap();
        assert_eq!(
            serde_json::from_str::<OtpSettings>(&text).unwrap(),
            settings
        );
        assert_eq!(from_str::<OtpSettings>(&text).unwrap(), settings);
        assert!(text.contains(r#""default":1e-1"#), "{text}");
    }
}
