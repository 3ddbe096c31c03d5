//! `Model::profile`: the decode step timed whole and by kind of work on a tiny random LLaMA —
//! every part recorded and run (no timing is asserted), the cache untouched, and a model that
//! has not stepped yet refused.

use squeeze::attention::KvDtype;
use squeeze::quant::gguf::GgufFile;
use squeeze::{Gpu, GpuOptions};
use squeeze_llama::tiny::{TinySpec, tiny_gguf};
use squeeze_llama::{AttentionMode, Model, ModelOptions, ModelTensors};

#[test]
fn a_profile_times_every_part_and_leaves_the_model_as_it_was() {
    let file = GgufFile::from_bytes(tiny_gguf(&TinySpec::default_q8_0()).unwrap()).unwrap();
    let tensors = ModelTensors::from_gguf(&file).unwrap();
    let gpu = Gpu::new(GpuOptions::default()).unwrap_or_else(|e| panic!("no GPU adapter: {e}"));
    for kv in [KvDtype::F16, KvDtype::Q8_0] {
        let mut model = Model::load(
            &gpu,
            &tensors,
            ModelOptions {
                capacity: 8,
                candidates: 1,
                kv,
                attention: AttentionMode::Dense,
            },
        )
        .unwrap();
        let e = model.profile(2).unwrap_err().to_string();
        assert!(e.contains("at least one step"), "{e}");
        let first = model.step(3, false).unwrap().token;
        let p = model.profile(2).unwrap();
        for (part, seconds) in [
            ("step", p.step),
            ("matmul", p.matmul),
            ("attention", p.attention),
            ("glue", p.glue),
            ("recording", p.recording),
        ] {
            assert!(
                seconds.is_finite() && seconds > 0.0,
                "{kv:?} {part}: {seconds}"
            );
        }
        assert_eq!((p.repetitions, model.len()), (2, 1));
        // The next step is the one an unprofiled model takes.
        let mut fresh = Model::load(
            &gpu,
            &tensors,
            ModelOptions {
                capacity: 8,
                candidates: 1,
                kv,
                attention: AttentionMode::Dense,
            },
        )
        .unwrap();
        assert_eq!(fresh.step(3, false).unwrap().token, first);
        assert_eq!(
            model.step(first, true).unwrap().logits,
            fresh.step(first, true).unwrap().logits,
            "{kv:?}"
        );
    }
}
