//! HTTP: `/graphql` (POST; GET opens a websocket for subscriptions), `/graphiql`, `/healthz` (the process is up) and `/readyz` (the
//! database answers; the cache's state is reported, but a server without its cache still serves).

use std::any::TypeId;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::http::{StatusCode, header};
use actix_web::{App, Either, HttpRequest, HttpResponse, HttpServer, guard, web};
use async_graphql::http::GraphiQLSource;
use async_graphql::{Data, Executor};
use async_graphql_actix_web::{GraphQLResponse, GraphQLSubscription};
use futures::StreamExt;
use futures::stream::BoxStream;

use crate::app::AppState;
use crate::config::{AddressRange, GraphqlConfig};
use crate::error::ApiError;
use crate::graphql::{
    ClientAddress, FengqiaoSchema, PasswordBudget, RequestAuth, UserAgent, assign_error_codes,
    build_schema, json_nesting,
};
use crate::store::scope::{self, DbScope};

/// An HTTP server for the API on an already bound listener.
pub fn server(
    state: Arc<AppState>,
    config: &GraphqlConfig,
    listener: std::net::TcpListener,
) -> std::io::Result<Server> {
    let schema = build_schema(state.clone(), config);
    let graphiql = config.graphiql;
    let limits = web::Data::new(BodyLimits {
        max_bytes: config.max_body_bytes,
        max_nesting: config.max_nesting,
        trusted_proxies: config.trusted_proxies.clone(),
    });
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(schema.clone()))
            .app_data(web::Data::new(state.clone()))
            .app_data(limits.clone())
            // Every other extractor (the report's query string) is bounded as well.
            .app_data(web::PayloadConfig::new(limits.max_bytes))
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
    .route("/audit/export", web::get().to(audit_export))
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

/// What an HTTP request to `/graphql` may be, and whose forwarded addresses are believed.
#[derive(Debug, Clone)]
pub struct BodyLimits {
    pub max_bytes: usize,
    pub max_nesting: usize,
    pub trusted_proxies: Vec<AddressRange>,
}

/// A request refused before it reached GraphQL: its HTTP status, stable code and message.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn response(&self) -> HttpResponse {
        HttpResponse::build(self.status).json(serde_json::json!({
            "errors": [{ "message": self.message, "extensions": { "code": self.code } }]
        }))
    }
}

