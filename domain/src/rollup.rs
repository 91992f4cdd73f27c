//! County rollups: what each case contributes to the figures of the centers above it, and the rates of
//! docs/DOMAIN.md read from those figures.
//!
//! A case's contribution is a function of its facts (when it was registered, accepted, concluded,
//! followed up, closed). Counters hold the sum of every case's contribution per tenant and month; each
//! change of a case adds the difference between its contribution after and before, so the counters stay
//! exact. The same facts can be replayed from a case's timeline, which is how the counters are verified.
//!
//! Counting rules (each case counted once at each level of its registering center's chain):
//! - intake, in the month of registration;
//! - accepted and rejected, in the month of that decision;
//! - a conclusion (resolved / unresolved), in the month of the case's latest conclusion: an escalation or
//!   a reopening sends the case back to work and withdraws its conclusion until it is concluded again;
//! - closed in the month of closing, on time when its conclusion came by the conclusion deadline in force;
//! - followed up and satisfied (满意 + 基本满意) in the month of the follow-up;
//! - open and overdue are gauges (`Month::GAUGE`): the case counts while it is open, and while it is marked
//!   overdue (by the deadline scanner, or by the change that left it past a deadline).

use chrono::{Datelike, NaiveDate};

use crate::case::{CaseKind, Category, Satisfaction, Tier};
use crate::tenant::TenantLevel;
use crate::vocabulary;

/// A calendar month in China, stored as `yyyymm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Month(i32);

impl Month {
    /// Where gauges (open, overdue now) are kept: not a month.
    pub const GAUGE: Month = Month(0);

    pub fn of(date: NaiveDate) -> Month {
        Month(date.year() * 100 + date.month() as i32)
    }

    /// From year and month (1–12).
    pub fn new(year: i32, month: u32) -> Option<Month> {
        ((1..=12).contains(&month) && (1900..=9999).contains(&year))
            .then(|| Month(year * 100 + month as i32))
    }

    /// From the stored `yyyymm`.
    pub fn from_number(n: i32) -> Option<Month> {
        Month::new(n / 100, u32::try_from(n % 100).ok()?)
    }

    /// Parses `yyyy-mm`.
    pub fn parse(text: &str) -> Option<Month> {
        let (y, m) = text.split_once('-')?;
        if y.len() != 4 || m.len() != 2 {
            return None;
        }
        Month::new(y.parse().ok()?, m.parse().ok()?)
    }

    pub const fn number(self) -> i32 {
        self.0
    }

    pub const fn year(self) -> i32 {
        self.0 / 100
    }

    pub const fn month(self) -> u32 {
        (self.0 % 100) as u32
    }

    pub fn first_day(self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year(), self.month(), 1).unwrap_or_default()
    }

    pub fn next(self) -> Month {
        if self.month() == 12 {
            Month((self.year() + 1) * 100 + 1)
        } else {
            Month(self.0 + 1)
        }
    }

    pub fn prev(self) -> Month {
        if self.month() == 1 {
            Month((self.year() - 1) * 100 + 12)
        } else {
            Month(self.0 - 1)
        }
    }

    /// The months from `self` to `to`, both included.
    pub fn through(self, to: Month) -> impl Iterator<Item = Month> {
        std::iter::successors(Some(self), move |m| (*m < to).then(|| m.next()))
            .take_while(move |m| *m <= to)
    }
}

impl std::fmt::Display for Month {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:04}-{:02}", self.year(), self.month())
    }
}

vocabulary! {
    /// A counted quantity.
    Metric {
        Intake = "intake",
        Accepted = "accepted",
        Rejected = "rejected",
        Resolved = "resolved",
        Unresolved = "unresolved",
        MediationConcluded = "mediation_concluded",
        MediationSucceeded = "mediation_succeeded",
        Closed = "closed",
        ClosedOnTime = "closed_on_time",
        FollowedUp = "followed_up",
        Satisfied = "satisfied",
        /// Gauge: open now.
        Open = "open",
        /// Gauge: marked past a deadline now.
        Overdue = "overdue",
    }
}

