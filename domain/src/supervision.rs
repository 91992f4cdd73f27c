//! Supervision (督办): the ladder a supervising center climbs on an overdue or stuck case, and the rules by
//! which the deadline scanner raises it on its own — 催办 (urge) the day after a missed deadline, 通报
//! (notice) five working days after that.

use chrono::NaiveDate;

use crate::calendar::WorkingCalendar;
use crate::clocks::Period;
use crate::vocabulary;

vocabulary! {
    /// The levels of supervision, in order of weight.
    SupervisionLevel {
        /// 提醒
        Remind = "remind",
        /// 催办
        Urge = "urge",
        /// 通报
        Notice = "notice",
        /// 问责
        Accountability = "accountability",
    }
}

vocabulary! {
    SupervisionStatus {
        Open = "open",
        Responded = "responded",
    }
}

/// How long a center has to answer a supervision order.
pub const RESPOND_WITHIN: Period = Period::WorkingDays(3);

/// Working days after the urge before a missed deadline is noticed (通报).
pub const NOTICE_AFTER_WORKING_DAYS: u32 = 5;

/// The levels the scanner raises on `today` for a deadline missed on `missed`, each with its trigger key.
/// The key names the deadline and level, so raising is idempotent: the same missed deadline never raises
/// the same level twice.
pub fn automatic(
    calendar: &WorkingCalendar,
    stage: &str,
    missed: NaiveDate,
    today: NaiveDate,
) -> Vec<(SupervisionLevel, String)> {
    let mut due = Vec::new();
    if today > missed {
        due.push((SupervisionLevel::Urge, format!("urge:{stage}:{missed}")));
    }
    if today > calendar.add_working_days(missed, NOTICE_AFTER_WORKING_DAYS) {
        due.push((SupervisionLevel::Notice, format!("notice:{stage}:{missed}")));
    }
    due
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn urge_the_day_after_and_notice_five_working_days_later() {
        let cal = WorkingCalendar::shipped().unwrap();
        let missed = d("2026-09-29");
        assert!(automatic(&cal, "conclude", missed, d("2026-09-29")).is_empty());
        let levels = |today| {
            automatic(&cal, "conclude", missed, today)
                .into_iter()
                .map(|(l, _)| l)
                .collect::<Vec<_>>()
        };
        assert_eq!(levels(d("2026-09-30")), [SupervisionLevel::Urge]);
        // Five working days after 29 September, across National Day: 30 Sep, 8, 9, 10 (worked Saturday), 12 Oct.
        assert_eq!(levels(d("2026-10-12")), [SupervisionLevel::Urge]);
        assert_eq!(
            levels(d("2026-10-13")),
            [SupervisionLevel::Urge, SupervisionLevel::Notice]
        );
        let keys: Vec<String> = automatic(&cal, "conclude", missed, d("2026-10-13"))
            .into_iter()
            .map(|(_, k)| k)
            .collect();
        assert_eq!(
            keys,
            ["urge:conclude:2026-09-29", "notice:conclude:2026-09-29"]
        );
    }
}
