//! `dsi replay COMMIT` and `dsi run RUNFILE`: the producer plugin through the
//! Terminal, then the verification report.

use anyhow::bail;
use dsi_core::{
    Driver, Error, Filter, FilterOp, Interaction, ModuleKind, Options, Query, Table, TableQuery,
    Terminal,
};
use dsi_plugins_charliecloud::RunfileError;
use dsi_plugins_charliecloud::producer;
use dsi_plugins_charliecloud::records::{RUNS, text_at};
use serde_json::{Value, json};

use crate::backends;
use crate::cli::{GlobalArgs, ImageArgs, ReplayArgs, RunArgs};
use crate::commands::record;
use crate::exit::{Diagnosed, ExitStatus};
use crate::output::outln;
use crate::output::print_json;
use crate::runs;

/// The newest consumer record whose commit starts with `prefix`.
fn record_for_commit(stores: &[Box<dyn Driver>], prefix: &str) -> anyhow::Result<String> {
    let q = Query::Table(
        TableQuery::new(RUNS)
            .filter(Filter::new(
                "commit",
                FilterOp::StartsWith,
                prefix.to_ascii_lowercase(),
            ))
            .filter(Filter::new("function", FilterOp::Eq, "consumer"))
            .order_by("recorded_at", true)
            .limit(1),
    );
    for d in stores {
        match d.get(&q) {
            Ok(c) => {
                if let Some(id) = c.tables().first().and_then(|t| text_at(t, 0, "run_id")) {
                    return Ok(id);
                }
            }
            Err(Error::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    bail!(Error::InvalidData(format!(
        "no record of commit '{prefix}' in the store; replay from a repository with --repo DIR or a remote with --remote URL"
    )))
}

fn image_options(o: &mut Options, image: &ImageArgs) {
    if let Some(s) = &image.ch_storage {
        o.set("storage", s.display().to_string());
    }
    if image.offline {
        o.set("offline", "true");
    }
    if image.full {
        o.set("full", "true");
    }
}

/// Verification of a replay against the run it came from.
fn verify(parent: &Table, replay: &Table) -> Value {
    let mut ok = true;
    let mut items = Vec::new();
    let parent_out: serde_json::Map<String, Value> = text_at(parent, 0, "outputs")
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    let replay_out: serde_json::Map<String, Value> = text_at(replay, 0, "outputs")
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or_default();
    for (path, want) in &parent_out {
        let have = replay_out.get(path).cloned().unwrap_or(Value::Null);
        let status = if have.is_null() {
            "missing"
        } else if &have == want {
            "match"
        } else {
            "differs"
        };
        ok &= status == "match";
        items.push(json!({"what": path, "status": status, "recorded": want, "replayed": have}));
    }
    let (want, have) = (
        text_at(parent, 0, "stdout_sha256"),
        text_at(replay, 0, "stdout_sha256"),
    );
    if want.is_some() {
        let status = if want == have { "match" } else { "differs" };
        ok &= status == "match";
        items.push(json!({"what": "stdout", "status": status, "recorded": want, "replayed": have}));
    }
    json!({"ok": ok, "items": items})
}

fn print_verification(v: &Value) -> std::io::Result<()> {
    if let Some(note) = v["note"].as_str() {
        return outln!("verification: {note}");
    }
    outln!("verification against the recorded run:")?;
    for item in v["items"].as_array().into_iter().flatten() {
        let short = |x: &Value| {
            x.as_str()
                .map_or("(none)".to_owned(), |s| s.chars().take(12).collect())
        };
        outln!(
            "  {:<8} {}  (recorded {}, replayed {})",
            item["status"].as_str().unwrap_or(""),
            item["what"].as_str().unwrap_or(""),
            short(&item["recorded"]),
            short(&item["replayed"])
        )?;
    }
    Ok(())
}

/// The run a replay of `parent` is verified against: `parent` itself if it
/// is a replay, else the newest earlier replay of it.
fn reference_run(
    stores: &[Box<dyn Driver>],
    parent: &str,
    new_id: &str,
) -> anyhow::Result<Option<Table>> {
    let found = runs::find(stores, parent)?;
    if found.text("function").as_deref() == Some("producer") {
        return Ok(Some(found.row));
    }
    let q = Query::Table(
        TableQuery::new(RUNS)
            .filter(Filter::new("parent_run_id", FilterOp::Eq, found.id()))
            .filter(Filter::new("function", FilterOp::Eq, "producer"))
            .filter(Filter::new("run_id", FilterOp::Ne, new_id))
            .order_by("recorded_at", true)
            .limit(1),
    );
    let c = found.driver.get(&q)?;
    Ok(c.into_tables()
        .into_iter()
        .next()
        .filter(|t| t.num_rows() == 1))
}

/// What the replay needs besides the producer options.
struct Plan {
    options: Options,
    parent: Option<String>,
    verify: bool,
}

fn replay_with(
    global: &GlobalArgs,
    stores: Vec<Box<dyn Driver>>,
    plan: Plan,
) -> anyhow::Result<ExitStatus> {
    let mut terminal = Terminal::new();
    terminal.load_module(ModuleKind::Plugin, producer::NAME, &plan.options)?;
    for d in stores {
        terminal.load_driver(d)?;
    }
    terminal.transload()?;
    terminal.artifact_handler(Interaction::Put)?;
    let row = terminal
        .middleware()
        .table(RUNS)
        .expect("the producer writes a runs row")
        .clone();
    let get = |c: &str| text_at(&row, 0, c);
    let compat: Value = get("compat_result")
        .and_then(|s| serde_json::from_str(&s).ok())
        .unwrap_or(Value::Null);
    for b in compat["blocking"].as_array().into_iter().flatten() {
        eprintln!(
            "warning: system differs from the recorded one: {}",
            b.as_str().unwrap_or("")
        );
    }
    let exit_code = row
        .get(0, "exit_code")
        .and_then(|v| v.as_int())
        .unwrap_or(1);
    let verification = match (&plan.parent, plan.verify) {
        (Some(parent), true) => {
            let new_id = get("run_id").unwrap_or_default();
            Some(match reference_run(terminal.drivers(), parent, &new_id)? {
                Some(reference) => verify(&reference, &row),
                None => json!({"ok": true, "items": [], "note": format!(
                    "run {parent} has no earlier replay to compare with; this replay is the reference from now on"
                )}),
            })
        }
        (None, true) => bail!(Error::InvalidData(
            "--verify needs a recorded run to compare with (replay with --run or a recorded commit)".into()
        )),
        _ => None,
    };
    let file = get("runfile_path").unwrap_or_else(|| "Runfile".into());
    let failure = get("steps").and_then(|s| producer::failure_diagnostic(&s));
    if global.json {
        let mut v = json!({
            "run_id": get("run_id"),
            "parent_run_id": get("parent_run_id"),
            "commit": get("commit"),
            "image": get("image_ref"),
            "exit_code": exit_code,
            "signal": row.get(0, "signal").and_then(|v| v.as_int()),
            "duration_ms": row.get(0, "duration_ms").and_then(|v| v.as_int()),
            "stdout_sha256": get("stdout_sha256"),
            "outputs": get("outputs").and_then(|s| serde_json::from_str::<Value>(&s).ok()),
            "compat": compat,
        });
        if let Some(ver) = &verification {
            v["verify"] = ver.clone();
        }
        print_json(&v)?;
    } else {
        outln!(
            "replayed commit {} as run {}: exit {} in {} ms",
            get("commit").unwrap_or_default(),
            get("run_id").unwrap_or_default(),
            exit_code,
            row.get(0, "duration_ms")
                .and_then(|v| v.as_int())
                .unwrap_or(0)
        )?;
        if let Some(ver) = &verification {
            print_verification(ver)?;
        }
    }
    if let Some((d, code)) = failure {
        let e = RunfileError {
            file,
            diagnostic: d,
            exit_status: Some(code),
        };
        return Err(Diagnosed::new(
            e.to_string(),
            ExitStatus::Code(u8::try_from(code.clamp(1, 255)).unwrap_or(1)),
        )
        .into());
    }
    if verification.is_some_and(|v| v["ok"] != Value::Bool(true)) {
        eprintln!("error: the replay did not reproduce the recorded outputs");
        return Ok(ExitStatus::Failed);
    }
    Ok(ExitStatus::Ok)
}

fn producer_options(
    global: &GlobalArgs,
    commit: &str,
    check: Option<&str>,
    image: &ImageArgs,
) -> Options {
    let mut o = Options::new().with("commit", commit);
    if let Some(c) = check {
        o.set("check", c);
    }
    if global.json {
        o.set("output", "stderr");
    }
    image_options(&mut o, image);
    o
}

/// `dsi replay COMMIT`.
pub(crate) fn replay(global: &GlobalArgs, args: &ReplayArgs) -> anyhow::Result<ExitStatus> {
    let stores = backends::open(global)?;
    let mut o = producer_options(global, &args.commit, args.check.as_deref(), &args.image);
    if let Some(p) = &args.path {
        o.set("path", p.clone());
    }
    if let Some(dir) = &args.into {
        o.set("into", dir.display().to_string());
    }
    let parent = match (&args.run, &args.repo, &args.remote) {
        (Some(run), None, None) => Some(runs::find(&stores, run)?.id()),
        (None, Some(repo), None) => {
            o.set("repo", repo.display().to_string());
            None
        }
        (None, None, Some(url)) => {
            o.set("remote", url.clone());
            None
        }
        (None, None, None) => Some(record_for_commit(&stores, &args.commit)?),
        _ => bail!(Error::InvalidConfig {
            module: "replay".into(),
            message: "give at most one of --run, --repo, --remote".into()
        }),
    };
    if let Some(p) = &parent {
        o.set("run", p.clone());
    }
    replay_with(
        global,
        stores,
        Plan {
            options: o,
            parent,
            verify: args.verify,
        },
    )
}

/// `dsi run RUNFILE`: record, then replay the new commit.
pub(crate) fn run(global: &GlobalArgs, args: &RunArgs) -> anyhow::Result<ExitStatus> {
    let recorded = record::record(global, &args.record)?;
    if !global.json {
        outln!(
            "recorded run {} at commit {}",
            recorded.run_id,
            recorded.commit
        )?;
    }
    let stores = backends::open(global)?;
    let mut o = producer_options(
        global,
        &recorded.commit,
        args.check.as_deref(),
        &args.record.image,
    );
    o.set("run", recorded.run_id.clone());
    if let Some(p) = &args.record.path {
        o.set("path", p.clone());
    }
    replay_with(
        global,
        stores,
        Plan {
            options: o,
            parent: Some(recorded.run_id),
            verify: args.verify,
        },
    )
}
