//! An eventfd that wakes a thread blocked waiting on the socket.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::check;
use crate::error::{Error, Result};

/// Wakes a thread blocked in [`Queue::wait`](crate::Queue::wait) from another thread (an eventfd).
#[derive(Debug)]
pub struct Interrupt {
    pub(super) fd: OwnedFd,
}

impl Interrupt {
    /// A new, untriggered interrupt.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the kernel refuses an eventfd (EMFILE, ENFILE: too many descriptors).
    pub fn new() -> Result<Self> {
        // SAFETY: eventfd(2) takes no pointers; a non-negative return is a descriptor we own.
        let raw = check(unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) }).map_err(|e| Error::io("create eventfd", e))?;
        // SAFETY: `raw` was just returned by eventfd(2) and is owned by nobody else.
        Ok(Self { fd: unsafe { OwnedFd::from_raw_fd(raw) } })
    }

    /// Triggers it: every current and future wait returns `interrupted` until [`Interrupt::clear`].
    ///
    /// # Errors
    ///
    /// [`Error::Io`] when the eventfd cannot be written (it never is in practice: it counts up to 2^64 - 2).
    pub fn trigger(&self) -> Result<()> {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64, as eventfd requires.
        let n = unsafe { libc::write(self.fd.as_raw_fd(), &one as *const u64 as *const libc::c_void, 8) };
        if n == 8 {
            Ok(())
        } else {
            Err(Error::io("trigger interrupt", io::Error::last_os_error()))
        }
    }

    /// Resets it.
    pub fn clear(&self) {
        let mut value: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64; EAGAIN (not triggered) leaves it untouched.
        unsafe { libc::read(self.fd.as_raw_fd(), &mut value as *mut u64 as *mut libc::c_void, 8) };
    }
}
