//! Reads of the insights database for the admin API: statistics grouped by day,
//! country, range, gateway or application; the OTPs (verifications) and the
//! events, newest first, a page at a time. SQLite builds the JSON of the stats
//! itself (`json_object`), so no row is read into the worker for them.

use otp_core::time::{format_utc, parse_utc, UnixSeconds};
use serde::{Deserialize, Serialize};
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, Result};

use super::DAY;

/// A UTC day (`YYYY-MM-DD`), as the Unix second it starts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Day(UnixSeconds);

impl Day {
    /// Parses `YYYY-MM-DD` (a real date).
    pub(crate) fn parse(s: &str) -> Option<Day> {
        if s.len() != 10 {
            return None;
        }
        parse_utc(&format!("{s} 00:00:00")).map(Day)
    }

    /// The day of `t`.
    pub(crate) fn of(t: UnixSeconds) -> Day {
        Day(t.div_euclid(DAY) * DAY)
    }

    /// The first second of the day.
    pub(crate) fn start(self) -> UnixSeconds {
        self.0
    }

    /// The first second after the day.
    pub(crate) fn end(self) -> UnixSeconds {
        self.0 + DAY
    }

    /// `n` days later.
    pub(crate) fn plus(self, n: i64) -> Day {
        Day(self.0 + n * DAY)
    }

    /// Days from `self` to `other`.
    pub(crate) fn days_to(self, other: Day) -> i64 {
        (other.0 - self.0) / DAY
    }

    /// `YYYY-MM-DD`.
    pub(crate) fn text(self) -> String {
        let mut s = format_utc(self.0);
        s.truncate(10);
        s
    }
}

/// What the stats are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum GroupBy {
    Day,
    Country,
    Range,
    Gateway,
    /// Across applications only.
    App,
}

impl GroupBy {
    pub(crate) fn parse(s: &str) -> Option<GroupBy> {
        Some(match s {
            "day" => GroupBy::Day,
            "country" => GroupBy::Country,
            "range" => GroupBy::Range,
            "gateway" => GroupBy::Gateway,
            "app" => GroupBy::App,
            _ => return None,
        })
    }

    fn key(self) -> &'static str {
        match self {
            GroupBy::Day => "strftime('%Y-%m-%d', created_at, 'unixepoch')",
            GroupBy::Country => "coalesce(country, '')",
            GroupBy::Range => "coalesce(num_range, '')",
            GroupBy::Gateway => "coalesce(gateway, '')",
            GroupBy::App => "app_id",
        }
    }
}

/// A stats request.
#[derive(Debug, Clone)]
pub(crate) struct Stats {
    /// One application, or all.
    pub(crate) app_id: Option<String>,
    pub(crate) from: Day,
    pub(crate) to: Day,
    pub(crate) group_by: GroupBy,
    pub(crate) include_test: bool,
}

/// Most groups in a reply (the totals count them all).
pub(crate) const MAX_GROUPS: u32 = 1_000;

/// The counters of a group, as JSON (`cnt` is the table of the group's sums).
const COUNTERS: &str = "'sent', sent, 'verified', verified, 'failed', failed, \
     'expired', expired, 'cancelled', cancelled, 'refused', refused, \
     'parts', parts, 'cost', round(cost, 6), \
     'conversionRate', CASE WHEN sent > 0 THEN round(CAST(verified AS REAL) / sent, 4) END";

