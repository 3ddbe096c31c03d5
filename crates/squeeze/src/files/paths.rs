//! One policy for every path squeeze reads or writes (the `squeeze` command and the Python
//! module's file functions), checked before any work:
//!
//! - **Inputs** must exist and be what the command reads; the error says what the path is
//!   instead ("a directory", "a GGUF file (starts with the GGUF magic)").
//! - **Outputs**: the parent directory must exist (nothing above an output is created); an
//!   existing output is refused unless `--force`; a folder output may be an existing empty
//!   folder.
//! - **Atomic writes**: an output is written to a hidden sibling `.NAME.squeeze-PID.partial` and
//!   renamed into place only when the command succeeds. The temporary is removed on any error,
//!   and by [`remove_temporaries`], which the command's Ctrl-C handler calls.
//! - Files are created with the process umask (mode 0666 & !umask), as other Unix tools do.

use std::ffi::OsString;
use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use squeeze_core::Error;

/// Temporaries alive now: what Ctrl-C removes.
static TEMPORARIES: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

fn temporaries() -> std::sync::MutexGuard<'static, Vec<PathBuf>> {
    TEMPORARIES.lock().unwrap_or_else(|e| e.into_inner())
}

fn remove(path: &Path) {
    let _ = if path.is_dir() {
        std::fs::remove_dir_all(path)
    } else {
        std::fs::remove_file(path)
    };
}

/// Removes every live temporary (for an interrupt handler: the process is about to exit).
pub fn remove_temporaries() {
    let paths = temporaries().clone();
    for path in &paths {
        remove(path);
    }
}

/// A file or folder that exists only while the command works: removed when dropped or by
/// [`remove_temporaries`], unless [`Temporary::keep`] took it.
pub struct Temporary {
    path: PathBuf,
}

impl Temporary {
    /// Registers `path` (not yet created) for removal.
    pub fn new(path: PathBuf) -> Self {
        temporaries().push(path.clone());
        Self { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops tracking the path without removing it.
    fn keep(mut self) -> PathBuf {
        temporaries().retain(|p| *p != self.path);
        std::mem::take(&mut self.path)
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        if self.path.as_os_str().is_empty() {
            return;
        }
        remove(&self.path);
        temporaries().retain(|p| *p != self.path);
    }
}

/// What a path holds, as far as the command cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Directory,
    Gguf,
    Safetensors,
    Other,
}

impl Kind {
    fn describe(self) -> &'static str {
        match self {
            Kind::Directory => "a directory",
            Kind::Gguf => "a GGUF file (starts with the GGUF magic)",
            Kind::Safetensors => "a safetensors file",
            Kind::Other => "neither a safetensors nor a GGUF file",
        }
    }
}

/// What `path` (argument `arg`) holds; a missing path is an error.
pub fn kind(arg: &'static str, path: &Path) -> Result<Kind, Error> {
    let meta = std::fs::metadata(path).map_err(|e| {
        let why = if e.kind() == std::io::ErrorKind::NotFound {
            "does not exist".to_string()
        } else {
            e.to_string()
        };
        Error::invalid(
            arg,
            "path",
            "an existing file or folder",
            format!("{}: {why}", path.display()),
        )
    })?;
    if meta.is_dir() {
        return Ok(Kind::Directory);
    }
    let mut head = [0u8; 9];
    let mut read = 0;
    let mut file = File::open(path)
        .map_err(|e| Error::invalid(arg, "file", "readable", format!("{}: {e}", path.display())))?;
    while read < head.len() {
        match file.read(&mut head[read..]) {
            Ok(0) => break,
            Ok(n) => read += n,
            Err(e) => {
                return Err(Error::invalid(
                    arg,
                    "file",
                    "readable",
                    format!("{}: {e}", path.display()),
                ));
            }
        }
    }
    if read >= 4 && &head[..4] == b"GGUF" {
        return Ok(Kind::Gguf);
    }
    let header = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
    if read == 9 && header > 0 && 8 + header <= meta.len() && head[8] == b'{' {
        return Ok(Kind::Safetensors);
    }
    Ok(Kind::Other)
}

/// Checks that `path` exists and is of `expected` kind.
pub fn input(arg: &'static str, path: &Path, expected: Kind) -> Result<(), Error> {
    let actual = kind(arg, path)?;
    if actual == expected {
        return Ok(());
    }
    Err(Error::invalid(
        arg,
        "path",
        expected.describe(),
        format!("{}: {}", path.display(), actual.describe()),
    ))
}

