//! Verifying what a store holds, independently of what the rows mean: every
//! stored blob is read back and checked against its digest and length.
//! (What the rows refer to is checked by the plugin that wrote them.)

use serde::Serialize;

use crate::blob::{BlobRef, copy_verified};
use crate::driver::Driver;
use crate::error::Result;

/// A blob that failed verification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct BadBlob {
    /// The blob.
    pub blob: String,
    /// What is wrong with it.
    pub problem: String,
}

/// Every stored blob of one store, and those that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobCheck {
    /// Every blob the store lists.
    pub blobs: Vec<BlobRef>,
    /// The ones whose content does not verify.
    pub bad: Vec<BadBlob>,
}

/// Reads every blob of `driver` back through its verifying reader.
pub fn check_blobs(driver: &dyn Driver) -> Result<BlobCheck> {
    let blobs = driver.list_blobs()?;
    let mut bad = Vec::new();
    for b in &blobs {
        if let Err(e) = driver
            .get_blob(b)
            .and_then(|r| copy_verified(r, &mut std::io::sink()))
        {
            bad.push(BadBlob {
                blob: b.to_string(),
                problem: e.to_string(),
            });
        }
    }
    Ok(BlobCheck { blobs, bad })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryDriver;

    #[test]
    fn corrupted_content_is_reported() {
        let d = MemoryDriver::new();
        let good = BlobRef::of_bytes(b"good");
        let bad = BlobRef::of_bytes(b"bad");
        d.put_blob(&good, &mut &b"good"[..]).unwrap();
        d.put_blob(&bad, &mut &b"bad"[..]).unwrap();
        d.corrupt_blob(&bad, b"BAD").unwrap();
        let c = check_blobs(&d).unwrap();
        assert_eq!(c.blobs.len(), 2);
        assert_eq!(c.bad.len(), 1);
        assert_eq!(c.bad[0].blob, bad.to_string());
    }
}
