//! Supervision orders (督办): issued on a case by a supervising center, or raised by the deadline scanner,
//! at one of four levels, and answered by the center handling the case. A scanner-raised order carries the
//! trigger that raised it; `(case_id, trigger)` is unique, so however many scanners run, each trigger
//! raises one order.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000002_supervision_orders"
    }
}

#[derive(Iden)]
enum SupervisionOrder {
    #[iden = "supervision_orders"]
    Table,
    Id,
    CaseId,
    CountyId,
    TownshipId,
    VillageId,
    TargetTenantId,
    IssuerTenantId,
    IssuedBy,
    Level,
    Reason,
    Trigger,
    RespondBy,
    Status,
    Response,
    RespondedBy,
    RespondedAt,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SupervisionOrder::Table)
                    .col(big_pk_auto(SupervisionOrder::Id))
                    .col(big_integer(SupervisionOrder::CaseId))
                    .col(big_integer(SupervisionOrder::CountyId))
                    .col(big_integer_null(SupervisionOrder::TownshipId))
                    .col(big_integer_null(SupervisionOrder::VillageId))
                    .col(big_integer(SupervisionOrder::TargetTenantId))
                    .col(big_integer(SupervisionOrder::IssuerTenantId))
                    .col(big_integer_null(SupervisionOrder::IssuedBy))
                    .col(string_len(SupervisionOrder::Level, 16))
                    .col(text(SupervisionOrder::Reason))
                    .col(string_len_null(SupervisionOrder::Trigger, 64))
                    .col(date(SupervisionOrder::RespondBy))
                    .col(string_len(SupervisionOrder::Status, 16))
                    .col(text_null(SupervisionOrder::Response))
                    .col(big_integer_null(SupervisionOrder::RespondedBy))
                    .col(timestamp_with_time_zone_null(SupervisionOrder::RespondedAt))
                    .col(timestamp_with_time_zone(SupervisionOrder::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(SupervisionOrder::Table, SupervisionOrder::CaseId)
                            .to(Alias::new("cases"), Alias::new("id"))
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_supervision_trigger")
                    .table(SupervisionOrder::Table)
                    .col(SupervisionOrder::CaseId)
                    .col(SupervisionOrder::Trigger)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_supervision_target")
                    .table(SupervisionOrder::Table)
                    .col(SupervisionOrder::CountyId)
                    .col(SupervisionOrder::Status)
                    .col(SupervisionOrder::RespondBy)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(SupervisionOrder::Table).to_owned())
            .await
    }
}
