//! Batched loading of child fields. A page of fifty cases asks for each case's parties, units, staff,
//! timeline, supervision orders and summonses; resolved one by one that is a statement per field per case.
//! Here every such field asks a request-wide `DataLoader`, which gathers the keys the page's resolvers ask
//! for at one level and reads them in one statement per kind (tests/it/batching.rs counts the statements;
//! tests/bench/README.md has the figures).
//!
//! One loader per request, made as the request is prepared (`Batching`), so a batch never mixes two
//! callers: its load runs in a task of its own that carries the database scope of the request that started
//! it (`app::spawn_in_current_scope`). It keeps nothing between batches: a mutation's answer, resolved after
//! the change, reads what the change wrote, and two mutations in one request each see their own.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Arc;

use async_graphql::dataloader::{DataLoader, Loader};
use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextPrepareRequest,
};
use async_graphql::{Context, ErrorExtensions, Request, Result, ServerResult};

use super::nodes::{StaffNode, UnitNode};
use crate::app::AppState;
use crate::app::records::{
    EventRecord, OrderRecord, PartyRecord, SummonsRecord, UnitRecord, UserRecord,
};
use crate::error::ApiResult;

/// What the child fields of one request load, by kind of key.
pub struct Children {
    state: Arc<AppState>,
}

type Batch = DataLoader<Children>;

/// A member of staff, by account id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Staff(pub i64);

/// A unit, by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Unit(pub i64);

/// What belongs to one case, by the case's id: its timeline, parties, supervision orders, summonses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TimelineOf(pub i64);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PartiesOf(pub i64);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct OrdersOf(pub i64);
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SummonsesOf(pub i64);

fn ids<K: Copy>(keys: &[K], id: impl Fn(K) -> i64) -> Vec<i64> {
    keys.iter().map(|k| id(*k)).collect()
}

/// Records by their own id.
fn by_id<K: Eq + Hash, R>(
    records: ApiResult<Vec<R>>,
    key: impl Fn(&R) -> K,
) -> Result<HashMap<K, R>> {
    Ok(records
        .map_err(|e| e.extend())?
        .into_iter()
        .map(|r| (key(&r), r))
        .collect())
}

/// Records grouped under the case they belong to, in the order read; every asked case gets an entry, an
/// empty list where it has none.
fn by_case<K: Copy + Eq + Hash, R>(
    keys: &[K],
    records: ApiResult<Vec<R>>,
    key: impl Fn(i64) -> K,
    case_of: impl Fn(&R) -> i64,
) -> Result<HashMap<K, Vec<R>>> {
    let mut out: HashMap<K, Vec<R>> = keys.iter().map(|k| (*k, Vec::new())).collect();
    for record in records.map_err(|e| e.extend())? {
        out.entry(key(case_of(&record))).or_default().push(record);
    }
    Ok(out)
}

impl Loader<Staff> for Children {
    type Value = UserRecord;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Staff]) -> Result<HashMap<Staff, UserRecord>> {
        by_id(self.state.staff_many(&ids(keys, |k| k.0)).await, |r| {
            Staff(r.id)
        })
    }
}

impl Loader<Unit> for Children {
    type Value = UnitRecord;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[Unit]) -> Result<HashMap<Unit, UnitRecord>> {
        by_id(self.state.units_many(&ids(keys, |k| k.0)).await, |r| {
            Unit(r.id)
        })
    }
}

impl Loader<TimelineOf> for Children {
    type Value = Vec<EventRecord>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[TimelineOf]) -> Result<HashMap<TimelineOf, Vec<EventRecord>>> {
        let records = self.state.timelines(&ids(keys, |k| k.0)).await;
        by_case(keys, records, TimelineOf, |r| r.case_id)
    }
}

impl Loader<PartiesOf> for Children {
    type Value = Vec<PartyRecord>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[PartiesOf]) -> Result<HashMap<PartiesOf, Vec<PartyRecord>>> {
        let records = self.state.parties_of_cases(&ids(keys, |k| k.0)).await;
        by_case(keys, records, PartiesOf, |r| r.case_id)
    }
}

impl Loader<OrdersOf> for Children {
    type Value = Vec<OrderRecord>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[OrdersOf]) -> Result<HashMap<OrdersOf, Vec<OrderRecord>>> {
        let records = self.state.orders_of_cases(&ids(keys, |k| k.0)).await;
        by_case(keys, records, OrdersOf, |r| r.case_id)
    }
}

impl Loader<SummonsesOf> for Children {
    type Value = Vec<SummonsRecord>;
    type Error = async_graphql::Error;

    async fn load(&self, keys: &[SummonsesOf]) -> Result<HashMap<SummonsesOf, Vec<SummonsRecord>>> {
        let records = self.state.summonses_of_cases(&ids(keys, |k| k.0)).await;
        by_case(keys, records, SummonsesOf, |r| r.case_id)
    }
}

fn batch<'a>(ctx: &Context<'a>) -> Result<&'a Batch> {
    ctx.data::<Batch>()
}

/// A member of staff named on a record the caller reads.
pub(crate) async fn staff(ctx: &Context<'_>, user_id: i64) -> Result<Option<StaffNode>> {
    Ok(batch(ctx)?.load_one(Staff(user_id)).await?.map(StaffNode))
}

/// A unit named on a record the caller reads.
pub(crate) async fn unit(ctx: &Context<'_>, unit_id: i64) -> Result<Option<UnitNode>> {
    Ok(batch(ctx)?.load_one(Unit(unit_id)).await?.map(UnitNode))
}

/// Units named on a record, in the order named; an id that names no unit is left out.
pub(crate) async fn units(ctx: &Context<'_>, unit_ids: &[i64]) -> Result<Vec<UnitNode>> {
    let mut found = batch(ctx)?
        .load_many(unit_ids.iter().copied().map(Unit))
        .await?;
    Ok(unit_ids
        .iter()
        .filter_map(|id| found.remove(&Unit(*id)))
        .map(UnitNode)
        .collect())
}

/// What belongs to a case the caller reads (`TimelineOf(id)`, `PartiesOf(id)`, …).
pub(crate) async fn of_case<K, R>(ctx: &Context<'_>, key: K) -> Result<Vec<R>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    Children: Loader<K, Value = Vec<R>, Error = async_graphql::Error>,
{
    Ok(batch(ctx)?.load_one(key).await?.unwrap_or_default())
}

/// Gives every request (HTTP or websocket operation) its own loader.
pub struct Batching {
    pub state: Arc<AppState>,
}

impl ExtensionFactory for Batching {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Batching {
            state: self.state.clone(),
        })
    }
}

#[async_trait::async_trait]
impl Extension for Batching {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let children = Children {
            state: self.state.clone(),
        };
        let loader: Batch = DataLoader::new(children, crate::app::spawn_in_current_scope);
        next.run(ctx, request.data(loader)).await
    }
}
