//! Collectors: one pass over the hits of a search gives the top of the ranking, the total and the facet
//! counts; another lists ids and digests for drift checks.

use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::{Column, StrColumn};
use tantivy::{DateTime, DocAddress, DocId, Score, SegmentOrdinal, SegmentReader, TantivyError};

use super::schema::{CATEGORY, DIGEST, ID, REGISTERED_AT, STATUS, level_field_name};
use fengqiao_domain::TenantLevel;

/// A hit and what ranks it: score, then newest registration, then highest id.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ranked {
    pub score: Score,
    pub registered: i64,
    pub id: i64,
    pub address: DocAddress,
}

impl Ranked {
    fn key(&self) -> (Score, i64, i64) {
        (self.score, self.registered, self.id)
    }
}

impl PartialEq for Ranked {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Ranked {}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Greater is better.
impl Ord for Ranked {
    fn cmp(&self, other: &Self) -> Ordering {
        let (a, b) = (self.key(), other.key());
        a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2))
    }
}

/// The best `keep` of what is pushed.
struct Top {
    keep: usize,
    heap: BinaryHeap<Reverse<Ranked>>,
}

impl Top {
    fn new(keep: usize) -> Top {
        Top {
            keep,
            heap: BinaryHeap::with_capacity(keep + 1),
        }
    }

    /// Whether a hit with `score` could still enter (the ranking's other keys decide a tie).
    fn admits(&self, score: Score) -> bool {
        self.keep > 0
            && (self.heap.len() < self.keep
                || self.heap.peek().is_none_or(|worst| score >= worst.0.score))
    }

    fn push(&mut self, hit: Ranked) {
        if self.keep == 0 {
            return;
        }
        if self.heap.len() < self.keep {
            self.heap.push(Reverse(hit));
        } else if self.heap.peek().is_some_and(|worst| hit > worst.0) {
            self.heap.pop();
            self.heap.push(Reverse(hit));
        }
    }

    fn into_sorted(self) -> Vec<Ranked> {
        let mut out: Vec<Ranked> = self.heap.into_iter().map(|r| r.0).collect();
        out.sort_by(|a, b| b.cmp(a));
        out
    }
}

/// What one search collects.
#[derive(Debug, Default)]
pub(super) struct PageFruit {
    pub top: Vec<Ranked>,
    pub total: u64,
    pub categories: HashMap<String, u64>,
    pub statuses: HashMap<String, u64>,
    pub tenants: HashMap<Option<i64>, u64>,
    pub problems: Vec<String>,
}

pub(super) struct PageCollector {
    /// How many of the best hits to keep.
    pub keep: usize,
    pub scored: bool,
    pub facet_level: Option<TenantLevel>,
}

pub(super) struct PageSegment {
    segment: SegmentOrdinal,
    scored: bool,
    top: Top,
    total: u64,
    ids: Column<i64>,
    registered: Column<DateTime>,
    categories: Option<(StrColumn, Vec<u64>)>,
    statuses: Option<(StrColumn, Vec<u64>)>,
    counts_tenants: bool,
    level: Option<Column<i64>>,
    /// Hits per tenant of the facet level: few tenants, so a short list beats hashing every hit.
    tenants: Vec<(Option<i64>, u64)>,
}

fn with_counts(column: Option<StrColumn>) -> Option<(StrColumn, Vec<u64>)> {
    column.map(|c| {
        let terms = c.num_terms();
        (c, vec![0; terms])
    })
}

impl Collector for PageCollector {
    type Fruit = PageFruit;
    type Child = PageSegment;

