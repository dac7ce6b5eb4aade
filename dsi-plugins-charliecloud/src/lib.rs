//! # dsi-plugins-charliecloud
//!
//! The plugins that record and replay Charliecloud container runs. This crate
//! will hold, as the issues that build them land:
//!
//! * `runfile` — the Runfile v1 parser, canonical form and `ch-run` argv mapping;
//! * `image` — image identity by digest over `ch-image` storage;
//! * `runtime` — execution of steps through `ch-run`;
//! * `artifact` — the git repository and its deterministic tarball;
//! * `consumer`, `producer` — the `charliecloud-consumer` and
//!   `charliecloud-producer` plugins;
//! * `remote` — the `git` driver that pushes and pulls artifacts;
//! * `git-info` — the DSI GitInfo environment plugin.
//!
//! It depends only on `dsi-core`.
