//! What every handler may use for one request: the environment, the execution
//! context (for work after the reply), the configuration, the bindings (resolved
//! once, here) and the one `now` that every decision of the request uses.

use otp_core::time::UnixSeconds;
use worker::kv::KvStore;
use worker::{Context, Env, ObjectNamespace, Request};

use crate::config::{self, Config, OTP_KV};
use crate::error::{ApiError, ApiResult};
use crate::limiter;
use crate::service::shard;

/// The storage bindings of the API.
pub(crate) struct Bindings {
    /// Applications, Dexatel templates and senders, and the records' KV copies.
    pub(crate) kv: KvStore,
    /// The record shards ([`crate::service::shard`]).
    pub(crate) shards: ObjectNamespace,
    /// The rate-limit objects ([`crate::limiter`]).
    pub(crate) limiter: ObjectNamespace,
}

impl Bindings {
    /// Every binding; a missing one is logged by name and answered 500 (1006).
    fn from_env(env: &Env) -> ApiResult<Bindings> {
        let missing = |name: &str| {
            worker::console_error!("configuration: binding {name} is missing");
            ApiError::misconfigured()
        };
        Ok(Bindings {
            kv: env.kv(OTP_KV).map_err(|_| missing(OTP_KV))?,
            shards: env
                .durable_object(shard::BINDING)
                .map_err(|_| missing(shard::BINDING))?,
            limiter: env
                .durable_object(limiter::BINDING)
                .map_err(|_| missing(limiter::BINDING))?,
        })
    }
}

/// One API request's context.
pub(crate) struct RequestContext {
    pub(crate) env: Env,
    pub(crate) ctx: Context,
    pub(crate) config: Config,
    pub(crate) bindings: Bindings,
    /// The time of the request: every decision of the request uses it.
    pub(crate) now: UnixSeconds,
    /// The client's IP (`CF-Connecting-IP`), for the per-IP rate limits.
    pub(crate) client_ip: Option<String>,
}

impl RequestContext {
    /// Reads the configuration and bindings and the clock, once.
    pub(crate) fn new(req: &Request, env: Env, ctx: Context) -> ApiResult<RequestContext> {
        let config = Config::from_env(&env)?;
        let bindings = Bindings::from_env(&env)?;
        let now = config::now(req, &env);
        // Cloudflare sets CF-Connecting-IP on every request; its absence (a direct
        // call in tests) skips the per-IP caps.
        let client_ip = req
            .headers()
            .get("CF-Connecting-IP")
            .ok()
            .flatten()
            .filter(|ip| !ip.is_empty() && ip.len() <= 64);
        Ok(RequestContext {
            env,
            ctx,
            config,
            bindings,
            now,
            client_ip,
        })
    }
}
