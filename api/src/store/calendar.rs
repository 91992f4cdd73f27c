//! The working-day calendar notices an administrator loaded (`fengqiao load-calendar`). They take
//! precedence over the notices shipped with the product, year by year.

use chrono::{DateTime, Utc};
use fengqiao_domain::calendar::{WorkingCalendar, YearNotice};
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait, QueryOrder};

use super::Store;
use super::entities::calendar_notice;
use crate::error::{ApiError, ApiResult};

impl Store {
    /// Stores a year's notice, replacing the one loaded before for that year. An operator's action, not
    /// tenant data: the calendar is the same for every center.
    pub async fn save_calendar_notice(
        &self,
        notice: &YearNotice,
        text: &str,
        now: DateTime<Utc>,
    ) -> ApiResult<()> {
        let row = calendar_notice::ActiveModel {
            year: Set(notice.year),
            notice: Set(text.to_owned()),
            loaded_at: Set(now),
        };
        let txn = self.begin().await?;
        calendar_notice::Entity::insert(row)
            .on_conflict(
                OnConflict::column(calendar_notice::Column::Year)
                    .update_columns([
                        calendar_notice::Column::Notice,
                        calendar_notice::Column::LoadedAt,
                    ])
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(())
    }

    /// The shipped calendar with every stored notice loaded over it.
    pub async fn working_calendar(&self) -> ApiResult<WorkingCalendar> {
        let mut calendar = WorkingCalendar::shipped().map_err(ApiError::internal)?;
        let rows = calendar_notice::Entity::find()
            .order_by_asc(calendar_notice::Column::Year)
            .all(&self.read().await?)
            .await?;
        for row in rows {
            let notice = YearNotice::parse(&row.notice).map_err(|e| {
                ApiError::internal(anyhow::anyhow!(
                    "stored calendar notice for {}: {e}",
                    row.year
                ))
            })?;
            calendar.load(notice);
        }
        Ok(calendar)
    }
}
