//! Which tokens each layer's decode attention reads: every token (dense), the first `sink` and
//! last `window` tokens (StreamingLLM), or a selection by Quest, TidalDecode or TokenSelect
//! within a token budget — all through squeeze's paged decode attention and its selection
//! kernels, recorded into the step's encoder with nothing read back.
//!
//! Decisions (issue #14 names the modes, not where in the model they apply):
//! - **Quest** and **TokenSelect** select in every layer but the first two, which stay dense as
//!   in the Quest paper (its first two layers hold too little sparsity for the bound).
//! - **TidalDecode** keeps the first two layers dense, selects at layer 2 and again at the
//!   re-selection layer (layer 13 of 32 in the paper, scaled to the model's depth), and every
//!   other layer reuses the latest selection.
//! - A model of fewer than three layers keeps only its first layer dense, so every mode selects
//!   somewhere.
//! - Sinks and window apply inside the selection modes too (the budget counts them).
//! - Quest keeps whole pages: its budget is rounded *up* to a multiple of the page size here
//!   (squeeze's selection rounds down), so a budget covering the context keeps all of it.
//! - With a budget at or above the context, every selection keeps every token, so each mode
//!   gives the dense tokens (tested).

use squeeze::attention::sparse::SparseWorkspace;
use squeeze::attention::{
    Budget, CacheLayout, Decode, DecodeArgs, DevicePageTable, HeadPolicy, KvCache, KvDtype, Query,
    Selector, Sparse, Tokens,
};
use squeeze::{Binding, Error, Gpu, Result, wgpu};

/// The attention mode of a whole model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AttentionMode {
    /// Every token.
    #[default]
    Dense,
    /// The first `sink` and the last `window` tokens, in every layer.
    SinkWindow { sink: u32, window: u32 },
    /// A selection within `budget` by `selector`.
    Sparse { selector: Selector, budget: Budget },
}

impl AttentionMode {
    /// The names `squeeze generate --attention` takes.
    pub const NAMES: &'static [&'static str] =
        &["dense", "sink-window", "quest", "tidal", "tokenselect"];

    /// The mode `name` with its parameters: `budget` (selection modes, and the default window
    /// of sink-window: `budget − sink`), `sink` and `window`.
    pub fn parse(name: &str, budget: Option<u32>, sink: u32, window: Option<u32>) -> Result<Self> {
        let selector = match name {
            "dense" => {
                // Dense attends to every token: a budget, window or sink would be ignored.
                let ignored = [
                    ("budget", budget),
                    ("window", window),
                    ("sink", Some(sink).filter(|&s| s != 0)),
                ];
                if let Some(&(arg, Some(v))) = ignored.iter().find(|(_, v)| v.is_some()) {
                    return Err(Error::invalid(
                        arg,
                        "parameter",
                        "unset with --attention dense (it is used by sink-window, quest, tidal \
                         and tokenselect)",
                        v,
                    ));
                }
                return Ok(Self::Dense);
            }
            "sink-window" => {
                let window = match (window, budget) {
                    (Some(w), Some(b)) => {
                        return Err(Error::invalid(
                            "budget",
                            "parameter",
                            format!(
                                "unset when --window is given with --attention sink-window \
                                 (the window is budget − sink otherwise; window given: {w})"
                            ),
                            b,
                        ));
                    }
                    (Some(w), None) => w,
                    (None, Some(b)) => b.checked_sub(sink).ok_or_else(|| {
                        Error::invalid("budget", "tokens", format!("at least sink = {sink}"), b)
                    })?,
                    (None, None) => {
                        return Err(Error::invalid(
                            "window",
                            "tokens",
                            "given (or --budget) with --attention sink-window",
                            "unset",
                        ));
                    }
                };
                return Ok(Self::SinkWindow { sink, window });
            }
            "quest" => Selector::Quest,
            "tidal" => Selector::Tidal,
            "tokenselect" => Selector::TokenSelect,
            other => {
                return Err(Error::invalid(
                    "attention",
                    "mode",
                    Self::NAMES.join(" | "),
                    other,
                ));
            }
        };
        let tokens = budget.ok_or_else(|| {
            Error::invalid(
                "budget",
                "tokens",
                format!("given with --attention {name}"),
                "unset",
            )
        })?;
        Ok(Self::Sparse {
            selector,
            budget: Budget {
                tokens,
                sink,
                window: window.unwrap_or(0),
            },
        })
    }

    /// The selector, in a selection mode.
    pub fn selector(self) -> Option<Selector> {
        match self {
            Self::Sparse { selector, .. } => Some(selector),
            _ => None,
        }
    }

    /// What layer `layer` of `layers` does.
    fn role(self, layer: u32, layers: u32) -> Role {
        let dense = layers.saturating_sub(1).min(2);
        match self {
            Self::Dense => Role::Dense,
            Self::SinkWindow { .. } => Role::Window,
            Self::Sparse { .. } if layer < dense => Role::Dense,
            Self::Sparse {
                selector: Selector::Tidal,
                ..
            } => {
                let reselect = (layers * 13 / 32).max(dense + 1);
                if layer == dense || layer == reselect {
                    Role::Select
                } else {
                    Role::Reuse
                }
            }
            Self::Sparse { .. } => Role::Select,
        }
    }
}

