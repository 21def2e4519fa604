//! Applications: the tenants of the service. Each holds its OTP defaults, its SMS
//! gateway choice and its credentials, stored in KV with the secret and API key
//! as SHA-256 hashes only (both are 192+ random bits, so a plain hash is enough).

use crate::recent::{now_ms, Recent};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use otp_core::app_policy::AppPolicy;
use otp_core::fraud::FraudSettings;
use otp_core::guard::GuardSettings;
use otp_core::limits::SendPolicy;
use otp_core::rng::{OsRandom, RandomSource};
use otp_core::settings::OtpSettings;
use otp_core::template::{hidden_char, TextKind};
use otp_core::time::UnixSeconds;
use std::cell::RefCell;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use worker::kv::KvStore;

use crate::error::{ApiError, ApiResult};
use crate::gateway::routes::{self, Route, RouteError};
use crate::gateway::GatewayConfig;
use crate::turnstile::{TurnstileSettings, TurnstileView};

/// Prefix of API keys, so that leaked keys are easy to recognise and scan for.
pub(crate) const API_KEY_PREFIX: &str = "otpk_";

/// One application as stored in KV under `app:{appId}`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppRecord {
    pub(crate) app_id: String,
    pub(crate) name: String,
    /// SHA-256 (hex) of the application secret.
    pub(crate) secret_hash: String,
    /// SHA-256 (hex) of the API key.
    pub(crate) api_key_hash: String,
    /// Bumped when the secret rotates: tokens of an older version are refused.
    pub(crate) secret_version: u32,
    /// Signs status callbacks and webhook-gateway requests (Standard Webhooks).
    pub(crate) webhook_secret: String,
    pub(crate) gateway: GatewayConfig,
    /// Per destination country or prefix, the gateways (with failover) and
    /// senders; `gateway` when none matches (`crate::gateway::routes`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) routes: Vec<Route>,
    /// Version of the receipt token ([`receipt_token`]); rotating it bumps it.
    #[serde(default)]
    pub(crate) receipt_token_version: u32,
    pub(crate) otp: OtpSettings,
    /// The Dexatel dialect's per-phone guard: blocking after failed checks, the
    /// resend policy and cooldown (defaults for records stored before it existed).
    #[serde(default)]
    pub(crate) dexatel: GuardSettings,
    /// Countries, rate limits and daily budget of sending.
    #[serde(default)]
    pub(crate) limits: SendPolicy,
    /// The fraud guard against SMS pumping (`otp_core::fraud`).
    #[serde(default)]
    pub(crate) fraud_guard: FraudSettings,
    /// Lockdown of per-request overrides and the operator's test numbers
    /// (`otp_core::app_policy`).
    #[serde(default)]
    pub(crate) policy: AppPolicy,
    /// Cloudflare Turnstile for browser-facing integrations (`crate::turnstile`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) turnstile: Option<TurnstileSettings>,
    pub(crate) created_at: UnixSeconds,
    pub(crate) updated_at: UnixSeconds,
}

/// What the admin API shows of an application (never a secret or hash).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AppView<'a> {
    app_id: &'a str,
    name: &'a str,
    gateway: &'a GatewayConfig,
    routes: &'a [Route],
    otp: &'a OtpSettings,
    dexatel: &'a GuardSettings,
    limits: &'a SendPolicy,
    fraud_guard: &'a FraudSettings,
    policy: &'a AppPolicy,
    #[serde(skip_serializing_if = "Option::is_none")]
    turnstile: Option<TurnstileView<'a>>,
    date_created: String,
    date_updated: String,
}

impl AppRecord {
    /// The admin view of this application.
    pub(crate) fn view(&self) -> AppView<'_> {
        AppView {
            app_id: &self.app_id,
            name: &self.name,
            gateway: &self.gateway,
            routes: &self.routes,
            otp: &self.otp,
            dexatel: &self.dexatel,
            limits: &self.limits,
            fraud_guard: &self.fraud_guard,
            policy: &self.policy,
            turnstile: self.turnstile.as_ref().map(TurnstileSettings::view),
            date_created: otp_core::time::format_utc(self.created_at),
            date_updated: otp_core::time::format_utc(self.updated_at),
        }
    }
}

/// Checks an application name: 1-64 characters, no control, invisible or
/// direction-changing character (`otp_core::template::hidden_char` of a name).
pub(crate) fn validate_name(name: &str) -> ApiResult<()> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 64 || hidden_char(n, TextKind::Name).is_some() {
        return Err(ApiError::app_name_invalid());
    }
    Ok(())
}

