//! Ordered, limited reads (`dsi list`: the newest 20 of a million runs)
//! that open only the files that can hold the result.
//!
//! The log's statistics give every file's best possible value of the order
//! column (its maximum for a descending order, its minimum — or null,
//! which sorts first — for an ascending one). Files are visited best bound
//! first; the first pass decodes only the order and filter columns, and
//! stops as soon as `limit` matching rows are known and the next file's
//! bound sorts strictly after the last of them. The second pass decodes
//! the chosen rows (only their pages) in full. Ties are broken by put
//! order, exactly as [`TableQuery::apply`] on everything would: a file
//! whose bound equals the limit row's value is always read.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::ops::Range;

use dsi_core::{Column, DataType, Result, Table, TableQuery, Value};
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::Dataset;
use crate::FETCH_CONCURRENCY;
use crate::read::{FileRef, Part, TableView};

/// The name of the row-position column added in the first pass: one the
/// table does not have.
fn position_column(columns: &[(String, DataType)]) -> String {
    let mut name = String::from("_dsi_position");
    while columns.iter().any(|(n, _)| *n == name) {
        name.push('_');
    }
    name
}

/// Consecutive ranges of sorted row numbers.
fn ranges(rows: &[usize]) -> Vec<Range<usize>> {
    let mut out: Vec<Range<usize>> = Vec::new();
    for &r in rows {
        match out.last_mut() {
            Some(last) if last.end == r => last.end = r + 1,
            _ => out.push(r..r + 1),
        }
    }
    out
}

/// Result order of two values: nulls first ascending, everything reversed
/// descending (the rule of [`TableQuery::apply`]).
fn result_order(a: &Value, b: &Value, descending: bool) -> Ordering {
    let o = match (a.is_null(), b.is_null()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        _ => dsi_core::driver::compare(a, b).unwrap_or(Ordering::Equal),
    };
    if descending { o.reverse() } else { o }
}

/// The best value a file may hold in result order; `None` when unknown
/// (the file must be read).
fn best_bound(f: &FileRef, column: &str, t: DataType, descending: bool) -> Option<Value> {
    if descending {
        f.stats.max(column, t)
    } else {
        // A null sorts first: only a file known to have none starts at its minimum.
        if f.stats.null_count(column) == Some(0) {
            f.stats.min(column, t)
        } else {
            Some(Value::Null).filter(|_| f.stats.null_count(column).is_some())
        }
    }
}

