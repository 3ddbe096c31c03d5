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

type Key = (&'static str, String, Vec<(String, u64)>);

/// The per-device cache behind [`Gpu::pipeline`].
#[derive(Default)]
pub struct PipelineCache {
    pipelines: Mutex<HashMap<Key, wgpu::ComputePipeline>>,
}

fn key(module: &Module, entry: &str, overrides: &[(&str, f64)]) -> Key {
    let mut consts: Vec<(String, u64)> = overrides
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_bits()))
        .collect();
    consts.sort();
    (module.name, entry.to_string(), consts)
}

impl Gpu {
    /// The compute pipeline for `entry` of `module` with `overrides`, compiled on first use.
    pub fn pipeline(
        &self,
        module: &'static Module,
        entry: &str,
        overrides: &[(&str, f64)],
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
        let key = key(module, entry, overrides);
        let cache = self.pipelines();
        if let Some(p) = lock(cache).get(&key) {
            return Ok(p.clone());
        }
        let pipeline = self.compile(module, entry, overrides)?;
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
                zero_initialize_workgroup_memory: true,
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
