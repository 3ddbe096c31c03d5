//! Compute pipelines built once per (module, entry point, override set) and device.
//!
//! Only registered modules with registered override sets compile, so everything that runs was
//! also translated to every backend by the validation suite. Compile and validation failures are
//! caught with an error scope and returned as [`Error::ShaderCompile`] naming the shader.

use std::collections::HashMap;
use std::sync::Mutex;

use squeeze_shaders::Module;

use crate::error::{Error, Result};
use crate::gpu::Gpu;

type Key = (&'static str, String, Vec<(String, u64)>, bool);

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
    pipelines: Mutex<HashMap<Key, wgpu::ComputePipeline>>,
}

fn key(module: &Module, entry: &str, overrides: &[(&str, f64)], options: PipelineOptions) -> Key {
    let mut consts: Vec<(String, u64)> = overrides
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_bits()))
        .collect();
    consts.sort();
    (
        module.name,
        entry.to_string(),
        consts,
        options.zero_initialize_workgroup_memory,
    )
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
        let key = key(module, entry, overrides, options);
        let cache = self.pipelines();
        if let Some(p) = lock(cache).get(&key) {
            return Ok(p.clone());
        }
        let pipeline = self.compile(module, entry, overrides, options)?;
        lock(cache).insert(key, pipeline.clone());
        Ok(pipeline)
    }

    fn check_requirements(&self, module: &'static Module) -> Result<()> {
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

fn lock(cache: &PipelineCache) -> std::sync::MutexGuard<'_, HashMap<Key, wgpu::ComputePipeline>> {
    // A panic while holding the lock leaves the map consistent (inserts are single calls).
    cache
        .pipelines
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
