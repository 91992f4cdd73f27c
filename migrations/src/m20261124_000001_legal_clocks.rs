//! Legal clocks: each case's complexity and its accept-by, conclude-by and follow-up-by dates, whether
//! its conclusion was extended, and the working-day calendar notices an administrator loaded.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000001_legal_clocks"
    }
}

#[derive(Iden)]
enum Case {
    #[iden = "cases"]
    Table,
    Complexity,
    AcceptBy,
    ConcludeBy,
    FollowUpBy,
    Extended,
}

#[derive(Iden)]
enum CalendarNotice {
    #[iden = "calendar_notices"]
    Table,
    Year,
    Notice,
    LoadedAt,
}

fn columns() -> Vec<ColumnDef> {
    vec![
        string_len(Case::Complexity, 16)
            .default("general")
            .to_owned(),
        date_null(Case::AcceptBy),
        date_null(Case::ConcludeBy),
        date_null(Case::FollowUpBy),
        boolean(Case::Extended).default(false).to_owned(),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one column at a time.
        for mut column in columns() {
            manager
                .alter_table(
                    Table::alter()
                        .table(Case::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("ix_case_conclude_by")
                    .table(Case::Table)
                    .col(Alias::new("county_id"))
                    .col(Case::ConcludeBy)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(CalendarNotice::Table)
                    .col(integer(CalendarNotice::Year).primary_key())
                    .col(text(CalendarNotice::Notice))
                    .col(timestamp_with_time_zone(CalendarNotice::LoadedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CalendarNotice::Table).to_owned())
            .await?;
        manager
            .drop_index(
                Index::drop()
                    .name("ix_case_conclude_by")
                    .table(Case::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Case::Complexity,
            Case::AcceptBy,
            Case::ConcludeBy,
            Case::FollowUpBy,
            Case::Extended,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Case::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
