// Shared part of the selection passes that walk score rows (quest_scores, token_scores,
// token_vote; Rust twin: `squeeze_attention::params::ScoreRows`), after params.wgsl: one row
// per (sequence, KV head), `params.row_stride` entries each (a field of each including kernel's
// params), an entry being a page (Quest) or a token. Each pass walks every entry in a
// grid-stride loop of WORKGROUP invocations per workgroup (`ScoreRows::dispatch`). The token
// logits are `[batch, q_heads, row_stride]`: one row per query head, in the same positions.

const WORKGROUP: u32 = 256u;

// One entry of the score rows.
struct ScoreEntry {
    // Its (sequence, KV head) row: b * kv_heads + h.
    row: u32,
    // Its position in the row: a page or a token of the sequence.
    pos: u32,
    // Its sequence.
    b: u32,
    // Its KV head.
    h: u32,
}

// Entries in all rows: the bound of every pass's grid-stride loop.
fn score_entries() -> u32 {
    return params.table.batch * params.table.kv_heads * params.row_stride;
}

// Entry `i`, counted over all rows.
fn score_entry(i: u32) -> ScoreEntry {
    let row = i / params.row_stride;
    return ScoreEntry(row, i % params.row_stride, row / params.table.kv_heads, row % params.table.kv_heads);
}

// Query heads per KV head.
fn group_size() -> u32 {
    return params.table.q_heads / params.table.kv_heads;
}

// The first query head of entry `e`'s KV group, as a [batch, q_heads] row.
fn group_head(e: ScoreEntry) -> u32 {
    return e.b * params.table.q_heads + e.h * group_size();
}

// Where the logit of query head `g` of `e`'s group at `e`'s position lies.
fn logit_index(e: ScoreEntry, g: u32) -> u32 {
    return (group_head(e) + g) * params.row_stride + e.pos;
}
