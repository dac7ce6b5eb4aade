//! Failures inside the dataset code and their conversion into
//! [`dsi_core::Error`].
//!
//! Every message is one line that names the dataset location and what was
//! being done. Object-store failures can be described by the store's own
//! driver (see [`crate::DescribeError`]), which is how the S3 driver turns
//! HTTP status codes into "bad credentials" or "no such bucket".

use dsi_core::Error;

/// A failure of the object store, the Parquet codec or the dataset's own
/// bookkeeping, with what was being done.
#[derive(Debug, thiserror::Error)]
#[error("{location}: {what}: {message}")]
pub(crate) struct DatasetError {
    pub(crate) location: String,
    pub(crate) what: String,
    pub(crate) message: String,
}

impl DatasetError {
    /// Builds the driver-level error.
    pub(crate) fn into_error(self, driver: &str) -> Error {
        Error::backend(driver, self)
    }
}

/// One line of text for any error: its message and its causes, without
/// repeating a cause the message already contains, newlines flattened.
pub(crate) fn one_line(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = String::new();
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string();
        let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
        cur = err.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn causes_are_joined_on_one_line() {
        let inner = std::io::Error::other("disk\nfull");
        let e = Error::io("writing x", inner);
        assert_eq!(one_line(&e), "writing x: disk full");
    }
}
