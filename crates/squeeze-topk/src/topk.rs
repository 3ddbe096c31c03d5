//! [`TopK`]: exact top-k of each row, recorded with no host readback between passes. Rows that
//! fit workgroup memory take one dispatch ([`crate::small`]: select, sort and write in place).
//! Longer rows take a radix selection of the winners ([`crate::select`], one workgroup per row
//! and one dispatch, or [`crate::cooperative`], several workgroups per row for a few huge rows;
//! see [`Strategy`]), their bitonic sort, which writes the indices ([`crate::sort`]), and, unless
//! only indices are wanted, the gather of their values ([`crate::gather`]): three dispatches for
//! k ≤ 2048 on the per-row path. The radix rounds scan on subgroups where the device has them
//! ([`Scan`]).

use squeeze_core::{Binding, DType, Error, Gpu, Result, wgpu};

use crate::Order;
use crate::cooperative::{Cooperative, spill_bytes, state_bytes};
use crate::gather::Gather;
use crate::params::{Capacities, Scan, TopkParams};
use crate::reference::{Score, check_lengths, is_score};
use crate::select::Select;
use crate::small::Small;
use crate::sort::{Sort, pair_bytes};

/// The buffers of one top-k (or argsort) of `[rows, n]` scores.
#[derive(Debug, Clone, Copy)]
pub struct ScoreBindings<'a> {
    /// The scores, `[rows, n]` row-major in the kernel's dtype (16-bit formats packed two per
    /// word, the binding rounded up to whole words).
    pub x: Binding<'a>,
    /// Optional valid length of each row, `[rows]` u32. Entries above `n` are clamped to `n` on
    /// the device ([`TopK::run`] refuses them on the host).
    pub lengths: Option<Binding<'a>>,
    /// Scratch for the (key, index) pairs and the selection state: [`TopK::scratch_bytes`]
    /// ([`Argsort::scratch_bytes`](crate::Argsort::scratch_bytes) for a full sort).
    pub scratch: Binding<'a>,
    /// Output `[rows, k]` i32 indices, best first; -1 in slots past a short row's length.
    pub indices: Binding<'a>,
    /// Output `[rows, k]` values in the input dtype, or `None` for indices only.
    pub values: Option<Binding<'a>>,
}

/// The `FORMAT` override of a score dtype.
pub(crate) fn format_constant(dtype: DType) -> Result<f64> {
    match dtype {
        DType::F32 => Ok(0.0),
        DType::F16 => Ok(1.0),
        DType::Bf16 => Ok(2.0),
        other => Err(Error::invalid(
            "dtype",
            "score type",
            "f32, f16 or bf16",
            other,
        )),
    }
}

/// Bytes of `count` elements of `dtype` as bound: whole 4-byte words.
fn bound_bytes(dtype: DType, count: u64) -> u64 {
    (count * dtype.size() as u64).next_multiple_of(4)
}

/// Scratch bytes of the small-row kernel, which binds none: the smallest non-empty binding.
const SMALL_SCRATCH: u64 = 4;

/// Alignment of the state inside the scratch: the largest `min_storage_buffer_offset_alignment`
/// WebGPU allows.
const STATE_ALIGN: u64 = 256;

/// The scratch of a top-k: the pairs at its start, then the cooperative state and spilled
/// candidates, each at a [`STATE_ALIGN`] boundary.
fn split_scratch<'a>(
    scratch: Binding<'a>,
    rows: u32,
    k: u32,
    capacities: Capacities,
) -> [Binding<'a>; 3] {
    let pairs = pair_bytes(rows, k);
    let state_at = pairs.next_multiple_of(STATE_ALIGN);
    let spill_at = (state_at + state_bytes(rows)).next_multiple_of(STATE_ALIGN);
    let spill = spill_bytes(rows, capacities);
    [
        Binding::new(scratch.buffer, scratch.offset, pairs),
        Binding::new(scratch.buffer, scratch.offset + state_at, state_bytes(rows)),
        Binding::new(scratch.buffer, scratch.offset + spill_at, spill),
    ]
}

