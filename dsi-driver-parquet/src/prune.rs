//! Skipping row groups with their statistics.
//!
//! A row group is skipped only when its statistics prove that no row in it
//! can satisfy every filter; the rows that are read are then filtered
//! exactly by [`dsi_core::TableQuery::apply`], so pruning can only save work,
//! never change a result. Comparisons the statistics cannot decide exactly
//! (mixed integer and float, unsigned or non-microsecond columns written by
//! other tools) are never pruned.

use std::cmp::Ordering;

use arrow_schema::{DataType as ArrowType, Schema, TimeUnit};
use dsi_core::{Filter, FilterOp, Value};
use parquet::file::metadata::{ParquetMetaData, RowGroupMetaData};
use parquet::file::statistics::Statistics;

/// A statistics bound or a filter value, in a form compared exactly.
#[derive(Debug, Clone, PartialEq)]
enum Key {
    Int(i64),
    Float(f64),
    Bytes(Vec<u8>),
    Bool(bool),
}

impl Key {
    fn cmp(&self, other: &Key) -> Option<Ordering> {
        match (self, other) {
            (Key::Int(a), Key::Int(b)) => Some(a.cmp(b)),
            (Key::Float(a), Key::Float(b)) => a.partial_cmp(b),
            (Key::Bytes(a), Key::Bytes(b)) => Some(a.cmp(b)),
            (Key::Bool(a), Key::Bool(b)) => Some(a.cmp(b)),
            _ => None,
        }
    }
}

/// The filter value as a key comparable with statistics of a column of this
/// Arrow type, if the comparison is exact.
fn value_key(value: &Value, column: &ArrowType) -> Option<Key> {
    match (value, column) {
        (
            Value::Int(v),
            ArrowType::Int64 | ArrowType::Int32 | ArrowType::Int16 | ArrowType::Int8,
        ) => Some(Key::Int(*v)),
        (Value::Float(v), ArrowType::Float64 | ArrowType::Float32) => Some(Key::Float(*v)),
        (Value::Text(v), ArrowType::Utf8 | ArrowType::LargeUtf8 | ArrowType::Utf8View) => {
            Some(Key::Bytes(v.as_bytes().to_vec()))
        }
        (Value::Bool(v), ArrowType::Boolean) => Some(Key::Bool(*v)),
        (Value::Timestamp(t), ArrowType::Timestamp(TimeUnit::Microsecond, _)) => {
            Some(Key::Int(t.as_micros()))
        }
        _ => None,
    }
}

/// The min and max of a column chunk, when written.
fn bounds(stats: &Statistics) -> Option<(Key, Key)> {
    Some(match stats {
        Statistics::Boolean(s) => (Key::Bool(*s.min_opt()?), Key::Bool(*s.max_opt()?)),
        Statistics::Int32(s) => (
            Key::Int(i64::from(*s.min_opt()?)),
            Key::Int(i64::from(*s.max_opt()?)),
        ),
        Statistics::Int64(s) => (Key::Int(*s.min_opt()?), Key::Int(*s.max_opt()?)),
        Statistics::Float(s) => (
            Key::Float(f64::from(*s.min_opt()?)),
            Key::Float(f64::from(*s.max_opt()?)),
        ),
        Statistics::Double(s) => (Key::Float(*s.min_opt()?), Key::Float(*s.max_opt()?)),
        Statistics::ByteArray(s) => (
            Key::Bytes(s.min_opt()?.data().to_vec()),
            Key::Bytes(s.max_opt()?.data().to_vec()),
        ),
        _ => return None,
    })
}

