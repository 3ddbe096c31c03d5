//! The byte layout of each Rust `Params` struct, per shader module that binds it at
//! `@binding(0)`, so the validation suite can hold it equal to naga's layout of the WGSL struct:
//! size, and each field's name, offset and type. Swapping or retyping two fields on either side
//! fails that test instead of handing a kernel the wrong numbers. A member that is itself a
//! struct (the attention kernels' `table: TableShape`) is compared field by field, named
//! `table.batch`, ….

/// One field of a `Params` struct: its name (`member.field` inside a struct member), byte offset
/// from the struct's start and Rust type (`u32`, `f32`, `[u32; 2]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamsField {
    pub name: String,
    pub offset: usize,
    pub ty: &'static str,
}

/// The size of a `#[repr(C)]` `Params` struct and its fields in declaration order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamsLayout {
    pub size: usize,
    pub fields: Vec<ParamsField>,
}

impl ParamsLayout {
    /// A layout of `size` bytes with `fields` put in offset order, which is declaration order for
    /// a `#[repr(C)]` struct.
    pub fn new(size: usize, mut fields: Vec<ParamsField>) -> Self {
        fields.sort_by_key(|f| f.offset);
        Self { size, fields }
    }

    /// The fields that carry values: padding (a name, or a member's field name, starting with
    /// `_`) is left out, since Rust pads with one array where WGSL needs one scalar per word; the
    /// size covers it.
    pub fn named_fields(&self) -> impl Iterator<Item = &ParamsField> {
        self.fields.iter().filter(|f| !is_padding(&f.name))
    }

    /// These fields as those of a struct member `member` at byte `offset` of its parent.
    pub fn nested_in(&self, member: &str, offset: usize) -> Vec<ParamsField> {
        self.fields
            .iter()
            .map(|f| ParamsField {
                name: format!("{member}.{}", f.name),
                offset: offset + f.offset,
                ty: f.ty,
            })
            .collect()
    }
}

/// Whether a field name (`a` or `member.a`) names padding: its last part starts with `_`.
pub fn is_padding(name: &str) -> bool {
    name.rsplit('.')
        .next()
        .is_some_and(|last| last.starts_with('_'))
}

/// The type name of the field `field` picks out of a `S`, e.g. `type_of(|p: &P| &p.scale)`.
pub fn type_of<S, T>(_field: fn(&S) -> &T) -> &'static str {
    std::any::type_name::<T>()
}

/// `params_layout!(path::To::Params { a, b, member: layout, _pad })`: the [`ParamsLayout`] of
/// that struct, where `member: layout` names a struct member and the [`ParamsLayout`] of its type
/// (flattened into `member.field`s). Every field must be named (the pattern below fails to
/// compile if one is missing); offsets, not the order named here, give the order.
macro_rules! params_layout {
    ($ty:path { $($field:ident $(: $nested:expr)?),* $(,)? }) => {{
        let _every_field_named = |p: &$ty| {
            let $ty { $($field: _),* } = p;
        };
        let mut fields = Vec::new();
        $(params_layout!(@field fields, $ty, $field $(, $nested)?);)*
        $crate::params_layout::ParamsLayout::new(std::mem::size_of::<$ty>(), fields)
    }};
    (@field $fields:ident, $ty:path, $field:ident) => {
        $fields.push($crate::params_layout::ParamsField {
            name: stringify!($field).to_string(),
            offset: std::mem::offset_of!($ty, $field),
            ty: $crate::params_layout::type_of(|p: &$ty| &p.$field),
        })
    };
    (@field $fields:ident, $ty:path, $field:ident, $nested:expr) => {
        $fields.extend(
            $nested.nested_in(stringify!($field), std::mem::offset_of!($ty, $field)),
        )
    };
}

