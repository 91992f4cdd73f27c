//! Every migration goes up, down and up again, on SQLite and on PostgreSQL.

use fengqiao_migrations::Migrator;
use sea_orm::{ConnectionTrait, Database, Statement};
use sea_orm_migration::MigratorTrait;

async fn round_trip(url: &str) {
    let db = Database::connect(url).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    let tables = count_tables(&db).await;
    assert!(tables >= 12, "{tables} tables after up");
    Migrator::down(&db, None).await.unwrap();
    assert_eq!(count_tables(&db).await, 0, "tables left after down");
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(count_tables(&db).await, tables);
    assert!(
        Migrator::get_pending_migrations(&db)
            .await
            .unwrap()
            .is_empty()
    );
}

async fn count_tables(db: &sea_orm::DatabaseConnection) -> i64 {
    let backend = db.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Sqlite => {
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'seaql_migrations'"
        }
        _ => {
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = current_schema() AND table_name <> 'seaql_migrations'"
        }
    };
    let row = db
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .unwrap()
        .unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[tokio::test]
async fn migrations_go_up_down_and_up_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    round_trip(&format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("m.db").display()
    ))
    .await;
}

#[tokio::test]
async fn migrations_go_up_down_and_up_on_postgres() {
    let Ok(url) = std::env::var("TEST_DATABASE_URL") else {
        eprintln!("TEST_DATABASE_URL is not set: PostgreSQL migration round trip skipped");
        return;
    };
    // A database of its own, so that going down does not disturb tests running beside it.
    let admin = Database::connect(&url).await.unwrap();
    let name = format!("fq_migrate_{}", std::process::id());
    let backend = admin.get_database_backend();
    admin
        .execute_raw(Statement::from_string(
            backend,
            format!("DROP DATABASE IF EXISTS {name}"),
        ))
        .await
        .unwrap();
    admin
        .execute_raw(Statement::from_string(
            backend,
            format!("CREATE DATABASE {name}"),
        ))
        .await
        .unwrap();
    let (base, _) = url.rsplit_once('/').unwrap();
    round_trip(&format!("{base}/{name}")).await;
    admin
        .execute_raw(Statement::from_string(
            backend,
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        ))
        .await
        .unwrap();
}
