//! Errors as values a caller can act on.
//!
//! Two families: [`DecodeError`] for bytes that are not a valid message (with
//! the offset of the fault), and [`Error`] for operations on a queue, which
//! keeps the errno and says what it means here and what to do about it.

use std::borrow::Cow;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// What is wrong with a message that failed to decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    /// Fewer than 16 bytes where a netlink header should be.
    TruncatedHeader,
    /// `nlmsg_len` smaller than the header itself.
    BadMessageLength(u32),
    /// `nlmsg_len` runs past the end of the buffer.
    MessageOverrun(u32),
    /// The message ends inside the `nfgenmsg` header.
    TruncatedNfgenmsg,
    /// Fewer than 4 bytes where an attribute header should be.
    TruncatedAttribute,
    /// `nla_len` smaller than the attribute header.
    BadAttributeHeader(u16),
    /// `nla_len` runs past the end of the message or of the enclosing nest.
    AttributeOverrun {
        /// Attribute type.
        attribute: u16,
        /// Its claimed length.
        len: u16,
    },
    /// An attribute whose payload size is wrong for its type.
    BadAttributeLength {
        /// Attribute type.
        attribute: u16,
        /// Expected payload length (the minimum, for variable-size attributes).
        expected: usize,
        /// Actual payload length.
        actual: usize,
    },
    /// A required attribute is missing (e.g. `NFQA_PACKET_HDR`).
    MissingAttribute(u16),
    /// The message is not of the type this decoder reads.
    UnexpectedMessageType(u16),
    /// An `NLMSG_ERROR` too short for `struct nlmsgerr`.
    TruncatedError,
}

impl DecodeErrorKind {
    /// Stable code, the same in the TypeScript codec (`fixtures/README.md`): `"ATTRIBUTE_OVERRUN"`.
    #[must_use]
    pub fn code(self) -> &'static str {
        use DecodeErrorKind::*;
        match self {
            TruncatedHeader => "TRUNCATED_HEADER",
            BadMessageLength(_) => "BAD_MESSAGE_LENGTH",
            MessageOverrun(_) => "MESSAGE_OVERRUN",
            TruncatedNfgenmsg => "TRUNCATED_NFGENMSG",
            TruncatedAttribute => "TRUNCATED_ATTRIBUTE",
            BadAttributeHeader(_) => "BAD_ATTRIBUTE_HEADER",
            AttributeOverrun { .. } => "ATTRIBUTE_OVERRUN",
            BadAttributeLength { .. } => "BAD_ATTRIBUTE_LENGTH",
            MissingAttribute(_) => "MISSING_ATTRIBUTE",
            UnexpectedMessageType(_) => "UNEXPECTED_MESSAGE_TYPE",
            TruncatedError => "TRUNCATED_ERROR",
        }
    }
}

/// A malformed message: what is wrong and where (bytes from the start of the message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeError {
    /// What is wrong.
    pub kind: DecodeErrorKind,
    /// Byte offset of the fault from the start of the message (or batch).
    pub offset: usize,
}

impl DecodeError {
    /// A decode error of `kind` at `offset`.
    #[must_use]
    pub fn new(kind: DecodeErrorKind, offset: usize) -> Self {
        Self { kind, offset }
    }

    /// The same error with its offset moved by `by` (when a message is decoded inside a batch).
    #[must_use]
    pub fn shifted(self, by: usize) -> Self {
        Self { offset: self.offset + by, ..self }
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use DecodeErrorKind::*;
        match self.kind {
            TruncatedHeader => write!(f, "truncated netlink header"),
            BadMessageLength(len) => write!(f, "netlink message length {len} is shorter than its 16-byte header"),
            MessageOverrun(len) => write!(f, "netlink message length {len} runs past the end of the buffer"),
            TruncatedNfgenmsg => write!(f, "message ends inside its nfgenmsg header"),
            TruncatedAttribute => write!(f, "truncated attribute header"),
            BadAttributeHeader(len) => write!(f, "attribute length {len} is shorter than its 4-byte header"),
            AttributeOverrun { attribute, len } => {
                write!(f, "attribute {attribute} of length {len} runs past the end of its message")
            }
            BadAttributeLength { attribute, expected, actual } => {
                write!(f, "attribute {attribute} has a {actual}-byte payload, expected {expected}")
            }
            MissingAttribute(attribute) => write!(f, "required attribute {attribute} is missing"),
            UnexpectedMessageType(kind) => write!(f, "unexpected message type {kind:#06x}"),
            TruncatedError => write!(f, "NLMSG_ERROR message too short"),
        }?;
        write!(f, " ({} at byte {})", self.kind.code(), self.offset)
    }
}

