//! The [`Driver`] trait and the types it speaks: [`Query`], [`Filter`],
//! [`Inspection`].
//!
//! A driver's *function* is **back-end** (persists the middleware) or
//! **front-end** (presents it). Only [`Driver::name`] and
//! [`Driver::function`] are required; every capability has a default that
//! returns [`Error::NotSupported`], so a front-end implements only what it
//! offers. The trait is synchronous and object safe: drivers that talk to
//! asynchronous services own a private runtime (see the S3 driver).

use std::cmp::Ordering;
use std::fmt;
use std::io::Read;

use serde::Serialize;

use crate::blob::{BlobReader, BlobRef};
use crate::error::{Error, Result};
use crate::maintenance::Compaction;
use crate::table::{Collection, Table};
use crate::value::{DataType, Value};

/// What a driver is for.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum DriverFunction {
    /// Persists the middleware to storage.
    BackEnd,
    /// Presents the middleware to a user.
    FrontEnd,
}

impl fmt::Display for DriverFunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DriverFunction::BackEnd => "back-end",
            DriverFunction::FrontEnd => "front-end",
        })
    }
}

/// How a store is opened.
///
/// Read commands open stores [`Access::ReadOnly`]: nothing is created,
/// migrated or written (no journal switch, no internal tables), a store that
/// does not exist is [`Error::NotFound`] naming it, and a store on read-only
/// media is readable. Only commands that record open [`Access::ReadWrite`],
/// which creates the store if it is missing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Default, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Access {
    /// Read what exists; never create or modify anything.
    ReadOnly,
    /// Read and write; create the store if it is missing.
    #[default]
    ReadWrite,
}

/// Where a store keeps its data, structured so that other tools (the
/// notebook, a web page) can open it without parsing a message.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, schemars::JsonSchema)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Location {
    /// A file (the SQLite database).
    File {
        /// Its path.
        path: std::path::PathBuf,
    },
    /// A directory (a Parquet dataset on a file system).
    Directory {
        /// Its path.
        path: std::path::PathBuf,
    },
    /// A prefix in an S3-compatible bucket.
    ObjectStore {
        /// `s3://bucket/prefix`.
        url: String,
        /// The endpoint used, when not the provider's default.
        endpoint: Option<String>,
        /// The region used.
        region: Option<String>,
        /// Whether plain HTTP is allowed to the endpoint.
        allow_http: bool,
    },
    /// Anything else (in-memory stores, front-ends).
    Other {
        /// A description.
        description: String,
    },
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File { path } | Location::Directory { path } => {
                write!(f, "{}", path.display())
            }
            Location::ObjectStore { url, endpoint, .. } => match endpoint {
                Some(e) => write!(f, "{url} at {e}"),
                None => f.write_str(url),
            },
            Location::Other { description } => f.write_str(description),
        }
    }
}

/// A comparison in a [`Filter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FilterOp {
    /// Equal.
    Eq,
    /// Not equal.
    Ne,
    /// Less than.
    Lt,
    /// Less than or equal.
    Le,
    /// Greater than.
    Gt,
    /// Greater than or equal.
    Ge,
    /// Text starts with the given text (no wildcards).
    StartsWith,
}

/// One condition on a column. A null cell never matches (SQL semantics).
#[derive(Debug, Clone, PartialEq)]
pub struct Filter {
    /// Column name.
    pub column: String,
    /// Comparison.
    pub op: FilterOp,
    /// The value compared with.
    pub value: Value,
}

impl Filter {
    /// A filter `column op value`.
    pub fn new(column: impl Into<String>, op: FilterOp, value: impl Into<Value>) -> Self {
        Filter {
            column: column.into(),
            op,
            value: value.into(),
        }
    }