/// `{"data": [...], "totals": {...}}` of `q`, as JSON text.
pub(crate) async fn stats(db: &D1Database, q: &Stats) -> Result<String> {
    let app_filter = if q.app_id.is_some() {
        "AND app_id = ?4"
    } else {
        "AND ?4 IS NULL"
    };
    let groups = format!(
        "SELECT {key} AS key, sum(sms > 0) AS sent, sum(status = 'VERIFIED') AS verified, \
         sum(status = 'FAILED') AS failed, sum(status = 'EXPIRED') AS expired, \
         sum(status = 'CANCELLED') AS cancelled, sum(status = 'REFUSED') AS refused, \
         sum(parts) AS parts, sum(cost) AS cost \
         FROM otps WHERE created_at >= ?1 AND created_at < ?2 AND (?3 OR test = 0) {app_filter} \
         GROUP BY key",
        key = q.group_by.key(),
    );
    // Days are listed even when nothing happened on them.
    let rows = if q.group_by == GroupBy::Day {
        "days(key) AS (SELECT ?5 UNION ALL SELECT date(key, '+1 day') FROM days WHERE key < ?6), \
         rows AS (SELECT days.key AS key, coalesce(sent, 0) AS sent, coalesce(verified, 0) AS verified, \
         coalesce(failed, 0) AS failed, coalesce(expired, 0) AS expired, \
         coalesce(cancelled, 0) AS cancelled, coalesce(refused, 0) AS refused, \
         coalesce(parts, 0) AS parts, coalesce(cost, 0) AS cost \
         FROM days LEFT JOIN g ON g.key = days.key ORDER BY days.key)"
            .to_owned()
    } else {
        format!(
            "rows AS (SELECT * FROM g WHERE ?5 IS NOT NULL AND ?6 IS NOT NULL \
             ORDER BY sent DESC, key LIMIT {MAX_GROUPS})"
        )
    };
    let sql = format!(
        "WITH RECURSIVE g AS ({groups}), {rows}, \
         totals AS (SELECT coalesce(sum(sent), 0) AS sent, coalesce(sum(verified), 0) AS verified, \
         coalesce(sum(failed), 0) AS failed, coalesce(sum(expired), 0) AS expired, \
         coalesce(sum(cancelled), 0) AS cancelled, coalesce(sum(refused), 0) AS refused, \
         coalesce(sum(parts), 0) AS parts, coalesce(sum(cost), 0) AS cost FROM g) \
         SELECT json_object(\
         'data', (SELECT json_group_array(json_object('key', key, {COUNTERS})) FROM rows), \
         'totals', (SELECT json_object({COUNTERS}) FROM totals)) AS j"
    );
    let statement = db.prepare(sql).bind(&[
        int(q.from.start()),
        int(q.to.end()),
        JsValue::from_bool(q.include_test),
        opt(q.app_id.as_deref()),
        JsValue::from_str(&q.from.text()),
        JsValue::from_str(&q.to.text()),
    ])?;
    Ok(statement
        .first::<String>(Some("j"))
        .await?
        .unwrap_or_default())
}

fn int(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

fn opt(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from_str)
}

/// Where a page starts: after the row at (`at`, `id`) in newest-first order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) at: UnixSeconds,
    pub(crate) id: String,
}

impl Cursor {
    /// The opaque page token: base64url of `{at}.{id}`.
    pub(crate) fn token(&self) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("{}.{}", self.at, self.id))
    }

    /// Reads a page token back; `None` when it is not one.
    pub(crate) fn parse(token: &str) -> Option<Cursor> {
        use base64::Engine as _;
        if token.len() > 200 {
            return None;
        }
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let (at, id) = text.split_once('.')?;
        let at: UnixSeconds = at.parse().ok()?;
        let valid_id = !id.is_empty()
            && id.len() <= 64
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid_id.then(|| Cursor {
            at,
            id: id.to_owned(),
        })
    }
}

/// A list request's filters.
#[derive(Debug, Clone)]
pub(crate) struct Filter {
    pub(crate) app_id: String,
    pub(crate) from: Day,
    pub(crate) to: Day,
    /// OTP status (verifications) or event kind (events).
    pub(crate) what: Option<String>,
    /// The number's keyed hash (verifications).
    pub(crate) number: Option<String>,
    pub(crate) track_id: Option<String>,
    pub(crate) after: Option<Cursor>,
}

/// One OTP, as the verifications list and its CSV show it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Verification {
    pub(crate) otp_id: String,
    pub(crate) track_id: Option<String>,
    pub(crate) dialect: Option<String>,
    pub(crate) country_iso: Option<String>,
    /// The range with its last 4 digits hidden (`+3361242****`).
    pub(crate) phone_number: Option<String>,
    pub(crate) range: Option<String>,
    pub(crate) status: String,
    pub(crate) status_at: String,
    pub(crate) attempts: i64,
    pub(crate) max_attempts: i64,
    /// SMS sent, resends included.
    pub(crate) sms: i64,
    pub(crate) parts: i64,
    pub(crate) cost: f64,
    pub(crate) gateway: Option<String>,
    pub(crate) test: bool,
    pub(crate) date_created: String,
    pub(crate) date_expires: String,
    #[serde(rename = "_at", skip_serializing)]
    at: UnixSeconds,
}

impl Verification {
    /// The CSV header, in the order of [`Verification::csv_line`].
    pub(crate) const CSV_HEADER: &'static str = "otpId,trackId,dialect,countryIso,phoneNumber,range,status,statusAt,attempts,maxAttempts,sms,parts,cost,gateway,test,dateCreated,dateExpires\r\n";

