//! Bytes done in a long operation, for whichever front-end shows progress.
//!
//! Libraries run long operations (packing a repository, uploading a blob,
//! pulling an image) inside a `tracing` span and report their bytes here as
//! `tracing` events of target [`TARGET`] at trace level: `total` when the
//! size is known, then `done` as it grows (at most every [`STEP`] bytes).
//! A front-end turns them into a byte count and a rate on the span's
//! progress bar (the command line does, on a terminal); without one they
//! cost a disabled callsite check.

/// The `tracing` target of progress events.
pub const TARGET: &str = "dsi::progress";

/// How many bytes a [`Meter`] lets pass between two reports.
pub const STEP: u64 = 1 << 20;

/// Reports the size of the current span's operation.
pub fn total(bytes: u64) {
    tracing::trace!(target: TARGET, total = bytes);
}

/// Reports the bytes done so far in the current span's operation.
pub fn done(bytes: u64) {
    tracing::trace!(target: TARGET, done = bytes);
}

/// Counts bytes and reports them ([`done`]) every [`STEP`].
#[derive(Debug, Clone, Default)]
pub struct Meter {
    done: u64,
    reported: u64,
}

impl Meter {
    /// Adds `n` bytes, reporting when a step was crossed.
    pub fn add(&mut self, n: u64) {
        self.done += n;
        if self.done - self.reported >= STEP {
            self.reported = self.done;
            done(self.done);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_meter_reports_once_per_step() {
        let mut m = Meter::default();
        m.add(STEP - 1);
        assert_eq!(m.reported, 0);
        m.add(1);
        assert_eq!(m.reported, STEP);
        m.add(STEP / 2);
        assert_eq!((m.done, m.reported), (STEP + STEP / 2, STEP));
    }
}
