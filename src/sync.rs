//! Locking that survives a panic elsewhere. Every mutex in the daemon guards state that stays
//! consistent between statements (queues, counters, a log file handle), so a thread that
//! panicked while holding one must not take the sampler, the writer or the socket server down
//! with it: the next holder takes the lock as it is.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Locks `m`, taking the state as it is when a holder panicked.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Waits on `cv` like [`Condvar::wait`], tolerating a poisoned lock the same way.
pub fn wait<'a, T>(cv: &Condvar, guard: MutexGuard<'a, T>) -> MutexGuard<'a, T> {
    cv.wait(guard).unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_is_taken_as_it_is() {
        let m = std::sync::Arc::new(Mutex::new(1));
        let m2 = m.clone();
        let _ = std::thread::spawn(move || {
            let mut g = m2.lock().unwrap();
            *g = 2;
            panic!("poison it");
        })
        .join();
        assert!(m.is_poisoned());
        assert_eq!(*lock(&m), 2);
    }
}
