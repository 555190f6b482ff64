//! The memory `recvmmsg` receives into.

use std::mem;

use super::kernel_address;

/// Reusable receive buffers for `recvmmsg`: `capacity` slots of `slot_size` bytes.
///
/// Allocated once; receiving into them allocates nothing.
pub struct RecvBuffers {
    pub(crate) memory: Box<dyn crate::batch::RecvMemory>,
    pub(crate) slot_size: usize,
    pub(crate) count: usize,
    pub(crate) lens: Vec<u32>,
    pub(crate) flags: Vec<u32>,
    pub(crate) sender_ports: Vec<u32>,
    pub(super) headers: Vec<libc::mmsghdr>,
    pub(super) iovecs: Vec<libc::iovec>,
    pub(super) senders: Vec<libc::sockaddr_nl>,
}

// SAFETY: the raw pointers inside `headers` and `iovecs` only ever point into this same
// struct's `memory`, `iovecs` and `senders`; they are rewritten before every use and never
// dereferenced outside `NetlinkSocket::receive`, which borrows the whole struct mutably.
unsafe impl Send for RecvBuffers {}

impl RecvBuffers {
    /// `capacity` slots (datagrams per `recvmmsg`) of `slot_size` bytes each.
    #[must_use]
    pub fn new(capacity: usize, slot_size: usize) -> Self {
        let capacity = capacity.max(1);
        Self::with_memory(capacity, slot_size, Box::new(vec![0u8; capacity * slot_size]))
    }

    /// `capacity` slots of `slot_size` bytes in `memory`, which a binding may share with another
    /// language that reads the datagrams in place (slot `i` starts at byte `i * slot_size`).
    ///
    /// # Panics
    ///
    /// When `memory` holds fewer than `capacity * slot_size` bytes (`capacity` is at least 1).
    #[must_use]
    pub fn with_memory(capacity: usize, slot_size: usize, memory: Box<dyn crate::batch::RecvMemory>) -> Self {
        let capacity = capacity.max(1);
        assert!(
            memory.bytes().len() >= capacity * slot_size,
            "receive memory of {} bytes is too small for {capacity} slots of {slot_size} bytes",
            memory.bytes().len()
        );
        Self {
            memory,
            slot_size,
            count: 0,
            lens: vec![0; capacity],
            flags: vec![0; capacity],
            sender_ports: vec![0; capacity],
            // SAFETY: mmsghdr and iovec are plain old data; zeroed values are valid placeholders,
            // overwritten before every recvmmsg.
            headers: (0..capacity).map(|_| unsafe { mem::zeroed() }).collect(),
            // SAFETY: as above.
            iovecs: (0..capacity).map(|_| unsafe { mem::zeroed() }).collect(),
            senders: (0..capacity).map(|_| kernel_address()).collect(),
        }
    }
}

impl std::fmt::Debug for RecvBuffers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RecvBuffers")
            .field("capacity", &self.lens.len())
            .field("slot_size", &self.slot_size)
            .field("count", &self.count)
            .finish()
    }
}
