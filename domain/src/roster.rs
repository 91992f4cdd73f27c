//! Duty rosters of rotating units (轮驻): weekly shifts in China time, plus one-off changes (a day off, an
//! extra shift). A rotating unit acts on its cases only during a shift; outside one it may read them.
//!
//! Text form, one entry per line: `mon 08:30-17:30` (a weekly shift; an end at or before the start runs
//! past midnight), `2026-10-01 off` (no weekly shift starts that day), `2026-10-08 08:00-12:00` (an extra
//! shift that day).

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveDateTime, NaiveTime, Utc, Weekday};

use crate::code::CHINA_OFFSET_HOURS;

/// The most entries a roster may hold.
pub const MAX_ENTRIES: usize = 400;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hours {
    pub start: NaiveTime,
    pub end: NaiveTime,
}

impl Hours {
    pub fn new(start: NaiveTime, end: NaiveTime) -> Result<Hours, RosterError> {
        if start == end {
            return Err(RosterError::EmptyShift);
        }
        Ok(Hours { start, end })
    }

    /// The shift that starts on `day`, as local (China) moments.
    fn on(self, day: NaiveDate) -> (NaiveDateTime, NaiveDateTime) {
        let start = day.and_time(self.start);
        let end_day = if self.end <= self.start {
            day + Duration::days(1)
        } else {
            day
        };
        (start, end_day.and_time(self.end))
    }

