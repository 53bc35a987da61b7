//! The expiry clock's hook into `fork`: a child inherits none of its parent's
//! threads, so its clock must be told that its ticker is gone.

/// Makes every later `fork` run `clock::stop_after_fork` in the child. Returns
/// whether that is so; the clock starts no ticker otherwise, since a child's
/// clock would freeze. Where there is no `fork`, there is nothing to do.
pub(crate) fn stop_clock_in_forked_children() -> bool {
    #[cfg(unix)]
    {
        extern "C" fn in_child() {
            crate::clock::stop_after_fork();
        }
        // SAFETY: `pthread_atfork` asks two things of its handlers. (1) They
        // stay callable for as long as the process can fork: `in_child` is a
        // function of this binary, and the null `prepare` and `parent`
        // handlers are allowed. (2) A child handler, running in the child of a
        // possibly multithreaded process, calls only async-signal-safe
        // functions: `clock::stop_after_fork` does nothing but lock-free
        // atomic operations and cannot panic (its documented contract).
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) == 0 }
    }
    #[cfg(not(unix))]
    true
}
