//! Who may call which endpoint. Every route of the router must have a row in
//! [`ENDPOINTS`]: a route without one answers 403 to everyone, so a new endpoint is
//! closed until someone decides who may use it, and the role matrix test (which walks
//! this table) covers it.

use std::sync::Arc;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::ApiError;
use crate::auth::{AuthError, Role};
use crate::pipeline::Hub;

/// What an endpoint demands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Anyone: liveness only.
    Open,
    /// A token with one of these roles.
    Roles(&'static [Role]),
    /// A `source` token bound to the source named in the path.
    BoundSource,
    /// `metrics` or `admin`, or anyone when `hub.metrics_public` is set.
    Metrics,
    /// No token: the source must declare `auth = "connector"`, and its connector checks
    /// the platform's shared secret while decoding (see `api::webhook`).
    Connector,
}

pub struct Endpoint {
    pub method: &'static str,
    /// As the router spells it, with `{param}`s.
    pub path: &'static str,
    pub access: Access,
}

const OPERATOR: &[Role] = &[Role::Operator];
const OPERATOR_OR_ADMIN: &[Role] = &[Role::Operator, Role::Admin];
const ADMIN: &[Role] = &[Role::Admin];

pub const ENDPOINTS: &[Endpoint] = &[
    Endpoint {
        method: "POST",
        path: "/v1/sources/{source}/messages",
        access: Access::BoundSource,
    },
    // Appeals hold personal data: only the people who work with them read them.
    Endpoint {
        method: "GET",
        path: "/v1/messages",
        access: Access::Roles(OPERATOR),
    },
    Endpoint {
        method: "GET",
        path: "/v1/messages/{id}",
        access: Access::Roles(OPERATOR),
    },
    Endpoint {
        method: "POST",
        path: "/v1/messages/{id}/classification",
        access: Access::Roles(OPERATOR),
    },
    Endpoint {
        method: "GET",
        path: "/v1/messages/{id}/corrections",
        access: Access::Roles(OPERATOR),
    },
    Endpoint {
        method: "POST",
        path: "/v1/corrections/import",
        access: Access::Roles(OPERATOR),
    },
    Endpoint {
        method: "DELETE",
        path: "/v1/corrections/import",
        access: Access::Roles(OPERATOR),
    },
    // The state and deadlines of an appeal, without its content.
    Endpoint {
        method: "GET",
        path: "/v1/status/{id}",
        access: Access::Roles(&[Role::Client, Role::Operator]),
    },
    // Officials move appeals through their states and read their control.
    Endpoint {
        method: "GET",
        path: "/v1/appeals/{id}",
        access: Access::Roles(OPERATOR),
    },
    Endpoint {
        method: "POST",
        path: "/v1/appeals/{id}/transitions",
        access: Access::Roles(OPERATOR),
    },
    Endpoint {
        method: "GET",
        path: "/v1/reports/execution",
        access: Access::Roles(OPERATOR_OR_ADMIN),
    },
    Endpoint {
        method: "GET",
        path: "/v1/reports/sstu",
        access: Access::Roles(OPERATOR_OR_ADMIN),
    },
    Endpoint {
        method: "GET",
        path: "/v1/dead-letters",
        access: Access::Roles(OPERATOR_OR_ADMIN),
    },
    Endpoint {
        method: "POST",
        path: "/v1/dead-letters/{id}/replay",
        access: Access::Roles(OPERATOR_OR_ADMIN),
    },
    Endpoint {
        method: "POST",
        path: "/v1/dead-letters/{id}/discard",
        access: Access::Roles(OPERATOR_OR_ADMIN),
    },
    Endpoint {
        method: "GET",
        path: "/v1/plugins",
        access: Access::Roles(&[Role::Integrator, Role::Admin]),
    },
    Endpoint {
        method: "POST",
        path: "/v1/admin/reload",
        access: Access::Roles(ADMIN),
    },
    Endpoint {
        method: "GET",
        path: "/v1/admin/tokens",
        access: Access::Roles(ADMIN),
    },
    Endpoint {
        method: "POST",
        path: "/v1/admin/tokens",
        access: Access::Roles(ADMIN),
    },
    Endpoint {
        method: "DELETE",
        path: "/v1/admin/tokens/{name}",
        access: Access::Roles(ADMIN),
    },
    Endpoint {
        method: "GET",
        path: "/v1/audit",
        access: Access::Roles(ADMIN),
    },
    // VK and Telegram cannot send a bearer token; the connector checks their secret.
    Endpoint {
        method: "POST",
        path: "/v1/webhooks/{source}",
        access: Access::Connector,
    },
    Endpoint {
        method: "GET",
        path: "/healthz",
        access: Access::Open,
    },
    Endpoint {
        method: "GET",
        path: "/readyz",
        access: Access::Metrics,
    },
    Endpoint {
        method: "GET",
        path: "/metrics",
        access: Access::Metrics,
    },
];

