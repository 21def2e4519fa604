//! The insights of the admin API ([`crate::insights`]): statistics per
//! application and across them, the OTPs (JSON pages or one CSV stream), the
//! events (refusals among them), and in development the scheduled job at a given
//! time. Every count is over OTPs; test numbers are left out unless
//! `includeTest=true`. Bad parameters are 400s with their own codes (1019-1026).

use otp_core::number::number_hash;
use otp_core::phone::parse_phone;
use otp_core::time::UnixSeconds;
use serde::Serialize;
use worker::{D1Database, Request, Response};

use crate::apps::AppStore;
use crate::config::is_development;
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::http::query_param;
use crate::insights::query::{self, Cursor, Day, Filter, GroupBy, Stats, Verification};
use crate::insights::{database, sweep};
use crate::service::shard::{ShardOp, ShardRequest};

/// Days a request may span at most (inclusive: a leap year).
const MAX_DAYS: i64 = 366;
/// Days of the default span, ending today.
const DEFAULT_DAYS: i64 = 30;
/// Rows per page unless `pageSize` says otherwise, and at most.
const DEFAULT_PAGE: u32 = 100;
const MAX_PAGE: u32 = 500;

/// The database, or 503 (1024) when insights are off.
fn db(rc: &RequestContext) -> ApiResult<D1Database> {
    database(&rc.env).ok_or_else(ApiError::insights_off)
}

/// A D1 failure: logged, answered 503 (1005).
fn unavailable(e: worker::Error) -> ApiError {
    worker::console_error!("insights: d1 query failed: {e}");
    ApiError::storage_unavailable()
}

/// `from` and `to` (UTC days, inclusive; by default the 30 days to today).
fn dates(req: &Request, rc: &RequestContext) -> ApiResult<(Day, Day)> {
    let day = |name: &str| match query_param(req, name) {
        None => Ok(None),
        Some(s) => Day::parse(&s)
            .map(Some)
            .ok_or_else(ApiError::insights_dates_invalid),
    };
    let (from, to) = (day("from")?, day("to")?);
    let to = to.unwrap_or_else(|| match from {
        Some(f) => f.plus(DEFAULT_DAYS - 1).min(Day::of(rc.now)).max(f),
        None => Day::of(rc.now),
    });
    let from = from.unwrap_or_else(|| to.plus(1 - DEFAULT_DAYS));
    if from > to || from.days_to(to) >= MAX_DAYS {
        return Err(ApiError::insights_dates_invalid());
    }
    Ok((from, to))
}

fn include_test(req: &Request) -> ApiResult<bool> {
    match query_param(req, "includeTest").as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(_) => Err(ApiError::insights_include_test_invalid()),
    }
}

fn group_by(req: &Request, across_apps: bool) -> ApiResult<GroupBy> {
    match query_param(req, "groupBy") {
        None => Ok(GroupBy::Day),
        Some(s) => GroupBy::parse(&s)
            .filter(|g| across_apps || *g != GroupBy::App)
            .ok_or_else(ApiError::insights_group_by_invalid),
    }
}

fn page_size(req: &Request) -> ApiResult<u32> {
    match query_param(req, "pageSize") {
        None => Ok(DEFAULT_PAGE),
        Some(s) => s
            .parse::<u32>()
            .ok()
            .filter(|n| (1..=MAX_PAGE).contains(n))
            .ok_or_else(ApiError::insights_page_size_invalid),
    }
}

fn page_token(req: &Request) -> ApiResult<Option<Cursor>> {
    match query_param(req, "pageToken").filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(t) => Cursor::parse(&t)
            .map(Some)
            .ok_or_else(ApiError::insights_page_token_invalid),
    }
}

/// Refuses an unknown application (404, 1010).
async fn known_app(rc: &RequestContext, app_id: &str) -> ApiResult<()> {
    match AppStore::new(rc.bindings.kv.clone()).get(app_id).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::app_not_found()),
    }
}

