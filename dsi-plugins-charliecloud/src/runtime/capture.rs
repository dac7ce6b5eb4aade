//! Streaming a step's output to the caller while hashing it.

use std::io::{self, Read};

use sha2::{Digest, Sha256};

use super::Sink;

/// What [`pump`] saw.
pub(crate) struct Pumped {
    /// Hex SHA-256 of this step's stream.
    pub(crate) digest: String,
    /// Bytes in this step's stream.
    pub(crate) len: u64,
    /// The run's hash of the same stream over all steps, updated.
    pub(crate) total: Sha256,
    /// A `ch-run[PID]: error: …` line, if one passed by.
    pub(crate) ch_run_error: Option<String>,
}

fn ch_run_error_line(line: &[u8]) -> Option<String> {
    let text = String::from_utf8_lossy(line);
    (text.starts_with("ch-run[") && text.contains("]: error: ")).then(|| text.into_owned())
}

/// Copies a child's output to a sink while hashing it (into the step's hash
/// and the run's `total`); remembers a ch-run error line if one passes by.
/// A read error ends the copy (the digest then covers what was read).
pub(crate) fn pump(mut from: impl Read, to: Sink, scan_ch_run: bool, mut total: Sha256) -> Pumped {
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut line = Vec::new();
    let mut ch_run_error = None;
    let mut len = 0_u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        h.update(&buf[..n]);
        total.update(&buf[..n]);
        len += n as u64;
        {
            let mut sink = to.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            // A closed terminal must not stop the container: keep hashing.
            let _ = sink.write_all(&buf[..n]).and_then(|()| sink.flush());
        }
        if scan_ch_run && ch_run_error.is_none() {
            for &b in &buf[..n] {
                if b == b'\n' {
                    ch_run_error = ch_run_error_line(&line);
                    line.clear();
                    if ch_run_error.is_some() {
                        break;
                    }
                } else if line.len() < 4096 {
                    line.push(b);
                }
            }
        }
    }
    if scan_ch_run && ch_run_error.is_none() {
        ch_run_error = ch_run_error_line(&line);
    }
    Pumped {
        digest: hex::encode(h.finalize()),
        len,
        total,
        ch_run_error,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[test]
    fn pump_hashes_the_step_and_the_run_and_finds_ch_run_errors() {
        let sink: Arc<Mutex<Vec<u8>>> = Arc::new(Mutex::new(Vec::new()));
        let mut total = Sha256::new();
        total.update(b"a\n");
        let p = pump(
            &b"x\nch-run[12]: error: can't execve(2): /nope: No such file\ntail"[..],
            sink.clone(),
            true,
            total,
        );
        let all = b"x\nch-run[12]: error: can't execve(2): /nope: No such file\ntail";
        assert_eq!(sink.lock().unwrap().as_slice(), all);
        assert_eq!(p.digest, hex::encode(Sha256::digest(all)));
        let mut both = b"a\n".to_vec();
        both.extend_from_slice(all);
        assert_eq!(
            hex::encode(p.total.finalize()),
            hex::encode(Sha256::digest(&both))
        );
        assert_eq!(
            p.ch_run_error.as_deref(),
            Some("ch-run[12]: error: can't execve(2): /nope: No such file")
        );
        let p = pump(
            &b"ch-run[3]: error: no newline"[..],
            sink,
            true,
            Sha256::new(),
        );
        assert_eq!(
            p.ch_run_error.as_deref(),
            Some("ch-run[3]: error: no newline")
        );
    }
}
