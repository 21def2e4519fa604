//! The admin API, guarded by the `ADMIN_TOKEN` secret: applications (create,
//! read, update, delete, rotate credentials), the insights ([`insights`]: stats,
//! verifications, events) and, in development, the SMS outbox and the insights
//! sweep at a given time.

mod console;
mod fraud;
mod gateway;
mod insights;
mod session;
mod webhooks;

use otp_core::app_policy::AppPolicy;
use otp_core::fraud::FraudSettings;
use otp_core::guard::GuardSettings;
use otp_core::limits::SendPolicy;
use otp_core::phone::parse_phone;
use otp_core::secret::constant_time_eq;
use otp_core::settings::{OtpSettings, PrivateHosts};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::{Method, Request, Response};

use crate::apps::{
    hash_credential, new_api_key, new_app_secret, receipt_token, validate_name, validate_routes,
    AppRecord, AppStore,
};
use crate::config::is_development;
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::gateway::{read_outbox, GatewayConfig};
use crate::http;
use crate::limiter::{admin_bucket, admin_failure, RateLimits, ADMIN_LIMITER};
use crate::service::shard::{ShardOp, ShardReply, ShardRequest};
use crate::signing::new_webhook_secret;
use crate::turnstile::TurnstileSettings;

/// The routes under `/admin/`; `rest` are the path segments after `admin`.
pub(crate) async fn routes(
    mut req: Request,
    rc: &RequestContext,
    rest: &[&str],
) -> ApiResult<Response> {
    let method = req.method();
    if rest == ["session"] {
        return session::route(req, rc).await;
    }
    require_admin(&req, rc).await?;
    let apps = AppStore::new(rc.bindings.kv.clone());
    match (rest, method) {
        (["apps"], Method::Get) => console::list_apps(&req, rc).await,
        (["apps", id, kind @ ("templates" | "senders"), items @ ..], _) => {
            let app = load(&apps, id).await?;
            crate::api::dexatel::admin_items(req, rc, &app, kind, items).await
        }
        (["apps", id, "test-otp"], Method::Post) => {
            let app = load(&apps, id).await?;
            console::test_otp(rc, &app, http::json_body(&mut req).await?).await
        }
        (["apps", id, "gateway"], Method::Get) => gateway::status(rc, &load(&apps, id).await?),
        (["apps", id, "test-sms"], Method::Post) => {
            let body = http::json_body(&mut req).await?;
            gateway::test_sms(rc, &load(&apps, id).await?, body).await
        }
        (["apps", id, "webhooks", "test"], Method::Post) => {
            let body = http::json_body(&mut req).await?;
            webhooks::test(rc, &load(&apps, id).await?, body).await
        }
        (["apps", id, "webhooks", "deliveries"], Method::Get) => {
            webhooks::deliveries(rc, &load(&apps, id).await?).await
        }
        (["blocks"], Method::Get) => fraud::all_blocks(&req, rc).await,
        (["overview"], Method::Get) => console::overview(&req, rc).await,
        (["apps"], Method::Post) => create_app(rc, &apps, http::json_body(&mut req).await?).await,
        (["apps", id], Method::Get) => get_app(&apps, id).await,
        (["apps", id], Method::Patch) => {
            update_app(rc, &apps, id, http::json_body(&mut req).await?).await
        }
        (["apps", id], Method::Delete) => delete_app(rc, &apps, id).await,
        (["apps", id, "rotate-secret"], Method::Post) => {
            rotate(rc, &apps, id, Rotate::Secret).await
        }
        (["apps", id, "rotate-api-key"], Method::Post) => {
            rotate(rc, &apps, id, Rotate::ApiKey).await
        }
        (["apps", id, "rotate-webhook-secret"], Method::Post) => {
            rotate(rc, &apps, id, Rotate::WebhookSecret).await
        }
        (["apps", id, "rotate-receipt-token"], Method::Post) => {
            rotate(rc, &apps, id, Rotate::ReceiptToken).await
        }
        (["outbox"], Method::Get) => outbox(&req, rc).await,
        (["apps", id, "stats"], Method::Get) => insights::stats(&req, rc, Some(id)).await,
        (["stats"], Method::Get) => insights::stats(&req, rc, None).await,
        (["apps", id, "verifications"], Method::Get) => insights::verifications(&req, rc, id).await,
        (["apps", id, "verifications.csv"], Method::Get) => {
            insights::verifications_csv(&req, rc, id).await
        }
        (["apps", id, "events"], Method::Get) => insights::events(&req, rc, id).await,
        (["apps", id, "fraud"], Method::Get) => fraud::snapshot(rc, &apps, id).await,
        (["apps", id, "fraud", "blocks"], Method::Post) => {
            fraud::block(rc, &apps, id, http::json_body(&mut req).await?).await
        }
        (["apps", id, "fraud", "blocks"], Method::Delete) => {
            fraud::unblock(&req, rc, &apps, id).await
        }
        (["dev", "sweep"], Method::Post) => insights::dev_sweep(&req, rc).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// Refuses the request unless it carries `Authorization: Bearer <ADMIN_TOKEN>`
/// or the cookie of an open console session ([`session`]; then a request that
/// changes state must also carry its own `Origin`, else 403 1060). With no
/// `ADMIN_TOKEN` configured the admin API is closed.
///
/// Wrong tokens (and unknown session cookies) are throttled per client address
/// (`CF-Connecting-IP`; an IPv6 address by its /64): once an address has sent
/// [`ADMIN_FAILURES_PER_WINDOW`](crate::limiter::ADMIN_FAILURES_PER_WINDOW) wrong
/// ones in a window, every admin request from it is refused (429, 1050, with
/// `Retry-After`) before any comparison, the right token too, until the window
/// ends. One object call per admin request, two when the token is wrong (and one
/// more for a session cookie).
async fn require_admin(req: &Request, rc: &RequestContext) -> ApiResult<()> {
    let expected = rc
        .config
        .admin_token
        .as_deref()
        .ok_or_else(ApiError::admin_unauthorized)?;
    let throttle = AdminThrottle::check(rc).await?;
    let given = req.headers().get("Authorization").ok().flatten();
    if given.is_none() {
        if let Some(id) = session::cookie(req) {
            session::require_same_origin(req)?;
            if session::check(rc, &id).await?.is_some() {
                return Ok(());
            }
            throttle.count_failure(rc).await;
            return Err(ApiError::admin_unauthorized());
        }
    }
    let given = given.unwrap_or_default();
    let token = given.strip_prefix("Bearer ").unwrap_or("").trim();
    if token.is_empty() || !constant_time_eq(token.as_bytes(), expected.as_bytes()) {
        throttle.count_failure(rc).await;
        return Err(ApiError::admin_unauthorized());
    }
    Ok(())
}

/// The throttle of wrong admin tokens for the request's client address.
pub(crate) struct AdminThrottle {
    failure: crate::limiter::Take,
}

impl AdminThrottle {
    /// Refuses (429, 1050) an address that sent too many wrong tokens.
    pub(crate) async fn check(rc: &RequestContext) -> ApiResult<AdminThrottle> {
        // A person signs in from a browser or a terminal: the connecting address is
        // theirs (absent only in direct local calls, which then share one bucket).
        let address = rc.end_user.ip(true)?.unwrap_or_else(|| "unknown".into());
        let failure = admin_failure(admin_bucket(&rc.config.hash_key, &address));
        let limits = RateLimits::new(&rc.bindings.limiter);
        if let Err(refusal) = limits.check(ADMIN_LIMITER, failure.clone(), rc.now).await? {
            return Err(ApiError::admin_throttled().retry_after(u64::from(refusal.retry_after)));
        }
        Ok(AdminThrottle { failure })
    }

    /// Counts one wrong token. A take refused because concurrent failures spent
    /// the bucket first changes nothing, and neither does a failure to count (the
    /// check reached the object): the request is refused anyway.
    pub(crate) async fn count_failure(self, rc: &RequestContext) {
        let limits = RateLimits::new(&rc.bindings.limiter);
        let _ = limits.take(ADMIN_LIMITER, vec![self.failure], rc.now).await;
    }
}

fn reply<T: Serialize>(value: &T, status: u16) -> ApiResult<Response> {
    crate::reply::json(value, status).map_err(|_| ApiError::internal())
}

/// A gateway configuration refused while editing an app is bad input (400),
/// whatever status the same error has when sending.
fn gateway_error(e: crate::gateway::GatewayError) -> ApiError {
    ApiError::custom(400, e.code(), "invalid_param", e.message())
}

/// Parses and checks a gateway configuration from JSON.
fn parse_gateway(rc: &RequestContext, value: Value) -> ApiResult<GatewayConfig> {
    let gateway: GatewayConfig =
        http::from_value(&value).map_err(|_| ApiError::gateway_invalid())?;
    gateway.validate(&rc.env).map_err(gateway_error)?;
    Ok(gateway)
}

/// Parses and checks routes from JSON (a whole list: it replaces the routes).
fn parse_routes(
    rc: &RequestContext,
    value: Value,
) -> ApiResult<Vec<crate::gateway::routes::Route>> {
    let routes: Vec<crate::gateway::routes::Route> =
        http::from_value(&value).map_err(|_| ApiError::routes_invalid())?;
    validate_routes(&routes, is_development(&rc.env))?;
    Ok(routes)
}

/// Merges a JSON merge patch (RFC 7386) over `current` and checks the result:
/// a patch that is not an object, or a value that does not deserialise, is
/// `invalid`; one that does is checked by `validate` (which reports the core's
/// own codes). (A non-object patch would replace the whole settings, and serde
/// reads an array into a struct field by field, in order.)
fn patch<T: Serialize + DeserializeOwned>(
    current: &T,
    patch: Value,
    invalid: ApiError,
    validate: impl Fn(&T) -> ApiResult<()>,
) -> ApiResult<T> {
    if !patch.is_object() {
        return Err(invalid);
    }
    let mut merged = serde_json::to_value(current).map_err(|_| ApiError::internal())?;
    merge_patch(&mut merged, patch);
    let value: T = http::from_value(&merged).map_err(|_| invalid)?;
    validate(&value)?;
    Ok(value)
}

/// `private_hosts`: whether a callback URL may name a private host (development only).
fn patch_settings(
    settings: &OtpSettings,
    p: Value,
    private_hosts: PrivateHosts,
) -> ApiResult<OtpSettings> {
    patch(settings, p, ApiError::settings_invalid(), |s| {
        Ok(s.validate_with(private_hosts)?)
    })
}

fn patch_dexatel(settings: &GuardSettings, p: Value) -> ApiResult<GuardSettings> {
    patch(settings, p, ApiError::dexatel_settings_invalid(), |s| {
        s.validate()
            .map_err(|_| ApiError::dexatel_settings_invalid())
    })
}

fn patch_limits(policy: &SendPolicy, p: Value) -> ApiResult<SendPolicy> {
    patch(policy, p, ApiError::limits_invalid(), |s| Ok(s.validate()?))
}

/// Safe numbers may be given in clear: they are kept as keyed hashes and masks.
fn patch_fraud(
    rc: &RequestContext,
    settings: &FraudSettings,
    mut p: Value,
) -> ApiResult<FraudSettings> {
    fraud::hash_safe_numbers(rc, &mut p)?;
    patch(settings, p, ApiError::fraud_settings_invalid(), |s| {
        Ok(s.validate()?)
    })
}

fn patch_policy(policy: &AppPolicy, p: Value, otp: &OtpSettings) -> ApiResult<AppPolicy> {
    patch(policy, p, ApiError::policy_invalid(), |s| {
        Ok(s.validate(otp.pin_type)?)
    })
}

/// Turnstile settings (`null`: off), replaced whole: a secret is never merged.
fn parse_turnstile(rc: &RequestContext, value: Value) -> ApiResult<Option<TurnstileSettings>> {
    if value.is_null() {
        return Ok(None);
    }
    let settings: TurnstileSettings =
        http::from_value(&value).map_err(|_| ApiError::turnstile_settings_invalid())?;
    settings.validate(rc.config.private_hosts)?;
    Ok(Some(settings))
}

/// What holds across settings: a daily budget needs prices for the countries the
/// app sends to; test codes follow the app's PIN type.
fn check_app(app: &AppRecord) -> ApiResult<()> {
    app.limits.validate_with_prices(&app.otp.prices)?;
    app.policy.validate(app.otp.pin_type)?;
    Ok(())
}

fn merge_patch(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    merge_patch(t.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p,
    }
}

/// Body of `POST /admin/apps` and `PATCH /admin/apps/{id}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AppInput {
    name: Option<String>,
    gateway: Option<Value>,
    routes: Option<Value>,
    otp: Option<Value>,
    dexatel: Option<Value>,
    limits: Option<Value>,
    #[serde(rename = "fraudGuard")]
    fraud_guard: Option<Value>,
    policy: Option<Value>,
    /// `null` turns Turnstile off (kept apart from an absent field).
    #[serde(default, deserialize_with = "present")]
    turnstile: Option<Value>,
}

/// A field given, `null` included (absent is `None` by `default`).
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[derive(Serialize, Default)]
#[serde(rename_all = "camelCase")]
struct Credentials<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    app_secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    receipt_token: Option<&'a str>,
}

