//! Finding records by what users type: one kind of reference for every
//! command.
//!
//! A reference is a unique prefix of a run id *or* of a commit (at least 4
//! hexadecimal digits). A run id names that row; a commit names its newest
//! record, or its newest replay where that is what the command needs
//! ([`Want`]). When a prefix matches both a run id and a commit, or several
//! of either, the error lists the candidates. Run ids compare
//! case-insensitively (they are upper case), commits too (lower case).

use dsi_core::{Driver, Error, Result, Stores, TableQuery};

use crate::records::{Function, RunRecord, query};

/// Which row a commit reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    /// The commit's newest record (consumer), else its newest replay.
    Record,
    /// The commit's newest replay (producer), else its newest record.
    Replay,
}

/// A record found in a store.
#[derive(Debug)]
pub struct FoundRecord<'a> {
    /// The record.
    pub record: RunRecord,
    /// The store that holds it (and, usually, its repository).
    pub store: &'a dyn Driver,
}

/// Most candidates an ambiguity lists.
const CANDIDATES: u64 = 5;

fn looks_like_commit(s: &str) -> bool {
    s.len() >= 4 && s.len() <= 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The record with this exact run id.
pub fn by_id<'a>(stores: Stores<'a>, id: &str) -> Result<FoundRecord<'a>> {
    let found = stores.unique(&query::by_id(id), query::KEY, id, "run")?;
    Ok(FoundRecord {
        record: RunRecord::from_row(&found.row, 0)?,
        store: found.store,
    })
}

/// Resolves a reference (see the module documentation).
pub fn reference<'a>(stores: Stores<'a>, reference: &str, want: Want) -> Result<FoundRecord<'a>> {
    let given = reference.trim();
    if given.is_empty() || !given.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::InvalidData(format!(
            "'{}' is not a run id or a commit (letters and digits: a run id, a commit hash, or a prefix of either)",
            dsi_core::text::for_terminal(given)
        )));
    }
    // Candidates by their key columns only: a stored row may be large.
    let ids = stores.rows(
        &query::by_id_prefix(given)
            .limit(CANDIDATES)
            .select(query::KEY_COLUMNS.iter().copied()),
        query::KEY,
    )?;
    let ids: Vec<RunRecord> = match &ids {
        Some(t) => RunRecord::from_table(t)?,
        None => Vec::new(),
    };
    let commits = if looks_like_commit(given) {
        commit_candidates(stores, given)?
    } else {
        Vec::new()
    };
    match (ids.as_slice(), commits.as_slice()) {
        ([], []) => Err(not_found(stores, given)),
        ([_], []) => by_id(stores, &ids[0].run_id),
        ([], [commit]) => newest_of_commit(stores, commit, want),
        _ => Err(Error::Ambiguous {
            kind: "run or commit",
            key: given.to_owned(),
            candidates: ids
                .iter()
                .map(|r| format!("run {}", r.run_id))
                .chain(commits.iter().map(|c| format!("commit {c}")))
                .collect(),
        }),
    }
}

/// The distinct commits starting with `prefix` (at most [`CANDIDATES`]).
fn commit_candidates(stores: Stores<'_>, prefix: &str) -> Result<Vec<String>> {
    let mut out: Vec<String> = Vec::new();
    let q = query::by_commit_prefix(prefix, None)
        .limit(64)
        .select(query::KEY_COLUMNS.iter().copied());
    if let Some(t) = stores.rows(&q, query::KEY)? {
        for r in RunRecord::from_table(&t)? {
            if let Some(c) = r.commit
                && !out.contains(&c)
            {
                out.push(c);
                if out.len() as u64 >= CANDIDATES {
                    break;
                }
            }
        }
    }
    Ok(out)
}

fn newest<'a>(stores: Stores<'a>, q: &TableQuery) -> Result<Option<FoundRecord<'a>>> {
    Ok(match stores.first(q, query::KEY)? {
        Some(f) => Some(FoundRecord {
            record: RunRecord::from_row(&f.row, 0)?,
            store: f.store,
        }),
        None => None,
    })
}

