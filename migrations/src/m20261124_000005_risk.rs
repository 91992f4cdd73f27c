//! Each case's risk grade (预警) and the reasons for it, recomputed on every event.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000005_risk"
    }
}

#[derive(Iden)]
enum Case {
    #[iden = "cases"]
    Table,
    RiskLevel,
    RiskReasons,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let columns = [
            string_len(Case::RiskLevel, 8).default("green").to_owned(),
            text(Case::RiskReasons).default("[]").to_owned(),
        ];
        for mut column in columns {
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
                    .name("ix_case_risk")
                    .table(Case::Table)
                    .col(Alias::new("county_id"))
                    .col(Case::RiskLevel)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("ix_case_risk")
                    .table(Case::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Case::RiskLevel, Case::RiskReasons] {
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