/// What one layer's attention does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Every token.
    Dense,
    /// Sinks and window.
    Window,
    /// A new selection, then decode over it.
    Select,
    /// Decode over the latest selection (TidalDecode).
    Reuse,
}

/// The kernels and buffers of one model's attention, made at load.
pub struct Attention {
    mode: AttentionMode,
    roles: Vec<Role>,
    decode: Decode,
    /// Selection and its workspace, shared by every layer in turn (a selection layer writes
    /// the list; reuse layers read it).
    sparse: Option<(Sparse, SparseWorkspace)>,
    full: Vec<HeadPolicy>,
    window: Vec<HeadPolicy>,
    /// Decode's split partials, large enough for every role.
    scratch: wgpu::Buffer,
}

/// One layer's attention call.
pub struct LayerCall<'a> {
    pub layer: usize,
    pub table: &'a DevicePageTable,
    pub kv: &'a KvCache<'a>,
    pub query: &'a Query<'a>,
    /// f32 `[q_heads, head_dim]`.
    pub out: Binding<'a>,
}

impl Attention {
    /// Builds `mode` for `layers` layers of `q_heads` query heads over `table` (planned for
    /// `capacity` tokens).
    pub fn new(
        gpu: &Gpu,
        mode: AttentionMode,
        layers: u32,
        q_heads: u32,
        table: &DevicePageTable,
        capacity: u32,
    ) -> Result<Self> {
        let layout: CacheLayout = *table.layout();
        let group = q_heads / layout.kv_heads;
        let kv_heads = layout.kv_heads as usize;
        let full = vec![HeadPolicy::Full; kv_heads];
        let window = match mode {
            AttentionMode::SinkWindow { sink, window } => {
                vec![HeadPolicy::SinkWindow { sink, window }; kv_heads]
            }
            _ => Vec::new(),
        };
        let decode = Decode::new(gpu, layout.dtype)?;
        decode.prepare(group, layout.head_dim)?;
        let mut scratch = decode.scratch_bytes(table, q_heads, &Tokens::Policy(&full));
        let sparse = match mode {
            AttentionMode::Sparse {
                selector,
                mut budget,
            } => {
                if selector == Selector::Quest {
                    budget.tokens = budget.tokens.saturating_add(layout.page_size - 1)
                        / layout.page_size
                        * layout.page_size;
                }
                let sparse = Sparse::new(gpu, layout.dtype)?;
                sparse.prepare(group, layout.head_dim)?;
                let workspace =
                    sparse.workspace_with_capacity(table, q_heads, selector, budget, capacity)?;
                scratch = scratch.max(decode.scratch_bytes(table, q_heads, &workspace.tokens()));
                Some((sparse, workspace))
            }
            _ => None,
        };
        Ok(Self {
            mode,
            roles: (0..layers).map(|l| mode.role(l, layers)).collect(),
            decode,
            sparse,
            full,
            window,
            scratch: gpu.storage_buffer("attention scratch", scratch)?,
        })
    }

    pub fn mode(&self) -> AttentionMode {
        self.mode
    }

    /// Whether the cache must keep Quest's per-page key bounds.
    pub fn needs_quest_meta(&self) -> bool {
        self.mode.selector() == Some(Selector::Quest)
    }

    /// The KV format the kernels were built for.
    pub fn dtype(&self) -> KvDtype {
        self.decode.dtype()
    }

