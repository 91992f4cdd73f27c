//! Which rows a database transaction may touch: the second wall behind casbin.
//!
//! On PostgreSQL every tenant table has row-level security, `FORCE`d (migration
//! `m20261126_000001_row_security`), and its policies read three settings that `Store` sets at the start of
//! every transaction from the scope of the task it runs in:
//!
//! - `fengqiao.system = 'on'`: every row (start-up, background jobs, command-line tools, sign-in);
//! - `fengqiao.county = <id>`: the rows of one county;
//! - `fengqiao.tenants = '*'` or a list of tenant ids: of that county's cases, all of them or those
//!   registered in the subtrees of the listed tenants.
//!
//! A transaction with none of them set sees no row and can write none. SQLite has no row-level security; there
//! the scope is only the application's own checks.
//!
//! A request runs in the scope of its caller (`within`); an anonymous request in `DbScope::Nobody`; work the
//! process does on its own behalf (start-up, background jobs, command-line tools) says so with `as_system`.
//! A statement with no scope at all is refused on both databases (`StoreUnscoped`, naming the store call
//! that ran it): forgetting the scope fails closed, never open.

use std::future::Future;
use std::panic::Location;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::Stream;

use sea_orm::{ConnectionTrait, DatabaseBackend, DbErr, Statement};

tokio::task_local! {
    static SCOPE: DbScope;
}

/// The rows the current task may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbScope {
    /// Every row.
    System,
    /// A signed-in principal: the rows of one county, and of its cases those within `reach`.
    Principal { county: i64, reach: Reach },
    /// No row at all.
    Nobody,
}

/// Which of a county's cases a principal's transactions may touch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// Every case of the county.
    County,
    /// Cases registered in the subtree of one of these tenants (a county, township, village or grid).
    Subtrees(Vec<i64>),
}

/// The scope of the current task, if one was set.
pub fn current() -> Option<DbScope> {
    SCOPE.try_with(Clone::clone).ok()
}

/// The scope of the current task, or the refusal of the statement that `at` (a store call) was about to
/// run without one.
pub(crate) fn required(at: &'static Location<'static>) -> Result<DbScope, DbErr> {
    current().ok_or_else(|| {
        DbErr::Custom(format!(
            "{UNSCOPED}: {}:{} ran a statement outside any scope; run it `within` the caller's scope, \
             or `as_system` for work the process does on its own behalf",
            at.file(),
            at.line()
        ))
    })
}

/// How the refusal of an unscoped statement begins.
pub const UNSCOPED: &str = "unscoped database access";

/// Runs `work` in `scope`.
pub async fn within<F: Future>(scope: DbScope, work: F) -> F::Output {
    SCOPE.scope(scope, work).await
}

/// Spawns `work` on the runtime in the scope of the task that spawns it (none if it has none): for work a
/// request hands to another task, such as the batched loads of GraphQL child fields.
pub fn spawn_in_current_scope<F>(work: F)
where
    F: Future<Output = ()> + Send + 'static,
{
    match current() {
        Some(scope) => tokio::spawn(within(scope, work)),
        None => tokio::spawn(work),
    };
}

/// `stream` with every poll of it in `scope`: for GraphQL subscriptions, whose resolvers run as their
/// response stream is polled, by the websocket connection rather than in a task of ours.
pub fn within_stream<S: Stream + Unpin>(scope: DbScope, stream: S) -> Scoped<S> {
    Scoped {
        scope,
        inner: stream,
    }
}

/// See `within_stream`.
pub struct Scoped<S> {
    scope: DbScope,
    inner: S,
}

impl<S: Stream + Unpin> Stream for Scoped<S> {
    type Item = S::Item;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<S::Item>> {
        let this = &mut *self;
        SCOPE.sync_scope(this.scope.clone(), || {
            Pin::new(&mut this.inner).poll_next(cx)
        })
    }
}

/// Leave for work the process does on its own behalf (the deadline scanner, bootstrapping a county,
/// rebuilding the search index, seeding): the use cases that act for nobody take one, and run as the system
/// with it. Request code never holds one: only the composition roots (`lib.rs`, `main.rs`, `seed.rs`) and
/// tests make it, and `tests/it/layers.rs` fails if any other file of the server names `for_the_process`.
#[derive(Debug)]
pub struct SystemPermit {
    _only_by_for_the_process: (),
}

