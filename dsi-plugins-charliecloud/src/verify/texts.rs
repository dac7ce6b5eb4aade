//! The texts verification reads (RUNFILE-1.1 §7 "Storage"): the replay's,
//! copied out of its context directory into dsi's own work directory right
//! after the run ([`ReplayTexts`]), and a stored run's, read back from a
//! store ([`StoredTexts`]).
//!
//! Each compared target's content becomes a content-addressed blob when it
//! is at most the per-item limit ([`DEFAULT_CONTENT_LIMIT`], 16 MiB);
//! above it only its sha256 and size are kept. The record lists them as
//! [`StoredText`]s.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use dsi_core::blob::HashingWriter;
use dsi_core::{BlobRef, PendingBlob, Stores};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::evaluate::{RunTexts, TextDigest};
use crate::runtime::{Sink, outputs};

/// The default largest content kept per item: 16 MiB.
pub const DEFAULT_CONTENT_LIMIT: u64 = 16 << 20;

/// A compared target of a run, as its record keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StoredText {
    /// `@stdout`, `@stderr`, or a path relative to the context directory.
    pub target: String,
    /// SHA-256 of its bytes (absent when it was missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Its length in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Whether its content is stored (a blob with that digest).
    #[serde(default)]
    pub stored: bool,
    /// Why it was missing, when it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub missing: Option<String>,
}

impl StoredText {
    /// The blob holding its content, when stored.
    pub fn blob(&self) -> Option<BlobRef> {
        let sha = BlobRef::parse_hex_digest(self.sha256.as_deref()?).ok()?;
        self.stored
            .then(|| BlobRef::new(sha, self.size.unwrap_or(0)))
    }
}

/// The file name of a stream's spool in the work directory.
pub fn stream_spool(dir: &Path, target: &str) -> Option<PathBuf> {
    match target {
        "@stdout" => Some(dir.join("stdout")),
        "@stderr" => Some(dir.join("stderr")),
        _ => None,
    }
}

/// `sink`, also writing everything into the spool file of stream `target`
/// (`@stdout`, `@stderr`) in `dir`.
pub fn spooling(sink: Sink, dir: &Path, target: &str) -> dsi_core::Result<Sink> {
    let path = stream_spool(dir, target).expect("a stream target");
    let file = File::create(&path).map_err(|e| dsi_core::Error::io("creating a spool file", e))?;
    Ok(Arc::new(Mutex::new(Spooling { sink, file })))
}

/// A sink that keeps a copy of what passes through it.
struct Spooling {
    sink: Sink,
    file: File,
}

impl Write for Spooling {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write_all(buf)?;
        self.sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .write_all(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()?;
        self.sink
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .flush()
    }
}

/// The replay's texts, copied into the work directory.
#[derive(Debug)]
pub struct ReplayTexts {
    texts: BTreeMap<String, Result<(TextDigest, PathBuf), String>>,
}

impl ReplayTexts {
    /// Copies every target of `targets` into `spool` (streams are already
    /// there, see [`stream_spool`]): paths are read beneath `context` with
    /// the rules of [`outputs::open_beneath`].
    pub fn capture(targets: &[String], context: &Path, spool: &Path) -> ReplayTexts {
        let mut texts = BTreeMap::new();
        for (i, t) in targets.iter().enumerate() {
            let got = match stream_spool(spool, t) {
                Some(p) => digest_file(&p).map(|d| (d, p)),
                None => copy_output(context, t, &spool.join(format!("text-{i}"))),
            };
            texts.insert(t.clone(), got);
        }
        ReplayTexts { texts }
    }

