//! The devices conformance runs on: every adapter found, or those of one backend.

use squeeze::{AdapterEntry, Backend, Gpu, enumerate_adapters};

/// Every adapter found (of `backend`, if given), each opened or with the error that kept it
/// closed.
pub fn open_all(backend: Option<Backend>) -> Vec<(AdapterEntry, squeeze::Result<Gpu>)> {
    enumerate_adapters()
        .into_iter()
        .filter(|e| backend.is_none_or(|b| Backend::from_wgpu(e.info.backend) == Some(b)))
        .map(|e| {
            let gpu = Gpu::open(&e);
            (e, gpu)
        })
        .collect()
}

/// What to tell someone on a machine with no adapter at all.
pub const NO_ADAPTER_HELP: &str = "no GPU adapter found: GPU tests need one. On Debian/Ubuntu \
     install Mesa's software Vulkan driver (lavapipe): \
     `apt-get install -y mesa-vulkan-drivers libvulkan1`";
