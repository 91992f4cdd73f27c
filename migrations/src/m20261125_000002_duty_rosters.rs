//! Duty rosters of rotating units: one per unit, in the roster's text form (see the domain's `roster`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000002_duty_rosters"
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
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(DutyRoster::Table).to_owned())
            .await
    }
}
