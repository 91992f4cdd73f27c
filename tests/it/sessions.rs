//! Sessions and passwords (GB/T 22239-2019 8.1.4.1): an account lists its sessions and ends any of them;
//! a session ends when idle longer than its county allows or past its absolute lifetime (over HTTP, on
//! refresh and on an open websocket); an account holds at most its county's number of sessions; the
//! security administrator sets the county's policy; passwords meet the rules, are not reused, expire, and
//! are changed at first sign-in when someone else chose them.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{INITIAL_PASSWORD, PASSWORD, TestApp, code};
use crate::live::{next_message, open, send};
use fengqiao::OperatorAccount;
use fengqiao::store::scope::as_system;
use fengqiao_tenancy::Role;

const SIGN_IN: &str = "mutation($u: String!, $p: String!) { signIn(input: {username: $u, password: $p}) { accessToken refreshToken } }";
const CHANGE: &str = "mutation($u: String!, $c: String!, $n: String!) { changePassword(input: {username: $u, currentPassword: $c, newPassword: $n}) { accessToken refreshToken } }";
const REFRESH: &str =
    "mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken } }";
const SESSIONS: &str =
    "{ me { sessions { id current startedAt lastSeenAt expiresAt clientAddress userAgent } } }";
const REVOKE: &str = "mutation($s: ID!) { revokeSession(input: {sessionId: $s}) { id endedAt } }";
const SET_POLICY: &str = "mutation($t: ID!, $i: Int!, $a: Int!, $m: Int!, $p: Int!, $f: Boolean! = false) { setSecurityPolicy(input: {tenantId: $t, idleMinutes: $i, absoluteHours: $a, maxSessions: $m, passwordMaxAgeDays: $p, requireTotp: $f}) { idleMinutes absoluteHours maxSessions passwordMaxAgeDays requireTotp } }";
const POLICY: &str = "query($t: ID!) { securityPolicy(tenantId: $t) { idleMinutes absoluteHours maxSessions passwordMaxAgeDays requireTotp } }";
const ME: &str = "{ me { user { username } } }";

fn tokens(body: &Value, field: &str) -> (String, String) {
    let session = &body["data"][field];
    let get = |key: &str| {
        session[key]
            .as_str()
            .unwrap_or_else(|| panic!("no {key} in {body:#}"))
            .to_owned()
    };
    (get("accessToken"), get("refreshToken"))
}

async fn sign_in(app: &TestApp, username: &str, password: &str) -> Value {
    app.gql(None, SIGN_IN, json!({ "u": username, "p": password }))
        .await
}

/// Signs in with `PASSWORD` and answers (access, refresh).
async fn session_of(app: &TestApp, username: &str) -> (String, String) {
    tokens(&sign_in(app, username, PASSWORD).await, "signIn")
}

async fn set_policy(app: &TestApp, idle: i32, absolute: i32, sessions: i32, days: i32) {
    app.ok(
        &app.security_token,
        SET_POLICY,
        json!({ "t": app.county_gid(), "i": idle, "a": absolute, "m": sessions, "p": days }),
    )
    .await;
}

