//! Personal data typed into free text is masked for every role that may not reveal it — in `case`,
//! `cases`, search hits and their highlights, and live events — and an exact look-up by ID number or
//! phone is a reveal: the reveal permission, a reason, an audit record, a rate limit.

use fengqiao_tenancy::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, case_input, code};

const ID: &str = "11010519491231002X";
const PHONE: &str = "13812345678";
const READ: &str = "query($id: ID!) { case(id: $id) { title description } }";
const LOOKUP: &str =
    "query($i: FindCasesByPartyInput!) { findCasesByParty(input: $i) { id title description } }";

/// Every way the personal data of `case_input`'s applicant could show in text.
fn assert_masked(text: &str) {
    for secret in [ID, PHONE, "张建国", "李秀英", "19491231", "12345678"] {
        assert!(!text.contains(secret), "{secret} shows in {text}");
    }
}

async fn register_with_data(app: &TestApp, clerk: &str, township: &str) -> String {
    let mut input = case_input(Some(township), "张建国与李秀英宅基地纠纷");
    input["description"] = json!(format!(
        "村民张建国（身份证{ID}，电话{PHONE}）反映邻居李秀英新建院墙越界，座机0938-8123456。"
    ));
    app.register_input(clerk, input).await.id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn free_text_shows_personal_data_only_to_who_may_reveal_it() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "甲镇")
        .await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let (_, dispatcher) = app.user(&township, "dispatcher", &[Role::Dispatcher]).await;
    let (_, supervisor) = app
        .user(&app.county_gid(), "supervisor", &[Role::Supervisor])
        .await;
    let case = register_with_data(&app, &clerk, &township).await;

    // The intake clerk may reveal: the text in full.
    let full = app.ok(&clerk, READ, json!({ "id": case })).await;
    assert!(full["case"]["description"].as_str().unwrap().contains(ID));
    // The dispatcher and the county's supervisor may not: masked as the parties' fields are.
    for token in [&dispatcher, &supervisor] {
        let shown = app.ok(token, READ, json!({ "id": case })).await;
        let description = shown["case"]["description"].as_str().unwrap();
        assert_masked(description);
        assert_masked(shown["case"]["title"].as_str().unwrap());
        assert!(description.contains("张*国"), "{description}");
        assert!(description.contains("110105********002X"), "{description}");
        assert!(description.contains("138****5678"), "{description}");
        assert!(description.contains("0938-***3456"), "{description}");
        let listed = app
            .ok(
                token,
                "{ cases(first: 10) { edges { node { title description } } } }",
                json!({}),
            )
            .await;
        assert_masked(&listed.to_string());
    }

    // Search hits and highlights carry no personal data either, for any role: the index holds the text
    // masked.
    app.state.settle_search().await.unwrap();
    for token in [&clerk, &dispatcher, &supervisor] {
        let found = app
            .ok(
                token,
                "query($t: String!) { searchCases(text: $t) { hits { title { text html } description { text html } case { description } } } }",
                json!({ "t": "宅基地" }),
            )
            .await;
        let hits = found["searchCases"]["hits"].as_array().unwrap();
        assert_eq!(hits.len(), 1, "{found}");
        assert_masked(&hits[0]["title"].to_string());
        assert_masked(&hits[0]["description"].to_string());
    }
    // Digits of the numbers are not in the index to be found.
    for fragment in ["12345678", "19491231", "8123456"] {
        let found = app
            .ok(
                &clerk,
                "query($t: String!) { searchCases(text: $t) { total } }",
                json!({ "t": fragment }),
            )
            .await;
        assert_eq!(found["searchCases"]["total"], 0, "{fragment}");
    }
}

