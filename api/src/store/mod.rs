//! Persistence with sea-orm on PostgreSQL or SQLite. Methods that change tenant data take a `&Permit`
//! from the authorizer; reads are scoped by the caller from the principal's `CaseScope`.

pub mod calendar;
pub mod cases;
mod codes;
pub mod entities;
pub mod policies;
pub mod rollups;
pub mod rosters;
pub mod supervision;
pub mod tenants;
pub mod tokens;
pub mod users;

use std::time::Duration;

use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, DbErr, SqlErr,
    Statement,
};
use sea_orm_migration::MigratorTrait;

use crate::error::ApiError;

pub use codes::CodeAllocator;

pub struct Store {
    db: DatabaseConnection,
    codes: CodeAllocator,
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
        let db = Database::connect(options).await?;
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
            codes: CodeAllocator::new(64),
        })
    }

    pub fn db(&self) -> &DatabaseConnection {
        &self.db
    }

    pub fn backend(&self) -> DatabaseBackend {
        self.db.get_database_backend()
    }

    /// Applies pending migrations. On PostgreSQL an advisory lock makes concurrent starts take turns.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        const LOCK: i64 = 0x6665_6e67_7169_616f; // "fengqiao"
        if self.backend() == DatabaseBackend::Postgres {
            // PostgreSQL runs DDL in transactions: the migration and its transaction-scoped lock commit together.
            let txn = sea_orm::TransactionTrait::begin(&self.db).await?;
            txn.execute_raw(Statement::from_sql_and_values(
                DatabaseBackend::Postgres,
                "SELECT pg_advisory_xact_lock($1)",
                [LOCK.into()],
            ))
            .await?;
            match fengqiao_migrations::Migrator::up(&txn, None).await {
                Ok(()) => txn.commit().await,
                Err(e) => {
                    txn.rollback().await?;
                    Err(e)
                }
            }
        } else {
            fengqiao_migrations::Migrator::up(&self.db, None).await
        }
    }

    pub async fn ping(&self) -> Result<(), DbErr> {
        self.db.ping().await
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
