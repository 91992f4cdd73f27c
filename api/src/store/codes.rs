//! Case-code sequence numbers. Each process reserves a block of numbers per county with one atomic
//! upsert on the county's counter row, outside the registration transaction, and hands them out from
//! memory. Registrations therefore never queue on the counter row; numbers are unique across processes
//! and restarts (a block is never handed out twice), and an unused remainder only leaves a gap.

use std::collections::HashMap;
use std::sync::Mutex;

use sea_orm::{ConnectionTrait, DbErr, Statement};

use super::Store;

pub struct CodeAllocator {
    block: i64,
    blocks: Mutex<HashMap<i64, (i64, i64)>>,
    refill: tokio::sync::Mutex<()>,
}

impl CodeAllocator {
    pub fn new(block: i64) -> Self {
        CodeAllocator {
            block: block.max(1),
            blocks: Mutex::new(HashMap::new()),
            refill: tokio::sync::Mutex::new(()),
        }
    }

    fn take(&self, county_id: i64) -> Result<Option<i64>, DbErr> {
        let mut blocks = self
            .blocks
            .lock()
            .map_err(|_| DbErr::Custom("code allocator lock poisoned".into()))?;
        Ok(blocks.get_mut(&county_id).and_then(|(next, end)| {
            (*next <= *end).then(|| {
                *next += 1;
                *next - 1
            })
        }))
    }

    /// The next sequence number for `county_id`.
    pub async fn next(&self, store: &Store, county_id: i64) -> Result<i64, DbErr> {
        if let Some(n) = self.take(county_id)? {
            return Ok(n);
        }
        let _refilling = self.refill.lock().await;
        if let Some(n) = self.take(county_id)? {
            return Ok(n);
        }
        let db = store.begin().await?;
        let backend = db.get_database_backend();
        let sql = "INSERT INTO case_code_counters (county_id, next_value) VALUES ($1, $2) \
                   ON CONFLICT (county_id) DO UPDATE SET next_value = case_code_counters.next_value + $2 \
                   RETURNING next_value";
        // SQLite numbers its parameters ?N; the text is otherwise the same on both databases.
        let sql = match backend {
            sea_orm::DatabaseBackend::Sqlite => sql.replace('$', "?"),
            _ => sql.to_owned(),
        };
        let row = db
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                sql,
                [county_id.into(), self.block.into()],
            ))
            .await?
            .ok_or_else(|| DbErr::Custom("case code counter returned no row".into()))?;
        let end: i64 = row.try_get_by_index(0)?;
        db.commit().await?;
        let first = end - self.block + 1;
        let mut blocks = self
            .blocks
            .lock()
            .map_err(|_| DbErr::Custom("code allocator lock poisoned".into()))?;
        blocks.insert(county_id, (first + 1, end));
        Ok(first)
    }
}
