//! Choosing the network namespace to inspect, and keeping track of it.
//!
//! A sock_diag socket, `/proc/sys/net` and `/proc/thread-self/net` all answer
//! for the namespace of the thread using them. To inspect another namespace we
//! enter it on a dedicated thread, do the namespace-scoped work there, and let
//! the thread end; the rest of sockscope never changes namespace.
//!
//! A namespace's identity is its ns file's (st_dev, st_ino). A named
//! namespace can be deleted and re-created, and a pid can be reused, so the
//! target is opened afresh for every snapshot and its identity compared with
//! the last one (the collector reopens its netlink socket when it changed).
//! A `--netns PID` target is also pinned to that process (its start time):
//! once it exits, following "the namespace of whoever has that pid now"
//! would silently mix another namespace's sockets in.
//!
//! Opening is careful: `O_NONBLOCK` (a FIFO must not hang us), then the file
//! must be nsfs and `NS_GET_NSTYPE` must say network, before anything else.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};

use rustix::fs::{FileType, Mode, OFlags};
use rustix::io::Errno;
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use super::error::CollectError;
use super::owners;

/// The identity of a network namespace: its ns file's device and inode.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct NetnsId {
    pub dev: u64,
    pub ino: u64,
}

/// The process a `--netns PID` target follows: pid and start time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PinnedProcess {
    pub pid: u32,
    pub start_time: u64,
}

/// Where to collect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NetnsTarget {
    /// sockscope's own namespace.
    #[default]
    Current,
    /// A namespace file: `/run/netns/NAME`, `/proc/PID/ns/net`, or any path;
    /// `process` is set for a pid target.
    File { label: String, path: PathBuf, process: Option<PinnedProcess> },
}

/// An opened, checked namespace file.
pub struct OpenNetns {
    label: String,
    path: PathBuf,
    file: File,
    pub id: NetnsId,
}

/// What a `--netns` argument names.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Spec {
    Path(PathBuf),
    Pid(u32),
    Name(String),
}

/// Classifies a `--netns` argument: a path contains `/`; a (signed) number
/// is a pid, which must be positive; anything else is an `ip netns` name.
pub(super) fn classify_spec(spec: &str) -> Result<Spec, String> {
    let spec = spec.trim();
    let digits = spec.strip_prefix(['+', '-']).unwrap_or(spec);
    if spec.is_empty() {
        Err("--netns needs a name, pid or path".to_string())
    } else if spec.contains('/') {
        Ok(Spec::Path(PathBuf::from(spec)))
    } else if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        match spec.parse::<u32>() {
            Ok(pid) if pid > 0 && !spec.starts_with('+') => Ok(Spec::Pid(pid)),
            _ => Err(format!("--netns {spec}: not a pid (a process id is a whole number from 1)")),
        }
    } else {
        Ok(Spec::Name(spec.to_string()))
    }
}

impl NetnsTarget {
    /// Interprets and checks `--netns`: a name from `ip netns`, a pid, or a
    /// path. Every refusal is bad input with one line naming the path and why.
    pub fn parse(spec: &str) -> Result<NetnsTarget, CollectError> {
        let label = spec.trim().to_string();
        let target = match classify_spec(spec).map_err(CollectError::NoSuchNetns)? {
            Spec::Path(path) => NetnsTarget::File { label, path, process: None },
            Spec::Name(name) => {
                NetnsTarget::File { label, path: Path::new("/run/netns").join(name), process: None }
            }
            Spec::Pid(pid) => {
                let start_time = owners::read_stat(pid)
                    .map_err(|_| {
                        CollectError::NoSuchNetns(format!("--netns {pid}: no process with pid {pid}"))
                    })?
                    .start_time;
                let path = PathBuf::from(format!("/proc/{pid}/ns/net"));
                NetnsTarget::File { label, path, process: Some(PinnedProcess { pid, start_time }) }
            }
        };
        let opened = target.open().map_err(CollectError::into_bad_input)?;
        if let Some(netns) = &opened {
            netns.enter(|| ()).map_err(CollectError::into_bad_input)?;
        }
        Ok(target)
    }

    pub fn label(&self) -> Option<&str> {
        match self {
            NetnsTarget::Current => None,
            NetnsTarget::File { label, .. } => Some(label),
        }
    }

