//! Tests of credential lookups change the process environment; this does it in one step.

/// Removes each of `remove`, then sets each `(name, value)` of `set`.
///
/// # Safety
/// Other threads must not read or write the environment meanwhile: call it first thing
/// in a test binary that holds that one test, before any runtime or thread starts.
pub unsafe fn replace_env(remove: &[&str], set: &[(&str, &str)]) {
    for var in remove {
        // SAFETY: the caller's promise.
        unsafe { std::env::remove_var(var) };
    }
    for (var, value) in set {
        // SAFETY: the caller's promise.
        unsafe { std::env::set_var(var, value) };
    }
}
