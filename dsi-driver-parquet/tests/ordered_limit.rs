//! Ordered, limited reads (the two-pass read of `top.rs`) give exactly what
//! reading everything and applying the query gives: the same rows, order,
//! tie-breaking and columns, over many files with nulls, ties, pruned row
//! groups and a column added by a later put.

use dsi_core::{
    Collection, Column, DataType, Driver, Filter, FilterOp, Query, Table, TableQuery, Timestamp,
    Value,
};
use dsi_driver_parquet::Dataset;

fn put(d: &Dataset, first: i64, rows: i64, extra: bool) {
    let at: Vec<Value> = (first..first + rows)
        .map(|i| match i % 7 {
            // Nulls and ties on the order column.
            0 => Value::Null,
            3 => Value::Timestamp(Timestamp::from_micros(1_000)),
            _ => Value::Timestamp(Timestamp::from_micros(1_000_000 + (i * 37) % 101)),
        })
        .collect();
    let mut columns = vec![
        Column::new(
            "n",
            DataType::Int,
            (first..first + rows).map(Value::Int).collect(),
        )
        .unwrap(),
        Column::new("at", DataType::Timestamp, at).unwrap(),
        Column::new(
            "host",
            DataType::Text,
            (first..first + rows)
                .map(|i| Value::Text(format!("cn{}", i % 3)))
                .collect(),
        )
        .unwrap(),
    ];
    if extra {
        columns.push(
            Column::new(
                "extra",
                DataType::Text,
                (first..first + rows)
                    .map(|i| Value::Text(format!("x{i}")))
                    .collect(),
            )
            .unwrap(),
        );
    }
    let t = Table::from_columns("t", columns).unwrap();
    d.put(&Collection::of(t)).unwrap();
}

fn table(d: &Dataset, q: TableQuery) -> Table {
    d.get(&Query::Table(q))
        .unwrap()
        .into_tables()
        .into_iter()
        .next()
        .unwrap()
}

#[test]
fn ordered_limited_reads_equal_reading_everything() {
    let dir = tempfile::tempdir().unwrap();
    let d = Dataset::open_local(dir.path()).unwrap();
    for k in 0..6 {
        put(&d, k * 40, 40, k >= 4);
    }
    let all = table(&d, TableQuery::new("t"));
    assert_eq!(all.num_rows(), 240);
    let filters = [
        vec![],
        vec![Filter::new("host", FilterOp::Eq, "cn1")],
        vec![
            Filter::new("host", FilterOp::Eq, "cn2"),
            Filter::new("n", FilterOp::Ge, Value::Int(150)),
        ],
        vec![Filter::new("n", FilterOp::Ge, Value::Int(1_000))],
    ];
    for fs in &filters {
        for column in ["at", "n", "extra"] {
            for descending in [true, false] {
                for limit in [0, 1, 3, 20, 500] {
                    let mut q = TableQuery::new("t")
                        .order_by(column, descending)
                        .limit(limit);
                    q.filters.clone_from(fs);
                    let expected = q.apply(all.clone()).unwrap();
                    assert_eq!(table(&d, q.clone()), expected, "{q:?}");
                }
            }
        }
    }
    // An unknown order column is the same error either way.
    let q = TableQuery::new("t").order_by("nope", true).limit(3);
    let e = d.get(&Query::Table(q.clone())).unwrap_err();
    assert_eq!(e.to_string(), q.apply(all).unwrap_err().to_string());
}
