//! Persistence with sea-orm on PostgreSQL or SQLite. Methods that change tenant data take a `&Permit`
//! from the authorizer; reads are scoped by the caller from the principal's `CaseScope`.

pub mod audit;
pub mod calendar;
mod case_record;
pub mod cases;
mod codes;
pub mod committed;
pub mod entities;
mod passwords;
pub mod policies;
mod policy_feed;
pub mod rollups;
pub mod rosters;
pub mod scope;
pub mod search;
pub mod second_factors;
pub mod sessions;
pub mod signin;
pub mod supervision;
pub mod tenants;
pub mod tokens;
pub mod users;

use std::future::Future;
use std::panic::Location;
use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection,
    DatabaseTransaction, DbErr, ExecResult, IsolationLevel, QueryResult, SqlErr, Statement,
    TransactionTrait,
};
use sea_orm_migration::MigratorTrait;

use crate::error::ApiError;

pub use codes::CodeAllocator;

pub struct Store {
    db: DatabaseConnection,
    /// Statements run on this store's connections since it connected (reads, writes, transactions'
    /// scope settings): what the batching of GraphQL child fields is measured by.
    statements: std::sync::Arc<std::sync::atomic::AtomicU64>,
    codes: CodeAllocator,
    /// Notified after a transaction that wrote to the search outbox commits: wakes the search worker.
    pub(crate) outbox: std::sync::Arc<tokio::sync::Notify>,
    /// How many times the search worker was woken (`wake_search_worker`).
    search_wake_ups: std::sync::atomic::AtomicU64,
}

impl Store {
    /// Connects to `url` (sqlite: or postgres://). SQLite runs in WAL mode with foreign keys on.
    pub async fn connect(url: &str, max_connections: u32) -> Result<Store, DbErr> {
        let sqlite = url.starts_with("sqlite:");
        let mut options = ConnectOptions::new(url.to_owned());
        options
            .max_connections(if sqlite {
                max_connections.min(8)
            } else {
                max_connections
            })
            .min_connections(1)
            .connect_timeout(Duration::from_secs(10))
            .acquire_timeout(Duration::from_secs(10))
            .sqlx_logging(false);
        let mut db = Database::connect(options).await?;
        let statements = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
        {
            let statements = statements.clone();
            db.set_metric_callback(move |_| {
                statements.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            });
        }
        if sqlite {
            for pragma in [
                "PRAGMA journal_mode=WAL",
                "PRAGMA foreign_keys=ON",
                "PRAGMA busy_timeout=10000",
                "PRAGMA synchronous=NORMAL",
            ] {
                db.execute_unprepared(pragma).await?;
            }
        }
        Ok(Store {
            db,
            statements,
            codes: CodeAllocator::new(64),
            outbox: std::sync::Arc::new(tokio::sync::Notify::new()),
            search_wake_ups: std::sync::atomic::AtomicU64::new(0),
        })
    }

    /// How many statements this store has run since it connected.
    pub fn statements_run(&self) -> u64 {
        self.statements.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// `sqlite` or `postgres`.
    pub fn backend_name(&self) -> &'static str {
        match self.backend() {
            DatabaseBackend::Postgres => "postgres",
            _ => "sqlite",
        }
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// Begins a transaction in the current task's scope (`scope::current`).
    #[track_caller]
    pub fn begin(&self) -> impl Future<Output = Result<DatabaseTransaction, DbErr>> + Send + '_ {
        self.begin_at(Location::caller())
    }

    /// `begin` for the store call at `at`, which the refusal of an unscoped transaction names.
    async fn begin_at(&self, at: &'static Location<'static>) -> Result<DatabaseTransaction, DbErr> {
        let scope = scope::required(at)?;
        let txn = self.db.begin().await?;
        scope::apply(&txn, &scope).await?;
        Ok(txn)
    }

