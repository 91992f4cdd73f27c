//! Row-level security on PostgreSQL, the second wall behind the application's own checks. Every tenant
//! table (each has `county_id`) gets row-level security, `FORCE`d so that the table's owner is held to it
//! too, with one policy that reads the transaction's settings (see the api's `store::scope`):
//!
//! - `fengqiao.system = 'on'` reaches every row;
//! - otherwise a row is reachable only when its `county_id` is `fengqiao.county`;
//! - and a case only when `fengqiao.tenants` is `*` or names a tenant on the case's registration path
//!   (its county, township, village or grid).
//!
//! With no setting a transaction reads no row and writes none. SQLite has no row-level security: there the
//! migration does nothing.

use sea_orm_migration::prelude::*;

pub struct Migration;

impl MigrationName for Migration {
    fn name(&self) -> &str {
        "m20261126_000001_row_security"
    }
}

/// The tenant tables other than `cases`, frozen as of this migration.
const COUNTY_TABLES: [&str; 15] = [
    "tenants",
    "users",
    "role_grants",
    "units",
    "unit_members",
    "case_co_units",
    "case_parties",
    "case_events",
    "idempotency_keys",
    "case_code_counters",
    "supervision_orders",
    "clock_policies",
    "rollup_counters",
    "duty_rosters",
    "summonses",
];

const FUNCTIONS: &str = r#"
CREATE FUNCTION fengqiao_scope_system() RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT coalesce(current_setting('fengqiao.system', true), '') = 'on' $$;

CREATE FUNCTION fengqiao_scope_county() RETURNS bigint
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT nullif(current_setting('fengqiao.county', true), '')::bigint $$;

CREATE FUNCTION fengqiao_scope_tenants() RETURNS bigint[]
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT CASE coalesce(current_setting('fengqiao.tenants', true), '')
                 WHEN '' THEN ARRAY[]::bigint[]
                 WHEN '*' THEN NULL
                 ELSE string_to_array(current_setting('fengqiao.tenants', true), ',')::bigint[]
                 END $$;

CREATE FUNCTION fengqiao_scope_case(county bigint, township bigint, village bigint, grid bigint)
    RETURNS boolean
    LANGUAGE sql STABLE PARALLEL SAFE
    AS $$ SELECT fengqiao_scope_system()
              OR (county = fengqiao_scope_county()
                  AND (fengqiao_scope_tenants() IS NULL
                       OR ARRAY[county, township, village, grid] && fengqiao_scope_tenants())) $$;
"#;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(FUNCTIONS).await?;
        for table in COUNTY_TABLES {
            db.execute_unprepared(&format!(
                "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
                 ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
                 CREATE POLICY fengqiao_scope ON {table}
                     USING (fengqiao_scope_system() OR county_id = fengqiao_scope_county())
                     WITH CHECK (fengqiao_scope_system() OR county_id = fengqiao_scope_county());"
            ))
            .await?;
        }
        db.execute_unprepared(
            "ALTER TABLE cases ENABLE ROW LEVEL SECURITY;
             ALTER TABLE cases FORCE ROW LEVEL SECURITY;
             CREATE POLICY fengqiao_scope ON cases
                 USING (fengqiao_scope_case(county_id, township_id, village_id, grid_id))
                 WITH CHECK (fengqiao_scope_case(county_id, township_id, village_id, grid_id));",
        )
        .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != sea_orm::DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for table in COUNTY_TABLES.iter().chain(&["cases"]) {
            db.execute_unprepared(&format!(
                "DROP POLICY IF EXISTS fengqiao_scope ON {table};
                 ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;
                 ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;"
            ))
            .await?;
        }
        db.execute_unprepared(
            "DROP FUNCTION fengqiao_scope_case(bigint, bigint, bigint, bigint);
             DROP FUNCTION fengqiao_scope_tenants();
             DROP FUNCTION fengqiao_scope_county();
             DROP FUNCTION fengqiao_scope_system();",
        )
        .await?;
        Ok(())
    }
}
