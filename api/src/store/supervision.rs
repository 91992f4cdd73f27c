//! Supervision orders: raised by the deadline scanner or issued by a supervising center, answered by the
//! center handling the case. Each order also leaves an event on the case's timeline.

use chrono::{DateTime, NaiveDate, Utc};
use fengqiao_domain::supervision::{SupervisionLevel, SupervisionStatus};
use fengqiao_tenancy::{Permit, act};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::Store;
use super::cases::{CaseRecord, record_note};
use super::committed::{Change, Committed};
use super::entities::supervision_order;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderRecord {
    pub id: i64,
    pub case_id: i64,
    pub target_tenant_id: i64,
    pub issuer_tenant_id: i64,
    /// None when the deadline scanner raised it.
    pub issued_by: Option<i64>,
    pub level: SupervisionLevel,
    pub reason: String,
    pub respond_by: NaiveDate,
    pub status: SupervisionStatus,
    pub response: Option<String>,
    pub responded_by: Option<i64>,
    pub responded_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A new order.
pub struct NewOrder<'a> {
    pub level: SupervisionLevel,
    pub reason: &'a str,
    pub respond_by: NaiveDate,
    /// The supervising center.
    pub issuer_tenant_id: i64,
}

fn order(m: supervision_order::Model) -> ApiResult<OrderRecord> {
    let corrupt = |what: &str| {
        ApiError::internal(anyhow::anyhow!(
            "supervision order {}: stored {what} is not valid",
            m.id
        ))
    };
    Ok(OrderRecord {
        id: m.id,
        case_id: m.case_id,
        target_tenant_id: m.target_tenant_id,
        issuer_tenant_id: m.issuer_tenant_id,
        issued_by: m.issued_by,
        level: SupervisionLevel::parse(&m.level).ok_or_else(|| corrupt("level"))?,
        status: SupervisionStatus::parse(&m.status).ok_or_else(|| corrupt("status"))?,
        reason: m.reason,
        respond_by: m.respond_by,
        response: m.response,
        responded_by: m.responded_by,
        responded_at: m.responded_at,
        created_at: m.created_at,
    })
}

fn row(
    case: &CaseRecord,
    new: &NewOrder<'_>,
    issued_by: Option<i64>,
    trigger: Option<String>,
    now: DateTime<Utc>,
) -> supervision_order::ActiveModel {
    supervision_order::ActiveModel {
        case_id: Set(case.id),
        county_id: Set(case.origin.county),
        township_id: Set(case.origin.township),
        village_id: Set(case.origin.village),
        target_tenant_id: Set(case.tenant_id),
        issuer_tenant_id: Set(new.issuer_tenant_id),
        issued_by: Set(issued_by),
        level: Set(new.level.as_str().into()),
        reason: Set(new.reason.into()),
        trigger: Set(trigger),
        respond_by: Set(new.respond_by),
        status: Set(SupervisionStatus::Open.as_str().into()),
        response: Set(None),
        responded_by: Set(None),
        responded_at: Set(None),
        created_at: Set(now),
        lead_unit_id: Set(case.state.lead_unit),
        ..Default::default()
    }
}

