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
    // Below the mean, the short sum is the lower tail.
    if (k as f64) < n as f64 * p {
        return (1.0 - binomial_cdf(k - 1, n, p)).max(0.0);
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

/// P(X <= k) for X ~ Binomial(n, p), summed from the lower end: O(k).
pub fn binomial_cdf(k: u64, n: u64, p: f64) -> f64 {
    if k >= n || p <= 0.0 {
        return 1.0;
    }
    if p >= 1.0 {
        return 0.0;
    }
    let (lp, lq) = (p.ln(), (-p).ln_1p());
    let mut acc = f64::NEG_INFINITY;
    for i in 0..=k {
        acc = ln_add(acc, ln_choose(n, i) + i as f64 * lp + (n - i) as f64 * lq);
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

/// The standard normal quantile (Acklam's rational approximation, relative
/// error below 1.2e-9).
pub fn normal_quantile(p: f64) -> f64 {
    const A: [f64; 6] = [
        -3.969_683_028_665_376e1,
        2.209_460_984_245_205e2,
        -2.759_285_104_469_687e2,
        1.383_577_518_672_69e2,
        -3.066_479_806_614_716e1,
        2.506_628_277_459_239,
    ];
    const B: [f64; 5] = [
        -5.447_609_879_822_406e1,
        1.615_858_368_580_409e2,
        -1.556_989_798_598_866e2,
        6.680_131_188_771_972e1,
        -1.328_068_155_288_572e1,
    ];
    const C: [f64; 6] = [
        -7.784_894_002_430_293e-3,
        -3.223_964_580_411_365e-1,
        -2.400_758_277_161_838,
        -2.549_732_539_343_734,
        4.374_664_141_464_968,
        2.938_163_982_698_783,
    ];
    const D: [f64; 4] = [
        7.784_695_709_041_462e-3,
        3.224_671_290_700_398e-1,
        2.445_134_137_142_996,
        3.754_408_661_907_416,
    ];
    let p = p.clamp(1e-300, 1.0 - 1e-16);
    let tail = |q: f64| {
        (((((C[0] * q + C[1]) * q + C[2]) * q + C[3]) * q + C[4]) * q + C[5])
            / ((((D[0] * q + D[1]) * q + D[2]) * q + D[3]) * q + 1.0)
    };
    if p < 0.02425 {
        tail((-2.0 * p.ln()).sqrt())
    } else if p > 1.0 - 0.02425 {
        -tail((-2.0 * (1.0 - p).ln()).sqrt())
    } else {
        let q = p - 0.5;
        let r = q * q;
        (((((A[0] * r + A[1]) * r + A[2]) * r + A[3]) * r + A[4]) * r + A[5]) * q
            / (((((B[0] * r + B[1]) * r + B[2]) * r + B[3]) * r + B[4]) * r + 1.0)
    }
}

/// The one-sided upper confidence bound of a Poisson mean after seeing `k`
/// events: the lambda with P(X <= k | lambda) = alpha. Exact (by bisection)
/// up to 300 events; beyond, the Wilson-Hilferty form, within 0.1% there.
pub fn poisson_upper(k: u64, alpha: f64) -> f64 {
    if k > 300 {
        let n = k as f64 + 1.0;
        let z = normal_quantile(1.0 - alpha);
        return n * (1.0 - 1.0 / (9.0 * n) + z / (3.0 * n.sqrt())).powi(3);
    }
    let (mut lo, mut hi) = (0.0, (k as f64 + 1.0) * 2.0 + 10.0);
    while poisson_cdf(k, hi) > alpha {
        hi *= 2.0;
    }
    for _ in 0..60 {
        let mid = (lo + hi) / 2.0;
        if poisson_cdf(k, mid) > alpha {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    hi
}

/// Green's and blue's requests and errors over a stretch of time in which
/// green's share of the traffic stood still (one step of a rollout).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stratum {
    pub green_requests: u64,
    pub green_errors: u64,
    pub blue_requests: u64,
    pub blue_errors: u64,
}

/// ln of a mixture of likelihood ratios: weights and per-alternative ln LRs.
fn ln_mixture(parts: &[(f64, f64)]) -> f64 {
    parts
        .iter()
        .map(|(w, l)| w.ln() + l)
        .fold(f64::NEG_INFINITY, ln_add)
}

/// Evidence against "green's error rate is at least `ratio` times blue's and
/// at least `floor` (a fraction)", as the ln of a test martingale: the mean of
/// likelihood ratios of that boundary against a few healthier alternatives.
/// Under any regression in that set, the chance that it EVER reaches
/// ln(1/alpha) is at most alpha (Ville's inequality), however often it is
/// looked at: a rollout checked every minute for a day is as safe as one
/// checked once. A fixed-sample test checked every minute is not: a version
/// exactly at the boundary drifts across its threshold sooner or later.
///
/// Two halves. Against blue: each error is green's with probability `p0`,
/// green's share of the errors were its rate `ratio` times blue's (a bad minute
/// of both versions does not move it), against green at blue's rate and at
/// `tolerated` times it (the worst still called as good as blue).
/// Against the floor, for a clean blue where ratios say nothing:
/// green's errors as Poisson counts at `floor` against 0, a quarter and half of it.
pub fn ln_evidence(strata: &[Stratum], tolerated: f64, ratio: f64, floor: f64) -> f64 {
    let ln_ratio_lr = |r1: f64| -> f64 {
        strata
            .iter()
            .filter(|s| s.green_requests > 0 && s.blue_requests > 0)
            .map(|s| {
                let (ng, nb) = (s.green_requests as f64, s.blue_requests as f64);
                let share = |r: f64| ng * r / (ng * r + nb);
                let (p0, p1) = (share(ratio), share(r1));
                s.green_errors as f64 * (p1 / p0).ln()
                    + s.blue_errors as f64 * ((1.0 - p1) / (1.0 - p0)).ln()
            })
            .sum()
    };
    let against_blue = ln_mixture(&[(0.5, ln_ratio_lr(1.0)), (0.5, ln_ratio_lr(tolerated))]);
    let n: f64 = strata.iter().map(|s| s.green_requests as f64).sum();
    let k: f64 = strata.iter().map(|s| s.green_errors as f64).sum();
    let ln_floor_lr = |f: f64| -> f64 {
        if f == 0.0 {
            // The alternative of no errors at all: any error rules it out.
            return if k > 0.0 {
                f64::NEG_INFINITY
            } else {
                floor * n
            };
        }
        k * f.ln() + (1.0 - f) * floor * n
    };
    let against_floor = if floor > 0.0 {
        ln_mixture(&[
            (0.5, ln_floor_lr(0.0)),
            (0.25, ln_floor_lr(0.25)),
            (0.25, ln_floor_lr(0.5)),
        ])
    } else {
        f64::NEG_INFINITY
    };
    ln_mixture(&[(0.5, against_blue), (0.5, against_floor)])
}

/// How much worse than the null the alternatives of the fail-side tests are:
/// a mixture from a modest regression to a gross one, so that each is
/// caught about as soon as a test aimed at it alone would catch it.
const WORSE: [f64; 4] = [1.4, 2.5, 8.0, 64.0];

/// Evidence that green's error rate is above `r0` times blue's, as the ln of
/// a test martingale on how the window's errors split between the two: each
/// error is green's with probability `ng r / (ng r + nb)` when green's rate is
/// `r` times blue's. Under any `r <= r0` the chance that it EVER reaches
/// ln(1/alpha) is at most alpha (Ville's inequality), however many ticks look
/// at the growing window: a step held for hours keeps its false-rollback rate,
/// which a fixed-sample test checked every minute does not. A bad minute of
/// both versions adds errors to both in proportion and does not move it.
pub fn ln_worse_than(
    green_errors: u64,
    blue_errors: u64,
    green_requests: u64,
    blue_requests: u64,
    r0: f64,
) -> f64 {
    if green_requests == 0 || blue_requests == 0 {
        return f64::NEG_INFINITY;
    }
    let (ng, nb) = (green_requests as f64, blue_requests as f64);
    let share = |r: f64| ng * r / (ng * r + nb);
    let p0 = share(r0);
    let (k, rest) = (green_errors as f64, blue_errors as f64);
    let parts: Vec<(f64, f64)> = WORSE
        .iter()
        .map(|m| {
            let p1 = share(r0 * m);
            (
                1.0 / WORSE.len() as f64,
                k * (p1 / p0).ln() + rest * ((1.0 - p1) / (1.0 - p0)).ln(),
            )
        })
        .collect();
    ln_mixture(&parts)
}

/// Evidence that green's error rate is above `ceiling` (a fraction), as the
/// ln of a test martingale on its error count (Poisson, `requests` times the
/// rate): valid under any rate at or below the ceiling however often it is
/// looked at, as `ln_worse_than`.
pub fn ln_above(errors: u64, requests: u64, ceiling: f64) -> f64 {
    if ceiling <= 0.0 {
        // No error is allowed: any error is certain evidence.
        return if errors > 0 {
            f64::INFINITY
        } else {
            f64::NEG_INFINITY
        };
    }
    let (k, n) = (errors as f64, requests as f64);
    let parts: Vec<(f64, f64)> = WORSE
        .iter()
        .map(|m| {
            (
                1.0 / WORSE.len() as f64,
                k * m.ln() - n * ceiling * (m - 1.0),
            )
        })
        .collect();
    ln_mixture(&parts)
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
        for (k, n, p) in [(0, 10, 0.1), (3, 20, 0.2), (40, 1000, 0.05)] {
            let both = binomial_cdf(k, n, p) + binomial_sf(k + 1, n, p);
            assert!(close(both, 1.0, 1e-9), "{k} {n} {p}: {both}");
        }
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
        // The approximation takes over smoothly from the exact bound.
        assert!(close(
            poisson_upper(301, 0.01),
            poisson_upper(300, 0.01) + 1.0,
            0.003
        ));
        assert!(close(normal_quantile(0.975), 1.959_964, 1e-6));
        assert!(close(normal_quantile(0.01), -2.326_348, 1e-6));
    }

    #[test]
    fn evidence_grows_for_a_healthy_green_and_not_for_a_bad_one() {
        let s = |gr, ge, br, be| Stratum {
            green_requests: gr,
            green_errors: ge,
            blue_requests: br,
            blue_errors: be,
        };
        let pass = (1.0f64 / 0.005).ln();
        // Blue and green at 1%, a quarter of the traffic green's: 3,000
        // green requests are not enough, 12,000 are.
        assert!(ln_evidence(&[s(3000, 30, 9000, 90)], 1.25, 2.0, 0.001) < pass);
        assert!(ln_evidence(&[s(12_000, 120, 36_000, 360)], 1.25, 2.0, 0.001) > pass);
        // Green at 2x blue's: no amount of data passes it.
        for n in [1000, 10_000, 100_000, 1_000_000] {
            let e = ln_evidence(&[s(n, n / 50, 3 * n, 3 * n / 100)], 1.25, 2.0, 0.001);
            assert!(e < 0.0, "{n}: {e}");
        }
        // A clean blue: green's own clean count against the floor, about
        // ln(2 / 0.5 / alpha) / floor requests.
        assert!(ln_evidence(&[s(5000, 0, 45_000, 0)], 1.25, 2.0, 0.001) < pass);
        assert!(ln_evidence(&[s(7000, 0, 63_000, 0)], 1.25, 2.0, 0.001) > pass);
        // Strata: the same counts split by step give the same answer when the
        // share stays put, and a bad minute shared by both versions (both
        // 10x) does not count against green.
        let one = ln_evidence(&[s(12_000, 120, 36_000, 360)], 1.25, 2.0, 0.001);
        let two = ln_evidence(
            &[s(6000, 60, 18_000, 180), s(6000, 60, 18_000, 180)],
            1.25,
            2.0,
            0.001,
        );
        assert!((one - two).abs() < 1e-9, "{one} {two}");
        let noisy = ln_evidence(
            &[s(12_000, 120, 36_000, 360), s(600, 60, 1800, 180)],
            1.25,
            2.0,
            0.001,
        );
        assert!(noisy > one, "{noisy} {one}");
    }

    /// The fail-side tests keep their promise under repeated looks: a
    /// version exactly at the null, its growing window tested every minute
    /// for a day, crosses the threshold in at most alpha of the runs.
    #[test]
    fn the_fail_side_tests_hold_their_false_alarm_rate_under_repeated_looks() {
        let alpha: f64 = 0.01;
        let threshold = (1.0 / alpha).ln();
        let mut rng = crate::memory::Rng::new(7);
        let runs = 400;
        let (mut worse, mut above) = (0, 0);
        for _ in 0..runs {
            let (mut gn, mut ge, mut bn, mut be) = (0u64, 0u64, 0u64, 0u64);
            let (mut crossed_worse, mut crossed_above) = (false, false);
            for _minute in 0..1440 {
                // 100 green and 900 blue requests a minute; green's rate is
                // exactly 1.25x blue's 1%, the null's boundary; the ceiling
                // test at green's own rate.
                gn += 100;
                bn += 900;
                ge += rng.binomial(100, 1.25);
                be += rng.binomial(900, 1.0);
                crossed_worse |= ln_worse_than(ge, be, gn, bn, 1.25) >= threshold;
                crossed_above |= ln_above(ge, gn, 0.0125) >= threshold;
            }
            worse += usize::from(crossed_worse);
            above += usize::from(crossed_above);
        }
        // alpha = 1% of 400 runs is 4; allow sampling noise, not a drift.
        assert!(worse <= 10, "{worse} of {runs} crossed (worse than blue)");
        assert!(above <= 10, "{above} of {runs} crossed (above the ceiling)");
    }

    #[test]
    fn the_fail_side_tests_catch_clear_regressions_soon() {
        let threshold = (1.0f64 / 0.001).ln();
        // Blue 90 errors in 9,000, green 50 in 1,000 (5x): fail.
        assert!(ln_worse_than(50, 90, 1000, 9000, 1.25) >= threshold);
        // Green as good as blue: nowhere near.
        assert!(ln_worse_than(10, 90, 1000, 9000, 1.25) < 0.0);
        // 30 errors in 1,000 at a 1% ceiling: fail; 11 in 1,000: not.
        assert!(ln_above(30, 1000, 0.01) >= threshold);
        assert!(ln_above(11, 1000, 0.01) < threshold);
        assert_eq!(ln_above(1, 10, 0.0), f64::INFINITY);
    }
}
