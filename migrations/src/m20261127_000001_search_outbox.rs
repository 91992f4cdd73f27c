//! The search outbox: a row for every change of a case, written in the same transaction as the change, so
//! the search index learns of every case the store holds. A worker claims open rows (`done_at` NULL),
//! re-reads each case as it stands and upserts or deletes it in the index, then marks the rows done; done
//! rows are kept a while so that a rebuild of the index can replay what changed while it read the store.
//! On PostgreSQL the table has the same row-level security as every tenant table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261127_000001_search_outbox"
    }
}

#[derive(Iden)]
enum SearchOutbox {
    #[iden = "search_outbox"]
    Table,
    Id,
    CaseId,
    CountyId,
    At,
    DoneAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SearchOutbox::Table)
                    .col(big_pk_auto(SearchOutbox::Id))
                    .col(big_integer(SearchOutbox::CaseId))
                    .col(big_integer(SearchOutbox::CountyId))
                    .col(timestamp_with_time_zone(SearchOutbox::At))
                    .col(timestamp_with_time_zone_null(SearchOutbox::DoneAt))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Open rows in order: what the worker claims. A partial index stays as small as the backlog.
        db.execute_unprepared(
            "CREATE INDEX search_outbox_open ON search_outbox (id) WHERE done_at IS NULL",
        )
        .await?;
        manager
            .create_index(
                Index::create()
                    .name("search_outbox_at")
                    .table(SearchOutbox::Table)
                    .col(SearchOutbox::At)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            db.execute_unprepared(
                "ALTER TABLE search_outbox ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE search_outbox FORCE ROW LEVEL SECURITY;
                 CREATE POLICY fengqiao_scope ON search_outbox
                     USING (fengqiao_scope_system() OR county_id = fengqiao_scope_county())
                     WITH CHECK (fengqiao_scope_system() OR county_id = fengqiao_scope_county());",
            )
            .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SearchOutbox::Table).to_owned())
            .await
    }
}