/// `GET /admin/apps/{appId}/stats` and `GET /admin/stats`.
pub(crate) async fn stats(
    req: &Request,
    rc: &RequestContext,
    app_id: Option<&str>,
) -> ApiResult<Response> {
    let (from, to) = dates(req, rc)?;
    let q = Stats {
        app_id: app_id.map(str::to_owned),
        from,
        to,
        group_by: group_by(req, app_id.is_none())?,
        include_test: include_test(req)?,
    };
    let db = db(rc)?;
    if let Some(id) = app_id {
        known_app(rc, id).await?;
    }
    let json = query::stats(&db, &q).await.map_err(unavailable)?;
    crate::reply::json_text(json, 200).map_err(|_| ApiError::internal())
}

/// The filters of the verifications list and its CSV.
fn verification_filter(req: &Request, rc: &RequestContext, app_id: &str) -> ApiResult<Filter> {
    let (from, to) = dates(req, rc)?;
    let status = query_param(req, "status").filter(|s| !s.is_empty());
    const STATUSES: [&str; 7] = [
        "PENDING",
        "VERIFIED",
        "FAILED",
        "EXPIRED",
        "CANCELLED",
        "REFUSED",
        "UNSENT",
    ];
    if status.as_deref().is_some_and(|s| !STATUSES.contains(&s)) {
        return Err(ApiError::insights_status_invalid());
    }
    let number = match query_param(req, "phoneNumber").filter(|s| !s.trim().is_empty()) {
        // A `+` typed into a query string unescaped arrives as a space.
        Some(p) => {
            let p = match p.strip_prefix(' ') {
                Some(rest) => format!("+{rest}"),
                None => p,
            };
            let phone = parse_phone(&p, query_param(req, "countryIso").as_deref())?;
            Some(number_hash(&rc.config.hash_key, app_id, &phone))
        }
        None => None,
    };
    Ok(Filter {
        app_id: app_id.to_owned(),
        from,
        to,
        what: status,
        number,
        track_id: query_param(req, "trackId").filter(|s| !s.is_empty()),
        after: page_token(req)?,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Page<T: Serialize> {
    data: Vec<T>,
    next_page_token: Option<String>,
}

fn page_reply<T: Serialize>(data: Vec<T>, next: Option<Cursor>) -> ApiResult<Response> {
    let page = Page {
        data,
        next_page_token: next.map(|c| c.token()),
    };
    crate::reply::json(&page, 200).map_err(|_| ApiError::internal())
}

/// `GET /admin/apps/{appId}/verifications`: the OTPs, newest first.
pub(crate) async fn verifications(
    req: &Request,
    rc: &RequestContext,
    app_id: &str,
) -> ApiResult<Response> {
    let filter = verification_filter(req, rc, app_id)?;
    let size = page_size(req)?;
    let db = db(rc)?;
    known_app(rc, app_id).await?;
    let (rows, next) = query::verifications(&db, &filter, size)
        .await
        .map_err(unavailable)?;
    page_reply(rows, next)
}

/// Rows per query of the CSV stream.
const CSV_PAGE: u32 = 500;

/// `GET /admin/apps/{appId}/verifications.csv`: every OTP the filters select, as
/// CSV, streamed a page of 500 at a time (the first page is read before the
/// reply, so that a failure is a 503 and not a cut stream).
pub(crate) async fn verifications_csv(
    req: &Request,
    rc: &RequestContext,
    app_id: &str,
) -> ApiResult<Response> {
    let mut filter = verification_filter(req, rc, app_id)?;
    let db = db(rc)?;
    known_app(rc, app_id).await?;
    let (rows, next) = query::verifications(&db, &filter, CSV_PAGE)
        .await
        .map_err(unavailable)?;
    let mut first = String::from(Verification::CSV_HEADER);
    for row in &rows {
        row.csv_line(&mut first);
    }
    filter.after = next;
    struct Rest {
        db: D1Database,
        filter: Filter,
        first: Option<String>,
    }
    let rest = Rest {
        db,
        filter,
        first: Some(first),
    };
    let stream = futures_util::stream::unfold(rest, |mut rest| async move {
        if let Some(first) = rest.first.take() {
            return Some((Ok(first.into_bytes()), rest));
        }
        rest.filter.after.as_ref()?;
        match query::verifications(&rest.db, &rest.filter, CSV_PAGE).await {
            Ok((rows, next)) => {
                let mut out = String::new();
                for row in &rows {
                    row.csv_line(&mut out);
                }
                rest.filter.after = next;
                Some((Ok::<Vec<u8>, worker::Error>(out.into_bytes()), rest))
            }
            Err(e) => {
                worker::console_error!("insights: the CSV stream stopped: {e}");
                rest.filter.after = None;
                Some((Err(e), rest))
            }
        }
    });
    let mut res = Response::from_stream(stream).map_err(|_| ApiError::internal())?;
    let headers = res.headers_mut();
    headers
        .set("Content-Type", "text/csv; charset=utf-8")
        .and_then(|()| {
            headers.set(
                "Content-Disposition",
                "attachment; filename=\"verifications.csv\"",
            )
        })
        .map_err(|_| ApiError::internal())?;
    Ok(res)
}

/// `GET /admin/apps/{appId}/events`: sends, sends taken back, checks and
/// refusals, newest first.
pub(crate) async fn events(
    req: &Request,
    rc: &RequestContext,
    app_id: &str,
) -> ApiResult<Response> {
    let (from, to) = dates(req, rc)?;
    let kind = query_param(req, "kind").filter(|s| !s.is_empty());
    if kind
        .as_deref()
        .is_some_and(|k| !["send", "unsent", "check", "refused", "delivery"].contains(&k))
    {
        return Err(ApiError::insights_kind_invalid());
    }
    let filter = Filter {
        app_id: app_id.to_owned(),
        from,
        to,
        what: kind,
        number: None,
        track_id: None,
        after: page_token(req)?,
    };
    let size = page_size(req)?;
    let db = db(rc)?;
    known_app(rc, app_id).await?;
    let (rows, next) = query::events(&db, &filter, size)
        .await
        .map_err(unavailable)?;
    page_reply(rows, next)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DevSweep {
    /// Shards whose outbox was sent to D1 first (`appId`).
    flushed: u32,
    now: UnixSeconds,
    #[serde(flatten)]
    swept: crate::insights::Swept,
}

/// `POST /admin/dev/sweep?now=<unix seconds>&appId=…` (development only): sends
/// the outboxes of the application's shards to D1 (when `appId` is given), then
/// runs the scheduled job as if at `now` (default: the request's clock).
pub(crate) async fn dev_sweep(req: &Request, rc: &RequestContext) -> ApiResult<Response> {
    if !is_development(&rc.env) {
        return Err(ApiError::dev_only());
    }
    let now = match query_param(req, "now") {
        None => rc.now,
        Some(s) => s
            .parse::<UnixSeconds>()
            .ok()
            .filter(|t| *t >= 0)
            .ok_or_else(ApiError::invalid_query)?,
    };
    db(rc)?;
    let mut flushed = 0;
    if let Some(app_id) = query_param(req, "appId").filter(|s| !s.is_empty()) {
        let app = AppStore::new(rc.bindings.kv.clone())
            .get(&app_id)
            .await?
            .ok_or_else(ApiError::app_not_found)?;
        for shard in 0..otp_core::id::SHARDS {
            let request = ShardRequest {
                app_id: app.app_id.clone(),
                now: rc.now,
                retention: rc.config.retention,
                guard: app.dexatel,
                op: ShardOp::FlushInsights,
            };
            let name = format!("{}:{shard:x}", app.app_id);
            crate::durable::call_after_reply(&rc.bindings.shards, &name, "otp shard", &request)
                .await?;
            flushed += 1;
        }
    }
    let swept = sweep(&rc.env, now).await.map_err(unavailable)?;
    crate::reply::json(
        &DevSweep {
            flushed,
            now,
            swept,
        },
        200,
    )
    .map_err(|_| ApiError::internal())
}
