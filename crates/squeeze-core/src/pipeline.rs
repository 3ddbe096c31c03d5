//! Compute pipelines built once per (module, entry point, override set) and device.
//!
//! Only registered modules with registered override sets compile, so everything that runs was
//! also translated to every backend by the validation suite. Compile and validation failures are
//! caught with an error scope and returned as [`Error::ShaderCompile`] naming the shader.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::{Arc, Mutex};

use squeeze_shaders::Module;

use crate::error::{Error, Result};
use crate::gpu::Gpu;

/// What identifies a pipeline: module, entry point, override values (as bits), workgroup
/// zeroing. Stored once per pipeline; lookups compare against borrowed arguments instead of
/// building one, so a cache hit allocates nothing.
struct Key {
    module: &'static str,
    entry: String,
    overrides: Vec<(String, u64)>,
    zero_initialize: bool,
}

impl Key {
    fn new(
        module: &Module,
        entry: &str,
        overrides: &[(&str, f64)],
        options: PipelineOptions,
    ) -> Self {
        Self {
            module: module.name,
            entry: entry.to_string(),
            overrides: overrides
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_bits()))
                .collect(),
            zero_initialize: options.zero_initialize_workgroup_memory,
        }
    }

    /// Whether this is the key of these arguments (overrides in any order).
    fn matches(
        &self,
        module: &Module,
        entry: &str,
        overrides: &[(&str, f64)],
        options: PipelineOptions,
    ) -> bool {
        self.module == module.name
            && self.entry == entry
            && self.zero_initialize == options.zero_initialize_workgroup_memory
            && self.overrides.len() == overrides.len()
            && overrides.iter().all(|(n, v)| {
                self.overrides
                    .iter()
                    .any(|(kn, kv)| kn == n && *kv == v.to_bits())
            })
    }
}

/// The hash of a key's arguments, independent of the overrides' order, computed without
/// allocating.
fn hash_key(
    module: &Module,
    entry: &str,
    overrides: &[(&str, f64)],
    options: PipelineOptions,
) -> u64 {
    let mut h = DefaultHasher::new();
    module.name.hash(&mut h);
    entry.hash(&mut h);
    options.zero_initialize_workgroup_memory.hash(&mut h);
    let set = overrides.iter().fold(0u64, |acc, (n, v)| {
        let mut one = DefaultHasher::new();
        n.hash(&mut one);
        v.to_bits().hash(&mut one);
        acc.wrapping_add(one.finish())
    });
    set.hash(&mut h);
    h.finish()
}

/// How a pipeline is compiled, beyond its module, entry point and overrides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineOptions {
    /// Zero workgroup memory before the entry point runs (WGSL semantics, the default). A kernel
    /// that writes every workgroup word before reading it may turn this off: the zeroing costs
    /// run time, and naga's GLSL output for large workgroup arrays takes Mesa's GL compiler
    /// seconds per pipeline.
    pub zero_initialize_workgroup_memory: bool,
}

impl Default for PipelineOptions {
    fn default() -> Self {
        Self {
            zero_initialize_workgroup_memory: true,
        }
    }
}

/// The per-device cache behind [`Gpu::pipeline`].
#[derive(Default)]
pub struct PipelineCache {
    /// Pipelines by key hash; colliding keys share a bucket.
    pipelines: Mutex<HashMap<u64, Vec<(Key, wgpu::ComputePipeline)>>>,
    /// The group-0 binding slots each compiled pipeline's module writes (read_write storage),
    /// for the aliasing check of [`Gpu::check_aliasing`].
    writable: Mutex<HashMap<wgpu::ComputePipeline, Arc<[u32]>>>,
}

impl PipelineCache {
    /// The slots `pipeline` writes, if squeeze compiled it.
    pub(crate) fn writable_slots(&self, pipeline: &wgpu::ComputePipeline) -> Option<Arc<[u32]>> {
        self.writable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(pipeline)
            .cloned()
    }
}

