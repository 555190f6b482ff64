//! The only `unsafe` in the crate: the netlink socket and its system calls.
//!
//! Each block says why it is sound. Everything above this module is safe code
//! over these few functions: `socket`, `bind`, `getsockname`, `setsockopt`,
//! `getsockopt`, `fcntl`, `sendto`, `recvmmsg`, `poll`, `eventfd`, `setns`, `if_nameindex`,
//! `getpwnam_r`, `setresuid`/`setresgid`/`setgroups`, `prctl`, `capset`, `sched_setaffinity`,
//! `setpriority`; and registering the socket with tokio's reactor (feature `tokio`).
//!
//! By concern, one file each: `socket` (the netlink socket), `recv` (the memory it receives
//! into), `interrupt`, `netns` (namespaces and interfaces), `privileges` (users and
//! capabilities), `thread` (affinity and nice value).

use std::io;
use std::mem;

mod interrupt;
mod netns;
mod privileges;
mod recv;
mod socket;
mod thread;
#[cfg(feature = "tokio")]
pub mod tokio_fd;

pub use interrupt::Interrupt;
pub use netns::{interfaces, run_in_netns};
pub use privileges::*;
pub use recv::RecvBuffers;
pub use socket::{NetlinkSocket, Readiness};
pub use thread::{pin_current_thread, set_current_thread_nice};

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn kernel_address() -> libc::sockaddr_nl {
    // SAFETY: sockaddr_nl is plain old data; all-zero is a valid value (port 0 = the kernel).
    let mut addr: libc::sockaddr_nl = unsafe { mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    addr
}
