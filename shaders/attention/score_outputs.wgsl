// Shared part of the selection passes that leave top-k its input (quest_scores, token_vote;
// Rust twin: `squeeze_attention::params::ScoreOutputs`), after score_rows.wgsl. The including
// kernel declares `scores: array<f32>` (one per entry) and `lengths: array<u32>` (one per row).

// The params of the passes that include this part. Rust twin:
// `squeeze_attention::params::ScoreParams`.
struct ScoreParams {
    table: TableShape,
    // Entries per score row (score_rows.wgsl).
    row_stride: u32,
    // The first `sink` and last `window` tokens forced into every selection.
    sink: u32,
    window: u32,
    _pad0: u32,
}

@group(0) @binding(0) var<uniform> params: ScoreParams;

// Writes entry `e`'s row length (`units` entries, from the row's first entry) and the scores
// that need no computing: -inf past the row's end, +inf where the entry holds a sink or window
// token, so that top-k always keeps it. The entry covers tokens [pos · tokens, (pos + 1) ·
// tokens) of a sequence of `len` tokens. True when the caller still has to score it (`i`).
fn open_entry(i: u32, e: ScoreEntry, units: u32, tokens: u32, len: u32) -> bool {
    if (e.pos == 0u) {
        lengths[e.row] = units;
    }
    if (e.pos >= units) {
        scores[i] = neg_inf();
        return false;
    }
    let window_start = len - min(params.window, len);
    let in_window = params.window > 0u && (e.pos + 1u) * tokens > window_start;
    if (e.pos * tokens < params.sink || in_window) {
        scores[i] = pos_inf();
        return false;
    }
    return true;
}
