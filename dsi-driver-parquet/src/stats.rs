//! File statistics in the Delta log (`add.stats`): written for every data
//! file dsi writes, read to skip files a filter rules out and to order
//! files for `newest N` reads without opening them.
//!
//! Statistics follow the Delta protocol: `numRecords`, and per column
//! `minValues`, `maxValues` and `nullCount`. Bounds are written only where
//! they are exact enough for every reader: integers, finite floats,
//! booleans, texts of at most [`MAX_TEXT_STAT`] bytes, and timestamps,
//! whose bounds are widened to whole milliseconds (the precision other
//! engines assume). Blobs and bytes get null counts only. A missing bound
//! never prunes, so a file is skipped only when its bounds prove that no
//! row can match; the rows read are always filtered exactly afterwards.

use std::cmp::Ordering;

use dsi_core::{DataType, Filter, FilterOp, Table, Timestamp, Value};
use serde_json::{Map, Value as Json, json};

/// Longest text value whose bounds are recorded.
pub(crate) const MAX_TEXT_STAT: usize = 64;

/// A bound of a column, typed as the column is.
fn bound(t: DataType, v: &Value, upper: bool) -> Option<Json> {
    match (t, v) {
        (DataType::Int, Value::Int(i)) => Some(json!(i)),
        (DataType::Float, Value::Float(f)) if f.is_finite() => Some(json!(f)),
        (DataType::Bool, Value::Bool(b)) => Some(json!(b)),
        (DataType::Text, Value::Text(s)) if s.len() <= MAX_TEXT_STAT => Some(json!(s)),
        (DataType::Timestamp, Value::Timestamp(ts)) => {
            let us = ts.as_micros();
            let ms = if upper {
                us.div_euclid(1000)
                    .saturating_add(i64::from(us.rem_euclid(1000) != 0))
            } else {
                us.div_euclid(1000)
            };
            Some(json!(
                Timestamp::from_micros(ms.saturating_mul(1000)).to_rfc3339()
            ))
        }
        _ => None,
    }
}

/// Bounds and null count of one column, gathered over tables.
#[derive(Debug, Clone)]
struct ColumnAcc {
    data_type: DataType,
    lo: Option<Value>,
    hi: Option<Value>,
    nulls: u64,
    exact: bool,
}

/// Statistics gathered over the tables written into one data file (one
/// put's rows, or the files a compaction merges).
#[derive(Debug, Clone, Default)]
pub(crate) struct Accumulator {
    records: u64,
    columns: Vec<(String, ColumnAcc)>,
}

impl Accumulator {
    /// Adds a table's rows. Columns the table lacks count as null there.
    pub(crate) fn add(&mut self, table: &Table) {
        let before = self.records;
        self.records += table.num_rows() as u64;
        for c in table.columns() {
            let pos = match self.columns.iter().position(|(n, _)| n == c.name()) {
                Some(p) => p,
                None => {
                    self.columns.push((
                        c.name().to_owned(),
                        ColumnAcc {
                            data_type: c.data_type(),
                            lo: None,
                            hi: None,
                            nulls: before,
                            exact: true,
                        },
                    ));
                    self.columns.len() - 1
                }
            };
            let acc = &mut self.columns[pos].1;
            for v in c.values() {
                if v.is_null() {
                    acc.nulls += 1;
                    continue;
                }
                if matches!(v, Value::Float(f) if !f.is_finite()) {
                    acc.exact = false;
                }
                if !acc.exact || matches!(acc.data_type, DataType::Blob | DataType::Bytes) {
                    continue;
                }
                if acc
                    .lo
                    .as_ref()
                    .is_none_or(|l| dsi_core::driver::compare(v, l) == Some(Ordering::Less))
                {
                    acc.lo = Some(v.clone());
                }
                if acc
                    .hi
                    .as_ref()
                    .is_none_or(|h| dsi_core::driver::compare(v, h) == Some(Ordering::Greater))
                {
                    acc.hi = Some(v.clone());
                }
            }
        }
        // Columns this table lacks: all null in its rows.
        let rows = table.num_rows() as u64;
        for (name, acc) in &mut self.columns {
            if table.column(name).is_none() {
                acc.nulls += rows;
            }
        }
    }

