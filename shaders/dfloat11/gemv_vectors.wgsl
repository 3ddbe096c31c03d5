// Shared part of the BF16-weight GEMVs (gemv.wgsl, bf16_gemv.wgsl, native_gemv.wgsl): reading
// activations x [batch, cols] (f32, or f16 two per word with `X_F16`) and writing results
// y [batch, rows] f32, bounds-checked; batch column b of a row's sums is component b of two vec4
// (lo: 0..4, hi: 4..8). The including kernel declares `x` (as u32 words) and `y`.

fn x_at(b: u32, col: u32) -> f32 {
    let i = b * params.cols + col;
    if (X_F16) {
        if (i / 2u < arrayLength(&x)) {
            return f16_to_f32(half_bits(x[i / 2u], i));
        }
        return 0.0;
    }
    if (i < arrayLength(&x)) {
        return bitcast<f32>(x[i]);
    }
    return 0.0;
}

// Activations of batch columns first..first+4 at column `col`, branch-free: a column past the
// batch reads the last one again (its sums are never stored).
fn x4(first: u32, col: u32) -> vec4<f32> {
    let last = max(params.batch, 1u) - 1u;
    return vec4<f32>(x_at(min(first, last), col), x_at(min(first + 1u, last), col),
        x_at(min(first + 2u, last), col), x_at(min(first + 3u, last), col));
}

// (lo, hi) += w · x[.., col]: batch 1 alone takes one load (the uniform branch is cheaper
// than three masked ones), batch ≤ 4 leaves `hi` alone.
fn accumulate(w: f32, col: u32, lo: ptr<function, vec4<f32>>, hi: ptr<function, vec4<f32>>) {
    if (params.batch == 1u) {
        (*lo).x += w * x_at(0u, col);
        return;
    }
    *lo += w * x4(0u, col);
    if (params.batch > 4u) {
        *hi += w * x4(4u, col);
    }
}

fn pick(lo: vec4<f32>, hi: vec4<f32>, b: u32) -> f32 {
    return select(hi, lo, b < 4u)[b % 4u];
}

fn store_y(b: u32, row: u32, value: f32) {
    let i = b * params.rows + row;
    if (row < params.rows && i < arrayLength(&y)) {
        y[i] = value;
    }
}

// Writes a whole row's sums, component b of (lo, hi) for batch column b.
fn store_row(row: u32, lo: vec4<f32>, hi: vec4<f32>) {
    for (var b = 0u; b < min(params.batch, MAX_BATCH); b++) {
        store_y(b, row, pick(lo, hi, b));
    }
}

