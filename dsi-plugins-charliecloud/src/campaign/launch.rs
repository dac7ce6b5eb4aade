//! Running a campaign's tasks: as child processes on this machine, `jobs`
//! at a time, or as Slurm job arrays (one array task per campaign task,
//! each running the task command inside its own allocation so that a
//! Runfile's `LAUNCH srun …` steps are steps of that job).
//!
//! A task is the command `PROGRAM ARGS… ID INDEX` ([`TaskCommand`]); dsi
//! passes itself with its store options and `campaign task`.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

use dsi_core::{Driver, Error, Result};

use super::{Campaign, Launcher, SlurmArray, Submission};

/// The most tasks one Slurm array holds (Slurm's default `MaxArraySize`
/// is 1001, so array task ids 0–1000); more tasks are split into arrays.
pub const MAX_ARRAY: u32 = 1000;

/// The command that runs one task: `program args… ID INDEX`.
#[derive(Debug, Clone)]
pub struct TaskCommand {
    /// The program (dsi).
    pub program: PathBuf,
    /// Its arguments before the campaign id and task index.
    pub args: Vec<OsString>,
}

impl TaskCommand {
    fn command(&self, id: &str, index: u32) -> Command {
        let mut c = Command::new(&self.program);
        c.args(&self.args).arg(id).arg(index.to_string());
        c
    }
}

/// How local tasks ended: each index's exit status (`None`: killed by a
/// signal).
#[derive(Debug, Clone, Default)]
pub struct LocalRun {
    /// Exit status per task index.
    pub exits: BTreeMap<u32, Option<i32>>,
}

/// Runs `tasks` of `campaign` as child processes, `jobs` at a time, and
/// waits for them all. Their standard output is discarded (the container's
/// output is in the replay's record); standard error is inherited.
pub fn local(
    campaign: &Campaign,
    tasks: &[u32],
    jobs: u32,
    command: &TaskCommand,
) -> Result<LocalRun> {
    let jobs = usize::try_from(jobs.max(1)).unwrap_or(1);
    let mut pending = tasks.iter().copied();
    let mut running: Vec<(u32, std::process::Child)> = Vec::new();
    let mut out = LocalRun::default();
    loop {
        while running.len() < jobs {
            let Some(i) = pending.next() else { break };
            let child = command
                .command(&campaign.id, i)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .spawn()
                .map_err(|e| Error::io(format!("starting task {i}"), e))?;
            running.push((i, child));
        }
        if running.is_empty() {
            return Ok(out);
        }
        // Reap whichever child ends first.
        let mut ended = None;
        while ended.is_none() {
            for (n, (_, child)) in running.iter_mut().enumerate() {
                if let Some(status) = child
                    .try_wait()
                    .map_err(|e| Error::io("waiting for a task", e))?
                {
                    ended = Some((n, status));
                    break;
                }
            }
            if ended.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
        }
        let (n, status) = ended.expect("a child ended");
        let (i, _) = running.swap_remove(n);
        out.exits.insert(i, status.code());
    }
}

/// What [`submit`] did.
#[derive(Debug, Clone)]
pub enum Launched {
    /// Slurm queued the tasks in these arrays.
    Slurm(Submission),
    /// The local tasks ended so.
    Local(LocalRun),
}

/// Hands `tasks` of `campaign` to the launcher of its plan (`jobs`
/// overrides a local campaign's parallelism) and stores the submission:
/// a Slurm campaign returns once its arrays are queued, a local one once
/// its tasks have ended. The stores are closed before local tasks start
/// (each opens them itself).
pub fn submit(
    drivers: Vec<Box<dyn Driver>>,
    campaign: &mut Campaign,
    tasks: &[u32],
    jobs: Option<u32>,
    command: &TaskCommand,
    resume: bool,
) -> Result<Launched> {
    match campaign.plan.options.launcher.clone() {
        Launcher::Slurm {
            sbatch_args,
            throttle,
        } => {
            let submission = slurm(campaign, tasks, &sbatch_args, throttle, command, resume)?;
            super::submitted(&drivers, campaign, submission.clone())?;
            Ok(Launched::Slurm(submission))
        }
        Launcher::Local { jobs: planned } => {
            let submission = Submission {
                launcher: "local".into(),
                tasks: tasks.to_vec(),
                arrays: Vec::new(),
                resume,
            };
            super::submitted(&drivers, campaign, submission)?;
            drop(drivers);
            Ok(Launched::Local(local(
                campaign,
                tasks,
                jobs.unwrap_or(planned),
                command,
            )?))
        }
    }
}

/// `0-3,7,9-12`: the indices as Slurm's `--array` list.
pub fn array_list(indices: &[u32]) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut sorted = indices.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    let mut it = sorted.into_iter().peekable();
    while let Some(start) = it.next() {
        let mut end = start;
        while it.peek() == Some(&(end + 1)) {
            end += 1;
            it.next();
        }
        parts.push(if start == end {
            start.to_string()
        } else {
            format!("{start}-{end}")
        });
    }
    parts.join(",")
}

