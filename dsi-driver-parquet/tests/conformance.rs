//! The dsi-core conformance suite against a local dataset directory.

use dsi_core::conformance::{Capabilities, run_all};
use dsi_core::{BlobRef, Driver};
use dsi_driver_parquet::Dataset;

#[test]
fn parquet_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let root = dir.path().join("dsi-data");
    let corrupt = |blob: &BlobRef, content: &[u8]| -> dsi_core::Result<()> {
        let hex = blob.sha256_hex();
        let path = root.join("blobs/sha256").join(&hex[..2]).join(&hex[2..]);
        assert!(path.is_file(), "blob object at {}", path.display());
        std::fs::write(&path, content).expect("overwrite the blob object");
        Ok(())
    };
    run_all(
        &|| Ok(Box::new(Dataset::open_local(&root)?) as Box<dyn Driver>),
        &Capabilities {
            bounded_blob_memory: true,
            sql: cfg!(feature = "sql"),
            corrupt_blob: &corrupt,
        },
    );
}
