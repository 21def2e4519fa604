//! Writes to the insights database: the rows of each operation, rendered once
//! when the shard stores them ([`render`]), the statements of one flush of a
//! shard's outbox ([`statements`]: at most five, each taking all its rows as one
//! JSON array), and the scheduled job's expiry and retention.
//!
//! Every statement is idempotent and order-independent, so a batch applied twice,
//! or after a later one, leaves the same rows:
//!
//! - events are inserted once, keyed by their id (`{shard}-{sequence}-{index}`);
//!   a send is taken back by an `unsent` event that copies the OTP's last send
//!   before it (by id);
//! - an OTP row only moves forward: its status by rank (PENDING, then EXPIRED,
//!   then a final one: VERIFIED, FAILED, CANCELLED, UNSENT, and above all REFUSED,
//!   which a Dexatel send refused after its shard made the record ends as),
//!   attempts by `max`, the facts of its creation kept once known;
//! - its SMS, parts and cost start as its first SMS's (set only when the row is
//!   made) and are the sums of its `send` and `unsent` events, computed again
//!   after any other such event.

use otp_core::time::UnixSeconds;
use serde::Serialize;
use worker::wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement, Result};

use super::{Item, OtpRow, Refusal};

/// The rank of a status in SQL: a row never moves to a lower one.
macro_rules! rank {
    ($status:literal) => {
        concat!(
            "(CASE ",
            $status,
            " WHEN 'PENDING' THEN 0 WHEN 'EXPIRED' THEN 1 WHEN 'REFUSED' THEN 3 ELSE 2 END)"
        )
    };
}

// Each statement takes the rows of a whole flush as one JSON array (`json_each`,
// fields read with `->>`): one D1 call and five statements at most per flush,
// whatever its size.

const UPSERT_OTPS: &str = concat!(
    "INSERT INTO otps (otp_id, app_id, dialect, country, num_range, number_hash, gateway, test, \
     track_id, status, status_at, attempts, max_attempts, created_at, expires_at, sms, parts, \
     cost) \
     SELECT value ->> '$.otpId', ?1, value ->> '$.dialect', value ->> '$.country', \
     value ->> '$.range', value ->> '$.number', value ->> '$.gateway', value ->> '$.test', \
     value ->> '$.trackId', value ->> '$.status', value ->> '$.statusAt', \
     value ->> '$.attempts', value ->> '$.maxAttempts', value ->> '$.createdAt', \
     value ->> '$.expiresAt', coalesce(value ->> '$.sms', 0), \
     coalesce(value ->> '$.parts', 0), coalesce(value ->> '$.cost', 0) \
     FROM json_each(?2) WHERE true ON CONFLICT (otp_id) DO UPDATE SET \
     dialect = coalesce(otps.dialect, excluded.dialect), \
     num_range = coalesce(otps.num_range, excluded.num_range), \
     number_hash = coalesce(otps.number_hash, excluded.number_hash), \
     gateway = coalesce(otps.gateway, excluded.gateway), \
     test = max(otps.test, excluded.test), \
     track_id = coalesce(otps.track_id, excluded.track_id), \
     status = CASE WHEN ",
    rank!("excluded.status"),
    " >= ",
    rank!("otps.status"),
    " THEN excluded.status ELSE otps.status END, status_at = CASE WHEN ",
    rank!("excluded.status"),
    " >= ",
    rank!("otps.status"),
    " THEN excluded.status_at ELSE otps.status_at END, \
     attempts = max(otps.attempts, excluded.attempts)"
);

const GONE: &str = "UPDATE otps SET status = 'UNSENT', status_at = g.at \
     FROM (SELECT value ->> '$.otpId' AS otp_id, value ->> '$.at' AS at FROM json_each(?1)) AS g \
     WHERE otps.otp_id = g.otp_id AND otps.status IN ('PENDING', 'EXPIRED')";

const EVENTS: &str = "INSERT INTO events (id, app_id, kind, at, otp_id, op, result, reason, code, \
     until_at, dialect, country, num_range, number_hash, gateway, sms, parts, cost) \
     SELECT value ->> '$.id', ?1, value ->> '$.kind', value ->> '$.at', value ->> '$.otpId', \
     value ->> '$.op', value ->> '$.result', value ->> '$.reason', value ->> '$.code', \
     value ->> '$.until', value ->> '$.dialect', value ->> '$.country', value ->> '$.range', \
     value ->> '$.number', value ->> '$.gateway', coalesce(value ->> '$.sms', 0), \
     coalesce(value ->> '$.parts', 0), coalesce(value ->> '$.cost', 0) \
     FROM json_each(?2) WHERE true ON CONFLICT (id) DO NOTHING";

