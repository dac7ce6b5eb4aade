//! The local file system of a dataset, with directory listings from an
//! offset that cost nothing for the entries before it.
//!
//! Opening a Delta table lists its `_delta_log` directory from the latest
//! checkpoint on (`list_with_offset`). object_store's `LocalFileSystem`
//! walks the whole directory and turns every entry's file name into an
//! object path (a URL round trip) before comparing it with the offset:
//! about 4 µs an entry, so a table of 10,000 commits took 40 ms to open
//! however few commits followed its checkpoint (S3 lists after the offset
//! natively). [`LocalListing`] compares the file names of a flat directory
//! with the offset's first, and asks the file system about the few that
//! follow it; everything else goes to `LocalFileSystem` unchanged, as does
//! a listing it does not recognise (a directory below the prefix, a name
//! that is not plain ASCII).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use futures_util::stream::{self, BoxStream, StreamExt as _};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    ObjectStoreExt as _, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
};

/// `LocalFileSystem` (rooted at `/`) with a cheap `list_with_offset`.
#[derive(Debug, Default)]
pub(crate) struct LocalListing {
    inner: Arc<LocalFileSystem>,
}

impl LocalListing {
    /// The local file system, rooted at `/`.
    pub(crate) fn new() -> Self {
        LocalListing::default()
    }
}

impl fmt::Display for LocalListing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalListing({})", self.inner)
    }
}

/// A path component that maps to the same file name on disk (no
/// percent-encoding involved).
fn is_plain(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// Whether `LocalFileSystem` lists a file of this name (it hides the
/// `NAME#DIGITS` parts of unfinished uploads).
fn is_listed_name(name: &str) -> bool {
    match name.split_once('#') {
        Some((_, suffix)) if !suffix.is_empty() => !suffix.bytes().all(|b| b.is_ascii_digit()),
        _ => true,
    }
}

/// What the names of a directory say about a listing after `offset`.
enum Names {
    /// The file names after the offset, sorted.
    After(Vec<String>),
    /// The directory is not flat or has a name that is not plain.
    Unrecognised,
}

/// The file names in directory `dir` after `offset` (a name), if every
/// entry is a plain-named file.
fn names_after(dir: &std::path::Path, offset: &str) -> std::io::Result<Names> {
    let mut after = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            return Ok(Names::Unrecognised);
        };
        if !is_plain(&name) || !entry.file_type()?.is_file() {
            return Ok(Names::Unrecognised);
        }
        if name.as_str() > offset && is_listed_name(&name) {
            after.push(name);
        }
    }
    after.sort_unstable();
    Ok(Names::After(after))
}

impl LocalListing {
    /// The objects after `offset` in directory `prefix`, or `None` when the
    /// listing is left to `LocalFileSystem`.
    async fn list_flat_after(&self, prefix: &Path, offset: &Path) -> Option<Vec<ObjectMeta>> {
        let mut rest = offset.prefix_match(prefix)?;
        let first = rest.next()?;
        let offset_name = first.as_ref().to_owned();
        if rest.next().is_some() || !prefix.parts().all(|p| is_plain(p.as_ref())) {
            return None;
        }
        let dir = std::path::PathBuf::from(format!("/{prefix}"));
        let names = tokio::task::spawn_blocking(move || names_after(&dir, &offset_name))
            .await
            .ok()?;
        let names = match names {
            Ok(Names::After(names)) => names,
            // As LocalFileSystem: a missing directory lists nothing.
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Ok(Names::Unrecognised) | Err(_) => return None,
        };
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            match self.inner.head(&prefix.clone().join(name.as_str())).await {
                Ok(meta) => out.push(meta),
                // Removed since the directory was read: not there.
                Err(object_store::Error::NotFound { .. }) => {}
                Err(_) => return None,
            }
        }
        Some(out)
    }
}