    /// The statistics as `add.stats` JSON text.
    pub(crate) fn to_json(&self) -> String {
        let mut min = Map::new();
        let mut max = Map::new();
        let mut nulls = Map::new();
        for (name, acc) in &self.columns {
            if acc.data_type == DataType::Blob {
                nulls.insert(name.clone(), json!({"sha256": acc.nulls, "len": acc.nulls}));
                continue;
            }
            nulls.insert(name.clone(), json!(acc.nulls));
            if !acc.exact {
                continue;
            }
            if let (Some(l), Some(h)) = (&acc.lo, &acc.hi)
                && let (Some(lj), Some(hj)) = (
                    bound(acc.data_type, l, false),
                    bound(acc.data_type, h, true),
                )
            {
                min.insert(name.clone(), lj);
                max.insert(name.clone(), hj);
            }
        }
        json!({
            "numRecords": self.records,
            "minValues": min,
            "maxValues": max,
            "nullCount": nulls,
        })
        .to_string()
    }
}

/// The statistics of one data file holding `table`'s rows, as JSON text.
pub(crate) fn of_table(table: &Table) -> String {
    let mut acc = Accumulator::default();
    acc.add(table);
    acc.to_json()
}

/// Parsed statistics of a data file.
#[derive(Debug, Clone, Default)]
pub(crate) struct Stats {
    /// Rows in the file.
    pub(crate) records: Option<u64>,
    min: Map<String, Json>,
    max: Map<String, Json>,
    nulls: Map<String, Json>,
}

impl Stats {
    /// Parses `add.stats` text; anything unreadable is simply unknown.
    pub(crate) fn parse(text: Option<&str>) -> Self {
        let Some(Ok(Json::Object(mut o))) = text.map(serde_json::from_str::<Json>) else {
            return Stats::default();
        };
        let take = |o: &mut Map<String, Json>, k: &str| match o.remove(k) {
            Some(Json::Object(m)) => m,
            _ => Map::new(),
        };
        Stats {
            records: o.get("numRecords").and_then(Json::as_u64),
            min: take(&mut o, "minValues"),
            max: take(&mut o, "maxValues"),
            nulls: take(&mut o, "nullCount"),
        }
    }

    fn typed(t: DataType, j: &Json) -> Option<Value> {
        match (t, j) {
            (DataType::Int, Json::Number(n)) => n.as_i64().map(Value::Int),
            (DataType::Float, Json::Number(n)) => n.as_f64().map(Value::Float),
            (DataType::Bool, Json::Bool(b)) => Some(Value::Bool(*b)),
            (DataType::Text, Json::String(s)) => Some(Value::Text(s.clone())),
            (DataType::Timestamp, Json::String(s)) => {
                Timestamp::parse_rfc3339(s).ok().map(Value::Timestamp)
            }
            _ => None,
        }
    }

    /// The file's largest value of a column, if recorded (an upper bound).
    pub(crate) fn max(&self, column: &str, t: DataType) -> Option<Value> {
        Self::typed(t, self.max.get(column)?)
    }

    /// The file's smallest value of a column, if recorded (a lower bound).
    pub(crate) fn min(&self, column: &str, t: DataType) -> Option<Value> {
        Self::typed(t, self.min.get(column)?)
    }

    /// The number of nulls of a column, if recorded.
    pub(crate) fn null_count(&self, column: &str) -> Option<u64> {
        self.nulls.get(column).and_then(Json::as_u64)
    }

    /// Whether every row of the file is null in a column (known only when
    /// both counts are recorded).
    fn all_null(&self, column: &str) -> bool {
        match (self.nulls.get(column).and_then(Json::as_u64), self.records) {
            (Some(n), Some(r)) => r > 0 && n == r,
            _ => false,
        }
    }

