//! Every kind of bad input gets its typed error with a stable `extensions.code`, and retries with an
//! idempotency key are safe.

use fengqiao_tenancy::Role;
use serde_json::{Value, json};

use crate::helpers::{REGISTER, TestApp, case_input, code};
use crate::steps::in_days;

fn field(body: &Value) -> &str {
    body["errors"][0]["extensions"]["field"]
        .as_str()
        .unwrap_or("<none>")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_input_is_checked_field_by_field() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "甲镇")
        .await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    type Mutate = Box<dyn Fn(&mut Value)>;
    let cases: [(&str, Mutate, &str); 11] = [
        (
            "title",
            Box::new(|v| v["title"] = json!("宅基地\u{0}纠纷")),
            "BAD_USER_INPUT",
        ),
        (
            "parties[0].address",
            Box::new(|v| v["parties"][0]["address"] = json!("一组\u{7}")),
            "BAD_USER_INPUT",
        ),
        (
            "idempotencyKey",
            Box::new(|v| v["idempotencyKey"] = json!(format!("{} ", "k".repeat(129)))),
            "BAD_USER_INPUT",
        ),
        (
            "title",
            Box::new(|v| v["title"] = json!("  ")),
            "BAD_USER_INPUT",
        ),
        (
            "description",
            Box::new(|v| v["description"] = json!("长".repeat(5001))),
            "BAD_USER_INPUT",
        ),
        (
            "parties",
            Box::new(|v| v["parties"] = json!([])),
            "BAD_USER_INPUT",
        ),
        (
            "parties[0].idCard",
            Box::new(|v| v["parties"][0]["idCard"] = json!("110105194912310021")),
            "BAD_USER_INPUT",
        ),
        (
            "parties[0].idCard",
            Box::new(|v| v["parties"][0]["idCard"] = json!("11010519491231")),
            "BAD_USER_INPUT",
        ),
        (
            "parties[0].phone",
            Box::new(|v| v["parties"][0]["phone"] = json!("12345")),
            "BAD_USER_INPUT",
        ),
        (
            "parties[1].name",
            Box::new(|v| v["parties"][1]["name"] = json!("")),
            "BAD_USER_INPUT",
        ),
        (
            "tenantId",
            Box::new(|v| v["tenantId"] = json!("bm90LWFuLWlk")),
            "BAD_USER_INPUT",
        ),
    ];
    for (expected_field, mutate, expected_code) in cases {
        let mut input = case_input(None, "测试");
        mutate(&mut input);
        let body = app
            .gql(Some(&clerk), REGISTER, json!({ "input": input }))
            .await;
        assert_eq!(
            (code(&body), field(&body)),
            (expected_code, expected_field),
            "{body:#}"
        );
    }
    let mut input = case_input(None, "测试");
    input["category"] = json!("NOT_A_CATEGORY");
    let body = app
        .gql(Some(&clerk), REGISTER, json!({ "input": input }))
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT", "{body:#}");
    // Nothing was registered by any of these.
    let listed = app
        .ok(
            &clerk,
            "{ cases(first: 10) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["cases"]["edges"].as_array().unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_replay_the_same_case_and_refuse_other_input() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "甲镇")
        .await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let mut input = case_input(None, "重复提交");
    input["idempotencyKey"] = json!("window-7-0001");
    let first = app.ok(&clerk, REGISTER, json!({ "input": input })).await;
    let again = app.ok(&clerk, REGISTER, json!({ "input": input })).await;
    assert_eq!(first["registerCase"]["replayed"], false);
    assert_eq!(again["registerCase"]["replayed"], true);
    assert_eq!(
        first["registerCase"]["case"]["id"],
        again["registerCase"]["case"]["id"]
    );
    assert_eq!(
        first["registerCase"]["case"]["code"],
        again["registerCase"]["case"]["code"]
    );
    input["title"] = json!("另一件事");
    let conflict = app
        .gql(Some(&clerk), REGISTER, json!({ "input": input }))
        .await;
    assert_eq!(code(&conflict), "IDEMPOTENCY_CONFLICT");

    // Concurrent retries with one key still make one case.
    input["idempotencyKey"] = json!("window-7-0002");
    let tries = (0..8).map(|_| app.gql(Some(&clerk), REGISTER, json!({ "input": input })));
    let answers = futures::future::join_all(tries).await;
    let ids: std::collections::BTreeSet<String> = answers
        .iter()
        .map(|a| {
            a["data"]["registerCase"]["case"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{a:#}"))
                .to_owned()
        })
        .collect();
    assert_eq!(ids.len(), 1);
    let listed = app
        .ok(
            &clerk,
            "{ cases(first: 100) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["cases"]["edges"].as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_and_paging_errors_are_typed() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "甲镇")
        .await;
    let (_, staff) = app
        .user(&township, "staff", &[Role::IntakeClerk, Role::Dispatcher])
        .await;
    let (unit, handler) = app.unit(&township, "甲镇司法所", "handler").await;
    let id = app.register(&staff, None, "测试").await.id;

    let claim = app
        .gql(
            Some(&handler),
            "mutation($id: ID!) { claimCase(id: $id) { case { id } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(
        code(&claim),
        "NOT_FOUND",
        "a unit sees only cases dispatched to it"
    );
    let close = app
        .gql(
            Some(&staff),
            "mutation($id: ID!) { closeCase(id: $id) { case { id } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(code(&close), "INVALID_TRANSITION");
    let reject = app.gql(Some(&staff), "mutation($id: ID!) { rejectCase(id: $id, reason: \" \", referral: \"县法院\") { case { id } } }", json!({ "id": id })).await;
    assert_eq!(
        (code(&reject), field(&reject)),
        ("BAD_USER_INPUT", "reason")
    );
    app.accept(&staff, &id).await;

    let dispatch = "mutation($id: ID!, $u: ID!, $co: [ID!]!, $d: DateTime!) { dispatchCase(id: $id, leadUnitId: $u, coUnitIds: $co, deadline: $d) { case { status } } }";
    let past = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    let future = in_days(3);
    let body = app
        .gql(
            Some(&staff),
            dispatch,
            json!({ "id": id, "u": unit, "co": [], "d": past }),
        )
        .await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "deadline"));
    let body = app
        .gql(
            Some(&staff),
            dispatch,
            json!({ "id": id, "u": unit, "co": [unit], "d": future }),
        )
        .await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "coUnits"));
    let ghost = fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::Unit, 999_999_999).0;
    let body = app
        .gql(
            Some(&staff),
            dispatch,
            json!({ "id": id, "u": ghost, "co": [], "d": future }),
        )
        .await;
    assert_eq!(
        (code(&body), field(&body)),
        ("BAD_USER_INPUT", "leadUnitId")
    );
    let body = app
        .gql(
            Some(&staff),
            dispatch,
            json!({ "id": id, "u": township, "co": [], "d": future }),
        )
        .await;
    assert_eq!(
        (code(&body), field(&body)),
        ("BAD_USER_INPUT", "leadUnitId")
    );
    let body = app
        .gql(
            Some(&staff),
            dispatch,
            json!({ "id": id, "u": unit, "co": [], "d": "next tuesday" }),
        )
        .await;
    assert_eq!(code(&body), "BAD_USER_INPUT");

    let body = app
        .gql(
            Some(&staff),
            "{ cases(first: 101) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "first"));
    let body = app
        .gql(
            Some(&staff),
            "{ cases(first: 0) { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "first"));
    let body = app
        .gql(
            Some(&staff),
            "{ cases(after: \"bogus\") { edges { cursor } } }",
            json!({}),
        )
        .await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "after"));
    let body = app
        .gql(
            Some(&staff),
            "query($id: ID!) { case(id: $id) { id } }",
            json!({ "id": township }),
        )
        .await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "id"));
    let missing = fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::Case, 999_999_999).0;
    let body = app
        .gql(
            Some(&staff),
            "query($id: ID!) { case(id: $id) { id } }",
            json!({ "id": missing }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND");
    let body = app
        .gql(
            Some(&staff),
            "{ caseByCode(code: \"12-34\") { id } }",
            json!({}),
        )
        .await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "code"));

    let body = app.gql(Some(&app.admin_token), "mutation($p: ID!) { createTenant(input: {parentId: $p, code: \"999999101000\", name: \"外县镇\"}) { id } }", json!({ "p": app.county_gid() })).await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "code"));
    let body = app.gql(Some(&app.admin_token), "mutation($t: ID!) { createUser(input: {tenantId: $t, username: \"bad name!\", displayName: \"x\", password: \"longenough\"}) { id } }", json!({ "t": township })).await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "username"));
    let body = app.gql(Some(&app.admin_token), "mutation($t: ID!, $u: String!) { createUser(input: {tenantId: $t, username: $u, displayName: \"x\", password: \"short\"}) { id } }", json!({ "t": township, "u": format!("{}.shortpw", app.tag) })).await;
    assert_eq!((code(&body), field(&body)), ("BAD_USER_INPUT", "password"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_and_oversized_queries_get_codes_not_crashes() {
    let app = TestApp::spawn().await;
    let token = app.admin_token.clone();
    assert_eq!(
        code(
            &app.gql(Some(&token), "{ me { user { username } ", json!({}))
                .await
        ),
        "GRAPHQL_PARSE_FAILED"
    );
    assert_eq!(
        code(
            &app.gql(Some(&token), "{ me { nosuchfield } }", json!({}))
                .await
        ),
        "GRAPHQL_VALIDATION_FAILED"
    );
    let deep = format!(
        "query($id: ID!) {{ tenant(id: $id) {{ {} id {} }} }}",
        "children { ".repeat(14),
        "}".repeat(14)
    );
    let body = app
        .gql(Some(&token), &deep, json!({ "id": app.county_gid() }))
        .await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");
    let wide = "{ cases(first: 100) { edges { node { timeline { actor { displayName } unit { name } tenant { name } } parties { name } leadUnit { name } coUnits { name } registeredIn { name } handledBy { name } } } } }";
    let body = app.gql(Some(&token), wide, json!({})).await;
    assert_eq!(code(&body), "QUERY_TOO_COMPLEX", "{body:#}");
    let raw = app
        .http
        .post(&app.url)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert!(raw.status().is_client_error(), "{}", raw.status());
    let base = app.url.trim_end_matches("/graphql").to_owned();
    assert!(
        app.http
            .get(format!("{base}/healthz"))
            .send()
            .await
            .unwrap()
            .status()
            .is_success()
    );
    let ready = app.http.get(format!("{base}/readyz")).send().await.unwrap();
    assert!(ready.status().is_success());
}
