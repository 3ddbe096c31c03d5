//! Original shapes of decoded weights. DF11 stores none (the reference takes them from the
//! model class), so the decompressor looks, in order, at: shapes the user gives (`--shapes`: an
//! original safetensors file, or a `model.safetensors.index.json` whose shards sit beside it),
//! shapes squeeze's compressor recorded in the safetensors metadata, shapes derived from
//! `config.json` for LLaMA-style architectures; else the weight is written 1-D.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::checkpoint::TensorFile;
use crate::error::{Df11Error, Result};

/// Shapes by tensor name.
pub type ShapeMap = BTreeMap<String, Vec<usize>>;

/// Where a weight's shape came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShapeSource {
    Given,
    Recorded,
    Config,
    /// None found: written 1-D.
    Flat,
}

/// The shapes of every tensor in a safetensors file, or in the shards an index names.
pub fn load(path: &Path) -> Result<ShapeMap> {
    let mut shapes = ShapeMap::new();
    if path.extension().is_some_and(|e| e == "json") {
        let text = std::fs::read_to_string(path).map_err(|e| Df11Error::io(path, e))?;
        let index: Value = serde_json::from_str(&text).map_err(|e| Df11Error::Checkpoint {
            path: path.to_path_buf(),
            what: format!("not valid JSON: {e}"),
        })?;
        let map = index
            .get("weight_map")
            .and_then(Value::as_object)
            .ok_or_else(|| Df11Error::Config {
                path: path.to_path_buf(),
                key: "weight_map".into(),
                problem: "is missing (expected a safetensors index)".into(),
            })?;
        let mut shards: Vec<&str> = map.values().filter_map(Value::as_str).collect();
        shards.sort_unstable();
        shards.dedup();
        let dir = path.parent().unwrap_or(Path::new("."));
        for shard in shards {
            shapes.extend(load(&dir.join(shard))?);
        }
        return Ok(shapes);
    }
    let file = TensorFile::open(path)?;
    for name in file.names() {
        let (_, shape, _) = file.tensor(&name).expect("listed");
        shapes.insert(name, shape.to_vec());
    }
    Ok(shapes)
}

/// The shape of `name` in a LLaMA-style model (LLaMA, Mistral, Qwen2/3, …) described by
/// `config` (the model's `config.json`), if the name is one of its linear or embedding weights.
pub fn from_config(config: &Value, name: &str) -> Option<Vec<usize>> {
    let get = |k: &str| config.get(k).and_then(Value::as_u64).map(|v| v as usize);
    let hidden = get("hidden_size")?;
    let heads = get("num_attention_heads")?;
    let kv_heads = get("num_key_value_heads").unwrap_or(heads);
    let head_dim = get("head_dim").unwrap_or(hidden / heads.max(1));
    // A config with sizes whose products overflow describes no model: no shape.
    let q_rows = heads.checked_mul(head_dim)?;
    let kv_rows = kv_heads.checked_mul(head_dim)?;
    let inter = get("intermediate_size");
    let vocab = get("vocab_size");
    let leaf = name.strip_suffix(".weight")?;
    let last = leaf.rsplit('.').next()?;
    let in_layer = leaf.contains(".layers.");
    Some(match last {
        "embed_tokens" | "lm_head" => vec![vocab?, hidden],
        "q_proj" if in_layer => vec![q_rows, hidden],
        "k_proj" | "v_proj" if in_layer => vec![kv_rows, hidden],
        "o_proj" if in_layer => vec![hidden, q_rows],
        "gate_proj" | "up_proj" if in_layer => vec![inter?, hidden],
        "down_proj" if in_layer => vec![hidden, inter?],
        _ => return None,
    })
}

/// The shape for weight `name` of `count` elements and where it came from. A given or recorded
/// shape that does not hold `count` elements is an error; a derived one is ignored.
pub fn resolve(
    name: &str,
    count: usize,
    given: &ShapeMap,
    recorded: &ShapeMap,
    config: &Value,
) -> Result<(Vec<usize>, ShapeSource)> {
    for (map, source) in [
        (given, ShapeSource::Given),
        (recorded, ShapeSource::Recorded),
    ] {
        if let Some(shape) = map.get(name) {
            let product = elements(shape);
            if product != Some(count) {
                let holds = product.map_or("more than 2^64".into(), |p| p.to_string());
                return Err(Df11Error::Weight {
                    name: name.to_string(),
                    what: format!(
                        "{source:?} shape {shape:?} holds {holds} values, but the unit decodes {count}"
                    ),
                });
            }
            return Ok((shape.clone(), source));
        }
    }
    if let Some(shape) = from_config(config, name)
        && elements(&shape) == Some(count)
    {
        return Ok((shape, ShapeSource::Config));
    }
    Ok((vec![count], ShapeSource::Flat))
}

/// Elements of `shape`, `None` when the count overflows.
fn elements(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn llama_shapes_from_config() {
        let config = serde_json::json!({
            "hidden_size": 64, "num_attention_heads": 4, "num_key_value_heads": 2,
            "intermediate_size": 160, "vocab_size": 1000
        });
        let s = |n| from_config(&config, n);
        assert_eq!(
            s("model.layers.3.self_attn.q_proj.weight"),
            Some(vec![64, 64])
        );
        assert_eq!(
            s("model.layers.3.self_attn.k_proj.weight"),
            Some(vec![32, 64])
        );
        assert_eq!(
            s("model.layers.0.mlp.down_proj.weight"),
            Some(vec![64, 160])
        );
        assert_eq!(s("lm_head.weight"), Some(vec![1000, 64]));
        assert_eq!(s("model.norm.weight"), None);
        let (shape, source) = resolve(
            "lm_head.weight",
            7,
            &ShapeMap::new(),
            &ShapeMap::new(),
            &config,
        )
        .unwrap();
        assert_eq!((shape, source), (vec![7], ShapeSource::Flat));
        let given = ShapeMap::from([("w".to_string(), vec![2, 3])]);
        assert!(resolve("w", 7, &given, &ShapeMap::new(), &config).is_err());
        // Shapes whose element count overflows are errors or no shape, never a panic.
        let huge = ShapeMap::from([("w".to_string(), vec![usize::MAX, 3])]);
        assert!(resolve("w", 7, &huge, &ShapeMap::new(), &config).is_err());
        let hostile = serde_json::json!({
            "hidden_size": 8,
            "num_attention_heads": u64::MAX,
            "head_dim": 4,
        });
        assert_eq!(
            from_config(&hostile, "model.layers.0.self_attn.q_proj.weight"),
            None
        );
    }
}
