//! `squeeze gguf dequantize FILE.gguf -o OUT.safetensors`: every tensor of a GGUF file to f32
//! with the same names, quantized blocks dequantized on the GPU, streamed to disk by
//! [`squeeze::files::gguf`] with a progress bar on a terminal. Output goes to a temporary beside
//! `OUT` (see [`crate::paths`]) and is renamed only on success.

use std::io::IsTerminal;
use std::path::Path;

use indicatif::{ProgressBar, ProgressStyle};
use squeeze::files::gguf::{f32_bytes, select, write_f32};
use squeeze::quant::gguf::{F32Converter, GgufFile};
use squeeze::{Gpu, GpuOptions};

use crate::paths;

/// Converts `file` to `output`; see the module doc.
pub fn run(
    options: GpuOptions,
    file: &Path,
    output: paths::Output,
    skip_unsupported: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    let gguf = GgufFile::open(file)?;
    let selection = select(&gguf, skip_unsupported)?;
    for (name, ggml_type) in &selection.skipped {
        eprintln!("skipping tensor `{name}`: {ggml_type} is not supported yet");
    }
    let tensors = selection.tensors;
    let gpu = Gpu::new(options)?;
    let converter = F32Converter::new(&gpu);

    let bar = if std::io::stderr().is_terminal() {
        ProgressBar::new(f32_bytes(&tensors)).with_style(
            ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {eta} {msg}")
                .expect("the template is valid"),
        )
    } else {
        ProgressBar::hidden()
    };
    write_f32(&converter, &tensors, output.path(), |name, bytes| {
        bar.set_message(name.to_string());
        bar.inc(bytes);
    })?;
    bar.finish_and_clear();
    let target = output.target().to_path_buf();
    output.commit()?;
    let quantized = tensors
        .iter()
        .filter(|t| t.ggml_type.format().is_some())
        .count();
    println!(
        "wrote {} tensors to {} ({quantized} dequantized on {}, {} converted on the host)",
        tensors.len(),
        target.display(),
        gpu.info().name,
        tensors.len() - quantized
    );
    Ok(())
}
