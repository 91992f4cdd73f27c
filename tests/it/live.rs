//! Subscriptions over websocket (`graphql-transport-ws`): a unit hears of its assignments and summonses,
//! a center of reports, returns and summons reports; nobody hears of a case they may not read; the token
//! is checked when the connection opens; and events raised by one server process reach subscribers of
//! another through Redis.

use std::time::Duration;

use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{REGISTER, Socket, TestApp, case_input, code, graphql_socket};
use crate::steps::in_days;
use fengqiao_tenancy::Role;

/// How long a test waits for an event that must come.
const PATIENCE: Duration = Duration::from_secs(20);

/// A websocket to `graphql_url`, opened with `connection_init` carrying `init`; returns the socket and
/// the server's first answer.
pub(crate) async fn open(graphql_url: &str, init: Value) -> (Socket, Value) {
    let mut socket = graphql_socket(graphql_url).await;
    send(
        &mut socket,
        json!({ "type": "connection_init", "payload": init }),
    )
    .await;
    let answer = next_message(&mut socket).await;
    (socket, answer)
}

pub(crate) async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

/// The next JSON message, or `{"closed": …}` when the server closes the connection. Pings are answered
/// on the way, within the same patience: a keep-alive does not prolong the wait for an answer.
pub(crate) async fn next_message(socket: &mut Socket) -> Value {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        let message = tokio::time::timeout_at(deadline, socket.next())
            .await
            .expect("the server did not answer in time");
        match message {
            Some(Ok(Message::Text(text))) => {
                let value: Value = serde_json::from_str(&text).unwrap();
                if value["type"] == "ping" {
                    send(socket, json!({ "type": "pong" })).await;
                    continue;
                }
                return value;
            }
            Some(Ok(Message::Close(frame))) => {
                return json!({ "closed": frame.map(|f| f.reason.to_string()) });
            }
            Some(Ok(_)) => continue,
            Some(Err(e)) => return json!({ "closed": e.to_string() }),
            None => return json!({ "closed": null }),
        }
    }
}

