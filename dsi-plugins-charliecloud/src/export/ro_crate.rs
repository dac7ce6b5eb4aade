//! A run as a Workflow Run RO-Crate (<https://www.researchobject.org/workflow-run-crate/>),
//! Process Run Crate profile 0.5, on RO-Crate 1.1.
//!
//! The directory holds `ro-crate-metadata.json` and the Runfile at the
//! run's commit (`Runfile`, a data entity typed `File` and
//! `SoftwareSourceCode`). The run is a `CreateAction` (`#run-<ULID>`):
//! its `instrument` is the Runfile, its `containerImage` a `ContainerImage`
//! entity with the image's digests, its `agent` the user (`Person`,
//! `moniker@hostname`) and dsi a `participant`. A record's `object` is the
//! Runfile and its `result` the packed repository; a replay's `object` is
//! the packed repository and its `result` the declared outputs. Files that
//! are not in the crate (the repository tarball, the outputs) are contextual
//! entities with local identifiers and their SHA-256. A replay's parent
//! record is included as a second action, so the two form the implicit
//! workflow the profile describes.

use std::path::Path;

use dsi_core::{BlobRef, Error, Timestamp};
use serde_json::{Value, json};

use super::ExportRun as RunData;

/// The profile this crate conforms to.
pub const PROFILE: &str = "https://w3id.org/ro/wfrun/process/0.5";
/// The workflow-run terms (`ContainerImage`, `containerImage`, `sha256`, …).
const WFRUN_TERMS: &str = "https://w3id.org/ro/terms/workflow-run";
/// The root's license: dsi cannot know it, and says so.
const LICENSE: &str = "#license-not-stated";
/// Where the Runfile is written in the crate.
const RUNFILE: &str = "Runfile";

/// `#` identifiers: anything outside a safe set percent-encoded.
fn fragment(s: &str) -> String {
    super::encode(s, super::FRAGMENT)
}

fn id_ref(id: &str) -> Value {
    json!({ "@id": id })
}

/// One value as itself, several as an array (RO-Crate prefers no singleton arrays).
fn one_or_many(mut values: Vec<Value>) -> Value {
    if values.len() == 1 {
        values.remove(0)
    } else {
        Value::Array(values)
    }
}

/// A time as the profile's validator wants it: milliseconds and `+00:00`
/// (`2026-11-29T08:27:16.742+00:00`).
fn crate_time(rfc3339: &str) -> Option<String> {
    let t = Timestamp::parse_rfc3339(rfc3339).ok()?.to_rfc3339();
    Some(format!("{}+00:00", t.get(..23)?))
}

/// Adds `key: value` unless the value is null.
fn put(entity: &mut Value, key: &str, value: Value) {
    if !value.is_null() {
        entity[key] = value;
    }
}

