//! Cloudflare Worker for the OTP SMS verification service.
//!
//! This crate is the I/O shell around the sans-IO `otp-core`: it receives HTTP
//! requests, reads the clock and the bindings (KV, secrets, vars), and turns the
//! core's decisions into responses. For now it serves `GET /health` and answers
//! every other request with an SMS.CX-style JSON error.
//!
//! Every response, errors included, carries `X-Request-Id` and `X-Response-Time`
//! (see [`headers`]).

mod error;
mod headers;

use serde::Serialize;
use worker::{event, Context, Env, Request, Response, Result, RouteContext, Router};

use crate::error::ApiError;
use crate::headers::RequestMeta;

/// Service name reported by `GET /health`.
const SERVICE: &str = "otp-sms-verify";

/// Worker entry point: routes the request and stamps the tracing headers on the reply.
#[event(fetch)]
async fn fetch(req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let meta = RequestMeta::from_request(&req);
    let path = req.path();

    let response = match router().run(req, env).await {
        // The router answers a known path with an unknown method in plain text.
        Ok(res) if res.status_code() == 405 => ApiError::method_not_allowed(&path).into_response(),
        Ok(res) => Ok(res),
        Err(err) => {
            worker::console_error!("request {} failed: {err}", meta.id());
            ApiError::internal(&path).into_response()
        }
    };
    let mut response = response?;
    meta.stamp(&mut response)?;
    Ok(response)
}

/// All routes of the worker. Unmatched paths fall through to [`not_found`].
fn router() -> Router<'static, ()> {
    Router::new()
        .get("/health", health)
        .or_else_any_method("/", not_found)
        .or_else_any_method("/*path", not_found)
}

/// Body of `GET /health`.
#[derive(Serialize)]
struct Health {
    status: &'static str,
    service: &'static str,
    version: &'static str,
}

/// `GET /health`: liveness probe with the service name and crate version.
fn health(_req: Request, _ctx: RouteContext<()>) -> Result<Response> {
    Response::from_json(&Health {
        status: "ok",
        service: SERVICE,
        version: env!("CARGO_PKG_VERSION"),
    })
}

/// Fallback for any path no route matches.
fn not_found(req: Request, _ctx: RouteContext<()>) -> Result<Response> {
    ApiError::not_found(&req.path()).into_response()
}
