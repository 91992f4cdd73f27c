//! Effects after commit (app/effects.rs): every mutation that changes a case, an order or a summons raises
//! what its change calls for, and nothing else. One story walks a case through every such mutation while
//! a recorder notes, after each step, whether the county's dashboards were invalidated, whether the search
//! worker was woken, and which live events went out; each test checks one of those columns against the
//! table in app/effects.rs. The risk re-grade has a story of its own: it shows in the grade.

use std::collections::HashSet;
use std::time::Duration;

use fengqiao::live::{LiveEvent, LiveKind};
use fengqiao::store::scope::SystemPermit;
use fengqiao_tenancy::Role;
use serde_json::json;
use tokio::sync::broadcast;

use crate::helpers::{TestApp, case_input};

/// What one step raised.
#[derive(Debug)]
struct Seen {
    step: &'static str,
    dashboards: bool,
    woken: bool,
    live: Vec<LiveKind>,
}

/// Watches the effects of this test's changes.
struct Recorder<'a> {
    app: &'a TestApp,
    generation: Option<String>,
    wake_ups: u64,
    events: broadcast::Receiver<LiveEvent>,
    /// This test's cases (the bus may carry other tests' events when it is Redis).
    cases: HashSet<i64>,
    seen: Vec<Seen>,
}

impl<'a> Recorder<'a> {
    async fn new(app: &'a TestApp) -> Recorder<'a> {
        Recorder {
            app,
            generation: generation(app).await,
            wake_ups: app.state.store.search_wake_ups(),
            events: app.state.live.subscribe(),
            cases: HashSet::new(),
            seen: Vec::new(),
        }
    }

    fn watch(&mut self, case_gid: &str) {
        self.cases.insert(internal_id(case_gid));
    }

    /// Notes what the step just taken raised.
    async fn after(&mut self, step: &'static str) {
        let generation = generation(self.app).await;
        let wake_ups = self.app.state.store.search_wake_ups();
        // Live events reach the hub through the bus: take what arrives until it has been quiet a while.
        let mut live = Vec::new();
        while let Ok(Ok(event)) =
            tokio::time::timeout(Duration::from_millis(300), self.events.recv()).await
        {
            if self.cases.contains(&event.case_id) {
                live.push(event.kind);
            }
        }
        self.seen.push(Seen {
            step,
            dashboards: generation != self.generation,
            woken: wake_ups > self.wake_ups,
            live,
        });
        self.generation = generation;
        self.wake_ups = wake_ups;
    }

    fn seen(&self, step: &str) -> &Seen {
        self.seen.iter().find(|s| s.step == step).unwrap()
    }
}

async fn generation(app: &TestApp) -> Option<String> {
    app.state
        .cache
        .get(&fengqiao::reports::generation_key(app.county.id))
        .await
        .unwrap()
}

fn internal_id(gid: &str) -> i64 {
    fengqiao::graphql::decode_id(
        "id",
        fengqiao::graphql::GlobalId::Case,
        &async_graphql::ID(gid.to_owned()),
    )
    .unwrap()
}

/// The mutations that change a case, an order or a summons, in the order the story takes them.
const STEPS: [&str; 16] = [
    "register",
    "accept",
    "escalate",
    "summon",
    "report",
    "release",
    "dispatch",
    "give back",
    "redispatch",
    "claim",
    "extend",
    "supervise",
    "answer order",
    "resolve",
    "follow up",
    "close",
];

/// Walks one case through every mutation of `STEPS`, then lets the deadline scanner mark a second one
/// overdue ("scan"), and answers what each step raised.
async fn walk(app: &TestApp) -> Vec<Seen> {
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "城关镇")
        .await;
    let (_, staff) = app
        .user(
            &township,
            "staff",
            &[Role::IntakeClerk, Role::Dispatcher, Role::CenterDirector],
        )
        .await;
    let (_, supervisor) = app
        .user(&app.county_gid(), "sup", &[Role::Supervisor])
        .await;
    let (lead, handler) = app.unit(&township, "城关司法所", "sfs").await;
    let (co, _) = app.unit(&township, "城关派出所", "pcs").await;
    let (on_call, on_call_member) = app
        .stationed_unit(&township, "城关人社所", "ON_CALL", "rss")
        .await;

    let mut rec = Recorder::new(app).await;
    let mut input = case_input(None, "承包地边界纠纷");
    input["complexity"] = json!("GENERAL");
    // The registration is noted once the recorder knows the case: its event is already on its way.
    let case = app.register_input(&staff, input.clone()).await;
    rec.watch(&case.id);
    rec.after("register").await;
    let id = case.id.as_str();
    app.accept(&staff, id).await;
    rec.after("accept").await;
    app.escalate(&staff, id, "NEXT_TIER").await;
    rec.after("escalate").await;
    let summons = app.summon(&staff, id, &on_call).await;
    rec.after("summon").await;
    app.report(&on_call_member, &summons).await;
    rec.after("report").await;
    app.release(&staff, &summons).await;
    rec.after("release").await;
    app.dispatch(&staff, id, &lead, &[&co], 5).await;
    rec.after("dispatch").await;
    app.give_back(&handler, id, "不属于本所职责").await;
    rec.after("give back").await;
    app.redispatch(&staff, id, &lead, 5).await;
    rec.after("redispatch").await;
    app.claim(&handler, id).await;
    rec.after("claim").await;
    app.extend(&supervisor, id, "需等待司法鉴定结果").await;
    rec.after("extend").await;
    let order = app.supervise(&supervisor, id, "URGE", "请加快办理").await;
    rec.after("supervise").await;
    app.answer_order(&staff, &order, "已督促司法所加快办理")
        .await;
    rec.after("answer order").await;
    app.resolve(&handler, id).await;
    rec.after("resolve").await;
    app.follow_up(&staff, id, "SATISFIED").await;
    rec.after("follow up").await;
    app.close(&staff, id).await;
    rec.after("close").await;

