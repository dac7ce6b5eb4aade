//! Ordered, limited reads (`dsi list`: the newest 20 of a million runs)
//! without decoding every column of every row.
//!
//! In two passes: the first decodes only the order and filter columns of
//! the files (and row groups) the filters leave, and finds which rows
//! [`TableQuery::apply`] would keep; the second decodes all columns of just
//! those rows, from the files that hold them. The result is exactly what
//! decoding everything and applying the query gives: the rows come in file
//! order before the final (stable) sort, as in the one-pass read, so ties
//! are broken the same way, and the columns are the union over all files.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;

use dsi_core::{Column, DataType, Result, Table, TableQuery, Value};
use futures_util::{StreamExt, TryStreamExt, stream};

use crate::read::{FileMeta, FileRef, Part, union_columns};
use crate::{Dataset, FETCH_CONCURRENCY, prune};

/// The name of the row-position column added in the first pass: one the
/// table does not have.
fn position_column(table: &Table) -> String {
    let mut name = String::from("_dsi_position");
    while table.column(&name).is_some() {
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

/// Row numbers (in the file) of the row groups `rgs`, in order.
fn rows_of(meta: &FileMeta, rgs: Option<&[usize]>) -> Vec<usize> {
    let md = &meta.metadata;
    let mut starts = Vec::with_capacity(md.num_row_groups());
    let mut at = 0usize;
    for i in 0..md.num_row_groups() {
        let n = usize::try_from(md.row_group(i).num_rows()).unwrap_or(0);
        starts.push(at..at + n);
        at += n;
    }
    match rgs {
        None => (0..at).collect(),
        Some(rgs) => rgs.iter().flat_map(|&i| starts[i].clone()).collect(),
    }
}

impl Dataset {
    /// `q` (which has an order and a limit) over `files`, in two passes.
    pub(crate) async fn read_top(&self, q: &TableQuery, files: &[FileRef]) -> Result<Table> {
        let metas = self.footers(files).await?;
        let union = union_columns(&q.table, metas.iter().map(|m| m.schema.as_ref()))?;
        let schema: Vec<(&str, DataType)> = union.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        let mut wanted: Vec<String> = q.filters.iter().map(|f| f.column.clone()).collect();
        if let Some(o) = &q.order_by {
            wanted.push(o.column.clone());
        }
        wanted.sort();
        wanted.dedup();
        // A column no file has: let the one-pass rules report it.
        if wanted.iter().any(|w| !union.iter().any(|(n, _)| n == w)) {
            let all = self.read_files(&q.table, files, &q.filters).await?;
            return q.apply(all);
        }

        // Pass 1: the order and filter columns, and each row's position.
        let plan: Vec<(usize, Option<Vec<usize>>)> = metas
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let rgs = (!q.filters.is_empty())
                    .then(|| prune::row_groups(&m.metadata, &m.schema, &q.filters));
                (i, rgs)
            })
            .filter(|(_, rgs)| rgs.as_ref().is_none_or(|r| !r.is_empty()))
            .collect();
        let table = &q.table;
        let wanted = &wanted;
        let narrow: Vec<(usize, Vec<usize>, Table)> = stream::iter(plan)
            .map(|(i, rgs)| {
                let meta = Arc::clone(&metas[i]);
                async move {
                    let bytes = self.file_bytes(&files[i]).await?;
                    let rows = rows_of(&meta, rgs.as_deref());
                    let part = Part {
                        row_groups: rgs,
                        columns: Some(wanted.clone()),
                        rows: None,
                    };
                    let (_, t) = self.decode(table, &files[i], bytes, &part)?;
                    Ok::<_, dsi_core::Error>((i, rows, t))
                }
            })
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        let narrow_schema: Vec<(&str, DataType)> = schema
            .iter()
            .filter(|(n, _)| wanted.iter().any(|w| w == n))
            .copied()
            .collect();
        let mut keys = Table::with_schema(table, &narrow_schema)?;
        let mut positions: Vec<(usize, usize)> = Vec::new();
        for (i, rows, t) in narrow {
            positions.extend(rows.into_iter().map(|r| (i, r)));
            keys.append_rows(t)?;
        }
        let pos = position_column(&keys);
        let index: Vec<Value> = (0..positions.len())
            .map(|k| Value::Int(i64::try_from(k).unwrap_or(i64::MAX)))
            .collect();
        keys.add_column(Column::new(pos.clone(), DataType::Int, index)?)?;
        let chosen = q.apply(keys)?;
        let mut by_file: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
        if let Some(col) = chosen.column(&pos) {
            for v in col.values() {
                if let Value::Int(k) = v {
                    let (file, row) = positions[usize::try_from(*k).unwrap_or(0)];
                    by_file.entry(file).or_default().push(row);
                }
            }
        }

        // Pass 2: every column of the chosen rows, in file order.
        let reads: Vec<(usize, Vec<Range<usize>>)> = by_file
            .into_iter()
            .map(|(file, mut rows)| {
                rows.sort_unstable();
                (file, ranges(&rows))
            })
            .collect();
        let wide: Vec<Table> = stream::iter(reads)
            .map(|(i, rows)| async move {
                let bytes = self.file_bytes(&files[i]).await?;
                let part = Part {
                    rows: Some(rows),
                    ..Part::default()
                };
                Ok::<_, dsi_core::Error>(self.decode(table, &files[i], bytes, &part)?.1)
            })
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        let mut out = Table::with_schema(table, &schema)?;
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
}
