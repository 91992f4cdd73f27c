//! Chinese the way people type it, for every adapter: folding (traditional to simplified, full width to
//! ASCII, lower case), jieba words, character pairs and pinyin pairs, the domain synonym list, personal
//! identifiers in queries, query plans and highlights.
//!
//! Nothing here knows an engine. The embedded adapter feeds these streams to tantivy; a server adapter
//! indexes the same streams as fields and expands queries from the same plan, so both find the same cases.

mod analyze;
mod fold;
mod highlight;
mod identifiers;
mod plan;
mod synonyms;

pub use analyze::{FormTerms, Piece, Stream, analyze, form_terms, reading, readings};
pub use fold::{Folded, fold, fold_str, is_han};
pub use highlight::{Snippet, highlight};
pub use identifiers::{Identifier, extract_identifiers};
pub use plan::{Concept, Form, QueryPlan};
pub use synonyms::{Found, SYNONYMS_TXT, Synonyms};

/// The version of the analysis: bump it whenever a change to folding, segmentation or the token streams
/// (a new jieba dictionary included) changes the tokens of an indexed text. Indexes built with another
/// version must be rebuilt. Synonyms are applied to queries only and need no bump.
pub const ANALYSIS_VERSION: u32 = 1;

/// Loads the jieba dictionary, the conversion table and the synonyms, which otherwise load on first use:
/// a server calls it at start so that its first search does not wait for them.
pub fn warm_up() {
    let _ = QueryPlan::parse("預熱宅基地");
    let _ = analyze("預熱", Stream::Pinyin);
}
