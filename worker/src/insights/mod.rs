//! Insights: every verification's outcome, cost and conversion, in a D1 database
//! (binding `INSIGHTS_DB`, schema in `migrations/`): one row per OTP (app,
//! dialect, country, range, keyed hash of the number, gateway, test flag, status
//! and when it was reached, attempts, SMS sent with resends, parts, cost) and
//! event rows (sends, sends taken back, PIN checks, refusals with their reason).
//! Without the binding, nothing is recorded and the admin reads answer 503 (1024).
//!
//! # Where events come from
//!
//! The record shards ([`crate::service::shard`]) decide every change of an OTP,
//! so they write its events: after each operation, the shard derives the items
//! ([`Item`]) from the operation, its reply and the records it changed
//! ([`outbox::derive`]), and stores them in its own storage with the change,
//! before it replies. What the shard cannot know of a new OTP (the dialect, the
//! number's range and hash, the gateway, the test flag) comes with the create
//! operation ([`OtpFacts`]). Refusals decided before any record exists (rate
//! limits, budget, country, the Dexatel guard, the fraud guard) are recorded by
//! the service through [`refused`], which renders them ([`sql::render`], their
//! events named by a random tag of the request) and hands the entry to the
//! number's shard after the reply.
//!
//! # Written off the request path, losing nothing
//!
//! The shard's outbox (`x:` keys) is written in the same operation as the change
//! it describes, so it is as durable as the record: an evicted isolate or object
//! loses no event. The items are rendered into their D1 rows when stored
//! ([`sql::render`]). After its reply the shard flushes the outbox to D1 in one
//! batch ([`outbox::Outbox::flush_soon`]: after up to 5 s, or once 128
//! operations wait, so a busy shard sends many operations per D1 call), and
//! deletes what D1 took. What a
//! failed or interrupted flush leaves is sent again by the shard's alarm, set
//! within a minute of every write. Every write to D1 is idempotent and
//! order-independent ([`sql`]): events are keyed by the shard's sequence (or the
//! refusing request's tag), an OTP
//! row only moves forward (PENDING, then EXPIRED, then a final status; attempts
//! only grow) and its counters are its first SMS's or sums of its events, so a
//! batch sent twice or late changes nothing. Why not a Queue, and what was
//! measured: the README's Insights section.
//!
//! The scheduled job (`[triggers] crons`, [`sweep`]) marks PENDING rows past
//! their expiry EXPIRED and deletes rows older than `INSIGHTS_RETENTION_DAYS`
//! (default 90). In development `POST /admin/dev/sweep?now=…` runs it at a given
//! time.
//!
//! # Privacy
//!
//! A number is stored as its range (its E.164 form without the last 4 digits,
//! [`range_of`]) and its keyed hash, exactly the digits the records' mask shows
//! (`PhoneNumber::masked`): whatever is stored, taken together, leaves the last 4
//! digits unknown. No PIN, no message text.

pub(crate) mod outbox;
pub(crate) mod query;
pub(crate) mod sql;

use otp_core::number::{number_hash, shard_of_hash};
use otp_core::otp::{OtpRecord, OtpStatus};
use otp_core::phone::PhoneNumber;
use otp_core::time::UnixSeconds;
use serde::{Deserialize, Serialize};
use worker::{D1Database, Env};

use crate::apps::AppRecord;
use crate::context::RequestContext;
use crate::error::ApiError;
use crate::service::shard::{self, ShardOp, ShardRequest};

/// Binding name of the D1 database in wrangler.toml.
pub(crate) const BINDING: &str = "INSIGHTS_DB";
/// Var: days a row is kept (default [`DEFAULT_RETENTION_DAYS`]).
pub(crate) const RETENTION_VAR: &str = "INSIGHTS_RETENTION_DAYS";
/// Rows older than this many days are deleted by the scheduled job.
pub(crate) const DEFAULT_RETENTION_DAYS: u32 = 90;
/// Digits of a number that no store keeps: the range is the rest.
pub(crate) const HIDDEN_DIGITS: usize = 4;

/// The database, or `None` when insights are off (no binding).
pub(crate) fn database(env: &Env) -> Option<D1Database> {
    env.d1(BINDING).ok()
}

