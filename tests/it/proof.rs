//! The isolation proof. A county with three townships (codes ending 1, 10 and 11) of three villages each
//! (the same endings), a grid, staff in every role at several levels, units in every mode (resident,
//! rotating off its shift, on call: summoned, released, never summoned), and cases everywhere in several
//! states. Every (principal, case, access path) is checked against an oracle written from docs/DOMAIN.md and
//! the role table below, independently of the server's authorizer: `case`, `node`, `cases`, the timeline,
//! every case mutation (probed in a state where it cannot succeed, so that the answer tells only whether
//! the caller may see and may act: NOT_FOUND, FORBIDDEN, or anything else), and subscriptions. It prints
//! how many checks it made; any disagreement fails it, all of them listed.
//!
//! Runs on SQLite, and on PostgreSQL (`TEST_DATABASE_URL`) with row-level security under the server.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use fengqiao_tenancy::Role;
use futures::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{REGISTER, Socket, TestApp, case_input, code, graphql_socket};

// ---- the oracle -----------------------------------------------------------------------------------------

/// What may be done to a case, as docs/DOMAIN.md's lifecycle and roles describe it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum Act {
    Read,
    Accept,
    Reject,
    Dispatch,
    Claim,
    Return,
    ReviewReturn,
    Resolve,
    Unresolve,
    Escalate,
    FollowUp,
    Close,
    Reopen,
    Extend,
    Supervise,
    Reveal,
}

/// How a principal stands to a case through its units (or as its reporter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rel {
    Lead,
    Co,
    LeadOffShift,
    CoOffShift,
    Summoned,
    Reporter,
    None,
}

/// Whether `role` may do `act` to a case the principal stands to as `rel` (docs/DOMAIN.md: who does what in the
/// closed loop; 三员分立: the administrators do no case work, the auditor only reads).
fn role_allows(role: Role, act: Act, rel: Rel) -> bool {
    use Act::*;
    let through_unit = matches!(
        rel,
        Rel::Lead | Rel::Co | Rel::LeadOffShift | Rel::CoOffShift | Rel::Summoned
    );
    match role {
        Role::CountyAdmin | Role::SecurityAdmin => false,
        Role::CenterDirector => matches!(
            act,
            Read | Accept
                | Reject
                | Dispatch
                | ReviewReturn
                | Escalate
                | FollowUp
                | Close
                | Reopen
                | Reveal
        ),
        Role::IntakeClerk => matches!(act, Read | Accept | Reject | FollowUp | Reveal),
        Role::Dispatcher => matches!(
            act,
            Read | Accept | Reject | Dispatch | ReviewReturn | Escalate | Close
        ),
        // Units read the cases they work (also off shift, also when summoned) and only the lead unit,
        // on its shift, moves them on.
        Role::UnitHandler => match act {
            Read => through_unit,
            Claim | Return | Resolve | Unresolve => rel == Rel::Lead,
            _ => false,
        },
        Role::Mediator => matches!(act, Read | Resolve | Unresolve),
        // A grid member sees its own reports.
        Role::GridMember => act == Read && rel == Rel::Reporter,
        Role::Supervisor => matches!(act, Read | Extend | Supervise),
        Role::Auditor => act == Read,
    }
}