/// Checks a `[rows, n]` → `[rows, k]` selection and its bindings (the scratch must hold
/// `scratch_bytes`); returns its params.
pub(crate) fn check_scores(
    gpu: &Gpu,
    dtype: DType,
    (rows, n, k): (u32, u32, u32),
    order: Order,
    b: &ScoreBindings<'_>,
    scratch_bytes: u64,
) -> Result<TopkParams> {
    if n == 0 {
        return Err(Error::invalid("n", "row length", "at least 1", n));
    }
    if k == 0 || k > n {
        return Err(Error::invalid("k", "value", format!("1 ≤ k ≤ n = {n}"), k));
    }
    let elements = u64::from(rows) * u64::from(n);
    if elements > u64::from(u32::MAX) {
        return Err(Error::invalid(
            "x",
            "elements (rows × n)",
            "at most u32::MAX",
            elements,
        ));
    }
    let params = TopkParams::new(rows, n, k, order, b.lengths.is_some());
    if rows == 0 {
        return Ok(params);
    }
    let outputs = u64::from(rows) * u64::from(k);
    let scratch = pair_bytes(rows, k);
    let max = gpu.limits().max_storage_buffer_binding_size;
    if scratch > max {
        return Err(Error::OverLimit {
            arg: "scratch",
            bytes: scratch,
            limit: "max_storage_buffer_binding_size",
            max,
        });
    }
    let shape = format_args!("{rows} × {n} {dtype}");
    gpu.check_storage_binding("x", &b.x)?;
    gpu.check_binding_holds("x", &b.x, bound_bytes(dtype, elements), shape)?;
    if let Some(lengths) = &b.lengths {
        gpu.check_storage_binding("lengths", lengths)?;
        gpu.check_binding_holds("lengths", lengths, u64::from(rows) * 4, "one u32 per row")?;
    }
    gpu.check_storage_binding("scratch", &b.scratch)?;
    gpu.check_binding_holds(
        "scratch",
        &b.scratch,
        scratch_bytes,
        format_args!("{rows} × {k} (key, index) pairs and the selection state"),
    )?;
    gpu.check_storage_binding("indices", &b.indices)?;
    gpu.check_binding_holds(
        "indices",
        &b.indices,
        outputs * 4,
        format_args!("{rows} × {k} i32"),
    )?;
    if let Some(values) = &b.values {
        gpu.check_storage_binding("values", values)?;
        gpu.check_binding_holds(
            "values",
            values,
            bound_bytes(dtype, outputs),
            format_args!("{rows} × {k} {dtype}"),
        )?;
    }
    Ok(params)
}

/// How the winners of each row are selected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Strategy {
    /// [`Strategy::Small`] when a row fits workgroup memory; else [`Strategy::PerRow`] when rows
    /// are many or short, or when the adapter is a CPU; else cooperative with enough workgroups
    /// per row to fill the device ([`auto_groups_per_row`]).
    #[default]
    Auto,
    /// One workgroup per row holding the whole row in workgroup memory, the only dispatch
    /// (`shaders/topk/small.wgsl`); rows of at most [`TopK::small_capacity`] elements.
    Small,
    /// One workgroup per row, one dispatch (`shaders/topk/select.wgsl`).
    PerRow,
    /// This many workgroups (at most n) share each row, through global histograms
    /// (`shaders/topk/cooperative.wgsl`).
    Cooperative(u32),
}

/// Rows from which one workgroup per row is used however long the rows: 8 rows already keep
/// 8 × 32 = 256 workgroups busy at the cooperative split below.
const MANY_ROWS: u32 = 8;
/// Row length below which one workgroup per row is enough.
const LONG_ROW: u32 = 1 << 16;
/// Elements each cooperating workgroup covers at least.
const SLICE: u32 = 1 << 14;
/// Workgroups a cooperative selection aims for in all.
const TARGET_WORKGROUPS: u32 = 256;

/// Workgroups per row [`Strategy::Auto`] uses on a GPU (1: the per-row kernel). On a CPU adapter
/// (lavapipe) Auto always uses the per-row kernel: there the cooperative path's ~25 dispatches
/// cost more than the parallelism gains (`squeeze bench topk`: `topk-coop` against `topk`).
pub fn auto_groups_per_row(rows: u32, n: u32) -> u32 {
    if rows >= MANY_ROWS || n < LONG_ROW {
        return 1;
    }
    n.div_ceil(SLICE)
        .min(TARGET_WORKGROUPS.div_ceil(rows.max(1)))
        .max(1)
}

/// Exact top-k of each row for one score dtype on one device.
pub struct TopK {
    gpu: Gpu,
    dtype: DType,
    strategy: Strategy,
    capacities: Capacities,
    small: Small,
    select: Select,
    cooperative: Cooperative,
    sort: Sort,
    gather: Gather,
}

impl TopK {
    /// Compiles the passes for scores of `dtype` (f32, f16 or bf16), with the subgroup scan
    /// where the device has subgroups.
    pub fn new(gpu: &Gpu, dtype: DType) -> Result<Self> {
        Self::with_scan(gpu, dtype, Scan::for_gpu(gpu))
    }