#[derive(Serialize)]
struct WithCredentials<'a, T: Serialize> {
    #[serde(flatten)]
    app: T,
    #[serde(flatten)]
    credentials: Credentials<'a>,
}

/// `POST /admin/apps`: a new application; its secret, API key and webhook secret
/// are shown in this reply only.
async fn create_app(rc: &RequestContext, apps: &AppStore, input: AppInput) -> ApiResult<Response> {
    let name = input.name.unwrap_or_default();
    validate_name(&name)?;
    let gateway = parse_gateway(
        rc,
        input
            .gateway
            .unwrap_or_else(|| serde_json::json!({"type": "outbox"})),
    )?;
    let otp = patch_settings(
        &OtpSettings {
            brand: name.trim().chars().take(32).collect(),
            ..OtpSettings::default()
        },
        input
            .otp
            .unwrap_or_else(|| Value::Object(Default::default())),
        rc.config.private_hosts,
    )?;
    let dexatel = match input.dexatel {
        Some(p) => patch_dexatel(&GuardSettings::default(), p)?,
        None => GuardSettings::default(),
    };
    let limits = match input.limits {
        Some(p) => patch_limits(&SendPolicy::default(), p)?,
        None => SendPolicy::default(),
    };
    let routes = match input.routes {
        Some(value) => parse_routes(rc, value)?,
        None => Vec::new(),
    };
    let fraud_guard = match input.fraud_guard {
        Some(p) => patch_fraud(rc, &FraudSettings::default(), p)?,
        None => FraudSettings::default(),
    };
    let policy = match input.policy {
        Some(p) => patch_policy(&AppPolicy::default(), p, &otp)?,
        None => AppPolicy::default(),
    };
    let (secret, api_key, webhook_secret) = (new_app_secret(), new_api_key(), new_webhook_secret());
    let turnstile = match input.turnstile {
        Some(value) => parse_turnstile(rc, value)?,
        None => None,
    };
    let app = AppRecord {
        turnstile,
        app_id: otp_core::id::new_uuid_v4(&mut otp_core::rng::OsRandom),
        name: name.trim().to_owned(),
        secret_hash: hash_credential(&secret),
        api_key_hash: hash_credential(&api_key),
        secret_version: 1,
        webhook_secret: webhook_secret.clone(),
        gateway,
        routes,
        receipt_token_version: 0,
        otp,
        dexatel,
        limits,
        fraud_guard,
        policy,
        created_at: rc.now,
        updated_at: rc.now,
    };
    check_app(&app)?;
    apps.put(&app).await?;
    apps.index_api_key(&app).await?;
    let token = receipt_token(&rc.config.hash_key, &app);
    let credentials = Credentials {
        app_secret: Some(&secret),
        api_key: Some(&api_key),
        webhook_secret: Some(&webhook_secret),
        receipt_token: Some(&token),
    };
    reply(
        &WithCredentials {
            app: app.view(),
            credentials,
        },
        201,
    )
}

