//! Stationed units: a rotating unit (轮驻) acts on its cases only during a shift of its duty roster.

use chrono::{Datelike, Duration, NaiveDate, Utc, Weekday};
use fengqiao_tenancy::Role;
use serde_json::json;

use crate::helpers::{TestApp, code};
use crate::steps::in_days;

/// The next `weekday` strictly after `from` (a date in China), at `hour`:00 China time, as UTC.
fn next(from: NaiveDate, weekday: Weekday, hour: u32) -> chrono::DateTime<Utc> {
    let mut day = from + Duration::days(1);
    while day.weekday() != weekday {
        day += Duration::days(1);
    }
    day.and_hms_opt(hour, 0, 0).unwrap().and_utc() - Duration::hours(8)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rotating_unit_acts_only_during_its_shifts() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "北关镇")
        .await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let (_, dispatcher) = app.user(&township, "dispatcher", &[Role::Dispatcher]).await;
    let (_, director) = app
        .user(&township, "director", &[Role::CenterDirector])
        .await;
    let (unit, handler) = app
        .stationed_unit(&township, "北关住建所", "ROTATING", "zjs")
        .await;

    let set = "mutation($u: ID!, $r: DutyRosterInput!) { setDutyRoster(unitId: $u, roster: $r) { residency dutyRoster { weekly { weekday start end } changes { date off } } } }";
    let weekdays: Vec<_> = ["MON", "TUE", "WED", "THU", "FRI"]
        .iter()
        .map(|d| json!({ "weekday": d, "start": "08:30", "end": "17:30" }))
        .collect();
    let data = app
        .ok(
            &director,
            set,
            json!({ "u": unit, "r": { "weekly": weekdays, "changes": [{ "date": "2027-01-01", "off": true }] } }),
        )
        .await;
    let roster = &data["setDutyRoster"]["dutyRoster"];
    assert_eq!(roster["weekly"].as_array().unwrap().len(), 5);
    assert_eq!(
        roster["weekly"][0],
        json!({ "weekday": "MON", "start": "08:30", "end": "17:30" })
    );
    assert_eq!(
        roster["changes"][0],
        json!({ "date": "2027-01-01", "off": true })
    );

    // Bad rosters and rosters of units that do not rotate are refused.
    let bad = app
        .gql(Some(&director), set, json!({ "u": unit, "r": { "weekly": [{ "weekday": "MON", "start": "25:00", "end": "17:30" }] } }))
        .await;
    assert_eq!(code(&bad), "BAD_USER_INPUT");
    let (resident, _) = app.unit(&township, "北关司法所", "sfs").await;
    let bad = app
        .gql(
            Some(&director),
            set,
            json!({ "u": resident, "r": { "weekly": weekdays } }),
        )
        .await;
    assert_eq!(code(&bad), "BAD_USER_INPUT");
    let denied = app
        .gql(
            Some(&clerk),
            set,
            json!({ "u": unit, "r": { "weekly": weekdays } }),
        )
        .await;
    assert_eq!(code(&denied), "FORBIDDEN");

    let case = app
        .register(&clerk, Some(&township), "房屋漏水纠纷")
        .await
        .id;
    app.accept(&clerk, &case).await;
    app.dispatch(&dispatcher, &case, &unit, &[], 20).await;

    // Saturday, 10:00 in China: off shift. The unit reads its case but cannot claim it, and is told why.
    let today = fengqiao_domain::code::china_date(app.state.now());
    app.clock
        .advance(next(today, Weekday::Sat, 10) - app.state.now());
    let claim = "mutation($id: ID!) { claimCase(id: $id) { case { status } } }";
    let refused = app.gql(Some(&handler), claim, json!({ "id": case })).await;
    assert_eq!(code(&refused), "FORBIDDEN", "{refused:#}");
    let message = refused["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("duty shift"), "{message}");
    let read = app
        .ok(&handler, "query($id: ID!, $u: ID!) { case(id: $id) { status } node(id: $u) { ... on Unit { onDutyNow } } }", json!({ "id": case, "u": unit }))
        .await;
    assert_eq!(read["case"]["status"], "DISPATCHED");
    assert_eq!(read["node"]["onDutyNow"], false);

    // Monday, 10:00: on shift.
    let saturday = fengqiao_domain::code::china_date(app.state.now());
    app.clock
        .advance(next(saturday, Weekday::Mon, 10) - app.state.now());
    assert_eq!(app.claim(&handler, &case).await.status(), "IN_PROGRESS");
}

