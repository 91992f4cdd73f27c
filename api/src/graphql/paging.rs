//! Relay connections (the GraphQL Cursor Connections Specification): the paging arguments `first`/`after`
//! and `last`/`before`, their checks, and pages cut from lists ordered by id.
//!
//! Every connection here runs over records ordered by their id (oldest first or newest first), so a cursor
//! is an id and a page is a keyset window: `after` keeps what comes after that id in the list's order,
//! `before` what comes before it, `first` takes from the front of the window and `last` from its back. A
//! cursor therefore stays valid when records are added or removed around it (`crate::paging`). Lists
//! that a parent holds whole (a center's children or units, a case's timeline) are read whole and cut in
//! the process; the cases are cut in SQL (`Store::cases`), the search hits by the index's offsets.

use async_graphql::connection::{Connection, Edge};
use async_graphql::{OutputType, SimpleObject};

use super::ids::{decode_cursor, encode_cursor};
use crate::error::{ApiError, ApiResult};
pub use crate::paging::{Order, Page, Take, Window};

/// The largest page of a connection.
pub const MAX_PAGE: i32 = 100;
/// The page a connection answers when neither `first` nor `last` is given.
pub const DEFAULT_PAGE: i32 = 20;

/// The complexity of a connection field: its page times what each node selects.
pub fn complexity(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let page = first.or(last).unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE) as usize;
    page * child_complexity + 1
}

/// Checks the page size: `first` or `last`, between 1 and 100, not both; neither takes the first 20.
pub fn take(first: Option<i32>, last: Option<i32>) -> ApiResult<Take> {
    let size = |field: &str, n: i32| {
        if (1..=MAX_PAGE).contains(&n) {
            Ok(n as u64)
        } else {
            Err(ApiError::bad_input(
                field,
                format!("must be between 1 and {MAX_PAGE}"),
            ))
        }
    };
    match (first, last) {
        (Some(_), Some(_)) => Err(ApiError::bad_input(
            "last",
            "page with first (forwards) or last (backwards), not both",
        )),
        (Some(n), None) => Ok(Take::First(size("first", n)?)),
        (None, Some(n)) => Ok(Take::Last(size("last", n)?)),
        (None, None) => Ok(Take::First(DEFAULT_PAGE as u64)),
    }
}

/// Checks the four arguments of a connection over records ordered by id: the size as `take` checks
/// it, and cursors from this kind of connection.
pub fn window(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> ApiResult<Window> {
    Ok(Window {
        take: take(first, last)?,
        after: after
            .as_deref()
            .map(|c| decode_cursor("after", c))
            .transpose()?,
        before: before
            .as_deref()
            .map(|c| decode_cursor("before", c))
            .transpose()?,
    })
}

/// What every connection tells besides its page.
#[derive(SimpleObject)]
pub struct Counted {
    /// How many records the whole list holds, on every page alike.
    pub total_count: u64,
}

/// A connection of `Node`s, each cursor the record's id.
pub type Counting<N> = Connection<String, N, Counted>;

/// The connection of a page: each record shown as `show` shows it, its cursor from its id.
pub fn connection<T, N: OutputType>(
    page: Page<T>,
    id: impl Fn(&T) -> i64,
    show: impl Fn(T) -> N,
    total_count: u64,
) -> Counting<N> {
    let mut connection = Connection::with_additional_fields(
        page.has_previous,
        page.has_next,
        Counted { total_count },
    );
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|item| Edge::new(encode_cursor(id(&item)), show(item))),
    );
    connection
}

/// The connection of a list held whole: cut, counted, shown.
pub fn of_list<T, N: OutputType>(
    items: Vec<T>,
    order: Order,
    id: impl Fn(&T) -> i64 + Copy,
    show: impl Fn(T) -> N,
    window: &Window,
) -> Counting<N> {
    let total = items.len() as u64;
    connection(Page::cut(items, order, id, window), id, show, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(
        first: Option<i32>,
        after: Option<i64>,
        last: Option<i32>,
        before: Option<i64>,
    ) -> Window {
        window(
            first,
            after.map(encode_cursor),
            last,
            before.map(encode_cursor),
        )
        .unwrap()
    }

    fn ids(page: &Page<i64>) -> Vec<i64> {
        page.items.clone()
    }

    #[test]
    fn arguments_are_checked() {
        assert!(window(Some(0), None, None, None).is_err());
        assert!(window(Some(101), None, None, None).is_err());
        assert!(window(None, None, Some(-1), None).is_err());
        assert!(window(Some(5), None, Some(5), None).is_err());
        assert!(window(Some(5), Some("nope".into()), None, None).is_err());
        assert!(window(None, None, Some(5), Some("nope".into())).is_err());
        assert_eq!(
            window(None, None, None, None).unwrap().take,
            Take::First(20)
        );
    }

    #[test]
    fn pages_forwards_and_backwards_in_either_order() {
        let oldest_first: Vec<i64> = (1..=10).collect();
        let page = Page::cut(
            oldest_first.clone(),
            Order::OldestFirst,
            |i| *i,
            &at(Some(3), None, None, None),
        );
        assert_eq!(
            (ids(&page), page.has_previous, page.has_next),
            (vec![1, 2, 3], false, true)
        );
        let page = Page::cut(
            oldest_first.clone(),
            Order::OldestFirst,
            |i| *i,
            &at(Some(3), Some(8), None, None),
        );
        assert_eq!(
            (ids(&page), page.has_previous, page.has_next),
            (vec![9, 10], true, false)
        );
        let page = Page::cut(
            oldest_first.clone(),
            Order::OldestFirst,
            |i| *i,
            &at(None, None, Some(3), None),
        );
        assert_eq!(
            (ids(&page), page.has_previous, page.has_next),
            (vec![8, 9, 10], true, false)
        );
        let page = Page::cut(
            oldest_first.clone(),
            Order::OldestFirst,
            |i| *i,
            &at(None, None, Some(3), Some(3)),
        );
        assert_eq!(
            (ids(&page), page.has_previous, page.has_next),
            (vec![1, 2], false, true)
        );
        let page = Page::cut(
            oldest_first,
            Order::OldestFirst,
            |i| *i,
            &at(Some(10), Some(2), None, Some(6)),
        );
        assert_eq!(
            (ids(&page), page.has_previous, page.has_next),
            (vec![3, 4, 5], true, true)
        );

        let newest_first: Vec<i64> = (1..=10).rev().collect();
        let page = Page::cut(
            newest_first.clone(),
            Order::NewestFirst,
            |i| *i,
            &at(Some(3), Some(8), None, None),
        );
        assert_eq!(
            (ids(&page), page.has_previous, page.has_next),
            (vec![7, 6, 5], true, true)
        );
        let page = Page::cut(
            newest_first,
            Order::NewestFirst,
            |i| *i,
            &at(None, None, Some(4), Some(3)),
        );
        assert_eq!(
            (ids(&page), page.has_previous, page.has_next),
            (vec![7, 6, 5, 4], true, true)
        );
    }

    #[test]
    fn a_cursor_outlives_its_record() {
        // The record 5 was removed after its cursor was handed out: the page still starts after it.
        let list = vec![1, 2, 3, 4, 6, 7];
        let page = Page::cut(
            list,
            Order::OldestFirst,
            |i| *i,
            &at(Some(2), Some(5), None, None),
        );
        assert_eq!((ids(&page), page.has_previous), (vec![6, 7], true));
    }
}