    /// A transaction at `isolation` in the current task's scope.
    #[track_caller]
    pub(crate) fn begin_isolated(
        &self,
        isolation: IsolationLevel,
    ) -> impl Future<Output = Result<DatabaseTransaction, DbErr>> + Send + '_ {
        let at = Location::caller();
        async move {
            let scope = scope::required(at)?;
            let txn = self.db.begin_with_config(Some(isolation), None).await?;
            scope::apply(&txn, &scope).await?;
            Ok(txn)
        }
    }

    /// A connection for reads in the current task's scope: on PostgreSQL a transaction that is rolled back
    /// when dropped (the scope is a transaction's setting), on SQLite the pool.
    /// Refused, as `begin` is, outside any scope: on SQLite too, where nothing in the database would stop it.
    #[track_caller]
    pub(crate) fn read(&self) -> impl Future<Output = Result<Db<'_>, DbErr>> + Send + '_ {
        let at = Location::caller();
        async move {
            Ok(match self.backend() {
                DatabaseBackend::Postgres => Db::Scoped(self.begin_at(at).await?),
                _ => {
                    scope::required(at)?;
                    Db::Pool(&self.db)
                }
            })
        }
    }

    /// Applies pending migrations as the system (they may rewrite rows of every county). On PostgreSQL an
    /// advisory lock makes concurrent starts take turns, and when `app_role` is given the same transaction
    /// grants that role what the server needs on every table: reading and writing rows, never owning them.
    pub async fn migrate(&self, app_role: Option<&str>) -> Result<(), DbErr> {
        const LOCK: i64 = 0x6665_6e67_7169_616f; // "fengqiao"
        if self.backend() != DatabaseBackend::Postgres {
            return fengqiao_migrations::Migrator::up(&self.db, None).await;
        }
        // PostgreSQL runs DDL in transactions: the migration, its grants and its transaction-scoped lock
        // commit together.
        let txn = scope::as_system(self.begin()).await?;
        txn.execute_raw(Statement::from_sql_and_values(
            DatabaseBackend::Postgres,
            "SELECT pg_advisory_xact_lock($1)",
            [LOCK.into()],
        ))
        .await?;
        let migrated = async {
            fengqiao_migrations::Migrator::up(&txn, None).await?;
            if let Some(role) = app_role {
                let role = quote_ident(role);
                txn.execute_unprepared(&format!(
                    "GRANT USAGE ON SCHEMA public TO {role};
                     GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
                     REVOKE INSERT, UPDATE, DELETE ON seaql_migrations FROM {role};
                     REVOKE UPDATE, DELETE, TRUNCATE ON audit_records FROM {role};
                     REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON audit_anchors FROM {role};
                     GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {role};"
                ))
                .await?;
            }
            Ok::<(), DbErr>(())
        }
        .await;
        match migrated {
            Ok(()) => txn.commit().await,
            Err(e) => {
                txn.rollback().await?;
                Err(e)
            }
        }
    }

    /// The database role this store connects as.
    pub async fn role(&self) -> Result<String, DbErr> {
        let row = self
            .db
            .query_one_raw(Statement::from_string(
                self.backend(),
                "SELECT current_user",
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("SELECT current_user returned no row".into()))?;
        row.try_get_by_index(0)
    }

    /// On PostgreSQL, why row-level security would not hold for this store's role, if it would not: the
    /// role is a superuser or may bypass row-level security, owns (or may act as the owner of) a table, or
    /// a tenant table (one with `county_id`) lacks forced row-level security. `None` when it holds, and
    /// always on SQLite.
    pub async fn row_security_gap(&self) -> Result<Option<String>, DbErr> {
        if self.backend() != DatabaseBackend::Postgres {
            return Ok(None);
        }
        let strings = |sql: &str| {
            let stmt = Statement::from_string(DatabaseBackend::Postgres, sql);
            async move {
                self.db
                    .query_all_raw(stmt)
                    .await?
                    .iter()
                    .map(|r| r.try_get_by_index::<String>(0))
                    .collect::<Result<Vec<String>, DbErr>>()
            }
        };
        let bypass = strings(
            "SELECT CASE WHEN rolsuper THEN 'is a superuser' ELSE 'has BYPASSRLS' END \
             FROM pg_roles WHERE rolname = current_user AND (rolsuper OR rolbypassrls)",
        )
        .await?;
        let role = self.role().await?;
        if let Some(why) = bypass.first() {
            return Ok(Some(format!(
                "the database role {role:?} {why}, so row-level security would not apply to it"
            )));
        }
        let owned = strings(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
             AND pg_has_role(current_user, c.relowner, 'MEMBER') ORDER BY 1",
        )
        .await?;
        if !owned.is_empty() {
            return Ok(Some(format!(
                "the database role {role:?} owns (or is a member of the owner of) {}: it could turn \
                 row-level security off; let another role own the schema (database_owner_url)",
                owned.join(", ")
            )));
        }
        let unguarded = strings(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p') \
             AND NOT (c.relrowsecurity AND c.relforcerowsecurity) \
             AND EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid \
                         AND a.attname = 'county_id' AND NOT a.attisdropped) ORDER BY 1",
        )
        .await?;
        if !unguarded.is_empty() {
            return Ok(Some(format!(
                "tenant tables without forced row-level security: {} (are the migrations applied?)",
                unguarded.join(", ")
            )));
        }
        let guarded = strings(
            "SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
             WHERE n.nspname = current_schema() AND c.relname = 'cases' AND c.relforcerowsecurity",
        )
        .await?;
        if guarded.is_empty() {
            return Ok(Some(
                "the schema has no guarded cases table (are the migrations applied?)".into(),
            ));
        }
        Ok(None)
    }

    /// Closes the pool's connections.
    pub async fn close(self) {
        if let Err(e) = self.db.close().await {
            tracing::warn!(error = %e, "closing a database pool");
        }
    }

    pub async fn ping(&self) -> Result<(), DbErr> {
        self.db.ping().await
    }
}

