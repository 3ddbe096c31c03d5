//! Bind groups built once per distinct dispatch and reused, so recording a steady-state step
//! (the same kernels over the same buffers with the same parameters, new data in the buffers)
//! creates no buffers and no bind groups.
//!
//! A dispatch is identified by its pipeline, the bytes of its `params` uniform and its
//! bindings (slot, buffer identity, offset, size). The first time one is seen, its uniform
//! buffer and bind group are created and kept; every later time they are reused. The key is
//! hashed without allocating and compared field by field, so a hit costs a hash and a compare.
//!
//! An engine that keeps lengths and page tables in its own buffers gets the same parameters
//! every step, so every dispatch after the first step is a hit. Parameters that change every
//! step (a host-side sequence length in a uniform) miss every time: [`AllocationCounts`] shows
//! it. The cache holds its buffers alive; it is bounded by [`CAPACITY`] entries and emptied
//! when full (a steady state needs far fewer), or by [`crate::Gpu::clear_bind_cache`].

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::buffer::Binding;

/// Most dispatches kept: several times the ~300 of a 7B-class decode step.
pub const CAPACITY: usize = 8192;

/// Buffers and bind groups squeeze created on one [`crate::Gpu`] since it was opened, and the
/// dispatches it recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AllocationCounts {
    pub buffers: u64,
    pub bind_groups: u64,
    pub dispatches: u64,
}

impl std::ops::Sub for AllocationCounts {
    type Output = AllocationCounts;

    fn sub(self, earlier: AllocationCounts) -> AllocationCounts {
        AllocationCounts {
            buffers: self.buffers - earlier.buffers,
            bind_groups: self.bind_groups - earlier.bind_groups,
            dispatches: self.dispatches - earlier.dispatches,
        }
    }
}

/// The counters behind [`AllocationCounts`].
#[derive(Default)]
pub(crate) struct Counters {
    buffers: AtomicU64,
    bind_groups: AtomicU64,
    dispatches: AtomicU64,
}

impl Counters {
    pub(crate) fn buffer(&self) {
        self.buffers.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn bind_group(&self) {
        self.bind_groups.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn dispatch(&self) {
        self.dispatches.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> AllocationCounts {
        AllocationCounts {
            buffers: self.buffers.load(Ordering::Relaxed),
            bind_groups: self.bind_groups.load(Ordering::Relaxed),
            dispatches: self.dispatches.load(Ordering::Relaxed),
        }
    }
}

/// One binding of a cached dispatch, owning a handle to its buffer.
struct BoundBuffer {
    slot: u32,
    buffer: wgpu::Buffer,
    offset: u64,
    size: u64,
}

struct Entry {
    pipeline: wgpu::ComputePipeline,
    params: Vec<u8>,
    bindings: Vec<BoundBuffer>,
    bind_group: wgpu::BindGroup,
}

impl Entry {
    fn matches<'b>(
        &self,
        pipeline: &wgpu::ComputePipeline,
        params: &[u8],
        bindings: impl ExactSizeIterator<Item = (u32, Binding<'b>)>,
    ) -> bool {
        self.pipeline == *pipeline
            && self.params == params
            && self.bindings.len() == bindings.len()
            && self.bindings.iter().zip(bindings).all(|(a, (slot, b))| {
                a.slot == slot && a.buffer == *b.buffer && a.offset == b.offset && a.size == b.size
            })
    }
}

/// The per-device cache behind [`crate::Gpu::dispatch_slots`].
#[derive(Default)]
pub(crate) struct BindCache {
    inner: Mutex<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Entries by key hash; colliding keys share a bucket.
    buckets: HashMap<u64, Vec<Entry>>,
    /// Constant storage buffers by content hash ([`crate::Gpu::constant`]).
    constants: HashMap<u64, Vec<(Vec<u8>, wgpu::Buffer)>>,
    len: usize,
}

fn hash_of<'b>(
    pipeline: &wgpu::ComputePipeline,
    params: &[u8],
    bindings: impl Iterator<Item = (u32, Binding<'b>)>,
) -> u64 {
    let mut h = DefaultHasher::new();
    pipeline.hash(&mut h);
    params.hash(&mut h);
    for (slot, b) in bindings {
        (slot, b.buffer, b.offset, b.size).hash(&mut h);
    }
    h.finish()
}

impl BindCache {
    /// The bind group of this dispatch: the cached one, or `make()`'s, which is then kept.
    pub(crate) fn get_or_insert<'b, I>(
        &self,
        pipeline: &wgpu::ComputePipeline,
        params: &[u8],
        bindings: I,
        make: impl FnOnce() -> crate::Result<wgpu::BindGroup>,
    ) -> crate::Result<wgpu::BindGroup>
    where
        I: ExactSizeIterator<Item = (u32, Binding<'b>)> + Clone,
    {
        let key = hash_of(pipeline, params, bindings.clone());
        let mut inner = self.lock();
        if let Some(e) = inner.buckets.get(&key).and_then(|bucket| {
            bucket
                .iter()
                .find(|e| e.matches(pipeline, params, bindings.clone()))
        }) {
            return Ok(e.bind_group.clone());
        }
        let bind_group = make()?;
        if inner.len >= CAPACITY {
            *inner = Inner::default();
        }
        inner.len += 1;
        inner.buckets.entry(key).or_default().push(Entry {
            pipeline: pipeline.clone(),
            params: params.to_vec(),
            bindings: bindings
                .map(|(slot, b)| BoundBuffer {
                    slot,
                    buffer: b.buffer.clone(),
                    offset: b.offset,
                    size: b.size,
                })
                .collect(),
            bind_group: bind_group.clone(),
        });
        Ok(bind_group)
    }

    /// The buffer holding `bytes`: the cached one, or `make()`'s, which is then kept.
    pub(crate) fn constant(
        &self,
        bytes: &[u8],
        make: impl FnOnce() -> crate::Result<wgpu::Buffer>,
    ) -> crate::Result<wgpu::Buffer> {
        let mut h = DefaultHasher::new();
        bytes.hash(&mut h);
        let key = h.finish();
        let mut inner = self.lock();
        if let Some((_, buffer)) = inner
            .constants
            .get(&key)
            .and_then(|bucket| bucket.iter().find(|(b, _)| b == bytes))
        {
            return Ok(buffer.clone());
        }
        let buffer = make()?;
        if inner.len >= CAPACITY {
            *inner = Inner::default();
        }
        inner.len += 1;
        inner
            .constants
            .entry(key)
            .or_default()
            .push((bytes.to_vec(), buffer.clone()));
        Ok(buffer)
    }

    /// Drops every cached bind group (and the buffers they hold alive).
    pub(crate) fn clear(&self) {
        *self.lock() = Inner::default();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Entries are inserted whole, so a panic elsewhere cannot leave the map inconsistent.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
