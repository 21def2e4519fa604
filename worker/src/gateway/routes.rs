//! Routes: which gateways, in which order, and with which sender, send an SMS to
//! a destination. An application holds an ordered list of [`Route`]s; the first
//! whose `countries` hold the destination's country, or one of whose `prefixes`
//! starts its E.164 number, is used. A route with neither is the default route
//! and must come last. When no route matches, the application's own `gateway`
//! is the route (one gateway, the application's sender).
//!
//! JSON: `{"countries": ["US", "CA"], "gateways": [{"type": "twilio",
//! "credentials": "US", "from": "+12015550123"}, {"type": "vonage"}]}`. Each
//! gateway of a route is a gateway configuration ([`GatewayConfig`]) with an
//! optional `from` that replaces the sender for that gateway (a 10DLC number for
//! US traffic, a registered alphanumeric sender elsewhere). The gateways after
//! the first are the failover order (see [`super::send_sms`]).

use serde::{Deserialize, Serialize};

use super::{GatewayConfig, GatewayError};

/// Most routes per application.
pub(crate) const MAX_ROUTES: usize = 50;
/// Most gateways per route (the first and its failovers).
pub(crate) const MAX_GATEWAYS: usize = 5;
/// Most countries or prefixes per route.
pub(crate) const MAX_MATCHES: usize = 250;

/// One gateway of a route, with the sender to use through it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct GatewayStep {
    #[serde(flatten)]
    pub(crate) gateway: GatewayConfig,
    /// The sender through this gateway; the application's (or the request's)
    /// sender when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) from: Option<String>,
}

/// A route: destinations, and the gateways that send to them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Route {
    /// ISO 3166-1 alpha-2 codes of destination countries (the number's country,
    /// as the numbering plan says: `+44 7781` is GG).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) countries: Vec<String>,
    /// Starts of E.164 numbers: `+` and 1 to 15 digits (`+1201`, `+4474`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) prefixes: Vec<String>,
    /// The gateways, first choice first.
    pub(crate) gateways: Vec<GatewayStep>,
}

impl Route {
    /// Whether this route is the default one (matches every destination).
    pub(crate) fn is_default(&self) -> bool {
        self.countries.is_empty() && self.prefixes.is_empty()
    }

    /// Whether this route sends to `e164` in `country`.
    pub(crate) fn matches(&self, country: &str, e164: &str) -> bool {
        self.is_default()
            || self.countries.iter().any(|c| c == country)
            || self.prefixes.iter().any(|p| e164.starts_with(p.as_str()))
    }
}

/// Why routes were refused: a fixed message for the API reply (code 1040), or
/// the error of a gateway or sender of a route (their own codes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum RouteError {
    /// The routes' shape (message).
    Invalid(&'static str),
    /// A gateway of a route.
    Gateway(GatewayError),
    /// A `from` of a route (the core's sender rule).
    Sender(otp_core::Error),
}

/// Checks `routes`: at most [`MAX_ROUTES`]; each with 1 to [`MAX_GATEWAYS`]
/// gateways, each valid (`check_gateway`) with a valid sender; countries known
/// ISO codes in upper case; prefixes `+` and 1-15 digits; at most one default
/// route, last.
pub(crate) fn validate(
    routes: &[Route],
    check_gateway: impl Fn(&GatewayConfig) -> Result<(), GatewayError>,
) -> Result<(), RouteError> {
    if routes.len() > MAX_ROUTES {
        return Err(RouteError::Invalid("routes: at most 50 routes"));
    }
    for (i, route) in routes.iter().enumerate() {
        if route.is_default() && i + 1 != routes.len() {
            return Err(RouteError::Invalid(
                "routes: a route without countries or prefixes is the default route and must come last",
            ));
        }
        if route.countries.len() > MAX_MATCHES || route.prefixes.len() > MAX_MATCHES {
            return Err(RouteError::Invalid(
                "routes: at most 250 countries and 250 prefixes per route",
            ));
        }
        let known = |c: &String| {
            otp_core::phone::is_known_country(c) && !c.bytes().any(|b| b.is_ascii_lowercase())
        };
        if !route.countries.iter().all(known) {
            return Err(RouteError::Invalid(
                "routes: countries must be ISO 3166-1 alpha-2 codes in upper case (FR, US)",
            ));
        }
        if !route.prefixes.iter().all(|p| is_prefix(p)) {
            return Err(RouteError::Invalid(
                "routes: prefixes must be + followed by 1 to 15 digits (+1201)",
            ));
        }
        if route.gateways.is_empty() || route.gateways.len() > MAX_GATEWAYS {
            return Err(RouteError::Invalid(
                "routes: each route has 1 to 5 gateways",
            ));
        }
        for step in &route.gateways {
            check_gateway(&step.gateway).map_err(RouteError::Gateway)?;
            if let Some(from) = &step.from {
                otp_core::settings::validate_originator(from).map_err(RouteError::Sender)?;
            }
        }
    }
    Ok(())
}

/// Whether `p` is `+` followed by 1 to 15 digits.
fn is_prefix(p: &str) -> bool {
    p.strip_prefix('+')
        .is_some_and(|d| (1..=15).contains(&d.len()) && d.bytes().all(|b| b.is_ascii_digit()))
}

