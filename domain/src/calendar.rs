//! The Chinese working-day calendar: weekends, public holidays, and the make-up working days (调休上班)
//! that the State Council announces each year. The calendar is data: each year's notice is a small text
//! file (see `domain/calendars/`), and an administrator can load a corrected or new year without a release.
//!
//! Counting follows the rules for legal periods: the day an event happens is not counted; a period in
//! working days ends on the Nth working day after it; a period in calendar days that ends on a day off is
//! extended to the next working day.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Datelike, Duration, NaiveDate, Weekday};

/// The notices shipped with the product.
pub const SHIPPED_NOTICES: [&str; 2] = [
    include_str!("../calendars/cn-2025.txt"),
    include_str!("../calendars/cn-2026.txt"),
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("line {line}: {reason}")]
    Syntax { line: usize, reason: String },
    #[error("the notice does not say which year it is for (a `year YYYY` line)")]
    NoYear,
    #[error("line {line}: {date} is not in {year}, the notice's year")]
    OutsideYear {
        line: usize,
        date: NaiveDate,
        year: i32,
    },
    #[error("{0} is both a day off and a make-up working day")]
    Contradiction(NaiveDate),
}

/// One year's announced days off and make-up working days.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearNotice {
    pub year: i32,
    /// Day off → the holiday's name.
    pub days_off: BTreeMap<NaiveDate, String>,
    /// Weekend day worked → why.
    pub working_days: BTreeMap<NaiveDate, String>,
}

impl YearNotice {
    /// Parses a notice: `year YYYY`, `holiday FROM[..TO] NAME`, `workday DATE NAME`; `#` starts a comment.
    pub fn parse(text: &str) -> Result<Self, CalendarError> {
        let mut year = None;
        let mut days_off = BTreeMap::new();
        let mut working_days = BTreeMap::new();
        let mut dated = Vec::new();
        for (index, raw) in text.lines().enumerate() {
            let line = index + 1;
            let content = raw.split('#').next().unwrap_or_default().trim();
            if content.is_empty() {
                continue;
            }
            let syntax = |reason: &str| CalendarError::Syntax {
                line,
                reason: reason.to_owned(),
            };
            let mut words = content.splitn(3, char::is_whitespace);
            let keyword = words.next().unwrap_or_default();
            let value = words
                .next()
                .ok_or_else(|| syntax("a keyword needs a value"))?;
            let name = words.next().unwrap_or_default().trim().to_owned();
            match keyword {
                "year" => {
                    year = Some(
                        value
                            .parse::<i32>()
                            .map_err(|_| syntax("the year must be a number"))?,
                    )
                }
                "holiday" => {
                    let (from, to) = match value.split_once("..") {
                        Some((from, to)) => (date(from, line)?, date(to, line)?),
                        None => (date(value, line)?, date(value, line)?),
                    };
                    if to < from || (to - from).num_days() > 31 {
                        return Err(syntax("a holiday runs forward, at most a month"));
                    }
                    let mut day = from;
                    while day <= to {
                        days_off.insert(day, name.clone());
                        dated.push((line, day));
                        day += Duration::days(1);
                    }
                }
                "workday" => {
                    let day = date(value, line)?;
                    working_days.insert(day, name.clone());
                    dated.push((line, day));
                }
                _ => return Err(syntax("expected `year`, `holiday` or `workday`")),
            }
        }
        let year = year.ok_or(CalendarError::NoYear)?;
        if let Some((line, date)) = dated.into_iter().find(|(_, d)| d.year() != year) {
            return Err(CalendarError::OutsideYear { line, date, year });
        }
        if let Some(day) = days_off.keys().find(|d| working_days.contains_key(d)) {
            return Err(CalendarError::Contradiction(*day));
        }
        Ok(YearNotice {
            year,
            days_off,
            working_days,
        })
    }
}

fn date(text: &str, line: usize) -> Result<NaiveDate, CalendarError> {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| CalendarError::Syntax {
        line,
        reason: format!("{text:?} is not a date like 2026-02-15"),
    })
}

/// Working days, as the loaded notices define them. Years without a notice count weekends only;
/// `covers` tells whether a year's notice is loaded.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkingCalendar {
    days_off: BTreeSet<NaiveDate>,
    working_days: BTreeSet<NaiveDate>,
    years: BTreeSet<i32>,
}

impl WorkingCalendar {
    /// The calendar of the notices shipped with the product.
    pub fn shipped() -> Result<Self, CalendarError> {
        let mut calendar = WorkingCalendar::default();
        for text in SHIPPED_NOTICES {
            calendar.load(YearNotice::parse(text)?);
        }
        Ok(calendar)
    }

    /// Loads a year's notice, replacing any earlier notice for that year.
    pub fn load(&mut self, notice: YearNotice) {
        let in_year = |d: &NaiveDate| d.year() == notice.year;
        self.days_off.retain(|d| !in_year(d));
        self.working_days.retain(|d| !in_year(d));
        self.days_off.extend(notice.days_off.keys());
        self.working_days.extend(notice.working_days.keys());
        self.years.insert(notice.year);
    }