pub fn access_of(method: &str, path: &str) -> Option<Access> {
    ENDPOINTS
        .iter()
        .find(|e| e.path == path && e.method.eq_ignore_ascii_case(method))
        .map(|e| e.access)
}

/// The source named in an ingest path: `/v1/sources/{source}/messages`.
fn path_source(path: &str) -> Option<&str> {
    path.strip_prefix("/v1/sources/")?.strip_suffix("/messages")
}

fn bearer(request: &Request) -> Option<&str> {
    let value = request
        .headers()
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

fn unauthorized() -> Response {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "unauthorized",
        "a valid bearer token is needed: `Authorization: Bearer okno_…` (see `okno token create`)",
    )
    .into_response()
}

fn forbidden(message: String) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", message).into_response()
}

/// The middleware: finds the endpoint's access, checks the token, and hands the handler
/// the [`Caller`] as a request extension.
pub async fn authorize(State(hub): State<Arc<Hub>>, mut request: Request, next: Next) -> Response {
    let Some(path) = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
    else {
        return forbidden("this endpoint has no access rule".into());
    };
    let method = request.method().as_str().to_string();
    // HEAD is answered by the GET handler, so it takes GET's rule.
    let rule_method = if method == "HEAD" { "GET" } else { &method };
    let Some(access) = access_of(rule_method, &path) else {
        let allowed: Vec<&str> = ENDPOINTS
            .iter()
            .filter(|e| e.path == path)
            .map(|e| e.method)
            .collect();
        if !allowed.is_empty() {
            // Answered here rather than by the router, so that a handler added for this
            // method without a rule stays closed.
            let mut response = ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{path} takes {}", allowed.join(", ")),
            )
            .into_response();
            if let Ok(value) = header::HeaderValue::from_str(&allowed.join(", ")) {
                response.headers_mut().insert(header::ALLOW, value);
            }
            return response;
        }
        tracing::error!(%method, %path, "an endpoint without an access rule was called; it stays closed until api::access lists it");
        return forbidden(format!(
            "{method} {path} has no access rule, so nobody may call it"
        ));
    };
    let metrics_public = access == Access::Metrics && hub.active().config.hub.metrics_public;
    if access == Access::Open || access == Access::Connector || metrics_public {
        return next.run(request).await;
    }
    let caller = match bearer(&request)
        .ok_or(AuthError::Missing)
        .and_then(|token| hub.tokens.authenticate(token))
    {
        Ok(caller) => caller,
        Err(AuthError::Unavailable(e)) => {
            return ApiError::internal(e.context("reading the token file")).into_response()
        }
        Err(e) => {
            // The reason (revoked, expired, unknown) is for the log; the client learns
            // only that its token does not open this door.
            tracing::info!(%method, %path, reason = %e, "request refused: no valid token");
            return unauthorized();
        }
    };
    let allowed = match access {
        Access::Open | Access::Connector => true,
        Access::Roles(roles) => roles.contains(&caller.role),
        Access::Metrics => matches!(caller.role, Role::Metrics | Role::Admin),
        Access::BoundSource => {
            caller.role == Role::Source
                && caller.source.as_deref() == path_source(request.uri().path())
        }
    };
    if !allowed {
        tracing::info!(%method, %path, token = %caller.name, role = %caller.role, "request refused: role not allowed");
        let why = match (access, &caller.source) {
            (Access::BoundSource, Some(source)) => {
                format!("token {:?} may push only to source {source:?}", caller.name)
            }
            _ => format!("a {} token may not call {method} {path}", caller.role),
        };
        return forbidden(why);
    }
    request.extensions_mut().insert(caller);
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_endpoint_is_listed_once() {
        for (i, a) in ENDPOINTS.iter().enumerate() {
            for b in &ENDPOINTS[i + 1..] {
                assert!(
                    !(a.method == b.method && a.path == b.path),
                    "{} {} is listed twice",
                    a.method,
                    a.path
                );
            }
        }
    }

    #[test]
    fn the_source_comes_from_the_path() {
        assert_eq!(path_source("/v1/sources/mail/messages"), Some("mail"));
        assert_eq!(path_source("/v1/messages"), None);
    }
}
