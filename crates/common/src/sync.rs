//! Locks.

use std::sync::{Mutex, MutexGuard};

/// A lock that a panicked holder left poisoned still guards plain data: it is used, not
/// turned into an error the user can do nothing about.
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
