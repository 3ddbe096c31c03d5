// Radix selection of one huge row (or a few) by many workgroups: the rounds of
// topk/select.wgsl, with the histogram of each round summed in global atomics and the prefix kept
// in a per-row state buffer, so `params.groups_per_row` workgroups share each row and no round
// needs the host. Each round is three dispatches:
//
// - `coop_histogram`: every workgroup counts its slice of the row in workgroup atomics, then adds
//   its non-zero bins to the row's global histogram;
// - `coop_pick`: one workgroup per row scans the histogram, extends the prefix and clears the
//   histogram; a row whose chosen bin holds exactly the elements still needed is done, and one
//   whose bin holds at most CANDIDATE_CAPACITY elements is marked to gather;
// - `coop_gather`: on a row marked this round, every workgroup appends the elements above the
//   prefix to the row's `pairs` as winners and copies those on it to the row's `spill` slots.
//
// Rows done or gathered skip the later rounds. Then `coop_compact` appends every element at or
// above the prefix of rows that finished on the whole row, and `coop_finish` (one workgroup per
// gathered row) loads the spilled candidates into workgroup memory, runs the remaining rounds
// there and appends their winners: a random row is read about three times in all. Slots past a
// row's kept elements get the sentinel; topk/sort.wgsl orders the pairs. `coop_init` sets the
// state up.
//
// State of row r, at r × STATE_WORDS in `state`:
//   0..4  the Prefix (key, key mask, index key, index key mask)
//   4 elements still needed   5 1 when done   6 slots taken   7 elements kept
//   8 the round after the gather (0: none)   9 candidates in the gathered bin   10 spilled so far
//   16..  the 256-bin histogram of the current round
//
// The `params` uniform of the cooperative selection; its Rust twin is
// `squeeze_topk::cooperative::CooperativeParams` (the validation suite holds the two layouts
// equal). The first four words are those of every top-k module (topk/constants.wgsl).
struct CooperativeParams {
    rows: u32,
    n: u32,
    k: u32,
    flags: u32,
    // The radix round a histogram, pick or gather dispatch runs.
    round: u32,
    // Workgroups sharing each row.
    groups_per_row: u32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> params: CooperativeParams;

@group(0) @binding(3) var<storage, read_write> pairs: array<vec2<u32>>;
@group(0) @binding(4) var<storage, read_write> state: array<atomic<u32>>;
@group(0) @binding(5) var<storage, read_write> spill: array<vec2<u32>>;

// Candidates per row spilled and then narrowed in workgroup memory (see topk/select.wgsl).
override CANDIDATE_CAPACITY: u32 = 1536u;

var<workgroup> held: array<vec2<u32>, CANDIDATE_CAPACITY>;

const STATE_WORDS: u32 = 272u;
const NEEDED: u32 = 4u;
const DONE: u32 = 5u;
const SLOTS: u32 = 6u;
const KEPT: u32 = 7u;
const RESUME: u32 = 8u;
const IN_BIN: u32 = 9u;
const SPILLED: u32 = 10u;
const HISTOGRAM: u32 = 16u;

// The row's state as this workgroup read it: the Prefix, then needed, done, kept, length,
// resume round, candidates in the gathered bin.
var<workgroup> row_state: array<u32, 10>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn coop_init(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let total = params.rows * STATE_WORDS;
    let step = groups.x * WORKGROUP_SIZE;
    for (var w = gid.x; w < total; w += step) {
        let field = w % STATE_WORDS;
        let kept = min(params.k, row_length(w / STATE_WORDS));
        var value = 0u;
        if (field == NEEDED || field == KEPT) {
            value = kept;
        } else if (field == DONE) {
            value = u32(kept == 0u);
        }
        atomicStore(&state[w], value);
    }
}

// Loads row `row`'s state into `row_state` and returns it uniformly.
fn load_state(row: u32, lid: u32) -> array<u32, 10> {
    if (lid == 0u) {
        let s = row * STATE_WORDS;
        for (var f = 0u; f < 4u; f++) {
            row_state[f] = atomicLoad(&state[s + f]);
        }
        row_state[4] = atomicLoad(&state[s + NEEDED]);
        row_state[5] = atomicLoad(&state[s + DONE]);
        row_state[6] = atomicLoad(&state[s + KEPT]);
        row_state[7] = row_length(row);
        row_state[8] = atomicLoad(&state[s + RESUME]);
        row_state[9] = atomicLoad(&state[s + IN_BIN]);
    }
    return workgroupUniformLoad(&row_state);
}

fn prefix_of(s: array<u32, 10>) -> Prefix {
    return Prefix(s[0], s[1], s[2], s[3]);
}

// The slice of a row that workgroup `part` of `params.groups_per_row` covers: [first, end).
fn slice_of(part: u32, length: u32) -> vec2<u32> {
    let chunk = (params.n + params.groups_per_row - 1u) / params.groups_per_row;
    let first = min(part * chunk, length);
    return vec2<u32>(first, min(first + chunk, length));
}

fn append_winner(row: u32, kept: u32, key: u32, i: u32) {
    let slot = atomicAdd(&state[row * STATE_WORDS + SLOTS], 1u);
    if (slot < kept) {
        pairs[row * params.k + slot] = vec2<u32>(key, i);
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn coop_histogram(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let round = params.round;
    let key_round = round < KEY_ROUNDS;
    let shift = digit_shift(round);
    let imax = index_key_max();
    let ids = params.rows * params.groups_per_row;
    for (var id = wid.x; id < ids; id += groups.x) {
        let row = id / params.groups_per_row;
        let s = load_state(row, lid);
        if (s[5] != 0u || s[8] != 0u) {
            continue;
        }
        let p = prefix_of(s);
        atomicStore(&histogram[lid], 0u);
        workgroupBarrier();
        let range = slice_of(id % params.groups_per_row, s[7]);
        let base = row * params.n;
        for (var i = range.x + lid; i < range.y; i += WORKGROUP_SIZE) {
            count_digit(p, element_key(base + i), imax - i, key_round, shift);
        }
        workgroupBarrier();
        let count = atomicLoad(&histogram[lid]);
        if (count != 0u) {
            atomicAdd(&state[row * STATE_WORDS + HISTOGRAM + lid], count);
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn coop_pick(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let round = params.round;
    for (var row = wid.x; row < params.rows; row += groups.x) {
        let s = load_state(row, lid);
        if (s[5] != 0u || s[8] != 0u) {
            continue;
        }
        let at = row * STATE_WORDS;
        let count = atomicLoad(&state[at + HISTOGRAM + 255u - lid]);
        let pick = pick_digit(lid, count, s[4]);
        atomicStore(&state[at + HISTOGRAM + 255u - lid], 0u);
        if (lid == 0u) {
            let p = extend_prefix(prefix_of(s), round, pick.x);
            atomicStore(&state[at], p.key);
            atomicStore(&state[at + 1u], p.key_mask);
            atomicStore(&state[at + 2u], p.index);
            atomicStore(&state[at + 3u], p.index_mask);
            atomicStore(&state[at + NEEDED], pick.y);
            atomicStore(&state[at + DONE], pick.w);
            if (pick.w == 0u && pick.z <= CANDIDATE_CAPACITY) {
                atomicStore(&state[at + RESUME], round + 1u);
                atomicStore(&state[at + IN_BIN], pick.z);
            }
        }
        workgroupBarrier();
    }
}

// Sweeps workgroup `id`'s slice of its row (state `s`) against the row's prefix: elements above
// it are winners; elements on it are winners too once the prefix is final (`spill_ties` false),
// else they are spilled as the candidates of the rounds left.
fn sweep_slice(id: u32, lid: u32, s: array<u32, 10>, spill_ties: bool) {
    let row = id / params.groups_per_row;
    let imax = index_key_max();
    let p = prefix_of(s);
    let range = slice_of(id % params.groups_per_row, s[7]);
    let base = row * params.n;
    for (var i = range.x + lid; i < range.y; i += WORKGROUP_SIZE) {
        let key = element_key(base + i);
        let side = compare_prefix(p, key, imax - i);
        if (side > 0 || (side == 0 && !spill_ties)) {
            append_winner(row, s[6], key, i);
        } else if (side == 0) {
            let c = atomicAdd(&state[row * STATE_WORDS + SPILLED], 1u);
            if (c < CANDIDATE_CAPACITY) {
                spill[row * CANDIDATE_CAPACITY + c] = vec2<u32>(key, i);
            }
        }
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn coop_gather(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    for (var id = wid.x; id < params.rows * params.groups_per_row; id += groups.x) {
        let s = load_state(id / params.groups_per_row, lid);
        if (s[8] == params.round + 1u) {
            sweep_slice(id, lid, s, true);
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn coop_compact(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    for (var id = wid.x; id < params.rows * params.groups_per_row; id += groups.x) {
        let row = id / params.groups_per_row;
        let s = load_state(row, lid);
        if (id % params.groups_per_row == 0u) {
            for (var j = s[6] + lid; j < params.k; j += WORKGROUP_SIZE) {
                pairs[row * params.k + j] = SENTINEL;
            }
        }
        if (s[8] == 0u) {
            sweep_slice(id, lid, s, false);
        }
        workgroupBarrier();
    }
}

@compute @workgroup_size(WORKGROUP_SIZE)
fn coop_finish(
    @builtin(local_invocation_index) lid: u32,
    @builtin(workgroup_id) wid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    let imax = index_key_max();
    for (var row = wid.x; row < params.rows; row += groups.x) {
        let s = load_state(row, lid);
        if (s[8] == 0u) {
            continue;
        }
        let count = min(s[9], CANDIDATE_CAPACITY);
        for (var c = lid; c < count; c += WORKGROUP_SIZE) {
            held[c] = spill[row * CANDIDATE_CAPACITY + c];
        }
        workgroupBarrier();
        let p = narrow_in_memory(lid, prefix_of(s), s[4], s[8], count);
        for (var c = lid; c < count; c += WORKGROUP_SIZE) {
            let pair = held[c];
            if (compare_prefix(p, pair.x, imax - pair.y) >= 0) {
                append_winner(row, s[6], pair.x, pair.y);
            }
        }
        workgroupBarrier();
    }
}
