//! A second factor (TOTP, RFC 6238) for signing in (GB/T 22239-2019 8.1.4.1 d): enrolled by proving the
//! password, confirmed by a first code, needed at every sign-in and password change after, a code never
//! accepted twice, wrong codes counted towards the lock; required of administrators, auditors and
//! supervisors where a county turns it on; a lost one removed by the security administrator only.

use chrono::Duration;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, code};
use fengqiao::store::scope::as_system;
use fengqiao_tenancy::{Role, totp};

const SIGN_IN: &str = "mutation($u: String!, $p: String!, $c: String) { signIn(input: {username: $u, password: $p, totp: $c}) { accessToken } }";
const ENROLL: &str = "mutation($u: String!, $p: String!) { beginTotpEnrollment(input: {username: $u, password: $p}) { secret uri } }";
const REMOVE: &str =
    "mutation($u: ID!, $r: String!) { removeSecondFactor(input: {userId: $u, reason: $r}) { id } }";
const HAS: &str = "{ me { hasSecondFactor } }";
const SET_POLICY: &str = "mutation($t: ID!, $f: Boolean!) { setSecurityPolicy(input: {tenantId: $t, idleMinutes: 30, absoluteHours: 12, maxSessions: 5, passwordMaxAgeDays: 90, requireTotp: $f}) { requireTotp } }";

async fn sign_in(app: &TestApp, username: &str, code: Option<&str>) -> Value {
    app.gql(
        None,
        SIGN_IN,
        json!({ "u": username, "p": PASSWORD, "c": code }),
    )
    .await
}

fn token(body: &Value) -> String {
    body["data"]["signIn"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("not signed in: {body:#}"))
        .to_owned()
}

/// The code of `secret` now, on the server's session clock.
fn code_now(app: &TestApp, secret: &[u8]) -> String {
    totp::code_at(secret, totp::step_of(app.state.session_now().timestamp()))
}

