//! What the operator console needs beyond the application CRUD: the paged list
//! of applications with a search, a test OTP sent through an application, and
//! the overview across applications.

use otp_core::settings::OtpRequest;
use serde::Serialize;
use worker::{Request, Response};

use crate::apps::{AppRecord, AppView};
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::http;
use crate::insights::query::{self, Day, GroupBy, Stats};
use crate::service::Service;
use serde_json::Value;

/// Applications per page when `pageSize` is absent.
const DEFAULT_PAGE_SIZE: u64 = 20;
/// Largest `pageSize`.
const MAX_PAGE_SIZE: u64 = 100;
/// Longest `search`, in characters.
const MAX_SEARCH_CHARS: usize = 64;
/// KV prefix of the application records (`crate::apps`).
const APP_PREFIX: &str = "app:";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct AppList<'a> {
    data: Vec<AppView<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<String>,
}

/// Whether `app` matches `search` (lowercase): its name contains it, or its id
/// starts with it.
fn matches(app: &AppRecord, search: &str) -> bool {
    search.is_empty() || app.name.to_lowercase().contains(search) || app.app_id.starts_with(search)
}

/// `GET /admin/apps?search=&pageSize=&pageToken=`: applications in the store's
/// order (by id). A page reads the next `pageSize` applications and keeps those
/// that match `search` (a part of the name, any case, or the start of the id),
/// so a searched page may hold fewer than `pageSize`, even none:
/// `nextPageToken` is present while there are more to read.
pub(crate) async fn list_apps(req: &Request, rc: &RequestContext) -> ApiResult<Response> {
    let search = http::query_param(req, "search")
        .map(|s| s.trim().to_lowercase())
        .unwrap_or_default();
    if search.chars().count() > MAX_SEARCH_CHARS {
        return Err(ApiError::apps_query_invalid());
    }
    let page = app_keys(req, rc, DEFAULT_PAGE_SIZE).await?;
    let kv = &rc.bindings.kv;
    let reads = page
        .keys
        .iter()
        .map(|key| async move { crate::json::kv_get::<AppRecord>(kv, &key.name).await });
    let mut apps = Vec::with_capacity(page.keys.len());
    for app in futures_util::future::join_all(reads).await {
        // An app deleted since the listing is skipped.
        if let Some(app) = app? {
            apps.push(app);
        }
    }
    let data = apps
        .iter()
        .filter(|app| matches(app, &search))
        .map(AppRecord::view)
        .collect();
    let next_page_token = next_token(&page);
    crate::reply::json(
        &AppList {
            data,
            next_page_token,
        },
        200,
    )
    .map_err(|_| ApiError::internal())
}

/// The next page of application keys (`app:{id}`, in id order) after the
/// `pageToken` of `req`, at most its `pageSize` (1-100, else `default_size`).
/// Bad parameters, and a cursor KV does not know, are 400 1062.
pub(super) async fn app_keys(
    req: &Request,
    rc: &RequestContext,
    default_size: u64,
) -> ApiResult<worker::kv::ListResponse> {
    let size = match http::query_param(req, "pageSize").filter(|s| !s.trim().is_empty()) {
        None => default_size,
        Some(s) => s
            .trim()
            .parse::<u64>()
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(ApiError::apps_query_invalid)?,
    };
    let token = http::query_param(req, "pageToken").filter(|s| !s.trim().is_empty());
    if token.as_ref().is_some_and(|t| {
        t.len() > 1024
            || !t
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_=+/.".contains(&b))
    }) {
        return Err(ApiError::apps_query_invalid());
    }
    let mut list = rc.bindings.kv.list().prefix(APP_PREFIX.into()).limit(size);
    if let Some(token) = token {
        list = list.cursor(token);
    }
    crate::ops::count(|o| o.kv_reads += 1);
    list.execute().await.map_err(|e| {
        // A cursor KV does not know is the caller's error.
        worker::console_log!("apps list: {e}");
        ApiError::apps_query_invalid()
    })
}

/// The `nextPageToken` of a listing: its cursor while there are more keys.
pub(super) fn next_token(page: &worker::kv::ListResponse) -> Option<String> {
    if page.list_complete {
        None
    } else {
        page.cursor.clone().filter(|c| !c.is_empty())
    }
}

/// The application id of an application key (`app:{id}`).
pub(super) fn app_id_of(key: &str) -> Option<&str> {
    key.strip_prefix(APP_PREFIX)
}