async fn load(apps: &AppStore, app_id: &str) -> ApiResult<AppRecord> {
    apps.get(app_id).await?.ok_or_else(ApiError::app_not_found)
}

/// `GET /admin/apps/{id}`.
async fn get_app(apps: &AppStore, app_id: &str) -> ApiResult<Response> {
    reply(&load(apps, app_id).await?.view(), 200)
}

/// `PATCH /admin/apps/{id}`: name, gateway, and OTP defaults as a JSON merge patch.
async fn update_app(
    rc: &RequestContext,
    apps: &AppStore,
    app_id: &str,
    input: AppInput,
) -> ApiResult<Response> {
    let mut app = load(apps, app_id).await?;
    if let Some(name) = input.name {
        validate_name(&name)?;
        app.name = name.trim().to_owned();
    }
    if let Some(gateway) = input.gateway {
        app.gateway = parse_gateway(rc, gateway)?;
    }
    if let Some(routes) = input.routes {
        app.routes = parse_routes(rc, routes)?;
    }
    if let Some(patch) = input.otp {
        app.otp = patch_settings(&app.otp, patch, rc.config.private_hosts)?;
    }
    if let Some(p) = input.dexatel {
        app.dexatel = patch_dexatel(&app.dexatel, p)?;
    }
    if let Some(p) = input.limits {
        app.limits = patch_limits(&app.limits, p)?;
    }
    if let Some(p) = input.fraud_guard {
        app.fraud_guard = patch_fraud(rc, &app.fraud_guard, p)?;
    }
    if let Some(p) = input.policy {
        app.policy = patch_policy(&app.policy, p, &app.otp)?;
    }
    if let Some(value) = input.turnstile {
        app.turnstile = parse_turnstile(rc, value)?;
    }
    check_app(&app)?;
    app.updated_at = rc.now;
    apps.put(&app).await?;
    reply(&app.view(), 200)
}

