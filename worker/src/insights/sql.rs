//! Writes to the insights database: the statements of each outbox item, and the
//! scheduled job's expiry and retention.
//!
//! Every statement is idempotent and order-independent, so a batch applied twice,
//! or after a later one, leaves the same rows:
//!
//! - events are inserted once, keyed by their id (`{shard}-{sequence}-{index}`);
//! - an OTP row only moves forward: its status by rank (PENDING, then EXPIRED,
//!   then a final one: VERIFIED, FAILED, CANCELLED, UNSENT, and above all REFUSED,
//!   which a Dexatel send refused after its shard made the record ends as),
//!   attempts by `max`, the facts of its creation kept once known;
//! - its SMS, parts and cost are the sums of its `send` and `unsent` events,
//!   computed again after each such event.

use otp_core::time::UnixSeconds;
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

const UPSERT_OTP: &str = concat!(
    "INSERT INTO otps (otp_id, app_id, dialect, country, num_range, number_hash, gateway, test, \
     track_id, status, status_at, attempts, max_attempts, created_at, expires_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15) \
     ON CONFLICT (otp_id) DO UPDATE SET \
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

const GONE: &str = "UPDATE otps SET status = 'UNSENT', status_at = ?2 \
                    WHERE otp_id = ?1 AND status IN ('PENDING', 'EXPIRED')";

const SEND: &str = "INSERT INTO events (id, app_id, kind, at, otp_id, gateway, sms, parts, cost) \
                    VALUES (?1, ?2, 'send', ?3, ?4, ?5, 1, ?6, ?7) ON CONFLICT (id) DO NOTHING";

// The send taken back is the OTP's last one: sends of one OTP come from one shard,
// whose ids sort in its order, and a send is taken back before the next is made.
const UNSENT: &str =
    "INSERT INTO events (id, app_id, kind, at, otp_id, gateway, sms, parts, cost) \
                      SELECT ?1, app_id, 'unsent', ?3, otp_id, gateway, -1, -parts, -cost \
                      FROM events WHERE otp_id = ?2 AND kind = 'send' ORDER BY id DESC LIMIT 1 \
                      ON CONFLICT (id) DO NOTHING";

const COUNTERS: &str = "UPDATE otps SET (sms, parts, cost) = \
                        (SELECT coalesce(sum(sms), 0), coalesce(sum(parts), 0), coalesce(sum(cost), 0) \
                         FROM events WHERE otp_id = ?1) WHERE otp_id = ?1";

const CHECK: &str = "INSERT INTO events (id, app_id, kind, at, otp_id, result, number_hash) \
                     VALUES (?1, ?2, 'check', ?3, ?4, ?5, ?6) ON CONFLICT (id) DO NOTHING";

const REFUSED: &str =
    "INSERT INTO events (id, app_id, kind, at, otp_id, op, reason, code, until_at, \
                       dialect, country, num_range, number_hash, gateway) \
                       VALUES (?1, ?2, 'refused', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13) \
                       ON CONFLICT (id) DO NOTHING";

const EXPIRE: &str = "UPDATE otps SET status = 'EXPIRED', status_at = expires_at \
                      WHERE status = 'PENDING' AND expires_at <= ?1";

/// Rows deleted per statement by the retention (D1 limits one query's time).
const DELETE_CHUNK: u32 = 5_000;
/// Statements of the retention per run (the rest waits for the next run).
const DELETE_ROUNDS: u32 = 20;

fn text(s: &str) -> JsValue {
    JsValue::from_str(s)
}

fn opt(s: Option<&str>) -> JsValue {
    s.map_or(JsValue::NULL, JsValue::from_str)
}

fn int(n: i64) -> JsValue {
    JsValue::from_f64(n as f64)
}

/// Appends the statements that record `item` (event id `id`) of `app_id`.
pub(crate) fn statements(
    db: &D1Database,
    app_id: &str,
    id: &str,
    item: &Item,
    out: &mut Vec<D1PreparedStatement>,
) -> Result<()> {
    match item {
        Item::Otp(row) => out.push(upsert(db, app_id, row)?),
        Item::Gone { otp_id, at } => {
            out.push(db.prepare(GONE).bind(&[text(otp_id), int(*at)])?);
        }
        Item::Send {
            otp_id,
            at,
            parts,
            cost,
            gateway,
        } => {
            out.push(db.prepare(SEND).bind(&[
                text(id),
                text(app_id),
                int(*at),
                text(otp_id),
                opt(gateway.as_deref()),
                int(i64::from(*parts)),
                JsValue::from_f64(*cost),
            ])?);
            out.push(db.prepare(COUNTERS).bind(&[text(otp_id)])?);
        }
        Item::Unsent { otp_id, at } => {
            out.push(
                db.prepare(UNSENT)
                    .bind(&[text(id), text(otp_id), int(*at)])?,
            );
            out.push(db.prepare(COUNTERS).bind(&[text(otp_id)])?);
        }
        Item::Check {
            otp_id,
            at,
            result,
            number,
        } => {
            out.push(db.prepare(CHECK).bind(&[
                text(id),
                text(app_id),
                int(*at),
                opt(otp_id.as_deref()),
                text(result),
                opt(number.as_deref()),
            ])?);
        }
        Item::Refused(r) => out.push(refused(db, app_id, id, r)?),
    }
    Ok(())
}

fn upsert(db: &D1Database, app_id: &str, row: &OtpRow) -> Result<D1PreparedStatement> {
    let facts = row.facts.as_ref();
    db.prepare(UPSERT_OTP).bind(&[
        text(&row.otp_id),
        text(app_id),
        opt(facts.map(|f| f.dialect.as_str())),
        text(&row.country),
        opt(facts.map(|f| f.range.as_str())),
        opt(facts.map(|f| f.number.as_str())),
        opt(facts.map(|f| f.gateway.as_str())),
        int(i64::from(facts.is_some_and(|f| f.test))),
        opt(row.track_id.as_deref()),
        text(&row.status),
        int(row.status_at),
        int(i64::from(row.attempts)),
        int(i64::from(row.max_attempts)),
        int(row.created_at),
        int(row.expires_at),
    ])
}

fn refused(db: &D1Database, app_id: &str, id: &str, r: &Refusal) -> Result<D1PreparedStatement> {
    let facts = r.facts.as_ref();
    db.prepare(REFUSED).bind(&[
        text(id),
        text(app_id),
        int(r.at),
        opt(r.otp_id.as_deref()),
        text(r.op.as_str()),
        text(&r.reason),
        int(i64::from(r.code)),
        r.until.map_or(JsValue::NULL, int),
        opt(facts.map(|f| f.dialect.as_str())),
        opt(r.country.as_deref()),
        opt(facts.map(|f| f.range.as_str())),
        opt(facts.map(|f| f.number.as_str())),
        opt(facts.map(|f| f.gateway.as_str())),
    ])
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