impl SystemPermit {
    /// The process's own leave; see the type.
    pub fn for_the_process() -> SystemPermit {
        SystemPermit {
            _only_by_for_the_process: (),
        }
    }

    /// Runs `work` as the system.
    pub async fn run<F: Future>(&self, work: F) -> F::Output {
        as_system(work).await
    }
}

/// Runs `work` as the system: for what must look beyond the caller, such as finding an account by name at
/// sign-in.
pub async fn as_system<F: Future>(work: F) -> F::Output {
    within(DbScope::System, work).await
}

/// Runs `work` with the caller's reach widened to every case of its county, for look-ups that count
/// across the county without returning cases (a party's earlier cases for the risk grade). Any other
/// scope is kept as it is.
pub async fn across_county<F: Future>(work: F) -> F::Output {
    match current() {
        Some(DbScope::Principal { county, .. }) => {
            let county_wide = DbScope::Principal {
                county,
                reach: Reach::County,
            };
            within(county_wide, work).await
        }
        _ => work.await,
    }
}

impl DbScope {
    /// The values of `fengqiao.system`, `fengqiao.county` and `fengqiao.tenants`.
    fn settings(&self) -> [String; 3] {
        match self {
            DbScope::System => ["on".into(), String::new(), String::new()],
            DbScope::Principal { county, reach } => {
                let tenants = match reach {
                    Reach::County => "*".to_owned(),
                    Reach::Subtrees(ids) => {
                        ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
                    }
                };
                [String::new(), county.to_string(), tenants]
            }
            DbScope::Nobody => [String::new(), String::new(), String::new()],
        }
    }
}

/// Sets `scope` for the rest of the transaction `txn` (PostgreSQL; nothing on SQLite).
pub(crate) async fn apply<C: ConnectionTrait>(txn: &C, scope: &DbScope) -> Result<(), DbErr> {
    if txn.get_database_backend() != DatabaseBackend::Postgres {
        return Ok(());
    }
    let [system, county, tenants] = scope.settings();
    txn.execute_raw(Statement::from_sql_and_values(
        DatabaseBackend::Postgres,
        "SELECT set_config('fengqiao.system', $1, true), set_config('fengqiao.county', $2, true), \
         set_config('fengqiao.tenants', $3, true)",
        [system.into(), county.into(), tenants.into()],
    ))
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn outside_any_scope_there_is_none_and_a_statement_is_refused_naming_its_call() {
        assert_eq!(current(), None);
        let refused = required(Location::caller()).unwrap_err().to_string();
        assert!(refused.contains(UNSCOPED), "{refused}");
        assert!(refused.contains("scope.rs"), "{refused}");
        as_system(async { assert_eq!(current(), Some(DbScope::System)) }).await;
    }

    #[tokio::test]
    async fn a_scope_holds_for_the_work_it_wraps_and_widens_only_a_principal() {
        let caller = DbScope::Principal {
            county: 7,
            reach: Reach::Subtrees(vec![70, 710]),
        };
        within(caller.clone(), async {
            assert_eq!(current(), Some(caller.clone()));
            assert_eq!(
                current().unwrap().settings(),
                ["".to_owned(), "7".to_owned(), "70,710".to_owned()]
            );
            across_county(async {
                assert_eq!(
                    current(),
                    Some(DbScope::Principal {
                        county: 7,
                        reach: Reach::County
                    })
                );
            })
            .await;
            assert_eq!(current(), Some(caller.clone()));
        })
        .await;
        within(DbScope::Nobody, async {
            across_county(async { assert_eq!(current(), Some(DbScope::Nobody)) }).await;
            assert_eq!(
                current().unwrap().settings(),
                ["", "", ""].map(String::from)
            );
        })
        .await;
    }

    #[tokio::test]
    async fn a_scoped_stream_is_in_its_scope_at_every_poll_and_leaves_it_between() {
        use futures::StreamExt;
        let caller = DbScope::Principal {
            county: 3,
            reach: Reach::County,
        };
        let seen: Vec<Option<DbScope>> = within_stream(
            caller.clone(),
            futures::stream::iter(0..3)
                .then(|_| async {
                    tokio::task::yield_now().await;
                    current()
                })
                .boxed(),
        )
        .collect()
        .await;
        assert_eq!(seen, vec![Some(caller); 3]);
        assert_eq!(current(), None);
    }
}