/// How a counter is broken down.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dimension {
    Total,
    Kind(CaseKind),
    Category(Category),
    /// The rung of the ladder where a case was concluded.
    Tier(Tier),
    /// The level of the center where a case was resolved.
    Level(TenantLevel),
}

impl Dimension {
    /// The stored key: empty for the total, else `kind:…`, `category:…`, `tier:…` or `level:…`.
    pub fn key(self) -> String {
        match self {
            Dimension::Total => String::new(),
            Dimension::Kind(k) => format!("kind:{k}"),
            Dimension::Category(c) => format!("category:{c}"),
            Dimension::Tier(t) => format!("tier:{t}"),
            Dimension::Level(l) => format!("level:{l}"),
        }
    }

    pub fn parse(key: &str) -> Option<Dimension> {
        if key.is_empty() {
            return Some(Dimension::Total);
        }
        let (axis, value) = key.split_once(':')?;
        match axis {
            "kind" => CaseKind::parse(value).map(Dimension::Kind),
            "category" => Category::parse(value).map(Dimension::Category),
            "tier" => Tier::parse(value).map(Dimension::Tier),
            "level" => TenantLevel::parse(value).map(Dimension::Level),
            _ => None,
        }
    }
}

/// One unit counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Contribution {
    pub month: Month,
    pub dim: Dimension,
    pub metric: Metric,
}

/// How a case was concluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conclusion {
    /// The day (in China) of the conclusion.
    pub on: NaiveDate,
    /// Resolved (化解 / 基本化解) rather than unresolved.
    pub resolved: bool,
    /// Concluded a mediation (an agreement, or a mediation attempted that failed).
    pub mediation: bool,
    pub tier: Tier,
    /// The level of the resolving center (resolved cases only).
    pub level: Option<TenantLevel>,
    /// Concluded by the conclusion deadline in force (no deadline counts as on time).
    pub on_time: bool,
}

/// What the rollups need to know about a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseFacts {
    pub kind: CaseKind,
    pub category: Category,
    pub registered: NaiveDate,
    pub accepted: Option<NaiveDate>,
    pub rejected: Option<NaiveDate>,
    pub conclusion: Option<Conclusion>,
    pub followed_up: Option<(NaiveDate, Satisfaction)>,
    pub closed: Option<NaiveDate>,
    /// Open now (registered, accepted, dispatched, returned, in progress).
    pub open: bool,
    /// Marked past a deadline now.
    pub overdue: bool,
}

impl CaseFacts {
    pub fn registered(kind: CaseKind, category: Category, on: NaiveDate) -> Self {
        CaseFacts {
            kind,
            category,
            registered: on,
            accepted: None,
            rejected: None,
            conclusion: None,
            followed_up: None,
            closed: None,
            open: true,
            overdue: false,
        }
    }

    /// Every unit this case adds to the counters of each center in its chain.
    pub fn contributions(&self) -> Vec<Contribution> {
        let mut out = Vec::with_capacity(24);
        let mut add = |on: Option<NaiveDate>, metric: Metric, extra: &[Dimension]| {
            let month = on.map_or(Month::GAUGE, Month::of);
            for dim in [
                Dimension::Total,
                Dimension::Kind(self.kind),
                Dimension::Category(self.category),
            ]
            .iter()
            .chain(extra)
            {
                out.push(Contribution {
                    month,
                    dim: *dim,
                    metric,
                });
            }
        };
        add(Some(self.registered), Metric::Intake, &[]);
        if self.open {
            add(None, Metric::Open, &[]);
        }
        if self.overdue {
            add(None, Metric::Overdue, &[]);
        }
        if let Some(on) = self.accepted {
            add(Some(on), Metric::Accepted, &[]);
        }
        if let Some(on) = self.rejected {
            add(Some(on), Metric::Rejected, &[]);
        }
        if let Some(c) = self.conclusion {
            let tier = [Dimension::Tier(c.tier)];
            if c.resolved {
                let level: Vec<Dimension> = tier
                    .iter()
                    .copied()
                    .chain(c.level.map(Dimension::Level))
                    .collect();
                add(Some(c.on), Metric::Resolved, &level);
            } else {
                add(Some(c.on), Metric::Unresolved, &tier);
            }
            if c.mediation {
                add(Some(c.on), Metric::MediationConcluded, &[]);
                if c.resolved {
                    add(Some(c.on), Metric::MediationSucceeded, &[]);
                }
            }
        }
        if let Some((on, satisfaction)) = self.followed_up {
            add(Some(on), Metric::FollowedUp, &[]);
            if satisfaction != Satisfaction::Dissatisfied {
                add(Some(on), Metric::Satisfied, &[]);
            }
        }
        if let Some(on) = self.closed {
            add(Some(on), Metric::Closed, &[]);
            if self.conclusion.is_some_and(|c| c.on_time) {
                add(Some(on), Metric::ClosedOnTime, &[]);
            }
        }
        out
    }
}

