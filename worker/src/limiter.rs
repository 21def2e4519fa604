//! Exact rate limits: one Durable Object per bucket (a phone number, an
//! application, a client IP, a daily budget) holds the bucket's counters and
//! answers takes one at a time, so concurrent requests can never pass a cap.
//! The rules are the core's ([`otp_core::limits`]); this module stores their state
//! and turns a refusal into a 429 with `Retry-After` and `X-Rate-Limit-*`.

use otp_core::limits::{Allowance, LimitState, Limits, Refusal};
use otp_core::time::UnixSeconds;
use serde::{Deserialize, Serialize};
use worker::{
    durable_object, DurableObject, Env, ObjectNamespace, Request, Response, Result, State,
};

use crate::error::{ApiError, ApiResult};

/// Binding name of the namespace in wrangler.toml.
pub(crate) const BINDING: &str = "RATE_LIMITER";

/// A request to a bucket.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "camelCase")]
enum LimiterRequest {
    /// Take `units` if the caps allow.
    Take {
        limits: Limits,
        units: u64,
        now: UnixSeconds,
    },
    /// Return `units` taken at `taken_at`.
    GiveBack { units: u64, taken_at: UnixSeconds },
}

const STATE: &str = "state";

/// One bucket's counters.
#[durable_object]
pub struct RateLimiter {
    state: State,
}

impl DurableObject for RateLimiter {
    fn new(state: State, _env: Env) -> Self {
        RateLimiter { state }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let request: LimiterRequest = req.json().await?;
        let storage = self.state.storage();
        // Read, decide and write with storage operations only: the object's input
        // and output gates keep concurrent takes from interleaving.
        let mut state: LimitState = storage.get(STATE).await?.unwrap_or_default();
        let reply: std::result::Result<Allowance, Refusal> = match request {
            LimiterRequest::Take { limits, units, now } => {
                let reply = state.take(&limits, units, now);
                if reply.is_ok() && units > 0 {
                    storage.put(STATE, &state).await?;
                }
                reply
            }
            LimiterRequest::GiveBack { units, taken_at } => {
                state.give_back(units, taken_at);
                storage.put(STATE, &state).await?;
                Ok(Allowance {
                    limit: 0,
                    remaining: 0,
                    reset: taken_at,
                })
            }
        };
        Response::from_json(&reply)
    }
}

/// The buckets of the API, each a Durable Object.
pub(crate) struct RateLimits {
    ns: ObjectNamespace,
}

impl RateLimits {
    /// Over the `RATE_LIMITER` binding.
    pub(crate) fn new(env: &Env) -> ApiResult<Self> {
        let ns = env.durable_object(BINDING).map_err(|_| {
            worker::console_error!("configuration: binding {BINDING} is missing");
            ApiError::misconfigured()
        })?;
        Ok(RateLimits { ns })
    }

    async fn call(
        &self,
        bucket: &str,
        request: &LimiterRequest,
    ) -> ApiResult<std::result::Result<Allowance, Refusal>> {
        crate::durable::call(&self.ns, bucket, "rate limiter", request).await
    }

    /// Takes `units` from `bucket`; a refusal is a 429 [`ApiError`]. Caps that are
    /// all off cost no call.
    pub(crate) async fn take(
        &self,
        bucket: &str,
        limits: &Limits,
        units: u64,
        now: UnixSeconds,
    ) -> ApiResult<Option<Allowance>> {
        if limits.windows.is_empty() && limits.cooldown_seconds == 0 {
            return Ok(None);
        }
        let request = LimiterRequest::Take {
            limits: limits.clone(),
            units,
            now,
        };
        match self.call(bucket, &request).await? {
            Ok(allowance) => Ok(Some(allowance)),
            Err(refusal) => Err(ApiError::rate_limited(refusal)),
        }
    }

    /// Returns units taken from `bucket` at `taken_at` (best effort: logged on failure).
    pub(crate) async fn give_back(&self, bucket: &str, units: u64, taken_at: UnixSeconds) {
        if self
            .call(bucket, &LimiterRequest::GiveBack { units, taken_at })
            .await
            .is_err()
        {
            worker::console_warn!("rate limiter: could not give back {units} units");
        }
    }
}
