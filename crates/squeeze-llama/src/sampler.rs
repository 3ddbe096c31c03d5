//! Sampling the next token from the best candidates the GPU's top-k read back: temperature,
//! then top-p (nucleus) over them, then a draw from a seeded generator, so a run replays
//! exactly. Top-k is the number of candidates itself.

/// Temperature, nucleus and seed of a sampled run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// > 0; logits are divided by it.
    pub temperature: f32,
    /// Candidates read back each step (top-k).
    pub top_k: u32,
    /// Keep the smallest best-first prefix whose probability reaches this (0 < p ≤ 1).
    pub top_p: f32,
    pub seed: u64,
}

/// Draws tokens with one [`Sampling`].
#[derive(Debug, Clone)]
pub struct Sampler {
    sampling: Sampling,
    state: u64,
}

impl Sampler {
    pub fn new(sampling: Sampling) -> Self {
        Self {
            sampling,
            state: sampling.seed,
        }
    }

    /// A uniform draw in [0, 1) (SplitMix64).
    fn uniform(&mut self) -> f64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One token from `candidates` (token, logit), best first; `None` when there are none.
    pub fn pick(&mut self, candidates: &[(u32, f32)]) -> Option<u32> {
        let (_, best) = *candidates.first()?;
        let t = f64::from(self.sampling.temperature);
        let weights: Vec<f64> = candidates
            .iter()
            .map(|&(_, l)| ((f64::from(l) - f64::from(best)) / t).exp())
            .map(|w| if w.is_finite() { w } else { 0.0 })
            .collect();
        let total: f64 = weights.iter().sum();
        // The nucleus: the best-first prefix whose probability first reaches top_p.
        let mut kept = 0;
        let mut mass = 0.0;
        while kept < weights.len() && (kept == 0 || mass < f64::from(self.sampling.top_p) * total) {
            mass += weights[kept];
            kept += 1;
        }
        let mut target = self.uniform() * mass;
        for (&(token, _), &w) in candidates.iter().zip(&weights).take(kept) {
            if target < w {
                return Some(token);
            }
            target -= w;
        }
        candidates.get(kept - 1).map(|&(token, _)| token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sampler(temperature: f32, top_p: f32, seed: u64) -> Sampler {
        Sampler::new(Sampling {
            temperature,
            top_k: 3,
            top_p,
            seed,
        })
    }

    #[test]
    fn top_p_keeps_the_smallest_prefix_reaching_p() {
        // Probabilities ≈ 0.665, 0.245, 0.090: p = 0.5 keeps only the best.
        let candidates = [(7, 2.0), (3, 1.0), (9, 0.0)];
        let mut s = sampler(1.0, 0.5, 1);
        assert!((0..200).all(|_| s.pick(&candidates) == Some(7)));
        // p = 0.9 keeps two; all three never both excluded and drawn.
        let mut s = sampler(1.0, 0.9, 1);
        let picks: Vec<_> = (0..400).filter_map(|_| s.pick(&candidates)).collect();
        assert!(picks.contains(&7) && picks.contains(&3) && !picks.contains(&9));
    }

    #[test]
    fn a_seed_replays_and_a_low_temperature_is_greedy() {
        let candidates = [(1, 0.3), (2, 0.2), (3, 0.1)];
        let run = |seed| {
            let mut s = sampler(1.0, 1.0, seed);
            (0..50).map(|_| s.pick(&candidates)).collect::<Vec<_>>()
        };
        assert_eq!(run(5), run(5));
        assert_ne!(run(5), run(6));
        let mut cold = sampler(1e-4, 1.0, 3);
        assert!((0..100).all(|_| cold.pick(&candidates) == Some(1)));
        assert_eq!(cold.pick(&[]), None);
    }
}
