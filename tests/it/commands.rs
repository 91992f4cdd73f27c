//! The operator's commands beside a running server on the same data (SQLite, or PostgreSQL when
//! `TEST_DATABASE_URL` is set): they do not open the embedded search index the server holds, and what they
//! change reaches the server without a restart, through the policy change feed (the commands here run
//! without Redis, so the feed is the only way).

use std::time::{Duration, Instant};

use fengqiao::OperatorAccount;
use fengqiao::graphql::{GlobalId, encode_id};
use fengqiao_domain::{DivisionCode, TenantLevel};
use serde_json::json;

use crate::helpers::{INITIAL_PASSWORD, TestApp, unique_county_code};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bootstrap_county_and_verify_rollups_run_beside_a_serving_server() {
    let app = TestApp::spawn().await;
    // The command runs on the server's own data directory and database, as a separate process would:
    // with no Redis, so nothing but the database connects it to the server.
    let mut config = app.config.clone();
    config.redis_url = Default::default();

    // A command that opens the whole state cannot: the server holds the embedded index.
    if config.search.meili_url.is_empty() {
        let whole =
            fengqiao::build_state(&config, std::sync::Arc::new(fengqiao::clock::SystemClock)).await;
        let refused = whole.err().expect("the index was opened twice").to_string();
        assert!(refused.contains("search index"), "{refused}");
    }

    let code = unique_county_code();
    let division = DivisionCode::parse(&code, TenantLevel::County).unwrap();
    let admin = format!("n{}.admin", &code[..6]);
    let security = format!("n{}.security", &code[..6]);
    let county = Box::pin(fengqiao::bootstrap_county(
        &config,
        &division,
        "新设县",
        OperatorAccount {
            username: &admin,
            password: INITIAL_PASSWORD,
        },
        OperatorAccount {
            username: &security,
            password: INITIAL_PASSWORD,
        },
    ))
    .await
    .expect("bootstrap-county beside a running server");

    // The new administrator signs in to the running server and, once the feed has brought the grants
    // (every two seconds), works in the new county: no restart.
    let token = app.first_sign_in(&admin).await;
    let query = "query($id: ID!) { tenant(id: $id) { name } }";
    let variables = json!({ "id": encode_id(GlobalId::Tenant, county.id).0 });
    let started = Instant::now();
    let took = loop {
        let body = app.gql(Some(&token), query, variables.clone()).await;
        if body["data"]["tenant"]["name"] == "新设县" {
            break started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "the new county's grants never reached the server: {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    eprintln!("the new county's administrator worked on the running server after {took:?}");
    let created = app
        .ok(
            &token,
            "mutation($p: ID!, $c: String!) { createTenant(input: {parentId: $p, code: $c, name: \"新镇\"}) { id } }",
            json!({ "p": encode_id(GlobalId::Tenant, county.id).0, "c": format!("{}101000", &code[..6]) }),
        )
        .await;
    assert!(created["createTenant"]["id"].is_string());

    // verify-rollups beside the server: the counters of both counties agree with their timelines.
    let state = fengqiao::build_state_for_command(
        &config,
        std::sync::Arc::new(fengqiao::clock::SystemClock),
    )
    .await
    .expect("verify-rollups' state beside a running server");
    for id in [app.county.id, county.id] {
        let found = state.verify_rollups(Some(id), false).await.unwrap();
        assert_eq!(found.len(), 1);
        let check = &found[0].check;
        assert!(
            check.differences.is_empty() && check.unreadable_cases.is_empty(),
            "{check:?}"
        );
    }
}
