//! The browser demo at `/demo` (`/` redirects there): one page that runs the whole
//! verification flow, either against this worker's SMS.CX API ("live") or entirely
//! in the browser with the npm package's wasm core and `MemoryStore` ("offline").
//!
//! The page (`demo/`), and the package's browser build it imports (`pkg/dist/*.js`
//! and `pkg/wasm/`, made by `scripts/build-pkg.sh`), are embedded in the worker:
//! serving them needs no binding, secret or configuration.
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
use otp_core::secret::to_hex;
use otp_core::settings::OtpSettings;
use otp_core::time::UnixSeconds;
use serde::Serialize;
use sha2::{Digest, Sha256};
use worker::kv::KvStore;
use worker::{Env, Method, Request, Response};

use crate::apps::{hash_credential, new_api_key, new_app_secret, AppRecord, AppStore};
use crate::config::{self, is_development, Config};
use crate::error::{ApiError, ApiResult};
use crate::gateway::{read_outbox, GatewayConfig, OutboxMessage};
use crate::signing::new_webhook_secret;
use crate::{auth, http};

/// One embedded file under `/demo/`.
struct Asset {
    /// Path after `/demo/`.
    path: &'static str,
    content_type: &'static str,
    body: &'static [u8],
}

const JS: &str = "text/javascript; charset=utf-8";

/// `Asset` for `path` from the repository file `file`.
macro_rules! asset {
    ($path:literal, $file:literal, $type:expr) => {
        Asset {
            path: $path,
            content_type: $type,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../", $file)),
        }
    };
}

/// The page itself, served at `/demo`.
const INDEX: &str = include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../demo/index.html"));

/// Everything else the page loads.
const ASSETS: &[Asset] = &[
    asset!("demo.css", "demo/demo.css", "text/css; charset=utf-8"),
    asset!("app.js", "demo/app.js", JS),
    asset!("backends.js", "demo/backends.js", JS),
    asset!("pin-input.js", "demo/pin-input.js", JS),
    asset!("log.js", "demo/log.js", JS),
    asset!("favicon.svg", "demo/favicon.svg", "image/svg+xml"),
    // The npm package's ESM build for browsers (its `#wasm` is load-browser.js).
    asset!("pkg/dist/index.js", "pkg/dist/index.js", JS),
    asset!("pkg/dist/core.js", "pkg/dist/core.js", JS),
    asset!("pkg/dist/errors.js", "pkg/dist/errors.js", JS),
    asset!("pkg/dist/service.js", "pkg/dist/service.js", JS),
    asset!("pkg/dist/stores.js", "pkg/dist/stores.js", JS),
    asset!("pkg/dist/callback.js", "pkg/dist/callback.js", JS),
    asset!("pkg/dist/client.js", "pkg/dist/client.js", JS),
    asset!("pkg/dist/load-browser.js", "pkg/dist/load-browser.js", JS),
    asset!("pkg/wasm/otp_core.js", "pkg/wasm/otp_core.js", JS),
    asset!(
        "pkg/wasm/otp_core_bg.wasm",
        "pkg/wasm/otp_core_bg.wasm",
        "application/wasm"
    ),
];

/// KV key (in `OTP_KV`, development only) of the demo application's id.
const DEMO_APP_KEY: &str = "demo:app";
/// Name and brand of the demo application.
const DEMO_APP_NAME: &str = "Demo";

/// Routes `/` and `/demo/...`; `segments` is the path split on `/`.
pub(crate) async fn route(req: Request, env: Env, segments: &[&str]) -> ApiResult<Response> {
    let method = req.method();
    let read = matches!(method, Method::Get | Method::Head);
    match segments {
        [""] if read => redirect("/demo"),
        ["demo"] | ["demo", ""] if read => page(&req),
        ["demo", "session"] | ["demo", "outbox"] if !is_development(&env) => {
            Err(ApiError::dev_only())
        }
        ["demo", "session"] if method == Method::Post => session(&req, &env).await,
        ["demo", "outbox"] if method == Method::Get => outbox(&req, &env).await,
        [""] | ["demo"] | ["demo", ""] | ["demo", "session" | "outbox"] => {
            Err(ApiError::method_not_allowed())
        }
        ["demo", rest @ ..] => {
            let path = rest.join("/");
            let asset = ASSETS
                .iter()
                .find(|a| a.path == path)
                .ok_or_else(ApiError::not_found)?;
            if !read {
                return Err(ApiError::method_not_allowed());
            }
            serve(&req, asset.body, asset.content_type)
        }
        _ => Err(ApiError::not_found()),
    }
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

/// A strong ETag of `body`.
fn etag(body: &[u8]) -> String {
    format!("\"{}\"", &to_hex(&Sha256::digest(body))[..32])
}

/// Whether `If-None-Match` names `tag` (or is `*`).
fn not_modified(req: &Request, tag: &str) -> bool {
    let Some(header) = req.headers().get("If-None-Match").ok().flatten() else {
        return false;
    };
    header
        .split(',')
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == tag || t == "*")
}

