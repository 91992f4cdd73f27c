//! The second wall on PostgreSQL: row-level security on every tenant table, `FORCE`d, with the scope set
//! per transaction. The server's role owns nothing it reads and cannot turn the wall off; a server whose
//! role could bypass it refuses to start. On SQLite (no `TEST_DATABASE_URL`) these tests say so and pass:
//! SQLite has no row-level security. Beneath both, a statement run outside any scope is refused.

use fengqiao::graphql::{GlobalId, decode_id};
use fengqiao::store::scope::{self, DbScope, Reach};
use fengqiao_tenancy::Role;
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement, TransactionTrait};
use serde_json::json;

use crate::helpers::{REGISTER, TestApp, case_input, test_config};

fn postgres() -> bool {
    let on = postgres_quietly();
    if !on {
        eprintln!(
            "TEST_DATABASE_URL is not set: row-level security exists on PostgreSQL only; skipped"
        );
    }
    on
}

/// Every table with a `county_id` column, read from the catalogue (not from a list kept by hand).
async fn tenant_tables(db: &impl ConnectionTrait) -> Vec<String> {
    db.query_all_raw(Statement::from_string(
        db.get_database_backend(),
        "SELECT table_name::text FROM information_schema.columns \
         WHERE table_schema = current_schema() AND column_name = 'county_id' ORDER BY 1",
    ))
    .await
    .unwrap()
    .iter()
    .map(|r| r.try_get_by_index(0).unwrap())
    .collect()
}

async fn count(db: &impl ConnectionTrait, sql: &str) -> i64 {
    db.query_one_raw(Statement::from_string(db.get_database_backend(), sql))
        .await
        .unwrap()
        .unwrap()
        .try_get_by_index(0)
        .unwrap()
}

fn id(gid: &str) -> i64 {
    decode_id("id", GlobalId::Tenant, &async_graphql::ID(gid.to_owned())).unwrap()
}

