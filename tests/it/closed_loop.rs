//! One case walks the whole closed loop over HTTP, including a return, a redispatch, a reopen and an
//! escalation to the county, and its timeline records every step.

use fengqiao_tenancy::Role;
use serde_json::json;

use crate::helpers::{TestApp, case_input, code};
use crate::steps::in_days;

const CASE: &str = "query($id: ID!) { case(id: $id) { status tier code handledBy { name } registeredIn { name } leadUnit { name } coUnits { name } outcome satisfaction overdue parties { name idCard phone } timeline { command fromStatus toStatus note actor { displayName } unit { name } } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_travels_the_whole_closed_loop() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "永清镇")
        .await;
    let village = app
        .tenant(&township, &app.village_code(1, 1), "李家村")
        .await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let (_, dispatcher) = app.user(&township, "dispatcher", &[Role::Dispatcher]).await;
    let (_, director) = app
        .user(&township, "director", &[Role::CenterDirector])
        .await;
    let (justice, handler) = app.unit(&township, "永清司法所", "sfs").await;
    let (police, _) = app.unit(&township, "永清派出所", "pcs").await;

    let case = app.register(&clerk, Some(&village), "宅基地界址纠纷").await;
    let id = case.id.clone();
    assert_eq!(case.status(), "REGISTERED");
    let code = case["code"].as_str().unwrap().to_owned();
    assert!(code.starts_with(&app.county.code.as_str()[..6]), "{code}");
    fengqiao_domain::CaseCode::parse(&code).unwrap();

    assert_eq!(app.accept(&clerk, &id).await.status(), "ACCEPTED");
    let dispatched = app
        .dispatch(&dispatcher, &id, &justice, &[&police], 7)
        .await;
    assert_eq!(dispatched.status(), "DISPATCHED");
    assert_eq!(
        app.give_back(&handler, &id, "当事人已外出务工")
            .await
            .status(),
        "RETURNED"
    );
    assert_eq!(
        app.redispatch(&dispatcher, &id, &justice, 5).await.status(),
        "DISPATCHED"
    );
    assert_eq!(app.claim(&handler, &id).await.status(), "IN_PROGRESS");
    assert_eq!(app.resolve(&handler, &id).await.status(), "RESOLVED");
    assert_eq!(
        app.follow_up(&clerk, &id, "SATISFIED").await.status(),
        "FOLLOWED_UP"
    );
    assert_eq!(app.close(&dispatcher, &id).await.status(), "CLOSED");
    assert_eq!(
        app.reopen(&director, &id, "对方未履行协议", 7)
            .await
            .status(),
        "DISPATCHED"
    );

    let data = app.ok(&clerk, CASE, json!({ "id": id })).await;
    let case = &data["case"];
    assert_eq!(case["code"], code);
    assert_eq!(case["leadUnit"]["name"], "永清司法所");
    assert_eq!(case["registeredIn"]["name"], "李家村");
    assert_eq!(case["parties"][0]["idCard"], "110105********002X");
    assert_eq!(case["parties"][0]["phone"], "138****5678");
    let commands: Vec<&str> = case["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        [
            "register",
            "accept",
            "dispatch",
            "return",
            "redispatch",
            "claim",
            "resolve",
            "follow_up",
            "close",
            "reopen"
        ]
    );
    let timeline = case["timeline"].as_array().unwrap();
    assert_eq!(timeline[3]["note"], "当事人已外出务工");
    assert_eq!(timeline[3]["unit"]["name"], "永清司法所");
    assert_eq!(
        (
            timeline[9]["fromStatus"].as_str(),
            timeline[9]["toStatus"].as_str()
        ),
        (Some("CLOSED"), Some("DISPATCHED"))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_hands_the_case_to_the_county_with_the_same_code() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "红堡镇").await;
    let (_, clerk) = app
        .user(&township, "clerk", &[Role::IntakeClerk, Role::Dispatcher])
        .await;
    let (_, county_dispatcher) = app.user(&county, "cdispatcher", &[Role::Dispatcher]).await;
    let (court, court_handler) = app.unit(&county, "县人民法院", "court").await;

    let case = app.register(&clerk, None, "彩礼返还纠纷").await;
    let id = case.id.clone();
    app.accept(&clerk, &id).await;
    let up = app.escalate(&clerk, &id, "NEXT_TIER").await;
    assert_eq!(up["tier"], "JOINT_MEDIATION");
    let up = app.escalate(&clerk, &id, "PARENT_TENANT").await;
    assert_eq!(up["code"], case["code"]);
    assert_eq!(up["handledBy"]["name"], "测试县");
    assert_eq!(up.status(), "ACCEPTED");

    // The township still reads the case but can no longer work it.
    let escalate = "mutation($id: ID!, $t: EscalationTarget!) { escalateCase(id: $id, target: $t) { case { status } } }";
    let read = app
        .ok(
            &clerk,
            "query($id: ID!) { case(id: $id) { status } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(read["case"]["status"], "ACCEPTED");
    let again = app
        .gql(
            Some(&clerk),
            escalate,
            json!({ "id": id, "t": "PARENT_TENANT" }),
        )
        .await;
    assert_eq!(code(&again), "FORBIDDEN");

    app.dispatch(&county_dispatcher, &id, &court, &[], 20).await;
    app.claim(&court_handler, &id).await;
    // The county has no parent: escalating further is an invalid transition.
    app.unresolve(&court_handler, &id, "分歧较大").await;
    let top = app
        .gql(
            Some(&county_dispatcher),
            escalate,
            json!({ "id": id, "t": "PARENT_TENANT" }),
        )
        .await;
    assert_eq!(code(&top), "INVALID_TRANSITION");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overdue_cases_and_the_reopen_window_follow_the_clock() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(3), "白驼镇")
        .await;
    let (_, staff) = app
        .user(
            &township,
            "staff",
            &[Role::IntakeClerk, Role::Dispatcher, Role::CenterDirector],
        )
        .await;
    let (unit, handler) = app.unit(&township, "白驼司法所", "sfs").await;
    let id = app.register(&staff, None, "承包地边界纠纷").await.id;
    app.accept(&staff, &id).await;
    let dispatched = app.dispatch(&staff, &id, &unit, &[], 1).await;
    assert_eq!(dispatched["overdue"], false);
    let overdue = "{ cases(filter: {overdue: true}) { edges { node { id overdue } } } }";
    assert_eq!(
        app.ok(&staff, overdue, json!({})).await["cases"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        0
    );

    app.clock.advance(chrono::Duration::days(2));
    let listed = app.ok(&staff, overdue, json!({})).await;
    let edges = listed["cases"]["edges"].as_array().unwrap();
    assert_eq!(
        (edges.len(), &edges[0]["node"]["overdue"]),
        (1, &json!(true))
    );

    app.claim(&handler, &id).await;
    // Basically resolved, by an explanation the resident accepted (not the step's mediation).
    app.ok(
        &handler,
        "mutation($id: ID!) { resolveCase(id: $id, outcome: BASICALLY_RESOLVED, method: EXPLANATION_ACCEPTED) { case { id } } }",
        json!({ "id": id }),
    )
    .await;
    app.follow_up(&staff, &id, "DISSATISFIED").await;
    app.close(&staff, &id).await;
    assert_eq!(
        app.ok(&staff, overdue, json!({})).await["cases"]["edges"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
    app.clock.advance(chrono::Duration::days(31));
    let reopen = "mutation($id: ID!, $d: DateTime!) { reopenCase(id: $id, reason: \"不满意\", deadline: $d) { case { status } } }";
    let late = app
        .gql(Some(&staff), reopen, json!({ "id": id, "d": in_days(40) }))
        .await;
    assert_eq!(code(&late), "INVALID_TRANSITION");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_case_list_pages_by_keyset_and_filters() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let a = app.tenant(&county, &app.township_code(1), "甲镇").await;
    let b = app.tenant(&county, &app.township_code(2), "乙镇").await;
    let (_, clerk_a) = app.user(&a, "clerka", &[Role::IntakeClerk]).await;
    let (_, clerk_b) = app.user(&b, "clerkb", &[Role::IntakeClerk]).await;
    let (_, supervisor) = app.user(&county, "sup", &[Role::Supervisor]).await;
    let mut ids = Vec::new();
    for i in 0..5 {
        let mut input = case_input(None, &format!("甲镇案件{i}"));
        if i % 2 == 1 {
            input["category"] = json!("LABOUR");
        }
        ids.push(app.register_input(&clerk_a, input).await.id);
    }
    app.register(&clerk_b, None, "乙镇案件").await;
    app.accept(&clerk_a, &ids[0]).await;

    let page = "query($f: CaseFilterInput, $after: String) { cases(first: 2, after: $after, filter: $f) { edges { cursor node { id } } pageInfo { hasNextPage hasPreviousPage endCursor } } }";
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let data = app.ok(&clerk_a, page, json!({ "after": after })).await;
        let conn = &data["cases"];
        seen.extend(
            conn["edges"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
        );
        if !conn["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = conn["pageInfo"]["endCursor"].as_str().map(str::to_owned);
    }
    let newest_first: Vec<String> = ids.iter().rev().cloned().collect();
    assert_eq!(
        seen, newest_first,
        "every case of the township once, newest first"
    );

    let count = |token: &str, filter: serde_json::Value| {
        let token = token.to_owned();
        let app = &app;
        async move {
            let data = app.ok(&token, "query($f: CaseFilterInput) { cases(first: 100, filter: $f) { edges { cursor } } }", json!({ "f": filter })).await;
            data["cases"]["edges"].as_array().unwrap().len()
        }
    };
    assert_eq!(count(&supervisor, json!({})).await, 6);
    assert_eq!(count(&supervisor, json!({ "tenantId": a })).await, 5);
    assert_eq!(count(&supervisor, json!({ "tenantId": b })).await, 1);
    assert_eq!(
        count(&supervisor, json!({ "categories": ["LABOUR"] })).await,
        2
    );
    assert_eq!(
        count(&supervisor, json!({ "statuses": ["ACCEPTED"] })).await,
        1
    );
    assert_eq!(
        count(&supervisor, json!({ "kinds": ["PETITION"] })).await,
        0
    );
    let hour_ago = (chrono::Utc::now() - chrono::Duration::hours(1)).to_rfc3339();
    assert_eq!(
        count(&supervisor, json!({ "registeredFrom": hour_ago })).await,
        6
    );
    assert_eq!(
        count(&supervisor, json!({ "registeredBefore": hour_ago })).await,
        0
    );
    // A filter never widens what a principal sees: a sibling's tenant is not found at all.
    let body = app
        .gql(
            Some(&clerk_a),
            "query($f: CaseFilterInput) { cases(filter: $f) { edges { cursor } } }",
            json!({ "f": { "tenantId": b } }),
        )
        .await;
    assert_eq!(code(&body), "NOT_FOUND");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legal_clocks_count_working_days_across_the_spring_festival() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(4), "金集镇")
        .await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let (_, supervisor) = app
        .user(&app.county_gid(), "sup", &[Role::Supervisor])
        .await;
    // Move the server's clock to Wednesday 11 February 2026, 10:00 in Beijing (tokens were issued before).
    let target = chrono::DateTime::parse_from_rfc3339("2026-02-11T02:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    app.clock.advance(target - app.state.now());

    let mut input = case_input(None, "邻里纠纷");
    input["complexity"] = json!("GENERAL");
    let case = app.register_input(&clerk, input).await;
    let id = case.id.clone();
    assert!(case["code"].as_str().unwrap().contains("-20260211-"));
    let clocks =
        "query($id: ID!) { case(id: $id) { acceptBy concludeBy followUpBy overdue extended } }";
    assert_eq!(
        app.ok(&clerk, clocks, json!({ "id": id })).await["case"]["acceptBy"],
        "2026-02-12"
    );

    app.clock.advance(chrono::Duration::days(1));
    let case = app.accept(&clerk, &id).await;
    // 7 working days from Thursday 12 February: 13, 14 (a worked Saturday), then 24–28 after the holiday.
    assert_eq!(
        (case["concludeBy"].as_str(), case["overdue"].as_bool()),
        (Some("2026-02-28"), Some(false))
    );

    // A supervisor extends it once, by a month, with a reason; a second extension is refused.
    let extend = "mutation($id: ID!) { extendCaseDeadline(id: $id, reason: \"需等待司法鉴定结果\") { case { concludeBy extended } } }";
    let body = app.gql(Some(&clerk), extend, json!({ "id": id })).await;
    assert_eq!(code(&body), "FORBIDDEN");
    let extended = app.extend(&supervisor, &id, "需等待司法鉴定结果").await;
    assert_eq!(extended["concludeBy"], "2026-03-30");
    assert_eq!(
        code(
            &app.gql(Some(&supervisor), extend, json!({ "id": id }))
                .await
        ),
        "INVALID_TRANSITION"
    );

    app.clock.advance(chrono::Duration::days(47));
    let late = app.ok(&clerk, clocks, json!({ "id": id })).await;
    assert_eq!(
        late["case"]["overdue"], true,
        "31 March is past the extended deadline"
    );
    let listed = app
        .ok(
            &clerk,
            "{ cases(filter: {overdue: true}) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["cases"]["edges"][0]["node"]["id"], id.as_str());
    let timeline = app
        .ok(
            &clerk,
            "query($id: ID!) { case(id: $id) { timeline { command note } } }",
            json!({ "id": id }),
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
        (Some("extend"), Some("需等待司法鉴定结果"))
    );
}

fn async_graphql_id(id: &str) -> async_graphql::ID {
    async_graphql::ID(id.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_scanners_raise_each_supervision_exactly_once() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(5), "秦亭镇").await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let (_, director) = app
        .user(&township, "director", &[Role::CenterDirector])
        .await;
    let (_, supervisor) = app.user(&county, "sup", &[Role::Supervisor]).await;
    // A second server process on the same database, with the same clock.
    let second = fengqiao::build_state(
        &crate::helpers::test_config_for(&app),
        std::sync::Arc::new(app.clock.clone()),
    )
    .await
    .unwrap();

    let target = chrono::DateTime::parse_from_rfc3339("2026-09-28T02:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    app.clock.advance(target - app.state.now());
    let mut ids = Vec::new();
    for i in 0..3 {
        let mut input = case_input(None, &format!("督办测试{i}"));
        input["complexity"] = json!("SIMPLE");
        let id = app.register_input(&clerk, input).await.id;
        app.accept(&clerk, &id).await;
        ids.push(id);
    }
    // Accepted Monday 28 September: concluded by Tuesday 29. Wednesday 30: urge. Five working days after
    // the 29th, across National Day, is 12 October: on the 13th, notice.
    // Scanners see every county of a shared database: count the orders of this test's cases.
    let case_ids: Vec<i64> = ids
        .iter()
        .map(|id| {
            fengqiao::graphql::decode_id(
                "id",
                fengqiao::graphql::GlobalId::Case,
                &async_graphql_id(id),
            )
            .unwrap()
        })
        .collect();
    let levels_of = |state: std::sync::Arc<fengqiao::app::AppState>, ids: Vec<i64>| async move {
        let mut all = Vec::new();
        for id in ids {
            let orders =
                fengqiao::store::scope::as_system(state.store.supervision_orders_of_case(id))
                    .await
                    .unwrap();
            all.push(orders.iter().map(|o| o.level.as_str()).collect::<Vec<_>>());
        }
        all
    };
    let system = fengqiao::store::scope::SystemPermit::for_the_process();
    app.clock.advance(chrono::Duration::days(2));
    let (a, b) = tokio::join!(
        app.state.scan_deadlines_in(&system, Some(app.county.id)),
        second.scan_deadlines_in(&system, Some(app.county.id))
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    assert!(a.raised + b.raised >= 3, "{a:?} {b:?}");
    assert_eq!(
        levels_of(app.state.clone(), case_ids.clone()).await,
        vec![vec!["urge"]; 3]
    );
    app.state
        .scan_deadlines_in(&system, Some(app.county.id))
        .await
        .unwrap();
    assert_eq!(
        levels_of(app.state.clone(), case_ids.clone()).await,
        vec![vec!["urge"]; 3],
        "a rerun raises nothing"
    );

    app.clock.advance(chrono::Duration::days(13));
    let (a, b) = tokio::join!(
        app.state.scan_deadlines_in(&system, Some(app.county.id)),
        second.scan_deadlines_in(&system, Some(app.county.id))
    );
    let (_, _) = (a.unwrap(), b.unwrap());
    assert_eq!(
        levels_of(app.state.clone(), case_ids.clone()).await,
        vec![vec!["urge", "notice"]; 3]
    );
    let orders = "query($id: ID!) { case(id: $id) { overdue supervisionOrders { id level automatic status respondBy issuer { name } target { name } } } }";
    let data = app.ok(&supervisor, orders, json!({ "id": ids[0] })).await;
    let levels: Vec<&str> = data["case"]["supervisionOrders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["level"].as_str().unwrap())
        .collect();
    assert_eq!(levels, ["URGE", "NOTICE"]);
    assert_eq!(
        data["case"]["supervisionOrders"][0]["issuer"]["name"],
        "测试县"
    );
    assert_eq!(
        data["case"]["supervisionOrders"][0]["target"]["name"],
        "秦亭镇"
    );

    // The county supervisor issues one by hand; the township answers it, once.
    let issue = "mutation($id: ID!) { issueSupervisionOrder(caseId: $id, level: ACCOUNTABILITY, reason: \"逾期未办结，约谈责任人\") { order { id status automatic } } }";
    let issued = app.ok(&supervisor, issue, json!({ "id": ids[0] })).await;
    let order = issued["issueSupervisionOrder"]["order"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(issued["issueSupervisionOrder"]["order"]["automatic"], false);
    assert_eq!(
        code(
            &app.gql(Some(&director), issue, json!({ "id": ids[0] }))
                .await
        ),
        "FORBIDDEN"
    );
    let respond = "mutation($o: ID!) { respondToSupervision(orderId: $o, response: \"已约谈并限期三日内办结\") { order { status response } } }";
    let answered = app.ok(&director, respond, json!({ "o": order })).await;
    assert_eq!(
        answered["respondToSupervision"]["order"]["status"],
        "RESPONDED"
    );
    assert_eq!(
        code(
            &app.gql(Some(&director), respond, json!({ "o": order }))
                .await
        ),
        "INVALID_TRANSITION"
    );
    let timeline = app
        .ok(
            &director,
            "query($id: ID!) { case(id: $id) { timeline { command } } }",
            json!({ "id": ids[0] }),
        )
        .await;
    let commands: Vec<&str> = timeline["case"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["command"].as_str().unwrap())
        .collect();
    assert_eq!(
        commands,
        [
            "register",
            "accept",
            "supervise",
            "supervise",
            "supervise",
            "respond_supervision"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_ladder_ends_in_a_leader_case_and_records_where_it_was_resolved() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(6), "山门镇").await;
    let other = app.tenant(&county, &app.township_code(7), "白沙镇").await;
    let (_, staff) = app
        .user(&township, "staff", &[Role::IntakeClerk, Role::Dispatcher])
        .await;
    let (leader, _) = app.user(&township, "leader", &[Role::CenterDirector]).await;
    let (stranger, _) = app.user(&other, "stranger", &[Role::CenterDirector]).await;
    let (unit, handler) = app.unit(&township, "山门司法所", "sfs").await;
    let id = app.register(&staff, None, "土地纠纷").await.id;
    app.accept(&staff, &id).await;
    app.escalate(&staff, &id, "NEXT_TIER").await;
    app.escalate(&staff, &id, "NEXT_TIER").await;
    let up = "mutation($id: ID!, $l: ID) { escalateCase(id: $id, target: NEXT_TIER, leaderId: $l) { case { tier leader { displayName } } } }";
    let body = app.gql(Some(&staff), up, json!({ "id": id })).await;
    assert_eq!(
        (
            code(&body),
            body["errors"][0]["extensions"]["field"].as_str()
        ),
        ("BAD_USER_INPUT", Some("leaderId"))
    );
    let body = app
        .gql(Some(&staff), up, json!({ "id": id, "l": stranger }))
        .await;
    assert_eq!(
        (
            code(&body),
            body["errors"][0]["extensions"]["field"].as_str()
        ),
        ("BAD_USER_INPUT", Some("leaderId"))
    );
    let top = app.ok(&staff, up, json!({ "id": id, "l": leader })).await;
    assert_eq!(top["escalateCase"]["case"]["tier"], "LEADER_CASE");
    assert_eq!(
        top["escalateCase"]["case"]["leader"]["displayName"],
        "测试用户"
    );

    app.dispatch(&staff, &id, &unit, &[], 5).await;
    app.claim(&handler, &id).await;
    let resolved = app
        .ok(&handler, "mutation($id: ID!) { resolveCase(id: $id, outcome: RESOLVED, method: ADMINISTRATIVE_MEDIATION) { case { resolvedLevel tier } } }", json!({ "id": id }))
        .await;
    assert_eq!(resolved["resolveCase"]["case"]["resolvedLevel"], "TOWNSHIP");
    assert_eq!(resolved["resolveCase"]["case"]["tier"], "LEADER_CASE");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_centers_clock_policy_governs_its_subtree() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(8), "王河镇").await;
    let village = app
        .tenant(&township, &app.village_code(8, 1), "王家村")
        .await;
    let sibling = app.tenant(&county, &app.township_code(9), "郭川镇").await;
    let (_, director) = app
        .user(&township, "director", &[Role::CenterDirector])
        .await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let (_, sibling_clerk) = app.user(&sibling, "sclerk", &[Role::IntakeClerk]).await;
    let (_, supervisor) = app.user(&county, "supervisor", &[Role::Supervisor]).await;
    let set = "mutation($t: ID!, $c: String!) { setClockPolicy(input: {tenantId: $t, kind: DISPUTE, complexity: GENERAL, acceptWithin: \"1wd\", concludeWithin: $c, extension: \"10wd\", followUpWithin: \"5wd\"}) { concludeWithin extension } }";
    let body = app
        .gql(
            Some(&director),
            set,
            json!({ "t": township, "c": "seven days" }),
        )
        .await;
    assert_eq!(
        (
            code(&body),
            body["errors"][0]["extensions"]["field"].as_str()
        ),
        ("BAD_USER_INPUT", Some("concludeWithin"))
    );
    assert_eq!(
        code(
            &app.gql(Some(&clerk), set, json!({ "t": township, "c": "3wd" }))
                .await
        ),
        "FORBIDDEN"
    );
    assert_eq!(
        code(
            &app.gql(Some(&director), set, json!({ "t": sibling, "c": "3wd" }))
                .await
        ),
        "NOT_FOUND"
    );
    let set_ok = app
        .ok(&director, set, json!({ "t": township, "c": "3wd" }))
        .await;
    assert_eq!(set_ok["setClockPolicy"]["concludeWithin"], "3wd");

    // Monday 7 December 2026: 3 working days → Thursday 10; the sibling keeps the default 7 → Wednesday 16.
    let target = chrono::DateTime::parse_from_rfc3339("2026-12-07T02:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    app.clock.advance(target - app.state.now());
    let ours = app.register(&clerk, Some(&village), "王家村纠纷").await.id;
    let accepted = app.accept(&clerk, &ours).await;
    assert_eq!(accepted["concludeBy"], "2026-12-10");
    let theirs = app.register(&sibling_clerk, None, "郭川纠纷").await.id;
    let theirs = app.accept(&sibling_clerk, &theirs).await;
    assert_eq!(theirs["concludeBy"], "2026-12-16");
    // An extension is the case's own policy's (10 working days from Thursday 10 December: the 24th), not
    // the default month (which would give Monday 11 January).
    let extended = app.extend(&supervisor, &ours, "需补充鉴定材料").await;
    assert_eq!(extended["concludeBy"], "2026-12-24");
    let effective = "query($t: ID!) { clockPolicy(tenantId: $t, kind: DISPUTE, complexity: GENERAL) { concludeWithin } }";
    assert_eq!(
        app.ok(&clerk, effective, json!({ "t": village })).await["clockPolicy"]["concludeWithin"],
        "3wd"
    );
    assert_eq!(
        app.ok(&sibling_clerk, effective, json!({ "t": sibling }))
            .await["clockPolicy"]["concludeWithin"],
        "7wd"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn risk_grades_explain_themselves_and_follow_every_event() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(11), "远门镇")
        .await;
    let (_, staff) = app
        .user(&township, "staff", &[Role::IntakeClerk, Role::Dispatcher])
        .await;
    let first = app.register(&staff, None, "第一次").await;
    assert_eq!(first["risk"]["level"], "GREEN");
    // The same applicant (same ID number) again, twice: yellow, then orange, with the reason.
    let second = app.register(&staff, None, "第二次").await;
    assert_eq!(second["risk"]["level"], "YELLOW");
    let third = app.register(&staff, None, "第三次").await;
    assert_eq!(third["risk"]["level"], "ORANGE");
    assert_eq!(
        third["risk"]["reasons"][0],
        "a party is in 2 other cases within 90 days"
    );
    // Escalating twice adds a second orange reason: red. Each event regrades.
    app.accept(&staff, &third.id).await;
    app.escalate(&staff, &third.id, "NEXT_TIER").await;
    let red = app.escalate(&staff, &third.id, "NEXT_TIER").await;
    assert_eq!(red["risk"]["level"], "RED");
    assert_eq!(red["risk"]["reasons"][1], "escalated 2 times");
    let listed = app
        .ok(
            &staff,
            "{ cases(filter: {risks: [RED, ORANGE]}) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(listed["cases"]["edges"].as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_case_from_the_12345_hotline_keeps_the_hotlines_limits() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(5), "河口镇")
        .await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    // Monday 7 December 2026.
    let target = chrono::DateTime::parse_from_rfc3339("2026-12-07T02:00:00Z")
        .unwrap()
        .with_timezone(&chrono::Utc);
    app.clock.advance(target - app.state.now());
    let mut concluded_by = Vec::new();
    for (kind, channel) in [
        ("DISPUTE", "HOTLINE_12345"),
        ("LEGAL_CONSULTATION", "HOTLINE_12345"),
        ("DISPUTE", "WINDOW"),
    ] {
        let mut input = case_input(None, "热线转办纠纷");
        input["kind"] = json!(kind);
        input["channel"] = json!(channel);
        let id = app.register_input(&clerk, input).await.id;
        let accepted = app.accept(&clerk, &id).await;
        concluded_by.push(accepted["concludeBy"].as_str().unwrap().to_owned());
    }
    // A complaint within 13 working days, an enquiry within 3; the window's dispute keeps its 7.
    assert_eq!(concluded_by, ["2026-12-24", "2026-12-10", "2026-12-16"]);
}
