//! County rollups: the dashboard reproduces a published year from raw cases, follows every change of a
//! case exactly (escalation, reopening, rejection), equals a replay of the timeline, and is read only by
//! the roles that may read it; the monthly report carries the same numbers.

use fengqiao::store::scope::as_system;
use fengqiao_tenancy::Role;
use serde_json::{Value, json};

use crate::helpers::{TestApp, code};
use crate::steps::in_days;

const DASHBOARD: &str = "query($t: ID!, $from: String!, $to: String) { dashboard(tenantId: $t, period: {from: $from, to: $to}) { from to asOf totals { ...F } byCategory { category figures { ...F } } byKind { kind figures { intake } } byTier { tier resolved unresolved } resolutionLevels { level resolved share } byChild { tenant { name } figures { ...F } cases { open overdue } supervision { open overdue } } cases { open overdue } supervision { open overdue } supervisionByUnit { unit { name } orders { open overdue } } trend { month figures { intake resolved } } } } fragment F on RollupFigures { intake accepted rejected resolved unresolved resolutionRate mediationsConcluded mediationsSucceeded mediationSuccessRate closed closureRate closedOnTime onTimeRate followedUp satisfied satisfactionRate open overdue }";

fn this_month() -> String {
    fengqiao_domain::rollup::Month::of(fengqiao_domain::code::china_date(chrono::Utc::now()))
        .to_string()
}

fn input(tenant: &str, category: &str, n: usize) -> Value {
    json!({
        "tenantId": tenant,
        "kind": "DISPUTE",
        "channel": "WINDOW",
        "category": category,
        "complexity": "SIMPLE",
        "title": format!("纠纷 {n}"),
        "description": "村民反映纠纷，请求调解。",
        "place": "一组",
        "parties": [{ "role": "APPLICANT", "name": "王某" }]
    })
}

