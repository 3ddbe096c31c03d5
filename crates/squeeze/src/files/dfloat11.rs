//! DFloat11 files: a BF16 safetensors file or model folder compressed into a DF11 checkpoint
//! folder or native-format files, and either decompressed back to one BF16 safetensors file
//! (`squeeze dfloat11 compress|decompress`, Python's `squeeze.dfloat11.compress|decompress`).
//!
//! A compressed input to `compress` (a DF11 folder or native files) is first decoded by the CPU
//! reference to a temporary BF16 file, so the two formats convert into each other losslessly.
//! Outputs go through [`Output`]: written to a temporary, renamed into place on success.

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::FileError;
use super::companions::{self, Companions};
use super::paths::{self, Kind, Output, Temporary};
use crate::dfloat11::checkpoint::Checkpoint;
use crate::dfloat11::compress::{self, Report};
use crate::dfloat11::decompress::{self, Decoder, decompress};
use crate::dfloat11::native::decode::NativeDecode;
use crate::dfloat11::native::file::{self as native_file, NativeDecoder};
use crate::dfloat11::shapes::{self, ShapeMap};
use crate::dfloat11::{Decode, Df11Error, Layout};
use crate::{Error, Gpu};

/// The compressed format `compress` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A DF11 checkpoint folder that the original DFloat11 loader accepts.
    Df11,
    /// squeeze's native format (one-pass decode): each shard as a native safetensors file.
    Native,
}

/// What a `dfloat11` input is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A DF11 checkpoint folder (a config.json with `dfloat11_config`).
    Df11,
    /// Native-format files (a file, or every safetensors file of a folder).
    Native(Vec<PathBuf>),
    /// Plain safetensors: a file or a folder of shards.
    Plain,
}

impl Source {
    /// Detects what `input` (argument `arg`) is; anything but a folder or a safetensors file is
    /// an error naming what it is.
    pub fn detect(arg: &'static str, input: &Path) -> Result<Source, FileError> {
        let folder = match paths::kind(arg, input)? {
            Kind::Directory => true,
            Kind::Safetensors => false,
            _ => {
                return Err(paths::input(arg, input, Kind::Safetensors)
                    .unwrap_err()
                    .into());
            }
        };
        let config = input.join("config.json");
        let df11 = folder
            && std::fs::read_to_string(&config)
                .ok()
                .and_then(|t| serde_json::from_str::<Value>(&t).ok())
                .is_some_and(|v| v.get("dfloat11_config").is_some());
        if df11 {
            return Ok(Source::Df11);
        }
        let files = native_file::inputs(input)?;
        let mut native = !files.is_empty();
        for f in &files {
            native &= native_file::is_native(f)?;
        }
        Ok(if native {
            Source::Native(files)
        } else {
            Source::Plain
        })
    }

    /// [`Source::detect`] for `decompress`: plain safetensors is an error saying what it is.
    pub fn compressed(arg: &'static str, input: &Path) -> Result<Source, FileError> {
        let source = Self::detect(arg, input)?;
        if source != Source::Plain {
            return Ok(source);
        }
        let what = if input.is_dir() {
            "a folder without `dfloat11_config` in a config.json, nor native files"
        } else {
            "a plain safetensors file, without squeeze's native metadata"
        };
        Err(Error::invalid(
            arg,
            "path",
            "a DF11 checkpoint folder or native-format safetensors",
            format!("{}: {what}", input.display()),
        )
        .into())
    }
}

/// What `compress` did.
#[derive(Debug)]
pub struct Compressed {
    pub report: Report,
    /// The model folder's config and tokenizer files carried over (or left out).
    pub companions: Companions,
}

/// Compresses `input` (detected as `source`) into the folder `out` in `format` with `threads`
/// encoder threads. `progress(done, total)` follows the encoding; `note` gets warnings and
/// what was done on the way (a lossless conversion of a compressed input first).
pub fn compress(
    input: &Path,
    source: &Source,
    out: Output,
    format: Format,
    threads: usize,
    progress: impl FnMut(u64, u64),
    mut note: impl FnMut(String),
) -> Result<Compressed, FileError> {
    let converted = Converted::decode(input, source, &mut note)?;
    let from = converted.as_ref().map_or(input, |c| c.file.as_path());
    let report = match format {
        Format::Df11 => compress::compress(from, out.path(), Layout::DF11, threads, progress)?,
        Format::Native => {
            native_file::compress(&native_file::inputs(from)?, out.path(), threads, progress)?
        }
    };
    let companions = if input.is_dir() {
        companions::copy(input, out.path(), format == Format::Df11)?
    } else {
        Companions::default()
    };
    out.commit()?;
    Ok(Compressed { report, companions })
}

