//! The audit trail becomes a chain: every record carries the hash of the record before it in its county
//! (`prev_hash`) and its own (`hash`, over `prev_hash` and the record's fields), so that a record changed,
//! removed or slipped in afterwards — by anyone who can write the table past the server's grants — breaks
//! the chain where it happened (`fengqiao verify-audit`). Records from before this migration keep empty
//! hashes: each county's chain starts at its first record with one.

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
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
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
