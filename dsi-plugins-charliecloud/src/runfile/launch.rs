//! `LAUNCH [--join] ["L0", …]` and `LAUNCH []` (RUNFILE-1.1 §4), and the
//! W304 check of the steps that snapshot a launcher.
//!
//! Readings: an option is a word starting with `--` before the array; its
//! name is the part before `=`, and `--join=…` is E372 (`takes no value`).
//! E361 is at the first operand that is neither an option nor `[` (the end
//! of the line after options only); E363 at the first option.

use super::lexer::{LogicalLine, Pos};
use super::model::Step;
use super::operand::{Result, err, json_rest, string_array, word_end};
use super::precedence::{Candidates, Rank};

/// The rank variables a launched MPI program needs; W304 if none passes.
const RANK_VARIABLES: [&str; 4] = [
    "SLURM_PROCID",
    "PMIX_RANK",
    "PMI_RANK",
    "OMPI_COMM_WORLD_RANK",
];

/// Parse the operands of `LAUNCH` from `args`: `Some((join, argv))` for a
/// launcher, `None` for `LAUNCH []`.
pub(crate) fn parse(ll: &LogicalLine, args: usize) -> Result<Option<(bool, Vec<String>)>> {
    let mut c = Candidates::default();
    let n = ll.chars.len();
    let mut i = args;
    let mut first_option: Option<Pos> = None;
    let mut join = false;
    while ll.chars.get(i..i + 2) == Some(&['-', '-']) {
        let end = word_end(ll, i);
        let word = ll.text(i, end);
        let pos = ll.at(i);
        first_option.get_or_insert(pos);
        let (name, value) = match word.split_once('=') {
            Some((name, _)) => (name, true),
            None => (word.as_str(), false),
        };
        if name != "--join" {
            c.add(
                Rank::Unknown,
                err(pos, "E362", format!("unknown LAUNCH option '{name}'")),
            );
        } else if join {
            c.add(
                Rank::Repeated,
                err(pos, "E362", "duplicate LAUNCH option '--join'"),
            );
        } else if value {
            c.add(
                Rank::Value,
                err(pos, "E372", "option '--join' takes no value"),
            );
        } else {
            join = true;
        }
        i = ll.skip_hws(end);
    }
    if i >= n || ll.chars[i] != '[' {
        c.add(
            Rank::Operand,
            err(ll.at(i), "E361", "LAUNCH must use the JSON exec form"),
        );
        return c.finish().map(|()| None);
    }
    let at = ll.at(i);
    let argv = match json_rest(ll, i) {
        Ok(value) => string_array(value),
        Err(d) => {
            c.add(Rank::Operand, d);
            return c.finish().map(|()| None);
        }
    };
    let Some(argv) = argv else {
        c.add(
            Rank::Operand,
            err(
                at,
                "E342",
                "LAUNCH exec form must be a JSON array of strings",
            ),
        );
        return c.finish().map(|()| None);
    };
    match argv.first() {
        None => {
            if let Some(pos) = first_option {
                c.add(
                    Rank::LaunchEmpty,
                    err(pos, "E363", "LAUNCH [] takes no options"),
                );
            }
        }
        Some(l0) if l0.is_empty() => c.add(
            Rank::Operand,
            err(
                at,
                "E343",
                "LAUNCH exec form: the first element must not be empty",
            ),
        ),
        Some(l0) if l0.contains('/') && !l0.starts_with('/') => c.add(
            Rank::Operand,
            err(
                at,
                "E364",
                format!("launcher must be a command name or an absolute path: '{l0}'"),
            ),
        ),
        Some(_) => {}
    }
    c.finish()?;
    Ok((!argv.is_empty()).then_some((join, argv)))
}

/// fnmatch(3) without flags for the PASSENV alphabet: `*` matches any run,
/// `?` one character, everything else itself.
fn fnmatch(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, s));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[s] => {
                p += 1;
                s += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    p = sp + 1;
                    s = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Whether a step's PASSENV patterns let at least one rank variable through.
fn passes_a_rank(patterns: &[String]) -> bool {
    patterns.iter().any(|p| {
        RANK_VARIABLES
            .iter()
            .any(|v| fnmatch(p.as_bytes(), v.as_bytes()))
    })
}

/// The positions of the non-empty LAUNCHes that get W304: some step that
/// snapshots the launcher has no PASSENV pattern matching a rank variable.
pub(crate) fn w304_positions(steps: &[Step]) -> Vec<Pos> {
    let mut out: Vec<Pos> = Vec::new();
    for s in steps {
        if let Some(l) = &s.launch
            && !passes_a_rank(&s.passenv)
            && !out.contains(&(l.line, l.col))
        {
            out.push((l.line, l.col));
        }
    }
    out
}

/// The W304 message.
pub(crate) const W304: &str =
    "LAUNCH: no PASSENV pattern matches SLURM_PROCID, PMIX_RANK, PMI_RANK or OMPI_COMM_WORLD_RANK";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnmatch_globs() {
        let m = |p: &str, s: &str| fnmatch(p.as_bytes(), s.as_bytes());
        assert!(m("SLURM_*", "SLURM_PROCID"));
        assert!(m("*", "PMI_RANK"));
        assert!(m("*RANK", "PMIX_RANK") && m("P?I_RANK", "PMI_RANK"));
        assert!(m("*_*_*", "OMPI_COMM_WORLD_RANK"));
        assert!(m("S*M*D", "SLURM_PROCID"));
        assert!(!m("SLURM_*", "PMIX_RANK") && !m("PMI_RANK?", "PMI_RANK"));
        assert!(!m("slurm_*", "SLURM_PROCID"));
        assert!(m("**", "") && !m("?", ""));
    }

    #[test]
    fn rank_variables() {
        let v = |p: &[&str]| p.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert!(!passes_a_rank(&[]));
        assert!(!passes_a_rank(&v(&[
            "SLURM_JOB_*",
            "PMIX_SERVER*",
            "MPI_*"
        ])));
        assert!(passes_a_rank(&v(&["OMPI_*"])));
        assert!(passes_a_rank(&v(&["HOME", "PMIX_*"])));
    }
}