/// The application's receipt token: what authenticates delivery receipts of
/// providers that do not sign them (`token=` in the receipt URL). Derived, never
/// stored: base64url of `HMAC-SHA256(HASH_KEY, "receipts." appId "." version)`
/// (256 bits); rotating it (`POST /admin/apps/{id}/rotate-receipt-token`) bumps
/// the version, so receipt URLs given out before stop working.
pub(crate) fn receipt_token(hash_key: &[u8], app: &AppRecord) -> String {
    let version = app.receipt_token_version.to_string();
    let mac = otp_core::secret::hmac_sha256(
        hash_key,
        &[
            b"receipts.",
            app.app_id.as_bytes(),
            b".",
            version.as_bytes(),
        ],
    );
    URL_SAFE_NO_PAD.encode(mac)
}

/// Checks routes with the gateway rule of the deployment (`development`: the
/// outbox allowed): a route's shape is 1040, a gateway its 3006/3007, a sender
/// the core's `from` codes.
pub(crate) fn validate_routes(list: &[Route], development: bool) -> ApiResult<()> {
    routes::validate(list, |g| g.check(development)).map_err(|e| match e {
        RouteError::Invalid(message) => ApiError::routes_invalid().with_message(message),
        RouteError::Gateway(e) => ApiError::custom(400, e.code(), "invalid_param", e.message()),
        RouteError::Sender(e) => ApiError::from(e),
    })
}

/// Lowercase hex SHA-256 of a credential.
pub(crate) fn hash_credential(credential: &str) -> String {
    otp_core::secret::to_hex(&Sha256::digest(credential.as_bytes()))
}

