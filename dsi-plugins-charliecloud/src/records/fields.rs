//! A record as `name value` pairs for a front-end's summary: nested keys
//! joined with `.`, lists of plain values on one line. Steps, outputs,
//! PASSENV, the compatibility check and the system have shapes of their own
//! and are left to the caller (the system's kernel release and
//! architecture, the Slurm job id and the `job`, `scheduler` and `mpi`
//! sections of the scheduler context are included).

use dsi_core::env::Section;

use super::RunRecord;

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<(String, String)>) {
    match v {
        serde_json::Value::Null => {}
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::Array(a) => {
            if !a.is_empty() && a.iter().all(|x| !x.is_object() && !x.is_array()) {
                let items: Vec<String> = a
                    .iter()
                    .map(|x| x.as_str().map_or_else(|| x.to_string(), str::to_owned))
                    .collect();
                out.push((prefix.to_owned(), items.join(" ")));
            }
        }
        serde_json::Value::String(s) => out.push((prefix.to_owned(), s.clone())),
        other => out.push((prefix.to_owned(), other.to_string())),
    }
}

impl RunRecord {
    /// The record's plain fields as `(name, value)` pairs, in a stable
    /// order: what `dsi show` prints first. Values are as stored; escape
    /// them before printing.
    pub fn summary_fields(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let serde_json::Value::Object(m) = serde_json::to_value(self).unwrap_or_default() {
            for (k, v) in &m {
                if !matches!(
                    k.as_str(),
                    "steps"
                        | "compat"
                        | "system"
                        | "outputs"
                        | "passenv"
                        | "verification"
                        | "texts"
                        | "inputs"
                ) {
                    flatten(k, v, &mut out);
                }
            }
        }
        for (k, v) in [
            ("system.kernel_release", &self.system.kernel_release),
            ("system.architecture", &self.system.architecture),
        ] {
            if let Some(v) = v {
                out.push((k.to_owned(), v.clone()));
            }
        }
        if let Some(id) = self.system.slurm_job_id {
            out.push(("system.slurm_job_id".to_owned(), id.to_string()));
        }
        // The scheduler context: `job.*`, `scheduler.*`, `mpi.*`, or the
        // reason a section is unavailable (`not under Slurm`).
        if let Some(info) = &self.system.scheduler_info {
            for name in ["job", "scheduler", "mpi"] {
                match info.sections.get(name) {
                    Some(Section::Values(m)) => {
                        for (k, v) in m {
                            flatten(&format!("{name}.{k}"), v, &mut out);
                        }
                    }
                    Some(Section::Unavailable(why)) => out.push((name.to_owned(), why.clone())),
                    None => {}
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::Function;

    #[test]
    fn nested_and_list_fields_are_flattened_and_sections_left_out() {
        let mut r = RunRecord::new(Function::Consumer);
        r.system.kernel_release = Some("6.1.0".into());
        let f = r.summary_fields();
        assert!(f.iter().any(|(k, _)| k == "run_id"));
        assert!(
            f.iter()
                .any(|(k, v)| k == "system.kernel_release" && v == "6.1.0")
        );
        assert!(
            !f.iter()
                .any(|(k, _)| k == "steps" || k.starts_with("passenv"))
        );
    }
}
