//! The demo as README's "Run it" gives it: a server on the embedded defaults seeds 清水县 on first start,
//! and its staff sign in with the demo password (the three administrators change it first); its 3,000
//! cases page forwards and backwards (Relay) alike.

use std::time::Duration;

use serde_json::{Value, json};

use crate::helpers::code;

const SIGN_IN: &str = "mutation($u: String!, $p: String!) { signIn(input: {username: $u, password: $p}) { accessToken } }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_seeds_on_first_start_and_its_staff_sign_in() {
    if std::env::var("TEST_DATABASE_URL").is_ok() {
        eprintln!("the demo runs on the embedded defaults (SQLite): skipped beside PostgreSQL");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    // Nothing but a listen address and a data directory: every other setting is the default.
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_fengqiao-replica"))
        .env_clear()
        .env("FENGQIAO_LISTEN", format!("127.0.0.1:{port}"))
        .env("FENGQIAO_DATA_DIR", dir.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let http = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/graphql");
    let ready = format!("http://127.0.0.1:{port}/readyz");
    let waited = std::time::Instant::now();
    loop {
        if let Ok(response) = http.get(&ready).send().await
            && response.status().is_success()
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the demo server exited: {status}");
        }
        assert!(
            waited.elapsed() < Duration::from_secs(600),
            "the demo did not start"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let sign_in = |username: &str| {
        let request = http.post(&url).json(&json!({
            "query": SIGN_IN,
            "variables": { "u": username, "p": fengqiao::seed::DEMO_PASSWORD },
        }));
        async move { request.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    for staff in [
        "county.director",
        "county.supervisor",
        "t01.clerk",
        "t01.dispatcher",
        "t01.sfs",
    ] {
        let body = sign_in(staff).await;
        assert!(
            body["data"]["signIn"]["accessToken"].is_string(),
            "{staff}: {body:#}"
        );
    }
    for administrator in ["admin", "security", "county.auditor"] {
        let body = sign_in(administrator).await;
        assert_eq!(
            code(&body),
            "PASSWORD_CHANGE_REQUIRED",
            "{administrator}: {body:#}"
        );
        assert_eq!(body["errors"][0]["extensions"]["reason"], "first_sign_in");
    }

    // Relay paging over the demo's 3,000 cases as the county sees them: forwards by 100 and backwards by
    // 100 find each case once, in the same order (newest first), and `totalCount` counts them.
    let token = sign_in("county.director").await["data"]["signIn"]["accessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let page = |variables: Value| {
        let request = http.post(&url).bearer_auth(&token).json(&json!({
            "query": "query($first: Int, $after: String, $last: Int, $before: String) {
                cases(first: $first, after: $after, last: $last, before: $before) {
                  totalCount edges { cursor node { id } }
                  pageInfo { hasPreviousPage hasNextPage startCursor endCursor } } }",
            "variables": variables,
        }));
        async move {
            let body = request.send().await.unwrap().json::<Value>().await.unwrap();
            assert!(body["errors"].is_null(), "{body:#}");
            body["data"]["cases"].clone()
        }
    };
    let ids = |c: &Value| -> Vec<String> {
        c["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let (mut forwards, mut after) = (Vec::new(), Value::Null);
    let mut total;
    loop {
        let c = page(json!({ "first": 100, "after": after })).await;
        total = c["totalCount"].as_u64().unwrap();
        assert_eq!(c["pageInfo"]["hasPreviousPage"], !after.is_null());
        forwards.extend(ids(&c));
        if !c["pageInfo"]["hasNextPage"].as_bool().unwrap() {
            break;
        }
        after = c["pageInfo"]["endCursor"].clone();
    }
    let (mut backwards, mut before) = (Vec::<String>::new(), Value::Null);
    loop {
        let c = page(json!({ "last": 100, "before": before })).await;
        assert_eq!(c["pageInfo"]["hasNextPage"], !before.is_null());
        let mut earlier = ids(&c);
        earlier.extend(backwards);
        backwards = earlier;
        if !c["pageInfo"]["hasPreviousPage"].as_bool().unwrap() {
            break;
        }
        before = c["pageInfo"]["startCursor"].clone();
    }
    assert!(forwards.len() >= 3000, "{} cases", forwards.len());
    assert_eq!(total, forwards.len() as u64);
    assert_eq!(forwards, backwards, "forwards and backwards disagree");
    let numbers: Vec<i64> = forwards
        .iter()
        .map(|id| {
            fengqiao::graphql::decode_id(
                "id",
                fengqiao::graphql::GlobalId::Case,
                &async_graphql::ID(id.clone()),
            )
            .unwrap()
        })
        .collect();
    assert!(
        numbers.windows(2).all(|w| w[0] > w[1]),
        "not newest first, or a case repeats"
    );

    let _ = child.kill();
    let _ = child.wait();
}
