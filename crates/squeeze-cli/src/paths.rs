//! The path policy of every command is `squeeze::files::paths` (shared with the Python module);
//! the command adds the Ctrl-C handler that removes live temporaries.

pub use squeeze::files::paths::*;

/// Installs a Ctrl-C (SIGINT/SIGTERM) handler that removes every live temporary and exits 130.
pub fn remove_temporaries_on_interrupt() {
    // Failing to install (a handler already set) only loses the cleanup; not worth stopping for.
    let _ = ctrlc::set_handler(|| {
        remove_temporaries();
        eprintln!("squeeze: interrupted; partial output removed");
        std::process::exit(130);
    });
}
