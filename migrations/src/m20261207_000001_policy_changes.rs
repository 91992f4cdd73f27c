//! The policy change feed: a row for every change to who may do what or to the rules every server holds in
//! memory (a grant, a unit membership, a clock policy, a calendar notice, a new county). Servers read the
//! rows written after the last they applied, every few seconds, so a change made by another process (a
//! command-line tool beside a running server, a replica without Redis) reaches every server; with Redis the
//! bus brings it at once and the feed makes sure. Changes are not tenant data: the table has no county.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261207_000001_policy_changes"
    }
}

#[derive(Iden)]
enum PolicyChanges {
    #[iden = "policy_changes"]
    Table,
    Id,
    Message,
    At,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PolicyChanges::Table)
                    .col(big_pk_auto(PolicyChanges::Id))
                    .col(text(PolicyChanges::Message))
                    .col(timestamp_with_time_zone(PolicyChanges::At))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PolicyChanges::Table).to_owned())
            .await
    }
}
