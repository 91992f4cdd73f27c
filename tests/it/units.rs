//! Stationed units: a rotating unit (轮驻) acts on its cases only during a shift of its duty roster.

use chrono::{Datelike, Duration, NaiveDate, Utc, Weekday};
use fengqiao_tenancy::Role;
use serde_json::json;

use crate::helpers::{REGISTER, TestApp, case_input, code};

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
    let unit = app
        .ok(&app.admin_token, "mutation($t: ID!) { createUnit(input: {tenantId: $t, name: \"北关住建所\", department: \"住建\", residency: ROTATING}) { id } }", json!({ "t": township }))
        .await["createUnit"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (officer, handler) = app.user(&township, "zjs", &[Role::UnitHandler]).await;
    app.ok(
        &app.admin_token,
        "mutation($u: ID!, $m: ID!) { addUnitMember(unitId: $u, userId: $m) { id } }",
        json!({ "u": unit, "m": officer }),
    )
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
        .ok(
            &clerk,
            REGISTER,
            json!({ "input": case_input(Some(&township), "房屋漏水纠纷") }),
        )
        .await["registerCase"]["case"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(
        &clerk,
        "mutation($id: ID!) { acceptCase(id: $id) { case { status } } }",
        json!({ "id": case }),
    )
    .await;
    let deadline = (Utc::now() + Duration::days(20)).to_rfc3339();
    app.ok(&dispatcher, "mutation($id: ID!, $u: ID!, $d: DateTime!) { dispatchCase(id: $id, leadUnitId: $u, coUnitIds: [], deadline: $d) { case { status } } }", json!({ "id": case, "u": unit, "d": deadline })).await;

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
    let data = app.ok(&handler, claim, json!({ "id": case })).await;
    assert_eq!(data["claimCase"]["case"]["status"], "IN_PROGRESS");
}
