//! Where a decode step's time goes: the step recorded whole, then one kind of work at a time —
//! the matrix products (every GEMV, the output head's included), attention (KV append and
//! decode attention, with its selection), and the glue (embedding, norms with their residual
//! adds, RoPE, SwiGLU, top-k) — each timed over repetitions with squeeze's profiler, plus the
//! host's time to record a step. The parts run on the state the last step left, so their
//! results are meaningless and their times are the step's; the whole step runs last and
//! rewrites the newest token's K and V (and the state) exactly as the step did, so the model
//! goes on as if never profiled. Nothing is read back and the cache's length does not change.

use squeeze::core::profiler::{Clock, Profiler};
use squeeze::{Error, Result};

use super::Model;

/// Which kinds of work a recording includes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts {
    pub matmul: bool,
    pub attention: bool,
    pub glue: bool,
}

impl Parts {
    /// The whole step.
    pub const ALL: Parts = Parts {
        matmul: true,
        attention: true,
        glue: true,
    };
    const MATMUL: Parts = Parts {
        matmul: true,
        attention: false,
        glue: false,
    };
    const ATTENTION: Parts = Parts {
        matmul: false,
        attention: true,
        glue: false,
    };
    const GLUE: Parts = Parts {
        matmul: false,
        attention: false,
        glue: true,
    };
}

/// Seconds per decode step, whole and by kind of work.
#[derive(Debug, Clone, Copy)]
pub struct StepProfile {
    pub step: f64,
    pub matmul: f64,
    pub attention: f64,
    pub glue: f64,
    /// Host time to record one step's commands (no GPU work).
    pub recording: f64,
    /// Dispatches in one step: each costs a fixed time besides its work (tens of µs on a CPU
    /// adapter), so their count is part of the step's cost.
    pub dispatches: u64,
    pub clock: Clock,
    pub repetitions: u32,
}

impl Model {
    /// Times the decode step at the cache's current length, `repetitions` times per part. Run
    /// it after at least one step (the state then holds a token and the table its length).
    pub fn profile(&self, repetitions: u32) -> Result<StepProfile> {
        if self.len == 0 {
            return Err(Error::invalid(
                "model",
                "tokens in the cache",
                "at least one step before profiling",
                0,
            ));
        }
        let profiler = Profiler::new(&self.gpu);
        let time = |parts: Parts| -> Result<f64> {
            Ok(profiler
                .time(repetitions, |encoder| self.record(encoder, parts))?
                .seconds)
        };
        let before = self.gpu.allocations();
        let recording = {
            let start = std::time::Instant::now();
            for _ in 0..repetitions {
                let mut encoder = self.gpu.encoder("llama step (recording only)");
                self.record(&mut encoder, Parts::ALL)?;
                drop(encoder.finish());
            }
            start.elapsed().as_secs_f64() / f64::from(repetitions.max(1))
        };
        let dispatches =
            (self.gpu.allocations() - before).dispatches / u64::from(repetitions.max(1));
        let matmul = time(Parts::MATMUL)?;
        let attention = time(Parts::ATTENTION)?;
        let glue = time(Parts::GLUE)?;
        Ok(StepProfile {
            // Last: it rewrites what the parts disturbed.
            step: time(Parts::ALL)?,
            matmul,
            attention,
            glue,
            recording,
            dispatches,
            clock: profiler.clock(),
            repetitions,
        })
    }
}
