//! The environment a step starts with, what PASSENV lets into the
//! container, and what of it a record keeps.
//!
//! ch-run starts with dsi's environment (plus `USER`); its `--unset-env=*`
//! (or `--unset-env=!(PASSENV patterns)`) keeps all of it out of the
//! container except what PASSENV names. A record lists the names of the
//! variables passed, and their values only for the scheduler and MPI
//! context ([`RECORDED_VALUES`]); any other variable may hold a secret
//! (`PASSENV AWS_*` passes `AWS_SECRET_ACCESS_KEY`), and stores are shared.

use crate::records::PassedVariable;
use crate::runfile::Runfile;

use super::RunOptions;

/// Variables whose values a record keeps (fnmatch patterns): the job, step
/// and MPI plumbing a replay on another system is compared by. Everything
/// else passed is recorded by name only, as "passed, value not recorded".
pub const RECORDED_VALUES: &[&str] = &[
    "SLURM_*",
    "SLURMD_NODENAME",
    "PMIX_*",
    "PMI_*",
    "OMPI_*",
    "HOSTNAME",
    "HOST",
];

/// Words that mark a value as secret even under a recorded prefix
/// (`SLURM_JWT`, a `PMIX_SECURITY_KEY`).
const SECRET_WORDS: &[&str] = &[
    "JWT", "TOKEN", "SECRET", "PASSWORD", "PASSWD", "KEY", "CRED", "AUTH",
];

/// Whether a passed variable's value is kept in the record.
pub fn value_recorded(name: &str) -> bool {
    let upper = name.to_ascii_uppercase();
    RECORDED_VALUES
        .iter()
        .any(|p| glob_match(p.as_bytes(), name.as_bytes()))
        && !SECRET_WORDS.iter().any(|w| upper.contains(w))
}

/// What a record keeps of the variables passed: every name, values only
/// where [`value_recorded`].
pub fn to_record(passed: &[(String, String)]) -> Vec<PassedVariable> {
    passed
        .iter()
        .map(|(name, value)| PassedVariable {
            name: name.clone(),
            value: value_recorded(name).then(|| value.clone()),
        })
        .collect()
}

/// `fnmatch` with `*` and `?` only (PASSENV patterns), in O(pattern × text)
/// time whatever the number of `*` (a Runfile may come from anyone).
pub(crate) fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    // Where the last `*` was and the text position it is now matched up to.
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// The environment `ch-run` starts with: dsi's own, with `USER` set to
/// `opts.user`. (Only PASSENV lets any of it into the container.)
pub(crate) fn ch_run_environment(opts: &RunOptions) -> Vec<(String, String)> {
    let mut vars: Vec<(String, String)> = std::env::vars_os()
        .filter(|(k, _)| k != "USER")
        .map(|(k, v)| {
            (
                k.to_string_lossy().into_owned(),
                v.to_string_lossy().into_owned(),
            )
        })
        .collect();
    vars.push(("USER".to_owned(), opts.user.clone()));
    vars
}

/// The host variables PASSENV lets through, with their values, from this
/// process's environment (names and values that are not UTF-8 are
/// converted lossily). [`super::execute`] records the same for the
/// environment it gives ch-run, where `USER` is [`RunOptions::user`].
pub fn passed_environment(runfile: &Runfile) -> Vec<(String, String)> {
    let vars = std::env::vars_os().map(|(k, v)| {
        (
            k.to_string_lossy().into_owned(),
            v.to_string_lossy().into_owned(),
        )
    });
    passed_environment_of(runfile, vars)
}

/// The variables of `vars` that the Runfile's PASSENV patterns match, sorted.
pub(crate) fn passed_environment_of(
    runfile: &Runfile,
    vars: impl IntoIterator<Item = (String, String)>,
) -> Vec<(String, String)> {
    let patterns: Vec<&str> = runfile
        .passenv()
        .iter()
        .map(|p| p.pattern.as_str())
        .collect();
    if patterns.is_empty() {
        return Vec::new();
    }
    let mut vars: Vec<(String, String)> = vars
        .into_iter()
        .filter(|(k, _)| {
            patterns
                .iter()
                .any(|p| glob_match(p.as_bytes(), k.as_bytes()))
        })
        .collect();
    vars.sort();
    vars
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn glob_matches_star_and_question_mark_only() {
        assert!(glob_match(b"SLURM_*", b"SLURM_JOB_ID"));
        assert!(glob_match(b"OMPI_?", b"OMPI_X"));
        assert!(!glob_match(b"OMPI_?", b"OMPI_XY"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"*_*_ID", b"SLURM_JOB_ID"));
        assert!(glob_match(b"S*?", b"SX"));
        assert!(!glob_match(b"S*?", b"S"));
        assert!(!glob_match(b"SLURM_*", b"SECRET_TOKEN"));
        assert!(!glob_match(b"A", b""));
    }

    #[test]
    fn glob_is_not_exponential() {
        let pattern = "*A".repeat(30) + "B";
        let text = "A".repeat(200);
        let t = Instant::now();
        assert!(!glob_match(pattern.as_bytes(), text.as_bytes()));
        assert!(t.elapsed() < Duration::from_secs(1));
    }

    #[test]
    fn only_scheduler_and_mpi_values_are_recorded() {
        let passed = vec![
            ("AWS_SECRET_ACCESS_KEY".to_owned(), "s3cr3t".to_owned()),
            ("SLURM_JOB_ID".to_owned(), "42".to_owned()),
            ("SLURM_JWT".to_owned(), "eyJ…".to_owned()),
            ("PMIX_RANK".to_owned(), "1".to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
        ];
        let rec = to_record(&passed);
        let shown: Vec<(&str, Option<&str>)> = rec
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_deref()))
            .collect();
        assert_eq!(
            shown,
            [
                ("AWS_SECRET_ACCESS_KEY", None),
                ("SLURM_JOB_ID", Some("42")),
                ("SLURM_JWT", None),
                ("PMIX_RANK", Some("1")),
                ("HOME", None),
            ]
        );
    }
}
