//! The `TestApp` fixture.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use fengqiao::app::AppState;
use fengqiao::clock::OffsetClock;
use fengqiao::config::{Config, Secret};
use fengqiao::pii::Vault;
use fengqiao::store::scope::{SystemPermit, as_system};
use fengqiao::store::tenants::{FirstAccount, TenantRecord};
use fengqiao::store::users::NewPassword;
use fengqiao_domain::{DivisionCode, TenantLevel};
use fengqiao_tenancy::{Principal, Role, hash_password};
use serde_json::{Value, json};

pub const PASSWORD: &str = "Correct horse battery 7";
/// The password an administrator gives a new account; its holder changes it to `PASSWORD` at first sign-in.
pub const INITIAL_PASSWORD: &str = "Zx9 Qv initial!";

/// The database tests run against.
pub fn database_url(dir: &std::path::Path) -> String {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => format!("sqlite://{}?mode=rwc", dir.join("test.db").display()),
    }
}

/// On PostgreSQL the servers under test connect as this role, which owns nothing, so that row-level
/// security holds for them as in production; `TEST_DATABASE_URL` names the owner, which migrates.
pub const APP_ROLE: &str = "fengqiao_app";

/// `owner_url` with the credentials of `APP_ROLE`.
pub fn app_role_url(owner_url: &str) -> String {
    let (scheme, rest) = owner_url.split_once("://").expect("a postgres:// URL");
    let host_and_path = rest.split_once('@').map_or(rest, |(_, after)| after);
    format!("{scheme}://{APP_ROLE}:{APP_ROLE}@{host_and_path}")
}

/// Creates `APP_ROLE` on the PostgreSQL server of `owner_url` unless it exists.
pub async fn ensure_app_role(owner_url: &str) {
    use sea_orm::ConnectionTrait;
    let db = sea_orm::Database::connect(owner_url).await.unwrap();
    db.execute_unprepared(&format!(
        "DO $$ BEGIN
           IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN
             CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_ROLE}' NOSUPERUSER NOBYPASSRLS;
           END IF;
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL;
         END $$"
    ))
    .await
    .unwrap();
    db.close().await.unwrap();
}

pub async fn test_config(dir: &std::path::Path) -> Config {
    let url = database_url(dir);
    let (database_url, owner_url) = if url.starts_with("postgres") {
        ensure_app_role(&url).await;
        (app_role_url(&url), url)
    } else {
        (url, String::new())
    };
    let mut config = Config {
        data_dir: dir.to_owned(),
        database_url: Secret::new(database_url),
        database_owner_url: Secret::new(owner_url),
        database_max_connections: 8,
        redis_url: Secret::new(std::env::var("REDIS_URL").unwrap_or_default()),
        seed_demo_if_empty: Some(false),
        ..Config::default()
    };
    if let Some((url, master)) = meilisearch() {
        // Each test server gets an index of its own, and a search-only key that signs tenant tokens.
        static NEXT_INDEX: AtomicU32 = AtomicU32::new(0);
        let uid = format!(
            "test_{}_{}_{}",
            std::process::id(),
            NEXT_INDEX.fetch_add(1, Ordering::SeqCst),
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0)
        );
        let (key_uid, key) = fengqiao_search::MeiliIndex::new(&url, &master, &uid)
            .unwrap()
            .create_search_key(&master)
            .await
            .unwrap();
        config.search.meili_url = url;
        config.search.meili_api_key = Secret::new(master);
        config.search.meili_index = uid;
        config.search.meili_search_key = Secret::new(key);
        config.search.meili_search_key_uid = key_uid;
    }
    // Servers of tests share one Redis: each keeps its keys (sessions, limits' counters) apart.
    {
        static NEXT_PREFIX: AtomicU32 = AtomicU32::new(0);
        config.redis_prefix = format!(
            "fengqiao-test:{}:{}:",
            std::process::id(),
            NEXT_PREFIX.fetch_add(1, Ordering::SeqCst)
        );
    }
    // Servers of tests share a PostgreSQL database and its outbox: a server feeds (and rebuilds) its index
    // with no county's cases until its own county exists; see `TestApp::spawn_with`.
    config.search.counties = Some(Vec::new());
    // Tests script hundreds of changes by one account in a moment; the mutation limit's own tests set it low.
    config.graphql.mutation_burst = 1_000_000;
    config.graphql.mutations_per_minute = 1_000_000;
    config.auth.jwt_secret = Secret::new("integration-test-signing-secret-0123456789");
    config.personal_data.key = Secret::new(Vault::generate_key_hex());
    config
}

