//! The device a kernel runs on: made by squeeze from an adapter it picks, or wrapped around the
//! device and queue an engine already owns.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use crate::bind_cache::{AllocationCounts, BindCache, Counters};
use crate::error::{Error, Result};
use crate::pipeline::PipelineCache;

/// Lanes the broadcast kernels need: eight lanes load, every lane takes all eight.
pub const BROADCAST_LANES: u32 = 8;

/// A graphics API squeeze can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    Vulkan,
    Metal,
    Dx12,
    Gl,
}

impl Backend {
    /// Every backend, in the order adapters are listed.
    pub const ALL: [Backend; 4] = [Backend::Vulkan, Backend::Metal, Backend::Dx12, Backend::Gl];

    pub fn to_wgpu(self) -> wgpu::Backends {
        match self {
            Backend::Vulkan => wgpu::Backends::VULKAN,
            Backend::Metal => wgpu::Backends::METAL,
            Backend::Dx12 => wgpu::Backends::DX12,
            Backend::Gl => wgpu::Backends::GL,
        }
    }

    pub fn from_wgpu(backend: wgpu::Backend) -> Option<Self> {
        match backend {
            wgpu::Backend::Vulkan => Some(Backend::Vulkan),
            wgpu::Backend::Metal => Some(Backend::Metal),
            wgpu::Backend::Dx12 => Some(Backend::Dx12),
            wgpu::Backend::Gl => Some(Backend::Gl),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Vulkan => "vulkan",
            Backend::Metal => "metal",
            Backend::Dx12 => "dx12",
            Backend::Gl => "gl",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Backend::ALL
            .into_iter()
            .find(|b| b.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| Error::UnknownBackend {
                given: s.to_string(),
            })
    }
}

/// Which adapter [`Gpu::new`] opens.
#[derive(Debug, Clone, Default)]
pub struct GpuOptions {
    /// Restrict to one backend; `None` allows all.
    pub backend: Option<Backend>,
    /// Index into [`enumerate_adapters`]' list; `None` picks the best adapter.
    pub adapter: Option<usize>,
}

impl GpuOptions {
    /// Options from `SQUEEZE_BACKEND` (vulkan|metal|dx12|gl) and `SQUEEZE_ADAPTER` (an index).
    pub fn from_env() -> Result<Self> {
        let backend = match std::env::var("SQUEEZE_BACKEND") {
            Ok(v) if !v.trim().is_empty() => Some(v.parse()?),
            _ => None,
        };
        let adapter = match std::env::var("SQUEEZE_ADAPTER") {
            Ok(v) if !v.trim().is_empty() => {
                Some(v.trim().parse().map_err(|_| Error::BadEnvironment {
                    variable: "SQUEEZE_ADAPTER",
                    given: v.clone(),
                    expected: "an adapter index as listed by `squeeze info`",
                })?)
            }
            _ => None,
        };
        Ok(Self { backend, adapter })
    }