/// A word for `sh`: single-quoted unless plainly safe.
fn sh_word(s: &str) -> String {
    if !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-=:,+@%".contains(c))
    {
        return s.to_owned();
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// The batch script of one array: task `offset + SLURM_ARRAY_TASK_ID`.
pub fn batch_script(campaign: &str, offset: u32, command: &TaskCommand) -> Result<String> {
    let mut words = vec![sh_word(&command.program.to_string_lossy())];
    for a in &command.args {
        let a = a.to_str().ok_or_else(|| {
            Error::InvalidData(format!(
                "a task argument is not UTF-8: {}",
                a.to_string_lossy()
            ))
        })?;
        words.push(sh_word(a));
    }
    words.push(sh_word(campaign));
    Ok(format!(
        "#!/bin/sh\n# dsi campaign {campaign}: one replay per array task\nexec {} \"$(( {offset} + SLURM_ARRAY_TASK_ID ))\"\n",
        words.join(" ")
    ))
}

/// Submits `tasks` of `campaign` as Slurm job arrays named
/// [`Campaign::job_name`] (at most [`MAX_ARRAY`] tasks each), with
/// `sbatch_args` and the throttle; returns the submission (not yet
/// stored). An array that sbatch refuses is an error with sbatch's line;
/// arrays already submitted are cancelled first.
pub fn slurm(
    campaign: &Campaign,
    tasks: &[u32],
    sbatch_args: &[String],
    throttle: Option<u32>,
    command: &TaskCommand,
    resume: bool,
) -> Result<Submission> {
    let sbatch = dsi_core::env::find_program("sbatch").ok_or_else(|| {
        Error::InvalidData(
            "sbatch not found on PATH: a Slurm campaign needs Slurm's client commands".into(),
        )
    })?;
    let mut by_chunk: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for &t in tasks {
        by_chunk.entry(t / MAX_ARRAY).or_default().push(t);
    }
    let mut arrays = Vec::new();
    for (chunk, indices) in by_chunk {
        let offset = chunk * MAX_ARRAY;
        let local: Vec<u32> = indices.iter().map(|i| i - offset).collect();
        let mut list = array_list(&local);
        if let Some(n) = throttle {
            list = format!("{list}%{n}");
        }
        let script = batch_script(&campaign.id, offset, command)?;
        let submitted = sbatch_once(&sbatch, &campaign.job_name(), &list, sbatch_args, &script);
        match submitted {
            Ok((job_id, cluster)) => {
                tracing::info!(
                    "submitted array job {job_id} ({} tasks) for campaign {}",
                    indices.len(),
                    campaign.id
                );
                arrays.push(SlurmArray {
                    job_id,
                    cluster,
                    offset,
                });
            }
            Err(e) => {
                for a in &arrays {
                    let _ = Command::new("scancel").arg(&a.job_id).status();
                }
                return Err(e);
            }
        }
    }
    Ok(Submission {
        launcher: "slurm".into(),
        tasks: tasks.to_vec(),
        arrays,
        resume,
    })
}

fn sbatch_once(
    sbatch: &std::path::Path,
    name: &str,
    list: &str,
    sbatch_args: &[String],
    script: &str,
) -> Result<(String, Option<String>)> {
    let mut c = Command::new(sbatch);
    c.arg("--parsable")
        .arg(format!("--job-name={name}"))
        .arg(format!("--array={list}"))
        .args(sbatch_args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().map_err(|e| Error::io("running sbatch", e))?;
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(script.as_bytes())
        .map_err(|e| Error::io("writing the batch script to sbatch", e))?;
    let out = child
        .wait_with_output()
        .map_err(|e| Error::io("running sbatch", e))?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let line = stderr
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(Error::InvalidData(format!(
            "sbatch refused the campaign's array: {}",
            dsi_core::text::for_terminal(line.trim())
        )));
    }
    // `--parsable`: `JOBID` or `JOBID;CLUSTER`.
    let line = stdout.trim();
    let (job, cluster) = match line.split_once(';') {
        Some((j, c)) => (j, Some(c.to_owned())),
        None => (line, None),
    };
    if job.is_empty() || !job.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::InvalidData(format!(
            "sbatch printed no job id: '{}'",
            dsi_core::text::for_terminal(line)
        )));
    }
    Ok((job.to_owned(), cluster))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn array_lists_compress_runs() {
        assert_eq!(array_list(&[0, 1, 2, 3]), "0-3");
        assert_eq!(array_list(&[7, 0, 1, 9, 10, 12]), "0-1,7,9-10,12");
        assert_eq!(array_list(&[5]), "5");
        assert_eq!(array_list(&[]), "");
    }

    #[test]
    fn the_batch_script_quotes_every_word() {
        let c = TaskCommand {
            program: PathBuf::from("/opt/dsi bin/dsi"),
            args: vec!["--store".into(), "it's.db".into(), "campaign".into()],
        };
        let s = batch_script("01ABC", 1000, &c).unwrap();
        assert!(
            s.contains("exec '/opt/dsi bin/dsi' --store 'it'\\''s.db' campaign 01ABC \"$(( 1000 + SLURM_ARRAY_TASK_ID ))\""),
            "{s}"
        );
        assert!(s.starts_with("#!/bin/sh\n"));
    }
}
