//! sea-orm entities, one module per table. They mirror the migrations; domain types never derive these.

macro_rules! no_relations {
    () => {
        #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
        pub enum Relation {}

        impl ActiveModelBehavior for ActiveModel {}
    };
}

pub mod tenant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "tenants")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub parent_id: Option<i64>,
        pub level: String,
        pub code: String,
        pub name: String,
        pub county_id: i64,
        pub township_id: Option<i64>,
        pub village_id: Option<i64>,
        pub grid_id: Option<i64>,
        pub created_at: DateTimeUtc,
    }
    no_relations!();
}

pub mod user {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "users")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub tenant_id: i64,
        pub county_id: i64,
        pub username: String,
        pub display_name: String,
        pub password_hash: String,
        pub active: bool,
        pub created_at: DateTimeUtc,
        pub failed_logins: i32,
        pub locked_until: Option<DateTimeUtc>,
        pub must_change_password: bool,
        pub password_changed_at: Option<DateTimeUtc>,
    }
    no_relations!();
}

pub mod role_grant {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "role_grants")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub tenant_id: i64,
        pub county_id: i64,
        pub level: String,
        pub role: String,
        pub granted_by: Option<i64>,
        pub created_at: DateTimeUtc,
    }
    no_relations!();
}

pub mod unit {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "units")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub tenant_id: i64,
        pub county_id: i64,
        pub name: String,
        pub department: String,
        pub residency: String,
        pub created_at: DateTimeUtc,
    }
    no_relations!();
}

pub mod unit_member {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "unit_members")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub unit_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub user_id: i64,
        pub county_id: i64,
    }
    no_relations!();
}

pub mod case {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "cases")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub code: String,
        pub county_id: i64,
        pub township_id: Option<i64>,
        pub village_id: Option<i64>,
        pub grid_id: Option<i64>,
        pub origin_tenant_id: i64,
        pub tenant_id: i64,
        pub kind: String,
        pub channel: String,
        pub category: String,
        pub status: String,
        pub tier: String,
        pub title: String,
        pub description: String,
        pub place: String,
        pub registered_by: i64,
        pub registered_at: DateTimeUtc,
        pub accepted_at: Option<DateTimeUtc>,
        pub due_at: Option<DateTimeUtc>,
        pub lead_unit_id: Option<i64>,
        pub outcome: Option<String>,
        pub mediation_method: Option<String>,
        pub satisfaction: Option<String>,
        pub resolved_at: Option<DateTimeUtc>,
        pub closed_at: Option<DateTimeUtc>,
        pub updated_at: DateTimeUtc,
        pub version: i32,
        pub complexity: String,
        pub accept_by: Option<Date>,
        pub conclude_by: Option<Date>,
        pub follow_up_by: Option<Date>,
        pub extended: bool,
        pub leader_id: Option<i64>,
        pub resolved_level: Option<String>,
        pub risk_level: String,
        pub risk_reasons: String,
        pub rejected_at: Option<DateTimeUtc>,
        pub followed_up_at: Option<DateTimeUtc>,
        pub overdue: bool,
        pub title_masked: Option<String>,
        pub description_masked: Option<String>,
    }
    no_relations!();
}

pub mod case_co_unit {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "case_co_units")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub case_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub unit_id: i64,
        pub county_id: i64,
    }
    no_relations!();
}

pub mod case_party {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "case_parties")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub case_id: i64,
        pub county_id: i64,
        pub role: String,
        pub name: String,
        pub id_card_cipher: Option<String>,
        pub id_card_hash: Option<String>,
        pub id_card_masked: Option<String>,
        pub phone_cipher: Option<String>,
        pub phone_hash: Option<String>,
        pub phone_masked: Option<String>,
        pub address: String,
    }
    no_relations!();
}

pub mod case_event {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "case_events")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub case_id: i64,
        pub county_id: i64,
        pub tenant_id: i64,
        pub actor_id: i64,
        pub unit_id: Option<i64>,
        pub command: String,
        pub from_status: Option<String>,
        pub to_status: String,
        pub note: String,
        pub data: String,
        pub at: DateTimeUtc,
    }
    no_relations!();
}

pub mod idempotency_key {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "idempotency_keys")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub user_id: i64,
        pub key: String,
        pub request_hash: String,
        pub case_id: i64,
        pub county_id: i64,
        pub created_at: DateTimeUtc,
    }
    no_relations!();
}

pub mod refresh_token {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "refresh_tokens")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub family_id: String,
        pub user_id: i64,
        pub token_hash: String,
        pub issued_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub used_at: Option<DateTimeUtc>,
        pub revoked_at: Option<DateTimeUtc>,
    }
    no_relations!();
}

pub mod session {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "sessions")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub family_id: String,
        pub county_id: i64,
        pub user_id: i64,
        pub started_at: DateTimeUtc,
        pub last_seen_at: DateTimeUtc,
        pub expires_at: DateTimeUtc,
        pub ended_at: Option<DateTimeUtc>,
        pub end_reason: String,
        pub client_address: Option<String>,
        pub user_agent: String,
    }
    no_relations!();
}