/// `POST /admin/apps/{id}/test-otp`: an OTP sent through the application, with
/// the body of SMS.CX's `POST /otp` (at least `phoneNumber`) and its reply (201,
/// the OTP object), under every rule of the application (limits, fraud guard,
/// gateway): the operator's check that the application sends.
pub(crate) async fn test_otp(
    rc: &RequestContext,
    app: &AppRecord,
    request: OtpRequest,
) -> ApiResult<Response> {
    let service = Service::new(rc, app, None);
    let planned = service.send(&request).await?;
    crate::reply::json(
        &planned.record.view(rc.now, Some(planned.phone.e164())),
        201,
    )
    .map_err(|_| ApiError::internal())
}

/// Countries on the overview, most sent first.
const TOP_COUNTRIES: usize = 10;

/// The insights' figures of the overview.
struct Figures {
    /// Today (UTC): sent, verified, failed, expired, cancelled, refused, parts,
    /// cost, conversionRate.
    today: Value,
    /// This month (UTC) to today, the same counters.
    month: Value,
    /// This month's countries, most sent first, with the same counters and `key`.
    top_countries: Vec<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Overview<'a> {
    /// Today (UTC), `YYYY-MM-DD`.
    date: String,
    /// Today's figures; this one and the next two are `null` when insights are
    /// off (no `INSIGHTS_DB`).
    today: Option<Value>,
    month: Option<Value>,
    top_countries: Option<Vec<Value>>,
    /// The blocks in force of the first page of applications.
    blocks: Vec<super::fraud::AppBlock<'a>>,
    /// Applications read for the blocks.
    applications: usize,
    /// Where `GET /admin/blocks?pageToken=` goes on, while more applications remain.
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<&'a str>,
}

/// The figures of today and this month across every application, from the
/// insights (two queries: the month by day, whose last row is today and whose
/// totals are the month's; the month by country); `None` when insights are off.
async fn figures(rc: &RequestContext, today: Day) -> ApiResult<Option<Figures>> {
    let Some(db) = crate::insights::database(&rc.env) else {
        return Ok(None);
    };
    let first = Day::parse(&format!("{}-01", today.text().get(..7).unwrap_or_default()))
        .ok_or_else(ApiError::internal)?;
    let stats = |group_by| Stats {
        app_id: None,
        from: first,
        to: today,
        group_by,
        include_test: false,
    };
    let (by_day, by_country) = (stats(GroupBy::Day), stats(GroupBy::Country));
    let (days, countries) =
        futures_util::future::join(query::stats(&db, &by_day), query::stats(&db, &by_country))
            .await;
    let unavailable = |e: worker::Error| {
        worker::console_error!("overview: d1 query failed: {e}");
        ApiError::storage_unavailable()
    };
    let parse =
        |text: String| serde_json::from_str::<Value>(&text).map_err(|_| ApiError::internal());
    let mut days = parse(days.map_err(unavailable)?)?;
    let countries = parse(countries.map_err(unavailable)?)?;
    let key = Value::String(today.text());
    let mut today = days["data"]
        .as_array_mut()
        .and_then(|rows| rows.iter_mut().find(|row| row["key"] == key))
        .map(Value::take)
        .unwrap_or_else(|| days["totals"].clone());
    if let Some(row) = today.as_object_mut() {
        row.remove("key");
    }
    let top_countries = countries["data"]
        .as_array()
        .map(|rows| rows.iter().take(TOP_COUNTRIES).cloned().collect())
        .unwrap_or_default();
    Ok(Some(Figures {
        today,
        month: days["totals"].take(),
        top_countries,
    }))
}

/// `GET /admin/overview?pageSize=&pageToken=`: across every application, today's
/// and this month's figures and top countries (the insights; `null` when they are
/// off), and the blocks in force of the first page of applications (as
/// `GET /admin/blocks`, where `nextPageToken` goes on).
pub(crate) async fn overview(req: &Request, rc: &RequestContext) -> ApiResult<Response> {
    let today = Day::of(rc.now);
    let (figures, blocks) =
        futures_util::future::join(figures(rc, today), super::fraud::blocks_page(req, rc)).await;
    let blocks = blocks?;
    let (today_figures, month, top_countries) = match figures? {
        Some(f) => (Some(f.today), Some(f.month), Some(f.top_countries)),
        None => (None, None, None),
    };
    let body = Overview {
        date: today.text(),
        today: today_figures,
        month,
        top_countries,
        blocks: blocks.blocks(),
        applications: blocks.applications,
        next_page_token: blocks.next_page_token.as_deref(),
    };
    crate::reply::json(&body, 200).map_err(|_| ApiError::internal())
}
