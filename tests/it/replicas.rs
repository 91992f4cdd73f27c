//! Two server processes on one database and one Redis: a grant or a unit membership made (or ended) through
//! one takes effect on the other at once, without a restart. Needs `REDIS_URL` (replicas share nothing else); without
//! it there is a single process and nothing to propagate, and the test says so and stops.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fengqiao::error::ApiError;
use fengqiao::store::scope::{as_system, within};
use fengqiao_tenancy::{Principal, Role};
use serde_json::json;

use crate::helpers::{REGISTER, TestApp, case_input, test_config_for};

fn number(gid: &str, kind: fengqiao::graphql::GlobalId) -> i64 {
    fengqiao::graphql::decode_id("id", kind, &async_graphql::ID(gid.to_owned())).unwrap()
}

/// `principal` reading `case_id` on `replica`, in the scope of the principal's requests.
async fn read_on(
    replica: &fengqiao::app::AppState,
    principal: &Principal,
    case_id: i64,
) -> Result<(), ApiError> {
    let scope = replica.db_scope(principal).await.unwrap();
    within(scope, replica.case(principal, case_id))
        .await
        .map(drop)
}

/// Waits until `principal` can read `case_id` on `replica`, and says how long it took.
async fn readable_within(
    replica: &fengqiao::app::AppState,
    principal: &Principal,
    case_id: i64,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if read_on(replica, principal, case_id).await.is_ok() {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

/// Waits until `principal` can no longer read `case_id` on `replica` (`NOT_FOUND`), and says how long it took.
async fn unreadable_within(
    replica: &fengqiao::app::AppState,
    principal: &Principal,
    case_id: i64,
    limit: Duration,
) -> Option<Duration> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if matches!(
            read_on(replica, principal, case_id).await,
            Err(ApiError::NotFound)
        ) {
            return Some(started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grants_and_memberships_reach_another_replica_without_a_restart() {
    if std::env::var("REDIS_URL").unwrap_or_default().is_empty() {
        eprintln!("REDIS_URL is not set: one process, no replica to reach; not run");
        return;
    }
    let app = TestApp::spawn().await;
    let second = fengqiao::build_state(&test_config_for(&app), Arc::new(app.clock.clone()))
        .await
        .unwrap();
    assert_eq!(second.bus.backend(), "redis");
    let county = app.county_gid();
    let township = app.tenant(&county, &app.township_code(1), "南关镇").await;
    let (_, clerk) = app.user(&township, "clerk", &[Role::IntakeClerk]).await;
    let (_, dispatcher) = app.user(&township, "dispatcher", &[Role::Dispatcher]).await;
    let data = app
        .ok(
            &clerk,
            REGISTER,
            json!({ "input": case_input(Some(&township), "宅基地纠纷") }),
        )
        .await;
    let case_gid = data["registerCase"]["case"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let case_id = number(&case_gid, fengqiao::graphql::GlobalId::Case);
    let tenant_id = number(&township, fengqiao::graphql::GlobalId::Tenant);

    // A user with no role yet: the second replica does not show the case.
    let (newcomer, _) = app.user(&township, "newcomer", &[]).await;
    let newcomer = Principal {
        user_id: number(&newcomer, fengqiao::graphql::GlobalId::User),
        tenant_id,
    };
    let refused = read_on(&second, &newcomer, case_id).await;
    assert!(matches!(refused, Err(ApiError::NotFound)), "{refused:?}");
    app.ok(
        &app.security_token,
        "mutation($u: ID!, $t: ID!) { grantRole(input: {userId: $u, tenantId: $t, role: INTAKE_CLERK}) { role } }",
        json!({ "u": fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::User, newcomer.user_id).0, "t": township }),
    )
    .await;
    let took = readable_within(&second, &newcomer, case_id, Duration::from_secs(5)).await;
    assert!(took.is_some(), "the grant never reached the second replica");
    eprintln!("grant visible on the second replica after {took:?}");

    // A unit handler sees the case once a member of its lead unit, on the other replica too.
    let unit = app
        .ok(&app.admin_token, "mutation($t: ID!) { createUnit(input: {tenantId: $t, name: \"南关派出所\", department: \"公安\", residency: RESIDENT}) { id } }", json!({ "t": township }))
        .await["createUnit"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    app.ok(
        &clerk,
        "mutation($id: ID!) { acceptCase(id: $id) { case { status } } }",
        json!({ "id": case_gid }),
    )
    .await;
    let deadline = (chrono::Utc::now() + chrono::Duration::days(5)).to_rfc3339();
    app.ok(&dispatcher, "mutation($id: ID!, $u: ID!, $d: DateTime!) { dispatchCase(id: $id, leadUnitId: $u, coUnitIds: [], deadline: $d) { case { status } } }", json!({ "id": case_gid, "u": unit, "d": deadline })).await;
    let (officer, _) = app.user(&township, "officer", &[Role::UnitHandler]).await;
    let officer = Principal {
        user_id: number(&officer, fengqiao::graphql::GlobalId::User),
        tenant_id,
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let refused = read_on(&second, &officer, case_id).await;
    assert!(
        matches!(refused, Err(ApiError::NotFound)),
        "a handler outside the lead unit must not see the case: {refused:?}"
    );
    app.ok(
        &app.admin_token,
        "mutation($u: ID!, $m: ID!) { addUnitMember(unitId: $u, userId: $m) { id } }",
        json!({ "u": unit, "m": fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::User, officer.user_id).0 }),
    )
    .await;
    let took = readable_within(&second, &officer, case_id, Duration::from_secs(5)).await;
    assert!(
        took.is_some(),
        "the membership never reached the second replica"
    );
    eprintln!("membership visible on the second replica after {took:?}");

    // Ending them reaches the other replica as quickly: a revoked grant, a removed membership.
    app.ok(
        &app.security_token,
        "mutation($u: ID!, $t: ID!) { revokeRole(input: {userId: $u, tenantId: $t, role: INTAKE_CLERK, reason: \"岗位调整\"}) { id } }",
        json!({ "u": fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::User, newcomer.user_id).0, "t": township }),
    )
    .await;
    let took = unreadable_within(&second, &newcomer, case_id, Duration::from_secs(5)).await;
    assert!(
        took.is_some(),
        "the revocation never reached the second replica"
    );
    eprintln!("revocation applied on the second replica after {took:?}");
    app.ok(
        &app.admin_token,
        "mutation($u: ID!, $m: ID!) { removeUnitMember(input: {unitId: $u, userId: $m, reason: \"调岗\"}) { id } }",
        json!({ "u": unit, "m": fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::User, officer.user_id).0 }),
    )
    .await;
    let took = unreadable_within(&second, &officer, case_id, Duration::from_secs(5)).await;
    assert!(
        took.is_some(),
        "the removal never reached the second replica"
    );
    eprintln!("membership removal applied on the second replica after {took:?}");

    // A center's clock policy, set through one replica, governs new cases on the other.
    let (_, director) = app
        .user(&township, "director", &[Role::CenterDirector])
        .await;
    let ancestry = as_system(app.state.store.tenant(tenant_id))
        .await
        .unwrap()
        .unwrap()
        .ancestry;
    let kind = fengqiao_domain::CaseKind::Dispute;
    let simple = fengqiao_domain::clocks::Complexity::Simple;
    let before = second.policy_for(&ancestry, kind, simple).unwrap();
    app.ok(
        &director,
        "mutation($t: ID!) { setClockPolicy(input: {tenantId: $t, kind: DISPUTE, complexity: SIMPLE, acceptWithin: \"2wd\", concludeWithin: \"3wd\", followUpWithin: \"5wd\"}) { concludeWithin } }",
        json!({ "t": township }),
    )
    .await;
    let started = Instant::now();
    let mut after = before;
    while started.elapsed() < Duration::from_secs(5) && after == before {
        tokio::time::sleep(Duration::from_millis(5)).await;
        after = second.policy_for(&ancestry, kind, simple).unwrap();
    }
    assert_eq!(after.conclude_within.to_text(), "3wd");

    // A rotating unit's roster, set through one replica, replaces what the other knew of the unit.
    let rotating = app
        .ok(&app.admin_token, "mutation($t: ID!) { createUnit(input: {tenantId: $t, name: \"南关住建所\", department: \"住建\", residency: ROTATING}) { id } }", json!({ "t": township }))
        .await["createUnit"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let rotating_id = number(&rotating, fengqiao::graphql::GlobalId::Unit);
    let known = as_system(second.unit_station(rotating_id))
        .await
        .unwrap()
        .unwrap();
    assert!(known.roster.is_none());
    app.ok(
        &director,
        "mutation($u: ID!) { setDutyRoster(unitId: $u, roster: {weekly: [{weekday: TUE, start: \"09:00\", end: \"12:00\"}]}) { id } }",
        json!({ "u": rotating }),
    )
    .await;
    let started = Instant::now();
    let mut roster = None;
    while started.elapsed() < Duration::from_secs(5) && roster.is_none() {
        tokio::time::sleep(Duration::from_millis(5)).await;
        roster = as_system(second.unit_station(rotating_id))
            .await
            .unwrap()
            .unwrap()
            .roster;
    }
    assert_eq!(
        roster.map(|r| r.to_text()).as_deref(),
        Some("tue 09:00-12:00")
    );
}
