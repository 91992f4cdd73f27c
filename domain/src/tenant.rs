//! Tenant levels, 12-digit administrative division codes, and the ancestry every tenant-owned row carries.

use std::fmt;

use crate::vocabulary;

vocabulary! {
    /// The levels of the strict tenant tree: county → township → village (→ grid).
    TenantLevel {
        County = "county",
        Township = "township",
        Village = "village",
        Grid = "grid",
    }
}

impl TenantLevel {
    /// The level a child of this level has, if any.
    pub const fn child(self) -> Option<TenantLevel> {
        match self {
            TenantLevel::County => Some(TenantLevel::Township),
            TenantLevel::Township => Some(TenantLevel::Village),
            TenantLevel::Village => Some(TenantLevel::Grid),
            TenantLevel::Grid => None,
        }
    }

    /// Depth below the county (county = 0).
    pub const fn depth(self) -> usize {
        match self {
            TenantLevel::County => 0,
            TenantLevel::Township => 1,
            TenantLevel::Village => 2,
            TenantLevel::Grid => 3,
        }
    }
}

/// Why a tenant value was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TenantError {
    #[error(
        "a division code has exactly 12 digits (15 for a grid: its village's 12 and 3 of its own)"
    )]
    DivisionCodeFormat,
    #[error("a {level} code must {rule}")]
    DivisionCodeLevel {
        level: TenantLevel,
        rule: &'static str,
    },
    #[error("a {child} code must extend its parent's code {parent}")]
    NotUnderParent { child: String, parent: String },
    #[error("a {parent} cannot have a {child} below it")]
    LevelUnderParent {
        parent: TenantLevel,
        child: TenantLevel,
    },
}

/// A 12-digit administrative division code (统计用区划代码): 6 digits of county, 3 of township, 3 of
/// village. A grid (网格) has 15: its village's 12 and 3 non-zero digits of its own.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DivisionCode(String);

impl DivisionCode {
    /// Parses a code and checks that its shape fits the level.
    pub fn parse(text: &str, level: TenantLevel) -> Result<Self, TenantError> {
        let digits = if level == TenantLevel::Grid { 15 } else { 12 };
        if text.len() != digits || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TenantError::DivisionCodeFormat);
        }
        let township = &text[6..9];
        let village = &text[9..12];
        let shape = match level {
            TenantLevel::Grid if township == "000" || village == "000" || &text[12..] == "000" => {
                Some("extend a village code with three digits that are not all zero")
            }
            TenantLevel::County if township != "000" || village != "000" => {
                Some("end in 000000 and have a non-zero county part")
            }
            TenantLevel::County if &text[..6] == "000000" => Some("have a non-zero county part"),
            TenantLevel::Township if township == "000" || village != "000" => {
                Some("have a non-zero township part and end in 000")
            }
            TenantLevel::Village if township == "000" || village == "000" => {
                Some("have non-zero township and village parts")
            }
            _ => None,
        };
        match shape {
            Some(rule) => Err(TenantError::DivisionCodeLevel { level, rule }),
            None => Ok(DivisionCode(text.to_owned())),
        }
    }

    /// Checks that a child tenant's code sits under its parent's code.
    pub fn check_child(
        parent: &DivisionCode,
        parent_level: TenantLevel,
        child: &DivisionCode,
        child_level: TenantLevel,
    ) -> Result<(), TenantError> {
        if parent_level.child() != Some(child_level) {
            return Err(TenantError::LevelUnderParent {
                parent: parent_level,
                child: child_level,
            });
        }
        let shared = match parent_level {
            TenantLevel::County => 6,
            TenantLevel::Township => 9,
            TenantLevel::Village | TenantLevel::Grid => 12,
        };
        if parent.0[..shared] != child.0[..shared] {
            return Err(TenantError::NotUnderParent {
                child: child.0.clone(),
                parent: parent.0.clone(),
            });
        }
        Ok(())
    }

    /// The six-digit county part, used in case codes.
    pub fn county_part(&self) -> &str {
        &self.0[..6]
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DivisionCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The chain of tenant ids from the county down to a tenant. Every tenant-owned row stores it as separate
/// columns so that "is this row in the subtree of tenant T at level L" is one equality on the column of level
/// L, on SQLite and PostgreSQL alike, with no prefix matching that could confuse siblings such as `1` and `10`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ancestry {
    pub county: i64,
    pub township: Option<i64>,
    pub village: Option<i64>,
    pub grid: Option<i64>,
}

impl Ancestry {
    pub const fn county(county: i64) -> Self {
        Ancestry {
            county,
            township: None,
            village: None,
            grid: None,
        }
    }

