//! Cloudflare Worker for the OTP SMS verification service.
//!
//! This crate is the I/O shell around the sans-IO `otp-core`: it reads the clock
//! and the bindings once per request, lets the core decide, and carries out what
//! it decided (store this record, send this SMS, fire this callback).
//!
//! Layout: this file is the entry point and router; [`smscx`], [`dexatel`] and
//! [`admin`] hold the handlers per API; [`auth`] authenticates applications; [`apps`] and
//! [`store`] own the KV data; [`gateway`] sends SMS; [`callback`] and [`signing`]
//! report status changes; [`error`] maps every failure to a reply; [`demo`] serves
//! the browser demo at `/demo`, from the static assets read by [`assets`].
//!
//! Every response, errors included, carries `X-Request-Id` and `X-Response-Time`
//! (see [`headers`]).

mod admin;
mod apps;
mod assets;
mod auth;
mod callback;
mod config;
mod delivery;
mod demo;
mod dexatel;
mod durable;
mod error;
mod gateway;
mod headers;
mod http;
mod json;
mod limiter;
mod otp_guard;
mod signing;
mod smscx;
mod store;

use serde::Serialize;
use worker::{event, Context, Env, Method, Request, Response, Result};

use crate::apps::AppStore;
use crate::config::{Config, OTP_KV};
use crate::error::{ApiError, ApiResult};
use crate::headers::RequestMeta;
use crate::store::OtpStore;

/// Service name reported by `GET /health`.
const SERVICE: &str = "otp-sms-verify";

/// What every handler may use: the environment, the execution context (for work
/// after the response), the configuration and the time of the request.
pub(crate) struct RequestContext {
    pub(crate) env: Env,
    pub(crate) ctx: Context,
    pub(crate) config: Config,
    pub(crate) now: otp_core::time::UnixSeconds,
    /// The client's IP (`CF-Connecting-IP`), for the per-IP rate limits.
    pub(crate) client_ip: Option<String>,
}

/// Worker entry point: routes the request and stamps the tracing headers on the reply.
#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let meta = RequestMeta::from_request(&req);
    let path = req.path();
    let mut response = match route(req, env, ctx).await {
        Ok(res) => res,
        Err(err) => {
            if err.status() >= 500 {
                worker::console_error!(
                    "request {} {path}: {} {}",
                    meta.id(),
                    err.status(),
                    err.code()
                );
            }
            err.to_response(&path)?
        }
    };
    meta.stamp(&mut response)?;
    Ok(response)
}

/// The API areas behind the path's first segments; `None` for an unknown path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Area {
    /// SMS.CX dialect: `/oauth/token`, `/otp`, `/otp/{id}`.
    Smscx,
    /// Administration: `/admin/...`.
    Admin,
    /// Dexatel dialect: `/v1/verifications`, `/v1/templates[/{id}]`, `/v1/senders[/{id}]`.
    Dexatel,
}

fn area(segments: &[&str]) -> Option<Area> {
    match segments {
        ["oauth", "token"] | ["otp"] | ["otp", _] => Some(Area::Smscx),
        ["admin", "apps"]
        | ["admin", "apps", _]
        | ["admin", "apps", _, "rotate-secret" | "rotate-api-key" | "rotate-webhook-secret"]
        | ["admin", "outbox"] => Some(Area::Admin),
        ["v1", "verifications" | "templates" | "senders"] | ["v1", "templates" | "senders", _] => {
            Some(Area::Dexatel)
        }
        _ => None,
    }
}

/// The routes, matched on method and path segments.
async fn route(req: Request, env: Env, ctx: Context) -> ApiResult<Response> {
    let path = req.path();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let method = req.method();
    // Routes that need no configuration.
    match (segments.as_slice(), &method) {
        (["health"], Method::Get) => return health(),
        (["health"], _) => return Err(ApiError::method_not_allowed()),
        (["openapi.json"], Method::Get) => return openapi(&env).await,
        (["openapi.json"], _) => return Err(ApiError::method_not_allowed()),
        // The browser demo: `/` redirects to `/demo`; see [`demo`].
        ([""] | ["demo", ..], _) => return demo::route(req, env, &segments).await,
        _ => {}
    }
    let area = area(&segments).ok_or_else(ApiError::not_found)?;
    let config = Config::from_env(&env)?;
    let now = config::now(&req, &env);
    // Cloudflare sets CF-Connecting-IP on every request; its absence (a direct
    // call in tests) skips the per-IP caps.
    let client_ip = req
        .headers()
        .get("CF-Connecting-IP")
        .ok()
        .flatten()
        .filter(|ip| !ip.is_empty() && ip.len() <= 64);
    let rc = RequestContext {
        env,
        ctx,
        config,
        now,
        client_ip,
    };
    match (area, segments.as_slice()) {
        (Area::Smscx, ["oauth", "token"]) => match method {
            Method::Post => auth::token(req, &rc.env, &rc.config, now).await,
            _ => Err(ApiError::method_not_allowed()),
        },
        (Area::Smscx, _) => otp_routes(req, &rc, &segments[1..]).await,
        (Area::Admin, _) => admin_routes(req, &rc, &segments[1..]).await,
        (Area::Dexatel, _) => dexatel::routes(req, &rc, &segments[1..]).await,
    }
}