pub mod security_policy {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "security_policies")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub county_id: i64,
        pub idle_minutes: i32,
        pub absolute_hours: i32,
        pub max_sessions: i32,
        pub password_max_age_days: i32,
        pub updated_at: DateTimeUtc,
        pub updated_by: Option<i64>,
        pub require_totp: bool,
    }
    no_relations!();
}

pub mod second_factor {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "second_factors")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub county_id: i64,
        pub user_id: i64,
        pub secret_sealed: String,
        pub created_at: DateTimeUtc,
        pub confirmed_at: Option<DateTimeUtc>,
        pub last_step: Option<i64>,
    }
    no_relations!();
}

pub mod password_history {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "password_history")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub county_id: i64,
        pub user_id: i64,
        pub password_hash: String,
        pub set_at: DateTimeUtc,
    }
    no_relations!();
}

pub mod calendar_notice {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "calendar_notices")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub year: i32,
        pub notice: String,
        pub loaded_at: DateTimeUtc,
    }
    no_relations!();
}

pub mod supervision_order {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "supervision_orders")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub case_id: i64,
        pub county_id: i64,
        pub township_id: Option<i64>,
        pub village_id: Option<i64>,
        pub target_tenant_id: i64,
        pub issuer_tenant_id: i64,
        pub issued_by: Option<i64>,
        pub level: String,
        pub reason: String,
        pub trigger: Option<String>,
        pub respond_by: Date,
        pub status: String,
        pub response: Option<String>,
        pub responded_by: Option<i64>,
        pub responded_at: Option<DateTimeUtc>,
        pub created_at: DateTimeUtc,
        /// The case's lead unit, kept current while the order is open.
        pub lead_unit_id: Option<i64>,
    }
    no_relations!();
}

pub mod clock_policy {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "clock_policies")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub county_id: i64,
        pub tenant_id: i64,
        pub kind: String,
        pub complexity: String,
        pub accept_within: String,
        pub conclude_within: String,
        pub extension: Option<String>,
        pub follow_up_within: String,
        pub updated_by: i64,
        pub updated_at: DateTimeUtc,
    }
    no_relations!();
}

pub mod rollup_counter {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "rollup_counters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub tenant_id: i64,
        #[sea_orm(primary_key, auto_increment = false)]
        pub month: i32,
        #[sea_orm(primary_key, auto_increment = false)]
        pub dim: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub metric: String,
        #[sea_orm(primary_key, auto_increment = false)]
        pub stripe: i16,
        pub parent_id: Option<i64>,
        pub county_id: i64,
        pub value: i64,
    }
    no_relations!();
}

pub mod duty_roster {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "duty_rosters")]
    pub struct Model {
        #[sea_orm(primary_key, auto_increment = false)]
        pub unit_id: i64,
        pub county_id: i64,
        pub roster: String,
        pub updated_by: i64,
        pub updated_at: DateTimeUtc,
    }
    no_relations!();
}

pub mod summons {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "summonses")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub case_id: i64,
        pub county_id: i64,
        pub unit_id: i64,
        pub summoned_by: i64,
        pub summoned_at: DateTimeUtc,
        pub report_by: DateTimeUtc,
        pub reported_at: Option<DateTimeUtc>,
        pub reported_by: Option<i64>,
        pub late: bool,
        pub released_at: Option<DateTimeUtc>,
        pub released_by: Option<i64>,
        pub open_mark: Option<i16>,
    }
    no_relations!();
}

pub mod search_outbox {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "search_outbox")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub case_id: i64,
        pub county_id: i64,
        pub at: DateTimeUtc,
        pub done_at: Option<DateTimeUtc>,
    }
    no_relations!();
}

pub mod audit_record {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_records")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub at: DateTimeUtc,
        pub county_id: i64,
        pub tenant_id: Option<i64>,
        pub user_id: Option<i64>,
        pub client_address: Option<String>,
        pub action: String,
        pub object: String,
        pub outcome: String,
        pub reason: String,
        /// The hash of the county's record before this one (empty for the first, and for records from
        /// before the chain).
        pub prev_hash: String,
        pub hash: String,
    }
    no_relations!();
}

pub mod audit_anchor {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "audit_anchors")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub county_id: i64,
        /// The last record pruned.
        pub through_id: i64,
        pub through_at: DateTimeUtc,
        /// Its hash: the chain goes on from here.
        pub hash: String,
        pub pruned: i64,
        pub pruned_at: DateTimeUtc,
    }
    no_relations!();
}

pub mod policy_change {
    use sea_orm::entity::prelude::*;

    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "policy_changes")]
    pub struct Model {
        #[sea_orm(primary_key)]
        pub id: i64,
        pub message: String,
        pub at: DateTimeUtc,
    }
    no_relations!();
}
