//! Reading a table through its Delta snapshot: the files the log names
//! (never a directory listing), those of incomplete multi-table puts left
//! out, files skipped by the log's statistics, and only the needed row
//! groups, pages and columns fetched, by ranged reads.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::Schema;
use dsi_core::{DataType, Error, Filter, Result, Table};
use futures_util::{StreamExt, TryStreamExt, stream};
use object_store::path::Path;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ArrowReaderMetadata, ArrowReaderOptions, RowSelection};
#[allow(
    deprecated,
    reason = "ParquetObjectReader is the object_store reader of parquet 59; its replacement is not released"
)]
use parquet::arrow::async_reader::ParquetObjectReader;
use parquet::arrow::async_reader::ParquetRecordBatchStreamBuilder;
use parquet::file::metadata::PageIndexPolicy;

use crate::commit::{COMMITTED, TAG_LAST, TAG_PUT};
use crate::schema::Columns;
use crate::stats::Stats;
use crate::{Dataset, FETCH_CONCURRENCY, layout, prune, schema};

/// A data file of a table, as the log describes it.
#[derive(Debug, Clone)]
pub(crate) struct FileRef {
    /// Where it is in the store.
    pub(crate) path: Path,
    /// Its path relative to the table root, as in the log.
    pub(crate) relative: String,
    /// Its size in bytes.
    pub(crate) size: u64,
    /// Its statistics from the log.
    pub(crate) stats: Stats,
}

/// What dsi reads of a table: its columns (from the log's schema) and its
/// visible files in put order.
#[derive(Debug)]
pub(crate) struct TableView {
    /// The columns, in order.
    pub(crate) columns: Columns,
    /// The files, in put order.
    pub(crate) files: Vec<FileRef>,
}

impl TableView {
    /// A column's type.
    pub(crate) fn column_type(&self, name: &str) -> Option<DataType> {
        self.columns
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| *t)
    }
}

/// What part of a file to decode (all of it by default).
#[derive(Debug, Clone, Default)]
pub(crate) struct Part {
    /// Only these columns (those the file has); `None` for all.
    pub(crate) columns: Option<Vec<String>>,
    /// Only these rows (ranges of row numbers in the file, ascending).
    pub(crate) rows: Option<Vec<std::ops::Range<usize>>>,
    /// Skip row groups that cannot match these filters.
    pub(crate) filters: Vec<Filter>,
}

fn parquet_err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{path}: not a readable Parquet file: {e}")
}

impl Dataset {
    /// The table as dsi reads it, `None` if it does not exist (no log, or
    /// no visible file).
    pub(crate) async fn view(&self, table: &str) -> Result<Option<TableView>> {
        let Some(state) = self.snapshot(table).await? else {
            return Ok(None);
        };
        let columns = schema::dsi_columns(table, &state.schema())?;
        let root = layout::table_dir(&self.prefix, table);
        let mut files = Vec::new();
        let mut pending: BTreeMap<(String, String), Vec<FileRef>> = BTreeMap::new();
        let tagged: HashMap<String, HashMap<String, String>> = self
            .tagged_files(&state)
            .into_iter()
            .map(|(add, tags)| (add.path, tags))
            .collect();
        for f in state.log_data().iter() {
            let relative = f.path().into_owned();
            let mut path = root.clone();
            for part in relative.split('/').filter(|p| !p.is_empty()) {
                path = layout::join(&path, &[part]);
            }
            let file = FileRef {
                path,
                size: u64::try_from(f.size()).unwrap_or(0),
                stats: Stats::parse(f.stats().as_deref()),
                relative,
            };
            match tagged
                .get(&file.relative)
                .map(|t| (t.get(TAG_PUT), t.get(TAG_LAST)))
            {
                Some((Some(put), Some(last))) if last != table => pending
                    .entry((put.clone(), last.clone()))
                    .or_default()
                    .push(file),
                _ => files.push(file),
            }
        }
        // Files of multi-table puts: visible once the put is complete.
        for ((put, last), group) in pending {
            if self.put_complete(&put, &last).await? {
                files.extend(group);
            }
        }
        files.sort_by(|a, b| {
            layout::file_order_key(&a.relative).cmp(&layout::file_order_key(&b.relative))
        });
        if files.is_empty() {
            return Ok(None);
        }
        Ok(Some(TableView { columns, files }))
    }

    /// Whether a multi-table put is complete: its last table holds its id
    /// as committed (cached: completion is final).
    pub(crate) async fn put_complete(&self, put: &str, last: &str) -> Result<bool> {
        if self
            .complete
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(put)
        {
            return Ok(true);
        }
        let Some(state) = self.snapshot(last).await? else {
            return Ok(false);
        };
        let done = self.txn_version(last, &state, put).await? == Some(COMMITTED);
        if done {
            self.complete
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .insert(put.to_owned());
        }
        Ok(done)
    }

