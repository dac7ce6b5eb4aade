//! # dsi-core
//!
//! The core of dsi, a Rust implementation of the DSI model (Terminal, plugins,
//! drivers) from LANL's Data Science Infrastructure project:
//!
//! * the value model — [`Value`], [`DataType`], [`Table`], [`Collection`],
//!   and content-addressed blobs ([`BlobRef`]) whose content is verified on
//!   every read;
//! * the module traits — [`Plugin`] (consumer or producer of rows) and
//!   [`Driver`] (back-end or front-end), synchronous and object safe;
//! * the [`registry`] of every linked module, built with `inventory`;
//! * the [`Terminal`], with the 2023 DSI semantics (load/unload, transload,
//!   artifact handler);
//! * the `csv` consumer plugin in [`ingest`];
//! * the environment plugins in [`env`](mod@env) (`hostname`, `system-kernel`) and the
//!   pure [`env::diff`] used by the replay compatibility check;
//! * [`memory::MemoryDriver`], an in-memory back-end for tests and embedding.
//!
//! ```
//! use dsi_core::{Collection, Column, DataType, Driver, Query, Table, TableQuery, Value};
//! use dsi_core::memory::MemoryDriver;
//!
//! let store = MemoryDriver::new();
//! let table = Table::from_columns(
//!     "runs",
//!     vec![Column::new("exit_code", DataType::Int, vec![Value::Int(0)])?],
//! )?;
//! store.put(&Collection::of(table))?;
//! let read = store.get(&Query::Table(TableQuery::new("runs")))?;
//! assert_eq!(read.table("runs").unwrap().get(0, "exit_code"), Some(&Value::Int(0)));
//! # Ok::<(), dsi_core::Error>(())
//! ```
//!
//! ## Features
//!
//! * `arrow` — lossless conversion between [`Table`] and Arrow `RecordBatch`
//!   (used by the Parquet and S3 drivers);
//! * `conformance` — the driver conformance suite, for driver crates' tests.
//!
//! dsi-core has no async runtime; drivers that need one own it privately.

#[cfg(feature = "arrow")]
pub mod arrow;
pub mod blob;
pub mod collect;
#[cfg(any(feature = "conformance", test))]
pub mod conformance;
pub mod driver;
pub mod env;
mod error;
pub mod file_cache;
pub mod fsck;
pub mod ingest;
pub mod maintenance;
pub mod memory;
mod options;
pub mod plugin;
pub mod progress;
pub mod registry;
pub mod stores;
pub mod table;
pub mod terminal;
pub mod text;
pub mod value;

pub use blob::{BlobRef, PendingBlob};
pub use driver::{
    Access, BlobPut, ColumnInfo, Driver, DriverFunction, Filter, FilterOp, Inspection, Location,
    OrderBy, Query, TableInfo, TableQuery,
};
pub use error::{BoxError, Error, ModuleKind, Result};
pub use maintenance::{Compaction, Migration, TableCompaction, TableMigration};
pub use options::{OptionSpec, Options, parse_bool};
pub use plugin::{Context, Plugin, PluginFunction};
pub use registry::{DriverEntry, PluginEntry, ReservedTable};
pub use stores::{Found, Stores};
pub use table::{Collection, Column, Table};
pub use terminal::{HandlerOutput, Interaction, LoadOutcome, ModuleInfo, Terminal};
pub use value::{DataType, Timestamp, Value};

/// The examples of this crate's README, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
