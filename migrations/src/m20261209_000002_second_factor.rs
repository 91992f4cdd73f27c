//! A second factor for signing in (GB/T 22239-2019 8.1.4.1 d): `second_factors` holds an account's TOTP
//! secret (sealed by the personal-data key, as ID numbers are), when it was confirmed by a first code, and
//! the last step a code was accepted for (so that no code works twice). `security_policies.require_totp`
//! makes it required for the administrators, auditors and supervisors of a county.
//!
//! On PostgreSQL the table has row-level security by county like every tenant table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261209_000002_second_factor"
    }
}

#[derive(Iden)]
enum SecondFactors {
    Table,
    Id,
    CountyId,
    UserId,
    SecretSealed,
    CreatedAt,
    ConfirmedAt,
    LastStep,
}

#[derive(Iden)]
enum SecurityPolicies {
    Table,
    RequireTotp,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SecondFactors::Table)
                    .col(big_pk_auto(SecondFactors::Id))
                    .col(big_integer(SecondFactors::CountyId))
                    .col(big_integer_uniq(SecondFactors::UserId))
                    .col(text(SecondFactors::SecretSealed))
                    .col(timestamp_with_time_zone(SecondFactors::CreatedAt))
                    .col(timestamp_with_time_zone_null(SecondFactors::ConfirmedAt))
                    .col(big_integer_null(SecondFactors::LastStep))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SecurityPolicies::Table)
                    .add_column(boolean(SecurityPolicies::RequireTotp).default(false))
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared(
                    "ALTER TABLE second_factors ENABLE ROW LEVEL SECURITY;
                     ALTER TABLE second_factors FORCE ROW LEVEL SECURITY;
                     CREATE POLICY fengqiao_scope ON second_factors
                         USING (fengqiao_scope_system() OR county_id = fengqiao_scope_county())
                         WITH CHECK (fengqiao_scope_system() OR county_id = fengqiao_scope_county());",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(SecurityPolicies::Table)
                    .drop_column(SecurityPolicies::RequireTotp)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(SecondFactors::Table).to_owned())
            .await?;
        Ok(())
    }
}