async fn audited(app: &TestApp) -> Vec<(String, String)> {
    as_system(app.state.store.audit_records(app.county.id))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.outcome))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_lists_its_sessions_and_ends_any_of_them() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    app.user(&county, "roamer", &[Role::Supervisor]).await;
    let username = format!("{}.roamer", app.tag);
    // first_sign_in opened one session; three more, from a browser that names itself.
    let mut sessions = Vec::new();
    for _ in 0..3 {
        let body = app
            .http
            .post(&app.url)
            .header(
                "User-Agent",
                reqwest::header::HeaderValue::from_bytes(
                    "Mozilla/5.0\t(X11; Linux) 综治".as_bytes(),
                )
                .unwrap(),
            )
            .json(&json!({ "query": SIGN_IN, "variables": { "u": username, "p": PASSWORD } }))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap();
        sessions.push(tokens(&body, "signIn"));
    }
    let (a, _) = &sessions[2];
    let listed = app.ok(a, SESSIONS, json!({})).await;
    let listed = listed["me"]["sessions"].as_array().unwrap().clone();
    assert_eq!(listed.len(), 4, "{listed:#?}");
    let current: Vec<&Value> = listed.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(
        current.len(),
        1,
        "exactly the request's own session is current"
    );
    assert_eq!(listed[0]["current"], true, "newest first");
    assert_eq!(listed[0]["clientAddress"], "127.0.0.1");
    assert_eq!(
        listed[0]["userAgent"], "Mozilla/5.0(X11; Linux) 综治",
        "control characters are dropped"
    );
    // Ending the second-newest (sessions[1]) from the newest.
    let (b, b_refresh) = &sessions[1];
    let b_id = listed[1]["id"].as_str().unwrap().to_owned();
    let ended = app.ok(a, REVOKE, json!({ "s": b_id })).await;
    assert!(ended["revokeSession"]["endedAt"].is_string(), "{ended:#}");
    assert_eq!(
        code(&app.gql(Some(b), ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.gql(None, REFRESH, json!({ "r": b_refresh })).await),
        "UNAUTHENTICATED",
        "its refresh token is dead too"
    );
    app.ok(a, ME, json!({})).await;
    // Once more, or as another account, or with ids of the wrong kind: nothing to end.
    assert_eq!(
        code(&app.gql(Some(a), REVOKE, json!({ "s": b_id })).await),
        "NOT_FOUND"
    );
    let other = app.ok(&app.admin_token, SESSIONS, json!({})).await;
    let admin_session = other["me"]["sessions"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        code(
            &app.gql(Some(a), REVOKE, json!({ "s": admin_session }))
                .await
        ),
        "NOT_FOUND",
        "another account's session"
    );
    app.ok(&app.admin_token, ME, json!({})).await;
    for (id, expected) in [
        (county.clone(), "BAD_USER_INPUT"),
        ("not-an-id".to_owned(), "BAD_USER_INPUT"),
        (
            fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::Session, 987_654_321).0,
            "NOT_FOUND",
        ),
    ] {
        assert_eq!(
            code(&app.gql(Some(a), REVOKE, json!({ "s": id })).await),
            expected
        );
    }
    assert_eq!(
        code(&app.gql(None, REVOKE, json!({ "s": b_id })).await),
        "UNAUTHENTICATED"
    );
    // Ending its own current session signs it out.
    let own = listed[0]["id"].as_str().unwrap();
    app.ok(a, REVOKE, json!({ "s": own })).await;
    assert_eq!(
        code(&app.gql(Some(a), ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    let records = audited(&app).await;
    assert_eq!(
        records
            .iter()
            .filter(|(action, _)| action == "session.revoke")
            .count(),
        2
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ends_when_idle_too_long_and_at_its_absolute_lifetime() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    set_policy(&app, 10, 1, 5, 90).await;
    let policy = app
        .ok(&app.admin_token, POLICY, json!({ "t": county }))
        .await;
    assert_eq!(policy["securityPolicy"]["idleMinutes"], 10);
    app.user(&county, "dozer", &[Role::Supervisor]).await;
    let username = format!("{}.dozer", app.tag);

    // Idle: used at 9 minutes, alive; unused for 11 more, over, for its token and its refresh token.
    let (access, refresh) = session_of(&app, &username).await;
    app.session_clock.advance(Duration::minutes(9));
    app.ok(&access, ME, json!({})).await;
    app.session_clock.advance(Duration::minutes(11));
    let body = app.gql(Some(&access), ME, json!({})).await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("idle"),
        "{body:#}"
    );
    assert_eq!(
        code(&app.gql(None, REFRESH, json!({ "r": refresh })).await),
        "UNAUTHENTICATED"
    );

    // Absolute: busy all along (a request and a refresh every 8 minutes), over at one hour.
    let (mut access, mut refresh) = session_of(&app, &username).await;
    let mut minutes = 0;
    while minutes + 8 < 60 {
        app.session_clock.advance(Duration::minutes(8));
        minutes += 8;
        app.ok(&access, ME, json!({})).await;
        let body = app.gql(None, REFRESH, json!({ "r": refresh })).await;
        (access, refresh) = tokens(&body, "refreshSession");
    }
    app.session_clock.advance(Duration::minutes(61 - minutes));
    let body = app.gql(Some(&access), ME, json!({})).await;
    assert_eq!(code(&body), "UNAUTHENTICATED");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("time limit"),
        "{body:#}"
    );
    assert_eq!(
        code(&app.gql(None, REFRESH, json!({ "r": refresh })).await),
        "UNAUTHENTICATED"
    );

    // On an open websocket, an idle session runs nothing more.
    let (access, _) = session_of(&app, &username).await;
    let (mut socket, ack) = open(
        &app.url,
        json!({ "Authorization": format!("Bearer {access}") }),
    )
    .await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    app.session_clock.advance(Duration::minutes(11));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_account_holds_at_most_its_countys_number_of_sessions() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    set_policy(&app, 30, 12, 2, 90).await;
    app.user(&county, "many", &[Role::Supervisor]).await;
    let username = format!("{}.many", app.tag);
    let (first, first_refresh) = session_of(&app, &username).await;
    let (second, _) = session_of(&app, &username).await;
    let (third, _) = session_of(&app, &username).await;
    assert_eq!(
        code(&app.gql(Some(&first), ME, json!({})).await),
        "UNAUTHENTICATED",
        "the oldest ended"
    );
    assert_eq!(
        code(&app.gql(None, REFRESH, json!({ "r": first_refresh })).await),
        "UNAUTHENTICATED"
    );
    app.ok(&second, ME, json!({})).await;
    let listed = app.ok(&third, SESSIONS, json!({})).await;
    assert_eq!(listed["me"]["sessions"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_policy_is_the_security_administrators_to_set() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let defaults = app
        .ok(&app.admin_token, POLICY, json!({ "t": county }))
        .await;
    assert_eq!(
        defaults["securityPolicy"],
        json!({ "idleMinutes": 30, "absoluteHours": 12, "maxSessions": 5, "passwordMaxAgeDays": 90, "requireTotp": false })
    );
    let vars =
        |t: &str, i: i32, a: i32, m: i32, p: i32| json!({ "t": t, "i": i, "a": a, "m": m, "p": p });
    // The system administrator, an auditor, another county's security administrator may not.
    let body = app
        .gql(
            Some(&app.admin_token),
            SET_POLICY,
            vars(&county, 15, 8, 3, 60),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN");
    let (_, auditor) = app.user(&county, "checker", &[Role::Auditor]).await;
    assert_eq!(
        code(
            &app.gql(Some(&auditor), SET_POLICY, vars(&county, 15, 8, 3, 60))
                .await
        ),
        "FORBIDDEN"
    );
    let (other, _, other_security) = app.another_county().await;
    assert_eq!(
        code(
            &app.gql(
                Some(&other_security),
                SET_POLICY,
                vars(&county, 15, 8, 3, 60)
            )
            .await
        ),
        "NOT_FOUND"
    );
    assert_eq!(
        code(
            &app.gql(Some(&other_security), POLICY, json!({ "t": county }))
                .await
        ),
        "NOT_FOUND"
    );
    // Out of bounds, each naming its field; a township has no policy of its own.
    for (v, field) in [
        (vars(&county, 4, 8, 3, 60), "idleMinutes"),
        (vars(&county, 241, 8, 3, 60), "idleMinutes"),
        (vars(&county, 15, 0, 3, 60), "absoluteHours"),
        (vars(&county, 15, 25, 3, 60), "absoluteHours"),
        (vars(&county, 15, 8, 0, 60), "maxSessions"),
        (vars(&county, 15, 8, 21, 60), "maxSessions"),
        (vars(&county, 15, 8, 3, 29), "passwordMaxAgeDays"),
        (vars(&county, 15, 8, 3, 366), "passwordMaxAgeDays"),
        (vars(&county, 120, 1, 3, 60), "idleMinutes"),
    ] {
        let body = app.gql(Some(&app.security_token), SET_POLICY, v).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field, "{body:#}");
    }
    let township = app.tenant(&county, &app.township_code(1), "一镇").await;
    let body = app
        .gql(
            Some(&app.security_token),
            SET_POLICY,
            vars(&township, 15, 8, 3, 60),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
    let body = app
        .gql(
            Some(&app.security_token),
            SET_POLICY,
            json!({ "t": county, "i": "15", "a": 8, "m": 3, "p": 60 }),
        )
        .await;
    assert!(
        body["errors"].is_array(),
        "a string is not an Int: {body:#}"
    );
    // Set, read back, recorded; the other county keeps its defaults.
    let set = app
        .ok(&app.security_token, SET_POLICY, vars(&county, 15, 8, 3, 0))
        .await;
    assert_eq!(
        set["setSecurityPolicy"],
        json!({ "idleMinutes": 15, "absoluteHours": 8, "maxSessions": 3, "passwordMaxAgeDays": 0, "requireTotp": false })
    );
    let read = app.ok(&auditor, POLICY, json!({ "t": county })).await;
    assert_eq!(read["securityPolicy"], set["setSecurityPolicy"]);
    let theirs = app.ok(&other_security, POLICY, json!({ "t": other })).await;
    assert_eq!(theirs["securityPolicy"]["idleMinutes"], 30);
    assert!(
        audited(&app)
            .await
            .contains(&("policy.security".to_owned(), "allowed".to_owned()))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_account_chooses_its_own_password_before_it_signs_in() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let create = "mutation($t: ID!, $u: String!, $p: String!) { createUser(input: {tenantId: $t, username: $u, displayName: \"新人\", password: $p}) { id } }";
    let username = format!("{}.newcomer", app.tag);
    // The administrator's choice meets the rules too.
    for weak in [
        "short1A",
        "alllowercaseletters",
        "P@ssw0rd",
        "Newcomer-2026",
    ] {
        let body = app
            .gql(
                Some(&app.admin_token),
                create,
                json!({ "t": county, "u": username, "p": weak }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{weak}: {body:#}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "password");
    }
    app.ok(
        &app.admin_token,
        create,
        json!({ "t": county, "u": username, "p": INITIAL_PASSWORD }),
    )
    .await;
    // The right password, but chosen by someone else: no session until it is changed.
    let body = sign_in(&app, &username, INITIAL_PASSWORD).await;
    assert_eq!(code(&body), "PASSWORD_CHANGE_REQUIRED", "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["reason"], "first_sign_in");
    assert!(body["data"].is_null() || body["data"]["signIn"].is_null());
    // A wrong current password is a wrong password; a new one that breaks a rule is refused.
    let change = |c: &str, n: &str| json!({ "u": username, "c": c, "n": n });
    assert_eq!(
        code(
            &app.gql(None, CHANGE, change("Wrong password 1", PASSWORD))
                .await
        ),
        "UNAUTHENTICATED"
    );
    assert_eq!(app.account(&username).await.failed_logins, 1);
    for (new, why) in [
        ("Ab1-", "too short"),
        ("qwertyuiop", "one class"),
        ("Admin@2026", "common"),
        (&*format!("x{}newcomer9X", app.tag), "the username"),
        (INITIAL_PASSWORD, "the current one"),
    ] {
        let body = app.gql(None, CHANGE, change(INITIAL_PASSWORD, new)).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{why}: {body:#}");
        assert_eq!(body["errors"][0]["extensions"]["field"], "newPassword");
    }
    // Two in one request check one password.
    let twice = format!(
        "mutation {{ a: changePassword(input: {{username: \"{username}\", currentPassword: \"{INITIAL_PASSWORD}\", newPassword: \"{PASSWORD}\"}}) {{ accessToken }} b: changePassword(input: {{username: \"{username}\", currentPassword: \"{INITIAL_PASSWORD}\", newPassword: \"{PASSWORD}\"}}) {{ accessToken }} }}"
    );
    let body = app.gql(None, &twice, json!({})).await;
    let codes: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["extensions"]["code"].as_str())
        .collect();
    assert_eq!(codes, ["RATE_LIMITED"], "{body:#}");
    let token = body["data"]["a"]["accessToken"]
        .as_str()
        .expect("the first changed it")
        .to_owned();
    app.ok(&token, ME, json!({})).await;
    assert_eq!(
        code(&sign_in(&app, &username, INITIAL_PASSWORD).await),
        "UNAUTHENTICATED"
    );
    session_of(&app, &username).await;
    let account = app.account(&username).await;
    assert!(!account.must_change_password);
    assert_eq!(account.failed_logins, 0);
    let records = audited(&app).await;
    assert!(records.contains(&(
        "session.sign_in".to_owned(),
        "password_change_required".to_owned()
    )));
    assert!(records.contains(&("account.password_change".to_owned(), "allowed".to_owned())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_five_passwords_are_not_chosen_again_and_a_change_ends_every_session() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let (_, before) = app.user(&county, "rotator", &[Role::Supervisor]).await;
    let username = format!("{}.rotator", app.tag);
    let (other, other_refresh) = session_of(&app, &username).await;
    let passwords: Vec<String> = (1..=5).map(|n| format!("Rotating password {n}")).collect();
    let mut current = PASSWORD.to_owned();
    for next in &passwords[..4] {
        let body = app
            .gql(
                None,
                CHANGE,
                json!({ "u": username, "c": current, "n": next }),
            )
            .await;
        tokens(&body, "changePassword");
        current = next.clone();
    }
    // Every session from before the first change has ended.
    for token in [&before, &other] {
        assert_eq!(
            code(&app.gql(Some(token), ME, json!({})).await),
            "UNAUTHENTICATED"
        );
    }
    assert_eq!(
        code(&app.gql(None, REFRESH, json!({ "r": other_refresh })).await),
        "UNAUTHENTICATED"
    );
    // PASSWORD and the four after it are the last five: none of them again.
    for old in std::iter::once(PASSWORD.to_owned()).chain(passwords[..3].iter().cloned()) {
        let body = app
            .gql(
                None,
                CHANGE,
                json!({ "u": username, "c": current, "n": old }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{old}: {body:#}");
    }
    // One more change, and PASSWORD is the sixth back: allowed again.
    let body = app
        .gql(
            None,
            CHANGE,
            json!({ "u": username, "c": current, "n": passwords[4] }),
        )
        .await;
    tokens(&body, "changePassword");
    let body = app
        .gql(
            None,
            CHANGE,
            json!({ "u": username, "c": passwords[4], "n": PASSWORD }),
        )
        .await;
    tokens(&body, "changePassword");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_password_older_than_the_countys_limit_is_changed_at_the_next_sign_in() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    set_policy(&app, 30, 12, 5, 30).await;
    app.user(&county, "ager", &[Role::Supervisor]).await;
    let username = format!("{}.ager", app.tag);
    app.session_clock.advance(Duration::days(29));
    session_of(&app, &username).await;
    app.session_clock.advance(Duration::days(2));
    let body = sign_in(&app, &username, PASSWORD).await;
    assert_eq!(code(&body), "PASSWORD_CHANGE_REQUIRED", "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["reason"], "expired");
    let body = app
        .gql(
            None,
            CHANGE,
            json!({ "u": username, "c": PASSWORD, "n": "A fresh password 31" }),
        )
        .await;
    tokens(&body, "changePassword");
    session_of_with(&app, &username, "A fresh password 31").await;
    // Expiry off: never again. The security administrator's own password has expired with the days gone
    // by, and its session has ended.
    let body = app
        .gql(
            None,
            CHANGE,
            json!({ "u": format!("{}.security", app.tag), "c": PASSWORD, "n": "Rotated by the guard 31" }),
        )
        .await;
    let (security, _) = tokens(&body, "changePassword");
    app.ok(
        &security,
        SET_POLICY,
        json!({ "t": county, "i": 30, "a": 12, "m": 5, "p": 0 }),
    )
    .await;
    app.session_clock.advance(Duration::days(400));
    session_of_with(&app, &username, "A fresh password 31").await;
}

async fn session_of_with(app: &TestApp, username: &str, password: &str) {
    tokens(&sign_in(app, username, password).await, "signIn");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bootstrapped_administrator_changes_the_operators_password_first() {
    let app = TestApp::spawn().await;
    let config = crate::helpers::test_config_for(&app);
    let county_code = |code: &str| {
        fengqiao_domain::DivisionCode::parse(code, fengqiao_domain::TenantLevel::County).unwrap()
    };
    let first = "Operator chose 1";
    // A weak first password is refused before anything is made.
    let code_text = crate::helpers::unique_county_code();
    let admin = format!("b{}.admin", &code_text[..6]);
    let security = format!("b{}.security", &code_text[..6]);
    let weak = Box::pin(fengqiao::bootstrap_county(
        &config,
        &county_code(&code_text),
        "弱县",
        OperatorAccount {
            username: &admin,
            password: "password",
        },
        OperatorAccount {
            username: &security,
            password: first,
        },
    ))
    .await;
    assert!(weak.is_err());
    assert_eq!(
        code(&sign_in(&app, &security, first).await),
        "UNAUTHENTICATED",
        "nothing was made"
    );
    Box::pin(fengqiao::bootstrap_county(
        &config,
        &county_code(&code_text),
        "新县",
        OperatorAccount {
            username: &admin,
            password: first,
        },
        OperatorAccount {
            username: &security,
            password: first,
        },
    ))
    .await
    .unwrap();
    for who in [&admin, &security] {
        let body = sign_in(&app, who, first).await;
        assert_eq!(code(&body), "PASSWORD_CHANGE_REQUIRED", "{body:#}");
        let body = app
            .gql(
                None,
                CHANGE,
                json!({ "u": who, "c": first, "n": "Chosen by myself 2" }),
            )
            .await;
        tokens(&body, "changePassword");
    }
}
