//! GraphQL over HTTP, as the GraphQL-over-HTTP specification describes it (see `docs/API.md`):
//!
//! - POST with `Content-Type: application/json` (anything else is 415), a GET with the parameters in
//!   the query string for queries (a mutation over GET is 405: a GET may be sent across sites and is
//!   kept by caches);
//! - the answer's media type negotiated by `Accept`: `application/graphql-response+json` (what Apollo
//!   Client and urql ask for first) or `application/json` (the default, for `*/*` or no `Accept`), and
//!   406 when neither is acceptable;
//! - a request that never reached execution (malformed parameters, a document that does not parse or
//!   validate, a limit) answers without `data`: 400 under `application/graphql-response+json` (429 when
//!   rate-limited, 503 for a query out of time), 200 under `application/json` as the specification asks of that media type; a body
//!   that is not a GraphQL request at all is 4xx under both;
//! - persisted queries by hash (see `persisted.rs`).

use std::sync::Arc;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};
use async_graphql::{ServerError, Variables};
use futures::StreamExt;

use super::headers::RequestId;
use super::persisted::{self, PersistedQueryStore};
use super::{BodyLimits, client_address, request_auth, request_scope, user_agent};
use crate::app::AppState;
use crate::graphql::{
    ClientAddress, CountBudget, FengqiaoSchema, OverGet, PasswordBudget, assign_error_codes,
    json_nesting,
};
use crate::store::scope;

/// The media types an answer may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    GraphqlResponse,
    Json,
}

impl MediaType {
    fn content_type(self) -> &'static str {
        match self {
            MediaType::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            MediaType::Json => "application/json; charset=utf-8",
        }
    }
}

/// The media type `Accept` asks for: the acceptable one of highest quality, the first listed among
/// equals; `application/json` for `*/*`, `application/*` or no `Accept`. `None`: neither is acceptable.
pub fn negotiate(accept: Option<&str>) -> Option<MediaType> {
    let Some(accept) = accept.filter(|a| !a.trim().is_empty()) else {
        return Some(MediaType::Json);
    };
    let mut best: Option<(f32, MediaType)> = None;
    for range in accept.split(',') {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let quality = parts
            .filter_map(|p| p.trim().strip_prefix("q=").or(p.trim().strip_prefix("Q=")))
            .find_map(|q| q.trim().parse::<f32>().ok())
            .unwrap_or(1.0);
        let candidate = match media.as_str() {
            "application/graphql-response+json" => MediaType::GraphqlResponse,
            "application/json" | "application/*" | "*/*" => MediaType::Json,
            _ => continue,
        };
        if quality > 0.0 && best.is_none_or(|(q, _)| quality > q) {
            best = Some((quality, candidate));
        }
    }
    best.map(|(_, media)| media)
}

/// A request refused before it reached GraphQL: its HTTP status, stable code and message.
#[derive(Debug)]
struct Refusal {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl Refusal {
    fn bad_request(message: impl Into<String>) -> Refusal {
        Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "BAD_REQUEST",
            message: message.into(),
        }
    }

    fn response(&self, media: MediaType, request_id: &RequestId) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if self.status == StatusCode::METHOD_NOT_ALLOWED {
            response.insert_header((header::ALLOW, "GET, POST"));
        }
        response.content_type(media.content_type()).body(
            serde_json::json!({
                "errors": [{
                    "message": self.message,
                    "extensions": { "code": self.code, "requestId": request_id.0 },
                }]
            })
            .to_string(),
        )
    }
}