    fn for_segment(
        &self,
        segment: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<PageSegment> {
        let fast = reader.fast_fields();
        // A segment where no case reaches the level has no column for it.
        let level = match self.facet_level {
            Some(level) => fast.column_opt::<i64>(level_field_name(level))?,
            None => None,
        };
        Ok(PageSegment {
            segment,
            scored: self.scored,
            top: Top::new(self.keep),
            total: 0,
            ids: fast.i64(ID)?,
            registered: fast.date(REGISTERED_AT)?,
            categories: with_counts(fast.str(CATEGORY)?),
            statuses: with_counts(fast.str(STATUS)?),
            counts_tenants: self.facet_level.is_some(),
            level,
            tenants: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        self.scored
    }

    fn merge_fruits(&self, fruits: Vec<PageFruit>) -> tantivy::Result<PageFruit> {
        let mut out = PageFruit::default();
        let mut top = Top::new(self.keep);
        for fruit in fruits {
            out.total += fruit.total;
            for (maps, from) in [
                (&mut out.categories, fruit.categories),
                (&mut out.statuses, fruit.statuses),
            ] {
                for (key, count) in from {
                    *maps.entry(key).or_default() += count;
                }
            }
            for (key, count) in fruit.tenants {
                *out.tenants.entry(key).or_default() += count;
            }
            for hit in fruit.top {
                top.push(hit);
            }
            out.problems.extend(fruit.problems);
        }
        if let Some(problem) = out.problems.first() {
            return Err(TantivyError::InternalError(problem.clone()));
        }
        out.top = top.into_sorted();
        Ok(out)
    }
}

/// Counts the term of a single-valued string column.
fn count_ords(column: &mut Option<(StrColumn, Vec<u64>)>, doc: DocId) {
    if let Some((column, counts)) = column
        && let Some(ord) = column.ords().first(doc)
        && let Some(count) = counts.get_mut(ord as usize)
    {
        *count += 1;
    }
}

fn harvest_ords(
    column: Option<(StrColumn, Vec<u64>)>,
    problems: &mut Vec<String>,
) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    let Some((column, counts)) = column else {
        return out;
    };
    for (ord, count) in counts.into_iter().enumerate() {
        if count == 0 {
            continue;
        }
        let mut value = String::new();
        match column.ord_to_str(ord as u64, &mut value) {
            Ok(true) => *out.entry(value).or_default() += count,
            Ok(false) => problems.push(format!("facet term {ord} is missing")),
            Err(error) => problems.push(format!("reading a facet term: {error}")),
        }
    }
    out
}

impl SegmentCollector for PageSegment {
    type Fruit = PageFruit;

    fn collect(&mut self, doc: DocId, score: Score) {
        self.total += 1;
        count_ords(&mut self.categories, doc);
        count_ords(&mut self.statuses, doc);
        if self.counts_tenants {
            let tenant = self.level.as_ref().and_then(|level| level.first(doc));
            match self.tenants.iter_mut().find(|(t, _)| *t == tenant) {
                Some((_, count)) => *count += 1,
                None => self.tenants.push((tenant, 1)),
            }
        }
        let score = if self.scored { score } else { 0.0 };
        if !self.top.admits(score) {
            return;
        }
        let registered = self
            .registered
            .first(doc)
            .map_or(i64::MIN, DateTime::into_timestamp_micros);
        self.top.push(Ranked {
            score,
            registered,
            id: self.ids.first(doc).unwrap_or(i64::MIN),
            address: DocAddress::new(self.segment, doc),
        });
    }

    fn harvest(self) -> PageFruit {
        let mut problems = Vec::new();
        let categories = harvest_ords(self.categories, &mut problems);
        let statuses = harvest_ords(self.statuses, &mut problems);
        PageFruit {
            top: self.top.into_sorted(),
            total: self.total,
            categories,
            statuses,
            tenants: self.tenants.into_iter().collect(),
            problems,
        }
    }
}

/// Collects the id and digest of every hit.
pub(super) struct DigestCollector;

pub(super) struct DigestSegment {
    ids: Column<i64>,
    digests: Column<u64>,
    out: Vec<(i64, u64)>,
}

impl Collector for DigestCollector {
    type Fruit = Vec<(i64, u64)>;
    type Child = DigestSegment;

    fn for_segment(
        &self,
        _: SegmentOrdinal,
        reader: &SegmentReader,
    ) -> tantivy::Result<DigestSegment> {
        let fast = reader.fast_fields();
        Ok(DigestSegment {
            ids: fast.i64(ID)?,
            digests: fast.u64(DIGEST)?,
            out: Vec::new(),
        })
    }

    fn requires_scoring(&self) -> bool {
        false
    }

    fn merge_fruits(&self, fruits: Vec<Vec<(i64, u64)>>) -> tantivy::Result<Vec<(i64, u64)>> {
        let mut out: Vec<(i64, u64)> = fruits.into_iter().flatten().collect();
        out.sort_unstable();
        Ok(out)
    }
}

impl SegmentCollector for DigestSegment {
    type Fruit = Vec<(i64, u64)>;

    fn collect(&mut self, doc: DocId, _: Score) {
        if let (Some(id), Some(digest)) = (self.ids.first(doc), self.digests.first(doc)) {
            self.out.push((id, digest));
        }
    }

    fn harvest(self) -> Vec<(i64, u64)> {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(score: f32, registered: i64, id: i64) -> Ranked {
        Ranked {
            score,
            registered,
            id,
            address: DocAddress::new(0, 0),
        }
    }

    #[test]
    fn keeps_the_best_ranked_by_score_then_date_then_id() {
        let mut top = Top::new(3);
        for h in [
            hit(1.0, 5, 1),
            hit(2.0, 1, 2),
            hit(1.0, 5, 3),
            hit(1.0, 9, 4),
            hit(0.5, 99, 5),
        ] {
            top.push(h);
        }
        let ids: Vec<i64> = top.into_sorted().iter().map(|h| h.id).collect();
        assert_eq!(ids, [2, 4, 3]);
    }
}
