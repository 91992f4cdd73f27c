//! GraphQL over HTTP as third-party front ends meet it: media types by `Accept`, status codes, GET for
//! queries only, persisted queries (automatic and allow-list), CORS, request ids, compression, security
//! headers and GraphiQL from the binary. The browser's own view of CORS is in `browser.rs`; the
//! `graphql-http` audit suite runs in CI against the release binary (`.ci/run`).

use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};

use crate::helpers::*;

const GR: &str = "application/graphql-response+json";
const ME: &str = "query Me { me { user { username } } }";

/// Sends a request and returns (status, headers, body parsed as JSON or `{"raw": text}`).
async fn send(request: reqwest::RequestBuilder) -> (u16, HeaderMap, Value) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(json!({ "raw": text }));
    (status, headers, body)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
}

/// Where requests go: a test server, or its state served at another address.
trait Endpoint {
    fn client(&self) -> &reqwest::Client;
    fn graphql_url(&self) -> &str;
}

impl Endpoint for TestApp {
    fn client(&self) -> &reqwest::Client {
        &self.http
    }
    fn graphql_url(&self) -> &str {
        &self.url
    }
}

impl Endpoint for AllowListed<'_> {
    fn client(&self) -> &reqwest::Client {
        &self.app.http
    }
    fn graphql_url(&self) -> &str {
        &self.url
    }
}

fn post(app: &impl Endpoint, accept: Option<&str>, body: Value) -> reqwest::RequestBuilder {
    let request = app.client().post(app.graphql_url()).json(&body);
    match accept {
        Some(accept) => request.header("accept", accept),
        None => request,
    }
}

fn get(app: &impl Endpoint, params: &[(&str, &str)]) -> reqwest::RequestBuilder {
    app.client().get(app.graphql_url()).query(params)
}