    /// The footer of a data file with its page index (cached: data files
    /// are immutable).
    pub(crate) async fn file_meta(&self, f: &FileRef) -> Result<ArrowReaderMetadata> {
        if let Some(m) = self
            .footers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&f.path)
        {
            return Ok(m.clone());
        }
        let mut reader = self.object_reader(f);
        let options = ArrowReaderOptions::new().with_page_index_policy(PageIndexPolicy::Optional);
        let meta = ArrowReaderMetadata::load_async(&mut reader, options)
            .await
            .map_err(|e| self.parquet_failure("reading a Parquet footer", &f.path, e))?;
        self.footers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(f.path.clone(), meta.clone());
        Ok(meta)
    }

    /// A ranged reader of a data file.
    #[allow(deprecated, reason = "see the import of ParquetObjectReader")]
    fn object_reader(&self, f: &FileRef) -> ParquetObjectReader {
        ParquetObjectReader::new(Arc::clone(&self.store), f.path.clone()).with_file_size(f.size)
    }

    fn parquet_failure(&self, what: &str, path: &Path, e: parquet::errors::ParquetError) -> Error {
        match e {
            parquet::errors::ParquetError::External(inner) => {
                match inner.downcast::<object_store::Error>() {
                    Ok(os) => self.store_err(what, &os),
                    Err(other) => self.err(what, parquet_err(path, other)),
                }
            }
            other => self.err(what, parquet_err(path, other)),
        }
    }

    /// Decodes the `part` of a file into a table.
    pub(crate) async fn decode(&self, table: &str, f: &FileRef, part: &Part) -> Result<Table> {
        let what = "decoding a data file";
        let meta = self.file_meta(f).await?;
        let reader = self.object_reader(f);
        let mut builder = ParquetRecordBatchStreamBuilder::new_with_metadata(reader, meta.clone());
        let full = Arc::clone(builder.schema());
        let roots: Vec<usize> = match &part.columns {
            Some(names) => full
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, fl)| names.iter().any(|n| n == fl.name()))
                .map(|(i, _)| i)
                .collect(),
            None => (0..full.fields().len()).collect(),
        };
        let schema = Arc::new(
            full.project(&roots)
                .map_err(|e| self.err(what, e.to_string()))?,
        );
        if part.columns.is_some() {
            let mask = ProjectionMask::roots(builder.parquet_schema(), roots);
            builder = builder.with_projection(mask);
        }
        if !part.filters.is_empty() {
            let rgs = prune::row_groups(meta.metadata(), &full, &part.filters);
            builder = builder.with_row_groups(rgs);
        }
        if let Some(ranges) = &part.rows {
            let total = usize::try_from(meta.metadata().file_metadata().num_rows()).unwrap_or(0);
            builder = builder.with_row_selection(RowSelection::from_consecutive_ranges(
                ranges.iter().cloned(),
                total,
            ));
        }
        let stream = builder
            .build()
            .map_err(|e| self.parquet_failure(what, &f.path, e))?;
        let batches: Vec<RecordBatch> = stream
            .try_collect()
            .await
            .map_err(|e| self.parquet_failure(what, &f.path, e))?;
        let named = |e: Error| match e {
            Error::InvalidData(m) => self.err(what, format!("{}: {m}", f.path)),
            other => other,
        };
        let empty = schema::from_delta_batch(&RecordBatch::new_empty(Arc::clone(&schema)))?;
        let mut out = dsi_core::arrow::from_record_batch(table, &empty).map_err(named)?;
        for b in batches {
            let b = schema::from_delta_batch(&b)?;
            out.append_rows(dsi_core::arrow::from_record_batch(table, &b).map_err(named)?)?;
        }
        Ok(out)
    }

    /// The files whose statistics allow a row to satisfy every filter.
    pub(crate) fn prune<'a>(&self, view: &'a TableView, filters: &[Filter]) -> Vec<&'a FileRef> {
        view.files
            .iter()
            .filter(|f| {
                filters
                    .iter()
                    .all(|flt| match view.column_type(&flt.column) {
                        Some(t) => f.stats.may_match(flt, t),
                        None => true,
                    })
            })
            .collect()
    }

    /// Reads the rows of the view's files that may satisfy `filters` (a
    /// superset: the caller applies the filters exactly), with the view's
    /// columns, or only `columns` of them.
    pub(crate) async fn read_view(
        &self,
        table: &str,
        view: &TableView,
        filters: &[Filter],
        columns: Option<&[String]>,
    ) -> Result<Table> {
        let files = self.prune(view, filters);
        let wanted: Option<Vec<String>> = columns.map(|c| {
            let mut w: Vec<String> = c.to_vec();
            w.extend(filters.iter().map(|f| f.column.clone()));
            w.sort();
            w.dedup();
            w
        });
        let part = Part {
            columns: wanted.clone(),
            rows: None,
            filters: filters.to_vec(),
        };
        let decoded: Vec<Table> = stream::iter(files)
            .map(|f| self.decode(table, f, &part))
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        let schema: Vec<(&str, DataType)> = view
            .columns
            .iter()
            .filter(|(n, _)| wanted.as_ref().is_none_or(|w| w.contains(n)))
            .map(|(n, t)| (n.as_str(), *t))
            .collect();
        let mut out = Table::with_schema(table, &schema)?;
        for t in decoded {
            out.append_rows(t)?;
        }
        Ok(out)
    }
}

/// The Arrow schema a view's columns have in a data file.
#[allow(dead_code, reason = "used by the sql feature")]
pub(crate) fn arrow_schema(columns: &Columns) -> Result<Schema> {
    let fields: Vec<arrow_schema::Field> = columns
        .iter()
        .map(|(n, t)| dsi_core::arrow::arrow_field(n, *t))
        .collect();
    let empty = RecordBatch::new_empty(Arc::new(Schema::new(fields)));
    Ok(schema::to_delta_batch(&empty)?.schema().as_ref().clone())
}