impl Store {
    /// Raises an order for a missed deadline on behalf of the system (the deadline scanner), unless the
    /// same trigger raised one before; says whether it raised one. The unique `(case_id, trigger)` makes
    /// this exact once across scanners and reruns. Nobody acted, so the timeline event's actor is 0, the
    /// system.
    pub async fn raise_supervision(
        &self,
        case: &CaseRecord,
        new: &NewOrder<'_>,
        trigger: &str,
        now: DateTime<Utc>,
    ) -> ApiResult<Committed<bool>> {
        let txn = self.begin().await?;
        let inserted =
            supervision_order::Entity::insert(row(case, new, None, Some(trigger.to_owned()), now))
                .on_conflict(
                    OnConflict::columns([
                        supervision_order::Column::CaseId,
                        supervision_order::Column::Trigger,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await?;
        if inserted == 1 {
            let data = serde_json::json!({ "level": new.level.as_str(), "trigger": trigger, "respondBy": new.respond_by });
            record_note(&txn, case, 0, "supervise", new.reason, data, now).await?;
        }
        txn.commit().await?;
        let change = if inserted == 1 {
            Change::OrderIssued(case.clone())
        } else {
            Change::Nothing
        };
        Ok(Committed::new(inserted == 1, change))
    }

    /// Issues an order on behalf of a supervisor; the permit is for `case.supervise` on the case.
    pub async fn issue_supervision(
        &self,
        permit: &Permit<act::CaseSupervise>,
        case: &CaseRecord,
        new: &NewOrder<'_>,
        now: DateTime<Utc>,
    ) -> ApiResult<Committed<OrderRecord>> {
        if !permit.is_for(Some(case.id)) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit {permit:?} does not cover supervising case {}",
                case.id
            )));
        }
        let txn = self.begin().await?;
        let model = row(case, new, Some(permit.user_id()), None, now)
            .insert(&txn)
            .await?;
        let data = serde_json::json!({ "level": new.level.as_str(), "order": model.id, "respondBy": new.respond_by });
        record_note(
            &txn,
            case,
            permit.user_id(),
            "supervise",
            new.reason,
            data,
            now,
        )
        .await?;
        txn.commit().await?;
        Ok(Committed::new(
            order(model)?,
            Change::OrderIssued(case.clone()),
        ))
    }

    /// Records the handling center's answer to an open order; the permit is for
    /// `case.respond_supervision` on the order's case.
    pub async fn respond_supervision(
        &self,
        permit: &Permit<act::CaseRespondSupervision>,
        case: &CaseRecord,
        order_id: i64,
        response: &str,
        now: DateTime<Utc>,
    ) -> ApiResult<Committed<OrderRecord>> {
        if !permit.is_for(Some(case.id)) {
            return Err(ApiError::internal(anyhow::anyhow!(
                "permit {permit:?} does not cover answering on case {}",
                case.id
            )));
        }
        let txn = self.begin().await?;
        let updated = supervision_order::Entity::update_many()
            .col_expr(
                supervision_order::Column::Status,
                Expr::value(SupervisionStatus::Responded.as_str()),
            )
            .col_expr(
                supervision_order::Column::Response,
                Expr::value(Some(response)),
            )
            .col_expr(
                supervision_order::Column::RespondedBy,
                Expr::value(Some(permit.user_id())),
            )
            .col_expr(
                supervision_order::Column::RespondedAt,
                Expr::value(Some(now)),
            )
            .filter(supervision_order::Column::Id.eq(order_id))
            .filter(supervision_order::Column::CaseId.eq(case.id))
            .filter(supervision_order::Column::Status.eq(SupervisionStatus::Open.as_str()))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            txn.rollback().await?;
            return Err(ApiError::InvalidTransition(
                "this supervision order was answered already".into(),
            ));
        }
        record_note(
            &txn,
            case,
            permit.user_id(),
            "respond_supervision",
            response,
            serde_json::json!({ "order": order_id }),
            now,
        )
        .await?;
        let model = supervision_order::Entity::find_by_id(order_id)
            .one(&txn)
            .await?
            .ok_or(ApiError::NotFound)?;
        txn.commit().await?;
        Ok(Committed::new(
            order(model)?,
            Change::OrderAnswered(case.clone()),
        ))
    }

    pub async fn supervision_order(&self, id: i64) -> ApiResult<Option<OrderRecord>> {
        supervision_order::Entity::find_by_id(id)
            .one(&self.read().await?)
            .await?
            .map(order)
            .transpose()
    }

    pub async fn supervision_orders_of_case(&self, case_id: i64) -> ApiResult<Vec<OrderRecord>> {
        self.supervision_orders_of_cases(&[case_id]).await
    }

    /// The supervision orders on several cases in one statement, oldest first.
    pub async fn supervision_orders_of_cases(
        &self,
        case_ids: &[i64],
    ) -> ApiResult<Vec<OrderRecord>> {
        supervision_order::Entity::find()
            .filter(supervision_order::Column::CaseId.is_in(case_ids.iter().copied()))
            .order_by_asc(supervision_order::Column::Id)
            .all(&self.read().await?)
            .await?
            .into_iter()
            .map(order)
            .collect()
    }
}
