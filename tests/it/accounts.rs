//! Accounts end as well as begin: deactivating and reactivating an account, revoking a grant, removing a
//! unit member, and listing a tenant's accounts and a unit's members, under the separation of duties
//! (三员分立): the system administrator ends accounts, the security administrator ends grants, and neither
//! does the other's. Every change takes effect on the next request (also on an open websocket) and leaves
//! an audit record.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, code};
use crate::live::{UNIT_EVENTS, next_event, next_message, subscribe};
use fengqiao::store::scope::as_system;
use fengqiao_tenancy::Role;

const DEACTIVATE: &str = "mutation($u: ID!, $r: String!) { deactivateAccount(input: {userId: $u, reason: $r}) { id active } }";
const REACTIVATE: &str = "mutation($u: ID!, $r: String!) { reactivateAccount(input: {userId: $u, reason: $r}) { id active } }";
const REVOKE: &str = "mutation($u: ID!, $t: ID!, $role: Role!, $r: String!) { revokeRole(input: {userId: $u, tenantId: $t, role: $role, reason: $r}) { id roles { role tenant { id } } } }";
const REMOVE_MEMBER: &str = "mutation($unit: ID!, $u: ID!, $r: String!) { removeUnitMember(input: {unitId: $unit, userId: $u, reason: $r}) { id members { id } } }";
const ACCOUNTS: &str =
    "query($t: ID!) { tenant(id: $t) { accounts { id username active roles { role } } } }";
const MEMBERS: &str = "query($u: ID!) { unit(id: $u) { members { id username } } }";
const ME: &str = "{ me { user { id } } }";
const SIGN_IN: &str = "mutation($u: String!, $p: String!) { signIn(input: {username: $u, password: $p}) { accessToken refreshToken } }";
const REFRESH: &str =
    "mutation($r: String!) { refreshSession(refreshToken: $r) { accessToken refreshToken } }";

fn signed_in(body: &Value) -> (String, String) {
    let session = &body["data"]["signIn"];
    (
        session["accessToken"]
            .as_str()
            .expect("signed in")
            .to_owned(),
        session["refreshToken"]
            .as_str()
            .expect("signed in")
            .to_owned(),
    )
}

/// The actions of the county's audit records, oldest first.
async fn audited(app: &TestApp) -> Vec<(String, String, String)> {
    as_system(app.state.store.audit_records(app.county.id))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.action, r.object, r.reason))
        .collect()
}

fn user_id(gid: &str) -> i64 {
    fengqiao::graphql::decode_id("u", fengqiao::graphql::GlobalId::User, &gid.into()).unwrap()
}

