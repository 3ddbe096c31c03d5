// The GEMV's batch-one switch, a part of its own placed first in every GEMV module (naga 30
// resolves a module's overrides in declaration order; see ARCHITECTURE's naga notes).

// The batch is 1 (a pipeline of its own): the four-row subgroup loop loads each unit's eight
// activations vectors once and then walks its rows one after another, so only one row's weights
// are live at a time; the general loop keeps four rows' units live to share every column's
// chunk. On lavapipe that halves the batch-1 time.
override BATCH_ONE: bool = false;