/// Whether `role` may `verb` the `object` of a tenant it reaches (docs/SECURITY.md, "Accounts and the
/// separation of duties"; docs/DOMAIN.md, roles): every role reads the tenants it works in; the system
/// administrator makes tenants, accounts and units and ends accounts; the security administrator grants
/// and revokes roles and sets the security policy; a center director configures its center and manages
/// its units; the administrators, directors and supervisors read accounts; the auditor alone reads the
/// audit trail; directors, supervisors and auditors read the figures.
fn role_may(role: Role, object: &str, verb: &str) -> bool {
    use Role::*;
    match (object, verb) {
        ("tenant", "read") => true,
        ("tenant", "create") | ("user", "create") | ("user", "manage") => role == CountyAdmin,
        ("tenant", "configure") => role == CenterDirector,
        ("user", "read") => matches!(
            role,
            CountyAdmin | SecurityAdmin | CenterDirector | Supervisor
        ),
        ("role", "grant") | ("role", "revoke") | ("security", "configure") => role == SecurityAdmin,
        ("unit", "read") => matches!(
            role,
            CountyAdmin | SecurityAdmin | CenterDirector | IntakeClerk | Dispatcher | Supervisor
        ),
        ("unit", "create") | ("unit", "manage_members") => {
            matches!(role, CountyAdmin | CenterDirector)
        }
        ("audit", "read") => role == Auditor,
        ("rollup", "read") => matches!(role, CenterDirector | Supervisor | Auditor),
        _ => false,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Resident,
    /// Rotating, with no shift in its roster: off shift now.
    RotatingOff,
    OnCall,
}

struct Tenant {
    gid: String,
    parent: Option<usize>,
}

struct Unit {
    gid: String,
    mode: Mode,
    /// The center it is stationed in.
    tenant: usize,
}

struct Person {
    name: String,
    /// The user's global id.
    user: String,
    token: String,
    roles: Vec<(Role, usize)>,
    units: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Status {
    Registered,
    Accepted,
    Dispatched,
}

struct Case {
    gid: String,
    /// Where it was registered.
    origin: usize,
    /// The center handling it.
    handler: usize,
    status: Status,
    lead: Option<usize>,
    co: Vec<usize>,
    /// Units with an open summons to it.
    summoned: Vec<usize>,
    reporter: usize,
    party: String,
}

struct World {
    tenants: Vec<Tenant>,
    units: Vec<Unit>,
    people: Vec<Person>,
    cases: Vec<Case>,
}

impl World {
    /// `t` and its ancestors: a role granted at any of them reaches `t`.
    fn chain(&self, mut t: usize) -> Vec<usize> {
        let mut out = vec![t];
        while let Some(parent) = self.tenants[t].parent {
            out.push(parent);
            t = parent;
        }
        out
    }

    fn relation(&self, p: usize, c: usize) -> Rel {
        let case = &self.cases[c];
        // An on-call unit without an open summons is a stranger to the case.
        let mine: Vec<usize> = self.people[p]
            .units
            .iter()
            .copied()
            .filter(|u| self.units[*u].mode != Mode::OnCall || case.summoned.contains(u))
            .collect();
        let on_shift = |u: &usize| self.units[*u].mode != Mode::RotatingOff;
        let lead = case.lead.filter(|l| mine.contains(l));
        let co: Vec<&usize> = case.co.iter().filter(|u| mine.contains(u)).collect();
        match lead {
            Some(l) if on_shift(&l) => Rel::Lead,
            _ if co.iter().any(|u| on_shift(u)) => Rel::Co,
            Some(_) => Rel::LeadOffShift,
            None if !co.is_empty() => Rel::CoOffShift,
            None if case.summoned.iter().any(|u| mine.contains(u)) => Rel::Summoned,
            None if case.reporter == p => Rel::Reporter,
            None => Rel::None,
        }
    }

    /// Whether person `p` may `act` on case `c`: reads are judged where the case was registered (every
    /// center above it sees it), changes where it is handled.
    fn may(&self, p: usize, c: usize, act: Act) -> bool {
        let case = &self.cases[c];
        let mut chain = self.chain(if act == Act::Read {
            case.origin
        } else {
            case.handler
        });
        // Supervision (督办) is a superior center's: it reaches the centers below it, not its own cases.
        if act == Act::Supervise {
            chain.remove(0);
        }
        let rel = self.relation(p, c);
        self.people[p]
            .roles
            .iter()
            .any(|(role, at)| chain.contains(at) && role_allows(*role, act, rel))
    }

    /// Whether person `p` may `verb` the `object` of tenant `t`: a role granted at `t` or above it.
    fn may_at(&self, p: usize, t: usize, object: &str, verb: &str) -> bool {
        let chain = self.chain(t);
        self.people[p]
            .roles
            .iter()
            .any(|(role, at)| chain.contains(at) && role_may(*role, object, verb))
    }

    /// An act on tenant `t` that `see` makes visible: `NotFound` without it, `Forbidden` without `act`.
    fn expected_at(&self, p: usize, t: usize, see: (&str, &str), act: (&str, &str)) -> Outcome {
        if !self.may_at(p, t, see.0, see.1) {
            Outcome::NotFound
        } else if self.may_at(p, t, act.0, act.1) {
            Outcome::Allowed
        } else {
            Outcome::Forbidden
        }
    }

    /// Where person `p` belongs (the tenant of its first role).
    fn home(&self, p: usize) -> usize {
        self.people[p].roles.first().map_or(0, |(_, t)| *t)
    }

    fn expected(&self, p: usize, c: usize, act: Act) -> Outcome {
        if !self.may(p, c, Act::Read) {
            Outcome::NotFound
        } else if act == Act::Read || self.may(p, c, act) {
            Outcome::Allowed
        } else {
            Outcome::Forbidden
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Allowed,
    Forbidden,
    NotFound,
}

fn outcome_of(body: &Value) -> Outcome {
    // `node` answers `null`, not `NOT_FOUND`, for what the caller may not see (Relay).
    if body.get("errors").is_none()
        && body["data"]
            .as_object()
            .is_some_and(|d| d.len() == 1 && d.get("node").is_some_and(Value::is_null))
    {
        return Outcome::NotFound;
    }
    match code(body) {
        "NOT_FOUND" => Outcome::NotFound,
        "FORBIDDEN" => Outcome::Forbidden,
        _ => Outcome::Allowed,
    }
}

// ---- the probes -------------------------------------------------------------------------------------------

/// A mutation that cannot succeed on a case in `status`, for `act`, with its variables; `None` where every
/// form of it could succeed in that state.
fn probe(act: Act, status: Status, world: &World, c: usize) -> Option<(&'static str, Value)> {
    let case = &world.cases[c];
    let id = json!(case.gid);
    let deadline = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    // A resident unit of the first township: dispatching or summoning it fails on the unit or the state.
    let unit = json!(world.units[0].gid);
    let probe = match act {
        Act::Read => return None,
        Act::Accept if status != Status::Registered => (
            "mutation($id: ID!) { acceptCase(id: $id) { case { id } } }",
            json!({ "id": id }),
        ),
        Act::Reject if status != Status::Registered => (
            "mutation($id: ID!) { rejectCase(id: $id, reason: \"不属于受理范围\", referral: \"请到法院起诉\") { case { id } } }",
            json!({ "id": id }),
        ),
        Act::Dispatch if status != Status::Accepted => (
            "mutation($id: ID!, $u: ID!, $d: DateTime!) { dispatchCase(id: $id, leadUnitId: $u, deadline: $d) { case { id } } }",
            json!({ "id": id, "u": unit, "d": deadline }),
        ),
        Act::Claim if status != Status::Dispatched => (
            "mutation($id: ID!) { claimCase(id: $id) { case { id } } }",
            json!({ "id": id }),
        ),
        Act::Return if status != Status::Dispatched => (
            "mutation($id: ID!) { returnCase(id: $id, reason: \"不属本单位职责\") { case { id } } }",
            json!({ "id": id }),
        ),
        Act::ReviewReturn => (
            "mutation($id: ID!) { reviewReturn(id: $id, decision: TAKE_BACK) { case { id } } }",
            json!({ "id": id }),
        ),
        Act::Resolve => (
            "mutation($id: ID!) { resolveCase(id: $id, outcome: RESOLVED, method: PEOPLES_MEDIATION) { case { id } } }",
            json!({ "id": id }),
        ),
        Act::Unresolve => (
            "mutation($id: ID!) { unresolveCase(id: $id, reason: \"双方分歧较大\") { case { id } } }",
            json!({ "id": id }),
        ),
        // Escalating upward from a registered or dispatched case, or from the county itself, is refused.
        Act::Escalate
            if status != Status::Accepted || world.tenants[case.handler].parent.is_none() =>
        {
            (
                "mutation($id: ID!) { escalateCase(id: $id, target: PARENT_TENANT) { case { id } } }",
                json!({ "id": id }),
            )
        }
        Act::FollowUp => (
            "mutation($id: ID!) { followUpCase(id: $id, satisfaction: SATISFIED) { case { id } } }",
            json!({ "id": id }),
        ),
        Act::Close => (
            "mutation($id: ID!) { closeCase(id: $id) { case { id } } }",
            json!({ "id": id }),
        ),
        Act::Reopen => (
            "mutation($id: ID!, $d: DateTime!) { reopenCase(id: $id, reason: \"当事人不满意\", deadline: $d) { case { id } } }",
            json!({ "id": id, "d": deadline }),
        ),
        // These may succeed; they change nothing anyone's access depends on.
        Act::Extend => (
            "mutation($id: ID!) { extendCaseDeadline(id: $id, reason: \"案情复杂\") { case { id } } }",
            json!({ "id": id }),
        ),
        Act::Supervise => (
            "mutation($id: ID!) { issueSupervisionOrder(caseId: $id, level: REMIND, reason: \"请加快办理\") { order { id } } }",
            json!({ "id": id }),
        ),
        Act::Reveal => (
            "mutation($id: ID!, $p: ID!) { revealParty(caseId: $id, partyId: $p, reason: \"回访核实身份\") { idCard } }",
            json!({ "id": id, "p": case.party }),
        ),
        _ => return None,
    };
    Some(probe)
}

const ACTS: [Act; 15] = [
    Act::Accept,
    Act::Reject,
    Act::Dispatch,
    Act::Claim,
    Act::Return,
    Act::ReviewReturn,
    Act::Resolve,
    Act::Unresolve,
    Act::Escalate,
    Act::FollowUp,
    Act::Close,
    Act::Reopen,
    Act::Extend,
    Act::Supervise,
    Act::Reveal,
];

/// `summonUnit` needs the dispatch right and, given a resident unit, fails after the check.
const SUMMON: &str = "mutation($id: ID!, $u: ID!) { summonUnit(caseId: $id, unitId: $u) { id } }";

// ---- building the world ---------------------------------------------------------------------------------

fn gid_of(data: &Value, path: &[&str]) -> String {
    let mut v = data;
    for key in path {
        v = match key.parse::<usize>() {
            Ok(index) => &v[index],
            Err(_) => &v[*key],
        };
    }
    v.as_str()
        .unwrap_or_else(|| panic!("no {path:?} in {data:#}"))
        .to_owned()
}

async fn person(app: &TestApp, world: &mut World, name: &str, roles: &[(Role, usize)]) -> usize {
    let home = roles.first().map_or(0, |(_, t)| *t);
    let username = format!("{}.{name}", app.tag);
    let data = app
        .ok(&app.admin_token, "mutation($t: ID!, $u: String!) { createUser(input: {tenantId: $t, username: $u, displayName: \"测试\", password: \"Zx9 Qv initial!\"}) { id } }", json!({ "t": world.tenants[home].gid, "u": username }))
        .await;
    let user = gid_of(&data, &["createUser", "id"]);
    for (role, at) in roles {
        app.ok(&app.security_token, "mutation($u: ID!, $t: ID!, $r: Role!) { grantRole(input: {userId: $u, tenantId: $t, role: $r}) { role } }", json!({ "u": user, "t": world.tenants[*at].gid, "r": crate::helpers::async_graphql_name(*role) }))
            .await;
    }
    let token = app.first_sign_in(&username).await;
    world.people.push(Person {
        name: name.to_owned(),
        user,
        token,
        roles: roles.to_vec(),
        units: Vec::new(),
    });
    world.people.len() - 1
}

/// A unit in tenant `at` with one handler; returns (unit, handler).
async fn unit(
    app: &TestApp,
    world: &mut World,
    at: usize,
    name: &str,
    mode: Mode,
) -> (usize, usize) {
    let residency = match mode {
        Mode::Resident => "RESIDENT",
        Mode::RotatingOff => "ROTATING",
        Mode::OnCall => "ON_CALL",
    };
    let data = app
        .ok(&app.admin_token, &format!("mutation($t: ID!, $n: String!) {{ createUnit(input: {{tenantId: $t, name: $n, department: \"司法\", residency: {residency}}}) {{ id }} }}"), json!({ "t": world.tenants[at].gid, "n": name }))
        .await;
    world.units.push(Unit {
        gid: gid_of(&data, &["createUnit", "id"]),
        mode,
        tenant: at,
    });
    let u = world.units.len() - 1;
    let handler = person(app, world, &format!("h{u}"), &[(Role::UnitHandler, at)]).await;
    // The membership applies at once, to the token the handler already holds.
    let user = world.people[handler].user.clone();
    app.ok(
        &app.admin_token,
        "mutation($u: ID!, $m: ID!) { addUnitMember(unitId: $u, userId: $m) { id } }",
        json!({ "u": world.units[u].gid, "m": user }),
    )
    .await;
    world.people[handler].units.push(u);
    (u, handler)
}

async fn register(app: &TestApp, world: &mut World, by: usize, at: usize, title: &str) -> usize {
    let data = app
        .ok(
            &world.people[by].token,
            REGISTER,
            json!({ "input": case_input(Some(&world.tenants[at].gid), title) }),
        )
        .await;
    let gid = gid_of(&data, &["registerCase", "case", "id"]);
    world.cases.push(Case {
        gid,
        origin: at,
        handler: at,
        status: Status::Registered,
        lead: None,
        co: Vec::new(),
        summoned: Vec::new(),
        reporter: by,
        party: String::new(),
    });
    world.cases.len() - 1
}

// ---- subscriptions ----------------------------------------------------------------------------------------

async fn listen(app: &TestApp, token: &str, query: &str, variables: Value) -> Socket {
    let before = app.state.live.subscribers();
    let mut socket = graphql_socket(&app.url).await;
    for message in [
        json!({ "type": "connection_init", "payload": { "Authorization": format!("Bearer {token}") } }),
        json!({ "id": "1", "type": "subscribe", "payload": { "query": query, "variables": variables } }),
    ] {
        socket
            .send(Message::Text(message.to_string().into()))
            .await
            .unwrap();
    }
    let waited = std::time::Instant::now();
    while app.state.live.subscribers() <= before {
        assert!(
            waited.elapsed() < Duration::from_secs(20),
            "a subscription did not start"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    socket
}

/// Every case id a subscriber heard of until nothing more came for a while, with the event kinds.
async fn heard(socket: &mut Socket) -> Vec<(String, String)> {
    let mut out = Vec::new();
    while let Ok(Some(Ok(message))) =
        tokio::time::timeout(Duration::from_millis(1500), socket.next()).await
    {
        let Message::Text(text) = message else {
            continue;
        };
        let value: Value = serde_json::from_str(&text).unwrap();
        if value["type"] != "next" {
            continue;
        }
        let data = &value["payload"]["data"];
        let event = data
            .get("centerEvents")
            .or_else(|| data.get("unitEvents"))
            .cloned()
            .unwrap_or(Value::Null);
        let case = event["case"]["id"].as_str().unwrap_or("?").to_owned();
        let kind = event["kind"].as_str().unwrap_or("?").to_owned();
        out.push((case, kind));
    }
    out
}

// ---- the proof ----------------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_principal_reaches_a_case_the_oracle_denies_it_by_any_path() {
    let app = TestApp::spawn().await;
    let mut world = World {
        tenants: vec![Tenant {
            gid: app.county_gid(),
            parent: None,
        }],
        units: Vec::new(),
        people: Vec::new(),
        cases: Vec::new(),
    };
    // The tree: townships 1, 10, 11 and villages 1, 10, 11 under each, and a grid under village 1-1.
    let mut township = BTreeMap::new();
    let mut village = BTreeMap::new();
    for t in [1, 10, 11] {
        let gid = app
            .tenant(
                &world.tenants[0].gid,
                &app.township_code(t),
                &format!("{t}镇"),
            )
            .await;
        world.tenants.push(Tenant {
            gid,
            parent: Some(0),
        });
        township.insert(t, world.tenants.len() - 1);
        for v in [1, 10, 11] {
            let gid = app
                .tenant(
                    &world.tenants[township[&t]].gid,
                    &app.village_code(t, v),
                    &format!("{t}镇{v}村"),
                )
                .await;
            world.tenants.push(Tenant {
                gid,
                parent: Some(township[&t]),
            });
            village.insert((t, v), world.tenants.len() - 1);
        }
    }
    let grid_gid = app
        .tenant(
            &world.tenants[village[&(1, 1)]].gid,
            &format!("{}001", app.village_code(1, 1)),
            "一网格",
        )
        .await;
    world.tenants.push(Tenant {
        gid: grid_gid,
        parent: Some(village[&(1, 1)]),
    });
    let grid = world.tenants.len() - 1;
    let county = 0;
    let (t1, t10, t11) = (township[&1], township[&10], township[&11]);

    // Units of township 1 (a resident one first: the probes use it), and a resident unit of township 10.
    let (resident, _) = unit(&app, &mut world, t1, "一镇司法所", Mode::Resident).await;
    let (co_unit, _) = unit(&app, &mut world, t1, "一镇派出所", Mode::Resident).await;
    let (rotating, _) = unit(&app, &mut world, t1, "一镇住建所", Mode::RotatingOff).await;
    let (on_call, _) = unit(&app, &mut world, t1, "一镇人社所", Mode::OnCall).await;
    let (released, _) = unit(&app, &mut world, t1, "一镇水务站", Mode::OnCall).await;
    let (other_resident, _) = unit(&app, &mut world, t10, "十镇司法所", Mode::Resident).await;
    // A county unit on call, never summoned.
    let (county_on_call, _) = unit(&app, &mut world, county, "县信访局", Mode::OnCall).await;

    // Staff in every role: the case roles at the county and at two townships, the intake and mediation
    // roles at sibling villages, the administrators, grid members of one grid.
    let case_roles = [
        Role::CenterDirector,
        Role::IntakeClerk,
        Role::Dispatcher,
        Role::Mediator,
        Role::Supervisor,
        Role::Auditor,
    ];
    for (at, label) in [(county, "c"), (t1, "t1"), (t10, "t10")] {
        for role in case_roles {
            person(
                &app,
                &mut world,
                &format!("{label}{}", role.as_str()),
                &[(role, at)],
            )
            .await;
        }
    }
    for (key, label) in [((1, 1), "v1-1"), ((1, 10), "v1-10"), ((10, 1), "v10-1")] {
        for role in [Role::IntakeClerk, Role::Dispatcher, Role::Mediator] {
            person(
                &app,
                &mut world,
                &format!("{label}{}", role.as_str()),
                &[(role, village[&key])],
            )
            .await;
        }
    }
    let gm1 = person(&app, &mut world, "gm1", &[(Role::GridMember, grid)]).await;
    let gm2 = person(&app, &mut world, "gm2", &[(Role::GridMember, grid)]).await;
    world.people.push(Person {
        name: "county_admin".into(),
        user: fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::User, app.admin.user_id).0,
        token: app.admin_token.clone(),
        roles: vec![(Role::CountyAdmin, county)],
        units: Vec::new(),
    });
    world.people.push(Person {
        name: "security_admin".into(),
        user: fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::User, app.security.user_id)
            .0,
        token: app.security_token.clone(),
        roles: vec![(Role::SecurityAdmin, county)],
        units: Vec::new(),
    });
    let find = |world: &World, name: &str| {
        world
            .people
            .iter()
            .position(|p| p.name == name)
            .unwrap_or_else(|| panic!("no {name}"))
    };

    // Subscriptions, before anything happens: every center role at its tenant's whole subtree, every
    // unit's handler to its unit.
    let mut sockets = Vec::new();
    for p in 0..world.people.len() {
        let person = &world.people[p];
        let listen_to = if let Some(u) = person.units.first() {
            Some((
                "subscription($u: ID!) { unitEvents(unitId: $u) { kind case { id } } }",
                json!({ "u": world.units[*u].gid }),
            ))
        } else {
            person
                .roles
                .iter()
                .find(|(role, _)| role_allows(*role, Act::Read, Rel::None))
                .map(|(_, at)| {
                    (
                        "subscription($t: ID!) { centerEvents(tenantId: $t, subtree: true) { kind case { id } } }",
                        json!({ "t": world.tenants[*at].gid }),
                    )
                })
        };
        if let Some((query, variables)) = listen_to {
            sockets.push((p, listen(&app, &person.token, query, variables).await));
        }
    }

    // Cases everywhere, registered by each tenant's clerk (the county's at the townships without staff).
    let clerk_for = |world: &World, at: usize| -> usize {
        let chain = world.chain(at);
        chain
            .iter()
            .find_map(|t| {
                world.people.iter().position(|p| {
                    p.roles
                        .iter()
                        .any(|(role, r)| *role == Role::IntakeClerk && r == t)
                })
            })
            .unwrap_or_else(|| panic!("no clerk above tenant {at}"))
    };
    let mut places: Vec<usize> = vec![county, t1, t10, t11];
    places.extend(village.values().copied());
    for at in places {
        let by = clerk_for(&world, at);
        register(&app, &mut world, by, at, "邻里纠纷").await;
        register(&app, &mut world, by, at, "土地承包纠纷").await;
    }
    // Grid members' own reports, handled by the village's center.
    for gm in [gm1, gm2] {
        let c = register(&app, &mut world, gm, grid, "网格员上报").await;
        world.cases[c].handler = village[&(1, 1)];
    }

    // Township 1's cases worked by its units: dispatched to the resident unit with a co-unit, to the
    // rotating unit (off shift), summoned to (and the summons kept open), summoned and released.
    let t1_dispatcher = find(&world, "t1dispatcher");
    let token = world.people[t1_dispatcher].token.clone();
    let deadline = (chrono::Utc::now() + chrono::Duration::days(30)).to_rfc3339();
    let mut work = Vec::new();
    for (at, title) in [
        (t1, "派给常驻单位"),
        (village[&(1, 10)], "派给轮驻单位"),
        (village[&(1, 11)], "随驻吹哨"),
        (t1, "吹哨后放回"),
    ] {
        let by = clerk_for(&world, at);
        work.push(register(&app, &mut world, by, at, title).await);
    }
    for c in &work {
        app.ok(
            &token,
            "mutation($id: ID!) { acceptCase(id: $id) { case { id } } }",
            json!({ "id": world.cases[*c].gid }),
        )
        .await;
        world.cases[*c].status = Status::Accepted;
    }
    let dispatch = "mutation($id: ID!, $u: ID!, $co: [ID!]!, $d: DateTime!) { dispatchCase(id: $id, leadUnitId: $u, coUnitIds: $co, deadline: $d) { case { id } } }";
    for (c, lead, co) in [
        (work[0], resident, vec![co_unit]),
        (work[1], rotating, vec![]),
    ] {
        app.ok(
            &token,
            dispatch,
            json!({ "id": world.cases[c].gid, "u": world.units[lead].gid, "co": co.iter().map(|u| world.units[*u].gid.clone()).collect::<Vec<_>>(), "d": deadline }),
        )
        .await;
        world.cases[c].status = Status::Dispatched;
        world.cases[c].lead = Some(lead);
        world.cases[c].co = co;
    }
    for (c, u) in [(work[2], on_call), (work[3], released)] {
        let summons = app
            .ok(
                &token,
                SUMMON,
                json!({ "id": world.cases[c].gid, "u": world.units[u].gid }),
            )
            .await["summonUnit"]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        if u == released {
            app.ok(
                &token,
                "mutation($s: ID!) { releaseSummons(id: $s) { id } }",
                json!({ "s": summons }),
            )
            .await;
        } else {
            world.cases[c].summoned.push(u);
        }
    }
    // Township 10's case dispatched to its own unit, and one escalated up to the county (still readable
    // where it came from, changed only at the county now).
    let t10_dispatcher = find(&world, "t10dispatcher");
    let t10_token = world.people[t10_dispatcher].token.clone();
    let clerk = clerk_for(&world, t10);
    let theirs = register(&app, &mut world, clerk, t10, "十镇派单").await;
    let escalated = register(&app, &mut world, clerk, t10, "十镇上报县").await;
    for c in [theirs, escalated] {
        app.ok(
            &t10_token,
            "mutation($id: ID!) { acceptCase(id: $id) { case { id } } }",
            json!({ "id": world.cases[c].gid }),
        )
        .await;
        world.cases[c].status = Status::Accepted;
    }
    app.ok(
        &t10_token,
        dispatch,
        json!({ "id": world.cases[theirs].gid, "u": world.units[other_resident].gid, "co": [], "d": deadline }),
    )
    .await;
    world.cases[theirs].status = Status::Dispatched;
    world.cases[theirs].lead = Some(other_resident);
    app.ok(
        &t10_token,
        "mutation($id: ID!) { escalateCase(id: $id, target: PARENT_TENANT, note: \"超出镇级调处能力\") { case { id } } }",
        json!({ "id": world.cases[escalated].gid }),
    )
    .await;
    world.cases[escalated].handler = county;
    let _ = county_on_call;

    // Each case's first party, read as the county's director (who sees every case).
    let director = find(&world, "ccenter_director");
    for c in 0..world.cases.len() {
        let data = app
            .ok(
                &world.people[director].token,
                "query($id: ID!) { case(id: $id) { parties { id } } }",
                json!({ "id": world.cases[c].gid }),
            )
            .await;
        world.cases[c].party = gid_of(&data, &["case", "parties", "0", "id"]);
    }

    // ---- the checks ----
    let mut checks = 0usize;
    let mut failures: Vec<String> = Vec::new();
    let world = &world;
    let app = &app;

    // `cases`: exactly the oracle's set.
    for p in 0..world.people.len() {
        let data = app
            .gql(
                Some(&world.people[p].token),
                "{ cases(first: 100) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        let got: BTreeSet<String> = data["data"]["cases"]["edges"]
            .as_array()
            .map(|edges| {
                edges
                    .iter()
                    .filter_map(|e| e["node"]["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        for c in 0..world.cases.len() {
            checks += 1;
            let expected = world.may(p, c, Act::Read);
            if got.contains(&world.cases[c].gid) != expected {
                failures.push(format!(
                    "cases: {} {} case {c} (expected visible: {expected})",
                    world.people[p].name,
                    if expected { "misses" } else { "lists" },
                ));
            }
        }
    }

    // `searchCases`: exactly the oracle's set, and a total that counts nothing more, whether listing the
    // scope or searching a name every case has. A whole ID number every case has is no search text: it is
    // looked up with `findCasesByParty`, which finds exactly the cases the oracle lets one reveal.
    app.state.settle_search().await.unwrap();
    for p in 0..world.people.len() {
        for text in ["", "张建国"] {
            let data = app
                .gql(
                    Some(&world.people[p].token),
                    "query($text: String!) { searchCases(text: $text, first: 100) { total hits { case { id } } } }",
                    json!({ "text": text }),
                )
                .await;
            let got: BTreeSet<String> = data["data"]["searchCases"]["hits"]
                .as_array()
                .map(|hits| {
                    hits.iter()
                        .filter_map(|h| h["case"]["id"].as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            let mut expected_total = 0;
            for c in 0..world.cases.len() {
                checks += 1;
                let expected = world.may(p, c, Act::Read);
                expected_total += u64::from(expected);
                if got.contains(&world.cases[c].gid) != expected {
                    failures.push(format!(
                        "searchCases({text:?}): {} {} case {c} (expected visible: {expected})",
                        world.people[p].name,
                        if expected { "misses" } else { "finds" },
                    ));
                }
            }
            checks += 1;
            if data["data"]["searchCases"]["total"].as_u64() != Some(expected_total) {
                failures.push(format!(
                    "searchCases({text:?}): {} has total {} (expected {expected_total}): {data}",
                    world.people[p].name, data["data"]["searchCases"]["total"]
                ));
            }
        }
    }

    for p in 0..world.people.len() {
        let data = app
            .gql(
                Some(&world.people[p].token),
                "query($id: String!) { findCasesByParty(input: {idCard: $id, reason: \"核实当事人\"}) { id } }",
                json!({ "id": "11010519491231002X" }),
            )
            .await;
        let got: BTreeSet<String> = data["data"]["findCasesByParty"]
            .as_array()
            .map(|cases| {
                cases
                    .iter()
                    .filter_map(|c| c["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        let mut expected_count = 0;
        for c in 0..world.cases.len() {
            checks += 1;
            let expected = world.may(p, c, Act::Reveal);
            expected_count += usize::from(expected);
            if got.contains(&world.cases[c].gid) != expected {
                failures.push(format!(
                    "findCasesByParty: {} {} case {c} (expected revealable: {expected}): {data}",
                    world.people[p].name,
                    if expected { "misses" } else { "finds" },
                ));
            }
        }
        // Nothing more, and no case twice.
        checks += 1;
        let listed = data["data"]["findCasesByParty"]
            .as_array()
            .map_or(0, Vec::len);
        if listed != expected_count {
            failures.push(format!(
                "findCasesByParty: {} lists {listed} cases (expected {expected_count}): {data}",
                world.people[p].name
            ));
        }
    }

    // `case`, `node`, the timeline, and every mutation, for every (principal, case).
    let mut requests = Vec::new();
    for p in 0..world.people.len() {
        for c in 0..world.cases.len() {
            let case = &world.cases[c];
            requests.push((
                p,
                c,
                "case",
                "query($id: ID!) { case(id: $id) { id timeline { command } } }",
                json!({ "id": case.gid }),
                world.expected(p, c, Act::Read),
            ));
            requests.push((
                p,
                c,
                "node",
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": case.gid }),
                world.expected(p, c, Act::Read),
            ));
            for act in ACTS {
                if let Some((query, variables)) = probe(act, case.status, world, c) {
                    requests.push((
                        p,
                        c,
                        act_name(act),
                        query,
                        variables,
                        world.expected(p, c, act),
                    ));
                }
            }
            requests.push((
                p,
                c,
                "summonUnit",
                SUMMON,
                json!({ "id": case.gid, "u": world.units[resident].gid }),
                world.expected(p, c, Act::Dispatch),
            ));
        }
    }
    let results: Vec<(usize, usize, &str, Outcome, Value)> =
        futures::stream::iter(requests.into_iter().map(
            |(p, c, path, query, variables, expected)| async move {
                let body = app
                    .gql(Some(&world.people[p].token), query, variables)
                    .await;
                (p, c, path, expected, body)
            },
        ))
        .buffer_unordered(8)
        .collect()
        .await;
    for (p, c, path, expected, body) in results {
        checks += 1;
        let got = outcome_of(&body);
        // A visible case is also whole: `case` returns its timeline.
        let whole = path != "case"
            || got != Outcome::Allowed
            || body["data"]["case"]["timeline"]
                .as_array()
                .is_some_and(|events| !events.is_empty());
        if got != expected || !whole {
            failures.push(format!(
                "{path}: {} on case {c} ({:?} at tenant {}): expected {expected:?}, got {got:?}: {}",
                world.people[p].name,
                world.relation(p, c),
                world.cases[c].origin,
                body["errors"][0]["message"]
            ));
        }
    }

    // ---- administration: tenants, accounts, units, sessions, the audit trail, policies, figures ----
    // Every (principal, tenant), (principal, account) and (principal, unit) through every path that reads
    // or changes them, each change probed in a form that cannot succeed (a value out of bounds, a reason
    // too short) so that the answer tells only whether the caller may see and may act.
    let own_session = |p: usize| {
        let token = world.people[p].token.clone();
        async move {
            let data = app
                .ok(&token, "{ me { sessions { id current } } }", json!({}))
                .await;
            data["me"]["sessions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|s| s["current"] == true)
                .and_then(|s| s["id"].as_str())
                .expect("a current session")
                .to_owned()
        }
    };
    let mut sessions = Vec::new();
    for p in 0..world.people.len() {
        sessions.push(own_session(p).await);
    }
    let probe_name = format!("{}.probe", app.tag);
    let mut admin_requests: Vec<(usize, String, &str, Value, Outcome)> = Vec::new();
    for p in 0..world.people.len() {
        for t in 0..world.tenants.len() {
            let gid = &world.tenants[t].gid;
            let read = ("tenant", "read");
            let tenant_probes: [(&str, &str, Value, Outcome); 10] = [
                (
                    "tenant",
                    "query($t: ID!) { tenant(id: $t) { id } }",
                    json!({ "t": gid }),
                    world.expected_at(p, t, read, read),
                ),
                (
                    "tenant.accounts",
                    "query($t: ID!) { tenant(id: $t) { accounts { id } } }",
                    json!({ "t": gid }),
                    world.expected_at(p, t, ("user", "read"), ("user", "read")),
                ),
                (
                    "tenant.units",
                    "query($t: ID!) { tenant(id: $t) { units { id } } }",
                    json!({ "t": gid }),
                    world.expected_at(p, t, ("unit", "read"), ("unit", "read")),
                ),
                (
                    "auditRecords",
                    "query($t: ID!) { auditRecords(tenantId: $t, first: 1) { edges { cursor } } }",
                    json!({ "t": gid }),
                    world.expected_at(p, t, ("audit", "read"), ("audit", "read")),
                ),
                (
                    "securityPolicy",
                    "query($t: ID!) { securityPolicy(tenantId: $t) { idleMinutes } }",
                    json!({ "t": gid }),
                    world.expected_at(p, t, read, read),
                ),
                (
                    "setSecurityPolicy",
                    "mutation($t: ID!) { setSecurityPolicy(input: {tenantId: $t, idleMinutes: 1, absoluteHours: 1, maxSessions: 1, passwordMaxAgeDays: 0, requireTotp: false}) { idleMinutes } }",
                    json!({ "t": gid }),
                    world.expected_at(p, t, read, ("security", "configure")),
                ),
                (
                    "dashboard",
                    "query($t: ID!) { dashboard(tenantId: $t, period: {from: \"2026-11\"}) { totals { intake } } }",
                    json!({ "t": gid }),
                    world.expected_at(p, t, read, ("rollup", "read")),
                ),
                (
                    "createTenant",
                    "mutation($t: ID!) { createTenant(input: {parentId: $t, code: \"1\", name: \"探\"}) { id } }",
                    json!({ "t": gid }),
                    world.expected_at(p, t, read, ("tenant", "create")),
                ),
                (
                    "createUnit",
                    "mutation($t: ID!) { createUnit(input: {tenantId: $t, name: \"\", department: \"司法\", residency: RESIDENT}) { id } }",
                    json!({ "t": gid }),
                    world.expected_at(p, t, ("unit", "read"), ("unit", "create")),
                ),
                (
                    "createUser",
                    "mutation($t: ID!, $u: String!) { createUser(input: {tenantId: $t, username: $u, displayName: \"探\", password: \"weak\"}) { id } }",
                    json!({ "t": gid, "u": probe_name }),
                    world.expected_at(p, t, ("user", "read"), ("user", "create")),
                ),
            ];
            for (path, query, variables, expected) in tenant_probes {
                admin_requests.push((
                    p,
                    format!("{path} of tenant {t}"),
                    query,
                    variables,
                    expected,
                ));
            }
        }
        for (q, target) in world.people.iter().enumerate() {
            let home = world.home(q);
            let sees = q == p || world.may_at(p, home, "user", "read");
            let manage = if !sees {
                Outcome::NotFound
            } else if q == p || !world.may_at(p, home, "user", "manage") {
                Outcome::Forbidden
            } else {
                Outcome::Allowed
            };
            let revoke = if !world.may_at(p, home, "user", "read") {
                Outcome::NotFound
            } else if q == p || !world.may_at(p, home, "role", "revoke") {
                Outcome::Forbidden
            } else {
                Outcome::Allowed
            };
            let role = crate::helpers::async_graphql_name(target.roles[0].0);
            let account_probes: [(&str, &str, Value, Outcome); 5] = [
                (
                    "node(User)",
                    "query($u: ID!) { node(id: $u) { id } }",
                    json!({ "u": target.user }),
                    if sees {
                        Outcome::Allowed
                    } else {
                        Outcome::NotFound
                    },
                ),
                (
                    "deactivateAccount",
                    "mutation($u: ID!) { deactivateAccount(input: {userId: $u, reason: \"x\"}) { id } }",
                    json!({ "u": target.user }),
                    manage,
                ),
                (
                    "reactivateAccount",
                    "mutation($u: ID!) { reactivateAccount(input: {userId: $u, reason: \"x\"}) { id } }",
                    json!({ "u": target.user }),
                    manage,
                ),
                (
                    "resetPassword",
                    "mutation($u: ID!) { resetPassword(input: {userId: $u, password: \"Linshi#2026mima\", reason: \"x\"}) { id } }",
                    json!({ "u": target.user }),
                    manage,
                ),
                (
                    "revokeRole",
                    "mutation($u: ID!, $t: ID!, $r: Role!) { revokeRole(input: {userId: $u, tenantId: $t, role: $r, reason: \"x\"}) { id } }",
                    json!({ "u": target.user, "t": world.tenants[home].gid, "r": role }),
                    revoke,
                ),
            ];
            for (path, query, variables, expected) in account_probes {
                admin_requests.push((
                    p,
                    format!("{path} of {}", target.name),
                    query,
                    variables,
                    expected,
                ));
            }
            // Another account's session is nobody's to end but its own.
            if q != p {
                admin_requests.push((
                    p,
                    format!("revokeSession of {}", target.name),
                    "mutation($s: ID!) { revokeSession(input: {sessionId: $s}) { id } }",
                    json!({ "s": sessions[q] }),
                    Outcome::NotFound,
                ));
            }
        }
        for u in 0..world.units.len() {
            let unit = &world.units[u];
            let member = world.people[p].units.contains(&u);
            let sees = member || world.may_at(p, unit.tenant, "unit", "read");
            let members = if sees && world.may_at(p, unit.tenant, "user", "read") {
                Outcome::Allowed
            } else {
                Outcome::NotFound
            };
            let unit_probes: [(&str, &str, Value, Outcome); 3] = [
                (
                    "unit",
                    "query($u: ID!) { unit(id: $u) { id } }",
                    json!({ "u": unit.gid }),
                    if sees {
                        Outcome::Allowed
                    } else {
                        Outcome::NotFound
                    },
                ),
                (
                    "unit.members",
                    "query($u: ID!) { unit(id: $u) { members { id } } }",
                    json!({ "u": unit.gid }),
                    members,
                ),
                (
                    "removeUnitMember",
                    "mutation($u: ID!, $m: ID!) { removeUnitMember(input: {unitId: $u, userId: $m, reason: \"x\"}) { id } }",
                    json!({ "u": unit.gid, "m": world.people[p].user }),
                    world.expected_at(p, unit.tenant, ("unit", "read"), ("unit", "manage_members")),
                ),
            ];
            for (path, query, variables, expected) in unit_probes {
                admin_requests.push((p, format!("{path} {u}"), query, variables, expected));
            }
        }
    }
    let admin_results: Vec<(usize, String, Outcome, Value)> =
        futures::stream::iter(admin_requests.into_iter().map(
            |(p, what, query, variables, expected)| async move {
                let body = app
                    .gql(Some(&world.people[p].token), query, variables)
                    .await;
                (p, what, expected, body)
            },
        ))
        .buffer_unordered(8)
        .collect()
        .await;
    let admin_checks = admin_results.len();
    for (p, what, expected, body) in admin_results {
        checks += 1;
        let got = outcome_of(&body);
        if got != expected {
            failures.push(format!(
                "{what}: {} expected {expected:?}, got {got:?}: {}",
                world.people[p].name, body["errors"][0]["message"]
            ));
        }
    }
    // The monthly export (a file over HTTP): 200, 403 or 404 as the dashboard.
    let base = app.url.trim_end_matches("/graphql").to_owned();
    let mut exports = 0usize;
    for p in 0..world.people.len() {
        for t in 0..world.tenants.len() {
            let response = app
                .http
                .get(format!("{base}/reports/monthly"))
                .query(&[
                    ("tenantId", world.tenants[t].gid.as_str()),
                    ("month", "2026-11"),
                    ("format", "csv"),
                ])
                .bearer_auth(&world.people[p].token)
                .send()
                .await
                .unwrap();
            let got = match response.status().as_u16() {
                200 => Outcome::Allowed,
                403 => Outcome::Forbidden,
                404 => Outcome::NotFound,
                other => panic!("export answered {other}"),
            };
            checks += 1;
            exports += 1;
            let expected = world.expected_at(p, t, ("tenant", "read"), ("rollup", "read"));
            if got != expected {
                failures.push(format!(
                    "monthly export of tenant {t}: {} expected {expected:?}, got {got:?}",
                    world.people[p].name
                ));
            }
        }
    }

    // Subscriptions: nobody heard of a case it may not read; every center heard every registration it
    // may read, and every unit the dispatches to it.
    for (p, socket) in &mut sockets {
        let heard = heard(socket).await;
        let heard_cases: HashMap<&str, Vec<&str>> =
            heard
                .iter()
                .fold(HashMap::new(), |mut by_case, (case, kind)| {
                    by_case
                        .entry(case.as_str())
                        .or_default()
                        .push(kind.as_str());
                    by_case
                });
        for c in 0..world.cases.len() {
            checks += 1;
            let case = &world.cases[c];
            let kinds = heard_cases.get(case.gid.as_str());
            // A released summons was heard while it was open.
            let was_summoned =
                case.gid == world.cases[work[3]].gid && world.people[*p].units.contains(&released);
            let may = world.may(*p, c, Act::Read) || was_summoned;
            if kinds.is_some() && !may {
                failures.push(format!(
                    "subscription: {} heard of case {c} it may not read: {kinds:?}",
                    world.people[*p].name
                ));
            }
            let is_unit = !world.people[*p].units.is_empty();
            let must = if is_unit {
                case.lead
                    .is_some_and(|l| world.people[*p].units.contains(&l))
                    || case.co.iter().any(|u| world.people[*p].units.contains(u))
                    || case
                        .summoned
                        .iter()
                        .any(|u| world.people[*p].units.contains(u))
            } else {
                // A center hears of every registration in its subtree that it may read.
                may
            };
            if must && kinds.is_none() {
                failures.push(format!(
                    "subscription: {} did not hear of case {c}",
                    world.people[*p].name
                ));
            }
        }
    }

    println!(
        "isolation proof ({} search index): {checks} checks ({} principals × {} cases × case, node, cases, 2 searches, look-up by ID number, timeline, {} mutations, subscriptions; {admin_checks} on {} tenants, {} accounts and {} units × 10 tenant paths, 5 account paths and 3 unit paths; {exports} monthly exports), {} disagreements",
        app.state.search.engine.as_str(),
        world.people.len(),
        world.cases.len(),
        ACTS.len() + 1,
        world.tenants.len(),
        world.people.len(),
        world.units.len(),
        failures.len()
    );
    assert!(
        failures.is_empty(),
        "{} disagreements with the oracle:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

fn act_name(act: Act) -> &'static str {
    match act {
        Act::Read => "read",
        Act::Accept => "acceptCase",
        Act::Reject => "rejectCase",
        Act::Dispatch => "dispatchCase",
        Act::Claim => "claimCase",
        Act::Return => "returnCase",
        Act::ReviewReturn => "reviewReturn",
        Act::Resolve => "resolveCase",
        Act::Unresolve => "unresolveCase",
        Act::Escalate => "escalateCase",
        Act::FollowUp => "followUpCase",
        Act::Close => "closeCase",
        Act::Reopen => "reopenCase",
        Act::Extend => "extendCaseDeadline",
        Act::Supervise => "issueSupervisionOrder",
        Act::Reveal => "revealParty",
    }
}

// ---- property tests: the authorizer and duty rosters on random trees -----------------------------------

mod properties {
    use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, Utc, Weekday};
    use fengqiao_domain::roster::{DutyRoster, Hours, RosterEntry};
    use fengqiao_domain::{Ancestry, TenantLevel};
    use fengqiao_tenancy::{Action, Authorizer, Denied, Grant, Principal, Role, Target};
    use proptest::prelude::*;

    use super::{Act, Outcome, Rel, role_allows};

    /// Ids whose decimal forms share prefixes, as siblings' would in a careless implementation.
    const IDS: [i64; 16] = [
        2, 20, 21, 22, 200, 201, 210, 211, 212, 2000, 2001, 2010, 2100, 2101, 2110, 2111,
    ];
    const UNITS: [i64; 3] = [500, 5000, 5001];

    #[derive(Debug, Clone)]
    struct Spec {
        /// Villages per township (1 to 3 townships).
        villages: Vec<usize>,
        /// (role, tenant index) granted to the principal.
        grants: Vec<(usize, usize)>,
        /// The principal's units, as indexes into `UNITS`.
        units: Vec<usize>,
        /// Where the case was registered, and whether it was escalated to the parent.
        origin: usize,
        escalated: bool,
        lead: Option<usize>,
        co: Vec<usize>,
        off_shift: Vec<usize>,
        reported_by_principal: bool,
    }

    fn spec() -> impl Strategy<Value = Spec> {
        (
            proptest::collection::vec(0usize..4, 1..4),
            proptest::collection::vec((0usize..CASE_ROLES.len(), 0usize..16), 0..4),
            proptest::collection::vec(0usize..3, 0..3),
            0usize..16,
            any::<bool>(),
            proptest::option::of(0usize..3),
            proptest::collection::vec(0usize..3, 0..3),
            proptest::collection::vec(0usize..3, 0..3),
            any::<bool>(),
        )
            .prop_map(
                |(villages, grants, units, origin, escalated, lead, co, off_shift, reported)| {
                    Spec {
                        villages,
                        grants,
                        units,
                        origin,
                        escalated,
                        lead,
                        co,
                        off_shift,
                        reported_by_principal: reported,
                    }
                },
            )
    }

    const CASE_ROLES: [Role; 9] = [
        Role::CenterDirector,
        Role::IntakeClerk,
        Role::Dispatcher,
        Role::UnitHandler,
        Role::Mediator,
        Role::GridMember,
        Role::Supervisor,
        Role::Auditor,
        Role::CountyAdmin,
    ];

    const ACTIONS: [(Act, Action); 16] = [
        (Act::Read, Action::CaseRead),
        (Act::Accept, Action::CaseAccept),
        (Act::Reject, Action::CaseReject),
        (Act::Dispatch, Action::CaseDispatch),
        (Act::Claim, Action::CaseClaim),
        (Act::Return, Action::CaseReturn),
        (Act::ReviewReturn, Action::CaseReviewReturn),
        (Act::Resolve, Action::CaseResolve),
        (Act::Unresolve, Action::CaseUnresolve),
        (Act::Escalate, Action::CaseEscalate),
        (Act::FollowUp, Action::CaseFollowUp),
        (Act::Close, Action::CaseClose),
        (Act::Reopen, Action::CaseReopen),
        (Act::Extend, Action::CaseExtend),
        (Act::Supervise, Action::CaseSupervise),
        (Act::Reveal, Action::CaseRevealPersonalData),
    ];

    /// The tree of a spec: (id, parent index, level) with the county first.
    fn tree(spec: &Spec) -> Vec<(i64, Option<usize>, TenantLevel)> {
        let mut ids = IDS.iter().copied();
        let mut next = || ids.next().unwrap_or(9999);
        let mut out = vec![(1, None, TenantLevel::County)];
        for villages in &spec.villages {
            out.push((next(), Some(0), TenantLevel::Township));
            let township = out.len() - 1;
            for _ in 0..*villages {
                out.push((next(), Some(township), TenantLevel::Village));
            }
        }
        out
    }

    fn ancestry(tree: &[(i64, Option<usize>, TenantLevel)], t: usize) -> Ancestry {
        let mut path = vec![t];
        while let Some(parent) = tree[*path.last().unwrap_or(&0)].1 {
            path.push(parent);
        }
        path.reverse();
        let mut out = Ancestry::county(tree[0].0);
        for node in path.into_iter().skip(1) {
            out = out.child(tree[node].2, tree[node].0);
        }
        out
    }

    fn chain(tree: &[(i64, Option<usize>, TenantLevel)], mut t: usize) -> Vec<usize> {
        let mut out = vec![t];
        while let Some(parent) = tree[t].1 {
            out.push(parent);
            t = parent;
        }
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

        /// The authorizer decides every case action as the oracle does, on random trees, grants, units
        /// and shifts.
        #[test]
        fn the_authorizer_agrees_with_the_oracle(spec in spec()) {
            let tree = tree(&spec);
            let origin = spec.origin % tree.len();
            let handler = if spec.escalated { tree[origin].1.unwrap_or(origin) } else { origin };
            let user = 77;
            let grants: Vec<Grant> = spec
                .grants
                .iter()
                .map(|(role, t)| {
                    let t = t % tree.len();
                    Grant { user_id: user, role: CASE_ROLES[*role], tenant_id: tree[t].0, level: tree[t].2 }
                })
                .collect();
            let members: Vec<(i64, i64)> = spec.units.iter().map(|u| (UNITS[*u], user)).collect();
            let target = Target {
                resource_id: Some(1),
                visible_in: ancestry(&tree, origin),
                owned_by: ancestry(&tree, handler),
                lead_unit: spec.lead.map(|u| UNITS[u]),
                co_units: spec.co.iter().map(|u| UNITS[*u]).collect(),
                off_shift_units: spec.off_shift.iter().map(|u| UNITS[*u]).collect(),
                hidden_units: Vec::new(),
                summoned_units: Vec::new(),
                reported_by: spec.reported_by_principal.then_some(user),
            };
            // The oracle's view of the principal's relation to the case.
            let mine = |u: &usize| spec.units.contains(u);
            let on_shift = |u: &usize| !spec.off_shift.contains(u);
            let lead = spec.lead.filter(mine);
            let co: Vec<&usize> = spec.co.iter().filter(|u| mine(u)).collect();
            let rel = match lead {
                Some(l) if on_shift(&l) => Rel::Lead,
                _ if co.iter().any(|u| on_shift(u)) => Rel::Co,
                Some(_) => Rel::LeadOffShift,
                None if !co.is_empty() => Rel::CoOffShift,
                None if spec.reported_by_principal => Rel::Reporter,
                None => Rel::None,
            };
            // (That supervision reaches only the centers below is the server's rule on top of the
            // authorizer; the proof above checks it through the API.)
            let may = |act: Act| {
                let reach = chain(&tree, if act == Act::Read { origin } else { handler });
                spec.grants.iter().any(|(role, t)| {
                    reach.contains(&(t % tree.len())) && role_allows(CASE_ROLES[*role], act, rel)
                })
            };
            let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|e| TestCaseError::fail(e.to_string()))?;
            let outcomes = runtime.block_on(async {
                let authz = Authorizer::new().await.map_err(|e| e.to_string())?;
                authz.load(&grants, &members).await.map_err(|e| e.to_string())?;
                let principal = Principal { user_id: user, tenant_id: tree[0].0 };
                let mut out = Vec::new();
                for (act, action) in ACTIONS {
                    let got = match authz.check(&principal, action, &target).await {
                        Ok(_) => Outcome::Allowed,
                        Err(Denied::NotVisible) => Outcome::NotFound,
                        Err(Denied::Forbidden(_)) => Outcome::Forbidden,
                    };
                    out.push((act, got));
                }
                Ok::<_, String>(out)
            }).map_err(TestCaseError::fail)?;
            for (act, got) in outcomes {
                let expected = if !may(Act::Read) {
                    Outcome::NotFound
                } else if act == Act::Read || may(act) {
                    Outcome::Allowed
                } else {
                    Outcome::Forbidden
                };
                prop_assert_eq!(got, expected, "{:?} with relation {:?}", act, rel);
            }
        }

        /// A rotating unit is on duty exactly in the minutes its roster's shifts cover (weekly shifts on
        /// days not marked off, extra shifts; shifts that run past midnight), in China time.
        #[test]
        fn a_roster_is_on_duty_exactly_when_a_shift_covers_the_minute(
            weekly in proptest::collection::vec((0u32..7, 0u32..96, 1u32..96), 0..5),
            offs in proptest::collection::vec(0i64..21, 0..3),
            extras in proptest::collection::vec((0i64..21, 0u32..96, 1u32..96), 0..3),
            at in 0i64..(21 * 24 * 60),
        ) {
            let first = NaiveDate::from_ymd_opt(2026, 11, 2).unwrap_or_default(); // a Monday
            let time = |quarter: u32| NaiveTime::from_hms_opt(quarter / 4 % 24, quarter % 4 * 15, 0).unwrap_or_default();
            let hours = |start: u32, length: u32| Hours::new(time(start), time(start + length));
            let mut entries = Vec::new();
            for (day, start, length) in &weekly {
                if let Ok(h) = hours(*start, *length) {
                    entries.push(RosterEntry::Weekly(Weekday::try_from(*day as u8).unwrap_or(Weekday::Mon), h));
                }
            }
            for day in &offs {
                entries.push(RosterEntry::Off(first + Duration::days(*day)));
            }
            for (day, start, length) in &extras {
                if let Ok(h) = hours(*start, *length) {
                    entries.push(RosterEntry::Extra(first + Duration::days(*day), h));
                }
            }
            let roster = DutyRoster::new(entries.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
            // The oracle: every shift of every day of the window, and whether one covers the minute.
            let local = first.and_hms_opt(0, 0, 0).unwrap_or_default() + Duration::minutes(at);
            let days: Vec<NaiveDate> = (-1..22).map(|d| first + Duration::days(d)).collect();
            let covered = days.iter().any(|day| {
                let off = entries.contains(&RosterEntry::Off(*day));
                entries.iter().any(|e| {
                    let h = match e {
                        RosterEntry::Weekly(w, h) if !off && *w == day.weekday() => *h,
                        RosterEntry::Extra(d, h) if d == day => *h,
                        _ => return false,
                    };
                    let start = day.and_time(h.start);
                    let length = (h.end - h.start).num_minutes().rem_euclid(24 * 60);
                    start <= local && local < start + Duration::minutes(length)
                })
            });
            let utc: DateTime<Utc> = local.and_utc() - Duration::hours(8);
            prop_assert_eq!(roster.on_duty(utc), covered);
            // And the roster survives its text form.
            prop_assert_eq!(DutyRoster::parse(&roster.to_text()).ok(), Some(roster));
        }
    }
}