/// The parameters of a GraphQL-over-HTTP request, from a JSON body or a query string.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Parameters {
    #[serde(default)]
    query: Option<String>,
    #[serde(default)]
    operation_name: Option<String>,
    /// Read straight into the engine's form (`null` is none); anything but an object is refused.
    #[serde(default)]
    variables: Variables,
    #[serde(default)]
    extensions: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The parameters of a GET, as their query string has them: `variables` and `extensions` JSON-encoded.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct QueryString {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

pub(super) async fn post(
    schema: web::Data<FengqiaoSchema>,
    state: web::Data<Arc<AppState>>,
    limits: web::Data<BodyLimits>,
    persisted: web::Data<PersistedQueryStore>,
    req: HttpRequest,
    payload: web::Payload,
) -> HttpResponse {
    let request_id = RequestId::of(&req);
    let Some(media) = accepted(&req) else {
        return not_acceptable(&request_id);
    };
    let parameters = match json_body(&req, payload, &limits).await {
        Ok(parameters) => parameters,
        Err(refusal) => return refusal.response(media, &request_id),
    };
    run(
        &schema, &state, &limits, &persisted, &req, media, parameters, None,
    )
    .await
}

pub(super) async fn get(
    schema: web::Data<FengqiaoSchema>,
    state: web::Data<Arc<AppState>>,
    limits: web::Data<BodyLimits>,
    persisted: web::Data<PersistedQueryStore>,
    req: HttpRequest,
) -> HttpResponse {
    let request_id = RequestId::of(&req);
    let Some(media) = accepted(&req) else {
        return not_acceptable(&request_id);
    };
    let parameters = match query_string(&req, &limits) {
        Ok(parameters) => parameters,
        Err(refusal) => return refusal.response(media, &request_id),
    };
    let over_get = OverGet {
        operation_name: parameters.operation_name.clone(),
    };
    run(
        &schema,
        &state,
        &limits,
        &persisted,
        &req,
        media,
        parameters,
        Some(over_get),
    )
    .await
}

/// Any method but GET and POST (and a preflight, which CORS answers).
pub(super) async fn other_method(req: HttpRequest) -> HttpResponse {
    Refusal {
        status: StatusCode::METHOD_NOT_ALLOWED,
        code: "METHOD_NOT_ALLOWED",
        message: format!("{} is not served here: send GET or POST", req.method()),
    }
    .response(
        accepted(&req).unwrap_or(MediaType::Json),
        &RequestId::of(&req),
    )
}

fn accepted(req: &HttpRequest) -> Option<MediaType> {
    negotiate(
        req.headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok()),
    )
}

fn not_acceptable(request_id: &RequestId) -> HttpResponse {
    Refusal {
        status: StatusCode::NOT_ACCEPTABLE,
        code: "NOT_ACCEPTABLE",
        message: "answers are application/graphql-response+json or application/json; accept one"
            .into(),
    }
    .response(MediaType::Json, request_id)
}