/// Enrolls `username`'s second factor and answers its secret.
async fn enroll(app: &TestApp, username: &str) -> Vec<u8> {
    let body = app
        .gql(None, ENROLL, json!({ "u": username, "p": PASSWORD }))
        .await;
    let secret = body["data"]["beginTotpEnrollment"]["secret"]
        .as_str()
        .unwrap_or_else(|| panic!("not enrolled: {body:#}"));
    let uri = body["data"]["beginTotpEnrollment"]["uri"].as_str().unwrap();
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    totp::secret_bytes(secret).unwrap()
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
async fn a_second_factor_is_confirmed_by_a_first_code_and_then_needed_every_time() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let (_, before) = app.user(&county, "careful", &[Role::Supervisor]).await;
    let username = format!("{}.careful", app.tag);
    let secret = enroll(&app, &username).await;
    // Being enrolled, not yet confirmed: a sign-in without a code still works.
    assert_eq!(
        app.ok(&before, HAS, json!({})).await["me"]["hasSecondFactor"],
        false
    );
    token(&sign_in(&app, &username, None).await);
    // A wrong code is a wrong sign-in, counted.
    let right = code_now(&app, &secret);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    assert_eq!(
        code(&sign_in(&app, &username, Some(wrong)).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(app.account(&username).await.failed_logins, 1);
    // The first right code confirms it.
    let signed = token(&sign_in(&app, &username, Some(&right)).await);
    assert_eq!(
        app.ok(&signed, HAS, json!({})).await["me"]["hasSecondFactor"],
        true
    );
    assert_eq!(app.account(&username).await.failed_logins, 0);
    // Never the same code twice; the next step's works.
    assert_eq!(
        code(&sign_in(&app, &username, Some(&right)).await),
        "UNAUTHENTICATED"
    );
    app.session_clock
        .advance(Duration::seconds(totp::STEP_SECONDS));
    token(&sign_in(&app, &username, Some(&code_now(&app, &secret))).await);
    // Without a code, or with something that is no code: refused.
    let body = sign_in(&app, &username, None).await;
    assert_eq!(code(&body), "TOTP_REQUIRED", "{body:#}");
    assert!(body["data"].is_null() || body["data"]["signIn"].is_null());
    for junk in ["12345", "abcdef", ""] {
        assert_eq!(
            code(&sign_in(&app, &username, Some(junk)).await),
            "UNAUTHENTICATED"
        );
    }
    assert_eq!(
        app.account(&username).await.failed_logins,
        4,
        "each counted"
    );
    app.session_clock
        .advance(Duration::seconds(totp::STEP_SECONDS));
    token(&sign_in(&app, &username, Some(&code_now(&app, &secret))).await);
    assert_eq!(app.account(&username).await.failed_logins, 0);
    // Changing the password needs it too.
    let change = "mutation($u: String!, $c: String!, $n: String!, $t: String) { changePassword(input: {username: $u, currentPassword: $c, newPassword: $n, totp: $t}) { accessToken } }";
    let body = app
        .gql(
            None,
            change,
            json!({ "u": username, "c": PASSWORD, "n": "Another good one 8" }),
        )
        .await;
    assert_eq!(code(&body), "TOTP_REQUIRED", "{body:#}");
    // A confirmed factor is not replaced by enrolling again.
    let body = app
        .gql(None, ENROLL, json!({ "u": username, "p": PASSWORD }))
        .await;
    assert_eq!(code(&body), "CONFLICT", "{body:#}");
    // Guessing codes with the right password locks the account as guessing passwords does.
    app.session_clock
        .advance(Duration::seconds(totp::STEP_SECONDS));
    let right = code_now(&app, &secret);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let mut answers = Vec::new();
    for _ in 0..6 {
        answers.push(code(&sign_in(&app, &username, Some(wrong)).await).to_owned());
    }
    assert_eq!(answers.last().unwrap(), "ACCOUNT_LOCKED", "{answers:?}");
    assert_eq!(
        code(&sign_in(&app, &username, Some(&right)).await),
        "ACCOUNT_LOCKED",
        "a right code does not open a locked account"
    );
    let records = audited(&app).await;
    for outcome in ["wrong_totp", "totp_required", "locked"] {
        assert!(
            records.contains(&("session.sign_in".to_owned(), outcome.to_owned())),
            "{outcome}"
        );
    }
    assert!(records.contains(&("account.totp_begin".to_owned(), "allowed".to_owned())));
    assert!(records.contains(&("account.totp_confirm".to_owned(), "allowed".to_owned())));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_can_require_a_second_factor_and_only_the_security_administrator_removes_one() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let (supervisor_id, supervisor) = app.user(&county, "watcher", &[Role::Supervisor]).await;
    let (clerk_id, _) = app.user(&county, "window", &[Role::IntakeClerk]).await;
    let watcher = format!("{}.watcher", app.tag);
    let window = format!("{}.window", app.tag);
    let body = app
        .gql(
            Some(&app.admin_token),
            SET_POLICY,
            json!({ "t": county, "f": true }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "the system administrator may not");
    app.ok(
        &app.security_token,
        SET_POLICY,
        json!({ "t": county, "f": true }),
    )
    .await;
    // A supervisor must enroll; a window clerk need not; sessions already open stay.
    let body = sign_in(&app, &watcher, None).await;
    assert_eq!(code(&body), "TOTP_ENROLLMENT_REQUIRED", "{body:#}");
    token(&sign_in(&app, &window, None).await);
    app.ok(&supervisor, HAS, json!({})).await;
    let body = sign_in(&app, &format!("{}.security", app.tag), None).await;
    assert_eq!(
        code(&body),
        "TOTP_ENROLLMENT_REQUIRED",
        "the security administrator too"
    );
    // Enrolled but not confirmed: still required.
    let secret = enroll(&app, &watcher).await;
    assert_eq!(code(&sign_in(&app, &watcher, None).await), "TOTP_REQUIRED");
    token(&sign_in(&app, &watcher, Some(&code_now(&app, &secret))).await);

    // Removing a lost one: the security administrator's, with a reason; not one's own, not another
    // county's, not an account without one.
    let reason = json!({ "u": supervisor_id, "r": "手机遗失" });
    assert_eq!(
        code(
            &app.gql(Some(&app.admin_token), REMOVE, reason.clone())
                .await
        ),
        "FORBIDDEN"
    );
    assert_eq!(
        code(&app.gql(Some(&supervisor), REMOVE, reason.clone()).await),
        "FORBIDDEN"
    );
    let (_, _, other_security) = app.another_county().await;
    assert_eq!(
        code(&app.gql(Some(&other_security), REMOVE, reason.clone()).await),
        "NOT_FOUND"
    );
    let body = app
        .gql(
            Some(&app.security_token),
            REMOVE,
            json!({ "u": supervisor_id, "r": "x" }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");
    assert_eq!(
        code(
            &app.gql(
                Some(&app.security_token),
                REMOVE,
                json!({ "u": clerk_id, "r": "手机遗失" })
            )
            .await
        ),
        "NOT_FOUND",
        "an account without one"
    );
    assert_eq!(
        code(
            &app.gql(
                Some(&app.security_token),
                REMOVE,
                json!({ "u": county, "r": "手机遗失" })
            )
            .await
        ),
        "BAD_USER_INPUT",
        "an id of another kind"
    );
    app.ok(&app.security_token, REMOVE, reason).await;
    assert_eq!(
        code(&sign_in(&app, &watcher, None).await),
        "TOTP_ENROLLMENT_REQUIRED"
    );
    assert!(
        as_system(app.state.store.audit_records(app.county.id))
            .await
            .unwrap()
            .iter()
            .any(|r| r.action == "account.totp_remove" && r.reason == "手机遗失")
    );
    // Turned off again: the password alone signs in.
    app.ok(
        &app.security_token,
        SET_POLICY,
        json!({ "t": county, "f": false }),
    )
    .await;
    token(&sign_in(&app, &watcher, None).await);
}