    // A second case left past its conclusion deadline, which the scanner marks.
    let late = app.register_input(&staff, input).await;
    rec.watch(&late.id);
    let accepted = app.accept(&staff, &late.id).await;
    rec.after("register and accept the late case").await;
    past(app, accepted["concludeBy"].as_str().unwrap());
    let report = app
        .state
        .scan_deadlines_in(&SystemPermit::for_the_process(), Some(app.county.id))
        .await
        .unwrap();
    assert!(report.marked >= 1, "{report:?}");
    rec.after("scan").await;
    assert_eq!(rec.seen.len(), STEPS.len() + 2);
    let _ = rec.seen("scan");
    rec.seen
}

/// Moves the server's clock to the day after `day` (Beijing time).
fn past(app: &TestApp, day: &str) {
    let day = chrono::NaiveDate::parse_from_str(day, "%Y-%m-%d").unwrap();
    let today = fengqiao_domain::code::china_date(app.state.now());
    app.clock
        .advance(chrono::Duration::days((day - today).num_days() + 1));
}

fn column(seen: &[Seen], pick: impl Fn(&Seen) -> bool) -> Vec<&str> {
    seen.iter().filter(|s| pick(s)).map(|s| s.step).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_to_the_figures_invalidates_the_county_dashboards() {
    let app = TestApp::spawn().await;
    let seen = walk(&app).await;
    // Summonses count in no figure; everything else does (orders in the 督办 backlog).
    assert_eq!(
        column(&seen, |s| !s.dashboards),
        ["summon", "report", "release"],
        "{seen:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_change_to_a_case_wakes_the_search_worker() {
    let app = TestApp::spawn().await;
    let seen = walk(&app).await;
    // What changes the case record wakes it; orders and summonses are not in the index.
    assert_eq!(
        column(&seen, |s| !s.woken),
        ["summon", "report", "release", "supervise", "answer order"],
        "{seen:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_change_sends_the_live_events_its_table_row_names() {
    let app = TestApp::spawn().await;
    let seen = walk(&app).await;
    let live: Vec<(&str, Vec<LiveKind>)> = seen
        .iter()
        .filter(|s| !s.live.is_empty())
        .map(|s| (s.step, s.live.clone()))
        .collect();
    assert_eq!(
        live,
        vec![
            ("register", vec![LiveKind::Registered]),
            ("summon", vec![LiveKind::Summoned]),
            ("report", vec![LiveKind::SummonsReported]),
            ("dispatch", vec![LiveKind::Assigned, LiveKind::CoAssigned]),
            ("give back", vec![LiveKind::Returned]),
            ("redispatch", vec![LiveKind::Assigned]),
            (
                "register and accept the late case",
                vec![LiveKind::Registered]
            ),
        ],
        "{seen:#?}"
    );
}

/// The grade follows what the scanner and an extension change without a lifecycle event: a case the
/// scanner marks overdue is graded "past its deadline", and an extension that puts it back within its
/// time takes that reason away again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marking_a_case_overdue_and_extending_it_regrade_its_risk() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "城关镇")
        .await;
    let (_, staff) = app
        .user(
            &township,
            "staff",
            &[Role::IntakeClerk, Role::CenterDirector],
        )
        .await;
    let (_, supervisor) = app
        .user(&app.county_gid(), "sup", &[Role::Supervisor])
        .await;
    let mut input = case_input(None, "邻里纠纷");
    input["complexity"] = json!("GENERAL");
    let case = app.register_input(&staff, input).await;
    let accepted = app.accept(&staff, &case.id).await;
    assert_eq!(accepted["risk"]["reasons"], json!([]));
    past(&app, accepted["concludeBy"].as_str().unwrap());

    let wake_ups = app.state.store.search_wake_ups();
    app.state
        .scan_deadlines_in(&SystemPermit::for_the_process(), Some(app.county.id))
        .await
        .unwrap();
    let risk = "query($id: ID!) { case(id: $id) { overdue risk { level reasons } } }";
    let marked = app.ok(&staff, risk, json!({ "id": case.id })).await;
    assert_eq!(marked["case"]["overdue"], true);
    assert_eq!(
        marked["case"]["risk"],
        json!({ "level": "YELLOW", "reasons": ["past its deadline"] })
    );
    assert!(app.state.store.search_wake_ups() > wake_ups);

    let extended = app
        .extend(&supervisor, &case.id, "需等待司法鉴定结果")
        .await;
    assert_eq!(extended["overdue"], false);
    assert_eq!(
        extended["risk"]["reasons"],
        json!([]),
        "the answer shows the new grade"
    );
    let now = app.ok(&staff, risk, json!({ "id": case.id })).await;
    assert_eq!(
        now["case"]["risk"],
        json!({ "level": "GREEN", "reasons": [] }),
        "the extension put the case back within its time"
    );
}