/// The entities of one run; returns the action's identifier.
fn add_run(
    graph: &mut Vec<Value>,
    run: &RunData,
    runfile_entity: &str,
    with_result: &mut Vec<Value>,
) -> String {
    let id = run.id();
    let action_id = format!("#run-{}", fragment(id));
    let commit = run.record.commit.as_deref().unwrap_or_default();
    let short = &commit[..commit.len().min(10)];

    // The image.
    let image_id = format!("#image-{}", fragment(id));
    let reference = run.record.image.reference.as_deref().unwrap_or_default();
    let parts = crate::runfile::name_parts(reference);
    let (registry, name, tag) = match &parts {
        Some(p) => (p.host.as_deref(), p.repo.as_str(), p.tag.as_deref()),
        None => (None, reference, None),
    };
    let mut image = json!({
        "@id": image_id,
        "@type": "ContainerImage",
        "additionalType": id_ref(&format!("{WFRUN_TERMS}#DockerImage")),
        "name": name,
        "description": format!("the image {reference} as dsi resolved it for run {id}"),
    });
    put(&mut image, "registry", registry.into());
    put(&mut image, "tag", tag.into());
    put(
        &mut image,
        "sha256",
        run.record
            .image
            .digest
            .as_deref()
            .and_then(|d| d.strip_prefix("sha256:"))
            .into(),
    );
    let mut identifiers: Vec<&str> = Vec::new();
    let img = &run.record.image;
    for d in [
        &img.digest,
        &img.manifest_digest,
        &img.config_digest,
        &img.tree_digest,
    ]
    .into_iter()
    .flatten()
    {
        if !identifiers.contains(&d.as_str()) {
            identifiers.push(d);
        }
    }
    if !identifiers.is_empty() {
        image["identifier"] = one_or_many(identifiers.into_iter().map(Value::from).collect());
    }
    graph.push(image);

    // The user.
    let user = run.user().unwrap_or_else(|| "unknown".into());
    let person_id = format!("#user-{}", fragment(&user));
    if !graph.iter().any(|e| e["@id"] == person_id.as_str()) {
        let mut person = json!({"@id": person_id, "@type": "Person", "name": user});
        if let (Some(uid), Some(host)) = (
            run.record.user.as_ref().and_then(|u| u.uid),
            run.record.hostname(),
        ) {
            person["identifier"] = format!("uid {uid} on {host}").into();
        }
        graph.push(person);
    }
    let dsi_id = format!("#dsi-{}", fragment(run.dsi_version()));
    if !graph.iter().any(|e| e["@id"] == dsi_id.as_str()) {
        graph.push(json!({
            "@id": dsi_id,
            "@type": "SoftwareApplication",
            "name": "dsi",
            "version": run.dsi_version(),
            "url": env!("CARGO_PKG_REPOSITORY"),
            "description": "records how a Charliecloud container was run as a git repository and replays it",
        }));
    }

    // The packed repository.
    let tarball = run.repository().map(|(sha, len)| {
        let tid = format!("#repository-sha256-{}", fragment(&sha));
        if !graph.iter().any(|e| e["@id"] == tid.as_str()) {
            graph.push(json!({
                "@id": tid,
                "@type": "File",
                "name": format!("repository at commit {short} (tar + zstd)"),
                "description": "the Runfile's git repository, packed by dsi and kept in its store (not in this crate)",
                "encodingFormat": "application/zstd",
                "contentSize": len.to_string(),
                "sha256": sha,
            }));
        }
        tid
    });

    let (object, result): (Vec<Value>, Vec<Value>) = if run.is_replay() {
        let mut result = Vec::new();
        for (path, sha) in run.outputs() {
            let oid = format!("#output-{}", fragment(&path));
            let mut out = json!({
                "@id": oid,
                "@type": "File",
                "name": path,
                "description": "a declared output (dsi.outputs) of the replay (not in this crate)",
                "encodingFormat": "application/octet-stream",
            });
            match sha {
                Some(s) => out["sha256"] = s.into(),
                None => {
                    out["description"] =
                        "a declared output (dsi.outputs) that the replay did not write".into();
                }
            }
            graph.push(out);
            result.push(id_ref(&oid));
        }
        (tarball.iter().map(|t| id_ref(t)).collect(), result)
    } else {
        (
            vec![id_ref(runfile_entity)],
            tarball.iter().map(|t| id_ref(t)).collect(),
        )
    };
    with_result.extend(result.iter().cloned());

    let exit = run.record.outcome.as_ref().and_then(|o| o.exit_code);
    let signal = run.record.outcome.as_ref().and_then(|o| o.signal);
    let ok = exit.is_none_or(|c| c == 0) && signal.is_none();
    let what = if run.is_replay() {
        format!(
            "dsi replayed the Runfile {} at commit {commit} in image {reference}",
            run.record.runfile.path.as_deref().unwrap_or(RUNFILE)
        )
    } else {
        format!(
            "dsi recorded the Runfile {} at commit {commit} for image {reference}",
            run.record.runfile.path.as_deref().unwrap_or(RUNFILE)
        )
    };
    let mut details = vec![what];
    if let Some(host) = run.record.hostname() {
        details.push(format!(
            "on {host} ({} {})",
            run.record.system.architecture.as_deref().unwrap_or(""),
            run.record.system.kernel_release.as_deref().unwrap_or("")
        ));
    }
    if let Some(c) = exit {
        details.push(format!(
            "exit {c} in {} ms",
            run.record
                .outcome
                .as_ref()
                .and_then(|o| o.duration_ms)
                .unwrap_or(0)
        ));
    }
    if let Some(v) = &run.record.verification {
        details.push(match &v.reference {
            Some(p) => format!("verdict {} against run {p}", v.verdict),
            None => format!("verdict {} (no reference run)", v.verdict),
        });
    }
    let mut action = json!({
        "@id": action_id,
        "@type": "CreateAction",
        "name": format!("dsi {} of commit {short} (run {id})", run.verb()),
        "description": details.join(", "),
        "identifier": id,
        "instrument": id_ref(runfile_entity),
        "containerImage": id_ref(&image_id),
        "agent": id_ref(&person_id),
        "participant": id_ref(&dsi_id),
        "actionStatus": if ok {
            "http://schema.org/CompletedActionStatus"
        } else {
            "http://schema.org/FailedActionStatus"
        },
    });
    put(
        &mut action,
        "startTime",
        run.start_time().as_deref().and_then(crate_time).into(),
    );
    put(
        &mut action,
        "endTime",
        run.end_time().as_deref().and_then(crate_time).into(),
    );
    if !object.is_empty() {
        action["object"] = one_or_many(object);
    }
    if !result.is_empty() {
        action["result"] = one_or_many(result);
    }
    if !ok {
        action["error"] = match (exit, signal) {
            (_, Some(s)) => format!("ended by signal {s}"),
            (Some(c), None) => format!("exit code {c}"),
            (None, None) => unreachable!("ok unless an exit code or signal is set"),
        }
        .into();
    }
    graph.push(action);
    action_id
}

