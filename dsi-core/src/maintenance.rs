//! What store maintenance reports: [`Compaction`] (from
//! [`Driver::compact`](crate::Driver::compact), `dsi compact`) and
//! [`Migration`] (from [`DriverEntry::migrate_store`](crate::DriverEntry::migrate_store),
//! `dsi migrate`), in terms every back-end can fill in.

use serde::Serialize;

/// What compaction did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct TableCompaction {
    /// The table.
    pub table: String,
    /// Data files before.
    pub files_before: u64,
    /// Data files after.
    pub files_after: u64,
    /// Bytes of data files before.
    pub bytes_before: u64,
    /// Bytes of data files after.
    pub bytes_after: u64,
    /// Files no longer referenced that were deleted (after their retention).
    pub files_removed: u64,
}

impl TableCompaction {
    /// A table's figures.
    pub fn new(
        table: impl Into<String>,
        files: (u64, u64),
        bytes: (u64, u64),
        removed: u64,
    ) -> Self {
        TableCompaction {
            table: table.into(),
            files_before: files.0,
            files_after: files.1,
            bytes_before: bytes.0,
            bytes_after: bytes.1,
            files_removed: removed,
        }
    }
}

/// What compaction did to a store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Compaction {
    /// Per table, in name order.
    pub tables: Vec<TableCompaction>,
    /// Anything else done, one line each (e.g. interrupted puts settled).
    pub notes: Vec<String>,
}

impl Compaction {
    /// A report of these tables and notes.
    pub fn new(tables: Vec<TableCompaction>, notes: Vec<String>) -> Self {
        Compaction { tables, notes }
    }
}

/// What migration did to one table.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct TableMigration {
    /// The table.
    pub table: String,
    /// Data files it now holds.
    pub files: u64,
    /// Rows in them.
    pub rows: u64,
}

impl TableMigration {
    /// A table's figures.
    pub fn new(table: impl Into<String>, files: u64, rows: u64) -> Self {
        TableMigration {
            table: table.into(),
            files,
            rows,
        }
    }
}

/// What migration did to a store.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[non_exhaustive]
pub struct Migration {
    /// Where the store is.
    pub location: String,
    /// Whether it was of the current layout already (nothing was done).
    pub already_current: bool,
    /// Per table, in name order.
    pub tables: Vec<TableMigration>,
}

impl Migration {
    /// A report for the store at `location`.
    pub fn new(
        location: impl Into<String>,
        already_current: bool,
        tables: Vec<TableMigration>,
    ) -> Self {
        Migration {
            location: location.into(),
            already_current,
            tables,
        }
    }
}
