//! Did an implemented recommendation move its measure? The measure in two
//! equal windows, before and after the day it was implemented, compared
//! with an interval that says what the data can show and no more.
//!
//! - Windows: whole UTC days (the rollups count by day). The day of the
//!   implementation is in neither window: it mixes both. The after window
//!   counts only finished days, up to `window_days`; the before window has
//!   the same length, ending the day before.
//! - A mean (stage score 0–100; time spent on a log scale, because times are
//!   skewed and a change in them is a ratio): Welch's t interval of the
//!   difference of means, which does not assume equal variances or equal n.
//! - A share (negative, positive, a tag): Newcombe's hybrid score interval
//!   of the difference of two proportions (Wilson intervals combined), which
//!   keeps its coverage for small n and shares near 0 or 1 where the plain
//!   Wald interval does not.
//! - Several judged at once (every implemented recommendation of a journey):
//!   Bonferroni, each verdict at level 1 − 0.05/m, so the chance of any false
//!   "improved" or "worse" stays under 5% whatever the dependence between
//!   the measures (the same clients answer several stages).
//! - Fewer than `min_answers` in either window: "too few answers", no number.

use serde::Serialize;
use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::domain::{Aim, Measure};

/// The family-wise error rate of the verdicts.
pub const ALPHA: f64 = 0.05;

/// One window's sums for a mean: answers, their sum, their sum of squares.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Sums {
    pub n: u64,
    pub sum: f64,
    pub sumsq: f64,
}

/// One window's counts for a share: answers and those that count.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Counts {
    pub n: u64,
    pub hits: u64,
}

/// What was read for the two windows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Observed {
    /// Means of the values themselves (stage score).
    Mean {
        before: Sums,
        after: Sums,
    },
    /// Means of the natural logarithm of the values (time spent).
    LogMean {
        before: Sums,
        after: Sums,
    },
    Share {
        before: Counts,
        after: Counts,
    },
}

impl Observed {
    /// Nothing read, for `measure`: the windows are empty.
    pub fn nothing(measure: Measure) -> Observed {
        let (before, after) = (Sums::default(), Sums::default());
        match measure {
            Measure::StageScore | Measure::Criterion => Observed::Mean { before, after },
            Measure::TimeSpent => Observed::LogMean { before, after },
            _ => Observed::Share { before: Counts::default(), after: Counts::default() },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Improved,
    NoDetectableChange,
    Worse,
    TooFewAnswers,
    /// The after window has not begun: implemented today or later.
    Waiting,
}

impl Verdict {
    pub fn name(self) -> &'static str {
        match self {
            Verdict::Improved => "improved",
            Verdict::NoDetectableChange => "no_detectable_change",
            Verdict::Worse => "worse",
            Verdict::TooFewAnswers => "too_few_answers",
            Verdict::Waiting => "waiting",
        }
    }
}

/// The windows in unix seconds, each `[from, to)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Windows {
    pub before: (u32, u32),
    pub after: (u32, u32),
    /// Days in each window: `window_days`, or fewer while the after window fills.
    pub days: u32,
}

/// The windows around `implemented` (unix seconds of its UTC midnight) at `now`.
pub fn windows(implemented: u32, window_days: u32, now: u32) -> Windows {
    let day = 86_400;
    let start = implemented + day;
    let today = now / day * day;
    let days = (today.saturating_sub(start) / day).min(window_days);
    Windows { before: (implemented - days * day, implemented), after: (start, start + days * day), days }
}

/// The measured effect. For a mean the values are in the measure's units
/// and the difference in them; for time spent the values are geometric
/// means and the difference a change in percent; for a share the values
/// are percentages and the difference percentage points.
#[derive(Debug, Clone, Serialize)]
pub struct Effect {
    pub n_before: u64,
    pub n_after: u64,
    pub before: Option<f64>,
    pub after: Option<f64>,
    /// After minus before.
    pub difference: Option<f64>,
    pub ci95: Option<(f64, f64)>,
    /// The level the verdict is judged at: 0.95, or 1 − 0.05/m when m
    /// recommendations are judged together.
    pub level: f64,
    /// The interval at `level`.
    pub interval: Option<(f64, f64)>,
    pub verdict: Verdict,
    /// `welch`, `welch_log` or `newcombe`.
    pub method: &'static str,
}

impl Effect {
    /// This effect of empty windows, said as such: the after window has not begun.
    pub fn waiting(self) -> Effect {
        Effect { verdict: Verdict::Waiting, ..self }
    }
}