// The send taken back is the OTP's last one before the taking back: sends of one
// OTP come from one shard, whose event ids sort in its order.
const UNSENT: &str =
    "INSERT INTO events (id, app_id, kind, at, otp_id, gateway, sms, parts, cost) \
     SELECT u.id, s.app_id, 'unsent', u.at, s.otp_id, s.gateway, -1, -s.parts, -s.cost \
     FROM (SELECT value ->> '$.id' AS id, value ->> '$.otpId' AS otp_id, value ->> '$.at' AS at \
     FROM json_each(?1)) AS u \
     JOIN events AS s ON s.id = (SELECT e.id FROM events AS e WHERE e.otp_id = u.otp_id \
     AND e.kind = 'send' AND e.id < u.id ORDER BY e.id DESC LIMIT 1) \
     WHERE true ON CONFLICT (id) DO NOTHING";

const COUNTERS: &str = "UPDATE otps SET (sms, parts, cost) = \
     (SELECT coalesce(sum(e.sms), 0), coalesce(sum(e.parts), 0), coalesce(sum(e.cost), 0) \
     FROM events AS e WHERE e.otp_id = otps.otp_id) \
     WHERE otp_id IN (SELECT value FROM json_each(?1))";

const EXPIRE: &str = "UPDATE otps SET status = 'EXPIRED', status_at = expires_at \
                      WHERE status = 'PENDING' AND expires_at <= ?1";

/// Rows deleted per statement by the retention (D1 limits one query's time).
const DELETE_CHUNK: u32 = 5_000;
/// Statements of the retention per run (the rest waits for the next run).
const DELETE_ROUNDS: u32 = 20;

fn int(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// An OTP's row, as JSON for [`UPSERT_OTPS`].
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OtpJson<'a> {
    otp_id: &'a str,
    dialect: Option<&'a str>,
    country: &'a str,
    range: Option<&'a str>,
    number: Option<&'a str>,
    gateway: Option<&'a str>,
    test: u8,
    track_id: Option<&'a str>,
    status: &'a str,
    status_at: UnixSeconds,
    attempts: u32,
    max_attempts: u32,
    created_at: UnixSeconds,
    expires_at: UnixSeconds,
    /// The first SMS's counters, for the row's creation.
    #[serde(skip_serializing_if = "Option::is_none")]
    sms: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<f64>,
}

/// An event's row, as JSON for [`EVENTS`] and [`UNSENT`] (absent fields are null).
#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct EventJson<'a> {
    id: String,
    #[serde(skip_serializing_if = "str::is_empty")]
    kind: &'a str,
    at: UnixSeconds,
    #[serde(skip_serializing_if = "Option::is_none")]
    otp_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    op: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    until: Option<UnixSeconds>,
    #[serde(skip_serializing_if = "Option::is_none")]
    dialect: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    range: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gateway: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sms: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    parts: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cost: Option<f64>,
}

/// The rows of one flush, by statement.
#[derive(Default)]
struct Rows<'a> {
    otps: Vec<OtpJson<'a>>,
    gone: Vec<EventJson<'a>>,
    events: Vec<EventJson<'a>>,
    unsent: Vec<EventJson<'a>>,
    counted: Vec<&'a str>,
}

/// The lines of a rendered operation, one per statement, in this order.
const LINES: usize = 5;

/// Renders the items of one operation (event ids `{prefix}-{index}`) as the rows
/// of the five statements: one line each (JSON objects joined by commas; JSON
/// text holds no raw newline), so that a flush only joins them ([`Batch::add`]).
pub(crate) fn render(prefix: &str, items: &[Item]) -> Result<String> {
    let mut rows = Rows::default();
    for (i, item) in items.iter().enumerate() {
        rows.add(format!("{prefix}-{i}"), item);
    }
    // A first SMS's counters go with the row it makes (no recount).
    for item in items {
        if let Item::Send {
            otp_id,
            parts,
            cost,
            first: true,
            ..
        } = item
        {
            if let Some(row) = rows.otps.iter_mut().find(|r| r.otp_id == otp_id.as_str()) {
                row.sms = Some(1);
                row.parts = Some(*parts);
                row.cost = Some(*cost);
                rows.counted.retain(|id| *id != otp_id.as_str());
            }
        }
    }
    let mut out = String::new();
    joined(&mut out, &rows.otps)?;
    out.push('\n');
    joined(&mut out, &rows.gone)?;
    out.push('\n');
    joined(&mut out, &rows.events)?;
    out.push('\n');
    joined(&mut out, &rows.unsent)?;
    out.push('\n');
    joined(&mut out, &rows.counted)?;
    Ok(out)
}

