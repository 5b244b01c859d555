//! The few distributions the verdict needs, exact on counts: binomial tails
//! and Poisson bounds, in log space so that large counts neither overflow nor
//! lose precision. Pure functions, checked against known values in the tests.

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9: about 15 significant digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: f64 = 7.0;
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection: Γ(x) Γ(1 - x) = π / sin(πx).
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + G + 0.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

fn ln_choose(n: u64, k: u64) -> f64 {
    ln_gamma(n as f64 + 1.0) - ln_gamma(k as f64 + 1.0) - ln_gamma((n - k) as f64 + 1.0)
}

/// ln(e^a + e^b) without overflow.
fn ln_add(a: f64, b: f64) -> f64 {
    if a == f64::NEG_INFINITY {
        return b;
    }
    let (hi, lo) = if a > b { (a, b) } else { (b, a) };
    hi + (lo - hi).exp().ln_1p()
}

/// P(X >= k) for X ~ Binomial(n, p).
pub fn binomial_sf(k: u64, n: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (lp, lq) = (p.ln(), (-p).ln_1p());
    let mut acc = f64::NEG_INFINITY;
    for i in k..=n {
        let term = ln_choose(n, i) + i as f64 * lp + (n - i) as f64 * lq;
        acc = ln_add(acc, term);
        // Past the mode the terms only shrink; stop once they cannot matter.
        if i as f64 > n as f64 * p && term < acc - 40.0 {
            break;
        }
    }
    acc.exp().min(1.0)
}

/// P(X <= k) for X ~ Poisson(lambda).
pub fn poisson_cdf(k: u64, lambda: f64) -> f64 {
    if lambda <= 0.0 {
        return 1.0;
    }
    let ll = lambda.ln();
    let mut acc = f64::NEG_INFINITY;
    for i in 0..=k {
        acc = ln_add(acc, i as f64 * ll - lambda - ln_gamma(i as f64 + 1.0));
    }
    acc.exp().min(1.0)
}

/// The exact one-sided upper confidence bound of a Poisson mean after seeing
/// `k` events: the lambda with P(X <= k | lambda) = alpha.
pub fn poisson_upper(k: u64, alpha: f64) -> f64 {
    let (mut lo, mut hi) = (0.0, (k as f64 + 1.0) * 2.0 + 10.0);
    while poisson_cdf(k, hi) > alpha {
        hi *= 2.0;
    }
    for _ in 0..100 {
        let mid = (lo + hi) / 2.0;
        if poisson_cdf(k, mid) > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, rel: f64) -> bool {
        (a - b).abs() <= rel * b.abs().max(1e-300)
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        assert!(ln_gamma(1.0).abs() < 1e-12);
        assert!(close(ln_gamma(5.0), (24.0_f64).ln(), 1e-12));
        assert!(close(
            ln_gamma(0.5),
            std::f64::consts::PI.sqrt().ln(),
            1e-12
        ));
        // ln(100!) = 363.73937555556347
        assert!(close(ln_gamma(101.0), 363.739_375_555_563_47, 1e-12));
    }

    #[test]
    fn binomial_tails_match_known_values() {
        // P(X >= 1), X ~ Bin(10, 0.1) = 1 - 0.9^10
        assert!(close(
            binomial_sf(1, 10, 0.1),
            1.0 - 0.9_f64.powi(10),
            1e-12
        ));
        // P(X >= 8), X ~ Bin(10, 0.5) = 56 / 1024
        assert!(close(binomial_sf(8, 10, 0.5), 56.0 / 1024.0, 1e-12));
        assert_eq!(binomial_sf(0, 5, 0.3), 1.0);
        assert_eq!(binomial_sf(6, 5, 0.3), 0.0);
        // Large counts stay finite and sensible.
        let p = binomial_sf(600, 5000, 0.1);
        assert!(p > 0.0 && p < 1e-3, "{p}");
    }

    #[test]
    fn poisson_bounds_match_tables() {
        // Exact one-sided 95% upper limits (chi-square / 2 with 2k + 2 degrees of
        // freedom): k = 0 -> 2.9957, k = 1 -> 4.7439, k = 10 -> 16.9622
        assert!(close(poisson_upper(0, 0.05), 2.995_732, 1e-5));
        assert!(close(poisson_upper(1, 0.05), 4.743_865, 1e-5));
        assert!(close(poisson_upper(10, 0.05), 16.962_2, 1e-4));
        assert!(close(poisson_cdf(2, 1.0), 2.5 * (-1.0_f64).exp(), 1e-12));
    }
}
