//! Content-addressed blobs: [`BlobRef`], streamed content, and verification.
//!
//! Large values (a packed git repository, say) do not travel inside tables.
//! A table cell holds a [`BlobRef`] — the SHA-256 and length of the content —
//! and the content itself is streamed to each back-end separately
//! ([`Driver::put_blob`](crate::Driver::put_blob)). Every read goes through a
//! [`VerifyingReader`], which fails at end of stream if the bytes do not hash
//! to the reference, so corruption in any store is detected on every read.

use std::fmt;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

/// The identity of blob content: its SHA-256 and its length in bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobRef {
    sha256: [u8; 32],
    len: u64,
}

impl BlobRef {
    /// A reference from a digest and a length.
    pub const fn new(sha256: [u8; 32], len: u64) -> Self {
        BlobRef { sha256, len }
    }

    /// The raw SHA-256 digest.
    pub const fn sha256(&self) -> &[u8; 32] {
        &self.sha256
    }

    /// The digest as 64 lower-case hex digits.
    pub fn sha256_hex(&self) -> String {
        hex::encode(self.sha256)
    }

    /// Length of the content in bytes.
    #[allow(
        clippy::len_without_is_empty,
        reason = "a blob reference is not a container"
    )]
    pub const fn len(&self) -> u64 {
        self.len
    }

    /// Parses 64 lower-case hex digits into a digest.
    pub fn parse_hex_digest(hex_digest: &str) -> Result<[u8; 32]> {
        let valid = hex_digest.len() == 64
            && hex_digest
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !valid {
            return Err(Error::InvalidData(format!(
                "malformed sha256 digest '{hex_digest}': expected 64 lower-case hex digits"
            )));
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_digest, &mut out)
            .map_err(|e| Error::InvalidData(format!("malformed sha256 digest: {e}")))?;
        Ok(out)
    }

    /// Hashes a whole stream, returning its reference (reads to the end).
    pub fn compute(reader: &mut dyn Read) -> io::Result<BlobRef> {
        let mut w = HashingWriter::new(io::sink());
        io::copy(reader, &mut w)?;
        Ok(w.finish().1)
    }

    /// Hashes an in-memory byte slice.
    pub fn of_bytes(bytes: &[u8]) -> BlobRef {
        let mut h = Sha256::new();
        h.update(bytes);
        BlobRef::new(h.finalize().into(), bytes.len() as u64)
    }
}

/// Serialised as `{"sha256": "<64 hex digits>", "len": N}`, the form every
/// store and `--json` output uses.
impl serde::Serialize for BlobRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut st = s.serialize_struct("BlobRef", 2)?;
        st.serialize_field("sha256", &self.sha256_hex())?;
        st.serialize_field("len", &self.len)?;
        st.end()
    }
}

impl<'de> serde::Deserialize<'de> for BlobRef {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        #[derive(serde::Deserialize)]
        struct Raw {
            sha256: String,
            len: u64,
        }
        let raw = Raw::deserialize(d)?;
        let digest = BlobRef::parse_hex_digest(&raw.sha256).map_err(serde::de::Error::custom)?;
        Ok(BlobRef::new(digest, raw.len))
    }
}

impl fmt::Display for BlobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.sha256_hex())
    }
}

impl fmt::Debug for BlobRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "BlobRef(sha256:{}, {} bytes)",
            self.sha256_hex(),
            self.len
        )
    }
}

/// A writer that hashes and counts everything written through it, and
/// reports the count as progress ([`crate::progress`]).
#[derive(Debug)]
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
    meter: crate::progress::Meter,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        HashingWriter {
            inner,
            hasher: Sha256::new(),
            len: 0,
            meter: crate::progress::Meter::default(),
        }
    }

    /// Returns the inner writer and the reference of everything written.
    pub fn finish(self) -> (W, BlobRef) {
        let digest = self.hasher.finalize().into();
        (self.inner, BlobRef::new(digest, self.len))
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        self.meter.add(n as u64);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// A reader that checks the content against a [`BlobRef`] as it streams.
///
/// Reading more bytes than the reference's length, or reaching the end with a
/// different length or digest, yields an [`io::ErrorKind::InvalidData`] error
/// naming the blob; nothing unverified is ever reported as a clean end of file.
pub struct VerifyingReader<R> {
    inner: R,
    expected: BlobRef,
    hasher: Sha256,
    seen: u64,
    verified: bool,
}

impl<R: Read> VerifyingReader<R> {
    /// Wraps `inner`, which must yield exactly the content of `expected`.
    pub fn new(inner: R, expected: BlobRef) -> Self {
        VerifyingReader {
            inner,
            expected,
            hasher: Sha256::new(),
            seen: 0,
            verified: false,
        }
    }

    fn mismatch(&self, what: String) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("blob {} failed verification: {what}", self.expected),
        )
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if n > 0 {
            self.seen += n as u64;
            if self.seen > self.expected.len() {
                return Err(self.mismatch(format!(
                    "more than the recorded {} bytes",
                    self.expected.len()
                )));
            }
            self.hasher.update(&buf[..n]);
            return Ok(n);
        }
        if !self.verified {
            if self.seen != self.expected.len() {
                return Err(self.mismatch(format!(
                    "{} bytes instead of {}",
                    self.seen,
                    self.expected.len()
                )));
            }
            let digest: [u8; 32] = std::mem::take(&mut self.hasher).finalize().into();
            if &digest != self.expected.sha256() {
                return Err(
                    self.mismatch(format!("content hashes to sha256:{}", hex::encode(digest)))
                );
            }
            self.verified = true;
        }
        Ok(0)
    }
}

