//! Content-addressed blobs under `blobs/sha256/<2 hex>/<62 hex>`: streamed,
//! verified while written and published only when they match, streamed in
//! ranges and verified on read.

use std::io::{self, Read, Write};

use bytes::Bytes;
use dsi_core::blob::{BlobReader, HashingWriter, VerifyingReader};
use dsi_core::{BlobPut, BlobRef, Error, Result};
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use object_store::path::Path;
use object_store::{
    GetOptions, GetRange, GetResultPayload, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    WriteMultipart,
};

use crate::Dataset;

/// Parts uploaded at once in a multipart upload (memory: this many parts
/// plus the one being filled).
const PARTS_IN_FLIGHT: usize = 2;
/// Bytes read from the caller's stream at a time.
const READ_CHUNK: usize = 1 << 20;

fn mismatch(blob: &BlobRef, got: &BlobRef) -> Error {
    Error::Corrupt(format!(
        "blob {blob} ({} bytes): the content given hashes to {got} ({} bytes); nothing was stored",
        blob.len(),
        got.len()
    ))
}

/// Whether the blob is stored with the right length.
pub(crate) async fn exists(ds: &Dataset, blob: &BlobRef) -> Result<bool> {
    let path = ds.blob_path(blob);
    match ds.store.head(&path).await {
        Ok(meta) => Ok(meta.size == blob.len()),
        Err(object_store::Error::NotFound { .. }) => Ok(false),
        Err(e) => Err(ds.store_err("looking up a blob", &e)),
    }
}

/// Reads up to `limit` bytes, hashing them; `Ok(None)` when more than
/// `limit` bytes are available.
fn read_small(content: &mut dyn Read, limit: u64) -> io::Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(usize::try_from(limit).unwrap_or(0).min(READ_CHUNK * 8));
    content.take(limit + 1).read_to_end(&mut buf)?;
    Ok((buf.len() as u64 <= limit).then_some(buf))
}

/// Stores a blob (see [`dsi_core::Driver::put_blob`]).
pub(crate) async fn put(ds: &Dataset, blob: &BlobRef, content: &mut dyn Read) -> Result<BlobPut> {
    let path = ds.blob_path(blob);
    // A stored object of the wrong length is damaged: replace it.
    let mode = match ds.store.head(&path).await {
        Ok(meta) if meta.size == blob.len() => return Ok(BlobPut::AlreadyPresent),
        Ok(_) => PutMode::Overwrite,
        Err(object_store::Error::NotFound { .. }) => PutMode::Create,
        Err(e) => return Err(ds.store_err("looking up a blob", &e)),
    };
    let reading = |e| Error::io(format!("reading the content of blob {blob}"), e);
    if blob.len() <= ds.part_size as u64 {
        let Some(bytes) = read_small(content, blob.len()).map_err(reading)? else {
            return Err(Error::Corrupt(format!(
                "blob {blob}: the content given is longer than the recorded {} bytes; nothing was stored",
                blob.len()
            )));
        };
        let got = BlobRef::of_bytes(&bytes);
        if got != *blob {
            return Err(mismatch(blob, &got));
        }
        let opts = PutOptions::from(mode);
        return match ds
            .store
            .put_opts(&path, PutPayload::from(bytes), opts)
            .await
        {
            Ok(_) => Ok(BlobPut::Stored),
            Err(object_store::Error::AlreadyExists { .. }) => Ok(BlobPut::AlreadyPresent),
            Err(e) => Err(ds.store_err(format!("writing blob {blob}"), &e)),
        };
    }
    put_large(ds, &path, blob, content).await
}