impl std::error::Error for DecodeError {}

/// The kind of an [`Error`], for matching and for bindings (`err.kind` in JavaScript).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// An option or argument out of range, refused before any syscall.
    InvalidArgument,
    /// The process lacks CAP_NET_ADMIN.
    PermissionDenied,
    /// Another socket holds the queue.
    AlreadyBound,
    /// The kernel lacks a feature (a config flag, usually).
    Unsupported,
    /// The kernel refused a request for another reason.
    Kernel,
    /// A system call failed.
    Io,
    /// A message from the kernel could not be decoded.
    Decode,
    /// The queue was closed.
    Closed,
    /// A user named in a call does not exist.
    UserNotFound,
    /// The network namespace named does not exist.
    NamespaceNotFound,
    /// Entering the network namespace named needs CAP_SYS_ADMIN, which the process lacks.
    NamespacePermissionDenied,
}

impl ErrorKind {
    /// Stable name: `"AlreadyBound"`, `"PermissionDenied"`, ...
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::InvalidArgument => "InvalidArgument",
            ErrorKind::PermissionDenied => "PermissionDenied",
            ErrorKind::AlreadyBound => "AlreadyBound",
            ErrorKind::Unsupported => "Unsupported",
            ErrorKind::Kernel => "Kernel",
            ErrorKind::Io => "Io",
            ErrorKind::Decode => "Decode",
            ErrorKind::Closed => "Closed",
            ErrorKind::UserNotFound => "UserNotFound",
            ErrorKind::NamespaceNotFound => "NamespaceNotFound",
            ErrorKind::NamespacePermissionDenied => "NamespacePermissionDenied",
        }
    }
}