#[derive(Serialize)]
struct Info<'a> {
    info: IdInfo<'a>,
}

#[derive(Serialize)]
struct IdInfo<'a> {
    id: &'a str,
}

/// `DELETE /admin/apps/{id}`: the app and everything kept for it. First its data,
/// so that a failure leaves the app in place for a retry of the same request: its
/// Dexatel templates and senders, every shard's records and number states (the 16
/// shards are a fixed set), and its rate-limit buckets; then the app and its key.
/// Its key and tokens stop working within about 70 s: 10 s of this isolate's cache
/// elsewhere (`crate::recent`), and KV's propagation of up to a minute.
async fn delete_app(rc: &RequestContext, apps: &AppStore, app_id: &str) -> ApiResult<Response> {
    let app = load(apps, app_id).await?;
    crate::api::dexatel::remove_app_items(&rc.bindings.kv, &app.app_id).await?;
    purge_shards(rc, &app.app_id).await?;
    RateLimits::new(&rc.bindings.limiter)
        .purge(&app.app_id)
        .await?;
    apps.delete(&app).await?;
    reply(
        &Info {
            info: IdInfo { id: &app.app_id },
        },
        200,
    )
}

/// Empties every shard of `app_id` ([`ShardOp::Purge`]), one after the other.
async fn purge_shards(rc: &RequestContext, app_id: &str) -> ApiResult<()> {
    for shard in 0..otp_core::id::SHARDS {
        let request = ShardRequest {
            app_id: app_id.to_owned(),
            now: rc.now,
            retention: rc.config.retention,
            guard: GuardSettings::default(),
            op: ShardOp::Purge,
        };
        let name = format!("{app_id}:{shard:x}");
        let _: ShardReply =
            crate::durable::call(&rc.bindings.shards, &name, "otp shard", &request).await?;
    }
    Ok(())
}