/// What store methods read through: see `Store::read`.
pub(crate) enum Db<'a> {
    Pool(&'a DatabaseConnection),
    Scoped(DatabaseTransaction),
}

#[async_trait::async_trait]
impl ConnectionTrait for Db<'_> {
    fn get_database_backend(&self) -> DatabaseBackend {
        match self {
            Db::Pool(db) => db.get_database_backend(),
            Db::Scoped(txn) => txn.get_database_backend(),
        }
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        match self {
            Db::Pool(db) => db.execute_raw(stmt).await,
            Db::Scoped(txn) => txn.execute_raw(stmt).await,
        }
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        match self {
            Db::Pool(db) => db.execute_unprepared(sql).await,
            Db::Scoped(txn) => txn.execute_unprepared(sql).await,
        }
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        match self {
            Db::Pool(db) => db.query_one_raw(stmt).await,
            Db::Scoped(txn) => txn.query_one_raw(stmt).await,
        }
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        match self {
            Db::Pool(db) => db.query_all_raw(stmt).await,
            Db::Scoped(txn) => txn.query_all_raw(stmt).await,
        }
    }

    fn support_returning(&self) -> bool {
        match self {
            Db::Pool(db) => db.support_returning(),
            Db::Scoped(txn) => txn.support_returning(),
        }
    }
}

/// Maps a unique-constraint violation to `BAD_USER_INPUT` on `field`; other errors stay internal.
pub(crate) fn taken(field: &'static str, message: &'static str) -> impl FnOnce(DbErr) -> ApiError {
    move |e| {
        if is_unique_violation(&e) {
            ApiError::bad_input(field, message)
        } else {
            e.into()
        }
    }
}

/// Whether a database error is a unique-constraint violation.
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}

/// `name` as a PostgreSQL identifier.
fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}
