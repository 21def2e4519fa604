//! Authentication of applications: `X-API-KEY`, or `Authorization: Bearer` with a
//! token from `POST /oauth/token` (client credentials). Tokens are signed
//! (HMAC-SHA256 under `TOKEN_KEY`) and carry their expiry, so checking one needs
//! no storage round trip; the app record, which the request needs anyway, then
//! tells whether the secret was rotated since (a rotation revokes old tokens).
//!
//! A made-up or revoked API key, or an unknown application id in HTTP Basic, is
//! remembered as such by the isolate for a few seconds ([`AppStore::by_api_key`],
//! [`AppStore::get_for_sign_in`]): sent again, it costs no KV read. Nothing locks
//! an address out: a customer's servers share one with all its users.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use otp_core::secret::{constant_time_eq, hmac_sha256};
use otp_core::time::UnixSeconds;
use serde::{Deserialize, Serialize};
use worker::{Request, Response};

use crate::apps::{hash_credential, AppRecord, AppStore};
use crate::config::Config;
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::http;

/// What a caller may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scopes {
    /// `otp:read`: read OTPs.
    pub(crate) read: bool,
    /// `otp:write`: create, verify and cancel OTPs.
    pub(crate) write: bool,
}

impl Scopes {
    const ALL: Scopes = Scopes {
        read: true,
        write: true,
    };

    /// Parses a space-separated OAuth scope; absent or empty means all scopes.
    fn parse(scope: Option<&str>) -> ApiResult<Scopes> {
        let Some(scope) = scope.map(str::trim).filter(|s| !s.is_empty()) else {
            return Ok(Scopes::ALL);
        };
        let mut scopes = Scopes {
            read: false,
            write: false,
        };
        for s in scope.split_ascii_whitespace() {
            match s {
                "otp:read" => scopes.read = true,
                "otp:write" => scopes.write = true,
                "otp" => scopes = Scopes::ALL,
                _ => return Err(ApiError::oauth_invalid_scope()),
            }
        }
        Ok(scopes)
    }

    fn as_string(self) -> String {
        match (self.read, self.write) {
            (true, true) => "otp:read otp:write",
            (true, false) => "otp:read",
            (false, true) => "otp:write",
            (false, false) => "",
        }
        .to_owned()
    }

    /// Refuses with 403 unless `needed` is granted.
    pub(crate) fn require(self, write: bool) -> ApiResult<()> {
        if (write && self.write) || (!write && self.read) {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope())
        }
    }
}

/// The signed content of a bearer token.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
struct Claims {
    /// Application id.
    app: String,
    /// Expiry, Unix seconds.
    exp: UnixSeconds,
    /// Granted scopes, space separated.
    scp: String,
    /// The application's secret version when the token was issued.
    ver: u32,
    /// Issued to a browser (the demo's session), not to a server: the caller's
    /// own address is then the end user's.
    #[serde(default, skip_serializing_if = "is_false")]
    brw: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

const TOKEN_PREFIX: &str = "v1.";

fn sign(key: &[u8], payload: &str) -> String {
    URL_SAFE_NO_PAD.encode(hmac_sha256(key, &[b"otp-token.", payload.as_bytes()]))
}

fn encode_token(key: &[u8], claims: &Claims) -> String {
    let payload = URL_SAFE_NO_PAD.encode(serde_json::to_vec(claims).unwrap_or_default());
    format!("{TOKEN_PREFIX}{payload}.{}", sign(key, &payload))
}

/// The claims of a well-signed token (expired or not); `None` when tampered or malformed.
fn decode_token(key: &[u8], token: &str) -> Option<Claims> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (payload, signature) = rest.split_once('.')?;
    if !constant_time_eq(sign(key, payload).as_bytes(), signature.as_bytes()) {
        return None;
    }
    serde_json::from_str(std::str::from_utf8(&URL_SAFE_NO_PAD.decode(payload).ok()?).ok()?).ok()
}

/// An authenticated application and what it may do.
pub(crate) struct Principal {
    pub(crate) app: AppRecord,
    pub(crate) scopes: Scopes,
    /// The end user's address for the per-IP caps (see [`crate::context::EndUser`]).
    pub(crate) end_user_ip: Option<String>,
}

fn header(req: &Request, name: &str) -> Option<String> {
    req.headers().get(name).ok().flatten()
}

/// Authenticates the caller by `X-API-KEY` or a bearer token.
pub(crate) async fn authenticate(req: &Request, rc: &RequestContext) -> ApiResult<Principal> {
    let (config, now) = (&rc.config, rc.now);
    let apps = AppStore::new(rc.bindings.kv.clone());
    if let Some(key) = header(req, "X-API-KEY") {
        let app = apps
            .by_api_key(key.trim())
            .await?
            .ok_or_else(ApiError::invalid_credentials)?;
        return Ok(Principal {
            app,
            scopes: Scopes::ALL,
            end_user_ip: rc.end_user.ip(false)?,
        });
    }
    let auth = header(req, "Authorization").ok_or_else(ApiError::unauthenticated)?;
    let token = auth
        .strip_prefix("Bearer ")
        .or_else(|| auth.strip_prefix("bearer "))
        .map(str::trim)
        .ok_or_else(ApiError::unauthenticated)?;
    let claims =
        decode_token(&config.token_key, token).ok_or_else(ApiError::invalid_credentials)?;
    if now >= claims.exp {
        return Err(ApiError::token_expired());
    }
    let app = apps
        .get_recent(&claims.app)
        .await?
        .filter(|app| app.secret_version == claims.ver)
        .ok_or_else(ApiError::invalid_credentials)?;
    let scopes = Scopes::parse(Some(&claims.scp)).map_err(|_| ApiError::invalid_credentials())?;
    Ok(Principal {
        app,
        scopes,
        end_user_ip: rc.end_user.ip(claims.brw)?,
    })
}

