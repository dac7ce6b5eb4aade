//! # dsi-driver-s3
//!
//! The `s3` back-end will live here: the Parquet dataset layout of
//! `dsi-driver-parquet` on S3-compatible object storage
//! (`s3://bucket/prefix`), configured from the standard `AWS_*` environment
//! variables plus `--option key=value`, with a private current-thread runtime
//! so that dsi-core stays synchronous.
