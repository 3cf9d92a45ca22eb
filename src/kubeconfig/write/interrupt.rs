//! The signal guard: while a command holds locks, SIGINT, SIGTERM and SIGHUP only set a
//! flag, so the locks are removed on the way out.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// Set by SIGINT, SIGTERM or SIGHUP while an [`InterruptGuard`] is alive.
fn interrupt_flag() -> &'static Arc<AtomicBool> {
    static FLAG: OnceLock<Arc<AtomicBool>> = OnceLock::new();
    FLAG.get_or_init(Arc::default)
}

/// Whether a stop signal arrived while an [`InterruptGuard`] was alive.
pub fn interrupted() -> bool {
    interrupt_flag().load(Ordering::SeqCst)
}

/// While alive, SIGINT, SIGTERM and SIGHUP only set a flag instead of killing the process,
/// so a rotate waiting for a lock (or about to write) stops cleanly and its own `.lock`
/// files are removed by their `Drop`, instead of being left behind to block every kubectl
/// write. Taken only around the locked part: at a prompt, Ctrl-C still stops at once.
///
/// signal-hook cannot give a signal its default disposition back once it handles it, so
/// the handlers are registered once, for the whole process, and outside a guard they run
/// the default action themselves (`register_conditional_default`): Ctrl-C after the last
/// guard is gone ends the program as it would have before the first.
pub struct InterruptGuard {
    _private: (),
}

/// How many guards are alive, and the flag that lets the handlers run the default action.
#[cfg(unix)]
pub(super) fn guard_state() -> &'static (std::sync::Mutex<usize>, Arc<AtomicBool>) {
    static STATE: OnceLock<(std::sync::Mutex<usize>, Arc<AtomicBool>)> = OnceLock::new();
    STATE.get_or_init(|| {
        use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
        let default_action = Arc::new(AtomicBool::new(true));
        for sig in [SIGINT, SIGTERM, SIGHUP] {
            // Registration fails only for forbidden signals; these three are not.
            let _ =
                signal_hook::flag::register_conditional_default(sig, Arc::clone(&default_action));
            let _ = signal_hook::flag::register(sig, Arc::clone(interrupt_flag()));
        }
        (std::sync::Mutex::new(0), default_action)
    })
}

impl InterruptGuard {
    pub fn install() -> InterruptGuard {
        #[cfg(unix)]
        {
            let (alive, default_action) = guard_state();
            let mut alive = alive
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *alive += 1;
            default_action.store(false, Ordering::SeqCst);
        }
        InterruptGuard { _private: () }
    }
}

impl Drop for InterruptGuard {
    fn drop(&mut self) {
        #[cfg(unix)]
        {
            let (alive, default_action) = guard_state();
            let mut alive = alive
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *alive = alive.saturating_sub(1);
            if *alive == 0 {
                default_action.store(true, Ordering::SeqCst);
            }
        }
    }
}
