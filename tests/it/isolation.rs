//! Staff of one township get `NOT_FOUND` (never `FORBIDDEN`: existence must not leak) for a sibling
//! township's case through every read path and every mutation, while the county sees it.

use fengqiao_tenancy::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, code};
use crate::steps::in_days;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sibling_township_cannot_see_or_touch_a_case() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    // Townships 1 and 10 (codes …101000 and …110000) and villages whose ids and codes share prefixes.
    let ours = app.tenant(&county, &app.township_code(1), "甲镇").await;
    let theirs = app.tenant(&county, &app.township_code(10), "乙镇").await;
    let their_village = app.tenant(&theirs, &app.village_code(10, 1), "乙村").await;
    app.tenant(&ours, &app.village_code(1, 10), "甲村").await;

    let (_, our_director) = app
        .user(
            &ours,
            "director",
            &[
                Role::CenterDirector,
                Role::Dispatcher,
                Role::IntakeClerk,
                Role::Mediator,
            ],
        )
        .await;
    let (our_unit, our_handler) = app.unit(&ours, "甲镇司法所", "handler").await;
    let (their_clerk_id, their_clerk) = app.user(&theirs, "clerk", &[Role::IntakeClerk]).await;
    let (their_unit, _) = app.unit(&theirs, "乙镇司法所", "theirhandler").await;
    let (_, supervisor) = app.user(&county, "supervisor", &[Role::Supervisor]).await;
    let (_, county_director) = app
        .user(&county, "cdirector", &[Role::CenterDirector])
        .await;

    let registered = app
        .register(&their_clerk, Some(&their_village), "乙村邻里纠纷")
        .await;
    let case = registered.id.clone();
    let case_code = registered["code"].as_str().unwrap().to_owned();

    // The county sees it, in every way.
    let seen = app
        .ok(
            &supervisor,
            "query($id: ID!) { case(id: $id) { code parties { id } } node(id: $id) { id } }",
            json!({ "id": case }),
        )
        .await;
    assert_eq!(seen["case"]["code"], case_code.as_str());
    assert_eq!(seen["node"]["id"], case.as_str());
    let party = seen["case"]["parties"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = app
        .ok(
            &supervisor,
            "{ cases(first: 100) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert!(ids(&listed).contains(&case));

    let deadline = in_days(5);
    let reads = [
        (
            "query($id: ID!) { case(id: $id) { id } }",
            json!({ "id": case }),
        ),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": case }),
        ),
        (
            "query($c: String!) { caseByCode(code: $c) { id } }",
            json!({ "c": case_code }),
        ),
        (
            "query($id: ID!) { tenant(id: $id) { id } }",
            json!({ "id": theirs }),
        ),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": their_village }),
        ),
        (
            "query($t: ID!) { cases(filter: { tenantId: $t }) { edges { cursor } } }",
            json!({ "t": theirs }),
        ),
        (
            "query($id: ID!) { unit(id: $id) { id } }",
            json!({ "id": their_unit }),
        ),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": their_unit }),
        ),
        (
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": their_clerk_id }),
        ),
        (
            "query($id: ID!) { tenant(id: $id) { children { id } } }",
            json!({ "id": theirs }),
        ),
    ];
    let mutations = [
        (
            "mutation($id: ID!) { acceptCase(id: $id) { case { id } } }",
            json!({ "id": case }),
        ),
        (
            "mutation($id: ID!) { rejectCase(id: $id, reason: \"不属受理范围\", referral: \"县法院\") { case { id } } }",
            json!({ "id": case }),
        ),
        (
            "mutation($id: ID!, $u: ID!, $d: DateTime!) { dispatchCase(id: $id, leadUnitId: $u, deadline: $d) { case { id } } }",
            json!({ "id": case, "u": our_unit, "d": deadline }),
        ),
        (
            "mutation($id: ID!) { claimCase(id: $id) { case { id } } }",
            json!({ "id": case }),
        ),
        (
            "mutation($id: ID!) { returnCase(id: $id, reason: \"不属本单位\") { case { id } } }",
            json!({ "id": case }),
        ),
        (
            "mutation($id: ID!, $u: ID!, $d: DateTime!) { reviewReturn(id: $id, decision: REDISPATCH, leadUnitId: $u, deadline: $d) { case { id } } }",
            json!({ "id": case, "u": our_unit, "d": deadline }),
        ),
        (
            "mutation($id: ID!) { reviewReturn(id: $id, decision: TAKE_BACK) { case { id } } }",
            json!({ "id": case }),
        ),
        (
            "mutation($id: ID!) { resolveCase(id: $id, outcome: RESOLVED, method: PEOPLES_MEDIATION) { case { id } } }",
            json!({ "id": case }),
        ),
        (
            "mutation($id: ID!) { unresolveCase(id: $id, reason: \"分歧大\") { case { id } } }",
            json!({ "id": case }),
        ),
        (
            "mutation($id: ID!) { escalateCase(id: $id, target: NEXT_TIER) { case { id } } }",
            json!({ "id": case }),
        ),
        (
            "mutation($id: ID!) { escalateCase(id: $id, target: PARENT_TENANT) { case { id } } }",
            json!({ "id": case }),
        ),
        (
            "mutation($id: ID!) { followUpCase(id: $id, satisfaction: SATISFIED) { case { id } } }",
            json!({ "id": case }),
        ),
        (
            "mutation($id: ID!) { closeCase(id: $id) { case { id } } }",
            json!({ "id": case }),
        ),
        (
            "mutation($id: ID!, $d: DateTime!) { reopenCase(id: $id, reason: \"不满意\", deadline: $d) { case { id } } }",
            json!({ "id": case, "d": deadline }),
        ),
        (
            "mutation($id: ID!, $p: ID!) { revealParty(caseId: $id, partyId: $p, reason: \"核实身份\") { idCard } }",
            json!({ "id": case, "p": party }),
        ),
        (
            "mutation($t: ID!) { registerCase(input: { tenantId: $t, kind: DISPUTE, channel: WINDOW, category: OTHER, title: \"越权登记\", description: \"不应成功\", parties: [{ role: APPLICANT, name: \"某人\" }] }) { case { id } } }",
            json!({ "t": their_village }),
        ),
        (
            "mutation($t: ID!) { createUnit(input: { tenantId: $t, name: \"越权单位\", department: \"司法\", residency: RESIDENT }) { id } }",
            json!({ "t": theirs }),
        ),
        (
            "mutation($t: ID!, $u: String!) { createUser(input: { tenantId: $t, username: $u, displayName: \"越权\", password: \"Zx9 Qv initial!\" }) { id } }",
            json!({ "t": theirs, "u": format!("{}.intruder", app.tag) }),
        ),
        (
            "mutation($u: ID!, $t: ID!) { grantRole(input: { userId: $u, tenantId: $t, role: DISPATCHER }) { role } }",
            json!({ "u": their_clerk_id, "t": theirs }),
        ),
        (
            "mutation($u: ID!, $m: ID!) { addUnitMember(unitId: $u, userId: $m) { id } }",
            json!({ "u": their_unit, "m": their_clerk_id }),
        ),
        (
            "mutation($p: ID!) { createTenant(input: { parentId: $p, code: \"000000000000\", name: \"越权村\" }) { id } }",
            json!({ "p": theirs }),
        ),
    ];
    let mut tried = 0;
    for token in [&our_director, &our_handler] {
        for (query, vars) in reads.iter().chain(mutations.iter()) {
            let body = app.gql(Some(token), query, vars.clone()).await;
            if query.contains("node(id:") {
                // Relay's `node` answers null for what the caller may not see.
                assert!(body.get("errors").is_none(), "{body:#}");
                assert!(body["data"]["node"].is_null(), "{query} leaked: {body:#}");
                tried += 1;
                continue;
            }
            assert_eq!(code(&body), "NOT_FOUND", "{query} leaked: {body:#}");
            assert!(
                body["data"].is_null()
                    || body["data"]
                        .as_object()
                        .is_some_and(|o| o.values().all(Value::is_null)),
                "{body:#}"
            );
            tried += 1;
        }
        let listed = app
            .ok(
                token,
                "{ cases(first: 100) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert!(
            !ids(&listed).contains(&case),
            "the sibling's case is listed"
        );
        tried += 1;
    }
    assert!(tried >= 40);

    // The case is untouched and its timeline holds only the registration.
    let after = app
        .ok(
            &county_director,
            "query($id: ID!) { case(id: $id) { status timeline { command } } }",
            json!({ "id": case }),
        )
        .await;
    assert_eq!(after["case"]["status"], "REGISTERED");
    assert_eq!(after["case"]["timeline"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeing_a_case_without_the_right_role_is_forbidden_not_hidden() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(2), "丙镇").await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let (_, supervisor) = app.user(&county, "supervisor", &[Role::Supervisor]).await;
    let case = app.register(&clerk, None, "借贷纠纷").await.id;
    // The supervisor reads every case of the county but does not work them.
    let body = app
        .gql(
            Some(&supervisor),
            "mutation($id: ID!) { acceptCase(id: $id) { case { id } } }",
            json!({ "id": case }),
        )
        .await;
    assert_eq!(code(&body), "FORBIDDEN");
    // Parties are masked for roles that may not reveal personal data, and revealing is refused.
    let parties = app
        .ok(
            &supervisor,
            "query($id: ID!) { case(id: $id) { parties { id name idCard phone } } }",
            json!({ "id": case }),
        )
        .await;
    let first = &parties["case"]["parties"][0];
    assert_eq!(
        (first["name"].as_str(), first["idCard"].as_str()),
        (Some("张*国"), Some("110105********002X"))
    );
    let party = first["id"].as_str().unwrap();
    let reveal = "mutation($id: ID!, $p: ID!) { revealParty(caseId: $id, partyId: $p, reason: \"核实身份\") { idCard phone } }";
    assert_eq!(
        code(
            &app.gql(Some(&supervisor), reveal, json!({ "id": case, "p": party }))
                .await
        ),
        "FORBIDDEN"
    );
    // The clerk may reveal, with a reason, and the reveal is on the timeline.
    let shown = app
        .ok(&clerk, reveal, json!({ "id": case, "p": party }))
        .await;
    assert_eq!(shown["revealParty"]["idCard"], "11010519491231002X");
    assert_eq!(shown["revealParty"]["phone"], "13812345678");
    let timeline = app
        .ok(
            &clerk,
            "query($id: ID!) { case(id: $id) { timeline { command note } } }",
            json!({ "id": case }),
        )
        .await;
    let last = timeline["case"]["timeline"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone();
    assert_eq!(
        (last["command"].as_str(), last["note"].as_str()),
        (Some("reveal_personal_data"), Some("核实身份"))
    );
}

fn ids(listed: &Value) -> Vec<String> {
    listed["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}