#[async_trait]
impl ObjectStore for LocalListing {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &Path,
        ranges: &[std::ops::Range<u64>],
    ) -> object_store::Result<Vec<bytes::Bytes>> {
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<Path>>,
    ) -> BoxStream<'static, object_store::Result<Path>> {
        self.inner.delete_stream(locations)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        let Some(prefix) = prefix.cloned() else {
            return self.inner.list_with_offset(None, offset);
        };
        let (this, offset) = (
            LocalListing {
                inner: Arc::clone(&self.inner),
            },
            offset.clone(),
        );
        stream::once(async move {
            match this.list_flat_after(&prefix, &offset).await {
                Some(found) => stream::iter(found.into_iter().map(Ok)).boxed(),
                None => this.inner.list_with_offset(Some(&prefix), &offset),
            }
        })
        .flatten()
        .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: RenameOptions,
    ) -> object_store::Result<()> {
        self.inner.rename_opts(from, to, options).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::TryStreamExt as _;

    async fn listed(store: &dyn ObjectStore, prefix: &Path, offset: &Path) -> Vec<String> {
        let mut v: Vec<String> = store
            .list_with_offset(Some(prefix), offset)
            .map_ok(|m| m.location.to_string())
            .try_collect()
            .await
            .unwrap();
        v.sort();
        v
    }

    #[test]
    fn lists_what_local_file_system_lists() {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(compare_listings());
    }

    async fn compare_listings() {
        let dir = tempfile::tempdir().unwrap();
        let root = Path::from_absolute_path(std::fs::canonicalize(dir.path()).unwrap()).unwrap();
        let log = root.clone().join("_delta_log");
        let fs = LocalFileSystem::new();
        for name in [
            "00000000000000000000.json",
            "00000000000000000001.json",
            "00000000000000000002.checkpoint.parquet",
            "00000000000000000002.json",
            "00000000000000000003.json",
            "_last_checkpoint",
        ] {
            fs.put(&log.clone().join(name), "{}".into()).await.unwrap();
        }
        let ours = LocalListing::new();
        let missing = root.clone().join("nothing");
        for (prefix, offset) in [
            (&log, log.clone().join("00000000000000000002")),
            (&log, log.clone().join("00000000000000000000.json")),
            (&log, log.clone().join("zzz")),
            (&root, log.clone().join("00000000000000000002")),
            (&missing, missing.clone().join("0")),
        ] {
            let want = listed(&fs, prefix, &offset).await;
            assert_eq!(
                listed(&ours, prefix, &offset).await,
                want,
                "{prefix} {offset}"
            );
        }
        assert_eq!(
            listed(&ours, &log, &log.clone().join("00000000000000000002")).await,
            [
                log.clone()
                    .join("00000000000000000002.checkpoint.parquet")
                    .to_string(),
                log.clone().join("00000000000000000002.json").to_string(),
                log.clone().join("00000000000000000003.json").to_string(),
                log.clone().join("_last_checkpoint").to_string(),
            ]
        );
        assert!(
            ours.list_flat_after(&log, &log.clone().join("1"))
                .await
                .is_some()
        );
        // A name that is not plain, a directory below the prefix: left to
        // LocalFileSystem.
        let odd = root.clone().join("odd");
        for name in ["a.json", "x#12", "b c"] {
            fs.put(&odd.clone().join(name), "{}".into()).await.unwrap();
        }
        let offset = odd.clone().join("0");
        assert!(ours.list_flat_after(&odd, &offset).await.is_none());
        assert_eq!(
            listed(&ours, &odd, &offset).await,
            listed(&fs, &odd, &offset).await
        );
        fs.put(&log.clone().join("_commits").join("a.json"), "{}".into())
            .await
            .unwrap();
        let offset = log.clone().join("00000000000000000003");
        assert!(ours.list_flat_after(&log, &offset).await.is_none());
        assert_eq!(
            listed(&ours, &log, &offset).await,
            listed(&fs, &log, &offset).await
        );
    }
}