/// The change to the counters when a case goes from `before` (none for a new case) to `after`, sorted,
/// without zero entries.
pub fn delta(before: Option<&CaseFacts>, after: &CaseFacts) -> Vec<(Contribution, i64)> {
    let mut changes: std::collections::BTreeMap<Contribution, i64> = Default::default();
    for c in after.contributions() {
        *changes.entry(c).or_default() += 1;
    }
    for c in before.map(CaseFacts::contributions).unwrap_or_default() {
        *changes.entry(c).or_default() -= 1;
    }
    changes.into_iter().filter(|(_, n)| *n != 0).collect()
}

/// A timeline event, as the rollups read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Happened {
    Registered,
    Accepted,
    Rejected,
    /// Up a rung of the ladder.
    TierRaised,
    /// Handed to the parent center.
    MovedUp,
    Concluded {
        resolved: bool,
        mediation: bool,
        /// The level of the center that concluded the case.
        level: TenantLevel,
        on_time: bool,
    },
    FollowedUp(Satisfaction),
    Closed,
    Reopened,
    /// Anything that does not change the figures (dispatch, claim, notes …).
    Other,
}

/// Replays a case's timeline, oldest first, into its facts; `None` when it does not start with a
/// registration. The gauges are not in the timeline: `open` follows the replayed status and `overdue`
/// stays false; callers set it from the case's mark.
pub fn replay(
    kind: CaseKind,
    category: Category,
    events: impl IntoIterator<Item = (NaiveDate, Happened)>,
) -> Option<CaseFacts> {
    let mut events = events.into_iter();
    let (registered, Happened::Registered) = events.next()? else {
        return None;
    };
    let mut facts = CaseFacts::registered(kind, category, registered);
    let mut tier = Tier::InitialMediation;
    for (on, happened) in events {
        match happened {
            Happened::Registered => return None,
            Happened::Accepted => {
                facts.accepted.get_or_insert(on);
            }
            Happened::Rejected => {
                facts.rejected = Some(on);
                facts.open = false;
            }
            Happened::TierRaised => {
                tier = tier.next().unwrap_or(tier);
                facts.conclusion = None;
                facts.open = true;
            }
            Happened::MovedUp => {
                facts.conclusion = None;
                facts.open = true;
            }
            Happened::Concluded {
                resolved,
                mediation,
                level,
                on_time,
            } => {
                facts.conclusion = Some(Conclusion {
                    on,
                    resolved,
                    mediation,
                    tier,
                    level: resolved.then_some(level),
                    on_time,
                });
                facts.open = false;
            }
            Happened::FollowedUp(s) => facts.followed_up = Some((on, s)),
            Happened::Closed => facts.closed = Some(on),
            Happened::Reopened => {
                facts.conclusion = None;
                facts.followed_up = None;
                facts.closed = None;
                facts.open = true;
            }
            Happened::Other => {}
        }
    }
    Some(facts)
}

