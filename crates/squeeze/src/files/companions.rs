//! The non-weight files of a model folder that `dfloat11 compress` carries into its output so
//! the compressed folder runs as it is: `config.json` (without any old `dfloat11_config`; a DF11
//! output gets the new one) and the configuration and tokenizer files beside it
//! (`tokenizer.json`, `generation_config.json`, `tokenizer.model`, chat templates, …).
//! Anything else at the top level (another model format, a README) is named, not copied.

use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::dfloat11::Df11Error;

type Result<T> = std::result::Result<T, Df11Error>;

fn io(path: &Path, source: std::io::Error) -> Df11Error {
    Df11Error::Io {
        path: path.to_path_buf(),
        source,
    }
}

fn bad(path: &Path, what: impl Into<String>) -> Df11Error {
    Df11Error::Checkpoint {
        path: path.to_path_buf(),
        what: what.into(),
    }
}

/// Extensions of the files copied besides `config.json`.
pub const COPIED: &[&str] = &["json", "txt", "model", "jinja"];

/// What [`copy`] did: file names copied, and those left out.
#[derive(Debug, Default)]
pub struct Companions {
    pub copied: Vec<String>,
    pub skipped: Vec<String>,
}

/// Copies `input`'s companion files into `out`. `df11`: `out/config.json` was written by the
/// DF11 compressor and its `dfloat11_config` is kept.
pub fn copy(input: &Path, out: &Path, df11: bool) -> Result<Companions> {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(input)
        .map_err(|e| io(input, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    entries.sort();
    let mut done = Companions::default();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let weights = name.ends_with(".safetensors") || name.ends_with(".safetensors.index.json");
        if weights {
            continue;
        }
        if name == "config.json" {
            write_config(&path, &out.join(&name), df11)?;
            done.copied.push(name);
        } else if path
            .extension()
            .is_some_and(|e| COPIED.iter().any(|c| e == *c))
        {
            let to = out.join(&name);
            std::fs::copy(&path, &to).map_err(|e| io(&to, e))?;
            done.copied.push(name);
        } else {
            done.skipped.push(name);
        }
    }
    Ok(done)
}

/// `from` without `dfloat11_config`, plus the one in `to` when `df11`.
fn write_config(from: &Path, to: &Path, df11: bool) -> Result<()> {
    let read = |path: &Path| -> Result<Value> {
        let text = std::fs::read_to_string(path).map_err(|e| io(path, e))?;
        serde_json::from_str(&text).map_err(|e| bad(path, format!("not valid JSON: {e}")))
    };
    let mut config = read(from)?;
    let Some(fields) = config.as_object_mut() else {
        return Err(bad(from, "not a JSON object"));
    };
    fields.remove("dfloat11_config");
    if df11 && let Some(new) = read(to)?.get("dfloat11_config") {
        fields.insert("dfloat11_config".into(), new.clone());
    }
    let text = serde_json::to_string_pretty(&config)
        .map_err(|e| bad(to, format!("not serialisable: {e}")))?;
    std::fs::write(to, text).map_err(|e| io(to, e))?;
    Ok(())
}