    fn text(self) -> String {
        format!(
            "{}-{}",
            self.start.format("%H:%M"),
            self.end.format("%H:%M")
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RosterEntry {
    Weekly(Weekday, Hours),
    Off(NaiveDate),
    Extra(NaiveDate, Hours),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RosterError {
    #[error("a shift must not start and end at the same time")]
    EmptyShift,
    #[error("line {line}: write `mon 08:30-17:30`, `2026-10-01 off` or `2026-10-08 08:00-12:00`")]
    Unreadable { line: usize },
    #[error("a roster holds at most {MAX_ENTRIES} entries")]
    TooLong,
}

/// A rotating unit's duty roster.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DutyRoster {
    pub entries: Vec<RosterEntry>,
}

fn weekday_name(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

fn parse_hours(text: &str) -> Option<Hours> {
    let (a, b) = text.split_once('-')?;
    let time = |t: &str| NaiveTime::parse_from_str(t.trim(), "%H:%M").ok();
    Hours::new(time(a)?, time(b)?).ok()
}

impl DutyRoster {
    pub fn new(entries: Vec<RosterEntry>) -> Result<DutyRoster, RosterError> {
        if entries.len() > MAX_ENTRIES {
            return Err(RosterError::TooLong);
        }
        Ok(DutyRoster { entries })
    }

    pub fn parse(text: &str) -> Result<DutyRoster, RosterError> {
        let mut entries = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = RosterError::Unreadable { line: i + 1 };
            let (head, rest) = line.split_once(char::is_whitespace).ok_or(bad.clone())?;
            let rest = rest.trim();
            let entry = if let Ok(day) = head.parse::<Weekday>() {
                RosterEntry::Weekly(day, parse_hours(rest).ok_or(bad)?)
            } else {
                let date = NaiveDate::parse_from_str(head, "%Y-%m-%d").map_err(|_| bad.clone())?;
                if rest == "off" {
                    RosterEntry::Off(date)
                } else {
                    RosterEntry::Extra(date, parse_hours(rest).ok_or(bad)?)
                }
            };
            entries.push(entry);
        }
        DutyRoster::new(entries)
    }

    pub fn to_text(&self) -> String {
        self.entries
            .iter()
            .map(|e| match e {
                RosterEntry::Weekly(day, hours) => {
                    format!("{} {}", weekday_name(*day), hours.text())
                }
                RosterEntry::Off(date) => format!("{date} off"),
                RosterEntry::Extra(date, hours) => format!("{date} {}", hours.text()),
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// The shifts that start on `day` (local).
    fn shifts_starting(&self, day: NaiveDate) -> impl Iterator<Item = Hours> + '_ {
        let off = self.entries.contains(&RosterEntry::Off(day));
        self.entries.iter().filter_map(move |e| match e {
            RosterEntry::Weekly(weekday, hours) if !off && *weekday == day.weekday() => {
                Some(*hours)
            }
            RosterEntry::Extra(date, hours) if *date == day => Some(*hours),
            _ => None,
        })
    }

    /// Whether `at` falls in a shift. A shift includes its start and excludes its end.
    pub fn on_duty(&self, at: DateTime<Utc>) -> bool {
        let local = (at + Duration::hours(CHINA_OFFSET_HOURS)).naive_utc();
        let today = local.date();
        [today - Duration::days(1), today].into_iter().any(|day| {
            self.shifts_starting(day).any(|hours| {
                let (start, end) = hours.on(day);
                start <= local && local < end
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A moment given in China time.
    fn china(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
        let local = NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(h, min, 0))
            .unwrap_or_default();
        local.and_utc() - Duration::hours(CHINA_OFFSET_HOURS)
    }

    #[test]
    fn weekly_shifts_days_off_and_extra_shifts() {
        let roster = DutyRoster::parse(
            "# 住建所 轮驻\nmon 08:30-17:30\nwed 08:30-12:00\n2026-11-30 off\n2026-11-28 09:00-11:00\n",
        )
        .unwrap_or_default();
        assert_eq!(roster.entries.len(), 4);
        // Monday 23 November 2026.
        assert!(roster.on_duty(china(2026, 11, 23, 8, 30)));
        assert!(roster.on_duty(china(2026, 11, 23, 17, 29)));
        assert!(!roster.on_duty(china(2026, 11, 23, 17, 30)));
        assert!(!roster.on_duty(china(2026, 11, 23, 8, 29)));
        assert!(!roster.on_duty(china(2026, 11, 24, 10, 0)), "Tuesday");
        assert!(roster.on_duty(china(2026, 11, 25, 11, 59)), "Wednesday");
        assert!(
            roster.on_duty(china(2026, 11, 28, 10, 0)),
            "an extra Saturday shift"
        );
        assert!(!roster.on_duty(china(2026, 11, 28, 11, 0)));
        assert!(!roster.on_duty(china(2026, 11, 30, 10, 0)), "Monday off");
        assert!(roster.on_duty(china(2026, 12, 7, 10, 0)), "the next Monday");
    }

    #[test]
    fn a_night_shift_runs_past_midnight() {
        let roster = DutyRoster::parse("fri 20:00-08:00").unwrap_or_default();
        assert!(roster.on_duty(china(2026, 11, 27, 23, 0)));
        assert!(
            roster.on_duty(china(2026, 11, 28, 7, 59)),
            "Saturday morning"
        );
        assert!(!roster.on_duty(china(2026, 11, 28, 8, 0)));
        assert!(!roster.on_duty(china(2026, 11, 27, 19, 59)));
    }

    #[test]
    fn the_text_form_round_trips_and_bad_lines_are_refused() {
        let text = "mon 08:30-17:30\n2026-10-01 off\n2026-10-08 08:00-12:00";
        let roster = DutyRoster::parse(text).unwrap_or_default();
        assert_eq!(roster.to_text(), text);
        assert_eq!(
            DutyRoster::parse("mon 08:30-08:30"),
            Err(RosterError::Unreadable { line: 1 })
        );
        assert_eq!(
            DutyRoster::parse("mon 08:30-17:30\nfunday 9-5"),
            Err(RosterError::Unreadable { line: 2 })
        );
        assert!(DutyRoster::default().entries.is_empty());
        assert!(!DutyRoster::default().on_duty(china(2026, 11, 23, 10, 0)));
    }
}
