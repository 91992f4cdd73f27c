//! An in-memory directory of tenants. Tenants never move and are never deleted, so an entry read once
//! stays true; a miss falls back to the store, which also covers tenants created by another replica.

use std::collections::HashMap;
use std::sync::RwLock;

use crate::error::{ApiError, ApiResult};
use crate::store::Store;
use crate::store::tenants::TenantRecord;

#[derive(Default)]
pub struct Directory {
    tenants: RwLock<HashMap<i64, TenantRecord>>,
}

impl Directory {
    pub async fn get(&self, store: &Store, id: i64) -> ApiResult<Option<TenantRecord>> {
        if let Some(found) = self.cached(id)? {
            return Ok(Some(found));
        }
        let found = store.tenant(id).await?;
        if let Some(tenant) = &found {
            self.remember(tenant.clone())?;
        }
        Ok(found)
    }

    /// Like `get`, for a tenant that a stored row refers to and so must exist.
    pub async fn must(&self, store: &Store, id: i64) -> ApiResult<TenantRecord> {
        self.get(store, id).await?.ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("tenant {id} is referenced but missing"))
        })
    }

    pub fn remember(&self, tenant: TenantRecord) -> ApiResult<()> {
        self.tenants
            .write()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("directory lock poisoned")))?
            .insert(tenant.id, tenant);
        Ok(())
    }

    fn cached(&self, id: i64) -> ApiResult<Option<TenantRecord>> {
        Ok(self
            .tenants
            .read()
            .map_err(|_| ApiError::internal(anyhow::anyhow!("directory lock poisoned")))?
            .get(&id)
            .cloned())
    }
}
