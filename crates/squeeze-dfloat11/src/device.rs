//! What the DF11 kernels (decode, fused GEMV) share on the host: the layout and block-size
//! checks, the checks of a unit's five bindings, a validated unit's tensors uploaded, and the readback of
//! decoded BF16 words.

use squeeze_core::pipeline::PipelineOptions;
use squeeze_core::{Binding, Error, Gpu};
use squeeze_shaders::Module;

use crate::error::Result;
use crate::format::{Checked, LUT_ROW, Layout, MAX_DECODE_TABLES};

/// Reads back `n` BF16 values that a decode wrote two per u32 word into `out`.
pub(crate) fn read_back_bf16(
    gpu: &Gpu,
    out: &squeeze_core::wgpu::Buffer,
    n: usize,
) -> Result<Vec<u16>> {
    let words: Vec<u32> = gpu.read_back("out", out, 0, n.div_ceil(2))?;
    let mut values: Vec<u16> = words
        .iter()
        .flat_map(|w| [*w as u16, (*w >> 16) as u16])
        .collect();
    values.truncate(n);
    Ok(values)
}

/// Checks that `threads_per_block` is one of the `registered` pipeline block sizes and fits the
/// device's workgroups.
pub(crate) fn check_block_size(
    gpu: &Gpu,
    threads_per_block: u32,
    registered: &[u32],
) -> Result<()> {
    if !registered.contains(&threads_per_block) {
        return Err(Error::invalid(
            "threads_per_block",
            "value",
            format!("one of {registered:?} on the GPU"),
            threads_per_block,
        )
        .into());
    }
    let limits = gpu.limits();
    let max = limits
        .max_compute_invocations_per_workgroup
        .min(limits.max_compute_workgroup_size_x);
    if threads_per_block > max {
        return Err(Error::invalid(
            "threads_per_block",
            "value",
            format!("at most the device's {max} invocations per workgroup"),
            threads_per_block,
        )
        .into());
    }
    Ok(())
}

/// `layout` checked, with a block size that has a pipeline (one of `registered`) and fits the
/// device's workgroups: what compiling a DF11 kernel for `layout` needs.
pub(crate) fn check_kernel_layout(gpu: &Gpu, layout: Layout, registered: &[u32]) -> Result<Layout> {
    let layout = layout.check()?;
    check_block_size(gpu, layout.threads_per_block, registered)?;
    Ok(layout)
}

/// Refuses a unit of `layout` in a kernel (`kernel`: "decoder", "GEMV") compiled for
/// `built_for`: the block size is baked into its pipeline.
pub(crate) fn check_unit_layout(kernel: &str, built_for: Layout, layout: Layout) -> Result<()> {
    if layout != built_for {
        return Err(Error::invalid(
            "unit",
            "layout",
            format!("{built_for:?} (this {kernel}'s)"),
            format!("{layout:?}"),
        )
        .into());
    }
    Ok(())
}

/// Compiles `entry` of a one-workgroup-per-block `module` at `threads_per_block`. Every
/// workgroup word of these kernels is written before it is read (the tables are copied in
/// full, the scan writes its counts first), so WGSL's zeroing is skipped: it only costs time,
/// and on Mesa's GL driver about 13 s of compilation per pipeline.
pub(crate) fn block_pipeline(
    gpu: &Gpu,
    module: &'static Module,
    entry: &str,
    threads_per_block: u32,
    extra: &[(&str, f64)],
) -> Result<squeeze_core::wgpu::ComputePipeline> {
    let mut overrides = vec![("THREADS_PER_BLOCK", f64::from(threads_per_block))];
    overrides.extend_from_slice(extra);
    Ok(gpu.pipeline_with_options(
        module,
        entry,
        &overrides,
        PipelineOptions {
            zero_initialize_workgroup_memory: false,
        },
    )?)
}

/// Checks each (argument, binding, bytes, what) binding: storage-usable and holding `bytes`.
pub(crate) fn check_bindings(
    gpu: &Gpu,
    checks: &[(&'static str, &Binding<'_>, u64, &str)],
) -> Result<()> {
    for &(arg, binding, bytes, what) in checks {
        gpu.check_storage_binding(arg, binding)?;
        gpu.check_binding_holds(arg, binding, bytes, what)?;
    }
    Ok(())
}