/// Each module's name with the layout of the Rust `Params` it binds.
pub fn params_layouts() -> Vec<(&'static str, ParamsLayout)> {
    use squeeze::attention::append::AppendParams;
    use squeeze::attention::append_kivi::AppendKiviParams;
    use squeeze::attention::decode::{DecodeParams as AttentionDecodeParams, MergeParams};
    use squeeze::attention::params::{ScoreParams, TableShape};
    use squeeze::attention::prefill::PrefillParams;
    use squeeze::attention::quest_meta::QuestMetaParams;
    use squeeze::attention::token_scores::TokenScoresParams;
    use squeeze::attention::token_stats::TokenStatsParams;
    use squeeze::core::dispatch::GridParams;
    use squeeze::dfloat11::decode::DecodeParams;
    use squeeze::dfloat11::gemv::GemvParams;
    use squeeze::dfloat11::native::device::NativeParams;
    use squeeze::quant::matrix::MatrixParams;
    use squeeze::shaders::{attention, core, dfloat11, llama, quant, topk};
    use squeeze::topk::cooperative::CooperativeParams;
    use squeeze::topk::params::TopkParams;
    use squeeze::topk::sort::SortParams;

    let grid = params_layout!(GridParams { n, _pad });
    let matrix = params_layout!(MatrixParams {
        rows,
        cols,
        row_bytes,
        batch,
        w_offset,
        y_offset,
        y_stride,
        _pad
    });
    let topk = params_layout!(TopkParams { rows, n, k, flags });
    let sort = params_layout!(SortParams {
        rows,
        n,
        k,
        flags,
        merge_size,
        distance,
        span,
        _pad
    });
    let cooperative = params_layout!(CooperativeParams {
        rows,
        n,
        k,
        flags,
        round,
        groups_per_row,
        _pad
    });
    let decode = params_layout!(DecodeParams {
        n,
        blocks,
        n_luts,
        _pad
    });
    let gemv = params_layout!(GemvParams {
        n,
        blocks,
        n_luts,
        rows,
        cols,
        batch,
        _pad
    });
    let native = params_layout!(NativeParams {
        n,
        rows,
        cols,
        chunks_per_row,
        chunks,
        batch,
        _pad
    });
    let bits_probe = params_layout!(crate::probes::BitsProbeParams {
        queries,
        stream_bytes,
        _pad
    });
    let shape = params_layout!(TableShape {
        batch,
        q_heads,
        kv_heads,
        head_dim,
        page_size,
        pages,
        _pad
    });
    let attention_decode = params_layout!(AttentionDecodeParams {
        table: shape,
        chunk,
        splits,
        entries_per_row,
        tokens_per_entry,
        scale,
        _pad
    });
    let attention_merge = params_layout!(MergeParams {
        table: shape,
        splits,
        _pad
    });
    let attention_prefill = params_layout!(PrefillParams {
        table: shape,
        max_seq_len,
        scale,
        _pad
    });
    let attention_append = params_layout!(AppendParams {
        table: shape,
        new_tokens,
        _pad
    });
    let attention_append_kivi = params_layout!(AppendKiviParams {
        table: shape,
        new_tokens,
        touched_pages,
        _pad
    });
    let quest_meta = params_layout!(QuestMetaParams {
        table: shape,
        touched_pages,
        _pad
    });
    let scores = params_layout!(ScoreParams {
        table: shape,
        row_stride,
        sink,
        window,
        _pad
    });
    let token_scores = params_layout!(TokenScoresParams {
        table: shape,
        row_stride,
        scale,
        _pad
    });
    let token_stats = params_layout!(TokenStatsParams {
        table: shape,
        row_stride,
        _pad
    });

    let llama_params = params_layout!(squeeze_llama::params::LlamaParams {
        rows,
        cols,
        heads,
        vocab,
        eps,
        kv_heads,
        _pad
    });

    let mut layouts = Vec::new();
    let mut bind = |modules: &[&squeeze::shaders::Module], layout: &ParamsLayout| {
        layouts.extend(modules.iter().map(|m| (m.name, layout.clone())));
    };
    bind(&[&core::COPY, &core::WIDEN], &grid);
    bind(
        &[
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
        ],
        &matrix,
    );
    bind(
        &[
            &topk::SELECT,
            &topk::SELECT_SUBGROUP,
            &topk::SMALL,
            &topk::SMALL_SUBGROUP,
            &topk::GATHER,
        ],
        &topk,
    );
    bind(&[&topk::SORT], &sort);
    bind(&[&topk::COOPERATIVE], &cooperative);
    bind(&[&dfloat11::DECODE, &dfloat11::DECODE_SUBGROUP], &decode);
    bind(
        &[
            &dfloat11::GEMV,
            &dfloat11::GEMV_SUBGROUP,
            &dfloat11::GEMV_TREE,
            &dfloat11::BF16_GEMV,
        ],
        &gemv,
    );
    bind(&[&dfloat11::NATIVE_DECODE, &dfloat11::NATIVE_GEMV], &native);
    bind(&[&crate::probes::BITS_PROBE], &bits_probe);
    bind(&[&crate::probes::HALVES_PROBE], &grid);
    bind(
        &[&attention::DECODE, &attention::DECODE_SUBGROUP],
        &attention_decode,
    );
    bind(&[&attention::MERGE], &attention_merge);
    bind(
        &[&attention::PREFILL, &attention::PREFILL_SUBGROUP],
        &attention_prefill,
    );
    bind(&[&attention::APPEND], &attention_append);
    bind(&[&attention::APPEND_KIVI], &attention_append_kivi);
    bind(&[&attention::QUEST_META], &quest_meta);
    bind(&[&attention::QUEST_SCORES, &attention::TOKEN_VOTE], &scores);
    bind(&[&attention::TOKEN_SCORES], &token_scores);
    bind(&[&attention::TOKEN_STATS], &token_stats);
    bind(
        &[
            &llama::EMBEDDING,
            &llama::RMS_NORM,
            &llama::ROPE,
            &llama::SWIGLU,
        ],
        &llama_params,
    );
    layouts
}
