//! Case codes (一件一码): `623024-20261123-00017` — the county's six-digit division code, the registration
//! date, and a per-county sequence number of at least five digits. A code is given once and kept for life,
//! including when the case is escalated. Sequence numbers never repeat within a county, so codes are unique
//! even across days; gaps are allowed.

use std::fmt;

use chrono::{DateTime, Duration, NaiveDate, Utc};

/// China Standard Time is UTC+8, with no daylight saving.
pub const CHINA_OFFSET_HOURS: i64 = 8;

/// The date in China Standard Time, the date a center's staff see: a case registered at 07:00 in Beijing
/// carries that day's date, not the previous day's in UTC.
pub fn china_date(at: DateTime<Utc>) -> NaiveDate {
    (at + Duration::hours(CHINA_OFFSET_HOURS)).date_naive()
}

/// Why a text is not a case code.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CaseCodeError {
    #[error("a case code looks like 623024-20261123-00017")]
    Format,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CaseCode {
    county: String,
    date: NaiveDate,
    sequence: u64,
}

impl CaseCode {
    /// Builds a code from a county's six-digit part, the registration date and the allocated sequence number.
    pub fn new(county_part: &str, date: NaiveDate, sequence: u64) -> Result<Self, CaseCodeError> {
        if county_part.len() != 6
            || !county_part.bytes().all(|b| b.is_ascii_digit())
            || sequence == 0
        {
            return Err(CaseCodeError::Format);
        }
        Ok(CaseCode {
            county: county_part.to_owned(),
            date,
            sequence,
        })
    }

    pub fn parse(text: &str) -> Result<Self, CaseCodeError> {
        let mut parts = text.split('-');
        let (Some(county), Some(date), Some(seq), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(CaseCodeError::Format);
        };
        if date.len() != 8 || seq.len() < 5 || !seq.bytes().all(|b| b.is_ascii_digit()) {
            return Err(CaseCodeError::Format);
        }
        let date = NaiveDate::parse_from_str(date, "%Y%m%d").map_err(|_| CaseCodeError::Format)?;
        let sequence = seq.parse().map_err(|_| CaseCodeError::Format)?;
        let code = CaseCode::new(county, date, sequence)?;
        if code.to_string() != text {
            return Err(CaseCodeError::Format);
        }
        Ok(code)
    }

    pub fn sequence(&self) -> u64 {
        self.sequence
    }

    pub fn date(&self) -> NaiveDate {
        self.date
    }
}

impl fmt::Display for CaseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}-{}-{:05}",
            self.county,
            self.date.format("%Y%m%d"),
            self.sequence
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn formats_like_the_published_example() {
        let date = NaiveDate::from_ymd_opt(2026, 11, 23).unwrap();
        let code = CaseCode::new("623024", date, 17).unwrap();
        assert_eq!(code.to_string(), "623024-20261123-00017");
        assert_eq!(CaseCode::parse("623024-20261123-00017").unwrap(), code);
        assert_eq!(
            CaseCode::new("623024", date, 1_234_567)
                .unwrap()
                .to_string(),
            "623024-20261123-1234567"
        );
    }

    #[test]
    fn refuses_malformed_codes() {
        for bad in [
            "",
            "623024-20261123",
            "62302-20261123-00017",
            "623024-20261323-00017",
            "623024-20261123-017",
            "623024-20261123-00000",
            "623024-20261123-000017",
            "623024-20261123-00017-1",
        ] {
            assert_eq!(CaseCode::parse(bad), Err(CaseCodeError::Format), "{bad}");
        }
    }

    #[test]
    fn dates_are_taken_in_china_standard_time() {
        let early = DateTime::parse_from_rfc3339("2026-11-22T23:30:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            china_date(early),
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
        );
        let late = DateTime::parse_from_rfc3339("2026-11-23T15:59:59Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(
            china_date(late),
            NaiveDate::from_ymd_opt(2026, 11, 23).unwrap()
        );
    }

    proptest! {
        #[test]
        fn distinct_sequences_give_distinct_codes(a in 1u64..10_000_000, b in 1u64..10_000_000, day in 0u32..365) {
            let date = NaiveDate::from_yo_opt(2026, day + 1).unwrap();
            let ca = CaseCode::new("620521", date, a).unwrap();
            let cb = CaseCode::new("620521", date, b).unwrap();
            prop_assert_eq!(ca.to_string() == cb.to_string(), a == b);
            prop_assert_eq!(CaseCode::parse(&ca.to_string()).unwrap(), ca);
        }
    }
}