/// The gateways for a destination: those of the first matching route, or the
/// application's `default` gateway alone.
pub(crate) fn resolve<'a>(
    routes: &'a [Route],
    default: &'a GatewayConfig,
    country: &str,
    e164: &str,
) -> Vec<(&'a GatewayConfig, Option<&'a str>)> {
    match routes.iter().find(|r| r.matches(country, e164)) {
        Some(route) => route
            .gateways
            .iter()
            .map(|s| (&s.gateway, s.from.as_deref()))
            .collect(),
        None => vec![(default, None)],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn routes(value: serde_json::Value) -> Vec<Route> {
        serde_json::from_value(value).expect("routes")
    }

    fn ok(_: &GatewayConfig) -> Result<(), GatewayError> {
        Ok(())
    }

    #[test]
    fn steps_are_gateway_configs_with_an_optional_sender() {
        let r = routes(json!([{
            "countries": ["US"],
            "gateways": [
                {"type": "twilio", "credentials": "US", "from": "+12015550123"},
                {"type": "vonage"}
            ]
        }]));
        assert_eq!(
            r[0].gateways[0].gateway,
            GatewayConfig::Twilio {
                messaging_service_sid: None,
                credentials: Some("US".into())
            }
        );
        assert_eq!(r[0].gateways[0].from.as_deref(), Some("+12015550123"));
        assert_eq!(r[0].gateways[1].from, None);
        // Written back as given.
        assert_eq!(
            serde_json::to_value(&r).unwrap(),
            json!([{"countries": ["US"], "gateways": [
                {"type": "twilio", "credentials": "US", "from": "+12015550123"},
                {"type": "vonage"}
            ]}])
        );
        assert!(
            serde_json::from_value::<Vec<Route>>(json!([{"country": ["US"], "gateways": []}]))
                .is_err()
        );
    }

    #[test]
    fn the_first_matching_route_wins_and_the_app_gateway_is_the_fallback() {
        let r = routes(json!([
            {"prefixes": ["+4474"], "gateways": [{"type": "sinch"}]},
            {"countries": ["GB", "US"], "gateways": [{"type": "twilio"}, {"type": "plivo"}]},
            {"countries": ["FR"], "gateways": [{"type": "infobip", "from": "Acme"}]}
        ]));
        let default = GatewayConfig::Vonage { credentials: None };
        let kinds = |country, e164| -> Vec<&'static str> {
            resolve(&r, &default, country, e164)
                .iter()
                .map(|(g, _)| g.kind())
                .collect()
        };
        assert_eq!(kinds("GB", "+447400123456"), ["sinch"]);
        assert_eq!(kinds("GB", "+447700123456"), ["twilio", "plivo"]);
        assert_eq!(kinds("US", "+12015550123"), ["twilio", "plivo"]);
        assert_eq!(kinds("DE", "+4915123456789"), ["vonage"]);
        assert_eq!(
            resolve(&r, &default, "FR", "+33612424111")[0].1,
            Some("Acme")
        );
    }

    #[test]
    fn a_default_route_matches_everything_and_must_be_last() {
        let r = routes(json!([
            {"countries": ["US"], "gateways": [{"type": "twilio"}]},
            {"gateways": [{"type": "infobip"}, {"type": "sinch"}]}
        ]));
        assert_eq!(validate(&r, ok), Ok(()));
        let default = GatewayConfig::Outbox;
        assert_eq!(
            resolve(&r, &default, "DE", "+4915123456789")[1].0.kind(),
            "sinch"
        );
        let wrong = routes(json!([
            {"gateways": [{"type": "infobip"}]},
            {"countries": ["US"], "gateways": [{"type": "twilio"}]}
        ]));
        assert!(matches!(validate(&wrong, ok), Err(RouteError::Invalid(_))));
    }

    #[test]
    fn countries_prefixes_gateways_and_senders_are_checked() {
        let bad = [
            json!([{"countries": ["us"], "gateways": [{"type": "twilio"}]}]),
            json!([{"countries": ["XX"], "gateways": [{"type": "twilio"}]}]),
            json!([{"prefixes": ["44"], "gateways": [{"type": "twilio"}]}]),
            json!([{"prefixes": ["+"], "gateways": [{"type": "twilio"}]}]),
            json!([{"prefixes": ["+1234567890123456"], "gateways": [{"type": "twilio"}]}]),
            json!([{"countries": ["US"], "gateways": []}]),
            json!([{"countries": ["US"], "gateways": [
                {"type": "twilio"}, {"type": "twilio"}, {"type": "twilio"},
                {"type": "twilio"}, {"type": "twilio"}, {"type": "twilio"}
            ]}]),
        ];
        for value in bad {
            assert!(
                matches!(
                    validate(&routes(value.clone()), ok),
                    Err(RouteError::Invalid(_))
                ),
                "{value}"
            );
        }
        let sender = routes(
            json!([{"countries": ["US"], "gateways": [{"type": "twilio", "from": "AcmeCorporation"}]}]),
        );
        assert_eq!(
            validate(&sender, ok),
            Err(RouteError::Sender(otp_core::Error::FromAlphanumericTooLong))
        );
        let refused = |_: &GatewayConfig| Err(GatewayError::OutboxDisabled);
        let outbox = routes(json!([{"countries": ["US"], "gateways": [{"type": "outbox"}]}]));
        assert_eq!(
            validate(&outbox, refused),
            Err(RouteError::Gateway(GatewayError::OutboxDisabled))
        );
        let many: Vec<Route> = (0..51)
            .map(|_| {
                routes(json!([{"countries": ["US"], "gateways": [{"type": "twilio"}]}])).remove(0)
            })
            .collect();
        assert!(matches!(validate(&many, ok), Err(RouteError::Invalid(_))));
    }
}
