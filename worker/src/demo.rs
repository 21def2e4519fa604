//! The browser demo at `/demo` (`/` redirects there): one page that runs the whole
//! verification flow, either against this worker's SMS.CX API ("live") or entirely
//! in the browser with the npm package's wasm core and `MemoryStore` ("offline").
//!
//! The page (`demo/`), and the package's browser build it imports (`pkg/dist/*.js`
//! and `pkg/wasm/`, made by `scripts/build-pkg.sh`), are static assets (see
//! [`crate::assets`]): serving them needs no secret or configuration, only the
//! `ASSETS` binding. This module maps the URLs onto them and sets the page's
//! Content-Security-Policy.
//!
//! Two endpoints exist **in development only** (404 1013 otherwise) so that the
//! page works with no typing and never sees the admin token:
//! - `POST /demo/session`: a bearer token, valid `TOKEN_TTL_SECONDS`, for the demo
//!   application. That app is created on first use with the outbox gateway; its id
//!   is kept in `OTP_KV` under `demo:app`; its secret and API key are drawn and
//!   thrown away, so the short-lived token is its only credential.
//! - `GET /demo/outbox?phoneNumber=…[&otpId=…]`: the outbox messages to that
//!   number sent by the caller's own application (API key or bearer token), so
//!   the page can draw the SMS without the admin API.
//!
//! In production the page is still served: it offers the offline mode, and the
//! live mode with an API key that the visitor pastes (real SMS, real gateway).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use otp_core::phone::parse_phone;
use otp_core::rng::OsRandom;
use otp_core::settings::OtpSettings;
use otp_core::time::UnixSeconds;
use serde::Serialize;
use sha2::{Digest, Sha256};
use worker::kv::KvStore;
use worker::{Context, Env, Method, Request, Response};

use crate::api::common::auth;
use crate::apps::{hash_credential, new_api_key, new_app_secret, AppRecord, AppStore};
use crate::config::is_development;
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::gateway::{read_outbox, GatewayConfig, OutboxMessage};
use crate::signing::new_webhook_secret;
use crate::{assets, http};

/// The asset of the page, served at `/demo` and `/demo/`.
const PAGE: &str = "demo.html";

/// KV key (in `OTP_KV`, development only) of the demo application's id.
const DEMO_APP_KEY: &str = "demo:app";
/// Name and brand of the demo application.
const DEMO_APP_NAME: &str = "Demo";

/// Routes `/` and `/demo/...`; `segments` is the path split on `/`.
pub(crate) async fn route(
    req: Request,
    env: Env,
    ctx: Context,
    segments: &[&str],
) -> ApiResult<Response> {
    let method = req.method();
    let read = matches!(method, Method::Get | Method::Head);
    match segments {
        [""] if read => redirect("/demo"),
        ["demo"] | ["demo", ""] if read => page(&req, &env, PAGE).await,
        ["demo", "session"] | ["demo", "outbox"] if !is_development(&env) => {
            Err(ApiError::dev_only())
        }
        ["demo", "session"] if method == Method::Post => {
            session(&RequestContext::new(&req, env, ctx)?).await
        }
        ["demo", "outbox"] if method == Method::Get => {
            outbox(&req, &RequestContext::new(&req, env, ctx)?).await
        }
        [""] | ["demo"] | ["demo", ""] | ["demo", "session" | "outbox"] => {
            Err(ApiError::method_not_allowed())
        }
        ["demo", rest @ ..] => file(&req, &env, "demo", rest, read).await,
        _ => Err(ApiError::not_found()),
    }
}

/// Whether `segment` may name a file or folder under `/demo/`: plain names only
/// (no empty, dot or percent-encoded segments), as the build script copies them.
pub(crate) fn plain_segment(segment: &str) -> bool {
    !segment.is_empty()
        && !segment.starts_with('.')
        && segment
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
}

