//! A hook into `fork`: a child inherits none of its parent's threads, so the
//! expiry clock must be told in the child that its ticker is gone.

/// Makes every later `fork` run `in_child` in the child. Returns whether that
/// is so. Where there is no `fork`, there is nothing to do.
///
/// `in_child` runs in the child of a possibly multithreaded process, so it
/// must call only async-signal-safe functions (lock-free atomic operations)
/// and must not panic.
pub(crate) fn run_in_forked_children(in_child: extern "C" fn()) -> bool {
    #[cfg(unix)]
    {
        // `pthread_atfork` asks two things of its handlers: (1) they stay
        // callable for as long as the process can fork; (2) a child handler
        // calls only async-signal-safe functions.
        // SAFETY: (1) `in_child` is an `extern "C" fn` of this binary, never
        // unloaded, and null `prepare` and `parent` handlers are allowed; (2)
        // is this function's documented contract for `in_child`.
        unsafe { libc::pthread_atfork(None, None, Some(in_child)) == 0 }
    }
    #[cfg(not(unix))]
    {
        let _ = in_child;
        true
    }
}
