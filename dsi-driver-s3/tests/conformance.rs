//! The dsi-core conformance suite against s3s-fs, a real S3 server that
//! verifies SigV4 signatures (started by `cargo xtask ci`).

mod common;

use dsi_core::conformance::{Capabilities, run_all};
use dsi_core::{BlobRef, Driver};
use dsi_driver_parquet::object_store::{ObjectStoreExt, PutPayload};

#[test]
fn s3_passes_the_conformance_suite() {
    let server = common::server();
    let prefix = common::unique_prefix("conformance");
    let open =
        || -> dsi_core::Result<Box<dyn Driver>> { Ok(Box::new(server.builder(&prefix).open()?)) };
    let corrupt = |blob: &BlobRef, content: &[u8]| -> dsi_core::Result<()> {
        let ds = server.builder(&prefix).open()?;
        ds.block_on(
            ds.store()
                .put(&ds.blob_path(blob), PutPayload::from(content.to_vec())),
        )
        .expect("overwrite the blob object");
        Ok(())
    };
    run_all(
        &open,
        &Capabilities {
            bounded_blob_memory: true,
            sql: cfg!(feature = "sql"),
            corrupt_blob: &corrupt,
        },
    );
}
