//! Encoding a table as Parquet files, one per record date.

use bytes::Bytes;
use dsi_core::{DataType, Error, Result, Table, Timestamp, Value};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::layout;

/// The column whose value decides a row's partition date.
pub(crate) const RECORDED_AT: &str = "recorded_at";

/// Splits a table into per-date tables (in order of first appearance),
/// dating each row by its `recorded_at` timestamp, or `now` without one.
pub(crate) fn split_by_date(table: &Table, now: Timestamp) -> Vec<(String, Table)> {
    let put_date = layout::date_of(now);
    let dates: Vec<String> = match table.column(RECORDED_AT) {
        Some(c) if c.data_type() == DataType::Timestamp => c
            .values()
            .iter()
            .map(|v| match v {
                Value::Timestamp(t) => layout::date_of(*t),
                _ => put_date.clone(),
            })
            .collect(),
        _ => vec![put_date.clone(); table.num_rows()],
    };
    let mut order: Vec<&String> = Vec::new();
    for d in &dates {
        if !order.contains(&d) {
            order.push(d);
        }
    }
    if order.len() <= 1 {
        let date = order.first().map_or(put_date, |d| (*d).clone());
        return vec![(date, table.clone())];
    }
    order
        .into_iter()
        .map(|date| {
            let mut part = table.clone();
            part.retain_rows(|r| &dates[r] == date);
            (date.clone(), part)
        })
        .collect()
}

/// The writer settings: zstd, chunk and page statistics, one row group for
/// up to a million rows.
fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_created_by(format!("dsi {}", env!("CARGO_PKG_VERSION")))
        .build()
}

/// Encodes a table as one Parquet file.
pub(crate) fn encode(table: &Table) -> Result<Bytes> {
    if table.num_columns() == 0 {
        return Err(Error::InvalidData(format!(
            "table '{}' has no columns; a Parquet file needs at least one",
            table.name()
        )));
    }
    let batch = dsi_core::arrow::to_record_batch(table)?;
    let fail = |e: parquet::errors::ParquetError| {
        Error::InvalidData(format!("table '{}' to Parquet: {e}", table.name()))
    };
    let mut out = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut out, batch.schema(), Some(properties())).map_err(fail)?;
    writer.write(&batch).map_err(fail)?;
    writer.close().map_err(fail)?;
    Ok(Bytes::from(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dsi_core::Column;

    #[test]
    fn rows_are_split_by_recorded_at() {
        let day = 86_400_000_000i64;
        let t = Table::from_columns(
            "runs",
            vec![
                Column::new(
                    RECORDED_AT,
                    DataType::Timestamp,
                    vec![
                        Timestamp::from_micros(day).into(),
                        Timestamp::from_micros(0).into(),
                        Value::Null,
                        Timestamp::from_micros(day + 5).into(),
                    ],
                )
                .unwrap(),
                Column::new("n", DataType::Int, (0..4).map(Value::Int).collect()).unwrap(),
            ],
        )
        .unwrap();
        let now = Timestamp::from_micros(3 * day);
        let parts = split_by_date(&t, now);
        let summary: Vec<(String, Vec<Value>)> = parts
            .iter()
            .map(|(d, t)| (d.clone(), t.column("n").unwrap().values().to_vec()))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("1970-01-02".into(), vec![Value::Int(0), Value::Int(3)]),
                ("1970-01-01".into(), vec![Value::Int(1)]),
                ("1970-01-04".into(), vec![Value::Int(2)]),
            ]
        );
    }

    #[test]
    fn tables_without_recorded_at_use_the_put_date() {
        let t = Table::with_schema("e", &[("a", DataType::Int)]).unwrap();
        let parts = split_by_date(&t, Timestamp::from_micros(0));
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].0, "1970-01-01");
    }
}