/// Two townships with a case each, in `app`'s county: (township ids, case ids).
async fn two_townships_with_cases(app: &TestApp) -> ([i64; 2], [i64; 2]) {
    let county = app.county_gid();
    let mut townships = [0; 2];
    let mut cases = [0; 2];
    for (i, n) in [1, 10].into_iter().enumerate() {
        let township = app
            .tenant(&county, &app.township_code(n), &format!("镇{n}"))
            .await;
        let (_, clerk) = app
            .user(&township, &format!("clerk{n}"), &[Role::IntakeClerk])
            .await;
        let data = app
            .ok(
                &clerk,
                REGISTER,
                json!({ "input": case_input(None, &format!("镇{n}的纠纷")) }),
            )
            .await;
        townships[i] = id(&township);
        cases[i] = decode_id(
            "id",
            GlobalId::Case,
            &async_graphql::ID(
                data["registerCase"]["case"]["id"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            ),
        )
        .unwrap();
    }
    (townships, cases)
}

async fn app_role(app: &TestApp) -> DatabaseConnection {
    Database::connect(&app.database_url).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_with_no_scope_set_returns_no_rows() {
    if !postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    two_townships_with_cases(&app).await;
    let db = app_role(&app).await;
    let tables = tenant_tables(&db).await;
    assert!(tables.len() >= 16, "tenant tables: {tables:?}");
    // As the system the rows are there…
    let system = scope::as_system(app.state.store.begin()).await.unwrap();
    for table in ["tenants", "users", "cases", "case_events", "case_parties"] {
        let n = count(
            &system,
            &format!(
                "SELECT COUNT(*) FROM {table} WHERE county_id = {}",
                app.county.id
            ),
        )
        .await;
        assert!(n > 0, "{table} has no row of the test county");
    }
    drop(system);
    // …but the server's role, with no scope set, reads none of any tenant table, in or out of a
    // transaction.
    for table in &tables {
        assert_eq!(
            count(&db, &format!("SELECT COUNT(*) FROM {table}")).await,
            0,
            "{table} without a scope"
        );
    }
    let txn = db.begin().await.unwrap();
    for table in &tables {
        assert_eq!(
            count(&txn, &format!("SELECT COUNT(*) FROM {table}")).await,
            0
        );
    }
    txn.rollback().await.unwrap();
    // Nor can it write one.
    let inserted = db
        .execute_unprepared(&format!(
            "INSERT INTO clock_policies (county_id, tenant_id, kind, complexity, accept_within, \
             conclude_within, follow_up_within, updated_by, updated_at) \
             VALUES ({0}, {0}, 'dispute', 'simple', '1d', '30d', '7d', 1, now())",
            app.county.id
        ))
        .await;
    let error = inserted.expect_err("an insert without a scope").to_string();
    assert!(error.contains("row-level security"), "{error}");
}

/// The application's side of the wall, on both databases: a store call that runs outside any scope is
/// refused (naming the call), rather than running with every row visible; as the system or in a caller's
/// scope the same call answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unscoped_read_of_a_tenant_table_is_refused_on_either_database() {
    let app = TestApp::spawn().await;
    let (_, [case_id, _]) = two_townships_with_cases(&app).await;
    let store = &app.state.store;

    let refused = store
        .case(case_id)
        .await
        .expect_err("an unscoped read answered");
    let detail = refused.detail();
    assert!(detail.contains(scope::UNSCOPED), "{detail}");
    assert!(
        detail.contains("api/src/store/"),
        "the refusal names the call: {detail}"
    );
    let refused = store
        .tenant(app.county.id)
        .await
        .expect_err("an unscoped read answered");
    assert!(refused.detail().contains(scope::UNSCOPED));
    let refused = store
        .events(case_id)
        .await
        .expect_err("an unscoped read answered");
    assert!(refused.detail().contains(scope::UNSCOPED));
    let begun = store
        .begin()
        .await
        .map(drop)
        .expect_err("an unscoped transaction began");
    assert!(begun.to_string().contains(scope::UNSCOPED), "{begun}");

    // Spawned work does not inherit a scope: it too must say where it runs.
    let state = app.state.clone();
    let spawned = scope::as_system(async move {
        tokio::spawn(async move { state.store.case(case_id).await.map(|c| c.is_some()) })
            .await
            .unwrap()
    })
    .await;
    assert!(spawned.is_err_and(|e| e.detail().contains(scope::UNSCOPED)));

    let found = scope::as_system(store.case(case_id)).await.unwrap();
    assert_eq!(found.map(|c| c.id), Some(case_id));
    let found = app
        .as_caller(&app.admin, store.case(case_id))
        .await
        .unwrap();
    assert_eq!(found.map(|c| c.id), Some(case_id));
    // An anonymous request's scope reaches no row on PostgreSQL; SQLite has no wall beneath the checks.
    let anonymous = crate::helpers::anonymous(store.case(case_id))
        .await
        .unwrap();
    assert_eq!(anonymous.is_some(), !postgres_quietly());
}

fn postgres_quietly() -> bool {
    std::env::var("TEST_DATABASE_URL").is_ok_and(|u| u.starts_with("postgres"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_reaches_its_county_and_of_its_cases_only_its_subtrees() {
    if !postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    let other = TestApp::spawn().await;
    let ([first, second], [first_case, second_case]) = two_townships_with_cases(&app).await;
    let (_, [other_case, _]) = two_townships_with_cases(&other).await;
    let store = &app.state.store;

    let visible = |scope: DbScope, sql: String| async move {
        scope::within(scope, async {
            let txn = store.begin().await.unwrap();
            count(&txn, &sql).await
        })
        .await
    };
    let county = |reach| DbScope::Principal {
        county: app.county.id,
        reach,
    };
    let cases_in = |c: i64| format!("SELECT COUNT(*) FROM cases WHERE id = {c}");

    // The whole county: both townships' cases, none of the other county's, and none of its tenants.
    assert_eq!(
        visible(county(Reach::County), cases_in(first_case)).await,
        1
    );
    assert_eq!(
        visible(county(Reach::County), cases_in(second_case)).await,
        1
    );
    assert_eq!(
        visible(county(Reach::County), cases_in(other_case)).await,
        0
    );
    assert_eq!(
        visible(
            county(Reach::County),
            format!(
                "SELECT COUNT(*) FROM tenants WHERE county_id = {}",
                other.county.id
            )
        )
        .await,
        0
    );
    assert!(visible(county(Reach::County), "SELECT COUNT(*) FROM tenants".into()).await >= 3);
    // One township's subtree: its own case, not its sibling's (ids 1 and 10 share a prefix).
    assert_eq!(
        visible(county(Reach::Subtrees(vec![first])), cases_in(first_case)).await,
        1
    );
    assert_eq!(
        visible(county(Reach::Subtrees(vec![first])), cases_in(second_case)).await,
        0
    );
    assert_eq!(
        visible(county(Reach::Subtrees(vec![second])), cases_in(first_case)).await,
        0
    );
    // The same subtree under the wrong county reaches nothing.
    assert_eq!(
        visible(
            DbScope::Principal {
                county: other.county.id,
                reach: Reach::Subtrees(vec![first]),
            },
            cases_in(first_case)
        )
        .await,
        0
    );
    assert_eq!(visible(DbScope::Nobody, cases_in(first_case)).await, 0);

    // Writing into another county is refused by the policy's check, whatever the statement says.
    let written = scope::within(county(Reach::County), async {
        let txn = store.begin().await.unwrap();
        txn.execute_unprepared(&format!(
            "UPDATE cases SET county_id = {} WHERE id = {first_case}",
            other.county.id
        ))
        .await
    })
    .await;
    let error = written
        .expect_err("moving a case to another county")
        .to_string();
    assert!(error.contains("row-level security"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_role_owns_nothing_and_cannot_turn_the_wall_off() {
    if !postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    let db = app_role(&app).await;
    let gap = app.state.store.row_security_gap().await.unwrap();
    assert_eq!(gap, None);
    let role = app.state.store.role().await.unwrap();
    assert_eq!(role, crate::helpers::APP_ROLE);
    for attempt in [
        "ALTER TABLE cases DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE cases NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY fengqiao_scope ON cases",
        "ALTER ROLE fengqiao_app BYPASSRLS",
    ] {
        assert!(
            db.execute_unprepared(attempt).await.is_err(),
            "the server's role could run {attempt}"
        );
    }
    // Asking PostgreSQL to skip row security makes a guarded query fail rather than see everything.
    let txn = db.begin().await.unwrap();
    txn.execute_unprepared("SET LOCAL row_security = off")
        .await
        .unwrap();
    let error = txn
        .execute_unprepared("SELECT * FROM cases")
        .await
        .expect_err("a query with row_security off")
        .to_string();
    assert!(error.contains("row-level security"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_refuses_to_start_as_a_role_that_could_bypass_the_wall() {
    if !postgres() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path()).await;
    // The owner URL of the tests is a superuser's: a server connecting with it must refuse to start.
    config.database_url = config.database_owner_url.clone();
    config.database_owner_url = Default::default();
    config.deadline_scan_minutes = 0;
    let started =
        fengqiao::build_state(&config, std::sync::Arc::new(fengqiao::clock::SystemClock)).await;
    let error = format!(
        "{:#}",
        started.err().expect("a server with a superuser role")
    );
    assert!(error.contains("refusing to start"), "{error}");
    assert!(
        error.contains("superuser") || error.contains("BYPASSRLS") || error.contains("owns"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_role_may_append_audit_records_but_never_change_or_remove_them() {
    if !postgres() {
        return;
    }
    let app = TestApp::spawn().await;
    // The server's own connection, as the server's role, in the system's scope: still no way to rewrite
    // the audit trail.
    for statement in [
        "UPDATE audit_records SET reason = 'rewritten'",
        "DELETE FROM audit_records",
        "TRUNCATE audit_records",
    ] {
        let outcome = fengqiao::store::scope::as_system(async {
            let txn = app.state.store.begin().await?;
            txn.execute_unprepared(statement).await.map(|_| ())
        })
        .await;
        let error = outcome.expect_err(statement).to_string();
        assert!(error.contains("permission denied"), "{statement}: {error}");
    }
}