    /// Whether a notice for `year` is loaded.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains(&year)
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.working_days.contains(&day) {
            return true;
        }
        if self.days_off.contains(&day) {
            return false;
        }
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The `n`th working day after `start` (the start day is not counted; `n = 0` gives `start`).
    pub fn add_working_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut day = start;
        let mut left = n;
        while left > 0 {
            day += Duration::days(1);
            if self.is_working_day(day) {
                left -= 1;
            }
        }
        day
    }

    /// `n` calendar days after `start`, moved on to the next working day if that is a day off.
    pub fn add_calendar_days(&self, start: NaiveDate, n: u32) -> NaiveDate {
        let mut day = start + Duration::days(i64::from(n));
        while !self.is_working_day(day) {
            day += Duration::days(1);
        }
        day
    }

    /// Working days after `from` up to and including `to` (0 when `to` is not after `from`).
    pub fn working_days_between(&self, from: NaiveDate, to: NaiveDate) -> u32 {
        let mut count = 0;
        let mut day = from;
        while day < to {
            day += Duration::days(1);
            if self.is_working_day(day) {
                count += 1;
            }
        }
        count
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(text: &str) -> NaiveDate {
        NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()
    }

    #[test]
    fn the_2026_spring_festival_follows_the_state_council_notice() {
        let cal = WorkingCalendar::shipped().unwrap();
        assert!(cal.covers(2025) && cal.covers(2026) && !cal.covers(2027));
        for day in ["2026-02-15", "2026-02-16", "2026-02-20", "2026-02-23"] {
            assert!(!cal.is_working_day(d(day)), "{day} is a day off");
        }
        assert!(
            cal.is_working_day(d("2026-02-14")),
            "Saturday 14 February is worked"
        );
        assert!(
            cal.is_working_day(d("2026-02-28")),
            "Saturday 28 February is worked"
        );
        assert!(!cal.is_working_day(d("2026-02-21")));
        assert_eq!(cal.add_working_days(d("2026-02-13"), 1), d("2026-02-14"));
        assert_eq!(cal.add_working_days(d("2026-02-13"), 2), d("2026-02-24"));
        assert_eq!(cal.add_working_days(d("2026-02-12"), 7), d("2026-02-28"));
        assert_eq!(cal.add_working_days(d("2026-02-10"), 20), d("2026-03-16"));
    }

    #[test]
    fn the_2026_national_day_follows_the_state_council_notice() {
        let cal = WorkingCalendar::shipped().unwrap();
        assert!(
            cal.is_working_day(d("2026-09-20")),
            "Sunday 20 September is worked"
        );
        assert!(!cal.is_working_day(d("2026-09-25")), "中秋节");
        assert!(!cal.is_working_day(d("2026-10-07")));
        assert!(
            cal.is_working_day(d("2026-10-10")),
            "Saturday 10 October is worked"
        );
        assert_eq!(cal.add_working_days(d("2026-09-30"), 1), d("2026-10-08"));
        assert_eq!(cal.add_working_days(d("2026-09-30"), 3), d("2026-10-10"));
        assert_eq!(cal.add_working_days(d("2026-09-30"), 4), d("2026-10-12"));
        assert_eq!(
            cal.working_days_between(d("2026-09-30"), d("2026-10-12")),
            4
        );
        // A 15-day period ending inside the holiday runs on to the first working day after it.
        assert_eq!(cal.add_calendar_days(d("2026-09-20"), 15), d("2026-10-08"));
    }

    #[test]
    fn years_without_a_notice_count_weekends_only() {
        let cal = WorkingCalendar::shipped().unwrap();
        assert!(
            cal.is_working_day(d("2027-01-01")),
            "no 2027 notice is loaded yet"
        );
        assert_eq!(cal.add_working_days(d("2027-03-05"), 1), d("2027-03-08"));
    }

    #[test]
    fn a_corrected_notice_replaces_its_year() {
        let mut cal = WorkingCalendar::shipped().unwrap();
        let notice = YearNotice::parse("year 2026\nholiday 2026-03-02 临时休假\n").unwrap();
        cal.load(notice);
        assert!(!cal.is_working_day(d("2026-03-02")));
        assert!(
            cal.is_working_day(d("2026-02-16")),
            "the replaced notice's days are gone"
        );
        assert!(
            !cal.is_working_day(d("2025-01-28")),
            "other years are untouched"
        );
    }

    #[test]
    fn malformed_notices_are_refused_with_the_line() {
        assert_eq!(
            YearNotice::parse("holiday 2026-01-01 元旦"),
            Err(CalendarError::NoYear)
        );
        assert!(matches!(
            YearNotice::parse("year 2026\nholiday 2026-13-01 x"),
            Err(CalendarError::Syntax { line: 2, .. })
        ));
        assert!(matches!(
            YearNotice::parse("year 2026\nholiday 2025-12-31 x"),
            Err(CalendarError::OutsideYear { line: 2, .. })
        ));
        assert!(matches!(
            YearNotice::parse("year 2026\nvacation 2026-01-01 x"),
            Err(CalendarError::Syntax { line: 2, .. })
        ));
        assert!(matches!(
            YearNotice::parse("year 2026\nholiday 2026-01-05..2026-01-02 x"),
            Err(CalendarError::Syntax { .. })
        ));
        assert_eq!(
            YearNotice::parse("year 2026\nholiday 2026-01-03 x\nworkday 2026-01-03 y"),
            Err(CalendarError::Contradiction(d("2026-01-03")))
        );
    }
}
