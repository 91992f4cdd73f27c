//! Legal clocks: how long a center has to accept, conclude and follow up a case, by case kind and
//! complexity, counted on the working-day calendar. The defaults are those of docs/DOMAIN.md; tenants may
//! override them.

use chrono::{Datelike, Months, NaiveDate};

use crate::calendar::WorkingCalendar;
use crate::case::{CaseKind, Channel};
use crate::vocabulary;

vocabulary! {
    /// How involved a dispute is (简易 / 一般 / 复杂), which sets its time limit.
    Complexity {
        Simple = "simple",
        General = "general",
        Complex = "complex",
    }
}

/// A time limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// Working days, not counting the start day.
    WorkingDays(u32),
    /// Calendar days; a period ending on a day off runs to the next working day.
    Days(u32),
    /// Calendar months; a period ending on a day off runs to the next working day.
    Months(u32),
}

impl Period {
    /// The last day of the period that starts on `start`.
    pub fn ends(self, calendar: &WorkingCalendar, start: NaiveDate) -> NaiveDate {
        match self {
            Period::WorkingDays(n) => calendar.add_working_days(start, n),
            Period::Days(n) => calendar.add_calendar_days(start, n),
            Period::Months(n) => {
                let end = start.checked_add_months(Months::new(n)).unwrap_or(start);
                calendar.add_calendar_days(end, 0)
            }
        }
    }

    /// A compact text form, `15d`, `7wd` or `1m`, for storage and configuration.
    pub fn to_text(self) -> String {
        match self {
            Period::WorkingDays(n) => format!("{n}wd"),
            Period::Days(n) => format!("{n}d"),
            Period::Months(n) => format!("{n}m"),
        }
    }

    pub fn parse(text: &str) -> Option<Period> {
        let text = text.trim();
        let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit())?);
        let n: u32 = number.parse().ok()?;
        match unit {
            "wd" if n <= 366 => Some(Period::WorkingDays(n)),
            "d" if n <= 366 => Some(Period::Days(n)),
            "m" if n <= 12 => Some(Period::Months(n)),
            _ => None,
        }
    }
}

/// The clocks that apply to one kind of case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockPolicy {
    /// From registration to the decision to accept or not.
    pub accept_within: Period,
    /// From acceptance to the conclusion.
    pub conclude_within: Period,
    /// How much a supervisor may extend the conclusion, once, with a reason.
    pub extension: Option<Period>,
    /// From the conclusion to the call-back.
    pub follow_up_within: Period,
}

/// The deadlines of one case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CaseClocks {
    pub accept_by: NaiveDate,
    pub conclude_by: Option<NaiveDate>,
    pub follow_up_by: Option<NaiveDate>,
}

impl ClockPolicy {
    /// The defaults of docs/DOMAIN.md. Petitions (信访): decide within 15 days, conclude within 60 (+30 with
    /// approval). Disputes: 1, 7 or 20 working days by complexity. Legal consultations are answered within
    /// 1 working day; legal aid is decided within 7 days (法律援助法); grid events are dealt with within 3
    /// working days. Every concluded case is followed up within 7 working days.
    pub fn default_for(kind: CaseKind, complexity: Complexity) -> ClockPolicy {
        let follow_up_within = Period::WorkingDays(7);
        let (accept_within, conclude_within, extension) = match kind {
            CaseKind::Petition => (Period::Days(15), Period::Days(60), Some(Period::Days(30))),
            CaseKind::Dispute => (
                Period::WorkingDays(1),
                match complexity {
                    Complexity::Simple => Period::WorkingDays(1),
                    Complexity::General => Period::WorkingDays(7),
                    Complexity::Complex => Period::WorkingDays(20),
                },
                Some(Period::Months(1)),
            ),
            CaseKind::LegalConsultation => (Period::WorkingDays(1), Period::WorkingDays(1), None),
            CaseKind::LegalAid => (Period::Days(7), Period::Months(1), Some(Period::Months(1))),
            CaseKind::GridEvent => (
                Period::WorkingDays(1),
                Period::WorkingDays(3),
                Some(Period::WorkingDays(3)),
            ),
        };
        ClockPolicy {
            accept_within,
            conclude_within,
            extension,
            follow_up_within,
        }
    }

    /// The limits a channel sets whatever the case's kind and center: a case taken over from the 12345
    /// hotline keeps the hotline's (an enquiry, which is a legal consultation here, within 3 working
    /// days; anything else is a complaint, within 13). `None`: the kind's policy applies.
    pub fn of_channel(kind: CaseKind, channel: Channel) -> Option<ClockPolicy> {
        match channel {
            Channel::Hotline12345 => {
                Some(ClockPolicy::hotline(kind != CaseKind::LegalConsultation))
            }
            _ => None,
        }
    }