    /// Fill the fields left unset from the environment.
    pub fn or_env(self) -> Result<Self> {
        let env = Self::from_env()?;
        Ok(Self {
            backend: self.backend.or(env.backend),
            adapter: self.adapter.or(env.adapter),
        })
    }
}

/// An adapter found on this machine, with its position in the list `squeeze info` prints.
#[derive(Debug, Clone)]
pub struct AdapterEntry {
    pub index: usize,
    pub adapter: wgpu::Adapter,
    pub info: wgpu::AdapterInfo,
}

impl AdapterEntry {
    pub fn label(&self) -> String {
        format!(
            "#{} {} ({:?})",
            self.index, self.info.name, self.info.backend
        )
    }
}

/// Optional features squeeze uses when the adapter offers them, by name.
pub const WANTED_FEATURES: [(&str, wgpu::Features); 5] = [
    ("SHADER_F16", wgpu::Features::SHADER_F16),
    ("SUBGROUP", wgpu::Features::SUBGROUP),
    ("TIMESTAMP_QUERY", wgpu::Features::TIMESTAMP_QUERY),
    (
        "TIMESTAMP_QUERY_INSIDE_ENCODERS",
        wgpu::Features::TIMESTAMP_QUERY_INSIDE_ENCODERS,
    ),
    (
        "TIMESTAMP_QUERY_INSIDE_PASSES",
        wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES,
    ),
];

/// The union of [`WANTED_FEATURES`].
pub fn wanted_features() -> wgpu::Features {
    WANTED_FEATURES
        .iter()
        .fold(wgpu::Features::empty(), |all, (_, f)| all | *f)
}

fn new_instance(backends: wgpu::Backends) -> wgpu::Instance {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = backends;
    wgpu::Instance::new(desc)
}

fn all_backends() -> wgpu::Backends {
    Backend::ALL
        .into_iter()
        .fold(wgpu::Backends::empty(), |b, x| b | x.to_wgpu())
}

/// Every adapter on every backend, in a stable order (backend order of [`Backend::ALL`], then
/// the driver's order). Indices in this list are what `--adapter` and `SQUEEZE_ADAPTER` mean.
pub fn enumerate_adapters() -> Vec<AdapterEntry> {
    let instance = new_instance(all_backends());
    let mut found = Vec::new();
    for backend in Backend::ALL {
        for adapter in pollster::block_on(instance.enumerate_adapters(backend.to_wgpu())) {
            let info = adapter.get_info();
            found.push(AdapterEntry {
                index: found.len(),
                adapter,
                info,
            });
        }
    }
    found
}

fn describe(adapters: &[AdapterEntry]) -> String {
    if adapters.is_empty() {
        return "none".to_string();
    }
    adapters
        .iter()
        .map(AdapterEntry::label)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Preference when no adapter is named: real GPUs before emulated ones, Vulkan/Metal/DX12
/// before GL.
fn preference(entry: &AdapterEntry) -> (u8, u8) {
    let device = match entry.info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Other => 3,
        wgpu::DeviceType::Cpu => 4,
    };
    let backend = Backend::from_wgpu(entry.info.backend)
        .and_then(|b| Backend::ALL.iter().position(|x| *x == b))
        .unwrap_or(Backend::ALL.len()) as u8;
    (device, backend)
}

/// Picks the adapter `options` describe out of `adapters`.
pub fn select_adapter(adapters: &[AdapterEntry], options: &GpuOptions) -> Result<AdapterEntry> {
    if let Some(index) = options.adapter {
        let entry = adapters
            .get(index)
            .ok_or_else(|| Error::AdapterOutOfRange {
                requested: index,
                count: adapters.len(),
                available: describe(adapters),
            })?;
        if let Some(backend) = options.backend
            && Backend::from_wgpu(entry.info.backend) != Some(backend)
        {
            return Err(Error::AdapterBackendMismatch {
                index,
                adapter: entry.info.name.clone(),
                requested: backend.to_string(),
                actual: format!("{:?}", entry.info.backend),
            });
        }
        return Ok(entry.clone());
    }
    let candidates: Vec<&AdapterEntry> = adapters
        .iter()
        .filter(|e| {
            options
                .backend
                .is_none_or(|b| Backend::from_wgpu(e.info.backend) == Some(b))
        })
        .collect();
    match (
        options.backend,
        candidates.iter().min_by_key(|e| preference(e)),
    ) {
        (_, Some(best)) => Ok((*best).clone()),
        (Some(backend), None) if !adapters.is_empty() => Err(Error::BackendUnavailable {
            requested: backend.to_string(),
            available: describe(adapters),
        }),
        (backend, None) => Err(Error::NoAdapter {
            backends: backend.map_or_else(|| "vulkan, metal, dx12, gl".into(), |b| b.to_string()),
        }),
    }
}

/// A device and queue squeeze dispatches on, with the facts kernels check against and the
/// pipeline cache. Cheap to clone: every field is shared.
#[derive(Clone)]
pub struct Gpu {
    info: wgpu::AdapterInfo,
    device: wgpu::Device,
    queue: wgpu::Queue,
    pipelines: Arc<PipelineCache>,
    bind_cache: Arc<BindCache>,
    counters: Arc<Counters>,
    /// The most workgroups a row-walking dispatch is worth here ([`Gpu::row_workgroups`]).
    pub(crate) row_cap: u32,
}

impl fmt::Debug for Gpu {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Gpu")
            .field("adapter", &self.info.name)
            .field("backend", &self.info.backend)
            .finish_non_exhaustive()
    }
}

impl Gpu {
    /// Opens the adapter `options` select (falling back to `SQUEEZE_BACKEND` and
    /// `SQUEEZE_ADAPTER` for unset fields), with the adapter's maximum limits and the
    /// [`WANTED_FEATURES`] it offers.
    pub fn new(options: GpuOptions) -> Result<Self> {
        let options = options.or_env()?;
        let adapters = enumerate_adapters();
        let entry = select_adapter(&adapters, &options)?;
        Self::open(&entry)
    }

