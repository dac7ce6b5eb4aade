//! The scripting interface: with `--json`, each command prints one JSON
//! document on stdout (and an error as one [`json::ErrorDoc`] on stderr).
//! Every document has a JSON Schema, generated from the types that print
//! it and checked in under `docs/schemas/` (a test fails when they drift).
//! Within a schema version fields are only added; a change of meaning
//! makes a new version.

use schemars::{JsonSchema, Schema};

use crate::json;
use dsi_plugins_charliecloud as cc;

/// The version of every schema below.
pub const VERSION: u32 = 1;

/// One command's JSON document.
#[derive(Debug)]
pub struct Document {
    /// The schema's file name (without `.schema.json`).
    pub name: &'static str,
    /// The commands that print it.
    pub commands: &'static str,
    /// Its schema.
    pub schema: Schema,
}

fn doc<T: JsonSchema>(name: &'static str, commands: &'static str) -> Document {
    let mut schema = schemars::schema_for!(T);
    schema.insert(
        "$id".into(),
        format!("https://github.com/lanl/dsi-rs/schemas/{name}/{VERSION}").into(),
    );
    schema.insert(
        "description".into(),
        format!("`{commands}` (version {VERSION})").into(),
    );
    Document {
        name,
        commands,
        schema,
    }
}

/// Every document, in command order.
pub fn all() -> Vec<Document> {
    vec![
        doc::<cc::recording::Recorded>("record", "dsi record --json"),
        doc::<cc::replaying::Replayed>("replay", "dsi replay --json, dsi run --json"),
        doc::<cc::replaying::Repeated>("replay-repeat", "dsi replay --repeat N --json"),
        doc::<cc::replaying::ReplayPlan>("replay-plan", "dsi replay --dry-run --json"),
        doc::<cc::listing::ListPage>("list", "dsi list --json"),
        doc::<Vec<cc::describe::CommitHistory>>("log", "dsi log --json"),
        doc::<cc::describe::RunDescription>("show", "dsi show --json"),
        doc::<cc::compat::SystemComparison>("diff", "dsi diff --json"),
        doc::<cc::why::Why>("why", "dsi why --json"),
        doc::<cc::repository::CheckedOut>("checkout", "dsi checkout --json"),
        doc::<cc::remote::Pushed>("push", "dsi push --json"),
        doc::<cc::remote::Pulled>("pull", "dsi pull --json"),
        doc::<dsi_core::collect::Ingested>("ingest", "dsi ingest csv --json"),
        doc::<Vec<json::QueryRow>>("query", "dsi query --json"),
        doc::<cc::export::JsonExport>("export", "dsi export --format json"),
        doc::<json::Written>(
            "written",
            "dsi export -o PATH --json, dsi inspect --notebook PATH --json",
        ),
        doc::<Vec<json::StoreSummary>>("inspect", "dsi inspect --json"),
        doc::<cc::fsck::FsckReport>("fsck", "dsi fsck --json"),
        doc::<Vec<json::StoreCompaction>>("compact", "dsi compact --json"),
        doc::<Vec<json::StoreMigration>>("migrate", "dsi migrate --json"),
        doc::<json::Settings>("config", "dsi config --json"),
        doc::<Vec<dsi_core::ModuleInfo>>("modules", "dsi plugins --json, dsi drivers --json"),
        doc::<dsi_core::collect::Collected>("collect", "dsi collect --json"),
        doc::<cc::runfile::Report>("runfile-check", "dsi runfile check --json"),
        doc::<json::Pinned>("runfile-pin", "dsi runfile pin --json"),
        doc::<json::CampaignStarted>("campaign-start", "dsi campaign start --json"),
        doc::<cc::campaign::status::CampaignStatus>(
            "campaign-status",
            "dsi campaign status --json",
        ),
        doc::<cc::campaign::report::Report>(
            "campaign-report",
            "dsi campaign report --json, dsi campaign report --format json",
        ),
        doc::<json::CampaignTaskDone>("campaign-task", "dsi campaign task --json"),
        doc::<json::ErrorDoc>("error", "any command with --json, on stderr"),
    ]
}
