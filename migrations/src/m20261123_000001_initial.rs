//! The foundation: tenants, users, role grants, units and members, cases with parties, co-units and an
//! append-only event log, idempotency keys, refresh tokens and case-code counters.
//!
//! Every tenant-owned table carries `county_id` (the distribution column) and, where rows are filtered by
//! subtree, the ancestry columns `township_id` and `village_id`, so a subtree is one equality.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261123_000001_initial"
    }
}

#[derive(Iden)]
enum Tenant {
    #[iden = "tenants"]
    Table,
    Id,
    ParentId,
    Level,
    Code,
    Name,
    CountyId,
    TownshipId,
    VillageId,
    GridId,
    CreatedAt,
}

#[derive(Iden)]
enum AppUser {
    #[iden = "users"]
    Table,
    Id,
    TenantId,
    CountyId,
    Username,
    DisplayName,
    PasswordHash,
    Active,
    CreatedAt,
}

#[derive(Iden)]
enum RoleGrant {
    #[iden = "role_grants"]
    Table,
    Id,
    UserId,
    TenantId,
    CountyId,
    Level,
    Role,
    GrantedBy,
    CreatedAt,
}

#[derive(Iden)]
enum Unit {
    #[iden = "units"]
    Table,
    Id,
    TenantId,
    CountyId,
    Name,
    Department,
    Residency,
    CreatedAt,
}

#[derive(Iden)]
enum UnitMember {
    #[iden = "unit_members"]
    Table,
    UnitId,
    UserId,
    CountyId,
}

#[derive(Iden)]
enum Case {
    #[iden = "cases"]
    Table,
    Id,
    Code,
    CountyId,
    TownshipId,
    VillageId,
    GridId,
    OriginTenantId,
    TenantId,
    Kind,
    Channel,
    Category,
    Status,
    Tier,
    Title,
    Description,
    Place,
    RegisteredBy,
    RegisteredAt,
    AcceptedAt,
    DueAt,
    LeadUnitId,
    Outcome,
    MediationMethod,
    Satisfaction,
    ResolvedAt,
    ClosedAt,
    UpdatedAt,
    Version,
}

#[derive(Iden)]
enum CaseCoUnit {
    #[iden = "case_co_units"]
    Table,
    CaseId,
    UnitId,
    CountyId,
}

#[derive(Iden)]
enum CaseParty {
    #[iden = "case_parties"]
    Table,
    Id,
    CaseId,
    CountyId,
    Role,
    Name,
    IdCardCipher,
    IdCardHash,
    IdCardMasked,
    PhoneCipher,
    PhoneHash,
    PhoneMasked,
    Address,
}

#[derive(Iden)]
enum CaseEvent {
    #[iden = "case_events"]
    Table,
    Id,
    CaseId,
    CountyId,
    TenantId,
    ActorId,
    UnitId,
    Command,
    FromStatus,
    ToStatus,
    Note,
    Data,
    At,
}

#[derive(Iden)]
enum IdempotencyKey {
    #[iden = "idempotency_keys"]
    Table,
    Id,
    UserId,
    Key,
    RequestHash,
    CaseId,
    CountyId,
    CreatedAt,
}

#[derive(Iden)]
enum RefreshToken {
    #[iden = "refresh_tokens"]
    Table,
    Id,
    FamilyId,
    UserId,
    TokenHash,
    IssuedAt,
    ExpiresAt,
    UsedAt,
    RevokedAt,
}

#[derive(Iden)]
enum CaseCodeCounter {
    #[iden = "case_code_counters"]
    Table,
    CountyId,
    NextValue,
}

fn fk(
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(ForeignKeyAction::Restrict)
        .to_owned()
}

