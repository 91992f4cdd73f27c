//! Sign-in, rotating refresh tokens, reuse detection, sign-out, and refused tokens.

use fengqiao_tenancy::Role;
use serde_json::json;

use crate::helpers::{PASSWORD, TestApp, code};

const SIGN_IN: &str = "mutation($u: String!, $p: String!) { signIn(input: {username: $u, password: $p}) { accessToken refreshToken accessTokenExpiresAt user { username } } }";
const REFRESH: &str =
    "mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken } }";
const ME: &str = "{ me { user { username } roles { role tenant { name } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session() {
    let app = TestApp::spawn().await;
    let username = format!("{}.admin", app.tag);
    let first = app
        .gql(None, SIGN_IN, json!({ "u": username, "p": PASSWORD }))
        .await;
    let session = &first["data"]["signIn"];
    let expires =
        chrono::DateTime::parse_from_rfc3339(session["accessTokenExpiresAt"].as_str().unwrap())
            .unwrap();
    let ttl = expires.signed_duration_since(chrono::Utc::now());
    assert!(
        ttl <= chrono::Duration::minutes(15) && ttl > chrono::Duration::minutes(14),
        "{ttl}"
    );
    let r1 = session["refreshToken"].as_str().unwrap().to_owned();

    let second = app.gql(None, REFRESH, json!({ "r": r1 })).await;
    let r2 = second["data"]["refreshSession"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let access2 = second["data"]["refreshSession"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(r1, r2);
    assert_eq!(
        app.ok(&access2, ME, json!({})).await["me"]["user"]["username"],
        username.as_str()
    );

    // Presenting the spent token again revokes the family: the newer refresh token and access token die too.
    assert_eq!(
        code(&app.gql(None, REFRESH, json!({ "r": r1 })).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.gql(None, REFRESH, json!({ "r": r2 })).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.gql(Some(&access2), ME, json!({})).await),
        "UNAUTHENTICATED"
    );

    // Another sign-in is a separate session and still works.
    let other = app.sign_in(&username).await;
    assert!(
        app.gql(Some(&other), ME, json!({}))
            .await
            .get("errors")
            .is_none()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_out_ends_the_session_at_once() {
    let app = TestApp::spawn().await;
    let username = format!("{}.admin", app.tag);
    let body = app
        .gql(None, SIGN_IN, json!({ "u": username, "p": PASSWORD }))
        .await;
    let access = body["data"]["signIn"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let refresh = body["data"]["signIn"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        app.ok(&access, "mutation { signOut }", json!({})).await["signOut"],
        true
    );
    assert_eq!(
        code(&app.gql(Some(&access), ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.gql(None, REFRESH, json!({ "r": refresh })).await),
        "UNAUTHENTICATED"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_credentials_and_tokens_are_unauthenticated() {
    let app = TestApp::spawn().await;
    let username = format!("{}.admin", app.tag);
    for (u, p) in [
        (username.as_str(), "wrong password"),
        ("nobody.here", PASSWORD),
        ("", ""),
        ("admin\u{0}", PASSWORD),
        (&"x".repeat(300), PASSWORD),
    ] {
        let body = app.gql(None, SIGN_IN, json!({ "u": u, "p": p })).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{u}");
        assert_eq!(body["errors"][0]["message"], "wrong username or password");
    }
    assert_eq!(code(&app.gql(None, ME, json!({})).await), "UNAUTHENTICATED");
    let token = app.admin_token.clone();
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 3;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).unwrap();
    assert_eq!(
        code(&app.gql(Some(&tampered), ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.gql(Some("not-a-jwt"), ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.gql(None, REFRESH, json!({ "r": "made-up" })).await),
        "UNAUTHENTICATED"
    );
    let raw = app
        .http
        .post(&app.url)
        .header("authorization", format!("Token {token}"))
        .json(&json!({ "query": ME }))
        .send()
        .await
        .unwrap();
    let raw: serde_json::Value = raw.json().await.unwrap();
    assert_eq!(code(&raw), "UNAUTHENTICATED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nobody_grants_themselves_a_role_and_grants_stay_in_the_users_subtree() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let a = app.tenant(&county, &app.township_code(1), "甲镇").await;
    let b = app.tenant(&county, &app.township_code(2), "乙镇").await;
    let me = app
        .ok(&app.security_token, "{ me { id } }", json!({}))
        .await["me"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let grant = "mutation($u: ID!, $t: ID!, $r: Role!) { grantRole(input: {userId: $u, tenantId: $t, role: $r}) { role } }";
    let body = app
        .gql(
            Some(&app.security_token),
            grant,
            json!({ "u": me, "t": county, "r": "SUPERVISOR" }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN");
    assert_eq!(
        body["errors"][0]["message"],
        "nobody can grant themselves a role"
    );
    let (user, _) = app.user(&a, "clerk", &[Role::IntakeClerk]).await;
    let body = app
        .gql(
            Some(&app.security_token),
            grant,
            json!({ "u": user, "t": b, "r": "DISPATCHER" }),
        )
        .await;
    assert_eq!(
        (
            code(&body),
            body["errors"][0]["extensions"]["field"].as_str()
        ),
        ("BAD_USER_INPUT", Some("tenantId"))
    );
    let body = app
        .gql(
            Some(&app.security_token),
            grant,
            json!({ "u": user, "t": county, "r": "DISPATCHER" }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_system_administrator_cannot_grant_and_the_security_administrator_cannot_create_accounts()
 {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    // The system administrator creates an account of their own choosing, but cannot give it any power.
    let data = app
        .ok(&app.admin_token, "mutation($t: ID!, $u: String!) { createUser(input: {tenantId: $t, username: $u, displayName: \"傀儡\", password: \"Zx9 Qv initial!\"}) { id } }", json!({ "t": county, "u": format!("{}.puppet", app.tag) }))
        .await;
    let puppet = data["createUser"]["id"].as_str().unwrap().to_owned();
    let grant = "mutation($u: ID!, $t: ID!) { grantRole(input: {userId: $u, tenantId: $t, role: CENTER_DIRECTOR}) { role } }";
    let body = app
        .gql(
            Some(&app.admin_token),
            grant,
            json!({ "u": puppet, "t": county }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN");
    let body = app
        .gql(Some(&app.security_token), "mutation($t: ID!) { createUser(input: {tenantId: $t, username: \"someone.new\", displayName: \"x\", password: \"Zx9 Qv initial!\"}) { id } }", json!({ "t": county }))
        .await;
    assert_eq!(code(&body), "FORBIDDEN");
    let cases = app
        .gql(
            Some(&app.security_token),
            "{ cases { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        cases["data"]["cases"]["edges"].as_array().map(Vec::len),
        Some(0),
        "{cases:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn as_many_password_checks_run_at_once_as_configured() {
    for concurrency in [1, 3] {
        let app =
            TestApp::spawn_with(|config| config.auth.password_check_concurrency = concurrency)
                .await;
        assert_eq!(app.state.password_slots.available_permits(), concurrency);
    }
}
