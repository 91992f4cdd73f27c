//! Keyset pages over records ordered by id: the window a page lies in (between two ids, so many from the
//! front or the back) and a page cut from a list held whole. The GraphQL connections read their
//! arguments into a `Window` (`graphql/paging.rs`); the store cuts the cases' pages in SQL by the same
//! rules.

/// Which way a list runs by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    OldestFirst,
    NewestFirst,
}

impl Order {
    /// Whether the record with id `a` comes before the one with id `b` in this order.
    fn precedes(self, a: i64, b: i64) -> bool {
        match self {
            Order::OldestFirst => a < b,
            Order::NewestFirst => a > b,
        }
    }
}

/// How many records a page takes, and from which end of its window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Take {
    First(u64),
    Last(u64),
}

/// A page asked for: the ids it lies between (both ends excluded) and how many it takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub after: Option<i64>,
    pub before: Option<i64>,
    pub take: Take,
}

impl Window {
    /// Whether the record with id `id` lies inside the window's cursors.
    fn contains(&self, order: Order, id: i64) -> bool {
        self.after.is_none_or(|after| order.precedes(after, id))
            && self.before.is_none_or(|before| order.precedes(id, before))
    }
}

/// One page of records and whether others lie before or after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub has_previous: bool,
    pub has_next: bool,
}

impl<T> Page<T> {
    /// Cuts the page out of a whole list that runs in `order` by `id`.
    pub fn cut(items: Vec<T>, order: Order, id: impl Fn(&T) -> i64, window: &Window) -> Page<T> {
        let total = items.len();
        let mut inside: Vec<T> = Vec::with_capacity(total.min(128));
        let (mut before_window, mut after_window) = (false, false);
        for item in items {
            let key = id(&item);
            if window.contains(order, key) {
                inside.push(item);
            } else if window
                .after
                .is_some_and(|after| !order.precedes(after, key))
            {
                before_window = true;
            } else {
                after_window = true;
            }
        }
        match window.take {
            Take::First(n) => {
                let more = inside.len() as u64 > n;
                inside.truncate(n as usize);
                Page {
                    items: inside,
                    has_previous: before_window,
                    has_next: more || after_window,
                }
            }
            Take::Last(n) => {
                let more = inside.len() as u64 > n;
                let skip = inside.len().saturating_sub(n as usize);
                Page {
                    items: inside.into_iter().skip(skip).collect(),
                    has_previous: more || before_window,
                    has_next: after_window,
                }
            }
        }
    }
}
