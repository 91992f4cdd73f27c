//! Risk warnings (预警): explainable rules grade a case red, orange, yellow or blue (green when nothing
//! applies), and every grade lists the reasons that produced it. Grades are recomputed on every event.

use crate::case::{CaseKind, Category};
use crate::vocabulary;

vocabulary! {
    /// Warning levels, most severe first.
    RiskLevel {
        Red = "red",
        Orange = "orange",
        Yellow = "yellow",
        Blue = "blue",
        Green = "green",
    }
}

/// What the rules look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RiskFacts {
    /// Other cases in the county within 90 days that share a party (same ID number or phone).
    pub repeat_cases: u32,
    /// How many times the case was escalated.
    pub escalations: u32,
    /// Past a deadline now.
    pub overdue: bool,
    /// Of a kind or category marked sensitive.
    pub sensitive: bool,
}

/// The thresholds, configurable per deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskRules {
    /// Repeat cases from which a party is a concern (yellow) and a serious concern (orange).
    pub repeat_yellow: u32,
    pub repeat_orange: u32,
    /// Escalations from which a case is yellow and orange.
    pub escalation_yellow: u32,
    pub escalation_orange: u32,
    pub sensitive_categories: Vec<Category>,
    pub sensitive_kinds: Vec<CaseKind>,
}

impl Default for RiskRules {
    fn default() -> Self {
        RiskRules {
            repeat_yellow: 1,
            repeat_orange: 2,
            escalation_yellow: 1,
            escalation_orange: 2,
            sensitive_categories: vec![Category::LandRequisition],
            sensitive_kinds: vec![CaseKind::Petition],
        }
    }
}

/// A grade and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiskGrade {
    pub level: RiskLevel,
    pub reasons: Vec<String>,
}

impl RiskRules {
    pub fn is_sensitive(&self, kind: CaseKind, category: Category) -> bool {
        self.sensitive_kinds.contains(&kind) || self.sensitive_categories.contains(&category)
    }

    /// Grades a case: each rule that applies adds a reason at a level; the grade is the most severe
    /// reason, raised to red when two or more reasons are orange, or when a sensitive case also has an
    /// orange reason.
    pub fn grade(&self, facts: &RiskFacts) -> RiskGrade {
        let mut found: Vec<(RiskLevel, String)> = Vec::new();
        if facts.repeat_cases >= self.repeat_orange {
            found.push((
                RiskLevel::Orange,
                format!(
                    "a party is in {} other cases within 90 days",
                    facts.repeat_cases
                ),
            ));
        } else if facts.repeat_cases >= self.repeat_yellow {
            found.push((
                RiskLevel::Yellow,
                format!(
                    "a party is in {} other case within 90 days",
                    facts.repeat_cases
                ),
            ));
        }
        if facts.escalations >= self.escalation_orange {
            found.push((
                RiskLevel::Orange,
                format!("escalated {} times", facts.escalations),
            ));
        } else if facts.escalations >= self.escalation_yellow {
            found.push((
                RiskLevel::Yellow,
                format!("escalated {} time", facts.escalations),
            ));
        }
        if facts.overdue {
            found.push((RiskLevel::Yellow, "past its deadline".to_owned()));
        }
        if facts.sensitive {
            found.push((RiskLevel::Blue, "of a kind marked sensitive".to_owned()));
        }
        let oranges = found
            .iter()
            .filter(|(level, _)| *level == RiskLevel::Orange)
            .count();
        let mut level = found
            .iter()
            .map(|(level, _)| *level)
            .min()
            .unwrap_or(RiskLevel::Green);
        if oranges >= 2 || (oranges >= 1 && facts.sensitive) {
            level = RiskLevel::Red;
        }
        RiskGrade {
            level,
            reasons: found.into_iter().map(|(_, reason)| reason).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grades_are_the_most_severe_reason_and_explain_themselves() {
        let rules = RiskRules::default();
        assert_eq!(
            rules.grade(&RiskFacts::default()),
            RiskGrade {
                level: RiskLevel::Green,
                reasons: vec![]
            }
        );
        let overdue = rules.grade(&RiskFacts {
            overdue: true,
            ..RiskFacts::default()
        });
        assert_eq!(
            (overdue.level, overdue.reasons.as_slice()),
            (RiskLevel::Yellow, &["past its deadline".to_owned()][..])
        );
        let repeat = rules.grade(&RiskFacts {
            repeat_cases: 3,
            overdue: true,
            ..RiskFacts::default()
        });
        assert_eq!(repeat.level, RiskLevel::Orange);
        assert_eq!(repeat.reasons.len(), 2);
        let both = rules.grade(&RiskFacts {
            repeat_cases: 2,
            escalations: 2,
            ..RiskFacts::default()
        });
        assert_eq!(both.level, RiskLevel::Red);
        let sensitive = rules.grade(&RiskFacts {
            sensitive: true,
            ..RiskFacts::default()
        });
        assert_eq!(sensitive.level, RiskLevel::Blue);
        let sensitive_orange = rules.grade(&RiskFacts {
            sensitive: true,
            escalations: 2,
            ..RiskFacts::default()
        });
        assert_eq!(sensitive_orange.level, RiskLevel::Red);
    }
}
