//! Users and capabilities: look a user up, switch to it, keep only CAP_NET_ADMIN.

use std::io;
use std::mem;

use super::check;

/// A user account, as `getpwnam(3)` finds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserIds {
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// Looks `name` up in the user database (`getpwnam_r`); `None` when there is no such user.
pub fn lookup_user(name: &str) -> io::Result<Option<UserIds>> {
    let name = std::ffi::CString::new(name).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut buffer = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: passwd is plain old data; zeroed is a valid value for getpwnam_r to overwrite.
    let mut entry: libc::passwd = unsafe { mem::zeroed() };
    let mut found: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call: `name` is NUL-terminated, `entry` and `found`
    // are writable, and `buffer` holds `buffer.len()` bytes for the strings getpwnam_r copies.
    let ret = unsafe { libc::getpwnam_r(name.as_ptr(), &mut entry, buffer.as_mut_ptr(), buffer.len(), &mut found) };
    if ret != 0 {
        return Err(io::Error::from_raw_os_error(ret));
    }
    Ok((!found.is_null()).then_some(UserIds { uid: entry.pw_uid, gid: entry.pw_gid }))
}

const PR_SET_KEEPCAPS: libc::c_int = 8;
const PR_CAPBSET_DROP: libc::c_int = 24;
const PR_CAP_AMBIENT: libc::c_int = 47;
const PR_CAP_AMBIENT_CLEAR_ALL: libc::c_ulong = 4;
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;
/// CAP_NET_ADMIN, the capability nfnetlink checks on every message.
pub const CAP_NET_ADMIN: u32 = 12;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn prctl(option: libc::c_int, arg: libc::c_ulong) -> io::Result<()> {
    // SAFETY: these prctl options take integer arguments only, no pointers.
    check(unsafe { libc::prctl(option, arg, 0 as libc::c_ulong, 0 as libc::c_ulong, 0 as libc::c_ulong) }).map(drop)
}

/// Switches the process to `ids` (groups reduced to its primary group) and keeps, on the calling
/// thread, CAP_NET_ADMIN and nothing else: the capability nfnetlink checks on every verdict.
///
/// The uid and gid change for every thread (glibc applies them process-wide); the capability
/// survives only on the calling thread, so call this on the thread that sends the verdicts.
/// Other capabilities leave the bounding set too, so nothing can win them back.
pub fn drop_privileges_keeping_net_admin(ids: &UserIds) -> io::Result<()> {
    prepare_thread_to_keep_net_admin()?;
    switch_user(ids)?;
    keep_only_net_admin()
}

/// First step of a switch of user in a process whose other threads must keep CAP_NET_ADMIN too:
/// on the calling thread, drops every capability but CAP_NET_ADMIN from the bounding set, clears
/// the ambient set and sets PR_SET_KEEPCAPS (all per-thread), so that its permitted set survives
/// [`switch_user`]. Every thread that will give verdicts calls it, then one thread switches, then
/// each calls [`keep_only_net_admin`].
pub fn prepare_thread_to_keep_net_admin() -> io::Result<()> {
    let last_cap: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    for cap in (0..=last_cap).filter(|&c| c != CAP_NET_ADMIN) {
        match prctl(PR_CAPBSET_DROP, cap as libc::c_ulong) {
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => {} // unknown to this kernel
            other => other?,
        }
    }
    prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)?;
    prctl(PR_SET_KEEPCAPS, 1)
}

/// Switches the whole process to `ids`: the only group, gid and uid (glibc applies them to every
/// thread). Threads that did not call [`prepare_thread_to_keep_net_admin`] lose every capability.
pub fn switch_user(ids: &UserIds) -> io::Result<()> {
    let gid = ids.gid;
    // SAFETY: setgroups reads one gid_t from a valid pointer.
    check(unsafe { libc::setgroups(1, &gid) })?;
    // SAFETY: setresgid and setresuid take integers only.
    check(unsafe { libc::setresgid(ids.gid, ids.gid, ids.gid) })?;
    // SAFETY: as above.
    check(unsafe { libc::setresuid(ids.uid, ids.uid, ids.uid) })?;
    Ok(())
}

/// Last step: on the calling thread, clears PR_SET_KEEPCAPS and makes CAP_NET_ADMIN its only
/// capability, effective and permitted.
pub fn keep_only_net_admin() -> io::Result<()> {
    prctl(PR_SET_KEEPCAPS, 0)?;
    let header = CapHeader { version: LINUX_CAPABILITY_VERSION_3, pid: 0 };
    let only_net_admin = CapData { effective: 1 << CAP_NET_ADMIN, permitted: 1 << CAP_NET_ADMIN, inheritable: 0 };
    let data = [only_net_admin, CapData { effective: 0, permitted: 0, inheritable: 0 }];
    // SAFETY: capset reads a version-3 header and two data structs, both valid for the call.
    let ret = unsafe { libc::syscall(libc::SYS_capset, &header as *const CapHeader, data.as_ptr()) };
    if ret != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
