//! `y = x · Wᵀ` at any batch: [`Gemv`] for 1 to 8 activation rows (decode), [`Gemm`] above
//! (prefill) — what an engine calls when it does not want to choose.

use squeeze_core::wgpu::CommandEncoder;
use squeeze_core::{Binding, Error, Gpu, Result};

use crate::activations::{self, Activations, Problem};
use crate::gemm::Gemm;
use crate::gemv::{self, Gemv};
use crate::matrix::{HostWeights, QuantWeights, Scheme};

/// GEMV and GEMM for one weight scheme on one device.
pub struct Matmul {
    gpu: Gpu,
    scheme: Scheme,
    gemv: Gemv,
    gemm: Gemm,
}

impl Matmul {
    pub fn new(gpu: &Gpu, scheme: impl Into<Scheme>) -> Result<Self> {
        let scheme = scheme.into();
        Ok(Self {
            gpu: gpu.clone(),
            scheme,
            gemv: Gemv::new(gpu, scheme)?,
            gemm: Gemm::new(gpu, scheme)?,
        })
    }

    /// Records `y = x · Wᵀ` for `problem` with the kernel its batch calls for.
    pub fn encode<'a>(
        &self,
        encoder: &mut CommandEncoder,
        problem: Problem,
        w: impl Into<QuantWeights<'a>>,
        x: Binding<'a>,
        y: Binding<'a>,
    ) -> Result<()> {
        match problem.batch {
            0 => Err(Error::invalid("batch", "size", "at least 1", 0)),
            b if b <= gemv::MAX_BATCH => self.gemv.encode(encoder, problem, w, x, y),
            _ => self.gemm.encode(encoder, problem, w, x, y),
        }
    }

    /// Uploads weights and activations, runs on the device and reads back `[batch, rows]`.
    pub fn run<'w>(
        &self,
        w: impl Into<HostWeights<'w>>,
        cols: usize,
        x: Activations<'_>,
    ) -> Result<Vec<f32>> {
        activations::run(
            &self.gpu,
            self.scheme,
            w.into(),
            cols,
            x,
            |e, p, w, x, y| self.encode(e, p, w, x, y),
        )
    }
}