/// The `ro-crate-metadata.json` document. `runfile_in_crate` says whether
/// the Runfile file is written beside it.
pub fn metadata(
    run: &RunData,
    parent: Option<&RunData>,
    runfile_in_crate: bool,
    published: Timestamp,
) -> Value {
    let mut graph = Vec::new();
    let mut has_part = Vec::new();

    // The Runfile: a data entity in the crate, or a contextual one.
    let runfile_entity = if runfile_in_crate {
        RUNFILE.to_owned()
    } else {
        format!("#runfile-{}", fragment(run.id()))
    };
    let path = run.record.runfile.path.as_deref().unwrap_or(RUNFILE);
    let commit = run.record.commit.as_deref().unwrap_or_default();
    let mut runfile = json!({
        "@id": runfile_entity,
        "@type": if runfile_in_crate { json!(["File", "SoftwareSourceCode"]) } else { json!("SoftwareSourceCode") },
        "name": path,
        "description": format!("the Runfile {path} at commit {commit}: how the container was run"),
        "encodingFormat": "text/plain",
        "version": commit,
    });
    if let Some(bytes) = run.runfile().filter(|_| runfile_in_crate) {
        let b = BlobRef::of_bytes(bytes);
        runfile["sha256"] = b.sha256_hex().into();
        runfile["contentSize"] = b.len().to_string().into();
        has_part.push(id_ref(RUNFILE));
    } else {
        put(
            &mut runfile,
            "sha256",
            run.record.runfile.sha256.as_deref().into(),
        );
    }
    put(
        &mut runfile,
        "identifier",
        run.record.runfile.digest.as_deref().into(),
    );
    graph.push(runfile);

    let mut results = Vec::new();
    let mut mentions = vec![id_ref(&add_run(
        &mut graph,
        run,
        &runfile_entity,
        &mut results,
    ))];
    if let Some(p) = parent {
        // The parent ran the same Runfile when commit and content agree.
        let same = p.record.commit.as_deref() == run.record.commit.as_deref()
            && p.record.runfile.path.as_deref() == run.record.runfile.path.as_deref()
            && p.record.runfile.sha256.as_deref() == run.record.runfile.sha256.as_deref();
        let parent_runfile = if same {
            runfile_entity.clone()
        } else {
            let pid = format!("#runfile-{}", fragment(p.id()));
            let mut e = json!({
                "@id": pid,
                "@type": "SoftwareSourceCode",
                "name": p.record.runfile.path.as_deref().unwrap_or(RUNFILE),
                "version": p.record.commit.as_deref(),
            });
            put(&mut e, "sha256", p.record.runfile.sha256.as_deref().into());
            graph.push(e);
            pid
        };
        let mut ignored = Vec::new();
        mentions.push(id_ref(&add_run(
            &mut graph,
            p,
            &parent_runfile,
            &mut ignored,
        )));
    }

    let what = if run.is_replay() { "replay" } else { "record" };
    let mut root = json!({
        "@id": "./",
        "@type": "Dataset",
        "name": format!("dsi {what} {}", run.id()),
        "description": format!(
            "Provenance of dsi {what} {} of the Runfile {path} at commit {commit}, exported by dsi {}",
            run.id(),
            env!("CARGO_PKG_VERSION")
        ),
        "datePublished": crate_time(&published.to_rfc3339()),
        "license": id_ref(LICENSE),
        "conformsTo": id_ref(PROFILE),
        "mentions": one_or_many(mentions),
    });
    if !has_part.is_empty() {
        root["hasPart"] = one_or_many(has_part);
    }
    let mut head = vec![
        json!({
            "@id": "ro-crate-metadata.json",
            "@type": "CreativeWork",
            "conformsTo": id_ref("https://w3id.org/ro/crate/1.1"),
            "about": id_ref("./"),
        }),
        root,
        json!({
            "@id": PROFILE,
            "@type": "CreativeWork",
            "name": "Process Run Crate",
            "version": "0.5",
        }),
        json!({
            "@id": LICENSE,
            "@type": "CreativeWork",
            "name": "No license stated",
            "description": "dsi does not know the terms under which this run and its files may be used; ask the person who ran it (the action's agent).",
        }),
    ];
    head.extend(graph);
    json!({
        "@context": [
            "https://w3id.org/ro/crate/1.1/context",
            format!("{WFRUN_TERMS}/context"),
        ],
        "@graph": head,
    })
}

