//! Choosing the network namespace to inspect.
//!
//! A sock_diag socket, `/proc/sys/net` and `/proc/thread-self/net` all answer
//! for the namespace of the thread using them. To inspect another namespace we
//! enter it on a dedicated thread, do the namespace-scoped work there, and let
//! the thread end; the rest of sockscope never changes namespace. Inspecting
//! every namespace on the host is then a loop over targets.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;
use std::path::PathBuf;

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use super::error::CollectError;

/// Where to collect.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum NetnsTarget {
    /// sockscope's own namespace.
    #[default]
    Current,
    /// A namespace file: `/run/netns/NAME`, `/proc/PID/ns/net`, or any path.
    File { label: String, path: PathBuf },
}

impl NetnsTarget {
    /// Interprets `--netns`: a name from `ip netns`, a pid, or a path.
    pub fn parse(spec: &str) -> Result<NetnsTarget, CollectError> {
        let spec = spec.trim();
        let path = if spec.is_empty() {
            return Err(CollectError::NoSuchNetns("--netns needs a name, pid or path".into()));
        } else if spec.contains('/') {
            PathBuf::from(spec)
        } else if spec.bytes().all(|b| b.is_ascii_digit()) {
            PathBuf::from(format!("/proc/{spec}/ns/net"))
        } else {
            PathBuf::from(format!("/run/netns/{spec}"))
        };
        let target = NetnsTarget::File { label: spec.to_string(), path };
        target.open()?;
        Ok(target)
    }

    pub fn label(&self) -> Option<&str> {
        match self {
            NetnsTarget::Current => None,
            NetnsTarget::File { label, .. } => Some(label),
        }
    }

    fn open(&self) -> Result<Option<File>, CollectError> {
        let NetnsTarget::File { label, path } = self else {
            return Ok(None);
        };
        let file = File::open(path).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => CollectError::NoSuchNetns(not_found(label, path)),
            _ => enter_error(label, e),
        })?;
        match is_network_namespace(&file) {
            true => Ok(Some(file)),
            false => Err(CollectError::NoSuchNetns(format!(
                "--netns {label}: {} is not a network namespace (expected an `ip netns` name, a pid, or a file such as /proc/PID/ns/net)",
                path.display()
            ))),
        }
    }

    /// Runs `work` inside the namespace and returns its result.
    pub fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> Result<T, CollectError> {
        let Some(file) = self.open()? else {
            return Ok(work());
        };
        let label = self.label().unwrap_or_default();
        std::thread::scope(|scope| {
            let thread = scope.spawn(move || {
                move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network))
                    .map_err(|e| enter_error(label, e.into()))
                    .map(|()| work())
            });
            thread.join().map_err(|_| CollectError::ThreadPanicked)?
        })
    }
}

/// Whether `file` is a namespace file (nsfs) of a network namespace.
pub(super) fn is_network_namespace(file: &File) -> bool {
    const NSFS_MAGIC: i64 = 0x6e73_6673;
    const NS_GET_NSTYPE: libc::c_ulong = 0xb703;
    // `f_type`'s width differs between architectures.
    #[allow(clippy::unnecessary_cast)]
    let nsfs = rustix::fs::fstatfs(file).is_ok_and(|st| st.f_type as i64 == NSFS_MAGIC);
    // SAFETY: NS_GET_NSTYPE takes no argument and only returns the namespace type.
    nsfs && unsafe { libc::ioctl(std::os::fd::AsRawFd::as_raw_fd(file), NS_GET_NSTYPE) } == libc::CLONE_NEWNET
}

fn not_found(label: &str, path: &std::path::Path) -> String {
    if label.bytes().all(|b| b.is_ascii_digit()) {
        format!("--netns {label}: no process with pid {label}")
    } else if label.contains('/') {
        format!("--netns {label}: no such file")
    } else {
        format!(
            "--netns {label}: no network namespace named '{label}' ({} does not exist; see `ip netns list`)",
            path.display()
        )
    }
}

fn enter_error(label: &str, source: io::Error) -> CollectError {
    let hint = match source.raw_os_error() {
        Some(libc::EPERM) | Some(libc::EACCES) => {
            " (entering another network namespace needs root or CAP_SYS_ADMIN)"
        }
        Some(libc::EINVAL) => " (that file is not a network namespace)",
        _ => "",
    };
    CollectError::EnterNetns { target: label.to_string(), source, hint }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_pids_and_paths_resolve_to_files() {
        let me = std::process::id().to_string();
        let by_pid = NetnsTarget::parse(&me).unwrap();
        assert_eq!(
            by_pid,
            NetnsTarget::File { label: me.clone(), path: PathBuf::from(format!("/proc/{me}/ns/net")) }
        );
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
        for path in ["/proc/self/status", "/proc/self/ns/mnt"] {
            let err = NetnsTarget::parse(path).unwrap_err();
            assert!(err.is_bad_input(), "{err}");
            assert!(err.to_string().contains("is not a network namespace"), "{err}");
        }
    }
}
