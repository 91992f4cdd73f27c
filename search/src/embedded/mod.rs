//! The embedded adapter: a tantivy index in a folder of the server (or in memory for tests), no search
//! server to run. One process owns the folder: a deployment with several server processes gives each its
//! own folder (each fed from the store) or uses a search server instead.
//!
//! Every `upsert` and `delete` call is one commit, visible to searches when it returns: feed it batches.
//!
//! Layout of the folder:
//! - `LOCK`: held by the process that has the index open;
//! - `CURRENT`: the name of the live generation, replaced atomically (write, then rename) to swap;
//! - `gen-NNNNNNNN/`: a tantivy index, with a `FORMAT` file naming the schema and analysis it was built
//!   with. A generation of another format is not read: a fresh one is started and `needs_rebuild` says
//!   that the caller should rebuild it from the store.

mod collect;
mod lower;
mod schema;
mod tokenizer;

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use fengqiao_domain::{CaseStatus, Category};
use tantivy::schema::Value;
use tantivy::{Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term};

use self::collect::{DigestCollector, PageCollector};
use self::schema::{Fields, SCHEMA_VERSION};
use crate::doc::{CaseDoc, Fingerprint};
use crate::error::SearchError;
use crate::page::{Count, DESCRIPTION_CHARS, Facets, Hit, SearchPage, TITLE_CHARS, sort_counts};
use crate::port::{CaseIndex, Rebuild, Subtree};
use crate::query::{Cursor, SearchQuery};
use crate::text::{ANALYSIS_VERSION, QueryPlan, highlight};

/// Memory the index writer may use before it writes a segment.
const WRITER_MEMORY: usize = 24_000_000;

const CURRENT: &str = "CURRENT";
const FORMAT: &str = "FORMAT";
const LOCK: &str = "LOCK";
const GENERATION_PREFIX: &str = "gen-";

fn format_line() -> String {
    format!("fengqiao-search embedded: schema {SCHEMA_VERSION}, analysis {ANALYSIS_VERSION}\n")
}

fn generation_name(n: u64) -> String {
    format!("{GENERATION_PREFIX}{n:08}")
}

fn generation_number(name: &str) -> Option<u64> {
    name.strip_prefix(GENERATION_PREFIX)?.parse().ok()
}

fn io_error(what: &str, path: &Path, error: std::io::Error) -> SearchError {
    SearchError::Unavailable(format!("{what} {}: {error}", path.display()))
}

fn engine(error: tantivy::TantivyError) -> SearchError {
    match error {
        tantivy::TantivyError::LockFailure(..) => {
            SearchError::Unavailable(format!("the index is locked: {error}"))
        }
        other => SearchError::internal(other),
    }
}

fn poisoned<T>(_: T) -> SearchError {
    SearchError::internal("a search index lock was poisoned by a panic")
}

/// Why a write to a generation did not happen.
enum WriteError {
    /// The generation was replaced by a rebuild; write to the live one.
    Retired,
    Failed(SearchError),
}

/// One generation: a tantivy index with its reader and writer.
struct Live {
    reader: IndexReader,
    writer: Mutex<Option<IndexWriter>>,
    fields: Fields,
    folder: Option<PathBuf>,
}

impl Live {
    fn finish(index: Index, fields: Fields, folder: Option<PathBuf>) -> Result<Live, SearchError> {
        tokenizer::register(&index);
        let writer = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(engine)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(engine)?;
        Ok(Live {
            reader,
            writer: Mutex::new(Some(writer)),
            fields,
            folder,
        })
    }

    /// A new, empty generation, in `folder` or in memory.
    fn create(folder: Option<PathBuf>) -> Result<Live, SearchError> {
        let (schema, fields) = schema::schema();
        let index = match &folder {
            None => Index::create_in_ram(schema),
            Some(folder) => {
                if folder.exists() {
                    fs::remove_dir_all(folder).map_err(|e| io_error("removing", folder, e))?;
                }
                fs::create_dir_all(folder).map_err(|e| io_error("creating", folder, e))?;
                let marker = folder.join(FORMAT);
                fs::write(&marker, format_line()).map_err(|e| io_error("writing", &marker, e))?;
                Index::builder()
                    .schema(schema)
                    .create_in_dir(folder)
                    .map_err(engine)?
            }
        };
        Live::finish(index, fields, folder)
    }

    /// An existing generation, if it has this build's format.
    fn open(folder: PathBuf) -> Result<Option<Live>, SearchError> {
        match fs::read_to_string(folder.join(FORMAT)) {
            Ok(line) if line == format_line() => {}
            _ => return Ok(None),
        }
        let (_, fields) = schema::schema();
        let index = Index::open_in_dir(&folder).map_err(engine)?;
        Live::finish(index, fields, Some(folder)).map(Some)
    }