/// Whether some value in `[min, max]` may satisfy `op value`.
fn may_match(op: FilterOp, value: &Key, min: &Key, max: &Key) -> bool {
    let (Some(vs_min), Some(vs_max)) = (value.cmp(min), value.cmp(max)) else {
        return true;
    };
    match op {
        FilterOp::Eq => vs_min != Ordering::Less && vs_max != Ordering::Greater,
        FilterOp::Ne => !(vs_min == Ordering::Equal && vs_max == Ordering::Equal),
        // Some x in range with x < v  <=>  min < v.
        FilterOp::Lt => vs_min == Ordering::Greater,
        FilterOp::Le => vs_min != Ordering::Less,
        FilterOp::Gt => vs_max == Ordering::Less,
        FilterOp::Ge => vs_max != Ordering::Greater,
        FilterOp::StartsWith => match (value, min) {
            // Strings starting with p lie in [p, successor of p).
            (Key::Bytes(p), Key::Bytes(lo)) => {
                vs_max != Ordering::Greater && (vs_min != Ordering::Less || lo.starts_with(p))
            }
            _ => true,
        },
    }
}

/// Whether a row group may hold a row satisfying the filter.
fn row_group_may_match(rg: &RowGroupMetaData, schema: &Schema, filter: &Filter) -> bool {
    let leaf = rg
        .schema_descr()
        .columns()
        .iter()
        .position(|c| c.path().parts() == [filter.column.as_str()]);
    let Some(leaf) = leaf else {
        // Not a plain column of this file: either nested (never pruned) or
        // absent, in which case every row is null and no filter matches.
        return schema.field_with_name(&filter.column).is_ok();
    };
    let Some(stats) = rg.column(leaf).statistics() else {
        return true;
    };
    let rows = u64::try_from(rg.num_rows()).unwrap_or(0);
    if rows > 0 && stats.null_count_opt() == Some(rows) {
        return false;
    }
    let Ok(field) = schema.field_with_name(&filter.column) else {
        return true;
    };
    if matches!(filter.op, FilterOp::StartsWith) && !matches!(filter.value, Value::Text(_)) {
        // Never matches anything; leave it to the exact evaluation.
        return true;
    }
    let (Some(value), Some((min, max))) =
        (value_key(&filter.value, field.data_type()), bounds(stats))
    else {
        return true;
    };
    may_match(filter.op, &value, &min, &max)
}

/// The row groups of a file that may hold rows satisfying every filter.
pub(crate) fn row_groups(
    meta: &ParquetMetaData,
    schema: &Schema,
    filters: &[Filter],
) -> Vec<usize> {
    (0..meta.num_row_groups())
        .filter(|i| {
            let rg = meta.row_group(*i);
            filters.iter().all(|f| row_group_may_match(rg, schema, f))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(v: i64) -> Key {
        Key::Int(v)
    }

    #[test]
    fn ranges_decide_comparisons() {
        let (lo, hi) = (k(10), k(20));
        let m = |op, v| may_match(op, &k(v), &lo, &hi);
        assert!(m(FilterOp::Eq, 10) && m(FilterOp::Eq, 20) && !m(FilterOp::Eq, 21));
        assert!(!m(FilterOp::Lt, 10) && m(FilterOp::Lt, 11));
        assert!(m(FilterOp::Le, 10) && !m(FilterOp::Le, 9));
        assert!(!m(FilterOp::Gt, 20) && m(FilterOp::Gt, 19));
        assert!(m(FilterOp::Ge, 20) && !m(FilterOp::Ge, 21));
        assert!(m(FilterOp::Ne, 15));
        assert!(!may_match(FilterOp::Ne, &k(5), &k(5), &k(5)));
    }

    #[test]
    fn prefixes_use_the_range() {
        let b = |s: &str| Key::Bytes(s.as_bytes().to_vec());
        let m = |p, lo, hi| may_match(FilterOp::StartsWith, &b(p), &b(lo), &b(hi));
        assert!(m("ab", "aa", "zz"));
        assert!(m("ab", "abc", "abz"));
        assert!(!m("ab", "ac", "zz"));
        assert!(!m("ab", "a", "aa"));
        assert!(m("ab", "a", "ab"));
    }

    #[test]
    fn mixed_types_are_never_pruned() {
        assert!(may_match(FilterOp::Eq, &Key::Float(1.0), &k(5), &k(6)));
    }
}
