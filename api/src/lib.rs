//! The Fengqiao server: configuration, the GraphQL API over actix-web, the sea-orm store, the cache port
//! and the command line. It owns every side effect; the domain and tenancy crates stay pure of them.

pub mod app;
pub mod bus;
pub mod cache;
pub mod clock;
pub mod config;
pub mod directory;
pub mod error;
pub mod graphql;
pub mod http;
pub mod live;
pub mod paging;
pub mod pii;
pub mod reports;
pub mod search;
pub mod seed;
pub mod store;

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use chrono::Duration;
use fengqiao_tenancy::{Authorizer, TokenIssuer, TokenSettings};

use crate::app::AppState;
use crate::bus::{Bus, LocalBus, RedisBus};
use crate::cache::{Cache, MemoryCache, RedisCache};
use crate::clock::Clock;
use crate::config::Config;
use crate::directory::Directory;
use crate::pii::Vault;
use crate::store::Store;
use crate::store::scope::SystemPermit;

/// Reads a secret kept in the data folder, creating it (readable by the owner only) on first use.
fn data_secret(
    data_dir: &Path,
    name: &str,
    make: impl FnOnce() -> String,
) -> anyhow::Result<String> {
    let path = data_dir.join(name);
    if let Ok(existing) = std::fs::read_to_string(&path) {
        return Ok(existing.trim().to_owned());
    }
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("creating {}", data_dir.display()))?;
    let value = make();
    std::fs::write(&path, &value).with_context(|| format!("writing {}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    }
    tracing::info!(file = %path.display(), "generated a new {name}; set it in the configuration for several replicas");
    Ok(value)
}

/// Applies pending migrations to `store`'s database: as the owner role of `database_owner_url` when it is
/// set, granting `store`'s role the rows it needs; otherwise as `store`'s own role.
pub async fn migrate(config: &Config, store: &Store) -> anyhow::Result<()> {
    if config.database_owner_url.is_empty() {
        return store.migrate(None).await.context("migrating the database");
    }
    let owner = Store::connect(config.database_owner_url.expose(), 2)
        .await
        .context("connecting to the database as its owner (database_owner_url)")?;
    let role = store
        .role()
        .await
        .context("reading the server's database role")?;
    owner
        .migrate(Some(&role))
        .await
        .context("migrating the database as its owner")?;
    owner.close().await;
    Ok(())
}

/// Logs to standard error, filtered by `FENGQIAO_LOG` (an `EnvFilter`: `debug`, `fengqiao=trace,info`, …).
/// Nothing logged names a resident's personal data at any level (`tests/it/pii.rs` sweeps every level).
pub fn init_logging() {
    // tantivy warns when a background merge finishes after a commit replaced its segments; the merge is
    // simply dropped, so only its errors are shown by default. The Meilisearch SDK warns of every answer
    // that is not a 200, a missing index looked up before it is created included; the adapter reports the
    // failures that matter itself.
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("FENGQIAO_LOG").unwrap_or_else(|_| {
                "info,sqlx=warn,sea_orm=warn,tantivy=error,meilisearch_sdk=error".into()
            }),
        )
        .with_writer(std::io::stderr)
        .init();
}

