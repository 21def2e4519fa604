//! Cloudflare Worker for the OTP SMS verification service.
//!
//! This crate is the I/O shell around the sans-IO `otp-core`: it reads the clock
//! and the bindings once per request ([`context`]), lets the core decide, and
//! carries out what it decided (store this record, send this SMS, fire this
//! callback).
//!
//! Layout: this file is the entry point and router. [`api`] holds the thin wire
//! adapters, one folder per dialect (`smscx`, `dexatel`, `admin`) and what they
//! share (`common`); each parses its requests, calls the verification
//! [`service`] and writes its dialect's replies and errors. The service owns
//! admission, the record shards, the gateway call and callbacks; [`apps`] keeps
//! the applications; [`gateway`] sends SMS; [`callback`] and [`signing`] report
//! status changes; [`error`] holds the shared error values; [`demo`] serves the
//! browser demo at `/demo`, from the static assets read by [`assets`].
//!
//! Every response, errors included, carries `X-Request-Id` and `X-Response-Time`
//! (see [`headers`]).

mod api;
mod apps;
mod assets;
mod callback;
mod config;
mod console;
mod context;
mod demo;
mod durable;
mod error;
mod fraud;
mod gateway;
mod headers;
mod http;
mod insights;
mod json;
mod limiter;
mod ops;
mod recent;
mod reply;
mod service;
mod signing;
mod soon;
mod turnstile;
mod webhook_log;

use worker::{
    event, Context, Env, Method, Request, Response, Result, ScheduleContext, ScheduledEvent,
};

use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::headers::RequestMeta;

/// The scheduled job (`[triggers] crons`): the insights' expiry and retention
/// ([`insights::sweep`]) at the trigger's time.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let now = (event.schedule() / 1000.0) as otp_core::time::UnixSeconds;
    match insights::sweep(&env, now).await {
        Ok(swept) => worker::console_log!(
            "insights sweep: {} expired, {} OTPs and {} events past retention deleted",
            swept.expired,
            swept.deleted_otps,
            swept.deleted_events
        ),
        Err(e) => worker::console_error!("insights sweep failed: {e}"),
    }
}

/// Worker entry point: routes the request and stamps the tracing headers on the reply.
#[event(fetch)]
async fn fetch(req: Request, env: Env, ctx: Context) -> Result<Response> {
    let meta = RequestMeta::from_request(&req);
    let path = req.path();
    let development = config::is_development(&env);
    ops::take();
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
    let ops = ops::take();
    if development {
        response
            .headers_mut()
            .set(ops::HEADER, &ops.header_value())?;
    }
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
    /// Delivery receipts of SMS providers: `/dlr/{provider}/{appId}`.
    Dlr,
}

fn area(segments: &[&str]) -> Option<Area> {
    match segments {
        ["oauth", "token"] | ["otp"] | ["otp", _] => Some(Area::Smscx),
        ["admin", "apps"]
        | ["admin", "apps", _]
        | ["admin", "apps", _, "rotate-secret" | "rotate-api-key" | "rotate-webhook-secret"]
        | ["admin", "apps", _, "rotate-receipt-token"]
        | ["admin", "outbox"] => Some(Area::Admin),
        // The operator console's session and what it needs (`api::admin::session`).
        ["admin", "session"]
        | ["admin", "apps", _, "templates" | "senders" | "test-otp" | "test-sms" | "gateway"]
        | ["admin", "apps", _, "templates" | "senders", _]
        | ["admin", "apps", _, "webhooks", "test" | "deliveries"]
        | ["admin", "blocks" | "overview"] => Some(Area::Admin),
        ["admin", "apps", _, "stats" | "verifications" | "verifications.csv" | "events" | "fraud"]
        | ["admin", "apps", _, "fraud", "blocks"]
        | ["admin", "stats"]
        | ["admin", "dev", "sweep"] => Some(Area::Admin),
        ["v1", "verifications" | "templates" | "senders"] | ["v1", "templates" | "senders", _] => {
            Some(Area::Dexatel)
        }
        ["dlr", _, _] => Some(Area::Dlr),
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
        (["health"], Method::Get) => return api::common::health(&env),
        (["health"], _) => return Err(ApiError::method_not_allowed()),
        (["openapi.json"], Method::Get) => return api::common::openapi(&env).await,
        (["openapi.json"], _) => return Err(ApiError::method_not_allowed()),
        // The browser demo: `/` redirects to `/demo`; see [`demo`].
        ([""] | ["demo", ..], _) => return demo::route(req, env, ctx, &segments).await,
        // The operator console; see [`console`].
        (["console", ..], _) => return console::route(req, env, &segments).await,
        _ => {}
    }
    let area = area(&segments).ok_or_else(ApiError::not_found)?;
    let rc = RequestContext::new(&req, env, ctx)?;
    match area {
        Area::Smscx => api::smscx::routes(req, &rc, &segments).await,
        Area::Admin => api::admin::routes(req, &rc, &segments[1..]).await,
        Area::Dexatel => api::dexatel::routes(req, &rc, &segments[1..]).await,
        Area::Dlr => api::dlr::routes(req, &rc, &segments[1..]).await,
    }
}
