//! The precedence rule of RUNFILE-1.1 §8.1 (which applies to v1 too):
//! exactly one static error is reported, the one with the smallest key
//! (line, column); at equal keys the earlier check wins.
//!
//! Logical lines are read in order and every key of an instruction lies
//! within its own logical line, so the first instruction with an error holds
//! the answer; the parser stops there. Within one instruction most checks
//! run in position order and stop at the first error; where a check needs
//! the whole instruction (E374, E377, E380, E381, E385) its error is a
//! [`Candidates`] entry with an explicit key, and the minimum wins.
//!
//! The key is the shown position except for:
//!
//! * E121/E122 (the first character of the interrupted instruction: they are
//!   raised before the instruction is parsed, so they always win in it);
//! * E210 for an empty file and E351 (the end of the file, see the parser);
//! * E380 (the end of its logical line unless caused by a second option) and
//!   E381 (the end of its logical line, shown at the first option).

use super::diagnostic::Diagnostic;
use super::lexer::Pos;

/// The tie order of §1.1-8.1 at equal keys: lower ranks win. One scale for
/// the three places where errors can share a key — the keyword, an option
/// and a value; a name or path operand uses the value ranks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Rank {
    // --- At the keyword: E121/E122, E200, E203, E201, E352/E353, E210, E211,
    // E332, E202 are checked in that order before the operands; then:
    /// E385, duplicate OUTPUT target, METRIC name or INPUT path (a reading:
    /// it needs the operand, so it comes after E202).
    Duplicate,
    // --- At an option: E370, E371, E372, E362/E363, E374, E377, E380.
    /// E370 unknown option (and E362 unknown LAUNCH option).
    Unknown,
    /// E371 duplicate option (and E362 duplicate `--join`).
    Repeated,
    /// E372 value required / not allowed.
    Value,
    /// E363 `LAUNCH [] takes no options`.
    LaunchEmpty,
    /// E374 option needs another `--compare`.
    Requires,
    /// E377 `--min` greater than `--max`.
    MinMax,
    /// E381 missing TARGET/NAME, keyed at the end of the line (a reading:
    /// the structure is checked before the required options, E380).
    Missing,
    /// E380 missing or conflicting `--regex`.
    Regex,
    /// E382 misplaced or extra operand (a reading: not in the spec's list;
    /// after the option's own checks).
    Placement,
    // --- At a value: E373, E375, E376, E378, E379, E383, E290, E292 (and
    // the E253–E259 of its spelling, which stop the reading). A value's
    // checks run in this order and stop at the first, so one rank suffices.
    /// Any error at a value or a name/path operand.
    Operand,
}

/// The candidate errors of one instruction.
#[derive(Debug, Default)]
pub(crate) struct Candidates {
    best: Option<(Pos, Rank, Diagnostic)>,
}

impl Candidates {
    /// Add an error keyed at its shown position.
    pub(crate) fn add(&mut self, rank: Rank, d: Diagnostic) {
        let key = (d.line, d.col);
        self.add_keyed(key, rank, d);
    }

    /// Add an error with an explicit key.
    pub(crate) fn add_keyed(&mut self, key: Pos, rank: Rank, d: Diagnostic) {
        let better = match &self.best {
            None => true,
            Some((k, r, _)) => (key, rank) < (*k, *r),
        };
        if better {
            self.best = Some((key, rank, d));
        }
    }

    /// `Err` with the winning error, if any.
    pub(crate) fn finish(self) -> Result<(), Diagnostic> {
        match self.best {
            Some((_, _, d)) => Err(d),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(line: usize, col: usize, code: &'static str) -> Diagnostic {
        Diagnostic::error(line, col, code, "m")
    }

    #[test]
    fn smallest_key_then_rank() {
        let mut c = Candidates::default();
        c.add(Rank::Operand, e(2, 29, "E378"));
        c.add(Rank::Requires, e(2, 8, "E374"));
        c.add(Rank::Unknown, e(2, 20, "E370"));
        assert_eq!(c.finish().unwrap_err().code, "E374");

        let mut c = Candidates::default();
        c.add(Rank::Placement, e(2, 18, "E382"));
        c.add(Rank::Value, e(2, 18, "E372"));
        assert_eq!(c.finish().unwrap_err().code, "E372");

        // E381 is keyed at the end of the line but shown at its first option.
        let mut c = Candidates::default();
        c.add_keyed((2, 30), Rank::Missing, e(2, 8, "E381"));
        c.add(Rank::Operand, e(2, 20, "E384"));
        assert_eq!(c.finish().unwrap_err().code, "E384");
        assert!(Candidates::default().finish().is_ok());
    }
}
