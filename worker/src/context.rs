//! What every handler may use for one request: the environment, the execution
//! context (for work after the reply), the configuration, the bindings (resolved
//! once, here) and the one `now` that every decision of the request uses.

use std::rc::Rc;

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
    pub(crate) config: Rc<Config>,
    pub(crate) bindings: Bindings,
    /// The time of the request: every decision of the request uses it.
    pub(crate) now: UnixSeconds,
    /// What the request says of its end user's address.
    pub(crate) end_user: EndUser,
    /// The request's `X-Turnstile-Token`, for apps that require Turnstile.
    pub(crate) turnstile_token: Option<String>,
}

/// Header in which a server states the address of the end user it acts for.
pub(crate) const END_USER_IP_HEADER: &str = "X-End-User-Ip";

/// Where the end user's address comes from, for the per-IP caps. A server
/// credential (an API key, a token from `POST /oauth/token`) is a customer's
/// backend, whose one address all its users share: only an address it states in
/// `X-End-User-Ip` is the end user's, and without one no per-IP cap applies, so
/// one attacker can never turn a cap against every user of an application. A
/// browser credential (the demo's session token) is the end user: its
/// `CF-Connecting-IP` is.
pub(crate) struct EndUser {
    stated: Option<String>,
    connecting: Option<String>,
}

impl EndUser {
    fn from_request(req: &Request) -> EndUser {
        let header = |name: &str| req.headers().get(name).ok().flatten();
        EndUser {
            stated: header(END_USER_IP_HEADER),
            connecting: header("CF-Connecting-IP"),
        }
    }

    /// The key of the end user's address for a browser or a server credential;
    /// a malformed `X-End-User-Ip` is a 400 (1030).
    pub(crate) fn ip(&self, browser: bool) -> ApiResult<Option<String>> {
        if browser {
            // Set by Cloudflare on every request; absent only in direct local calls.
            return Ok(self.connecting.as_deref().and_then(ip_key));
        }
        match &self.stated {
            None => Ok(None),
            Some(value) => ip_key(value)
                .map(Some)
                .ok_or_else(ApiError::end_user_ip_invalid),
        }
    }
}

/// The cap key of an address: an IPv4 address as is, an IPv6 address by its /64
/// (one subscriber usually holds a whole /64).
fn ip_key(text: &str) -> Option<String> {
    match text.trim().parse::<std::net::IpAddr>().ok()? {
        std::net::IpAddr::V4(v4) => Some(v4.to_string()),
        std::net::IpAddr::V6(v6) => {
            let s = v6.segments();
            Some(format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3]))
        }
    }
}

impl RequestContext {
    /// Reads the configuration and bindings and the clock, once.
    pub(crate) fn new(req: &Request, env: Env, ctx: Context) -> ApiResult<RequestContext> {
        let config = Config::from_env(&env)?;
        let bindings = Bindings::from_env(&env)?;
        let now = config::now(req, &env);
        Ok(RequestContext {
            env,
            ctx,
            config,
            bindings,
            now,
            end_user: EndUser::from_request(req),
            turnstile_token: req
                .headers()
                .get(crate::turnstile::TOKEN_HEADER)
                .ok()
                .flatten(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn end_user(stated: Option<&str>, connecting: Option<&str>) -> EndUser {
        EndUser {
            stated: stated.map(str::to_owned),
            connecting: connecting.map(str::to_owned),
        }
    }

    #[test]
    fn servers_state_the_end_user_and_browsers_are_it() {
        let both = end_user(Some("198.51.100.7"), Some("203.0.113.9"));
        assert_eq!(both.ip(false), Ok(Some("198.51.100.7".into())));
        assert_eq!(both.ip(true), Ok(Some("203.0.113.9".into())));
        let unstated = end_user(None, Some("203.0.113.9"));
        assert_eq!(
            unstated.ip(false),
            Ok(None),
            "a backend's own address is no cap key"
        );
    }

    #[test]
    fn ipv6_addresses_are_keyed_by_their_64_and_bad_ones_refused() {
        let a = end_user(Some("2001:db8:1:2:aaaa::1"), None)
            .ip(false)
            .unwrap();
        let b = end_user(Some(" 2001:0db8:0001:0002:ffff::9 "), None)
            .ip(false)
            .unwrap();
        assert_eq!(a, Some("2001:db8:1:2::/64".into()));
        assert_eq!(a, b);
        for bad in [
            "",
            "1.2.3",
            "256.1.1.1",
            "example.com",
            "1.2.3.4, 5.6.7.8",
            "::g",
        ] {
            assert_eq!(
                end_user(Some(bad), None).ip(false),
                Err(ApiError::end_user_ip_invalid()),
                "{bad}"
            );
        }
    }
}