/// The group-0 bindings `source` declares as read_write storage. A module naga cannot parse
/// yields none (and fails to compile anyway).
fn writable_slots(source: &str) -> Arc<[u32]> {
    let Ok(module) = naga::front::wgsl::parse_str(source) else {
        return Arc::from([]);
    };
    module
        .global_variables
        .iter()
        .filter_map(|(_, var)| {
            let binding = var.binding.as_ref()?;
            let writes = matches!(
                var.space,
                naga::AddressSpace::Storage { access } if access.contains(naga::StorageAccess::STORE)
            );
            (binding.group == 0 && writes).then_some(binding.binding)
        })
        .collect()
}

impl Gpu {
    /// The compute pipeline for `entry` of `module` with `overrides`, compiled on first use.
    pub fn pipeline(
        &self,
        module: &'static Module,
        entry: &str,
        overrides: &[(&str, f64)],
    ) -> Result<wgpu::ComputePipeline> {
        self.pipeline_with_options(module, entry, overrides, PipelineOptions::default())
    }

    /// [`Gpu::pipeline`] with non-default [`PipelineOptions`].
    pub fn pipeline_with_options(
        &self,
        module: &'static Module,
        entry: &str,
        overrides: &[(&str, f64)],
        options: PipelineOptions,
    ) -> Result<wgpu::ComputePipeline> {
        if !module.entry_points.contains(&entry) {
            return Err(Error::UnknownEntryPoint {
                shader: module.name,
                entry: entry.to_string(),
                available: module.entry_points,
            });
        }
        if !module.has_override_set(overrides) {
            return Err(Error::UnregisteredOverrides {
                shader: module.name,
                given: format!("{overrides:?}"),
            });
        }
        self.check_requirements(module)?;
        let hash = hash_key(module, entry, overrides, options);
        let cache = self.pipelines();
        if let Some((_, p)) = lock(cache).get(&hash).and_then(|bucket| {
            bucket
                .iter()
                .find(|(k, _)| k.matches(module, entry, overrides, options))
        }) {
            return Ok(p.clone());
        }
        let pipeline = self.compile(module, entry, overrides, options)?;
        lock(cache).entry(hash).or_default().push((
            Key::new(module, entry, overrides, options),
            pipeline.clone(),
        ));
        cache
            .writable
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(pipeline.clone(), writable_slots(&module.source()));
        Ok(pipeline)
    }

    /// Fails with [`Error::MissingFeature`] unless this device has what `module` requires, as
    /// compiling it would; for kernels that check before they compile anything.
    pub fn check_requirements(&self, module: &'static Module) -> Result<()> {
        let missing = |feature| Error::MissingFeature {
            shader: module.name,
            feature,
            adapter: self.label(),
        };
        if module.requires.f16 && !self.has_f16() {
            return Err(missing("SHADER_F16"));
        }
        if module.requires.subgroups && !self.has_subgroups() {
            return Err(missing("SUBGROUP"));
        }
        Ok(())
    }

    fn compile(
        &self,
        module: &'static Module,
        entry: &str,
        overrides: &[(&str, f64)],
        options: PipelineOptions,
    ) -> Result<wgpu::ComputePipeline> {
        let device = self.device();
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(module.name),
            source: wgpu::ShaderSource::Wgsl(module.source().into()),
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(entry),
            layout: None,
            module: &shader,
            entry_point: Some(entry),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants: overrides,
                zero_initialize_workgroup_memory: options.zero_initialize_workgroup_memory,
            },
            cache: None,
        });
        match pollster::block_on(scope.pop()) {
            None => Ok(pipeline),
            Some(err) => Err(Error::ShaderCompile {
                shader: module.name,
                entry: entry.to_string(),
                message: err.to_string(),
            }),
        }
    }
}

type Buckets = HashMap<u64, Vec<(Key, wgpu::ComputePipeline)>>;

fn lock(cache: &PipelineCache) -> std::sync::MutexGuard<'_, Buckets> {
    // A panic while holding the lock leaves the map consistent (inserts are single calls).
    cache
        .pipelines
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
