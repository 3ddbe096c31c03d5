//! `squeeze info`: every adapter with the facts kernels depend on.

use std::process::ExitCode;

use squeeze::core::gpu::WANTED_FEATURES;
use squeeze::{Error, GpuOptions, enumerate_adapters, select_adapter};

pub fn run(options: &GpuOptions) -> Result<ExitCode, Error> {
    let adapters = enumerate_adapters();
    if adapters.is_empty() {
        return Err(Error::NoAdapter {
            backends: "vulkan, metal, dx12, gl".into(),
        });
    }
    let default = select_adapter(&adapters, &options.clone().or_env()?).ok();
    for entry in &adapters {
        let info = &entry.info;
        let limits = entry.adapter.limits();
        let features = entry.adapter.features();
        let marker = if default.as_ref().is_some_and(|d| d.index == entry.index) {
            "  (default)"
        } else {
            ""
        };
        println!("adapter #{}{marker}", entry.index);
        println!("  name         {}", info.name);
        println!("  backend      {:?}", info.backend);
        println!("  device type  {:?}", info.device_type);
        println!("  driver       {} {}", info.driver, info.driver_info);
        println!("  vendor:device {:#06x}:{:#06x}", info.vendor, info.device);
        println!(
            "  subgroups    {}..{} invocations",
            info.subgroup_min_size, info.subgroup_max_size
        );
        let wanted: Vec<String> = WANTED_FEATURES
            .iter()
            .map(|(name, f)| {
                format!(
                    "{name}={}",
                    if features.contains(*f) { "yes" } else { "no" }
                )
            })
            .collect();
        println!("  squeeze features  {}", wanted.join(" "));
        println!(
            "  all features {:?} {:?}",
            features.features_wgpu, features.features_webgpu
        );
        println!("  limits");
        for (name, value) in [
            ("max_buffer_size", limits.max_buffer_size),
            (
                "max_storage_buffer_binding_size",
                limits.max_storage_buffer_binding_size,
            ),
            (
                "max_storage_buffers_per_shader_stage",
                u64::from(limits.max_storage_buffers_per_shader_stage),
            ),
            (
                "max_compute_workgroup_storage_size",
                u64::from(limits.max_compute_workgroup_storage_size),
            ),
            (
                "max_compute_invocations_per_workgroup",
                u64::from(limits.max_compute_invocations_per_workgroup),
            ),
            (
                "max_compute_workgroup_size_x",
                u64::from(limits.max_compute_workgroup_size_x),
            ),
            (
                "max_compute_workgroups_per_dimension",
                u64::from(limits.max_compute_workgroups_per_dimension),
            ),
            (
                "min_storage_buffer_offset_alignment",
                u64::from(limits.min_storage_buffer_offset_alignment),
            ),
        ] {
            println!("    {name:<38} {value}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
