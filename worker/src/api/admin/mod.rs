//! The admin API, guarded by the `ADMIN_TOKEN` secret: applications (create,
//! read, update, delete, rotate credentials), the insights ([`insights`]: stats,
//! verifications, events) and, in development, the SMS outbox and the insights
//! sweep at a given time.

mod insights;

use otp_core::guard::GuardSettings;
use otp_core::limits::SendPolicy;
use otp_core::phone::parse_phone;
use otp_core::secret::constant_time_eq;
use otp_core::settings::OtpSettings;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use worker::{Method, Request, Response};

use crate::apps::{
    hash_credential, new_api_key, new_app_secret, validate_name, AppRecord, AppStore,
};
use crate::config::{is_development, secret_or_var};
use crate::context::RequestContext;
use crate::error::{ApiError, ApiResult};
use crate::gateway::{read_outbox, GatewayConfig};
use crate::http;
use crate::signing::new_webhook_secret;

/// The routes under `/admin/`; `rest` are the path segments after `admin`.
pub(crate) async fn routes(
    mut req: Request,
    rc: &RequestContext,
    rest: &[&str],
) -> ApiResult<Response> {
    let method = req.method();
    require_admin(&req, rc)?;
    let apps = AppStore::new(rc.bindings.kv.clone());
    match (rest, method) {
        (["apps"], Method::Post) => create_app(rc, &apps, http::json_body(&mut req).await?).await,
        (["apps", id], Method::Get) => get_app(&apps, id).await,
        (["apps", id], Method::Patch) => {
            update_app(rc, &apps, id, http::json_body(&mut req).await?).await
        }
        (["apps", id], Method::Delete) => delete_app(&apps, id).await,
        (["apps", id, "rotate-secret"], Method::Post) => {
            rotate(rc, &apps, id, Rotate::Secret).await
        }
        (["apps", id, "rotate-api-key"], Method::Post) => {
            rotate(rc, &apps, id, Rotate::ApiKey).await
        }
        (["apps", id, "rotate-webhook-secret"], Method::Post) => {
            rotate(rc, &apps, id, Rotate::WebhookSecret).await
        }
        (["outbox"], Method::Get) => outbox(&req, rc).await,
        (["apps", id, "stats"], Method::Get) => insights::stats(&req, rc, Some(id)).await,
        (["stats"], Method::Get) => insights::stats(&req, rc, None).await,
        (["apps", id, "verifications"], Method::Get) => insights::verifications(&req, rc, id).await,
        (["apps", id, "verifications.csv"], Method::Get) => {
            insights::verifications_csv(&req, rc, id).await
        }
        (["apps", id, "events"], Method::Get) => insights::events(&req, rc, id).await,
        (["dev", "sweep"], Method::Post) => insights::dev_sweep(&req, rc).await,
        _ => Err(ApiError::method_not_allowed()),
    }
}

/// Refuses the request unless it carries `Authorization: Bearer <ADMIN_TOKEN>`.
/// With no `ADMIN_TOKEN` configured the admin API is closed.
fn require_admin(req: &Request, rc: &RequestContext) -> ApiResult<()> {
    let expected =
        secret_or_var(&rc.env, "ADMIN_TOKEN").ok_or_else(ApiError::admin_unauthorized)?;
    let given = req
        .headers()
        .get("Authorization")
        .ok()
        .flatten()
        .unwrap_or_default();
    let token = given.strip_prefix("Bearer ").unwrap_or("").trim();
    if token.is_empty() || !constant_time_eq(token.as_bytes(), expected.as_bytes()) {
        return Err(ApiError::admin_unauthorized());
    }
    Ok(())
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

fn patch_settings(settings: &OtpSettings, p: Value) -> ApiResult<OtpSettings> {
    patch(settings, p, ApiError::settings_invalid(), |s| {
        Ok(s.validate()?)
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
    otp: Option<Value>,
    dexatel: Option<Value>,
    limits: Option<Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Credentials<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    app_secret: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    webhook_secret: Option<&'a str>,
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
    )?;
    let dexatel = match input.dexatel {
        Some(p) => patch_dexatel(&GuardSettings::default(), p)?,
        None => GuardSettings::default(),
    };
    let limits = match input.limits {
        Some(p) => patch_limits(&SendPolicy::default(), p)?,
        None => SendPolicy::default(),
    };
    let (secret, api_key, webhook_secret) = (new_app_secret(), new_api_key(), new_webhook_secret());
    let app = AppRecord {
        app_id: otp_core::id::new_uuid_v4(&mut otp_core::rng::OsRandom),
        name: name.trim().to_owned(),
        secret_hash: hash_credential(&secret),
        api_key_hash: hash_credential(&api_key),
        secret_version: 1,
        webhook_secret: webhook_secret.clone(),
        gateway,
        otp,
        dexatel,
        limits,
        created_at: rc.now,
        updated_at: rc.now,
    };
    apps.put(&app).await?;
    apps.index_api_key(&app).await?;
    let credentials = Credentials {
        app_secret: Some(&secret),
        api_key: Some(&api_key),
        webhook_secret: Some(&webhook_secret),
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
    if let Some(patch) = input.otp {
        app.otp = patch_settings(&app.otp, patch)?;
    }
    if let Some(p) = input.dexatel {
        app.dexatel = patch_dexatel(&app.dexatel, p)?;
    }
    if let Some(p) = input.limits {
        app.limits = patch_limits(&app.limits, p)?;
    }
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

/// `DELETE /admin/apps/{id}`: the app, its key and its tokens stop working at once.
async fn delete_app(apps: &AppStore, app_id: &str) -> ApiResult<Response> {
    let app = load(apps, app_id).await?;
    apps.delete(&app).await?;
    reply(
        &Info {
            info: IdInfo { id: &app.app_id },
        },
        200,
    )
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
                api_key: None,
                webhook_secret: None,
            }
        }
        Rotate::ApiKey => {
            fresh = new_api_key();
            let old = std::mem::replace(&mut app.api_key_hash, hash_credential(&fresh));
            apps.unindex_api_key(&old).await?;
            apps.index_api_key(&app).await?;
            Credentials {
                app_secret: None,
                api_key: Some(&fresh),
                webhook_secret: None,
            }
        }
        Rotate::WebhookSecret => {
            fresh = new_webhook_secret();
            app.webhook_secret = fresh.clone();
            Credentials {
                app_secret: None,
                api_key: None,
                webhook_secret: Some(&fresh),
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
                patch_settings(&current, p.clone()).unwrap_err(),
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
        let patched = patch_settings(&current, serde_json::json!({"pinLength": 8})).unwrap();
        assert_eq!(patched.pin_length, 8);
    }
}