/// `/{folder}/{rest}`: the asset `{folder}/{rest}`, read (GET, HEAD) only.
pub(crate) async fn file(
    req: &Request,
    env: &Env,
    folder: &str,
    rest: &[&str],
    read: bool,
) -> ApiResult<Response> {
    if !rest.iter().all(|s| plain_segment(s)) {
        return Err(ApiError::not_found());
    }
    let path = format!("{folder}/{}", rest.join("/"));
    let if_none_match = req.headers().get("If-None-Match").ok().flatten();
    let (method, if_none_match) = match read {
        true => (Method::Get, if_none_match.as_deref()),
        false => (Method::Head, None),
    };
    let asset = assets::fetch(env, &path, method, if_none_match)
        .await?
        .ok_or_else(ApiError::not_found)?;
    if !read {
        return Err(ApiError::method_not_allowed());
    }
    assets::reply(req, asset, assets::content_type(&path))
}

fn internal<E>(_: E) -> ApiError {
    ApiError::internal()
}

fn redirect(location: &str) -> ApiResult<Response> {
    let mut res = Response::empty().map_err(internal)?.with_status(302);
    res.headers_mut()
        .set("Location", location)
        .map_err(internal)?;
    Ok(res)
}

/// The inline import map of the page (the only inline script), for the CSP.
fn import_map(html: &str) -> Option<&str> {
    const OPEN: &str = "<script type=\"importmap\">";
    let start = html.find(OPEN)? + OPEN.len();
    let len = html[start..].find("</script>")?;
    Some(&html[start..start + len])
}

