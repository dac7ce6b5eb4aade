//! [`Stores`]: the one read policy over the loaded back-ends.
//!
//! Every read a front-end makes (the CLI, a web page, an embedding program)
//! goes through this type, so that every command answers the same question
//! the same way when several stores are loaded:
//!
//! * **Union.** A query runs on every store that has the table; a store
//!   without the table contributes nothing. When no store has it, the
//!   answer is `None` (reads) or [`Error::NotFound`] (lookups). A store
//!   whose table lacks a column the query filters on (it was written
//!   before that column existed) contributes no rows either.
//! * **De-duplication.** Rows with the same key (for `runs`, the run id)
//!   are one row: the copy from the store loaded first wins.
//! * **Order.** Rows are merged by the query's order column (stable: at
//!   equal values, earlier stores first, then each store's own order); the
//!   limit applies after merging and de-duplication.
//! * **Lookups by prefix.** A key prefix names one row if exactly one
//!   distinct key across all stores starts with it; two or more are
//!   [`Error::Ambiguous`] listing them.
//! * **Blobs.** Blob content is read from the store the row came from if it
//!   holds it, else from the first store that does; a store's error is
//!   reported, never skipped silently.
//!
//! `Stores` knows no table's columns: callers name the key column (the
//! `runs` schema lives in the Charliecloud plugin crate's `records`).

use std::cmp::Ordering;
use std::collections::HashSet;

use crate::blob::{BlobReader, BlobRef};
use crate::driver::{Driver, Filter, FilterOp, Query, TableQuery, compare};
use crate::error::{Error, Result};
use crate::table::Table;
use crate::value::Value;

/// A borrowed view of the loaded back-ends, in load order.
#[derive(Clone, Copy)]
pub struct Stores<'a> {
    backends: &'a [Box<dyn Driver>],
}

impl std::fmt::Debug for Stores<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.backends
                    .iter()
                    .map(|d| (d.name(), d.location().to_string())),
            )
            .finish()
    }
}

/// One row found by a lookup, and the store it came from.
#[derive(Debug)]
pub struct Found<'a> {
    /// A one-row table.
    pub row: Table,
    /// The store that holds it (and, usually, its blobs).
    pub store: &'a dyn Driver,
}

/// Whether `e` says the table lacks a column `query` filters on: a store
/// written before that column existed.
fn lacks_filter_column(e: &Error, query: &TableQuery) -> bool {
    matches!(e, Error::NotFound { kind: "column", key, .. }
        if query.filters.iter().any(|f| f.column == *key))
}

/// Most candidates an [`Error::Ambiguous`] lists.
const MAX_CANDIDATES: usize = 5;

impl<'a> Stores<'a> {
    /// A view over these back-ends.
    pub fn new(backends: &'a [Box<dyn Driver>]) -> Self {
        Stores { backends }
    }

