//! HTTP: `/graphql` (GraphQL over HTTP: POST, GET for queries, and GET upgraded to a websocket for
//! subscriptions), `/graphiql` (when configured), the report and audit files, `/healthz` (the process is
//! up) and `/readyz` (the database answers; the cache's state is reported, but a server without its cache
//! still serves). Every response carries its request's id and the security headers, is compressed when
//! the client accepts it, and answers pages of the allowed origins (CORS).

mod exports;
mod graphiql;
mod graphql;
pub mod headers;
pub mod persisted;
mod socket;

use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::{StatusCode, header};
use actix_web::middleware::{Compress, Condition, from_fn};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, guard, web};

use crate::app::AppState;
use crate::config::{AddressRange, Config};
use crate::error::ApiError;
use crate::graphql::{RequestAuth, UserAgent, build_schema};
use crate::store::scope::DbScope;
use persisted::PersistedQueryStore;

/// An HTTP server for the API on an already bound listener. Fails when the persisted-query manifest
/// cannot be read.
pub fn server(
    state: Arc<AppState>,
    config: &Config,
    listener: std::net::TcpListener,
) -> anyhow::Result<Server> {
    let graphql = &config.graphql;
    let schema = build_schema(state.clone(), graphql);
    let manifest = match &graphql.persisted_query_manifest {
        Some(path) => persisted::read_manifest(path)?,
        None => Default::default(),
    };
    let persisted = web::Data::new(PersistedQueryStore::new(
        graphql.persisted_queries,
        manifest,
        state.cache.clone(),
    ));
    let graphiql = graphql.graphiql;
    let limits = web::Data::new(BodyLimits {
        max_bytes: graphql.max_body_bytes,
        max_nesting: graphql.max_nesting,
        trusted_proxies: graphql.trusted_proxies.clone(),
    });
    let http = config.http.clone();
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(schema.clone()))
            .app_data(web::Data::new(state.clone()))
            .app_data(limits.clone())
            .app_data(persisted.clone())
            // Every other extractor (the report's query string) is bounded as well.
            .app_data(web::PayloadConfig::new(limits.max_bytes))
            .configure(|cfg| routes(cfg, graphiql))
            // The last wrapped runs first: the id, then the headers, CORS, compression.
            .wrap(Condition::new(http.compression, Compress::default()))
            .wrap(headers::cors(&http))
            .wrap(headers::security_headers(&http))
            .wrap(from_fn(headers::request_id))
    })
    .listen(listener)?
    .run())
}

/// Registers the routes. `graphiql` serves the in-browser IDE too.
pub fn routes(cfg: &mut web::ServiceConfig, graphiql: bool) {
    // A GET may run a query only (a mutation over GET answers 405); a GET asking to upgrade opens a
    // websocket for subscriptions, whose token comes in its first message.
    cfg.service(
        web::resource("/graphql")
            .route(
                web::get()
                    .guard(guard::Header("upgrade", "websocket"))
                    .to(socket::graphql_ws),
            )
            .route(web::get().to(graphql::get))
            .route(web::post().to(graphql::post))
            .default_service(web::to(graphql::other_method)),
    )
    .route("/reports/monthly", web::get().to(exports::monthly_report))
    .route("/audit/export", web::get().to(exports::audit_export))
    .route("/healthz", web::get().to(healthz))
    .route("/readyz", web::get().to(readyz));
    if graphiql {
        graphiql::routes(cfg);
    }
}

pub(super) async fn request_auth(state: &AppState, req: &HttpRequest) -> RequestAuth {
    let Some(value) = req.headers().get(header::AUTHORIZATION) else {
        return RequestAuth::Anonymous;
    };
    let Some(token) = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
    else {
        return RequestAuth::Refused("the Authorization header must be 'Bearer <access token>'");
    };
    match state.authenticate(token).await {
        Ok(caller) => RequestAuth::Caller(caller),
        Err(ApiError::Unauthenticated(why)) => RequestAuth::Refused(why),
        Err(other) => {
            tracing::error!(error = %other.detail(), "authentication check failed");
            RequestAuth::Refused("the session could not be checked; try again")
        }
    }
}