/// An operation on a queue failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A bad option or argument, refused before any syscall.
    InvalidArgument {
        /// The option or argument, as named in [`crate::QueueOptions`] (`"copy_range"`) or in the
        /// method's signature (`"payload"`).
        option: &'static str,
        /// What is wrong and what is allowed.
        message: String,
    },
    /// EPERM and the process has no CAP_NET_ADMIN.
    PermissionDenied {
        /// What was attempted, e.g. "bind queue 0".
        operation: String,
    },
    /// EPERM on bind although CAP_NET_ADMIN is held: another socket holds the queue.
    AlreadyBound {
        /// The queue number.
        queue: u16,
        /// Netlink port id of the holder, from `/proc/net/netfilter/nfnetlink_queue`.
        owner_port_id: Option<u32>,
        /// Process id and name of the holder, when it could be found.
        owner_process: Option<(u32, String)>,
    },
    /// EOPNOTSUPP: the kernel lacks what was asked for.
    Unsupported {
        /// What was attempted.
        operation: String,
        /// The missing feature, e.g. the flag name, when known.
        feature: Option<&'static str>,
        /// The kernel option or action that provides it.
        hint: Option<&'static str>,
    },
    /// The kernel answered a request with an error not covered above.
    Kernel {
        /// What was attempted.
        operation: String,
        /// Positive errno.
        errno: i32,
        /// The kernel's own explanation (extended ACK), when given.
        message: Option<String>,
    },
    /// A system call failed.
    Io {
        /// What was attempted.
        operation: String,
        /// The OS error.
        source: io::Error,
    },
    /// A message from the kernel could not be decoded.
    Decode(DecodeError),
    /// The queue is closed.
    Closed,
    /// No user of that name (`getpwnam` found none).
    UserNotFound {
        /// The name asked for.
        user: String,
    },
    /// A network namespace could not be entered: it does not exist (ENOENT), or entering it
    /// needs CAP_SYS_ADMIN (EPERM), or its file is not a namespace (EINVAL).
    Namespace {
        /// What was attempted, e.g. "open netlink socket".
        operation: String,
        /// The namespace's path (`/var/run/netns/NAME` for a name).
        path: PathBuf,
        /// The OS error of `open` or `setns`.
        source: io::Error,
    },
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// The kind, for matching.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::InvalidArgument { .. } => ErrorKind::InvalidArgument,
            Error::PermissionDenied { .. } => ErrorKind::PermissionDenied,
            Error::AlreadyBound { .. } => ErrorKind::AlreadyBound,
            Error::Unsupported { .. } => ErrorKind::Unsupported,
            Error::Kernel { .. } => ErrorKind::Kernel,
            Error::Io { .. } => ErrorKind::Io,
            Error::Decode(_) => ErrorKind::Decode,
            Error::Closed => ErrorKind::Closed,
            Error::UserNotFound { .. } => ErrorKind::UserNotFound,
            Error::Namespace { source, .. } => match source.raw_os_error() {
                // ENOENT: no such file; EINVAL: a file that is not a network namespace.
                Some(libc::ENOENT | libc::EINVAL) => ErrorKind::NamespaceNotFound,
                Some(libc::EPERM | libc::EACCES) => ErrorKind::NamespacePermissionDenied,
                _ => ErrorKind::Io,
            },
        }
    }

    /// The errno behind the error, when there is one.
    #[must_use]
    pub fn errno(&self) -> Option<i32> {
        match self {
            Error::InvalidArgument { .. } => Some(libc::EINVAL),
            Error::PermissionDenied { .. } | Error::AlreadyBound { .. } => Some(libc::EPERM),
            Error::Unsupported { .. } => Some(libc::EOPNOTSUPP),
            Error::Kernel { errno, .. } => Some(*errno),
            Error::Io { source, .. } => source.raw_os_error(),
            Error::Decode(_) => Some(libc::EBADMSG),
            Error::Closed => Some(libc::EBADF),
            Error::UserNotFound { .. } => Some(libc::ENOENT),
            Error::Namespace { source, .. } => source.raw_os_error(),
        }
    }

    /// The errno's symbolic name (`"EPERM"`), the code a JavaScript error carries.
    pub fn code(&self) -> Cow<'static, str> {
        self.errno().map_or(Cow::Borrowed("EIO"), errno_name)
    }

    /// An [`Error::InvalidArgument`] about `option`.
    pub fn invalid(option: &'static str, message: impl Into<String>) -> Self {
        Error::InvalidArgument { option, message: message.into() }
    }

    /// The option or argument an [`Error::InvalidArgument`] is about.
    #[must_use]
    pub fn option(&self) -> Option<&'static str> {
        match self {
            Error::InvalidArgument { option, .. } => Some(option),
            _ => None,
        }
    }

    /// True for "nothing to receive now" from [`crate::Queue::try_receive`] (EAGAIN): not a
    /// failure, a reason to wait for the descriptor again.
    #[must_use]
    pub fn is_would_block(&self) -> bool {
        matches!(self, Error::Io { source, .. } if source.kind() == io::ErrorKind::WouldBlock)
    }

    pub(crate) fn io(operation: impl Into<String>, source: io::Error) -> Self {
        Error::Io { operation: operation.into(), source }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidArgument { message, .. } => f.write_str(message),
            Error::PermissionDenied { operation } => write!(
                f,
                "{operation}: permission denied (EPERM): the process needs CAP_NET_ADMIN. Run it as root, or grant \
                 the capability: systemd AmbientCapabilities=CAP_NET_ADMIN, \
                 `setpriv --inh-caps +net_admin --ambient-caps +net_admin ...`, or `setcap cap_net_admin+ep` on a native binary"
            ),
            Error::AlreadyBound { queue, owner_port_id, owner_process } => {
                if let Some((pid, _)) = owner_process.as_ref().filter(|(pid, _)| *pid == std::process::id()) {
                    write!(f, "queue {queue} is already bound by this process (pid {pid}")?;
                    if let Some(port) = owner_port_id {
                        write!(f, ", netlink port id {port}")?;
                    }
                    return write!(f, "): use the queue already open, or close it before opening the queue again (EPERM)");
                }
                write!(f, "queue {queue} is already bound by another process")?;
                match (owner_process, owner_port_id) {
                    (Some((pid, command)), _) => write!(f, " (pid {pid}, {command})")?,
                    (None, Some(port)) => write!(f, " (netlink port id {port})")?,
                    (None, None) => {}
                }
                write!(f, ": stop that program or use another queue number (EPERM)")
            }
            Error::Unsupported { operation, feature, hint } => {
                write!(f, "{operation}: the kernel does not support ")?;
                match feature {
                    Some(feature) => write!(f, "{feature}")?,
                    None => write!(f, "this request")?,
                }
                write!(f, " (EOPNOTSUPP)")?;
                if let Some(hint) = hint {
                    write!(f, ": {hint}")?;
                }
                Ok(())
            }
            Error::Kernel { operation, errno, message } => {
                write!(f, "{operation}: the kernel answered {} ({})", errno_name(*errno), io::Error::from_raw_os_error(*errno))?;
                if let Some(message) = message {
                    write!(f, ": {message}")?;
                }
                Ok(())
            }
            // An OS error's text is the source (`source()`), not repeated here: error reporters
            // (anyhow, eyre) print the chain. Any other error's text is said here, and is no source.
            Error::Io { operation, source } => match source.raw_os_error() {
                Some(errno) => write!(f, "{operation} failed ({})", errno_name(errno)),
                None => write!(f, "{operation} failed: {source}"),
            },
            Error::Decode(e) => write!(f, "malformed message from the kernel: {e}"),
            Error::Closed => write!(f, "the queue is closed"),
            Error::Namespace { operation, path, source } => {
                let name = match path.strip_prefix("/var/run/netns") {
                    Ok(name) => name.display().to_string(),
                    Err(_) => path.display().to_string(),
                };
                match self.kind() {
                    ErrorKind::NamespaceNotFound if source.raw_os_error() == Some(libc::EINVAL) => write!(
                        f,
                        "{operation}: {name} is not a network namespace (EINVAL): give a name from `ip netns list`, \
                         or the path of a namespace file such as /run/netns/NAME or /proc/PID/ns/net"
                    ),
                    ErrorKind::NamespaceNotFound => write!(
                        f,
                        "{operation}: network namespace {name} does not exist (ENOENT): list them with `ip netns list`, \
                         create one with `ip netns add NAME`"
                    ),
                    ErrorKind::NamespacePermissionDenied => write!(
                        f,
                        "{operation}: entering network namespace {name} needs CAP_SYS_ADMIN, which this process lacks \
                         ({}): run it as root, or start it inside the namespace (`ip netns exec {name} ...`) and leave \
                         out the namespace option",
                        errno_name(source.raw_os_error().unwrap_or(libc::EPERM))
                    ),
                    _ => {
                        let code = source.raw_os_error().map_or(Cow::Borrowed("EIO"), errno_name);
                        write!(f, "{operation}: cannot enter network namespace {name} ({code})")
                    }
                }
            }
            Error::UserNotFound { user } => {
                write!(f, "there is no user named '{user}' (see /etc/passwd, or `getent passwd {user}`) (ENOENT)")
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } if source.raw_os_error().is_some() => Some(source),
            Error::Namespace { source, .. } if !matches!(self.kind(), ErrorKind::Io) => None, // explained in the message
            Error::Namespace { source, .. } => Some(source),
            _ => None, // the message says it all (a DecodeError is part of it)
        }
    }
}

