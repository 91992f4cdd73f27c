//! County rollups: counters per tenant, month, breakdown and metric, kept in the same transaction as
//! each case change; the two moments the counters need that cases did not keep (rejection and
//! follow-up), backfilled from the timeline; and each case's overdue mark, set by the deadline scanner
//! and by changes, which the overdue gauge counts; and the lead unit of a supervision order's case on
//! the order, so that open orders are counted by unit without a join.
//!
//! A counter is split over a few stripes (chosen by case id) so that concurrent registrations in one
//! county do not queue on the county's row; readers sum the stripes.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261125_000001_rollups"
    }
}

#[derive(Iden)]
enum Case {
    #[iden = "cases"]
    Table,
    RejectedAt,
    FollowedUpAt,
    Overdue,
}

#[derive(Iden)]
enum SupervisionOrder {
    #[iden = "supervision_orders"]
    Table,
    LeadUnitId,
}

#[derive(Iden)]
enum RollupCounter {
    #[iden = "rollup_counters"]
    Table,
    TenantId,
    ParentId,
    CountyId,
    Month,
    Dim,
    Metric,
    Stripe,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for mut column in [
            timestamp_with_time_zone_null(Case::RejectedAt),
            timestamp_with_time_zone_null(Case::FollowedUpAt),
            boolean(Case::Overdue).default(false).to_owned(),
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
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE cases SET rejected_at = (SELECT MAX(e.at) FROM case_events e \
             WHERE e.case_id = cases.id AND e.command = 'reject') WHERE status = 'rejected'",
        )
        .await?;
        db.execute_unprepared(
            "UPDATE cases SET followed_up_at = (SELECT MAX(e.at) FROM case_events e \
             WHERE e.case_id = cases.id AND e.command = 'follow_up') \
             WHERE status IN ('followed_up', 'closed')",
        )
        .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SupervisionOrder::Table)
                    .add_column(big_integer_null(SupervisionOrder::LeadUnitId))
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(
            "UPDATE supervision_orders SET lead_unit_id = \
             (SELECT c.lead_unit_id FROM cases c WHERE c.id = supervision_orders.case_id)",
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(RollupCounter::Table)
                    .col(big_integer(RollupCounter::TenantId))
                    .col(big_integer_null(RollupCounter::ParentId))
                    .col(big_integer(RollupCounter::CountyId))
                    .col(integer(RollupCounter::Month))
                    .col(string_len(RollupCounter::Dim, 48))
                    .col(string_len(RollupCounter::Metric, 32))
                    .col(small_integer(RollupCounter::Stripe))
                    .col(big_integer(RollupCounter::Value))
                    .primary_key(
                        Index::create()
                            .col(RollupCounter::TenantId)
                            .col(RollupCounter::Month)
                            .col(RollupCounter::Dim)
                            .col(RollupCounter::Metric)
                            .col(RollupCounter::Stripe),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_rollup_parent")
                    .table(RollupCounter::Table)
                    .col(RollupCounter::ParentId)
                    .col(RollupCounter::Dim)
                    .col(RollupCounter::Month)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_rollup_county")
                    .table(RollupCounter::Table)
                    .col(RollupCounter::CountyId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RollupCounter::Table).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(SupervisionOrder::Table)
                    .drop_column(SupervisionOrder::LeadUnitId)
                    .to_owned(),
            )
            .await?;
        for column in [Case::RejectedAt, Case::FollowedUpAt, Case::Overdue] {
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
