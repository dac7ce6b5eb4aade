//! An in-memory back-end, for unit tests of the core and for programs that
//! embed the Terminal without persistence.
//!
//! Clones share one store, so a clone stands in for "closing and reopening"
//! in the conformance suite. It is not registered with the registry: a store
//! that vanishes with the process is no use on the command line.

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::blob::{BlobReader, BlobRef, VerifyingReader};
use crate::driver::{
    BlobPut, ColumnInfo, Driver, DriverFunction, Inspection, Location, Query, TableInfo,
};
use crate::error::{Error, Result};
use crate::table::{Collection, Table};

#[derive(Debug, Default)]
struct State {
    tables: BTreeMap<String, Table>,
    blobs: BTreeMap<BlobRef, Arc<[u8]>>,
}

/// A back-end that keeps everything in memory.
#[derive(Debug, Clone)]
pub struct MemoryDriver {
    name: String,
    state: Arc<Mutex<State>>,
}

impl Default for MemoryDriver {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryDriver {
    /// An empty store named `memory`.
    pub fn new() -> Self {
        Self::named("memory")
    }

    /// An empty store with another name (to load several into one Terminal).
    pub fn named(name: impl Into<String>) -> Self {
        MemoryDriver {
            name: name.into(),
            state: Arc::default(),
        }
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave State half-updated:
        // every mutation below is a single insert.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Overwrites stored blob content without updating its reference, to test
    /// that corruption is detected on read.
    pub fn corrupt_blob(&self, blob: &BlobRef, content: &[u8]) -> Result<()> {
        let mut s = self.state();
        let slot = s
            .blobs
            .get_mut(blob)
            .ok_or_else(|| Error::not_found("blob", blob.to_string()))?;
        *slot = Arc::from(content);
        Ok(())
    }
}

impl Driver for MemoryDriver {
    fn location(&self) -> Location {
        // Clones share one store, so they are one location.
        Location::Other {
            description: format!("memory {:p}", Arc::as_ptr(&self.state)),
        }
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn function(&self) -> DriverFunction {
        DriverFunction::BackEnd
    }

    fn put(&self, collection: &Collection) -> Result<()> {
        let mut s = self.state();
        // Build every new table first so a failure leaves the store unchanged.
        let mut updated = Vec::new();
        for t in collection.tables() {
            let mut next = s
                .tables
                .get(t.name())
                .cloned()
                .unwrap_or(Table::new(t.name())?);
            next.append_rows(t.clone())?;
            updated.push(next);
        }
        for t in updated {
            s.tables.insert(t.name().to_owned(), t);
        }
        Ok(())
    }

    fn get(&self, query: &Query) -> Result<Collection> {
        match query {
            Query::Table(q) => {
                let table = self
                    .state()
                    .tables
                    .get(&q.table)
                    .cloned()
                    .ok_or_else(|| Error::not_found("table", &q.table))?;
                Ok(Collection::of(q.apply(table)?))
            }
            Query::Sql(_) => Err(Error::not_supported("SQL queries", &self.name)),
        }
    }

    fn inspect(&self) -> Result<Inspection> {
        let s = self.state();
        Ok(Inspection {
            driver: self.name.clone(),
            location: self.location(),
            tables: s
                .tables
                .values()
                .map(|t| TableInfo {
                    name: t.name().to_owned(),
                    columns: t
                        .columns()
                        .iter()
                        .map(|c| ColumnInfo {
                            name: c.name().to_owned(),
                            data_type: c.data_type(),
                        })
                        .collect(),
                    rows: t.num_rows() as u64,
                    files: None,
                })
                .collect(),
            blobs: s.blobs.len() as u64,
            blob_bytes: s.blobs.keys().map(BlobRef::len).sum(),
        })
    }

    fn put_blob(&self, blob: &BlobRef, content: &mut dyn Read) -> Result<BlobPut> {
        if self.state().blobs.contains_key(blob) {
            return Ok(BlobPut::AlreadyPresent);
        }
        let mut bytes = Vec::new();
        content
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(format!("reading content of blob {blob}"), e))?;
        let actual = BlobRef::of_bytes(&bytes);
        if actual != *blob {
            return Err(Error::Corrupt(format!(
                "content given for blob {blob} ({} bytes) is {actual} ({} bytes)",
                blob.len(),
                actual.len()
            )));
        }
        self.state().blobs.insert(*blob, Arc::from(bytes));
        Ok(BlobPut::Stored)
    }

    fn get_blob(&self, blob: &BlobRef) -> Result<BlobReader<'_>> {
        let bytes = self
            .state()
            .blobs
            .get(blob)
            .cloned()
            .ok_or_else(|| Error::not_found("blob", blob.to_string()))?;
        Ok(VerifyingReader::new(
            Box::new(std::io::Cursor::new(bytes)),
            *blob,
        ))
    }

    fn has_blob(&self, blob: &BlobRef) -> Result<bool> {
        Ok(self.state().blobs.contains_key(blob))
    }

    fn list_blobs(&self) -> Result<Vec<BlobRef>> {
        Ok(self.state().blobs.keys().copied().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::{Capabilities, run_all};

    #[test]
    fn memory_driver_passes_the_conformance_suite() {
        let store = MemoryDriver::new();
        run_all(
            &|| Ok(Box::new(store.clone()) as Box<dyn Driver>),
            &Capabilities {
                bounded_blob_memory: false,
                sql: false,
                corrupt_blob: &|d: &BlobRef, content: &[u8]| store.corrupt_blob(d, content),
            },
        );
    }

    #[test]
    fn memory_driver_passes_the_conformance_suite_boxed() {
        let boxed: Box<dyn Driver> = Box::new(MemoryDriver::new());
        crate::conformance::round_trip_all_types(boxed.as_ref());
    }
}