/// Runs one mutation per item in a single request (aliases `m0`, `m1` …) and returns the ids it names.
async fn batch(app: &TestApp, token: &str, field: &str, args: &[String]) -> Vec<String> {
    let mut ids = Vec::new();
    for chunk in args.chunks(25) {
        let body: String = chunk
            .iter()
            .enumerate()
            .map(|(i, a)| format!("m{i}: {field}({a}) {{ case {{ id }} }} "))
            .collect();
        let data = app
            .ok(token, &format!("mutation {{ {body} }}"), json!({}))
            .await;
        for i in 0..chunk.len() {
            ids.push(
                data[format!("m{i}")]["case"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            );
        }
    }
    ids
}

fn literal(v: &Value) -> String {
    // GraphQL input literals: JSON with unquoted keys and enum values unquoted.
    match v {
        Value::Object(map) => {
            let fields: Vec<String> = map
                .iter()
                .map(|(k, v)| {
                    let value = match (k.as_str(), v) {
                        (
                            "kind" | "channel" | "category" | "complexity" | "role",
                            Value::String(s),
                        ) => s.clone(),
                        _ => literal(v),
                    };
                    format!("{k}: {value}")
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        Value::Array(items) => format!(
            "[{}]",
            items.iter().map(literal).collect::<Vec<_>>().join(", ")
        ),
        other => other.to_string(),
    }
}

struct Center {
    clerk: String,
    dispatcher: String,
    unit: String,
    handler: String,
}

async fn center(app: &TestApp, township: &str, tag: &str) -> Center {
    let (_, clerk) = app
        .user(township, &format!("{tag}clerk"), &[Role::IntakeClerk])
        .await;
    let (_, dispatcher) = app
        .user(township, &format!("{tag}dispatcher"), &[Role::Dispatcher])
        .await;
    let (unit, handler) = app
        .unit(township, &format!("{tag}司法所"), &format!("{tag}sfs"))
        .await;
    Center {
        clerk,
        dispatcher,
        unit,
        handler,
    }
}

/// Registers cases at `village` and works them to a conclusion: `resolved` of them resolved, the rest
/// unresolved after a failed mediation.
async fn conclude(app: &TestApp, c: &Center, village: &str, categories: &[&str], resolved: usize) {
    let registrations: Vec<String> = categories
        .iter()
        .enumerate()
        .map(|(n, cat)| format!("input: {}", literal(&input(village, cat, n))))
        .collect();
    let ids = batch(app, &c.clerk, "registerCase", &registrations).await;
    let each = |extra: &str| -> Vec<String> {
        ids.iter()
            .map(|id| format!("id: \"{id}\"{extra}"))
            .collect()
    };
    batch(app, &c.clerk, "acceptCase", &each("")).await;
    let dispatch = format!(
        ", leadUnitId: \"{}\", coUnitIds: [], deadline: \"{}\"",
        c.unit,
        in_days(5)
    );
    batch(app, &c.dispatcher, "dispatchCase", &each(&dispatch)).await;
    batch(app, &c.handler, "claimCase", &each("")).await;
    let (good, bad) = ids.split_at(resolved);
    let resolve: Vec<String> = good
        .iter()
        .map(|id| {
            format!(
                "id: \"{id}\", outcome: RESOLVED, method: PEOPLES_MEDIATION, note: \"达成协议\""
            )
        })
        .collect();
    batch(app, &c.handler, "resolveCase", &resolve).await;
    let unresolve: Vec<String> = bad
        .iter()
        .map(|id| format!("id: \"{id}\", reason: \"双方分歧较大\", attempted: PEOPLES_MEDIATION"))
        .collect();
    batch(app, &c.handler, "unresolveCase", &unresolve).await;
}

fn figures_of<'a>(dashboard: &'a Value, category: &str) -> &'a Value {
    dashboard["byCategory"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["category"] == category)
        .map(|c| &c["figures"])
        .unwrap_or(&Value::Null)
}

async fn assert_no_drift(app: &TestApp) {
    let found = app
        .state
        .verify_rollups(Some(app.county.id), false)
        .await
        .unwrap();
    let check = &found[0].check;
    assert!(check.compared > 0);
    assert!(
        check.differences.is_empty() && check.unreadable_cases.is_empty(),
        "counters drifted from the timeline: {check:?}"
    );
}

/// 清水县's published year: 2,155 disputes (1,294 neighbour, 418 marriage and family, 175 land and forest,
/// 268 other), 2,125 resolved and 30 not: a resolution rate of 98.61%.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_county_dashboard_reproduces_qingshui_published_year() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let t1 = app.tenant(&county, &app.township_code(1), "白沙镇").await;
    let t2 = app.tenant(&county, &app.township_code(2), "永宁镇").await;
    let v1 = app.tenant(&t1, &app.village_code(1, 1), "白沙村").await;
    let v2 = app.tenant(&t2, &app.village_code(2, 1), "永宁村").await;
    let c1 = center(&app, &t1, "a").await;
    let c2 = center(&app, &t2, "b").await;
    // Township 1: 1,294 neighbour + 300 marriage/family; 1,574 resolved, 20 not.
    let mut first: Vec<&str> = vec!["NEIGHBOUR"; 1294];
    first.extend(vec!["MARRIAGE_FAMILY"; 300]);
    // Township 2: 118 marriage/family + 175 land/forest + 268 other; 551 resolved, 10 not.
    let mut second: Vec<&str> = vec!["MARRIAGE_FAMILY"; 118];
    second.extend(vec!["LAND_FOREST"; 175]);
    second.extend(vec!["OTHER"; 268]);
    let (a, b) = tokio::join!(
        conclude(&app, &c1, &v1, &first, 1574),
        conclude(&app, &c2, &v2, &second, 551),
    );
    let ((), ()) = (a, b);

    let (_, supervisor) = app.user(&county, "supervisor", &[Role::Supervisor]).await;
    let month = this_month();
    let data = app
        .ok(
            &supervisor,
            DASHBOARD,
            json!({ "t": county, "from": format!("{}-01", &month[..4]), "to": format!("{}-12", &month[..4]) }),
        )
        .await;
    let d = &data["dashboard"];
    let totals = &d["totals"];
    assert_eq!(totals["intake"], 2155);
    assert_eq!(totals["accepted"], 2155);
    assert_eq!(totals["resolved"], 2125);
    assert_eq!(totals["unresolved"], 30);
    let rate = totals["resolutionRate"].as_f64().unwrap();
    assert_eq!((rate * 10_000.0).round() as i64, 9861, "{rate}");
    assert_eq!(format!("{:.2}%", rate * 100.0), "98.61%");
    assert_eq!(totals["mediationsConcluded"], 2155);
    assert_eq!(totals["mediationsSucceeded"], 2125);
    assert_eq!(totals["closed"], 0);
    assert_eq!(totals["closureRate"], 0.0);
    assert_eq!(totals["onTimeRate"], Value::Null);
    for (category, intake) in [
        ("NEIGHBOUR", 1294),
        ("MARRIAGE_FAMILY", 418),
        ("LAND_FOREST", 175),
        ("OTHER", 268),
    ] {
        assert_eq!(figures_of(d, category)["intake"], intake, "{category}");
    }
    assert_eq!(d["byKind"][0]["kind"], "DISPUTE");
    assert_eq!(d["byKind"][0]["figures"]["intake"], 2155);
    assert_eq!(
        d["byTier"],
        json!([{ "tier": "INITIAL_MEDIATION", "resolved": 2125, "unresolved": 30 }])
    );
    assert_eq!(
        d["resolutionLevels"],
        json!([{ "level": "VILLAGE", "resolved": 2125, "share": 1.0 }])
    );
    let children = d["byChild"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    assert_eq!(children[0]["tenant"]["name"], "白沙镇");
    assert_eq!(children[0]["figures"]["intake"], 1594);
    assert_eq!(children[0]["figures"]["unresolved"], 20);
    assert_eq!(children[1]["figures"]["intake"], 561);
    assert_eq!(children[1]["figures"]["resolved"], 551);
    // Concluded cases are no longer open; none is overdue yet.
    assert_eq!(d["cases"], json!({ "open": 0, "overdue": 0 }));
    let trend = d["trend"].as_array().unwrap();
    assert_eq!(trend.len(), 12);
    assert_eq!(trend[11]["month"], format!("{}-12", &month[..4]));
    let this = trend.iter().find(|m| m["month"] == month).unwrap();
    assert_eq!(this["figures"]["intake"], 2155);
    let all: i64 = trend
        .iter()
        .map(|m| m["figures"]["intake"].as_i64().unwrap())
        .sum();
    assert_eq!(all, 2155);

    // Drill down: the township's dashboard is its own slice, by village.
    let data = app
        .ok(
            &supervisor,
            DASHBOARD,
            json!({ "t": t2, "from": month, "to": null }),
        )
        .await;
    let d = &data["dashboard"];
    assert_eq!(d["totals"]["intake"], 561);
    assert_eq!(figures_of(d, "MARRIAGE_FAMILY")["intake"], 118);
    assert_eq!(d["byChild"][0]["tenant"]["name"], "永宁村");
    assert_eq!(d["byChild"][0]["figures"]["resolved"], 551);

    assert_no_drift(&app).await;

    // The monthly report carries the same numbers.
    let principal = principal_of(&app, &supervisor).await;
    let report = app.state.monthly_report(
        &principal,
        app.county.id,
        fengqiao_domain::rollup::Month::parse(&month).unwrap(),
        false,
        None,
    );
    let (csv, _, _) = app.as_caller(&principal, report).await.unwrap();
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains(",2155,2155,0,2125,30,98.61,"), "{csv}");
    assert!(csv.contains("邻里纠纷 neighbour,1294,"), "{csv}");
}

async fn principal_of(app: &TestApp, token: &str) -> fengqiao_tenancy::Principal {
    app.state.authenticate(token).await.unwrap().principal
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn counters_follow_escalation_reopening_and_rejection_and_equal_the_replay() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "东关镇").await;
    let village = app
        .tenant(&township, &app.village_code(1, 1), "东关村")
        .await;
    let (_, vclerk) = app.user(&village, "vclerk", &[Role::IntakeClerk]).await;
    let (_, vdispatcher) = app.user(&village, "vdispatcher", &[Role::Dispatcher]).await;
    let (_, tdispatcher) = app
        .user(&township, "tdispatcher", &[Role::Dispatcher])
        .await;
    let (_, tdirector) = app
        .user(&township, "tdirector", &[Role::CenterDirector])
        .await;
    let (unit, handler) = app.unit(&township, "东关司法所", "sfs").await;
    let (_, supervisor) = app.user(&county, "supervisor", &[Role::Supervisor]).await;
    let month = this_month();
    let read = |t: String| {
        let app = &app;
        let supervisor = supervisor.clone();
        let month = month.clone();
        async move {
            app.ok(
                &supervisor,
                DASHBOARD,
                json!({ "t": t, "from": month, "to": null }),
            )
            .await["dashboard"]
                .clone()
        }
    };
    // Cached before any case exists; every change below must show at once.
    assert_eq!(read(county.clone()).await["totals"]["intake"], 0);

    // Resolutions by other methods than the step's mediation: the figures tell them apart.
    let resolve = |id: &str, how: &str| {
        let query = format!(
            "mutation {{ resolveCase(id: \"{id}\", {how}, note: \"\") {{ case {{ id }} }} }}"
        );
        let (app, handler) = (&app, &handler);
        async move {
            app.ok(handler, &query, json!({})).await;
        }
    };
    let land = |n: usize| input(&village, "LAND_FOREST", n);

    // A: unresolved at the village, escalated to the township, resolved there, followed up, closed.
    let a = app.register_input(&vclerk, land(1)).await.id;
    assert_eq!(read(county.clone()).await["totals"]["intake"], 1);
    app.accept(&vclerk, &a).await;
    app.dispatch(&vdispatcher, &a, &unit, &[], 5).await;
    app.claim(&handler, &a).await;
    app.unresolve(&handler, &a, "分歧大").await;
    assert_eq!(read(county.clone()).await["totals"]["unresolved"], 1);
    app.escalate(&vdispatcher, &a, "PARENT_TENANT").await;
    let d = read(county.clone()).await;
    assert_eq!(
        d["totals"]["unresolved"], 0,
        "an escalation withdraws the conclusion"
    );
    app.dispatch(&tdispatcher, &a, &unit, &[], 5).await;
    app.claim(&handler, &a).await;
    resolve(
        &a,
        "outcome: BASICALLY_RESOLVED, method: ADMINISTRATIVE_MEDIATION",
    )
    .await;
    app.follow_up(&tdirector, &a, "BASICALLY_SATISFIED").await;
    app.close(&tdispatcher, &a).await;

    // B: rejected with a one-time notice.
    let b = app.register_input(&vclerk, land(2)).await.id;
    app.reject(&vclerk, &b, "不属于受理范围", "请向县人民法院起诉")
        .await;

    // C: resolved, dissatisfied, closed, then reopened: back at work, no longer concluded or closed.
    let c = app.register_input(&vclerk, land(3)).await.id;
    app.accept(&vclerk, &c).await;
    app.dispatch(&vdispatcher, &c, &unit, &[], 5).await;
    app.claim(&handler, &c).await;
    resolve(&c, "outcome: RESOLVED, method: EXPLANATION_ACCEPTED").await;
    app.follow_up(&vclerk, &c, "DISSATISFIED").await;
    app.close(&vdispatcher, &c).await;
    assert_eq!(read(county.clone()).await["totals"]["closed"], 2);
    app.reopen(&tdirector, &c, "当事人不满意", 5).await;

    let d = read(county.clone()).await;
    let t = &d["totals"];
    assert_eq!(t["intake"], 3);
    assert_eq!(t["accepted"], 2);
    assert_eq!(t["rejected"], 1);
    assert_eq!(t["resolved"], 1);
    assert_eq!(t["unresolved"], 0);
    assert_eq!(t["mediationsConcluded"], 1);
    assert_eq!(t["mediationsSucceeded"], 1);
    assert_eq!(t["closed"], 1);
    assert_eq!(t["closedOnTime"], 1);
    assert_eq!(t["closureRate"], 0.5);
    assert_eq!(t["onTimeRate"], 1.0);
    assert_eq!(t["followedUp"], 1);
    assert_eq!(t["satisfied"], 1);
    assert_eq!(t["satisfactionRate"], 1.0);
    assert_eq!(
        d["resolutionLevels"],
        json!([{ "level": "TOWNSHIP", "resolved": 1, "share": 1.0 }])
    );
    assert_eq!(
        d["byTier"],
        json!([{ "tier": "INITIAL_MEDIATION", "resolved": 1, "unresolved": 0 }])
    );
    // C is open again, at work with the unit.
    assert_eq!(d["cases"]["open"], 1);
    // Counted once at each level: the village sees the same case figures as the county.
    let v = read(village.clone()).await;
    assert_eq!(v["totals"], d["totals"]);
    assert_no_drift(&app).await;

    // A counter that drifted (here by hand) is found and repaired from the timeline.
    // The tampering is done as the system, beneath every check.
    let txn = as_system(app.state.store.begin()).await.unwrap();
    use sea_orm::ConnectionTrait;
    let tampered = txn
        .execute_unprepared(&format!(
            "UPDATE rollup_counters SET value = value + 5 WHERE county_id = {} AND metric = 'intake' AND dim = ''",
            app.county.id
        ))
        .await
        .unwrap();
    assert!(tampered.rows_affected() > 0);
    txn.commit().await.unwrap();
    let found = app
        .state
        .verify_rollups(Some(app.county.id), true)
        .await
        .unwrap();
    assert!(
        !found[0].check.differences.is_empty() && found[0].check.repaired,
        "{found:?}"
    );
    assert_no_drift(&app).await;
    assert_eq!(read(county.clone()).await["totals"]["intake"], 3);

    // Time carries the reopened case past its deadline: the scanner marks it and the gauge counts it,
    // at every level, until a change takes it out of the overdue state.
    app.clock.advance(chrono::Duration::days(40));
    let scan = app
        .state
        .scan_deadlines_in(
            &fengqiao::store::scope::SystemPermit::for_the_process(),
            Some(app.county.id),
        )
        .await
        .unwrap();
    assert!(scan.marked >= 1, "{scan:?}");
    let d = read(county.clone()).await;
    assert_eq!(d["cases"], json!({ "open": 1, "overdue": 1 }));
    assert_eq!(d["byChild"][0]["cases"], json!({ "open": 1, "overdue": 1 }));
    assert_eq!(figures_of(&d, "LAND_FOREST")["overdue"], 1);
    assert_eq!(read(village.clone()).await["cases"]["overdue"], 1);
    // The scanner's orders on the case are counted for the township and for the case's lead unit.
    assert!(d["supervision"]["open"].as_i64().unwrap() >= 1, "{d:#}");
    assert_eq!(d["supervisionByUnit"][0]["unit"]["name"], "东关司法所");
    assert_eq!(
        d["supervisionByUnit"][0]["orders"]["open"],
        d["supervision"]["open"]
    );
    assert_no_drift(&app).await;
    app.claim(&handler, &c).await;
    resolve(&c, "outcome: RESOLVED, method: JUDICIAL_MEDIATION").await;
    let d = read(county.clone()).await;
    assert_eq!(d["cases"], json!({ "open": 0, "overdue": 0 }));
    assert_no_drift(&app).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_roles_that_read_rollups_see_a_dashboard_and_siblings_see_nothing() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let t1 = app.tenant(&county, &app.township_code(1), "一镇").await;
    let t10 = app.tenant(&county, &app.township_code(10), "十镇").await;
    let (_, director) = app.user(&t1, "director", &[Role::CenterDirector]).await;
    let (_, clerk) = app.user(&t1, "clerk", &[Role::IntakeClerk]).await;
    let (_, auditor) = app.user(&county, "auditor", &[Role::Auditor]).await;
    let month = this_month();
    let ask = |token: String, t: String| {
        let app = &app;
        let month = month.clone();
        async move {
            app.gql(
                Some(&token),
                DASHBOARD,
                json!({ "t": t, "from": month, "to": null }),
            )
            .await
        }
    };
    assert!(
        ask(director.clone(), t1.clone())
            .await
            .get("errors")
            .is_none()
    );
    assert!(
        ask(auditor.clone(), t10.clone())
            .await
            .get("errors")
            .is_none()
    );
    assert_eq!(code(&ask(director.clone(), t10.clone()).await), "NOT_FOUND");
    assert_eq!(
        code(&ask(director.clone(), county.clone()).await),
        "NOT_FOUND"
    );
    assert_eq!(code(&ask(clerk.clone(), t1.clone()).await), "FORBIDDEN");
    assert_eq!(
        code(&ask(app.admin_token.clone(), county.clone()).await),
        "FORBIDDEN"
    );
    let bad = app
        .gql(
            Some(&director),
            DASHBOARD,
            json!({ "t": t1, "from": "2026-13", "to": null }),
        )
        .await;
    assert_eq!(code(&bad), "BAD_USER_INPUT");
    let backwards = app
        .gql(
            Some(&director),
            DASHBOARD,
            json!({ "t": t1, "from": "2026-05", "to": "2026-04" }),
        )
        .await;
    assert_eq!(code(&backwards), "BAD_USER_INPUT");

    // The report endpoint answers the same way, as HTTP with the same codes.
    let base = app.url.trim_end_matches("/graphql");
    let get = |token: Option<String>, query: String| {
        let app = &app;
        let url = format!("{base}/reports/monthly?{query}");
        async move {
            let mut request = app.http.get(url);
            if let Some(token) = token {
                request = request.bearer_auth(token);
            }
            request.send().await.unwrap()
        }
    };
    let response = get(
        Some(director.clone()),
        format!("tenantId={t1}&month={month}&format=xlsx"),
    )
    .await;
    assert_eq!(response.status(), 200);
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.contains(".xlsx"), "{disposition}");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(&bytes[..2], b"PK", "an XLSX file is a zip archive");
    let sheets = calamine_sheets(&bytes);
    assert_eq!(sheets, ["summary", "by category", "by child tenant"]);
    let response = get(
        Some(director.clone()),
        format!("tenantId={t10}&month={month}"),
    )
    .await;
    assert_eq!(response.status(), 404);
    let response = get(None, format!("tenantId={t1}&month={month}")).await;
    assert_eq!(response.status(), 401);
    let response = get(Some(director), format!("tenantId={t1}&month=May")).await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "BAD_USER_INPUT");
}

fn calamine_sheets(bytes: &[u8]) -> Vec<String> {
    use calamine::Reader;
    let workbook = calamine::Xlsx::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    workbook.sheet_names()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_county_with_cases_but_no_counters_gets_them_built_from_its_timeline() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "西关镇").await;
    let c = center(&app, &township, "w").await;
    conclude(&app, &c, &township, &["NEIGHBOUR", "LABOUR", "OTHER"], 2).await;
    let before = as_system(app.state.store.stored_counters(app.county.id))
        .await
        .unwrap();
    assert!(!before.is_empty());
    use sea_orm::ConnectionTrait;
    let txn = as_system(app.state.store.begin()).await.unwrap();
    let deleted = txn
        .execute_unprepared(&format!(
            "DELETE FROM rollup_counters WHERE county_id = {}",
            app.county.id
        ))
        .await
        .unwrap();
    assert!(deleted.rows_affected() > 0);
    txn.commit().await.unwrap();
    app.state.build_missing_rollups().await.unwrap();
    assert_eq!(
        as_system(app.state.store.stored_counters(app.county.id))
            .await
            .unwrap(),
        before
    );
    assert_no_drift(&app).await;
}