/// Appends the JSON of each of `rows`, joined by commas.
fn joined<T: Serialize>(out: &mut String, rows: &[T]) -> Result<()> {
    for (i, row) in rows.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(row)?);
    }
    Ok(())
}

/// The rows of a flush: the rendered operations' lines, joined per statement.
#[derive(Default)]
pub(crate) struct Batch {
    lines: [String; LINES],
}

impl Batch {
    /// Adds one rendered operation ([`render`]).
    pub(crate) fn add(&mut self, rendered: &str) {
        for (line, part) in self.lines.iter_mut().zip(rendered.split('\n')) {
            if part.is_empty() {
                continue;
            }
            if !line.is_empty() {
                line.push(',');
            }
            line.push_str(part);
        }
    }

    /// The statements that record the batch for `app_id`.
    pub(crate) fn statements(
        &self,
        db: &D1Database,
        app_id: &str,
    ) -> Result<Vec<D1PreparedStatement>> {
        let [otps, gone, events, unsent, counted] = &self.lines;
        let array = |line: &str| JsValue::from_str(&format!("[{line}]"));
        let app = JsValue::from_str(app_id);
        let mut out = Vec::with_capacity(LINES);
        if !otps.is_empty() {
            out.push(db.prepare(UPSERT_OTPS).bind(&[app.clone(), array(otps)])?);
        }
        if !gone.is_empty() {
            out.push(db.prepare(GONE).bind(&[array(gone)])?);
        }
        if !events.is_empty() {
            out.push(db.prepare(EVENTS).bind(&[app, array(events)])?);
        }
        if !unsent.is_empty() {
            out.push(db.prepare(UNSENT).bind(&[array(unsent)])?);
        }
        if !counted.is_empty() {
            out.push(db.prepare(COUNTERS).bind(&[array(counted)])?);
        }
        Ok(out)
    }
}

impl<'a> Rows<'a> {
    fn add(&mut self, id: String, item: &'a Item) {
        match item {
            Item::Otp(row) => self.otps.push(otp(row)),
            Item::Gone { otp_id, at } => self.gone.push(EventJson {
                id,
                at: *at,
                otp_id: Some(otp_id),
                ..EventJson::default()
            }),
            Item::Send {
                otp_id,
                at,
                parts,
                cost,
                gateway,
                ..
            } => {
                self.events.push(EventJson {
                    id,
                    kind: "send",
                    at: *at,
                    otp_id: Some(otp_id),
                    gateway: gateway.as_deref(),
                    sms: Some(1),
                    parts: Some(*parts),
                    cost: Some(*cost),
                    ..EventJson::default()
                });
                self.counted.push(otp_id);
            }
            Item::Unsent { otp_id, at } => {
                self.unsent.push(EventJson {
                    id,
                    at: *at,
                    otp_id: Some(otp_id),
                    ..EventJson::default()
                });
                self.counted.push(otp_id);
            }
            Item::Check {
                otp_id,
                at,
                result,
                number,
            } => self.events.push(EventJson {
                id,
                kind: "check",
                at: *at,
                otp_id: otp_id.as_deref(),
                result: Some(result),
                number: number.as_deref(),
                ..EventJson::default()
            }),
            Item::Refused(r) => self.events.push(refused(id, r)),
            Item::Delivery {
                otp_id,
                at,
                provider,
                status,
                error_code,
            } => self.events.push(EventJson {
                id,
                kind: "delivery",
                at: *at,
                otp_id: Some(otp_id),
                result: Some(status),
                reason: error_code.as_deref(),
                gateway: Some(provider),
                ..EventJson::default()
            }),
        }
    }
}

fn otp(row: &OtpRow) -> OtpJson<'_> {
    let facts = row.facts.as_ref();
    OtpJson {
        otp_id: &row.otp_id,
        dialect: facts.map(|f| f.dialect.as_str()),
        country: &row.country,
        range: facts.map(|f| f.range.as_str()),
        number: facts.map(|f| f.number.as_str()),
        gateway: facts.map(|f| f.gateway.as_str()),
        test: u8::from(facts.is_some_and(|f| f.test)),
        track_id: row.track_id.as_deref(),
        status: &row.status,
        status_at: row.status_at,
        attempts: row.attempts,
        max_attempts: row.max_attempts,
        created_at: row.created_at,
        expires_at: row.expires_at,
        sms: None,
        parts: None,
        cost: None,
    }
}