/// Reads a `/graphql` body of at most `max_bytes` (refusing a larger one as soon as its length is
/// known, without reading on), checks how deeply its JSON nests before parsing it, and parses it as a
/// GraphQL request.
async fn read_request(
    req: &HttpRequest,
    mut payload: web::Payload,
    limits: &BodyLimits,
) -> Result<async_graphql::Request, Refusal> {
    let too_large = || Refusal {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        code: "REQUEST_TOO_LARGE",
        message: format!("a request body may have at most {} bytes", limits.max_bytes),
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limits.max_bytes) {
        return Err(too_large());
    }
    let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limits.max_bytes));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "BAD_REQUEST",
            message: "the request body could not be read".into(),
        })?;
        if body.len() + chunk.len() > limits.max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    if json_nesting(&body, limits.max_nesting) > limits.max_nesting {
        return Err(Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "QUERY_TOO_COMPLEX",
            message: format!(
                "the request body nests deeper than {} levels",
                limits.max_nesting
            ),
        });
    }
    serde_json::from_slice::<async_graphql::Request>(&body).map_err(|e| Refusal {
        status: StatusCode::BAD_REQUEST,
        code: "BAD_REQUEST",
        message: format!(
            "the body must be a JSON object with 'query' and optional 'variables' and 'operationName' \
             (line {}, column {})",
            e.line(),
            e.column()
        ),
    })
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
fn user_agent(req: &HttpRequest) -> UserAgent {
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

async fn graphql(
    schema: web::Data<FengqiaoSchema>,
    state: web::Data<Arc<AppState>>,
    limits: web::Data<BodyLimits>,
    req: HttpRequest,
    payload: web::Payload,
) -> Either<GraphQLResponse, HttpResponse> {
    let request = match read_request(&req, payload, &limits).await {
        Ok(request) => request,
        Err(refusal) => return Either::Right(refusal.response()),
    };
    let auth = request_auth(&state, &req).await;
    let rows = request_scope(&state, &auth).await;
    let request = request
        .data(auth)
        .data(ClientAddress(client_address(&req, &limits.trusted_proxies)))
        .data(user_agent(&req))
        .data(PasswordBudget::one());
    let mut response = scope::within(rows, schema.execute(request)).await;
    assign_error_codes(&mut response.errors);
    Either::Left(response.into())
}

/// Subscriptions (and any other operation) over a websocket, `graphql-transport-ws` or `graphql-ws`.
async fn graphql_ws(
    schema: web::Data<FengqiaoSchema>,
    state: web::Data<Arc<AppState>>,
    limits: web::Data<BodyLimits>,
    req: HttpRequest,
    payload: web::Payload,
) -> actix_web::Result<HttpResponse> {
    let state = state.get_ref().clone();
    let client = ClientAddress(client_address(&req, &limits.trusted_proxies));
    let agent = user_agent(&req);
    GraphQLSubscription::new(ScopedSchema {
        schema: schema.get_ref().clone(),
        state: state.clone(),
    })
    .on_connection_init(move |init| connection_init(state, init, client, agent))
    .start(&req, metered(payload, limits.max_bytes))
}

/// What a websocket may send: a burst of `burst` bytes, refilled at `burst` a minute. The websocket codec
/// caps a frame at 64 KiB, but a message sent in continuation frames is gathered whole before it is
/// parsed; past the budget the stream ends, and with it the connection.
fn metered(
    payload: web::Payload,
    burst: usize,
) -> impl futures::Stream<Item = Result<web::Bytes, actix_web::error::PayloadError>> + 'static {
    let burst = burst as f64;
    let per_second = burst / 60.0;
    let mut allowance = burst;
    let mut last = std::time::Instant::now();
    let mut exhausted = false;
    payload.map(move |chunk| {
        if exhausted {
            return Err(actix_web::error::PayloadError::Overflow);
        }
        let chunk = chunk?;
        let now = std::time::Instant::now();
        allowance = (allowance + now.duration_since(last).as_secs_f64() * per_second).min(burst);
        last = now;
        allowance -= chunk.len() as f64;
        if allowance < 0.0 {
            exhausted = true;
            tracing::warn!("a websocket sent more than its budget; closing it");
            return Err(actix_web::error::PayloadError::Overflow);
        }
        Ok(chunk)
    })
}

/// Checks the access token of a websocket's `connection_init` (`{"Authorization": "Bearer …"}`, or
/// `{"token": "…"}`) and keeps the caller and its database scope for the connection's operations. A
/// connection without a valid token is closed.
async fn connection_init(
    state: Arc<AppState>,
    init: serde_json::Value,
    client: ClientAddress,
    agent: UserAgent,
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
    data.insert(client);
    data.insert(agent);
    Ok(data)
}

/// The schema for websocket connections: every operation runs in its connection's database scope, only
/// while the connection's session is live (not signed out, its access token not expired), with a password
/// check of its own; its errors get stable codes as over HTTP.
#[derive(Clone)]
struct ScopedSchema {
    schema: FengqiaoSchema,
    state: Arc<AppState>,
}

fn session_value<T: Clone + Send + Sync + 'static>(data: Option<&Data>) -> Option<T> {
    data.and_then(|data| data.get(&TypeId::of::<T>()))
        .and_then(|value| value.downcast_ref::<T>())
        .cloned()
}

