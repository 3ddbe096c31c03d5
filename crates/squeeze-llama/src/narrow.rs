//! Narrowing f32 → f16 (`shaders/llama/narrow.wgsl`), round to nearest even, two values per u32
//! word: K and V for an f16 KV cache, which `Append` takes in the cache's format.

use squeeze::core::dispatch::{GridParams, grid_stride_workgroups};
use squeeze::shaders::llama::NARROW;
use squeeze::{Binding, Gpu, Result, wgpu};

use crate::check::f32s;
use crate::glue;

/// Invocations per workgroup (the `WORKGROUP_SIZE` override).
pub const WORKGROUP_SIZE: u32 = 256;

/// The narrowing on one device.
pub struct Narrow {
    gpu: Gpu,
    pipeline: wgpu::ComputePipeline,
}

impl Narrow {
    pub fn new(gpu: &Gpu) -> Result<Self> {
        Ok(Self {
            gpu: gpu.clone(),
            pipeline: glue::pipeline(gpu, &NARROW, "narrow_f16", WORKGROUP_SIZE)?,
        })
    }

    /// Records `dst = f16(src)` for `n` values: `src` f32, `dst` f16 packed two per word (the
    /// last word's high half zero for odd `n`).
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        n: u32,
        src: Binding<'_>,
        dst: Binding<'_>,
    ) -> Result<()> {
        if n == 0 {
            return Ok(());
        }
        f32s(&self.gpu, "src", &src, n, format_args!("{n} f32"))?;
        self.gpu.check_storage_binding("dst", &dst)?;
        self.gpu.check_binding_holds(
            "dst",
            &dst,
            u64::from(n).div_ceil(2) * 4,
            format_args!("{n} f16"),
        )?;
        // `n` values in the uniform; one invocation per output word.
        let groups = grid_stride_workgroups(
            u64::from(n.div_ceil(2)),
            WORKGROUP_SIZE,
            self.gpu.limits().max_compute_workgroups_per_dimension,
        );
        let params = GridParams { n, _pad: [0; 3] };
        self.gpu.dispatch(
            encoder,
            "llama narrow",
            &self.pipeline,
            &params,
            &[src, dst],
            groups,
        )
    }
}
