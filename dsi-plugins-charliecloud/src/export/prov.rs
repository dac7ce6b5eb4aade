//! A run as W3C PROV-JSON (<https://www.w3.org/submissions/prov-json/>).
//!
//! Identifiers are stable qualified names in the `dsi` namespace, so that
//! documents exported separately can be merged:
//!
//! | what                         | identifier                              |
//! |------------------------------|-----------------------------------------|
//! | the record or replay         | `dsi:run/<ULID>` (activity)             |
//! | the Runfile it ran           | `dsi:run/<ULID>/runfile`                |
//! | the image it ran in          | `dsi:run/<ULID>/image`                  |
//! | a declared output            | `dsi:run/<ULID>/output/<path>`          |
//! | stdout, stderr of a replay   | `dsi:run/<ULID>/stdout`, `…/stderr`     |
//! | the packed repository        | `dsi:blob/sha256:<hex>` (shared by runs) |
//! | the user                     | `dsi:user/<moniker>@<hostname>`         |
//! | dsi itself                   | `dsi:software/dsi/<version>`            |
//!
//! A record `used` its Runfile and image and generated the repository
//! tarball; a replay `used` the Runfile, the image and the tarball and
//! generated its outputs. Both are associated with the user and with dsi,
//! which acted on the user's behalf. A replay `wasInformedBy` its parent
//! record, and its Runfile and image were derived from the parent's.
//! Relation identifiers (`_:r1`, …) are blank and numbered in document order.

use serde_json::{Map, Value, json};

use super::ExportRun as RunData;

/// The `dsi` namespace.
pub const DSI_NS: &str = "https://github.com/lanl/dsi-rs/ns#";

/// `s` made safe for the local part of a qualified name (percent-encoded).
fn local(s: &str) -> String {
    super::encode(s, super::QNAME_LOCAL)
}

/// The identifiers of one run's records.
pub(super) struct Ids {
    /// The activity.
    pub(super) activity: String,
    /// The Runfile entity.
    pub(super) runfile: String,
    /// The image entity.
    pub(super) image: String,
}

impl Ids {
    /// The identifiers of run `id`.
    pub(super) fn of(id: &str) -> Self {
        let base = format!("dsi:run/{}", local(id));
        Ids {
            runfile: format!("{base}/runfile"),
            image: format!("{base}/image"),
            activity: base,
        }
    }
}

/// The identifier of a packed repository.
pub(super) fn blob_id(sha256: &str) -> String {
    format!("dsi:blob/sha256:{}", local(sha256))
}

/// A `prov:QUALIFIED_NAME` typed value.
fn qname(name: &str) -> Value {
    json!({"$": name, "type": "prov:QUALIFIED_NAME"})
}

/// The document under construction.
#[derive(Default)]
struct Doc {
    entity: Map<String, Value>,
    activity: Map<String, Value>,
    agent: Map<String, Value>,
    /// Relation kind → identifier → record, in PROV-JSON key order.
    relations: Vec<(&'static str, Map<String, Value>)>,
    next: usize,
}

/// Attributes with the null values left out.
fn attrs(pairs: &[(&str, Value)]) -> Map<String, Value> {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect()
}

impl Doc {
    fn add(map: &mut Map<String, Value>, id: &str, a: Map<String, Value>) {
        match map.get_mut(id) {
            Some(Value::Object(old)) => old.extend(a),
            _ => {
                map.insert(id.to_owned(), Value::Object(a));
            }
        }
    }

    fn entity(&mut self, id: &str, pairs: &[(&str, Value)]) {
        Self::add(&mut self.entity, id, attrs(pairs));
    }

    fn activity(&mut self, id: &str, pairs: &[(&str, Value)]) {
        Self::add(&mut self.activity, id, attrs(pairs));
    }

    fn agent(&mut self, id: &str, pairs: &[(&str, Value)]) {
        Self::add(&mut self.agent, id, attrs(pairs));
    }