/// The newest row of a full commit hash, preferring `want`'s function.
pub fn newest_of_commit<'a>(
    stores: Stores<'a>,
    commit: &str,
    want: Want,
) -> Result<FoundRecord<'a>> {
    let (first, second) = match want {
        Want::Record => (Function::Consumer, Function::Producer),
        Want::Replay => (Function::Producer, Function::Consumer),
    };
    for f in [first, second] {
        if let Some(found) = newest(stores, &query::by_commit_prefix(commit, Some(f)))? {
            return Ok(found);
        }
    }
    Err(not_found(stores, commit))
}

fn not_found(stores: Stores<'_>, key: &str) -> Error {
    let empty = stores.count(&query::all(), query::KEY).unwrap_or(0) == 0;
    let key = dsi_core::text::for_terminal(key).into_owned();
    if empty {
        Error::not_found_in("run or commit", key, "the store (no runs recorded yet)")
    } else {
        Error::not_found("run or commit", key)
    }
}

/// The record a replay came from, if any and in a store.
pub fn parent<'a>(stores: Stores<'a>, replay: &RunRecord) -> Result<Option<FoundRecord<'a>>> {
    match replay
        .parent_run_id
        .as_deref()
        .filter(|_| replay.is_replay())
    {
        Some(id) => match by_id(stores, id) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.is_not_found("run") => Ok(None),
            Err(e) => Err(e),
        },
        None => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dsi_core::memory::MemoryDriver;
    use dsi_core::{Collection, Driver};

    fn put(d: &dyn Driver, r: &RunRecord) {
        d.put(&Collection::of(r.to_table().unwrap())).unwrap();
    }

    fn rec(function: Function, commit: &str) -> RunRecord {
        let mut r = RunRecord::new(function);
        r.commit = Some(commit.into());
        r
    }

    #[test]
    fn run_ids_and_commits_are_one_kind_of_reference() {
        let d = MemoryDriver::new();
        let a = rec(Function::Consumer, "abcd1111");
        std::thread::sleep(std::time::Duration::from_millis(2));
        let a_replay = rec(Function::Producer, "abcd1111");
        let b = rec(Function::Consumer, "abce2222");
        for r in [&a, &a_replay, &b] {
            put(&d, r);
        }
        let backends: Vec<Box<dyn Driver>> = vec![Box::new(d)];
        let s = Stores::new(&backends);
        assert_eq!(
            reference(s, "abcd", Want::Record).unwrap().record.run_id,
            a.run_id
        );
        assert_eq!(
            reference(s, "ABCD", Want::Replay).unwrap().record.run_id,
            a_replay.run_id
        );
        let id = &b.run_id;
        assert_eq!(
            reference(s, &id.to_lowercase(), Want::Record)
                .unwrap()
                .record
                .run_id,
            *id
        );
        let e = reference(s, "abc", Want::Record).unwrap_err();
        assert!(e.is_not_found("run or commit"), "{e}");
        let e = reference(s, "abc1", Want::Record).unwrap_err();
        assert!(e.is_not_found("run or commit"), "{e}");
        let e = reference(s, "abcd111", Want::Record).map(|_| ());
        assert!(e.is_ok());
        let e = reference(s, "ab", Want::Record).unwrap_err();
        assert!(e.is_not_found("run or commit"), "{e}");
        // "abc" is too short for a commit; "abc" + one more digit is two commits.
        let e = reference(s, "abcd", Want::Record).map(|_| ());
        assert!(e.is_ok());
        let e = reference(s, "a\u{1b}[2J", Want::Record)
            .unwrap_err()
            .to_string();
        assert!(e.contains("\\u{1b}"), "{e}");
    }

    #[test]
    fn a_prefix_of_two_commits_is_ambiguous() {
        let d = MemoryDriver::new();
        put(&d, &rec(Function::Consumer, "beef0001"));
        put(&d, &rec(Function::Consumer, "beef0002"));
        let backends: Vec<Box<dyn Driver>> = vec![Box::new(d)];
        let e = reference(Stores::new(&backends), "beef", Want::Record).unwrap_err();
        let Error::Ambiguous { candidates, .. } = &e else {
            panic!("{e}")
        };
        assert_eq!(candidates.len(), 2, "{e}");
    }
}
