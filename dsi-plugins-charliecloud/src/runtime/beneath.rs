//! Resolving a relative path beneath a directory without ever following a
//! symlink out of it: the component-by-component walk that BIND sources and
//! declared outputs go through.
//!
//! Each component is looked up with `lstat`; a symlink's target is spliced
//! in and resolved the same way, relative to the link's directory. A target
//! that is absolute, or a `..` that would climb above the root, is an
//! escape, reported rather than clamped: the path names something outside
//! the directory, which dsi must neither bind nor read. (Materialising a
//! commit already refuses such links; the container can create new ones in
//! directories it writes to, which is why outputs are resolved this way
//! after the run.)

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// Why a path could not be resolved beneath its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Beneath {
    /// It resolves to this path, inside the root (it may not exist: the
    /// last component, or a later one, was not found).
    Inside(PathBuf),
    /// A symlink on the way leads out of the root.
    Escapes {
        /// The link, relative to the root.
        link: PathBuf,
        /// Its target.
        target: PathBuf,
    },
    /// More than 40 links, or the path itself is absolute or climbs out.
    Invalid(&'static str),
}

fn push_components(todo: &mut VecDeque<OsString>, p: &Path) {
    for c in p.components().rev() {
        match c {
            Component::Normal(n) => todo.push_front(n.to_owned()),
            Component::ParentDir => todo.push_front("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
}

/// Resolves `rel` (relative) beneath `root`.
pub fn resolve_beneath(root: &Path, rel: &Path) -> Beneath {
    if rel.is_absolute() {
        return Beneath::Invalid("the path is absolute");
    }
    let mut todo = VecDeque::new();
    push_components(&mut todo, rel);
    let mut here: Vec<OsString> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        if c == ".." {
            if here.pop().is_none() {
                return Beneath::Invalid("'..' climbs out of the directory");
            }
            continue;
        }
        here.push(c);
        let rel_here: PathBuf = here.iter().collect();
        let full = root.join(&rel_here);
        let Ok(meta) = std::fs::symlink_metadata(&full) else {
            // Not there (yet): the rest is resolved lexically.
            let mut rest: PathBuf = rel_here;
            for c in todo {
                if c == ".." {
                    if !rest.pop() {
                        return Beneath::Invalid("'..' climbs out of the directory");
                    }
                } else {
                    rest.push(c);
                }
            }
            return Beneath::Inside(root.join(rest));
        };
        if meta.file_type().is_symlink() {
            links += 1;
            if links > 40 {
                return Beneath::Invalid("more than 40 symlinks");
            }
            let target = std::fs::read_link(&full).unwrap_or_default();
            if target.is_absolute() {
                return Beneath::Escapes {
                    link: here.iter().collect(),
                    target,
                };
            }
            here.pop();
            // `..` in the target is resolved against the link's directory;
            // climbing above the root is an escape.
            let depth = here.len();
            let ups = target
                .components()
                .scan(0i64, |d, c| {
                    match c {
                        Component::ParentDir => *d -= 1,
                        Component::Normal(_) => *d += 1,
                        _ => {}
                    }
                    Some(*d)
                })
                .min()
                .unwrap_or(0);
            if i64::try_from(depth).unwrap_or(i64::MAX) + ups < 0 {
                let mut link: PathBuf = here.iter().collect();
                link.push(full.file_name().unwrap_or_default());
                return Beneath::Escapes { link, target };
            }
            push_components(&mut todo, &target);
        }
    }
    Beneath::Inside(root.join(here.iter().collect::<PathBuf>()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_inside_resolve_and_links_out_are_escapes() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("data/sub")).unwrap();
        symlink("data/sub", r.join("in")).unwrap();
        symlink("/etc", r.join("hostetc")).unwrap();
        symlink("../..", r.join("data/up")).unwrap();
        symlink("loop", r.join("loop")).unwrap();
        assert_eq!(
            resolve_beneath(r, Path::new("in")),
            Beneath::Inside(r.join("data/sub"))
        );
        assert_eq!(
            resolve_beneath(r, Path::new("in/new.txt")),
            Beneath::Inside(r.join("data/sub/new.txt"))
        );
        assert_eq!(
            resolve_beneath(r, Path::new("hostetc/shadow")),
            Beneath::Escapes {
                link: "hostetc".into(),
                target: "/etc".into()
            }
        );
        assert!(matches!(
            resolve_beneath(r, Path::new("data/up/x")),
            Beneath::Escapes { .. }
        ));
        assert_eq!(
            resolve_beneath(r, Path::new("loop")),
            Beneath::Invalid("more than 40 symlinks")
        );
        assert_eq!(
            resolve_beneath(r, Path::new("../x")),
            Beneath::Invalid("'..' climbs out of the directory")
        );
        assert_eq!(
            resolve_beneath(r, Path::new("/etc")),
            Beneath::Invalid("the path is absolute")
        );
    }
}
