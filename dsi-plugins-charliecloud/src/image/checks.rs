//! The checks V1–V5 of RUNFILE.md §8.2, done natively: SHA-256 of the stored
//! manifest, config and layers, the build-cache State ID and worktree status
//! through `git`, and the `rftree1` tree digest. V0 (presence) is the
//! caller's.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use md5::{Digest as _, Md5};
use sha2::Sha256;

use super::Storage;
use super::py_json::dumps_sorted;
use super::tree::rftree;
use crate::runfile::ImageRef;

/// Charliecloud's root State ID (`build_cache.py`: `Enabled_Cache.root_id`).
const ROOT_STATE_ID: [u8; 16] = [
    0x4A, 0x6F, 0x73, 0xC3, 0xA9, 0x20, 0x43, 0x61, 0x70, 0x61, 0x62, 0x6C, 0x61, 0x6E, 0x63, 0x61,
];

/// Why verification did not pass.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum CheckFailure {
    /// Evidence is missing (a purged download cache); names the file.
    Missing(PathBuf),
    /// Evidence contradicts the pin: `E403` (digest) or `E404` (tree).
    /// `in_image` when the bad evidence is in the image directory (V2, V4,
    /// V5), which the build cache can restore; else it is in the download
    /// cache (V1, V3), which only a fresh download replaces.
    Mismatch {
        code: &'static str,
        message: String,
        in_image: bool,
    },
}

/// What the checks established.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Evidence {
    pub(crate) manifest_digest: Option<String>,
    pub(crate) config_digest: Option<String>,
    pub(crate) tree_digest: Option<String>,
    pub(crate) checks: Vec<&'static str>,
    /// Set when V4 was impossible (no build cache): warning W401.
    pub(crate) no_build_cache: bool,
}

fn sha256_file(path: &Path) -> Result<String, CheckFailure> {
    let mut f = fs::File::open(path).map_err(|_| CheckFailure::Missing(path.to_path_buf()))?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|_| CheckFailure::Missing(path.to_path_buf()))?;
    Ok(format!("sha256:{}", hex::encode(h.finalize())))
}

fn read_json(path: &Path) -> Result<serde_json::Value, CheckFailure> {
    let bytes = fs::read(path).map_err(|_| CheckFailure::Missing(path.to_path_buf()))?;
    serde_json::from_slice(&bytes).map_err(|e| CheckFailure::Mismatch {
        code: "E403",
        message: format!("{} is not valid JSON: {e}", path.display()),
        in_image: false,
    })
}

fn digest_mismatch(what: &str, name: &str, want: &str, have: &str, in_image: bool) -> CheckFailure {
    CheckFailure::Mismatch {
        code: "E403",
        message: format!("{what} digest mismatch for {name}: pinned {want}, found {have}"),
        in_image,
    }
}

/// The registry architecture of this host, as ch-image names it
/// (`charliecloud.py` `ARCH_MAP`): `(architecture, variant)`.
pub(crate) fn host_platform() -> (&'static str, Option<&'static str>) {
    match std::env::consts::ARCH {
        "x86_64" => ("amd64", None),
        "aarch64" => ("arm64", Some("v8")),
        "arm" => ("arm", Some("v7")),
        "x86" => ("386", None),
        "powerpc64" => ("ppc64le", None),
        "s390x" => ("s390x", None),
        "mips64" => ("mips64le", None),
        other => (other, None),
    }
}

