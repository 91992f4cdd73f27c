//! Sign-in defences and the first audit records. Users get a count of consecutive failed passwords and the
//! time their account is locked until. Cases get their title and description with residents' personal
//! data masked (party names, ID numbers, phones), written with the case, for roles that may not reveal.
//! `audit_records` holds what is done with personal data outside a case's timeline (exact look-ups by ID
//! number or phone); on PostgreSQL it has row-level security by county like every tenant table, and the
//! server's role may only insert and read it (the grants are the store's).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261206_000001_sign_in_defences"
    }
}

#[derive(Iden)]
enum Users {
    Table,
    FailedLogins,
    LockedUntil,
}

#[derive(Iden)]
enum Cases {
    Table,
    TitleMasked,
    DescriptionMasked,
}

#[derive(Iden)]
enum AuditRecords {
    Table,
    Id,
    At,
    CountyId,
    TenantId,
    UserId,
    ClientAddress,
    Action,
    Object,
    Outcome,
    Reason,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(integer(Users::FailedLogins).default(0))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(timestamp_with_time_zone_null(Users::LockedUntil))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .add_column(text_null(Cases::TitleMasked))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Cases::Table)
                    .add_column(text_null(Cases::DescriptionMasked))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(AuditRecords::Table)
                    .col(big_pk_auto(AuditRecords::Id))
                    .col(timestamp_with_time_zone(AuditRecords::At))
                    .col(big_integer(AuditRecords::CountyId))
                    .col(big_integer_null(AuditRecords::TenantId))
                    .col(big_integer_null(AuditRecords::UserId))
                    .col(string_len_null(AuditRecords::ClientAddress, 64))
                    .col(string_len(AuditRecords::Action, 64))
                    .col(text(AuditRecords::Object))
                    .col(string_len(AuditRecords::Outcome, 32))
                    .col(text(AuditRecords::Reason))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("audit_records_county_at")
                    .table(AuditRecords::Table)
                    .col(AuditRecords::CountyId)
                    .col(AuditRecords::At)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE audit_records ENABLE ROW LEVEL SECURITY;
                     ALTER TABLE audit_records FORCE ROW LEVEL SECURITY;
                     CREATE POLICY fengqiao_scope ON audit_records
                         USING (fengqiao_scope_system() OR county_id = fengqiao_scope_county())
                         WITH CHECK (fengqiao_scope_system() OR county_id = fengqiao_scope_county());",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuditRecords::Table).to_owned())
            .await?;
        for column in [Cases::DescriptionMasked, Cases::TitleMasked] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Cases::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for column in [Users::LockedUntil, Users::FailedLogins] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