/// A ratio, `None` when nothing was counted below the line.
pub fn rate(numerator: i64, denominator: i64) -> Option<f64> {
    (denominator > 0).then(|| numerator as f64 / denominator as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap_or_default()
    }

    fn count(facts: &CaseFacts, month: Month, dim: Dimension, metric: Metric) -> usize {
        facts
            .contributions()
            .into_iter()
            .filter(|c| *c == Contribution { month, dim, metric })
            .count()
    }

    #[test]
    fn months_parse_print_and_iterate_across_a_year_end() {
        let nov = Month::parse("2025-11").unwrap_or(Month(0));
        assert_eq!(nov.to_string(), "2025-11");
        let all: Vec<String> = nov
            .through(Month::parse("2026-02").unwrap_or(Month(0)))
            .map(|m| m.to_string())
            .collect();
        assert_eq!(all, ["2025-11", "2025-12", "2026-01", "2026-02"]);
        assert_eq!(Month::parse("2026-13"), None);
        assert_eq!(Month::parse("2026-1"), None);
        assert_eq!(Month::from_number(202603), Month::new(2026, 3));
        assert_eq!(Month::new(2026, 1).map(Month::prev), Month::new(2025, 12));
    }

    #[test]
    fn dimension_keys_round_trip() {
        for dim in [
            Dimension::Total,
            Dimension::Kind(CaseKind::Petition),
            Dimension::Category(Category::LandForest),
            Dimension::Tier(Tier::LeaderCase),
            Dimension::Level(TenantLevel::Village),
        ] {
            assert_eq!(Dimension::parse(&dim.key()), Some(dim));
        }
        assert_eq!(Dimension::parse("colour:red"), None);
    }

    #[test]
    fn a_resolved_and_closed_case_counts_in_the_months_things_happened() {
        let march = Month::new(2026, 3).unwrap_or(Month(0));
        let april = march.next();
        let mut facts = CaseFacts::registered(CaseKind::Dispute, Category::Neighbour, day(3, 30));
        facts.accepted = Some(day(3, 31));
        facts.conclusion = Some(Conclusion {
            on: day(4, 2),
            resolved: true,
            mediation: true,
            tier: Tier::JointMediation,
            level: Some(TenantLevel::Township),
            on_time: false,
        });
        facts.followed_up = Some((day(4, 3), Satisfaction::BasicallySatisfied));
        facts.closed = Some(day(4, 4));
        assert_eq!(count(&facts, march, Dimension::Total, Metric::Intake), 1);
        assert_eq!(
            count(
                &facts,
                march,
                Dimension::Category(Category::Neighbour),
                Metric::Accepted
            ),
            1
        );
        assert_eq!(count(&facts, april, Dimension::Total, Metric::Resolved), 1);
        assert_eq!(count(&facts, march, Dimension::Total, Metric::Resolved), 0);
        assert_eq!(
            count(
                &facts,
                april,
                Dimension::Tier(Tier::JointMediation),
                Metric::Resolved
            ),
            1
        );
        assert_eq!(
            count(
                &facts,
                april,
                Dimension::Level(TenantLevel::Township),
                Metric::Resolved
            ),
            1
        );
        assert_eq!(
            count(&facts, april, Dimension::Total, Metric::MediationSucceeded),
            1
        );
        assert_eq!(count(&facts, april, Dimension::Total, Metric::Satisfied), 1);
        assert_eq!(count(&facts, april, Dimension::Total, Metric::Closed), 1);
        assert_eq!(
            count(&facts, april, Dimension::Total, Metric::ClosedOnTime),
            0
        );
    }

    #[test]
    fn a_failed_mediation_counts_as_concluded_not_succeeded_and_dissatisfied_is_not_satisfied() {
        let mut facts = CaseFacts::registered(CaseKind::Dispute, Category::Other, day(5, 1));
        facts.conclusion = Some(Conclusion {
            on: day(5, 2),
            resolved: false,
            mediation: true,
            tier: Tier::InitialMediation,
            level: None,
            on_time: true,
        });
        facts.followed_up = Some((day(5, 3), Satisfaction::Dissatisfied));
        let may = Month::new(2026, 5).unwrap_or(Month(0));
        assert_eq!(count(&facts, may, Dimension::Total, Metric::Unresolved), 1);
        assert_eq!(
            count(&facts, may, Dimension::Total, Metric::MediationConcluded),
            1
        );
        assert_eq!(
            count(&facts, may, Dimension::Total, Metric::MediationSucceeded),
            0
        );
        assert_eq!(count(&facts, may, Dimension::Total, Metric::FollowedUp), 1);
        assert_eq!(count(&facts, may, Dimension::Total, Metric::Satisfied), 0);
    }

    #[test]
    fn delta_adds_what_is_new_and_withdraws_what_is_gone() {
        let before = CaseFacts {
            open: false,
            ..CaseFacts::registered(CaseKind::Dispute, Category::Other, day(5, 1))
        };
        let mut after = before.clone();
        after.accepted = Some(day(6, 1));
        let june = Month::new(2026, 6).unwrap_or(Month(0));
        let d = delta(Some(&before), &after);
        assert_eq!(d.len(), 3, "total, kind and category of `accepted`: {d:?}");
        assert!(
            d.iter()
                .all(|(c, n)| *n == 1 && c.metric == Metric::Accepted && c.month == june)
        );
        let back = delta(Some(&after), &before);
        assert!(back.iter().all(|(_, n)| *n == -1) && back.len() == 3);
        assert!(delta(Some(&after), &after).is_empty());
        assert_eq!(delta(None, &before).len(), 3);
    }

    #[test]
    fn replay_withdraws_a_conclusion_on_escalation_and_reopening() {
        let concluded = |resolved| Happened::Concluded {
            resolved,
            mediation: true,
            level: TenantLevel::Village,
            on_time: true,
        };
        let facts = replay(
            CaseKind::Dispute,
            Category::LandForest,
            [
                (day(1, 5), Happened::Registered),
                (day(1, 6), Happened::Accepted),
                (day(1, 9), concluded(false)),
                (day(1, 10), Happened::TierRaised),
                (day(1, 20), concluded(true)),
                (day(1, 21), Happened::FollowedUp(Satisfaction::Dissatisfied)),
                (day(1, 22), Happened::Closed),
                (day(1, 23), Happened::Reopened),
                (day(2, 3), concluded(true)),
            ],
        );
        let expected = CaseFacts {
            open: false,
            accepted: Some(day(1, 6)),
            conclusion: Some(Conclusion {
                on: day(2, 3),
                resolved: true,
                mediation: true,
                tier: Tier::JointMediation,
                level: Some(TenantLevel::Village),
                on_time: true,
            }),
            ..CaseFacts::registered(CaseKind::Dispute, Category::LandForest, day(1, 5))
        };
        assert_eq!(facts, Some(expected));
        assert_eq!(
            replay(
                CaseKind::Dispute,
                Category::Other,
                [(day(1, 1), Happened::Accepted)]
            ),
            None
        );
    }

    #[test]
    fn open_and_overdue_are_gauges_outside_any_month() {
        let mut facts = CaseFacts::registered(CaseKind::Petition, Category::Other, day(5, 1));
        facts.overdue = true;
        assert_eq!(
            count(&facts, Month::GAUGE, Dimension::Total, Metric::Open),
            1
        );
        assert_eq!(
            count(
                &facts,
                Month::GAUGE,
                Dimension::Category(Category::Other),
                Metric::Overdue
            ),
            1
        );
        let closed = CaseFacts {
            open: false,
            overdue: false,
            ..facts.clone()
        };
        let d = delta(Some(&facts), &closed);
        assert!(d.iter().all(|(c, n)| *n == -1 && c.month == Month::GAUGE));
        assert_eq!(d.len(), 6);
    }

    #[test]
    fn rates_are_undefined_without_a_denominator() {
        assert_eq!(rate(0, 0), None);
        let r = rate(2125, 2155).unwrap_or(0.0);
        assert_eq!((r * 10_000.0).round() as i64, 9861);
    }
}
