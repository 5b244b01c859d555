//! Step arithmetic: where green goes next from its current weight. The record
//! keeps the weight, not a step index, so a policy edited mid-rollout (or a weight
//! moved by hand and then resumed) still has a well-defined next step.

use crate::model::Weight;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    Weight(Weight),
    Promote,
}

impl Next {
    /// The weight green goes to: 100% for the promotion.
    pub fn weight(self) -> Weight {
        match self {
            Next::Weight(w) => w,
            Next::Promote => Weight::FULL,
        }
    }
}

/// The first step strictly above `current`; reaching 100% is a promotion.
pub fn next_step(steps: &[Weight], current: Weight) -> Next {
    match steps.iter().find(|s| **s > current) {
        Some(&s) if s < Weight::FULL => Next::Weight(s),
        _ => Next::Promote,
    }
}

pub fn first_step(steps: &[Weight]) -> Next {
    next_step(steps, Weight::ZERO)
}

/// "step 2 of 4" for reports: how many steps are at or below `current`.
pub fn position(steps: &[Weight], current: Weight) -> (usize, usize) {
    (steps.iter().filter(|s| **s <= current).count(), steps.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(p: f64) -> Weight {
        Weight::from_percent(p).unwrap()
    }

    #[test]
    fn table() {
        let steps = [w(10.0), w(25.0), w(50.0), w(100.0)];
        let cases = [
            (0.0, Next::Weight(w(10.0))),
            (10.0, Next::Weight(w(25.0))),
            (17.0, Next::Weight(w(25.0))), // moved by hand between steps
            (25.0, Next::Weight(w(50.0))),
            (50.0, Next::Promote),
            (75.0, Next::Promote),
        ];
        for (current, want) in cases {
            assert_eq!(next_step(&steps, w(current)), want, "from {current}");
        }
        assert_eq!(first_step(&[w(100.0)]), Next::Promote);
        assert_eq!(position(&steps, w(25.0)), (2, 4));
    }
}