    /// The back-ends, in load order.
    pub fn backends(&self) -> &'a [Box<dyn Driver>] {
        self.backends
    }

    /// Whether no back-end is loaded.
    pub fn is_empty(&self) -> bool {
        self.backends.is_empty()
    }

    /// Each store's answer to `query`, in load order, tagged with the store;
    /// stores without the table are left out. `None` when no store has it.
    fn per_store(&self, query: &TableQuery) -> Result<Option<Vec<(usize, Table)>>> {
        let mut out = Vec::new();
        let mut any = false;
        for (i, d) in self.backends.iter().enumerate() {
            match d.get(&Query::Table(query.clone())) {
                Ok(c) => {
                    any = true;
                    if let Some(t) = c.into_tables().into_iter().next() {
                        out.push((i, t));
                    }
                }
                Err(e) if e.is_not_found("table") => {}
                // The table predates a column the query filters on: none of
                // its rows can match (as a null never matches).
                Err(e) if lacks_filter_column(&e, query) => any = true,
                Err(e) => return Err(e),
            }
        }
        Ok(any.then_some(out))
    }

    /// The rows `query` selects across every store, merged by the rule in
    /// the module documentation, de-duplicated by `key`. `None` when no
    /// store has the table.
    pub fn rows(&self, query: &TableQuery, key: &str) -> Result<Option<Table>> {
        Ok(self.rows_tagged(query, key)?.map(|(t, _)| t))
    }

    /// Like [`Stores::rows`], also saying which store each row came from.
    pub fn rows_tagged(
        &self,
        query: &TableQuery,
        key: &str,
    ) -> Result<Option<(Table, Vec<&'a dyn Driver>)>> {
        let want = query
            .limit
            .map_or(usize::MAX, |n| usize::try_from(n).unwrap_or(usize::MAX));
        let mut fetch = query.clone();
        loop {
            let Some(parts) = self.per_store(&fetch)? else {
                return Ok(None);
            };
            let truncated = fetch
                .limit
                .is_some_and(|n| parts.iter().any(|(_, t)| t.num_rows() as u64 >= n));
            let (table, from) = self.merge(parts, query, key, want)?;
            // Duplicates across stores may have pushed rows out of a store's
            // first `limit`: ask again for more until the page is full.
            if table.num_rows() >= want || !truncated || self.backends.len() == 1 {
                return Ok(Some((table, from)));
            }
            fetch.limit = fetch.limit.map(|n| n.saturating_mul(2));
        }
    }

    /// Merges each store's rows: de-duplicated by `key` (the earliest
    /// store's copy wins), then sorted stably by the order column, then
    /// limited to `want`.
    fn merge(
        &self,
        parts: Vec<(usize, Table)>,
        query: &TableQuery,
        key: &str,
        want: usize,
    ) -> Result<(Table, Vec<&'a dyn Driver>)> {
        if parts.is_empty() {
            let empty = Table::new(query.table.clone())?;
            return Ok((empty, Vec::new()));
        }
        if parts.len() == 1 {
            let (i, t) = parts.into_iter().next().expect("one part");
            let n = t.num_rows();
            return Ok((t, vec![self.backends[i].as_ref(); n]));
        }
        let mut seen = HashSet::new();
        let mut rows: Vec<(usize, usize)> = Vec::new();
        for (p, (_, t)) in parts.iter().enumerate() {
            for r in 0..t.num_rows() {
                let k = t.get(r, key).map(Value::to_json).unwrap_or_default();
                if k.is_null() || seen.insert(k.to_string()) {
                    rows.push((p, r));
                }
            }
        }
        if let Some(order) = &query.order_by {
            let cell = |&(p, r): &(usize, usize)| -> Value {
                parts[p]
                    .1
                    .get(r, &order.column)
                    .cloned()
                    .unwrap_or(Value::Null)
            };
            rows.sort_by(|a, b| {
                let (x, y) = (cell(a), cell(b));
                let o = match (x.is_null(), y.is_null()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    _ => compare(&x, &y).unwrap_or(Ordering::Equal),
                };
                if order.descending { o.reverse() } else { o }
            });
        }
        rows.truncate(want);
        // One table of every part's rows (columns unioned), then the chosen
        // rows in merged order.
        let mut offsets = Vec::with_capacity(parts.len());
        let mut all: Option<Table> = None;
        for (_, t) in &parts {
            offsets.push(all.as_ref().map_or(0, Table::num_rows));
            match &mut all {
                Some(a) => a.append_rows(t.clone())?,
                None => all = Some(t.clone()),
            }
        }
        let all = all.expect("at least two parts");
        let picked: Vec<usize> = rows.iter().map(|&(p, r)| offsets[p] + r).collect();
        let from = rows
            .iter()
            .map(|&(p, _)| self.backends[parts[p].0].as_ref())
            .collect();
        let table = all.select_rows(&picked)?;
        Ok((table, from))
    }

    /// How many distinct rows `query` selects across every store (order and
    /// limit ignored). With one store this is the driver's own count.
    pub fn count(&self, query: &TableQuery, key: &str) -> Result<u64> {
        if self.backends.len() == 1 {
            return match self.backends[0].count(&query.unlimited()) {
                Err(e) if e.is_not_found("table") || lacks_filter_column(&e, query) => Ok(0),
                other => other,
            };
        }
        let keys = query.unlimited().select([key]);
        Ok(self.rows(&keys, key)?.map_or(0, |t| t.num_rows() as u64))
    }

    /// The one row whose `key` column starts with `prefix`, across every
    /// store. `kind` names what is looked for in errors (`run`).
    pub fn unique_by_prefix(
        &self,
        table: &str,
        key: &str,
        prefix: &str,
        kind: &'static str,
    ) -> Result<Found<'a>> {
        let query = TableQuery::new(table)
            .filter(Filter::new(key, FilterOp::StartsWith, prefix))
            .limit(MAX_CANDIDATES as u64);
        self.unique(&query, key, prefix, kind)
    }

    /// The one row `query` selects across every store (distinct by `key`);
    /// none is [`Error::NotFound`], several [`Error::Ambiguous`].
    pub fn unique(
        &self,
        query: &TableQuery,
        key: &str,
        shown: &str,
        kind: &'static str,
    ) -> Result<Found<'a>> {
        let Some((t, from)) = self.rows_tagged(query, key)? else {
            return Err(self.nothing_recorded(kind, shown, table_name(query)));
        };
        match t.num_rows() {
            0 => Err(Error::not_found(kind, shown)),
            1 => Ok(Found {
                row: t,
                store: from[0],
            }),
            n => Err(Error::Ambiguous {
                kind,
                key: shown.to_owned(),
                candidates: (0..n.min(MAX_CANDIDATES))
                    .map(|r| t.get(r, key).map(ToString::to_string).unwrap_or_default())
                    .collect(),
            }),
        }
    }

    /// The first row of an ordered `query` across every store, if any.
    pub fn first(&self, query: &TableQuery, key: &str) -> Result<Option<Found<'a>>> {
        let q = query.clone().limit(1);
        let Some((mut t, from)) = self.rows_tagged(&q, key)? else {
            return Ok(None);
        };
        if t.num_rows() == 0 {
            return Ok(None);
        }
        t.retain_rows(|r| r == 0);
        Ok(Some(Found {
            row: t,
            store: from[0],
        }))
    }

    fn nothing_recorded(&self, kind: &'static str, key: &str, table: &str) -> Error {
        let names: Vec<String> = self
            .backends
            .iter()
            .map(|d| format!("{} store {}", d.name(), d.location()))
            .collect();
        Error::not_found_in(
            kind,
            key,
            format!("{} (it has no '{table}' table yet)", names.join(" or ")),
        )
    }

    /// Opens blob content, from `preferred` if it holds it, else from the
    /// first store that does. A store that fails to answer is an error.
    pub fn blob(
        &self,
        blob: &BlobRef,
        preferred: Option<&'a dyn Driver>,
    ) -> Result<BlobReader<'a>> {
        if let Some(d) = preferred
            && d.has_blob(blob)?
        {
            return d.get_blob(blob);
        }
        for d in self.backends {
            if d.has_blob(blob)? {
                return d.get_blob(blob);
            }
        }
        Err(Error::not_found_in(
            "blob",
            blob.to_string(),
            "any loaded store",
        ))
    }
}

