//! The byte layout of each Rust `Params` struct, per shader module that binds it at
//! `@binding(0)`, so the validation suite can hold it equal to naga's layout of the WGSL struct:
//! size, and each field's name, offset and type. Swapping or retyping two fields on either side
//! fails that test instead of handing a kernel the wrong numbers.

/// One field of a `Params` struct: its name, byte offset and Rust type (`u32`, `f32`, `[u32; 2]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ParamsField {
    pub name: &'static str,
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

    /// The fields that carry values: padding (a name starting with `_`) is left out, since Rust
    /// pads with one array where WGSL needs one scalar per word; the size covers it.
    pub fn named_fields(&self) -> impl Iterator<Item = &ParamsField> {
        self.fields.iter().filter(|f| !f.name.starts_with('_'))
    }
}

/// The type name of the field `field` picks out of a `S`, e.g. `type_of(|p: &P| &p.scale)`.
pub fn type_of<S, T>(_field: fn(&S) -> &T) -> &'static str {
    std::any::type_name::<T>()
}

/// `params_layout!(path::To::Params { a, b, _pad })`: the [`ParamsLayout`] of that struct. Every
/// field must be named (the pattern below fails to compile if one is missing); offsets, not the
/// order named here, give the order.
macro_rules! params_layout {
    ($ty:path { $($field:ident),* $(,)? }) => {{
        let _every_field_named = |p: &$ty| {
            let $ty { $($field: _),* } = p;
        };
        $crate::params_layout::ParamsLayout::new(
            std::mem::size_of::<$ty>(),
            vec![$($crate::params_layout::ParamsField {
                name: stringify!($field),
                offset: std::mem::offset_of!($ty, $field),
                ty: $crate::params_layout::type_of(|p: &$ty| &p.$field),
            }),*],
        )
    }};
}

/// Each module's name with the layout of the Rust `Params` it binds.
pub fn params_layouts() -> Vec<(&'static str, ParamsLayout)> {
    use squeeze::attention::params::AttentionParams;
    use squeeze::core::dispatch::GridParams;
    use squeeze::dfloat11::decode::DecodeParams;
    use squeeze::dfloat11::gemv::GemvParams;
    use squeeze::dfloat11::native::device::NativeParams;
    use squeeze::quant::matrix::MatrixParams;
    use squeeze::shaders::{core, dfloat11, llama, quant, topk};
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
    let attention = params_layout!(AttentionParams {
        batch,
        q_heads,
        kv_heads,
        head_dim,
        page_size,
        pages,
        max_len,
        chunk,
        splits,
        units,
        unit,
        scale,
        tokens,
        sink,
        window,
        touched_pages,
        row_stride,
        _pad
    });

    let llama_params = params_layout!(squeeze_llama::params::LlamaParams {
        rows,
        cols,
        heads,
        vocab,
        eps,
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
    let attention_modules: Vec<_> = squeeze::shaders::MODULES
        .iter()
        .copied()
        .filter(|m| m.name.starts_with("attention/"))
        .collect();
    bind(&attention_modules, &attention);
    bind(
        &[&llama::EMBEDDING, &llama::RMS_NORM, &llama::ROPE],
        &llama_params,
    );
    bind(&[&llama::SWIGLU, &llama::RESIDUAL, &llama::NARROW], &grid);
    layouts
}
