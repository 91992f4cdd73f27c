//! HTTP: `/graphql` (POST; GET opens a websocket for subscriptions), `/graphiql`, `/healthz` (the process is up) and `/readyz` (the
//! database and cache answer).

use std::any::TypeId;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::header;
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, guard, web};
use async_graphql::http::GraphiQLSource;
use async_graphql::{Data, Executor};
use async_graphql_actix_web::{GraphQLRequest, GraphQLResponse, GraphQLSubscription};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::app::AppState;
use crate::config::GraphqlConfig;
use crate::error::ApiError;
use crate::graphql::{FengqiaoSchema, RequestAuth, assign_error_codes, build_schema};
use crate::store::scope::{self, DbScope};

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
    // GET only to open a websocket for subscriptions, whose token comes in its first message.
    cfg.service(
        web::resource("/graphql")
            .route(web::post().to(graphql))
            .route(
                web::get()
                    .guard(guard::Header("upgrade", "websocket"))
                    .to(graphql_ws),
            ),
    )
    .route("/reports/monthly", web::get().to(monthly_report))
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

/// The rows of the database a request may reach: its caller's, none for anyone else.
async fn request_scope(state: &AppState, auth: &RequestAuth) -> DbScope {
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

async fn graphql(
    schema: web::Data<FengqiaoSchema>,
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    body: GraphQLRequest,
) -> GraphQLResponse {
    let auth = request_auth(&state, &req).await;
    let rows = request_scope(&state, &auth).await;
    let mut response = scope::within(rows, schema.execute(body.into_inner().data(auth))).await;
    assign_error_codes(&mut response.errors);
    response.into()
}

/// Subscriptions (and any other operation) over a websocket, `graphql-transport-ws` or `graphql-ws`.
async fn graphql_ws(
    schema: web::Data<FengqiaoSchema>,
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let state = state.get_ref().clone();
    GraphQLSubscription::new(ScopedSchema(schema.get_ref().clone()))
        .on_connection_init(move |init| connection_init(state, init))
        .start(&req, payload)
}

/// Checks the access token of a websocket's `connection_init` (`{"Authorization": "Bearer …"}`, or
/// `{"token": "…"}`) and keeps the caller and its database scope for the connection's operations. A
/// connection without a valid token is closed.
async fn connection_init(
    state: Arc<AppState>,
    init: serde_json::Value,
) -> async_graphql::Result<Data> {
    let bearer = ["Authorization", "authorization"]
        .iter()
        .find_map(|key| init.get(*key).and_then(|v| v.as_str()))
        .and_then(|v| v.strip_prefix("Bearer "))
        .or_else(|| init.get("token").and_then(|v| v.as_str()))
        .map(str::trim)
        .ok_or_else(|| {
            async_graphql::Error::new(
                "send the access token in connection_init: {\"Authorization\": \"Bearer …\"}",
            )
        })?;
    let caller = state
        .authenticate(bearer)
        .await
        .map_err(|e| async_graphql::Error::new(e.message()))?;
    let auth = RequestAuth::Caller(caller);
    let rows = request_scope(&state, &auth).await;
    let mut data = Data::default();
    data.insert(auth);
    data.insert(rows);
    Ok(data)
}

/// The schema for websocket connections: every operation runs in its connection's database scope, and
/// its errors get stable codes as over HTTP.
#[derive(Clone)]
struct ScopedSchema(FengqiaoSchema);

impl Executor for ScopedSchema {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        // Websocket operations arrive through `execute_stream`, with their connection's data; a request
        // on its own carries no caller.
        let mut response = scope::within(DbScope::Nobody, self.0.execute(request)).await;
        assign_error_codes(&mut response.errors);
        response
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let rows = session_data
            .as_deref()
            .and_then(|data| data.get(&TypeId::of::<DbScope>()))
            .and_then(|rows| rows.downcast_ref::<DbScope>())
            .cloned()
            .unwrap_or(DbScope::Nobody);
        let responses = self
            .0
            .execute_stream_with_session_data(request, session_data.unwrap_or_default());
        scope::within_stream(rows, responses)
            .map(|mut response| {
                assign_error_codes(&mut response.errors);
                response
            })
            .boxed()
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct MonthlyReportQuery {
    tenant_id: String,
    month: String,
    #[serde(default)]
    format: Option<String>,
}

/// `GET /reports/monthly?tenantId=<id>&month=yyyy-mm&format=csv|xlsx` with the same bearer token as
/// `/graphql`: a tenant's month, with the dashboard's numbers. Errors are JSON with the GraphQL codes.
async fn monthly_report(
    state: web::Data<Arc<AppState>>,
    req: HttpRequest,
    query: web::Query<MonthlyReportQuery>,
) -> HttpResponse {
    let outcome = async {
        let principal = match request_auth(&state, &req).await {
            RequestAuth::Caller(caller) => caller.principal,
            RequestAuth::Refused(why) => return Err(ApiError::Unauthenticated(why)),
            RequestAuth::Anonymous => {
                return Err(ApiError::Unauthenticated(
                    "sign in first: send an access token as 'Authorization: Bearer …'",
                ));
            }
        };
        let tenant_id = crate::graphql::decode_id(
            "tenantId",
            crate::graphql::GlobalId::Tenant,
            &async_graphql::ID(query.tenant_id.clone()),
        )?;
        let month = fengqiao_domain::rollup::Month::parse(&query.month)
            .ok_or_else(|| ApiError::bad_input("month", "write a month as yyyy-mm"))?;
        let xlsx = match query.format.as_deref().unwrap_or("csv") {
            "csv" => false,
            "xlsx" => true,
            _ => return Err(ApiError::bad_input("format", "csv or xlsx")),
        };
        let rows = state.db_scope(&principal).await?;
        let (body, extension, mime) = scope::within(
            rows,
            state.monthly_report(&principal, tenant_id, month, xlsx),
        )
        .await?;
        Ok((body, extension, mime, month))
    }
    .await;
    match outcome {
        Ok((body, extension, mime, month)) => HttpResponse::Ok()
            .content_type(mime)
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"fengqiao-{month}.{extension}\""),
            ))
            .body(body),
        Err(error) => {
            if let ApiError::Internal(_) = &error {
                tracing::error!(error = %error.detail(), "monthly report");
            }
            let status = match &error {
                ApiError::Unauthenticated(_) => actix_web::http::StatusCode::UNAUTHORIZED,
                ApiError::Forbidden(_) => actix_web::http::StatusCode::FORBIDDEN,
                ApiError::NotFound => actix_web::http::StatusCode::NOT_FOUND,
                ApiError::BadUserInput { .. } => actix_web::http::StatusCode::BAD_REQUEST,
                _ => actix_web::http::StatusCode::INTERNAL_SERVER_ERROR,
            };
            HttpResponse::build(status).json(serde_json::json!({
                "code": error.code(),
                "message": error.message(),
            }))
        }
    }
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
