//! Reading a table: finding its files (published and committed-but-pending),
//! their footers, pruning, decoding and unioning schemas.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::{Schema, SchemaRef};
use bytes::Bytes;
use dsi_core::{DataType, Error, Filter, Result, Table};
use futures_util::{StreamExt, TryStreamExt, stream};
use object_store::ObjectStoreExt;
use object_store::path::Path;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReaderBuilder, RowSelection};
use parquet::arrow::parquet_to_arrow_schema;
use parquet::file::FOOTER_SIZE;
use parquet::file::metadata::{FooterTail, ParquetMetaData, ParquetMetaDataReader};

use crate::layout::{self, DataName};
use crate::{Dataset, FETCH_CONCURRENCY, prune};

/// A data file of a table, in read order.
#[derive(Debug, Clone)]
pub(crate) struct FileRef {
    /// Where to read it (its temporary name for a committed put not yet renamed).
    pub(crate) path: Path,
    /// Its size in bytes.
    pub(crate) size: u64,
    /// File stem: the put's ULID.
    pub(crate) id: String,
    /// Hive partition date, if any.
    pub(crate) date: Option<String>,
    /// Where the file is once renamed, when `path` is a temporary name.
    pub(crate) fallback: Option<Path>,
}

/// What part of a file to decode (all of it by default).
#[derive(Debug, Clone, Default)]
pub(crate) struct Part {
    /// Only these row groups.
    pub(crate) row_groups: Option<Vec<usize>>,
    /// Only these columns (those the file has).
    pub(crate) columns: Option<Vec<String>>,
    /// Only these rows (ranges of row numbers in the file, ascending).
    pub(crate) rows: Option<Vec<std::ops::Range<usize>>>,
}

impl Part {
    fn row_groups(row_groups: Option<Vec<usize>>) -> Self {
        Part {
            row_groups,
            ..Part::default()
        }
    }
}

/// What dsi keeps of a file's footer.
#[derive(Debug)]
pub(crate) struct FileMeta {
    pub(crate) metadata: Arc<ParquetMetaData>,
    pub(crate) schema: SchemaRef,
    pub(crate) rows: u64,
}

impl FileMeta {
    fn new(
        metadata: Arc<ParquetMetaData>,
    ) -> std::result::Result<Self, parquet::errors::ParquetError> {
        let fm = metadata.file_metadata();
        let schema = parquet_to_arrow_schema(fm.schema_descr(), fm.key_value_metadata())?;
        let rows = u64::try_from(fm.num_rows()).unwrap_or(0);
        Ok(FileMeta {
            metadata,
            schema: Arc::new(schema),
            rows,
        })
    }
}

/// The columns of a table across files, in order of first appearance; a
/// column whose type differs between files is an error naming it.
pub(crate) fn union_columns<'a>(
    table: &str,
    schemas: impl IntoIterator<Item = &'a Schema>,
) -> Result<Vec<(String, DataType)>> {
    let mut out: Vec<(String, DataType)> = Vec::new();
    let mut seen: BTreeMap<String, DataType> = BTreeMap::new();
    for schema in schemas {
        for field in schema.fields() {
            let ty = dsi_core::arrow::dsi_type(field)?;
            match seen.get(field.name()) {
                Some(t) if *t != ty => {
                    return Err(Error::InvalidData(format!(
                        "column '{}' of table '{table}' is {t} in one file and {ty} in another",
                        field.name()
                    )));
                }
                Some(_) => {}
                None => {
                    seen.insert(field.name().clone(), ty);
                    out.push((field.name().clone(), ty));
                }
            }
        }
    }
    Ok(out)
}

fn parquet_err(path: &Path, e: impl std::fmt::Display) -> String {
    format!("{path}: not a readable Parquet file: {e}")
}

