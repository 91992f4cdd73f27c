//! How many SQL statements a page of cases costs with the child fields a case list shows (parties, units,
//! tenants, staff, timeline with actors, supervision orders, summonses): the figure the batching of child
//! fields is judged by (tests/bench/README.md has it before and after). The bound below is the figure
//! measured; the test fails if a change makes the page cost more.

use serde_json::json;

use crate::helpers::{REGISTER, TestApp, case_input};
use fengqiao_tenancy::Role;

/// Cases on the page.
const PAGE: usize = 50;

const PAGE_QUERY: &str = "query { cases(first: 50) { edges { node {
    id code status
    registeredIn { id name } handledBy { id name } registeredBy { id userId displayName }
    leader { displayName }
    leadUnit { id name } coUnits { id name }
    parties { name role }
    supervisionOrders { id issuedBy { displayName } issuer { name } target { name } }
    summonses { id }
    timeline { command actor { id userId displayName } unit { name } tenant { name } }
} } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_of_fifty_cases_with_their_child_fields_costs_a_bounded_number_of_statements() {
    // The page asks for more than the default complexity allows (2,000, counted per field and page).
    let app = TestApp::spawn_with(|c| c.graphql.max_complexity = 100_000).await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "城关镇").await;
    let (clerk_id, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let (director_id, director) = app
        .user(
            &township,
            "director",
            &[Role::CenterDirector, Role::Dispatcher],
        )
        .await;
    let (unit, _) = app.unit(&township, "城关司法所", "handler").await;
    let deadline = (app.state.now() + chrono::Duration::days(5)).to_rfc3339();
    for n in 0..PAGE {
        let data = app
            .ok(
                &clerk,
                REGISTER,
                json!({ "input": case_input(Some(&township), &format!("借款纠纷{n}")) }),
            )
            .await;
        let id = data["registerCase"]["case"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        // Half the page accepted and dispatched to a unit: units and a longer timeline to show.
        if n % 2 == 0 {
            app.ok(
                &director,
                "mutation($id: ID!) { acceptCase(id: $id) { case { status } } }",
                json!({ "id": id }),
            )
            .await;
            app.ok(&director, "mutation($id: ID!, $u: ID!, $d: DateTime!) { dispatchCase(id: $id, leadUnitId: $u, coUnitIds: [], deadline: $d) { case { status } } }", json!({ "id": id, "u": unit, "d": deadline })).await;
        }
    }
    // Once to warm what is cached in memory (the directory of tenants, accounts), then measured.
    let warm = app.ok(&director, PAGE_QUERY, json!({})).await;
    assert_eq!(warm["cases"]["edges"].as_array().unwrap().len(), PAGE);
    let before = app.state.store.statements_run();
    let page = app.ok(&director, PAGE_QUERY, json!({})).await;
    let statements = app.state.store.statements_run() - before;
    assert_eq!(page["cases"]["edges"].as_array().unwrap().len(), PAGE);
    let dispatched = page["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["node"]["leadUnit"]["name"] == "城关司法所")
        .count();
    assert_eq!(dispatched, PAGE / 2);
    // What was read in batches is each case's own: its parties, its timeline in order, with its actors.
    for edge in page["cases"]["edges"].as_array().unwrap() {
        let case = &edge["node"];
        let commands: Vec<&str> = case["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["command"].as_str().unwrap())
            .collect();
        assert_eq!(
            case["timeline"][0]["actor"]["userId"],
            clerk_id.as_str(),
            "{case}"
        );
        assert_eq!(case["registeredBy"]["userId"], clerk_id.as_str());
        assert_eq!(
            case["parties"],
            json!([{ "name": "张*国", "role": "APPLICANT" }, { "name": "李*英", "role": "RESPONDENT" }]),
            "{case}"
        );
        if case["leadUnit"]["name"] == "城关司法所" {
            assert_eq!(commands, ["register", "accept", "dispatch"], "{case}");
            assert_eq!(case["timeline"][2]["actor"]["userId"], director_id.as_str());
        } else {
            assert_eq!(commands, ["register"], "{case}");
            assert!(case["leadUnit"].is_null());
        }
    }
    eprintln!(
        "a page of {PAGE} cases with their child fields ran {statements} statements ({})",
        app.state.store.backend_name()
    );
    let at_most = match app.state.store.backend_name() {
        "postgres" => AT_MOST_POSTGRES,
        _ => AT_MOST_SQLITE,
    };
    assert!(
        statements <= at_most,
        "{statements} statements for one page (at most {at_most})"
    );
}

/// The page's cost with child fields batched (tests/bench/README.md): 12 statements on SQLite, 18 on
/// PostgreSQL (where each read also sets its transaction's scope); before batching it was 378 and 754. With
/// room for the background work that shares the store (the outbox worker, the policy feed reader) during
/// the request; one child field read case by case again costs fifty more.
const AT_MOST_SQLITE: u64 = 12 + 12;
const AT_MOST_POSTGRES: u64 = 18 + 24;

/// Batches keep nothing between them: two mutations in one request each answer with the timeline as it
/// stands after their own change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_changes_in_one_request_each_answer_with_their_own_timeline() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "城关镇").await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let (_, director) = app
        .user(
            &township,
            "director",
            &[Role::CenterDirector, Role::Dispatcher],
        )
        .await;
    let (unit, _) = app.unit(&township, "城关司法所", "handler").await;
    let data = app
        .ok(
            &clerk,
            REGISTER,
            json!({ "input": case_input(Some(&township), "借款纠纷") }),
        )
        .await;
    let id = data["registerCase"]["case"]["id"].as_str().unwrap();
    let deadline = (app.state.now() + chrono::Duration::days(5)).to_rfc3339();
    let both = app
        .ok(
            &director,
            "mutation($id: ID!, $u: ID!, $d: DateTime!) {
                a: acceptCase(id: $id) { case { timeline { command } leadUnit { name } } }
                b: dispatchCase(id: $id, leadUnitId: $u, coUnitIds: [], deadline: $d) {
                    case { timeline { command } leadUnit { name } } }
            }",
            json!({ "id": id, "u": unit, "d": deadline }),
        )
        .await;
    let commands = |answer: &serde_json::Value| -> Vec<String> {
        answer["case"]["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["command"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(commands(&both["a"]), ["register", "accept"]);
    assert!(both["a"]["case"]["leadUnit"].is_null());
    assert_eq!(commands(&both["b"]), ["register", "accept", "dispatch"]);
    assert_eq!(both["b"]["case"]["leadUnit"]["name"], "城关司法所");
}