/// Verifies an image in storage against its pin. `full` adds V3 (layers).
pub(crate) fn verify(
    storage: &Storage,
    image: &ImageRef,
    full: bool,
) -> Result<Evidence, CheckFailure> {
    let name = image.name();
    let f = image.for_path();
    let dir = storage.img_dir(&f);
    let mut ev = Evidence::default();
    ev.checks.push("V0");
    let Some(pinned) = image.digest() else {
        // Local form: V5 is the only check.
        verify_tree(&dir, &name, image.tree().unwrap_or_default(), &mut ev)?;
        return Ok(ev);
    };

    // V1: the requested manifest (or index) as served.
    let fat_path = storage.dlcache().join(format!("{f}.fat.json"));
    let have = sha256_file(&fat_path)?;
    if have != pinned {
        return Err(digest_mismatch("manifest", &name, pinned, &have, false));
    }
    let fat = read_json(&fat_path)?;
    let (manifest_path, manifest_digest) =
        if let Some(list) = fat.get("manifests").and_then(|m| m.as_array()) {
            let (arch, variant) = host_platform();
            let entry = list.iter().find(|m| {
                let p = &m["platform"];
                p["os"] == "linux"
                    && p["architecture"] == arch // not a runs column
                    && p.get("variant")
                        .and_then(|v| v.as_str())
                        .is_none_or(|v| Some(v) == variant)
            });
            let digest =
                entry
                    .and_then(|e| e["digest"].as_str())
                    .ok_or_else(|| CheckFailure::Mismatch {
                        code: "E403",
                        message: format!("index {name} has no linux/{arch} manifest"),
                        in_image: false,
                    })?;
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
            (
                storage.dlcache().join(format!("{f}%{hex}.manifest.json")),
                digest.to_owned(),
            )
        } else {
            (
                storage.dlcache().join(format!("{f}%skinny.manifest.json")),
                pinned.to_owned(),
            )
        };
    // Also for a plain manifest: the copy ch-image unpacked from must be the
    // bytes that were pinned (stricter than §8.2, which checks only F.fat.json).
    let have = sha256_file(&manifest_path)?;
    if have != manifest_digest {
        return Err(digest_mismatch(
            "image manifest",
            &name,
            &manifest_digest,
            &have,
            false,
        ));
    }
    let manifest = read_json(&manifest_path)?;
    ev.manifest_digest = Some(manifest_digest);
    ev.checks.push("V1");

    // V2: the config copy inside the image.
    let config_digest =
        manifest["config"]["digest"]
            .as_str()
            .ok_or_else(|| CheckFailure::Mismatch {
                code: "E403",
                message: format!("manifest of {name} has no config digest"),
                in_image: false,
            })?;
    let config_path = dir.join("ch/config.pulled.json");
    let have = match sha256_file(&config_path) {
        Ok(h) => h,
        // The file lives inside the image: if it is gone, the image was modified.
        Err(CheckFailure::Missing(_)) => "nothing (ch/config.pulled.json is missing)".to_owned(),
        Err(e) => return Err(e),
    };
    if have != config_digest {
        return Err(digest_mismatch("config", &name, config_digest, &have, true));
    }
    ev.config_digest = Some(config_digest.to_owned());
    ev.checks.push("V2");

    // V3: layers (full level only).
    if full {
        for layer in manifest["layers"].as_array().into_iter().flatten() {
            let Some(digest) = layer["digest"].as_str() else {
                continue;
            };
            let hex = digest.strip_prefix("sha256:").unwrap_or(digest);
            let have = sha256_file(&storage.dlcache().join(format!("{hex}.tar.gz")))?;
            if have != digest {
                return Err(digest_mismatch("layer", &name, digest, &have, false));
            }
        }
        ev.checks.push("V3");
    }

    match image.tree() {
        Some(tree) => verify_tree(&dir, &name, tree, &mut ev)?,
        None => verify_unmodified(&dir, &name, &manifest, &mut ev)?,
    }
    Ok(ev)
}

/// V5: the tree digest.
fn verify_tree(
    dir: &Path,
    name: &str,
    pinned: &str,
    ev: &mut Evidence,
) -> Result<(), CheckFailure> {
    let have = rftree(dir).map_err(|e| CheckFailure::Mismatch {
        code: "E404",
        message: format!("cannot compute the tree digest of {name}: {e}"),
        in_image: true,
    })?;
    if have != pinned {
        return Err(CheckFailure::Mismatch {
            code: "E404",
            message: format!("tree digest mismatch for {name}: pinned {pinned}, found {have}"),
            in_image: true,
        });
    }
    ev.tree_digest = Some(have);
    ev.checks.push("V5");
    Ok(())
}

/// Charliecloud's text form of a State ID: `XXXX:XXXX:XXXXXXXX:XXXXXXXX:XXXXXXXX`.
pub(crate) fn state_id_text(id: &[u8; 16]) -> String {
    let s = hex::encode_upper(id);
    format!(
        "{}:{}:{}:{}:{}",
        &s[0..4],
        &s[4..8],
        &s[8..16],
        &s[16..24],
        &s[24..32]
    )
}

/// The State ID of an image pulled with this manifest.
pub(crate) fn pull_state_id(manifest: &serde_json::Value) -> [u8; 16] {
    let mut h = Md5::new();
    h.update(ROOT_STATE_ID);
    h.update(dumps_sorted(manifest).as_bytes());
    h.finalize().into()
}

/// The last 32 hex digits of a commit message, as `State_ID.from_text` reads it.
fn state_id_from_text(text: &str) -> Option<String> {
    let hex: String = text.chars().filter(char::is_ascii_hexdigit).collect();
    (hex.len() >= 32).then(|| hex[hex.len() - 32..].to_ascii_uppercase())
}

