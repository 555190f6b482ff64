//! Tuning the calling thread: CPU affinity and nice value.

use std::io;
use std::mem;

use super::check;

/// Pins the calling thread to `cpus` (`sched_setaffinity`), e.g. away from the cores that
/// handle the NIC's interrupts.
pub fn pin_current_thread(cpus: &[usize]) -> io::Result<()> {
    // SAFETY: cpu_set_t is plain old data; all-zero is the empty set.
    let mut set: libc::cpu_set_t = unsafe { mem::zeroed() };
    for &cpu in cpus {
        if cpu >= libc::CPU_SETSIZE as usize {
            return Err(io::Error::from_raw_os_error(libc::EINVAL));
        }
        // SAFETY: `cpu` was checked to be below CPU_SETSIZE, the number of bits in `set`.
        unsafe { libc::CPU_SET(cpu, &mut set) };
    }
    // SAFETY: `set` is a valid cpu_set_t for the call; pid 0 is the calling thread.
    check(unsafe { libc::sched_setaffinity(0, mem::size_of::<libc::cpu_set_t>(), &set) }).map(drop)
}

/// Sets the calling thread's nice value (-20 = most favoured; below 0 needs CAP_SYS_NICE).
pub fn set_current_thread_nice(nice: i32) -> io::Result<()> {
    // SAFETY: gettid takes no arguments.
    let tid = unsafe { libc::syscall(libc::SYS_gettid) } as libc::id_t;
    // SAFETY: setpriority takes integers only; on Linux PRIO_PROCESS with a thread id sets that thread.
    check(unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, nice) }).map(drop)
}
