//! Encoding rows as a Parquet data file and describing it for the Delta
//! log (an `add` action with its statistics).

use std::collections::HashMap;

use arrow_array::RecordBatch;
use bytes::Bytes;
use deltalake_core::kernel::Add;
use dsi_core::{Error, Result, Table};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::{schema, stats};

/// Rows per row group (and so the unit of row-group pruning) in large
/// files; a put's file has one.
pub(crate) const ROW_GROUP_ROWS: usize = 8192;

/// The writer settings: zstd, chunk and page statistics with a page index
/// (so that ranged reads fetch only the pages they need).
pub(crate) fn properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("dsi {}", env!("CARGO_PKG_VERSION")))
        .build()
}

fn parquet_fail(table: &str) -> impl Fn(parquet::errors::ParquetError) -> Error + '_ {
    move |e| Error::InvalidData(format!("table '{table}' to Parquet: {e}"))
}

/// The Arrow batch of a table, in Delta's types.
pub(crate) fn batch_of(table: &Table) -> Result<RecordBatch> {
    if table.num_columns() == 0 {
        return Err(Error::InvalidData(format!(
            "table '{}' has no columns; a Parquet file needs at least one",
            table.name()
        )));
    }
    schema::to_delta_batch(&dsi_core::arrow::to_record_batch(table)?)
}

/// Encodes batches (of one schema) as one Parquet file.
pub(crate) fn encode_batches(table: &str, batches: &[RecordBatch]) -> Result<Bytes> {
    let Some(first) = batches.first() else {
        return Err(Error::InvalidData(format!(
            "table '{table}': nothing to encode"
        )));
    };
    let fail = parquet_fail(table);
    let mut out = Vec::new();
    let mut writer =
        ArrowWriter::try_new(&mut out, first.schema(), Some(properties())).map_err(&fail)?;
    for b in batches {
        writer.write(b).map_err(&fail)?;
    }
    writer.close().map_err(&fail)?;
    Ok(Bytes::from(out))
}

/// The `add` action of a new data file.
pub(crate) fn add_action(
    path: String,
    size: usize,
    stats: String,
    tags: Option<HashMap<String, Option<String>>>,
) -> Add {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Add {
        path,
        partition_values: HashMap::new(),
        size: i64::try_from(size).unwrap_or(i64::MAX),
        modification_time: now,
        data_change: true,
        stats: Some(stats),
        tags,
        deletion_vector: None,
        base_row_id: None,
        default_row_commit_version: None,
        clustering_provider: None,
    }
}

/// One put's rows of a table as a data file and its statistics.
pub(crate) fn encode_put(table: &Table) -> Result<(Bytes, String)> {
    let batch = batch_of(table)?;
    let bytes = encode_batches(table.name(), &[batch])?;
    Ok((bytes, stats::of_table(table)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dsi_core::{Column, DataType, Value};

    #[test]
    fn a_put_is_one_file_with_statistics() {
        let t = Table::from_columns(
            "runs",
            vec![Column::new("n", DataType::Int, vec![Value::Int(1), Value::Int(5)]).unwrap()],
        )
        .unwrap();
        let (bytes, stats) = encode_put(&t).unwrap();
        assert!(bytes.starts_with(b"PAR1"));
        let s = crate::stats::Stats::parse(Some(&stats));
        assert_eq!(s.records, Some(2));
        assert_eq!(s.max("n", DataType::Int), Some(Value::Int(5)));
        let add = add_action("x.parquet".into(), bytes.len(), stats, None);
        assert!(add.data_change && add.partition_values.is_empty());
    }

    #[test]
    fn a_table_without_columns_is_refused() {
        let t = Table::from_columns("e", vec![]).unwrap();
        assert!(
            encode_put(&t)
                .unwrap_err()
                .to_string()
                .contains("no columns")
        );
    }
}
