//! Mapping of steps to `ch-run` command lines (RUNFILE.md §7.1, §7.3;
//! RUNFILE-1.1 §4.1: the launcher prefix, `--join`, `--mount` for SquashFS
//! path images, no `--storage` for path images).

use std::path::PathBuf;

use super::image_ref::ImageRef;
use super::model::{EnvOp, Runfile, Step};

/// Where and how the `ch-run` argv of a step is generated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArgvContext {
    /// The context directory (the directory holding the Runfile); relative
    /// `BIND` sources resolve against it.
    pub context_dir: PathBuf,
    /// If set, `--storage=DIR` is inserted as the first option (a Producer
    /// choice, recorded but not part of the Runfile).
    pub storage: Option<PathBuf>,
    /// The program, `argv[0]` (default `ch-run`); after a launcher prefix.
    pub program: String,
    /// The empty mount directory `M` of `--mount=M` for a SquashFS path
    /// image, created and recorded by the Producer; without one the argv
    /// has the placeholder `--mount=<mount>` (the static report).
    pub mount: Option<PathBuf>,
    /// What a path image is, once known (the Producer looks at the file).
    /// Without it, a path image with `@sha256:` is SquashFS (that pin needs a
    /// regular file, E412, with the `hsqs` magic, E414) and a `--tree=D P`
    /// image alone is taken to be a directory (no `--mount`).
    pub image_kind: Option<PathImageKind>,
    /// The image argument `N` of a path image as resolved by the Producer
    /// (realpath, §1.1-3). Without it, `N` is the path as written, made
    /// absolute against the context directory.
    pub image_path: Option<PathBuf>,
}

/// What a path image names (RUNFILE-1.1 §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum PathImageKind {
    /// A SquashFS file: `ch-run` needs `--mount=M`.
    SquashFs,
    /// An image directory.
    Directory,
}

impl PathImageKind {
    /// `squashfs` or `directory`, as records name it.
    pub fn name(self) -> &'static str {
        match self {
            PathImageKind::SquashFs => "squashfs",
            PathImageKind::Directory => "directory",
        }
    }
}

/// The placeholder for `M` in `--mount=M` when the context names none.
pub const MOUNT_PLACEHOLDER: &str = "<mount>";

impl ArgvContext {
    /// A context for `context_dir`, without `--storage`, running `ch-run`.
    pub fn new(context_dir: impl Into<PathBuf>) -> Self {
        ArgvContext {
            context_dir: context_dir.into(),
            storage: None,
            program: "ch-run".to_owned(),
            mount: None,
            image_kind: None,
            image_path: None,
        }
    }

    /// Insert `--storage=DIR` as the first option (storage images only).
    #[must_use]
    pub fn with_storage(mut self, dir: impl Into<PathBuf>) -> Self {
        self.storage = Some(dir.into());
        self
    }

    /// Use another program name or path instead of `ch-run`.
    #[must_use]
    pub fn with_program(mut self, program: impl Into<String>) -> Self {
        self.program = program.into();
        self
    }

    /// The mount directory `M` of `--mount=M` for a SquashFS path image.
    #[must_use]
    pub fn with_mount(mut self, mount: impl Into<PathBuf>) -> Self {
        self.mount = Some(mount.into());
        self
    }

    /// Say what the path image is (SquashFS file or directory).
    #[must_use]
    pub fn with_image_kind(mut self, kind: PathImageKind) -> Self {
        self.image_kind = Some(kind);
        self
    }

    /// The resolved image argument `N` of a path image.
    #[must_use]
    pub fn with_image_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.image_path = Some(path.into());
        self
    }

    /// Whether `image` is a SquashFS path image in this context.
    pub fn is_squashfs(&self, image: &ImageRef) -> bool {
        image.is_path()
            && self.image_kind.map_or(image.file_digest().is_some(), |k| {
                k == PathImageKind::SquashFs
            })
    }

    /// The image argument `N` given to `ch-run` (§1.1-3): for a path image
    /// the resolved path if known, else the path joined to the context
    /// directory; otherwise [`ImageRef::name`].
    pub fn image_argument(&self, image: &ImageRef) -> String {
        match image {
            ImageRef::Path { path, .. } => match &self.image_path {
                Some(p) => p.to_string_lossy().into_owned(),
                None if path.starts_with('/') => path.clone(),
                None => normpath(&format!("{}/{path}", self.context_dir.to_string_lossy())),
            },
            _ => image.name(),
        }
    }
}