    /// Whether a cell satisfies this filter. Integers and floats compare
    /// numerically; other types compare only with their own type.
    pub fn matches(&self, cell: &Value) -> bool {
        if let FilterOp::StartsWith = self.op {
            return match (cell, &self.value) {
                (Value::Text(c), Value::Text(p)) => c.starts_with(p.as_str()),
                _ => false,
            };
        }
        let Some(ord) = compare(cell, &self.value) else {
            return false;
        };
        match self.op {
            FilterOp::Eq => ord == Ordering::Equal,
            FilterOp::Ne => ord != Ordering::Equal,
            FilterOp::Lt => ord == Ordering::Less,
            FilterOp::Le => ord != Ordering::Greater,
            FilterOp::Gt => ord == Ordering::Greater,
            FilterOp::Ge => ord != Ordering::Less,
            FilterOp::StartsWith => unreachable!("handled above"),
        }
    }
}

/// Orders two values of compatible types; `None` when either is null or the
/// types cannot be compared.
pub fn compare(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => Some(x.cmp(y)),
        (Value::Int(x), Value::Int(y)) => Some(x.cmp(y)),
        (Value::Float(x), Value::Float(y)) => x.partial_cmp(y),
        #[allow(
            clippy::cast_precision_loss,
            reason = "SQL compares mixed numbers as floats"
        )]
        (Value::Int(x), Value::Float(y)) => (*x as f64).partial_cmp(y),
        #[allow(
            clippy::cast_precision_loss,
            reason = "SQL compares mixed numbers as floats"
        )]
        (Value::Float(x), Value::Int(y)) => x.partial_cmp(&(*y as f64)),
        (Value::Text(x), Value::Text(y)) => Some(x.as_bytes().cmp(y.as_bytes())),
        (Value::Bytes(x), Value::Bytes(y)) => Some(x.cmp(y)),
        (Value::Blob(x), Value::Blob(y)) => Some(x.cmp(y)),
        (Value::Timestamp(x), Value::Timestamp(y)) => Some(x.cmp(y)),
        _ => None,
    }
}

/// Sort order of a [`TableQuery`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    /// Column to sort by.
    pub column: String,
    /// Largest first.
    pub descending: bool,
}

/// Rows of one table, optionally filtered, ordered and limited.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TableQuery {
    /// The table.
    pub table: String,
    /// Conditions that must all hold.
    pub filters: Vec<Filter>,
    /// Sort order; insertion order when absent.
    pub order_by: Option<OrderBy>,
    /// At most this many rows.
    pub limit: Option<u64>,
    /// The columns the caller needs; `None` for all. A driver may return
    /// more (every column), never fewer of those that exist.
    pub columns: Option<Vec<String>>,
}

impl TableQuery {
    /// All rows of a table.
    pub fn new(table: impl Into<String>) -> Self {
        TableQuery {
            table: table.into(),
            ..Self::default()
        }
    }

    /// Adds a condition.
    pub fn filter(mut self, f: Filter) -> Self {
        self.filters.push(f);
        self
    }

    /// Sorts by a column.
    pub fn order_by(mut self, column: impl Into<String>, descending: bool) -> Self {
        self.order_by = Some(OrderBy {
            column: column.into(),
            descending,
        });
        self
    }