fn index(name: &str, table: impl IntoIden, columns: &[&'static str]) -> IndexCreateStatement {
    let mut stmt = Index::create();
    stmt.name(name).table(table);
    for column in columns {
        stmt.col(Alias::new(*column));
    }
    stmt.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenant::Table)
                    .col(big_pk_auto(Tenant::Id))
                    .col(big_integer_null(Tenant::ParentId))
                    .col(string_len(Tenant::Level, 16))
                    .col(string_len_uniq(Tenant::Code, 12))
                    .col(string_len(Tenant::Name, 100))
                    .col(big_integer(Tenant::CountyId))
                    .col(big_integer_null(Tenant::TownshipId))
                    .col(big_integer_null(Tenant::VillageId))
                    .col(big_integer_null(Tenant::GridId))
                    .col(timestamp_with_time_zone(Tenant::CreatedAt))
                    .foreign_key(&mut fk(
                        (Tenant::Table, Tenant::ParentId),
                        (Tenant::Table, Tenant::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_tenant_parent", Tenant::Table, &["parent_id"]))
            .await?;
        manager
            .create_index(index("ix_tenant_county", Tenant::Table, &["county_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AppUser::Table)
                    .col(big_pk_auto(AppUser::Id))
                    .col(big_integer(AppUser::TenantId))
                    .col(big_integer(AppUser::CountyId))
                    .col(string_len_uniq(AppUser::Username, 64))
                    .col(string_len(AppUser::DisplayName, 64))
                    .col(string_len(AppUser::PasswordHash, 200))
                    .col(boolean(AppUser::Active))
                    .col(timestamp_with_time_zone(AppUser::CreatedAt))
                    .foreign_key(&mut fk(
                        (AppUser::Table, AppUser::TenantId),
                        (Tenant::Table, Tenant::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_app_user_tenant", AppUser::Table, &["tenant_id"]))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RoleGrant::Table)
                    .col(big_pk_auto(RoleGrant::Id))
                    .col(big_integer(RoleGrant::UserId))
                    .col(big_integer(RoleGrant::TenantId))
                    .col(big_integer(RoleGrant::CountyId))
                    .col(string_len(RoleGrant::Level, 16))
                    .col(string_len(RoleGrant::Role, 32))
                    .col(big_integer_null(RoleGrant::GrantedBy))
                    .col(timestamp_with_time_zone(RoleGrant::CreatedAt))
                    .foreign_key(&mut fk(
                        (RoleGrant::Table, RoleGrant::UserId),
                        (AppUser::Table, AppUser::Id),
                    ))
                    .foreign_key(&mut fk(
                        (RoleGrant::Table, RoleGrant::TenantId),
                        (Tenant::Table, Tenant::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_role_grant",
                    RoleGrant::Table,
                    &["user_id", "tenant_id", "role"],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Unit::Table)
                    .col(big_pk_auto(Unit::Id))
                    .col(big_integer(Unit::TenantId))
                    .col(big_integer(Unit::CountyId))
                    .col(string_len(Unit::Name, 100))
                    .col(string_len(Unit::Department, 64))
                    .col(string_len(Unit::Residency, 16))
                    .col(timestamp_with_time_zone(Unit::CreatedAt))
                    .foreign_key(&mut fk(
                        (Unit::Table, Unit::TenantId),
                        (Tenant::Table, Tenant::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index("ux_unit_name", Unit::Table, &["tenant_id", "name"])
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(UnitMember::Table)
                    .col(big_integer(UnitMember::UnitId))
                    .col(big_integer(UnitMember::UserId))
                    .col(big_integer(UnitMember::CountyId))
                    .primary_key(
                        Index::create()
                            .col(UnitMember::UnitId)
                            .col(UnitMember::UserId),
                    )
                    .foreign_key(&mut fk(
                        (UnitMember::Table, UnitMember::UnitId),
                        (Unit::Table, Unit::Id),
                    ))
                    .foreign_key(&mut fk(
                        (UnitMember::Table, UnitMember::UserId),
                        (AppUser::Table, AppUser::Id),
                    ))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Case::Table)
                    .col(big_pk_auto(Case::Id))
                    .col(string_len_uniq(Case::Code, 32))
                    .col(big_integer(Case::CountyId))
                    .col(big_integer_null(Case::TownshipId))
                    .col(big_integer_null(Case::VillageId))
                    .col(big_integer_null(Case::GridId))
                    .col(big_integer(Case::OriginTenantId))
                    .col(big_integer(Case::TenantId))
                    .col(string_len(Case::Kind, 32))
                    .col(string_len(Case::Channel, 32))
                    .col(string_len(Case::Category, 32))
                    .col(string_len(Case::Status, 16))
                    .col(string_len(Case::Tier, 32))
                    .col(string_len(Case::Title, 200))
                    .col(text(Case::Description))
                    .col(string_len(Case::Place, 200))
                    .col(big_integer(Case::RegisteredBy))
                    .col(timestamp_with_time_zone(Case::RegisteredAt))
                    .col(timestamp_with_time_zone_null(Case::AcceptedAt))
                    .col(timestamp_with_time_zone_null(Case::DueAt))
                    .col(big_integer_null(Case::LeadUnitId))
                    .col(string_len_null(Case::Outcome, 32))
                    .col(string_len_null(Case::MediationMethod, 32))
                    .col(string_len_null(Case::Satisfaction, 32))
                    .col(timestamp_with_time_zone_null(Case::ResolvedAt))
                    .col(timestamp_with_time_zone_null(Case::ClosedAt))
                    .col(timestamp_with_time_zone(Case::UpdatedAt))
                    .col(integer(Case::Version))
                    .foreign_key(&mut fk(
                        (Case::Table, Case::OriginTenantId),
                        (Tenant::Table, Tenant::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Case::Table, Case::TenantId),
                        (Tenant::Table, Tenant::Id),
                    ))
                    .foreign_key(&mut fk(
                        (Case::Table, Case::LeadUnitId),
                        (Unit::Table, Unit::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_case_county", Case::Table, &["county_id", "id"]))
            .await?;
        manager
            .create_index(index(
                "ix_case_township",
                Case::Table,
                &["township_id", "id"],
            ))
            .await?;
        manager
            .create_index(index("ix_case_village", Case::Table, &["village_id", "id"]))
            .await?;
        manager
            .create_index(index(
                "ix_case_lead_unit",
                Case::Table,
                &["lead_unit_id", "id"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_case_due",
                Case::Table,
                &["county_id", "status", "due_at"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CaseCoUnit::Table)
                    .col(big_integer(CaseCoUnit::CaseId))
                    .col(big_integer(CaseCoUnit::UnitId))
                    .col(big_integer(CaseCoUnit::CountyId))
                    .primary_key(
                        Index::create()
                            .col(CaseCoUnit::CaseId)
                            .col(CaseCoUnit::UnitId),
                    )
                    .foreign_key(&mut fk(
                        (CaseCoUnit::Table, CaseCoUnit::CaseId),
                        (Case::Table, Case::Id),
                    ))
                    .foreign_key(&mut fk(
                        (CaseCoUnit::Table, CaseCoUnit::UnitId),
                        (Unit::Table, Unit::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_case_co_unit_unit",
                CaseCoUnit::Table,
                &["unit_id", "case_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CaseParty::Table)
                    .col(big_pk_auto(CaseParty::Id))
                    .col(big_integer(CaseParty::CaseId))
                    .col(big_integer(CaseParty::CountyId))
                    .col(string_len(CaseParty::Role, 16))
                    .col(string_len(CaseParty::Name, 64))
                    .col(text_null(CaseParty::IdCardCipher))
                    .col(string_len_null(CaseParty::IdCardHash, 64))
                    .col(string_len_null(CaseParty::IdCardMasked, 18))
                    .col(text_null(CaseParty::PhoneCipher))
                    .col(string_len_null(CaseParty::PhoneHash, 64))
                    .col(string_len_null(CaseParty::PhoneMasked, 16))
                    .col(string_len(CaseParty::Address, 200))
                    .foreign_key(&mut fk(
                        (CaseParty::Table, CaseParty::CaseId),
                        (Case::Table, Case::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index("ix_case_party_case", CaseParty::Table, &["case_id"]))
            .await?;
        manager
            .create_index(index(
                "ix_case_party_id_card",
                CaseParty::Table,
                &["county_id", "id_card_hash"],
            ))
            .await?;
        manager
            .create_index(index(
                "ix_case_party_phone",
                CaseParty::Table,
                &["county_id", "phone_hash"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CaseEvent::Table)
                    .col(big_pk_auto(CaseEvent::Id))
                    .col(big_integer(CaseEvent::CaseId))
                    .col(big_integer(CaseEvent::CountyId))
                    .col(big_integer(CaseEvent::TenantId))
                    .col(big_integer(CaseEvent::ActorId))
                    .col(big_integer_null(CaseEvent::UnitId))
                    .col(string_len(CaseEvent::Command, 32))
                    .col(string_len_null(CaseEvent::FromStatus, 16))
                    .col(string_len(CaseEvent::ToStatus, 16))
                    .col(text(CaseEvent::Note))
                    .col(text(CaseEvent::Data))
                    .col(timestamp_with_time_zone(CaseEvent::At))
                    .foreign_key(&mut fk(
                        (CaseEvent::Table, CaseEvent::CaseId),
                        (Case::Table, Case::Id),
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_case_event_case",
                CaseEvent::Table,
                &["case_id", "id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKey::Table)
                    .col(big_pk_auto(IdempotencyKey::Id))
                    .col(big_integer(IdempotencyKey::UserId))
                    .col(string_len(IdempotencyKey::Key, 128))
                    .col(string_len(IdempotencyKey::RequestHash, 64))
                    .col(big_integer(IdempotencyKey::CaseId))
                    .col(big_integer(IdempotencyKey::CountyId))
                    .col(timestamp_with_time_zone(IdempotencyKey::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "ux_idempotency_key",
                    IdempotencyKey::Table,
                    &["user_id", "key"],
                )
                .unique()
                .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshToken::Table)
                    .col(big_pk_auto(RefreshToken::Id))
                    .col(string_len(RefreshToken::FamilyId, 64))
                    .col(big_integer(RefreshToken::UserId))
                    .col(string_len_uniq(RefreshToken::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshToken::IssuedAt))
                    .col(timestamp_with_time_zone(RefreshToken::ExpiresAt))
                    .col(timestamp_with_time_zone_null(RefreshToken::UsedAt))
                    .col(timestamp_with_time_zone_null(RefreshToken::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "ix_refresh_token_family",
                RefreshToken::Table,
                &["family_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CaseCodeCounter::Table)
                    .col(big_integer(CaseCodeCounter::CountyId).primary_key())
                    .col(big_integer(CaseCodeCounter::NextValue))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables: [DynIden; 12] = [
            CaseCodeCounter::Table.into_iden(),
            RefreshToken::Table.into_iden(),
            IdempotencyKey::Table.into_iden(),
            CaseEvent::Table.into_iden(),
            CaseParty::Table.into_iden(),
            CaseCoUnit::Table.into_iden(),
            Case::Table.into_iden(),
            UnitMember::Table.into_iden(),
            Unit::Table.into_iden(),
            RoleGrant::Table.into_iden(),
            AppUser::Table.into_iden(),
            Tenant::Table.into_iden(),
        ];
        for table in tables {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