impl Dataset {
    /// The data files of a table, in put order: published files plus the
    /// temporary files of committed puts that were not renamed yet.
    pub(crate) async fn table_files(&self, table: &str) -> Result<Vec<FileRef>> {
        let dir = layout::table_dir(&self.prefix, table);
        let listed = self.list(&dir, "listing data files").await?;
        let mut files = Vec::new();
        let mut published = HashSet::new();
        let mut temporary = BTreeMap::new();
        for meta in listed {
            let Some(rel) = meta.location.prefix_match(&dir) else {
                continue;
            };
            let rel: Option<Vec<String>> = rel.map(|p| layout::part_text(&p)).collect();
            let Some(rel) = rel else { continue };
            match layout::classify(&rel) {
                DataName::Published { id, date } => {
                    published.insert(meta.location.clone());
                    files.push(FileRef {
                        path: meta.location,
                        size: meta.size,
                        id,
                        date,
                        fallback: None,
                    });
                }
                DataName::Temporary => {
                    temporary.insert(meta.location, meta.size);
                }
                DataName::Other => {}
            }
        }
        // Temporary files mean a multi-file put may be between its commit
        // record and its last rename: the records (listed after the data, and
        // kept a while after the renames) say which puts are committed, and
        // every file of such a put is read, wherever it is by now.
        if !temporary.is_empty() {
            for (_, pending) in self.pending_puts().await? {
                for (tmp, final_path) in pending {
                    if published.contains(&final_path) {
                        continue;
                    }
                    let rel: Option<Vec<String>> = final_path
                        .prefix_match(&dir)
                        .map(|r| r.filter_map(|p| layout::part_text(&p)).collect());
                    let Some(DataName::Published { id, date }) =
                        rel.as_deref().map(layout::classify)
                    else {
                        continue;
                    };
                    let found = match temporary.get(&tmp) {
                        Some(size) => Some((tmp, *size)),
                        None => self.locate(&final_path, &tmp).await?,
                    };
                    if let Some((path, size)) = found {
                        published.insert(final_path.clone());
                        files.push(FileRef {
                            fallback: (path != final_path).then_some(final_path),
                            path,
                            size,
                            id,
                            date,
                        });
                    }
                }
            }
        }
        files.sort_by(|a, b| (&a.id, &a.date, &a.path).cmp(&(&b.id, &b.date, &b.path)));
        Ok(files)
    }

