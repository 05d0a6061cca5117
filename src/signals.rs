//! SIGTERM, SIGHUP and SIGINT as messages: blocked in every thread and
//! received by one thread with `sigwait`, so the dashboard can restore the
//! terminal and watch mode can print its summary before exiting.

use std::sync::mpsc::Sender;

const SIGNALS: [libc::c_int; 3] = [libc::SIGTERM, libc::SIGHUP, libc::SIGINT];

fn signal_set() -> libc::sigset_t {
    // SAFETY: sigemptyset/sigaddset initialise and fill a local sigset_t.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for sig in SIGNALS {
            libc::sigaddset(&mut set, sig);
        }
        set
    }
}

/// Blocks the signals in the calling thread (and threads it spawns later),
/// then sends `message(signal)` on `tx` for each one received.
pub fn forward<M: Send + 'static>(tx: Sender<M>, message: fn(i32) -> M) {
    let set = signal_set();
    // SAFETY: blocking signals for this thread; threads spawned later inherit the mask.
    unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    std::thread::spawn(move || {
        loop {
            let mut sig: libc::c_int = 0;
            // SAFETY: sigwait on a set of signals blocked in every thread.
            if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
                return;
            }
            if tx.send(message(sig)).is_err() {
                return;
            }
        }
    });
}