async fn otp_routes(mut req: Request, rc: &RequestContext, rest: &[&str]) -> ApiResult<Response> {
    let method = req.method();
    if !matches!(
        (rest, &method),
        ([], Method::Post) | ([_], Method::Get | Method::Post | Method::Delete)
    ) {
        return Err(ApiError::method_not_allowed());
    }
    let who = auth::authenticate(&req, &rc.env, &rc.config, rc.now).await?;
    let store = OtpStore::new(&rc.env, rc.config.retention)?;
    match (rest, method) {
        ([], _) => smscx::create(rc, &who, &store, http::json_body(&mut req).await?).await,
        ([id], Method::Get) => smscx::status(rc, &who, &store, id).await,
        ([id], Method::Post) => {
            smscx::verify(rc, &who, &store, id, http::json_body(&mut req).await?).await
        }
        ([id], _) => smscx::cancel(rc, &who, &store, id).await,
        _ => Err(ApiError::not_found()),
    }
}

async fn admin_routes(mut req: Request, rc: &RequestContext, rest: &[&str]) -> ApiResult<Response> {
    let method = req.method();
    admin::require_admin(&req, rc)?;
    let apps = AppStore::new(kv(&rc.env)?);
    match (rest, method) {
        (["apps"], Method::Post) => {
            admin::create_app(rc, &apps, http::json_body(&mut req).await?).await
        }
        (["apps", id], Method::Get) => admin::get_app(&apps, id).await,
        (["apps", id], Method::Patch) => {
            admin::update_app(rc, &apps, id, http::json_body(&mut req).await?).await
        }
        (["apps", id], Method::Delete) => admin::delete_app(&apps, id).await,
        (["apps", id, "rotate-secret"], Method::Post) => {
            admin::rotate(rc, &apps, id, admin::Rotate::Secret).await
        }
        (["apps", id, "rotate-api-key"], Method::Post) => {
            admin::rotate(rc, &apps, id, admin::Rotate::ApiKey).await
        }
        (["apps", id, "rotate-webhook-secret"], Method::Post) => {
            admin::rotate(rc, &apps, id, admin::Rotate::WebhookSecret).await
        }
        (["outbox"], Method::Get) => admin::outbox(&req, rc).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

fn kv(env: &Env) -> ApiResult<worker::kv::KvStore> {
    env.kv(OTP_KV).map_err(|_| {
        worker::console_error!("configuration: KV binding {OTP_KV} is missing");
        ApiError::misconfigured()
    })
}

/// The static asset of `GET /openapi.json`: the OpenAPI 3.1 document of this API
/// (`api/openapi.json`, generated by `api/openapi.mjs`).
const OPENAPI_JSON: &str = "openapi.json";

/// `GET /openapi.json`.
async fn openapi(env: &Env) -> ApiResult<Response> {
    let asset = assets::required(env, OPENAPI_JSON).await?;
    let mut res = Response::from_body(asset.into_parts().1).map_err(|_| ApiError::internal())?;
    res.headers_mut()
        .set("Content-Type", assets::content_type(OPENAPI_JSON))
        .map_err(|_| ApiError::internal())?;
    Ok(res)
}

/// Body of `GET /health`.
#[derive(Serialize)]
struct Health {
    status: &'static str,
    service: &'static str,
    version: &'static str,
}

/// `GET /health`: liveness probe with the service name and crate version.
fn health() -> ApiResult<Response> {
    http::json(
        &Health {
            status: "ok",
            service: SERVICE,
            version: env!("CARGO_PKG_VERSION"),
        },
        200,
    )
    .map_err(|_| ApiError::internal())
}