/// `Authorization: Basic base64(appId:appSecret)` → (appId, appSecret).
fn basic_credentials(req: &Request) -> Option<(String, String)> {
    let auth = header(req, "Authorization")?;
    let encoded = auth
        .strip_prefix("Basic ")
        .or_else(|| auth.strip_prefix("basic "))?;
    let decoded = String::from_utf8(STANDARD.decode(encoded.trim()).ok()?).ok()?;
    let (id, secret) = decoded.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

#[derive(Serialize)]
struct TokenReply {
    access_token: String,
    token_type: &'static str,
    expires_in: u32,
    scope: String,
}

/// `POST /oauth/token`: the client-credentials grant.
pub(crate) async fn token(mut req: Request, rc: &RequestContext) -> ApiResult<Response> {
    let (config, now) = (&rc.config, rc.now);
    let credentials = basic_credentials(&req);
    let form = http::form_body(&mut req).await?;
    let field = |name: &str| {
        form.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    };
    match field("grant_type") {
        None => return Err(ApiError::oauth_invalid_request()),
        Some("client_credentials") => {}
        Some(_) => return Err(ApiError::oauth_unsupported_grant_type()),
    }
    let scopes = Scopes::parse(field("scope"))?;
    let (app_id, secret) = credentials.ok_or_else(ApiError::oauth_invalid_client)?;
    let app = AppStore::new(rc.bindings.kv.clone())
        .get_for_sign_in(&app_id)
        .await?
        .ok_or_else(ApiError::oauth_invalid_client)?;
    if !constant_time_eq(
        hash_credential(&secret).as_bytes(),
        app.secret_hash.as_bytes(),
    ) {
        return Err(ApiError::oauth_invalid_client());
    }
    let claims = Claims {
        app: app.app_id,
        exp: now + i64::from(config.token_ttl),
        scp: scopes.as_string(),
        ver: app.secret_version,
        brw: false,
    };
    let reply = TokenReply {
        access_token: encode_token(&config.token_key, &claims),
        token_type: "Bearer",
        expires_in: config.token_ttl,
        scope: claims.scp,
    };
    let mut res = crate::reply::json(&reply, 200).map_err(|_| ApiError::internal())?;
    let _ = res.headers_mut().set("Cache-Control", "no-store");
    Ok(res)
}

/// A bearer token for `app` with every scope, as `POST /oauth/token` issues it, for
/// a browser that a caller vouched for (the development demo session): the per-IP
/// caps apply to the address its requests come from.
pub(crate) fn issue_browser_token(config: &Config, app: &AppRecord, now: UnixSeconds) -> String {
    let claims = Claims {
        app: app.app_id.clone(),
        exp: now + i64::from(config.token_ttl),
        scp: Scopes::ALL.as_string(),
        ver: app.secret_version,
        brw: true,
    };
    encode_token(&config.token_key, &claims)
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"token-key-token-key-token-key";

    fn claims() -> Claims {
        Claims {
            app: "123e4567-e89b-42d3-a456-426614174000".into(),
            exp: 1_700_000_000,
            scp: "otp:read".into(),
            ver: 2,
            brw: false,
        }
    }

    #[test]
    fn tokens_round_trip_under_the_same_key() {
        let token = encode_token(KEY, &claims());
        assert!(token.starts_with("v1."));
        assert_eq!(decode_token(KEY, &token), Some(claims()));
    }

    #[test]
    fn tampered_or_foreign_tokens_are_refused() {
        let token = encode_token(KEY, &claims());
        assert_eq!(decode_token(b"another-key-another-key", &token), None);
        let (head, sig) = token.rsplit_once('.').unwrap();
        let forged_payload = URL_SAFE_NO_PAD
            .encode(br#"{"app":"x","exp":9999999999,"scp":"otp:read otp:write","ver":2}"#);
        assert_eq!(
            decode_token(KEY, &format!("v1.{forged_payload}.{sig}")),
            None
        );
        assert_eq!(decode_token(KEY, &format!("{head}.{}", &sig[1..])), None);
        assert_eq!(decode_token(KEY, "garbage"), None);
    }

    #[test]
    fn scopes_parse_and_default_to_all() {
        assert_eq!(Scopes::parse(None).unwrap(), Scopes::ALL);
        assert_eq!(
            Scopes::parse(Some("otp:read")).unwrap(),
            Scopes {
                read: true,
                write: false
            }
        );
        assert_eq!(
            Scopes::parse(Some("admin")).unwrap_err(),
            ApiError::oauth_invalid_scope()
        );
        assert!(Scopes {
            read: true,
            write: false
        }
        .require(true)
        .is_err());
    }
}
