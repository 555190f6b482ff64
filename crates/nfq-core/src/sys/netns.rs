//! Network namespaces (`setns` on a thread of its own) and their interfaces.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use super::check;

/// Runs `f` on a new thread that has entered the network namespace at `netns` (a path such as
/// `/run/netns/NAME`): for tests that set up traffic in a namespace of their own.
///
/// Only that thread moves; the caller's namespace never changes. Sockets opened
/// by `f` stay in the namespace.
///
/// # Errors
///
/// The outer error when the namespace file cannot be opened or entered (`setns` needs
/// CAP_SYS_ADMIN); the inner one is `f`'s.
pub fn run_in_netns<T: Send + 'static>(
    netns: &Path,
    f: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<io::Result<T>> {
    let file = File::open(netns)?;
    std::thread::Builder::new()
        .name("nfq-netns".into())
        .spawn(move || {
            // SAFETY: setns(2) with a descriptor we hold open; it changes only this thread,
            // which exits when `f` returns.
            check(unsafe { libc::setns(file.as_raw_fd(), libc::CLONE_NEWNET) })?;
            Ok(f())
        })?
        .join()
        .map_err(|_| io::Error::other("network namespace thread panicked"))?
}

/// The network interfaces of the calling thread's namespace: `(index, name)` pairs
/// (`if_nameindex(3)`), to name the interface indexes packets carry.
pub fn interfaces() -> io::Result<Vec<(u32, String)>> {
    // SAFETY: if_nameindex takes no arguments; it returns a heap array (or null on error)
    // that we own until if_freenameindex.
    let list = unsafe { libc::if_nameindex() };
    if list.is_null() {
        return Err(io::Error::last_os_error());
    }
    let mut found = Vec::new();
    let mut entry = list;
    loop {
        // SAFETY: `entry` points into the array returned above, which ends with an entry whose
        // index is 0 and name null; we stop there and never step past it.
        let item = unsafe { &*entry };
        if item.if_index == 0 || item.if_name.is_null() {
            break;
        }
        // SAFETY: if_name is a valid NUL-terminated string while the array lives.
        let name = unsafe { std::ffi::CStr::from_ptr(item.if_name) }.to_string_lossy().into_owned();
        found.push((item.if_index, name));
        // SAFETY: the terminating entry has not been reached, so the next entry is in the array.
        entry = unsafe { entry.add(1) };
    }
    // SAFETY: `list` came from if_nameindex and is freed once, after its last use.
    unsafe { libc::if_freenameindex(list) };
    Ok(found)
}