/// Context directory `.`, no storage, `ch-run`.
impl Default for ArgvContext {
    fn default() -> Self {
        ArgvContext::new(".")
    }
}

/// Normalise a path textually like Python's `os.path.normpath`: drop empty
/// and `.` components, resolve `..` against the preceding component (at the
/// root it is dropped), `""` becomes `.`. Unlike Python, a leading `//` is
/// not preserved.
pub(crate) fn normpath(p: &str) -> String {
    let absolute = p.starts_with('/');
    let mut out: Vec<&str> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => match out.last() {
                Some(&last) if last != ".." => {
                    out.pop();
                }
                _ if absolute => {}
                _ => out.push(".."),
            },
            c => out.push(c),
        }
    }
    let joined = out.join("/");
    match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    }
}

impl Step {
    /// The full argv of this step (§7.1, §1.1-4.1): the launcher `L0 … Ln`
    /// if any, then `ctx.program` (`ch-run`) and its options; `image` is the
    /// Runfile's image. Non-UTF-8 context or storage paths are converted
    /// lossily.
    pub fn to_ch_run_argv(&self, image: &ImageRef, ctx: &ArgvContext) -> Vec<String> {
        let mut a = Vec::with_capacity(16 + self.argv.len());
        if let Some(l) = &self.launch {
            a.extend(l.argv.iter().cloned());
        }
        a.push(ctx.program.clone());
        if self.launch.as_ref().is_some_and(|l| l.join) {
            a.push("--join".to_owned());
        }
        if !image.is_path()
            && let Some(s) = &ctx.storage
        {
            a.push(format!("--storage={}", s.to_string_lossy()));
        }
        if ctx.is_squashfs(image) {
            a.push(match &ctx.mount {
                Some(m) => format!("--mount={}", m.to_string_lossy()),
                None => format!("--mount={MOUNT_PLACEHOLDER}"),
            });
        }
        a.push("--private-tmp".to_owned());
        if self.passenv.is_empty() {
            a.push("--unset-env=*".to_owned());
        } else {
            a.push(format!("--unset-env=!({})", self.passenv.join("|")));
        }
        a.push("--set-env".to_owned());
        a.push("--env-no-expand".to_owned());
        for op in &self.env_ops {
            a.push(match op {
                // ch-run strips one pair of single quotes (§7.3): always wrap.
                EnvOp::Set { name, value } => format!("--set-env={name}='{value}'"),
                EnvOp::Unset { name } => format!("--unset-env={name}"),
            });
        }
        a.push(format!("--cd={}", self.workdir));
        for b in &self.binds {
            a.push(format!("--bind={}:{}", b.abs_src(&ctx.context_dir), b.dst));
        }
        if let Some(u) = self.uid {
            a.push(format!("--uid={u}"));
        }
        if let Some(g) = self.gid {
            a.push(format!("--gid={g}"));
        }
        a.push(ctx.image_argument(image));
        a.push("--".to_owned());
        a.extend(self.argv.iter().cloned());
        a
    }
}

impl Runfile {
    /// The full `ch-run` argv of step `step` (0-based index into
    /// [`Runfile::steps`]), see [`Step::to_ch_run_argv`].
    ///
    /// # Panics
    ///
    /// If `step >= self.steps().len()`, like slice indexing.
    pub fn to_ch_run_argv(&self, step: usize, ctx: &ArgvContext) -> Vec<String> {
        self.steps[step].to_ch_run_argv(&self.image, ctx)
    }

    /// The argv of every step, in order.
    pub fn ch_run_argvs(&self, ctx: &ArgvContext) -> Vec<Vec<String>> {
        self.steps
            .iter()
            .map(|s| s.to_ch_run_argv(&self.image, ctx))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::normpath;

    #[test]
    fn normpath_is_textual() {
        assert_eq!(normpath("/work/ctx/./data//x/"), "/work/ctx/data/x");
        assert_eq!(normpath("/a/../../b"), "/b");
        assert_eq!(normpath("a/../../b"), "../b");
        assert_eq!(normpath("./"), ".");
        assert_eq!(normpath("//"), "/");
    }
}