/// For code that speaks [`io::Result`] (tokio's `AsyncFd::try_io`, mio): an [`Error::Io`] keeps
/// its OS error (so `WouldBlock` stays `WouldBlock`); the others become an [`io::Error`] of the
/// matching kind that wraps this error.
impl From<Error> for io::Error {
    fn from(error: Error) -> Self {
        let kind = match &error {
            Error::Io { source, .. } if source.kind() == io::ErrorKind::WouldBlock => return io::Error::from(io::ErrorKind::WouldBlock),
            Error::Io { source, .. } | Error::Namespace { source, .. } => source.kind(),
            Error::InvalidArgument { .. } => io::ErrorKind::InvalidInput,
            Error::PermissionDenied { .. } | Error::AlreadyBound { .. } => io::ErrorKind::PermissionDenied,
            Error::Unsupported { .. } => io::ErrorKind::Unsupported,
            Error::Decode(_) => io::ErrorKind::InvalidData,
            Error::Closed => io::ErrorKind::NotConnected,
            Error::UserNotFound { .. } => io::ErrorKind::NotFound,
            Error::Kernel { .. } => io::ErrorKind::Other,
        };
        io::Error::new(kind, error)
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        Error::Decode(e)
    }
}

/// The symbolic name of an errno: `errno_name(1) == "EPERM"`; `E<number>` for one without a name.
pub fn errno_name(errno: i32) -> Cow<'static, str> {
    crate::facts::errno_name(errno).map_or_else(|| Cow::Owned(format!("E{errno}")), Cow::Borrowed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_come_from_the_shared_table_and_unknown_numbers_keep_their_number() {
        assert_eq!(errno_name(libc::EPERM), "EPERM");
        assert_eq!(errno_name(libc::ENOBUFS), "ENOBUFS");
        assert_eq!(errno_name(4095), "E4095");
        assert_eq!(Error::Closed.code(), "EBADF");
    }
}
