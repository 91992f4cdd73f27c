//! Clock policies per tenant: a center may set its own time limits for a case kind (and complexity),
//! which apply to its subtree in place of the defaults.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000004_clock_policies"
    }
}

#[derive(Iden)]
enum ClockPolicy {
    #[iden = "clock_policies"]
    Table,
    Id,
    CountyId,
    TenantId,
    Kind,
    Complexity,
    AcceptWithin,
    ConcludeWithin,
    Extension,
    FollowUpWithin,
    UpdatedBy,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ClockPolicy::Table)
                    .col(big_pk_auto(ClockPolicy::Id))
                    .col(big_integer(ClockPolicy::CountyId))
                    .col(big_integer(ClockPolicy::TenantId))
                    .col(string_len(ClockPolicy::Kind, 32))
                    .col(string_len(ClockPolicy::Complexity, 16))
                    .col(string_len(ClockPolicy::AcceptWithin, 8))
                    .col(string_len(ClockPolicy::ConcludeWithin, 8))
                    .col(string_len_null(ClockPolicy::Extension, 8))
                    .col(string_len(ClockPolicy::FollowUpWithin, 8))
                    .col(big_integer(ClockPolicy::UpdatedBy))
                    .col(timestamp_with_time_zone(ClockPolicy::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(ClockPolicy::Table, ClockPolicy::TenantId)
                            .to(Alias::new("tenants"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_clock_policy")
                    .table(ClockPolicy::Table)
                    .col(ClockPolicy::TenantId)
                    .col(ClockPolicy::Kind)
                    .col(ClockPolicy::Complexity)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ClockPolicy::Table).to_owned())
            .await
    }
}
