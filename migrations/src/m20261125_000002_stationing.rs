//! How units are stationed: duty rosters of rotating units (one per unit, in the roster's text form, see
//! the domain's `roster`), and summonses of on-call units to cases (中心吹哨、部门报到). `open_mark` is 1 while
//! a summons is open and NULL after, so a unique index allows one open summons per case and unit.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000002_stationing"
    }
}

#[derive(Iden)]
enum DutyRoster {
    #[iden = "duty_rosters"]
    Table,
    UnitId,
    CountyId,
    Roster,
    UpdatedBy,
    UpdatedAt,
}

#[derive(Iden)]
enum Summons {
    #[iden = "summonses"]
    Table,
    Id,
    CaseId,
    CountyId,
    UnitId,
    SummonedBy,
    SummonedAt,
    ReportBy,
    ReportedAt,
    ReportedBy,
    Late,
    ReleasedAt,
    ReleasedBy,
    OpenMark,
}

#[derive(Iden)]
enum Case {
    #[iden = "cases"]
    Table,
    Id,
}

#[derive(Iden)]
enum Unit {
    #[iden = "units"]
    Table,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(DutyRoster::Table)
                    .col(big_integer(DutyRoster::UnitId).primary_key())
                    .col(big_integer(DutyRoster::CountyId))
                    .col(text(DutyRoster::Roster))
                    .col(big_integer(DutyRoster::UpdatedBy))
                    .col(timestamp_with_time_zone(DutyRoster::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(DutyRoster::Table, DutyRoster::UnitId)
                            .to(Unit::Table, Unit::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Summons::Table)
                    .col(big_pk_auto(Summons::Id))
                    .col(big_integer(Summons::CaseId))
                    .col(big_integer(Summons::CountyId))
                    .col(big_integer(Summons::UnitId))
                    .col(big_integer(Summons::SummonedBy))
                    .col(timestamp_with_time_zone(Summons::SummonedAt))
                    .col(timestamp_with_time_zone(Summons::ReportBy))
                    .col(timestamp_with_time_zone_null(Summons::ReportedAt))
                    .col(big_integer_null(Summons::ReportedBy))
                    .col(boolean(Summons::Late).default(false))
                    .col(timestamp_with_time_zone_null(Summons::ReleasedAt))
                    .col(big_integer_null(Summons::ReleasedBy))
                    .col(small_integer_null(Summons::OpenMark))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Summons::Table, Summons::CaseId)
                            .to(Case::Table, Case::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(Summons::Table, Summons::UnitId)
                            .to(Unit::Table, Unit::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_summons_open")
                    .table(Summons::Table)
                    .col(Summons::CaseId)
                    .col(Summons::UnitId)
                    .col(Summons::OpenMark)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_summons_unit")
                    .table(Summons::Table)
                    .col(Summons::UnitId)
                    .col(Summons::OpenMark)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Summons::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(DutyRoster::Table).to_owned())
            .await
    }
}
