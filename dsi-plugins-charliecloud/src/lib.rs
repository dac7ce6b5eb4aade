//! # dsi-plugins-charliecloud
//!
//! The plugins that record and replay Charliecloud container runs (the
//! README shows how to record from another program):
//!
//! * [`runfile`] — the Runfile parser (v1 and 1.1: RUNFILE.md and
//!   RUNFILE-1.1.md), canonical form, digest and `ch-run` argv mapping;
//! * `image` — image identity by digest over `ch-image` storage;
//! * `runtime` — execution of steps through `ch-run`;
//! * `artifact` — the git repository and its deterministic tarball;
//! * `consumer`, `producer` — the `charliecloud-consumer` and
//!   `charliecloud-producer` plugins;
//! * `records` — typed records (`RunRecord`) and the queries over them;
//!   `recording`, `replaying`, `verify`, `fsck`, `export`, `listing`,
//!   `describe` — the workflows every front-end calls;
//! * `remote` — pushing and pulling recorded repositories to git remotes;
//! * `git-info` — the DSI GitInfo environment plugin.
//!
//! Among the workspace crates it depends only on `dsi-core`.

pub mod artifact;
pub mod campaign;
pub mod compat;
pub mod consumer;
pub mod describe;
mod diagnostic_error;
pub mod export;
pub mod find;
pub mod fsck;
pub mod git_info;
pub mod image;
pub mod listing;
pub mod producer;
pub mod recording;
pub mod records;
pub mod remote;
pub mod replaying;
pub mod repository;
pub mod runfile;
pub mod runfile_source;
pub mod runtime;
pub mod settings;
pub mod slurm;
pub mod verify;
pub mod why;

pub use diagnostic_error::RunfileError;

/// The examples of this crate's README, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