impl Executor for ScopedSchema {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        // Websocket operations arrive through `execute_stream`, with their connection's data; a request
        // on its own carries no caller.
        let mut response = scope::within(DbScope::Nobody, self.schema.execute(request)).await;
        assign_error_codes(&mut response.errors);
        response
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let rows = session_value::<DbScope>(session_data.as_deref()).unwrap_or(DbScope::Nobody);
        let caller = match session_value::<RequestAuth>(session_data.as_deref()) {
            Some(RequestAuth::Caller(caller)) => Some(caller),
            _ => None,
        };
        let client =
            session_value::<ClientAddress>(session_data.as_deref()).unwrap_or(ClientAddress(None));
        let request = request.data(PasswordBudget::one()).data(client);
        let (schema, state) = (self.schema.clone(), self.state.clone());
        let operation = async move {
            if let Some(caller) = &caller
                && let Err(refused) = state.still_valid(caller).await
            {
                let error = async_graphql::ErrorExtensions::extend(&refused)
                    .into_server_error(async_graphql::Pos::default());
                return futures::stream::once(async move {
                    async_graphql::Response::from_errors(vec![error])
                })
                .boxed();
            }
            let responses =
                schema.execute_stream_with_session_data(request, session_data.unwrap_or_default());
            scope::within_stream(rows, responses).boxed()
        };
        futures::stream::once(operation)
            .flatten()
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
    limits: web::Data<BodyLimits>,
    req: HttpRequest,
    query: web::Query<MonthlyReportQuery>,
) -> HttpResponse {
    let client = client_address(&req, &limits.trusted_proxies);
    let outcome = async {
        let principal = signed_in(&state, &req).await?;
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
            state.monthly_report(&principal, tenant_id, month, xlsx, client),
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
        Err(error) => error_response("monthly report", error),
    }
}

#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditExportQuery {
    tenant_id: String,
    from: String,
    to: String,
}

/// `GET /audit/export?tenantId=<id>&from=yyyy-mm-dd&to=yyyy-mm-dd` with the auditor's bearer token: the
/// audit trail of the tenant's subtree over those days as CSV. Errors are JSON with the GraphQL codes.
async fn audit_export(
    state: web::Data<Arc<AppState>>,
    limits: web::Data<BodyLimits>,
    req: HttpRequest,
    query: web::Query<AuditExportQuery>,
) -> HttpResponse {
    let client = client_address(&req, &limits.trusted_proxies);
    let outcome = async {
        let principal = signed_in(&state, &req).await?;
        let tenant_id = crate::graphql::decode_id(
            "tenantId",
            crate::graphql::GlobalId::Tenant,
            &async_graphql::ID(query.tenant_id.clone()),
        )?;
        let day = |field: &'static str, text: &str| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map_err(|_| ApiError::bad_input(field, "write a day as yyyy-mm-dd"))
        };
        let (from, to) = (day("from", &query.from)?, day("to", &query.to)?);
        let rows = state.db_scope(&principal).await?;
        let body = scope::within(
            rows,
            state.export_audit(&principal, tenant_id, from, to, client),
        )
        .await?;
        Ok((body, from, to))
    }
    .await;
    match outcome {
        Ok((body, from, to)) => HttpResponse::Ok()
            .content_type("text/csv; charset=utf-8")
            .insert_header((
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"fengqiao-audit-{from}-{to}.csv\""),
            ))
            .body(body),
        Err(error) => error_response("audit export", error),
    }
}

/// The caller of a plain HTTP route, which needs a bearer token as `/graphql` does.
async fn signed_in(
    state: &AppState,
    req: &HttpRequest,
) -> Result<fengqiao_tenancy::Principal, ApiError> {
    match request_auth(state, req).await {
        RequestAuth::Caller(caller) => Ok(caller.principal),
        RequestAuth::Refused(why) => Err(ApiError::Unauthenticated(why)),
        RequestAuth::Anonymous => Err(ApiError::Unauthenticated(
            "sign in first: send an access token as 'Authorization: Bearer …'",
        )),
    }
}

/// A typed error on a plain HTTP route, as JSON with its code.
fn error_response(route: &str, error: ApiError) -> HttpResponse {
    if let ApiError::Internal(_) = &error {
        tracing::error!(error = %error.detail(), route, "internal error");
    }
    let mut response = HttpResponse::build(status_of(&error));
    if let Some(seconds) = error.retry_after() {
        response.insert_header((header::RETRY_AFTER, seconds.to_string()));
    }
    response.json(serde_json::json!({
        "code": error.code(),
        "message": error.message(),
    }))
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