    /// Limits the number of rows.
    pub fn limit(mut self, n: u64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Asks only for these columns (plus any a driver returns anyway).
    pub fn select<I, S>(mut self, columns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.columns = Some(columns.into_iter().map(Into::into).collect());
        self
    }

    /// The same query without order and limit (what [`Driver::count`] counts).
    #[must_use]
    pub fn unlimited(&self) -> TableQuery {
        TableQuery {
            order_by: None,
            limit: None,
            ..self.clone()
        }
    }

    /// Applies the filters, order and limit to a table in memory (drivers
    /// without native filtering use this). A filter or order on a column the
    /// table lacks is an error naming it.
    pub fn apply(&self, mut table: Table) -> Result<Table> {
        let mut filters = Vec::with_capacity(self.filters.len());
        for f in &self.filters {
            let idx = table
                .column_index(&f.column)
                .ok_or_else(|| no_column(&self.table, &f.column))?;
            filters.push((idx, f));
        }
        let keep: Vec<bool> = (0..table.num_rows())
            .map(|r| {
                filters
                    .iter()
                    .all(|(i, f)| f.matches(&table.columns()[*i].values()[r]))
            })
            .collect();
        table.retain_rows(|r| keep[r]);
        if let Some(order) = &self.order_by {
            let idx = table
                .column_index(&order.column)
                .ok_or_else(|| no_column(&self.table, &order.column))?;
            let mut perm: Vec<usize> = (0..table.num_rows()).collect();
            let col = table.columns()[idx].values();
            // Nulls sort first ascending, last descending (SQLite's rule).
            perm.sort_by(|a, b| {
                let o = match (col[*a].is_null(), col[*b].is_null()) {
                    (true, true) => Ordering::Equal,
                    (true, false) => Ordering::Less,
                    (false, true) => Ordering::Greater,
                    _ => compare(&col[*a], &col[*b]).unwrap_or(Ordering::Equal),
                };
                if order.descending { o.reverse() } else { o }
            });
            table = table.select_rows(&perm)?;
        }
        if let Some(n) = self.limit {
            let n = usize::try_from(n).unwrap_or(usize::MAX);
            table.retain_rows(|r| r < n);
        }
        Ok(table)
    }
}

fn no_column(table: &str, column: &str) -> Error {
    Error::not_found_in("column", column, format!("table '{table}'"))
}

/// What to read from a back-end.
#[derive(Debug, Clone, PartialEq)]
pub enum Query {
    /// Rows of one table.
    Table(TableQuery),
    /// A SQL statement in the back-end's dialect (read-only).
    Sql(String),
}

impl From<TableQuery> for Query {
    fn from(q: TableQuery) -> Self {
        Query::Table(q)
    }
}

/// Whether [`Driver::put_blob`] wrote the content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobPut {
    /// The content was new and has been stored.
    Stored,
    /// The content was already stored; nothing was written.
    AlreadyPresent,
}

/// One column in an [`Inspection`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// Column type.
    pub data_type: DataType,
}

/// One table in an [`Inspection`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct TableInfo {
    /// Table name.
    pub name: String,
    /// Columns in order.
    pub columns: Vec<ColumnInfo>,
    /// Number of rows.
    pub rows: u64,
    /// Number of files holding the table, where the back-end has files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub files: Option<u64>,
}

/// A summary of a store, returned by [`Driver::inspect`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Inspection {
    /// The driver's name.
    pub driver: String,
    /// Where the store is (never with credentials).
    pub location: Location,
    /// Tables in name order.
    pub tables: Vec<TableInfo>,
    /// Number of stored blobs.
    pub blobs: u64,
    /// Total bytes of stored blob content.
    pub blob_bytes: u64,
}

/// A module that stores or presents the middleware.
pub trait Driver: Send + Sync + fmt::Debug {
    /// The driver's registered name, e.g. `sqlite`.
    fn name(&self) -> &str;

    /// Back-end or front-end.
    fn function(&self) -> DriverFunction;

    /// Where this instance keeps its data; with [`Driver::name`] it
    /// identifies the instance, so two stores of one driver can be loaded
    /// at once.
    fn location(&self) -> Location {
        Location::Other {
            description: self.name().to_owned(),
        }
    }

    /// Appends every table of the collection (not its blobs: see
    /// [`Driver::put_blob`]) atomically: after an error nothing of this call
    /// is visible.
    fn put(&self, collection: &Collection) -> Result<()> {
        let _ = collection;
        Err(Error::not_supported("put", self.name()))
    }

    /// Reads what the query selects. A table that does not exist is
    /// [`Error::NotFound`].
    fn get(&self, query: &Query) -> Result<Collection> {
        let _ = query;
        Err(Error::not_supported("get", self.name()))
    }