/// Which credential `POST /admin/apps/{id}/rotate/{what}` replaces.
#[derive(Debug, Clone, Copy)]
enum Rotate {
    /// The application secret (revokes every token issued before).
    Secret,
    /// The API key.
    ApiKey,
    /// The webhook signing secret.
    WebhookSecret,
    /// The receipt token (receipt URLs given out before stop working).
    ReceiptToken,
}

/// Replaces one credential and shows the new one once.
async fn rotate(
    rc: &RequestContext,
    apps: &AppStore,
    app_id: &str,
    what: Rotate,
) -> ApiResult<Response> {
    let mut app = load(apps, app_id).await?;
    let fresh;
    let credentials = match what {
        Rotate::Secret => {
            fresh = new_app_secret();
            app.secret_hash = hash_credential(&fresh);
            app.secret_version += 1;
            Credentials {
                app_secret: Some(&fresh),
                ..Credentials::default()
            }
        }
        Rotate::ApiKey => {
            fresh = new_api_key();
            let old = std::mem::replace(&mut app.api_key_hash, hash_credential(&fresh));
            apps.unindex_api_key(&old).await?;
            apps.index_api_key(&app).await?;
            Credentials {
                api_key: Some(&fresh),
                ..Credentials::default()
            }
        }
        Rotate::WebhookSecret => {
            fresh = new_webhook_secret();
            app.webhook_secret = fresh.clone();
            Credentials {
                webhook_secret: Some(&fresh),
                ..Credentials::default()
            }
        }
        Rotate::ReceiptToken => {
            app.receipt_token_version += 1;
            fresh = receipt_token(&rc.config.hash_key, &app);
            Credentials {
                receipt_token: Some(&fresh),
                ..Credentials::default()
            }
        }
    };
    app.updated_at = rc.now;
    apps.put(&app).await?;
    reply(
        &WithCredentials {
            app: app.view(),
            credentials,
        },
        200,
    )
}

