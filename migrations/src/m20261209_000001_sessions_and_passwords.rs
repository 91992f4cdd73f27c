//! Sessions as records, a county's security policy, and password history (GB/T 22239-2019 8.1.4.1).
//!
//! - `sessions`: one row per sign-in (a refresh-token family): who, from where, when it started, when it
//!   was last used, when it ends at the latest, and when and why it ended. The server ends a session that
//!   was idle too long or outlived its absolute lifetime, and an account lists and ends its own.
//! - `security_policies`: per county, the idle timeout and absolute lifetime of sessions, how many sessions
//!   an account may hold at once, and after how many days a password must be changed. A county without a
//!   row has the defaults (the api's `SecurityPolicy::default`).
//! - `users.must_change_password` (set for an account whose password someone else chose: a new account, a
//!   bootstrapped administrator) and `users.password_changed_at` (for expiry; before it was kept, an
//!   account's creation counts).
//! - `password_history`: the hashes of an account's passwords, newest last, so that none of the last five
//!   is chosen again.
//!
//! On PostgreSQL the three tables have row-level security by county like every tenant table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261209_000001_sessions_and_passwords"
    }
}

#[derive(Iden)]
enum Sessions {
    Table,
    Id,
    FamilyId,
    CountyId,
    UserId,
    StartedAt,
    LastSeenAt,
    ExpiresAt,
    EndedAt,
    EndReason,
    ClientAddress,
    UserAgent,
}

#[derive(Iden)]
enum SecurityPolicies {
    Table,
    Id,
    CountyId,
    IdleMinutes,
    AbsoluteHours,
    MaxSessions,
    PasswordMaxAgeDays,
    UpdatedAt,
    UpdatedBy,
}

#[derive(Iden)]
enum Users {
    Table,
    MustChangePassword,
    PasswordChangedAt,
}

#[derive(Iden)]
enum PasswordHistory {
    Table,
    Id,
    CountyId,
    UserId,
    PasswordHash,
    SetAt,
}

const SCOPED: [&str; 3] = ["sessions", "security_policies", "password_history"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(big_pk_auto(Sessions::Id))
                    .col(string_len_uniq(Sessions::FamilyId, 64))
                    .col(big_integer(Sessions::CountyId))
                    .col(big_integer(Sessions::UserId))
                    .col(timestamp_with_time_zone(Sessions::StartedAt))
                    .col(timestamp_with_time_zone(Sessions::LastSeenAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(timestamp_with_time_zone_null(Sessions::EndedAt))
                    .col(string_len(Sessions::EndReason, 32).default(""))
                    .col(string_len_null(Sessions::ClientAddress, 64))
                    .col(string_len(Sessions::UserAgent, 200).default(""))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_user_ended")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .col(Sessions::EndedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SecurityPolicies::Table)
                    .col(big_pk_auto(SecurityPolicies::Id))
                    .col(big_integer_uniq(SecurityPolicies::CountyId))
                    .col(integer(SecurityPolicies::IdleMinutes))
                    .col(integer(SecurityPolicies::AbsoluteHours))
                    .col(integer(SecurityPolicies::MaxSessions))
                    .col(integer(SecurityPolicies::PasswordMaxAgeDays))
                    .col(timestamp_with_time_zone(SecurityPolicies::UpdatedAt))
                    .col(big_integer_null(SecurityPolicies::UpdatedBy))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(boolean(Users::MustChangePassword).default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(timestamp_with_time_zone_null(Users::PasswordChangedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PasswordHistory::Table)
                    .col(big_pk_auto(PasswordHistory::Id))
                    .col(big_integer(PasswordHistory::CountyId))
                    .col(big_integer(PasswordHistory::UserId))
                    .col(text(PasswordHistory::PasswordHash))
                    .col(timestamp_with_time_zone(PasswordHistory::SetAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("password_history_user")
                    .table(PasswordHistory::Table)
                    .col(PasswordHistory::UserId)
                    .col(PasswordHistory::Id)
                    .to_owned(),
            )
            .await?;
        if manager.get_database_backend() == sea_orm::DatabaseBackend::Postgres {
            let db = manager.get_connection();
            for table in SCOPED {
                db.execute_unprepared(&format!(
                    "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
                     ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
                     CREATE POLICY fengqiao_scope ON {table}
                         USING (fengqiao_scope_system() OR county_id = fengqiao_scope_county())
                         WITH CHECK (fengqiao_scope_system() OR county_id = fengqiao_scope_county());"
                ))
                .await?;
            }
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PasswordHistory::Table).to_owned())
            .await?;
        for column in [Users::PasswordChangedAt, Users::MustChangePassword] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(SecurityPolicies::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Sessions::Table).to_owned())
            .await?;
        Ok(())
    }
}
