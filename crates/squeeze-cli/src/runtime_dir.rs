//! A private `XDG_RUNTIME_DIR` when the environment has none. The Vulkan loader's WSI (Mesa's
//! Wayland support in lavapipe, for one) prints `error: XDG_RUNTIME_DIR is invalid or not set
//! in the environment.` when the variable is unset — harmless for compute, but an `error:` line
//! a user should not see. squeeze sets it, only when unset or empty, to a fresh 0700 temporary
//! directory that is removed at exit and on Ctrl-C; a session's own runtime directory is never
//! replaced.

use crate::paths::Temporary;

/// Sets `XDG_RUNTIME_DIR` to a new private directory if it is unset or empty; the directory
/// lives as long as the returned guard. If none can be made, the variable stays unset (the
/// loader's line is the only cost).
///
/// # Safety
///
/// Changes the process environment: call it before any thread is started (in `main`, right
/// after parsing the arguments).
#[cfg(all(unix, not(target_vendor = "apple")))]
pub unsafe fn ensure() -> Option<Temporary> {
    use std::os::unix::fs::PermissionsExt;

    if std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|v| !v.is_empty()) {
        return None;
    }
    let dir = tempfile::Builder::new()
        .prefix("squeeze-runtime-")
        .permissions(std::fs::Permissions::from_mode(0o700))
        .tempdir()
        .ok()?;
    // Owned by a `Temporary` from here, so Ctrl-C removes it too.
    let dir = Temporary::new(dir.keep());
    // SAFETY: the caller guarantees no other thread exists yet.
    unsafe { std::env::set_var("XDG_RUNTIME_DIR", dir.path()) };
    Some(dir)
}

/// Nothing to set where the Vulkan loader does not look for an XDG runtime directory.
///
/// # Safety
///
/// None needed; unsafe only to match the Unix version.
#[cfg(not(all(unix, not(target_vendor = "apple"))))]
pub unsafe fn ensure() -> Option<()> {
    None
}