    fn relation(&mut self, kind: &'static str, pairs: &[(&str, Value)]) {
        self.next += 1;
        let id = format!("_:r{}", self.next);
        let record = Value::Object(attrs(pairs));
        match self.relations.iter_mut().find(|(k, _)| *k == kind) {
            Some((_, m)) => {
                m.insert(id, record);
            }
            None => {
                let mut m = Map::new();
                m.insert(id, record);
                self.relations.push((kind, m));
            }
        }
    }

    fn finish(self) -> Value {
        let mut doc = Map::new();
        doc.insert(
            "prefix".into(),
            json!({
                "dsi": DSI_NS,
                "prov": "http://www.w3.org/ns/prov#",
                "xsd": "http://www.w3.org/2001/XMLSchema#",
            }),
        );
        doc.insert("entity".into(), Value::Object(self.entity));
        doc.insert("activity".into(), Value::Object(self.activity));
        doc.insert("agent".into(), Value::Object(self.agent));
        for (kind, m) in self.relations {
            doc.insert(kind.into(), Value::Object(m));
        }
        Value::Object(doc)
    }
}

fn opt<T: Into<Value>>(v: Option<T>) -> Value {
    v.map_or(Value::Null, Into::into)
}

/// Adds one run: its activity, entities, agents and their relations.
fn add_run(doc: &mut Doc, run: &RunData) -> Ids {
    let ids = Ids::of(run.id());
    let commit = run.record.commit.as_deref().unwrap_or_default();
    let short = &commit[..commit.len().min(10)];
    let start = run.start_time();
    let end = run.end_time();

    let (kind, label) = if run.is_replay() {
        (
            "dsi:Replay",
            format!("dsi replay of commit {short} (run {})", run.id()),
        )
    } else {
        (
            "dsi:Record",
            format!("dsi record of commit {short} (run {})", run.id()),
        )
    };
    doc.activity(
        &ids.activity,
        &[
            ("prov:type", qname(kind)),
            ("prov:label", label.into()),
            ("prov:startTime", start.clone().into()),
            ("prov:endTime", end.clone().into()),
            ("dsi:runId", run.id().into()),
            ("dsi:function", run.record.function.as_str().into()),
            ("dsi:commit", opt(run.record.commit.clone())),
            ("dsi:exitCode", opt(run.record.exit_code())),
            (
                "dsi:verdict",
                opt(run.record.verification.as_ref().map(|v| v.verdict.as_str())),
            ),
            (
                "dsi:verifiedAgainst",
                opt(run
                    .record
                    .verification
                    .as_ref()
                    .and_then(|v| v.reference.clone())),
            ),
            (
                "dsi:signal",
                opt(run.record.outcome.as_ref().and_then(|o| o.signal)),
            ),
            (
                "dsi:durationMs",
                opt(run.record.outcome.as_ref().and_then(|o| o.duration_ms)),
            ),
            (
                "dsi:imageChecks",
                opt((!run.record.image.checks.is_empty())
                    .then(|| run.record.image.checks.join(" "))),
            ),
            (
                "dsi:compatCheck",
                opt(run.record.compat.as_ref().and_then(|c| c.policy.clone())),
            ),
            ("dsi:hostname", opt(run.record.hostname())),
            (
                "dsi:kernelRelease",
                opt(run.record.system.kernel_release.clone()),
            ),
            (
                "dsi:architecture",
                opt(run.record.system.architecture.clone()),
            ),
        ],
    );

    doc.entity(
        &ids.runfile,
        &[
            ("prov:type", qname("dsi:Runfile")),
            (
                "prov:label",
                format!(
                    "{} at commit {short}",
                    run.record.runfile.path.as_deref().unwrap_or("Runfile")
                )
                .into(),
            ),
            ("dsi:path", opt(run.record.runfile.path.clone())),
            ("dsi:sha256", opt(run.record.runfile.sha256.clone())),
            ("dsi:runfileDigest", opt(run.record.runfile.digest.clone())),
            ("dsi:commit", opt(run.record.commit.clone())),
        ],
    );
    doc.entity(
        &ids.image,
        &[
            ("prov:type", qname("dsi:ContainerImage")),
            ("prov:label", opt(run.record.image.reference.clone())),
            ("dsi:reference", opt(run.record.image.reference.clone())),
            ("dsi:digest", opt(run.record.image.digest.clone())),
            (
                "dsi:manifestDigest",
                opt(run.record.image.manifest_digest.clone()),
            ),
            (
                "dsi:configDigest",
                opt(run.record.image.config_digest.clone()),
            ),
            ("dsi:treeDigest", opt(run.record.image.tree_digest.clone())),
        ],
    );
    let tarball = run.repository().map(|(sha, len)| {
        let id = blob_id(&sha);
        doc.entity(
            &id,
            &[
                ("prov:type", qname("dsi:RepositoryTarball")),
                (
                    "prov:label",
                    "the Runfile's git repository, packed (tar + zstd)".into(),
                ),
                ("dsi:sha256", sha.into()),
                ("dsi:length", len.into()),
                ("dsi:mediaType", "application/zstd".into()),
            ],
        );
        id
    });

    // Agents: the user, and dsi acting for them.
    let software = format!("dsi:software/dsi/{}", local(run.dsi_version()));
    doc.agent(
        &software,
        &[
            ("prov:type", qname("prov:SoftwareAgent")),
            ("prov:label", format!("dsi {}", run.dsi_version()).into()),
            ("dsi:version", run.dsi_version().into()),
        ],
    );
    let user = run.user().map(|u| {
        let id = format!("dsi:user/{}", local(&u));
        doc.agent(
            &id,
            &[
                ("prov:type", qname("prov:Person")),
                ("prov:label", u.clone().into()),
                (
                    "dsi:moniker",
                    opt(run.record.user.as_ref().and_then(|u| u.moniker.clone())),
                ),
                ("dsi:hostname", opt(run.record.hostname())),
                ("dsi:uid", opt(run.record.user.as_ref().and_then(|u| u.uid))),
            ],
        );
        id
    });
    if let Some(user) = &user {
        doc.relation(
            "wasAssociatedWith",
            &[
                ("prov:activity", ids.activity.clone().into()),
                ("prov:agent", user.clone().into()),
            ],
        );
    }
    doc.relation(
        "wasAssociatedWith",
        &[
            ("prov:activity", ids.activity.clone().into()),
            ("prov:agent", software.clone().into()),
        ],
    );
    if let Some(user) = &user {
        doc.relation(
            "actedOnBehalfOf",
            &[
                ("prov:delegate", software.into()),
                ("prov:responsible", user.clone().into()),
                ("prov:activity", ids.activity.clone().into()),
            ],
        );
    }

    let used = |doc: &mut Doc, entity: &str| {
        doc.relation(
            "used",
            &[
                ("prov:activity", ids.activity.clone().into()),
                ("prov:entity", entity.into()),
            ],
        );
    };
    let generated = |doc: &mut Doc, entity: &str| {
        doc.relation(
            "wasGeneratedBy",
            &[
                ("prov:entity", entity.into()),
                ("prov:activity", ids.activity.clone().into()),
                ("prov:time", end.clone().into()),
            ],
        );
    };
    used(doc, &ids.runfile);
    used(doc, &ids.image);
    if run.is_replay() {
        if let Some(t) = &tarball {
            used(doc, t);
            // The Runfile was read out of the repository.
            doc.relation(
                "wasDerivedFrom",
                &[
                    ("prov:generatedEntity", ids.runfile.clone().into()),
                    ("prov:usedEntity", t.clone().into()),
                    ("prov:activity", ids.activity.clone().into()),
                ],
            );
        }
        for (path, sha) in run.outputs() {
            let id = format!("{}/output/{}", ids.activity, local(&path));
            doc.entity(
                &id,
                &[
                    ("prov:type", qname("dsi:Output")),
                    ("prov:label", path.clone().into()),
                    ("dsi:path", path.into()),
                    ("dsi:sha256", sha.clone().into()),
                    (
                        "dsi:missing",
                        if sha.is_none() {
                            true.into()
                        } else {
                            Value::Null
                        },
                    ),
                ],
            );
            generated(doc, &id);
        }
        for stream in ["stdout", "stderr"] {
            let digest = run.record.outcome.as_ref().and_then(|o| match stream {
                "stdout" => o.stdout_sha256.clone(),
                _ => o.stderr_sha256.clone(),
            });
            if let Some(sha) = digest {
                let id = format!("{}/{stream}", ids.activity);
                doc.entity(
                    &id,
                    &[
                        ("prov:type", qname("dsi:Stream")),
                        ("prov:label", format!("{stream} of all steps").into()),
                        ("dsi:sha256", sha.into()),
                    ],
                );
                generated(doc, &id);
            }
        }
    } else if let Some(t) = &tarball {
        generated(doc, t);
        doc.relation(
            "wasDerivedFrom",
            &[
                ("prov:generatedEntity", t.clone().into()),
                ("prov:usedEntity", ids.runfile.clone().into()),
                ("prov:activity", ids.activity.clone().into()),
            ],
        );
    }
    ids
}

/// The PROV-JSON document of `run`, with its parent record when given.
pub fn document(run: &RunData, parent: Option<&RunData>) -> Value {
    let mut doc = Doc::default();
    let ids = add_run(&mut doc, run);
    let parent_ids = match (parent, run.parent_id().filter(|_| run.is_replay())) {
        (Some(p), _) => Some(add_run(&mut doc, p)),
        (None, Some(id)) => {
            // Named, though not found: the reference still resolves.
            let p = Ids::of(id);
            doc.activity(
                &p.activity,
                &[
                    ("prov:type", qname("dsi:Record")),
                    (
                        "prov:label",
                        format!("dsi record {id} (not in the store)").into(),
                    ),
                    ("dsi:runId", id.into()),
                ],
            );
            doc.relation(
                "wasInformedBy",
                &[
                    ("prov:informed", ids.activity.clone().into()),
                    ("prov:informant", p.activity.into()),
                ],
            );
            None
        }
        (None, None) => None,
    };
    if let Some(p) = parent_ids {
        doc.relation(
            "wasInformedBy",
            &[
                ("prov:informed", ids.activity.clone().into()),
                ("prov:informant", p.activity.clone().into()),
            ],
        );
        for (mine, theirs) in [(&ids.runfile, &p.runfile), (&ids.image, &p.image)] {
            doc.relation(
                "wasDerivedFrom",
                &[
                    ("prov:generatedEntity", mine.clone().into()),
                    ("prov:usedEntity", theirs.clone().into()),
                    ("prov:activity", ids.activity.clone().into()),
                ],
            );
        }
    }
    doc.finish()
}

#[cfg(test)]
mod tests {
    use super::super::tests::{BLOB, RECORD_ID, REPLAY_ID, pair};
    use super::*;

