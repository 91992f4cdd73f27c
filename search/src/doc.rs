//! The indexed form of a case.

use chrono::{DateTime, Utc};
use fengqiao_domain::risk::RiskLevel;
use fengqiao_domain::{Ancestry, CaseKind, CaseStatus, Category, Tier};
use sha2::{Digest, Sha256};

/// What the index holds of a case. The caller builds it from the store: personal identifiers arrive only
/// as the keyed hashes the store keeps for exact lookup, never as numbers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseDoc {
    pub id: i64,
    /// Where the case was registered: county, township, village, grid. Scopes filter on these ids with
    /// equality, so sibling tenants such as 1 and 10 never see each other's cases.
    pub path: Ancestry,
    /// The center handling the case now (a parent after an escalation).
    pub tenant_id: i64,
    /// The case code, e.g. `623024-20261123-00017`.
    pub code: String,
    pub title: String,
    pub description: String,
    pub place: String,
    /// The parties' addresses.
    pub addresses: Vec<String>,
    pub party_names: Vec<String>,
    /// Keyed hashes of the parties' ID card numbers.
    pub id_card_hashes: Vec<String>,
    /// Keyed hashes of the parties' phone numbers.
    pub phone_hashes: Vec<String>,
    pub status: CaseStatus,
    pub kind: CaseKind,
    pub category: Category,
    pub tier: Tier,
    pub risk: RiskLevel,
    pub registered_at: DateTime<Utc>,
    /// Marked past a deadline (the store's `marked_overdue`).
    pub overdue: bool,
    /// Who registered the case (a grid member sees only their own reports).
    pub registered_by: i64,
    /// The lead unit and the co-handling units (a unit sees only its cases).
    pub units: Vec<i64>,
}

impl CaseDoc {
    /// A stable 64-bit digest of the whole document. Lists count as sets: the order of parties or units
    /// does not change it.
    pub fn digest(&self) -> u64 {
        let mut hash = Sha256::new();
        let mut field = |bytes: &[u8]| {
            hash.update((bytes.len() as u64).to_le_bytes());
            hash.update(bytes);
        };
        field(&self.id.to_le_bytes());
        for level in [
            Some(self.path.county),
            self.path.township,
            self.path.village,
            self.path.grid,
        ] {
            field(&level.unwrap_or(-1).to_le_bytes());
        }
        field(&self.tenant_id.to_le_bytes());
        for text in [&self.code, &self.title, &self.description, &self.place] {
            field(text.as_bytes());
        }
        for list in [
            &self.addresses,
            &self.party_names,
            &self.id_card_hashes,
            &self.phone_hashes,
        ] {
            let mut sorted: Vec<&String> = list.iter().collect();
            sorted.sort();
            field(&(sorted.len() as u64).to_le_bytes());
            for item in sorted {
                field(item.as_bytes());
            }
        }
        for name in [
            self.status.as_str(),
            self.kind.as_str(),
            self.category.as_str(),
            self.tier.as_str(),
            self.risk.as_str(),
        ] {
            field(name.as_bytes());
        }
        field(&self.registered_at.timestamp_micros().to_le_bytes());
        field(&[u8::from(self.overdue)]);
        field(&self.registered_by.to_le_bytes());
        let mut units = self.units.clone();
        units.sort_unstable();
        units.dedup();
        field(&(units.len() as u64).to_le_bytes());
        for unit in units {
            field(&unit.to_le_bytes());
        }
        let out = hash.finalize();
        let mut first = [0u8; 8];
        first.copy_from_slice(&out[..8]);
        u64::from_le_bytes(first)
    }

    /// The Chinese names of the case's kind and category, indexed so that 劳动争议 or 信访 finds them.
    pub fn labels(&self) -> [&'static str; 2] {
        [kind_label(self.kind), category_label(self.category)]
    }
}

/// The Chinese name of a case kind.
pub const fn kind_label(kind: CaseKind) -> &'static str {
    match kind {
        CaseKind::Dispute => "矛盾纠纷",
        CaseKind::Petition => "信访",
        CaseKind::LegalConsultation => "法律咨询",
        CaseKind::LegalAid => "法律援助",
        CaseKind::GridEvent => "网格事件",
    }
}

/// The Chinese name of a category, as the published statistics write it.
pub const fn category_label(category: Category) -> &'static str {
    match category {
        Category::Neighbour => "邻里纠纷",
        Category::MarriageFamily => "婚姻家庭纠纷",
        Category::LandForest => "山林土地纠纷",
        Category::Labour => "劳动争议",
        Category::Medical => "医疗纠纷",
        Category::Traffic => "交通事故纠纷",
        Category::Lending => "借贷纠纷",
        Category::PropertyManagement => "物业纠纷",
        Category::LandRequisition => "征地拆迁",
        Category::Other => "其他",
    }
}

/// The number of documents and the sum of their digests over a part of an index. Two fingerprints of the
/// same documents are equal whatever order they were added in, and a fingerprint can be computed from the
/// store in the same way (`Fingerprint::of`) to find drift.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    pub count: u64,
    pub digest: u64,
}

impl Fingerprint {
    pub fn add_digest(&mut self, digest: u64) {
        self.count += 1;
        self.digest = self.digest.wrapping_add(digest);
    }

    pub fn add(&mut self, doc: &CaseDoc) {
        self.add_digest(doc.digest());
    }

    pub fn of<'a>(docs: impl IntoIterator<Item = &'a CaseDoc>) -> Fingerprint {
        let mut out = Fingerprint::default();
        for doc in docs {
            out.add(doc);
        }
        out
    }
}

impl std::fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} documents, digest {:016x}", self.count, self.digest)
    }
}
