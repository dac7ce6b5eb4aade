//! # dsi-driver-parquet
//!
//! The `parquet` back-end will live here: an append-only dataset directory
//! (`./dsi-data/` by default) readable as-is by pyarrow, DuckDB, Spark and
//! DataFusion — one directory per table, Hive-style partitions by record
//! date, one new zstd-compressed Parquet file per put (written under a
//! temporary name, then renamed), and content-addressed blobs under
//! `blobs/sha256/<2>/<62>` — implemented over an `object_store` so that the
//! S3 driver reuses it unchanged.
