//! Bindings, secrets and settings of one request, read from the Worker's `Env`.
//! A missing secret is a configuration fault: logged by name, answered with a
//! generic 500, never a panic.
//!
//! Outside development (`ENVIRONMENT` other than `development`) the worker also
//! refuses to serve with a secret that is an example value of `.dev.vars.example`
//! or an `ADMIN_TOKEN` under [`MIN_ADMIN_TOKEN_BYTES`]: every API route answers
//! 1006 (misconfigured), one log line per isolate says which secret and why (never
//! its value), and so does `GET /health`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use otp_core::secret::SecretKeys;
use otp_core::settings::PrivateHosts;
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

/// Shortest `ADMIN_TOKEN` accepted outside development, in bytes.
pub(crate) const MIN_ADMIN_TOKEN_BYTES: usize = 32;

/// The local secrets that `./scripts/dev.sh` copies to `.dev.vars`: known to
/// everyone, so refused outside development (read at build time, so the list
/// follows the file).
const DEV_VARS_EXAMPLE: &str = include_str!("../../.dev.vars.example");

/// The secrets whose example values are refused outside development.
const SECRETS_WITH_EXAMPLES: [&str; 4] = ["ADMIN_TOKEN", "PIN_KEYS", "TOKEN_KEY", "HASH_KEY"];

/// Every example value of [`SECRETS_WITH_EXAMPLES`] in `.dev.vars.example` (each
/// key of `PIN_KEYS` on its own).
fn example_secrets() -> impl Iterator<Item = &'static str> {
    DEV_VARS_EXAMPLE
        .lines()
        .filter_map(|line| line.trim().split_once('='))
        .filter(|(name, _)| SECRETS_WITH_EXAMPLES.contains(&name.trim()))
        .flat_map(|(_, value)| value.split(','))
        .map(|value| value.trim().trim_matches('"'))
        .filter(|value| !value.is_empty())
}

/// Whether `value` is one of the example secrets (whatever secret it is given as).
fn is_example_secret(value: &str) -> bool {
    example_secrets().any(|example| example == value.trim())
}

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
#[derive(Debug)]
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
    /// The admin API's token (secret `ADMIN_TOKEN`); without one the admin API is closed.
    pub(crate) admin_token: Option<String>,
    /// Whether callback URLs configured or sent may name private hosts: only in
    /// development ([`otp_core::settings::check_callback_url`]).
    pub(crate) private_hosts: PrivateHosts,
}

/// The secrets as read, before they are checked.
struct Secrets {
    development: bool,
    pin_keys: Option<String>,
    token_key: Option<String>,
    hash_key: Option<String>,
    admin_token: Option<String>,
}

impl Secrets {
    fn from_env(env: &Env) -> Secrets {
        Secrets {
            development: is_development(env),
            pin_keys: secret_or_var(env, "PIN_KEYS"),
            token_key: secret_or_var(env, "TOKEN_KEY"),
            hash_key: secret_or_var(env, "HASH_KEY"),
            admin_token: secret_or_var(env, "ADMIN_TOKEN"),
        }
    }

    /// Outside development: the secrets that are example values, and an
    /// `ADMIN_TOKEN` that is too short, one sentence each naming the secret
    /// (never its value).
    fn production_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.development {
            return problems;
        }
        let named = [
            ("ADMIN_TOKEN", &self.admin_token),
            ("PIN_KEYS", &self.pin_keys),
            ("TOKEN_KEY", &self.token_key),
            ("HASH_KEY", &self.hash_key),
        ];
        for (name, value) in named {
            // Each of the comma-separated PIN keys on its own (an old key still verifies).
            let values = value.as_deref().map(|v| v.split(',')).into_iter().flatten();
            if values.clone().any(is_example_secret) {
                problems.push(format!(
                    "{name} holds an example value of .dev.vars.example \
                     (set your own with: wrangler secret put {name})"
                ));
            }
        }
        if self
            .admin_token
            .as_ref()
            .is_some_and(|t| t.len() < MIN_ADMIN_TOKEN_BYTES)
        {
            problems.push(format!(
                "ADMIN_TOKEN is shorter than {MIN_ADMIN_TOKEN_BYTES} bytes \
                 (e.g. the output of: openssl rand -base64 33)"
            ));
        }
        problems
    }
}

/// At least one key, each of 16 bytes or more, comma separated.
fn parse_pin_keys(keys: &str) -> Option<SecretKeys> {
    SecretKeys::new(
        keys.split(',')
            .map(|k| k.trim().as_bytes().to_vec())
            .collect(),
    )
}

thread_local! {
    /// The refusal was logged in this isolate: one line, not one per request.
    static REFUSAL_LOGGED: Cell<bool> = const { Cell::new(false) };
    /// The configuration, once it could serve: read once per isolate (its vars and
    /// secrets are fixed for its life: a new version, or a `.dev.vars` change under
    /// `wrangler dev`, starts new isolates). Parsing the secrets and preparing the
    /// PIN keys' HMAC states was about 3% of a request's CPU.
    static SERVING: RefCell<Option<Rc<Config>>> = const { RefCell::new(None) };
}

