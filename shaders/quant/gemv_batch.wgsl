// The GEMV's batch-size class, a part of its own placed first in every GEMV module (naga 30
// resolves a module's overrides in declaration order; see ARCHITECTURE's naga notes).

// Batch columns the pipeline is compiled for (1, 2, 4 or 8; the host picks the smallest that
// holds the batch). Columns past it fold away: lavapipe runs both sides of the loops' uniform
// `batch > k` branches, so one pipeline for every batch made batch 2 cost nearly batch 8.
// At 1 (a pipeline of its own) a subgroup takes 32 rows in octets, loads each unit's eight
// activation vectors once per octet and then walks its rows one after another, so only one
// row's weights are live at a time (`row_octet_partials`); the general loop keeps four rows'
// units live to share every column's chunk. On lavapipe that more than halves the batch-1 time.
override BATCH_COLUMNS: u32 = 8u;
