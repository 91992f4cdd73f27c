//! Tokens that are not ours are refused (RFC 8725): every forged, altered, expired or foreign access token
//! answers `UNAUTHENTICATED` over HTTP, and a websocket opened with it is not acknowledged. The tokens are
//! made here by hand (header, claims, HMAC-SHA256 over them), so that each differs from a good one in one
//! thing only; the good one is accepted on both transports, which shows the forging itself is right.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::Duration;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::helpers::{TestApp, code};
use crate::live::{next_message, open, send};

const ME: &str = "{ me { user { username } } }";

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

fn hmac_sha256(key: &[u8], input: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(input.as_bytes());
    URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes())
}

/// `header.claims.signature`, signed with HMAC-SHA256 under `key` whatever the header says.
fn forge(header: &Value, claims: &Value, key: &[u8]) -> String {
    let input = format!("{}.{}", b64(header), b64(claims));
    let signature = hmac_sha256(key, &input);
    format!("{input}.{signature}")
}

/// A copy of `value` with `key` set to `to` (or removed, for `null`).
fn with(value: &Value, key: &str, to: Value) -> Value {
    let mut value = value.clone();
    let object = value.as_object_mut().unwrap();
    if to.is_null() {
        object.remove(key);
    } else {
        object.insert(key.to_owned(), to);
    }
    value
}

async fn refused_over_websocket(app: &TestApp, token: &str) -> bool {
    let (_, answer) = open(
        &app.url,
        json!({ "Authorization": format!("Bearer {token}") }),
    )
    .await;
    answer["type"] != "connection_ack"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_that_are_not_ours_are_refused_over_http_and_websocket() {
    let app = TestApp::spawn().await;
    let key = app.config.auth.jwt_secret.expose().as_bytes().to_vec();
    // The admin's real session, so that a good forgery is accepted.
    let issuer =
        fengqiao_tenancy::TokenIssuer::new(&key, fengqiao_tenancy::TokenSettings::default())
            .unwrap();
    let real = issuer.verify_access(&app.admin_token).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "sub": real.sub, "tid": real.tid, "fam": real.fam,
        "iss": "fengqiao", "aud": "fengqiao-api",
        "iat": now, "nbf": now, "exp": now + 600,
    });
    let header = json!({ "alg": "HS256", "typ": "at+jwt" });

    let good = forge(&header, &claims, &key);
    let body = app.gql(Some(&good), ME, json!({})).await;
    assert!(body["errors"].is_null(), "the good forgery works: {body:#}");
    assert!(!refused_over_websocket(&app, &good).await);

    let other_key = b"another county's deployment has its own secret key!".to_vec();
    let tampered_signature = {
        let mut t = good.clone().into_bytes();
        let last = t.len() - 3;
        t[last] = if t[last] == b'A' { b'B' } else { b'A' };
        String::from_utf8(t).unwrap()
    };
    let tampered_claims = {
        let parts: Vec<&str> = good.split('.').collect();
        let altered = with(&claims, "tid", json!(real.tid + 1));
        format!("{}.{}.{}", parts[0], b64(&altered), parts[2])
    };
    let unsigned = format!(
        "{}.{}.",
        b64(&json!({ "alg": "none", "typ": "at+jwt" })),
        b64(&claims)
    );
    let cases: Vec<(&str, String)> = vec![
        ("alg none, no signature", unsigned),
        (
            "alg none, signed anyway",
            forge(&with(&header, "alg", json!("none")), &claims, &key),
        ),
        (
            "RS256 header (HS/RS confusion)",
            forge(&with(&header, "alg", json!("RS256")), &claims, &key),
        ),
        (
            "ES256 header",
            forge(&with(&header, "alg", json!("ES256")), &claims, &key),
        ),
        (
            "HS512 header",
            forge(&with(&header, "alg", json!("HS512")), &claims, &key),
        ),
        (
            "no exp",
            forge(&header, &with(&claims, "exp", Value::Null), &key),
        ),
        (
            "expired",
            forge(&header, &with(&claims, "exp", json!(now - 3600)), &key),
        ),
        (
            "exp of the wrong type",
            forge(&header, &with(&claims, "exp", json!("tomorrow")), &key),
        ),
        (
            "no nbf",
            forge(&header, &with(&claims, "nbf", Value::Null), &key),
        ),
        (
            "not yet valid",
            forge(&header, &with(&claims, "nbf", json!(now + 3600)), &key),
        ),
        (
            "no iss",
            forge(&header, &with(&claims, "iss", Value::Null), &key),
        ),
        (
            "another issuer",
            forge(&header, &with(&claims, "iss", json!("someone-else")), &key),
        ),
        (
            "no aud",
            forge(&header, &with(&claims, "aud", Value::Null), &key),
        ),
        (
            "another audience",
            forge(&header, &with(&claims, "aud", json!("another-api")), &key),
        ),
        (
            "no sub",
            forge(&header, &with(&claims, "sub", Value::Null), &key),
        ),
        (
            "a sub that is no account id",
            forge(&header, &with(&claims, "sub", json!("admin")), &key),
        ),
        (
            "a sub of an account that does not exist",
            forge(&header, &with(&claims, "sub", json!("987654321")), &key),
        ),
        (
            "another tenant than the account's",
            forge(&header, &with(&claims, "tid", json!(real.tid + 1)), &key),
        ),
        (
            "a session that was never opened",
            forge(&header, &with(&claims, "fam", json!("guessed")), &key),
        ),
        (
            "no typ",
            forge(&with(&header, "typ", Value::Null), &claims, &key),
        ),
        (
            "typ JWT",
            forge(&with(&header, "typ", json!("JWT")), &claims, &key),
        ),
        (
            "an unknown kid",
            forge(&with(&header, "kid", json!("k-2026")), &claims, &key),
        ),
        (
            "a crit extension",
            forge(&with(&header, "crit", json!(["exp"])), &claims, &key),
        ),
        (
            "a jku",
            forge(
                &with(&header, "jku", json!("https://attacker.example/keys")),
                &claims,
                &key,
            ),
        ),
        ("a tampered signature", tampered_signature),
        ("tampered claims", tampered_claims),
        (
            "another deployment's key",
            forge(&header, &claims, &other_key),
        ),
        ("not a JWT at all", "not.a.token".to_owned()),
        ("two parts", format!("{}.{}", b64(&header), b64(&claims))),
    ];
    for (what, token) in &cases {
        let body = app.gql(Some(token), ME, json!({})).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{what}: {body:#}");
        assert!(
            refused_over_websocket(&app, token).await,
            "{what}: the websocket was acknowledged"
        );
    }
    // The good one still works after all that.
    assert!(app.gql(Some(&good), ME, json!({})).await["errors"].is_null());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_token_that_expires_on_an_open_websocket_runs_nothing_more() {
    let app = TestApp::spawn().await;
    let (mut socket, ack) = open(
        &app.url,
        json!({ "Authorization": format!("Bearer {}", app.admin_token) }),
    )
    .await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    // The access token lives 15 minutes: 16 later, the connection it opened runs nothing.
    app.clock.advance(Duration::minutes(16));
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": ME } }),
    )
    .await;
    let answer = next_message(&mut socket).await;
    assert_eq!(
        answer["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{answer:#}"
    );
}