/// A compressed input to `compress` decoded by the CPU reference to one temporary BF16 file;
/// removed when dropped.
struct Converted {
    _dir: Temporary,
    file: PathBuf,
}

impl Converted {
    /// `None` when `input` is plain safetensors.
    fn decode(
        input: &Path,
        source: &Source,
        note: &mut impl FnMut(String),
    ) -> Result<Option<Converted>, FileError> {
        let native = match source {
            Source::Plain => return Ok(None),
            Source::Df11 => None,
            Source::Native(files) => Some(files),
        };
        let dir = Temporary::new(
            std::env::temp_dir().join(format!("squeeze-convert-{}", std::process::id())),
        );
        std::fs::create_dir_all(dir.path()).map_err(|source| Df11Error::Io {
            path: dir.path().to_path_buf(),
            source,
        })?;
        let file = dir.path().join("model.safetensors");
        match native {
            None => {
                let checkpoint = Checkpoint::open(input)?;
                let report = decompress(
                    &checkpoint,
                    &file,
                    &ShapeMap::new(),
                    Decoder::Cpu,
                    |_, _| {},
                )?;
                for name in &report.flat {
                    note(format!(
                        "warning: no shape known for `{name}`: kept 1-D, so stored uncompressed"
                    ));
                }
            }
            Some(files) => {
                native_file::decompress(files, &file, NativeDecoder::Cpu, |_, _| {})?;
            }
        }
        note(format!(
            "decoded {} to BF16 first (CPU reference)",
            input.display()
        ));
        Ok(Some(Converted { _dir: dir, file }))
    }
}

/// What `decompress` did.
#[derive(Debug)]
pub enum Decompressed {
    /// A DF11 folder: its report (`flat`: weights written 1-D, no shape known).
    Df11(decompress::Report),
    /// Native files: how many, the weights decoded and the bytes written.
    Native {
        files: usize,
        weights: u64,
        written: u64,
    },
}

/// Decompresses `input` (detected by [`Source::compressed`]) into the BF16 safetensors file
/// `out`, on the CPU reference when `cpu`, else on the device `open_gpu` opens (called only
/// then, after the input parsed). DF11 shapes come from `shapes` (a safetensors file or index
/// JSON), squeeze's metadata or config.json. Returns what was done and where it ran ("CPU
/// reference" or the device's label).
pub fn decompress_to(
    input: &Path,
    source: &Source,
    out: Output,
    cpu: bool,
    open_gpu: impl FnOnce() -> crate::Result<Gpu>,
    shapes_path: Option<&Path>,
    progress: impl FnMut(u64, u64),
) -> Result<(Decompressed, String), FileError> {
    let cpu_label = || "CPU reference".to_string();
    if let Source::Native(files) = source {
        let gpu;
        let kernel;
        let (decoder, on) = if cpu {
            (NativeDecoder::Cpu, cpu_label())
        } else {
            gpu = open_gpu()?;
            kernel = NativeDecode::new(&gpu)?;
            (NativeDecoder::Gpu(&kernel), gpu.label())
        };
        let (weights, written) = native_file::decompress(files, out.path(), decoder, progress)?;
        out.commit()?;
        let files = files.len();
        return Ok((
            Decompressed::Native {
                files,
                weights,
                written,
            },
            on,
        ));
    }
    let checkpoint = Checkpoint::open(input)?;
    let given = match shapes_path {
        Some(p) => shapes::load(p)?,
        None => ShapeMap::new(),
    };
    let gpu;
    let kernel;
    let (decoder, on) = if cpu {
        (Decoder::Cpu, cpu_label())
    } else {
        gpu = open_gpu()?;
        kernel = Decode::new(&gpu, checkpoint.config.layout)?;
        (Decoder::Gpu(&kernel), gpu.label())
    };
    let report = decompress(&checkpoint, out.path(), &given, decoder, progress)?;
    out.commit()?;
    Ok((Decompressed::Df11(report), on))
}