async fn lookup(app: &TestApp, token: &str, input: Value) -> Value {
    app.gql(Some(token), LOOKUP, json!({ "i": input })).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exact_look_up_by_number_is_an_audited_rate_limited_reveal() {
    let app = TestApp::spawn().await;
    let ours = app
        .tenant(&app.county_gid(), &app.township_code(1), "甲镇")
        .await;
    let theirs = app
        .tenant(&app.county_gid(), &app.township_code(10), "乙镇")
        .await;
    let (clerk_id, clerk) = app.user(&ours, "clerk", &[Role::IntakeClerk]).await;
    let (_, dispatcher) = app.user(&ours, "dispatcher", &[Role::Dispatcher]).await;
    let (_, their_clerk) = app.user(&theirs, "clerk2", &[Role::IntakeClerk]).await;
    let case = register_with_data(&app, &clerk, &ours).await;

    let found = lookup(
        &app,
        &clerk,
        json!({ "idCard": ID, "reason": "核实申请人身份" }),
    )
    .await;
    let cases = found["data"]["findCasesByParty"].as_array().unwrap();
    assert_eq!(cases.len(), 1, "{found:#}");
    assert_eq!(cases[0]["id"], case.as_str());
    let by_phone = lookup(
        &app,
        &clerk,
        json!({ "phone": PHONE, "reason": "回访前核对" }),
    )
    .await;
    assert_eq!(by_phone["data"]["findCasesByParty"][0]["id"], case.as_str());
    // A role that may read but not reveal finds nothing; nor does a sibling township's clerk.
    for token in [&dispatcher, &their_clerk] {
        let found = lookup(
            &app,
            token,
            json!({ "idCard": ID, "reason": "核实申请人身份" }),
        )
        .await;
        assert_eq!(found["data"]["findCasesByParty"], json!([]), "{found:#}");
    }
    // Refused input: no reason, both numbers, neither, a number with a wrong check character.
    for (input, field) in [
        (json!({ "idCard": ID, "reason": "" }), "reason"),
        (
            json!({ "idCard": ID, "phone": PHONE, "reason": "核实" }),
            "idCard",
        ),
        (json!({ "reason": "核实" }), "idCard"),
        (
            json!({ "idCard": "110105194912310021", "reason": "核实" }),
            "idCard",
        ),
        (json!({ "phone": "12345", "reason": "核实" }), "phone"),
    ] {
        let body = lookup(&app, &clerk, input.clone()).await;
        assert_eq!(
            (
                code(&body),
                body["errors"][0]["extensions"]["field"].as_str()
            ),
            ("BAD_USER_INPUT", Some(field)),
            "{input}: {body:#}"
        );
    }
    // Every look-up is an audit record, naming the number by its keyed hash only (beside the records of
    // the accounts and grants this test made).
    let records: Vec<_> =
        fengqiao::store::scope::as_system(app.state.store.audit_records(app.county.id))
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.action == "party.lookup")
            .collect();
    let clerk_user = fengqiao::graphql::decode_id(
        "u",
        fengqiao::graphql::GlobalId::User,
        &async_graphql::ID(clerk_id),
    )
    .unwrap();
    let clerks: Vec<_> = records
        .iter()
        .filter(|r| r.user_id == Some(clerk_user))
        .collect();
    assert_eq!(clerks.len(), 2, "{records:#?}");
    assert!(
        clerks
            .iter()
            .all(|r| r.action == "party.lookup" && r.outcome == "allowed")
    );
    assert_eq!(clerks[0].reason, "核实申请人身份");
    assert_eq!(
        records.len(),
        4,
        "the dispatcher's and the sibling's look-ups are recorded too"
    );
    for record in &records {
        assert!(
            !record.object.contains(ID) && !record.object.contains(PHONE),
            "{record:?}"
        );
        assert!(
            record.client_address.as_deref() == Some("127.0.0.1"),
            "{record:?}"
        );
    }
    // Twenty look-ups an hour: the clerk has made two; the twenty-first is refused, and recorded.
    for _ in 2..20 {
        let body = lookup(&app, &clerk, json!({ "phone": PHONE, "reason": "核对" })).await;
        assert!(body.get("errors").is_none(), "{body:#}");
    }
    let body = lookup(&app, &clerk, json!({ "phone": PHONE, "reason": "核对" })).await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body:#}");
    assert!(
        body["errors"][0]["extensions"]["retryAfter"]
            .as_u64()
            .unwrap()
            > 0
    );
    let records = fengqiao::store::scope::as_system(app.state.store.audit_records(app.county.id))
        .await
        .unwrap();
    assert_eq!(records.last().unwrap().outcome, "rate_limited");
}

/// What staff type while handling (a supervisor's reasons, the center's answers, the notes of the
/// timeline) is free text too: masked for who may not reveal, in full for who may.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn notes_reasons_and_answers_on_a_case_are_masked_as_its_description_is() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "甲镇")
        .await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let (_, dispatcher) = app.user(&township, "dispatcher", &[Role::Dispatcher]).await;
    let (_, supervisor) = app
        .user(&app.county_gid(), "supervisor", &[Role::Supervisor])
        .await;
    let case = app.register(&clerk, None, "宅基地纠纷").await.id;
    app.accept(&clerk, &case).await;
    let extension = format!("等待张建国（电话{PHONE}）补交材料");
    app.extend(&supervisor, &case, &extension).await;
    let reason = format!("李秀英身份证{ID}多次来访");
    let order = app.supervise(&supervisor, &case, "URGE", &reason).await;
    let answer = format!("已约谈张建国，联系电话{PHONE}");
    let answered = app
        .ok(
            &dispatcher,
            "mutation($o: ID!, $r: String!) { respondToSupervision(orderId: $o, response: $r) { order { reason } } }",
            json!({ "o": order, "r": answer }),
        )
        .await;
    // The dispatcher answers for the center and may not reveal: the supervisor's reason comes back masked.
    let shown = answered["respondToSupervision"]["order"]["reason"]
        .as_str()
        .unwrap();
    assert_masked(shown);
    assert!(shown.contains("110105********002X"), "{shown}");

    let read = "query($id: ID!) { case(id: $id) {
        timeline { command note data }
        supervisionOrders { reason response } } }";
    let texts = |body: &Value| -> String {
        let case = &body["case"];
        let mut all = String::new();
        for event in case["timeline"].as_array().unwrap() {
            all.push_str(event["note"].as_str().unwrap());
            all.push_str(&event["data"].to_string());
        }
        for order in case["supervisionOrders"].as_array().unwrap() {
            all.push_str(order["reason"].as_str().unwrap());
            all.push_str(order["response"].as_str().unwrap_or(""));
        }
        all
    };
    for token in [&dispatcher, &supervisor] {
        let shown = texts(&app.ok(token, read, json!({ "id": case })).await);
        assert_masked(&shown);
        for masked in ["张*国", "李*英", "138****5678", "110105********002X"] {
            assert!(shown.contains(masked), "{masked} missing from {shown}");
        }
    }
    let full = texts(&app.ok(&clerk, read, json!({ "id": case })).await);
    for typed in [&extension, &reason, &answer] {
        assert!(full.contains(typed.as_str()), "{typed} missing from {full}");
    }
}