const CASE_STATUS: &str =
    "query($id: ID!) { case(id: $id) { status summonses { unitId late open } } }";
const LIST: &str = "{ cases(first: 50) { edges { node { id } } } }";

fn listed(data: &serde_json::Value) -> Vec<String> {
    data["cases"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_call_unit_sees_a_case_only_while_summoned_and_its_late_report_is_recorded() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "东山镇")
        .await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let (_, dispatcher) = app.user(&township, "dispatcher", &[Role::Dispatcher]).await;
    let (unit, handler) = app
        .stationed_unit(&township, "东山人社所", "ON_CALL", "rss")
        .await;
    let case = app
        .register(&clerk, Some(&township), "拖欠工资纠纷")
        .await
        .id;
    app.accept(&clerk, &case).await;

    // Not summoned: the case does not exist for the unit, and it cannot be dispatched to it.
    let hidden = app
        .gql(Some(&handler), CASE_STATUS, json!({ "id": case }))
        .await;
    assert_eq!(code(&hidden), "NOT_FOUND");
    assert!(listed(&app.ok(&handler, LIST, json!({})).await).is_empty());
    let dispatch = "mutation($id: ID!, $u: ID!, $d: DateTime!) { dispatchCase(id: $id, leadUnitId: $u, coUnitIds: [], deadline: $d) { case { status } } }";
    let refused = app
        .gql(
            Some(&dispatcher),
            dispatch,
            json!({ "id": case, "u": unit, "d": in_days(20) }),
        )
        .await;
    assert_eq!(code(&refused), "BAD_USER_INPUT", "{refused:#}");

    // Summoned (吹哨) with the default two hours to report.
    let summons = app
        .ok(&dispatcher, "mutation($c: ID!, $u: ID!) { summonUnit(caseId: $c, unitId: $u) { id reportBy open } }", json!({ "c": case, "u": unit }))
        .await["summonUnit"]
        .clone();
    assert_eq!(summons["open"], true);
    let summons_id = summons["id"].as_str().unwrap().to_owned();
    let again = app
        .gql(
            Some(&dispatcher),
            "mutation($c: ID!, $u: ID!) { summonUnit(caseId: $c, unitId: $u) { id } }",
            json!({ "c": case, "u": unit }),
        )
        .await;
    assert_eq!(
        code(&again),
        "BAD_USER_INPUT",
        "one open summons per case and unit"
    );
    let seen = app.ok(&handler, CASE_STATUS, json!({ "id": case })).await;
    assert_eq!(seen["case"]["status"], "ACCEPTED");
    assert_eq!(
        listed(&app.ok(&handler, LIST, json!({})).await),
        std::slice::from_ref(&case)
    );

    // It reports three hours later: late, and recorded so.
    app.clock.advance(Duration::hours(3));
    assert!(app.report(&handler, &summons_id).await, "reported late");
    let record = app
        .ok(&dispatcher, "query($u: ID!) { node(id: $u) { ... on Unit { summonsRecord { summoned reported late } } } }", json!({ "u": unit }))
        .await;
    assert_eq!(
        record["node"]["summonsRecord"],
        json!({ "summoned": 1, "reported": 1, "late": 1 })
    );

    // Dispatched to it while summoned, it works the case as its lead unit.
    app.dispatch(&dispatcher, &case, &unit, &[], 20).await;
    assert_eq!(app.claim(&handler, &case).await.status(), "IN_PROGRESS");

    // Released: the case is gone from the unit's sight again.
    app.release(&dispatcher, &summons_id).await;
    let gone = app
        .gql(Some(&handler), CASE_STATUS, json!({ "id": case }))
        .await;
    assert_eq!(code(&gone), "NOT_FOUND");
    let gone = app
        .gql(Some(&handler), "mutation($id: ID!) { resolveCase(id: $id, outcome: RESOLVED, method: ADMINISTRATIVE_MEDIATION, note: \"\") { case { status } } }", json!({ "id": case }))
        .await;
    assert_eq!(code(&gone), "NOT_FOUND");
    assert!(listed(&app.ok(&handler, LIST, json!({})).await).is_empty());
    let timeline = app
        .ok(
            &dispatcher,
            "query($id: ID!) { case(id: $id) { summonses { late open } timeline { command } } }",
            json!({ "id": case }),
        )
        .await;
    assert_eq!(
        timeline["case"]["summonses"],
        json!([{ "late": true, "open": false }])
    );
    let commands: Vec<&str> = timeline["case"]["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["command"].as_str().unwrap())
        .collect();
    for expected in ["summon", "report", "release"] {
        assert!(commands.contains(&expected), "{commands:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_co_unit_reads_the_case_but_cannot_conclude_it() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "西山镇")
        .await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let (_, dispatcher) = app.user(&township, "dispatcher", &[Role::Dispatcher]).await;
    let (lead, lead_handler) = app.unit(&township, "西山司法所", "sfs").await;
    let (co, co_handler) = app.unit(&township, "西山派出所", "pcs").await;
    let case = app
        .register(&clerk, Some(&township), "邻里噪音纠纷")
        .await
        .id;
    app.accept(&clerk, &case).await;
    app.dispatch(&dispatcher, &case, &lead, &[&co], 20).await;
    app.claim(&lead_handler, &case).await;
    let read = app
        .ok(&co_handler, CASE_STATUS, json!({ "id": case }))
        .await;
    assert_eq!(read["case"]["status"], "IN_PROGRESS");
    for mutation in [
        "mutation($id: ID!) { resolveCase(id: $id, outcome: RESOLVED, method: PEOPLES_MEDIATION, note: \"\") { case { status } } }",
        "mutation($id: ID!) { unresolveCase(id: $id, reason: \"未能调解\") { case { status } } }",
    ] {
        let refused = app
            .gql(Some(&co_handler), mutation, json!({ "id": case }))
            .await;
        assert_eq!(code(&refused), "FORBIDDEN", "{refused:#}");
        let message = refused["errors"][0]["message"].as_str().unwrap();
        assert!(message.contains("co-unit"), "{message}");
    }
    assert_eq!(app.resolve(&lead_handler, &case).await.status(), "RESOLVED");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_summons_shows_a_case_only_where_the_members_unit_role_reaches() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let ours = app.tenant(&county, &app.township_code(1), "东山镇").await;
    let theirs = app.tenant(&county, &app.township_code(10), "西山镇").await;
    let (_, county_dispatcher) = app
        .user(
            &county,
            "cdispatcher",
            &[Role::Dispatcher, Role::IntakeClerk],
        )
        .await;
    // A county on-call unit whose member holds its unit role only at township 1.
    let unit = app
        .ok(&app.admin_token, "mutation($t: ID!) { createUnit(input: {tenantId: $t, name: \"县信访局\", department: \"信访\", residency: ON_CALL}) { id } }", json!({ "t": county }))
        .await["createUnit"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (member, member_token) = app.user(&county, "member", &[]).await;
    app.ok(&app.security_token, "mutation($u: ID!, $t: ID!) { grantRole(input: {userId: $u, tenantId: $t, role: UNIT_HANDLER}) { role } }", json!({ "u": member, "t": ours }))
        .await;
    app.ok(
        &app.admin_token,
        "mutation($u: ID!, $m: ID!) { addUnitMember(unitId: $u, userId: $m) { id } }",
        json!({ "u": unit, "m": member }),
    )
    .await;
    let mut cases = Vec::new();
    for place in [&theirs, &ours] {
        let case = app
            .register(&county_dispatcher, Some(place), "信访事项")
            .await
            .id;
        app.summon(&county_dispatcher, &case, &unit).await;
        cases.push(case);
    }
    // Summoned to both; the case in township 10 stays out of reach, on every path, the list included.
    let hidden = app
        .gql(Some(&member_token), CASE_STATUS, json!({ "id": cases[0] }))
        .await;
    assert_eq!(code(&hidden), "NOT_FOUND", "{hidden:#}");
    let seen = app
        .ok(&member_token, CASE_STATUS, json!({ "id": cases[1] }))
        .await;
    assert!(seen["case"]["status"].is_string(), "{seen:#}");
    assert_eq!(
        listed(&app.ok(&member_token, LIST, json!({})).await),
        vec![cases[1].clone()]
    );
}
