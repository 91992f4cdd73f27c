//! Fengqiao's schema history. Each migration is frozen once released: it declares its own `Iden` enums and
//! never imports the api's entities, so later model changes cannot rewrite history. Every migration goes
//! up, down and up again on SQLite and PostgreSQL.

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_initial;
mod m20261124_000001_legal_clocks;
mod m20261124_000002_supervision_orders;
mod m20261124_000003_ladder;
mod m20261124_000004_clock_policies;
mod m20261124_000005_risk;
mod m20261125_000001_rollups;
mod m20261125_000002_stationing;
mod m20261126_000001_row_security;
mod m20261126_000002_grid_codes;
mod m20261127_000001_search_outbox;
mod m20261206_000001_sign_in_defences;
mod m20261207_000001_policy_changes;
mod m20261208_000001_audit_chain;
mod m20261209_000001_sessions_and_passwords;
mod m20261209_000002_second_factor;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_initial::Migration),
            Box::new(m20261124_000001_legal_clocks::Migration),
            Box::new(m20261124_000002_supervision_orders::Migration),
            Box::new(m20261124_000003_ladder::Migration),
            Box::new(m20261124_000004_clock_policies::Migration),
            Box::new(m20261124_000005_risk::Migration),
            Box::new(m20261125_000001_rollups::Migration),
            Box::new(m20261125_000002_stationing::Migration),
            Box::new(m20261126_000001_row_security::Migration),
            Box::new(m20261126_000002_grid_codes::Migration),
            Box::new(m20261127_000001_search_outbox::Migration),
            Box::new(m20261206_000001_sign_in_defences::Migration),
            Box::new(m20261207_000001_policy_changes::Migration),
            Box::new(m20261208_000001_audit_chain::Migration),
            Box::new(m20261209_000001_sessions_and_passwords::Migration),
            Box::new(m20261209_000002_second_factor::Migration),
        ]
    }
}