    /// How many rows the query selects, ignoring its order and limit. The
    /// default reads the rows; drivers that can count natively should.
    fn count(&self, query: &TableQuery) -> Result<u64> {
        let c = self.get(&Query::Table(query.unlimited()))?;
        Ok(c.tables().first().map_or(0, |t| t.num_rows() as u64))
    }

    /// Summarises the store.
    fn inspect(&self) -> Result<Inspection> {
        Err(Error::not_supported("inspect", self.name()))
    }

    /// Stores blob content under its reference, streaming it. The content is
    /// verified while it is written; on a mismatch nothing is stored and
    /// [`Error::Corrupt`] is returned. Content already stored is not rewritten.
    fn put_blob(&self, blob: &BlobRef, content: &mut dyn Read) -> Result<BlobPut> {
        let _ = (blob, content);
        Err(Error::not_supported("put_blob", self.name()))
    }

    /// Opens stored blob content; the reader verifies it as it streams.
    fn get_blob(&self, blob: &BlobRef) -> Result<BlobReader<'_>> {
        let _ = blob;
        Err(Error::not_supported("get_blob", self.name()))
    }

    /// Whether blob content is stored.
    fn has_blob(&self, blob: &BlobRef) -> Result<bool> {
        let _ = blob;
        Err(Error::not_supported("has_blob", self.name()))
    }

    /// Every stored blob reference (for `fsck`).
    fn list_blobs(&self) -> Result<Vec<BlobRef>> {
        Err(Error::not_supported("list_blobs", self.name()))
    }

    /// Rewrites the store's data for faster reads without changing what it
    /// holds (merging small files, removing unreferenced ones after their
    /// retention), safely while others write. Back-ends that need none
    /// keep the default, [`Error::NotSupported`].
    fn compact(&self) -> Result<Compaction> {
        Err(Error::not_supported("compact", self.name()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Column;

    fn table() -> Table {
        Table::from_columns(
            "t",
            vec![
                Column::new(
                    "n",
                    DataType::Int,
                    vec![3i64.into(), Value::Null, 1i64.into(), 2i64.into()],
                )
                .unwrap(),
                Column::new(
                    "s",
                    DataType::Text,
                    vec!["c".into(), "x".into(), "a%".into(), "ab".into()],
                )
                .unwrap(),
            ],
        )
        .unwrap()
    }

    #[test]
    fn filters_order_and_limit_apply_in_memory() {
        let q = TableQuery::new("t")
            .filter(Filter::new("n", FilterOp::Ge, 2i64))
            .order_by("n", false);
        let t = q.apply(table()).unwrap();
        assert_eq!(
            t.column("n").unwrap().values(),
            &[Value::Int(2), Value::Int(3)]
        );

        let t = TableQuery::new("t")
            .order_by("n", true)
            .limit(3)
            .apply(table())
            .unwrap();
        assert_eq!(
            t.column("n").unwrap().values(),
            &[Value::Int(3), Value::Int(2), Value::Int(1)]
        );
    }

    #[test]
    fn starts_with_takes_no_wildcards() {
        let t = TableQuery::new("t")
            .filter(Filter::new("s", FilterOp::StartsWith, "a%"))
            .apply(table())
            .unwrap();
        assert_eq!(t.num_rows(), 1);
    }

    #[test]
    fn null_never_matches_and_mixed_numbers_compare() {
        assert!(!Filter::new("n", FilterOp::Ne, 1i64).matches(&Value::Null));
        assert!(Filter::new("n", FilterOp::Lt, 1.5).matches(&Value::Int(1)));
        assert!(!Filter::new("n", FilterOp::Eq, "1").matches(&Value::Int(1)));
    }

    #[test]
    fn unknown_filter_column_is_named() {
        let e = TableQuery::new("t")
            .filter(Filter::new("zz", FilterOp::Eq, 1i64))
            .apply(table())
            .unwrap_err();
        assert_eq!(e.to_string(), "column 'zz' not found in table 't'");
    }
}