    /// [`TopK::new`] with the radix rounds' scan chosen ([`Scan::Subgroup`] needs `SUBGROUP`).
    pub fn with_scan(gpu: &Gpu, dtype: DType, scan: Scan) -> Result<Self> {
        let format = format_constant(dtype)?;
        let capacities = Capacities::for_gpu(gpu);
        Ok(Self {
            gpu: gpu.clone(),
            dtype,
            strategy: Strategy::Auto,
            capacities,
            small: Small::new(gpu, format, capacities, scan)?,
            select: Select::new(gpu, format, capacities, scan)?,
            cooperative: Cooperative::new(gpu, format, capacities)?,
            sort: Sort::new(gpu, format, capacities)?,
            gather: Gather::new(gpu, format)?,
        })
    }

    /// The same kernel selecting with `strategy`.
    pub fn with_strategy(mut self, strategy: Strategy) -> Self {
        self.strategy = strategy;
        self
    }

    /// Longest row [`Strategy::Small`] takes on this device (from its workgroup storage).
    pub fn small_capacity(&self) -> u32 {
        self.capacities.small
    }

    /// Whether rows of `n` take the small-row kernel.
    fn small_rows(&self, n: u32) -> bool {
        match self.strategy {
            Strategy::Auto | Strategy::Small => n <= self.capacities.small,
            Strategy::PerRow | Strategy::Cooperative(_) => false,
        }
    }

    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Workgroups per row this kernel's strategy gives `rows × n` (1: the per-row kernel,
    /// unless the strategy forces the cooperative one).
    fn groups_per_row(&self, rows: u32, n: u32) -> u32 {
        match self.strategy {
            Strategy::Auto if self.gpu.info().device_type == wgpu::DeviceType::Cpu => 1,
            Strategy::Auto => auto_groups_per_row(rows, n),
            Strategy::PerRow | Strategy::Small => 1,
            // At most one workgroup per element, so rows × groups stays within u32.
            Strategy::Cooperative(groups) => groups.clamp(1, n.max(1)),
        }
    }

    fn cooperates(&self, rows: u32, n: u32) -> bool {
        matches!(self.strategy, Strategy::Cooperative(_)) || self.groups_per_row(rows, n) > 1
    }

    /// Bytes of the scratch a `rows × n` → `rows × k` top-k needs: 8 per kept element; on the
    /// cooperative path also (each at a 256-byte boundary) 1088 per row of selection state and
    /// 12 KiB per row of spilled candidates. The small-row kernel uses none, yet the binding
    /// must not be empty: 4 bytes.
    pub fn scratch_bytes(&self, rows: u32, n: u32, k: u32) -> u64 {
        if self.small_rows(n) {
            return SMALL_SCRATCH;
        }
        let pairs = pair_bytes(rows, k);
        if !self.cooperates(rows, n) {
            return pairs;
        }
        let state_at = pairs.next_multiple_of(STATE_ALIGN);
        (state_at + state_bytes(rows)).next_multiple_of(STATE_ALIGN)
            + spill_bytes(rows, self.capacities)
    }

    /// Records the top-k of each of `rows` rows of `n` scores: indices (and values, if bound),
    /// best first. 1 ≤ k ≤ n; every binding is checked before anything is recorded. With
    /// [`Strategy::Small`], n must be at most [`TopK::small_capacity`].
    pub fn encode(
        &self,
        encoder: &mut wgpu::CommandEncoder,
        rows: u32,
        n: u32,
        k: u32,
        order: Order,
        b: &ScoreBindings<'_>,
    ) -> Result<()> {
        if self.strategy == Strategy::Small && n > self.capacities.small {
            return Err(Error::invalid(
                "n",
                "row length (Strategy::Small)",
                format!("at most {} (the small-row capacity)", self.capacities.small),
                n,
            ));
        }
        let scratch = self.scratch_bytes(rows, n, k);
        let params = check_scores(&self.gpu, self.dtype, (rows, n, k), order, b, scratch)?;
        if rows == 0 {
            return Ok(());
        }
        // Without lengths the shaders never read slot 2; any read-only binding fills it.
        let lengths = b.lengths.unwrap_or(b.x);
        if self.small_rows(n) {
            return self
                .small
                .encode(encoder, &params, b.x, lengths, b.indices, b.values);
        }
        let parts = split_scratch(b.scratch, rows, k, self.capacities);
        let pairs = parts[0];
        if self.cooperates(rows, n) {
            // Inside the checked scratch; each part must also fit one binding.
            self.gpu.check_storage_binding("scratch", &parts[1])?;
            self.gpu.check_storage_binding("scratch", &parts[2])?;
            let groups = self.groups_per_row(rows, n);
            self.cooperative
                .encode(encoder, &params, groups, b, parts)?;
        } else {
            self.select.encode(encoder, &params, b.x, lengths, pairs)?;
        }
        self.sort.encode(encoder, &params, pairs, b.indices)?;
        if let Some(values) = b.values {
            self.gather
                .encode(encoder, &params, b.x, b.indices, values)?;
        }
        Ok(())
    }

