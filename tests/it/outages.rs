//! Redis out of reach (killed with SIGKILL, a server of the test's own) costs a request nothing and loses
//! nothing: limits are counted in the process, session ends written meanwhile reach every replica through
//! the sessions' records, and a Redis that comes back empty makes no ended session live again.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::io::Read;

use fengqiao_tenancy::Role;
use serde_json::json;

use crate::helpers::{PASSWORD, REGISTER, TestApp, case_input, code, test_config_for};
use crate::live::spawn_replica;
use crate::pii::post;
use crate::rate_limits::{create_units, unit_exists};

/// A Redis server of this test's own, on a free port; killed with SIGKILL when dropped.
pub struct OwnRedis {
    child: Child,
    pub port: u16,
}

impl OwnRedis {
    /// Starts one on `port` (a free one if `None`), or answers `None` where `redis-server` is not
    /// installed.
    pub fn start_on(port: Option<u16>) -> Option<OwnRedis> {
        let port = match port {
            Some(port) => port,
            None => std::net::TcpListener::bind("127.0.0.1:0")
                .ok()?
                .local_addr()
                .ok()?
                .port(),
        };
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(OwnRedis { child, port })
    }

    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for OwnRedis {
    fn drop(&mut self) {
        self.kill();
    }
}

#[tokio::test]
async fn with_redis_killed_the_bucket_is_kept_in_the_process_and_requests_do_not_wait_for_redis() {
    let Some(mut redis) = OwnRedis::start_on(None) else {
        eprintln!("redis-server is not installed: the Redis-down fallback is not exercised here");
        return;
    };
    let port = redis.port;
    let app = TestApp::spawn_with(|config| {
        config.redis_url = fengqiao::config::Secret::new(format!("redis://127.0.0.1:{port}"));
        config.graphql.mutation_burst = 3;
        config.graphql.mutations_per_minute = 1;
    })
    .await;
    assert_eq!(app.state.cache.backend(), "redis");
    let county = app.county_gid();
    let tag = app.tag.clone();
    app.ok(
        &app.admin_token,
        &create_units(&format!("{tag}甲"), 1),
        json!({ "t": county }),
    )
    .await;

    redis.kill();
    // With Redis gone, the process counts: its bucket starts full, and empties.
    let started = Instant::now();
    app.ok(
        &app.admin_token,
        &create_units(&format!("{tag}乙"), 3),
        json!({ "t": county }),
    )
    .await;
    let body = app
        .gql(
            Some(&app.admin_token),
            &create_units(&format!("{tag}丙"), 1),
            json!({ "t": county }),
        )
        .await;
    assert_eq!(code(&body), "RATE_LIMITED", "{body:#}");
    assert!(!unit_exists(&app, &format!("{tag}丙0")).await);
    // Not a performance figure: a request must not sit out the Redis client's reconnection (seconds).
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "two requests took {:?} with Redis gone",
        started.elapsed()
    );
    app.ok(&app.admin_token, "{ me { user { username } } }", json!({}))
        .await;
    // The replica stays in service, and says what it is missing.
    let ready = app
        .http
        .get(app.url.replace("/graphql", "/readyz"))
        .send()
        .await
        .unwrap();
    assert!(ready.status().is_success(), "{}", ready.status());
    let state: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(state, json!({ "database": "ok", "cache": "unavailable" }));
}