    /// A committed file's current place and size: published, or still
    /// under its temporary name; `None` if it is in neither.
    async fn locate(&self, published: &Path, temporary: &Path) -> Result<Option<(Path, u64)>> {
        for p in [published, temporary] {
            match self.store.head(p).await {
                Ok(meta) => return Ok(Some((p.clone(), meta.size))),
                Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.store_err("looking up a data file", &e)),
            }
        }
        Ok(None)
    }

    /// Reads a byte range of a data file, following a rename that happened
    /// since it was listed.
    async fn file_range(&self, f: &FileRef, range: std::ops::Range<u64>) -> Result<Bytes> {
        let what = "reading a data file";
        match self.store.get_range(&f.path, range.clone()).await {
            Err(object_store::Error::NotFound { .. }) if f.fallback.is_some() => {
                let p = f.fallback.as_ref().unwrap_or(&f.path);
                self.store.get_range(p, range).await
            }
            other => other,
        }
        .map_err(|e| self.store_err(what, &e))
    }

    fn cached_footer(&self, path: &Path) -> Option<Arc<FileMeta>> {
        self.footers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(path)
            .cloned()
    }

    fn cache_footer(&self, path: &Path, meta: FileMeta) -> Arc<FileMeta> {
        let meta = Arc::new(meta);
        self.footers
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(path.clone(), Arc::clone(&meta));
        meta
    }

    /// A file's footer, fetched with one or two range requests (cached).
    async fn footer(&self, f: &FileRef) -> Result<Arc<FileMeta>> {
        if let Some(m) = self.cached_footer(&f.path) {
            return Ok(m);
        }
        let what = "reading a Parquet footer";
        let size = f.size;
        if size < (FOOTER_SIZE as u64) * 2 {
            return Err(self.err(what, parquet_err(&f.path, "too short")));
        }
        let guess = size.min(64 << 10);
        let tail = self.file_range(f, size - guess..size).await?;
        let last: &[u8; FOOTER_SIZE] = tail[tail.len() - FOOTER_SIZE..]
            .try_into()
            .map_err(|_| self.err(what, parquet_err(&f.path, "short read")))?;
        let footer =
            FooterTail::try_new(last).map_err(|e| self.err(what, parquet_err(&f.path, e)))?;
        let need = footer.metadata_length() + FOOTER_SIZE;
        let buf = if need <= tail.len() {
            tail.slice(tail.len() - need..tail.len() - FOOTER_SIZE)
        } else {
            let need = u64::try_from(need).unwrap_or(u64::MAX);
            if need > size {
                return Err(self.err(what, parquet_err(&f.path, "footer longer than file")));
            }
            self.file_range(f, size - need..size - FOOTER_SIZE as u64)
                .await?
        };
        let metadata = ParquetMetaDataReader::decode_metadata(&buf)
            .map_err(|e| self.err(what, parquet_err(&f.path, e)))?;
        let meta = FileMeta::new(Arc::new(metadata))
            .map_err(|e| self.err(what, parquet_err(&f.path, e)))?;
        Ok(self.cache_footer(&f.path, meta))
    }

    /// Footers of many files, fetched concurrently, in file order.
    pub(crate) async fn footers(&self, files: &[FileRef]) -> Result<Vec<Arc<FileMeta>>> {
        stream::iter(files)
            .map(|f| self.footer(f))
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await
    }

    pub(crate) async fn file_bytes(&self, f: &FileRef) -> Result<Bytes> {
        if f.size == 0 {
            return Ok(Bytes::new());
        }
        self.file_range(f, 0..f.size).await
    }

    /// Reads the rows of `files` that may satisfy `filters` into one table
    /// with the union of their columns. The caller applies the filters
    /// exactly (the rows returned are a superset).
    pub(crate) async fn read_files(
        &self,
        table: &str,
        files: &[FileRef],
        filters: &[Filter],
    ) -> Result<Table> {
        // Which row groups of which file to read (None: all).
        let plan: Vec<Option<Vec<usize>>> = if filters.is_empty() {
            vec![None; files.len()]
        } else {
            self.footers(files)
                .await?
                .iter()
                .map(|m| Some(prune::row_groups(&m.metadata, &m.schema, filters)))
                .collect()
        };
        let wanted: Vec<(&FileRef, Option<Vec<usize>>)> = files
            .iter()
            .zip(plan)
            .filter(|(_, rgs)| rgs.as_ref().is_none_or(|r| !r.is_empty()))
            .collect();
        let decoded: Vec<(Arc<FileMeta>, Table)> = stream::iter(wanted)
            .map(|(f, rgs)| async move {
                let bytes = self.file_bytes(f).await?;
                self.decode(table, f, bytes, &Part::row_groups(rgs))
            })
            .buffered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        // The union schema covers every file, read or pruned.
        let metas: Vec<Arc<FileMeta>> = if filters.is_empty() {
            decoded.iter().map(|(m, _)| Arc::clone(m)).collect()
        } else {
            self.footers(files).await?
        };
        let columns = union_columns(table, metas.iter().map(|m| m.schema.as_ref()))?;
        let schema: Vec<(&str, DataType)> = columns.iter().map(|(n, t)| (n.as_str(), *t)).collect();
        let mut out = Table::with_schema(table, &schema)?;
        for (_, t) in decoded {
            out.append_rows(t)?;
        }
        Ok(out)
    }

    /// Decodes the `part` of a file.
    pub(crate) fn decode(
        &self,
        table: &str,
        f: &FileRef,
        bytes: Bytes,
        part: &Part,
    ) -> Result<(Arc<FileMeta>, Table)> {
        let what = "decoding a data file";
        let perr = |e: parquet::errors::ParquetError| self.err(what, parquet_err(&f.path, e));
        let builder = ParquetRecordBatchReaderBuilder::try_new(bytes).map_err(perr)?;
        let meta = match self.cached_footer(&f.path) {
            Some(m) => m,
            None => self.cache_footer(
                &f.path,
                FileMeta::new(Arc::clone(builder.metadata())).map_err(perr)?,
            ),
        };
        let mut builder = match &part.row_groups {
            Some(rgs) => builder.with_row_groups(rgs.clone()),
            None => builder,
        };
        if let Some(names) = &part.columns {
            let mask =
                ProjectionMask::columns(builder.parquet_schema(), names.iter().map(String::as_str));
            builder = builder.with_projection(mask);
        }
        if let Some(ranges) = &part.rows {
            let total = usize::try_from(meta.rows).unwrap_or(usize::MAX);
            builder = builder.with_row_selection(RowSelection::from_consecutive_ranges(
                ranges.iter().cloned(),
                total,
            ));
        }
        let schema = match &part.columns {
            // The projected columns that the file has, in file order.
            Some(names) => Arc::new(Schema::new(
                builder
                    .schema()
                    .fields()
                    .iter()
                    .filter(|f| names.iter().any(|n| n == f.name()))
                    .cloned()
                    .collect::<Vec<_>>(),
            )),
            None => builder.schema().clone(),
        };
        let reader = builder.build().map_err(perr)?;
        let named = |e: Error| match e {
            Error::InvalidData(m) => self.err(what, format!("{}: {m}", f.path)),
            other => other,
        };
        let mut out = dsi_core::arrow::from_record_batch(table, &RecordBatch::new_empty(schema))
            .map_err(named)?;
        for batch in reader {
            let batch = batch.map_err(|e| self.err(what, parquet_err(&f.path, e)))?;
            out.append_rows(dsi_core::arrow::from_record_batch(table, &batch).map_err(named)?)?;
        }
        Ok((meta, out))
    }
}