/// Whether an output is one file or a folder of files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputKind {
    File,
    Folder,
}

/// An output path checked before any work, written through a temporary sibling and renamed
/// into place by [`Output::commit`]; dropped uncommitted, the temporary is removed.
pub struct Output {
    arg: &'static str,
    target: PathBuf,
    kind: OutputKind,
    temporary: Temporary,
}

impl Output {
    /// Checks `target` (argument `arg`) against the policy of the module doc. A folder output's
    /// temporary folder is created here; a file output's temporary is for the caller to create.
    pub fn new(
        arg: &'static str,
        target: &Path,
        kind: OutputKind,
        force: bool,
    ) -> Result<Self, Error> {
        let shown = target.display();
        let bad = |expected: &str, actual: String| Error::invalid(arg, "path", expected, actual);
        let Some(name) = target.file_name() else {
            return Err(bad("a file or folder name", format!("{shown}")));
        };
        let parent = match target.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        if !parent.is_dir() {
            return Err(bad(
                "in an existing directory",
                format!("{shown}: {} does not exist", parent.display()),
            ));
        }
        if let Ok(meta) = std::fs::symlink_metadata(target) {
            match (kind, meta.is_dir()) {
                (OutputKind::File, true) => {
                    return Err(bad("a file path", format!("{shown}: is a directory")));
                }
                (OutputKind::Folder, false) => {
                    return Err(bad("a folder path", format!("{shown}: is a file")));
                }
                (OutputKind::Folder, true) if is_empty_dir(target) => {}
                (OutputKind::Folder, true) if force => {
                    // A model folder is flat: refusing one with subfolders keeps a mistyped
                    // `-o` (a home or project folder) from being replaced.
                    if let Some(sub) = first_subfolder(target) {
                        return Err(bad(
                            "a folder without subfolders, to be replaced by --force",
                            format!("{shown}: holds the folder {}", sub.display()),
                        ));
                    }
                }
                _ if force => {}
                _ => {
                    return Err(bad(
                        "a new path (pass --force to replace it)",
                        format!("{shown}: exists"),
                    ));
                }
            }
        }
        let mut hidden = OsString::from(".");
        hidden.push(name);
        hidden.push(format!(".squeeze-{}.partial", std::process::id()));
        let temporary = Temporary::new(parent.join(hidden));
        remove(temporary.path());
        if kind == OutputKind::Folder {
            std::fs::create_dir(temporary.path()).map_err(|e| {
                Error::invalid(
                    arg,
                    "path",
                    "in a writable directory",
                    format!("{}: {e}", temporary.path().display()),
                )
            })?;
        }
        Ok(Self {
            arg,
            target: target.to_path_buf(),
            kind,
            temporary,
        })
    }

    /// Where to write: the temporary file or folder.
    pub fn path(&self) -> &Path {
        self.temporary.path()
    }

    /// The final path, for messages.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Moves the finished output into place, replacing what `--force` allowed to replace.
    pub fn commit(self) -> Result<(), Error> {
        let failed = |e: std::io::Error| {
            Error::invalid(
                self.arg,
                "path",
                "writable",
                format!("{}: {e}", self.target.display()),
            )
        };
        if self.kind == OutputKind::Folder && self.target.is_dir() {
            // An empty folder, or one `--force` lets us replace: keep the old one until the
            // new one is in place, so a failed rename loses nothing.
            let old = Temporary::new(self.temporary.path().with_extension("old"));
            std::fs::rename(&self.target, old.path()).map_err(failed)?;
            if let Err(e) = std::fs::rename(self.temporary.path(), &self.target) {
                let _ = std::fs::rename(old.path(), &self.target);
                return Err(failed(e));
            }
        } else {
            std::fs::rename(self.temporary.path(), &self.target).map_err(failed)?;
        }
        self.temporary.keep();
        Ok(())
    }
}

fn is_empty_dir(path: &Path) -> bool {
    std::fs::read_dir(path).is_ok_and(|mut entries| entries.next().is_none())
}

fn first_subfolder(path: &Path) -> Option<PathBuf> {
    std::fs::read_dir(path)
        .ok()?
        .filter_map(Result::ok)
        .find(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
}