    /// What the record keeps of each target, in order, and the blobs of
    /// those at most `limit` bytes, kept alive by `keep`.
    pub fn stored(
        &self,
        compared: &[String],
        limit: u64,
        keep: &Arc<dyn Send + Sync>,
    ) -> (Vec<StoredText>, Vec<PendingBlob>) {
        let mut stored = Vec::new();
        let mut blobs = Vec::new();
        for t in compared {
            let entry = match self.texts.get(t) {
                Some(Ok((d, path))) => {
                    let keep_content = d.size <= limit;
                    if keep_content && let Ok(sha) = BlobRef::parse_hex_digest(&d.sha256) {
                        blobs.push(PendingBlob::from_file(
                            BlobRef::new(sha, d.size),
                            path.clone(),
                            Some(Arc::clone(keep)),
                        ));
                    }
                    StoredText {
                        target: t.clone(),
                        sha256: Some(d.sha256.clone()),
                        size: Some(d.size),
                        stored: keep_content,
                        missing: None,
                    }
                }
                Some(Err(why)) => StoredText {
                    target: t.clone(),
                    sha256: None,
                    size: None,
                    stored: false,
                    missing: Some(why.clone()),
                },
                None => continue,
            };
            stored.push(entry);
        }
        (stored, blobs)
    }
}

impl RunTexts for ReplayTexts {
    fn digest(&self, target: &str) -> Result<TextDigest, String> {
        match self.texts.get(target) {
            Some(Ok((d, _))) => Ok(d.clone()),
            Some(Err(why)) => Err(why.clone()),
            None => Err("not captured".to_owned()),
        }
    }

    fn open(&self, target: &str) -> io::Result<Option<Box<dyn BufRead + '_>>> {
        match self.texts.get(target) {
            Some(Ok((_, path))) => Ok(Some(Box::new(BufReader::with_capacity(
                64 << 10,
                File::open(path)?,
            )))),
            _ => Ok(None),
        }
    }
}

/// The path a target spells (`./@x` is `@x`).
fn target_path(target: &str) -> &Path {
    Path::new(
        target
            .strip_prefix("./")
            .filter(|rest| rest.starts_with('@') || rest.starts_with('-'))
            .unwrap_or(target),
    )
}

fn copy_output(context: &Path, target: &str, to: &Path) -> Result<(TextDigest, PathBuf), String> {
    let Some(mut file) = outputs::open_beneath(context, target_path(target))? else {
        return Err("absent in the replay".to_owned());
    };
    let out = File::create(to).map_err(|e| format!("copying it: {e}"))?;
    let mut w = HashingWriter::new(io::BufWriter::new(out));
    io::copy(&mut (&mut file).take(outputs::MAX_OUTPUT_BYTES), &mut w)
        .map_err(|e| format!("copying it: {e}"))?;
    let (mut out, blob) = w.finish();
    out.flush().map_err(|e| format!("copying it: {e}"))?;
    Ok((digest_of(blob), to.to_path_buf()))
}

fn digest_file(path: &Path) -> Result<TextDigest, String> {
    let mut f = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    BlobRef::compute(&mut f)
        .map(digest_of)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn digest_of(b: BlobRef) -> TextDigest {
    TextDigest {
        sha256: b.sha256_hex(),
        size: b.len(),
    }
}

/// A stored run's texts, read from the stores.
pub struct StoredTexts<'s> {
    texts: &'s [StoredText],
    stores: Stores<'s>,
}

impl<'s> StoredTexts<'s> {
    /// The texts `texts` of a run, their contents in `stores`.
    pub fn new(texts: &'s [StoredText], stores: Stores<'s>) -> Self {
        StoredTexts { texts, stores }
    }

    fn get(&self, target: &str) -> Option<&StoredText> {
        self.texts.iter().find(|t| t.target == target)
    }
}

impl RunTexts for StoredTexts<'_> {
    fn digest(&self, target: &str) -> Result<TextDigest, String> {
        match self.get(target) {
            Some(StoredText {
                sha256: Some(sha256),
                size,
                ..
            }) => Ok(TextDigest {
                sha256: sha256.clone(),
                size: size.unwrap_or(0),
            }),
            Some(t) => Err(t
                .missing
                .clone()
                .unwrap_or_else(|| "it was missing".to_owned())),
            None => Err(format!("{target} was not recorded")),
        }
    }

    fn open(&self, target: &str) -> io::Result<Option<Box<dyn BufRead + '_>>> {
        let Some(blob) = self.get(target).and_then(StoredText::blob) else {
            return Ok(None);
        };
        let reader = self
            .stores
            .blob(&blob, None)
            .map_err(|e| io::Error::other(e.to_string()))?;
        Ok(Some(Box::new(BufReader::with_capacity(64 << 10, reader))))
    }
}
