//! Helpers for the layout tests: a local dataset over a store that can be
//! told to fail, and that counts reads.

#![allow(dead_code, reason = "each test binary uses part of this module")]

use std::fmt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use dsi_driver_parquet::object_store::local::LocalFileSystem;
use dsi_driver_parquet::object_store::path::Path;
use dsi_driver_parquet::object_store::{
    self, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use dsi_driver_parquet::{Dataset, DatasetBuilder};
use futures_util::stream::BoxStream;

type Rule = Box<dyn Fn(&str, &Path) -> bool + Send + Sync>;

/// A local file system that fails the operations a rule selects and counts
/// reads (whole or ranged) of data files. Rules see paths relative to the
/// dataset root.
pub(crate) struct Faulty {
    inner: LocalFileSystem,
    root: Path,
    rule: Mutex<Option<Rule>>,
    after: Mutex<Option<PathRule>>,
    pub(crate) data_reads: AtomicUsize,
}

type PathRule = Box<dyn Fn(&Path) -> bool + Send + Sync>;

impl fmt::Debug for Faulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Faulty")
    }
}

impl fmt::Display for Faulty {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Faulty")
    }
}

impl Faulty {
    /// Fails every operation `rule(operation, path)` selects from now on
    /// (operations: put, multipart, get, rename).
    pub(crate) fn fail_when(&self, rule: impl Fn(&str, &Path) -> bool + Send + Sync + 'static) {
        *self.rule.lock().unwrap() = Some(Box::new(rule));
    }

    /// Stores the puts `rule(path)` selects, then answers "already exists"
    /// (a reply lost, the retried conditional request finding its own
    /// first attempt).
    pub(crate) fn after_put_when(&self, rule: impl Fn(&Path) -> bool + Send + Sync + 'static) {
        *self.after.lock().unwrap() = Some(Box::new(rule));
    }

    pub(crate) fn heal(&self) {
        *self.rule.lock().unwrap() = None;
        *self.after.lock().unwrap() = None;
    }

    fn relative(&self, path: &Path) -> Path {
        path.prefix_match(&self.root)
            .map(|p| p.collect())
            .unwrap_or_else(|| path.clone())
    }

    fn check(&self, op: &str, path: &Path) -> object_store::Result<()> {
        let relative = self.relative(path);
        match &*self.rule.lock().unwrap() {
            Some(rule) if rule(op, &relative) => Err(object_store::Error::Generic {
                store: "Faulty",
                source: format!("injected failure of {op} {path}").into(),
            }),
            _ => Ok(()),
        }
    }
}

#[async_trait]
impl ObjectStore for Faulty {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.check("put", location)?;
        let lost =
            matches!(&*self.after.lock().unwrap(), Some(rule) if rule(&self.relative(location)));
        let result = self.inner.put_opts(location, payload, opts).await;
        if lost && result.is_ok() {
            return Err(object_store::Error::AlreadyExists {
                path: location.to_string(),
                source: "injected: the reply was lost and the retry found the object".into(),
            });
        }
        result
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.check("multipart", location)?;
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &Path,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        self.check("get", location)?;
        if location.as_ref().ends_with(".parquet") && !location.as_ref().contains("_delta_log") {
            self.data_reads.fetch_add(1, Ordering::SeqCst);
        }
        self.inner.get_opts(location, options).await
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

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &Path,
        to: &Path,
        options: object_store::CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }

    async fn rename_opts(
        &self,
        from: &Path,
        to: &Path,
        options: object_store::RenameOptions,
    ) -> object_store::Result<()> {
        self.check("rename", from)?;
        self.inner.rename_opts(from, to, options).await
    }
}

/// A dataset in `root` over a [`Faulty`] store, laid out like the local driver.
pub(crate) fn faulty(root: &FsPath) -> (Dataset, Arc<Faulty>) {
    std::fs::create_dir_all(root).unwrap();
    let prefix = Path::from_absolute_path(std::fs::canonicalize(root).unwrap()).unwrap();
    let store = Arc::new(Faulty {
        inner: LocalFileSystem::new(),
        root: prefix.clone(),
        rule: Mutex::new(None),
        after: Mutex::new(None),
        data_reads: AtomicUsize::new(0),
    });
    let ds = DatasetBuilder::new(store.clone(), url::Url::parse("file:///").unwrap(), prefix)
        .with_location(root.display().to_string())
        .open()
        .unwrap();
    (ds, store)
}

/// Another dataset (fresh caches) over the same store.
pub(crate) fn faulty_again(root: &FsPath, store: &Arc<Faulty>) -> Dataset {
    DatasetBuilder::new(
        store.clone(),
        url::Url::parse("file:///").unwrap(),
        store.root.clone(),
    )
    .with_location(root.display().to_string())
    .open()
    .unwrap()
}

/// Every file under `root`, relative, sorted.
pub(crate) fn files(root: &FsPath) -> Vec<String> {
    fn walk(dir: &FsPath, root: &FsPath, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p: PathBuf = e.unwrap().path();
            if p.is_dir() {
                walk(&p, root, out);
            } else {
                out.push(p.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out.sort();
    out
}
