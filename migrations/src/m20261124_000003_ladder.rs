//! The escalation ladder's record on a case: the leader who owns a leader case (领导包案), and the level of
//! the center where the case was finally resolved.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261124_000003_ladder"
    }
}

#[derive(Iden)]
enum Case {
    #[iden = "cases"]
    Table,
    LeaderId,
    ResolvedLevel,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in [
            big_integer_null(Case::LeaderId),
            string_len_null(Case::ResolvedLevel, 16),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Case::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [Case::LeaderId, Case::ResolvedLevel] {
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