    /// The ancestry of a new child with id `child` at `level` below this tenant.
    pub fn child(&self, level: TenantLevel, child: i64) -> Self {
        let mut out = *self;
        match level {
            TenantLevel::County => out = Ancestry::county(child),
            TenantLevel::Township => out.township = Some(child),
            TenantLevel::Village => out.village = Some(child),
            TenantLevel::Grid => out.grid = Some(child),
        }
        out
    }

    /// The id stored at `level`, if this chain reaches that deep.
    pub fn at(&self, level: TenantLevel) -> Option<i64> {
        match level {
            TenantLevel::County => Some(self.county),
            TenantLevel::Township => self.township,
            TenantLevel::Village => self.village,
            TenantLevel::Grid => self.grid,
        }
    }

    /// The ids from the county down to the deepest tenant, top first.
    pub fn chain(&self) -> Vec<i64> {
        let mut out = vec![self.county];
        out.extend(self.township);
        out.extend(self.village);
        out.extend(self.grid);
        out
    }

    /// The deepest tenant of the chain.
    pub fn leaf(&self) -> i64 {
        self.grid
            .or(self.village)
            .or(self.township)
            .unwrap_or(self.county)
    }

    /// Whether tenant `tenant` at `level` is this chain's tenant or one of its ancestors.
    pub fn is_within(&self, level: TenantLevel, tenant: i64) -> bool {
        self.at(level) == Some(tenant)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_codes_fit_their_level() {
        assert!(DivisionCode::parse("620521000000", TenantLevel::County).is_ok());
        assert!(DivisionCode::parse("620521100000", TenantLevel::County).is_err());
        assert!(DivisionCode::parse("620521100000", TenantLevel::Township).is_ok());
        assert!(DivisionCode::parse("620521100201", TenantLevel::Village).is_ok());
        assert!(DivisionCode::parse("620521100000", TenantLevel::Village).is_err());
        assert_eq!(
            DivisionCode::parse("62052110000", TenantLevel::Township),
            Err(TenantError::DivisionCodeFormat)
        );
        assert_eq!(
            DivisionCode::parse("62052110000x", TenantLevel::Township),
            Err(TenantError::DivisionCodeFormat)
        );
        // A grid: its village's 12 digits and 3 of its own.
        assert!(DivisionCode::parse("620521100201001", TenantLevel::Grid).is_ok());
        assert!(DivisionCode::parse("620521100201000", TenantLevel::Grid).is_err());
        assert!(DivisionCode::parse("620521100000001", TenantLevel::Grid).is_err());
        assert_eq!(
            DivisionCode::parse("620521100201", TenantLevel::Grid),
            Err(TenantError::DivisionCodeFormat)
        );
        assert_eq!(
            DivisionCode::parse("620521100201001", TenantLevel::Village),
            Err(TenantError::DivisionCodeFormat)
        );
    }

    #[test]
    fn children_must_extend_their_parent() {
        let county = DivisionCode::parse("620521000000", TenantLevel::County).unwrap();
        let ours = DivisionCode::parse("620521100000", TenantLevel::Township).unwrap();
        let theirs = DivisionCode::parse("620522100000", TenantLevel::Township).unwrap();
        assert!(
            DivisionCode::check_child(&county, TenantLevel::County, &ours, TenantLevel::Township)
                .is_ok()
        );
        assert!(
            DivisionCode::check_child(&county, TenantLevel::County, &theirs, TenantLevel::Township)
                .is_err()
        );
        let village = DivisionCode::parse("620521100201", TenantLevel::Village).unwrap();
        assert!(
            DivisionCode::check_child(&county, TenantLevel::County, &village, TenantLevel::Village)
                .is_err()
        );
        let grid = DivisionCode::parse("620521100201003", TenantLevel::Grid).unwrap();
        let elsewhere = DivisionCode::parse("620521100210003", TenantLevel::Grid).unwrap();
        assert!(
            DivisionCode::check_child(&village, TenantLevel::Village, &grid, TenantLevel::Grid)
                .is_ok()
        );
        assert!(
            DivisionCode::check_child(
                &village,
                TenantLevel::Village,
                &elsewhere,
                TenantLevel::Grid
            )
            .is_err()
        );
    }

    #[test]
    fn sibling_ids_that_share_a_prefix_are_not_within_each_other() {
        let a = Ancestry::county(1).child(TenantLevel::Township, 1);
        let b = Ancestry::county(1).child(TenantLevel::Township, 10);
        assert!(a.is_within(TenantLevel::Township, 1));
        assert!(!b.is_within(TenantLevel::Township, 1));
        assert!(b.is_within(TenantLevel::County, 1));
        assert_eq!(b.child(TenantLevel::Village, 100).chain(), vec![1, 10, 100]);
    }
}
