//! What every response carries beside its body: the request's id, the security headers, and the CORS
//! answer for pages of other origins.

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{RequestHead, ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::{DefaultHeaders, Next};
use actix_web::{Error, HttpMessage, HttpRequest};
use tracing::Instrument;

use crate::config::HttpConfig;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The id of one HTTP request (or of the websocket connection it opened): the client's `x-request-id`
/// when it is a plausible one, a new one otherwise. It is echoed in the response, named in every log line
/// of the request and in every error's `extensions.requestId`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id the middleware gave a request.
    pub fn of(req: &HttpRequest) -> RequestId {
        req.extensions()
            .get::<RequestId>()
            .cloned()
            .unwrap_or_else(RequestId::new)
    }

    fn new() -> RequestId {
        RequestId(format!("{:032x}", rand::random::<u128>()))
    }

    /// A client's id is kept when it is 1 to 128 letters, digits and `.-_:`, so that it cannot forge log
    /// lines or smuggle anything into them; any other is replaced.
    fn from_client(value: Option<&HeaderValue>) -> Option<RequestId> {
        let text = value?.to_str().ok()?;
        let plausible = (1..=128).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':'));
        plausible.then(|| RequestId(text.to_owned()))
    }
}

/// Middleware: gives the request its id, runs it inside a `request` span carrying the id, and echoes it.
pub async fn request_id(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = RequestId::from_client(req.headers().get(&REQUEST_ID)).unwrap_or_else(RequestId::new);
    req.extensions_mut().insert(id.clone());
    let span = tracing::info_span!("request", request_id = %id.0);
    let mut response = next.call(req).instrument(span).await?;
    if let Ok(value) = HeaderValue::from_str(&id.0) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    Ok(response)
}

/// The headers every response gets unless its handler set its own (GraphiQL sets a wider
/// `Content-Security-Policy`, a cacheable GET its `Cache-Control`).
pub fn security_headers(config: &HttpConfig) -> DefaultHeaders {
    let headers = DefaultHeaders::new()
        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .add((header::X_FRAME_OPTIONS, "DENY"))
        .add((header::REFERRER_POLICY, "no-referrer"))
        .add((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'",
        ))
        .add((
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ))
        .add((
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=()",
        ))
        .add((header::CACHE_CONTROL, "no-store"));
    if config.hsts_seconds > 0 {
        headers.add((
            header::STRICT_TRANSPORT_SECURITY,
            format!("max-age={}; includeSubDomains", config.hsts_seconds),
        ))
    } else {
        headers
    }
}

/// CORS as configured: the listed origins (or every origin for `"*"`), GET and POST, the headers a
/// GraphQL client sends, `x-request-id` and `retry-after` readable by the page. A request from another
/// origin is still served (a server-side client may send any `Origin`), without the headers that would
/// let a browser page read the answer; a preflight from it is refused, so the browser never sends it.
pub fn cors(config: &HttpConfig) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            REQUEST_ID,
        ])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER])
        .max_age(config.cors_max_age_seconds)
        // A page of the server's own origin (GraphiQL) sends `Origin` with its POSTs too.
        .allowed_origin_fn(same_origin);
    for origin in &config.cors_allowed_origins {
        cors = if origin == "*" {
            cors.allow_any_origin().send_wildcard()
        } else {
            cors.allowed_origin(origin)
        };
    }
    if config.cors_allow_credentials {
        cors = cors.supports_credentials();
    }
    cors
}

/// Whether `Origin` names the host the request was sent to: a browser sets both, and a page cannot
/// forge either.
fn same_origin(origin: &HeaderValue, head: &RequestHead) -> bool {
    let (Ok(origin), Some(host)) = (
        origin.to_str(),
        head.headers()
            .get(header::HOST)
            .and_then(|h| h.to_str().ok()),
    ) else {
        return false;
    };
    origin
        .strip_prefix("http://")
        .or_else(|| origin.strip_prefix("https://"))
        .is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_clients_request_id_is_kept_only_when_plausible() {
        let id = |text: &str| {
            RequestId::from_client(Some(&HeaderValue::from_str(text).unwrap())).map(|id| id.0)
        };
        assert_eq!(
            id("7f3a-9c.01:trace_2").as_deref(),
            Some("7f3a-9c.01:trace_2")
        );
        for refused in ["", "a b", "x\"y", "{}", "%0a", &"a".repeat(129), "王"] {
            let Ok(value) = HeaderValue::from_str(refused) else {
                continue;
            };
            assert_eq!(RequestId::from_client(Some(&value)), None, "{refused:?}");
        }
        assert_eq!(RequestId::from_client(None), None);
        let generated = RequestId::new().0;
        assert_eq!(generated.len(), 32);
        assert_ne!(generated, RequestId::new().0);
    }
}