    /// Records layer `call.layer`'s attention.
    pub fn encode(&self, encoder: &mut wgpu::CommandEncoder, call: &LayerCall<'_>) -> Result<()> {
        let role = *self
            .roles
            .get(call.layer)
            .ok_or_else(|| Error::invalid("layer", "index", "one the model has", call.layer))?;
        let scratch = Binding::whole(&self.scratch);
        let decode = |tokens: &Tokens<'_>, encoder: &mut wgpu::CommandEncoder| {
            self.decode.encode(
                encoder,
                &DecodeArgs {
                    table: call.table,
                    kv: call.kv,
                    query: call.query,
                    tokens,
                    scratch,
                    out: call.out.into(),
                },
            )
        };
        match (role, &self.sparse) {
            (Role::Dense, _) => decode(&Tokens::Policy(&self.full), encoder),
            (Role::Window, _) => decode(&Tokens::Policy(&self.window), encoder),
            (Role::Select, Some((sparse, workspace))) => sparse.encode(
                encoder, call.table, call.kv, call.query, workspace, call.out,
            ),
            (Role::Reuse, Some((_, workspace))) => decode(&workspace.tokens(), encoder),
            (Role::Select | Role::Reuse, None) => Err(Error::invalid(
                "attention",
                "mode",
                "a selection mode for a selecting layer",
                "no selection kernels",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tidal_selects_at_layer_2_and_13_of_32_and_reuses_elsewhere() {
        let mode = AttentionMode::parse("tidal", Some(64), 0, None).unwrap();
        let roles: Vec<Role> = (0..32).map(|l| mode.role(l, 32)).collect();
        assert_eq!(&roles[..2], &[Role::Dense, Role::Dense]);
        for (l, r) in roles.iter().enumerate().skip(2) {
            let want = if l == 2 || l == 13 {
                Role::Select
            } else {
                Role::Reuse
            };
            assert_eq!(*r, want, "layer {l}");
        }
    }

    #[test]
    fn small_models_keep_only_the_first_layer_dense() {
        for name in ["quest", "tidal", "tokenselect"] {
            let mode = AttentionMode::parse(name, Some(8), 0, None).unwrap();
            assert_eq!(mode.role(0, 2), Role::Dense, "{name}");
            assert_eq!(mode.role(1, 2), Role::Select, "{name}");
            assert_eq!(mode.role(0, 1), Role::Select, "{name} with one layer");
        }
    }

    #[test]
    fn quest_and_tokenselect_select_in_every_layer_after_the_second() {
        for name in ["quest", "tokenselect"] {
            let mode = AttentionMode::parse(name, Some(8), 0, None).unwrap();
            assert_eq!(mode.role(1, 30), Role::Dense);
            assert!((2..30).all(|l| mode.role(l, 30) == Role::Select), "{name}");
        }
    }

    #[test]
    fn parse_checks_each_mode_s_parameters() {
        assert_eq!(
            AttentionMode::parse("sink-window", Some(20), 4, None).unwrap(),
            AttentionMode::SinkWindow {
                sink: 4,
                window: 16
            }
        );
        let e = |r: Result<AttentionMode>| r.unwrap_err().to_string();
        let no_window = e(AttentionMode::parse("sink-window", None, 4, None));
        assert!(
            no_window.contains("window") && no_window.contains("unset"),
            "{no_window}"
        );
        let small = e(AttentionMode::parse("sink-window", Some(2), 4, None));
        assert!(
            small.contains("budget") && small.contains("sink = 4"),
            "{small}"
        );
        // A parameter the mode would ignore is an error naming it.
        assert_eq!(
            AttentionMode::parse("dense", None, 0, None).unwrap(),
            AttentionMode::Dense
        );
        for (budget, sink, window, arg) in [
            (Some(64), 0, None, "budget"),
            (None, 4, None, "sink"),
            (None, 0, Some(32), "window"),
        ] {
            let ignored = e(AttentionMode::parse("dense", budget, sink, window));
            assert!(
                ignored.contains(arg) && ignored.contains("unset with --attention dense"),
                "{ignored}"
            );
        }
        let both = e(AttentionMode::parse("sink-window", Some(20), 4, Some(8)));
        assert!(
            both.contains("budget") && both.contains("--window is given"),
            "{both}"
        );
        let no_budget = e(AttentionMode::parse("quest", None, 0, None));
        assert!(no_budget.contains("--attention quest"), "{no_budget}");
        let unknown = e(AttentionMode::parse("flash", None, 0, None));
        assert!(unknown.contains("dense | sink-window | quest") && unknown.contains("flash"));
    }
}