/// The effect of `observed` for a measure that is better going `aim`, one
/// of `judged` recommendations judged together, with at least `min_answers`
/// in each window.
pub fn judge(observed: Observed, aim: Aim, min_answers: u64, judged: usize) -> Effect {
    let level = 1.0 - ALPHA / judged.max(1) as f64;
    let (method, n_before, n_after) = match observed {
        Observed::Mean { before, after } => ("welch", before.n, after.n),
        Observed::LogMean { before, after } => ("welch_log", before.n, after.n),
        Observed::Share { before, after } => ("newcombe", before.n, after.n),
    };
    let empty = |verdict| Effect {
        n_before,
        n_after,
        before: None,
        after: None,
        difference: None,
        ci95: None,
        level,
        interval: None,
        verdict,
        method,
    };
    // Welch needs two answers a window for a variance.
    if n_before < min_answers.max(2) || n_after < min_answers.max(2) {
        return empty(Verdict::TooFewAnswers);
    }
    let (before, after, difference, ci95, interval) = match observed {
        Observed::Mean { before, after } => {
            let (d, ci) = welch(before, after, 0.95);
            (mean(before), mean(after), d, ci, welch(before, after, level).1)
        }
        Observed::LogMean { before, after } => {
            let percent = |x: f64| 100.0 * (x.exp() - 1.0);
            let both = |(lo, hi): (f64, f64)| (percent(lo), percent(hi));
            let (d, ci) = welch(before, after, 0.95);
            (mean(before).exp(), mean(after).exp(), percent(d), both(ci), both(welch(before, after, level).1))
        }
        Observed::Share { before, after } => {
            let (d, ci) = newcombe(before, after, 0.95);
            let pct = |(lo, hi): (f64, f64)| (100.0 * lo, 100.0 * hi);
            (100.0 * share(before), 100.0 * share(after), 100.0 * d, pct(ci), pct(newcombe(before, after, level).1))
        }
    };
    let verdict = match (interval.0 > 0.0, interval.1 < 0.0, aim) {
        (true, _, Aim::Up) | (_, true, Aim::Down) => Verdict::Improved,
        (true, _, Aim::Down) | (_, true, Aim::Up) => Verdict::Worse,
        _ => Verdict::NoDetectableChange,
    };
    Effect {
        before: Some(before),
        after: Some(after),
        difference: Some(difference),
        ci95: Some(ci95),
        interval: Some(interval),
        verdict,
        ..empty(verdict)
    }
}

fn mean(s: Sums) -> f64 {
    s.sum / s.n as f64
}

fn variance(s: Sums) -> f64 {
    let n = s.n as f64;
    ((s.sumsq - n * mean(s).powi(2)) / (n - 1.0)).max(0.0)
}

fn share(c: Counts) -> f64 {
    c.hits as f64 / c.n as f64
}

/// The two-sided quantile of the standard normal at `level`.
fn z(level: f64) -> f64 {
    Normal::standard().inverse_cdf(1.0 - (1.0 - level) / 2.0)
}

/// After minus before, and its Welch interval at `level`.
fn welch(before: Sums, after: Sums, level: f64) -> (f64, (f64, f64)) {
    let d = mean(after) - mean(before);
    let (vb, va) = (variance(before) / before.n as f64, variance(after) / after.n as f64);
    let se2 = vb + va;
    if se2 == 0.0 {
        return (d, (d, d));
    }
    let df = se2 * se2 / (vb * vb / (before.n - 1) as f64 + va * va / (after.n - 1) as f64);
    let t = match StudentsT::new(0.0, 1.0, df) {
        Ok(dist) => dist.inverse_cdf(1.0 - (1.0 - level) / 2.0),
        Err(_) => z(level),
    };
    let half = t * se2.sqrt();
    (d, (d - half, d + half))
}

/// Wilson's score interval of one proportion.
fn wilson(c: Counts, z: f64) -> (f64, f64) {
    let (n, p) = (c.n as f64, share(c));
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
    let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

/// After minus before, and Newcombe's hybrid score interval at `level`.
fn newcombe(before: Counts, after: Counts, level: f64) -> (f64, (f64, f64)) {
    let z = z(level);
    let (pb, pa) = (share(before), share(after));
    let ((lb, ub), (la, ua)) = (wilson(before, z), wilson(after, z));
    let d = pa - pb;
    let low = d - ((pa - la).powi(2) + (ub - pb).powi(2)).sqrt();
    let high = d + ((ua - pa).powi(2) + (pb - lb).powi(2)).sqrt();
    (d, (low, high))
}

#[cfg(test)]
mod tests;