fn user_gid(id: i64) -> String {
    fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::User, id).0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_account_is_refused_from_its_next_request_until_it_is_reactivated() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let (clerk, token) = app.user(&county, "clerk", &[Role::IntakeClerk]).await;
    let username = format!("{}.clerk", app.tag);
    let body = app
        .gql(None, SIGN_IN, json!({ "u": username, "p": PASSWORD }))
        .await;
    let (_, refresh) = signed_in(&body);
    app.ok(&token, ME, json!({})).await;

    let data = app
        .ok(
            &app.admin_token,
            DEACTIVATE,
            json!({ "u": clerk, "r": "调离综治中心" }),
        )
        .await;
    assert_eq!(data["deactivateAccount"]["active"], false);
    // The very next request with the old access token, the refresh token, and a fresh sign-in: refused.
    assert_eq!(
        code(&app.gql(Some(&token), ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(&app.gql(None, REFRESH, json!({ "r": refresh })).await),
        "UNAUTHENTICATED"
    );
    assert_eq!(
        code(
            &app.gql(None, SIGN_IN, json!({ "u": username, "p": PASSWORD }))
                .await
        ),
        "UNAUTHENTICATED"
    );
    // The tenant's list shows it, deactivated, with its roles kept.
    let data = app
        .ok(&app.admin_token, ACCOUNTS, json!({ "t": county }))
        .await;
    let listed: Vec<&Value> = data["tenant"]["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["id"] == clerk.as_str())
        .collect();
    assert_eq!(listed.len(), 1, "{data:#}");
    assert_eq!(listed[0]["active"], false);
    assert_eq!(listed[0]["roles"], json!([{ "role": "INTAKE_CLERK" }]));

    // Deactivating it again changes nothing and records nothing more.
    app.ok(
        &app.admin_token,
        DEACTIVATE,
        json!({ "u": clerk, "r": "再次停用" }),
    )
    .await;
    let data = app
        .ok(
            &app.admin_token,
            REACTIVATE,
            json!({ "u": clerk, "r": "返岗" }),
        )
        .await;
    assert_eq!(data["reactivateAccount"]["active"], true);
    // It signs in afresh and works with its roles; the old session stays ended.
    let body = app
        .gql(None, SIGN_IN, json!({ "u": username, "p": PASSWORD }))
        .await;
    let (fresh, _) = signed_in(&body);
    app.ok(&fresh, ME, json!({})).await;
    app.register(&fresh, None, "返岗后登记").await;
    assert_eq!(
        code(&app.gql(None, REFRESH, json!({ "r": refresh })).await),
        "UNAUTHENTICATED"
    );

    let object = format!("account {}", user_id(&clerk));
    let trail: Vec<_> = audited(&app)
        .await
        .into_iter()
        .filter(|(action, o, _)| action.starts_with("account.") && *o == object)
        .map(|(action, _, reason)| (action, reason))
        .collect();
    assert_eq!(
        trail,
        [
            // Its first sign-in, with the administrator's password.
            ("account.password_change".to_owned(), String::new()),
            ("account.deactivate".to_owned(), "调离综治中心".to_owned()),
            ("account.reactivate".to_owned(), "返岗".to_owned()),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deactivated_account_runs_nothing_more_on_its_open_websocket() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "东山镇")
        .await;
    let (_, staff) = app
        .user(&township, "staff", &[Role::IntakeClerk, Role::Dispatcher])
        .await;
    let (unit, handler) = app.unit(&township, "东山司法所", "handler").await;
    let mut socket = subscribe(&app, &handler, UNIT_EVENTS, json!({ "u": unit })).await;
    let first = app.register(&staff, Some(&township), "第一件").await.id;
    app.accept(&staff, &first).await;
    app.dispatch(&staff, &first, &unit, &[], 20).await;
    let heard = next_event(&mut socket).await;
    assert_eq!(heard["unitEvents"]["case"]["id"], first.as_str());

    let handler_id = app.user_id(&format!("{}.handler", app.tag)).await;
    let handler_gid = user_gid(handler_id);
    app.ok(
        &app.admin_token,
        DEACTIVATE,
        json!({ "u": handler_gid, "r": "离职" }),
    )
    .await;
    let second = app.register(&staff, Some(&township), "第二件").await.id;
    app.accept(&staff, &second).await;
    app.dispatch(&staff, &second, &unit, &[], 20).await;
    let ended = next_message(&mut socket).await;
    assert_eq!(
        ended["payload"]["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
        "{ended:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_grant_stops_at_the_next_request_and_the_other_grants_stay() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "东山镇").await;
    let (staff, token) = app
        .user(&township, "staff", &[Role::IntakeClerk, Role::Dispatcher])
        .await;
    let case = app.register(&token, Some(&township), "撤销前登记").await.id;
    app.accept(&token, &case).await;

    let data = app
        .ok(
            &app.security_token,
            REVOKE,
            json!({ "u": staff, "t": township, "role": "DISPATCHER", "r": "岗位调整" }),
        )
        .await;
    assert_eq!(
        data["revokeRole"]["roles"],
        json!([{ "role": "INTAKE_CLERK", "tenant": { "id": township } }])
    );
    // Dispatching was the dispatcher's: refused from the next request; registering stays.
    let (lead, _) = app.unit(&township, "东山司法所", "lead").await;
    let body = app
        .gql(
            Some(&token),
            "mutation($id: ID!, $u: ID!, $d: DateTime!) { dispatchCase(id: $id, leadUnitId: $u, coUnitIds: [], deadline: $d) { case { status } } }",
            json!({ "id": case, "u": lead, "d": crate::steps::in_days(10) }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body:#}");
    app.register(&token, Some(&township), "撤销后登记").await;
    let me = app.ok(&token, "{ me { roles { role } } }", json!({})).await;
    assert_eq!(me["me"]["roles"], json!([{ "role": "INTAKE_CLERK" }]));

    // Revoking it again: it is not held.
    let again = app
        .gql(
            Some(&app.security_token),
            REVOKE,
            json!({ "u": staff, "t": township, "role": "DISPATCHER", "r": "岗位调整" }),
        )
        .await;
    assert_eq!(code(&again), "NOT_FOUND", "{again:#}");
    let revokes: Vec<_> = audited(&app)
        .await
        .into_iter()
        .filter(|(action, _, _)| action == "role.revoke")
        .collect();
    assert_eq!(revokes.len(), 1, "{revokes:?}");
    assert!(revokes[0].1.contains("as dispatcher"), "{revokes:?}");
    assert_eq!(revokes[0].2, "岗位调整");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_member_no_longer_acts_for_the_unit_nor_hears_it() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "东山镇")
        .await;
    let (_, staff) = app
        .user(&township, "staff", &[Role::IntakeClerk, Role::Dispatcher])
        .await;
    let (unit, handler) = app.unit(&township, "东山司法所", "handler").await;
    let handler_gid = user_gid(app.user_id(&format!("{}.handler", app.tag)).await);
    let data = app
        .ok(&app.admin_token, MEMBERS, json!({ "u": unit }))
        .await;
    assert_eq!(data["unit"]["members"][0]["id"], handler_gid.as_str());
    let mut socket = subscribe(&app, &handler, UNIT_EVENTS, json!({ "u": unit })).await;
    let case = app.register(&staff, Some(&township), "成员移除前").await.id;
    app.accept(&staff, &case).await;
    app.dispatch(&staff, &case, &unit, &[], 20).await;
    next_event(&mut socket).await;

    let data = app
        .ok(
            &app.admin_token,
            REMOVE_MEMBER,
            json!({ "unit": unit, "u": handler_gid, "r": "调往派出所" }),
        )
        .await;
    assert_eq!(data["removeUnitMember"]["members"], json!([]));
    // Claiming for the unit: no longer its member (the case is not even visible to it now).
    let body = app
        .gql(
            Some(&handler),
            "mutation($id: ID!) { claimCase(id: $id) { case { status } } }",
            json!({ "id": case }),
        )
        .await;
    assert!(
        ["FORBIDDEN", "NOT_FOUND"].contains(&code(&body)),
        "{body:#}"
    );
    let me = app.ok(&handler, "{ me { units { id } } }", json!({})).await;
    assert_eq!(me["me"]["units"], json!([]));
    // The open subscription ends at the unit's next event.
    let next = app.register(&staff, Some(&township), "成员移除后").await.id;
    app.accept(&staff, &next).await;
    app.dispatch(&staff, &next, &unit, &[], 20).await;
    let ended = next_message(&mut socket).await;
    assert_eq!(
        ended["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{ended:#}"
    );
    // Removing it again: not a member.
    let again = app
        .gql(
            Some(&app.admin_token),
            REMOVE_MEMBER,
            json!({ "unit": unit, "u": handler_gid, "r": "调往派出所" }),
        )
        .await;
    assert_eq!(code(&again), "NOT_FOUND", "{again:#}");
    let actions: Vec<String> = audited(&app)
        .await
        .into_iter()
        .map(|(action, _, _)| action)
        .filter(|a| a.starts_with("unit."))
        .collect();
    assert_eq!(actions, ["unit.add_member", "unit.remove_member"]);
}

/// 三员分立 for ending: who may do which (docs/SECURITY.md "Accounts and the separation of duties").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_is_separated_as_beginning_is_and_nobody_ends_themselves() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let (clerk, clerk_token) = app.user(&county, "clerk", &[Role::IntakeClerk]).await;
    let (_, director) = app.user(&county, "director", &[Role::CenterDirector]).await;
    let (_, dispatcher) = app.user(&county, "dispatcher", &[Role::Dispatcher]).await;
    let (_, auditor) = app.user(&county, "auditor", &[Role::Auditor]).await;
    let admin_gid = user_gid(app.admin.user_id);
    let security_gid = user_gid(app.security.user_id);
    let deactivate = |u: &str| json!({ "u": u, "r": "测试停用" });
    let revoke =
        |u: &str, role: &str| json!({ "u": u, "t": county, "role": role, "r": "测试撤销" });

    // The security administrator does not deactivate; the system administrator does not revoke.
    let body = app
        .gql(Some(&app.security_token), DEACTIVATE, deactivate(&clerk))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body:#}");
    let body = app
        .gql(
            Some(&app.admin_token),
            REVOKE,
            revoke(&clerk, "INTAKE_CLERK"),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body:#}");
    // Nor do case workers, a director or the auditor.
    for token in [&director, &dispatcher, &auditor, &clerk_token] {
        for (query, variables) in [
            (DEACTIVATE, deactivate(&clerk)),
            (REVOKE, revoke(&clerk, "INTAKE_CLERK")),
        ] {
            let body = app.gql(Some(token), query, variables).await;
            assert!(
                ["FORBIDDEN", "NOT_FOUND"].contains(&code(&body)),
                "{body:#}"
            );
        }
    }
    // Nobody ends themselves.
    let body = app
        .gql(Some(&app.admin_token), DEACTIVATE, deactivate(&admin_gid))
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body:#}");
    let body = app
        .gql(
            Some(&app.security_token),
            REVOKE,
            revoke(&security_gid, "SECURITY_ADMIN"),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body:#}");
    // The county's only security administrator and only auditor cannot be deactivated: nobody could
    // grant a role or read the trail again.
    let auditor_gid = user_gid(app.user_id(&format!("{}.auditor", app.tag)).await);
    for last in [&security_gid, &auditor_gid] {
        let body = app
            .gql(Some(&app.admin_token), DEACTIVATE, deactivate(last))
            .await;
        assert_eq!(code(&body), "CONFLICT", "{body:#}");
    }
    // With a second auditor, the first may go.
    app.user(&county, "auditor2", &[Role::Auditor]).await;
    app.ok(&app.admin_token, DEACTIVATE, deactivate(&auditor_gid))
        .await;

    // Listing accounts needs the right to read them: the administrators and a director may; to a
    // dispatcher, which reads no account, they do not exist.
    for token in [&app.admin_token, &app.security_token, &director] {
        let data = app.ok(token, ACCOUNTS, json!({ "t": county })).await;
        assert!(
            data["tenant"]["accounts"].as_array().unwrap().len() >= 6,
            "{data:#}"
        );
    }
    let body = app
        .gql(Some(&dispatcher), ACCOUNTS, json!({ "t": county }))
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body:#}");
}

/// Hostile callers: another county, a sibling township, ids of the wrong kind or made up, reasons too
/// short or too long.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_accounts_across_tenants_with_guessed_ids_or_bad_input_is_refused() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let east = app.tenant(&county, &app.township_code(1), "东山镇").await;
    let west = app.tenant(&county, &app.township_code(10), "西山镇").await;
    let (clerk, clerk_token) = app.user(&east, "clerk", &[Role::IntakeClerk]).await;
    let (unit, _) = app.unit(&east, "东山司法所", "handler").await;
    let handler = user_gid(app.user_id(&format!("{}.handler", app.tag)).await);
    // Administrators of the sibling township: they reach west only.
    let (_, west_admin) = app.user(&west, "westadmin", &[Role::CountyAdmin]).await;
    let (_, west_security) = app.user(&west, "westsec", &[Role::SecurityAdmin]).await;
    // And of another county on the same server.
    let (other_county, other_admin, other_security) = app.another_county().await;

    for (admin, security) in [
        (&west_admin, &west_security),
        (&other_admin, &other_security),
    ] {
        let attempts = [
            (admin, DEACTIVATE, json!({ "u": clerk, "r": "越权停用" })),
            (admin, REACTIVATE, json!({ "u": clerk, "r": "越权启用" })),
            (
                security,
                REVOKE,
                json!({ "u": clerk, "t": east, "role": "INTAKE_CLERK", "r": "越权撤销" }),
            ),
            (
                admin,
                REMOVE_MEMBER,
                json!({ "unit": unit, "u": handler, "r": "越权移除" }),
            ),
            (admin, ACCOUNTS, json!({ "t": east })),
            (admin, MEMBERS, json!({ "u": unit })),
        ];
        for (token, query, variables) in attempts {
            let body = app.gql(Some(token), query, variables).await;
            assert_eq!(code(&body), "NOT_FOUND", "{query}: {body:#}");
        }
    }
    // Another county's own tenant, revoked by our security administrator: not found either.
    let body = app
        .gql(
            Some(&app.security_token),
            REVOKE,
            json!({ "u": clerk, "t": other_county, "role": "INTAKE_CLERK", "r": "越权撤销" }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body:#}");

    // Ids of the wrong kind, made up, or not ids at all.
    let wrong = [
        (DEACTIVATE, json!({ "u": unit, "r": "停用" })),
        (DEACTIVATE, json!({ "u": "not-an-id", "r": "停用" })),
        (
            REVOKE,
            json!({ "u": clerk, "t": clerk, "role": "INTAKE_CLERK", "r": "撤销" }),
        ),
        (
            REMOVE_MEMBER,
            json!({ "unit": clerk, "u": handler, "r": "移除" }),
        ),
    ];
    for (query, variables) in wrong {
        let body = app.gql(Some(&app.admin_token), query, variables).await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{query}: {body:#}");
    }
    let made_up = user_gid(987_654_321);
    let body = app
        .gql(
            Some(&app.admin_token),
            DEACTIVATE,
            json!({ "u": made_up, "r": "停用" }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body:#}");
    // A role that does not exist, and a reason of the wrong type: refused by the schema.
    let body = app
        .gql(
            Some(&app.security_token),
            REVOKE,
            json!({ "u": clerk, "t": east, "role": "EMPEROR", "r": "撤销" }),
        )
        .await;
    assert!(
        body["errors"].is_array() && body["data"].is_null(),
        "{body:#}"
    );
    let body = app
        .gql(
            Some(&app.admin_token),
            DEACTIVATE,
            json!({ "u": clerk, "r": { "nested": [[["deep"]]] } }),
        )
        .await;
    assert!(
        body["errors"].is_array() && body["data"].is_null(),
        "{body:#}"
    );
    // Reasons: required, at most 500 characters.
    for reason in ["", " ", &"长".repeat(501)] {
        let body = app
            .gql(
                Some(&app.admin_token),
                DEACTIVATE,
                json!({ "u": clerk, "r": reason }),
            )
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{reason:?}: {body:#}");
    }
    // None of it did anything: the clerk still works.
    app.ok(&clerk_token, ME, json!({})).await;
    let actions: Vec<String> = audited(&app)
        .await
        .into_iter()
        .map(|(action, _, _)| action)
        .filter(|a| a == "account.deactivate" || a == "role.revoke" || a == "unit.remove_member")
        .collect();
    assert!(actions.is_empty(), "{actions:?}");
}

const RESET: &str = "mutation($u: ID!, $p: String!, $r: String!) { resetPassword(input: {userId: $u, password: $p, reason: $r}) { id active } }";
const CHANGE: &str = "mutation($u: String!, $c: String!, $n: String!) { changePassword(input: {username: $u, currentPassword: $c, newPassword: $n}) { accessToken } }";
/// The password an administrator gives a holder who forgot theirs.
const GIVEN: &str = "Linshi#2026mima";

#[tokio::test]
async fn a_reset_password_ends_the_sessions_lifts_the_lock_and_is_changed_before_signing_in() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let (clerk, token) = app.user(&county, "clerk", &[Role::IntakeClerk]).await;
    let username = format!("{}.clerk", app.tag);
    // The holder forgot it: five wrong passwords lock the account.
    for _ in 0..5 {
        app.gql(None, SIGN_IN, json!({ "u": username, "p": "Wangle#2026" }))
            .await;
    }
    let body = app
        .gql(None, SIGN_IN, json!({ "u": username, "p": PASSWORD }))
        .await;
    assert_eq!(code(&body), "ACCOUNT_LOCKED", "{body:#}");

    let data = app
        .ok(
            &app.admin_token,
            RESET,
            json!({ "u": clerk, "p": GIVEN, "r": "本人遗忘密码，已当面核验身份" }),
        )
        .await;
    assert_eq!(data["resetPassword"]["active"], true);
    // The sessions it had are over; the old password is no more; the given one must be changed first.
    assert_eq!(
        code(&app.gql(Some(&token), ME, json!({})).await),
        "UNAUTHENTICATED"
    );
    let body = app
        .gql(None, SIGN_IN, json!({ "u": username, "p": GIVEN }))
        .await;
    assert_eq!(code(&body), "PASSWORD_CHANGE_REQUIRED", "{body:#}");
    assert_eq!(body["errors"][0]["extensions"]["reason"], "first_sign_in");
    // Not back to the forgotten one (it is among the last five), but to one of the holder's choosing.
    let body = app
        .gql(
            None,
            CHANGE,
            json!({ "u": username, "c": GIVEN, "n": PASSWORD }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
    let own = "Wodemima#2027new";
    let body = app
        .gql(None, CHANGE, json!({ "u": username, "c": GIVEN, "n": own }))
        .await;
    let fresh = body["data"]["changePassword"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("{body:#}"));
    assert_eq!(
        app.ok(fresh, ME, json!({})).await["me"]["user"]["id"],
        clerk.as_str()
    );
    let trail = audited(&app).await;
    assert!(
        trail.iter().any(
            |(action, object, reason)| action == "account.password_reset"
                && *object == format!("account {}", user_id(&clerk))
                && reason == "本人遗忘密码，已当面核验身份"
        ),
        "{trail:#?}"
    );
}

#[tokio::test]
async fn only_the_administrator_resets_a_password_never_their_own_nor_another_countys() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let (clerk, _) = app.user(&county, "clerk", &[Role::IntakeClerk]).await;
    let (director, director_token) = app.user(&county, "director", &[Role::CenterDirector]).await;
    let (_, other_admin, _) = app.another_county().await;
    let reset = |user: &str, password: &str| json!({ "u": user, "p": password, "r": "遗忘密码" });
    // The security administrator grants roles and a director runs a center: neither manages accounts.
    for token in [&app.security_token, &director_token] {
        let body = app.gql(Some(token), RESET, reset(&clerk, GIVEN)).await;
        assert_eq!(code(&body), "FORBIDDEN", "{body:#}");
    }
    // Another county's administrator does not see the account; a made-up id is nobody's.
    let body = app
        .gql(Some(&other_admin), RESET, reset(&clerk, GIVEN))
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body:#}");
    let body = app
        .gql(
            Some(&app.admin_token),
            RESET,
            reset(&user_gid(987_654_321), GIVEN),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND", "{body:#}");
    let body = app
        .gql(Some(&app.admin_token), RESET, reset("not-an-id", GIVEN))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
    // Nobody resets their own: that is changePassword, proved by the current one.
    let body = app
        .gql(
            Some(&app.admin_token),
            RESET,
            reset(&user_gid(app.admin.user_id), GIVEN),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN", "{body:#}");
    // The rules hold for a given password as for a chosen one, and a reason is needed.
    for (password, field) in [("short1A", "password"), (PASSWORD, "password")] {
        let body = app
            .gql(Some(&app.admin_token), RESET, reset(&clerk, password))
            .await;
        assert_eq!(code(&body), "BAD_USER_INPUT", "{password}: {body:#}");
        assert_eq!(body["errors"][0]["extensions"]["field"], field);
    }
    let body = app
        .gql(
            Some(&app.admin_token),
            RESET,
            json!({ "u": director, "p": GIVEN, "r": " " }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
    // Nothing of this changed either account: both still sign in with their own password.
    for name in ["clerk", "director"] {
        app.sign_in(&format!("{}.{name}", app.tag)).await;
    }
}
