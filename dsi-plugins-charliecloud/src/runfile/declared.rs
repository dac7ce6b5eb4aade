//! The `INPUT`, `OUTPUT` and `METRIC` items declared so far, and the line of
//! the first item with a given key, for the duplicate check (E385).
//!
//! A Runfile declares a handful of items, so the key of a new item is looked
//! up by scanning the items themselves: no copy of the key and no map. Past
//! [`SCAN_LIMIT`] items a map from key to line is built once and kept up to
//! date, so a hostile Runfile with thousands of declarations stays linear.

use std::borrow::Cow;
use std::collections::HashMap;

use super::model::{Input, Metric, Output};

/// Most items looked up by scanning; beyond, through the map.
const SCAN_LIMIT: usize = 16;

/// An item with a duplicate-check key.
pub(crate) trait Keyed {
    /// The key two items of one kind must not share.
    fn key(&self) -> Cow<'_, str>;
    /// The line of the item's keyword.
    fn line(&self) -> usize;
}

impl Keyed for Input {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.path)
    }
    fn line(&self) -> usize {
        self.line
    }
}

impl Keyed for Output {
    fn key(&self) -> Cow<'_, str> {
        self.target.spelling()
    }
    fn line(&self) -> usize {
        self.line
    }
}

impl Keyed for Metric {
    fn key(&self) -> Cow<'_, str> {
        Cow::Borrowed(&self.name)
    }
    fn line(&self) -> usize {
        self.line
    }
}

/// Items of one kind in declaration order, with their keys' first lines.
pub(crate) struct Declared<T> {
    items: Vec<T>,
    /// Key → line of its first item; filled once `items` outgrows
    /// [`SCAN_LIMIT`].
    lines: HashMap<String, usize>,
}

impl<T: Keyed> Declared<T> {
    /// No items.
    pub(crate) fn new() -> Self {
        Declared {
            items: Vec::new(),
            lines: HashMap::new(),
        }
    }

    /// How many items were declared.
    pub(crate) fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether no item was declared.
    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The line of the first item whose key is `key`.
    pub(crate) fn first_line(&self, key: &str) -> Option<usize> {
        if self.items.len() <= SCAN_LIMIT {
            self.items
                .iter()
                .find(|item| item.key() == key)
                .map(Keyed::line)
        } else {
            self.lines.get(key).copied()
        }
    }

    /// Add `item` (after [`Declared::first_line`] found no duplicate).
    pub(crate) fn push(&mut self, item: T) {
        if self.items.len() == SCAN_LIMIT {
            for old in &self.items {
                self.lines
                    .entry(old.key().into_owned())
                    .or_insert(old.line());
            }
        }
        if self.items.len() >= SCAN_LIMIT {
            self.lines
                .entry(item.key().into_owned())
                .or_insert(item.line());
        }
        self.items.push(item);
    }

    /// The items, in declaration order.
    pub(crate) fn into_vec(self) -> Vec<T> {
        self.items
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(path: &str, line: usize) -> Input {
        Input {
            path: path.to_owned(),
            line,
            col: 1,
        }
    }

    #[test]
    fn first_lines_by_scan_and_by_map() {
        for n in [3, SCAN_LIMIT, SCAN_LIMIT + 1, 3 * SCAN_LIMIT] {
            let mut d = Declared::new();
            for i in 0..n {
                let key = format!("in/{i}");
                assert_eq!(d.first_line(&key), None, "{n} items: {key} is new");
                d.push(input(&key, i + 1));
            }
            assert_eq!(d.len(), n);
            for i in 0..n {
                assert_eq!(d.first_line(&format!("in/{i}")), Some(i + 1), "{n} items");
            }
            assert_eq!(d.first_line("in/x"), None);
            let items = d.into_vec();
            assert_eq!(items.len(), n);
            assert_eq!(items[n - 1].path, format!("in/{}", n - 1));
        }
    }
}
