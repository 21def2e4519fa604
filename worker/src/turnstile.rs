//! Cloudflare Turnstile for browser-facing integrations (optional, per app): when
//! an application sets `turnstile`, every send must carry a Turnstile token in
//! `X-Turnstile-Token` (both dialects), verified server-side with the siteverify
//! endpoint before anything is stored or sent. The endpoint's URL is a setting
//! (tests use a local fake; a private host is allowed in development only).

use std::time::Duration;

use otp_core::settings::{check_callback_url, PrivateHosts};
use serde::{Deserialize, Serialize};

use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::gateway::fetch::{self, PostRequest};

/// The header that carries the token.
pub(crate) const TOKEN_HEADER: &str = "X-Turnstile-Token";
/// Cloudflare's siteverify endpoint.
pub(crate) const SITEVERIFY_URL: &str = "https://challenges.cloudflare.com/turnstile/v0/siteverify";
/// Turnstile tokens are at most 2048 characters.
const MAX_TOKEN_CHARS: usize = 2048;
/// How long siteverify may take.
const TIMEOUT: Duration = Duration::from_millis(5_000);

/// An application's Turnstile settings (`turnstile` in the admin API; `null`: off).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct TurnstileSettings {
    /// The widget's secret key (never shown by the admin API).
    pub(crate) secret: String,
    /// The siteverify endpoint (default Cloudflare's).
    #[serde(default = "default_url")]
    pub(crate) siteverify_url: String,
}

fn default_url() -> String {
    SITEVERIFY_URL.to_owned()
}

/// What the admin API shows of the settings: whether they are on, and the URL.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TurnstileView<'a> {
    enabled: bool,
    siteverify_url: &'a str,
}

impl TurnstileSettings {
    /// Checks the settings: a secret, and a usable https URL.
    pub(crate) fn validate(&self, private: PrivateHosts) -> ApiResult<()> {
        let secret = self.secret.trim();
        if secret.is_empty() || secret.len() > 256 {
            return Err(ApiError::turnstile_settings_invalid());
        }
        check_callback_url(&self.siteverify_url, private)
            .map_err(|_| ApiError::turnstile_settings_invalid())
    }

    /// The admin view (no secret).
    pub(crate) fn view(&self) -> TurnstileView<'_> {
        TurnstileView {
            enabled: true,
            siteverify_url: &self.siteverify_url,
        }
    }
}

#[derive(Deserialize)]
struct Siteverify {
    success: bool,
}

/// Verifies the request's token under `settings`: missing or malformed is 400
/// (1033), refused by siteverify 403 (1034), siteverify unreachable 503 (1035).
pub(crate) async fn verify(
    rc: &RequestContext,
    settings: &TurnstileSettings,
    end_user_ip: Option<&str>,
) -> ApiResult<()> {
    let token = rc
        .turnstile_token
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(ApiError::turnstile_token_invalid)?;
    if token.len() > MAX_TOKEN_CHARS || !token.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(ApiError::turnstile_token_invalid());
    }
    check_callback_url(&settings.siteverify_url, rc.config.private_hosts)
        .map_err(|_| ApiError::turnstile_unavailable())?;
    let mut form = vec![("secret", settings.secret.as_str()), ("response", token)];
    // An IPv4 end user as is (an IPv6 one is known by its /64 only).
    if let Some(ip) = end_user_ip.filter(|ip| !ip.contains('/')) {
        form.push(("remoteip", ip));
    }
    let body = serde_urlencoded::to_string(&form).map_err(|_| ApiError::internal())?;
    let request = PostRequest {
        url: settings.siteverify_url.clone(),
        headers: vec![(
            "Content-Type",
            "application/x-www-form-urlencoded".to_owned(),
        )],
        body,
    };
    let reply = fetch::post(&request, TIMEOUT)
        .await
        .map_err(|_| ApiError::turnstile_unavailable())?;
    match serde_json::from_str::<Siteverify>(&reply.body) {
        Ok(Siteverify { success: true }) if reply.status == 200 => Ok(()),
        Ok(_) => Err(ApiError::turnstile_failed()),
        Err(_) => Err(ApiError::turnstile_unavailable()),
    }
}