    /// The row as a CSV line (RFC 4180).
    pub(crate) fn csv_line(&self, out: &mut String) {
        let o = |s: &Option<String>| s.clone().unwrap_or_default();
        let fields = [
            self.otp_id.clone(),
            o(&self.track_id),
            o(&self.dialect),
            o(&self.country_iso),
            o(&self.phone_number),
            o(&self.range),
            self.status.clone(),
            self.status_at.clone(),
            self.attempts.to_string(),
            self.max_attempts.to_string(),
            self.sms.to_string(),
            self.parts.to_string(),
            self.cost.to_string(),
            o(&self.gateway),
            self.test.to_string(),
            self.date_created.clone(),
            self.date_expires.clone(),
        ];
        for (i, field) in fields.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            csv_field(field, out);
        }
        out.push_str("\r\n");
    }
}

/// Writes `field` quoted when it must be, and never as a formula a spreadsheet
/// would run (a leading `=`, `@`, tab, or a sign not followed by a digit gets a `'`).
fn csv_field(field: &str, out: &mut String) {
    let mut chars = field.chars();
    let formula = match (chars.next(), chars.next()) {
        (Some('=' | '@' | '\t' | '\r'), _) => true,
        (Some('+' | '-'), next) => !next.is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    };
    if field.contains([',', '"', '\n', '\r']) || formula {
        out.push('"');
        if formula {
            out.push('\'');
        }
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

const DATE: &str = "'%Y-%m-%d %H:%M:%S'";

/// A page of OTPs (newest first) and where the next page starts.
pub(crate) async fn verifications(
    db: &D1Database,
    f: &Filter,
    page_size: u32,
) -> Result<(Vec<Verification>, Option<Cursor>)> {
    let sql = format!(
        "SELECT json_group_array(json_object('otpId', otp_id, 'trackId', track_id, \
         'dialect', dialect, 'countryIso', country, \
         'phoneNumber', CASE WHEN num_range IS NOT NULL THEN num_range || '****' END, \
         'range', num_range, 'status', status, \
         'statusAt', strftime({DATE}, status_at, 'unixepoch'), 'attempts', attempts, \
         'maxAttempts', max_attempts, 'sms', sms, 'parts', parts, 'cost', round(cost, 6), \
         'gateway', gateway, 'test', json(CASE WHEN test THEN 'true' ELSE 'false' END), \
         'dateCreated', strftime({DATE}, created_at, 'unixepoch'), \
         'dateExpires', strftime({DATE}, expires_at, 'unixepoch'), '_at', created_at)) AS j \
         FROM (SELECT * FROM otps WHERE app_id = ?1 AND created_at >= ?2 AND created_at < ?3 \
         AND (?4 IS NULL OR status = ?4) AND (?5 IS NULL OR number_hash = ?5) \
         AND (?6 IS NULL OR track_id = ?6) \
         AND (?7 IS NULL OR created_at < ?7 OR (created_at = ?7 AND otp_id < ?8)) \
         ORDER BY created_at DESC, otp_id DESC LIMIT ?9)"
    );
    let mut rows: Vec<Verification> = page(db, sql, f, page_size).await?;
    rows.sort_by(|a, b| (b.at, &b.otp_id).cmp(&(a.at, &a.otp_id)));
    let next = next_page(&mut rows, page_size, |r| Cursor {
        at: r.at,
        id: r.otp_id.clone(),
    });
    Ok((rows, next))
}

/// One event, as the events list shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Event {
    pub(crate) id: String,
    /// `send`, `unsent`, `check`, `refused` or `delivery`.
    pub(crate) kind: String,
    pub(crate) at: String,
    pub(crate) otp_id: Option<String>,
    /// refused: `send` or `check`.
    pub(crate) op: Option<String>,
    /// check: `verified` or the reason.
    pub(crate) result: Option<String>,
    /// refused: the reason, its code, and when a retry can succeed.
    pub(crate) reason: Option<String>,
    pub(crate) code: Option<i64>,
    pub(crate) until: Option<String>,
    pub(crate) dialect: Option<String>,
    pub(crate) country_iso: Option<String>,
    pub(crate) range: Option<String>,
    pub(crate) gateway: Option<String>,
    pub(crate) sms: i64,
    pub(crate) parts: i64,
    pub(crate) cost: f64,
    #[serde(rename = "_at", skip_serializing)]
    time: UnixSeconds,
}

/// A page of events (newest first) and where the next page starts.
pub(crate) async fn events(
    db: &D1Database,
    f: &Filter,
    page_size: u32,
) -> Result<(Vec<Event>, Option<Cursor>)> {
    let sql = format!(
        "SELECT json_group_array(json_object('id', e.id, 'kind', e.kind, \
         'at', strftime({DATE}, e.at, 'unixepoch'), 'otpId', e.otp_id, 'op', e.op, \
         'result', e.result, 'reason', e.reason, 'code', e.code, \
         'until', strftime({DATE}, e.until_at, 'unixepoch'), \
         'dialect', coalesce(e.dialect, o.dialect), 'countryIso', coalesce(e.country, o.country), \
         'range', coalesce(e.num_range, o.num_range), 'gateway', e.gateway, \
         'sms', e.sms, 'parts', e.parts, 'cost', round(e.cost, 6), '_at', e.at)) AS j \
         FROM (SELECT * FROM events WHERE app_id = ?1 AND at >= ?2 AND at < ?3 \
         AND (?4 IS NULL OR kind = ?4) AND ?5 IS NULL AND ?6 IS NULL \
         AND (?7 IS NULL OR at < ?7 OR (at = ?7 AND id < ?8)) \
         ORDER BY at DESC, id DESC LIMIT ?9) AS e LEFT JOIN otps AS o ON o.otp_id = e.otp_id"
    );
    let mut rows: Vec<Event> = page(db, sql, f, page_size).await?;
    rows.sort_by(|a, b| (b.time, &b.id).cmp(&(a.time, &a.id)));
    let next = next_page(&mut rows, page_size, |r| Cursor {
        at: r.time,
        id: r.id.clone(),
    });
    Ok((rows, next))
}

/// Runs a list query (parameters ?1-?9 as in [`verifications`]) for one more row
/// than the page, to know whether another page follows.
async fn page<T: for<'de> Deserialize<'de>>(
    db: &D1Database,
    sql: String,
    f: &Filter,
    page_size: u32,
) -> Result<Vec<T>> {
    let statement = db.prepare(sql).bind(&[
        JsValue::from_str(&f.app_id),
        int(f.from.start()),
        int(f.to.end()),
        opt(f.what.as_deref()),
        opt(f.number.as_deref()),
        opt(f.track_id.as_deref()),
        f.after.as_ref().map_or(JsValue::NULL, |c| int(c.at)),
        opt(f.after.as_ref().map(|c| c.id.as_str())),
        int(i64::from(page_size) + 1),
    ])?;
    let json = statement
        .first::<String>(Some("j"))
        .await?
        .unwrap_or_else(|| "[]".to_owned());
    Ok(serde_json::from_str(&json)?)
}

/// Cuts `rows` to the page and gives the cursor of the next page, if any.
fn next_page<T>(
    rows: &mut Vec<T>,
    page_size: u32,
    cursor: impl Fn(&T) -> Cursor,
) -> Option<Cursor> {
    if rows.len() <= page_size as usize {
        return None;
    }
    rows.truncate(page_size as usize);
    rows.last().map(cursor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_parse_strictly_and_span_whole_utc_days() {
        let d = Day::parse("2027-01-15").unwrap();
        assert_eq!(d.text(), "2027-01-15");
        assert_eq!(d.end() - d.start(), 86_400);
        assert_eq!(Day::of(d.start() + 86_399), d);
        for bad in [
            "2027-02-30",
            "2027-1-15",
            "20270115",
            "2027-01-15 ",
            "",
            "yesterday",
        ] {
            assert_eq!(Day::parse(bad), None, "{bad}");
        }
        assert_eq!(d.days_to(d.plus(3)), 3);
    }

    #[test]
    fn page_tokens_round_trip_and_refuse_garbage() {
        let c = Cursor {
            at: 1_800_000_000,
            id: "3c1d1f6e-8a38-4f0c-a0ab-2c1b6f2f6b1e".into(),
        };
        assert_eq!(Cursor::parse(&c.token()), Some(c));
        for bad in ["", "!!", "bm9wZQ", "MTIz", "YWJjLmRlZg"] {
            assert_eq!(Cursor::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn csv_fields_are_quoted_and_never_formulas() {
        let mut out = String::new();
        csv_field("a,b", &mut out);
        csv_field("say \"hi\"", &mut out);
        csv_field("=1+1", &mut out);
        csv_field("+3361242****", &mut out);
        csv_field("-x", &mut out);
        assert_eq!(out, "\"a,b\"\"say \"\"hi\"\"\"\"'=1+1\"+3361242****\"'-x\"");
    }
}