    /// The 12345 hotline's limits: an enquiry within 3 working days, a complaint within 13.
    pub fn hotline(complaint: bool) -> ClockPolicy {
        let conclude = if complaint {
            Period::WorkingDays(13)
        } else {
            Period::WorkingDays(3)
        };
        ClockPolicy {
            accept_within: Period::WorkingDays(1),
            conclude_within: conclude,
            extension: Some(Period::WorkingDays(5)),
            follow_up_within: Period::WorkingDays(3),
        }
    }

    /// The clocks of a case registered on `registered` and, once known, accepted on `accepted` and
    /// concluded on `concluded`.
    pub fn clocks(
        &self,
        calendar: &WorkingCalendar,
        registered: NaiveDate,
        accepted: Option<NaiveDate>,
        concluded: Option<NaiveDate>,
    ) -> CaseClocks {
        CaseClocks {
            accept_by: self.accept_within.ends(calendar, registered),
            conclude_by: accepted.map(|day| self.conclude_within.ends(calendar, day)),
            follow_up_by: concluded.map(|day| self.follow_up_within.ends(calendar, day)),
        }
    }
}

/// Whether a year's notice is missing for any date the clocks reach, so a deadline may move when it comes.
pub fn uncertain(calendar: &WorkingCalendar, clocks: &CaseClocks) -> bool {
    [
        Some(clocks.accept_by),
        clocks.conclude_by,
        clocks.follow_up_by,
    ]
    .into_iter()
    .flatten()
    .any(|day| !calendar.covers(day.year()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn dispute_limits_count_working_days_across_the_spring_festival() {
        let cal = WorkingCalendar::shipped().unwrap();
        let general = ClockPolicy::default_for(CaseKind::Dispute, Complexity::General);
        // Accepted Thursday 12 February 2026: 13, 14 (worked Saturday), 24, 25, 26, 27, 28 (worked Saturday).
        let clocks = general.clocks(&cal, d("2026-02-11"), Some(d("2026-02-12")), None);
        assert_eq!(clocks.accept_by, d("2026-02-12"));
        assert_eq!(clocks.conclude_by, Some(d("2026-02-28")));
        let simple = ClockPolicy::default_for(CaseKind::Dispute, Complexity::Simple);
        assert_eq!(
            simple
                .clocks(&cal, d("2026-02-13"), Some(d("2026-02-13")), None)
                .conclude_by,
            Some(d("2026-02-14"))
        );
        let complex = ClockPolicy::default_for(CaseKind::Dispute, Complexity::Complex);
        assert_eq!(
            complex
                .clocks(&cal, d("2026-09-28"), Some(d("2026-09-29")), None)
                .conclude_by,
            Some(d("2026-11-02"))
        );
    }

    #[test]
    fn petition_limits_count_calendar_days_and_skip_a_final_day_off() {
        let cal = WorkingCalendar::shipped().unwrap();
        let petition = ClockPolicy::default_for(CaseKind::Petition, Complexity::General);
        // 15 days from 20 September 2026 end on 5 October, inside National Day: the limit runs to 8 October.
        let clocks = petition.clocks(
            &cal,
            d("2026-09-20"),
            Some(d("2026-09-21")),
            Some(d("2026-11-02")),
        );
        assert_eq!(clocks.accept_by, d("2026-10-08"));
        assert_eq!(clocks.conclude_by, Some(d("2026-11-20")));
        assert_eq!(clocks.follow_up_by, Some(d("2026-11-11")));
        assert!(!uncertain(&cal, &clocks));
        let late = petition.clocks(&cal, d("2026-12-20"), Some(d("2026-12-21")), None);
        assert!(
            uncertain(&cal, &late),
            "a 2027 deadline depends on a notice not yet loaded"
        );
    }

    #[test]
    fn a_hotline_case_keeps_the_hotlines_limits() {
        assert_eq!(
            ClockPolicy::of_channel(CaseKind::Dispute, Channel::Hotline12345),
            Some(ClockPolicy::hotline(true))
        );
        assert_eq!(
            ClockPolicy::of_channel(CaseKind::LegalConsultation, Channel::Hotline12345),
            Some(ClockPolicy::hotline(false))
        );
        assert_eq!(
            ClockPolicy::of_channel(CaseKind::Dispute, Channel::Window),
            None
        );
    }

    #[test]
    fn hotline_limits_follow_12345_rules() {
        let cal = WorkingCalendar::shipped().unwrap();
        assert_eq!(
            ClockPolicy::hotline(false)
                .conclude_within
                .ends(&cal, d("2026-04-30")),
            d("2026-05-08")
        );
        assert_eq!(
            ClockPolicy::hotline(true).conclude_within,
            Period::WorkingDays(13)
        );
    }

    #[test]
    fn periods_have_a_text_form() {
        for p in [Period::WorkingDays(7), Period::Days(15), Period::Months(1)] {
            assert_eq!(Period::parse(&p.to_text()), Some(p));
        }
        for bad in ["", "7", "wd", "-1d", "400d", "13m", "7 wd", "7w"] {
            assert_eq!(Period::parse(bad), None, "{bad}");
        }
    }
}