    /// Opens a device on one enumerated adapter.
    pub fn open(entry: &AdapterEntry) -> Result<Self> {
        let adapter = &entry.adapter;
        let desc = wgpu::DeviceDescriptor {
            label: Some("squeeze"),
            required_features: adapter.features() & wanted_features(),
            required_limits: adapter.limits(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        };
        let (device, queue) =
            pollster::block_on(adapter.request_device(&desc)).map_err(|source| {
                Error::RequestDevice {
                    adapter: entry.info.name.clone(),
                    source,
                }
            })?;
        Ok(Self::from_wgpu(entry.info.clone(), device, queue))
    }

    /// Wraps a device and queue an engine already owns. squeeze uses only the features and
    /// limits the device was created with.
    pub fn from_wgpu(info: wgpu::AdapterInfo, device: wgpu::Device, queue: wgpu::Queue) -> Self {
        let row_cap = crate::dispatch::row_cap(
            info.device_type,
            device.limits().max_compute_workgroups_per_dimension,
        );
        Self {
            row_cap,
            info,
            device,
            queue,
            pipelines: Arc::new(PipelineCache::default()),
            bind_cache: Arc::new(BindCache::default()),
            counters: Arc::new(Counters::default()),
        }
    }

    pub fn info(&self) -> &wgpu::AdapterInfo {
        &self.info
    }

    pub fn device(&self) -> &wgpu::Device {
        &self.device
    }

    pub fn queue(&self) -> &wgpu::Queue {
        &self.queue
    }

    pub fn features(&self) -> wgpu::Features {
        self.device.features()
    }

    pub fn limits(&self) -> wgpu::Limits {
        self.device.limits()
    }

    pub(crate) fn pipelines(&self) -> &PipelineCache {
        &self.pipelines
    }

    pub(crate) fn bind_cache(&self) -> &BindCache {
        &self.bind_cache
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }

    /// Buffers and bind groups squeeze has created on this device so far, and dispatches
    /// recorded: the difference around a recorded step is what that step allocated (0 in a
    /// steady state) and how many dispatches it has.
    pub fn allocations(&self) -> AllocationCounts {
        self.counters.get()
    }

    /// Drops every cached bind group and the buffers they keep alive (see
    /// [`crate::bind_cache`]); the next dispatch of each kernel builds its bind group again.
    pub fn clear_bind_cache(&self) {
        self.bind_cache.clear();
    }

    /// Whether subgroup fast paths can run.
    pub fn has_subgroups(&self) -> bool {
        self.features().contains(wgpu::Features::SUBGROUP)
    }

    /// Whether the broadcast kernels (the subgroup GEMM and prefill: eight lanes each load one
    /// value and every lane takes all eight by `subgroupBroadcast`) can run: SUBGROUP with
    /// subgroups of at least [`BROADCAST_LANES`] lanes.
    pub fn has_broadcast_subgroups(&self) -> bool {
        self.has_subgroups() && self.info().subgroup_min_size >= BROADCAST_LANES
    }

    /// Whether the broadcast kernels are this device's best path: a CPU adapter (lavapipe),
    /// where a load whose address differs between lanes is a loop over the lanes and a
    /// broadcast from a fixed lane a register move. GPUs keep their tiled kernels (the
    /// broadcast ones are untimed there).
    pub fn prefers_broadcast_subgroups(&self) -> bool {
        self.info().device_type == wgpu::DeviceType::Cpu && self.has_broadcast_subgroups()
    }

    /// Fails unless a broadcast kernel `module` can run: [`Error::MissingFeature`] without what
    /// it requires (as compiling it would), else an invalid `arg` "subgroup size" when the
    /// subgroups have fewer than [`BROADCAST_LANES`] lanes.
    pub fn check_broadcast_subgroups(
        &self,
        module: &'static squeeze_shaders::Module,
        arg: &'static str,
    ) -> Result<()> {
        self.check_requirements(module)?;
        let lanes = self.info().subgroup_min_size;
        if lanes < BROADCAST_LANES {
            return Err(Error::invalid(
                arg,
                "subgroup size",
                format!("subgroups of at least {BROADCAST_LANES} lanes"),
                lanes,
            ));
        }
        Ok(())
    }

    /// Whether f16 shader variants can run.
    pub fn has_f16(&self) -> bool {
        self.features().contains(wgpu::Features::SHADER_F16)
    }

    /// `name (backend)`, for reports.
    pub fn label(&self) -> String {
        format!("{} ({:?})", self.info.name, self.info.backend)
    }

    /// Submits recorded work and blocks until the device has finished it.
    pub fn submit_and_wait(&self, encoder: wgpu::CommandEncoder) -> Result<()> {
        let index = self.queue.submit([encoder.finish()]);
        self.device.poll(wgpu::PollType::Wait {
            submission_index: Some(index),
            timeout: None,
        })?;
        Ok(())
    }

    pub fn encoder(&self, label: &str) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some(label) })
    }
}