/// The API an OTP was created through, or a request came through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Dialect {
    /// `POST /otp` and `/otp/{id}`.
    Smscx,
    /// `/v1/verifications`.
    Dexatel,
}

impl Dialect {
    /// The stored name.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Dialect::Smscx => "smscx",
            Dialect::Dexatel => "dexatel",
        }
    }
}

/// The number's range: its E.164 form without the last [`HIDDEN_DIGITS`] digits
/// (`+3361242` for `+33612424111`), what the records' mask shows of it.
pub(crate) fn range_of(phone: &PhoneNumber) -> String {
    let e164 = phone.e164();
    e164.get(..e164.len().saturating_sub(HIDDEN_DIGITS))
        .unwrap_or("+")
        .to_owned()
}

/// What a shard cannot know of a new OTP: given with the create operations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OtpFacts {
    pub(crate) dialect: Dialect,
    /// [`range_of`] the number.
    pub(crate) range: String,
    /// The number's keyed hash (`otp_core::number::number_hash`).
    pub(crate) number: String,
    /// The application's gateway type.
    pub(crate) gateway: String,
    /// A test number's OTP (left out of the stats unless asked for).
    #[serde(default)]
    pub(crate) test: bool,
}

/// The facts of an OTP to `phone` created through `dialect`, when insights are on.
pub(crate) fn facts(
    rc: &RequestContext,
    app: &AppRecord,
    dialect: Dialect,
    phone: &PhoneNumber,
) -> Option<OtpFacts> {
    database(&rc.env)?;
    Some(OtpFacts {
        dialect,
        range: range_of(phone),
        number: number_hash(&rc.config.hash_key, &app.app_id, phone),
        gateway: app.gateway.kind().to_owned(),
        test: is_test_number(app, phone),
    })
}

/// Whether `phone` is one of the application's test numbers (`policy.testNumbers`).
fn is_test_number(app: &AppRecord, phone: &PhoneNumber) -> bool {
    app.policy.test_code(phone).is_some()
}

/// One thing to record, as the shards keep and send them (rendered into an
/// outbox entry by [`sql::render`]).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Item {
    /// An OTP as it stands: creates its row, or moves it forward.
    Otp(OtpRow),
    /// The record of an OTP is gone before its SMS went out (status UNSENT).
    Gone { otp_id: String, at: UnixSeconds },
    /// An SMS of the OTP went out (a resend too).
    Send {
        otp_id: String,
        at: UnixSeconds,
        parts: u32,
        cost: f64,
        gateway: Option<String>,
        /// The OTP's first SMS: its row starts with this SMS's counters (later
        /// sends and take-backs add them up from the events again).
        first: bool,
    },
    /// The OTP's last send was taken back: its SMS could not be sent.
    Unsent { otp_id: String, at: UnixSeconds },
    /// A PIN was compared: `result` is `verified` or the refusal's reason; no
    /// OTP when the number had nothing pending.
    Check {
        otp_id: Option<String>,
        at: UnixSeconds,
        result: String,
        number: Option<String>,
    },
    /// A send or a check refused before anything was stored or sent.
    Refused(Refusal),
    /// What is known of the delivery of an OTP's SMS: a receipt's new final status
    /// (`delivered`, `undelivered`, `failed`, with the provider's error code), or
    /// `unknown` for a send the gateway may have taken (`crate::gateway::delivery`).
    Delivery {
        otp_id: String,
        at: UnixSeconds,
        /// The gateway type.
        provider: String,
        status: String,
        error_code: Option<String>,
    },
}

/// An OTP's row as a shard sees it now.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OtpRow {
    pub(crate) otp_id: String,
    /// `PENDING`, `VERIFIED`, `FAILED`, `EXPIRED`, `CANCELLED`, `REFUSED`.
    pub(crate) status: String,
    pub(crate) status_at: UnixSeconds,
    pub(crate) attempts: u32,
    pub(crate) max_attempts: u32,
    pub(crate) created_at: UnixSeconds,
    pub(crate) expires_at: UnixSeconds,
    pub(crate) country: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) track_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) facts: Option<OtpFacts>,
}

