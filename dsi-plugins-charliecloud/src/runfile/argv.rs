//! Mapping of steps to `ch-run` command lines (RUNFILE.md §7.1, §7.3).

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
    /// The program, `argv[0]` (default `ch-run`).
    pub program: String,
}

impl ArgvContext {
    /// A context for `context_dir`, without `--storage`, running `ch-run`.
    pub fn new(context_dir: impl Into<PathBuf>) -> Self {
        ArgvContext {
            context_dir: context_dir.into(),
            storage: None,
            program: "ch-run".to_owned(),
        }
    }

    /// Insert `--storage=DIR` as the first option.
    #[must_use]
    pub fn with_storage(mut self, dir: impl Into<PathBuf>) -> Self {
        self.storage = Some(dir.into());
        self
    }

    /// Use another program name or path as `argv[0]`.
    #[must_use]
    pub fn with_program(mut self, program: impl Into<String>) -> Self {
        self.program = program.into();
        self
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
    /// The full `ch-run` argv of this step (§7.1), starting with
    /// `ctx.program`; `image` is the Runfile's image. Non-UTF-8 context or
    /// storage paths are converted lossily.
    pub fn to_ch_run_argv(&self, image: &ImageRef, ctx: &ArgvContext) -> Vec<String> {
        let mut a = vec![ctx.program.clone()];
        if let Some(s) = &ctx.storage {
            a.push(format!("--storage={}", s.to_string_lossy()));
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
        a.push(image.name());
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