/// An embedded file, revalidated on every use (`no-cache` + ETag), so a rebuilt
/// worker serves new files at once.
fn serve(req: &Request, body: &'static [u8], content_type: &str) -> ApiResult<Response> {
    let tag = etag(body);
    let mut res = if not_modified(req, &tag) {
        Response::empty().map_err(internal)?.with_status(304)
    } else {
        Response::from_bytes(body.to_vec()).map_err(internal)?
    };
    let headers = res.headers_mut();
    for (name, value) in [
        ("Content-Type", content_type),
        ("ETag", &tag),
        ("Cache-Control", "no-cache"),
        ("X-Content-Type-Options", "nosniff"),
    ] {
        headers.set(name, value).map_err(internal)?;
    }
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

fn page(req: &Request) -> ApiResult<Response> {
    let mut res = serve(req, INDEX.as_bytes(), "text/html; charset=utf-8")?;
    let headers = res.headers_mut();
    for (name, value) in [
        ("Content-Security-Policy", content_security_policy(INDEX)),
        ("Referrer-Policy", "no-referrer".to_owned()),
        ("X-Frame-Options", "DENY".to_owned()),
    ] {
        headers.set(name, &value).map_err(internal)?;
    }
    Ok(res)
}

fn reply<T: Serialize>(value: &T) -> ApiResult<Response> {
    let mut res = http::json(value, 200).map_err(internal)?;
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
async fn session(req: &Request, env: &Env) -> ApiResult<Response> {
    let config = Config::from_env(env)?;
    let now = config::now(req, env);
    let app = demo_app(env, now).await?;
    reply(&Session {
        access_token: auth::issue_token(&config, &app, now),
        token_type: "Bearer",
        expires_in: config.token_ttl,
        scope: "otp:read otp:write",
        app_id: app.app_id,
    })
}

/// The demo application: the one named by `demo:app` while it exists and still
/// sends to the outbox, else a new one.
async fn demo_app(env: &Env, now: UnixSeconds) -> ApiResult<AppRecord> {
    let kv: KvStore = crate::kv(env)?;
    let apps = AppStore::new(crate::kv(env)?);
    if let Some(id) = kv.get(DEMO_APP_KEY).text().await? {
        if let Some(app) = apps.get(id.trim()).await? {
            if app.gateway == GatewayConfig::Outbox {
                return Ok(app);
            }
        }
    }
    let app = AppRecord {
        app_id: otp_core::id::new_uuid_v4(&mut OsRandom),
        name: DEMO_APP_NAME.to_owned(),
        // Drawn and forgotten: the demo app is used through session tokens only.
        secret_hash: hash_credential(&new_app_secret()),
        api_key_hash: hash_credential(&new_api_key()),
        secret_version: 1,
        webhook_secret: new_webhook_secret(),
        gateway: GatewayConfig::Outbox,
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
async fn outbox(req: &Request, env: &Env) -> ApiResult<Response> {
    let config = Config::from_env(env)?;
    let now = config::now(req, env);
    let who = auth::authenticate(req, env, &config, now).await?;
    who.scopes.require(false)?;
    let phone = http::query_param(req, "phoneNumber").ok_or_else(ApiError::invalid_query)?;
    let phone = parse_phone(&phone, http::query_param(req, "countryIso").as_deref())?;
    let otp_id = http::query_param(req, "otpId");
    let data = read_outbox(env, phone.e164(), usize::MAX)
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
    fn assets_have_unique_paths_and_every_page_reference_exists() {
        for (i, a) in ASSETS.iter().enumerate() {
            assert!(!a.body.is_empty(), "{} is empty", a.path);
            assert!(
                ASSETS[i + 1..].iter().all(|b| b.path != a.path),
                "{}",
                a.path
            );
        }
        for reference in INDEX.split("\"/demo/").skip(1) {
            let path = &reference[..reference.find('"').unwrap()];
            assert!(
                ASSETS.iter().any(|a| a.path == path),
                "{path} is referenced by index.html but not served"
            );
        }
    }

    #[test]
    fn etags_are_quoted_and_depend_on_the_body() {
        let tag = etag(b"hello");
        assert_eq!(tag.len(), 34);
        assert!(tag.starts_with('"') && tag.ends_with('"'));
        assert_ne!(tag, etag(b"hello!"));
    }
}