/// A signed-in subscriber of `query` on `app`'s server, once the server holds its subscription.
pub(crate) async fn subscribe(app: &TestApp, token: &str, query: &str, variables: Value) -> Socket {
    let before = app.state.live.subscribers();
    let (mut socket, ack) = open(
        &app.url,
        json!({ "Authorization": format!("Bearer {token}") }),
    )
    .await;
    assert_eq!(ack["type"], "connection_ack", "{ack}");
    send(
        &mut socket,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    )
    .await;
    let waited = tokio::time::Instant::now();
    while app.state.live.subscribers() <= before {
        if waited.elapsed() > PATIENCE {
            let answer = next_message(&mut socket).await;
            panic!("the subscription never started: {answer}");
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    socket
}

/// The payload of the next `next` message (panics on an error or anything else).
pub(crate) async fn next_event(socket: &mut Socket) -> Value {
    let message = next_message(socket).await;
    assert_eq!(message["type"], "next", "{message:#}");
    assert!(message["payload"].get("errors").is_none(), "{message:#}");
    message["payload"]["data"].clone()
}

pub(crate) const UNIT_EVENTS: &str =
    "subscription($u: ID!) { unitEvents(unitId: $u) { kind unitId case { id code status } } }";
const CENTER_EVENTS: &str = "subscription($t: ID!, $s: Boolean) { centerEvents(tenantId: $t, subtree: $s) { kind unitId centerId case { id status } } }";
const ACCEPT: &str = "mutation($id: ID!) { acceptCase(id: $id) { case { status } } }";
const DISPATCH: &str = "mutation($id: ID!, $u: ID!, $co: [ID!]!, $d: DateTime!) { dispatchCase(id: $id, leadUnitId: $u, coUnitIds: $co, deadline: $d) { case { status } } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn units_hear_of_assignments_and_centers_of_reports_and_returns_and_siblings_of_nothing() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let ours = app.tenant(&county, &app.township_code(1), "东山镇").await;
    let theirs = app.tenant(&county, &app.township_code(10), "西山镇").await;
    let (_, staff) = app
        .user(
            &ours,
            "staff",
            &[Role::IntakeClerk, Role::Dispatcher, Role::CenterDirector],
        )
        .await;
    let (_, their_staff) = app
        .user(
            &theirs,
            "theirstaff",
            &[Role::IntakeClerk, Role::Dispatcher],
        )
        .await;
    let (lead, lead_handler) = app.unit(&ours, "东山司法所", "lead").await;
    let (co, co_handler) = app.unit(&ours, "东山派出所", "co").await;
    let (their_unit, their_handler) = app.unit(&theirs, "西山司法所", "theirlead").await;

    let mut lead_socket = subscribe(&app, &lead_handler, UNIT_EVENTS, json!({ "u": lead })).await;
    let mut co_socket = subscribe(&app, &co_handler, UNIT_EVENTS, json!({ "u": co })).await;
    let mut their_unit_socket = subscribe(
        &app,
        &their_handler,
        UNIT_EVENTS,
        json!({ "u": their_unit }),
    )
    .await;
    let mut center = subscribe(&app, &staff, CENTER_EVENTS, json!({ "t": ours })).await;
    let mut their_center =
        subscribe(&app, &their_staff, CENTER_EVENTS, json!({ "t": theirs })).await;
    // The county's supervisor listens to the whole county.
    let (_, supervisor) = app.user(&county, "supervisor", &[Role::Supervisor]).await;
    let mut county_socket = subscribe(
        &app,
        &supervisor,
        CENTER_EVENTS,
        json!({ "t": county, "s": true }),
    )
    .await;

    // A registration reaches its center and the county, not the sibling.
    let case = app.register(&staff, Some(&ours), "东山镇邻里纠纷").await.id;
    let heard = next_event(&mut center).await;
    assert_eq!(heard["centerEvents"]["kind"], "REGISTERED");
    assert_eq!(heard["centerEvents"]["case"]["id"], case.as_str());
    assert_eq!(heard["centerEvents"]["centerId"], ours.as_str());
    let heard = next_event(&mut county_socket).await;
    assert_eq!(heard["centerEvents"]["case"]["id"], case.as_str());

    // Dispatch: the lead unit hears ASSIGNED, the co-unit CO_ASSIGNED.
    app.accept(&staff, &case).await;
    app.dispatch(&staff, &case, &lead, &[&co], 20).await;
    let heard = next_event(&mut lead_socket).await;
    assert_eq!(heard["unitEvents"]["kind"], "ASSIGNED");
    assert_eq!(heard["unitEvents"]["case"]["id"], case.as_str());
    assert_eq!(heard["unitEvents"]["case"]["status"], "DISPATCHED");
    let heard = next_event(&mut co_socket).await;
    assert_eq!(heard["unitEvents"]["kind"], "CO_ASSIGNED");
    assert_eq!(heard["unitEvents"]["unitId"], co.as_str());

    // The lead unit returns it: the center hears RETURNED, naming the unit.
    app.give_back(&lead_handler, &case, "不属于本所职责").await;
    let heard = next_event(&mut center).await;
    assert_eq!(heard["centerEvents"]["kind"], "RETURNED");
    assert_eq!(heard["centerEvents"]["unitId"], lead.as_str());
    assert_eq!(heard["centerEvents"]["case"]["status"], "RETURNED");

    // The sibling township's center and unit heard none of it: the first thing each hears is its own
    // case, raised after everything above.
    let their_case = app
        .register(&their_staff, Some(&theirs), "西山镇土地纠纷")
        .await
        .id;
    let heard = next_event(&mut their_center).await;
    assert_eq!(heard["centerEvents"]["case"]["id"], their_case.as_str());
    app.accept(&their_staff, &their_case).await;
    app.dispatch(&their_staff, &their_case, &their_unit, &[], 20)
        .await;
    let heard = next_event(&mut their_unit_socket).await;
    assert_eq!(heard["unitEvents"]["case"]["id"], their_case.as_str());
    // And our center did not hear of theirs: its next event is our next case.
    let next_case = app.register(&staff, Some(&ours), "东山镇第二件").await.id;
    let heard = next_event(&mut center).await;
    assert_eq!(heard["centerEvents"]["case"]["id"], next_case.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_call_unit_hears_of_its_summons_and_the_center_of_its_report() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "东山镇")
        .await;
    let (_, staff) = app
        .user(&township, "staff", &[Role::IntakeClerk, Role::Dispatcher])
        .await;
    let (unit, handler) = app
        .stationed_unit(&township, "东山人社所", "ON_CALL", "rss")
        .await;
    let case = app
        .register(&staff, Some(&township), "拖欠工资纠纷")
        .await
        .id;
    app.accept(&staff, &case).await;

    let mut unit_socket = subscribe(&app, &handler, UNIT_EVENTS, json!({ "u": unit })).await;
    let mut center = subscribe(&app, &staff, CENTER_EVENTS, json!({ "t": township })).await;
    let summons = app.summon(&staff, &case, &unit).await;
    let heard = next_event(&mut unit_socket).await;
    assert_eq!(heard["unitEvents"]["kind"], "SUMMONED");
    assert_eq!(heard["unitEvents"]["case"]["id"], case.as_str());

    app.report(&handler, &summons).await;
    let heard = next_event(&mut center).await;
    assert_eq!(heard["centerEvents"]["kind"], "SUMMONS_REPORTED");
    assert_eq!(heard["centerEvents"]["unitId"], unit.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listening_needs_a_valid_token_and_the_right_to_listen() {
    let app = TestApp::spawn().await;
    let county = app.county_gid();
    let ours = app.tenant(&county, &app.township_code(1), "东山镇").await;
    let theirs = app.tenant(&county, &app.township_code(10), "西山镇").await;
    let (_, staff) = app.user(&ours, "staff", &[Role::Dispatcher]).await;
    let (unit, _) = app.unit(&ours, "东山司法所", "lead").await;
    let (their_unit, _) = app.unit(&theirs, "西山司法所", "theirlead").await;

    // No token, or a forged one: the connection is refused at init.
    for init in [json!({}), json!({ "Authorization": "Bearer not-a-token" })] {
        let (_, answer) = open(&app.url, init).await;
        assert_ne!(answer["type"], "connection_ack", "{answer}");
    }

    // A valid token, but a unit the caller is not a member of, or a sibling's center.
    let (mut socket, ack) = open(
        &app.url,
        json!({ "Authorization": format!("Bearer {staff}") }),
    )
    .await;
    assert_eq!(ack["type"], "connection_ack");
    for (id, query, variables, expected) in [
        ("1", UNIT_EVENTS, json!({ "u": unit }), "FORBIDDEN"),
        ("2", UNIT_EVENTS, json!({ "u": their_unit }), "NOT_FOUND"),
        ("3", CENTER_EVENTS, json!({ "t": theirs }), "NOT_FOUND"),
    ] {
        send(
            &mut socket,
            json!({ "id": id, "type": "subscribe", "payload": { "query": query, "variables": variables } }),
        )
        .await;
        // An error comes as a `next` with errors (then a `complete`), or as an `error`.
        let answer = loop {
            let message = next_message(&mut socket).await;
            if message["type"] != "complete" {
                break message;
            }
        };
        let errors = match answer["type"].as_str() {
            Some("error") => json!({ "errors": answer["payload"] }),
            _ => answer["payload"].clone(),
        };
        assert_eq!(code(&errors), expected, "{answer:#}");
    }
}

/// A second server process beside the test's own, on the same database and Redis; stopped when dropped.
pub(crate) struct Replica {
    pub(crate) child: std::process::Child,
    pub(crate) url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_replica(app: &TestApp) -> Replica {
    spawn_replica(app, "warn", std::process::Stdio::null()).await
}

/// A second server process on the test server's database (and Redis, when set), logging at `log` (a
/// `FENGQIAO_LOG` filter) to `stderr`.
pub(crate) async fn spawn_replica(
    app: &TestApp,
    log: &str,
    stderr: std::process::Stdio,
) -> Replica {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = &app.config;
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_fengqiao-replica"))
        .env_clear()
        .env("FENGQIAO_LOG", log)
        .env("FENGQIAO_LISTEN", format!("127.0.0.1:{port}"))
        .env("FENGQIAO_DATA_DIR", dir.path())
        .env("FENGQIAO_DATABASE_URL", config.database_url.expose())
        .env(
            "FENGQIAO_DATABASE_OWNER_URL",
            config.database_owner_url.expose(),
        )
        .env("FENGQIAO_REDIS_URL", config.redis_url.expose())
        .env("FENGQIAO_REDIS_PREFIX", &config.redis_prefix)
        .env("FENGQIAO_AUTH__JWT_SECRET", config.auth.jwt_secret.expose())
        .env(
            "FENGQIAO_PERSONAL_DATA__KEY",
            config.personal_data.key.expose(),
        )
        .env("FENGQIAO_SEED_DEMO_IF_EMPTY", "false")
        .env("FENGQIAO_DEADLINE_SCAN_MINUTES", "0")
        // The replica's embedded index would take other tests' changes from the shared outbox.
        .env("FENGQIAO_SEARCH__WORKER", "false")
        .env("FENGQIAO_SEARCH__COUNTIES", "[]")
        .stdout(std::process::Stdio::null())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut replica = Replica {
        child,
        url: format!("http://127.0.0.1:{port}/graphql"),
        _dir: dir,
    };
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let waited = tokio::time::Instant::now();
    loop {
        if let Ok(response) = app.http.get(&ready).send().await
            && response.status().is_success()
        {
            break;
        }
        if let Ok(Some(status)) = replica.child.try_wait() {
            panic!("the replica exited: {status}");
        }
        assert!(
            waited.elapsed() < Duration::from_secs(120),
            "the replica did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    replica
}

/// Like `TestApp::ok`, against another server.
async fn ok_at(app: &TestApp, url: &str, token: &str, query: &str, variables: Value) -> Value {
    let body: Value = app
        .http
        .post(url)
        .bearer_auth(token)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
    body["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_raised_in_one_server_process_reach_subscribers_of_another() {
    if app_redis_url().is_none() {
        eprintln!(
            "REDIS_URL is not set: server processes share no bus, so there is nothing to carry across; skipped"
        );
        return;
    }
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "东山镇")
        .await;
    let (_, staff) = app
        .user(&township, "staff", &[Role::IntakeClerk, Role::Dispatcher])
        .await;
    let (unit, handler) = app.unit(&township, "东山司法所", "lead").await;
    let replica = start_replica(&app).await;

    // Subscribers on this process; the changes are made through the other one.
    let mut unit_socket = subscribe(&app, &handler, UNIT_EVENTS, json!({ "u": unit })).await;
    let mut center = subscribe(&app, &staff, CENTER_EVENTS, json!({ "t": township })).await;
    let case = ok_at(
        &app,
        &replica.url,
        &staff,
        REGISTER,
        json!({ "input": case_input(Some(&township), "跨进程送达") }),
    )
    .await["registerCase"]["case"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let heard = next_event(&mut center).await;
    assert_eq!(heard["centerEvents"]["kind"], "REGISTERED");
    assert_eq!(heard["centerEvents"]["case"]["id"], case.as_str());
    ok_at(&app, &replica.url, &staff, ACCEPT, json!({ "id": case })).await;
    ok_at(
        &app,
        &replica.url,
        &staff,
        DISPATCH,
        json!({ "id": case, "u": unit, "co": [], "d": in_days(20) }),
    )
    .await;
    let heard = next_event(&mut unit_socket).await;
    assert_eq!(heard["unitEvents"]["kind"], "ASSIGNED");
    assert_eq!(heard["unitEvents"]["case"]["id"], case.as_str());

    // And the other way: a subscriber on the replica hears of a change made here.
    let (mut remote, ack) = open(
        &replica.url,
        json!({ "Authorization": format!("Bearer {staff}") }),
    )
    .await;
    assert_eq!(ack["type"], "connection_ack");
    send(
        &mut remote,
        json!({ "id": "1", "type": "subscribe", "payload": { "query": CENTER_EVENTS, "variables": { "t": township } } }),
    )
    .await;
    // The replica's subscription starts on its own time: keep registering here until one is heard there.
    let mut registered = Vec::new();
    let heard = loop {
        registered.push(app.register(&staff, Some(&township), "本进程登记").await.id);
        match tokio::time::timeout(Duration::from_millis(500), next_message(&mut remote)).await {
            Ok(message) => break message,
            Err(_) => assert!(registered.len() < 20, "nothing reached the replica"),
        }
    };
    assert_eq!(heard["type"], "next", "{heard:#}");
    let id = heard["payload"]["data"]["centerEvents"]["case"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(registered.contains(&id), "{heard:#}");
}

fn app_redis_url() -> Option<String> {
    std::env::var("REDIS_URL").ok().filter(|u| !u.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_ends_when_its_session_is_signed_out_or_its_token_expires() {
    let app = TestApp::spawn().await;
    let township = app
        .tenant(&app.county_gid(), &app.township_code(1), "东山镇")
        .await;
    let (_, staff) = app.user(&township, "staff", &[Role::IntakeClerk]).await;
    let (_, leaving) = app.user(&township, "leaving", &[Role::IntakeClerk]).await;
    let (_, colleague) = app.user(&township, "colleague", &[Role::IntakeClerk]).await;
    let mut staying = subscribe(&app, &staff, CENTER_EVENTS, json!({ "t": township })).await;
    let mut signed_out = subscribe(&app, &leaving, CENTER_EVENTS, json!({ "t": township })).await;
    app.ok(&leaving, "mutation { signOut }", json!({})).await;

    let case = app
        .register(&staff, Some(&township), "退出登录之后")
        .await
        .id;
    let heard = next_event(&mut staying).await;
    assert_eq!(heard["centerEvents"]["case"]["id"], case.as_str());
    let ended = next_message(&mut signed_out).await;
    assert_eq!(ended["type"], "next", "{ended:#}");
    assert_eq!(code(&ended["payload"]), "UNAUTHENTICATED", "{ended:#}");
    assert_eq!(next_message(&mut signed_out).await["type"], "complete");

    // Past the access token's lifetime (by the server's clock) the next event ends the other one too.
    app.clock.advance(chrono::Duration::minutes(20));
    app.register(&colleague, Some(&township), "令牌过期之后")
        .await;
    let ended = next_message(&mut staying).await;
    assert_eq!(code(&ended["payload"]), "UNAUTHENTICATED", "{ended:#}");
}
