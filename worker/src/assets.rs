//! Files served from Workers Static Assets (`[assets]` in `wrangler.toml`): the demo
//! page, the npm package's browser build that it loads, and the OpenAPI document.
//!
//! They are not compiled into the worker, whose size they would double;
//! `scripts/build-worker.sh` collects them into `worker/build/assets` (layout in
//! that script). The worker runs first for every request (`run_worker_first`) and
//! reads them through the `ASSETS` binding, so these routes answer like all others:
//! the same errors, `X-Request-Id`, and the headers set here and in [`crate::demo`].

use worker::{Env, Headers, Method, Request, Response};

use crate::error::{ApiError, ApiResult};
use crate::http;

/// Binding of the static assets.
const ASSETS: &str = "ASSETS";

/// Origin of asset URLs: the binding only reads the path.
const ORIGIN: &str = "https://assets.invalid/";

fn internal<E>(_: E) -> ApiError {
    ApiError::internal()
}

/// Fetches the asset at `path` (relative to the assets directory) with `method`
/// (GET, or HEAD to learn only whether it exists), passing `if_none_match` on:
/// the reply is 200, or 304 when that ETag matches. `None` when there is no such file.
pub(crate) async fn fetch(
    env: &Env,
    path: &str,
    method: Method,
    if_none_match: Option<&str>,
) -> ApiResult<Option<Response>> {
    let assets = env.assets(ASSETS).map_err(|_| {
        worker::console_error!("configuration: assets binding {ASSETS} is missing");
        ApiError::misconfigured()
    })?;
    let headers = Headers::new();
    if let Some(tag) = if_none_match {
        headers.set("If-None-Match", tag).map_err(internal)?;
    }
    let req = http::new_request(method, &format!("{ORIGIN}{path}"), &headers, None, None)
        .map_err(internal)?;
    let res = assets.fetch_request(req).await.map_err(|err| {
        worker::console_error!("assets: {path}: {err}");
        ApiError::internal()
    })?;
    match res.status_code() {
        200 | 304 => Ok(Some(res)),
        404 => Ok(None),
        status => {
            worker::console_error!("assets: {path}: status {status}");
            Err(ApiError::internal())
        }
    }
}

/// An asset the worker needs (the page, the OpenAPI document): its absence means
/// that the assets were not deployed with the worker.
pub(crate) async fn required(env: &Env, path: &str) -> ApiResult<Response> {
    fetch(env, path, Method::Get, None).await?.ok_or_else(|| {
        worker::console_error!("configuration: static asset {path} is missing");
        ApiError::misconfigured()
    })
}

/// The `Content-Type` of an asset, by its extension.
pub(crate) fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map_or("", |(_, ext)| ext) {
        "html" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" => "text/javascript; charset=utf-8",
        "svg" => "image/svg+xml",
        "wasm" => "application/wasm",
        "json" => "application/json",
        _ => "application/octet-stream",
    }
}

/// Whether `If-None-Match` names `tag` (or is `*`).
pub(crate) fn not_modified(req: &Request, tag: &str) -> bool {
    let Some(header) = req.headers().get("If-None-Match").ok().flatten() else {
        return false;
    };
    header
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == tag || t == "*")
}

/// The reply to `req` with `asset` (a 200 or 304 from [`fetch`]): its body, or an
/// empty 304 when the client holds it already; with `content_type`, the asset's
/// ETag and `Cache-Control: no-cache` (revalidated on every use, so a new
/// deployment serves new files at once) and `X-Content-Type-Options: nosniff`.
pub(crate) fn reply(req: &Request, asset: Response, content_type: &str) -> ApiResult<Response> {
    let tag = asset.headers().get("ETag").ok().flatten();
    let unchanged =
        asset.status_code() == 304 || tag.as_deref().is_some_and(|t| not_modified(req, t));
    let mut res = if unchanged {
        Response::empty().map_err(internal)?.with_status(304)
    } else {
        Response::from_body(asset.into_parts().1).map_err(internal)?
    };
    let headers = res.headers_mut();
    for (name, value) in [
        ("Content-Type", content_type),
        ("ETag", tag.as_deref().unwrap_or_default()),
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
    ] {
        if !value.is_empty() {
            headers.set(name, value).map_err(internal)?;
        }
    }
    Ok(res)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_types_follow_the_extension() {
        assert_eq!(content_type("demo.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("demo/pkg/dist/index.js"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type("demo/pkg/wasm/otp_core_bg.wasm"),
            "application/wasm"
        );
        assert_eq!(content_type("demo/demo.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("demo/favicon.svg"), "image/svg+xml");
        assert_eq!(content_type("openapi.json"), "application/json");
        assert_eq!(content_type("demo/LICENSE"), "application/octet-stream");
    }
}
