//! Timing processes: one run ([`measure`]), a sequence of processes
//! ([`measure_seq`]), peers alternated round by round ([`alternate`],
//! [`alternate_prepared`]), medians and ranges ([`Stats`]), and
//! deterministic pseudo-random content ([`SplitMix`]).

use std::ffi::OsStr;
use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{Context, bail};

use super::bench_data;

/// Median and range of a set of measurements.
#[derive(Debug, Clone, Copy)]
pub(super) struct Stats {
    pub(super) median: f64,
    pub(super) min: f64,
    pub(super) max: f64,
    pub(super) n: usize,
}

impl Stats {
    pub(super) fn of(values: &[f64]) -> Stats {
        assert!(!values.is_empty(), "no measurements");
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let n = v.len();
        let median = if n % 2 == 1 {
            v[n / 2]
        } else {
            (v[n / 2 - 1] + v[n / 2]) / 2.0
        };
        Stats {
            median,
            min: v[0],
            max: v[n - 1],
            n,
        }
    }
}

/// One process measurement.
#[derive(Debug)]
pub(super) struct Sample {
    pub(super) secs: f64,
    pub(super) rss_kib: Option<u64>,
    pub(super) stdout: Vec<u8>,
}

pub(super) fn have_time() -> bool {
    Path::new("/usr/bin/time").exists()
}

/// A copy of `cmd` (program, arguments, environment changes, directory).
pub(super) fn copy_command(cmd: &Command) -> Command {
    copy_with(cmd, cmd.get_program(), &[])
}

/// `cmd` with another program, `prefix` arguments before its own.
pub(super) fn copy_with(cmd: &Command, program: &OsStr, prefix: &[&OsStr]) -> Command {
    let mut c = Command::new(program);
    c.args(prefix).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => c.env(k, v),
            None => c.env_remove(k),
        };
    }
    if let Some(d) = cmd.get_current_dir() {
        c.current_dir(d);
    }
    c
}

/// Runs `cmd` to completion, timing it; with `rss`, under `/usr/bin/time -f
/// %M` (when installed) for the peak RSS. Fails when it fails.
pub(super) fn measure(cmd: &Command, rss: bool) -> anyhow::Result<Sample> {
    let rss_file = bench_data().join("time.out");
    let mut c = if rss && have_time() {
        let mut time = Command::new("/usr/bin/time");
        time.args(["-f", "%M", "-o"]).arg(&rss_file);
        let prefix: Vec<&OsStr> = time
            .get_args()
            .chain(std::iter::once(cmd.get_program()))
            .collect();
        copy_with(cmd, OsStr::new("/usr/bin/time"), &prefix)
    } else {
        copy_command(cmd)
    };
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let shown = format!("{cmd:?}");
    let t0 = Instant::now();
    let out = c.output().with_context(|| format!("starting {shown}"))?;
    let secs = t0.elapsed().as_secs_f64();
    if !out.status.success() {
        bail!(
            "{shown} failed with {}: {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    let rss_kib = if rss && have_time() {
        let text = fs::read_to_string(&rss_file).unwrap_or_default();
        text.lines().last().and_then(|l| l.trim().parse().ok())
    } else {
        None
    };
    Ok(Sample {
        secs,
        rss_kib,
        stdout: out.stdout,
    })
}

/// Runs `cmds` one after the other (each must succeed): the summed wall
/// time, the largest peak RSS and the last stdout.
pub(super) fn measure_seq(cmds: &[Command], rss: bool) -> anyhow::Result<Sample> {
    let mut total = Sample {
        secs: 0.0,
        rss_kib: None,
        stdout: Vec::new(),
    };
    for c in cmds {
        let s = measure(c, rss)?;
        total.secs += s.secs;
        total.rss_kib = total.rss_kib.max(s.rss_kib);
        total.stdout = s.stdout;
    }
    Ok(total)
}

fn progress(round: usize, runs: usize) {
    eprint!("\rxtask: bench: round {}/{runs}", round + 1);
    let _ = std::io::stderr().flush();
}

/// Runs the peers alternately, `runs` rounds (rotating who goes first),
/// after one untimed warm-up round.
pub(super) fn alternate(
    peers: &[Command],
    runs: usize,
    rss: bool,
) -> anyhow::Result<Vec<Vec<Sample>>> {
    for p in peers {
        measure(p, false)?;
    }
    let mut samples: Vec<Vec<Sample>> = peers.iter().map(|_| Vec::new()).collect();
    for round in 0..runs {
        for k in 0..peers.len() {
            let i = (round + k) % peers.len();
            samples[i].push(measure(&peers[i], rss)?);
        }
        progress(round, runs);
    }
    eprintln!();
    Ok(samples)
}

/// A peer whose processes depend on state: called (untimed) before every
/// run, it prepares what it needs and returns the processes to time, in
/// order.
pub(super) type Prepared<'a> = Box<dyn FnMut() -> anyhow::Result<Vec<Command>> + 'a>;

/// Like [`alternate`] for peers that prepare each run. Peers whose index is
/// in `slow` are timed in the first `slow_runs` rounds only (slow peers
/// timed fewer times, still alternated with the others). With `rss`, every
/// timed run is under `/usr/bin/time` for its peak RSS.
pub(super) fn alternate_prepared(
    peers: &mut [Prepared<'_>],
    runs: usize,
    slow: &[usize],
    slow_runs: usize,
    rss: bool,
) -> anyhow::Result<Vec<Vec<Sample>>> {
    for p in peers.iter_mut() {
        measure_seq(&p()?, false)?;
    }
    let n = peers.len();
    let mut samples: Vec<Vec<Sample>> = (0..n).map(|_| Vec::new()).collect();
    for round in 0..runs {
        for k in 0..n {
            let i = (round + k) % n;
            if round >= slow_runs && slow.contains(&i) {
                continue;
            }
            let cmds = peers[i]()?;
            samples[i].push(measure_seq(&cmds, rss)?);
        }
        progress(round, runs);
    }
    eprintln!();
    Ok(samples)
}

pub(super) fn secs_stats(samples: &[Sample]) -> Stats {
    Stats::of(&samples.iter().map(|s| s.secs).collect::<Vec<_>>())
}

pub(super) fn max_rss(samples: &[Sample]) -> Option<u64> {
    samples.iter().filter_map(|s| s.rss_kib).max()
}

/// SplitMix64: fast, deterministic file content.
pub(super) struct SplitMix(pub(super) u64);

impl SplitMix {
    pub(super) fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Fills `buf` with pseudo-random (incompressible) bytes.
    pub(super) fn fill(&mut self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let v = self.next().to_le_bytes();
            chunk.copy_from_slice(&v[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_median_and_range() {
        let s = Stats::of(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.median, s.min, s.max, s.n), (2.5, 1.0, 10.0, 4));
        assert_eq!(Stats::of(&[5.0, 1.0, 3.0]).median, 3.0);
    }

    #[test]
    fn splitmix_fills_deterministically() {
        let mut a = [0u8; 13];
        let mut b = [0u8; 13];
        SplitMix(7).fill(&mut a);
        SplitMix(7).fill(&mut b);
        assert_eq!(a, b);
        assert_ne!(a, [0u8; 13]);
    }
}