    /// Runs `f` with the writer, then commits and makes the change visible.
    fn write(
        &self,
        f: impl FnOnce(&IndexWriter, &Fields) -> tantivy::Result<()>,
    ) -> Result<(), WriteError> {
        let mut guard = self
            .writer
            .lock()
            .map_err(|e| WriteError::Failed(poisoned(e)))?;
        let Some(writer) = guard.as_mut() else {
            return Err(WriteError::Retired);
        };
        let failed = |e| WriteError::Failed(engine(e));
        f(writer, &self.fields).map_err(failed)?;
        writer.commit().map_err(failed)?;
        self.reader.reload().map_err(failed)?;
        Ok(())
    }

    /// Stops the writer and removes the generation's folder.
    fn retire(&self) {
        let writer = match self.writer.lock() {
            Ok(mut guard) => guard.take(),
            Err(_) => None,
        };
        if let Some(writer) = writer
            && let Err(error) = writer.wait_merging_threads()
        {
            tracing::warn!(%error, "stopping a retired search index writer");
        }
        if let Some(folder) = &self.folder
            && let Err(error) = fs::remove_dir_all(folder)
        {
            tracing::warn!(%error, folder = %folder.display(), "removing a retired search index");
        }
    }

    fn search(&self, query: &SearchQuery) -> Result<SearchPage, SearchError> {
        let plan = QueryPlan::parse(&query.text);
        let (tantivy_query, ranked) = lower::search_query(&self.fields, query, &plan);
        let offset = query.offset();
        let searcher = self.reader.searcher();
        let fruit = searcher
            .search(
                tantivy_query.as_ref(),
                &PageCollector {
                    keep: offset + query.first,
                    scored: ranked,
                    facet_level: query.facet_level,
                },
            )
            .map_err(engine)?;
        let mut hits = Vec::with_capacity(query.first);
        for (at, ranked) in fruit.top.iter().enumerate().skip(offset) {
            let doc: TantivyDocument = searcher.doc(ranked.address).map_err(engine)?;
            let text = |field| {
                doc.get_first(field)
                    .and_then(|v| v.as_str())
                    .unwrap_or_default()
                    .to_owned()
            };
            hits.push(Hit {
                id: ranked.id,
                score: ranked.score,
                title: highlight(&text(self.fields.title), &plan, TITLE_CHARS),
                description: highlight(&text(self.fields.description), &plan, DESCRIPTION_CHARS),
                cursor: Cursor::at(at + 1),
            });
        }
        let mut facets = Facets {
            level: query.facet_level,
            ..Facets::default()
        };
        facets.categories = fruit
            .categories
            .iter()
            .filter_map(|(name, count)| {
                Category::parse(name).map(|value| Count {
                    value,
                    count: *count,
                })
            })
            .collect();
        facets.statuses = fruit
            .statuses
            .iter()
            .filter_map(|(name, count)| {
                CaseStatus::parse(name).map(|value| Count {
                    value,
                    count: *count,
                })
            })
            .collect();
        facets.tenants = fruit
            .tenants
            .iter()
            .map(|(value, count)| Count {
                value: *value,
                count: *count,
            })
            .collect();
        sort_counts(&mut facets.categories);
        sort_counts(&mut facets.statuses);
        sort_counts(&mut facets.tenants);
        Ok(SearchPage {
            has_next_page: fruit.total > (offset + hits.len()) as u64,
            hits,
            total: fruit.total,
            facets,
        })
    }

    fn digests(
        &self,
        county: i64,
        within: Option<Subtree>,
    ) -> Result<Vec<(i64, u64)>, SearchError> {
        let query = lower::part_query(&self.fields, county, within);
        self.reader
            .searcher()
            .search(query.as_ref(), &DigestCollector)
            .map_err(engine)
    }
}

fn add_docs(writer: &IndexWriter, fields: &Fields, docs: &[CaseDoc]) -> tantivy::Result<()> {
    for doc in docs {
        writer.delete_term(Term::from_field_i64(fields.id, doc.id));
        writer.add_document(fields.document(doc))?;
    }
    Ok(())
}

struct Shared {
    root: Option<PathBuf>,
    live: RwLock<Arc<Live>>,
    last_generation: AtomicU64,
    needs_rebuild: AtomicBool,
    /// Held while the index is open; released when the process ends.
    _lock: Option<File>,
}

impl Shared {
    fn live(&self) -> Result<Arc<Live>, SearchError> {
        Ok(self.live.read().map_err(poisoned)?.clone())
    }

    /// Writes to the live generation, following a swap that happens meanwhile.
    fn write(
        &self,
        f: impl Fn(&IndexWriter, &Fields) -> tantivy::Result<()>,
    ) -> Result<(), SearchError> {
        loop {
            match self.live()?.write(&f) {
                Ok(()) => return Ok(()),
                Err(WriteError::Retired) => continue,
                Err(WriteError::Failed(error)) => return Err(error),
            }
        }
    }