impl OtpRow {
    /// The row of `record` at `now` (EXPIRED derived from the clock).
    pub(crate) fn of(record: &OtpRecord, now: UnixSeconds, facts: Option<OtpFacts>) -> OtpRow {
        let status = record.status_at(now);
        let status_at = match status {
            OtpStatus::Pending => record.created_at,
            OtpStatus::Expired => record.expires_at,
            _ => record.updated_at,
        };
        OtpRow {
            otp_id: record.otp_id.clone(),
            status: status.as_str().to_owned(),
            status_at,
            attempts: u32::from(record.attempts),
            max_attempts: u32::from(record.max_attempts),
            created_at: record.created_at,
            expires_at: record.expires_at,
            country: record.country_iso.clone(),
            track_id: record.track_id.clone(),
            facts,
        }
    }
}

/// What was refused, why, and until when.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Refusal {
    /// What was refused.
    pub(crate) op: Op,
    /// Stable snake_case name (`rate_limited`, `number_blocked`, …).
    pub(crate) reason: String,
    /// The error code of the reply.
    pub(crate) code: u16,
    pub(crate) at: UnixSeconds,
    /// When a retry can succeed, if known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) until: Option<UnixSeconds>,
    /// The refused OTP (a send), or the OTP a refused check was for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) otp_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) facts: Option<OtpFacts>,
}

/// What a refusal refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Op {
    /// A new code (an SMS).
    Send,
    /// A PIN check.
    Check,
}

impl Op {
    /// The stored name.
    pub(crate) const fn as_str(self) -> &'static str {
        match self {
            Op::Send => "send",
            Op::Check => "check",
        }
    }
}

/// Whether an error refuses a request by policy (a cap, the budget, a country, a
/// guard: 429 or 403), rather than for bad input or a failure.
pub(crate) fn is_refusal(e: &ApiError) -> bool {
    matches!(e.status(), 403 | 429)
}

/// The refusal's stable name: the core's reason, or the worker's code's name.
pub(crate) fn reason_of(e: &ApiError) -> String {
    if let Some(cause) = e.cause() {
        return cause.name().to_owned();
    }
    match e.code() {
        1007 => "rate_limited".to_owned(),
        1530 => "number_blocked".to_owned(),
        1690 => "number_cooldown".to_owned(),
        code => format!("refused_{code}"),
    }
}

/// When a refused request can succeed, from its `Retry-After`.
fn until_of(e: &ApiError, now: UnixSeconds) -> Option<UnixSeconds> {
    match e.retry()? {
        crate::error::Retry::RateLimit(r) => Some(r.reset),
        crate::error::Retry::After(s) => Some(now.saturating_add(s as i64)),
    }
}

/// A refused request, for [`refused`].
pub(crate) struct Refused<'a> {
    /// The API it came through.
    pub(crate) dialect: Dialect,
    /// A send or a check.
    pub(crate) op: Op,
    /// The destination, when the request named one.
    pub(crate) phone: Option<&'a PhoneNumber>,
    /// A refused send: the OTP it would have created.
    pub(crate) otp: Option<&'a OtpRecord>,
    /// A refused check by id: the OTP it was for.
    pub(crate) otp_id: Option<&'a str>,
}

/// Records that `e` refused a request (if it is a refusal: [`is_refusal`]), after
/// the reply, in the shard of its number (or of its OTP): a refused send becomes
/// an OTP row with status REFUSED (counted by the stats' `refused`) and a
/// `refused` event; a refused check, an event. The fraud guard's refusals are
/// recorded the same way.
pub(crate) fn refused(rc: &RequestContext, app: &AppRecord, what: Refused<'_>, e: &ApiError) {
    if !is_refusal(e) || database(&rc.env).is_none() {
        return;
    }
    let facts = what.phone.and_then(|p| facts(rc, app, what.dialect, p));
    let otp_id = what.otp.map(|o| o.otp_id.as_str()).or(what.otp_id);
    let shard = match (&facts, otp_id) {
        (Some(f), _) => shard_of_hash(&f.number),
        (None, Some(id)) => otp_core::id::shard_of(id).unwrap_or(0),
        (None, None) => 0,
    };
    let mut items = Vec::with_capacity(2);
    if let (Op::Send, Some(otp)) = (what.op, what.otp) {
        let mut row = OtpRow::of(otp, rc.now, facts.clone());
        row.status = "REFUSED".to_owned();
        row.status_at = rc.now;
        items.push(Item::Otp(row));
    }
    items.push(Item::Refused(Refusal {
        op: what.op,
        reason: reason_of(e),
        code: e.code(),
        at: rc.now,
        until: until_of(e, rc.now),
        otp_id: otp_id.map(str::to_owned),
        country: what
            .phone
            .map(|p| p.country_iso().to_owned())
            .or_else(|| what.otp.map(|o| o.country_iso.clone())),
        facts,
    }));
    record_after_reply(rc, app, shard, items);
}