    /// Opens and checks the namespace file now (`None`: our own namespace).
    pub fn open(&self) -> Result<Option<OpenNetns>, CollectError> {
        let NetnsTarget::File { label, path, process } = self else {
            return Ok(None);
        };
        let gone = || process.and_then(|p| process_gone(label, p));
        if let Some(e) = gone() {
            return Err(e);
        }
        let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC | OFlags::NOCTTY;
        let file = match rustix::fs::open(path, flags, Mode::empty()) {
            Ok(fd) => File::from(fd),
            Err(e) => return Err(gone().unwrap_or_else(|| open_error(label, path, e))),
        };
        let id = check_network_namespace(&file).map_err(|what| not_a_netns(label, path, &what))?;
        // The pid may have been reused between the check and the open.
        match gone() {
            Some(e) => Err(e),
            None => Ok(Some(OpenNetns { label: label.clone(), path: path.clone(), file, id })),
        }
    }
}

impl OpenNetns {
    /// Runs `work` on a thread inside the namespace and returns its result.
    pub fn enter<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T, CollectError> {
        std::thread::scope(|scope| {
            let thread = scope.spawn(|| {
                move_into_link_name_space(self.file.as_fd(), Some(LinkNameSpaceType::Network))
                    .map_err(|e| CollectError::EnterNetns {
                        target: self.label.clone(),
                        path: self.path.display().to_string(),
                        reason: enter_reason(e),
                    })
                    .map(|()| work())
            });
            thread.join().map_err(|_| CollectError::ThreadPanicked)?
        })
    }
}

/// Runs `work` in `netns`, or on the calling thread for our own namespace.
pub(super) fn run_in<T: Send>(
    netns: Option<&OpenNetns>,
    work: impl FnOnce() -> T + Send,
) -> Result<T, CollectError> {
    match netns {
        Some(netns) => netns.enter(work),
        None => Ok(work()),
    }
}

/// The error when a pinned process exited or its pid now names another one.
fn process_gone(label: &str, p: PinnedProcess) -> Option<CollectError> {
    let why = owners::exit_of(p.pid, p.start_time)?;
    Some(CollectError::NetnsGone(format!(
        "--netns {label}: process {} {why}; its network namespace can no longer be followed",
        p.pid
    )))
}

/// Whether `file` is a namespace file (nsfs) of a network namespace.
pub(super) fn is_network_namespace(file: &File) -> bool {
    check_network_namespace(file).is_ok()
}

/// The namespace identity if `file` is a network namespace file (nsfs);
/// otherwise what it is instead. (nsfs files are "regular" by their mode, so
/// the file system decides first.)
fn check_network_namespace(file: &File) -> Result<NetnsId, String> {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
    let st = rustix::fs::fstat(file).map_err(|e| format!("cannot be examined ({e})"))?;
    // `f_type`'s width differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    let nsfs = rustix::fs::fstatfs(file).is_ok_and(|fs| fs.f_type as i64 == NSFS_MAGIC);
    if !nsfs {
        return Err(match FileType::from_raw_mode(st.st_mode) {
            FileType::RegularFile => "is a regular file",
            FileType::Directory => "is a directory",
            FileType::Fifo => "is a FIFO",
            FileType::Socket => "is a socket",
            FileType::CharacterDevice | FileType::BlockDevice => "is a device",
            _ => "is not a namespace file",
        }
        .to_string());
    }
    // SAFETY: NS_GET_NSTYPE takes no argument and only returns the namespace type.
    match unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(file), NS_GET_NSTYPE) } {
        libc::CLONE_NEWNET => Ok(NetnsId { dev: st.st_dev, ino: st.st_ino }),
        _ => Err("is another kind of namespace".into()),
    }
}

fn not_a_netns(label: &str, path: &Path, what: &str) -> CollectError {
    CollectError::NoSuchNetns(format!(
        "--netns {label}: {} {what}, not a network namespace (expected an `ip netns` name, a pid, or a file such as /proc/PID/ns/net)",
        path.display()
    ))
}

fn open_error(label: &str, path: &Path, e: Errno) -> CollectError {
    let path_text = path.display();
    let message = match e {
        Errno::NOENT if label.bytes().all(|b| b.is_ascii_digit()) => {
            format!("--netns {label}: no process with pid {label}")
        }
        Errno::NOENT if !label.contains('/') => format!(
            "--netns {label}: no network namespace named '{label}' ({path_text} does not exist; see `ip netns list`)"
        ),
        Errno::NOENT => format!("--netns {label}: {path_text} does not exist"),
        Errno::ACCESS | Errno::PERM => {
            format!("--netns {label}: permission denied opening {path_text}: {}", denied_why())
        }
        other => format!("--netns {label}: cannot open {path_text}: {}", io::Error::from(other)),
    };
    CollectError::NoSuchNetns(message)
}

/// Why opening a namespace file was refused: privilege we lack, or, as root,
/// a refusal that more privilege does not lift.
fn denied_why() -> &'static str {
    denied_reason(rustix::process::geteuid().is_root())
}

