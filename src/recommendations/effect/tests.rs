//! Hand-computed cases: every expected interval below was worked out from
//! the formulas in the module's docs and checked against SciPy 1.16
//! (`scipy.stats.ttest_ind(a, b, equal_var=False).confidence_interval()`)
//! or a published value.

use super::*;

fn sums(values: &[f64]) -> Sums {
    Sums { n: values.len() as u64, sum: values.iter().sum(), sumsq: values.iter().map(|v| v * v).sum() }
}

fn close(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-6, "{actual} is not {expected}");
}

fn repeat(pairs: &[(f64, usize)]) -> Vec<f64> {
    pairs.iter().flat_map(|&(v, k)| std::iter::repeat_n(v, k)).collect()
}

#[test]
fn a_step_in_the_score_is_detected_with_welchs_interval() {
    // Before: ten 50s and ten 75s (mean 62.5, s² = 20·12.5²/19); after the
    // same shifted by 25. Equal n and variances: df = 38, t(0.975, 38) =
    // 2.0243941639; se = √(2·164.4737/20) = 4.0555; half = 8.2100.
    let before = sums(&repeat(&[(50.0, 10), (75.0, 10)]));
    let after = sums(&repeat(&[(75.0, 10), (100.0, 10)]));
    let effect = judge(Observed::Mean { before, after }, Aim::Up, 5, 1);
    assert_eq!(effect.verdict, Verdict::Improved);
    close(effect.difference.unwrap(), 25.0);
    let (lo, hi) = effect.ci95.unwrap();
    close(lo, 16.789997545034463);
    close(hi, 33.21000245496554);
    assert_eq!((effect.before, effect.after), (Some(62.5), Some(87.5)));
    // The same numbers for a measure that should fall are a change for the worse.
    assert_eq!(judge(Observed::Mean { before, after }, Aim::Down, 5, 1).verdict, Verdict::Worse);
}

#[test]
fn no_change_is_not_claimed_and_judging_several_widens_the_interval() {
    // Unequal n and spread: Welch's df is fractional; the interval holds 0.
    let before = sums(&[0.0, 25.0, 50.0, 50.0, 75.0, 75.0, 100.0, 100.0]);
    let after = sums(&[50.0, 75.0, 75.0, 100.0, 100.0, 100.0]);
    let one = judge(Observed::Mean { before, after }, Aim::Up, 5, 1);
    assert_eq!(one.verdict, Verdict::NoDetectableChange);
    close(one.difference.unwrap(), 23.958333333333333);
    let (lo, hi) = one.ci95.unwrap();
    close(lo, -8.844422791595356);
    close(hi, 56.76108945826201);
    // Three judged together: Bonferroni, each at 1 − 0.05/3.
    let three = judge(Observed::Mean { before, after }, Aim::Up, 5, 3);
    close(three.level, 1.0 - 0.05 / 3.0);
    let (lo, hi) = three.interval.unwrap();
    close(lo, -17.98200514941935);
    close(hi, 65.89867181608608);
    assert_eq!(three.ci95, one.ci95, "the 95% interval is shown as it is");
    // Identical windows: a zero difference, never a verdict either way.
    let same = judge(Observed::Mean { before, after: before }, Aim::Up, 5, 1);
    assert_eq!((same.verdict, same.difference), (Verdict::NoDetectableChange, Some(0.0)));
}

#[test]
fn a_difference_of_shares_has_newcombes_published_interval() {
    // Newcombe (1998), Statistics in Medicine 17:873, table II, example (a):
    // 56/70 − 48/80 = 0.2000, method 10 interval 0.0524 to 0.3339.
    let before = Counts { n: 80, hits: 48 };
    let after = Counts { n: 70, hits: 56 };
    let effect = judge(Observed::Share { before, after }, Aim::Up, 5, 1);
    assert_eq!(effect.method, "newcombe");
    close(effect.difference.unwrap(), 20.0);
    let (lo, hi) = effect.ci95.unwrap();
    assert!((lo - 5.24).abs() < 0.005 && (hi - 33.39).abs() < 0.005, "{lo} {hi}");
    close(lo, 5.243_147_240_236_507);
    close(hi, 33.3872654036906);
    assert_eq!(effect.verdict, Verdict::Improved);
    // A share of negative answers that rose: worse.
    assert_eq!(judge(Observed::Share { before, after }, Aim::Down, 5, 1).verdict, Verdict::Worse);
}

#[test]
fn too_few_answers_in_either_window_gives_no_number() {
    let before = sums(&[50.0; 4]);
    let after = sums(&[100.0; 40]);
    let effect = judge(Observed::Mean { before, after }, Aim::Up, 5, 1);
    assert_eq!(effect.verdict, Verdict::TooFewAnswers);
    assert_eq!((effect.n_before, effect.n_after), (4, 40));
    assert!(effect.difference.is_none() && effect.ci95.is_none() && effect.before.is_none());
    let share = judge(Observed::Share { before: Counts { n: 40, hits: 3 }, after: Counts::default() }, Aim::Down, 5, 1);
    assert_eq!(share.verdict, Verdict::TooFewAnswers);
}

#[test]
fn time_is_compared_as_a_ratio_of_geometric_means() {
    // ln-times: before 1 h and 4 h (geometric mean 2 h), after 0.5 h and 2 h
    // (1 h), each five times: the time halved, −50%.
    let ln = |hours: &[f64]| sums(&hours.iter().map(|h: &f64| (h * 3_600_000.0).ln()).collect::<Vec<_>>());
    let before = ln(&repeat(&[(1.0, 5), (4.0, 5)]));
    let after = ln(&repeat(&[(0.5, 5), (2.0, 5)]));
    let effect = judge(Observed::LogMean { before, after }, Aim::Down, 5, 1);
    assert!((effect.before.unwrap() - 7_200_000.0).abs() < 1e-3);
    assert!((effect.after.unwrap() - 3_600_000.0).abs() < 1e-3);
    close(effect.difference.unwrap(), -50.0);
    // Equal spread, df = 18, t(0.975, 18) = 2.10092204; s of ln = ln 4 · √(10/36):
    // half = 2.10092204 · √(2 · 0.533744 / 10) on the log scale.
    let half = 2.100_922_040_241_039_f64 * (2.0 * (4f64.ln() / 2.0).powi(2) * 10.0 / 9.0 / 10.0).sqrt();
    let (lo, hi) = effect.ci95.unwrap();
    close(lo, 100.0 * ((-(2f64.ln()) - half).exp() - 1.0));
    close(hi, 100.0 * ((-(2f64.ln()) + half).exp() - 1.0));
    assert_eq!(effect.verdict, Verdict::Improved);
}

#[test]
fn windows_are_equal_whole_days_on_either_side_of_the_day_of_the_change() {
    let day = 86_400;
    let d = 20_000 * day;
    // Five days and three hours later: days 1–4 after are finished.
    let w = windows(d, 28, d + 5 * day + 3 * 3600);
    assert_eq!(w, Windows { before: (d - 4 * day, d), after: (d + day, d + 5 * day), days: 4 });
    // Long after: capped at the window.
    let w = windows(d, 28, d + 400 * day);
    assert_eq!((w.days, w.after, w.before), (28, (d + day, d + 29 * day), (d - 28 * day, d)));
    // On the day itself or the next: nothing yet.
    assert_eq!(windows(d, 28, d + day + 5).days, 0);
    assert_eq!(windows(d + 3 * day, 28, d).days, 0);
}
