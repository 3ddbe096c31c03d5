//! Timing of recorded GPU work: GPU timestamps written around the work in the command encoder
//! when the device has `TIMESTAMP_QUERY_INSIDE_ENCODERS`, the wall clock around submit-and-wait
//! otherwise. The result says which clock was used.

use std::time::Instant;

use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// Which clock measured a [`Timing`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    /// Device timestamps, converted with the queue's timestamp period.
    GpuTimestamp,
    /// Host wall clock around submit and wait: includes submission overhead.
    WallClock,
}

impl Clock {
    pub fn name(self) -> &'static str {
        match self {
            Clock::GpuTimestamp => "gpu-timestamp",
            Clock::WallClock => "wall-clock",
        }
    }
}

/// Seconds per repetition of the recorded work.
#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub seconds: f64,
    pub repetitions: u32,
    pub clock: Clock,
}

/// Times recorded work on one device.
pub struct Profiler {
    gpu: Gpu,
    timestamps: Option<Timestamps>,
}

struct Timestamps {
    queries: wgpu::QuerySet,
    resolve: wgpu::Buffer,
}

impl Profiler {
    /// A profiler using GPU timestamps where the device allows them.
    pub fn new(gpu: &Gpu) -> Self {
        let needed =
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS;
        let timestamps = gpu.features().contains(needed).then(|| Timestamps {
            queries: gpu.device().create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("squeeze profiler"),
                ty: wgpu::QueryType::Timestamp,
                count: 2,
            }),
            resolve: gpu.device().create_buffer(&wgpu::BufferDescriptor {
                label: Some("squeeze profiler resolve"),
                size: 2 * 8,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
        });
        Self {
            gpu: gpu.clone(),
            timestamps,
        }
    }

    /// A profiler that always uses the wall clock.
    pub fn wall_clock(gpu: &Gpu) -> Self {
        Self {
            gpu: gpu.clone(),
            timestamps: None,
        }
    }

    pub fn clock(&self) -> Clock {
        if self.timestamps.is_some() {
            Clock::GpuTimestamp
        } else {
            Clock::WallClock
        }
    }

    /// Records `record` `repetitions` times into one command buffer, runs it, and returns the
    /// time of one repetition.
    pub fn time(
        &self,
        repetitions: u32,
        mut record: impl FnMut(&mut wgpu::CommandEncoder) -> Result<()>,
    ) -> Result<Timing> {
        if repetitions == 0 {
            return Err(Error::invalid("repetitions", "count", ">= 1", 0));
        }
        let mut encoder = self.gpu.encoder("squeeze profiler");
        if let Some(ts) = &self.timestamps {
            encoder.write_timestamp(&ts.queries, 0);
        }
        for _ in 0..repetitions {
            record(&mut encoder)?;
        }
        let Some(ts) = &self.timestamps else {
            let start = Instant::now();
            self.gpu.submit_and_wait(encoder)?;
            return Ok(Timing {
                seconds: start.elapsed().as_secs_f64() / f64::from(repetitions),
                repetitions,
                clock: Clock::WallClock,
            });
        };
        encoder.write_timestamp(&ts.queries, 1);
        encoder.resolve_query_set(&ts.queries, 0..2, &ts.resolve, 0);
        self.gpu.submit_and_wait(encoder)?;
        let ticks: Vec<u64> = self
            .gpu
            .read_back::<u32>("profiler timestamps", &ts.resolve, 0, 4)?
            .chunks_exact(2)
            .map(|w| u64::from(w[0]) | (u64::from(w[1]) << 32))
            .collect();
        let period_ns = f64::from(self.gpu.queue().get_timestamp_period());
        let elapsed = ticks[1].wrapping_sub(ticks[0]) as f64 * period_ns * 1e-9;
        Ok(Timing {
            seconds: elapsed / f64::from(repetitions),
            repetitions,
            clock: Clock::GpuTimestamp,
        })
    }
}