impl<R> fmt::Debug for VerifyingReader<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyingReader")
            .field("expected", &self.expected)
            .field("seen", &self.seen)
            .finish_non_exhaustive()
    }
}

/// A verified stream of blob content as returned by
/// [`Driver::get_blob`](crate::Driver::get_blob).
pub type BlobReader<'a> = VerifyingReader<Box<dyn Read + Send + 'a>>;

/// Reads a whole blob into memory, verifying it. Meant for small blobs and tests.
pub fn read_verified(mut reader: BlobReader<'_>) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    reader
        .read_to_end(&mut out)
        .map_err(|e| Error::Corrupt(e.to_string()))?;
    Ok(out)
}

/// Streams a verified blob into a writer, mapping a verification failure to
/// [`Error::Corrupt`] and other I/O failures to [`Error::Io`].
pub fn copy_verified(mut reader: BlobReader<'_>, out: &mut dyn Write) -> Result<u64> {
    io::copy(&mut reader, out).map_err(|e| {
        if e.kind() == io::ErrorKind::InvalidData {
            Error::Corrupt(e.to_string())
        } else {
            Error::io("copying blob content", e)
        }
    })
}

/// Content that has been produced by a plugin but not yet stored: a
/// [`BlobRef`] plus a way to open the bytes, as often as there are back-ends.
#[derive(Clone)]
pub struct PendingBlob {
    blob: BlobRef,
    source: BlobSource,
}

#[derive(Clone)]
enum BlobSource {
    /// A file on disk, kept alive (e.g. a temporary file) by the owner handle.
    File {
        path: PathBuf,
        _keep: Option<Arc<dyn Send + Sync>>,
    },
    /// Bytes in memory.
    Bytes(Arc<[u8]>),
}

impl PendingBlob {
    /// Content in a file. `keep_alive` is dropped only when the last clone of
    /// this value is (pass a `tempfile::TempPath` to delete it then).
    pub fn from_file(
        blob: BlobRef,
        path: impl Into<PathBuf>,
        keep_alive: Option<Arc<dyn Send + Sync>>,
    ) -> Self {
        PendingBlob {
            blob,
            source: BlobSource::File {
                path: path.into(),
                _keep: keep_alive,
            },
        }
    }

    /// Content held in memory; the reference is computed.
    pub fn from_bytes(bytes: impl Into<Arc<[u8]>>) -> Self {
        let bytes = bytes.into();
        PendingBlob {
            blob: BlobRef::of_bytes(&bytes),
            source: BlobSource::Bytes(bytes),
        }
    }

    /// The reference of the content.
    pub fn blob_ref(&self) -> BlobRef {
        self.blob
    }

    /// The file holding the content, if it is file-backed.
    pub fn path(&self) -> Option<&Path> {
        match &self.source {
            BlobSource::File { path, .. } => Some(path),
            BlobSource::Bytes(_) => None,
        }
    }

    /// Opens the content for reading from the start.
    pub fn open(&self) -> Result<Box<dyn Read + Send>> {
        match &self.source {
            BlobSource::File { path, .. } => {
                let f = std::fs::File::open(path)
                    .map_err(|e| Error::io(format!("opening {}", path.display()), e))?;
                Ok(Box::new(io::BufReader::with_capacity(1 << 16, f)))
            }
            BlobSource::Bytes(b) => Ok(Box::new(io::Cursor::new(Arc::clone(b)))),
        }
    }
}

impl fmt::Debug for PendingBlob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            BlobSource::File { path, .. } => format!("file {}", path.display()),
            BlobSource::Bytes(b) => format!("{} bytes in memory", b.len()),
        };
        f.debug_struct("PendingBlob")
            .field("blob", &self.blob)
            .field("source", &source)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_blob_has_the_well_known_digest() {
        let b = BlobRef::of_bytes(b"");
        assert_eq!(
            b.to_string(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(b.len(), 0);
    }

    #[test]
    fn verifying_reader_accepts_matching_content() {
        let b = BlobRef::of_bytes(b"hello");
        let r = VerifyingReader::new(Box::new(&b"hello"[..]) as Box<dyn Read + Send>, b);
        assert_eq!(read_verified(r).unwrap(), b"hello");
    }

    #[test]
    fn verifying_reader_rejects_changed_short_and_long_content() {
        let b = BlobRef::of_bytes(b"hello");
        for bad in [&b"hellp"[..], b"hell", b"hello!"] {
            let r = VerifyingReader::new(Box::new(bad) as Box<dyn Read + Send>, b);
            let err = read_verified(r).unwrap_err();
            assert!(matches!(err, Error::Corrupt(_)), "{err}");
            assert!(err.to_string().contains(&b.sha256_hex()), "{err}");
        }
    }

    #[test]
    fn digest_parsing_is_strict() {
        let hexd = BlobRef::of_bytes(b"x").sha256_hex();
        assert!(BlobRef::parse_hex_digest(&hexd).is_ok());
        assert!(BlobRef::parse_hex_digest(&hexd.to_uppercase()).is_err());
        assert!(BlobRef::parse_hex_digest(&hexd[1..]).is_err());
    }

    #[test]
    fn pending_blob_reopens() {
        let p = PendingBlob::from_bytes(b"abc".to_vec());
        for _ in 0..2 {
            let mut s = String::new();
            p.open().unwrap().read_to_string(&mut s).unwrap();
            assert_eq!(s, "abc");
        }
    }
}