impl Dataset {
    /// `q` (which has an order and a limit) over a view, in two passes.
    pub(crate) async fn read_top(&self, q: &TableQuery, view: &TableView) -> Result<Table> {
        let (Some(order), Some(limit)) = (&q.order_by, q.limit) else {
            let t = self
                .read_view(&q.table, view, &q.filters, q.columns.as_deref())
                .await?;
            return q.apply(t);
        };
        let mut narrow_cols: Vec<String> = q.filters.iter().map(|f| f.column.clone()).collect();
        narrow_cols.push(order.column.clone());
        narrow_cols.sort();
        narrow_cols.dedup();
        let Some(order_type) = view.column_type(&order.column) else {
            // An unknown column: let the one-pass rules report it.
            let t = self.read_view(&q.table, view, &q.filters, None).await?;
            return q.apply(t);
        };
        if narrow_cols.iter().any(|c| view.column_type(c).is_none()) {
            let t = self.read_view(&q.table, view, &q.filters, None).await?;
            return q.apply(t);
        }
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        if limit == 0 {
            let schema: Vec<(&str, DataType)> =
                view.columns.iter().map(|(n, t)| (n.as_str(), *t)).collect();
            return q.apply(Table::with_schema(&q.table, &schema)?);
        }
        let index_of: BTreeMap<&str, usize> = view
            .files
            .iter()
            .enumerate()
            .map(|(i, f)| (f.path.as_ref(), i))
            .collect();
        let mut candidates: Vec<(Option<Value>, &FileRef)> = self
            .prune(view, &q.filters)
            .into_iter()
            .map(|f| {
                (
                    best_bound(f, &order.column, order_type, order.descending),
                    f,
                )
            })
            .collect();
        // Unknown bounds first, then best bound first; put order breaks ties.
        candidates.sort_by(|(a, fa), (b, fb)| {
            match (a, b) {
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
                (Some(x), Some(y)) => result_order(x, y, order.descending),
            }
            .then_with(|| index_of[fa.path.as_ref()].cmp(&index_of[fb.path.as_ref()]))
        });

        // Pass 1: the order and filter columns, file by file.
        let narrow_schema: Vec<(&str, DataType)> = view
            .columns
            .iter()
            .filter(|(n, _)| narrow_cols.contains(n))
            .map(|(n, t)| (n.as_str(), *t))
            .collect();
        let pos = position_column(&view.columns);
        let mut keys = Table::with_schema(&q.table, &narrow_schema)?;
        let mut positions: Vec<(usize, usize)> = Vec::new();
        let narrow_part = Part {
            columns: Some(narrow_cols.clone()),
            ..Part::default()
        };
        let mut at = 0;
        while at < candidates.len() {
            let mut enough = false;
            if positions.len() >= limit {
                let mut probe = keys.clone();
                let idx: Vec<Value> = (0..probe.num_rows())
                    .map(|k| Value::Int(i64::try_from(k).unwrap_or(i64::MAX)))
                    .collect();
                probe.add_column(Column::new(pos.clone(), DataType::Int, idx)?)?;
                let top = TableQuery {
                    columns: None,
                    ..q.clone()
                }
                .apply(probe)?;
                if top.num_rows() >= limit {
                    enough = true;
                    let kth = top
                        .get(limit - 1, &order.column)
                        .cloned()
                        .unwrap_or(Value::Null);
                    if let Some(b) = &candidates[at].0
                        && result_order(b, &kth, order.descending) == Ordering::Greater
                    {
                        break;
                    }
                }
            }
            // Until the limit is reached, several files at a time; then one
            // by one, checking the bound before each.
            let step = if enough { 1 } else { FETCH_CONCURRENCY };
            let batch: Vec<&FileRef> = candidates[at..]
                .iter()
                .take(step)
                .map(|(_, f)| *f)
                .collect();
            let read = batch.len();
            let table = &q.table;
            let part = &narrow_part;
            let decoded: Vec<Table> = stream::iter(batch)
                .map(|f| self.decode(table, f, part))
                .buffered(FETCH_CONCURRENCY)
                .try_collect()
                .await?;
            for (k, t) in decoded.into_iter().enumerate() {
                let file = index_of[candidates[at + k].1.path.as_ref()];
                positions.extend((0..t.num_rows()).map(|r| (file, r)));
                keys.append_rows(t)?;
            }
            at += read;
        }

        // The rows the query keeps, with the read rows in put order.
        let mut perm: Vec<usize> = (0..positions.len()).collect();
        perm.sort_by_key(|&k| positions[k]);
        let mut ordered = keys.select_rows(&perm)?;
        let positions: Vec<(usize, usize)> = perm.iter().map(|&k| positions[k]).collect();
        let idx: Vec<Value> = (0..positions.len())
            .map(|k| Value::Int(i64::try_from(k).unwrap_or(i64::MAX)))
            .collect();
        ordered.add_column(Column::new(pos.clone(), DataType::Int, idx)?)?;
        let chosen = TableQuery {
            columns: None,
            ..q.clone()
        }
        .apply(ordered)?;
        let mut by_file: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        if let Some(col) = chosen.column(&pos) {
            for v in col.values() {
                if let Value::Int(k) = v {
                    let (file, row) = positions[usize::try_from(*k).unwrap_or(0)];
                    by_file.entry(file).or_default().push(row);
                }
            }
        }

        // Pass 2: the chosen rows in full (or the projected columns).
        let wanted: Option<Vec<String>> = q.columns.as_ref().map(|c| {
            let mut w = c.clone();
            w.extend(narrow_cols.iter().cloned());
            w.sort();
            w.dedup();
            w
        });
        let reads: Vec<(usize, Vec<Range<usize>>)> = by_file
            .into_iter()
            .map(|(file, mut rows)| {
                rows.sort_unstable();
                (file, ranges(&rows))
            })
            .collect();
        let table = &q.table;
        let wanted_ref = &wanted;
        let wide: Vec<Table> = stream::iter(reads)
            .map(|(i, rows)| async move {
                let part = Part {
                    columns: wanted_ref.clone(),
                    rows: Some(rows),
                    filters: Vec::new(),
                };
                self.decode(table, &view.files[i], &part).await
            })
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        let schema: Vec<(&str, DataType)> = view
            .columns
            .iter()
            .filter(|(n, _)| wanted.as_ref().is_none_or(|w| w.contains(n)))
            .map(|(n, t)| (n.as_str(), *t))
            .collect();
        let mut out = Table::with_schema(&q.table, &schema)?;
        for t in wide {
            out.append_rows(t)?;
        }
        q.apply(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn consecutive_rows_become_ranges() {
        assert_eq!(ranges(&[0, 1, 2, 5, 7, 8]), [0..3, 5..6, 7..9]);
        assert!(ranges(&[]).is_empty());
    }

    #[test]
    fn nulls_sort_first_ascending_and_last_descending() {
        let (n, one) = (Value::Null, Value::Int(1));
        assert_eq!(result_order(&n, &one, false), Ordering::Less);
        assert_eq!(result_order(&n, &one, true), Ordering::Greater);
        assert_eq!(result_order(&Value::Int(2), &one, true), Ordering::Less);
    }
}