/// The Meilisearch server the tests run against, when `MEILI_URL` is set, and its master key
/// (`MEILI_MASTER_KEY`); otherwise the tests use the embedded index.
pub fn meilisearch() -> Option<(String, String)> {
    let url = std::env::var("MEILI_URL").ok().filter(|u| !u.is_empty())?;
    Some((url, std::env::var("MEILI_MASTER_KEY").unwrap_or_default()))
}

/// A county code no other test (or earlier run on a shared database) uses.
pub fn unique_county_code() -> String {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let salt = std::process::id()
        ^ (std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0));
    let n = (salt
        .wrapping_mul(2_654_435_761)
        .wrapping_add(NEXT.fetch_add(7919, Ordering::SeqCst)))
        % 899_999
        + 100_000;
    format!("{n}000000")
}

/// The configuration of a second server process beside `app`: same database, same keys.
/// The embedded search index belongs to one process: the second one gets a folder of its own and leaves
/// the outbox to the first (it feeds no county: its configuration is the first one's before that one was
/// limited to its county).
pub fn test_config_for(app: &TestApp) -> Config {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let mut config = app.config.clone();
    config.search.worker = false;
    config.search.index_dir = Some(app.config.data_dir.join(format!(
        "search-replica-{}",
        NEXT.fetch_add(1, Ordering::SeqCst)
    )));
    config
}

pub struct TestApp {
    pub config: Config,
    pub url: String,
    pub database_url: String,
    pub state: Arc<AppState>,
    pub clock: OffsetClock,
    /// What sessions and passwords are timed on: moved to end sessions and age passwords, while `clock`
    /// moves cases' time.
    pub session_clock: OffsetClock,
    pub county: TenantRecord,
    /// A prefix for usernames, unique to this test.
    pub tag: String,
    /// The system administrator (`county_admin`): creates tenants, accounts and units.
    pub admin_token: String,
    pub admin: Principal,
    /// The security administrator (`security_admin`): grants roles.
    pub security_token: String,
    pub security: Principal,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl TestApp {
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// A test server whose configuration `adjust` changes first.
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        // `FENGQIAO_LOG=warn cargo test …` shows the server's logs (internal errors' causes) in failing tests.
        if let Ok(filter) = std::env::var("FENGQIAO_LOG") {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
                .with_test_writer()
                .try_init();
        }
        let dir = tempfile::tempdir().unwrap();
        let mut config = test_config(dir.path()).await;
        config.deadline_scan_minutes = 0;
        adjust(&mut config);
        let clock = OffsetClock::default();
        let session_clock = OffsetClock::default();
        let state = fengqiao::build_state_with_session_clock(
            &config,
            Arc::new(clock.clone()),
            Arc::new(session_clock.clone()),
        )
        .await
        .unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = fengqiao::http::server(state.clone(), &config, listener).unwrap();
        tokio::spawn(server);

        let hash = hash_password(PASSWORD).unwrap();
        let mut attempts = 0;
        let (county, first, code) = loop {
            attempts += 1;
            assert!(attempts <= 20, "could not bootstrap a test county");
            let code = unique_county_code();
            let division = DivisionCode::parse(&code, TenantLevel::County).unwrap();
            let admin = format!("c{}.admin", &code[..6]);
            let security = format!("c{}.security", &code[..6]);
            // Setting up a county is the operator's work, done as the system.
            let made = as_system(state.store.bootstrap_county(
                &SystemPermit::for_the_process(),
                &division,
                "测试县",
                FirstAccount {
                    username: &admin,
                    display_name: "系统管理员",
                    password: NewPassword {
                        hash: &hash,
                        must_change: false,
                        set_at: state.session_now(),
                    },
                },
                FirstAccount {
                    username: &security,
                    display_name: "安全保密管理员",
                    password: NewPassword {
                        hash: &hash,
                        must_change: false,
                        set_at: state.session_now(),
                    },
                },
                clock_now(&state),
            ))
            .await;
            match made {
                Ok((county, first)) => break (county, first, code),
                Err(e) => eprintln!("bootstrapping a test county: {}", e.detail()),
            }
        };
        as_system(state.load_policies()).await.unwrap();
        // Servers of other tests share a PostgreSQL database: each feeds its index its own county only.
        state.search.limit_to_counties(vec![county.id]);
        let tag = format!("c{}", &code[..6]);
        let mut app = TestApp {
            config: config.clone(),
            url: format!("http://127.0.0.1:{port}/graphql"),
            database_url: config.database_url.expose().to_owned(),
            admin: Principal {
                user_id: first.admin,
                tenant_id: county.id,
            },
            security: Principal {
                user_id: first.security,
                tenant_id: county.id,
            },
            state,
            clock,
            session_clock,
            county,
            tag: tag.clone(),
            admin_token: String::new(),
            security_token: String::new(),
            http: reqwest::Client::new(),
            _dir: dir,
        };
        app.admin_token = app.sign_in(&format!("{tag}.admin")).await;
        app.security_token = app.sign_in(&format!("{tag}.security")).await;
        app
    }