    /// The (a, b) pairs of a relation kind.
    fn pairs(doc: &Value, kind: &str, a: &str, b: &str) -> Vec<(String, String)> {
        doc[kind]
            .as_object()
            .map(|m| {
                m.values()
                    .map(|r| {
                        (
                            r[a].as_str().unwrap().to_owned(),
                            r[b].as_str().unwrap().to_owned(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    fn has(doc: &Value, kind: &str, a: &str, b: &str, want: (&str, &str)) -> bool {
        pairs(doc, kind, a, b)
            .iter()
            .any(|(x, y)| x == want.0 && y == want.1)
    }

    #[test]
    fn a_replay_links_to_its_parent_record() {
        let (record, replay) = pair();
        let doc = document(&replay, Some(&record));
        let r = format!("dsi:run/{REPLAY_ID}");
        let p = format!("dsi:run/{RECORD_ID}");
        let blob = format!("dsi:blob/sha256:{BLOB}");
        assert_eq!(doc["prefix"]["dsi"], DSI_NS);
        assert_eq!(doc["activity"][&r]["prov:type"]["$"], "dsi:Replay");
        assert_eq!(doc["activity"][&p]["prov:type"]["$"], "dsi:Record");
        assert_eq!(
            doc["activity"][&r]["prov:startTime"],
            "2026-11-29T08:27:16.491000Z"
        );
        assert_eq!(doc["activity"][&r]["dsi:exitCode"], 0);
        assert_eq!(doc["entity"][&blob]["dsi:length"], 2045);
        assert_eq!(
            doc["entity"][format!("{r}/output/out/result.txt")]["dsi:sha256"],
            "2222"
        );
        assert_eq!(
            doc["entity"][format!("{r}/output/out/missing")]["dsi:missing"],
            true
        );
        assert_eq!(
            doc["entity"][format!("{r}/image")]["dsi:treeDigest"],
            "rftree1+sha256:dddd"
        );
        let used = ("prov:activity", "prov:entity");
        for e in [format!("{r}/runfile"), format!("{r}/image"), blob.clone()] {
            assert!(has(&doc, "used", used.0, used.1, (&r, &e)), "{e}");
        }
        assert!(has(
            &doc,
            "wasGeneratedBy",
            "prov:entity",
            "prov:activity",
            (&blob, &p)
        ));
        assert!(has(
            &doc,
            "wasGeneratedBy",
            "prov:entity",
            "prov:activity",
            (&format!("{r}/output/out/result.txt"), &r)
        ));
        assert!(has(
            &doc,
            "wasInformedBy",
            "prov:informed",
            "prov:informant",
            (&r, &p)
        ));
        assert!(has(
            &doc,
            "wasDerivedFrom",
            "prov:generatedEntity",
            "prov:usedEntity",
            (&format!("{r}/runfile"), &format!("{p}/runfile"))
        ));
        assert!(has(
            &doc,
            "wasAssociatedWith",
            "prov:activity",
            "prov:agent",
            (&r, "dsi:user/root@vm")
        ));
        assert_eq!(
            doc["agent"]["dsi:software/dsi/0.1.0"]["prov:type"]["$"],
            "prov:SoftwareAgent"
        );
        // Every identifier a relation names is declared.
        let declared = |id: &str| {
            ["entity", "activity", "agent"]
                .iter()
                .any(|k| doc[*k].get(id).is_some())
        };
        for kind in [
            "used",
            "wasGeneratedBy",
            "wasAssociatedWith",
            "actedOnBehalfOf",
            "wasDerivedFrom",
            "wasInformedBy",
        ] {
            for r in doc[kind].as_object().unwrap().values() {
                for v in r.as_object().unwrap().values() {
                    if let Some(s) = v.as_str().filter(|s| s.starts_with("dsi:")) {
                        assert!(declared(s), "{kind} names undeclared {s}");
                    }
                }
            }
        }
    }

    #[test]
    fn a_record_generates_the_tarball_and_a_missing_parent_is_named() {
        let (record, replay) = pair();
        let doc = document(&record, None);
        let p = format!("dsi:run/{RECORD_ID}");
        assert!(doc.get("wasInformedBy").is_none());
        assert!(doc["activity"][&p].get("prov:startTime").is_none());
        assert!(has(
            &doc,
            "wasGeneratedBy",
            "prov:entity",
            "prov:activity",
            (&format!("dsi:blob/sha256:{BLOB}"), &p)
        ));
        let doc = document(&replay, None);
        assert_eq!(
            doc["activity"][&p]["prov:label"],
            format!("dsi record {RECORD_ID} (not in the store)")
        );
    }

    #[test]
    fn local_names_are_escaped() {
        assert_eq!(local("out/a b.txt"), "out/a%20b.txt");
        assert_eq!(local("root@vm"), "root@vm");
    }
}
