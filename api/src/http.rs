//! HTTP: `/graphql` (POST), `/graphiql`, `/healthz` (the process is up) and `/readyz` (the
//! database and cache answer).

use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use async_graphql::http::GraphiQLSource;
use async_graphql_actix_web::{GraphQLRequest, GraphQLResponse};

use crate::app::AppState;
use crate::config::GraphqlConfig;
use crate::error::ApiError;
use crate::graphql::{FengqiaoSchema, RequestAuth, assign_error_codes, build_schema};

/// An HTTP server for the API on an already bound listener.
pub fn server(
    state: Arc<AppState>,
    config: &GraphqlConfig,
    listener: std::net::TcpListener,
) -> std::io::Result<Server> {
    let schema = build_schema(state.clone(), config);
    let graphiql = config.graphiql;
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(schema.clone()))
            .app_data(web::Data::new(state.clone()))
            .configure(|cfg| routes(cfg, graphiql))
    })
    .listen(listener)?
    .run())
}

/// Registers the routes. `graphiql` serves the in-browser IDE too.
pub fn routes(cfg: &mut web::ServiceConfig, graphiql: bool) {
    // POST only: a GET that could carry a mutation would be open to cross-site requests.
    cfg.service(web::resource("/graphql").route(web::post().to(graphql)))
        .route("/healthz", web::get().to(healthz))
        .route("/readyz", web::get().to(readyz));
    if graphiql {
        cfg.route("/graphiql", web::get().to(graphiql_page));
    }
}

async fn request_auth(state: &AppState, req: &HttpRequest) -> RequestAuth {
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

async fn graphql(
    schema: web::Data<FengqiaoSchema>,
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    body: GraphQLRequest,
) -> GraphQLResponse {
    let auth = request_auth(&state, &req).await;
    let mut response = schema.execute(body.into_inner().data(auth)).await;
    assign_error_codes(&mut response.errors);
    response.into()
}

async fn graphiql_page() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            GraphiQLSource::build()
                .endpoint("/graphql")
                .title("枫桥 Fengqiao GraphQL")
                .finish(),
        )
}

async fn healthz() -> HttpResponse {
    HttpResponse::Ok().content_type("text/plain").body("ok")
}

async fn readyz(state: web::Data<Arc<AppState>>) -> HttpResponse {
    let database = state.store.ping().await;
    let cache = state.cache.ping().await;
    match (&database, &cache) {
        (Ok(()), Ok(())) => {
            HttpResponse::Ok().json(serde_json::json!({ "database": "ok", "cache": "ok" }))
        }
        _ => {
            if let Err(e) = &database {
                tracing::warn!(error = %e, "readiness: database");
            }
            if let Err(e) = &cache {
                tracing::warn!(error = %e, "readiness: cache");
            }
            HttpResponse::ServiceUnavailable().json(serde_json::json!({
                "database": if database.is_ok() { "ok" } else { "unavailable" },
                "cache": if cache.is_ok() { "ok" } else { "unavailable" },
            }))
        }
    }
}
