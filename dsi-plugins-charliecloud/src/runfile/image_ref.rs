//! Image references of `FROM` (RUNFILE.md §4 `image-ref`, §5 FROM; path
//! images of RUNFILE-1.1 §2–§3) and Charliecloud's `for_path` naming (§2).

use std::fmt;

/// The image a Runfile pins (`FROM`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ImageRef {
    /// `HOST/REPO@sha256:HEX64`, optionally with `--tree=`.
    Registry {
        /// Registry host with optional port, e.g. `127.0.0.1:5000`.
        host: String,
        /// Repository path, e.g. `lab/sim`.
        repo: String,
        /// The pinned manifest (or index) digest, `sha256:<hex>`.
        digest: String,
        /// The optional tree pin, `rftree1+sha256:<hex>`.
        tree: Option<String>,
    },
    /// `[HOST/]REPO[:TAG]` already in `ch-image` storage, pinned by `--tree=`.
    Local {
        /// Optional host part of the name.
        host: Option<String>,
        /// Repository path.
        repo: String,
        /// Optional tag.
        tag: Option<String>,
        /// The tree pin, `rftree1+sha256:<hex>` (mandatory for this form).
        tree: String,
    },
    /// A SquashFS file or image directory on the host (RUNFILE-1.1 §3):
    /// `P@sha256:H`, `--tree=D P` or both. Never fetched; storage plays no
    /// part.
    Path {
        /// Normalised: absolute (`/…`), or relative to the context directory
        /// and written `./…`; no `.` components, repeated or trailing `/`.
        path: String,
        /// The pinned sha256 of the file's bytes, `sha256:<hex>` (V6); only
        /// a SquashFS file has one.
        file_digest: Option<String>,
        /// The tree pin `rftree1+sha256:<hex>` of the directory or of the
        /// SquashFS file's contents (V5).
        tree: Option<String>,
    },
}

impl ImageRef {
    /// The image name `N` given to `ch-run`/`ch-image` (§2, §8.1), e.g.
    /// `127.0.0.1:5000/rf-base@sha256:14d2…` or `rf-base`. For a path
    /// image, the normalised path as written (`./img/x.sqfs`); `ch-run` gets
    /// it resolved (see `ArgvContext`).
    pub fn name(&self) -> String {
        match self {
            ImageRef::Path { path, .. } => path.clone(),
            ImageRef::Registry {
                host, repo, digest, ..
            } => format!("{host}/{repo}@{digest}"),
            ImageRef::Local {
                host, repo, tag, ..
            } => {
                let mut n = String::new();
                if let Some(h) = host {
                    n.push_str(h);
                    n.push('/');
                }
                n.push_str(repo);
                if let Some(t) = tag {
                    n.push(':');
                    n.push_str(t);
                }
                n
            }
        }
    }

    /// [`for_path`] of [`ImageRef::name`]: the image's directory name under
    /// `S/img/`.
    pub fn for_path(&self) -> String {
        for_path(&self.name())
    }

    /// The tree pin `rftree1+sha256:<hex>`, if any.
    pub fn tree(&self) -> Option<&str> {
        match self {
            ImageRef::Registry { tree, .. } | ImageRef::Path { tree, .. } => tree.as_deref(),
            ImageRef::Local { tree, .. } => Some(tree),
        }
    }

    /// The registry digest `sha256:<hex>` (registry form only; a path
    /// image's file digest is [`ImageRef::file_digest`]).
    pub fn digest(&self) -> Option<&str> {
        match self {
            ImageRef::Registry { digest, .. } => Some(digest),
            ImageRef::Local { .. } | ImageRef::Path { .. } => None,
        }
    }

    /// The pinned sha256 of a path image's file, `sha256:<hex>`.
    pub fn file_digest(&self) -> Option<&str> {
        match self {
            ImageRef::Path { file_digest, .. } => file_digest.as_deref(),
            _ => None,
        }
    }

    /// Whether this is the local form (an image in storage, never fetched).
    pub fn is_local(&self) -> bool {
        matches!(self, ImageRef::Local { .. })
    }

    /// Whether this is a path image (RUNFILE-1.1 §3).
    pub fn is_path(&self) -> bool {
        matches!(self, ImageRef::Path { .. })
    }

    /// The `FROM` line of the canonical form (§6 rule 2, §1.1-3).
    pub(crate) fn canonical_from(&self) -> String {
        let mut out = String::from("FROM ");
        if let Some(t) = self.tree() {
            out.push_str("--tree=");
            out.push_str(t);
            out.push(' ');
        }
        out.push_str(&self.name());
        if let Some(d) = self.file_digest() {
            out.push('@');
            out.push_str(d);
        }
        out
    }
}

