//! Every WGSL source of squeeze and the registry of the modules composed from them.
//!
//! A [`Module`] is an ordered list of WGSL files concatenated into one shader module, plus what
//! it needs from the device and every set of override constants it is compiled with. The
//! registry is the single list that the GPU runtime compiles from and that the validation suite
//! walks for SPIR-V, MSL, HLSL and GLSL, so a kernel cannot ship a shader the suite never saw:
//! `squeeze-core` builds pipelines only from `&'static Module` values with a registered override
//! set, and a test checks that every `.wgsl` file in this crate belongs to a registered module.

pub mod attention;
pub mod core;
pub mod dfloat11;
pub mod llama;
pub mod quant;
pub mod topk;

/// One WGSL source file: its path inside this crate and its text.
#[derive(Debug)]
pub struct Part {
    pub path: &'static str,
    pub source: &'static str,
}

/// Device capabilities a module uses beyond core WGSL.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Requirements {
    /// `enable f16;` — needs `SHADER_F16`; naga's GLSL backend cannot translate it.
    pub f16: bool,
    /// Subgroup builtins — needs `SUBGROUP`.
    pub subgroups: bool,
}

impl Requirements {
    /// Core WGSL only: runs everywhere, translates to every target.
    pub const PORTABLE: Self = Self {
        f16: false,
        subgroups: false,
    };
    /// Core WGSL and the subgroup builtins.
    pub const SUBGROUPS: Self = Self {
        f16: false,
        subgroups: true,
    };
}

/// Values for a module's `override` constants, by name.
pub type Overrides = &'static [(&'static str, f64)];

/// A shader module: parts concatenated in order, what it requires, the entry points it exports
/// and every override set it is compiled with.
#[derive(Debug)]
pub struct Module {
    /// Registry name, `family/module` (e.g. `core/copy`).
    pub name: &'static str,
    pub parts: &'static [Part],
    pub requires: Requirements,
    pub entry_points: &'static [&'static str],
    pub override_sets: &'static [Overrides],
}

impl Module {
    /// The composed WGSL text: each part in order, headed by a comment naming its file so that
    /// compiler messages can be traced back.
    pub fn source(&self) -> String {
        let mut text = String::new();
        for part in self.parts {
            text.push_str("// ---- squeeze-shaders/");
            text.push_str(part.path);
            text.push_str(" ----\n");
            text.push_str(part.source);
            if !part.source.ends_with('\n') {
                text.push('\n');
            }
        }
        text
    }

    /// Whether `overrides` equals one registered set (order of names does not matter).
    pub fn has_override_set(&self, overrides: &[(&str, f64)]) -> bool {
        self.override_sets.iter().any(|set| {
            set.len() == overrides.len()
                && set.iter().all(|(name, value)| {
                    overrides
                        .iter()
                        .any(|(n, v)| n == name && v.to_bits() == value.to_bits())
                })
        })
    }
}

/// Declares a [`Part`] from a path relative to this crate's root.
macro_rules! part {
    ($path:literal) => {
        $crate::Part {
            path: $path,
            source: include_str!(concat!("../", $path)),
        }
    };
}
pub(crate) use part;

/// Every registered module, in family order.
pub static MODULES: &[&Module] = &[
    &core::COPY,
    &core::WIDEN,
    &quant::DEQUANT,
    &quant::DEQUANT_AFFINE,
    &quant::GEMV,
    &quant::GEMV_SUBGROUP,
    &quant::GEMV_AFFINE,
    &quant::GEMV_AFFINE_SUBGROUP,
    &quant::GEMM,
    &quant::GEMM_AFFINE,
    &quant::GEMM_SUBGROUP,
    &quant::GEMM_AFFINE_SUBGROUP,
    &dfloat11::DECODE,
    &dfloat11::DECODE_SUBGROUP,
    &dfloat11::GEMV,
    &dfloat11::GEMV_SUBGROUP,
    &dfloat11::GEMV_TREE,
    &dfloat11::BF16_GEMV,
    &dfloat11::NATIVE_DECODE,
    &dfloat11::NATIVE_GEMV,
    &topk::SELECT,
    &topk::SELECT_SUBGROUP,
    &topk::SMALL,
    &topk::SMALL_SUBGROUP,
    &topk::COOPERATIVE,
    &topk::SORT,
    &topk::GATHER,
    &attention::DECODE,
    &attention::DECODE_SUBGROUP,
    &attention::MERGE,
    &attention::PREFILL,
    &attention::PREFILL_SUBGROUP,
    &attention::APPEND,
    &attention::APPEND_KIVI,
    &attention::QUEST_META,
    &attention::QUEST_SCORES,
    &attention::TOKEN_SCORES,
    &attention::TOKEN_STATS,
    &attention::TOKEN_VOTE,
    &llama::EMBEDDING,
    &llama::RMS_NORM,
    &llama::ROPE,
    &llama::SWIGLU,
];

/// The registered module called `name`.
pub fn module(name: &str) -> Option<&'static Module> {
    MODULES.iter().copied().find(|m| m.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn override_sets_match_by_name_and_exact_value_in_any_order() {
        static M: Module = Module {
            name: "test/m",
            parts: &[],
            requires: Requirements::PORTABLE,
            entry_points: &["main"],
            override_sets: &[&[("A", 1.0), ("B", 2.0)], &[]],
        };
        assert!(M.has_override_set(&[("B", 2.0), ("A", 1.0)]));
        assert!(M.has_override_set(&[]));
        assert!(!M.has_override_set(&[("A", 1.0)]));
        assert!(!M.has_override_set(&[("A", 1.0), ("B", 2.5)]));
        assert!(!M.has_override_set(&[("A", 1.0), ("C", 2.0)]));
    }

    #[test]
    fn registry_names_are_unique_and_resolvable() {
        for m in MODULES {
            assert_eq!(module(m.name).map(|x| x.name), Some(m.name));
            assert_eq!(MODULES.iter().filter(|x| x.name == m.name).count(), 1);
        }
        assert!(module("core/none").is_none());
    }

    #[test]
    fn composed_source_names_each_part() {
        let text = core::WIDEN.source();
        assert!(text.contains("// ---- squeeze-shaders/core/halves.wgsl ----"));
        assert!(text.find("fn f16_bits_to_f32_bits") < text.find("fn widen("));
    }
}