/// The five tensors of a unit as bindings, in the kernels' binding order (1..=5).
pub struct UnitBindings<'a> {
    pub luts: Binding<'a>,
    pub encoded_exponent: Binding<'a>,
    pub sign_mantissa: Binding<'a>,
    pub output_positions: Binding<'a>,
    pub gaps: Binding<'a>,
}

impl<'a> UnitBindings<'a> {
    /// Checks the table rows, the block count against the dispatch limit, and that each
    /// binding is storage-usable and holds what `n` weights in `blocks` blocks need.
    pub(crate) fn check(&self, gpu: &Gpu, n: u32, blocks: u32, n_luts: u32) -> Result<()> {
        if !(2..=MAX_DECODE_TABLES as u32 + 1).contains(&n_luts) {
            return Err(Error::invalid(
                "luts",
                "rows",
                format!("2..={}", MAX_DECODE_TABLES + 1),
                n_luts,
            )
            .into());
        }
        let max_groups = gpu.limits().max_compute_workgroups_per_dimension;
        if blocks > max_groups {
            return Err(Error::invalid(
                "output_positions",
                "blocks",
                format!("at most max_compute_workgroups_per_dimension = {max_groups}"),
                blocks,
            )
            .into());
        }
        check_bindings(
            gpu,
            &[
                (
                    "luts",
                    &self.luts,
                    u64::from(n_luts) * LUT_ROW as u64,
                    "luts rows",
                ),
                ("encoded_exponent", &self.encoded_exponent, 4, "the stream"),
                (
                    "sign_mantissa",
                    &self.sign_mantissa,
                    u64::from(n),
                    "one byte per weight",
                ),
                (
                    "output_positions",
                    &self.output_positions,
                    4 * (u64::from(blocks) + 1),
                    "blocks + 1 u32",
                ),
                ("gaps", &self.gaps, 4, "the gaps"),
            ],
        )
    }

    /// The bindings in binding order.
    pub(crate) fn into_array(self) -> [Binding<'a>; 5] {
        [
            self.luts,
            self.encoded_exponent,
            self.sign_mantissa,
            self.output_positions,
            self.gaps,
        ]
    }
}

/// A validated unit's tensors on the device.
pub struct UnitBuffers {
    pub luts: squeeze_core::wgpu::Buffer,
    pub encoded_exponent: squeeze_core::wgpu::Buffer,
    pub sign_mantissa: squeeze_core::wgpu::Buffer,
    pub output_positions: squeeze_core::wgpu::Buffer,
    pub gaps: squeeze_core::wgpu::Buffer,
}

impl UnitBuffers {
    /// Uploads the five tensors of `unit`.
    pub fn upload(gpu: &Gpu, unit: &Checked<'_>) -> Result<Self> {
        let u = &unit.unit;
        Ok(Self {
            luts: gpu.upload("luts", u.luts)?,
            encoded_exponent: gpu.upload("encoded_exponent", u.encoded_exponent)?,
            sign_mantissa: gpu.upload("sign_mantissa", u.sign_mantissa)?,
            output_positions: gpu.upload("output_positions", u.output_positions)?,
            gaps: gpu.upload("gaps", u.gaps)?,
        })
    }

    /// Whole-buffer bindings of the five tensors.
    pub fn bindings(&self) -> UnitBindings<'_> {
        UnitBindings {
            luts: Binding::whole(&self.luts),
            encoded_exponent: Binding::whole(&self.encoded_exponent),
            sign_mantissa: Binding::whole(&self.sign_mantissa),
            output_positions: Binding::whole(&self.output_positions),
            gaps: Binding::whole(&self.gaps),
        }
    }

    /// Compressed bytes the kernels read: the five tensors' lengths.
    pub fn compressed_bytes(unit: &Checked<'_>) -> u64 {
        let u = &unit.unit;
        [
            u.luts,
            u.encoded_exponent,
            u.sign_mantissa,
            u.output_positions,
            u.gaps,
        ]
        .iter()
        .map(|t| t.len() as u64)
        .sum()
    }
}