    /// Posts a GraphQL request and returns the whole response body.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Value {
        let mut request = self
            .http
            .post(&self.url)
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        assert!(response.status().is_success(), "HTTP {}", response.status());
        response.json().await.unwrap()
    }

    /// Like `gql`, asserting there was no error, and returning `data`.
    pub async fn ok(&self, token: &str, query: &str, variables: Value) -> Value {
        let body = self.gql(Some(token), query, variables).await;
        assert!(body.get("errors").is_none(), "unexpected errors: {body:#}");
        body["data"].clone()
    }

    pub async fn sign_in(&self, username: &str) -> String {
        let body = self
            .gql(None, "mutation($u: String!, $p: String!) { signIn(input: {username: $u, password: $p}) { accessToken } }", json!({ "u": username, "p": PASSWORD }))
            .await;
        body["data"]["signIn"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("sign-in failed: {body:#}"))
            .to_owned()
    }

    /// Signs in an account created through `createUser` for the first time: its holder changes the
    /// administrator's `INITIAL_PASSWORD` to `PASSWORD`, which signs in, and answers the access token.
    pub async fn first_sign_in(&self, username: &str) -> String {
        let body = self
            .gql(None, "mutation($u: String!, $c: String!, $n: String!) { changePassword(input: {username: $u, currentPassword: $c, newPassword: $n}) { accessToken } }", json!({ "u": username, "c": INITIAL_PASSWORD, "n": PASSWORD }))
            .await;
        body["data"]["changePassword"]["accessToken"]
            .as_str()
            .unwrap_or_else(|| panic!("first sign-in failed: {body:#}"))
            .to_owned()
    }

    /// Runs `work` in the database scope that a request of `principal` runs in: for tests that call the
    /// application or the store beneath the HTTP layer, which sets the scope of real requests.
    pub async fn as_caller<F: std::future::Future>(
        &self,
        principal: &Principal,
        work: F,
    ) -> F::Output {
        let scope = self.state.db_scope(principal).await.unwrap();
        // Boxed: a test's whole body may run in here, and debug builds keep big futures on the stack.
        fengqiao::store::scope::within(scope, Box::pin(work)).await
    }

    /// The id of the account `username`.
    pub async fn user_id(&self, username: &str) -> i64 {
        self.account(username).await.id
    }

    /// The stored account `username`, as the system reads it.
    pub async fn account(&self, username: &str) -> fengqiao::store::users::UserRecord {
        as_system(self.state.store.user_by_username(username))
            .await
            .unwrap()
            .expect("no such account")
    }

    /// Creates a child tenant through the API and returns its global id.
    pub async fn tenant(&self, parent: &str, code: &str, name: &str) -> String {
        let data = self
            .ok(&self.admin_token, "mutation($p: ID!, $c: String!, $n: String!) { createTenant(input: {parentId: $p, code: $c, name: $n}) { id } }", json!({ "p": parent, "c": code, "n": name }))
            .await;
        data["createTenant"]["id"].as_str().unwrap().to_owned()
    }

    /// Another county on the same server and database, bootstrapped as an operator would; answers its
    /// global id and its administrators' (system, security) tokens.
    pub async fn another_county(&self) -> (String, String, String) {
        let hash = hash_password(PASSWORD).unwrap();
        let (county, code) = loop {
            let code = unique_county_code();
            let division = DivisionCode::parse(&code, TenantLevel::County).unwrap();
            let made = as_system(self.state.store.bootstrap_county(
                &SystemPermit::for_the_process(),
                &division,
                "邻县",
                FirstAccount {
                    username: &format!("o{}.admin", &code[..6]),
                    display_name: "邻县系统管理员",
                    password: NewPassword {
                        hash: &hash,
                        must_change: false,
                        set_at: self.state.session_now(),
                    },
                },
                FirstAccount {
                    username: &format!("o{}.security", &code[..6]),
                    display_name: "邻县安全保密管理员",
                    password: NewPassword {
                        hash: &hash,
                        must_change: false,
                        set_at: self.state.session_now(),
                    },
                },
                clock_now(&self.state),
            ))
            .await;
            if let Ok((county, _)) = made {
                break (county, code);
            }
        };
        as_system(self.state.load_policies()).await.unwrap();
        let admin = self.sign_in(&format!("o{}.admin", &code[..6])).await;
        let security = self.sign_in(&format!("o{}.security", &code[..6])).await;
        let gid = fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::Tenant, county.id).0;
        (gid, admin, security)
    }

    pub fn county_gid(&self) -> String {
        fengqiao::graphql::encode_id(fengqiao::graphql::GlobalId::Tenant, self.county.id).0
    }

    /// A code for a child of the county: township `n` (1-based).
    pub fn township_code(&self, n: u32) -> String {
        format!("{}{:03}000", &self.county.code.as_str()[..6], 100 + n)
    }

    pub fn village_code(&self, township: u32, n: u32) -> String {
        format!(
            "{}{:03}{:03}",
            &self.county.code.as_str()[..6],
            100 + township,
            200 + n
        )
    }

    /// Creates a user in `tenant` with `roles` there, and returns (user id, access token).
    pub async fn user(&self, tenant: &str, name: &str, roles: &[Role]) -> (String, String) {
        let username = format!("{}.{name}", self.tag);
        let data = self
            .ok(&self.admin_token, "mutation($t: ID!, $u: String!) { createUser(input: {tenantId: $t, username: $u, displayName: \"测试用户\", password: \"Zx9 Qv initial!\"}) { id } }", json!({ "t": tenant, "u": username }))
            .await;
        let id = data["createUser"]["id"].as_str().unwrap().to_owned();
        for role in roles {
            let role = async_graphql_name(*role);
            self.ok(&self.security_token, "mutation($u: ID!, $t: ID!, $r: Role!) { grantRole(input: {userId: $u, tenantId: $t, role: $r}) { role } }", json!({ "u": id, "t": tenant, "r": role }))
                .await;
        }
        let token = self.first_sign_in(&username).await;
        (id, token)
    }

    /// Creates a unit in `tenant` with one handler, and returns (unit id, handler token).
    pub async fn unit(&self, tenant: &str, name: &str, handler: &str) -> (String, String) {
        self.stationed_unit(tenant, name, "RESIDENT", handler).await
    }

    /// Like `unit`, stationed as `residency` (`RESIDENT`, `ROTATING` or `ON_CALL`).
    pub async fn stationed_unit(
        &self,
        tenant: &str,
        name: &str,
        residency: &str,
        handler: &str,
    ) -> (String, String) {
        let data = self
            .ok(&self.admin_token, &format!("mutation($t: ID!, $n: String!) {{ createUnit(input: {{tenantId: $t, name: $n, department: \"司法\", residency: {residency}}}) {{ id }} }}"), json!({ "t": tenant, "n": name }))
            .await;
        let unit = data["createUnit"]["id"].as_str().unwrap().to_owned();
        let (user, token) = self.user(tenant, handler, &[Role::UnitHandler]).await;
        self.ok(
            &self.admin_token,
            "mutation($u: ID!, $m: ID!) { addUnitMember(input: {unitId: $u, userId: $m}) { id } }",
            json!({ "u": unit, "m": user }),
        )
        .await;
        (unit, token)
    }
}