fn refused(id: String, r: &Refusal) -> EventJson<'_> {
    let facts = r.facts.as_ref();
    EventJson {
        id,
        kind: "refused",
        at: r.at,
        otp_id: r.otp_id.as_deref(),
        op: Some(r.op.as_str()),
        reason: Some(&r.reason),
        code: Some(r.code),
        until: r.until,
        dialect: facts.map(|f| f.dialect.as_str()),
        country: r.country.as_deref(),
        range: facts.map(|f| f.range.as_str()),
        number: facts.map(|f| f.number.as_str()),
        gateway: facts.map(|f| f.gateway.as_str()),
        ..EventJson::default()
    }
}

/// The rows a statement changed.
async fn changes(statement: D1PreparedStatement) -> Result<u64> {
    let result = statement.run().await?;
    Ok(result
        .meta()?
        .and_then(|m| m.changes)
        .map_or(0, |n| n as u64))
}

/// Marks the PENDING rows whose expiry is at or before `now` EXPIRED.
pub(crate) async fn expire(db: &D1Database, now: UnixSeconds) -> Result<u64> {
    changes(db.prepare(EXPIRE).bind(&[int(now)])?).await
}

/// Deletes the OTP rows created, and the events made, before `cutoff`.
pub(crate) async fn delete_before(db: &D1Database, cutoff: UnixSeconds) -> Result<(u64, u64)> {
    let otps = delete_chunks(
        db,
        "DELETE FROM otps WHERE rowid IN (SELECT rowid FROM otps WHERE created_at < ?1 LIMIT ?2)",
        cutoff,
    )
    .await?;
    let events = delete_chunks(
        db,
        "DELETE FROM events WHERE rowid IN (SELECT rowid FROM events WHERE at < ?1 LIMIT ?2)",
        cutoff,
    )
    .await?;
    Ok((otps, events))
}

async fn delete_chunks(db: &D1Database, sql: &str, cutoff: UnixSeconds) -> Result<u64> {
    let mut total = 0;
    for _ in 0..DELETE_ROUNDS {
        let n = changes(
            db.prepare(sql)
                .bind(&[int(cutoff), int(i64::from(DELETE_CHUNK))])?,
        )
        .await?;
        total += n;
        if n < u64::from(DELETE_CHUNK) {
            break;
        }
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::insights::OtpRow;

    fn row(id: &str) -> Item {
        Item::Otp(OtpRow {
            otp_id: id.into(),
            status: "PENDING".into(),
            status_at: 1,
            attempts: 0,
            max_attempts: 3,
            created_at: 1,
            expires_at: 61,
            country: "FR".into(),
            track_id: None,
            facts: None,
        })
    }

    fn send(id: &str, first: bool) -> Item {
        Item::Send {
            otp_id: id.into(),
            at: 1,
            parts: 2,
            cost: 0.1,
            gateway: None,
            first,
        }
    }

    #[test]
    fn a_first_send_makes_its_row_with_its_counters_and_a_resend_recounts() {
        let created = render("t-000000000001", &[row("a"), send("a", true)]).unwrap();
        let lines: Vec<&str> = created.split('\n').collect();
        assert_eq!(lines.len(), LINES);
        assert!(
            lines[0].contains(r#""otpId":"a""#)
                && lines[0].contains(r#""sms":1,"parts":2,"cost":0.1"#)
        );
        assert!(lines[2].contains(r#""id":"t-000000000001-1","kind":"send""#));
        assert_eq!(lines[4], "", "no recount of a new row");
        let resent = render("t-000000000002", &[row("a"), send("a", false)]).unwrap();
        let lines: Vec<&str> = resent.split('\n').collect();
        assert!(!lines[0].contains(r#""sms""#));
        assert_eq!(lines[4], r#""a""#);
    }

    #[test]
    fn a_batch_joins_each_statement_s_rows() {
        let mut batch = Batch::default();
        batch.add(&render("t-1", &[row("a"), send("a", true)]).unwrap());
        batch.add(&render("t-2", &[send("a", false)]).unwrap());
        batch.add("\n\n\n\n");
        assert_eq!(batch.lines[0].matches("otpId").count(), 1);
        assert_eq!(batch.lines[2].matches(r#""kind":"send""#).count(), 2);
        assert!(batch.lines[2].contains("},{"));
        assert_eq!(batch.lines[4], r#""a""#);
        assert!(batch.lines[1].is_empty() && batch.lines[3].is_empty());
    }
}