    fn point_current_at(&self, generation: u64) -> Result<(), SearchError> {
        let Some(root) = &self.root else {
            return Ok(());
        };
        let staged = root.join(format!("{CURRENT}.new"));
        let current = root.join(CURRENT);
        let mut file = File::create(&staged).map_err(|e| io_error("writing", &staged, e))?;
        file.write_all(generation_name(generation).as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(|e| io_error("writing", &staged, e))?;
        fs::rename(&staged, &current).map_err(|e| io_error("replacing", &current, e))?;
        if let Ok(dir) = File::open(root) {
            let _ = dir.sync_all();
        }
        Ok(())
    }
}

/// The embedded case index.
#[derive(Clone)]
pub struct EmbeddedIndex {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for EmbeddedIndex {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedIndex")
            .field("root", &self.shared.root)
            .finish_non_exhaustive()
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SearchError> + Send + 'static,
) -> Result<T, SearchError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SearchError::internal(format!("a search task failed: {e}")))?
}

impl EmbeddedIndex {
    /// Opens the index kept in `root`, creating the folder and an empty index when there is none. An
    /// index of another format, or one that cannot be read, is replaced by an empty one and
    /// `needs_rebuild` is set. Fails with `Unavailable` when another process has the folder open.
    pub fn open(root: impl AsRef<Path>) -> Result<EmbeddedIndex, SearchError> {
        let root = root.as_ref().to_path_buf();
        fs::create_dir_all(&root).map_err(|e| io_error("creating", &root, e))?;
        let lock_path = root.join(LOCK);
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| io_error("opening", &lock_path, e))?;
        lock.try_lock().map_err(|_| {
            SearchError::Unavailable(format!(
                "another process has the search index {} open",
                root.display()
            ))
        })?;
        let current = fs::read_to_string(root.join(CURRENT))
            .ok()
            .map(|name| name.trim().to_owned());
        let mut last = 0;
        let mut others = Vec::new();
        if let Ok(entries) = fs::read_dir(&root) {
            for entry in entries.flatten() {
                let name = entry.file_name().to_string_lossy().into_owned();
                if let Some(n) = generation_number(&name) {
                    last = last.max(n);
                    if current.as_deref() != Some(name.as_str()) {
                        others.push(entry.path());
                    }
                }
            }
        }
        let opened = match current.as_deref().and_then(generation_number) {
            Some(n) => match Live::open(root.join(generation_name(n))) {
                Ok(Some(live)) => Some(live),
                Ok(None) => {
                    tracing::warn!(root = %root.display(), "the search index has another format; starting an empty one to rebuild");
                    None
                }
                Err(error @ SearchError::Unavailable(_)) => return Err(error),
                Err(error) => {
                    tracing::warn!(%error, root = %root.display(), "the search index cannot be read; starting an empty one to rebuild");
                    None
                }
            },
            None => None,
        };
        let fresh = opened.is_none();
        let shared = Shared {
            root: Some(root.clone()),
            live: RwLock::new(Arc::new(match opened {
                Some(live) => live,
                None => {
                    last += 1;
                    Live::create(Some(root.join(generation_name(last))))?
                }
            })),
            last_generation: AtomicU64::new(last),
            needs_rebuild: AtomicBool::new(fresh),
            _lock: Some(lock),
        };
        if fresh {
            shared.point_current_at(last)?;
            if let Some(old) = current
                .as_deref()
                .filter(|name| generation_number(name).is_some())
            {
                others.push(root.join(old));
            }
        }
        for folder in others {
            if let Err(error) = fs::remove_dir_all(&folder) {
                tracing::warn!(%error, folder = %folder.display(), "removing an old search index");
            }
        }
        Ok(EmbeddedIndex {
            shared: Arc::new(shared),
        })
    }

    /// An index in memory, for tests.
    pub fn in_ram() -> Result<EmbeddedIndex, SearchError> {
        Ok(EmbeddedIndex {
            shared: Arc::new(Shared {
                root: None,
                live: RwLock::new(Arc::new(Live::create(None)?)),
                last_generation: AtomicU64::new(0),
                needs_rebuild: AtomicBool::new(false),
                _lock: None,
            }),
        })
    }

    /// Whether the index was started empty (new folder, other format, unreadable) and not rebuilt since:
    /// the caller should rebuild it from the store.
    pub fn needs_rebuild(&self) -> bool {
        self.shared.needs_rebuild.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl CaseIndex for EmbeddedIndex {
    async fn upsert(&self, docs: &[CaseDoc]) -> Result<(), SearchError> {
        if docs.is_empty() {
            return Ok(());
        }
        let shared = self.shared.clone();
        let docs = docs.to_vec();
        blocking(move || shared.write(|writer, fields| add_docs(writer, fields, &docs))).await
    }

    async fn delete(&self, ids: &[i64]) -> Result<(), SearchError> {
        if ids.is_empty() {
            return Ok(());
        }
        let shared = self.shared.clone();
        let ids = ids.to_vec();
        blocking(move || {
            shared.write(|writer, fields| {
                for id in &ids {
                    writer.delete_term(Term::from_field_i64(fields.id, *id));
                }
                Ok(())
            })
        })
        .await
    }

    async fn search(&self, query: &SearchQuery) -> Result<SearchPage, SearchError> {
        query.validate()?;
        if query.scope.is_empty() {
            return Ok(SearchPage {
                facets: Facets {
                    level: query.facet_level,
                    ..Facets::default()
                },
                ..SearchPage::default()
            });
        }
        let live = self.shared.live()?;
        let query = query.clone();
        blocking(move || live.search(&query)).await
    }

    async fn fingerprint(
        &self,
        county: i64,
        within: Option<Subtree>,
    ) -> Result<Fingerprint, SearchError> {
        let digests = self.digests(county, within).await?;
        let mut out = Fingerprint::default();
        for (_, digest) in digests {
            out.add_digest(digest);
        }
        Ok(out)
    }

    async fn digests(
        &self,
        county: i64,
        within: Option<Subtree>,
    ) -> Result<Vec<(i64, u64)>, SearchError> {
        let live = self.shared.live()?;
        blocking(move || live.digests(county, within)).await
    }

    async fn rebuild(&self) -> Result<Box<dyn Rebuild>, SearchError> {
        let shared = self.shared.clone();
        blocking(move || {
            let generation = shared.last_generation.fetch_add(1, Ordering::SeqCst) + 1;
            let folder = shared
                .root
                .as_ref()
                .map(|root| root.join(generation_name(generation)));
            let live = Live::create(folder)?;
            Ok(Box::new(EmbeddedRebuild {
                shared,
                generation,
                live: Some(Arc::new(live)),
            }) as Box<dyn Rebuild>)
        })
        .await
    }
}

/// A generation being built; removed unless published.
struct EmbeddedRebuild {
    shared: Arc<Shared>,
    generation: u64,
    live: Option<Arc<Live>>,
}

impl EmbeddedRebuild {
    fn live(&self) -> Result<Arc<Live>, SearchError> {
        self.live
            .clone()
            .ok_or_else(|| SearchError::internal("the rebuild is over"))
    }
}

#[async_trait]
impl Rebuild for EmbeddedRebuild {
    async fn add(&mut self, docs: &[CaseDoc]) -> Result<(), SearchError> {
        let live = self.live()?;
        let docs = docs.to_vec();
        blocking(move || {
            let guard = live.writer.lock().map_err(poisoned)?;
            let writer = guard
                .as_ref()
                .ok_or_else(|| SearchError::internal("the rebuild is over"))?;
            add_docs(writer, &live.fields, &docs).map_err(engine)
        })
        .await
    }

    async fn publish(mut self: Box<Self>) -> Result<(), SearchError> {
        // Taken out first: once the swap may happen, dropping this rebuild must not remove the new index.
        let live = self
            .live
            .take()
            .ok_or_else(|| SearchError::internal("the rebuild is over"))?;
        let shared = self.shared.clone();
        let generation = self.generation;
        blocking(move || {
            let staged = live
                .write(|_, _| Ok(()))
                .map_err(|e| match e {
                    WriteError::Retired => SearchError::internal("the rebuild is over"),
                    WriteError::Failed(error) => error,
                })
                .and_then(|()| shared.point_current_at(generation));
            if let Err(error) = staged {
                live.retire();
                return Err(error);
            }
            let old = match shared.live.write() {
                Ok(mut slot) => std::mem::replace(&mut *slot, live),
                Err(poison) => {
                    live.retire();
                    return Err(poisoned(poison));
                }
            };
            shared.needs_rebuild.store(false, Ordering::SeqCst);
            old.retire();
            tracing::info!(generation, "published a rebuilt search index");
            Ok(())
        })
        .await
    }
}

impl Drop for EmbeddedRebuild {
    fn drop(&mut self) {
        if let Some(live) = self.live.take() {
            live.retire();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_names_round_trip() {
        assert_eq!(generation_name(7), "gen-00000007");
        assert_eq!(generation_number("gen-00000007"), Some(7));
        assert_eq!(generation_number("CURRENT"), None);
    }

    #[test]
    fn a_second_process_cannot_open_the_same_folder() {
        let dir = tempfile::tempdir().unwrap();
        let first = EmbeddedIndex::open(dir.path()).unwrap();
        assert!(first.needs_rebuild());
        assert!(matches!(
            EmbeddedIndex::open(dir.path()),
            Err(SearchError::Unavailable(_))
        ));
    }
}