fn denied_reason(root: bool) -> &'static str {
    match root {
        false => {
            "inspecting another network namespace needs root (CAP_SYS_ADMIN to enter it, and CAP_SYS_PTRACE to \
             open another user's /proc/PID/ns/net)"
        }
        true => "refused even to root (a security module, or a process shielded from ptrace)",
    }
}

fn enter_reason(e: Errno) -> String {
    match e {
        Errno::PERM | Errno::ACCESS if rustix::process::geteuid().is_root() => {
            format!("permission denied: {}", denied_reason(true))
        }
        Errno::PERM | Errno::ACCESS => {
            "permission denied; entering a network namespace needs root (CAP_SYS_ADMIN)".to_string()
        }
        other => io::Error::from(other).to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_refusal_is_blamed_on_missing_root_only_when_not_root() {
        assert!(super::denied_reason(false).contains("needs root"));
        let as_root = super::denied_reason(true);
        assert!(as_root.contains("even to root") && !as_root.contains("needs root"), "{as_root}");
    }

    use super::*;

    #[test]
    fn specs_are_paths_pids_or_names() {
        assert_eq!(classify_spec("/proc/1/ns/net"), Ok(Spec::Path("/proc/1/ns/net".into())));
        assert_eq!(classify_spec(" 42 "), Ok(Spec::Pid(42)));
        assert_eq!(classify_spec("blue"), Ok(Spec::Name("blue".into())));
        assert_eq!(classify_spec("12ab"), Ok(Spec::Name("12ab".into())));
        for bad in ["-5", "0", "+7", "99999999999", "-"] {
            let spec = classify_spec(bad);
            assert!(bad == "-" || spec.as_ref().is_err_and(|e| e.contains("not a pid")), "{bad}: {spec:?}");
        }
        assert!(classify_spec("  ").is_err());
    }

    #[test]
    fn names_pids_and_paths_resolve_to_files() {
        let me = std::process::id();
        let NetnsTarget::File { path, process, .. } = NetnsTarget::parse(&me.to_string()).unwrap() else {
            panic!("a file target")
        };
        assert_eq!(path, PathBuf::from(format!("/proc/{me}/ns/net")));
        assert_eq!(process.map(|p| p.pid), Some(me));
        assert!(NetnsTarget::parse("/proc/self/ns/net").is_ok());
    }

    #[test]
    fn missing_namespaces_are_bad_input_with_a_clear_message() {
        let err = NetnsTarget::parse("no-such-ns-xyz").unwrap_err();
        assert!(err.is_bad_input());
        assert!(err.to_string().contains("ip netns list"), "{err}");
        let err = NetnsTarget::parse("999999999").unwrap_err();
        assert!(err.to_string().contains("no process with pid"), "{err}");
    }

    #[test]
    fn a_file_that_is_not_a_network_namespace_is_bad_input() {
        for (path, what) in [
            ("/proc/self/status", "is a regular file"),
            ("/proc/self/ns/mnt", "another kind of namespace"),
            ("/proc/self", "is a directory"),
            ("/dev/null", "is a device"),
        ] {
            let err = NetnsTarget::parse(path).unwrap_err();
            assert!(err.is_bad_input(), "{err}");
            let text = err.to_string();
            assert!(text.contains("not a network namespace") && text.contains(what), "{text}");
            assert!(text.contains(path), "names the path: {text}");
        }
    }

    #[test]
    fn a_pid_now_held_by_another_process_is_not_followed() {
        let me = std::process::id();
        let start_time = owners::read_stat(me).unwrap().start_time;
        assert!(process_gone("x", PinnedProcess { pid: me, start_time }).is_none());
        let reused = process_gone("x", PinnedProcess { pid: me, start_time: start_time + 1 }).unwrap();
        assert!(!reused.is_bad_input() && reused.is_final());
        assert!(reused.to_string().contains("now belongs to another process"), "{reused}");
        let target = NetnsTarget::File {
            label: me.to_string(),
            path: PathBuf::from(format!("/proc/{me}/ns/net")),
            process: Some(PinnedProcess { pid: me, start_time: start_time + 1 }),
        };
        assert!(target.open().is_err_and(|e| e.is_final()));
    }

    #[test]
    fn the_same_namespace_has_the_same_identity() {
        let a = NetnsTarget::parse("/proc/self/ns/net").unwrap().open().unwrap().unwrap().id;
        let b = NetnsTarget::parse("/proc/thread-self/ns/net").unwrap().open().unwrap().unwrap().id;
        assert_eq!(a, b);
    }
}
