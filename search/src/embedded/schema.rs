//! The tantivy schema of the embedded index, and a case document in it.

use tantivy::schema::{
    DateOptions, DateTimePrecision, FAST, Field, INDEXED, IndexRecordOption, STORED, STRING,
    Schema, TextFieldIndexing, TextOptions,
};
use tantivy::{DateTime, TantivyDocument};

use super::tokenizer::{CODE_PARTS, GRAMS, PINYIN, WORDS};
use crate::doc::CaseDoc;
use crate::text::fold_str;

/// The version of this schema: bump it with any change to the fields below. Together with
/// `text::ANALYSIS_VERSION` it names the format of an index folder.
/// 2: titles and descriptions arrive with personal data masked; an index of 1 holds them in full and
/// is rebuilt.
pub(super) const SCHEMA_VERSION: u32 = 2;

/// The fields, by role.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fields {
    pub id: Field,
    pub county: Field,
    pub township: Field,
    pub village: Field,
    pub grid: Field,
    pub tenant: Field,
    pub registered_by: Field,
    pub units: Field,
    pub code: Field,
    pub code_parts: Field,
    pub title: Field,
    pub title_grams: Field,
    pub description: Field,
    pub description_grams: Field,
    pub place: Field,
    pub place_grams: Field,
    pub names: Field,
    pub names_grams: Field,
    pub labels: Field,
    pub pinyin: Field,
    pub status: Field,
    pub kind: Field,
    pub category: Field,
    pub tier: Field,
    pub risk: Field,
    pub registered_at: Field,
    pub overdue: Field,
    pub id_card_hashes: Field,
    pub phone_hashes: Field,
    pub digest: Field,
}

pub(super) const ID: &str = "id";
pub(super) const REGISTERED_AT: &str = "registered_at";
pub(super) const DIGEST: &str = "digest";
pub(super) const STATUS: &str = "status";
pub(super) const CATEGORY: &str = "category";

/// The fast field holding the tenant id of a level.
pub(super) fn level_field_name(level: fengqiao_domain::TenantLevel) -> &'static str {
    match level {
        fengqiao_domain::TenantLevel::County => "county",
        fengqiao_domain::TenantLevel::Township => "township",
        fengqiao_domain::TenantLevel::Village => "village",
        fengqiao_domain::TenantLevel::Grid => "grid",
    }
}

fn text(tokenizer: &str, stored: bool) -> TextOptions {
    let options = TextOptions::default().set_indexing_options(
        TextFieldIndexing::default()
            .set_tokenizer(tokenizer)
            .set_index_option(IndexRecordOption::WithFreqsAndPositions),
    );
    if stored {
        options.set_stored()
    } else {
        options
    }
}

pub(super) fn schema() -> (Schema, Fields) {
    let mut b = Schema::builder();
    let fields = Fields {
        id: b.add_i64_field(ID, INDEXED | FAST | STORED),
        county: b.add_i64_field("county", INDEXED | FAST),
        township: b.add_i64_field("township", INDEXED | FAST),
        village: b.add_i64_field("village", INDEXED | FAST),
        grid: b.add_i64_field("grid", INDEXED | FAST),
        tenant: b.add_i64_field("tenant", INDEXED | FAST),
        registered_by: b.add_i64_field("registered_by", INDEXED),
        units: b.add_i64_field("units", INDEXED),
        code: b.add_text_field("code", STRING | STORED),
        code_parts: b.add_text_field("code_parts", text(CODE_PARTS, false)),
        title: b.add_text_field("title", text(WORDS, true)),
        title_grams: b.add_text_field("title_grams", text(GRAMS, false)),
        description: b.add_text_field("description", text(WORDS, true)),
        description_grams: b.add_text_field("description_grams", text(GRAMS, false)),
        place: b.add_text_field("place", text(WORDS, false)),
        place_grams: b.add_text_field("place_grams", text(GRAMS, false)),
        names: b.add_text_field("names", text(WORDS, false)),
        names_grams: b.add_text_field("names_grams", text(GRAMS, false)),
        labels: b.add_text_field("labels", text(WORDS, false)),
        pinyin: b.add_text_field("pinyin", text(PINYIN, false)),
        status: b.add_text_field(STATUS, STRING | FAST),
        kind: b.add_text_field("kind", STRING),
        category: b.add_text_field(CATEGORY, STRING | FAST),
        tier: b.add_text_field("tier", STRING),
        risk: b.add_text_field("risk", STRING),
        registered_at: b.add_date_field(
            REGISTERED_AT,
            DateOptions::default()
                .set_fast()
                .set_stored()
                .set_precision(DateTimePrecision::Microseconds),
        ),
        overdue: b.add_bool_field("overdue", INDEXED),
        id_card_hashes: b.add_text_field("id_card_hashes", STRING),
        phone_hashes: b.add_text_field("phone_hashes", STRING),
        digest: b.add_u64_field(DIGEST, FAST),
    };
    (b.build(), fields)
}

impl Fields {
    pub(super) fn level(&self, level: fengqiao_domain::TenantLevel) -> Field {
        match level {
            fengqiao_domain::TenantLevel::County => self.county,
            fengqiao_domain::TenantLevel::Township => self.township,
            fengqiao_domain::TenantLevel::Village => self.village,
            fengqiao_domain::TenantLevel::Grid => self.grid,
        }
    }

    pub(super) fn document(&self, doc: &CaseDoc) -> TantivyDocument {
        let mut d = TantivyDocument::default();
        d.add_i64(self.id, doc.id);
        d.add_i64(self.county, doc.path.county);
        for (field, value) in [
            (self.township, doc.path.township),
            (self.village, doc.path.village),
            (self.grid, doc.path.grid),
        ] {
            if let Some(value) = value {
                d.add_i64(field, value);
            }
        }
        d.add_i64(self.tenant, doc.tenant_id);
        d.add_i64(self.registered_by, doc.registered_by);
        for unit in &doc.units {
            d.add_i64(self.units, *unit);
        }
        let code = fold_str(&doc.code);
        d.add_text(self.code, &code);
        d.add_text(self.code_parts, &code);
        d.add_text(self.title, &doc.title);
        d.add_text(self.title_grams, &doc.title);
        d.add_text(self.description, &doc.description);
        d.add_text(self.description_grams, &doc.description);
        for place in std::iter::once(&doc.place).chain(&doc.addresses) {
            d.add_text(self.place, place);
            d.add_text(self.place_grams, place);
        }
        for name in &doc.party_names {
            d.add_text(self.names, name);
            d.add_text(self.names_grams, name);
        }
        for label in doc.labels() {
            d.add_text(self.labels, label);
        }
        for text in [&doc.title, &doc.description, &doc.place]
            .into_iter()
            .chain(&doc.addresses)
            .chain(&doc.party_names)
        {
            d.add_text(self.pinyin, text);
        }
        d.add_text(self.status, doc.status.as_str());
        d.add_text(self.kind, doc.kind.as_str());
        d.add_text(self.category, doc.category.as_str());
        d.add_text(self.tier, doc.tier.as_str());
        d.add_text(self.risk, doc.risk.as_str());
        d.add_date(
            self.registered_at,
            DateTime::from_timestamp_micros(doc.registered_at.timestamp_micros()),
        );
        d.add_bool(self.overdue, doc.overdue);
        for hash in &doc.id_card_hashes {
            d.add_text(self.id_card_hashes, hash);
        }
        for hash in &doc.phone_hashes {
            d.add_text(self.phone_hashes, hash);
        }
        d.add_u64(self.digest, doc.digest());
        d
    }
}
