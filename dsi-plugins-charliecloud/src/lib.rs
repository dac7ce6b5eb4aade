//! # dsi-plugins-charliecloud
//!
//! The plugins that record and replay Charliecloud container runs (the
//! README shows how to record from another program):
//!
//! * [`runfile`] — the Runfile v1 parser, canonical form, digest and `ch-run`
//!   argv mapping (RUNFILE.md §3–§7, §10);
//! * `image` — image identity by digest over `ch-image` storage;
//! * `runtime` — execution of steps through `ch-run`;
//! * `artifact` — the git repository and its deterministic tarball;
//! * `consumer`, `producer` — the `charliecloud-consumer` and
//!   `charliecloud-producer` plugins;
//! * `remote` — the `git` driver that pushes and pulls artifacts;
//! * `git-info` — the DSI GitInfo environment plugin.
//!
//! Among the workspace crates it depends only on `dsi-core`.

pub mod artifact;
pub mod compat;
pub mod consumer;
mod diagnostic_error;
pub mod git_info;
pub mod image;
pub mod producer;
pub mod records;
pub mod remote;
pub mod runfile;
pub mod runtime;
pub mod settings;

pub use diagnostic_error::RunfileError;

/// The examples of this crate's README, run as doc tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