/// The page's Content-Security-Policy: scripts from this origin (plus the import
/// map, by hash) and wasm compilation; everything else from this origin only.
fn content_security_policy(html: &str) -> String {
    let map_hash = import_map(html)
        .map(|map| {
            format!(
                " 'sha256-{}'",
                STANDARD.encode(Sha256::digest(map.as_bytes()))
            )
        })
        .unwrap_or_default();
    format!(
        "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'{map_hash}; \
         style-src 'self'; img-src 'self' data:; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )
}

/// The page, with its Content-Security-Policy (computed from the page itself, so
/// that it always allows exactly its import map) and framing and referrer policies.
pub(crate) async fn page(req: &Request, env: &Env, asset: &str) -> ApiResult<Response> {
    let mut asset = assets::required(env, asset).await?;
    let tag = asset.headers().get("ETag").ok().flatten();
    let html = asset.text().await.map_err(internal)?;
    let csp = content_security_policy(&html);
    let mut page = Response::from_html(html).map_err(internal)?;
    if let Some(tag) = tag {
        page.headers_mut().set("ETag", &tag).map_err(internal)?;
    }
    let mut res = assets::reply(req, page, assets::content_type("page.html"))?;
    let headers = res.headers_mut();
    for (name, value) in [
        ("Content-Security-Policy", csp.as_str()),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
    ] {
        headers.set(name, value).map_err(internal)?;
    }
    Ok(res)
}

fn reply<T: Serialize>(value: &T) -> ApiResult<Response> {
    let mut res = crate::reply::json(value, 200).map_err(internal)?;
    res.headers_mut()
        .set("Cache-Control", "no-store")
        .map_err(internal)?;
    Ok(res)
}

/// Body of `POST /demo/session`: the `POST /oauth/token` reply plus the app's id.
#[derive(Serialize)]
struct Session {
    access_token: String,
    token_type: &'static str,
    expires_in: u32,
    scope: &'static str,
    app_id: String,
}

/// `POST /demo/session` (development only): a bearer token for the demo app.
async fn session(rc: &RequestContext) -> ApiResult<Response> {
    let (config, now) = (&rc.config, rc.now);
    let app = demo_app(&rc.bindings.kv, now).await?;
    reply(&Session {
        access_token: auth::issue_browser_token(config, &app, now),
        token_type: "Bearer",
        expires_in: config.token_ttl,
        scope: "otp:read otp:write",
        app_id: app.app_id,
    })
}

/// The demo application: the one named by `demo:app` while it exists and still
/// sends to the outbox, else a new one.
async fn demo_app(kv: &KvStore, now: UnixSeconds) -> ApiResult<AppRecord> {
    let apps = AppStore::new(kv.clone());
    if let Some(id) = kv.get(DEMO_APP_KEY).text().await? {
        if let Some(app) = apps.get(id.trim()).await? {
            if app.gateway == GatewayConfig::Outbox {
                return Ok(app);
            }
        }
    }
    let app = AppRecord {
        turnstile: None,
        fraud_guard: Default::default(),
        policy: Default::default(),
        app_id: otp_core::id::new_uuid_v4(&mut OsRandom),
        name: DEMO_APP_NAME.to_owned(),
        // Drawn and forgotten: the demo app is used through session tokens only.
        secret_hash: hash_credential(&new_app_secret()),
        api_key_hash: hash_credential(&new_api_key()),
        secret_version: 1,
        webhook_secret: new_webhook_secret(),
        gateway: GatewayConfig::Outbox,
        routes: Vec::new(),
        receipt_token_version: 0,
        otp: OtpSettings {
            brand: DEMO_APP_NAME.to_owned(),
            ..OtpSettings::default()
        },
        dexatel: Default::default(),
        limits: Default::default(),
        created_at: now,
        updated_at: now,
    };
    apps.put(&app).await?;
    kv.put(DEMO_APP_KEY, app.app_id.clone())?.execute().await?;
    Ok(app)
}

#[derive(Serialize)]
struct Outbox {
    data: Vec<OutboxMessage>,
}

/// `GET /demo/outbox?phoneNumber=…[&countryIso=…][&otpId=…]` (development only):
/// the caller's own messages to that number, newest first.
async fn outbox(req: &Request, rc: &RequestContext) -> ApiResult<Response> {
    let who = auth::authenticate(req, rc).await?;
    who.scopes.require(false)?;
    let phone = http::query_param(req, "phoneNumber").ok_or_else(ApiError::invalid_query)?;
    let phone = parse_phone(&phone, http::query_param(req, "countryIso").as_deref())?;
    let otp_id = http::query_param(req, "otpId");
    let data = read_outbox(&rc.env, phone.e164(), usize::MAX)
        .await?
        .into_iter()
        .filter(|m| m.app_id == who.app.app_id)
        .filter(|m| otp_id.as_ref().is_none_or(|id| *id == m.otp_id))
        .collect();
    reply(&Outbox { data })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The page as the build script copies it into the assets.
    const INDEX: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/index.html"));

    #[test]
    fn the_page_has_one_import_map_and_the_csp_allows_exactly_it() {
        let map = import_map(INDEX).expect("demo/index.html has an import map");
        assert!(map.contains("\"otp-sms-verify\": \"/demo/pkg/dist/index.js\""));
        assert!(map.contains("\"#wasm\": \"/demo/pkg/dist/load-browser.js\""));
        let csp = content_security_policy(INDEX);
        let hash = STANDARD.encode(Sha256::digest(map.as_bytes()));
        assert!(csp.contains(&format!("'sha256-{hash}'")), "{csp}");
        assert!(!csp.contains("unsafe-inline"));
        assert_eq!(
            INDEX.matches("<script").count(),
            2,
            "the import map and app.js"
        );
    }

    #[test]
    fn every_file_the_page_references_has_a_plain_path() {
        for reference in INDEX.split("\"/demo/").skip(1) {
            let path = &reference[..reference.find('"').unwrap()];
            assert!(path.split('/').all(plain_segment), "{path}");
        }
        for bad in ["", ".", "..", ".env", "a%2Fb", "a b", "app.js?x"] {
            assert!(!plain_segment(bad), "{bad:?}");
        }
    }
}
