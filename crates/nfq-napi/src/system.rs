//! The binding's functions about the system rather than one queue: dropping privileges, and
//! the queues the kernel shows bound (nfq-core's `/proc` reader).

use napi::bindgen_prelude::*;
use napi_derive::napi;

use crate::errors::throw;

/// A user's ids, as `dropPrivileges` switched to them.
#[napi(object)]
pub struct BindingUserIds {
    /// User id.
    pub uid: u32,
    /// Group id.
    pub gid: u32,
}

/// Switches the process to `user` and keeps only CAP_NET_ADMIN, on the calling (JavaScript)
/// thread: the capability nfnetlink checks on every verdict. Call it after binding.
#[napi]
pub fn drop_privileges(env: Env, user: String) -> Result<BindingUserIds> {
    let ids = nfq_core::drop_privileges(&user).map_err(|e| throw(&env, e))?;
    Ok(BindingUserIds { uid: ids.uid, gid: ids.gid })
}

/// Step 1 of `dropPrivileges` over several threads: on the calling thread, keep CAP_NET_ADMIN
/// through the coming switch of user. Every thread that gives verdicts calls it.
#[napi]
pub fn drop_privileges_prepare_thread(env: Env) -> Result<()> {
    nfq_core::drop_privileges_by_thread::prepare_thread().map_err(|e| throw(&env, e))
}

/// Step 2: switches the whole process to `user` (once, after every thread prepared).
#[napi]
pub fn drop_privileges_switch_user(env: Env, user: String) -> Result<BindingUserIds> {
    let ids = nfq_core::drop_privileges_by_thread::switch(&user).map_err(|e| throw(&env, e))?;
    Ok(BindingUserIds { uid: ids.uid, gid: ids.gid })
}

/// Step 3: on the calling thread, CAP_NET_ADMIN becomes its only capability again.
#[napi]
pub fn drop_privileges_finish_thread(env: Env) -> Result<()> {
    nfq_core::drop_privileges_by_thread::finish_thread().map_err(|e| throw(&env, e))
}

/// A bound queue: its line of `/proc/net/netfilter/nfnetlink_queue`, and the process holding its
/// socket when asked for and found.
#[napi(object)]
pub struct BindingBoundQueue {
    /// Queue number.
    pub queue: u32,
    /// Netlink port id of the socket it is bound to.
    pub port_id: u32,
    /// Packets waiting for a verdict.
    pub waiting: u32,
    /// Copy mode (0 none, 1 meta, 2 packet).
    pub copy_mode: u32,
    /// Copy range in bytes.
    pub copy_range: u32,
    /// Packets dropped because the queue was full.
    pub queue_dropped: u32,
    /// Packets dropped because the socket could not take them.
    pub user_dropped: u32,
    /// Last packet id handed out.
    pub id_sequence: u32,
    /// Process holding the socket (with `owners`, when found).
    pub owner_pid: Option<u32>,
    /// That process's name (`/proc/PID/comm`).
    pub owner_command: Option<String>,
}

/// The queues bound in network namespace `netns` (a name from `ip netns add` or a path; this
/// one when absent), by queue number; with `owners`, each with the process holding its socket.
#[napi]
pub fn bound_queues(env: Env, netns: Option<String>, owners: Option<bool>) -> Result<Vec<BindingBoundQueue>> {
    let netns = netns.map(std::path::PathBuf::from);
    let queues = nfq_core::bound_queues(netns.as_deref(), owners.unwrap_or(false)).map_err(|e| throw(&env, e))?;
    Ok(queues
        .into_iter()
        .map(|bound| {
            let r = bound.row;
            BindingBoundQueue {
                queue: r.queue.into(),
                port_id: r.port_id,
                waiting: r.waiting,
                copy_mode: r.copy_mode.into(),
                copy_range: r.copy_range,
                queue_dropped: r.queue_dropped,
                user_dropped: r.user_dropped,
                id_sequence: r.id_sequence,
                owner_pid: bound.owner.as_ref().and_then(|o| o.pid),
                owner_command: bound.owner.and_then(|o| o.command),
            }
        })
        .collect())
}
