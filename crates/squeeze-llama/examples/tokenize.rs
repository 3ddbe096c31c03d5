//! Prints the token ids of text with a GGUF file's tokenizer, one JSON array per input: each
//! argument after the model, or with `--json FILE` each string of a JSON array in FILE.
//!
//! `cargo run --release -p squeeze-llama --example tokenize -- MODEL.gguf "some text"`

use std::path::PathBuf;

use squeeze::quant::gguf::GgufFile;
use squeeze::{Error, Result};
use squeeze_llama::Tokenizer;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((model, texts)) = args.split_first() else {
        return Err(Error::invalid("arguments", "count", "MODEL.gguf TEXT…", 0));
    };
    let texts: Vec<String> = match texts {
        [flag, file] if flag == "--json" => {
            let bytes =
                std::fs::read(file).map_err(|e| Error::invalid("--json", "file", "readable", e))?;
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::invalid("--json", "file", "a JSON array of strings", e))?
        }
        _ => texts.to_vec(),
    };
    let file = GgufFile::open(&PathBuf::from(model))?;
    let tokenizer = Tokenizer::from_gguf(&file)?;
    for text in texts {
        let ids = tokenizer.encode(&text)?;
        let list: Vec<String> = ids.iter().map(u32::to_string).collect();
        println!("[{}]", list.join(", "));
    }
    Ok(())
}
