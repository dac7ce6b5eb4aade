//! POSIX identity of the recording process: the columns every environment
//! plugin records (`uid`, `effective_gid`, `moniker`, `gid_list`).
//!
//! The Python DSI called `os.getlogin()`, which fails without a controlling
//! terminal (batch jobs, containers). Here the moniker comes from `USER` or
//! `LOGNAME`, else from `/etc/passwd`, else it is `uid<N>`: it never fails.

use crate::error::Result;
use crate::table::Column;
use crate::value::{DataType, Value};

/// The identity of the current process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PosixIdentity {
    /// Real user ID.
    pub uid: u32,
    /// Effective group ID.
    pub effective_gid: u32,
    /// User name.
    pub moniker: String,
    /// Supplementary groups plus the effective group, sorted and unique.
    pub gid_list: Vec<u32>,
}

impl PosixIdentity {
    /// Reads the identity of this process.
    pub fn current() -> Self {
        let uid = rustix::process::getuid().as_raw();
        let effective_gid = rustix::process::getegid().as_raw();
        let mut gid_list: Vec<u32> = rustix::process::getgroups()
            .map(|g| g.into_iter().map(|g| g.as_raw()).collect())
            .unwrap_or_default();
        gid_list.push(effective_gid);
        gid_list.sort_unstable();
        gid_list.dedup();
        PosixIdentity {
            uid,
            effective_gid,
            moniker: moniker(uid),
            gid_list,
        }
    }

    /// The four POSIX columns, one row.
    pub fn columns(&self) -> Result<Vec<Column>> {
        let gids = serde_json::to_string(&self.gid_list).unwrap_or_else(|_| "[]".into());
        Ok(vec![
            Column::new("uid", DataType::Int, vec![self.uid.into()])?,
            Column::new(
                "effective_gid",
                DataType::Int,
                vec![self.effective_gid.into()],
            )?,
            Column::new(
                "moniker",
                DataType::Text,
                vec![Value::Text(self.moniker.clone())],
            )?,
            Column::new("gid_list", DataType::Text, vec![Value::Text(gids)])?,
        ])
    }
}

fn moniker(uid: u32) -> String {
    for var in ["USER", "LOGNAME"] {
        if let Ok(v) = std::env::var(var)
            && !v.is_empty()
        {
            return v;
        }
    }
    passwd_name(uid).unwrap_or_else(|| format!("uid{uid}"))
}

/// The name of `uid` in `/etc/passwd`, if it is there.
pub(crate) fn passwd_name(uid: u32) -> Option<String> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|line| {
        let mut f = line.split(':');
        let name = f.next()?;
        let _pw = f.next()?;
        (f.next()?.parse::<u32>().ok()? == uid).then(|| name.to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_is_consistent_with_the_process() {
        let id = PosixIdentity::current();
        assert_eq!(id.uid, rustix::process::getuid().as_raw());
        assert!(id.gid_list.contains(&id.effective_gid));
        assert!(!id.moniker.is_empty());
        let cols = id.columns().unwrap();
        let names: Vec<_> = cols.iter().map(Column::name).collect();
        assert_eq!(names, ["uid", "effective_gid", "moniker", "gid_list"]);
    }

    #[test]
    fn root_is_in_passwd() {
        assert_eq!(passwd_name(0).as_deref(), Some("root"));
    }
}
