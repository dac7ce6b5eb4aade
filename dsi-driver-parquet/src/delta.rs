//! One Delta table per dsi table: its log store over the dataset's own
//! object store, and its latest snapshot.
//!
//! delta-rs finds a log store for a URL through a process-wide registry of
//! factories keyed by URL scheme; the S3 factory lives in `deltalake-aws`,
//! which brings the AWS SDK. dsi instead builds delta-rs's
//! [`default_logstore`] itself, per table, over the object store the
//! dataset already has (object_store's S3 client, or the local file
//! system): no second S3 client, no global registration (two datasets
//! with different credentials in one process cannot collide), and the
//! commit primitive is the store's atomic create-if-absent (`PutMode::Create`:
//! `If-None-Match: *` on S3, `link(2)` on a local disk).

use std::sync::Arc;

use deltalake_core::DeltaTable;
use deltalake_core::errors::DeltaTableError;
use deltalake_core::logstore::{LogStoreRef, StorageConfig, default_logstore};
use deltalake_core::table::state::DeltaTableState;
use dsi_core::Result;
use object_store::ObjectStore;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use url::Url;

use crate::Dataset;
use crate::error::one_line;
use crate::layout;

/// Characters kept as they are in a URL path; everything else is
/// percent-encoded, so that decoding the URL path gives the object
/// store path back exactly (delta-rs maps URLs to paths that way).
fn url_safe(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~/=".contains(&b)
}

/// The URL of a directory whose path decodes to `path` under `root`
/// (`file:///`, `s3://bucket/`).
pub(crate) fn url_of(root: &Url, path: &Path) -> std::result::Result<Url, url::ParseError> {
    let mut url = file_url_of(root, path)?;
    let p = format!("{}/", url.path());
    url.set_path(&p);
    Ok(url)
}

/// The URL of an object whose path decodes to `path` under `root`.
pub(crate) fn file_url_of(root: &Url, path: &Path) -> std::result::Result<Url, url::ParseError> {
    let mut encoded = String::new();
    for b in path.as_ref().bytes() {
        if url_safe(b) {
            encoded.push(char::from(b));
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    let mut url = root.clone();
    let base = root.path().trim_end_matches('/');
    url.set_path(&format!("{base}/{encoded}"));
    Ok(url)
}

/// Whether a load failed because the table has no log (on a local disk
/// the kernel reports a missing directory as an invalid location).
pub(crate) fn is_missing_table(e: &DeltaTableError) -> bool {
    match e {
        DeltaTableError::NotATable(_) | DeltaTableError::InvalidTableLocation(_) => true,
        DeltaTableError::KernelError(k) => {
            let text = k.to_string();
            text.contains("Invalid table location") || text.contains("No files in log segment")
        }
        _ => false,
    }
}

/// Whether a log read failed only because a directory listing raced
/// with writers: a local directory listed while other processes add
/// commits can show a later version without the ones just before it.
pub(crate) fn is_listing_race(e: &DeltaTableError) -> bool {
    e.to_string().contains("Expected contiguous commit files")
}

/// Attempts at reading a log whose listing raced with writers.
pub(crate) const LISTING_ATTEMPTS: u32 = 20;

impl Dataset {
    /// The Delta log store of a table (cached).
    pub(crate) fn log_store(&self, table: &str) -> Result<LogStoreRef> {
        let mut cache = self
            .logs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(l) = cache.get(table) {
            return Ok(Arc::clone(l));
        }
        let dir = layout::table_dir(&self.prefix, table);
        let url = url_of(&self.root_url, &dir)
            .map_err(|e| self.err("naming a table", format!("{dir}: {e}")))?;
        let prefixed: Arc<dyn ObjectStore> =
            Arc::new(PrefixStore::new(Arc::clone(&self.store), dir));
        let log = default_logstore(
            prefixed,
            Arc::clone(&self.store),
            &url,
            &StorageConfig::default(),
        );
        cache.insert(table.to_owned(), Arc::clone(&log));
        Ok(log)
    }

    /// The latest snapshot of a table, `None` when it has no Delta log.
    pub(crate) async fn snapshot(&self, table: &str) -> Result<Option<DeltaTableState>> {
        let cached = self
            .tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(table)
            .cloned();
        let mut t = match cached {
            Some(t) => t,
            None => DeltaTable::new(self.log_store(table)?),
        };
        let mut attempt = 0;
        loop {
            match t.update_incremental(None).await {
                Ok(()) => break,
                Err(e) if is_missing_table(&e) => return Ok(None),
                Err(e) if is_listing_race(&e) && attempt < LISTING_ATTEMPTS => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(u64::from(attempt) * 5))
                        .await;
                }
                Err(e) => {
                    return Err(self.delta_err(&format!("reading the log of table '{table}'"), &e));
                }
            }
        }
        let state = t
            .snapshot()
            .map_err(|e| self.delta_err(&format!("reading the log of table '{table}'"), &e))?
            .clone();
        self.tables
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(table.to_owned(), t);
        Ok(Some(state))
    }

    /// The version of an application transaction (a put's id) in a
    /// snapshot of a table.
    pub(crate) async fn txn_version(
        &self,
        table: &str,
        state: &DeltaTableState,
        app_id: &str,
    ) -> Result<Option<i64>> {
        let log = self.log_store(table)?;
        state
            .transaction_version(log.as_ref(), app_id)
            .await
            .map_err(|e| self.delta_err(&format!("reading the log of table '{table}'"), &e))
    }

    /// A delta-rs failure as a dsi error naming the store and the action.
    pub(crate) fn delta_err(&self, what: &str, e: &DeltaTableError) -> dsi_core::Error {
        match e {
            DeltaTableError::ObjectStore { source } => self.store_err(what, source),
            other => self.err(what, one_line(other)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_decode_to_the_paths() {
        let root = Url::parse("s3://bucket/").unwrap();
        let p = layout::table_dir(&Path::from("pre fix"), "données ✓ \"; x%");
        let url = url_of(&root, &p).unwrap();
        assert_eq!(Path::from_url_path(url.path()).unwrap(), p, "{url}");
        let root = Url::parse("file:///").unwrap();
        let url = url_of(&root, &Path::from("tmp/x/runs")).unwrap();
        assert_eq!(url.as_str(), "file:///tmp/x/runs/");
    }
}