/// Writes the crate into `dir` (which must not exist, or be empty).
pub fn write(
    dir: &Path,
    run: &RunData,
    parent: Option<&RunData>,
    published: Timestamp,
) -> dsi_core::Result<()> {
    if dir.exists() {
        let empty = std::fs::read_dir(dir)
            .map_err(|e| Error::io(format!("reading {}", dir.display()), e))?
            .next()
            .is_none();
        if !empty {
            return Err(Error::AlreadyExists {
                what: format!("{} (not empty; choose another -o DIR)", dir.display()),
            });
        }
    }
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::io(format!("creating {}", dir.display()), e))?;
    if let Some(bytes) = run.runfile() {
        super::write_file(&dir.join(RUNFILE), bytes)?;
    }
    let doc = metadata(run, parent, run.runfile().is_some(), published);
    let mut text =
        serde_json::to_vec_pretty(&doc).map_err(|e| Error::InvalidData(e.to_string()))?;
    text.push(b'\n');
    super::write_file(&dir.join("ro-crate-metadata.json"), &text)
}

#[cfg(test)]
mod tests {
    use super::super::tests::{BLOB, RECORD_ID, REPLAY_ID, pair};
    use super::*;

    fn entity<'a>(doc: &'a Value, id: &str) -> &'a Value {
        doc["@graph"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["@id"] == id)
            .unwrap_or_else(|| panic!("no entity {id}"))
    }

    #[test]
    fn a_replay_crate_has_the_action_runfile_image_and_parent() {
        let (record, replay) = pair();
        let doc = metadata(&replay, Some(&record), true, Timestamp::from_micros(0));
        let root = entity(&doc, "./");
        assert_eq!(root["conformsTo"]["@id"], PROFILE);
        assert_eq!(root["hasPart"]["@id"], "Runfile");
        assert_eq!(root["mentions"].as_array().unwrap().len(), 2);
        let action = entity(&doc, &format!("#run-{REPLAY_ID}"));
        assert_eq!(action["@type"], "CreateAction");
        assert_eq!(action["instrument"]["@id"], "Runfile");
        assert_eq!(action["startTime"], "2026-11-29T08:27:16.491+00:00");
        assert_eq!(action["endTime"], "2026-11-29T08:27:16.500+00:00");
        assert_eq!(
            action["actionStatus"],
            "http://schema.org/CompletedActionStatus"
        );
        assert_eq!(
            action["object"]["@id"],
            format!("#repository-sha256-{BLOB}")
        );
        assert_eq!(action["result"].as_array().unwrap().len(), 2);
        let image = entity(&doc, action["containerImage"]["@id"].as_str().unwrap());
        assert_eq!(image["@type"], "ContainerImage");
        assert_eq!(image["registry"], "127.0.0.1:5000");
        assert_eq!(image["name"], "dsi-test");
        assert_eq!(image["sha256"], "aaaa");
        let runfile = entity(&doc, "Runfile");
        assert_eq!(
            runfile["sha256"],
            BlobRef::of_bytes(b"FROM dsi-test\nCMD [\"true\"]\n").sha256_hex()
        );
        let parent = entity(&doc, &format!("#run-{RECORD_ID}"));
        assert_eq!(parent["instrument"]["@id"], "Runfile");
        assert_eq!(
            parent["result"]["@id"],
            format!("#repository-sha256-{BLOB}")
        );
        assert_eq!(entity(&doc, "#user-root@vm")["@type"], "Person");
    }

    #[test]
    fn image_references_are_split() {
        let split = |r: &str| {
            let p = crate::runfile::name_parts(r).unwrap();
            (p.host, p.repo, p.tag)
        };
        assert_eq!(split("dsi-test"), (None, "dsi-test".into(), None));
        assert_eq!(
            split("reg.example.org:5000/lab/app@sha256:ab"),
            (Some("reg.example.org:5000".into()), "lab/app".into(), None)
        );
        assert_eq!(
            split("library/alpine:3.19"),
            (None, "library/alpine".into(), Some("3.19".into()))
        );
        assert_eq!(split("./img/a.sqfs").1, "./img/a.sqfs");
        assert!(crate::runfile::name_parts("UPPER/Case").is_none());
    }
}
