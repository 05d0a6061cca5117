//! A named network namespace (`/run/netns/NAME`, as `ip netns add` makes it:
//! a bind mount of a namespace file) that a test can delete and re-create
//! under the same name, to check that sockscope notices the change.

use std::fs::File;
use std::os::fd::AsFd;
use std::path::PathBuf;

use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

use super::lab::loopback_up;

pub struct NamedNetns {
    pub name: String,
    pub path: PathBuf,
}

impl NamedNetns {
    /// Creates `/run/netns/sockscope-NAME-PID` holding a fresh namespace with `lo` up.
    pub fn create(name: &str) -> NamedNetns {
        let name = format!("sockscope-{name}-{}", std::process::id());
        let path = PathBuf::from("/run/netns").join(&name);
        std::fs::create_dir_all("/run/netns").expect("mkdir /run/netns");
        let ns = NamedNetns { name, path };
        ns.mount_fresh();
        ns
    }

    fn mount_fresh(&self) {
        File::create(&self.path).expect("create the mount point");
        let target = std::ffi::CString::new(self.path.to_str().expect("utf-8 path")).expect("path");
        std::thread::spawn(move || {
            // SAFETY: unshare and mount affect this fresh, single-purpose thread
            // (and the file system, by the bind mount we mean to make).
            unsafe {
                assert_eq!(libc::unshare(libc::CLONE_NEWNET), 0, "unshare");
                loopback_up();
                let source = c"/proc/thread-self/ns/net";
                let rc = libc::mount(
                    source.as_ptr(),
                    target.as_ptr(),
                    std::ptr::null(),
                    libc::MS_BIND,
                    std::ptr::null(),
                );
                assert_eq!(rc, 0, "bind mount: {}", std::io::Error::last_os_error());
            }
        })
        .join()
        .expect("namespace thread");
    }

    /// `ip netns delete`: the name goes; the namespace lives on while anything holds it.
    pub fn delete(&self) {
        let target = std::ffi::CString::new(self.path.to_str().expect("utf-8 path")).expect("path");
        // SAFETY: detaching a bind mount we made.
        unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) };
        let _ = std::fs::remove_file(&self.path);
    }

    /// A new namespace under the same name.
    pub fn recreate(&self) {
        self.delete();
        self.mount_fresh();
    }

    /// The inode of the namespace the name holds now.
    pub fn inode(&self) -> u64 {
        std::os::unix::fs::MetadataExt::ino(&std::fs::metadata(&self.path).expect("netns file"))
    }

    /// Runs `work` on a thread inside the namespace the name holds now.
    pub fn run<T: Send>(&self, work: impl FnOnce() -> T + Send) -> T {
        let file = File::open(&self.path).expect("open netns");
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    move_into_link_name_space(file.as_fd(), Some(LinkNameSpaceType::Network)).expect("setns");
                    work()
                })
                .join()
                .expect("netns thread panicked")
        })
    }
}

impl Drop for NamedNetns {
    fn drop(&mut self) {
        self.delete();
    }
}