/// `n` random bytes from the platform CSPRNG, base64url without padding.
pub(crate) fn random_token(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    OsRandom.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A new application secret (256 bits).
pub(crate) fn new_app_secret() -> String {
    random_token(32)
}

/// A new API key (192 bits, prefixed).
pub(crate) fn new_api_key() -> String {
    format!("{API_KEY_PREFIX}{}", random_token(24))
}

fn app_key(app_id: &str) -> String {
    format!("app:{app_id}")
}

fn api_key_index(hash: &str) -> String {
    format!("apikey:{hash}")
}

thread_local! {
    /// Applications by id.
    static RECENT_APPS: RefCell<Recent<AppRecord>> = RefCell::new(Recent::new());
    /// Application ids by API-key hash.
    static RECENT_KEYS: RefCell<Recent<String>> = RefCell::new(Recent::new());
    /// Credentials that named no application when last looked up: API-key hashes
    /// (`k:`) and application ids of HTTP Basic (`a:`). A table of its own, so that
    /// made-up keys cannot push real ones out of the others.
    static UNKNOWN: RefCell<Recent<()>> = RefCell::new(Recent::new());
}

/// Whether `key` ([`UNKNOWN`]) named no application in the last [`crate::recent::RECENT_MS`].
fn known_unknown(key: &str) -> bool {
    UNKNOWN.with(|u| u.borrow().get(key, now_ms()).is_some())
}

/// Remembers that `key` names no application. Credentials are random (API keys of
/// 192 bits, UUID v4 ids) and forgotten here when stored through this isolate, so a
/// new one is never refused for having been looked up before it existed; through
/// another isolate, it may be for as long as KV takes to show it there.
fn remember_unknown(key: String) {
    UNKNOWN.with(|u| u.borrow_mut().put(&key, (), now_ms()));
}

fn forget_unknown(key: &str) {
    UNKNOWN.with(|u| u.borrow_mut().forget(key));
}

/// Applications in KV: `app:{appId}` → record, `apikey:{sha256}` → appId.
pub(crate) struct AppStore {
    kv: KvStore,
}

impl AppStore {
    /// The store over the `OTP_KV` binding.
    pub(crate) fn new(kv: KvStore) -> Self {
        AppStore { kv }
    }

    /// The application with `app_id`, if any. Ids that are not UUIDs are never looked up.
    pub(crate) async fn get(&self, app_id: &str) -> ApiResult<Option<AppRecord>> {
        if !otp_core::id::is_uuid(app_id) {
            return Ok(None);
        }
        Ok(crate::json::kv_get(&self.kv, &app_key(app_id)).await?)
    }

    /// For authentication: like [`AppStore::get`], but may answer with a record
    /// read in the last [`crate::recent::RECENT_MS`].
    pub(crate) async fn get_recent(&self, app_id: &str) -> ApiResult<Option<AppRecord>> {
        let now = now_ms();
        if let Some(app) = RECENT_APPS.with(|r| r.borrow().get(app_id, now)) {
            return Ok(Some(app));
        }
        let app = self.get(app_id).await?;
        if let Some(app) = &app {
            RECENT_APPS.with(|r| r.borrow_mut().put(app_id, app.clone(), now));
        }
        Ok(app)
    }

    /// For a sign-in by application id (HTTP Basic): like [`AppStore::get`], but an
    /// id that named no application in the last [`crate::recent::RECENT_MS`] is
    /// refused without a KV read.
    pub(crate) async fn get_for_sign_in(&self, app_id: &str) -> ApiResult<Option<AppRecord>> {
        let unknown = format!("a:{app_id}");
        if known_unknown(&unknown) {
            return Ok(None);
        }
        let app = self.get(app_id).await?;
        if app.is_none() {
            remember_unknown(unknown);
        }
        Ok(app)
    }

    /// The application whose API key is `api_key`, if any (for authentication:
    /// may answer from what was read in the last [`crate::recent::RECENT_MS`],
    /// a key that named no application included).
    pub(crate) async fn by_api_key(&self, api_key: &str) -> ApiResult<Option<AppRecord>> {
        if !api_key.starts_with(API_KEY_PREFIX) || api_key.len() > 128 {
            return Ok(None);
        }
        let hash = hash_credential(api_key);
        let unknown = format!("k:{hash}");
        if known_unknown(&unknown) {
            return Ok(None);
        }
        let now = now_ms();
        let app_id = match RECENT_KEYS.with(|r| r.borrow().get(&hash, now)) {
            Some(app_id) => app_id,
            None => {
                crate::ops::count(|o| o.kv_reads += 1);
                let Some(app_id) = self.kv.get(&api_key_index(&hash)).text().await? else {
                    remember_unknown(unknown);
                    return Ok(None);
                };
                RECENT_KEYS.with(|r| r.borrow_mut().put(&hash, app_id.clone(), now));
                app_id
            }
        };
        // The index can lag a rotation (KV is eventually consistent): trust the record.
        let app = self.get_recent(&app_id).await?.filter(|app| {
            otp_core::secret::constant_time_eq(app.api_key_hash.as_bytes(), hash.as_bytes())
        });
        if app.is_none() {
            remember_unknown(unknown);
        }
        Ok(app)
    }

    /// Stores `app` (create or update).
    pub(crate) async fn put(&self, app: &AppRecord) -> ApiResult<()> {
        let json = serde_json::to_string(app).map_err(|_| ApiError::internal())?;
        crate::ops::count(|o| o.kv_writes += 1);
        let written = self.kv.put(&app_key(&app.app_id), json)?.execute().await;
        // After the write, so a read racing with it cannot keep the old record.
        RECENT_APPS.with(|r| r.borrow_mut().forget(&app.app_id));
        forget_unknown(&format!("a:{}", app.app_id));
        Ok(written?)
    }

    /// Points the API-key index at `app`.
    pub(crate) async fn index_api_key(&self, app: &AppRecord) -> ApiResult<()> {
        let written = self
            .kv
            .put(&api_key_index(&app.api_key_hash), app.app_id.clone())?
            .execute()
            .await;
        RECENT_KEYS.with(|r| r.borrow_mut().forget(&app.api_key_hash));
        forget_unknown(&format!("k:{}", app.api_key_hash));
        Ok(written?)
    }

    /// Removes an API-key index entry.
    pub(crate) async fn unindex_api_key(&self, api_key_hash: &str) -> ApiResult<()> {
        let deleted = self.kv.delete(&api_key_index(api_key_hash)).await;
        RECENT_KEYS.with(|r| r.borrow_mut().forget(api_key_hash));
        Ok(deleted?)
    }

    /// Deletes the application and its key index (the admin API empties its objects
    /// and Dexatel lists first). The KV copies of its records expire on their own.
    pub(crate) async fn delete(&self, app: &AppRecord) -> ApiResult<()> {
        let deleted = self.kv.delete(&app_key(&app.app_id)).await;
        RECENT_APPS.with(|r| r.borrow_mut().forget(&app.app_id));
        deleted?;
        self.unindex_api_key(&app.api_key_hash).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refuse_control_invisible_and_direction_changing_characters() {
        for ok in ["Acme", " Zoé & Co ", "ヤマト運輸", &"x".repeat(64)] {
            assert_eq!(validate_name(ok), Ok(()), "{ok:?}");
        }
        for bad in [
            "",
            "  ",
            &"x".repeat(65),
            "Ac\nme",
            "Acme\u{202E}gnp",
            "Ac\u{200B}me",
            "\u{2067}Acme",
            "Acme\u{E0041}",
        ] {
            assert_eq!(
                validate_name(bad),
                Err(ApiError::app_name_invalid()),
                "{bad:?}"
            );
        }
    }
}