fn clock_now(state: &AppState) -> chrono::DateTime<chrono::Utc> {
    state.now()
}

pub fn async_graphql_name(role: Role) -> String {
    role.as_str().to_ascii_uppercase()
}

/// `registerCase` answering the case's `FIELDS` (replaced by the caller).
pub const REGISTER_INPUT: &str = "mutation($input: RegisterCaseInput!) { registerCase(input: $input) { replayed case { FIELDS } } }";

pub const REGISTER: &str = "mutation($input: RegisterCaseInput!) { registerCase(input: $input) { replayed case { id code status } } }";

/// A registration input with two parties.
pub fn case_input(tenant: Option<&str>, title: &str) -> Value {
    json!({
        "tenantId": tenant,
        "kind": "DISPUTE",
        "channel": "WINDOW",
        "category": "NEIGHBOUR",
        "title": title,
        "description": "村民张建国反映邻居李秀英新建院墙越过原界址约半米，请求调解。",
        "place": "一组",
        "parties": [
            { "role": "APPLICANT", "name": "张建国", "idCard": "11010519491231002X", "phone": "13812345678", "address": "一组12号" },
            { "role": "RESPONDENT", "name": "李秀英" }
        ]
    })
}

/// The `extensions.code` of the first error.
pub fn code(body: &Value) -> &str {
    body["errors"][0]["extensions"]["code"]
        .as_str()
        .unwrap_or("<none>")
}

/// A websocket client of the GraphQL endpoint.
pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a websocket to the GraphQL endpoint `graphql_url` (http://…/graphql), speaking
/// `graphql-transport-ws`.
pub async fn graphql_socket(graphql_url: &str) -> Socket {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut request = graphql_url
        .replace("http://", "ws://")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Sec-WebSocket-Protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    tokio_tungstenite::connect_async(request).await.unwrap().0
}

/// Runs `work` in the scope of an anonymous request (sign-in, refresh).
pub async fn anonymous<F: std::future::Future>(work: F) -> F::Output {
    fengqiao::store::scope::within(fengqiao::store::scope::DbScope::Nobody, Box::pin(work)).await
}
