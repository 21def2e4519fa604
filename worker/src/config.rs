//! Bindings, secrets and settings of one request, read from the Worker's `Env`.
//! A missing secret is a configuration fault: logged by name, answered with a
//! generic 500, never a panic.

use otp_core::secret::SecretKeys;
use otp_core::time::UnixSeconds;
use worker::{Env, Request};

use crate::error::{ApiError, ApiResult};

/// KV namespace of OTP records, applications and API-key index.
pub(crate) const OTP_KV: &str = "OTP_KV";
/// Header that sets the clock in development (Unix seconds), for tests of expiry.
pub(crate) const DEV_NOW_HEADER: &str = "X-Dev-Now";

/// Default retention of finished OTPs in KV, after their TTL (24 h).
const DEFAULT_RETENTION: u32 = 86_400;
/// Default life of a bearer token (1 h).
const DEFAULT_TOKEN_TTL: u32 = 3_600;

/// Reads a secret, falling back to a plain var (handy in `.dev.vars`-less setups).
pub(crate) fn secret_or_var(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .map(|s| s.to_string())
        .or_else(|_| env.var(name).map(|v| v.to_string()))
        .ok()
        .filter(|s| !s.trim().is_empty())
}

/// A numeric var, or `default` when unset or unparsable.
pub(crate) fn var_u32(env: &Env, name: &str, default: u32) -> u32 {
    env.var(name)
        .ok()
        .and_then(|v| v.to_string().trim().parse().ok())
        .unwrap_or(default)
}

/// Whether `ENVIRONMENT` is `development` (enables the outbox and the dev clock).
pub(crate) fn is_development(env: &Env) -> bool {
    env.var("ENVIRONMENT")
        .map(|v| v.to_string() == "development")
        .unwrap_or(false)
}

/// What the API handlers need from the environment.
pub(crate) struct Config {
    /// Server PIN keys, newest first (secret `PIN_KEYS`, comma separated).
    pub(crate) pin_keys: SecretKeys,
    /// Key that signs bearer tokens (secret `TOKEN_KEY`).
    pub(crate) token_key: Vec<u8>,
    /// Key of the keyed hashes that name phone numbers in storage and pick their
    /// shard (secret `HASH_KEY`; unlike `PIN_KEYS` it never rotates).
    pub(crate) hash_key: Vec<u8>,
    /// Seconds a finished OTP stays readable (var `RETENTION_SECONDS`).
    pub(crate) retention: u32,
    /// Life of a bearer token in seconds (var `TOKEN_TTL_SECONDS`).
    pub(crate) token_ttl: u32,
}

impl Config {
    /// Reads and checks the secrets; a missing or weak one is [`ApiError::misconfigured`].
    pub(crate) fn from_env(env: &Env) -> ApiResult<Config> {
        let pin_keys = secret_or_var(env, "PIN_KEYS")
            .and_then(|keys| {
                SecretKeys::new(
                    keys.split(',')
                        .map(|k| k.trim().as_bytes().to_vec())
                        .collect(),
                )
            })
            .ok_or_else(|| missing("PIN_KEYS (comma-separated, each at least 16 bytes)"))?;
        let token_key = secret_or_var(env, "TOKEN_KEY")
            .filter(|k| k.len() >= 16)
            .ok_or_else(|| missing("TOKEN_KEY (at least 16 bytes)"))?
            .into_bytes();
        let hash_key = secret_or_var(env, "HASH_KEY")
            .filter(|k| k.len() >= 16)
            .ok_or_else(|| missing("HASH_KEY (at least 16 bytes)"))?
            .into_bytes();
        Ok(Config {
            pin_keys,
            token_key,
            hash_key,
            retention: var_u32(env, "RETENTION_SECONDS", DEFAULT_RETENTION),
            token_ttl: var_u32(env, "TOKEN_TTL_SECONDS", DEFAULT_TOKEN_TTL).max(60),
        })
    }
}

fn missing(what: &str) -> ApiError {
    worker::console_error!("configuration: missing or invalid secret {what}");
    ApiError::misconfigured()
}

/// The time of this request: the real clock, or `X-Dev-Now` in development only.
pub(crate) fn now(req: &Request, env: &Env) -> UnixSeconds {
    let real = (worker::Date::now().as_millis() / 1000) as UnixSeconds;
    if !is_development(env) {
        return real;
    }
    req.headers()
        .get(DEV_NOW_HEADER)
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<UnixSeconds>().ok())
        .unwrap_or(real)
}