/// The rows of the database a request may reach: its caller's, none for anyone else.
pub(super) async fn request_scope(state: &AppState, auth: &RequestAuth) -> DbScope {
    let RequestAuth::Caller(caller) = auth else {
        return DbScope::Nobody;
    };
    match state.db_scope(&caller.principal).await {
        Ok(rows) => rows,
        Err(e) => {
            // Its reads then find nothing and its writes fail; the cause is in the log.
            tracing::error!(error = %e.detail(), "could not work out a request's database scope");
            DbScope::Nobody
        }
    }
}

/// What an HTTP request to `/graphql` may be, and whose forwarded addresses are believed.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub max_nesting: usize,
    pub trusted_proxies: Vec<AddressRange>,
}

/// The client's address: the peer's, or, when the peer is a trusted proxy, the nearest address of
/// `X-Forwarded-For` that is not a trusted proxy itself.
pub fn client_address(req: &HttpRequest, trusted: &[AddressRange]) -> Option<std::net::IpAddr> {
    let is_trusted = |address: &std::net::IpAddr| trusted.iter().any(|r| r.contains(*address));
    let peer = req.peer_addr().map(|a| a.ip())?;
    if !is_trusted(&peer) {
        return Some(peer);
    }
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .collect::<Vec<_>>();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !is_trusted(a))
            .unwrap_or(peer),
    )
}

/// The request's `User-Agent`, without control characters, at most 200 characters.
pub(super) fn user_agent(req: &HttpRequest) -> UserAgent {
    UserAgent(
        req.headers()
            .get(actix_web::http::header::USER_AGENT)
            .map(|v| {
                String::from_utf8_lossy(v.as_bytes())
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect()
            })
            .unwrap_or_default(),
    )
}

/// The HTTP status of a typed error on a plain HTTP route: 4xx for what the caller can change, 503 for a
/// dependency that cannot answer for a moment, 500 only for the server's own failures.
pub fn status_of(error: &ApiError) -> StatusCode {
    match error {
        ApiError::Unauthenticated(_)
        | ApiError::PasswordChangeRequired { .. }
        | ApiError::SecondFactorRequired { .. } => StatusCode::UNAUTHORIZED,
        ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
        ApiError::NotFound => StatusCode::NOT_FOUND,
        ApiError::BadUserInput { .. } => StatusCode::BAD_REQUEST,
        ApiError::InvalidTransition(_) | ApiError::IdempotencyConflict | ApiError::Conflict(_) => {
            StatusCode::CONFLICT
        }
        ApiError::RateLimited { .. } | ApiError::AccountLocked { .. } => {
            StatusCode::TOO_MANY_REQUESTS
        }
        ApiError::SearchUnavailable => StatusCode::SERVICE_UNAVAILABLE,
        ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

/// Ready while the database answers. Redis out of reach is reported (`"cache": "unavailable"`) but does not
/// take the replica out of service: requests go on without it (see `cache.rs`), and every replica would
/// otherwise leave the load balancer at once when Redis fails.
async fn readyz(state: web::Data<Arc<AppState>>) -> HttpResponse {
    let database = state.store.ping().await;
    let cache = state.cache.ping().await;
    if let Err(e) = &database {
        tracing::warn!(error = %e, "readiness: database");
    }
    if let Err(e) = &cache {
        tracing::debug!(error = %e, "readiness: cache");
    }
    let body = serde_json::json!({
        "database": if database.is_ok() { "ok" } else { "unavailable" },
        "cache": if cache.is_ok() { "ok" } else { "unavailable" },
    });
    if database.is_ok() {
        HttpResponse::Ok().json(body)
    } else {
        HttpResponse::ServiceUnavailable().json(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_typed_error_has_its_http_status() {
        let cases = [
            (ApiError::Unauthenticated("x"), 401),
            (ApiError::Forbidden("x".into()), 403),
            (ApiError::NotFound, 404),
            (ApiError::bad_input("f", "x"), 400),
            (ApiError::InvalidTransition("x".into()), 409),
            (ApiError::IdempotencyConflict, 409),
            (ApiError::Conflict("x".into()), 409),
            (
                ApiError::RateLimited {
                    why: "x",
                    retry_after: 1,
                },
                429,
            ),
            (ApiError::AccountLocked { retry_after: 1 }, 429),
            (ApiError::SearchUnavailable, 503),
            (ApiError::internal(anyhow::anyhow!("x")), 500),
        ];
        for (error, status) in cases {
            assert_eq!(status_of(&error).as_u16(), status, "{}", error.code());
        }
    }
}