/// Connects everything the configuration names and loads the authorization policy; an embedded search
/// index found empty or of another format is built from the store first.
pub async fn build_state(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<AppState>> {
    let sessions = clock.clone();
    assemble_state(config, clock, sessions, Index::Built).await
}

/// As `build_state`, with sessions and passwords timed on a clock of their own. A server has one clock;
/// tests move the case clock by days (deadlines, rollups) without ending every session, and move the
/// session clock to end them.
pub async fn build_state_with_session_clock(
    config: &Config,
    clock: Arc<dyn Clock>,
    session_clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<AppState>> {
    assemble_state(config, clock, session_clock, Index::Built).await
}

/// As `build_state`, but leaves an empty search index alone: for `fengqiao reindex`, which builds it.
pub async fn build_state_for_reindex(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<AppState>> {
    let sessions = clock.clone();
    assemble_state(config, clock, sessions, Index::AsFound).await
}

/// The state of a command that changes or checks the store only (`bootstrap-county`, `load-calendar`,
/// `verify-rollups`), run beside a server on the same data: the embedded search index is not opened (the
/// server holds it; the outbox feeds it), no worker runs, and what the command changes reaches running
/// servers through the policy change feed.
pub async fn build_state_for_command(
    config: &Config,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<Arc<AppState>> {
    let mut config = config.clone();
    config.search.worker = false;
    let sessions = clock.clone();
    assemble_state(&config, clock, sessions, Index::NotOpened).await
}

/// Start-up is work the process does on its own behalf: it runs as the system.
/// What a state does with the embedded search index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Index {
    /// Opened, and built from the store when found empty or of another format.
    Built,
    /// Opened as it is (`reindex` builds it).
    AsFound,
    /// Not opened (a command beside a running server).
    NotOpened,
}

async fn assemble_state(
    config: &Config,
    clock: Arc<dyn Clock>,
    session_clock: Arc<dyn Clock>,
    index: Index,
) -> anyhow::Result<Arc<AppState>> {
    // Boxed: the assembly is a large future, and tests build several states on one thread's stack.
    crate::store::scope::as_system(Box::pin(assemble_state_as_system(
        config,
        clock,
        session_clock,
        index,
    )))
    .await
}

async fn assemble_state_as_system(
    config: &Config,
    clock: Arc<dyn Clock>,
    session_clock: Arc<dyn Clock>,
    index: Index,
) -> anyhow::Result<Arc<AppState>> {
    let url = config.effective_database_url();
    if url.starts_with("sqlite:") && config.database_url.is_empty() {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating {}", config.data_dir.display()))?;
    }
    let store = Store::connect(&url, config.database_max_connections)
        .await
        .context("connecting to the database")?;
    if config.auto_migrate {
        migrate(config, &store).await?;
    }
    if let Some(gap) = store
        .row_security_gap()
        .await
        .context("checking row-level security")?
    {
        anyhow::bail!("refusing to start: {gap}");
    }
    let jwt_secret = if config.auth.jwt_secret.is_empty() {
        data_secret(&config.data_dir, "jwt.key", || {
            pii::Vault::generate_key_hex()
        })?
    } else {
        config.auth.jwt_secret.expose().to_owned()
    };
    let pii_key = if config.personal_data.key.is_empty() {
        data_secret(
            &config.data_dir,
            "personal-data.key",
            pii::Vault::generate_key_hex,
        )?
    } else {
        config.personal_data.key.expose().to_owned()
    };
    let settings = TokenSettings {
        issuer: config.auth.issuer.clone(),
        audience: config.auth.audience.clone(),
        access_ttl: Duration::minutes(config.auth.access_token_minutes),
        refresh_ttl: Duration::days(config.auth.refresh_token_days),
    };
    let tokens = TokenIssuer::new(jwt_secret.as_bytes(), settings).context("the JWT secret")?;
    let vault = Vault::from_hex(&pii_key).context("the personal-data key")?;
    let (cache, bus): (Arc<dyn Cache>, Arc<dyn Bus>) = if config.redis_url.is_empty() {
        (
            Arc::new(MemoryCache::default()),
            Arc::new(LocalBus::default()),
        )
    } else {
        (
            Arc::new(
                RedisCache::connect(config.redis_url.expose(), &config.redis_prefix)
                    .await
                    .context("connecting to Redis")?,
            ),
            Arc::new(
                RedisBus::connect(config.redis_url.expose(), &config.redis_prefix)
                    .await
                    .context("connecting to Redis for the event bus")?,
            ),
        )
    };
    let calendar = std::sync::RwLock::new(
        store
            .working_calendar()
            .await
            .map_err(|e| anyhow::anyhow!("loading the working-day calendar: {}", e.detail()))?,
    );
    let authz = Authorizer::new()
        .await
        .context("loading the authorization model")?;
    let search = open_search(config, &store, index).await?;
    let state = Arc::new(AppState {
        store,
        authz,
        tokens,
        cache,
        bus,
        clock,
        session_clock,
        vault,
        directory: Directory::default(),
        stations: std::sync::RwLock::new(std::collections::HashMap::new()),
        calendar,
        risk_rules: fengqiao_domain::risk::RiskRules::default(),
        policies: std::sync::RwLock::new(std::collections::HashMap::new()),
        password_slots: tokio::sync::Semaphore::new(
            config.auth.password_check_concurrency.clamp(1, 64),
        ),
        live: live::LiveHub::default(),
        search,
        accounts: std::sync::RwLock::new(std::collections::HashMap::new()),
        local_limits: cache::MemoryCache::default(),
        sessions: std::sync::RwLock::new(std::collections::HashMap::new()),
        cache_recoveries_seen: std::sync::atomic::AtomicU64::new(0),
        cache_epoch_seen: std::sync::atomic::AtomicI64::new(0),
        security: std::sync::RwLock::new(std::collections::HashMap::new()),
    });
    state
        .load_clock_policies()
        .await
        .map_err(|e| anyhow::anyhow!("loading clock policies: {}", e.detail()))?;
    state
        .load_security_policies()
        .await
        .map_err(|e| anyhow::anyhow!("loading security policies: {}", e.detail()))?;
    state
        .start_policy_sync()
        .await
        .map_err(|e| anyhow::anyhow!("loading grants: {}", e.detail()))?;
    state
        .start_live_relay()
        .await
        .map_err(|e| anyhow::anyhow!("subscribing to live events: {}", e.detail()))?;
    state
        .build_missing_rollups()
        .await
        .map_err(|e| anyhow::anyhow!("building rollup counters: {}", e.detail()))?;
    if index == Index::Built && state.search.needs_rebuild {
        let report = state
            .reindex(&SystemPermit::for_the_process())
            .await
            .map_err(|e| anyhow::anyhow!("building the search index: {}", e.detail()))?;
        tracing::info!(
            cases = report.cases,
            "built the search index from the store"
        );
    }
    if config.search.worker {
        state.start_search_worker();
    }
    state.start_masking_backfill();
    Ok(state)
}

/// Opens the search index the configuration names: Meilisearch when `search.meili_url` is set, else the
/// embedded index in its folder (waiting a moment for an earlier state of this process to let it go).
async fn open_search(
    config: &Config,
    store: &Store,
    index: Index,
) -> anyhow::Result<search::Search> {
    use fengqiao_search::{EmbeddedIndex, MeiliIndex, SearchError};
    let wake = store.outbox.clone();
    let batch = config.search.batch;
    fengqiao_search::text::warm_up();
    let settings = &config.search;
    if !settings.meili_url.is_empty() {
        let index = MeiliIndex::new(
            &settings.meili_url,
            settings.meili_api_key.expose(),
            &settings.meili_index,
        )
        .map_err(|e| anyhow::anyhow!("search.meili_url: {e}"))?;
        let mut search = search::Search::new(
            Arc::new(index.clone()),
            search::Engine::Meilisearch,
            wake,
            batch,
            settings.counties.clone(),
        );
        if !settings.meili_search_key.is_empty() {
            search.tokens = Some(search::TokenKey {
                url: settings.meili_url.trim_end_matches('/').to_owned(),
                index_uid: settings.meili_index.clone(),
                key_uid: settings.meili_search_key_uid.clone(),
                key: settings.meili_search_key.clone(),
                minutes: settings.token_minutes,
            });
        }
        // Settings first; while the server is down the worker keeps trying and searches answer
        // SEARCH_UNAVAILABLE.
        search.meili = Some(index);
        search.prepare().await;
        return Ok(search);
    }
    if index == Index::NotOpened && settings.meili_url.is_empty() {
        return Ok(search::Search::new(
            Arc::new(search::NotOpened),
            search::Engine::Embedded,
            wake,
            batch,
            settings.counties.clone(),
        ));
    }
    let dir = settings.index_dir(&config.data_dir);
    let mut attempts = 0;
    let index = loop {
        let opened = {
            let dir = dir.clone();
            tokio::task::spawn_blocking(move || EmbeddedIndex::open(&dir)).await?
        };
        match opened {
            Ok(index) => break index,
            Err(SearchError::Unavailable(_)) if attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            Err(e) => {
                return Err(anyhow::anyhow!(
                    "opening the search index in {}: {e}",
                    dir.display()
                ));
            }
        }
    };
    let needs_rebuild = index.needs_rebuild();
    let mut search = search::Search::new(
        Arc::new(index),
        search::Engine::Embedded,
        wake,
        batch,
        settings.counties.clone(),
    );
    search.needs_rebuild = needs_rebuild;
    Ok(search)
}

/// An administrator the operator names at `bootstrap-county`, with the first password the operator chose
/// (its holder changes it at first sign-in).
pub struct OperatorAccount<'a> {
    pub username: &'a str,
    pub password: &'a str,
}

/// Creates a county and its two administrators (the `bootstrap-county` command), beside any running
/// server: the index is not opened, and the running servers learn of the new grants through the policy
/// change feed, so the administrators sign in and work at once. The first passwords meet the password
/// rules, and each administrator must change theirs at first sign-in.
pub async fn bootstrap_county(
    config: &Config,
    code: &fengqiao_domain::DivisionCode,
    name: &str,
    admin: OperatorAccount<'_>,
    security: OperatorAccount<'_>,
) -> anyhow::Result<crate::store::tenants::TenantRecord> {
    use crate::store::tenants::FirstAccount;
    use crate::store::users::NewPassword;

    for who in [&admin, &security] {
        crate::store::users::check_username(who.username)
            .map_err(|e| anyhow::anyhow!(e.detail()))?;
        fengqiao_tenancy::check_password_rules(who.password, who.username)
            .map_err(|e| anyhow::anyhow!("the password of {}: {e}", who.username))?;
    }
    anyhow::ensure!(
        admin.username != security.username,
        "the two administrators must be different accounts"
    );
    let admin_hash = fengqiao_tenancy::hash_password(admin.password)?;
    let security_hash = fengqiao_tenancy::hash_password(security.password)?;
    let state = build_state_for_command(config, Arc::new(crate::clock::SystemClock)).await?;
    let first = |username, display_name, hash| FirstAccount {
        username,
        display_name,
        password: NewPassword {
            hash,
            must_change: true,
            set_at: state.session_now(),
        },
    };
    let (county, _) = state
        .store
        .bootstrap_county(
            &SystemPermit::for_the_process(),
            code,
            name,
            first(admin.username, "系统管理员", &admin_hash),
            first(security.username, "安全保密管理员", &security_hash),
            state.now(),
        )
        .await
        .map_err(|e| anyhow::anyhow!(e.detail()))?;
    state.announce(&crate::app::PolicyChange::Everything).await;
    Ok(county)
}

/// Serves the API as configured: seeds the demo county first when configured to, runs the deadline
/// scanner in the background, and answers until the process is stopped.
pub async fn serve(config: Config) -> anyhow::Result<()> {
    if config.seeds_demo() {
        let summary = crate::seed::seed_demo_if_empty(&config).await?;
        if let Some(summary) = summary {
            println!("{summary}");
        }
    }
    let state = build_state(&config, Arc::new(crate::clock::SystemClock)).await?;
    // An index that lacks whole counties (a new Meilisearch server, a new index uid) is built in the
    // background; searches answer from what it has meanwhile.
    {
        let state = state.clone();
        tokio::spawn(async move {
            if let Err(e) = state
                .fill_empty_index(&SystemPermit::for_the_process())
                .await
            {
                tracing::error!(error = %e.detail(), "filling the search index");
            }
        });
    }
    if config.deadline_scan_minutes > 0 {
        tokio::spawn(scan_deadlines_every(
            state.clone(),
            config.deadline_scan_minutes,
        ));
    }
    let listen = config.listen.clone();
    let listener =
        std::net::TcpListener::bind(&listen).with_context(|| format!("binding {listen}"))?;
    let server = crate::http::server(state, &config, listener)?;
    let graphiql = config.graphql.graphiql;
    let shown = listen.replace("0.0.0.0", "127.0.0.1");
    println!("Fengqiao is serving GraphQL at http://{shown}/graphql");
    if graphiql {
        println!("GraphiQL: http://{shown}/graphiql");
    }
    if config.seeds_demo() {
        println!("{}", crate::seed::SIGN_IN_HINT);
    }
    server.await?;
    Ok(())
}

/// Runs the deadline scanner every `minutes`, for as long as the server runs.
async fn scan_deadlines_every(state: Arc<AppState>, minutes: u64) {
    let system = SystemPermit::for_the_process();
    let mut ticks = tokio::time::interval(std::time::Duration::from_secs(minutes * 60));
    loop {
        ticks.tick().await;
        match state.scan_deadlines(&system).await {
            Ok(report) if report.raised > 0 => {
                tracing::info!(
                    examined = report.examined,
                    raised = report.raised,
                    "deadline scan raised supervision"
                )
            }
            Ok(_) => {}
            Err(e) => tracing::error!(error = %e.detail(), "deadline scan failed"),
        }
    }
}
