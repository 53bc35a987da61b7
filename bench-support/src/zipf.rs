//! Key streams: a small RNG, a zipf sampler, and the precomputed streams the
//! workloads replay (so that no random number is drawn while timing).

/// SplitMix64: a tiny, fast generator, good enough to drive workloads.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x5DEE_CE66_D1CE_4E5B)
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        scramble(self.0)
    }

    /// Uniform in [0, 1).
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1_u64 << 53) as f64)
    }
}

/// A bijection on u64 (SplitMix64's finaliser): turns ranks into keys that are
/// neither sequential nor clustered, so no contender gets a lucky layout.
#[inline]
pub fn scramble(mut x: u64) -> u64 {
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The key of zipf rank `rank` (0 is the hottest). Keys use 63 bits, so the
/// top bit of a stream word is free to mark an operation.
#[inline]
pub fn key_of(rank: u64) -> u64 {
    scramble(rank) >> 1
}

/// Zipf over ranks `0..n` with exponent `s` (P(rank k) ∝ 1/(k+1)^s), sampled
/// by rejection-inversion (Hörmann and Derflinger, 1996): O(1) time and
/// memory per sample, for any `n`.
///
/// With `H(x) = ∫ t^-s dt`, a continuous sample `x = H⁻¹(u)` for `u` uniform
/// between `H(1.5) - 1` and `H(n + 0.5)` is rounded to the integer `k`, and
/// accepted when it lands close enough to `k` or under the bar of height
/// `k^-s`; the acceptance rate is above 90% for every `n` and `s`.
#[derive(Clone, Debug)]
pub struct Zipf {
    n: f64,
    s: f64,
    h_x1: f64,
    h_n: f64,
    squeeze: f64,
}

impl Zipf {
    pub fn new(n: u64, s: f64) -> Self {
        assert!(n >= 1 && s > 0.0);
        let mut z = Zipf {
            n: n as f64,
            s,
            h_x1: 0.0,
            h_n: 0.0,
            squeeze: 0.0,
        };
        z.h_x1 = z.big_h(1.5) - 1.0;
        z.h_n = z.big_h(n as f64 + 0.5);
        z.squeeze = 2.0 - z.big_h_inv(z.big_h(2.5) - z.h(2.0));
        z
    }

    /// The density `x^-s`.
    fn h(&self, x: f64) -> f64 {
        (-self.s * x.ln()).exp()
    }

    /// `H(x) = (x^(1-s) - 1) / (1-s)`, and `ln x` at `s = 1`, computed
    /// without cancellation near `s = 1`.
    fn big_h(&self, x: f64) -> f64 {
        let log_x = x.ln();
        log_x * expm1_over_x((1.0 - self.s) * log_x)
    }

    fn big_h_inv(&self, y: f64) -> f64 {
        let t = (y * (1.0 - self.s)).max(-1.0);
        (y * ln1p_over_x(t)).exp()
    }

    /// A rank in `0..n`.
    pub fn sample(&self, rng: &mut Rng) -> u64 {
        loop {
            let u = self.h_n + rng.next_f64() * (self.h_x1 - self.h_n);
            let x = self.big_h_inv(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.squeeze || u >= self.big_h(k + 0.5) - self.h(k) {
                return k as u64 - 1;
            }
        }
    }
}

/// `expm1(x) / x`, continuous at 0.
fn expm1_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x / 2.0
    }
}

/// `ln_1p(x) / x`, continuous at 0.
fn ln1p_over_x(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x / 2.0
    }
}

/// `len` zipf(s) keys over a keyspace of `n` ranks.
pub fn zipf_keys(n: u64, s: f64, len: usize, seed: u64) -> Vec<u64> {
    let zipf = Zipf::new(n, s);
    let mut rng = Rng::new(seed);
    (0..len).map(|_| key_of(zipf.sample(&mut rng))).collect()
}
