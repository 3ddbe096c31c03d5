//! `squeeze gguf list FILE.gguf`: what a GGUF file holds — version, metadata (long arrays
//! abbreviated) and every tensor's name, type, shape (outermost first, as `dequantize` writes
//! it) and size — so a user can find the names `gguf matmul --tensor` takes.

use std::path::Path;

use squeeze::quant::gguf::{GgufFile, Value};

/// Array elements shown before the rest are summarised.
const ARRAY_SHOWN: usize = 4;
/// Characters of a string value shown.
const STRING_SHOWN: usize = 80;

/// Prints the listing; see the module doc.
pub fn run(file: &Path) -> Result<(), Box<dyn std::error::Error>> {
    let gguf = GgufFile::open(file)?;
    let layout = gguf.layout();
    println!(
        "{}: GGUF v{}, {} metadata keys, {} tensors, alignment {}",
        file.display(),
        layout.version,
        layout.metadata.len(),
        layout.tensors.len(),
        layout.alignment
    );
    println!("metadata:");
    for (key, value) in gguf.metadata() {
        println!("  {key} = {}", show(value));
    }
    let width = gguf
        .tensors()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    println!("tensors:");
    println!(
        "  {:<width$}  {:<7}  {:<22}  {:>12}",
        "name", "type", "shape", "bytes"
    );
    let mut total = 0u64;
    for t in gguf.tensors() {
        let shape = format!("{:?}", t.shape());
        total += t.data.len() as u64;
        println!(
            "  {:<width$}  {:<7}  {:<22}  {:>12}",
            t.name,
            t.ggml_type.name(),
            shape,
            t.data.len()
        );
    }
    println!(
        "{} tensors, {total} bytes of tensor data",
        layout.tensors.len()
    );
    Ok(())
}

/// One metadata value on one line.
fn show(value: &Value) -> String {
    match value {
        Value::String(s) => quoted(s),
        Value::Array(kind, items) => {
            let shown: Vec<String> = items.iter().take(ARRAY_SHOWN).map(show).collect();
            let more = if items.len() > ARRAY_SHOWN {
                ", …"
            } else {
                ""
            };
            format!("[{kind} × {}: {}{more}]", items.len(), shown.join(", "))
        }
        Value::U8(v) => v.to_string(),
        Value::I8(v) => v.to_string(),
        Value::U16(v) => v.to_string(),
        Value::I16(v) => v.to_string(),
        Value::U32(v) => v.to_string(),
        Value::I32(v) => v.to_string(),
        Value::U64(v) => v.to_string(),
        Value::I64(v) => v.to_string(),
        Value::F32(v) => v.to_string(),
        Value::F64(v) => v.to_string(),
        Value::Bool(v) => v.to_string(),
    }
}

/// `s` quoted and escaped, cut at [`STRING_SHOWN`] characters.
fn quoted(s: &str) -> String {
    let count = s.chars().count();
    let cut: String = s.chars().take(STRING_SHOWN).collect();
    let escaped = format!("{cut:?}");
    if count > STRING_SHOWN {
        format!("{escaped}… ({count} chars)")
    } else {
        escaped
    }
}
