//! Grids (网格) under villages: a grid's code is its village's 12 digits and 3 of its own, so tenant codes
//! grow to 15 characters. SQLite does not enforce a text length: there the migration does nothing.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000002_grid_codes"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return Ok(());
        }
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE tenants ALTER COLUMN code TYPE varchar(15)")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return Ok(());
        }
        // Fails while a grid exists: going down would cut its code.
        manager
            .get_connection()
            .execute_unprepared("ALTER TABLE tenants ALTER COLUMN code TYPE varchar(12)")
            .await?;
        Ok(())
    }
}
