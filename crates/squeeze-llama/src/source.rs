//! Where a model comes from, as `squeeze generate MODEL` takes it: a GGUF file of architecture
//! `llama`, or a Hugging Face folder — BF16, DF11 or native ([`crate::hf`]) — with the tokenizer
//! each brings (the GGUF byte-level BPE of [`crate::tokenizer`], or the folder's
//! `tokenizer.json` through the `tokenizers` crate).

use std::path::Path;

use squeeze::files::paths::{self, Kind};
use squeeze::quant::gguf::GgufFile;
use squeeze::{Error, Result};

use crate::error::LlamaError;
use crate::hf::HfFolder;
use crate::tensors::ModelTensors;
use crate::tokenizer::Tokenizer;
use crate::vocab::Vocab;

/// An opened model: its file or folder, mapped.
pub enum ModelSource {
    Gguf(GgufFile),
    Folder(Box<HfFolder>),
}

impl ModelSource {
    /// Opens `path` (argument `arg`): a folder is read as a Hugging Face, DF11 or native model
    /// folder, a GGUF file as GGUF; anything else is an error saying what it is.
    pub fn open(arg: &'static str, path: &Path) -> Result<Self> {
        if paths::kind(arg, path)? == Kind::Directory {
            return Ok(Self::Folder(Box::new(HfFolder::open(path)?)));
        }
        // Not a folder: a GGUF file, or an error saying what the path holds.
        paths::input(arg, path, Kind::Gguf)?;
        Ok(Self::Gguf(GgufFile::open(path)?))
    }

    /// Every tensor of the model, checked.
    pub fn tensors(&self) -> Result<ModelTensors<'_>> {
        match self {
            Self::Gguf(file) => ModelTensors::from_gguf(file),
            Self::Folder(folder) => folder.tensors(),
        }
    }

    /// `text` as token ids (special tokens written in the text taken whole), with the special
    /// tokens the model adds to every prompt: a GGUF's `tokenizer.ggml.add_bos_token`, or a
    /// folder's `tokenizer.json` post-processor (as `transformers`' `tokenizer(text)` does by
    /// default, e.g. Llama 3's `<|begin_of_text|>`). So a GGUF converted from a folder encodes a
    /// prompt as the folder does.
    pub fn encode(&self, text: &str) -> Result<Vec<u32>> {
        match self {
            Self::Gguf(file) => Tokenizer::from_gguf(file)?.encode(text),
            Self::Folder(folder) => {
                let encoding = folder.tokenizer()?.encode(text, true).map_err(|e| {
                    Error::from(LlamaError::Folder {
                        path: folder.dir.join("tokenizer.json"),
                        what: format!("cannot encode the prompt: {e}"),
                    })
                })?;
                Ok(encoding.get_ids().to_vec())
            }
        }
    }

    /// `ids` as text, where the model has a vocabulary squeeze reads (`None` otherwise).
    pub fn decode(&self, ids: &[u32]) -> Option<String> {
        match self {
            Self::Gguf(file) => Vocab::from_gguf(file).map(|v| v.decode(ids)),
            Self::Folder(folder) => folder.tokenizer().ok()?.decode(ids, false).ok(),
        }
    }
}