/// A multipart upload, completed only once the content is verified.
async fn put_large(
    ds: &Dataset,
    path: &Path,
    blob: &BlobRef,
    content: &mut dyn Read,
) -> Result<BlobPut> {
    let what = format!("writing blob {blob}");
    let upload = ds
        .store
        .put_multipart(path)
        .await
        .map_err(|e| ds.store_err(what.as_str(), &e))?;
    let mut upload = WriteMultipart::new_with_chunk_size(upload, ds.part_size);
    let mut hasher = HashingWriter::new(io::sink());
    let mut buf = vec![0u8; READ_CHUNK];
    let mut seen = 0u64;
    let failure = loop {
        if let Err(e) = upload.wait_for_capacity(PARTS_IN_FLIGHT).await {
            break ds.store_err(what.as_str(), &e);
        }
        let n = match content.read(&mut buf) {
            Ok(0) => {
                let (_, got) = hasher.finish();
                if got != *blob {
                    break mismatch(blob, &got);
                }
                return match upload.finish().await {
                    Ok(_) => Ok(BlobPut::Stored),
                    Err(e) => Err(ds.store_err(what.as_str(), &e)),
                };
            }
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break Error::io(format!("reading the content of blob {blob}"), e),
        };
        seen += n as u64;
        if seen > blob.len() {
            break Error::Corrupt(format!(
                "blob {blob}: the content given is longer than the recorded {} bytes; nothing was stored",
                blob.len()
            ));
        }
        // Writing to a sink cannot fail.
        let _ = hasher.write_all(&buf[..n]);
        upload.write(&buf[..n]);
    };
    let _ = upload.abort().await;
    Err(failure)
}

/// Opens a blob for verified, streamed reading.
pub(crate) fn open<'a>(ds: &'a Dataset, blob: &BlobRef) -> Result<BlobReader<'a>> {
    let path = ds.blob_path(blob);
    let size = match ds.runtime.block_on(ds.store.head(&path)) {
        Ok(meta) => meta.size,
        Err(object_store::Error::NotFound { .. }) => {
            return Err(Error::not_found("blob", blob.to_string()));
        }
        Err(e) => return Err(ds.store_err(format!("reading blob {blob}"), &e)),
    };
    let mut reader = RangeReader {
        ds,
        path,
        size,
        next: 0,
        stream: None,
        chunk: Bytes::new(),
        file: None,
    };
    if size > 0 {
        reader.open_range().map_err(|e| {
            if e.kind() == io::ErrorKind::NotFound {
                Error::not_found("blob", blob.to_string())
            } else {
                Error::io(format!("reading blob {blob} at {}", ds.location), e)
            }
        })?;
    }
    Ok(VerifyingReader::new(Box::new(reader), *blob))
}

/// Streams an object in ranges of the part size through the dataset's
/// runtime (a local file is read directly).
struct RangeReader<'a> {
    ds: &'a Dataset,
    path: Path,
    size: u64,
    /// Start of the next range to request.
    next: u64,
    stream: Option<BoxStream<'static, object_store::Result<Bytes>>>,
    chunk: Bytes,
    /// The whole object as a local file, when the store is a file system.
    file: Option<std::fs::File>,
}

impl RangeReader<'_> {
    fn io_err(&self, e: &object_store::Error) -> io::Error {
        let kind = match e {
            object_store::Error::NotFound { .. } => io::ErrorKind::NotFound,
            _ => io::ErrorKind::Other,
        };
        let text = self
            .ds
            .describe
            .and_then(|d| d(e))
            .unwrap_or_else(|| crate::error::one_line(e));
        io::Error::new(kind, text)
    }

    fn open_range(&mut self) -> io::Result<()> {
        let end = self.size.min(self.next + self.ds.part_size as u64);
        let opts = GetOptions::new().with_range(Some(GetRange::Bounded(self.next..end)));
        let result = self
            .ds
            .runtime
            .block_on(self.ds.store.get_opts(&self.path, opts))
            .map_err(|e| self.io_err(&e))?;
        match result.payload {
            GetResultPayload::File(file, _) => {
                // The file is read to its end: a damaged length shows up in
                // verification.
                self.file = Some(file);
                self.next = self.size;
            }
            GetResultPayload::Stream(s) => {
                self.stream = Some(s);
                self.next = end;
            }
        }
        Ok(())
    }
}

impl Read for RangeReader<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if let Some(f) = &mut self.file {
            return f.read(out);
        }
        loop {
            if !self.chunk.is_empty() {
                let n = out.len().min(self.chunk.len());
                out[..n].copy_from_slice(&self.chunk.split_to(n));
                return Ok(n);
            }
            match &mut self.stream {
                Some(s) => match self.ds.runtime.block_on(s.next()) {
                    Some(Ok(b)) => self.chunk = b,
                    Some(Err(e)) => return Err(self.io_err(&e)),
                    None => self.stream = None,
                },
                None if self.next < self.size => self.open_range()?,
                None => return Ok(0),
            }
        }
    }
}