/// Hands `items` to shard `shard` of `app` after the reply, rendered here (their
/// event ids start with a random tag of this request), so that the shard stores
/// them as they are.
fn record_after_reply(rc: &RequestContext, app: &AppRecord, shard: u8, items: Vec<Item>) {
    let entry = match sql::render(&format!("w{}", crate::apps::random_token(12)), &items) {
        Ok(entry) => entry,
        Err(e) => {
            worker::console_error!("insights: a refusal could not be rendered: {e}");
            return;
        }
    };
    let request = ShardRequest {
        app_id: app.app_id.clone(),
        now: rc.now,
        retention: rc.config.retention,
        guard: app.dexatel,
        op: ShardOp::Insights { entry },
    };
    let shards = rc.env.durable_object(shard::BINDING);
    let name = format!("{}:{shard:x}", app.app_id);
    rc.ctx.wait_until(async move {
        let stored = match shards {
            Ok(ns) => crate::durable::call_after_reply(&ns, &name, "otp shard", &request)
                .await
                .is_ok(),
            Err(_) => false,
        };
        if !stored {
            worker::console_error!("otp shard {name}: a refusal could not be recorded");
        }
    });
}

/// Seconds in a day.
pub(crate) const DAY: i64 = 86_400;

/// What one run of the scheduled job did.
#[derive(Debug, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Swept {
    /// PENDING rows past their expiry, now EXPIRED.
    pub(crate) expired: u64,
    /// Rows older than the retention, deleted.
    pub(crate) deleted_otps: u64,
    pub(crate) deleted_events: u64,
}

/// The scheduled job at `now`: expiry, then retention.
pub(crate) async fn sweep(env: &Env, now: UnixSeconds) -> worker::Result<Swept> {
    let Some(db) = database(env) else {
        return Ok(Swept::default());
    };
    let days = crate::config::var_u32(env, RETENTION_VAR, DEFAULT_RETENTION_DAYS).max(1);
    let cutoff = now.saturating_sub(i64::from(days) * DAY);
    let expired = sql::expire(&db, now).await?;
    let (deleted_otps, deleted_events) = sql::delete_before(&db, cutoff).await?;
    Ok(Swept {
        expired,
        deleted_otps,
        deleted_events,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_range_hides_the_last_four_digits_like_the_mask() {
        for (input, range) in [
            ("+33612424111", "+3361242"),
            ("+447400123456", "+44740012"),
            ("+4915123456789", "+491512345"),
        ] {
            let phone = otp_core::phone::parse_phone(input, None).unwrap();
            assert_eq!(range_of(&phone), range);
            let masked = phone.masked();
            let shown: String = masked.chars().filter(|c| *c != '*').collect();
            assert_eq!(shown, range, "the mask shows the range and nothing more");
        }
    }

    #[test]
    fn refusals_are_429_and_403_with_stable_reasons() {
        let limited = ApiError::number_blocked(100, 40);
        assert!(is_refusal(&limited));
        assert_eq!(reason_of(&limited), "number_blocked");
        assert_eq!(until_of(&limited, 40), Some(100));
        let country = ApiError::from(otp_core::Error::CountryNotAllowed);
        assert!(is_refusal(&country));
        assert_eq!(reason_of(&country), "country_not_allowed");
        assert!(!is_refusal(&ApiError::storage_unavailable()));
        assert!(!is_refusal(&ApiError::from(otp_core::Error::TtlTooLow)));
    }
}