/// Runs `git` on the image's work tree (never through a shell), with nothing
/// inherited that could point it elsewhere and without taking the optional
/// index lock, so checking never writes to the image's repository.
fn git(dir: &Path, args: &[&str]) -> Result<Vec<u8>, String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["--no-optional-locks", "-c", "core.fsmonitor=false"])
        .args(args)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        .env_remove("GIT_COMMON_DIR")
        .env_remove("GIT_OBJECT_DIRECTORY")
        .env_remove("GIT_ALTERNATE_OBJECT_DIRECTORIES")
        .env_remove("GIT_NAMESPACE")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if out.status.success() {
        Ok(out.stdout)
    } else {
        Err(format!(
            "git {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

/// V4: the image is a clean build-cache worktree whose HEAD carries the
/// State ID of this manifest. Without a build cache: W401, not a failure.
///
/// The State ID comes from HEAD's message through git2. The status needs the
/// `git` program: ch-image writes a split index, which libgit2 cannot read.
/// ch-image also sets `core.trustctime=false` and restores modification times,
/// so a plain `git status` can take a same-size edit for clean; with
/// `core.trustctime=true` a changed inode time makes git compare contents
/// (user space cannot set ctime), while unchanged files cost one `stat`.
/// Staged changes (an index rewritten to match an edit) show as well.
fn verify_unmodified(
    dir: &Path,
    name: &str,
    manifest: &serde_json::Value,
    ev: &mut Evidence,
) -> Result<(), CheckFailure> {
    if fs::symlink_metadata(dir.join(".git")).is_err() {
        ev.no_build_cache = true;
        return Ok(());
    }
    let modified = |what: String| CheckFailure::Mismatch {
        code: "E404",
        message: format!("image {name} modified since pull: {what}"),
        in_image: true,
    };
    let repo = git2::Repository::open(dir)
        .map_err(|e| modified(format!("no build-cache repository: {}", e.message())))?;
    let head = repo
        .head()
        .and_then(|h| h.peel_to_commit())
        .map_err(|e| modified(format!("no build-cache commit: {}", e.message())))?;
    let message = String::from_utf8_lossy(head.message_bytes()).into_owned();
    let want = hex::encode_upper(pull_state_id(manifest));
    if state_id_from_text(&message).as_deref() != Some(want.as_str()) {
        return Err(modified(format!(
            "build-cache State ID is not {} (the State ID of the pinned manifest)",
            state_id_text(&pull_state_id(manifest))
        )));
    }
    let status = git(
        dir,
        &[
            "-c",
            "core.trustctime=true",
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--ignore-submodules=all",
        ],
    )
    .map_err(|e| modified(format!("cannot read its status: {e}")))?;
    if let Some(first) = status.split(|b| *b == 0).find(|e| !e.is_empty()) {
        return Err(modified(String::from_utf8_lossy(first).into_owned()));
    }
    // git compares inode times in whole seconds: an edit in the same second as
    // the index entry was written looks clean. Files changed at or after the
    // index (less a margin) are compared with HEAD by content.
    let tree = head
        .tree()
        .map_err(|e| modified(format!("no build-cache tree: {}", e.message())))?;
    let since = fs::metadata(repo.path().join("index"))
        .map(|m| m.ctime() - 2)
        .unwrap_or(i64::MIN);
    if let Some(path) = recently_changed_and_different(dir, &tree, since)
        .map_err(|e| modified(format!("cannot read its files: {e}")))?
    {
        return Err(modified(path));
    }
    ev.checks.push("V4");
    Ok(())
}

/// The first file or link under `root`, changed (inode time) at or after
/// `since` (seconds), whose content or executable bit differs from `tree`.
/// Paths git does not track (its metadata, ignored files) are skipped.
fn recently_changed_and_different(
    root: &Path,
    tree: &git2::Tree<'_>,
    since: i64,
) -> std::io::Result<Option<String>> {
    let mut stack = vec![PathBuf::new()];
    while let Some(rel_dir) = stack.pop() {
        for entry in fs::read_dir(root.join(&rel_dir))? {
            let entry = entry?;
            let rel = rel_dir.join(entry.file_name());
            if rel_dir.as_os_str().is_empty()
                && entry.file_name().to_string_lossy().starts_with(".git")
            {
                continue;
            }
            let meta = fs::symlink_metadata(entry.path())?;
            if meta.is_dir() {
                stack.push(rel);
                continue;
            }
            if meta.ctime() < since {
                continue;
            }
            let Ok(tracked) = tree.get_path(&rel) else {
                continue; // untracked files are git status's business
            };
            let content = if meta.file_type().is_symlink() {
                let target = fs::read_link(entry.path())?;
                git2::Oid::hash_object(
                    git2::ObjectType::Blob,
                    target.as_os_str().as_encoded_bytes(),
                )
            } else {
                git2::Oid::hash_file(git2::ObjectType::Blob, entry.path())
            }
            .map_err(|e| std::io::Error::other(e.message().to_owned()))?;
            let exec_in_tree = tracked.filemode() == 0o100_755;
            let exec_now = meta.is_file() && meta.permissions().mode() & 0o111 != 0;
            if content != tracked.id() || (meta.is_file() && exec_in_tree != exec_now) {
                return Ok(Some(format!("{} (changed content)", rel.display())));
            }
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_id_text_has_charliecloud_grouping() {
        assert_eq!(
            state_id_text(&ROOT_STATE_ID),
            "4A6F:73C3:A9204361:7061626C:616E6361"
        );
        assert_eq!(
            state_id_from_text("PULL x\n\n4A6F:73C3:A9204361:7061626C:616E6361\n").as_deref(),
            Some("4A6F73C3A92043617061626C616E6361")
        );
        assert_eq!(state_id_from_text("short 12"), None);
    }

    #[test]
    fn host_platform_is_known_here() {
        let (arch, _) = host_platform();
        assert!(!arch.is_empty());
    }
}
