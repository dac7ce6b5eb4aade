//! An image's tree as the container sees it, for the pre-flight checks:
//! an unpacked directory (storage or a directory path image) or a SquashFS
//! file read in-process. Symbolic links resolve inside the image, with its
//! root as `/`: an absolute target, or `..` above the top, never reaches the
//! host.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

use super::squashfs::{EntryKind, SquashFs};

/// The tree of an image.
#[derive(Debug, Clone, Copy)]
pub enum ImageView<'a> {
    /// An unpacked image directory.
    Dir(&'a Path),
    /// A SquashFS image file, opened.
    SquashFs(&'a SquashFs),
}

/// What a path in an image is, its links followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Found {
    /// A directory.
    Dir,
    /// Anything else that exists.
    Other,
}

impl ImageView<'_> {
    /// The entry at `rel` (relative to the image root, clean), without
    /// following a final link.
    fn entry(&self, rel: &Path) -> Option<EntryKind> {
        match self {
            ImageView::Dir(root) => {
                let p = root.join(rel);
                let meta = std::fs::symlink_metadata(&p).ok()?;
                let ft = meta.file_type();
                Some(if ft.is_symlink() {
                    EntryKind::Symlink(std::fs::read_link(&p).ok()?)
                } else if ft.is_dir() {
                    EntryKind::Dir
                } else {
                    EntryKind::Other
                })
            }
            ImageView::SquashFs(fs) => {
                if rel.as_os_str().is_empty() {
                    return Some(EntryKind::Dir);
                }
                fs.entry(rel)
            }
        }
    }

    /// Looks the absolute image path `path` up, following links inside the
    /// image. `None` if it does not exist or more than 40 links are met.
    pub fn lookup(&self, path: &str) -> Option<Found> {
        let mut todo: VecDeque<OsString> = VecDeque::new();
        let push_front = |todo: &mut VecDeque<OsString>, p: &Path| {
            for c in p.components().rev() {
                match c {
                    Component::Normal(n) => todo.push_front(n.to_owned()),
                    Component::ParentDir => todo.push_front("..".into()),
                    Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
                }
            }
        };
        push_front(&mut todo, Path::new(path));
        let mut here = PathBuf::new();
        let mut links = 0;
        while let Some(c) = todo.pop_front() {
            if c == ".." {
                here.pop();
                continue;
            }
            let next = here.join(&c);
            match self.entry(&next)? {
                EntryKind::Symlink(target) => {
                    links += 1;
                    if links > 40 {
                        return None;
                    }
                    if target.is_absolute() {
                        here = PathBuf::new();
                    }
                    push_front(&mut todo, &target);
                }
                EntryKind::Dir => here = next,
                EntryKind::Other if todo.is_empty() => return Some(Found::Other),
                // A file is not a directory to go on through.
                EntryKind::Other => return None,
            }
        }
        match self.entry(&here)? {
            EntryKind::Dir => Some(Found::Dir),
            _ => Some(Found::Other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_resolve_inside_the_image() {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("usr/share")).unwrap();
        std::fs::write(r.join("usr/share/f"), "x").unwrap();
        // Absolute and escaping links resolve inside the image, not on the host.
        std::os::unix::fs::symlink("/usr/share", r.join("abs")).unwrap();
        std::os::unix::fs::symlink("../../../../usr", r.join("up")).unwrap();
        std::os::unix::fs::symlink("/etc", r.join("hostetc")).unwrap();
        std::os::unix::fs::symlink("loop", r.join("loop")).unwrap();
        std::os::unix::fs::symlink("usr/share/f", r.join("tofile")).unwrap();
        let v = ImageView::Dir(r);
        assert_eq!(v.lookup("/abs"), Some(Found::Dir));
        assert_eq!(v.lookup("/abs/f"), Some(Found::Other));
        assert_eq!(v.lookup("/tofile"), Some(Found::Other));
        assert_eq!(v.lookup("/tofile/x"), None);
        assert_eq!(v.lookup("/up/share/f"), Some(Found::Other));
        assert_eq!(v.lookup("/usr/../usr/share"), Some(Found::Dir));
        assert_eq!(v.lookup("/hostetc"), None);
        assert_eq!(v.lookup("/loop"), None);
        assert_eq!(v.lookup("/nonexistent"), None);
        assert_eq!(v.lookup("/"), Some(Found::Dir));
    }
}