/// Reads a POST body of at most `max_bytes` (refusing a larger one as soon as its length is known,
/// without reading on), checks its media type and how deeply its JSON nests before parsing it.
async fn json_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limits: &BodyLimits,
) -> Result<Parameters, Refusal> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !is_json_utf8(content_type) {
        return Err(Refusal {
            status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
            code: "UNSUPPORTED_MEDIA_TYPE",
            message: "send the request as Content-Type: application/json (UTF-8)".into(),
        });
    }
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
        let chunk =
            chunk.map_err(|_| Refusal::bad_request("the request body could not be read"))?;
        if body.len() + chunk.len() > limits.max_bytes {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    too_deep(&body, limits.max_nesting, "the request body")?;
    serde_json::from_slice::<Parameters>(&body).map_err(|e| {
        Refusal::bad_request(format!(
            "the body must be a JSON object with 'query' (a string) and optional 'variables' and \
             'extensions' (objects) and 'operationName' (a string) (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// `application/json`, with no `charset` or `charset=utf-8`.
fn is_json_utf8(content_type: &str) -> bool {
    let mut parts = content_type.split(';');
    let media = parts.next().unwrap_or("").trim();
    media.eq_ignore_ascii_case("application/json")
        && parts.all(|p| {
            let (name, value) = p.split_once('=').unwrap_or((p, ""));
            !name.trim().eq_ignore_ascii_case("charset")
                || value.trim().trim_matches('"').eq_ignore_ascii_case("utf-8")
        })
}

fn too_deep(json: &[u8], max: usize, what: &str) -> Result<(), Refusal> {
    if json_nesting(json, max) > max {
        return Err(Refusal {
            status: StatusCode::BAD_REQUEST,
            code: "QUERY_TOO_COMPLEX",
            message: format!("{what} nests deeper than {max} levels"),
        });
    }
    Ok(())
}

/// The parameters of a GET's query string.
fn query_string(req: &HttpRequest, limits: &BodyLimits) -> Result<Parameters, Refusal> {
    let raw: QueryString = serde_urlencoded::from_str(req.query_string()).map_err(|e| {
        Refusal::bad_request(format!(
            "the query string must carry query, and optionally operationName, variables and \
             extensions (JSON), each once: {e}"
        ))
    })?;
    let refused =
        |name: &str| Refusal::bad_request(format!("{name} must be a JSON object, URL-encoded"));
    let variables = match raw.variables {
        None => Variables::default(),
        Some(text) => {
            too_deep(text.as_bytes(), limits.max_nesting, "variables")?;
            serde_json::from_str::<Variables>(&text).map_err(|_| refused("variables"))?
        }
    };
    let extensions = match raw.extensions {
        None => None,
        Some(text) => {
            too_deep(text.as_bytes(), limits.max_nesting, "extensions")?;
            match serde_json::from_str::<serde_json::Value>(&text) {
                Ok(serde_json::Value::Object(map)) => Some(map),
                Ok(serde_json::Value::Null) => None,
                _ => return Err(refused("extensions")),
            }
        }
    };
    Ok(Parameters {
        variables,
        extensions,
        query: raw.query,
        operation_name: raw.operation_name,
    })
}

/// Runs a request's operation in its caller's database scope and answers it.
#[allow(clippy::too_many_arguments)]
async fn run(
    schema: &FengqiaoSchema,
    state: &AppState,
    limits: &BodyLimits,
    persisted: &PersistedQueryStore,
    req: &HttpRequest,
    media: MediaType,
    parameters: Parameters,
    over_get: Option<OverGet>,
) -> HttpResponse {
    let request_id = RequestId::of(req);
    let get = over_get.is_some();
    let hash = match persisted::requested_hash(parameters.extensions.as_ref()) {
        Ok(hash) => hash,
        Err(refused) => return persisted_refusal(&refused, media, &request_id),
    };
    let query = match persisted.resolve(parameters.query, hash).await {
        Ok(query) => query,
        Err(refused) => return persisted_refusal(&refused, media, &request_id),
    };
    let mut request = async_graphql::Request::new(query).variables(parameters.variables);
    if let Some(name) = parameters.operation_name {
        request = request.operation_name(name);
    }
    if let Some(over_get) = over_get {
        request = request.data(over_get);
    }
    let auth = request_auth(state, req).await;
    let rows = request_scope(state, &auth).await;
    let request = request
        .data(auth)
        .data(ClientAddress(client_address(req, &limits.trusted_proxies)))
        .data(user_agent(req))
        .data(PasswordBudget::one())
        .data(CountBudget::per_request());
    let mut response = scope::within(rows, schema.execute(request)).await;
    assign_error_codes(&mut response.errors, &request_id.0);
    answer(response, media, get.then_some(req))
}

/// A persisted query that could not be had: a malformed extension is a malformed request (400 under
/// both media types); an unknown or refused hash is a GraphQL request error.
fn persisted_refusal(
    refused: &persisted::Refused,
    media: MediaType,
    request_id: &RequestId,
) -> HttpResponse {
    if let persisted::Refused::Invalid(why) = refused {
        return Refusal::bad_request(why.clone()).response(media, request_id);
    }
    let mut errors = vec![refused.server_error()];
    assign_error_codes(&mut errors, &request_id.0);
    answer(async_graphql::Response::from_errors(errors), media, None)
}

/// An error's `extensions.code`, if it has one.
fn code_of(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code.as_str()),
        _ => None,
    }
}

/// The HTTP answer to a GraphQL response: a request error (errors, no data, none raised by a field, so
/// nothing ran) answers without `data`.
fn answer(
    response: async_graphql::Response,
    media: MediaType,
    get: Option<&HttpRequest>,
) -> HttpResponse {
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    let has = |wanted: &str| response.errors.iter().any(|e| code_of(e) == Some(wanted));
    let status = if has("METHOD_NOT_ALLOWED") {
        StatusCode::METHOD_NOT_ALLOWED
    } else if request_error && media == MediaType::GraphqlResponse {
        if has("RATE_LIMITED") {
            StatusCode::TOO_MANY_REQUESTS
        } else if has("REQUEST_TIMEOUT") {
            // The query ran out of time: nothing wrong with the request as such.
            StatusCode::SERVICE_UNAVAILABLE
        } else {
            StatusCode::BAD_REQUEST
        }
    } else {
        StatusCode::OK
    };
    let retry_after = response
        .errors
        .iter()
        .filter_map(|e| e.extensions.as_ref()?.get("retryAfter").cloned())
        .find_map(|v| match v {
            async_graphql::Value::Number(n) => n.as_u64(),
            _ => None,
        });
    // Written straight from the response; a request error without its `data` entry.
    let written = if request_error {
        serde_json::to_string(&RequestErrors {
            errors: &response.errors,
            extensions: &response.extensions,
        })
    } else {
        serde_json::to_string(&response)
    };
    let body = written.unwrap_or_else(|_| {
        r#"{"errors":[{"message":"the answer could not be written","extensions":{"code":"INTERNAL"}}]}"#
            .to_owned()
    });
    let mut http = HttpResponse::build(status);
    http.content_type(media.content_type());
    for (name, value) in response.http_headers.iter() {
        if let Ok(value) = HeaderValue::from_bytes(value.as_bytes()) {
            http.append_header((name.as_str(), value));
        }
    }
    if status == StatusCode::METHOD_NOT_ALLOWED {
        http.insert_header((header::ALLOW, "POST"));
    }
    if let Some(seconds) = retry_after {
        http.insert_header((header::RETRY_AFTER, seconds.to_string()));
    }
    if let Some(req) = get
        && status == StatusCode::OK
        && response.errors.is_empty()
        && cache_headers(req, &mut http, &body)
    {
        return http.status(StatusCode::NOT_MODIFIED).finish();
    }
    http.body(body)
}

/// The answer to a request error: its errors (and extensions), no `data`.
#[derive(serde::Serialize)]
struct RequestErrors<'a> {
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

/// How a GET's answer may be kept: one answered without errors to a caller without a token by shared
/// caches for a minute (an anonymous caller sees nothing personal), revalidated by its `ETag`
/// (`If-None-Match` → 304); with a token it is `no-store`, the default of every response.
fn cache_headers(req: &HttpRequest, http: &mut actix_web::HttpResponseBuilder, body: &str) -> bool {
    http.insert_header((header::VARY, "Accept, Authorization"));
    if req.headers().contains_key(header::AUTHORIZATION) {
        return false;
    }
    let tag = format!("\"{}\"", &persisted::sha256_hex(body)[..32]);
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == tag || t.trim() == "*"));
    http.insert_header((header::ETAG, tag));
    http.insert_header((header::CACHE_CONTROL, "public, max-age=60"));
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_chooses_the_media_type_of_highest_quality() {
        use MediaType::{GraphqlResponse as G, Json as J};
        let cases: [(Option<&str>, Option<MediaType>); 11] = [
            (None, Some(J)),
            (Some(""), Some(J)),
            (Some("*/*"), Some(J)),
            (Some("application/json"), Some(J)),
            (Some("application/graphql-response+json"), Some(G)),
            (
                Some("application/graphql-response+json, application/json;q=0.9"),
                Some(G),
            ),
            (
                Some("application/json, application/graphql-response+json"),
                Some(J),
            ),
            (
                Some("application/json;q=0.5, application/graphql-response+json;q=0.8"),
                Some(G),
            ),
            (Some("text/html, */*;q=0.8"), Some(J)),
            (Some("text/html"), None),
            (Some("application/json;q=0"), None),
        ];
        for (accept, expected) in cases {
            assert_eq!(negotiate(accept), expected, "{accept:?}");
        }
    }

    #[test]
    fn only_json_in_utf8_is_a_request_body() {
        for accepted in [
            "application/json",
            "application/json; charset=utf-8",
            "Application/JSON;charset=\"UTF-8\"",
        ] {
            assert!(is_json_utf8(accepted), "{accepted}");
        }
        for refused in [
            "",
            "text/plain",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "application/json; charset=latin1",
            "application/jsonp",
        ] {
            assert!(!is_json_utf8(refused), "{refused}");
        }
    }
}
