//! What a search asks: free text, filters, a scope built by the server, and a page.

use chrono::{DateTime, Utc};
use fengqiao_domain::risk::RiskLevel;
use fengqiao_domain::{CaseKind, CaseStatus, Category, TenantLevel, Tier};

use crate::error::SearchError;
use crate::text::{Identifier, extract_identifiers};

/// The largest page.
pub const MAX_FIRST: usize = 100;
/// The default page.
pub const DEFAULT_FIRST: usize = 20;
/// How deep paging may go: past this many hits a user should narrow the query instead.
pub const MAX_DEPTH: usize = 10_000;
/// The longest free text accepted, in characters.
pub const MAX_TEXT_CHARS: usize = 200;

/// One part of what a principal may read, as the authorizer grants it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Grant {
    /// Every case registered in the subtree of `tenant` at `level`.
    Subtree { level: TenantLevel, tenant: i64 },
    /// The cases of the subtree whose lead or co-handling unit is one of `units`.
    UnitCases {
        level: TenantLevel,
        tenant: i64,
        units: Vec<i64>,
    },
    /// The cases of the subtree that `reporter` registered (a grid member's own reports).
    Reports {
        level: TenantLevel,
        tenant: i64,
        reporter: i64,
    },
    /// These cases (an on-call unit's open summonses).
    Cases(Vec<i64>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Reach {
    County,
    Grants(Vec<Grant>),
}

/// Which cases a search may return: always one county, and in it either everything or the union of some
/// grants. The server builds it from the authenticated principal; it is never read from a client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    county: i64,
    reach: Reach,
}

impl Scope {
    /// Every case of the county (the county's own staff).
    pub fn county(county: i64) -> Scope {
        Scope {
            county,
            reach: Reach::County,
        }
    }

    /// The cases of the county that any of the grants allows. No grant allows nothing.
    pub fn grants(county: i64, grants: Vec<Grant>) -> Scope {
        Scope {
            county,
            reach: Reach::Grants(grants),
        }
    }

    /// The cases of one subtree.
    pub fn subtree(county: i64, level: TenantLevel, tenant: i64) -> Scope {
        Scope::grants(county, vec![Grant::Subtree { level, tenant }])
    }

    pub fn county_id(&self) -> i64 {
        self.county
    }

    /// `None` for the whole county, else the grants.
    pub fn limited_to(&self) -> Option<&[Grant]> {
        match &self.reach {
            Reach::County => None,
            Reach::Grants(grants) => Some(grants),
        }
    }

    /// Whether the scope can allow no case at all.
    pub fn is_empty(&self) -> bool {
        self.limited_to().is_some_and(|grants| {
            grants.iter().all(|grant| match grant {
                Grant::UnitCases { units, .. } => units.is_empty(),
                Grant::Cases(ids) => ids.is_empty(),
                Grant::Subtree { .. } | Grant::Reports { .. } => false,
            })
        })
    }
}

/// Filters, each applied inside the index. An empty list does not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filters {
    pub statuses: Vec<CaseStatus>,
    pub kinds: Vec<CaseKind>,
    pub categories: Vec<Category>,
    pub tiers: Vec<Tier>,
    pub risks: Vec<RiskLevel>,
    /// Registered at or after.
    pub registered_from: Option<DateTime<Utc>>,
    /// Registered before.
    pub registered_before: Option<DateTime<Utc>>,
    /// Only cases marked overdue (`Some(true)`) or not (`Some(false)`).
    pub overdue: Option<bool>,
}

/// Where a page starts: an opaque position in the ranked results of one query. Hits are ranked by score,
/// then newest registration, then id, so a repeated query over an unchanged index pages without gaps or
/// repeats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(usize);

impl Cursor {
    const PREFIX: &'static str = "s1:";

    /// The cursor that continues at `offset` (0 is the first hit).
    pub fn at(offset: usize) -> Cursor {
        Cursor(offset)
    }

    /// How many hits come before the page it continues at: a hit's own cursor is its position plus one.
    pub fn offset(self) -> usize {
        self.0
    }

    pub fn encode(self) -> String {
        format!("{}{}", Cursor::PREFIX, self.0)
    }

    pub fn decode(text: &str) -> Result<Cursor, SearchError> {
        text.strip_prefix(Cursor::PREFIX)
            .and_then(|rest| rest.parse::<usize>().ok())
            .filter(|offset| *offset <= MAX_DEPTH)
            .map(Cursor)
            .ok_or_else(|| SearchError::bad_query("after", "not a cursor of this search"))
    }
}

/// A search.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    pub scope: Scope,
    /// Free text without personal identifiers. Empty lists every case of the scope, newest first.
    pub text: String,
    /// Keyed hashes of the full ID card and phone numbers of the query; a case matches when a party has one.
    pub identifier_hashes: Vec<String>,
    pub filters: Filters,
    /// Count the hits by tenant at this level too (e.g. by township for a county).
    pub facet_level: Option<TenantLevel>,
    pub first: usize,
    pub after: Option<Cursor>,
}

impl SearchQuery {
    pub fn new(scope: Scope) -> SearchQuery {
        SearchQuery {
            scope,
            text: String::new(),
            identifier_hashes: Vec::new(),
            filters: Filters::default(),
            facet_level: None,
            first: DEFAULT_FIRST,
            after: None,
        }
    }

    /// Sets the free text as typed: whole ID card and phone numbers are taken out of it and replaced by
    /// their keyed hashes, computed by `hash` (the store's lookup hash of `Identifier::expose`).
    pub fn with_text(mut self, typed: &str, hash: impl Fn(&Identifier) -> String) -> SearchQuery {
        let (text, identifiers) = extract_identifiers(typed);
        self.text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        self.identifier_hashes = identifiers.iter().map(hash).collect();
        self
    }

    pub fn with_filters(mut self, filters: Filters) -> SearchQuery {
        self.filters = filters;
        self
    }

    pub fn with_facet_level(mut self, level: TenantLevel) -> SearchQuery {
        self.facet_level = Some(level);
        self
    }

    pub fn page(mut self, first: usize, after: Option<Cursor>) -> SearchQuery {
        self.first = first;
        self.after = after;
        self
    }

    /// Checks the limits every adapter enforces.
    pub fn validate(&self) -> Result<(), SearchError> {
        if self.first == 0 || self.first > MAX_FIRST {
            return Err(SearchError::bad_query(
                "first",
                format!("must be between 1 and {MAX_FIRST}"),
            ));
        }
        if self.offset() + self.first > MAX_DEPTH {
            return Err(SearchError::bad_query(
                "after",
                format!("results past the first {MAX_DEPTH} are not served; narrow the search"),
            ));
        }
        if self.text.chars().count() > MAX_TEXT_CHARS {
            return Err(SearchError::bad_query(
                "text",
                format!("must have at most {MAX_TEXT_CHARS} characters"),
            ));
        }
        if self.text.chars().any(char::is_control) {
            return Err(SearchError::bad_query(
                "text",
                "must not contain control characters",
            ));
        }
        if let (Some(from), Some(before)) =
            (self.filters.registered_from, self.filters.registered_before)
            && from >= before
        {
            return Err(SearchError::bad_query(
                "registeredFrom",
                "must be before registeredBefore",
            ));
        }
        Ok(())
    }

    /// The number of hits before this page.
    pub fn offset(&self) -> usize {
        self.after.map_or(0, Cursor::offset)
    }
}
