//! The mutation limit (GB/T 22239-2019 8.1.4.1, issue 15 point 2): every principal draws its mutations
//! from a token bucket (a signed-in account its own, an anonymous caller its address's), each root field of
//! a mutation request taking one; past it the request answers `RATE_LIMITED` with `retryAfter` and nothing
//! in it runs. The bucket lives in Redis, shared by replicas, and in the process while Redis is out of
//! reach (`outages.rs`).

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::{TestApp, code};

/// `n` aliased `createUnit` fields in one mutation request, stationing units `{prefix}0` … `{prefix}{n-1}`.
pub fn create_units(prefix: &str, n: usize) -> String {
    let fields = (0..n)
        .map(|i| {
            format!(
                "u{i}: createUnit(input: {{tenantId: $t, name: \"{prefix}{i}\", department: \"司法局\", residency: RESIDENT}}) {{ id }}"
            )
        })
        .collect::<Vec<_>>()
        .join(" ");
    format!("mutation($t: ID!) {{ {fields} }}")
}

pub async fn unit_exists(app: &TestApp, name: &str) -> bool {
    fengqiao::store::scope::as_system(app.state.store.units_of_tenant(app.county.id))
        .await
        .unwrap()
        .iter()
        .any(|unit| unit.name == name)
}

fn retry_after(body: &Value) -> u64 {
    body["errors"][0]["extensions"]["retryAfter"]
        .as_u64()
        .unwrap_or_else(|| panic!("no retryAfter: {body:#}"))
}

#[tokio::test]
async fn past_its_bucket_an_account_is_answered_rate_limited_and_nothing_of_the_request_runs() {
    // Four at once, then one a second.
    let app = TestApp::spawn_with(|config| {
        config.graphql.mutation_burst = 4;
        config.graphql.mutations_per_minute = 60;
    })
    .await;
    let county = app.county_gid();
    let tag = app.tag.clone();
    let body = app
        .gql(
            Some(&app.admin_token),
            &create_units(&format!("{tag}调解室"), 3),
            json!({ "t": county }),
        )
        .await;
    assert!(body.get("errors").is_none(), "{body:#}");

    // Two more fields where one token is left: refused whole, neither unit is stationed.
    let body = app
        .gql(
            Some(&app.admin_token),
            &create_units(&format!("{tag}法律服务站"), 2),
            json!({ "t": county }),
        )
        .await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body:#}");
    assert!(body["data"].is_null(), "{body:#}");
    assert_eq!(retry_after(&body), 1, "{body:#}");
    assert!(!unit_exists(&app, &format!("{tag}法律服务站0")).await);
    assert!(!unit_exists(&app, &format!("{tag}法律服务站1")).await);

    // The last token, then none.
    let one = create_units(&format!("{tag}信访室"), 1);
    app.ok(&app.admin_token, &one, json!({ "t": county })).await;
    let body = app
        .gql(
            Some(&app.admin_token),
            &create_units(&format!("{tag}警务室"), 1),
            json!({ "t": county }),
        )
        .await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body:#}");

    // Reads are not limited, and another account has its own bucket.
    app.ok(&app.admin_token, "{ me { user { username } } }", json!({}))
        .await;
    let revoke = "mutation { revokeSession(input: {sessionId: \"none\"}) { id } }";
    let other = app.gql(Some(&app.security_token), revoke, json!({})).await;
    assert_ne!(code(&other), "RATE_LIMITED", "{other:#}");

    // A token a second comes back.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    app.ok(
        &app.admin_token,
        &create_units(&format!("{tag}警务室"), 1),
        json!({ "t": county }),
    )
    .await;
    assert!(unit_exists(&app, &format!("{tag}警务室0")).await);
}

#[tokio::test]
async fn anonymous_mutations_draw_from_their_address_bucket() {
    let app = TestApp::spawn_with(|config| {
        config.graphql.mutation_burst = 5;
        config.graphql.mutations_per_minute = 1;
    })
    .await;
    // The test county's two administrators signed in from this address: three tokens are left.
    let sign_in = |n: usize| json!({ "u": format!("nobody{n}"), "p": "Wrong#Passw0rd" });
    const SIGN_IN: &str = "mutation($u: String!, $p: String!) { signIn(input: {username: $u, password: $p}) { accessToken } }";
    for n in 0..3 {
        let body = app.gql(None, SIGN_IN, sign_in(n)).await;
        assert_eq!(code(&body), "UNAUTHENTICATED", "{body:#}");
    }
    let body = app.gql(None, SIGN_IN, sign_in(3)).await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body:#}");
    // A minute for one token.
    assert!((50..=60).contains(&retry_after(&body)), "{body:#}");
    // Signed in, the administrator draws from the account's bucket, not the address's.
    let body = app
        .gql(
            Some(&app.admin_token),
            "mutation { revokeSession(input: {sessionId: \"none\"}) { id } }",
            json!({}),
        )
        .await;
    assert_ne!(code(&body), "RATE_LIMITED", "{body:#}");
}