impl Config {
    /// Reads and checks the secrets; a missing or weak one, or outside development
    /// an example or short one, is [`ApiError::misconfigured`] (logged once per isolate).
    pub(crate) fn from_env(env: &Env) -> ApiResult<Rc<Config>> {
        if let Some(config) = SERVING.with_borrow(Clone::clone) {
            return Ok(config);
        }
        let config = Rc::new(Config::check(env).map_err(|problems| {
            if !REFUSAL_LOGGED.replace(true) {
                worker::console_error!(
                    "configuration: refusing to serve, every API route answers 1006: {}",
                    problems.join("; ")
                );
            }
            ApiError::misconfigured()
        })?);
        SERVING.set(Some(Rc::clone(&config)));
        Ok(config)
    }

    /// The configuration, or every reason it cannot serve (never empty), for
    /// [`Config::from_env`] and `GET /health`.
    pub(crate) fn check(env: &Env) -> Result<Config, Vec<String>> {
        let secrets = Secrets::from_env(env);
        let mut problems = Vec::new();
        let pin_keys = secrets.pin_keys.as_deref().and_then(parse_pin_keys);
        if pin_keys.is_none() {
            problems.push(
                "PIN_KEYS is missing or invalid (comma-separated, each at least 16 bytes)".into(),
            );
        }
        let key = |name: &str, value: &Option<String>, problems: &mut Vec<String>| {
            let key = value.clone().filter(|k| k.len() >= 16);
            if key.is_none() {
                problems.push(format!("{name} is missing or shorter than 16 bytes"));
            }
            key
        };
        let token_key = key("TOKEN_KEY", &secrets.token_key, &mut problems);
        let hash_key = key("HASH_KEY", &secrets.hash_key, &mut problems);
        problems.extend(secrets.production_problems());
        match (pin_keys, token_key, hash_key) {
            (Some(pin_keys), Some(token_key), Some(hash_key)) if problems.is_empty() => {
                Ok(Config {
                    pin_keys,
                    token_key: token_key.into_bytes(),
                    hash_key: hash_key.into_bytes(),
                    retention: var_u32(env, "RETENTION_SECONDS", DEFAULT_RETENTION),
                    token_ttl: var_u32(env, "TOKEN_TTL_SECONDS", DEFAULT_TOKEN_TTL).max(60),
                    admin_token: secrets.admin_token,
                    private_hosts: if secrets.development {
                        PrivateHosts::Allow
                    } else {
                        PrivateHosts::Refuse
                    },
                })
            }
            _ => Err(problems),
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets(development: bool, admin: &str, pin_keys: &str) -> Secrets {
        Secrets {
            development,
            pin_keys: Some(pin_keys.into()),
            token_key: Some("a-real-token-key-0123456789".into()),
            hash_key: Some("a-real-hash-key-0123456789".into()),
            admin_token: Some(admin.into()),
        }
    }

    const LONG_ADMIN: &str = "a-real-admin-token-of-32-bytes-or-more";

    #[test]
    fn the_example_secrets_are_read_from_the_example_file() {
        let examples: Vec<&str> = example_secrets().collect();
        assert_eq!(
            examples,
            [
                "dev-admin-token-change-me",
                "dev-pin-key-0123456789abcdef",
                "dev-token-key-0123456789abcdef",
                "dev-hash-key-0123456789abcdef",
            ]
        );
        assert!(is_example_secret(" dev-hash-key-0123456789abcdef "));
        assert!(
            !is_example_secret("development"),
            "ENVIRONMENT is no secret"
        );
    }

    #[test]
    fn example_and_short_secrets_are_refused_outside_development() {
        assert!(secrets(false, LONG_ADMIN, "a-real-pin-key-0123456789")
            .production_problems()
            .is_empty());
        let problems = secrets(
            false,
            "dev-admin-token-change-me",
            "new-pin-key-0123456789,dev-pin-key-0123456789abcdef",
        )
        .production_problems();
        assert_eq!(problems.len(), 3, "{problems:?}");
        assert!(problems[0].starts_with("ADMIN_TOKEN holds an example value"));
        assert!(problems[1].starts_with("PIN_KEYS holds an example value"));
        assert!(problems[2].starts_with("ADMIN_TOKEN is shorter than 32 bytes"));
        assert!(
            problems.iter().all(|p| !p.contains("dev-")),
            "values are never named"
        );
        let short = secrets(false, &"x".repeat(31), "a-real-pin-key-0123456789");
        assert_eq!(short.production_problems().len(), 1);
        let mut no_admin = secrets(false, "", "a-real-pin-key-0123456789");
        no_admin.admin_token = None;
        assert!(
            no_admin.production_problems().is_empty(),
            "a closed admin API is fine"
        );
        let mut swapped = secrets(false, LONG_ADMIN, "a-real-pin-key-0123456789");
        swapped.hash_key = Some("dev-token-key-0123456789abcdef".into());
        assert_eq!(
            swapped.production_problems().len(),
            1,
            "any example value, under any name"
        );
    }

    #[test]
    fn development_keeps_the_example_secrets() {
        let dev = secrets(
            true,
            "dev-admin-token-change-me",
            "dev-pin-key-0123456789abcdef",
        );
        assert!(dev.production_problems().is_empty());
    }
}
