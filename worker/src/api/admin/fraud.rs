//! The fraud guard in the admin API: its current blocks, recent refusals (and
//! what shadow mode would have refused) and countries, and an operator's manual
//! blocks and unblocks of a range or a country.
//!
//! - `GET /admin/apps/{appId}/fraud` → the snapshot (`otp_core::fraud::FraudSnapshot`);
//! - `POST /admin/apps/{appId}/fraud/blocks` `{"scope": "range"|"country", "key":
//!   "3361242"|"FR", "seconds": 3600}` → 204;
//! - `DELETE /admin/apps/{appId}/fraud/blocks?scope=…&key=…` → 204;
//! - `GET /admin/blocks?pageSize=&pageToken=` → the blocks in force across every
//!   application, for the console's overview (whose `GET /admin/overview` holds
//!   the first page, `super::console`): a page reads the next `pageSize`
//!   applications (1-100, default 100) and asks each one's object at once, so
//!   that no request makes more than about 200 calls however many applications
//!   there are; `nextPageToken` is there while more remain.

use otp_core::fraud::BlockEntry;
use otp_core::phone::parse_phone;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::{Request, Response};

use crate::apps::{AppRecord, AppStore};
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::fraud::Scope;
use crate::http;
use crate::limiter::RateLimits;

/// `GET /admin/apps/{appId}/fraud`.
pub(super) async fn snapshot(
    rc: &RequestContext,
    apps: &AppStore,
    id: &str,
) -> ApiResult<Response> {
    let app = apps.get(id).await?.ok_or_else(ApiError::app_not_found)?;
    let snapshot = RateLimits::new(&rc.bindings.limiter)
        .guard_snapshot(&app.app_id, rc.now)
        .await?;
    crate::reply::json(&snapshot, 200).map_err(|_| ApiError::internal())
}

/// A block of one application.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct AppBlock<'a> {
    app_id: &'a str,
    name: &'a str,
    #[serde(flatten)]
    block: &'a BlockEntry,
}

/// The blocks in force of one page of applications.
pub(super) struct BlocksPage {
    /// The applications with blocks, in id order, each with its blocks.
    blocked: Vec<(AppRecord, Vec<BlockEntry>)>,
    /// Applications read.
    pub(super) applications: usize,
    /// Where the next page starts, while more remain.
    pub(super) next_page_token: Option<String>,
}

impl BlocksPage {
    /// Every block of the page, with its application's id and name.
    pub(super) fn blocks(&self) -> Vec<AppBlock<'_>> {
        self.blocked
            .iter()
            .flat_map(|(app, blocks)| {
                blocks.iter().map(|block| AppBlock {
                    app_id: &app.app_id,
                    name: &app.name,
                    block,
                })
            })
            .collect()
    }
}

