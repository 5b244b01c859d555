//! The timeline picture of a rollout (demo and simulate): green's weight over time (top) and each
//! version's error rate (bottom), decisions marked. Plain SVG, no dependencies.

use std::fmt::Write;

#[derive(Debug, Clone, PartialEq)]
pub struct Point {
    /// Minutes since the demo began.
    pub minute: f64,
    /// Green's share of traffic after the tick, percent (100 once promoted).
    pub weight: f64,
    pub green: Option<f64>,
    pub blue: Option<f64>,
    /// A decision worth marking ("started", "advanced", ...), or None.
    pub mark: Option<String>,
    pub failed: bool,
}

const W: f64 = 960.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 850.0;
const TOP1: f64 = 90.0;
const BOT1: f64 = 250.0;
const TOP2: f64 = 310.0;
const BOT2: f64 = 470.0;
const H: f64 = 520.0;

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Minutes and percents to picture coordinates.
struct Scale {
    max_min: f64,
    max_rate: f64,
}

impl Scale {
    fn x(&self, m: f64) -> f64 {
        LEFT + (RIGHT - LEFT) * m / self.max_min
    }
    fn y1(&self, w: f64) -> f64 {
        BOT1 - (BOT1 - TOP1) * w / 100.0
    }
    fn y2(&self, r: f64) -> f64 {
        BOT2 - (BOT2 - TOP2) * r / self.max_rate
    }
}

pub fn svg(title: &str, points: &[Point]) -> String {
    let max_min = points.iter().map(|p| p.minute).fold(1.0, f64::max);
    let max_rate = points
        .iter()
        .flat_map(|p| [p.green, p.blue])
        .flatten()
        .fold(1.0_f64, f64::max)
        .ceil();
    let k = Scale { max_min, max_rate };
    let mut s = String::new();
    frame(&mut s, title, &k);
    weight(&mut s, points, &k);
    error_rates(&mut s, points, &k);
    decisions(&mut s, points, &k);
    s.push_str("</svg>\n");
    s
}

/// The title, both panels' axes and grid, the minutes.
fn frame(s: &mut String, title: &str, k: &Scale) {
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="Helvetica, Arial, sans-serif" font-size="12">
<rect width="100%" height="100%" fill="#ffffff"/>
<text x="{LEFT}" y="28" font-size="17" font-weight="bold">{}</text>
<text x="{LEFT}" y="{}" font-size="13" fill="#333">traffic to the new version (%)</text>
<text x="{LEFT}" y="{}" font-size="13" fill="#333">error rate per version (%)</text>
"##,
        esc(title),
        TOP1 - 8.0,
        TOP2 - 8.0
    );
    // Axes and grid: (top, bottom, [(percent of height, label)]).
    let weight_ticks = [
        (0.0, "0".to_string()),
        (50.0, "50".into()),
        (100.0, "100".into()),
    ];
    let rate_ticks = [0.0, 0.5, 1.0].map(|f| (f * 100.0, format!("{}", k.max_rate * f)));
    for (top, bot, ticks) in [(TOP1, BOT1, weight_ticks), (TOP2, BOT2, rate_ticks)] {
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{top}" width="{}" height="{}" fill="none" stroke="#999"/>"##,
            RIGHT - LEFT,
            bot - top
        );
        for (frac, label) in ticks {
            let yy = bot - (bot - top) * frac / 100.0;
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" y1="{yy}" x2="{RIGHT}" y2="{yy}" stroke="#eee"/><text x="{}" y="{}" text-anchor="end" fill="#555">{label}</text>"##,
                LEFT - 6.0,
                yy + 4.0
            );
        }
    }
    let step = (k.max_min / 10.0).ceil().max(1.0);
    let mut m = 0.0;
    while m <= k.max_min {
        let _ = writeln!(
            s,
            r##"<text x="{}" y="{}" text-anchor="middle" fill="#555">{m}m</text>"##,
            k.x(m),
            BOT2 + 16.0
        );
        m += step;
    }
    let _ = writeln!(
        s,
        r##"<text x="{}" y="{}" text-anchor="middle" fill="#555">simulated minutes</text>"##,
        (LEFT + RIGHT) / 2.0,
        BOT2 + 34.0
    );
}

/// Green's weight, as steps.
fn weight(s: &mut String, points: &[Point], k: &Scale) {
    let mut path = String::new();
    let mut prev: Option<f64> = None;
    for p in points {
        match prev {
            None => path.push_str(&format!("M{:.1},{:.1}", k.x(p.minute), k.y1(p.weight))),
            Some(w) => path.push_str(&format!(
                " L{:.1},{:.1} L{:.1},{:.1}",
                k.x(p.minute),
                k.y1(w),
                k.x(p.minute),
                k.y1(p.weight)
            )),
        }
        prev = Some(p.weight);
    }
    let _ = writeln!(
        s,
        r##"<path d="{path}" fill="none" stroke="#2e7d32" stroke-width="2.5"/>"##
    );
}

/// Each version's error rate, a new line for each rollout.
fn error_rates(s: &mut String, points: &[Point], k: &Scale) {
    for (get, colour, label) in [
        (
            (|p: &Point| p.blue) as fn(&Point) -> Option<f64>,
            "#1565c0",
            "blue (stable)",
        ),
        (|p: &Point| p.green, "#ef6c00", "green (new version)"),
    ] {
        // A new rollout starts a new line: the versions are not the same.
        let mut segments: Vec<Vec<String>> = vec![Vec::new()];
        for p in points {
            if p.mark.as_deref().is_some_and(|m| m.starts_with("start")) {
                segments.push(Vec::new());
            }
            if let Some(r) = get(p) {
                let seg = segments.last_mut().expect("one segment");
                seg.push(format!("{:.1},{:.1}", k.x(p.minute), k.y2(r)));
                let _ = writeln!(
                    s,
                    r##"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"##,
                    k.x(p.minute),
                    k.y2(r)
                );
            }
        }
        for seg in segments.iter().filter(|s| !s.is_empty()) {
            let _ = writeln!(
                s,
                r##"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"##,
                seg.join(" ")
            );
        }
        let ly = if colour == "#1565c0" {
            TOP2 + 16.0
        } else {
            TOP2 + 32.0
        };
        let _ = writeln!(
            s,
            r##"<line x1="{}" y1="{}" x2="{}" y2="{}" stroke="{colour}" stroke-width="3"/><text x="{}" y="{}">{label}</text>"##,
            LEFT + 10.0,
            ly - 4.0,
            LEFT + 30.0,
            ly - 4.0,
            LEFT + 36.0,
            ly
        );
    }
}

/// The decisions worth marking.
fn decisions(s: &mut String, points: &[Point], k: &Scale) {
    for p in points {
        let Some(mark) = &p.mark else { continue };
        let colour = if p.failed { "#c62828" } else { "#2e7d32" };
        let (cx, cy) = (k.x(p.minute), k.y1(p.weight));
        let _ = writeln!(
            s,
            r##"<line x1="{cx:.1}" y1="{TOP1}" x2="{cx:.1}" y2="{BOT2}" stroke="{colour}" stroke-dasharray="3,3" opacity="0.5"/>"##
        );
        let _ = writeln!(
            s,
            r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="5" fill="{colour}"/>"##
        );
        let _ = writeln!(
            s,
            r##"<text transform="translate({:.1},{:.1}) rotate(-35)" fill="{colour}">{}</text>"##,
            cx + 4.0,
            cy - 8.0,
            esc(mark)
        );
    }
}