/// Displays [`ImageRef::name`].
impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// `name` with `/`→`%` and `:`→`+` (§2): the name of its directory under
/// `S/img/`, of its files under `S/dlcache/` and of its build-cache branch.
///
/// ```
/// use dsi_plugins_charliecloud::runfile::for_path;
/// assert_eq!(for_path("127.0.0.1:5000/rf-base@sha256:14d2"), "127.0.0.1+5000%rf-base@sha256+14d2");
/// ```
pub fn for_path(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            '/' => '%',
            ':' => '+',
            c => c,
        })
        .collect()
}

/// An image-reference error: code and message (positioned by the caller at
/// the reference token).
pub(crate) type RefError = (&'static str, String);

fn is_hex64(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `rftree1+sha256:HEX64`.
pub(crate) fn is_tree_digest(s: &str) -> bool {
    s.strip_prefix("rftree1+sha256:").is_some_and(is_hex64)
}

fn is_dns_label(s: &str) -> bool {
    let b = s.as_bytes();
    let ok = |c: &u8| matches!(c, b'a'..=b'z' | b'0'..=b'9');
    match (b.first(), b.last()) {
        (Some(first), Some(last)) => ok(first) && ok(last) && b.iter().all(|c| ok(c) || *c == b'-'),
        _ => false,
    }
}

/// `('localhost' | dns-name) (':' port)?`, port of 1–5 digits.
fn is_host(s: &str) -> bool {
    let (name, port) = match s.split_once(':') {
        Some((n, p)) => (n, Some(p)),
        None => (s, None),
    };
    let port_ok =
        port.is_none_or(|p| (1..=5).contains(&p.len()) && p.bytes().all(|c| c.is_ascii_digit()));
    port_ok && (name == "localhost" || name.split('.').all(is_dns_label))
}

/// `[a-z0-9]+(('.'|'_'|'__'|'-'+)[a-z0-9]+)*`.
fn is_component(s: &str) -> bool {
    let b = s.as_bytes();
    let alnum = |c: u8| matches!(c, b'a'..=b'z' | b'0'..=b'9');
    if !b.first().is_some_and(|&c| alnum(c)) || !b.last().is_some_and(|&c| alnum(c)) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(b[i]) {
            i += 1;
        }
        let sep = &s[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|c| c == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `[A-Za-z0-9_][A-Za-z0-9_.-]*`, at most 128 characters.
fn is_tag(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() <= 128
        && b.first()
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// A first component is a host iff it contains `.` or `:` or equals
/// `localhost` (and there is more than one component).
fn looks_like_host(s: &str) -> bool {
    s.contains('.') || s.contains(':') || s == "localhost"
}

struct Name {
    host: Option<String>,
    repo: String,
    tag: Option<String>,
}

/// Split `[host/]repo[:tag]` and validate host (E247), components and tag
/// (E248).
fn parse_name(s: &str) -> Result<Name, RefError> {
    let mut comps: Vec<&str> = s.split('/').collect();
    let host = if comps.len() >= 2 && looks_like_host(comps[0]) {
        Some(comps.remove(0))
    } else {
        None
    };
    let mut tag = None;
    if let Some(last) = comps.last_mut()
        && let Some((repo_part, t)) = last.split_once(':')
    {
        *last = repo_part;
        tag = Some(t);
    }
    if let Some(h) = host
        && !is_host(h)
    {
        return Err(("E247", format!("malformed registry host '{h}'")));
    }
    if let Some(bad) = comps.iter().find(|c| !is_component(c)) {
        return Err(("E248", format!("malformed repository component '{bad}'")));
    }
    if let Some(t) = tag
        && !is_tag(t)
    {
        return Err(("E248", format!("malformed tag '{t}'")));
    }
    Ok(Name {
        host: host.map(str::to_owned),
        repo: comps.join("/"),
        tag: tag.map(str::to_owned),
    })
}

/// The parts of an image name as [`ImageRef::name`] writes it, read back
/// by the same rules as `FROM` (for exports that describe an image).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameParts {
    /// The registry host (with port), when the name has one.
    pub host: Option<String>,
    /// The repository path, or a path image's path.
    pub repo: String,
    /// The tag, when the name has one.
    pub tag: Option<String>,
    /// The digest, when the name has one.
    pub digest: Option<String>,
}

/// Reads an image name back into its parts; `None` when it is not one
/// that a `FROM` could have written.
pub fn name_parts(name: &str) -> Option<NameParts> {
    let (rest, digest) = match name.split_once('@') {
        Some((n, d)) => (n, Some(d.to_owned())),
        None => (name, None),
    };
    if rest.starts_with(['/', '.']) {
        return Some(NameParts {
            host: None,
            repo: rest.to_owned(),
            tag: None,
            digest,
        });
    }
    let n = parse_name(rest).ok()?;
    Some(NameParts {
        host: n.host,
        repo: n.repo,
        tag: n.tag,
        digest,
    })
}

/// `sha256:HEX64`, or the error: E243 for another algorithm, else E244.
fn check_digest(digest: &str) -> Result<(), RefError> {
    match digest.split_once(':') {
        Some(("sha256", hex)) if is_hex64(hex) => Ok(()),
        Some((alg, _)) if alg != "sha256" && !alg.is_empty() => Err((
            "E243",
            format!("digest algorithm must be sha256, not '{alg}'"),
        )),
        _ => Err(("E244", format!("malformed digest '{digest}'"))),
    }
}

/// `path-char` of RUNFILE-1.1 §2.
fn is_path_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '+' | ',' | '=' | '%' | '~' | '-')
}

/// A path image (RUNFILE-1.1 §2, §3): the first FROM token starts with `/`
/// or `.`.
///
/// Checks, in order (§1.1-8.1): digest algorithm (E243) and shape (E244),
/// the path (E249: `/` or `./` prefix, characters, names something), `..`
/// (E292), pinned at all (E245).
fn parse_path_image(s: &str, tree: Option<String>) -> Result<ImageRef, RefError> {
    let (p, file_digest) = match s.split_once('@') {
        Some((p, d)) => {
            check_digest(d)?;
            (p, Some(d.to_owned()))
        }
        None => (s, None),
    };
    let absolute = p.starts_with('/');
    if !absolute && !p.starts_with("./") {
        return Err((
            "E249",
            format!("image path must be absolute or start with './': '{p}'"),
        ));
    }
    if let Some(c) = p.chars().find(|&c| !is_path_char(c)) {
        return Err((
            "E249",
            format!("invalid character '{c}' in image path '{p}'"),
        ));
    }
    let comps: Vec<&str> = p
        .split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect();
    if comps.is_empty() {
        return Err(("E249", format!("image path names no file: '{p}'")));
    }
    if comps.contains(&"..") {
        return Err(("E292", format!("'..' not allowed in image path: '{p}'")));
    }
    if file_digest.is_none() && tree.is_none() {
        return Err(("E245", format!("image reference must be pinned: '{s}'")));
    }
    let path = format!("{}{}", if absolute { "/" } else { "./" }, comps.join("/"));
    Ok(ImageRef::Path {
        path,
        file_digest,
        tree,
    })
}

/// What to do about an unpinned reference (E245): the command that prints
/// the pinned `FROM` line — `dsi runfile pin HOST/NAME:TAG` for a registry
/// tag (the digest its registry serves), `dsi runfile pin NAME` for an image
/// in storage (its tree digest) — or, for a path image, the file digest to
/// append.
pub(crate) fn unpinned_hint(reference: &str) -> String {
    if reference.starts_with(['/', '.']) {
        return format!(
            "append the file's digest: FROM {reference}@sha256:HEX (`sha256sum {reference}`), \
             or give a directory's tree digest with --tree"
        );
    }
    let multi = reference.contains('/');
    let has_host = multi && reference.split('/').next().is_some_and(looks_like_host);
    if has_host {
        format!(
            "`dsi runfile pin {reference}` prints the FROM line with the digest its registry serves"
        )
    } else {
        format!(
            "`dsi runfile pin {reference}` prints the FROM line with the tree digest of the image \
             in your storage"
        )
    }
}

/// Parse the reference token of `FROM` given the optional `--tree` value
/// (already validated).
///
/// A token starting with `/` or `.` is a path image (see
/// `parse_path_image`). Otherwise checks, in order: digest algorithm (E243)
/// and shape (E244), tag with a digest (E242), host present (E241), pinned
/// at all (E245), then host (E247) and components/tag (E248).
pub(crate) fn parse_image_ref(s: &str, tree: Option<String>) -> Result<ImageRef, RefError> {
    if s.starts_with(['/', '.']) {
        return parse_path_image(s, tree);
    }
    if let Some((name, digest)) = s.split_once('@') {
        check_digest(digest)?;
        let multi = name.contains('/');
        let last = name.rsplit('/').next().unwrap_or(name);
        if let Some((_, t)) = last.split_once(':') {
            return Err((
                "E242",
                format!("tag ':{t}' not allowed together with a digest"),
            ));
        }
        let has_host = multi && name.split('/').next().is_some_and(looks_like_host);
        if !has_host {
            return Err((
                "E241",
                "registry host required in a digest reference".to_owned(),
            ));
        }
        let n = parse_name(name)?;
        return Ok(ImageRef::Registry {
            host: n.host.unwrap_or_default(),
            repo: n.repo,
            digest: digest.to_owned(),
            tree,
        });
    }
    let Some(tree) = tree else {
        return Err(("E245", format!("image reference must be pinned: '{s}'")));
    };
    let n = parse_name(s)?;
    Ok(ImageRef::Local {
        host: n.host,
        repo: n.repo,
        tag: n.tag,
        tree,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "14d210e7a9e06824ac3ec275952f8e625fd2f4d91e107fa4cab109663d31b155";

    #[test]
    fn registry_and_local() {
        let r = parse_image_ref(&format!("127.0.0.1:5000/rf-base@sha256:{HEX}"), None).expect("ok");
        assert_eq!(r.name(), format!("127.0.0.1:5000/rf-base@sha256:{HEX}"));
        assert_eq!(r.for_path(), format!("127.0.0.1+5000%rf-base@sha256+{HEX}"));
        let l = parse_image_ref("localhost:5000/a/b__c:v1.0", Some("t".into())).expect("ok");
        assert_eq!(l.name(), "localhost:5000/a/b__c:v1.0");
        assert_eq!(l.tree(), Some("t"));
        let p = parse_image_ref(&format!(".//img/./x.sqfs/@sha256:{HEX}"), None).expect("ok");
        assert_eq!(p.name(), "./img/x.sqfs");
        assert_eq!(p.file_digest(), Some(format!("sha256:{HEX}").as_str()));
        assert_eq!(p.digest(), None);
        assert!(p.is_path() && !p.is_local());
        assert_eq!(
            p.canonical_from(),
            format!("FROM ./img/x.sqfs@sha256:{HEX}")
        );
        let p = parse_image_ref("//a//b/", Some("t".into())).expect("ok");
        assert_eq!(p.canonical_from(), "FROM --tree=t /a/b");
    }

    #[test]
    fn errors() {
        let code = |s: &str, tree: Option<&str>| {
            parse_image_ref(s, tree.map(str::to_owned)).unwrap_err().0
        };
        assert_eq!(code(&format!("a/b@sha512:{HEX}"), None), "E243");
        assert_eq!(code("a.b/c@sha256:abc", None), "E244");
        assert_eq!(code(&format!("rf:v1@sha256:{HEX}"), None), "E242");
        assert_eq!(code(&format!("rf/x@sha256:{HEX}"), None), "E241");
        assert_eq!(code(&format!("Reg.io/x@sha256:{HEX}"), None), "E247");
        assert_eq!(code(&format!("reg.io/X@sha256:{HEX}"), None), "E248");
        assert_eq!(code("rf:-bad", Some("t")), "E248");
        assert_eq!(code("a//b", Some("t")), "E248");
        assert_eq!(code("rf:v1", None), "E245");
        assert!(
            unpinned_hint("127.0.0.1:5000/lab/app:v1")
                .contains("dsi runfile pin 127.0.0.1:5000/lab/app:v1")
        );
        assert!(unpinned_hint("rf:v1").contains("tree digest"));
        assert!(unpinned_hint("./img/x.sqfs").contains("sha256sum ./img/x.sqfs"));
        // Path images.
        assert_eq!(code(&format!("/a@sha512:{HEX}"), None), "E243");
        assert_eq!(code("/a@sha256:abc", None), "E244");
        assert_eq!(code(&format!(".a@sha256:{HEX}"), None), "E249");
        assert_eq!(code(&format!("../a@sha256:{HEX}"), None), "E249");
        assert_eq!(code(&format!("/a b@sha256:{HEX}"), None), "E249");
        assert_eq!(code(&format!("/./@sha256:{HEX}"), None), "E249");
        assert_eq!(code(&format!("./a/../b@sha256:{HEX}"), None), "E292");
        assert_eq!(code("./a/..", None), "E292");
        assert_eq!(code("./a", None), "E245");
        assert!(is_component("a-b--c.d_e__f") && !is_component("a___b") && !is_component("a.-b"));
        assert!(
            is_host("localhost")
                && is_host("a-b.c:65535")
                && !is_host("a:123456")
                && !is_host("-a.b")
        );
    }
}