#[derive(Serialize)]
struct Outbox<T: Serialize> {
    data: Vec<T>,
}

/// `GET /admin/outbox?phoneNumber=…` (development only): the newest messages sent
/// to a number through the outbox gateway.
async fn outbox(req: &Request, rc: &RequestContext) -> ApiResult<Response> {
    if !is_development(&rc.env) {
        return Err(ApiError::dev_only());
    }
    let phone = http::query_param(req, "phoneNumber").ok_or_else(ApiError::invalid_query)?;
    let phone = parse_phone(&phone, http::query_param(req, "countryIso").as_deref())?;
    let limit = http::query_param(req, "limit")
        .and_then(|l| l.parse().ok())
        .unwrap_or(20usize)
        .clamp(1, 20);
    let messages = read_outbox(&rc.env, phone.e164(), limit).await?;
    reply(&Outbox { data: messages }, 200)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_patches_must_be_objects() {
        let current = OtpSettings::default();
        for p in [
            serde_json::json!([]),
            serde_json::json!(["Hi {{pin}}", [], "Acme"]),
            serde_json::json!("reset"),
            serde_json::json!(5),
        ] {
            assert_eq!(
                patch_settings(&current, p.clone(), PrivateHosts::Refuse).unwrap_err(),
                ApiError::settings_invalid(),
                "{p}"
            );
            assert_eq!(
                patch_limits(&SendPolicy::default(), p.clone()).unwrap_err(),
                ApiError::limits_invalid(),
                "{p}"
            );
            assert_eq!(
                patch_dexatel(&GuardSettings::default(), p.clone()).unwrap_err(),
                ApiError::dexatel_settings_invalid(),
                "{p}"
            );
        }
        let patched = patch_settings(
            &current,
            serde_json::json!({"pinLength": 8}),
            PrivateHosts::Refuse,
        )
        .unwrap();
        assert_eq!(patched.pin_length, 8);
        let local = serde_json::json!({"callbackUrl": "http://127.0.0.1:8080/cb"});
        assert_eq!(
            patch_settings(&current, local.clone(), PrivateHosts::Refuse).unwrap_err(),
            ApiError::from(otp_core::Error::CallbackUrlPrivateHost),
            "refused outside development"
        );
        assert!(patch_settings(&current, local, PrivateHosts::Allow).is_ok());
    }
}