/// The blocks of the page of applications that `req`'s `pageSize` and
/// `pageToken` name (1062 if they are bad).
pub(super) async fn blocks_page(req: &Request, rc: &RequestContext) -> ApiResult<BlocksPage> {
    let page = super::console::app_keys(req, rc, 100).await?;
    let ids: Vec<&str> = page
        .keys
        .iter()
        .filter_map(|k| super::console::app_id_of(&k.name))
        .collect();
    let limits = RateLimits::new(&rc.bindings.limiter);
    let snapshots =
        futures_util::future::join_all(ids.iter().map(|id| limits.guard_snapshot(id, rc.now)))
            .await;
    let mut with_blocks = Vec::new();
    for (id, snapshot) in ids.iter().zip(snapshots) {
        let snapshot = snapshot?;
        if !snapshot.blocks.is_empty() {
            with_blocks.push((*id, snapshot.blocks));
        }
    }
    // Names only of the applications with blocks (an app deleted meanwhile is skipped).
    let apps = AppStore::new(rc.bindings.kv.clone());
    let records =
        futures_util::future::join_all(with_blocks.iter().map(|(id, _)| apps.get(id))).await;
    let mut blocked = Vec::new();
    for ((_, blocks), record) in with_blocks.into_iter().zip(records) {
        if let Some(app) = record? {
            blocked.push((app, blocks));
        }
    }
    Ok(BlocksPage {
        blocked,
        applications: ids.len(),
        next_page_token: super::console::next_token(&page),
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Blocks<'a> {
    data: Vec<AppBlock<'a>>,
    /// Applications read for this page.
    applications: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_page_token: Option<&'a str>,
}

/// `GET /admin/blocks`: the blocks in force of a page of applications, latest end
/// first within each application, applications in id order.
pub(super) async fn all_blocks(req: &Request, rc: &RequestContext) -> ApiResult<Response> {
    let page = blocks_page(req, rc).await?;
    let body = Blocks {
        data: page.blocks(),
        applications: page.applications,
        next_page_token: page.next_page_token.as_deref(),
    };
    crate::reply::json(&body, 200).map_err(|_| ApiError::internal())
}

/// Body of a manual block.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct BlockInput {
    scope: Scope,
    key: String,
    seconds: i64,
}

/// `POST /admin/apps/{appId}/fraud/blocks`.
pub(super) async fn block(
    rc: &RequestContext,
    apps: &AppStore,
    id: &str,
    body: Value,
) -> ApiResult<Response> {
    let app = apps.get(id).await?.ok_or_else(ApiError::app_not_found)?;
    let input: BlockInput = http::from_value(&body).map_err(|_| ApiError::invalid_json())?;
    let key = checked_key(input.scope, &input.key)?;
    let until = rc.now.saturating_add(input.seconds);
    RateLimits::new(&rc.bindings.limiter)
        .guard_block(&app.app_id, input.scope, key, Some(until), rc.now)
        .await?;
    no_content()
}

/// `DELETE /admin/apps/{appId}/fraud/blocks?scope=…&key=…`.
pub(super) async fn unblock(
    req: &Request,
    rc: &RequestContext,
    apps: &AppStore,
    id: &str,
) -> ApiResult<Response> {
    let app = apps.get(id).await?.ok_or_else(ApiError::app_not_found)?;
    let scope = match http::query_param(req, "scope").as_deref() {
        Some("range") => Scope::Range,
        Some("country") => Scope::Country,
        _ => return Err(ApiError::invalid_query()),
    };
    let key = checked_key(scope, &http::query_param(req, "key").unwrap_or_default())?;
    RateLimits::new(&rc.bindings.limiter)
        .guard_block(&app.app_id, scope, key, None, rc.now)
        .await?;
    no_content()
}

/// A range is digits (a number without its last digits, as the snapshot shows it);
/// a country an ISO code the plan knows.
fn checked_key(scope: Scope, key: &str) -> ApiResult<String> {
    let key = key.trim().trim_start_matches('+');
    let ok = match scope {
        Scope::Range => (3..=14).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_digit()),
        Scope::Country => otp_core::phone::is_known_country(key),
    };
    if !ok {
        return Err(otp_core::Error::ManualBlockInvalid.into());
    }
    Ok(match scope {
        Scope::Range => key.to_owned(),
        Scope::Country => key.to_ascii_uppercase(),
    })
}

fn no_content() -> ApiResult<Response> {
    Ok(Response::empty()
        .map_err(|_| ApiError::internal())?
        .with_status(204))
}

/// The safe numbers of a `fraudGuard` patch as the settings keep them: a number
/// given in clear (`"+33612345678"`) becomes its keyed hash and mask.
pub(super) fn hash_safe_numbers(rc: &RequestContext, patch: &mut Value) -> ApiResult<()> {
    let Some(list) = patch.get_mut("safeNumbers").and_then(Value::as_array_mut) else {
        return Ok(());
    };
    for entry in list.iter_mut() {
        if let Value::String(number) = entry {
            let phone =
                parse_phone(number, None).map_err(|_| otp_core::Error::SafeNumberInvalid)?;
            let safe = otp_core::fraud::SafeNumber::new(&rc.config.hash_key, &phone);
            *entry = serde_json::to_value(safe).map_err(|_| ApiError::internal())?;
        }
    }
    Ok(())
}