fn sha256_hex(text: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_answers_media_type_follows_accept() {
    let app = TestApp::spawn().await;
    let query = json!({ "query": "{ __typename }" });
    for (accept, media) in [
        (None, "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/json"), "application/json"),
        (Some(GR), GR),
        (
            Some("application/graphql-response+json, application/json;q=0.9"),
            GR,
        ),
    ] {
        let (status, headers, body) = send(post(&app, accept, query.clone())).await;
        assert_eq!(status, 200, "{accept:?}: {body}");
        assert_eq!(
            header(&headers, "content-type"),
            format!("{media}; charset=utf-8"),
            "{accept:?}"
        );
        assert_eq!(body["data"]["__typename"], "Query");
    }
    let (status, headers, body) = send(post(&app, Some("text/html"), query)).await;
    assert_eq!(status, 406, "{body}");
    assert_eq!(code(&body), "NOT_ACCEPTABLE");
    assert!(header(&headers, "content-type").starts_with("application/json"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_document_that_does_not_parse_or_validate_answers_without_data() {
    let app = TestApp::spawn().await;
    for (query, expected) in [
        ("{ me { ", "GRAPHQL_PARSE_FAILED"),
        ("{ nosuchfield }", "GRAPHQL_VALIDATION_FAILED"),
    ] {
        // The new media type: 400, and no `data` at all.
        let (status, _, body) = send(post(&app, Some(GR), json!({ "query": query }))).await;
        assert_eq!(status, 400, "{query}: {body}");
        assert!(body.get("data").is_none(), "{query}: {body}");
        assert_eq!(code(&body), expected, "{body}");
        // application/json: 200 as its media type asks, still no `data`.
        let (status, _, body) = send(post(
            &app,
            Some("application/json"),
            json!({ "query": query }),
        ))
        .await;
        assert_eq!(status, 200, "{query}: {body}");
        assert!(body.get("data").is_none(), "{query}: {body}");
        assert_eq!(code(&body), expected, "{body}");
    }
    // A field's error is not a request error: `data` is there (null), and the status 200.
    let (status, _, body) = send(post(&app, Some(GR), json!({ "query": ME }))).await;
    assert_eq!(status, 200, "{body}");
    assert!(body.get("data").is_some(), "{body}");
    assert_eq!(code(&body), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_requests_are_refused_with_4xx_under_both_media_types() {
    let app = TestApp::spawn().await;
    let cases = [
        (json!({ "query": 7 }), "BAD_REQUEST"),
        (json!({ "query": ["{ __typename }"] }), "BAD_REQUEST"),
        (
            json!({ "query": "{ __typename }", "variables": "{}" }),
            "BAD_REQUEST",
        ),
        (
            json!({ "query": "{ __typename }", "variables": [1] }),
            "BAD_REQUEST",
        ),
        (
            json!({ "query": "{ __typename }", "operationName": 7 }),
            "BAD_REQUEST",
        ),
        (
            json!({ "query": "{ __typename }", "extensions": "x" }),
            "BAD_REQUEST",
        ),
        (json!({}), "BAD_REQUEST"),
        (json!([{ "query": "{ __typename }" }]), "BAD_REQUEST"),
        (json!("{ __typename }"), "BAD_REQUEST"),
    ];
    for accept in [GR, "application/json"] {
        for (body, expected) in &cases {
            let (status, _, answer) = send(post(&app, Some(accept), body.clone())).await;
            assert_eq!(status, 400, "{accept} {body}: {answer}");
            assert_eq!(code(&answer), *expected, "{body}: {answer}");
            assert!(answer.get("data").is_none());
        }
    }
    // Null parameters are allowed.
    let (status, _, body) = send(post(
        &app,
        Some(GR),
        json!({ "query": "{ __typename }", "variables": null, "operationName": null, "extensions": null }),
    ))
    .await;
    assert_eq!(status, 200, "{body}");
    // A body that is no JSON, or JSON of another media type.
    for (content_type, body, status_expected, expected) in [
        ("application/json", "{not json", 400, "BAD_REQUEST"),
        (
            "text/plain",
            "{\"query\": \"{ __typename }\"}",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "application/x-www-form-urlencoded",
            "query=%7B__typename%7D",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
        (
            "application/json; charset=latin1",
            "{\"query\": \"{ __typename }\"}",
            415,
            "UNSUPPORTED_MEDIA_TYPE",
        ),
    ] {
        let (status, _, answer) = send(
            app.http
                .post(&app.url)
                .header("content-type", content_type)
                .header("accept", GR)
                .body(body),
        )
        .await;
        assert_eq!(status, status_expected, "{content_type}: {answer}");
        assert_eq!(code(&answer), expected, "{answer}");
    }
    // Other methods.
    let (status, headers, body) = send(app.http.put(&app.url).body("{}")).await;
    assert_eq!(status, 405, "{body}");
    assert_eq!(header(&headers, "allow"), "GET, POST");
    assert_eq!(code(&body), "METHOD_NOT_ALLOWED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_runs_queries_and_never_mutations() {
    let app = TestApp::spawn().await;
    let (status, _, body) = send(get(&app, &[("query", ME)]).bearer_auth(&app.admin_token)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["me"]["user"]["username"],
        format!("{}.admin", app.tag)
    );
    // Variables and operationName in the query string.
    let (status, _, body) = send(
        get(
            &app,
            &[
                (
                    "query",
                    "query A { a: __typename } query B($n: String!) { b: __type(name: $n) { name } }",
                ),
                ("operationName", "B"),
                ("variables", "{\"n\": \"Case\"}"),
            ],
        )
        .bearer_auth(&app.admin_token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["b"]["name"], "Case", "{body}");
    // A mutation, alone or picked out of a document with a query, is 405 with `Allow: POST`, and it
    // does not run: the password is not checked (no failed sign-in is counted).
    let sign_in = "mutation { signIn(username: \"nobody\", password: \"wrong\") { accessToken } }";
    for params in [
        vec![("query", sign_in)],
        vec![
            (
                "query",
                "query Q { __typename } mutation M { signIn(username: \"nobody\", password: \"x\") { accessToken } }",
            ),
            ("operationName", "M"),
        ],
        vec![(
            "query",
            "subscription { centerEvents(tenantId: \"x\") { __typename } }",
        )],
    ] {
        let (status, headers, body) = send(get(&app, &params).header("accept", GR)).await;
        assert_eq!(status, 405, "{params:?}: {body}");
        assert_eq!(header(&headers, "allow"), "POST");
        assert_eq!(code(&body), "METHOD_NOT_ALLOWED", "{body}");
        assert!(body.get("data").is_none());
    }
    // Malformed query strings.
    for params in [
        vec![("query", "{ __typename }"), ("variables", "not json")],
        vec![("query", "{ __typename }"), ("variables", "[1]")],
        vec![("query", "{ __typename }"), ("query", "{ __typename }")],
        vec![],
    ] {
        let (status, _, body) = send(get(&app, &params)).await;
        assert_eq!(status, 400, "{params:?}: {body}");
        assert_eq!(code(&body), "BAD_REQUEST", "{body}");
    }
    let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
    let (status, _, body) = send(get(
        &app,
        &[
            ("query", "{ __typename }"),
            ("variables", &format!("{{\"v\": {deep}}}")),
        ],
    ))
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anonymous_get_may_be_cached_and_revalidated_a_signed_in_one_is_not_stored() {
    let app = TestApp::spawn().await;
    let (status, headers, _) = send(get(&app, &[("query", "{ __typename }")])).await;
    assert_eq!(status, 200);
    assert_eq!(header(&headers, "cache-control"), "public, max-age=60");
    assert!(header(&headers, "vary").contains("Authorization"));
    let tag = header(&headers, "etag").to_owned();
    assert!(tag.starts_with('"') && tag.len() == 34, "{tag}");
    let again = app
        .http
        .get(&app.url)
        .query(&[("query", "{ __typename }")])
        .header("if-none-match", &tag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status().as_u16(), 304);
    let (_, headers, _) = send(get(&app, &[("query", ME)]).bearer_auth(&app.admin_token)).await;
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert_eq!(header(&headers, "etag"), "");
    // POST answers are never stored.
    let (_, headers, _) = send(post(&app, None, json!({ "query": "{ __typename }" }))).await;
    assert_eq!(header(&headers, "cache-control"), "no-store");
}

/// The automatic persisted-query exchange as Apollo Client makes it: the hash alone, the hash with the
/// text, then the hash alone over GET.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_persisted_query_is_registered_once_and_then_runs_by_hash_over_get() {
    let app = TestApp::spawn().await;
    let hash = sha256_hex(ME);
    let extension = json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } });
    let (status, _, body) = send(
        post(&app, Some(GR), json!({ "extensions": extension })).bearer_auth(&app.admin_token),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(code(&body), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(body["errors"][0]["message"], "PersistedQueryNotFound");
    // Under application/json the same error answers 200 (the clients look at the body).
    let (status, _, body) = send(post(&app, None, json!({ "extensions": extension }))).await;
    assert_eq!((status, code(&body)), (200, "PERSISTED_QUERY_NOT_FOUND"));

    // A text under another text's hash is refused and registers nothing.
    let (status, _, body) = send(post(
        &app,
        Some(GR),
        json!({ "query": "{ __typename }", "extensions": extension }),
    ))
    .await;
    assert_eq!((status, code(&body)), (400, "BAD_REQUEST"), "{body}");

    let (status, _, body) = send(
        post(
            &app,
            Some(GR),
            json!({ "query": ME, "extensions": extension }),
        )
        .bearer_auth(&app.admin_token),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let kept = app.state.cache.get(&format!("apq:{hash}")).await.unwrap();
    assert_eq!(
        kept.as_deref(),
        Some(ME),
        "the text is kept in the shared cache"
    );

    let (status, _, body) =
        send(get(&app, &[("extensions", &extension.to_string())]).bearer_auth(&app.admin_token))
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["me"]["user"]["username"],
        format!("{}.admin", app.tag)
    );
    // A persisted mutation still cannot run over GET.
    let mutation = "mutation { signOut }";
    let mutation_hash = sha256_hex(mutation);
    let ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": mutation_hash } });
    send(
        post(&app, None, json!({ "query": mutation, "extensions": ext }))
            .bearer_auth(&app.admin_token),
    )
    .await;
    let (status, _, body) =
        send(get(&app, &[("extensions", &ext.to_string())]).bearer_auth(&app.admin_token)).await;
    assert_eq!((status, code(&body)), (405, "METHOD_NOT_ALLOWED"), "{body}");
    // Malformed extensions.
    for bad in [
        json!({ "persistedQuery": { "version": 2, "sha256Hash": hash } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "abc" } }),
        json!({ "persistedQuery": "x" }),
    ] {
        let (status, _, body) = send(post(&app, Some(GR), json!({ "extensions": bad }))).await;
        assert_eq!((status, code(&body)), (400, "BAD_REQUEST"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_allow_list_mode_only_the_manifests_operations_run() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = dir.path().join("operations.json");
    std::fs::write(
        &manifest,
        json!({
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{ "id": sha256_hex(ME), "name": "Me", "type": "query", "body": ME }],
        })
        .to_string(),
    )
    .unwrap();
    // A second server on the same state runs in allow-list mode (the test server signs in with signIn,
    // which this manifest does not hold).
    let app = TestApp::spawn().await;
    let mut config = test_config_for(&app);
    config.graphql.persisted_queries = fengqiao::config::PersistedQueries::AllowList;
    config.graphql.persisted_query_manifest = Some(manifest.clone());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/graphql", listener.local_addr().unwrap());
    tokio::spawn(fengqiao::http::server(app.state.clone(), &config, listener).unwrap());
    let app = AllowListed { app: &app, url };
    let by_hash = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(ME) } });
    let (status, _, body) =
        send(get(&app, &[("extensions", &by_hash.to_string())]).bearer_auth(&app.app.admin_token))
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["data"]["me"]["user"]["username"],
        format!("{}.admin", app.app.tag)
    );
    let (status, _, body) =
        send(post(&app, Some(GR), json!({ "query": ME })).bearer_auth(&app.app.admin_token)).await;
    assert_eq!(status, 200, "{body}");
    let other = "{ me { user { displayName } } }";
    let other_ext = json!({ "persistedQuery": { "version": 1, "sha256Hash": sha256_hex(other) } });
    for body in [
        json!({ "query": other }),
        json!({ "query": other, "extensions": other_ext }),
        json!({ "extensions": other_ext }),
        json!({ "query": "mutation { signIn(username: \"a\", password: \"b\") { accessToken } }" }),
    ] {
        let (status, _, answer) =
            send(post(&app, Some(GR), body.clone()).bearer_auth(&app.app.admin_token)).await;
        assert_eq!(status, 400, "{body}: {answer}");
        assert_eq!(code(&answer), "PERSISTED_QUERY_NOT_ALLOWED", "{answer}");
    }
    // Offering the text with its hash did not register it.
    let (_, _, answer) = send(post(&app, Some(GR), json!({ "extensions": other_ext }))).await;
    assert_eq!(code(&answer), "PERSISTED_QUERY_NOT_ALLOWED");

    // Over a websocket the same: the manifest's operation runs, another does not.
    let (mut socket, ack) = crate::live::open(
        &app.url,
        json!({ "Authorization": format!("Bearer {}", app.app.admin_token) }),
    )
    .await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    for (id, query, allowed) in [("1", ME, true), ("2", other, false)] {
        crate::live::send(
            &mut socket,
            json!({ "id": id, "type": "subscribe", "payload": { "query": query } }),
        )
        .await;
        let answer = crate::live::next_message(&mut socket).await;
        assert_eq!(answer["type"], "next", "{answer}");
        if allowed {
            assert_eq!(
                answer["payload"]["data"]["me"]["user"]["username"],
                format!("{}.admin", app.app.tag),
                "{answer}"
            );
        } else {
            assert_eq!(
                answer["payload"]["errors"][0]["extensions"]["code"], "PERSISTED_QUERY_NOT_ALLOWED",
                "{answer}"
            );
        }
        let complete = crate::live::next_message(&mut socket).await;
        assert_eq!(complete["type"], "complete", "{complete}");
    }

    // A manifest that does not hold together stops the server from starting.
    std::fs::write(
        &manifest,
        "{\"format\": \"apollo-persisted-query-manifest\"}",
    )
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    assert!(fengqiao::http::server(app.app.state.clone(), &config, listener).is_err());
}

/// A test server's state served at another address.
struct AllowListed<'a> {
    app: &'a TestApp,
    url: String,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_names_its_request_id_in_the_header_and_in_its_errors() {
    let app = TestApp::spawn().await;
    let (_, headers, body) = send(post(&app, None, json!({ "query": ME }))).await;
    let id = header(&headers, "x-request-id").to_owned();
    assert_eq!(id.len(), 32, "a generated id: {id}");
    assert_eq!(body["errors"][0]["extensions"]["requestId"], id.as_str());
    let (_, headers, body) = send(
        post(&app, None, json!({ "query": "{ nosuchfield }" }))
            .header("x-request-id", "front-end.42"),
    )
    .await;
    assert_eq!(header(&headers, "x-request-id"), "front-end.42");
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "front-end.42");
    // Refused before GraphQL, and on the plain routes.
    let (_, headers, body) = send(
        app.http
            .post(&app.url)
            .header("content-type", "application/json")
            .header("x-request-id", "r-1")
            .body("{"),
    )
    .await;
    assert_eq!(header(&headers, "x-request-id"), "r-1");
    assert_eq!(body["errors"][0]["extensions"]["requestId"], "r-1");
    let base = app.url.trim_end_matches("/graphql");
    let (status, headers, body) = send(
        app.http
            .get(format!(
                "{base}/audit/export?tenantId=x&from=2026-01-01&to=2026-01-02"
            ))
            .header("x-request-id", "r-2"),
    )
    .await;
    assert_eq!(status, 401);
    assert_eq!(header(&headers, "x-request-id"), "r-2");
    assert_eq!(body["requestId"], "r-2");
    // An id that could forge a log line is replaced.
    for hostile in ["a b", "x\u{7f}", &"7".repeat(129), "{\"level\":\"error\"}"] {
        let Ok(value) = HeaderValue::from_str(hostile) else {
            continue;
        };
        let (_, headers, _) = send(
            post(&app, None, json!({ "query": "{ __typename }" })).header("x-request-id", value),
        )
        .await;
        let echoed = header(&headers, "x-request-id");
        assert_ne!(echoed, hostile);
        assert_eq!(echoed.len(), 32, "{hostile:?} → {echoed}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_carry_security_headers_and_are_compressed_when_accepted() {
    let app = TestApp::spawn().await;
    let base = app.url.trim_end_matches("/graphql").to_owned();
    for request in [
        post(&app, None, json!({ "query": "{ __typename }" })),
        app.http.get(format!("{base}/healthz")),
        app.http.get(format!("{base}/nowhere")),
    ] {
        let (_, headers, _) = send(request).await;
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        assert_eq!(header(&headers, "x-frame-options"), "DENY");
        assert_eq!(header(&headers, "referrer-policy"), "no-referrer");
        assert!(header(&headers, "content-security-policy").contains("default-src 'none'"));
        assert_eq!(
            header(&headers, "strict-transport-security"),
            "",
            "off by default"
        );
    }
    let big = json!({ "query": format!("{{ {} }}", (0..200).map(|i| format!("a{i}: __typename")).collect::<Vec<_>>().join(" ")) });
    for (encoding, expected) in [("gzip", "gzip"), ("br", "br"), ("identity", "")] {
        let response = app
            .http
            .post(&app.url)
            .header("accept-encoding", encoding)
            .json(&big)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 200);
        assert_eq!(
            header(response.headers(), "content-encoding"),
            expected,
            "{encoding}"
        );
    }

    let hsts = TestApp::spawn_with(|config| config.http.hsts_seconds = 31_536_000).await;
    let (_, headers, _) = send(post(&hsts, None, json!({ "query": "{ __typename }" }))).await;
    assert_eq!(
        header(&headers, "strict-transport-security"),
        "max-age=31536000; includeSubDomains"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_answers_the_allowed_origins_only() {
    let app = TestApp::spawn_with(|config| {
        config.http.cors_allowed_origins = vec!["https://console.example.gov.cn".into()];
    })
    .await;
    let preflight = |origin: &str| {
        app.http
            .request(reqwest::Method::OPTIONS, &app.url)
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization, content-type, x-request-id",
            )
    };
    let (status, headers, _) = send(preflight("https://console.example.gov.cn")).await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        "https://console.example.gov.cn"
    );
    assert_eq!(header(&headers, "access-control-max-age"), "600");
    let allowed = header(&headers, "access-control-allow-headers").to_ascii_lowercase();
    for name in ["authorization", "content-type", "x-request-id"] {
        assert!(allowed.contains(name), "{allowed}");
    }
    assert_eq!(header(&headers, "access-control-allow-credentials"), "");
    for refused in [
        "https://evil.example.com",
        "https://console.example.gov.cn.evil.example.com",
        "http://console.example.gov.cn",
        "null",
    ] {
        let (status, headers, _) = send(preflight(refused)).await;
        assert_eq!(
            header(&headers, "access-control-allow-origin"),
            "",
            "{refused}"
        );
        assert!(status >= 400, "{refused}: {status}");
    }
    // The call itself: the allowed origin may read the answer and its request id.
    let (status, headers, _) = send(
        post(&app, None, json!({ "query": "{ __typename }" }))
            .header("origin", "https://console.example.gov.cn"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        header(&headers, "access-control-allow-origin"),
        "https://console.example.gov.cn"
    );
    assert!(
        header(&headers, "access-control-expose-headers")
            .to_ascii_lowercase()
            .contains("x-request-id")
    );
    let (_, headers, _) = send(
        post(&app, None, json!({ "query": "{ __typename }" }))
            .header("origin", "https://evil.example.com"),
    )
    .await;
    assert_eq!(header(&headers, "access-control-allow-origin"), "");
    // The server's own origin (GraphiQL's page) needs no entry.
    let own = app.url.trim_end_matches("/graphql").to_owned();
    let (status, _, body) =
        send(post(&app, None, json!({ "query": "{ __typename }" })).header("origin", &own)).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graphiql_is_served_from_the_binary_when_turned_on() {
    let off = TestApp::spawn().await;
    let base = off.url.trim_end_matches("/graphql").to_owned();
    let page = off
        .http
        .get(format!("{base}/graphiql"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 404, "off by default");

    let on = TestApp::spawn_with(|config| config.graphql.graphiql = true).await;
    let base = on.url.trim_end_matches("/graphql").to_owned();
    let (status, headers, body) = send(on.http.get(format!("{base}/graphiql"))).await;
    assert_eq!(status, 200);
    let html = body["raw"].as_str().unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing from elsewhere"
    );
    let policy = header(&headers, "content-security-policy");
    assert!(policy.contains("script-src 'self'"), "{policy}");
    let scripts: Vec<&str> = html
        .split("src=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next())
        .chain(
            html.split("href=\"")
                .skip(1)
                .filter_map(|s| s.split('"').next()),
        )
        .collect();
    assert_eq!(scripts.len(), 5, "{scripts:?}");
    for path in scripts {
        let asset = on.http.get(format!("{base}{path}")).send().await.unwrap();
        assert_eq!(asset.status().as_u16(), 200, "{path}");
        let media = header(asset.headers(), "content-type").to_owned();
        assert!(
            media.starts_with("text/javascript") || media.starts_with("text/css"),
            "{path}: {media}"
        );
        assert!(header(asset.headers(), "cache-control").contains("immutable"));
        assert!(asset.bytes().await.unwrap().len() > 100, "{path}");
    }
    let missing = on
        .http
        .get(format!("{base}/graphiql/../../etc/passwd"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
    let missing = on
        .http
        .get(format!("{base}/graphiql/nothing.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 404);
}