    /// Uploads `x` (`[rows, n]`), runs top-k on the device and reads back (values, indices),
    /// each `[rows, k]` best first. `lengths`, if given, has one entry per row, each ≤ n.
    pub fn run<T: Score>(
        &self,
        x: &[T],
        n: usize,
        k: usize,
        order: Order,
        lengths: Option<&[u32]>,
    ) -> Result<(Vec<T>, Vec<i32>)> {
        let (values, indices) = self.run_inner(x, n, k, order, lengths, true)?;
        Ok((values, indices))
    }

    /// [`TopK::run`] of the indices-only variant (no value gather).
    pub fn run_indices<T: Score>(
        &self,
        x: &[T],
        n: usize,
        k: usize,
        order: Order,
        lengths: Option<&[u32]>,
    ) -> Result<Vec<i32>> {
        Ok(self.run_inner(x, n, k, order, lengths, false)?.1)
    }

    fn run_inner<T: Score>(
        &self,
        x: &[T],
        n: usize,
        k: usize,
        order: Order,
        lengths: Option<&[u32]>,
        with_values: bool,
    ) -> Result<(Vec<T>, Vec<i32>)> {
        let (rows, n32, k32) = host_shape(self.dtype, T::DTYPE, x.len(), n, k, lengths)?;
        if rows == 0 {
            return Ok((Vec::new(), Vec::new()));
        }
        let gpu = &self.gpu;
        let input = gpu.upload("x", x)?;
        let lengths_buf = lengths.map(|l| gpu.upload("lengths", l)).transpose()?;
        let outputs = rows as usize * k;
        let scratch = gpu.storage_buffer("scratch", self.scratch_bytes(rows, n32, k32))?;
        let indices = gpu.storage_buffer("indices", outputs as u64 * 4)?;
        let values = gpu.storage_buffer("values", bound_bytes(T::DTYPE, outputs as u64))?;
        let mut encoder = gpu.encoder("topk");
        self.encode(
            &mut encoder,
            rows,
            n32,
            k32,
            order,
            &ScoreBindings {
                x: Binding::whole(&input),
                lengths: lengths_buf.as_ref().map(Binding::whole),
                scratch: Binding::whole(&scratch),
                indices: Binding::whole(&indices),
                values: with_values.then(|| Binding::whole(&values)),
            },
        )?;
        gpu.submit_and_wait(encoder)?;
        let got_indices = gpu.read_back("indices", &indices, 0, outputs)?;
        let got_values = if with_values {
            gpu.read_back("values", &values, 0, outputs)?
        } else {
            Vec::new()
        };
        Ok((got_values, got_indices))
    }
}

/// Checks a host-side call: element type, `x` a whole number of rows, 1 ≤ k ≤ n, lengths.
/// Returns (rows, n, k) as u32.
pub(crate) fn host_shape(
    kernel: DType,
    given: DType,
    len: usize,
    n: usize,
    k: usize,
    lengths: Option<&[u32]>,
) -> Result<(u32, u32, u32)> {
    if !is_score(given) || given != kernel {
        return Err(Error::invalid(
            "x",
            "dtype",
            format!("{kernel} (the kernel's)"),
            given,
        ));
    }
    if n == 0 || !len.is_multiple_of(n) {
        return Err(Error::invalid(
            "x",
            "length",
            format!("a multiple of n = {n} (n ≥ 1)"),
            len,
        ));
    }
    if k == 0 || k > n {
        return Err(Error::invalid("k", "value", format!("1 ≤ k ≤ n = {n}"), k));
    }
    let rows = len / n;
    if let Some(lengths) = lengths {
        check_lengths(lengths, rows, n)?;
    }
    let too_big = |what| Error::invalid("x", what, "at most u32::MAX", len);
    Ok((
        u32::try_from(rows).map_err(|_| too_big("rows"))?,
        u32::try_from(n).map_err(|_| too_big("n"))?,
        k as u32,
    ))
}
