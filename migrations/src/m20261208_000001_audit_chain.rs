//! The audit trail becomes a chain: every record carries the hash of the record before it in its county
//! (`prev_hash`) and its own (`hash`, over `prev_hash` and the record's fields), so that a record changed,
//! removed or slipped in afterwards — by anyone who can write the table past the server's grants — breaks
//! the chain where it happened (`fengqiao verify-audit`). Records from before this migration keep empty
//! hashes: each county's chain starts at its first record with one. `audit_anchors` keeps, for each pruning
//! of a county's old records, the hash of the last record pruned: the chain goes on from it. Only the
//! database's owner prunes (the server's role may read anchors, never write them; the grants are the
//! store's).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261208_000001_audit_chain"
    }
}

#[derive(Iden)]
enum AuditRecords {
    Table,
    PrevHash,
    Hash,
}

#[derive(Iden)]
enum AuditAnchors {
    Table,
    Id,
    CountyId,
    ThroughId,
    ThroughAt,
    Hash,
    Pruned,
    PrunedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [AuditRecords::PrevHash, AuditRecords::Hash] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditRecords::Table)
                        .add_column(string_len(column, 64).default(""))
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AuditAnchors::Table)
                    .col(big_pk_auto(AuditAnchors::Id))
                    .col(big_integer(AuditAnchors::CountyId))
                    .col(big_integer(AuditAnchors::ThroughId))
                    .col(timestamp_with_time_zone(AuditAnchors::ThroughAt))
                    .col(string_len(AuditAnchors::Hash, 64))
                    .col(big_integer(AuditAnchors::Pruned))
                    .col(timestamp_with_time_zone(AuditAnchors::PrunedAt))
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE audit_anchors ENABLE ROW LEVEL SECURITY;
                     ALTER TABLE audit_anchors FORCE ROW LEVEL SECURITY;
                     CREATE POLICY fengqiao_scope ON audit_anchors
                         USING (fengqiao_scope_system() OR county_id = fengqiao_scope_county())
                         WITH CHECK (fengqiao_scope_system() OR county_id = fengqiao_scope_county());",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditAnchors::Table).to_owned())
            .await?;
        for column in [AuditRecords::Hash, AuditRecords::PrevHash] {
            manager
                .alter_table(
                    Table::alter()
                        .table(AuditRecords::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
