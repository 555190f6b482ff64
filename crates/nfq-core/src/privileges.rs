//! Privileges: whether this thread holds CAP_NET_ADMIN, and dropping root after binding while
//! keeping the one capability nfnetlink checks on every verdict.

use crate::sys;

/// Whether CAP_NET_ADMIN (bit 12) is in the calling thread's effective set (`CapEff` in
/// /proc/thread-self/status: capabilities are per thread, and a thread may have dropped what the
/// process's first thread still has).
pub fn effective_cap_net_admin() -> bool {
    let Ok(status) = std::fs::read_to_string("/proc/thread-self/status") else { return false };
    status
        .lines()
        .find_map(|l| l.strip_prefix("CapEff:"))
        .and_then(|hex| u64::from_str_radix(hex.trim(), 16).ok())
        .is_some_and(|caps| caps & (1 << 12) != 0)
}

/// Drops root after the queue is bound: switches to `user` and keeps only CAP_NET_ADMIN on the
/// calling thread, which nfnetlink checks on every verdict (a process that drops it too can no
/// longer give verdicts: its packets stay queued). Call it on the thread that sends verdicts.
///
/// # Errors
///
/// [`crate::Error::UserNotFound`] for an unknown user; [`crate::Error::Io`] when switching user or
/// keeping the capability fails (the process lacks CAP_SETUID, CAP_SETGID or CAP_SETPCAP).
pub fn drop_privileges(user: &str) -> crate::Result<sys::UserIds> {
    let ids = user_ids(user)?;
    sys::drop_privileges_keeping_net_admin(&ids).map_err(|e| crate::Error::io(format!("switch to user '{user}'"), e))?;
    Ok(ids)
}

/// [`drop_privileges`] for a process with several threads that give verdicts (one queue per
/// thread): call `prepare_thread` on each of them, then `switch` once (on any thread), then
/// `finish_thread` on each. Between the steps, the threads must not start others.
pub mod drop_privileges_by_thread {
    use super::{sys, user_ids};

    /// On the calling thread: keep CAP_NET_ADMIN through the coming switch (see [`switch`]).
    ///
    /// # Errors
    ///
    /// [`crate::Error::Io`] when the kernel refuses `PR_SET_KEEPCAPS` or the ambient capability.
    pub fn prepare_thread() -> crate::Result<()> {
        sys::prepare_thread_to_keep_net_admin().map_err(|e| crate::Error::io("prepare this thread to keep CAP_NET_ADMIN", e))
    }

    /// Switches the process to `user`; threads not prepared lose every capability.
    ///
    /// # Errors
    ///
    /// [`crate::Error::UserNotFound`] for an unknown user; [`crate::Error::Io`] when
    /// `setresuid`/`setresgid` fail.
    pub fn switch(user: &str) -> crate::Result<sys::UserIds> {
        let ids = user_ids(user)?;
        sys::switch_user(&ids).map_err(|e| crate::Error::io(format!("switch to user '{user}'"), e))?;
        Ok(ids)
    }

    /// On the calling thread, after [`switch`]: CAP_NET_ADMIN only, effective and permitted.
    ///
    /// # Errors
    ///
    /// [`crate::Error::Io`] when the kernel refuses the capability sets.
    pub fn finish_thread() -> crate::Result<()> {
        sys::keep_only_net_admin().map_err(|e| crate::Error::io("keep only CAP_NET_ADMIN on this thread", e))
    }
}

fn user_ids(user: &str) -> crate::Result<sys::UserIds> {
    sys::lookup_user(user)
        .map_err(|e| crate::Error::io(format!("look up user '{user}'"), e))?
        .ok_or_else(|| crate::Error::UserNotFound { user: user.to_owned() })
}