fn table_name(q: &TableQuery) -> &str {
    &q.table
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryDriver;
    use crate::table::{Collection, Column};
    use crate::value::DataType;

    fn store(rows: &[(&str, i64)]) -> Box<dyn Driver> {
        let d = MemoryDriver::new();
        let t = Table::from_columns(
            "runs",
            vec![
                Column::new(
                    "id",
                    DataType::Text,
                    rows.iter().map(|(i, _)| Value::from(*i)).collect(),
                )
                .unwrap(),
                Column::new(
                    "t",
                    DataType::Int,
                    rows.iter().map(|(_, t)| Value::Int(*t)).collect(),
                )
                .unwrap(),
            ],
        )
        .unwrap();
        d.put(&Collection::of(t)).unwrap();
        Box::new(d)
    }

    fn ids(t: &Table) -> Vec<String> {
        (0..t.num_rows())
            .map(|r| t.get(r, "id").unwrap().to_string())
            .collect()
    }

    #[test]
    fn rows_merge_in_order_and_deduplicate_with_the_first_store_winning() {
        let backends = vec![
            store(&[("A1", 1), ("B3", 3)]),
            store(&[("B3", 30), ("C2", 2)]),
        ];
        let s = Stores::new(&backends);
        let q = TableQuery::new("runs").order_by("t", true);
        let (t, from) = s.rows_tagged(&q, "id").unwrap().unwrap();
        assert_eq!(ids(&t), ["B3", "C2", "A1"]);
        assert_eq!(t.get(0, "t"), Some(&Value::Int(3)), "first store's copy");
        assert!(std::ptr::eq(from[1], backends[1].as_ref()));
        assert_eq!(s.count(&q, "id").unwrap(), 3);
        let limited = s.rows(&q.clone().limit(2), "id").unwrap().unwrap();
        assert_eq!(ids(&limited), ["B3", "C2"]);
    }

    #[test]
    fn prefixes_are_unique_not_found_or_ambiguous() {
        let backends = vec![store(&[("AB1", 1)]), store(&[("AB2", 2), ("C", 3)])];
        let s = Stores::new(&backends);
        let f = s.unique_by_prefix("runs", "id", "C", "run").unwrap();
        assert_eq!(ids(&f.row), ["C"]);
        assert!(std::ptr::eq(f.store, backends[1].as_ref()));
        let e = s.unique_by_prefix("runs", "id", "AB", "run").unwrap_err();
        assert!(
            matches!(e, Error::Ambiguous { ref candidates, .. } if candidates.len() == 2),
            "{e}"
        );
        let e = s.unique_by_prefix("runs", "id", "Z", "run").unwrap_err();
        assert_eq!(e.to_string(), "run 'Z' not found");
    }

    #[test]
    fn a_store_predating_a_filtered_column_contributes_no_rows() {
        let newer = MemoryDriver::new();
        let t = Table::from_columns(
            "runs",
            vec![
                Column::new("id", DataType::Text, vec![Value::from("N1")]).unwrap(),
                Column::new("t", DataType::Int, vec![Value::Int(5)]).unwrap(),
                Column::new("v", DataType::Text, vec![Value::from("x")]).unwrap(),
            ],
        )
        .unwrap();
        newer.put(&Collection::of(t)).unwrap();
        let backends = vec![store(&[("O1", 1)]), Box::new(newer) as Box<dyn Driver>];
        let s = Stores::new(&backends);
        let q = TableQuery::new("runs").filter(Filter::new("v", FilterOp::Eq, "x"));
        assert_eq!(ids(&s.rows(&q, "id").unwrap().unwrap()), ["N1"]);
        assert_eq!(s.count(&q, "id").unwrap(), 1);
        let old = &backends[..1];
        let s = Stores::new(old);
        assert_eq!(s.rows(&q, "id").unwrap().unwrap().num_rows(), 0);
        assert_eq!(s.count(&q, "id").unwrap(), 0);
    }

    #[test]
    fn a_missing_table_everywhere_is_none_or_not_found() {
        let backends: Vec<Box<dyn Driver>> = vec![Box::new(MemoryDriver::new())];
        let s = Stores::new(&backends);
        assert!(s.rows(&TableQuery::new("runs"), "id").unwrap().is_none());
        assert_eq!(s.count(&TableQuery::new("runs"), "id").unwrap(), 0);
        let e = s.unique_by_prefix("runs", "id", "A", "run").unwrap_err();
        assert!(e.is_not_found("run"), "{e}");
        assert!(e.to_string().contains("has no 'runs' table yet"), "{e}");
    }
}