    /// Whether some row of the file may satisfy the filter on a column of
    /// type `t` (a file without statistics for the column may).
    pub(crate) fn may_match(&self, filter: &Filter, t: DataType) -> bool {
        if self.all_null(&filter.column) {
            return false;
        }
        let (Some(lo), Some(hi)) = (self.min(&filter.column, t), self.max(&filter.column, t))
        else {
            return true;
        };
        // Mixed numbers compare as SQL does; only same-typed bounds prune.
        if lo.data_type() != filter.value.data_type() {
            return true;
        }
        let (Some(vs_lo), Some(vs_hi)) = (
            dsi_core::driver::compare(&filter.value, &lo),
            dsi_core::driver::compare(&filter.value, &hi),
        ) else {
            return true;
        };
        match filter.op {
            FilterOp::Eq => vs_lo != Ordering::Less && vs_hi != Ordering::Greater,
            FilterOp::Ne => !(vs_lo == Ordering::Equal && vs_hi == Ordering::Equal),
            FilterOp::Lt => vs_lo == Ordering::Greater,
            FilterOp::Le => vs_lo != Ordering::Less,
            FilterOp::Gt => vs_hi == Ordering::Less,
            FilterOp::Ge => vs_hi != Ordering::Greater,
            FilterOp::StartsWith => match (&filter.value, &lo) {
                (Value::Text(p), Value::Text(l)) => {
                    vs_hi != Ordering::Greater && (vs_lo != Ordering::Less || l.starts_with(p))
                }
                _ => true,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dsi_core::Column;

    fn table() -> Table {
        Table::from_columns(
            "t",
            vec![
                Column::new("n", DataType::Int, vec![Value::Int(3), Value::Int(9)]).unwrap(),
                Column::new(
                    "ts",
                    DataType::Timestamp,
                    vec![
                        Value::Timestamp(Timestamp::from_micros(1_500)),
                        Value::Timestamp(Timestamp::from_micros(2_500)),
                    ],
                )
                .unwrap(),
                Column::new(
                    "s",
                    DataType::Text,
                    vec!["x".repeat(100).into(), Value::Null],
                )
                .unwrap(),
                Column::new("e", DataType::Int, vec![Value::Null, Value::Null]).unwrap(),
            ],
        )
        .unwrap()
    }

    #[test]
    fn bounds_are_written_and_widened() {
        let s = Stats::parse(Some(&of_table(&table())));
        assert_eq!(s.records, Some(2));
        assert_eq!(s.min("n", DataType::Int), Some(Value::Int(3)));
        assert_eq!(
            s.min("ts", DataType::Timestamp),
            Some(Value::Timestamp(Timestamp::from_micros(1_000)))
        );
        assert_eq!(
            s.max("ts", DataType::Timestamp),
            Some(Value::Timestamp(Timestamp::from_micros(3_000)))
        );
        assert_eq!(
            s.max("s", DataType::Text),
            None,
            "long texts have no bounds"
        );
    }

    #[test]
    fn filters_prune_only_what_cannot_match() {
        let s = Stats::parse(Some(&of_table(&table())));
        let m = |op, v: i64| s.may_match(&Filter::new("n", op, v), DataType::Int);
        assert!(m(FilterOp::Eq, 3) && m(FilterOp::Eq, 9) && !m(FilterOp::Eq, 10));
        assert!(!m(FilterOp::Lt, 3) && m(FilterOp::Gt, 8) && !m(FilterOp::Gt, 9));
        assert!(
            !s.may_match(&Filter::new("e", FilterOp::Eq, 1i64), DataType::Int),
            "an all-null column matches nothing"
        );
        assert!(
            s.may_match(&Filter::new("n", FilterOp::Eq, 3.0), DataType::Int),
            "mixed numbers are never pruned"
        );
        assert!(s.may_match(&Filter::new("new", FilterOp::Eq, 1i64), DataType::Int));
        assert!(Stats::default().may_match(&Filter::new("n", FilterOp::Eq, 1i64), DataType::Int));
    }
}