const SIGN_IN: &str = "mutation($u: String!, $p: String!) { signIn(input: {username: $u, password: $p}) { accessToken } }";
const SIGN_OUT: &str = "mutation { signOut }";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_signed_out_while_redis_is_down_stay_ended_on_every_replica_when_it_comes_back_empty()
 {
    let Some(mut redis) = OwnRedis::start_on(None) else {
        eprintln!("redis-server is not installed: the Redis-down fallback is not exercised here");
        return;
    };
    let port = redis.port;
    let app = TestApp::spawn_with(|config| {
        config.redis_url = fengqiao::config::Secret::new(format!("redis://127.0.0.1:{port}"));
    })
    .await;
    let second = fengqiao::build_state(&test_config_for(&app), Arc::new(app.clock.clone()))
        .await
        .unwrap();
    let county = app.county_gid();
    app.user(&county, "clerk", &[fengqiao_tenancy::Role::IntakeClerk])
        .await;
    let username = format!("{}.clerk", app.tag);
    let mut tokens = Vec::new();
    for _ in 0..2 {
        let body = app
            .gql(None, SIGN_IN, json!({ "u": username, "p": PASSWORD }))
            .await;
        let token = body["data"]["signIn"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("{body:#}"))
            .to_owned();
        // The second replica has seen both sessions live.
        second.authenticate(&token).await.unwrap();
        tokens.push(token);
    }

    redis.kill();
    // Signing out while Redis is gone works: the end is in the session's record.
    for token in &tokens {
        let body = app.gql(Some(token), SIGN_OUT, json!({})).await;
        assert!(body.get("errors").is_none(), "{body:#}");
    }
    // The other replica reads the record while Redis is gone.
    assert!(second.authenticate(&tokens[0]).await.is_err());

    // Redis comes back empty: no revocation survived it. Neither session is live again on either replica,
    // the one the second replica had not looked at during the outage included.
    let _redis = OwnRedis::start_on(Some(port)).expect("redis-server restarts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while second.cache.ping().await.is_err() || app.state.cache.ping().await.is_err() {
        assert!(Instant::now() < deadline, "the cache did not come back");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for token in &tokens {
        let refused = second.authenticate(token).await;
        assert!(
            refused.is_err(),
            "a signed-out session is live again on the second replica"
        );
        assert_eq!(
            code(
                &app.gql(Some(token), "{ me { user { id } } }", json!({}))
                    .await
            ),
            "UNAUTHENTICATED"
        );
    }
    // And a new session works on both.
    let body = app
        .gql(None, SIGN_IN, json!({ "u": username, "p": PASSWORD }))
        .await;
    let fresh = body["data"]["signIn"]["accessToken"].as_str().unwrap();
    second.authenticate(fresh).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_outage_is_logged_once_when_it_begins_not_again_by_every_write() {
    let Some(mut redis) = OwnRedis::start_on(None) else {
        eprintln!("redis-server is not installed: the Redis-down log is not exercised here");
        return;
    };
    let port = redis.port;
    let app = TestApp::spawn_with(|config| {
        config.redis_url = fengqiao::config::Secret::new(format!("redis://127.0.0.1:{port}"));
    })
    .await;
    let county = app.county_gid();
    let (_, clerk) = app.user(&county, "clerk", &[Role::IntakeClerk]).await;
    let mut replica = spawn_replica(&app, "warn", Stdio::piped()).await;
    let mut stderr = replica.child.stderr.take().unwrap();
    let log = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });

    redis.kill();
    // Each registration changes the county's figures, and would invalidate its cached dashboards.
    for n in 0..12 {
        let answer = post(
            &app,
            &replica.url,
            Some(&clerk),
            REGISTER,
            json!({ "input": case_input(None, &format!("{}停电{n}", app.tag)) }),
        )
        .await;
        assert!(
            answer.pointer("/data/registerCase/case/id").is_some(),
            "{answer:#}"
        );
    }
    let _ = replica.child.kill();
    let _ = replica.child.wait();
    let log = log.join().unwrap();
    let warnings: Vec<&str> = log.lines().filter(|l| l.contains("WARN")).collect();
    assert!(
        warnings
            .iter()
            .any(|l| l.contains("Redis is out of reach; working without it")),
        "the outage is logged when it begins:\n{log}"
    );
    let repeated = warnings
        .iter()
        .filter(|l| l.contains("could not invalidate the cached dashboards"))
        .count();
    assert!(
        repeated <= 1,
        "{repeated} warnings for 12 writes while Redis was known to be gone:\n{log}"
    );
}
